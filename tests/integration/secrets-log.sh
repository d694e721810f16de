#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# At the most verbose log level no PIN, key, seed or auth value reaches the log:
# token and PIN changes, logins (right and wrong), key generation, an HMAC
# import, signatures of every kind, all logged at trace level to one file,
# which is then searched for every secret used (as text and as hex).
set -euo pipefail
fails=0
pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
W=$(mktemp -d "$TT_TMP/log.XXXXXX")
export TPMTRUST_LOG_LEVEL=trace TPMTRUST_LOG_FILE=$W/trace.log
SO='So-Pin-7f1c93' PIN='Usr-Pin-2b8e41' PIN2='Usr-Pin-5d0a66'
SECRET='hmac-secret-value-4e7a91c2d0'
T=$TT_TOOL
P11=(pkcs11-tool --module "$TT_MODULE" --token-label logs)

TPMTRUST_SO_PIN=$SO TPMTRUST_PIN=$PIN $T token init --label logs >/dev/null
"${P11[@]}" --login --pin "$PIN" --change-pin --new-pin "$PIN2" >/dev/null 2>&1
"${P11[@]}" --login --pin wrong-pin-0 -O >/dev/null 2>&1 || true
tpm2_dictionarylockout -c
"${P11[@]}" --login --pin "$PIN2" --keypairgen --key-type EC:prime256v1 --id 01 >/dev/null 2>&1
"${P11[@]}" --login --pin "$PIN2" --keypairgen --key-type EC:edwards25519 --id 02 >/dev/null 2>&1
printf '%s' "$SECRET" | TPMTRUST_PIN=$PIN2 $T hmac import --token logs --label mac >/dev/null
head -c 32 /dev/zero >"$W/d"
"${P11[@]}" --login --pin "$PIN2" --sign -m ECDSA --id 01 -i "$W/d" -o "$W/s1" >/dev/null 2>&1
"${P11[@]}" --login --pin "$PIN2" --sign -m EDDSA --id 02 -i "$W/d" -o "$W/s2" >/dev/null 2>&1
"${P11[@]}" --login --pin "$PIN2" --sign -m SHA256-HMAC --id "$(printf mac | xxd -p)" -i "$W/d" -o "$W/s3" >/dev/null 2>&1

log=$W/trace.log
[ -s "$log" ] && grep -q "C_Login" "$log" && grep -q "C_Sign" "$log" \
    && pass "the trace log records the calls ($(wc -l <"$log") lines)" || fail "the trace log is empty or partial"
hexlog=$(xxd -p "$log" | tr -d '\n')
for s in "$SO" "$PIN" "$PIN2" wrong-pin-0 "$SECRET"; do
    if grep -qF -- "$s" "$log" || grep -q "$(printf '%s' "$s" | xxd -p | tr -d '\n')" <<<"$hexlog"; then
        fail "'$s' is in the log"
    else
        pass "'$s' is not in the log"
    fi
done
# the HMAC result of the secret key (a MAC) is fine to log, the key is not: and the
# signatures themselves are not logged either
for f in s1 s2 s3; do
    grep -qi "$(xxd -p "$W/$f" | tr -d '\n' | cut -c1-32)" <<<"$(cat "$log")" && fail "$f's bytes logged" \
        || pass "signature $f not logged"
done
echo "$fails failed"
[ "$fails" -eq 0 ]
