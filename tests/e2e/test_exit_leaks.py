#!/usr/bin/env python3
"""test_exit_leaks.py: gslbd and healthd free everything on their error exits.

Each daemon is started under valgrind (--leak-check=full, definite leaks are errors) in
the ways a start fails: a listen address already taken, a control socket that cannot be
made, an unknown --user (with and without a control socket), a missing --geoip file, no
built-in world database where gslbd looks for one, a broken zone, a bad command line. Every run must exit with its documented status (1, or 2
for the command line) and without a definite leak; with an AddressSanitizer build,
LeakSanitizer checks instead of valgrind. gslbd is given a small database built with
geo/build-testdb, so the world database is not loaded under valgrind.

Not here: leaks of a running daemon (run any suite with GSLBD_WRAPPER=valgrind), the
error messages themselves (test_reload.py, test_geo.py, test_healthd.py). Traffic: none;
the taken address is on 127.0.0.1. Every run is bounded.
"""

import os
import shutil
import socket

import gslbtest as g
from gslbtest.procs import GSLBD, HEALTHD

VALGRIND = ["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--error-exitcode=99"]

SPEC = "81.2.69.0/24 GB EU 51.5 -0.13 ENG\n"

ZONE = """\
zone: leak.test
soa: {mname: ns1.leak.test, rname: hostmaster.leak.test}
ns: [ns1.leak.test]
records:
  ns1: {A: 192.0.2.53}
regions:
  eu-west: {location: [53.35, -6.26], pool: [10.2.0.1], check: web}
checks:
  web: {type: http, port: 1, interval: 1s, timeout: 500ms}
services:
  www: {regions: [eu-west], geo: {}}
"""


def taken_port():
    """A port held on 127.0.0.1 for TCP and UDP (without SO_REUSEPORT, so gslbd's bind
    fails): (port, the sockets to close)."""
    for _ in range(20):
        port = g.free_port()
        socks = []
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            socks[0].listen(1)
            return port, socks
        except OSError:
            for s in socks:
                s.close()
    raise RuntimeError("no port could be taken")


def leak_lines(out):
    """valgrind's report lines, or [] when it reported nothing."""
    return [line for line in out.splitlines() if line.startswith("==")]


def asan_build(binary):
    """Whether the binary was built with AddressSanitizer (make SANITIZE=address), which
    valgrind cannot run; its LeakSanitizer then does the checking at exit."""
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def check_exit(t, what, argv, status):
    if asan_build(argv[0]):
        r = t.run([str(a) for a in argv], timeout=300)
        t.eq("%s: exits %d" % (what, status), status, r.status)
        t.unlike("%s: no leak (LeakSanitizer)" % what, "LeakSanitizer", r.out)
        return
    r = t.run(VALGRIND + [str(a) for a in argv], timeout=300)
    t.eq("%s: exits %d" % (what, status), status, r.status)
    report = leak_lines(r.out)
    t.check("%s: no definite leak under valgrind" % what,
            r.status != 99 and "definitely lost" not in r.out, *report[:40])


def main(t):
    if shutil.which("valgrind") is None and not asan_build(GSLBD):
        t.skip("error exits under valgrind", "valgrind is not installed")
        return
    db = t.path("geo", "small.mmdb")
    built = t.run([g.ROOT / "geo" / "build-testdb", t.write("geo/small.spec", SPEC), db])
    if built.status != 0:
        t.bail("geo/build-testdb builds the database", built.out)
    zones = t.write("zones/leak.test.yaml", ZONE).parent
    broken = t.write("broken/leak.test.yaml", "zone: leak.test\nbogus: 1\n").parent
    gslbd, healthd = GSLBD, HEALTHD
    port, held = taken_port()
    listen = ["--listen", "127.0.0.1:%d" % port]
    free = ["--listen", "127.0.0.1:%d" % g.free_port()]
    base = [gslbd, "--zones", zones, "--geoip", db]
    try:
        check_exit(t, "gslbd, listen address taken", base + listen, 1)
        check_exit(t, "gslbd, --http address taken (after the DNS sockets are bound)",
                   base + free + ["--http", "127.0.0.1:%d" % port], 1)
        check_exit(t, "gslbd, the second --http address taken",
                   base + free + ["--http", "127.0.0.1:%d" % g.free_port(),
                                  "--http", "127.0.0.1:%d" % port], 1)
        check_exit(t, "healthd, --http address taken",
                   [healthd, "--zones", zones, "--gslbd", t.path("control"),
                    "--http", "127.0.0.1:%d" % port], 1)
    finally:
        for s in held:
            s.close()
    check_exit(t, "gslbd, control socket in a missing directory",
               base + free + ["--control", t.path("nowhere", "sub", "control")], 1)
    check_exit(t, "gslbd, --user that does not exist",
               base + free + ["--user", "gslb-no-such-user"], 1)
    check_exit(t, "gslbd, --user that does not exist, with a control socket",
               base + free + ["--user", "gslb-no-such-user", "--control", t.path("control")], 1)
    check_exit(t, "gslbd, --geoip file missing",
               [gslbd, "--zones", zones, "--geoip", t.path("missing.mmdb")] + free, 1)
    # A copy of gslbd away from the build tree finds no world database next to it.
    alone = t.path("alone", "sbin", "gslbd")
    alone.parent.mkdir(parents=True)
    shutil.copy2(gslbd, alone)
    if os.path.exists("/usr/local/share/gslb/world.mmdb"):
        t.skip("gslbd, no world database found", "/usr/local/share/gslb/world.mmdb exists here")
    else:
        check_exit(t, "gslbd, no world database found", [alone, "--zones", zones] + free, 1)
    check_exit(t, "gslbd, broken zone", [gslbd, "--zones", broken, "--geoip", db] + free, 1)
    check_exit(t, "gslbd, bad command line", base + free + ["--threads", "0"], 2)
    check_exit(t, "healthd, broken zone",
               [healthd, "--zones", broken, "--gslbd", t.path("control")], 1)
    check_exit(t, "healthd, bad command line", [healthd, "--zones", zones], 2)
    check_exit(t, "gslbd, --http without a port", base + free + ["--http", "127.0.0.1"], 2)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
