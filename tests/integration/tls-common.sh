# SPDX-License-Identifier: BSD-2-Clause
# Sourced by the TLS consumer tests (gnutls.sh, openssl-curl.sh): result lines,
# a time budget for every command, and an openssl s_server on loopback that
# requires a client certificate from the test CA. Needs W (a work directory)
# and msg () from the caller.
show() { tail -n "${2:-4}" "$1" | sed 's/^/#   | /' || true; }
pass() { echo "ok - $*"; passes=$((passes + 1)); }
fail() { echo "not ok - $*"; fails=$((fails + 1)); }
note() { echo "#   $*"; }
# Every command is bounded (20 s), and all of them together by DEADLINE: the
# script ends within a minute even if every consumer hung.
DEADLINE=$((SECONDS + 50))
tmo() {
    local left=$((DEADLINE - SECONDS))
    [ "$left" -gt 0 ] || { msg "time budget exhausted: $1 not run"; return 124; }
    timeout -k 2 $((left < 20 ? left : 20)) "$@"
}

SERVER_PID='' PORT=''
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=''
    fi
}
trap stop_server EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server LOG: openssl s_server on a free loopback port (PORT), requiring
# a client certificate issued by the test CA; waits (bounded) until it listens.
# A random port; s_server exits at once if it is taken, and another is tried.
start_server() {
    local log=$1 try i
    for ((try = 0; try < 10; try++)); do
        PORT=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        # timeout: the server cannot outlive the test even if the trap is skipped
        timeout -k 1 50 openssl s_server -accept "127.0.0.1:$PORT" -cert "$W/srv.pem" -key "$W/srv.key" \
            -Verify 1 -CAfile "$W/ca.pem" -www </dev/null >"$log" 2>&1 &
        SERVER_PID=$!
        for ((i = 0; i < 100; i++)); do
            grep -q '^ACCEPT' "$log" 2>/dev/null && return 0
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.05
        done
        stop_server
    done
    msg "s_server did not start: $(tail -n 3 "$log" 2>/dev/null)"
    return 1
}

# server_saw LOG CN: s_server verified a client certificate with subject CN=CN.
server_saw() {
    grep -A1 -x "depth=0 CN = $2" "$1" | grep -x 'verify return:1' >/dev/null
}
