#!/usr/bin/env bats
# The amplification limit (RFC 9175 section 2.4): a UDP client whose address
# is not verified gets at most 3x its request's size; a larger answer is a
# 4.01 with an Echo option, and the repeat with the Echo gets the real one.

load helpers

setup() {
  require_tools
  require_bin timeout dd od cmp
}

# The body of /large: numbered lines, cut at 5000 bytes (as block.bats).
large_body() {
  local i=0
  while :; do
    printf '%04u coapkit large resource, block-wise test line\n' "$i"
    i=$((i + 1))
    [ "$i" -lt 200 ] || break
  done | head -c 5000
}

# raw_exchange FD HEX: sends one CON datagram on the open UDP socket FD and
# prints the first answer as hex (nothing after 3 tries: empty).  Like a
# real client it retransmits after 1 s (the server answers a repeat from
# its duplicate cache): another suite's flood on loopback can overflow the
# kernel's shared backlog and drop a datagram of ours.
raw_exchange() {
  local resp try
  for try in 1 2 3; do
    udp_write "$1" "$2"
    resp=$(timeout 1 dd bs=65536 count=1 <&"$1" 2>/dev/null | od -An -v -tx1 | tr -d ' \n')
    [ -z "$resp" ] || break
  done
  printf '%s' "$resp"
}

# raw_once PORT HEX: raw_exchange from a new socket (a new client port).
raw_once() {
  local fd
  exec {fd}<>"/dev/udp/127.0.0.1/$1" || return 1
  raw_exchange "$fd" "$2"
  exec {fd}>&-
}

# GET /large, CON, message ID $1, token aa: 11 bytes.
GET_LARGE_HEAD=4101
get_large() { printf '%s%saab56c61726765' "$GET_LARGE_HEAD" "$1"; }

@test "our coap-client gets /large whole with the limit on; -v 7 shows the Echo repeat" {
  start_server -A 127.0.0.1 -v 7
  large_body >"$BATS_TEST_TMPDIR/want"
  run --separate-stderr client -v 7 -B 10 -o "$BATS_TEST_TMPDIR/got" "$URI/large"
  [ "$status" -eq 0 ]
  cmp "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/want"
  grep -q "4.01 with an Echo option (RFC 9175): the request is repeated" <<<"$stderr"
  grep -q "unverified address: 4.01 with an Echo instead" "$SERVER_LOG"
}

@test "raw: the first answer to a big GET from a new port is a 4.01 with an Echo, <= 3x the request" {
  local fd req resp echo
  start_server -A 127.0.0.1
  exec {fd}<>"/dev/udp/127.0.0.1/$SERVER_PORT"
  req=$(get_large 1234)
  resp=$(raw_exchange "$fd" "$req")
  echo "request $req answer $resp"
  # ACK 4.01, same message ID and token, then Echo (252: dc ef) of 12 bytes.
  [[ "$resp" == 61811234aadcef* ]]
  [ "${#resp}" -eq $((2 * (5 + 2 + 12))) ]
  [ "${#resp}" -le $((3 * ${#req})) ]
  echo=${resp:14:24}
  # The repeat from the same port with the Echo (delta 241: dc e4).
  resp=$(raw_exchange "$fd" "$(get_large 1235)dce4$echo")
  [[ "$resp" == 61451235aa* ]]
  [ "${#resp}" -gt 2048 ]
  # Verified now: later requests are answered whole without an Echo.
  resp=$(raw_exchange "$fd" "$(get_large 1236)")
  [[ "$resp" == 61451236aa* ]]
  [ "${#resp}" -gt 2048 ]
  exec {fd}>&-
  # Another port presenting that Echo is not verified by it.
  resp=$(raw_once "$SERVER_PORT" "$(get_large 1237)dce4$echo")
  [[ "$resp" == 61811237aadcef* ]]
}

@test "--amplification-factor 0: a new port gets the big answer at once" {
  start_server -A 127.0.0.1 --amplification-factor 0
  resp=$(raw_once "$SERVER_PORT" "$(get_large 4321)")
  [[ "$resp" == 61454321aa* ]]
  [ "${#resp}" -gt 2048 ]
}

@test "--amplification-factor 10: a 4.01 only past ten times the request" {
  start_server -A 127.0.0.1 --amplification-factor 10
  # GET / (no token, 4 bytes): the 70-odd-byte description is over 40.
  resp=$(raw_once "$SERVER_PORT" 40017777)
  [[ "$resp" == 60817777dcef* ]]
  # GET /large with a 1024-byte block is over 110 as well; GET /time
  # (about 30 bytes to a 9-byte request) is not.
  resp=$(raw_once "$SERVER_PORT" 40017778b474696d65)
  [[ "$resp" == 60457778* ]]
}

@test "--amplification-factor: a bad value is a one-line usage error (exit 2)" {
  for v in x -1 1001 ''; do
    run server --amplification-factor "$v"
    [ "$status" -eq 2 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *--amplification-factor* ]]
  done
}
