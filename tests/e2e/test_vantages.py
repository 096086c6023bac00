#!/usr/bin/env python3
"""test_vantages.py: health judged from three vantage points by two gslbd, as separate hosts.

Issue 15 part 4. Every daemon runs in a network namespace of its own, all joined by a
bridge in a "switch" namespace (gslbtest/netns.py), addresses from 10.77.0.0/24:

    v1 v2 v3   healthd --vantage vN --key FILE --gslbd G1:5300 --gslbd G2:5300
    g1 g2      gslbd on port 53, --control-listen ADDR:5300 --control-keys FILE, the
               same zone file, the built-in world database
    eu us      a real nginx each, /health probed by every vantage
    canary     a real nginx: every vantage's canary
    client     where DNS queries (EDNS Client Subnet) and forged reports come from

The zone: check web (http /health, interval 500 ms, fall 2, rise 2, quorum majority),
vantages v1..v3 with the canary host as their canary, service www (nearest) and api
(failover) over eu and us. Asserted, with the times measured in the test names:

  a. both gslbd hold every vantage's reports, and 1,000 client networks (ECS /24s
     spread over the IPv4 space) get identical answers from both: addresses, TTL, ECS
     scope, rcode; the SOA serial the same;
  b. forged reports are refused and counted (gslb_control_refused_total): a vantage's
     HELLO under a wrong key, and a line healthd really sent, recorded on the switch
     and replayed on a new connection; no answer moves;
  c. eu's nginx answers 503 on /health: both gslbd move eu's clients within
     interval x fall + 1 s, and back within interval x rise + 1 s once it heals;
  d. v1's path to eu cut (an nftables drop rule in v1's namespace): eu stays up on
     both (1 down vote of 3), the status shows v1's dissenting vote;
  e. v3 cut off from the regions and its canary but not from the gslbd: its canary
     fails, it abstains (its votes not counted), and decisions go on from v1 and v2
     (eu failing moves its clients);
  f. g2 killed and restarted: within 1 s of being ready it holds every vantage's
     state (the same member states and votes as g1);
  g. v3 cut off entirely: it goes stale and abstains, eu and us stay up.

Skipped, with the reason, when this process may not make network namespaces (not root)
or nginx is missing. Traffic stays inside the test's own namespaces; every wait is
bounded; the namespaces are removed at the end whatever happens.
"""

import ipaddress
import json
import os
import random
import re
import signal
import time

import dns.rdatatype

import gslbtest as g
from gslbtest import prom
from gslbtest.ctlnet import Vantage, key_of
from gslbtest.procs import GSLBCTL, NGINX

INTERVAL_MS = 500
FALL = 2
RISE = 2
MOVE_LIMIT_S = (INTERVAL_MS * FALL + 1000) / 1000.0
BACK_LIMIT_S = (INTERVAL_MS * RISE + 1000) / 1000.0
DNS_PORT = 53
CTL_PORT = 5300
HTTP_PORT = 9153
ZONE_NAME = "gslb.test"
EU_ADDR = "192.0.2.10"
US_ADDR = "198.51.100.10"
VANTAGES = ("v1", "v2", "v3")
GSLBDS = ("g1", "g2")

# Why a vote is not counted while its vantage's canary fails: gslbd says
# "abstaining: its canaries fail (REASON)".
ABSTAIN_CANARY = r"^abstaining: .*canar"

# Clients placed by the built-in world database (as test_failover.py's).
LONDON = "81.2.69.0/24"
US = "3.80.0.0/16"
NETWORKS = 1000

ZONE = """\
zone: {zone}
soa: {{mname: ns1.{zone}, rname: hostmaster.{zone}}}
ns: [ns1.{zone}, ns2.{zone}]
records:
  ns1: {{A: {g1}}}
  ns2: {{A: {g2}}}
ecs: true
regions:
  eu:
    location: [50.11, 8.68]
    pool: [{{address: {eu_addr}, probe: "{eu}:80"}}]
    check: web
  us:
    location: [39.04, -77.49]
    pool: [{{address: {us_addr}, probe: "{us}:80"}}]
    check: web
checks:
  web: {{type: http, path: /health, expect: 200, interval: {interval}ms, timeout: 400ms,
        rise: {rise}, fall: {fall}{quorum}}}
{vantages}services:
  www: {{regions: [eu, us], policy: nearest, ttl: 30, min_ttl: 5}}
  api: {{regions: [eu, us], policy: failover, ttl: 20, min_ttl: 5}}
"""


def write_zone(t, hosts, quorum=True, vantages=True):
    """The zone file, with or without the quorum and vantages keys (issue 15 parts 2 and
    3, which a gslbd without them refuses)."""
    vant = ""
    if vantages:
        vant = "vantages:\n" + "".join(
            '  %s: {canary: ["%s:80"], check: web}\n' % (v, hosts["canary"].addr)
            for v in VANTAGES)
    text = ZONE.format(zone=ZONE_NAME, g1=hosts["g1"].addr, g2=hosts["g2"].addr,
                       eu=hosts["eu"].addr, us=hosts["us"].addr, eu_addr=EU_ADDR,
                       us_addr=US_ADDR, interval=INTERVAL_MS, rise=RISE, fall=FALL,
                       quorum=", quorum: majority" if quorum else "", vantages=vant)
    return t.write("zones/%s.yaml" % ZONE_NAME, text)


def client_networks(count):
    """`count` distinct global IPv4 /24s, the same every run: spread over the whole
    address space, so over every registry's (and continent's) networks."""
    rng = random.Random(15)
    out, seen = [], set()
    for _ in range(count * 20):
        if len(out) >= count:
            break
        net = ipaddress.ip_network("%d.%d.%d.0/24" % (rng.randrange(1, 224),
                                                     rng.randrange(256), rng.randrange(256)))
        if net in seen or not net.is_global:
            continue
        seen.add(net)
        out.append(str(net))
    return out


class Answer:
    """What one reply says that two servers must agree on: rcode, the A/AAAA addresses
    sorted, their TTLs, the ECS option's source and scope."""

    def __init__(self, r):
        if not r.parsed:
            self.key = ("no reply", r.error)
            self.addrs = ()
            return
        recs = [(ttl, rd.to_text()) for _, ttl, rd in r.section("answer")
                if rd.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)]
        ecs = r.ecs
        self.addrs = tuple(sorted(a for _, a in recs))
        self.key = (r.rcode, self.addrs, tuple(sorted({ttl for ttl, _ in recs})),
                    (ecs.srclen, ecs.scopelen) if ecs is not None else None)

    def __eq__(self, other):
        return self.key == other.key

    def __repr__(self):
        return repr(self.key)


class Site:
    """The system under test: the hosts, the daemons on them, and how to ask them."""

    def __init__(self, t, net):
        self.t = t
        self.net = net
        self.hosts = {}
        self.gslbd = {}
        self.ctl = {}
        self.healthd = {}
        self.nginx = {}
        self.features = {"quorum": True, "vantages": True}

    # ------------------------------------------------------------- asking

    def ask(self, gname, subnet, qname="www", qtype="A"):
        """qname.ZONE for a client in `subnet`, asked of gslbd `gname` from the client
        host: an Answer."""
        q = g.make_query("%s.%s" % (qname, ZONE_NAME), qtype, rd=False, ecs=subnet)
        return Answer(self.hosts["client"].exchange(self.hosts[gname].addr, DNS_PORT, q,
                                                    test=self.t))

    def ask_all(self, gname, queries):
        """Many queries (Messages) of gslbd `gname`, one socket: Responses in order."""
        return self.hosts["client"].exchange_all(self.hosts[gname].addr, DNS_PORT, queries,
                                                 timeout=2, test=self.t)

    def status(self, gname):
        """gslbctl status --json, run in gslbd's own namespace against its control
        socket: the document, or None."""
        r = self.hosts[gname].run([GSLBCTL, "--control", self.ctl[gname], "status", "--json"],
                                  timeout=10)
        try:
            return json.loads(r.out) if r.status == 0 else None
        except ValueError:
            return None

    def metrics(self, gname):
        """gslbd's /metrics, scraped from its own namespace's loopback: parsed."""
        status, body = self.hosts[gname].http_get("127.0.0.1", HTTP_PORT, "/metrics")
        return prom.parse(body) if status == 200 else {}

    def refused(self, gname, reason):
        return prom.one(self.metrics(gname), "gslb_control_refused_total",
                        reason=reason) or 0


def member(st, region):
    """The status document's member of `region` (each region has one), or {}."""
    for z in (st or {}).get("zones", []):
        if z.get("name") != ZONE_NAME:
            continue
        for r in z.get("regions", []):
            if r.get("name") == region:
                members = r.get("members", [])
                return members[0] if members else {}
    return {}


def state_of(st, region):
    return member(st, region).get("state")


def votes_of(st, region):
    """{vantage: vote entry} of a member, from the status JSON's "votes"."""
    return {v.get("vantage"): v for v in member(st, region).get("votes", [])}


def vantage_of(st, name):
    for v in (st or {}).get("vantages", []):
        if v.get("name") == name:
            return v
    return {}


def main(t):
    why = g.netns_unavailable()
    if why:
        t.skip("vantages, gslbd and regions as hosts in network namespaces", why)
        return
    if not os.access(NGINX, os.X_OK):
        t.skip("vantages, gslbd and regions as hosts in network namespaces",
               "no nginx at %s (make deps installs it)" % NGINX)
        return
    t0 = time.monotonic()
    net = g.Network(t)
    site = Site(t, net)
    for name in ("g1", "g2", "v1", "v2", "v3", "eu", "us", "canary", "client"):
        site.hosts[name] = net.host(name)
    h = site.hosts
    t.diag("hosts: " + ", ".join("%s %s" % (n, x.addr) for n, x in h.items()) +
           " (made in %.1f s)" % (time.monotonic() - t0))

    # Keys: one file with every vantage's for the gslbd, one per vantage for its healthd.
    gslbctl = g.Gslbctl(t, t.path("none.sock"))
    lines = []
    for v in VANTAGES + ("v1",):
        r = gslbctl.run("keygen", v)
        if r.status != 0:
            t.bail("gslbctl keygen %s" % v, r.out)
        lines.append(r.out.strip())
    wrong_line = lines.pop()  # a second key for v1: the wrong one
    keys = t.write("keys/all", "# every vantage's key\n" + "\n".join(lines) + "\n")
    os.chmod(keys, 0o600)
    vkey = {}
    for v, line in zip(VANTAGES, lines):
        vkey[v] = t.write("keys/" + v, line + "\n")
        os.chmod(vkey[v], 0o600)

    # The zone: with the quorum and vantages keys when this gslbd takes them.
    probe = g.Gslbd(t, "gslbd-check")
    zone = write_zone(t, h)
    full = probe.check_zones(zone.parent)
    t.check("gslbd --check takes the zone with quorum: and vantages:", full.status == 0,
            full.out)
    if full.status != 0:
        # The rest still runs, on what this gslbd takes; what needs the keys fails.
        missing = ["vantages"]
        zone = write_zone(t, h, vantages=False)
        if probe.check_zones(zone.parent).status != 0:
            zone = write_zone(t, h, quorum=False, vantages=False)
            missing.append("quorum")
        check = probe.check_zones(zone.parent)
        if check.status != 0:
            t.bail("gslbd --check takes the zone without them", check.out)
        for key in missing:
            site.features[key] = False
        t.diag("going on without the zone keys: %s" % ", ".join(missing))

    for name in ("eu", "us", "canary"):
        site.nginx[name] = g.Nginx(t, name, host=h[name])
        t.start(site.nginx[name], "nginx %s serves /health at %s:80" % (name, h[name].addr),
                bail=True)

    for name in GSLBDS:
        site.ctl[name] = t.path("%s.sock" % name)
        args = ["--threads", 1, "--control", site.ctl[name],
                "--control-listen", "%s:%d" % (h[name].addr, CTL_PORT), "--control-keys", keys,
                "--http", "127.0.0.1:%d" % HTTP_PORT, "--rrl-exempt", str(net.subnet)]
        site.gslbd[name] = g.Gslbd(t, "gslbd-" + name, zones=zone.parent, args=args,
                                   port=DNS_PORT, addresses=(h[name].addr,), host=h[name])
        t.start(site.gslbd[name], "gslbd %s starts on %s:53" % (name, h[name].addr), bail=True)

    # A machine on the path records what v2's healthd sends g1, to replay it later.
    cap = net.capture(h["v2"], seconds=60)
    targets = ["%s:%d" % (h[name].addr, CTL_PORT) for name in GSLBDS]
    for v in VANTAGES:
        site.healthd[v] = g.Healthd(t, "healthd-" + v, zones=zone.parent, gslbd=targets,
                                    args=["--vantage", v, "--key", vkey[v]], host=h[v])
        t.start(site.healthd[v], "healthd %s starts, reporting to g1 and g2" % v, bail=True)

    steady(t, site)
    cap.stop()
    agree(t, site)
    forged(t, site, cap, key_of(wrong_line, "v1"))
    real_failure(t, site)
    one_path_cut(t, site)
    canary_cut(t, site)
    restart(t, site)
    cut_off(t, site)

    for v in VANTAGES:
        t.eq("healthd %s stops with status 0" % v, 0, site.healthd[v].stop())
    for name in GSLBDS:
        t.eq("gslbd %s stops with status 0" % name, 0, site.gslbd[name].stop())
    t.diag("whole run %.1f s" % (time.monotonic() - t0))


def all_heard(site, gname):
    """gslbd `gname` has every vantage's up vote for both members (with the quorum
    code), or both members up from reports (without it)."""
    st = site.status(gname)
    if st is None:
        return False
    for region in ("eu", "us"):
        if state_of(st, region) != "up":
            return False
        if site.features["quorum"]:
            vs = votes_of(st, region)
            if any(vs.get(v, {}).get("vote") != "up" for v in VANTAGES):
                return False
    return True


def steady(t, site):
    """Both gslbd hear every vantage; eu's and the US's clients get their region."""
    for name in GSLBDS:
        w = g.until(lambda: all_heard(site, name), 8, every=0.2)
        t.check("gslbd %s holds both members up from the vantages' reports (after %d ms)"
                % (name, w.ms), w, json.dumps(site.status(name), indent=1)[:3000])
    st = site.status("g1")
    t.diag("g1 status: " + json.dumps(member(st, "eu"))[:1500])
    for name in GSLBDS:
        t.eq("%s: a London client gets eu" % name, (EU_ADDR,), site.ask(name, LONDON).addrs)
        t.eq("%s: a US client gets us" % name, (US_ADDR,), site.ask(name, US).addrs)


def agree(t, site, when=""):
    """1,000 client networks asked of both gslbd: identical answers."""
    nets = client_networks(NETWORKS)
    if not when:
        t.eq("%d distinct client networks" % NETWORKS, NETWORKS, len(set(nets)))
    queries = {}
    for name in GSLBDS:
        qs = [g.make_query("www.%s" % ZONE_NAME, "A", rd=False, ecs=n) for n in nets]
        start = time.monotonic()
        queries[name] = [Answer(r) for r in site.ask_all(name, qs)]
        t.diag("%d queries of %s in %.1f s" % (len(qs), name, time.monotonic() - start))
    a1, a2 = queries["g1"], queries["g2"]
    unanswered = [n for n, a in zip(nets, a1 + a2) if a.key[0] != "NOERROR"]
    t.check("every query answered NOERROR by both%s" % when, not unanswered, *unanswered[:10])
    differ = ["%s: g1 %r, g2 %r" % (n, x, y) for n, x, y in zip(nets, a1, a2) if x != y]
    t.check("%d client networks: g1 and g2 give identical answers (addresses, TTL, ECS "
            "source and scope, rcode)%s" % (NETWORKS, when), not differ,
            "%d differ:" % len(differ), *differ[:20])
    if when:
        return
    eu = sum(1 for a in a1 if a.addrs == (EU_ADDR,))
    us = sum(1 for a in a1 if a.addrs == (US_ADDR,))
    t.check("... over both regions (eu %d, us %d): the clients' places decide" % (eu, us),
            eu >= 50 and us >= 50)
    scopes = {a.key[3] for a in a1}
    t.diag("ECS (source, scope) pairs seen: %s" % sorted(map(str, scopes))[:12])
    soa = {}
    for name in GSLBDS:
        r = site.hosts["client"].exchange(
            site.hosts[name].addr, DNS_PORT, g.make_query(ZONE_NAME, "SOA", rd=False),
            test=t)
        rrs = [rd for _, _, rd in r.section("answer") if rd.rdtype == dns.rdatatype.SOA]
        soa[name] = rrs[0].serial if rrs else None
    t.check("the SOA serial is the same on both (%s)" % soa["g1"],
            soa["g1"] is not None and soa["g1"] == soa["g2"], repr(soa))
    api = {name: site.ask(name, LONDON, "api") for name in GSLBDS}
    t.eq("api (failover) answers alike from both", api["g1"], api["g2"])


def forged(t, site, cap, wrong_key):
    """A wrong key, and a recorded line replayed: refused and counted by both gslbd."""
    h = site.hosts
    streams = cap.tcp_streams(h["v2"].addr, h["g1"].addr, CTL_PORT)
    recorded = []
    for data in streams.values():
        recorded = data.decode(errors="replace").splitlines()
        if recorded and recorded[0].startswith("HELLO"):
            break
    kinds = [line.split()[0] for line in recorded if line]
    t.check("the switch recorded v2's healthd's lines to g1 (%s)" % " ".join(kinds[:8]),
            len(recorded) >= 2 and kinds[0] == "HELLO", *recorded[:5])
    if len(recorded) < 2:
        return
    hello = recorded[0]
    later = next((line for line in recorded if line.startswith("MEMBER")), recorded[1])
    for name in GSLBDS:
        addr = h[name].addr
        before = site.refused(name, "bad_mac")
        v = Vantage(CTL_PORT, "v1", wrong_key, sock=h["client"].connect(addr, CTL_PORT, 5))
        r = v.hello()
        t.like("%s: a HELLO as v1 under a wrong key is refused" % name,
               r"^ERR refused: the mac does not match", r)
        v.close()
        # The recorded HELLO is signed over no nonce: it is taken again (by design, it
        # proves nothing), but every later line is bound to the nonce of its own
        # connection, so the recorded next line is not.
        rs = h["client"].connect(addr, CTL_PORT, 5)
        replay = Vantage(CTL_PORT, "v2", b"", sock=rs)
        r1 = replay.send_raw(hello)
        r2 = replay.send_raw(later)
        replay.close()
        t.like("%s: v2's recorded HELLO replayed from the client host gets a new nonce"
               % name, r"^OK gslbd \d+ nonce=", r1)
        t.like("%s: ... and v2's recorded next line (%s) is refused" % (name, later.split()[0]),
               r"^ERR refused: the mac does not match", r2)
        after = site.refused(name, "bad_mac")
        t.eq("%s: both counted in gslb_control_refused_total{reason=\"bad_mac\"}" % name,
             before + 2, after)
    for name in GSLBDS:
        t.eq("%s: no answer moved (London still eu)" % name, (EU_ADDR,),
             site.ask(name, LONDON).addrs)


def wait_answer(site, subnet, want, seconds, names=GSLBDS):
    """Poll every gslbd in `names` (every 50 ms, bounded) until each answers `want` for
    `subnet`: {name: ms it took, or None}."""
    start = time.monotonic()
    took = {n: None for n in names}
    deadline = start + seconds
    while True:
        for n in names:
            if took[n] is None and site.ask(n, subnet).addrs == want:
                took[n] = int((time.monotonic() - start) * 1000)
        if all(v is not None for v in took.values()) or time.monotonic() >= deadline:
            return took
        time.sleep(0.05)


def real_failure(t, site):
    """eu's nginx answers 503: both gslbd move eu's clients within interval x fall + 1 s."""
    site.nginx["eu"].fail()
    took = wait_answer(site, LONDON, (US_ADDR,), MOVE_LIMIT_S + 1)
    for name, ms in took.items():
        t.check("eu's /health 503: %s moves London to us within %.1f s (%s ms)"
                % (name, MOVE_LIMIT_S, ms), ms is not None and ms <= MOVE_LIMIT_S * 1000)
    site.nginx["eu"].heal()
    took = wait_answer(site, LONDON, (EU_ADDR,), BACK_LIMIT_S + 1)
    for name, ms in took.items():
        t.check("eu heals: %s answers London eu again within %.1f s (%s ms)"
                % (name, BACK_LIMIT_S, ms), ms is not None and ms <= BACK_LIMIT_S * 1000)
    for name in GSLBDS:
        g.until(lambda: all_heard(site, name), 5, every=0.2)


def one_path_cut(t, site):
    """v1 cannot reach eu: one down vote of three, eu stays up."""
    h = site.hosts
    h["v1"].cut(h["eu"].addr)
    seen = set()

    def v1_down():
        for n in GSLBDS:
            seen.add(site.ask(n, LONDON).addrs)
        st = site.status("g1")
        return votes_of(st, "eu").get("v1", {}).get("vote") == "down"

    w = g.until(v1_down, 4, every=0.1)
    t.check("g1 shows v1's down vote for eu's member once v1's probes time out (%d ms)"
            % w.ms, w, json.dumps(member(site.status("g1"), "eu"))[:2000])
    # Let the other vantages' next rounds pass too: the answer must not move meanwhile.
    end = time.monotonic() + INTERVAL_MS * FALL / 1000.0 + 0.5
    while time.monotonic() < end:
        for n in GSLBDS:
            seen.add(site.ask(n, LONDON).addrs)
        time.sleep(0.05)
    t.eq("London's answer stays eu on both gslbd throughout (1 down vote of 3)",
         {(EU_ADDR,)}, seen)
    for name in GSLBDS:
        st = site.status(name)
        m = member(st, "eu")
        vs = votes_of(st, "eu")
        with t.group("%s status: eu's member up, v1's dissenting vote down and counted, "
                     "v2 and v3 up" % name):
            t.eq("member state", "up", m.get("state"))
            t.eq("v1's vote", "down", vs.get("v1", {}).get("vote"))
            t.eq("v1's vote counted", True, vs.get("v1", {}).get("counted"))
            t.eq("v2, v3 votes", ["up", "up"], [vs.get(v, {}).get("vote") for v in ("v2", "v3")])
            q = m.get("quorum", {})
            t.eq("quorum up/down/voting", (2, 1, 3), (q.get("up"), q.get("down"),
                                                       q.get("voting")))
            m = site.metrics(name)
            t.eq("gslb_member_votes{region=\"eu\"} up, down, abstain", [2, 1, 0],
                 [prom.one(m, "gslb_member_votes", zone=ZONE_NAME, region="eu",
                           member=EU_ADDR, vote=v) for v in ("up", "down", "abstain")])
    r = site.hosts["g1"].run([GSLBCTL, "--control", site.ctl["g1"], "status"])
    t.like("the text status lists the votes under eu's member, v1's DOWN",
           r"votes:.*v1 DOWN", r.out)
    h["v1"].mend()
    for name in GSLBDS:
        w = g.until(lambda: all_heard(site, name), 5, every=0.2)
        t.check("v1's path mended: %s hears every vantage's up votes again (%d ms)"
                % (name, w.ms), w)


def abstaining(site, gname, why):
    """gslbd `gname` counts none of v3's votes, each saying why (a regular expression),
    while both members stay up; with the quorum code only."""
    st = site.status(gname)
    for region in ("eu", "us"):
        v3 = votes_of(st, region).get("v3", {})
        if v3.get("counted") is not False or not re.match(why, v3.get("why") or ""):
            return False
    return True


def check_abstained(t, site, gname, label, why, canary):
    """One group: v3 abstains on gslbd `gname` (its votes not counted, the reason
    matching `why`), v1 and v2 decide, both members up; the vantage's canary as
    `canary` (None: not looked at)."""
    st = site.status(gname)
    with t.group("%s status: v3 abstains (%s), its votes not counted; v1 and v2 decide; "
                 "eu and us up" % (gname, label)):
        for region in ("eu", "us"):
            m = member(st, region)
            vs = votes_of(st, region)
            t.eq("%s's member state" % region, "up", m.get("state"))
            t.eq("%s: v3's vote counted" % region, False, vs.get("v3", {}).get("counted"))
            t.like("%s: why v3's vote is not counted" % region, why,
                   vs.get("v3", {}).get("why") or "")
            t.eq("%s: v1 and v2 counted up" % region, [(True, "up")] * 2,
                 [(vs.get(v, {}).get("counted"), vs.get(v, {}).get("vote"))
                  for v in ("v1", "v2")])
            t.eq("%s: voting" % region, 2, m.get("quorum", {}).get("voting"))
            addr = EU_ADDR if region == "eu" else US_ADDR
            t.eq("%s: gslb_member_votes abstain" % region, 1,
                 prom.one(site.metrics(gname), "gslb_member_votes", zone=ZONE_NAME,
                          region=region, member=addr, vote="abstain"))
        if canary is not None:
            t.eq("v3's canary in the vantages list", canary,
                 vantage_of(st, "v3").get("canary"))


def canary_cut(t, site):
    """v3 cut off from the regions and its canary, not from the gslbd: it abstains."""
    h = site.hosts
    h["v3"].cut(h["eu"].addr, h["us"].addr, h["canary"].addr)
    seen = set()

    def failed():
        for n in GSLBDS:
            seen.add((site.ask(n, LONDON).addrs, site.ask(n, US).addrs))
        return all(vantage_of(site.status(n), "v3").get("canary") == "failed"
                   for n in GSLBDS)

    w = g.until(failed, 4, every=0.1)
    t.check("v3's canary fails on both gslbd once its probes of %s time out (%d ms)"
            % (h["canary"].addr, w.ms), w,
            json.dumps(site.status("g1").get("vantages") if site.status("g1") else None))
    reason = vantage_of(site.status("g1"), "v3").get("canary_reason") or ""
    t.like("... the reason names the canary target", re.escape(h["canary"].addr), reason)
    # v3's probes of the regions time out too: its down votes must not count.
    w = g.until(lambda: all(abstaining(site, n, ABSTAIN_CANARY) and
                            votes_of(site.status(n), "eu").get("v3", {}).get("vote") == "down"
                            for n in GSLBDS), 4, every=0.2)
    t.check("v3's votes turn down and are not counted (%d ms)" % w.ms, w)
    for n in GSLBDS:
        seen.add((site.ask(n, LONDON).addrs, site.ask(n, US).addrs))
    t.eq("London stays on eu and the US client on us throughout", {((EU_ADDR,), (US_ADDR,))},
         seen)
    for n in GSLBDS:
        check_abstained(t, site, n, "its canary failing", ABSTAIN_CANARY, "failed")
    # Decisions go on from v1 and v2 alone: eu failing still moves its clients.
    site.nginx["eu"].fail()
    took = wait_answer(site, LONDON, (US_ADDR,), MOVE_LIMIT_S + 1)
    for name, ms in took.items():
        t.check("v3 abstaining, eu's /health 503: %s moves London to us within %.1f s (%s ms)"
                % (name, MOVE_LIMIT_S, ms), ms is not None and ms <= MOVE_LIMIT_S * 1000)
    site.nginx["eu"].heal()
    took = wait_answer(site, LONDON, (EU_ADDR,), BACK_LIMIT_S + 1)
    for name, ms in took.items():
        t.check("... and back to eu within %.1f s once it heals (%s, %s ms)"
                % (BACK_LIMIT_S, name, ms), ms is not None and ms <= BACK_LIMIT_S * 1000)
    # What abstaining changes: v1 cut from us too. Counting v3's down vote, us would go
    # down (2 down of 3); without it, 1 down and 1 up of 2 voting keep us as it was.
    h["v1"].cut(h["us"].addr)
    w = g.until(lambda: all(votes_of(site.status(n), "us").get("v1", {}).get("vote") == "down"
                            for n in GSLBDS), 4, every=0.1)
    t.check("v1 cut from us as well: its down vote for us reaches both gslbd (%d ms)" % w.ms, w)
    answers = set()
    end = time.monotonic() + INTERVAL_MS * FALL / 1000.0 + 0.5
    while time.monotonic() < end:
        answers.update(site.ask(n, US).addrs for n in GSLBDS)
        time.sleep(0.05)
    t.eq("... the US client stays on us on both (v3's down vote not counted: 1 down, 1 up "
         "of 2 voting)", {(US_ADDR,)}, answers)
    for n in GSLBDS:
        st = site.status(n)
        q = member(st, "us").get("quorum", {})
        t.check("%s status: us up and held, quorum up 1 down 1 voting 2 (%s)"
                % (n, q.get("why")), state_of(st, "us") == "up" and q.get("held") is True and
                (q.get("up"), q.get("down"), q.get("voting")) == (1, 1, 2), json.dumps(q))
    h["v1"].mend()
    h["v3"].mend()
    for name in GSLBDS:
        w = g.until(lambda: all_heard(site, name), 6, every=0.2)
        t.check("paths mended: %s has every vantage's up votes again (%d ms)" % (name, w.ms), w)
        w = g.until(lambda: vantage_of(site.status(name), "v3").get("canary") == "ok", 4,
                    every=0.2)
        t.check("... and v3's canary ok again (%d ms)" % w.ms, w)


def state_diffs(a, b):
    """Each member's state in two status documents, where they differ (or g2 does not
    know it yet): a list of differences."""
    return ["%s: member %s on g1, %s on g2" % (r, state_of(a, r), state_of(b, r))
            for r in ("eu", "us")
            if state_of(a, r) != state_of(b, r) or state_of(b, r) in (None, "unknown")]


def vote_diffs(a, b):
    """Each vantage's vote on each member in two status documents, where they differ
    or a vantage is missing from the second: a list of differences."""
    diffs = []
    for r in ("eu", "us"):
        va = {v: e.get("vote") for v, e in votes_of(a, r).items()}
        vb = {v: e.get("vote") for v, e in votes_of(b, r).items()}
        if va != vb or set(VANTAGES) - set(vb):
            diffs.append("%s: votes %s on g1, %s on g2" % (r, va, vb))
    return diffs


def restart(t, site):
    """g2 killed and restarted: within 1 s of being ready it holds every vantage's
    state, as g1 does."""
    old = site.gslbd["g2"]
    old.signal(signal.SIGKILL)
    t.eq("g2 killed (SIGKILL)", 128 + signal.SIGKILL, old.stop())
    new = old.twin("gslbd-g2-2")
    site.gslbd["g2"] = new
    t.start(new, "g2 restarts on the same addresses", bail=True)
    ready = time.monotonic()
    last, took = {}, {}

    def synced():
        last["g2"], last["g1"] = site.status("g2"), site.status("g1")
        ms = int((time.monotonic() - ready) * 1000)
        if last["g2"] is not None and not state_diffs(last["g1"], last["g2"]):
            took.setdefault("states", ms)
        if last["g2"] is not None and not vote_diffs(last["g1"], last["g2"]):
            took.setdefault("votes", ms)
        return len(took) == 2

    g.until(synced, 3, every=0.05)
    ms = took.get("states")
    t.check("g2 holds both members in g1's states, from the vantages' reports, within 1 s "
            "of being ready (%s ms)" % ms, ms is not None and ms <= 1000,
            *state_diffs(last.get("g1"), last.get("g2")))
    ms = took.get("votes")
    t.check("g2 holds every vantage's votes (v1, v2, v3), the same as g1's, within 1 s of "
            "being ready (%s ms)" % ms, ms is not None and ms <= 1000,
            *vote_diffs(last.get("g1"), last.get("g2")))
    for v in VANTAGES:
        t.like("healthd %s connected to the new g2" % v,
               r"gslbd %s:%d: connected again" % (re.escape(site.hosts["g2"].addr), CTL_PORT),
               site.healthd[v].log())
    w = g.until(lambda: [site.ask("g2", n) for n in (LONDON, US)] ==
                [site.ask("g1", n) for n in (LONDON, US)], 3, every=0.1)
    t.check("g2 answers London and the US as g1 does, TTL included (%d ms)" % w.ms, w)
    agree(t, site, " after g2's restart")


def cut_off(t, site):
    """v3 cut off entirely: stale, it abstains; v1 and v2 decide."""
    h = site.hosts
    h["v3"].cut()
    w = g.until(lambda: all(abstaining(site, n, r"^stale") for n in GSLBDS), 6, every=0.2)
    t.check("v3 cut off entirely: both gslbd stop counting its votes as stale (%d ms)"
            % w.ms, w, json.dumps(member(site.status("g1"), "eu"))[:2000])
    for n in GSLBDS:
        check_abstained(t, site, n, "stale", r"^stale", None)
        heard = vantage_of(site.status(n), "v3").get("heard_s")
        t.compare("%s: v3 last heard over a second ago (%s s)" % (n, heard),
                  heard if heard is not None else -1, ">=", 1.0)
    for n in GSLBDS:
        t.eq("%s: London on eu, the US client on us" % n, [(EU_ADDR,), (US_ADDR,)],
             [site.ask(n, LONDON).addrs, site.ask(n, US).addrs])
    site.nginx["us"].fail()
    took = wait_answer(site, US, (EU_ADDR,), MOVE_LIMIT_S + 1)
    for name, ms in took.items():
        t.check("v3 stale, us's /health 503: %s moves the US client to eu within %.1f s "
                "(%s ms)" % (name, MOVE_LIMIT_S, ms), ms is not None and ms <= MOVE_LIMIT_S * 1000)
    site.nginx["us"].heal()


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
