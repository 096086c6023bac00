#!/usr/bin/env python3
"""test_rotation.py: round robin inside a region, and regions.NAME.max_addrs, asked of a
real gslbd over the network.

- One UDP thread (--threads 1, IPv4 only: one socket): each answer holds the whole pool
  and starts one member further on than the one before, so over 25 laps of a four-member
  pool each member is first exactly 25 times. AAAA rotates apart from A: asked in turn,
  as resolvers do, each family still goes round its own pool.
- max_addrs 2 of five members: two consecutive members per answer, each first 10 times
  and present 20 times in 50 answers.
- answers: 2: the pool region rotates, the single-address region beside it does not.
- One TCP connection: the TCP loop's rotation, 10 laps, exactly even.
- A member forced down (gslbctl down): never answered, and the three left are each first
  exactly as often; back (gslbctl auto), all four again.
- Two threads, queries from fresh sockets (a random source port each, as resolvers send):
  each thread is fair on its own, so the members' first-place counts differ by at most
  one per thread, 2.
- gslbctl explain and status name the rotation and max_addrs.
Not here: the arithmetic case by case (tests/unit/test_rotate.c), bad max_addrs values
(tests/unit/test_zone.c). Loopback only; every loop is bounded in count.
"""

import collections
import json

import gslbtest as g

ZONE = """\
zone: rot.test
soa: {mname: ns1.example.net, rname: hostmaster.example.net}
ns: [ns1.example.net]
regions:
  pool: {location: [0, 0], pool: [192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4,
                                   "2001:db8::1", "2001:db8::2", "2001:db8::3"]}
  capped: {location: [0, 0], max_addrs: 2,
           pool: [198.51.100.1, 198.51.100.2, 198.51.100.3, 198.51.100.4, 198.51.100.5]}
  single: {location: [10, 10], pool: [203.0.113.1]}
services:
  www: {regions: [pool], policy: failover}
  cap: {regions: [capped], policy: failover}
  two: {regions: [pool, single], policy: failover, answers: 2}
"""

POOL4 = ["192.0.2.%d" % i for i in range(1, 5)]
POOL6 = ["2001:db8::%d" % i for i in range(1, 4)]
CAPPED = ["198.51.100.%d" % i for i in range(1, 6)]


def addresses(r):
    """The answer's addresses in wire order (one record per rrset as the harness parses)."""
    if not r.parsed or r.rcode != "NOERROR":
        return None
    return [rr.to_text() for rrset in r.msg.answer for rr in rrset]


def lap(pool, start, n):
    """n members of `pool` from position `start`, wrapping."""
    return [pool[(start + k) % len(pool)] for k in range(n)]


def rotation_problems(answers, pool, take):
    """What is wrong with a run of answers from one thread: each must hold `take`
    consecutive members of `pool` and start one further on than the one before."""
    problems = []
    for i, got in enumerate(answers):
        if got is None or not got or got[0] not in pool:
            problems.append("answer %d: %r" % (i, got))
            continue
        start = pool.index(got[0])
        if got != lap(pool, start, take):
            problems.append("answer %d: %r is not %d consecutive members" % (i, got, take))
        if i > 0 and answers[i - 1] and answers[i - 1][0] in pool and \
                start != (pool.index(answers[i - 1][0]) + 1) % len(pool):
            problems.append("answer %d starts at %s after %s" % (i, got[0], answers[i - 1][0]))
    return problems


def firsts(answers):
    return dict(collections.Counter(a[0] for a in answers if a))


def one_thread(t, srv):
    got = [addresses(srv.query("www.rot.test", "A")) for _ in range(4 * 25)]
    t.eq("one thread: 100 answers, 25 laps of 4 members", [],
         rotation_problems(got, POOL4, 4)[:5])
    t.eq("one thread: each member first exactly 25 times in 100 answers",
         {a: 25 for a in POOL4}, firsts(got))

    got4, got6 = [], []
    for _ in range(12):
        got4.append(addresses(srv.query("www.rot.test", "A")))
        got6.append(addresses(srv.query("www.rot.test", "AAAA")))
    t.eq("A asked in turn with AAAA still goes round its own pool", [],
         rotation_problems(got4, POOL4, 4)[:5])
    t.eq("AAAA asked in turn with A goes round its own (3 members)", [],
         rotation_problems(got6, POOL6, 3)[:5])
    t.eq("A and AAAA: each member first 3 and 4 times in 12 answers",
         ({a: 3 for a in POOL4}, {a: 4 for a in POOL6}), (firsts(got4), firsts(got6)))

    got = [addresses(srv.query("cap.rot.test", "A")) for _ in range(5 * 10)]
    t.eq("max_addrs 2: two consecutive members per answer, rotating", [],
         rotation_problems(got, CAPPED, 2)[:5])
    present = collections.Counter(a for answer in got if answer for a in answer)
    t.eq("max_addrs 2 of 5 in 50 answers: each first 10 times, present 20 times",
         ({a: 10 for a in CAPPED}, {a: 20 for a in CAPPED}), (firsts(got), dict(present)))
    r = srv.query("cap.rot.test", "A")
    t.check("max_addrs: the answer shrinks, never truncated (%d bytes)" % r.size,
            r.parsed and "TC" not in r.flags and len(addresses(r)) == 2)

    got = [addresses(srv.query("two.rot.test", "A")) for _ in range(8)]
    t.eq("answers: 2: the pool region rotates its four", [],
         rotation_problems([a[:4] if a else a for a in got], POOL4, 4)[:5])
    t.eq("answers: 2: the single-address region's address comes last, every time",
         ["203.0.113.1"] * 8, [a[4] if a and len(a) == 5 else a for a in got])


def tcp_connection(t, srv):
    rs = srv.keepopen([("www.rot.test", "A")] * 40)
    got = [addresses(r) for r in rs]
    t.eq("one TCP connection: 40 answers, one further on each", [],
         rotation_problems(got, POOL4, 4)[:5])
    t.eq("one TCP connection: each member first 10 times", {a: 10 for a in POOL4}, firsts(got))


def member_down(t, srv, ctl):
    r = ctl.run("down", "pool", "192.0.2.2")
    t.check("gslbctl down pool 192.0.2.2", r.status == 0, r.out)
    up = [a for a in POOL4 if a != "192.0.2.2"]
    got = [addresses(srv.query("www.rot.test", "A")) for _ in range(3 * 10)]
    t.eq("a member down is not answered; the 3 left rotate", [],
         rotation_problems(got, up, 3)[:5])
    t.eq("each member still up first exactly 10 times in 30 answers",
         {a: 10 for a in up}, firsts(got))
    r = ctl.run("auto", "pool", "192.0.2.2")
    t.check("gslbctl auto pool 192.0.2.2", r.status == 0, r.out)
    got = [addresses(srv.query("www.rot.test", "A")) for _ in range(4)]
    t.eq("back up: four members again, rotating", [], rotation_problems(got, POOL4, 4))


def shown(t, ctl):
    r = ctl.run("explain", "192.0.2.0/24", "cap.rot.test")
    t.like("gslbctl explain: the capped region's rotation and max_addrs",
           r"capped .*chosen \(5 IPv4 addresses, 2 per answer by max_addrs, rotating\)", r.out)
    r = ctl.run("explain", "192.0.2.0/24", "www.rot.test", "AAAA")
    t.like("gslbctl explain: a pool without max_addrs rotates all",
           r"pool .*chosen \(3 IPv6 addresses, rotating: each answer starts one further on\)",
           r.out)
    r = ctl.run("status")
    t.like("gslbctl status: max_addrs where set", r"region rot.test capped up: .*; max_addrs 2\n",
           r.out)
    t.unlike("gslbctl status: no max_addrs where not set", r"region rot.test pool .*max_addrs",
             r.out)
    r = ctl.run("status", "--json")
    try:
        regions = {x["name"]: x for x in json.loads(r.out)["zones"][0]["regions"]}
        got = (regions["capped"].get("max_addrs"), "max_addrs" in regions["pool"])
    except (ValueError, KeyError, IndexError) as e:
        got = repr(e)
    t.eq("status --json: max_addrs 2 on capped, absent on pool", (2, False), got)


def two_threads(t, zdir):
    srv = g.Gslbd(t, "gslbd-2", zones=zdir, addresses=("127.0.0.1",), args=["--threads", 2])
    if not t.start(srv):
        t.not_ok("gslbd starts with --threads 2", *srv.why)
        return
    # Each query from a fresh socket: a new source port, hashed to either thread.
    got = [addresses(srv.query("www.rot.test", "A")) for _ in range(400)]
    counts = firsts(got)
    t.eq("two threads: every answer a lap of the pool", [],
         [a for a in got if not a or a != lap(POOL4, POOL4.index(a[0]), 4)][:5])
    spread = max(counts.values()) - min(counts.values()) if len(counts) == 4 else None
    t.check("two threads: first-place counts within 2 of each other (%s)" % counts,
            spread is not None and spread <= 2)
    t.eq("gslbd --threads 2 stops with status 0", 0, srv.stop())


def main(t):
    zdir = t.path("zones")
    zdir.mkdir()
    (zdir / "rot.test.yaml").write_text(ZONE)
    ctl_path = str(t.path("ctl"))
    srv = g.Gslbd(t, "gslbd", zones=zdir, addresses=("127.0.0.1",),
                  args=["--threads", 1, "--control", ctl_path])
    if not t.start(srv):
        t.bail("gslbd starts with --threads 1", *srv.why)
    ctl = g.Gslbctl(t, ctl_path)
    one_thread(t, srv)
    tcp_connection(t, srv)
    member_down(t, srv, ctl)
    shown(t, ctl)
    t.eq("gslbd stops with status 0", 0, srv.stop())
    two_threads(t, zdir)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
