#!/usr/bin/env python3
"""test_http.py: gslbd's --http listener, and the metrics it serves about zones, health and
the process.

gslbd serves two zone files (web.test with two checked regions and a service; other.test,
static) with --http on 127.0.0.1 and ::1, and healthd probes real HTTP backends on loopback.
Asserted:

- the command line: a bad --http address is refused with what is wrong (exit 2);
- the paths: /healthz 200 "ok", /metrics in the text format 0.0.4, /api/v1/status the same
  document as `gslbctl status --json` (times aside), / an index, an unknown path 404, HEAD
  answered without a body, POST, PUT and DELETE refused with 405 and Allow: GET, HEAD
  (read-only), on IPv4 and IPv6; `promtool check metrics` passes on a live scrape;
- zones: each zone's serial is the SOA serial dig gets; a good reload counts one file
  loaded and moves the serial and the last reload time; a broken one counts "kept" and
  leaves both; every zone file removed by mistake: the zones keep serving, /healthz 200;
- health: regions and members up once healthd reported (state sets: exactly one 1 per
  region and member), a drain shows as drained with weight 0, a backend answering 503 as
  its member and (single-member) region down; healthd's source connected, its report age
  small, reports received counted;
- process: open descriptors, resident memory and a start time within seconds of the start;
- abuse: 100 idle connections are capped (DNS answered meanwhile, a scrape works once they
  are gone), a request that never finishes its headers is closed after the timeout, a
  scrape every 50 ms during a bounded DNS load loses no query;
- SIGTERM stops gslbd with status 0.

Not here: query counters (test_metrics.py), healthd's own metrics
(test_healthd_metrics.py), the status page (test_statuspage.py).
"""

import json
import os
import socket
import subprocess
import time

import gslbtest as g
from gslbtest import prom

ZONE = """\
zone: web.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
records:
  ns2: {{A: {ns2}}}
regions:
  eu-west: {{location: [53.35, -6.26], pool: [{{address: 198.51.100.10, probe: "127.0.0.1:{p1}"}},
                                             {{address: 198.51.100.11, probe: "127.0.0.1:{p2}"}}],
            check: web}}
  us-east: {{location: [39.04, -77.49], pool: [{{address: 192.0.2.10, probe: "127.0.0.1:{p3}"}}],
            check: web}}
checks:
  web: {{type: http, path: /health, interval: 300ms, timeout: 250ms, rise: 1, fall: 1}}
services:
  www: {{regions: [eu-west, us-east], ttl: 30}}
"""

OTHER = """\
zone: other.test
soa: {mname: ns1.example.net, rname: hostmaster.example.net}
ns: [ns1.example.net]
records:
  www: {A: 192.0.2.77}
"""

REGION_STATES = ("up", "unknown", "down", "drained", "forced-up", "forced-down")
TIMES = {"time", "age_s", "since_s", "reported_s", "source_heard_s"}


def promtool():
    """The path of promtool (tools/promtool.sh fetches Debian's when it is missing), or
    None with the reason."""
    try:
        r = subprocess.run([str(g.ROOT / "tools/promtool.sh")], capture_output=True,
                           text=True, timeout=300)
    except OSError as e:
        return None, str(e)
    path = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    return (path, None) if r.returncode == 0 and os.access(path, os.X_OK) else \
        (None, (r.stdout + r.stderr)[-2000:])


def without_times(doc):
    """The status document with the fields that move by themselves (times, ages) left out."""
    if isinstance(doc, dict):
        return {k: without_times(v) for k, v in doc.items() if k not in TIMES}
    if isinstance(doc, list):
        return [without_times(v) for v in doc]
    return doc


def states(samples, name, **labels):
    """The state words of a state set whose sample is 1, e.g. ["up"]."""
    return sorted(dict(k[1])["state"] for k, v in samples.items()
                  if k[0] == name and v == 1 and all((a, b) in k[1] for a, b in labels.items()))


def soa_serial(srv, zone):
    for _, _, rd in srv.query(zone, "SOA").section("answer"):
        return rd.serial
    return None


# ------------------------------------------------------------------ command line


def command_line(t, zdir):
    for bad, why in (("127.0.0.1", "expected ADDRESS:PORT"), ("127.0.0.1:0", "port must be"),
                     ("localhost:9153", "not a numeric"), ("[::1:9153", "[ADDRESS]:PORT")):
        r = g.Gslbd(t, "bad", zones=zdir).run("--zones", zdir, "--listen", "127.0.0.1:1",
                                              "--http", bad)
        t.check("--http %s: refused, exit 2, says %r" % (bad, why),
                r.status == 2 and why in r.out and bad in r.out, r.out)


# ------------------------------------------------------------------ paths


def paths(t, port, ctl):
    for host in ("127.0.0.1", "::1"):
        status, hdr, body = prom.http_get(port, "/healthz", host=host)
        t.eq("GET /healthz on %s: 200 ok" % host, (200, "ok\n"), (status, body))
    status, hdr, body = prom.http_get(port, "/metrics")
    t.check("GET /metrics: 200, text format 0.0.4",
            status == 200 and hdr.get("content-type", "").startswith(
                "text/plain; version=0.0.4"), status, hdr)
    try:
        prom.parse(body)
        t.ok("/metrics parses as the text format (strictly)")
    except prom.PromError as e:
        t.not_ok("/metrics parses as the text format (strictly)", str(e))
    path, why = promtool()
    if path is None:
        t.not_ok("promtool is available (tools/promtool.sh)", why)
    else:
        r = subprocess.run([path, "check", "metrics"], input=body, capture_output=True,
                           text=True, timeout=60)
        t.check("promtool check metrics passes on a live scrape of gslbd",
                r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
                r.stdout[-3000:], r.stderr[-3000:])

    def both():
        """/api/v1/status and gslbctl status --json, read one after the other: equal, times
        aside, unless a health report or an answer came between the two reads."""
        status, hdr, body = prom.http_get(port, "/api/v1/status", host="::1")
        r = ctl.run("status", "--json")
        try:
            same = without_times(json.loads(body)) == without_times(json.loads(r.out))
        except ValueError:
            same = False
        return (status, hdr.get("content-type"), same, body, r.out)

    w = g.until(lambda: both()[2], 5, every=0.3)
    status, ctype, same, body, out = both() if not w else (200, "application/json", True, "", "")
    if w:
        status, hdr, body = prom.http_get(port, "/api/v1/status", host="::1")
        ctype = hdr.get("content-type")
    t.check("GET /api/v1/status: 200, application/json, the document of gslbctl status --json "
            "(times aside)", status == 200 and ctype == "application/json" and same,
            body[:1500], out[:1500])
    status, _, body = prom.http_get(port, "/")
    t.check("GET /: an index naming every path",
            status == 200 and all(p in body for p in ("/metrics", "/status", "/api/v1/status",
                                                      "/healthz")), body)
    status, _, body = prom.http_get(port, "/nothing/here")
    t.eq("GET of an unknown path: 404", 404, status)
    status, hdr, body = prom.http_get(port, "/metrics", method="HEAD")
    t.check("HEAD /metrics: 200, a Content-Length, no body",
            status == 200 and int(hdr.get("content-length", "0")) > 1000 and body == "",
            status, hdr)
    for method in ("POST", "PUT", "DELETE"):
        status, hdr, body = prom.http_get(port, "/metrics", method=method)
        t.check("%s: 405, Allow: GET, HEAD (read-only)" % method,
                status == 405 and hdr.get("allow") == "GET, HEAD", status, hdr, body)


# ------------------------------------------------------------------ zones


def zones(t, port, srv, ctl, zfile, ports):
    m = prom.scrape(port)
    for zone in ("web.test", "other.test"):
        t.eq("gslb_zone_serial of %s is the SOA serial dig gets" % zone,
             soa_serial(srv, zone), prom.one(m, "gslb_zone_serial", zone=zone))
    t.eq("gslb_reloads_total: the two files loaded at start", 2,
         prom.one(m, "gslb_reloads_total", result="loaded"))
    t.eq("gslb_up 1, gslb_build_info names the version",
         (1, 1), (prom.one(m, "gslb_up"),
                  prom.one(m, "gslb_build_info",
                             version=(g.ROOT / "VERSION").read_text().strip())))
    t.eq("gslb_snapshot_generation 1 before any reload", 1,
         prom.one(m, "gslb_snapshot_generation"))
    t.check("the built-in world database's build time and networks",
            prom.total(m, "gslb_geoip_build_timestamp_seconds") > 1.6e9
            and prom.total(m, "gslb_geoip_networks") > 10000,
            [(k, v) for k, v in m.items() if k[0].startswith("gslb_geoip")])

    def reloaded_by_watch(before, result):
        """Wait (bounded) for the file watch to reload a file with `result`: the scrape."""
        w = g.until(lambda: prom.delta(before, prom.scrape(port),
                                       "gslb_reloads_total", result=result) >= 1, 8, every=0.2)
        return w, prom.scrape(port)

    before = m
    time.sleep(1.1)  # the reload's time must differ from the start's
    zfile.write_text(ZONE.format(ns2="203.0.113.54", **ports))
    w, after = reloaded_by_watch(before, "loaded")
    t.check("an edit on disk is reloaded (%s)" % ("%d ms" % w.ms if w else "never"), w)
    t.eq("gslb_reloads_total: the edited file loaded (+1), the other unchanged (+1)",
         (1, 1), (prom.delta(before, after, "gslb_reloads_total", result="loaded"),
                  prom.delta(before, after, "gslb_reloads_total", result="unchanged")))
    t.check("gslb_zone_serial of web.test is the new SOA serial, larger",
            prom.one(after, "gslb_zone_serial", zone="web.test") == soa_serial(srv, "web.test")
            > prom.one(before, "gslb_zone_serial", zone="web.test"),
            prom.one(after, "gslb_zone_serial", zone="web.test"))
    t.check("gslb_zone_last_reload_timestamp_seconds of web.test moved on, other.test's not",
            prom.one(after, "gslb_zone_last_reload_timestamp_seconds", zone="web.test")
            > prom.one(before, "gslb_zone_last_reload_timestamp_seconds", zone="web.test")
            and prom.one(after, "gslb_zone_last_reload_timestamp_seconds", zone="other.test")
            == prom.one(before, "gslb_zone_last_reload_timestamp_seconds", zone="other.test"))
    t.eq("gslb_snapshot_generation 2 after the reload", 2,
         prom.one(after, "gslb_snapshot_generation"))

    before = after
    zfile.write_text(ZONE.format(ns2="203.0.113.55", **ports).replace("ttl: 30}", "ttl: 30"))
    w, after = reloaded_by_watch(before, "kept")
    t.check("a broken edit on disk: gslb_reloads_total{result=kept} +1 (%s)"
            % ("%d ms" % w.ms if w else "never"), w)
    t.eq("... loaded +0, the serial unchanged, no snapshot published (nothing changed)",
         (0, prom.one(before, "gslb_zone_serial", zone="web.test"), 2),
         (prom.delta(before, after, "gslb_reloads_total", result="loaded"),
          prom.one(after, "gslb_zone_serial", zone="web.test"),
          prom.one(after, "gslb_snapshot_generation")))
    before = after
    r = ctl.run("reload")
    after = prom.scrape(port)
    t.eq("gslbctl reload of every file: the broken one kept, the other loaded again",
         (1, 1, 1), (r.status, prom.delta(before, after, "gslb_reloads_total", result="kept"),
                     prom.delta(before, after, "gslb_reloads_total", result="loaded")))
    zfile.write_text(ZONE.format(ns2="203.0.113.56", **ports))
    t.eq("the zone mended: reload exits 0", 0, ctl.run("reload").status)


# ------------------------------------------------------------------ health


def health(t, port, ctl, backends):
    def scrape_when(cond):
        w = g.until(lambda: cond(prom.scrape(port)), 6, every=0.2)
        return w, prom.scrape(port)

    w, m = scrape_when(lambda m: states(m, "gslb_region_state", region="eu-west") == ["up"]
                       and states(m, "gslb_region_state", region="us-east") == ["up"])
    t.check("gslb_region_state: both regions up once healthd reported (%s)"
            % ("%d ms" % w.ms if w else "never"), w,
            states(m, "gslb_region_state", region="eu-west"),
            states(m, "gslb_region_state", region="us-east"))
    t.eq("gslb_region_state is a state set: six samples per region, exactly one of them 1",
         [(6, 1), (6, 1)],
         [(sum(1 for k in m if k[0] == "gslb_region_state" and ("region", r) in k[1]),
           prom.total(m, "gslb_region_state", region=r)) for r in ("eu-west", "us-east")])
    t.eq("gslb_member_state: all three members up",
         [["up"]] * 3, [states(m, "gslb_member_state", member=a)
                        for a in ("198.51.100.10", "198.51.100.11", "192.0.2.10")])
    t.eq("gslb_service_state: www answers by health, IPv4 and IPv6",
         (["health"], ["health"]),
         (states(m, "gslb_service_state", service="www", family="ipv4"),
          states(m, "gslb_service_state", service="www", family="ipv6")))
    t.check("healthd's source: connected, heard within 3 s, reports received",
            prom.one(m, "gslb_health_source_connected", source="healthd") == 1
            and prom.one(m, "gslb_health_source_last_report_age_seconds",
                           source="healthd") < 3
            and prom.one(m, "gslb_health_reports_total", source="healthd") >= 3,
            [(k, v) for k, v in m.items() if k[0].startswith("gslb_health_")])

    r = ctl.run("drain", "eu-west")
    t.eq("gslbctl drain eu-west: exit 0", 0, r.status)
    m = prom.scrape(port)
    t.eq("drained: gslb_region_state drained, gslb_region_weight 0, its members still up",
         (["drained"], 0, [["up"], ["up"]]),
         (states(m, "gslb_region_state", region="eu-west"),
          prom.one(m, "gslb_region_weight", region="eu-west"),
          [states(m, "gslb_member_state", member=a)
           for a in ("198.51.100.10", "198.51.100.11")]))
    t.eq("gslbctl auto eu-west: exit 0", 0, ctl.run("auto", "eu-west").status)
    m = prom.scrape(port)
    t.eq("gslbctl, which says HELLO too, is no health source (only healthd is)",
         ["healthd"], sorted({dict(k[1]).get("source") for k in m
                              if k[0].startswith("gslb_health_source_")
                              or k[0] == "gslb_health_reports_total"}))
    t.eq("gslbctl drain eu-west 198.51.100.11: exit 0", 0,
         ctl.run("drain", "eu-west", "198.51.100.11").status)
    m = prom.scrape(port)
    t.eq("a drained member: gslb_member_state drained, its region up",
         (["drained"], ["up"]), (states(m, "gslb_member_state", member="198.51.100.11"),
                                 states(m, "gslb_region_state", region="eu-west")))
    t.eq("gslbctl auto eu-west 198.51.100.11: exit 0", 0,
         ctl.run("auto", "eu-west", "198.51.100.11").status)

    reports = prom.one(m, "gslb_health_reports_total", source="healthd")
    backends[2].set("503")
    w, m = scrape_when(lambda m: states(m, "gslb_region_state", region="us-east") == ["down"])
    t.check("a backend answering 503: its member and its one-member region down (%s)"
            % ("%d ms" % w.ms if w else "never"),
            w and states(m, "gslb_member_state", member="192.0.2.10") == ["down"],
            states(m, "gslb_region_state", region="us-east"))
    t.check("gslb_health_reports_total counted the report that said so",
            prom.one(m, "gslb_health_reports_total", source="healthd") > reports,
            reports, prom.one(m, "gslb_health_reports_total", source="healthd"))
    backends[2].set("200")
    w, m = scrape_when(lambda m: states(m, "gslb_region_state", region="us-east") == ["up"])
    t.check("... and up again once it answers 200", w)


# ------------------------------------------------------------------ process


def process(t, port, started):
    m = prom.scrape(port)
    t.check("process_open_fds and process_max_fds: some open, under the limit",
            0 < prom.one(m, "process_open_fds") < prom.one(m, "process_max_fds"),
            prom.one(m, "process_open_fds"), prom.one(m, "process_max_fds"))
    t.check("process_resident_memory_bytes: between 1 MiB and 2 GiB",
            2**20 < prom.one(m, "process_resident_memory_bytes") < 2**31,
            prom.one(m, "process_resident_memory_bytes"))
    t.check("process_start_time_seconds: within 5 s of when the test started gslbd",
            abs(prom.one(m, "process_start_time_seconds") - started) < 5,
            prom.one(m, "process_start_time_seconds"), started)
    t.check("process_cpu_seconds_total: a little, not negative",
            0 <= prom.one(m, "process_cpu_seconds_total") < 120)


# ------------------------------------------------------------------ abuse


def abuse(t, port, srv):
    socks = []
    try:
        for _ in range(100):
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            socks.append(s)
        time.sleep(0.3)
        r = srv.query("www.other.test", "A")
        t.check("100 idle HTTP connections open: DNS still answered", r.answered, r.describe())
        closed = 0
        for s in socks:
            s.settimeout(0.05)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except socket.timeout:
                pass
            except OSError:
                closed += 1
        t.check("... of them, those over the cap of 64 in all (32 per address with two) "
                "closed by gslbd at once (%d closed)" % closed, closed >= 100 - 64, closed)
    finally:
        for s in socks:
            s.close()
    def served():
        try:
            return prom.http_get(port, "/healthz")[0] == 200
        except OSError:
            return False

    w = g.until(served, 5, every=0.2)
    t.check("once they are gone, a request is served again", w)

    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    start = time.monotonic()
    s.settimeout(16)
    try:
        data = s.recv(4096)
        while data:
            data = s.recv(4096)
        took = time.monotonic() - start
    except OSError:
        took = time.monotonic() - start
    s.close()
    t.check("a request that never finishes its headers is closed after the 10 s timeout "
            "(%.1f s)" % took, 8 <= took <= 14, took)

    stop = time.monotonic() + 30
    scrapes, bad = 0, []

    def scraper():
        nonlocal scrapes
        while time.monotonic() < stop:
            try:
                prom.scrape(port)
                scrapes += 1
            except (OSError, prom.PromError) as e:
                bad.append(str(e))
            time.sleep(0.05)

    import threading
    th = threading.Thread(target=scraper, daemon=True)
    th.start()
    res = srv.load("www.web.test", "A", count=3000, parallel=12, deadline=25)
    stop = 0
    th.join(5)
    t.check("a scrape every 50 ms during 3,000 queries: every query answered (%d/%d), "
            "every scrape good (%d)" % (res.answered, res.sent, scrapes),
            res.clean(3000) and not bad and scrapes >= 3, str(res), bad[:3])


# ------------------------------------------------------------------ no zone


def emptied(t, port, srv, ctl, zdir):
    for f in sorted(zdir.glob("*.yaml")):
        f.unlink()
    ctl.run("reload")
    status, _, body = prom.http_get(port, "/healthz")
    t.check("every zone file removed by mistake: the zones keep serving, /healthz stays 200",
            status == 200 and soa_serial(srv, "web.test") is not None, status, body)


def main(t):
    backends = [g.Backend(t, "http-%d" % i) for i in range(1, 4)]
    for b in backends:
        if not t.start(b):
            t.bail("%s starts" % b.name, *b.why)
    ports = {"p%d" % (i + 1): b.port for i, b in enumerate(backends)}
    zdir = t.path("zones")
    zfile = t.write("zones/web.test.yaml", ZONE.format(ns2="203.0.113.53", **ports))
    t.write("zones/other.test.yaml", OTHER)
    command_line(t, zdir)

    ctl_path = t.path("ctl.sock")
    hport = g.free_port()
    srv = g.Gslbd(t, "gslbd", zones=zdir,
                  args=["--threads", 2, "--control", ctl_path, "--http", "127.0.0.1:%d" % hport,
                        "--http", "[::1]:%d" % hport])
    started = time.time()
    if not t.start(srv):
        t.bail("gslbd starts with --http on 127.0.0.1 and ::1", *srv.why)
    ctl = g.Gslbctl(t, ctl_path)
    hd = g.Healthd(t, "healthd", zones=zdir, gslbd=[ctl_path])
    if not t.start(hd):
        t.bail("healthd starts", *hd.why)

    paths(t, hport, ctl)
    zones(t, hport, srv, ctl, zfile, ports)
    health(t, hport, ctl, backends)
    process(t, hport, started)
    abuse(t, hport, srv)
    t.eq("healthd stops with status 0", 0, hd.stop())
    emptied(t, hport, srv, ctl, zdir)
    t.eq("gslbd stops with status 0", 0, srv.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
