#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The bench's latency-model TCTI (bench/tcti-delay.c, ttdelay) forwards every
# command and counts it: a whole `pkcs11-tool --login --sign` process through
# pcap:ttdelay:swtpm gives the same commands per code in ttdelay's counts
# (TTDELAY_COUNTS) as in the pcap capture, with model=none and with a real
# TPM's model (whose sleeps must change nothing else); the signature verifies
# with OpenSSL; an unknown model is refused by name. No timing is asserted.
# Run as: tests/with-swtpm.sh tests/integration/ttdelay.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
SO=$TT_BUILDDIR/bench/.libs/libtss2-tcti-ttdelay.so
[ -f "$SO" ] || die "$SO not built (make check builds it)"
W=$TT_TMP/ttdelay
mkdir -p "$W"
export TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234
COUNT=$(dirname "$0")/pcap-count.py
timeout -k 1 60 "$TT_TOOL" token init --label d >/dev/null || die "token init"
tt_ec_key d 01 "$W/pub.pem"
printf 'delayed' | openssl dgst -sha256 -binary >"$W/h.bin"

# sign MODEL: one signing process through pcap:ttdelay; prints "NAME=N ..."
# of ttdelay's counts, checked against the capture and OpenSSL
sign() {
    local m=$1
    rm -f "$W/$m.pcap" "$W/$m.counts"
    TPMTRUST_TCTI="pcap:$SO:model=$m,tcti=$TPMTRUST_TCTI" TCTI_PCAP_FILE=$W/$m.pcap \
        TTDELAY_COUNTS=$W/$m.counts timeout -k 1 120 \
        pkcs11-tool --module "$TT_MODULE" --token-label d --login --pin 1234 --sign -m ECDSA --signature-format openssl \
        --id 01 -i "$W/h.bin" -o "$W/$m.sig" >"$W/$m.out" 2>&1 ||
        { cat "$W/$m.out" >&2; die "$m: pkcs11-tool --sign through ttdelay"; }
    openssl pkeyutl -verify -pubin -inkey "$W/pub.pem" -in "$W/h.bin" -sigfile "$W/$m.sig" >/dev/null ||
        die "$m: the signature does not verify with OpenSSL"
    [ -s "$W/$m.counts" ] || die "$m: ttdelay wrote no counts (finalize not reached?)"
    # per code, summed over the TCTI contexts of the process; as "NAME=N" sorted
    local mine pcap total
    mine=$(awk '$1 != "total" { n[$2] += $3 } END { for (k in n) printf "%s=%d\n", k, n[k] }' \
        "$W/$m.counts" | sort | tr '\n' ' ')
    total=$(awk '$1 == "total" { t += $2 } END { print t + 0 }' "$W/$m.counts")
    python3 "$COUNT" "$W/$m.pcap" >"$W/$m.pcapcount"
    pcap=$(head -1 "$W/$m.pcapcount" | cut -d' ' -f2- | tr ' ' '\n' | sort | tr '\n' ' ')
    [ "$(head -1 "$W/$m.pcapcount" | cut -d' ' -f1)" = "$total" ] ||
        die "$m: ttdelay counted $total commands, the capture holds $(head -1 "$W/$m.pcapcount")"
    [ "$mine" = "$pcap" ] || die "$m: ttdelay counts [$mine], capture [$pcap]"
    grep -q '^Sign=1 \|\bSign=1 ' <<<"$mine" || die "$m: not one Sign: $mine"
    echo "$mine"
}

none=$(sign none)
msg "model=none: $none"
slb=$(sign slb9670)
msg "model=slb9670: $slb"
[ "$none" = "$slb" ] || die "the slb9670 model changed the commands: [$none] vs [$slb]"

rc=0
TPM2TOOLS_TCTI="$SO:model=bogus,tcti=$TPM2TOOLS_TCTI" timeout -k 1 30 tpm2_getrandom 8 \
    >/dev/null 2>"$W/bogus.err" || rc=$?
[ "$rc" != 0 ] && grep -q 'unknown model "bogus"' "$W/bogus.err" ||
    die "an unknown model was not refused by name: rc $rc $(cat "$W/bogus.err")"
msg "ok: ttdelay counts match the pcap capture, with and without a latency model"
