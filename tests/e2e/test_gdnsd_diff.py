#!/usr/bin/env python3
"""test_gdnsd_diff.py: gslbd against gdnsd 3.8, network by network of MaxMind's test data.

The script builds a GeoIP2 City-style database with geo/build-testdb from
tests/e2e/data/geoip2-city-test.spec (MaxMind's GeoIP2-City-Test.mmdb written out as text by
tools/mmdb-to-spec: 20 IPv4 and 230 IPv6 networks) and starts gslbd and gdnsd (Debian's
gdnsd 3.8, its geoip plugin in city-auto-mode) on that one file, with the same eight regions
at the same coordinates (`auto_dc_coords`). For every network of the data it asks both for one
service name with that network as the EDNS Client Subnet (RFC 7871), and for each IPv4
network also as the IPv6 forms that MaxMind databases alias to it (::ffff:0:0/96, and
2002::/16 for 6to4); it compares the region each answers and the ECS scope each returns, and
checks the region against the nearest one by great-circle distance, worked out here.

Every disagreement must fall in a class this file names (CLASSES), each counted exactly; one
that fits none fails the test, with its network. What the data holds gives one, and the
class its records could give is counted at 0:

- a record with a continent and no country or coordinates (2.3.3.0/24, Europe): gslbd places
  the client at the continent's centre and answers a region on that continent; gdnsd cannot
  place it and answers its first datacenter (us-east, over the Atlantic). The scopes differ
  with it: gslbd's is the record's own /24, gdnsd's the /16 of unplaced space around it.
- a record with a country and no coordinates: gslbd places it at the country's point, gdnsd
  at its first datacenter. The test data has none.

A record with nothing at all (214.1.1.0/24) is answered alike: the first region, scope /16.
A second pass asks with the subnet a resolver would send for each network's first address
(IPv4 /24, IPv6 /56): there the two must agree exactly, region and scope.

No client lies within TIE_KM of being as near to a second region as to its nearest (the
closest call is Spain's point, 3.6 km nearer eu-west than eu-central), so no tie class.

Not here: the speed of either (bench/), geo rules, policies, health and the merging of
scopes across neighbouring networks with the same order (test_geo.py covers them for gslbd;
in this data the networks lie apart, with unplaced space between). Skipped, with the
reason, when gdnsd is not installed (tools/deps.sh test installs it).
"""

import ipaddress
import math
import os
import time

import gslbtest as g

BUILD_TESTDB = g.ROOT / "geo" / "build-testdb"
SPEC = g.ROOT / "tests" / "e2e" / "data" / "geoip2-city-test.spec"
ZONE = "diff.test"

# (name, continent, latitude, longitude, IPv4 address, IPv6 address). Regions on five
# continents, two in Europe and two in North America so that those clients are split by
# distance, not just by continent. Each address is one region's only, so an answer names
# the region that gave it. The first is gdnsd's first datacenter: what it answers for a
# client it cannot place.
REGIONS = [
    ("us-east", "NA", 39.04, -77.49, "192.0.2.10", "2001:db8:10::10"),
    ("eu-west", "EU", 53.35, -6.26, "198.51.100.10", "2001:db8:20::10"),
    ("ap-south", "AS", 1.29, 103.85, "203.0.113.10", "2001:db8:30::10"),
    ("sa-east", "SA", -23.55, -46.63, "192.0.2.40", "2001:db8:40::10"),
    ("oc-sydney", "OC", -33.87, 151.21, "192.0.2.50", "2001:db8:50::10"),
    ("us-west", "NA", 45.60, -121.18, "192.0.2.60", "2001:db8:60::10"),
    ("eu-central", "EU", 50.11, 8.68, "192.0.2.70", "2001:db8:70::10"),
    ("ap-northeast", "AS", 35.68, 139.69, "192.0.2.80", "2001:db8:80::10"),
]
BY_ADDRESS = {r[4]: r[0] for r in REGIONS}
CONTINENT = {r[0]: r[1] for r in REGIONS}

# The classes of answers and how many of each this data gives (of 250 networks and the 40
# IPv6 forms of its 20 IPv4 ones). Any change in either server's placement moves a count.
AGREE = "same region (the nearest) and same scope"
CONTINENT_ONLY = "continent only: gslbd a region on that continent, scope the record's; " \
    "gdnsd its first datacenter, scope the unplaced space around it"
COUNTRY_ONLY = "country without coordinates: gslbd the country's point, gdnsd its first " \
    "datacenter"
UNPLACED = "nothing known: both the first region, same scope"
CLASSES = {AGREE: 284, CONTINENT_ONLY: 3, COUNTRY_ONLY: 0, UNPLACED: 3}

# A second pass asks as resolvers do, with the first address of each network (other than
# the IPv4 /24s already asked) cut to /24 for IPv4 and /56 for IPv6 (RFC 7871 11.1): 12
# IPv4 and 230 IPv6 queries. The /24 of a longer IPv4 network may lie outside it (81.2.69.0
# is not in 81.2.69.142/31), so no nearest region is worked out here: the two servers must
# give the same region and the same scope, shorter than the source where the database's
# network is wider (an IPv6 /56 in a /29) or where the address lies in a smaller
# unplaced one.
RESOLVER_QUERIES = 242
TIE_KM = 1.0
EARTH_KM = 6371.0


def gdnsd_binary():
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/sbin"]:
        p = os.path.join(d, "gdnsd")
        if d and os.access(p, os.X_OK):
            return p
    return None


def read_spec(path):
    """The spec's networks in order: (network, cc, continent, lat, lon), None for '-'."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            cc, cont, lat, lon = [None if v == "-" else v for v in fields[1:5]]
            out.append((ipaddress.ip_network(fields[0]), cc, cont,
                        None if lat is None else float(lat),
                        None if lon is None else float(lon)))
    return out


def aliases(net):
    """The IPv6 networks a MaxMind IPv6 database aliases to IPv4 network `net`."""
    a = int(net.network_address)
    return [ipaddress.ip_network("::ffff:%s/%d" % (net.network_address, 96 + net.prefixlen)),
            ipaddress.ip_network("2002:%04x:%04x::/%d" % (a >> 16, a & 0xFFFF,
                                                          16 + net.prefixlen))]


def km(lat1, lon1, lat2, lon2):
    """Great-circle distance (haversine), as both servers work it out."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_KM * math.asin(math.sqrt(h))


def by_distance(lat, lon):
    """[(km, region)] nearest first; coordinates rounded as geo/build-testdb stores them."""
    lat, lon = round(lat, 4), round(lon, 4)
    return sorted((km(lat, lon, r[2], r[3]), r[0]) for r in REGIONS)


def gslb_zone():
    lines = ["zone: %s" % ZONE, "soa: {mname: ns1.%s, rname: hostmaster.%s}" % (ZONE, ZONE),
             "ns: [ns1.%s]" % ZONE, "records:", "  ns1: {A: 192.0.2.53}", "regions:"]
    for name, _, lat, lon, v4, v6 in REGIONS:
        lines.append('  %s: {location: [%s, %s], pool: [%s, "%s"]}' % (name, lat, lon, v4, v6))
    lines += ["services:", "  www: {regions: [%s]}" % ", ".join(r[0] for r in REGIONS)]
    return "\n".join(lines) + "\n"


def gdnsd_config(port, confdir, mmdb):
    """gdnsd 3's config: the same regions, in city-auto-mode with auto_dc_coords (and the
    default auto_dc_limit, 3: a client's three nearest datacenters). `service_types => up`
    leaves every region up, as gslbd's regions are without a check."""
    coords = "\n".join("        %s => [ %s, %s ]" % (r[0], r[2], r[3]) for r in REGIONS)
    dcmap = "\n".join('        %s => { addrs_v4 => [ %s ], addrs_v6 => [ "%s" ] }'
                      % (r[0], r[4], r[5]) for r in REGIONS)
    return """\
options => {
  listen => [ 127.0.0.1:%(port)d ]
  udp_threads => 1
  tcp_threads => 1
  run_dir => %(run)s
  state_dir => %(state)s
}
plugins => { geoip => {
  service_types => up
  maps => {
    world => {
      geoip2_db => %(mmdb)s
      datacenters => [ %(dcs)s ]
      auto_dc_coords => {
%(coords)s
      }
    }
  }
  resources => {
    www => {
      map => world
      dcmap => {
%(dcmap)s
      }
    }
  }
}}
""" % {"port": port, "run": os.path.join(confdir, "run"), "state": os.path.join(confdir, "state"),
       "mmdb": mmdb, "dcs": ", ".join(r[0] for r in REGIONS), "coords": coords, "dcmap": dcmap}


def gdnsd_zone():
    return """\
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 604800 300
@ NS ns1
ns1 A 192.0.2.53
www 30 DYNA geoip!www
"""


def ask(port, net):
    """(region, scope) of the answer for www with ECS = net; region is a description of
    the answer when it is not one region's address, scope None without ECS."""
    r = g.query(port, "www.%s" % ZONE, "A", ecs=str(net), timeout=2)
    if r.msg is None:
        return ("no reply (%s)" % (r.error,), None)
    addrs = [str(rd) for _, _, rd in r.section("answer")]
    region = BY_ADDRESS.get(addrs[0]) if len(addrs) == 1 else None
    return (region or "rcode %s, answer %s" % (r.rcode, addrs),
            r.ecs.scopelen if r.ecs else None)


def resolver_prefix(net):
    """The subnet a resolver would send for a client at net's first address, or None when
    that is the network itself (an IPv4 /24) or an IPv4 network's IPv6 alias."""
    if net.version == 6:
        return ipaddress.ip_network("%s/56" % net.network_address, strict=False)
    if net.prefixlen == 24:
        return None
    return ipaddress.ip_network("%s/24" % net.network_address, strict=False)


def classify(net, rec, ours, theirs):
    """The class of one pair of answers, or None when it fits none."""
    _, cc, cont, lat, lon = rec
    (a, a_scope), (b, b_scope) = ours, theirs
    if lat is not None:
        d = by_distance(lat, lon)
        if a == b == d[0][1] and a_scope == b_scope and a_scope is not None:
            return AGREE
        return None
    first = REGIONS[0][0]
    if cc is None and cont is None:
        if a == b == first and a_scope == b_scope and a_scope is not None:
            return UNPLACED
        return None
    if b != first or b_scope is None or a_scope is None:
        return None
    if cc is None and CONTINENT.get(a) == cont:
        # gslbd's record is its own: its scope is no shorter than the network asked, while
        # gdnsd merges the record with the unplaced space around it.
        if a_scope >= net.prefixlen > b_scope:
            return CONTINENT_ONLY
        return None
    if cc is not None and a in CONTINENT and a_scope >= net.prefixlen:
        return COUNTRY_ONLY
    return None


def main(t):
    gdnsd = gdnsd_binary()
    if not gdnsd:
        t.skip("gslbd and gdnsd 3.8 place MaxMind's test networks alike",
               "gdnsd is not installed (Debian package gdnsd: tools/deps.sh test)")
        return
    started = time.monotonic()
    # build-testdb's database type, gslb-Test-City, says City: gdnsd reads coordinates
    # (auto_dc_coords) only from a database whose type does.
    mmdb = t.path("city-test.mmdb")
    res = t.run([BUILD_TESTDB, SPEC, mmdb], timeout=60)
    if res.status != 0:
        t.bail("geo/build-testdb builds the database from %s" % SPEC.name, res.out)
    records = read_spec(SPEC)
    asked = []
    for rec in records:
        asked.append((rec[0], rec))
        if rec[0].version == 4:
            asked += [(alias, rec) for alias in aliases(rec[0])]
    t.eq("the spec holds MaxMind's 250 networks, 20 of them IPv4", (250, 20),
         (len(records), sum(r[0].version == 4 for r in records)))

    t.write("zones/%s.yaml" % ZONE, gslb_zone())
    srv = g.Gslbd(t, "gslbd", zones=t.path("zones"), args=["--geoip", mmdb],
                  addresses=("127.0.0.1",))
    t.start(srv, "gslbd starts on the test database", bail=True)
    confdir = t.path("gdnsd")
    port = g.free_port()
    t.write("gdnsd/config", gdnsd_config(port, confdir, mmdb))
    t.write("gdnsd/zones/%s" % ZONE, gdnsd_zone())
    for d in ("run", "state"):
        os.makedirs(os.path.join(confdir, d))
    # gdnsd 3 stays in the foreground and logs to stderr; its own config directory and
    # port keep it apart from a system gdnsd the package may have started.
    gd = g.Daemon(t, "gdnsd", [gdnsd, "-c", confdir, "start"],
                  ready=r"info: DNS listeners started")
    t.start(gd, "gdnsd 3.8 starts on the same database and regions", bail=True)

    counts = {c: 0 for c in CLASSES}
    unexplained, scopes = [], {}
    for net, rec in asked:
        ours, theirs = ask(srv.port, net), ask(port, net)
        cls = classify(net, rec, ours, theirs)
        if cls is None:
            unexplained.append("%s (%s): gslbd %s scope %s, gdnsd %s scope %s" % (
                net, " ".join(str(f) if f is not None else "-" for f in rec[1:]),
                ours[0], ours[1], theirs[0], theirs[1]))
            continue
        counts[cls] += 1
        scopes.setdefault(cls, set()).add((net.prefixlen - ours[1], net.prefixlen - theirs[1]))
        if cls != AGREE:
            t.diag("%s: %s; gslbd %s /%s, gdnsd %s /%s" % (
                net, cls.split(":")[0], ours[0], ours[1], theirs[0], theirs[1]))
    t.report("every answer of both falls in a named class (%d queries each)" % len(asked),
             unexplained)
    for cls, want in CLASSES.items():
        t.eq("%s: %d" % (cls, want), want, counts[cls])
    t.eq("where both place the client, scope = the network asked (source prefix)",
         {(0, 0)}, scopes.get(AGREE))

    differ, same = [], 0
    for rec in records:
        q = resolver_prefix(rec[0])
        if q is None:
            continue
        ours, theirs = ask(srv.port, q), ask(port, q)
        if ours == theirs and ours[0] in CONTINENT and ours[1] is not None:
            same += 1
        else:
            differ.append("%s (in %s): gslbd %s scope %s, gdnsd %s scope %s" % (
                q, rec[0], ours[0], ours[1], theirs[0], theirs[1]))
    t.report("resolver-sized subnets (IPv4 /24, IPv6 /56): the same region and scope", differ)
    t.eq("resolver-sized subnets asked: %d" % RESOLVER_QUERIES, RESOLVER_QUERIES,
         same + len(differ))

    margins = [(d[1][0] - d[0][0], str(r[0])) for r in records if r[3] is not None
               for d in [by_distance(r[3], r[4])]]
    closest = min(margins)
    t.check("no client within %g km of a tie between two regions (closest: %s, %.1f km)" % (
        TIE_KM, closest[1], closest[0]), closest[0] > TIE_KM)
    # gdnsd exits on SIGTERM by raising it again once it has cleaned up: status 128 + 15.
    status = gd.stop()
    t.check("gdnsd stops cleanly", status == 143 and "Exiting cleanly" in gd.log(),
            "status %s" % status, gd.log())
    t.eq("gslbd stops with status 0", 0, srv.stop())
    elapsed = time.monotonic() - started
    t.diag("%d of %d queries answered alike (%d of them placed: the nearest region), and %d "
           "of %d resolver-sized; run time %.1f s" % (
               counts[AGREE] + counts[UNPLACED], len(asked), counts[AGREE], same,
               RESOLVER_QUERIES, elapsed))
    t.compare("the comparison takes under 60 s", elapsed, "<", 60)


with g.Test(__file__) as t:
    main(t)
