#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Install what tpmtrust needs to build and test on Debian 12. Idempotent:
# packages already present are not touched, and nothing runs when all are there.
set -euo pipefail

PKGS=(
    build-essential autoconf automake libtool pkg-config
    libtss2-dev libssl-dev libsodium-dev libsqlite3-dev libp11-kit-dev
    p11-kit opensc swtpm swtpm-tools tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0
    dbus sqlite3 openssl xxd libyaml-0-2 gdb
    openssh-client openssh-server libengine-pkcs11-openssl gnutls-bin curl tpm2-openssl
    python3-botocore
    python3-pykcs11
    clang libclang-rt-14-dev
)

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
