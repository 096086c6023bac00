#!/usr/bin/env bash
# gslb demo: the whole system on loopback, failing over and back while you watch.
#
# Started by `make demo` once everything is built. It starts one real nginx per region of
# the README's example zone (us-east, us-west, eu-west, ap-south, each on 127.0.0.1 on a free
# port, its /health failing while a "down" file exists: tools/nginx.sh), then gslbd
# on 127.0.0.1 and [::1] port 5353 (GSLB_DEMO_PORT overrides it) with the built-in world
# GeoIP database, and healthd probing the nginx servers every second. The zone is
# tools/demo/gslb.example.com.yaml.in: the example zone with the probes pointed at the
# nginx servers. Then it shows, with dig:
#   1. clients in London, Singapore, Virginia and Mountain View get four different regions
#      (the two US clients are told apart only by a city-level database, which the built-in
#      one is when make could fetch DB-IP City Lite);
#   2. eu-west's /health fails: London moves to us-east, with the short TTL (5);
#   3. eu-west heals: London comes back to eu-west, TTL 30;
#   4. what gslbd counted, from its Prometheus /metrics (its status page is served on
#      127.0.0.1:9153, GSLB_DEMO_HTTP_PORT overrides it; healthd's metrics on the next port).
# With a terminal it keeps serving until Ctrl-C, printing commands to try meanwhile;
# without one it stops after the show. Everything it started is stopped on exit, and its
# temporary directory removed. Traffic stays on loopback; every wait is bounded.

set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
PORT=${GSLB_DEMO_PORT:-5353}
HTTP_PORT=${GSLB_DEMO_HTTP_PORT:-9153} # gslbd's /status and /metrics; healthd's is one more
GSLBD=$ROOT/bin/gslbd
HEALTHD=$ROOT/bin/healthd
GSLBCTL=$ROOT/bin/gslbctl
TEMPLATE=$ROOT/tools/demo/gslb.example.com.yaml.in

# Client networks and where the built-in database puts them.
LONDON=81.2.69.0/24
SINGAPORE=165.21.83.0/24
VIRGINIA=3.80.0.0/16     # Ashburn, Virginia
WEST_COAST=8.8.8.0/24    # Mountain View, California
US_EAST=192.0.2.10
EU_WEST=198.51.100.10

# ------------------------------------------------------------------ set-up and clean-up

die() {
    echo "demo: $*" >&2
    exit 1
}

for bin in "$GSLBD" "$HEALTHD" "$GSLBCTL"; do
    [ -x "$bin" ] || die "$bin is missing: run make first (make demo builds it)"
done
for tool in dig curl python3; do
    command -v "$tool" >/dev/null || die "$tool is missing: run make deps"
done
case $PORT in
'' | *[!0-9]*) die "GSLB_DEMO_PORT must be a port number, not '$PORT'" ;;
esac
case $HTTP_PORT in
'' | *[!0-9]*) die "GSLB_DEMO_HTTP_PORT must be a port number, not '$HTTP_PORT'" ;;
esac

DEMO=$(mktemp -d "${TMPDIR:-/tmp}/gslb-demo.XXXXXX") || die "cannot make a temporary directory"
CTL=$DEMO/control.sock
ZONE=$DEMO/zones/gslb.example.com.yaml
# shellcheck disable=SC2034 # read by nginx.sh
NGINX_BASE=$DEMO/nginx
# shellcheck source=nginx.sh
. "$ROOT/tools/nginx.sh"
GSLBD_PID=""
HEALTHD_PID=""

# stop PID: SIGTERM, SIGKILL after 3 s, reaped (nginx.sh's helper serves any process).
stop() {
    [ -n "$1" ] || return 0
    nginx_kill "$1"
}

cleanup() {
    trap - EXIT INT TERM
    stop "$HEALTHD_PID"
    stop "$GSLBD_PID"
    nginx_stop_all
    rm -rf "$DEMO"
}
trap cleanup EXIT
trap 'echo; echo "demo: stopping"; exit 130' INT
trap 'exit 143' TERM

# wait_line FILE PID NAME: wait up to 10 s for "ready:" in FILE while PID lives.
wait_line() {
    for _ in $(seq 100); do
        grep -qs 'ready:' "$1" && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    echo "demo: $3 did not start; its log:" >&2
    sed 's/^/  /' "$1" >&2
    return 1
}

# now_ms: wall-clock milliseconds.
now_ms() {
    local t=${EPOCHREALTIME//[^0-9]/}
    echo $((t / 1000))
}

say() {
    printf '\n\033[1m==> %s\033[0m\n' "$*"
}
[ -t 1 ] || say() { printf '\n==> %s\n' "$*"; }

# show CMD...: print the command as one would type it (quoting what needs it), then run it.
show() {
    local arg line='$'
    for arg in "$@"; do
        if [[ $arg =~ ^[A-Za-z0-9@:/.,=+_%{}-]+$ ]]; then
            line="$line $arg"
        else
            line="$line '$arg'"
        fi
    done
    echo "$line"
    "$@" 2>&1 | sed 's/^/  /'
}

# ask SUBNET: the address London or anyone else gets now (empty when none).
ask() {
    dig @127.0.0.1 -p "$PORT" +norec +time=1 +tries=1 +short www.gslb.example.com \
        +subnet="$1" 2>/dev/null | head -1
}

# dig_www SUBNET [TYPE] [SERVER]: show the answer for a client in SUBNET.
dig_www() {
    show dig @"${3:-127.0.0.1}" -p "$PORT" www.gslb.example.com "${2:-A}" +subnet="$1" \
        +noall +answer
}

# wait_for SUBNET ADDRESS START_MS: query every 100 ms (at most 15 s) until SUBNET gets
# ADDRESS; prints how long it took since START_MS.
wait_for() {
    local t0=$3 got
    for _ in $(seq 150); do
        got=$(ask "$1")
        if [ "$got" = "$2" ]; then
            awk -v m=$(($(now_ms) - t0)) \
                'BEGIN { printf "  (London moved after %.1f s)\n", m / 1000 }'
            return 0
        fi
        [ $(($(now_ms) - t0)) -ge 15000 ] && break
        sleep 0.1
    done
    echo "  (still $got after 15 s: something is wrong, see the logs in $DEMO)"
    return 1
}

# ------------------------------------------------------------------ the regions

say "Starting one nginx per region (real web servers on 127.0.0.1)"
for r in us-east us-west eu-west ap-south; do
    nginx_start "$r" || die "nginx for $r did not start"
    printf '  %-9s http://127.0.0.1:%s/  (health check: /health)\n' "$r" "$NGINX_PORT"
done

mkdir -p "$DEMO/zones"
sed -e "s/@US_EAST_PORT@/$(nginx_port us-east)/g" \
    -e "s/@US_WEST_PORT@/$(nginx_port us-west)/g" \
    -e "s/@EU_WEST_PORT@/$(nginx_port eu-west)/g" \
    -e "s/@AP_SOUTH_PORT@/$(nginx_port ap-south)/g" "$TEMPLATE" >"$ZONE"
"$GSLBD" --zones "$ZONE" --check >/dev/null || die "the demo zone $ZONE does not load"

say "Starting gslbd on 127.0.0.1:$PORT and [::1]:$PORT (status page on 127.0.0.1:$HTTP_PORT), and healthd"
"$GSLBD" --zones "$ZONE" --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" \
    --control "$CTL" --http "127.0.0.1:$HTTP_PORT" </dev/null >/dev/null 2>"$DEMO/gslbd.log" &
GSLBD_PID=$!
if ! wait_line "$DEMO/gslbd.log" "$GSLBD_PID" gslbd; then
    grep -q -- '--http.*in use' "$DEMO/gslbd.log" &&
        echo "demo: port $HTTP_PORT is taken; try GSLB_DEMO_HTTP_PORT=9253 make demo" >&2
    grep -q 'in use' "$DEMO/gslbd.log" && ! grep -q -- '--http' "$DEMO/gslbd.log" &&
        echo "demo: port $PORT is taken; try GSLB_DEMO_PORT=5354 make demo" >&2
    exit 1
fi
sed 's/^/  /' "$DEMO/gslbd.log"
"$HEALTHD" --zones "$ZONE" --gslbd "$CTL" --http "127.0.0.1:$((HTTP_PORT + 1))" \
    </dev/null >/dev/null 2>"$DEMO/healthd.log" &
HEALTHD_PID=$!
wait_line "$DEMO/healthd.log" "$HEALTHD_PID" healthd || exit 1
grep 'ready:' "$DEMO/healthd.log" | sed 's/^/  /'
# Until healthd has reported, every member is "unknown" (which counts as up).
for _ in $(seq 50); do
    [ "$("$GSLBCTL" --control "$CTL" status 2>/dev/null | grep -c '^  member .* up ')" -eq 7 ] &&
        break
    sleep 0.1
done
show bin/gslbctl --control "$CTL" status

# ------------------------------------------------------------------ the show

say "Four clients get four regions (placed by EDNS Client Subnet)"
echo "# London: eu-west (Dublin)"
dig_www "$LONDON"
echo "# Singapore: ap-south"
dig_www "$SINGAPORE"
echo "# Ashburn, Virginia: us-east"
dig_www "$VIRGINIA"
echo "# Mountain View, California: us-west (Oregon)"
dig_www "$WEST_COAST"
if grep -q 'gslb-World-City' "$DEMO/gslbd.log"; then
    echo "# The two US clients differ because the world database is city level (DB-IP City"
    echo "# Lite): it places each network at its own city, so distance decides within a country"
else
    echo "# This build's world database is the COUNTRY-LEVEL fallback (make could not fetch"
    echo "# DB-IP City Lite): every US client stands at one point, so Mountain View gets us-east"
fi
echo "\$ bin/gslbctl --control $CTL explain $WEST_COAST www.gslb.example.com |" \
    "grep -E '^location:|^ +[0-9]+\\. '"
"$GSLBCTL" --control "$CTL" explain "$WEST_COAST" www.gslb.example.com 2>&1 |
    grep -E '^location:|^ +[0-9]+\. ' | sed 's/^/  /'
echo "# London over IPv6, asking for AAAA; and a CNAME to the service"
dig_www "$LONDON" AAAA ::1
show dig @127.0.0.1 -p "$PORT" docs.gslb.example.com +subnet="$SINGAPORE" +noall +answer

DOWN_FILE=$(nginx_dir eu-west)/down
say "eu-west fails: its nginx answers /health with 503"
t0=$(now_ms)
show touch "$DOWN_FILE"
show curl -s -w 'HTTP status %{http_code}\n' "http://127.0.0.1:$(nginx_port eu-west)/health"
echo "# healthd needs 2 failed probes a second apart (fall: 2); waiting for London to move"
log_mark=$(wc -l <"$DEMO/gslbd.log")
wait_for "$LONDON" "$US_EAST" "$t0"
tail -n +$((log_mark + 1)) "$DEMO/gslbd.log" | sed 's/^/  /'
echo "# London now gets us-east, the next nearest region, with TTL 5 (min_ttl) so that"
echo "# resolvers ask again soon; Singapore is not affected (TTL 30)"
dig_www "$LONDON"
dig_www "$SINGAPORE"

say "eu-west heals: /health answers 200 again"
t0=$(now_ms)
show rm "$DOWN_FILE"
echo "# healthd needs 2 good probes (rise: 2); waiting for London to come back"
log_mark=$(wc -l <"$DEMO/gslbd.log")
wait_for "$LONDON" "$EU_WEST" "$t0"
tail -n +$((log_mark + 1)) "$DEMO/gslbd.log" | sed 's/^/  /'
dig_www "$LONDON"

say "What gslbd counted: each region's answers for www, and the healthd it hears from"
echo "\$ curl -s http://127.0.0.1:$HTTP_PORT/metrics | grep -E 'answers_total.*www|report_age'"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -E 'answers_total.*www|report_age' |
    grep -v '^#' | sed 's/^/  /'

# ------------------------------------------------------------------ over to you

say "Try it yourself"
cat <<EOF
  dig @127.0.0.1 -p $PORT www.gslb.example.com +subnet=$LONDON       # London
  dig @127.0.0.1 -p $PORT www.gslb.example.com +subnet=$SINGAPORE      # Singapore
  dig @127.0.0.1 -p $PORT www.gslb.example.com +subnet=$VIRGINIA        # Virginia
  dig @127.0.0.1 -p $PORT www.gslb.example.com +subnet=$WEST_COAST         # Mountain View
  dig @::1 -p $PORT www.gslb.example.com AAAA +subnet=$LONDON +tcp   # IPv6, TCP
  bin/gslbctl --control $CTL explain $LONDON www.gslb.example.com   # live health
  bin/gslbctl --control $CTL status
  bin/gslbctl --control $CTL reload           # after editing $ZONE
  bin/gslbctl --control $CTL drain eu-west    # then: auto eu-west
  touch $DOWN_FILE                            # fail eu-west (rm heals)
  open http://127.0.0.1:$HTTP_PORT/status in a browser: the status page (refreshes itself)
  curl -s http://127.0.0.1:$HTTP_PORT/metrics                # gslbd's Prometheus metrics
  curl -s http://127.0.0.1:$((HTTP_PORT + 1))/metrics                # healthd's
EOF

if [ -t 0 ]; then
    echo
    echo "gslbd, healthd and 4 nginx are serving; logs in $DEMO. Ctrl-C stops them all."
    wait "$GSLBD_PID"
    echo "demo: gslbd exited; its log:"
    sed 's/^/  /' "$DEMO/gslbd.log"
else
    echo
    echo "demo: done (no terminal, so not waiting for Ctrl-C); everything is stopped."
fi
