#!/usr/bin/env python3
"""test_metrics.py: gslbd's query counters on /metrics, counted exactly.

gslbd serves qm.test (two unchecked regions, a service by health, and services that
answer NODATA, SERVFAIL and from a fallback when no region is up, a TXT RRset too big
for 512 bytes) on 127.0.0.1 and ::1 with --http; every section scrapes /metrics
(gslbtest.prom, strictly), sends exactly N queries of a kind and asserts that the
counters of that kind rose by exactly N and no other query counter moved. Asserted:

- gslb_queries_total by transport (UDP, TCP), family (IPv4, IPv6), qtype (A, AAAA, MX,
  TXT, and a type not named: "other") and rcode (NOERROR, NXDOMAIN, REFUSED for a name
  of no zone of ours);
- malformed queries by reason (formerr: a question cut short; notimp: opcode STATUS;
  badvers: EDNS version 1), answered and counted with their rcode too; queries given no
  reply at all by reason (a response, a packet shorter than a header, a datagram larger
  than gslbd reads, a response on TCP), not counted as answered;
- responses truncated over UDP (RFC 2181 9), not over TCP;
- ECS queries by the option's family, and the scope each reply holds for, as the replies
  carry it (RFC 7871 7.2.1): a placed client's, 0 for a static name;
- TCP connections: one per TCP query accepted and closed by the client, none left open;
  on a second gslbd (one loop, --tcp-max 2, --tcp-timeout 1) connections evicted at the
  cap and closed idle;
- answers per service: a London client's answers go to eu-west by health; after
  `gslbctl drain eu-west` to us-east, counted as failover; with both drained, failing
  open; with both forced down, the services answer NODATA, SERVFAIL (also counted as
  queries with rcode SERVFAIL) and from their fallback, each counted in its mode;
- the totals carry on across a reload, and no counter went back between the first and
  the last scrape;
- rate limiting, on the second gslbd (--rrl-exempt none, 1 a second, slip 2): a burst's
  dropped and slipped responses counted as the client saw them, the dropped ones as
  dropped queries (rate_limited), the rest as answered.

Not here: the listener and the zone, health and process metrics (test_http.py), healthd's
(test_healthd_metrics.py), the counters' cost per query (bench/cg-gslbd).
"""

import socket
import struct
import time

import gslbtest as g
from gslbtest import dnsq, prom

ZONE = """\
zone: qm.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
ttl: {ttl}
records:
  mail: {{MX: "10 mx.example.net."}}
  big: {{TXT: [{txt}]}}
regions:
  eu-west: {{location: [53.35, -6.26], pool: [198.51.100.10, "2001:db8:10::10"]}}
  us-east: {{location: [39.04, -77.49], pool: [192.0.2.10, "2001:db8:20::10"]}}
services:
  www: {{regions: [eu-west, us-east], ttl: 30}}
  nod: {{regions: [eu-west, us-east], on_all_down: nodata}}
  sf:  {{regions: [eu-west, us-east], on_all_down: servfail}}
  fb:  {{regions: [eu-west], fallback: us-east}}
"""

LONDON = "81.2.69.0/24"
LONDON6 = "2a02:390::/32"
N = 7
QUERY_FAMILIES = ("gslb_queries_total", "gslb_queries_malformed_total",
                  "gslb_queries_dropped_total", "gslb_responses_truncated_total",
                  "gslb_ecs_queries_total", "gslb_ecs_responses_total",
                  "gslb_rrl_responses_total")


def zone_text(ttl=300):
    txt = ", ".join('"%s%s"' % (c, "x" * 200) for c in "abc")
    return ZONE.format(ttl=ttl, txt=txt)


class Scraper:
    """Scrapes of one gslbd's /metrics, and the deltas between two."""

    def __init__(self, t, port):
        self.t, self.port = t, port

    def __call__(self):
        return prom.scrape(self.port)

    def moved(self, before, after, families=QUERY_FAMILIES):
        """{(name, labels): delta} of every series of `families` that moved."""
        out = {}
        for key in set(before) | set(after):
            if key[0] in families:
                d = after.get(key, 0) - before.get(key, 0)
                if d:
                    out[key] = d
        return out

    def expect(self, what, before, after, want, families=QUERY_FAMILIES):
        """Exactly the series in `want` ({name: {labels...: delta}} as a list of
        (name, labels dict, delta)) moved among `families`, each by its delta."""
        got = self.moved(before, after, families)
        expected = {(name, frozenset(labels.items())): d for name, labels, d in want}
        self.t.check(what, got == expected,
                     "expected: %s" % _show(expected), "moved:    %s" % _show(got))

    def wait(self, before, name, want, timeout=5.0, **labels):
        """Scrape until total(name, labels) rose by `want` (bounded): (ok, scrape)."""
        last = [before]

        def reached():
            last[0] = self()
            return prom.delta(before, last[0], name, **labels) >= want

        ok = g.until(reached, timeout, every=0.1)
        return bool(ok), last[0]


def _show(d):
    return ", ".join("%s{%s} %+g" % (k[0], ",".join("%s=%s" % kv for kv in sorted(k[1])), v)
                     for k, v in sorted(d.items(), key=lambda kv: (kv[0][0], sorted(kv[0][1]))))


def q(transport, family, qtype, rcode, n=N):
    return ("gslb_queries_total",
            {"transport": transport, "family": family, "qtype": qtype, "rcode": rcode}, n)


def send_n(srv, n, qname, qtype, transport, **kw):
    """n queries; the replies."""
    return [srv.query(qname, qtype, transport=transport, **kw) for _ in range(n)]


def raw_udp(port, wires, host="127.0.0.1"):
    """Datagrams sent as they are, no reply awaited."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                       socket.SOCK_DGRAM) as s:
        for w in wires:
            s.sendto(w, (host, port))


# ------------------------------------------------------------------ queries


def queries(t, srv, scrape):
    before = scrape()
    replies = (send_n(srv, N, "www.qm.test", "A", "udp4")
               + send_n(srv, N, "www.qm.test", "AAAA", "udp6")
               + send_n(srv, N, "mail.qm.test", "MX", "tcp4")
               + send_n(srv, N, "www.qm.test", "TXT", "tcp6")
               + send_n(srv, N, "qm.test", "TYPE65280", "udp4"))
    t.check("%d queries of five kinds: all answered NOERROR" % (5 * N),
            all(r.rcode == "NOERROR" for r in replies), [r.error for r in replies if r.error])
    nx = send_n(srv, N, "nope.qm.test", "A", "udp4")
    ref = send_n(srv, N, "www.example.org", "A", "udp6")
    t.check("NXDOMAIN and REFUSED as expected",
            all(r.rcode == "NXDOMAIN" for r in nx) and all(r.rcode == "REFUSED" for r in ref))
    after = scrape()
    scrape.expect("gslb_queries_total: UDP/IPv4 A, UDP/IPv6 AAAA, TCP/IPv4 MX, TCP/IPv6 TXT, "
                  "UDP/IPv4 other type, NXDOMAIN, REFUSED: each rose by exactly %d" % N,
                  before, after,
                  [q("udp", "ipv4", "A", "NOERROR"), q("udp", "ipv6", "AAAA", "NOERROR"),
                   q("tcp", "ipv4", "MX", "NOERROR"), q("tcp", "ipv6", "TXT", "NOERROR"),
                   q("udp", "ipv4", "other", "NOERROR"), q("udp", "ipv4", "A", "NXDOMAIN"),
                   q("udp", "ipv6", "A", "REFUSED")])


# ------------------------------------------------------------------ malformed, dropped


def malformed(t, srv, scrape):
    before = scrape()
    cut = dnsq.make_query("www.qm.test", "A", edns=None).to_wire()[:-3]
    got = [srv.send_raw(cut, "udp4") for _ in range(N)]
    got += [srv.query("www.qm.test", "A", transport="tcp4", opcode="STATUS") for _ in range(N)]
    got += [srv.query("www.qm.test", "A", transport="udp6", edns=1) for _ in range(N)]
    t.eq("FORMERR, NOTIMP and BADVERS answered",
         ["FORMERR"] * N + ["NOTIMP"] * N + ["BADVERS"] * N, [r.rcode for r in got])
    after = scrape()
    scrape.expect("malformed: a question cut short (UDP), opcode STATUS (TCP), EDNS version 1 "
                  "(UDP over IPv6): each reason and its rcode rose by exactly %d" % N,
                  before, after,
                  [("gslb_queries_malformed_total", {"transport": "udp", "reason": "formerr"}, N),
                   ("gslb_queries_malformed_total", {"transport": "tcp", "reason": "notimp"}, N),
                   ("gslb_queries_malformed_total", {"transport": "udp", "reason": "badvers"}, N),
                   q("udp", "ipv4", "other", "FORMERR"), q("tcp", "ipv4", "A", "NOTIMP"),
                   q("udp", "ipv6", "A", "BADVERS")])

    before = scrape()
    response = bytearray(dnsq.make_query("www.qm.test", "A").to_wire())
    response[2] |= 0x80  # QR: a response
    raw_udp(srv.port, [bytes(response)] * N)
    raw_udp(srv.port, [b"\x12\x34\x01\x00\x00"] * N, host="::1")
    raw_udp(srv.port, [bytes(response) + b"\0" * 5000] * N)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=2) as c:
        c.sendall(b"".join(struct.pack(">H", len(response)) + bytes(response)
                           for _ in range(N)))
        c.settimeout(0.5)
        try:
            late = c.recv(100)
        except socket.timeout:
            late = b""
    t.eq("no reply to a response over TCP", b"", late)
    ok, after = scrape.wait(before, "gslb_queries_dropped_total", 4 * N)
    ok2, after = scrape.wait(before, "gslb_tcp_connections_closed_total", 1, reason="client")
    scrape.expect("dropped: responses (UDP and TCP), packets shorter than a header, datagrams "
                  "of 5 kB: each rose by exactly %d, no query counted as answered" % N,
                  before, after,
                  [("gslb_queries_dropped_total", {"transport": "udp", "reason": "response"}, N),
                   ("gslb_queries_dropped_total", {"transport": "udp", "reason": "short"}, N),
                   ("gslb_queries_dropped_total", {"transport": "udp", "reason": "too_large"}, N),
                   ("gslb_queries_dropped_total", {"transport": "tcp", "reason": "response"}, N)])


def truncated(t, srv, scrape):
    before = scrape()
    udp = send_n(srv, N, "big.qm.test", "TXT", "udp4", edns=None)
    tcp = send_n(srv, N, "big.qm.test", "TXT", "tcp4", edns=None)
    t.check("over UDP without EDNS: TC set (RFC 2181 9); over TCP the whole answer",
            all("TC" in r.flags for r in udp) and all("TC" not in r.flags and r.count("answer")
                                                      == 3 for r in tcp))
    after = scrape()
    scrape.expect("gslb_responses_truncated_total{udp} rose by exactly %d, TCP's not; both "
                  "counted as answered NOERROR" % N, before, after,
                  [("gslb_responses_truncated_total", {"transport": "udp"}, N),
                   q("udp", "ipv4", "TXT", "NOERROR"), q("tcp", "ipv4", "TXT", "NOERROR")])


# ------------------------------------------------------------------ ECS


def ecs(t, srv, scrape):
    before = scrape()
    london = send_n(srv, N, "www.qm.test", "A", "udp4", ecs=LONDON)
    london6 = send_n(srv, N, "www.qm.test", "AAAA", "tcp4", ecs=LONDON6)
    static = send_n(srv, N, "mail.qm.test", "MX", "udp6", ecs=LONDON)
    scopes = {r.ecs.scopelen if r.ecs else None for r in london}
    scopes6 = {r.ecs.scopelen if r.ecs else None for r in london6}
    scopes0 = {r.ecs.scopelen if r.ecs else None for r in static}
    t.check("ECS echoed: one scope for London (%s), one for its IPv6 network (%s), 0 for a "
            "static name (%s)" % (scopes, scopes6, scopes0),
            len(scopes) == 1 and None not in scopes and len(scopes6) == 1
            and None not in scopes6 and scopes0 == {0})
    s4, s6 = next(iter(scopes)), next(iter(scopes6))
    after = scrape()
    scrape.expect("gslb_ecs_queries_total by the option's family and gslb_ecs_responses_total "
                  "by scope (%d, %d, 0) rose by exactly %d each" % (s4, s6, N), before, after,
                  [("gslb_ecs_queries_total", {"family": "ipv4"}, 2 * N),
                   ("gslb_ecs_queries_total", {"family": "ipv6"}, N),
                   ("gslb_ecs_responses_total", {"family": "ipv4", "scope": str(s4)}, N),
                   ("gslb_ecs_responses_total", {"family": "ipv6", "scope": str(s6)}, N),
                   ("gslb_ecs_responses_total", {"family": "ipv4", "scope": "0"}, N),
                   q("udp", "ipv4", "A", "NOERROR"), q("tcp", "ipv4", "AAAA", "NOERROR"),
                   q("udp", "ipv6", "MX", "NOERROR")])


# ------------------------------------------------------------------ TCP connections


def tcp_connections(t, srv, scrape):
    before = scrape()
    send_n(srv, N, "mail.qm.test", "MX", "tcp4")
    send_n(srv, N, "mail.qm.test", "MX", "tcp6")
    ok, after = scrape.wait(before, "gslb_tcp_connections_closed_total", 2 * N, reason="client")
    t.check("closed by the client counted within 5 s", ok)
    conn = ("gslb_tcp_connections_accepted_total", "gslb_tcp_connections_closed_total")
    scrape.expect("one connection per TCP query: accepted and closed by the client rose by "
                  "exactly %d" % (2 * N), before, after,
                  [("gslb_tcp_connections_accepted_total", {}, 2 * N),
                   ("gslb_tcp_connections_closed_total", {"reason": "client"}, 2 * N)], conn)
    t.eq("gslb_tcp_connections_open: none left open", 0,
         prom.value(after, "gslb_tcp_connections_open"))


def tcp_cap_and_idle(t, srv, scrape):
    """The second gslbd: one loop, at most 2 connections, idle after 1 s."""
    before = scrape()
    conns = []
    for _ in range(4):
        conns.append(socket.create_connection(("127.0.0.1", srv.port), timeout=2))
        time.sleep(0.2)
    ok, mid = scrape.wait(before, "gslb_tcp_connections_closed_total", 2, reason="evicted")
    t.eq("4 silent connections at a cap of 2: accepted 4, evicted 2, 2 open",
         (4, 2, 2), (prom.delta(before, mid, "gslb_tcp_connections_accepted_total"),
                     prom.delta(before, mid, "gslb_tcp_connections_closed_total",
                                reason="evicted"),
                     prom.value(mid, "gslb_tcp_connections_open")))
    ok, after = scrape.wait(before, "gslb_tcp_connections_closed_total", 2, reason="idle")
    t.check("the two left closed idle after --tcp-timeout 1", ok)
    conn = ("gslb_tcp_connections_accepted_total", "gslb_tcp_connections_closed_total")
    scrape.expect("closed: 2 evicted, 2 idle, nothing else", before, after,
                  [("gslb_tcp_connections_accepted_total", {}, 4),
                   ("gslb_tcp_connections_closed_total", {"reason": "evicted"}, 2),
                   ("gslb_tcp_connections_closed_total", {"reason": "idle"}, 2)], conn)
    t.eq("none open", 0, prom.value(after, "gslb_tcp_connections_open"))
    for c in conns:
        c.close()


# ------------------------------------------------------------------ answers per service


def region_answers(m, svc, region):
    return prom.value(m, "gslb_service_region_answers_total", zone="qm.test", service=svc,
                      region=region) or 0


def mode_answers(m, svc, mode):
    return prom.value(m, "gslb_service_answers_total", zone="qm.test", service=svc,
                      mode=mode) or 0


SERVICE_FAMILIES = ("gslb_service_region_answers_total", "gslb_service_answers_total")


def svc_moved(scrape, before, after):
    return scrape.moved(before, after, SERVICE_FAMILIES)


def sa(svc, mode, n=N):
    return ("gslb_service_answers_total", {"zone": "qm.test", "service": svc, "mode": mode}, n)


def sr(svc, region, n=N):
    return ("gslb_service_region_answers_total",
            {"zone": "qm.test", "service": svc, "region": region}, n)


def answers(t, srv, ctl, scrape):
    m = scrape()
    t.eq("every service's answers by mode (7, shed among them) are there from the start",
         4 * 7, len(prom.select(m, "gslb_service_answers_total", zone="qm.test")))

    def batch(what, svc, want, expect_answer):
        before = scrape()
        got = send_n(srv, N, "%s.qm.test" % svc, "A", "udp4", ecs=LONDON)
        answered = {" ".join(sorted(rd.to_text() for _, _, rd in r.section("answer")))
                    for r in got}
        rcodes = {r.rcode for r in got}
        t.check("%s: %d London queries for %s answered %s (%s, %s)"
                % (what, N, svc, expect_answer, answered, rcodes),
                answered == {expect_answer[0]} and rcodes == {expect_answer[1]})
        after = scrape()
        scrape.expect("%s: %s" % (what, ", ".join("%s %s" % (w[1].get("mode") or w[1].get(
            "region"), w[2]) for w in want)), before, after, want, SERVICE_FAMILIES)
        return after

    batch("by health", "www", [sr("www", "eu-west"), sa("www", "health")],
          ("198.51.100.10", "NOERROR"))
    r = ctl.run("drain", "eu-west")
    t.check("gslbctl drain eu-west", r.status == 0, r.out)
    batch("eu-west drained", "www", [sr("www", "us-east"), sa("www", "failover")],
          ("192.0.2.10", "NOERROR"))
    r = ctl.run("drain", "us-east")
    t.check("gslbctl drain us-east", r.status == 0, r.out)
    batch("both drained: answered all the same", "www",
          [sr("www", "eu-west"), sa("www", "failing_open")], ("198.51.100.10", "NOERROR"))
    for region in ("eu-west", "us-east"):
        r = ctl.run("down", region)
        t.check("gslbctl down %s" % region, r.status == 0, r.out)
    batch("both down", "www", [sr("www", "eu-west"), sa("www", "failing_open")],
          ("198.51.100.10", "NOERROR"))
    batch("both down", "nod", [sa("nod", "nodata")], ("", "NOERROR"))
    before = scrape()
    batch("both down", "sf", [sa("sf", "servfail")], ("", "SERVFAIL"))
    scrape.expect("SERVFAIL answers are queries with rcode SERVFAIL", before, scrape(),
                  [q("udp", "ipv4", "A", "SERVFAIL")], ("gslb_queries_total",))
    batch("both down", "fb", [sr("fb", "us-east"), sa("fb", "fallback")],
          ("192.0.2.10", "NOERROR"))
    for region in ("eu-west", "us-east"):
        r = ctl.run("auto", region)
        t.check("gslbctl auto %s" % region, r.status == 0, r.out)
    batch("back to health", "www", [sr("www", "eu-west"), sa("www", "health")],
          ("198.51.100.10", "NOERROR"))


def reload_keeps_totals(t, srv, ctl, scrape, zfile):
    before = scrape()
    zfile.write_text(zone_text(ttl=301))
    r = ctl.run("reload")
    t.check("gslbctl reload: the edit loaded", r.status == 0, r.out)
    mid = scrape()
    t.eq("after the reload the services' totals are where they were", {},
         svc_moved(scrape, before, mid))
    send_n(srv, N, "www.qm.test", "A", "udp4", ecs=LONDON)
    after = scrape()
    scrape.expect("and count on from there", mid, after,
                  [sr("www", "eu-west"), sa("www", "health")], SERVICE_FAMILIES)


def monotonic(t, first, last):
    back = [(k, first[k], last.get(k)) for k in first
            if k[0].endswith("_total") and (last.get(k) is None or last[k] < first[k])]
    t.eq("no counter went back or vanished between the first scrape and the last", [], back)


# ------------------------------------------------------------------ rate limiting


def rate_limited(t, srv, scrape):
    """The second gslbd: --rrl-exempt none --rrl-rate 1 --rrl-slip 2."""
    before = scrape()
    n = 20
    wires = []
    for i in range(n):
        m = dnsq.make_query("www.qm.test", "A", edns=None, qid=1000 + i)
        wires.append(m.to_wire())
    replies, tc = 0, 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        for w in wires:
            s.sendto(w, ("127.0.0.1", srv.port))
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                data = s.recv(4096)
            except socket.timeout:
                break
            replies += 1
            tc += bool(data[2] & 0x02)
    dropped = n - replies
    t.check("a burst of %d: some answered, some slipped (TC), some dropped (%d, %d, %d)"
            % (n, replies - tc, tc, dropped), replies - tc > 0 and tc > 0 and dropped > 0)
    after = scrape()
    scrape.expect("as the client saw it: rrl dropped %d, slipped %d, dropped queries "
                  "rate_limited %d, answered %d" % (dropped, tc, dropped, replies),
                  before, after,
                  [("gslb_rrl_responses_total", {"action": "dropped"}, dropped),
                   ("gslb_rrl_responses_total", {"action": "slipped"}, tc),
                   ("gslb_queries_dropped_total", {"transport": "udp", "reason": "rate_limited"},
                    dropped),
                   q("udp", "ipv4", "A", "NOERROR", replies)])


def main(t):
    zdir = t.path("zones")
    zdir.mkdir()
    zfile = zdir / "qm.test.yaml"
    zfile.write_text(zone_text())
    ctl_path = str(t.path("ctl"))
    hport = g.free_port()
    srv = g.Gslbd(t, "gslbd", zones=zdir,
                  args=["--threads", 2, "--control", ctl_path, "--http", "127.0.0.1:%d" % hport])
    if not t.start(srv):
        t.bail("gslbd starts with --http", *srv.why)
    ctl = g.Gslbctl(t, ctl_path)
    scrape = Scraper(t, hport)
    first = scrape()

    queries(t, srv, scrape)
    malformed(t, srv, scrape)
    truncated(t, srv, scrape)
    ecs(t, srv, scrape)
    tcp_connections(t, srv, scrape)
    answers(t, srv, ctl, scrape)
    reload_keeps_totals(t, srv, ctl, scrape, zfile)
    monotonic(t, first, scrape())
    t.eq("gslbd stops with status 0", 0, srv.stop())

    hport2 = g.free_port()
    srv2 = g.Gslbd(t, "gslbd-limited", zones=zdir, addresses=("127.0.0.1",),
                   args=["--threads", 1, "--tcp-max", 2, "--tcp-timeout", 1,
                         "--rrl-exempt", "none", "--rrl-rate", 1, "--rrl-slip", 2,
                         "--http", "127.0.0.1:%d" % hport2])
    if not t.start(srv2):
        t.bail("a second gslbd starts (one loop, --tcp-max 2, rate limiting)", *srv2.why)
    scrape2 = Scraper(t, hport2)
    rate_limited(t, srv2, scrape2)
    tcp_cap_and_idle(t, srv2, scrape2)
    t.eq("the second gslbd stops with status 0", 0, srv2.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
