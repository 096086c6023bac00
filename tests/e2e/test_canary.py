#!/usr/bin/env python3
"""test_canary.py: a vantage's canaries (issue 15 part 2), from healthd to gslbd.

A zone declares `vantages: {v1: {canary: ["127.0.0.1:C"]}, v2: {...}}` where C is a
gslbtest Backend's port (a TCP connect by default: 1 s, 500 ms, rise 2, fall 2). Three
healthd run at once:

- A: `--vantage v1` reporting to gslbd's control socket (`--control`);
- B: `--vantage v2` reporting to gslbd's network channel (`--control-listen`), every
  line signed with v2's key;
- F: `--vantage v1` reporting to two stand-ins of gslbd's control socket (FakeGslbd),
  one answering HELLO as version 4 and one as version 3.

Asserted: a local HELLO names the vantage; CANARY ok goes between HELLO and SYNCED to
the version 4 stand-in and never to the version 3 one; stopping the canary's backend
makes gslbd log that v1 and v2 abstain (healthdb_canary's line, once each) and healthd
A's metrics say abstaining, its canary down, and its log says why; starting it again
makes both count again; nothing on the network channel is refused (CANARY is signed
and allowed there); a reload (SIGHUP) of F's zone with another canary, then with only
the dead one, is seen in its next CANARY lines; a restarted stand-in gets the failed
verdict in the full state, before SYNCED and before any member. A bad --vantage name
is a usage error.

Not here: the quorum that a failed canary takes the vantage out of (gslbd's engine,
other suites), the status display. Loopback only; every wait is bounded.
"""

import os

import gslbtest as g
from gslbtest import prom

ZONE = """\
zone: cn.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
regions:
  r1: {{location: [50, 0], pool: [{{address: 192.0.2.1, probe: "127.0.0.1:{web}"}}],
        check: web}}
checks:
  web: {{type: http, path: /health, interval: 500ms, timeout: 300ms}}
services:
  www: {{regions: [r1], ttl: 5}}
vantages:
  v1: {{canary: [{v1}]}}
  v2: {{canary: ["127.0.0.1:{canary}"]}}
"""


def zone_text(web, canary, v1):
    return ZONE.format(web=web, canary=canary,
                       v1=", ".join('"127.0.0.1:%d"' % p for p in v1))


def expect_line(t, daemon, name, pattern, seconds, since=0):
    t.check(name, daemon.wait_log(pattern, seconds, since=since),
            "no line matching %s in %s:" % (pattern, daemon.log_path.name),
            *daemon.log(since).splitlines()[-10:])


def expect_recorded(t, fake, name, pattern, seconds, count=1):
    w = fake.wait_line(pattern, seconds, count=count)
    t.check("%s (after %d ms)" % (name, w.ms) if w else name, w,
            "no recorded line matching %s; the last ones:" % pattern, *fake.lines()[-8:])


def metric(port, name, **labels):
    try:
        return prom.one(prom.scrape(port), name, **labels)
    except (OSError, prom.PromError):
        return None


def expect_metric(t, port, name, want, seconds, **labels):
    seen = [None]

    def has():
        seen[0] = metric(port, name, **labels)
        return seen[0] == want

    t.check("healthd's %s%r is %s" % (name, labels, want), g.until(has, seconds, every=0.2),
            "got %s after %s s" % (seen[0], seconds))


def kinds(fake, conn):
    """The verbs healthd sent on connection `conn` of a stand-in, in order."""
    out = []
    for line in fake.lines():
        n, _, rest = line.partition(" ")
        if n == str(conn) and rest not in ("CONNECT", "CLOSED"):
            out.append(rest.split(" ")[0])
    return out


def full_state_order(t, fake, conn, what):
    """CANARY right after HELLO, before every MEMBER and before SYNCED."""
    k = kinds(fake, conn)
    ok = len(k) >= 3 and k[0] == "HELLO" and k[1] == "CANARY" and "SYNCED" in k
    t.check("%s: HELLO, then CANARY, then the members and SYNCED" % what, ok, " ".join(k))


def keygen(t, gslbctl, name, vantage):
    r = gslbctl.run("keygen", vantage)
    path = t.write(name, r.out.strip() + "\n")
    os.chmod(path, 0o600)
    return path


def main(t):
    web, canary = g.Backend(t, "web"), g.Backend(t, "canary")
    for b in (web, canary):
        if not t.start(b):
            t.bail("%s starts" % b.name, *b.why)
    dead = g.free_port()  # nothing listens there: refused
    zone = t.write("cn.test.yaml", zone_text(web.port, canary.port, [canary.port]))
    zone_f = t.write("f/cn.test.yaml", zone_text(web.port, canary.port, [canary.port]))
    ctl = t.path("ctl.sock")
    gslbctl = g.Gslbctl(t, ctl)
    keys = keygen(t, gslbctl, "keys", "v2")

    bad = g.Healthd(t).run("--zones", zone, "--gslbd", ctl, "--vantage", "v 1")
    t.eq("--vantage with a name the protocol cannot carry: a usage error", 2, bad.status)
    t.like("... saying what a vantage name is", r"--vantage 'v 1': a vantage name is 1 to 63",
           bad.out)

    nport, hport = g.free_port(), g.free_port()
    srv = g.Gslbd(t, "gslbd", zones=zone, addresses=("127.0.0.1",),
                  args=["--threads", 1, "--control", ctl, "--http", "127.0.0.1:%d" % hport,
                        "--control-listen", "127.0.0.1:%d" % nport, "--control-keys", keys])
    if not t.start(srv):
        t.bail("gslbd starts with --control and --control-listen", *srv.why)
    fake3 = g.FakeGslbd(t, "fake3", version=3)
    fake4 = g.FakeGslbd(t, "fake4", version=4)
    for f in (fake3, fake4):
        if not t.start(f):
            t.bail("%s starts" % f.name, *f.why)

    mport = g.free_port()
    hd_a = g.Healthd(t, "healthd-v1", zones=zone, gslbd=[ctl],
                     args=["--vantage", "v1", "--http", "127.0.0.1:%d" % mport])
    hd_b = g.Healthd(t, "healthd-v2", zones=zone, gslbd=["127.0.0.1:%d" % nport],
                     args=["--vantage", "v2", "--key", keys])
    hd_f = g.Healthd(t, "healthd-fakes", zones=zone_f, gslbd=[fake3.socket, fake4.socket],
                     args=["--vantage", "v1"])
    for hd in (hd_a, hd_b, hd_f):
        if not t.start(hd):
            t.bail("%s starts" % hd.name, *hd.why)

    # -- all canaries answer
    expect_line(t, hd_a, "healthd says it probes v1's canary",
                r"vantage v1: probing 1 canaries \(1 added, 0 removed, 0 kept\)", 1)
    expect_line(t, srv, "gslbd takes v2 over the network", r"vantage v2 connected over the network",
                3)
    expect_recorded(t, fake4, "a local HELLO names the vantage", r"^1 HELLO healthd 4 vantage=v1$",
                    3)
    expect_recorded(t, fake4, "the version 4 stand-in is told CANARY ok", r"^1 CANARY ok$", 3)
    expect_recorded(t, fake4, "... and SYNCED", r"^1 SYNCED ", 3)
    full_state_order(t, fake4, 1, "the version 4 stand-in's full state")
    t.like("the version 3 stand-in gets the vantage in HELLO too", r"(?m)^1 HELLO healthd 4 "
           r"vantage=v1$", fake3.text())
    expect_metric(t, mport, "gslb_healthd_canary_up", 1, 5, target="127.0.0.1:%d" % canary.port)
    expect_metric(t, mport, "gslb_healthd_vantage_abstaining", 0, 1, vantage="v1")

    # -- the canary's backend goes away: both vantages abstain
    mark_srv, mark_a = srv.mark(), hd_a.mark()
    canary.stop()
    where = r"127\.0\.0\.1:%d" % canary.port
    for v in ("v1", "v2"):
        expect_line(t, srv, "gslbd logs that %s abstains, naming the canary" % v,
                    r"health: vantage %s: its canaries fail \(1 of 1 down: %s: refused\): it "
                    r"abstains until they answer" % (v, where), 6, since=mark_srv)
    expect_line(t, hd_a, "healthd v1 logs why its votes stop counting",
                r"warning: vantage v1: its canaries fail \(1 of 1 down: %s: refused\): gslbd "
                r"counts none of its votes until they answer" % where, 3, since=mark_a)
    expect_metric(t, mport, "gslb_healthd_vantage_abstaining", 1, 3, vantage="v1")
    expect_metric(t, mport, "gslb_healthd_canary_up", 0, 1, target="127.0.0.1:%d" % canary.port)
    expect_recorded(t, fake4, "the version 4 stand-in is told CANARY failed with the reason",
                    r"^1 CANARY failed reason=1 of 1 down: %s: refused$" % where, 3)

    # -- it comes back: both count again
    mark_srv = srv.mark()
    if not t.start(canary):
        t.bail("the canary's backend starts again", *canary.why)
    for v in ("v1", "v2"):
        expect_line(t, srv, "gslbd logs that %s's votes count again" % v,
                    r"health: vantage %s: its canaries answer again" % v, 6, since=mark_srv)
    expect_metric(t, mport, "gslb_healthd_vantage_abstaining", 0, 3, vantage="v1")
    expect_line(t, hd_a, "healthd v1 logs it", r"info: vantage v1: its canaries answer again "
                r"\(0 of 1 down\): its votes count", 1)
    expect_recorded(t, fake4, "the version 4 stand-in is told CANARY ok again", r"^1 CANARY ok$",
                    3, count=2)
    t.eq("... twice in all: at HELLO and once the canary answered", 2,
         fake4.count(r"^1 CANARY ok$"))
    for v in ("v1", "v2"):
        t.eq("gslbd said %s abstains once, not on every report" % v, 1,
             len([l for l in srv.log().splitlines()
                  if "vantage %s: its canaries fail" % v in l]))
    refused = prom.total(prom.scrape(hport), "gslb_control_refused_total")
    t.eq("nothing on the network channel was refused: CANARY is signed and allowed", 0, refused)

    # -- a reload of F's zone: another canary, then only the dead one
    mark_f = hd_f.mark()
    t.write("f/cn.test.yaml", zone_text(web.port, canary.port, [canary.port, dead]))
    hd_f.reload()
    expect_line(t, hd_f, "a reload adds the new canary and keeps the old",
                r"vantage v1: probing 2 canaries \(1 added, 0 removed, 1 kept\)", 3, since=mark_f)
    expect_recorded(t, fake4, "one of two down is not more than half: CANARY ok, naming it",
                    r"^1 CANARY ok reason=1 of 2 down: 127\.0\.0\.1:%d: refused$" % dead, 5)
    mark_f = hd_f.mark()
    t.write("f/cn.test.yaml", zone_text(web.port, canary.port, [dead]))
    hd_f.reload()
    expect_line(t, hd_f, "a reload to the dead canary alone removes the live one",
                r"vantage v1: probing 1 canaries \(0 added, 1 removed, 1 kept\)", 3, since=mark_f)
    expect_recorded(t, fake4, "... and CANARY failed follows at once (its state was kept)",
                    r"^1 CANARY failed reason=1 of 1 down: 127\.0\.0\.1:%d: refused$" % dead, 2)

    # -- a restarted gslbd gets the verdict in the full state
    fake4.stop()
    fake4b = g.FakeGslbd(t, "fake4b", socket_path=fake4.socket, version=4)
    if not t.start(fake4b):
        t.bail("the version 4 stand-in restarts", *fake4b.why)
    expect_recorded(t, fake4b, "the restarted stand-in gets SYNCED", r"^1 SYNCED ", 4)
    t.like("... after CANARY failed with its reason",
           r"(?m)^1 CANARY failed reason=1 of 1 down: 127\.0\.0\.1:%d: refused$" % dead,
           fake4b.text())
    full_state_order(t, fake4b, 1, "the restarted stand-in's full state")
    t.compare("... which holds the member too", kinds(fake4b, 1).count("MEMBER"), ">=", 1)

    t.eq("the version 3 stand-in was never sent CANARY", 0, fake3.count(r" CANARY"))
    t.unlike("... so it answered healthd no ERR", r"ERR", hd_f.log())

    for hd in (hd_a, hd_b, hd_f):
        t.eq("%s stops with status 0" % hd.name, 0, hd.stop())
    t.eq("gslbd stops with status 0", 0, srv.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
