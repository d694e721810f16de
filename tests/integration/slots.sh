#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Slots that other processes change, and fork (tests/module/p11-slots):
#  - 8 threads list slots while another process makes 12 tokens: none of them
#    may be marked removed by a stale snapshot;
#  - a token deleted by another process: its slot is listed only with
#    tokenPresent FALSE, its session closes, the token made again gets a new slot;
#  - C_Finalize while two threads sign: it waits for them (no use after free);
#  - fork while threads sign and change objects: each child initializes the
#    module and signs (no deadlock, no inherited lock), and no interface
#    claims CKF_INTERFACE_FORK_SAFE;
#  - a child forked from a process that used tpm2-abrmd: CKR_DEVICE_ERROR at
#    once, with the reason (GLib's D-Bus does not survive fork);
#  - tpm2-abrmd restarted while a process signs: the process signs again.
# Through tpm2-abrmd: several processes share the TPM.
# Run as: tests/with-swtpm.sh tests/integration/slots.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
tt_require_abrmd

SLOTS=$TT_BUILDDIR/tests/module/p11-slots
[ -x "$SLOTS" ] || die "$SLOTS not built (make check builds it)"
W=$TT_TMP/slots
mkdir -p "$W"
export TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=1234

init() { timeout -k 1 60 "$TT_TOOL" token init --label "$1" >/dev/null || die "token init $1"; }
# slots MODE ARGS...: p11-slots in the foreground; its output in the log
slots() {
    local mode=$1 rc=0
    shift
    timeout -k 5 300 "$SLOTS" "$TT_MODULE" "$mode" "$@" >"$W/$mode.out" 2>&1 || rc=$?
    cat "$W/$mode.out" >&2
    [ "$rc" -eq 0 ] || die "p11-slots $mode: rc $rc"
}
# ended NAME PID: p11-slots started in the background has passed
ended() {
    local rc=0
    wait "$2" || rc=$?
    cat "$W/$1.out" >&2
    [ "$rc" -eq 0 ] || die "p11-slots $1: rc $rc"
}

init fork
# (the tool, not pkcs11-tool: this test also runs on sanitizer builds)
timeout -k 1 60 "$TT_TOOL" key generate --token fork --type ecdsa-p256 --label k --id 01 \
    >/dev/null || die "key generate"

# 0. C_Finalize while two threads sign
slots finalize fork 1234
msg "ok: C_Finalize waits for the calls in progress"

# 1. fork mid-work, on the swtpm TCTI (see p11-slots.c for why not through abrmd)
slots fork fork 1234
msg "ok: 16 forks while threads work"

abrmd_start || die "abrmd_start"

# 2. the listing race
rm -f "$W/stop"
timeout -k 5 200 "$SLOTS" "$TT_MODULE" race race 12 "$W/stop" >"$W/race.out" 2>&1 &
lister=$!
for i in $(seq 0 11); do init "race$i"; done
touch "$W/stop"
ended race "$lister"
msg "ok: 12 tokens made by another process while 8 threads listed slots"

# 3. a token deleted and made again by another process
init gone
slots removed gone \
    "timeout -k 1 60 $TT_TOOL token delete --label gone >/dev/null" \
    "timeout -k 1 60 $TT_TOOL token init --label gone >/dev/null"
msg "ok: a removed token's slot and session"

# 3b. a stale process: logged in while another process re-initializes the
# token, sets a new user PIN and makes a key; its first write (an object, or
# C_SetPIN) or signature with its old key is refused with
# CKR_SESSION_HANDLE_INVALID and writes nothing
for first in create setpin sign; do
    init "stale-$first"
    reinit="timeout -k 1 60 $SLOTS $TT_MODULE reinit stale-$first 12345678 5678 >/dev/null && \
TPMTRUST_PIN=5678 timeout -k 1 60 $TT_TOOL key generate --token stale-$first --type ecdsa-p256 \
--label fresh --id 02 >/dev/null"
    TPMTRUST_PIN=1234 timeout -k 1 60 "$TT_TOOL" key generate --token "stale-$first" \
        --type ecdsa-p256 --label old --id 01 >/dev/null || die "key generate"
    slots stale "stale-$first" 1234 5678 "$first" "$reinit"
    grep -q "was re-initialized by another process" "$W/stale.out" \
        || die "stale ($first): no log line saying the token was re-initialized elsewhere"
done
msg "ok: a stale process's first write after another's re-initialization is refused"

# 3c. another process changes the PIN (and moves the token's counter): a
# process that read the token before logs in with the new PIN, not refused
init moved
TPMTRUST_PIN=1234 timeout -k 1 60 "$TT_TOOL" key generate --token moved --type ecdsa-p256 \
    --label k --id 01 >/dev/null || die "key generate"
slots pinmoved moved 1234 5678 "timeout -k 1 60 $SLOTS $TT_MODULE setpin moved 1234 5678 >/dev/null"
msg "ok: a PIN changed by another process: the new one logs in here"

# 4. fork through tpm2-abrmd: the child is told at once that it cannot reach the TPM
slots forkdbus fork 1234
grep -q "forked from one that used tpm2-abrmd" "$W/forkdbus.out" || die "forkdbus: no log line saying why"
msg "ok: a child forked from a tpm2-abrmd user fails at once, saying why"

# 5. tpm2-abrmd restarted under a signing process (its D-Bus daemon stays)
rm -f "$W/mark"
timeout -k 5 120 "$SLOTS" "$TT_MODULE" survive fork 1234 "$W/mark" 60 >"$W/survive.out" 2>&1 &
signer=$!
sleep 2
apid=$(cat "$TT_TMP/abrmd.pid")
kill "$apid"
while kill -0 "$apid" 2>/dev/null; do sleep 0.05; done
tpm2-abrmd --session --allow-root --tcti="swtpm:host=127.0.0.1,port=$TT_SWTPM_PORT" \
    >>"$TT_TMP/abrmd.log" 2>&1 &
echo $! >"$TT_TMP/abrmd.pid"
_TT_ABRMD_PID=$!
for _ in $(seq 100); do # until it has its bus name again
    timeout -k 1 5 tpm2_getrandom -T tabrmd:bus_type=session 4 >/dev/null 2>&1 && break
    sleep 0.1
done
touch "$W/mark"
ended survive "$signer"
msg "ok: a signing process outlives a tpm2-abrmd restart"
