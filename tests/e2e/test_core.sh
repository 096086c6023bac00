#!/usr/bin/env bash
# test_core.sh: DNS protocol behaviour of gslbd as an authoritative server.
#
# One gslbd serves three zones from a directory (the example zone, a zone with the
# other record types and large RRsets, and a reverse zone) on 127.0.0.1 and ::1.
# dig asks the questions a resolver would; tests/e2e/dnstool.py sends the packets
# dig will not build (malformed, zone transfers, pipelined TCP). Each test name
# carries the RFC section that dictates the expected answer.
#
# Not here: reloads and zone-file errors (test_reload.sh), TCP limits and load
# (test_transport.sh), geographic answers (geo tests).

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

gslbd_require

ZDIR=$E2E_TMP/zones
mkdir -p "$ZDIR"
write_example_zone "$ZDIR/gslb.example.com.yaml"

# Twelve 50-byte strings make ~800 bytes (over 512, under 1232); forty make ~2.6 kB.
txt_list() {
    local i sep=""
    printf '['
    for i in $(seq -w "$1"); do
        printf '%s"%s-%s"' "$sep" "$2$i" "$(printf 'x%.0s' $(seq 44))"
        sep=", "
    done
    printf ']'
}

cat >"$ZDIR/extra.example.net.yaml" <<EOF
zone: extra.example.net
ttl: 20
soa: {mname: ns1.extra.example.net, rname: hostmaster.example.net, refresh: 3600, retry: 600, expire: 604800, minimum: 3600}
ns: [ns1.extra.example.net]
records:
  ns1: {A: 192.0.2.53}
  "@": {CAA: '0 issue "ca.example.net"'}
  chain: {CNAME: hop}
  hop: {CNAME: target}
  target: {A: 192.0.2.7}
  out: {CNAME: www.example.org.}
  dangling: {CNAME: missing}
  mid: {TXT: $(txt_list 12 m)}
  big: {TXT: $(txt_list 40 b)}
EOF

cat >"$ZDIR/100.51.198.in-addr.arpa.yaml" <<'EOF'
zone: 100.51.198.in-addr.arpa
ttl: 3600
soa: {mname: ns1.gslb.example.com, rname: hostmaster.example.com, refresh: 3600, retry: 600, expire: 604800, minimum: 60}
ns: [ns1.gslb.example.com, ns2.gslb.example.com]
records:
  "10": {PTR: www.gslb.example.com.}
EOF

PORT=$(free_port)
gslbd_start core --zones "$ZDIR" --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" ||
    e2e_bail "gslbd starts and prints ready:" "see the log above"
e2e_ok "gslbd starts and prints ready:"
like "ready line counts the 3 zones" 'ready: serving 3 zones' "$(cat "$GSLBD_LOG")"

NEG=$EXAMPLE_NEG_SOA

# ------------------------------------------------------------------ header and basics

for t in $TRANSPORTS; do
    expect_reply "RFC 1035 4.1.1: A answer, AA set, RA clear, RD copied ($t)" \
        "$t" www.gslb.example.com A <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: www.gslb.example.com. IN A
AN: www.gslb.example.com. 30 IN A 192.0.2.10
EOF

    expect_reply "RFC 3596 2.1: AAAA answer ($t)" "$t" www.gslb.example.com AAAA <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: www.gslb.example.com. IN AAAA
AN: www.gslb.example.com. 30 IN AAAA 2001:db8:10::10
EOF

    expect_reply "RFC 1035 4.1.1: RD clear in query, clear in reply ($t)" \
        "$t" +norec www.gslb.example.com A <<EOF
status: NOERROR
flags: qr aa
$EDNS_LINE
QD: www.gslb.example.com. IN A
AN: www.gslb.example.com. 30 IN A 192.0.2.10
EOF

    expect_reply "RFC 2308 s3: NXDOMAIN with SOA, TTL min(300, 60) ($t)" \
        "$t" nope.gslb.example.com A <<EOF
status: NXDOMAIN
flags: qr aa rd
$EDNS_LINE
QD: nope.gslb.example.com. IN A
NS: $NEG
EOF

    expect_reply "RFC 2308 s3: NXDOMAIN below an existing name ($t)" \
        "$t" a.b.www.gslb.example.com A <<EOF
status: NXDOMAIN
flags: qr aa rd
$EDNS_LINE
QD: a.b.www.gslb.example.com. IN A
NS: $NEG
EOF

    expect_reply "RFC 2308 s2.2/s5: NODATA with SOA, TTL 60 ($t)" \
        "$t" ns2.gslb.example.com AAAA <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: ns2.gslb.example.com. IN AAAA
NS: $NEG
EOF

    expect_reply "RFC 8020 s2: empty non-terminal is NODATA, not NXDOMAIN ($t)" \
        "$t" _tcp.gslb.example.com A <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: _tcp.gslb.example.com. IN A
NS: $NEG
EOF

    for name in example.org example.com com .; do
        expect_reply "RFC 1035 4.1.1: REFUSED outside served zones: $name ($t)" \
            "$t" "$name" A <<EOF
status: REFUSED
flags: qr rd
$EDNS_LINE
QD: ${name%.}. IN A
EOF
    done

    # RFC 4343 s3 / RFC 1035 4.1.1: matching ignores case; the question is echoed
    # byte for byte. Owner names in the answer may use either case, so they are
    # compared in lower case.
    dq "$t" WwW.GsLb.ExAmPlE.CoM A
    got=$(dig_canon)
    like "RFC 4343: question case kept in reply ($t)" '^QD: WwW\.GsLb\.ExAmPlE\.CoM\. IN A$' "$got"
    is "RFC 4343: mixed-case query answered ($t)" \
        "an: www.gslb.example.com. 30 in a 192.0.2.10" \
        "$(printf '%s\n' "$got" | grep '^AN:' | tr '[:upper:]' '[:lower:]')"
    is "RFC 4343: mixed-case query flags ($t)" "qr aa rd" "$(dig_get flags)"
done

# ------------------------------------------------------------------ more negative answers

for t in udp4 tcp6; do
    for q in "www.gslb.example.com SOA" "www.gslb.example.com NS" "ns1.gslb.example.com MX" \
        "docs.gslb.example.com TXT" "_tcp.gslb.example.com SRV"; do
        # shellcheck disable=SC2086
        set -- $q
        want_an=""
        if [ "$1" = docs.gslb.example.com ]; then
            want_an="AN: docs.gslb.example.com. 300 IN CNAME www.gslb.example.com.
"
        fi
        expect_reply "RFC 2308 s2.2: $2 at $1 is NODATA ($t)" "$t" "$1" "$2" <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: $1. IN $2
${want_an}NS: $NEG
EOF
    done
    # No wildcard in the zone: '*' is an ordinary label that does not exist.
    for name in x.docs.gslb.example.com '*.gslb.example.com' x._sip._tcp.gslb.example.com; do
        expect_reply "RFC 4592 s2.2 / RFC 2308 s3: $name is NXDOMAIN ($t)" "$t" "$name" A <<EOF
status: NXDOMAIN
flags: qr aa rd
$EDNS_LINE
QD: $name. IN A
NS: $NEG
EOF
    done
done

# ------------------------------------------------------------------ record types

for t in udp4 tcp6; do
    expect_reply "RFC 1035 3.3.13: apex SOA, TTL 300 ($t)" "$t" gslb.example.com SOA <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: gslb.example.com. IN SOA
AN: gslb.example.com. 300 IN SOA ns1.gslb.example.com. hostmaster.example.com. SERIAL 3600 600 604800 60
EOF

    expect_reply "RFC 1034 4.3.2: apex NS with in-zone glue in additional ($t)" \
        "$t" gslb.example.com NS <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: gslb.example.com. IN NS
AN: gslb.example.com. 300 IN NS ns1.gslb.example.com.
AN: gslb.example.com. 300 IN NS ns2.gslb.example.com.
AR: ns1.gslb.example.com. 300 IN A 198.51.100.53
AR: ns1.gslb.example.com. 300 IN AAAA 2001:db8:53::1
AR: ns2.gslb.example.com. 300 IN A 203.0.113.53
EOF

    expect_reply "RFC 1035 3.3.9: MX, out-of-zone exchange gets no additional ($t)" \
        "$t" gslb.example.com MX <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: gslb.example.com. IN MX
AN: gslb.example.com. 300 IN MX 10 mail.example.com.
EOF

    expect_reply "RFC 1035 3.3.14: TXT ($t)" "$t" gslb.example.com TXT <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: gslb.example.com. IN TXT
AN: gslb.example.com. 300 IN TXT "gslb demo"
EOF

    expect_reply "RFC 2782: SRV ($t)" "$t" _sip._tcp.gslb.example.com SRV <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: _sip._tcp.gslb.example.com. IN SRV
AN: _sip._tcp.gslb.example.com. 300 IN SRV 10 5 5060 sip.example.com.
EOF

    expect_reply "RFC 8659 4: CAA ($t)" "$t" extra.example.net CAA <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: extra.example.net. IN CAA
AN: extra.example.net. 20 IN CAA 0 issue "ca.example.net"
EOF

    expect_reply "RFC 1035 3.3.12: PTR in a reverse zone ($t)" \
        "$t" -x 198.51.100.10 <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: 10.100.51.198.in-addr.arpa. IN PTR
AN: 10.100.51.198.in-addr.arpa. 3600 IN PTR www.gslb.example.com.
EOF

    expect_reply "RFC 1035 3.3.1: CNAME asked for itself is not followed ($t)" \
        "$t" docs.gslb.example.com CNAME <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: docs.gslb.example.com. IN CNAME
AN: docs.gslb.example.com. 300 IN CNAME www.gslb.example.com.
EOF

    for qt in HINFO NAPTR TYPE65280; do
        expect_reply "RFC 2308 s2.2: unserved type $qt at apex is NODATA ($t)" \
            "$t" gslb.example.com "$qt" <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: gslb.example.com. IN $qt
NS: $NEG
EOF
    done

    expect_reply "RFC 2308 s2.2: negative TTL is the SOA TTL when smaller (20 < 3600) ($t)" \
        "$t" nope.extra.example.net A <<EOF
status: NXDOMAIN
flags: qr aa rd
$EDNS_LINE
QD: nope.extra.example.net. IN A
NS: extra.example.net. 20 IN SOA ns1.extra.example.net. hostmaster.example.net. SERIAL 3600 600 604800 3600
EOF
done

# ------------------------------------------------------------------ CNAME

for t in udp4 tcp4; do
    expect_reply "RFC 1034 4.3.2 step 3a: CNAME followed in zone (A) ($t)" \
        "$t" docs.gslb.example.com A <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: docs.gslb.example.com. IN A
AN: docs.gslb.example.com. 300 IN CNAME www.gslb.example.com.
AN: www.gslb.example.com. 30 IN A 192.0.2.10
EOF
    # Sorting hides the order; the CNAME must come first on the wire.
    is "RFC 1034 4.3.2: CNAME precedes its target in the answer ($t)" "CNAME A" \
        "$(printf '%s\n' "$DIG_OUT" | awk '/ANSWER SECTION/{a=1;next} /^$/{a=0} a{printf "%s%s", s, $4; s=" "}')"

    expect_reply "RFC 1034 4.3.2: CNAME followed in zone (AAAA) ($t)" \
        "$t" docs.gslb.example.com AAAA <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: docs.gslb.example.com. IN AAAA
AN: docs.gslb.example.com. 300 IN CNAME www.gslb.example.com.
AN: www.gslb.example.com. 30 IN AAAA 2001:db8:10::10
EOF

    expect_reply "RFC 2308 s2.2: CNAME to a name without the type: NODATA after the CNAME ($t)" \
        "$t" docs.gslb.example.com MX <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: docs.gslb.example.com. IN MX
AN: docs.gslb.example.com. 300 IN CNAME www.gslb.example.com.
NS: $NEG
EOF

    expect_reply "RFC 1034 4.3.2: CNAME chain followed to the end ($t)" \
        "$t" chain.extra.example.net A <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: chain.extra.example.net. IN A
AN: chain.extra.example.net. 20 IN CNAME hop.extra.example.net.
AN: hop.extra.example.net. 20 IN CNAME target.extra.example.net.
AN: target.extra.example.net. 20 IN A 192.0.2.7
EOF

    expect_reply "RFC 1034 4.3.2: CNAME out of every zone answered alone ($t)" \
        "$t" out.extra.example.net A <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: out.extra.example.net. IN A
AN: out.extra.example.net. 20 IN CNAME www.example.org.
EOF

    expect_reply "RFC 6604 s2: CNAME to a missing name: NXDOMAIN with the CNAME ($t)" \
        "$t" dangling.extra.example.net A <<EOF
status: NXDOMAIN
flags: qr aa rd
$EDNS_LINE
QD: dangling.extra.example.net. IN A
AN: dangling.extra.example.net. 20 IN CNAME missing.extra.example.net.
NS: extra.example.net. 20 IN SOA ns1.extra.example.net. hostmaster.example.net. SERIAL 3600 600 604800 3600
EOF
done

# ------------------------------------------------------------------ ANY (RFC 8482)

for name in gslb.example.com www.gslb.example.com; do
    dq udp4 "$name" ANY
    types=$(printf '%s\n' "$DIG_OUT" | awk '/ANSWER SECTION/{a=1;next} /^$/{a=0} a{print $4}' | sort -u)
    is "RFC 8482 4.1: ANY $name is NOERROR" NOERROR "$(dig_get status)"
    is "RFC 8482 4.1: ANY $name flags" "qr aa rd" "$(dig_get flags)"
    cmp_num "RFC 8482 4.1: ANY $name answers at least one record" "$(dig_get ANSWER)" -ge 1
    cmp_num "RFC 8482 4.1: ANY $name answers one RRset (types: $(printf '%s' "$types" | tr '\n' ' '))" \
        "$(printf '%s\n' "$types" | grep -c .)" -eq 1
    cmp_num "RFC 8482 4.1: ANY $name reply is small" "$(dig_get size)" -le 512
done

# ------------------------------------------------------------------ compression

# RFC 1035 4.1.4: names are compressed. Exact size of "www A" without EDNS:
# header 12 + question 26 + answer (pointer 2 + fixed 10 + address 4) = 54.
dq udp4 +noedns www.gslb.example.com A
is "RFC 1035 4.1.4: www A reply is 54 bytes (compressed, minimal)" 54 "$(dig_get size)"
# The sizes below are what Knot DNS 3.2 sends for the same zone: every name that
# can point at an earlier one does, including the SOA's owner into the question
# and MNAME/RNAME into the owner.
dq udp4 +noedns nope.gslb.example.com A
is "RFC 1035 4.1.4: NXDOMAIN with SOA is 90 bytes" 90 "$(dig_get size)"
dq udp4 +noedns gslb.example.com NS
is "RFC 1035 4.1.4: NS with 3 glue records is 130 bytes" 130 "$(dig_get size)"
dq udp4 +noedns docs.gslb.example.com MX
is "RFC 1035 4.1.4: CNAME then NODATA is 108 bytes" 108 "$(dig_get size)"
for t in udp4 tcp4; do
    dt "$t" query gslb.example.com NS
    sizes=$(dt_get size)
    size=${sizes%% *}
    unc=$(printf '%s\n' "$sizes" | sed -n 's/.*uncompressed=\([0-9]*\).*/\1/p')
    ptrs=${sizes##*pointers=}
    cmp_num "RFC 1035 4.1.4: NS reply uses pointers ($t)" "$ptrs" -ge 5
    cmp_num "RFC 1035 4.1.4: NS reply ($size) smaller than uncompressed ($unc) ($t)" \
        "$size" -lt "$((unc - 40))"
done

# ------------------------------------------------------------------ EDNS(0)

for t in udp4 tcp4 udp6; do
    for q in "www.gslb.example.com A" "nope.gslb.example.com A" "ns2.gslb.example.com AAAA" \
        "example.org A"; do
        # shellcheck disable=SC2086
        dq "$t" $q
        like "RFC 6891 s7: OPT with udp 1232 in reply to EDNS query: $q ($t)" \
            '^; EDNS: version: 0, flags:; udp: 1232$' "$DIG_OUT"
    done

    expect_reply "RFC 6891 s7: no OPT in reply to a query without one ($t)" \
        "$t" +noedns www.gslb.example.com A <<EOF
status: NOERROR
flags: qr aa rd
QD: www.gslb.example.com. IN A
AN: www.gslb.example.com. 30 IN A 192.0.2.10
EOF

    # RFC 6891 6.1.3 says nothing of AA on BADVERS, so either is accepted.
    dq "$t" +edns=1 +noednsnegotiation +norec www.gslb.example.com A
    got=$(dig_canon)
    is "RFC 6891 6.1.3: EDNS version 1 gets BADVERS, OPT version 0, no records ($t)" \
        "status: BADVERS|$EDNS_LINE|QD: www.gslb.example.com. IN A" \
        "$(printf '%s\n' "$got" | grep -v '^flags:' | paste -sd'|')"
    like "RFC 6891 6.1.3: BADVERS flags ($t)" '^qr( aa)?$' "$(dig_get flags)"

    expect_reply "RFC 6891 6.1.2: unknown option ignored, not echoed ($t)" \
        "$t" +ednsopt=65001:abcd www.gslb.example.com A <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: www.gslb.example.com. IN A
AN: www.gslb.example.com. 30 IN A 192.0.2.10
EOF
    unlike "RFC 6891 6.1.2: option 65001 not in reply ($t)" '65001' \
        "$(printf '%s\n' "$DIG_OUT" | awk '/OPT PSEUDOSECTION/{a=1;next} /^$/{a=0} a')"

    expect_reply "RFC 3225 s3: DO accepted and copied to the reply ($t)" \
        "$t" +dnssec www.gslb.example.com A <<EOF
status: NOERROR
flags: qr aa rd
edns: version: 0, flags: do; udp: 1232
QD: www.gslb.example.com. IN A
AN: www.gslb.example.com. 30 IN A 192.0.2.10
EOF

    expect_reply "RFC 7873 5.2: client cookie from a cookie-less server is ignored ($t)" \
        "$t" +cookie www.gslb.example.com A <<EOF
status: NOERROR
flags: qr aa rd
$EDNS_LINE
QD: www.gslb.example.com. IN A
AN: www.gslb.example.com. 30 IN A 192.0.2.10
EOF

    dq "$t" +subnet=192.0.2.0/24 www.gslb.example.com A
    is "RFC 7871: query with client subnet answered NOERROR ($t)" NOERROR "$(dig_get status)"
    like "RFC 7871: query with client subnet gets a pool address ($t)" \
        '^AN: www\.gslb\.example\.com\. 30 IN A (192\.0\.2\.10|198\.51\.100\.10|203\.0\.113\.10)$' \
        "$(dig_canon)"
done

# dnstool checks the raw OPT: owner root, version 0, extended rcode 0, size 1232.
dt udp4 query www.gslb.example.com A --edns 0 --bufsize 4096
is "RFC 6891 6.1.2: raw OPT in reply" "version 0 udp 1232 do 0 ercode 0 options -" "$(dt_get opt)"
dt udp4 query www.gslb.example.com A --edns 1
is "RFC 6891 6.1.3: raw BADVERS is extended rcode 16 (ercode 1, rcode 0)" \
    "BADVERS|version 0 udp 1232 do 0 ercode 1 options -" "$(dt_get rcode)|$(dt_get opt)"

# ------------------------------------------------------------------ truncation

for t in udp4 udp6; do
    dq "$t" +noedns +ignore mid.extra.example.net TXT
    like "RFC 1035 4.2.1: 800-byte answer without EDNS sets TC ($t)" '^qr aa tc' "$(dig_get flags)"
    cmp_num "RFC 1035 4.2.1: truncated reply fits in 512 bytes ($t)" "$(dig_get size)" -le 512

    dq "$t" +bufsize=512 +ignore mid.extra.example.net TXT
    like "RFC 6891 6.2.3: EDNS bufsize 512: TC set ($t)" '^qr aa tc' "$(dig_get flags)"
    cmp_num "RFC 6891 6.2.3: EDNS bufsize 512: reply within 512 ($t)" "$(dig_get size)" -le 512
    like "RFC 6891 s7: OPT kept in a truncated reply ($t)" '^; EDNS: version: 0' "$DIG_OUT"

    dq "$t" +bufsize=1232 +ignore mid.extra.example.net TXT
    is "RFC 6891 6.2.3: EDNS bufsize 1232: 800-byte answer whole, no TC ($t)" \
        "qr aa rd|12" "$(dig_get flags)|$(dig_get ANSWER)"

    dq "$t" +bufsize=100 +ignore www.gslb.example.com A
    is "RFC 6891 6.2.5: bufsize below 512 treated as 512 ($t)" \
        "qr aa rd|1" "$(dig_get flags)|$(dig_get ANSWER)"

    dq "$t" +ignore big.extra.example.net TXT
    like "RFC 6891 6.2.3: 2.6 kB answer over UDP/1232 sets TC ($t)" '^qr aa tc' "$(dig_get flags)"
    cmp_num "RFC 6891 6.2.3: truncated reply within 1232 ($t)" "$(dig_get size)" -le 1232

    dq "$t" +bufsize=4096 +ignore big.extra.example.net TXT
    cmp_num "RFC 6891 6.2.5: reply to bufsize 4096 within 4096 ($t)" "$(dig_get size)" -le 4096
    if [ "$(dig_get flags)" = "qr aa rd" ]; then
        is "RFC 6891 6.2.5: untruncated 4096 reply is whole ($t)" 40 "$(dig_get ANSWER)"
    else
        like "RFC 6891 6.2.5: reply to bufsize 4096 truncated, capped at 1232 ($t)" \
            '^qr aa tc' "$(dig_get flags)"
    fi

    dq "$t" big.extra.example.net TXT
    is "RFC 7766 s5: dig retries the truncated answer over TCP and gets 40 TXT ($t)" \
        "qr aa rd|40" "$(dig_get flags)|$(dig_get ANSWER)"
done
for t in tcp4 tcp6; do
    dq "$t" big.extra.example.net TXT
    is "RFC 7766 s5: 2.6 kB answer whole over TCP, no TC ($t)" \
        "NOERROR|qr aa rd|40" "$(dig_get status)|$(dig_get flags)|$(dig_get ANSWER)"
done

# ------------------------------------------------------------------ opcodes and classes

for t in udp4 tcp4; do
    for op in 1 2 3 4 5 6 15; do
        dq "$t" +opcode=$op www.gslb.example.com A
        is "RFC 1035 4.1.1: opcode $op gets NOTIMP ($t)" NOTIMP "$(dig_get status)"
        is "RFC 1035 4.1.1: opcode $op: nothing answered ($t)" 0 "$(dig_get ANSWER)"
    done
    dt "$t" query www.gslb.example.com A --opcode 2
    is "RFC 1035 4.1.1: raw opcode 2 reply: NOTIMP, opcode echoed, id kept ($t)" \
        "NOTIMP|2|1" "$(dt_get rcode)|$(dt_get opcode)|$(dt_get id_match)"

    # version.bind may be answered (as BIND and Knot do) or refused; either way a reply.
    dq "$t" -c CH -t TXT version.bind
    like "RFC 4892 s2: CH TXT version.bind gets a reply ($t)" \
        '^(NOERROR|REFUSED|NOTIMP)$' "$(dig_get status)"
    dq "$t" -c CH -t A www.gslb.example.com
    like "RFC 6895 s3.2: class CH for an IN name: REFUSED or NOTIMP ($t)" \
        '^(REFUSED|NOTIMP)$' "$(dig_get status)"
done

# ------------------------------------------------------------------ zone transfers

dt tcp4 query gslb.example.com AXFR
is "RFC 5936 s2.2.1: AXFR over TCP refused, no records" "REFUSED|0 0 0" \
    "$(dt_get rcode)|$(dt_get counts | cut -d' ' -f2-)"
dt udp4 query gslb.example.com AXFR
like "RFC 5936 s4.2: AXFR over UDP not served" '^(REFUSED|NOTIMP|FORMERR)\|0 0 0$' \
    "$(dt_get rcode)|$(dt_get counts | cut -d' ' -f2-)"
dt tcp6 query gslb.example.com IXFR --ixfr-serial 1
is "RFC 1995 s2: IXFR over TCP refused, no records" "REFUSED|0 0 0" \
    "$(dt_get rcode)|$(dt_get counts | cut -d' ' -f2-)"
dt udp4 query gslb.example.com IXFR --ixfr-serial 1
like "RFC 1995 s2: IXFR over UDP refused" '^REFUSED\|0 0 0$' \
    "$(dt_get rcode)|$(dt_get counts | cut -d' ' -f2-)"
DIG_OUT=$(dig @127.0.0.1 -p "$PORT" +time=2 +tries=1 gslb.example.com AXFR 2>&1)
like "RFC 5936: dig axfr reports the transfer failed" 'Transfer failed' "$DIG_OUT"

# ------------------------------------------------------------------ malformed packets

# RFC 1035 4.1.1 / RFC 9619 s4 / RFC 6891 6.1.1: a query the server cannot make sense
# of gets FORMERR (with the id kept), never silence and never a crash.
for t in udp4 tcp4 udp6; do
    for c in qdcount0 qdcount2 truncated-question no-qtype label-type-0x40 label-type-0x80 \
        pointer-loop pointer-forward name-too-long two-opt; do
        dt "$t" raw "$c"
        is "RFC 1035 4.1.1/RFC 9619: malformed '$c' gets FORMERR ($t)" \
            "FORMERR|1" "$(dt_get rcode)|$(dt_get id_match)"
    done
done
# RFC 1035 4.1.1: a response (QR set) or a packet shorter than a header is dropped.
for t in udp4 udp6; do
    for c in qr-set header-only-qr short-header empty; do
        dt "$t" raw "$c" --timeout 0.5
        is "RFC 1035 4.1.1: '$c' gets no reply ($t)" noreply "$DT_OUT"
    done
done
dt udp4 raw ok
is "server still answers after the malformed packets" "NOERROR|qr aa rd" \
    "$(dt_get rcode)|$(dt_get flags)"

# ------------------------------------------------------------------ shutdown

gslbd_stop
is "SIGTERM stops gslbd with status 0 within 5 s" 0 "$GSLBD_STATUS"

e2e_finish
