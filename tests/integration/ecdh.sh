#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# ECDH (CKM_ECDH1_DERIVE) with TPM EC keys, checked against OpenSSL:
#  - P-256 and P-384 keys made with CKA_DERIVE: Z (CKD_NULL) equals
#    `openssl pkeyutl -derive`, through tests/module/p11-ecdh and pkcs11-tool --derive;
#  - CKD_SHA1..SHA512_KDF with and without shared data, and a CKA_VALUE_LEN
#    longer than one hash, equal `openssl kdf X963KDF`;
#  - a derived key made with CKA_SIGN goes into the TPM: its HMAC-SHA256 equals
#    OpenSSL's under the same derived value, and its value cannot be read;
#  - a key without CKA_DERIVE: CKR_KEY_FUNCTION_NOT_PERMITTED; a point off the
#    curve, a KDF with CKD_NULL's shared data, CKA_TOKEN TRUE: refused;
#  - the pcap capture of a derivation holds neither Z nor the derived key.
# Run as: tests/with-swtpm.sh tests/integration/ecdh.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"

ECDH=$TT_BUILDDIR/tests/module/p11-ecdh
[ -x "$ECDH" ] || die "$ECDH not built (make check builds it)"
W=$TT_TMP/ecdh
mkdir -p "$W"
export TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234
P11=(pkcs11-tool --module "$TT_MODULE" --token-label ecdh --login --pin 1234)

timeout -k 1 60 "$TT_TOOL" token init --label ecdh >/dev/null || die "token init"
timeout -k 1 60 "${P11[@]}" --keypairgen --key-type EC:prime256v1 --id 01 --label p256 \
    --usage-derive >/dev/null || die "keypairgen P-256"
timeout -k 1 60 "${P11[@]}" --keypairgen --key-type EC:secp384r1 --id 02 --label p384 \
    --usage-derive >/dev/null || die "keypairgen P-384"
timeout -k 1 60 "$TT_TOOL" key generate --token ecdh --type ecdsa-p256 --label noderive --id 03 \
    >/dev/null || die "key generate (no CKA_DERIVE)"

hexof() { xxd -p "$1" | tr -d '\n'; }
# derive ID PEERHEX KDF SHARED LEN [hmac DATA]
derive() { timeout -k 1 60 "$ECDH" "$TT_MODULE" ecdh 1234 "$@"; }

checks=0
for pair in 01:P-256 02:P-384; do
    id=${pair%%:*} curve=${pair#*:}
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:$curve -out "$W/peer$id.pem" 2>/dev/null
    openssl pkey -in "$W/peer$id.pem" -pubout -outform DER -out "$W/peer$id.der"
    n=$([ "$curve" = P-256 ] && echo 65 || echo 97)
    peer=$(tail -c "$n" "$W/peer$id.der" | xxd -p | tr -d '\n')
    z=$(P11_ECDH_SPKI=$W/ours$id.der derive "$id" "$peer" null - 0) || die "$curve: derive: $z"
    openssl pkeyutl -derive -inkey "$W/peer$id.pem" -peerkey "$W/ours$id.der" -peerform DER \
        -out "$W/z$id.bin" || die "openssl pkeyutl -derive"
    want=$(hexof "$W/z$id.bin")
    [ "$z" = "$want" ] || die "$curve: Z $z, OpenSSL $want"
    checks=$((checks + 1))
    # pkcs11-tool's own ECDH (CKD_NULL, the peer key as DER SubjectPublicKeyInfo)
    timeout -k 1 60 "${P11[@]}" --derive -m ECDH1-DERIVE --id "$id" --input-file "$W/peer$id.der" \
        --output-file "$W/tool$id.bin" >/dev/null 2>&1 || die "$curve: pkcs11-tool --derive"
    [ "$(hexof "$W/tool$id.bin")" = "$want" ] || die "$curve: pkcs11-tool --derive differs from OpenSSL"
    checks=$((checks + 1))
    for kdf in sha1 sha224 sha256 sha384 sha512; do
        for shared in - 0102030405060708; do
            for len in 0 100; do
                got=$(derive "$id" "$peer" $kdf $shared $len) || die "$curve $kdf: $got"
                digest=$(echo $kdf | tr a-z A-Z)
                hlen=$(openssl dgst -"$kdf" </dev/null | awk '{print length($NF) / 2}')
                keylen=$([ "$len" = 0 ] && echo "$hlen" || echo "$len")
                info=()
                [ "$shared" = - ] || info=(-kdfopt "hexinfo:$shared")
                exp=$(openssl kdf -keylen "$keylen" -kdfopt digest:$digest -kdfopt "hexsecret:$want" \
                    "${info[@]}" -binary X963KDF | xxd -p | tr -d '\n')
                [ "$got" = "$exp" ] || die "$curve $kdf shared=$shared len=$len: $got, OpenSSL $exp"
                checks=$((checks + 1))
            done
        done
    done
    msg "ok: $curve: Z and every X9.63 KDF equal OpenSSL's"
done

# A derived key for HMAC goes into the TPM.
peer=$(tail -c 65 "$W/peer01.der" | xxd -p | tr -d '\n')
k=$(derive 01 "$peer" sha256 - 32) || die "derive for HMAC: value"
mac=$(derive 01 "$peer" sha256 - 32 hmac 68656c6c6f) || die "derive for HMAC: $mac"
exp=$(printf hello | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$k" | awk '{print $NF}')
[ "$mac" = "$exp" ] || die "HMAC with the derived key: $mac, OpenSSL $exp"
msg "ok: a derived key with CKA_SIGN signs HMAC-SHA256 in the TPM, as OpenSSL does with its value"

# Refusals.
expect_ckr() { # WANT DESC ARGS...
    local want=$1 desc=$2 out rc=0
    shift 2
    out=$(derive "$@" 2>"$W/err") || rc=$?
    [ "$rc" = 3 ] && [ "$out" = "CKR $want" ] || { cat "$W/err" >&2; die "$desc: '$out' (rc $rc), want CKR $want"; }
    checks=$((checks + 1))
}
expect_ckr 0x68 "a key without CKA_DERIVE" 03 "$peer" null - 0
bad=04$(printf '%0128d' 1)
expect_ckr 0x71 "a point not on the curve" 01 "$bad" null - 0
expect_ckr 0x71 "CKD_NULL with shared data" 01 "$peer" null 0102 0
expect_ckr 0x71 "a P-384 point for a P-256 key" 01 "$(tail -c 97 "$W/peer02.der" | xxd -p | tr -d '\n')" null - 0
expect_ckr 0xd1 "CKA_VALUE_LEN over Z with CKD_NULL" 01 "$peer" null - 33
msg "ok: refusals"

# Nothing secret on the bus.
TPMTRUST_TCTI="pcap:$TPMTRUST_TCTI" TCTI_PCAP_FILE=$W/derive.pcap derive 01 "$peer" null - 0 \
    >"$W/z-pcap.hex" || die "derive under the pcap TCTI"
[ -s "$W/derive.pcap" ] || die "no pcap written"
zhex=$(cat "$W/z-pcap.hex")
if hexof "$W/derive.pcap" | grep -q "${zhex:0:32}"; then
    die "Z crosses the TPM bus in the clear"
fi
msg "ok: Z is not in the capture of a derivation"
tt_store_scan "Z (P-256)" "$(hexof "$W/z01.bin")" "Z (P-384)" "$(hexof "$W/z02.bin")" \
    "Z (pcap run)" "$zhex" || die "a derived value is in the store (above)"
msg "ok: $checks checks"
