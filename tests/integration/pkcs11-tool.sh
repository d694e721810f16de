#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# OpenSC's pkcs11-tool against the module on a private swtpm: token and PIN
# administration, wrong PINs and TPM lockout, key generation, signatures
# verified independently by openssl, listing and deleting objects.
set -euo pipefail
M=$TT_MODULE
W=$(mktemp -d "${TT_TMP:-/tmp}/p11tool.XXXXXX")
P11=(pkcs11-tool --module "$M")
fails=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
expect_fail() { # expect_fail CKR_X what -- command...
    local want=$1 what=$2; shift 3
    local out
    if out=$("$@" 2>&1); then fail "$what: succeeded, expected $want"; return; fi
    if grep -q "$want" <<<"$out"; then pass "$what: $want"; else fail "$what: wanted $want, got: $out"; fi
}

"${P11[@]}" --init-token --slot-index 0 --label test --so-pin 12345678 >/dev/null && pass "init-token" || fail "init-token"
"${P11[@]}" --token-label test --login --login-type so --so-pin 12345678 --init-pin --pin 1111 >/dev/null \
    && pass "init-pin" || fail "init-pin"
"${P11[@]}" --token-label test --login --pin 1111 --change-pin --new-pin 1234 >/dev/null \
    && pass "change-pin" || fail "change-pin"
expect_fail CKR_PIN_INCORRECT "old PIN after change" -- "${P11[@]}" --token-label test --login --pin 1111 -O
"${P11[@]}" --token-label test --login --pin 1234 -O >/dev/null && pass "login with new PIN" || fail "login with new PIN"
info=$("${P11[@]}" -L)
grep -q "token initialized" <<<"$info" && grep -q "PIN initialized" <<<"$info" \
    && pass "token flags" || fail "token flags: $info"
grep -q "uninitialized" <<<"$info" && pass "an empty slot remains" || fail "no empty slot"

# keys
"${P11[@]}" --token-label test --login --pin 1234 --keypairgen --key-type EC:prime256v1 --id 01 --label k1 >/dev/null \
    && pass "keypairgen P-256" || fail "keypairgen P-256"
"${P11[@]}" --token-label test --login --pin 1234 --keypairgen --key-type EC:secp384r1 --id 02 --label k2 >/dev/null \
    && pass "keypairgen P-384" || fail "keypairgen P-384"
# The public keys as PEM, built by openssl from CKA_EC_POINT and the curve
# (pkcs11-tool 0.23 cannot export P-384 public keys itself).
pubkey_pem() { # id curve out
    local hex
    hex=$("${P11[@]}" --token-label test --list-objects --type pubkey |
        awk -v id="$1" '/EC_POINT:/ {p = $2} /ID:/ && $2 == id {print p; exit}')
    printf 'asn1=SEQUENCE:spki\n[spki]\nalg=SEQUENCE:alg\nkey=FORMAT:HEX,BITSTRING:%s\n[alg]\noid=OID:id-ecPublicKey\ncurve=OID:%s\n' \
        "${hex:4}" "$2" >"$W/spki.cnf"
    openssl asn1parse -genconf "$W/spki.cnf" -out "$W/spki.der" >/dev/null
    openssl pkey -pubin -inform DER -in "$W/spki.der" -out "$3"
}
pubkey_pem 01 prime256v1 "$W/pub1.pem"
pubkey_pem 02 secp384r1 "$W/pub2.pem"
"${P11[@]}" --token-label test --read-object --type pubkey --id 01 -o "$W/pub1.der" >/dev/null 2>&1
openssl pkey -pubin -inform DER -in "$W/pub1.der" | cmp -s - "$W/pub1.pem" \
    && pass "pkcs11-tool's export of the P-256 key matches CKA_EC_POINT" || fail "P-256 export differs"

head -c 1000 /dev/urandom >"$W/data"
for id in 01 02; do
    pub=$W/pub$((10#$id)).pem
    "${P11[@]}" --token-label test --login --pin 1234 --sign -m ECDSA-SHA256 --id $id \
        -i "$W/data" -o "$W/sig" --signature-format openssl >/dev/null 2>&1
    openssl dgst -sha256 -verify "$pub" -signature "$W/sig" "$W/data" >/dev/null \
        && pass "ECDSA-SHA256 key $id verified by openssl" || fail "ECDSA-SHA256 key $id"
    openssl dgst -sha256 -binary "$W/data" >"$W/digest"
    "${P11[@]}" --token-label test --login --pin 1234 --sign -m ECDSA --id $id \
        -i "$W/digest" -o "$W/sig" --signature-format openssl >/dev/null 2>&1
    openssl pkeyutl -verify -pubin -inkey "$pub" -in "$W/digest" -sigfile "$W/sig" >/dev/null \
        && pass "ECDSA (pre-hashed) key $id verified by openssl" || fail "ECDSA key $id"
    # a tampered signature must not verify
    b=$(od -An -tx1 -j10 -N1 "$W/sig" | tr -d ' ')   # flip a bit (writing a fixed byte
    printf "\\x$(printf %02x $((0x$b ^ 1)))" |      # would sometimes change nothing)
        dd of="$W/sig" bs=1 seek=10 conv=notrunc status=none
    if openssl pkeyutl -verify -pubin -inkey "$pub" -in "$W/digest" -sigfile "$W/sig" >/dev/null 2>&1; then
        fail "tampered signature verified"; else pass "tampered signature rejected"; fi
done
"${P11[@]}" --token-label test --login --pin 1234 --sign -m ECDSA-SHA384 --id 02 \
    -i "$W/data" -o "$W/sig" --signature-format openssl >/dev/null 2>&1
openssl dgst -sha384 -verify "$W/pub2.pem" -signature "$W/sig" "$W/data" >/dev/null \
    && pass "ECDSA-SHA384 on P-384 verified by openssl" || fail "ECDSA-SHA384"
"${P11[@]}" --token-label test --login --pin 1234 --sign -m ECDSA-SHA512 --id 01 \
    -i "$W/data" -o "$W/sig" --signature-format openssl >/dev/null 2>&1
openssl dgst -sha512 -verify "$W/pub1.pem" -signature "$W/sig" "$W/data" >/dev/null \
    && pass "ECDSA-SHA512 on P-256 (truncated) verified by openssl" || fail "ECDSA-SHA512"

list=$("${P11[@]}" --token-label test --login --pin 1234 --list-objects)
[ "$(grep -c 'Private Key Object' <<<"$list")" = 2 ] && [ "$(grep -c 'Public Key Object' <<<"$list")" = 2 ] \
    && pass "list-objects: 2 private, 2 public" || fail "list-objects: $list"
pub_only=$("${P11[@]}" --token-label test --list-objects)
grep -q 'Private Key Object' <<<"$pub_only" && fail "private keys visible without login" \
    || pass "private keys invisible without login"
"${P11[@]}" --token-label test --login --pin 1234 --delete-object --type privkey --id 02 >/dev/null \
    && "${P11[@]}" --token-label test --login --pin 1234 --delete-object --type pubkey --id 02 >/dev/null \
    && pass "delete-object" || fail "delete-object"
list=$("${P11[@]}" --token-label test --login --pin 1234 --list-objects)
[ "$(grep -c 'Key Object' <<<"$list")" = 2 ] && pass "deleted objects are gone" || fail "after delete: $list"
expect_fail "not found" "sign with a deleted key" -- "${P11[@]}" --token-label test --login --pin 1234 --sign -m ECDSA --id 02 -i "$W/digest"

# wrong PINs count toward the TPM's lockout (5 tries, set by the test harness)
expect_fail CKR_PIN_INCORRECT "wrong PIN" -- "${P11[@]}" --token-label test --login --pin 9999 -O
"${P11[@]}" -T | grep -qi "count low" && pass "PIN count low flag after a failure" || fail "no count-low flag"
for i in 2 3 4 5; do "${P11[@]}" --token-label test --login --pin 9999 -O >/dev/null 2>&1 || true; done
expect_fail CKR_PIN_LOCKED "correct PIN while the TPM is in lockout" -- "${P11[@]}" --token-label test --login --pin 1234 -O
"${P11[@]}" -T | grep -qi "locked" && pass "PIN locked flag" || fail "no PIN locked flag"
tpm2_dictionarylockout -c
"${P11[@]}" --token-label test --login --pin 1234 --sign -m ECDSA --id 01 -i "$W/digest" -o "$W/sig" \
    --signature-format openssl >/dev/null 2>&1 \
    && openssl pkeyutl -verify -pubin -inkey "$W/pub1.pem" -in "$W/digest" -sigfile "$W/sig" >/dev/null \
    && pass "works again after the lockout is cleared" || fail "after lockout reset"

echo "$fails failed"
[ "$fails" -eq 0 ]
