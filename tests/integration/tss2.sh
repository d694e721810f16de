#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# TSS2 key files both ways with the tpm2-openssl provider: a key made by
# tpm2-openssl is adopted and signs through the module; our ECDSA key leaves as
# a TSS2 file (0600, never written over) and tpm2-openssl signs with it, with
# and without a password (-passin); files from tpm2_encodeobject are adopted;
# an HMAC key goes out and back. Every signature is verified by plain openssl.
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
flush() { for w in -t -s -l; do tpm2_flushcontext $w >/dev/null 2>&1 || true; done; }
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
umask 022
$T export-tss2 --token tss --label ours --file ours.pem >/dev/null && pass "export-tss2" || fail "export-tss2"
[ "$(stat -c %a ours.pem)" = 600 ] && pass "the key file is 0600 under umask 022" \
    || fail "the key file is $(stat -c %a ours.pem)"
sum=$(sha256sum <ours.pem)
if out=$($T export-tss2 --token tss --label ours --file ours.pem 2>&1); then
    fail "export-tss2 overwrote a file"; else
    grep -q "exists already: not overwritten" <<<"$out" && [ "$(sha256sum <ours.pem)" = "$sum" ] \
        && pass "export-tss2 never overwrites: $out" || fail "existing file: $out"; fi
ln -s nowhere link.pem
$T export-tss2 --token tss --label ours --file link.pem >/dev/null 2>&1 && fail "export-tss2 followed a symlink" \
    || { [ ! -e nowhere ] && pass "export-tss2 does not write through a symlink" || fail "symlink followed"; }
# emptyAuth is written either way (tpm2-openssl < 1.3 reads an absent one as TRUE)
openssl asn1parse -in ours.pem | sed -n 3,4p | grep -q 'BOOLEAN *:255' \
    && pass "an empty-auth file says emptyAuth TRUE" || fail "emptyAuth: $(openssl asn1parse -in ours.pem | head -4)"
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
[ "$(stat -c %a pw.pem)" = 600 ] && pass "the password-protected file is 0600" || fail "pw.pem is $(stat -c %a pw.pem)"
openssl asn1parse -in pw.pem | sed -n 3,4p | grep -q 'BOOLEAN *:0' \
    && pass "a password-protected file says emptyAuth FALSE" || fail "emptyAuth: $(openssl asn1parse -in pw.pem | head -4)"
openssl pkeyutl -provider tpm2 -provider default -sign -inkey pw.pem -passin pass:s3cret -in d -out s5 2>/dev/null \
    && pass "tpm2-openssl signs with the password-protected file (-passin)" || fail "tpm2-openssl -passin"
flush
openssl pkeyutl -verify -pubin -inkey ours.pub -in d -sigfile s5 >/dev/null \
    && pass "that signature verifies with the token's public key" || fail "-passin signature"
if openssl pkeyutl -provider tpm2 -provider default -sign -inkey pw.pem -passin pass:wrong -in d -out s6 2>/dev/null; then
    fail "tpm2-openssl signed with a wrong password"; else pass "a wrong -passin does not sign"; fi
flush
oid=$(id_of ours private)
"${P11[@]}" --delete-object --type privkey --id "$oid" >/dev/null 2>&1
"${P11[@]}" --delete-object --type pubkey --id "$oid" >/dev/null 2>&1
if out=$($T import-tss2 --token tss --file pw.pem --label ours-again 2>&1); then
    fail "a password-protected file was adopted without its password"; else
    grep -q "has a password: set TPMTRUST_KEY_PASSWORD" <<<"$out" && pass "no password, no adoption" \
        || fail "no password: $out"; fi
if out=$(TPMTRUST_KEY_PASSWORD=wrong $T import-tss2 --token tss --file pw.pem --label ours-again 2>&1); then
    fail "a password-protected file was adopted with a wrong password"; else
    grep -q "does not take the password" <<<"$out" && pass "a wrong password, no adoption" \
        || fail "wrong password: $out"; fi
$T object list --token tss --login | grep -q "object=ours-again" && fail "a refused key was left behind" \
    || pass "a refused key leaves no object"
TPMTRUST_KEY_PASSWORD=s3cret $T import-tss2 --token tss --file pw.pem --label ours-again >/dev/null \
    && pass "a password-protected file is adopted with its password" || fail "password import"
"${P11[@]}" --sign -m ECDSA --id "$(id_of ours-again private)" -i d -o s4 --signature-format openssl >/dev/null 2>&1
openssl pkeyutl -verify -pubin -inkey ours.pub -in d -sigfile s4 >/dev/null \
    && pass "the adopted password-protected key signs (same key as before export)" || fail "adopted password key"

# tpm2_encodeobject (tpm2-tools): without a password its file says emptyAuth FALSE
# before tpm2-tools 5.8; it is adopted without TPMTRUST_KEY_PASSWORD all the same
# (no resource manager: every tpm2-tools step leaves its objects loaded, flushed here)
flush
tpm2_createprimary -Q -C o -G ecc256:aes128cfb -c srk.ctx \
    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt'
flush
tpm2_create -Q -C srk.ctx -G ecc256 -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|sign' \
    -u enc.pub -r enc.priv
flush
tpm2_create -Q -C srk.ctx -G ecc256 -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|sign' \
    -p encpw -u encpw.pub -r encpw.priv
flush
tpm2_encodeobject -Q -C srk.ctx -u enc.pub -r enc.priv -o enc.pem
flush
tpm2_encodeobject -Q -C srk.ctx -u encpw.pub -r encpw.priv -p -o encpw.pem
flush
tpm2_load -Q -C srk.ctx -u enc.pub -r enc.priv -c enc.ctx && tpm2_readpublic -Q -c enc.ctx -f pem -o enc.pub.pem
flush
tpm2_load -Q -C srk.ctx -u encpw.pub -r encpw.priv -c encpw.ctx && tpm2_readpublic -Q -c encpw.ctx -f pem -o encpw.pub.pem
flush
out=$(env -u TPMTRUST_KEY_PASSWORD $T import-tss2 --token tss --file enc.pem --label enc 2>&1) \
    && pass "a tpm2_encodeobject file without a password is adopted without TPMTRUST_KEY_PASSWORD" \
    || fail "tpm2_encodeobject file: $out"
"${P11[@]}" --sign -m ECDSA --id "$(id_of enc private)" -i d -o s7 --signature-format openssl >/dev/null 2>&1
openssl pkeyutl -verify -pubin -inkey enc.pub.pem -in d -sigfile s7 >/dev/null \
    && pass "it signs (verified with tpm2_readpublic's key)" || fail "tpm2_encodeobject key signature"
out=$(TPMTRUST_KEY_PASSWORD=encpw $T import-tss2 --token tss --file encpw.pem --label encpw 2>&1) \
    && pass "a tpm2_encodeobject file with a password is adopted with it" || fail "tpm2_encodeobject -p file: $out"
"${P11[@]}" --sign -m ECDSA --id "$(id_of encpw private)" -i d -o s8 --signature-format openssl >/dev/null 2>&1
openssl pkeyutl -verify -pubin -inkey encpw.pub.pem -in d -sigfile s8 >/dev/null \
    && pass "it signs (verified with tpm2_readpublic's key)" || fail "tpm2_encodeobject -p key signature"

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
