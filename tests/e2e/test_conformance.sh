#!/usr/bin/env bash
# test_conformance.sh: independent DNS checkers run against gslbd.
#
# Two tools that others wrote to judge authoritative servers look at a gslbd
# serving a small zone whose name servers are loopback addresses:
#   - Zonemaster (Debian zonemaster-cli): its Nameserver test cases check recursion,
#     EDNS(0) and unknown EDNS versions, options and flags, AXFR, AAAA handling,
#     QNAME case, and OPT in truncated replies. Any message of level NOTICE or above
#     from them fails the case; other modules' findings are printed as notes.
#   - DNSViz (Debian dnsviz): "probe -A -E" (EDNS compatibility queries) then "grok";
#     every error or warning it reports fails the name it was found on.
# Zonemaster only talks to port 53 and both tools chase every address the zone
# names, so the whole script re-runs itself in a private network namespace
# (unshare -n): only its own loopback exists there, nothing can leave the machine,
# and gslbd can take port 53 on 127.10.0.53 and 127.10.0.54 without a clash.
# Without unshare (not root), or without the tools, the cases are skipped.

if [ -z "${GSLB_E2E_NETNS:-}" ]; then
    if unshare -n true 2>/dev/null; then
        GSLB_E2E_NETNS=1 exec unshare -n bash "$0" "$@"
    fi
    # shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
    skip "conformance checkers" "cannot create a network namespace (needs root)"
    e2e_finish
    exit
fi

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

gslbd_require
ip link set lo up || e2e_bail "loopback up in the private namespace"

ZDIR=$E2E_TMP/zones
mkdir -p "$ZDIR"
cat >"$ZDIR/gslb.test.yaml" <<'EOF'
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
EOF

gslbd_start conformance --zones "$ZDIR" --listen 127.10.0.53:53 --listen 127.10.0.54:53 \
    --listen "[::1]:53" || e2e_bail "gslbd starts on port 53 in the namespace" "see the log above"
e2e_ok "gslbd starts on port 53 in the namespace"

# ------------------------------------------------------------------ Zonemaster

# zonemaster_cases: run the checker once, then one assertion per Nameserver test case.
zonemaster_cases() {
    local out=$E2E_TMP/zonemaster.txt
    timeout 300 zonemaster-cli --raw --no-time --show-module --show-testcase --level DEBUG \
        --ns ns1.gslb.test/127.10.0.53 --ns ns1.gslb.test/::1 --ns ns2.gslb.test/127.10.0.54 \
        gslb.test >"$out.raw" 2>&1
    local st=$?
    # Lines: [SECONDS] LEVEL MODULE TESTCASE TAG ARGS... (the time shows despite --no-time
    # in zonemaster-cli 5.0.2, so it is cut off when present).
    sed -E 's/^ *[0-9]+\.[0-9]+ +//' "$out.raw" >"$out"
    local cases
    cases=$(awk '$2 == "NAMESERVER" && $4 == "TEST_CASE_START" {print $3}' "$out")
    if [ -z "$cases" ]; then
        e2e_not_ok "zonemaster ran its Nameserver test cases (status $st)" \
            "$(grep -E '^(ERROR|CRITICAL) ' "$out" | head -20)" "$(tail -3 "$out")"
        return
    fi
    local c bad
    for c in $cases; do
        bad=$(awk -v c="$c" '$3 == c && $1 ~ /^(NOTICE|WARNING|ERROR|CRITICAL)$/' "$out")
        if [ -z "$bad" ]; then
            e2e_ok "zonemaster $c ($(zonemaster_title "$c"))"
        else
            e2e_not_ok "zonemaster $c ($(zonemaster_title "$c"))" "$bad"
        fi
    done
    # The other modules judge the zone's setup more than the server (loopback name
    # servers, no parent, no DNSSEC): shown, not counted.
    awk '$2 != "NAMESERVER" && $1 ~ /^(WARNING|ERROR|CRITICAL)$/ {print "# note: zonemaster " $0}' \
        "$out"
}

zonemaster_title() {
    case $1 in
    NAMESERVER01) echo "not a recursor" ;;
    NAMESERVER02) echo "EDNS(0) support" ;;
    NAMESERVER03) echo "AXFR not available" ;;
    NAMESERVER04) echo "replies from the queried address" ;;
    NAMESERVER05) echo "AAAA queries" ;;
    NAMESERVER06) echo "NS names resolve" ;;
    NAMESERVER07) echo "no upward referral" ;;
    NAMESERVER08) echo "QNAME case kept" ;;
    NAMESERVER09) echo "same answer whatever the QNAME case" ;;
    NAMESERVER10) echo "undefined EDNS version" ;;
    NAMESERVER11) echo "unknown EDNS option not echoed" ;;
    NAMESERVER12) echo "unknown EDNS flags / Z bits cleared" ;;
    NAMESERVER13) echo "OPT kept in truncated replies" ;;
    *) echo "see zonemaster-cli --list-tests" ;;
    esac
}

if command -v zonemaster-cli >/dev/null; then
    zonemaster_cases
else
    skip "zonemaster Nameserver test cases" "zonemaster-cli not installed (Debian zonemaster-cli)"
fi

# ------------------------------------------------------------------ DNSViz

# dnsviz_findings FILE: every error and warning in a "dnsviz grok" JSON, one a line.
dnsviz_findings() {
    python3 - "$1" <<'EOF'
import json
import sys

def walk(node, path):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("errors", "warnings") and isinstance(value, list):
                for item in value:
                    desc = item.get("description", item) if isinstance(item, dict) else item
                    code = item.get("code", "") if isinstance(item, dict) else ""
                    print("%s %s %s: %s" % (path, key[:-1], code, desc))
            else:
                walk(value, path + "/" + key)
    elif isinstance(node, list):
        for value in node:
            walk(value, path)

walk(json.load(open(sys.argv[1])), "")
EOF
}

if command -v dnsviz >/dev/null; then
    NAMES="gslb.test www.gslb.test docs.gslb.test _sip._tcp.gslb.test"
    SERVERS="ns1.gslb.test=127.10.0.53,ns1.gslb.test=[::1],ns2.gslb.test=127.10.0.54"
    # shellcheck disable=SC2086
    if timeout 300 dnsviz probe -A -E -x "gslb.test+:$SERVERS" -o "$E2E_TMP/probe.json" \
        $NAMES >"$E2E_TMP/probe.log" 2>&1 &&
        timeout 120 dnsviz grok -l warning -r "$E2E_TMP/probe.json" \
            -o "$E2E_TMP/grok.json" >>"$E2E_TMP/probe.log" 2>&1; then
        e2e_ok "dnsviz probe and grok ran"
        # grok writes nothing at all when it has nothing at or above the level.
        if [ -s "$E2E_TMP/grok.json" ]; then
            findings=$(dnsviz_findings "$E2E_TMP/grok.json" 2>&1)
        else
            findings=""
        fi
        for name in $NAMES; do
            mine=$(printf '%s\n' "$findings" | grep -F "/$name./" || true)
            if [ -z "$mine" ]; then
                e2e_ok "dnsviz: no errors or warnings for $name"
            else
                e2e_not_ok "dnsviz: no errors or warnings for $name" "$mine"
            fi
        done
        rest=$(printf '%s\n' "$findings" | grep -v -F -e "/gslb.test./" -e "/www.gslb.test./" \
            -e "/docs.gslb.test./" -e "/_sip._tcp.gslb.test./" | grep . || true)
        if [ -z "$rest" ]; then
            e2e_ok "dnsviz: no other errors or warnings"
        else
            e2e_not_ok "dnsviz: no other errors or warnings" "$rest"
        fi
        dnsviz print -r "$E2E_TMP/probe.json" 2>/dev/null | sed 's/^/# dnsviz: /'
    else
        e2e_not_ok "dnsviz probe and grok ran" "$(tail -20 "$E2E_TMP/probe.log")"
    fi
else
    skip "dnsviz checks" "dnsviz not installed (Debian dnsviz)"
fi

gslbd_stop
is "SIGTERM exits 0" 0 "$GSLBD_STATUS"

e2e_finish
