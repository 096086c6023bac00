#!/usr/bin/env python3
"""test_logging.py: where gslbd's and healthd's lines go and what they say.

The three destinations of common/log.h, each with the real daemons: stderr, every line
after an ISO 8601 UTC time with milliseconds; systemd's journal, told by JOURNAL_STREAM
naming stderr (here a file the test makes and names), "<N>" priorities and no time;
--syslog, datagrams in syslog(3)'s form read from a /dev/log of the test's own (a Unix
socket bound over /dev/log in a mount namespace, `unshare -m`; skipped with the reason
without one). gslbctl and --check print plain lines. Then the lines that say a service has
stopped answering by health: real healthd probing real HTTP servers on 127.0.0.1 (gslbtest
Backends) turned to 503 and back, and gslbctl overrides, each mode of on_all_down seen in
the log and in the answers, transitions only, and the cap on lines for one change.

Not here: the per-packet rate limit of log lines (test_rrl.py), the texts of zone errors
(test_reload.py). Traffic goes to 127.0.0.1 and ::1 only; every wait is bounded.
"""

import datetime
import os
import re
import shlex
import socket
import time

import gslbtest as g

STAMP = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"
LEVEL = r"(error|warning|info|debug)"

# A region no service uses: one warning at start, to see a warning's form.
IDLE = "  idle: {location: [48.86, 2.35], pool: [192.0.2.99]}\n"


def zone_with_idle():
    text = g.EXAMPLE_ZONE
    marker = "regions:"
    assert marker in text
    return text.replace(marker + "\n", marker + "\n" + IDLE, 1)


def idle_line(text):
    """The line number of the idle region in a zone text."""
    return 1 + next(i for i, line in enumerate(text.splitlines()) if line.startswith("  idle:"))


# ------------------------------------------------------------------ stderr


def stderr_lines(t):
    text = zone_with_idle()
    zf = t.write("plain/gslb.example.com.yaml", text)
    srv = g.Gslbd(t, "plain", zones=zf)
    t.start(srv, "gslbd starts logging to a file", bail=True)
    raw = srv.log(raw=True).splitlines()
    bad = [line for line in raw
           if not re.match(r"^%s (gslbd: %s: |\S+:[0-9]+:[0-9]+: %s: )" % (STAMP, LEVEL, LEVEL),
                           line)]
    t.check("every stderr line starts with a UTC time, then 'gslbd: level:' or a "
            "file:line:col line", raw and not bad, *(bad or ["no lines"]))
    ready = next((line for line in raw if "ready:" in line), "")
    t.like("the ready line: time, program, level, text",
           r"^%s gslbd: info: ready: serving 1 zone" % STAMP, ready)
    m = re.match(r"^(\S+)Z ", ready)
    when = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc) if m else None
    now = datetime.datetime.now(datetime.timezone.utc)
    t.check("... in UTC, within a minute of now",
            when is not None and abs((now - when).total_seconds()) < 60,
            "line: %s" % ready, "now: %s" % now.isoformat())
    t.like("a file warning keeps its form after the time",
           r"(?m)^%s %s:%d:3: warning: region 'idle' is not used by any service" %
           (STAMP, re.escape(str(zf)), idle_line(text)), srv.log(raw=True))
    t.like("the harness hands the suites the line without the time",
           r"(?m)^gslbd: info: ready: serving", srv.log())

    ctl = g.Gslbctl(t, t.path("nowhere.sock")).run("status")
    t.like("gslbctl stays plain: 'gslbctl: error: ...' without a time",
           r"^gslbctl: error: cannot connect", ctl.out)
    x = t.run([g.procs.GSLBD, "--zones", zf, "--check"])
    t.eq("--check with a warning exits 0", 0, x.status)
    t.like("--check stays plain: file:line:col first",
           r"(?m)^%s:%d:3: warning: region 'idle'" % (re.escape(str(zf)), idle_line(text)),
           x.out)
    t.unlike("--check prints no time", STAMP, x.out)
    t.eq("SIGTERM exits 0", 0, srv.stop())

    fake = g.FakeGslbd(t, "fake-plain")
    t.start(fake, "a stand-in control socket for healthd", bail=True)
    hd = g.Healthd(t, "healthd-plain", zones=zf, gslbd=[fake.socket])
    t.start(hd, "healthd starts logging to a file", bail=True)
    t.like("healthd's lines carry the time too",
           r"(?m)^%s healthd: info: ready: probing" % STAMP, hd.log(raw=True))
    t.eq("healthd: SIGTERM exits 0", 0, hd.stop())


# ------------------------------------------------------------------ journal


def journal_daemon(t, name, argv, stream=None):
    """A daemon whose stderr is TMP/NAME.log with JOURNAL_STREAM naming that file (or
    `stream` when given): what systemd does with StandardError=journal."""
    log = t.path(name + ".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()
    st = os.stat(log)
    env = dict(os.environ, JOURNAL_STREAM=stream or "%d:%d" % (st.st_dev, st.st_ino))
    return g.Daemon(t, name, [str(a) for a in argv], ready=r"ready:", wrap=True,
                    sanitized=True, env=env)


def journal(t):
    text = zone_with_idle()
    zf = t.write("journal/gslb.example.com.yaml", text)
    port = g.free_port()
    argv = [g.procs.GSLBD, "--zones", zf, "--listen", "127.0.0.1:%d" % port]
    d = journal_daemon(t, "journal", argv)
    t.start(d, "gslbd starts with JOURNAL_STREAM naming its stderr", bail=True)
    raw = d.log(raw=True).splitlines()
    bad = [line for line in raw if not re.match(r"^<[3467]>", line)]
    t.check("every line starts with a priority <3>, <4>, <6> or <7> (sd-daemon(3))",
            raw and not bad, *(bad or ["no lines"]))
    t.like("info is <6>, without time or program name",
           r"(?m)^<6>info: ready: serving 1 zone", d.log(raw=True))
    t.like("a file warning is <4>, its file:line:col kept",
           r"(?m)^<4>%s:%d:3: warning: region 'idle'" % (re.escape(str(zf)), idle_line(text)),
           d.log(raw=True))
    t.unlike("no time under the journal", STAMP, d.log(raw=True))

    # An error: a broken file on SIGHUP.
    mark = d.mark()
    zf.write_text(text + "bogus: 1\n")
    d.reload()
    t.check("an error is <3>", d.wait_log(r"(?m)^<3>%s:[0-9]+:1: error: .*bogus" %
                                          re.escape(str(zf)), 5, since=mark),
            *d.log(since=mark, raw=True).splitlines()[-5:])
    t.check("... and that the previous version keeps serving is <3>, with its serial",
            d.wait_log(r"(?m)^<3>error: zone gslb\.example\.com: NOT reloaded \(1 error\): "
                       r"serial [0-9]+ keeps serving", 3, since=mark),
            *d.log(since=mark, raw=True).splitlines()[-5:])
    t.eq("SIGTERM exits 0", 0, d.stop())
    zf.write_text(text)

    other = journal_daemon(t, "journal-other", argv, stream="1:1")
    t.start(other, "gslbd starts with JOURNAL_STREAM naming another file", bail=True)
    t.like("... and logs with times: stderr is not the journal",
           r"(?m)^%s gslbd: info: ready:" % STAMP, other.log(raw=True))
    t.eq("SIGTERM exits 0", 0, other.stop())

    fake = g.FakeGslbd(t, "fake-journal")
    t.start(fake, "a stand-in control socket for healthd", bail=True)
    hd = journal_daemon(t, "healthd-journal", [g.procs.HEALTHD, "--zones", zf,
                                               "--gslbd", fake.socket])
    t.start(hd, "healthd starts with JOURNAL_STREAM naming its stderr", bail=True)
    t.like("healthd under the journal: <6>info: ready:", r"(?m)^<6>info: ready: probing",
           hd.log(raw=True))
    t.eq("healthd: SIGTERM exits 0", 0, hd.stop())


# ------------------------------------------------------------------ syslog

# Run the command given after it in a mount namespace where /dev is a small tmpfs holding
# the usual character devices and, as /dev/log, the test's socket ($1).
PRIVATE_DEVLOG = r"""
set -e
sock=$1; old=$2; shift 2
mount --make-rprivate /
mkdir -p "$old"
mount --rbind /dev "$old"
mount -t tmpfs -o mode=755 devlog /dev
for f in null zero full random urandom; do
    touch "/dev/$f"
    mount --bind "$old/$f" "/dev/$f"
done
touch /dev/log
mount --bind "$sock" /dev/log
exec "$@"
"""


def syslog_reader(t):
    """A datagram socket standing in for /dev/log: (socket, path)."""
    path = str(t.path("syslog.sock"))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.1)
    return s, path


def syslog_read(s, into):
    """Every datagram waiting, appended to `into` (text)."""
    while True:
        try:
            into.append(s.recv(65536).decode(errors="replace"))
        except (socket.timeout, BlockingIOError):
            return into


def syslog_wait(s, got, pattern, seconds):
    rx = re.compile(pattern)
    w = g.until(lambda: any(rx.search(m) for m in syslog_read(s, got)), seconds, every=0.1)
    return bool(w)


def syslog_case(t):
    if os.geteuid() != 0:
        t.skip("--syslog through a private /dev/log", "needs root for unshare -m")
        return
    probe = t.run(["unshare", "-m", "true"])
    if probe.status != 0:
        t.skip("--syslog through a private /dev/log", "unshare -m fails: " + probe.out.strip())
        return
    s, path = syslog_reader(t)
    text = zone_with_idle()
    zf = t.write("syslog/gslb.example.com.yaml", text)
    port = g.free_port()
    argv = ["unshare", "-m", "sh", "-c", PRIVATE_DEVLOG, "private-devlog", path,
            str(t.path("olddev"))] + g.wrapper() + [
                g.procs.GSLBD, "--zones", str(zf), "--listen", "127.0.0.1:%d" % port,
                "--syslog", "--control", str(t.path("syslog.ctl"))]
    d = g.Daemon(t, "syslog", argv, ready=None, wrap=False, sanitized=True)
    got = []
    t.check("gslbd --syslog starts", d.start(), *d.why)
    ready = syslog_wait(s, got, r"ready: serving", 10)
    t.check("gslbd --syslog: the ready line arrives at /dev/log", ready,
            "command: " + shlex.join(argv), "stderr:", d.log(raw=True), "got:", *got[-5:])
    if not ready:
        d.stop()
        return
    # glibc's form: <PRI>TIMESTAMP TAG[PID]: MESSAGE, PRI = facility * 8 + severity.
    line = next(m for m in got if "ready: serving" in m)
    t.like("ready: facility daemon (3), severity info (6): <30>, tag gslbd[PID]",
           r"^<30>[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} gslbd\[%d\]: info: ready: serving 1 zone"
           % d.pid, line)
    warn = next((m for m in got if "region 'idle'" in m), "")
    t.like("a file warning: <28>, file:line:col kept",
           r"^<28>.* gslbd\[[0-9]+\]: %s:%d:3: warning: region 'idle' is not used" %
           (re.escape(str(zf)), idle_line(text)), warn)
    r = g.Gslbctl(t, t.path("syslog.ctl")).run("down", "us-east")
    t.eq("gslbctl down us-east", 0, r.status)
    t.check("an override is logged through syslog at info (<30>)",
            syslog_wait(s, got, r"^<30>.*info: control: gslbctl .* set down on us-east", 3),
            *got[-3:])
    t.eq("nothing is written to stderr with --syslog", "", d.log(raw=True))
    mark = len(got)
    t.eq("SIGTERM exits 0", 0, d.stop())
    syslog_wait(s, got, r"info: stopped", 2)
    t.check("the stop is logged through syslog", any("info: stopped" in m for m in got[mark:]),
            *got[mark:])
    s.close()


# ------------------------------------------------------------------ services failing

SERVICES_ZONE = """\
zone: lg.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
regions:
  a: {{location: [50, 0], pool: [{{address: 192.0.2.1, probe: "127.0.0.1:{pa}"}}], check: web}}
  b: {{location: [40, 0], pool: [{{address: 192.0.2.2, probe: "127.0.0.1:{pb}"}}], check: web}}
checks:
  web: {{type: http, path: /health, interval: 300ms, timeout: 200ms, rise: 1, fall: 1}}
services:
  www: {{regions: [a, b], ttl: 30, min_ttl: 5}}
  fb:  {{regions: [a], fallback: b, ttl: 30, min_ttl: 5}}
  nd:  {{regions: [a, b], on_all_down: nodata}}
  sf:  {{regions: [a], on_all_down: servfail}}
"""


def addresses(srv, name):
    r = srv.query(name, "A")
    return r.rcode, sorted(rd.to_text() for _, _, rd in r.section("answer"))


def expect(t, srv, name, pattern, since, seconds=5):
    t.check(name, srv.wait_log(pattern, seconds, since=since),
            "no line matching %s since the mark:" % pattern,
            *srv.log(since=since).splitlines()[-8:])


def services_failing(t):
    ba, bb = g.Backend(t, "backend-a"), g.Backend(t, "backend-b")
    for b in (ba, bb):
        t.start(b, "HTTP backend %s on 127.0.0.1:%d" % (b.name, b.port), bail=True)
    zf = t.write("svc/lg.test.yaml", SERVICES_ZONE.format(pa=ba.port, pb=bb.port))
    ctl = t.path("svc.ctl")
    srv = g.Gslbd(t, "svc", zones=zf, args=["--control", ctl, "--sync-wait", 0])
    t.start(srv, "gslbd with four services starts", bail=True)
    hd = g.Healthd(t, "svc-healthd", zones=zf, gslbd=[ctl])
    t.start(hd, "healthd probing both backends starts", bail=True)
    t.check("both members reported up",
            srv.wait_log(r"health: lg\.test b 192\.0\.2\.2 is up", 5) and
            srv.wait_log(r"health: lg\.test a 192\.0\.2\.1 is up", 5), *srv.log().splitlines()[-5:])
    t.unlike("all up: no service is said to fail", r"service '", srv.log())

    mark = srv.mark()
    ba.set("503")
    expect(t, srv, "a down: fb says it answers from its fallback",
           r"(?m)^gslbd: warning: service 'fb' of lg\.test: no region is up for A: answering "
           r"from the fallback region 'b' whatever its health \(on_all_down fallback\), TTL 5$",
           mark)
    expect(t, srv, "a down: sf says it answers SERVFAIL",
           r"(?m)^gslbd: warning: service 'sf' of lg\.test: no region is up for A: answering "
           r"SERVFAIL \(on_all_down servfail\)$", mark)
    t.eq("... and fb answers b's address", ("NOERROR", ["192.0.2.2"]), addresses(srv, "fb.lg.test"))
    t.eq("... and sf answers SERVFAIL", "SERVFAIL", srv.query("sf.lg.test", "A").rcode)
    t.unlike("www and nd still have b: nothing said of them", r"service '(www|nd)'",
             srv.log(since=mark))

    mark = srv.mark()
    bb.set("503")
    expect(t, srv, "a and b down: www says it fails open",
           r"(?m)^gslbd: warning: service 'www' of lg\.test: no region is up for A: failing "
           r"open \(on_all_down open\), every region answers whatever its health, TTL 5$", mark)
    expect(t, srv, "a and b down: nd says it answers no addresses",
           r"(?m)^gslbd: warning: service 'nd' of lg\.test: no region is up for A: answering "
           r"no addresses \(on_all_down nodata\)$", mark)
    r = srv.query("www.lg.test", "A")
    t.check("... and www answers a region all the same, with min_ttl",
            r.rcode == "NOERROR" and r.count("answer") == 1 and
            all(ttl == 5 for _, ttl, _ in r.section("answer")), r.lines())
    t.eq("... and nd answers no addresses", ("NOERROR", []), addresses(srv, "nd.lg.test"))

    time.sleep(1.5)  # five more probes of each member, all failing
    log = srv.log(since=mark)
    t.check("transitions only: one line per service while they stay down",
            log.count("service 'www'") == 1 and log.count("service 'nd'") == 1 and
            "service 'fb'" not in log and "service 'sf'" not in log,
            *[line for line in log.splitlines() if "service '" in line])

    mark = srv.mark()
    ba.set("200")
    for name, was in (("www", "failing open"), ("nd", "answering no addresses"),
                      ("fb", "answering from its fallback"), ("sf", "answering SERVFAIL")):
        expect(t, srv, "a back: %s says it answers by health again (was %s)" % (name, was),
               r"(?m)^gslbd: info: service '%s' of lg\.test: a region is up for A again: "
               r"answering by health \(was %s\)$" % (name, was), mark)
    t.eq("... and fb answers a again", ("NOERROR", ["192.0.2.1"]), addresses(srv, "fb.lg.test"))
    bb.set("200")

    # An operator's override moves a service the same way.
    mark = srv.mark()
    r = g.Gslbctl(t, ctl).run("down", "a")
    t.eq("gslbctl down a", 0, r.status)
    expect(t, srv, "gslbctl down a: sf says SERVFAIL",
           r"(?m)^gslbd: warning: service 'sf' of lg\.test: .*SERVFAIL", mark)
    mark = srv.mark()
    g.Gslbctl(t, ctl).run("auto", "a")
    expect(t, srv, "gslbctl auto a: sf answers by health again",
           r"(?m)^gslbd: info: service 'sf' of lg\.test: a region is up for A again", mark)
    t.eq("healthd: SIGTERM exits 0", 0, hd.stop())
    t.eq("gslbd: SIGTERM exits 0", 0, srv.stop())


MANY_ZONE_HEAD = """\
zone: many.test
soa: {mname: ns1.example.net, rname: hostmaster.example.net}
ns: [ns1.example.net]
regions:
  only: {location: [50, 0], pool: [192.0.2.1]}
services:
"""


def many_services(t):
    text = MANY_ZONE_HEAD + "".join("  s%02d: {regions: [only]}\n" % i for i in range(25))
    zf = t.write("many/many.test.yaml", text)
    ctl = t.path("many.ctl")
    srv = g.Gslbd(t, "many", zones=zf, args=["--control", ctl])
    t.start(srv, "gslbd with 25 services on one region starts", bail=True)
    mark = srv.mark()
    t.eq("gslbctl down only", 0, g.Gslbctl(t, ctl).run("down", "only").status)
    w = srv.wait_log(r"\.\.\. and 5 more services changed how they answer", 5, since=mark)
    log = srv.log(since=mark)
    t.check("25 services fail open at once: 20 lines, then one that counts the other 5",
            w and log.count("failing open") == 20, "lines: %d" % log.count("failing open"),
            *log.splitlines()[-3:])

    # Flapping: at most 60 lines a minute. The minute began at start-up; so far 21 lines.
    # auto: 20 + 1 more (42); down: 18 of 25 (60, 7 left out); auto: 0 of 25 (32 left out).
    for cmd in ("auto", "down", "auto"):
        t.eq("gslbctl %s only" % cmd, 0, g.Gslbctl(t, ctl).run(cmd, "only").status)
        time.sleep(0.3)
    log = srv.log(since=mark)
    said = sum(1 for line in log.splitlines() if "service 's" in line or "... and" in line)
    t.check("a flapping region: at most 60 lines about services in the minute (60 here)",
            said == 60, "lines: %d" % said, *log.splitlines()[-3:])
    w = srv.wait_log(r"warning: 32 more changes of how services answer in the last minute were "
                     r"not logged \(at most 60 lines a minute\)", 70, since=mark)
    t.check("when the minute ends, one line counts the 32 changes it left out", w,
            *srv.log(since=mark).splitlines()[-3:])
    t.eq("gslbd: SIGTERM exits 0", 0, srv.stop())


def main(t):
    stderr_lines(t)
    journal(t)
    syslog_case(t)
    services_failing(t)
    many_services(t)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
