"""gslbtest.net: loopback sockets for DNS tests: UDP and TCP exchanges of raw bytes,
TCP connection behaviour (idle timeout, connection cap) and bounded query loads.

Messages are bytes here: built by dnspython (gslbtest.dnsq) or by hand for broken
packets. TCP messages carry the 2-byte length prefix of RFC 1035 4.2.2, added by
frame() and removed by TcpConn.read().

Every wait is bounded by a timeout and every loop by a count and a deadline; every
function refuses an address other than 127.0.0.0/8 or ::1, so a test cannot send
traffic off the machine by mistake.
"""

import collections
import ipaddress
import socket
import struct
import threading
import time
import traceback

import dns.exception
import dns.message
import dns.rcode


def host_of(transport):
    """The loopback address of a transport name: udp4/tcp4 -> 127.0.0.1, udp6/tcp6 -> ::1."""
    if transport in ("udp4", "tcp4"):
        return "127.0.0.1"
    if transport in ("udp6", "tcp6"):
        return "::1"
    raise ValueError("unknown transport %r (udp4 tcp4 udp6 tcp6)" % (transport,))


def loopback(host):
    """`host` when it is a loopback address; ValueError otherwise."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError("gslbtest sends to loopback only, not %s" % host)
    return host


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def udp_exchange(host, port, wire, timeout=2.0, qid=None):
    """Send one datagram from a new socket; return the reply's bytes, or None when none
    came within `timeout` seconds. With `qid`, replies carrying another id are skipped."""
    with socket.socket(_family(loopback(host)), socket.SOCK_DGRAM) as s:
        s.sendto(wire, (host, port))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data = s.recv(65535)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                return None
            if qid is None or data[:2] == struct.pack("!H", qid):
                return data


def frame(wire):
    """A message with its TCP length prefix (RFC 1035 4.2.2)."""
    return struct.pack("!H", len(wire)) + wire


class TcpConn:
    """One TCP connection to a loopback server; a context manager that closes it.

    send(wire) frames and sends a message (split=True: a byte at a time, RFC 7766 s8);
    send_bytes(data) sends bytes as they are; read() returns the next message's bytes,
    or None on end of stream or after `timeout`; shut_wr() half-closes; closed_by_peer()
    tells whether the server has closed its side.
    """

    def __init__(self, host, port, timeout=2.0):
        self.timeout = timeout
        self.sock = socket.socket(_family(loopback(host)), socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect((host, port))
        except OSError:
            self.sock.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_bytes(self, data, split=False):
        if not split:
            self.sock.sendall(data)
            return
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])
            time.sleep(0.001)

    def send(self, wire, split=False):
        self.send_bytes(frame(wire), split)

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def read(self, timeout=None):
        """The next message (without its prefix); None on EOF, reset or timeout."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            head = self._exact(2)
            if head is None:
                return None
            return self._exact(struct.unpack("!H", head)[0])
        except (socket.timeout, ConnectionError):
            return None

    def shut_wr(self):
        self.sock.shutdown(socket.SHUT_WR)

    def closed_by_peer(self, wait):
        """True when the server closes (EOF or reset) within `wait` seconds. Any data
        still unread counts as "open"; it is left in place."""
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        self.sock.close()


def tcp_exchange(host, port, wire, timeout=2.0):
    """One message over a new TCP connection: the reply's bytes, or None."""
    with TcpConn(host, port, timeout) as c:
        c.send(wire)
        return c.read()


def idle_close(host, port, first=None, max_wait=10.0, timeout=2.0):
    """Connect, send the message `first` and read its answer when given, then wait (at most
    `max_wait`) for the server to close the idle connection (RFC 7766 s6.2.3). Returns the
    seconds it took, or None when it was still open. Raises OSError when the connection
    or the first exchange fails."""
    with TcpConn(host, port, timeout) as c:
        if first is not None:
            c.send(first)
            if c.read() is None:
                raise OSError("no answer to the first query")
        start = time.monotonic()
        if c.closed_by_peer(max_wait):
            return time.monotonic() - start
        return None


class TcpCapResult:
    """connected, answered, live: see tcp_cap()."""

    def __init__(self, connected, answered, live):
        self.connected = connected
        self.answered = answered
        self.live = live

    def __str__(self):
        return "connected=%d answered=%d live=%d" % (self.connected, self.answered, self.live)


def tcp_cap(host, port, conns, make_wire, timeout=1.0):
    """Open `conns` connections, send the message make_wire() returns on each, keep them
    all open, and count how many were answered and how many of those the server still
    holds 0.2 s later (RFC 7766 s6.2.2 connection limits)."""
    opened = []
    try:
        for _ in range(conns):
            try:
                c = TcpConn(host, port, timeout)
            except OSError:
                continue
            opened.append(c)
            try:
                c.send(make_wire())
            except OSError:
                pass
        served = [c for c in opened if c.read() is not None]
        live = sum(1 for c in served if not c.closed_by_peer(0.2))
        return TcpCapResult(len(opened), len(served), live)
    finally:
        for c in opened:
            c.close()


class LoadResult:
    """sent, answered, lost, wrong, first_wrong, seconds, every (callbacks run), errors
    (tracebacks of exceptions in the clients: each ends that client early), and tally:
    a collections.Counter of the answers that came, each counted by its answer section's
    rdata, sorted and joined by spaces ("10.1.0.1"; "" for an empty answer), so a test
    can see how a policy shares its answers out."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = self.answered = self.lost = self.wrong = self.every = 0
        self.first_wrong = ""
        self.seconds = 0.0
        self.errors = []
        self.tally = collections.Counter()

    def clean(self, count):
        """All `count` queries sent and answered right, nothing lost, no client failed."""
        return (self.sent, self.answered, self.lost, self.wrong, self.errors) == \
            (count, count, 0, 0, [])

    def __str__(self):
        return "sent=%d answered=%d lost=%d wrong=%d seconds=%.1f" % (
            self.sent, self.answered, self.lost, self.wrong, self.seconds)

    def details(self):
        """Lines for a failure report."""
        out = [str(self)]
        if self.every:
            out.append("actions run: %d" % self.every)
        if self.tally:
            out.append("answers: " + ", ".join("%s x%d" % (a or "(none)", n)
                                               for a, n in self.tally.most_common(10)))
        if self.first_wrong:
            out.append("first wrong: " + self.first_wrong)
        return out + self.errors


def _judge(wire, query, expect):
    """(verdict, answer) of a reply: verdict "" when `wire` is a good answer to `query`
    with exactly the rdata in `expect` (a set of text, or None for any), else what is
    wrong; answer the sorted rdata of its answer section joined by spaces (None when it
    cannot be parsed)."""
    try:
        msg = dns.message.from_wire(wire)
    except (dns.exception.DNSException, ValueError) as e:
        return "unparseable reply: %s (%s)" % (e, wire.hex()), None
    got = sorted(rd.to_text() for rrset in msg.answer for rd in rrset)
    if msg.id != query.id or msg.rcode() != dns.rcode.NOERROR:
        return "id %d (sent %d), rcode %s" % (
            msg.id, query.id, dns.rcode.to_text(msg.rcode())), " ".join(got)
    if expect is not None and got != sorted(expect):
        return "answer %s, expected %s" % (got, sorted(expect)), " ".join(got)
    return "", " ".join(got)


def _load_worker(host, port, tcp, make_query, expect, count, deadline, timeout, result,
                 max_lost, every, action):
    conn = None
    try:
        for i in range(count):
            if time.monotonic() > deadline or result.lost > max_lost:
                return
            q = make_query()
            wire = None
            try:
                if tcp:
                    if conn is None:
                        conn = TcpConn(host, port, timeout)
                    conn.send(q.to_wire())
                    wire = conn.read()
                else:
                    wire = udp_exchange(host, port, q.to_wire(), timeout, q.id)
            except OSError:
                wire = None
            if wire is None and conn is not None:
                conn.close()
                conn = None
            verdict, answer = ("", None) if wire is None else _judge(wire, q, expect)
            with result.lock:
                result.sent += 1
                if wire is None:
                    result.lost += 1
                else:
                    result.answered += 1
                    if answer is not None:
                        result.tally[answer] += 1
                    if verdict:
                        result.wrong += 1
                        result.first_wrong = result.first_wrong or verdict
            if action is not None and every and (i + 1) % every == 0:
                action()
                with result.lock:
                    result.every += 1
    except Exception:  # pylint: disable=broad-except
        with result.lock:
            result.errors.append(traceback.format_exc().rstrip())
    finally:
        if conn is not None:
            conn.close()


def load(host, port, make_query, tcp=False, count=1000, parallel=1, deadline=60.0,
         timeout=1.0, expect=None, max_lost=20, every=0, action=None):
    """A bounded load: `count` queries in all from `parallel` clients, each with one query
    outstanding at a time (one TCP connection per client, reopened after a loss), stopping
    at `deadline` seconds or once more than `max_lost` are lost. make_query() returns a
    new dns.message.Message per query; `expect` is the set of answer rdata texts every
    reply must have (None: any NOERROR answer). With `action` and `every`, the first
    client calls action() after every `every` queries (say a SIGHUP reload under load).
    Returns a LoadResult; its tally counts the answers by their rdata."""
    loopback(host)
    result = LoadResult()
    expect = None if expect is None else set(expect)
    stop_at = time.monotonic() + deadline
    per = count // parallel
    threads = []
    start = time.monotonic()
    for n in range(parallel):
        th = threading.Thread(target=_load_worker, args=(
            host, port, tcp, make_query, expect, per, stop_at, timeout, result, max_lost,
            every, action if n == 0 else None), daemon=True)
        th.start()
        threads.append(th)
    for th in threads:
        # Bounded: the deadline plus one timeout per client covers every worker.
        th.join(max(0.0, stop_at - time.monotonic()) + timeout + 5)
    result.seconds = time.monotonic() - start
    return result
