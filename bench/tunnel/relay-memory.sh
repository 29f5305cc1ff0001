#!/bin/sh
# Relay memory per idle tunnel, and an idle agent's memory.
# Starts sccd, enrols N real scc-agent processes (default 1000), waits until
# all tunnels are up and idle (buffers given back 100 ms after their last byte), and reports
# sccd's resident and private memory before and after, per tunnel, and the
# idle agents' resident memory (min, median, max).
#
# usage: bench/tunnel/relay-memory.sh [BUILD_DIR] [N]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
n=${2:-1000}
bin=$build/src
work=$(mktemp -d /tmp/scc-mem.XXXXXX)
cleanup() {
    pkill -f "state-dir $work/" 2>/dev/null || true
    [ -n "${sccd:-}" ] && kill "$sccd" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
ulimit -n 65536 2>/dev/null || true

kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/$3"; }
report() {
    echo "$1: rss=$(kb "$2" VmRSS status) KiB private=$(($(kb "$2" Private_Clean smaps_rollup) + $(kb "$2" Private_Dirty smaps_rollup))) KiB"
}

"$bin/control/sccd" --data-dir "$work/d" --relay-listen 127.0.0.2:18443 --api-listen 127.0.0.1:18444 \
    --metrics-listen '' --max-handshakes 256 >"$work/sccd.log" 2>&1 &
sccd=$!
for _ in $(seq 50); do [ -S "$work/d/sccd.sock" ] && break; sleep 0.1; done
sleep 1
rss0=$(kb $sccd VmRSS status)
priv0=$(($(kb $sccd Private_Clean smaps_rollup) + $(kb $sccd Private_Dirty smaps_rollup)))
report "sccd before" $sccd

i=0
while [ $i -lt "$n" ]; do
    tok=$("$bin/cli/sccctl" --data-dir "$work/d" token create --workspace load --cluster c --node "n$i")
    "$bin/agent/scc-agent" --relay 127.0.0.2:18443 --ca "$work/d/pki/ca.crt" --join-token "$tok" \
        --state-dir "$work/a/$i" --log-level warn >/dev/null 2>&1 &
    i=$((i + 1))
done
t0=$(date +%s)
while :; do
    up=$("$bin/cli/sccctl" --data-dir "$work/d" --output json nodes | grep -c '"name"' || true)
    [ "$up" -ge "$n" ] && break
    [ $(($(date +%s) - t0)) -gt 300 ] && { echo "only $up of $n tunnels after 300 s"; exit 1; }
    sleep 2
done
echo "$n tunnels up after $(($(date +%s) - t0)) s; idling 30 s"
sleep 30
rss1=$(kb $sccd VmRSS status)
priv1=$(($(kb $sccd Private_Clean smaps_rollup) + $(kb $sccd Private_Dirty smaps_rollup)))
report "sccd with $n idle tunnels" $sccd
echo "per idle tunnel: rss $(( (rss1 - rss0) * 1024 / n )) bytes, private $(( (priv1 - priv0) * 1024 / n )) bytes"
a=$(pgrep -f "state-dir $work/a/7 " | head -1)
[ -n "$a" ] && report "one idle agent" "$a"
# Every agent, not only one: an agent whose pages came back would hide here.
for p in $(pgrep -f "state-dir $work/a/"); do kb "$p" VmRSS status; done | sort -n |
    awk '{a[NR]=$1} END {if (NR) printf "idle agents (%d): rss min %d, median %d, max %d KiB\n", NR, a[1], a[int((NR+1)/2)], a[NR]}'
