# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
#
# swtpm-env.sh - private software TPM (and optionally tpm2-abrmd) for tests.
#
# Source this file from a bash test script (it is `set -u`, `set -e` and
# `pipefail` safe), then:
#
#   tt_require_swtpm        skip (exit 77) or, with CI=true, fail (exit 99)
#                           when swtpm / tpm2-tools are missing
#   swtpm_start             start swtpm on a free 127.0.0.1 port pair P, P+1
#                           (below the ephemeral range, free in /proc/net/tcp*
#                           in any state; see _tt_pick_port; no `ss` needed);
#                           exports TT_TMP, TT_SWTPM_PORT, TT_SWTPM_PID,
#                           TPMTRUST_TCTI, TPM2TOOLS_TCTI, TPMTRUST_STORE,
#                           XDG_DATA_HOME, XDG_RUNTIME_DIR
#   swtpm_stop [--hard]     stop it (orderly TPM2_Shutdown first, unless --hard)
#   swtpm_restart [--hard]  power cycle: stop + start on the same state and port
#   abrmd_start             private dbus-daemon + tpm2-abrmd; switches the TCTI
#                           variables to tabrmd:bus_type=session
#   abrmd_stop              stop both, switch the TCTI variables back to swtpm
#   tt_require_abrmd        like tt_require_swtpm, for tpm2-abrmd + dbus-daemon
#   tt_transient_count      print the number of loaded transient objects
#   tt_session_count        print the number of loaded and saved sessions
#   tt_cleanup              stop everything, remove TT_TMP (unless TT_KEEP=1);
#                           runs automatically from an EXIT trap
#
# A script run under tests/with-swtpm.sh inherits the running swtpm through
# the exported variables; if it sources this file too, swtpm_start just
# attaches to that swtpm, and the swtpm/TT_TMP stay owned (and are cleaned up)
# by the wrapper. The pid files in $TT_TMP are authoritative, so a
# swtpm_restart done in the test script is still cleaned up by the wrapper.
#
# All waits are bounded. Messages go to stderr, prefixed "swtpm-env:"; when
# swtpm fails to start, they quote its own --log file (the reason a bind()
# failed is only there).
# Daemon logs: $TT_TMP/swtpm.log, swtpm.out, dbus.log, abrmd.log
# (run with TT_KEEP=1 to keep them).

if [ -n "${_TT_SWTPM_ENV_LOADED:-}" ] && [ "${_TT_SWTPM_ENV_LOADED}" = "$$" ]; then
    return 0
fi
_TT_SWTPM_ENV_LOADED=$$

TT_START_TIMEOUT=${TT_START_TIMEOUT:-10}   # seconds to wait for a daemon

_tt_msg() { printf 'swtpm-env: %s\n' "$*" >&2; }

# Seconds since the epoch with milliseconds, for the elapsed-time messages.
_tt_now() { date +%s.%N 2>/dev/null || date +%s; }
_tt_elapsed() { awk -v a="$1" -v b="$(_tt_now)" 'BEGIN { printf "%.2f", b - a }'; }

# True if PID is a live (not zombie) process. A zombie counts as dead: when
# the daemon is not our child, it is reaped by PID 1 whenever that gets to it.
_tt_alive() {
    local pid=${1:-} state
    [ -n "$pid" ] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 0
    [ "$state" != Z ] && [ "$state" != X ]
}

# True if PID is alive and its command line contains PATTERN (guards against
# killing a recycled pid).
_tt_pid_is() {
    local pid=${1:-} pat=$2
    _tt_alive "$pid" || return 1
    [ -r "/proc/$pid/cmdline" ] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pat"
}

_tt_read_pid() {
    if [ -r "$1" ]; then head -n1 "$1" 2>/dev/null || true; fi
}

# Take a daemon out of the shell's job table: a bare `wait` in the test script
# (for its own background jobs) must not wait for swtpm/dbus/abrmd forever.
# bash still reaps it when it exits.
_tt_disown() { disown "$1" 2>/dev/null || true; }

# Kill PID (if it matches PATTERN), wait up to 5 s, then SIGKILL.
_tt_kill_wait() {
    local pid=${1:-} pat=$2 i
    _tt_pid_is "$pid" "$pat" || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 250; i++)); do
        _tt_alive "$pid" || break
        sleep 0.02
    done
    if _tt_alive "$pid"; then
        _tt_msg "pid $pid ($pat) ignored SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            _tt_alive "$pid" || break
            sleep 0.02
        done
    fi
    wait "$pid" 2>/dev/null || true
}

tt_require_swtpm() {
    local t missing=
    for t in swtpm tpm2_startup; do
        command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
    done
    [ -z "$missing" ] && return 0
    if [ "${CI:-}" = true ]; then
        _tt_msg "ERROR: not on PATH:$missing (CI=true: hard error; run scripts/install-deps.sh)"
        exit 99
    fi
    _tt_msg "SKIP: not on PATH:$missing (install swtpm and tpm2-tools)"
    exit 77
}

tt_require_abrmd() {
    local t missing=
    for t in tpm2-abrmd dbus-daemon; do
        command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
    done
    [ -z "$missing" ] && return 0
    if [ "${CI:-}" = true ]; then
        _tt_msg "ERROR: not on PATH:$missing (CI=true: hard error; run scripts/install-deps.sh)"
        exit 99
    fi
    _tt_msg "SKIP: not on PATH:$missing (install tpm2-abrmd and dbus)"
    exit 77
}

# Port choice. `ss` is not used (iproute2 is not on every machine, and the
# connect probe one would fall back to does not see TIME-WAIT): the kernel's
# own tables in /proc/net/tcp and /proc/net/tcp6 list every socket of this
# network namespace, in any state, with its local port in hex (field 2,
# "ADDR:PORT"), its state (field 4; 0A = LISTEN, 06 = TIME-WAIT) and its inode
# (field 10). A port that is the local port of any socket, even one in
# TIME-WAIT, counts as taken: bind() fails on the TIME-WAIT left by a
# connect()ed socket even with SO_REUSEADDR.
_tt_proc_tcp() {
    local f
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] && printf '%s\n' "$f"
    done
    return 0
}

# True if no socket (listening, connected, in TIME-WAIT...) has local TCP
# port $1. Without /proc/net/tcp, a connect probe (blind to TIME-WAIT).
_tt_port_free() {
    local p=$1 files
    files=$(_tt_proc_tcp)
    if [ -n "$files" ]; then
        # shellcheck disable=SC2086
        awk -v h="$(printf '%04X' "$p")" \
            'FNR > 1 { n = split($2, a, ":"); if (a[n] == h) exit 1 }' $files
    else
        ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
    fi
}

# Print a port P such that P and P+1 (swtpm's server and control ports; the
# swtpm TCTI wants the control port at P+1) are both free (_tt_port_free).
# P is drawn from 20000 up to below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range, 32768-60999 by default), so no outgoing
# connection can take P or P+1 between this check and the daemon's bind().
# If the ephemeral range leaves no room there, from above it, else 20000-59999.
_tt_pick_port() {
    local lo=32768 hi=60999 min=20000 max p i cands='' files
    { read -r lo hi </proc/sys/net/ipv4/ip_local_port_range; } 2>/dev/null || true
    if ((lo - 2 - min >= 1000)); then
        max=$((lo - 2))
    elif ((65534 - hi - 1 >= 1000)); then
        min=$((hi + 1))
        max=65533
    else
        max=59999
    fi
    files=$(_tt_proc_tcp)
    if [ -z "$files" ]; then
        for ((i = 0; i < 100; i++)); do
            p=$((min + (RANDOM * 32768 + RANDOM) % (max - min + 1)))
            _tt_port_free "$p" && _tt_port_free $((p + 1)) && { echo "$p"; return 0; }
        done
        return 1
    fi
    # One pass over the tables (there may be tens of thousands of TIME-WAIT
    # entries) for 100 random candidates "P:hex(P):hex(P+1)".
    for ((i = 0; i < 100; i++)); do
        p=$((min + (RANDOM * 32768 + RANDOM) % (max - min + 1)))
        cands+=$(printf '%d:%04X:%04X ' "$p" "$p" $((p + 1)))
    done
    # shellcheck disable=SC2086
    awk -v c="$cands" '
        FNR > 1 { n = split($2, a, ":"); used[a[n]] = 1 }
        END {
            k = split(c, cs, " ")
            for (i = 1; i <= k; i++) {
                split(cs[i], f, ":")
                if (!(f[2] in used) && !(f[3] in used)) { print f[1]; exit 0 }
            }
            exit 1
        }' $files
}

# Command-line fragments that identify our daemons (see _tt_pid_is).
_tt_pat_swtpm() { printf 'dir=%s/tpm' "$TT_TMP"; }
_tt_pat_dbus() { printf '%s/dbus.sock' "$TT_TMP"; }
_tt_pat_abrmd() { printf 'tpm2-abrmd --session --allow-root --tcti=%s' "$(_tt_swtpm_tcti)"; }

_tt_swtpm_tcti() { printf 'swtpm:host=127.0.0.1,port=%s' "$TT_SWTPM_PORT"; }

_tt_export_swtpm_tcti() {
    TPMTRUST_TCTI=$(_tt_swtpm_tcti)
    TPM2TOOLS_TCTI=$TPMTRUST_TCTI
    export TPMTRUST_TCTI TPM2TOOLS_TCTI
}

# True if PID $2 is the one listening on port $1 (guards against answering
# probes from someone else's swtpm that won a race for the port): one of its
# file descriptors is a LISTEN socket on that port. True when /proc/net/tcp
# cannot be read (nothing to check with).
_tt_listener_is() {
    local p=$1 pid=$2 files inos fd link ino
    files=$(_tt_proc_tcp)
    [ -n "$files" ] || return 0
    # shellcheck disable=SC2086
    inos=$(awk -v h="$(printf '%04X' "$p")" \
        'FNR > 1 && $4 == "0A" { n = split($2, a, ":"); if (a[n] == h) print $10 }' $files)
    [ -n "$inos" ] || return 1
    for fd in "/proc/$pid/fd/"*; do
        link=$(readlink "$fd" 2>/dev/null) || continue
        for ino in $inos; do
            [ "$link" = "socket:[$ino]" ] && return 0
        done
    done
    return 1
}

# One bounded probe of a TCTI: a TPM answering TPM2_GetRandom.
_tt_probe() {
    timeout -k 1 "${2:-3}" tpm2_getrandom -T "$1" 8 >/dev/null 2>&1
}

# Size in bytes of file $1 (0 if missing).
_tt_size() { local n; n=$({ wc -c <"$1"; } 2>/dev/null) || n=0; echo "${n:-0}"; }

# What swtpm wrote during this launch (its --log file first: the reason a
# bind() failed goes there, not to stdout/stderr), as one line.
_tt_swtpm_why() {
    { tail -c +$((_TT_LOG0 + 1)) "$TT_TMP/swtpm.log" 2>/dev/null
      tail -c +$((_TT_OUT0 + 1)) "$TT_TMP/swtpm.out" 2>/dev/null; } |
        tail -n 5 | tr '\n' ' ' | sed 's/ *$//'
}

# Launch swtpm on TT_SWTPM_PORT over TT_TMP/tpm and wait until it answers.
# Returns 0 when ready, 1 if it died (e.g. port taken), 2 on timeout; on
# 1 and 2, _TT_SWTPM_WHY holds what swtpm logged during this launch.
_tt_swtpm_launch() {
    local p=$TT_SWTPM_PORT tcti pid deadline
    tcti=$(_tt_swtpm_tcti)
    mkdir -p "$TT_TMP/tpm"
    _TT_SWTPM_WHY=''
    _TT_LOG0=$(_tt_size "$TT_TMP/swtpm.log")
    _TT_OUT0=$(_tt_size "$TT_TMP/swtpm.out")
    swtpm socket --tpm2 \
        --server "type=tcp,port=$p,bindaddr=127.0.0.1" \
        --ctrl "type=tcp,port=$((p + 1)),bindaddr=127.0.0.1" \
        --tpmstate "dir=$TT_TMP/tpm" \
        --flags not-need-init,startup-clear \
        --log "file=$TT_TMP/swtpm.log" \
        </dev/null >>"$TT_TMP/swtpm.out" 2>&1 &
    pid=$!
    _tt_disown "$pid"
    echo "$pid" >"$TT_TMP/swtpm.pid"
    TT_SWTPM_PID=$pid
    export TT_SWTPM_PID
    deadline=$((SECONDS + TT_START_TIMEOUT))
    while :; do
        if ! _tt_alive "$pid"; then
            wait "$pid" 2>/dev/null || true
            rm -f "$TT_TMP/swtpm.pid"
            _TT_SWTPM_WHY=$(_tt_swtpm_why)
            return 1
        fi
        if _tt_probe "$tcti" 2 && _tt_alive "$pid" && _tt_listener_is "$p" "$pid"; then
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            _TT_SWTPM_WHY=$(_tt_swtpm_why)
            return 2
        fi
        sleep 0.05
    done
}

_tt_swtpm_configure() {
    local tcti out
    tcti=$(_tt_swtpm_tcti)
    # Lockout after 5 failures; 1000 s to heal one failure and to recover
    # from a failed lockoutAuth: nothing heals during a test run, so counts
    # are deterministic. Lockout auth is empty, so tests can reset it with
    # `tpm2_dictionarylockout -c`.
    if ! out=$(timeout -k 1 10 tpm2_dictionarylockout -T "$tcti" -s -n 5 -t 1000 -l 1000 2>&1); then
        _tt_msg "ERROR: tpm2_dictionarylockout -s failed: $out"
        return 1
    fi
    if ! out=$(timeout -k 1 10 tpm2_dictionarylockout -T "$tcti" -c 2>&1); then
        _tt_msg "ERROR: tpm2_dictionarylockout -c failed: $out"
        return 1
    fi
}

_tt_third_arg() { printf '%s' "$3"; }

_tt_install_trap() {
    local cur
    cur=$(trap -p EXIT)
    case $cur in
        *tt_cleanup*) ;;
        '') trap 'tt_cleanup' EXIT ;;
        *)
            # Keep the caller's own EXIT trap, run ours first.
            local old
            old=$(eval "_tt_third_arg $cur")
            # shellcheck disable=SC2064
            trap "tt_cleanup; $old" EXIT
            ;;
    esac
    # Without these, SIGINT/SIGTERM/SIGHUP would kill the shell without running
    # the EXIT trap, and the daemons (which ignore SIGINT as background jobs)
    # would be left behind.
    [ -n "$(trap -p HUP)" ] || trap 'exit 129' HUP
    [ -n "$(trap -p INT)" ] || trap 'exit 130' INT
    [ -n "$(trap -p TERM)" ] || trap 'exit 143' TERM
}

# Relaunch swtpm on the existing TT_TMP/tpm and TT_SWTPM_PORT (power on).
# The port may take a moment to become bindable again: retry, bounded.
_tt_swtpm_relaunch() {
    local rc=0 deadline
    deadline=$((SECONDS + TT_START_TIMEOUT))
    while :; do
        rc=0
        _tt_swtpm_launch || rc=$?
        [ "$rc" -ne 1 ] && break
        [ "$SECONDS" -ge "$deadline" ] && break
        sleep 0.2
    done
    if [ "$rc" -ne 0 ]; then
        _tt_msg "ERROR: swtpm did not come up on ports $TT_SWTPM_PORT,$((TT_SWTPM_PORT + 1)); swtpm said: ${_TT_SWTPM_WHY:-(nothing)}"
        _tt_kill_wait "${TT_SWTPM_PID:-}" "$(_tt_pat_swtpm)"
        return 1
    fi
    _tt_export_swtpm_tcti
}

# swtpm_start: start a fresh swtpm in a new TT_TMP. If this shell already has
# one (or inherited one from e.g. with-swtpm.sh through TT_TMP and
# TT_SWTPM_PORT), attach to it when it runs, or power it on again on the same
# state dir and port when it was stopped with swtpm_stop. Only the shell that
# created TT_TMP owns it: its EXIT trap stops swtpm and removes TT_TMP.
swtpm_start() {
    local t0 rc tries pid
    t0=$(_tt_now)
    if [ -n "${TT_TMP:-}" ] && [ -n "${TT_SWTPM_PORT:-}" ] && [ -d "$TT_TMP/tpm" ]; then
        export TT_TMP TT_SWTPM_PORT
        export TPMTRUST_STORE="${TPMTRUST_STORE:-$TT_TMP/store.sqlite3}"
        export XDG_DATA_HOME="${XDG_DATA_HOME:-$TT_TMP/xdg}"
        export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$TT_TMP/run}"
        pid=$(_tt_read_pid "$TT_TMP/swtpm.pid")
        if _tt_pid_is "$pid" "$(_tt_pat_swtpm)"; then
            TT_SWTPM_PID=$pid
            export TT_SWTPM_PID
            if [ "${TPM2TOOLS_TCTI:-}" != tabrmd:bus_type=session ]; then
                _tt_export_swtpm_tcti
            fi
            if [ "${_TT_OWNER_PID:-}" = "$$" ]; then
                _tt_msg "swtpm already running (pid $pid, port $TT_SWTPM_PORT)"
            else
                _tt_msg "attached to running swtpm (pid $pid, port $TT_SWTPM_PORT)"
            fi
            return 0
        fi
        _tt_swtpm_relaunch || return 1
        _tt_msg "swtpm started again: pid $TT_SWTPM_PID, port $TT_SWTPM_PORT ($(_tt_elapsed "$t0")s)"
        return 0
    fi

    TT_TMP=$(mktemp -d /tmp/tpmtrust-test.XXXXXX) || {
        _tt_msg "ERROR: mktemp failed"
        return 1
    }
    export TT_TMP
    _TT_OWNER_PID=$$
    mkdir -p "$TT_TMP/tpm" "$TT_TMP/xdg"
    _tt_install_trap

    for ((tries = 1; tries <= 10; tries++)); do
        TT_SWTPM_PORT=$(_tt_pick_port) || {
            _tt_msg "ERROR: no free port pair found in 20000-60000"
            return 1
        }
        export TT_SWTPM_PORT
        rc=0
        _tt_swtpm_launch || rc=$?
        [ "$rc" -eq 0 ] && break
        if [ "$rc" -eq 2 ]; then
            _tt_msg "ERROR: swtpm (ports $TT_SWTPM_PORT,$((TT_SWTPM_PORT + 1))) not ready after ${TT_START_TIMEOUT}s; swtpm said: ${_TT_SWTPM_WHY:-(nothing)}"
            _tt_kill_wait "$TT_SWTPM_PID" "$(_tt_pat_swtpm)"
            return 1
        fi
        _tt_msg "swtpm exited at start on ports $TT_SWTPM_PORT,$((TT_SWTPM_PORT + 1)), retrying; swtpm said: ${_TT_SWTPM_WHY:-(nothing)}"
    done
    if [ "$rc" -ne 0 ]; then
        _tt_msg "ERROR: could not start swtpm after 10 attempts; the last said: ${_TT_SWTPM_WHY:-(nothing)} (logs: $TT_TMP/swtpm.log, swtpm.out; TT_KEEP=1 keeps them)"
        return 1
    fi

    _tt_swtpm_configure || return 1
    _tt_export_swtpm_tcti
    export TPMTRUST_STORE="$TT_TMP/store.sqlite3"
    export XDG_DATA_HOME="$TT_TMP/xdg"
    # the module's leases (what each process holds loaded in the TPM)
    export XDG_RUNTIME_DIR="$TT_TMP/run"
    mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
    _tt_msg "swtpm ready: pid $TT_SWTPM_PID, port $TT_SWTPM_PORT, dir $TT_TMP ($(_tt_elapsed "$t0")s)"
}

# swtpm_stop [--hard]: without --hard, first send TPM2_Shutdown(CLEAR), as an
# OS would before power-off. A disorderly stop makes the TPM count one
# dictionary-attack failure at the next startup (libtpms does this when DA
# recovery is enabled), which would make lockout counts non-deterministic.
swtpm_stop() {
    local hard='' pid t0
    [ "${1:-}" = --hard ] && hard=1
    [ -n "${TT_TMP:-}" ] || { _tt_msg "swtpm_stop: nothing started"; return 0; }
    t0=$(_tt_now)
    pid=$(_tt_read_pid "$TT_TMP/swtpm.pid")
    [ -n "$pid" ] || pid=${TT_SWTPM_PID:-}
    if ! _tt_pid_is "$pid" "$(_tt_pat_swtpm)"; then
        _tt_msg "swtpm_stop: swtpm not running"
        rm -f "$TT_TMP/swtpm.pid"
        return 0
    fi
    if [ -z "$hard" ]; then
        timeout -k 1 5 tpm2_shutdown -T "$(_tt_swtpm_tcti)" -c >/dev/null 2>&1 ||
            _tt_msg "swtpm_stop: TPM2_Shutdown failed (stopping anyway)"
    fi
    _tt_kill_wait "$pid" "$(_tt_pat_swtpm)"
    rm -f "$TT_TMP/swtpm.pid"
    _tt_msg "swtpm stopped (pid $pid${hard:+, hard}) ($(_tt_elapsed "$t0")s)"
}

# swtpm_restart [--hard]: power cycle on the same state dir and port. If this
# shell runs tpm2-abrmd, it is stopped first and started again afterwards
# (its cached contexts do not survive a TPM reset).
swtpm_restart() {
    local t0 had_abrmd=''
    if [ -z "${TT_TMP:-}" ] || [ -z "${TT_SWTPM_PORT:-}" ]; then
        _tt_msg "ERROR: swtpm_restart: swtpm_start was not called"
        return 1
    fi
    t0=$(_tt_now)
    if _tt_pid_is "${_TT_ABRMD_PID:-}" "$(_tt_pat_abrmd)"; then
        had_abrmd=1
        abrmd_stop
    fi
    swtpm_stop "$@"
    _tt_swtpm_relaunch || return 1
    _tt_msg "swtpm restarted: pid $TT_SWTPM_PID, port $TT_SWTPM_PORT ($(_tt_elapsed "$t0")s)"
    if [ -n "$had_abrmd" ]; then
        abrmd_start
    fi
}

abrmd_start() {
    local t0 deadline addr pid
    if [ -z "${TT_TMP:-}" ] || [ -z "${TT_SWTPM_PORT:-}" ]; then
        _tt_msg "ERROR: abrmd_start: call swtpm_start first"
        return 1
    fi
    if ! command -v tpm2-abrmd >/dev/null 2>&1 || ! command -v dbus-daemon >/dev/null 2>&1; then
        _tt_msg "ERROR: abrmd_start: tpm2-abrmd or dbus-daemon not on PATH"
        return 1
    fi
    if _tt_pid_is "${_TT_ABRMD_PID:-}" "$(_tt_pat_abrmd)"; then
        _tt_msg "tpm2-abrmd already running (pid $_TT_ABRMD_PID)"
        return 0
    fi
    pid=$(_tt_read_pid "$TT_TMP/abrmd.pid")
    if _tt_pid_is "$pid" "$(_tt_pat_abrmd)" && [ -s "$TT_TMP/dbus.addr" ]; then
        # Started by another shell (e.g. the parent): use it, do not own it.
        DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$TT_TMP/dbus.addr")
        export DBUS_SESSION_BUS_ADDRESS
        export TPMTRUST_TCTI=tabrmd:bus_type=session
        export TPM2TOOLS_TCTI=tabrmd:bus_type=session
        _tt_msg "using tpm2-abrmd started elsewhere (pid $pid)"
        return 0
    fi
    t0=$(_tt_now)
    [ "${_TT_OWNER_PID:-}" = "$$" ] || _tt_install_trap

    # Private session bus. --nofork keeps the pid we get from $! the daemon's.
    rm -f "$TT_TMP/dbus.sock" "$TT_TMP/dbus.addr"
    dbus-daemon --session --nofork --address="unix:path=$TT_TMP/dbus.sock" \
        --print-address </dev/null >"$TT_TMP/dbus.addr" 2>>"$TT_TMP/dbus.log" &
    _TT_DBUS_PID=$!
    _tt_disown "$_TT_DBUS_PID"
    echo "$_TT_DBUS_PID" >"$TT_TMP/dbus.pid"
    deadline=$((SECONDS + TT_START_TIMEOUT))
    until [ -s "$TT_TMP/dbus.addr" ]; do
        if ! _tt_alive "$_TT_DBUS_PID" || [ "$SECONDS" -ge "$deadline" ]; then
            _tt_msg "ERROR: dbus-daemon did not start; log:"
            tail -n 5 "$TT_TMP/dbus.log" >&2 2>/dev/null || true
            abrmd_stop
            return 1
        fi
        sleep 0.02
    done
    addr=$(head -n1 "$TT_TMP/dbus.addr")
    export DBUS_SESSION_BUS_ADDRESS="$addr"

    # --allow-root: tpm2-abrmd refuses to run as root otherwise. The default
    # bus name (com.intel.tss2.Tabrmd) is fine on a private bus.
    tpm2-abrmd --session --allow-root --tcti="$(_tt_swtpm_tcti)" \
        </dev/null >>"$TT_TMP/abrmd.log" 2>&1 &
    _TT_ABRMD_PID=$!
    _tt_disown "$_TT_ABRMD_PID"
    echo "$_TT_ABRMD_PID" >"$TT_TMP/abrmd.pid"
    deadline=$((SECONDS + TT_START_TIMEOUT))
    until _tt_probe tabrmd:bus_type=session 3; do
        if ! _tt_alive "$_TT_ABRMD_PID" || [ "$SECONDS" -ge "$deadline" ]; then
            _tt_msg "ERROR: tpm2-abrmd did not become ready; log:"
            tail -n 5 "$TT_TMP/abrmd.log" >&2 2>/dev/null || true
            abrmd_stop
            return 1
        fi
        sleep 0.05
    done
    export TPMTRUST_TCTI=tabrmd:bus_type=session
    export TPM2TOOLS_TCTI=tabrmd:bus_type=session
    _tt_msg "tpm2-abrmd ready: pid $_TT_ABRMD_PID, dbus pid $_TT_DBUS_PID ($(_tt_elapsed "$t0")s)"
}

abrmd_stop() {
    local pid
    [ -n "${TT_TMP:-}" ] || return 0
    pid=${_TT_ABRMD_PID:-$(_tt_read_pid "$TT_TMP/abrmd.pid")}
    _tt_kill_wait "$pid" "$(_tt_pat_abrmd)"
    pid=${_TT_DBUS_PID:-$(_tt_read_pid "$TT_TMP/dbus.pid")}
    _tt_kill_wait "$pid" "$(_tt_pat_dbus)"
    rm -f "$TT_TMP/abrmd.pid" "$TT_TMP/dbus.pid" "$TT_TMP/dbus.sock" "$TT_TMP/dbus.addr"
    unset _TT_ABRMD_PID _TT_DBUS_PID DBUS_SESSION_BUS_ADDRESS
    [ -n "${TT_SWTPM_PORT:-}" ] && _tt_export_swtpm_tcti
    return 0
}

# Number of transient objects in the TPM, through the exported TCTI.
# Note: through tpm2-abrmd this only sees the objects of the connection
# tpm2_getcap itself opens (abrmd virtualises handles per connection), so it
# is always 0 there; count leaks with the swtpm TCTI.
tt_transient_count() {
    local tcti=${TPM2TOOLS_TCTI:-${TPMTRUST_TCTI:-}} out
    [ -n "$tcti" ] || { _tt_msg "ERROR: tt_transient_count: no TCTI exported"; return 1; }
    if ! out=$(timeout -k 1 10 tpm2_getcap -T "$tcti" handles-transient 2>&1); then
        _tt_msg "ERROR: tpm2_getcap handles-transient failed: $out"
        return 1
    fi
    printf '%s\n' "$out" | grep -c '0x' || true
}

# Number of sessions (loaded or context-saved) in the TPM; the same caveat as
# tt_transient_count applies through tpm2-abrmd.
tt_session_count() {
    local tcti=${TPM2TOOLS_TCTI:-${TPMTRUST_TCTI:-}} out n=0 kind
    [ -n "$tcti" ] || { _tt_msg "ERROR: tt_session_count: no TCTI exported"; return 1; }
    for kind in handles-loaded-session handles-saved-session; do
        if ! out=$(timeout -k 1 10 tpm2_getcap -T "$tcti" "$kind" 2>&1); then
            _tt_msg "ERROR: tpm2_getcap $kind failed: $out"
            return 1
        fi
        n=$((n + $(printf '%s\n' "$out" | grep -c '0x' || true)))
    done
    echo "$n"
}

tt_cleanup() {
    local rc=$? pid
    [ -n "${TT_TMP:-}" ] || return "$rc"
    # Daemons this shell started.
    if [ -n "${_TT_ABRMD_PID:-}${_TT_DBUS_PID:-}" ]; then
        abrmd_stop
    fi
    if [ "${_TT_OWNER_PID:-}" = "$$" ]; then
        # Everything recorded in TT_TMP, whoever started it.
        _tt_kill_wait "$(_tt_read_pid "$TT_TMP/abrmd.pid")" "$(_tt_pat_abrmd)"
        _tt_kill_wait "$(_tt_read_pid "$TT_TMP/dbus.pid")" "$(_tt_pat_dbus)"
        pid=$(_tt_read_pid "$TT_TMP/swtpm.pid")
        _tt_kill_wait "$pid" "$(_tt_pat_swtpm)"
        [ "${TT_SWTPM_PID:-}" != "$pid" ] && _tt_kill_wait "${TT_SWTPM_PID:-}" "$(_tt_pat_swtpm)"
        rm -f "$TT_TMP/swtpm.pid" "$TT_TMP/abrmd.pid" "$TT_TMP/dbus.pid"
        if [ "${TT_KEEP:-0}" = 1 ]; then
            _tt_msg "TT_KEEP=1: keeping $TT_TMP"
        else
            rm -rf "$TT_TMP"
        fi
        unset _TT_OWNER_PID
    fi
    return "$rc"
}
