#!/usr/bin/env python3
"""test_reload.py: zone loading, --check, reloads, serials and reloads under load.

--check on good and broken files (exit status, file:line:column messages), its warnings
(a region no service uses, two regions of a service in one country on the
country-level world database but not on a city-level one, the built-in one included, a
location written [longitude, latitude]) with exit status 0 and in the log at start and reload, start-up with a broken
file, SIGHUP reloads, a broken zone on reload keeping the old answers, zone-file changes
picked up without a signal, zones added to and removed from a directory, the SOA serial of
a file without one (two servers given copies with the same time agree, in single-file,
directory and ConfigMap layouts; an edit increases it, one within the same second too),
and a bounded query load with SIGHUPs in between that must lose no query. Traffic goes to
127.0.0.1 and ::1 only; every wait and loop is bounded.

Not here: protocol details of the answers (test_core.py), reloads of the GeoIP database
(test_geo.py).
"""

import os
import re
import shutil
import time

import gslbtest as g

BUILD_TESTDB = g.ROOT / "geo" / "build-testdb"
# The country-level world database (what geo/world.mmdb is when make cannot fetch the city
# data): the one that cannot split a country, which the lint below warns about.
COUNTRY_DB = g.ROOT / "geo" / "world-country.mmdb"

NS2 = "  ns2: {A: 203.0.113.53}\n"

ADDED_ZONE = """\
zone: added.example.net
ttl: 60
soa: {mname: ns1.added.example.net, rname: hostmaster.example.net, refresh: 3600, retry: 600, expire: 604800, minimum: 60}
ns: [ns1.added.example.net]
records:
  ns1: {A: 192.0.2.153}
"""


def zone_with_ns2(addr):
    """The example zone with ns2's address changed."""
    assert NS2 in g.EXAMPLE_ZONE
    return g.EXAMPLE_ZONE.replace(NS2, "  ns2: {A: %s}\n" % addr)


def ns2_now(srv, tr="udp4"):
    """The A record of ns2 as served now, as dig +short prints it: each answer's rdata on
    a line of its own ("" without a reply)."""
    r = srv.query("ns2.gslb.example.com", "A", transport=tr)
    return "\n".join(rd.to_text() for _, _, rd in r.section("answer"))


def wait_ns2(t, srv, addr, seconds):
    """Poll (every 0.1 s, bounded) until ns2 answers `addr`; True when it did."""
    return t.wait_for(lambda: ns2_now(srv) == addr, seconds, 0.1) is not None


def serial_now(srv):
    """The SOA serial served now (None without an SOA answer)."""
    for _, _, rd in srv.query("gslb.example.com", "SOA").section("answer"):
        return rd.serial
    return None


def served(t, name, r, rcode="NOERROR", flags="QR AA RD", answers=1):
    """One assertion: the reply's status, exact flags and answer count."""
    with t.group(name):
        r.check(rcode=rcode, exact_flags=flags)
        r.check_count(answer=answers)


# ------------------------------------------------------------------ --check


def check_files(t, srv, zf, zdir):
    """--check on good and broken files; returns the broken file and its bad line."""
    t.eq("--check on a good file exits 0", 0, srv.check_zones(zf).status)
    t.eq("--check on a good directory exits 0", 0, srv.check_zones(zdir).status)
    examples = g.ROOT / "zones" / "examples"
    if examples.is_dir():
        x = srv.check_zones(examples)
        t.check("--check on the shipped zones/examples exits 0", x.status == 0,
                "status: %s" % x.status, x.out)
    else:
        t.not_ok("zones/examples exists")

    bad = t.write("bad/gslb.example.com.yaml", g.EXAMPLE_ZONE + "bogus: 1\n")
    bad_line = (g.EXAMPLE_ZONE + "bogus: 1\n").count("\n")
    x = srv.check_zones(bad)
    t.eq("--check on a file with an unknown key exits 1", 1, x.status)
    t.like("--check names file:line:column of the unknown key",
           r"^%s:%d:1: error: .*bogus" % (re.escape(str(bad)), bad_line), x.out)

    # Every error in the file is reported, not just the first (STYLE.md, like NSD).
    text = g.EXAMPLE_ZONE
    for old, new in (("  us-east:  {location: [39.04, -77.49], weight: 100,",
                      "  us-east:  {location: [39.04, -77.49], weight: -1,"),
                     ("  www: {regions: [us-east, eu-west, ap-south]",
                      "  www: {regions: [us-east, eu-west, nowhere]")):
        assert old in text
        text = text.replace(old, new)
    text += "bogus: 1\n"
    bad2 = t.write("bad/two.yaml", text)
    lines = text.splitlines()
    w_line = 1 + next(i for i, line in enumerate(lines) if "weight: -1" in line)
    s_line = 1 + next(i for i, line in enumerate(lines) if "nowhere" in line)
    where = re.escape(str(bad2))
    x = srv.check_zones(bad2)
    t.eq("--check with three errors exits 1", 1, x.status)
    t.like("--check reports the weight out of range at its line",
           r"^%s:%d:[0-9]+: error: .*weight" % (where, w_line), x.out)
    t.like("--check reports the undefined region at the service's line",
           r"^%s:%d:[0-9]+: error: .*nowhere" % (where, s_line), x.out)
    t.like("--check reports the unknown key too",
           r"^%s:%d:1: error: .*bogus" % (where, len(lines)), x.out)

    bad3 = t.write("bad/syntax.yaml", "zone: gslb.example.com\nttl: 300\n"
                   "ns: [ns1.gslb.example.com\n")
    x = srv.check_zones(bad3)
    t.eq("--check on broken YAML exits 1", 1, x.status)
    t.like("--check on broken YAML gives file:line:column",
           r"^%s:[0-9]+:[0-9]+: error: " % re.escape(str(bad3)), x.out)

    t.eq("--check on a missing file exits 1", 1,
         srv.check_zones(t.path("does-not-exist.yaml")).status)
    return bad, bad_line


def broken_startup(t, srv, bad, bad_line):
    x = srv.run("--zones", bad, *srv.listen_args())
    t.compare("start-up with a broken zone exits non-zero (status %s)" % x.status,
              x.status, "!=", 0)
    t.compare("start-up with a broken zone does not hang (status %s)" % x.status,
              x.status, "!=", "timeout")
    t.unlike("start-up with a broken zone never reports ready", r"ready:", x.out)
    t.like("start-up with a broken zone logs file:line:column",
           r"^%s:%d:1: error: " % (re.escape(str(bad)), bad_line), x.out)


# ------------------------------------------------------------------ SIGHUP


def sighup(t, srv, zf):
    t.eq("before reload: ns2 A", "203.0.113.53", ns2_now(srv))
    serial1 = serial_now(srv)

    # Written in place, as `cat >FILE` would; the signal makes the reload.
    zf.write_text(zone_with_ns2("203.0.113.54"))
    srv.reload()
    wait_ns2(t, srv, "203.0.113.54", 3)
    t.eq("SIGHUP: changed record served within 3 s (udp4)", "203.0.113.54", ns2_now(srv))
    t.eq("SIGHUP: changed record served (tcp6)", "203.0.113.54", ns2_now(srv, "tcp6"))
    serial2 = serial_now(srv)
    t.compare("RFC 1982: SOA serial increases on reload (%s -> %s)" % (serial1, serial2),
              serial2, ">", serial1)

    # A broken file on reload: the old zone keeps serving, the error is logged.
    broken = zone_with_ns2("203.0.113.99") + "bogus: 1\n"
    zf_line = broken.count("\n")
    mark = srv.mark()
    zf.write_text(broken)
    srv.reload()
    expected = "%s:%d:1: error: " % (zf, zf_line)
    if srv.wait_log(re.escape(expected), 3, since=mark):
        t.ok("broken reload logs " + expected.rstrip())
    else:
        t.not_ok("broken reload logs " + expected.rstrip(), "log:", srv.log())
    time.sleep(0.5)
    t.eq("broken reload keeps the old answer", "203.0.113.54", ns2_now(srv))
    t.eq("broken reload keeps the old SOA serial", serial2, serial_now(srv))
    served(t, "broken reload: service still answered",
           srv.query("www.gslb.example.com", "A", transport="tcp4"))

    zf.write_text(zone_with_ns2("203.0.113.55"))
    srv.reload()
    wait_ns2(t, srv, "203.0.113.55", 3)
    t.eq("reload after fixing the file serves the fix", "203.0.113.55", ns2_now(srv))


# ------------------------------------------------------------------ without a signal


def unsignalled(t, srv, zf):
    # Let the file's modification time move on before the unsignalled edits.
    time.sleep(1.1)
    zf.write_text(zone_with_ns2("203.0.113.56"))
    t.check("file rewritten in place: change picked up without SIGHUP",
            wait_ns2(t, srv, "203.0.113.56", 4), "ns2 still %s after 4 s" % ns2_now(srv))

    time.sleep(1.1)
    t.write("zones/gslb.example.com.yaml", zone_with_ns2("203.0.113.57"))  # aside, renamed
    t.check("file replaced by rename: change picked up without SIGHUP",
            wait_ns2(t, srv, "203.0.113.57", 4), "ns2 still %s after 4 s" % ns2_now(srv))


# ------------------------------------------------------------------ zones come and go


def zones_come_and_go(t, srv):
    added = t.write("zones/added.example.net.yaml", ADDED_ZONE)
    srv.reload()
    t.wait_for(lambda: srv.query("ns1.added.example.net", "A").rcode == "NOERROR", 3, 0.1)
    served(t, "zone file added to the directory served after SIGHUP",
           srv.query("ns1.added.example.net", "A"))

    added.unlink()
    srv.reload()
    t.wait_for(lambda: srv.query("ns1.added.example.net", "A").rcode == "REFUSED", 3, 0.1)
    t.eq("zone file removed from the directory: REFUSED after SIGHUP", "REFUSED",
         srv.query("ns1.added.example.net", "A").rcode)
    t.eq("the other zone still served", "203.0.113.57", ns2_now(srv))


# ------------------------------------------------------------------ reload under load


def under_load(t, srv):
    # One client asks 2000 questions back to back and sends SIGHUP every 200 of them;
    # every question must get the right answer (the swap loses nothing).
    mark = srv.mark()
    for name, tr, qtype, count, parallel, timeout, every, expect in (
            ("reload under UDP load: 2000 sent, 10 SIGHUPs, none lost or wrong",
             "udp4", "A", 2000, 1, 1, 200, "192.0.2.10"),
            # One client over TCP keeps one connection; it reopens only after a loss.
            ("reload under TCP load: 600 sent on one connection, 10 SIGHUPs, none lost",
             "tcp4", "A", 600, 1, 2, 60, "192.0.2.10"),
            ("reload under UDP load from 2 clients over ::1: none lost or wrong",
             "udp6", "AAAA", 1000, 2, 1, 50, "2001:db8:10::10")):
        r = srv.load("www.gslb.example.com", qtype, tr, count=count, parallel=parallel,
                     timeout=timeout, deadline=60, expect=[expect], every=every,
                     action=srv.reload)
        t.check(name, r.clean(count) and r.every == 10, *r.details())
    t.eq("after the reloads: still serving the latest file", "203.0.113.57", ns2_now(srv))
    t.unlike("no error logged during the reloads under load",
             r"error|AddressSanitizer|runtime error", srv.log(since=mark))


# ------------------------------------------------------------------ --check warnings

LINT_ZONE = """\
zone: lint.test
soa: {mname: ns1.example.net, rname: hostmaster.example.net}
ns: [ns1.example.net]
regions:
  us-east: {location: [39.04, -77.49], pool: [192.0.2.10]}
  us-west: {location: [37.34, -121.89], pool: [192.0.2.20]}
  london:  {location: [-0.13, 51.5], pool: [198.51.100.10]}
  spare:   {location: [48.86, 2.35], pool: [203.0.113.10]}
services:
  www: {regions: [us-east, us-west, london]}
"""


def line_of(text, start):
    return 1 + next(i for i, line in enumerate(text.splitlines()) if line.startswith(start))


def lint_patterns(zf):
    """The three warnings LINT_ZONE gets on the country-level world database, as regexes."""
    where = re.escape(str(zf))
    return (
        ("a region no service uses",
         r"(?m)^%s:%d:3: warning: region 'spare' is not used by any service" %
         (where, line_of(LINT_ZONE, "  spare:"))),
        ("a location that looks swapped, naming the place the swap is near",
         r"(?m)^%s:%d:3: warning: region 'london': location \[-0\.13, 51\.5\] looks swapped: "
         r".* while \[51\.5, -0\.13\] is 1 km from Europe/London \(GB\)" %
         (where, line_of(LINT_ZONE, "  london:"))),
        ("two regions of a service in one country on a country-level database",
         r"(?m)^%s:%d:3: warning: service 'www': regions 'us-east' and 'us-west' look to be in "
         r"US \(near America/New_York and America/Los_Angeles\), but the GeoIP database .* "
         r"\(gslb-World-Country\) has one location for all of US: its clients cannot be split "
         r"between them and all go to 'us-east'; a city-level database" %
         (where, line_of(LINT_ZONE, "  www:"))),
    )


def check_warnings(t, srv):
    zf = t.write("lint/lint.test.yaml", LINT_ZONE)
    x = srv.run("--zones", zf, "--check", "--geoip", COUNTRY_DB)
    t.eq("--check with warnings only exits 0", 0, x.status)
    t.like("--check with warnings still says OK", r"(?m): OK: 1 zone \(lint\.test", x.out)
    for what, pattern in lint_patterns(zf):
        t.like("--check warns: " + what, pattern, x.out)
    t.unlike("--check: warnings are no errors", r": error: ", x.out)

    # A database with two points in the US: its clients can be split, nothing to say.
    spec = t.write("lint/city.spec", "0.0.0.0/0 US NA 40.71 -74.0\n"
                                     "192.0.2.0/24 US NA 37.4 -122.1\n")
    built = t.run([BUILD_TESTDB, spec, t.path("lint/city.mmdb")])
    t.eq("geo/build-testdb builds a database with two US points", 0, built.status)
    x = srv.run("--zones", zf, "--check", "--geoip", t.path("lint/city.mmdb"))
    t.eq("--check on a city-level database exits 0", 0, x.status)
    t.unlike("... and says nothing of regions in one country", r"look to be in US", x.out)
    t.like("... while the other warnings stay", lint_patterns(zf)[1][1], x.out)
    # Nor on the built-in world database, city level since it is built from DB-IP.
    x = srv.check_zones(zf)
    t.eq("--check on the built-in (city-level) world database exits 0", 0, x.status)
    t.unlike("... and says nothing of regions in one country", r"look to be in US", x.out)

    lint = g.Gslbd(t, "lint", zones=zf, args=["--geoip", COUNTRY_DB])
    t.start(lint, "gslbd starts on a zone with warnings", bail=True)
    for what, pattern in lint_patterns(zf):
        t.like("start-up logs the warning: " + what, pattern, lint.log())
    mark = lint.mark()
    zf.write_text(LINT_ZONE.replace("pool: [203.0.113.10]", "pool: [203.0.113.11]"))
    lint.reload()
    for what, pattern in lint_patterns(zf):
        t.check("a reload of the edited file logs it again: " + what,
                lint.wait_log(pattern, 5, since=mark), *lint.log(since=mark).splitlines()[-5:])
    t.eq("SIGTERM exits 0", 0, lint.stop())


# ------------------------------------------------------------------ serials


def soa_serial(srv):
    for _, _, rd in srv.query("gslb.example.com", "SOA").section("answer"):
        return rd.serial
    return None


def set_time(path, when):
    os.utime(path, (when, when))


def configmap_publish(d, n, text, when):
    """Lay out `d` as a kubelet's ConfigMap volume with the zone file in generation n,
    the file's time `when` (the atomic writer's own, on each server)."""
    stamp = "..2024_01_01_00_00_%02d" % n
    os.mkdir(d / stamp)
    f = d / stamp / "gslb.example.com.yaml"
    f.write_text(text)
    set_time(f, when)
    os.symlink(stamp, d / "..data_tmp")
    os.replace(d / "..data_tmp", d / "..data")
    link = d / "gslb.example.com.yaml"
    if not os.path.islink(link):
        os.symlink("..data/gslb.example.com.yaml", link)


def serials(t):
    when = 1750000000
    a = t.write("serial-a/gslb.example.com.yaml", g.EXAMPLE_ZONE)
    set_time(a, when)
    bdir = t.path("serial-b")
    bdir.mkdir()
    b = bdir / "gslb.example.com.yaml"
    shutil.copy2(a, b)  # as rsync -t or cp -p: the same time
    cdir = t.path("serial-c")
    cdir.mkdir()
    configmap_publish(cdir, 1, g.EXAMPLE_ZONE, when)
    servers = [g.Gslbd(t, "serial-a", zones=a), g.Gslbd(t, "serial-b", zones=bdir),
               g.Gslbd(t, "serial-c", zones=cdir)]
    for srv, how in zip(servers, ("a file", "a directory", "a ConfigMap-style directory")):
        t.start(srv, "gslbd on %s with a copy of the zone" % how, bail=True)
    got = [soa_serial(srv) for srv in servers]
    t.eq("copies with the same time: every server answers the same serial, the file's time "
         "(file, directory, ConfigMap ..data target)", [when] * 3, got)

    # An edit, published to each server with its time.
    edited = zone_with_ns2("203.0.113.60")
    a.write_text(edited)
    set_time(a, when + 100)
    shutil.copy2(a, b)
    configmap_publish(cdir, 2, edited, when + 100)
    servers[0].reload()
    servers[1].reload()
    ok = t.wait_for(lambda: [soa_serial(srv) for srv in servers] == [when + 100] * 3, 5, 0.1)
    t.check("an edit increases the serial on every server, and they still agree",
            ok is not None, [soa_serial(srv) for srv in servers])

    # Edited again within the same second: the time cannot order it, the serial still grows.
    mark = servers[0].mark()
    a.write_text(zone_with_ns2("203.0.113.61"))
    set_time(a, when + 100)
    servers[0].reload()
    ok = t.wait_for(lambda: soa_serial(servers[0]) == when + 101, 5, 0.1)
    t.check("RFC 1982: an edit within the same second still increases the serial (+1)",
            ok is not None, soa_serial(servers[0]))
    t.like("... and says that servers may now disagree",
           r"(?m)^%s: warning: the file changed but its modification time gives serial %d, "
           r"not above the %d served: serving %d; servers given this file may now answer "
           r"different serials" % (re.escape(str(a)), when + 100, when + 100, when + 101),
           servers[0].log(since=mark))

    # The time going back with new content: still up, never down.
    a.write_text(zone_with_ns2("203.0.113.62"))
    set_time(a, when - 1000)
    servers[0].reload()
    ok = t.wait_for(lambda: ns2_now(servers[0]) == "203.0.113.62", 5, 0.1)
    t.eq("a file whose time went back: the serial still grows", when + 102,
         soa_serial(servers[0]))

    # SIGHUP without a change: the same serial.
    servers[1].reload()
    time.sleep(0.5)
    t.eq("SIGHUP without a change keeps the serial", when + 100, soa_serial(servers[1]))
    for srv in servers:
        t.eq("%s: SIGTERM exits 0" % srv.name, 0, srv.stop())


def main(t):
    zf = g.write_example_zone(t)
    zdir = zf.parent
    srv = g.Gslbd(t, "reload", zones=zdir)
    bad, bad_line = check_files(t, srv, zf, zdir)
    broken_startup(t, srv, bad, bad_line)

    t.start(srv, "gslbd starts", bail=True)
    sighup(t, srv, zf)
    unsignalled(t, srv, zf)
    zones_come_and_go(t, srv)
    under_load(t, srv)
    t.eq("SIGTERM after the reloads exits 0", 0, srv.stop())
    check_warnings(t, srv)
    serials(t)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
