#!/usr/bin/env python3
"""test_harness.py: the harness's own checks fail when they should.

A suite passes as much by its checks failing on wrong answers as by its server giving
right ones: a check that can never fail proves nothing. One gslbd serves the example
zone; each Response check is run against a real reply with one expectation wrong, its
verdict captured instead of printed, and asserted to be a failure that names the
mismatch; the same check with the right expectation must pass. Then the Test's own
parts: groups, exceptions inside them, the sanitizer scan of logs and wait_for's
bounded polling, and a load's tally of its answers.

Then the stand-ins and waits the healthd suites rely on: until() gives up on time, a
Backend answers as its mode says, a FakeGslbd replies and records as gslbd would, and a
stopped (SIGSTOP) process still stops cleanly.

Last, hosts as network namespaces (gslbtest.netns, test_vantages.py's): two hosts reach
each other over the bridge and nothing of theirs appears in this namespace; cut() stops
a path and mend() restores it; a Capture on the switch records what one host sent; a
Daemon given a host runs in its namespace; removing the Network ends what still runs
inside and leaves no namespace. Skipped, with the reason, when not root.

Not here: gslbd's behaviour (test_core.py and the others); the harness's process
handling is exercised by every suite.
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time

import gslbtest as g

WWW_A = "www.gslb.example.com. 30 IN A 192.0.2.10"


class Verdicts:
    """Stands in for the Test of a Response: keeps each verdict instead of printing it."""

    def __init__(self):
        self.last = None

    def report(self, name, problems):
        self.last = (name, problems)
        return not problems


def verdict(r, check, *args, **kw):
    """(passed, problems) of one check of Response r, captured, not printed."""
    test, capture = r.test, Verdicts()
    r.test = capture
    try:
        passed = getattr(r, check)(*args, **kw)
    finally:
        r.test = test
    return passed, capture.last[1]


def must_fail(t, name, r, check, mentions, **kw):
    passed, problems = verdict(r, check, **kw)
    text = "\n".join(problems)
    t.check(name, not passed and mentions in text,
            "the check %s(%s) %s" % (check, kw, "passed" if passed else "failed with:"), text)


def must_pass(t, name, r, check, **kw):
    passed, problems = verdict(r, check, **kw)
    t.check(name, passed, *problems)


def response_checks(t, srv):
    r = srv.query("www.gslb.example.com", "A")
    whole = dict(rcode="NOERROR", flags="QR AA RD", edns=g.GSLBD_OPT, answer=[WWW_A])
    must_pass(t, "check_reply passes on the right reply", r, "check_reply", **whole)
    must_pass(t, "check_reply: owner names compare without regard to case", r, "check_reply",
              **dict(whole, answer=[WWW_A.upper()]))
    for label, change, mention in (
            ("a wrong TTL", dict(answer=[WWW_A.replace(" 30 ", " 31 ")]), "missing"),
            ("a wrong address", dict(answer=[WWW_A.replace(".10", ".11")]), "unexpected"),
            ("a record it did not expect", dict(answer=[]), "unexpected"),
            ("an expected record missing", dict(authority=[g.EXAMPLE_NEG_SOA]), "missing"),
            ("a wrong rcode", dict(rcode="NXDOMAIN"), "rcode"),
            ("a flag too many", dict(flags="QR AA RD RA"), "flags"),
            ("a wrong OPT payload", dict(edns=dict(g.GSLBD_OPT, payload=4096)), "payload"),
            ("an OPT where none is expected", dict(edns=None), "OPT"),
            ("a question in another case", dict(question="WWW.gslb.example.com. IN A"),
             "question")):
        must_fail(t, "check_reply notices %s" % label, r, "check_reply", mention,
                  **dict(whole, **change))
    must_fail(t, "check notices a flag that should be clear", r, "check", "AA", noflags="AA")
    must_fail(t, "check notices a flag that is not set", r, "check", "TC", flags="TC")
    must_fail(t, "check_record notices a TTL", r, "check_record", "no record", rtype="A",
              ttl=300)
    must_pass(t, "check_record takes any of several rdata", r, "check_record", rtype="A",
              rdata=["198.51.100.10", "192.0.2.10"])
    must_fail(t, "check_count notices a count", r, "check_count", "answer", answer=2)
    must_fail(t, "check_edns notices DO", r, "check_edns", "flags", do=True)
    must_fail(t, "check_ecs notices a missing option", r, "check_ecs", "no ECS")
    must_fail(t, "check_size notices a size", r, "check_size", "size", eq=10)
    must_fail(t, "check_noreply notices a reply", r, "check_noreply", "got a reply")
    must_fail(t, "check_types notices the order", r, "check_types", "types", types="CNAME A")

    other = srv.query("www.gslb.example.com", "AAAA")
    passed, problems = verdict(r, "cmp", other)
    t.check("cmp notices a different answer", not passed, *problems)
    passed, problems = verdict(r, "cmp", srv.query("www.gslb.example.com", "A", transport="tcp6"))
    t.check("cmp passes on the same answer over another transport", passed, *problems)

    ecs = srv.query("www.gslb.example.com", "A", ecs="81.2.69.0/24")
    must_pass(t, "check_ecs reads the echoed option", ecs, "check_ecs", family=1,
              address="81.2.69.0", source=24)
    must_fail(t, "check_ecs notices a source prefix", ecs, "check_ecs", "source", source=16)
    raw = ecs.option_bytes()
    t.check("option_bytes: the ECS option as received (family 1, source 24, 81.2.69)",
            len(raw) == 1 and raw[0][0] == 8 and raw[0][1][:3] == b"\x00\x01\x18"
            and raw[0][1][4:] == bytes([81, 2, 69]), repr(raw))
    must_pass(t, "check_option passes on the bytes as received", ecs, "check_option", code=8,
              data=raw[0][1] if raw else b"")
    must_fail(t, "check_option notices other bytes", ecs, "check_option", "expected", code=8,
              data=b"\x00\x01\x18\x00\x51\x02\x46")

    stopped = g.query(g.free_port(), "www.gslb.example.com", timeout=0.3, test=t)
    must_fail(t, "a check on a missing reply fails with the reason", stopped, "check",
              "no reply", rcode="NOERROR")
    must_pass(t, "check_noreply passes when nothing came", stopped, "check_noreply")


def test_parts(t):
    # A group of checks is one assertion that fails when any of them fails, and an
    # exception inside a group fails the group and lets the script go on.
    failed_before = t.failed
    inner = Verdicts()
    t.report, saved = inner.report, t.report
    try:
        with t.group("a group"):
            t.check("good", True)
            t.check("bad", False, "detail")
        group_verdict = inner.last
        with t.group("a group with an exception"):
            raise ValueError("on purpose")
        exception_verdict = inner.last
    finally:
        t.report = saved
    t.check("group: one failed check fails the group, with its detail",
            group_verdict[0] == "a group" and any("detail" in p for p in group_verdict[1]),
            repr(group_verdict))
    t.check("group: an exception fails it with the traceback",
            any("ValueError: on purpose" in p for p in exception_verdict[1]),
            repr(exception_verdict))
    t.eq("nothing was printed or counted for them", failed_before, t.failed)

    # wait_for: how many pauses it took, None when the condition never held.
    looks = []
    t.eq("wait_for: 0 pauses for a condition true at once", 0, t.wait_for(lambda: True, 1))
    t.eq("wait_for: 2 pauses for one true at the third look", 2,
         t.wait_for(lambda: looks.append(1) or len(looks) == 3, 1, 0.01))
    t.eq("wait_for: None after timeout/every pauses when it never holds (11 looks)",
         (None, 11), (t.wait_for(lambda: looks.append(1), 0.1, 0.01), len(looks) - 3))


def load_tally(t, srv):
    # A load counts its answers, so a test can see how a policy shares them out.
    r = srv.load(count=20, expect=["192.0.2.10"], deadline=30)
    t.check("load: 20 queries answered right", r.clean(20), *r.details())
    t.eq("load: the tally counts each answer", {"192.0.2.10": 20}, dict(r.tally))
    r = srv.load(qname="nope.gslb.example.com", count=5, ecs="192.0.2.0/24", deadline=30)
    t.check("load: an NXDOMAIN is wrong and tallied as an empty answer",
            r.wrong == 5 and dict(r.tally) == {"": 5}, *r.details())


def http_get(port, path="/health"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path, headers={"Host": "www.test"})
        reply = conn.getresponse()
        return reply.status, reply.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return 0, str(e)
    finally:
        conn.close()


def control_exchange(path, lines):
    """Send lines to a Unix control socket; the reply line to each."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(str(path))
        f = s.makefile("rwb")
        replies = []
        for line in lines:
            f.write(line.encode() + b"\n")
            f.flush()
            replies.append(f.readline().decode().rstrip("\n"))
        return replies


TRAP = """\
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("listening", flush=True)
time.sleep(60)
"""


def stand_ins(t):
    start = time.monotonic()
    w = g.until(lambda: False, 0.3, every=0.1)
    took = time.monotonic() - start
    t.check("until gives up after its timeout, and says so", not w and 0.3 <= took < 1.0,
            repr(w), "took %.2f s" % took)
    w = g.until(lambda: "here", 5)
    t.check("until returns at once with a true value", w and w.value == "here" and w.ms < 500,
            repr(w))

    be = g.Backend(t, "backend")
    t.start(be, "a Backend starts", bail=True)
    t.eq("a Backend answers 200 by default", 200, http_get(be.port)[0])
    be.set("503")
    t.eq("a Backend answers the status its mode sets", 503, http_get(be.port)[0])
    be.set("body all fine")
    status, body = http_get(be.port)
    t.check("a Backend's body mode: 200, the text, and the Host it was sent",
            status == 200 and "all fine" in body and "host=www.test" in body, status, body)

    fake = g.FakeGslbd(t, "fake")
    t.start(fake, "a FakeGslbd starts", bail=True)
    replies = control_exchange(fake.socket, ["HELLO healthd 2", "MEMBER z r 192.0.2.1 up",
                                             "PING", "BOGUS"])
    t.eq("a FakeGslbd replies as gslbd does", ["OK gslbd 2", "OK", "OK", "ERR unknown request"],
         replies)
    t.check("a FakeGslbd records each line with its connection",
            fake.wait_line("^1 CLOSED$", 3) and fake.lines() == [
                "1 CONNECT", "1 HELLO healthd 2", "1 MEMBER z r 192.0.2.1 up", "1 PING",
                "1 BOGUS", "1 CLOSED"], *fake.lines())

    t.check("stall: a process stopped for a while still serves after it",
            be.stall(0.3) and http_get(be.port)[0] == 200)
    # A process that handles SIGTERM, as gslbd and healthd do, acts on it only once
    # continued: without the SIGCONT, stop() would have to kill it.
    trap = g.Daemon(t, "trap", [sys.executable, "-c", TRAP], ready="listening")
    t.start(trap, "a helper that handles SIGTERM starts", bail=True)
    trap.signal(signal.SIGSTOP)
    t.eq("a stopped process still ends on SIGTERM (stop sends SIGCONT)", 0, trap.stop(timeout=3))


def reaches(src, dst, port):
    """Whether a TCP connection from host src to dst:port opens within 0.5 s."""
    try:
        src.connect(dst.addr, port, timeout=0.5).close()
        return True
    except OSError:
        return False


def namespaces(t):
    why = g.netns_unavailable()
    if why:
        t.skip("hosts as network namespaces", why)
        return
    net = g.Network(t, subnet="10.78.0.0/24")
    a, b = net.host("a"), net.host("b")
    t.eq("hosts get the subnet's addresses in order", ["10.78.0.1", "10.78.0.2"],
         [a.addr, b.addr])
    ours = [ns for ns in subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
                                         text=True, check=False).stdout.split()
            if ns.startswith(net.tag)]
    t.eq("three namespaces named after this run (switch, a, b)",
         sorted("%s-%s" % (net.tag, n) for n in ("sw", "a", "b")), sorted(ours))
    links = subprocess.run(["ip", "-o", "link"], stdout=subprocess.PIPE, text=True,
                           check=False).stdout
    t.check("no interface of theirs in this namespace",
            not any(line.split(": ")[1].split("@")[0] in ("a", "b", "br0")
                    for line in links.splitlines() if ": " in line), links)
    listener = b.socket()
    listener.bind((b.addr, 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    cap = net.capture(a, seconds=10)
    s = a.connect(b.addr, port)
    s.sendall(b"hello over the bridge\n")
    conn, _ = listener.accept()
    conn.settimeout(2)
    t.eq("a socket made in host a reaches host b's listener", b"hello over the bridge\n",
         conn.recv(100))
    conn.close()
    s.close()
    time.sleep(0.2)
    cap.stop()
    t.eq("a Capture on a's switch port records what a sent to b",
         [b"hello over the bridge\n"], list(cap.tcp_streams(a.addr, b.addr, port).values()))
    a.cut(b.addr)
    t.check("cut(b): a no longer reaches b", not reaches(a, b, port))
    a.mend()
    t.check("mend(): a reaches b again", reaches(a, b, port))
    a.cut()
    t.check("cut(): a reaches nothing on its eth0", not reaches(a, b, port))
    a.mend()
    t.check("mend(): and again", reaches(a, b, port))
    listener.close()
    inside = g.Daemon(t, "inside", [sys.executable, "-c", SLEEPER], ready="listening", host=a)
    t.start(inside, "a Daemon given a host starts", bail=True)
    t.eq("... in that host's namespace", os.stat("/run/netns/" + a.ns).st_ino,
         os.stat("/proc/%d/ns/net" % inside.pid).st_ino)
    net.remove()
    t.check("removing the Network ends what still ran inside",
            g.until(lambda: not inside.alive(), 3))
    inside.stop()
    left = [ns for ns in subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
                                         text=True, check=False).stdout.split()
            if ns.startswith(net.tag)]
    t.eq("... and leaves none of its namespaces", [], left)


SLEEPER = """
import time
print("listening", flush=True)
time.sleep(30)
"""


def main(t):
    srv = g.Gslbd(t, "harness", zones=g.write_example_zone(t))
    t.start(srv, "gslbd starts", bail=True)
    response_checks(t, srv)
    test_parts(t)
    load_tally(t, srv)
    t.eq("gslbd stops with status 0", 0, srv.stop())
    stand_ins(t)
    namespaces(t)


if __name__ == "__main__":
    with g.Test(__file__) as test:
        main(test)
