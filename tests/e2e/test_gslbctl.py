#!/usr/bin/env python3
"""test_gslbctl.py: every gslbctl command against a running gslbd and healthd, and that
what it prints is so.

gslbd serves two zone files (gctl.test with three checked regions, one unchecked region
and three services; other.test, static) and healthd probes real HTTP backends on
loopback. Asserted:

- --version: gslbctl, gslbd and healthd print the one version of the VERSION file;
  --help names every command; bad command lines exit 2, an unreachable gslbd 1;
- status before healthd: members never reported are shown unknown, not up, in the text
  and in the JSON (parsed here), and so are their regions; an unchecked region is up
  for want of a check; then, with healthd, up with their last report, its age and the
  healthd heard; a failing backend is down with its reason;
- a drained region is shown drained (text and JSON, effective weight 0), and the live
  `gslbctl explain` for a London client names the drain and answers what dig gets
  (us-east); gslbd --explain says it ignores live health; a weighted service's explain
  does not claim the database cannot place the client;
- shares: a bounded batch of queries over UDP and TCP, IPv4 and IPv6, with ECS from three
  places, counted per region exactly, shares adding up to 100%, in text and JSON;
- reload: a good edit exits 0 and prints the new serial of each zone, the one dig then
  gets; a broken edit exits 1, prints file:line:column and that the old serial keeps
  serving, which dig confirms, and gslbd's log says so without a "reloaded:" line; the
  status shows the failed reload with its error; reloads asked for at once all get
  their answer;
- an override that cannot be saved is an error (exit 1, "not saved"), yet in force;
- who may do what (as root): a peer outside gslbd's user and group may read the status
  and explain, not reload.

Not here: the control protocol's bytes (tests/unit/test_ctl.c), healthd's probing
(test_healthd.py), failover timing (test_failover.py). Loopback and Unix sockets only;
every wait is bounded.
"""

import json
import os
import pwd
import re
import socket
import threading

import gslbtest as g

ZONE = """\
zone: gctl.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
records:
  ns2: {{A: {ns2}}}
regions:
  eu-west:  {{location: [53.35, -6.26], pool: [{{address: 198.51.100.10, probe: "127.0.0.1:{p1}"}},
                                              {{address: 198.51.100.11, probe: "127.0.0.1:{p2}"}}],
             check: web}}
  us-east:  {{location: [39.04, -77.49], pool: [{{address: 192.0.2.10, probe: "127.0.0.1:{p3}"}}],
             check: web}}
  ap-south: {{location: [1.29, 103.85], pool: [{{address: 203.0.113.10, probe: "[::1]:{p4}"}},
                                             {{address: "2001:db8:30::10", probe: "127.0.0.1:{p4}"}}],
             check: web}}
  lab:      {{location: [50, 10], pool: [192.0.2.99]}}
checks:
  web: {{type: http, path: /health, interval: 300ms, timeout: 250ms, rise: 1, fall: 1}}
services:
  www:    {{regions: [eu-west, us-east, ap-south], ttl: 30}}
  shares: {{regions: [eu-west, us-east, ap-south], ttl: 30}}
  lb:     {{regions: [eu-west, us-east], policy: weighted}}
  lab:    {{regions: [lab]}}
"""

OTHER = """\
zone: other.test
soa: {mname: ns1.example.net, rname: hostmaster.example.net}
ns: [ns1.example.net]
records:
  www: {A: 192.0.2.77}
"""

LONDON, SINGAPORE, US = "81.2.69.0/24", "165.21.83.0/24", "3.80.0.0/16"
EU, EU2, US1, AP1 = "198.51.100.10 198.51.100.11", "198.51.100.11", "192.0.2.10", "203.0.113.10"


def status_json(ctl):
    """gslbctl status --json, parsed: (exit status, the document or None, the output)."""
    r = ctl.run("status", "--json")
    try:
        return r.status, json.loads(r.out), r.out
    except ValueError:
        return r.status, None, r.out


def zone_of(doc, name):
    return next((z for z in (doc or {}).get("zones", []) if z["name"] == name), None)


def region_of(doc, name, zone="gctl.test"):
    z = zone_of(doc, zone)
    return next((r for r in z["regions"] if r["name"] == name), None) if z else None


def service_of(doc, name, zone="gctl.test"):
    z = zone_of(doc, zone)
    return next((s for s in z["services"] if s["name"] == name), None) if z else None


def all_members(doc, zone="gctl.test", checked_only=True):
    z = zone_of(doc, zone) or {"regions": []}
    return [m for r in z["regions"] if r["checked"] or not checked_only for m in r["members"]]


def answer(srv, name, ecs=None, transport="udp4", qtype="A"):
    """The answer's addresses, sorted, as one string ("" without one)."""
    r = srv.query(name, qtype, transport=transport, ecs=ecs)
    return " ".join(sorted(rd.to_text() for _, _, rd in r.section("answer"))) if r.parsed else ""


def serial_now(srv, zone):
    for _, _, rd in srv.query(zone, "SOA").section("answer"):
        return rd.serial
    return None


# ------------------------------------------------------------------ command line


def command_line(t, ctl, srv, hd):
    version = (g.ROOT / "VERSION").read_text().strip()
    r = ctl.run("--version")
    t.eq("gslbctl --version: the VERSION file's version (exit 0)",
         (0, "gslbctl %s (control protocol 4)" % version), (r.status, r.out.strip()))
    r = srv.run("--version")
    t.like("gslbd --version: the same version", r"^gslbd %s \(" % re.escape(version), r.out)
    t.like("gslbd --version: the built-in world database it would load and whose data it holds",
           r"(?m)^built-in world database %s: .*(DB-IP|IPFire)"
           % re.escape(str(g.ROOT / "geo" / "world.mmdb")), r.out)
    r = hd.run("--version")
    t.like("healthd --version: the same version", r"^healthd %s \(" % re.escape(version), r.out)
    r = ctl.run("--help")
    t.check("gslbctl --help names every command and --json (exit 0)",
            r.status == 0 and all(re.search(r"(?m)^  %s\b" % c, r.out) for c in
                                  ("status", "explain", "reload", "drain", "down", "up", "auto"))
            and "--json" in r.out, r.out)
    for args in (["explain", "81.2.69.0/24"], ["reload", "now"], ["--json", "drain", "eu-west"],
                 ["status", "extra"], ["frobnicate"]):
        r = ctl.run(*args)
        t.eq("gslbctl %s: usage, exit 2" % " ".join(args), 2, r.status)
    r = g.Gslbctl(t, t.path("nowhere.sock")).run("status")
    t.check("gslbctl status with no gslbd there: exit 1, says it cannot connect",
            r.status == 1 and "cannot connect" in r.out, r.out)


# ------------------------------------------------------------------ status


def before_healthd(t, ctl):
    r = ctl.run("status")
    t.eq("gslbctl status exits 0", 0, r.status)
    t.like("status text: a member never reported is unknown, 'never reported'",
           r"(?m)^  member 198\.51\.100\.10 +unknown +never reported by a healthd", r.out)
    t.unlike("status text: no checked member is called up before any report",
             r"(?m)^  member (198\.51|192\.0\.2\.10|203\.0|2001).* up ", r.out)
    t.like("status text: a region of unreported members is unknown, '0 of 2 members up'",
           r"(?m)^region gctl\.test eu-west unknown: 0 of 2 members up \(2 unknown\)", r.out)
    t.like("status text: a region without a check is up for want of one",
           r"(?m)^region gctl\.test lab up: no health check", r.out)
    t.like("status text: each zone's serial and last reload",
           r"(?m)^zone other\.test serial [0-9]+, from .*other\.test\.yaml\n  last reload .* ago\): "
           r"loaded serial [0-9]+$", r.out)
    world = str(g.ROOT / "geo" / "world.mmdb")
    t.like("status text: the GeoIP database in use, its type, build time, networks and its "
           "description (which credits the data's sources)",
           r"(?m)^geoip %s: gslb-World-\w+, built \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, "
           r"[1-9][0-9]* networks; .*(DB-IP|IPFire)" % re.escape(world), r.out)
    status, doc, out = status_json(ctl)
    t.check("status --json exits 0 and parses as JSON (status_version 1)",
            status == 0 and doc is not None and doc.get("status_version") == 1, out[:2000])
    geoip = (doc or {}).get("geoip") or {}
    t.check("status JSON: geoip names the same database, with networks and description",
            geoip.get("path") == world and geoip.get("networks", 0) > 0
            and geoip.get("type", "").startswith("gslb-World-")
            and re.search(r"DB-IP|IPFire", geoip.get("description", "")), json.dumps(geoip))
    members = all_members(doc)
    t.eq("status JSON: all 5 checked members unknown, health unknown, never reported",
         [("unknown", "unknown", None)] * 5,
         [(m["state"], m["health"], m["reported_s"]) for m in members])
    t.eq("status JSON: their regions' state unknown, 0 known up",
         [("unknown", 0)] * 3,
         [(region_of(doc, n)["state"], region_of(doc, n)["members_known_up"])
          for n in ("eu-west", "us-east", "ap-south")])


def with_healthd(t, ctl, backends):
    def all_up():
        _, doc, _ = status_json(ctl)
        ms = all_members(doc)
        return doc if ms and all(m["state"] == "up" for m in ms) else None

    w = g.until(all_up, 10, every=0.2)
    t.check("status JSON: healthd's reports make all 5 checked members up (%s)"
            % ("%d ms" % w.ms if w else "never"), w, status_json(ctl)[2][-3000:])
    doc = w.value if w else status_json(ctl)[1]
    m = all_members(doc)[0] if doc else {}
    t.check("status JSON: a member's last report has its source, age and when healthd was heard",
            m.get("source") == "healthd" and isinstance(m.get("reported_s"), float)
            and isinstance(m.get("source_heard_s"), float) and m["source_heard_s"] < 3,
            json.dumps(m))
    t.eq("status JSON: the regions up, all members known up",
         [("up", 2), ("up", 1), ("up", 2)],
         [(region_of(doc, n)["state"], region_of(doc, n)["members_known_up"])
          for n in ("eu-west", "us-east", "ap-south")] if doc else None)
    r = ctl.run("status")
    t.like("status text: an up member says for how long and when healthd was heard",
           r"(?m)^  member 198\.51\.100\.10 +up +for [0-9.]+ (s|min).*, healthd heard [0-9.]+ s ago",
           r.out)

    backends[1].set("503")
    w = g.until(lambda: (region_of(status_json(ctl)[1], "eu-west") or {}).get(
        "members_known_up") == 1, 5, every=0.2)
    doc = status_json(ctl)[1]
    bad = next((m for m in region_of(doc, "eu-west")["members"]
                if m["address"] == EU2), {}) if doc else {}
    t.check("status JSON: a backend answering 503 makes its member down, reason 'status 503'",
            w and bad.get("state") == "down" and "503" in (bad.get("reason") or ""),
            json.dumps(bad))
    r = ctl.run("status")
    t.like("status text: the down member in capitals with its reason, the region still up "
           "(1 of 2 members up)",
           r"(?ms)^region gctl\.test eu-west up: 1 of 2 members up \(1 down\).*"
           r"^  member 198\.51\.100\.11 +DOWN +for .*503", r.out)
    backends[1].set("200")
    g.until(lambda: (region_of(status_json(ctl)[1], "eu-west") or {}).get(
        "members_known_up") == 2, 5, every=0.2)


# ------------------------------------------------------------------ drain and explain


def drain_and_explain(t, ctl, srv, zdir):
    r = ctl.run("drain", "eu-west")
    t.check("gslbctl drain eu-west: exit 0, done", r.status == 0 and "done" in r.out, r.out)
    r = ctl.run("status")
    t.like("status text: the drained region is DRAINED, answered as weight 0",
           r"(?m)^region gctl\.test eu-west DRAINED: drained by an operator: no new traffic; "
           r"health up: 2 of 2 members up.*; weight 100 \(answered as 0\)$", r.out)
    reg = region_of(status_json(ctl)[1], "eu-west") or {}
    t.eq("status JSON: drained, override drain, effective weight 0, weight 100",
         ("drained", "drain", 0, 100),
         (reg.get("state"), reg.get("override"), reg.get("effective_weight"), reg.get("weight")))

    r = ctl.run("explain", LONDON, "www.gctl.test")
    t.eq("gslbctl explain: exit 0", 0, r.status)
    t.like("explain is live", r"(?m)^health: +live", r.out)
    t.like("explain: eu-west skipped, drained by an operator",
           r"(?m)^ +1\. eu-west .*skipped: drained \(by an operator", r.out)
    t.like("explain: us-east chosen", r"(?m)^ +2\. us-east .*chosen$", r.out)
    said = " ".join(sorted(re.findall(r"(?m)^ +www\.gctl\.test\.\s+\d+\s+IN\s+A\s+(\S+)$",
                                      r.out)))
    got = answer(srv, "www.gctl.test", ecs=LONDON)
    t.eq("explain's answer is what a London query gets (%s)" % got, got, said)
    d = srv.dig("www.gctl.test", "A", "+short", "+subnet=" + LONDON)
    t.eq("... and what dig gets", (0, said), (d.exit, " ".join(sorted(d.out.split()))))

    x = srv.run("--zones", zdir, "--explain", LONDON, "www.gctl.test")
    t.check("gslbd --explain (offline) says it ignores live health and overrides",
            x.status == 0 and re.search(r"(?m)^health: +not used: offline, every member counts "
                                        r"as up and no override applies", x.out), x.out)
    r = ctl.run("explain", LONDON, "lb.gctl.test")
    t.check("explain of a weighted service: 'by weight', location not used, the share of "
            "networks of each eligible region, the network it hashed, and not 'cannot place "
            "the client'",
            r.status == 0 and "by weight" in r.out and "location is not used" in r.out
            and "share 100% of networks" in r.out and "cannot place" not in r.out
            and re.search(r"(?m)^hashed: +on [0-9.]+/24, with each eligible region's name",
                          r.out), r.out)
    r = ctl.run("explain", "192.0.2.1/33", "www.gctl.test")
    t.check("explain with a bad address: exit 1, gslbd says why",
            r.status == 1 and "not ADDRESS[/PREFIX]" in r.out, r.out)
    r = ctl.run("auto", "eu-west")
    t.eq("gslbctl auto eu-west: exit 0", 0, r.status)
    t.check("London is back on eu-west", g.until(
        lambda: answer(srv, "www.gctl.test", ecs=LONDON) == EU, 3), answer(
        srv, "www.gctl.test", ecs=LONDON))


def overruled(t, ctl, srv):
    """An override for every zone outlives "auto" in one zone: gslbctl says so."""
    r = ctl.run("down", "eu-west")
    t.eq("gslbctl down eu-west (every zone): exit 0", 0, r.status)
    r = ctl.run("--zone", "gctl.test", "auto", "eu-west")
    t.check("gslbctl --zone gctl.test auto eu-west: exit 1, the override for every zone "
            "still holds and gslbctl says so, not 'done'",
            r.status == 1 and "another override (down)" in r.out and "done" not in r.out, r.out)
    t.check("... and London is still not on eu-west", g.until(
        lambda: answer(srv, "www.gctl.test", ecs=LONDON) not in ("", EU), 2),
        answer(srv, "www.gctl.test", ecs=LONDON))
    r = ctl.run("auto", "eu-west")
    t.check("gslbctl auto eu-west (every zone): exit 0, done", r.status == 0 and "done" in r.out,
            r.out)
    t.check("London is back on eu-west", g.until(
        lambda: answer(srv, "www.gctl.test", ecs=LONDON) == EU, 3), answer(
        srv, "www.gctl.test", ecs=LONDON))
    r = ctl.run("--zone", "nosuch.test", "drain", "eu-west")
    t.check("gslbctl --zone nosuch.test drain eu-west: exit 1, the zone is what is missing",
            r.status == 1 and "no zone 'nosuch.test'" in r.out and "no region" not in r.out, r.out)
    r = ctl.run("--zone", "gctl.test.", "drain", "eu-west")
    t.check("--zone with the final dot, as zone files may write it: exit 0, done",
            r.status == 0 and "done in 1 zone" in r.out, r.out)
    r = ctl.run("--zone", "gctl.test.", "auto", "eu-west")
    t.check("... and auto the same way: exit 0", r.status == 0, r.out)
    r = ctl.run("explain", LONDON, "lb.gctl.test", "AAAA")
    t.check("explain AAAA of an IPv4-only service: NODATA because no region has IPv6, "
            "not 'answering as if all were up'",
            r.status == 0 and "no region has an address of this family" in r.out
            and "as if all were up" not in r.out, r.out)
    for _ in range(3):
        srv.query("lab.gctl.test", "AAAA")

    def lab_line():
        m = re.search(r"(?m)^service gctl\.test lab .*$", ctl.run("status").out)
        return m.group(0) if m and "no region" in m.group(0) else None
    line = g.until(lab_line, 8).value
    t.check("status: AAAA answers of an IPv4-only service count as 'no region (NODATA or "
            "SERVFAIL)', not 'all down'",
            line is not None and "no region (NODATA or SERVFAIL)" in line
            and "all down" not in line, line)
    t.eq("gslbctl down lab: exit 0", 0, ctl.run("down", "lab").status)
    m = re.search(r"(?m)^service gctl\.test lab .*$", ctl.run("status").out)
    t.check("status: a service with every region down says it is failing open",
            m is not None and " A FAILING OPEN (no region up: every region answers)" in m.group(0),
            m.group(0) if m else "no line for lab")
    svc = service_of(status_json(ctl)[1], "lab") or {}
    t.eq("status JSON: answering A failing_open, AAAA health (no region has IPv6)",
         {"A": "failing_open", "AAAA": "health"}, svc.get("answering"))
    t.eq("gslbctl auto lab: exit 0", 0, ctl.run("auto", "lab").status)
    m = re.search(r"(?m)^service gctl\.test lab .*$", ctl.run("status").out)
    t.check("... and says nothing of it once lab is up again",
            m is not None and "FAILING" not in m.group(0), m.group(0) if m else "no line")
    for cmd in (["status"], ["reload"], ["explain", LONDON, "www.gctl.test"]):
        r = ctl.run("--zone", "gctl.test", *cmd)
        t.check("gslbctl --zone with %s: exit 2, --zone does not apply" % cmd[0],
                r.status == 2 and "--zone applies to drain, down, up and auto" in r.out, r.out)


# ------------------------------------------------------------------ shares


def shares(t, ctl, srv):
    batches = (("London, UDP over IPv4", LONDON, "udp4", 60, [EU]),
               ("Singapore, TCP", SINGAPORE, "tcp4", 30, [AP1]),
               ("the United States, UDP over IPv6", US, "udp6", 30, [US1]))
    for what, ecs, tr, n, expect in batches:
        r = srv.load("shares.gctl.test", "A", tr, ecs=ecs, count=n, parallel=2, deadline=30,
                     timeout=2, expect=None)
        t.check("%d queries for shares.gctl.test from %s: all answered" % (n, what),
                r.clean(n) and set(r.tally) <= set(expect), *r.details())
    svc = service_of(status_json(ctl)[1], "shares") or {"regions": []}
    counts = {reg["name"]: reg["answers"] for reg in svc["regions"]}
    t.eq("status JSON: the service's answers counted per region exactly",
         (120, {"eu-west": 60, "ap-south": 30, "us-east": 30}, 0),
         (svc.get("answers"), counts, svc.get("no_region")))
    total = sum(reg["share"] or 0 for reg in svc["regions"])
    t.check("status JSON: shares 0.5, 0.25, 0.25, adding up to 1 (%.4f)" % total,
            abs(total - 1) < 0.001 and [reg["share"] for reg in svc["regions"]] == [0.5, 0.25, 0.25],
            json.dumps(svc))
    t.compare("status JSON: over a window of at most 60 s", svc.get("window_s") or 999, "<=", 60)
    r = ctl.run("status")
    m = re.search(r"(?m)^service gctl\.test shares \(nearest\): 120 answers in the last \d+ s: "
                  r"(.*)$", r.out)
    pct = [float(p) for p in re.findall(r"([0-9.]+)%", m.group(1))] if m else []
    t.check("status text: 120 answers, eu-west 50.0%%, us-east 25.0%%, ap-south 25.0%% "
            "(sum %.1f%%)" % sum(pct),
            m and "eu-west 50.0%, us-east 25.0%, ap-south 25.0%" in m.group(1)
            and abs(sum(pct) - 100) < 0.2, r.out)


# ------------------------------------------------------------------ reload


def reload_good(t, ctl, srv, zfile, ports):
    before = serial_now(srv, "gctl.test")
    zfile.write_text(ZONE.format(ns2="203.0.113.54", **ports))
    r = ctl.run("reload", timeout=30)
    m = re.search(r"(?m)^gctl\.test: loaded serial (\d+) \(was (\d+)\)$", r.out)
    t.check("gslbctl reload of a good edit: exit 0, 'reloaded:' for both files",
            r.status == 0 and "reloaded: 2 zone files loaded, 0 unchanged, 0 removed" in r.out,
            r.out)
    t.check("... prints the zone's new serial and the one it replaced",
            m and int(m.group(1)) > int(m.group(2)) and int(m.group(2)) == before, r.out)
    t.like("... and the other zone's line", r"(?m)^other\.test: loaded serial \d+ \(was \d+\)$",
           r.out)
    new = int(m.group(1)) if m else None
    t.eq("dig gets the serial gslbctl printed", new, serial_now(srv, "gctl.test"))
    t.eq("... and the edited record", "203.0.113.54", answer(srv, "ns2.gctl.test"))
    return new


def reload_broken(t, ctl, srv, zfile, ports, serial):
    text = ZONE.format(ns2="203.0.113.99", **ports) + "bogus: 1\n"
    line = text.count("\n")
    zfile.write_text(text)
    mark = srv.mark()
    r = ctl.run("reload", timeout=30)
    t.eq("gslbctl reload of a broken edit: exit 1", 1, r.status)
    t.like("... prints file:line:column: error",
           r"(?m)^%s:%d:1: error: unknown key 'bogus'" % (re.escape(str(zfile)), line), r.out)
    t.like("... and that the old serial keeps serving",
           r"(?m)^gctl\.test: NOT reloaded \(1 error\): serial %d keeps serving$" % serial, r.out)
    t.like("... says the reload is incomplete", r"gslbd says: reload incomplete: 1 zone file NOT "
           r"loaded", r.out)
    t.eq("dig still gets the old serial", serial, serial_now(srv, "gctl.test"))
    t.eq("... and the old record", "203.0.113.54", answer(srv, "ns2.gctl.test"))
    log = srv.log(mark)
    t.check("gslbd's log: the error, 'NOT reloaded ... keeps serving', 'reload incomplete', "
            "and no 'reloaded:' line",
            "error: unknown key 'bogus'" in log
            and "zone gctl.test: NOT reloaded (1 error): serial %d keeps serving" % serial in log
            and "reload incomplete" in log and "reloaded:" not in log, log)
    r = ctl.run("status")
    t.like("status text: the failed reload, its serial and its error",
           r"(?m)^zone gctl\.test serial %d, .*\n  last reload .*: FAILED, serial %d keeps "
           r"serving\n    .*:%d:1: error: unknown key 'bogus'" % (serial, serial, line), r.out)
    z = zone_of(status_json(ctl)[1], "gctl.test") or {}
    lr = z.get("last_reload") or {}
    t.check("status JSON: last_reload kept, the old serial, its error",
            lr.get("result") == "kept" and lr.get("serial") == serial == z.get("serial")
            and len(lr.get("errors", [])) == 1 and "bogus" in lr["errors"][0], json.dumps(lr))

    zfile.write_text(ZONE.format(ns2="203.0.113.55", **ports))
    r = ctl.run("reload", timeout=30)
    t.check("the file fixed: gslbctl reload exits 0 and it serves", r.status == 0 and answer(
        srv, "ns2.gctl.test") == "203.0.113.55", r.out)


def new_broken_file(t, ctl):
    bad = t.write("zones/broken.test.yaml", OTHER.replace("other.test", "broken.test") +
                  "bogus: 1\n")
    r = ctl.run("reload", timeout=30)
    t.check("a new zone file that does not load: gslbctl reload exits 1, says it is not served",
            r.status == 1 and re.search(r"(?m)^%s: NOT loaded \(1 error\): not served$"
                                        % re.escape(str(bad)), r.out), r.out)
    doc = status_json(ctl)[1] or {}
    files = [f["file"] for f in doc.get("unserved_files", [])]
    t.eq("status JSON: it is listed among the unserved files", [str(bad)], files)
    bad.unlink()
    r = ctl.run("reload", timeout=30)
    doc = status_json(ctl)[1] or {}
    t.check("removed again: reload exits 0, no unserved file left",
            r.status == 0 and doc.get("unserved_files") == [], r.out)


def reloads_at_once(t, ctl):
    results = [None] * 3

    def one(i):
        results[i] = ctl.run("reload", timeout=30)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(40)
    t.check("3 gslbctl reload at once: each gets its answer, exit 0, with the zone's serial",
            all(r is not None and r.status == 0 and re.search(r"(?m)^gctl\.test: loaded serial",
                                                               r.out) for r in results),
            *[r.out if r else "(no result)" for r in results])


def pipelined(t, ctl_path):
    """Requests sent together after a RELOAD on one connection: answered in order, the
    second RELOAD by a reload of its own (started while the first one's answer goes
    out)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(ctl_path))
    s.sendall(b"HELLO test 2\nRELOAD\nRELOAD\nSTATUS\nPING\n")
    data, lines = b"", []
    try:
        while sum(1 for x in lines if re.match(r"(OK|ERR)( |$)", x)) < 5:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            lines = data.decode(errors="replace").splitlines()
    except socket.timeout:
        pass
    s.close()
    finals = [(i, x) for i, x in enumerate(lines) if re.match(r"(OK|ERR)( |$)", x)]
    ok = len(finals) == 5 and finals[0][1] == "OK gslbd 4" and \
        finals[1][1].startswith("OK reloaded:") and finals[2][1].startswith("OK reloaded:") and \
        lines[finals[2][0] + 1].startswith("gslbd ") and finals[3][1] == "OK" and \
        finals[4][1] == "OK" and finals[4][0] == finals[3][0] + 1
    t.check("RELOAD, RELOAD, STATUS, PING sent at once: answered in that order, each reload "
            "with its own result", ok, *lines[-40:])


# ------------------------------------------------------------------ overrides, roles


def unsaved_override(t, zdir):
    ctl_path = t.path("unsaved.sock")
    srv = g.Gslbd(t, "gslbd-unsaved", zones=zdir, addresses=("127.0.0.1",),
                  args=["--threads", 1, "--control", ctl_path,
                        "--overrides", t.path("no-such-dir", "overrides")])
    if not t.start(srv):
        t.bail("gslbd starts with its overrides file in a missing directory", *srv.why)
    ctl = g.Gslbctl(t, ctl_path)
    r = ctl.run("drain", "us-east")
    t.check("a drain that cannot be saved: gslbctl exits 1 and says it is not saved",
            r.status == 1 and "not saved" in r.out, r.out)
    reg = region_of(status_json(ctl)[1], "us-east") or {}
    t.eq("... the drain is in force all the same (status: drained)", "drained", reg.get("state"))
    t.eq("gslbd stops with status 0", 0, srv.stop())


def roles(t, ctl_path):
    if os.geteuid() != 0:
        t.skip("a peer outside gslbd's user and group: status and explain, not reload",
               "needs root (to run gslbctl as another user)")
        return
    os.chmod(t.tmp, 0o755)
    os.chmod(ctl_path, 0o666)  # anyone may connect: the roles are what is tested
    nobody = pwd.getpwnam("nobody")
    prefix = ["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
              "--clear-groups", g.procs.GSLBCTL, "--control", str(ctl_path)]
    r = t.run(prefix + ["status"], timeout=10)
    t.check("another user may read the status (exit 0)", r.status == 0 and "region " in r.out,
            r.out)
    r = t.run(prefix + ["explain", LONDON, "www.gctl.test"], timeout=10)
    t.check("... and explain (exit 0)", r.status == 0 and "chosen" in r.out, r.out)
    r = t.run(prefix + ["reload"], timeout=10)
    t.check("... but not reload: exit 1, permission denied",
            r.status == 1 and "permission denied: RELOAD" in r.out, r.out)


def main(t):
    backends = [g.Backend(t, "http-%d" % i) for i in range(1, 5)]
    for b in backends:
        if not t.start(b):
            t.bail("%s starts" % b.name, *b.why)
    ports = {"p%d" % (i + 1): b.port for i, b in enumerate(backends)}
    zdir = t.path("zones")
    zfile = t.write("zones/gctl.test.yaml", ZONE.format(ns2="203.0.113.53", **ports))
    t.write("zones/other.test.yaml", OTHER)
    ctl_path = t.path("ctl.sock")
    srv = g.Gslbd(t, "gslbd", zones=zdir, args=["--threads", 2, "--control", ctl_path])
    if not t.start(srv):
        t.bail("gslbd starts with --control", *srv.why)
    hd = g.Healthd(t, "healthd", zones=zdir, gslbd=[ctl_path])
    ctl = g.Gslbctl(t, ctl_path)

    command_line(t, ctl, srv, hd)
    before_healthd(t, ctl)
    if not t.start(hd):
        t.bail("healthd starts", *hd.why)
    with_healthd(t, ctl, backends)
    drain_and_explain(t, ctl, srv, zdir)
    overruled(t, ctl, srv)
    shares(t, ctl, srv)
    serial = reload_good(t, ctl, srv, zfile, ports)
    reload_broken(t, ctl, srv, zfile, ports, serial)
    new_broken_file(t, ctl)
    reloads_at_once(t, ctl)
    pipelined(t, ctl_path)
    roles(t, ctl_path)
    unsaved_override(t, zdir)
    t.eq("healthd stops with status 0", 0, hd.stop())
    t.eq("gslbd stops with status 0", 0, srv.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
