#!/usr/bin/env bash
# test_transport.sh: TCP connection handling, worker threads and bounded load.
#
# Pipelined and fragmented TCP queries (RFC 7766), the idle timeout
# (--tcp-timeout) and the connection cap (--tcp-max), and --threads 2 under a
# bounded parallel load over UDP and TCP. Every load here is bounded in count and
# in time and goes to 127.0.0.1 or ::1 only.
#
# Not here: the answers themselves (test_core.sh), reloads (test_reload.sh).

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

gslbd_require

ZDIR=$E2E_TMP/zones
mkdir -p "$ZDIR"
write_example_zone "$ZDIR/gslb.example.com.yaml"
PORT=$(free_port)
LISTEN=(--listen "127.0.0.1:$PORT" --listen "[::1]:$PORT")

# ------------------------------------------------------------------ pipelining

gslbd_start transport --zones "$ZDIR" "${LISTEN[@]}" ||
    e2e_bail "gslbd starts" "see the log above"

PIPE_WANT="answered=3 of 3
www.gslb.example.com/A: NOERROR www.gslb.example.com. 30 IN A 192.0.2.10
ns1.gslb.example.com/AAAA: NOERROR ns1.gslb.example.com. 300 IN AAAA 2001:db8:53::1
nope.gslb.example.com/A: NXDOMAIN "
for t in tcp4 tcp6; do
    dt "$t" pipeline www.gslb.example.com/A ns1.gslb.example.com/AAAA nope.gslb.example.com/A
    is "RFC 7766 s6.2.1.1: 3 queries in one write, 3 answers ($t)" "$PIPE_WANT" "$DT_OUT"
    dt "$t" pipeline --split www.gslb.example.com/A ns1.gslb.example.com/AAAA \
        nope.gslb.example.com/A
    is "RFC 7766 s8: queries sent a byte at a time are all answered ($t)" "$PIPE_WANT" "$DT_OUT"
    dt "$t" pipeline --shut-wr www.gslb.example.com/A ns1.gslb.example.com/AAAA \
        nope.gslb.example.com/A
    is "RFC 7766 s6.2.4: answers still sent after the client half-closes ($t)" \
        "$PIPE_WANT" "$DT_OUT"
done

# Fifty pipelined queries in one write: all answered, none lost or mixed up.
many=""
for _ in $(seq 50); do
    many="$many www.gslb.example.com/A"
done
# shellcheck disable=SC2086
dt tcp4 pipeline $many
is "RFC 7766 s6.2.1.1: 50 queries in one write, 50 answers" "answered=50 of 50|50" \
    "$(printf '%s\n' "$DT_OUT" | head -1)|$(printf '%s\n' "$DT_OUT" |
        grep -c '^www.gslb.example.com/A: NOERROR www.gslb.example.com. 30 IN A 192.0.2.10$')"

DIG_OUT=$(dig @127.0.0.1 -p "$PORT" +time=2 +tries=1 +tcp +keepopen \
    www.gslb.example.com A ns1.gslb.example.com AAAA ns2.gslb.example.com A 2>&1)
is "RFC 7766 s6.2.1: dig +keepopen: 3 answers on one connection" 3 \
    "$(printf '%s\n' "$DIG_OUT" | grep -c 'status: NOERROR')"

# A connection that stays open by default for at least a moment: RFC 7766 s6.2.3
# asks servers not to close before a client can send a second query.
dt tcp4 idle --query-first --max-wait 0.5
is "RFC 7766 s6.2.3: connection stays open after an answer (default timeout)" \
    still_open "$DT_OUT"
gslbd_stop

# ------------------------------------------------------------------ idle timeout

if gslbd_start tcp-timeout --zones "$ZDIR" "${LISTEN[@]}" --tcp-timeout 1; then
    e2e_ok "--tcp-timeout 1 accepted"
    for t in tcp4 tcp6; do
        dt "$t" idle --max-wait 5
        like "RFC 7766 s6.2.3: silent connection closed after ~1 s ($t)" \
            '^closed_after=(0\.[5-9]|1\.[0-9]|2\.[0-9])$' "$DT_OUT"
        dt "$t" idle --query-first --max-wait 5
        like "RFC 7766 s6.2.3: idle connection closed ~1 s after the last answer ($t)" \
            '^closed_after=(0\.[5-9]|1\.[0-9]|2\.[0-9])$' "$DT_OUT"
    done
    gslbd_stop
else
    e2e_not_ok "--tcp-timeout 1 accepted" "gslbd did not start with --tcp-timeout 1"
fi

# ------------------------------------------------------------------ connection cap

if gslbd_start tcp-max --zones "$ZDIR" "${LISTEN[@]}" --tcp-max 2; then
    e2e_ok "--tcp-max 2 accepted"
    dt tcp4 tcpmax --conns 6 --timeout 1
    live=$(printf '%s\n' "$DT_OUT" | sed -n 's/.*live=\([0-9]*\).*/\1/p')
    answered=$(printf '%s\n' "$DT_OUT" | sed -n 's/.*answered=\([0-9]*\).*/\1/p')
    cmp_num "RFC 7766 s6.2.2: at most 2 connections held open ($DT_OUT)" "$live" -le 2
    cmp_num "RFC 7766 s6.2.2: connections under the cap are served ($DT_OUT)" "$answered" -ge 1
    # Once the clients have gone the server must take new connections again.
    # Bounded: five tries of one second each.
    ok=""
    for _ in $(seq 5); do
        DIG_TIME=1 dq tcp4 www.gslb.example.com A
        [ "$(dig_get status)" = NOERROR ] && ok=1 && break
    done
    is "RFC 7766 s6.2.2: new TCP connection served after the others closed" 1 "$ok"
    dq udp4 www.gslb.example.com A
    is "UDP unaffected by the TCP cap" NOERROR "$(dig_get status)"
    gslbd_stop
else
    e2e_not_ok "--tcp-max 2 accepted" "gslbd did not start with --tcp-max 2"
fi

# ------------------------------------------------------------------ threads

if gslbd_start threads --zones "$ZDIR" "${LISTEN[@]}" --threads 2; then
    e2e_ok "--threads 2 starts"
    dt udp4 load --count 2000 --parallel 4 --deadline 30 --timeout 1 --expect 192.0.2.10
    like "--threads 2: 2000 UDP queries from 4 clients, none lost or wrong" \
        '^sent=2000 answered=2000 lost=0 wrong=0 ' "$DT_OUT"
    dt udp6 load --count 1000 --parallel 4 --deadline 30 --timeout 1 --expect 192.0.2.10
    like "--threads 2: 1000 UDP queries over ::1, none lost or wrong" \
        '^sent=1000 answered=1000 lost=0 wrong=0 ' "$DT_OUT"
    dt tcp4 load --count 1000 --parallel 4 --deadline 30 --timeout 2 --expect 192.0.2.10
    like "--threads 2: 1000 TCP queries on 4 connections, none lost or wrong" \
        '^sent=1000 answered=1000 lost=0 wrong=0 ' "$DT_OUT"
    dt tcp4 load --type AAAA --count 400 --parallel 4 --deadline 30 --timeout 2 \
        --expect 2001:db8:10::10
    like "--threads 2: AAAA over TCP, none lost or wrong" \
        '^sent=400 answered=400 lost=0 wrong=0 ' "$DT_OUT"
    gslbd_stop
    is "--threads 2: SIGTERM exits 0" 0 "$GSLBD_STATUS"
else
    e2e_not_ok "--threads 2 starts" "gslbd did not start with --threads 2"
fi

e2e_finish
