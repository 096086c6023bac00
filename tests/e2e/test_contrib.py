#!/usr/bin/env python3
"""test_contrib.py: the files in contrib/ that Prometheus and Grafana read, checked with
the real promtool against the real daemons' metrics.

- contrib/prometheus/alerts.yml: `promtool check rules` passes, and the unit tests of
  alerts_test.yml pass (`promtool test rules`: each alert fires on the series that should
  fire it, with its labels and text, and not before its `for`);
- contrib/grafana/gslb.json: valid JSON that Grafana imports (a title, a uid, panels with
  unique ids and grid positions, the Prometheus data source as an input, template
  variables), and every panel's query is valid PromQL: each is checked by promtool as a
  recording rule, with Grafana's variables replaced by what they stand for;
- every metric the alerts and the dashboard use is one that gslbd or healthd serves: both
  are started with --http, probing a real HTTP backend on loopback, and scraped; a name
  that neither serves (a typo, a renamed metric) fails here.
"""

import json
import re
import subprocess

import gslbtest as g
from gslbtest import prom

CONTRIB = g.ROOT / "contrib"

ZONE = """\
zone: contrib.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
regions:
  eu-west: {{location: [53.35, -6.26], pool: [{{address: 198.51.100.10, probe: "127.0.0.1:{port}"}}],
            check: web}}
  us-east: {{location: [39.04, -77.49], pool: [192.0.2.10]}}
checks:
  web: {{type: http, path: /health, interval: 300ms, timeout: 250ms, rise: 1, fall: 1}}
services:
  www: {{regions: [eu-west, us-east], ttl: 30}}
"""

METRIC = re.compile(r"\b((?:gslb|process)_[a-z0-9_]+)\b")


def promtool(t):
    r = t.run([str(g.ROOT / "tools/promtool.sh")], timeout=300)
    path = r.out.strip().splitlines()[-1] if r.status == 0 and r.out.strip() else None
    if path is None:
        t.bail("promtool is available (tools/promtool.sh)", r.out[-2000:])
    return path


def alerts(t, tool):
    r = t.run([tool, "check", "rules", str(CONTRIB / "prometheus/alerts.yml")], timeout=60)
    t.check("promtool check rules contrib/prometheus/alerts.yml", r.status == 0 and
            "SUCCESS" in r.out, r.out[-3000:])
    r = t.run([tool, "test", "rules", str(CONTRIB / "prometheus/alerts_test.yml")], timeout=60)
    t.check("promtool test rules contrib/prometheus/alerts_test.yml: every alert test passes",
            r.status == 0 and "SUCCESS" in r.out, r.out[-3000:])
    text = (CONTRIB / "prometheus/alerts.yml").read_text()
    names = set(re.findall(r"(?m)^\s+- alert: (\w+)$", text))
    tested = set(re.findall(r"(?m)alertname: (\w+)$",
                            (CONTRIB / "prometheus/alerts_test.yml").read_text()))
    t.eq("every alert in alerts.yml has a unit test in alerts_test.yml", [],
         sorted(names - tested))
    return text


def expand(expr):
    """A Grafana query as PromQL: its variables replaced by what they stand for."""
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
    return re.sub(r"\$\{?(\w+)\}?", ".*", expr)


def dashboard(t, tool):
    path = CONTRIB / "grafana/gslb.json"
    try:
        d = json.loads(path.read_text())
    except ValueError as e:
        t.bail("contrib/grafana/gslb.json is valid JSON", str(e))
    t.ok("contrib/grafana/gslb.json is valid JSON")
    inputs = [i.get("name") for i in d.get("__inputs", [])]
    panels = d.get("panels", [])
    ids = [p.get("id") for p in panels]
    t.check("the dashboard: a title, a uid, the Prometheus data source as an input, panels",
            d.get("title") and d.get("uid") and "DS_PROMETHEUS" in inputs and len(panels) >= 8,
            d.get("title"), d.get("uid"), inputs, len(panels))
    t.check("panel ids are unique and each panel has a grid position and a type",
            len(set(ids)) == len(ids) and all(p.get("gridPos") and p.get("type")
                                              for p in panels), ids)
    variables = [v.get("name") for v in d.get("templating", {}).get("list", [])]
    exprs = [(p.get("title"), tgt["expr"]) for p in panels for tgt in p.get("targets", [])
             if tgt.get("expr")]
    used = set(re.findall(r"\$\{?(\w+)\}?", " ".join(e for _, e in exprs))) - {
        "__rate_interval", "__interval"}
    t.eq("every variable the queries use is defined", [], sorted(used - set(variables)))
    titles = " | ".join(p.get("title", "") for p in panels)
    for want in ("rcode", "region", "health", "robe"):
        t.check("a panel about %s" % want, want in titles.lower() or want in titles, titles)

    rules = "groups:\n  - name: dashboard\n    rules:\n"
    for i, (_, expr) in enumerate(exprs):
        rules += "      - record: dashboard:query_%d\n        expr: %s\n" % (
            i, json.dumps(expand(expr)))
    f = t.write("dashboard-rules.yml", rules)
    r = t.run([tool, "check", "rules", str(f)], timeout=60)
    t.check("all %d dashboard queries are valid PromQL (promtool check rules, variables "
            "expanded)" % len(exprs), r.status == 0 and "SUCCESS" in r.out,
            r.out[-3000:], rules[:3000])
    return " ".join(e for _, e in exprs)


def served(t, tool, alert_text, dash_text):
    backend = g.Backend(t, "backend")
    if not t.start(backend):
        t.bail("the backend starts", *backend.why)
    zdir = t.path("zones")
    t.write("zones/contrib.test.yaml", ZONE.format(port=backend.port))
    ctl = t.path("ctl.sock")
    gport, hport = g.free_port(), g.free_port()
    srv = g.Gslbd(t, "gslbd", zones=zdir, args=["--threads", 2, "--control", ctl,
                                                 "--http", "127.0.0.1:%d" % gport])
    if not t.start(srv):
        t.bail("gslbd starts with --http", *srv.why)
    hd = g.Healthd(t, "healthd", zones=zdir, gslbd=[ctl],
                   args=["--http", "127.0.0.1:%d" % hport])
    if not t.start(hd):
        t.bail("healthd starts with --http", *hd.why)
    g.until(lambda: "up" in prom.http_get(gport, "/api/v1/status")[2], 5)
    srv.query("www.contrib.test", "A")

    families = set()
    for name, port in (("gslbd", gport), ("healthd", hport)):
        status, _, body = prom.http_get(port, "/metrics")
        r = subprocess.run([tool, "check", "metrics"], input=body, capture_output=True,
                           text=True, timeout=60)
        t.check("promtool check metrics passes on a live scrape of %s" % name,
                status == 200 and r.returncode == 0 and not (r.stdout + r.stderr).strip(),
                (r.stdout + r.stderr)[-3000:])
        families |= set(re.findall(r"(?m)^# TYPE (\S+) ", body))

    def family(name):
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[:-len(suffix)] in families:
                return name[:-len(suffix)]
        return name

    for what, text in (("alerts.yml", alert_text), ("the dashboard", dash_text)):
        used = sorted({family(n) for n in METRIC.findall(text)})
        t.eq("every metric %s uses is served by gslbd or healthd (%d names)"
             % (what, len(used)), [], [n for n in used if n not in families])
    t.eq("healthd stops with status 0", 0, hd.stop())
    t.eq("gslbd stops with status 0", 0, srv.stop())


def main(t):
    tool = promtool(t)
    alert_text = alerts(t, tool)
    dash_text = dashboard(t, tool)
    served(t, tool, alert_text, dash_text)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
