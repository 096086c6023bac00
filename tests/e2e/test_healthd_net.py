#!/usr/bin/env python3
"""test_healthd_net.py: bin/healthd reporting to bin/gslbd over the network channel.

gslbd listens with --control-listen and --control-keys (keys from `gslbctl keygen`);
healthd reports with --gslbd 127.0.0.1:PORT --vantage ams --key FILE, every line signed
(common/ctlauth.h). Two regions in failover order, each one member probed on a gslbtest
Backend. Asserted through DNS answers, gslbctl status, both daemons' metrics and logs:

- healthd refuses to start without --vantage or --key, with a key file others may read,
  or with one that has no line for its vantage, naming the file;
- the primary failing its check moves the answer within interval * fall + 1 s, and
  gslbctl status names the vantage as the report's source;
- a restarted gslbd gets healthd's full state again within a few seconds;
- healthd with the wrong key for its vantage is refused (bad_mac counted), says why,
  keeps retrying, and moves no answer;
- one healthd reporting to a Unix-socket gslbd and, over IPv6 loopback, to a TCP one at
  once: both get the reports;
- against the test's own stand-in for gslbd, which checks every line with Python's hmac:
  HELLO signed over the empty nonce, every later line over the nonce given, seq= 1, 2, 3
  ... with no gap, a full state again on "OK sync" with seq= going on; and a stand-in
  that answers HELLO without a nonce gets nothing more, is logged once and retried;
- a connect that is never answered (a listener whose accept queue is full, so the
  kernel drops the SYN) is given up after 3 s and retried.

Not here: gslbd's checks against an independent client (test_control_net.py) and the
Unix-socket path alone (test_healthd_gslbd.py). Traffic goes to loopback only; every
wait is bounded.
"""

import base64
import hashlib
import hmac
import os
import socket
import threading
import time

import gslbtest as g
from gslbtest import prom

ZONE = """\
zone: hn.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
regions:
  primary: {{location: [50, 0], pool: [{{address: 192.0.2.1, probe: "127.0.0.1:{p1}"}}], check: web}}
  backup:  {{location: [40, 0], pool: [{{address: 192.0.2.2, probe: "127.0.0.1:{p2}"}}], check: web}}
checks:
  web: {{type: http, path: /health, interval: 500ms, timeout: 300ms, rise: 2, fall: 2}}
services:
  www: {{regions: [primary, backup], policy: failover, ttl: 5}}
"""

PRIMARY, BACKUP = "192.0.2.1", "192.0.2.2"


def answer(srv):
    """The first address www.hn.test A answers, or None."""
    r = srv.query("www.hn.test", "A", timeout=2)
    rrs = r.section("answer") if r.parsed else []
    return rrs[0][2].to_text() if rrs else None


def expect_www(t, srv, name, address, seconds):
    """Ask every 0.1 s (bounded by `seconds`) until www.hn.test answers `address`."""
    seen = [None]

    def answers():
        seen[0] = answer(srv)
        return seen[0] == address

    w = g.until(answers, seconds, every=0.1)
    t.check("%s (after %d ms)" % (name, w.ms) if w else name, w,
            "www.hn.test A: expected %s within %s s, got %s" % (address, seconds, seen[0]))
    return w


def expect_line(t, daemon, name, pattern, seconds, since=0):
    t.check(name, daemon.wait_log(pattern, seconds, since=since),
            "no line matching %s in %s:" % (pattern, daemon.log_path.name),
            *daemon.log().splitlines()[-10:])


def keygen(t, gslbctl, name, vantage):
    """A keys file `name` (mode 600) with a fresh key for `vantage`."""
    r = gslbctl.run("keygen", vantage)
    t.like("gslbctl keygen %s writes a key line" % vantage,
           r"^%s hmac-sha256 [A-Za-z0-9+/]{43}=$" % vantage, r.out.strip())
    path = t.write(name, "# healthd's key\n" + r.out.strip() + "\n")
    os.chmod(path, 0o600)
    return path


class NetPeer(threading.Thread):
    """gslbd's network channel as healthd sees it, on a loopback port: one connection at
    a time, every line recorded as (connection number, line); HELLO answered "OK gslbd 3
    nonce=N" (or without the nonce when nonce=False), any other line "OK", except one PING
    after two MEMBER lines, answered "OK sync". Runs at most 60 s."""

    def __init__(self, nonce=True):
        super().__init__(daemon=True)
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.srv.settimeout(0.2)
        self.port = self.srv.getsockname()[1]
        self.give_nonce = nonce
        self.nonces = {}  # connection number -> the nonce given
        self.lines = []
        self.conns = 0
        self.asked_sync = False
        self.done = False

    def run(self):
        deadline = time.monotonic() + 60
        while not self.done and time.monotonic() < deadline:
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            self.conns += 1
            self.serve(c, self.conns, deadline)
            c.close()
        self.srv.close()

    def answer(self, n, line):
        if line.startswith("HELLO"):
            self.nonces[n] = os.urandom(16).hex()
            return "OK gslbd 3 nonce=%s" % self.nonces[n] if self.give_nonce else "OK gslbd 3"
        members = sum(k == n and l.startswith("MEMBER") for k, l in self.lines)
        if line.startswith("PING") and members >= 2 and not self.asked_sync:
            self.asked_sync = True
            return "OK sync"
        return "OK"

    def serve(self, c, n, deadline):
        c.settimeout(0.2)
        buf = b""
        while not self.done and time.monotonic() < deadline:
            try:
                data = c.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode()
                self.lines.append((n, line))
                try:
                    c.sendall((self.answer(n, line) + "\n").encode())
                except OSError:
                    return

    def stop(self):
        self.done = True
        self.join(5)


def check_signed(t, key, peer):
    """Every line of connection 1 signed as ctlauth.h says, seq= without a gap."""
    lines = [l for n, l in peer.lines if n == 1]
    bad, seqs = [], []
    for i, line in enumerate(lines):
        body, sep, mac = line.rpartition(" mac=")
        nonce = "" if i == 0 else peer.nonces.get(1, "")
        want = hmac.new(key, (nonce + "\n" + body).encode(), hashlib.sha256).hexdigest()
        if not sep or not hmac.compare_digest(mac, want):
            bad.append(line)
        seq = [w for w in body.split(" reason=")[0].split() if w.startswith("seq=")]
        seqs.append(int(seq[0][4:]) if len(seq) == 1 else None)
    t.like("HELLO names the vantage, seq=1, and ends in a mac",
           r"^HELLO healthd 4 vantage=ams seq=1 mac=[0-9a-f]{64}$", lines[0] if lines else "")
    t.check("every line's mac is right: HELLO over the empty nonce, the rest over the "
            "nonce given (%d lines)" % len(lines), lines and not bad, *bad[:5])
    t.eq("seq= counts 1, 2, 3 ... without a gap", list(range(1, len(lines) + 1)), seqs)
    kinds = [l.split()[0] for l in lines]
    t.compare("a full state again after \"OK sync\": two SYNCED on the connection",
              kinds.count("SYNCED"), ">=", 2)
    t.compare("... the second after both members again (MEMBER lines in all)",
              kinds.count("MEMBER"), ">=", 4)
    t.check("... and PINGs signed alike", "PING" in kinds, " ".join(kinds))


def stand_ins(t, zone, keys):
    """healthd against the test's own gslbd stand-ins (nothing of gslbd's code)."""
    key = base64.b64decode(keys.read_text().split("\n")[1].split()[2])
    good, mute = NetPeer(), NetPeer(nonce=False)
    good.start()
    mute.start()
    # A listener that never accepts, its queue (backlog 0: one connection) taken: Linux
    # drops further SYNs, so a connect to it waits, as one to a host that is down would.
    deaf = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    deaf.bind(("127.0.0.1", 0))
    deaf.listen(0)
    filler = socket.create_connection(deaf.getsockname(), timeout=2)
    deaf_at = "127.0.0.1:%d" % deaf.getsockname()[1]
    hd = g.Healthd(t, "healthd-stand-ins", zones=zone,
                   gslbd=["127.0.0.1:%d" % good.port, "127.0.0.1:%d" % mute.port, deaf_at],
                   args=["--vantage", "ams", "--key", keys, "--verbose"])
    if not t.start(hd):
        t.bail("healthd starts against the stand-ins", *hd.why)
    g.until(lambda: good.asked_sync and sum(l.startswith("SYNCED") for _, l in good.lines) >= 2
            and mute.conns >= 3, 8, every=0.2)
    expect_line(t, hd, "a connect never answered is given up after 3 s",
                r"warning: gslbd %s: cannot connect: timed out; retrying" % deaf_at, 5)
    expect_line(t, hd, "... and tried again (a second time out, logged at debug level)",
                r"debug: gslbd %s: cannot connect: timed out$" % deaf_at, 6)
    filler.close()
    deaf.close()
    good.stop()
    mute.stop()
    check_signed(t, key, good)
    expect_line(t, hd, "healthd says the stand-in answered HELLO without a nonce",
                r"gslbd 127\.0\.0\.1:%d: answered HELLO without a nonce= \(not a gslbd "
                r"--control-listen port" % mute.port, 1)
    t.compare("... and keeps retrying it (connections)", mute.conns, ">=", 3)
    t.eq("... warning of it once", 1, len([l for l in hd.log().splitlines()
                                        if "warning:" in l and "without a nonce" in l]))
    t.eq("... and sends it nothing but HELLO", {"HELLO"}, {l.split()[0] for _, l in mute.lines})
    t.eq("healthd stops with status 0", 0, hd.stop())


def refused(hport):
    return prom.one(prom.scrape(hport), "gslb_control_refused_total", reason="bad_mac") or 0


def start_errors(t, zone, keys, gslbctl):
    """healthd stops at start, naming what is wrong, when the network lacks its key."""
    hd = g.Healthd(t)
    tcp = ["--zones", zone, "--gslbd", "127.0.0.1:5380"]
    r = hd.run(*tcp, "--key", keys)
    t.eq("HOST:PORT without --vantage: healthd does not start (a usage error)", 2, r.status)
    t.like("... and says what it needs", r"--gslbd HOST:PORT needs --vantage NAME and --key",
           r.out)
    r = hd.run(*tcp, "--vantage", "ams")
    t.eq("HOST:PORT without --key: healthd does not start (a usage error)", 2, r.status)
    open_keys = t.write("keys-open", keys.read_text())
    os.chmod(open_keys, 0o644)
    r = hd.run(*tcp, "--vantage", "ams", "--key", open_keys)
    t.eq("a key file others may read: healthd does not start", 1, r.status)
    t.like("... naming the file", r"keys-open: error: anyone may read these keys", r.out)
    r = hd.run(*tcp, "--vantage", "lon", "--key", keys)
    t.eq("a key file without the vantage's line: healthd does not start", 1, r.status)
    t.like("... naming the file and the vantage", r"keys: no key for vantage 'lon'", r.out)
    r = hd.run("--zones", zone, "--gslbd", "127.0.0.1:99999", "--vantage", "ams", "--key", keys)
    t.eq("--gslbd with a port past 65535 is a usage error", 2, r.status)
    t.like("... as neither a path nor an address", r"neither a socket path .* nor a numeric", r.out)


def main(t):
    gslbd = g.Gslbd(t, "gslbd")
    if "--control-listen" not in gslbd.run("--help").out:
        t.skip("healthd over the network", "bin/gslbd has no --control-listen")
        return
    p1, p2 = g.Backend(t, "http-1"), g.Backend(t, "http-2")
    for b in (p1, p2):
        if not t.start(b):
            t.bail("%s starts" % b.name, *b.why)
    zone = t.write("hn.test.yaml", ZONE.format(p1=p1.port, p2=p2.port))
    ctl = t.path("ctl.sock")
    gslbctl = g.Gslbctl(t, ctl)
    keys = keygen(t, gslbctl, "keys", "ams")
    wrong = keygen(t, gslbctl, "keys-wrong", "ams")
    start_errors(t, zone, keys, gslbctl)
    stand_ins(t, zone, keys)

    port, port6, hport = g.free_port(), g.free_port(), g.free_port()
    args = ["--threads", 1, "--control", ctl, "--http", "127.0.0.1:%d" % hport,
            "--control-listen", "127.0.0.1:%d" % port, "--control-listen", "[::1]:%d" % port6,
            "--control-keys", keys]
    srv = g.Gslbd(t, "gslbd", zones=zone, addresses=("127.0.0.1",), args=args)
    if not t.start(srv):
        t.bail("gslbd starts with --control-listen", *srv.why)
    where = "127.0.0.1:%d" % port
    mport = g.free_port()
    hd = g.Healthd(t, "healthd", zones=zone, gslbd=[where],
                   args=["--vantage", "ams", "--key", keys, "--http", "127.0.0.1:%d" % mport])
    if not t.start(hd):
        t.bail("healthd starts with --gslbd HOST:PORT", *hd.why)
    expect_line(t, hd, "healthd connects over TCP", r"gslbd %s: connected, sent" % where, 3)
    expect_line(t, srv, "gslbd takes it as vantage ams",
                r"vantage ams connected over the network", 3)
    t.eq("healthd's metrics show the TCP gslbd connected", 1,
         prom.one(prom.scrape(mport), "gslb_healthd_gslbd_connected", socket=where))
    expect_line(t, hd, "healthd judges the primary up", r"primary 192\.0\.2\.1: up", 3)
    expect_www(t, srv, "the healthy primary answers", PRIMARY, 3)

    # The primary fails: interval 0.5 s x fall 2 + 1 s.
    p1.set("503")
    w = expect_www(t, srv, "the backup answers within interval*fall + 1 s of the primary "
                   "failing", BACKUP, 2.5)
    t.compare("... measured (ms)", w.ms, "<=", 2000)
    st = gslbctl.run("status")
    t.like("gslbctl status names the vantage as the source of the member's state",
           r"192\.0\.2\.1 .*DOWN.*ams", st.out)
    sent = prom.one(prom.scrape(mport), "gslb_healthd_reports_sent_total", socket=where)
    t.compare("healthd counts the reports it sent over TCP", sent or 0, ">=", 3)

    # gslbd restarts while the primary is down: the full state comes back at once.
    srv.stop()
    srv = srv.twin("gslbd-2")
    if not t.start(srv):
        t.bail("gslbd restarts", *srv.why)
    expect_line(t, hd, "healthd reconnects to the restarted gslbd",
                r"gslbd %s: connected again after" % where, 4)
    expect_www(t, srv, "the restarted gslbd answers the backup from the re-sent state",
               BACKUP, 3)
    t.like("... and holds vantage ams's reports again", r"192\.0\.2\.1 .*DOWN.*ams",
           gslbctl.run("status").out)

    p1.set("200")
    expect_www(t, srv, "the primary answers again after rise successes", PRIMARY, 3)
    t.eq("healthd stops with status 0", 0, hd.stop())

    # The wrong key for ams: refused at HELLO, counted, said, retried; nothing moves.
    before = refused(hport)
    p1.set("503")
    bad = g.Healthd(t, "healthd-wrongkey", zones=zone, gslbd=[where],
                    args=["--vantage", "ams", "--key", wrong])
    if not t.start(bad):
        t.bail("healthd with the wrong key starts (it cannot know until gslbd says)", *bad.why)
    expect_line(t, bad, "healthd says gslbd refused its HELLO and why",
                r"gslbd %s: HELLO refused: the mac does not match \(does gslbd's "
                r"--control-keys hold the key of --key for vantage ams\?\); retrying" % where, 3)
    grew = g.until(lambda: refused(hport) >= before + 3, 5, every=0.2)
    t.check("gslbd refuses its retries, counted as bad_mac (%d more)"
            % (refused(hport) - before), grew)
    t.eq("the refusal is logged once, not on every retry", 1,
         len([l for l in bad.log().splitlines() if "HELLO refused" in l]))
    t.check("the answer has not moved from the primary (interval*fall + 1 s and more)",
            not g.until(lambda: answer(srv) != PRIMARY, 2.5, every=0.1))
    t.eq("healthd with the wrong key stops with status 0", 0, bad.stop())

    # One healthd, two gslbd: one on a Unix socket only, one over TCP on IPv6 loopback.
    ctl2 = t.path("ctl2.sock")
    local = g.Gslbd(t, "gslbd-local", zones=zone, addresses=("127.0.0.1",),
                    args=["--threads", 1, "--control", ctl2])
    if not t.start(local):
        t.bail("a second gslbd starts with only a local socket", *local.why)
    where6 = "[::1]:%d" % port6
    both = g.Healthd(t, "healthd-both", zones=zone, gslbd=[ctl2, where6],
                     args=["--vantage", "ams", "--key", keys])
    if not t.start(both):
        t.bail("healthd starts with a socket path and an IPv6 HOST:PORT", *both.why)
    expect_line(t, both, "it connects to the local socket", r"gslbd %s: connected" % ctl2, 3)
    expect_line(t, both, "and to [::1] over TCP", r"gslbd \[::1\]:%d: connected" % port6, 3)
    expect_www(t, srv, "the TCP gslbd answers the backup from its reports", BACKUP, 3)
    expect_www(t, local, "the Unix-socket gslbd too", BACKUP, 3)
    p1.set("200")
    expect_www(t, srv, "the TCP gslbd hears the primary recover", PRIMARY, 3)
    expect_www(t, local, "the Unix-socket gslbd too", PRIMARY, 3)

    t.eq("healthd stops with status 0", 0, both.stop())
    t.eq("the local gslbd stops with status 0", 0, local.stop())
    t.eq("gslbd stops with status 0", 0, srv.stop())


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
