#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Several threads of one process, each with its own session, sign with the
# same TPM key at once; every signature is verified with OpenSSL by
# tests/module/p11-threads. Run as: tests/with-swtpm.sh tests/integration/threads.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"

export TT_TOKEN=test TT_PIN=1234
SECONDS=0
TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=$TT_PIN timeout -k 1 30 "$TT_TOOL" token init --label "$TT_TOKEN" >/dev/null \
    || die "tpmtrust-tool token init"
timeout -k 1 30 pkcs11-tool --module "$TT_MODULE" --token-label "$TT_TOKEN" --login --pin "$TT_PIN" \
    --keypairgen --key-type EC:prime256v1 --id 01 --label k1 >/dev/null || die "pkcs11-tool --keypairgen"
msg "token and P-256 key created (${SECONDS}s)"

SECONDS=0
rc=0
out=$(timeout -k 5 90 "$THREADS" threads 4 25) || rc=$?
echo "$out"
[ "$rc" -eq 0 ] || die "p11-threads threads 4 25 exited $rc"
grep -q ': 100 signed, 100 verified with OpenSSL, 0 failure' <<<"$out" || die "unexpected summary: $out"

n=$(tt_transient_count) || die "tpm2_getcap handles-transient"
[ "$n" -eq 0 ] || die "$n transient object(s) left in the TPM after the process exited"
msg "PASS: 4 threads x 25 signs, all verified (${SECONDS}s)"
