"""gslbtest.prom: read the Prometheus text exposition format (0.0.4) that the daemons'
/metrics serve, strictly, so a test of a counter also tests the page it is on.

    import gslbtest.prom as prom

    m = prom.parse(text)                # {(name, frozenset(labels.items())): value}
    m[("gslb_up", frozenset())]         # 1.0
    prom.value(m, "gslb_healthd_probes_total", zone="hc.test", result="ok")  # one series
    prom.total(m, "gslb_healthd_probes_total", result="fail")  # the sum over matching ones
    prom.one(m, "gslb_zone_serial", zone="hc.test")  # the one series whose labels include these
    prom.delta(before, after, "gslb_queries_total", qtype="A")  # total() after - before
    status, headers, body = prom.http_get(port, "/metrics")    # plain HTTP on loopback
    m = prom.scrape(port)               # GET /metrics, status 200 required, parsed

parse() raises PromError (a ValueError) naming the line for anything the format does not
allow: a malformed name, label or value, an escape other than \\\\, \\" and \\n, a label
given twice, a series given twice, a family's samples not together, a # TYPE after its
samples or given twice, an unknown type, a missing final newline. Comments other than
# HELP and # TYPE, and empty lines, are allowed as the format says. Timestamps are
accepted and dropped.

What it does not do: check that a histogram's buckets are cumulative or its names end
in the right suffixes (promtool does: tools/promtool.sh), or read the OpenMetrics format.
"""

import http.client
import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
_NAME_RX = re.compile(NAME)
_LABEL_RX = re.compile(r"(%s)=\"((?:[^\"\\\n]|\\.)*)\"" % LABEL)
_VALUE_RX = re.compile(r"^(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                       r"|[+-]?Inf|NaN)$")
_TS_RX = re.compile(r"^-?[0-9]+$")
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


class PromError(ValueError):
    """A line the exposition format does not allow."""


def _unescape(value, lineno):
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            nxt = value[i + 1:i + 2]
            if nxt not in ("\\", "\"", "n"):
                raise PromError("line %d: bad escape \\%s in a label value" % (lineno, nxt))
            out.append("\n" if nxt == "n" else nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _labels(text, lineno):
    """'{a="1",b="2"}' without the braces -> dict; raises on anything else."""
    labels, pos = {}, 0
    while pos < len(text):
        m = _LABEL_RX.match(text, pos)
        if not m:
            raise PromError("line %d: malformed label at %r" % (lineno, text[pos:pos + 30]))
        name = m.group(1)
        if name in labels:
            raise PromError("line %d: label %s given twice" % (lineno, name))
        labels[name] = _unescape(m.group(2), lineno)
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                raise PromError("line %d: expected ',' at %r" % (lineno, text[pos:pos + 30]))
            pos += 1  # a trailing comma is allowed by the format
    return labels


def _sample(line, lineno):
    """name, labels, value of one sample line."""
    m = _NAME_RX.match(line)
    if not m:
        raise PromError("line %d: no metric name: %r" % (lineno, line))
    name, rest = m.group(0), line[m.end():]
    labels = {}
    if rest.startswith("{"):
        # The labels end at the first '}' outside a quoted value.
        i, quoted = 1, False
        while i < len(rest) and (quoted or rest[i] != "}"):
            if rest[i] == "\\" and quoted:
                i += 1
            elif rest[i] == "\"":
                quoted = not quoted
            i += 1
        if i >= len(rest):
            raise PromError("line %d: labels not closed: %r" % (lineno, line))
        labels = _labels(rest[1:i], lineno)
        rest = rest[i + 1:]
    if not rest.startswith(" "):
        raise PromError("line %d: no space before the value: %r" % (lineno, line))
    fields = rest.strip(" ").split(" ")
    fields = [f for f in fields if f != ""]
    if not 1 <= len(fields) <= 2 or not _VALUE_RX.match(fields[0]) or \
            (len(fields) == 2 and not _TS_RX.match(fields[1])):
        raise PromError("line %d: malformed value or timestamp: %r" % (lineno, line))
    value = float(fields[0].replace("Inf", "inf").replace("NaN", "nan"))
    return name, labels, value


def _family(name, types):
    """The family a sample name belongs to: a histogram's or summary's base name for its
    suffixed series, else the name itself."""
    for base_type, suffixes in _SUFFIXES.items():
        for suffix in suffixes:
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) == base_type:
                return name[:-len(suffix)]
    return name


def parse(text):
    """Every sample of `text`: {(name, frozenset(labels.items())): float}. Strict: raises
    PromError naming the line for anything malformed (see the module's docstring)."""
    if text and not text.endswith("\n"):
        raise PromError("the last line does not end with a newline")
    samples, types, helps = {}, {}, set()
    seen, current = set(), None  # families whose samples were seen; the one being read
    for lineno, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not _NAME_RX.fullmatch(parts[2]):
                    raise PromError("line %d: malformed # %s" % (lineno, parts[1]))
                name = parts[2]
                if parts[1] == "TYPE":
                    kind = parts[3].strip() if len(parts) > 3 else ""
                    if kind not in _TYPES:
                        raise PromError("line %d: unknown type %r" % (lineno, kind))
                    if name in types:
                        raise PromError("line %d: # TYPE %s given twice" % (lineno, name))
                    if name in seen:
                        raise PromError("line %d: # TYPE %s after its samples" % (lineno, name))
                    types[name] = kind
                else:
                    if name in helps:
                        raise PromError("line %d: # HELP %s given twice" % (lineno, name))
                    helps.add(name)
            continue
        name, labels, value = _sample(line, lineno)
        family = _family(name, types)
        if family != current and family in seen:
            raise PromError("line %d: samples of %s are not together" % (lineno, family))
        seen.add(family)
        current = family
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise PromError("line %d: series given twice: %s" % (lineno, line))
        samples[key] = value
    return samples


def _matches(key, name, labels):
    return key[0] == name and all(item in key[1] for item in labels.items())


def select(samples, name, **labels):
    """The series of `name` whose labels include `labels`: {frozenset(labels): value}."""
    return {k[1]: v for k, v in samples.items() if _matches(k, name, labels)}


def value(samples, name, **labels):
    """The value of the one series of `name` with exactly `labels`; None when absent."""
    return samples.get((name, frozenset(labels.items())))


def one(samples, name, **labels):
    """The value of the one series of `name` whose labels include `labels`; None when
    there is none, PromError when several match."""
    found = select(samples, name, **labels)
    if len(found) > 1:
        raise PromError("%d series of %s match %r" % (len(found), name, labels))
    return next(iter(found.values())) if found else None


def delta(before, after, name, **labels):
    """total() in `after` minus total() in `before`."""
    return total(after, name, **labels) - total(before, name, **labels)


def total(samples, name, **labels):
    """The sum over the series of `name` whose labels include `labels` (0 when none)."""
    return sum(select(samples, name, **labels).values())


def http_get(port, path="/metrics", host="127.0.0.1", method="GET", timeout=5.0):
    """One plain HTTP request to loopback: (status, {header lower-cased: value}, body text)."""
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError("http_get: loopback only, not %s" % host)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path)
        reply = conn.getresponse()
        body = reply.read().decode("utf-8", errors="replace")
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, body
    finally:
        conn.close()


def scrape(port, path="/metrics", host="127.0.0.1", timeout=5.0):
    """GET /metrics and parse it; raises PromError unless the status is 200 and the page
    parses."""
    status, _, body = http_get(port, path, host, timeout=timeout)
    if status != 200:
        raise PromError("GET %s: status %d" % (path, status))
    return parse(body)
