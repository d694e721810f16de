#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# TPM commands of a whole `pkcs11-tool --login --sign` process (counted in
# tpm2-tss pcap TCTI captures: counts are deterministic, so they are asserted),
# on real TPMs each costs 10-100 ms:
#  - raw swtpm without a persistent SRK: 14 (the SRK is created, FlushContext
#    at the end for the session, the SRK and two objects; C_Login reads the
#    token's NV counter once, NV_Read in the signing session: the store is not
#    older than the TPM says, issue 15 item 3);
#  - raw swtpm with the standard SRK made persistent at 0x81000001 by
#    `tpmtrust-tool srk persist` (keys made before keep working): 12, no CreatePrimary;
#  - through tpm2-abrmd with it: 10, no FlushContext at the end (the resource
#    manager flushes a connection's objects when it closes);
#  - C_GetTokenInfo asks the TPM's lockout counters once (pkcs11-tool asks
#    the token info several times).
# Run as: tests/with-swtpm.sh tests/integration/commands.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
tt_require_abrmd
command -v tpm2_createprimary >/dev/null || skip "tpm2-tools not installed"

W=$TT_TMP/commands
mkdir -p "$W"
export TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234
COUNT=$(dirname "$0")/pcap-count.py
timeout -k 1 60 "$TT_TOOL" token init --label c >/dev/null || die "token init"
tt_ec_key c 01 "$W/pub.pem"
printf 'signed' | openssl dgst -sha256 -binary >"$W/h.bin"

# sign NAME WANT: one pkcs11-tool process, its commands counted; its signature
# checked with OpenSSL
sign() {
    local name=$1 want=$2 got
    rm -f "$W/$name.pcap"
    TPMTRUST_TCTI="pcap:$TPMTRUST_TCTI" TCTI_PCAP_FILE=$W/$name.pcap timeout -k 1 60 \
        pkcs11-tool --module "$TT_MODULE" --token-label c --login --pin 1234 --sign -m ECDSA --signature-format openssl \
        --id 01 -i "$W/h.bin" -o "$W/$name.sig" >"$W/$name.out" 2>&1 ||
        { cat "$W/$name.out" >&2; die "$name: pkcs11-tool --sign"; }
    python3 "$COUNT" "$W/$name.pcap" >"$W/$name.count"
    got=$(head -1 "$W/$name.count" | cut -d' ' -f1)
    msg "$name: $(head -1 "$W/$name.count")"
    msg "  $(tail -1 "$W/$name.count")"
    [ "$got" = "$want" ] || die "$name: $got TPM commands, want $want"
    grep -q 'GetCapability=1\b' "$W/$name.count" || die "$name: the lockout counters were read more than once"
}
verify_sig() { # the DER signature, checked by OpenSSL
    openssl pkeyutl -verify -pubin -inkey "$W/pub.pem" -in "$W/h.bin" -sigfile "$W/$1.sig" >/dev/null ||
        die "$1: the signature does not verify with OpenSSL"
}

sign raw 14
grep -q 'CreatePrimary=1' "$W/raw.count" || die "raw: no CreatePrimary?"
verify_sig raw

# the standard SRK made persistent by the tool (twice: the second finds it)
timeout -k 1 60 "$TT_TOOL" srk persist </dev/null >"$W/srk.out" 2>&1 || { cat "$W/srk.out" >&2; die "srk persist"; }
grep -q "SRK persistent at 0x81000001" "$W/srk.out" || die "srk persist: $(cat "$W/srk.out")"
timeout -k 1 60 "$TT_TOOL" srk persist </dev/null | grep -q "already persistent" || die "srk persist again"
timeout -k 1 60 "$TT_TOOL" doctor 2>&1 | grep -q "persistent at 0x81000001" || die "doctor does not see the SRK"
sign persistent 12
! grep -q 'CreatePrimary' "$W/persistent.count" || die "persistent SRK: CreatePrimary still issued"
verify_sig persistent

abrmd_start || die "abrmd_start"
sign abrmd 10
[ "$(grep -o 'FlushContext=[0-9]*' "$W/abrmd.count")" = FlushContext=1 ] ||
    die "abrmd: FlushContext at the end (the resource manager does that)"
verify_sig abrmd
msg "ok: 14 / 12 / 10 TPM commands for a whole signing process"

# another key at 0x81000001: srk persist refuses and says so
tpm2_evictcontrol -Q -C o -c 0x81000001 >/dev/null || die "tpm2_evictcontrol (remove)"
tpm2_createprimary -Q -C o -G ecc256:aes128cfb -c "$W/other.ctx" || die "tpm2_createprimary (other)"
tpm2_evictcontrol -Q -c "$W/other.ctx" 0x81000001 >/dev/null || die "tpm2_evictcontrol (other)"
rc=0
timeout -k 1 60 "$TT_TOOL" srk persist </dev/null >"$W/srk2.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "holds another key" "$W/srk2.out" || die "srk persist over another key: rc $rc $(cat "$W/srk2.out")"
msg "ok: srk persist refuses a slot that holds another key"
