#!/bin/sh
# gslb demo: serve the example zone on loopback and show what dig sees.
# Started by `make demo`; stops with Ctrl-C (or at once without a terminal).
set -eu
cd "$(dirname "$0")/.."
PORT=${GSLB_DEMO_PORT:-5353}
ZONE=zones/examples/gslb.example.com.yaml
LOG=$(mktemp)

bin/gslbd --zones "$ZONE" --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" 2>"$LOG" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -f "$LOG"' EXIT INT TERM
i=0
until grep -q 'ready:' "$LOG"; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 $PID 2>/dev/null; then
        cat "$LOG"
        echo "demo: gslbd did not start" >&2
        exit 1
    fi
    sleep 0.1
done
cat "$LOG"

show() {
    echo
    echo "\$ $*"
    "$@" || true
}
show dig @127.0.0.1 -p "$PORT" www.gslb.example.com +norec +noall +answer
show dig @::1 -p "$PORT" www.gslb.example.com AAAA +norec +noall +answer
show dig @127.0.0.1 -p "$PORT" docs.gslb.example.com +norec +noall +answer
show dig @127.0.0.1 -p "$PORT" gslb.example.com NS +norec +noall +answer +additional
show dig @127.0.0.1 -p "$PORT" nothere.gslb.example.com +norec +noall +comments +authority
show dig @127.0.0.1 -p "$PORT" www.gslb.example.com +tcp +norec +short

echo
if [ -t 0 ]; then
    echo "gslbd is serving on 127.0.0.1:$PORT and [::1]:$PORT; try your own dig queries."
    echo "Edit $ZONE and save: the change is live at once. Ctrl-C stops."
    wait $PID
else
    echo "demo: done (no terminal, so not waiting for Ctrl-C)"
fi
