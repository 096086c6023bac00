"""gslbtest.netns: network namespaces as hosts, and a script in a namespace of its own.

Two ways to keep a test's traffic off the machine's networks.

private_network() re-runs a whole script in one new network namespace (unshare -n),
before its Test exists: for port 53 (Zonemaster talks to nothing else), or several
loopback addresses that tools chase on their own. Inside, only loopback exists:

    reason = g.private_network()          # re-runs the script inside, or says why not
    with g.Test(__file__) as t:
        if reason:
            t.skip("conformance checkers", reason)
        ...                               # inside: `ip link set lo up`, then port 53

Network and Host make several hosts on one private LAN, for what loopback cannot show:
daemons on different machines, and paths between them that break one at a time. A
Network is a "switch" namespace holding a bridge; each Host is a namespace of its own
whose eth0 is one end of a veth pair, the other end a port of that bridge, with an
address from a private range (10.77.0.0/24 by default: .1, .2, ... in the order the
hosts are made). Nothing joins the machine's own namespace, so nothing a test sends
there can leave the test's hosts:

    why = g.netns_unavailable()           # None, or why not (not root, no `ip netns`)
    net = g.Network(t)                    # registered: removed at the Test's end
    eu, v1 = net.host("eu"), net.host("v1")
    nginx = g.Nginx(t, "eu", host=eu)     # daemons run inside with `ip netns exec`
    v1.cut(eu.addr)                       # an nftables drop rule in v1's namespace
    v1.mend()                             # and gone again
    s = v1.connect(eu.addr, 80)           # a socket of this process, made in v1's namespace

Namespace names carry the script's process id and a random tag ("gslbt-1234-ab12-eu"),
so two runs never share one. The Network removes every namespace it made when the Test
ends, whatever ended it (an assertion, an exception, SIGINT or SIGTERM: the Test's
clean-up runs it after the processes are stopped), and, when it is made, the namespaces
a run that was killed outright (SIGKILL) left behind: those whose process is gone.

Both need the right to create network namespaces (root); neither changes the namespace
the script was started in.
"""

import ctypes
import http.client
import ipaddress
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from .procs import http_get_on

# Set in the environment of the re-run script: it is inside its own namespace.
ENV = "GSLB_E2E_NETNS"


def private_network(argv=None):
    """Inside the private namespace (ENV set): return None. Outside: when `unshare -n`
    works, replace this process with `unshare -n PYTHON SCRIPT ARGS...` (same process id,
    so a runner's timeout still reaches it; this call does not return); otherwise return
    the reason, for a skip."""
    if os.environ.get(ENV):
        return None
    argv = list(sys.argv if argv is None else argv)
    try:
        probe = subprocess.run(["unshare", "-n", "true"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot run unshare: %s" % e
    if probe.returncode != 0:
        return "cannot create a network namespace (needs root)"
    sys.stdout.flush()
    sys.stderr.flush()
    env = dict(os.environ, **{ENV: "1"})
    os.execvpe("unshare", ["unshare", "-n", sys.executable] + argv, env)
    return "exec unshare failed"  # not reached: execvpe raises on failure


# ------------------------------------------------------------------ hosts on a private LAN

IP = shutil.which("ip") or "/usr/sbin/ip"
NFT = shutil.which("nft") or "/usr/sbin/nft"

# Every namespace this module makes is named PREFIX-PID-TAG-NAME.
PREFIX = "gslbt"
_OURS = re.compile(r"^%s-([0-9]+)-[0-9a-f]{4}-[a-z0-9]+$" % PREFIX)
_HOST_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
CLONE_NEWNET = 0x40000000
# The nftables table a cut() fills; mend() deletes it.
TABLE = "gslbtest"


def _ip(*args, timeout=10):
    """`ip ARGS` to completion: (exit status, stdout and stderr)."""
    try:
        p = subprocess.run([IP] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 1, "%s: %s" % (type(e).__name__, e)
    return p.returncode, p.stdout.strip()


def _must(*args):
    status, out = _ip(*args)
    if status != 0:
        raise OSError("ip %s: %s" % (" ".join(str(a) for a in args), out))
    return out


def _namespaces():
    status, out = _ip("netns", "list")
    return [line.split()[0] for line in out.splitlines() if line.strip()] if status == 0 else []


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep():
    """Remove the namespaces of earlier runs that were killed before they could clean up
    (their process is gone) and that hold no process any more. One that still holds a
    process is left alone: that process is not this run's to end."""
    for ns in _namespaces():
        m = _OURS.match(ns)
        if not m or _alive(int(m.group(1))):
            continue
        status, pids = _ip("netns", "pids", ns)
        if status == 0 and not pids.strip():
            _ip("netns", "del", ns)


def netns_unavailable():
    """None when this process may make network namespaces with `ip netns`; otherwise why
    not, for a skip that says so."""
    if os.geteuid() != 0:
        return "network namespaces as hosts need root (running as uid %d)" % os.geteuid()
    if not os.access(IP, os.X_OK):
        return "no ip command at %s (iproute2; make deps installs it)" % IP
    probe = "%s-%d-0000-probe" % (PREFIX, os.getpid())
    status, out = _ip("netns", "add", probe)
    if status != 0:
        return "`ip netns add` failed: %s" % (out or "status %d" % status)
    _ip("netns", "del", probe)
    return None


_libc = None


def _in_namespace(path, make):
    """make() called on a thread of its own that first joined the network namespace at
    `path` (setns(2) moves only the calling thread): what it returns, such as a socket,
    which stays in that namespace for its life. This process's other threads stay where
    they are."""
    global _libc  # pylint: disable=global-statement
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    out = {}

    def inside():
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, "setns %s: %s" % (path, os.strerror(err)))
            finally:
                os.close(fd)
            out["value"] = make()
        except Exception as e:  # pylint: disable=broad-except
            out["error"] = e

    th = threading.Thread(target=inside, name="setns", daemon=True)
    th.start()
    th.join(10)
    if "error" in out:
        raise out["error"]
    if "value" not in out:
        raise OSError("no answer from the thread joining %s" % path)
    return out["value"]


class Network:
    """A LAN of hosts for one Test: a switch namespace (TAG-sw) with bridge br0, and the
    hosts host() makes, each on a port of that bridge. `subnet` is where their addresses
    come from, in order (.1 first). Registered with the Test when made: its clean-up
    (after every process has been stopped) deletes every namespace made here."""

    def __init__(self, test, subnet="10.77.0.0/24"):
        self.test = test
        self.tag = "%s-%d-%04x" % (PREFIX, os.getpid(), random.getrandbits(16))
        self.subnet = ipaddress.ip_network(subnet)
        self.hosts = {}
        self._spare = self.subnet.hosts()
        self._made = []
        _sweep()
        # Registered before anything is made, so a failure half way still cleans up.
        test.register(self)
        self.switch = self._namespace("sw")
        _must("-n", self.switch, "link", "add", "name", "br0", "type", "bridge",
              "forward_delay", 0)
        _must("-n", self.switch, "link", "set", "dev", "br0", "up")

    def _namespace(self, name):
        ns = "%s-%s" % (self.tag, name)
        _must("netns", "add", ns)
        self._made.append(ns)
        _must("-n", ns, "link", "set", "dev", "lo", "up")
        return ns

    def host(self, name):
        """A new Host called `name` (a-z, 0-9, at most 12 characters, unique here)."""
        if not _HOST_NAME.match(name) or name in self.hosts or name == "sw":
            raise ValueError("Network.host: bad or repeated host name %r" % (name,))
        ns = self._namespace(name)
        addr = str(next(self._spare))
        # The veth pair is made in the switch and its other end moved straight into the
        # host: no interface ever appears in the machine's own namespace. "name" and
        # "dev" written out: ip would read a bare "a" as its keyword "address".
        _must("-n", self.switch, "link", "add", "name", name, "type", "veth", "peer", "name",
              "eth0", "netns", ns)
        _must("-n", self.switch, "link", "set", "dev", name, "master", "br0", "up")
        _must("-n", ns, "addr", "add", "%s/%d" % (addr, self.subnet.prefixlen), "dev", "eth0")
        _must("-n", ns, "link", "set", "dev", "eth0", "up")
        h = Host(self, name, ns, addr)
        self.hosts[name] = h
        return h

    def capture(self, host, seconds=60):
        """A Capture of the frames through `host`'s port of the switch."""
        return Capture(self, host, seconds)

    # Test.stop_all() calls these two, as for a process.
    def terminate(self):
        pass

    def stop_quietly(self):
        self.remove()

    def remove(self):
        """Delete every namespace made here (idempotent). A process still inside one
        (a command that outlived its Test) is this run's own: it is killed first."""
        for ns in reversed(self._made):
            status, pids = _ip("netns", "pids", ns)
            for pid in pids.split() if status == 0 else []:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ValueError, OSError):
                    pass
            _ip("netns", "del", ns)
        self._made = []
        self.test.forget(self)


class Host:
    """One namespace on a Network: name, ns (the namespace), addr (eth0's IPv4 address).
    Processes run inside through prefix() (Daemon(host=...) does it); sockets of this
    process are made inside with socket() and connect()."""

    def __init__(self, network, name, ns, addr):
        self.network = network
        self.name = name
        self.ns = ns
        self.addr = addr
        self._cuts = 0

    def __repr__(self):
        return "Host(%s %s)" % (self.name, self.addr)

    def prefix(self):
        """The command prefix that runs a program inside: ip netns exec NS. ip execs the
        program, so the process id is the program's and signals reach it."""
        return [IP, "netns", "exec", self.ns]

    def run(self, argv, timeout=20, input_text=None):
        """A command run inside to completion (Test.run): Result(status, out)."""
        return self.network.test.run(self.prefix() + [str(a) for a in argv], timeout=timeout,
                                     input_text=input_text)

    def socket(self, family=socket.AF_INET, kind=socket.SOCK_STREAM):
        """A socket of this process in this host's namespace."""
        return _in_namespace("/run/netns/" + self.ns, lambda: socket.socket(family, kind))

    def connect(self, addr, port, timeout=2.0):
        """A TCP connection from this host to addr:port (OSError when it fails)."""
        s = self.socket()
        try:
            s.settimeout(timeout)
            s.connect((addr, port))
        except OSError:
            s.close()
            raise
        return s

    def http_get(self, addr, port, path="/", timeout=2.0):
        """GET http://ADDR:PORT/PATH from this host: (status, body), (0, "") without an
        answer."""
        return http_get_on(_HostHTTP(self, addr, port, timeout), path)

    def exchange(self, server, port, q, timeout=2.0, test=None):
        """One DNS query (a dns.message.Message) over UDP from this host to server:port:
        a dnsq.Response."""
        return self.exchange_all(server, port, [q], timeout, test)[0]

    def exchange_all(self, server, port, queries, timeout=2.0, test=None):
        """Queries (Messages) over UDP from one socket of this host to server:port, one
        after another, each reply matched by id: a dnsq.Response each, in order. At most
        `timeout` seconds a query, and so bounded in time."""
        from . import dnsq  # pylint: disable=import-outside-toplevel
        out = []
        s = self.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with s:
            for q in queries:
                wire = q.to_wire()
                data, error = None, None
                try:
                    s.sendto(wire, (server, port))
                    deadline = time.monotonic() + timeout
                    while data is None:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        s.settimeout(left)
                        got = s.recv(65535)
                        if got[:2] == wire[:2]:
                            data = got
                except socket.timeout:
                    pass
                except OSError as e:
                    error = "%s: %s" % (type(e).__name__, e)
                out.append(dnsq.Response(test, q, wire, data, "udp4", error, port=port))
        return out

    def nft(self, script):
        """`nft -f -` inside with this script: Result(status, out)."""
        return self.run([NFT, "-f", "-"], timeout=10, input_text=script)

    def cut(self, *addrs):
        """Drop this host's traffic to and from each address, or with no address all of
        it on eth0 (loopback keeps working): nftables rules in its own namespace, as a
        firewall on the path would. Where nft is missing, blackhole routes (the addresses)
        or eth0 taken down (all). Raises OSError when it cannot."""
        if os.access(NFT, os.X_OK):
            if addrs:
                match = ("ip daddr { %s }" % ", ".join(addrs), "ip saddr { %s }" % ", ".join(addrs))
            else:
                match = ('oifname "eth0"', 'iifname "eth0"')
            r = self.nft("add table inet %s\n"
                         "add chain inet %s out { type filter hook output priority 0; }\n"
                         "add chain inet %s in { type filter hook input priority 0; }\n"
                         "add rule inet %s out %s drop\n"
                         "add rule inet %s in %s drop\n"
                         % (TABLE, TABLE, TABLE, TABLE, match[0], TABLE, match[1]))
            if r.status != 0:
                raise OSError("nft in %s: %s" % (self.name, r.out))
        elif addrs:
            for a in addrs:
                _must("-n", self.ns, "route", "add", "blackhole", a + "/32")
        else:
            _must("-n", self.ns, "link", "set", "dev", "eth0", "down")
        self._cuts += 1

    def mend(self):
        """Undo every cut(): the host's paths work again."""
        if os.access(NFT, os.X_OK):
            self.nft("delete table inet %s\n" % TABLE)
        else:
            _ip("-n", self.ns, "route", "flush", "type", "blackhole")
            _ip("-n", self.ns, "link", "set", "dev", "eth0", "up")
        self._cuts = 0


class _HostHTTP(http.client.HTTPConnection):
    """An HTTP connection whose socket is made in a Host's namespace."""

    def __init__(self, host, addr, port, timeout):
        super().__init__(addr, port, timeout=timeout)
        self._host = host

    def connect(self):
        self.sock = self._host.connect(self.host, self.port, self.timeout)


class Capture:
    """The frames through one host's port of a Network's switch, recorded by a thread
    for at most `seconds` and `limit` frames (or until stop()): what a machine on the
    path would see, so a test can replay a line a daemon really sent.

        cap = net.capture(v2)                # before the daemon connects
        ...
        cap.stop()
        streams = cap.tcp_streams(v2.addr, g1.addr, 5300)   # {source port: bytes}
    """

    ETH_P_ALL = 0x0003

    def __init__(self, network, host, seconds=60, limit=50000):
        path = "/run/netns/" + network.switch
        self.sock = _in_namespace(path, lambda: socket.socket(
            socket.AF_PACKET, socket.SOCK_RAW, socket.htons(self.ETH_P_ALL)))
        self.sock.bind((host.name, 0))
        self.sock.settimeout(0.2)
        self.frames = []
        self._stop = False
        self._deadline = time.monotonic() + seconds
        self._limit = limit
        self._thread = threading.Thread(target=self._read, name="capture", daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop and time.monotonic() < self._deadline and \
                len(self.frames) < self._limit:
            try:
                self.frames.append(self.sock.recv(65535))
            except socket.timeout:
                continue
            except OSError:
                break
        self.sock.close()

    def stop(self):
        self._stop = True
        self._thread.join(2)

    def tcp_streams(self, src, dst, dport):
        """The bytes each TCP connection from src to dst:dport carried (IPv4), by the
        client's port: segments put in sequence order from the SYN, a retransmitted one
        counted once."""
        segs, base = {}, {}
        want_src, want_dst = socket.inet_aton(src), socket.inet_aton(dst)
        for f in list(self.frames):
            if len(f) < 34 or f[12:14] != b"\x08\x00":
                continue
            ip = f[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] != 6 or ip[12:16] != want_src or ip[16:20] != want_dst:
                continue
            total = int.from_bytes(ip[2:4], "big")
            tcp = ip[ihl:total]
            if len(tcp) < 20 or int.from_bytes(tcp[2:4], "big") != dport:
                continue
            sport = int.from_bytes(tcp[0:2], "big")
            seq = int.from_bytes(tcp[4:8], "big")
            if tcp[13] & 0x02:  # SYN: the data starts one past its sequence number
                base[sport] = (seq + 1) & 0xFFFFFFFF
                continue
            payload = tcp[(tcp[12] >> 4) * 4:]
            if payload:
                segs.setdefault(sport, {})[seq] = payload
        out = {}
        for sport, parts in segs.items():
            start = base.get(sport, min(parts))
            data = b""
            for seq in sorted(parts, key=lambda s: (s - start) & 0xFFFFFFFF):
                at = (seq - start) & 0xFFFFFFFF
                if at >= len(data):
                    data += parts[seq][at - len(data):] if at == len(data) else b""
                elif at + len(parts[seq]) > len(data):
                    data += parts[seq][len(data) - at:]
            out[sport] = data
        return out
