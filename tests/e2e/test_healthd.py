#!/usr/bin/env python3
"""test_healthd.py: bin/healthd against real HTTP(S) and TCP servers on loopback.

The backends are gslbtest Backends (gslbtest/stubs.py: one process per port, its
behaviour read from a mode file on every connection: a status code, a body, hang, drip
one byte a second, close at once; https with a self-signed certificate made here with
openssl). Two stand-ins for gslbd's control socket (gslbtest FakeGslbd) record every line
healthd sends. Asserted: the readiness line, HELLO / MEMBER / SYNCED on connection, up
and down transitions with their reasons within interval * rise|fall + 1 s (+ the timeout
for slow backends), that hanging and dripping backends time out without holding up other
probes, Host and SNI, TLS verification on and off, tcp checks, PINGs, reconnection with
the full state, reloads on file change and SIGHUP (kept targets keep their state, broken
files keep the old targets), stalls and CPU starvation (SIGSTOP) that must not take
members down, and a clean stop.

Not here: gslbd's handling of the reports (gslbd's own tests, test_healthd_gslbd.py).
Traffic goes to 127.0.0.1 and ::1 only; every wait is bounded.
"""

import os
import re
import shutil
import time

import gslbtest as g

N_TARGETS = 11

# Under a wrapper (valgrind) the first probes are slow enough to time out, so the first
# transitions get more time there. For the same reason a member may first go down for a
# timeout there, and a later failure for the real reason is no state change: the reason
# of those first down lines is only checked without a wrapper (see why()).
WRAPPED = bool(g.wrapper())
W = 10 if WRAPPED else 3


def why(reason):
    return ".*" if WRAPPED else reason


# ------------------------------------------------------------------ helpers


def text_of(source):
    """What a FakeGslbd recorded, or a daemon's log."""
    return source.text() if isinstance(source, g.FakeGslbd) else source.log()


def matching(source, pattern):
    """The lines of `source` that match the regular expression."""
    rx = re.compile(pattern)
    return [line for line in text_of(source).splitlines() if rx.search(line)]


def expect_count(t, name, source, pattern, count, seconds):
    """At least `count` lines of `source` match within `seconds`: one assertion, the time
    it took in its name. Returns the Waited."""
    w = g.until(lambda: len(matching(source, pattern)) >= count, seconds)
    if w:
        t.ok("%s (after %d ms)" % (name, w.ms))
    else:
        t.not_ok(name, "%d lines matching %s, wanted %d, within %s s; last lines:"
                 % (len(matching(source, pattern)), pattern, count, seconds),
                 *text_of(source).splitlines()[-15:])
    return w


def expect_line(t, name, source, pattern, seconds):
    """A line of `source` matches within `seconds` (the shell suite's expect_line)."""
    return expect_count(t, name, source, pattern, 1, seconds)


def zone_text(ports, extra="", tcp_pool=None):
    """The zone: one region per behaviour. Intervals are short so the test is quick."""
    if tcp_pool is None:
        tcp_pool = ('[{address: 192.0.2.1, probe: "127.0.0.1:%d"}, '
                    '{address: 192.0.2.2, probe: "[::1]:%d"}]' % (ports["http"],
                                                                    ports["closed"]))
    return """\
zone: hc.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
regions:
  flip:   {{location: [50, 0], pool: [127.0.0.1, "::1"], check: web}}
  body:   {{location: [50, 1], pool: [127.0.0.1], check: web-body}}
  host:   {{location: [50, 2], pool: [127.0.0.1], check: web-host}}
  hang:   {{location: [50, 3], pool: [127.0.0.1], check: hang}}
  drip:   {{location: [50, 4], pool: ["::1"], check: drip}}
  closed: {{location: [50, 5], pool: [127.0.0.1], check: closed}}
  tls-off: {{location: [50, 6], pool: [127.0.0.1], check: tls-off}}
  tls-on:  {{location: [50, 7], pool: ["::1"], check: tls-on}}
  tcp:    {{location: [50, 8], pool: {tcp_pool}, check: tcp}}
  nocheck: {{location: [50, 9], pool: [127.0.0.1]}}
{extra}
checks:
  web:      {{type: http, port: {http}, path: /health, interval: 500ms, timeout: 300ms, rise: 2, fall: 2}}
  web-body: {{type: http, port: {http}, body: healthy, interval: 500ms, timeout: 300ms, rise: 2, fall: 2}}
  web-host: {{type: http, port: {http}, host: www.test, body: "host=www.test", interval: 1s, timeout: 500ms, rise: 1, fall: 1}}
  hang:     {{type: http, port: {hang}, interval: 1s, timeout: 500ms, rise: 1, fall: 2}}
  drip:     {{type: http, port: {drip}, interval: 1s, timeout: 500ms, rise: 1, fall: 2}}
  closed:   {{type: http, port: {closed}, interval: 1s, timeout: 500ms, rise: 1, fall: 1}}
  tls-off:  {{type: https, port: {tls}, sni: www.test, tls_verify: false, body: "sni=www.test", interval: 1s, timeout: 500ms, rise: 1, fall: 1}}
  tls-on:   {{type: https, port: {tls}, host: www.test, tls_verify: true, interval: 1s, timeout: 500ms, rise: 1, fall: 1}}
  tcp:      {{type: tcp, port: 1, interval: 1s, timeout: 500ms, rise: 1, fall: 1}}
  spare:    {{type: http, port: {spare}, interval: 500ms, timeout: 300ms, rise: 1, fall: 1}}
services:
  www: {{regions: [flip, body, host, hang, drip, closed, tls-off, tls-on, tcp, nocheck]}}
""".format(tcp_pool=tcp_pool, extra=extra, **ports)


def slow_zone_text(port):
    """Eight members on one backend that answers in 1.2 s (timeout 1.5 s, interval 2 s)."""
    pool = ", ".join('{address: 192.0.2.%d, probe: "127.0.0.1:%d"}' % (i, port)
                     for i in range(1, 9))
    return ("zone: slow.test\nsoa: {mname: ns.slow.test, rname: h.slow.test}\n"
            "ns: [ns.slow.test]\nrecords: {ns: {A: 192.0.2.1}}\nregions:\n"
            "  r: {location: [0, 0], check: slow, pool: [%s]}\nchecks:\n"
            "  slow: {type: http, path: /health, interval: 2s, timeout: 1500ms, rise: 1, "
            "fall: 2}\n" % pool)


def need(t, daemon, name=None):
    """Start a helper the suite cannot do without; bail when it does not start."""
    if not t.start(daemon):
        t.bail(name or "%s starts" % daemon.name, *daemon.why)
    return daemon


# ------------------------------------------------------------------ the parts


def command_line(t, zf, a):
    hd = g.Healthd(t)
    r = hd.run("--zones", zf, timeout=10)
    t.eq("no --gslbd exits 2", 2, r.status)
    t.like("no --gslbd says so", "at least one --gslbd", r.out)
    bad = t.write("bad/hc.test.yaml", "zone: hc.test\nbogus: 1\n")
    r = hd.run("--zones", bad, "--gslbd", a.socket, timeout=10)
    t.eq("a broken zone at start-up exits 1", 1, r.status)
    t.like("start-up errors are file:line:col", "^%s:2:1: error: .*bogus" % re.escape(str(bad)),
           r.out)
    t.like("--version names libcurl", r"^healthd [0-9.]+ \(libcurl/", hd.run("--version").out)


def first_reports(t, hd, a, b, ports):
    t.like("readiness line", "^healthd: info: ready: probing %d targets in 1 zones, "
           "reporting to 2 gslbd$" % N_TARGETS,
           "\n".join(line for line in hd.log().splitlines() if "ready:" in line))
    expect_line(t, "gslbd A gets HELLO first", a, "^1 HELLO healthd 4$", 3)
    lines = a.lines()
    t.eq("HELLO is the first line", "1 HELLO healthd 4", lines[1] if len(lines) > 1 else "")
    expect_line(t, "gslbd A gets SYNCED with the smallest interval", a, "^1 SYNCED 500$", 3)
    expect_line(t, "gslbd B gets HELLO and SYNCED too", b, "^1 SYNCED 500$", 3)

    # Transitions from unknown: rise 2 at 500 ms for flip; every first probe starts
    # within one interval of start-up.
    for name, line in (
            ("flip 127.0.0.1 up within interval*(rise+1) + 1 s",
             "flip 127.0.0.1 up reason=status 200$"),
            ("flip ::1 up (IPv6 member)", "flip ::1 up reason=status 200$"),
            ("body check up when the body holds the text",
             "body 127.0.0.1 up reason=status 200$"),
            ("Host header sent (host=www.test in the body)",
             "host 127.0.0.1 up reason=status 200$"),
            ("refused port is down: refused", "closed 127.0.0.1 down reason=%s$" % why("refused")),
            ("https with tls_verify false and SNI (sni=www.test in the body) is up",
             "tls-off 127.0.0.1 up reason=status 200$"),
            ("https with tls_verify true and a self-signed certificate is down: TLS error",
             "tls-on ::1 down reason=%s" % why("TLS error: .*self.signed")),
            ("tcp check up", "tcp 192.0.2.1 up reason=connected$"),
            ("tcp check to a closed port: refused",
             "tcp 192.0.2.2 down reason=%s$" % why("refused"))):
        expect_line(t, name, a, "^1 MEMBER hc.test " + line, W)
    # Slow backends: fall 2 at 1 s with a 500 ms timeout: down by 2 intervals + timeout
    # + 1 s after start.
    expect_line(t, "hanging backend down: timeout", a,
                "^1 MEMBER hc.test hang 127.0.0.1 down reason=timeout$", W + 1)
    expect_line(t, "dripping backend down: timeout", a,
                "^1 MEMBER hc.test drip ::1 down reason=timeout$", W + 1)
    t.like("failed probes are logged at debug level with their reason",
           "debug: hc.test hang 127.0.0.1: probe of 127.0.0.1:%d failed: timeout"
           % ports["hang"], hd.log())
    t.like("state changes are logged at info level",
           r"info: hc.test closed 127.0.0.1: down \(%s, 1 failure\)" % why("refused"),
           hd.log())
    t.unlike("members of regions without a check are never reported", "nocheck", a.text())
    if not WRAPPED:
        t.unlike("no probe was skipped for still running (timeouts fire before the next "
                 "interval)", "still running", hd.log())


def transitions(t, hd, a, b, http):
    # Down: fall 2 at 500 ms = 1 s, plus up to one interval of phase, plus 1 s.
    http.set("503")
    w = expect_line(t, "503 turns flip 127.0.0.1 down within interval*fall + 1.5 s", a,
                    "^1 MEMBER hc.test flip 127.0.0.1 down reason=status 503$", 3)
    t.compare("... and within 2.5 s", w.ms, "<=", 2500)
    expect_line(t, "the body check goes down too, for the status", a,
                "^1 MEMBER hc.test body 127.0.0.1 down reason=status 503$", 3)
    expect_line(t, "gslbd B gets the same change", b,
                "^1 MEMBER hc.test flip 127.0.0.1 down reason=status 503$", 3)
    t.like("down logged with reason and count",
           r"info: hc.test flip 127.0.0.1: down \(status 503, 2 failures\)", hd.log())

    http.set("200")
    w = expect_count(t, "flip comes back up within interval*rise + 1.5 s", a,
                     "^1 MEMBER hc.test flip 127.0.0.1 up reason=status 200$", 2, 3)
    t.compare("... and within 2.5 s", w.ms, "<=", 2500)
    expect_count(t, "the body check comes back up", a,
                 "^1 MEMBER hc.test body 127.0.0.1 up reason=status 200$", 2, 3)

    # Status 200 without the text: only the check with a body goes down.
    http.set("body all fine")
    expect_line(t, "a body without the text: body mismatch", a,
                "^1 MEMBER hc.test body 127.0.0.1 down reason=body mismatch$", 3)
    time.sleep(1)
    t.eq("flip 127.0.0.1 reported up exactly twice so far", 2,
         a.count("^1 MEMBER hc.test flip 127.0.0.1 up"))
    t.eq("a state is reported once, not on every probe", 1,
         a.count("^1 MEMBER hc.test body 127.0.0.1 down reason=body mismatch"))

    http.set("301")
    expect_line(t, "a 3xx is not followed: status 301 is a failure", a,
                "^1 MEMBER hc.test flip 127.0.0.1 down reason=status 301$", 3)
    http.set("200")
    expect_count(t, "back up after 301", a,
                 "^1 MEMBER hc.test flip 127.0.0.1 up reason=status 200$", 3, 4)
    expect_count(t, "the body check back up too", a,
                 "^1 MEMBER hc.test body 127.0.0.1 up reason=status 200$", 3, 4)

    pings = a.count("^1 PING$")
    time.sleep(2.2)
    t.compare("a PING every second", a.count("^1 PING$") - pings, ">=", 2)


FULL_STATE = sorted([
    "MEMBER hc.test body 127.0.0.1 up", "MEMBER hc.test closed 127.0.0.1 down",
    "MEMBER hc.test drip ::1 down", "MEMBER hc.test flip 127.0.0.1 up",
    "MEMBER hc.test flip ::1 up", "MEMBER hc.test hang 127.0.0.1 down",
    "MEMBER hc.test host 127.0.0.1 up", "MEMBER hc.test tcp 192.0.2.1 up",
    "MEMBER hc.test tcp 192.0.2.2 down", "MEMBER hc.test tls-off 127.0.0.1 up",
    "MEMBER hc.test tls-on ::1 down"])


def first_sync(lines):
    """The MEMBER lines of connection 1 from its HELLO to its SYNCED, as "MEMBER ZONE
    REGION ADDRESS STATE" (the reason cut off), sorted."""
    out, inside = [], False
    for line in lines:
        if line.startswith("1 HELLO"):
            inside = True
        if inside and line.startswith("1 MEMBER"):
            out.append(" ".join(line.split(" ")[1:6]))
        if inside and line.startswith("1 SYNCED"):
            break
    return sorted(out)


def reconnection(t, hd, a, b):
    a.stop()
    time.sleep(2.5)
    a2 = need(t, g.FakeGslbd(t, "gslbd-a2", socket_path=a.socket))
    expect_line(t, "a restarted gslbd gets HELLO again", a2, "^1 HELLO healthd 4$", 3)
    expect_line(t, "... then SYNCED", a2, "^1 SYNCED 500$", 3)
    sock = re.escape(str(a.socket))
    t.eq("the outage is logged once, not every second", 1,
         len(matching(hd, "warning: gslbd %s: " % sock)))
    t.like("the reconnection is logged", "gslbd %s: connected again after" % sock, hd.log())
    # The full state: every member with a known state, between HELLO and SYNCED.
    t.eq("the full state is sent again on reconnection", "\n".join(FULL_STATE),
         "\n".join(first_sync(a2.lines())))
    t.like("re-sent lines keep their reasons",
           "^1 MEMBER hc.test hang 127.0.0.1 down reason=timeout$", a2.text())
    t.like("... the latest one that agrees with the state",
           "^1 MEMBER hc.test tls-on ::1 down reason=TLS error: .*self.signed", a2.text())
    t.eq("gslbd B never saw a second connection", 0, b.count("^2 "))
    return a2


def reloads(t, hd, a2, zf, ports, spare):
    up_before = a2.count("MEMBER hc.test flip 127.0.0.1 up")
    # Add a region (a new target), drop the tcp region's second member.
    good = zone_text(ports, "  spare:  {location: [51, 0], pool: [127.0.0.1], check: spare}",
                     '[{address: 192.0.2.1, probe: "127.0.0.1:%d"}]' % ports["http"])
    t.write(zf.relative_to(t.tmp), good)
    expect_line(t, "a changed zone file is reloaded without a signal", hd,
                r"reloaded: probing %d targets in 1 zones \(1 added, 1 removed, 10 kept\)"
                % N_TARGETS, 4)
    expect_line(t, "the new target reports within interval*rise + 1 s", a2,
                "^1 MEMBER hc.test spare 127.0.0.1 up reason=status 200$", 3)
    time.sleep(1.2)
    t.eq("kept targets keep their state: flip is not reported again", up_before,
         a2.count("MEMBER hc.test flip 127.0.0.1 up"))

    broken = good + "bogus: 1\n"
    bad_line = broken.count("\n")
    t.write(zf.relative_to(t.tmp), broken)
    hd.reload()
    expect_line(t, "a broken reload prints file:line:col", hd,
                "^%s:%d:1: error: .*bogus" % (re.escape(str(zf)), bad_line), 4)
    expect_line(t, "... and keeps the previous targets", hd,
                "reload failed: still probing the previous %d targets" % N_TARGETS, 3)
    spare.set("503")
    expect_line(t, "targets are still probed after a failed reload", a2,
                "^1 MEMBER hc.test spare 127.0.0.1 down reason=status 503$", 3)
    t.write(zf.relative_to(t.tmp), good)
    expect_line(t, "a fixed file reloads", hd,
                r"\(0 added, 0 removed, %d kept\)" % N_TARGETS, 4)


def stalled(t, hd, a2):
    # Stopped for 1.5 s, healthd finds every timer late: probes that can no longer end
    # before their next slot are skipped (and it says so), so a stall costs at most the
    # one failure of a probe that was in flight.
    flip_downs = a2.count("MEMBER hc.test flip 127.0.0.1 down")
    hd.stall(1.5)
    expect_line(t, "a stalled loop is reported", hd, "warning: probes run late .*skipping them",
                3)
    time.sleep(2)
    t.eq("a stall does not take fall-2 members down", flip_downs,
         a2.count("MEMBER hc.test flip 127.0.0.1 down"))


def starved(t):
    # Probes in flight while healthd gets no CPU: their replies arrive in time but wait
    # unread, and curl would call them timeouts. Eight targets on a backend that answers
    # in 1.2 s (timeout 1.5 s, interval 2 s) keep about five probes in flight at any
    # moment, so each 1.6 s stall catches some. Those timeouts must not count: no member
    # may go down, and healthd must say why.
    slow = need(t, g.Backend(t, "slow", mode="slow 1200"))
    s = need(t, g.FakeGslbd(t, "gslbd-s"))
    sdir = t.write("slowzone/slow.test.yaml", slow_zone_text(slow.port)).parent
    shd = need(t, g.Healthd(t, "healthd-slow", zones=sdir, gslbd=[s.socket]),
               "healthd starts for the starved-loop test")
    expect_line(t, "eight slow members come up", s, "MEMBER slow.test r 192.0.2.8 up", 6)
    time.sleep(1)
    for _ in range(3):
        shd.stall(1.6)
        time.sleep(0.6)
    time.sleep(2.5)
    t.eq("a starved loop takes no member down (timeouts across a stall are not counted)", 0,
         s.count("MEMBER slow.test r .* down"))
    expect_line(t, "a starved loop is reported", shd, "warning: healthd was starved of CPU", 2)
    shd.stop()


def main(t):
    hd = g.Healthd(t)
    if not os.access(hd.binary, os.X_OK):
        t.bail("healthd binary present", "no executable at %s (make bin/healthd)" % hd.binary)
    if not shutil.which("openssl"):
        t.bail("openssl present", "the https tests need openssl")
    tls = g.self_signed(t, "www.test")
    if tls is None:
        t.bail("self-signed certificate made", "openssl req failed")

    modes = {"http": "200", "hang": "hang", "drip": "drip", "tls": "200", "spare": "200"}
    backends = {name: g.Backend(t, name, mode=mode, tls=tls if name == "tls" else None)
                for name, mode in modes.items()}
    ports = {name: b.port for name, b in backends.items()}
    ports["closed"] = g.free_port()  # nothing listens here: connections are refused
    for b in backends.values():
        need(t, b)
    a = need(t, g.FakeGslbd(t, "gslbd-a"))
    b = need(t, g.FakeGslbd(t, "gslbd-b"))

    zf = t.write("zones/hc.test.yaml", zone_text(ports))
    command_line(t, zf, a)

    hd = need(t, g.Healthd(t, "healthd", zones=zf.parent, gslbd=[a.socket, b.socket],
                           args=["--verbose"]), "healthd starts")
    first_reports(t, hd, a, b, ports)
    transitions(t, hd, a, b, backends["http"])
    a2 = reconnection(t, hd, a, b)
    reloads(t, hd, a2, zf, ports, backends["spare"])
    stalled(t, hd, a2)
    starved(t)

    t.eq("SIGTERM stops healthd with status 0", 0, hd.stop())
    last = (hd.log().splitlines() or [""])[-1]
    t.like("stop is logged", "info: stopped$", last)
    expect_line(t, "gslbd sees the connection close", a2, "^1 CLOSED$", 5)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
