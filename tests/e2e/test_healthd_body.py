#!/usr/bin/env python3
"""test_healthd_body.py: healthd reads only what a check needs of a response body.

A backend of the script's own serves large bodies on loopback: 64 MiB after the status, a
503 with 64 MiB, the text a check looks for early, a little before the bound (64 KiB)
and past it (after 1 MiB), and an endless chunked stream. It records, per connection,
how many body bytes the kernel took from it and whether the client read them to the end
or closed early. Asserted: every check still judges right (status, body text within the
bound, "body mismatch" past it, a stream does not time out), healthd closes each
connection rather than read it to the end, and no connection carried more than a few
MiB, socket buffers included.

Not here: statuses, reasons and timing in general (test_healthd.py). Traffic goes to
127.0.0.1 only; every wait is bounded, and the backend's streams are bounded too.
"""

import os
import re
import sys

import gslbtest as g

MIB = 1 << 20
BIG = 64 * MIB
MOST_BYTES = 4 * MIB  # socket buffers on both sides, plus the 64 KiB healthd reads at most

# The backend: HTTP/1.1 on 127.0.0.1:PORT, one thread per connection. Each line it
# appends to STATS: "PATH SENT TOTAL complete|cut", SENT the body bytes the kernel took.
BACKEND = r'''
import socket, sys, threading

port, stats = int(sys.argv[1]), sys.argv[2]
MIB = 1 << 20
FILL = b"x" * 65536
lock = threading.Lock()


def fill(n):
    while n > 0:
        yield FILL[:min(n, len(FILL))]
        n -= len(FILL)


def bodies(path):
    """(status line, total length or None for chunked, the body's pieces)."""
    if path == "/big":
        return "200 OK", 8 + 64 * MIB, [b"healthy\n", fill(64 * MIB)]
    if path == "/big503":
        return "503 Busy", 64 * MIB, [fill(64 * MIB)]
    if path == "/within":
        return "200 OK", 60000 + 8 + 64 * MIB, [fill(60000), b"healthy\n", fill(64 * MIB)]
    if path == "/late":
        return "200 OK", MIB + 8 + 64 * MIB, [fill(MIB), b"healthy\n", fill(64 * MIB)]
    return "200 OK", None, [b"healthy\n", fill(1024 * MIB)]  # /endless


def serve(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    req = b""
    while b"\r\n\r\n" not in req and len(req) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            conn.close()
            return
        req += chunk
    path = req.split(b" ")[1].decode()
    status, total, parts = bodies(path)
    head = "HTTP/1.1 %s\r\nConnection: close\r\n" % status
    head += ("Content-Length: %d\r\n" % total) if total is not None else \
        "Transfer-Encoding: chunked\r\n"
    sent, how = 0, "complete"
    try:
        conn.sendall((head + "\r\n").encode())
        for part in parts:
            for piece in ([part] if isinstance(part, bytes) else part):
                if total is None:
                    piece = b"%x\r\n%s\r\n" % (len(piece), piece)
                conn.sendall(piece)
                sent += len(piece)
        if total is None:
            conn.sendall(b"0\r\n\r\n")
    except OSError:
        how = "cut"
    with lock, open(stats, "a") as f:
        f.write("%s %d %s %s\n" % (path, sent, total, how))
    conn.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(64)
print("listening", flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'''

# One region per case: (region, path, body text or None, state, reason).
CASES = (
    ("big", "/big", None, "up", "status 200"),
    ("bigbody", "/big", "healthy", "up", "status 200"),
    ("within", "/within", "healthy", "up", "status 200"),
    ("late", "/late", "healthy", "down", "body mismatch (not in the first 64 KiB)"),
    ("endless", "/endless", None, "up", "status 200"),
    ("busy", "/big503", None, "down", "status 503"),
)


def zone_text(port):
    regions, checks = [], []
    for i, (name, path, body, _, _) in enumerate(CASES):
        regions.append("  %s: {location: [50, %d], pool: [127.0.0.1], check: %s}"
                       % (name, i, name))
        checks.append("  %s: {type: http, port: %d, path: %s,%s interval: 6s, timeout: 5s, "
                      "rise: 1, fall: 1}" % (name, port, path,
                                             " body: %s," % body if body else ""))
    return ("zone: body.test\nsoa: {mname: ns1.example.net, rname: hostmaster.example.net}\n"
            "ns: [ns1.example.net]\nregions:\n%s\nchecks:\n%s\nservices:\n"
            "  www: {regions: [%s]}\n" % ("\n".join(regions), "\n".join(checks),
                                         ", ".join(c[0] for c in CASES)))


def cpu_seconds(pid):
    """User and system CPU time of a process so far, from /proc (None when gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connections(stats):
    """{path: [(sent, how), ...]} from the backend's record."""
    out = {}
    try:
        lines = stats.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        path, sent, _, how = line.split()
        out.setdefault(path, []).append((int(sent), how))
    return out


def main(t):
    port = g.free_port()
    stats = t.path("backend.stats")
    script = t.write("backend.py", BACKEND)
    backend = g.Daemon(t, "backend", [sys.executable, script, port, stats], ready="listening")
    if not t.start(backend):
        t.bail("the large-body backend starts", *backend.why)
    a = g.FakeGslbd(t, "gslbd-a")
    if not t.start(a):
        t.bail("the recording control socket starts", *a.why)

    zf = t.write("zones/body.test.yaml", zone_text(port))
    hd = g.Healthd(t, zones=zf, gslbd=[a.socket], args=["--verbose"])
    t.start(hd, "healthd starts", bail=True)
    seconds = 15 if g.wrapper() else 8
    for name, path, body, state, reason in CASES:
        what = "%s%s" % (path, " with body: %s" % body if body else "")
        w = a.wait_line(r"MEMBER body\.test %s 127\.0\.0\.1 " % name, seconds)
        lines = [l for l in a.lines() if " %s 127.0.0.1 " % name in l]
        t.check("%s: %s (reason=%s)" % (what, state, reason),
                w and re.search(r" %s reason=%s$" % (state, re.escape(reason)), lines[0]),
                *(lines or ["no report within %d s" % seconds]))

    # Let every path be probed twice (interval 6 s), so a connection cut or read to its end is recorded.
    g.until(lambda: all(len(connections(stats).get(c[1], [])) >= 2 for c in CASES), 20)
    cpu = cpu_seconds(hd.pid)
    t.eq("healthd stops with status 0", 0, hd.stop())
    seen = connections(stats)
    for path in sorted({c[1] for c in CASES}):
        conns = seen.get(path, [])
        most = max((s for s, _ in conns), default=0)
        t.diag("%s: %d connections, at most %d body bytes sent, %s" % (
            path, len(conns), most, ", ".join(sorted({h for _, h in conns})) or "-"))
        t.check("%s: probed" % path, conns, "no connection recorded")
        t.compare("%s: at most %d MiB sent on any connection (got %.1f MiB)"
                  % (path, MOST_BYTES // MIB, most / MIB), most, "<=", MOST_BYTES)
        t.check("%s: healthd closed every connection early instead of reading to the end"
                % path, conns and all(h == "cut" for _, h in conns),
                *["%d bytes, %s" % c for c in conns])
    if cpu is not None:
        t.diag("healthd used %.2f s of CPU" % cpu)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
