#!/bin/sh
# Install the Debian packages gslb builds, tests and demos with, when missing.
# Quiet and fast when everything is there; needs root (or sudo) otherwise.
# `tools/deps.sh analyze` adds the static analysers (make analyze); the
# libraries come too, since the analysis compiles every file.
set -eu
PKGS="build-essential pkg-config libldns-dev libuv1-dev libmaxminddb-dev libyaml-dev
libcriterion-dev libcurl4-openssl-dev libsystemd-dev openssl dnsutils ldnsutils mmdb-bin libmaxmind-db-writer-perl tor-geoipdb tzdata
unicode-cldr-core iproute2 procps util-linux python3 python3-dnspython zonemaster-cli dnsviz nginx curl
dnsperf"
if [ "${1:-}" = analyze ]; then
    PKGS="$PKGS cppcheck clang clang-tools"
fi
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
