#!/usr/bin/env bats
# coap-session-dump against our coap-server and libcoap's coap-server-notls;
# coap-server --admin listing, idle reaping and the session event log;
# coap-client --session.  Loopback only; every wait is bounded.

load helpers
load session-helpers

# --------------------------------------------------------------- usage

@test "session-dump: usage errors exit 2" {
  require_dump
  run -2 dump
  [[ "$output" == *"missing URI"* ]]
  run -2 dump --frobnicate coap://127.0.0.1/
  run -2 dump coap://127.0.0.1/ coap://127.0.0.1/
  run -2 dump --watch 1 coap://127.0.0.1/
  run -2 dump -u someone coap://127.0.0.1/
  run -2 dump --cert "$BATS_TEST_TMPDIR/missing.pem" coaps://127.0.0.1/
  run -2 dump --server "$BATS_TEST_TMPDIR/x" -k sekrit
  run -2 dump -B 0 coap://127.0.0.1/
  run -2 dump --server "$BATS_TEST_TMPDIR/x" coap://127.0.0.1/
  run -2 dump --server "$BATS_TEST_TMPDIR/x" --show-key
  run -2 dump 'coap://[::1'
  run -0 dump --help
  [[ "$output" == *"--server PATH"* ]]
}

@test "session-dump: --help and the man page name the same long options" {
  require_dump
  run -0 dump --help
  for o in -u --identity -k --key --key-file -h -c --cert -j --cert-key \
    -C --ca -R --trusted-ca -n --no-verify; do
    grep -q -- "$o" <<<"$output" || { echo "missing $o"; false; }
  done
  help=$(grep -oE -- '--[a-z][a-z-]+' <<<"$output" | sort -u)
  page=$(sed 's/\\-/-/g' "$COAPKIT_SRCDIR/man/coap-session-dump.1" | grep -oE -- '--[a-z][a-z-]+' | sort -u)
  [ "$help" = "$page" ]
}

# --------------------------------------------------------------- our server

@test "session-dump: a session to our server is established, every field shown" {
  require_dump
  start_server -A 127.0.0.1
  run -0 dump "$URI/"
  [[ "$output" == *"established      yes"* ]]
  grep -qx "type             client" <<<"$output"
  grep -qx "state            established" <<<"$output"
  grep -qx "protocol         UDP" <<<"$output"
  grep -qx "remote           127.0.0.1:$SERVER_PORT" <<<"$output"
  grep -q "^local            127\.0\.0\.1:[1-9][0-9]*$" <<<"$output"
  grep -qx "multicast        none" <<<"$output"
  grep -q "^ifindex          [1-9][0-9]* (lo)$" <<<"$output"
  grep -qx "mtu              1152" <<<"$output"
  grep -qx "max pdu size     1152" <<<"$output"
  grep -qx "refcount         1" <<<"$output"
  grep -qx "psk key          none" <<<"$output"
  for f in "tls library" "tls version" "tls cipher" "peer subject" "peer issuer" \
      "peer sha256" "verification"; do
    grep -q "^$f  *none$" <<<"$output"
  done
  grep -qx "sent             1" <<<"$output"
  grep -qx "received         1" <<<"$output"
  grep -q "^created          20[0-9-]*T[0-9:.]*Z$" <<<"$output"
}

@test "session-dump: --json is one object jq can read" {
  require_dump
  require_bin jq
  start_server -A 127.0.0.1
  run -0 dump --json "$URI/"
  [ "$(jq -r '.established' <<<"$output")" = true ]
  [ "$(jq -r '.type + " " + .state + " " + .protocol' <<<"$output")" = "client established UDP" ]
  [ "$(jq -r '.remote' <<<"$output")" = "127.0.0.1:$SERVER_PORT" ]
  [ "$(jq -r '.local | test("^127\\.0\\.0\\.1:[1-9]")' <<<"$output")" = true ]
  [ "$(jq -r '.mtu, .max_pdu_size, .refcount, .mcast_hops' <<<"$output" | tr '\n' ' ')" = "1152 1152 1 1 " ]
  [ "$(jq -r '.multicast, .tls.library, .tls.cipher, .tls.peer_certificate.sha256, .tls.verify_result, .psk.key' <<<"$output" | sort -u)" = null ]
  [ "$(jq -r '.counters.sent, .counters.received' <<<"$output" | tr '\n' ' ')" = "1 1 " ]
  [ "$(jq -r '.ping_answered' <<<"$output")" = true ]
  [ "$(jq -r '.counters.last_activity_ms >= .counters.created_ms' <<<"$output")" = true ]
}

@test "session-dump: --request also sends a GET of the URI" {
  require_dump
  require_bin jq
  start_server -A 127.0.0.1
  run -0 dump --request --json "$URI/time"
  [ "$(jq -r '.response_code' <<<"$output")" = "2.05" ]
  [ "$(jq -r '.counters.sent' <<<"$output")" = 2 ]
  # A 4.04 still proves the session works.
  run -0 dump --request --json "$URI/no/such/thing"
  [ "$(jq -r '.response_code' <<<"$output")" = "4.04" ]
  run -0 dump --request "$URI/time"
  grep -qx "response         2.05" <<<"$output"
}

@test "session-dump: -p sends from the given local port" {
  require_dump
  require_bin jq
  start_server -A 127.0.0.1
  local lp
  lp=$("$FREE_PORT")
  run -0 dump --json -a 127.0.0.1 -p "$lp" "$URI/"
  [ "$(jq -r '.local' <<<"$output")" = "127.0.0.1:$lp" ]
}

@test "session-dump: the PSK key is masked unless --show-key" {
  require_dump
  require_bin jq
  start_server -A 127.0.0.1
  run -0 dump --json -u client-one -k sekrit "$URI/"
  [ "$(jq -r '.psk.identity' <<<"$output")" = client-one ]
  [ "$(jq -r '.psk.key' <<<"$output")" = "********" ]
  [ "$(jq -r '.psk.key_masked' <<<"$output")" = true ]
  [ "$(jq -r '.psk.key_length' <<<"$output")" = 6 ]
  [[ "$output" != *sekrit* ]]
  run -0 dump -u client-one -k sekrit "$URI/"
  [[ "$output" != *sekrit* ]]
  grep -q "^psk key          \*\*\*\*\*\*\*\* (6 bytes" <<<"$output"
  run -0 dump --json --show-key -u client-one -k sekrit "$URI/"
  [ "$(jq -r '.psk.key' <<<"$output")" = sekrit ]
  [ "$(jq -r '.psk.key_masked' <<<"$output")" = false ]
  run -0 dump --show-key -u client-one -k 0x00ff "$URI/"
  grep -qx "psk key          0x00ff (2 bytes)" <<<"$output"
}

# --------------------------------------------------------------- security
# and streams

# start_tls_ports ARGS...: our server with free DTLS, TCP and TLS ports;
# sets DPORT, TPORT and SPORT.
start_tls_ports() {
  local i
  rm -f "$BATS_TEST_TMPDIR/dport" "$BATS_TEST_TMPDIR/ports"
  start_server -A 127.0.0.1 --dtls-port-file "$BATS_TEST_TMPDIR/dport" \
    --ports-file "$BATS_TEST_TMPDIR/ports" "$@" || return 1
  for i in $(seq 1 50); do
    [ -s "$BATS_TEST_TMPDIR/dport" ] && [ -s "$BATS_TEST_TMPDIR/ports" ] && break
    sleep 0.1
  done
  DPORT=$(cat "$BATS_TEST_TMPDIR/dport")
  TPORT=$(awk '$1 == "tcp" { print $2 }' "$BATS_TEST_TMPDIR/ports")
  SPORT=$(awk '$1 == "tls" { print $2 }' "$BATS_TEST_TMPDIR/ports")
}

@test "session-dump: DTLS with certificates shows the peer certificate and its verification" {
  require_dump
  require_bin jq
  certs="$BATS_TEST_TMPDIR/certs"
  "$COAPKIT_SRCDIR/scripts/mkcerts" "$certs" >/dev/null 2>&1
  start_tls_ports -c "$certs/server.pem" -j "$certs/server.key" -C "$certs/ca.pem"
  run -0 dump -c "$certs/client.pem" -j "$certs/client.key" -C "$certs/ca.pem" \
    "coaps://localhost:$DPORT/"
  grep -qx "state            established" <<<"$output"
  grep -qx "protocol         DTLS" <<<"$output"
  grep -qx "peer subject     CN=localhost" <<<"$output"
  grep -qx "peer issuer      CN=coapkit test CA" <<<"$output"
  grep -qx "verification     ok" <<<"$output"
  fp=$(openssl x509 -in "$certs/server.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
  grep -qx "peer sha256      $fp" <<<"$output"
  run -0 dump --json -c "$certs/client.pem" -j "$certs/client.key" -C "$certs/ca.pem" \
    "coaps+tcp://localhost:$SPORT/"
  [ "$(jq -r '.protocol + " " + .state' <<<"$output")" = "TLS established" ]
  [ "$(jq -r '.tls.peer_certificate.sha256' <<<"$output")" = "$fp" ]
  [ "$(jq -r '.tls.verify_result' <<<"$output")" = ok ]
  # Another CA: not established, exit 1, the reason in the verification.
  run -1 dump -R "$certs/other-ca.pem" "coaps://localhost:$DPORT/"
  grep -qx "established      no" <<<"$output"
  grep -q "^verification     handshake failed: certificate verify failed" <<<"$output"
}

@test "session-dump: DTLS PSK with a key file" {
  require_dump
  start_tls_ports -k s3cret
  printf 's3cret\n' >"$BATS_TEST_TMPDIR/key"
  chmod 600 "$BATS_TEST_TMPDIR/key"
  run -0 dump -u me --key-file "$BATS_TEST_TMPDIR/key" "coaps://127.0.0.1:$DPORT/"
  grep -qx "protocol         DTLS" <<<"$output"
  grep -qx "psk identity     me" <<<"$output"
  [[ "$output" != *s3cret* ]]
}

@test "session-dump: TCP is established once the CSM exchange is done" {
  require_dump
  start_tls_ports -k s3cret
  run -0 dump --request "coap+tcp://127.0.0.1:$TPORT/"
  grep -qx "established      yes" <<<"$output"
  grep -qx "state            established" <<<"$output"
  grep -qx "protocol         TCP" <<<"$output"
  grep -qx "remote           127.0.0.1:$TPORT" <<<"$output"
  port=$(closed_port)
  run -1 dump -B 2 "coap+tcp://127.0.0.1:$port/"
}

# --------------------------------------------------------------- failures

@test "session-dump: exit 1 when nothing listens (ICMP), quickly" {
  require_dump
  local port start
  port=$(closed_port)
  start=$SECONDS
  run -1 dump "coap://127.0.0.1:$port/"
  [ $((SECONDS - start)) -lt 5 ]
  [[ "$output" == *"unreachable"* ]]
  [[ "$output" == *"established      no"* ]]
}

@test "session-dump: exit 1 when the server does not answer in time" {
  require_dump
  require_bin jq
  start_server -A 127.0.0.1
  freeze_server
  run -1 --separate-stderr dump -B 1 --json "$URI/"
  [ "$(jq -r '.established, .ping_answered' <<<"$output" | tr '\n' ' ')" = "false false " ]
  [[ "$stderr" == *"no answer to a CoAP ping within 1 s"* ]]
}

# --------------------------------------------------------------- libcoap

@test "session-dump: against libcoap's coap-server-notls" {
  require_dump
  require_bin jq coap-server-notls
  start_libcoap_server coap-server-notls
  run -0 dump --json --request "$URI/time"
  [ "$(jq -r '.established' <<<"$output")" = true ]
  [ "$(jq -r '.remote' <<<"$output")" = "127.0.0.1:$SERVER_PORT" ]
  [ "$(jq -r '.response_code' <<<"$output")" = "2.05" ]
  [ "$(jq -r '.counters.received' <<<"$output")" = 2 ]
}

# --------------------------------------------------------------- --admin

@test "server --admin: socket mode 0600, lists the sessions clients opened" {
  require_dump
  require_bin jq
  local sock="$BATS_TEST_TMPDIR/admin.sock" p1 p2
  start_server -A 127.0.0.1 --admin "$sock"
  [ -S "$sock" ]
  [ "$(stat -c %a "$sock")" = 600 ]
  p1=$("$FREE_PORT")
  p2=$("$FREE_PORT")
  while [ "$p2" = "$p1" ]; do p2=$("$FREE_PORT"); done
  run -0 client -a 127.0.0.1 -p "$p1" "$URI/time"
  run -0 client -a 127.0.0.1 -p "$p2" "$URI/time"
  run -0 dump --server "$sock"
  [[ "${lines[0]}" == ID*TYPE*STATE*PROTO*LOCAL*REMOTE* ]]
  grep -q " 127\.0\.0\.1:$p1 " <<<"$output"
  grep -q " 127\.0\.0\.1:$p2 " <<<"$output"
  grep -q "server *established *UDP" <<<"$output"
  run -0 dump --server "$sock" --json
  [ "$(jq -r "map(select(.remote == \"127.0.0.1:$p1\" or .remote == \"127.0.0.1:$p2\")) | length" <<<"$output")" = 2 ]
  [ "$(jq -r "map(select(.remote == \"127.0.0.1:$p1\"))[0] | .type + \" \" + (.counters.received|tostring) + \" \" + (.refcount|tostring)" <<<"$output")" = "server 1 0" ]
  # The server never sends a key through the socket.
  [ "$(jq -r 'map(.psk.key) | unique | .[]' <<<"$output")" = null ]
}

@test "server --admin: --idle-timeout reaps the sessions from the list" {
  require_dump
  require_bin jq
  local sock="$BATS_TEST_TMPDIR/admin.sock" i n=1
  start_server -A 127.0.0.1 --admin "$sock" --idle-timeout 1
  run -0 client "$URI/time"
  run -0 dump --server "$sock" --json
  [ "$(jq length <<<"$output")" -ge 1 ]
  for i in $(seq 1 40); do
    n=$(dump --server "$sock" --json | jq length)
    [ "$n" = 0 ] && break
    sleep 0.1
  done
  [ "$n" = 0 ]
}

@test "server --admin: --max-sessions evicts the longest idle session" {
  require_dump
  require_bin jq
  local sock="$BATS_TEST_TMPDIR/admin.sock" p1 p2
  start_server -A 127.0.0.1 --admin "$sock" --max-sessions 1
  p1=$("$FREE_PORT")
  p2=$("$FREE_PORT")
  while [ "$p2" = "$p1" ]; do p2=$("$FREE_PORT"); done
  run -0 client -a 127.0.0.1 -p "$p1" "$URI/time"
  run -0 client -a 127.0.0.1 -p "$p2" "$URI/time"
  run -0 dump --server "$sock" --json
  [ "$(jq -r 'length' <<<"$output")" = 1 ]
  [ "$(jq -r '.[0].remote' <<<"$output")" = "127.0.0.1:$p2" ]
}

@test "server --admin: --watch refreshes; a missing socket exits 1" {
  require_dump
  local sock="$BATS_TEST_TMPDIR/admin.sock"
  start_server -A 127.0.0.1 --admin "$sock"
  run timeout 2 "$DUMP_BIN" --server "$sock" --watch 0.3
  [ "$(grep -c "^-- $sock " <<<"$output")" -ge 2 ]
  [ "$(grep -c "^ID " <<<"$output")" -ge 2 ]
  run -1 dump --server "$BATS_TEST_TMPDIR/nothing.sock"
  [[ "$output" == *"cannot connect"* ]]
  stop_server
  [ ! -e "$sock" ]
}

@test "server --admin: a regular file at the path is refused" {
  require_dump
  local f="$BATS_TEST_TMPDIR/not-a-socket"
  echo keep >"$f"
  run "$SERVER_BIN" -A 127.0.0.1 -p 0 --admin "$f"
  [ "$status" -ne 0 ]
  [ "$(cat "$f")" = keep ]
}

# --------------------------------------------------------------- logs

@test "server -v 6 logs each session's creation and end through the renderer" {
  require_dump
  local sock="$BATS_TEST_TMPDIR/admin.sock" lp i
  start_server -A 127.0.0.1 -v 6 --idle-timeout 1
  lp=$("$FREE_PORT")
  run -0 client -a 127.0.0.1 -p "$lp" "$URI/time"
  for i in $(seq 1 40); do
    grep -q "session-end #.* 127\.0\.0\.1:$lp " "$SERVER_LOG" && break
    sleep 0.1
  done
  grep -q "session-new #[0-9]* server UDP 127\.0\.0\.1:$SERVER_PORT <-> 127\.0\.0\.1:$lp established ref 0 psk-identity none hint none tls none" "$SERVER_LOG"
  grep -q "session-end #.* 127\.0\.0\.1:$lp " "$SERVER_LOG"
}

@test "server --log-json prints one JSON object per session event" {
  require_dump
  require_bin jq
  local lp i
  start_server -A 127.0.0.1 --log-json --idle-timeout 1
  lp=$("$FREE_PORT")
  run -0 client -a 127.0.0.1 -p "$lp" "$URI/time"
  for i in $(seq 1 40); do
    grep '^{' "$SERVER_LOG" | jq -s -e "map(select(.event == \"session-end\" and .session.remote == \"127.0.0.1:$lp\")) | length == 1" >/dev/null && break
    sleep 0.1
  done
  grep '^{' "$SERVER_LOG" | jq -s -e "map(select(.event == \"session-new\" and .session.remote == \"127.0.0.1:$lp\" and .session.type == \"server\" and .session.tls.library == null)) | length == 1" >/dev/null
  grep '^{' "$SERVER_LOG" | jq -s -e "map(select(.event == \"session-end\" and .session.remote == \"127.0.0.1:$lp\")) | length == 1" >/dev/null
  # Every event line is JSON.
  grep '^{' "$SERVER_LOG" | jq -e -s 'length >= 2' >/dev/null
}

@test "client --session prints the session summary on stderr" {
  require_dump
  start_server -A 127.0.0.1
  run -0 --separate-stderr client --session "$URI/time"
  [ -n "$output" ]
  [[ "$stderr" == *"remote           127.0.0.1:$SERVER_PORT"* ]]
  [[ "$stderr" == *"received         1"* ]]
  [[ "$output" != *"remote "* ]]
}
