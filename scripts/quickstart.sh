#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Quick start: install dependencies, build, start a private swtpm, create a
# token and a TPM-resident ECDSA key, sign with pkcs11-tool, verify with openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

bash scripts/install-deps.sh
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure >/dev/null; } && make -j"$(nproc)" >/dev/null)
MODULE=$top/build/.libs/tpmtrust-pkcs11.so
TOOL=$top/build/tpmtrust-tool

# A private TPM simulator on a free port, stopped when this script ends.
. tests/swtpm-env.sh
tt_require_swtpm
swtpm_start
echo "== swtpm on port $TT_SWTPM_PORT; store $TPMTRUST_STORE"

echo "== a token (SO PIN 12345678, user PIN 1234)"
TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234 "$TOOL" token init --label demo
echo "== a P-256 key generated inside the TPM"
pkcs11-tool --module "$MODULE" --token-label demo --login --pin 1234 \
    --keypairgen --key-type EC:prime256v1 --id 01 --label demo-key
echo "== sign with pkcs11-tool, verify with openssl"
echo "hello from the TPM" >"$TT_TMP/message"
pkcs11-tool --module "$MODULE" --token-label demo --login --pin 1234 --sign -m ECDSA-SHA256 \
    --id 01 -i "$TT_TMP/message" -o "$TT_TMP/message.sig" --signature-format openssl
pkcs11-tool --module "$MODULE" --token-label demo --read-object --type pubkey --id 01 \
    -o "$TT_TMP/pub.der"
openssl pkey -pubin -inform DER -in "$TT_TMP/pub.der" -out "$TT_TMP/pub.pem"
openssl dgst -sha256 -verify "$TT_TMP/pub.pem" -signature "$TT_TMP/message.sig" "$TT_TMP/message"
"$TOOL" object list --label demo
echo "== done: the private key never left the TPM"
