#!/bin/sh
# Install what scc needs on Debian 12, skipping packages that are already there.
# Usage: scripts/setup.sh [--test]   (--test adds what the test suite and benchmarks use)
set -eu

build_pkgs="build-essential cmake pkg-config libevent-dev libnghttp2-dev libssl-dev
libjansson-dev libsqlite3-dev libcmocka-dev libcurl4-openssl-dev iproute2 nftables tzdata"
test_pkgs="python3 openssl curl procps clang libclang-rt-14-dev valgrind tinyproxy-bin nmap
stunnel4 openssh-server openssh-client wrk hyperfine socat sqlite3 strace systemd chromium"

want="$build_pkgs"
if [ "${1:-}" = "--test" ]; then
    want="$want $test_pkgs"
    # A Node.js that is already there (NodeSource's bundles npm and
    # conflicts with Debian's npm package) is used as it is.
    command -v node >/dev/null && command -v npm >/dev/null || want="$want nodejs npm"
fi

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

# The Azure and Databricks SDK clients the API tests drive and the browser
# driver of the console test (versions pinned by the lock files); fetched
# here, with the network, not while tests run.
if [ "${1:-}" = "--test" ]; then
    for dir in sdk dbx-sdk browser; do
        d="$(dirname "$0")/../tests/$dir"
        if ! cmp -s "$d/package-lock.json" "$d/node_modules/.scc-installed-lock" 2>/dev/null; then
            echo "setup: npm ci in tests/$dir"
            (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null &&
                cp package-lock.json node_modules/.scc-installed-lock)
        fi
    done
fi
