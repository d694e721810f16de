#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# No TPM resources outlive a process: 1000 signs in one process (more than the
# TPM's 3 transient object slots many times over), then, once it has called
# C_Finalize and exited, the TPM must hold no transient object and no loaded
# or saved session. The same after a process that exits without C_Finalize,
# and after a pkcs11-tool signature; and once a new process has run after
# processes killed with SIGKILL in the middle of signing. Checked through the swtpm TCTI directly (tpm2-abrmd would
# hide a leak by flushing per connection).
# Run as: tests/with-swtpm.sh tests/integration/transient.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
case ${TPM2TOOLS_TCTI:-} in
    swtpm:*) ;;
    *) die "TPM2TOOLS_TCTI is '${TPM2TOOLS_TCTI:-}', expected the swtpm TCTI" ;;
esac

# handles_of CAP: the handles tpm2_getcap lists for CAP, one per line.
handles_of() {
    local out
    out=$(timeout -k 1 10 tpm2_getcap "$1" 2>&1) || { msg "tpm2_getcap $1 failed: $out"; return 1; }
    grep -o '0x[0-9a-fA-F]*' <<<"$out" || true
}

# check_clean WHEN: the TPM holds no transient object and no session.
check_clean() {
    local when=$1 cap h bad=0
    for cap in handles-transient handles-loaded-session handles-saved-session; do
        h=$(handles_of "$cap") || die "tpm2_getcap $cap ($when)"
        if [ -n "$h" ]; then
            msg "$cap $when: $(tr '\n' ' ' <<<"$h")"
            bad=1
        fi
    done
    [ "$bad" -eq 0 ] || die "TPM resources left $when (see above)"
    msg "no transient objects or sessions $when"
}

export TT_TOKEN=test TT_PIN=1234
check_clean "before the test"
TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=$TT_PIN timeout -k 1 30 "$TT_TOOL" token init --label "$TT_TOKEN" >/dev/null \
    || die "tpmtrust-tool token init"
check_clean "after tpmtrust-tool token init"
timeout -k 1 30 pkcs11-tool --module "$TT_MODULE" --token-label "$TT_TOKEN" --login --pin "$TT_PIN" \
    --keypairgen --key-type EC:prime256v1 --id 01 --label k1 >/dev/null || die "pkcs11-tool --keypairgen"
check_clean "after pkcs11-tool --keypairgen"

SECONDS=0
rc=0
out=$(timeout -k 5 100 "$THREADS" sign 1000) || rc=$?
echo "$out"
[ "$rc" -eq 0 ] || die "p11-threads sign 1000 exited $rc"
grep -q ': 1000 signed, 11 verified with OpenSSL, 0 failure' <<<"$out" || die "unexpected summary: $out"
check_clean "after 1000 signs and C_Finalize"

# A process that exits with sessions open and without C_Finalize.
rc=0
out=$(TT_NO_FINALIZE=1 timeout -k 5 60 "$THREADS" threads 2 10) || rc=$?
echo "$out"
[ "$rc" -eq 0 ] || die "p11-threads threads 2 10 (TT_NO_FINALIZE=1) exited $rc"
check_clean "after a process exited without C_Finalize"

# A process that logs in and signs once, the way pkcs11-tool does.
head -c 32 /dev/urandom >"$TT_TMP/digest"
timeout -k 1 30 pkcs11-tool --module "$TT_MODULE" --token-label "$TT_TOKEN" --login --pin "$TT_PIN" \
    --sign -m ECDSA --id 01 -i "$TT_TMP/digest" -o "$TT_TMP/sig" >/dev/null 2>&1 || die "pkcs11-tool --sign"
check_clean "after pkcs11-tool --sign"
# Processes killed with SIGKILL while signing leave their SRK, session and
# cached key loaded (nothing can flush them: there is no resource manager);
# the next process that uses the TPM flushes them, guided by the dead
# processes' lease files, and leaves nothing once it has finished.
count_loaded() {
    local n=0 cap
    for cap in handles-transient handles-loaded-session; do
        n=$((n + $(handles_of "$cap" | wc -l)))
    done
    echo "$n"
}
left=0
for delay in 1.5 0.05 0.2 0.01 0.5; do
    "$THREADS" sign 100000 >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [ "$delay" = 1.5 ] && left=$(count_loaded)
done
msg "after 5 processes killed while signing (the first after 1.5 s): $left handles loaded"
[ "$left" -gt 0 ] || die "a process killed while signing left nothing loaded: the check below proves nothing"
timeout -k 1 30 pkcs11-tool --module "$TT_MODULE" --token-label "$TT_TOKEN" --login --pin "$TT_PIN" \
    --sign -m ECDSA --id 01 -i "$TT_TMP/digest" -o "$TT_TMP/sig" >/dev/null 2>&1 || die "pkcs11-tool --sign after kills"
check_clean "after processes killed with SIGKILL and one pkcs11-tool --sign"
msg "PASS (${SECONDS}s for the signing part)"
