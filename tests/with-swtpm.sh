#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# with-swtpm.sh TEST [ARGS...] - automake LOG_COMPILER wrapper.
#
# Starts a private swtpm (see swtpm-env.sh), runs TEST with it, stops it and
# removes its temp dir (unless TT_KEEP=1), and exits with TEST's status.
# TEST ending in .sh is run with bash, anything else is executed directly.
# Exit 77 (skip) if swtpm / tpm2-tools are missing, 99 with CI=true.
#
# The test gets TPMTRUST_TCTI, TPM2TOOLS_TCTI, TT_TMP, TT_SWTPM_PORT,
# TT_SWTPM_PID, TPMTRUST_STORE, XDG_DATA_HOME and TT_SWTPM_ENV (the path of
# swtpm-env.sh: a bash test can `source "$TT_SWTPM_ENV"` to use
# swtpm_restart, abrmd_start, tt_transient_count...; its swtpm_start then
# attaches to the running swtpm).

set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 TEST [ARGS...]" >&2
    exit 99
fi

TT_SWTPM_ENV="$(cd "$(dirname "$0")" && pwd)/swtpm-env.sh"
export TT_SWTPM_ENV
# shellcheck source=tests/swtpm-env.sh
. "$TT_SWTPM_ENV" || { echo "with-swtpm: cannot source $TT_SWTPM_ENV" >&2; exit 99; }

tt_require_swtpm
swtpm_start || { echo "with-swtpm: swtpm_start failed" >&2; exit 99; }

test_prog=$1
shift
# A bare name would be looked up in PATH; run the file in the cwd instead.
case $test_prog in
    */*) ;;
    *) [ -e "$test_prog" ] && test_prog=./$test_prog ;;
esac

# Not exec: the EXIT trap must still stop swtpm afterwards.
rc=0
case $test_prog in
    *.sh) bash "$test_prog" "$@" || rc=$? ;;
    *) "$test_prog" "$@" || rc=$? ;;
esac
exit "$rc"
