#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Watchdog heartbeats with a boot-state-bound root (PCR 16 stands in for PCR 7):
# provision, the per-boot key record, a stream of heartbeats checked by the
# standalone verifier (core/verify/hbverify.c), replayed/reordered/tampered ones
# rejected, no key after the PCR changes, the same key after a TPM power cycle.
set -euo pipefail
# shellcheck source=tests/swtpm-env.sh
. "$TT_SWTPM_ENV"
swtpm_start # attaches to the wrapper's swtpm
fails=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
T=$TT_TOOL
W=$(mktemp -d "$TT_TMP/wd.XXXXXX")
export TPMTRUST_PIN=1234
echo "test-boot-$$" >"$W/boot_id"
B=(--token wd --boot-id "$W/boot_id")
TPMTRUST_SO_PIN=12345678 $T token init --label wd >/dev/null
tpm2_pcrreset 16

$T watchdog provision --token wd --pcrs sha256:16 >/dev/null && pass "provision (a TPM HMAC root bound to PCR 16)" \
    || fail "provision"
$T watchdog register-key "${B[@]}" --period-ms 100 --timeout-ms 500 --fd 3 3>"$W/key.rec" \
    && [ "$(stat -c %s "$W/key.rec")" = 48 ] && [ "$(head -c 4 "$W/key.rec")" = TTWK ] \
    && pass "register-key writes the 48-byte record" || fail "register-key"
[ "$(od -An -tu4 -j40 -N8 "$W/key.rec" | tr -s ' ')" = " 100 500" ] && pass "record carries period and timeout" \
    || fail "record fields: $(od -An -tu4 -j40 -N8 "$W/key.rec")"

$T watchdog beat "${B[@]}" --count 20 --period-ms 10 --meta "pid=$$" >"$W/beats"
[ "$(wc -l <"$W/beats")" = 20 ] && pass "20 heartbeats" || fail "heartbeats: $(wc -l <"$W/beats")"
out=$($T watchdog verify --key-file "$W/key.rec" <"$W/beats" 2>&1) && [ "$(grep -c '^ok$' <<<"$out")" = 20 ] \
    && pass "the standalone verifier accepts all 20" || fail "verify: $out"
# a later process continues above the earlier sequence numbers
$T watchdog beat "${B[@]}" --count 2 >"$W/later"
cat "$W/beats" "$W/later" | $T watchdog verify --key-file "$W/key.rec" >/dev/null 2>&1 \
    && pass "a later beat process continues the sequence" || fail "later process"

check_reject() { # what lines-file expected-message
    local out
    out=$($T watchdog verify --key-file "$W/key.rec" <"$2" 2>/dev/null) && { fail "$1 accepted"; return; }
    grep -q "$3" <<<"$out" && pass "$1 rejected: $3" || fail "$1: $out"
}
{ head -5 "$W/beats"; sed -n 5p "$W/beats"; } >"$W/replay"
check_reject "a replayed heartbeat" "$W/replay" "replayed"
{ sed -n 7p "$W/beats"; sed -n 6p "$W/beats"; } >"$W/reorder"
check_reject "reordered heartbeats" "$W/reorder" "replayed or reordered"
line=$(sed -n 3p "$W/beats")
c=${line:60:1}; [ "$c" = 0 ] && r=1 || r=0
printf '%s%s%s\n' "${line:0:60}" "$r" "${line:61}" >"$W/tamper"
check_reject "a tampered heartbeat" "$W/tamper" "MAC mismatch"
printf '%s\n' "${line:0:100}" >"$W/short"
check_reject "a truncated heartbeat" "$W/short" "bad length"
# another key (another boot id) does not verify these
echo other >"$W/boot2"
$T watchdog register-key --token wd --boot-id "$W/boot2" --fd 3 3>"$W/key2.rec"
cmp -s <(tail -c +9 "$W/key.rec" | head -c 32) <(tail -c +9 "$W/key2.rec" | head -c 32) \
    && fail "another boot id gives the same key" || pass "another boot id gives another key"
out=$($T watchdog verify --key-file "$W/key2.rec" <"$W/beats" 2>/dev/null) && fail "wrong key accepted" \
    || pass "heartbeats do not verify under another boot's key"

# the boot state changes: no key, no heartbeat (the watchdog fires)
tpm2_pcrextend 16:sha256=0000000000000000000000000000000000000000000000000000000000000001
out=$($T watchdog beat "${B[@]}" --count 1 2>&1) && fail "a heartbeat after the PCR changed" \
    || { grep -q "CKR_TPMTRUST_PCR_MISMATCH" <<<"$out" && grep -q "sha256:16 changed" <<<"$out" \
        && pass "after tpm2_pcrextend 16: CKR_TPMTRUST_PCR_MISMATCH, PCR 16 named" || fail "after extend: $out"; }
# a TPM power cycle (PCR 16 back to its reset value): the same root, the same key
swtpm_restart
$T watchdog register-key "${B[@]}" --period-ms 100 --timeout-ms 500 --fd 3 3>"$W/key3.rec" \
    && cmp -s "$W/key.rec" "$W/key3.rec" && pass "after a TPM power cycle the root yields the same key" \
    || fail "key after power cycle differs"
$T watchdog beat "${B[@]}" --count 1 | $T watchdog verify --key-file "$W/key.rec" >/dev/null 2>&1 \
    && pass "and heartbeats verify again" || fail "heartbeat after power cycle"

# The NV form: the root secret in NV index 0x01500020, read only under PolicyPCR.
tpm2_pcrreset 16
N=(--token wd --label wd-nv --boot-id "$W/boot_id")
$T watchdog provision --token wd --nv --label wd-nv --pcrs sha256:16 >/dev/null \
    && pass "provision --nv (NV index 0x01500020 under PolicyPCR 16)" || fail "provision --nv"
out=$(tpm2_getcap handles-nv-index)
grep -qi "0x1500020" <<<"$out" && pass "the NV index exists" || fail "NV index: $out"
if tpm2_nvread 0x01500020 -s 32 >/dev/null 2>&1; then fail "the NV secret reads without the policy"; \
    else pass "the NV secret does not read without the policy"; fi
if $T watchdog provision --token wd --nv --label again --pcrs sha256:16 >/dev/null 2>&1; then
    fail "a defined NV index was provisioned over"; else pass "an existing NV index is not overwritten"; fi
$T watchdog register-key "${N[@]}" --fd 3 3>"$W/nvkey.rec" && pass "register-key from the NV root" \
    || fail "register-key (NV)"
$T watchdog beat "${N[@]}" --count 5 --period-ms 10 | $T watchdog verify --key-file "$W/nvkey.rec" >/dev/null 2>&1 \
    && pass "NV-root heartbeats verify" || fail "NV-root heartbeats"
cmp -s "$W/nvkey.rec" "$W/key.rec" && fail "the two roots give the same key" || pass "the two roots give different keys"
tpm2_pcrextend 16:sha256=0000000000000000000000000000000000000000000000000000000000000002
out=$($T watchdog beat "${N[@]}" --count 1 2>&1) && fail "an NV-root heartbeat after the PCR changed" \
    || { grep -q "CKR_TPMTRUST_PCR_MISMATCH" <<<"$out" && pass "NV root after tpm2_pcrextend 16: CKR_TPMTRUST_PCR_MISMATCH" \
        || fail "NV after extend: $out"; }
swtpm_restart
$T watchdog register-key "${N[@]}" --fd 3 3>"$W/nvkey2.rec" && cmp -s "$W/nvkey.rec" "$W/nvkey2.rec" \
    && pass "after a TPM power cycle the NV root yields the same key" || fail "NV key after power cycle"

echo "$fails failed"
[ "$fails" -eq 0 ]
