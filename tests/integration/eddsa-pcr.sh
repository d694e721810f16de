#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Ed25519 with a TPM-sealed seed, and keys bound to PCRs: the C modes of
# tests/module/test-eddsa (RFC 8032 vectors, generation, attributes), the
# pkcs11-tool path checked with openssl, the PCR flow (bind, use, extend PCR 16:
# CKR_TPMTRUST_PCR_MISMATCH naming the PCR, reset: works again), a cached key
# after a PCR change, proof that an imported seed is neither in the store nor
# on the TPM bus (tpm2-tss's pcap TCTI), and the signing benchmark.
# Run as: tests/with-swtpm.sh tests/integration/eddsa-pcr.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"

EDDSA=$TT_BUILDDIR/tests/module/test-eddsa
[ -x "$EDDSA" ] || die "$EDDSA not built (make check builds it)"
for p in openssl tpm2_pcrextend tpm2_pcrreset tpm2_pcrread; do
    command -v "$p" >/dev/null 2>&1 || skip "$p not on PATH"
done

export TT_TOKEN=ed25519-pcr TT_PIN=1234
T0=$SECONDS
failures=0
bad() { msg "FAIL: $*"; failures=$((failures + 1)); }

# HEX to bytes on stdout (xxd if there, else printf).
unhex() {
    if command -v xxd >/dev/null 2>&1; then
        printf '%s' "$1" | xxd -r -p
    else
        printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')"
    fi
}
# sha256 bank value of PCR 16, as hex.
pcr16() {
    rm -f "$TT_TMP/pcr16.bin"
    timeout -k 1 10 tpm2_pcrread "sha256:16" -o "$TT_TMP/pcr16.bin" >/dev/null 2>&1 || return 1
    hexdump_of "$TT_TMP/pcr16.bin"
}

# run_ed NAME ARGS...: runs test-eddsa, keeps its TAP in $TT_TMP/NAME.tap and
# its stderr (the module's log) in $TT_TMP/NAME.err.
run_ed() {
    local name=$1 rc=0
    shift
    timeout -k 5 40 "$EDDSA" "$@" >"$TT_TMP/$name.tap" 2>"$TT_TMP/$name.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$TT_TMP/$name.tap"
        grep '^not ok' "$TT_TMP/$name.tap" >&2 || true
        tail -n 5 "$TT_TMP/$name.err" >&2 || true
        if [ "$rc" -eq 124 ]; then bad "test-eddsa $*: timed out"; else bad "test-eddsa $* exited $rc"; fi
        return 1
    fi
    grep -q '^1\.\.[1-9]' "$TT_TMP/$name.tap" || { bad "test-eddsa $*: no TAP plan"; return 1; }
}
passed() { grep -c '^ok' "$TT_TMP/$1.tap"; }

# ---- the token ----
TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=$TT_PIN timeout -k 1 30 "$TT_TOOL" token init --label "$TT_TOKEN" >/dev/null \
    || die "tpmtrust-tool token init"
msg "token '$TT_TOKEN' created (${SECONDS}s)"

# ---- the C modes ----
for mode in rfc8032 generate; do
    t=$SECONDS
    if run_ed "$mode" "$mode"; then
        msg "ok: test-eddsa $mode: $(passed "$mode") checks passed ($((SECONDS - t))s)"
    fi
done

# ---- pkcs11-tool, checked with openssl ----
t=$SECONDS
P11=(pkcs11-tool --module "$TT_MODULE" --token-label "$TT_TOKEN" --login --pin "$TT_PIN")
head -c 3000 /dev/urandom >"$TT_TMP/data"
if ! out=$(timeout -k 1 30 "${P11[@]}" --keypairgen --key-type EC:edwards25519 --id 0e --label pk-ed 2>&1); then
    bad "pkcs11-tool --keypairgen --key-type EC:edwards25519: $out"
elif ! out=$(timeout -k 1 30 "${P11[@]}" -O --type pubkey --id 0e 2>&1); then
    bad "pkcs11-tool -O --type pubkey --id 0e: $out"
else
    # "EC_POINT:   0420<32 bytes>" (pkcs11-tool 0.23 cannot export the SPKI itself)
    point=$(awk '$1 == "EC_POINT:" { print tolower($2); exit }' <<<"$out")
    params=$(awk '$1 == "EC_PARAMS:" { print tolower($2); exit }' <<<"$out")
    if ! [[ $point =~ ^0420[0-9a-f]{64}$ ]]; then
        bad "pkcs11-tool shows CKA_EC_POINT '$point', want 0420 + 32 bytes: $out"
    elif [ "$params" != 06032b6570 ]; then
        bad "pkcs11-tool shows CKA_EC_PARAMS '$params', want the OID 06032b6570"
    else
        unhex "302a300506032b6570032100${point:4}" >"$TT_TMP/pk-ed.der"
        if ! out=$(openssl pkey -pubin -inform DER -in "$TT_TMP/pk-ed.der" -out "$TT_TMP/pk-ed.pem" 2>&1); then
            bad "openssl does not read the SPKI built from CKA_EC_POINT: $out"
        elif ! out=$(timeout -k 1 30 "${P11[@]}" --sign -m EDDSA --id 0e -i "$TT_TMP/data" -o "$TT_TMP/sig" 2>&1); then
            bad "pkcs11-tool --sign -m EDDSA: $out"
        elif [ "$(stat -c %s "$TT_TMP/sig")" -ne 64 ]; then
            bad "pkcs11-tool --sign -m EDDSA wrote $(stat -c %s "$TT_TMP/sig") bytes, want 64"
        elif ! out=$(openssl pkeyutl -verify -pubin -inkey "$TT_TMP/pk-ed.pem" -rawin -in "$TT_TMP/data" \
            -sigfile "$TT_TMP/sig" 2>&1); then
            bad "openssl pkeyutl -verify refuses pkcs11-tool's Ed25519 signature: $out"
        else
            # control: the same check refuses a changed message
            cp "$TT_TMP/data" "$TT_TMP/data2"
            printf 'X' >>"$TT_TMP/data2" # surely another message
            if openssl pkeyutl -verify -pubin -inkey "$TT_TMP/pk-ed.pem" -rawin -in "$TT_TMP/data2" \
                -sigfile "$TT_TMP/sig" >/dev/null 2>&1; then
                bad "openssl pkeyutl -verify accepts the signature over a changed message: the check proves nothing"
            else
                msg "ok: pkcs11-tool --keypairgen EC:edwards25519 + --sign -m EDDSA over 3000 bytes," \
                    "verified by openssl pkeyutl (a changed message refused) ($((SECONDS - t))s)"
            fi
        fi
    fi
fi

# ---- PCR binding: bind, use, change PCR 16, use, reset, use ----
t=$SECONDS
timeout -k 1 10 tpm2_pcrreset 16 >/dev/null || die "tpm2_pcrreset 16"
v16=$(pcr16) || die "tpm2_pcrread sha256:16"
[ ${#v16} -eq 64 ] || die "tpm2_pcrread sha256:16 gave '$v16'"
pcr_ok=true
if run_ed bind bind 0x10000 "$v16"; then
    msg "ok: test-eddsa bind 0x10000: ECDSA, HMAC and Ed25519 keys bound to PCR 16 = ${v16:0:16}..., they sign"
else
    pcr_ok=false
fi
if $pcr_ok && run_ed use-ok1 use ok; then
    msg "ok: test-eddsa use ok: all three sign, verified by OpenSSL"
fi
if $pcr_ok; then
    timeout -k 1 10 tpm2_pcrextend "16:sha256=$(printf 'eddsa-pcr.sh' | openssl dgst -sha256 -r | cut -c1-64)" \
        || die "tpm2_pcrextend 16"
    [ "$(pcr16)" != "$v16" ] || bad "PCR 16 did not change after tpm2_pcrextend"
    rm -f "$TT_TMP/mismatch.log"
    if TPMTRUST_LOG_FILE=$TT_TMP/mismatch.log run_ed use-mismatch use mismatch; then
        msg "ok: test-eddsa use mismatch: every use fails with CKR_TPMTRUST_PCR_MISMATCH, nothing deleted"
    fi
    if [ ! -s "$TT_TMP/mismatch.log" ]; then
        bad "TPMTRUST_LOG_FILE=$TT_TMP/mismatch.log: no log written"
    else
        n=$(grep -c 'sha256:16 changed' "$TT_TMP/mismatch.log" || true)
        # one line per refused use: ECDSA sign, HMAC sign and verify, Ed25519 twice
        if [ "$n" -ge 5 ]; then
            msg "ok: the log names the changed PCR in $n lines: $(grep -m1 'sha256:16 changed' "$TT_TMP/mismatch.log")"
        else
            bad "the log names 'sha256:16 changed' $n times, want 5 (one per refused use):"
            sed 's/^/    /' "$TT_TMP/mismatch.log" >&2
        fi
        if grep -qE 'sha256:([0-9]|1[0-5]|1[7-9]|2[0-3])( |,|$)' "$TT_TMP/mismatch.log"; then
            bad "the log names a PCR other than 16: $(grep -m1 -E 'sha256:' "$TT_TMP/mismatch.log")"
        fi
    fi
    timeout -k 1 10 tpm2_pcrreset 16 >/dev/null || die "tpm2_pcrreset 16"
    [ "$(pcr16)" = "$v16" ] || bad "PCR 16 is not back to its bound value after tpm2_pcrreset"
    if run_ed use-ok2 use ok; then
        msg "ok: after tpm2_pcrreset 16 the three keys work again"
    fi
fi
# A key cached before the PCR changed must not go on signing; unsealing for
# every signature (TPMTRUST_ED25519_CACHE_USES=0) is the control.
if TPMTRUST_ED25519_CACHE_USES=0 run_ed cache-pcr-0 cache-pcr; then
    msg "ok: control: uncached (TPMTRUST_ED25519_CACHE_USES=0), a bound Ed25519 key fails after its PCR changed"
fi
if run_ed cache-pcr cache-pcr; then
    msg "ok: a bound Ed25519 key cached before its PCR changed fails with CKR_TPMTRUST_PCR_MISMATCH"
fi
timeout -k 1 10 tpm2_pcrreset 16 >/dev/null || true
msg "PCR checks done ($((SECONDS - t))s)"

# ---- the seed: not in the store, not on the TPM bus ----
t=$SECONDS
# RFC 8032 7.1 TEST 1: the seed, and the signature of the empty message
seed=9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
sig1=e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b
# the expanded key: SHA-512(seed) = scalar (clamped: its first and last byte
# change) || nonce prefix
h=$(unhex "$seed" | openssl dgst -sha512 -r | cut -c1-128)
[ ${#h} -eq 128 ] || die "openssl dgst -sha512 gave '$h'"
scalar_mid=${h:2:60} prefix=${h:64:64}
label=ed-bus-$(openssl rand -hex 4)
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
    run_ed store store "$seed" "$label" || true
    run_ed reuse reuse "$label" "" "$sig1" || true
else
    rm -f "$TT_TMP/import.pcap" "$TT_TMP/sign.pcap"
    # import (and one signature) in one process, a signature in another, each captured
    if TPMTRUST_TCTI="pcap:$TPMTRUST_TCTI" TCTI_PCAP_FILE=$TT_TMP/import.pcap run_ed store store "$seed" "$label" &&
        TPMTRUST_TCTI="pcap:$TPMTRUST_TCTI" TCTI_PCAP_FILE=$TT_TMP/sign.pcap run_ed reuse reuse "$label" "" "$sig1"; then
        msg "ok: RFC 8032 TEST 1's seed imported as a token key in one process, its signature = the published one in another"
    fi
    for f in import sign; do
        [ -s "$TT_TMP/$f.pcap" ] || { bad "the pcap TCTI wrote no $f.pcap"; continue; }
        has_command "$TT_TMP/$f.pcap" 0000 ||
            bad "$f.pcap holds no TPM command with sessions: not a capture of TPM traffic"
    done
    if [ -s "$TT_TMP/import.pcap" ] && [ -s "$TT_TMP/sign.pcap" ]; then
        # controls: the commands that carry the seed are there: TPM2_Create
        # (0x153) sealing it, TPM2_Unseal (0x15E) returning it
        has_command "$TT_TMP/import.pcap" 00000153 || bad "import.pcap holds no TPM2_Create command"
        has_command "$TT_TMP/sign.pcap" 0000015e || bad "sign.pcap holds no TPM2_Unseal command"
        msg "ok: control: the search finds TPM2_Create in import.pcap and TPM2_Unseal in sign.pcap"
        for f in import sign; do
            check_absent "$TT_TMP/$f.pcap" "$seed" "the seed"
            check_absent "$TT_TMP/$f.pcap" "$scalar_mid" "the secret scalar"
            check_absent "$TT_TMP/$f.pcap" "$prefix" "the nonce prefix"
        done
    fi
fi
mapfile -t files < <(store_files)
[ "${#files[@]}" -ge 1 ] || die "no store file at $TPMTRUST_STORE"
all=$TT_TMP/store-all.bin
cat "${files[@]}" >"$all"
# control: the search finds the token label; the stored key's label is in a
# private row, encrypted (issue 15 item 5)
contains "$all" "$(hex_of_string "$TT_TOKEN")" || bad "the search does not find the token label '$TT_TOKEN' in the store: the check below would prove nothing"
contains "$all" "$(hex_of_string "$label")" && bad "the object label '$label' is in the store in the clear (a private row)"
msg "ok: control: the search finds the token label in the store; the private key's label is not there in the clear"
for f in "${files[@]}"; do
    check_absent "$f" "$seed" "the imported seed"
    check_absent "$f" "$scalar_mid" "the secret scalar"
    check_absent "$f" "$prefix" "the nonce prefix"
    # test-eddsa bind's HMAC key (imported with a PCR policy)
    check_absent "$f" "$(hex_of_string 'tpmtrust pcr-bound hmac key 0001')" "the bound HMAC key"
done
msg "store and bus checks done ($((SECONDS - t))s)"

# ---- the benchmark ----
t=$SECONDS
if run_ed bench bench; then
    grep '^# bench:' "$TT_TMP/bench.tap" | sed 's/^# //' >&2
    msg "benchmark done ($((SECONDS - t))s)"
fi

# ---- nothing left in the TPM ----
n=$(tt_transient_count) || die "tpm2_getcap handles-transient"
[ "$n" -eq 0 ] || bad "$n transient object(s) left in the TPM"

if [ $((SECONDS - T0)) -ge 60 ]; then
    bad "the test took $((SECONDS - T0))s (the budget is 60s)"
fi
if [ "$failures" -ne 0 ]; then
    die "$failures check(s) failed ($((SECONDS - T0))s)"
fi
msg "PASS: rfc8032, generate, pkcs11-tool, PCR binding, cached key, store, bus, bench ($((SECONDS - T0))s)"
