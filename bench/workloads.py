"""workloads: the client subnets and query sets both servers are measured with.

Client subnets are drawn from the same country ranges the world database is
built from (tor-geoipdb's IPFire data, see geo/README-data.md), one country at
a time in turn so that every continent is covered, with a fixed seed: every run
asks the same questions. Each query set is a list of wire-format queries that
bench/run sends itself (agreement, callgrind) or hands to dnsperf (-B input).
"""

import ipaddress
import random

import dnsclient
from zonegen import ZONE

GEOIP4 = "/usr/share/tor/geoip"
GEOIP6 = "/usr/share/tor/geoip6"


def _ranges(path, v6):
    by_cc = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            lo, hi, cc = line.strip().split(",")
            if v6:
                lo, hi = int(ipaddress.IPv6Address(lo)), int(ipaddress.IPv6Address(hi))
            else:
                lo, hi = int(lo), int(hi)
            by_cc.setdefault(cc, []).append((lo, hi))
    return by_cc


def _subnet_in(lo, hi, rng, v6):
    """A subnet inside [lo, hi]: a /24 (IPv4) or /48 (IPv6) where the range
    holds one, else the widest aligned block around a random address."""
    bits = 128 if v6 else 32
    addr = rng.randint(lo, hi)
    for plen in range(48 if v6 else 24, bits + 1):
        size = 1 << (bits - plen)
        base = addr & ~(size - 1)
        if base >= lo and base + size - 1 <= hi:
            cls = ipaddress.IPv6Network if v6 else ipaddress.IPv4Network
            return str(cls((base, plen)))
    raise AssertionError("unreachable: a /%d always fits" % bits)


def client_subnets(n=200, seed=7871, v4_share=0.75):
    """n subnets: a share v4_share of IPv4 (3/4 unless a database under test
    has only one family) and the rest IPv6, countries taken in turn, plus a
    few the database does not place in a country (regional "EU"/"AP"
    registrations and unlisted space)."""
    rng = random.Random(seed)
    out = ["10.11.12.0/24", "100.64.1.0/24", "2001:db8:abcd::/48"]  # not in the db
    for path, v6, share in ((GEOIP4, False, int(n * v4_share)), (GEOIP6, True, n)):
        by_cc = _ranges(path, v6)
        special = [cc for cc in ("EU", "AP") if cc in by_cc]
        rest = sorted(cc for cc in by_cc if cc not in special and cc != "??")
        rng.shuffle(rest)
        ccs = special + rest
        i = 0
        while len(out) < min(share, n):
            ranges = by_cc[ccs[i % len(ccs)]]
            out.append(_subnet_in(*rng.choice(ranges), rng, v6))
            i += 1
    return out[:n]


def geo_queries(subnets, n, name="www", qtype="A"):
    """n geo queries for `name`, each with the ECS of the next subnet in turn."""
    fq = "%s.%s" % (name, ZONE)
    base = [dnsclient.query(fq, qtype, subnet=s) for s in subnets]
    return [base[i % len(base)] for i in range(n)]


def static_queries(n):
    q = dnsclient.query("static.%s" % ZONE, "A")
    return [q] * n


def nx_queries(n, seed=2308):
    """n queries for names that do not exist, each different."""
    rng = random.Random(seed)
    return [dnsclient.query("nx%08x.%s" % (rng.getrandbits(32), ZONE), "A")
            for _ in range(n)]


def big_zone_queries(n, n_static, n_services, subnets, seed=1034):
    """Queries for names of the large zone (all exist): static names and
    services with ECS, mixed 3:1."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 4 == 3:
            name = "s%04d.%s" % (rng.randrange(n_services), ZONE)
            out.append(dnsclient.query(name, "A", subnet=subnets[i % len(subnets)]))
        else:
            name = "h%06d.%s" % (rng.randrange(n_static), ZONE)
            out.append(dnsclient.query(name, "A"))
    return out
