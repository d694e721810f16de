#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The benchmark cannot rot: `bench/run-bench.sh --quick` (one round of 0.2 s
# per throughput, one fresh process per latency and per pkcs11-tool run, a
# small memory run) must give every row of its report a figure. No timing is
# asserted, only that each row was measured. SoftHSM and tpm2-pkcs11 rows may
# say "not installed", except with CI=true, where BENCH_INSTALL=1 fetches them
# (apt-get download, unpacked next to the bench binary, nothing installed).
# tpm2-pkcs11 1.9 cannot create an HMAC key through PKCS#11: its HMAC row says
# "not supported", with the reason under the table.
# Run as: tests/with-swtpm.sh tests/integration/bench-smoke.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
tt_require_abrmd
BENCH=$TT_BUILDDIR/bench/tpmtrust-bench
[ -x "$BENCH" ] || die "$BENCH not built (make check builds it)"
RUN=${TT_SRCDIR:-$(dirname "$0")/../..}/bench/run-bench.sh

ci=false
[ "${CI:-}" = true ] && ci=true
out=$TT_TMP/bench.md
SECONDS=0
rc=0
# run-bench.sh starts its own swtpm (and one for tpm2-pkcs11): the wrapper's stays idle.
TT_BENCH=$BENCH BENCH_OUT=$out BENCH_INSTALL=$([ $ci = true ] && echo 1 || echo 0) \
    timeout -k 5 600 bash "$RUN" --quick >"$TT_TMP/bench.stdout" 2>"$TT_TMP/bench.stderr" || rc=$?
if [ "$rc" -ne 0 ] || [ ! -s "$out" ]; then
    tail -n 40 "$TT_TMP/bench.stderr" >&2
    die "run-bench.sh --quick exited $rc"
fi
msg "run-bench.sh --quick: ${SECONDS}s"

for h in '## tpmtrust benchmark' '### Through tpm2-abrmd' '### Latencies of a fresh process' \
    '### TPM commands per phase' '### Whole process: `pkcs11-tool' '### Memory of one tpmtrust' \
    '### Against the issue 8 targets'; do
    grep -qF -- "$h" "$out" || die "section missing: $h"
done

# Every table row: no cell says error or not measured; tpmtrust and raw rows
# have figures; the others have figures or (outside CI) "not installed".
rows=$(grep '^| ' "$out" | grep -v '^| Measurement \|^| Step \|^| Module \|^| Signatures \|^| Target ')
n=$(wc -l <<<"$rows")
# 58 with both comparison modules, 55 without (tpm2-pkcs11's captures: one row).
[ "$n" -ge 55 ] || die "only $n table rows: $(cat "$out")"
if [ $ci = true ] && grep -q 'not installed' "$out"; then
    die "CI=true: SoftHSM and tpm2-pkcs11 must be measured: $(grep 'not installed' "$out")"
fi
bad=$(grep -E '\| *(error|not measured) *\|' <<<"$rows" || true)
if [ $ci = false ]; then
    # Without SoftHSM the comparison with it is not measured.
    bad=$(grep -v 'SoftHSM not installed' <<<"$bad" || true)
fi
[ -z "$bad" ] || die "rows not measured:
$bad"
# Throughput rows ("| tpmtrust CKM_..."; not "| tpmtrust | ..." of the
# other tables) have a median; no count is -1 (could not be read).
num='[0-9][0-9.]*'
bad=$(grep -E '\| -1( |\|)' <<<"$rows" || true)
[ -z "$bad" ] || die "a count could not be measured: $bad"
for who in raw tpmtrust SoftHSM tpm2-pkcs11; do
    ok="$num"
    case $who in SoftHSM | tpm2-pkcs11) [ $ci = true ] || ok="$ok|not installed" ;; esac
    miss=$(grep -E "^\| $who [^|]" <<<"$rows" | grep -vE "^\| $who [^|]*\| ($ok) \|" |
        grep -v '^| tpm2-pkcs11 CKM_SHA256_HMAC over 64 B, 1 thread | not supported |' || true)
    [ -z "$miss" ] || die "$who rows without a figure:
$miss"
done
# The captures saw the HMAC response encryption the HMAC row claims.
grep -qE 'asking for response encryption .*: ([0-9]+) of \1 \|' "$out" ||
    die "the HMAC capture does not show response encryption for every TPM2_HMAC"
grep -q '^Left in tpmtrust.s TPM after all processes ended (Esys_GetCapability): [0-9]' "$out" ||
    die "no count of what is left in the TPM"
msg "PASS: $n rows measured ($(grep -c 'not installed' "$out" || true) say not installed; ${SECONDS}s)"
