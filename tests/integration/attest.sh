#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Attestation snapshots (docs/attestation.md): the AK is the tpm2_createprimary
# key of the documented template; snapshots with ECDSA and Ed25519 identities
# verify; tpm2_checkquote accepts the extracted quote; openssl accepts the
# Ed25519 identity signature; any flipped byte, a wrong nonce, an unexpected PCR
# value, and TPM parts altered under a re-signed identity all fail, naming the
# check; after a TPM power cycle the AK has the same name, old snapshots verify
# and new ones link to it; make/activate credential works for this TPM's EK and
# fails for another TPM's; a second TPM set up by swtpm_setup with an EK
# certificate (RSA EK) gives snapshots whose EK certificate chains to its CA;
# every PCR bank quotes; a bundle forged in software (test-attest-forge) is
# unauthenticated (exit 1) without --ak-name, with --ek-ca too, and fails
# ak-name against the trusted AK; genuine bundles need --ak-name as well.
set -euo pipefail
# shellcheck source=tests/swtpm-env.sh
. "$TT_SWTPM_ENV"
swtpm_start # attaches to the wrapper's swtpm
fails=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "${CI:-}" = true ]; then echo "ERROR: $1 not on PATH (CI=true)" >&2; exit 99; fi
    echo "SKIP: $1 not on PATH" >&2; exit 77
}
for p in tpm2_checkquote tpm2_createprimary tpm2_makecredential tpm2_pcrextend openssl xxd \
    swtpm_setup swtpm_localca; do need "$p"; done
T=$TT_TOOL
W=$(mktemp -d "$TT_TMP/attest.XXXXXX")
export TPMTRUST_PIN=1234 TPMTRUST_SO_PIN=12345678 TSS2_LOG=all+none
N=0badc0ffee0ddf00d15ea5e0000000000000000000000000000000000000c0de
$T token init --label att >/dev/null
$T key generate --token att --type ecdsa-p256 --label id --id 01 >/dev/null
$T key generate --token att --type ed25519 --label edid --id 02 >/dev/null
$T key generate --token att --type hmac-sha256 --label mac --id 03 >/dev/null
tpm2_pcrreset 16
$T key generate --token att --type ecdsa-p256 --label bound --id 04 --pcrs sha256:16 >/dev/null

hexof() { xxd -p "$1" | tr -d '\n'; }

# verify FILE NONCE [args]: output in $out, status in $rc
verify() { rc=0; out=$($T attest verify "$@" 2>&1) || rc=$?; }
# expect_fail WHAT CHECK FILE NONCE [args]: verification fails and names CHECK
expect_fail() {
    local what=$1 check=$2
    shift 2
    verify "$@"
    if [ "$rc" = 1 ] && grep -q "^\[FAIL\] $check:" <<<"$out"; then
        pass "$what: fails, naming $check"
    else
        fail "$what: rc=$rc, no [FAIL] $check: $out"
    fi
}

# --- the AK is the documented template's primary key (tpm2-tools derives it too)
AKNAME=$($T attest ak | sed -n 's/^AK name: //p')
tpm2_createprimary -Q -C e -g sha256 -G ecc256:ecdsa-sha256:null \
    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|sign' -c "$W/ak.ctx"
tpm2_readpublic -Q -c "$W/ak.ctx" -n "$W/ak.name"
tpm2_flushcontext -t
[ -n "$AKNAME" ] && [ "$AKNAME" = "$(hexof "$W/ak.name")" ] \
    && pass "AK name $AKNAME = tpm2_createprimary's with the documented template" \
    || fail "AK name '$AKNAME' vs tpm2-tools $(hexof "$W/ak.name")"

# --- the mechanism through the function list (tests/module/test-attest-sign)
SIGN=$TT_BUILDDIR/tests/module/test-attest-sign
[ -x "$SIGN" ] || { echo "$SIGN not built (make check builds it)" >&2; exit 99; }
# (with a swtpm restart between two of its snapshots: the second one works)
restart_cmd="bash -c '. \"\$TT_SWTPM_ENV\" && swtpm_start 2>/dev/null && swtpm_restart 2>/dev/null'"
if TT_TOKEN=att TT_PIN=$TPMTRUST_PIN TT_AK_NAME=$AKNAME TT_RESTART_CMD=$restart_cmd \
    TPMTRUST_LOG_FILE=$W/sign.log "$SIGN" >"$W/sign.tap" 2>&1 && ! grep -q '^not ok' "$W/sign.tap"; then
    pass "CKM_TPMTRUST_ATTEST through C_Sign: $(grep -c '^ok' "$W/sign.tap") checks (tests/module/test-attest-sign)"
else
    fail "test-attest-sign: $(grep -v '^ok' "$W/sign.tap")"
fi
grep -q '^ok .* the first snapshot after the TPM restart' "$W/sign.tap" \
    && pass "a TPM restart between two snapshots in one process: the second one works" \
    || fail "snapshot after a TPM restart: $(grep -i 'restart' "$W/sign.tap")"
grep -q 'was restarted since this process connected' "$W/sign.log" \
    && pass "... and the module logged that the TPM was restarted" || fail "no restart log line: $(tail -5 "$W/sign.log")"
# --- a snapshot with a TPM ECDSA identity: the quote, 4 certified keys
t0=$SECONDS
$T attest create --token att --nonce $N --identity 01 --key edid --key mac --key bound \
    --pcrs sha256:0,1,2,3,16 --out "$W/a.bin" >/dev/null && pass "attest create (ECDSA identity, $((SECONDS - t0)) s)" \
    || fail "attest create"
verify "$W/a.bin" --nonce $N --ak-name "$AKNAME"
[ "$rc" = 0 ] && grep -q "^verified: all" <<<"$out" && [ "$(grep -c '^\[ ok \] key[1-4]-name' <<<"$out")" = 4 ] \
    && pass "verify: $(tail -1 <<<"$out")" || fail "verify: $out"
grep -q "^\[ ok \] ak-hierarchy" <<<"$out" && pass "the quote names the AK an endorsement primary" \
    || fail "ak-hierarchy: $out"
verify "$W/a.bin" --nonce $N
[ "$rc" = 1 ] && grep -q '^\[FAIL\] ak-trust: NOT ESTABLISHED: no trusted AK name given' <<<"$out" \
    && [ "$(grep -c '^\[FAIL\]' <<<"$out")" = 1 ] && grep -q '^UNAUTHENTICATED:' <<<"$out" \
    && grep -q '^NOT established: ak-trust$' <<<"$out" \
    && pass "without --ak-name even a genuine snapshot is unauthenticated (exit 1, ak-trust NOT ESTABLISHED)" \
    || fail "a genuine snapshot without --ak-name: rc=$rc $out"
RESET0=$(sed -n 's/.*reset count \([0-9]*\),.*/\1/p' <<<"$out")

# --- tpm2_checkquote (independent) accepts what attest extract writes
$T attest extract "$W/a.bin" --dir "$W/x" >/dev/null
tpm2_checkquote -u "$W/x/ak.pem" -m "$W/x/quote.msg" -s "$W/x/quote.sig" -f "$W/x/pcrs.bin" \
    -l "$(cat "$W/x/pcr-list")" -g sha256 -q $N >"$W/cq.out" 2>&1 \
    && pass "tpm2_checkquote accepts the quote, signature and PCR values ($(cat "$W/x/pcr-list"))" \
    || fail "tpm2_checkquote: $(cat "$W/cq.out")"
tpm2_checkquote -u "$W/x/ak.pub" -m "$W/x/quote.msg" -s "$W/x/quote.sig" -g sha256 -q $N >/dev/null 2>&1 \
    && pass "tpm2_checkquote accepts the AK in TPM2B_PUBLIC form" || fail "tpm2_checkquote -u ak.pub"
tpm2_pcrread -Q -o "$W/now.bin" "$(cat "$W/x/pcr-list")"
cmp -s "$W/now.bin" "$W/x/pcrs.bin" && pass "the bundle's PCR values are tpm2_pcrread's" \
    || fail "PCR values differ from tpm2_pcrread"
if tpm2_checkquote -u "$W/x/ak.pem" -m "$W/x/quote.msg" -s "$W/x/quote.sig" -g sha256 -q 00 >/dev/null 2>&1; then
    fail "tpm2_checkquote accepted another nonce"; else pass "tpm2_checkquote rejects another nonce"; fi

# --- every PCR bank the TPM has: the quote's PCR digest is hashed with the
# signing scheme's hash (SHA-256), not the bank's; tpm2_pcrread gives the
# expected values and tpm2_checkquote checks the quote on its own
banks=$(tpm2_getcap pcrs | sed -n 's/^ *- \(sha[0-9]*\): \[.* 16,.*/\1/p' | tr '\n' ' ')
[ -n "$banks" ] || fail "tpm2_getcap pcrs lists no bank with PCR 16"
for bank in $banks; do
    tpm2_pcrextend "16:$bank=$(head -c 64 /dev/zero | openssl dgst -"$bank" -hex | sed 's/.*= //')"
    tpm2_pcrread -Q -o "$W/pcr-$bank.bin" "$bank:16"
    if ! $T attest create --token att --nonce $N --identity 01 --pcrs "$bank:0,16" \
        --out "$W/bank-$bank.bin" >"$W/bank-$bank.out" 2>&1; then
        fail "attest create --pcrs $bank:0,16: $(cat "$W/bank-$bank.out")"
        continue
    fi
    verify "$W/bank-$bank.bin" --nonce $N --ak-name "$AKNAME" --expect-pcr "16=$(hexof "$W/pcr-$bank.bin")"
    [ "$rc" = 0 ] && grep -q '^\[ ok \] pcr-digest:' <<<"$out" && grep -q '^\[ ok \] pcr-16:' <<<"$out" \
        && pass "a $bank snapshot verifies, PCR 16 = tpm2_pcrread's" || fail "$bank snapshot: $out"
    $T attest extract "$W/bank-$bank.bin" --dir "$W/xb-$bank" >/dev/null
    tpm2_checkquote -u "$W/xb-$bank/ak.pem" -m "$W/xb-$bank/quote.msg" -s "$W/xb-$bank/quote.sig" \
        -f "$W/xb-$bank/pcrs.bin" -l "$(cat "$W/xb-$bank/pcr-list")" -g sha256 -q $N >"$W/cq-$bank.out" 2>&1 \
        && pass "tpm2_checkquote accepts the $bank quote and PCR values" \
        || fail "tpm2_checkquote ($bank): $(cat "$W/cq-$bank.out")"
done
tpm2_pcrreset 16

# --- wrong nonce, unexpected PCR value, untrusted AK, another identity
expect_fail "a wrong nonce" nonce "$W/a.bin" --nonce 00$N
expect_fail "a wrong nonce" quote-nonce "$W/a.bin" --nonce 00$N
Z=0000000000000000000000000000000000000000000000000000000000000000
verify "$W/a.bin" --nonce $N --ak-name "$AKNAME" --expect-pcr 16=$Z --expect-pcr 0=$Z
[ "$rc" = 0 ] && pass "expected PCR values 0 and 16 match" || fail "--expect-pcr: $out"
expect_fail "an unexpected PCR 16" pcr-16 "$W/a.bin" --nonce $N --expect-pcr 16=${Z%?}1
expect_fail "a PCR that is not quoted" pcr-7 "$W/a.bin" --nonce $N --expect-pcr 7=$Z
expect_fail "another trusted AK" ak-name "$W/a.bin" --nonce $N --ak-name 000b${Z}
openssl genpkey -algorithm ed25519 -out "$W/evil.pem" 2>/dev/null
openssl pkey -in "$W/evil.pem" -pubout -out "$W/evil.pub" 2>/dev/null
expect_fail "another expected identity" identity-expected "$W/a.bin" --nonce $N --identity-pub "$W/evil.pub"

# --- every field: one flipped byte breaks the identity signature
H=$(hexof "$W/a.bin")
# fields HEX: "tag offset length" (bytes) of each field, nested key fields too
fields() {
    local h=$1 off=12 end=$((12 + 16#${1:16:8})) tag len koff kend
    while [ $off -lt $end ]; do
        tag=${h:$((2 * off)):4}; len=$((16#${h:$((2 * off + 4)):8}))
        echo "$tag $((off + 6)) $len"
        if [ "$tag" = 0030 ]; then
            koff=$((off + 6)); kend=$((koff + len))
            while [ $koff -lt $kend ]; do
                echo "${h:$((2 * koff)):4} $((koff + 6)) $((16#${h:$((2 * koff + 4)):8}))"
                koff=$((koff + 6 + 16#${h:$((2 * koff + 4)):8}))
            done
        fi
        off=$((off + 6 + len))
    done
}
# flip HEX OFFSET: the byte at OFFSET xor 0x01
flip() { local h=$1 o=$(($2 * 2)); printf '%s%02x%s' "${h:0:o}" $((16#${h:o:2} ^ 1)) "${h:o+2}"; }
tofile() { printf '%s' "$1" | xxd -r -p >"$2"; }
n=0; bad=0
while read -r tag off len; do
    [ "$len" -gt 0 ] || continue
    n=$((n + 1))
    tofile "$(flip "$H" $((off + len / 2)))" "$W/t.bin"
    verify "$W/t.bin" --nonce $N
    if [ "$rc" != 1 ] || ! grep -q '^\[FAIL\] identity-signature:' <<<"$out"; then
        bad=$((bad + 1)); echo "# field $tag: rc=$rc $out"
    fi
done < <(fields "$H")
[ $n -ge 20 ] && [ $bad = 0 ] && pass "a flipped byte in each of the $n fields fails identity-signature" \
    || fail "$bad of $n tampered fields not caught"
tofile "$(flip "$H" $((${#H} / 2 - 3)))" "$W/t.bin"
expect_fail "a flipped signature byte" identity-signature "$W/t.bin" --nonce $N
tofile "${H:0:$((${#H} - 2))}" "$W/t.bin"
expect_fail "a truncated bundle" format "$W/t.bin" --nonce $N
tofile "${H:0:8}0002${H:12}" "$W/t.bin"
expect_fail "another version" format "$W/t.bin" --nonce $N

# --- an Ed25519 identity; openssl checks its signature over header and body
$T attest create --token att --nonce $N --identity edid --key bound --out "$W/e.bin" >/dev/null
E=$(hexof "$W/e.bin")
EB=$((12 + 16#${E:16:8}))
tofile "${E:0:$((2 * EB))}" "$W/e.signed"
tofile "${E:$((2 * EB + 8))}" "$W/e.sig"
$T attest extract "$W/e.bin" --dir "$W/ex" >/dev/null
# (the verifier knows the identity key: here, as the earlier snapshot gave it)
verify "$W/e.bin" --nonce $N --ak-name "$AKNAME" --identity-pub "$W/ex/identity.der"
[ "$rc" = 0 ] && grep -q "ED25519 identity key 'edid'" <<<"$out" && grep -q '^\[ ok \] identity-in-tpm:' <<<"$out" \
    && pass "Ed25519 identity, expected: $(tail -1 <<<"$out")" || fail "Ed25519 identity: $out"
expect_fail "an Ed25519 identity without --identity-pub (a TPM cannot certify it)" identity-in-tpm \
    "$W/e.bin" --nonce $N --ak-name "$AKNAME"
grep -q '^\[FAIL\] identity-in-tpm: NOT ESTABLISHED' <<<"$out" && [ "$(grep -c '^\[FAIL\]' <<<"$out")" = 1 ] \
    && pass "... and only it" || fail "Ed25519 identity without --identity-pub: $out"
openssl pkeyutl -verify -pubin -inkey "$W/ex/identity.der" -keyform DER -rawin -in "$W/e.signed" \
    -sigfile "$W/e.sig" >/dev/null 2>&1 && pass "openssl verifies the Ed25519 identity signature" \
    || fail "openssl rejects the identity signature"

# --- the TPM parts are checked on their own: alter one and re-sign the bundle
# with a software key (a thief of the identity key) put in place of the identity
EVIL=$(openssl pkey -in "$W/evil.pem" -pubout -outform DER 2>/dev/null | xxd -p | tr -d '\n')
ID_OFF=$(fields "$E" | awk '$1 == "0003" { print $2 }')
resign() { # HEX FILE: put the evil identity in, sign header and body with it
    local h=$1 o=$((2 * ID_OFF))
    h="${h:0:o}$EVIL${h:o+88}"
    tofile "${h:0:$((2 * EB))}" "$W/r.signed"
    openssl pkeyutl -sign -inkey "$W/evil.pem" -rawin -in "$W/r.signed" -out "$W/r.sig" 2>/dev/null
    tofile "${h:0:$((2 * EB))}0003$(printf %04x 64)$(hexof "$W/r.sig")" "$2"
}
resign "$E" "$W/r.bin"
verify "$W/r.bin" --nonce $N --ak-name "$AKNAME" --identity-pub "$W/evil.pub"
[ "$rc" = 0 ] && pass "re-signed without changes: verifies only for a verifier told to trust that identity key" \
    || fail "re-signed bundle: $out"
expect_fail "a re-signed bundle, no identity expected" identity-in-tpm "$W/r.bin" --nonce $N --ak-name "$AKNAME"
expect_fail "a re-signed bundle, identity expected" identity-expected "$W/r.bin" --nonce $N --identity-pub "$W/ex/identity.der"
field_off() { fields "$E" | awk -v t="$1" '$1 == t { print $2 + int($3 / 2); exit }'; }
alter() { # WHAT TAG CHECK [verify args]: flip a byte in field TAG, re-sign, expect CHECK to fail
    local what=$1 tag=$2 check=$3
    shift 3
    resign "$(flip "$E" "$(field_off "$tag")")" "$W/r.bin"
    expect_fail "$what (re-signed)" "$check" "$W/r.bin" --nonce $N "$@"
}
alter "a PCR value altered" 0022 pcr-digest
alter "the quote altered" 0020 quote-signature
alter "the quote signature altered" 0021 quote-signature
alter "the AK replaced" 0010 ak-name --ak-name "$AKNAME"
alter "the nonce field altered" 0001 nonce
alter "a certified key's public area altered" 0033 key1-name
alter "a certification altered" 0034 key1-signature
alter "a certification signature altered" 0035 key1-signature
alter "the EK public key altered" 0011 ek-public

# --- the length-query convention: attest create calls C_Sign twice (a length
# query, then the fetch): the TPM bus (tpm2-tss's pcap TCTI) shows one TPM2_Quote
pcap_lib=$(ls /usr/lib/*/libtss2-tcti-pcap.so* /usr/lib/libtss2-tcti-pcap.so* 2>/dev/null | head -1 || true)
count_cmd() { od -An -v -tx1 "$1" | tr -s ' \n' ' ' | grep -oE " 80 02( [0-9a-f]{2}){4} $2" | wc -l; }
if [ -n "$pcap_lib" ]; then
    TPMTRUST_TCTI="pcap:$TPMTRUST_TCTI" TCTI_PCAP_FILE=$W/q.pcap \
        $T attest create --token att --nonce $N --identity 01 --key mac --out "$W/q.bin" >/dev/null
    q=$(count_cmd "$W/q.pcap" "00 00 01 58"); c=$(count_cmd "$W/q.pcap" "00 00 01 48")
    [ "$q" = 1 ] && [ "$c" = 2 ] && pass "C_Sign length query + fetch: one TPM2_Quote and 2 TPM2_Certify on the bus" \
        || fail "TPM2_Quote x$q, TPM2_Certify x$c on the bus"
elif [ "${CI:-}" = true ]; then
    fail "the pcap TCTI (libtss2-tcti-pcap0) is not installed"
fi
[ "$(tpm2_getcap handles-transient | grep -c 0x || true)" = 0 ] && pass "no transient object left in the TPM" \
    || fail "transient objects left: $(tpm2_getcap handles-transient)"

# --- a PCR-bound key is still certified after its PCR changed; the quote shows the change
tpm2_pcrextend 16:sha256=$Z
$T attest create --token att --nonce $N --identity 01 --key bound --pcrs sha256:16 --out "$W/p.bin" >/dev/null \
    && pass "a key bound to PCR 16 is certified after PCR 16 changed" || fail "create after extend"
expect_fail "PCR 16 after the extend" pcr-16 "$W/p.bin" --nonce $N --expect-pcr 16=$Z

# --- TPM power cycle: same AK, old snapshots verify, new ones link to the same AK
swtpm_restart
AK2=$($T attest ak | sed -n 's/^AK name: //p')
[ "$AK2" = "$AKNAME" ] && pass "after a power cycle the AK is re-derived with the same name" \
    || fail "AK after power cycle: $AK2"
verify "$W/a.bin" --nonce $N --ak-name "$AKNAME"
[ "$rc" = 0 ] && pass "the old snapshot still verifies" || fail "old snapshot: $out"
M=5eed$N
$T attest create --token att --nonce $M --identity 01 --out "$W/b.bin" >/dev/null
verify "$W/b.bin" --nonce $M --ak-name "$AKNAME"
RESET1=$(sed -n 's/.*reset count \([0-9]*\),.*/\1/p' <<<"$out")
[ "$rc" = 0 ] && [ "$RESET1" -gt "$RESET0" ] \
    && pass "a new snapshot links to the same AK (TPM reset count $RESET0 -> $RESET1)" \
    || fail "new snapshot after power cycle (reset $RESET0 -> $RESET1): $out"

# --- optional persistent AK: same name, used through TPMTRUST_AK_HANDLE
$T attest ak --persist 0x81000020 >/dev/null && [ "$(TPMTRUST_AK_HANDLE=0x81000020 $T attest ak | sed -n 's/^AK name: //p')" = "$AKNAME" ] \
    && pass "a persistent AK at 0x81000020 has the same name" || fail "persistent AK"
# on this raw swtpm (3 object slots): the SRK, the identity and the certified
# keys are loaded around the persistent AK
TPMTRUST_AK_HANDLE=0x81000020 $T attest create --token att --nonce $N --identity 01 --key mac \
    --key bound --out "$W/h.bin" >/dev/null
verify "$W/h.bin" --nonce $N --ak-name "$AKNAME"
[ "$rc" = 0 ] && pass "a snapshot with the persistent AK (and two certified keys, raw swtpm) verifies" \
    || fail "persistent AK snapshot: $out"
tpm2_evictcontrol -Q -C o -c 0x81000020

# --- credential activation: the AK lives in the TPM of this EK
$T attest ek --dir "$W/ekA" >/dev/null
head -c 32 /dev/urandom >"$W/secret"
$T attest make-credential --ek-pub "$W/ekA/ek.pub" --ak-name "$AKNAME" --file "$W/secret" --out "$W/cred" \
    && [ "$($T attest activate-credential --file "$W/cred")" = "$(hexof "$W/secret")" ] \
    && pass "make-credential (ECC EK) / activate-credential gives the secret back" || fail "credential (ECC EK)"
tpm2_makecredential -Q -T none -G ecc -u "$W/ekA/ek.pem" -s "$W/secret" -n "$AKNAME" -o "$W/cred2" 2>/dev/null \
    && [ "$($T attest activate-credential --file "$W/cred2")" = "$(hexof "$W/secret")" ] \
    && pass "a credential from tpm2_makecredential activates too" || fail "tpm2_makecredential credential"
$T attest make-credential --ek-pub "$W/ekA/ek.pub" --ak-name 000b$Z --file "$W/secret" --out "$W/cred3"
if $T attest activate-credential --file "$W/cred3" >/dev/null 2>&1; then
    fail "a credential for another AK name activated"; else pass "a credential for another AK name does not activate"; fi

# --- a bundle forged entirely in software (tests/unit/test-attest-forge: a
# software "AK" with the AK template's attributes, a software-signed quote and
# certification, this TPM's public EK copied in) passes every check it can make
# about itself; only the trusted AK name tells it from a real one
FORGE=$TT_BUILDDIR/tests/unit/test-attest-forge
FAKEAK=$("$FORGE" "$W/forged.bin" $N "$W/ekA/ek.pub" | sed -n 's/^forged AK name: //p')
verify "$W/forged.bin" --nonce $N
[ "$rc" = 1 ] && grep -q '^\[FAIL\] ak-trust: NOT ESTABLISHED' <<<"$out" && grep -q '^UNAUTHENTICATED:' <<<"$out" \
    && [ "$(grep -c '^\[FAIL\]' <<<"$out")" = 1 ] && [ "$(grep -c '^\[ ok \]' <<<"$out")" -ge 15 ] \
    && pass "a forged bundle (this TPM's EK, no TPM behind it) is unauthenticated without --ak-name: exit 1, $(grep -c '^\[ ok \]' <<<"$out") other checks pass" \
    || fail "forged bundle without --ak-name: rc=$rc $out"
expect_fail "a forged bundle against the trusted AK name" ak-name "$W/forged.bin" --nonce $N --ak-name "$AKNAME"
verify "$W/forged.bin" --nonce $N --ak-name "$FAKEAK"
[ "$rc" = 0 ] && pass "it passes only for a verifier that trusts the forger's AK name" || fail "forged, its own AK: $out"
$T attest make-credential --ek-pub "$W/ekA/ek.pub" --ak-name "$FAKEAK" --file "$W/secret" --out "$W/cred5"
if $T attest activate-credential --file "$W/cred5" >/dev/null 2>&1; then
    fail "a credential for the forged AK activated"; else pass "a credential for the forged AK name does not activate on this TPM"; fi

# --- a second TPM, set up by swtpm_setup with an EK certificate (RSA EK)
cat >"$W/localca.conf" <<EOF
statedir = $W/ca
signingkey = $W/ca/signkey.pem
issuercert = $W/ca/issuercert.pem
certserial = $W/ca/certserial
EOF
cat >"$W/setup.conf" <<EOF
create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $W/localca.conf
create_certs_tool_options = /etc/swtpm-localca.options
active_pcr_banks = sha256
EOF
mkdir -p "$W/ca"
[ -r /etc/swtpm-localca.options ] || sed -i 's|^create_certs_tool_options.*||' "$W/setup.conf"
# its own swtpm, state dir and token store; everything it shows lands in $W/b
(
    unset TT_TMP TT_SWTPM_PORT TT_SWTPM_PID _TT_OWNER_PID TPMTRUST_STORE XDG_DATA_HOME
    swtpm_start 2>/dev/null
    trap tt_cleanup EXIT
    swtpm_stop 2>/dev/null
    swtpm_setup --tpm2 --tpmstate "$TT_TMP/tpm" --create-ek-cert --overwrite --config "$W/setup.conf" \
        --logfile "$W/setup.log" >/dev/null
    swtpm_start 2>/dev/null
    mkdir -p "$W/b"
    $T attest ek --dir "$W/b" >"$W/b/ek.out"
    $T attest ak | sed -n 's/^AK name: //p' >"$W/b/ak.name"
    $T token init --label other >/dev/null
    $T key generate --token other --type ecdsa-p256 --label id --id 01 >/dev/null
    $T attest create --token other --nonce $N --identity 01 --out "$W/b/s.bin" >/dev/null
    $T attest activate-credential --file "$W/cred" >"$W/b/act-a.out" 2>&1 || echo "rc=$?" >>"$W/b/act-a.out"
    $T attest make-credential --ek-pub "$W/b/ek.pub" --ak-name "$(cat "$W/b/ak.name")" --file "$W/secret" --out "$W/b/cred"
    $T attest activate-credential --file "$W/b/cred" >"$W/b/act-b.out" 2>&1 || echo "rc=$?" >>"$W/b/act-b.out"
    "$FORGE" "$W/b/forged.bin" $N "$W/b/ek.pub" "$W/b/ek.crt" >/dev/null
) || fail "second TPM (swtpm_setup): $(tail -3 "$W/setup.log" 2>/dev/null)"
grep -q "EK certificate: present" "$W/b/ek.out" && openssl x509 -inform DER -in "$W/b/ek.crt" -noout 2>/dev/null \
    && pass "attest ek reads the RSA EK certificate swtpm_setup wrote to NV 0x01c00002" || fail "EK cert: $(cat "$W/b/ek.out")"
cat "$W/ca/swtpm-localca-rootca-cert.pem" "$W/ca/issuercert.pem" >"$W/ca/chain.pem"
verify "$W/b/s.bin" --nonce $N --ak-name "$(cat "$W/b/ak.name")" --ek-ca "$W/ca/chain.pem"
[ "$rc" = 0 ] && grep -q '^\[ ok \] ek-cert:' <<<"$out" && grep -q '^\[ ok \] ek-chain:' <<<"$out" \
    && pass "its snapshot carries the EK certificate, which certifies the EK and chains to the CA" \
    || fail "EK certificate checks: $out"
expect_fail "the root alone, without the intermediate" ek-chain "$W/b/s.bin" --nonce $N \
    --ak-name "$(cat "$W/b/ak.name")" --ek-ca "$W/ca/swtpm-localca-rootca-cert.pem"
mkdir -p "$W/ca/inter" "$W/ca/none"
openssl x509 -in "$W/ca/issuercert.pem" -outform DER -out "$W/ca/inter/issuer.der"
echo "not a certificate" >"$W/ca/none/readme.txt"
verify "$W/b/s.bin" --nonce $N --ak-name "$(cat "$W/b/ak.name")" \
    --ek-ca "$W/ca/swtpm-localca-rootca-cert.pem" --ek-intermediates "$W/ca/inter"
[ "$rc" = 0 ] && grep -q '^\[ ok \] ek-chain:' <<<"$out" \
    && pass "the root alone with --ek-intermediates (a DER intermediate in the directory) chains" \
    || fail "--ek-intermediates: $out"
expect_fail "--ek-intermediates naming a directory without certificates" ek-chain "$W/b/s.bin" \
    --nonce $N --ak-name "$(cat "$W/b/ak.name")" --ek-ca "$W/ca/swtpm-localca-rootca-cert.pem" \
    --ek-intermediates "$W/ca/none"
verify "$W/b/forged.bin" --nonce $N --ek-ca "$W/ca/chain.pem"
[ "$rc" = 1 ] && grep -q '^\[ ok \] ek-chain:' <<<"$out" && grep -q '^\[FAIL\] ak-trust: NOT ESTABLISHED' <<<"$out" \
    && [ "$(grep -c '^\[FAIL\]' <<<"$out")" = 1 ] \
    && pass "a forged bundle with a genuine EK certificate copied in: ek-chain passes, still unauthenticated (exit 1)" \
    || fail "forged bundle with --ek-ca: rc=$rc $out"
expect_fail "that forged bundle against the other TPM's AK name" ak-name "$W/b/forged.bin" --nonce $N \
    --ak-name "$(cat "$W/b/ak.name")" --ek-ca "$W/ca/chain.pem"
expect_fail "an EK certificate against another CA" ek-chain "$W/b/s.bin" --nonce $N --ek-ca "$W/x/ak.pem"
grep -q "^rc=1" "$W/b/act-a.out" && pass "a credential made for this TPM's EK does not activate on the other TPM" \
    || fail "credential activated on the other TPM: $(cat "$W/b/act-a.out")"
[ "$(cat "$W/b/act-b.out")" = "$(hexof "$W/secret")" ] && pass "make-credential for the other TPM's RSA EK activates there" \
    || fail "RSA EK credential: $(cat "$W/b/act-b.out")"
$T attest make-credential --ek-pub "$W/b/ek.pub" --ak-name "$AKNAME" --file "$W/secret" --out "$W/cred4"
if $T attest activate-credential --file "$W/cred4" >/dev/null 2>&1; then
    fail "a credential for another TPM's EK activated here"; else pass "a credential for another TPM's EK fails here"; fi

[ "$(tpm2_getcap handles-transient | grep -c 0x || true)" = 0 ] && pass "nothing left loaded in the TPM" \
    || fail "transient objects left: $(tpm2_getcap handles-transient)"
echo "$fails failed"
[ "$fails" -eq 0 ]
