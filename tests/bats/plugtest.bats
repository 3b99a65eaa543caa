#!/usr/bin/env bats
# coap-server's test resources and --plugtest (the ETSI CoAP plugtest
# resource set), No-Response (RFC 7967), ETag / If-Match / If-None-Match
# (RFC 7252 5.10), and a separate response.

load helpers

setup() {
  require_tools
  require_bin jq
  start_server -A 127.0.0.1 --plugtest
}

# j ARGS...: our client's --json answer in $output.
j() { run --separate-stderr client -B 10 --json "$@"; }
code() { jq -r .code <<<"$output"; }
opt() { jq -r --arg n "$1" '[.options[] | select(.name == $n) | .value | tostring] | join("/")' <<<"$output"; }

@test "/test: GET 2.05, POST 2.01 with Location-Path, PUT 2.04, DELETE 2.02" {
  j "$URI/test"
  [ "$(code)" = 2.05 ]
  j -m post -e x "$URI/test"
  [ "$(code)" = 2.01 ]
  [ "$(opt Location-Path)" = "location1/location2/location3" ]
  j -m put -e x "$URI/test"
  [ "$(code)" = 2.04 ]
  j -m delete "$URI/test"
  [ "$(code)" = 2.02 ]
}

@test "/seg1/seg2/seg3 and /query" {
  j "$URI/seg1/seg2/seg3"
  [ "$(code)" = 2.05 ]
  run client -B 10 "$URI/query?first=1&second=2"
  [ "$status" -eq 0 ]
  [ "$output" = "query: first=1&second=2" ]
}

@test "/location-query: 2.01 with two Location-Query options" {
  j -m post -e x "$URI/location-query"
  [ "$(code)" = 2.01 ]
  [ "$(opt Location-Query)" = "first=1/second=2" ]
}

@test "/multi-format: text or XML by Accept, 4.06 otherwise" {
  j -A 0 "$URI/multi-format"
  [ "$(code)" = 2.05 ]
  [ "$(opt Content-Format)" = 0 ]
  j -A 41 "$URI/multi-format"
  [ "$(code)" = 2.05 ]
  [ "$(opt Content-Format)" = 41 ]
  [[ "$(jq -r .payload <<<"$output")" == "<value>"* ]]
  j -A 50 "$URI/multi-format"
  [ "$(code)" = 4.06 ]
}

@test "/validate: ETag revalidation 2.03, If-Match, If-None-Match" {
  j "$URI/validate"
  [ "$(code)" = 2.05 ]
  local etag
  etag=$(jq -r '.options[] | select(.name == "ETag") | .value' <<<"$output")
  [ -n "$etag" ]
  j -O "etag,0x$etag" "$URI/validate"
  [ "$(code)" = 2.03 ]
  [ "$(jq -r '.payload // ""' <<<"$output")" = "" ]
  j -m put -e new -O "if-match,0xdeadbeef" "$URI/validate"
  [ "$(code)" = 4.12 ]
  j -m put -e new -O "if-match,0x$etag" "$URI/validate"
  [ "$(code)" = 2.04 ]
  j -O "etag,0x$etag" "$URI/validate"
  [ "$(code)" = 2.05 ]
  [ "$(jq -r .payload <<<"$output")" = new ]
}

@test "/create1: PUT with If-None-Match creates once, then 4.12" {
  j -m put -e one -O "if-none-match," "$URI/create1"
  [ "$(code)" = 2.01 ]
  j -m put -e two -O "if-none-match," "$URI/create1"
  [ "$(code)" = 4.12 ]
  j -m delete "$URI/create1"
  [ "$(code)" = 2.02 ]
}

@test "/large-update and /large-create take block-wise bodies" {
  head -c 20000 /dev/urandom >"$BATS_TEST_TMPDIR/up"
  run client -B 30 -m put -f "$BATS_TEST_TMPDIR/up" "$URI/large-update"
  [ "$status" -eq 0 ]
  client -B 30 -o "$BATS_TEST_TMPDIR/down" "$URI/large-update"
  cmp "$BATS_TEST_TMPDIR/up" "$BATS_TEST_TMPDIR/down"
  j -m post -f "$BATS_TEST_TMPDIR/up" "$URI/large-create"
  [ "$(code)" = 2.01 ]
  [[ "$(opt Location-Path)" == large-create/* ]]
}

@test "/obs (CON) and /obs-non (NON) notify" {
  run --separate-stderr client -B 20 -s 7 --json "$URI/obs-non"
  [ "$status" -eq 0 ]
  [ "$(grep -c '"NON"' <<<"$output")" -ge 1 ]
  [ "$(grep -c . <<<"$output")" -ge 2 ]
}

@test "/.well-known/core filtered by rt" {
  run client -B 10 "$URI/.well-known/core?rt=Type1"
  [ "$status" -eq 0 ]
  [[ "$output" == *'</link1>'* ]]
  [[ "$output" == *'</link3>'* ]]
  [[ "$output" != *'</link2>'* ]]
}

@test "/separate: an empty ACK, then the response" {
  run client -B 10 -v 7 "$URI/separate?delay=300"
  [ "$status" -eq 0 ]
  [[ "$output" == *"separate response after 300 ms"* ]]
}

@test "No-Response 26 suppresses every answer; 2 only the 2.xx ones" {
  run client -B 1 -N -O "no-response,26" "$URI/test"
  [ "$status" -eq 6 ]
  run client -B 1 -N -O "no-response,2" "$URI/test"
  [ "$status" -eq 6 ]
  run client -B 3 -N -O "no-response,2" "$URI/nothing-here"
  [ "$status" -eq 4 ]
}
