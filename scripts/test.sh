#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The whole test suite, from a clean clone: dependencies, a strict build,
# `make check` (unit, module and integration tests against private swtpms),
# then the unit and module tests again built with ASan and UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/install-deps.sh
[ -x configure ] || autoreconf -fi >/dev/null

status=0
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure --enable-strict >/dev/null; } && make -j"$jobs" >/dev/null)
(cd build && make -j"$jobs" check) || status=1
cat build/tests/*/*.log 2>/dev/null | grep -E '^(not ok|FAIL)' || true

echo "== sanitizers: unit and module tests under ASan + UBSan"
mkdir -p build-asan
(cd build-asan && { [ -f Makefile ] || ../configure --enable-strict --enable-sanitizers=address,undefined >/dev/null; } && make -j"$jobs" >/dev/null)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0
(cd build-asan && make -j"$jobs" check \
    TESTS="tests/unit/test-attr tests/unit/test-store tests/unit/test-attest tests/module/test-module.sh" \
    TEST_SUITE_LOG=test-suite-asan.log) || status=1

# one closing line over both runs, from automake's .trs files
pass=$(cat build/tests/*/*.trs build-asan/tests/*/*.trs 2>/dev/null | grep -c '^:test-result: PASS' || true)
failed=$(cat build/tests/*/*.trs build-asan/tests/*/*.trs 2>/dev/null | grep -cE '^:test-result: (FAIL|ERROR|XPASS)' || true)
skip=$(cat build/tests/*/*.trs build-asan/tests/*/*.trs 2>/dev/null | grep -c '^:test-result: SKIP' || true)
echo "$pass passed, $failed failed, $skip skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
