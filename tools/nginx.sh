# shellcheck shell=bash disable=SC2034
# nginx.sh: real nginx web servers standing in for regional balancers (sourced, never run).
#
# Sourced by tools/demo.sh and bench/healthd-scale. The end-to-end tests start the same
# instances from Python (tests/e2e/gslbtest, class Nginx): keep the two configurations
# alike.
#
# Each instance is one nginx process of its own: its own directory (configuration, pid
# file, error and access logs, temporary files), listening on 127.0.0.1 on a free port,
# with two locations:
#   /health   503 while the file DIR/down exists, 200 otherwise (what healthd probes)
#   /         a page naming the instance ("region eu-west")
# It runs in the foreground (daemon off) as a single process (master_process off), put in
# the background by the shell, so one process id stops it, and nothing changes users or
# writes outside its directory. The system's nginx (/etc/nginx, port 80, its service) is
# neither read nor touched: every path comes from the configuration written here.
#
#   nginx_start NAME     start an instance; sets NGINX_PORT (and NGINX_PORT_<NAME> with
#                        "-" as "_"), returns non-zero when it does not serve within 5 s
#   nginx_port NAME      print an instance's port
#   nginx_dir NAME       print an instance's directory
#   nginx_fail NAME      make its /health answer 503 (creates DIR/down)
#   nginx_heal NAME      make its /health answer 200 again
#   nginx_health NAME    print the status code its /health answers now (000: no answer)
#   nginx_stop NAME      stop one instance (SIGTERM, SIGKILL after 3 s)
#   nginx_stop_all       stop every instance started here; put it in the caller's EXIT trap
#
# NGINX_BASE is where the instance directories go (default: a new directory under
# TMPDIR, which nginx_stop_all removes). It needs nginx, python3 (to find a free port)
# and curl. Only 127.0.0.1 is ever listened on or connected to; every wait is bounded.

NGINX=${NGINX:-$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)}
NGINX_BASE=${NGINX_BASE:-}
NGINX_OWN_BASE=""
NGINX_NAMES=""
NGINX_PORT=""

# nginx_var NAME: the shell variable suffix for an instance name ("eu-west" -> "eu_west").
nginx_var() {
    printf '%s' "$1" | tr -c 'A-Za-z0-9_' '_'
}

nginx_dir() {
    printf '%s/%s\n' "$NGINX_BASE" "$1"
}

nginx_port() {
    local v
    v=NGINX_PORT_$(nginx_var "$1")
    printf '%s\n' "${!v:-}"
}

# nginx_free_port: a TCP port nothing listens on at 127.0.0.1 now (the kernel's choice).
nginx_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# nginx_conf NAME DIR PORT: the configuration of one instance, on stdout.
nginx_conf() {
    local name=$1 dir=$2 port=$3
    cat <<EOF
# nginx for the gslb region "$name": written by tools/nginx.sh, stopped by it too.
daemon off;
master_process off;
worker_processes 1;
pid "$dir/nginx.pid";
error_log "$dir/error.log" notice;

events {
    worker_connections 128;
}

http {
    access_log "$dir/access.log";
    default_type text/plain;
    client_body_temp_path "$dir/tmp/body";
    proxy_temp_path "$dir/tmp/proxy";
    fastcgi_temp_path "$dir/tmp/fastcgi";
    uwsgi_temp_path "$dir/tmp/uwsgi";
    scgi_temp_path "$dir/tmp/scgi";

    server {
        listen 127.0.0.1:$port;
        server_name $name;

        # The health check: failing while the down file exists (nginx_fail / nginx_heal).
        location = /health {
            if (-f "$dir/down") {
                return 503 "$name: down\n";
            }
            return 200 "$name: ok\n";
        }

        location / {
            return 200 "region $name\n";
        }
    }
}
EOF
}

# nginx_launch NAME DIR PORT: start nginx on PORT and wait (at most 5 s) until /health
# answers. Returns non-zero when nginx exits first (the port was taken since it was
# picked, say) or never answers. Sets NGINX_PID.
nginx_launch() {
    local name=$1 dir=$2 port=$3 code
    nginx_conf "$name" "$dir" "$port" >"$dir/nginx.conf"
    # -e: nginx's own start-up messages go to the instance's log, not to our stderr.
    "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" </dev/null \
        >"$dir/nginx.out" 2>&1 &
    NGINX_PID=$!
    for _ in $(seq 50); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
            "http://127.0.0.1:$port/health" 2>/dev/null)
        if [ "$code" = 200 ] || [ "$code" = 503 ]; then
            # The answer must come from this instance, not one that took the port.
            kill -0 "$NGINX_PID" 2>/dev/null && return 0
        fi
        if ! kill -0 "$NGINX_PID" 2>/dev/null; then
            wait "$NGINX_PID" 2>/dev/null
            return 1
        fi
        sleep 0.1
    done
    nginx_kill "$NGINX_PID"
    return 1
}

# nginx_kill PID: SIGTERM, then SIGKILL when it is still there after 3 s; reaps it.
nginx_kill() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 30); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

nginx_start() {
    local name=$1 dir port v attempt
    if [ -z "$NGINX_BASE" ]; then
        NGINX_BASE=$(mktemp -d "${TMPDIR:-/tmp}/gslb-nginx.XXXXXX") || return 1
        NGINX_OWN_BASE=$NGINX_BASE
    fi
    if [ ! -x "$NGINX" ]; then
        echo "nginx.sh: no nginx at $NGINX (apt-get install nginx, or make deps)" >&2
        return 1
    fi
    dir=$(nginx_dir "$name")
    mkdir -p "$dir/tmp" || return 1
    rm -f "$dir/down"
    # A port picked free may be taken before nginx binds it: try a few.
    for attempt in 1 2 3 4 5; do
        port=$(nginx_free_port) || return 1
        if nginx_launch "$name" "$dir" "$port"; then
            v=$(nginx_var "$name")
            printf -v "NGINX_PORT_$v" '%s' "$port"
            printf -v "NGINX_PID_$v" '%s' "$NGINX_PID"
            NGINX_PORT=$port
            NGINX_NAMES="$NGINX_NAMES $name"
            return 0
        fi
    done
    echo "nginx.sh: nginx '$name' did not start after $attempt attempts; its log:" >&2
    cat "$dir/nginx.out" "$dir/error.log" 2>/dev/null | tail -20 | sed 's/^/  /' >&2
    return 1
}

nginx_fail() {
    : >"$(nginx_dir "$1")/down"
}

nginx_heal() {
    rm -f "$(nginx_dir "$1")/down"
}

nginx_health() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        "http://127.0.0.1:$(nginx_port "$1")/health" 2>/dev/null
    echo
}

nginx_stop() {
    local v pid
    v=NGINX_PID_$(nginx_var "$1")
    pid=${!v:-}
    [ -n "$pid" ] || return 0
    nginx_kill "$pid"
    printf -v "$v" '%s' ""
}

nginx_stop_all() {
    local name
    for name in $NGINX_NAMES; do
        nginx_stop "$name"
    done
    NGINX_NAMES=""
    if [ -n "$NGINX_OWN_BASE" ] && [ -z "${E2E_KEEP:-}" ]; then
        rm -rf "$NGINX_OWN_BASE"
        NGINX_OWN_BASE=""
        NGINX_BASE=""
    fi
}
