#!/usr/bin/env python3
"""test_healthd_load.py: healthd reads regions' load figures from real balancers (issue 14).

A real nginx (stub_status) and a real HAProxy (Debian haproxy; its stats CSV) on loopback,
and stub HTTP servers (gslbtest Backend) serving an Envoy-like Prometheus page byte for
byte, a 503, and an HTML page where metrics should be. The test holds idle TCP
connections open on nginx and on HAProxy's frontend, so the figures are exact: nginx's
"Active connections" is the held ones plus healthd's own request, HAProxy's scur of the
frontend is the held ones. Two recording control sockets (gslbtest FakeGslbd) stand for
gslbd: one answers HELLO as version 3, one as version 2.

Asserted: LOAD lines with the right utilisation, figure and capacity for each of the
three formats, following the figures as they change; `unknown` with a reason naming what
failed for a refused connection, an HTTP 503 and a page without the metric, and back
again; each failure logged once, not every read; two regions reading one URL fetch it
once per interval (nginx's access log); no LOAD at all to the version 2 gslbd, which
still gets member states (nor an ERR in healthd's log); on reconnection the member states,
then every region's latest figure, between HELLO and SYNCED;
gslb_healthd_load_utilisation and gslb_healthd_load_reads_total on /metrics; a zone reload that
drops a region and changes a capacity.

Not here: what gslbd does with LOAD (gslbd's own tests). Traffic goes to 127.0.0.1 only;
every wait is bounded.
"""

import os
import re
import shutil
import socket
import time

import gslbtest as g
import gslbtest.prom as prom

HAPROXY = os.environ.get("HAPROXY") or shutil.which("haproxy") or "/usr/sbin/haproxy"

ENVOY_PAGE = """\
# HELP envoy_http_downstream_rq_active Total active requests
# TYPE envoy_http_downstream_rq_active gauge
envoy_http_downstream_rq_active{envoy_http_conn_manager_prefix="admin"} 1
envoy_http_downstream_rq_active{envoy_http_conn_manager_prefix="ingress"} %d
# TYPE envoy_server_live gauge
envoy_server_live 1
"""

METRIC = 'envoy_http_downstream_rq_active{envoy_http_conn_manager_prefix="ingress"}'
REGIONS = ["eu-west", "eu-west-2", "us-east", "us-west", "ap-south", "down", "garbage"]


class StatusNginx(g.Nginx):
    """gslbtest's Nginx with stub_status at /stub_status."""

    def conf(self):
        return super().conf().replace(
            "        location / {",
            "        location = /stub_status {\n            stub_status;\n        }\n"
            "        location / {", 1)


class HAProxy(g.Daemon):
    """A real HAProxy in the foreground (-db): frontend fe on fe_port in front of backend
    web (one server, `server_port`), its stats page on stats_port (/stats;csv). Nothing
    outside TMP/NAME is touched; no user switch, no chroot, no master socket."""

    def __init__(self, test, name, server_port):
        self.dir = test.path(name)
        super().__init__(test, name, ready=None, wrap=False, sanitized=False)
        self.stats_port, self.fe_port = g.free_port(), g.free_port()
        self.server_port = server_port

    def conf(self):
        return """\
global
    maxconn 200
defaults
    mode http
    timeout connect 1s
    timeout client 120s
    timeout server 120s
    timeout http-request 120s
frontend stats
    bind 127.0.0.1:{stats}
    stats enable
    stats uri /stats
frontend fe
    bind 127.0.0.1:{fe}
    default_backend web
backend web
    server s1 127.0.0.1:{server}
""".format(stats=self.stats_port, fe=self.fe_port, server=self.server_port)

    def command(self):
        return [HAPROXY, "-db", "-f", str(self.dir / "haproxy.cfg")]

    def start(self, timeout=5.0):
        if not os.access(HAPROXY, os.X_OK):
            self.why = ["no haproxy at %s (Debian package haproxy)" % HAPROXY]
            return False
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "haproxy.cfg").write_text(self.conf())
        if not super().start():
            return False
        if g.until(lambda: self.alive() and _status(self.stats_port, "/stats;csv") == 200,
                   timeout):
            return True
        self.why = ["haproxy's stats page did not answer"] + self.log().splitlines()[-20:]
        self.stop_quietly()
        return False


def _status(port, path):
    try:
        return prom.http_get(port, path)[0]
    except OSError:
        return 0


def hold(port, n):
    """n idle TCP connections to 127.0.0.1:port, open until closed."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        socks.append(s)
    return socks


def zone_text(ports, eu_capacity=20, garbage=True):
    load = "interval: 500ms, timeout: 300ms"
    garbage_line = ('  garbage:   {location: [10, 10], pool: [192.0.2.7], load: {source: prometheus, '
                    'url: "http://127.0.0.1:%d/metrics", metric: x, capacity: 1, %s}}\n'
                    % (ports["garbage"], load)) if garbage else ""
    regions = [r for r in REGIONS if garbage or r != "garbage"]
    return """\
zone: load.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
regions:
  eu-west:   {{location: [53.3, -6.3], pool: [192.0.2.1], load: {{source: nginx, url: "http://127.0.0.1:{nginx}/stub_status", capacity: {eu}, {load}}}}}
  eu-west-2: {{location: [52.3, -6.3], pool: [192.0.2.2], load: {{source: nginx, url: "http://127.0.0.1:{nginx}/stub_status", capacity: 40, {load}}}}}
  us-east:   {{location: [39.0, -77.5], pool: [192.0.2.3], load: {{source: haproxy, url: "http://127.0.0.1:{stats}/stats;csv", frontend: fe, capacity: 8, {load}}}}}
  us-west:   {{location: [37.4, -122.1], pool: [192.0.2.4], load: {{source: haproxy, url: "http://127.0.0.1:{stats}/stats;csv", backend: web, capacity: 5, {load}}}}}
  ap-south:  {{location: [19.1, 72.9], pool: [{{address: 192.0.2.5, probe: "127.0.0.1:{prom}"}}], check: web, load: {{source: prometheus, url: "http://127.0.0.1:{prom}/metrics", metric: '{metric}', capacity: 800, {load}}}}}
  down:      {{location: [0, 0], pool: [192.0.2.6], load: {{source: nginx, url: "http://127.0.0.1:{closed}/stub_status", capacity: 10, {load}}}}}
{garbage_line}checks:
  web: {{type: http, path: /health, interval: 500ms, timeout: 300ms, rise: 1, fall: 1}}
services:
  www: {{regions: [{regions}]}}
""".format(eu=eu_capacity, load=load, metric=METRIC, garbage_line=garbage_line,
           regions=", ".join(regions), **ports)


def need(t, daemon, name=None):
    if not t.start(daemon):
        t.bail(name or "%s starts" % daemon.name, *daemon.why)
    return daemon


def expect_line(t, name, source, pattern, seconds):
    """A line recorded by a FakeGslbd, or of a daemon's log, matches within `seconds`."""
    if isinstance(source, g.FakeGslbd):
        found, lines = lambda: source.count(pattern) >= 1, source.lines
    else:
        found = lambda: re.search(pattern, source.log(), re.M) is not None  # noqa: E731
        lines = lambda: source.log().splitlines()  # noqa: E731
    w = g.until(found, seconds)
    if w:
        t.ok("%s (after %d ms)" % (name, w.ms))
    else:
        t.not_ok(name, "no line matching %s within %s s; last lines:" % (pattern, seconds),
                 *lines()[-15:])
    return w


def load_re(conn, region, rest):
    return "^%d LOAD load.test %s %s$" % (conn, re.escape(region), rest)


def log_count(hd, pattern):
    return len(re.findall(pattern, hd.log(), re.M))


# ------------------------------------------------------------------ the parts


def first_figures(t, a, ports):
    for region, rest in (
            ("eu-west", "0.3 figure=6 capacity=20"),  # 5 held + healthd's own request
            ("eu-west-2", "0.15 figure=6 capacity=40"),
            ("us-east", "0.375 figure=3 capacity=8"),  # 3 held on frontend fe
            ("us-west", "0 figure=0 capacity=5"),  # backend web: nothing got through
            ("ap-south", "0.515 figure=412 capacity=800"),  # ingress only, not admin
    ):
        expect_line(t, "%s: LOAD %s (%s)" % (region, rest, ports["source"][region]), a,
                    load_re(1, region, re.escape(rest)), 4)
    expect_line(t, "a refused connection: unknown, with why", a,
                load_re(1, "down", re.escape(
                    "unknown capacity=10 reason=connection refused by "
                    "http://127.0.0.1:%d/stub_status" % ports["closed"])), 4)
    expect_line(t, "an HTML page where metrics should be: unknown, with why", a,
                load_re(1, "garbage", re.escape(
                    "unknown capacity=1 reason=no sample of x on the metrics page "
                    "(http://127.0.0.1:%d/metrics)" % ports["garbage"])), 4)


def following(t, hd, a, nginx_socks, pages, backends, ports):
    for s in nginx_socks[:3]:
        s.close()
    expect_line(t, "nginx's figure follows its connections (3 closed)", a,
                load_re(1, "eu-west", re.escape("0.15 figure=3 capacity=20")), 4)
    t.write(pages.relative_to(t.tmp), ENVOY_PAGE % 600)
    expect_line(t, "the Prometheus figure follows the page", a,
                load_re(1, "ap-south", re.escape("0.75 figure=600 capacity=800")), 4)

    prom_backend = backends["prom"]
    prom_backend.set("503")
    expect_line(t, "an HTTP 503: unknown, with the status and URL", a,
                load_re(1, "ap-south", re.escape(
                    "unknown capacity=800 reason=HTTP 503 from http://127.0.0.1:%d/metrics"
                    % ports["prom"])), 4)
    time.sleep(1.5)  # three more failed reads
    t.eq("the failure is logged once, not every read", 1,
         log_count(hd, r"warning: load\.test ap-south: load unknown: HTTP 503 from"))
    t.compare("... while every read is reported",
              a.count(load_re(1, "ap-south", "unknown .*HTTP 503.*")), ">=", 3)
    prom_backend.set("page %s" % pages)
    expect_line(t, "the page back: the figure again", hd,
                r"info: load\.test ap-south: load 600 of capacity 800 \(utilisation 0\.75\), "
                r"read again", 4)
    t.compare("a refused connection is logged once too",
              log_count(hd, r"warning: load\.test down: load unknown: connection refused"),
              "==", 1)


def one_fetch_per_url(t, nginx):
    before = nginx.requests()
    time.sleep(2.0)
    n = nginx.requests() - before
    # Every 500 ms: 4 in 2 s, 5 at a phase boundary; two regions each fetching would
    # make 8 or more.
    t.compare("two regions on one URL fetch it once per interval (%d requests in 2 s)" % n,
              n, "<=", 5)
    t.compare("... and do fetch it", n, ">=", 3)


def old_gslbd(t, hd, b):
    t.compare("the version 2 gslbd was greeted and synced", b.count("^1 SYNCED "), ">=", 1)
    t.compare("... and gets member states", b.count("^1 MEMBER load.test ap-south "), ">=", 1)
    t.eq("the version 2 gslbd gets no LOAD line", 0, b.count(" LOAD "))
    t.unlike("healthd got no ERR from it", r"ERR", hd.log())


def metrics(t, port):
    m = prom.scrape(port)
    t.eq("gslb_healthd_load_utilisation of us-east", 0.375,
         prom.value(m, "gslb_healthd_load_utilisation", zone="load.test", region="us-east"))
    t.eq("... of eu-west", 0.15,
         prom.value(m, "gslb_healthd_load_utilisation", zone="load.test", region="eu-west"))
    t.eq("no utilisation for a region whose latest read failed", 0,
         len([k for k in m if k[0] == "gslb_healthd_load_utilisation" and
              ("region", "down") in k[1]]))
    t.compare("reads_total counts the failed reads",
              prom.value(m, "gslb_healthd_load_reads_total", zone="load.test", region="down",
                         result="error"), ">=", 3)
    t.eq("... and no successful one of a refused URL", 0,
         prom.value(m, "gslb_healthd_load_reads_total", zone="load.test", region="down",
                    result="ok"))
    t.compare("... and the successful ones",
              prom.value(m, "gslb_healthd_load_reads_total", zone="load.test", region="us-west",
                         result="ok"), ">=", 3)


def first_sync(lines):
    """The lines of connection 1 from its HELLO to its SYNCED."""
    out, inside = [], False
    for line in lines:
        inside = inside or line.startswith("1 HELLO")
        if inside:
            out.append(line)
        if inside and line.startswith("1 SYNCED"):
            break
    return out


def reconnection(t, a, ports):
    a.stop()
    time.sleep(1.5)
    a2 = need(t, g.FakeGslbd(t, "gslbd-a2", socket_path=a.socket, version=3))
    expect_line(t, "a restarted gslbd gets SYNCED", a2, "^1 SYNCED ", 4)
    sync = first_sync(a2.lines())
    t.eq("HELLO first", "1 HELLO healthd 4", sync[0] if sync else "")
    t.eq("SYNCED last", True, bool(sync) and sync[-1].startswith("1 SYNCED "))
    loads = sorted(line.split(" ")[3] for line in sync if line.startswith("1 LOAD "))
    t.eq("every region's latest figure before SYNCED", sorted(REGIONS), loads)
    t.eq("... after the member states", ["1 MEMBER load.test ap-south 192.0.2.5 up"],
         [" ".join(line.split(" ")[:6]) for line in sync[1:2]])
    t.like("... the latest nginx figure", load_re(1, "eu-west", re.escape(
        "0.15 figure=3 capacity=20")), "\n".join(sync))
    t.like("... and the latest failure with its reason", load_re(1, "down", re.escape(
        "unknown capacity=10 reason=connection refused by http://127.0.0.1:%d/stub_status"
        % ports["closed"])), "\n".join(sync))
    return a2


def reload(t, hd, a2, zf, ports):
    t.write(zf.relative_to(t.tmp), zone_text(ports, eu_capacity=30, garbage=False))
    expect_line(t, "a reload is noticed", hd, r"info: reloaded: ", 4)
    expect_line(t, "a changed capacity applies to the figure read", a2,
                load_re(1, "eu-west", re.escape("0.1 figure=3 capacity=30")), 4)
    time.sleep(0.6)
    n = a2.count(" LOAD load.test garbage ")
    time.sleep(1.5)
    t.eq("a region dropped from the zone is no longer read", n,
         a2.count(" LOAD load.test garbage "))
    t.compare("the others still are", a2.count(load_re(1, "us-east", ".*")), ">=", 3)


def main(t):
    hd = g.Healthd(t)
    if not os.access(hd.binary, os.X_OK):
        t.bail("healthd binary present", "no executable at %s (make bin/healthd)" % hd.binary)
    pages = t.write("pages/envoy.txt", ENVOY_PAGE % 412)
    backends = {"prom": g.Backend(t, "prom", mode="page %s" % pages),
                "garbage": g.Backend(t, "garbage",
                                     mode="body <html><body>metrics moved</body></html>")}
    for b in backends.values():
        need(t, b)
    nginx = need(t, StatusNginx(t, "eu-west"))
    haproxy = need(t, HAProxy(t, "haproxy", nginx.port))
    ports = {"nginx": nginx.port, "stats": haproxy.stats_port, "prom": backends["prom"].port,
             "garbage": backends["garbage"].port, "closed": g.free_port(),
             "source": {"eu-west": "nginx", "eu-west-2": "nginx, one fetch with eu-west",
                        "us-east": "haproxy frontend", "us-west": "haproxy backend",
                        "ap-south": "prometheus"}}
    nginx_socks = hold(nginx.port, 5)
    fe_socks = hold(haproxy.fe_port, 3)
    a = need(t, g.FakeGslbd(t, "gslbd-a", version=3))
    b = need(t, g.FakeGslbd(t, "gslbd-b"))
    zf = t.write("zones/load.test.yaml", zone_text(ports))
    http = g.free_port()
    hd = need(t, g.Healthd(t, "healthd", zones=zf.parent, gslbd=[a.socket, b.socket],
                           args=["--http", "127.0.0.1:%d" % http]), "healthd starts")
    t.like("healthd says what it reads", r"info: reading the load of 7 regions from 5 pages",
           hd.log())

    first_figures(t, a, ports)
    one_fetch_per_url(t, nginx)
    following(t, hd, a, nginx_socks, pages, backends, ports)
    old_gslbd(t, hd, b)
    metrics(t, http)
    a2 = reconnection(t, a, ports)
    reload(t, hd, a2, zf, ports)

    for s in nginx_socks + fe_socks:
        s.close()
    t.eq("SIGTERM stops healthd with status 0", 0, hd.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
