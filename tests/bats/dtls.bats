#!/usr/bin/env bats
# dtls.bats -- coaps:// (DTLS 1.2 over OpenSSL): our client and server with
# pre-shared keys and certificates, the key and certificate files, failures
# and their exit status (7), interop both ways with libcoap 4.3.1 built with
# OpenSSL and with GnuTLS, and a server that a thousand failed handshakes
# leave as it was.

load helpers

setup_file() {
  export CERTS="$BATS_FILE_TMPDIR/certs"
  "$COAPKIT_SRCDIR/scripts/mkcerts" "$CERTS"
}

setup() {
  require_tools
}

# start_dtls_server ARGS...: our server on 127.0.0.1 with free UDP and DTLS
# ports; sets DPORT and SURI (coaps://127.0.0.1:DPORT).
start_dtls_server() {
  local i
  rm -f "$BATS_TEST_TMPDIR/dport"
  start_server -A 127.0.0.1 --dtls-port-file "$BATS_TEST_TMPDIR/dport" "$@" || return 1
  for i in $(seq 1 50); do
    [ -s "$BATS_TEST_TMPDIR/dport" ] && break
    sleep 0.1
  done
  DPORT=$(cat "$BATS_TEST_TMPDIR/dport")
  SURI="coaps://127.0.0.1:$DPORT"
}

# start_libcoap_dtls BINARY ARGS...: libcoap's server listens for DTLS on
# its port + 1.
start_libcoap_dtls() {
  start_libcoap_server "$@" || return 1
  DPORT=$((SERVER_PORT + 1))
  SURI="coaps://127.0.0.1:$DPORT"
}

secret_file() { # NAME CONTENT
  printf '%s\n' "$2" > "$BATS_TEST_TMPDIR/$1"
  chmod 600 "$BATS_TEST_TMPDIR/$1"
  echo "$BATS_TEST_TMPDIR/$1"
}

# ---------------------------------------------------------------- PSK

@test "dtls psk: our client and server, text key" {
  start_dtls_server -k s3cret
  run client -B 5 -u me -k s3cret "$SURI/"
  [ "$status" -eq 0 ]
  [ -n "$output" ]
}

@test "dtls psk: hex key (0x...) equals the text key" {
  start_dtls_server -k 0x733363726574
  run client -B 5 -u me -k s3cret "$SURI/"
  [ "$status" -eq 0 ]
}

@test "dtls psk: --key-file keeps the key out of ps" {
  local f
  f=$(secret_file key s3cret)
  start_dtls_server -k s3cret
  run client -B 5 -u me --key-file "$f" "$SURI/"
  [ "$status" -eq 0 ]
}

@test "dtls psk: a key file readable by others is refused (exit 2)" {
  local f
  f=$(secret_file key s3cret)
  chmod 644 "$f"
  run client -B 2 -u me --key-file "$f" coaps://127.0.0.1:9/
  [ "$status" -eq 2 ]
  [[ "$output" == *"$f"* ]]
  [[ "$output" == *"group or others"* ]]
}

@test "dtls psk: a missing key file is named (exit 2)" {
  run client -B 2 -u me --key-file "$BATS_TEST_TMPDIR/nope" coaps://127.0.0.1:9/
  [ "$status" -eq 2 ]
  [[ "$output" == *"nope"* ]]
}

@test "dtls psk: the client picks identity and key by the server's hint (-h FILE)" {
  local f
  f=$(secret_file hints "$(printf 'other,x,y\nroom-7,alice,k-alice')")
  start_dtls_server -h room-7 --psk-file "$(secret_file ids 'alice,k-alice')"
  run client -B 5 -h "$f" "$SURI/"
  [ "$status" -eq 0 ]
}

@test "dtls psk: per-identity keys (--psk-file); an unknown identity exits 7" {
  start_dtls_server --psk-file "$(secret_file ids "$(printf 'alice,k-a\nbob,k-b')")"
  run client -B 5 -u bob -k k-b "$SURI/"
  [ "$status" -eq 0 ]
  run client -B 5 -u mallory -k k-b "$SURI/"
  [ "$status" -eq 7 ]
  [[ "$output" == *"handshake failed"*"unknown psk identity"* ]]
}

@test "dtls psk: the wrong key exits 7 and says why" {
  start_dtls_server -k right
  run client -B 15 -u me -k wrong "$SURI/"
  [ "$status" -eq 7 ]
  [[ "$output" == *"DTLS handshake failed"* ]]
}

@test "dtls psk: per-SNI keys (--sni-psk-file) by the URI's host" {
  start_dtls_server -k default-key --sni-psk-file "$(secret_file sni 'localhost,h-local,k-local')"
  run client -B 5 -u me -k k-local "coaps://localhost:$DPORT/"
  [ "$status" -eq 0 ]
  run client -B 5 -u me -k default-key "$SURI/"
  [ "$status" -eq 0 ]
}

# ---------------------------------------------------------------- PKI

@test "dtls pki: trusted CA (-R), the host name matches the certificate" {
  start_dtls_server -c "$CERTS/server.pem" -j "$CERTS/server.key"
  run client -B 5 -R "$CERTS/ca.pem" "$SURI/"
  [ "$status" -eq 0 ]
  run client -B 5 -R "$CERTS/ca.pem" "coaps://localhost:$DPORT/"
  [ "$status" -eq 0 ]
}

@test "dtls pki: DER certificate and key" {
  start_dtls_server -c "$CERTS/server.der" -j "$CERTS/server-key.der"
  run client -B 5 -R "$CERTS/ca.pem" "$SURI/"
  [ "$status" -eq 0 ]
}

@test "dtls pki: mutual authentication with a common CA (-C)" {
  start_dtls_server -c "$CERTS/server.pem" -j "$CERTS/server.key" -C "$CERTS/ca.pem"
  run client -B 5 -c "$CERTS/client.pem" -j "$CERTS/client.key" -C "$CERTS/ca.pem" "$SURI/"
  [ "$status" -eq 0 ]
  run client -B 5 -R "$CERTS/ca.pem" "$SURI/"
  [ "$status" -eq 7 ]
}

@test "dtls pki: an untrusted certificate exits 7" {
  start_dtls_server -c "$CERTS/server.pem" -j "$CERTS/server.key"
  run client -B 5 -R "$CERTS/other-ca.pem" "$SURI/"
  [ "$status" -eq 7 ]
  [[ "$output" == *"certificate verify failed"* ]]
}

@test "dtls pki: an expired certificate exits 7" {
  start_dtls_server -c "$CERTS/expired.pem" -j "$CERTS/expired.key"
  run client -B 5 -R "$CERTS/ca.pem" "$SURI/"
  [ "$status" -eq 7 ]
  [[ "$output" == *"expired"* ]]
}

@test "dtls pki: the wrong host name exits 7" {
  start_dtls_server -c "$CERTS/wronghost.pem" -j "$CERTS/wronghost.key"
  run client -B 5 -R "$CERTS/ca.pem" "$SURI/"
  [ "$status" -eq 7 ]
  [[ "$output" == *"hostname mismatch"* || "$output" == *"IP address mismatch"* ]]
}

@test "dtls pki: -n skips peer verification" {
  start_dtls_server -c "$CERTS/wronghost.pem" -j "$CERTS/wronghost.key"
  run client -B 5 -n -R "$CERTS/other-ca.pem" "$SURI/"
  [ "$status" -eq 0 ]
}

@test "dtls pki: unusable certificate or key files exit 2, naming the file" {
  printf 'not a certificate\n' > "$BATS_TEST_TMPDIR/bad.pem"
  run server -p 0 -c "$BATS_TEST_TMPDIR/bad.pem" -j "$CERTS/server.key"
  [ "$status" -eq 2 ]
  [[ "$output" == *"bad.pem"* ]]
  cp "$CERTS/server.key" "$BATS_TEST_TMPDIR/open.key"
  chmod 644 "$BATS_TEST_TMPDIR/open.key"
  run server -p 0 -c "$CERTS/server.pem" -j "$BATS_TEST_TMPDIR/open.key"
  [ "$status" -eq 2 ]
  [[ "$output" == *"open.key"* ]]
  run client -R "$BATS_TEST_TMPDIR/missing.pem" coaps://127.0.0.1:9/
  [ "$status" -eq 2 ]
  [[ "$output" == *"missing.pem"* ]]
}

# ---------------------------------------------------------------- interop

@test "interop dtls psk: libcoap clients (OpenSSL, GnuTLS) -> our server, hint" {
  local c
  start_dtls_server -k s3cret -h our-hint
  for c in coap-client-openssl coap-client-gnutls; do
    require_bin "$c"
    run timeout 20 "$c" -B 5 -u me -k s3cret "$SURI/"
    [ "$status" -eq 0 ]
    [ -n "$output" ]
  done
  # The hint picks the key from libcoap's -h file (hint,identity,key).
  printf 'our-hint,me,s3cret\n' > "$BATS_TEST_TMPDIR/h"
  run timeout 20 coap-client-openssl -B 5 -h "$BATS_TEST_TMPDIR/h" -u me -k wrong "$SURI/"
  [ "$status" -eq 0 ]
  [ -n "$output" ]
}

@test "interop dtls psk: our client -> libcoap servers (OpenSSL, GnuTLS), hint" {
  local s f
  f=$(secret_file hints 'their-hint,me,s3cret')
  for s in coap-server-openssl coap-server-gnutls; do
    start_libcoap_dtls "$s" -k s3cret -h their-hint
    run client -B 10 -u me -k s3cret "$SURI/"
    [ "$status" -eq 0 ]
    [[ "$output" == *libcoap* ]]
    run client -B 10 -h "$f" "$SURI/"
    [ "$status" -eq 0 ]
    stop_server || true
  done
}

@test "interop dtls pki: libcoap clients -> our server, and back" {
  local c s
  start_dtls_server -c "$CERTS/server.pem" -j "$CERTS/server.key" -C "$CERTS/ca.pem"
  for c in coap-client-openssl coap-client-gnutls; do
    require_bin "$c"
    run timeout 20 "$c" -B 5 -c "$CERTS/client.pem" -j "$CERTS/client.key" \
      -C "$CERTS/ca.pem" "$SURI/"
    [ "$status" -eq 0 ]
    [ -n "$output" ]
  done
  stop_server
  for s in coap-server-openssl coap-server-gnutls; do
    start_libcoap_dtls "$s" -c "$CERTS/server.pem" -j "$CERTS/server.key" -C "$CERTS/ca.pem"
    run client -B 10 -c "$CERTS/client.pem" -j "$CERTS/client.key" -C "$CERTS/ca.pem" "$SURI/"
    [ "$status" -eq 0 ]
    [[ "$output" == *libcoap* ]]
    stop_server || true
  done
}

# ---------------------------------------------------------------- defences

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

@test "dtls defence: a thousand failed handshakes leave sessions and memory as they were" {
  local i before after admin="$BATS_TEST_TMPDIR/admin.sock" n0 n1
  # No default key: an unknown identity is refused at once (an alert), so
  # every handshake gets as far as a HELLO session and then fails.
  start_dtls_server --psk-file "$(secret_file ids 'alice,k-a')" \
    ${admin:+--admin "$admin"}
  # Warm-up: the allocator's first pages are not a leak.  The clients run
  # outside valgrind even under CK_VALGRIND: the server is what is checked.
  for i in $(seq 1 50); do "$CLIENT_BIN" -B 2 --quiet -u nobody -k x "$SURI/" || true; done
  before=$(rss_kb "$SERVER_PID")
  n0=$("$COAPKIT_BUILDDIR/coap-session-dump" --server "$admin" --json | jq length)
  for i in $(seq 1 1000); do
    "$CLIENT_BIN" -B 2 --quiet -u nobody -k x "$SURI/" || true
  done
  after=$(rss_kb "$SERVER_PID")
  echo "VmRSS before $before kB, after $after kB"
  n1=$("$COAPKIT_BUILDDIR/coap-session-dump" --server "$admin" --json | jq length)
  echo "sessions before $n0, after $n1"
  [ "$n1" -eq "$n0" ]
  # ASan keeps freed memory in quarantine, valgrind its own: RSS says
  # nothing there.
  if ! sanitized && [ "${CK_VALGRIND:-0}" != 1 ]; then
    [ "$after" -le $((before + 1024)) ]
  fi
  # The server still serves a good client.
  run client -B 5 -u alice -k k-a "$SURI/"
  [ "$status" -eq 0 ]
}
