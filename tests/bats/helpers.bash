# helpers.bash -- shared set-up for coapkit's bats tests.
#
# Servers are started on free ports and stopped in teardown; every wait is
# bounded in count and time, so a broken build fails instead of hanging.
# CK_VALGRIND=1 runs our tools under valgrind (errors fail the test).

bats_require_minimum_version 1.5.0

: "${COAPKIT_BUILDDIR:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${COAPKIT_SRCDIR:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"

CLIENT_BIN="$COAPKIT_BUILDDIR/coap-client"
SERVER_BIN="$COAPKIT_BUILDDIR/coap-server"
FREE_PORT="$COAPKIT_SRCDIR/scripts/free-port"

SERVER_PID=""
SERVER_PORT=""
SERVER_LOG=""
SERVER_STOPPED=""
SERVER_OURS=""

# Our tools, under valgrind when asked.
CK_VALGRIND_CMD=(valgrind -q --error-exitcode=99 --leak-check=full
                 --errors-for-leak-kinds=definite,indirect)
_ck_wrap() {
  if [ "${CK_VALGRIND:-0}" = 1 ]; then
    "${CK_VALGRIND_CMD[@]}" "$@"
  else
    "$@"
  fi
}
# For `server_exec ARGS &` and the like: the background job *is* the tool
# (its $! can be stopped and signalled), not a shell waiting for it, which
# as a background job of a script would ignore SIGINT.
_ck_exec() {
  if [ "${CK_VALGRIND:-0}" = 1 ]; then
    exec "${CK_VALGRIND_CMD[@]}" "$@"
  fi
  exec "$@"
}
client() { _ck_wrap "$CLIENT_BIN" "$@"; }
# vg_secs N: N seconds, or ten times N under valgrind, where a certificate
# handshake alone takes seconds.  For timeouts that bound an exchange, never
# for ones a test asserts.
vg_secs() {
  if [ "${CK_VALGRIND:-0}" = 1 ]; then echo $(($1 * 10)); else echo "$1"; fi
}
server() { _ck_wrap "$SERVER_BIN" "$@"; }
server_exec() { _ck_exec "$SERVER_BIN" "$@"; }

# require_bin NAME...: skip the test unless every NAME is an executable.
require_bin() {
  local b
  for b in "$@"; do
    if [ "${b#/}" != "$b" ]; then
      [ -x "$b" ] || skip "$b is not built"
    else
      command -v "$b" >/dev/null 2>&1 || skip "$b is not installed"
    fi
  done
}

require_tools() {
  require_bin "$CLIENT_BIN" "$SERVER_BIN"
}

# has_ipv6: loopback ::1 is usable here.
has_ipv6() {
  [ -e /proc/net/if_inet6 ] && grep -q '00000000000000000000000000000001' /proc/net/if_inet6
}

# wait_answer URI: until a GET on URI gets any CoAP response (at most ~10 s).
wait_answer() {
  local uri="$1" i
  for i in $(seq 1 20); do
    "$CLIENT_BIN" -B 0.5 --quiet "$uri" >/dev/null 2>&1
    case $? in 0 | 4 | 5) return 0 ;; esac
    [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null && return 1
    sleep 0.1
  done
  return 1
}

# start_server ARGS...: our coap-server on a free port (-p 0 --port-file);
# ARGS usually include -A.  Sets SERVER_PID, SERVER_PORT, SERVER_LOG.
start_server() {
  local host="127.0.0.1" a prev="" i
  for a in "$@"; do
    if [ "$prev" = "-A" ]; then host="$a"; fi
    prev="$a"
  done
  case "$host" in *:*) host="[${host#[}"; host="${host%]}]" ;; esac
  SERVER_LOG="$BATS_TEST_TMPDIR/server.log"
  rm -f "$BATS_TEST_TMPDIR/port"
  server_exec -p 0 --port-file "$BATS_TEST_TMPDIR/port" "$@" 2>"$SERVER_LOG" 3>&- &
  SERVER_PID=$!
  for i in $(seq 1 100); do
    [ -s "$BATS_TEST_TMPDIR/port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ ! -s "$BATS_TEST_TMPDIR/port" ]; then
    echo "coap-server did not start:" >&2
    cat "$SERVER_LOG" >&2
    return 1
  fi
  SERVER_OURS=1
  SERVER_PORT=$(cat "$BATS_TEST_TMPDIR/port")
  URI="coap://$host:$SERVER_PORT"
  wait_answer "$URI/" || { echo "coap-server does not answer" >&2; cat "$SERVER_LOG" >&2; return 1; }
}

# start_libcoap_server BINARY ARGS...: libcoap's server on a random free
# port of 127.0.0.1 (checked with ss, retried if the bind loses a race).
# ARGS may contain @HOST@, replaced by the -A address given in LIBCOAP_HOST.
start_libcoap_server() {
  local bin="$1" attempt port host="${LIBCOAP_HOST:-127.0.0.1}"
  shift
  require_bin "$bin"
  SERVER_LOG="$BATS_TEST_TMPDIR/libcoap-server.log"
  for attempt in 1 2 3 4 5; do
    port=$("$FREE_PORT") || return 1
    "$bin" -A "$host" -p "$port" "$@" 2>"$SERVER_LOG" >/dev/null 3>&- &
    SERVER_PID=$!
    SERVER_OURS=""
    SERVER_PORT=$port
    case "$host" in *:*) URI="coap://[$host]:$port" ;; *) URI="coap://$host:$port" ;; esac
    if wait_answer "$URI/"; then
      return 0
    fi
    stop_server
  done
  echo "$bin did not start" >&2
  return 1
}

# stop_server: SIGTERM, then wait; returns the server's exit status.
stop_server() {
  local rc=0 i
  [ -n "$SERVER_PID" ] || return 0
  if [ -n "$SERVER_STOPPED" ]; then kill -CONT "$SERVER_PID" 2>/dev/null || true; fi
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  # Still there after 10 s: a hang, which the exit status will show.
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  SERVER_STOPPED=""
  if [ "$rc" -ne 0 ] && [ -n "$SERVER_LOG" ] && [ -f "$SERVER_LOG" ]; then
    echo "server exit status $rc; its log ends:" >&2
    tail -20 "$SERVER_LOG" >&2
  fi
  return "$rc"
}

# freeze_server: the socket stays bound but nothing answers (SIGSTOP).
freeze_server() {
  kill -STOP "$SERVER_PID"
  SERVER_STOPPED=1
}

# Our server must stop with 0 (a sanitizer report or a leak would not);
# libcoap's exit status is its own business.
teardown() {
  if [ -n "$SERVER_OURS" ]; then
    stop_server
  else
    stop_server || true
  fi
}

# A port nothing listens on (nothing bound right now).
closed_port() {
  "$FREE_PORT"
}

# udp_write FD HEX: the bytes HEX spells as one datagram on the connected
# UDP socket FD.  Not printf straight to the socket: bash flushes its
# output at every newline byte, which would cut the datagram at each 0x0a.
udp_write() {
  local esc
  esc=$(sed 's/../\\x&/g' <<<"$2")
  printf "$esc" | dd bs=65536 count=1 iflag=fullblock 2>/dev/null >&"$1"
}

# coap_raw PORT HEX [HOST]: sends one datagram (the bytes HEX spells) from a
# connected UDP socket (bash's /dev/udp) and prints the first datagram that
# comes back, as lower-case hex; nothing if none comes within 3 s.
coap_raw() {
  local port="$1" hex="$2" host="${3:-127.0.0.1}" fd
  exec {fd}<>"/dev/udp/$host/$port" || return 1
  udp_write "$fd" "$hex"
  timeout 3 dd bs=65536 count=1 <&"$fd" 2>/dev/null | od -An -v -tx1 | tr -d ' \n'
  exec {fd}>&-
}

# coap_send_raw PORT HEX [HOST]: sends one datagram and does not wait.
coap_send_raw() {
  local port="$1" hex="$2" host="${3:-127.0.0.1}" fd
  exec {fd}<>"/dev/udp/$host/$port" || return 1
  udp_write "$fd" "$hex"
  exec {fd}>&-
}

# sanitized: the tools were built with AddressSanitizer, whose quarantine
# keeps freed memory resident, so RSS bounds mean nothing.
sanitized() {
  grep -q __asan_init "$SERVER_BIN" 2>/dev/null
}
