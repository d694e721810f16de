#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# run-bench.sh - run bench/tpmtrust-bench on a private swtpm and print its
# Markdown report (also written to ${BENCH_OUT:-bench/latest.md}).
#
# Environment: TT_MODULE (default $(dirname $0)/../.libs/tpmtrust-pkcs11.so),
# TT_TOOL (default $(dirname $0)/../tpmtrust-tool), TT_BENCH (default
# $(dirname $0)/tpmtrust-bench), BENCH_ROUNDS (5), BENCH_SECS (1.0),
# BENCH_LAT_RUNS (5), BENCH_OUT. Figures are reported, never asserted.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
TT_MODULE=${TT_MODULE:-$here/../.libs/tpmtrust-pkcs11.so}
TT_TOOL=${TT_TOOL:-$here/../tpmtrust-tool}
TT_BENCH=${TT_BENCH:-$here/tpmtrust-bench}
out=${BENCH_OUT:-$here/latest.md}

for f in "$TT_MODULE" "$TT_TOOL" "$TT_BENCH"; do
    if [ ! -e "$f" ]; then
        echo "run-bench: $f not found (build first: make bench)" >&2
        exit 2
    fi
done
TT_MODULE=$(cd "$(dirname "$TT_MODULE")" && pwd)/$(basename "$TT_MODULE")
export TT_MODULE TT_TOOL

# A private swtpm, store and XDG dir, removed on exit (even if one is
# already exported by a caller, start our own).
unset TT_TMP TT_SWTPM_PORT
# shellcheck source=tests/swtpm-env.sh
. "$here/../tests/swtpm-env.sh"
tt_require_swtpm
swtpm_start

export TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234 TT_PIN=1234 TT_TOKEN=bench
# The bench measures, it does not debug: no log file.
unset TPMTRUST_LOG_FILE

t0=$SECONDS
"$TT_TOOL" token init --label bench >/dev/null
"$TT_TOOL" key generate --token bench --type ecdsa-p256 --label bench-ec >/dev/null
"$TT_TOOL" key generate --token bench --type ed25519 --label bench-ed >/dev/null
"$TT_TOOL" key generate --token bench --type hmac-sha256 --label bench-hmac >/dev/null
echo "run-bench: token and keys ready ($((SECONDS - t0)) s)" >&2

tmp_out="$TT_TMP/bench.md"
rc=0
BENCH_PCAP_DIR=$TT_TMP "$TT_BENCH" "$TT_MODULE" >"$tmp_out" || rc=$?
left=$(tt_transient_count 2>/dev/null || echo '?')
{
    cat "$tmp_out"
    printf '\nTransient objects left in the TPM after the run: %s\n' "$left"
    printf '\nswtpm %s, %s, %s, %s\n' \
        "$(swtpm --version 2>/dev/null | head -n1 | sed 's/^TPM emulator version //; s/, Copyright.*//')" \
        "$(uname -srm)" "$(nproc) CPUs" "$(date -u +%Y-%m-%dT%H:%MZ)"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
echo "run-bench: written to $out ($((SECONDS - t0)) s)" >&2
exit "$rc"
