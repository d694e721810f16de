#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Writes fuzz/corpus/tss2/: real TSS2 key files (a P-256 key by tpm2-openssl, our
# ECDSA and HMAC keys by export-tss2, with and without a password), each as the
# PEM file and as the DER inside it (the harness armours DER itself). A
# developer's tool; run it under a private swtpm from a built tree:
#   . /tmp/ttenv-<you>; bash tests/with-swtpm.sh fuzz/make-tss2-seeds.sh
set -euo pipefail
out=$TT_SRCDIR/fuzz/corpus/tss2
W=$(mktemp -d "$TT_TMP/seeds.XXXXXX")
T=$TT_TOOL
export TPMTRUST_PIN=1234 TPM2OPENSSL_TCTI=$TPMTRUST_TCTI
mkdir -p "$out"
TPMTRUST_SO_PIN=12345678 $T token init --label seeds >/dev/null
openssl genpkey -provider tpm2 -algorithm EC -pkeyopt group:P-256 -out "$W/tpm2-openssl-p256.pem"
tpm2_flushcontext -t >/dev/null 2>&1 || true
$T key generate --token seeds --type ecdsa-p256 --label ec >/dev/null
$T key generate --token seeds --type ecdsa-p384 --label ec384 >/dev/null
$T export-tss2 --token seeds --label ec --file "$W/export-p256.pem" >/dev/null
$T export-tss2 --token seeds --label ec384 --file "$W/export-p384.pem" >/dev/null
TPMTRUST_KEY_PASSWORD=pw $T export-tss2 --token seeds --label ec --file "$W/export-password.pem" >/dev/null
head -c 32 /dev/urandom | $T hmac import --token seeds --label mac >/dev/null
$T export-tss2 --token seeds --label mac --file "$W/export-hmac.pem" >/dev/null
for f in "$W"/*.pem; do
    b=$(basename "$f" .pem)
    cp "$f" "$out/$b.pem"
    sed '/-----/d' "$f" | base64 -d >"$out/$b.der"
done
ls "$out"
