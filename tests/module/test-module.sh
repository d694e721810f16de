#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# test-module.sh - runs tests/module/test-module (a TAP program that dlopen()s
# the built PKCS#11 module and drives it through both function tables) against
# the private swtpm of tests/with-swtpm.sh, which exports TPMTRUST_TCTI,
# TPMTRUST_STORE, TT_TMP and TT_SWTPM_ENV; make check gives TT_MODULE and
# TT_BUILDDIR. Exits with the program's status.
#
# Afterwards (the module finalized, the process gone) the TPM must hold no
# transient object and no loaded session: the scenario's copies, logouts,
# fork and failed login must not leak TPM resources.
#
# Run as: tests/with-swtpm.sh tests/module/test-module.sh [PROGRAM]
# PROGRAM (default test-module) names another program of tests/module run the
# same way (test-conformance.sh uses it).

set -u

msg() { echo "test-module.sh: $*" >&2; }

: "${TT_BUILDDIR:?TT_BUILDDIR is not set (run through make check)}"
: "${TT_MODULE:?TT_MODULE is not set (run through make check)}"
: "${TPMTRUST_TCTI:?TPMTRUST_TCTI is not set (run under tests/with-swtpm.sh)}"

prog=$TT_BUILDDIR/tests/module/${1:-test-module}
if [ ! -x "$prog" ]; then
    msg "$prog is not built"
    exit 99
fi
if [ ! -f "$TT_MODULE" ]; then
    msg "module $TT_MODULE not found"
    exit 99
fi
if ! command -v openssl >/dev/null 2>&1; then
    if [ "${CI:-}" = true ]; then
        msg "ERROR: openssl (the independent verifier) is not on PATH (CI=true)"
        exit 99
    fi
    msg "SKIP: openssl (the independent verifier) is not on PATH"
    exit 77
fi

rc=0
"$prog" "$TT_MODULE" || rc=$?
[ "$rc" -eq 0 ] || exit "$rc"

# Leak check, through the swtpm TCTI only (tpm2-abrmd would flush per connection).
case ${TPM2TOOLS_TCTI:-} in
    swtpm:*) ;;
    *)
        msg "TPM2TOOLS_TCTI is not the swtpm TCTI: no TPM leak check"
        exit 0
        ;;
esac
count() {
    local out
    out=$(timeout -k 1 10 tpm2_getcap -T "$TPM2TOOLS_TCTI" "$1" 2>&1) || {
        msg "tpm2_getcap $1 failed: $out"
        echo 999
        return
    }
    printf '%s\n' "$out" | grep -c '0x' || true
}
transient=$(count handles-transient)
sessions=$(count handles-loaded-session)
echo "# TPM after the run: $transient transient objects, $sessions loaded sessions"
if [ "$transient" != 0 ] || [ "$sessions" != 0 ]; then
    msg "FAIL: the module left TPM resources behind ($transient transient objects," \
        "$sessions loaded sessions)"
    exit 1
fi
exit 0
