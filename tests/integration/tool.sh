#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tpmtrust-tool: doctor, token list/init/delete, object list with URIs.
set -euo pipefail
T=$TT_TOOL
fails=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }

$T --help | grep -q "token init" && pass "--help" || fail "--help"
$T token --help >/dev/null && pass "token --help" || fail "token --help"
if $T frobnicate >/dev/null 2>&1; then fail "unknown command accepted"; else pass "unknown command refused"; fi

out=$($T doctor) && pass "doctor passes" || fail "doctor: $out"
grep -q "TPM reachable: swtpm" <<<"$out" && pass "doctor names the TCTI" || fail "doctor TCTI: $out"
grep -q "store: $TPMTRUST_STORE, schema 2" <<<"$out" && pass "doctor names store and schema" || fail "doctor store: $out"
grep -q "store permissions: mode 600" <<<"$out" && pass "store file is 0600" || fail "store mode: $out"

out=$(TPMTRUST_TCTI=device:/dev/does-not-exist $T doctor 2>&1) && fail "doctor passed without a TPM" || true
grep -q "device:/dev/does-not-exist" <<<"$out" && grep -q "FAIL\] TPM reachable" <<<"$out" \
    && pass "a missing TPM is named" || fail "missing TPM: $out"

TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234 $T token init --label alpha >/dev/null && pass "token init" || fail "token init"
TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234 $T token init --label beta >/dev/null && pass "second token" || fail "second token"
if TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234 $T token init --label alpha >/dev/null 2>&1; then
    fail "duplicate label accepted"; else pass "duplicate label refused"; fi
out=$($T token list)
grep -q "token 'alpha' serial" <<<"$out" && grep -q "token 'beta'" <<<"$out" && grep -q "(empty" <<<"$out" \
    && pass "token list" || fail "token list: $out"

pkcs11-tool --module "$TT_MODULE" --token-label alpha --login --pin 1234 --keypairgen \
    --key-type EC:prime256v1 --id a1b2 --label 'my key' >/dev/null
out=$($T object list --label alpha)
grep -q "type=public" <<<"$out" && ! grep -q "type=private" <<<"$out" \
    && pass "object list without login: public only" || fail "object list: $out"
out=$(TPMTRUST_PIN=1234 $T object list --label alpha --login)
uri=$(grep -o 'pkcs11:[^ ]*type=private' <<<"$out")
[ "$uri" = "pkcs11:serial=$(grep -o "alpha' serial [0-9a-f]*" <<<"$($T token list)" | awk '{print $3}');token=alpha;id=%a1%b2;object=my%20key;type=private" ] \
    && pass "private key URI: $uri" || fail "URI: $out"
if TPMTRUST_PIN=0000 $T object list --label alpha --login >/dev/null 2>&1; then
    fail "wrong PIN accepted"; else pass "wrong PIN refused"; fi
tpm2_dictionarylockout -c

# A read-only store (forced with a sqlite URI, since root ignores file modes):
# signing works, changes get CKR_TOKEN_WRITE_PROTECTED, the store is untouched.
sum=$(sha256sum "$TPMTRUST_STORE" | cut -d' ' -f1)
openssl rand 32 >"$TT_TMP/digest"
id=$(grep -o 'id=[^;]*' <<<"$uri" | head -1 | sed 's/id=//; s/%//g')
TPMTRUST_STORE="file:$TPMTRUST_STORE?mode=ro" pkcs11-tool --module "$TT_MODULE" --token-label alpha \
    --login --pin 1234 --sign -m ECDSA --id "$id" -i "$TT_TMP/digest" -o "$TT_TMP/sig" >/dev/null 2>&1 \
    && pass "signing from a read-only store" || fail "signing from a read-only store"
out=$(TPMTRUST_STORE="file:$TPMTRUST_STORE?mode=ro" pkcs11-tool --module "$TT_MODULE" --token-label alpha \
    --login --pin 1234 --keypairgen --key-type EC:prime256v1 --id 77 2>&1) && fail "keygen in a read-only store" \
    || { grep -q CKR_TOKEN_WRITE_PROTECTED <<<"$out" && pass "keygen in a read-only store: CKR_TOKEN_WRITE_PROTECTED" \
        || fail "read-only keygen: $out"; }
[ "$(sha256sum "$TPMTRUST_STORE" | cut -d' ' -f1)" = "$sum" ] && pass "read-only store untouched" \
    || fail "read-only store changed"

$T token delete --label beta >/dev/null && pass "token delete" || fail "token delete"
$T token list | grep -q "'beta'" && fail "deleted token still listed" || pass "deleted token gone"
$T token delete --label nosuch >/dev/null 2>&1 && fail "deleting a missing token succeeded" \
    || pass "deleting a missing token fails"
out=$(pkcs11-tool --module "$TT_MODULE" --token-label alpha --login --pin 1234 -O)
grep -q "my key" <<<"$out" && pass "alpha's key survives deleting beta" || fail "alpha lost its key"

# PCR binding from the tool, and the config file's default selection
tpm2_pcrreset 16
TPMTRUST_PIN=1234 $T key generate --token alpha --type ed25519 --label bound --pcrs sha256:16 >/dev/null \
    && pass "key generate --pcrs" || fail "key generate --pcrs"
printf 'pcr_default = sha256:16\n' >"$TT_TMP/tpmtrust.conf"
TPMTRUST_CONF=$TT_TMP/tpmtrust.conf TPMTRUST_PIN=1234 $T key generate --token alpha --type hmac-sha256 \
    --label by-default >/dev/null && pass "key generate under pcr_default" || fail "key generate under pcr_default"
TPMTRUST_PIN=1234 $T key generate --token alpha --type ecdsa-p256 --label free >/dev/null
out=$(TPMTRUST_PIN=1234 $T key pcr-status --token alpha) && pass "pcr-status: all match" || fail "pcr-status: $out"
grep -q "'bound': sha256 PCRs 16: match" <<<"$out" && grep -q "'by-default': sha256 PCRs 16: match" <<<"$out" \
    && ! grep -q "'free'" <<<"$out" && pass "bound keys listed, the config default applied, unbound key not listed" \
    || fail "pcr-status: $out"
tpm2_pcrextend 16:sha256=0000000000000000000000000000000000000000000000000000000000000001
out=$(TPMTRUST_PIN=1234 $T key pcr-status --token alpha) && fail "pcr-status passed after an extend" || true
grep -q "'bound': sha256 PCRs 16: CHANGED: 16" <<<"$out" && pass "pcr-status names the changed PCR" \
    || fail "pcr-status after extend: $out"
if TPMTRUST_PIN=1234 $T key generate --token alpha --type ed25519 --label x --pcrs sha256:99 >/dev/null 2>&1; then
    fail "PCR 99 accepted"; else pass "PCR 99 refused"; fi
tpm2_pcrreset 16

# Files the tool writes: 0600 whatever the umask, an existing one never overwritten
old_umask=$(umask)
umask 022
{
    $T --help | grep -q "created 0600" && pass "--help says files are created 0600" || fail "--help: no 0600"
    b=$TT_TMP/bundle.bin
    TPMTRUST_PIN=1234 $T attest create --token alpha --nonce 0011223344556677 --identity free --out "$b" \
        >/dev/null && [ "$(stat -c %a "$b")" = 600 ] && pass "attest create writes its bundle 0600" \
        || fail "bundle: $(stat -c %a "$b" 2>&1)"
    sum=$(sha256sum <"$b")
    out=$(TPMTRUST_PIN=1234 $T attest create --token alpha --nonce 0011223344556677 --identity free \
        --out "$b" 2>&1) && fail "attest create overwrote $b" || {
        grep -q "exists already: not overwritten" <<<"$out" && [ "$(sha256sum <"$b")" = "$sum" ] \
            && pass "an existing bundle is not overwritten: $out" || fail "existing bundle: $out"; }
    k=$TT_TMP/tool-key.pem
    TPMTRUST_PIN=1234 $T export-tss2 --token alpha --label free --file "$k" >/dev/null \
        && [ "$(stat -c %a "$k")" = 600 ] && pass "export-tss2 writes its key file 0600" \
        || fail "key file: $(stat -c %a "$k" 2>&1)"
}
umask "$old_umask"

echo "$fails failed"
[ "$fails" -eq 0 ]
