#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs the shell blocks of README's "Consumers" section as written, in one
# shell, on a private swtpm (lines marked "# needs a server" are skipped).
set -euo pipefail
README=$TT_SRCDIR/README.md
W=$(mktemp -d "$TT_TMP/readme.XXXXXX")
script=$W/examples.sh
awk '/^## Consumers/ {in_sec = 1; next} /^## / {in_sec = 0}
     in_sec && /^```sh/ {in_block = 1; next} in_block && /^```/ {in_block = 0; next}
     in_sec && in_block' "$README" | grep -v '# needs a server' >"$script"
n=$(grep -c . "$script")
[ "$n" -gt 10 ] || { echo "not ok - only $n example lines found in $README"; exit 1; }
echo "# running $n lines of README examples"
# the README's commands by their installed names
mkdir -p "$W/bin"
ln -s "$TT_TOOL" "$W/bin/tpmtrust-tool"
export PATH=$W/bin:$PATH MODULE=$TT_MODULE TPM2OPENSSL_TCTI=$TPMTRUST_TCTI
cd "$W"
if bash -euo pipefail -x "$script" >"$W/out" 2>&1; then
    echo "ok - every README consumer example ran"
    grep -q "^ecdsa-sha2-nistp256" tpm-key.pub && echo "ok - ssh-keygen -D wrote the key" \
        || { echo "not ok - tpm-key.pub"; exit 1; }
    echo "1 passed, 0 failed"
else
    tail -20 "$W/out"
    echo "not ok - a README example failed"
    echo "0 passed, 1 failed"
    exit 1
fi
