#!/usr/bin/env bats
# tlsmod.bats -- (D)TLS as the module coapkit-tls.so, loaded on first use
# (issue #8: a coap:// run must not pay for loading OpenSSL): what the
# dynamic loader maps for coap:// and for coaps://, and the one-line error
# (exit 7) when the module cannot be loaded.

load helpers

setup() {
  require_tools
  grep -q '^pkglib_LTLIBRARIES = lib/coapkit-tls.la' "$COAPKIT_BUILDDIR/Makefile" ||
    skip "(D)TLS is built in (configure --disable-tls-module)"
  MODULE="$COAPKIT_BUILDDIR/lib/.libs/coapkit-tls.so"
}

# ld_files CMD...: runs CMD with the loader's file log (every shared
# object mapped, dlopen()ed ones included) in $BATS_TEST_TMPDIR/ld.PID;
# `run ld_files ...` then ld_log reads it into LDLOG.
ld_files() {
  rm -f "$BATS_TEST_TMPDIR"/ld.*
  LD_DEBUG=files LD_DEBUG_OUTPUT="$BATS_TEST_TMPDIR/ld" "$@"
}
ld_log() {
  LDLOG=$(cat "$BATS_TEST_TMPDIR"/ld.* 2>/dev/null)
}

# A PSK server; DPORT and TPORT are its DTLS and TLS ports.
start_psk_server() {
  local i
  start_server -A 127.0.0.1 --ports-file "$BATS_TEST_TMPDIR/ports" \
    --dtls-port-file "$BATS_TEST_TMPDIR/dport" -k s3cret || return 1
  for i in $(seq 1 50); do
    grep -q '^tls ' "$BATS_TEST_TMPDIR/ports" 2>/dev/null &&
      [ -s "$BATS_TEST_TMPDIR/dport" ] && break
    sleep 0.1
  done
  DPORT=$(cat "$BATS_TEST_TMPDIR/dport")
  TPORT=$(awk '$1 == "tls" { print $2 }' "$BATS_TEST_TMPDIR/ports")
  [ -n "$DPORT" ] && [ -n "$TPORT" ]
}

teardown() {
  stop_server || true
}

@test "tlsmod: the tools do not link libssl or libcrypto" {
  run ldd "$CLIENT_BIN" "$SERVER_BIN"
  [ "$status" -eq 0 ]
  [[ "$output" == *libc.so* ]]
  [[ "$output" != *libssl* ]]
  [[ "$output" != *libcrypto* ]]
}

@test "tlsmod: a coap:// GET maps neither libssl nor libcrypto" {
  start_server -A 127.0.0.1
  run ld_files "$CLIENT_BIN" -B 5 "$URI/"
  [ "$status" -eq 0 ]
  ld_log
  [[ "$LDLOG" == *libc.so* ]] # the log is there and lists what was mapped
  [[ "$LDLOG" != *libssl* ]]
  [[ "$LDLOG" != *libcrypto* ]]
  [[ "$LDLOG" != *coapkit-tls* ]]
}

@test "tlsmod: a coaps:// GET loads the module, and OpenSSL with it" {
  start_psk_server
  run ld_files "$CLIENT_BIN" -B 5 -u me -k s3cret "coaps://127.0.0.1:$DPORT/time"
  [ "$status" -eq 0 ]
  [[ "$output" == 20* ]]
  ld_log
  [[ "$LDLOG" == *coapkit-tls.so* ]]
  [[ "$LDLOG" == *libssl.so* ]]
  [[ "$LDLOG" == *libcrypto.so* ]]
}

@test "tlsmod: coaps+tcp:// works through the module too" {
  start_psk_server
  run "$CLIENT_BIN" -B 5 -u me -k s3cret "coaps+tcp://127.0.0.1:$TPORT/time"
  [ "$status" -eq 0 ]
  [[ "$output" == 20* ]]
}

@test "tlsmod: a missing module: one line naming it, exit 7" {
  start_psk_server
  COAPKIT_TLS_MODULE=/nonexistent/coapkit-tls.so \
    run "$CLIENT_BIN" -B 5 -u me -k s3cret "coaps://127.0.0.1:$DPORT/time"
  [ "$status" -eq 7 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" == "coap-client: cannot load the TLS module /nonexistent/coapkit-tls.so: "*"No such file"* ]]
}

@test "tlsmod: a missing module does not matter to coap://" {
  start_server -A 127.0.0.1
  COAPKIT_TLS_MODULE=/nonexistent/coapkit-tls.so run "$CLIENT_BIN" -B 5 "$URI/time"
  [ "$status" -eq 0 ]
  [[ "$output" == 20* ]]
}

@test "tlsmod: a shared object that is not the module is refused, exit 7" {
  local other
  other=$(ldd "$CLIENT_BIN" | awk '/libc\.so/ {print $3}')
  [ -n "$other" ]
  COAPKIT_TLS_MODULE="$other" run "$CLIENT_BIN" -B 2 -u me -k k coaps://127.0.0.1:9/
  [ "$status" -eq 7 ]
  [[ "$output" == *"cannot load the TLS module $other: not a coapkit TLS module"* ]]
}

@test "tlsmod: the server with keys and no module: one line, exit 7" {
  COAPKIT_TLS_MODULE=/nonexistent/m.so run "$SERVER_BIN" -A 127.0.0.1 -p 0 -k s3cret
  [ "$status" -eq 7 ]
  [[ "$output" == *"cannot load the TLS module /nonexistent/m.so"* ]]
}

@test "tlsmod: a certificate option without the module: exit 7, not 'not a certificate'" {
  "$COAPKIT_SRCDIR/scripts/mkcerts" "$BATS_TEST_TMPDIR/certs" >/dev/null
  COAPKIT_TLS_MODULE=/nonexistent/m.so \
    run "$CLIENT_BIN" -B 2 -R "$BATS_TEST_TMPDIR/certs/ca.pem" coaps://127.0.0.1:9/
  [ "$status" -eq 7 ]
  [[ "$output" == *"cannot load the TLS module"* ]]
}

@test "tlsmod: the module exports only its entry point and needs nothing from the program" {
  require_bin nm
  run nm -D --defined-only "$MODULE"
  [ "$status" -eq 0 ]
  [[ "$output" == *" T coap_tls_module_init"* ]]
  [ "$(grep -c ' T ' <<<"$output")" -eq 1 ]
  run nm -D --undefined-only "$MODULE"
  [ "$status" -eq 0 ]
  [[ "$output" != *coap_* ]]
  [[ "$output" == *SSL_* ]]
}
