#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Four processes run the eight-thread mix of tests/integration/mix.sh at the
# same time, through tpm2-abrmd, on the same two tokens and store, for a
# bounded time (TT_MIX_SECONDS, default 20). Each must see only expected
# return codes and find exactly its own objects on the tokens. Afterwards,
# with tpm2-abrmd stopped: no transient object or session left in the TPM,
# sqlite's integrity_check passes, and every token object (all four
# processes') is usable from a fresh process (p11-threads mixcheck), as many
# as the store has rows.
# Run as: tests/with-swtpm.sh tests/integration/abrmd-mix.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
tt_require_abrmd
command -v sqlite3 >/dev/null 2>&1 || skip "sqlite3 (the command-line shell) not on PATH"

secs=${TT_MIX_SECONDS:-20}
export TT_TOKEN=test TT_TOKEN2=test2 TT_PIN=1234
W=$TT_TMP/abrmd-mix
mkdir -p "$W"
for label in "$TT_TOKEN" "$TT_TOKEN2"; do
    TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=$TT_PIN timeout -k 1 60 "$TT_TOOL" token init \
        --label "$label" >/dev/null || die "tpmtrust-tool token init --label $label"
done

abrmd_start || die "abrmd_start"
[ "$TPMTRUST_TCTI" = tabrmd:bus_type=session ] || die "TPMTRUST_TCTI is $TPMTRUST_TCTI after abrmd_start"

SECONDS=0
pids=()
for i in 1 2 3 4; do
    TT_MIX_KEEP=1 timeout -k 5 $((secs * 3 + 120)) "$THREADS" mix 8 "$secs" >"$W/p$i.out" 2>&1 &
    pids+=($!)
done
failed=0
for i in 1 2 3 4; do
    rc=0
    wait "${pids[$((i - 1))]}" || rc=$?
    grep -v '^mix:   ' "$W/p$i.out" | sed "s/^/process $i: /"
    if [ "$rc" -ne 0 ] || ! grep -q ', 0 unexpected result(s)' "$W/p$i.out"; then
        msg "process $i exited $rc; its return codes:"
        grep '^mix:   ' "$W/p$i.out" >&2 || true
        failed=1
    fi
done
[ "$failed" -eq 0 ] || die "a mixing process failed (above)"
# Return codes over the four processes, per session kind and call.
awk '/^mix:   / {
        name = $3
        for (i = 4; i <= NF && $i !~ /=/; i++) name = name " " $i
        for (; i <= NF; i++) { split($i, kv, "="); n[$2 " " name "|" kv[1]] += kv[2] }
    }
    END { for (k in n) { split(k, p, "|"); printf "mix total: %-44s %s=%d\n", p[1], p[2], n[k] } }' \
    "$W"/p*.out | sort
msg "4 processes x 8 threads through tpm2-abrmd: ${SECONDS}s"

abrmd_stop
n=$(tt_transient_count) || die "tpm2_getcap handles-transient"
[ "$n" -eq 0 ] || die "$n transient object(s) left in the TPM after tpm2-abrmd stopped"
n=$(tt_session_count) || die "tpm2_getcap sessions"
[ "$n" -eq 0 ] || die "$n session(s) left in the TPM after tpm2-abrmd stopped"
ic=$(sqlite3 "$TPMTRUST_STORE" 'PRAGMA integrity_check') || die "sqlite3 integrity_check"
[ "$ic" = ok ] || die "PRAGMA integrity_check: $ic"
n_store=$(sqlite3 "$TPMTRUST_STORE" 'SELECT count(*) FROM objects') || die "sqlite3 count"
check=$(timeout -k 5 300 "$THREADS" mixcheck) || die "p11-threads mixcheck: $check"
echo "$check"
n_seen=$(awk '/^mixcheck: token / { n += $4 } END { print n + 0 }' <<<"$check")
[ "$n_store" -eq "$n_seen" ] || die "the store has $n_store object rows, the module showed $n_seen"
n=$(tt_transient_count) || die "tpm2_getcap handles-transient"
[ "$n" -eq 0 ] || die "$n transient object(s) left in the TPM after mixcheck"
msg "PASS: $n_store token objects of 4 processes all usable, store intact, TPM clean (${SECONDS}s)"
