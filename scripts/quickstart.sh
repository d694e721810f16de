#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Quick start: install dependencies, build, start a private swtpm, create a
# token and a TPM-resident ECDSA key, sign with pkcs11-tool, verify with openssl.
#
#   quickstart.sh          the demo; swtpm, token and key are gone at the end
#   quickstart.sh --keep   the same, but the swtpm keeps running and its state
#                          (TPM, store) stays in .quickstart/ at the top of the
#                          tree; `. .quickstart/env` then sets TPMTRUST_TCTI,
#                          TPMTRUST_STORE, TPMTRUST_MODULE (and MODULE, as in the
#                          README) and puts build/ first in PATH. Run again, it
#                          starts the kept swtpm if it stopped and keeps the token.
#   quickstart.sh --stop   stop the kept swtpm (orderly TPM2_Shutdown); its state
#                          stays, --keep starts it again
#   quickstart.sh --clean  stop it and remove .quickstart/ (token and keys)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
state=$top/.quickstart
mode=${1:-demo}
case $mode in
    demo | --keep | --stop | --clean) ;;
    -h | --help)
        sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "quickstart: unknown option '$mode' (try --help)" >&2
        exit 2
        ;;
esac

# The kept swtpm: tests/swtpm-env.sh attaches to a swtpm on TT_TMP and
# TT_SWTPM_PORT when it runs, and powers it on again on that state when it
# does not; a TT_TMP it did not create is never removed by it.
kept_vars() {
    TT_TMP=$state
    TT_SWTPM_PORT=$(cat "$state/port")
    export TT_TMP TT_SWTPM_PORT
}

if [ "$mode" = --stop ] || [ "$mode" = --clean ]; then
    if [ -f "$state/port" ]; then
        kept_vars
        . tests/swtpm-env.sh
        swtpm_stop
    fi
    if [ "$mode" = --clean ]; then
        rm -rf "$state"
        echo "quickstart: removed $state"
    fi
    exit 0
fi

bash scripts/install-deps.sh
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure >/dev/null; } && make -j"$(nproc)" >/dev/null)
MODULE=$top/build/.libs/tpmtrust-pkcs11.so
TOOL=$top/build/tpmtrust-tool

if [ "$mode" = --keep ]; then
    mkdir -p "$state/tpm"
    if [ ! -f "$state/port" ]; then
        . tests/swtpm-env.sh
        _tt_pick_port >"$state/port"
    fi
    kept_vars
    export TPMTRUST_STORE=$state/store.sqlite3
    export XDG_RUNTIME_DIR=$state/run
    mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
fi

# A private TPM simulator on a free port; without --keep, stopped (and its
# state removed) when this script ends.
. tests/swtpm-env.sh
tt_require_swtpm
swtpm_start
echo "== swtpm on port $TT_SWTPM_PORT; store $TPMTRUST_STORE"

if [ "$mode" = --keep ]; then
    cat >"$state/env" <<EOF
# tpmtrust quick start (scripts/quickstart.sh --keep): source this file.
# Stop the swtpm with ./scripts/quickstart.sh --stop, remove it all with --clean.
export TPMTRUST_TCTI='$TPMTRUST_TCTI'
export TPM2TOOLS_TCTI='$TPMTRUST_TCTI'
export TPMTRUST_STORE='$TPMTRUST_STORE'
export TPMTRUST_MODULE='$MODULE'
export MODULE='$MODULE'
case ":\$PATH:" in *':$top/build:'*) ;; *) export PATH='$top/build':"\$PATH" ;; esac
EOF
fi

if [ "$mode" = --keep ] && "$TOOL" token list 2>/dev/null | grep -q 'demo'; then
    echo "== the kept token 'demo' is there (user PIN 1234): not created again"
else
    echo "== a token (SO PIN 12345678, user PIN 1234)"
    TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234 "$TOOL" token init --label demo
    echo "== a P-256 key generated inside the TPM"
    pkcs11-tool --module "$MODULE" --token-label demo --login --pin 1234 \
        --keypairgen --key-type EC:prime256v1 --id 01 --label demo-key
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ "$mode" = --keep ] || trap 'rm -rf "$work"; tt_cleanup' EXIT
echo "== sign with pkcs11-tool, verify with openssl"
echo "hello from the TPM" >"$work/message"
pkcs11-tool --module "$MODULE" --token-label demo --login --pin 1234 --sign -m ECDSA-SHA256 \
    --id 01 -i "$work/message" -o "$work/message.sig" --signature-format openssl
pkcs11-tool --module "$MODULE" --token-label demo --read-object --type pubkey --id 01 \
    -o "$work/pub.der"
openssl pkey -pubin -inform DER -in "$work/pub.der" -out "$work/pub.pem"
openssl dgst -sha256 -verify "$work/pub.pem" -signature "$work/message.sig" "$work/message"
"$TOOL" object list --label demo
echo "== done: the private key never left the TPM"

if [ "$mode" = --keep ]; then
    cat <<EOF

The swtpm keeps running (pid $TT_SWTPM_PID, port $TT_SWTPM_PORT) with token 'demo'
(user PIN 1234, SO PIN 12345678) and its key 'demo-key'. To use it:

    . $state/env
    tpmtrust-tool object list --token demo
    pkcs11-tool --module "\$MODULE" --token-label demo --login --pin 1234 --list-objects

Stop it:   ./scripts/quickstart.sh --stop    (state kept; --keep starts it again)
Clean up:  ./scripts/quickstart.sh --clean   (stops it, removes $state)
EOF
else
    echo "(./scripts/quickstart.sh --keep leaves the swtpm and the token running to use)"
fi
