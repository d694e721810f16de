#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# p11-kit: `make install` puts the module, its .module file, the tool and the
# header in place; p11-kit lists the module with its token; the module works
# through p11-kit-proxy.so; and an application that only loads the module,
# initializes and finalizes touches neither the TPM nor the store.
set -euo pipefail
fails=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
W=$(mktemp -d "$TT_TMP/p11kit.XXXXXX")
PROXY=$(ls /usr/lib/*/p11-kit-proxy.so | head -1)
CONF=/etc/pkcs11/modules/tpmtrust-test-$$.module
cleanup() { rm -f "$CONF"; }
trap cleanup EXIT

# make install into a staging root
make -s -C "$TT_BUILDDIR" install DESTDIR="$W/root" >/dev/null 2>&1 && pass "make install" || fail "make install"
so=$(find "$W/root" -name tpmtrust-pkcs11.so -path '*/pkcs11/*' | head -1)
mod=$(find "$W/root" -name tpmtrust.module | head -1)
[ -n "$so" ] && pass "module installed in a pkcs11 directory (${so#"$W"/root})" || fail "no installed module"
[ -n "$mod" ] && grep -q "^module: /.*/pkcs11/tpmtrust-pkcs11.so$" "$mod" \
    && pass "tpmtrust.module names the module by absolute path (${mod#"$W"/root})" || fail "module file: $(cat "$mod" 2>&1)"
find "$W/root" -path '*/bin/tpmtrust-tool' | grep -q . && find "$W/root" -name pkcs11-tpmtrust.h | grep -q . \
    && pass "tool and vendor header installed" || fail "tool or header missing"
nm -D --defined-only "$so" | awk '$2 == "T" {print $3}' | sort | tr '\n' ' ' >"$W/exports"
[ "$(cat "$W/exports")" = "C_GetFunctionList C_GetInterface C_GetInterfaceList " ] \
    && pass "exports only C_GetFunctionList, C_GetInterface, C_GetInterfaceList" || fail "exports: $(cat "$W/exports")"

TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234 "$TT_TOOL" token init --label kit >/dev/null

# p11-kit reads /etc/pkcs11/modules: register the staged module there for the test
if [ -w /etc ] || [ "$(id -u)" = 0 ]; then
    mkdir -p /etc/pkcs11/modules
    sed "s|^module:.*|module: $so|" "$mod" >"$CONF"
    out=$(timeout 30 p11-kit list-modules 2>&1)
    grep -q "tpmtrust" <<<"$out" && grep -q "token: kit" <<<"$out" \
        && pass "p11-kit list-modules shows tpmtrust and its token" || fail "list-modules: $out"
    grep -A8 "token: kit" <<<"$out" | grep -q "manufacturer: tpmtrust" \
        && pass "with its manufacturer" || fail "token details: $out"
    # through the proxy: a key, a signature verified by openssl
    P=(pkcs11-tool --module "$PROXY" --token-label kit)
    "${P[@]}" --login --pin 1234 --keypairgen --key-type EC:prime256v1 --id 0a --label viaproxy >/dev/null 2>&1 \
        && pass "key generated through p11-kit-proxy" || fail "keypairgen through the proxy"
    head -c 32 /dev/urandom >"$W/digest"
    "${P[@]}" --login --pin 1234 --sign -m ECDSA --id 0a -i "$W/digest" -o "$W/sig" \
        --signature-format openssl >/dev/null 2>&1
    "${P[@]}" --read-object --type pubkey --id 0a -o "$W/pub.der" >/dev/null 2>&1
    openssl pkey -pubin -inform DER -in "$W/pub.der" -out "$W/pub.pem" 2>/dev/null
    openssl pkeyutl -verify -pubin -inkey "$W/pub.pem" -in "$W/digest" -sigfile "$W/sig" >/dev/null \
        && pass "signature through p11-kit-proxy verified by openssl" || fail "proxy signature"
    t0=$(date +%s%N)
    for _ in 1 2 3 4 5; do p11-kit list-modules >/dev/null 2>&1; done
    echo "# p11-kit list-modules with tpmtrust and its token: $(( ($(date +%s%N) - t0) / 5000000 )) ms"
    rm -f "$CONF"
else
    fail "cannot write /etc/pkcs11/modules (run as root)"
fi

# Loading, C_Initialize, C_GetInfo, C_Finalize: no TPM, no store needed.
out=$(TPMTRUST_TCTI=device:/dev/no-such-tpm TPMTRUST_STORE=/nonexistent/dir/store.sqlite3 \
    "$TT_BUILDDIR/tests/module/p11-threads" "$TT_MODULE" init 2>&1) && ! grep -qi "error\|tpmtrust\[" <<<"$out" \
    && pass "load + C_Initialize + C_GetInfo + C_Finalize touch neither TPM nor store" || fail "show-info: $out"
# Listing slots needs the store, not the TPM.
out=$(TPMTRUST_TCTI=device:/dev/no-such-tpm pkcs11-tool --module "$TT_MODULE" --list-slots 2>&1 | grep -c "token label *: kit" || true)
[ "$out" = 1 ] && pass "slots listed without a TPM" || fail "slot listing without a TPM: $out"
# what an application that scans p11-kit modules pays (a figure, not an assertion)
t0=$(date +%s%N)
for _ in 1 2 3 4 5 6 7 8 9 10; do "$TT_BUILDDIR/tests/module/p11-threads" "$TT_MODULE" init >/dev/null; done
t1=$(date +%s%N)
for _ in 1 2 3 4 5 6 7 8 9 10; do p11-kit list-modules >/dev/null 2>&1; done
t2=$(date +%s%N)
echo "# a process that loads the module, initializes, asks C_GetInfo, finalizes: $(( (t1 - t0) / 10000000 )) ms"
echo "# p11-kit list-modules (without tpmtrust registered): $(( (t2 - t1) / 10000000 )) ms"

echo "$fails failed"
[ "$fails" -eq 0 ]
