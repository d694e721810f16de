#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A core dump taken after C_Finalize holds no secret: not the PIN (nor its
# PBKDF2 auth value), not an imported HMAC key, not an Ed25519 seed or its
# expanded key. tests/module/coredump-secrets logs in, imports the key and the
# seed (random per run), signs with both, finalizes, wipes its own copies and
# waits; gcore dumps it; the same program scans the dump. Two controls make
# sure the scan can fail: a marker still live in the heap and one left
# unwiped in freed heap memory must both be found. The MAC and signature are
# checked with openssl, so the module really used the values we look for.
# The same key and seed bound to PCR 7 sign too (policy sessions with
# PolicyAuthValue): the scan also fails on any ESYS session whose
# sessionValue holds an object's auth value (tpm2-tss keeps it there after an
# ESAPI command and frees the session unwiped; core/tpm-fast.c runs these
# sessions itself), whatever that random value is.
# Note: sodium_malloc memory (secbuf) is excluded from core dumps
# (MADV_DONTDUMP); this test is about copies outside it.
# Run as: tests/with-swtpm.sh tests/integration/coredump.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
command -v gcore >/dev/null 2>&1 || skip "gcore (gdb) not on PATH"
for t in sqlite3 xxd openssl; do
    command -v $t >/dev/null 2>&1 || skip "$t not on PATH"
done
PROG=$TT_BUILDDIR/tests/module/coredump-secrets
[ -x "$PROG" ] || die "$PROG not built (make check builds it)"

W=$TT_TMP/coredump
mkdir -p "$W"
chmod 700 "$W"
cd "$W" # nothing of the dump lands in the source tree
export TT_TOKEN=test
pin="ttpin-$(openssl rand -hex 12)"
pin2="ttnewpin-$(openssl rand -hex 12)"
hexof() { printf '%s' "$1" | xxd -p | tr -d '\n'; }
TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=$pin timeout -k 1 60 "$TT_TOOL" token init --label "$TT_TOKEN" \
    >/dev/null || die "tpmtrust-tool token init"
salt=$(sqlite3 "$TPMTRUST_STORE" "SELECT hex(salt) FROM tokens WHERE label = '$TT_TOKEN'")
seed=$(openssl rand -hex 32)
hmac=$(openssl rand -hex 32)
umask 077
{
    echo "pin=$(hexof "$pin")"
    echo "pin2=$(hexof "$pin2")"
    echo "hmac=$hmac"
    echo "seed=$seed"
    echo "salt=$salt"
    echo "live=$(openssl rand -hex 32)"
    echo "freed=$(openssl rand -hex 48)"
} >secrets
unset pin pin2

mkfifo go
timeout -k 5 120 "$PROG" run secrets <go >run.out 2>run.err &
pid=$!
exec 3>go # the program reads its stdin until we close this
for _ in $(seq 600); do
    grep -q '^READY ' run.out 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if ! grep -q '^READY [0-9]*$' run.out; then
    exec 3>&-
    wait "$pid" || true
    cat run.out run.err >&2
    die "coredump-secrets run did not get ready"
fi
prog_pid=$(sed -n 's/^READY //p' run.out) # the program's own pid (timeout is $pid)
gcore -o core "$prog_pid" >gcore.log 2>&1 || { exec 3>&-; cat gcore.log >&2; die "gcore $prog_pid failed"; }
exec 3>&-
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || die "coredump-secrets run exited $rc: $(cat run.err)"
[ -s "core.$prog_pid" ] || die "gcore wrote no core.$prog_pid"

# The module used exactly these values: check its results with openssl.
val() { sed -n "s/^$1=//p" run.out; }
printf '%s' "$(val msg)" >msg
want=$(openssl mac -digest SHA256 -macopt "hexkey:$hmac" -in msg HMAC | tr 'A-F' 'a-f')
[ "$(val hmac_sha256)" = "$want" ] || die "the module's HMAC is not HMAC-SHA256 with the imported key"
printf '302e020100300506032b657004220420%s' "$seed" | xxd -r -p >seed.der
openssl pkey -inform DER -in seed.der -pubout -out pub.pem 2>/dev/null || die "openssl: key from the seed"
openssl pkey -pubin -in pub.pem -outform DER | tail -c 32 | xxd -p | tr -d '\n' >pub.hex
[ "$(val ed25519_point)" = "0420$(cat pub.hex)" ] || die "the module's Ed25519 public key is not the seed's"
val ed25519_sig | xxd -r -p >sig.bin
openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in msg -sigfile sig.bin >/dev/null ||
    die "openssl does not accept the module's Ed25519 signature"
[ "$(val ed25519_sig_again)" = same ] || die "the cached Ed25519 key signed differently"
[ "$(val hmac_pcr)" = same ] || die "the PCR-bound HMAC key (same value) gave another MAC"
[ "$(val ed25519_pcr)" = same ] || die "the PCR-bound Ed25519 key (same seed) signed differently"
rm -f seed.der
msg "the module signed with the imported HMAC key and seed (checked with openssl)"
# the store holds none of them either (nor the PINs)
tt_store_scan "the PIN" "$(sed -n 's/^pin=//p' secrets)" "the new PIN" "$(sed -n 's/^pin2=//p' secrets)" \
    "the HMAC key" "$hmac" "the Ed25519 seed" "$seed" || die "secrets in the store (above)"

rc=0
"$PROG" scan "core.$prog_pid" secrets >scan.out || rc=$?
cat scan.out
if [ "$rc" -ne 0 ] && [ "${TT_KEEP:-0}" = 1 ]; then
    msg "TT_KEEP=1: kept $W/core.$prog_pid and $W/secrets"
else
    rm -f "core.$prog_pid" secrets
fi
[ "$rc" -eq 0 ] || die "secrets found in the core dump after C_Finalize (above)"
known=$(sed -n 's/^KNOWN: //p' scan.out)
msg "PASS: no PIN, HMAC key or Ed25519 seed (or its expansion), no ESYS session holding an auth value in the core dump (PCR-bound keys used too); both controls found${known:+. Known: $known}"
