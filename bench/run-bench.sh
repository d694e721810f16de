#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# run-bench.sh [--quick] - run bench/tpmtrust-bench on a private swtpm and
# print its Markdown report (also written to ${BENCH_OUT:-bench/latest.md}).
#
# Steps: a private swtpm with a token "bench" and three keys made by
# tpmtrust-tool; when installed, SoftHSM (own token dir) and tpm2-pkcs11 (own
# store and its own private swtpm: it persists a primary key at 0x81000001
# and keeps objects loaded, which would change what tpmtrust measures); then
# the tpm2-abrmd rows (tpm2-abrmd owns the swtpm meanwhile), then everything
# else on the swtpm TCTI directly.
#
# Environment: TT_MODULE (default $(dirname $0)/../.libs/tpmtrust-pkcs11.so),
# TT_TOOL (default $(dirname $0)/../tpmtrust-tool), TT_BENCH (default
# $(dirname $0)/tpmtrust-bench), BENCH_OUT, and the BENCH_* knobs of
# bench/bench-main.c (BENCH_ROUNDS 5, BENCH_SECS 0.5, BENCH_LAT_RUNS 5,
# BENCH_TOOL_RUNS 5, BENCH_MEM_SIGS 100000, BENCH_MEM_TPM_SIGS 500,
# BENCH_MEM_WARMUP 100).
# --quick (or BENCH_QUICK=1): one short round of everything, a smoke run.
#
# Comparison modules: BENCH_SOFTHSM_MODULE / BENCH_TPM2_PKCS11_MODULE, else
# Debian's installed paths, else $BENCH_DEPS_DIR (default bench/deps next to
# the bench binary). BENCH_INSTALL=1 fetches Debian's softhsm2 and
# libtpm2-pkcs11-1 with `apt-get download` and unpacks them there (dpkg -x):
# nothing is installed system-wide, so p11-kit does not register them for
# every other program. BENCH_NO_COMPARE=1 measures tpmtrust only.
# Figures are reported, never asserted.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
TT_MODULE=${TT_MODULE:-$here/../.libs/tpmtrust-pkcs11.so}
TT_TOOL=${TT_TOOL:-$here/../tpmtrust-tool}
TT_BENCH=${TT_BENCH:-$here/tpmtrust-bench}
out=${BENCH_OUT:-$here/latest.md}

if [ "${1:-}" = --quick ] || [ "${BENCH_QUICK:-0}" = 1 ]; then
    export BENCH_ROUNDS=${BENCH_ROUNDS:-1} BENCH_SECS=${BENCH_SECS:-0.2} \
        BENCH_LAT_RUNS=${BENCH_LAT_RUNS:-1} BENCH_TOOL_RUNS=${BENCH_TOOL_RUNS:-1} \
        BENCH_MEM_SIGS=${BENCH_MEM_SIGS:-2000} BENCH_MEM_TPM_SIGS=${BENCH_MEM_TPM_SIGS:-10} \
        BENCH_MEM_WARMUP=${BENCH_MEM_WARMUP:-5}
fi

msg() { echo "run-bench: $*" >&2; }

for f in "$TT_MODULE" "$TT_TOOL" "$TT_BENCH"; do
    if [ ! -e "$f" ]; then
        msg "$f not found (build first: make bench)"
        exit 2
    fi
done
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
TT_MODULE=$(abs "$TT_MODULE")
TT_BENCH=$(abs "$TT_BENCH")
export TT_MODULE TT_TOOL
deps=${BENCH_DEPS_DIR:-$(dirname "$TT_BENCH")/deps}

# ---- comparison modules -------------------------------------------------

first_readable() {
    local f
    for f in "$@"; do
        [ -r "$f" ] && { echo "$f"; return 0; }
    done
    return 1
}

find_softhsm() {
    first_readable "${BENCH_SOFTHSM_MODULE:-}" /usr/lib/*/softhsm/libsofthsm2.so \
        "$deps"/usr/lib/*/softhsm/libsofthsm2.so
}

find_tpm2_pkcs11() {
    first_readable "${BENCH_TPM2_PKCS11_MODULE:-}" /usr/lib/*/pkcs11/libtpm2_pkcs11.so \
        "$deps"/usr/lib/*/pkcs11/libtpm2_pkcs11.so
}

# apt-get download + dpkg -x into $deps (no root needed, nothing installed).
fetch_modules() {
    local work rc=0
    if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
        msg "BENCH_INSTALL=1 needs apt-get and dpkg (Debian)"
        return 1
    fi
    work=$(mktemp -d)
    chmod 0755 "$work" # apt's _apt user writes the files
    (cd "$work" && apt-get download -q softhsm2-common libsofthsm2 libtpm2-pkcs11-1) \
        >"$work/apt.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ] && [ "$(id -u)" -eq 0 ]; then
        msg "apt-get download failed; apt-get update and retry"
        rc=0
        apt-get update -qq >>"$work/apt.log" 2>&1 &&
            (cd "$work" && apt-get download -q softhsm2-common libsofthsm2 libtpm2-pkcs11-1) \
                >>"$work/apt.log" 2>&1 || rc=$?
    fi
    if [ "$rc" -eq 0 ]; then
        mkdir -p "$deps"
        for d in "$work"/*.deb; do dpkg -x "$d" "$deps" || rc=$?; done
        for d in "$work"/*.deb; do basename "$d"; done >"$deps/debs.txt"
        msg "unpacked $(cd "$work" && echo *.deb) into $deps"
    else
        msg "apt-get download failed:"
        tail -n 5 "$work/apt.log" >&2
    fi
    rm -rf "$work"
    return "$rc"
}

# A module whose libraries are all there (ldd), else a message.
loadable() {
    local missing
    missing=$(ldd "$1" 2>/dev/null | awk '/not found/ { print $1 }' | tr '\n' ' ')
    [ -z "$missing" ] && return 0
    msg "$1 needs missing libraries: $missing(apt-get install the packages that hold them)"
    return 1
}

softhsm='' tpm2_pkcs11=''
if [ "${BENCH_NO_COMPARE:-0}" != 1 ]; then
    if [ "${BENCH_INSTALL:-0}" = 1 ] && { ! find_softhsm >/dev/null || ! find_tpm2_pkcs11 >/dev/null; }; then
        fetch_modules || msg "continuing without the modules that could not be fetched"
    fi
    softhsm=$(find_softhsm || true)
    tpm2_pkcs11=$(find_tpm2_pkcs11 || true)
    [ -n "$softhsm" ] && ! loadable "$softhsm" && softhsm=''
    [ -n "$tpm2_pkcs11" ] && ! loadable "$tpm2_pkcs11" && tpm2_pkcs11=''
    [ -n "$softhsm$tpm2_pkcs11" ] ||
        msg "no SoftHSM or tpm2-pkcs11 found: their rows say 'not installed' (BENCH_INSTALL=1 fetches them)"
fi
unset BENCH_SOFTHSM_MODULE BENCH_TPM2_PKCS11_MODULE

# ---- the private swtpm, token and keys ----------------------------------

# tpm2-pkcs11's own swtpm: tests/with-swtpm.sh around a command that
# publishes the TCTI and waits for run-bench to finish (or die).
tp11_pid=''
bench_cleanup() {
    if [ -n "$tp11_pid" ]; then
        : >"$TT_TMP/tp11.stop"
        wait "$tp11_pid" 2>/dev/null || true
    fi
}

# A private swtpm, store and XDG dir, removed on exit (even if one is
# already exported by a caller, e.g. tests/with-swtpm.sh, start our own).
unset TT_TMP TT_SWTPM_PORT TT_SWTPM_PID TPMTRUST_STORE XDG_DATA_HOME DBUS_SESSION_BUS_ADDRESS
# shellcheck source=tests/swtpm-env.sh
. "$here/../tests/swtpm-env.sh"
tt_require_swtpm
swtpm_start
trap 'bench_cleanup; tt_cleanup' EXIT # ours first: it needs TT_TMP
load0=$(cut -d' ' -f1-3 /proc/loadavg)

export TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234 TT_PIN=1234 TT_TOKEN=bench
# The bench measures, it does not debug: no log file.
unset TPMTRUST_LOG_FILE BENCH_ABRMD_MD

t0=$SECONDS
"$TT_TOOL" token init --label bench >/dev/null
# CKA_IDs as tpmtrust-bench gives them in the other modules (pkcs11-tool --id).
"$TT_TOOL" key generate --token bench --type ecdsa-p256 --label bench-ec --id 01 >/dev/null
"$TT_TOOL" key generate --token bench --type ed25519 --label bench-ed --id 02 >/dev/null
"$TT_TOOL" key generate --token bench --type hmac-sha256 --label bench-hmac --id 03 >/dev/null
msg "tpmtrust token and keys ready ($((SECONDS - t0)) s)"

p11_init_token() { # MODULE
    pkcs11-tool --module "$1" --init-token --slot-index 0 --label bench \
        --so-pin "$TPMTRUST_SO_PIN" >/dev/null 2>&1 &&
        pkcs11-tool --module "$1" --token-label bench --init-pin --so-pin "$TPMTRUST_SO_PIN" \
            --pin "$TT_PIN" >/dev/null 2>&1
}

if [ -n "$softhsm" ]; then
    mkdir -p "$TT_TMP/softhsm"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
        "$TT_TMP/softhsm" >"$TT_TMP/softhsm2.conf"
    export SOFTHSM2_CONF=$TT_TMP/softhsm2.conf
    if p11_init_token "$softhsm"; then
        export BENCH_SOFTHSM_MODULE=$softhsm
        msg "SoftHSM token ready ($softhsm)"
    else
        msg "SoftHSM token init failed: its rows will say 'not installed'"
    fi
fi

if [ -n "$tpm2_pkcs11" ]; then
    (
        dir=$TT_TMP
        unset TT_TMP TT_SWTPM_PORT TT_SWTPM_PID TPMTRUST_STORE XDG_DATA_HOME
        exec bash "$here/../tests/with-swtpm.sh" bash -c '
            printf "%s\n" "$TPMTRUST_TCTI" >"$1.tmp" && mv "$1.tmp" "$1"
            while [ ! -e "$2" ] && kill -0 "$3" 2>/dev/null; do sleep 0.2; done' \
            _ "$dir/tp11.tcti" "$dir/tp11.stop" "$$"
    ) >"$TT_TMP/tp11-swtpm.log" 2>&1 &
    tp11_pid=$!
    for ((i = 0; i < 150; i++)); do
        [ -s "$TT_TMP/tp11.tcti" ] && break
        kill -0 "$tp11_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -s "$TT_TMP/tp11.tcti" ]; then
        export TPM2_PKCS11_TCTI TPM2_PKCS11_STORE=$TT_TMP/tpm2-pkcs11 TPM2_PKCS11_LOG_LEVEL=0
        TPM2_PKCS11_TCTI=$(cat "$TT_TMP/tp11.tcti")
        mkdir -p "$TPM2_PKCS11_STORE"
        if p11_init_token "$tpm2_pkcs11"; then
            export BENCH_TPM2_PKCS11_MODULE=$tpm2_pkcs11
            msg "tpm2-pkcs11 token ready ($tpm2_pkcs11, TCTI $TPM2_PKCS11_TCTI)"
        else
            msg "tpm2-pkcs11 token init failed: its rows will say 'not installed'"
        fi
    else
        msg "tpm2-pkcs11's swtpm did not start:"
        cat "$TT_TMP/tp11-swtpm.log" >&2
    fi
fi

# ---- the run ------------------------------------------------------------

export BENCH_TMPDIR=$TT_TMP
rc=0
if command -v tpm2-abrmd >/dev/null && command -v dbus-daemon >/dev/null; then
    abrmd_start
    "$TT_BENCH" --abrmd "$TT_MODULE" >"$TT_TMP/abrmd.md" || rc=1
    abrmd_stop
    export BENCH_ABRMD_MD=$TT_TMP/abrmd.md
else
    msg "tpm2-abrmd or dbus-daemon missing: the tpm2-abrmd rows are not measured"
    rc=1
fi
"$TT_BENCH" "$TT_MODULE" >"$TT_TMP/bench.md" || rc=1
left=$(tt_transient_count 2>/dev/null || echo '?')

version_of() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
deb_version() { # PACKAGE MODULE-PATH: installed, or unpacked into $deps
    case $2 in
        "$deps"/*) echo "$(grep -h "^$1_" "$deps/debs.txt" 2>/dev/null || echo "$1") (unpacked)" ;;
        *) echo "$1 $(version_of "$1")" ;;
    esac
}
{
    cat "$TT_TMP/bench.md"
    printf '\nChecked independently with tpm2-tools: %s transient objects in the TPM after the run.\n' "$left"
    printf '\nswtpm %s, tpm2-tss %s, %s, %s CPUs, load average %s at the start, %s at the end, %s' \
        "$(swtpm --version 2>/dev/null | head -n1 | sed 's/^TPM emulator version //; s/, Copyright.*//')" \
        "$(version_of libtss2-esys-3.0.2-0)" "$(uname -srm)" "$(nproc)" "$load0" \
        "$(cut -d' ' -f1-3 /proc/loadavg)" "$(date -u +%Y-%m-%dT%H:%MZ)"
    [ -n "${BENCH_SOFTHSM_MODULE:-}" ] && printf '; %s' "$(deb_version libsofthsm2 "$BENCH_SOFTHSM_MODULE")"
    [ -n "${BENCH_TPM2_PKCS11_MODULE:-}" ] && printf '; %s' "$(deb_version libtpm2-pkcs11-1 "$BENCH_TPM2_PKCS11_MODULE")"
    printf '; %s s in all.\n' "$((SECONDS - t0))"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
msg "written to $out ($((SECONDS - t0)) s)"
exit "$rc"
