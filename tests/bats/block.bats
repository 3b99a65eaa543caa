#!/usr/bin/env bats
# Block-wise transfers (RFC 7959): our client and server with each other and
# with libcoap 4.3.1, for 0 bytes, 1 byte, exactly one block, a block and a
# byte, and several MB, compared by checksum.

load helpers

LC_CLIENT=coap-client-notls
LC_SERVER=coap-server-notls

setup() {
  require_tools
}

# The body of /large: numbered lines, cut at 5000 bytes.
large_body() {
  local i=0
  while :; do
    printf '%04u coapkit large resource, block-wise test line\n' "$i"
    i=$((i + 1))
    [ "$i" -lt 200 ] || break
  done | head -c 5000
}

sum() { sha256sum <"$1" | cut -d' ' -f1; }

# make_file NAME BYTES: random bytes.
make_file() {
  head -c "$2" /dev/urandom >"$BATS_TEST_TMPDIR/$1"
}

@test "GET /large (5000 bytes) arrives whole and byte-exact" {
  start_server -A 127.0.0.1
  large_body >"$BATS_TEST_TMPDIR/want"
  run client -B 10 -o "$BATS_TEST_TMPDIR/got" "$URI/large"
  [ "$status" -eq 0 ]
  [ "$(sum "$BATS_TEST_TMPDIR/got")" = "$(sum "$BATS_TEST_TMPDIR/want")" ]
}

@test "-b 16, -b 64, -b 1024: the same bytes in every block size" {
  start_server -A 127.0.0.1
  large_body >"$BATS_TEST_TMPDIR/want"
  for size in 16 64 1024; do
    run client -B 10 -b "$size" -o "$BATS_TEST_TMPDIR/got" "$URI/large"
    [ "$status" -eq 0 ]
    [ "$(sum "$BATS_TEST_TMPDIR/got")" = "$(sum "$BATS_TEST_TMPDIR/want")" ]
  done
}

@test "-b 2,64 starts at block 2: the body from byte 128 on" {
  start_server -A 127.0.0.1
  large_body | tail -c +129 >"$BATS_TEST_TMPDIR/want"
  run client -B 10 -b 2,64 -o "$BATS_TEST_TMPDIR/got" "$URI/large"
  [ "$status" -eq 0 ]
  [ "$(sum "$BATS_TEST_TMPDIR/got")" = "$(sum "$BATS_TEST_TMPDIR/want")" ]
}

@test "-b rejects sizes that are not a power of two in 16..1024" {
  for bad in 0 15 100 2048 x 1,x; do
    run client -b "$bad" coap://127.0.0.1/
    [ "$status" -eq 2 ]
    [[ "$output" == *coap-client:* ]]
  done
}

@test "PUT and GET back 0 B, 1 B, 1024 B, 1025 B, 5 MiB: byte-exact" {
  start_server -A 127.0.0.1
  for n in 0 1 1024 1025 5242880; do
    make_file "up$n" "$n"
    run client -B 60 -m put -f "$BATS_TEST_TMPDIR/up$n" "$URI/upload"
    [ "$status" -eq 0 ]
    run client -B 60 -o "$BATS_TEST_TMPDIR/down$n" "$URI/upload"
    [ "$status" -eq 0 ]
    [ "$(sum "$BATS_TEST_TMPDIR/down$n")" = "$(sum "$BATS_TEST_TMPDIR/up$n")" ]
  done
}

@test "a large body from stdin to stdout, byte-exact, small blocks" {
  start_server -A 127.0.0.1
  make_file up 300000
  run client -B 60 -b 64 -m post -f - "$URI/upload" <"$BATS_TEST_TMPDIR/up"
  [ "$status" -eq 0 ]
  client -B 60 -b 128 "$URI/upload" >"$BATS_TEST_TMPDIR/down"
  [ "$(sum "$BATS_TEST_TMPDIR/down")" = "$(sum "$BATS_TEST_TMPDIR/up")" ]
}

@test "no progress line when stderr is not a terminal" {
  start_server -A 127.0.0.1
  make_file up 100000
  client -B 60 -m put -f "$BATS_TEST_TMPDIR/up" "$URI/upload" \
    2>"$BATS_TEST_TMPDIR/err"
  [ ! -s "$BATS_TEST_TMPDIR/err" ]
}

@test "a progress line on a terminal (script(1))" {
  require_bin script
  start_server -A 127.0.0.1
  make_file up 200000
  run script -qec "$CLIENT_BIN -B 60 -m put -f $BATS_TEST_TMPDIR/up $URI/upload" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *"sent 200000 of 200000 bytes"* ]]
}

@test "--max-upload: a body over the limit gets 4.13 (exit 4)" {
  start_server -A 127.0.0.1 --max-upload 2000
  make_file up 5000
  run client -B 10 -v 6 -m put -f "$BATS_TEST_TMPDIR/up" "$URI/upload"
  [ "$status" -eq 4 ]
  [[ "$output" == *"4.13"* ]]
  make_file small 1500
  run client -B 10 -m put -f "$BATS_TEST_TMPDIR/small" "$URI/upload"
  [ "$status" -eq 0 ]
}

@test "a large /.well-known/core (plugtest set) arrives whole" {
  start_server -A 127.0.0.1 --plugtest
  run client -B 10 "$URI/.well-known/core"
  [ "$status" -eq 0 ]
  [[ "$output" == *'</link1>'* ]]
  [[ "$output" == *'</large>'* ]]
  [[ "$output" == *'</obs-non>'* ]]
}

# ---------------------------------------------------------------- libcoap

@test "libcoap client -> our server: Block1 PUT and Block2 GET, 0 B..3 MiB" {
  require_bin "$LC_CLIENT"
  start_server -A 127.0.0.1
  for n in 0 1 1024 3145728; do
    make_file "up$n" "$n"
    run "$LC_CLIENT" -B 60 -m put -f "$BATS_TEST_TMPDIR/up$n" "$URI/upload"
    [ "$status" -eq 0 ]
    # libcoap's client writes the body to -o as is (and nothing for none).
    : >"$BATS_TEST_TMPDIR/down$n"
    run "$LC_CLIENT" -B 60 -o "$BATS_TEST_TMPDIR/down$n" "$URI/upload"
    [ "$status" -eq 0 ]
    [ "$(sum "$BATS_TEST_TMPDIR/down$n")" = "$(sum "$BATS_TEST_TMPDIR/up$n")" ]
  done
}

@test "libcoap client -b 16 and -b 64 -> our server, both directions" {
  require_bin "$LC_CLIENT"
  start_server -A 127.0.0.1
  make_file up 20000
  for size in 16 64; do
    run "$LC_CLIENT" -B 60 -b "$size" -m put -f "$BATS_TEST_TMPDIR/up" "$URI/upload"
    [ "$status" -eq 0 ]
    run "$LC_CLIENT" -B 60 -b "$size" -o "$BATS_TEST_TMPDIR/down" "$URI/upload"
    [ "$status" -eq 0 ]
    [ "$(sum "$BATS_TEST_TMPDIR/down")" = "$(sum "$BATS_TEST_TMPDIR/up")" ]
  done
}

@test "our client -> libcoap server: Block1 PUT and Block2 GET of /example_data" {
  start_libcoap_server "$LC_SERVER"
  for n in 1 1024 1025 2097152; do
    make_file "up$n" "$n"
    run client -B 60 -m put -f "$BATS_TEST_TMPDIR/up$n" "$URI/example_data"
    [ "$status" -eq 0 ]
    run client -B 60 -o "$BATS_TEST_TMPDIR/down$n" "$URI/example_data"
    [ "$status" -eq 0 ]
    [ "$(sum "$BATS_TEST_TMPDIR/down$n")" = "$(sum "$BATS_TEST_TMPDIR/up$n")" ]
  done
  make_file up 50000
  run client -B 60 -b 32 -m put -f "$BATS_TEST_TMPDIR/up" "$URI/example_data"
  [ "$status" -eq 0 ]
  run client -B 60 -b 32 -o "$BATS_TEST_TMPDIR/down" "$URI/example_data"
  [ "$status" -eq 0 ]
  [ "$(sum "$BATS_TEST_TMPDIR/down")" = "$(sum "$BATS_TEST_TMPDIR/up")" ]
}

# ---------------------------------------------------------------- TCP

@test "over TCP: our client and libcoap's (BERT Block1) both ways, byte-exact" {
  require_bin "$LC_CLIENT"
  start_server -A 127.0.0.1 --ports-file "$BATS_TEST_TMPDIR/ports"
  local tcp="coap+tcp://127.0.0.1:$(awk '$1 == "tcp" {print $2}' "$BATS_TEST_TMPDIR/ports")"
  make_file up 1000000
  run client -B 60 -m put -f "$BATS_TEST_TMPDIR/up" "$tcp/upload"
  [ "$status" -eq 0 ]
  run client -B 60 -o "$BATS_TEST_TMPDIR/down" "$tcp/upload"
  [ "$status" -eq 0 ]
  [ "$(sum "$BATS_TEST_TMPDIR/down")" = "$(sum "$BATS_TEST_TMPDIR/up")" ]
  make_file up2 700000
  run "$LC_CLIENT" -B 60 -m put -f "$BATS_TEST_TMPDIR/up2" "$tcp/upload"
  [ "$status" -eq 0 ]
  : >"$BATS_TEST_TMPDIR/down2"
  run "$LC_CLIENT" -B 60 -o "$BATS_TEST_TMPDIR/down2" "$tcp/upload"
  [ "$status" -eq 0 ]
  [ "$(sum "$BATS_TEST_TMPDIR/down2")" = "$(sum "$BATS_TEST_TMPDIR/up2")" ]
}
