#!/usr/bin/env bats
# Hostile datagrams against our server: it must neither crash nor stop
# answering, must answer a CoAP ping with RST, and must refuse an unknown
# critical option in a CON with 4.02.

load helpers

setup() {
  require_tools
  require_bin jq timeout dd od
  # No amplification limit: these checks expect the real answer to a GET
  # from a fresh port (amp.bats tests the limit).
  start_server -A 127.0.0.1 -d 5 --amplification-factor 0
}

# Each line: hex of one datagram and why it is malformed.
MALFORMED='
40 one byte
4001 two bytes
400112 three bytes
00011234 version 0
80011234 version 2
c0011234 version 3
49011234aabbccddeeff001122 token length 9
4f011234 token length 15
48011234aabb token length 8, two bytes of token
41001234aa empty message with a token
40001234ff41 empty message with a payload
40011234ff payload marker without payload
40011234f1 option delta 15
400112340f option length 15
40011234d0 delta 13 without its extension byte
40011234e001 delta 14 with one extension byte
40011234b5616263 option longer than the datagram
40011234e0ffff00 option number past 65535
40011234e0fff0e0fff0e0fff0 option numbers overflowing
40011234bd 1-byte extended length missing
40011234be00 2-byte extended length cut short
40211234 code 1.01
40e11234 code 7.01
40451234 a response sent to a server, as CON
60011234 an ACK carrying a request code
70011234 an RST carrying a request code
60001234 an empty ACK nobody waits for
70001234 an empty RST nobody waits for
ffffffffffffffff junk
0000000000000000 zeros
'

@test "malformed datagrams: the server survives and still answers GET" {
  local hex
  while read -r hex _; do
    [ -n "$hex" ] || continue
    coap_send_raw "$SERVER_PORT" "$hex"
  done <<<"$MALFORMED"
  run client -B 10 "$URI/time"
  [ "$status" -eq 0 ]
  kill -0 "$SERVER_PID"
}

@test "a pseudo-random datagram stream (fixed seed) does not hurt the server" {
  local n i len hex
  RANDOM=4242
  for n in $(seq 1 300); do
    len=$((1 + RANDOM % 48))
    hex=""
    for i in $(seq 1 "$len"); do hex+=$(printf %02x $((RANDOM % 256))); done
    # Half of them look like CoAP version 1, to get past the first check.
    if [ $((n % 2)) -eq 0 ]; then hex="4${hex:1}"; fi
    coap_send_raw "$SERVER_PORT" "$hex"
  done
  run client -B 10 "$URI/"
  [ "$status" -eq 0 ]
  kill -0 "$SERVER_PID"
}

@test "each malformed datagram alone, followed by a good GET" {
  local hex why resp
  while read -r hex why; do
    [ -n "$hex" ] || continue
    coap_send_raw "$SERVER_PORT" "$hex"
    # GET /, mid 0x7777, no token: the answer is an ACK with that mid.
    resp=$(coap_raw "$SERVER_PORT" 40017777)
    [[ "$resp" == 60457777* ]] || { echo "after '$why': got '$resp'"; false; }
  done <<<"$MALFORMED"
}

@test "a CoAP ping (empty CON) gets an RST with the same message ID" {
  resp=$(coap_raw "$SERVER_PORT" 4000beef)
  [ "$resp" = "7000beef" ]
}

@test "a CON with an unknown critical option gets 4.02 (raw and via -O)" {
  # Option 2049 (odd: critical), value "x": delta 14, extension 2049-269.
  resp=$(coap_raw "$SERVER_PORT" "41015555abe106f478")
  [[ "$resp" == 61825555ab* ]]
  json=$(client --json -O 2049,x "$URI/") || true
  [ "$(jq -r .code <<<"$json")" = "4.02" ]
  run client -O 2049,x "$URI/"
  [ "$status" -eq 4 ]
  # An unknown elective (even) option is ignored.
  json=$(client --json -O 2050,x "$URI/")
  [ "$(jq -r .code <<<"$json")" = "2.05" ]
}

@test "the server still stops cleanly after the abuse" {
  coap_send_raw "$SERVER_PORT" 48011234aabb
  coap_send_raw "$SERVER_PORT" 40011234e0ffff00
  run client "$URI/"
  [ "$status" -eq 0 ]
  rc=0
  stop_server || rc=$?
  [ "$rc" -eq 0 ]
}
