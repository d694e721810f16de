#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The Debian package, as a new user gets it:
#   1. `dpkg-buildpackage -b -us -uc` in a copy of the tree (the package's own
#      make check runs the unit tests only: debian/rules, --disable-tpm-tests);
#   2. lintian: no error (warnings are printed);
#   3. what the packages hold: the module in the multiarch pkcs11 directory,
#      its p11-kit file, the tool, the man pages, the conffile, the header;
#   4. a fresh Debian 12 root: `debootstrap --variant=minbase bookworm` from
#      deb.debian.org, cached as a tarball in
#      ${XDG_CACHE_HOME:-~/.cache}/tpmtrust/ (with apt's downloads), so a rerun
#      unpacks it in seconds; the built .debs installed there with apt-get
#      (which brings their dependencies) plus p11-kit, opensc and openssl;
#   5. a private swtpm (started outside the root, on a free port: tests/
#      swtpm-env.sh; the root shares the network) named in the root's
#      /etc/tpmtrust/tpmtrust.conf; there, tpmtrust-tool doctor and token
#      init, and pkcs11-tool through p11-kit's default module list
#      (p11-kit-proxy.so) generates a key and signs; openssl verifies outside;
#      a program not in the module file's enable-in list does not see it,
#      unless /etc/pkcs11/modules/tpmtrust.module names it;
#      dpkg --purge removes it all.
# Needs root (chroot, mounts), debootstrap, dpkg-dev, debhelper, lintian,
# swtpm and tpm2-tools (scripts/install-deps.sh --test). Prints TAP and
# "N passed, N failed"; exit 77 (skip) without them, 99 with CI=true.
# The root's /proc and /dev mounts are undone on any exit, and the root is
# removed only when nothing is mounted in it any more. TT_KEEP=1 keeps the
# work directory (logs, .debs, root).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/tpmtrust
mirror=${TT_DEB_MIRROR:-http://deb.debian.org/debian}
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
base=$cache/bookworm-$arch-minbase.tar.gz

n=0 bad=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }
not() { ! "$@"; }
in_mounts() { awk -v r="$1/" 'index($2 "/", r) == 1 { f = 1 } END { exit !f }' /proc/self/mounts; }
finish() {
    echo "1..$n"
    echo "$((n - bad)) passed, $bad failed"
    [ "$bad" -eq 0 ]
}
skip() {
    if [ "${CI:-}" = true ]; then
        echo "Bail out! $1 (CI=true: run scripts/install-deps.sh --test)"
        exit 99
    fi
    echo "1..0 # SKIP $1"
    exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root (chroot, mount)"
for t in dpkg-buildpackage dh lintian debootstrap chroot swtpm tpm2_startup openssl; do
    command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
done

work=$(mktemp -d /tmp/tpmtrust-deb.XXXXXX)
root=$work/root

# Mounts inside the root, most recent last (undone in reverse).
mounts=()
umount_all() {
    local i m
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        m=${mounts[$i]}
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    mounts=()
}
cleanup() {
    local rc=$?
    set +e
    umount_all
    if [ -d "$root" ] && in_mounts "$root"; then
        echo "# something is still mounted under $root: left in place" >&2
    elif [ "${TT_KEEP:-0}" = 1 ]; then
        echo "# TT_KEEP=1: kept $work" >&2
    else
        rm -rf "$work"
    fi
    return "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
mnt() { # mnt TARGET MOUNT-ARGS...
    local target=$1; shift
    mkdir -p "$target"
    mount "$@" "$target"
    mounts+=("$target")
}
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

# 1. build, in a copy of the tree (the working tree's files, not the build trees)
mkdir -p "$work/src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$top" && git ls-files -co --exclude-standard -z | grep -zvE '^(build[^/]*|\.quickstart)/' |
        xargs -0 cp --parents -t "$work/src")
else
    (cd "$top" && tar --exclude='./build*' --exclude=./.quickstart -cf - .) | tar -C "$work/src" -xf -
fi
t0=$SECONDS
if (cd "$work/src" && dpkg-buildpackage -b -us -uc -jauto) >"$work/build.log" 2>&1; then
    ok "dpkg-buildpackage -b -us -uc -jauto ($((SECONDS - t0)) s)"
else
    notok "dpkg-buildpackage failed; the end of its log:"
    tail -n 30 "$work/build.log" | sed 's/^/# /'
    finish
fi
deb=$(ls "$work"/tpmtrust_*_"$arch".deb)
dev=$(ls "$work"/tpmtrust-dev_*_all.deb)
check "the package build ran the unit tests only, and they passed" \
    grep -q '^PASS: tests/unit/test-store' "$work/build.log"
check "... and not the swtpm suite" not grep -q '^[A-Z]*: tests/integration/' "$work/build.log"
check "no libtool --finish request" not grep -q 'libtool --finish' "$work/build.log"

# 2. lintian
lintian --no-tag-display-limit "$work"/tpmtrust_*_"$arch".changes >"$work/lintian.log" 2>&1 || true
grep -E '^[WIPX]: ' "$work/lintian.log" | sed 's/^/# lintian: /' || true
check "lintian: no errors" not grep -q '^E: ' "$work/lintian.log"
grep '^E: ' "$work/lintian.log" | sed 's/^/# /' || true

# 3. contents
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
contents=$(dpkg -c "$deb")
for f in "usr/lib/$multiarch/pkcs11/tpmtrust-pkcs11.so" usr/share/p11-kit/modules/tpmtrust.module \
    usr/bin/tpmtrust-tool usr/share/man/man1/tpmtrust-tool.1.gz usr/share/man/man5/tpmtrust.conf.5.gz \
    usr/share/man/man7/tpmtrust-pkcs11.7.gz etc/tpmtrust/tpmtrust.conf; do
    check "tpmtrust holds /$f" grep -q " \./$f\$" <<<"$contents"
done
check "no .la file" not grep -q '\.la$' <<<"$contents"
check "/etc/tpmtrust/tpmtrust.conf is a conffile" \
    grep -qx /etc/tpmtrust/tpmtrust.conf <<<"$(dpkg-deb -I "$deb" conffiles)"
check "tpmtrust.conf sets nothing (every setting commented out)" \
    not grep -vqE '^[[:space:]]*(#|$)' <<<"$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/tpmtrust/tpmtrust.conf)"
check "tpmtrust-dev holds /usr/include/pkcs11-tpmtrust.h" \
    grep -q ' \./usr/include/pkcs11-tpmtrust.h$' <<<"$(dpkg -c "$dev")"

# 4. a fresh root
mkdir -p "$cache/apt-archives/partial"
if [ ! -s "$base" ]; then
    echo "# debootstrap --variant=minbase bookworm $mirror (once; cached in $base)"
    t0=$SECONDS
    if debootstrap --variant=minbase bookworm "$work/boot" "$mirror" >"$work/debootstrap.log" 2>&1; then
        tar -C "$work/boot" -czf "$base.tmp" . && mv "$base.tmp" "$base"
        rm -rf "$work/boot"
        echo "# debootstrap: $((SECONDS - t0)) s"
    else
        notok "debootstrap failed; the end of its log:"
        tail -n 20 "$work/debootstrap.log" | sed 's/^/# /'
        rm -rf "$work/boot"
        finish
    fi
fi
mkdir -p "$root"
tar -C "$root" -xzf "$base"
ok "a fresh Debian 12 root ($(du -sh "$root" | cut -f1), from $base)"
mnt "$root/proc" -t proc proc
mnt "$root/dev" --bind /dev
mnt "$root/var/cache/apt/archives" --bind "$cache/apt-archives"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
mkdir -p "$root/tmp/debs"
cp "$deb" "$dev" "$root/tmp/debs/"
t0=$SECONDS
if in_root sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq &&
        apt-get install -y -qq --no-install-recommends /tmp/debs/*.deb p11-kit opensc openssl' \
        >"$work/apt.log" 2>&1; then
    ok "apt-get install of the .debs, p11-kit, opensc, openssl in the root ($((SECONDS - t0)) s)"
else
    notok "apt-get install in the root failed; the end of its log:"
    tail -n 20 "$work/apt.log" | sed 's/^/# /'
    finish
fi
check "the module is at /usr/lib/$multiarch/pkcs11/tpmtrust-pkcs11.so" \
    test -f "$root/usr/lib/$multiarch/pkcs11/tpmtrust-pkcs11.so"

# 5. a private swtpm, named in the root's config file
. "$top/tests/swtpm-env.sh"
tt_require_swtpm
swtpm_start
# swtpm-env.sh put its tt_cleanup before ours in the EXIT trap; it returns the
# exit status, which under set -e would end the trap before our cleanup.
trap 'set +e; tt_cleanup; cleanup' EXIT
tcti="swtpm:host=127.0.0.1,port=$TT_SWTPM_PORT"
sed -i "s|^#tcti = .*|tcti = $tcti|" "$root/etc/tpmtrust/tpmtrust.conf"
out=$(in_root tpmtrust-tool doctor 2>&1) || true
check "tpmtrust-tool doctor reads /etc/tpmtrust/tpmtrust.conf" grep -q 'config file: /etc/tpmtrust/tpmtrust.conf' <<<"$out"
check "... and reaches the swtpm through its tcti" not grep -q '\[FAIL\] TPM' <<<"$out"
grep -E '^\[' <<<"$out" | sed 's/^/# /' || true
out=$(in_root env TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234 tpmtrust-tool token init --label pkg 2>&1) \
    && ok "tpmtrust-tool token init" || notok "token init: $out"
check "the store is root's default, /var/lib/tpmtrust/tpmtrust.sqlite3" \
    test -s "$root/var/lib/tpmtrust/tpmtrust.sqlite3"
out=$(in_root p11-kit list-modules 2>&1) || true
check "p11-kit list-modules shows tpmtrust and the token" grep -q 'token: pkg' <<<"$out"

proxy=/usr/lib/$multiarch/p11-kit-proxy.so
P=(pkcs11-tool --module "$proxy" --token-label pkg --login --pin 1234)
echo "signed in a fresh root" >"$root/tmp/msg"
out=$(in_root "${P[@]}" --keypairgen --key-type EC:prime256v1 --id 01 --label pkgkey 2>&1) \
    && ok "pkcs11-tool through p11-kit-proxy.so: a P-256 key in the TPM" || notok "keypairgen: $out"
# the public key from keypairgen's listing (EC_POINT: DER OCTET STRING of 04||X||Y), not
# --read-object --type pubkey (pkcs11-tool 0.23's use-after-free: "cannot create EVP_PKEY")
point=$(sed -n 's/^ *EC_POINT: *0441\(04[0-9a-f]*\)$/\1/p' <<<"$out" | head -1)
out=$(in_root "${P[@]}" --sign -m ECDSA-SHA256 --id 01 -i /tmp/msg -o /tmp/msg.sig \
    --signature-format openssl 2>&1) && ok "... signs" || notok "sign: $out"
if [ ${#point} = 130 ] &&
    echo "3059301306072a8648ce3d020106082a8648ce3d030107034200$point" | xxd -r -p |
        openssl pkey -pubin -inform DER -out "$work/pub.pem" 2>/dev/null &&
    openssl dgst -sha256 -verify "$work/pub.pem" -signature "$root/tmp/msg.sig" "$root/tmp/msg" >/dev/null; then
    ok "openssl (outside the root) verifies the signature"
else
    notok "openssl does not verify the signature"
fi
# enable-in: a p11-kit consumer by another name does not load the module
ln -sf /usr/bin/pkcs11-tool "$root/usr/local/bin/some-app"
out=$(in_root /usr/local/bin/some-app --module "$proxy" --list-slots 2>&1) || true
if grep -qi 'slots' <<<"$out" && ! grep -q tpmtrust <<<"$out"; then
    ok "a program not in enable-in does not see the module through p11-kit"
else
    notok "a program not in enable-in: $out"
fi
# ... until /etc/pkcs11/modules/tpmtrust.module names it (tpmtrust-pkcs11(7))
mkdir -p "$root/etc/pkcs11/modules"
printf 'module: tpmtrust-pkcs11.so\ncritical: no\nenable-in: some-app\n' >"$root/etc/pkcs11/modules/tpmtrust.module"
out=$(in_root /usr/local/bin/some-app --module "$proxy" --list-slots 2>&1) || true
check "with its own enable-in in /etc/pkcs11/modules/tpmtrust.module, it does" grep -q 'token label *: pkg' <<<"$out"
rm -f "$root/usr/local/bin/some-app" "$root/etc/pkcs11/modules/tpmtrust.module"

out=$(in_root dpkg --purge tpmtrust-dev tpmtrust 2>&1) || true
check "dpkg --purge removes the module, its p11-kit file and the conffile" \
    bash -c "[ ! -e '$root/usr/lib/$multiarch/pkcs11/tpmtrust-pkcs11.so' ] &&
        [ ! -e '$root/usr/share/p11-kit/modules/tpmtrust.module' ] && [ ! -e '$root/etc/tpmtrust/tpmtrust.conf' ]"

swtpm_stop
umount_all
check "the root's mounts are undone" not in_mounts "$root"
finish
