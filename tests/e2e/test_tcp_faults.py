#!/usr/bin/env python3
"""test_tcp_faults.py: gslbd's TCP side under faults and abuse.

A client that reads its answers slowly while 2,000 pipelined queries wait (RFC 7766
s6.2.1.1); a slowloris flood of connections that trickle bytes and never finish a message
(RFC 7766 s6.2.3: a message must complete within the timeout, and the longest-idle
connection makes room for a new client).

Not here: pipelining, the idle timeout and the cap in the ordinary case
(test_transport.py).
"""

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
    slowloris(t, zones)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
