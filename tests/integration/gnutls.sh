#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# GnuTLS against the module: p11tool lists the objects (public ones without
# login, private keys with GNUTLS_PIN), certtool signs a self-signed
# certificate and a CSR with the TPM key, the CA-issued certificate is written
# to the token (pkcs11-tool --write-object) and listed, and gnutls-cli
# authenticates as a TLS client with key and certificate both taken from the
# token (PKCS#11 URIs) against a local `openssl s_server -Verify 1`; the same
# with an Ed25519 key. GnuTLS initialises the module with
# CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK (checked with OpenSC's
# pkcs11-spy when available).
# Run as: tests/with-swtpm.sh tests/integration/gnutls.sh
set -euo pipefail

msg() { echo "${0##*/}: $*" >&2; }
die() { msg "FAIL: $*"; exit 1; }
skip() { if [ "${CI:-}" = true ]; then msg "ERROR: $* (CI=true)"; exit 99; fi; msg "SKIP: $*"; exit 77; }

[ -n "${TT_SWTPM_ENV:-}" ] || die "run me under tests/with-swtpm.sh"
# shellcheck source=tests/swtpm-env.sh
. "$TT_SWTPM_ENV"
swtpm_start # attaches to the wrapper's swtpm
: "${TT_MODULE:?}" "${TT_TOOL:?}"
for p in p11tool certtool gnutls-cli openssl pkcs11-tool timeout; do
    command -v "$p" >/dev/null 2>&1 || skip "$p not on PATH"
done
SPY=
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
    [ -r "$d/pkcs11-spy.so" ] && { SPY=$d/pkcs11-spy.so; break; }
done

unset OPENSSL_CONF GNUTLS_PIN GNUTLS_SO_PIN
TOKEN=web PIN=1234 SO_PIN=12345678
W=$(mktemp -d "${TT_TMP:-/tmp}/gnutls.XXXXXX")
T0=$SECONDS
passes=0 fails=0
# shellcheck source=tests/integration/tls-common.sh
. "$(dirname "$0")/tls-common.sh"
P11TOOL=(p11tool --provider "$TT_MODULE")
CERTTOOL=(certtool --provider "$TT_MODULE")

# tls LOG OUT [ENV...] -- [GNUTLS-CLI ARGS...]: one HTTP GET through gnutls-cli
# against a fresh s_server; gnutls-cli's output in OUT.
tls() {
    local log=$1 out=$2 envs=() rc=0
    shift 2
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    start_server "$log" || return 2
    printf 'GET / HTTP/1.0\r\n\r\n' |
        tmo env "${envs[@]}" gnutls-cli --x509cafile "$W/ca.pem" "$@" -p "$PORT" 127.0.0.1 \
            >"$out" 2>&1 || rc=$?
    stop_server
    return "$rc"
}

# uri ID TYPE: the PKCS#11 URI that tpmtrust-tool prints for that object.
uri() {
    TPMTRUST_PIN=$PIN tmo "$TT_TOOL" object list --token "$TOKEN" --login |
        awk -v id="$1" -v t="$2" '!found && $1 ~ /^pkcs11:/ && $1 ~ ("[:;]id=%" id "(;|$)") &&
            $1 ~ (";type=" t "$") { print $1; found = 1 }'
}

# ---------------------------------------------------------------- setup
TPMTRUST_SO_PIN=$SO_PIN TPMTRUST_PIN=$PIN tmo "$TT_TOOL" token init --label "$TOKEN" >/dev/null \
    || die "tpmtrust-tool token init"
tmo pkcs11-tool --module "$TT_MODULE" --token-label "$TOKEN" --login --pin "$PIN" \
    --keypairgen --key-type EC:prime256v1 --id 01 --label tlskey >/dev/null || die "keypairgen P-256"
KEY=$(uri 01 private) || die "tpmtrust-tool object list"
PUB=$(uri 01 public) || die "tpmtrust-tool object list"
if [ -z "$KEY" ] || [ -z "$PUB" ]; then die "no URIs for the key pair in 'tpmtrust-tool object list'"; fi
pass "token '$TOKEN' with a P-256 key: $KEY"

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
EOF
printf 'basicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth\n' >"$W/client.ext"
printf 'basicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n' >"$W/srv.ext"
{
    openssl req -config "$W/req.cnf" -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$W/ca.key" -out "$W/ca.pem" -subj "/CN=tpmtrust test CA" -days 2 -extensions v3_ca &&
        openssl req -config "$W/req.cnf" -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$W/srv.key" -out "$W/srv.csr" -subj "/CN=127.0.0.1" &&
        openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
            -out "$W/srv.pem" -days 2 -extfile "$W/srv.ext"
} >/dev/null 2>&1 || die "software CA / server certificate"

# ---------------------------------------------------------------- p11tool
if [ -n "$SPY" ]; then
    rm -f "$W/spy.log"
    PKCS11SPY=$TT_MODULE PKCS11SPY_OUTPUT=$W/spy.log tmo p11tool --provider "$SPY" --list-tokens \
        >/dev/null 2>&1 || true
    init=$(sed -n '/: C_Initialize$/,/^Returned:/p' "$W/spy.log" 2>/dev/null)
    if grep -q CKF_LIBRARY_CANT_CREATE_OS_THREADS <<<"$init" && grep -q '^Returned: *0 CKR_OK' <<<"$init"; then
        pass "C_Initialize with CKF_LIBRARY_CANT_CREATE_OS_THREADS (as GnuTLS passes it) returns CKR_OK"
    else
        fail "C_Initialize as GnuTLS calls it: $(tr '\n' ' ' <<<"$init")"
    fi
else
    echo "ok - C_Initialize flags not checked # SKIP pkcs11-spy.so not found"
fi

if tmo "${P11TOOL[@]}" --list-all "pkcs11:token=$TOKEN" </dev/null >"$W/list" 2>&1 &&
    grep -q "URL: pkcs11:.*id=%01;object=tlskey;type=public" "$W/list" && ! grep -q 'type=private' "$W/list"; then
    pass "p11tool --list-all without login: the public key, no private key"
else
    fail "p11tool --list-all without login"
    show "$W/list" 8
fi
if GNUTLS_PIN=$PIN tmo "${P11TOOL[@]}" --login --list-all "pkcs11:token=$TOKEN" </dev/null >"$W/list" 2>&1 &&
    grep -q "URL: pkcs11:.*id=%01;object=tlskey;type=private" "$W/list" &&
    grep -q 'Private key (EC/ECDSA-SECP256R1)' "$W/list"; then
    pass "p11tool --login --list-all (GNUTLS_PIN): the private key too"
else
    fail "p11tool --login --list-all"
    show "$W/list" 8
fi
# The public key as GnuTLS reads it, once from the public key object and once
# from the private key's URI (--outfile: p11tool sleeps 3 s before printing a
# key on the terminal).
if tmo "${P11TOOL[@]}" --export "$PUB" </dev/null 2>/dev/null | openssl pkey -pubin -out "$W/tokpub.pem" 2>/dev/null &&
    GNUTLS_PIN=$PIN tmo "${P11TOOL[@]}" --login --export-pubkey "$KEY" --outfile "$W/pub2.pem" \
        </dev/null >/dev/null 2>&1 && openssl pkey -pubin -in "$W/pub2.pem" 2>/dev/null | cmp -s - "$W/tokpub.pem"; then
    pass "p11tool exports the public key, the same from the public and the private key object"
else
    fail "p11tool --export / --export-pubkey"
fi

# ---------------------------------------------------------------- certtool
cat >"$W/self.tmpl" <<'EOF'
cn = "tpmtrust gnutls self-signed"
expiration_days = 2
ca
signing_key
cert_signing_key
EOF
cat >"$W/client.tmpl" <<'EOF'
cn = "tpmtrust gnutls client"
signing_key
tls_www_client
EOF
if GNUTLS_PIN=$PIN tmo "${CERTTOOL[@]}" --generate-self-signed --load-privkey "$KEY" --template "$W/self.tmpl" \
    --outfile "$W/self.pem" </dev/null >"$W/out" 2>&1; then
    pass "certtool --generate-self-signed with the PKCS#11 key"
else
    fail "certtool --generate-self-signed"
    show "$W/out"
fi
if [ -s "$W/self.pem" ] && out=$(openssl verify -CAfile "$W/self.pem" "$W/self.pem" 2>&1) &&
    [ "$out" = "$W/self.pem: OK" ] &&
    tmo certtool --verify --load-ca-certificate "$W/self.pem" --infile "$W/self.pem" >/dev/null 2>&1; then
    pass "its signature verifies (openssl verify, certtool --verify)"
else
    fail "self-signed certificate does not verify: ${out:-no certificate}"
fi
if [ -s "$W/self.pem" ] && openssl x509 -in "$W/self.pem" -pubkey -noout | cmp -s - "$W/tokpub.pem"; then
    pass "its public key equals the token key's"
else
    fail "self-signed certificate: public key differs from the token's"
fi

if GNUTLS_PIN=$PIN tmo "${CERTTOOL[@]}" --generate-request --load-privkey "$KEY" --template "$W/client.tmpl" \
    --outfile "$W/client.csr" </dev/null >"$W/out" 2>&1 && openssl req -in "$W/client.csr" -verify -noout 2>/dev/null &&
    openssl x509 -req -in "$W/client.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
        -out "$W/client.pem" -days 2 -extfile "$W/client.ext" >/dev/null 2>&1 &&
    openssl x509 -in "$W/client.pem" -outform DER -out "$W/client.der"; then
    pass "certtool --generate-request with the PKCS#11 key; the CA issued the client certificate"
else
    fail "client CSR / certificate"
    show "$W/out"
fi

# ---------------------------------------------------------------- certificate on the token
if tmo pkcs11-tool --module "$TT_MODULE" --token-label "$TOKEN" --login --pin "$PIN" \
    --write-object "$W/client.der" --type cert --id 01 --label tlscert </dev/null >"$W/out" 2>&1; then
    pass "pkcs11-tool --write-object: certificate stored on the token (id 01, label tlscert)"
else
    fail "pkcs11-tool --write-object"
    show "$W/out"
fi
CERT=$(uri 01 cert) || CERT=''
if tmo "${P11TOOL[@]}" --list-all-certs "pkcs11:token=$TOKEN" </dev/null >"$W/list" 2>&1 &&
    grep -q "URL: pkcs11:.*id=%01;object=tlscert;type=cert" "$W/list" && grep -q 'Label: tlscert' "$W/list" &&
    [ -n "$CERT" ]; then
    pass "p11tool --list-all-certs lists it; tpmtrust-tool: $CERT"
else
    fail "certificate not listed (tpmtrust-tool URI: '${CERT}')"
    show "$W/list" 8
fi
if [ -n "$CERT" ] && tmo "${P11TOOL[@]}" --export "$CERT" </dev/null 2>/dev/null |
    openssl x509 -outform DER 2>/dev/null | cmp -s - "$W/client.der"; then
    pass "the certificate read back through GnuTLS is the one written"
else
    fail "certificate read back differs"
fi

# ---------------------------------------------------------------- TLS client authentication
CN='tpmtrust gnutls client'
rc=0
tls "$W/s1.log" "$W/cli1" -- --provider "$TT_MODULE" \
    --x509keyfile "$KEY?pin-value=$PIN" --x509certfile "${CERT:-none}" || rc=$?
if [ "$rc" -eq 0 ] && grep -q 'Handshake was completed' "$W/cli1" && grep -q '^HTTP/1.0 200 ok' "$W/cli1" &&
    server_saw "$W/s1.log" "$CN"; then
    pass "gnutls-cli, key and certificate from the token (PIN in the URI): client authenticated as CN=$CN"
else
    fail "gnutls-cli with the token's key and certificate: exit $rc"
    show "$W/cli1"
    show "$W/s1.log" 3
fi
rc=0
tls "$W/s2.log" "$W/cli2" GNUTLS_PIN="$PIN" -- --provider "$TT_MODULE" \
    --x509keyfile "$KEY" --x509certfile "${CERT:-none}" || rc=$?
if [ "$rc" -eq 0 ] && grep -q '^HTTP/1.0 200 ok' "$W/cli2" && server_saw "$W/s2.log" "$CN"; then
    pass "gnutls-cli with the PIN from GNUTLS_PIN"
else
    fail "gnutls-cli with GNUTLS_PIN: exit $rc"
    show "$W/cli2"
fi
rc=0
tls "$W/s3.log" "$W/cli3" -- || rc=$?
if [ "$rc" -ne 0 ] && ! grep -q '^depth=0' "$W/s3.log" && ! grep -q '^HTTP/1.0 200' "$W/cli3"; then
    pass "without a client certificate s_server -Verify 1 refuses gnutls-cli (exit $rc)"
else
    fail "s_server accepted gnutls-cli without a client certificate (exit $rc)"
fi

# ---------------------------------------------------------------- Ed25519
ED_CN='tpmtrust gnutls ed25519 client'
sed "s/^cn = .*/cn = \"$ED_CN\"/" "$W/client.tmpl" >"$W/ed.tmpl"
EDKEY=''
if tmo pkcs11-tool --module "$TT_MODULE" --token-label "$TOKEN" --login --pin "$PIN" \
    --keypairgen --key-type EC:edwards25519 --id 02 --label edkey </dev/null >/dev/null 2>&1; then
    EDKEY=$(uri 02 private) || EDKEY=''
fi
if [ -n "$EDKEY" ] && GNUTLS_PIN=$PIN tmo "${CERTTOOL[@]}" --generate-request --load-privkey "$EDKEY" \
    --template "$W/ed.tmpl" --outfile "$W/ed.csr" </dev/null >"$W/out" 2>&1 &&
    openssl req -in "$W/ed.csr" -verify -noout 2>/dev/null &&
    openssl req -in "$W/ed.csr" -noout -text | grep -q 'Signature Algorithm: ED25519' &&
    openssl x509 -req -in "$W/ed.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
        -out "$W/ed.pem" -days 2 -extfile "$W/client.ext" >/dev/null 2>&1; then
    pass "Ed25519 key (id 02): certtool CSR signed with Ed25519 verifies; the CA issued its certificate"
else
    fail "Ed25519 key / CSR (URI '${EDKEY}')"
    show "$W/out"
fi
rc=0
tls "$W/s4.log" "$W/cli4" GNUTLS_PIN="$PIN" -- --provider "$TT_MODULE" \
    --x509keyfile "${EDKEY:-none}" --x509certfile "$W/ed.pem" || rc=$?
if [ "$rc" -eq 0 ] && grep -q '^HTTP/1.0 200 ok' "$W/cli4" && server_saw "$W/s4.log" "$ED_CN"; then
    pass "gnutls-cli authenticates with the Ed25519 key (TLS 1.3)"
else
    fail "gnutls-cli with the Ed25519 key: exit $rc"
    show "$W/cli4"
    show "$W/s4.log" 3
fi
rc=0
tls "$W/s5.log" "$W/cli5" -- --provider "$TT_MODULE" \
    --x509keyfile "$KEY?pin-value=$PIN" --x509certfile "${CERT:-none}" || rc=$?
if [ "$rc" -eq 0 ] && server_saw "$W/s5.log" "$CN"; then
    pass "with the Ed25519 key present: gnutls-cli with the P-256 key and the token's certificate"
else
    fail "with the Ed25519 key present: gnutls-cli with the P-256 key: exit $rc"
    show "$W/cli5"
fi

# ---------------------------------------------------------------- no leaks
n=$(tt_transient_count) || n='?'
if [ "$n" = 0 ]; then pass "no transient objects left in the TPM"; else fail "$n transient object(s) left in the TPM"; fi

msg "$passes passed, $fails failed ($((SECONDS - T0))s)"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
