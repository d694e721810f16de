#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Install what tpmtrust needs on Debian 12, with apt-get. Idempotent: packages
# already present are not touched, and nothing runs when all are there.
#
#   install-deps.sh          build and run: compiler, autotools, the -dev
#                            libraries, p11-kit, and what the quick start uses
#                            (swtpm, tpm2-tools, pkcs11-tool from opensc,
#                            openssl); scripts/quickstart.sh
#   install-deps.sh --test   all of the above, plus what the whole test suite
#                            uses: tpm2-abrmd, OpenSSH, GnuTLS, curl and the
#                            libp11 engine, tpm2-openssl, botocore, gdb, clang
#                            for the sanitizers and fuzzers, mandoc for the man
#                            page lint, and the Debian packaging tools and
#                            debootstrap for tests/package/deb.sh;
#                            scripts/test.sh
set -euo pipefail

# build + runtime + the quick start's demo
BASE=(
    build-essential autoconf automake libtool pkg-config scdoc
    libtss2-dev libssl-dev libsodium-dev libsqlite3-dev libp11-kit-dev
    p11-kit opensc openssl swtpm tpm2-tools
)
# the whole test suite (scripts/test.sh)
TEST=(
    swtpm-tools tpm2-abrmd libtss2-tcti-tabrmd0 dbus sqlite3 xxd libyaml-0-2 gdb
    openssh-client openssh-server libengine-pkcs11-openssl gnutls-bin curl tpm2-openssl
    python3-botocore
    python3-pykcs11
    clang libclang-rt-14-dev
    mandoc groff-base
    dpkg-dev debhelper fakeroot lintian debootstrap
)

PKGS=("${BASE[@]}")
case ${1:-} in
    '') ;;
    --test) PKGS+=("${TEST[@]}") ;;
    -h | --help)
        sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "install-deps: unknown option '$1' (try --help)" >&2
        exit 2
        ;;
esac

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "install-deps: all ${#PKGS[@]} packages present"; exit 0; }

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
