"""gslbtest.dnsq: DNS queries with dnspython and Knot-style checks of the responses.

make_query() builds a query (name, type, class, RD, EDNS version, payload, DO, Client
Subnet, other options, opcode); query() sends it over udp4, tcp4, udp6 or tcp6 to a server
on loopback and returns a Response; send_raw() sends bytes as they are (broken packets);
pipeline() and keepopen() put several queries on one TCP connection.

A Response holds the bytes and dnspython's parse of them, and checks itself, each check
one TAP assertion of its Test:

    r.check(rcode="NOERROR", flags="QR AA RD", noflags="RA TC")
    r.check_record(section="answer", rtype="A", ttl=30, rdata="192.0.2.10")
    r.check_count(answer=1, authority=0)
    r.check_edns(version=0, payload=1232, do=False, options=[])
    r.check_ecs(family=1, address="81.2.69.0", source=24, scope=24)
    r.check_reply(NAME, rcode=..., flags=..., edns=..., answer=[...], authority=[...])
    r.cmp(other)

Every check takes the assertion's name as first argument (or name=); without one, a name
is made from the query and the check ("www.gslb.example.com. A (udp4): rcode NOERROR").
Each returns True or False. Records are written as in a zone file, absolute names,
"OWNER TTL CLASS TYPE RDATA", and compared as DNS compares them: names without regard to
letter case, TTL exact; an SOA serial written SERIAL matches any serial (it is derived
from the zone file's time). The question is compared byte for byte, case included, since a
server must echo it (RFC 1035 4.1.2).

Replies are parsed with one RRset per record, so every record keeps its own TTL and
place, and duplicates stay visible. dnspython 2.3 cannot parse an opcode it does not
know (3, 6-15): the reply is parsed with the opcode field cleared and Response.opcode
reads the header, so use r.opcode, not r.msg.opcode().

dig() runs the real dig, for the few tests about dig's own behaviour; its output is
read for the header line only. Everything else reads dnspython's parse, never text.
"""

import shlex
import subprocess

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.wire

from . import net
from .net import host_of

TRANSPORTS = ("udp4", "tcp4", "udp6", "tcp6")

# Header flag bits by name, in the order dig prints them (Z included: it must be 0).
FLAG_BITS = (("QR", 0x8000), ("AA", 0x0400), ("TC", 0x0200), ("RD", 0x0100),
             ("RA", 0x0080), ("Z", 0x0040), ("AD", 0x0020), ("CD", 0x0010))
SECTIONS = ("question", "answer", "authority", "additional")
_SHORT = {"question": "QD", "answer": "AN", "authority": "NS", "additional": "AR"}

_UNSET = object()


def _flag_text(names):
    """Flag names in header order ("QR AA RD"), or "none"."""
    return " ".join(n for n, _ in FLAG_BITS if n in names) or "none"


def _words(text):
    return set(text.upper().split()) if isinstance(text, str) else {t.upper() for t in text}


def _name(text):
    return text if isinstance(text, dns.name.Name) else dns.name.from_text(text)


def _ecs(ecs):
    if isinstance(ecs, dns.edns.ECSOption):
        return ecs
    if isinstance(ecs, str):
        return dns.edns.ECSOption.from_text(ecs)
    return dns.edns.ECSOption(*ecs)


def _option(opt):
    if isinstance(opt, dns.edns.Option):
        return opt
    code, data = opt
    return dns.edns.GenericOption(code, bytes(data))


def make_query(qname, qtype="A", qclass="IN", rd=True, flags=None, edns=0, payload=1232,
               do=False, ecs=None, options=(), opcode=0, qid=None, authority=()):
    """A query as a dns.message.Message. The defaults are dig's: RD set, EDNS version 0
    with a 1232-byte payload (edns=None: no OPT record).

    qname, qtype, qclass  text ("www.gslb.example.com", "TYPE65280", "CH") or dnspython values
    flags     header flags as text ("RD CD"), replacing rd when given
    edns      EDNS version, or None for no OPT; payload, do: its UDP size and DO bit
    ecs       EDNS Client Subnet: "192.0.2.0/24", (address, source[, scope]) or an ECSOption
    options   more EDNS options: dnspython Options or (code, bytes) pairs
    opcode    an int or a name ("NOTIFY"); any 0-15 is sent
    qid       the message id (default random)
    authority records added to the authority section, as text (IXFR's SOA, RFC 1995 s3)
    """
    q = dns.message.make_query(_name(qname), qtype, qclass)
    if qid is not None:
        q.id = qid
    if flags is not None:
        q.flags = dns.flags.from_text(flags) if flags.strip() else 0
    elif not rd:
        q.flags &= ~dns.flags.RD
    if opcode:
        q.set_opcode(dns.opcode.from_text(opcode) if isinstance(opcode, str) else opcode)
    opts = [_option(o) for o in options]
    if ecs is not None:
        opts.append(_ecs(ecs))
    if edns is not None and edns is not False:
        q.use_edns(edns, dns.flags.DO if do else 0, payload, options=opts)
    elif opts or do:
        raise ValueError("EDNS options or DO need edns (a version), not edns=None")
    for text in authority:
        q.authority.append(dns.rrset.from_text(*_rr_fields(text)))
    return q


def _rr_fields(text):
    """("owner", ttl, "class", "type", "rdata") of a record written in zone-file form."""
    parts = text.split(None, 4)
    if len(parts) < 4:
        raise ValueError("a record is OWNER TTL CLASS TYPE [RDATA]: %r" % text)
    owner, ttl, rdclass, rdtype = parts[:4]
    return owner, int(ttl), rdclass, rdtype, parts[4] if len(parts) > 4 else ""


def _exchange(port, wire, transport, timeout):
    # Each exchange has a socket of its own, so whatever comes back on it is the reply,
    # whatever its id: a wrong id is shown and checked, not waited past.
    host = host_of(transport)
    try:
        if transport.startswith("tcp"):
            return net.tcp_exchange(host, port, wire, timeout), None
        return net.udp_exchange(host, port, wire, timeout), None
    except OSError as e:
        return None, "%s: %s" % (type(e).__name__, e)


def exchange(port, q, transport="udp4", timeout=2.0, test=None, fallback=False):
    """Send a prepared dns.message.Message; returns a Response. With fallback, a UDP
    reply with TC set is asked again over TCP of the same family, as a resolver does
    (RFC 7766 s5); the TCP Response keeps the UDP one in .truncated_reply."""
    wire = q.to_wire()
    data, error = _exchange(port, wire, transport, timeout)
    r = Response(test, q, wire, data, transport, error, port=port)
    if fallback and transport.startswith("udp") and r.parsed and "TC" in r.flags:
        tcp = exchange(port, q, "tcp" + transport[3:], timeout, test)
        tcp.truncated_reply = r
        return tcp
    return r


def query(port, qname, qtype="A", transport="udp4", timeout=2.0, test=None,
          fallback=False, **kw):
    """make_query(qname, qtype, **kw) sent to 127.0.0.1/::1 on `port`: a Response."""
    return exchange(port, make_query(qname, qtype, **kw), transport, timeout, test, fallback)


def send_raw(port, wire, transport="udp4", timeout=2.0, test=None):
    """Send bytes as they are (one datagram, or one framed TCP message): a Response
    whose query is None. Any reply is taken, whatever its id."""
    data, error = _exchange(port, wire, transport, timeout)
    return Response(test, None, wire, data, transport, error, port=port)


def _as_query(item):
    if isinstance(item, dns.message.Message):
        return item
    qname, qtype = item
    return make_query(qname, qtype)


def _unique_ids(queries):
    seen = set()
    for q in queries:
        while q.id in seen:
            q.id = (q.id + 1) & 0xFFFF
        seen.add(q.id)


def pipeline(port, queries, transport="tcp4", split=False, shut_wr=False, timeout=2.0,
             test=None):
    """RFC 7766 s6.2.1.1: every query written at once on one connection (split: a byte at
    a time; shut_wr: then half-close), then the replies read (bounded) and matched by id.
    queries are Messages or (qname, qtype) pairs; ids are made distinct. Returns one
    Response per query, in query order; unanswered ones have no reply."""
    qs = [_as_query(item) for item in queries]
    _unique_ids(qs)
    got, error = {}, None
    try:
        with net.TcpConn(host_of(transport), port, timeout) as c:
            c.send_bytes(b"".join(net.frame(q.to_wire()) for q in qs), split)
            if shut_wr:
                c.shut_wr()
            for _ in qs:
                data = c.read()
                if data is None:
                    break
                if len(data) >= 2:
                    got[int.from_bytes(data[:2], "big")] = data
    except OSError as e:
        error = "%s: %s" % (type(e).__name__, e)
    return [Response(test, q, q.to_wire(), got.get(q.id), transport,
                     None if q.id in got else (error or "not answered on the connection"),
                     port=port) for q in qs]


def keepopen(port, queries, transport="tcp4", timeout=2.0, test=None):
    """RFC 7766 s6.2.1: queries one after another on one connection, each sent once the
    previous one is answered (dig +keepopen). Returns a Response per query."""
    qs = [_as_query(item) for item in queries]
    out = []
    try:
        with net.TcpConn(host_of(transport), port, timeout) as c:
            for q in qs:
                c.send(q.to_wire())
                out.append(Response(test, q, q.to_wire(), c.read(), transport, None,
                                    port=port))
    except OSError as e:
        error = "%s: %s" % (type(e).__name__, e)
        out += [Response(test, q, q.to_wire(), None, transport, error, port=port)
                for q in qs[len(out):]]
    return out


# ------------------------------------------------------------------ records


def _rdata(rdclass, rdtype, text):
    """Rdata from zone-file text; names must be absolute (they are kept so)."""
    return dns.rdata.from_text(rdclass, rdtype, text, dns.name.root, relativize=False)


class _Want:
    """An expected record, from zone-file text; SERIAL in an SOA matches any serial."""

    def __init__(self, text):
        owner, ttl, rdclass, rdtype, rdata = _rr_fields(text)
        self.text = " ".join(text.split())
        self.name = _name(owner)
        self.ttl = ttl
        self.rdclass = dns.rdataclass.from_text(rdclass)
        self.rdtype = dns.rdatatype.from_text(rdtype)
        self.any_serial = False
        if self.rdtype == dns.rdatatype.SOA:
            fields = rdata.split()
            if len(fields) == 7 and fields[2] == "SERIAL":
                fields[2] = "0"
                rdata = " ".join(fields)
                self.any_serial = True
        self.rdata = _rdata(self.rdclass, self.rdtype, rdata)

    def matches(self, rr):
        name, ttl, rdata = rr
        if name != self.name or ttl != self.ttl or rdata.rdclass != self.rdclass \
                or rdata.rdtype != self.rdtype:
            return False
        if self.any_serial:
            rdata = rdata.replace(serial=0)
        return rdata == self.rdata


def rr_text(rr):
    """A record as one line of zone-file text, names as received."""
    name, ttl, rdata = rr
    return "%s %d %s %s %s" % (name.to_text(), ttl, dns.rdataclass.to_text(rdata.rdclass),
                               dns.rdatatype.to_text(rdata.rdtype), rdata.to_text())


def _canonical_rr(rr, mask_serial=False):
    """A record's text with names in lower case (for comparing two replies)."""
    name, ttl, rdata = rr
    rdata = dns.rdata.from_wire(rdata.rdclass, rdata.rdtype, rdata.to_digestable(), 0,
                                len(rdata.to_digestable()))
    if mask_serial and rdata.rdtype == dns.rdatatype.SOA:
        return rr_text((name.canonicalize(), ttl, rdata)).replace(
            " %d " % rdata.serial, " SERIAL ", 1)
    return rr_text((name.canonicalize(), ttl, rdata))


def compression(wire):
    """(pointers, uncompressed size) of a message: how many names end in a compression
    pointer (RFC 1035 4.1.4), and the size the message would have without any. Names are
    walked in the question, owners and the rdata of NS, CNAME, PTR, DNAME, MX, SRV, SOA."""
    layout = {dns.rdatatype.NS: (0,), dns.rdatatype.CNAME: (0,), dns.rdatatype.PTR: (0,),
              dns.rdatatype.DNAME: (0,), dns.rdatatype.MX: (2, 0), dns.rdatatype.SRV: (6, 0),
              dns.rdatatype.SOA: (0, 0)}
    p = dns.wire.Parser(wire)
    counts = p.get_struct("!HHHHHH")[2:]
    stats = [0, 0]

    def name():
        start = p.current
        full = len(p.get_name().to_wire())
        if p.current - start < full:
            stats[0] += 1
            stats[1] += full - (p.current - start)

    for _ in range(counts[0]):
        name()
        p.get_struct("!HH")
    for _ in range(sum(counts[1:])):
        name()
        rtype, _, _, rdlen = p.get_struct("!HHIH")
        end = p.current + rdlen
        for skip in layout.get(rtype, ()):
            if skip:
                p.get_bytes(skip)
            else:
                name()
        p.seek(end)
    return stats[0], len(wire) + stats[1]


def _wire_options(wire):
    """The options of the first OPT record in the additional section of a message, as
    (code, bytes) pairs read from its bytes; [] when there is none."""
    p = dns.wire.Parser(wire)
    counts = p.get_struct("!HHHHHH")[2:]
    for _ in range(counts[0]):
        p.get_name()
        p.get_struct("!HH")
    for index in range(sum(counts[1:])):
        p.get_name()
        rtype, _, _, rdlen = p.get_struct("!HHIH")
        end = p.current + rdlen
        if rtype == dns.rdatatype.OPT and index >= counts[1] + counts[2]:
            out = []
            while p.current + 4 <= end:
                code, size = p.get_struct("!HH")
                out.append((code, p.get_bytes(size)))
            return out
        p.seek(end)
    return []


# ------------------------------------------------------------------ responses


class Response:
    """A reply (or its absence) to one query, with checks that report to the Test.

    query (dns.message.Message, None for send_raw), query_wire, wire (the reply's bytes
    or None), msg (dnspython's parse, one RRset per record, or None), error (why there is
    no reply or parse), transport, port. Properties: id, opcode, rcode, flags, size,
    edns, ecs; section(name) gives (owner, ttl, rdata) tuples in wire order.
    """

    def __init__(self, test, query, query_wire, wire, transport, error=None, port=None):
        self.test = test
        self.query = query
        self.query_wire = query_wire
        self.wire = wire
        self.transport = transport
        self.port = port
        self.error = error
        self.msg = None
        self.truncated_reply = None
        if wire is None:
            self.error = error or "no reply within the timeout"
            return
        try:
            # Opcode cleared: dnspython 2.3 refuses the ones it does not know.
            cleared = wire[:2] + bytes([wire[2] & 0x87]) + wire[3:] if len(wire) > 2 else wire
            self.msg = dns.message.from_wire(cleared, one_rr_per_rrset=True)
        except (dns.exception.DNSException, ValueError) as e:
            self.error = "reply could not be parsed: %s: %s" % (type(e).__name__, e)

    # ------------------------------------------------------------- reading

    @property
    def answered(self):
        return self.wire is not None

    @property
    def parsed(self):
        return self.msg is not None

    @property
    def qid(self):
        """The query's id (from its bytes), or None."""
        w = self.query_wire
        return int.from_bytes(w[:2], "big") if w and len(w) >= 2 else None

    @property
    def id(self):
        return int.from_bytes(self.wire[:2], "big") if self.wire and len(self.wire) >= 2 \
            else None

    @property
    def opcode(self):
        """The reply's opcode from its header (an int)."""
        return (self.wire[2] >> 3) & 0xF if self.wire and len(self.wire) > 2 else None

    @property
    def rcode(self):
        """The rcode as text, the EDNS extended bits included ("BADVERS")."""
        return dns.rcode.to_text(self.msg.rcode()) if self.msg else None

    @property
    def flags(self):
        """The header flags that are set, as a set of names ("QR", "AA", ...)."""
        if not self.wire or len(self.wire) < 4:
            return set()
        bits = int.from_bytes(self.wire[2:4], "big")
        return {n for n, b in FLAG_BITS if bits & b}

    @property
    def size(self):
        return len(self.wire) if self.wire is not None else None

    @property
    def edns(self):
        """The OPT record as a dict (version, payload, do, flags, ercode, options), or
        None when there is none."""
        if not self.msg or self.msg.opt is None:
            return None
        ef = self.msg.ednsflags
        return {"version": (ef >> 16) & 0xFF, "payload": self.msg.payload,
                "do": bool(ef & dns.flags.DO), "flags": ef & 0xFFFF, "ercode": ef >> 24,
                "options": list(self.msg.options)}

    @property
    def ecs(self):
        """The Client Subnet option of the reply (a dns.edns.ECSOption) or None."""
        for opt in (self.edns or {}).get("options", ()):
            if opt.otype == dns.edns.OptionType.ECS:
                return opt
        return None

    def option_bytes(self):
        """The OPT record's options as (code, bytes) pairs in wire order, as received: read
        from the reply's bytes, not re-encoded by dnspython (which rewrites an ECS option
        from its own parse). [] without a reply, an OPT record or options."""
        return _wire_options(self.wire) if self.parsed else []

    def section(self, section):
        """A section's records as (owner, ttl, rdata) tuples, in wire order ([] when the
        reply is missing or unparsed: the checks report that)."""
        index = SECTIONS.index(section)
        if index == 0:
            raise ValueError("use question() for the question section")
        if self.msg is None:
            return []
        return [(rrset.name, rrset.ttl, rd) for rrset in self.msg.sections[index]
                for rd in rrset]

    def question(self):
        """The question section as "NAME CLASS TYPE" strings, letter case as received."""
        return ["%s %s %s" % (rrset.name.to_text(), dns.rdataclass.to_text(rrset.rdclass),
                              dns.rdatatype.to_text(rrset.rdtype))
                for rrset in (self.msg.question if self.msg else [])]

    def count(self, section):
        """Records in a section (the OPT record is not counted)."""
        if section == "question":
            return len(self.question())
        return len(self.section(section))

    def types(self, section):
        """The record types of a section in wire order, as text."""
        return [dns.rdatatype.to_text(rd.rdtype) for _, _, rd in self.section(section)]

    def compression(self):
        """(pointers, uncompressed size): see compression(); (0, 0) without a reply."""
        return compression(self.wire) if self.parsed else (0, 0)

    def lines(self, sort=False, mask_serial=False, canonical=False):
        """The reply as text lines: status, opcode, flags, EDNS, then each section's
        records (sorted within a section with sort=True)."""
        if not self.parsed:
            return ["(%s)" % self.error] + (["hex: " + self.wire.hex()] if self.wire else [])
        out = ["status: %s" % self.rcode,
               "opcode: %s" % dns.opcode.to_text(self.opcode)
               if self.opcode in (0, 1, 2, 4, 5) else "opcode: %d" % self.opcode,
               "flags: %s" % " ".join(n.lower() for n, _ in FLAG_BITS if n in self.flags)]
        e = self.edns
        if e is None:
            out.append("edns: none")
        else:
            out.append("edns: version %d, flags:%s, udp %d, options: %s" % (
                e["version"], " do" if e["do"] else "", e["payload"],
                " ".join(o.to_text() for o in e["options"]) or "-")
                + (", other flags 0x%04x" % (e["flags"] & 0x7FFF) if e["flags"] & 0x7FFF
                   else ""))
        out += ["QD: " + q for q in self.question()]
        for sec in SECTIONS[1:]:
            rrs = [_canonical_rr(rr, mask_serial) if canonical else rr_text(rr)
                   for rr in self.section(sec)]
            out += ["%s: %s" % (_SHORT[sec], x) for x in (sorted(rrs) if sort else rrs)]
        return out

    def describe(self):
        """What was asked, for automatic check names: "www.example. A (udp4)"."""
        if self.query is not None and self.query.question:
            q = self.query.question[0]
            return "%s %s (%s)" % (q.name.to_text(), dns.rdatatype.to_text(q.rdtype),
                                   self.transport)
        return "raw packet (%s)" % self.transport

    # ------------------------------------------------------------- reporting

    def _report(self, name, auto, problems, show=True):
        if self.test is None:
            raise RuntimeError("a Response made without test= cannot report checks")
        if name is None:
            name = "%s: %s" % (self.describe(), auto)
        if problems and show and self.answered:
            problems = problems + ["reply to %s:" % self.describe()] + \
                ["  " + x for x in self.lines()[:40]]
        return self.test.report(name, problems)

    def _need_parse(self):
        return [] if self.parsed else [self.error]

    # ------------------------------------------------------------- checks

    def _header_problems(self, rcode=None, flags=None, noflags=None, exact_flags=None,
                         opcode=None, same_id=None):
        p = []
        if rcode is not None:
            want = [rcode] if isinstance(rcode, str) else list(rcode)
            if self.rcode not in want:
                p.append("rcode: expected %s, got %s" % (" or ".join(want), self.rcode))
        have = self.flags
        if exact_flags is not None and have != _words(exact_flags):
            p.append("flags: expected exactly %s, got %s" % (_flag_text(_words(exact_flags)),
                                                              _flag_text(have)))
        if flags is not None and not _words(flags) <= have:
            p.append("flags: %s not set (got %s)" % (_flag_text(_words(flags) - have),
                                                     _flag_text(have)))
        if noflags is not None and _words(noflags) & have:
            p.append("flags: %s set, expected clear" % _flag_text(_words(noflags) & have))
        if opcode is not None:
            want = dns.opcode.from_text(opcode) if isinstance(opcode, str) else opcode
            if self.opcode != want:
                p.append("opcode: expected %s, got %s" % (want, self.opcode))
        if same_id is not None and (self.id == self.qid) != same_id:
            p.append("id: query %s, reply %s" % (self.qid, self.id))
        return p

    def check(self, name=None, rcode=None, flags=None, noflags=None, exact_flags=None,
              opcode=None, same_id=None):
        """The header: rcode (text, or a list of acceptable ones), flags that must be set,
        noflags that must be clear, exact_flags (exactly these, e.g. "QR AA RD"), opcode
        (int or name) and same_id (the reply's id is the query's)."""
        problems = self._need_parse() or self._header_problems(
            rcode, flags, noflags, exact_flags, opcode, same_id)
        what = ", ".join("%s %s" % (k, v) for k, v in (
            ("rcode", rcode), ("flags", flags), ("noflags", noflags),
            ("exact flags", exact_flags), ("opcode", opcode), ("same id", same_id))
            if v is not None)
        return self._report(name, what or "reply", problems)

    def _question_problems(self, question):
        if question is _UNSET:
            if self.query is None:
                return []
            question = ["%s %s %s" % (q.name.to_text(), dns.rdataclass.to_text(q.rdclass),
                                      dns.rdatatype.to_text(q.rdtype))
                        for q in self.query.question]
        elif isinstance(question, str):
            question = [question]
        got = self.question()
        if got != list(question):
            return ["question: expected %s, got %s" % (list(question), got)]
        return []

    def check_question(self, name=None, question=_UNSET):
        """The question section, byte for byte (letter case included): by default the
        query's own question; else "NAME CLASS TYPE" text or a list of them."""
        return self._report(name, "question echoed",
                            self._need_parse() or self._question_problems(question))

    def check_count(self, name=None, question=None, answer=None, authority=None,
                    additional=None):
        """Records per section (OPT not counted in additional)."""
        want = {"question": question, "answer": answer, "authority": authority,
                "additional": additional}
        problems = self._need_parse()
        if not problems:
            for sec, n in want.items():
                if n is not None and self.count(sec) != n:
                    problems.append("%s: %d records, expected %d" % (sec, self.count(sec), n))
        what = ", ".join("%s %d" % (k, v) for k, v in want.items() if v is not None)
        return self._report(name, "counts " + what, problems)

    def _find(self, section, rname, rtype, ttl, rdata, rclass):
        alternatives = [rdata] if isinstance(rdata, str) or rdata is None else list(rdata)
        hits = []
        for rr in self.section(section):
            owner, rttl, rd = rr
            if rname is not None and owner != _name(rname):
                continue
            if rtype is not None and rd.rdtype != dns.rdatatype.from_text(rtype):
                continue
            if rclass is not None and rd.rdclass != dns.rdataclass.from_text(rclass):
                continue
            if ttl is not None and rttl != ttl:
                continue
            if rdata is not None and not any(
                    rd == _rdata(rd.rdclass, rd.rdtype, alt)
                    for alt in alternatives):
                continue
            hits.append(rr)
        return hits

    def check_record(self, name=None, section="answer", rname=None, rtype=None, ttl=None,
                     rdata=None, rclass="IN"):
        """At least one record in `section` has every field given: owner rname, type,
        TTL, class and rdata (text; a list means any of them)."""
        what = " ".join(str(v) for v in (rname, ttl, rclass, rtype, rdata) if v is not None)
        problems = self._need_parse()
        if not problems and not self._find(section, rname, rtype, ttl, rdata, rclass):
            problems = ["no record %s in the %s section" % (what, section)]
        return self._report(name, "%s has %s" % (section, what), problems)

    def check_no_record(self, name=None, section="answer", rname=None, rtype=None,
                        rdata=None, rclass=None):
        """No record in `section` has every field given."""
        what = " ".join(str(v) for v in (rname, rclass, rtype, rdata) if v is not None)
        problems = self._need_parse()
        if not problems:
            problems = ["unexpected: " + rr_text(rr)
                        for rr in self._find(section, rname, rtype, None, rdata, rclass)]
        return self._report(name, "%s has no %s" % (section, what or "record"), problems)

    def _section_problems(self, section, records):
        wants = [_Want(r) for r in records]
        left = list(self.section(section))
        missing = []
        for w in wants:
            for i, rr in enumerate(left):
                if w.matches(rr):
                    del left[i]
                    break
            else:
                missing.append(w.text)
        return ["%s: missing %s" % (section, m) for m in missing] + \
            ["%s: unexpected %s" % (section, rr_text(rr)) for rr in left]

    def check_section(self, name=None, section="answer", records=()):
        """The section holds exactly these records (zone-file text), in any order."""
        problems = self._need_parse() or self._section_problems(section, records)
        return self._report(name, "%s is exactly %d records" % (section, len(records)),
                            problems)

    def check_types(self, name=None, section="answer", types=""):
        """The record types of a section in wire order ("CNAME A")."""
        want = types.split() if isinstance(types, str) else list(types)
        problems = self._need_parse()
        if not problems and self.types(section) != want:
            problems = ["%s types: expected %s, got %s" % (section, " ".join(want),
                                                           " ".join(self.types(section)))]
        return self._report(name, "%s types %s" % (section, " ".join(want)), problems)

    def _edns_problems(self, present=True, version=None, payload=None, do=None, ercode=None,
                       options=None):
        e = self.edns
        if not present:
            return ["OPT record present, expected none"] if e is not None else []
        if e is None:
            return ["no OPT record"]
        p = []
        for key, want in (("version", version), ("payload", payload), ("ercode", ercode)):
            if want is not None and e[key] != want:
                p.append("EDNS %s: expected %s, got %s" % (key, want, e[key]))
        if do is not None and e["flags"] != (dns.flags.DO if do else 0):
            p.append("EDNS flags: expected %s, got 0x%04x" % ("DO" if do else "none",
                                                              e["flags"]))
        if options is not None:
            want = [_option(o) for o in options]
            if e["options"] != want:
                p.append("EDNS options: expected [%s], got [%s]" % (
                    ", ".join(o.to_text() for o in want),
                    ", ".join(o.to_text() for o in e["options"])))
        return p

    def check_edns(self, name=None, present=True, version=None, payload=None, do=None,
                   ercode=None, options=None):
        """The OPT record (RFC 6891): present or not, and each field given: version,
        payload (the UDP size it advertises), do (the DO bit; the other flag bits must
        then be 0, RFC 6891 6.1.4), ercode (the extended rcode bits), options (the exact
        list; [] for none)."""
        what = "no OPT" if not present else "OPT " + ", ".join(
            "%s %s" % (k, v) for k, v in (("version", version), ("payload", payload),
                                          ("do", do), ("ercode", ercode),
                                          ("options", options)) if v is not None)
        problems = self._need_parse() or self._edns_problems(present, version, payload, do,
                                                             ercode, options)
        return self._report(name, what, problems)

    def check_option(self, name=None, code=None, present=True, data=None):
        """An EDNS option of this code is (or, present=False, is not) in the reply;
        with data, its bytes exactly as received (option_bytes())."""
        problems = self._need_parse()
        if not problems:
            found = [o for o in (self.edns or {}).get("options", ()) if o.otype == code]
            raw = [d for c, d in self.option_bytes() if c == code]
            if present and not found:
                problems = ["no EDNS option %d" % code]
            elif not present and found:
                problems = ["EDNS option %d present: %s" % (code, found[0].to_text())]
            elif present and data is not None and raw[0] != bytes(data):
                problems = ["EDNS option %d: expected %s, got %s" % (code, bytes(data).hex(),
                                                                    raw[0].hex())]
        return self._report(name, "option %d %s" % (code, "present" if present else "absent"),
                            problems)

    def check_ecs(self, name=None, present=True, family=None, address=None, source=None,
                  scope=None):
        """The Client Subnet option of the reply (RFC 7871 s7.2.1): present or not, and
        its family (1 IPv4, 2 IPv6), address, SOURCE and SCOPE PREFIX-LENGTH."""
        problems = self._need_parse()
        ecs = self.ecs if not problems else None
        if not problems:
            if not present:
                problems = ["ECS option present: %s" % ecs.to_text()] if ecs else []
            elif ecs is None:
                problems = ["no ECS option in the reply"]
            else:
                for key, want, got in (("family", family, ecs.family),
                                       ("address", address, ecs.address),
                                       ("source", source, ecs.srclen),
                                       ("scope", scope, ecs.scopelen)):
                    if want is not None and want != got:
                        problems.append("ECS %s: expected %s, got %s" % (key, want, got))
        what = "ECS " + ", ".join("%s %s" % (k, v) for k, v in (
            ("family", family), ("address", address), ("source", source), ("scope", scope))
            if v is not None) if present else "no ECS"
        return self._report(name, what, problems)

    def check_size(self, name=None, eq=None, le=None, lt=None, ge=None, gt=None):
        """The reply's size in bytes (without the TCP length prefix)."""
        tests = (("==", eq, lambda a, b: a == b), ("<=", le, lambda a, b: a <= b),
                 ("<", lt, lambda a, b: a < b), (">=", ge, lambda a, b: a >= b),
                 (">", gt, lambda a, b: a > b))
        problems = [] if self.answered else [self.error]
        if not problems:
            problems = ["size %d, expected %s %d" % (self.size, op, v)
                        for op, v, f in tests if v is not None and not f(self.size, v)]
        what = "size " + " ".join("%s %d" % (op, v) for op, v, _ in tests if v is not None)
        return self._report(name, what, problems, show=False)

    def check_noreply(self, name=None):
        """No reply came back (within the query's timeout)."""
        problems = ["got a reply: " + self.wire.hex()] if self.answered else []
        return self._report(name, "no reply", problems, show=False)

    def check_reply(self, name=None, rcode=None, flags=None, edns=_UNSET, question=_UNSET,
                    answer=(), authority=(), additional=()):
        """The whole reply, as one assertion: the query's id; rcode; flags, exactly (None:
        not checked); edns, a dict of check_edns() fields (required; None: no OPT record);
        the question (default: the query's, byte for byte); and each section, exactly
        these records in any order (zone-file text; SERIAL in an SOA matches any serial)."""
        if edns is _UNSET:
            raise TypeError("check_reply needs edns= (a dict of check_edns fields, or None)")
        problems = self._need_parse()
        if not problems:
            problems = self._header_problems(rcode=rcode, exact_flags=flags, same_id=True)
            problems += self._edns_problems(present=False) if edns is None \
                else self._edns_problems(**edns)
            problems += self._question_problems(question)
            for sec, records in (("answer", answer), ("authority", authority),
                                 ("additional", additional)):
                problems += self._section_problems(sec, records)
        return self._report(name, "reply %s" % rcode, problems)

    def cmp(self, other, name=None, ignore=()):
        """This reply equals `other` (another Response): status, opcode, flags, EDNS,
        question and every section's records, each section in any order, names without
        regard to case. ignore: any of "flags", "edns", "question", "serial"."""
        problems = self._need_parse() or other._need_parse()  # pylint: disable=protected-access
        if not problems:
            mine = self._cmp_lines(ignore)
            theirs = other._cmp_lines(ignore)  # pylint: disable=protected-access
            problems = ["only in %s: %s" % (self.describe(), x) for x in mine if x not in theirs]
            problems += ["only in %s: %s" % (other.describe(), x)
                         for x in theirs if x not in mine]
            if not problems and mine != theirs:
                problems = ["same lines, different counts: %s / %s" % (mine, theirs)]
        return self._report(name, "same as %s" % other.describe(), problems, show=False)

    def _cmp_lines(self, ignore):
        skip = {"flags": "flags:", "edns": "edns:", "question": "QD:"}
        out = self.lines(sort=True, mask_serial="serial" in ignore, canonical=True)
        return [x for x in out if not any(x.startswith(skip[k]) for k in ignore if k in skip)]


# ------------------------------------------------------------------ dig


class DigResult:
    """The real dig's output and its header: status, flags (a set of upper-case names),
    counts (QUERY, ANSWER, AUTHORITY, ADDITIONAL), and the exit status."""

    def __init__(self, argv, status, out):
        self.argv = argv
        self.exit = status
        self.out = out
        self.status = None
        self.flags = set()
        self.counts = {}
        for line in out.splitlines():
            if line.startswith(";; ->>HEADER<<-") and "status: " in line:
                self.status = line.split("status: ", 1)[1].split(",")[0].strip()
            elif line.startswith(";; flags:") and self.status is not None and not self.flags:
                flags, _, counts = line[len(";; flags:"):].partition(";")
                self.flags = {f.upper() for f in flags.split()}
                for item in counts.split(","):
                    key, _, value = item.strip().partition(": ")
                    if value.isdigit():
                        self.counts[key] = int(value)

    def __str__(self):
        return self.out


def dig(port, *args, transport="udp4", timeout=2):
    """Run `dig @127.0.0.1|::1 -p PORT +time=T +tries=1 [+tcp] ARGS` (bounded; +tcp for
    tcp4/tcp6): a DigResult. For tests about dig itself; otherwise use query()."""
    argv = ["dig", "@" + host_of(transport), "-p", str(port), "+time=%d" % timeout,
            "+tries=1"] + (["+tcp"] if transport.startswith("tcp") else []) + list(args)
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout * 4 + 10, errors="replace",
                           stdin=subprocess.DEVNULL)
        return DigResult(shlex.join(argv), p.returncode, p.stdout)
    except subprocess.TimeoutExpired:
        return DigResult(shlex.join(argv), "timeout", "")
