#!/bin/sh
# memcpy GB/s by destination offset in a cache line, glibc's default against
# rep movsb turned off (what src/common/cputune.c sets on AMD processors).
# usage: bench/tunnel/copyalign.sh [SIZE]   (default 16384, one TLS record)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(mktemp /tmp/copyalign.XXXXXX)
trap 'rm -f "$bin"' EXIT INT TERM
cc -O2 -o "$bin" "$root/bench/tunnel/copyalign.c"
size=${1:-16384}
"$bin" "$size" >"$bin.default"
GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=1073741824 "$bin" "$size" >"$bin.tuned"
printf '| destination offset | glibc default GB/s | rep movsb off GB/s |\n|---|---|---|\n'
paste "$bin.default" "$bin.tuned" | awk '{printf "| %s | %s | %s |\n", $1, $2, $4}'
rm -f "$bin.default" "$bin.tuned"
