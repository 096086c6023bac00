#!/usr/bin/env python3
"""test_rrl.py: response rate limiting over UDP, and DNS cookies as the way past it.

A reflection attack sends gslbd queries with a victim's address as the source; every
answer then goes to the victim, larger than the query. These tests send bounded bursts
(hundreds of queries, as fast as one socket can) from one loopback address and count
what comes back: answered, slipped (TC set, or BADCOOKIE for a client with a cookie)
or dropped, and the bytes out against the bytes in. Loopback is exempt by default (no
one can forge it from outside, and the other suites query from it), so the limited
servers here are started with --rrl-exempt none and a small --rrl-rate.

Also checked: another client network, IPv6 and TCP are answered while one network is
limited; a client holding a valid server cookie is never limited (RFC 7873); the budget
refills; log mode limits nothing; what is limited is logged once, not per packet; the
options are checked.

Not here: the budgets' arithmetic per class and name (tests/unit/test_rrl.c).
"""

import os
import socket
import struct
import time

import dns.message

import gslbtest as g

RATE = 20
BURST = 400
WWW = "www.gslb.example.com"


def with_id(wire, qid):
    return struct.pack("!H", qid) + wire[2:]


class Burst:
    """`count` copies of a query sent as fast as one UDP socket bound to `src` can, then
    every reply read until none has come for `quiet` seconds (bounded by `deadline`).
    Each reply is classed by its header: answered (records in it), slipped (TC, no
    records), badcookie (RCODE 23, no records), other; no reply is dropped."""

    def __init__(self, port, wire, count, src="127.0.0.1", quiet=0.7, deadline=10.0):
        family = socket.AF_INET6 if ":" in src else socket.AF_INET
        self.replies = {}
        self.bytes_in = 0
        self.bytes_out = 0
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((g.loopback(src), 0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            start = time.monotonic()
            for i in range(count):
                q = with_id(wire, i)
                s.sendto(q, ("127.0.0.1" if family == socket.AF_INET else "::1", port))
                self.bytes_in += len(q)
            self.send_seconds = time.monotonic() - start
            stop = start + deadline
            while len(self.replies) < count and time.monotonic() < stop:
                s.settimeout(quiet)
                try:
                    data = s.recv(65535)
                except socket.timeout:
                    break
                self.replies[struct.unpack("!H", data[:2])[0]] = data
                self.bytes_out += len(data)
        self.count = count
        self.answered = self.slipped = self.badcookie = self.other = 0
        for data in self.replies.values():
            records = struct.unpack("!HH", data[6:10])
            rcode = data[3] & 0x0F
            if data[2] & 0x02 and records == (0, 0):
                self.slipped += 1
            elif rcode == 7 and records == (0, 0) and extended_rcode(data) == 23:
                self.badcookie += 1
            elif rcode == 0 and records[0] > 0:
                self.answered += 1
            else:
                self.other += 1
        self.dropped = count - len(self.replies)

    def limited(self):
        return self.slipped + self.badcookie + self.dropped

    def amplification(self):
        return self.bytes_out / self.bytes_in if self.bytes_in else 0.0

    def __str__(self):
        return ("%d sent in %.3f s: %d answered, %d slipped (TC), %d BADCOOKIE, %d dropped, "
                "%d other; %d bytes in, %d out (x%.2f)" % (
                    self.count, self.send_seconds, self.answered, self.slipped,
                    self.badcookie, self.dropped, self.other, self.bytes_in, self.bytes_out,
                    self.amplification()))


def extended_rcode(wire):
    """The full RCODE of a reply (header bits and the OPT's extension), or None."""
    try:
        return dns.message.from_wire(wire).rcode()
    except Exception:  # noqa: BLE001: any reply dnspython cannot read has no RCODE here
        return None


def query(qname=WWW, qtype="A", **kw):
    return g.make_query(qname, qtype, qid=0, **kw).to_wire()


def cookie_of(wire):
    """The COOKIE option's bytes in a reply, or None."""
    try:
        msg = dns.message.from_wire(wire)
    except Exception:  # noqa: BLE001
        return None
    for o in msg.options:
        if o.otype == 10:
            return getattr(o, "data", None)
    return None


def within_budget(b, rate=RATE):
    """At most a second's budget plus what refilled while the burst was sent."""
    return rate + int(rate * (b.send_seconds + 0.2)) + 1


def loopback_exempt_by_default(t, zones):
    srv = g.Gslbd(t, "rrl-default", zones=zones)
    t.start(srv, "gslbd starts with rate limiting at its defaults", bail=True)
    b = Burst(srv.port, query(), BURST)
    t.diag("default, from 127.0.0.1: %s" % b)
    t.eq("loopback is exempt by default: every query of a burst answered (the other suites "
         "rely on it)", BURST, b.answered)
    t.unlike("nothing logged as limited", r"rate limit", srv.log())
    t.eq("SIGTERM exits 0", 0, srv.stop())


def limited(t, zones):
    srv = g.Gslbd(t, "rrl", zones=zones,
                  args=["--rrl-exempt", "none", "--rrl-rate", RATE, "--rrl-slip", 2])
    t.start(srv, "gslbd starts with --rrl-exempt none --rrl-rate %d --rrl-slip 2" % RATE,
            bail=True)
    mark = srv.mark()
    b = Burst(srv.port, query(edns=0), BURST)
    t.diag("limited, from 127.0.0.1: %s" % b)
    t.compare("a burst from one network: at most a second's budget answered", b.answered, "<=",
              within_budget(b))
    t.compare("... and at least the budget", b.answered, ">=", RATE)
    t.check("every other limited response slipped (TC), the rest dropped (--rrl-slip 2)",
            abs(b.slipped - b.dropped) <= 2 and b.slipped > 0 and b.other == 0, str(b))
    t.compare("amplification under the limit: fewer bytes out than in", b.amplification(), "<",
              1.0)

    # While 127.0.0.0/24 is over its budget, others are answered.
    other = Burst(srv.port, query(edns=0), 5, src="127.0.1.1")
    t.eq("another /24 (127.0.1.1) is answered", 5, other.answered)
    six = Burst(srv.port, query(edns=0), 5, src="::1")
    t.eq("IPv6 (::1) has budgets of its own", 5, six.answered)
    for tr in ("tcp4", "tcp6"):
        srv.query(WWW, "A", transport=tr).check(
            "RFC 7766: TCP is never limited, from the limited network too (%s)" % tr,
            rcode="NOERROR", noflags="TC")
    slipped = next((w for w in b.replies.values() if w[2] & 0x02), None)
    if slipped is not None:
        r = g.Response(t, None, query(edns=0), slipped, "udp4")
        r.check("a slipped reply: TC set, QR, the answer's RCODE (RFC 1035 4.2.1: retry over "
                "TCP)", rcode="NOERROR", flags="QR TC")
        r.check_count("a slipped reply carries no records but the OPT", answer=0, authority=0,
                      additional=0)
        r.check_edns("a slipped reply keeps the OPT (RFC 6891 7)", version=0, payload=1232)
        r.check_question("a slipped reply echoes the question", "%s. IN A" % WWW)
    q = g.make_query(WWW, "A", edns=0)
    got = g.exchange(srv.port, q, "udp4", test=t, fallback=True)
    got.check("a client that retries a truncated reply over TCP gets the answer",
              rcode="NOERROR", noflags="TC")

    # Other classes, other budgets: NXDOMAIN is one budget for the zone.
    nx = Burst(srv.port, query("nx%d.gslb.example.com" % 1, edns=0), 1)
    t.eq("a new class (NXDOMAIN) has a budget of its own", 0, nx.dropped + nx.slipped)
    names = [query("random%d.gslb.example.com" % i, edns=0) for i in range(BURST)]
    many = MultiBurst(srv.port, names)
    t.diag("NXDOMAIN for %d different names: %s" % (BURST, many))
    t.compare("NXDOMAIN is limited per zone, whatever the name", many.answered, "<=",
              within_budget(many))

    # The budget refills.
    time.sleep(1.2)
    r = g.udp_exchange("127.0.0.1", srv.port, with_id(query(edns=0), 7))
    t.check("a second later the network is answered again", r is not None and not r[2] & 0x02
            and struct.unpack("!H", r[6:8])[0] > 0, repr(r))

    cookies(t, srv)

    log = srv.log(since=mark)
    lines = [x for x in log.splitlines() if "rate limit:" in x]
    t.check("the limiting is logged with the network and the query", any(
        "127.0.0.0/24" in x and "www.gslb.example.com" in x for x in lines), *lines)
    t.compare("logged once, not per packet (at most one line per 30 s)", len(lines), "<=", 2)
    status = srv.stop()
    t.eq("SIGTERM exits 0", 0, status)
    t.like("the stop reports what was limited in all", r"rate limit: \d+ responses dropped, "
           r"\d+ sent truncated", srv.log())


class MultiBurst(Burst):
    """A burst of different queries (`wires`), one each, from 127.0.0.1."""

    def __init__(self, port, wires, quiet=0.7):
        self.replies = {}
        self.bytes_in = self.bytes_out = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            start = time.monotonic()
            for i, w in enumerate(wires):
                q = with_id(w, i)
                s.sendto(q, ("127.0.0.1", port))
                self.bytes_in += len(q)
            self.send_seconds = time.monotonic() - start
            stop = start + 10
            while len(self.replies) < len(wires) and time.monotonic() < stop:
                s.settimeout(quiet)
                try:
                    data = s.recv(65535)
                except socket.timeout:
                    break
                self.replies[struct.unpack("!H", data[:2])[0]] = data
                self.bytes_out += len(data)
        self.count = len(wires)
        self.answered = sum(1 for d in self.replies.values()
                            if not d[2] & 0x02 and d[3] & 0x0F == 3)
        self.slipped = sum(1 for d in self.replies.values() if d[2] & 0x02)
        self.badcookie = 0
        self.other = len(self.replies) - self.answered - self.slipped
        self.dropped = self.count - len(self.replies)


def cookies(t, srv):
    """RFC 7873: a client that returns our server cookie has proven its address."""
    client = os.urandom(8)
    time.sleep(1.2)  # a fresh budget for www A
    wire = query(edns=0, options=[(10, client)])
    cookie = None
    for i in range(5):  # the first reply may itself be slipped: it carries a cookie too
        r = g.udp_exchange("127.0.0.1", srv.port, with_id(wire, 100 + i))
        cookie = cookie_of(r) if r else None
        if cookie:
            break
    t.check("RFC 7873 5.2.3: a client cookie gets a server cookie back", cookie is not None and
            len(cookie) == 24 and cookie[:8] == client, repr(cookie))
    if not cookie:
        return
    valid = Burst(srv.port, query(edns=0, options=[(10, cookie)]), BURST)
    t.diag("with a valid server cookie: %s" % valid)
    t.eq("RFC 7873 5.2.5: a client with a valid server cookie is never limited", BURST,
         valid.answered)
    alone = Burst(srv.port, query(edns=0, options=[(10, client)]), BURST)
    t.diag("with a client cookie alone: %s" % alone)
    t.compare("a client cookie alone proves nothing: limited", alone.answered, "<=",
              within_budget(alone))
    t.check("RFC 7873 5.2.3: its slipped replies are BADCOOKIE, not TC, so it retries over "
            "UDP with the cookie", alone.badcookie > 0 and alone.slipped == 0, str(alone))
    bad = next((w for w in alone.replies.values() if w[3] & 0x0F == 7), None)
    got = cookie_of(bad) if bad else None
    t.check("... and carry a new server cookie", got is not None and got[:8] == client and
            len(got) == 24, repr(got))


def log_only(t, zones):
    srv = g.Gslbd(t, "rrl-log", zones=zones,
                  args=["--rrl", "log", "--rrl-exempt", "none", "--rrl-rate", RATE])
    t.start(srv, "gslbd starts with --rrl log", bail=True)
    b = Burst(srv.port, query(edns=0), BURST)
    t.diag("log only: %s" % b)
    t.eq("--rrl log: every query of the burst answered", BURST, b.answered)
    t.ok("--rrl log: it logs what it would have limited") if srv.wait_log(
        r"rate limit \(log only\): responses to 127\.0\.0\.0/24", 3) else t.not_ok(
        "--rrl log: it logs what it would have limited", srv.log())
    t.eq("SIGTERM exits 0", 0, srv.stop())


def off(t, zones):
    srv = g.Gslbd(t, "rrl-off", zones=zones,
                  args=["--rrl", "off", "--rrl-exempt", "none", "--rrl-rate", RATE])
    t.start(srv, "gslbd starts with --rrl off", bail=True)
    b = Burst(srv.port, query(edns=0), BURST)
    t.eq("--rrl off: every query of the burst answered", BURST, b.answered)
    t.eq("SIGTERM exits 0", 0, srv.stop())


def options(t, zones):
    srv = g.Gslbd(t, "rrl-options", zones=zones)
    for args, why in ((["--rrl", "maybe"], "expected on, off or log"),
                      (["--rrl-rate", "0"], "from 1 to 1000000"),
                      (["--rrl-slip", "-1"], "from 0 to 100"),
                      (["--rrl-ipv4-prefix", "33"], "from 1 to 32"),
                      (["--rrl-ipv6-prefix", "0"], "from 1 to 128"),
                      (["--rrl-exempt", "10.0.0.0/33"], "ADDR\\[/PREFIX\\]")):
        r = srv.run("--zones", zones, "--listen", "127.0.0.1:%d" % g.free_port(), *args)
        t.eq("%s: exit status 2" % " ".join(args), 2, r.status)
        t.like("%s: says what is expected" % " ".join(args), why, r.out)
    r = srv.run("--help")
    t.like("--help documents the rate limiting options",
           r"--rrl on\|off\|log[\s\S]*--rrl-rate N[\s\S]*--rrl-slip N[\s\S]*--rrl-ipv4-prefix"
           r"[\s\S]*--rrl-ipv6-prefix[\s\S]*--rrl-exempt NET", r.out)


def main(t):
    zones = g.write_example_zone(t).parent
    loopback_exempt_by_default(t, zones)
    limited(t, zones)
    log_only(t, zones)
    off(t, zones)
    options(t, zones)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
