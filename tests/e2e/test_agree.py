#!/usr/bin/env python3
"""test_agree.py: two gslbd given the same files and the same health reports agree, answer
for answer (issue 15 part 3).

Two gslbd on loopback (different ports, one with one thread and one with two) serve copies
of the same zone directory, made as the README's "Running several servers" says (the
modification time kept), with the same test GeoIP database; one healthd reports to both
over their Unix control sockets. The zone has seven regions around the world, some with
pools of several addresses (rotated), one without IPv6, one whose balancer fails its check
from the start; services by nearest (with geo rules), spread (answers: 2), weighted and
failover policies, and one that answers SERVFAIL when its only region is down. 1,000
client networks spread over the world (IPv4 /24s and IPv6 /56s; some the database does not
place) ask both servers every service for A and AAAA with EDNS Client Subnet:

- rcode, TTL, ECS scope and the set of addresses are the same; the regions answered come
  in the same order, and a region's addresses differ at most by where the rotation starts;
- the SOA serial of a zone without soa.serial is the same (its file's time, kept by the
  copy), and so is one that writes soa.serial though its copies' times differ; one without
  soa.serial whose copies have different times is served with different serials, each its
  own file's time (what the README warns of);
- gslbctl status agrees on every region's and member's state;
- after a region's balancer starts failing its check (a Backend set to 503) and both
  servers hold the report, all of the above again, and the answers have moved.
- server b restarted while healthd is stopped (so it cannot send its state yet): every
  answer b gives has its service's min_ttl, some from a region a holds down (b knows
  nothing of it, and unknown counts as up), the README's restart window; once healthd
  goes on and b holds its state again, the two agree as before.

Not here: the quorum of vantages and health reports over the network (test_healthd_net.py,
the namespace tests), rotation itself (test_rotation.py), serial rules on reloads
(test_reload.py). Traffic goes to loopback only; every wait is bounded.
"""

import json
import os
import random
import select
import shutil
import signal
import socket
import time

import dns.edns
import dns.message
import dns.rcode
import dns.rdatatype

import gslbtest as g

BUILD_TESTDB = g.ROOT / "geo" / "build-testdb"

ZONE = "agree.test"

# name: (location, weight, IPv4 pool, IPv6 pool, backend); the backend ("ok", "later" or
# "down") is what every member of the region is probed on.
REGIONS = {
    "us-east": ([39.0, -77.5], 100, ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
                ["2001:db8:1::1", "2001:db8:1::2"], "later"),
    "us-west": ([45.8, -119.7], 100, ["192.0.2.11"], ["2001:db8:2::1"], "ok"),
    "eu-west": ([53.3, -6.3], 300, ["192.0.2.21", "192.0.2.22"], ["2001:db8:3::1"], "ok"),
    "eu-central": ([50.1, 8.7], 100, ["192.0.2.31"], ["2001:db8:4::1"], "down"),
    "ap-south": ([1.3, 103.8], 100, ["192.0.2.41"], [], "ok"),
    "ap-ne": ([35.7, 139.7], 200, ["192.0.2.51", "192.0.2.52"],
              ["2001:db8:6::1", "2001:db8:6::2"], "ok"),
    "sa-east": ([-23.5, -46.6], 50, ["192.0.2.61"], ["2001:db8:7::1"], "ok"),
}
ALL = list(REGIONS)

SERVICES = {
    "near": "{regions: [%s], ttl: 30, min_ttl: 5}" % ", ".join(ALL),
    "spread": "{regions: [%s], spread_km: 1500, answers: 2, ttl: 60}" % ", ".join(ALL),
    "wtd": "{regions: [us-east, eu-west, ap-ne, sa-east], policy: weighted, ttl: 45}",
    "fo": "{regions: [us-east, eu-central, eu-west], policy: failover, ttl: 20, min_ttl: 3}",
    "sf": "{regions: [eu-central], on_all_down: servfail, ttl: 10}",
}

# Where the client networks are: (country, continent, latitude, longitude), each network
# placed a few degrees around one of them.
PLACES = [
    ("US", "NA", 40, -95), ("CA", "NA", 55, -100), ("MX", "NA", 23, -102),
    ("BR", "SA", -10, -52), ("AR", "SA", -34, -64), ("GB", "EU", 52, -1),
    ("DE", "EU", 51, 10), ("FR", "EU", 46, 2), ("ES", "EU", 40, -4), ("PL", "EU", 52, 19),
    ("SE", "EU", 60, 15), ("RU", "EU", 56, 38), ("TR", "AS", 39, 35), ("IN", "AS", 21, 78),
    ("CN", "AS", 35, 105), ("JP", "AS", 36, 138), ("KR", "AS", 36, 128),
    ("SG", "AS", 1.35, 103.8), ("ID", "AS", -2, 118), ("AU", "OC", -25, 134),
    ("NZ", "OC", -41, 174), ("ZA", "AF", -29, 24), ("NG", "AF", 9, 8), ("EG", "AF", 27, 30),
    ("KE", "AF", 0, 38), ("AE", "AS", 24, 54),
]

# Each service's min_ttl (the default 5 where none is written).
MIN_TTL = {"near": 5, "spread": 5, "wtd": 5, "fo": 3, "sf": 5}

CLIENTS = 1000
V6_CLIENTS = 150

# A network beside us-east, outside the 1,000: asked of one server only, to move that
# server's rotation of us-east's pool one on.
NUDGE = "198.51.100.0/24"


def zone_text(ports):
    lines = ["zone: %s" % ZONE,
             "soa: {mname: ns1.example.net, rname: hostmaster.example.net}",
             "ns: [ns1.example.net]",
             "regions:"]
    for name, (loc, weight, v4, v6, backend) in REGIONS.items():
        probe = "127.0.0.1:%d" % ports[backend]
        pool = ", ".join('{address: "%s", probe: "%s"}' % (a, probe) for a in v4 + v6)
        lines.append("  %s: {location: [%s, %s], weight: %d, pool: [%s], check: web}"
                     % (name, loc[0], loc[1], weight, pool))
    lines += ["checks:",
              # stale_after well past the few seconds healthd is stopped for below.
              "  web: {type: http, path: /health, interval: 300ms, timeout: 200ms, "
              "rise: 2, fall: 2, stale_after: 20s}",
              "geo:",
              "  map: {OC: [ap-south]}",
              '  nets: {"100.64.1.0/24": [sa-east], "2001:db8:f:100::/56": [ap-ne]}',
              "  default: [us-west]",
              "services:"]
    lines += ["  %s: %s" % kv for kv in SERVICES.items()]
    return "\n".join(lines) + "\n"


PINNED = """\
zone: pinned.test
soa: {mname: ns1.example.net, rname: hostmaster.example.net, serial: 2026120201}
ns: [ns1.example.net]
records: {www: {A: 192.0.2.200}}
"""

DRIFT = """\
zone: drift.test
soa: {mname: ns1.example.net, rname: hostmaster.example.net}
ns: [ns1.example.net]
records: {www: {A: 192.0.2.201}}
"""


def clients():
    """The client networks, in a fixed order: (network text, family, spec line or None
    for one the database does not place). Every 40th is left out of the database; every
    37th has a country but no coordinates."""
    rnd = random.Random(15)
    out = []
    for i in range(CLIENTS):
        if i < CLIENTS - V6_CLIENTS:
            # 198.18.0.0/15 holds 512 /24s; the rest come from 100.64.0.0/10.
            net = ("198.%d.%d.0/24" % (18 + i // 256, i % 256) if i < 512
                   else "100.%d.%d.0/24" % (64 + (i - 512) // 256, (i - 512) % 256))
        else:
            k = i - (CLIENTS - V6_CLIENTS)
            net = "2001:db8:f:%x00::/56" % k
        cc, cont, lat, lon = PLACES[rnd.randrange(len(PLACES))]
        lat = max(-70.0, min(75.0, lat + rnd.uniform(-6, 6)))
        lon = (lon + rnd.uniform(-8, 8) + 540) % 360 - 180
        if i % 40 == 39:
            spec = None
        elif i % 37 == 36:
            spec = "%s %s %s - -" % (net, cc, cont)
        else:
            spec = "%s %s %s %.4f %.4f" % (net, cc, cont, lat, lon)
        out.append((net, ":" in net, spec))
    return out


# ------------------------------------------------------------------ asking many


def ask_all(port, questions, window=64, tries=3, timeout=1.0):
    """Ask every (qname, qtype, ecs) of `questions` over UDP to 127.0.0.1:port, `window`
    at a time on one socket, each asked again (up to `tries` times in all) when its reply
    has not come within `timeout` s. Returns a list of reply bytes (None: never answered),
    in the order of `questions`. Bounded: at most tries x timeout s past the last send."""
    wires = []
    for n, (qname, qtype, ecs) in enumerate(questions):
        q = g.make_query(qname, qtype, ecs=ecs, qid=n % 65536)
        wires.append(q.to_wire())
    replies = [None] * len(questions)
    pending = {}  # index -> (sent at, tries so far)
    nxt = 0
    deadline = time.monotonic() + 60
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        while (nxt < len(wires) or pending) and time.monotonic() < deadline:
            while nxt < len(wires) and len(pending) < window:
                s.sendto(wires[nxt], ("127.0.0.1", port))
                pending[nxt] = (time.monotonic(), 1)
                nxt += 1
            ready, _, _ = select.select([s], [], [], 0.05)
            while ready:
                try:
                    data = s.recv(65535)
                except BlockingIOError:
                    break
                qid = int.from_bytes(data[:2], "big")
                # The one pending question with this id (ids repeat only 65,536 apart).
                for i in [i for i in pending if i % 65536 == qid]:
                    replies[i] = data
                    del pending[i]
            now = time.monotonic()
            for i, (at, n) in list(pending.items()):
                if now - at >= timeout:
                    if n >= tries:
                        del pending[i]
                    else:
                        s.sendto(wires[i], ("127.0.0.1", port))
                        pending[i] = (now, n + 1)
    return replies


REGION_OF = {a: r for r, (_, _, v4, v6, _) in REGIONS.items() for a in v4 + v6}


def summary(wire):
    """What must agree in a reply: (rcode, TTLs, ECS scope, addresses sorted, the regions
    in answer order with each one's addresses as answered), or ("no reply",)."""
    if wire is None:
        return ("no reply",)
    m = dns.message.from_wire(wire)
    ttls, addrs = set(), []
    for rrset in m.answer:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            ttls.add(rrset.ttl)
            addrs += [rd.address for rd in rrset]
    scope = None
    for opt in m.options:
        if isinstance(opt, dns.edns.ECSOption):
            scope = opt.scopelen
    blocks = []
    for a in addrs:
        region = REGION_OF.get(a, "?")
        if blocks and blocks[-1][0] == region:
            blocks[-1][1].append(a)
        else:
            blocks.append((region, [a]))
    return (dns.rcode.to_text(m.rcode()), tuple(sorted(ttls)), scope, tuple(sorted(addrs)),
            tuple((r, tuple(a)) for r, a in blocks))


def same_but_rotation(a, b):
    """Two summaries alike, a region's addresses allowed to start elsewhere in the cycle."""
    if a[:4] != b[:4] or len(a) < 5:
        return a == b
    if [r for r, _ in a[4]] != [r for r, _ in b[4]]:
        return False
    for (_, x), (_, y) in zip(a[4], b[4]):
        if len(x) != len(y) or not any(x[k:] + x[:k] == y for k in range(len(x))):
            return False
    return True


def questions(nets):
    out = []
    for net, _, _ in nets:
        for svc in SERVICES:
            for qtype in ("A", "AAAA"):
                out.append(("%s.%s" % (svc, ZONE), qtype, net))
    return out


def compare(t, srv_a, srv_b, nets, label, rotated_min=0):
    """Ask both servers everything; assert they agree, and that at least `rotated_min`
    answers differ in where a rotation starts. Returns the summaries of a."""
    qs = questions(nets)
    t0 = time.monotonic()
    ra, rb = ask_all(srv_a.port, qs), ask_all(srv_b.port, qs)
    t.diag("%s: %d questions to each server in %.1f s"
           % (label, len(qs), time.monotonic() - t0))
    sa, sb = [summary(w) for w in ra], [summary(w) for w in rb]
    unanswered = [qs[i] for i in range(len(qs)) if ra[i] is None or rb[i] is None]
    t.check("%s: every question answered by both servers (%d each)" % (label, len(qs)),
            not unanswered, *["unanswered: %s %s ecs %s" % q for q in unanswered[:5]])
    differ = [i for i in range(len(qs)) if not same_but_rotation(sa[i], sb[i])]
    t.check("%s: same rcode, TTL, ECS scope, addresses and regions in the same order "
            "(rotation aside) from both, %d questions" % (label, len(qs)), not differ,
            "%d differ; the first:" % len(differ),
            *["%s %s ecs %s:\n#     a %s\n#     b %s" % (qs[i] + (sa[i], sb[i]))
              for i in differ[:5]])
    rotated = sum(1 for i in range(len(qs)) if sa[i] != sb[i] and i not in differ)
    if rotated_min:
        t.compare("%s: %d answers differ only in where a pool's rotation starts (a "
                  "legitimate difference, made here by one more query to one server)"
                  % (label, rotated), rotated, ">=", rotated_min)
    else:
        t.diag("%s: %d answers differ only in where a pool's rotation starts"
               % (label, rotated))
    return dict(zip(qs, sa))


def spread_check(t, answers, label):
    """The question set means something: several regions, rcodes and scopes occur."""
    regions = {r for s in answers.values() if len(s) == 5 for r, _ in s[4]}
    rcodes = {s[0] for s in answers.values()}
    scopes = {s[2] for s in answers.values()}
    t.check("%s: the clients reach at least 5 regions (%s)" % (label, ", ".join(sorted(regions))),
            len(regions) >= 5)
    t.check("%s: NOERROR and SERVFAIL both occur (%s)" % (label, ", ".join(sorted(rcodes))),
            {"NOERROR", "SERVFAIL"} <= rcodes)
    t.check("%s: several ECS scopes occur (%s)" % (label, sorted(scopes, key=str)),
            len(scopes) >= 3)


# ------------------------------------------------------------------ status


def status(ctl):
    r = ctl.run("status", "--json")
    try:
        return json.loads(r.out) if r.status == 0 else None
    except ValueError:
        return None


def states(doc):
    """Every region's and member's state in a status document, per zone."""
    out = {}
    for z in (doc or {}).get("zones", []):
        for r in z.get("regions", []):
            out[(z["name"], r["name"])] = r["state"]
            for m in r.get("members", []):
                out[(z["name"], r["name"], m["address"])] = m["health"]
    return out


def members_known(doc):
    """True when every checked member of the zone has been reported (up or down)."""
    st = states(doc)
    keys = [k for k in st if len(k) == 3 and k[0] == ZONE]
    return keys and all(st[k] in ("up", "down") for k in keys)


def serial(srv, zone):
    r = srv.query(zone, "SOA")
    rrs = r.section("answer") if r.parsed else []
    return rrs[0][2].serial if rrs else None


def file_time(path):
    return int(os.stat(path).st_mtime)


# ------------------------------------------------------------------ main


def build_db(t, nets):
    spec = "# test_agree.py: the client networks, and one at us-east's door\n" + "".join(
        s + "\n" for _, _, s in nets if s is not None) + "%s US NA 39.0 -77.5\n" % NUDGE
    db = t.path("geo", "agree.mmdb")
    built = t.run([BUILD_TESTDB, t.write("geo/agree.spec", spec), db], timeout=60)
    if built.status != 0:
        t.bail("geo/build-testdb builds the test database", built.out)
    return db


def zone_dirs(t, ports):
    """Zone directory a and its copy b: agree.test with its time kept (as rsync -t or
    cp -p copy), pinned.test and drift.test with different times in each."""
    a, b = t.path("zones-a"), t.path("zones-b")
    a.mkdir()
    b.mkdir()
    (a / "agree.test.yaml").write_text(zone_text(ports))
    (a / "pinned.test.yaml").write_text(PINNED)
    (a / "drift.test.yaml").write_text(DRIFT)
    past = time.time() - 3600
    os.utime(a / "agree.test.yaml", (past, past))
    for f in ("pinned.test.yaml", "drift.test.yaml"):
        os.utime(a / f, (past - 600, past - 600))
    shutil.copy2(a / "agree.test.yaml", b / "agree.test.yaml")  # keeps the time
    for f in ("pinned.test.yaml", "drift.test.yaml"):
        shutil.copyfile(a / f, b / f)  # a copy made now: another time
        os.utime(b / f, (past + 120, past + 120))
    return a, b


def serials(t, srv_a, srv_b, a, b):
    sa, sb = serial(srv_a, ZONE), serial(srv_b, ZONE)
    t.check("%s (no soa.serial, copied with its time): the same serial from both (%s, %s)"
            % (ZONE, sa, sb), sa is not None and sa == sb)
    t.eq("... the file's modification time", file_time(a / "agree.test.yaml"), sa)
    pa, pb = serial(srv_a, "pinned.test"), serial(srv_b, "pinned.test")
    t.check("pinned.test (soa.serial written, copies with different times): the same "
            "serial (%s, %s)" % (pa, pb), pa == pb == 2026120201)
    da, db = serial(srv_a, "drift.test"), serial(srv_b, "drift.test")
    t.eq("drift.test (no soa.serial, copies with different times): each server serves its "
         "own file's time, so they differ, as the README warns",
         (file_time(a / "drift.test.yaml"), file_time(b / "drift.test.yaml")), (da, db))


def restart(t, srv_a, srv_b, gc_b, hd, nets, answers_a):
    """Server b restarts while healthd cannot speak (stopped): until healthd sends its
    state again, b answers from members it knows nothing of (counted up) with min_ttl
    only, the README's restart window; then it agrees with a again."""
    hd.signal(signal.SIGSTOP)
    try:
        srv_b.stop()
        srv_b = srv_b.twin("gslbd-b-restarted")
        if not t.start(srv_b):
            t.bail("gslbd b restarts", *srv_b.why)
        some = nets[::10]
        qs = questions(some)
        got = [summary(w) for w in ask_all(srv_b.port, qs)]
        long_ttl = [(q, s) for q, s in zip(qs, got)
                    if len(s) == 5 and s[1] and s[1] != (MIN_TTL[q[0].split(".")[0]],)]
        t.check("restarted b, before healthd's state: every answer has its service's min_ttl "
                "(%d questions)" % len(qs), not long_ttl,
                *["%s %s ecs %s: %s" % (q + (s,)) for q, s in long_ttl[:5]])
        east = [q for q, s in zip(qs, got) if len(s) == 5 and any(r == "us-east" for r, _ in s[4])]
        t.check("... and it answers us-east, which a holds down, to some (%d): it knows "
                "nothing yet, and unknown counts as up" % len(east),
                east and all(not any(r == "us-east" for r, _ in answers_a[q][4])
                             for q in east if len(answers_a[q]) == 5))
    finally:
        hd.signal(signal.SIGCONT)
    def settled():
        doc = status(gc_b)
        return members_known(doc) and not any(r.get("waiting_for_healthd")
                                              for z in doc["zones"] for r in z["regions"])

    back = g.until(settled, 10)
    t.check("restarted b holds every member's report again (after %d ms)" % back.ms, back)
    compare(t, srv_a, srv_b, nets, "b restarted")
    return srv_b


def main(t):
    backends = {name: g.Backend(t, "backend-" + name) for name in ("ok", "later", "down")}
    for b in backends.values():
        if not t.start(b):
            t.bail("%s starts" % b.name, *b.why)
    backends["down"].set("503")
    nets = clients()
    db = build_db(t, nets)
    za, zb = zone_dirs(t, {n: b.port for n, b in backends.items()})

    ctl_a, ctl_b = t.path("a.sock"), t.path("b.sock")
    srv_a = g.Gslbd(t, "gslbd-a", zones=za, addresses=("127.0.0.1",),
                    args=["--threads", 1, "--geoip", db, "--control", ctl_a])
    srv_b = g.Gslbd(t, "gslbd-b", zones=zb, addresses=("127.0.0.1",),
                    args=["--threads", 2, "--geoip", db, "--control", ctl_b,
                          "--sync-wait", 20])
    for srv in (srv_a, srv_b):
        if not t.start(srv):
            t.bail("%s starts" % srv.name, *srv.why)
    gc_a, gc_b = g.Gslbctl(t, ctl_a), g.Gslbctl(t, ctl_b)
    hd = g.Healthd(t, "healthd", zones=za, gslbd=[ctl_a, ctl_b])
    if not t.start(hd):
        t.bail("healthd starts, reporting to both", *hd.why)

    serials(t, srv_a, srv_b, za, zb)

    known = g.until(lambda: members_known(status(gc_a)) and members_known(status(gc_b)), 5)
    t.check("both servers hold a report of every member (after %d ms)" % known.ms, known)
    st_a, st_b = states(status(gc_a)), states(status(gc_b))
    t.eq("gslbctl status: every region's and member's state the same on both", st_a, st_b)
    t.eq("... eu-central down on both, from its failing check", ("down", "down"),
         (st_a.get((ZONE, "eu-central")), st_b.get((ZONE, "eu-central"))))

    # Server a (one thread, so one rotation counter per pool) answers one more question
    # than b: its rotation of us-east's three IPv4 addresses starts one further on.
    nudge = summary(srv_a.query("near." + ZONE, "A", ecs=NUDGE).wire)
    t.check("the network beside us-east gets us-east from server a", len(nudge) == 5
            and [r for r, _ in nudge[4]] == ["us-east"], nudge)
    before = compare(t, srv_a, srv_b, nets, "all regions but eu-central up", rotated_min=1)
    spread_check(t, before, "all regions but eu-central up")

    # us-east's balancer fails its check: both servers hear it from the one healthd.
    backends["later"].set("503")
    down = g.until(lambda: all(states(status(c)).get((ZONE, "us-east")) == "down"
                               for c in (gc_a, gc_b)), 5)
    t.check("both servers hold us-east down (after %d ms)" % down.ms, down)
    st_a, st_b = states(status(gc_a)), states(status(gc_b))
    t.eq("gslbctl status: the same states on both after the failure", st_a, st_b)
    after = compare(t, srv_a, srv_b, nets, "us-east failed too")
    moved = [q for q in before if before[q] != after[q]]
    t.check("the failure moved answers (%d of %d)" % (len(moved), len(before)), moved)
    stuck = [q for q, s in after.items() if len(s) == 5 and any(r == "us-east" for r, _ in s[4])]
    t.check("no answer holds us-east any more", not stuck, *["%s %s %s" % q for q in stuck[:5]])
    fo = {s[1] for q, s in after.items() if q[0] == "fo." + ZONE and s[0] == "NOERROR"}
    t.eq("fo fails over to eu-west with min_ttl 3 on both", {(3,)}, fo)

    srv_b = restart(t, srv_a, srv_b, gc_b, hd, nets, after)

    serials(t, srv_a, srv_b, za, zb)
    t.eq("healthd stops with status 0", 0, hd.stop())
    t.eq("gslbd a stops with status 0", 0, srv_a.stop())
    t.eq("gslbd b stops with status 0", 0, srv_b.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
