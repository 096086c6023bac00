#!/usr/bin/env python3
"""test_geo.py: geographic answers of gslbd services, by GeoIP and EDNS Client Subnet.

The script builds its own GeoIP database with geo/build-testdb, placing documentation
and loopback networks on several continents, and serves a zone whose services use each
policy and geo rule. dnspython asks with a Client Subnet option (RFC 7871) as a resolver
would, and sends the ECS options a resolver would not build (malformed ones, exact
bytes). It covers: the nearest region per client for A and AAAA, the ECS scope of each
answer, placement by the packet source without ECS, geo.map / geo.nets / geo.default,
answers, spread_km, the weighted and failover policies, draining by weight 0, ecs: false,
the built-in world database, --explain, reloading the database file, and databases in
ip-location-db's flat layout (DB-IP City Lite as published on npm).

Not here: static records and the wire protocol in general (test_core.py), zone reloads
(test_reload.py). All traffic goes to 127.0.0.1 and ::1; every wait and loop is bounded.
"""

import os
import re
import shutil
import time

import dns.rdatatype

import gslbtest as g

BUILD_TESTDB = g.ROOT / "geo" / "build-testdb"
WORLD_DB = g.ROOT / "geo" / "world-country.mmdb"
EXAMPLE_ZONE = g.ROOT / "zones" / "examples" / "gslb.example.com.yaml"

# Where each client network is. Everything else is not in the database, so the merged
# networks (and with them the ECS scopes) below are known exactly:
# - 81.2.69.0/25 London and 81.2.69.128/25 Paris have the same distance order, so a
#   service without geo rules answers both alike: scope /24, since 81.2.68.0/24 is empty.
# - 100.96.0.0/11 holds nothing while 100.64.0.0/11 holds the Toronto, Windhoek and
#   Australia networks: a client in 100.100.0.0/24 is unplaced over exactly a /11.
# - 0.0.0.0/8 is also where ::1 is looked up: an IPv6 database keeps the IPv4 space at
#   ::/96, so ::1 and 0.0.0.1 are the same entry (geo/build-testdb's header).
# - 100.64.4.0/24 has a country and no coordinates: it is placed at the country's point.
TEST_SPEC = """\
# network          country continent latitude longitude subdivision
0.0.0.0/8          BR      SA        -23.55   -46.63    -
81.2.69.0/25       GB      EU        51.5     -0.13     ENG
81.2.69.128/25     FR      EU        48.86    2.35      IDF
100.64.1.0/24      CA      NA        43.65    -79.38    ON
100.64.2.0/24      NA      AF        -22.56   17.08     -
100.64.4.0/24      AU      OC        -        -         -
127.0.0.0/8        JP      AS        35.68    139.69    13
192.0.2.0/24       US      NA        37.77    -122.42   CA
198.51.100.0/24    US      NA        39.0     -77.5     VA
203.0.113.0/24     SG      AS        1.35     103.82    -
2001:db8:100::/48  GB      EU        51.5     -0.13     ENG
2001:db8:200::/48  SG      AS        1.35     103.82    -
2001:db8:300::/48  US      NA        37.77    -122.42   CA
"""

# The same networks with London moved to Singapore, for the reload test.
MOVED_SPEC = re.sub(r"^81\.2\.69\.0/25 .*$",
                    "81.2.69.0/25       SG      AS        1.35     103.82    -",
                    TEST_SPEC, flags=re.M)

# Pools, one per region, so an address says which region answered:
#   us-east 10.1.0.1 2001:db8:1::1   eu-west 10.2.0.1 2001:db8:2::1
#   ap-south 10.3.0.1 (no IPv6)      us-west 10.4.0.1 2001:db8:4::1
# Distances from the clients (km, haversine):
#   London      eu-west 464,  us-east 5918,  us-west 8637,  ap-south 10856
#   Paris       eu-west 781,  us-east 6186,  us-west 8972,  ap-south 10737
#   Virginia    us-east 5,    us-west 3862,  eu-west 5465,  ap-south 15533
#   Singapore   ap-south 7,   eu-west 11199, us-west 13628, us-east 15522
#   SF          us-west 50,   us-east 3877,  eu-west 8177,  ap-south 13585
#   Tokyo       ap-south 5317, us-west 8318, eu-west 9585,  us-east 10872
#   Sao Paulo   us-east 7664, eu-west 9393,  us-west 10390, ap-south 15985
#   Windhoek    eu-west 8736, ap-south 9731, us-east 11941, us-west 15792
#   Toronto     us-east 536,  us-west 3636,  eu-west 5250,  ap-south 15008
#   Australia   ap-south 6300, us-west 11951, us-east 15673, eu-west 17215
GEO_ZONE = """\
zone: geo.test
ttl: 300
soa: {mname: ns1.geo.test, rname: hostmaster.geo.test, minimum: 60}
ns: [ns1.geo.test]
records:
  ns1: {A: 192.0.2.53}
  txt: {TXT: "static"}
regions:
  us-east:  {location: [39.04, -77.49], weight: 300, pool: [10.1.0.1, "2001:db8:1::1"]}
  eu-west:  {location: [53.35, -6.26],  weight: %(eu)d, pool: [10.2.0.1, "2001:db8:2::1"]}
  ap-south: {location: [1.29, 103.85],  weight: %(ap)d, pool: [10.3.0.1]}
  us-west:  {location: [37.4, -122.1],  weight: 100, pool: [10.4.0.1, "2001:db8:4::1"]}
geo:
  map:
    NA: [eu-west]
    US: [ap-south]
    US-CA: [us-east]
    country:NA: [us-west]
    FR: [us-east]
  nets:
    203.0.113.128/25: [us-west]
    "2001:db8:100:1::/64": [us-west]
  default: [us-west]
services:
  www:     {regions: [us-east, eu-west, ap-south, us-west], geo: {}}
  mapped:  {regions: [us-east, eu-west, ap-south, us-west]}
  mapped2: {regions: [us-east, eu-west, ap-south, us-west], answers: 2}
  own:     {regions: [us-east, eu-west, ap-south, us-west], geo: {map: {EU: [ap-south]}}}
  two:     {regions: [us-east, eu-west, ap-south, us-west], answers: 2, geo: {}}
  spread:  {regions: [us-east, eu-west, ap-south, us-west], spread_km: 4500, geo: {}}
  wtd:     {regions: [us-east, eu-west], policy: weighted, geo: {}}
  fo:      {regions: [ap-south, eu-west, us-east], policy: failover, geo: {}}
  noecs:   {regions: [us-east, eu-west, ap-south, us-west], ecs: false, geo: {}}
"""

# A zone that turns ECS off for all its services; one service turns it back on.
PLAIN_ZONE = """\
zone: plain.test
soa: {mname: ns1.plain.test, rname: hostmaster.plain.test}
ns: [ns1.plain.test]
records:
  ns1: {A: 192.0.2.54}
ecs: false
regions:
  us-east:  {location: [39.04, -77.49], pool: [10.1.0.1, "2001:db8:1::1"]}
  eu-west:  {location: [53.35, -6.26],  pool: [10.2.0.1, "2001:db8:2::1"]}
  ap-south: {location: [1.29, 103.85],  pool: [10.3.0.1]}
services:
  www:  {regions: [us-east, eu-west, ap-south]}
  ecsy: {regions: [us-east, eu-west, ap-south], ecs: true}
"""

EU4, EU6 = "10.2.0.1", "2001:db8:2::1"
US4, US6 = "10.1.0.1", "2001:db8:1::1"
AP4 = "10.3.0.1"
UW4, UW6 = "10.4.0.1", "2001:db8:4::1"


def write_geo_zone(t, eu=100, ap=100):
    """The geo.test zone, written atomically; the weights of eu-west and ap-south are for
    the drain test."""
    return t.write("zones/geo.test.yaml", GEO_ZONE % {"eu": eu, "ap": ap})


# ------------------------------------------------------------------ helpers


def ask(srv, tr, qname, qtype, subnet=None):
    """One query with EDNS, and a Client Subnet option when subnet is given."""
    return srv.query(qname, qtype, transport=tr, ecs=subnet)


def placed(r):
    """What a reply says about placement, in one line: the status first unless it is
    NOERROR ("noreply" without a reply), the answer's A and AAAA addresses sorted, then
    "/SCOPE", the ECS scope of the reply ("-" when it carries no ECS option):
    "10.2.0.1 /24", "NXDOMAIN /0", "10.1.0.1 10.4.0.1 /11"."""
    words = []
    if r.rcode != "NOERROR":
        words.append(r.rcode or "noreply")
    words += sorted(rd.to_text() for _, _, rd in r.section("answer")
                    if rd.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA))
    ecs = r.ecs
    words.append("/%s" % ("-" if ecs is None else ecs.scopelen))
    return " ".join(words)


def first(r):
    """The first word of placed(r): the one address (or the status) of a reply."""
    return placed(r).split()[0]


def is_placed(t, name, want, r, got=None):
    """placed(r) (or `got`, a part of it) is `want`; the reply is shown when not."""
    got = placed(r) if got is None else got
    if got == want:
        return t.ok(name)
    return t.not_ok(name, "expected: %s" % want, "got:      %s" % got,
                    "reply to %s:" % r.describe(), *["  " + x for x in r.lines()])


def geo(t, srv, name, want, qname, qtype, subnet=None, tr="udp4"):
    """Ask (udp4 unless tr says otherwise) and assert placed() of the reply."""
    return is_placed(t, name, want, ask(srv, tr, qname, qtype, subnet))


def many(srv, qname, qtype, subnet, count):
    """`count` queries one after another over udp4 with this Client Subnet, as one dig
    run with many questions asked: a LoadResult whose tally counts each answer."""
    return srv.load(qname, qtype, "udp4", ecs=subnet, count=count, parallel=1,
                    deadline=60, timeout=2)


def addresses(load):
    """How many addresses the answers of a load held, all together."""
    return sum(n * len(answer.split()) for answer, n in load.tally.items())


def share(load, address):
    """How many answers of a load held `address`."""
    return sum(n for answer, n in load.tally.items() if address in answer.split())


def spread_over(srv, qname, nets):
    """The first A address answered to one query from each network (ECS), in order."""
    return [first(ask(srv, "udp4", qname, "A", net)) for net in nets]


def sticky(t, srv, what, qname, net, allowed):
    """100 queries from one network, over UDP and TCP (other threads), get one answer."""
    got = set(dict(many(srv, qname, "A", net, 100).tally))
    got |= {first(ask(srv, "tcp4", qname, "A", net)), first(ask(srv, "tcp6", qname, "A", net))}
    t.check("%s: %s gets the same region from 100 UDP queries and over TCP (%s)"
            % (what, net, " ".join(sorted(got))), len(got) == 1 and got <= set(allowed), got)


def all_answered(t, name, load, count):
    """Each of `count` queries was answered right, and there are `count` addresses."""
    t.check(name, load.clean(count) and addresses(load) == count,
            "expected: %d addresses" % count, "got:      %d" % addresses(load),
            *load.details())


# ------------------------------------------------------------------ nearest region


# Client subnet, place, A answer, AAAA answer, for the service without geo rules.
NEAREST = (("81.2.69.0/24", "London", EU4, EU6),
           ("198.51.100.0/24", "Virginia", US4, US6),
           ("203.0.113.0/24", "Singapore", AP4, EU6),
           ("192.0.2.0/24", "San-Francisco", UW4, UW6),
           ("100.64.2.0/24", "Windhoek", EU4, EU6),
           ("100.64.1.0/24", "Toronto", US4, US6),
           ("2001:db8:100::/56", "London-IPv6", EU4, EU6),
           ("2001:db8:200::/48", "Singapore-IPv6", AP4, EU6),
           ("2001:db8:300::/48", "San-Francisco-v6", UW4, UW6))


def nearest(t, srv):
    for net, where, want4, want6 in NEAREST:
        for tr in ("udp4", "tcp6"):
            r = ask(srv, tr, "www.geo.test", "A", net)
            is_placed(t, "nearest: %s client (%s) gets its region's A (%s)" % (where, net, tr),
                      want4, r, first(r))
            r = ask(srv, tr, "www.geo.test", "AAAA", net)
            is_placed(t, "nearest: %s client (%s) gets its region's AAAA (%s)"
                      % (where, net, tr), want6, r, first(r))

    # ap-south has no IPv6 pool: AAAA goes to the next region in distance order.
    geo(t, srv, "nearest: AAAA from Singapore skips ap-south (no IPv6) for eu-west, the "
        "next nearest", EU6 + " /24", "www.geo.test", "AAAA", "203.0.113.0/24")
    geo(t, srv, "nearest: AAAA from Australia skips ap-south for us-west, the next nearest",
        UW6 + " /24", "www.geo.test", "AAAA", "100.64.4.0/24")
    geo(t, srv, "nearest: a record without coordinates is placed at its country (AU -> "
        "ap-south)", AP4 + " /24", "www.geo.test", "A", "100.64.4.0/24")
    geo(t, srv, "nearest: a network in no database entry gets the listed order (us-east "
        "first)", US4 + " /11", "www.geo.test", "A", "100.100.0.0/24")

    # An IPv4-mapped IPv6 client subnet is an IPv4 client; the scope is in the option's
    # own family (RFC 7871 s6: SCOPE PREFIX-LENGTH counts bits of ADDRESS): 96 + 24.
    for tr in ("udp4", "tcp6"):
        geo(t, srv, "RFC 7871 s6: ECS ::ffff:81.2.69.0/120 is the IPv4 client 81.2.69.0, "
            "scope /120 (%s)" % tr, EU4 + " /120", "www.geo.test", "A",
            "::ffff:81.2.69.0/120", tr)
        geo(t, srv, "RFC 7871 s6: ECS ::ffff:198.51.100.0/120 is the IPv4 client "
            "198.51.100.0 (%s)" % tr, US6 + " /120", "www.geo.test", "AAAA",
            "::ffff:198.51.100.0/120", tr)


# ------------------------------------------------------------------ ECS scope


def ecs_scope(t, srv):
    # RFC 7871 s7.2.1: SCOPE PREFIX-LENGTH is how far the answer holds; gslbd merges
    # networks with the same region order, so it is the widest prefix with that order.
    for tr in g.TRANSPORTS:
        geo(t, srv, "RFC 7871 s7.2.1: London and Paris /25s merge: scope /24 (%s)" % tr,
            EU4 + " /24", "www.geo.test", "A", "81.2.69.0/24", tr)
    for name, want, qname, qtype, subnet, tr in (
            ("a /32 in the Paris half gets the merged /24",
             EU4 + " /24", "www.geo.test", "A", "81.2.69.200/32", "udp4"),
            ("with FR mapped elsewhere the halves differ: London scope /25",
             EU4 + " /25", "mapped.geo.test", "A", "81.2.69.0/24", "udp4"),
            ("with FR mapped elsewhere the halves differ: Paris scope /25",
             US4 + " /25", "mapped.geo.test", "A", "81.2.69.200/32", "udp4"),
            ("unplaced 100.100.0.0/24 holds for the empty 100.96.0.0/11",
             US4 + " /11", "www.geo.test", "A", "100.100.0.0/24", "udp4"),
            ("IPv6 client 2001:db8:100::/56 holds for its /48",
             EU6 + " /48", "www.geo.test", "AAAA", "2001:db8:100::/56", "udp6"),
            ("a nets override cuts 2001:db8:100:1::/64 out: its neighbour is /64",
             EU6 + " /64", "mapped.geo.test", "AAAA", "2001:db8:100::/56", "udp6"),
            ("the nets override 2001:db8:100:1::/64 itself is /64",
             UW6 + " /64", "mapped.geo.test", "AAAA", "2001:db8:100:1::/64", "udp6"),
            ("without nets Singapore is its /24",
             AP4 + " /24", "www.geo.test", "A", "203.0.113.130/32", "udp4"),
            ("nets 203.0.113.128/25 cut in: lower half /25, longer than the source",
             AP4 + " /25", "mapped.geo.test", "A", "203.0.113.0/24", "udp4"),
            ("nets 203.0.113.128/25 cut in: upper half /25",
             UW4 + " /25", "mapped.geo.test", "A", "203.0.113.130/32", "udp4"),
            ("scope /25 also in a mapped IPv4 subnet (96 + 25)",
             EU4 + " /121", "mapped.geo.test", "A", "::ffff:81.2.69.0/120", "udp4")):
        geo(t, srv, "RFC 7871 s7.2.1: " + name, want, qname, qtype, subnet, tr)

    # RFC 7871 s7.2.1: an answer that does not depend on the client has scope 0.
    for tr in ("udp4", "tcp6"):
        for name, want, qname, qtype in (
                ("apex NS with ECS: scope /0", "/0", "geo.test", "NS"),
                ("apex SOA with ECS: scope /0", "/0", "geo.test", "SOA"),
                ("static A with ECS: scope /0", "192.0.2.53 /0", "ns1.geo.test", "A"),
                ("NXDOMAIN with ECS: scope /0", "NXDOMAIN /0", "nope.geo.test", "A"),
                ("TXT (NODATA) at a service name with ECS: scope /0", "/0", "www.geo.test",
                 "TXT"),
                ("failover answer (same for everyone) has scope /0", AP4 + " /0",
                 "fo.geo.test", "A")):
            geo(t, srv, "RFC 7871 s7.2.1: %s (%s)" % (name, tr), want, qname, qtype,
                "81.2.69.0/24", tr)
        t.like("RFC 7871 s7.2.1: weighted answer (hashed on the client's /24, not by place) "
               "has scope /24: it holds for that network (%s)" % tr,
               r"^(%s|%s) /24$" % (re.escape(US4), re.escape(EU4)),
               placed(ask(srv, tr, "wtd.geo.test", "A", "81.2.69.0/24")))

    # RFC 7871 s7.1.2: SOURCE PREFIX-LENGTH 0 means "do not use my address": the client is
    # placed by the packet source (127.0.0.1 is Tokyo, ::1 Sao Paulo) and the scope is 0.
    geo(t, srv, "RFC 7871 s7.1.2: +subnet=0.0.0.0/0 from 127.0.0.1: placed by source "
        "(Tokyo), scope /0", AP4 + " /0", "www.geo.test", "A", "0.0.0.0/0", "udp4")
    geo(t, srv, "RFC 7871 s7.1.2: +subnet=::/0 from ::1: placed by source (Sao Paulo), "
        "scope /0", US6 + " /0", "www.geo.test", "AAAA", "::/0", "udp6")
    geo(t, srv, "RFC 7871 s7.1.2: +subnet=0.0.0.0/0 over TCP from ::1, scope /0",
        US4 + " /0", "www.geo.test", "A", "0.0.0.0/0", "tcp6")


# ------------------------------------------------------------------ the option's bytes


def raw_ecs(t, srv, tr, name, qname, qtype, sent, answer, echoed):
    """An ECS option sent as bytes (hex); one assertion: NOERROR, exactly the option
    `echoed` (hex) in the reply, byte for byte as received, and, when `answer` (a record)
    is given, exactly that answer in an OPT of version 0, udp 1232, DO 0, extended rcode 0.
    """
    r = srv.query(qname, qtype, transport=tr, edns=0, options=[(8, bytes.fromhex(sent))])
    with t.group(name):
        r.check(rcode="NOERROR")
        if answer is not None:
            r.check_section(section="answer", records=[answer])
            r.check_edns(version=0, payload=1232, do=False, ercode=0)
        t.eq("the options of the reply", [(8, echoed)],
             [(code, data.hex()) for code, data in r.option_bytes()])


# Malformed options (RFC 7871 s6: too few or too many ADDRESS octets, or bits set beyond
# SOURCE PREFIX-LENGTH, SHOULD get FORMERR; an unknown FAMILY or a prefix longer than the
# family's address cannot be read either, s6/s7.1.2).
MALFORMED = (("00031800510245", "family-3"),
             ("000121005102450000", "IPv4-source-prefix-33"),
             ("000281002001000000000000000000000000000000", "IPv6-source-prefix-129"),
             ("00011700510245", "bit-set-beyond-source-prefix-23"),
             ("000118005102", "two-address-octets-for-/24"),
             ("0001180051024500", "four-address-octets-for-/24"),
             ("000100005102", "address-octets-with-source-prefix-0"),
             ("0002200020010d", "three-address-octets-for-IPv6-/32"),
             ("0001", "option-cut-after-family"))


def ecs_bytes(t, srv):
    # The option's bytes: FAMILY, SOURCE PREFIX-LENGTH and ADDRESS echoed, SCOPE set
    # (RFC 7871 s7.2.1).
    for tr in ("udp4", "tcp4"):
        raw_ecs(t, srv, tr, "RFC 7871 s7.2.1: raw ECS 81.2.69.0/24 echoed with scope 24 "
                "(0x18) (%s)" % tr, "www.geo.test", "A", "00011800510245",
                "www.geo.test. 30 IN A " + EU4, "00011818510245")
        raw_ecs(t, srv, tr, "RFC 7871 s7.2.1: raw ECS 2001:db8:100::/56 echoed with scope 48 "
                "(0x30) (%s)" % tr, "www.geo.test", "AAAA", "0002380020010db8010000",
                "www.geo.test. 30 IN AAAA " + EU6, "0002383020010db8010000")
        raw_ecs(t, srv, tr, "RFC 7871 s7.2.1: raw ECS on a static answer echoed with scope 0 "
                "(%s)" % tr, "geo.test", "SOA", "00011800510245", None, "00011800510245")

    # RFC 6891 s7: a reply to a query with an OPT record carries one, FORMERR included.
    no_opt = []
    for sent, why in MALFORMED:
        for tr in ("udp4", "tcp6"):
            r = srv.query("www.geo.test", "A", transport=tr, edns=0,
                          options=[(8, bytes.fromhex(sent))])
            with t.group("RFC 7871 s6: ECS %s gets FORMERR, no answer (%s)" % (why, tr)):
                r.check(rcode="FORMERR")
                r.check_count(answer=0)
            if (r.edns or {}).get("version") != 0:
                no_opt.append("%s/%s" % (why, tr))
    t.check("RFC 6891 s7: each FORMERR for a malformed ECS option carries an OPT record",
            not no_opt, "no OPT record in the reply for: " + " ".join(no_opt))
    r = srv.query("www.geo.test", "A", edns=0, options=[(8, bytes.fromhex("00011800510245"))])
    with t.group("gslbd still answers ECS queries after the malformed ones"):
        r.check(rcode="NOERROR")
        t.eq("the answer's addresses", [EU4], [rd.to_text() for _, _, rd in r.section("answer")])


# ------------------------------------------------------------------ placement by source


def by_source(t, srv):
    # Without ECS the packet source decides: 127.0.0.1 is in 127.0.0.0/8 (Tokyo), ::1 is
    # 0.0.0.1 of the ::/96 IPv4 space, in 0.0.0.0/8 (Sao Paulo). No ECS in, none out.
    for tr in ("udp4", "tcp4"):
        geo(t, srv, "no ECS: 127.0.0.1 placed in Tokyo gets ap-south (%s)" % tr,
            AP4 + " /-", "www.geo.test", "A", tr=tr)
        geo(t, srv, "no ECS: AAAA from 127.0.0.1 skips ap-south for us-west (%s)" % tr,
            UW6 + " /-", "www.geo.test", "AAAA", tr=tr)
    for tr in ("udp6", "tcp6"):
        geo(t, srv, "no ECS: ::1 placed by 0.0.0.0/8 in Sao Paulo gets us-east (%s)" % tr,
            US4 + " /-", "www.geo.test", "A", tr=tr)
        geo(t, srv, "no ECS: AAAA from ::1 gets us-east (%s)" % tr,
            US6 + " /-", "www.geo.test", "AAAA", tr=tr)


# ------------------------------------------------------------------ geo overrides


# Top-level geo, inherited by 'mapped': NA -> eu-west, US -> ap-south, US-CA -> us-east,
# country:NA (Namibia) -> us-west, FR -> us-east; nets; default us-west.
MAPPED = (("100.64.1.0/24", EU4, "continent NA sends Toronto (nearest us-east) to eu-west"),
          ("198.51.100.0/24", AP4, "country US beats continent NA: Virginia to ap-south"),
          ("192.0.2.0/24", US4,
           "subdivision US-CA beats country US: San Francisco to us-east"),
          ("2001:db8:300::/48", US4, "subdivision US-CA for an IPv6 client"),
          ("100.64.2.0/24", UW4,
           "country:NA is Namibia: Windhoek to us-west (bare NA would be eu-west)"),
          ("81.2.69.200/32", US4, "country FR sends Paris to us-east"),
          ("81.2.69.0/24", EU4, "no rule for GB or EU: London by distance to eu-west"),
          ("203.0.113.0/24", AP4, "no rule for SG or AS: Singapore by distance to ap-south"))


def overrides(t, srv):
    for net, want, why in MAPPED:
        r = ask(srv, "udp4", "mapped.geo.test", "A", net)
        is_placed(t, "geo.map: " + why, want, r, first(r))
    for name, want, qname, qtype, subnet, tr in (
            ("geo.map: the mapped region lacks IPv6: AAAA for Virginia goes on by distance "
             "(us-east)", US6 + " /24", "mapped.geo.test", "AAAA", "198.51.100.0/24", "udp4"),
            ("geo.nets: 203.0.113.128/25 beats the database (Singapore to us-west)",
             UW4 + " /25", "mapped.geo.test", "A", "203.0.113.200/32", "udp4"),
            ("geo.nets: IPv6 2001:db8:100:1::/64 beats the database (London to us-west)",
             UW4 + " /64", "mapped.geo.test", "A", "2001:db8:100:1::/64", "udp6"),
            ("geo.default: a client the database cannot place gets us-west",
             UW4 + " /11", "mapped.geo.test", "A", "100.100.0.0/24", "udp4"),
            ("geo.default: also for AAAA",
             UW6 + " /11", "mapped.geo.test", "AAAA", "100.100.0.0/24", "udp4"),
            # With two answers, the region after the rule's list shows how the rest are
            # ordered: by distance after a map entry, in listed order after nets and
            # default.
            ("geo.map then distance: Toronto gets eu-west and then us-east (nearest of the "
             "rest)", US4 + " " + EU4 + " /24", "mapped2.geo.test", "A", "100.64.1.0/24",
             "udp4"),
            ("geo.map then distance: Virginia gets ap-south and then us-east",
             US4 + " " + AP4 + " /24", "mapped2.geo.test", "A", "198.51.100.0/24", "udp4"),
            ("geo.map then distance, AAAA: Virginia gets us-east and us-west (ap-south has no "
             "IPv6)", US6 + " " + UW6 + " /24", "mapped2.geo.test", "AAAA", "198.51.100.0/24",
             "udp4"),
            ("geo.nets then listed order: 203.0.113.200 gets us-west and then us-east, not "
             "ap-south", US4 + " " + UW4 + " /25", "mapped2.geo.test", "A", "203.0.113.200/32",
             "udp4"),
            ("geo.default then listed order: unplaced gets us-west and then us-east",
             US4 + " " + UW4 + " /11", "mapped2.geo.test", "A", "100.100.0.0/24", "udp4"),
            # A service's own geo replaces the top-level one entirely.
            ("service geo replaces the zone's: London to ap-south by its own EU rule",
             AP4 + " /24", "own.geo.test", "A", "81.2.69.0/24", "udp4"),
            ("service geo replaces the zone's: US rule not inherited, Virginia to us-east",
             US4 + " /24", "own.geo.test", "A", "198.51.100.0/24", "udp4"),
            ("service geo replaces the zone's: no default inherited, unplaced get listed "
             "us-east", US4 + " /11", "own.geo.test", "A", "100.100.0.0/24", "udp4"),
            ("service geo replaces the zone's: country:NA not inherited, Windhoek by "
             "distance", EU4 + " /24", "own.geo.test", "A", "100.64.2.0/24", "udp4")):
        geo(t, srv, name, want, qname, qtype, subnet, tr)


# ------------------------------------------------------------------ answers, spread, policies


def policies(t, srv):
    geo(t, srv, "answers: 2: London gets eu-west and us-east", US4 + " " + EU4 + " /24",
        "two.geo.test", "A", "81.2.69.0/24")
    geo(t, srv, "answers: 2: AAAA from Singapore gets eu-west and us-west (ap-south has no "
        "IPv6)", EU6 + " " + UW6 + " /24", "two.geo.test", "AAAA", "203.0.113.0/24")
    geo(t, srv, "answers: 2: Windhoek gets eu-west and ap-south", EU4 + " " + AP4 + " /24",
        "two.geo.test", "A", "100.64.2.0/24")

    # spread_km 4500 from San Francisco: us-west (50 km, weight 100) and us-east (3877 km,
    # weight 300) share 25/75 over client networks; eu-west (8177 km) is too far. The 256
    # /56 networks of 2001:db8:300::/48 are all placed there; each is hashed on its own
    # (rendezvous hashing, select.h), so one network keeps its region and the shares hold
    # over networks, not over the queries of one.
    sf = ["2001:db8:300:%x00::/56" % i for i in range(256)]
    loads = spread_over(srv, "spread.geo.test", sf)
    e, w, other = loads.count(US4), loads.count(UW4), len(loads) - loads.count(US4) - loads.count(UW4)
    t.compare("spread_km: us-east (weight 300) gets at least 65%% of 256 SF networks: %d" % e,
              e, ">=", 166)
    t.compare("spread_km: us-east (weight 300) gets at most 85%% of 256 SF networks: %d" % e,
              e, "<=", 218)
    t.eq("spread_km: the rest all go to us-west, none further away", (256 - e, 0), (w, other))
    sticky(t, srv, "spread_km", "spread.geo.test", "198.51.100.0/24", (US4, UW4))
    load = many(srv, "spread.geo.test", "A", "81.2.69.0/24", 100)
    t.eq("spread_km: London keeps eu-west (us-east is 5454 km further than 4500)",
         {EU4: 100}, dict(load.tally))

    # policy weighted: location plays no part; us-east 300 : eu-west 100 over 400 client
    # networks that are in no database, and a network keeps its region.
    nets = ["10.%d.%d.0/24" % (i >> 8, i & 255) for i in range(400)]
    loads = spread_over(srv, "wtd.geo.test", nets)
    e, eu = loads.count(US4), loads.count(EU4)
    t.compare("policy weighted: us-east (weight 300) gets at least 65%% of 400 networks: %d"
              % e, e, ">=", 260)
    t.compare("policy weighted: us-east (weight 300) gets at most 85%% of 400 networks: %d"
              % e, e, "<=", 340)
    t.eq("policy weighted: the rest go to eu-west", 400 - e, eu)
    sticky(t, srv, "policy weighted", "wtd.geo.test", "81.2.69.0/24", (US4, EU4))
    t.like("spread_km: an answer hashed on a /56 holds for that /56 (ECS scope /56)",
           r"^(%s|%s) /56$" % (re.escape(US4), re.escape(UW4)),
           placed(ask(srv, "udp4", "spread.geo.test", "A", sf[7])))

    # Another gslbd with the same zone and database answers every network the same: the
    # choice is the zone's and the client's, no state of the server's.
    other = g.Gslbd(t, "gslbd-twin", zones=srv.zones, args=srv.args)
    if t.start(other, "a second gslbd with the same zone and database starts"):
        t.eq("policy weighted: the second gslbd gives each of the 400 networks the same "
             "region", loads, spread_over(other, "wtd.geo.test", nets))
        t.eq("spread_km: the second gslbd gives each of the 256 SF networks the same region",
             [first(ask(srv, "udp4", "spread.geo.test", "A", n)) for n in sf],
             spread_over(other, "spread.geo.test", sf))
        t.eq("the second gslbd stops with status 0", 0, other.stop())

    # policy failover: the listed order, whoever asks.
    for net in ("81.2.69.0/24", "198.51.100.0/24", "2001:db8:300::/48"):
        geo(t, srv, "policy failover: first listed ap-south for " + net, AP4 + " /0",
            "fo.geo.test", "A", net)
        geo(t, srv, "policy failover: AAAA skips ap-south (no IPv6) for eu-west, listed next, "
            "for " + net, EU6 + " /0", "fo.geo.test", "AAAA", net)


# ------------------------------------------------------------------ ecs: false


def ecs_off(t, srv):
    geo(t, srv, "service ecs: false: ECS London ignored, placed by 127.0.0.1 (Tokyo), scope "
        "/0", AP4 + " /0", "noecs.geo.test", "A", "81.2.69.0/24")
    geo(t, srv, "service ecs: false: ECS London ignored, placed by ::1 (Sao Paulo), scope /0",
        US4 + " /0", "noecs.geo.test", "A", "81.2.69.0/24", "tcp6")
    geo(t, srv, "service ecs: false: without ECS, placed by source, no ECS option",
        AP4 + " /-", "noecs.geo.test", "A")
    geo(t, srv, "zone ecs: false: ECS London ignored, placed by 127.0.0.1, scope /0",
        AP4 + " /0", "www.plain.test", "A", "81.2.69.0/24")
    geo(t, srv, "zone ecs: false, service ecs: true: ECS London used, scope /24",
        EU4 + " /24", "ecsy.plain.test", "A", "81.2.69.0/24")


# ------------------------------------------------------------------ --explain


def explain(t, srv, zdir, geodir):
    def run(*args):
        return srv.run("--zones", zdir, "--explain", *args)

    test_db = geodir / "test.mmdb"
    x = run("81.2.69.0/24", "www.geo.test", "--geoip", test_db)
    t.eq("--explain placed client: exit 0", 0, x.status)
    for name, pattern in (
            ("location line",
             r"^location: +country GB, continent EU, subdivision GB-ENG, 51\.5000 -0\.1300"),
            ("the database network", r"81\.2\.69\.0/25 of .*test\.mmdb"),
            ("ordered by distance", r"^order: +by distance"),
            ("eu-west first, 464 km, chosen", r"^ +1\. eu-west +weight 100 +464 km +chosen$"),
            ("us-east second, not needed", r"^ +2\. us-east +weight 300 +5918 km +not needed"),
            ("ap-south last", r"^ +4\. ap-south "),
            ("answer NOERROR", r"^answer: +NOERROR"),
            ("the A record", r"www\.geo\.test\.\s+30\s+IN\s+A\s+" + re.escape(EU4)),
            ("ttl 30", r"^ttl: +30$"),
            ("ecs scope /24", r"^ecs scope: /24( |$)")):
        t.like("--explain placed client: " + name, pattern, x.out)

    x = run("100.100.0.0/24", "mapped.geo.test", "AAAA", "--geoip", test_db)
    t.eq("--explain unplaced client: exit 0", 0, x.status)
    for name, pattern in (
            ("not in the database", r"^location: +not in the database"),
            ("ordered by geo.default", r"^order: +by geo\.default"),
            ("us-west first and chosen", r"^ +1\. us-west .*chosen$"),
            ("ap-south skipped for AAAA",
             r"^ +[0-9]\. ap-south .*skipped: no address of this family"),
            ("the AAAA record", r"IN\s+AAAA\s+" + re.escape(UW6)),
            ("ecs scope /11", r"^ecs scope: /11( |$)")):
        t.like("--explain unplaced client: " + name, pattern, x.out)

    x = run("81.2.69.0/24", "geo.test", "NS", "--geoip", test_db)
    t.like("--explain static answer: ecs scope /0", r"^ecs scope: /0( |$)", x.out)

    x = run("1.21.224.0/24", "www.geo.test")
    t.eq("--explain with the built-in world database: exit 0", 0, x.status)
    # City level (DB-IP): Tokyo, where the country-level database says Singapore.
    t.like("--explain world database: 1.21.224.0/24 is in Tokyo (country JP, subdivision JP-13)",
           r"^location: +country JP, continent AS, subdivision JP-13, 35\.\d+ 139\.\d+ "
           r"\(coordinates from the database\)", x.out)
    t.like("--explain world database: ap-south chosen", r"^ +1\. ap-south .*chosen$", x.out)

    x = run("1.2.3.4", "www.geo.test", "--geoip", t.path("nonexistent.mmdb"))
    t.compare("--explain with a missing --geoip file exits non-zero", x.status, "!=", 0)
    t.like("--explain with a missing --geoip file names it", r"nonexistent\.mmdb", x.out)

    # Any GeoIP2-layout database: an IPv4-only one with 32-bit records.
    v4_spec = t.write("geo/v4.spec", "".join(line for line in TEST_SPEC.splitlines(True)
                                             if ":" not in line))
    built = t.run([BUILD_TESTDB, "--ip-version", 4, "--record-size", 32, v4_spec,
                   geodir / "v4.mmdb"])
    if built.status != 0:
        t.not_ok("geo/build-testdb builds an IPv4-only database", built.out)
        return
    x = run("81.2.69.0/24", "www.geo.test", "--geoip", geodir / "v4.mmdb")
    t.like("--geoip IPv4-only database, 32-bit records: London placed, eu-west chosen",
           r"^ +1\. eu-west .*chosen$", x.out)
    x = run("2001:db8:100::/48", "www.geo.test", "--geoip", geodir / "v4.mmdb")
    t.like("--geoip IPv4-only database: an IPv6 client is not in it, scope /0",
           r"^ecs scope: /0( |$)", x.out)


# ------------------------------------------------------------------ database reloads


def wait_answer(t, srv, want, seconds, qname, qtype, subnet):
    """Poll every 0.1 s (bounded) until placed() over udp4 is `want`: the tenths of a
    second it took, or None."""
    return t.wait_for(lambda: placed(ask(srv, "udp4", qname, qtype, subnet)) == want,
                      seconds, 0.1)


def replace_file(source, target, data=None):
    """Put `source`'s bytes (or `data`) at `target` by a rename, as an updater would."""
    aside = target.with_name(target.name + ".new")
    if data is None:
        shutil.copyfile(source, aside)
    else:
        aside.write_bytes(data)
    os.replace(aside, target)


def db_reloads(t, srv, geodir):
    live = geodir / "live.mmdb"
    geo(t, srv, "before the database changes: London gets eu-west", EU4 + " /24",
        "www.geo.test", "A", "81.2.69.0/24")
    replace_file(geodir / "moved.mmdb", live)
    waited = wait_answer(t, srv, AP4 + " /25", 5, "www.geo.test", "A", "81.2.69.0/24")
    geo(t, srv, "database replaced (mv): London now in Singapore gets ap-south, scope /25",
        AP4 + " /25", "www.geo.test", "A", "81.2.69.0/24")
    tenths = 50 if waited is None else waited
    t.compare("database replaced: new answers within 2 s (took %d00 ms)" % tenths,
              tenths, "<=", 20)
    t.like("database replaced: reload logged", r"reloaded GeoIP database", srv.log())
    geo(t, srv, "database replaced: Paris unchanged (eu-west), now its own /25",
        EU4 + " /25", "www.geo.test", "A", "81.2.69.200/32")

    # A corrupt file, then a truncated one: each is refused and the last good one serves.
    refused = "GeoIP database not reloaded"
    n_before = srv.log().count(refused)
    mark = srv.mark()
    replace_file(None, live, b"this is not an mmdb\n")
    if srv.wait_log(refused, 5, since=mark):
        t.ok("corrupt database: '%s' logged" % refused)
    else:
        t.not_ok("corrupt database: '%s' logged" % refused,
                 *srv.log(since=mark).splitlines()[-5:])
    t.like("corrupt database: the log line names the file", refused + r".*live\.mmdb",
           srv.log())
    time.sleep(1)
    for tr in ("udp4", "tcp6"):
        geo(t, srv, "corrupt database: the previous one keeps serving (%s)" % tr,
            AP4 + " /25", "www.geo.test", "A", "81.2.69.0/24", tr)
    whole = (geodir / "test.mmdb").read_bytes()
    replace_file(None, live, whole[:len(whole) // 2])
    t.wait_for(lambda: srv.log().count(refused) >= n_before + 2, 5, 0.1)
    t.compare("truncated database: refused too (a second 'not reloaded' line)",
              srv.log().count(refused), ">=", n_before + 2)
    geo(t, srv, "truncated database: the previous one keeps serving", AP4 + " /25",
        "www.geo.test", "A", "81.2.69.0/24")

    replace_file(geodir / "test.mmdb", live)
    wait_answer(t, srv, EU4 + " /24", 5, "www.geo.test", "A", "81.2.69.0/24")
    geo(t, srv, "good database after the bad ones: reloaded, London back to eu-west",
        EU4 + " /24", "www.geo.test", "A", "81.2.69.0/24")


def bad_geoip_at_start(t, srv, zdir):
    # A missing or broken --geoip at start-up: exit non-zero with a message, never serve.
    for bad in (t.path("nonexistent.mmdb"), t.path("geo", "v4.spec")):
        x = srv.run("--zones", zdir, "--geoip", bad, "--listen",
                    "127.0.0.1:%d" % g.free_port())
        what = "--geoip %s at start" % bad.name
        t.compare("%s: exits non-zero (status %s)" % (what, x.status), x.status, "!=", 0)
        t.compare("%s: does not hang (status %s)" % (what, x.status), x.status, "!=",
                  "timeout")
        t.unlike("%s: never ready" % what, r"ready:", x.out)
        t.like("%s: error names the file" % what, r"error: .*" + re.escape(bad.name), x.out)


# ------------------------------------------------------------------ draining by weight 0


def drain(t, srv):
    write_geo_zone(t, eu=0, ap=0)
    srv.reload()
    wait_answer(t, srv, US4 + " /24", 5, "www.geo.test", "A", "81.2.69.0/24")
    geo(t, srv, "weight 0: eu-west drained, London gets us-east, the next nearest",
        US4 + " /24", "www.geo.test", "A", "81.2.69.0/24")
    geo(t, srv, "weight 0: ap-south and eu-west drained, Singapore gets us-west",
        UW4 + " /24", "www.geo.test", "A", "203.0.113.0/24")
    geo(t, srv, "weight 0: answers 2 for London skip both drained regions",
        US4 + " " + UW4 + " /24", "two.geo.test", "A", "81.2.69.0/24")
    geo(t, srv, "weight 0: failover skips drained ap-south and eu-west for us-east",
        US4 + " /0", "fo.geo.test", "A", "81.2.69.0/24")
    load = many(srv, "wtd.geo.test", "A", "81.2.69.0/24", 100)
    t.eq("weight 0: weighted sends all 100 queries to us-east", {US4: 100}, dict(load.tally))

    write_geo_zone(t)
    srv.reload()
    wait_answer(t, srv, EU4 + " /24", 5, "www.geo.test", "A", "81.2.69.0/24")
    geo(t, srv, "weight back to 100: London gets eu-west again", EU4 + " /24",
        "www.geo.test", "A", "81.2.69.0/24")


# ------------------------------------------------------------------ the world database


# The country-level world database, geo/world-country.mmdb (what geo/world.mmdb is when
# the city data cannot be fetched: one point per country, the US at New York, nearest
# us-east; the city-level one is test_city.py's). The shipped example zone: us-east
# 192.0.2.10, eu-west 198.51.100.10, ap-south 203.0.113.10 (IPv4 only); a us-west there
# is never nearer than us-east to the US point.
WORLD = (("81.2.69.0/24", "London", "198.51.100.10"),
         ("3.80.0.0/24", "Virginia", "192.0.2.10"),
         ("1.21.224.0/24", "Singapore", "203.0.113.10"),
         ("2a00:c08::/32", "GB-IPv6", "198.51.100.10"))


def world(t):
    if not WORLD_DB.is_file():
        t.not_ok("geo/world-country.mmdb is built", "no %s (make)" % WORLD_DB)
        return
    if not EXAMPLE_ZONE.is_file():
        t.not_ok("zones/examples/gslb.example.com.yaml exists")
        return
    srv = g.Gslbd(t, "world", zones=EXAMPLE_ZONE, args=["--geoip", WORLD_DB])
    if not t.start(srv, "gslbd starts with the country-level world database"):
        return
    for net, where, want in WORLD:
        for tr in ("udp4", "tcp6"):
            r = ask(srv, tr, "www.gslb.example.com", "A", net)
            is_placed(t, "world database: %s (%s) gets %s (%s)" % (where, net, want, tr),
                      want, r, first(r))
            # The world data decides how far the answer holds; it depends on the place,
            # so the scope is not 0 (RFC 7871 s7.2.1).
            scope = r.ecs.scopelen if r.ecs is not None else None
            shown = "-" if scope is None else scope
            top = 128 if ":" in net else 32
            t.compare("world database: %s scope /%s is at least /1 (%s)" % (where, shown, tr),
                      scope, ">=", 1)
            t.compare("world database: %s scope /%s is at most /%d (%s)"
                      % (where, shown, top, tr), scope, "<=", top)
    r = ask(srv, "udp4", "www.gslb.example.com", "AAAA", "1.21.224.0/24")
    is_placed(t, "world database: AAAA for Singapore skips ap-south for eu-west",
              "2001:db8:20::10", r, first(r))
    geo(t, srv, "world database: 127.0.0.1 is not in it: listed order, us-east",
        "192.0.2.10 /-", "www.gslb.example.com", "A")
    t.eq("gslbd (country world database) stops with status 0", 0, srv.stop())


# ------------------------------------------------------------------ flat layout


# The test networks in ip-location-db's flat layout (geo/build-testdb --layout flat): no
# continent column is stored, and state1 holds a subdivision's name, not its code.
FLAT_SPEC = """\
81.2.69.0/25       GB      -         51.5     -0.13     England
81.2.69.128/25     FR      -         48.86    2.35      Ile-de-France
100.64.1.0/24      CA      -         43.65    -79.38    Ontario
100.64.4.0/24      AU      -         -        -         -
192.0.2.0/24       US      -         37.77    -122.42   California
198.51.100.0/24    US      -         39.0     -77.5     Virginia
203.0.113.0/24     SG      -         1.35     103.82    -
2001:db8:100::/48  GB      -         51.5     -0.13     England
"""

# Client subnet, place, service, A answer and scope. www has no geo rules: the nearest
# region by the flat records' coordinates. mapped has the zone's geo.map: the continent
# comes from the country (Toronto: NA -> eu-west), and US-CA never matches, since state1
# is a name: San Francisco gets the US rule (ap-south), not US-CA's us-east.
FLAT = (("81.2.69.0/24", "London", "www", EU4 + " /24"),
        ("198.51.100.0/24", "Virginia", "www", US4 + " /24"),
        ("192.0.2.0/24", "San-Francisco", "www", UW4 + " /24"),
        ("203.0.113.0/24", "Singapore", "www", AP4 + " /24"),
        ("100.64.4.0/24", "Australia (country point)", "www", AP4 + " /24"),
        ("2001:db8:100::/48", "London-IPv6", "www", EU4 + " /48"),
        ("100.64.1.0/24", "Toronto (continent NA from CA)", "mapped", EU4 + " /24"),
        ("192.0.2.0/24", "San-Francisco (US, no US-CA)", "mapped", AP4 + " /24"))


def flat(t, zdir, geodir):
    spec = t.write("geo/flat.spec", FLAT_SPEC)
    db = geodir / "flat.mmdb"
    built = t.run([BUILD_TESTDB, "--layout", "flat", "--database-type", "city ipv6", spec, db])
    if built.status != 0:
        t.not_ok("geo/build-testdb --layout flat builds the flat database", built.out)
        return
    srv = g.Gslbd(t, "flat", zones=zdir, args=["--geoip", db])
    if not t.start(srv, "gslbd starts with --geoip FLAT.mmdb (ip-location-db layout)"):
        return
    for net, where, service, want in FLAT:
        for tr in ("udp4", "tcp6"):
            geo(t, srv, "flat layout: %s client (%s) of %s gets %s (%s)"
                % (where, net, service, want, tr), want, service + ".geo.test", "A", net, tr)
    t.eq("gslbd (flat database) stops with status 0", 0, srv.stop())

    x = srv.run("--zones", zdir, "--explain", "192.0.2.0/24", "www.geo.test", "--geoip", db)
    t.eq("--explain with a flat database: exit 0", 0, x.status)
    for name, pattern in (
            ("location from the flat record, continent from the country, no subdivision",
             r"^location: +country US, continent NA, 37\.7700 -122\.4200 "
             r"\(coordinates from the database\)$"),
            ("the database network and type", r"192\.0\.2\.0/24 of .*flat\.mmdb \(city ipv6\)"),
            ("us-west first, chosen", r"^ +1\. us-west +weight 100 +\d+ km +chosen$"),
            ("ecs scope /24", r"^ecs scope: /24( |$)")):
        t.like("--explain flat database: " + name, pattern, x.out)
    x = srv.run("--zones", zdir, "--explain", "100.64.4.0/24", "www.geo.test", "--geoip", db)
    t.like("--explain flat database: a record without coordinates stands at its country",
           r"^location: +country AU, continent OC, .*\(coordinates from the country\)$", x.out)


# ------------------------------------------------------------------ main


def build_databases(t):
    """The test database, a live copy the daemon reads (so the reload tests can replace
    it on disk), and the second database with London moved. Returns the directory."""
    geodir = t.path("geo")
    spec = t.write("geo/test.spec", TEST_SPEC)
    built = t.run([BUILD_TESTDB, spec, geodir / "test.mmdb"])
    if built.status != 0:
        t.bail("geo/build-testdb builds the test database", built.out)
    t.ok("geo/build-testdb builds the test database")
    shutil.copyfile(geodir / "test.mmdb", geodir / "live.mmdb")
    moved = t.write("geo/moved.spec", MOVED_SPEC)
    built = t.run([BUILD_TESTDB, moved, geodir / "moved.mmdb"])
    if built.status != 0:
        t.bail("geo/build-testdb builds the second test database", built.out)
    return geodir


def main(t):
    geodir = build_databases(t)
    write_geo_zone(t)
    t.write("zones/plain.test.yaml", PLAIN_ZONE)
    zdir = t.path("zones")

    srv = g.Gslbd(t, "geo", zones=zdir, args=["--geoip", geodir / "live.mmdb"])
    checked = srv.check_zones(zdir)
    t.check("--check accepts the geo zones", checked.status == 0,
            "status: %s" % checked.status, checked.out)
    t.start(srv, "gslbd starts with --geoip and prints ready:", bail=True)

    nearest(t, srv)
    ecs_scope(t, srv)
    ecs_bytes(t, srv)
    by_source(t, srv)
    overrides(t, srv)
    policies(t, srv)
    ecs_off(t, srv)
    explain(t, srv, zdir, geodir)
    db_reloads(t, srv, geodir)
    bad_geoip_at_start(t, srv, zdir)
    drain(t, srv)
    t.eq("gslbd stops with status 0", 0, srv.stop())

    flat(t, zdir, geodir)
    world(t)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
