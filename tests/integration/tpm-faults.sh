#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# TPM faults seen by one long-lived process (tests/module/p11-faults: one
# C_Initialize, one login, driven command by command through a coprocess)
# while this script stops, kills, restarts and clears the swtpm under it:
#   - stopped between calls: CKR_DEVICE_ERROR and a log line naming the TCTI;
#     C_GetTokenInfo still works; back again: the next call works, still
#     logged in;
#   - restarted between calls (orderly and --hard): the next call works (the
#     module notices that its loaded keys and sessions are gone and loads them
#     again); a multi-part HMAC across the restart fails with CKR_DEVICE_ERROR
#     and a log line, and the next one works;
#   - killed in the middle of a multi-part HMAC and of key generation:
#     CKR_DEVICE_ERROR, the operation is over, no crash, and the store holds
#     exactly the objects whose creation succeeded (count, integrity_check);
#   - C_Login while the TPM is down: CKR_DEVICE_ERROR, not logged in; works
#     once it is back;
#   - cleared (tpm2_clear: new storage seed): signing and C_Login give
#     CKR_DEVICE_ERROR (never CKR_PIN_INCORRECT, whatever the PIN) with a log
#     line saying the TPM was cleared; a new process says the same;
#     `tpmtrust-tool doctor` reports it; the token can be initialized again.
# Signatures and HMACs are checked with OpenSSL by p11-faults.
# Run as: tests/with-swtpm.sh tests/integration/tpm-faults.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
command -v sqlite3 >/dev/null 2>&1 || skip "sqlite3 (the command-line shell) not on PATH"
command -v tpm2_clear >/dev/null 2>&1 || skip "tpm2_clear (tpm2-tools) not on PATH"
FAULTS=$TT_BUILDDIR/tests/module/p11-faults
[ -x "$FAULTS" ] || die "$FAULTS not built (make check builds it)"

export TT_TOKEN=test TT_PIN=1234
LOG=$TT_TMP/faults-module.log
SECONDS=0
TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=$TT_PIN timeout -k 1 30 "$TT_TOOL" token init --label "$TT_TOKEN" >/dev/null \
    || die "tpmtrust-tool token init"
timeout -k 1 30 pkcs11-tool --module "$TT_MODULE" --token-label "$TT_TOKEN" --login --pin "$TT_PIN" \
    --keypairgen --key-type EC:prime256v1 --id 01 --label k1 >/dev/null || die "pkcs11-tool --keypairgen"

# Ed25519 unseals its seed for every signature: each one talks to the TPM.
coproc P11 {
    TPMTRUST_ED25519_CACHE_SECONDS=0 TPMTRUST_LOG_FILE=$LOG TSS2_LOG=all+none \
        exec timeout -k 5 300 "$FAULTS" 2>>"$TT_TMP/faults-stderr.log"
}
P11_PID_SAVED=$P11_PID

answer() { # the next line from p11-faults
    local line
    IFS= read -r -t 60 line <&"${P11[0]}" || die "p11-faults gave no answer (crashed?): $(tail -n 3 "$TT_TMP/faults-stderr.log" 2>/dev/null)"
    printf '%s\n' "$line"
}
mark() { LOGPOS=$(stat -c %s "$LOG" 2>/dev/null || echo 0); }
newlog() { tail -c +$((LOGPOS + 1)) "$LOG" 2>/dev/null || true; }
# expect 'CMD [ARG]' CODE [DETAIL]: runs CMD, checks its code (and the start of the detail)
expect() {
    local cmd=$1 want="${1%% *}: $2${3:+ $3}" line
    printf '%s\n' "$cmd" >&"${P11[1]}"
    line=$(answer)
    [[ $line == "$want"* ]] || die "'$cmd': got '$line', want '$want'"
    msg "  $line"
}
# logged PATTERN WHY: the module logged PATTERN since the last mark
logged() {
    newlog | grep -qE -- "$1" || { newlog >&2; die "no log line matching '$1' ($2)"; }
}
rows() { sqlite3 "$TPMTRUST_STORE" 'SELECT count(*) FROM objects'; }
intact() {
    local ic
    ic=$(sqlite3 "$TPMTRUST_STORE" 'PRAGMA integrity_check') || die "sqlite3 integrity_check"
    [ "$ic" = ok ] || die "PRAGMA integrity_check: $ic"
}
# the module lists exactly the rows the store has
same_count() {
    local n
    n=$(rows)
    expect count CKR_OK "$n"
}
# a hard kill counts one dictionary-attack failure at the next start: reset it
da_reset() { timeout -k 1 10 tpm2_dictionarylockout -c >/dev/null 2>&1 || die "tpm2_dictionarylockout -c"; }

[ "$(answer)" = ready ] || die "p11-faults did not start"
expect login CKR_OK
expect setup CKR_OK
expect sign CKR_OK verified
expect hmac CKR_OK verified
expect eddsa CKR_OK verified
expect hmac-multi CKR_OK verified
same_count
TCTI_RE="swtpm:host=127\.0\.0\.1,port=$TT_SWTPM_PORT"

msg "1. swtpm stopped between calls"
swtpm_stop
mark
for cmd in sign hmac eddsa generate hmac-multi; do expect "$cmd" CKR_DEVICE_ERROR; done
logged "lost the TPM \(.*via $TCTI_RE\): check that the TPM or resource manager is running" "first call after the stop"
logged "cannot reach the TPM: $TCTI_RE: .*is the TPM simulator running" "calls while it is down"
expect info CKR_OK                       # C_GetTokenInfo needs no TPM
expect login CKR_USER_ALREADY_LOGGED_IN  # still logged in
swtpm_start
expect sign CKR_OK verified
expect eddsa CKR_OK verified
expect hmac CKR_OK verified

msg "2. swtpm restarted between calls (orderly, then --hard)"
swtpm_restart
mark
expect sign CKR_OK verified
logged "was restarted since this process connected \(reset count" "restart between calls"
expect hmac CKR_OK verified
expect eddsa CKR_OK verified
swtpm_restart --hard
da_reset
expect hmac CKR_OK verified
expect sign CKR_OK verified
expect generate CKR_OK
same_count

msg "3. a multi-part HMAC across a restart"
expect hmac-begin CKR_OK
swtpm_restart
mark
expect hmac-end CKR_DEVICE_ERROR
logged "a multi-part HMAC was under way: the TPM lost it; start it again" "sequence lost"
expect hmac-end CKR_OPERATION_NOT_INITIALIZED  # the operation is over
expect hmac-multi CKR_OK verified

msg "4. swtpm killed in the middle of a multi-part HMAC"
printf 'hmac-stream 20\n' >&"${P11[1]}"
[ "$(answer)" = "hmac-stream: started" ] || die "hmac-stream did not start"
sleep 0.2
swtpm_stop --hard
line=$(answer)
msg "  $line"
[[ $line == "hmac-stream: CKR_DEVICE_ERROR after "*"; final CKR_OPERATION_NOT_INITIALIZED" ]] \
    || die "hmac-stream: '$line'"
expect sign CKR_DEVICE_ERROR
swtpm_start
da_reset
expect hmac-multi CKR_OK verified
expect sign CKR_OK verified

msg "5. swtpm killed in the middle of key generation"
before=$(rows)
printf 'generate-loop 20\n' >&"${P11[1]}"
[ "$(answer)" = "generate-loop: started" ] || die "generate-loop did not start"
sleep 0.3
swtpm_stop --hard
line=$(answer)
msg "  $line"
[[ $line =~ ^generate-loop:\ CKR_DEVICE_ERROR\ made\ ([0-9]+)$ ]] || die "generate-loop: '$line'"
made=${BASH_REMATCH[1]}
after=$(rows)
[ "$after" -eq $((before + 2 * made)) ] \
    || die "the store has $after object rows: $before before + 2 x $made pairs made = $((before + 2 * made)) expected"
intact
same_count
msg "  store: $before + 2 x $made rows, integrity ok, the module lists the same"
swtpm_start
da_reset
expect generate CKR_OK
same_count
intact

msg "6. C_Login while the TPM is down"
expect logout CKR_OK
swtpm_stop
expect login CKR_DEVICE_ERROR
expect sign CKR_OBJECT_HANDLE_INVALID  # not logged in: the private key is not visible
expect info CKR_OK
swtpm_start
expect login CKR_OK
expect sign CKR_OK verified
expect eddsa CKR_OK verified

msg "7. the TPM cleared (tpm2_clear: new storage seed) under the running process"
timeout -k 1 10 tpm2_clear >/dev/null 2>&1 || die "tpm2_clear"
mark
expect sign CKR_DEVICE_ERROR
logged "was cleared since this process connected \(reset count [1-9][0-9]* -> 0" "cleared: TPM2_Clear zeroes the counts"
logged "has another storage root key than when this process started: it was cleared" "cleared, running process"
expect hmac CKR_DEVICE_ERROR
expect logout CKR_OK
expect login CKR_DEVICE_ERROR
logged "the TPM was cleared since the key was made" "login after the clear"
expect info CKR_OK
printf 'quit\n' >&"${P11[1]}"
wait "$P11_PID_SAVED" || die "p11-faults exited $?"
intact
# nothing of it left in the TPM: not what it loaded before the faults, nor after
n=$(tt_transient_count) || die "tpm2_getcap handles-transient"
[ "$n" -eq 0 ] || die "$n transient object(s) left in the TPM"
n=$(tt_session_count) || die "tpm2_getcap sessions"
[ "$n" -eq 0 ] || die "$n session(s) left in the TPM"

msg "   ... and in a new process"
for pin in "$TT_PIN" 9999; do
    rc=0
    out=$(TPMTRUST_LOG_FILE=$LOG timeout -k 1 30 pkcs11-tool --module "$TT_MODULE" --token-label "$TT_TOKEN" \
        --login --pin "$pin" -O 2>&1) || rc=$?
    [ "$rc" -ne 0 ] || die "pkcs11-tool --login (PIN $pin) succeeded on a cleared TPM"
    grep -q CKR_DEVICE_ERROR <<<"$out" || die "pkcs11-tool --login (PIN $pin) on a cleared TPM: $out"
done
grep -q "the TPM rejects every blob of it: the TPM was cleared since this token was created" "$LOG" \
    || die "no 'cleared' log line from a new process"
if grep -q "wrong user PIN" "$LOG"; then die "a cleared TPM was reported as a wrong PIN"; fi
rc=0
out=$(timeout -k 1 30 "$TT_TOOL" doctor 2>&1) || rc=$?
[ "$rc" -eq 1 ] || die "doctor exited $rc on a cleared TPM: $out"
grep -qE "FAIL\] token 'test' .*the TPM was cleared since the token was created" <<<"$out" \
    || die "doctor does not report the cleared TPM: $out"
msg "  doctor: $(grep "token 'test'" <<<"$out")"
# C_InitToken on the cleared token: its old SO PIN cannot be checked any more
# (the TPM lost the seal), and need not be: its keys are gone already.
timeout -k 1 30 pkcs11-tool --module "$TT_MODULE" --token-label "$TT_TOKEN" --init-token \
    --so-pin 87654321 --label "$TT_TOKEN" >/dev/null 2>&1 || die "C_InitToken on the cleared token"
timeout -k 1 30 pkcs11-tool --module "$TT_MODULE" --token-label "$TT_TOKEN" --login --login-type so \
    --so-pin 87654321 --init-pin --new-pin "$TT_PIN" >/dev/null 2>&1 || die "C_InitPIN after C_InitToken"
timeout -k 1 30 "$TT_TOOL" doctor >/dev/null 2>&1 || die "doctor after the token was initialized again"
[ "$(rows)" -eq 0 ] || die "the re-initialized token kept $(rows) objects"
timeout -k 1 30 pkcs11-tool --module "$TT_MODULE" --token-label "$TT_TOKEN" --login --pin "$TT_PIN" \
    --keypairgen --key-type EC:prime256v1 --id 01 --label k1 >/dev/null || die "keypairgen on the new token"
intact
msg "PASS (${SECONDS}s)"
