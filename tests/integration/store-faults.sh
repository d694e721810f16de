#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Store faults (docs/robustness.md): a read-only store, a full filesystem, a
# store locked by another writer past the busy timeout, a newer schema,
# damaged attribute rows and damaged TPM blobs. Each gives its documented
# CKR_ code and log line; the other objects keep working (signatures checked
# with OpenSSL); nothing is silently rewritten (the store file's checksum).
# Run as: tests/with-swtpm.sh tests/integration/store-faults.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
command -v sqlite3 >/dev/null 2>&1 || skip "sqlite3 not on PATH"
SHIM=$TT_BUILDDIR/tests/module/.libs/enospc-shim.so
[ -f "$SHIM" ] || die "$SHIM not built (make check builds it)"

W=$TT_TMP/store-faults
mkdir -p "$W"
STORE=$TPMTRUST_STORE
export TSS2_LOG=all+none
P11=(pkcs11-tool --module "$TT_MODULE" --token-label faults --login --pin 1234)
fails=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
sql() { sqlite3 -batch "$STORE" "$@"; }
sum() { sha256sum "$1" | cut -d' ' -f1; }

# p11 ARGS...: pkcs11-tool with a fresh module log in $W/log; output in $W/out.
p11() {
    : >"$W/log"
    TPMTRUST_LOG_FILE=$W/log timeout -k 5 60 "${P11[@]}" "$@" >"$W/out" 2>&1
}
# expect_fail WHAT CKR LOG_PATTERN ARGS...: the call fails with CKR and logs the pattern.
expect_fail() {
    local what=$1 ckr=$2 pat=$3
    shift 3
    if p11 "$@"; then
        fail "$what: succeeded"
    elif ! grep -qi "$ckr" "$W/out"; then
        fail "$what: not $ckr: $(tail -n 2 "$W/out")"
    elif ! grep -q -- "$pat" "$W/log"; then
        fail "$what: $ckr, but no log line '$pat': $(cat "$W/log")"
    else
        pass "$what: $ckr, log: $(grep -m1 -- "$pat" "$W/log" | cut -c1-160)"
    fi
}
# signs ID WHAT: key ID signs, and OpenSSL verifies the signature with its public key.
signs() {
    local id=$1 what=$2
    if ! p11 --sign -m ECDSA --signature-format openssl --id "$id" -i "$W/digest" -o "$W/sig"; then
        fail "$what: key $id does not sign: $(tail -n 2 "$W/out")"
    elif ! openssl pkeyutl -verify -pubin -inkey "$W/pub-$id.pem" -in "$W/digest" \
        -sigfile "$W/sig" >/dev/null 2>&1; then
        fail "$what: OpenSSL rejects key $id's signature"
    else
        pass "$what: key $id signs (verified with OpenSSL)"
    fi
}
# flags_say_readonly WHAT STORE: the token's flags include CKF_WRITE_PROTECTED.
flags_say_readonly() {
    local out
    out=$(TPMTRUST_STORE=$2 pkcs11-tool --module "$TT_MODULE" -L 2>&1 | grep -A8 "label *: faults" |
        grep 'token flags') || true
    grep -q readonly <<<"$out" && pass "$1: the token says CKF_WRITE_PROTECTED" ||
        fail "$1: token flags: $out"
}
objects() { p11 --list-objects && grep -c -E 'Object;|^Data object' "$W/out"; }

# ---- set-up: a token, three EC key pairs, a data object ----
TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234 "$TT_TOOL" token init --label faults >/dev/null ||
    die "token init"
openssl rand 32 >"$W/digest"
for id in 01 02 03; do
    p11 --keypairgen --key-type EC:prime256v1 --id $id --label k$id || die "keypairgen $id: $(cat "$W/out")"
    p11 --read-object --type pubkey --id $id -o "$W/pub-$id.der" || die "read pubkey $id"
    openssl pkey -pubin -inform DER -in "$W/pub-$id.der" -out "$W/pub-$id.pem" || die "pubkey $id"
done
echo data >"$W/data"
p11 --write-object "$W/data" --type data --label d1 --private || die "write data: $(cat "$W/out")"
data_row=$(sql 'SELECT max(id) FROM objects')
n_all=$(objects) || die "list objects"
[ "$n_all" -eq 7 ] || die "expected 7 objects, found $n_all"
signs 01 "set-up"

# ---- read-only store ----
ro="file:$STORE?mode=ro"
s0=$(sum "$STORE")
TPMTRUST_STORE=$ro expect_fail "read-only store: key generation" CKR_TOKEN_WRITE_PROTECTED \
    "is read-only" --keypairgen --key-type EC:prime256v1 --id 77
TPMTRUST_STORE=$ro expect_fail "read-only store: C_DestroyObject" CKR_TOKEN_WRITE_PROTECTED \
    "is read-only" --delete-object --type data --label d1
TPMTRUST_STORE=$ro signs 01 "read-only store"
flags_say_readonly "read-only store" "$ro"
[ "$(sum "$STORE")" = "$s0" ] && pass "read-only store: file unchanged" || fail "read-only store changed"

# ---- full filesystem ----
# full_checks WHAT: the store ($TPMTRUST_STORE) is on a full filesystem.
full_checks() {
    local what=$1 s0
    s0=$(sum "$TPMTRUST_STORE")
    expect_fail "$what: key generation" CKR_DEVICE_MEMORY "is full: free space and retry" \
        --keypairgen --key-type EC:prime256v1 --id 77
    expect_fail "$what: C_CreateObject" CKR_DEVICE_MEMORY "is full: free space and retry" \
        --write-object "$W/data" --type data --label d2 --private
    signs 01 "$what"
    [ "$(objects)" = "$n_all" ] && pass "$what: all $n_all objects listed" || fail "$what: objects: $(cat "$W/out")"
    [ "$(sum "$TPMTRUST_STORE")" = "$s0" ] && pass "$what: store file unchanged" || fail "$what: store file changed"
    # (sqlite3 itself cannot make a -shm there either)
    [ "$(sqlite3 -readonly "file:$TPMTRUST_STORE?immutable=1" 'PRAGMA integrity_check')" = ok ] &&
        pass "$what: integrity_check ok" ||
        fail "$what: integrity_check"
}
mkdir -m 700 "$W/full"
if mount -t tmpfs -o size=256k,mode=700 tmpfs "$W/full" 2>/dev/null; then
    cp "$STORE" "$W/full/store.sqlite3"
    dd if=/dev/zero of="$W/full/filler" bs=4k 2>/dev/null || true
    msg "full filesystem: a 256 KiB tmpfs, filled: $(df -k --output=avail "$W/full" | tail -n1 | tr -d ' ') KiB free"
    TPMTRUST_STORE=$W/full/store.sqlite3 full_checks "tmpfs full"
    rm -f "$W/full/filler"
    TPMTRUST_STORE=$W/full/store.sqlite3 p11 --keypairgen --key-type EC:prime256v1 --id 77 &&
        pass "tmpfs with space again: key generation works" || fail "tmpfs freed: $(tail -n 2 "$W/out")"
    umount "$W/full"
else
    [ "$(id -u)" -ne 0 ] || die "root, but mounting a tmpfs failed"
    msg "full filesystem: not root, no tmpfs: only the LD_PRELOAD shim below stands in"
fi
# Always also the shim (the only full filesystem where tests cannot mount):
# first with room for the shared-memory index (-shm) but none for changes, as
# for a process that had the store open before the disk filled; then with no
# room at all (a process that opens the store on a full disk).
mkdir -m 700 "$W/shim"
cp "$STORE" "$W/shim/store.sqlite3"
f=$W/shim/store.sqlite3
TPMTRUST_STORE=$f LD_PRELOAD=$SHIM TT_ENOSPC_FILES="$f:$f-wal" full_checks "full, -shm exists (LD_PRELOAD shim)"
rm -f "$f-shm" "$f-wal"
TPMTRUST_STORE=$f LD_PRELOAD=$SHIM TT_ENOSPC_FILES="$f:$f-wal:$f-shm" full_checks "full (LD_PRELOAD shim)"

# ---- locked by another writer for longer than the busy timeout (5 s) ----
s0=$(sum "$STORE")
{ echo 'BEGIN EXCLUSIVE;'; echo "SELECT 'locked';"; sleep 9; echo 'COMMIT;'; } |
    sqlite3 "$STORE" >"$W/locker.out" 2>&1 &
locker=$!
for ((i = 0; i < 100; i++)); do grep -q locked "$W/locker.out" && break; sleep 0.05; done
grep -q locked "$W/locker.out" || die "sqlite3 did not take the write lock: $(cat "$W/locker.out")"
t0=$(date +%s%N)
expect_fail "locked store: key generation" CKR_FUNCTION_FAILED \
    "is locked: another process held its write lock for longer than the busy timeout (5 s)" \
    --keypairgen --key-type EC:prime256v1 --id 78
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -ge 5000 ] && pass "locked store: gave up after ${ms} ms (busy timeout 5 s)" ||
    fail "locked store: gave up after only ${ms} ms"
kill -0 "$locker" 2>/dev/null || fail "locked store: the lock was released too early for the next checks"
signs 01 "locked store (WAL: readers are not blocked)"
[ "$(objects)" = "$n_all" ] && pass "locked store: all $n_all objects listed" || fail "locked store: objects"
wait "$locker" || fail "locked store: sqlite3 holding the lock failed: $(cat "$W/locker.out")"
[ "$(sum "$STORE")" = "$s0" ] && pass "locked store: file unchanged" || fail "locked store: file changed"

# ---- a newer schema version ----
sql 'PRAGMA user_version = 3'
s0=$(sum "$STORE")
[ "$(objects)" = "$n_all" ] && pass "newer schema: all $n_all objects listed" || fail "newer schema: objects: $(cat "$W/out")"
grep -q "schema version 3, newer than this tpmtrust understands (2): opened read-only" "$W/log" &&
    pass "newer schema: log says it is opened read-only" || fail "newer schema: log: $(cat "$W/log")"
signs 01 "newer schema"
expect_fail "newer schema: key generation" CKR_TOKEN_WRITE_PROTECTED "has a newer schema than this tpmtrust" \
    --keypairgen --key-type EC:prime256v1 --id 79
expect_fail "newer schema: C_DestroyObject" CKR_TOKEN_WRITE_PROTECTED "has a newer schema than this tpmtrust" \
    --delete-object --type data --label d1
flags_say_readonly "newer schema" "$STORE"
[ "$(sum "$STORE")" = "$s0" ] && [ "$(sql 'PRAGMA user_version')" = 3 ] &&
    pass "newer schema: file unchanged, still version 3 (never migrated down)" || fail "newer schema: store changed"
sql 'PRAGMA user_version = 2'

# ---- damaged attribute rows: skipped, the others work, nothing rewritten ----
pub03_row=$(sql "SELECT max(id) FROM objects WHERE tpm_priv IS NULL AND id < $data_row")
keep_data=$(sql "SELECT hex(attrs) FROM objects WHERE id = $data_row")
keep_pub=$(sql "SELECT hex(attrs) FROM objects WHERE id = $pub03_row")
sql "UPDATE objects SET attrs = X'01FFFFFF' WHERE id = $data_row"   # does not decode
sql "UPDATE objects SET attrs = X'01' WHERE id = $pub03_row"        # decodes, no CKA_CLASS
s0=$(sum "$STORE")
n=$(objects) || true
[ "$n" = $((n_all - 2)) ] && pass "damaged rows: the $((n_all - 2)) others listed" || fail "damaged rows: $n objects listed"
grep -q "stored object $data_row is damaged (its attributes do not decode): skipped" "$W/log" &&
    grep -q "stored object $pub03_row is damaged (no valid CKA_CLASS): skipped" "$W/log" &&
    pass "damaged rows: a log line names each" || fail "damaged rows: log: $(cat "$W/log")"
signs 01 "damaged rows"
p11 --keypairgen --key-type EC:prime256v1 --id 7a && pass "damaged rows: a new key can still be made" ||
    fail "damaged rows: keygen: $(tail -n 2 "$W/out")"
p11 --delete-object --type privkey --id 7a && p11 --delete-object --type pubkey --id 7a ||
    fail "damaged rows: deleting the new key"
[ "$(sql "SELECT hex(attrs) FROM objects WHERE id IN ($data_row, $pub03_row) ORDER BY id")" = \
    "$(printf '01\n01FFFFFF')" ] && pass "damaged rows: left as they were" || fail "damaged rows: rewritten"
sql "UPDATE objects SET attrs = X'$keep_data' WHERE id = $data_row"
sql "UPDATE objects SET attrs = X'$keep_pub' WHERE id = $pub03_row"
[ "$(objects)" = "$n_all" ] && pass "damaged rows repaired: all $n_all objects back" || fail "repaired rows"

# ---- damaged TPM blobs: that key fails with a specific code, the others work ----
# flip ROW COLUMN OFFSET: flips the low bit of the byte at OFFSET (from the end when negative).
flip() {
    local hex off
    hex=$(sql "SELECT hex($2) FROM objects WHERE id = $1")
    off=$3
    [ "$off" -ge 0 ] || off=$((${#hex} / 2 + off))
    local b=$((16#${hex:$((2 * off)):2} ^ 1))
    sql "UPDATE objects SET $2 = X'${hex:0:$((2 * off))}$(printf %02X $b)${hex:$((2 * off + 2))}' WHERE id = $1"
}
priv02=$(sql "SELECT id FROM objects WHERE tpm_priv IS NOT NULL ORDER BY id LIMIT 1 OFFSET 1")
priv03=$(sql "SELECT id FROM objects WHERE tpm_priv IS NOT NULL ORDER BY id LIMIT 1 OFFSET 2")
keep=$(sql "SELECT hex(tpm_pub) || ' ' || hex(tpm_priv) || ' ' || hex(wrapped_auth) FROM objects ORDER BY id")
flip "$priv02" tpm_pub 40
flip "$priv03" tpm_priv -8
s0=$(sum "$STORE")
expect_fail "damaged public blob" d4540002 "its MAC does not verify" \
    --sign -m ECDSA --id 02 -i "$W/digest" -o "$W/sig"
expect_fail "damaged private blob" d4540002 "its MAC does not verify" \
    --sign -m ECDSA --id 03 -i "$W/digest" -o "$W/sig"
signs 01 "damaged blobs of other keys"
[ "$(objects)" = "$n_all" ] && pass "damaged blobs: all $n_all objects still listed" || fail "damaged blobs: objects"
[ "$(sum "$STORE")" = "$s0" ] && pass "damaged blobs: store file unchanged" || fail "damaged blobs: store changed"
sql "UPDATE objects SET wrapped_auth = X'00' WHERE id = $priv03"
expect_fail "truncated wrapped auth value" d4540002 "its MAC does not verify" \
    --sign -m ECDSA --id 03 -i "$W/digest" -o "$W/sig"
sql "UPDATE objects SET wrapped_auth = X'$(sql "SELECT hex(wrapped_auth) FROM objects WHERE id = $priv02")' WHERE id = $priv03"
s0=$(sum "$STORE")
expect_fail "another key's wrapped auth value" d4540002 "its MAC does not verify" \
    --sign -m ECDSA --id 03 -i "$W/digest" -o "$W/sig"
[ "$(sum "$STORE")" = "$s0" ] && pass "damaged wraps: store file unchanged" || fail "damaged wraps: store changed"
while read -r id pub priv wa; do
    sql "UPDATE objects SET tpm_pub = X'$pub', tpm_priv = X'$priv', wrapped_auth = X'$wa' WHERE id = $id"
done < <(paste -d' ' <(sql 'SELECT id FROM objects ORDER BY id') <(printf '%s\n' "$keep") |
    awk 'NF == 4')
signs 02 "restored blobs"
signs 03 "restored blobs"

echo "$fails failed"
[ "$fails" -eq 0 ]
