#!/usr/bin/env python3
"""test_conformance.py: independent DNS checkers run against gslbd.

Two tools that others wrote to judge authoritative servers look at a gslbd serving a
small zone whose name servers are loopback addresses:
  - Zonemaster (Debian zonemaster-cli): its Nameserver test cases check recursion,
    EDNS(0) and unknown EDNS versions, options and flags (RFC 6891), AXFR, AAAA
    handling, QNAME case (RFC 4343), and OPT in truncated replies. Any message of level
    NOTICE or above from them fails the case; other modules' findings are printed as
    notes.
  - DNSViz (Debian dnsviz): "probe -A -E" (EDNS compatibility queries) then "grok";
    every error or warning it reports fails the name it was found on.
Zonemaster only talks to port 53 and both tools chase every address the zone names, so
the whole script re-runs itself in a private network namespace (unshare -n, through
g.private_network): only its own loopback exists there, nothing can leave the machine,
and gslbd can take port 53 on 127.10.0.53 and 127.10.0.54 without a clash. Without
unshare (not root), or without the tools, the cases are skipped.

Not here: the protocol case by case (test_core.py), which these tools only sample; the
zone's setup as a real delegation (loopback name servers, no parent, no DNSSEC), which
the other Zonemaster modules judge and which is shown, not counted.
"""

import json
import os
import re
import shutil
import subprocess

import gslbtest as g

ZONE = """\
zone: gslb.test
ttl: 300
soa: {mname: ns1.gslb.test, rname: hostmaster.gslb.test, refresh: 14400, retry: 3600, expire: 1209600, minimum: 300}
ns: [ns1.gslb.test, ns2.gslb.test]
records:
  ns1: {A: 127.10.0.53, AAAA: "::1"}
  ns2: {A: 127.10.0.54}
  "@": {TXT: "gslb conformance", MX: "10 mail.gslb.test."}
  mail: {A: 192.0.2.25}
  docs: {CNAME: www}
  _sip._tcp: {SRV: "10 5 5060 mail.gslb.test."}
regions:
  one: {location: [39.04, -77.49], weight: 100, pool: [192.0.2.10, "2001:db8:10::10"]}
services:
  www: {regions: [one], policy: nearest, ttl: 30}
"""

ZONEMASTER_TITLES = {
    "NAMESERVER01": "not a recursor",
    "NAMESERVER02": "EDNS(0) support",
    "NAMESERVER03": "AXFR not available",
    "NAMESERVER04": "replies from the queried address",
    "NAMESERVER05": "AAAA queries",
    "NAMESERVER06": "NS names resolve",
    "NAMESERVER07": "no upward referral",
    "NAMESERVER08": "QNAME case kept",
    "NAMESERVER09": "same answer whatever the QNAME case",
    "NAMESERVER10": "undefined EDNS version",
    "NAMESERVER11": "unknown EDNS option not echoed",
    "NAMESERVER12": "unknown EDNS flags / Z bits cleared",
    "NAMESERVER13": "OPT kept in truncated replies",
}
FAILING_LEVELS = ("NOTICE", "WARNING", "ERROR", "CRITICAL")

DNSVIZ_NAMES = ("gslb.test", "www.gslb.test", "docs.gslb.test", "_sip._tcp.gslb.test")
DNSVIZ_SERVERS = "ns1.gslb.test=127.10.0.53,ns1.gslb.test=[::1],ns2.gslb.test=127.10.0.54"


# ------------------------------------------------------------------ Zonemaster


def zonemaster_lines(t):
    """Run the checker once: (exit status, its lines as [LEVEL, MODULE, TESTCASE, TAG,
    ARGS...] word lists, the text). The time shows despite --no-time in zonemaster-cli
    5.0.2, so a leading "SECONDS " is cut off when present."""
    r = t.run(["zonemaster-cli", "--raw", "--no-time", "--show-module", "--show-testcase",
               "--level", "DEBUG", "--ns", "ns1.gslb.test/127.10.0.53",
               "--ns", "ns1.gslb.test/::1", "--ns", "ns2.gslb.test/127.10.0.54", "gslb.test"],
              timeout=300)
    t.write("zonemaster.txt.raw", r.out)
    text = re.sub(r"(?m)^ *[0-9]+\.[0-9]+ +", "", r.out)
    return r.status, [line.split() for line in text.splitlines()], text.splitlines()


def zonemaster_cases(t):
    """One assertion per Nameserver test case the checker ran."""
    status, rows, lines = zonemaster_lines(t)
    cases = [w[2] for w in rows if len(w) > 3 and w[1] == "NAMESERVER"
             and w[3] == "TEST_CASE_START"]
    if not cases:
        errors = [line for line, w in zip(lines, rows) if w and w[0] in ("ERROR", "CRITICAL")]
        t.not_ok("zonemaster ran its Nameserver test cases (status %s)" % status,
                 *(errors[:20] + lines[-3:]))
        return
    for case in cases:
        bad = [line for line, w in zip(lines, rows)
               if len(w) > 2 and w[2] == case and w[0] in FAILING_LEVELS]
        t.report("zonemaster %s (%s)" % (case, ZONEMASTER_TITLES.get(
            case, "see zonemaster-cli --list-tests")), bad)
    # The other modules judge the zone's setup more than the server (loopback name
    # servers, no parent, no DNSSEC): shown, not counted.
    for line, w in zip(lines, rows):
        if len(w) > 1 and w[1] != "NAMESERVER" and w[0] in ("WARNING", "ERROR", "CRITICAL"):
            t.diag("note: zonemaster " + line)


# ------------------------------------------------------------------ DNSViz


def dnsviz_findings(path):
    """Every error and warning in a "dnsviz grok" JSON, one a line: "PATH KIND CODE:
    DESCRIPTION", PATH the keys that lead to it ("/gslb.test./...")."""
    out = []

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("errors", "warnings") and isinstance(value, list):
                    for item in value:
                        desc = item.get("description", item) if isinstance(item, dict) \
                            else item
                        code = item.get("code", "") if isinstance(item, dict) else ""
                        out.append("%s %s %s: %s" % (where, key[:-1], code, desc))
                else:
                    walk(value, where + "/" + key)
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    try:
        with open(path) as f:
            walk(json.load(f), "")
    except (OSError, ValueError) as e:
        out.append("cannot read %s: %s" % (path, e))
    return out


def dnsviz_checks(t):
    probe, grok = t.path("probe.json"), t.path("grok.json")
    r = t.run(["dnsviz", "probe", "-A", "-E", "-x", "gslb.test+:" + DNSVIZ_SERVERS,
               "-o", probe] + list(DNSVIZ_NAMES), timeout=300)
    log = r.out
    if r.status == 0:
        r = t.run(["dnsviz", "grok", "-l", "warning", "-r", probe, "-o", grok], timeout=120)
        log += r.out
    if r.status != 0:
        t.not_ok("dnsviz probe and grok ran", *log.splitlines()[-20:])
        return
    t.ok("dnsviz probe and grok ran")
    # grok writes nothing at all when it has nothing at or above the level.
    findings = dnsviz_findings(grok) if grok.exists() and grok.stat().st_size else []
    for name in DNSVIZ_NAMES:
        t.report("dnsviz: no errors or warnings for %s" % name,
                 [f for f in findings if "/%s./" % name in f])
    t.report("dnsviz: no other errors or warnings",
             [f for f in findings if f and not any("/%s./" % n in f for n in DNSVIZ_NAMES)])
    try:
        shown = subprocess.run(["dnsviz", "print", "-r", str(probe)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               timeout=120, errors="replace").stdout
    except subprocess.TimeoutExpired:
        shown = ""
    t.diag(*("dnsviz: " + line for line in shown.splitlines()))


# ------------------------------------------------------------------ the suite


def main(t, outside):
    if outside:
        t.skip("conformance checkers", outside)
        return
    srv = g.Gslbd(t, "conformance", zones=t.write("zones/gslb.test.yaml", ZONE).parent,
                  port=53, addresses=("127.10.0.53", "127.10.0.54", "::1"))
    if not os.access(srv.binary, os.X_OK):
        t.bail("gslbd binary present", "no executable at %s (make bin/gslbd)" % srv.binary)
    r = t.run(["ip", "link", "set", "lo", "up"], timeout=10)
    if r.status != 0:
        t.bail("loopback up in the private namespace", r.out)
    t.start(srv, "gslbd starts on port 53 in the namespace", bail=True)

    if shutil.which("zonemaster-cli"):
        zonemaster_cases(t)
    else:
        t.skip("zonemaster Nameserver test cases",
               "zonemaster-cli not installed (Debian zonemaster-cli)")
    if shutil.which("dnsviz"):
        dnsviz_checks(t)
    else:
        t.skip("dnsviz checks", "dnsviz not installed (Debian dnsviz)")

    t.eq("SIGTERM exits 0", 0, srv.stop())


if __name__ == "__main__":
    # Before the Test exists: re-run in a network namespace of our own when we can.
    reason = g.private_network()
    with g.Test(__file__) as test:
        main(test, reason)
