#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 15 item 3: no rollback. Each token's generation is anchored in a TPM NV
# counter (core/tpm/counter.c); C_Login refuses a store older than the counter
# with CKR_TPMTRUST_STORE_ROLLED_BACK and a log line saying so:
#  - a copy of the store from before C_SetPIN, put back: the old PIN no
#    longer logs in; the current store with the new PIN signs (openssl);
#  - a copy from before a key was destroyed, put back: refused;
#  - the old user seal spliced into the current token row: refused (the
#    row's MAC);
#  - the counter's value read with tpm2-tools equals the store's, and moves
#    by one per C_SetPIN (a burst of 10, its cost printed, not asserted);
#  - a TPM whose owner hierarchy has an auth (its SRK persisted): a new token
#    works without a counter, and says so (the weaker mode);
#  - deleting a token removes its counter.
# Run as: tests/with-swtpm.sh tests/integration/rollback.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
for t in sqlite3 tpm2_nvread tpm2_changeauth tpm2_getcap; do
    command -v $t >/dev/null 2>&1 || die "$t not on PATH (scripts/install-deps.sh --test installs it)"
done
W=$TT_TMP/rollback
mkdir -p "$W"
DB=$TPMTRUST_STORE
export TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234 TPMTRUST_LOG_FILE=$W/log
P11=(pkcs11-tool --module "$TT_MODULE" --token-label rb)
fails=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
sql() { sqlite3 -batch "$DB" "$@"; }
save() { sql "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null; cp "$DB" "$W/$1.sqlite3"; }
put_back() { cp "$W/$1.sqlite3" "$DB"; rm -f "$DB-wal" "$DB-shm"; }
counter() { # the TPM's value of the token's counter, read with tpm2-tools
    tpm2_nvread -T "$TPMTRUST_TCTI" -s 8 "$(printf '0x%08x' "$(sql "SELECT nv_index FROM tokens WHERE label = '$1'")")" |
        xxd -p | tr -d '\n'
}
# signs ID PIN: 0 when the key signs and openssl verifies the signature
signs() {
    rm -f "$W/sig"
    : >"$W/log"
    timeout -k 1 60 "${P11[@]}" --login --pin "$2" --sign -m ECDSA-SHA256 --id "$1" -i "$W/data" \
        -o "$W/sig" --signature-format openssl >"$W/out" 2>&1 || return 1
    openssl dgst -sha256 -verify "$W/pub$1.pem" -signature "$W/sig" "$W/data" >/dev/null 2>&1 || return 2
}
refused_as_rolled_back() { # what ID PIN
    local r=0
    signs "$2" "$3" || r=$?
    if [ $r = 0 ]; then
        fail "$1: accepted"
    elif grep -q "rolled back" "$W/log"; then
        pass "$1: refused ($(grep -o "the store is [a-z]* than the TPM's counter ([0-9]* change(s) [a-z]*)" "$W/log" | head -1))"
    else
        fail "$1: refused, but the log does not say rolled back: $(cat "$W/log" "$W/out")"
    fi
}

timeout -k 1 60 "$TT_TOOL" token init --label rb >/dev/null || die "token init"
for id in 01 02; do
    tt_ec_key rb "$id" "$W/pub$id.pem"
done
head -c 64 /dev/urandom >"$W/data"
idx=$(sql "SELECT nv_index FROM tokens WHERE label = 'rb'")
[ "$idx" -ne 0 ] && pass "the token has a TPM counter ($(printf '0x%08x' "$idx"))" || fail "no counter"
c0=$(counter rb)
[ "$((16#$c0))" = "$(sql "SELECT nv_count FROM tokens WHERE label = 'rb'")" ] &&
    pass "tpm2_nvread reads the value the store holds ($((16#$c0)))" ||
    fail "the counter ($((16#$c0))) is not the store's ($(sql "SELECT nv_count FROM tokens WHERE label = 'rb'"))"
signs 01 1234 && pass "k1 signs (openssl verifies)" || fail "k1 does not sign: $(cat "$W/out")"
save before-pin

# C_SetPIN, then the copy from before it
timeout -k 1 60 "${P11[@]}" --login --pin 1234 --change-pin --new-pin 5678 >"$W/out" 2>&1 ||
    fail "C_SetPIN: $(cat "$W/out")"
[ "$((16#$(counter rb)))" = $((16#$c0 + 1)) ] && pass "C_SetPIN moved the counter by one" ||
    fail "the counter did not move by one"
save after-pin
put_back before-pin
refused_as_rolled_back "the store from before C_SetPIN with the old PIN" 01 1234
put_back after-pin
signs 01 5678 && pass "the current store and the new PIN sign" || fail "the new PIN: $(cat "$W/out")"

# a destroyed key, brought back by a copy
timeout -k 1 60 "${P11[@]}" --login --pin 5678 --delete-object --type privkey --id 02 >"$W/out" 2>&1 ||
    fail "destroying k2: $(cat "$W/out")"
save after-destroy
put_back after-pin
refused_as_rolled_back "the store from before k2 was destroyed" 02 5678
put_back after-destroy
signs 01 5678 && pass "after the destroy, k1 signs" || fail "k1 after the destroy: $(cat "$W/out")"
signs 02 5678 && fail "k2 signs after it was destroyed" || pass "k2 is gone"

# the old user seal spliced into the current row
sqlite3 -batch "$DB" "ATTACH '$W/before-pin.sqlite3' AS old; \
    UPDATE tokens SET user_pub = (SELECT user_pub FROM old.tokens WHERE label = 'rb'), \
    user_priv = (SELECT user_priv FROM old.tokens WHERE label = 'rb') WHERE label = 'rb'"
signs 01 1234 && fail "the old user seal in the current row logs in with the old PIN" ||
    { grep -q "does not carry its MAC" "$W/log" &&
        pass "the old user seal in the current row: refused (the row's MAC)" ||
        fail "the spliced seal: no log line about the row's MAC: $(cat "$W/log")"; }
put_back after-destroy
signs 01 5678 && pass "the store put back, the new PIN signs" || fail "after the splice: $(cat "$W/out")"

# what one C_SetPIN process costs in counter commands (counts are deterministic):
# NV_Read at login, then NV_Read + NV_Increment under the store's lock (no read
# after the increment: it adds exactly one)
if [ -n "$(compgen -G '/usr/lib/*/libtss2-tcti-pcap.so*')" ]; then
    rm -f "$W/setpin.pcap"
    TPMTRUST_TCTI="pcap:$TPMTRUST_TCTI" TCTI_PCAP_FILE=$W/setpin.pcap timeout -k 1 60 \
        "${P11[@]}" --login --pin 5678 --change-pin --new-pin 5679 >"$W/out" 2>&1 ||
        fail "C_SetPIN under the pcap TCTI: $(cat "$W/out")"
    counts=$(python3 "$(dirname "$0")/pcap-count.py" "$W/setpin.pcap" | head -1)
    grep -q 'NV_Read=2\b' <<<"$counts" && grep -q 'NV_Increment=1\b' <<<"$counts" &&
        pass "a C_SetPIN process: NV_Read=2, NV_Increment=1 ($counts)" ||
        fail "a C_SetPIN process's counter commands: $counts"
    timeout -k 1 60 "${P11[@]}" --login --pin 5679 --change-pin --new-pin 5678 >"$W/out" 2>&1 ||
        fail "C_SetPIN back: $(cat "$W/out")"
elif [ "${CI:-}" = true ]; then
    fail "the pcap TCTI (libtss2-tcti-pcap0) is not installed"
fi

# a burst of PIN changes: the counter follows each one; the cost is printed
start=$(counter rb)
t0=$(date +%s.%N)
pin=5678
for i in $(seq 10); do
    new=$((5678 + i))
    timeout -k 1 60 "${P11[@]}" --login --pin $pin --change-pin --new-pin $new >"$W/out" 2>&1 ||
        { fail "C_SetPIN $i: $(cat "$W/out")"; break; }
    pin=$new
done
t1=$(date +%s.%N)
[ "$((16#$(counter rb)))" = $((16#$start + 10)) ] && pass "10 PIN changes moved the counter by 10" ||
    fail "10 PIN changes: the counter is at $((16#$(counter rb))), from $((16#$start))"
echo "# 10 C_SetPIN processes in $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s (swtpm: no NV rate limit)"
signs 01 $pin && pass "the last PIN signs" || fail "the last PIN: $(cat "$W/out")"

# an owner hierarchy with an auth: no counter (the weaker mode), said in the log
# (the SRK persisted first: making it needs the owner auth too)
timeout -k 1 60 "$TT_TOOL" srk persist </dev/null >"$W/out" 2>&1 || fail "srk persist: $(cat "$W/out")"
tpm2_changeauth -T "$TPMTRUST_TCTI" -c o ownerpass >/dev/null 2>&1 || fail "tpm2_changeauth"
: >"$W/log"
timeout -k 1 60 "$TT_TOOL" token init --label weak >"$W/out" 2>&1 || fail "token init weak: $(cat "$W/out")"
tt_ec_key weak 01 "$W/weak.pem" >/dev/null 2>&1 || fail "a key on the weak token"
grep -q "no rollback protection" "$W/log" && pass "without owner auth: the log says there is no rollback protection" ||
    fail "no log line about the missing counter: $(cat "$W/log")"
[ "$(sql "SELECT nv_index FROM tokens WHERE label = 'weak'")" = 0 ] && pass "... and the token has no counter" ||
    fail "the weak token has a counter"
tpm2_changeauth -T "$TPMTRUST_TCTI" -c o -p ownerpass >/dev/null 2>&1 || fail "tpm2_changeauth back"

# deleting a token removes its counter (listed before: the control)
tpm2_getcap -T "$TPMTRUST_TCTI" handles-nv-index | grep -qi "$(printf '0x%x' "$idx")" &&
    pass "tpm2_getcap lists the counter" || fail "tpm2_getcap does not list the counter"
timeout -k 1 60 "$TT_TOOL" token delete --label rb >"$W/out" 2>&1 || fail "token delete: $(cat "$W/out")"
nv_listed() { tpm2_getcap -T "$TPMTRUST_TCTI" handles-nv-index | grep -qi "$(printf '0x%x' "$idx")"; }
tpm2_getcap -T "$TPMTRUST_TCTI" handles-nv-index >"$W/nv.txt" 2>&1 || fail "tpm2_getcap: $(cat "$W/nv.txt")"
nv_listed && fail "the deleted token's counter is still defined" || pass "token delete removed its counter"

[ $fails = 0 ] || { echo "$fails failed"; exit 1; }
echo "rollback.sh: all passed"
