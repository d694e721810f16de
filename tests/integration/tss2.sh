#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# TSS2 key files both ways with the tpm2-openssl provider: a key made by
# tpm2-openssl is adopted and signs through the module; our ECDSA key leaves as
# a TSS2 file and tpm2-openssl signs with it; an HMAC key goes out and back.
# Every signature is verified by plain openssl.
set -euo pipefail
fails=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
T=$TT_TOOL
W=$(mktemp -d "$TT_TMP/tss2.XXXXXX")
cd "$W"
export TPMTRUST_PIN=1234 TPM2OPENSSL_TCTI=$TPMTRUST_TCTI
P11=(pkcs11-tool --module "$TT_MODULE" --token-label tss --login --pin 1234)
TPMTRUST_SO_PIN=12345678 $T token init --label tss >/dev/null
echo "message for the TPM" >m
openssl dgst -sha256 -binary m >d
# tpm2-openssl leaves its objects loaded when it talks to swtpm directly (no
# resource manager): flush them so that the module finds free slots.
flush() { tpm2_flushcontext -t >/dev/null 2>&1 || true; }
id_of() { $T object list --token tss --login | grep "object=$1;type=$2" | grep -o 'id=[^;]*' | sed 's/id=//; s/%//g'; }

# tpm2-openssl → tpmtrust
openssl genpkey -provider tpm2 -algorithm EC -pkeyopt group:P-256 -out theirs.pem 2>/dev/null
flush
grep -q "BEGIN TSS2 PRIVATE KEY" theirs.pem && pass "tpm2-openssl wrote a TSS2 key file" || fail "no TSS2 file"
openssl pkey -provider tpm2 -provider default -in theirs.pem -pubout -out theirs.pub
flush
$T import-tss2 --token tss --file theirs.pem --label theirs >/dev/null && pass "import-tss2" || fail "import-tss2"
id=$(id_of theirs private)
"${P11[@]}" --sign -m ECDSA --id "$id" -i d -o s1 --signature-format openssl >/dev/null 2>&1
openssl pkeyutl -verify -pubin -inkey theirs.pub -in d -sigfile s1 >/dev/null \
    && pass "the adopted key signs through the module (verified with tpm2-openssl's public key)" \
    || fail "adopted key signature"
"${P11[@]}" --read-object --type pubkey --id "$id" -o pub.der >/dev/null 2>&1
openssl pkey -pubin -inform DER -in pub.der | cmp -s - theirs.pub \
    && pass "its public key object matches the file's" || fail "public key object differs"

# tpmtrust → tpm2-openssl
$T key generate --token tss --type ecdsa-p256 --label ours >/dev/null
$T export-tss2 --token tss --label ours --file ours.pem >/dev/null && pass "export-tss2" || fail "export-tss2"
if $T export-tss2 --token tss --label ours --file ours.pem >/dev/null 2>&1; then
    fail "export-tss2 overwrote a file"; else pass "export-tss2 never overwrites"; fi
openssl pkeyutl -provider tpm2 -provider default -sign -inkey ours.pem -in d -out s2 2>/dev/null \
    && pass "tpm2-openssl signs with the exported key" || fail "tpm2-openssl could not sign"
flush
"${P11[@]}" --read-object --type pubkey --id "$(id_of ours public)" -o ours.der >/dev/null 2>&1
openssl pkey -pubin -inform DER -in ours.der -out ours.pub
openssl pkeyutl -verify -pubin -inkey ours.pub -in d -sigfile s2 >/dev/null \
    && pass "tpm2-openssl's signature verifies with the token's public key" || fail "exported key signature"
"${P11[@]}" --sign -m ECDSA --id "$(id_of ours private)" -i d -o s3 --signature-format openssl >/dev/null 2>&1
openssl pkeyutl -verify -pubin -inkey ours.pub -in d -sigfile s3 >/dev/null \
    && pass "the token key still signs after export (its own auth unchanged)" || fail "token key after export"

# with a password: out, then back in (the original deleted first, so that the
# adopted copy is the one that signs)
TPMTRUST_KEY_PASSWORD=s3cret $T export-tss2 --token tss --label ours --file pw.pem >/dev/null \
    && pass "export-tss2 with a password" || fail "password export"
oid=$(id_of ours private)
"${P11[@]}" --delete-object --type privkey --id "$oid" >/dev/null 2>&1
"${P11[@]}" --delete-object --type pubkey --id "$oid" >/dev/null 2>&1
if $T import-tss2 --token tss --file pw.pem --label ours-again >/dev/null 2>&1; then
    fail "a password-protected file was adopted without its password"; else pass "no password, no adoption"; fi
TPMTRUST_KEY_PASSWORD=s3cret $T import-tss2 --token tss --file pw.pem --label ours-again >/dev/null \
    && pass "a password-protected file is adopted with its password" || fail "password import"
"${P11[@]}" --sign -m ECDSA --id "$(id_of ours-again private)" -i d -o s4 --signature-format openssl >/dev/null 2>&1
openssl pkeyutl -verify -pubin -inkey ours.pub -in d -sigfile s4 >/dev/null \
    && pass "the adopted password-protected key signs (same key as before export)" || fail "adopted password key"

# HMAC out and back: the same MAC from both objects
$T key generate --token tss --type hmac-sha256 --label mac1 >/dev/null
$T export-tss2 --token tss --label mac1 --file mac.pem >/dev/null && $T import-tss2 --token tss --file mac.pem --label mac2 >/dev/null \
    && pass "HMAC key exported and adopted" || fail "HMAC round trip"
# (HMAC signing is checked through the module in hmac.sh; here: both objects exist)
n=$($T object list --token tss --login | grep -c "object=mac[12];type=secret-key")
[ "$n" = 2 ] && pass "both HMAC objects listed" || fail "HMAC objects: $n"

# refusals
printf -- '-----BEGIN TSS2 PRIVATE KEY-----\nMAMCAQA=\n-----END TSS2 PRIVATE KEY-----\n' >bad.pem
out=$($T import-tss2 --token tss --file bad.pem --label bad 2>&1) && fail "a malformed file was adopted" \
    || { grep -q "malformed" <<<"$out" && pass "a malformed file is refused: $out" || fail "bad file: $out"; }
$T key generate --token tss --type ed25519 --label edk >/dev/null
out=$($T export-tss2 --token tss --label edk --file ed.pem 2>&1) && fail "an Ed25519 seed was exported" \
    || pass "a sealed Ed25519 seed does not leave as a TSS2 key"

echo "$fails failed"
[ "$fails" -eq 0 ]
