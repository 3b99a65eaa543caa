#!/usr/bin/env bats
# halfopen.bats -- TCP and TLS peers that connect and never speak, or speak
# one byte a second without ever finishing a frame: coap-server cuts each
# off after --stream-timeout, and never holds more than --max-connections
# at once (a connection past the cap is closed at once).  Bounds are
# generous ("closed within N s"); nothing asserts a precise timing.

load helpers

TIMEOUT=$(vg_secs 2)   # --stream-timeout (a valgrinded TLS handshake takes longer than 2 s)
CAP=3       # --max-connections
PEERS=6     # connections opened: twice the cap

setup_file() {
  export CERTS="$BATS_FILE_TMPDIR/certs"
  "$COAPKIT_SRCDIR/scripts/mkcerts" "$CERTS" >/dev/null 2>&1
}

setup() {
  require_tools
}

# start_halfopen_server [tls]: sets PORT to the TCP or TLS port.
start_halfopen_server() {
  local kind="${1:-tcp}" extra=()
  [ "$kind" = tls ] && extra=(-c "$CERTS/server.pem" -j "$CERTS/server.key" -C "$CERTS/ca.pem")
  start_server -A 127.0.0.1 --ports-file "$BATS_TEST_TMPDIR/ports" \
    --stream-timeout "$TIMEOUT" --max-connections "$CAP" "${extra[@]}"
  PORT=$(awk -v k="$kind" '$1 == k { print $2 }' "$BATS_TEST_TMPDIR/ports")
  [ -n "$PORT" ]
}

# The established connections on PORT that the server holds (accepted, so
# its own fds).  A connection the kernel has set up but the server has not
# accepted yet is in no process's hands: a slow server (valgrind) may show
# such ones past the cap, and it closes each at once when it accepts it.
server_conns() {
  ss -Htnp state established "( sport = :$PORT )" | grep -c "pid=$SERVER_PID," || true
}

# open_silent N: N connections that never send; their fds in FDS.
open_silent() {
  local i fd
  FDS=()
  for i in $(seq 1 "$1"); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    FDS+=("$fd")
  done
}

# all_closed_within SECS: every fd in FDS reads end-of-file (or an error)
# within SECS s in all; timeout's 124 means one is still open.
all_closed_within() {
  local fd deadline=$((SECONDS + $1)) left
  for fd in "${FDS[@]}"; do
    left=$((deadline - SECONDS))
    [ "$left" -ge 1 ] || left=1
    timeout "$left" cat <&"$fd" >/dev/null 2>&1
    [ $? -ne 124 ] || { echo "fd $fd still open after $1 s" >&2; return 1; }
  done
}

close_fds() {
  local fd
  for fd in "${FDS[@]}"; do exec {fd}>&-; done
  FDS=()
}

# cap_held SECS: samples the server's connection count for SECS s; fails
# when it ever exceeds CAP.
cap_held() {
  local i n
  for i in $(seq 1 $(($1 * 5))); do
    n=$(server_conns)
    [ "$n" -le "$CAP" ] || { echo "server holds $n connections (cap $CAP)" >&2; return 1; }
    sleep 0.2
  done
}

silent_peers() {
  start_halfopen_server "$1"
  open_silent "$PEERS"
  cap_held 1
  all_closed_within $((TIMEOUT + 15))
  close_fds
  [ "$(server_conns)" -eq 0 ] || sleep 1
  [ "$(server_conns)" -eq 0 ]
  kill -0 "$SERVER_PID"
}

# trickle FD HEX...: writes the given bytes one a second, then 0xff bytes,
# for at most 30 s in all.  The prefix starts a frame (or a TLS record)
# that is far longer than what ever arrives.
trickle() {
  local fd="$1" i b
  shift
  for i in $(seq 1 30); do
    b="${1:-ff}"
    [ $# -gt 0 ] && shift
    printf "\\x$b" >&"$fd" 2>/dev/null || return 0
    sleep 1
  done
}

slow_peers() {
  local kind="$1" pids=() fd prefix
  # TCP: Len 13 with extension 0xff (a 268-byte body).  TLS: a handshake
  # record of 512 bytes starting a ClientHello.
  prefix="d0 ff"
  [ "$kind" = tls ] && prefix="16 03 01 02 00 01 00 01 fc 03 03"
  start_halfopen_server "$kind"
  open_silent "$CAP"
  for fd in "${FDS[@]}"; do
    # shellcheck disable=SC2086
    trickle "$fd" $prefix 3>&- &
    pids+=("$!")
  done
  cap_held 2
  all_closed_within $((TIMEOUT + 25))
  close_fds
  for fd in "${pids[@]}"; do kill "$fd" 2>/dev/null || true; wait "$fd" 2>/dev/null || true; done
  kill -0 "$SERVER_PID"
}

@test "halfopen tcp: silent peers are cut off after the timeout, never more than the cap" {
  silent_peers tcp
  run client -B 5 "coap+tcp://127.0.0.1:$PORT/"
  [ "$status" -eq 0 ]
}

@test "halfopen tcp: a peer sending one byte a second is cut off" {
  slow_peers tcp
  run client -B 5 "coap+tcp://127.0.0.1:$PORT/"
  [ "$status" -eq 0 ]
}

@test "halfopen tls: silent peers (no ClientHello) are cut off, never more than the cap" {
  silent_peers tls
  run client -B 10 -c "$CERTS/client.pem" -j "$CERTS/client.key" -C "$CERTS/ca.pem" \
    "coaps+tcp://127.0.0.1:$PORT/"
  [ "$status" -eq 0 ]
}

@test "halfopen tls: a peer trickling a handshake one byte a second is cut off" {
  slow_peers tls
}
