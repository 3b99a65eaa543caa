#!/usr/bin/env bats
# CoAP over TCP, TLS and WebSockets (RFC 8323): our client and server with
# each other and with libcoap 4.3.1 (coap+tcp; coaps+tcp with the openssl
# build; Debian's 4.3.1 has no WebSockets, so coap+ws is ours on both
# ends), and the server's defences against garbage, silence and stalls.
# Every wait is bounded (timeout, or a counted loop).

load helpers

LC_CLIENT=coap-client-notls
LC_SERVER=coap-server-notls

setup() {
  require_tools
}

# start_stream_server ARGS...: start_server with --ports-file; sets
# TCP_PORT, WS_PORT, TLS_PORT from it (empty when not listening).
start_stream_server() {
  start_server -A 127.0.0.1 --ports-file "$BATS_TEST_TMPDIR/ports" "$@"
  TCP_PORT=$(awk '$1 == "tcp" { print $2 }' "$BATS_TEST_TMPDIR/ports")
  WS_PORT=$(awk '$1 == "ws" { print $2 }' "$BATS_TEST_TMPDIR/ports")
  TLS_PORT=$(awk '$1 == "tls" { print $2 }' "$BATS_TEST_TMPDIR/ports")
}

# closes_within SECS: reads fd 7 (bats keeps 3) until the peer closes; fails when it is
# still open after SECS.  The bytes read are left in $BATS_TEST_TMPDIR/got.
closes_within() {
  timeout "$1" cat <&7 >"$BATS_TEST_TMPDIR/got"
}

free_tcp_port() {
  "$FREE_PORT"
}

# ---------------------------------------------------------------- ours

@test "server: --ports-file lists udp, tcp and ws; --port-file stays one number" {
  start_stream_server --ws-port 0
  [ "$(wc -l <"$BATS_TEST_TMPDIR/port")" -eq 1 ]
  grep -Eq '^[0-9]+$' "$BATS_TEST_TMPDIR/port"
  grep -q "^udp $SERVER_PORT\$" "$BATS_TEST_TMPDIR/ports"
  [ -n "$TCP_PORT" ] && [ -n "$WS_PORT" ]
  [ -z "$TLS_PORT" ]
}

@test "our client -> our server over coap+tcp, -r and coap+ws" {
  start_stream_server --ws-port 0
  run client -B 5 "coap+tcp://127.0.0.1:$TCP_PORT/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"coapkit coap-server"* ]]
  run client -B 5 -r "coap://127.0.0.1:$TCP_PORT/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"coapkit coap-server"* ]]
  run client -B 5 -m put -e "over websockets" "coap+ws://127.0.0.1:$WS_PORT/echo"
  [ "$status" -eq 0 ]
  [ "$output" = "over websockets" ]
  # A body larger than the UDP MTU and the default Max-Message-Size.
  head -c 1500 /dev/zero | tr '\0' 'x' >"$BATS_TEST_TMPDIR/body"
  run client -B 5 -m put -f "$BATS_TEST_TMPDIR/body" \
    "coap+tcp://127.0.0.1:$TCP_PORT/echo"
  [ "$status" -eq 0 ]
  [ "${#output}" -eq 1500 ]
}

@test "coap+ws: the upgrade's Host is the URI's host and port (RFC 6455 4.1)" {
  start_stream_server --ws-port 0 -v 7
  run client -B 5 "coap+ws://127.0.0.1:$WS_PORT/"
  [ "$status" -eq 0 ]
  grep -q "WebSocket upgrade for Host: 127.0.0.1:$WS_PORT\$" "$SERVER_LOG"
  # The name only where it resolves to the address the server listens on
  # first (elsewhere localhost may be ::1 first).
  [ "$(getent ahosts localhost | awk 'NR == 1 { print $1 }')" = 127.0.0.1 ] ||
    skip "localhost does not resolve to 127.0.0.1 first here"
  run client -B 5 "coap+ws://localhost:$WS_PORT/"
  [ "$status" -eq 0 ]
  grep -q "WebSocket upgrade for Host: localhost:$WS_PORT\$" "$SERVER_LOG"
}

@test "--no-tcp: no TCP listener; a refused connection exits 3" {
  start_stream_server --no-tcp
  [ -z "$TCP_PORT" ]
  run client -B 3 "coap+tcp://127.0.0.1:$SERVER_PORT/"
  [ "$status" -eq 3 ]
}

@test "client: bad -X values are usage errors" {
  run client -X 10 "coap+tcp://127.0.0.1:1/"
  [ "$status" -eq 2 ]
  run client -X abc "coap+tcp://127.0.0.1:1/"
  [ "$status" -eq 2 ]
}

# ---------------------------------------------------------------- libcoap

@test "libcoap client -> our server over coap+tcp: GET, PUT, a 1500-byte body" {
  require_bin "$LC_CLIENT"
  start_stream_server
  run timeout 10 "$LC_CLIENT" -B 5 "coap+tcp://127.0.0.1:$TCP_PORT/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"coapkit coap-server"* ]]
  run timeout 10 "$LC_CLIENT" -B 5 -m put -e hello "coap+tcp://127.0.0.1:$TCP_PORT/echo"
  [ "$status" -eq 0 ]
  [[ "$output" == *hello* ]]
  body=$(head -c 1500 /dev/zero | tr '\0' 'y')
  run timeout 10 "$LC_CLIENT" -B 5 -m put -e "$body" "coap+tcp://127.0.0.1:$TCP_PORT/echo"
  [ "$status" -eq 0 ]
  [[ "$output" == *"$body"* ]]
}

@test "our client -> libcoap server over coap+tcp and -r" {
  require_bin "$LC_SERVER"
  LIBCOAP_HOST=127.0.0.1 start_libcoap_server "$LC_SERVER"
  run client -B 5 "coap+tcp://127.0.0.1:$SERVER_PORT/"
  [ "$status" -eq 0 ]
  [[ "$output" == *libcoap* ]]
  run client -B 5 -r "coap://127.0.0.1:$SERVER_PORT/time"
  [ "$status" -eq 0 ]
  [ -n "$output" ]
  # libcoap's CSM announces its 8388864-byte limit.
  run client -B 5 -v 7 "coap+tcp://127.0.0.1:$SERVER_PORT/"
  [[ "$output" == *"CSM: Max-Message-Size 8388864"* ]]
}

@test "client -X: the server sees our Max-Message-Size in the CSM" {
  start_stream_server -v 7
  run client -B 5 -X 4000 "coap+tcp://127.0.0.1:$TCP_PORT/"
  [ "$status" -eq 0 ]
  grep -q "CSM: Max-Message-Size 4000" "$SERVER_LOG"
}

# ---------------------------------------------------------------- defences

@test "server: garbage gets an Abort and the connection closes at once" {
  start_stream_server --stream-timeout 30
  exec 7<>"/dev/tcp/127.0.0.1/$TCP_PORT"
  printf 'GET / HTTP/1.0\r\n\r\n' >&7
  closes_within 5
  exec 7>&-
  # Our CSM (7.01 = e1), then an Abort (7.05 = e5) with its reason.
  od -An -tx1 "$BATS_TEST_TMPDIR/got" | tr -d '\n' | grep -q ' e1 .* e5 '
  grep -q 'malformed' "$BATS_TEST_TMPDIR/got"
}

@test "server: a silent peer and a peer stalled mid-frame are dropped; others are served" {
  start_stream_server --stream-timeout 1
  exec 7<>"/dev/tcp/127.0.0.1/$TCP_PORT"
  exec 8<>"/dev/tcp/127.0.0.1/$TCP_PORT"
  # A CSM, then the first byte of a frame that never completes.
  printf '\x00\xe1\xd0' >&8
  # Served meanwhile.
  run client -B 5 "coap+tcp://127.0.0.1:$TCP_PORT/"
  [ "$status" -eq 0 ]
  closes_within 10
  timeout 10 cat <&8 >/dev/null
  exec 7>&- 8>&-
  kill -0 "$SERVER_PID"
  run client -B 5 "coap+tcp://127.0.0.1:$TCP_PORT/"
  [ "$status" -eq 0 ]
}

@test "server: a quiet peer that sent its CSM is kept" {
  start_stream_server --stream-timeout 1
  exec 7<>"/dev/tcp/127.0.0.1/$TCP_PORT"
  printf '\x00\xe1' >&7
  run timeout 3 cat <&7
  exec 7>&-
  # timeout's 124: still open after 3 s, three times the stream timeout.
  [ "$status" -eq 124 ]
}

@test "server: past --max-connections a connection is closed at once" {
  start_stream_server --max-connections 1 --stream-timeout 30
  exec 8<>"/dev/tcp/127.0.0.1/$TCP_PORT"
  printf '\x00\xe1' >&8
  sleep 0.3
  exec 7<>"/dev/tcp/127.0.0.1/$TCP_PORT"
  closes_within 5
  exec 7>&- 8>&-
  # The first is gone now: room again.
  for i in $(seq 1 20); do
    client -B 2 "coap+tcp://127.0.0.1:$TCP_PORT/" >/dev/null 2>&1 && break
    sleep 0.2
  done
  run client -B 5 "coap+tcp://127.0.0.1:$TCP_PORT/"
  [ "$status" -eq 0 ]
}

@test "server: a frame over -X gets an Abort" {
  start_stream_server -X 100
  exec 7<>"/dev/tcp/127.0.0.1/$TCP_PORT"
  # CSM, then a PUT announcing a 500-byte body (Len 14: 269 + 0x00e7).
  printf '\x00\xe1\xe0\x00\xe7\x03' >&7
  closes_within 5
  exec 7>&-
  grep -q 'Max-Message-Size' "$BATS_TEST_TMPDIR/got"
}

@test "server: a WebSocket upgrade on the wrong path gets 404 and a close" {
  start_stream_server --ws-port 0
  exec 7<>"/dev/tcp/127.0.0.1/$WS_PORT"
  printf 'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: coap\r\nSec-WebSocket-Version: 13\r\n\r\n' >&7
  closes_within 5
  exec 7>&-
  head -1 "$BATS_TEST_TMPDIR/got" | grep -q '^HTTP/1.1 404'
}

@test "server: the WebSocket upgrade answers 101 with the coap subprotocol" {
  start_stream_server --ws-port 0
  exec 7<>"/dev/tcp/127.0.0.1/$WS_PORT"
  printf 'GET /.well-known/coap HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: coap\r\nSec-WebSocket-Version: 13\r\n\r\n' >&7
  timeout 2 cat <&7 >"$BATS_TEST_TMPDIR/got" || true
  exec 7>&-
  grep -q '^HTTP/1.1 101' "$BATS_TEST_TMPDIR/got"
  grep -q 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=' "$BATS_TEST_TMPDIR/got"
  grep -q 'Sec-WebSocket-Protocol: coap' "$BATS_TEST_TMPDIR/got"
}

# ---------------------------------------------------------------- TLS

# make_certs: the test PKI of scripts/mkcerts in $CERTS.
make_certs() {
  CERTS="$BATS_TEST_TMPDIR/certs"
  sh "$COAPKIT_SRCDIR/scripts/mkcerts" "$CERTS" >/dev/null
}

# require_tls: this build speaks coaps+tcp (a regression fails, never skips).
require_tls() {
  run client -B 1 "coaps+tcp://127.0.0.1:1/"
  [[ "$output" != *"not supported"* ]]
}

@test "coaps+tcp: libcoap openssl client -> our server, and our client -> libcoap openssl server" {
  require_bin coap-client-openssl coap-server-openssl
  require_tls
  make_certs
  start_stream_server -c "$CERTS/server.pem" -j "$CERTS/server.key" -C "$CERTS/ca.pem"
  [ -n "$TLS_PORT" ]
  run timeout 10 coap-client-openssl -B 5 -c "$CERTS/client.pem" -j "$CERTS/client.key" \
    -C "$CERTS/ca.pem" "coaps+tcp://127.0.0.1:$TLS_PORT/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"coapkit coap-server"* ]]
  run client -B 5 -c "$CERTS/client.pem" -j "$CERTS/client.key" -C "$CERTS/ca.pem" \
    "coaps+tcp://127.0.0.1:$TLS_PORT/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"coapkit coap-server"* ]]
  stop_server
  LIBCOAP_HOST=127.0.0.1 start_libcoap_server coap-server-openssl \
    -c "$CERTS/server.pem" -j "$CERTS/server.key" -C "$CERTS/ca.pem"
  run client -B 5 -c "$CERTS/client.pem" -j "$CERTS/client.key" -C "$CERTS/ca.pem" \
    "coaps+tcp://127.0.0.1:$((SERVER_PORT + 1))/"
  [ "$status" -eq 0 ]
  [[ "$output" == *libcoap* ]]
}

@test "coaps+ws: our client -> our server over secure WebSockets, with certificates" {
  require_tls
  make_certs
  start_stream_server --wss-port 0 -c "$CERTS/server.pem" -j "$CERTS/server.key" \
    -C "$CERTS/ca.pem"
  WSS_PORT=$(awk '$1 == "wss" { print $2 }' "$BATS_TEST_TMPDIR/ports")
  [ -n "$WSS_PORT" ]
  run client -B 5 -c "$CERTS/client.pem" -j "$CERTS/client.key" -C "$CERTS/ca.pem" \
    -m put -e "over secure websockets" "coaps+ws://127.0.0.1:$WSS_PORT/echo"
  [ "$status" -eq 0 ]
  [ "$output" = "over secure websockets" ]
  # An untrusted server certificate over WebSockets is a TLS failure too.
  run client -B 5 -C "$CERTS/other-ca.pem" "coaps+ws://127.0.0.1:$WSS_PORT/"
  [ "$status" -eq 7 ]
}
