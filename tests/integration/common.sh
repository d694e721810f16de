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

# tt_ec_key TOKEN ID PEM: a P-256 key pair made with pkcs11-tool (logged in
# with TT_PIN, default 1234) and its public key written to PEM, taken from
# keypairgen's own listing (EC_POINT: DER OCTET STRING of 04||X||Y): pkcs11-tool
# 0.23's --read-object --type pubkey has a use-after-free.
tt_ec_key() {
    local out point
    out=$(timeout -k 1 60 pkcs11-tool --module "$TT_MODULE" --token-label "$1" --login \
        --pin "${TT_PIN:-1234}" --keypairgen --key-type EC:prime256v1 --id "$2" --label "k$2" 2>&1) ||
        die "keypairgen: $out"
    point=$(sed -n 's/^ *EC_POINT: *0441\(04[0-9a-f]*\)$/\1/p' <<<"$out" | head -1)
    [ ${#point} = 130 ] || die "no EC_POINT in pkcs11-tool's listing: $out"
    echo "3059301306072a8648ce3d020106082a8648ce3d030107034200$point" | xxd -r -p |
        openssl pkey -pubin -inform DER -out "$3" || die "public key"
}

# --- bytes in files (captures, the store): lowercase hex throughout ---
hexdump_of() { od -An -v -tx1 "$1" | tr -d ' \n'; }
hex_of_string() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
# The bytes of FILE as " xx xx ...": a match of " ab cd" is byte-aligned.
# (Kept in a variable, not piped into grep -q: with pipefail, grep -q leaving
# early could turn a match into a failure.)
bytes_of() { od -An -v -tx1 "$1" | tr -s ' \n' ' '; }
spaced() { printf '%s' "$1" | sed 's/../ &/g'; }
# contains FILE HEX: the bytes HEX occur in FILE.
contains() {
    local b p
    b=$(bytes_of "$1") && p=$(spaced "$2") && [ -n "$p" ] && [[ $b == *"$p"* ]]
}
# has_command FILE CC: FILE holds a TPM command with sessions (tag 0x8002)
# and command code CC (8 hex digits; empty: any).
has_command() {
    local b re
    b=$(bytes_of "$1") || return 1
    re=' 80 02( [0-9a-f]{2}){4}'$(spaced "$2")
    [[ $b =~ $re ]]
}
# check_absent FILE HEX WHAT: the bytes of HEX (and each half of it) occur
# nowhere in FILE; else the test's bad() counts a failure.
check_absent() {
    local file=$1 hex=$2 what=$3 half=$((${#2} / 2))
    if contains "$file" "$hex" || contains "$file" "${hex:0:half}" || contains "$file" "${hex:half}"; then
        bad "$what found in ${file##*/}"
    else
        msg "ok: $what not in ${file##*/} ($(stat -c %s "$file") bytes)"
    fi
}
# Every file of the store: the database, and its WAL / journal if there.
store_files() {
    local f
    for f in "$TPMTRUST_STORE" "$TPMTRUST_STORE-wal" "$TPMTRUST_STORE-journal"; do
        [ -s "$f" ] && echo "$f"
    done
    return 0
}
# tt_store_scan WHAT HEX [WHAT HEX ...]: none of the secrets (nor either half
# of one) is in any file of the store (issue 15: no secret value reaches the
# store). Prints a line per secret; returns how many were found. A control
# first: the token labels, stored in the clear, are found (else the scan
# could not see anything either).
tt_store_scan() {
    local found=0 f files label
    mapfile -t files < <(store_files)
    [ "${#files[@]}" -ge 1 ] || { msg "store scan: no store file at $TPMTRUST_STORE"; return 1; }
    label=$(sqlite3 -batch "$TPMTRUST_STORE" "SELECT label FROM tokens LIMIT 1" 2>/dev/null || true)
    if [ -n "$label" ] && ! contains "$TPMTRUST_STORE" "$(hex_of_string "$label")"; then
        msg "store scan: the token label '$label' is not found: the scan sees nothing"
        return 1
    fi
    while [ $# -ge 2 ]; do
        local what=$1 hex=$2 half=$((${#2} / 2))
        shift 2
        for f in "${files[@]}"; do
            if contains "$f" "$hex" || contains "$f" "${hex:0:half}" || contains "$f" "${hex:half}"; then
                msg "store scan: FOUND $what in ${f##*/}"
                found=$((found + 1))
            fi
        done
    done
    [ $found = 0 ] && msg "ok: store scan: no secret of this test in ${#files[@]} store file(s)"
    return $found
}
