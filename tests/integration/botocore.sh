#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# contrib/python/tpmtrust_botocore.py: botocore clients sign with the AWS secret
# in the TPM (kDate through PKCS#11 with PyKCS11), exactly as botocore does with
# the secret itself (tests/python/test_botocore.py; Debian's python3-botocore
# and python3-pykcs11, offline).
# Run as: tests/with-swtpm.sh tests/integration/botocore.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"

PY=/usr/bin/python3 # Debian's, with Debian's botocore and PyKCS11
"$PY" -c 'import botocore, PyKCS11' 2>/dev/null || skip "python3-botocore and python3-pykcs11 not installed"
export TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234
timeout -k 1 60 "$TT_TOOL" token init --label aws >/dev/null || die "token init"
printf '%s' 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' |
    timeout -k 1 60 "$TT_TOOL" hmac import --aws --token aws >/dev/null || die "hmac import --aws"
timeout -k 5 120 "$PY" "$(dirname "$0")/../python/test_botocore.py" "$TT_MODULE" aws 1234 ||
    die "tests/python/test_botocore.py"
msg "ok: botocore clients sign with the TPM-held secret as botocore does with the secret"
tt_store_scan "the AWS secret" "$(hex_of_string 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY')" ||
    die "the AWS secret is in the store (above)"
