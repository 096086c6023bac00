"""gslbtest.tap: the Test object: TAP lines, assertions, the temporary directory, clean-up.

One Test per script. It prints one line per assertion, exactly as the shell suites' lib.sh did,
so tools/run-tests.sh counts Python and shell suites alike:

    ok - NAME
    not ok - NAME
    #   detail lines (expected, got, a traceback)
    ok - NAME # SKIP reason
    # SCRIPT: N passed, N failed

Used as a context manager (``with Test(__file__) as t:``), it turns an exception in the
script into a ``not ok`` line with the traceback, stops every process the script
started (SIGTERM, a bounded wait, SIGKILL), fails for any sanitizer or valgrind report
in the logs, prints the summary and exits non-zero when anything failed.

It does not start daemons or send queries itself (gslbtest.procs and gslbtest.dnsq do);
it only keeps the list of what to stop.
"""

import atexit
import contextlib
import difflib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

# Seconds to wait for a readiness line (E2E_READY_TIMEOUT, as in lib.sh).
READY_TIMEOUT = float(os.environ.get("E2E_READY_TIMEOUT", "10"))

# The repository: tests/e2e/gslbtest/tap.py -> three levels up.
ROOT = Path(__file__).resolve().parents[3]

# What sanitizer_check in lib.sh looks for: ASan/LSan/UBSan reports, and valgrind -q,
# which prints nothing but its reports, each line "==PID== ...".
_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|^==[0-9]+== [A-Z]", re.M)
_REPORT_CONTEXT = re.compile(r"Sanitizer|runtime error:|^==[0-9]+== [A-Z]")


class Interrupted(BaseException):
    """A signal stopped the script (SIGTERM from run-tests.sh's timeout, SIGINT)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class Bail(Exception):
    """Raised by Test.bail() after it has reported; ends the script with status 1."""


class Result:
    """What Test.run() returns: exit status (int, or "timeout") and stdout+stderr."""

    def __init__(self, status, out):
        self.status = status
        self.out = out

    def __repr__(self):
        return "Result(status=%r, out=%r)" % (self.status, self.out[:200])


class Waited:
    """What until() returns: the condition's last value and the seconds waited. True when
    the value was (it came in time); ms is the wait in whole milliseconds."""

    def __init__(self, value, seconds):
        self.value = value
        self.seconds = seconds

    @property
    def ms(self):
        return int(self.seconds * 1000)

    def __bool__(self):
        return bool(self.value)

    def __repr__(self):
        return "Waited(value=%r, seconds=%.3f)" % (self.value, self.seconds)


def until(condition, timeout, every=0.1):
    """Call condition() every `every` seconds until it returns something true or
    `timeout` seconds have gone by (one last call at the end): a Waited with that value
    and the time it took. Bounded in time and, through `every`, in count."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        value = condition()
        now = time.monotonic()
        if value or now >= deadline:
            return Waited(value, now - start)
        time.sleep(max(0.0, min(every, deadline - now)))


class Test:
    """One end-to-end script: its assertions, temporary directory and processes.

    Attributes: name (the script's base name, "test_core"), root (the repository),
    tmp (a Path kept with E2E_KEEP=1), passed, failed.
    """

    def __init__(self, script=None):
        script = script or sys.argv[0]
        self.name = os.path.splitext(os.path.basename(script))[0]
        self.root = ROOT
        self.tmp = Path(tempfile.mkdtemp(prefix="gslb-e2e.", dir=os.environ.get("TMPDIR")))
        self.keep = bool(os.environ.get("E2E_KEEP"))
        self.passed = 0
        self.failed = 0
        self._procs = []
        self._groups = []
        self._finished = False
        self._status = None
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        sys.excepthook = self._excepthook
        atexit.register(self._atexit)

    # ------------------------------------------------------------- TAP lines

    def _emit(self, line):
        print(line, flush=True)

    @staticmethod
    def _one_line(name):
        return " ".join(str(name).split())

    def _details(self, details):
        for item in details:
            for line in str(item).splitlines() or [""]:
                self._emit("#   " + line)

    def diag(self, *lines):
        """Comment lines ("# ...") that run-tests.sh shows but does not count."""
        for item in lines:
            for line in str(item).splitlines() or [""]:
                self._emit("# " + line)

    def ok(self, name):
        """A passed assertion. Inside group() it only counts towards the group."""
        if self._groups:
            return True
        self.passed += 1
        self._emit("ok - " + self._one_line(name))
        return True

    def not_ok(self, name, *details):
        """A failed assertion; each detail (multi-line strings too) becomes "#   " lines."""
        if self._groups:
            self._groups[-1].append(("%s" % name, [str(d) for d in details]))
            return False
        self.failed += 1
        self._emit("not ok - " + self._one_line(name))
        self._details(details)
        return False

    def skip(self, name, reason):
        """Counted as passed and marked as a TAP skip, as lib.sh's skip."""
        if self._groups:
            return True
        self.passed += 1
        self._emit("ok - %s # SKIP %s" % (self._one_line(name), self._one_line(reason)))
        return True

    def report(self, name, problems):
        """ok when `problems` (a list of strings) is empty, else not ok with them."""
        if problems:
            return self.not_ok(name, *problems)
        return self.ok(name)

    @contextlib.contextmanager
    def group(self, name):
        """Every check inside the block makes one assertion named `name`.

        A failed check adds its name and details to the group's; an exception in the
        block fails the group with the traceback, and the script goes on after it.
        """
        self._groups.append([])
        failures = None
        try:
            yield self
        except Exception:  # pylint: disable=broad-except
            self._groups[-1].append(("exception", [traceback.format_exc().rstrip()]))
        finally:
            failures = self._groups.pop()
        details = []
        for sub, lines in failures:
            if sub != name:
                details.append("%s:" % sub)
            details.extend("  " + line for d in lines for line in d.splitlines())
        self.report(name, details)

    # ------------------------------------------------------------- assertions

    def check(self, name, condition, *details):
        """ok when condition is true; the details are printed only when it is not."""
        if condition:
            return self.ok(name)
        return self.not_ok(name, *details)

    def eq(self, name, expected, got):
        """Equality; multi-line strings are shown as a diff (lib.sh's `is`)."""
        if expected == got:
            return self.ok(name)
        if isinstance(expected, str) and isinstance(got, str) and (
                "\n" in expected or "\n" in got):
            diff = difflib.unified_diff(expected.splitlines(), got.splitlines(),
                                        "expected", "got", lineterm="", n=1)
            return self.not_ok(name, "diff expected -> got:", *list(diff)[2:])
        return self.not_ok(name, "expected: %r" % (expected,), "got:      %r" % (got,))

    def like(self, name, pattern, text):
        """`text` matches the regular expression (re.M: ^ and $ match at each line)."""
        if re.search(pattern, text, re.M):
            return self.ok(name)
        return self.not_ok(name, "expected to match: %s" % pattern, "got:", text)

    def unlike(self, name, pattern, text):
        """`text` does not match the regular expression."""
        m = re.search(pattern, text, re.M)
        if not m:
            return self.ok(name)
        return self.not_ok(name, "expected not to match: %s" % pattern,
                           "matched: %r" % m.group(0), "in:", text)

    _OPS = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}

    def compare(self, name, a, op, b):
        """Numeric comparison, op one of == != < <= > >= (lib.sh's cmp_num)."""
        try:
            good = self._OPS[op](a, b)
        except TypeError:
            good = False
        if good:
            return self.ok(name)
        return self.not_ok(name, "expected: %r %s %r" % (a, op, b))

    def bail(self, name, *details):
        """Fail `name` and stop the script now (a missing binary, a daemon that never
        got ready): clean-up and the summary still run, the exit status is 1."""
        self.not_ok(name, *details)
        raise Bail(name)

    # ------------------------------------------------------------- files and commands

    def path(self, *parts):
        """A path inside the script's temporary directory (not created)."""
        return self.tmp.joinpath(*parts)

    def write(self, relpath, text, atomic=True):
        """Write `text` to tmp/relpath (parents made). Atomic by default: written aside
        and renamed, so a daemon watching the directory never reads half a file."""
        target = self.tmp / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        if not atomic:
            target.write_text(text)
            return target
        aside = target.with_name("." + target.name + ".tmp")
        aside.write_text(text)
        os.replace(aside, target)
        return target

    def run(self, argv, timeout=20, input_text=None, env=None):
        """Run a command to completion, bounded; stdout and stderr together.
        Returns Result(status, out); status is "timeout" when it overran."""
        try:
            p = subprocess.run([str(a) for a in argv], input=input_text, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=timeout, env=env, errors="replace",
                               stdin=None if input_text is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            out = e.stdout or ""
            if isinstance(out, bytes):
                out = out.decode(errors="replace")
            return Result("timeout", out)
        return Result(p.returncode, p.stdout)

    @staticmethod
    def wait_for(cond, timeout=3.0, every=0.1):
        """Poll cond() until it returns a true value: at most timeout/every pauses of
        `every` seconds, so bounded in count, and in time as long as cond() is (a query
        with its timeout, say). Returns how many pauses it took (0: true at the first
        look), or None when it never held."""
        pauses = int(round(timeout / every))
        for waited in range(pauses + 1):
            if cond():
                return waited
            if waited < pauses:
                time.sleep(every)
        return None

    # ------------------------------------------------------------- processes

    def start(self, daemon, name=None, bail=False):
        """Start a Daemon (bounded wait for its readiness line). With a name, that is one
        assertion, failed with the daemon's reason and log; with bail, a failure ends the
        script (Test.bail). Without a name, a failure prints the reason as comments.
        Returns True when it is ready."""
        good = daemon.start()
        if name is None:
            if not good:
                self.diag(*daemon.why)
            return good
        if good:
            return self.ok(name)
        if bail:
            self.bail(name, *daemon.why)
        return self.not_ok(name, *daemon.why)

    def register(self, proc):
        """Remember a started process (anything with .stop_quietly()) for clean-up."""
        self._procs.append(proc)

    def forget(self, proc):
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self):
        """Stop every registered process: all get SIGTERM at once, then each a bounded wait."""
        procs, self._procs = self._procs[::-1], []
        for p in procs:
            p.terminate()
        for p in procs:
            p.stop_quietly()

    def sanitizer_check(self):
        """One failure per log in tmp (*.log) that holds an ASan/LSan/UBSan or valgrind
        report; silent otherwise. finish() calls it once the processes have stopped."""
        for log in sorted(self.tmp.glob("*.log")):
            try:
                text = log.read_text(errors="replace")
            except OSError:
                continue
            if not _REPORT.search(text):
                continue
            lines = text.splitlines()
            shown = []
            for i, line in enumerate(lines):
                if _REPORT_CONTEXT.search(line):
                    shown.extend(lines[i:i + 13])
                if len(shown) >= 40:
                    break
            self.not_ok("no sanitizer or valgrind report in %s" % log.name, *shown[:40])

    # ------------------------------------------------------------- the end

    def finish(self):
        """Stop the processes, check the logs, print the summary, remove tmp (unless
        E2E_KEEP). Returns the exit status (0 when nothing failed). Idempotent."""
        if self._finished:
            return self._status
        self._finished = True
        self._groups = []
        # Clean-up is bounded already; a second signal must not cut it short.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        try:
            self.stop_all()
        finally:
            self.sanitizer_check()
            if self.keep:
                self.diag("kept %s" % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        self._emit("# %s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        self._status = 0 if self.failed == 0 else 1
        return self._status

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None or kind is Bail:
            status = self.finish()
        elif issubclass(kind, Interrupted):
            # As lib.sh's trap: no "not ok" of our own; run-tests.sh reports the timeout.
            self.diag("interrupted by signal %d" % value.signum)
            self.finish()
            status = 128 + value.signum
        elif issubclass(kind, SystemExit):
            # sys.exit(0) from the script must not hide a failure.
            status = self.finish()
            if value.code not in (0, None) or not status:
                return False
        else:
            self._report_exception(kind, value, tb)
            status = self.finish()
        sys.exit(status if kind is not Bail else 1)

    def _report_exception(self, kind, value, tb):
        self._groups = []
        text = "".join(traceback.format_exception(kind, value, tb)).rstrip()
        self.not_ok("%s raised %s: %s" % (self.name, kind.__name__, value), text)

    def _on_signal(self, signum, _frame):
        raise Interrupted(signum)

    def _excepthook(self, kind, value, tb):
        # A script not using `with Test(...)` still reports its exception as a failure.
        if self._finished or issubclass(kind, (Interrupted, KeyboardInterrupt)):
            sys.__excepthook__(kind, value, tb)
            return
        if kind is not Bail:
            self._report_exception(kind, value, tb)

    def _atexit(self):
        if self._finished:
            return
        self.finish()
        sys.stdout.flush()
        if self._status:
            os._exit(self._status)
