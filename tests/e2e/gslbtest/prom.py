"""gslbtest.prom: reading the Prometheus text exposition format (0.0.4) that /metrics serves,
strictly, and fetching it.

parse(text) returns {(name, frozenset(labels.items())): value}; a line that is not a
comment, a blank or a well-formed sample raises ValueError naming it, so a malformed
exposition fails the test that reads it. value(), total() and delta() pick samples out.
promtool's own check (`promtool check metrics`) is run by the suites as well; this module
is what lets them compare numbers.
"""

import http.client
import math
import re

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(r"^(%s)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(-?[0-9]+))?$" % _NAME)
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _labels(text, line):
    out, pos = {}, 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            raise ValueError("malformed labels in %r" % line)
        value = re.sub(r'\\[\\"n]', lambda e: _UNESCAPE[e.group(0)], m.group(2))
        if m.group(1) in out:
            raise ValueError("label %s twice in %r" % (m.group(1), line))
        out[m.group(1)] = value
        pos = m.end()
    return out


def _number(text, line):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError("not a number in %r" % line) from None


def parse(text):
    """{(name, frozenset of (label, value))): float} of every sample in `text`."""
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            if line.startswith("# TYPE ") and len(line.split()) != 4:
                raise ValueError("malformed TYPE line %r" % line)
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError("malformed sample line %r" % line)
        key = (m.group(1), frozenset(_labels(m.group(2) or "", line).items()))
        if key in out:
            raise ValueError("sample repeated: %r" % line)
        out[key] = _number(m.group(3), line)
    return out


def _matches(key, name, labels):
    return key[0] == name and all((k, v) in key[1] for k, v in labels.items())


def value(samples, name, **labels):
    """The one sample of `name` whose labels include `labels`; None when there is none,
    ValueError when several match."""
    found = [v for k, v in samples.items() if _matches(k, name, labels)]
    if len(found) > 1:
        raise ValueError("%d samples of %s match %r" % (len(found), name, labels))
    return found[0] if found else None


def total(samples, name, **labels):
    """The sum of every sample of `name` whose labels include `labels` (0 for none)."""
    return sum(v for k, v in samples.items() if _matches(k, name, labels))


def delta(before, after, name, **labels):
    """total() after minus total() before."""
    return total(after, name, **labels) - total(before, name, **labels)


def get(host, port, path="/metrics", method="GET", timeout=5.0, headers=None):
    """(status, headers as a dict with lower-case names, body text) of one HTTP request."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def scrape(host, port, path="/metrics", timeout=5.0):
    """parse() of one GET of /metrics; ValueError when it is not a 200."""
    status, _, body = get(host, port, path, timeout=timeout)
    if status != 200:
        raise ValueError("GET %s: status %d" % (path, status))
    return parse(body)
