# shellcheck shell=bash disable=SC2034,SC2119,SC2120
# lib.sh: shared helpers for the end-to-end tests (sourced, never run).
#
# It starts the real bin/gslbd on loopback on a port picked per run, waits for its
# readiness line, queries it with dig (and tests/e2e/dnstool.py where dig cannot
# build the packet), and prints one TAP-style line per assertion:
#   ok - NAME
#   not ok - NAME        followed by "# " lines with what was expected and seen
# e2e_finish prints "# SCRIPT: N passed, N failed" and returns non-zero on failure;
# tools/run-tests.sh adds up the ok / not ok lines of every script.
#
# It does not build anything, and it only ever sends traffic to 127.0.0.1 and ::1.
# Every wait is bounded: a server that never gets ready fails the test, not the run.

set -u

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_ROOT=$(cd "$E2E_DIR/../.." && pwd)
GSLBD=${GSLBD:-$E2E_ROOT/bin/gslbd}
# A command put before gslbd, e.g. GSLBD_WRAPPER="valgrind -q --error-exitcode=99".
GSLBD_WRAPPER=${GSLBD_WRAPPER:-}
DNSTOOL="python3 $E2E_DIR/dnstool.py"
E2E_PASSED=0
E2E_FAILED=0
E2E_PIDS=""
E2E_NAME=$(basename "$0" .sh)
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gslb-e2e.XXXXXX")
# Seconds to wait for the readiness line.
E2E_READY_TIMEOUT=${E2E_READY_TIMEOUT:-10}

e2e_cleanup() {
    local pid
    for pid in $E2E_PIDS; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $E2E_PIDS; do
        # Bounded: after ~3 s a server that ignores SIGTERM is killed.
        for _ in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ -n "${E2E_KEEP:-}" ]; then
        echo "# kept $E2E_TMP"
    else
        rm -rf "$E2E_TMP"
    fi
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ assertions

e2e_ok() {
    E2E_PASSED=$((E2E_PASSED + 1))
    echo "ok - $1"
}

# e2e_not_ok NAME [DETAIL...]: a failed assertion; details go out as "# " lines.
e2e_not_ok() {
    local name=$1
    shift
    E2E_FAILED=$((E2E_FAILED + 1))
    echo "not ok - $name"
    if [ $# -gt 0 ]; then
        printf '%s\n' "$@" | sed 's/^/#   /'
    fi
}

# is NAME EXPECTED ACTUAL: exact string equality (multi-line values are diffed).
is() {
    if [ "$2" = "$3" ]; then
        e2e_ok "$1"
    elif [ "$(printf '%s\n' "$2" | wc -l)" -gt 1 ] || [ "$(printf '%s\n' "$3" | wc -l)" -gt 1 ]; then
        e2e_not_ok "$1" "diff expected -> got:" \
            "$(diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | grep '^[<>]')"
    else
        e2e_not_ok "$1" "expected: $2" "got:      $3"
    fi
}

# like NAME REGEX ACTUAL: ACTUAL matches the extended regular expression.
like() {
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then
        e2e_ok "$1"
    else
        e2e_not_ok "$1" "expected to match: $2" "got:" "$3"
    fi
}

# unlike NAME REGEX ACTUAL: ACTUAL does not match.
unlike() {
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then
        e2e_not_ok "$1" "expected not to match: $2" "got:" "$3"
    else
        e2e_ok "$1"
    fi
}

# cmp_num NAME A OP B: numeric comparison, OP one of -eq -ne -lt -le -gt -ge.
cmp_num() {
    local r=1
    if [[ $2 =~ ^-?[0-9]+$ ]] && [[ $4 =~ ^-?[0-9]+$ ]]; then
        case $3 in
        -eq) [ "$2" -eq "$4" ] && r=0 ;;
        -ne) [ "$2" -ne "$4" ] && r=0 ;;
        -lt) [ "$2" -lt "$4" ] && r=0 ;;
        -le) [ "$2" -le "$4" ] && r=0 ;;
        -gt) [ "$2" -gt "$4" ] && r=0 ;;
        -ge) [ "$2" -ge "$4" ] && r=0 ;;
        esac
    fi
    if [ "$r" -eq 0 ]; then
        e2e_ok "$1"
    else
        e2e_not_ok "$1" "expected: $2 $3 $4"
    fi
}

# skip NAME REASON: counted as passed, marked as a TAP skip.
skip() {
    E2E_PASSED=$((E2E_PASSED + 1))
    echo "ok - $1 # SKIP $2"
}

# e2e_finish: the per-script summary; returns 1 when anything failed.
e2e_finish() {
    sanitizer_check
    echo "# $E2E_NAME: $E2E_PASSED passed, $E2E_FAILED failed"
    [ "$E2E_FAILED" -eq 0 ]
}

# e2e_bail REASON: stop the script with one failure (missing binary and the like).
e2e_bail() {
    e2e_not_ok "$1" "${@:2}"
    e2e_finish
    exit 1
}

# ------------------------------------------------------------------ the daemon

# free_port: a port free for UDP and TCP on both 127.0.0.1 and ::1.
free_port() {
    $DNSTOOL freeport
}

# gslbd_require: bail out of the script when there is no binary to test.
gslbd_require() {
    [ -x "$GSLBD" ] || e2e_bail "gslbd binary present" "no executable at $GSLBD (make bin/gslbd)"
}

# gslbd_start LOG ARGS...: start gslbd with ARGS, stderr to $E2E_TMP/LOG.log, and wait
# up to E2E_READY_TIMEOUT seconds for "ready:". Sets GSLBD_PID and GSLBD_LOG.
# Returns non-zero (after printing the log) when it exits or never gets ready.
gslbd_start() {
    GSLBD_LOG=$E2E_TMP/$1.log
    shift
    # shellcheck disable=SC2086
    ${GSLBD_WRAPPER:-} "$GSLBD" "$@" >"$GSLBD_LOG.stdout" 2>"$GSLBD_LOG" </dev/null &
    GSLBD_PID=$!
    E2E_PIDS="$E2E_PIDS $GSLBD_PID"
    for _ in $(seq $((E2E_READY_TIMEOUT * 10))); do
        if grep -q 'ready:' "$GSLBD_LOG" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$GSLBD_PID" 2>/dev/null; then
            wait "$GSLBD_PID" 2>/dev/null
            echo "# gslbd $* exited with status $? before ready:"
            pid_forget "$GSLBD_PID"
            sed 's/^/#   /' "$GSLBD_LOG" | head -40
            return 1
        fi
        sleep 0.1
    done
    echo "# gslbd $* not ready after ${E2E_READY_TIMEOUT}s; log:"
    sed 's/^/#   /' "$GSLBD_LOG" | head -40
    return 1
}

# pid_forget PID: drop a reaped process from the clean-up list, so the EXIT trap
# never signals a process id the system may have handed to someone else since.
pid_forget() {
    local p kept=""
    for p in $E2E_PIDS; do
        [ "$p" = "$1" ] || kept="$kept $p"
    done
    E2E_PIDS=$kept
}

# gslbd_stop [PID]: SIGTERM, wait up to 5 s (60 s under a GSLBD_WRAPPER such as
# valgrind, whose leak check at exit is slow), then SIGKILL. Sets GSLBD_STATUS to
# the exit status, or "killed" when it had to be killed.
gslbd_stop() {
    local pid=${1:-$GSLBD_PID} tenths=50
    GSLBD_STATUS=gone
    pid_forget "$pid"
    [ -n "${GSLBD_WRAPPER:-}" ] && tenths=600
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq "$tenths"); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            GSLBD_STATUS=$?
            return 0
        fi
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    GSLBD_STATUS=killed
}

# sanitizer_check: one failure per log in E2E_TMP holding an AddressSanitizer,
# LeakSanitizer or UBSan report (SANITIZE=address,undefined builds), or a report of
# valgrind run with -q through GSLBD_WRAPPER; silent when there is none.
# e2e_finish calls it.
sanitizer_check() {
    local log
    for log in "$E2E_TMP"/*.log; do
        [ -f "$log" ] || continue
        # valgrind -q prints nothing but its reports, each line "==PID== ...".
        if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|^==[0-9]+== [A-Z]' "$log"; then
            e2e_not_ok "no sanitizer or valgrind report in $(basename "$log")" \
                "$(grep -E -A12 'Sanitizer|runtime error:|^==[0-9]+== [A-Z]' "$log" | head -40)"
        fi
    done
}

# log_wait REGEX [SECONDS]: wait (bounded, default 3 s) for REGEX in GSLBD_LOG.
log_wait() {
    for _ in $(seq $((${2:-3} * 10))); do
        grep -Eq -- "$1" "$GSLBD_LOG" && return 0
        sleep 0.1
    done
    return 1
}

# ------------------------------------------------------------------ queries

# The transports every protocol test runs over.
TRANSPORTS=${TRANSPORTS:-"udp4 tcp4 udp6 tcp6"}

# server_of TRANSPORT / tcp_of TRANSPORT: dig arguments for a transport.
server_of() {
    case $1 in
    *4) echo "127.0.0.1" ;;
    *6) echo "::1" ;;
    esac
}

# dq TRANSPORT DIG-ARGS...: run dig against the server on $PORT; output in DIG_OUT.
dq() {
    local t=$1
    shift
    local tcp=+notcp
    case $t in tcp*) tcp=+tcp ;; esac
    DIG_OUT=$(dig @"$(server_of "$t")" -p "$PORT" +time="${DIG_TIME:-2}" +tries=1 "$tcp" "$@" 2>&1)
}

# dig_canon: DIG_OUT in a fixed form: status, flags, EDNS line, question, then each
# section's records (whitespace collapsed, sorted within the section, the SOA serial
# replaced by SERIAL since it is derived from the load time).
dig_canon() {
    printf '%s\n' "$DIG_OUT" | awk '
        /^;; ->>HEADER<<-/ {
            s = $0; sub(/.*status: /, "", s); sub(/,.*/, "", s); print "0status: " s
        }
        /^;; flags:/ {
            f = $0; sub(/^;; flags: ?/, "", f); sub(/;.*/, "", f); print "1flags: " f
        }
        /^; EDNS:/ { e = $0; sub(/^; EDNS: /, "", e); print "2edns: " e }
        /^;; QUESTION SECTION:/ { sec = "3QD"; next }
        /^;; ANSWER SECTION:/ { sec = "4AN"; next }
        /^;; AUTHORITY SECTION:/ { sec = "5NS"; next }
        /^;; ADDITIONAL SECTION:/ { sec = "6AR"; next }
        /^$/ { sec = "" }
        sec != "" {
            line = $0
            if (sec == "3QD") { sub(/^;/, "", line) } else if (line ~ /^;/) { next }
            n = split(line, w, /[ \t]+/)
            if (w[4] == "SOA") { w[7] = "SERIAL" }
            out = w[1]
            for (i = 2; i <= n; i++) { out = out " " w[i] }
            print sec ": " out
        }' | LC_ALL=C sort | cut -c2-
}

# dig_get FIELD: one value from DIG_OUT: status, flags, size (MSG SIZE rcvd), or a
# section count (QUERY ANSWER AUTHORITY ADDITIONAL).
dig_get() {
    case $1 in
    status) printf '%s\n' "$DIG_OUT" | sed -n 's/^;; ->>HEADER<<-.*status: \([A-Z0-9]*\).*/\1/p' ;;
    flags) printf '%s\n' "$DIG_OUT" | sed -n 's/^;; flags: *\([a-z ]*\);.*/\1/p' ;;
    size) printf '%s\n' "$DIG_OUT" | sed -n 's/^;; MSG SIZE *rcvd: *\([0-9]*\).*/\1/p' ;;
    *) printf '%s\n' "$DIG_OUT" | sed -n "s/^;; flags:.* $1: \([0-9]*\).*/\1/p" ;;
    esac
}

# expect_reply NAME TRANSPORT DIG-ARGS... <<EOF: the canonical reply (see dig_canon)
# must equal the text on stdin exactly.
expect_reply() {
    local name=$1 t=$2
    shift 2
    local want
    want=$(cat)
    dq "$t" "$@"
    local got
    got=$(dig_canon)
    if [ "$got" = "$want" ]; then
        e2e_ok "$name"
    else
        e2e_not_ok "$name" "dig $*" "diff expected -> got:" \
            "$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | grep '^[<>]')"
    fi
}

# dt TRANSPORT DNSTOOL-ARGS...: run dnstool against the server; output in DT_OUT.
dt() {
    local t=$1
    shift
    local tcp=""
    case $t in tcp*) tcp=--tcp ;; esac
    DT_OUT=$($DNSTOOL "$1" --server "$(server_of "$t")" --port "$PORT" $tcp "${@:2}" 2>&1)
}

# dt_get KEY: the value of "KEY=..." from DT_OUT (rcode, flags, counts, opt, ...).
dt_get() {
    printf '%s\n' "$DT_OUT" | sed -n "s/^$1=//p" | head -1
}

# ------------------------------------------------------------------ zones

# write_example_zone FILE: the example zone the protocol tests expect, as a fixed
# copy (zones/examples/ may change for the demo; these answers must not).
write_example_zone() {
    cat >"$1" <<'YAML'
zone: gslb.example.com
ttl: 300
soa: {mname: ns1.gslb.example.com, rname: hostmaster.example.com, refresh: 3600, retry: 600, expire: 604800, minimum: 60}
ns: [ns1.gslb.example.com, ns2.gslb.example.com]
records:
  ns1: {A: 198.51.100.53, AAAA: "2001:db8:53::1"}
  ns2: {A: 203.0.113.53}
  "@": {TXT: "gslb demo", MX: "10 mail.example.com."}
  docs: {CNAME: www}
  _sip._tcp: {SRV: "10 5 5060 sip.example.com."}
regions:
  us-east:  {location: [39.04, -77.49], weight: 100, pool: [192.0.2.10, "2001:db8:10::10"], check: web}
  eu-west:  {location: [53.35, -6.26],  weight: 100, pool: [198.51.100.10, "2001:db8:20::10"], check: web}
  ap-south: {location: [1.29, 103.85],  weight: 100, pool: [203.0.113.10], check: web}
checks:
  web: {type: http, port: 80, path: /health, expect: 200, interval: 2s, timeout: 1s, rise: 2, fall: 2}
services:
  www: {regions: [us-east, eu-west, ap-south], policy: nearest, ttl: 30}
YAML
}

# The SOA of the example zone as dig_canon prints it in an authority section
# (negative answers: TTL = min(SOA TTL 300, minimum 60), RFC 2308 s5).
EXAMPLE_NEG_SOA="gslb.example.com. 60 IN SOA ns1.gslb.example.com. hostmaster.example.com. SERIAL 3600 600 604800 60"
EDNS_LINE="edns: version: 0, flags:; udp: 1232"

# bg_start NAME CMD...: start CMD in the background (stdout and stderr to $E2E_TMP/NAME.out),
# wait up to 5 s for it to print "listening". Sets BG_PID.
bg_start() {
    local name=$1
    shift
    "$@" >"$E2E_TMP/$name.out" 2>&1 </dev/null &
    BG_PID=$!
    E2E_PIDS="$E2E_PIDS $BG_PID"
    for _ in $(seq 50); do
        grep -q listening "$E2E_TMP/$name.out" 2>/dev/null && return 0
        sleep 0.1
    done
    e2e_bail "$name starts" "$(cat "$E2E_TMP/$name.out")"
}
