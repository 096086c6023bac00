"""gslbtest.stubs: stand-ins that run as processes of their own, started by gslbtest.procs.

Never imported by the tests: procs.Backend and procs.FakeGslbd run this file with the
interpreter of the test (standard library only, so it needs nothing the system python
lacks) and wait for its "listening" line. Two programs:

  stubs.py backend PORT MODEFILE [CERT KEY]
      HTTP on 127.0.0.1:PORT and [::1]:PORT (HTTPS with CERT and KEY), for healthd to
      probe. It reads MODEFILE on every connection (missing or empty: "200"):
        "200", "503", "301", ...   that status, body "healthy"
        "body TEXT"                status 200, body TEXT
        "page PATH"                status 200, the file's bytes exactly as the body (no
                                   host= and sni= lines), read on every request
        "slow MS"                  status 200 after MS milliseconds
        "hang"                     accept, then say nothing (for 600 s)
        "drip"                     a good reply, one byte a second
        "close"                    accept and close at once
      Every body ends with "host=HOST" and "sni=NAME" lines: the Host header and the
      TLS server name the request carried, so a check on the body can test them.

  stubs.py gslbd SOCKET LINES [VERSION]
      gslbd's control socket as healthd sees it (common/ctl.h), recording instead of
      acting: every line received is appended to LINES as "CONN LINE", CONN counting
      connections from 1, with "CONN CONNECT" and "CONN CLOSED" around each. It replies
      as a gslbd of that protocol version does (default 2, so healthd sends it no LOAD):
      "OK gslbd VERSION" to HELLO, "OK" to MEMBER, SYNCED and PING, to LOAD from
      version 3 on and to CANARY from version 4 on, and "ERR unknown request" to
      anything else.

What they do not do: parse the control protocol beyond the verb (the tests read the
recorded lines), or serve anything but loopback.
"""

import asyncio
import os
import ssl
import sys

# ------------------------------------------------------------------ backend


def _mode(modefile):
    try:
        with open(modefile) as f:
            return f.read().strip() or "200"
    except OSError:
        return "200"


async def _respond(reader, writer, mode, sni):
    req = b""
    while b"\r\n\r\n" not in req and len(req) < 65536:
        chunk = await reader.read(4096)
        if not chunk:
            return
        req += chunk
    if mode == "drip":
        for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
            writer.write(bytes([b]))
            await writer.drain()
            await asyncio.sleep(1)
        return
    if mode.startswith("slow "):
        await asyncio.sleep(int(mode[5:]) / 1000)
        mode = "200"
    if mode.startswith("page "):
        with open(mode[5:], "rb") as f:
            page = f.read()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % len(page) + page)
        await writer.drain()
        return
    code, body = (mode, "healthy\n") if not mode.startswith("body ") else ("200", mode[5:] + "\n")
    host = ""
    for line in req.split(b"\r\n"):
        if line.lower().startswith(b"host:"):
            host = line[5:].strip().decode(errors="replace")
    obj = writer.get_extra_info("ssl_object")
    body += "host=%s\nsni=%s\n" % (host, sni.pop(id(obj), "") if obj else "")
    writer.write(("HTTP/1.1 %s X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                  % (code, len(body.encode()), body)).encode())
    await writer.drain()


async def backend(port, modefile, cert=None, key=None):
    ctx, sni = None, {}
    if cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        # The name the client asked for, kept per connection until the reply says it.
        ctx.sni_callback = lambda obj, name, c: sni.__setitem__(id(obj), name or "")

    async def handle(reader, writer):
        mode = _mode(modefile)
        try:
            if mode == "hang":
                await asyncio.sleep(600)
            elif mode != "close":
                await _respond(reader, writer, mode, sni)
        except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            try:
                writer.close()
            except Exception:  # pylint: disable=broad-except
                pass

    servers = [await asyncio.start_server(handle, h, port, ssl=ctx, backlog=1024)
               for h in ("127.0.0.1", "::1")]
    print("listening", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


# ------------------------------------------------------------------ gslbd's control socket


async def gslbd(path, lines, version=2):
    count = 0
    verbs = ("MEMBER", "SYNCED", "PING") + (("LOAD",) if version >= 3 else ()) + \
        (("CANARY",) if version >= 4 else ())

    def record(text):
        with open(lines, "a") as f:
            f.write(text + "\n")

    async def handle(reader, writer):
        nonlocal count
        count += 1
        me = count
        record("%d CONNECT" % me)
        while True:
            line = await reader.readline()
            if not line:
                break
            text = line.decode(errors="replace").rstrip("\n")
            record("%d %s" % (me, text))
            if text.startswith("HELLO "):
                writer.write(b"OK gslbd %d\n" % version)
            elif text.split(" ")[0] in verbs:
                writer.write(b"OK\n")
            else:
                writer.write(b"ERR unknown request\n")
            try:
                await writer.drain()
            except ConnectionError:
                break
        record("%d CLOSED" % me)

    if os.path.exists(path):
        os.unlink(path)
    server = await asyncio.start_unix_server(handle, path)
    print("listening", flush=True)
    await server.serve_forever()


def main(argv):
    if len(argv) in (4, 6) and argv[1] == "backend":
        asyncio.run(backend(int(argv[2]), argv[3], *argv[4:]))
    elif len(argv) in (4, 5) and argv[1] == "gslbd":
        asyncio.run(gslbd(argv[2], argv[3], *(int(v) for v in argv[4:])))
    else:
        sys.exit("usage: stubs.py backend PORT MODEFILE [CERT KEY] | "
                 "gslbd SOCKET LINES [VERSION]")


if __name__ == "__main__":
    main(sys.argv)
