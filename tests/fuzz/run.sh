#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A short run of every libFuzzer target (docs/fuzzing.md), as part of the test
# suite: builds them with clang in a build tree of their own (the normal build
# stays gcc), then runs each over its committed seeds and crash inputs
# (fuzz/corpus/NAME, fuzz/regress/NAME) for TT_FUZZ_SECONDS (default 20), two at
# a time. Any crash, leak, sanitizer report or hang fails the target. Results are
# automake .trs/.log files in BUILDDIR/tests/fuzz/, counted by scripts/test.sh.
# Without clang and libFuzzer the targets are skipped, except in CI (CI=true),
# where that is a failure.
#   usage: tests/fuzz/run.sh [BUILDDIR]   (default: build-fuzz beside the sources)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$src/build-fuzz}
mkdir -p "$B"
B=$(cd "$B" && pwd)
secs=${TT_FUZZ_SECONDS:-20}
jobs=${TT_FUZZ_JOBS:-2}
out=$B/tests/fuzz
# leaks in libcrypto's and tss2's process-wide caches are not ours
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
mkdir -p "$out"
rm -f "$out"/*.trs "$out"/*.log

# automake's .trs for one target (scripts/test.sh counts them)
trs() { # name PASS|FAIL|SKIP
    printf ':test-result: %s\n:global-test-result: %s\n:recheck: %s\n:copy-in-global-log: yes\n' \
        "$2" "$2" "$([ "$2" = PASS ] && echo no || echo yes)" >"$out/$1.trs"
}
# the whole run cannot start: one result for it
cannot() {
    local r=SKIP
    [ "${CI:-}" = true ] && r=FAIL
    trs fuzz-build $r
    echo "$1" >"$out/fuzz-build.log"
    echo "$r: fuzz-build ($1)"
    [ $r = SKIP ] && exit 0
    exit 1
}

command -v "${FUZZ_CC:-clang}" >/dev/null || cannot "no clang (apt-get install clang libclang-rt-14-dev)"
[ -x "$src/configure" ] || (cd "$src" && autoreconf -fi >/dev/null 2>&1)
if [ ! -f "$B/Makefile" ]; then
    (cd "$B" && "$src/configure" CC="${FUZZ_CC:-clang}" --enable-fuzzing --enable-strict \
        >"$out/configure.out" 2>&1) || cannot "configure --enable-fuzzing failed: $(tail -1 "$out/configure.out")"
fi
if ! make -C "$B" -j2 fuzz >"$out/build.out" 2>&1; then
    tail -30 "$out/build.out"
    trs fuzz-build FAIL
    echo "FAIL: fuzz-build (make fuzz failed, see $out/build.out)"
    exit 1
fi

# Runs one target: its seeds and crash inputs first (every one), then fuzzing
# from there; new inputs go to a scratch directory, never into the sources.
one() {
    local t=$1 name corpus regress scratch runs rc=0 dirs
    name=$(basename "$t")
    corpus=$src/fuzz/corpus/${name#fuzz-}
    regress=$src/fuzz/regress/${name#fuzz-}
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
    dirs=("$scratch")
    [ -d "$corpus" ] && dirs+=("$corpus")
    [ -d "$regress" ] && dirs+=("$regress")
    (cd "$scratch" && "$B/$t" -max_total_time="$secs" -timeout=10 -len_control=0 \
        -print_final_stats=1 -artifact_prefix="$out/$name-" "${dirs[@]}") >"$out/$name.log" 2>&1 || rc=$?
    rm -rf "$scratch"
    runs=$(grep -o 'number_of_executed_units: *[0-9]*' "$out/$name.log" | awk '{print $2}' || true)
    if [ $rc -eq 0 ]; then
        trs "$name" PASS
        echo "PASS: $name (${runs:-?} inputs in ${secs}s)"
    else
        trs "$name" FAIL
        echo "FAIL: $name (exit $rc): $(grep -m1 -E 'ERROR|SUMMARY' "$out/$name.log" || true)"
        grep -m1 -A25 -E '^==[0-9]+==ERROR|runtime error' "$out/$name.log" || true
        echo "  the input is in $out/$name-*; log: $out/$name.log"
    fi
}
export -f one trs
export B src out secs
targets=$(make -s -C "$B" print-fuzz-targets)
printf '%s\n' $targets | xargs -P "$jobs" -I{} bash -c 'one {}'
! grep -l ':test-result: FAIL' "$out"/*.trs >/dev/null 2>&1
