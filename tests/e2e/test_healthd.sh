#!/usr/bin/env bash
# test_healthd.sh: bin/healthd against real HTTP(S) and TCP servers on loopback.
#
# The backends are a small python server written below (one process per port,
# its behaviour read from a mode file on every connection: a status code, a body,
# hang, drip one byte a second, close at once; https with a self-signed
# certificate made here with openssl). Two stand-ins for gslbd's control socket
# (python, below) record every line healthd sends. Asserted: the readiness line,
# HELLO / MEMBER / SYNCED on connection, up and down transitions with their
# reasons within interval * rise|fall + 1 s (+ the timeout for slow backends),
# that hanging and dripping backends time out without holding up other probes,
# Host and SNI, TLS verification on and off, tcp checks, PINGs, reconnection with
# the full state, reloads on file change and SIGHUP (kept targets keep their
# state, broken files keep the old targets), and a clean stop.
#
# Not here: gslbd's handling of the reports (gslbd's own tests). Traffic goes to
# 127.0.0.1 and ::1 only; every wait is bounded.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

HEALTHD=${HEALTHD:-$E2E_ROOT/bin/healthd}
[ -x "$HEALTHD" ] || e2e_bail "healthd binary present" "no executable at $HEALTHD (make bin/healthd)"
command -v openssl >/dev/null || e2e_bail "openssl present" "the https tests need openssl"

T=$E2E_TMP

# ------------------------------------------------------------------ helpers

# The backend: backend.py PORT MODEFILE [CERT KEY]. Modes: "200", "503", "301",
# "hang", "drip", "close", "body TEXT" (status 200, TEXT in the body), "slow MS"
# (status 200 after MS milliseconds). Every body
# ends with "host=HOST" and "sni=NAME" lines: what the request carried.
cat >"$T/backend.py" <<'PY'
import asyncio, ssl, sys

port, modefile = int(sys.argv[1]), sys.argv[2]
ctx, sni = None, {}
if len(sys.argv) > 4:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    ctx.sni_callback = lambda obj, name, c: sni.__setitem__(id(obj), name or "")

def mode():
    try:
        with open(modefile) as f:
            return f.read().strip() or "200"
    except OSError:
        return "200"

async def respond(reader, writer, m):
    req = b""
    while b"\r\n\r\n" not in req and len(req) < 65536:
        chunk = await reader.read(4096)
        if not chunk:
            return
        req += chunk
    if m == "drip":
        for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
            writer.write(bytes([b]))
            await writer.drain()
            await asyncio.sleep(1)
        return
    if m.startswith("slow "):
        await asyncio.sleep(int(m[5:]) / 1000)
        m = "200"
    code, body = (m, "healthy\n") if not m.startswith("body ") else ("200", m[5:] + "\n")
    host = ""
    for line in req.split(b"\r\n"):
        if line.lower().startswith(b"host:"):
            host = line[5:].strip().decode()
    obj = writer.get_extra_info("ssl_object")
    body += "host=%s\nsni=%s\n" % (host, sni.pop(id(obj), "") if obj else "")
    writer.write(("HTTP/1.1 %s X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                  % (code, len(body), body)).encode())
    await writer.drain()

async def handle(reader, writer):
    m = mode()
    try:
        if m == "hang":
            await asyncio.sleep(600)
        elif m != "close":
            await respond(reader, writer, m)
    except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass

async def main():
    servers = [await asyncio.start_server(handle, h, port, ssl=ctx, backlog=1024)
               for h in ("127.0.0.1", "::1")]
    print("listening", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))

asyncio.run(main())
PY

# The gslbd stand-in: fakegslbd.py SOCKET LOG. Appends "CONN LINE" to LOG for
# each line received (CONN counts connections from 1, plus "CONN CONNECT" and
# "CONN CLOSED"), and replies as gslbd would: "OK gslbd 2" to HELLO, "OK" to
# MEMBER, SYNCED and PING, "ERR ..." to anything else.
cat >"$T/fakegslbd.py" <<'PY'
import asyncio, os, sys

path, log = sys.argv[1], sys.argv[2]
count = 0

def record(text):
    with open(log, "a") as f:
        f.write(text + "\n")

async def handle(reader, writer):
    global count
    count += 1
    me = count
    record("%d CONNECT" % me)
    while True:
        line = await reader.readline()
        if not line:
            break
        text = line.decode(errors="replace").rstrip("\n")
        record("%d %s" % (me, text))
        if text.startswith("HELLO "):
            writer.write(b"OK gslbd 2\n")
        elif text.split(" ")[0] in ("MEMBER", "SYNCED", "PING"):
            writer.write(b"OK\n")
        else:
            writer.write(b"ERR unknown request\n")
        await writer.drain()
    record("%d CLOSED" % me)

async def main():
    if os.path.exists(path):
        os.unlink(path)
    server = await asyncio.start_unix_server(handle, path)
    print("listening", flush=True)
    await server.serve_forever()

asyncio.run(main())
PY


# bg_stop PID: SIGTERM, wait (bounded), SIGKILL.
bg_stop() {
    gslbd_stop "$1"
}

now_ms() {
    date +%s%3N
}

# wait_for FILE REGEX SECONDS: poll every 0.1 s until FILE has a line matching REGEX.
# Sets WAITED_MS to how long it took; returns 1 on timeout.
wait_for() {
    local start
    start=$(now_ms)
    for _ in $(seq $(($3 * 10))); do
        if grep -Eq -- "$2" "$1" 2>/dev/null; then
            WAITED_MS=$(($(now_ms) - start))
            return 0
        fi
        sleep 0.1
    done
    WAITED_MS=$(($(now_ms) - start))
    return 1
}

# expect_line NAME FILE REGEX SECONDS: the line appears within SECONDS.
expect_line() {
    if wait_for "$2" "$3" "$4"; then
        e2e_ok "$1 (after ${WAITED_MS} ms)"
    else
        e2e_not_ok "$1" "no line matching: $3 within $4 s in $(basename "$2"); last lines:" \
            "$(tail -15 "$2" 2>/dev/null)"
    fi
}

# expect_count NAME FILE REGEX N SECONDS: at least N lines match within SECONDS.
expect_count() {
    local start got=0
    start=$(now_ms)
    for _ in $(seq $(($5 * 10))); do
        got=$(count_lines "$2" "$3")
        [ "$got" -ge "$4" ] && break
        sleep 0.1
    done
    WAITED_MS=$(($(now_ms) - start))
    if [ "$got" -ge "$4" ]; then
        e2e_ok "$1 (after ${WAITED_MS} ms)"
    else
        e2e_not_ok "$1" "$got lines matching $3, wanted $4, within $5 s; last lines:" \
            "$(tail -15 "$2")"
    fi
}

count_lines() {
    grep -Ec -- "$2" "$1" 2>/dev/null || true
}

set_mode() {
    printf '%s\n' "$2" >"$T/$1.mode"
}

# ------------------------------------------------------------------ set-up

HTTP_PORT=$(free_port)
HANG_PORT=$(free_port)
DRIP_PORT=$(free_port)
TLS_PORT=$(free_port)
SPARE_PORT=$(free_port)
CLOSED_PORT=$(free_port) # nothing listens here: connections are refused

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=www.test" \
    -addext "subjectAltName=DNS:www.test" -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null ||
    e2e_bail "self-signed certificate made" "openssl req failed"

set_mode http 200
set_mode hang hang
set_mode drip drip
set_mode tls 200
set_mode spare 200
bg_start be-http python3 "$T/backend.py" "$HTTP_PORT" "$T/http.mode"
bg_start be-hang python3 "$T/backend.py" "$HANG_PORT" "$T/hang.mode"
bg_start be-drip python3 "$T/backend.py" "$DRIP_PORT" "$T/drip.mode"
bg_start be-tls python3 "$T/backend.py" "$TLS_PORT" "$T/tls.mode" "$T/cert.pem" "$T/key.pem"
bg_start be-spare python3 "$T/backend.py" "$SPARE_PORT" "$T/spare.mode"

A_SOCK=$T/a.sock
B_SOCK=$T/b.sock
A_LOG=$T/a.lines
B_LOG=$T/b.lines
bg_start gslbd-a python3 "$T/fakegslbd.py" "$A_SOCK" "$A_LOG"
A_PID=$BG_PID
bg_start gslbd-b python3 "$T/fakegslbd.py" "$B_SOCK" "$B_LOG"

ZDIR=$T/zones
mkdir -p "$ZDIR"
ZF=$ZDIR/hc.test.yaml

# write_zone [EXTRA-REGION-LINE [TCP-POOL]]: the zone, one region per behaviour.
# Intervals are short so the test is quick.
TCP_POOL="[{address: 192.0.2.1, probe: \"127.0.0.1:$HTTP_PORT\"}, {address: 192.0.2.2, probe: \"[::1]:$CLOSED_PORT\"}]"
write_zone() {
    cat >"$ZF" <<YAML
zone: hc.test
soa: {mname: ns1.example.net, rname: hostmaster.example.net}
ns: [ns1.example.net]
regions:
  flip:   {location: [50, 0], pool: [127.0.0.1, "::1"], check: web}
  body:   {location: [50, 1], pool: [127.0.0.1], check: web-body}
  host:   {location: [50, 2], pool: [127.0.0.1], check: web-host}
  hang:   {location: [50, 3], pool: [127.0.0.1], check: hang}
  drip:   {location: [50, 4], pool: ["::1"], check: drip}
  closed: {location: [50, 5], pool: [127.0.0.1], check: closed}
  tls-off: {location: [50, 6], pool: [127.0.0.1], check: tls-off}
  tls-on:  {location: [50, 7], pool: ["::1"], check: tls-on}
  tcp:    {location: [50, 8], pool: ${2:-$TCP_POOL}, check: tcp}
  nocheck: {location: [50, 9], pool: [127.0.0.1]}
${1:-}
checks:
  web:      {type: http, port: $HTTP_PORT, path: /health, interval: 500ms, timeout: 300ms, rise: 2, fall: 2}
  web-body: {type: http, port: $HTTP_PORT, body: healthy, interval: 500ms, timeout: 300ms, rise: 2, fall: 2}
  web-host: {type: http, port: $HTTP_PORT, host: www.test, body: "host=www.test", interval: 1s, timeout: 500ms, rise: 1, fall: 1}
  hang:     {type: http, port: $HANG_PORT, interval: 1s, timeout: 500ms, rise: 1, fall: 2}
  drip:     {type: http, port: $DRIP_PORT, interval: 1s, timeout: 500ms, rise: 1, fall: 2}
  closed:   {type: http, port: $CLOSED_PORT, interval: 1s, timeout: 500ms, rise: 1, fall: 1}
  tls-off:  {type: https, port: $TLS_PORT, sni: www.test, tls_verify: false, body: "sni=www.test", interval: 1s, timeout: 500ms, rise: 1, fall: 1}
  tls-on:   {type: https, port: $TLS_PORT, host: www.test, tls_verify: true, interval: 1s, timeout: 500ms, rise: 1, fall: 1}
  tcp:      {type: tcp, port: 1, interval: 1s, timeout: 500ms, rise: 1, fall: 1}
  spare:    {type: http, port: $SPARE_PORT, interval: 500ms, timeout: 300ms, rise: 1, fall: 1}
services:
  www: {regions: [flip, body, host, hang, drip, closed, tls-off, tls-on, tcp, nocheck]}
YAML
}
write_zone ""
N_TARGETS=11

# ------------------------------------------------------------------ command line

out=$(timeout 10 "$HEALTHD" --zones "$ZF" 2>&1)
is "no --gslbd exits 2" 2 "$?"
like "no --gslbd says so" "at least one --gslbd" "$out"
BAD=$T/bad/hc.test.yaml
mkdir -p "$T/bad"
printf 'zone: hc.test\nbogus: 1\n' >"$BAD"
out=$(timeout 10 "$HEALTHD" --zones "$BAD" --gslbd "$A_SOCK" 2>&1)
is "a broken zone at start-up exits 1" 1 "$?"
like "start-up errors are file:line:col" "^$BAD:2:1: error: .*bogus" "$out"
like "--version names libcurl" "^healthd [0-9.]+ \(libcurl/" "$(timeout 10 "$HEALTHD" --version)"

# ------------------------------------------------------------------ start

GSLBD=$HEALTHD # gslbd_start from lib.sh starts whatever $GSLBD names
gslbd_start healthd --zones "$ZDIR" --gslbd "$A_SOCK" --gslbd "$B_SOCK" --verbose ||
    e2e_bail "healthd starts"
HD_PID=$GSLBD_PID
HD_LOG=$GSLBD_LOG
like "readiness line" \
    "^healthd: info: ready: probing $N_TARGETS targets in 1 zones, reporting to 2 gslbd$" \
    "$(grep 'ready:' "$HD_LOG")"

expect_line "gslbd A gets HELLO first" "$A_LOG" "^1 HELLO healthd 2$" 3
is "HELLO is the first line" "1 HELLO healthd 2" "$(sed -n 2p "$A_LOG")"
expect_line "gslbd A gets SYNCED with the smallest interval" "$A_LOG" "^1 SYNCED 500$" 3
expect_line "gslbd B gets HELLO and SYNCED too" "$B_LOG" "^1 SYNCED 500$" 3

# Transitions from unknown: rise 2 at 500 ms for flip; every first probe starts
# within one interval of start-up. Under a wrapper (valgrind) the first probes
# are slow enough to time out, so the first transitions get more time there.
# For the same reason a member may first go down for a timeout there, and a
# later failure for the real reason is no state change: the reason of those
# first down lines is only checked without a wrapper (see why() below).
W=3
[ -n "${GSLBD_WRAPPER:-}" ] && W=10
why() {
    if [ -n "${GSLBD_WRAPPER:-}" ]; then echo ".*"; else echo "$1"; fi
}
expect_line "flip 127.0.0.1 up within interval*(rise+1) + 1 s" "$A_LOG" \
    "^1 MEMBER hc.test flip 127.0.0.1 up reason=status 200$" $W
expect_line "flip ::1 up (IPv6 member)" "$A_LOG" "^1 MEMBER hc.test flip ::1 up reason=status 200$" $W
expect_line "body check up when the body holds the text" "$A_LOG" \
    "^1 MEMBER hc.test body 127.0.0.1 up reason=status 200$" $W
expect_line "Host header sent (host=www.test in the body)" "$A_LOG" \
    "^1 MEMBER hc.test host 127.0.0.1 up reason=status 200$" $W
expect_line "refused port is down: refused" "$A_LOG" \
    "^1 MEMBER hc.test closed 127.0.0.1 down reason=$(why refused)$" $W
expect_line "https with tls_verify false and SNI (sni=www.test in the body) is up" "$A_LOG" \
    "^1 MEMBER hc.test tls-off 127.0.0.1 up reason=status 200$" $W
expect_line "https with tls_verify true and a self-signed certificate is down: TLS error" \
    "$A_LOG" "^1 MEMBER hc.test tls-on ::1 down reason=$(why 'TLS error: .*self.signed')" $W
expect_line "tcp check up" "$A_LOG" "^1 MEMBER hc.test tcp 192.0.2.1 up reason=connected$" $W
expect_line "tcp check to a closed port: refused" "$A_LOG" \
    "^1 MEMBER hc.test tcp 192.0.2.2 down reason=$(why refused)$" $W
# Slow backends: fall 2 at 1 s with a 500 ms timeout: down by 2 intervals +
# timeout + 1 s after start.
expect_line "hanging backend down: timeout" "$A_LOG" "^1 MEMBER hc.test hang 127.0.0.1 down reason=timeout$" $((W + 1))
expect_line "dripping backend down: timeout" "$A_LOG" "^1 MEMBER hc.test drip ::1 down reason=timeout$" $((W + 1))
like "failed probes are logged at debug level with their reason" \
    "debug: hc.test hang 127.0.0.1: probe of 127.0.0.1:$HANG_PORT failed: timeout" "$(cat "$HD_LOG")"
like "state changes are logged at info level" \
    "info: hc.test closed 127.0.0.1: down \($(why refused), 1 failure\)" "$(cat "$HD_LOG")"
unlike "members of regions without a check are never reported" "nocheck" "$(cat "$A_LOG")"
if [ -z "${GSLBD_WRAPPER:-}" ]; then
    unlike "no probe was skipped for still running (timeouts fire before the next interval)" \
        "still running" "$(cat "$HD_LOG")"
fi

# ------------------------------------------------------------------ transitions

# Down: fall 2 at 500 ms = 1 s, plus up to one interval of phase, plus 1 s.
set_mode http 503
expect_line "503 turns flip 127.0.0.1 down within interval*fall + 1.5 s" "$A_LOG" \
    "^1 MEMBER hc.test flip 127.0.0.1 down reason=status 503$" 3
cmp_num "... and within 2.5 s" "$WAITED_MS" -le 2500
expect_line "the body check goes down too, for the status" "$A_LOG" \
    "^1 MEMBER hc.test body 127.0.0.1 down reason=status 503$" 3
expect_line "gslbd B gets the same change" "$B_LOG" \
    "^1 MEMBER hc.test flip 127.0.0.1 down reason=status 503$" 3
like "down logged with reason and count" \
    "info: hc.test flip 127.0.0.1: down \(status 503, 2 failures\)" "$(cat "$HD_LOG")"

set_mode http 200
expect_count "flip comes back up within interval*rise + 1.5 s" "$A_LOG" \
    "^1 MEMBER hc.test flip 127.0.0.1 up reason=status 200$" 2 3
cmp_num "... and within 2.5 s" "$WAITED_MS" -le 2500
expect_count "the body check comes back up" "$A_LOG" \
    "^1 MEMBER hc.test body 127.0.0.1 up reason=status 200$" 2 3

# Status 200 without the text: only the check with a body goes down.
set_mode http "body all fine"
expect_line "a body without the text: body mismatch" "$A_LOG" \
    "^1 MEMBER hc.test body 127.0.0.1 down reason=body mismatch$" 3
sleep 1
is "flip 127.0.0.1 reported up exactly twice so far" 2 \
    "$(count_lines "$A_LOG" '^1 MEMBER hc.test flip 127.0.0.1 up')"
is "a state is reported once, not on every probe" 1 \
    "$(count_lines "$A_LOG" '^1 MEMBER hc.test body 127.0.0.1 down reason=body mismatch')"

set_mode http 301
expect_line "a 3xx is not followed: status 301 is a failure" "$A_LOG" \
    "^1 MEMBER hc.test flip 127.0.0.1 down reason=status 301$" 3
set_mode http 200
expect_count "back up after 301" "$A_LOG" "^1 MEMBER hc.test flip 127.0.0.1 up reason=status 200$" 3 4
expect_count "the body check back up too" "$A_LOG" "^1 MEMBER hc.test body 127.0.0.1 up reason=status 200$" 3 4

pings=$(count_lines "$A_LOG" '^1 PING$')
sleep 2.2
cmp_num "a PING every second" $(($(count_lines "$A_LOG" '^1 PING$') - pings)) -ge 2

# ------------------------------------------------------------------ reconnection

bg_stop "$A_PID"
sleep 2.5
A2_LOG=$T/a2.lines
bg_start gslbd-a2 python3 "$T/fakegslbd.py" "$A_SOCK" "$A2_LOG"
A_PID=$BG_PID
expect_line "a restarted gslbd gets HELLO again" "$A2_LOG" "^1 HELLO healthd 2$" 3
expect_line "... then SYNCED" "$A2_LOG" "^1 SYNCED 500$" 3
is "the outage is logged once, not every second" 1 \
    "$(count_lines "$HD_LOG" "warning: gslbd $A_SOCK: ")"
like "the reconnection is logged" "gslbd $A_SOCK: connected again after" "$(cat "$HD_LOG")"
# The full state: every member with a known state, between HELLO and SYNCED.
sync=$(sed -n '/^1 HELLO/,/^1 SYNCED/p' "$A2_LOG" | grep '^1 MEMBER' | cut -d' ' -f2-6 | sort)
want=$(printf '%s\n' \
    "MEMBER hc.test body 127.0.0.1 up" "MEMBER hc.test closed 127.0.0.1 down" \
    "MEMBER hc.test drip ::1 down" "MEMBER hc.test flip 127.0.0.1 up" \
    "MEMBER hc.test flip ::1 up" "MEMBER hc.test hang 127.0.0.1 down" \
    "MEMBER hc.test host 127.0.0.1 up" "MEMBER hc.test tcp 192.0.2.1 up" \
    "MEMBER hc.test tcp 192.0.2.2 down" "MEMBER hc.test tls-off 127.0.0.1 up" \
    "MEMBER hc.test tls-on ::1 down" | sort)
is "the full state is sent again on reconnection" "$want" "$sync"
like "re-sent lines keep their reasons" "^1 MEMBER hc.test hang 127.0.0.1 down reason=timeout$" \
    "$(cat "$A2_LOG")"
like "... the latest one that agrees with the state" \
    "^1 MEMBER hc.test tls-on ::1 down reason=TLS error: .*self.signed" "$(cat "$A2_LOG")"
is "gslbd B never saw a second connection" 0 "$(count_lines "$B_LOG" '^2 ')"

# ------------------------------------------------------------------ reloads

up_before=$(count_lines "$A2_LOG" 'MEMBER hc.test flip 127.0.0.1 up')
# Add a region (a new target), drop the tcp region's second member.
write_zone "  spare:  {location: [51, 0], pool: [127.0.0.1], check: spare}" \
    "[{address: 192.0.2.1, probe: \"127.0.0.1:$HTTP_PORT\"}]"
expect_line "a changed zone file is reloaded without a signal" "$HD_LOG" \
    "reloaded: probing $N_TARGETS targets in 1 zones \(1 added, 1 removed, 10 kept\)" 4
expect_line "the new target reports within interval*rise + 1 s" "$A2_LOG" \
    "^1 MEMBER hc.test spare 127.0.0.1 up reason=status 200$" 3
sleep 1.2
is "kept targets keep their state: flip is not reported again" "$up_before" \
    "$(count_lines "$A2_LOG" 'MEMBER hc.test flip 127.0.0.1 up')"

cp "$ZF" "$T/good.yaml"
printf 'bogus: 1\n' >>"$ZF"
BAD_LINE=$(wc -l <"$ZF")
kill -HUP "$HD_PID"
expect_line "a broken reload prints file:line:col" "$HD_LOG" "^$ZF:$BAD_LINE:1: error: .*bogus" 4
expect_line "... and keeps the previous targets" "$HD_LOG" \
    "reload failed: still probing the previous $N_TARGETS targets" 3
set_mode spare 503
expect_line "targets are still probed after a failed reload" "$A2_LOG" \
    "^1 MEMBER hc.test spare 127.0.0.1 down reason=status 503$" 3
cp "$T/good.yaml" "$ZF"
expect_line "a fixed file reloads" "$HD_LOG" "\(0 added, 0 removed, $N_TARGETS kept\)" 4

# ------------------------------------------------------------------ a stalled loop

# Stopped for 1.5 s, healthd finds every timer late: probes that can no
# longer end before their next slot are skipped (and it says so), so a stall
# costs at most the one failure of a probe that was in flight.
flip_downs=$(count_lines "$A2_LOG" 'MEMBER hc.test flip 127.0.0.1 down')
kill -STOP "$HD_PID"
sleep 1.5
kill -CONT "$HD_PID"
expect_line "a stalled loop is reported" "$HD_LOG" "warning: probes run late .*skipping them" 3
sleep 2
is "a stall does not take fall-2 members down" "$flip_downs" \
    "$(count_lines "$A2_LOG" 'MEMBER hc.test flip 127.0.0.1 down')"

# ------------------------------------------------------------------ a starved loop

# Probes in flight while healthd gets no CPU: their replies arrive in time but
# wait unread, and curl would call them timeouts. Eight targets on a backend
# that answers in 1.2 s (timeout 1.5 s, interval 2 s) keep about five probes in
# flight at any moment, so each 1.6 s stall catches some. Those timeouts must
# not count: no member may go down, and healthd must say why.
SLOW_PORT=$(free_port)
set_mode slow "slow 1200"
bg_start be-slow python3 "$T/backend.py" "$SLOW_PORT" "$T/slow.mode"
S_SOCK=$T/s.sock
S_LOG=$T/s.lines
bg_start gslbd-s python3 "$T/fakegslbd.py" "$S_SOCK" "$S_LOG"
SDIR=$T/slowzone
mkdir -p "$SDIR"
{
    printf 'zone: slow.test\nsoa: {mname: ns.slow.test, rname: h.slow.test}\nns: [ns.slow.test]\n'
    printf 'records: {ns: {A: 192.0.2.1}}\nregions:\n'
    printf '  r: {location: [0, 0], check: slow, pool: ['
    for i in 1 2 3 4 5 6 7 8; do
        printf '%s{address: 192.0.2.%d, probe: "127.0.0.1:%s"}' "$([ $i = 1 ] || echo ', ')" \
            "$i" "$SLOW_PORT"
    done
    printf ']}\nchecks:\n'
    printf '  slow: {type: http, path: /health, interval: 2s, timeout: 1500ms, rise: 1, fall: 2}\n'
} >"$SDIR/slow.test.yaml"
gslbd_start healthd-slow --zones "$SDIR" --gslbd "$S_SOCK" ||
    e2e_bail "healthd starts for the starved-loop test" "see the log above"
SHD_PID=$GSLBD_PID
SHD_LOG=$GSLBD_LOG
expect_line "eight slow members come up" "$S_LOG" "MEMBER slow.test r 192.0.2.8 up" 6
sleep 1
for _ in 1 2 3; do
    kill -STOP "$SHD_PID"
    sleep 1.6
    kill -CONT "$SHD_PID"
    sleep 0.6
done
sleep 2.5
is "a starved loop takes no member down (timeouts across a stall are not counted)" 0 \
    "$(count_lines "$S_LOG" 'MEMBER slow.test r .* down')"
expect_line "a starved loop is reported" "$SHD_LOG" "warning: healthd was starved of CPU" 2
gslbd_stop "$SHD_PID"

# ------------------------------------------------------------------ stop

gslbd_stop "$HD_PID"
is "SIGTERM stops healthd with status 0" 0 "$GSLBD_STATUS"
like "stop is logged" "info: stopped$" "$(tail -1 "$HD_LOG")"
expect_line "gslbd sees the connection close" "$A2_LOG" "^1 CLOSED$" 5

e2e_finish
