#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# RSA keys in the TPM, every signature checked by OpenSSL:
#  - pkcs11-tool --keypairgen rsa:2048 and rsa:3072; the public key read back
#    (CKA_PUBLIC_KEY_INFO) is the one OpenSSL verifies with;
#  - SHA1..SHA512-RSA-PKCS (openssl dgst -verify), RSA-PKCS over a DigestInfo
#    (openssl pkeyutl -verify), SHA*-RSA-PKCS-PSS with salt 0, the hash length
#    and the largest salt, and RSA-PKCS-PSS over a hash (openssl pkeyutl
#    -verify with rsa_pss_saltlen:N);
#  - refusals: a PSS salt too long (CKR_MECHANISM_PARAM_INVALID), RSA-PKCS
#    input over k - 11 bytes (CKR_DATA_LEN_RANGE), 1024 bits (CKR_KEY_SIZE_RANGE)
#    (pkcs11-tool itself refuses a PSS input that is not the hash's length);
#  - C_CreateObject of the public key (pkcs11-tool --write-object), which then
#    verifies in software: the good signature passes, a changed one fails;
#  - the store holds no RSA private attribute;
#  - tests/module/test-rsa (CKR codes, EVP checks), and on the TPM bus one
#    command per signature in steady state.
set -euo pipefail

. "$(dirname "$0")/common.sh"

W=$TT_TMP/rsa
mkdir -p "$W"
export TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234
P11=(timeout -k 1 120 pkcs11-tool --module "$TT_MODULE" --token-label rsa --login --pin 1234)

timeout -k 1 60 "$TT_TOOL" token init --label rsa >/dev/null || die "token init"
"${P11[@]}" --keypairgen --key-type rsa:2048 --id 01 --label r2048 >"$W/gen1.log" 2>&1 \
    || die "keypairgen rsa:2048: $(cat "$W/gen1.log")"
grep -q "RSA 2048 bits" "$W/gen1.log" || die "keypairgen: $(cat "$W/gen1.log")"
"${P11[@]}" --keypairgen --key-type rsa:3072 --id 02 --label r3072 >"$W/gen2.log" 2>&1 \
    || die "keypairgen rsa:3072: $(cat "$W/gen2.log")"
if "${P11[@]}" --keypairgen --key-type rsa:1024 --id 09 >"$W/gen3.log" 2>&1; then
    die "a 1024-bit key was made"
fi
grep -q CKR_KEY_SIZE_RANGE "$W/gen3.log" || die "rsa:1024: $(cat "$W/gen3.log")"

head -c 1000 /dev/urandom >"$W/data"
checks=0
for id in 01 02; do
    "${P11[@]}" --read-object --type pubkey --id $id -o "$W/pub$id.der" >/dev/null 2>&1 \
        || die "read pubkey $id"
    openssl pkey -pubin -inform DER -in "$W/pub$id.der" -out "$W/pub$id.pem" || die "pub $id"
    bits=$(openssl pkey -pubin -in "$W/pub$id.pem" -text_pub -noout | sed -n 's/.*(\([0-9]*\) bit).*/\1/p')
    [ "$bits" = $([ $id = 01 ] && echo 2048 || echo 3072) ] || die "key $id: $bits bits"
    k=$((bits / 8))
    for h in sha1 sha224 sha256 sha384 sha512; do
        H=$(echo $h | tr a-z A-Z)
        "${P11[@]}" --sign -m $H-RSA-PKCS --id $id -i "$W/data" -o "$W/sig" >/dev/null 2>&1 \
            || die "$id $H-RSA-PKCS"
        openssl dgst -$h -verify "$W/pub$id.pem" -signature "$W/sig" "$W/data" >/dev/null \
            || die "$id $H-RSA-PKCS: OpenSSL does not verify"
        checks=$((checks + 1))
        hlen=$(openssl dgst -$h -binary "$W/data" | wc -c)
        for salt in 0 $hlen $((k - hlen - 2)); do
            "${P11[@]}" --sign -m $H-RSA-PKCS-PSS --mgf MGF1-$H --salt-len $salt --id $id \
                -i "$W/data" -o "$W/sig" >/dev/null 2>&1 || die "$id $H-RSA-PKCS-PSS salt $salt"
            openssl dgst -$h -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:$salt \
                -verify "$W/pub$id.pem" -signature "$W/sig" "$W/data" >/dev/null \
                || die "$id $H-RSA-PKCS-PSS salt $salt: OpenSSL does not verify"
            checks=$((checks + 1))
        done
        # the hash given: RSA-PKCS-PSS
        openssl dgst -$h -binary "$W/data" >"$W/hash"
        HA=$([ $h = sha1 ] && echo SHA-1 || echo $H)
        "${P11[@]}" --sign -m RSA-PKCS-PSS --hash-algorithm $HA --mgf MGF1-$H --salt-len $hlen \
            --id $id -i "$W/hash" -o "$W/sig" >"$W/err" 2>&1 || die "$id RSA-PKCS-PSS $H: $(cat "$W/err")"
        openssl pkeyutl -verify -pubin -inkey "$W/pub$id.pem" -in "$W/hash" -sigfile "$W/sig" \
            -pkeyopt rsa_padding_mode:pss -pkeyopt digest:$h -pkeyopt rsa_pss_saltlen:$hlen \
            >/dev/null || die "$id RSA-PKCS-PSS $H: OpenSSL does not verify"
        checks=$((checks + 1))
    done
    # RSA-PKCS over a DigestInfo made by OpenSSL (SHA-256)
    openssl dgst -sha256 -binary "$W/data" >"$W/hash"
    { printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'
      cat "$W/hash"; } >"$W/di"
    "${P11[@]}" --sign -m RSA-PKCS --id $id -i "$W/di" -o "$W/sig" >/dev/null 2>&1 \
        || die "$id RSA-PKCS"
    openssl pkeyutl -verify -pubin -inkey "$W/pub$id.pem" -in "$W/hash" -sigfile "$W/sig" \
        -pkeyopt digest:sha256 >/dev/null || die "$id RSA-PKCS: OpenSSL does not verify"
    openssl dgst -sha256 -verify "$W/pub$id.pem" -signature "$W/sig" "$W/data" >/dev/null \
        || die "$id RSA-PKCS: not SHA256-RSA-PKCS of the data"
    checks=$((checks + 1))
done

# refusals
if "${P11[@]}" --sign -m SHA256-RSA-PKCS-PSS --mgf MGF1-SHA256 --salt-len 223 --id 01 \
    -i "$W/data" -o "$W/sig" >"$W/err" 2>&1; then die "PSS salt 223 on 2048 bits signed"; fi
grep -q CKR_MECHANISM_PARAM_INVALID "$W/err" || die "PSS salt too long: $(cat "$W/err")"
head -c 246 /dev/zero >"$W/long"
if "${P11[@]}" --sign -m RSA-PKCS --id 01 -i "$W/long" -o "$W/sig" >"$W/err" 2>&1; then
    die "RSA-PKCS over 246 bytes signed"
fi
grep -q CKR_DATA_LEN_RANGE "$W/err" || die "RSA-PKCS too long: $(cat "$W/err")"
checks=$((checks + 2))

# C_CreateObject of the public key; software verification through the module
"${P11[@]}" --write-object "$W/pub01.der" --type pubkey --id 05 --label imported \
    >"$W/err" 2>&1 || die "write pubkey: $(cat "$W/err")"
"${P11[@]}" --sign -m SHA256-RSA-PKCS-PSS --mgf MGF1-SHA256 --id 01 -i "$W/data" -o "$W/sig" \
    >/dev/null 2>&1 || die "sign for verify"
"${P11[@]}" --verify -m SHA256-RSA-PKCS-PSS --mgf MGF1-SHA256 --id 05 -i "$W/data" \
    --signature-file "$W/sig" >"$W/err" 2>&1 || die "verify with imported key: $(cat "$W/err")"
grep -q "Signature is valid" "$W/err" || die "verify: $(cat "$W/err")"
# one bit changed (pkcs11-tool --verify exits 0 either way: its message says)
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[100] ^= 1; open(sys.argv[1], "wb").write(b)' "$W/sig"
"${P11[@]}" --verify -m SHA256-RSA-PKCS-PSS --mgf MGF1-SHA256 --id 05 -i "$W/data" \
    --signature-file "$W/sig" >"$W/err" 2>&1 || true
grep -q "Invalid signature" "$W/err" && ! grep -q "Signature is valid" "$W/err" \
    || die "changed signature: $(cat "$W/err")"
checks=$((checks + 2))

# the store: RSA keys' rows hold public attributes only (CKA_PRIVATE_EXPONENT
# 0x123 .. CKA_COEFFICIENT 0x128 never appear as attribute types)
store=$TPMTRUST_STORE
for t in 23 24 25 26 27 28; do
    if sqlite3 "$store" "select hex(attrs) from objects" | grep -q "01${t}000000000000"; then
        die "an RSA private attribute (0x1$t) in the store"
    fi
done
n=$(sqlite3 "$store" "select count(*) from objects")
[ "$n" -ge 5 ] || die "$n objects in the store"
checks=$((checks + 1))

# tests/module/test-rsa: CKR codes, length queries, EVP verification
RSAT=$TT_BUILDDIR/tests/module/test-rsa
[ -x "$RSAT" ] || die "$RSAT not built (make check builds it)"
timeout -k 1 120 "$RSAT" "$TT_MODULE" rsa 1234 >"$W/t.out" 2>&1 || die "test-rsa: $(cat "$W/t.out")"
checks=$((checks + $(grep -c '^ok ' "$W/t.out")))

# steady state: each further signature is one TPM command (TPM2_RSA_Decrypt,
# 0x159) on the bus (tpm2-tss's pcap TCTI)
count() { od -An -v -tx1 "$1" | tr -s ' \n' ' ' | grep -oE " 80 0[12]( [0-9a-f]{2}){4} 00 00 01 $2" | wc -l; }
if compgen -G '/usr/lib/*/libtss2-tcti-pcap.so*' >/dev/null || compgen -G '/usr/lib/libtss2-tcti-pcap.so*' >/dev/null; then
    for n in 0 20; do
        TPMTRUST_TCTI="pcap:$TPMTRUST_TCTI" TCTI_PCAP_FILE=$W/s$n.pcap \
            timeout -k 1 120 "$RSAT" "$TT_MODULE" rsa 1234 $n >"$W/t$n.out" 2>&1 \
            || die "test-rsa $n: $(cat "$W/t$n.out")"
    done
    d_all=$(($(count "$W/s20.pcap" '[0-9a-f]{2}') - $(count "$W/s0.pcap" '[0-9a-f]{2}')))
    d_rsa=$(($(count "$W/s20.pcap" 59) - $(count "$W/s0.pcap" 59)))
    [ "$d_all" = 20 ] && [ "$d_rsa" = 20 ] \
        || die "20 more signatures: $d_all more TPM commands, $d_rsa more TPM2_RSA_Decrypt"
    checks=$((checks + 1))
else
    skip "the pcap TCTI (libtss2-tcti-pcap0) is not installed"
fi

msg "ok: $checks checks"
