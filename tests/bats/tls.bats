#!/usr/bin/env bats
# tls.bats -- coaps+tcp:// (TLS 1.2/1.3 over OpenSSL, RFC 8323 framing from
# tcp.c): our client against libcoap 4.3.1's servers built with OpenSSL and
# GnuTLS, with certificates and with a PSK, and the certificate failures.
# libcoap's servers listen for TLS on their port + 1.

load helpers

setup_file() {
  export CERTS="$BATS_FILE_TMPDIR/certs"
  "$COAPKIT_SRCDIR/scripts/mkcerts" "$CERTS"
}

setup() {
  require_tools
}

start_libcoap_tls() {
  start_libcoap_server "$@" || return 1
  TURI="coaps+tcp://127.0.0.1:$((SERVER_PORT + 1))"
}

@test "interop tls pki: our client -> libcoap servers (OpenSSL, GnuTLS)" {
  local s
  for s in coap-server-openssl coap-server-gnutls; do
    start_libcoap_tls "$s" -c "$CERTS/server.pem" -j "$CERTS/server.key" -C "$CERTS/ca.pem"
    run client -B 10 -c "$CERTS/client.pem" -j "$CERTS/client.key" -C "$CERTS/ca.pem" "$TURI/"
    [ "$status" -eq 0 ]
    [[ "$output" == *libcoap* ]]
    stop_server || true
  done
}

@test "interop tls psk: our client -> libcoap server, identity hint" {
  printf 'their-hint,me,s3cret\n' > "$BATS_TEST_TMPDIR/h"
  chmod 600 "$BATS_TEST_TMPDIR/h"
  start_libcoap_tls coap-server-openssl -k s3cret -h their-hint
  run client -B 10 -u me -k s3cret "$TURI/"
  [ "$status" -eq 0 ]
  [[ "$output" == *libcoap* ]]
}

@test "tls pki: untrusted and wrong-host certificates exit 7" {
  start_libcoap_tls coap-server-openssl -c "$CERTS/wronghost.pem" -j "$CERTS/wronghost.key"
  run client -B 10 -R "$CERTS/ca.pem" "$TURI/"
  [ "$status" -eq 7 ]
  [[ "$output" == *"mismatch"* ]]
  run client -B 10 -R "$CERTS/other-ca.pem" "$TURI/"
  [ "$status" -eq 7 ]
  [[ "$output" == *"certificate verify failed"* ]]
  run client -B 10 -n "$TURI/"
  [ "$status" -eq 0 ]
}

@test "interop tls pki: libcoap clients (OpenSSL, GnuTLS) -> our server" {
  local c i
  local tport
  start_server -A 127.0.0.1 --ports-file "$BATS_TEST_TMPDIR/ports" \
    -c "$CERTS/server.pem" -j "$CERTS/server.key" -C "$CERTS/ca.pem"
  for i in $(seq 1 50); do
    grep -q '^tls ' "$BATS_TEST_TMPDIR/ports" 2>/dev/null && break
    sleep 0.1
  done
  tport=$(awk '$1 == "tls" { print $2 }' "$BATS_TEST_TMPDIR/ports")
  [ -n "$tport" ]
  for c in coap-client-openssl coap-client-gnutls; do
    require_bin "$c"
    run timeout 20 "$c" -B 5 -c "$CERTS/client.pem" -j "$CERTS/client.key" \
      -C "$CERTS/ca.pem" "coaps+tcp://127.0.0.1:$tport/"
    [ "$status" -eq 0 ]
    [ -n "$output" ]
  done
}

@test "tls psk: a server with a certificate too cannot stand in for a wrong key" {
  local tport
  start_server -A 127.0.0.1 --ports-file "$BATS_TEST_TMPDIR/ports" -k right-key \
    -c "$CERTS/server.pem" -j "$CERTS/server.key"
  tport=$(awk '$1 == "tls" { print $2 }' "$BATS_TEST_TMPDIR/ports")
  [ -n "$tport" ]
  run client -B 5 -u alice -k wrong-key "coaps+tcp://127.0.0.1:$tport/"
  [ "$status" -eq 7 ]
  run client -B 5 -u alice -k right-key "coaps+tcp://127.0.0.1:$tport/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"coapkit coap-server"* ]]
}
