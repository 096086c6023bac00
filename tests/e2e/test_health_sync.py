#!/usr/bin/env python3
"""test_health_sync.py: gslbd holds healthd's full state again after any gap.

A primary region whose only member is down (its check gets 503 from a Backend) and a
healthy backup, in failover order: while gslbd knows the primary is down, www answers the
backup. Then the faults that used to leave traffic on the dead primary:

- healthd paused (SIGSTOP) longer than stale_after, as a VM freeze or CPU starvation does:
  its votes stop counting and, no vantage being left, gslbd holds the states last decided
  (answering with min_ttl) rather than failing them open; once healthd runs again,
  gslbd must hold its full state within a second of the reports resuming, although
  nothing changed on healthd's side (it only reports changes);
- gslbd restarted while the primary is down: until the healthd it last knew has sent its
  full state (a bounded wait), answers go out with min_ttl, not the full TTL;
- a gslbd restart with no healthd coming back: the wait ends by itself (--sync-wait,
  given 2 s here), and gslbd says so.

Not here: healthd's own protocol (test_healthd.py), the basic report-to-answer path
(test_healthd_gslbd.py). Traffic goes to 127.0.0.1 only.
"""

import signal
import time

import gslbtest as g

ZONE = """\
zone: hs.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
regions:
  primary: {{location: [50, 0], pool: [{{address: 192.0.2.1, probe: "127.0.0.1:{p1}"}}], check: web}}
  backup:  {{location: [40, 0], pool: [{{address: 192.0.2.2, probe: "127.0.0.1:{p2}"}}], check: web}}
checks:
  web: {{type: http, path: /health, interval: 500ms, timeout: 300ms, rise: 2, fall: 2,
         stale_after: 1500ms}}
services:
  www: {{regions: [primary, backup], policy: failover, ttl: 60, min_ttl: 5}}
"""


def answer(srv):
    """(address, TTL) of www.hs.test A, or (None, None) without an answer."""
    r = srv.query("www.hs.test", "A", timeout=2)
    rrs = r.section("answer") if r.parsed else []
    if not rrs:
        return None, None
    name, ttl, rd = rrs[0]
    return rd.to_text(), ttl


def wait_answer(srv, address, seconds):
    """Poll every 0.1 s until www answers `address`: the Waited (false on timeout)."""
    return g.until(lambda: answer(srv)[0] == address, seconds, every=0.1)


def start_pair(t, zone, ctl, name="gslbd", extra=()):
    srv = g.Gslbd(t, name, zones=zone, addresses=("127.0.0.1",),
                  args=["--threads", 1, "--control", ctl] + list(extra))
    if not t.start(srv):
        t.bail("%s starts with --control" % name, *srv.why)
    return srv


def main(t):
    p1, p2 = g.Backend(t, "http-1", mode="503"), g.Backend(t, "http-2")
    for b in (p1, p2):
        if not t.start(b):
            t.bail("%s starts" % b.name, *b.why)
    zone = t.write("hs.test.yaml", ZONE.format(p1=p1.port, p2=p2.port))
    ctl = t.path("ctl.sock")
    srv = start_pair(t, zone, ctl, extra=["--sync-wait", 2])
    hd = g.Healthd(t, "healthd", zones=zone, gslbd=[ctl])
    if not t.start(hd):
        t.bail("healthd starts", *hd.why)
    t.check("the backup answers while the primary is down", wait_answer(srv, "192.0.2.2", 5),
            "www answered %s" % (answer(srv),))

    # 1. healthd frozen longer than stale_after, then running again.
    mark = srv.mark()
    hd.signal(signal.SIGSTOP)
    stale = srv.wait_log(r"no report for hs\.test primary .* its vote \(down\) no longer "
                         r"counts", 4, since=mark)
    t.check("a frozen healthd's reports go stale in gslbd", stale,
            *srv.log().splitlines()[-5:])
    t.check("... and with no vantage left to vote, the primary is held down, not failed open",
            srv.wait_log(r"hs\.test primary 192\.0\.2\.1: no quorum .* keeping it down", 1,
                         since=mark), *srv.log().splitlines()[-5:])
    during = answer(srv)
    t.eq("... so the backup keeps answering while healthd is frozen, with min_ttl",
         ("192.0.2.2", 5), during)
    during = during[0]
    hd.signal(signal.SIGCONT)
    resumed = time.monotonic()
    w = wait_answer(srv, "192.0.2.2", 3)
    t.check("after healthd resumes, gslbd holds its full state again within 1 s "
            "(the down primary avoided%s; while frozen: %s)"
            % (" after %d ms" % w.ms if w else "", during),
            w and w.ms <= 1000, "www answered %s %.1f s after SIGCONT"
            % (answer(srv), time.monotonic() - resumed))
    held = all(answer(srv)[0] == "192.0.2.2" for _ in range(10) if time.sleep(0.1) is None)
    t.check("... and keeps avoiding it", held, "www answered %s" % (answer(srv),))

    # 2. gslbd restarts while the primary is down: min_ttl until healthd has re-synced.
    srv.stop()
    srv = srv.twin("gslbd-restarted")
    if not t.start(srv):
        t.bail("gslbd restarts", *srv.why)
    first = answer(srv)
    t.check("RFC 2181 8: right after a restart, before healthd's full state, the answer "
            "carries min_ttl (got %s, TTL %s)" % first, first[1] is not None and first[1] <= 5,
            "www answered %s with TTL %s" % first)
    t.check("the restarted gslbd answers the backup once healthd re-synced",
            wait_answer(srv, "192.0.2.2", 3), "www answered %s" % (answer(srv),))
    p1.set("200")
    settled = g.until(lambda: answer(srv) == ("192.0.2.1", 60), 4, every=0.1)
    t.check("once the primary is back, the full TTL again (no longer waiting)", settled,
            "www answered %s" % (answer(srv),))
    p1.set("503")
    t.check("the primary down again before the next restart", wait_answer(srv, "192.0.2.2", 4),
            "www answered %s" % (answer(srv),))

    # 3. Restart without healthd: the wait for it is bounded.
    t.eq("healthd stops with status 0", 0, hd.stop())
    srv.stop()
    srv = srv.twin("gslbd-alone")
    if not t.start(srv):
        t.bail("gslbd restarts without healthd", *srv.why)
    t.check("while it waits for the healthd it knew, min_ttl",
            (answer(srv)[1] or 99) <= 5, "www answered %s" % (answer(srv),))
    w = g.until(lambda: answer(srv)[1] == 60, 6, every=0.1)
    t.check("the wait for a healthd that does not come back ends (%s)"
            % ("after %d ms" % w.ms if w else "never"), w, "www answered %s" % (answer(srv),))
    t.check("... after the bound, not before (%s)" % ("%d ms" % w.ms if w else "-"),
            w and w.ms >= 1000, "ended after %s ms" % (w.ms if w else None))
    t.check("gslbd says it stopped waiting", srv.wait_log("stopped waiting for", 1),
            *srv.log().splitlines()[-5:])
    t.eq("gslbd stops with status 0", 0, srv.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
