#!/usr/bin/env python3
"""status-screenshot.py [--seconds N] [OUTPUT]: the README's picture of the status page
(default OUTPUT: docs/status-page.png), taken from a real gslbd after a few minutes'
worth of story.

The status page (/status of gslbd --http) draws each service's share over time from the
status JSON's `history`, one point per 10 s step: a page loaded seconds after gslbd
started (as tests/e2e/test_statuspage.py does) has one point to draw. This script gives
it about N seconds (default 100) of traffic and two events:

- on 127.0.0.1: one HTTP backend per region (the e2e harness's Backend), gslbd serving a
  zone like the README's example (us-east, us-west, eu-west and ap-south at their
  locations, `www` nearest over the four, `api` weighted over us-east and eu-west) with --control
  and --http, and healthd probing the backends and reporting to gslbd;
- a steady trickle of A queries (about 35 a second, bounded in count and time) with EDNS
  Client Subnet from London (81.2.69.0/24), Virginia (3.80.0.0/16), Mountain View
  (8.8.8.0/24: us-west, by the city-level world database) and Singapore (165.21.83.0/24),
  so www's answers split between the four regions;
- at 40% of the time, `gslbctl drain eu-west`: London's share moves to us-east;
- at 70%, ap-south's backend answers its health check 503: healthd reports the member
  down and Singapore's share moves too;
- at the end, headless Chromium (gslbtest/devtools.py, as the test drives it, 1400
  pixels wide) loads /status, waits for one refresh and saves a full-page screenshot.

It prints where it saved the picture. Every process it starts is stopped when it ends,
whatever happens (the harness's Test); its temporary directory goes with them
(E2E_KEEP=1 keeps it). Needs `make all` first, dnspython and chromium (`make deps`).
Traffic goes to loopback only.

It takes N seconds plus about 15 (start-up, the page's refresh, the browser).
"""

import argparse
import json
import random
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))

import gslbtest as g  # noqa: E402  pylint: disable=wrong-import-position
from gslbtest.devtools import CHROMIUM, Browser, Page  # noqa: E402

import dns.exception  # noqa: E402  (dnspython, which gslbtest needs too)
import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

ZONE = """\
zone: gslb.example.com
soa: {{mname: ns1.gslb.example.com, rname: hostmaster.example.com}}
ns: [ns1.gslb.example.com]
records:
  ns1: {{A: 198.51.100.53}}
regions:
  us-east:  {{location: [39.04, -77.49], pool: [{{address: 192.0.2.10, probe: "127.0.0.1:{us}"}},
             {{address: "2001:db8:10::10", probe: "127.0.0.1:{us}"}}], check: web}}
  us-west:  {{location: [45.84, -119.70], pool: [{{address: 192.0.2.20, probe: "127.0.0.1:{uw}"}},
             {{address: "2001:db8:30::10", probe: "127.0.0.1:{uw}"}}], check: web}}
  eu-west:  {{location: [53.35, -6.26], pool: [{{address: 198.51.100.10, probe: "127.0.0.1:{eu}"}},
             {{address: "2001:db8:20::10", probe: "127.0.0.1:{eu}"}}], check: web}}
  ap-south: {{location: [1.29, 103.85], pool: [{{address: 203.0.113.10, probe: "127.0.0.1:{ap}"}}],
             check: web}}
checks:
  web: {{type: http, path: /health, expect: 200, interval: 1s, timeout: 500ms, rise: 2, fall: 2}}
services:
  www: {{regions: [us-east, us-west, eu-west, ap-south], policy: nearest, ttl: 30}}
  api: {{regions: [us-east, eu-west], policy: weighted, ttl: 30}}
"""

# Who asks what, and how many times a second on average: (client, subnet, name, rate).
CLIENTS = [
    ("London", "81.2.69.0/24", "www", 12),
    ("Virginia", "3.80.0.0/16", "www", 6),
    ("Mountain View", "8.8.8.0/24", "www", 4),
    ("Singapore", "165.21.83.0/24", "www", 6),
    ("London", "81.2.69.0/24", "api", 4),
    ("Virginia", "3.80.0.0/16", "api", 4),
]
TICK_S = 0.5         # the trickle is sent in bursts this far apart
DRAIN_AT = 0.4       # of the time: gslbctl drain eu-west
FAIL_AT = 0.7        # of the time: ap-south's backend fails its check
BROWSER_BEFORE = 12  # seconds before the end: Chromium starts and loads the page
WIDTH = 1400


class Trickle:
    """The queries, from a thread of their own: every TICK_S, each client's rate times
    TICK_S queries (give or take a quarter, so the shares wiggle as real ones do), one at
    a time over UDP. Bounded: it stops when told, at `limit` seconds, or after
    `max_queries`; a lost query costs at most its 1 s timeout."""

    def __init__(self, srv, limit, seed=12):
        self.srv = srv
        self.limit = limit
        self.max_queries = int(limit * sum(c[3] for c in CLIENTS) * 1.5) + 100
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        self.sent = self.answered = self.wrong = 0
        self.answers = {}  # (client, name) -> {answer: count}
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.started = time.monotonic()
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join(TICK_S + 5)

    def _one(self, client, ecs, name):
        q = g.make_query("%s.gslb.example.com" % name, "A", ecs=ecs)
        wire = g.udp_exchange("127.0.0.1", self.srv.port, q.to_wire(), 1.0, q.id)
        self.sent += 1
        if wire is None:
            return
        self.answered += 1
        try:
            msg = dns.message.from_wire(wire)
        except (dns.exception.DNSException, ValueError) as e:
            self.wrong += 1
            self.errors.append("unparseable answer: %s" % e)
            return
        rdata = sorted(rd.to_text() for rrset in msg.answer for rd in rrset)
        if msg.rcode() != dns.rcode.NOERROR or not rdata:
            self.wrong += 1
        got = " ".join(rdata) or dns.rcode.to_text(msg.rcode())
        counts = self.answers.setdefault((client, name), {})
        counts[got] = counts.get(got, 0) + 1

    def _run(self):
        end = self.started + self.limit
        tick = self.started
        while not self.stopping.is_set() and time.monotonic() < end \
                and self.sent < self.max_queries:
            burst = []
            for client, ecs, name, rate in CLIENTS:
                n = int(rate * TICK_S * self.rng.uniform(0.75, 1.25) + self.rng.random())
                burst += [(client, ecs, name)] * n
            self.rng.shuffle(burst)
            for item in burst:
                self._one(*item)
            tick += TICK_S
            self.stopping.wait(max(0.0, tick - time.monotonic()))

    def summary(self):
        lines = ["%d queries sent in %.0f s, %d answered, %d not NOERROR with an answer"
                 % (self.sent, time.monotonic() - self.started, self.answered, self.wrong)]
        for (client, name), counts in sorted(self.answers.items()):
            lines.append("  %s from %s: %s" % (name, client, ", ".join(
                "%s x%d" % (a, n)
                for a, n in sorted(counts.items(), key=lambda x: -x[1]))))
        return lines + self.errors[:5]


def member_states(ctl):
    """The state of every member gslbd has, as `gslbctl status --json` says."""
    try:
        doc = json.loads(ctl.run("status", "--json").out)
    except ValueError:
        return []
    return [m["state"] for z in doc.get("zones", []) for r in z.get("regions", [])
            for m in r.get("members", [])]


def start_all(t):
    """Backends, gslbd and healthd, all members up: (gslbd, gslbctl, http port, backends)."""
    backends = {r: g.Backend(t, "backend-" + r) for r in ("us", "uw", "eu", "ap")}
    for b in backends.values():
        t.start(b, "%s serves on 127.0.0.1:%d" % (b.name, b.port), bail=True)
    t.write("zones/gslb.example.com.yaml",
            ZONE.format(**{r: b.port for r, b in backends.items()}))
    ctl_path = t.path("gslbd.sock")
    hport = g.free_port()
    # Run from the temporary directory with a relative --zones, so that the page's zone
    # table reads "zones/gslb.example.com.yaml" rather than a random /tmp path.
    srv = g.Gslbd(t, "gslbd", zones="zones",
                  args=["--threads", 1, "--control", ctl_path, "--http",
                        "127.0.0.1:%d" % hport])
    srv.cwd = t.tmp
    t.start(srv, "gslbd serves DNS on 127.0.0.1:%d, the page on http://127.0.0.1:%d/status"
            % (srv.port, hport), bail=True)
    hd = g.Healthd(t, "healthd", zones=t.path("zones"), gslbd=[ctl_path])
    t.start(hd, "healthd probes the backends and reports to gslbd", bail=True)
    ctl = g.Gslbctl(t, ctl_path)

    w = g.until(lambda: member_states(ctl) == ["up"] * 7, 15, every=0.25)
    if not w:
        t.bail("the 7 members are up", ctl.run("status").out)
    t.ok("the 7 members are up (%.1f s)" % w.seconds)
    return srv, ctl, hport, backends


def take(t, hport):
    """Chromium started, /status loaded and rendered: (browser, page)."""
    browser = Browser(t)
    if not browser.start():
        t.bail("Chromium starts", *browser.why)
    page = Page(browser, width=WIDTH)
    page.navigate("http://127.0.0.1:%d/status" % hport)
    if not page.wait("document.body && document.body.dataset.loaded === 'true'", 15):
        t.bail("the page renders", page.eval("document.body ? document.body.innerText : ''"))
    return browser, page


def wait_refresh(t, page):
    first = page.eval("document.getElementById('updated').dataset.updatedMs")
    w = page.wait("document.getElementById('updated').dataset.updatedMs !== '%s' && "
                  "document.getElementById('stale').dataset.stale === 'false'" % first, 12)
    if not w:
        t.bail("the page refreshes", page.eval("document.querySelector('header').innerText"))
    # Let the refreshed page lay itself out before it is captured.
    time.sleep(0.5)


def main(t, seconds, out):
    if not Path(CHROMIUM).exists():
        t.bail("%s is not installed (Debian package chromium: make deps)" % CHROMIUM)
    srv, ctl, hport, backends = start_all(t)
    trickle = Trickle(srv, seconds + 30)
    trickle.start()
    t0 = trickle.started
    t.diag("%d s of queries from London, the United States and Singapore" % seconds)

    def at(offset):
        left = t0 + offset - time.monotonic()
        if left > 0:
            time.sleep(left)
    at(seconds * DRAIN_AT)
    r = ctl.run("drain", "eu-west")
    t.check("%.0f s: gslbctl drain eu-west" % (time.monotonic() - t0), r.status == 0, r.out)
    at(seconds * FAIL_AT)
    backends["ap"].set("503")
    w = g.until(lambda: "down" in member_states(ctl), 10, every=0.25)
    t.check("%.0f s: ap-south's backend answers 503; its member is down %.1f s later"
            % (time.monotonic() - t0 - w.seconds, w.seconds), w, ctl.run("status").out)
    at(seconds - BROWSER_BEFORE)
    browser, page = take(t, hport)
    t.ok("%.0f s: Chromium shows the page" % (time.monotonic() - t0))
    at(seconds)
    wait_refresh(t, page)
    points = page.eval("[...document.querySelectorAll('svg.spark')]"
                       ".map(s => +s.dataset.points)")
    png = page.screenshot(t.path("status-page.png"))
    t.check("%.0f s: the page refreshed; captured (%d bytes); share-over-time points per "
            "chart: %s" % (time.monotonic() - t0, len(png), points),
            png[:4] == b"\x89PNG" and points and min(points) >= 2)
    errors = page.errors()
    t.check("no script error, console error or refused request on the page", not errors,
            *errors)
    trickle.stop()
    t.check("the queries were all answered", trickle.answered == trickle.sent
            and not trickle.wrong, *trickle.summary())
    t.diag(*trickle.summary())
    browser.stop()
    if t.failed:
        print("not saved: %d of the steps above failed; %s is as it was" % (t.failed, out),
              flush=True)
        return
    # Written whole or not at all: a half-written picture is never left at OUTPUT.
    part = out.with_name(out.name + ".part")
    part.write_bytes(png)
    part.replace(out)
    print("saved %s (%d x %d)" % (out, WIDTH, struct.unpack(">I", png[20:24])[0]), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=100,
                    help="how long the story runs (30..600, default 100)")
    ap.add_argument("output", nargs="?", default=str(g.ROOT / "docs" / "status-page.png"))
    args = ap.parse_args()
    if not 30 <= args.seconds <= 600:
        ap.error("--seconds must be 30..600")
    output = Path(args.output).resolve()
    with g.Test("status-screenshot") as test:
        main(test, args.seconds, output)
