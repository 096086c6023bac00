#!/usr/bin/env python3
"""test_failover.py: the whole system failing over, with real parts end to end.

Three real nginx servers (gslbtest Nginx) stand in for the regional balancers of the
README's example zone: us-east, eu-west and ap-south, with the example's coordinates and
answered addresses, each member probed at its region's nginx on 127.0.0.1. The real
bin/healthd probes them (interval 1s, timeout 500ms, fall 2, rise 2) and reports to the
real bin/gslbd over its control socket; clients in London, Singapore and the United
States are placed with EDNS Client Subnet (RFC 7871) by the built-in world database.
Asserted, with the measured times in the test names:
  a. steady state: each client gets its nearest region, TTL 30
  b. eu-west's /health fails: London moves to us-east (the next nearest) within
     interval x fall + 1 s, with TTL min_ttl (5); other clients keep their answers
  c. it heals: London is back within interval x rise + 1 s, TTL 30 again
  d. gslbctl drain moves London without touching nginx, auto brings it back, and the
     override survives a gslbd restart on the same control socket
  e. healthd stops: answers stay as last reported; once the reports go stale, the state
     is held (no vantage votes) with min_ttl, not failed open; gslbd
     restarts under a running healthd: it gets the full state at once
  f. every region down: on_all_down open answers as if all were up, TTL 5

Not here: healthd's probes and protocol in detail (test_healthd.py), the answers'
protocol (test_core.py). Traffic goes to 127.0.0.1 and ::1 only; every wait is bounded
in count and time.
"""

import os
import re
import time

import dns.rdatatype

import gslbtest as g

# The check's timing, in milliseconds, and the limits derived from it.
INTERVAL_MS = 1000
FALL = 2
RISE = 2
FAIL_LIMIT_MS = INTERVAL_MS * FALL + 1000
RISE_LIMIT_MS = INTERVAL_MS * RISE + 1000
# healthd reconnects once a second; a restarted gslbd has the state within about that.
RESYNC_LIMIT_MS = 1500
# Reports count for stale_after (default 3 intervals); gslbd looks once a second.
STALE_LIMIT_MS = 3 * INTERVAL_MS + 2000

LONDON = "81.2.69.0/24"
SINGAPORE = "165.21.83.0/24"  # DB-IP and IPFire both: Singapore
US = "3.80.0.0/16"

# The regions' answered addresses, as in the README's example zone.
US_EAST = "192.0.2.10"
EU_WEST = "198.51.100.10"
AP_SOUTH = "203.0.113.10"
US_EAST6 = "2001:db8:10::10"
EU_WEST6 = "2001:db8:20::10"
REGION_OF = {US_EAST: "us-east", US_EAST6: "us-east", EU_WEST: "eu-west",
             EU_WEST6: "eu-west", AP_SOUTH: "ap-south", "": "no answer"}

# The README's example zone, but with every member probed at its region's nginx and a
# fast check; on_all_down and min_ttl are written out with their default values.
ZONE = """\
zone: gslb.example.com
ttl: 300
soa: {{mname: ns1.gslb.example.com, rname: hostmaster.example.com,
      refresh: 3600, retry: 600, expire: 604800, minimum: 60}}
ns: [ns1.gslb.example.com, ns2.gslb.example.com]
records:
  ns1: {{A: 198.51.100.53, AAAA: "2001:db8:53::1"}}
  ns2: {{A: 203.0.113.53}}
regions:
  us-east:
    location: [39.04, -77.49]
    weight: 100
    pool: [{{address: {US_EAST}, probe: "127.0.0.1:{p_us}"}},
           {{address: "{US_EAST6}", probe: "127.0.0.1:{p_us}"}}]
    check: web
  eu-west:
    location: [53.35, -6.26]
    weight: 100
    pool: [{{address: {EU_WEST}, probe: "127.0.0.1:{p_eu}"}},
           {{address: "{EU_WEST6}", probe: "127.0.0.1:{p_eu}"}}]
    check: web
  ap-south:
    location: [1.29, 103.85]
    weight: 100
    pool: [{{address: {AP_SOUTH}, probe: "127.0.0.1:{p_ap}"}}]
    check: web
checks:
  web: {{type: http, path: /health, expect: 200, interval: {INTERVAL_MS}ms, timeout: 500ms,
        rise: {RISE}, fall: {FALL}}}
services:
  www: {{regions: [us-east, eu-west, ap-south], policy: nearest, ttl: 30,
        on_all_down: open, min_ttl: 5}}
"""


def now_ms():
    return int(time.monotonic() * 1000)


def secs(ms):
    """Milliseconds as seconds with one decimal (2300 -> "2.3")."""
    return "%.1f" % (ms / 1000)


def region_of(address):
    """The region an answered address belongs to."""
    return REGION_OF.get(address, address)


class Answer:
    """What a client got for www: the addresses (sorted, space-separated), the first
    record's TTL ("" without one) and the rcode."""

    def __init__(self, r):
        records = [(ttl, rd.to_text()) for _, ttl, rd in r.section("answer")
                   if rd.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)]
        self.ans = " ".join(sorted(addr for _, addr in records))
        self.ttl = str(records[0][0]) if records else ""
        self.rcode = r.rcode


class Failover:
    """The system under test and the suite's steps: gslbd (replaced on each restart),
    healthd (replaced when restarted), the three nginx and gslbctl."""

    def __init__(self, t):
        self.t = t
        self.srv = self.hd = None
        self.nginx = {}
        self.zone = t.path("gslb.example.com.yaml")
        self.ctl = t.path("control.sock")
        self.gslbctl = g.Gslbctl(t, self.ctl)
        self.last = None
        self.ready_ms = 0

    # ------------------------------------------------------------- asking

    def ask(self, subnet, qtype="A", transport="udp4"):
        """www for a client in `subnet` (EDNS Client Subnet), RD clear: an Answer."""
        self.last = Answer(self.srv.query("www.gslb.example.com", qtype, transport=transport,
                                          rd=False, ecs=subnet, timeout=1))
        return self.last

    def expect_answer(self, name, subnet, qtype, address, ttl):
        """One query, its address and TTL exact."""
        a = self.ask(subnet, qtype)
        self.t.eq(name, "%s ttl %s" % (address, ttl), "%s ttl %s" % (a.ans, a.ttl))

    def wait_answer(self, subnet, address, start_ms, max_ms, qtype="A"):
        """Query every 50 ms (at most 400 times) until `subnet` is answered `address`, at
        most max_ms after start_ms: (seen, ms from start_ms to the query that saw it)."""
        waited = 0
        for _ in range(400):
            a = self.ask(subnet, qtype)
            waited = now_ms() - start_ms
            if a.ans == address:
                return True, waited
            if waited > max_ms:
                return False, waited
            time.sleep(0.05)
        return False, waited

    def timed(self, done, late, start_ms, limit_ms, subnet, address, qtype="A"):
        """Wait for the answer and report the time it took against the limit ("DONE in
        2.3 s (limit 3.0 s)"). Waits up to three times the limit, so a late move is told
        apart from none at all. Returns (arrived, ms): arrived even when too slow."""
        seen, waited = self.wait_answer(subnet, address, start_ms, limit_ms * 3, qtype)
        if seen:
            name = "%s in %s s (limit %s s)" % (done, secs(waited), secs(limit_ms))
            self.t.check(name, waited <= limit_ms, "%s: too slow" % late)
            return True, waited
        first = self.last.ans.split(" ")[0]
        self.t.not_ok("%s within %s s" % (done, secs(limit_ms)), "%s: still %s (%s) after %s s"
                      % (late, region_of(first), self.last.ans, secs(waited)))
        return False, waited

    def timed_aaaa(self, name, start_ms, limit_ms, address):
        """timed, for London's AAAA answer."""
        return self.timed(name, "London's AAAA", start_ms, limit_ms, LONDON, address, "AAAA")

    # ------------------------------------------------------------- gslbctl and the daemons

    def status(self):
        r = self.gslbctl.run("status")
        return r.out

    def status_count(self, pattern):
        return len(re.findall(pattern, self.status(), re.M))

    def status_wait(self, pattern, count, max_s):
        """Wait (bounded) until `count` lines of `gslbctl status` match: a Waited."""
        return g.until(lambda: self.status_count(pattern) == count, max_s)

    def start_healthd(self, name):
        self.hd = g.Healthd(self.t, name, zones=self.zone, gslbd=[self.ctl])
        if not self.t.start(self.hd):
            self.t.bail("healthd started" if name == "healthd" else "healthd started again",
                        *self.hd.why)

    def healthd_alive(self, name):
        """Assert that healthd still runs; when it does not, show how it ended and the end
        of its log."""
        if self.hd.alive():
            return self.t.ok(name)
        status = self.hd.stop()
        sig = " (signal %d)" % (status - 128) if isinstance(status, int) and status > 128 \
            else ""
        return self.t.not_ok(name, "healthd exited with status %s%s; the end of its log:"
                             % (status, sig), *self.hd.log().splitlines()[-15:])

    def restart_gslbd(self, name):
        """Stop gslbd and start it again with the same command line and control socket,
        on the same port (Gslbd.start tries again while it is briefly taken); ready_ms is
        when its readiness line was seen."""
        self.t.eq("gslbd stopped cleanly before %s" % name, 0, self.srv.stop())
        self.srv = self.srv.twin(name)
        if not self.t.start(self.srv):
            self.t.bail("gslbd restarted (%s)" % name, *self.srv.why)
        self.ready_ms = now_ms()


# ------------------------------------------------------------------ the steps


def set_up(t, f):
    """The three nginx (checked by hand first), the zone, gslbd and healthd."""
    for r in ("us-east", "eu-west", "ap-south"):
        f.nginx[r] = g.Nginx(t, r)
        if not t.start(f.nginx[r]):
            t.bail("nginx for %s started" % r, *f.nginx[r].why)
    eu = f.nginx["eu-west"]
    t.eq("nginx us-east answers /health with 200", 200, f.nginx["us-east"].health())
    t.eq("nginx eu-west's page names its region", "region eu-west", eu.get("/")[1].rstrip("\n"))
    eu.fail()
    t.eq("nginx eu-west's /health answers 503 while its down file exists", 503, eu.health())
    eu.heal()
    t.eq("nginx eu-west's /health answers 200 once healed", 200, eu.health())

    t.write(f.zone.relative_to(t.tmp), ZONE.format(
        p_us=f.nginx["us-east"].port, p_eu=eu.port, p_ap=f.nginx["ap-south"].port,
        US_EAST=US_EAST, US_EAST6=US_EAST6, EU_WEST=EU_WEST, EU_WEST6=EU_WEST6,
        AP_SOUTH=AP_SOUTH, INTERVAL_MS=INTERVAL_MS, RISE=RISE, FALL=FALL))
    f.srv = g.Gslbd(t, "gslbd", zones=f.zone, args=["--threads", 2, "--control", f.ctl])
    if not t.start(f.srv):
        t.bail("gslbd started", *f.srv.why)
    f.start_healthd("healthd")

    t.check("healthd reported all 5 members up to gslbd",
            f.status_wait(r"^  member .* up ", 5, 10), f.status())
    before = eu.requests()
    time.sleep(1.5)
    after = eu.requests()
    t.compare("healthd probes eu-west's nginx (access log: %d -> %d requests in 1.5 s)"
              % (before, after), after, ">", before)


def steady(t, f):
    f.expect_answer("a. London gets eu-west, TTL 30", LONDON, "A", EU_WEST, 30)
    f.expect_answer("a. Singapore gets ap-south, TTL 30", SINGAPORE, "A", AP_SOUTH, 30)
    f.expect_answer("a. the United States get us-east, TTL 30", US, "A", US_EAST, 30)
    f.expect_answer("a. London gets eu-west's IPv6 address (AAAA)", LONDON, "AAAA", EU_WEST6,
                    30)
    a = f.ask(LONDON, "A", "udp6")
    t.eq("a. London gets eu-west over IPv6 too", "%s ttl 30" % EU_WEST,
         "%s ttl %s" % (a.ans, a.ttl))


def failure(t, f):
    f.nginx["eu-west"].fail()
    t0 = now_ms()
    seen, waited = f.timed("b. eu-west failure moved London to us-east", "London", t0,
                           FAIL_LIMIT_MS, LONDON, US_EAST)
    if seen:
        # Two failed probes a second apart are needed (fall 2): one is not enough.
        t.compare("b. the move waited for fall=%d failed probes (%s s >= 0.9 s)"
                  % (FALL, secs(waited)), waited, ">=", 900)
    # healthd probes each member on its own schedule: eu-west's IPv6 member (the same
    # nginx) goes down within the same limit, but not necessarily with the IPv4 one.
    f.timed_aaaa("b. eu-west failure moved London's AAAA to us-east", t0, FAIL_LIMIT_MS,
                 US_EAST6)
    f.expect_answer("b. London's TTL is min_ttl (5) while failing over", LONDON, "A", US_EAST,
                    5)
    f.expect_answer("b. London's AAAA TTL is 5 too", LONDON, "AAAA", US_EAST6, 5)
    f.expect_answer("b. Singapore unaffected: ap-south, TTL 30", SINGAPORE, "A", AP_SOUTH, 30)
    f.expect_answer("b. the United States unaffected: us-east, TTL 30", US, "A", US_EAST, 30)
    t.like("b. gslbctl status shows eu-west DOWN", r"eu-west DOWN: 0 of 2 members up \(2 down\)",
           f.status())


def recovery(t, f):
    f.nginx["eu-west"].heal()
    t0 = now_ms()
    seen, waited = f.timed("c. eu-west recovery brought London back", "London", t0,
                           RISE_LIMIT_MS, LONDON, EU_WEST)
    if seen:
        t.compare("c. the return waited for rise=%d good probes (%s s >= 0.9 s)"
                  % (RISE, secs(waited)), waited, ">=", 900)
    f.timed_aaaa("c. eu-west recovery brought London's AAAA back", t0, RISE_LIMIT_MS, EU_WEST6)
    f.expect_answer("c. London's TTL is 30 again", LONDON, "A", EU_WEST, 30)
    f.expect_answer("c. Singapore still ap-south, TTL 30", SINGAPORE, "A", AP_SOUTH, 30)


def drain(t, f):
    r = f.gslbctl.run("drain", "eu-west")
    t.eq("d. gslbctl drain eu-west succeeds (exit status 0: %s)" % r.out.strip(), 0, r.status)
    f.timed("d. drain moved London to us-east", "London", now_ms(), 1000, LONDON, US_EAST)
    # A drain is planned, not a failure: the service's own TTL.
    f.expect_answer("d. drained: London on us-east with TTL 30", LONDON, "A", US_EAST, 30)
    t.eq("d. the drain did not touch nginx (eu-west /health 200)", 200,
         f.nginx["eu-west"].health())
    t.like("d. gslbctl status: eu-west drained, its members up",
           r"eu-west DRAINED: drained by an operator: no new traffic; health up: 2 of 2 members "
           r"up", f.status())

    f.restart_gslbd("gslbd-2")
    f.healthd_alive("d. healthd still runs after gslbd restarted")
    t.eq("d. the drain survived the gslbd restart (first answer: London on us-east)", US_EAST,
         f.ask(LONDON).ans)
    t.like("d. gslbctl status after the restart: eu-west drained",
           "eu-west DRAINED: drained by an operator", f.status())
    r = f.gslbctl.run("auto", "eu-west")
    t.eq("d. gslbctl auto eu-west succeeds (exit status 0: %s)" % r.out.strip(), 0, r.status)
    f.timed("d. auto brought London back to eu-west", "London", now_ms(), 1000, LONDON,
            EU_WEST)
    t.check("d. healthd reconnected to the restarted gslbd: all 5 members up",
            f.status_wait(r"^  member .* up ", 5, 5), f.status())
    # Until healthd has sent its full state to the restarted gslbd, answers carry
    # min_ttl (test_health_sync.py); then the service's own TTL.
    t.check("d. the restarted gslbd has healthd's full state",
            f.srv.wait_log("every healthd known before the restart has sent its full state", 5),
            *f.srv.log().splitlines()[-5:])
    f.expect_answer("d. London on eu-west with TTL 30 after auto", LONDON, "A", EU_WEST, 30)


def healthd_stops(t, f):
    f.nginx["eu-west"].fail()
    f.timed("e. eu-west failure (again) moved London to us-east", "London", now_ms(),
            FAIL_LIMIT_MS, LONDON, US_EAST)
    # Both of eu-west's members judged down before healthd stops (their probes are
    # spread over the interval, so the second may come a little after the answer moved).
    t.check("e. both of eu-west's members down before healthd stops",
            f.status_wait(r"^region \S+ eu-west DOWN", 1, 3), f.status())
    t.eq("e. healthd stopped cleanly on SIGTERM", 0, f.hd.stop())
    t0 = now_ms()
    # Sampled for 1.5 s: reports stay valid stale_after (3 s) after healthd was last
    # heard, and it was last heard at most 1 s before it stopped (it sends PING every
    # second).
    seen = []
    for _ in range(15):
        seen.append(region_of(f.ask(LONDON).ans))
        if now_ms() - t0 >= 1500:
            break
        time.sleep(0.1)
    t.eq("e. with healthd stopped, answers stay as last reported (London on us-east for "
         "1.5 s)", "", "\n".join(sorted(set(seen) - {"us-east"})))
    # Then the reports go stale. With no vantage left to vote, gslbd keeps the state
    # last decided (eu-west's member down) rather than failing it open, and says the
    # state is held; the region's answers use min_ttl meanwhile (issue 15's quorum).
    w = f.status_wait(r"held down: none of its 1 vantages votes", 2, STALE_LIMIT_MS / 1000)
    t.check("e. the stale reports expired: eu-west's two members are held down, not failed open "
            "(%s)" % ("after %d ms" % (now_ms() - t0) if w else "never"), w, f.status())
    f.expect_answer("e. ... London stays on us-east, with min_ttl 5 while held", LONDON, "A",
                    US_EAST, 5)

    f.start_healthd("healthd-2")
    f.timed("e. a new healthd reported eu-west down: London on us-east", "London", now_ms(),
            FAIL_LIMIT_MS, LONDON, US_EAST)

    f.restart_gslbd("gslbd-3")
    first = region_of(f.ask(LONDON).ans)
    f.timed("e. gslbd restarted under a running healthd avoided eu-west (first answer: %s)"
            % first, "London", f.ready_ms, RESYNC_LIMIT_MS, LONDON, US_EAST)
    f.expect_answer("e. after the restart London's TTL is 5 (failing over)", LONDON, "A",
                    US_EAST, 5)
    f.expect_answer("e. after the restart Singapore is on ap-south, TTL 30", SINGAPORE, "A",
                    AP_SOUTH, 30)
    f.healthd_alive("e. healthd still runs after gslbd restarted under it")


def all_down(t, f):
    f.nginx["us-east"].fail()
    f.nginx["ap-south"].fail()
    w = f.status_wait(r"^region .* DOWN", 3, 10)
    if w:
        t.ok("f. all three regions DOWN in %s s" % secs(w.ms))
    else:
        t.not_ok("f. all three regions DOWN", f.status())
    # on_all_down open: as if every region were up, with min_ttl so resolvers come back
    # soon.
    f.expect_answer("f. all down, open: London gets eu-west, TTL 5", LONDON, "A", EU_WEST, 5)
    f.expect_answer("f. all down, open: Singapore gets ap-south, TTL 5", SINGAPORE, "A",
                    AP_SOUTH, 5)
    f.expect_answer("f. all down, open: the United States get us-east, TTL 5", US, "A",
                    US_EAST, 5)
    f.expect_answer("f. all down, open: London's AAAA from eu-west, TTL 5", LONDON, "AAAA",
                    EU_WEST6, 5)
    t.eq("f. all down, open: NOERROR", "NOERROR", f.last.rcode)

    for n in f.nginx.values():
        n.heal()
    # Every member, not just every region: a region is up with min_up (1) member up, but
    # an A query needs one of its IPv4 members up.
    w = f.status_wait(r"^  member .* up ", 5, 10)
    if w:
        t.ok("f. all 5 members up again in %s s" % secs(w.ms))
    else:
        t.not_ok("f. all 5 members up again", f.status())
    f.expect_answer("f. healed: London on eu-west, TTL 30", LONDON, "A", EU_WEST, 30)
    f.expect_answer("f. healed: the United States on us-east, TTL 30", US, "A", US_EAST, 30)


def main(t):
    for what, binary, make in (("gslbd", g.procs.GSLBD, "make bin/gslbd"),
                               ("healthd", g.procs.HEALTHD, "make bin/healthd"),
                               ("gslbctl", g.procs.GSLBCTL, "make bin/gslbctl"),
                               ("nginx", g.procs.NGINX, "make deps installs it")):
        if not os.access(binary, os.X_OK):
            t.bail("%s present" % what, "no executable at %s (%s)" % (binary, make))
    f = Failover(t)
    set_up(t, f)
    steady(t, f)
    failure(t, f)
    recovery(t, f)
    drain(t, f)
    healthd_stops(t, f)
    all_down(t, f)
    if f.healthd_alive("healthd still runs at the end"):
        t.eq("healthd stopped cleanly", 0, f.hd.stop())
    t.eq("gslbd stopped cleanly", 0, f.srv.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
