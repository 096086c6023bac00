#!/usr/bin/env python3
"""test_bias.py: a region's geoproximity bias (`regions.NAME.bias`) moves a client live.

The script builds a GeoIP database with geo/build-testdb that places a client network in
Kansas City, between a us-east region in Ashburn (Virginia) and a us-west region in
Boardman (Oregon), and serves a zone with both. Kansas City is 1,473 km from Ashburn and
2,181 km from Boardman (haversine, radius 6371 km), so it gets us-east. The zone file is
then edited on disk while gslbd runs (no signal, no restart: gslbd watches the file):
us-west at bias 32 is still farther as ordered (2,181 x 0.68 = 1,483 km), at bias 33 it is
nearer (1,462 km) and the same client gets us-west; back to no bias, us-east again. A
client in Ashburn itself stays on us-east at every bias. `gslbd --explain` and `gslbctl
explain` print the real and the biased distance; a bias out of range is refused with its
file:line:column and the running gslbd keeps the last good zone. Each edit also changes a
TXT record, so the test knows when gslbd has loaded it before asserting the placement.

Not here: the ordering over many client points (tests/unit/test_geo.c), other geo rules
(test_geo.py). All traffic goes to 127.0.0.1; every wait is bounded.
"""

import re
import time

import gslbtest as g

BUILD_TESTDB = g.ROOT / "geo" / "build-testdb"

SPEC = """\
# network          country continent latitude longitude subdivision
198.51.100.0/24    US      NA        39.10    -94.58    MO
203.0.113.0/24     US      NA        39.04    -77.49    VA
192.0.2.0/24       US      NA        45.52    -122.68   OR
"""
KANSAS_CITY = "198.51.100.0/24"
ASHBURN = "203.0.113.0/24"
EAST, WEST = "10.1.0.1", "10.4.0.1"

ZONE = """\
zone: bias.test
soa: {mname: ns1.bias.test, rname: hostmaster.bias.test}
ns: [ns1.bias.test]
records:
  ns1: {A: 192.0.2.53}
  rev: {TXT: "%(rev)s"}
regions:
  us-east: {location: [39.04, -77.49], pool: [10.1.0.1]}
  us-west: {location: [45.84, -119.70], %(bias)spool: [10.4.0.1]}
services:
  www: {regions: [us-east, us-west]}
"""


def write_zone(t, rev, bias=None):
    """The zone with us-west's bias (None: not written), revision `rev` in its TXT."""
    return t.write("zones/bias.test.yaml", ZONE % {
        "rev": rev, "bias": "" if bias is None else "bias: %s, " % bias})


def answer(srv, subnet):
    """The A address www.bias.test gets for a client subnet (ECS), or the status."""
    r = srv.query("www.bias.test", "A", ecs=subnet)
    if r.rcode != "NOERROR":
        return r.rcode or "noreply"
    got = [rd.to_text() for _, _, rd in r.section("answer")]
    return got[0] if len(got) == 1 else " ".join(got) or "empty"


def revision(srv):
    r = srv.query("rev.bias.test", "TXT")
    got = [rd.to_text() for _, _, rd in r.section("answer")]
    return got[0].strip('"') if got else None


def edit(t, srv, rev, bias):
    """Edit the file on disk and wait (bounded, 5 s) until gslbd serves revision `rev`:
    the seconds it took, or None."""
    time.sleep(1.1)  # a new modification time, as test_reload.py's unsignalled edits
    write_zone(t, rev, bias)
    start = time.monotonic()
    if t.wait_for(lambda: revision(srv) == rev, 5.0, 0.05) is None:
        t.not_ok("the edit to bias %s is loaded without a restart" % bias,
                 "revision still %s" % revision(srv))
        return None
    took = time.monotonic() - start
    what = "no bias" if bias is None else "bias %s" % bias
    t.ok("the edit to %s is loaded without a restart (%.2f s)" % (what, took))
    return took


def explain_lines(t, srv, ctl, zdir, db, bias):
    """`gslbd --explain` (offline, the file as it is now) and `gslbctl explain` (live):
    both print the real distances and, for a biased region, the biased one."""
    x = srv.run("--zones", zdir, "--geoip", db, "--explain", KANSAS_CITY, "www.bias.test")
    live = ctl.run("explain", KANSAS_CITY, "www.bias.test")
    for how, r in (("gslbd --explain", x), ("gslbctl explain", live)):
        t.eq("%s, %s: exit 0" % (how, "no bias" if bias is None else "bias %s" % bias), 0,
             r.status)
        if bias is None:
            t.like("%s, no bias: us-east 1473 km, nothing biased" % how,
                   r"(?m)^ +1\. us-east +weight 100 +1473 km +chosen$", r.out)
            t.check("%s, no bias: no biased distance printed" % how, "biased" not in r.out,
                    r.out)
            continue
        t.like("%s at bias %s: us-west 2181 km, biased 1462 km, chosen" % (how, bias),
               r"(?m)^ +1\. us-west +weight 100 +2181 km \(biased 1462 km, bias \+33\) "
               r"+chosen$", r.out)
        t.like("%s at bias %s: us-east 1473 km unbiased, second" % (how, bias),
               r"(?m)^ +2\. us-east +weight 100 +1473 km +not needed", r.out)


def lint(t, srv, db):
    """--check warns when the biases leave a region the nearest for no place of the
    database: us-east at bias 99 is nearer as ordered than us-west even in Portland
    (3,760 km x 0.01 = 38 km against 190 km)."""
    text = ZONE % {"rev": "lint", "bias": ""}
    text = text.replace("us-east: {location: [39.04, -77.49], ",
                        "us-east: {location: [39.04, -77.49], bias: 99, ")
    t.write("lint/bias.test.yaml", text)
    x = srv.run("--zones", t.path("lint"), "--geoip", db, "--check")
    t.eq("--check, us-east at bias 99: exit 0 (a warning)", 0, x.status)
    t.like("--check, us-east at bias 99: us-west is the nearest for no place",
           r"warning: service 'www': with the biases of its regions, region 'us-west' "
           r"\(bias \+0\) is the nearest for none of the 3 places of the GeoIP database "
           r"\S*test\.mmdb \(without them, for 1\)", x.out)
    x = srv.run("--zones", t.path("zones"), "--geoip", db, "--check")
    t.check("--check, us-west at bias 33: no such warning", "nearest for none" not in x.out,
            x.out)


def main(t):
    geodir = t.path("geo")
    spec = t.write("geo/test.spec", SPEC)
    db = geodir / "test.mmdb"
    built = t.run([BUILD_TESTDB, spec, db])
    if built.status != 0:
        t.bail("geo/build-testdb builds the test database", built.out)
    t.ok("geo/build-testdb builds the test database")
    write_zone(t, "r0")
    zdir = t.path("zones")
    ctl_path = t.path("gslbd.sock")
    srv = g.Gslbd(t, "gslbd", zones=zdir, addresses=("127.0.0.1",),
                  args=["--threads", 1, "--geoip", db, "--control", ctl_path])
    t.start(srv, "gslbd starts with the test database", bail=True)
    ctl = g.Gslbctl(t, ctl_path)

    t.eq("no bias: Kansas City (1473 km vs 2181 km) gets us-east", EAST,
         answer(srv, KANSAS_CITY))
    explain_lines(t, srv, ctl, zdir, db, None)

    # 2181 x (1 - 32/100) = 1483 km: us-west still farther than 1473.
    if edit(t, srv, "r1", 32) is not None:
        t.eq("bias 32 on us-west (1483 km as ordered): Kansas City stays on us-east", EAST,
             answer(srv, KANSAS_CITY))
    # 2181 x (1 - 33/100) = 1462 km: now nearer than us-east.
    if edit(t, srv, "r2", 33) is not None:
        t.eq("bias 33 on us-west (1462 km as ordered): Kansas City moves to us-west", WEST,
             answer(srv, KANSAS_CITY))
        t.eq("bias 33: a client in Ashburn itself stays on us-east", EAST,
             answer(srv, ASHBURN))
        explain_lines(t, srv, ctl, zdir, db, 33)
        lint(t, srv, db)

    # Out of range: refused where it is written; the running gslbd keeps bias 33.
    time.sleep(1.1)
    zf = write_zone(t, "r3", 100)
    checked = srv.check_zones(zdir)
    t.eq("bias 100: --check exits 1", 1, checked.status)
    t.like("bias 100: --check names file:line:column and the range",
           r"bias\.test\.yaml:9:47: error: region 'us-west': bias 100 out of range -99\.\.99",
           checked.out)
    t.check("bias 100: gslbd logs the refused reload",
            srv.wait_log(r"bias 100 out of range", timeout=5.0),
            "log: %s" % srv.log()[-2000:])
    t.eq("bias 100: the last good zone still answers (us-west, revision r2)",
         (WEST, "r2"), (answer(srv, KANSAS_CITY), revision(srv)))

    if edit(t, srv, "r4", None) is not None:
        t.eq("the bias removed: Kansas City back on us-east", EAST, answer(srv, KANSAS_CITY))
    t.like("the zone file is the one edited", r"rev: \{TXT: \"r4\"\}", zf.read_text())
    t.eq("gslbd stops with status 0", 0, srv.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
