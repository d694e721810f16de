#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Several processes share the TPM through tpm2-abrmd and the store file at
# once: three processes sign with the same key while a fourth creates new key
# pairs in the same token (sqlite WAL + busy timeout across processes). Every
# signature checked is verified with OpenSSL by tests/module/p11-threads.
# Run as: tests/with-swtpm.sh tests/integration/abrmd-processes.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
tt_require_abrmd

export TT_TOKEN=test TT_PIN=1234
P11=(pkcs11-tool --module "$TT_MODULE" --token-label "$TT_TOKEN" --login --pin "$TT_PIN")
W=$TT_TMP/abrmd-processes
mkdir -p "$W"

# Set up through the swtpm TCTI directly.
TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=$TT_PIN timeout -k 1 30 "$TT_TOOL" token init --label "$TT_TOKEN" >/dev/null \
    || die "tpmtrust-tool token init"
timeout -k 1 30 "${P11[@]}" --keypairgen --key-type EC:prime256v1 --id 01 --label k1 >/dev/null \
    || die "pkcs11-tool --keypairgen (id 01)"
msg "token and key 01 created through the swtpm TCTI"

abrmd_start || die "abrmd_start"
[ "$TPMTRUST_TCTI" = tabrmd:bus_type=session ] || die "TPMTRUST_TCTI is $TPMTRUST_TCTI after abrmd_start"

SECONDS=0
pids=() names=() outs=()
# Each job records when it ran (ms), to report the overlap.
stamp() { date +%s%3N >"$W/$1"; }
for i in 1 2 3; do
    (
        stamp signer$i.t0
        rc=0
        timeout -k 5 120 "$THREADS" sign 30 || rc=$?
        stamp signer$i.t1
        exit "$rc"
    ) >"$W/signer$i.out" 2>&1 &
    pids+=($!) names+=("signer $i (p11-threads sign 30)") outs+=("$W/signer$i.out")
done
# Meanwhile another process creates two key pairs in the same token.
(
    stamp keygen.t0
    for id in 02 03; do
        timeout -k 5 60 "${P11[@]}" --keypairgen --key-type EC:prime256v1 --id $id --label k$id ||
            { echo "keypairgen id $id failed"; exit 1; }
    done
    stamp keygen.t1
) >"$W/keygen.out" 2>&1 &
pids+=($!) names+=("key generator (pkcs11-tool --keypairgen, ids 02 and 03)") outs+=("$W/keygen.out")

failed=0
for idx in "${!pids[@]}"; do
    rc=0
    wait "${pids[$idx]}" || rc=$?
    if [ "$rc" -eq 0 ]; then
        msg "ok: ${names[$idx]}"
    else
        [ "$rc" -eq 124 ] && msg "${names[$idx]}: timed out"
        msg "${names[$idx]} exited $rc; its output:"
        sed 's/^/    /' "${outs[$idx]}" >&2
        failed=1
    fi
done
cat "$W"/signer*.out
[ "$failed" -eq 0 ] || die "concurrent processes failed (above)"
for i in 1 2 3; do
    grep -q ': 30 signed, 2 verified with OpenSSL, 0 failure' "$W/signer$i.out" ||
        die "signer $i: unexpected summary: $(cat "$W/signer$i.out")"
done
msg "3 signing processes + 1 key-generating process in parallel through tpm2-abrmd: ${SECONDS}s"
# Informational: did key generation actually overlap the signers?
k0=$(cat "$W/keygen.t0") k1=$(cat "$W/keygen.t1")
for i in 1 2 3; do
    s0=$(cat "$W/signer$i.t0") s1=$(cat "$W/signer$i.t1")
    msg "signer $i ran $((s0 - k0))..$((s1 - k0)) ms, key generation 0..$((k1 - k0)) ms"
done

# The new keys are in the store and usable, from fresh processes.
list=$(timeout -k 1 30 "${P11[@]}" --list-objects --type privkey) || die "pkcs11-tool --list-objects"
n=$(grep -c 'Private Key Object' <<<"$list" || true)
[ "$n" -eq 3 ] || die "expected 3 private keys, found $n: $list"
for id in 02 03; do
    out=$(TT_KEY_ID=$id timeout -k 5 60 "$THREADS" sign 2) || die "signing with the new key $id: $out"
done
msg "keys 02 and 03 created concurrently are listed and sign correctly"

abrmd_stop
n=$(tt_transient_count) || die "tpm2_getcap handles-transient"
[ "$n" -eq 0 ] || die "$n transient object(s) left in the TPM after tpm2-abrmd stopped"
msg "PASS (${SECONDS}s)"
