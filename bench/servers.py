"""servers: start, watch, reload and stop the two DNS servers under test.

A Server runs one daemon in the foreground as a child of bench/run, natively
or under `valgrind --tool=callgrind`, optionally pinned to a CPU with taskset.
It is ready when it answers the zone's SOA over UDP. CPU time and memory come
from /proc/PID (all threads together). Only processes started here are ever
signalled, by their process id.
"""

import os
import re
import signal
import subprocess
import threading
import time

import dnsclient
from zonegen import ZONE

CLK_TCK = os.sysconf("SC_CLK_TCK")


def nice_prefix():
    """Loaded runs get a higher priority when we may ask for one, so that other
    work on the machine preempts the server and dnsperf less (BENCH_NICE=0
    turns this off)."""
    level = int(os.environ.get("BENCH_NICE", "-10"))
    return ["nice", "-n", str(level)] if level and os.geteuid() == 0 else []


class ServerError(Exception):
    pass


class Server:
    def __init__(self, name, port, workdir):
        self.name, self.port, self.workdir = name, port, workdir
        self.addr = ("127.0.0.1", port)
        self.proc = None
        self.log = None
        self.cg_prefix = None

    # Subclasses give the command line and the reload mechanism.
    def argv(self):
        raise NotImplementedError

    def start(self, cpu=None, callgrind=False, timeout=60.0, ready=None, step=0.005):
        """Start and wait until the SOA is answered, or until `ready()` says
        so, asked every `step` s. Returns seconds from exec to ready."""
        argv = self.argv()
        if callgrind:
            self.cg_prefix = os.path.join(self.workdir, "callgrind.%s" % self.name)
            for f in os.listdir(self.workdir):
                if f.startswith(os.path.basename(self.cg_prefix)):
                    os.unlink(os.path.join(self.workdir, f))
            argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=%s.%%p" % self.cg_prefix,
                    "--dump-instr=no", "--collect-jumps=no", "--compress-strings=no",
                    "--compress-pos=no"] + argv
        if cpu is not None:
            argv = nice_prefix() + ["taskset", "-c", str(cpu)] + argv
        suffix = ".cg.log" if callgrind else ".log"
        self.logpath = os.path.join(self.workdir, self.name + suffix)
        self.log = open(self.logpath, "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        if ready is None:
            ok = self.wait_serial(None, timeout) is not None
        else:
            ok = self.wait_ready(ready, timeout, step)
        if not ok:
            self.stop()
            raise ServerError("%s did not answer within %.0f s; see %s"
                              % (self.name, timeout, self.logpath))
        return time.monotonic() - t0

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def serial(self):
        r = dnsclient.ask(self.addr, ZONE, "SOA", timeout=0.2, tries=1)
        return r.serial if r is not None else None

    def wait_serial(self, want, timeout, step=0.005):
        """Poll the SOA until it answers (want None) or shows serial `want`."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.alive():
                return None
            s = self.serial()
            if s is not None and (want is None or s == want):
                return s
            time.sleep(step)
        return None

    def wait_ready(self, ready, timeout, step):
        """Call ready() every `step` s (from one call's start to the next's)
        until it returns true; False if the time runs out or the server ends."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            t = time.monotonic()
            if not self.alive():
                return False
            if ready():
                return True
            time.sleep(max(0.0, step - (time.monotonic() - t)))
        return False

    def cpu_seconds(self):
        """utime + stime of every thread, from /proc/PID/stat."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def memory_kib(self):
        """(VmRSS, VmHWM) in KiB."""
        out = {}
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
        return out.get("VmRSS", 0), out.get("VmHWM", 0)

    def memory_detail_kib(self):
        """VmRSS, VmHWM and the resident set's parts (RssAnon: heap and other
        private memory; RssFile: pages of mapped files; RssShmem: shared
        memory) in KiB, from /proc/PID/status."""
        keys = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")
        out = dict.fromkeys(keys, 0)
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                k = line.split(":")[0]
                if k in out:
                    out[k] = int(line.split()[1])
        # Within RssFile: the pages of mappings of deleted files, which for
        # gslbd are its compiled GeoIP trie (an unlinked file in $TMPDIR).
        out["RssDeleted"] = out["SizeDeleted"] = 0
        deleted = False
        try:
            with open("/proc/%d/smaps" % self.pid) as f:
                for line in f:
                    if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
                        deleted = line.rstrip().endswith("(deleted)")
                    elif deleted and line.startswith("Rss:"):
                        out["RssDeleted"] += int(line.split()[1])
                    elif deleted and line.startswith("Size:"):
                        out["SizeDeleted"] += int(line.split()[1])
        except OSError:
            pass
        return out

    def reset_peak(self):
        """Start VmHWM again from the current RSS (clear_refs 5)."""
        with open("/proc/%d/clear_refs" % self.pid, "w") as f:
            f.write("5")

    def callgrind_dump(self):
        """Ask callgrind for a dump; return the instructions since the last one."""
        before = set(self._dumps())
        subprocess.run(["callgrind_control", "-d", str(self.pid)], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            new = sorted(set(self._dumps()) - before, key=_dump_no)
            if new and _complete(new[-1]):
                return _total(new[-1]), new[-1]
            time.sleep(0.05)
        raise ServerError("%s: callgrind dump did not appear" % self.name)

    def _dumps(self):
        d = os.path.dirname(self.cg_prefix)
        base = "%s.%d." % (os.path.basename(self.cg_prefix), self.pid)
        return [os.path.join(d, f) for f in os.listdir(d) if f.startswith(base)]

    def stop(self, timeout=30.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None


def _dump_no(path):
    return int(path.rsplit(".", 1)[1])


def _complete(path):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 4096))
            tail = f.read()
        return b"\ntotals:" in tail or b"\nsummary:" in tail
    except OSError:
        return False


def _total(path):
    with open(path) as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise ServerError("no totals in %s" % path)


class Gslbd(Server):
    def __init__(self, binary, zones, port, workdir, threads=1, geoip=None, http_port=None,
                 quiet=True, control=None):
        super().__init__("gslbd", port, workdir)
        self.binary, self.zones, self.threads, self.geoip = binary, zones, threads, geoip
        # Not quiet: phase f reads the line saying the GeoIP database reloaded.
        self.quiet, self.control = quiet, control
        # --http: /metrics and /api/v1/status, served on the main loop.
        self.http = ("127.0.0.1", http_port) if http_port else None

    def argv(self):
        # Rate limiting stays on, as by default, so every response pays for its
        # accounting; the rate is set above anything the load generator reaches, so
        # none is limited (the load comes from one loopback address, which the
        # default would both limit and exempt).
        a = [self.binary, "--zones", self.zones, "--listen", "%s:%d" % self.addr,
             "--threads", str(self.threads), "--rrl-rate", "1000000"]
        a += ["--quiet"] if self.quiet else []
        a += ["--geoip", self.geoip] if self.geoip else []
        a += ["--control", self.control] if self.control else []
        return a + (["--http", "%s:%d" % self.http] if self.http else [])

    def thread_cpu_ns(self):
        """CPU time of each thread in ns, {thread id: ns}, from
        /proc/PID/task/TID/schedstat. The main thread (id = PID) runs the
        main loop and so the HTTP listener; the others answer queries (and
        one ticks the clock)."""
        out = {}
        base = "/proc/%d/task" % self.pid
        for tid in os.listdir(base):
            try:
                with open("%s/%s/schedstat" % (base, tid)) as f:
                    out[int(tid)] = int(f.read().split()[0])
            except OSError:
                continue  # a thread that ended meanwhile
        return out

    def main_thread_cpu_ns(self):
        return self.thread_cpu_ns().get(self.pid, 0)

    def reload(self):
        """SIGHUP: gslbd rereads every zone file and swaps the snapshot."""
        os.kill(self.pid, signal.SIGHUP)
        return None


class Gdnsd(Server):
    def __init__(self, confdir, port, workdir):
        super().__init__("gdnsd", port, workdir)
        self.confdir = confdir

    def argv(self):
        return ["gdnsd", "-c", self.confdir, "start"]

    def reload(self):
        """`gdnsdctl reload-zones` (synchronous) in a thread; returns the thread."""
        def run():
            subprocess.run(["gdnsdctl", "-c", self.confdir, "-t", "120", "reload-zones"],
                           stdout=self.log, stderr=subprocess.STDOUT, timeout=150)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t
