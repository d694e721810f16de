#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The whole test suite, from a clean clone: dependencies, a strict build,
# `make check` (unit, module and integration tests against private swtpms),
# `make distcheck` (the tarball, with its unit tests), the Debian package
# (tests/package/deb.sh),
# then the unit and module tests again built with ASan and UBSan, and the
# threaded tests built with ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/install-deps.sh --test
[ -x configure ] || autoreconf -fi >/dev/null

status=0
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure --enable-strict >/dev/null; } && make -j"$jobs" >/dev/null)
(cd build && make -j"$jobs" check) || status=1
cat build/tests/*/*.log 2>/dev/null | grep -E '^(not ok|FAIL)' || true

echo "== make distcheck: the tarball configures, builds, passes the unit tests and installs from a read-only source tree"
# ~1 min: its make check runs the unit tests only (Makefile.am, --disable-tpm-tests)
if (cd build && make -j"$jobs" distcheck >distcheck.log 2>&1); then
    echo "make distcheck: ok (build/distcheck.log)"
else
    status=1
    echo "make distcheck FAILED; the end of build/distcheck.log:"
    tail -n 30 build/distcheck.log
fi

echo "== the Debian package: built, linted, installed in a fresh Debian 12 root, signing through p11-kit"
# tests/package/deb.sh (~3 min; the first run debootstraps, ~1 min more, then
# the root is cached in ~/.cache/tpmtrust). Its TAP results are counted below.
mkdir -p build/tests/package
rc=0
bash tests/package/deb.sh >build/tests/package/deb.log 2>&1 || rc=$?
sed -nE 's/^ok .*/:test-result: PASS/p; s/^not ok .*/:test-result: FAIL/p' build/tests/package/deb.log \
    >build/tests/package/deb.trs
if [ "$rc" -eq 77 ]; then
    echo ":test-result: SKIP" >build/tests/package/deb.trs
    echo "deb package: skipped ($(grep -m1 SKIP build/tests/package/deb.log))"
elif [ "$rc" -eq 0 ]; then
    echo "deb package: ok, $(grep -c '^ok' build/tests/package/deb.log) checks (build/tests/package/deb.log)"
else
    status=1
    [ -s build/tests/package/deb.trs ] || echo ":test-result: ERROR" >build/tests/package/deb.trs
    echo "deb package FAILED (exit $rc); from build/tests/package/deb.log:"
    grep -E '^(not ok|Bail out)|^# ' build/tests/package/deb.log | tail -n 30  || true
fi

echo "== sanitizers: unit and module tests under ASan + UBSan"
mkdir -p build-asan
(cd build-asan && { [ -f Makefile ] || ../configure --enable-strict --enable-sanitizers=address,undefined >/dev/null; } && make -j"$jobs" >/dev/null)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0
(cd build-asan && make -j"$jobs" check \
    TESTS="tests/unit/test-attr tests/unit/test-store tests/unit/test-attest tests/module/test-module.sh tests/module/test-conformance.sh tests/integration/slots.sh" \
    TEST_SUITE_LOG=test-suite-asan.log) || status=1

echo "== sanitizers: threads under ThreadSanitizer (store unit test, 8-thread mix on two tokens)"
# gcc's TSan; tpm2-tss, OpenSSL and sqlite are not instrumented (their own
# memory accesses are not checked; their pthread calls are). Only the programs
# built here load the module: pkcs11-tool cannot load a TSan module, so only
# tests that need none of it run. tests/tsan.supp: reports inside those
# libraries only, each explained there.
mkdir -p build-tsan
(cd build-tsan && { [ -f Makefile ] || ../configure --enable-strict --enable-sanitizers=thread >/dev/null; } && make -j"$jobs" >/dev/null)
export TSAN_OPTIONS="suppressions=$top/tests/tsan.supp second_deadlock_stack=1"
(cd build-tsan && make -j"$jobs" check \
    TESTS="tests/unit/test-store tests/integration/mix.sh tests/integration/slots.sh" \
    TEST_SUITE_LOG=test-suite-tsan.log) || status=1

echo "== fuzzing: a short run of each libFuzzer target (tests/fuzz/run.sh, docs/fuzzing.md)"
bash tests/fuzz/run.sh build-fuzz || status=1

# one closing line over all runs, from automake's .trs files
trs=(build/tests/*/*.trs build-asan/tests/*/*.trs build-tsan/tests/*/*.trs build-fuzz/tests/*/*.trs)
pass=$(cat "${trs[@]}" 2>/dev/null | grep -c '^:test-result: PASS' || true)
failed=$(cat "${trs[@]}" 2>/dev/null | grep -cE '^:test-result: (FAIL|ERROR|XPASS)' || true)
skip=$(cat "${trs[@]}" 2>/dev/null | grep -c '^:test-result: SKIP' || true)
echo "$pass passed, $failed failed, $skip skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
