#!/usr/bin/env python3
"""test_install.py: gslb installed the way an operator installs it.

`make install DESTDIR=TMP/stage PREFIX=/usr/local` stages the tree; the suite checks
what went where, then runs the staged gslbd with no --geoip: it must load the staged
world database (its log names it, the build tree's geo/world.mmdb is nowhere in what it
looks for) and place ECS clients on three continents by it, as must a copy of the tree
moved elsewhere. With the database hidden, gslbd refuses to start and --check fails
(status 1, the paths tried, --geoip none); --geoip none serves without placing. The
shipped example zone passes --check. The generated systemd units pass `systemd-analyze
verify` (with their commands pointed into the stage, since verify wants them to exist)
and say what the README promises; the sysusers.d file passes `systemd-sysusers
--dry-run` in a scratch root. Readiness notification is real: the test binds the
datagram socket systemd would ($NOTIFY_SOCKET) and receives READY=1 from gslbd and
healthd (sent by their own process, once gslbd answers), RELOADING=1 and READY=1 around
a SIGHUP reload, and STOPPING=1 on SIGTERM. `make uninstall` leaves no file behind,
and man pages given to `make install` land in their section's directory.

Not here: running the units under a real systemd (PID 1 here need not be systemd),
placement in detail (test_geo.py). Nothing is written outside the test's temporary
directory; traffic goes to 127.0.0.1 and ::1 only.
"""

import os
import re
import shutil
import signal
import socket
import struct
import time
from pathlib import Path

import gslbtest as g

PREFIX = "/usr/local"
EXAMPLE_ZONE = g.ROOT / "zones" / "examples" / "gslb.example.com.yaml"
CONTROL = "/run/gslb/control"

# healthd's zone for the notification checks: one member, probed on loopback at a port
# nothing listens on (the example zone's members are documentation addresses).
HC_ZONE = """\
zone: hc.test
soa: {{mname: ns1.example.net, rname: hostmaster.example.net}}
ns: [ns1.example.net]
regions:
  one: {{location: [50, 0], pool: [{{address: 192.0.2.1, probe: "127.0.0.1:{port}"}}], check: web}}
checks:
  web: {{type: http, path: /health, interval: 1s, timeout: 500ms, rise: 1, fall: 1}}
services:
  www: {{regions: [one], ttl: 5}}
"""

# Clients on three continents and the region of the example zone each gets.
PLACES = (("81.2.69.0/24", "London", "198.51.100.10"),
          ("165.21.83.0/24", "Singapore", "203.0.113.10"),
          ("3.80.0.0/16", "United States", "192.0.2.10"))


def make(t, *args, timeout=600):
    """make in the repository, as an operator types it: without the variables of a make
    this suite may run under (`make test`), whose jobserver it would not reach."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return t.run(["make", "-C", g.ROOT, "--no-print-directory"] + list(args), timeout=timeout,
                 env=env)


def files_under(top):
    """Every file (not directory) below top, as paths relative to it, sorted."""
    out = []
    for d, _, names in os.walk(top):
        out += [os.path.relpath(os.path.join(d, n), top) for n in names]
    return sorted(out)


def staged(stage, path):
    """A path of the installed system, inside the stage."""
    return stage / path.lstrip("/")


def unit_settings(path):
    """A unit file as {(section, key): [values]}: continuation lines joined, comments
    dropped, a key given twice kept twice."""
    out, section, text = {}, None, path.read_text()
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault((section, key.strip()), []).append(" ".join(value.split()))
    return out


# ------------------------------------------------------------------ the staged tree


def layout(t, stage):
    """What install put where, with which modes."""
    sbin = staged(stage, PREFIX + "/sbin")
    for prog in ("gslbd", "healthd", "gslbctl"):
        p = sbin / prog
        t.check("installed %s/sbin/%s, mode 755" % (PREFIX, prog),
                p.is_file() and (p.stat().st_mode & 0o777) == 0o755,
                "%s: %s" % (p, oct(p.stat().st_mode) if p.exists() else "missing"))
    db = staged(stage, PREFIX + "/share/gslb/world.mmdb")
    built = g.ROOT / "geo" / "world.mmdb"
    t.check("installed %s/share/gslb/world.mmdb, the database make built" % PREFIX,
            db.is_file() and db.read_bytes() == built.read_bytes(), "%s" % db)
    for rel in ("share/doc/gslb/README.md", "share/doc/gslb/LICENSE",
                "share/doc/gslb/README-data.md", "share/doc/gslb/examples/gslb.example.com.yaml",
                "lib/systemd/system/gslbd.service", "lib/systemd/system/healthd.service",
                "lib/sysusers.d/gslb.conf"):
        p = staged(stage, PREFIX + "/" + rel)
        t.check("installed %s/%s, mode 644" % (PREFIX, rel),
                p.is_file() and (p.stat().st_mode & 0o777) == 0o644, "%s missing" % p)
    pages = sorted(p for p in (g.ROOT / "man").glob("*.[1-8]")) if (g.ROOT / "man").is_dir() else []
    for page in pages:
        want = staged(stage, "%s/share/man/man%s/%s" % (PREFIX, page.suffix[1:], page.name))
        t.check("man/%s installed in man%s" % (page.name, page.suffix[1:]), want.is_file(),
                "%s missing" % want)
    if not pages:
        t.skip("man pages of man/ installed", "no man/*.[1-8] in this tree yet")
    etc = [f for f in files_under(stage) if f.startswith("etc/")]
    t.eq("install writes nothing to /etc", [], etc)


def man_pages(t):
    """MANPAGES given to make install go to manN by their suffix, and uninstall takes
    them away again."""
    pages = [t.write("man/gslbtest.8", ".TH GSLBTEST 8\n"),
             t.write("man/gslb-test.5", ".TH GSLB-TEST 5\n")]
    stage = t.path("stage-man")
    var = "MANPAGES=%s" % " ".join(str(p) for p in pages)
    x = make(t, "install", "DESTDIR=%s" % stage, "PREFIX=" + PREFIX, var)
    t.eq("make install with two man pages: status 0", 0, x.status)
    for sect, name in (("8", "gslbtest.8"), ("5", "gslb-test.5")):
        t.check("man page %s installed in share/man/man%s" % (name, sect),
                staged(stage, "%s/share/man/man%s/%s" % (PREFIX, sect, name)).is_file(),
                x.out[-2000:])
    x = make(t, "uninstall", "DESTDIR=%s" % stage, "PREFIX=" + PREFIX, var)
    t.eq("make uninstall with the same man pages removes every file", [],
         files_under(stage) if x.status == 0 else ["status %s" % x.status, x.out[-2000:]])


# ------------------------------------------------------------------ the database


def placement(t, srv, where):
    for net, place, want in PLACES:
        r = srv.query("www.gslb.example.com", "A", ecs=net)
        r.check_record("%s: a client in %s (%s) gets %s" % (where, place, net, want),
                       "answer", rtype="A", rdata=want)


def database(t, stage):
    gslbd = staged(stage, PREFIX + "/sbin/gslbd")
    zones = staged(stage, PREFIX + "/share/doc/gslb/examples")
    db = staged(stage, PREFIX + "/share/gslb/world.mmdb")

    x = t.run([gslbd, "--zones", zones, "--check"])
    t.eq("the installed example zone passes the installed gslbd --check", 0, x.status)
    t.diag(*x.out.splitlines())

    build_db = str(g.ROOT / "geo" / "world.mmdb")
    t.check("the installed gslbd has no build-tree path in it",
            build_db.encode() not in gslbd.read_bytes(), "found %s in %s" % (build_db, gslbd))

    srv = g.Gslbd(t, "installed", zones=zones, binary=gslbd)
    if t.start(srv, "the installed gslbd starts with no --geoip"):
        t.like("its log names the installed database it loaded",
               r"info: GeoIP database %s \(" % re.escape(str(db)), srv.log())
        placement(t, srv, "installed")
        t.eq("the installed gslbd stops with status 0", 0, srv.stop())

    # The same tree moved: gslbd looks relative to where it is, not where it was built
    # for, nor the stage.
    moved = t.path("moved")
    shutil.copytree(staged(stage, PREFIX), moved, symlinks=True)
    srv = g.Gslbd(t, "moved", zones=moved / "share/doc/gslb/examples",
                  binary=moved / "sbin/gslbd")
    if t.start(srv, "a moved copy of the installed tree starts with no --geoip"):
        t.like("the moved gslbd loads the database next to it",
               r"info: GeoIP database %s \(" % re.escape(str(moved / "share/gslb/world.mmdb")),
               srv.log())
        placement(t, srv, "moved")
        srv.stop()

    # The build tree's bin/gslbd finds geo/world.mmdb the same way.
    x = t.run([g.procs.GSLBD, "--zones", EXAMPLE_ZONE, "--explain", "81.2.69.0/24",
               "www.gslb.example.com"])
    t.like("bin/gslbd with no --geoip places by the build tree's geo/world.mmdb",
           r"of %s \(gslb-World" % re.escape(build_db), x.out)

    missing(t, gslbd, zones, db)


def missing(t, gslbd, zones, db):
    """The installed database hidden: an error, unless --geoip none."""
    fallback = PREFIX + "/share/gslb/world.mmdb"
    hidden = db.with_name("world.mmdb.hidden")
    os.rename(db, hidden)
    try:
        if os.path.exists(fallback):
            t.skip("with the database gone, --check exits 1",
                   "%s exists on this machine and would be found" % fallback)
        else:
            tried = [str(db), str(db.parents[2] / "geo/world.mmdb"), fallback]
            x = t.run([gslbd, "--zones", zones, "--check"])
            t.eq("with the database gone, --check exits 1", 1, x.status)
            t.like("... and names every path it tried, in order, and --geoip none",
                   r"error: no GeoIP database: .* in none of %s; .*--geoip none"
                   % re.escape(", ".join(tried)), x.out)
            srv = g.Gslbd(t, "nodb", zones=zones, binary=gslbd)
            x = srv.run("--zones", zones, *srv.listen_args())
            t.eq("with the database gone, gslbd does not start: status 1", 1, x.status)
            t.like("... and says why", r"error: no GeoIP database: ", x.out)
            t.unlike("... and never looks in the build tree",
                     re.escape(str(g.ROOT / "geo")), x.out)
        x = t.run([gslbd, "--zones", zones, "--check", "--geoip", "none"])
        t.eq("--geoip none: --check exits 0 without a database", 0, x.status)
        srv = g.Gslbd(t, "none", zones=zones, binary=gslbd, args=["--geoip", "none"])
        if t.start(srv, "--geoip none: gslbd starts without a database"):
            t.like("... and logs that clients are not placed",
                   r"info: no GeoIP database \(--geoip none\): clients are not placed",
                   srv.log())
            r = srv.query("www.gslb.example.com", "A", ecs="81.2.69.0/24")
            r.check_record("--geoip none: London is not placed and gets the first listed "
                           "region, us-east", "answer", rtype="A", rdata="192.0.2.10")
            t.eq("--geoip none: gslbd stops with status 0", 0, srv.stop())
    finally:
        os.rename(hidden, db)


# ------------------------------------------------------------------ systemd


def units(t, stage):
    unitdir = staged(stage, PREFIX + "/lib/systemd/system")
    gslbd, healthd = unitdir / "gslbd.service", unitdir / "healthd.service"
    for u in (gslbd, healthd):
        t.unlike("%s: every @PLACEHOLDER@ filled in" % u.name, r"@[A-Z]+@", u.read_text())
    s = unit_settings(gslbd)
    h = unit_settings(healthd)
    sbin = PREFIX + "/sbin"
    want = {
        ("gslbd", "Service", "Type"): ["notify"],
        ("gslbd", "Service", "User"): ["gslb"],
        ("gslbd", "Service", "AmbientCapabilities"): ["CAP_NET_BIND_SERVICE"],
        ("gslbd", "Service", "CapabilityBoundingSet"): ["CAP_NET_BIND_SERVICE"],
        ("gslbd", "Service", "RuntimeDirectory"): ["gslb"],
        ("gslbd", "Service", "StateDirectory"): ["gslb"],
        ("gslbd", "Service", "ProtectSystem"): ["strict"],
        ("gslbd", "Service", "NoNewPrivileges"): ["yes"],
        ("gslbd", "Service", "RestrictAddressFamilies"): ["AF_UNIX AF_INET AF_INET6"],
        ("gslbd", "Service", "ExecReload"): ["%s/gslbctl --control %s reload" % (sbin, CONTROL)],
        ("healthd", "Service", "Type"): ["notify"],
        ("healthd", "Service", "User"): ["gslb"],
        ("healthd", "Service", "ExecStart"):
            ["%s/healthd --zones /etc/gslb/zones --gslbd %s" % (sbin, CONTROL)],
        ("healthd", "Service", "CapabilityBoundingSet"): [""],
        ("healthd", "Unit", "Wants"): ["network-online.target gslbd.service"],
        ("healthd", "Unit", "After"): ["network-online.target gslbd.service"],
    }
    for (unit, section, key), value in want.items():
        got = (s if unit == "gslbd" else h).get((section, key))
        t.eq("%s.service: %s=%s" % (unit, key, " ".join(value)), value, got)
    start = " ".join(s.get(("Service", "ExecStart"), [""]))
    t.like("gslbd.service: ExecStart runs the installed gslbd on /etc/gslb/zones, port 53, "
           "the control socket in /run/gslb and the overrides in /var/lib/gslb",
           r"^%s/gslbd --zones /etc/gslb/zones --listen 0\.0\.0\.0:53 --listen \[::\]:53 "
           r"--control %s --overrides /var/lib/gslb/overrides$" % (re.escape(sbin), CONTROL),
           start)
    x = t.run([staged(stage, sbin + "/gslbctl"), "--help"])
    t.like("the installed gslbctl takes --control, as ExecReload spells it", r"--control PATH",
           x.out)
    verify(t, stage, unitdir)
    sysusers(t, stage)


def verify(t, stage, unitdir):
    if shutil.which("systemd-analyze") is None:
        t.skip("systemd-analyze verify passes on the units",
               "systemd-analyze is not installed (Debian: systemd; make deps)")
        return
    # verify checks that each command exists: point them into the stage.
    vdir = t.path("verify")
    vdir.mkdir()
    for name in ("gslbd.service", "healthd.service"):
        text = (unitdir / name).read_text()
        (vdir / name).write_text(text.replace(PREFIX + "/sbin/",
                                              str(staged(stage, PREFIX + "/sbin")) + "/"))
    env = dict(os.environ, SYSTEMD_LOG_COLOR="0")
    argv = ["systemd-analyze", "verify", "--man=no", vdir / "gslbd.service",
            vdir / "healthd.service"]
    x = t.run(argv, timeout=60, env=env)
    if x.status != 0 and re.search(r"Failed to (initialize|create).*manager|Permission denied",
                                   x.out):
        t.skip("systemd-analyze verify passes on the units",
               "systemd-analyze cannot run here: %s" % x.out.strip().splitlines()[-1])
        return
    t.check("systemd-analyze verify passes on gslbd.service and healthd.service, silently",
            x.status == 0 and x.out.strip() == "", "status %s" % x.status, x.out)

    # The check above is only worth something if verify speaks up: a unit with an
    # unknown key and a missing command must not pass silently.
    bad = vdir / "broken.service"
    bad.write_text("[Service]\nType=notify\nExecStart=/nonexistent/gslbd\nBogusKey=1\n")
    x = t.run(["systemd-analyze", "verify", "--man=no", bad], timeout=60, env=env)
    t.check("systemd-analyze verify fails on a broken unit (the check has teeth)",
            x.status != 0 and "BogusKey" in x.out, "status %s" % x.status, x.out)

    pages = [g.ROOT / "man" / "gslbd.8", g.ROOT / "man" / "healthd.8"]
    if all(p.is_file() for p in pages) and shutil.which("man"):
        env_man = dict(env, MANPATH=str(staged(stage, PREFIX + "/share/man")))
        x = t.run(["systemd-analyze", "verify", "--man=yes", vdir / "gslbd.service",
                   vdir / "healthd.service"], timeout=60, env=env_man)
        t.check("the units' Documentation= man pages are installed (verify --man=yes)",
                x.status == 0 and x.out.strip() == "", "status %s" % x.status, x.out)
    else:
        t.skip("the units' Documentation= man pages are installed",
               "man/gslbd.8 and man/healthd.8 are not in this tree yet, or man is missing")


def sysusers(t, stage):
    conf = staged(stage, PREFIX + "/lib/sysusers.d/gslb.conf")
    if shutil.which("systemd-sysusers") is None:
        t.skip("systemd-sysusers accepts gslb.conf", "systemd-sysusers is not installed")
        return
    root = t.path("sysroot")
    (root / "etc").mkdir(parents=True)
    x = t.run(["systemd-sysusers", "--dry-run", "--root", root, conf], timeout=30)
    t.check("systemd-sysusers --dry-run accepts gslb.conf", x.status == 0, x.out)
    t.like("... which makes the system user gslb with a group of its own",
           r"Creating user '?gslb'? .*GID", x.out)
    t.eq("... and --dry-run wrote nothing into the scratch root", [], files_under(root))


# ------------------------------------------------------------------ sd_notify


class NotifySocket:
    """The datagram socket systemd gives a Type=notify service ($NOTIFY_SOCKET), with
    SO_PASSCRED so each message comes with the sender's pid, as systemd checks it."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)

    def env(self):
        return dict(os.environ, NOTIFY_SOCKET=self.path)

    def wait(self, key, timeout=10.0):
        """The next message holding the line KEY=... within timeout (earlier ones are
        dropped): ({key: value}, sender pid), or (None, None)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                break
            pid = None
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", value[:12])[0]
            fields = dict(line.split("=", 1) for line in data.decode().splitlines()
                          if "=" in line)
            if key in fields:
                return fields, pid
        return None, None

    def close(self):
        self.sock.close()


def exit_status(daemon, timeout=None):
    """The exit status of a daemon already sent SIGTERM: waited for (bounded), with no
    second signal (stop() would send one, and systemd sends one only)."""
    limit = timeout if timeout is not None else daemon.stop_timeout()
    g.until(lambda: not daemon.alive(), limit)
    return daemon.stop()


def notify(t, stage):
    gslbd = staged(stage, PREFIX + "/sbin/gslbd")
    healthd = staged(stage, PREFIX + "/sbin/healthd")
    hc = t.write("hc/hc.test.yaml", HC_ZONE.format(port=g.free_port()))
    zones = t.path("notify-zones")
    zones.mkdir()
    shutil.copy(staged(stage, PREFIX + "/share/doc/gslb/examples/gslb.example.com.yaml"), zones)
    shutil.copy(hc, zones)
    ns = NotifySocket(t.path("notify-gslbd"))
    srv = g.Gslbd(t, "notify", zones=zones, binary=gslbd,
                  args=["--control", t.path("control"), "--threads", 1])
    srv.env = ns.env()
    # Started without waiting for its "ready:" line: READY=1 alone must mean it serves.
    srv.ready = None
    if not t.start(srv, "gslbd starts with NOTIFY_SOCKET set"):
        return
    msg, pid = ns.wait("READY", g.READY_TIMEOUT)
    if msg is None:
        t.bail("gslbd sends READY=1", *srv.log().splitlines()[-20:])
    t.eq("gslbd sends READY=1", "1", msg.get("READY"))
    t.eq("... from its main process, as NotifyAccess=main requires", srv.pid, pid)
    r = srv.query("www.gslb.example.com", "A", ecs="81.2.69.0/24")
    r.check_record("a query sent the moment READY=1 came is answered", "answer", rtype="A",
                   rdata="198.51.100.10")
    t.like("... with a STATUS= line saying what it serves", r"^serving 2 zones ",
           (msg or {}).get("STATUS", ""))

    srv.reload()
    msg, _ = ns.wait("RELOADING")
    t.check("SIGHUP: gslbd sends RELOADING=1 with MONOTONIC_USEC",
            msg is not None and re.fullmatch(r"[0-9]+", msg.get("MONOTONIC_USEC", "")), msg)
    msg, _ = ns.wait("READY")
    t.check("... then READY=1 once the reload is done", msg is not None, "no READY=1")

    hns = NotifySocket(t.path("notify-healthd"))
    hd = g.Healthd(t, "healthd", zones=hc.parent, gslbd=[t.path("control")], binary=healthd)
    hd.env = hns.env()
    if t.start(hd, "healthd starts with NOTIFY_SOCKET set"):
        msg, pid = hns.wait("READY")
        t.check("healthd sends READY=1 with a STATUS= line",
                msg is not None and msg.get("STATUS", "").startswith("probing "), msg)
        t.eq("... from its main process", hd.pid, pid)
        hd.reload()
        msg, _ = hns.wait("RELOADING")
        t.check("SIGHUP: healthd sends RELOADING=1", msg is not None, "no RELOADING=1")
        msg, _ = hns.wait("READY")
        t.check("... then READY=1", msg is not None, "no READY=1")
        hd.signal(signal.SIGTERM)
        msg, pid = hns.wait("STOPPING")
        t.check("SIGTERM: healthd sends STOPPING=1", msg is not None, "no STOPPING=1")
        t.eq("healthd stops with status 0", 0, exit_status(hd))
    hns.close()

    srv.signal(signal.SIGTERM)
    msg, pid = ns.wait("STOPPING")
    t.check("SIGTERM: gslbd sends STOPPING=1", msg is not None, "no STOPPING=1")
    t.eq("gslbd stops with status 0", 0, exit_status(srv))
    ns.close()


# ------------------------------------------------------------------ main


def uninstall(t, stage):
    x = make(t, "uninstall", "DESTDIR=%s" % stage, "PREFIX=" + PREFIX)
    t.eq("make uninstall: status 0", 0, x.status)
    t.eq("make uninstall leaves no file behind", [], files_under(stage))
    for d in ("share/gslb", "share/doc/gslb"):
        t.check("make uninstall removes gslb's own directory %s/%s" % (PREFIX, d),
                not staged(stage, PREFIX + "/" + d).exists(), "still there")


def main(t):
    # As the kernel names the running executable (/proc/self/exe): symlinks resolved.
    stage = Path(os.path.realpath(t.path("stage")))
    x = make(t, "install", "DESTDIR=%s" % stage, "PREFIX=" + PREFIX)
    if x.status != 0:
        t.bail("make install DESTDIR=... PREFIX=%s: status 0" % PREFIX, x.out[-3000:])
    t.ok("make install DESTDIR=... PREFIX=%s: status 0" % PREFIX)
    layout(t, stage)
    database(t, stage)
    units(t, stage)
    notify(t, stage)
    uninstall(t, stage)
    man_pages(t)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
