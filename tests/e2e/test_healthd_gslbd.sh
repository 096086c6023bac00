#!/usr/bin/env bash
# test_healthd_gslbd.sh: bin/healthd reporting to the real bin/gslbd.
#
# Two regions in failover order, each one member whose health check goes to a
# small python HTTP server on loopback (its status read from a file on every
# request). Asserted through DNS answers: the primary answers while healthy,
# the backup within interval * fall + 1 s of the primary returning 503, the
# primary again after it recovers, and a restarted gslbd answers from the
# state healthd sends it on reconnection, without waiting for a change.
#
# Not here: healthd's own checks and protocol details (test_healthd.sh), and
# gslbd's handling of stale or conflicting reports (gslbd's tests). Skipped
# when bin/gslbd has no --control. Traffic goes to 127.0.0.1 only.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

HEALTHD=${HEALTHD:-$E2E_ROOT/bin/healthd}
GSLBD_BIN=$GSLBD
gslbd_require
[ -x "$HEALTHD" ] || e2e_bail "healthd binary present" "no executable at $HEALTHD (make bin/healthd)"
if ! "$GSLBD_BIN" --help 2>&1 | grep -q -- '--control'; then
    skip "healthd and gslbd together" "bin/gslbd has no --control"
    e2e_finish
    exit 0
fi

T=$E2E_TMP

# status.py PORT FILE: HTTP on 127.0.0.1:PORT answering every request with the
# status code written in FILE (200 when missing).
cat >"$T/status.py" <<'PY'
import http.server, sys

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            code = int(open(sys.argv[2]).read().strip() or 200)
        except (OSError, ValueError):
            code = 200
        self.send_response(code)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass

srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("listening", flush=True)
srv.serve_forever()
PY


# www_is ADDR SECONDS: poll (every 0.2 s, bounded) until www answers ADDR.
# Sets WAITED_MS.
www_is() {
    local start
    start=$(date +%s%3N)
    for _ in $(seq $(($2 * 5))); do
        dq udp4 +short www.hc.test A
        if [ "$DIG_OUT" = "$1" ]; then
            WAITED_MS=$(($(date +%s%3N) - start))
            return 0
        fi
        sleep 0.2
    done
    WAITED_MS=$(($(date +%s%3N) - start))
    return 1
}

expect_www() {
    if www_is "$2" "$3"; then
        e2e_ok "$1 (after ${WAITED_MS} ms)"
    else
        e2e_not_ok "$1" "www.hc.test A: expected $2 within $3 s, got: $DIG_OUT"
    fi
}

P1=$(free_port)
P2=$(free_port)
PORT=$(free_port)
echo 200 >"$T/p1.status"
echo 200 >"$T/p2.status"
bg_start http-1 python3 "$T/status.py" "$P1" "$T/p1.status"
bg_start http-2 python3 "$T/status.py" "$P2" "$T/p2.status"

ZF=$T/hc.test.yaml
cat >"$ZF" <<YAML
zone: hc.test
soa: {mname: ns1.example.net, rname: hostmaster.example.net}
ns: [ns1.example.net]
regions:
  primary: {location: [50, 0], pool: [{address: 192.0.2.1, probe: "127.0.0.1:$P1"}], check: web}
  backup:  {location: [40, 0], pool: [{address: 192.0.2.2, probe: "127.0.0.1:$P2"}], check: web}
checks:
  web: {type: http, path: /health, interval: 500ms, timeout: 300ms, rise: 2, fall: 2}
services:
  www: {regions: [primary, backup], policy: failover, ttl: 5}
YAML

CTL=$T/ctl.sock
gslbd_start gslbd --zones "$ZF" --listen "127.0.0.1:$PORT" --threads 1 --control "$CTL" ||
    e2e_bail "gslbd starts with --control"
G_PID=$GSLBD_PID
G_LOG=$GSLBD_LOG

GSLBD=$HEALTHD gslbd_start healthd --zones "$ZF" --gslbd "$CTL" || e2e_bail "healthd starts"
H_PID=$GSLBD_PID
H_LOG=$GSLBD_LOG

expect_line() {
    if GSLBD_LOG=$2 log_wait "$3" "$4"; then
        e2e_ok "$1"
    else
        e2e_not_ok "$1" "no line matching $3 in $(basename "$2"):" "$(tail -10 "$2")"
    fi
}

expect_line "healthd connects to gslbd" "$H_LOG" "gslbd $CTL: connected" 3
expect_line "gslbd hears that the primary is up" "$G_LOG" "primary 192.0.2.1.* up" 4
expect_www "the healthy primary answers" 192.0.2.1 3

echo 503 >"$T/p1.status"
expect_www "the backup answers within interval*fall + 1 s of the primary failing" 192.0.2.2 4
cmp_num "... measured" "$WAITED_MS" -le 2500

# gslbd restarts while the primary is down: it must answer the backup at once
# from healthd's full state, not the primary (unknown counts as up).
gslbd_stop "$G_PID"
gslbd_start gslbd2 --zones "$ZF" --listen "127.0.0.1:$PORT" --threads 1 --control "$CTL" ||
    e2e_bail "gslbd restarts"
G_PID=$GSLBD_PID
expect_line "healthd reconnects to the restarted gslbd" "$H_LOG" "gslbd $CTL: connected again" 4
expect_www "the restarted gslbd answers the backup from the re-sent state" 192.0.2.2 2

echo 200 >"$T/p1.status"
expect_www "the primary answers again after rise successes" 192.0.2.1 4

gslbd_stop "$H_PID"
is "healthd stops with status 0" 0 "$GSLBD_STATUS"
gslbd_stop "$G_PID"
is "gslbd stops with status 0" 0 "$GSLBD_STATUS"

e2e_finish
