"""dnswire: just enough DNS wire format for the benchmark's own clients.

Builds queries (with EDNS(0) and an optional Client Subnet option, RFC 7871),
parses the parts of a reply the benchmark checks (rcode, answer addresses, SOA
serial, ECS scope), and sends queries over UDP (a bounded window in flight) or
TCP (one new connection per query). It also writes dnsperf's binary input
format (-B: each message preceded by its two-byte length, as on a TCP stream).

It is not a general DNS library: no name compression on output, no record
types beyond A, AAAA, SOA and OPT on input, and every socket call is bounded
by a timeout.
"""

import ipaddress
import socket
import struct
import time

TYPE_A, TYPE_NS, TYPE_SOA, TYPE_AAAA, TYPE_OPT = 1, 2, 6, 28, 41
TYPES = {"A": TYPE_A, "NS": TYPE_NS, "SOA": TYPE_SOA, "AAAA": TYPE_AAAA}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
OPT_ECS = 8


def encode_name(name):
    out = bytearray()
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("ascii")
            out.append(len(raw))
            out += raw
    out.append(0)
    return bytes(out)


def ecs_option(subnet):
    """The ECS option (code, length, data) for an ipaddress network, scope 0."""
    net = ipaddress.ip_network(subnet, strict=False)
    family = 1 if net.version == 4 else 2
    nbytes = (net.prefixlen + 7) // 8
    addr = net.network_address.packed[:nbytes]
    data = struct.pack("!HBB", family, net.prefixlen, 0) + addr
    return struct.pack("!HH", OPT_ECS, len(data)) + data


def build_query(name, qtype="A", qid=0, edns=True, subnet=None, rd=False):
    """Wire bytes of one query. `subnet` (e.g. "81.2.69.0/24") adds ECS."""
    flags = 0x0100 if rd else 0
    arcount = 1 if edns else 0
    msg = struct.pack("!HHHHHH", qid & 0xFFFF, flags, 1, 0, 0, arcount)
    msg += encode_name(name) + struct.pack("!HH", TYPES[qtype], 1)
    if edns:
        opts = ecs_option(subnet) if subnet else b""
        msg += b"\x00" + struct.pack("!HHIH", TYPE_OPT, 1232, 0, len(opts)) + opts
    return msg


def set_id(msg, qid):
    return struct.pack("!H", qid & 0xFFFF) + msg[2:]


def _skip_name(msg, pos):
    while True:
        n = msg[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:
            return pos + 2
        pos += n + 1


class Reply:
    """The parts of a reply the benchmark compares."""

    __slots__ = ("qid", "rcode", "aa", "tc", "addrs", "serial", "scope", "ancount")

    def __init__(self, msg):
        qid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", msg, 0)
        self.qid, self.rcode = qid, flags & 0xF
        self.aa, self.tc = bool(flags & 0x0400), bool(flags & 0x0200)
        self.ancount, self.addrs, self.serial, self.scope = an, [], None, None
        pos = 12
        for _ in range(qd):
            pos = _skip_name(msg, pos) + 4
        for i in range(an + ns + ar):
            pos = _skip_name(msg, pos)
            rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", msg, pos)
            pos += 10
            rdata = msg[pos:pos + rdlen]
            if i < an and rtype == TYPE_A and rdlen == 4:
                self.addrs.append(str(ipaddress.IPv4Address(rdata)))
            elif i < an and rtype == TYPE_AAAA and rdlen == 16:
                self.addrs.append(str(ipaddress.IPv6Address(rdata)))
            elif rtype == TYPE_SOA and i < an:
                end = _skip_name(msg, _skip_name(msg, pos))
                self.serial = struct.unpack_from("!I", msg, end)[0]
            elif rtype == TYPE_OPT:
                self._opt(rdata)
            pos += rdlen
        self.addrs.sort()

    def _opt(self, rdata):
        p = 0
        while p + 4 <= len(rdata):
            code, olen = struct.unpack_from("!HH", rdata, p)
            if code == OPT_ECS and olen >= 4:
                self.scope = rdata[p + 7]
            p += 4 + olen

    @property
    def rcode_name(self):
        return RCODES.get(self.rcode, str(self.rcode))


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
                    s.send(set_id(queries[k], k))
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
    fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    replies = [None] * len(queries)
    for k, q in enumerate(queries):
        if deadline is not None and time.monotonic() > deadline:
            break
        try:
            with socket.create_connection(addr, timeout=timeout) as s:
                s.settimeout(timeout)
                q = set_id(q, k)
                s.sendall(struct.pack("!H", len(q)) + q)
                replies[k] = Reply(_recv_frame(s))
        except (OSError, ValueError, struct.error):
            replies[k] = None
    return replies


def _recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ValueError("connection closed")
        buf += chunk
    return bytes(buf)


def _recv_frame(s):
    (n,) = struct.unpack("!H", _recv_exact(s, 2))
    return _recv_exact(s, n)


def ask(addr, name, qtype="A", subnet=None, timeout=1.0, tries=3):
    """One UDP query with retries; Reply or None."""
    q = build_query(name, qtype, subnet=subnet)
    for _ in range(tries):
        r = udp_window(addr, [q], 1, timeout)[0]
        if r is not None:
            return r
    return None


def write_dnsperf_binary(path, queries):
    """dnsperf -B input: each message preceded by its length (RFC 1035 4.2.2)."""
    with open(path, "wb") as f:
        for q in queries:
            f.write(struct.pack("!H", len(q)) + q)
