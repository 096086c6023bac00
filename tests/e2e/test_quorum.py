#!/usr/bin/env python3
"""test_quorum.py: a member's state decided by a quorum of vantages (issue 15 part 2).

Three healthd (vantages v1, v2, v3) report to one gslbd over the network channel
(--control-listen, per-vantage keys). Two regions in failover order, eu then us, each one
member probed on a gslbtest Backend. v1 is given a copy of the zone whose eu member is
probed on a port nobody listens on: a vantage whose path to eu is cut, as a broken route
would. gslbd serves the real zone. Asserted through DNS answers, gslbctl status (text
and JSON), explain, metrics and the log:

- one dissenting vote of three changes nothing: eu stays up, answered with the full TTL,
  and the status shows v1's down vote, counted, beside two up votes (quorum majority, 2);
- eu failing for real (503) moves www to us within interval x fall + 1 s; explain says
  eu's member is down by 3 of 3 voting vantages;
- v2 frozen past stale_after: its vote stops counting, v1 (down) and v3 (up) tie, so eu's
  member is held up, and answers carry min_ttl while held;
- a reload to quorum: 2, then v3 frozen too: v1 alone cannot take eu down (held up);
- both thawed: v2 and v3 re-sync and decide up by 2 of 3, the full TTL again;
- the status page (headless Chromium, when installed) shows each vote, v1's dissent, the
  hold, and every vantage in its sources table.

Not here: the votes' arithmetic in detail (tests/unit/test_quorum.c), canaries
(test_canary.py), separate hosts (test_vantages.py). Traffic goes to loopback only;
every wait is bounded.
"""

import json
import os
import re
import signal

import gslbtest as g
from gslbtest import prom
from gslbtest.devtools import open_page

ZONE = """\
zone: qv.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
regions:
  eu: {{location: [51.5, 0], pool: [{{address: 192.0.2.1, probe: "127.0.0.1:{peu}"}}], check: web}}
  us: {{location: [40, -74], pool: [{{address: 192.0.2.2, probe: "127.0.0.1:{pus}"}}], check: web}}
checks:
  web: {{type: http, path: /health, interval: 300ms, timeout: 200ms, rise: 1, fall: 2,
         stale_after: 1s{quorum}}}
services:
  www: {{regions: [eu, us], policy: failover, ttl: 30, min_ttl: 5}}
"""

EU, US = "192.0.2.1", "192.0.2.2"
FAIL_LIMIT_S = 0.3 * 2 + 1


def answer(srv):
    """(first address, TTL) of www.qv.test A, (None, None) without one."""
    r = srv.query("www.qv.test", "A", timeout=2)
    rrs = r.section("answer") if r.parsed else []
    return (rrs[0][2].to_text(), rrs[0][1]) if rrs else (None, None)


def eu_member(gslbctl):
    """eu's member in gslbctl status --json, or {} when absent."""
    r = gslbctl.run("status", "--json")
    try:
        doc = json.loads(r.out)
    except ValueError:
        return {}
    for z in doc.get("zones", []):
        for reg in z.get("regions", []):
            if reg["name"] == "eu":
                return reg["members"][0]
    return {}


def votes_of(member):
    """{vantage: (vote, counted)} of a status member."""
    return {v["vantage"]: (v["vote"], v["counted"]) for v in member.get("votes") or []}


def wait_member(gslbctl, test, seconds):
    """Poll status --json until test(member) holds: (Waited, last member seen)."""
    seen = [{}]

    def probe():
        seen[0] = eu_member(gslbctl)
        return test(seen[0])

    return g.until(probe, seconds, every=0.1), seen[0]


def page_votes(t, page, hport, name):
    """Load the status page; eu's member row: [held, [[vantage, vote, counted], ...], the
    quorum line], and the vantages its sources table lists."""
    page.navigate("http://127.0.0.1:%d/status" % hport)
    if not page.wait("document.body && document.body.dataset.loaded === 'true'", 15):
        t.not_ok("%s: the status page renders" % name)
        return None, []
    row = page.eval("(() => { const r = document.querySelector('[data-region=\"eu\"] "
                    "tr[data-member]'); if (!r) return null; return [r.dataset.held, "
                    "[...r.querySelectorAll('[data-vantage]')].map(e => [e.dataset.vantage, "
                    "e.dataset.vote, e.dataset.counted]), "
                    "(r.querySelector('td.votes div') || {}).textContent || '']; })()")
    sources = page.eval("[...document.querySelectorAll('tr[data-source]')]"
                        ".map(e => e.dataset.source)")
    return row, sources


def main(t):
    gslbd = g.Gslbd(t, "gslbd")
    if "--control-listen" not in gslbd.run("--help").out:
        t.skip("a quorum of vantages", "bin/gslbd has no --control-listen")
        return
    peu, pus = g.Backend(t, "http-eu"), g.Backend(t, "http-us")
    for b in (peu, pus):
        if not t.start(b):
            t.bail("%s starts" % b.name, *b.why)
    cut = g.free_port()  # nobody listens here: v1's path to eu is cut
    zone = t.write("qv.test.yaml", ZONE.format(peu=peu.port, pus=pus.port, quorum=""))
    zone_v1 = t.write("v1/qv.test.yaml", ZONE.format(peu=cut, pus=pus.port, quorum=""))
    ctl = t.path("ctl.sock")
    gslbctl = g.Gslbctl(t, ctl)
    lines = [gslbctl.run("keygen", v).out.strip() for v in ("v1", "v2", "v3")]
    t.check("gslbctl keygen writes a key line for each vantage",
            all(re.match(r"^v\d hmac-sha256 \S{44}$", x) for x in lines), *lines)
    keys = t.write("keys", "\n".join(lines) + "\n")
    os.chmod(keys, 0o600)

    port, hport = g.free_port(), g.free_port()
    srv = g.Gslbd(t, "gslbd", zones=zone, addresses=("127.0.0.1",),
                  args=["--threads", 1, "--control", ctl, "--http", "127.0.0.1:%d" % hport,
                        "--control-listen", "127.0.0.1:%d" % port, "--control-keys", keys])
    if not t.start(srv):
        t.bail("gslbd starts with --control-listen", *srv.why)
    hd = {}
    for v in ("v1", "v2", "v3"):
        hd[v] = g.Healthd(t, "healthd-" + v, zones=zone_v1 if v == "v1" else zone,
                          gslbd=["127.0.0.1:%d" % port], args=["--vantage", v, "--key", keys])
        if not t.start(hd[v]):
            t.bail("healthd %s starts" % v, *hd[v].why)

    # 1. One dissenting vote of three.
    w, m = wait_member(gslbctl, lambda m: votes_of(m) == {
        "v1": ("down", True), "v2": ("up", True), "v3": ("up", True)}, 5)
    t.check("every vantage's vote on eu's member is in the status: v1 down, v2 and v3 up, "
            "all counted", w, json.dumps(m.get("votes")))
    q = m.get("quorum") or {}
    t.eq("... decided up by 2 of 3 (majority: 2 needed), not held",
         ("up", "majority", 2, 3, 2, 1, False),
         (m.get("health"), q.get("rule"), q.get("need"), q.get("voting"), q.get("up"),
          q.get("down"), q.get("held")))
    t.eq("a single dissenting vantage does not move eu's clients: eu with the full TTL",
         (EU, 30), answer(srv))
    text = gslbctl.run("status").out
    line = re.search(r"(?m)^\s+member 192\.0\.2\.1 .*\n\s+(votes: .*)$", text)
    line = line.group(1) if line else ""
    t.check("the text status shows each vote under eu's member, v1's dissent with its reason, "
            "and the quorum", all(x in line for x in (
                "v1 DOWN (", "v2 up", "v3 up", "; 2 of 3 voting vantages say up (majority, 2)")),
            text)
    browser, page = open_page(t, "the status page shows the votes")
    if page is not None:
        row, sources = page_votes(t, page, hport, "one dissent")
        t.eq("the status page: eu's member row lists every vote, counted, not held",
             ["false", [["v1", "down", "true"], ["v2", "up", "true"], ["v3", "up", "true"]]],
             row and [row[0], sorted(row[1])])
        t.like("... with the quorum line", r"2 of 3 voting vantages say up", row and row[2] or "")
        t.eq("... and its sources table lists the three vantages", ["v1", "v2", "v3"],
             sorted(sources or []))
    scrape = prom.scrape(hport)
    t.eq("metrics: gslb_member_votes counts 2 up, 1 down, 0 abstaining",
         (2, 1, 0), tuple(prom.one(scrape, "gslb_member_votes", region="eu", vote=v)
                          for v in ("up", "down", "abstain")))

    # 2. eu fails for real.
    peu.set("503")
    w = g.until(lambda: answer(srv)[0] == US, FAIL_LIMIT_S * 2, every=0.05)
    t.check("eu failing for real moves www to us within interval x fall + 1 s (%s)"
            % ("%d ms" % w.ms if w else "never"), w and w.ms <= FAIL_LIMIT_S * 1000,
            "www answered %s" % (answer(srv),))
    w, m = wait_member(gslbctl, lambda m: (m.get("quorum") or {}).get("down") == 3, 3)
    t.check("... every vantage now votes down", w, json.dumps(m.get("votes")))
    t.like("explain: eu skipped, its member down by 3 of 3 voting vantages",
           r"eu .*skipped: down \(0/1 members up, min_up 1; 192\.0\.2\.1 down by 3 of 3 "
           r"voting vantages\)", gslbctl.run("explain", "81.2.69.0/24", "www.qv.test").out)
    peu.set("200")
    t.check("eu healthy again: www back on eu",
            g.until(lambda: answer(srv) == (EU, 30), 3, every=0.1), str(answer(srv)))

    # 3. v2 frozen past stale_after: v1 down against v3 up, a tie.
    mark = srv.mark()
    hd["v2"].signal(signal.SIGSTOP)
    w, m = wait_member(gslbctl, lambda m: votes_of(m).get("v2") == ("up", False), 4)
    t.check("v2 frozen: its vote stops counting after stale_after", w,
            json.dumps(m.get("votes")))
    why = [v.get("why") for v in m.get("votes") or [] if v["vantage"] == "v2"]
    t.like("... and the status says why", r"^stale: no word from v2", (why or [""])[0] or "")
    q = m.get("quorum") or {}
    t.eq("v1 down and v3 up tie: eu's member is held up, and the status says so",
         ("up", True, 2, 1, 1), (m.get("health"), q.get("held"), q.get("voting"), q.get("up"),
                                 q.get("down")))
    t.like("... why: no side has the 2 votes needed", r"^held up: 1 up, 1 down of 2 voting",
           q.get("why") or "")
    t.check("gslbd logs the hold", srv.wait_log(
        r"qv\.test eu 192\.0\.2\.1: no quorum .* keeping it up", 2, since=mark),
        *srv.log().splitlines()[-5:])
    t.eq("while held, eu still answers, with min_ttl", (EU, 5), answer(srv))
    t.eq("metrics: the member is held, one vantage abstains",
         (1, 1), (prom.one(prom.scrape(hport), "gslb_member_held", region="eu"),
                  prom.one(prom.scrape(hport), "gslb_member_votes", region="eu",
                           vote="abstain")))

    if page is not None:
        row, _ = page_votes(t, page, hport, "held")
        t.eq("the status page: eu's member row is held, v2's vote not counted",
             ["true", ["v2", "up", "false"]],
             row and [row[0], [v for v in row[1] if v[0] == "v2"][0]])
        t.like("... and says why it is held", r"held up: 1 up, 1 down of 2 voting",
               row and row[2] or "")
        t.eq("no script error on the status page", [], page.errors())
        browser.stop()

    # 4. quorum: 2, then v3 frozen too: v1's down vote alone is not enough.
    t.write("qv.test.yaml", ZONE.format(peu=peu.port, pus=pus.port, quorum=", quorum: 2"))
    r = gslbctl.run("reload")
    t.eq("gslbctl reload takes quorum: 2", 0, r.status)
    hd["v3"].signal(signal.SIGSTOP)
    w, m = wait_member(gslbctl, lambda m: (votes_of(m).get("v3") == ("up", False) and
                                           (m.get("quorum") or {}).get("rule") == "2"), 4)
    t.check("v3 frozen too: only v1 votes", w, json.dumps(m))
    q = m.get("quorum") or {}
    t.eq("with quorum 2, v1's down vote alone cannot take eu down: held up",
         ("up", True, 1, 0, 1, 2), (m.get("health"), q.get("held"), q.get("voting"),
                                    q.get("up"), q.get("down"), q.get("need")))
    t.eq("... eu answered, with min_ttl", (EU, 5), answer(srv))

    # 5. Thawed: v2 and v3 re-sync and decide again.
    hd["v2"].signal(signal.SIGCONT)
    hd["v3"].signal(signal.SIGCONT)
    w, m = wait_member(gslbctl, lambda m: not (m.get("quorum") or {}).get("held", True), 3)
    t.check("v2 and v3 thawed: eu's member is decided again (%s)"
            % ("%d ms" % w.ms if w else "never"), w, json.dumps(m.get("quorum")))
    q = m.get("quorum") or {}
    t.eq("... up by 2 of 3 voting, quorum 2", ("up", 3, 2, 1), (m.get("health"),
         q.get("voting"), q.get("up"), q.get("down")))
    t.check("... and answers carry the full TTL again",
            g.until(lambda: answer(srv) == (EU, 30), 2, every=0.1), str(answer(srv)))
    for v in ("v1", "v2", "v3"):
        t.eq("healthd %s stops with status 0" % v, 0, hd[v].stop())
    t.eq("gslbd stops with status 0", 0, srv.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
