#!/usr/bin/env python3
"""test_statuspage.py: gslbd's status page (/status) in a real browser, headless Chromium,
against gslbd and healthd probing real HTTP backends on loopback.

gslbd serves page.test (three checked regions, eu-west with two members, us-east and
ap-south with one; two services) and other.test (static), with --http; healthd probes
one Backend per member. The test drives Chromium over the DevTools protocol on a pipe
(gslbtest/devtools.py: --remote-debugging-pipe, JSON messages ended by a NUL byte, to the
browser on its fd 3, from it on fd 4), reads the DOM with Runtime.evaluate, and asserts:

- GET /status: 200, text/html; charset=utf-8, not to be cached, the map's outline
  embedded (a coastline, or a graticule where python-cartopy-data was missing);
- the page loads and renders from /api/v1/status with no script error, shows its refresh
  interval and when it was last updated;
- the map has one dot per region, at its location, coloured and labelled by state,
  sized by its share of a bounded batch of ECS queries from three places;
- the services with their regions in order, the regions with their members' last probes,
  the zones with the serial DNS gives, the healthd source with its report age;
- a region drained with gslbctl shows drained (map, service, region) within one refresh,
  with no reload of the page; a backend stopped so that its check fails shows its member
  and region down, with the reason, within one refresh of gslbd knowing;
- the page asked nothing of any host but its own (the DevTools Network events and the
  Performance API), and polled /api/v1/status at its interval, not faster;
- with gslbd gone, the page says that what it shows is stale;
- a screenshot: build/test-artifacts/status-page.png.

Skipped, with the reason, when chromium is not installed. Not here: the JSON document
itself (test_gslbctl.py, test_http.py), the listener's caps (test_http.py).
"""

import json
import os
import re
import struct
import time

import gslbtest as g
from gslbtest import prom
from gslbtest.devtools import CHROMIUM, Browser, Page

REFRESH_S = 5  # the page's interval (status.html INTERVAL_S)
ARTIFACT = g.ROOT / "build" / "test-artifacts" / "status-page.png"

ZONE = """\
zone: page.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
regions:
  eu-west:  {{location: [53.35, -6.26], pool: [{{address: 198.51.100.10, probe: "127.0.0.1:{p1}"}},
                                              {{address: 198.51.100.11, probe: "127.0.0.1:{p2}"}}],
             check: web}}
  us-east:  {{location: [39.04, -77.49], pool: [{{address: 192.0.2.10, probe: "127.0.0.1:{p3}"}}],
             check: web}}
  ap-south: {{location: [1.29, 103.85], pool: [{{address: 203.0.113.10, probe: "127.0.0.1:{p4}"}}],
             check: web}}
checks:
  web: {{type: http, path: /health, interval: 300ms, timeout: 250ms, rise: 1, fall: 1}}
services:
  www: {{regions: [eu-west, us-east, ap-south], ttl: 30}}
  api: {{regions: [eu-west, us-east], policy: weighted}}
"""

OTHER = """\
zone: other.test
soa: {mname: ns1.example.net, rname: hostmaster.example.net}
ns: [ns1.example.net]
records:
  www: {A: 192.0.2.77}
"""

LOCATIONS = {"eu-west": (53.35, -6.26), "us-east": (39.04, -77.49), "ap-south": (1.29, 103.85)}
LONDON, SINGAPORE, US = "81.2.69.0/24", "165.21.83.0/24", "3.80.0.0/16"
AP_MEMBER = "203.0.113.10"

# What the tests read from the page: one expression each, returning plain JSON.
JS_DOTS = """[...document.querySelectorAll('#map .map-dot')].map(d => {
  const c = d.querySelector('circle');
  return {zone: d.dataset.zone, region: d.dataset.region, state: d.dataset.state,
          share: d.dataset.share, placed: d.dataset.placed, cx: +c.getAttribute('cx'),
          cy: +c.getAttribute('cy'), r: +c.getAttribute('r'), fill: c.getAttribute('fill'),
          label: d.querySelector('text').textContent};
})"""
JS_SERVICES = """[...document.querySelectorAll('#services [data-service]')].map(s => ({
  name: s.dataset.service, zone: s.dataset.zone, a: s.dataset.answeringA,
  rows: [...s.querySelectorAll('tr[data-service-region]')].map(r => ({
    region: r.dataset.serviceRegion, state: r.dataset.state, share: r.dataset.share,
    text: r.innerText, spark: !!r.querySelector('svg.spark polyline, svg.spark line'),
    nohistory: !!r.querySelector('.spark-none')}))}))"""
JS_REGIONS = """[...document.querySelectorAll('#regions .region')].map(r => ({
  zone: r.dataset.zone, region: r.dataset.region, state: r.dataset.state, text: r.innerText,
  members: [...r.querySelectorAll('tr[data-member]')].map(m => ({
    address: m.dataset.member, state: m.dataset.state, health: m.dataset.health,
    reason: m.dataset.reason, text: m.innerText}))}))"""
JS_ZONES = """[...document.querySelectorAll('#zones tr[data-zone-row]')].map(z => ({
  zone: z.dataset.zoneRow, serial: z.dataset.serial, reload: z.dataset.reload}))"""
JS_SOURCES = """[...document.querySelectorAll('#sources tr[data-source]')].map(s => ({
  source: s.dataset.source, age: s.dataset.age, text: s.innerText}))"""


def by(items, key, value):
    return next((x for x in items or [] if x.get(key) == value), None)


def status_json(ctl):
    r = ctl.run("status", "--json")
    try:
        return json.loads(r.out)
    except ValueError:
        return None


def zone_doc(doc, name="page.test"):
    return by((doc or {}).get("zones"), "name", name)


def members_json(doc):
    z = zone_doc(doc) or {"regions": []}
    return {m["address"]: m for r in z["regions"] for m in r["members"]}


def soa_serial(srv, zone):
    for _, _, rd in srv.query(zone, "SOA").section("answer"):
        return rd.serial
    return None


# ------------------------------------------------------------------ the page over HTTP


def served(t, hport):
    status, hdr, body = prom.http_get(hport, "/status")
    t.eq("GET /status: 200, Content-Type text/html; charset=utf-8",
         (200, "text/html; charset=utf-8"), (status, hdr.get("content-type")))
    t.check("GET /status: not to be cached (Cache-Control no-cache or no-store)",
            any(w in hdr.get("cache-control", "") for w in ("no-cache", "no-store")), hdr)
    outline = "coastline" if 'class="land"' in body else \
        "graticule" if 'class="graticule"' in body else None
    t.check("the page has the world map's outline built in (%s), not the placeholder" % outline,
            outline and "@WORLDMAP@" not in body, body[:300])
    t.check("the page is self-contained: a Content-Security-Policy allowing no other host, "
            "inline script and styles, %d bytes" % len(body.encode()),
            "default-src 'none'; connect-src 'self'" in body and "<script src" not in body
            and len(body.encode()) < 120000, body[:300])


# ------------------------------------------------------------------ in the browser


def first_render(t, page, srv, ctl, hport):
    url = "http://127.0.0.1:%d/status" % hport
    page.navigate(url)
    w = page.wait("document.body && document.body.dataset.loaded === 'true'", 15)
    t.check("Chromium loads /status and it renders from /api/v1/status (%s)"
            % ("%d ms" % w.ms if w else "never"), w,
            page.eval("document.body ? document.body.innerText.slice(0, 500) : ''"))
    if not w:
        return False
    t.eq("the page shows its refresh interval (data-interval-s 5, 'refreshes every 5 s')",
         ("5", "refreshes every 5 s"),
         tuple(page.eval("[document.getElementById('refresh').dataset.intervalS, "
                         "document.getElementById('refresh').textContent]")))
    t.check("... and when it was last updated, not stale",
            page.eval("document.getElementById('updated').textContent.startsWith('updated ') && "
                      "Math.abs(Date.now() - document.getElementById('updated').dataset.updatedMs)"
                      " < 10000 && document.getElementById('stale').dataset.stale === 'false'"),
            page.eval("document.querySelector('header').innerText"))
    doc = status_json(ctl)

    dots = page.eval(JS_DOTS)
    t.eq("the map: one dot per region, all up", [("eu-west", "up"), ("us-east", "up"),
                                                 ("ap-south", "up")],
         sorted(((d["region"], d["state"]) for d in dots),
                key=lambda x: list(LOCATIONS).index(x[0]) if x[0] in LOCATIONS else 9))
    bad = [d for d in dots if d["region"] in LOCATIONS and (
        abs(d["cx"] - (LOCATIONS[d["region"]][1] + 180) * 4) > 0.2
        or abs(d["cy"] - (90 - LOCATIONS[d["region"]][0]) * 4) > 0.2 or d["placed"] != "location")]
    t.check("each dot at its region's location (x = (lon + 180) * 4, y = (90 - lat) * 4)",
            not bad and len(dots) == 3, *[json.dumps(d) for d in bad or dots])
    t.check("each dot labelled with its state in words, not by colour alone",
            all(("%s \u00b7 UP" % d["region"]) in d["label"] for d in dots),
            *[d["label"] for d in dots])
    size = {d["region"]: d["r"] for d in dots}
    share = {d["region"]: d["share"] for d in dots}
    t.check("dots sized by traffic share: eu-west (30 of 60) > us-east (20) > ap-south (10)",
            size.get("eu-west", 0) > size.get("us-east", 0) > size.get("ap-south", 0)
            and share == {"eu-west": "0.5000", "us-east": "0.3333", "ap-south": "0.1667"},
            json.dumps(size), json.dumps(share))
    t.check("the map has its outline drawn (coastline or graticule) and credits it",
            page.eval("!!document.querySelector('#map .land, #map .graticule') && "
                      "document.getElementById('credit').textContent.startsWith('Map: ')"),
            page.eval("document.getElementById('credit').textContent"))
    geoip = status_json(ctl)["geoip"]
    t.eq("the footer credits the GeoIP database with its own description (its sources' licences "
         "ask for it)", "GeoIP: %s." % (geoip["description"] or geoip["type"]),
         page.eval("document.getElementById('geoip').textContent"))
    links = page.eval("Array.from(document.querySelectorAll('#geoip a')).map(a => a.href)")
    want = re.findall(r"https://[A-Za-z0-9./-]+[A-Za-z0-9/]", geoip["description"])
    t.eq("the footer links back to the data's source where the description names one "
         "(DB-IP's licence asks it of pages that show its results)",
         [u if u.count("/") > 2 else u + "/" for u in want], links)

    svcs = page.eval(JS_SERVICES)
    t.eq("the services shown: www and api of page.test, answering by health",
         [("www", "page.test", "health"), ("api", "page.test", "health")],
         [(s["name"], s["zone"], s["a"]) for s in svcs])
    www = by(svcs, "name", "www") or {"rows": []}
    t.eq("www: its regions in order, each up with its share",
         [("eu-west", "up", "0.5"), ("us-east", "up", "0.3333"), ("ap-south", "up", "0.1667")],
         [(r["region"], r["state"], r["share"]) for r in www["rows"]])
    t.check("www: the shares written as percentages with the counts",
            [r["text"].count("50.0% (30)") for r in www["rows"]][:1] == [1]
            and "33.3% (20)" in www["rows"][1]["text"], *[r["text"] for r in www["rows"]])
    svc_json = by((zone_doc(doc) or {}).get("services"), "name", "www") or {}
    if svc_json.get("history"):
        t.check("www: a share-over-time chart per region, from the JSON's history",
                all(r["spark"] for r in www["rows"]), json.dumps(www["rows"]))
    else:
        t.check("www: no history in the JSON, and the page says 'no history' (no chart)",
                all(r["nohistory"] for r in www["rows"]), json.dumps(www["rows"]))

    regions = page.eval(JS_REGIONS)
    t.eq("the regions shown, each up",
         [("eu-west", "up"), ("us-east", "up"), ("ap-south", "up")],
         [(r["region"], r["state"]) for r in regions])
    ms = [m for r in regions for m in r["members"]]
    t.eq("their members with their last probe: up, 'status 200'",
         [(a, "up", "up", "status 200") for a in ("198.51.100.10", "198.51.100.11",
                                                  "192.0.2.10", AP_MEMBER)],
         [(m["address"], m["state"], m["health"], m["reason"]) for m in ms])
    t.check("... and the age of that probe ('... s ago')",
            all(" s ago" in m["text"] and "up: status 200" in m["text"] for m in ms),
            *[m["text"] for m in ms])

    zones = page.eval(JS_ZONES)
    t.eq("the zones with the serial DNS gives and their last reload 'loaded'",
         [("page.test", str(soa_serial(srv, "page.test")), "loaded"),
          ("other.test", str(soa_serial(srv, "other.test")), "loaded")],
         sorted(((z["zone"], z["serial"], z["reload"]) for z in zones), reverse=True))
    src = page.eval(JS_SOURCES)
    t.check("the healthd source with the age of its last report (under 3 s)",
            len(src) == 1 and src[0]["source"] == "healthd" and src[0]["age"] != ""
            and float(src[0]["age"]) < 3 and "ago" in src[0]["text"], json.dumps(src))
    t.eq("no script error, console error or refused request so far", [], page.errors())
    return True


def within_refresh(page, expr, since, slack=2.0):
    """Wait until `expr` holds, at most one refresh and `slack` seconds after `since`
    (time.monotonic()): a Waited whose seconds count from `since`."""
    left = max(0.0, since + REFRESH_S + slack - time.monotonic())
    w = page.wait(expr, left)
    w.seconds = time.monotonic() - since
    return w


def drained(t, page, ctl):
    page.eval("window.__notReloaded = 'still the same document'")
    navigations = len(page.events("Page.frameNavigated"))
    r = ctl.run("drain", "us-east")
    since = time.monotonic()
    t.check("gslbctl drain us-east: done", r.status == 0 and "done" in r.out, r.out)
    expr = ("document.querySelector('#regions .region[data-region=\"us-east\"]')"
            "?.dataset.state === 'drained' && "
            "document.querySelector('#map .map-dot[data-region=\"us-east\"]')"
            "?.dataset.state === 'drained' && "
            "document.querySelector('[data-service=\"www\"] tr[data-service-region=\"us-east\"]')"
            "?.dataset.state === 'drained'")
    w = within_refresh(page, expr, since)
    t.check("drained: the map, the service and the region show us-east drained within one "
            "refresh (%.1f s, at most %d + 2)" % (w.seconds, REFRESH_S), w,
            page.eval("document.getElementById('regions').innerText.slice(0, 1500)"))
    card = by(page.eval(JS_REGIONS), "region", "us-east") or {}
    t.check("... in words: DRAINED, 'drained by an operator', override drain, answered as 0",
            all(s in card.get("text", "") for s in ("DRAINED", "drained by an operator",
                                                    "override drain", "answered as 0")),
            card.get("text"))
    dot = by(page.eval(JS_DOTS), "region", "us-east") or {}
    t.check("... the map's label says DRAINED", "us-east \u00b7 DRAINED" in dot.get("label", ""),
            json.dumps(dot))
    t.check("... and the summary lists it",
            page.eval("document.getElementById('summary').innerText")
            .find("region us-east DRAINED") >= 0,
            page.eval("document.getElementById('summary').innerText"))
    t.check("... without a reload of the page (the same document, no navigation)",
            page.eval("window.__notReloaded") == "still the same document"
            and len(page.events("Page.frameNavigated")) == navigations,
            page.eval("String(window.__notReloaded)"))


def health_failed(t, page, ctl, backend):
    backend.stop()
    w_json = g.until(lambda: (members_json(status_json(ctl)).get(AP_MEMBER) or {}).get("state")
                     == "down", 5, every=0.1)
    since = time.monotonic()
    m_json = members_json(status_json(ctl)).get(AP_MEMBER) or {}
    t.check("the ap-south backend stopped: gslbd has its member down in %.1f s, reason %r"
            % (w_json.seconds, m_json.get("reason")), w_json and m_json.get("reason"),
            json.dumps(m_json))
    expr = ("(() => { const m = document.querySelector('#regions tr[data-member=\"%s\"]');"
            " return m && m.dataset.state === 'down' && m.dataset.reason !== '' &&"
            " document.querySelector('#regions .region[data-region=\"ap-south\"]')"
            "?.dataset.state === 'down' &&"
            " document.querySelector('#map .map-dot[data-region=\"ap-south\"]')"
            "?.dataset.state === 'down'; })()" % AP_MEMBER)
    w = within_refresh(page, expr, since)
    t.check("failed check: the page shows the member and ap-south down within one refresh "
            "of gslbd knowing (%.1f s, at most %d + 2)" % (w.seconds, REFRESH_S), w,
            page.eval("document.getElementById('regions').innerText.slice(-800)"))
    card = by(page.eval(JS_REGIONS), "region", "ap-south") or {"members": []}
    m = by(card["members"], "address", AP_MEMBER) or {}
    # The first failed probe may say "connection reset" and later ones "refused": the
    # page shows one gslbd had, at most a refresh ago.
    reasons = {m_json.get("reason"),
               (members_json(status_json(ctl)).get(AP_MEMBER) or {}).get("reason")} - {None}
    t.check("... the member's row says DOWN and the reason gslbd has (%r)" % m.get("reason"),
            m.get("reason") in reasons and m["reason"] in m.get("text", "")
            and "DOWN" in m.get("text", ""), json.dumps(m), *sorted(reasons))
    row = by((by(page.eval(JS_SERVICES), "name", "www") or {"rows": []})["rows"],
             "region", "ap-south") or {}
    t.check("... and the service www shows its region ap-south DOWN, with why",
            row.get("state") == "down" and "DOWN" in row.get("text", "")
            and "0 of 1 members up" in row.get("text", ""), json.dumps(row))
    dot = by(page.eval(JS_DOTS), "region", "ap-south") or {}
    t.check("... the map's dot is labelled DOWN",
            "ap-south \u00b7 DOWN" in dot.get("label", ""), json.dumps(dot))
    t.check("... the page's title counts it ('1 down')",
            page.eval("document.title").startswith("1 down"), page.eval("document.title"))


def own_host_only(t, page, hport, loaded_at):
    origin = "http://127.0.0.1:%d/" % hport
    urls = [e["params"]["request"]["url"] for e in page.events("Network.requestWillBeSent")]
    t.check("every request of the page went to its own host (%d requests)" % len(urls),
            urls and all(u.startswith(origin) or u.startswith("data:") for u in urls),
            *sorted(set(urls)))
    perf = page.eval("performance.getEntriesByType('resource').map(e => e.name)")
    t.check("... and so says the Performance API (%d resources)" % len(perf),
            perf and all(u.startswith(origin) for u in perf), *sorted(set(perf)))
    api = [u for u in urls if u == origin + "api/v1/status"]
    elapsed = time.monotonic() - loaded_at
    t.check("it polled /api/v1/status every %d s, not faster: %d requests in %.1f s"
            % (REFRESH_S, len(api), elapsed),
            elapsed / REFRESH_S - 1 <= len(api) <= elapsed / REFRESH_S + 2, *urls[-10:])


def screenshot(t, page):
    png = page.screenshot(ARTIFACT)
    ok = png[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", png[16:24]) if ok else (0, 0)
    t.check("a screenshot of the page: %s (%d x %d, %d bytes)"
            % (ARTIFACT.relative_to(g.ROOT), w, h, len(png)),
            ok and w == 1400 and h > 800 and len(png) > 20000)


def stale(t, page, srv):
    t.eq("gslbd stops with status 0", 0, srv.stop())
    since = time.monotonic()
    w = within_refresh(page, "document.getElementById('stale').dataset.stale === 'true'", since)
    text = page.eval("document.getElementById('stale').innerText")
    t.check("with gslbd gone, the page says within one refresh that what it shows is stale "
            "(%.1f s)" % w.seconds, w and text.startswith("STALE") and "failed" in text, text)


def main(t):
    if not os.access(CHROMIUM, os.X_OK):
        t.skip("the status page in headless Chromium",
               "%s is not installed (Debian package chromium: make deps)" % CHROMIUM)
        return
    backends = [g.Backend(t, "http-%d" % i) for i in range(1, 5)]
    for b in backends:
        if not t.start(b):
            t.bail("%s starts" % b.name, *b.why)
    ports = {"p%d" % (i + 1): b.port for i, b in enumerate(backends)}
    zdir = t.path("zones")
    t.write("zones/page.test.yaml", ZONE.format(**ports))
    t.write("zones/other.test.yaml", OTHER)
    ctl_path = t.path("ctl.sock")
    hport = g.free_port()
    srv = g.Gslbd(t, "gslbd", zones=zdir, args=["--threads", 1, "--control", ctl_path,
                                                "--http", "127.0.0.1:%d" % hport])
    if not t.start(srv):
        t.bail("gslbd starts with --http and --control", *srv.why)
    hd = g.Healthd(t, "healthd", zones=zdir, gslbd=[ctl_path])
    if not t.start(hd):
        t.bail("healthd starts", *hd.why)
    ctl = g.Gslbctl(t, ctl_path)
    w = g.until(lambda: [m["state"] for m in members_json(status_json(ctl)).values()]
                == ["up"] * 4, 10, every=0.2)
    t.check("healthd's reports make all 4 members up", w, json.dumps(status_json(ctl))[:2000])
    for what, ecs, n in (("London", LONDON, 30), ("the United States", US, 20),
                         ("Singapore", SINGAPORE, 10)):
        r = srv.load("www.page.test", "A", "udp4", ecs=ecs, count=n, parallel=2, deadline=20,
                     timeout=2, expect=None)
        t.check("%d queries for www.page.test from %s: all answered" % (n, what), r.clean(n),
                *r.details())
    served(t, hport)

    browser = Browser(t)
    if not browser.start():
        t.bail("Chromium starts and answers on the DevTools pipe", *browser.why)
    t.ok("Chromium starts and answers on the DevTools pipe (%s)" % browser.version)
    page = Page(browser)
    loaded_at = time.monotonic()
    if not first_render(t, page, srv, ctl, hport):
        t.bail("the page rendered: the rest needs it")
    drained(t, page, ctl)
    health_failed(t, page, ctl, backends[3])
    own_host_only(t, page, hport, loaded_at)
    t.eq("no script error, console error or refused request in all that", [], page.errors())
    screenshot(t, page)
    stale(t, page, srv)
    browser.stop()
    t.eq("healthd stops with status 0", 0, hd.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
