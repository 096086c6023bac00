#!/usr/bin/env python3
"""test_core.py: DNS protocol behaviour of gslbd as an authoritative server.

One gslbd serves three zones from a directory (the example zone, a zone with the other
record types and large RRsets, and a reverse zone) on 127.0.0.1 and ::1. dnspython asks
the questions a resolver would, and the test builds the packets a resolver would not
(malformed ones from a struct-packed header and dnspython's own bytes, zone transfers);
the real dig runs only where the test is about dig. Each test name carries the RFC
section that dictates the expected answer; each whole-reply check compares the status,
the flags, the OPT record, the question and every section's records.

Not here: reloads and zone-file errors (test_reload.py), TCP limits and load
(test_transport.py), geographic answers (test_geo.py).
"""

import base64
import os
import struct

import dns.message
import dns.tsig

import gslbtest as g

OPT = g.GSLBD_OPT
NEG = g.EXAMPLE_NEG_SOA
EDE20 = (15, b"\x00\x14")  # Extended DNS Error 20, Not Authoritative (RFC 8914 4.21)
EXTRA_NEG = ("extra.example.net. 20 IN SOA ns1.extra.example.net. hostmaster.example.net. "
             "SERIAL 3600 600 604800 3600")


def txt_list(count, prefix):
    """count strings of 48 bytes: twelve make ~800 bytes (over 512, under 1232), forty
    ~2.6 kB."""
    width = len(str(count))
    return "[" + ", ".join('"%s%0*d-%s"' % (prefix, width, i, "x" * 44)
                           for i in range(1, count + 1)) + "]"


EXTRA_ZONE = """\
zone: extra.example.net
ttl: 20
soa: {mname: ns1.extra.example.net, rname: hostmaster.example.net, refresh: 3600, retry: 600, expire: 604800, minimum: 3600}
ns: [ns1.extra.example.net]
records:
  ns1: {A: 192.0.2.53}
  "@": {CAA: '0 issue "ca.example.net"'}
  chain: {CNAME: hop}
  hop: {CNAME: target}
  target: {A: 192.0.2.7}
  out: {CNAME: www.example.org.}
  dangling: {CNAME: missing}
  mid: {TXT: %s}
  big: {TXT: %s}
""" % (txt_list(12, "m"), txt_list(40, "b"))

REVERSE_ZONE = """\
zone: 100.51.198.in-addr.arpa
ttl: 3600
soa: {mname: ns1.gslb.example.com, rname: hostmaster.example.com, refresh: 3600, retry: 600, expire: 604800, minimum: 60}
ns: [ns1.gslb.example.com, ns2.gslb.example.com]
records:
  "10": {PTR: www.gslb.example.com.}
"""


def expect(srv, name, tr, qname, qtype, rcode="NOERROR", flags="QR AA RD", opt=OPT,
           answer=(), authority=(), additional=(), **query):
    """One query (make_query arguments in `query`), the whole reply checked as one
    assertion; opt is the expected OPT record (check_edns fields, None: none)."""
    r = srv.query(qname, qtype, transport=tr, **query)
    r.check_reply(name, rcode=rcode, flags=flags, edns=opt, answer=answer,
                  authority=authority, additional=additional)
    return r


def header_and_basics(srv):
    for tr in g.TRANSPORTS:
        expect(srv, "RFC 1035 4.1.1: A answer, AA set, RA clear, RD copied (%s)" % tr, tr,
               "www.gslb.example.com", "A",
               answer=["www.gslb.example.com. 30 IN A 192.0.2.10"])
        expect(srv, "RFC 3596 2.1: AAAA answer (%s)" % tr, tr, "www.gslb.example.com", "AAAA",
               answer=["www.gslb.example.com. 30 IN AAAA 2001:db8:10::10"])
        expect(srv, "RFC 1035 4.1.1: RD clear in query, clear in reply (%s)" % tr, tr,
               "www.gslb.example.com", "A", flags="QR AA", rd=False,
               answer=["www.gslb.example.com. 30 IN A 192.0.2.10"])
        for qname, rcode in (("www.gslb.example.com", "NOERROR"),
                             ("nope.gslb.example.com", "NXDOMAIN"), ("example.org", "REFUSED")):
            srv.query(qname, "A", transport=tr, flags="RD CD").check(
                "RFC 4035 3.1.6: CD copied from the query: %s %s (%s)" % (qname, rcode, tr),
                rcode=rcode, flags="QR RD CD", noflags="TC RA Z AD")
        expect(srv, "RFC 2308 s3: NXDOMAIN with SOA, TTL min(300, 60) (%s)" % tr, tr,
               "nope.gslb.example.com", "A", rcode="NXDOMAIN", authority=[NEG])
        expect(srv, "RFC 2308 s3: NXDOMAIN below an existing name (%s)" % tr, tr,
               "a.b.www.gslb.example.com", "A", rcode="NXDOMAIN", authority=[NEG])
        expect(srv, "RFC 2308 s2.2/s5: NODATA with SOA, TTL 60 (%s)" % tr, tr,
               "ns2.gslb.example.com", "AAAA", authority=[NEG])
        expect(srv, "RFC 8020 s2: empty non-terminal is NODATA, not NXDOMAIN (%s)" % tr, tr,
               "_tcp.gslb.example.com", "A", authority=[NEG])
        for name in ("example.org", "example.com", "com", "."):
            expect(srv, "RFC 1035 4.1.1, RFC 8914 4.21: REFUSED outside served zones, "
                   "EDE 20 Not Authoritative: %s (%s)" % (name, tr),
                   tr, name, "A", rcode="REFUSED", flags="QR RD", opt=dict(OPT, options=[EDE20]))
        expect(srv, "RFC 8914: no OPT, so no EDE, without EDNS (%s)" % tr, tr, "example.org",
               "A", rcode="REFUSED", flags="QR RD", opt=None, edns=None)

        # RFC 4343 s3 / RFC 1035 4.1.1: matching ignores case; the question is echoed
        # byte for byte. Owner names in the answer may use either case, and are compared
        # as DNS compares names.
        r = srv.query("WwW.GsLb.ExAmPlE.CoM", "A", transport=tr)
        r.check_question("RFC 4343: question case kept in reply (%s)" % tr,
                         "WwW.GsLb.ExAmPlE.CoM. IN A")
        r.check_section("RFC 4343: mixed-case query answered (%s)" % tr, "answer",
                        ["www.gslb.example.com. 30 IN A 192.0.2.10"])
        r.check("RFC 4343: mixed-case query flags (%s)" % tr, exact_flags="QR AA RD")


def same_over_tcp(srv):
    # RFC 7766 s5: TCP carries the same answers as UDP (nothing here needs truncation).
    for qname, qtype in (("www.gslb.example.com", "A"), ("gslb.example.com", "NS"),
                         ("nope.gslb.example.com", "A"), ("docs.gslb.example.com", "AAAA")):
        udp = srv.query(qname, qtype, transport="udp4")
        udp.cmp(srv.query(qname, qtype, transport="tcp6"),
                "RFC 7766 s5: %s %s over tcp6 answered as over udp4" % (qname, qtype))


def more_negative_answers(srv):
    for tr in ("udp4", "tcp6"):
        for qname, qtype in (("www.gslb.example.com", "SOA"), ("www.gslb.example.com", "NS"),
                             ("ns1.gslb.example.com", "MX"), ("docs.gslb.example.com", "TXT"),
                             ("_tcp.gslb.example.com", "SRV")):
            answer = []
            if qname == "docs.gslb.example.com":
                answer = ["docs.gslb.example.com. 300 IN CNAME www.gslb.example.com."]
            expect(srv, "RFC 2308 s2.2: %s at %s is NODATA (%s)" % (qtype, qname, tr), tr,
                   qname, qtype, answer=answer, authority=[NEG])
        # No wildcard in the zone: '*' is an ordinary label that does not exist.
        for qname in ("x.docs.gslb.example.com", "*.gslb.example.com",
                      "x._sip._tcp.gslb.example.com"):
            expect(srv, "RFC 4592 s2.2 / RFC 2308 s3: %s is NXDOMAIN (%s)" % (qname, tr), tr,
                   qname, "A", rcode="NXDOMAIN", authority=[NEG])


def record_types(srv):
    for tr in ("udp4", "tcp6"):
        expect(srv, "RFC 1035 3.3.13: apex SOA, TTL 300 (%s)" % tr, tr, "gslb.example.com",
               "SOA", answer=["gslb.example.com. 300 IN SOA ns1.gslb.example.com. "
                              "hostmaster.example.com. SERIAL 3600 600 604800 60"])
        expect(srv, "RFC 1034 4.3.2: apex NS with in-zone glue in additional (%s)" % tr, tr,
               "gslb.example.com", "NS",
               answer=["gslb.example.com. 300 IN NS ns1.gslb.example.com.",
                       "gslb.example.com. 300 IN NS ns2.gslb.example.com."],
               additional=["ns1.gslb.example.com. 300 IN A 198.51.100.53",
                           "ns1.gslb.example.com. 300 IN AAAA 2001:db8:53::1",
                           "ns2.gslb.example.com. 300 IN A 203.0.113.53"])
        expect(srv, "RFC 1035 3.3.9: MX, out-of-zone exchange gets no additional (%s)" % tr,
               tr, "gslb.example.com", "MX",
               answer=["gslb.example.com. 300 IN MX 10 mail.example.com."])
        expect(srv, "RFC 1035 3.3.14: TXT (%s)" % tr, tr, "gslb.example.com", "TXT",
               answer=['gslb.example.com. 300 IN TXT "gslb demo"'])
        expect(srv, "RFC 2782: SRV (%s)" % tr, tr, "_sip._tcp.gslb.example.com", "SRV",
               answer=["_sip._tcp.gslb.example.com. 300 IN SRV 10 5 5060 sip.example.com."])
        expect(srv, "RFC 8659 4: CAA (%s)" % tr, tr, "extra.example.net", "CAA",
               answer=['extra.example.net. 20 IN CAA 0 issue "ca.example.net"'])
        expect(srv, "RFC 1035 3.3.12: PTR in a reverse zone (%s)" % tr, tr,
               "10.100.51.198.in-addr.arpa", "PTR",
               answer=["10.100.51.198.in-addr.arpa. 3600 IN PTR www.gslb.example.com."])
        expect(srv, "RFC 1035 3.3.1: CNAME asked for itself is not followed (%s)" % tr, tr,
               "docs.gslb.example.com", "CNAME",
               answer=["docs.gslb.example.com. 300 IN CNAME www.gslb.example.com."])
        for qtype in ("HINFO", "NAPTR", "TYPE65280"):
            expect(srv, "RFC 2308 s2.2: unserved type %s at apex is NODATA (%s)" % (qtype, tr),
                   tr, "gslb.example.com", qtype, authority=[NEG])
        expect(srv, "RFC 2308 s2.2: negative TTL is the SOA TTL when smaller (20 < 3600) (%s)"
               % tr, tr, "nope.extra.example.net", "A", rcode="NXDOMAIN",
               authority=[EXTRA_NEG])


def cnames(srv):
    for tr in ("udp4", "tcp4"):
        r = expect(srv, "RFC 1034 4.3.2 step 3a: CNAME followed in zone (A) (%s)" % tr, tr,
                   "docs.gslb.example.com", "A",
                   answer=["docs.gslb.example.com. 300 IN CNAME www.gslb.example.com.",
                           "www.gslb.example.com. 30 IN A 192.0.2.10"])
        # The whole-reply check takes the records in any order; on the wire the CNAME
        # must come first.
        r.check_types("RFC 1034 4.3.2: CNAME precedes its target in the answer (%s)" % tr,
                      "answer", "CNAME A")
        expect(srv, "RFC 1034 4.3.2: CNAME followed in zone (AAAA) (%s)" % tr, tr,
               "docs.gslb.example.com", "AAAA",
               answer=["docs.gslb.example.com. 300 IN CNAME www.gslb.example.com.",
                       "www.gslb.example.com. 30 IN AAAA 2001:db8:10::10"])
        expect(srv, "RFC 2308 s2.2: CNAME to a name without the type: NODATA after the CNAME "
               "(%s)" % tr, tr, "docs.gslb.example.com", "MX",
               answer=["docs.gslb.example.com. 300 IN CNAME www.gslb.example.com."],
               authority=[NEG])
        expect(srv, "RFC 1034 4.3.2: CNAME chain followed to the end (%s)" % tr, tr,
               "chain.extra.example.net", "A",
               answer=["chain.extra.example.net. 20 IN CNAME hop.extra.example.net.",
                       "hop.extra.example.net. 20 IN CNAME target.extra.example.net.",
                       "target.extra.example.net. 20 IN A 192.0.2.7"])
        expect(srv, "RFC 1034 4.3.2: CNAME out of every zone answered alone (%s)" % tr, tr,
               "out.extra.example.net", "A",
               answer=["out.extra.example.net. 20 IN CNAME www.example.org."])
        expect(srv, "RFC 6604 s2: CNAME to a missing name: NXDOMAIN with the CNAME (%s)" % tr,
               tr, "dangling.extra.example.net", "A", rcode="NXDOMAIN",
               answer=["dangling.extra.example.net. 20 IN CNAME missing.extra.example.net."],
               authority=[EXTRA_NEG])


def any_queries(t, srv):
    for qname in ("gslb.example.com", "www.gslb.example.com"):
        r = srv.query(qname, "ANY")
        types = sorted(set(r.types("answer")))
        r.check("RFC 8482 4.1: ANY %s is NOERROR" % qname, rcode="NOERROR")
        r.check("RFC 8482 4.1: ANY %s flags" % qname, exact_flags="QR AA RD")
        t.compare("RFC 8482 4.1: ANY %s answers at least one record" % qname,
                  r.count("answer"), ">=", 1)
        t.eq("RFC 8482 4.1: ANY %s answers one RRset (types: %s)" % (qname, " ".join(types)),
             1, len(types))
        r.check_size("RFC 8482 4.1: ANY %s reply is small" % qname, le=512)


def compression(t, srv):
    # RFC 1035 4.1.4: names are compressed. Exact size of "www A" without EDNS:
    # header 12 + question 26 + answer (pointer 2 + fixed 10 + address 4) = 54.
    srv.query("www.gslb.example.com", "A", edns=None).check_size(
        "RFC 1035 4.1.4: www A reply is 54 bytes (compressed, minimal)", eq=54)
    # The sizes below are what Knot DNS 3.2 sends for the same zone: every name that
    # can point at an earlier one does, including the SOA's owner into the question
    # and MNAME/RNAME into the owner.
    srv.query("nope.gslb.example.com", "A", edns=None).check_size(
        "RFC 1035 4.1.4: NXDOMAIN with SOA is 90 bytes", eq=90)
    srv.query("gslb.example.com", "NS", edns=None).check_size(
        "RFC 1035 4.1.4: NS with 3 glue records is 130 bytes", eq=130)
    srv.query("docs.gslb.example.com", "MX", edns=None).check_size(
        "RFC 1035 4.1.4: CNAME then NODATA is 108 bytes", eq=108)
    for tr in ("udp4", "tcp4"):
        r = srv.query("gslb.example.com", "NS", transport=tr, edns=None)
        pointers, uncompressed = r.compression()
        t.compare("RFC 1035 4.1.4: NS reply uses pointers (%s)" % tr, pointers, ">=", 5)
        t.compare("RFC 1035 4.1.4: NS reply (%s) smaller than uncompressed (%d) (%s)"
                  % (r.size, uncompressed, tr), r.size or 0, "<", uncompressed - 40)


def edns(t, srv):
    for tr in ("udp4", "tcp4", "udp6"):
        for qname, qtype in (("www.gslb.example.com", "A"), ("nope.gslb.example.com", "A"),
                             ("ns2.gslb.example.com", "AAAA"), ("example.org", "A")):
            srv.query(qname, qtype, transport=tr).check_edns(
                "RFC 6891 s7: OPT with udp 1232 in reply to EDNS query: %s %s (%s)"
                % (qname, qtype, tr), version=0, payload=1232, do=False)

        expect(srv, "RFC 6891 s7: no OPT in reply to a query without one (%s)" % tr, tr,
               "www.gslb.example.com", "A", edns=None, opt=None,
               answer=["www.gslb.example.com. 30 IN A 192.0.2.10"])

        # RFC 6891 6.1.3 says nothing of AA on BADVERS, so either is accepted.
        r = expect(srv, "RFC 6891 6.1.3: EDNS version 1 gets BADVERS, OPT version 0, "
                   "no records (%s)" % tr, tr, "www.gslb.example.com", "A", rcode="BADVERS",
                   flags=None, rd=False, edns=1)
        r.check("RFC 6891 6.1.3: BADVERS flags (%s)" % tr, flags="QR",
                noflags="TC RD RA Z AD CD")

        r = expect(srv, "RFC 6891 6.1.2: unknown option ignored, not echoed (%s)" % tr, tr,
                   "www.gslb.example.com", "A", options=[(65001, b"\xab\xcd")],
                   answer=["www.gslb.example.com. 30 IN A 192.0.2.10"])
        r.check_option("RFC 6891 6.1.2: option 65001 not in reply (%s)" % tr, 65001,
                       present=False)

        expect(srv, "RFC 3225 s3: DO accepted and copied to the reply (%s)" % tr, tr,
               "www.gslb.example.com", "A", do=True, opt=dict(OPT, do=True),
               answer=["www.gslb.example.com. 30 IN A 192.0.2.10"])

        cookies(t, srv, tr)

        r = srv.query("www.gslb.example.com", "A", transport=tr, ecs="192.0.2.0/24")
        r.check("RFC 7871: query with client subnet answered NOERROR (%s)" % tr,
                rcode="NOERROR")
        r.check_record("RFC 7871: query with client subnet gets a pool address (%s)" % tr,
                       "answer", rname="www.gslb.example.com.", ttl=30, rtype="A",
                       rdata=["192.0.2.10", "198.51.100.10", "203.0.113.10"])

    # The raw OPT: owner root (dnspython refuses any other), version 0, extended rcode 0,
    # size 1232 whatever the client offered.
    srv.query("www.gslb.example.com", "A", edns=0, payload=4096).check_edns(
        "RFC 6891 6.1.2: raw OPT in reply", version=0, payload=1232, do=False, ercode=0,
        options=[])
    r = srv.query("www.gslb.example.com", "A", edns=1)
    with t.group("RFC 6891 6.1.3: raw BADVERS is extended rcode 16 (ercode 1, rcode 0)"):
        r.check(rcode="BADVERS")
        r.check_edns(version=0, payload=1232, do=False, ercode=1, options=[])


def cookies(t, srv, tr):
    """DNS cookies (RFC 7873) answered with RFC 9018 server cookies, over one transport."""
    def cookie_of(r):
        got = [data for code, data in r.option_bytes() if code == 10]
        return got[0] if len(got) == 1 else None

    for n in (0, 7, 9, 15, 41):
        srv.query("www.gslb.example.com", "A", transport=tr, options=[(10, bytes(n))]).check(
            "RFC 7873 5.2.2: a COOKIE option of %d bytes gets FORMERR (%s)" % (n, tr),
            rcode="FORMERR")
    # An 8-byte client cookie (RFC 7873 s4.1), as dig +cookie sends.
    client = os.urandom(8)
    r = srv.query("www.gslb.example.com", "A", transport=tr, options=[(10, client)])
    r.check("RFC 7873 5.2.3: a client cookie alone: answered normally (%s)" % tr,
            rcode="NOERROR", flags="QR AA RD")
    cookie = cookie_of(r)
    t.check("RFC 7873 5.2.3, RFC 9018 4.2: the client cookie comes back with a 16-byte server "
            "cookie of version 1 (%s)" % tr,
            cookie is not None and len(cookie) == 24 and cookie[:8] == client and
            cookie[8:12] == b"\x01\0\0\0", "got: %s" % (cookie.hex() if cookie else None))
    if cookie is None or len(cookie) != 24:
        return
    r = srv.query("www.gslb.example.com", "A", transport=tr, options=[(10, cookie)])
    r.check("RFC 7873 5.2.5: the whole cookie sent back: answered (%s)" % tr, rcode="NOERROR")
    t.eq("RFC 9018 4.3: a valid cookie under half an hour old comes back unchanged (%s)" % tr,
         cookie.hex(), (cookie_of(r) or b"").hex())
    forged = cookie[:23] + bytes([cookie[23] ^ 1])
    r = srv.query("www.gslb.example.com", "A", transport=tr, options=[(10, forged)])
    r.check("RFC 7873 5.2.4: a server cookie not ours: answered normally (%s)" % tr,
            rcode="NOERROR")
    new = cookie_of(r) or b""
    t.check("RFC 7873 5.2.4: ... with a new server cookie (%s)" % tr,
            new[:8] == client and len(new) == 24 and new != forged, "got: %s" % new.hex())


def truncation(srv):
    t = srv.test
    for tr in ("udp4", "udp6"):
        r = srv.query("mid.extra.example.net", "TXT", transport=tr, edns=None)
        r.check("RFC 1035 4.2.1: 800-byte answer without EDNS sets TC (%s)" % tr,
                flags="QR AA TC")
        r.check_size("RFC 1035 4.2.1: truncated reply fits in 512 bytes (%s)" % tr, le=512)

        r = srv.query("mid.extra.example.net", "TXT", transport=tr, payload=512)
        r.check("RFC 6891 6.2.3: EDNS bufsize 512: TC set (%s)" % tr, flags="QR AA TC")
        r.check_size("RFC 6891 6.2.3: EDNS bufsize 512: reply within 512 (%s)" % tr, le=512)
        r.check_edns("RFC 6891 s7: OPT kept in a truncated reply (%s)" % tr, version=0)

        r = srv.query("mid.extra.example.net", "TXT", transport=tr, payload=1232)
        with t.group("RFC 6891 6.2.3: EDNS bufsize 1232: 800-byte answer whole, no TC (%s)"
                     % tr):
            r.check(exact_flags="QR AA RD")
            r.check_count(answer=12)

        r = srv.query("www.gslb.example.com", "A", transport=tr, payload=100)
        with t.group("RFC 6891 6.2.5: bufsize below 512 treated as 512 (%s)" % tr):
            r.check(exact_flags="QR AA RD")
            r.check_count(answer=1)

        r = srv.query("big.extra.example.net", "TXT", transport=tr)
        r.check("RFC 6891 6.2.3: 2.6 kB answer over UDP/1232 sets TC (%s)" % tr,
                flags="QR AA TC")
        r.check_size("RFC 6891 6.2.3: truncated reply within 1232 (%s)" % tr, le=1232)

        r = srv.query("big.extra.example.net", "TXT", transport=tr, payload=4096)
        r.check_size("RFC 6891 6.2.5: reply to bufsize 4096 within 4096 (%s)" % tr, le=4096)
        if r.flags == {"QR", "AA", "RD"}:
            r.check_count("RFC 6891 6.2.5: untruncated 4096 reply is whole (%s)" % tr,
                          answer=40)
        else:
            r.check("RFC 6891 6.2.5: reply to bufsize 4096 truncated, capped at 1232 (%s)"
                    % tr, flags="QR AA TC")

        d = srv.dig("big.extra.example.net", "TXT", transport=tr)
        t.eq("RFC 7766 s5: dig retries the truncated answer over TCP and gets 40 TXT (%s)"
             % tr, ({"QR", "AA", "RD"}, 40), (d.flags, d.counts.get("ANSWER")))
        r = srv.query("big.extra.example.net", "TXT", transport=tr, fallback=True)
        with t.group("RFC 7766 s5: the truncated answer asked again over TCP has all 40 TXT "
                     "(%s)" % tr):
            t.check("the UDP reply was truncated", r.truncated_reply is not None)
            r.check(rcode="NOERROR", exact_flags="QR AA RD")
            r.check_count(answer=40)
    for tr in ("tcp4", "tcp6"):
        r = srv.query("big.extra.example.net", "TXT", transport=tr)
        with t.group("RFC 7766 s5: 2.6 kB answer whole over TCP, no TC (%s)" % tr):
            r.check(rcode="NOERROR", exact_flags="QR AA RD")
            r.check_count(answer=40)


def opcodes_and_classes(srv):
    for tr in ("udp4", "tcp4"):
        for op in (1, 2, 3, 4, 5, 6, 15):
            r = srv.query("www.gslb.example.com", "A", transport=tr, opcode=op)
            r.check("RFC 1035 4.1.1: opcode %d gets NOTIMP (%s)" % (op, tr), rcode="NOTIMP")
            r.check_count("RFC 1035 4.1.1: opcode %d: nothing answered (%s)" % (op, tr),
                          answer=0)
            r.check_edns("RFC 6891 s7: OPT in the NOTIMP reply to an EDNS query (opcode %d, %s)"
                         % (op, tr), version=0, payload=1232, do=False)
        r = srv.query("www.gslb.example.com", "A", transport=tr, opcode=2, edns=None)
        r.check("RFC 1035 4.1.1: raw opcode 2 reply: NOTIMP, opcode echoed, id kept (%s)" % tr,
                rcode="NOTIMP", opcode=2, same_id=True)
        r.check_edns("RFC 6891 s7: no OPT in the NOTIMP reply to a query without one (%s)" % tr,
                     present=False)

        # version.bind may be answered (as BIND and Knot do) or refused; either way a reply.
        srv.query("version.bind", "TXT", transport=tr, qclass="CH").check(
            "RFC 4892 s2: CH TXT version.bind gets a reply (%s)" % tr,
            rcode=["NOERROR", "REFUSED", "NOTIMP"])
        r = srv.query("www.gslb.example.com", "A", transport=tr, qclass="CH")
        r.check("RFC 6895 s3.2: class CH for an IN name: REFUSED or NOTIMP (%s)" % tr,
                rcode=["REFUSED", "NOTIMP"])
        r.check_edns("RFC 8914 4.21: class CH refused with EDE 20 Not Authoritative (%s)" % tr,
                     options=[EDE20])


def tsig(t, srv):
    # We hold no TSIG keys: a signed query gets NOTAUTH and an unsigned TSIG record with
    # error BADKEY, which dnspython, given the key, reports as PeerBadKey.
    key = dns.tsig.Key("gslb.example.com.", base64.b64encode(b"k" * 32).decode(),
                       algorithm=dns.tsig.HMAC_SHA256)
    for tr in ("udp4", "tcp4", "udp6"):
        for edns in (None, 0):
            q = g.make_query("www.gslb.example.com", "SOA", edns=edns)
            q.use_tsig(key)
            wire = q.to_wire()
            r = srv.send_raw(wire, tr)
            what = "%s, %s" % ("EDNS" if edns is not None else "no EDNS", tr)
            got = r.wire or b""
            t.eq("RFC 8945 5.2.1: signed query gets NOTAUTH, nothing answered (%s)" % what,
                 (9, 0, 0), (got[3] & 0x0f, got[6] << 8 | got[7], got[8] << 8 | got[9])
                 if len(got) >= 12 else None)
            try:
                dns.message.from_wire(got, keyring=key, request_mac=q.mac)
                verdict = "accepted"
            except dns.tsig.PeerBadKey:
                verdict = "PeerBadKey"
            except Exception as e:  # noqa: BLE001: the verdict says which
                verdict = "%s: %s" % (type(e).__name__, e)
            t.eq("RFC 8945 5.3.2: unsigned TSIG with error BADKEY in the reply (%s)" % what,
                 "PeerBadKey", verdict)
    # The TSIG record anywhere but last is a format error (RFC 8945 5.2).
    q = g.make_query("www.gslb.example.com", "SOA", edns=None)
    q.use_tsig(key)
    signed = q.to_wire()
    opt = b"\0\0\x29\x04\xd0\0\0\0\0\0\0"
    misplaced = signed[:11] + b"\x02" + signed[12:] + opt
    r = srv.send_raw(misplaced, "udp4")
    t.eq("RFC 8945 5.2: TSIG not the last record gets FORMERR", 1,
         r.wire[3] & 0x0f if r.wire else None)


def zone_transfers(t, srv):
    def refused(name, r, rcodes=("REFUSED",)):
        with t.group(name):
            r.check(rcode=list(rcodes))
            r.check_count(answer=0, authority=0, additional=0)
            r.check_edns(present=False)

    refused("RFC 5936 s2.2.1: AXFR over TCP refused, no records",
            srv.query("gslb.example.com", "AXFR", transport="tcp4", edns=None))
    refused("RFC 5936 s4.2: AXFR over UDP not served",
            srv.query("gslb.example.com", "AXFR", transport="udp4", edns=None),
            ("REFUSED", "NOTIMP", "FORMERR"))
    # RFC 1995 s3: an IXFR query carries the client's SOA in the authority section.
    soa = ["gslb.example.com. 0 IN SOA a. b. 1 0 0 0 0"]
    refused("RFC 1995 s2: IXFR over TCP refused, no records",
            srv.query("gslb.example.com", "IXFR", transport="tcp6", edns=None, authority=soa))
    refused("RFC 1995 s2: IXFR over UDP refused",
            srv.query("gslb.example.com", "IXFR", transport="udp4", edns=None, authority=soa))
    r = srv.query("gslb.example.com", "AXFR", transport="tcp4")
    r.check_edns("RFC 8914 4.22: AXFR refused with EDE 21 Not Supported and a reason",
                 options=[(15, b"\x00\x15zone transfers are not served")])
    t.like("RFC 5936: dig axfr reports the transfer failed", "Transfer failed",
           srv.dig("gslb.example.com", "AXFR").out)


def malformed_cases():
    """Broken or odd queries by name, as bytes: a struct-packed header (the ids tell them
    apart) over parts of dnspython's own wire form, or literal broken names."""
    def header(qid, flags=0x0100, qd=1, an=0, ns=0, ar=0):
        return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)

    plain = g.make_query("www.gslb.example.com", "A", edns=None).to_wire()
    q = plain[12:]                                   # question: name, type, class
    tail = q[-4:]                                    # type A, class IN
    other = g.make_query("ns1.gslb.example.com", "A", edns=None).to_wire()[12:]
    opt = g.make_query("www.gslb.example.com", "A").to_wire()[len(plain):]
    long_name = b"".join(bytes([63]) + b"a" * 63 for _ in range(4)) + b"\x00"  # 257 bytes
    return {
        "qdcount0": header(0x1001, qd=0),
        "qdcount2": header(0x1002, qd=2) + q + other,
        "truncated-question": header(0x1003) + q[:9],
        "no-qtype": header(0x1004) + q[:-4],
        "label-type-0x40": header(0x1005) + b"\x43www\x00" + tail,
        "label-type-0x80": header(0x1006) + b"\x83www\x00" + tail,
        "pointer-loop": header(0x1007) + b"\xc0\x0c" + tail,
        "pointer-forward": header(0x1008) + b"\xc0\x40" + tail,
        "name-too-long": header(0x1009) + long_name + tail,
        "two-opt": header(0x100a, ar=2) + q + opt + opt,
        "qr-set": header(0x100b, 0x8100) + q,
        "short-header": header(0x100c)[:11],
        "empty": b"",
        "header-only-qr": header(0x100d, 0x8000, qd=0),
        "ok": header(0x100e) + q,
    }


def malformed(srv):
    # RFC 1035 4.1.1 / RFC 9619 s4 / RFC 6891 6.1.1: a query the server cannot make sense
    # of gets FORMERR (with the id kept), never silence and never a crash.
    cases = malformed_cases()
    for tr in ("udp4", "tcp4", "udp6"):
        for c in ("qdcount0", "qdcount2", "truncated-question", "no-qtype", "label-type-0x40",
                  "label-type-0x80", "pointer-loop", "pointer-forward", "name-too-long",
                  "two-opt"):
            srv.send_raw(cases[c], tr).check(
                "RFC 1035 4.1.1/RFC 9619: malformed '%s' gets FORMERR (%s)" % (c, tr),
                rcode="FORMERR", same_id=True)
    # RFC 1035 4.1.1: a response (QR set) or a packet shorter than a header is dropped.
    for tr in ("udp4", "udp6"):
        for c in ("qr-set", "header-only-qr", "short-header", "empty"):
            srv.send_raw(cases[c], tr, timeout=0.5).check_noreply(
                "RFC 1035 4.1.1: '%s' gets no reply (%s)" % (c, tr))
    srv.send_raw(cases["ok"], "udp4").check(
        "server still answers after the malformed packets", rcode="NOERROR",
        exact_flags="QR AA RD")


def main(t):
    t.write("zones/gslb.example.com.yaml", g.EXAMPLE_ZONE)
    t.write("zones/extra.example.net.yaml", EXTRA_ZONE)
    t.write("zones/100.51.198.in-addr.arpa.yaml", REVERSE_ZONE)
    srv = g.Gslbd(t, "core", zones=t.path("zones"))
    t.start(srv, "gslbd starts and prints ready:", bail=True)
    t.like("ready line counts the 3 zones", r"ready: serving 3 zones", srv.log())

    header_and_basics(srv)
    same_over_tcp(srv)
    more_negative_answers(srv)
    record_types(srv)
    cnames(srv)
    any_queries(t, srv)
    compression(t, srv)
    edns(t, srv)
    truncation(srv)
    opcodes_and_classes(srv)
    tsig(t, srv)
    zone_transfers(t, srv)
    malformed(srv)

    t.eq("SIGTERM stops gslbd with status 0 within 5 s", 0, srv.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
