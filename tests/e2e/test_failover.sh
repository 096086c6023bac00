#!/usr/bin/env bash
# test_failover.sh: the whole system failing over, with real parts end to end.
#
# Three real nginx servers (tests/e2e/nginx.sh) stand in for the regional balancers of
# the README's example zone: us-east, eu-west and ap-south, with the example's
# coordinates and answered addresses, each member probed at its region's nginx on
# 127.0.0.1. The real bin/healthd probes them (interval 1s, timeout 500ms, fall 2,
# rise 2) and reports to the real bin/gslbd over its control socket; clients in London,
# Singapore and the United States are placed with EDNS Client Subnet (dig +subnet) by
# the built-in world database. Asserted, with the measured times in the test names:
#   a. steady state: each client gets its nearest region, TTL 30
#   b. eu-west's /health fails: London moves to us-east (the next nearest) within
#      interval x fall + 1 s, with TTL min_ttl (5); other clients keep their answers
#   c. it heals: London is back within interval x rise + 1 s, TTL 30 again
#   d. gslbctl drain moves London without touching nginx, auto brings it back, and
#      the override survives a gslbd restart on the same control socket
#   e. healthd stops: answers stay as last reported (until the reports go stale);
#      gslbd restarts under a running healthd: it gets the full state at once
#   f. every region down: on_all_down open answers as if all were up, TTL 5
#
# Traffic goes to 127.0.0.1 and ::1 only; every wait is bounded in count and time.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# The nginx servers' directories, inside the test's own (kept with E2E_KEEP).
NGINX_BASE=$E2E_TMP/nginx
# shellcheck source=nginx.sh
. "$E2E_DIR/nginx.sh"

HEALTHD=${HEALTHD:-$E2E_ROOT/bin/healthd}
GSLBCTL=${GSLBCTL:-$E2E_ROOT/bin/gslbctl}

# nginx first: e2e_cleanup removes the directories the servers write in.
trap 'nginx_stop_all; e2e_cleanup' EXIT

gslbd_require
[ -x "$HEALTHD" ] || e2e_bail "healthd binary present" "no executable at $HEALTHD (make bin/healthd)"
[ -x "$GSLBCTL" ] || e2e_bail "gslbctl binary present" "no executable at $GSLBCTL (make bin/gslbctl)"
[ -x "$NGINX" ] || e2e_bail "nginx present" "no nginx at $NGINX (make deps installs it)"
command -v curl >/dev/null || e2e_bail "curl present" "make deps installs it"

ZONE=$E2E_TMP/gslb.example.com.yaml
CTL=$E2E_TMP/control.sock
PORT=$(free_port)

# The check's timing, in milliseconds, and the limits derived from it.
INTERVAL_MS=1000
FALL=2
RISE=2
FAIL_LIMIT_MS=$((INTERVAL_MS * FALL + 1000))
RISE_LIMIT_MS=$((INTERVAL_MS * RISE + 1000))
# healthd reconnects once a second; a restarted gslbd has the state within about that.
RESYNC_LIMIT_MS=1500
# Reports count for stale_after (default 3 intervals); gslbd looks once a second.
STALE_LIMIT_MS=$((3 * INTERVAL_MS + 2000))

LONDON=81.2.69.0/24
SINGAPORE=1.21.224.0/24
US=3.80.0.0/16

# The regions' answered addresses, as in the README's example zone.
US_EAST=192.0.2.10
EU_WEST=198.51.100.10
AP_SOUTH=203.0.113.10
US_EAST6=2001:db8:10::10
EU_WEST6=2001:db8:20::10

# ------------------------------------------------------------------ helpers

# now_ms: wall-clock milliseconds (bash's EPOCHREALTIME, whatever the locale's separator).
now_ms() {
    local t=${EPOCHREALTIME//[^0-9]/}
    echo $((t / 1000))
}

# secs MS: milliseconds as seconds with one decimal ("2300" -> "2.3").
secs() {
    awk -v m="$1" 'BEGIN { printf "%.1f", m / 1000 }'
}

# region_of ADDRESS: the region an answered address belongs to.
region_of() {
    case $1 in
    "$US_EAST" | "$US_EAST6") echo us-east ;;
    "$EU_WEST" | "$EU_WEST6") echo eu-west ;;
    "$AP_SOUTH") echo ap-south ;;
    "") echo "no answer" ;;
    *) echo "$1" ;;
    esac
}

# ask SUBNET [TYPE] [TRANSPORT]: query www for a client in SUBNET (EDNS Client Subnet).
# Sets ANS (the answered addresses, sorted, space-separated), TTL (the first record's)
# and RCODE.
ask() {
    local out server=127.0.0.1
    [ "${3:-udp4}" = udp6 ] && server=::1
    out=$(dig @"$server" -p "$PORT" +norec +time=1 +tries=1 +subnet="$1" \
        www.gslb.example.com "${2:-A}" 2>&1)
    RCODE=$(printf '%s\n' "$out" | sed -n 's/^;; ->>HEADER<<-.*status: \([A-Z]*\).*/\1/p')
    local records
    records=$(printf '%s\n' "$out" | awk '/^;; ANSWER SECTION:/ { a = 1; next }
        /^$/ { a = 0 } a && ($4 == "A" || $4 == "AAAA") { print $2, $5 }')
    ANS=$(printf '%s\n' "$records" | awk 'NF { print $2 }' | sort | tr '\n' ' ' | sed 's/ $//')
    TTL=$(printf '%s\n' "$records" | awk 'NF { print $1; exit }')
}

# expect_answer NAME SUBNET TYPE ADDRESS TTL: one query, its address and TTL exact.
expect_answer() {
    ask "$2" "$3"
    is "$1" "$4 ttl $5" "$ANS ttl $TTL"
}

# wait_answer SUBNET ADDRESS START_MS MAX_MS [TYPE]: query every 50 ms until SUBNET is
# answered ADDRESS, at most MAX_MS after START_MS. Sets WAITED_MS (from START_MS to the
# query that saw it) and returns 0, or returns 1 with ANS as last seen.
wait_answer() {
    for _ in $(seq 400); do
        ask "$1" "${5:-A}"
        WAITED_MS=$(($(now_ms) - $3))
        [ "$ANS" = "$2" ] && return 0
        [ "$WAITED_MS" -gt "$4" ] && return 1
        sleep 0.05
    done
    return 1
}

# timed NAME_DONE NAME_LATE START_MS LIMIT_MS SUBNET ADDRESS [TYPE]: wait for the answer
# and report the time it took against LIMIT_MS ("NAME_DONE in 2.3 s (limit 3.0 s)").
# Waits up to three times the limit, so a late move is told apart from none at all.
timed() {
    local done=$1 late=$2 start=$3 limit=$4
    if wait_answer "$5" "$6" "$start" $((limit * 3)) "${7:-A}"; then
        if [ "$WAITED_MS" -le "$limit" ]; then
            e2e_ok "$done in $(secs "$WAITED_MS") s (limit $(secs "$limit") s)"
        else
            e2e_not_ok "$done in $(secs "$WAITED_MS") s (limit $(secs "$limit") s)" \
                "$late: too slow"
        fi
        return 0
    fi
    e2e_not_ok "$done within $(secs "$limit") s" \
        "$late: still $(region_of "${ANS%% *}") ($ANS) after $(secs "$WAITED_MS") s"
    return 1
}

# timed_aaaa NAME START_MS LIMIT_MS ADDRESS: timed, for London's AAAA answer.
timed_aaaa() {
    timed "$1" "London's AAAA" "$2" "$3" "$LONDON" "$4" AAAA
}

# ctl ARGS...: gslbctl on this test's gslbd.
ctl() {
    "$GSLBCTL" --control "$CTL" "$@"
}

# status_wait REGEX COUNT MAX_S: wait until COUNT lines of `gslbctl status` match REGEX.
status_wait() {
    local n
    for _ in $(seq $(($3 * 10))); do
        n=$(ctl status 2>/dev/null | grep -Ec -- "$1")
        [ "$n" -eq "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# healthd_start LOG: start healthd on the zone, reporting to CTL, and wait up to 10 s
# for its readiness line. Sets HEALTHD_PID.
healthd_start() {
    local log=$E2E_TMP/$1.log
    HEALTHD_LOG=$1
    "$HEALTHD" --zones "$ZONE" --gslbd "$CTL" >"$log.stdout" 2>"$log" </dev/null &
    HEALTHD_PID=$!
    E2E_PIDS="$E2E_PIDS $HEALTHD_PID"
    for _ in $(seq 100); do
        grep -qs 'ready:' "$log" && return 0
        kill -0 "$HEALTHD_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "# healthd did not get ready; log:"
    sed 's/^/#   /' "$log" | head -40
    return 1
}

# healthd_alive NAME: assert that healthd is still running; when it is not, show how it
# ended and the end of its log.
healthd_alive() {
    if kill -0 "$HEALTHD_PID" 2>/dev/null; then
        e2e_ok "$1"
        return 0
    fi
    wait "$HEALTHD_PID" 2>/dev/null
    local status=$?
    pid_forget "$HEALTHD_PID"
    e2e_not_ok "$1" "healthd exited with status $status$([ "$status" -gt 128 ] &&
        echo " (signal $((status - 128)))"); the end of its log:" \
        "$(tail -15 "$E2E_TMP/$HEALTHD_LOG.log")"
    return 1
}

# restart_gslbd LOG: stop gslbd, start it again with the same arguments (and control
# socket); READY_MS is when its readiness line was seen. While the port is free, another
# program's connection or query may be given it as its local port for a moment: then
# binding fails with EADDRINUSE, and the start is tried again (up to 10 times in 3 s).
restart_gslbd() {
    gslbd_stop
    is "gslbd stopped cleanly before $1" 0 "$GSLBD_STATUS"
    for _ in $(seq 10); do
        if gslbd_start "$1" "${GSLBD_ARGS[@]}"; then
            READY_MS=$(now_ms)
            return 0
        fi
        grep -q 'Address already in use' "$GSLBD_LOG" || break
        sleep 0.3
    done
    e2e_bail "gslbd restarted ($1)"
}

# ------------------------------------------------------------------ the regions

for r in us-east eu-west ap-south; do
    nginx_start "$r" || e2e_bail "nginx for $r started" "$(cat "$(nginx_dir "$r")/error.log")"
done
is "nginx us-east answers /health with 200" 200 "$(nginx_health us-east)"
is "nginx eu-west's page names its region" "region eu-west" \
    "$(curl -s --max-time 2 "http://127.0.0.1:$(nginx_port eu-west)/")"
nginx_fail eu-west
is "nginx eu-west's /health answers 503 while its down file exists" 503 "$(nginx_health eu-west)"
nginx_heal eu-west
is "nginx eu-west's /health answers 200 once healed" 200 "$(nginx_health eu-west)"

P_US=$(nginx_port us-east)
P_EU=$(nginx_port eu-west)
P_AP=$(nginx_port ap-south)

# The README's example zone, but with every member probed at its region's nginx and a
# fast check; on_all_down and min_ttl are written out with their default values.
cat >"$ZONE" <<YAML
zone: gslb.example.com
ttl: 300
soa: {mname: ns1.gslb.example.com, rname: hostmaster.example.com,
      refresh: 3600, retry: 600, expire: 604800, minimum: 60}
ns: [ns1.gslb.example.com, ns2.gslb.example.com]
records:
  ns1: {A: 198.51.100.53, AAAA: "2001:db8:53::1"}
  ns2: {A: 203.0.113.53}
regions:
  us-east:
    location: [39.04, -77.49]
    weight: 100
    pool: [{address: $US_EAST, probe: "127.0.0.1:$P_US"},
           {address: "$US_EAST6", probe: "127.0.0.1:$P_US"}]
    check: web
  eu-west:
    location: [53.35, -6.26]
    weight: 100
    pool: [{address: $EU_WEST, probe: "127.0.0.1:$P_EU"},
           {address: "$EU_WEST6", probe: "127.0.0.1:$P_EU"}]
    check: web
  ap-south:
    location: [1.29, 103.85]
    weight: 100
    pool: [{address: $AP_SOUTH, probe: "127.0.0.1:$P_AP"}]
    check: web
checks:
  web: {type: http, path: /health, expect: 200, interval: ${INTERVAL_MS}ms, timeout: 500ms,
        rise: $RISE, fall: $FALL}
services:
  www: {regions: [us-east, eu-west, ap-south], policy: nearest, ttl: 30,
        on_all_down: open, min_ttl: 5}
YAML

GSLBD_ARGS=(--zones "$ZONE" --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" --threads 2
    --control "$CTL")
gslbd_start gslbd "${GSLBD_ARGS[@]}" || e2e_bail "gslbd started"
healthd_start healthd || e2e_bail "healthd started"

if status_wait '^  member .* up ' 5 10; then
    e2e_ok "healthd reported all 5 members up to gslbd"
else
    e2e_not_ok "healthd reported all 5 members up to gslbd" "$(ctl status 2>&1)"
fi
before=$(wc -l <"$(nginx_dir eu-west)/access.log")
sleep 1.5
after=$(wc -l <"$(nginx_dir eu-west)/access.log")
cmp_num "healthd probes eu-west's nginx (access log: $before -> $after requests in 1.5 s)" \
    "$after" -gt "$before"

# ------------------------------------------------------------------ a. steady state

expect_answer "a. London gets eu-west, TTL 30" "$LONDON" A "$EU_WEST" 30
expect_answer "a. Singapore gets ap-south, TTL 30" "$SINGAPORE" A "$AP_SOUTH" 30
expect_answer "a. the United States get us-east, TTL 30" "$US" A "$US_EAST" 30
expect_answer "a. London gets eu-west's IPv6 address (AAAA)" "$LONDON" AAAA "$EU_WEST6" 30
ask "$LONDON" A udp6
is "a. London gets eu-west over IPv6 too" "$EU_WEST ttl 30" "$ANS ttl $TTL"

# ------------------------------------------------------------------ b. failure

nginx_fail eu-west
t0=$(now_ms)
if timed "b. eu-west failure moved London to us-east" "London" "$t0" "$FAIL_LIMIT_MS" \
    "$LONDON" "$US_EAST"; then
    # Two failed probes a second apart are needed (fall 2): one is not enough.
    cmp_num "b. the move waited for fall=$FALL failed probes ($(secs "$WAITED_MS") s >= 0.9 s)" \
        "$WAITED_MS" -ge 900
fi
# healthd probes each member on its own schedule: eu-west's IPv6 member (the same
# nginx) goes down within the same limit, but not necessarily with the IPv4 one.
timed_aaaa "b. eu-west failure moved London's AAAA to us-east" "$t0" "$FAIL_LIMIT_MS" \
    "$US_EAST6"
expect_answer "b. London's TTL is min_ttl (5) while failing over" "$LONDON" A "$US_EAST" 5
expect_answer "b. London's AAAA TTL is 5 too" "$LONDON" AAAA "$US_EAST6" 5
expect_answer "b. Singapore unaffected: ap-south, TTL 30" "$SINGAPORE" A "$AP_SOUTH" 30
expect_answer "b. the United States unaffected: us-east, TTL 30" "$US" A "$US_EAST" 30
like "b. gslbctl status shows eu-west DOWN" 'eu-west DOWN, 0/2 members up' "$(ctl status 2>&1)"

# ------------------------------------------------------------------ c. recovery

nginx_heal eu-west
t0=$(now_ms)
if timed "c. eu-west recovery brought London back" "London" "$t0" "$RISE_LIMIT_MS" \
    "$LONDON" "$EU_WEST"; then
    cmp_num "c. the return waited for rise=$RISE good probes ($(secs "$WAITED_MS") s >= 0.9 s)" \
        "$WAITED_MS" -ge 900
fi
timed_aaaa "c. eu-west recovery brought London's AAAA back" "$t0" "$RISE_LIMIT_MS" "$EU_WEST6"
expect_answer "c. London's TTL is 30 again" "$LONDON" A "$EU_WEST" 30
expect_answer "c. Singapore still ap-south, TTL 30" "$SINGAPORE" A "$AP_SOUTH" 30

# ------------------------------------------------------------------ d. drain

out=$(ctl drain eu-west 2>&1)
rc=$?
is "d. gslbctl drain eu-west succeeds (exit status 0: $out)" 0 "$rc"
t0=$(now_ms)
timed "d. drain moved London to us-east" "London" "$t0" 1000 "$LONDON" "$US_EAST"
# A drain is planned, not a failure: the service's own TTL.
expect_answer "d. drained: London on us-east with TTL 30" "$LONDON" A "$US_EAST" 30
is "d. the drain did not touch nginx (eu-west /health 200)" 200 "$(nginx_health eu-west)"
like "d. gslbctl status: eu-west up but drained" 'eu-west up, 2/2 members up.*override drain' \
    "$(ctl status 2>&1)"

restart_gslbd gslbd-2
healthd_alive "d. healthd still runs after gslbd restarted"
ask "$LONDON"
is "d. the drain survived the gslbd restart (first answer: London on us-east)" \
    "$US_EAST" "$ANS"
like "d. gslbctl status after the restart: eu-west drained" 'eu-west .*override drain' \
    "$(ctl status 2>&1)"
out=$(ctl auto eu-west 2>&1)
rc=$?
is "d. gslbctl auto eu-west succeeds (exit status 0: $out)" 0 "$rc"
t0=$(now_ms)
timed "d. auto brought London back to eu-west" "London" "$t0" 1000 "$LONDON" "$EU_WEST"
expect_answer "d. London on eu-west with TTL 30 after auto" "$LONDON" A "$EU_WEST" 30
if status_wait '^  member .* up ' 5 5; then
    e2e_ok "d. healthd reconnected to the restarted gslbd: all 5 members up"
else
    e2e_not_ok "d. healthd reconnected to the restarted gslbd: all 5 members up" \
        "$(ctl status 2>&1)"
fi

# ------------------------------------------------------------------ e. healthd stops

nginx_fail eu-west
t0=$(now_ms)
timed "e. eu-west failure (again) moved London to us-east" "London" "$t0" "$FAIL_LIMIT_MS" \
    "$LONDON" "$US_EAST"
gslbd_stop "$HEALTHD_PID"
is "e. healthd stopped cleanly on SIGTERM" 0 "$GSLBD_STATUS"
t0=$(now_ms)
# Sampled for 1.5 s: reports stay valid stale_after (3 s) after healthd was last heard,
# and it was last heard at most 1 s before it stopped (it sends PING every second).
seen=()
for _ in $(seq 15); do
    ask "$LONDON"
    seen+=("$(region_of "$ANS")")
    [ $(($(now_ms) - t0)) -ge 1500 ] && break
    sleep 0.1
done
is "e. with healthd stopped, answers stay as last reported (London on us-east for 1.5 s)" \
    "" "$(printf '%s\n' "${seen[@]}" | grep -v '^us-east$' | sort -u)"
# Then the reports go stale, count as unknown, and unknown counts as up
# (common/control.h): London returns to eu-west.
timed "e. the stale reports expired (unknown counts as up): London back on eu-west" \
    "London" "$t0" "$STALE_LIMIT_MS" "$LONDON" "$EU_WEST"

healthd_start healthd-2 || e2e_bail "healthd started again"
t0=$(now_ms)
timed "e. a new healthd reported eu-west down: London on us-east" "London" "$t0" \
    "$FAIL_LIMIT_MS" "$LONDON" "$US_EAST"

restart_gslbd gslbd-3
ask "$LONDON"
first=$(region_of "$ANS")
timed "e. gslbd restarted under a running healthd avoided eu-west (first answer: $first)" \
    "London" "$READY_MS" "$RESYNC_LIMIT_MS" "$LONDON" "$US_EAST"
expect_answer "e. after the restart London's TTL is 5 (failing over)" "$LONDON" A "$US_EAST" 5
expect_answer "e. after the restart Singapore is on ap-south, TTL 30" "$SINGAPORE" A \
    "$AP_SOUTH" 30
healthd_alive "e. healthd still runs after gslbd restarted under it"

# ------------------------------------------------------------------ f. all down

nginx_fail us-east
nginx_fail ap-south
t0=$(now_ms)
if status_wait '^region .* DOWN' 3 10; then
    e2e_ok "f. all three regions DOWN in $(secs $(($(now_ms) - t0))) s"
else
    e2e_not_ok "f. all three regions DOWN" "$(ctl status 2>&1)"
fi
# on_all_down open: as if every region were up, with min_ttl so resolvers come back soon.
expect_answer "f. all down, open: London gets eu-west, TTL 5" "$LONDON" A "$EU_WEST" 5
expect_answer "f. all down, open: Singapore gets ap-south, TTL 5" "$SINGAPORE" A "$AP_SOUTH" 5
expect_answer "f. all down, open: the United States get us-east, TTL 5" "$US" A "$US_EAST" 5
expect_answer "f. all down, open: London's AAAA from eu-west, TTL 5" "$LONDON" AAAA \
    "$EU_WEST6" 5
is "f. all down, open: NOERROR" NOERROR "$RCODE"

for r in us-east eu-west ap-south; do
    nginx_heal "$r"
done
t0=$(now_ms)
# Every member, not just every region: a region is up with min_up (1) member up, but an
# A query needs one of its IPv4 members up.
if status_wait '^  member .* up ' 5 10; then
    e2e_ok "f. all 5 members up again in $(secs $(($(now_ms) - t0))) s"
else
    e2e_not_ok "f. all 5 members up again" "$(ctl status 2>&1)"
fi
expect_answer "f. healed: London on eu-west, TTL 30" "$LONDON" A "$EU_WEST" 30
expect_answer "f. healed: the United States on us-east, TTL 30" "$US" A "$US_EAST" 30

if healthd_alive "healthd still runs at the end"; then
    gslbd_stop "$HEALTHD_PID"
    is "healthd stopped cleanly" 0 "$GSLBD_STATUS"
fi
gslbd_stop
is "gslbd stopped cleanly" 0 "$GSLBD_STATUS"
e2e_finish
