#!/bin/sh
# Install the Debian 12 packages shelter-gateway needs to build, test and run
# the demo, if any is missing (systemd and man-db: the tests verify the unit
# with systemd-analyze and lint the man pages; procps: pgrep in the demo
# test; libssl-dev: `--check` parses certificates and keys with OpenSSL's
# libcrypto, the library Paho already links; sqlite3: make soak reads the
# outbox; clang-format: make check fails on unformatted C; libmicrohttpd:
# shelter-notify's ack pages and the test stand-ins of the WeCom and DingTalk
# robots; chromium, chromium-driver and a CJK font: the ack page and
# shelter-report's HTML are tested in headless Chromium; python3: the
# report test's InfluxDB 2.x stand-in; debhelper, dpkg-dev, lintian: make
# deb and its test in make check).  Runs
# `apt-get update` once, then one install.  `deps.sh fuzz` adds clang and its libFuzzer and
# sanitizer runtimes, for `make fuzz` only.  `deps.sh ARCH` (arm64) adds
# Debian's cross toolchain, pkgconf:ARCH (ARCH-linux-gnu-pkg-config) and
# the ARCH -dev libraries, for
# `make ARCH=arm64` and `make deb ARCH=arm64` (dpkg --add-architecture
# first: apt then also fetches that architecture's package lists).
set -e
PKGS="build-essential pkg-config libmodbus-dev libpaho-mqtt-dev libsqlite3-dev
libcjson-dev libinih-dev libcurl4-openssl-dev libsystemd-dev libssl-dev check
mosquitto mosquitto-clients influxdb socat curl openssl jq
systemd man-db procps sqlite3 clang-format debhelper dpkg-dev lintian
libmicrohttpd-dev chromium chromium-driver fonts-wqy-microhei python3"
# The libraries the programs link, for a cross build: the -dev packages of
# debian/control's Build-Depends (the one list of them).
LIBS=$(sed -n '/^Build-Depends:/,/^[A-Z][A-Za-z-]*: /p' "$(dirname "$0")/../debian/control" |
	grep -o '[a-z0-9][a-z0-9.+-]*-dev')
arch=""
case "${1:-}" in
fuzz) PKGS="$PKGS clang libclang-rt-14-dev" ;;
"" | "$(dpkg --print-architecture)") ;;
*)
	arch=$1
	PKGS="$PKGS crossbuild-essential-$arch pkgconf:$arch"
	for l in $LIBS; do PKGS="$PKGS $l:$arch"; done
	;;
esac
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ -n "$arch" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
	$SUDO dpkg --add-architecture "$arch"
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing missing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
