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
