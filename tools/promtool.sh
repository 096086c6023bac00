#!/bin/sh
# promtool.sh: print the path of a promtool, Prometheus's checker of rules and
# metrics, without installing the Prometheus server.
#
# A promtool on PATH is used as it is. Otherwise Debian's `prometheus` package
# (which ships promtool beside the server) is fetched with `apt-get download`
# and unpacked with `dpkg-deb -x` under build/promtool/ of this tree; nothing
# is installed and no service is started. The unpacked copy is the cache: once
# it is there the script only prints its path. Prints nothing on stdout but
# the path; says why on stderr and exits 1 when there is no promtool to be had.
#
# Usage: PROMTOOL=$(tools/promtool.sh) && "$PROMTOOL" check metrics < scrape.txt
set -eu

if p=$(command -v promtool 2>/dev/null); then
    echo "$p"
    exit 0
fi

root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/build/promtool"
bin="$dir/usr/bin/promtool"
if [ -x "$bin" ]; then
    echo "$bin"
    exit 0
fi

# Unpacked beside the cache, then moved into place in one rename, so a run
# that is cut off (or two at once) never leaves half a promtool behind.
mkdir -p "$root/build"
tmp=$(mktemp -d "$root/build/promtool.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log="$tmp/apt.log"

fetch() {
    (cd "$tmp" && apt-get download -q prometheus) >>"$log" 2>&1
}

# The package lists may be missing or stale on a fresh machine: refresh them
# once (root only) and try again.
if ! fetch; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq >>"$log" 2>&1 || true
    fi
    if ! fetch; then
        echo "promtool.sh: cannot download Debian's prometheus package:" >&2
        cat "$log" >&2
        exit 1
    fi
fi
mkdir "$tmp/x"
dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
if [ ! -x "$tmp/x/usr/bin/promtool" ]; then
    echo "promtool.sh: the prometheus package holds no usr/bin/promtool" >&2
    exit 1
fi
# Only promtool is kept: the server and its assets are of no use here.
mkdir -p "$tmp/keep/usr/bin"
mv "$tmp/x/usr/bin/promtool" "$tmp/keep/usr/bin/promtool"
if ! mv -T "$tmp/keep" "$dir" 2>/dev/null && [ ! -x "$bin" ]; then
    echo "promtool.sh: cannot move promtool into $dir" >&2
    exit 1
fi
echo "$bin"
