#!/usr/bin/env python3
"""test_shedding.py: load shedding (issue 14) end to end, with real balancers under real load.

Three regions, each with a real balancer that healthd reads its load from:
  eu-west   nginx, load from its stub_status ("Active connections")
  us-east   nginx behind a real HAProxy, load from the stats CSV (backend "web", scur)
  ap-south  nginx serving a Prometheus exposition the test writes (an Envoy's
            envoy_http_downstream_rq_active, summed over the "ingress" series)
each with capacity 10 connections, read every 500 ms; the service's TTL is 1 s and the
zone's control period 2 s (shed: high 0.9, low 0.7, step 0.15 by default). A GeoIP
database the test builds with geo/build-testdb puts 200 client /24s in London (nearest
eu-west, then us-east) and 200 in New York (nearest us-east, then eu-west); a sample asks
gslbd for www with each network as its EDNS Client Subnet and counts the share its
nearest region answers.

- Idle: every region's utilisation is fresh and below low, nothing is shed, each group of
  clients gets its nearest region; ap-south's utilisation is the metric's sum over the
  matching series (not the other prefix's) / capacity, and follows a rewrite of the file.
- eu-west under ab -c 20 on nginx's /slow (an 8 KiB file at 2 KiB/s: 20 connections held
  busy, checked in stub_status before anything else is asserted): its utilisation in
  gslbd's status goes above high; London's share on eu-west falls below 1 - step/2
  within two control periods plus the load interval; sampled every second while loaded,
  the share changes direction at most once, and the networks shed at one sample stay
  shed at the next (one hash, as resolvers' caches need); every shed client is answered
  by a region whose utilisation is below low (us-east, the next in their order);
  status, /metrics, gslbctl status and explain show the shed share, and the share shed
  is the share status reports; the status page (headless Chromium, when installed) shows
  eu-west's utilisation and shed share in its region box and service row. ab stopped,
  once stub_status has fallen: the share is back to 1.0 within
  ceil(shed share / step) + 1 periods, the load interval and a second, rising only, the
  networks let back each time among those shed before.
- The same for us-east through HAProxy (its backend's scur >= 20 checked first), with
  New York's clients shed to eu-west.
- healthd's own metrics count its reads of each region's load, none failed.

Not here: the stepping arithmetic, hysteresis and stale figures case by case (unit tests),
the simulation (sim/). Needs haproxy and ab (Debian haproxy and apache2-utils, `make
deps`): skipped, with the reason, without them. All traffic goes to 127.0.0.1; every wait
and loop is bounded; the script takes about a minute.
"""

import http.client
import json
import math
import os
import re
import shutil
import time
from collections import Counter

import gslbtest as g
from gslbtest.devtools import open_page
from gslbtest import prom

BUILD_TESTDB = g.ROOT / "geo" / "build-testdb"
ZONE_NAME = "shed.test"
QNAME = "www." + ZONE_NAME

# The zone's shed settings: period written, the rest gslb's defaults (issue 14 part 3).
HIGH, LOW, STEP = 0.9, 0.7, 0.15
PERIOD = 2.0
LOAD_INTERVAL = 0.5
CAPACITY = 10
CONNS = 20  # ab's connections: utilisation about 2 (each reader's own connection too)
SLOW_RATE = 2048  # /slow's bytes a second: each of ab's requests lasts about 4 s
LOADED = 8.0  # seconds each region is kept loaded
CLIENTS = 200  # client networks per group

EU, US, AP = "192.0.2.10", "198.51.100.10", "203.0.113.10"
REGION_OF = {EU: "eu-west", US: "us-east", AP: "ap-south"}

# The networks are /24s of 198.18.0.0/15 (RFC 2544, benchmarking: no one's clients),
# London's and New York's taking turns. Neighbours placed alike would be one network of
# the database (build-testdb merges them) and answered with one ECS scope: one client to
# gslbd, shed all at once. Alternating, each /24 is a network of its own.
_NETS = ["198.%d.%d.0/24" % (18 + k // 256, k % 256) for k in range(2 * CLIENTS)]
LONDON = _NETS[0::2]
NEW_YORK = _NETS[1::2]

METRIC = "envoy_http_downstream_rq_active"
METRIC_TEXT = """\
# HELP {m} Total active requests
# TYPE {m} gauge
{m}{{envoy_http_conn_manager_prefix="admin"}} 50
{m}{{envoy_http_conn_manager_prefix="ingress",worker="0"}} {w0}
{m}{{envoy_http_conn_manager_prefix="ingress",worker="1"}} {w1}
"""

ZONE = """\
zone: {zone}
soa: {{mname: ns1.{zone}, rname: hostmaster.{zone}}}
ns: [ns1.{zone}]
records:
  ns1: {{A: 192.0.2.53}}
shed: {{period: {period}ms}}
regions:
  eu-west:
    location: [53.35, -6.26]
    pool: [{{address: {eu}, probe: "127.0.0.1:{eu_port}"}}]
    check: web
    load: {{source: nginx, url: "http://127.0.0.1:{eu_port}/stub_status",
      capacity: {cap}, interval: {iv}ms, timeout: 400ms}}
  us-east:
    location: [39.04, -77.49]
    pool: [{{address: {us}, probe: "127.0.0.1:{us_port}"}}]
    check: web
    load: {{source: haproxy, url: "http://127.0.0.1:{us_stats}/stats;csv", backend: web,
      capacity: {cap}, interval: {iv}ms, timeout: 400ms}}
  ap-south:
    location: [1.29, 103.85]
    pool: [{{address: {ap}, probe: "127.0.0.1:{ap_port}"}}]
    check: web
    load: {{source: prometheus, url: "http://127.0.0.1:{ap_port}/metrics",
      metric: '{metric}{{envoy_http_conn_manager_prefix="ingress"}}',
      capacity: {cap}, interval: {iv}ms, timeout: 400ms}}
checks:
  web: {{type: http, path: /health, expect: 200, interval: 1s, timeout: 500ms, rise: 1,
        fall: 2}}
services:
  www: {{regions: [eu-west, us-east, ap-south], policy: nearest, ttl: 1}}
"""


def spec():
    """geo/build-testdb's input: the London and New York client networks."""
    lines = ["# network          country continent latitude longitude"]
    lines += ["%-18s GB EU 51.51 -0.13" % n for n in LONDON]
    lines += ["%-18s US NA 40.71 -74.01" % n for n in NEW_YORK]
    return "\n".join(lines) + "\n"


def reversals(series):
    """How often a series changes direction, equal neighbours not counted."""
    steps = [b - a for a, b in zip(series, series[1:]) if b != a]
    return sum(1 for a, b in zip(steps, steps[1:]) if (a > 0) != (b > 0))


def unnested(sets):
    """Where a series of sets of shed networks is not a chain (each sample's set inside
    the next one's or holding it): what the same hash each time guarantees."""
    problems = []
    for i, (a, b) in enumerate(zip(sets, sets[1:])):
        if not (a <= b or b <= a):
            problems.append("samples %d and %d: %d shed only in the first (%s), %d only in "
                            "the second (%s)" % (i, i + 1, len(a - b), sorted(a - b)[:3],
                                                 len(b - a), sorted(b - a)[:3]))
    return problems


class System:
    """The balancers, gslbd and healthd, and what the test reads of them."""

    def __init__(self, t):
        self.t = t
        self.srv = self.hd = self.haproxy = self.ctl = None
        self.nginx = {}
        self.http = g.free_port()
        self.hd_http = g.free_port()

    # ------------------------------------------------------------- reading gslbd

    def status(self):
        """gslbd's status JSON (its --http /api/v1/status), or None."""
        try:
            code, _, body = prom.http_get(self.http, "/api/v1/status")
            return json.loads(body) if code == 200 else None
        except (OSError, http.client.HTTPException, ValueError):
            return None

    def load(self, region, doc=None):
        """A region's "load" object in the status JSON ({} when missing)."""
        doc = doc if doc is not None else self.status()
        for z in (doc or {}).get("zones", []):
            if z.get("name") != ZONE_NAME:
                continue
            for r in z.get("regions", []):
                if r.get("name") == region:
                    return r.get("load") or {}
        return {}

    def utilisation(self, region):
        return self.load(region).get("utilisation")

    def metric(self, name, region):
        try:
            return prom.value(prom.scrape(self.http), name, zone=ZONE_NAME, region=region)
        except (OSError, http.client.HTTPException, prom.PromError):
            return None

    def answer(self, subnet):
        """The address www is answered with for a client network ("" without one)."""
        r = self.srv.query(QNAME, "A", ecs=subnet, timeout=1)
        got = [rd.to_text() for _, _, rd in r.section("answer")] if r.parsed else []
        return got[0] if len(got) == 1 else " ".join(got)

    def sample(self, clients, own):
        """One pass over the clients: (seconds since the epoch of the pass's end, the share
        answered `own`, a Counter of the regions answered, the clients not answered own)."""
        got = {c: self.answer(c) for c in clients}
        tally = Counter(REGION_OF.get(a, a or "no answer") for a in got.values())
        moved = [c for c, a in got.items() if a != own]
        return time.monotonic(), (len(clients) - len(moved)) / len(clients), tally, moved


def start_system(t, db):
    s = System(t)
    s.nginx["eu-west"] = g.Nginx(t, "eu-west", stub_status=True, slow=SLOW_RATE)
    s.nginx["us-east"] = g.Nginx(t, "us-east", slow=SLOW_RATE)
    s.nginx["ap-south"] = g.Nginx(t, "ap-south", metrics=METRIC_TEXT.format(m=METRIC, w0=1, w1=2))
    for name, n in s.nginx.items():
        t.start(n, "nginx for %s serves" % name, bail=True)
    s.haproxy = g.HAProxy(t, "us-east", s.nginx["us-east"].port)
    t.start(s.haproxy, "haproxy in front of us-east's nginx serves its stats CSV", bail=True)
    t.eq("haproxy's stats CSV has backend web's BACKEND row, no session yet", 0,
         s.haproxy.scur("web", "BACKEND"))
    stub = s.nginx["eu-west"].stub_status()
    t.check("eu-west's nginx answers /stub_status in nginx's format (%s)" % stub,
            stub is not None and stub["active"] >= 1, s.nginx["eu-west"].get("/stub_status"))

    zone = t.write("zones/%s.yaml" % ZONE_NAME, ZONE.format(
        zone=ZONE_NAME, period=int(PERIOD * 1000), iv=int(LOAD_INTERVAL * 1000), cap=CAPACITY,
        eu=EU, us=US, ap=AP, eu_port=s.nginx["eu-west"].port, us_port=s.haproxy.port,
        us_stats=s.haproxy.stats_port, ap_port=s.nginx["ap-south"].port, metric=METRIC))
    control = t.path("gslbd.sock")
    s.srv = g.Gslbd(t, "gslbd", zones=zone.parent, addresses=("127.0.0.1",),
                    args=["--threads", 1, "--geoip", db, "--control", control,
                          "--http", "127.0.0.1:%d" % s.http])
    t.start(s.srv, "gslbd starts with the zone's load: and shed: keys", bail=True)
    s.ctl = g.Gslbctl(t, control)
    s.hd = g.Healthd(t, "healthd", zones=zone.parent, gslbd=[control],
                     args=["--http", "127.0.0.1:%d" % s.hd_http])
    t.start(s.hd, "healthd starts with the zone's load: keys", bail=True)
    return s


def idle(t, s):
    """Every region's figure fresh and below low, nothing shed, every client at home; the
    Prometheus source's sum and filter, and a rewrite followed."""
    regions = ("eu-west", "us-east", "ap-south")
    w = g.until(lambda: all(s.utilisation(r) is not None for r in regions), 5.0, 0.1)
    if not t.check("status: every region's utilisation is known within 5 s (%.1f s)"
                   % w.seconds, w, json.dumps([s.load(r) for r in regions], indent=1)):
        return False
    doc = s.status()
    for r in regions:
        ld = s.load(r, doc)
        t.check("idle: %s's load fresh, utilisation %s below low %s, nothing shed"
                % (r, ld.get("utilisation"), LOW),
                ld.get("fresh") is True and ld.get("utilisation") is not None
                and ld["utilisation"] < LOW and ld.get("shed_share") == 0, ld)
        t.eq("status: %s's high and low are the defaults" % r, (HIGH, LOW),
             (ld.get("high"), ld.get("low")))
        t.eq("status: %s's capacity is the zone's" % r, CAPACITY, ld.get("capacity"))
    t.eq("status: the load sources are nginx, haproxy, prometheus",
         ["nginx", "haproxy", "prometheus"], [s.load(r, doc).get("source") for r in regions])
    ap = s.load("ap-south", doc)
    t.check("prometheus: ap-south's figure is the two ingress series' sum, 1 + 2 (not the "
            "admin series' 50): utilisation 3 / %d = %s" % (CAPACITY, ap.get("utilisation")),
            ap.get("figure") == 3 and abs((ap.get("utilisation") or -1) - 0.3) < 1e-9, ap)
    s.nginx["ap-south"].set_metrics(METRIC_TEXT.format(m=METRIC, w0=2, w1=2))
    w = g.until(lambda: s.load("ap-south").get("figure") == 4, 3 * LOAD_INTERVAL + 1, 0.1)
    t.check("prometheus: the file rewritten to 2 + 2, ap-south's utilisation 0.4 in status "
            "within 2.5 s (%.1f s)" % w.seconds,
            w and abs((s.utilisation("ap-south") or -1) - 0.4) < 1e-9, s.load("ap-south"))
    # The premise of counting shares: each /24 is a client of its own to gslbd.
    s.srv.query(QNAME, "A", ecs=LONDON[1]).check_ecs(
        "premise: a client /24 is answered with ECS scope /24 (its own network)",
        source=24, scope=24)
    for group, clients, own in (("London", LONDON, EU), ("New York", NEW_YORK, US)):
        _, share, tally, _ = s.sample(clients, own)
        t.eq("idle: all %d %s networks answered %s" % (CLIENTS, group, REGION_OF[own]),
             {REGION_OF[own]: CLIENTS}, dict(tally))
    m = s.metric("gslb_region_shed_share", "eu-west")
    t.eq("metrics: gslb_region_shed_share for eu-west is 0 while idle", 0, m)
    return True


def busy(t, read, what):
    """Wait (bounded, 3 s) for the load generator's connections to show in the balancer's
    own figure: the test's premise."""
    seen = []
    w = g.until(lambda: seen.append(read()) or (seen[-1] or 0) >= CONNS, 3.0, 0.1)
    t.check("premise: %s reads >= %d with ab holding %d connections (%s after %.1f s)"
            % (what, CONNS, CONNS, seen[-1], w.seconds), w)
    return bool(w)


def idled(t, read, what):
    """Wait (bounded, 6 s: one /slow answer lasts 4 s, and a balancer may finish the ones
    under way) for the balancer's own figure to fall below low x capacity once ab has
    stopped: the moment the load ended as healthd can see it."""
    seen = []
    w = g.until(lambda: seen.append(read()) or (seen[-1] if seen[-1] is not None
                                                  else CAPACITY) < LOW * CAPACITY, 6.0, 0.1)
    t.check("ab stopped: %s falls below %g (%s after %.1f s)"
            % (what, LOW * CAPACITY, seen[-1], w.seconds), w)
    return time.monotonic()


class Scenario:
    """One region loaded for LOADED seconds through its balancer, its clients' share
    watched, then the load stopped and the way back watched.

    region, source  the region and where healthd reads its load (nginx, haproxy)
    clients, own    its clients' networks, and its answered address
    next_region     where its clients go next in their order
    url             what ab loads
    read, what      the balancer's own figure (a function), and its name
    """

    def __init__(self, t, s, region, source, clients, own, next_region, url, read, what,
                 page=None):
        self.t, self.s, self.page = t, s, page
        self.region, self.source = region, source
        self.clients, self.own, self.next_region = clients, own, next_region
        self.url, self.read, self.what = url, read, what

    def run(self):
        ab = g.HttpLoad(self.t, "ab-" + self.region, self.url, CONNS, LOADED + 2 * PERIOD)
        if not self.t.start(ab, "ab -k -c %d loads %s (%s)" % (CONNS, self.region, self.url)):
            return
        busy(self.t, self.read, self.what)
        self.loaded(ab.started)
        self.where_shed()
        self.reported()
        if self.page is not None:
            page_shows(self.t, self.s, self.page, self.region)
        ab.stop()
        self.recovery(idled(self.t, self.read, self.what))

    def series(self, since, stop):
        """About one sample a second (each takes a fraction of one), at most 30, until
        stop(elapsed, share) is true: the seconds since `since` at each sample's end, the
        shares, and a line per sample. The networks shed at each sample are kept in
        self.shed_sets."""
        times, shares, lines = [], [], []
        self.shed_sets = []
        for _ in range(30):
            now = time.monotonic()
            end, share, tally, moved = self.s.sample(self.clients, self.own)
            self.shed_sets.append(frozenset(moved))
            times.append(end - since)
            shares.append(share)
            lines.append("%.1f s: %.3f %s" % (end - since, share, dict(tally)))
            if stop(end - since, share):
                break
            time.sleep(max(0.0, 1.0 - (time.monotonic() - now)))
        return times, shares, lines

    def loaded(self, start):
        t, region = self.t, self.region
        limit = 2 * PERIOD + LOAD_INTERVAL
        times, shares, lines = self.series(start, lambda elapsed, _: elapsed >= LOADED - 1)
        below = next((e for e, share in zip(times, shares) if share < 1 - STEP / 2), None)
        ld = self.s.load(region)
        t.diag("%s's share of its own %d clients while loaded:" % (region, len(self.clients)),
               *lines)
        t.check("%s's utilisation in status above high %s under load (%s, figure %s)"
                % (region, HIGH, ld.get("utilisation"), ld.get("figure")),
                (ld.get("utilisation") or 0) > HIGH and ld.get("fresh") is True, ld)
        t.check("%s's share falls below 1 - step/2 = %.3f within 2 periods + the load "
                "interval (%.1f s): %s" % (region, 1 - STEP / 2, limit,
                                           "%.1f s" % below if below is not None else "never"),
                below is not None and below <= limit, *lines)
        t.check("%s's share changes direction at most once while loaded (%d reversals)"
                % (region, reversals(shares)), reversals(shares) <= 1, *lines)
        t.report("as the share shed grows, the networks shed before stay shed (one hash)",
                 unnested(self.shed_sets))
        t.check("status: %s's shed_share above 0 under load (%s)"
                % (region, ld.get("shed_share")), (ld.get("shed_share") or 0) > 0, ld)
        m = self.s.metric("gslb_region_shed_share", region)
        t.check("metrics: gslb_region_shed_share{region=\"%s\"} above 0 under load (%s)"
                % (region, m), (m or 0) > 0)
        m = self.s.metric("gslb_region_utilisation", region)
        t.check("metrics: gslb_region_utilisation{region=\"%s\"} above high under load (%s)"
                % (region, m), (m or 0) > HIGH)

    def where_shed(self):
        """Where the shed clients go, against the utilisation each target reports now:
        the next region in their order, which is below low; and what gslbctl says."""
        t, s, region = self.t, self.s, self.region
        _, _, tally, moved = s.sample(self.clients, self.own)
        doc = s.status()
        targets = {r: s.load(r, doc).get("utilisation") for r in tally
                   if r != REGION_OF[self.own]}
        t.check("the shed clients go only to regions below low %s: %s" % (LOW, targets),
                moved and all(u is not None and u < LOW for u in targets.values()), tally)
        t.eq("every shed client of %s gets %s, the next region in its order"
             % (region, self.next_region), [self.next_region], sorted(targets))
        if moved:
            self.explained(moved[0])
        # The region's lines in gslbctl status: "load 2.10 of capacity (21 of 10, nginx,
        # 0.2 s ago); SHEDDING 60% of its clients ...".
        x = s.ctl.run("status")
        m = re.search(r"(?m)^ *region %s %s .*\n +load ([0-9.]+) of capacity \(([0-9.]+) of "
                      r"%d, %s, [0-9.]+ s ago\); shedding (\d+)%% of its clients"
                      % (re.escape(ZONE_NAME), region, CAPACITY, self.source), x.out, re.I)
        t.check("gslbctl status: %s's load above high, of capacity %d, read from %s, "
                "shedding (%s)" % (region, CAPACITY, self.source, m and m.group(0).strip()),
                m and float(m.group(1)) > HIGH and float(m.group(2)) >= CONNS
                and int(m.group(3)) > 0, x.out)

    def explained(self, network):
        """gslbctl explain of a shed network: its own region first, loaded and shedding,
        the network ranked below the share shed; the next region chosen, as shed there."""
        t, region = self.t, self.region
        x = self.s.ctl.run("explain", network, QNAME)
        first = re.search(r"(?m)^ +1\. %s .*$" % region, x.out)
        m = first and re.search(r"load ([0-9.]+) \(shedding (\d+)%\).* ranks ([0-9.]+) "
                                r"\(below ([0-9.]+)\)", first.group(0))
        t.check("gslbctl explain %s: %s first, its load above high, shedding, the network "
                "ranked below the share (%s)" % (network, region, m and m.group(0)),
                m and float(m.group(1)) > HIGH and int(m.group(2)) > 0
                and float(m.group(3)) < float(m.group(4)), x.out)
        addr = next(a for a, r in REGION_OF.items() if r == self.next_region)
        t.like("gslbctl explain %s: %s second, chosen as shed there from %s, answered"
               % (network, self.next_region, region),
               r"(?m)^ +2\. %s .*chosen: shed here from %s\b(.*\n)+.* IN A %s$"
               % (self.next_region, region, re.escape(addr)), x.out)

    def reported(self):
        """The share served is the share reported, when no step falls between the two
        reads of the status around a sample (three tries)."""
        s = self.s
        for _ in range(3):
            before = s.load(self.region).get("shed_share")
            _, share, _, _ = s.sample(self.clients, self.own)
            after = s.load(self.region).get("shed_share")
            if before == after:
                break
        self.t.check("the share of clients shed (%.3f of %d) is status's shed_share %s, "
                     "within 0.1" % (1 - share, len(self.clients), after),
                     before == after and after is not None and abs((1 - share) - after) <= 0.1,
                     "shed_share before %s, after %s" % (before, after))

    def recovery(self, stopped):
        """From the share shed when the load is gone (`stopped`): healthd reads the fall
        within the interval, and until then one more step up may come; then one step down
        a period. So at most ceil(shed / step) + 1 steps, a period each, the first after
        the interval; and a second for the sampling."""
        t, region = self.t, self.region
        shed = self.s.load(region).get("shed_share")
        shed = 1.0 if shed is None else shed
        limit = (math.ceil(round(shed / STEP, 6)) + 1) * PERIOD + LOAD_INTERVAL + 1.0
        times, shares, lines = self.series(stopped,
                                           lambda e, share: share == 1.0 or e > limit + 2)
        back = times[-1] if shares[-1] == 1.0 else None
        t.diag("%s's share after its balancer's figure fell:" % region, *lines)
        t.check("load gone: %s's share back to 1.0 within ceil(%.2f / %s) + 1 periods, the "
                "interval and a second (%.1f s): %s" % (
                    region, shed, STEP, limit, "%.1f s" % back if back else "never"),
                back is not None and back <= limit, *lines)
        t.check("load gone: %s's share only rises on the way back (%d reversals)"
                % (region, reversals(shares)), reversals(shares) == 0, *lines)
        t.report("on the way back, the networks still shed were shed before (one hash)",
                 unnested(self.shed_sets))

        def settled():
            ld = self.s.load(region)
            return ld.get("utilisation") is not None and ld["utilisation"] < LOW \
                and ld.get("shed_share") == 0
        w = g.until(settled, 3 * LOAD_INTERVAL, 0.1)
        ld = self.s.load(region)
        t.check("load gone: status shows %s below low and shedding nothing (%s, %s)"
                % (region, ld.get("utilisation"), ld.get("shed_share")), w, ld)


def healthd_reads(t, s):
    try:
        m = prom.scrape(s.hd_http)
    except (OSError, http.client.HTTPException, prom.PromError) as e:
        t.not_ok("healthd's /metrics answers", str(e))
        return
    # Named gslb_healthd_load_* on main (1a6c7fd), as every other healthd metric.
    name = "gslb_healthd_load_reads_total"
    for r in ("eu-west", "us-east", "ap-south"):
        ok = prom.value(m, name, zone=ZONE_NAME, region=r, result="ok")
        err = prom.value(m, name, zone=ZONE_NAME, region=r, result="error")
        t.check("healthd: %s's load read often, every read ok (%s ok, %s error)"
                % (r, ok, err), (ok or 0) >= 20 and not err)
    util = prom.value(m, "gslb_healthd_load_utilisation", zone=ZONE_NAME, region="ap-south")
    t.check("healthd: gslb_healthd_load_utilisation of ap-south is 4 / %d (%s)"
            % (CAPACITY, util), util is not None and abs(util - 0.4) < 1e-9)


def page_shows(t, s, page, region):
    """The status page, loaded while `region` sheds, shows its utilisation and shed share
    in its region box and in the service's table, from the same JSON."""
    page.navigate("http://127.0.0.1:%d/status" % s.http)
    w = page.wait("document.body && document.body.dataset.loaded === 'true'", 15)
    t.check("the status page renders while %s sheds" % region, w)
    if not w:
        return
    ld = s.load(region)
    box = page.eval("(() => { const e = document.querySelector("
                    "'[data-region=\"%s\"] .load'); return e ? [e.dataset.utilisation, "
                    "e.dataset.shedShare, e.textContent] : null; })()" % region)
    t.check("the page's %s box shows its utilisation and shed share (%s)" % (region, box),
            box is not None and float(box[0]) > HIGH and float(box[1]) > 0
            and "shedding" in box[2] and "of capacity" in box[2], ld)
    cell = page.eval("(() => { const e = document.querySelector("
                     "'[data-service-region=\"%s\"] [data-shed-share]'); "
                     "return e ? [e.dataset.shedShare, e.textContent] : null; })()" % region)
    t.check("the service table's %s row shows its load and shedding (%s)" % (region, cell),
            cell is not None and float(cell[0]) > 0 and "shedding" in cell[1])


def main(t):
    missing = [why for tool, why in ((g.HAPROXY, "haproxy (Debian haproxy)"),
                                     (g.AB, "ab (Debian apache2-utils)"))
               if not shutil.which(tool)]
    if missing:
        t.skip("load shedding with real balancers under real load",
               "not installed: %s (make deps installs them)" % ", ".join(missing))
        return
    db = t.path("geo", "shed.mmdb")
    built = t.run([BUILD_TESTDB, t.write("geo/shed.spec", spec()), db], timeout=60)
    if built.status != 0:
        t.bail("geo/build-testdb builds the test database", built.out)
    s = start_system(t, db)
    if not idle(t, s):
        t.bail("the load figures arrive, so nothing else can be judged")

    eu, hp = s.nginx["eu-west"], s.haproxy
    browser, page = open_page(t, "the status page shows utilisation and shed share")
    Scenario(t, s, "eu-west", "nginx", LONDON, EU, "us-east",
             "http://127.0.0.1:%d/slow" % eu.port, lambda: (eu.stub_status() or {}).get("active"),
             "eu-west's nginx stub_status Active connections", page).run()
    if browser is not None:
        t.eq("no script error on the status page", [], page.errors() if page else [])
        browser.stop()
    Scenario(t, s, "us-east", "haproxy", NEW_YORK, US, "eu-west",
             "http://127.0.0.1:%d/slow" % hp.port, lambda: hp.scur("web", "BACKEND"),
             "haproxy's backend web BACKEND scur").run()
    healthd_reads(t, s)
    t.eq("healthd stops with status 0", 0, s.hd.stop())
    t.eq("gslbd stops with status 0", 0, s.srv.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
