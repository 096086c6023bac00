#!/usr/bin/env python3
"""test_tcp_faults.py: gslbd's TCP side under faults and abuse.

A client that reads its answers slowly while 2,000 pipelined queries wait (RFC 7766
s6.2.1.1); file descriptors running out, with a low open-file limit at start and with one
lowered under a running gslbd (no spinning, TCP and the control socket serve again once
descriptors are back, SIGHUP and SIGTERM obeyed); SIGTERM under load; a slowloris flood
of connections that trickle bytes and never finish a message (RFC 7766 s6.2.3: a message
must complete within the timeout, and the longest-idle connection makes room for a new
client).

Not here: pipelining, the idle timeout and the cap in the ordinary case
(test_transport.py); the control protocol itself (test_healthd_gslbd.py).
"""

import os
import resource
import socket
import struct
import threading
import time

import gslbtest as g

WWW = "www.gslb.example.com"
# A name whose answer (sixteen 251-byte TXT strings, about 4.1 KB) fills socket buffers fast.
BIG = "big.gslb.example.com"
BIG_TXT = ", ".join('"%02d%s"' % (i, "x" * 249) for i in range(16))


def family(transport):
    return socket.AF_INET6 if transport.endswith("6") else socket.AF_INET


def cpu_seconds(pid):
    """User and system CPU time a process has used, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_share(pid, seconds):
    """The CPU a process used over the next `seconds`, as a share of one core."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def nofile_limits(pid):
    """(soft, hard) RLIMIT_NOFILE of a process, from /proc/PID/limits."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    return None


def answered_tcp(srv, transport="tcp4", timeout=2.0):
    """True when a query on a new TCP connection gets its NOERROR answer."""
    return srv.query(WWW, "A", transport=transport, timeout=timeout).rcode == "NOERROR"


def stop_seconds(srv, limit=5.0):
    """SIGTERM: (exit status, seconds it took)."""
    start = time.monotonic()
    status = srv.stop(timeout=limit)
    return status, time.monotonic() - start


def check_stop(t, name, srv):
    """SIGTERM stops gslbd with status 0 within 2 s (any time under a wrapper)."""
    status, seconds = stop_seconds(srv, 60.0 if g.wrapper() else 5.0)
    t.check(name, status == 0 and (seconds <= 2.0 or bool(g.wrapper())),
            "exit status %s after %.2f s (want 0 within 2 s)" % (status, seconds))


class Flood:
    """Idle TCP connections to a server, opened until `count` or a bounded time: each
    connect waits at most 0.2 s, and three failures in a row end the opening (the
    server no longer accepts). Closed on close()."""

    def __init__(self, port, transport="tcp4", count=100, deadline=10.0):
        self.socks = []
        self.failed = 0
        stop = time.monotonic() + deadline
        in_a_row = 0
        while len(self.socks) < count and in_a_row < 3 and time.monotonic() < stop:
            s = socket.socket(family(transport), socket.SOCK_STREAM)
            s.settimeout(0.2)
            try:
                s.connect((g.host_of(transport), port))
            except OSError:
                s.close()
                self.failed += 1
                in_a_row += 1
                continue
            in_a_row = 0
            self.socks.append(s)

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


def hammer(srv, control, seconds=3.0):
    """Connections opened and closed at once from four threads for `seconds`: two on
    TCP (127.0.0.1 and ::1), two on the control socket. What a daemon out of descriptors
    sees from clients retrying."""
    stop = time.monotonic() + seconds

    def run(fam, addr):
        while time.monotonic() < stop:
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(0.2)
                try:
                    s.connect(addr)
                except OSError:
                    pass

    threads = [threading.Thread(target=run, args=a, daemon=True) for a in (
        (socket.AF_INET, ("127.0.0.1", srv.port)), (socket.AF_INET6, ("::1", srv.port)),
        (socket.AF_UNIX, str(control)), (socket.AF_UNIX, str(control)))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(seconds + 5)


# ------------------------------------------------------------- a slow reader


def slow_reader(srv, transport, count, deadline=30.0):
    """Send `count` pipelined queries (ids 0, 1, ...) for BIG's TXT records, whose answers
    add up to about 8 MB, on one connection from a client with a small receive buffer
    (4 KB asked for) that starts reading after 0.5 s and then reads what has come every
    millisecond, so gslbd's writes have to wait. Returns (answered in order, wrong, how
    the reading ended, seconds)."""
    s = socket.socket(family(transport), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect((g.host_of(transport), srv.port))
    data = b"".join(g.frame(g.make_query(BIG, "TXT", edns=None, qid=i % 65536).to_wire())
                    for i in range(count))

    def send():
        try:
            s.sendall(data)
        except OSError:
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    start = time.monotonic()
    time.sleep(0.5)
    buf, got, wrong, end = b"", 0, 0, "deadline (%g s)" % deadline
    s.settimeout(1)
    try:
        while got < count and time.monotonic() - start < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                end = "error: %s" % e
                break
            if not chunk:
                end = "closed by gslbd"
                break
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                qid, flags = struct.unpack("!HH", buf[2:6])
                buf = buf[2 + n:]
                if qid != got % 65536 or flags & 0x000F != 0:
                    wrong += 1
                got += 1
            time.sleep(0.001)
        else:
            if got == count:
                end = "all read"
    finally:
        s.close()
        sender.join(5)
    return got, wrong, end, time.monotonic() - start


def slow_readers(t):
    zone = g.EXAMPLE_ZONE.replace("records:\n", "records:\n  big: {TXT: [%s]}\n" % BIG_TXT)
    zones = t.write("big/gslb.example.com.yaml", zone).parent
    srv = g.Gslbd(t, "slow-reader", zones=zones)
    if not t.start(srv, "gslbd for the slow reader starts"):
        return
    for tr in ("tcp4", "tcp6"):
        got, wrong, end, seconds = slow_reader(srv, tr, 2000)
        t.check("RFC 7766 s6.2.1.1: 2000 pipelined queries, a slow reader: all 2000 answered "
                "in order (%s)" % tr, got == 2000 and wrong == 0,
                "answered %d of 2000, %d wrong or out of order; %s after %.1f s"
                % (got, wrong, end, seconds))
    t.check("a query on a new connection is still answered", answered_tcp(srv))
    check_stop(t, "SIGTERM after the slow readers: status 0 within 2 s", srv)


# ------------------------------------------------------------- descriptors run out


class LimitedGslbd(g.Gslbd):
    """gslbd started by prlimit(1) under an open-file limit (soft, hard)."""

    def __init__(self, test, name, nofile, **kw):
        super().__init__(test, name, **kw)
        self.nofile = nofile

    def command(self):
        return ["prlimit", "--nofile=%d:%d" % self.nofile, "--"] + super().command()


def exhausted_at_start(t, zones):
    """A soft limit of 256 and a hard one of 400, below the default --tcp-max of 512,
    and more connections than that."""
    control = t.path("low-limit.control")
    srv = LimitedGslbd(t, "low-limit", (256, 400), zones=zones,
                       args=["--threads", 2, "--control", control])
    if not t.start(srv, "gslbd starts under a 256/400 open-file limit"):
        return
    t.eq("the soft open-file limit is raised to the hard one", (400, 400),
         nofile_limits(srv.pid))
    t.like("a warning says --tcp-max was lowered to fit the limit",
           r"warning: --tcp-max 512 lowered to \d+", srv.log())
    flood = Flood(srv.port, count=450)
    try:
        t.diag("450 connections tried: %d open, %d failed; gslbd holds %d descriptors"
               % (len(flood.socks), flood.failed, open_fds(srv.pid)))
        hammer(srv, control)
        share = cpu_share(srv.pid, 2.0)
        t.check("with every connection slot taken gslbd does not spin (%.0f %% CPU)"
                % (share * 100), share < 0.15, "%.0f %% of a core over 2 s" % (share * 100))
        t.check("RFC 7766 s6.2.3: a new TCP client is answered (an idle one made room)",
                answered_tcp(srv, timeout=3.0))
        t.check("UDP is answered", srv.query(WWW, "A", transport="udp4").rcode == "NOERROR")
        r = g.Gslbctl(t, control).run("status", timeout=5)
        t.check("the control socket answers gslbctl status", r.status == 0,
                "status %s" % r.status, r.out[-300:])
        mark = srv.mark()
        srv.reload()
        t.check("SIGHUP is obeyed", srv.wait_log(r"SIGHUP", 2.0, since=mark) is not None)
        check_stop(t, "SIGTERM with every slot taken: status 0 within 2 s", srv)
    finally:
        flood.close()


def exhausted_underneath(t, zones):
    """The limit lowered under a running gslbd (prlimit on its pid): accept() fails with
    EMFILE whatever gslbd does."""
    control = t.path("lowered.control")
    srv = g.Gslbd(t, "lowered", zones=zones, args=["--threads", 2, "--control", control])
    if not t.start(srv, "gslbd starts for a limit lowered under it"):
        return
    if g.wrapper():
        t.skip("descriptors run out under a running gslbd", "not under GSLBD_WRAPPER, "
               "which keeps descriptors of its own")
        srv.stop()
        return
    limit = open_fds(srv.pid) + 12
    resource.prlimit(srv.pid, resource.RLIMIT_NOFILE, (limit, limit))
    t.diag("open-file limit lowered to %d" % limit)
    flood = Flood(srv.port, count=100)
    try:
        t.diag("100 connections tried: %d open, %d failed; gslbd holds %d descriptors"
               % (len(flood.socks), flood.failed, open_fds(srv.pid)))
        hammer(srv, control)
        share = cpu_share(srv.pid, 2.0)
        t.check("descriptors exhausted: gslbd does not spin (%.0f %% CPU)" % (share * 100),
                share < 0.15, "%.0f %% of a core over 2 s" % (share * 100))
        mark = srv.mark()
        srv.reload()
        t.check("descriptors exhausted: SIGHUP is obeyed",
                srv.wait_log(r"SIGHUP", 2.0, since=mark) is not None)
        t.check("descriptors exhausted: UDP is answered",
                srv.query(WWW, "A", transport="udp4").rcode == "NOERROR")
    finally:
        flood.close()
    w = g.until(lambda: answered_tcp(srv, timeout=1.0), 10)
    t.check("descriptors back: TCP answers again (%.1f s)" % w.seconds, bool(w),
            "no TCP answer within 10 s of the connections closing")
    w = g.until(lambda: g.Gslbctl(t, control).run("status", timeout=2).status == 0, 10)
    t.check("descriptors back: the control socket answers again (%.1f s)" % w.seconds,
            bool(w), "gslbctl status failed for 10 s")
    flood = Flood(srv.port, count=100)
    try:
        check_stop(t, "descriptors exhausted: SIGTERM stops gslbd, status 0 within 2 s", srv)
    finally:
        flood.close()


def stop_under_load(t, zones):
    srv = g.Gslbd(t, "stop-load", zones=zones, args=["--threads", 2])
    if not t.start(srv, "gslbd for SIGTERM under load starts"):
        return
    loads = [threading.Thread(target=srv.load, kwargs=dict(
        transport=tr, count=100000, parallel=4, deadline=8, timeout=0.5, max_lost=10 ** 6),
        daemon=True) for tr in ("udp4", "tcp4", "udp6", "tcp6")]
    for th in loads:
        th.start()
    time.sleep(1.5)
    check_stop(t, "SIGTERM under a UDP and TCP load: status 0 within 2 s", srv)
    for th in loads:
        th.join(15)


# ------------------------------------------------------------- slowloris


class Slowloris:
    """`conns` connections, each announcing a 512-byte message and then sending one byte
    of it every `every` seconds, so none ever completes; one that gslbd closes is opened
    again on the next round (as an attacker would). Runs in a thread until stop(), or
    `deadline` seconds."""

    def __init__(self, port, transport="tcp4", conns=700, every=2.0, deadline=60.0):
        self.addr = (g.host_of(transport), port)
        self.fam = family(transport)
        self.conns, self.every, self.deadline = conns, every, deadline
        self.closed = self.opened = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self):
        s = socket.socket(self.fam, socket.SOCK_STREAM)
        s.settimeout(0.2)
        try:
            s.connect(self.addr)
            s.sendall(struct.pack("!H", 512))
        except OSError:
            s.close()
            return None
        s.setblocking(False)
        self.opened += 1
        return s

    def _gone(self, s):
        try:
            return s.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _run(self):
        socks = []
        stop = time.monotonic() + self.deadline
        while not self.done.is_set() and time.monotonic() < stop:
            round_start = time.monotonic()
            keep = []
            for s in socks:
                if self._gone(s):
                    s.close()
                    self.closed += 1
                    continue
                try:
                    s.send(b"\0")
                except OSError:
                    pass
                keep.append(s)
            socks = keep
            while len(socks) < self.conns and time.monotonic() - round_start < self.every \
                    and not self.done.is_set():
                s = self._open()
                if s is not None:
                    socks.append(s)
            self.done.wait(max(0.0, self.every - (time.monotonic() - round_start)))
        for s in socks:
            s.close()

    def start(self):
        self.thread.start()

    def stop(self):
        self.done.set()
        self.thread.join(10)


def trickle_close(srv, every=0.3, max_wait=8.0):
    """Seconds until gslbd closes a connection that sends a byte of an unfinished
    message every `every` seconds, or None when still open after `max_wait`."""
    with g.TcpConn("127.0.0.1", srv.port) as c:
        c.send_bytes(struct.pack("!H", 512))
        start = time.monotonic()
        while time.monotonic() - start < max_wait:
            if c.closed_by_peer(every):
                return time.monotonic() - start
            try:
                c.send_bytes(b"\0")
            except OSError:
                return time.monotonic() - start
    return None


def slowloris(t, zones):
    srv = g.Gslbd(t, "trickle", zones=zones, args=["--tcp-timeout", 2])
    if t.start(srv, "gslbd with --tcp-timeout 2 starts"):
        seconds = trickle_close(srv)
        t.diag("the trickling connection: %s" % ("still open after 8 s" if seconds is None
                                                 else "closed after %.2f s" % seconds))
        t.check("RFC 7766 s6.2.3: a message trickled a byte every 0.3 s is cut off within "
                "the timeout (2 s)", seconds is not None and seconds <= 3.5,
                "closed after %s" % ("never (still open after 8 s)" if seconds is None
                                     else "%.2f s" % seconds))
        srv.stop()

    srv = g.Gslbd(t, "slowloris", zones=zones, args=["--threads", 2])
    if not t.start(srv, "gslbd for the slowloris flood starts"):
        return
    flood = Slowloris(srv.port, conns=700, every=2.0, deadline=60)
    flood.start()
    try:
        g.until(lambda: flood.opened >= 700, 15)
        time.sleep(2)
        answered = 0
        for _ in range(40):
            if answered_tcp(srv, timeout=2.0):
                answered += 1
            time.sleep(0.25)
        t.diag("slowloris: %d connections opened, %d closed by gslbd" % (flood.opened,
                                                                          flood.closed))
        t.eq("RFC 7766 s6.2.3: during a flood of 700 trickling connections, 40 real TCP "
             "queries are all answered", "40 of 40", "%d of 40" % answered)
        t.check("UDP is answered during the flood",
                srv.query(WWW, "A", transport="udp4").rcode == "NOERROR")
        check_stop(t, "SIGTERM during the flood: status 0 within 2 s", srv)
    finally:
        flood.stop()


def main(t):
    zones = g.write_example_zone(t).parent
    slow_readers(t)
    exhausted_at_start(t, zones)
    exhausted_underneath(t, zones)
    stop_under_load(t, zones)
    slowloris(t, zones)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
