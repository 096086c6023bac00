#!/usr/bin/env python3
"""test_healthd_metrics.py: healthd's --http listener and its metrics, on a live healthd
probing a real nginx on loopback.

healthd probes three targets every second: an http check of nginx's /health (gslbtest
Nginx, whose access log shows every probe it answered), a tcp check of the same port and
an http check of a port nobody listens on (refused). It reports to a recording control
socket (gslbtest FakeGslbd) and to a socket that does not exist. Asserted: /healthz,
404, 405 and HEAD; the page passes `promtool check metrics` (tools/promtool.sh) and
gslbtest.prom's strict reader; probe counts equal what nginx logged, exactly, and rise
by exactly three in three intervals; failures counted by reason (refused against the
debug log line of every failed probe, status 503 against nginx's log); the duration
histogram counting every probe; the member state gauge flipping down and back up with
the reports; reports sent equal the MEMBER lines received; counts kept across a reload
(a renamed check keeps its targets' counts, a removed target's series go, a new one
starts unknown); the loop lag small, and large after a stall; the command line.

Not here: the probes themselves (test_healthd.py), gslbd's metrics (test_metrics.py),
/healthz answering 503 while stopping (healthd closes the listener first; too short to
catch from outside).
Traffic goes to 127.0.0.1 and ::1 only; every wait is bounded.
"""

import re
import socket
import time

import gslbtest as g
from gslbtest import prom

# Under valgrind probes take longer: leave more room around the phase of a probe.
WRAPPED = bool(g.wrapper())
PHASE = 0.4  # seconds after a probe of the 1 s checks when nothing is in flight
W = 10 if WRAPPED else 4

PROBES = "gslb_healthd_probes_total"
STATE = "gslb_healthd_member_state"
DURATION = "gslb_healthd_probe_duration_seconds"


def zone_text(ports, web_check="web", closed=True, later=False):
    regions = [
        "  web:    {location: [50, 0], pool: [127.0.0.1], check: %s}" % web_check,
        '  tcp:    {location: [50, 1], pool: [{address: 192.0.2.1, probe: "127.0.0.1:%d"}], '
        "check: tcp}" % ports["nginx"],
        "  nocheck: {location: [50, 3], pool: [127.0.0.1]}",
    ]
    names = ["web", "tcp", "nocheck"]
    if closed:
        regions.append("  closed: {location: [50, 2], pool: [127.0.0.1], check: closed}")
        names.append("closed")
    if later:
        regions.append("  later:  {location: [50, 4], pool: [127.0.0.1], check: later}")
        names.append("later")
    return """\
zone: hm.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
regions:
{regions}
checks:
  {web_check}: {{type: http, port: {nginx}, path: /health, interval: 1s, timeout: 500ms, rise: 1, fall: 1}}
  tcp:    {{type: tcp, port: 1, interval: 1s, timeout: 500ms, rise: 1, fall: 1}}
  closed: {{type: http, port: {closed}, interval: 1s, timeout: 500ms, rise: 1, fall: 1}}
  later:  {{type: http, port: {nginx}, path: /health, interval: 5s, timeout: 1s, rise: 2, fall: 2}}
services:
  www: {{regions: [{names}]}}
""".format(regions="\n".join(regions), web_check=web_check, names=", ".join(names), **ports)


# ------------------------------------------------------------------ helpers

ACCESS_RX = re.compile(r'"GET /health HTTP/1\.1" (\d{3}) .*"gslb-healthd/')


def nginx_probes(nginx, status=None):
    """Probes of healthd that nginx answered (with `status`, if given), from its log."""
    try:
        text = (nginx.dir / "access.log").read_text(errors="replace")
    except OSError:
        return 0
    codes = [m.group(1) for m in map(ACCESS_RX.search, text.splitlines()) if m]
    return sum(1 for c in codes if status is None or c == str(status))


def log_count(hd, pattern):
    rx = re.compile(pattern)
    return sum(1 for line in hd.log().splitlines() if rx.search(line))


def between_probes(counter, timeout=3.0):
    """Wait (bounded) for the next probe `counter` sees, then PHASE seconds more: the
    moment of a 1 s check furthest from a probe in flight."""
    start = counter()
    g.until(lambda: counter() != start, timeout)
    time.sleep(PHASE)


def steady_scrape(port, counter, tries=5):
    """A scrape with `counter` read just before and just after it, retried until both
    agree: (samples, count). healthd counts a probe and logs it in one callback, so with
    nothing counted around the scrape, the scrape saw exactly that count."""
    for _ in range(tries):
        before = counter()
        m = prom.scrape(port)
        after = counter()
        if before == after:
            return m, before
        time.sleep(0.2)
    return m, None


def probes(m, region, result, reason=None, **labels):
    labels = dict(labels, zone="hm.test", region=region, result=result)
    if reason is not None:
        labels["reason"] = reason
    return prom.total(m, PROBES, **labels)


def state_of(m, region, member="127.0.0.1"):
    """The states whose gauge is 1, and how many series the member has."""
    series = prom.select(m, STATE, zone="hm.test", region=region, member=member)
    return sorted(dict(k)["state"] for k, v in series.items() if v == 1), len(series)


# ------------------------------------------------------------------ the parts


def command_line(t, zf, a):
    hd = g.Healthd(t)
    r = hd.run("--zones", zf, "--gslbd", a.socket, "--http", "localhost:80", timeout=10)
    t.eq("--http with a name, not an address, exits 2", 2, r.status)
    t.like("... and says why", "--http", r.out)
    many = []
    for i in range(9):
        many += ["--http", "127.0.0.1:%d" % (20000 + i)]
    r = hd.run("--zones", zf, "--gslbd", a.socket, *many, timeout=10)
    t.eq("a ninth --http exits 2", 2, r.status)
    t.like("... at most 8", "at most 8", r.out)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        r = hd.run("--zones", zf, "--gslbd", a.socket, "--http",
                   "127.0.0.1:%d" % taken.getsockname()[1], timeout=10)
    finally:
        taken.close()
    t.eq("an --http port already taken exits 1", 1, r.status)
    t.like("... naming the address", r"127\.0\.0\.1:\d+", r.out)
    t.like("--version names libmicrohttpd", r"libmicrohttpd [0-9.]+\)", hd.run("--version").out)
    t.like("--help lists --http", r"(?m)^ +--http ADDR:PORT", hd.run("--help").out)


def endpoints(t, port):
    for host in ("127.0.0.1", "::1"):
        status, headers, body = prom.http_get(port, "/healthz", host=host)
        t.eq("/healthz answers 200 ok while probing (%s)" % host, (200, "ok\n"), (status, body))
    status, headers, body = prom.http_get(port, "/metrics")
    t.eq("/metrics answers 200", 200, status)
    t.eq("/metrics is the text format 0.0.4", "text/plain; version=0.0.4; charset=utf-8",
         headers.get("content-type"))
    status, _, body = prom.http_get(port, "/nothing/here")
    t.eq("an unknown path answers 404", 404, status)
    status, headers, _ = prom.http_get(port, "/metrics", method="POST")
    t.eq("POST is refused: 405", 405, status)
    t.eq("... with Allow: GET, HEAD", "GET, HEAD", headers.get("allow"))
    status, _, body = prom.http_get(port, "/metrics", method="HEAD")
    t.eq("HEAD /metrics answers 200 without a body", (200, ""), (status, body))


def promtool_check(t, port):
    r = t.run([g.ROOT / "tools" / "promtool.sh"], timeout=300)
    path = r.out.strip().splitlines()[-1] if r.status == 0 and r.out.strip() else ""
    if r.status != 0 or not path:
        t.not_ok("tools/promtool.sh finds promtool", *r.out.splitlines()[-10:])
        return
    status, _, body = prom.http_get(port, "/metrics")
    r = t.run([path, "check", "metrics"], input_text=body, timeout=60)
    t.eq("promtool check metrics passes on a live scrape", (0, ""), (r.status, r.out.strip()))


def families(t, m, socket_a, socket_missing):
    t.eq("gslb_healthd_targets counts the three members with a check", 3.0,
         prom.value(m, "gslb_healthd_targets"))
    t.eq("gslb_build_info names healthd", 1.0,
         prom.total(m, "gslb_build_info", daemon="healthd"))
    t.eq("gslb_up is 1", 1.0, prom.value(m, "gslb_up"))
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                 "process_open_fds", "process_start_time_seconds"):
        t.check("%s is served" % name, prom.value(m, name) is not None)
    t.eq("a member without a check has no series", {},
         prom.select(m, STATE, region="nocheck"))
    t.eq("connected to the recording gslbd", 1.0,
         prom.value(m, "gslb_healthd_gslbd_connected", socket=str(socket_a)))
    t.eq("not connected to the socket nobody serves", 0.0,
         prom.value(m, "gslb_healthd_gslbd_connected", socket=str(socket_missing)))
    t.eq("... and no report sent there", 0.0,
         prom.value(m, "gslb_healthd_reports_sent_total", socket=str(socket_missing)))
    for region, labels in (("web", {"check": "web", "type": "http"}),
                           ("tcp", {"check": "tcp", "type": "tcp"})):
        key = dict(zone="hm.test", region=region, member="127.0.0.1" if region == "web" else
                   "192.0.2.1", result="ok", reason="", **labels)
        t.check("probes_total has the labels zone, region, member, check, type, result, "
                "reason (%s)" % region, prom.value(m, PROBES, **key) is not None,
                "no series %s" % key)


def exact_counts(t, port, nginx):
    counter = lambda: nginx_probes(nginx)  # noqa: E731
    between_probes(counter)
    m1, n1 = steady_scrape(port, counter)
    ok1 = probes(m1, "web", "ok", "")
    t.eq("ok probes of the http check = the probes nginx logged", n1, ok1)
    t.eq("... and no failure of it", 0, probes(m1, "web", "fail"))
    time.sleep(3.0)  # three intervals later, at the same phase
    m2, n2 = steady_scrape(port, counter)
    ok2 = probes(m2, "web", "ok", "")
    if WRAPPED:  # valgrind may delay a probe past the phase of the scrape
        t.compare("ok probes rise by 3 (+-1 under a wrapper) in 3 intervals of 1 s",
                  abs(ok2 - ok1 - 3), "<=", 1)
    else:
        t.eq("ok probes rise by exactly 3 in 3 intervals of 1 s", 3, ok2 - ok1)
    t.eq("... as nginx's log does", n2 - n1, ok2 - ok1)
    t.eq("the tcp check passes every probe", 0, probes(m2, "tcp", "fail"))
    return m2


def histogram(t, m):
    for typ in ("http", "tcp", "https"):
        count = prom.value(m, DURATION + "_count", type=typ)
        t.eq("duration histogram count = probes of type %s" % typ,
             prom.total(m, PROBES, type=typ), count)
        buckets = sorted((float(dict(k)["le"]), v)
                         for k, v in prom.select(m, DURATION + "_bucket", type=typ).items())
        t.check("%s buckets: 1 ms .. 10 s and +Inf, cumulative, +Inf = count" % typ,
                len(buckets) == 14 and buckets[0][0] == 0.001 and buckets[-2][0] == 10 and
                buckets[-1] == (float("inf"), count) and
                all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets)
    t.compare("the probes took some time (sum > 0)",
              prom.value(m, DURATION + "_sum", type="http"), ">", 0)
    t.compare("... but no http probe took longer than its 500 ms timeout + 100 ms",
              prom.value(m, DURATION + "_bucket", type="http", le="1"), "==",
              prom.value(m, DURATION + "_count", type="http"))


def refused(t, hd, port, ports):
    pattern = ("hm.test closed 127.0.0.1: probe of 127.0.0.1:%d failed: refused \\("
               % ports["closed"])
    counter = lambda: log_count(hd, pattern)  # noqa: E731
    between_probes(counter)
    m, logged = steady_scrape(port, counter)
    t.compare("probes of the refused port were logged", logged, ">=", 2)
    t.eq("failed probes counted with reason refused = those logged", logged,
         probes(m, "closed", "fail", "refused"))
    t.eq("... no other reason", logged, probes(m, "closed", "fail"))
    t.eq("... and none ok", 0, probes(m, "closed", "ok"))
    t.eq("the refused member's state is down", (["down"], 3), state_of(m, "closed"))


def reports(t, port, a):
    counter = lambda: a.count(r"^\d+ MEMBER ")  # noqa: E731
    m, received = steady_scrape(port, counter)
    t.compare("the recording gslbd got member states", received, ">=", 3)
    t.eq("reports_sent_total = the MEMBER lines gslbd received", received,
         prom.value(m, "gslb_healthd_reports_sent_total", socket=str(a.socket)))


def flip(t, port, nginx, a):
    m = prom.scrape(port)
    t.eq("the web member's state is up", (["up"], 3), state_of(m, "web"))
    nginx.fail()
    down = a.wait_line(r"^\d+ MEMBER hm\.test web 127\.0\.0\.1 down reason=status 503$", W)
    t.check("nginx answering 503 takes the member down (report)", down)
    m = prom.scrape(port)
    t.eq("... and the state gauge says down at once", (["down"], 3), state_of(m, "web"))
    counter = lambda: nginx_probes(nginx, 503)  # noqa: E731
    between_probes(counter)
    m, n503 = steady_scrape(port, counter)
    t.eq("failures counted with reason 'status 503' = the 503s nginx logged", n503,
         probes(m, "web", "fail", "status 503"))
    nginx.heal()
    up = a.wait_line(r"^\d+ MEMBER hm\.test web 127\.0\.0\.1 up reason=status 200$", W, count=2)
    t.check("healed, the member comes back up (report)", up)
    m = prom.scrape(port)
    t.eq("... and the state gauge says up again", (["up"], 3), state_of(m, "web"))


def reload(t, hd, port, zf, ports):
    before = prom.scrape(port)
    ok_before = probes(before, "web", "ok", "")
    mark = hd.mark()
    t.write(zf.relative_to(t.tmp), zone_text(ports, web_check="web2", closed=False, later=True))
    hd.reload()
    w = hd.wait_log(r"reloaded: probing 3 targets in 1 zones \(1 added, 1 removed, 2 kept\)",
                    W, since=mark)
    t.check("the reload renames a check, removes a region and adds one", w)
    m = prom.scrape(port)
    t.eq("gslb_healthd_targets after the reload", 3.0, prom.value(m, "gslb_healthd_targets"))
    t.compare("a renamed check keeps its targets' counts (not reset)",
              probes(m, "web", "ok", "", check="web2"), ">=", ok_before)
    t.eq("... under the new name only", 0, len(prom.select(m, PROBES, check="web")))
    t.eq("a removed target's series are gone", ({}, {}),
         (prom.select(m, PROBES, region="closed"), prom.select(m, STATE, region="closed")))
    t.eq("a new target (rise 2, every 5 s) starts unknown", (["unknown"], 3),
         state_of(m, "later"))


def lag(t, hd, port):
    m = prom.scrape(port)
    last = prom.value(m, "gslb_healthd_loop_lag_seconds")
    top = prom.value(m, "gslb_healthd_loop_lag_max_seconds")
    t.check("the loop lag is measured and small (< 250 ms, max < 1 s)",
            last is not None and top is not None and 0 <= last < 0.25 and 0 <= top < 1,
            "lag %r, max %r" % (last, top))
    hd.stall(0.8)
    w = g.until(lambda: prom.value(prom.scrape(port), "gslb_healthd_loop_lag_max_seconds")
                >= 0.6, 3)
    t.check("a stall of 0.8 s shows in the lag's maximum (>= 0.6 s)", w,
            "max %r" % prom.value(prom.scrape(port), "gslb_healthd_loop_lag_max_seconds"))
    time.sleep(0.3)
    t.compare("... while the latest lag is small again",
              prom.value(prom.scrape(port), "gslb_healthd_loop_lag_seconds"), "<", 0.25)


def run(t):
    nginx = g.Nginx(t, "web")
    if not t.start(nginx):
        t.bail("nginx starts", *nginx.why)
    a = g.FakeGslbd(t, "gslbd-a")
    if not t.start(a):
        t.bail("the recording control socket starts", *a.why)
    missing = t.path("nobody.sock")
    ports = {"nginx": nginx.port, "closed": g.free_port()}
    zf = t.write("zones/hm.test.yaml", zone_text(ports))
    command_line(t, zf, a)

    port = g.free_port()
    hd = g.Healthd(t, "healthd", zones=zf.parent, gslbd=[a.socket, missing],
                   args=["--verbose", "--http", "127.0.0.1:%d" % port, "--http",
                         "[::1]:%d" % port])
    if not t.start(hd):
        t.bail("healthd starts with --http", *hd.why)
    a.wait_line(r"^\d+ MEMBER hm\.test web 127\.0\.0\.1 up", W)
    endpoints(t, port)
    promtool_check(t, port)
    families(t, prom.scrape(port), a.socket, missing)
    m = exact_counts(t, port, nginx)
    histogram(t, m)
    refused(t, hd, port, ports)
    reports(t, port, a)
    flip(t, port, nginx, a)
    reload(t, hd, port, zf, ports)
    lag(t, hd, port)
    t.eq("SIGTERM stops healthd with status 0", 0, hd.stop())
    t.check("... and the listener is closed", not listening(port))


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    with g.Test(__file__) as test:
        run(test)
