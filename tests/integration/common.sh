# SPDX-License-Identifier: BSD-2-Clause
# Sourced by the integration tests that drive tests/module/p11-threads:
# messages, attaching to the wrapper's swtpm, the programs they need.
msg() { echo "${0##*/}: $*" >&2; }
die() { msg "FAIL: $*"; exit 1; }
skip() { if [ "${CI:-}" = true ]; then msg "ERROR: $* (CI=true)"; exit 99; fi; msg "SKIP: $*"; exit 77; }

[ -n "${TT_SWTPM_ENV:-}" ] || die "run me under tests/with-swtpm.sh"
# shellcheck source=tests/swtpm-env.sh
. "$TT_SWTPM_ENV"
swtpm_start # attaches to the wrapper's swtpm
: "${TT_MODULE:?}" "${TT_TOOL:?}"
TT_BUILDDIR=${TT_BUILDDIR:-.}
THREADS=$TT_BUILDDIR/tests/module/p11-threads
[ -x "$THREADS" ] || die "$THREADS not built (make check builds it)"
command -v pkcs11-tool >/dev/null 2>&1 || skip "pkcs11-tool (OpenSC) not on PATH"
