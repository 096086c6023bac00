"""gslbtest.ctlnet: the test's own client of gslbd's network channel (--control-listen).

A Vantage speaks the channel as healthd would, with the MACs computed by Python's hmac
from a key `gslbctl keygen` wrote, so gslbd's checks are tried against an implementation
that shares none of its code (common/ctlauth.h has the rules): every line ends in
" mac=HEX", the HMAC-SHA256 under the vantage's key of NONCE + "\\n" + the line before
it; HELLO is signed over the empty nonce, every later line over the nonce gslbd's reply
to HELLO gave; "{seq}" in a line's text becomes seq=N, counting from 1 on a connection.

    key = ctlnet.key_of(keys_text, "ams")
    v = ctlnet.Vantage(port, "ams", key)                 # to 127.0.0.1:port
    v = ctlnet.Vantage(port, "ams", key, sock=host.connect(addr, port))   # from a Host
    v.hello()                                            # "OK gslbd 3 nonce=..."
    v.send_raw(v.line("MEMBER z r 192.0.2.1 down {seq} reason=x"))

It only connects where it is told: to loopback, or through a socket the caller made (in
a gslbtest.netns Host, say).
"""

import base64
import hashlib
import hmac
import socket

from . import net


def key_of(keys_text, vantage):
    """The key (bytes) of `vantage` in a keys file's text ("NAME hmac-sha256 BASE64"
    lines), or None."""
    for line in keys_text.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == vantage and words[1] == "hmac-sha256":
            return base64.b64decode(words[2])
    return None


def sign(key, nonce, text):
    """`text` with " mac=HEX" added: HMAC-SHA256 over nonce + "\\n" + text."""
    mac = hmac.new(key, (nonce + "\n" + text).encode(), hashlib.sha256).hexdigest()
    return text + " mac=" + mac


class Vantage:
    """One connection speaking the network channel as healthd would: to 127.0.0.1:port,
    or over `sock`, a connected socket the caller made."""

    def __init__(self, port, name, key, sock=None, version=3):
        self.sock = sock or socket.create_connection((net.loopback("127.0.0.1"), port),
                                                     timeout=5)
        self.sock.settimeout(5)
        self.f = self.sock.makefile("rwb", buffering=0)
        self.name, self.key, self.nonce, self.seq = name, key, "", 0
        self.version = version

    def line(self, text, nonce=None, seq=True):
        """The line as sent: text, seq=, then mac= under the connection's nonce."""
        if seq:
            self.seq += 1
            text = text.replace("{seq}", "seq=%d" % self.seq)
        return sign(self.key, self.nonce if nonce is None else nonce, text)

    def send_raw(self, raw):
        """Send one line; the reply line, or "" when gslbd closed the connection."""
        try:
            self.f.write(raw.encode() + b"\n")
            return self.f.readline().decode().strip()
        except OSError:
            return ""

    def hello(self):
        """HELLO signed over the empty nonce; the reply, its nonce kept for what follows."""
        r = self.send_raw(self.line("HELLO healthd %d vantage=%s {seq}"
                                    % (self.version, self.name)))
        if r.startswith("OK") and "nonce=" in r:
            self.nonce = r.split("nonce=")[1].split()[0]
        return r

    def closed(self):
        """Whether gslbd closed the connection (reads EOF within 2 s)."""
        self.sock.settimeout(2)
        try:
            return self.f.readline() == b""
        except OSError:
            return True

    def close(self):
        self.sock.close()
