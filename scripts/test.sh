#!/bin/sh
# Install what is missing, build, and run every test: the default (debug)
# build, the same suite under AddressSanitizer and UBSan, the unit tests
# under valgrind, and each libFuzzer target for a few seconds.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

scripts/setup.sh --test

echo "== debug build and tests"
cmake --preset debug >/dev/null
cmake --build --preset debug -j"$jobs"
ctest --preset debug -j"$jobs"

echo "== ASan + UBSan build and tests"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --preset asan -j"$jobs"

echo "== unit tests under valgrind"
for t in build/debug/tests/unit/test_*; do
    [ -x "$t" ] || continue
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        "$t" >/dev/null 2>"build/debug/$(basename "$t").valgrind" ||
        { cat "build/debug/$(basename "$t").valgrind"; echo "valgrind: $t failed"; exit 1; }
done

echo "== fuzz targets (libFuzzer, a few seconds each)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$jobs"
for f in build/fuzz/fuzz/fuzz_*; do
    name=$(basename "$f" | sed 's/^fuzz_//')
    work=$(mktemp -d)
    cp fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
    "$f" -max_total_time="${SCC_FUZZ_SECONDS:-8}" -rss_limit_mb=2048 "$work" >"$work.log" 2>&1 ||
        { tail -50 "$work.log"; echo "fuzz: $name found a crash"; exit 1; }
    rm -rf "$work" "$work.log"
done
echo "== all tests passed"
