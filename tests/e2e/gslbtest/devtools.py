"""gslbtest.devtools: headless Chromium driven over the DevTools protocol on a pipe, for
the status page's test (test_statuspage.py) and its README screenshot
(tools/status-screenshot.py).

Chromium runs with --remote-debugging-pipe: JSON messages ended by a NUL byte, to the
browser on its fd 3, from it on fd 4. Browser starts it (a Daemon, so the Test stops it
whatever happens), sends commands and keeps the events; Page is one tab attached in flat
mode, with the few things the callers need: navigate, evaluate an expression, wait for
one to hold (bounded), the page's events and errors, a full-page screenshot.

Loopback only, as every suite: Chromium resolves no name, so nothing leaves the host. It
does not judge what the page shows; the callers do.
"""

import base64
import fcntl
import json
import os
import subprocess
import sys
import threading
import time

from .procs import Daemon
from .tap import until

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--no-pings", "--metrics-recording-only",
    "--mute-audio", "--hide-scrollbars", "--window-size=1400,1600",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
    # Loopback only, as every suite: no name resolves, so nothing can leave the host
    # (a request elsewhere would still show in the Network events the test reads).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

# The wrapper that puts the two pipe ends on fds 3 and 4 before Chromium runs: moved
# above 9 first, so that neither dup2 can overwrite the other's source.
FD_WRAPPER = """\
import fcntl, os, sys
r, w = int(sys.argv[1]), int(sys.argv[2])
r2, w2 = fcntl.fcntl(r, fcntl.F_DUPFD, 10), fcntl.fcntl(w, fcntl.F_DUPFD, 10)
os.dup2(r2, 3)
os.dup2(w2, 4)
for fd in {r, w, r2, w2} - {3, 4}:
    os.close(fd)
os.execv(sys.argv[3], sys.argv[3:])
"""


class DevToolsError(Exception):
    pass


class Browser(Daemon):
    """Headless Chromium, driven over the DevTools protocol on a pipe. Its output goes to
    TMP/chromium.out; events are kept in self.events (each with its sessionId)."""

    def __init__(self, test, name="chromium"):
        super().__init__(test, name, argv=[CHROMIUM], ready=None)
        self.events = []
        self._replies = {}
        self._next = 0
        self._cond = threading.Condition()
        self._to = self._from = None
        self._reader = None

    def start(self, timeout=None):
        to_r, self._to = os.pipe()
        self._from, from_w = os.pipe()
        for fd in (self._to, self._from):
            fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
        profile = self.test.path("chromium-profile")
        self.argv = [sys.executable, "-c", FD_WRAPPER, str(to_r), str(from_w), CHROMIUM] + \
            BROWSER_ARGS + ["--user-data-dir=%s" % profile, "about:blank"]
        out = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=out, pass_fds=(to_r, from_w))
        except OSError as e:
            self.why = ["cannot run %s: %s" % (CHROMIUM, e)]
            return False
        finally:
            out.close()
            os.close(to_r)
            os.close(from_w)
        self.test.register(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            v = self.call("Browser.getVersion", timeout=timeout or 30)
        except DevToolsError as e:
            self.why = ["no answer on the DevTools pipe: %s" % e] + \
                self.log().splitlines()[-20:]
            self.stop_quietly()
            return False
        self.version = v.get("product", "?")
        return True

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._from, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                with self._cond:
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def call(self, method, session=None, timeout=10.0, **params):
        """One command; its result, or DevToolsError (an error reply, or none in time)."""
        with self._cond:
            self._next += 1
            mid = self._next
        msg = {"id": mid, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._to, data):]
        except OSError as e:
            raise DevToolsError("%s: cannot write to the browser: %s" % (method, e))
        deadline = time.monotonic() + timeout
        with self._cond:
            while mid not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    raise DevToolsError("%s: no reply in %gs" % (method, timeout))
                self._cond.wait(min(left, 0.5))
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise DevToolsError("%s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    def session_events(self, session, method=None):
        with self._cond:
            return [e for e in self.events if e.get("sessionId") == session
                    and (method is None or e.get("method") == method)]

    def stop(self, timeout=None):
        if self.alive():
            try:
                self.call("Browser.close", timeout=3)
            except DevToolsError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        status = super().stop(timeout)
        for fd in (self._to, self._from):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._to = self._from = None
        return status


class Page:
    """One tab of the browser, attached in flat mode: commands carry its sessionId."""

    def __init__(self, browser, width=1400, height=1600):
        self.b = browser
        self.width = width
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = browser.call("Target.attachToTarget", targetId=target,
                                    flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def call(self, method, timeout=10.0, **params):
        return self.b.call(method, session=self.session, timeout=timeout, **params)

    def navigate(self, url):
        return self.call("Page.navigate", url=url)

    def eval(self, expr):
        """The value of a JavaScript expression (JSON-able), or DevToolsError."""
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            raise DevToolsError("%s: %s" % (expr[:80], json.dumps(r["exceptionDetails"])[:500]))
        return r["result"].get("value")

    def wait(self, expr, timeout):
        """until() the expression is true: a Waited."""
        return until(lambda: self.eval(expr), timeout, every=0.2)

    def events(self, method=None):
        return self.b.session_events(self.session, method)

    def errors(self):
        """Script exceptions, console errors and browser log errors of the page."""
        out = []
        for e in self.events():
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:400])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.%s: %s" % (p["type"], json.dumps(p.get("args"))[:400]))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: %s %s" % (p["entry"].get("text"), p["entry"].get("url", "")))
        return out

    def screenshot(self, path):
        height = self.eval("document.documentElement.scrollHeight") or 1600
        self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=int(height),
                  deviceScaleFactor=1, mobile=False)
        data = self.call("Page.captureScreenshot", format="png", timeout=30)["data"]
        png = base64.b64decode(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return png


def open_page(test, what):
    """A started Browser and a Page on it, or (None, None): skipped, saying `what` is not
    checked, when Chromium is not installed; a diagnostic when it does not start."""
    if not os.access(CHROMIUM, os.X_OK):
        test.skip(what, "%s is not installed (Debian package chromium: make deps)" % CHROMIUM)
        return None, None
    browser = Browser(test)
    if not browser.start():
        test.diag("Chromium did not start: %s is not checked" % what, *browser.why)
        return None, None
    return browser, Page(browser)
