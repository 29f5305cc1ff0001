#!/bin/sh
# Install what scc needs on Debian 12, skipping packages that are already there.
# Usage: scripts/setup.sh [--test]   (--test adds what the test suite and benchmarks use)
set -eu

build_pkgs="build-essential cmake pkg-config libevent-dev libnghttp2-dev libssl-dev
libjansson-dev libsqlite3-dev libcmocka-dev iproute2 nftables"
test_pkgs="python3 openssl curl procps clang libclang-rt-14-dev valgrind tinyproxy-bin nmap
stunnel4 openssh-server openssh-client wrk hyperfine socat nodejs npm sqlite3"

want="$build_pkgs"
[ "${1:-}" = "--test" ] && want="$want $test_pkgs"

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
