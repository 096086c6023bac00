#!/usr/bin/env python3
"""dnstool: the raw-socket DNS client the end-to-end tests use where dig cannot go.

It builds queries byte by byte (so it can also build broken ones), sends them over
UDP or TCP to a server on loopback, and prints what came back in a fixed line format
the shell tests compare against. It covers malformed packets, TCP pipelining, idle
and connection-cap behaviour, name compression, and bounded query loads.

It does not resolve, retry or follow anything: one question, one look at the reply.
It only talks to the address given on the command line, which the tests always set
to 127.0.0.1 or ::1. Standard library only (no dnspython on the test machines).
"""

import argparse
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

TYPES = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "HINFO": 13, "MX": 15,
    "TXT": 16, "AAAA": 28, "SRV": 33, "NAPTR": 35, "OPT": 41, "DS": 43,
    "IXFR": 251, "AXFR": 252, "ANY": 255, "CAA": 257,
}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {
    0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
    5: "REFUSED", 9: "NOTAUTH", 16: "BADVERS",
}


class Malformed(Exception):
    """The reply could not be parsed; the message says where."""


# ---------------------------------------------------------------- building

def encode_name(name):
    """Wire form of a dotted name, letter case kept, no compression."""
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("ascii")
            out += bytes([len(raw)]) + raw
    return out + b"\x00"


def header(qid, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def question(name, qtype="A", qclass=1):
    t = TYPES[qtype] if isinstance(qtype, str) else qtype
    return encode_name(name) + struct.pack("!HH", t, qclass)


def opt_rr(bufsize=1232, version=0, do=False, options=b""):
    """An EDNS(0) OPT pseudo-record (RFC 6891 s6.1.2)."""
    ttl = (version << 16) | (0x8000 if do else 0)
    return b"\x00" + struct.pack("!HHIH", 41, bufsize, ttl, len(options)) + options


def make_query(name, qtype="A", qid=None, rd=True, opcode=0, edns=None, qclass=1):
    """A well-formed query; edns is None (no OPT) or a dict of opt_rr() arguments."""
    if qid is None:
        qid = random.randrange(65536)
    flags = (opcode << 11) | (0x0100 if rd else 0)
    ar = 0 if edns is None else 1
    msg = header(qid, flags, 1, 0, 0, ar) + question(name, qtype, qclass)
    if edns is not None:
        msg += opt_rr(**edns)
    return qid, msg


# ---------------------------------------------------------------- parsing

class Reader:
    """Walks a reply, decoding names (following pointers) and counting pointers."""

    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.pointers = 0
        self.uncompressed = 0  # size the message would have with no pointers

    def take(self, n):
        if self.pos + n > len(self.data):
            raise Malformed("short read at offset %d" % self.pos)
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        self.uncompressed += n
        return chunk

    def name(self):
        """Decode the name at the cursor; counts its full uncompressed length."""
        labels = []
        pos = self.pos
        end = None  # where the cursor goes: after the in-place part of the name
        hops = 0
        while True:
            if pos >= len(self.data):
                raise Malformed("name runs past the end")
            length = self.data[pos]
            if length & 0xC0 == 0xC0:
                if pos + 1 >= len(self.data):
                    raise Malformed("cut pointer")
                if end is None:
                    end = pos + 2
                    self.pointers += 1
                hops += 1
                target = ((length & 0x3F) << 8) | self.data[pos + 1]
                if hops > 64 or target >= pos:
                    raise Malformed("bad pointer at %d" % pos)
                pos = target
                continue
            if length & 0xC0:
                raise Malformed("bad label type at %d" % pos)
            if length == 0:
                end = pos + 1 if end is None else end
                break
            labels.append(self.data[pos + 1:pos + 1 + length].decode("ascii", "replace"))
            pos += 1 + length
        text = ".".join(labels) + "."
        self.pos = end
        self.uncompressed += len(encode_name(text))
        return text


def fmt_rdata(rd, rtype, rdlen):
    end = rd.pos + rdlen
    if rtype == 1 and rdlen == 4:
        return socket.inet_ntop(socket.AF_INET, rd.take(4))
    if rtype == 28 and rdlen == 16:
        return socket.inet_ntop(socket.AF_INET6, rd.take(16))
    if rtype in (2, 5, 12):
        return rd.name()
    if rtype == 6:
        mname = rd.name()
        rname = rd.name()
        vals = struct.unpack("!IIIII", rd.take(20))
        return "%s %s %s" % (mname, rname, " ".join(str(v) for v in vals))
    if rtype == 15:
        pref = struct.unpack("!H", rd.take(2))[0]
        return "%d %s" % (pref, rd.name())
    if rtype == 33:
        prio, weight, port = struct.unpack("!HHH", rd.take(6))
        return "%d %d %d %s" % (prio, weight, port, rd.name())
    if rtype == 16:
        parts = []
        while rd.pos < end:
            n = rd.take(1)[0]
            parts.append('"%s"' % rd.take(n).decode("ascii", "replace"))
        return " ".join(parts)
    return "\\# %d %s" % (rdlen, rd.take(rdlen).hex())


def parse_reply(data):
    """Decode a whole reply into a dict; raises Malformed on garbage."""
    rd = Reader(data)
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", rd.take(12))
    out = {"id": qid, "flags": flags, "counts": (qd, an, ns, ar), "question": [],
           "sections": {"AN": [], "NS": [], "AR": []}, "opt": None}
    for _ in range(qd):
        name = rd.name()
        qtype, qclass = struct.unpack("!HH", rd.take(4))
        out["question"].append("%s %s %s" % (name, class_name(qclass), type_name(qtype)))
    for sec, count in (("AN", an), ("NS", ns), ("AR", ar)):
        for _ in range(count):
            name = rd.name()
            rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", rd.take(10))
            if rtype == 41:
                opt = {"udp": rclass, "ercode": ttl >> 24, "version": (ttl >> 16) & 0xFF,
                       "do": (ttl >> 15) & 1, "options": [], "owner": name}
                end = rd.pos + rdlen
                while rd.pos < end:
                    code, olen = struct.unpack("!HH", rd.take(4))
                    opt["options"].append("%d:%s" % (code, rd.take(olen).hex()))
                if out["opt"] is not None:
                    raise Malformed("two OPT records")
                out["opt"] = opt
                continue
            start = rd.pos
            text = fmt_rdata(rd, rtype, rdlen)
            if rd.pos != start + rdlen:
                raise Malformed("rdata length mismatch in %s %s" % (name, type_name(rtype)))
            out["sections"][sec].append("%s %d %s %s %s" % (
                name, ttl, class_name(rclass), type_name(rtype), text))
    if rd.pos != len(data):
        raise Malformed("%d trailing bytes" % (len(data) - rd.pos))
    out["size"] = len(data)
    out["uncompressed"] = rd.uncompressed
    out["pointers"] = rd.pointers
    return out


def type_name(t):
    return TYPE_NAMES.get(t, "TYPE%d" % t)


def class_name(c):
    return {1: "IN", 3: "CH", 255: "ANY"}.get(c, "CLASS%d" % c)


def flag_text(flags):
    names = [("qr", 0x8000), ("aa", 0x0400), ("tc", 0x0200), ("rd", 0x0100),
             ("ra", 0x0080), ("z", 0x0040), ("ad", 0x0020), ("cd", 0x0010)]
    return " ".join(n for n, bit in names if flags & bit)


def rcode_of(reply):
    code = reply["flags"] & 0xF
    if reply["opt"] is not None:
        code |= reply["opt"]["ercode"] << 4
    return RCODES.get(code, "RCODE%d" % code)


def describe(reply, qid=None):
    """The fixed text form the shell tests compare (one item per line)."""
    lines = ["rcode=%s" % rcode_of(reply),
             "opcode=%d" % ((reply["flags"] >> 11) & 0xF),
             "flags=%s" % flag_text(reply["flags"]),
             "counts=%d %d %d %d" % reply["counts"]]
    if qid is not None:
        lines.append("id_match=%d" % (reply["id"] == qid))
    lines += ["QD: %s" % q for q in reply["question"]]
    for sec in ("AN", "NS", "AR"):
        lines += ["%s: %s" % (sec, rr) for rr in sorted(reply["sections"][sec])]
    opt = reply["opt"]
    if opt is not None:
        lines.append("opt=version %d udp %d do %d ercode %d options %s" % (
            opt["version"], opt["udp"], opt["do"], opt["ercode"],
            ",".join(opt["options"]) or "-"))
    else:
        lines.append("opt=none")
    lines.append("size=%d uncompressed=%d pointers=%d" % (
        reply["size"], reply["uncompressed"], reply["pointers"]))
    return "\n".join(lines)


# ---------------------------------------------------------------- transport

def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def udp_exchange(host, port, msg, timeout, qid=None):
    """Send one datagram; return the reply bytes or None on timeout. With qid,
    replies carrying another id are skipped (late answers to earlier queries)."""
    with socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(msg, (host, port))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data = s.recv(65535)
            except socket.timeout:
                return None
            if qid is None or len(data) < 2 or struct.unpack("!H", data[:2])[0] == qid:
                return data


def recv_exact(s, n):
    """Read n bytes from a stream socket; None on EOF, raises socket.timeout."""
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tcp_read_msg(s):
    head = recv_exact(s, 2)
    if head is None:
        return None
    (length,) = struct.unpack("!H", head)
    return recv_exact(s, length)


def tcp_connect(host, port, timeout):
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def frame(msg):
    return struct.pack("!H", len(msg)) + msg


def tcp_exchange(host, port, msg, timeout):
    with tcp_connect(host, port, timeout) as s:
        s.sendall(frame(msg))
        try:
            return tcp_read_msg(s)
        except socket.timeout:
            return None


def exchange(args, msg, qid=None):
    if args.tcp:
        return tcp_exchange(args.server, args.port, msg, args.timeout)
    return udp_exchange(args.server, args.port, msg, args.timeout, qid)


def print_reply(data, qid=None):
    if data is None:
        print("noreply")
        return 0
    try:
        print(describe(parse_reply(data), qid))
    except (Malformed, struct.error) as e:
        print("malformed=%s hex=%s" % (e, data.hex()))
    return 0


# ---------------------------------------------------------------- commands

def cmd_query(args):
    edns = None
    if args.edns is not None:
        options = b""
        for spec in args.ednsopt or []:
            code, _, hexval = spec.partition(":")
            value = bytes.fromhex(hexval)
            options += struct.pack("!HH", int(code), len(value)) + value
        edns = {"bufsize": args.bufsize, "version": args.edns, "do": args.do,
                "options": options}
    qtype = int(args.type[4:]) if args.type.startswith("TYPE") else args.type
    qid, msg = make_query(args.name, qtype, rd=not args.norec, opcode=args.opcode,
                          edns=edns, qclass=args.qclass)
    if args.ixfr_serial is not None:
        # RFC 1995 s3: an IXFR query carries the client's SOA in authority.
        # Sent without EDNS, so the authority record goes last.
        soa = (encode_name("a.") + encode_name("b.") +
               struct.pack("!IIIII", args.ixfr_serial, 0, 0, 0, 0))
        rr = encode_name(args.name) + struct.pack("!HHIH", 6, 1, 0, len(soa)) + soa
        msg = msg[:8] + struct.pack("!H", 1) + msg[10:] + rr
    return print_reply(exchange(args, msg, qid), qid)


def raw_cases():
    """Broken or odd queries by name, as packet bytes (the ids tell them apart)."""
    q = question("www.gslb.example.com", "A")
    long_name = b"".join(bytes([63]) + b"a" * 63 for _ in range(4)) + b"\x00"
    return {
        "qdcount0": header(0x1001, 0x0100, 0),
        "qdcount2": header(0x1002, 0x0100, 2) + q + question("ns1.gslb.example.com"),
        "truncated-question": header(0x1003, 0x0100, 1) + q[:9],
        "no-qtype": header(0x1004, 0x0100, 1) + encode_name("www.gslb.example.com"),
        "label-type-0x40": header(0x1005, 0x0100, 1) + b"\x43www\x00" + q[-4:],
        "label-type-0x80": header(0x1006, 0x0100, 1) + b"\x83www\x00" + q[-4:],
        "pointer-loop": header(0x1007, 0x0100, 1) + b"\xc0\x0c" + q[-4:],
        "pointer-forward": header(0x1008, 0x0100, 1) + b"\xc0\x40" + q[-4:],
        "name-too-long": header(0x1009, 0x0100, 1) + long_name + q[-4:],
        "two-opt": header(0x100a, 0x0100, 1, 0, 0, 2) + q + opt_rr() + opt_rr(),
        "qr-set": header(0x100b, 0x8100, 1) + q,
        "short-header": header(0x100c)[:11],
        "empty": b"",
        "header-only-qr": header(0x100d, 0x8000, 0),
        "ok": header(0x100e, 0x0100, 1) + q,
    }


def cmd_raw(args):
    cases = raw_cases()
    msg = cases[args.case]
    qid = struct.unpack("!H", msg[:2])[0] if len(msg) >= 2 else None
    return print_reply(exchange(args, msg, None), qid)


def cmd_pipeline(args):
    """RFC 7766 s6.2.1.1: several framed queries in one write on one connection."""
    queries = []
    for spec in args.queries:
        name, _, qtype = spec.partition("/")
        queries.append(make_query(name, qtype or "A", edns={}))
    wire = b"".join(frame(m) for _, m in queries)
    answered = {}
    with tcp_connect(args.server, args.port, args.timeout) as s:
        if args.split:
            # RFC 7766 s8: a message may arrive in pieces; send a byte at a time.
            for i in range(len(wire)):
                s.sendall(wire[i:i + 1])
                time.sleep(0.001)
        else:
            s.sendall(wire)
        if args.shut_wr:
            # RFC 7766 s6.2.4 lets a client close its side once it has asked;
            # the answers must still come back.
            s.shutdown(socket.SHUT_WR)
        try:
            for _ in queries:
                data = tcp_read_msg(s)
                if data is None:
                    break
                answered[struct.unpack("!H", data[:2])[0]] = data
        except socket.timeout:
            pass
    print("answered=%d of %d" % (len(answered), len(queries)))
    for (qid, _), spec in zip(queries, args.queries):
        data = answered.get(qid)
        if data is None:
            print("%s: noreply" % spec)
            continue
        reply = parse_reply(data)
        print("%s: %s %s" % (spec, rcode_of(reply),
                             " | ".join(sorted(reply["sections"]["AN"]))))
    return 0


def closed_by_peer(s, wait):
    """True when the server has closed s (EOF or reset) within `wait` seconds."""
    s.settimeout(wait)
    try:
        return s.recv(1, socket.MSG_PEEK) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def cmd_idle(args):
    """Connect, optionally ask one question, then time how long until the server
    closes the idle connection (RFC 7766 s6.2.3), up to --max-wait seconds."""
    s = tcp_connect(args.server, args.port, args.timeout)
    if args.query_first:
        _, msg = make_query("www.gslb.example.com", "A")
        s.sendall(frame(msg))
        if tcp_read_msg(s) is None:
            print("noreply")
            return 0
    start = time.monotonic()
    closed = closed_by_peer(s, args.max_wait)
    s.close()
    if closed:
        print("closed_after=%.1f" % (time.monotonic() - start))
    else:
        print("still_open")
    return 0


def cmd_tcpmax(args):
    """Open --conns connections, ask one question on each, keep them all open,
    and report how many were served and how many the server still holds."""
    conns = []
    answered = 0
    for _ in range(args.conns):
        try:
            s = tcp_connect(args.server, args.port, args.timeout)
        except OSError:
            continue
        conns.append(s)
        _, msg = make_query("www.gslb.example.com", "A")
        try:
            s.sendall(frame(msg))
        except OSError:
            continue
    served = []
    for s in conns:
        s.settimeout(args.timeout)
        try:
            ok = tcp_read_msg(s) is not None
        except OSError:
            ok = False
        served.append(ok)
        answered += ok
    live = sum(1 for s, ok in zip(conns, served) if ok and not closed_by_peer(s, 0.2))
    for s in conns:
        s.close()
    print("connected=%d answered=%d live=%d" % (len(conns), answered, live))
    return 0


class LoadStats:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = self.answered = self.lost = self.wrong = self.hups = 0
        self.first_wrong = ""


def load_worker(args, stats, count, deadline, hup):
    """Ask `count` questions one after another (one outstanding at a time)."""
    sock = None
    for i in range(count):
        if time.monotonic() > deadline or stats.lost > args.max_lost:
            return
        qid, msg = make_query(args.name, args.type)
        try:
            if args.tcp:
                if sock is None:
                    sock = tcp_connect(args.server, args.port, args.timeout)
                sock.sendall(frame(msg))
                data = tcp_read_msg(sock)
            else:
                data = udp_exchange(args.server, args.port, msg, args.timeout, qid)
        except OSError:
            data = None
            if sock is not None:
                sock.close()
                sock = None
        with stats.lock:
            stats.sent += 1
            if data is None:
                stats.lost += 1
            else:
                stats.answered += 1
                verdict = check_load_reply(data, qid, args.expect)
                if verdict:
                    stats.wrong += 1
                    stats.first_wrong = stats.first_wrong or verdict
        if hup and args.hup_every and (i + 1) % args.hup_every == 0:
            os.kill(args.hup_pid, signal.SIGHUP)
            stats.hups += 1
    if sock is not None:
        sock.close()


def check_load_reply(data, qid, expect):
    try:
        reply = parse_reply(data)
    except (Malformed, struct.error) as e:
        return "malformed: %s" % e
    if reply["id"] != qid or rcode_of(reply) != "NOERROR":
        return "id/rcode: %s" % describe(reply, qid).replace("\n", "; ")
    rdata = sorted(rr.split()[-1] for rr in reply["sections"]["AN"])
    if expect and rdata != sorted(expect.split(",")):
        return "answer %s, expected %s" % (rdata, expect)
    return ""


def cmd_load(args):
    """A bounded load: --count questions in total over --parallel clients, stopping at
    --deadline seconds. With --hup-pid, the first client sends SIGHUP to that process
    every --hup-every questions, so reloads happen while queries are in flight."""
    stats = LoadStats()
    deadline = time.monotonic() + args.deadline
    per = args.count // args.parallel
    threads = []
    start = time.monotonic()
    for n in range(args.parallel):
        hup = n == 0 and args.hup_pid is not None
        t = threading.Thread(target=load_worker, args=(args, stats, per, deadline, hup))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    print("sent=%d answered=%d lost=%d wrong=%d hups=%d seconds=%.1f" % (
        stats.sent, stats.answered, stats.lost, stats.wrong, stats.hups,
        time.monotonic() - start))
    if stats.first_wrong:
        print("first_wrong=%s" % stats.first_wrong)
    return 0


def cmd_freeport(args):
    """Print a port free for UDP and TCP on both 127.0.0.1 and ::1."""
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(200):
        port = rng.randrange(20000, 60000)
        socks = []
        try:
            for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(fam, kind)
                    socks.append(s)
                    if fam == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((host, port))
            print(port)
            return 0
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    print("no free port found", file=sys.stderr)
    return 1


def main():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", default="127.0.0.1")
    common.add_argument("--port", type=int, default=53)
    common.add_argument("--tcp", action="store_true")
    common.add_argument("--timeout", type=float, default=2.0, help="seconds per reply")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                epilog="usage: dnstool.py COMMAND [--server H --port P "
                                "--tcp --timeout S] ARGS")
    sub = p.add_subparsers(dest="cmd", required=True)

    q = sub.add_parser("query", parents=[common])
    q.add_argument("name")
    q.add_argument("type", nargs="?", default="A")
    q.add_argument("--norec", action="store_true")
    q.add_argument("--opcode", type=int, default=0)
    q.add_argument("--qclass", type=int, default=1)
    q.add_argument("--edns", type=int, default=None, help="EDNS version (omit: no OPT)")
    q.add_argument("--bufsize", type=int, default=1232)
    q.add_argument("--do", action="store_true")
    q.add_argument("--ednsopt", action="append", help="CODE:HEX")
    q.add_argument("--ixfr-serial", type=int, default=None)
    q.set_defaults(func=cmd_query)

    r = sub.add_parser("raw", parents=[common])
    r.add_argument("case", choices=sorted(raw_cases()))
    r.set_defaults(func=cmd_raw)

    pl = sub.add_parser("pipeline", parents=[common])
    pl.add_argument("queries", nargs="+", help="NAME/TYPE")
    pl.add_argument("--split", action="store_true", help="send one byte at a time")
    pl.add_argument("--shut-wr", action="store_true", help="half-close after sending")
    pl.set_defaults(func=cmd_pipeline)

    i = sub.add_parser("idle", parents=[common])
    i.add_argument("--max-wait", type=float, default=10.0)
    i.add_argument("--query-first", action="store_true")
    i.set_defaults(func=cmd_idle)

    m = sub.add_parser("tcpmax", parents=[common])
    m.add_argument("--conns", type=int, default=5)
    m.set_defaults(func=cmd_tcpmax)

    ld = sub.add_parser("load", parents=[common])
    ld.add_argument("--name", default="www.gslb.example.com")
    ld.add_argument("--type", default="A")
    ld.add_argument("--expect", default="", help="comma-separated answer rdata")
    ld.add_argument("--count", type=int, default=1000)
    ld.add_argument("--parallel", type=int, default=1)
    ld.add_argument("--deadline", type=float, default=60.0)
    ld.add_argument("--max-lost", type=int, default=20)
    ld.add_argument("--hup-pid", type=int, default=None)
    ld.add_argument("--hup-every", type=int, default=0)
    ld.set_defaults(func=cmd_load)

    f = sub.add_parser("freeport", parents=[common])
    f.set_defaults(func=cmd_freeport)

    args = p.parse_args()
    if args.server not in ("127.0.0.1", "::1") and not args.server.startswith("127."):
        print("dnstool: refusing non-loopback server %s" % args.server, file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
