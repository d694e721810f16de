#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 15: nothing on disk is believed. An attacker with write access to the
# store file edits it between module calls (sqlite3 CLI); the module refuses
# every changed row with CKR_TPMTRUST_OBJECT_DAMAGED (0x80545402) and a log
# line naming the object, and the other keys keep signing (checked by openssl):
#  - a single byte of an object's attributes changed, its MAC removed;
#  - every column of one key row copied onto another key row (the generic
#    attack: no key that signs is left but the untouched one);
#  - two rows' ids swapped (the MAC binds the row id);
#  - a public object's row changed: refused before login too;
#  - a P-384 object given a P-256 key's blobs (and MAC);
#  - the user seal copied into the SO columns (item 6): refused, logged;
#  - the store rewritten to schema 1 (as main made it): it is upgraded in one
#    step, keys sign, rows get their MACs at login, edits are refused after;
#  - private rows are encrypted at rest (item 5): no private value or label in
#    the store file or its WAL, a private data object reads back after login;
#    a private row stored in the clear (as main wrote them) is encrypted at the
#    first login.
set -euo pipefail
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: sqlite3 not on PATH" >&2; exit 77; }
M=$TT_MODULE
DB=$TPMTRUST_STORE
W=$(mktemp -d "${TT_TMP:-/tmp}/storeauth.XXXXXX")
export TPMTRUST_LOG_FILE=$W/log TPMTRUST_LOG_LEVEL=info
P11=(pkcs11-tool --module "$M" --token-label auth)
fails=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
sql() { sqlite3 "$DB" "$@"; }

pkcs11-tool --module "$M" --init-token --slot-index 0 --label auth --so-pin 12345678 >/dev/null
"${P11[@]}" --login --login-type so --so-pin 12345678 --init-pin --pin 1234 >/dev/null
"${P11[@]}" --login --pin 1234 --keypairgen --key-type EC:prime256v1 --id 01 --label k1 >/dev/null
"${P11[@]}" --login --pin 1234 --keypairgen --key-type EC:prime256v1 --id 02 --label k2 >/dev/null
"${P11[@]}" --login --pin 1234 --keypairgen --key-type EC:secp384r1 --id 03 --label k3 >/dev/null
head -c 100 /dev/urandom >"$W/data"

pubkey_pem() { # id curve out
    local hex
    hex=$("${P11[@]}" --list-objects --type pubkey 2>/dev/null |
        awk -v id="$1" '/EC_POINT:/ {p = $2} /ID:/ && $2 == id {print p; exit}')
    printf 'asn1=SEQUENCE:spki\n[spki]\nalg=SEQUENCE:alg\nkey=FORMAT:HEX,BITSTRING:%s\n[alg]\noid=OID:id-ecPublicKey\ncurve=OID:%s\n' \
        "${hex:4}" "$2" >"$W/spki.cnf"
    openssl asn1parse -genconf "$W/spki.cnf" -out "$W/spki.der" >/dev/null
    openssl pkey -pubin -inform DER -in "$W/spki.der" -out "$3"
}
pubkey_pem 01 prime256v1 "$W/pub01.pem"
pubkey_pem 02 prime256v1 "$W/pub02.pem"
pubkey_pem 03 secp384r1 "$W/pub03.pem"

# signs ID: 0 when the key signs and openssl verifies it, 1 when signing fails,
# 2 when a signature came out that openssl rejects (the worst case).
signs() {
    rm -f "$W/sig"
    if ! "${P11[@]}" --login --pin 1234 --sign -m ECDSA-SHA256 --id "$1" -i "$W/data" \
        -o "$W/sig" --signature-format openssl >"$W/out" 2>&1; then
        return 1
    fi
    openssl dgst -sha256 -verify "$W/pub$1.pem" -signature "$W/sig" "$W/data" >/dev/null 2>&1 || return 2
}
expect_signs() { if signs "$1"; then pass "$2"; else fail "$2 ($(cat "$W/out"))"; fi; }
expect_refused() { # id what
    local r=0
    : >"$W/log"
    signs "$1" || r=$?
    if [ $r = 0 ]; then
        fail "$2: the key still signs"
    elif [ $r = 2 ]; then
        fail "$2: a signature came out that does not verify"
    elif ! grep -q "is refused" "$W/log"; then
        fail "$2: refused without a log line naming the object ($(cat "$W/out"))"
    else
        pass "$2: refused ($(grep -o 'stored object [0-9]* [^:]*' "$W/log" | head -1))"
    fi
}
expect_signs 01 "k1 signs"
expect_signs 03 "k3 (P-384) signs"
n_mac=$(sql "SELECT count(*) FROM objects WHERE mac IS NULL")
[ "$n_mac" = 0 ] && pass "every row has a MAC" || fail "$n_mac rows without a MAC"
[ "$(sql 'SELECT count(*) FROM tokens WHERE mackey_pub IS NULL')" = 0 ] \
    && pass "the token has a sealed row key" || fail "no row key"

# the private key rows (TPM blobs; their labels are encrypted), in the order made
read -r K1 K2 K3 <<<"$(sql "SELECT id FROM objects WHERE tpm_priv IS NOT NULL ORDER BY id" | tr '\n' ' ')"
[ -n "$K1" ] && [ -n "$K2" ] && [ -n "$K3" ] || { fail "key rows not found"; exit 1; }

# item 5: private rows are encrypted (0x02, rowenc.h), public ones are not
[ "$(sql "SELECT count(*) FROM objects WHERE tpm_priv IS NOT NULL AND hex(substr(attrs, 1, 1)) = '02'")" = 3 ] \
    && pass "the private key rows are encrypted" || fail "private key rows in the clear"
[ "$(sql "SELECT count(*) FROM objects WHERE tpm_priv IS NULL AND instr(attrs, CAST('k1' AS BLOB)) > 0")" = 1 ] \
    && pass "the public key rows are not" || fail "the public k1 row not found by its label"
secret_value=$(openssl rand -hex 24)
printf 'private-marker-%s' "$secret_value" >"$W/private.bin"
"${P11[@]}" --login --pin 1234 --write-object "$W/private.bin" --type data --private \
    --label private-label-"$secret_value" >/dev/null 2>&1 || fail "writing a private data object"
sql "PRAGMA wal_checkpoint" >/dev/null
found=0
for f in "$DB" "$DB-wal"; do
    [ -e "$f" ] || continue
    grep -a -q -e "private-marker-$secret_value" -e "private-label-$secret_value" "$f" && found=1
done
[ $found = 0 ] && pass "a private data object's value and label are not in the store or its WAL" \
    || fail "a private data object's value or label is in the store in the clear"
"${P11[@]}" --login --pin 1234 --read-object --type data --label private-label-"$secret_value" \
    -o "$W/private.back" >/dev/null 2>&1 && cmp -s "$W/private.bin" "$W/private.back" \
    && pass "it reads back after login" || fail "the private data object does not read back"
"${P11[@]}" --list-objects --type data 2>/dev/null | grep -q private-label \
    && fail "a private object is listed without login" || pass "it is not listed without login"
cp "$DB" "$W/good.sqlite3"
restore() { cp "$W/good.sqlite3" "$DB"; rm -f "$DB-wal" "$DB-shm"; }

# 1: one byte of the attributes (the last one: a CKA_* value)
sql "UPDATE objects SET attrs = substr(attrs, 1, length(attrs) - 1) || \
     CASE WHEN substr(attrs, -1) = X'01' THEN X'00' ELSE X'01' END WHERE id = $K1"
expect_refused 01 "k1 with one attribute byte changed"
expect_signs 02 "k2 keeps working beside it"
restore
expect_signs 01 "k1 signs again once the row is restored"

sql "UPDATE objects SET mac = NULL WHERE id = $K1"
expect_refused 01 "k1 with its MAC removed"
restore

# the generic attack: each column of k2's row onto k1's row
for col in attrs tpm_pub tpm_priv wrapped_auth mac; do
    sql "UPDATE objects SET $col = (SELECT $col FROM objects WHERE id = $K2) WHERE id = $K1"
    expect_refused 01 "k1 with k2's $col"
    # (with k2's attributes, k1's row also answers to id 02: pkcs11-tool may pick it)
    [ $col = attrs ] || expect_signs 02 "k2 signs while k1 has its $col"
    expect_signs 03 "k3 signs while k1 has k2's $col"
    restore
done
# all the columns but the MAC (an attacker's copy of a whole row), and the ids swapped
sql "UPDATE objects SET attrs = (SELECT attrs FROM objects WHERE id = $K2), \
     tpm_pub = (SELECT tpm_pub FROM objects WHERE id = $K2), \
     tpm_priv = (SELECT tpm_priv FROM objects WHERE id = $K2), \
     wrapped_auth = (SELECT wrapped_auth FROM objects WHERE id = $K2), \
     mac = (SELECT mac FROM objects WHERE id = $K2) WHERE id = $K1"
r=0; signs 02 || r=$?
[ $r != 2 ] && pass "a whole row copied onto another id: no bad signature" || fail "bad signature"
grep -q "stored object $K1 " "$W/log" && pass "the copied row $K1 is refused by its id" \
    || fail "the copy at row $K1 was not refused"
restore

# item 2: the P-384 key row given k1's P-256 blobs and wrapped auth
sql "UPDATE objects SET tpm_pub = (SELECT tpm_pub FROM objects WHERE id = $K1), \
     tpm_priv = (SELECT tpm_priv FROM objects WHERE id = $K1), \
     wrapped_auth = (SELECT wrapped_auth FROM objects WHERE id = $K1) WHERE id = $K3"
expect_refused 03 "a P-384 object holding a P-256 blob"
restore

# a public object, before any login: listing it is refused, the others list
PUB1=$(sql "SELECT id FROM objects WHERE tpm_priv IS NULL AND instr(attrs, CAST('k1' AS BLOB)) > 0")
sql "UPDATE objects SET attrs = substr(attrs, 1, length(attrs) - 1) || \
     CASE WHEN substr(attrs, -1) = X'01' THEN X'00' ELSE X'01' END WHERE id = $PUB1"
: >"$W/log"
"${P11[@]}" --list-objects --type pubkey >"$W/out" 2>&1 || true
if grep -q "stored object $PUB1 .*is refused" "$W/log"; then
    pass "a changed public row is refused before login"
else
    fail "a changed public row was not refused: $(cat "$W/out")"
fi
restore

# item 6: the user seal copied into the SO columns does not make the user PIN an SO PIN
sql "UPDATE tokens SET so_pub = user_pub, so_priv = user_priv"
: >"$W/log"
"${P11[@]}" --login --login-type so --so-pin 1234 --init-pin --pin 5678 >"$W/out" 2>&1 \
    && fail "the user PIN logged in as SO with the user seal in the SO columns" \
    || pass "the user seal in the SO columns: the user PIN is no SO PIN"
grep -q "SO seal holds the user's tag" "$W/log" && pass "... and the log says the seal was copied" \
    || fail "no log line about the copied seal: $(cat "$W/log")"
restore
expect_signs 01 "the user PIN still works once restored"

# a newer schema: read, never written, with a clear message
restore
sql "PRAGMA user_version = 99"
: >"$W/log"
"${P11[@]}" --list-objects >/dev/null 2>&1 || true
"${P11[@]}" --login --pin 1234 --keypairgen --key-type EC:prime256v1 --id 09 --label k9 >/dev/null 2>&1 \
    && fail "a newer schema store was written" || pass "a newer schema store is not written"
grep -q "newer schema" "$W/log" && pass "the log says the schema is newer" || fail "no newer-schema message"
restore


# the store as schema 1 made it: no MAC columns, no counter (issue 15 item 3)
NV_INDEX=$(sql "SELECT nv_index FROM tokens LIMIT 1")
to_v1() {
    sql "ALTER TABLE objects DROP COLUMN mac; ALTER TABLE tokens DROP COLUMN mackey_pub; \
         ALTER TABLE tokens DROP COLUMN mackey_priv; ALTER TABLE tokens DROP COLUMN generation; \
         ALTER TABLE tokens DROP COLUMN nv_index; ALTER TABLE tokens DROP COLUMN nv_count; \
         ALTER TABLE tokens DROP COLUMN mac; PRAGMA user_version = 1;"
}
undefine_counter() { # a token of schema 1 never had one
    tpm2_nvundefine -T "$TPMTRUST_TCTI" -C o "$(printf '0x%08x' "$NV_INDEX")" >"$W/nv.out" 2>&1 ||
        fail "tpm2_nvundefine: $(cat "$W/nv.out")"
}
[ "${NV_INDEX:-0}" -ne 0 ] && pass "the token has a TPM counter ($(printf '0x%08x' "$NV_INDEX"))" \
    || fail "the token has no TPM counter"

# a row stripped to schema 1 while the TPM holds the token's counter: refused
to_v1
: >"$W/log"
signs 01 && fail "a token row stripped of its MAC and counter is accepted" \
    || { grep -q "the TPM holds its counter" "$W/log" \
        && pass "a token row stripped of its MAC and counter is refused (the TPM holds its counter)" \
        || fail "stripped row: no log line about the counter: $(cat "$W/out")"; }
restore

# the migration: this store as schema 1 made it
to_v1
undefine_counter
"${P11[@]}" --list-objects >/dev/null 2>&1 && pass "a schema 1 store opens" || fail "schema 1 store"
[ "$(sql 'PRAGMA user_version')" = 2 ] && pass "upgraded to schema 2" || fail "not upgraded"
expect_signs 01 "k1 signs after the upgrade"
expect_signs 03 "k3 signs after the upgrade"
[ "$(sql 'SELECT count(*) FROM objects WHERE mac IS NULL')" = 0 ] \
    && pass "every row got its MAC at the first login" || fail "rows left without a MAC"
sql "UPDATE objects SET attrs = (SELECT attrs FROM objects WHERE id = $K2) WHERE id = $K1"
expect_refused 01 "after the upgrade, an edit is refused"
expect_signs 03 "... and k3 signs"

# a private row in the clear, as main wrote them (schema 1: no MAC): encrypted
# at the first login, and still readable
restore
to_v1
undefine_counter
le() { printf "%0$(($2 * 2))x" "$1" | fold -w2 | tac | tr -d '\n'; } # value bytes: little-endian hex
attr() { printf '%s%s%s' "$(le "$1" 8)" "$(le $((${#2} / 2)) 4)" "$2"; } # type valuehex
legacy=$(openssl rand -hex 16)
legacy_hex=$(printf 'legacy-%s' "$legacy" | xxd -p | tr -d '\n')
enc="01$(attr 0 "$(le 0 8)")$(attr 1 01)$(attr 2 01)$(attr 3 "$(printf legacy | xxd -p)")$(attr 17 "$legacy_hex")"
sql "INSERT INTO objects (token_id, attrs) VALUES ((SELECT min(id) FROM tokens), X'$enc')"
LEG=$(sql "SELECT max(id) FROM objects")
expect_signs 01 "k1 signs beside a private row in the clear"
[ "$(sql "SELECT hex(substr(attrs, 1, 1)) FROM objects WHERE id = $LEG")" = 02 ] \
    && pass "the private row in the clear is encrypted at the first login" \
    || fail "the private row stays in the clear after login"
"${P11[@]}" --login --pin 1234 --read-object --type data --label legacy -o "$W/legacy.back" \
    >/dev/null 2>&1 && [ "$(cat "$W/legacy.back")" = "legacy-$legacy" ] \
    && pass "... and reads back the same" || fail "the migrated private row does not read back"
sql "PRAGMA wal_checkpoint" >/dev/null
grep -a -q "legacy-$legacy" "$DB" && fail "its old plain copy is left in the store file" \
    || pass "no plain copy is left in the store file (secure_delete)"

rm -rf "$W"
[ $fails = 0 ] || { echo "$fails failed"; exit 1; }
