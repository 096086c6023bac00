"""dnsclient: the benchmark's own DNS client, on dnspython.

Makes the benchmark's queries (EDNS(0), optionally with a Client Subnet
option, RFC 7871), reads the parts of a reply the benchmark checks (rcode,
answer addresses, SOA serial, ECS scope), and sends queries over UDP (a bounded
window in flight) or TCP (one new connection per query). It also writes
dnsperf's binary input format (-B: each message preceded by its two-byte
length, as on a TCP stream).

Messages are encoded and decoded by dnspython (dns.message); this module does
not touch the wire format beyond the two-byte ID at the front of a message and
the two-byte length in front of one on a stream. The sockets are its own
because dnspython's dns.query sends one query and waits for its reply, and
phase a needs a window of queries in flight. Every socket call is bounded by a
timeout.
"""

import ipaddress
import socket
import time

import dns.edns
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

# The EDNS payload size of DNS Flag Day 2020.
EDNS_PAYLOAD = 1232


def query(name, qtype="A", subnet=None):
    """Wire bytes of one query for `name`, with message ID 0 (the senders
    below number their own). `subnet` (e.g. "81.2.69.0/24") adds ECS with
    that source prefix length.

    The bytes are those of the hand-written encoder this replaced, which
    every instruction count in bench/results.md was measured with: no RD flag
    (both servers are authoritative only), the name as given, EDNS(0) with
    EDNS_PAYLOAD, and no option but ECS, only when asked for. A change here
    changes what phase a measures."""
    options = []
    if subnet:
        net = ipaddress.ip_network(subnet, strict=False)
        # Scope 0, as RFC 7871 6 asks of queries; dnspython zeroes the
        # address bits beyond the source prefix, as RFC 7871 6 also asks.
        options.append(dns.edns.ECSOption(str(net.network_address), net.prefixlen))
    msg = dns.message.make_query(name, qtype, use_edns=0, payload=EDNS_PAYLOAD,
                                 options=options, id=0, flags=0)
    return msg.to_wire()


def with_id(wire, qid):
    """`wire` with its message ID replaced: the first 16 bits of the header
    (RFC 1035 4.1.1). Cheaper than parsing and encoding the query again."""
    return (qid & 0xFFFF).to_bytes(2, "big") + wire[2:]


class Reply:
    """The parts of a reply the benchmark compares."""

    __slots__ = ("qid", "rcode_name", "addrs", "serial", "scope")

    def __init__(self, wire):
        # One RR per rrset: an address a server repeats is kept twice, so the
        # agreement check sees it instead of dnspython merging it away.
        msg = dns.message.from_wire(wire, one_rr_per_rrset=True)
        self.qid = msg.id
        self.rcode_name = dns.rcode.to_text(msg.rcode())
        self.addrs, self.serial, self.scope = [], None, None
        for rrset in msg.answer:
            for rd in rrset:
                if rd.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    # ipaddress's text form, the one the zone and the
                    # benchmark's expected answers are written in.
                    self.addrs.append(str(ipaddress.ip_address(rd.address)))
                elif rd.rdtype == dns.rdatatype.SOA:
                    self.serial = rd.serial
        for opt in msg.options:
            if opt.otype == dns.edns.ECS:
                self.scope = opt.scopelen
        self.addrs.sort()


def udp_window(addr, queries, window=1, timeout=2.0, deadline=None):
    """Send `queries` (wire bytes, any ID) over UDP with at most `window` in
    flight. Returns one Reply (or None when lost) per query, in order. Stops
    early, leaving None, if `deadline` (time.monotonic) passes."""
    fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    replies = [None] * len(queries)
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.connect(addr)
        s.settimeout(timeout)
        i = 0
        while i < len(queries):
            if deadline is not None and time.monotonic() > deadline:
                break
            batch = range(i, min(i + window, len(queries)))
            want = {k & 0xFFFF: k for k in batch}
            try:
                for k in batch:
                    s.send(with_id(queries[k], k))
            except OSError:  # ICMP port unreachable from an earlier send
                want = {}
            while want:
                try:
                    r = Reply(s.recv(65535))
                except OSError:  # timeout, or nothing listening
                    break
                k = want.pop(r.qid, None)
                if k is not None:
                    replies[k] = r
            i = batch.stop
    return replies


def tcp_each(addr, queries, timeout=2.0, deadline=None):
    """Send each query on its own new TCP connection; replies as udp_window."""
    replies = [None] * len(queries)
    for k, q in enumerate(queries):
        if deadline is not None and time.monotonic() > deadline:
            break
        try:
            with socket.create_connection(addr, timeout=timeout) as s:
                s.settimeout(timeout)
                s.sendall(_framed(with_id(q, k)))
                replies[k] = Reply(_recv_frame(s))
        except (OSError, ValueError, dns.exception.DNSException):
            replies[k] = None
    return replies


def _framed(wire):
    """A message as sent on a stream: its length first (RFC 1035 4.2.2)."""
    return len(wire).to_bytes(2, "big") + wire


def _recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ValueError("connection closed")
        buf += chunk
    return bytes(buf)


def _recv_frame(s):
    return _recv_exact(s, int.from_bytes(_recv_exact(s, 2), "big"))


def ask(addr, name, qtype="A", subnet=None, timeout=1.0, tries=3):
    """One UDP query with retries; Reply or None."""
    q = query(name, qtype, subnet=subnet)
    for _ in range(tries):
        r = udp_window(addr, [q], 1, timeout)[0]
        if r is not None:
            return r
    return None


def write_dnsperf_binary(path, queries):
    """dnsperf -B input: each message framed as on a TCP stream."""
    with open(path, "wb") as f:
        for q in queries:
            f.write(_framed(q))
