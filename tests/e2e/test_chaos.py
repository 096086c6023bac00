#!/usr/bin/env python3
"""test_chaos.py: gslbd and healthd together, under load, through one fault after another.

The whole system on loopback (which response rate limiting exempts by default, so the
load from 127.0.0.1 is never limited): gslbd serving a zone that lives in a Kubernetes-style
ConfigMap directory (`..data` a symbolic link to the current version), with a GeoIP
database the script builds, and healthd probing two regions' backends (gslbtest Backends):
eu, nearest to a London client and dead (503), and us, healthy. While a bounded dnsperf
load runs (a fixed rate for a fixed time, loopback only), each fault below is made, and
afterwards the script asserts what gslb promises (README, Reliability):

- healthd frozen past stale_after, then thawed; healthd killed (-9) and restarted; gslbd
  killed (-9) and restarted: no answer points London at the dead region once healthd has
  had a second to resynchronise, and no query is lost beyond those sent while gslbd was
  down;
- the GeoIP database rewritten in place (as cp or rsync --inplace do), several times: gslbd
  stays up, loses nothing, answers from the old or the new database, never a crash;
- the zones swapped the way a ConfigMap update does: the new version is served within two
  seconds, nothing lost;
- a TCP flood of connections trickling bytes: real TCP queries keep being answered;
- the control socket flooded with requests nobody reads: healthd's reports still get
  through (a recovery shows up in the answers);
- descriptors exhausted under a running gslbd: it does not spin and keeps answering UDP;
  TCP serves again once descriptors are back;
- at the end both daemons stop on SIGTERM, with status 0, within two seconds; no
  sanitizer or valgrind report in any log (the harness checks every log).

Not here: each fault's own detailed test (test_health_sync.py, test_control.py,
test_tcp_faults.py, and the geo, zone and TCP fault suites). Skipped without dnsperf.
"""

import os
import resource
import shutil
import signal
import socket
import threading
import time

import gslbtest as g

BUILD_TESTDB = g.ROOT / "geo" / "build-testdb"
LONDON = "81.2.69.0/24"
EU, US = "192.0.2.1", "192.0.2.2"
RATE, SECONDS = 400, 6  # each phase's dnsperf load: queries per second, for how long

SPEC = """\
# network          country continent latitude longitude subdivision
81.2.69.0/24       GB      EU        51.5     -0.13     ENG
198.51.100.0/24    US      NA        39.0     -77.5     VA
"""

ZONE = """\
zone: chaos.test
soa: {{mname: ns1.chaos.test, rname: hostmaster.chaos.test, minimum: 60}}
ns: [ns1.chaos.test]
records:
  ns1: {{A: 192.0.2.53}}
  version: {{TXT: "{version}"}}
  static: {{A: 192.0.2.80}}
regions:
  eu: {{location: [53.35, -6.26], pool: [{{address: {eu}, probe: "127.0.0.1:{p1}"}}], check: web}}
  us: {{location: [39.04, -77.49], pool: [{{address: {us}, probe: "127.0.0.1:{p2}"}}], check: web}}
checks:
  web: {{type: http, path: /health, interval: 500ms, timeout: 300ms, rise: 2, fall: 2,
         stale_after: 1500ms}}
services:
  www: {{regions: [eu, us], policy: nearest, ttl: 30, min_ttl: 5}}
"""


class System:
    """The daemons under test, restarted as the phases require."""

    def __init__(self, t):
        self.t = t
        self.p1, self.p2 = g.Backend(t, "eu-backend", mode="503"), g.Backend(t, "us-backend")
        for b in (self.p1, self.p2):
            if not t.start(b):
                t.bail("%s starts" % b.name, *b.why)
        self.cm = t.path("configmap")
        self.cm.mkdir()
        self.publish("v1")
        os.symlink("..data/chaos.test.yaml", self.cm / "chaos.test.yaml")
        geo = t.path("geo")
        geo.mkdir()
        built = t.run([BUILD_TESTDB, t.write("geo/test.spec", SPEC), geo / "test.mmdb"])
        if built.status != 0:
            t.bail("geo/build-testdb builds the test database", built.out)
        self.db = geo / "live.mmdb"
        shutil.copyfile(geo / "test.mmdb", self.db)
        self.ctl = t.path("ctl.sock")
        self.srv = g.Gslbd(t, "gslbd", zones=self.cm, addresses=("127.0.0.1",),
                           args=["--threads", 2, "--control", self.ctl, "--geoip", self.db,
                                 "--sync-wait", 2])
        if not t.start(self.srv):
            t.bail("gslbd starts on the ConfigMap directory", *self.srv.why)
        self.hd = None
        self.start_healthd("healthd")

    def publish(self, version):
        """A ConfigMap update: a new timestamped directory, then ..data swapped to it."""
        d = self.cm / ("..%s_%d" % (version, time.monotonic_ns()))
        d.mkdir()
        (d / "chaos.test.yaml").write_text(ZONE.format(version=version, eu=EU, us=US,
                                                        p1=self.p1.port, p2=self.p2.port))
        tmp = self.cm / "..data_tmp"
        os.symlink(d.name, tmp)
        os.replace(tmp, self.cm / "..data")

    def start_healthd(self, name):
        self.hd = g.Healthd(self.t, name, zones=self.cm, gslbd=[self.ctl])
        if not self.t.start(self.hd):
            self.t.bail("%s starts" % name, *self.hd.why)

    def london(self):
        """London's answer to www A (ECS), or None."""
        r = self.srv.query("www.chaos.test", "A", ecs=LONDON, timeout=1)
        rrs = r.section("answer") if r.parsed else []
        return rrs[0][2].to_text() if rrs else None

    def avoids_dead(self, seconds):
        """London answered us (not the dead eu) within `seconds`, then 10 times in a row."""
        if not g.until(lambda: self.london() == US, seconds, every=0.1):
            return False
        return all(self.london() == US for _ in range(10))

    def load(self, name, tcp=False, rate=RATE, seconds=SECONDS):
        queries = [("www.chaos.test", "A"), ("static.chaos.test", "A"),
                   ("nx.chaos.test", "A"), ("version.chaos.test", "TXT")]
        return g.DnsperfLoad(self.t, name, "127.0.0.1", self.srv.port, queries, rate=rate,
                             seconds=seconds, tcp=tcp).start()


def expect_clean(t, name, res):
    t.check("%s: nothing lost (%s)" % (name, res), res.ok(), *res.out.splitlines()[-12:])


def healthd_frozen(t, s):
    load = s.load("frozen")
    s.hd.stall(4)  # > stale_after (1.5 s)
    t.check("healthd frozen 4 s and thawed: London off the dead region within 1 s of the "
            "resync", s.avoids_dead(2), "London got %s" % s.london())
    expect_clean(t, "healthd frozen", load.result())


def healthd_killed(t, s):
    load = s.load("healthd-killed")
    s.hd.signal(signal.SIGKILL)
    s.hd.proc.wait(5)
    time.sleep(2)  # its reports go stale meanwhile
    s.start_healthd("healthd-2")
    t.check("healthd killed and restarted: London off the dead region", s.avoids_dead(4),
            "London got %s" % s.london())
    expect_clean(t, "healthd killed", load.result())


def gslbd_killed(t, s):
    load = s.load("gslbd-killed")
    time.sleep(1)
    s.srv.signal(signal.SIGKILL)
    down = time.monotonic()
    s.srv.proc.wait(5)
    s.srv = s.srv.twin("gslbd-2")
    if not t.start(s.srv):
        t.bail("gslbd restarts after SIGKILL", *s.srv.why)
    downtime = time.monotonic() - down
    first = s.srv.query("www.chaos.test", "A", ecs=LONDON, timeout=1)
    rrs = first.section("answer") if first.parsed else []
    ttl = rrs[0][1] if rrs else None
    t.check("right after the restart, London's answer is the live region or carries min_ttl "
            "(%s, TTL %s)" % (rrs[0][2].to_text() if rrs else None, ttl),
            rrs and (rrs[0][2].to_text() == US or ttl <= 5))
    t.check("gslbd killed and restarted: London off the dead region once healthd resyncs",
            s.avoids_dead(3), "London got %s" % s.london())
    res = load.result()
    allowed = int(RATE * downtime * 1.5) + 250  # sent while down, plus those in flight
    t.check("gslbd down %.1f s: %d lost, at most %d (those sent while it was down)"
            % (downtime, res.lost, allowed), 0 <= res.lost <= allowed, *res.out.splitlines()[-8:])


def mmdb_rewritten(t, s):
    mark = s.srv.mark()
    load = s.load("mmdb")
    src = (t.tmp / "geo" / "test.mmdb").read_bytes()
    for i in range(5):
        with open(s.db, "r+b") as f:  # in place: same inode, rewritten as it is read
            f.truncate(0)
            for k in range(0, len(src), 4096):
                f.write(src[k:k + 4096])
                if k % 65536 == 0:
                    f.flush()
                    time.sleep(0.01)
        time.sleep(0.6)
    t.check("the GeoIP database rewritten in place 5 times: gslbd still runs", s.srv.alive(),
            *s.srv.log().splitlines()[-5:])
    t.check("... having read it again meanwhile", s.srv.wait_log("GeoIP database", 3, since=mark),
            *s.srv.log().splitlines()[-5:])
    t.check("... and still places London (off the dead region)", s.avoids_dead(3),
            "London got %s" % s.london())
    expect_clean(t, "mmdb rewritten in place", load.result())


def configmap_swapped(t, s):
    load = s.load("configmap")
    s.publish("v2")

    def version():
        r = s.srv.query("version.chaos.test", "TXT", timeout=1)
        rrs = r.section("answer") if r.parsed else []
        return rrs[0][2].to_text() if rrs else None

    w = g.until(lambda: version() == '"v2"', 3, every=0.1)
    t.check("zones swapped ConfigMap-style: the new version served (%s)"
            % ("after %d ms" % w.ms if w else "never"), w and w.ms <= 2000,
            "version.chaos.test TXT: %s" % version())
    expect_clean(t, "ConfigMap swap", load.result())


def trickle(port, conns, stop):
    """Connections that send one byte of a message every 2 s and never finish it."""
    socks = []
    try:
        while not stop.is_set():
            while len(socks) < conns and not stop.is_set():
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=1)
                    socks.append(s)
                except OSError:
                    break
            for s in list(socks):
                try:
                    s.send(b"\x00")
                except OSError:
                    socks.remove(s)
                    s.close()
            stop.wait(2)
    finally:
        for s in socks:
            s.close()


def tcp_flood(t, s):
    stop = threading.Event()
    flood = threading.Thread(target=trickle, args=(s.srv.port, 300, stop), daemon=True)
    flood.start()
    load = s.load("tcp-flood")
    time.sleep(2)
    answered = 0
    for _ in range(20):
        r = s.srv.query("static.chaos.test", "A", transport="tcp4", timeout=2)
        answered += bool(r.parsed and r.section("answer"))
        time.sleep(0.1)
    stop.set()
    flood.join(10)
    t.compare("a TCP flood of 300 trickling connections: real TCP queries answered (%d of 20)"
              % answered, answered, ">=", 18)
    expect_clean(t, "TCP flood (UDP load)", load.result())


def control_flood(t, s):
    stop = threading.Event()

    def flood():
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(str(s.ctl))
        c.setblocking(False)
        try:
            while not stop.is_set():
                try:
                    c.send(b"STATUS\n" * 256)
                except BlockingIOError:
                    stop.wait(0.01)
                except OSError:
                    return  # cut off, as it should be
        finally:
            c.close()

    th = threading.Thread(target=flood, daemon=True)
    th.start()
    s.p1.set("200")  # eu recovers: healthd must get that through
    w = g.until(lambda: s.london() == EU, 6, every=0.1)
    stop.set()
    th.join(5)
    t.check("the control socket flooded with unread STATUS requests: healthd's report of "
            "eu's recovery still arrives (%s)" % ("after %d ms" % w.ms if w else "never"), w,
            "London got %s" % s.london())
    s.p1.set("503")
    t.check("... and of its failure again", s.avoids_dead(4), "London got %s" % s.london())


def descriptors_exhausted(t, s):
    pid = s.srv.pid
    before = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    used = len(os.listdir("/proc/%d/fd" % pid))
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (used + 8, before[1]))
    socks = []
    for _ in range(60):
        try:
            socks.append(socket.create_connection(("127.0.0.1", s.srv.port), timeout=1))
        except OSError:
            break
    with open("/proc/%d/stat" % pid) as f:
        f1 = f.read().rsplit(")", 1)[1].split()
    time.sleep(2)
    with open("/proc/%d/stat" % pid) as f:
        f2 = f.read().rsplit(")", 1)[1].split()
    cpu = (int(f2[11]) + int(f2[12]) - int(f1[11]) - int(f1[12])) / os.sysconf("SC_CLK_TCK") / 2
    t.compare("descriptors exhausted: gslbd does not spin (%.0f %% of a core)" % (cpu * 100),
              cpu, "<", 0.5)
    r = s.srv.query("static.chaos.test", "A", timeout=2)
    t.check("... and answers UDP", r.parsed and r.section("answer"))
    for c in socks:
        c.close()
    resource.prlimit(pid, resource.RLIMIT_NOFILE, before)
    w = g.until(lambda: s.srv.query("static.chaos.test", "A", transport="tcp4",
                                    timeout=1).parsed, 5, every=0.2)
    t.check("... and serves TCP again once descriptors are back", w)


def stops(t, s):
    for d, name in ((s.hd, "healthd"), (s.srv, "gslbd")):
        start = time.monotonic()
        status = d.stop()
        took = time.monotonic() - start
        t.eq("%s stops on SIGTERM with status 0" % name, 0, status)
        if not os.environ.get("GSLBD_WRAPPER"):
            t.compare("... within 2 s (%.1f s)" % took, took, "<=", 2.0)


def main(t):
    if not g.perf.available():
        t.skip("the chaos suite", "dnsperf is not installed (make deps installs it)")
        return
    s = System(t)
    t.check("before any fault, London is kept off the dead region", s.avoids_dead(5),
            "London got %s" % s.london())
    expect_clean(t, "no fault", s.load("baseline", seconds=3).result())
    healthd_frozen(t, s)
    healthd_killed(t, s)
    gslbd_killed(t, s)
    mmdb_rewritten(t, s)
    configmap_swapped(t, s)
    tcp_flood(t, s)
    control_flood(t, s)
    descriptors_exhausted(t, s)
    stops(t, s)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
