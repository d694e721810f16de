#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# OpenSSH with the module, on 127.0.0.1 only, against an sshd started here:
#  1. ssh-keygen -D prints the token's ECDSA key without asking for a PIN, and
#     it equals the key built independently from CKA_EC_POINT with openssl; an
#     Ed25519 key on the same token (OpenSSH 9.2 has no Ed25519 PKCS#11
#     support) is skipped and disturbs nothing;
#  2. a private sshd (free port, temporary config) trusts that key;
#  3. ssh -o PKCS11Provider logs in with the PIN from SSH_ASKPASS; a wrong PIN
#     does not (the TPM's lockout counter is reset afterwards);
#  4. ssh-agent holds the key after ssh-add -s, through tpm2-abrmd so that
#     other processes share the TPM: ssh logs in through the agent while
#     another process signs with the same key;
#  5. sshd, the agent and its helper, tpm2-abrmd are always stopped (trap),
#     and no process is left behind.
# Each command runs under timeout, within an overall budget of
# TT_OPENSSH_BUDGET seconds (default 45). Logs: $TT_TMP/openssh (TT_KEEP=1).
# Run as: tests/with-swtpm.sh tests/integration/openssh.sh
set -uo pipefail

msg() { echo "${0##*/}: $*" >&2; }
die() { msg "FAIL: $*"; exit 1; }
skip() { if [ "${CI:-}" = true ]; then msg "ERROR: $* (CI=true)"; exit 99; fi; msg "SKIP: $*"; exit 77; }

[ -n "${TT_SWTPM_ENV:-}" ] || die "run me under tests/with-swtpm.sh"
# shellcheck source=tests/swtpm-env.sh
. "$TT_SWTPM_ENV"
swtpm_start || die "swtpm_start" # attaches to the wrapper's swtpm
: "${TT_MODULE:?}" "${TT_TOOL:?}"
SSHD=${TT_SSHD:-/usr/sbin/sshd}
for p in ssh ssh-keygen ssh-agent ssh-add pkcs11-tool openssl timeout ps \
    tpm2_getcap tpm2_dictionarylockout tpm2_flushcontext; do
    command -v "$p" >/dev/null 2>&1 || skip "$p not on PATH"
done
[ -x "$SSHD" ] || skip "$SSHD not installed (openssh-server)"
[ -r "$TT_MODULE" ] || die "$TT_MODULE not built"

LOGIN=$(id -un)
# Whatever the caller has must not take part: only the keys of this test.
unset SSH_AUTH_SOCK SSH_AGENT_PID SSH_ASKPASS SSH_ASKPASS_REQUIRE DISPLAY

# sshd with UsePAM no refuses an account whose password field starts with '!'.
if shadow=$(getent shadow "$LOGIN" 2>/dev/null) && [[ $(cut -d: -f2 <<<"$shadow") == '!'* ]]; then
    skip "account $LOGIN is locked ('!' in /etc/shadow): sshd (UsePAM no) would refuse it"
fi

W=$TT_TMP/openssh
mkdir -p "$W" && chmod 700 "$W"
TOKEN=ssh PIN=1234
P11=(pkcs11-tool --module "$TT_MODULE" --token-label "$TOKEN")

BUDGET=${TT_OPENSSH_BUDGET:-45}
T_START=$SECONDS
T_END=$((SECONDS + BUDGET))
# run SECS CMD...: CMD under timeout, for SECS at most and never past the budget.
run() {
    local want=$1 left=$((T_END - SECONDS))
    shift
    if [ "$left" -le 0 ]; then
        echo "time budget of ${BUDGET}s exhausted: not running $1" >&2
        return 124
    fi
    [ "$want" -gt "$left" ] && want=$left
    timeout -k 2 "$want" "$@"
}

passed=0 failed=0 todo=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
notok() { echo "not ok - $*"; failed=$((failed + 1)); }
# Last lines of a log, as TAP comments.
show() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "#   --- ${f##*/}:"
        tail -n "${SHOW_LINES:-15}" "$f" | sed 's/^/#   /'
    done
}
now() { date +%s%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2fs", (b - a) / 1e9 }'; }

# Bytes from hex on stdout.
unhex() {
    if command -v xxd >/dev/null 2>&1; then
        printf '%s' "$1" | xxd -r -p
    else
        printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')"
    fi
}

# PIDs of the children of PID.
children_of() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true; }

# --- the daemons this script starts, and how they stop -----------------------

SSHD_PID='' SSHD_KIDS='' AGENT_PID='' HELPER_PIDS=''
STARTED='' # PID:NAME of every daemon seen, for the final check
started() { # started NAME PID...
    local name=$1 p
    shift
    for p in "$@"; do STARTED="$STARTED $p:$name"; done
}

stop_agent() {
    local p i
    [ -n "$AGENT_PID" ] || return 0
    HELPER_PIDS="$HELPER_PIDS $(children_of "$AGENT_PID")"
    # shellcheck disable=SC2086
    started ssh-agent $AGENT_PID && started ssh-pkcs11-helper $HELPER_PIDS
    if _tt_pid_is "$AGENT_PID" ssh-agent; then
        SSH_AGENT_PID=$AGENT_PID timeout -k 1 5 ssh-agent -k >/dev/null 2>&1 || true
        _tt_kill_wait "$AGENT_PID" ssh-agent
    fi
    # The helper exits when the agent's socket closes; give it 2 s.
    for p in $HELPER_PIDS; do
        for ((i = 0; i < 100; i++)); do
            _tt_alive "$p" || break
            sleep 0.02
        done
        _tt_kill_wait "$p" ssh-pkcs11-helper
    done
    AGENT_PID=''
    unset SSH_AUTH_SOCK SSH_AGENT_PID
}

stop_sshd() {
    local p i
    [ -n "$SSHD_PID" ] || return 0
    SSHD_KIDS="$SSHD_KIDS $(children_of "$SSHD_PID")"
    # shellcheck disable=SC2086
    started sshd $SSHD_PID $SSHD_KIDS
    _tt_kill_wait "$SSHD_PID" "$W/sshd_config"
    # Connection handlers end with their session; give them 2 s.
    for p in $SSHD_KIDS; do
        for ((i = 0; i < 100; i++)); do
            _tt_alive "$p" || break
            sleep 0.02
        done
        _tt_kill_wait "$p" sshd
    done
    SSHD_PID=''
}

stop_abrmd() {
    [ -n "${_TT_ABRMD_PID:-}${_TT_DBUS_PID:-}" ] || return 0
    # shellcheck disable=SC2086
    started tpm2-abrmd ${_TT_ABRMD_PID:-} && started dbus-daemon ${_TT_DBUS_PID:-}
    abrmd_stop
}

cleanup() {
    local rc=$?
    stop_agent
    stop_sshd
    stop_abrmd
    return "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# --- token and keys -------------------------------------------------------------

if ! out=$(run 20 env TPMTRUST_SO_PIN=12345678 TPMTRUST_PIN=$PIN "$TT_TOOL" token init --label "$TOKEN" 2>&1); then
    die "tpmtrust-tool token init: $out"
fi
t0=$(now)
run 20 "${P11[@]}" --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --id 01 --label sshkey \
    >"$W/keygen-ec.out" 2>&1 || { show "$W/keygen-ec.out"; die "pkcs11-tool --keypairgen EC:prime256v1"; }
run 20 "${P11[@]}" --login --pin "$PIN" --keypairgen --key-type EC:edwards25519 --id 02 --label sshed25519 \
    >"$W/keygen-ed.out" 2>&1 || { show "$W/keygen-ed.out"; die "pkcs11-tool --keypairgen EC:edwards25519"; }
ok "token '$TOKEN': P-256 key 'sshkey' (id 01) and Ed25519 key 'sshed25519' (id 02) generated ($(took "$t0"))"

# Askpass programs: they record each call.
mk_askpass() { # NAME PIN (empty PIN: fail)
    if [ -n "$2" ]; then
        printf '#!/bin/sh\necho called >>"%s.calls"\necho %s\n' "$W/$1" "$2" >"$W/$1"
    else
        printf '#!/bin/sh\necho called >>"%s.calls"\nexit 1\n' "$W/$1" >"$W/$1"
    fi
    chmod 700 "$W/$1"
}
calls() { [ -f "$W/$1.calls" ] && wc -l <"$W/$1.calls" | tr -d ' ' || echo 0; }
mk_askpass askpass-good "$PIN"
mk_askpass askpass-bad 9999
mk_askpass askpass-none ''
ASK_GOOD=(env SSH_ASKPASS="$W/askpass-good" SSH_ASKPASS_REQUIRE=force DISPLAY=:0)
ASK_BAD=(env SSH_ASKPASS="$W/askpass-bad" SSH_ASKPASS_REQUIRE=force DISPLAY=:0)
ASK_NONE=(env SSH_ASKPASS="$W/askpass-none" SSH_ASKPASS_REQUIRE=force DISPLAY=:0)

# OpenSSH 9.2 reports an Ed25519 PKCS#11 key with these two lines (ssh-pkcs11.c,
# pkcs11_fetch_keys: unknown CKA_KEY_TYPE) and goes on with the other keys.
ED25519_SKIP='^(skipping unsupported key type|failed to fetch key)$'
# OpenSSH ends the lines it logs to stderr with CR LF: match on FILE without CRs.
text() { tr -d '\r' <"$1"; }
has() { # has FILE ERE
    local t
    t=$(text "$1")
    grep -Eq -- "$2" <<<"$t"
}
count() { # count FILE ERE: number of matching lines
    local t
    t=$(text "$1")
    grep -Ec -- "$2" <<<"$t" || true
}
# The lines of FILE other than OpenSSH's Ed25519 messages.
other_lines() {
    local t
    t=$(text "$1")
    grep -Ev -- "$ED25519_SKIP" <<<"$t" || true
}

# --- 1. ssh-keygen -D -----------------------------------------------------------

t0=$(now)
rc=0
run 15 "${ASK_NONE[@]}" ssh-keygen -D "$TT_MODULE" </dev/null >"$W/keygen-D.out" 2>"$W/keygen-D.err" || rc=$?
n=$(grep -c '^ecdsa-sha2-nistp256 ' "$W/keygen-D.out" || true)
if [ "$rc" -eq 0 ] && [ "$n" -eq 1 ] && grep -q '^ecdsa-sha2-nistp256 [A-Za-z0-9+/=]* sshkey$' "$W/keygen-D.out"; then
    ok "ssh-keygen -D prints the token's ECDSA key: $(grep '^ecdsa' "$W/keygen-D.out" | cut -c1-40)... ($(took "$t0"))"
else
    notok "ssh-keygen -D: exit $rc, $n ecdsa-sha2-nistp256 line(s)"
    show "$W/keygen-D.out" "$W/keygen-D.err"
fi
grep '^ecdsa-sha2-nistp256 ' "$W/keygen-D.out" | head -n1 >"$W/id_tpm.pub"
[ "$(calls askpass-none)" -eq 0 ] && ok "ssh-keygen -D asked for no PIN" \
    || notok "ssh-keygen -D asked for a PIN ($(calls askpass-none) askpass calls)"

# The same key, computed without the module's help for the encoding: the
# CKA_EC_POINT (a DER OCTET STRING around the uncompressed point) in an SPKI
# built by openssl, converted by ssh-keygen -i.
objs=$(run 15 "${P11[@]}" --list-objects --type pubkey 2>&1) || objs=''
point_of() { awk -v id="$1" '/EC_POINT:/ { p = $2 } /ID:/ && $2 == id { print p; exit }' <<<"$objs"; }
ec_hex=$(point_of 01)
case $ec_hex in
    0441*) ec_pt=${ec_hex:4} ;;
    *) ec_pt=$ec_hex ;;
esac
want=''
if [ ${#ec_pt} -eq 130 ] && [ "${ec_pt:0:2}" = 04 ]; then
    printf 'asn1=SEQUENCE:spki\n[spki]\nalg=SEQUENCE:alg\nkey=FORMAT:HEX,BITSTRING:%s\n[alg]\noid=OID:id-ecPublicKey\ncurve=OID:prime256v1\n' \
        "$ec_pt" >"$W/spki.cnf"
    if openssl asn1parse -genconf "$W/spki.cnf" -out "$W/spki.der" >/dev/null 2>"$W/openssl.err" &&
        openssl pkey -pubin -inform DER -in "$W/spki.der" -out "$W/ec.pem" 2>>"$W/openssl.err" &&
        ssh-keygen -i -m PKCS8 -f "$W/ec.pem" >"$W/ec.ssh" 2>>"$W/openssl.err"; then
        want=$(awk '{ print $1, $2 }' "$W/ec.ssh")
    fi
fi
got=$(awk '{ print $1, $2 }' "$W/id_tpm.pub")
if [ -n "$want" ] && [ "$want" = "$got" ]; then
    ok "it equals the key built from CKA_EC_POINT by openssl and ssh-keygen -i -m PKCS8"
else
    notok "ssh-keygen -D key differs from CKA_EC_POINT (EC_POINT '$ec_hex'; want '$want', got '$got')"
    show "$W/openssl.err"
fi

# The Ed25519 key: skipped by OpenSSH 9.2 without harm. (An OpenSSH that
# supports it must then print the right key.)
ed_hex=$(point_of 02)
ed_want=''
if [ "${ed_hex:0:4}" = 0420 ] && [ ${#ed_hex} -eq 68 ]; then
    ed_want="ssh-ed25519 $(unhex "0000000b$(printf ssh-ed25519 | od -An -v -tx1 | tr -d ' \n')00000020${ed_hex:4}" | base64 -w0)"
fi
if grep -q '^ssh-ed25519 ' "$W/keygen-D.out"; then
    ed_got=$(awk '/^ssh-ed25519 / { print $1, $2; exit }' "$W/keygen-D.out")
    [ -n "$ed_want" ] && [ "$ed_got" = "$ed_want" ] &&
        ok "this OpenSSH lists the Ed25519 key too, and it equals CKA_EC_POINT" ||
        notok "Ed25519 key from ssh-keygen -D ('$ed_got') differs from CKA_EC_POINT ('$ed_want')"
else
    [ -n "$ed_want" ] || notok "no Ed25519 public key object with id 02 listed by pkcs11-tool"
    extra=$(other_lines "$W/keygen-D.err")
    if [ -z "$extra" ]; then
        ok "Ed25519 key not listed by $(ssh -V 2>&1 | cut -d, -f1): only its own messages ($(count "$W/keygen-D.err" "$ED25519_SKIP") lines: 'skipping unsupported key type', 'failed to fetch key'), nothing else"
    else
        notok "ssh-keygen -D printed more than OpenSSH's Ed25519 messages: $extra"
    fi
fi
[ -s "$W/id_tpm.pub" ] || die "no ECDSA key from ssh-keygen -D: cannot go on"
FP=$(ssh-keygen -lf "$W/id_tpm.pub" | awk '{ print $2 }')
FP_RE=$(printf '%s' "$FP" | sed 's/[][\\.*^$+?(){}|]/\\&/g') # base64 has + and /

# --- 2. sshd --------------------------------------------------------------------

t0=$(now)
if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
    # The privilege separation directory (normally made by the service unit).
    mkdir -p /run/sshd && chmod 755 /run/sshd
fi
ssh-keygen -q -t ed25519 -N '' -C openssh-test-host -f "$W/host_ed25519" </dev/null ||
    die "ssh-keygen -t ed25519 (host key)"
cp "$W/id_tpm.pub" "$W/authorized_keys"
cat >"$W/sshd_config" <<EOF
HostKey $W/host_ed25519
ListenAddress 127.0.0.1
AuthorizedKeysFile $W/authorized_keys
AuthorizedPrincipalsFile none
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PidFile $W/sshd.pid
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
LogLevel VERBOSE
EOF
out=$(run 10 "$SSHD" -t -f "$W/sshd_config" 2>&1) || die "sshd -t rejects the config: $out"

# Start sshd on a free port; try another port if it lost a race for one.
PORT=''
for ((try = 1; try <= 5; try++)); do
    p=$(_tt_pick_port) || die "no free port"
    "$SSHD" -D -e -f "$W/sshd_config" -p "$p" </dev/null >"$W/sshd.log" 2>&1 &
    SSHD_PID=$!
    deadline=$((SECONDS + 10))
    while :; do
        if ! _tt_alive "$SSHD_PID"; then
            wait "$SSHD_PID" 2>/dev/null || true
            SSHD_PID=''
            break
        fi
        if grep -q "Server listening on 127.0.0.1 port $p\." "$W/sshd.log" && _tt_listener_is "$p" "$SSHD_PID"; then
            PORT=$p
            break
        fi
        if [ "$SECONDS" -ge "$deadline" ] || [ "$SECONDS" -ge "$T_END" ]; then
            break
        fi
        sleep 0.02
    done
    [ -n "$PORT" ] && break
    stop_sshd
    grep -Eq 'Address already in use|Cannot bind' "$W/sshd.log" || break
done
if [ -n "$PORT" ]; then
    ok "sshd (pid $SSHD_PID) listening on 127.0.0.1:$PORT as $LOGIN, trusting the token's key ($(took "$t0"))"
else
    notok "sshd did not start"
    show "$W/sshd.log"
    die "cannot go on without sshd"
fi

SSH_OPTS=(-F /dev/null -o BatchMode=no -o StrictHostKeyChecking=no
    -o "UserKnownHostsFile=$W/known_hosts" -o GlobalKnownHostsFile=/dev/null
    -o UpdateHostKeys=no -o ConnectTimeout=5 -o ControlPath=none -p "$PORT")
accepted() { count "$W/sshd.log" "^Accepted publickey for $LOGIN from 127\\.0\\.0\\.1 port [0-9]+ ssh2: ECDSA $FP_RE\$"; }

# --- 3. ssh -o PKCS11Provider ---------------------------------------------------

# With IdentitiesOnly=yes, ssh uses a PKCS#11 key only when its public key is
# an IdentityFile as well (ssh_config(5), IdentitiesOnly); $W/id_tpm does not
# exist, so ssh loads $W/id_tpm.pub.
P11_SSH=(ssh "${SSH_OPTS[@]}" -o LogLevel=ERROR -o "PKCS11Provider=$TT_MODULE"
    -o IdentitiesOnly=yes -o "IdentityFile=$W/id_tpm" "$LOGIN@127.0.0.1")

t0=$(now)
n0=$(accepted)
rc=0
run 20 "${ASK_GOOD[@]}" "${P11_SSH[@]}" echo pkcs11-ok </dev/null >"$W/ssh-p11.out" 2>"$W/ssh-p11.err" || rc=$?
if [ "$rc" -eq 0 ] && [ "$(cat "$W/ssh-p11.out")" = pkcs11-ok ]; then
    ok "ssh -o PKCS11Provider=\$TT_MODULE logs in: pkcs11-ok ($(took "$t0"))"
else
    notok "ssh -o PKCS11Provider: exit $rc, output '$(cat "$W/ssh-p11.out")'"
    show "$W/ssh-p11.err" "$W/sshd.log"
fi
[ "$(calls askpass-good)" -eq 1 ] && ok "the PIN came from SSH_ASKPASS, asked once" \
    || notok "askpass called $(calls askpass-good) times, wanted 1"
[ "$(accepted)" -eq $((n0 + 1)) ] && ok "sshd log: Accepted publickey for $LOGIN ... ECDSA $FP" \
    || { notok "sshd did not log the ECDSA key as accepted"; show "$W/sshd.log"; }
extra=$(other_lines "$W/ssh-p11.err")
[ -z "$extra" ] && ok "ssh printed no error (at most OpenSSH's Ed25519 messages)" \
    || notok "ssh printed: $extra"

# A wrong PIN: no login. Over the raw swtpm TCTI (no resource manager).
t0=$(now)
n0=$(accepted)
tr0=$(tt_transient_count 2>/dev/null || echo '?')
rc=0
run 20 "${ASK_BAD[@]}" "${P11_SSH[@]}" echo pkcs11-ok </dev/null >"$W/ssh-badpin.out" 2>"$W/ssh-badpin.err" || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && ! grep -q pkcs11-ok "$W/ssh-badpin.out" && [ "$(accepted)" -eq "$n0" ]; then
    ok "wrong PIN: no login (ssh exit $rc, sshd accepted nothing) ($(took "$t0"))"
else
    notok "wrong PIN: ssh exit $rc, output '$(cat "$W/ssh-badpin.out")'"
    show "$W/ssh-badpin.err" "$W/sshd.log"
fi
[ "$(calls askpass-bad)" -ge 1 ] && has "$W/ssh-badpin.err" '^PKCS#11 login failed: PIN incorrect$' &&
    ok "ssh reports the module's CKR_PIN_INCORRECT ('PKCS#11 login failed: PIN incorrect')" ||
    { notok "no CKR_PIN_INCORRECT seen by ssh ($(calls askpass-bad) askpass calls)"; show "$W/ssh-badpin.err"; }
lockout_counter() {
    local v
    v=$(run 10 tpm2_getcap properties-variable 2>/dev/null | awk '$1 == "TPM2_PT_LOCKOUT_COUNTER:" { print $2 }')
    [ -n "$v" ] && echo $((v))
}
lc=$(lockout_counter)
[ -n "$lc" ] && [ "$lc" -ge 1 ] && ok "the TPM counted the wrong PIN (lockout counter $lc)" \
    || notok "TPM lockout counter after a wrong PIN: '${lc:-?}'"
# ssh leaves through _exit() after a failed authentication, without C_Finalize
# and without running the module's destructor: over a TCTI without a resource
# manager, what the module keeps loaded between calls stays in the TPM.
tr1=$(tt_transient_count 2>/dev/null || echo '?')
ls1=$(run 10 tpm2_getcap handles-loaded-session 2>/dev/null | grep -c 0x || true)
if [ "$tr1" = "$tr0" ] && [ "$ls1" -eq 0 ]; then
    ok "the failed ssh left no object or session in the TPM"
else
    what="the failed ssh left $tr1 transient object(s) (before: $tr0) and $ls1 loaded session(s) in the TPM (raw TCTI; ssh _exit()s without C_Finalize)"
    if [ "${TT_OPENSSH_STRICT:-0}" = 1 ]; then
        notok "$what"
    else
        echo "not ok - $what # TODO module keeps its SRK and session loaded between calls (TT_OPENSSH_STRICT=1: a failure)"
        todo=$((todo + 1))
    fi
    run 10 tpm2_flushcontext -t >/dev/null 2>&1 || true
    run 10 tpm2_flushcontext -l >/dev/null 2>&1 || true
fi
run 10 tpm2_dictionarylockout -c >/dev/null 2>&1
lc=$(lockout_counter)
[ "$lc" = 0 ] && ok "TPM lockout counter cleared (tpm2_dictionarylockout -c)" \
    || notok "TPM lockout counter after tpm2_dictionarylockout -c: '${lc:-?}'"

# --- 4. ssh-agent, through tpm2-abrmd --------------------------------------------

agent_section() {
    local t0 rc out helper env_of_helper moddir allow bg bgrc n0 p
    t0=$(now)
    if ! abrmd_start; then
        notok "abrmd_start"
        show "$TT_TMP/abrmd.log"
        return
    fi
    trap cleanup EXIT # abrmd_start may have put tt_cleanup first: stop the agent before abrmd
    if [ "$TPMTRUST_TCTI" = tabrmd:bus_type=session ]; then
        ok "tpm2-abrmd (pid ${_TT_ABRMD_PID:-?}) on a private bus; TPMTRUST_TCTI=$TPMTRUST_TCTI ($(took "$t0"))"
    else
        notok "TPMTRUST_TCTI is '$TPMTRUST_TCTI' after abrmd_start"
        return
    fi

    # ssh-agent loads only the providers that match -P (after realpath).
    moddir=$(dirname "$(readlink -f "$TT_MODULE")")
    allow="/usr/lib/*,/work/*,/tmp/*,$moddir/*"
    t0=$(now)
    if ! out=$(run 10 ssh-agent -s -a "$W/agent.sock" -P "$allow" 2>&1); then
        notok "ssh-agent -s: $out"
        return
    fi
    eval "$out" >/dev/null
    AGENT_PID=${SSH_AGENT_PID:-}
    if ! _tt_pid_is "$AGENT_PID" ssh-agent; then
        notok "ssh-agent is not running: $out"
        AGENT_PID=''
        return
    fi
    rc=0
    run 20 "${ASK_GOOD[@]}" ssh-add -s "$TT_MODULE" </dev/null >"$W/ssh-add.out" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ] && grep -q '^Card added' "$W/ssh-add.out"; then
        ok "ssh-agent (pid $AGENT_PID, -P '$allow'): ssh-add -s added the module, PIN through SSH_ASKPASS ($(took "$t0"))"
    else
        notok "ssh-add -s: exit $rc"
        show "$W/ssh-add.out"
        return
    fi
    HELPER_PIDS=$(children_of "$AGENT_PID")
    helper=''
    for p in $HELPER_PIDS; do _tt_pid_is "$p" ssh-pkcs11-helper && helper=$p; done
    env_of_helper=''
    [ -n "$helper" ] && env_of_helper=$(tr '\0' '\n' 2>/dev/null <"/proc/$helper/environ")
    if grep -qx 'TPMTRUST_TCTI=tabrmd:bus_type=session' <<<"$env_of_helper"; then
        ok "the agent's ssh-pkcs11-helper (pid $helper) holds the module, through tpm2-abrmd"
    else
        notok "no ssh-pkcs11-helper using tpm2-abrmd under the agent (children: $HELPER_PIDS)"
    fi
    out=$(run 10 ssh-add -l 2>&1) || true
    [ "$out" = "256 $FP sshkey (ECDSA)" ] &&
        ok "ssh-add -l: $out" || notok "ssh-add -l: $out"
    out=$(run 10 ssh-add -L 2>&1) || true
    [ "$(awk '{ print $1, $2 }' <<<"$out")" = "$(awk '{ print $1, $2 }' "$W/id_tpm.pub")" ] &&
        ok "ssh-add -L gives the key of ssh-keygen -D" || notok "ssh-add -L: $out"

    # ssh through the agent (ssh itself does not load the module), while
    # another process signs with the same key through tpm2-abrmd.
    head -c 1000 /dev/urandom >"$W/data"
    t0=$(now)
    n0=$(accepted)
    run 20 "${P11[@]}" --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 01 -i "$W/data" -o "$W/data.sig" \
        --signature-format openssl >"$W/sign.out" 2>&1 &
    bg=$!
    rc=0
    run 20 ssh "${SSH_OPTS[@]}" -v -o IdentitiesOnly=no -o IdentityFile=none "$LOGIN@127.0.0.1" echo agent-ok \
        </dev/null >"$W/ssh-agent.out" 2>"$W/ssh-agent.err" || rc=$?
    bgrc=0
    wait "$bg" || bgrc=$?
    if [ "$rc" -eq 0 ] && [ "$(cat "$W/ssh-agent.out")" = agent-ok ] &&
        has "$W/ssh-agent.err" "^debug1: Offering public key: sshkey ECDSA $FP_RE agent\$" &&
        ! has "$W/ssh-agent.err" '^debug1: provider '; then
        ok "ssh through the agent logs in: agent-ok (key offered by the agent; ssh loaded no module) ($(took "$t0"))"
    else
        notok "ssh through the agent: exit $rc, output '$(cat "$W/ssh-agent.out")'"
        SHOW_LINES=30 show "$W/ssh-agent.err"
    fi
    if [ "$bgrc" -eq 0 ] && openssl dgst -sha256 -verify "$W/ec.pem" -signature "$W/data.sig" "$W/data" >/dev/null 2>&1; then
        ok "meanwhile pkcs11-tool signed with the same key through tpm2-abrmd; openssl verifies it"
    else
        notok "concurrent pkcs11-tool --sign: exit $bgrc"
        show "$W/sign.out"
    fi
    [ "$(accepted)" -eq $((n0 + 1)) ] && ok "sshd log: Accepted publickey ... ECDSA $FP (through the agent)" ||
        { notok "sshd did not log the agent's key as accepted"; show "$W/sshd.log"; }

    out=$(run 10 ssh-add -e "$TT_MODULE" 2>&1) && grep -q 'Card removed' <<<"$out" &&
        ok "ssh-add -e removes the module from the agent" || notok "ssh-add -e: $out"
    out=$(run 10 ssh-add -l 2>&1) || true
    grep -q 'no identities' <<<"$out" && ok "the agent has no identities left" || notok "ssh-add -l after -e: $out"
}

if command -v tpm2-abrmd >/dev/null 2>&1 && command -v dbus-daemon >/dev/null 2>&1; then
    agent_section
elif [ "${CI:-}" = true ]; then
    notok "ssh-agent steps: tpm2-abrmd or dbus-daemon not on PATH (CI=true)"
else
    ok "ssh-agent steps # SKIP tpm2-abrmd or dbus-daemon not on PATH"
fi

# --- 5. stop everything, nothing left ------------------------------------------

t0=$(now)
stop_agent
stop_sshd
stop_abrmd
# Anything still there gets 3 s to go (an exiting process, a slow reaper).
left_of() {
    local e p out=''
    for e in $STARTED; do
        p=${e%%:*}
        _tt_pid_is "$p" "${e#*:}" && out="$out $p($(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null))"
    done
    # And whatever runs with a file of this test on its command line.
    for f in /proc/[0-9]*/cmdline; do
        p=${f#/proc/}
        p=${p%/cmdline}
        [ "$p" = $$ ] && continue
        { mapfile -d '' -t argv <"$f"; } 2>/dev/null || continue
        [[ " ${argv[*]:-} " == *"$W/"* ]] && _tt_alive "$p" && [[ $out != *" $p("* ]] &&
            out="$out $p($(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null))"
    done
    echo "$out"
}
deadline=$((SECONDS + 3))
left=$(left_of)
[ -n "$left" ] && msg "still there after stopping:$left"
while [ -n "$left" ] && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.05
    left=$(left_of)
done
if [ -z "$left" ]; then
    ok "sshd, ssh-agent and its helper, tpm2-abrmd stopped; no process left ($(took "$t0"))"
else
    notok "processes left (pid(state)):$left"
    left=$(sed 's/([A-Za-z]*)//g; s/^ //; s/ /,/g' <<<"$left")
    ps -o pid,ppid,stat,args -p "$left" 2>/dev/null | sed 's/^/#   /'
fi
n=$(tt_transient_count 2>/dev/null || echo '?')
[ "$n" = 0 ] && ok "no transient object left in the TPM" || notok "$n transient object(s) left in the TPM"

echo "# openssh: $passed passed, $failed failed, $todo todo ($((SECONDS - T_START))s)"
[ "$failed" -eq 0 ]
