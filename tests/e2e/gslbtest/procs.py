"""gslbtest.procs: the processes a test starts: gslbd, healthd, nginx, helpers; gslbctl.

Daemon is the general case: a command started in the background with its output in the
test's temporary directory, a readiness pattern waited for (bounded), a stop with the
exit status (SIGTERM, bounded wait, SIGKILL), SIGHUP reloads, stalls (SIGSTOP for a
while, then SIGCONT) and bounded waits for log lines. Gslbd, Healthd and Nginx add their
command lines and conveniences; Gslbctl runs the control client to completion. Backend
(an HTTP(S) server whose behaviour a file sets) and FakeGslbd (a control socket that
records what healthd sends) are the stand-ins of gslbtest/stubs.py; self_signed() makes
a certificate for an HTTPS Backend. Every started process is registered with the Test,
which stops it at the end whatever happens.

The project's daemons (gslbd, healthd) run under GSLBD_WRAPPER when it is set (say
"valgrind -q --error-exitcode=99"), their stderr goes to TMP/NAME.log, which the Test
scans for sanitizer and valgrind reports, and their stdout to TMP/NAME.log.stdout.
Helpers (sanitized=False) write both to TMP/NAME.out, which is not scanned.

gslbd and healthd start each line on stderr with the time, "2025-06-01T12:00:00.123Z "
(common/log.h). log(), wait_log() and the one-shot run()s hand the suites the lines
without it, so that what a suite matches ("^gslbd: warning: ...", "^FILE:LINE:COL:
error: ...") is the message, as it reads under the journal or syslog too; log(raw=True)
is the file as written, for the suite about the format itself (test_logging.py).

It sends nothing itself; DNS traffic is gslbtest.dnsq's and gslbtest.net's, and goes to
127.0.0.1 and ::1 only.
"""

import http.client
import math
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import dnsq, net
from .tap import READY_TIMEOUT, ROOT, Result, until


# The time gslbd and healthd put before each line on stderr (common/log.c, log_prefix).
_STAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z ", re.M)


def untimed(text):
    """`text` with the time removed from the start of every line that has one."""
    return _STAMP.sub("", text)


def _binary(env, default):
    return os.environ.get(env) or str(ROOT / default)


GSLBD = _binary("GSLBD", "bin/gslbd")
HEALTHD = _binary("HEALTHD", "bin/healthd")
GSLBCTL = _binary("GSLBCTL", "bin/gslbctl")
NGINX = os.environ.get("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
HAPROXY = os.environ.get("HAPROXY") or shutil.which("haproxy") or "/usr/sbin/haproxy"
AB = os.environ.get("AB") or shutil.which("ab") or "/usr/bin/ab"


def wrapper():
    """GSLBD_WRAPPER as an argument list (empty when unset)."""
    return shlex.split(os.environ.get("GSLBD_WRAPPER", ""))


_handed_out = set()


def _ephemeral_low():
    """The lowest port the kernel gives out on its own (connect() without bind())."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A port free for UDP and TCP on both 127.0.0.1 and ::1 now, never the same twice in
    one script, and below the kernel's ephemeral range: a daemon restarted on its port
    (twin()) must not find it taken by a probe's outgoing connection, which healthd makes
    every interval. Another process may still take it before the daemon binds it: Gslbd
    retries with a new port when its bind fails."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    top = max(_ephemeral_low(), 20000 + 4096)
    for _ in range(200):
        port = rng.randrange(20000, top)
        if port in _handed_out:
            continue
        socks = []
        try:
            for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(family, kind)
                    socks.append(s)
                    if family == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((host, port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found in 200 tries")


class Daemon:
    """A background process of a test.

    test      the Test (for tmp, clean-up and reports)
    name      names its log: TMP/NAME.log (sanitized) or TMP/NAME.out (helpers)
    argv      the command; subclasses build it in command() instead
    ready     regular expression that says it serves, looked for in its log (None: none)
    wrap      put GSLBD_WRAPPER in front (the project's daemons)
    sanitized stderr to NAME.log (scanned for reports), stdout to NAME.log.stdout;
              otherwise both to NAME.out
    host      a gslbtest.netns Host to run it in (ip netns exec), or None: here
    """

    def __init__(self, test, name, argv=None, ready=r"ready:", wrap=False, sanitized=False,
                 env=None, cwd=None, host=None):
        self.test = test
        self.name = name
        self.host = host
        self.argv = [str(a) for a in argv] if argv else None
        self.ready = ready
        self.wrap = wrap and bool(wrapper())
        self.sanitized = sanitized
        self.env = env
        self.cwd = cwd
        self.proc = None
        self.status = None
        self.why = []
        self._log_from = 0
        if sanitized:
            self.log_path = test.path(name + ".log")
            self.out_path = test.path(name + ".log.stdout")
        else:
            self.log_path = self.out_path = test.path(name + ".out")

    # ------------------------------------------------------------- starting

    def command(self):
        """The argument list to run (without the wrapper)."""
        return list(self.argv)

    def start(self, timeout=None):
        """Start and wait (at most `timeout`, default E2E_READY_TIMEOUT) for the readiness
        pattern in the log written since this start. True when ready; otherwise False,
        with the reason and the log's head in self.why, and the process stopped."""
        self.why = []
        argv = (self.host.prefix() if self.host else []) + \
            (wrapper() if self.wrap else []) + self.command()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        err = open(self.log_path, "ab")
        out = err if self.out_path == self.log_path else open(self.out_path, "ab")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, env=self.env, cwd=self.cwd)
        except OSError as e:
            self.why = ["cannot run %s: %s" % (argv[0], e)]
            return False
        finally:
            err.close()
            if out is not err:
                out.close()
        self.status = None
        self.test.register(self)
        if self.ready is None:
            return True
        limit = READY_TIMEOUT if timeout is None else timeout
        if self.wait_log(self.ready, limit, since=self._log_from):
            return True
        if self.alive():
            self.why = ["%s not ready after %gs" % (self.name, limit)]
        else:
            self.why = ["%s exited with status %s before ready" % (self.name, self.stop())]
        self.stop_quietly()
        self.why += ["command: " + shlex.join(argv), "log:"]
        self.why += self.log(since=self._log_from).splitlines()[:40]
        return False

    # ------------------------------------------------------------- state and signals

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum):
        """Send a signal; False when the process is not running."""
        if not self.alive():
            return False
        self.proc.send_signal(signum)
        return True

    def reload(self):
        """SIGHUP (a reload for gslbd and healthd)."""
        return self.signal(signal.SIGHUP)

    def stall(self, seconds):
        """Stop the process (SIGSTOP) for `seconds`, then let it go on (SIGCONT, sent
        whatever happens meanwhile): a process that gets no CPU for a while, as under a
        loaded machine. False when it is not running."""
        if not self.signal(signal.SIGSTOP):
            return False
        try:
            time.sleep(seconds)
        finally:
            self.signal(signal.SIGCONT)
        return True

    def stop_timeout(self):
        """Seconds a clean stop may take: 5, or 60 under a wrapper such as valgrind,
        whose leak check at exit is slow (as lib.sh)."""
        return 60.0 if self.wrap else 5.0

    def terminate(self):
        """SIGTERM without waiting (Test.stop_all sends it to all first)."""
        self.signal(signal.SIGTERM)

    def stop(self, timeout=None):
        """SIGTERM, wait up to `timeout` (default stop_timeout()), then SIGKILL.
        Returns the exit status: an int (128+N for death by signal N, as the shell
        reports it), "killed" when it had to be killed, or None when never started."""
        if self.proc is None:
            return None
        self.test.forget(self)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            # A stopped process (stall() cut short) acts on SIGTERM only once continued.
            self.proc.send_signal(signal.SIGCONT)
            try:
                self.proc.wait(self.stop_timeout() if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.status = "killed"
                return self.status
        code = self.proc.returncode
        self.status = code if code >= 0 else 128 - code
        return self.status

    def stop_quietly(self):
        """stop() for clean-up: a shorter wait (3 s) unless wrapped."""
        self.stop(None if self.wrap else 3.0)

    # ------------------------------------------------------------- the log

    def log(self, since=0, raw=False):
        """The log's text from byte offset `since` ("" when there is none yet), each
        line without the time the daemons put first (raw=True: as written)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return text if raw else untimed(text)

    def mark(self):
        """The log's current size: pass it as `since` to look only at what comes next."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def wait_log(self, pattern, timeout=3.0, since=0):
        """Wait (bounded, polling every 50 ms) for `pattern` (a regular expression,
        re.M) in the log after offset `since`. Returns the match or None. Stops
        waiting early, after one last look, when the process has exited."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern, re.M)
        while True:
            m = rx.search(self.log(since))
            if m:
                return m
            if time.monotonic() >= deadline:
                return None
            if self.proc is not None and self.proc.poll() is not None:
                m = rx.search(self.log(since))
                return m
            time.sleep(0.05)


class Gslbd(Daemon):
    """bin/gslbd serving `zones` on `port` (default: a free one) of each of `addresses`.

    args are more command-line options (["--tcp-timeout", 1]). The DNS methods send to
    this server: query(), send_raw(), pipeline(), keepopen(), idle_close(), tcp_cap(),
    load(), dig(); see gslbtest.dnsq and gslbtest.net for their arguments. With host (a
    gslbtest.netns Host) it runs in that namespace, addresses being the host's; ask it
    from another Host (Host.exchange), as these methods send to loopback here.
    """

    def __init__(self, test, name="gslbd", zones=None, args=(), port=None,
                 addresses=("127.0.0.1", "::1"), binary=None, host=None):
        super().__init__(test, name, ready=r"ready:", wrap=True, sanitized=True, host=host)
        self.binary = binary or GSLBD
        self.zones = zones
        self.args = [str(a) for a in args]
        self.addresses = addresses
        self._own_port = port is None
        self.port = port if port is not None else free_port()

    def listen_args(self):
        out = []
        for addr in self.addresses:
            out += ["--listen", ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, self.port)]
        return out

    def command(self):
        argv = [self.binary]
        if self.zones is not None:
            argv += ["--zones", str(self.zones)]
        return argv + self.listen_args() + self.args

    def start(self, timeout=None):
        """As Daemon.start; a port picked here that someone else took meanwhile is
        replaced by a new one (three tries). A port given to the constructor (a restart,
        see twin()) is kept: while it is free, another program's connection or query may
        be given it as its local port for a moment, so a bind that fails with "Address
        already in use" is tried again, up to 10 times in about 3 s."""
        tries = 3 if self._own_port else 10
        for _ in range(tries):
            if super().start(timeout):
                return True
            if self._own_port and any("cannot listen" in w for w in self.why):
                self.port = free_port()
            elif not self._own_port and any("Address already in use" in w
                                             for w in self.why):
                time.sleep(0.3)
            else:
                return False
        return False

    def twin(self, name):
        """A new Gslbd with this one's command line (zones, port, addresses, args) and a
        log of its own (TMP/NAME.log): what a restart starts once this one has stopped."""
        return Gslbd(self.test, name, zones=self.zones, args=self.args, port=self.port,
                     addresses=self.addresses, binary=self.binary, host=self.host)

    # ------------------------------------------------------------- DNS

    def query(self, qname, qtype="A", transport="udp4", **kw):
        """dnsq.query() to this server: a Response with Knot-style checks."""
        return dnsq.query(self.port, qname, qtype, transport=transport, test=self.test, **kw)

    def send_raw(self, wire, transport="udp4", **kw):
        """dnsq.send_raw(): the bytes as they are (broken packets)."""
        return dnsq.send_raw(self.port, wire, transport=transport, test=self.test, **kw)

    def pipeline(self, queries, transport="tcp4", **kw):
        """dnsq.pipeline(): several queries in one write on one TCP connection."""
        return dnsq.pipeline(self.port, queries, transport=transport, test=self.test, **kw)

    def keepopen(self, queries, transport="tcp4", **kw):
        """dnsq.keepopen(): queries one after another on one TCP connection."""
        return dnsq.keepopen(self.port, queries, transport=transport, test=self.test, **kw)

    def idle_close(self, transport="tcp4", query=None, max_wait=10.0, timeout=2.0):
        """net.idle_close(): seconds until the server closes a connection left idle, or
        None when it is still open after max_wait. query=(qname, qtype) is asked and
        answered first."""
        first = None if query is None else dnsq.make_query(*query).to_wire()
        return net.idle_close(net.host_of(transport), self.port, first, max_wait, timeout)

    def tcp_cap(self, conns, transport="tcp4", qname="www.gslb.example.com", qtype="A",
                timeout=1.0):
        """net.tcp_cap(): `conns` connections, a query on each; a TcpCapResult."""
        return net.tcp_cap(net.host_of(transport), self.port, conns,
                           lambda: dnsq.make_query(qname, qtype, edns=None).to_wire(), timeout)

    def load(self, qname="www.gslb.example.com", qtype="A", transport="udp4", edns=None,
             ecs=None, **kw):
        """net.load(): a bounded load of qname/qtype queries (no EDNS unless edns is a
        version, or ecs is given); ecs a Client Subnet ("81.2.69.0/24") in every query,
        with EDNS version 0 unless edns says otherwise; count, parallel, deadline,
        timeout, expect, every, action as there. A LoadResult; its tally counts the
        answers (how a policy shares them out)."""
        if ecs is not None and edns is None:
            edns = 0
        return net.load(net.host_of(transport), self.port,
                        lambda: dnsq.make_query(qname, qtype, edns=edns, ecs=ecs),
                        tcp=transport.startswith("tcp"), **kw)

    def dig(self, *args, transport="udp4", **kw):
        """dnsq.dig(): the real dig, for tests about dig itself."""
        return dnsq.dig(self.port, *args, transport=transport, **kw)

    # ------------------------------------------------------------- one-shot runs

    def run(self, *args, timeout=20):
        """bin/gslbd with these arguments only (--check, --explain, --version), run to
        completion: a Result(status, out), the out without the times of a start's log."""
        r = self.test.run([self.binary] + [str(a) for a in args], timeout=timeout)
        return Result(r.status, untimed(r.out))

    def check_zones(self, path, timeout=20):
        """gslbd --zones PATH --check: Result(status, out)."""
        return self.run("--zones", path, "--check", timeout=timeout)


class Healthd(Daemon):
    """bin/healthd probing `zones` and reporting to each control socket (or HOST:PORT) in
    `gslbd`; with host (a gslbtest.netns Host), from inside that namespace."""

    def __init__(self, test, name="healthd", zones=None, gslbd=(), args=(), binary=None,
                 host=None):
        super().__init__(test, name, ready=r"ready:", wrap=True, sanitized=True, host=host)
        self.binary = binary or HEALTHD
        self.zones = zones
        self.gslbd = [str(g) for g in gslbd]
        self.args = [str(a) for a in args]

    def command(self):
        argv = [self.binary]
        if self.zones is not None:
            argv += ["--zones", str(self.zones)]
        for control in self.gslbd:
            argv += ["--gslbd", control]
        return argv + self.args

    def run(self, *args, timeout=20):
        """bin/healthd with these arguments only (--version, a bad command line), run to
        completion: a Result(status, out), the out without the times of its log."""
        r = self.test.run([self.binary] + [str(a) for a in args], timeout=timeout)
        return Result(r.status, untimed(r.out))


class Gslbctl:
    """bin/gslbctl against one control socket: run("status"), run("drain", "eu-west")."""

    def __init__(self, test, control, binary=None):
        self.test = test
        self.control = str(control)
        self.binary = binary or GSLBCTL

    def run(self, *args, timeout=10):
        """Result(status, out) of `gslbctl --control CONTROL ARGS...`."""
        return self.test.run([self.binary, "--control", self.control] + list(args),
                             timeout=timeout)


class Nginx(Daemon):
    """A real nginx standing in for a region's balancer (as tools/nginx.sh, for the demo).

    One foreground, single-process nginx in TMP/nginx/NAME with its own configuration,
    pid file, logs and temporary files, listening on 127.0.0.1:port (a free port, tried
    up to five times). /health answers 503 while fail() is in force, 200 otherwise; /
    answers "region NAME". The system's nginx (/etc/nginx, port 80) is never touched.

    With host (a gslbtest.netns Host) it runs in that namespace and listens on the
    host's address, port 80 (the namespace's own); get() and health() then ask from the
    host itself.

    For the load-feedback tests, each off unless asked (the configuration is otherwise
    tools/nginx.sh's):
    stub_status  /stub_status: nginx's own connection counts (stub_status() reads them)
    slow         /slow: an 8 KiB file sent at this many bytes a second (nginx's
                 limit_rate, so 2048 makes each request last about 4 s): a load
                 generator holds N connections busy while nginx and it idle
    metrics      /metrics: this text, a Prometheus exposition the test rewrites with
                 set_metrics() (as an Envoy's admin page would change)
    """

    SLOW_BYTES = 8192

    def __init__(self, test, name, binary=None, stub_status=False, slow=None, metrics=None,
                 host=None):
        self.dir = test.path("nginx", name)
        super().__init__(test, "nginx-" + name, ready=None, wrap=False, sanitized=False,
                         host=host)
        self.log_path = self.out_path = self.dir / "nginx.out"
        self.region = name
        self.binary = binary or NGINX
        self.port = None
        self.with_stub_status = stub_status
        self.slow_rate = slow
        self.metrics_text = metrics

    def conf(self):
        d = self.dir
        temps = "\n".join("    %s_temp_path \"%s/tmp/%s\";" % (k, d, k.split("_")[0])
                          for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return """# nginx for the gslb region "{name}": written and stopped by gslbtest.
daemon off;
master_process off;
worker_processes 1;
pid "{d}/nginx.pid";
error_log "{d}/error.log" notice;
events {{
    worker_connections 128;
}}
http {{
    access_log "{d}/access.log";
    default_type text/plain;
{temps}
    server {{
        listen {addr}:{port};
        server_name {name};
        location = /health {{
            if (-f "{d}/down") {{
                return 503 "{name}: down\\n";
            }}
            return 200 "{name}: ok\\n";
        }}
        location / {{
            return 200 "region {name}\\n";
        }}
{extras}    }}
}}
""".format(name=self.region, d=d, port=self.port, temps=temps, extras=self.extras(),
           addr=self.host.addr if self.host else "127.0.0.1")

    def extras(self):
        """The locations asked of the constructor, each indented for the server block."""
        d = self.dir
        out = ""
        if self.with_stub_status:
            out += "        location = /stub_status {\n            stub_status;\n        }\n"
        if self.slow_rate is not None:
            # limit_rate paces the body; the request stays open (and counted by
            # stub_status and by a balancer in front) for SLOW_BYTES / rate seconds.
            out += ("        location = /slow {\n            alias \"%s/slow.bin\";\n"
                    "            default_type application/octet-stream;\n"
                    "            limit_rate %d;\n        }\n" % (d, self.slow_rate))
        if self.metrics_text is not None:
            out += ("        location = /metrics {\n            alias \"%s/metrics.txt\";\n"
                    "            default_type \"text/plain; version=0.0.4\";\n"
                    "        }\n" % d)
        return out

    def command(self):
        # -e: nginx's own start-up messages go to the instance's log, not to our stderr.
        return [self.binary, "-p", "%s/" % self.dir, "-c", str(self.dir / "nginx.conf"),
                "-e", str(self.dir / "error.log")]

    def start(self, timeout=5.0):
        """Start and wait (bounded) until /health answers from this process."""
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.heal()
        if self.slow_rate is not None:
            (self.dir / "slow.bin").write_bytes(b"x" * self.SLOW_BYTES)
        if self.metrics_text is not None:
            self.set_metrics(self.metrics_text)
        if not os.access(self.binary, os.X_OK):
            self.why = ["no nginx at %s (make deps installs it)" % self.binary]
            return False
        for _ in range(5):
            if self.host is not None:
                self.port = 80  # the host's own namespace: free
            else:
                probe = socket.socket()
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
                probe.close()
            (self.dir / "nginx.conf").write_text(self.conf())
            if not super().start():
                return False
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.alive():
                if self.health() in (200, 503) and self.alive():
                    return True
                time.sleep(0.1)
            self.stop_quietly()
        self.why = ["nginx %s did not serve after 5 tries" % self.region] + \
            self.log().splitlines()[-20:]
        return False

    def fail(self):
        """Make /health answer 503."""
        (self.dir / "down").touch()

    def heal(self):
        """Make /health answer 200 again."""
        try:
            (self.dir / "down").unlink()
        except FileNotFoundError:
            pass

    def get(self, path="/", timeout=2.0):
        """GET path from this nginx: (status code, body text); (0, "") without an answer."""
        if self.host is not None:
            return self.host.http_get(self.host.addr, self.port, path, timeout)
        return _get(self.port, path, timeout)

    def health(self, timeout=2.0):
        """The status code /health answers now (0: no answer)."""
        return self.get("/health", timeout)[0]

    def requests(self):
        """How many requests this nginx has logged (lines of its access log)."""
        try:
            with open(self.dir / "access.log", "rb") as f:
                return sum(1 for _ in f)
        except OSError:
            return 0

    def stub_status(self, timeout=2.0):
        """/stub_status read: {"active", "accepts", "handled", "requests", "reading",
        "writing", "waiting"} as ints, or None without an answer in nginx's format."""
        status, body = self.get("/stub_status", timeout)
        m = re.match(r"Active connections: (\d+) \n"
                     r"server accepts handled requests\n (\d+) (\d+) (\d+) \n"
                     r"Reading: (\d+) Writing: (\d+) Waiting: (\d+) ", body)
        if status != 200 or not m:
            return None
        keys = ("active", "accepts", "handled", "requests", "reading", "writing", "waiting")
        return dict(zip(keys, (int(v) for v in m.groups())))

    def set_metrics(self, text):
        """What /metrics serves from the next request on (written aside and renamed, so a
        reader never gets half of it)."""
        self.metrics_text = text
        aside = self.dir / ".metrics.txt"
        aside.write_text(text)
        os.replace(aside, self.dir / "metrics.txt")


def _get(port, path, timeout=2.0):
    """GET http://127.0.0.1:PORT/PATH: (status, body text); (0, "") without an answer."""
    return http_get_on(http.client.HTTPConnection("127.0.0.1", port, timeout=timeout), path)


def http_get_on(conn, path):
    """GET `path` on an http.client connection, closed after: (status, body text); (0, "")
    without an answer."""
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, reply.read().decode(errors="replace")
    except (OSError, http.client.HTTPException):
        return 0, ""
    finally:
        conn.close()


class HAProxy(Daemon):
    """A real HAProxy in front of a region's nginx, as a region's balancer.

    One foreground haproxy (haproxy -db -f TMP/haproxy/NAME/haproxy.cfg) with a
    configuration of its own: frontend "fe" on 127.0.0.1:port passing HTTP to backend
    "web", whose one server is 127.0.0.1:server_port; a stats listener on
    127.0.0.1:stats_port with the report at /stats and its CSV at /stats;csv. Both ports
    are free ones, replaced (three tries) when haproxy cannot bind them. Ready when the
    stats page answers. /etc/haproxy and the package's service are never touched.
    """

    def __init__(self, test, name, server_port, binary=None):
        self.dir = test.path("haproxy", name)
        super().__init__(test, "haproxy-" + name, ready=None, wrap=False, sanitized=False)
        self.log_path = self.out_path = self.dir / "haproxy.out"
        self.binary = binary or HAPROXY
        self.server_port = server_port
        self.port = self.stats_port = None

    def conf(self):
        # Timeouts are written out: haproxy warns without them, and the defaults would
        # let a connection hang for ever. maxconn well above what a test holds open.
        return """# haproxy for the gslb test "{name}": written and stopped by gslbtest.
global
    maxconn 512
    log stderr format short local0 notice
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
frontend fe
    bind 127.0.0.1:{port}
    default_backend web
backend web
    server {name} 127.0.0.1:{server_port}
frontend stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
""".format(name=self.name, port=self.port, stats_port=self.stats_port,
           server_port=self.server_port)

    def command(self):
        # -db: in the foreground, no daemon mode; SIGTERM stops it at once.
        return [self.binary, "-db", "-f", str(self.dir / "haproxy.cfg")]

    def start(self, timeout=5.0):
        """Start and wait (bounded) until the stats page answers from this process."""
        if not os.access(self.binary, os.X_OK):
            self.why = ["no haproxy at %s (make deps installs it)" % self.binary]
            return False
        self.dir.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            self.port, self.stats_port = free_port(), free_port()
            (self.dir / "haproxy.cfg").write_text(self.conf())
            if not super().start():
                return False
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.alive():
                if self.stats_csv() is not None and self.alive():
                    return True
                time.sleep(0.1)
            self.stop_quietly()
        self.why = ["haproxy %s did not serve its stats after 3 tries" % self.name] + \
            self.log().splitlines()[-20:]
        return False

    @property
    def stats_url(self):
        return "http://127.0.0.1:%d/stats;csv" % self.stats_port

    def stats_csv(self, timeout=2.0):
        """The stats CSV as a list of dicts by column ("pxname", "svname", "scur", ...),
        or None without an answer."""
        status, body = _get(self.stats_port, "/stats;csv", timeout)
        if status != 200 or not body.startswith("# "):
            return None
        lines = body[2:].splitlines()
        head = lines[0].split(",")
        return [dict(zip(head, line.split(","))) for line in lines[1:] if line]

    def scur(self, pxname="web", svname="BACKEND"):
        """A row's current sessions (scur), or None when the stats or the row are missing."""
        for row in self.stats_csv() or []:
            if row.get("pxname") == pxname and row.get("svname") == svname:
                return int(row["scur"]) if row.get("scur", "").isdigit() else None
        return None


class HttpLoad(Daemon):
    """A bounded HTTP load in the background: ApacheBench, `ab -k -c CONNS -t SECONDS
    -n LARGE URL`, holding CONNS keep-alive connections to URL, each asking again as
    soon as an answer ends. On a slow location (Nginx(slow=)) that is CONNS connections
    busy at any moment for next to no CPU. It ends by itself after SECONDS (ab's time
    limit, which ab notices only as an answer ends: on /slow up to one answer, 4 s,
    later) or MAX_REQUESTS answers, and stop() (or the Test's end) ends it sooner;
    ab's summary is in TMP/NAME.out. -r: a failed connection does not end the load. ab
    rather than wrk: one process and thread holding exactly CONNS connections, and its
    requests may last seconds without counting as timeouts (wrk's default is 2 s).
    """

    def __init__(self, test, name, url, conns, seconds, binary=None):
        if not 0 < seconds <= 600:
            raise ValueError("HttpLoad: seconds must be in (0, 600], not %r" % (seconds,))
        super().__init__(test, name, ready=None, wrap=False, sanitized=False)
        self.binary = binary or AB
        self.url = url
        self.conns = int(conns)
        self.seconds = seconds
        self.started = None

    # ab keeps a record of every request, reserved up front: 10 M would be 320 MB of
    # address space. A million is about 10 s of a fast location at full speed (hours of
    # /slow), and a second bound.
    MAX_REQUESTS = 1000000

    def command(self):
        # -n after -t: ab's -t sets the request count to 50,000, a later -n raises it.
        return [self.binary, "-q", "-r", "-k", "-c", str(self.conns),
                "-t", str(int(math.ceil(self.seconds))), "-n", str(self.MAX_REQUESTS),
                self.url]

    def start(self, timeout=None):
        if not os.access(self.binary, os.X_OK):
            self.why = ["no ab at %s (Debian apache2-utils; make deps installs it)"
                        % self.binary]
            return False
        self.started = time.monotonic()
        return super().start(timeout)

    def stop_timeout(self):
        return 3.0


# ------------------------------------------------------------------ stand-ins (stubs.py)

STUBS = Path(__file__).resolve().with_name("stubs.py")


def self_signed(test, cn="www.test", name="cert"):
    """A self-signed certificate for `cn` (also its subjectAltName), valid two days,
    made with openssl in TMP: (cert path, key path), or None when openssl failed."""
    cert, key = test.path(name + ".pem"), test.path(name + ".key")
    r = test.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                  "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn,
                  "-keyout", key, "-out", cert], timeout=60)
    return (cert, key) if r.status == 0 else None


class Backend(Daemon):
    """An HTTP server for healthd to probe, on 127.0.0.1 and ::1 at `port` (default a
    free one); HTTPS with tls=(cert, key). set(mode) changes how it answers from the next
    connection on: "200", "503", "301", "body TEXT", "page PATH", "slow MS", "hang", "drip",
    "close" (see gslbtest/stubs.py). Its mode file is TMP/NAME.mode; it starts answering 200."""

    def __init__(self, test, name, port=None, tls=None, mode="200"):
        super().__init__(test, name, ready=r"listening", wrap=False, sanitized=False)
        self.port = port if port is not None else free_port()
        self.tls = tls
        self.mode_path = test.path(name + ".mode")
        self.set(mode)

    def command(self):
        argv = [sys.executable, str(STUBS), "backend", str(self.port), str(self.mode_path)]
        return argv + ([str(p) for p in self.tls] if self.tls else [])

    def set(self, mode):
        """How to answer from now on (written atomically: no probe reads half a mode)."""
        self.test.write(self.mode_path.relative_to(self.test.tmp), mode + "\n")


class FakeGslbd(Daemon):
    """gslbd's control socket as healthd sees it, recording every line (gslbtest/stubs.py):
    .socket is the path to give healthd (--gslbd), .lines_path the record, one line per
    line received as "CONN LINE" (CONN counts connections from 1; "CONN CONNECT" and
    "CONN CLOSED" around each). Another FakeGslbd on the same socket is what a restarted
    gslbd looks like to healthd. It answers HELLO as a gslbd of protocol `version` (default
    2, which takes no LOAD; 3 takes it; 4 takes CANARY too)."""

    def __init__(self, test, name, socket_path=None, version=2):
        super().__init__(test, name, ready=r"listening", wrap=False, sanitized=False)
        self.socket = Path(socket_path) if socket_path else test.path(name + ".sock")
        self.lines_path = test.path(name + ".lines")
        self.version = version

    def command(self):
        return [sys.executable, str(STUBS), "gslbd", str(self.socket), str(self.lines_path),
                str(self.version)]

    def text(self):
        """Everything recorded so far ("" before the first connection)."""
        try:
            return self.lines_path.read_text(errors="replace")
        except OSError:
            return ""

    def lines(self):
        return self.text().splitlines()

    def count(self, pattern):
        """How many recorded lines match the regular expression (re.search)."""
        rx = re.compile(pattern)
        return sum(1 for line in self.lines() if rx.search(line))

    def wait_line(self, pattern, timeout=3.0, count=1):
        """Wait (bounded, polling every 100 ms) until at least `count` recorded lines match:
        a Waited, true when they did, .ms the time it took."""
        return until(lambda: self.count(pattern) >= count, timeout)
