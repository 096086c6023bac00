#!/usr/bin/env python3
"""test_healthd_gslbd.py: bin/healthd reporting to the real bin/gslbd.

Two regions in failover order, each one member whose health check goes to a small HTTP
server on loopback (a gslbtest Backend, its status set from the test). Asserted through
DNS answers: the primary answers while healthy, the backup within interval * fall + 1 s
of the primary returning 503, the primary again after it recovers, and a restarted gslbd
answers from the state healthd sends it on reconnection, without waiting for a change.

Not here: healthd's own checks and protocol details (test_healthd.py), and gslbd's
handling of stale or conflicting reports (gslbd's tests). Skipped when bin/gslbd has no
--control. Traffic goes to 127.0.0.1 only.
"""

import gslbtest as g

ZONE = """\
zone: hc.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
regions:
  primary: {{location: [50, 0], pool: [{{address: 192.0.2.1, probe: "127.0.0.1:{p1}"}}], check: web}}
  backup:  {{location: [40, 0], pool: [{{address: 192.0.2.2, probe: "127.0.0.1:{p2}"}}], check: web}}
checks:
  web: {{type: http, path: /health, interval: 500ms, timeout: 300ms, rise: 2, fall: 2}}
services:
  www: {{regions: [primary, backup], policy: failover, ttl: 5}}
"""


def short(srv):
    """What `dig +short www.hc.test A` prints: the answer's addresses, one a line ("" when
    there is no reply)."""
    r = srv.query("www.hc.test", "A", timeout=2)
    return "\n".join(rd.to_text() for _, _, rd in r.section("answer")) if r.parsed else ""


def expect_www(t, srv, name, address, seconds):
    """Ask every 0.2 s (bounded by `seconds`, plus the half second the shell's dig runs
    added) until www.hc.test answers `address`; the wait goes in the name. The Waited."""
    seen = []

    def answers():
        seen.append(short(srv))
        return seen[-1] == address

    w = g.until(answers, seconds + 0.5, every=0.2)
    t.check("%s (after %d ms)" % (name, w.ms) if w else name, w,
            "www.hc.test A: expected %s within %s s, got: %s" % (address, seconds, seen[-1]))
    return w


def expect_line(t, daemon, name, pattern, seconds):
    t.check(name, daemon.wait_log(pattern, seconds),
            "no line matching %s in %s:" % (pattern, daemon.log_path.name),
            *daemon.log().splitlines()[-10:])


def main(t):
    srv = g.Gslbd(t, "gslbd")
    if "--control" not in srv.run("--help").out:
        t.skip("healthd and gslbd together", "bin/gslbd has no --control")
        return
    p1, p2 = g.Backend(t, "http-1"), g.Backend(t, "http-2")
    for b in (p1, p2):
        if not t.start(b):
            t.bail("%s starts" % b.name, *b.why)
    zone = t.write("hc.test.yaml", ZONE.format(p1=p1.port, p2=p2.port))
    ctl = t.path("ctl.sock")
    srv = g.Gslbd(t, "gslbd", zones=zone, addresses=("127.0.0.1",),
                  args=["--threads", 1, "--control", ctl])
    if not t.start(srv):
        t.bail("gslbd starts with --control", *srv.why)
    hd = g.Healthd(t, "healthd", zones=zone, gslbd=[ctl])
    if not t.start(hd):
        t.bail("healthd starts", *hd.why)

    expect_line(t, hd, "healthd connects to gslbd", "gslbd %s: connected" % ctl, 3)
    expect_line(t, srv, "gslbd hears that the primary is up", r"primary 192\.0\.2\.1.* up", 4)
    expect_www(t, srv, "the healthy primary answers", "192.0.2.1", 3)

    p1.set("503")
    w = expect_www(t, srv, "the backup answers within interval*fall + 1 s of the primary "
                   "failing", "192.0.2.2", 4)
    t.compare("... measured", w.ms, "<=", 2500)

    # gslbd restarts while the primary is down: it must answer the backup at once from
    # healthd's full state, not the primary (unknown counts as up).
    srv.stop()
    srv = srv.twin("gslbd2")
    if not t.start(srv):
        t.bail("gslbd restarts", *srv.why)
    expect_line(t, hd, "healthd reconnects to the restarted gslbd",
                "gslbd %s: connected again" % ctl, 4)
    expect_www(t, srv, "the restarted gslbd answers the backup from the re-sent state",
               "192.0.2.2", 2)

    p1.set("200")
    expect_www(t, srv, "the primary answers again after rise successes", "192.0.2.1", 4)

    t.eq("healthd stops with status 0", 0, hd.stop())
    t.eq("gslbd stops with status 0", 0, srv.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
