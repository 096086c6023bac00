#!/usr/bin/env bash
# test_reload.sh: zone loading, --check, reloads and reloads under load.
#
# --check on good and broken files (exit status, file:line:column messages),
# start-up with a broken file, SIGHUP reloads, a broken zone on reload keeping the
# old answers, zone-file changes picked up without a signal, zones added to and
# removed from a directory, and a bounded query load with SIGHUPs in between that
# must lose no query. Traffic goes to 127.0.0.1 and ::1 only.
#
# Not here: protocol details of the answers (test_core.py).

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

gslbd_require

ZDIR=$E2E_TMP/zones
mkdir -p "$ZDIR"
ZF=$ZDIR/gslb.example.com.yaml
write_example_zone "$ZF"
PORT=$(free_port)
LISTEN=(--listen "127.0.0.1:$PORT" --listen "[::1]:$PORT")

# zone_with_ns2 ADDR: the example zone with ns2's address changed, on stdout.
zone_with_ns2() {
    write_example_zone "$E2E_TMP/base.yaml"
    sed "s/^  ns2: {A: 203.0.113.53}/  ns2: {A: $1}/" "$E2E_TMP/base.yaml"
}

# ns2_now [TRANSPORT]: the A record of ns2 as served now.
ns2_now() {
    dq "${1:-udp4}" +short ns2.gslb.example.com A
    printf '%s\n' "$DIG_OUT"
}

# wait_ns2 ADDR SECONDS: poll (every 0.1 s, bounded) until ns2 answers ADDR.
wait_ns2() {
    for _ in $(seq $(($2 * 10))); do
        [ "$(ns2_now)" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# serial_now: the SOA serial served now.
serial_now() {
    dq udp4 +short gslb.example.com SOA
    printf '%s\n' "$DIG_OUT" | awk '{print $3}'
}

# run_check FILE: gslbd --check; sets CHECK_STATUS and CHECK_OUT (stdout + stderr).
run_check() {
    CHECK_OUT=$(timeout 20 "$GSLBD" --zones "$1" --check 2>&1)
    CHECK_STATUS=$?
}

# ------------------------------------------------------------------ --check

run_check "$ZF"
is "--check on a good file exits 0" 0 "$CHECK_STATUS"
run_check "$ZDIR"
is "--check on a good directory exits 0" 0 "$CHECK_STATUS"
if [ -d "$E2E_ROOT/zones/examples" ]; then
    run_check "$E2E_ROOT/zones/examples"
    is "--check on the shipped zones/examples exits 0" 0 "$CHECK_STATUS"
    [ "$CHECK_STATUS" -eq 0 ] || printf '%s\n' "$CHECK_OUT" | sed 's/^/#   /'
else
    e2e_not_ok "zones/examples exists"
fi

BAD=$E2E_TMP/bad/gslb.example.com.yaml
mkdir -p "$(dirname "$BAD")"
write_example_zone "$BAD"
echo "bogus: 1" >>"$BAD"
BAD_LINE=$(wc -l <"$BAD")
run_check "$BAD"
is "--check on a file with an unknown key exits 1" 1 "$CHECK_STATUS"
like "--check names file:line:column of the unknown key" \
    "^$BAD:$BAD_LINE:1: error: .*bogus" "$CHECK_OUT"

# Every error in the file is reported, not just the first (STYLE.md, like NSD).
BAD2=$E2E_TMP/bad/two.yaml
write_example_zone "$E2E_TMP/base.yaml"
sed -e 's/^  us-east:  {location: \[39.04, -77.49\], weight: 100,/  us-east:  {location: [39.04, -77.49], weight: -1,/' \
    -e 's/^  www: {regions: \[us-east, eu-west, ap-south\]/  www: {regions: [us-east, eu-west, nowhere]/' \
    "$E2E_TMP/base.yaml" >"$BAD2"
echo "bogus: 1" >>"$BAD2"
W_LINE=$(grep -n 'weight: -1' "$BAD2" | cut -d: -f1)
S_LINE=$(grep -n 'nowhere' "$BAD2" | cut -d: -f1)
run_check "$BAD2"
is "--check with three errors exits 1" 1 "$CHECK_STATUS"
like "--check reports the weight out of range at its line" \
    "^$BAD2:$W_LINE:[0-9]+: error: .*weight" "$CHECK_OUT"
like "--check reports the undefined region at the service's line" \
    "^$BAD2:$S_LINE:[0-9]+: error: .*nowhere" "$CHECK_OUT"
like "--check reports the unknown key too" "^$BAD2:$(wc -l <"$BAD2"):1: error: .*bogus" \
    "$CHECK_OUT"

BAD3=$E2E_TMP/bad/syntax.yaml
printf 'zone: gslb.example.com\nttl: 300\nns: [ns1.gslb.example.com\n' >"$BAD3"
run_check "$BAD3"
is "--check on broken YAML exits 1" 1 "$CHECK_STATUS"
like "--check on broken YAML gives file:line:column" "^$BAD3:[0-9]+:[0-9]+: error: " "$CHECK_OUT"

run_check "$E2E_TMP/does-not-exist.yaml"
is "--check on a missing file exits 1" 1 "$CHECK_STATUS"

# ------------------------------------------------------------------ broken start-up

OUT=$(timeout 20 "$GSLBD" --zones "$BAD" "${LISTEN[@]}" 2>&1)
st=$?
cmp_num "start-up with a broken zone exits non-zero (status $st)" "$st" -ne 0
cmp_num "start-up with a broken zone does not hang (status $st)" "$st" -ne 124
unlike "start-up with a broken zone never reports ready" 'ready:' "$OUT"
like "start-up with a broken zone logs file:line:column" "^$BAD:$BAD_LINE:1: error: " "$OUT"

# ------------------------------------------------------------------ SIGHUP

gslbd_start reload --zones "$ZDIR" "${LISTEN[@]}" || e2e_bail "gslbd starts" "see the log above"
e2e_ok "gslbd starts"
is "before reload: ns2 A" 203.0.113.53 "$(ns2_now)"
serial1=$(serial_now)

zone_with_ns2 203.0.113.54 >"$ZF"
kill -HUP "$GSLBD_PID"
wait_ns2 203.0.113.54 3
is "SIGHUP: changed record served within 3 s (udp4)" 203.0.113.54 "$(ns2_now)"
is "SIGHUP: changed record served (tcp6)" 203.0.113.54 "$(ns2_now tcp6)"
serial2=$(serial_now)
cmp_num "RFC 1982: SOA serial increases on reload ($serial1 -> $serial2)" \
    "$serial2" -gt "$serial1"

# A broken file on reload: the old zone keeps serving, the error is logged.
zone_with_ns2 203.0.113.99 >"$ZF"
echo "bogus: 1" >>"$ZF"
ZF_LINE=$(wc -l <"$ZF")
kill -HUP "$GSLBD_PID"
if log_wait "$ZF:$ZF_LINE:1: error: " 3; then
    e2e_ok "broken reload logs $ZF:$ZF_LINE:1: error:"
else
    e2e_not_ok "broken reload logs $ZF:$ZF_LINE:1: error:" "log:" "$(cat "$GSLBD_LOG")"
fi
sleep 0.5
is "broken reload keeps the old answer" 203.0.113.54 "$(ns2_now)"
is "broken reload keeps the old SOA serial" "$serial2" "$(serial_now)"
dq tcp4 www.gslb.example.com A
is "broken reload: service still answered" "NOERROR|qr aa rd|1" \
    "$(dig_get status)|$(dig_get flags)|$(dig_get ANSWER)"

zone_with_ns2 203.0.113.55 >"$ZF"
kill -HUP "$GSLBD_PID"
wait_ns2 203.0.113.55 3
is "reload after fixing the file serves the fix" 203.0.113.55 "$(ns2_now)"

# ------------------------------------------------------------------ without a signal

# Let the file's modification time move on before the unsignalled edits.
sleep 1.1
zone_with_ns2 203.0.113.56 >"$ZF"
if wait_ns2 203.0.113.56 4; then
    e2e_ok "file rewritten in place: change picked up without SIGHUP"
else
    e2e_not_ok "file rewritten in place: change picked up without SIGHUP" \
        "ns2 still $(ns2_now) after 4 s"
fi

sleep 1.1
zone_with_ns2 203.0.113.57 >"$ZDIR/.tmp-edit"
mv "$ZDIR/.tmp-edit" "$ZF"
if wait_ns2 203.0.113.57 4; then
    e2e_ok "file replaced by rename: change picked up without SIGHUP"
else
    e2e_not_ok "file replaced by rename: change picked up without SIGHUP" \
        "ns2 still $(ns2_now) after 4 s"
fi

# ------------------------------------------------------------------ zones come and go

cat >"$ZDIR/added.example.net.yaml" <<'EOF'
zone: added.example.net
ttl: 60
soa: {mname: ns1.added.example.net, rname: hostmaster.example.net, refresh: 3600, retry: 600, expire: 604800, minimum: 60}
ns: [ns1.added.example.net]
records:
  ns1: {A: 192.0.2.153}
EOF
kill -HUP "$GSLBD_PID"
for _ in $(seq 30); do
    dq udp4 ns1.added.example.net A
    [ "$(dig_get status)" = NOERROR ] && break
    sleep 0.1
done
is "zone file added to the directory served after SIGHUP" "NOERROR|qr aa rd|1" \
    "$(dig_get status)|$(dig_get flags)|$(dig_get ANSWER)"

rm "$ZDIR/added.example.net.yaml"
kill -HUP "$GSLBD_PID"
for _ in $(seq 30); do
    dq udp4 ns1.added.example.net A
    [ "$(dig_get status)" = REFUSED ] && break
    sleep 0.1
done
is "zone file removed from the directory: REFUSED after SIGHUP" REFUSED "$(dig_get status)"
is "the other zone still served" 203.0.113.57 "$(ns2_now)"

# ------------------------------------------------------------------ reload under load

# One client asks 2000 questions back to back and sends SIGHUP every 200 of them;
# every question must get the right answer (the swap loses nothing).
log_before=$(wc -l <"$GSLBD_LOG")
dt udp4 load --count 2000 --timeout 1 --deadline 60 --expect 192.0.2.10 \
    --hup-pid "$GSLBD_PID" --hup-every 200
like "reload under UDP load: 2000 sent, 10 SIGHUPs, none lost or wrong" \
    '^sent=2000 answered=2000 lost=0 wrong=0 hups=10 ' "$DT_OUT"
dt tcp4 load --count 600 --timeout 2 --deadline 60 --expect 192.0.2.10 \
    --hup-pid "$GSLBD_PID" --hup-every 60
like "reload under TCP load: 600 sent on one connection, 10 SIGHUPs, none lost" \
    '^sent=600 answered=600 lost=0 wrong=0 hups=10 ' "$DT_OUT"
dt udp6 load --count 1000 --parallel 2 --timeout 1 --deadline 60 --type AAAA \
    --expect 2001:db8:10::10 --hup-pid "$GSLBD_PID" --hup-every 50
like "reload under UDP load from 2 clients over ::1: none lost or wrong" \
    '^sent=1000 answered=1000 lost=0 wrong=0 hups=10 ' "$DT_OUT"
is "after the reloads: still serving the latest file" 203.0.113.57 "$(ns2_now)"
unlike "no error logged during the reloads under load" \
    'error|AddressSanitizer|runtime error' "$(tail -n +$((log_before + 1)) "$GSLBD_LOG")"

gslbd_stop
is "SIGTERM after the reloads exits 0" 0 "$GSLBD_STATUS"

e2e_finish
