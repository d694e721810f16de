#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Crash consistency: processes that create, generate, modify, copy, destroy
# and sign are killed with SIGKILL at random points (tests/module/p11-crash:
# 50 us .. 50 ms after login, or from the fork), hundreds of times. After
# every round of kills: sqlite's integrity_check and foreign_key_check pass,
# every object the module lists is complete and usable (checked with
# OpenSSL by p11-crash check), the module lists exactly the rows the store
# file holds (no row it cannot read), and the token logs in with both PINs.
# At the end the TPM holds no transient object and no session.
#
# TT_CRASH_TCTI=abrmd: the processes reach swtpm through
# tpm2-abrmd, which flushes what a dead client had loaded; at the end abrmd
# is itself killed with SIGKILL (so it cannot clean up on its way out) and the
# TPM is inspected directly. TT_CRASH_TCTI=swtpm (default): the processes talk to swtpm
# directly, where only the module itself can reclaim what a killed process
# left loaded; the next process must do it.
# TT_CRASH_ROUNDS (16) x TT_CRASH_KILLS (25) kills; TT_CRASH_SEED to replay.
# Run as: tests/with-swtpm.sh tests/integration/crash.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
CRASH=$TT_BUILDDIR/tests/module/p11-crash
[ -x "$CRASH" ] || die "$CRASH not built (make check builds it)"
command -v sqlite3 >/dev/null 2>&1 || skip "sqlite3 (the independent store check) not on PATH"
tcti_mode=${TT_CRASH_TCTI:-swtpm}
[ "$tcti_mode" = abrmd ] && tt_require_abrmd
rounds=${TT_CRASH_ROUNDS:-16} kills=${TT_CRASH_KILLS:-25}
seed=${TT_CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
msg "seed $seed (TT_CRASH_SEED=$seed replays the same kills), $rounds rounds of $kills kills, TCTI: $tcti_mode"

export TT_TOKEN=crash TT_PIN=1234 TT_SO_PIN=12345678
TPMTRUST_SO_PIN=$TT_SO_PIN TPMTRUST_PIN=$TT_PIN timeout -k 1 30 "$TT_TOOL" token init --label "$TT_TOKEN" \
    >/dev/null || die "tpmtrust-tool token init"
# The module's own log lines go here: a kill is expected, an error is not.
export TPMTRUST_LOG_FILE=$TT_TMP/crash-module.log
# tpm2-tss's own lines (e.g. a half-sent command) are not ours to judge.
export TSS2_LOG=all+none
[ "$tcti_mode" = abrmd ] && { abrmd_start || die "abrmd_start"; }
raw_tcti=swtpm:host=127.0.0.1,port=$TT_SWTPM_PORT

sql() { sqlite3 -batch "$TPMTRUST_STORE" "$1"; }

# check_store WHEN: the store file is sound and the module reads all of it.
check_store() {
    local when=$1 out rc n rows
    out=$(sql 'PRAGMA integrity_check') || die "sqlite3 integrity_check $when"
    [ "$out" = ok ] || die "integrity_check $when: $out"
    out=$(sql 'PRAGMA foreign_key_check') || die "sqlite3 foreign_key_check $when"
    [ -z "$out" ] || die "foreign_key_check $when: $out"
    rc=0
    out=$(timeout -k 5 120 "$CRASH" check) || rc=$?
    if [ "$rc" -ne 0 ]; then
        printf '%s\n' "$out" >&2
        die "p11-crash check $when exited $rc (seed $seed)"
    fi
    n=$(sed -n 's/^objects //p' <<<"$out")
    rows=$(sql 'SELECT count(*) FROM objects') || die "sqlite3 count $when"
    [ "$n" = "$rows" ] || die "$when: the module lists $n objects, the store holds $rows rows"
    last_check=$(grep '^p11-crash check: [0-9]* objects' <<<"$out")
}

# handles CAP: the handles of that kind in the TPM itself (not through abrmd).
handles() {
    local out
    out=$(timeout -k 1 10 tpm2_getcap -T "$raw_tcti" "$1" 2>&1) || die "tpm2_getcap $1: $out"
    grep -o '0x[0-9a-fA-F]*' <<<"$out" | tr '\n' ' ' || true
}

SECONDS=0
total=0
for ((r = 1; r <= rounds; r++)); do
    rc=0
    out=$(timeout -k 5 300 "$CRASH" kill "$kills" $((seed + r))) || rc=$?
    printf '%s\n' "$out" >"$TT_TMP/crash-round-$r.out"
    if [ "$rc" -ne 0 ]; then
        printf '%s\n' "$out" >&2
        die "round $r: p11-crash kill exited $rc (seed $seed)"
    fi
    total=$((total + $(sed -n 's/^p11-crash: \([0-9]*\) killed.*/\1/p' <<<"$out")))
    check_store "after round $r"
done
msg "$total processes killed in $rounds rounds; after each round: integrity_check ok, every object usable"
msg "last check: $last_check"
# Where the kills landed, over all rounds.
cat "$TT_TMP"/crash-round-*.out | sed -n 's/^p11-crash: *\([0-9]*\) kills in \(.*\)/\2\t\1/p' |
    awk -F'\t' '{ n[$1] += $2 } END { for (k in n) printf "  %5d kills in %s\n", n[k], k }' | sort -k4 >&2
[ "$total" -ge $((rounds * kills * 9 / 10)) ] ||
    die "only $total of $((rounds * kills)) workers were killed (the rest finished first): the kills did not land"

if [ "$tcti_mode" = abrmd ]; then
    # Kill abrmd hard: what it had not flushed for the dead clients stays in the TPM.
    kill -KILL "$_TT_ABRMD_PID" 2>/dev/null || die "tpm2-abrmd is not running"
    abrmd_stop
fi
bad=''
for cap in handles-transient handles-loaded-session handles-saved-session; do
    h=$(handles "$cap")
    [ -z "$h" ] || { msg "$cap: $h"; bad=1; }
done
[ -z "$bad" ] || die "the TPM holds objects or sessions of killed processes after a new process ran (above)"
msg "the TPM holds no transient object and no session"
if grep -v -e 'opened read-only' "$TPMTRUST_LOG_FILE" 2>/dev/null | grep -q .; then
    msg "module log:"
    sed 's/^/    /' "$TPMTRUST_LOG_FILE" | head -20 >&2
    die "the module logged errors (above)"
fi
msg "PASS (${SECONDS}s)"
