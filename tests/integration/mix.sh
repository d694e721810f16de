#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Eight threads of one process mix signing (ECDSA, HMAC, Ed25519), searches and
# creating/destroying session and token objects on two tokens for a bounded
# time; three of them share one session (tests/module/p11-mix.c says which
# return codes PKCS#11 allows there). Any other return code, any signature
# OpenSSL does not accept, or an object set on the token that differs from what
# the threads hold fails the test. Afterwards: every token object is usable
# (p11-threads mixcheck, a fresh process), the store passes sqlite's
# integrity_check and holds exactly the objects mixcheck saw, and the TPM holds
# no transient object or session of ours.
# Run as: tests/with-swtpm.sh tests/integration/mix.sh   (TT_MIX_SECONDS, default 20)
set -euo pipefail

. "$(dirname "$0")/common.sh"
command -v sqlite3 >/dev/null 2>&1 || skip "sqlite3 (the command-line shell) not on PATH"

secs=${TT_MIX_SECONDS:-20}
export TT_TOKEN=test TT_TOKEN2=test2 TT_PIN=1234
for label in "$TT_TOKEN" "$TT_TOKEN2"; do
    TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=$TT_PIN timeout -k 1 60 "$TT_TOOL" token init \
        --label "$label" >/dev/null || die "tpmtrust-tool token init --label $label"
done

SECONDS=0
rc=0
out=$(TT_MIX_KEEP=1 timeout -k 5 $((secs * 3 + 120)) "$THREADS" mix 8 "$secs") || rc=$?
echo "$out"
[ "$rc" -eq 0 ] || die "p11-threads mix 8 $secs exited $rc"
grep -q ', 0 unexpected result(s)' <<<"$out" || die "unexpected summary"
# The mix really mixed: each kind of call ran, and the shared session saw contention.
for call in C_Sign C_SignFinal C_FindObjects C_CreateObject C_DestroyObject C_CloseSession; do
    grep -qE "^mix:   own +$call .*CKR_OK=[1-9]" <<<"$out" || die "no successful $call on own sessions"
done
grep -qE '^mix:   shared +C_Sign .*CKR_OK=[1-9]' <<<"$out" || die "no C_Sign on the shared session"
msg "mix done (${SECONDS}s)"

n_store=$(sqlite3 "$TPMTRUST_STORE" 'SELECT count(*) FROM objects') || die "sqlite3 count"
check=$(timeout -k 5 120 "$THREADS" mixcheck) || die "p11-threads mixcheck: $check"
echo "$check"
n_seen=$(awk '/^mixcheck: token / { n += $4 } END { print n + 0 }' <<<"$check")
[ "$n_store" -eq "$n_seen" ] || die "the store has $n_store object rows, the module showed $n_seen"
[ "$n_store" -gt 10 ] || die "only $n_store objects left: the mix kept too few to check"
ic=$(sqlite3 "$TPMTRUST_STORE" 'PRAGMA integrity_check') || die "sqlite3 integrity_check"
[ "$ic" = ok ] || die "PRAGMA integrity_check: $ic"

n=$(tt_transient_count) || die "tpm2_getcap handles-transient"
[ "$n" -eq 0 ] || die "$n transient object(s) left in the TPM"
n=$(tt_session_count) || die "tpm2_getcap sessions"
[ "$n" -eq 0 ] || die "$n session(s) left in the TPM"
msg "PASS: $n_store token objects all usable, store intact, TPM clean (${SECONDS}s)"
