#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# OpenSSL 3 with the libp11 engine (engine id "pkcs11") and curl against the
# module: a CSR and a self-signed certificate signed by the TPM key (checked
# by openssl, public key compared with the token's), TLS client
# authentication by curl against a local `openssl s_server -Verify 1`, the
# engine made OpenSSL's default (`-engine pkcs11`, or an engine section in an
# OpenSSL config file), and all of that again with an Ed25519 key on the same
# token (libp11 0.4.12 gives up on a token holding a CKK_EC_EDWARDS key; on
# failure the PKCS#11 spy shows the last calls).
# Run as: tests/with-swtpm.sh tests/integration/openssl-curl.sh
set -euo pipefail

msg() { echo "${0##*/}: $*" >&2; }
die() { msg "FAIL: $*"; exit 1; }
skip() { if [ "${CI:-}" = true ]; then msg "ERROR: $* (CI=true)"; exit 99; fi; msg "SKIP: $*"; exit 77; }

[ -n "${TT_SWTPM_ENV:-}" ] || die "run me under tests/with-swtpm.sh"
# shellcheck source=tests/swtpm-env.sh
. "$TT_SWTPM_ENV"
swtpm_start # attaches to the wrapper's swtpm
: "${TT_MODULE:?}" "${TT_TOOL:?}"
for p in openssl curl pkcs11-tool timeout; do
    command -v "$p" >/dev/null 2>&1 || skip "$p not on PATH"
done
ENGINES_DIR=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
ENGINE_SO=${TT_P11_ENGINE:-$ENGINES_DIR/pkcs11.so}
[ -r "$ENGINE_SO" ] || skip "libp11 engine $ENGINE_SO missing (Debian: libengine-pkcs11-openssl)"
SPY=
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
    [ -r "$d/pkcs11-spy.so" ] && { SPY=$d/pkcs11-spy.so; break; }
done

# Every OpenSSL run below gets exactly the configuration it is given.
unset OPENSSL_CONF OPENSSL_ENGINES PKCS11_MODULE_PATH
TOKEN=web PIN=1234 SO_PIN=12345678
W=$(mktemp -d "${TT_TMP:-/tmp}/openssl-curl.XXXXXX")
T0=$SECONDS
passes=0 fails=0
# shellcheck source=tests/integration/tls-common.sh
. "$(dirname "$0")/tls-common.sh"

# uri ID TYPE: the PKCS#11 URI that tpmtrust-tool prints for that object.
uri() {
    TPMTRUST_PIN=$PIN tmo "$TT_TOOL" object list --token "$TOKEN" --login |
        awk -v id="$1" -v t="$2" '!found && $1 ~ /^pkcs11:/ && $1 ~ ("[:;]id=%" id "(;|$)") &&
            $1 ~ (";type=" t "$") { print $1; found = 1 }'
}

# A cause printed under a failure, when stderr shows a known one.
explain() { # stderr-file
    if grep -q 'starting a salted session' "$1"; then
        note "cause: the module's salted TPM session failed: tpm2-tss creates its ephemeral ECDH key with"
        note "EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL), which OpenSSL routes to the libp11 engine once that"
        note "engine is a default/registered EC implementation; EVP_PKEY_get_bn_param(EC_PUB_X) then fails"
        note "on the resulting legacy key (ESYS 'Get ephemeral key')."
    fi
    if grep -q -e 'Unable to enumerate private keys' -e 'object not found' "$1"; then
        note "cause: libp11 0.4.12 aborts the whole key enumeration on a key type it does not know"
        note "(pkcs11_object_from_handle returns NULL for it), so no key on the token can be loaded."
    fi
    grep -v -e '^ERROR:esys' "$1" | tail -n 4 | sed 's/^/#   stderr: /' || true
}

# spy_trace CMD...: run CMD with the module behind OpenSC's pkcs11-spy
# (CMD must take the module from PKCS11_MODULE_PATH) and show the last calls.
spy_trace() {
    [ -n "$SPY" ] || { note "(pkcs11-spy.so not found: no call trace)"; return 0; }
    rm -f "$W/spy.log"
    PKCS11_MODULE_PATH=$SPY PKCS11SPY=$TT_MODULE PKCS11SPY_OUTPUT=$W/spy.log tmo "$@" \
        </dev/null >/dev/null 2>&1 || true
    [ -s "$W/spy.log" ] || { note "(no spy output)"; return 0; }
    note "pkcs11-spy: last key type read, and the calls after it:"
    awk '/^[0-9]+: C_/ { call = $2 }
         /CKA_KEY_TYPE +CKK_/ && !/\// { kt = $0; n = NR; kc = call }
         END { if (kt != "") print kc ": " kt }' "$W/spy.log" | sed 's/  */ /g; s/^/#     /' || true
    awk '/CKA_KEY_TYPE +CKK_/ && !/\// { last = NR } { line[NR] = $0 }
         END { if (last) for (i = last + 1; i <= NR; i++) if (line[i] ~ /^[0-9]+: C_/) print line[i] }' \
        "$W/spy.log" | sed 's/^/#     /' || true
}

# ---------------------------------------------------------------- setup
TPMTRUST_SO_PIN=$SO_PIN TPMTRUST_PIN=$PIN tmo "$TT_TOOL" token init --label "$TOKEN" >/dev/null \
    || die "tpmtrust-tool token init"
tmo pkcs11-tool --module "$TT_MODULE" --token-label "$TOKEN" --login --pin "$PIN" \
    --keypairgen --key-type EC:prime256v1 --id 01 --label tlskey >/dev/null || die "keypairgen P-256"
KEY=$(uri 01 private) || die "tpmtrust-tool object list"
[ -n "$KEY" ] || die "no URI for the private key in 'tpmtrust-tool object list'"
pass "token '$TOKEN' with a P-256 key: $KEY"
KEYPIN="$KEY?pin-value=$PIN"           # RFC 7512 query attribute, understood by libp11
ENGKEY="org.openssl.engine:pkcs11:$KEYPIN" # the engine's key loader, engine not made a default

# The token's public key, as PEM (pkcs11-tool exports it as SubjectPublicKeyInfo).
tmo pkcs11-tool --module "$TT_MODULE" --token-label "$TOKEN" --read-object --type pubkey --id 01 \
    -o "$W/tokpub.der" >/dev/null 2>&1 || die "cannot export the token's public key"
openssl pkey -pubin -inform DER -in "$W/tokpub.der" -out "$W/tokpub.pem" || die "bad public key export"

cat >"$W/req.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_self]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign
subjectKeyIdentifier = hash
EOF
printf 'basicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth\n' >"$W/client.ext"
printf 'basicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n' >"$W/srv.ext"
# Software CA and server certificate.
{
    openssl req -config "$W/req.cnf" -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$W/ca.key" -out "$W/ca.pem" -subj "/CN=tpmtrust test CA" -days 2 -extensions v3_ca &&
        openssl req -config "$W/req.cnf" -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$W/srv.key" -out "$W/srv.csr" -subj "/CN=127.0.0.1" &&
        openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
            -out "$W/srv.pem" -days 2 -extfile "$W/srv.ext"
} >/dev/null 2>&1 || die "software CA / server certificate"

# ---------------------------------------------------------------- CSR, self-signed
# 1. The canonical form: -engine makes libp11 OpenSSL's default for everything.
if PKCS11_MODULE_PATH=$TT_MODULE tmo openssl req -config "$W/req.cnf" -new -engine pkcs11 -keyform engine \
    -key "$KEYPIN" -subj "/CN=tpmtrust engine csr" -out "$W/engine.csr" </dev/null >/dev/null 2>"$W/err" &&
    openssl req -in "$W/engine.csr" -verify -noout 2>/dev/null; then
    pass "CSR with 'openssl req -engine pkcs11 -keyform engine' verifies"
else
    fail "CSR with 'openssl req -engine pkcs11 -keyform engine' (engine made the default)"
    explain "$W/err"
fi

# 2. The engine's key loader without making the engine a default.
if PKCS11_MODULE_PATH=$TT_MODULE tmo openssl req -config "$W/req.cnf" -new -key "$ENGKEY" \
    -subj "/CN=tpmtrust curl client" -out "$W/client.csr" </dev/null >/dev/null 2>"$W/err" &&
    openssl req -in "$W/client.csr" -verify -noout 2>/dev/null; then
    pass "CSR signed through the engine's key loader verifies (openssl req -verify)"
else
    fail "CSR through the engine's key loader"
    explain "$W/err"
fi
if openssl req -in "$W/client.csr" -pubkey -noout 2>/dev/null | cmp -s - "$W/tokpub.pem"; then
    pass "the CSR carries the token's public key"
else
    fail "the CSR's public key differs from the token's"
fi

if PKCS11_MODULE_PATH=$TT_MODULE tmo openssl req -config "$W/req.cnf" -x509 -new -key "$ENGKEY" \
    -subj "/CN=tpmtrust self-signed" -days 2 -sha256 -extensions v3_self -out "$W/self.pem" \
    </dev/null >/dev/null 2>"$W/err"; then
    pass "self-signed certificate created (openssl req -x509)"
else
    fail "self-signed certificate (openssl req -x509)"
    explain "$W/err"
fi
if [ -s "$W/self.pem" ] && out=$(openssl verify -CAfile "$W/self.pem" "$W/self.pem" 2>&1) &&
    [ "$out" = "$W/self.pem: OK" ]; then
    pass "its signature verifies (openssl verify -CAfile cert cert)"
else
    fail "self-signed certificate does not verify: ${out:-no certificate}"
fi
if [ -s "$W/self.pem" ] && openssl x509 -in "$W/self.pem" -noout -text | grep -q 'Signature Algorithm: ecdsa-with-SHA256' &&
    openssl x509 -in "$W/self.pem" -pubkey -noout | cmp -s - "$W/tokpub.pem"; then
    pass "self-signed certificate: ecdsa-with-SHA256, public key equals the token key's"
else
    fail "self-signed certificate: algorithm or public key differs from the token's"
fi

# ---------------------------------------------------------------- TLS client auth with curl
CN=tpmtrust\ curl\ client
if [ -s "$W/client.csr" ] && openssl x509 -req -in "$W/client.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" \
    -CAcreateserial -out "$W/client.pem" -days 2 -extfile "$W/client.ext" >/dev/null 2>&1; then
    pass "the software CA issued a client certificate for the TPM key"
else
    fail "no client certificate (no CSR?)"
fi

# curl_tls NAME LOG [ENV...] -- [CURL ARGS...]: one HTTPS GET against a fresh s_server.
curl_tls() {
    local log=$1 envs=()
    shift
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    start_server "$log" || return 2
    local rc=0
    tmo env "${envs[@]}" curl -sS --max-time 15 --cacert "$W/ca.pem" "$@" \
        "https://127.0.0.1:$PORT/" -o "$W/curl.out" </dev/null 2>"$W/err" || rc=$?
    stop_server
    return "$rc"
}

rc=0
curl_tls "$W/s1.log" PKCS11_MODULE_PATH="$TT_MODULE" -- \
    --engine pkcs11 --key-type ENG --key "$KEYPIN" --cert "$W/client.pem" || rc=$?
if [ "$rc" -eq 0 ] && server_saw "$W/s1.log" "$CN" && grep -q "Subject: CN *= *$CN" "$W/curl.out"; then
    pass "curl --engine pkcs11 (module from PKCS11_MODULE_PATH, PIN in the URI): client authenticated as CN=$CN"
else
    fail "curl --engine pkcs11 with PKCS11_MODULE_PATH: exit $rc"
    explain "$W/err"
fi

# The engine configured in an OpenSSL config file (MODULE_PATH, PIN): the usual setup.
cat >"$W/engine.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE_SO
MODULE_PATH = $TT_MODULE
PIN = $PIN
init = 0
EOF
rc=0
curl_tls "$W/s2.log" OPENSSL_CONF="$W/engine.cnf" -- \
    --engine pkcs11 --key-type ENG --key "$KEY" --cert "$W/client.pem" || rc=$?
if [ "$rc" -eq 0 ] && server_saw "$W/s2.log" "$CN"; then
    pass "curl with the engine from an OpenSSL config file (MODULE_PATH, PIN): client authenticated"
else
    fail "curl with the engine from an OpenSSL config file: exit $rc"
    explain "$W/err"
fi

rc=0
curl_tls "$W/s3.log" -- || rc=$?
if [ "$rc" -ne 0 ] && ! grep -q '^depth=0' "$W/s3.log"; then
    pass "without a client certificate s_server -Verify 1 refuses curl (exit $rc)"
else
    fail "s_server accepted curl without a client certificate (exit $rc)"
fi

# ---------------------------------------------------------------- with an Ed25519 key on the token
if tmo pkcs11-tool --module "$TT_MODULE" --token-label "$TOKEN" --login --pin "$PIN" \
    --keypairgen --key-type EC:edwards25519 --id 02 --label edkey >/dev/null 2>&1 && [ -n "$(uri 02 private)" ]; then
    pass "Ed25519 key added to the token (id 02)"
else
    fail "Ed25519 keypairgen"
fi
CSR_ARGS=(openssl req -config "$W/req.cnf" -new -key "$ENGKEY" -subj "/CN=tpmtrust curl client" -out "$W/client2.csr")
if PKCS11_MODULE_PATH=$TT_MODULE tmo "${CSR_ARGS[@]}" </dev/null >/dev/null 2>"$W/err" &&
    openssl req -in "$W/client2.csr" -verify -noout 2>/dev/null; then
    pass "with the Ed25519 key present: CSR with the P-256 key through the engine"
else
    fail "with the Ed25519 key present: CSR with the P-256 key through the engine"
    explain "$W/err"
    spy_trace "${CSR_ARGS[@]}"
fi
rc=0
curl_tls "$W/s4.log" PKCS11_MODULE_PATH="$TT_MODULE" -- \
    --engine pkcs11 --key-type ENG --key "$KEYPIN" --cert "$W/client.pem" || rc=$?
if [ "$rc" -eq 0 ] && server_saw "$W/s4.log" "$CN"; then
    pass "with the Ed25519 key present: curl client authentication with the P-256 key"
else
    fail "with the Ed25519 key present: curl client authentication with the P-256 key (exit $rc)"
    explain "$W/err"
fi

# ---------------------------------------------------------------- no leaks
n=$(tt_transient_count) || n='?'
if [ "$n" = 0 ]; then pass "no transient objects left in the TPM"; else fail "$n transient object(s) left in the TPM"; fi

msg "$passes passed, $fails failed ($((SECONDS - T0))s)"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
