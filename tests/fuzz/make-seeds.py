#!/usr/bin/env python3
"""Write the seed corpus of fuzz_answer: queries of many shapes (names,
types, EDNS, ECS, malformed headers), one file each. Run once; the fuzzer
grows the corpus from here."""
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus/answer"
os.makedirs(out, exist_ok=True)


def name(text):
    wire = b""
    for label in text.strip(".").split("."):
        if label:
            wire += bytes([len(label)]) + label.encode()
    return wire + b"\0"


def query(qname, qtype, flags=0x0100, opt=None, qdcount=1):
    pkt = struct.pack("!HHHHHH", 0x1234, flags, qdcount, 0, 0, 1 if opt is not None else 0)
    pkt += name(qname) + struct.pack("!HH", qtype, 1)
    if opt is not None:
        pkt += b"\0" + struct.pack("!HHIH", 41, 1232, 0x8000, len(opt)) + opt
    return pkt


def ecs(family, source, addr):
    body = struct.pack("!HBB", family, source, 0) + addr
    return struct.pack("!HH", 8, len(body)) + body


def cookie(data):
    return struct.pack("!HH", 10, len(data)) + data


def tsig(msg, arcount):
    """`msg` with a TSIG record appended (key k.example, hmac-sha256, a 32-byte MAC) and
    ARCOUNT set to `arcount`."""
    rdata = name("hmac-sha256") + struct.pack("!HIHH", 0, 1700000000, 300, 32) + bytes(32)
    rdata += struct.pack("!HHH", struct.unpack("!H", msg[:2])[0], 0, 0)
    rr = name("k.example") + struct.pack("!HHIH", 250, 255, 0, len(rdata)) + rdata
    return msg[:10] + struct.pack("!H", arcount) + msg[12:] + rr


seeds = {
    "www-a": query("www.gslb.example.com", 1),
    "www-aaaa-edns": query("www.gslb.example.com", 28, opt=b""),
    "www-ecs4": query("www.gslb.example.com", 1, opt=ecs(1, 24, bytes([81, 2, 69]))),
    "www-ecs6": query("www.gslb.example.com", 28, opt=ecs(2, 48, bytes(6))),
    "docs-cname": query("docs.gslb.example.com", 1),
    "apex-ns": query("gslb.example.com", 2, opt=b""),
    "apex-any": query("gslb.example.com", 255),
    "apex-soa": query("gslb.example.com", 6),
    "nxdomain": query("a.b.c.gslb.example.com", 1),
    "ent": query("_tcp.gslb.example.com", 33),
    "refused": query("example.org", 1),
    "axfr": query("gslb.example.com", 252),
    "notimp": query("gslb.example.com", 1, flags=0x1000),
    "qdcount2": query("gslb.example.com", 1, qdcount=2),
    "badvers": query("www.gslb.example.com", 1, opt=b"")[:-7] + b"\x01\x80\x00\x00\x00",
    "short": b"\x12\x34\x01",
    # DNS cookies (RFC 7873): a client cookie alone, with a server cookie, malformed.
    "cookie-client": query("www.gslb.example.com", 1, opt=cookie(bytes(range(8)))),
    "cookie-server": query("www.gslb.example.com", 1, opt=cookie(bytes(range(24)))),
    "cookie-bad": query("www.gslb.example.com", 1, opt=cookie(bytes(range(9)))),
    "cookie-ecs": query("www.gslb.example.com", 1,
                        opt=ecs(1, 24, bytes([81, 2, 69])) + cookie(bytes(range(8)))),
    # NOTIFY with an OPT (RFC 6891 7), DSO without a question.
    "notify-edns": query("gslb.example.com", 6, flags=0x2000, opt=b""),
    "dso-edns": struct.pack("!HHHHHH", 0x1234, 0x3000, 0, 0, 0, 1)
    + b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0),
    # Signed with TSIG (RFC 8945): after an OPT, alone, and misplaced.
    "tsig": tsig(query("www.gslb.example.com", 6, opt=b""), 2),
    "tsig-alone": tsig(query("www.gslb.example.com", 6), 1),
    "tsig-first": tsig(query("www.gslb.example.com", 6), 2) + b"\0" + struct.pack(
        "!HHIH", 41, 1232, 0, 0),
    # Checking disabled (RFC 4035 3.1.6), a class we do not serve.
    "cd": query("www.gslb.example.com", 1, flags=0x0110),
    "chaos": query("version.bind", 16)[:-2] + b"\x00\x03",
}
for key, data in seeds.items():
    with open(os.path.join(out, key), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {out}")
