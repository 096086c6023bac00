#!/usr/bin/env python3
"""test_geo_faults.py: gslbd when its GeoIP database file changes under the loader.

Updaters often rewrite an mmdb in place rather than by rename: cp over it and curl -o
truncate it and write it again, rsync --inplace writes over it and truncates it at the
end. gslbd reloads the file when it changes, and loads it at start. This script rewrites
the file in place in a bounded loop whose pauses sweep across the time a reload takes,
while a bounded query load runs; leaves a file half written for a while; writes a
truncated one; and starts gslbd while the file is being rewritten. It asserts that gslbd
never dies, that every answer comes from the old or the new database, that a half-written
or truncated file is refused with a message naming the file while the previous database
keeps serving, and that the last complete file is what serves in the end.

The databases are built with geo/build-testdb. Random IPv6 networks make their search
trees large (hundreds of thousands of nodes, a few MB), so a load takes long enough to be
overlapped by a rewrite on purpose, not by luck.

Not here: replacing the file by rename and corrupt files (test_geo.py). All traffic goes
to 127.0.0.1 and ::1; every loop and wait is bounded.
"""

import os
import random
import threading
import time

import gslbtest as g

BUILD_TESTDB = g.ROOT / "geo" / "build-testdb"

EU4, AP4 = "10.2.0.1", "10.3.0.1"
LONDON = "81.2.69.0/24"

# London is near eu-west in the old database and in Singapore (ap-south) in the new one.
ZONE = """\
zone: geo.test
soa: {mname: ns1.geo.test, rname: hostmaster.geo.test, minimum: 60}
ns: [ns1.geo.test]
records:
  ns1: {A: 192.0.2.53}
regions:
  eu-west:  {location: [53.35, -6.26], pool: [10.2.0.1]}
  ap-south: {location: [1.29, 103.85], pool: [10.3.0.1]}
services:
  www: {regions: [eu-west, ap-south], geo: {}}
"""

OLD_LONDON = "81.2.69.0/24 GB EU 51.5 -0.13 ENG"
NEW_LONDON = "81.2.69.0/24 SG AS 1.35 103.82 -"
FILLER_LOCATIONS = ("US NA 37.77 -122.42 CA", "JP AS 35.68 139.69 13", "BR SA -23.55 -46.63 -")

REWRITES = 40  # in-place rewrites under load
STARTS = 6  # starts while the file is being rewritten


def spec(london, networks, seed):
    """A build-testdb spec: London, then `networks` random /96s in 2001:db8::/32 (deep
    and unshared, so each adds about 60 search-tree nodes)."""
    rng = random.Random(seed)
    lines = [london]
    for _ in range(networks):
        h = rng.getrandbits(64)
        words = (h >> 48, (h >> 32) & 0xffff, (h >> 16) & 0xffff, h & 0xffff)
        lines.append("2001:db8:%x:%x:%x:%x::/96 %s" % (words + (rng.choice(FILLER_LOCATIONS),)))
    return "\n".join(lines) + "\n"


def build(t, name, text):
    path = t.path("geo", name + ".mmdb")
    built = t.run([BUILD_TESTDB, t.write("geo/%s.spec" % name, text), path], timeout=120)
    if built.status != 0:
        t.bail("geo/build-testdb builds the %s database" % name, built.out)
    return path.read_bytes()


def write_in_place(path, data, style, upto=None):
    """Write `data` (its first `upto` bytes) over the file at `path` without replacing
    it: "cp" truncates first, as cp and curl -o do; "inplace" writes over the old bytes
    and truncates at the end, as rsync --inplace does."""
    end = len(data) if upto is None else upto
    fd = os.open(path, os.O_WRONLY | (os.O_TRUNC if style == "cp" else 0))
    try:
        view = memoryview(data)
        off = 0
        while off < end:
            off += os.write(fd, view[off:min(end, off + 256 * 1024)])
        if style == "inplace" and upto is None:
            os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def answer(srv, tr="udp4"):
    """The addresses answered for www.geo.test to a client in London, or None."""
    r = srv.query("www.geo.test", "A", transport=tr, ecs=LONDON, timeout=1)
    if r.msg is None:
        return None
    return " ".join(sorted(rd.to_text() for rrset in r.msg.answer for rd in rrset))


def rewrites_under_load(t, srv, live, old, new):
    """REWRITES rewrites, alternating the databases and the two styles, each followed by
    a pause of 0.15 to 0.8 s: the watcher reloads 0.2 s after the last change, and the
    load reads the file for a few hundred ms, so some rewrites land during a load."""
    pauses = [0.15 + 0.65 * ((i * 7) % 10) / 10 for i in range(REWRITES)]

    def rewriter():
        for i, pause in enumerate(pauses):
            if not srv.alive():
                return
            write_in_place(live, new if i % 2 == 0 else old,
                           "cp" if (i // 2) % 2 == 0 else "inplace")
            time.sleep(pause)

    mark = srv.mark()
    th = threading.Thread(target=rewriter, daemon=True)
    th.start()
    load = srv.load("www.geo.test", "A", "udp4", ecs=LONDON, count=400000, parallel=2,
                    deadline=sum(pauses) + 5, timeout=1, max_lost=50)
    th.join(30)
    what = "%d in-place rewrites (cp, rsync --inplace) while gslbd reloads" % REWRITES
    t.check("%s: gslbd is still running" % what, srv.alive(),
            "exit status: %s" % (None if srv.alive() else srv.stop()),
            *srv.log(since=mark).splitlines()[-10:])
    t.check("%s: no query lost (%s)" % (what, load), load.lost <= 5 and not load.errors,
            *load.details())
    stray = {a for a in load.tally if a not in (EU4, AP4)}
    t.check("%s: every answer from the old (eu-west) or the new (ap-south) database"
            % what, not stray and load.answered > 0, *load.details())
    t.diag("answers under the rewrites: %s" % ", ".join(
        "%s x%d" % (a or "(none)", n) for a, n in load.tally.most_common()))
    log = srv.log(since=mark)
    t.diag("reloads: %d, refused: %d" % (log.count("reloaded GeoIP database"),
                                        log.count("GeoIP database not reloaded")))
    t.compare("%s: reloads happened" % what, log.count("reloaded GeoIP database"), ">=", 1)
    last = EU4 if (REWRITES - 1) % 2 else AP4
    settled = g.until(lambda: answer(srv) == last, 5)
    t.check("%s: the last complete file serves once the writes stop" % what, settled,
            "answer: %s, want %s" % (settled.value, last))


def half_written(t, srv, live, old, new):
    """The file left half written for a second (a download that stalls), then finished;
    then a truncated file written whole."""
    mark = srv.mark()
    before = answer(srv)
    write_in_place(live, new, "cp", upto=len(new) // 2)
    refused = srv.wait_log(r"GeoIP database not reloaded.*live\.mmdb", 5, since=mark)
    t.check("half-written database: refused, 'not reloaded' names the file", refused,
            *srv.log(since=mark).splitlines()[-5:])
    t.like("half-written database: the error says it is incomplete",
           r"live\.mmdb: error: .*(truncated|being written)", srv.log(since=mark))
    t.eq("half-written database: the previous one keeps serving", before, answer(srv))
    write_in_place(live, new, "cp")
    t.check("half-written database completed: it is loaded and serves (ap-south)",
            g.until(lambda: answer(srv) == AP4, 5))

    mark = srv.mark()
    write_in_place(live, old[:len(old) * 3 // 5], "cp")
    t.check("truncated database: refused",
            srv.wait_log(r"GeoIP database not reloaded.*live\.mmdb", 5, since=mark),
            *srv.log(since=mark).splitlines()[-5:])
    t.eq("truncated database: the previous one keeps serving (ap-south)", AP4, answer(srv))
    t.check("gslbd still running after the half-written and truncated files", srv.alive())


def starts_while_rewritten(t, zones, live, old, new):
    """gslbd started STARTS times while the file is rewritten in place every 50-150 ms:
    each start serves, or refuses the file and exits 1 with a message; none dies."""
    stop = threading.Event()

    def rewriter():
        i = 0
        while not stop.is_set() and i < 2000:
            write_in_place(live, new if i % 2 else old, "cp" if (i // 2) % 2 else "inplace")
            stop.wait(0.05 + 0.1 * ((i * 3) % 5) / 5)
            i += 1

    th = threading.Thread(target=rewriter, daemon=True)
    th.start()
    outcomes = []
    try:
        for n in range(STARTS):
            srv = g.Gslbd(t, "start%d" % n, zones=zones, args=["--geoip", live])
            if srv.start(timeout=30):
                outcomes.append(("ready", srv.stop()))
            else:
                outcomes.append(("exited", srv.status, srv.log()))
    finally:
        stop.set()
        th.join(10)
    t.diag("starts during rewrites: " + ", ".join(
        "%s %s" % (o[0], o[1]) for o in outcomes))
    died = [o for o in outcomes if not (o[0] == "ready" and o[1] == 0) and o[1] != 1]
    t.check("%d starts while the file is rewritten in place: each serves or exits 1, "
            "none dies" % STARTS, not died,
            *["status %s: %s" % (o[1], o[2].strip().splitlines()[-3:] if len(o) > 2 else "")
              for o in died])
    refused = [o for o in outcomes if o[0] == "exited" and o[1] == 1]
    t.check("a start that refuses the file says why, naming it",
            all("live.mmdb" in o[2] for o in refused),
            *[o[2] for o in refused])


def main(t):
    old = build(t, "old", spec(OLD_LONDON, 15000, 1))
    new = build(t, "new", spec(NEW_LONDON, 10000, 2))
    t.ok("geo/build-testdb builds two large databases (%d and %d bytes)" % (len(old), len(new)))
    live = t.path("geo", "live.mmdb")
    live.write_bytes(old)
    t.write("zones/geo.test.yaml", ZONE)
    zones = t.path("zones")

    srv = g.Gslbd(t, "geo", zones=zones, args=["--geoip", live])
    t.start(srv, "gslbd starts with the large database", bail=True)
    t.eq("the old database places London at eu-west", EU4, answer(srv))

    rewrites_under_load(t, srv, live, old, new)
    if srv.alive():
        half_written(t, srv, live, old, new)
        t.eq("gslbd stops with status 0", 0, srv.stop())
    starts_while_rewritten(t, zones, live, old, new)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
