"""gslbtest.perf: dnsperf as a bounded background load.

DnsperfLoad runs the real dnsperf (Debian's dnsperf) against a server on loopback at a fixed
rate for a fixed time, with a query file written from (name, type) pairs, and reads its
summary: queries sent, completed and lost. Everything is bounded: dnsperf stops after
`seconds` (-l) and the wait for it after `seconds` + 10.
"""

import re
import shutil
import subprocess


DNSPERF = shutil.which("dnsperf") or "/usr/bin/dnsperf"


class DnsperfResult:
    """sent, completed, lost (dnsperf's counts), and the output for a failure report."""

    def __init__(self, out):
        self.out = out

        def count(label):
            m = re.search(r"%s:\s+(\d+)" % label, out)
            return int(m.group(1)) if m else -1

        self.sent = count("Queries sent")
        self.completed = count("Queries completed")
        self.lost = count("Queries lost")

    def ok(self):
        return self.sent > 0 and self.lost == 0

    def __str__(self):
        return "sent=%d completed=%d lost=%d" % (self.sent, self.completed, self.lost)


class DnsperfLoad:
    """dnsperf -s HOST -p PORT -Q RATE -l SECONDS over `queries` ([(name, type), ...]),
    started with start() and collected with result(). tcp=True uses -m tcp."""

    def __init__(self, test, name, host, port, queries, rate=1000, seconds=5, tcp=False,
                 timeout=2):
        self.test = test
        self.path = test.write("%s.queries" % name,
                               "".join("%s %s\n" % (n, t) for n, t in queries))
        self.argv = [DNSPERF, "-s", host, "-p", str(port), "-d", str(self.path), "-Q", str(rate),
                     "-l", str(seconds), "-t", str(timeout), "-q", "200", "-b", "1024"]
        if tcp:
            self.argv += ["-m", "tcp"]
        self.seconds = seconds
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        return self

    def result(self):
        """Wait for dnsperf (bounded) and read its summary."""
        try:
            out, _ = self.proc.communicate(timeout=self.seconds + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return DnsperfResult(out.decode(errors="replace"))


def available():
    return shutil.which("dnsperf") is not None

