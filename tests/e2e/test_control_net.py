#!/usr/bin/env python3
"""test_control_net.py: gslbd's network channel for health reports (--control-listen).

gslbd listens for healthd on other hosts over TCP (here loopback) and takes a line only
when its HMAC-SHA256, under the key of the vantage its HELLO named, is right, bound to the
connection's nonce and to a seq= above the last (common/ctlauth.h). The client here is
the test's own (gslbtest/ctlnet.py), computing the MACs with Python's hmac module from
the key file `gslbctl keygen` wrote, so the wire format is checked against an
independent implementation:

- gslbctl keygen writes a key line; gslbd refuses a keys file others may read, and
  --control-listen without --control-keys;
- an authenticated vantage's MEMBER down moves the answer; its name is a health source;
- refused, counted by reason and disconnected: a line without mac=, a HELLO from a
  vantage without a key, a wrong key, an altered line, a replayed line (same seq on the
  same connection), a line replayed on a new connection (another nonce), a request the
  channel does not take (STATUS), a HELLO with another vantage's name;
- a silent connection that never says HELLO is closed within seconds;
- the local socket keeps working meanwhile.

Loopback only; every loop bounded.
"""

import base64
import os
import re
import socket
import time

import gslbtest as g
from gslbtest import prom
from gslbtest.ctlnet import Vantage

ZONE = """\
zone: net.test
soa: {mname: ns1.example.net, rname: hostmaster.example.net}
ns: [ns1.example.net]
regions:
  primary: {location: [50, 0], pool: [192.0.2.1], check: web}
  backup:  {location: [40, 0], pool: [192.0.2.2], check: web}
checks:
  web: {type: http, path: /health, interval: 1s, timeout: 500ms}
services:
  www: {regions: [primary, backup], policy: failover, ttl: 30}
"""


def answer(srv):
    r = srv.query("www.net.test", "A", timeout=2)
    rrs = r.section("answer") if r.parsed else []
    return rrs[0][2].to_text() if rrs else None


def main(t):
    zones = t.path("zones")
    zones.mkdir()
    (zones / "net.test.yaml").write_text(ZONE)
    keys = t.path("keys")
    gslbctl = g.Gslbctl(t, t.path("ctl"))
    lines = []
    for v in ("ams", "nyc"):
        r = gslbctl.run("keygen", v)
        t.like("gslbctl keygen %s writes a key line" % v, r"^%s hmac-sha256 [A-Za-z0-9+/]{43}=$" % v,
               r.out.strip())
        lines.append(r.out.strip())
    keys.write_text("# vantages\n" + "\n".join(lines) + "\n")
    os.chmod(keys, 0o644)
    port, hport = g.free_port(), g.free_port()
    ctl = t.path("ctl")
    args = ["--threads", 1, "--geoip", "none", "--control", ctl, "--http", "127.0.0.1:%d" % hport,
            "--control-listen", "127.0.0.1:%d" % port, "--control-keys", keys]
    bad = g.Gslbd(t, "gslbd-badkeys", zones=zones, addresses=("127.0.0.1",), args=args)
    t.check("gslbd refuses a keys file anyone may read", not t.start(bad))
    t.like("... and says so", r"anyone may read these keys \(mode 644\)", bad.log())
    os.chmod(keys, 0o600)
    nokeys = g.Gslbd(t, "gslbd-nokeys", zones=zones, addresses=("127.0.0.1",),
                     args=args[:-2])
    t.check("--control-listen without --control-keys is refused", not t.start(nokeys))
    t.like("... naming what is missing", r"--control-listen needs --control-keys", nokeys.log())

    srv = g.Gslbd(t, "gslbd", zones=zones, addresses=("127.0.0.1",), args=args)
    if not t.start(srv):
        t.bail("gslbd starts with --control-listen", *srv.why)
    key = {v: base64.b64decode(l.split()[2]) for v, l in zip(("ams", "nyc"), lines)}
    t.eq("www answers primary before any report", "192.0.2.1", answer(srv))

    a = Vantage(port, "ams", key["ams"])
    r = a.hello()
    t.like("an authenticated HELLO gets gslbd's version and a nonce", r"^OK gslbd 4 nonce=[0-9a-f]{32}$", r)
    r = a.send_raw(a.line("MEMBER net.test primary 192.0.2.1 down {seq} reason=status 503"))
    t.like("an authenticated MEMBER is taken", r"^OK", r)
    t.check("... and moves the answer to backup",
            g.until(lambda: answer(srv) == "192.0.2.2", 3, every=0.1))
    st = gslbctl.run("status")
    t.like("the vantage is the member's health source", r"192\.0\.2\.1 .*DOWN.*ams", st.out)
    replay = a.line("MEMBER net.test primary 192.0.2.1 up {seq} reason=ok")
    t.like("a second report on the connection is taken", r"^OK", a.send_raw(replay))
    t.like("the same line again (replayed) is refused", r"^ERR refused: seq= is not above",
           a.send_raw(replay))
    t.check("... and the connection closed", a.closed())

    b = Vantage(port, "ams", key["ams"])
    b.hello()
    t.like("that line replayed on a new connection (another nonce) is refused",
           r"^ERR refused: the mac does not match", b.send_raw(replay))
    b.close()

    def refused(what, reason, sender):
        before = prom.one(prom.scrape(hport), "gslb_control_refused_total", reason=reason) or 0
        r = sender()
        after = prom.one(prom.scrape(hport), "gslb_control_refused_total", reason=reason) or 0
        t.check("%s: refused (%s), counted %s" % (what, r, reason),
                r.startswith("ERR refused") and after == before + 1)

    v = Vantage(port, "ams", key["ams"])
    refused("a line without mac=", "no_mac",
            lambda: v.send_raw("HELLO healthd 3 vantage=ams seq=1"))
    v = Vantage(port, "lon", key["ams"])
    refused("a HELLO from a vantage without a key", "unknown_vantage", v.hello)
    v = Vantage(port, "nyc", key["ams"])
    refused("a HELLO under another vantage's key", "bad_mac", v.hello)
    v = Vantage(port, "ams", key["ams"])
    v.hello()
    altered = v.line("MEMBER net.test backup 192.0.2.2 up {seq} reason=ok").replace(
        "backup 192.0.2.2 up", "backup 192.0.2.2 down")
    refused("a line altered after signing", "bad_mac", lambda: v.send_raw(altered))
    v = Vantage(port, "nyc", key["nyc"])
    v.hello()
    refused("STATUS over the network channel", "not_allowed",
            lambda: v.send_raw(v.line("STATUS {seq}")))
    v = Vantage(port, "nyc", key["nyc"])
    v.hello()
    refused("a report naming another vantage", "not_allowed",
            lambda: v.send_raw(v.line("MEMBER net.test backup 192.0.2.2 down vantage=ams {seq}")))
    t.like("the local socket keeps working", r"region net\.test primary", gslbctl.run("status").out)
    t.eq("no forged line changed an answer", "192.0.2.1",
         g.until(lambda: answer(srv) == "192.0.2.1", 3, every=0.1) and answer(srv))

    # A recorded HELLO (signed over no nonce) replayed again and again must not keep a
    # silent vantage's reports fresh: only a line bound to a connection's nonce does.
    v = Vantage(port, "nyc", key["nyc"])
    hello = v.line("HELLO healthd 3 vantage=nyc {seq}")  # seq=1, over no nonce: the recording
    v.seq = 0
    v.hello()
    t.like("nyc reports backup's member down", r"^OK",
           v.send_raw(v.line("MEMBER net.test backup 192.0.2.2 down {seq} reason=status 503")))
    v.close()

    def member_state():
        m = re.search(r"(?m)^\s+member 192\.0\.2\.2\s+(\S+)", gslbctl.run("status").out)
        return m.group(1) if m else None

    def nyc_vote_stale():
        return re.search(r"(?m)^\s+votes: nyc down \[not counted: stale",
                         gslbctl.run("status").out) is not None

    t.eq("... and gslbd holds it down", "DOWN", member_state())
    deadline, replays = time.monotonic() + 6, 0
    while time.monotonic() < deadline and not nyc_vote_stale():
        r = Vantage(port, "nyc", key["nyc"])
        r.send_raw(hello)
        r.close()
        replays += 1
        time.sleep(0.3)
    t.check("the recorded HELLO replayed %d times: nyc's report still goes stale (after its "
            "stale_after, 3 s): its vote no longer counts" % replays, nyc_vote_stale(),
            gslbctl.run("status").out)
    t.eq("... and with no other vantage, the member keeps its last decided state (held)",
         "DOWN", member_state())

    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    t0 = time.monotonic()
    s.settimeout(10)
    try:
        eof = s.recv(1) == b""
    except OSError:
        eof = True
    took = time.monotonic() - t0
    s.close()
    t.check("a connection that never says HELLO is closed within 7 s (after %.1f s)" % took,
            eof and took < 7.5)
    t.check("gslbd stops with status 0", srv.stop() == 0)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
