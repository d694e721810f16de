#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# HMAC keys held in the TPM: the published vectors, multi-part signing and the
# attributes (tests/module/test-hmac), a key that outlives its process, the
# pkcs11-tool path, and proof that neither an imported key nor an HMAC result
# ever shows up in the store or on the TPM bus (tpm2-tss's pcap TCTI).
# Run as: tests/with-swtpm.sh tests/integration/hmac.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"

HMAC=$TT_BUILDDIR/tests/module/test-hmac
[ -x "$HMAC" ] || die "$HMAC not built (make check builds it)"
command -v openssl >/dev/null 2>&1 || skip "openssl (the command line tool) not on PATH"

export TT_TOKEN=hmac TT_PIN=1234
T0=$SECONDS
failures=0
bad() { msg "FAIL: $*"; failures=$((failures + 1)); }

# HMAC-SHA256 of FILE under the key KEYHEX, by OpenSSL.
ossl_hmac() { openssl dgst -sha256 -mac HMAC -macopt "hexkey:$1" "$2" | awk '{ print $NF }'; }

# run_hmac NAME ARGS...: runs test-hmac, keeps its TAP in $TT_TMP/NAME.tap.
run_hmac() {
    local name=$1 rc=0
    shift
    timeout -k 5 60 "$HMAC" "$@" >"$TT_TMP/$name.tap" 2>"$TT_TMP/$name.err" || rc=$?
    cat "$TT_TMP/$name.tap"
    if [ "$rc" -ne 0 ]; then
        grep '^not ok' "$TT_TMP/$name.tap" >&2 || true
        tail -n 5 "$TT_TMP/$name.err" >&2 || true
        bad "test-hmac $* exited $rc"
        return 1
    fi
    grep -q '^1\.\.[1-9]' "$TT_TMP/$name.tap" || { bad "test-hmac $*: no TAP plan"; return 1; }
}


# ---- the token ----
TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=$TT_PIN timeout -k 1 30 "$TT_TOOL" token init --label "$TT_TOKEN" >/dev/null \
    || die "tpmtrust-tool token init"
msg "token '$TT_TOKEN' created (${SECONDS}s)"

# ---- the C modes ----
for mode in vectors chunks attrs; do
    t=$SECONDS
    if run_hmac "$mode" "$mode"; then
        msg "ok: test-hmac $mode: $(grep -c '^ok' "$TT_TMP/$mode.tap") checks passed ($((SECONDS - t))s)"
    fi
done

# ---- a token key outlives its process ----
t=$SECONDS
key=$(openssl rand -hex 32)
label=persist-$(openssl rand -hex 4)
printf 'restart test' >"$TT_TMP/restart.txt"
want=$(ossl_hmac "$key" "$TT_TMP/restart.txt")
[ ${#want} -eq 64 ] || die "openssl dgst -hmac gave '$want'"
want2=$(openssl mac -digest SHA256 -macopt "hexkey:$key" -in "$TT_TMP/restart.txt" HMAC | tr 'A-F' 'a-f')
[ "$want" = "$want2" ] || die "openssl dgst and openssl mac disagree: $want vs $want2"
if run_hmac store store "$key" "$label" && run_hmac reuse reuse "$label" "$want"; then
    msg "ok: a token key imported in one process signs in another, = OpenSSL ($((SECONDS - t))s)"
fi

# The key is nowhere in the store. First show that the search finds what is
# there: the token label.
mapfile -t files < <(store_files)
[ "${#files[@]}" -ge 1 ] || die "no store file at $TPMTRUST_STORE"
db=${files[0]}
# (The object's label is in a private row: encrypted, issue 15 item 5.)
contains "$db" "$(hex_of_string "$TT_TOKEN")" || bad "the search does not find the token label in ${db##*/}: the check below would prove nothing"
contains "$db" "$(hex_of_string "$label")" && bad "the object label '$label' is in ${db##*/} in the clear (a private row)"
msg "ok: control: the search finds the token label in ${db##*/}; the private object's label is not there in the clear"
for f in "${files[@]}"; do
    check_absent "$f" "$key" "the imported key"
done

# ---- pkcs11-tool ----
t=$SECONDS
P11=(pkcs11-tool --module "$TT_MODULE" --token-label "$TT_TOKEN" --login --pin "$TT_PIN")
openssl rand 32 >"$TT_TMP/key.bin"
pkkey=$(hexdump_of "$TT_TMP/key.bin")
head -c 5000 /dev/urandom >"$TT_TMP/data"
if ! out=$(timeout -k 1 30 "${P11[@]}" --write-object "$TT_TMP/key.bin" --type secrkey --usage-sign \
    --id 4242 --label pk 2>&1); then
    bad "pkcs11-tool --write-object --type secrkey: $out"
elif ! out=$(timeout -k 1 30 "${P11[@]}" --sign -m SHA256-HMAC --id 4242 -i "$TT_TMP/data" \
    -o "$TT_TMP/mac" 2>&1); then
    bad "pkcs11-tool --sign -m SHA256-HMAC: $out"
else
    got=$(hexdump_of "$TT_TMP/mac")
    want=$(ossl_hmac "$pkkey" "$TT_TMP/data")
    if [ "$got" = "$want" ]; then
        msg "ok: pkcs11-tool --sign -m SHA256-HMAC over 5000 bytes = openssl dgst -hmac ($((SECONDS - t))s)"
    else
        bad "pkcs11-tool SHA256-HMAC $got, openssl $want"
    fi
fi
mapfile -t files < <(store_files)
for f in "${files[@]}"; do
    check_absent "$f" "$pkkey" "the key written by pkcs11-tool"
done

# ---- the TPM bus ----
t=$SECONDS
pcap_lib=
for f in /usr/lib/*/libtss2-tcti-pcap.so* /usr/lib64/libtss2-tcti-pcap.so* /usr/lib/libtss2-tcti-pcap.so* \
    /usr/local/lib/libtss2-tcti-pcap.so* /usr/local/lib/*/libtss2-tcti-pcap.so*; do
    [ -e "$f" ] && { pcap_lib=$f; break; }
done
if [ -z "$pcap_lib" ]; then
    if [ "${CI:-}" = true ]; then
        bad "the pcap TCTI (libtss2-tcti-pcap.so, package libtss2-tcti-pcap0) is not installed"
    else
        msg "SKIP: the bus check: the pcap TCTI (package libtss2-tcti-pcap0) is not installed"
    fi
else
    key=$(openssl rand -hex 32)
    label=bus-$(openssl rand -hex 4)
    mac=$(ossl_hmac "$key" "$TT_TMP/restart.txt")
    rm -f "$TT_TMP/import.pcap" "$TT_TMP/sign.pcap"
    # import (and one sign) in one process, a sign in another, each captured
    TPMTRUST_TCTI="pcap:$TPMTRUST_TCTI" TCTI_PCAP_FILE=$TT_TMP/import.pcap run_hmac bus-store store "$key" "$label" || true
    TPMTRUST_TCTI="pcap:$TPMTRUST_TCTI" TCTI_PCAP_FILE=$TT_TMP/sign.pcap run_hmac bus-reuse reuse "$label" "$mac" || true
    for f in import sign; do
        [ -s "$TT_TMP/$f.pcap" ] || { bad "the pcap TCTI wrote no $f.pcap"; continue; }
        # a session-authorized command (tag TPM_ST_SESSIONS): it is a TPM capture
        has_command "$TT_TMP/$f.pcap" 0000 ||
            bad "$f.pcap holds no TPM command with sessions: not a capture of TPM traffic"
    done
    if [ -s "$TT_TMP/import.pcap" ] && [ -s "$TT_TMP/sign.pcap" ]; then
        # the commands we look for are there: TPM2_Create (0x153), TPM2_HMAC (0x155)
        has_command "$TT_TMP/import.pcap" 00000153 || bad "import.pcap holds no TPM2_Create command"
        has_command "$TT_TMP/sign.pcap" 00000155 || bad "sign.pcap holds no TPM2_HMAC command"
        # the search works on these files: the signed data travels in clear
        contains "$TT_TMP/sign.pcap" "$(hex_of_string 'restart test')" ||
            bad "the search does not find the (clear) signed data in sign.pcap: the checks below would prove nothing"
        msg "ok: control: import.pcap holds TPM2_Create, sign.pcap TPM2_HMAC and the signed data"
        for f in import sign; do
            check_absent "$TT_TMP/$f.pcap" "$key" "the imported key"
            check_absent "$TT_TMP/$f.pcap" "$mac" "the HMAC result"
        done
    fi
    # More than the TPM takes in one command (1024 bytes): an HMAC sequence,
    # whose TPM2_SequenceComplete returns the result (pkcs11-tool's key above).
    if [ -s "$TT_TMP/mac" ]; then
        rm -f "$TT_TMP/seq.pcap"
        if ! out=$(TPMTRUST_TCTI="pcap:$TPMTRUST_TCTI" TCTI_PCAP_FILE=$TT_TMP/seq.pcap timeout -k 1 30 \
            "${P11[@]}" --sign -m SHA256-HMAC --id 4242 -i "$TT_TMP/data" -o "$TT_TMP/mac2" 2>&1); then
            bad "pkcs11-tool --sign through the pcap TCTI: $out"
        elif ! cmp -s "$TT_TMP/mac" "$TT_TMP/mac2"; then
            bad "pkcs11-tool --sign through the pcap TCTI gave another MAC"
        elif ! has_command "$TT_TMP/seq.pcap" 0000013e; then
            bad "seq.pcap holds no TPM2_SequenceComplete command"
        elif ! contains "$TT_TMP/seq.pcap" "$(head -c 64 "$TT_TMP/data" | od -An -v -tx1 | tr -d ' \n')"; then
            bad "the search does not find the (clear) signed data in seq.pcap: the checks below would prove nothing"
        else
            msg "ok: control: seq.pcap holds TPM2_SequenceComplete and the signed data"
            check_absent "$TT_TMP/seq.pcap" "$pkkey" "the key written by pkcs11-tool"
            check_absent "$TT_TMP/seq.pcap" "$(hexdump_of "$TT_TMP/mac")" "the HMAC result (sequence)"
        fi
    fi
    msg "bus check done ($((SECONDS - t))s)"
fi

# ---- nothing left in the TPM ----
n=$(tt_transient_count) || die "tpm2_getcap handles-transient"
[ "$n" -eq 0 ] || bad "$n transient object(s) left in the TPM"

if [ "$failures" -ne 0 ]; then
    die "$failures check(s) failed ($((SECONDS - T0))s)"
fi
msg "PASS: vectors, chunks, attrs, persistence, pkcs11-tool, store and bus checks ($((SECONDS - T0))s)"
