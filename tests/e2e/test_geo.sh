#!/usr/bin/env bash
# test_geo.sh: geographic answers of gslbd services, by GeoIP and EDNS Client Subnet.
#
# The script builds its own GeoIP database with geo/build-testdb, placing documentation
# and loopback networks on several continents, and serves a zone whose services use each
# policy and geo rule. dig asks with +subnet (RFC 7871) as a resolver would;
# tests/e2e/dnstool.py sends the ECS options dig will not build (malformed ones, exact
# bytes). It covers: the nearest region per client for A and AAAA, the ECS scope of each
# answer, placement by the packet source without ECS, geo.map / geo.nets / geo.default,
# answers, spread_km, the weighted and failover policies, draining by weight 0, ecs: false,
# the built-in world database, --explain, and reloading the database file.
#
# Not here: static records and the wire protocol in general (test_core.py), zone reloads
# (test_reload.sh). All traffic goes to 127.0.0.1 and ::1; every wait and loop is bounded.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

gslbd_require

BUILD_TESTDB=$E2E_ROOT/geo/build-testdb
WORLD_DB=$E2E_ROOT/geo/world.mmdb
EXAMPLE_ZONE=$E2E_ROOT/zones/examples/gslb.example.com.yaml
GEO=$E2E_TMP/geo
ZDIR=$E2E_TMP/zones
mkdir -p "$GEO" "$ZDIR"

# ------------------------------------------------------------------ the test database

# Where each client network is. Everything else is not in the database, so the merged
# networks (and with them the ECS scopes) below are known exactly:
# - 81.2.69.0/25 London and 81.2.69.128/25 Paris have the same distance order, so a
#   service without geo rules answers both alike: scope /24, since 81.2.68.0/24 is empty.
# - 100.96.0.0/11 holds nothing while 100.64.0.0/11 holds the Toronto, Windhoek and
#   Australia networks: a client in 100.100.0.0/24 is unplaced over exactly a /11.
# - 0.0.0.0/8 is also where ::1 is looked up: an IPv6 database keeps the IPv4 space at
#   ::/96, so ::1 and 0.0.0.1 are the same entry (geo/build-testdb's header).
# - 100.64.4.0/24 has a country and no coordinates: it is placed at the country's point.
cat >"$GEO/test.spec" <<'EOF'
# network          country continent latitude longitude subdivision
0.0.0.0/8          BR      SA        -23.55   -46.63    -
81.2.69.0/25       GB      EU        51.5     -0.13     ENG
81.2.69.128/25     FR      EU        48.86    2.35      IDF
100.64.1.0/24      CA      NA        43.65    -79.38    ON
100.64.2.0/24      NA      AF        -22.56   17.08     -
100.64.4.0/24      AU      OC        -        -         -
127.0.0.0/8        JP      AS        35.68    139.69    13
192.0.2.0/24       US      NA        37.77    -122.42   CA
198.51.100.0/24    US      NA        39.0     -77.5     VA
203.0.113.0/24     SG      AS        1.35     103.82    -
2001:db8:100::/48  GB      EU        51.5     -0.13     ENG
2001:db8:200::/48  SG      AS        1.35     103.82    -
2001:db8:300::/48  US      NA        37.77    -122.42   CA
EOF

if ! OUT=$("$BUILD_TESTDB" "$GEO/test.spec" "$GEO/test.mmdb" 2>&1); then
    e2e_bail "geo/build-testdb builds the test database" "$OUT"
fi
e2e_ok "geo/build-testdb builds the test database"
# The daemon reads a copy, so the reload tests can replace it on disk.
cp "$GEO/test.mmdb" "$GEO/live.mmdb"

# The same networks with London moved to Singapore, for the reload test.
sed 's|^81\.2\.69\.0/25 .*|81.2.69.0/25       SG      AS        1.35     103.82    -|' \
    "$GEO/test.spec" >"$GEO/moved.spec"
"$BUILD_TESTDB" "$GEO/moved.spec" "$GEO/moved.mmdb" >/dev/null 2>&1 ||
    e2e_bail "geo/build-testdb builds the second test database"

# ------------------------------------------------------------------ the zones

# Pools, one per region, so an address says which region answered:
#   us-east 10.1.0.1 2001:db8:1::1   eu-west 10.2.0.1 2001:db8:2::1
#   ap-south 10.3.0.1 (no IPv6)      us-west 10.4.0.1 2001:db8:4::1
# Distances from the clients (km, haversine):
#   London      eu-west 464,  us-east 5918,  us-west 8637,  ap-south 10856
#   Paris       eu-west 781,  us-east 6186,  us-west 8972,  ap-south 10737
#   Virginia    us-east 5,    us-west 3862,  eu-west 5465,  ap-south 15533
#   Singapore   ap-south 7,   eu-west 11199, us-west 13628, us-east 15522
#   SF          us-west 50,   us-east 3877,  eu-west 8177,  ap-south 13585
#   Tokyo       ap-south 5317, us-west 8318, eu-west 9585,  us-east 10872
#   Sao Paulo   us-east 7664, eu-west 9393,  us-west 10390, ap-south 15985
#   Windhoek    eu-west 8736, ap-south 9731, us-east 11941, us-west 15792
#   Toronto     us-east 536,  us-west 3636,  eu-west 5250,  ap-south 15008
#   Australia   ap-south 6300, us-west 11951, us-east 15673, eu-west 17215

# write_geo_zone FILE [EU-WEST-WEIGHT [AP-SOUTH-WEIGHT]]: the zone, written atomically; the
# weights (default 100) are for the drain test.
write_geo_zone() {
    cat >"$1.tmp" <<EOF
zone: geo.test
ttl: 300
soa: {mname: ns1.geo.test, rname: hostmaster.geo.test, minimum: 60}
ns: [ns1.geo.test]
records:
  ns1: {A: 192.0.2.53}
  txt: {TXT: "static"}
regions:
  us-east:  {location: [39.04, -77.49], weight: 300, pool: [10.1.0.1, "2001:db8:1::1"]}
  eu-west:  {location: [53.35, -6.26],  weight: ${2:-100}, pool: [10.2.0.1, "2001:db8:2::1"]}
  ap-south: {location: [1.29, 103.85],  weight: ${3:-100}, pool: [10.3.0.1]}
  us-west:  {location: [37.4, -122.1],  weight: 100, pool: [10.4.0.1, "2001:db8:4::1"]}
geo:
  map:
    NA: [eu-west]
    US: [ap-south]
    US-CA: [us-east]
    country:NA: [us-west]
    FR: [us-east]
  nets:
    203.0.113.128/25: [us-west]
    "2001:db8:100:1::/64": [us-west]
  default: [us-west]
services:
  www:     {regions: [us-east, eu-west, ap-south, us-west], geo: {}}
  mapped:  {regions: [us-east, eu-west, ap-south, us-west]}
  mapped2: {regions: [us-east, eu-west, ap-south, us-west], answers: 2}
  own:     {regions: [us-east, eu-west, ap-south, us-west], geo: {map: {EU: [ap-south]}}}
  two:     {regions: [us-east, eu-west, ap-south, us-west], answers: 2, geo: {}}
  spread:  {regions: [us-east, eu-west, ap-south, us-west], spread_km: 4500, geo: {}}
  wtd:     {regions: [us-east, eu-west], policy: weighted, geo: {}}
  fo:      {regions: [ap-south, eu-west, us-east], policy: failover, geo: {}}
  noecs:   {regions: [us-east, eu-west, ap-south, us-west], ecs: false, geo: {}}
EOF
    mv "$1.tmp" "$1"
}
ZF=$ZDIR/geo.test.yaml
write_geo_zone "$ZF"

# A zone that turns ECS off for all its services; one service turns it back on.
cat >"$ZDIR/plain.test.yaml" <<'EOF'
zone: plain.test
soa: {mname: ns1.plain.test, rname: hostmaster.plain.test}
ns: [ns1.plain.test]
records:
  ns1: {A: 192.0.2.54}
ecs: false
regions:
  us-east:  {location: [39.04, -77.49], pool: [10.1.0.1, "2001:db8:1::1"]}
  eu-west:  {location: [53.35, -6.26],  pool: [10.2.0.1, "2001:db8:2::1"]}
  ap-south: {location: [1.29, 103.85],  pool: [10.3.0.1]}
services:
  www:  {regions: [us-east, eu-west, ap-south]}
  ecsy: {regions: [us-east, eu-west, ap-south], ecs: true}
EOF

CHECK_OUT=$(timeout 20 "$GSLBD" --zones "$ZDIR" --check 2>&1)
st=$?
is "--check accepts the geo zones" 0 "$st"
[ "$st" -eq 0 ] || printf '%s\n' "$CHECK_OUT" | sed 's/^/#   /'

PORT=$(free_port)
gslbd_start geo --zones "$ZDIR" --geoip "$GEO/live.mmdb" \
    --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" ||
    e2e_bail "gslbd starts with --geoip and prints ready:" "see the log above"
e2e_ok "gslbd starts with --geoip and prints ready:"
MAIN_PID=$GSLBD_PID
MAIN_LOG=$GSLBD_LOG

# ------------------------------------------------------------------ helpers

# geo_q TRANSPORT NAME TYPE [SUBNET]: ask (with +subnet=SUBNET when given) and print the
# answer's addresses, sorted, then "/SCOPE" (the ECS scope of the reply, "-" when the
# reply has no ECS option), e.g. "10.2.0.1 /24". Other than NOERROR, the status comes first.
geo_q() {
    local sub=()
    if [ -n "${4:-}" ]; then
        sub=("+subnet=$4")
    fi
    dq "$1" "${sub[@]}" "$2" "$3"
    local status addrs scope
    status=$(dig_get status)
    addrs=$(printf '%s\n' "$DIG_OUT" | awk '
        /^;; ANSWER SECTION:/ { an = 1; next }
        /^$/ { an = 0 }
        an && ($4 == "A" || $4 == "AAAA") { print $5 }' | LC_ALL=C sort | paste -sd' ')
    scope=$(printf '%s\n' "$DIG_OUT" | sed -n 's|^; CLIENT-SUBNET: .*/\([0-9]*\)$|\1|p')
    [ "$status" = NOERROR ] || printf '%s ' "${status:-noreply}"
    [ -n "$addrs" ] && printf '%s ' "$addrs"
    printf '/%s\n' "${scope:--}"
}

# ask_many TRANSPORT NAME TYPE SUBNET N: N queries in one dig run (bounded: dig's own
# timeout per query). Sets MANY_TOTAL (addresses received) and MANY_OUT ("COUNT ADDR"
# lines); share_of ADDR then prints that address's count.
ask_many() {
    local args=()
    for _ in $(seq "$5"); do
        args+=("$2" "$3")
    done
    local tcp=+notcp
    case $1 in tcp*) tcp=+tcp ;; esac
    local raw
    raw=$(dig @"$(server_of "$1")" -p "$PORT" +time=2 +tries=1 "$tcp" +short \
        "+subnet=$4" "${args[@]}" 2>&1)
    MANY_OUT=$(printf '%s\n' "$raw" | grep -E '^[0-9a-f:.]+$' | LC_ALL=C sort | uniq -c)
    MANY_OTHER=$(printf '%s\n' "$raw" | grep -vE '^[0-9a-f:.]+$' | head -5)
    MANY_TOTAL=$(printf '%s\n' "$MANY_OUT" | awk '{n += $1} END {print n + 0}')
}
share_of() {
    printf '%s\n' "$MANY_OUT" | awk -v a="$1" '$2 == a {n = $1} END {print n + 0}'
}

# many_all_answered NAME N: every one of the last ask_many's N queries got an address.
many_all_answered() {
    if [ "$MANY_TOTAL" = "$2" ]; then
        e2e_ok "$1"
    else
        e2e_not_ok "$1" "expected: $2 addresses" "got:      $MANY_TOTAL; other output:" \
            "$MANY_OTHER"
    fi
}

# dt_an: the answer records of DT_OUT (see dt in lib.sh), one per line.
dt_an() {
    printf '%s\n' "$DT_OUT" | grep '^AN: '
}

EU4=10.2.0.1 EU6=2001:db8:2::1
US4=10.1.0.1 US6=2001:db8:1::1
AP4=10.3.0.1
UW4=10.4.0.1 UW6=2001:db8:4::1

# ------------------------------------------------------------------ nearest region

# Client subnet, place, A answer, AAAA answer, for the service without geo rules.
while read -r net where want4 want6; do
    for t in udp4 tcp6; do
        is "nearest: $where client ($net) gets its region's A ($t)" \
            "$want4" "$(geo_q "$t" www.geo.test A "$net" | cut -d' ' -f1)"
        is "nearest: $where client ($net) gets its region's AAAA ($t)" \
            "$want6" "$(geo_q "$t" www.geo.test AAAA "$net" | cut -d' ' -f1)"
    done
done <<EOF
81.2.69.0/24       London           $EU4 $EU6
198.51.100.0/24    Virginia         $US4 $US6
203.0.113.0/24     Singapore        $AP4 $EU6
192.0.2.0/24       San-Francisco    $UW4 $UW6
100.64.2.0/24      Windhoek         $EU4 $EU6
100.64.1.0/24      Toronto          $US4 $US6
2001:db8:100::/56  London-IPv6      $EU4 $EU6
2001:db8:200::/48  Singapore-IPv6   $AP4 $EU6
2001:db8:300::/48  San-Francisco-v6 $UW4 $UW6
EOF

# ap-south has no IPv6 pool: AAAA goes to the next region in distance order.
is "nearest: AAAA from Singapore skips ap-south (no IPv6) for eu-west, the next nearest" \
    "$EU6 /24" "$(geo_q udp4 www.geo.test AAAA 203.0.113.0/24)"
is "nearest: AAAA from Australia skips ap-south for us-west, the next nearest" \
    "$UW6 /24" "$(geo_q udp4 www.geo.test AAAA 100.64.4.0/24)"
is "nearest: a record without coordinates is placed at its country (AU -> ap-south)" \
    "$AP4 /24" "$(geo_q udp4 www.geo.test A 100.64.4.0/24)"
is "nearest: a network in no database entry gets the listed order (us-east first)" \
    "$US4 /11" "$(geo_q udp4 www.geo.test A 100.100.0.0/24)"

# An IPv4-mapped IPv6 client subnet is an IPv4 client; the scope is in the option's
# own family (RFC 7871 s6: SCOPE PREFIX-LENGTH counts bits of ADDRESS): 96 + 24.
for t in udp4 tcp6; do
    is "RFC 7871 s6: ECS ::ffff:81.2.69.0/120 is the IPv4 client 81.2.69.0, scope /120 ($t)" \
        "$EU4 /120" "$(geo_q "$t" www.geo.test A ::ffff:81.2.69.0/120)"
    is "RFC 7871 s6: ECS ::ffff:198.51.100.0/120 is the IPv4 client 198.51.100.0 ($t)" \
        "$US6 /120" "$(geo_q "$t" www.geo.test AAAA ::ffff:198.51.100.0/120)"
done

# ------------------------------------------------------------------ ECS scope

# RFC 7871 s7.2.1: SCOPE PREFIX-LENGTH is how far the answer holds; gslbd merges
# networks with the same region order, so it is the widest prefix with that order.
for t in udp4 tcp4 udp6 tcp6; do
    is "RFC 7871 s7.2.1: London and Paris /25s merge: scope /24 ($t)" \
        "$EU4 /24" "$(geo_q "$t" www.geo.test A 81.2.69.0/24)"
done
is "RFC 7871 s7.2.1: a /32 in the Paris half gets the merged /24" \
    "$EU4 /24" "$(geo_q udp4 www.geo.test A 81.2.69.200/32)"
is "RFC 7871 s7.2.1: with FR mapped elsewhere the halves differ: London scope /25" \
    "$EU4 /25" "$(geo_q udp4 mapped.geo.test A 81.2.69.0/24)"
is "RFC 7871 s7.2.1: with FR mapped elsewhere the halves differ: Paris scope /25" \
    "$US4 /25" "$(geo_q udp4 mapped.geo.test A 81.2.69.200/32)"
is "RFC 7871 s7.2.1: unplaced 100.100.0.0/24 holds for the empty 100.96.0.0/11" \
    "$US4 /11" "$(geo_q udp4 www.geo.test A 100.100.0.0/24)"
is "RFC 7871 s7.2.1: IPv6 client 2001:db8:100::/56 holds for its /48" \
    "$EU6 /48" "$(geo_q udp6 www.geo.test AAAA 2001:db8:100::/56)"
is "RFC 7871 s7.2.1: a nets override cuts 2001:db8:100:1::/64 out: its neighbour is /64" \
    "$EU6 /64" "$(geo_q udp6 mapped.geo.test AAAA 2001:db8:100::/56)"
is "RFC 7871 s7.2.1: the nets override 2001:db8:100:1::/64 itself is /64" \
    "$UW6 /64" "$(geo_q udp6 mapped.geo.test AAAA 2001:db8:100:1::/64)"
is "RFC 7871 s7.2.1: without nets Singapore is its /24" \
    "$AP4 /24" "$(geo_q udp4 www.geo.test A 203.0.113.130/32)"
is "RFC 7871 s7.2.1: nets 203.0.113.128/25 cut in: lower half /25, longer than the source" \
    "$AP4 /25" "$(geo_q udp4 mapped.geo.test A 203.0.113.0/24)"
is "RFC 7871 s7.2.1: nets 203.0.113.128/25 cut in: upper half /25" \
    "$UW4 /25" "$(geo_q udp4 mapped.geo.test A 203.0.113.130/32)"
is "RFC 7871 s7.2.1: scope /25 also in a mapped IPv4 subnet (96 + 25)" \
    "$EU4 /121" "$(geo_q udp4 mapped.geo.test A ::ffff:81.2.69.0/120)"

# RFC 7871 s7.2.1: an answer that does not depend on the client has scope 0.
for t in udp4 tcp6; do
    is "RFC 7871 s7.2.1: apex NS with ECS: scope /0 ($t)" \
        "/0" "$(geo_q "$t" geo.test NS 81.2.69.0/24)"
    is "RFC 7871 s7.2.1: apex SOA with ECS: scope /0 ($t)" \
        "/0" "$(geo_q "$t" geo.test SOA 81.2.69.0/24)"
    is "RFC 7871 s7.2.1: static A with ECS: scope /0 ($t)" \
        "192.0.2.53 /0" "$(geo_q "$t" ns1.geo.test A 81.2.69.0/24)"
    is "RFC 7871 s7.2.1: NXDOMAIN with ECS: scope /0 ($t)" \
        "NXDOMAIN /0" "$(geo_q "$t" nope.geo.test A 81.2.69.0/24)"
    is "RFC 7871 s7.2.1: TXT (NODATA) at a service name with ECS: scope /0 ($t)" \
        "/0" "$(geo_q "$t" www.geo.test TXT 81.2.69.0/24)"
    is "RFC 7871 s7.2.1: failover answer (same for everyone) has scope /0 ($t)" \
        "$AP4 /0" "$(geo_q "$t" fo.geo.test A 81.2.69.0/24)"
    like "RFC 7871 s7.2.1: weighted answer (random, not by place) has scope /0 ($t)" \
        "^($US4|$EU4) /0$" "$(geo_q "$t" wtd.geo.test A 81.2.69.0/24)"
done

# RFC 7871 s7.1.2: SOURCE PREFIX-LENGTH 0 means "do not use my address": the client is
# placed by the packet source (127.0.0.1 is Tokyo, ::1 Sao Paulo) and the scope is 0.
is "RFC 7871 s7.1.2: +subnet=0.0.0.0/0 from 127.0.0.1: placed by source (Tokyo), scope /0" \
    "$AP4 /0" "$(geo_q udp4 www.geo.test A 0.0.0.0/0)"
is "RFC 7871 s7.1.2: +subnet=::/0 from ::1: placed by source (Sao Paulo), scope /0" \
    "$US6 /0" "$(geo_q udp6 www.geo.test AAAA ::/0)"
is "RFC 7871 s7.1.2: +subnet=0.0.0.0/0 over TCP from ::1, scope /0" \
    "$US4 /0" "$(geo_q tcp6 www.geo.test A 0.0.0.0/0)"

# The option's bytes: FAMILY, SOURCE PREFIX-LENGTH and ADDRESS echoed, SCOPE set
# (RFC 7871 s7.2.1).
OPT_HEAD="version 0 udp 1232 do 0 ercode 0 options"
for t in udp4 tcp4; do
    dt "$t" query www.geo.test A --edns 0 --ednsopt 8:00011800510245
    is "RFC 7871 s7.2.1: raw ECS 81.2.69.0/24 echoed with scope 24 (0x18) ($t)" \
        "NOERROR|AN: www.geo.test. 30 IN A $EU4|$OPT_HEAD 8:00011818510245" \
        "$(dt_get rcode)|$(dt_an)|$(dt_get opt)"
    dt "$t" query www.geo.test AAAA --edns 0 --ednsopt 8:0002380020010db8010000
    is "RFC 7871 s7.2.1: raw ECS 2001:db8:100::/56 echoed with scope 48 (0x30) ($t)" \
        "NOERROR|AN: www.geo.test. 30 IN AAAA $EU6|$OPT_HEAD 8:0002383020010db8010000" \
        "$(dt_get rcode)|$(dt_an)|$(dt_get opt)"
    dt "$t" query geo.test SOA --edns 0 --ednsopt 8:00011800510245
    is "RFC 7871 s7.2.1: raw ECS on a static answer echoed with scope 0 ($t)" \
        "NOERROR|options 8:00011800510245" \
        "$(dt_get rcode)|$(dt_get opt | sed 's/.* options /options /')"
done

# Malformed options (RFC 7871 s6: too few or too many ADDRESS octets, or bits set beyond
# SOURCE PREFIX-LENGTH, SHOULD get FORMERR; an unknown FAMILY or a prefix longer than the
# family's address cannot be read either, s6/s7.1.2). RFC 6891 s7: a reply to a query with
# an OPT record carries one, FORMERR included.
no_opt=""
while read -r hex why; do
    for t in udp4 tcp6; do
        dt "$t" query www.geo.test A --edns 0 --ednsopt "8:$hex"
        is "RFC 7871 s6: ECS $why gets FORMERR, no answer ($t)" \
            "FORMERR|0" "$(dt_get rcode)|$(dt_get counts | cut -d' ' -f2)"
        case $(dt_get opt) in
        "version 0 "*) ;;
        *) no_opt="$no_opt $why/$t" ;;
        esac
    done
done <<'EOF'
00031800510245 family-3
000121005102450000 IPv4-source-prefix-33
000281002001000000000000000000000000000000 IPv6-source-prefix-129
00011700510245 bit-set-beyond-source-prefix-23
000118005102 two-address-octets-for-/24
0001180051024500 four-address-octets-for-/24
000100005102 address-octets-with-source-prefix-0
0002200020010d three-address-octets-for-IPv6-/32
0001 option-cut-after-family
EOF
if [ -z "$no_opt" ]; then
    e2e_ok "RFC 6891 s7: each FORMERR for a malformed ECS option carries an OPT record"
else
    e2e_not_ok "RFC 6891 s7: each FORMERR for a malformed ECS option carries an OPT record" \
        "no OPT record in the reply for:$no_opt"
fi
dt udp4 query www.geo.test A --edns 0 --ednsopt 8:00011800510245
is "gslbd still answers ECS queries after the malformed ones" "NOERROR|$EU4" \
    "$(dt_get rcode)|$(dt_an | awk '{print $NF}')"

# ------------------------------------------------------------------ placement by source

# Without ECS the packet source decides: 127.0.0.1 is in 127.0.0.0/8 (Tokyo), ::1 is
# 0.0.0.1 of the ::/96 IPv4 space, in 0.0.0.0/8 (Sao Paulo). No ECS in, none out.
for t in udp4 tcp4; do
    is "no ECS: 127.0.0.1 placed in Tokyo gets ap-south ($t)" \
        "$AP4 /-" "$(geo_q "$t" www.geo.test A)"
    is "no ECS: AAAA from 127.0.0.1 skips ap-south for us-west ($t)" \
        "$UW6 /-" "$(geo_q "$t" www.geo.test AAAA)"
done
for t in udp6 tcp6; do
    is "no ECS: ::1 placed by 0.0.0.0/8 in Sao Paulo gets us-east ($t)" \
        "$US4 /-" "$(geo_q "$t" www.geo.test A)"
    is "no ECS: AAAA from ::1 gets us-east ($t)" \
        "$US6 /-" "$(geo_q "$t" www.geo.test AAAA)"
done

# ------------------------------------------------------------------ geo overrides

# Top-level geo, inherited by 'mapped': NA -> eu-west, US -> ap-south, US-CA -> us-east,
# country:NA (Namibia) -> us-west, FR -> us-east; nets; default us-west.
while read -r net want why; do
    is "geo.map: $why" "$want" "$(geo_q udp4 mapped.geo.test A "$net" | cut -d' ' -f1)"
done <<EOF
100.64.1.0/24     $EU4 continent NA sends Toronto (nearest us-east) to eu-west
198.51.100.0/24   $AP4 country US beats continent NA: Virginia to ap-south
192.0.2.0/24      $US4 subdivision US-CA beats country US: San Francisco to us-east
2001:db8:300::/48 $US4 subdivision US-CA for an IPv6 client
100.64.2.0/24     $UW4 country:NA is Namibia: Windhoek to us-west (bare NA would be eu-west)
81.2.69.200/32    $US4 country FR sends Paris to us-east
81.2.69.0/24      $EU4 no rule for GB or EU: London by distance to eu-west
203.0.113.0/24    $AP4 no rule for SG or AS: Singapore by distance to ap-south
EOF
is "geo.map: the mapped region lacks IPv6: AAAA for Virginia goes on by distance (us-east)" \
    "$US6 /24" "$(geo_q udp4 mapped.geo.test AAAA 198.51.100.0/24)"
is "geo.nets: 203.0.113.128/25 beats the database (Singapore to us-west)" \
    "$UW4 /25" "$(geo_q udp4 mapped.geo.test A 203.0.113.200/32)"
is "geo.nets: IPv6 2001:db8:100:1::/64 beats the database (London to us-west)" \
    "$UW4 /64" "$(geo_q udp6 mapped.geo.test A 2001:db8:100:1::/64)"
is "geo.default: a client the database cannot place gets us-west" \
    "$UW4 /11" "$(geo_q udp4 mapped.geo.test A 100.100.0.0/24)"
is "geo.default: also for AAAA" \
    "$UW6 /11" "$(geo_q udp4 mapped.geo.test AAAA 100.100.0.0/24)"

# With two answers, the region after the rule's list shows how the rest are ordered:
# by distance after a map entry, in listed order after nets and default.
is "geo.map then distance: Toronto gets eu-west and then us-east (nearest of the rest)" \
    "$US4 $EU4 /24" "$(geo_q udp4 mapped2.geo.test A 100.64.1.0/24)"
is "geo.map then distance: Virginia gets ap-south and then us-east" \
    "$US4 $AP4 /24" "$(geo_q udp4 mapped2.geo.test A 198.51.100.0/24)"
is "geo.map then distance, AAAA: Virginia gets us-east and us-west (ap-south has no IPv6)" \
    "$US6 $UW6 /24" "$(geo_q udp4 mapped2.geo.test AAAA 198.51.100.0/24)"
is "geo.nets then listed order: 203.0.113.200 gets us-west and then us-east, not ap-south" \
    "$US4 $UW4 /25" "$(geo_q udp4 mapped2.geo.test A 203.0.113.200/32)"
is "geo.default then listed order: unplaced gets us-west and then us-east" \
    "$US4 $UW4 /11" "$(geo_q udp4 mapped2.geo.test A 100.100.0.0/24)"

# A service's own geo replaces the top-level one entirely.
is "service geo replaces the zone's: London to ap-south by its own EU rule" \
    "$AP4 /24" "$(geo_q udp4 own.geo.test A 81.2.69.0/24)"
is "service geo replaces the zone's: US rule not inherited, Virginia to us-east" \
    "$US4 /24" "$(geo_q udp4 own.geo.test A 198.51.100.0/24)"
is "service geo replaces the zone's: no default inherited, unplaced get listed us-east" \
    "$US4 /11" "$(geo_q udp4 own.geo.test A 100.100.0.0/24)"
is "service geo replaces the zone's: country:NA not inherited, Windhoek by distance" \
    "$EU4 /24" "$(geo_q udp4 own.geo.test A 100.64.2.0/24)"

# ------------------------------------------------------------------ answers, spread, policies

is "answers: 2: London gets eu-west and us-east" \
    "$US4 $EU4 /24" "$(geo_q udp4 two.geo.test A 81.2.69.0/24)"
is "answers: 2: AAAA from Singapore gets eu-west and us-west (ap-south has no IPv6)" \
    "$EU6 $UW6 /24" "$(geo_q udp4 two.geo.test AAAA 203.0.113.0/24)"
is "answers: 2: Windhoek gets eu-west and ap-south" \
    "$EU4 $AP4 /24" "$(geo_q udp4 two.geo.test A 100.64.2.0/24)"

# spread_km 4500 from Virginia: us-east (5 km, weight 300) and us-west (3862 km, weight
# 100) share 75/25; eu-west (5465 km) is too far.
ask_many udp4 spread.geo.test A 198.51.100.0/24 400
many_all_answered "spread_km: all 400 queries answered" 400
e=$(share_of "$US4")
w=$(share_of "$UW4")
cmp_num "spread_km: us-east (weight 300) gets at least 65% of 400: $e" "$e" -ge 260
cmp_num "spread_km: us-east (weight 300) gets at most 85% of 400: $e" "$e" -le 340
is "spread_km: the rest all go to us-west, none further away" "$((MANY_TOTAL - e))" "$w"
ask_many udp4 spread.geo.test A 81.2.69.0/24 100
is "spread_km: London keeps eu-west (us-east is 5454 km further than 4500)" \
    "100 $EU4" "$(printf '%s\n' "$MANY_OUT" | awk '{print $1, $2}' | paste -sd' ')"

# policy weighted: location plays no part; us-east 300 : eu-west 100, even from London.
ask_many udp4 wtd.geo.test A 81.2.69.0/24 400
many_all_answered "policy weighted: all 400 queries answered" 400
e=$(share_of "$US4")
cmp_num "policy weighted: us-east (weight 300) gets at least 65% from London: $e" "$e" -ge 260
cmp_num "policy weighted: us-east (weight 300) gets at most 85% from London: $e" "$e" -le 340
is "policy weighted: the rest go to eu-west" "$((MANY_TOTAL - e))" "$(share_of "$EU4")"

# policy failover: the listed order, whoever asks.
for net in 81.2.69.0/24 198.51.100.0/24 2001:db8:300::/48; do
    is "policy failover: first listed ap-south for $net" \
        "$AP4 /0" "$(geo_q udp4 fo.geo.test A "$net")"
    is "policy failover: AAAA skips ap-south (no IPv6) for eu-west, listed next, for $net" \
        "$EU6 /0" "$(geo_q udp4 fo.geo.test AAAA "$net")"
done

# ------------------------------------------------------------------ ecs: false

is "service ecs: false: ECS London ignored, placed by 127.0.0.1 (Tokyo), scope /0" \
    "$AP4 /0" "$(geo_q udp4 noecs.geo.test A 81.2.69.0/24)"
is "service ecs: false: ECS London ignored, placed by ::1 (Sao Paulo), scope /0" \
    "$US4 /0" "$(geo_q tcp6 noecs.geo.test A 81.2.69.0/24)"
is "service ecs: false: without ECS, placed by source, no ECS option" \
    "$AP4 /-" "$(geo_q udp4 noecs.geo.test A)"
is "zone ecs: false: ECS London ignored, placed by 127.0.0.1, scope /0" \
    "$AP4 /0" "$(geo_q udp4 www.plain.test A 81.2.69.0/24)"
is "zone ecs: false, service ecs: true: ECS London used, scope /24" \
    "$EU4 /24" "$(geo_q udp4 ecsy.plain.test A 81.2.69.0/24)"

# ------------------------------------------------------------------ --explain

# explain ARGS...: run gslbd --explain; output (stdout and stderr) in EXPLAIN, status in
# EXPLAIN_STATUS.
explain() {
    EXPLAIN=$(timeout 20 "$GSLBD" --zones "$ZDIR" --explain "$@" 2>&1)
    EXPLAIN_STATUS=$?
}

explain 81.2.69.0/24 www.geo.test --geoip "$GEO/test.mmdb"
is "--explain placed client: exit 0" 0 "$EXPLAIN_STATUS"
like "--explain placed client: location line" \
    '^location: +country GB, continent EU, subdivision GB-ENG, 51\.5000 -0\.1300' "$EXPLAIN"
like "--explain placed client: the database network" '81\.2\.69\.0/25 of .*test\.mmdb' "$EXPLAIN"
like "--explain placed client: ordered by distance" '^order: +by distance' "$EXPLAIN"
like "--explain placed client: eu-west first, 464 km, chosen" \
    '^ +1\. eu-west +weight 100 +464 km +chosen$' "$EXPLAIN"
like "--explain placed client: us-east second, not needed" \
    '^ +2\. us-east +weight 300 +5918 km +not needed' "$EXPLAIN"
like "--explain placed client: ap-south last" '^ +4\. ap-south ' "$EXPLAIN"
like "--explain placed client: answer NOERROR" '^answer: +NOERROR' "$EXPLAIN"
like "--explain placed client: the A record" \
    "www\.geo\.test\.[[:space:]]+30[[:space:]]+IN[[:space:]]+A[[:space:]]+$EU4" "$EXPLAIN"
like "--explain placed client: ttl 30" '^ttl: +30$' "$EXPLAIN"
like "--explain placed client: ecs scope /24" '^ecs scope: /24( |$)' "$EXPLAIN"

explain 100.100.0.0/24 mapped.geo.test AAAA --geoip "$GEO/test.mmdb"
is "--explain unplaced client: exit 0" 0 "$EXPLAIN_STATUS"
like "--explain unplaced client: not in the database" '^location: +not in the database' \
    "$EXPLAIN"
like "--explain unplaced client: ordered by geo.default" '^order: +by geo\.default' "$EXPLAIN"
like "--explain unplaced client: us-west first and chosen" '^ +1\. us-west .*chosen$' \
    "$EXPLAIN"
like "--explain unplaced client: ap-south skipped for AAAA" \
    '^ +[0-9]\. ap-south .*skipped: no address of this family' "$EXPLAIN"
like "--explain unplaced client: the AAAA record" "IN[[:space:]]+AAAA[[:space:]]+$UW6" "$EXPLAIN"
like "--explain unplaced client: ecs scope /11" '^ecs scope: /11( |$)' "$EXPLAIN"

explain 81.2.69.0/24 geo.test NS --geoip "$GEO/test.mmdb"
like "--explain static answer: ecs scope /0" '^ecs scope: /0( |$)' "$EXPLAIN"

explain 1.21.224.0/24 www.geo.test
is "--explain with the built-in world database: exit 0" 0 "$EXPLAIN_STATUS"
like "--explain world database: 1.21.224.0/24 is in Singapore" \
    '^location: +country SG, continent AS' "$EXPLAIN"
like "--explain world database: ap-south chosen" '^ +1\. ap-south .*chosen$' "$EXPLAIN"

explain 1.2.3.4 www.geo.test --geoip "$E2E_TMP/nonexistent.mmdb"
cmp_num "--explain with a missing --geoip file exits non-zero" "$EXPLAIN_STATUS" -ne 0
like "--explain with a missing --geoip file names it" 'nonexistent\.mmdb' "$EXPLAIN"

# Any GeoIP2-layout database: an IPv4-only one with 32-bit records.
grep -v ':' "$GEO/test.spec" >"$GEO/v4.spec"
if "$BUILD_TESTDB" --ip-version 4 --record-size 32 "$GEO/v4.spec" "$GEO/v4.mmdb" \
    >/dev/null 2>&1; then
    explain 81.2.69.0/24 www.geo.test --geoip "$GEO/v4.mmdb"
    like "--geoip IPv4-only database, 32-bit records: London placed, eu-west chosen" \
        '^ +1\. eu-west .*chosen$' "$EXPLAIN"
    explain 2001:db8:100::/48 www.geo.test --geoip "$GEO/v4.mmdb"
    like "--geoip IPv4-only database: an IPv6 client is not in it, scope /0" \
        '^ecs scope: /0( |$)' "$EXPLAIN"
else
    e2e_not_ok "geo/build-testdb builds an IPv4-only database"
fi

# ------------------------------------------------------------------ database reloads

GSLBD_PID=$MAIN_PID
GSLBD_LOG=$MAIN_LOG

# wait_answer WANT SECONDS NAME TYPE SUBNET: poll every 0.1 s (bounded) until geo_q over
# udp4 prints WANT. Sets WAITED (tenths of a second).
wait_answer() {
    WAITED=0
    for _ in $(seq $(($2 * 10))); do
        [ "$(geo_q udp4 "$3" "$4" "$5")" = "$1" ] && return 0
        sleep 0.1
        WAITED=$((WAITED + 1))
    done
    return 1
}

is "before the database changes: London gets eu-west" \
    "$EU4 /24" "$(geo_q udp4 www.geo.test A 81.2.69.0/24)"
cp "$GEO/moved.mmdb" "$GEO/live.mmdb.new"
mv "$GEO/live.mmdb.new" "$GEO/live.mmdb"
wait_answer "$AP4 /25" 5 www.geo.test A 81.2.69.0/24
is "database replaced (mv): London now in Singapore gets ap-south, scope /25" \
    "$AP4 /25" "$(geo_q udp4 www.geo.test A 81.2.69.0/24)"
cmp_num "database replaced: new answers within 2 s (took ${WAITED}00 ms)" "$WAITED" -le 20
like "database replaced: reload logged" 'reloaded GeoIP database' "$(cat "$GSLBD_LOG")"
is "database replaced: Paris unchanged (eu-west), now its own /25" \
    "$EU4 /25" "$(geo_q udp4 www.geo.test A 81.2.69.200/32)"

# A corrupt file, then a truncated one: each is refused and the last good one serves.
n_before=$(grep -c 'GeoIP database not reloaded' "$GSLBD_LOG")
printf 'this is not an mmdb\n' >"$GEO/live.mmdb.new"
mv "$GEO/live.mmdb.new" "$GEO/live.mmdb"
if log_wait 'GeoIP database not reloaded' 5; then
    e2e_ok "corrupt database: 'GeoIP database not reloaded' logged"
else
    e2e_not_ok "corrupt database: 'GeoIP database not reloaded' logged" "$(tail -5 "$GSLBD_LOG")"
fi
like "corrupt database: the log line names the file" \
    'GeoIP database not reloaded.*live\.mmdb' "$(cat "$GSLBD_LOG")"
sleep 1
for t in udp4 tcp6; do
    is "corrupt database: the previous one keeps serving ($t)" \
        "$AP4 /25" "$(geo_q "$t" www.geo.test A 81.2.69.0/24)"
done
size=$(wc -c <"$GEO/test.mmdb")
head -c $((size / 2)) "$GEO/test.mmdb" >"$GEO/live.mmdb.new"
mv "$GEO/live.mmdb.new" "$GEO/live.mmdb"
for _ in $(seq 50); do
    [ "$(grep -c 'GeoIP database not reloaded' "$GSLBD_LOG")" -ge $((n_before + 2)) ] && break
    sleep 0.1
done
cmp_num "truncated database: refused too (a second 'not reloaded' line)" \
    "$(grep -c 'GeoIP database not reloaded' "$GSLBD_LOG")" -ge $((n_before + 2))
is "truncated database: the previous one keeps serving" \
    "$AP4 /25" "$(geo_q udp4 www.geo.test A 81.2.69.0/24)"

cp "$GEO/test.mmdb" "$GEO/live.mmdb.new"
mv "$GEO/live.mmdb.new" "$GEO/live.mmdb"
wait_answer "$EU4 /24" 5 www.geo.test A 81.2.69.0/24
is "good database after the bad ones: reloaded, London back to eu-west" \
    "$EU4 /24" "$(geo_q udp4 www.geo.test A 81.2.69.0/24)"

# A missing or broken --geoip at start-up: exit non-zero with a message, never serve.
for bad in "$E2E_TMP/nonexistent.mmdb" "$GEO/v4.spec"; do
    OUT=$(timeout 20 "$GSLBD" --zones "$ZDIR" --geoip "$bad" --listen "127.0.0.1:$(free_port)" 2>&1)
    st=$?
    cmp_num "--geoip $(basename "$bad") at start: exits non-zero (status $st)" "$st" -ne 0
    cmp_num "--geoip $(basename "$bad") at start: does not hang (status $st)" "$st" -ne 124
    unlike "--geoip $(basename "$bad") at start: never ready" 'ready:' "$OUT"
    like "--geoip $(basename "$bad") at start: error names the file" \
        "error: .*$(basename "$bad")" "$OUT"
done

# ------------------------------------------------------------------ draining by weight 0

write_geo_zone "$ZF" 0 0
kill -HUP "$MAIN_PID"
wait_answer "$US4 /24" 5 www.geo.test A 81.2.69.0/24
is "weight 0: eu-west drained, London gets us-east, the next nearest" \
    "$US4 /24" "$(geo_q udp4 www.geo.test A 81.2.69.0/24)"
is "weight 0: ap-south and eu-west drained, Singapore gets us-west" \
    "$UW4 /24" "$(geo_q udp4 www.geo.test A 203.0.113.0/24)"
is "weight 0: answers 2 for London skip both drained regions" \
    "$US4 $UW4 /24" "$(geo_q udp4 two.geo.test A 81.2.69.0/24)"
is "weight 0: failover skips drained ap-south and eu-west for us-east" \
    "$US4 /0" "$(geo_q udp4 fo.geo.test A 81.2.69.0/24)"
ask_many udp4 wtd.geo.test A 81.2.69.0/24 100
is "weight 0: weighted sends all 100 queries to us-east" "100 $US4" \
    "$(printf '%s\n' "$MANY_OUT" | awk '{print $1, $2}' | paste -sd' ')"

write_geo_zone "$ZF"
kill -HUP "$MAIN_PID"
wait_answer "$EU4 /24" 5 www.geo.test A 81.2.69.0/24
is "weight back to 100: London gets eu-west again" \
    "$EU4 /24" "$(geo_q udp4 www.geo.test A 81.2.69.0/24)"

gslbd_stop "$MAIN_PID"
is "gslbd stops with status 0" 0 "$GSLBD_STATUS"

# ------------------------------------------------------------------ the world database

# No --geoip: the built-in geo/world.mmdb (country level; one point per country, the US
# at New York, nearest us-east). The shipped example zone: us-east 192.0.2.10,
# eu-west 198.51.100.10, ap-south 203.0.113.10 (IPv4 only).
if [ ! -f "$WORLD_DB" ]; then
    e2e_not_ok "geo/world.mmdb is built" "no $WORLD_DB (make)"
elif [ ! -f "$EXAMPLE_ZONE" ]; then
    e2e_not_ok "zones/examples/gslb.example.com.yaml exists"
else
    PORT=$(free_port)
    if gslbd_start world --zones "$EXAMPLE_ZONE" --listen "127.0.0.1:$PORT" \
        --listen "[::1]:$PORT"; then
        e2e_ok "gslbd starts with the built-in world database"
        while read -r net where want; do
            for t in udp4 tcp6; do
                got=$(geo_q "$t" www.gslb.example.com A "$net")
                is "world database: $where ($net) gets $want ($t)" "$want" "${got%% *}"
                # The world data decides how far the answer holds; it depends on the
                # place, so the scope is not 0 (RFC 7871 s7.2.1).
                scope=${got##*/}
                max=32
                case $net in *:*) max=128 ;; esac
                cmp_num "world database: $where scope /$scope is at least /1 ($t)" "$scope" -ge 1
                cmp_num "world database: $where scope /$scope is at most /$max ($t)" \
                    "$scope" -le "$max"
            done
        done <<'EOF'
81.2.69.0/24  London      198.51.100.10
3.80.0.0/24   Virginia    192.0.2.10
1.21.224.0/24 Singapore   203.0.113.10
2a00:c08::/32 GB-IPv6     198.51.100.10
EOF
        is "world database: AAAA for Singapore skips ap-south for eu-west" \
            "2001:db8:20::10" \
            "$(geo_q udp4 www.gslb.example.com AAAA 1.21.224.0/24 | cut -d' ' -f1)"
        is "world database: 127.0.0.1 is not in it: listed order, us-east" \
            "192.0.2.10 /-" "$(geo_q udp4 www.gslb.example.com A)"
        gslbd_stop
        is "gslbd (world database) stops with status 0" 0 "$GSLBD_STATUS"
    else
        e2e_not_ok "gslbd starts with the built-in world database" "see the log above"
    fi
fi

e2e_finish
