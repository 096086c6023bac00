#!/usr/bin/env python3
"""gen-worldmap.py [SHAPEFILE] OUTPUT: the status page's world map outline, as one SVG
<path> element.

The status page (gslbd/server/page/status.html) draws its regions on an equirectangular
map: x = (lon + 180) * 4, y = (90 - lat) * 4, so the whole world is 1440 x 720 units
and one unit is a quarter of a degree. The page shows latitudes 84 to -60 (y 24 to 600);
rings that lie wholly south of -60 (Antarctica) are left out.

The outline is the GSHHG crude-resolution shoreline, level 1 (land against ocean), in
the shapefile Debian's package python-cartopy-data ships (the default SHAPEFILE). This
script reads the shapefile itself (the ESRI format is a 100-byte header, then records of
polygons: bounding box, part offsets, points as little-endian doubles), rounds points to
whole units, simplifies each ring (Douglas-Peucker, tolerance TOLERANCE units), drops
rings smaller than MIN_AREA square units, and writes the rings as relative path
commands: about 15 KB where the shapefile has 167 KB.

Licence: GSHHG is by Paul Wessel and Walter H. F. Smith, under the GNU LGPL version 3
or later (/usr/share/doc/python-cartopy-data/copyright). The path written is derived
from it and so is under the LGPL-3+ too: it is made at build time and never committed,
and the page that embeds it credits its source and licence. gslb's own code stays
BSD-3-Clause.

Without the shapefile (the package not installed), it writes a graticule instead (lines
every 30 degrees) and says so on stderr: the page works the same, with less to see.
"""

import math
import os
import struct
import sys

SHAPEFILE = "/usr/share/cartopy/data/shapefiles/gshhs/c/GSHHS_c_L1.shp"
SCALE = 4         # units per degree
SOUTH = -60       # the page's southern edge, degrees
NORTH = 84        # and its northern one
TOLERANCE = 1.2   # Douglas-Peucker, in units
MIN_AREA = 8.0    # square units: smaller islands are left out
SHP_POLYGON = 5
SHP_NULL = 0


def project(lon, lat):
    return (lon + 180.0) * SCALE, (90.0 - lat) * SCALE


def read_rings(path):
    """Every ring (list of (lon, lat)) of every polygon record of a shapefile."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 100 or struct.unpack(">i", data[:4])[0] != 9994:
        raise ValueError("%s: not a shapefile (no file code 9994)" % path)
    shape_type = struct.unpack("<i", data[32:36])[0]
    if shape_type != SHP_POLYGON:
        raise ValueError("%s: shape type %d, not polygons (5)" % (path, shape_type))
    rings, off = [], 100
    while off + 8 <= len(data):
        _, words = struct.unpack(">ii", data[off:off + 8])
        rec = data[off + 8:off + 8 + 2 * words]
        off += 8 + 2 * words
        if len(rec) < 4 or struct.unpack("<i", rec[:4])[0] == SHP_NULL:
            continue
        n_parts, n_points = struct.unpack("<ii", rec[36:44])
        parts = list(struct.unpack("<%di" % n_parts, rec[44:44 + 4 * n_parts]))
        base = 44 + 4 * n_parts
        coords = struct.unpack("<%dd" % (2 * n_points), rec[base:base + 16 * n_points])
        points = list(zip(coords[0::2], coords[1::2]))
        for i, start in enumerate(parts):
            end = parts[i + 1] if i + 1 < n_parts else n_points
            rings.append(points[start:end])
    return rings


def distance(p, a, b):
    """From p to the segment a-b."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dx == 0 and dy == 0:
        return math.hypot(p[0] - a[0], p[1] - a[1])
    t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)))
    return math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy)


def simplify(points, tolerance):
    """Douglas-Peucker on an open line, with a stack rather than recursion."""
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        worst, at = 0.0, None
        for i in range(first + 1, last):
            d = distance(points[i], points[first], points[last])
            if d > worst:
                worst, at = d, i
        if at is not None and worst > tolerance:
            keep[at] = True
            stack += [(first, at), (at, last)]
    return [p for p, k in zip(points, keep) if k]


def area(ring):
    return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1]))) / 2


def ring_units(ring):
    """A ring projected, simplified and rounded; None when too small to draw."""
    if max(lat for _, lat in ring) < SOUTH:
        return None
    pts = [project(lon, lat) for lon, lat in ring]
    if pts[0] == pts[-1]:
        pts.pop()
    if len(pts) < 3:
        return None
    # Split the closed ring at its point farthest from the first, so that both halves
    # are open lines with fixed ends.
    far = max(range(len(pts)), key=lambda i: math.hypot(pts[i][0] - pts[0][0],
                                                        pts[i][1] - pts[0][1]))
    half = simplify(pts[:far + 1], TOLERANCE) + simplify(pts[far:] + pts[:1], TOLERANCE)[1:-1]
    out = []
    for x, y in half:
        p = (round(x), round(y))
        if not out or p != out[-1]:
            out.append(p)
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out if len(out) >= 3 and area(out) >= MIN_AREA else None


def path_of(rings):
    """Rings as path data: an absolute move, then relative lines, closed."""
    parts = []
    for ring in rings:
        cmd = ["M%d %d" % ring[0], "l"]
        deltas = []
        for a, b in zip(ring, ring[1:]):
            deltas.append("%d" % (b[0] - a[0]))
            deltas.append("%d" % (b[1] - a[1]))
        # Numbers next to each other need a space, except before a minus sign.
        text = ""
        for d in deltas:
            text += d if not text or d.startswith("-") else " " + d
        parts.append(cmd[0] + cmd[1] + text + "z")
    return "".join(parts)


def coastline(path):
    rings = [r for r in (ring_units(r) for r in read_rings(path)) if r is not None]
    d = path_of(rings)
    return ('<path class="land" data-source="GSHHG crude shoreline (Wessel and Smith, '
            'LGPL-3+)" d="%s"/>' % d, len(rings))


def graticule():
    lines = []
    for lon in range(-180, 181, 30):
        (x, y1), (_, y2) = project(lon, NORTH), project(lon, SOUTH)
        lines.append("M%d %dV%d" % (x, y1, y2))
    for lat in range(SOUTH, NORTH + 1, 30):
        (x1, y), (x2, _) = project(-180, lat), project(180, lat)
        lines.append("M%d %dH%d" % (x1, y, x2))
    return '<path class="graticule" data-source="graticule" d="%s"/>' % "".join(lines)


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write("usage: tools/gen-worldmap.py [SHAPEFILE] OUTPUT\n")
        return 2
    src = argv[1] if len(argv) == 3 else SHAPEFILE
    out = argv[-1]
    if os.path.exists(src):
        svg, n = coastline(src)
        what = "%d coastline rings from %s" % (n, src)
    else:
        svg = graticule()
        what = "a graticule"
        sys.stderr.write("gen-worldmap: %s not found (Debian package python-cartopy-data): "
                         "the status page's map has a graticule, no coastline\n" % src)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(svg + "\n")
    os.replace(tmp, out)
    print("gen-worldmap: %s: %s, %d bytes" % (out, what, len(svg)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
