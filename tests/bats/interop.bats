#!/usr/bin/env bats
# Interoperability with libcoap 4.3 (Debian's -notls binaries): their
# client against our server, our client against their server, over IPv4
# and IPv6 loopback.

load helpers

LC_CLIENT=coap-client-notls
LC_SERVER=coap-server-notls

setup() {
  require_tools
  require_bin jq
}

# lc ARGS...: libcoap's client at -v 6, which shows the response PDU
# ("v:1 t:ACK c:2.05 ...") on stderr; stdout and stderr both in $output.
lc() {
  run "$LC_CLIENT" -B 10 -v 6 "$@"
}

# lc_code CODE: libcoap's client saw a response with this code.
lc_code() {
  grep -Eq "t:(ACK|CON|NON) c:$1 " <<<"$output" || {
    echo "no $1 response in: $output"
    false
  }
}

# ---------------------------------------------------------------- theirs -> ours

their_client_our_server() {
  local host="$1"
  require_bin "$LC_CLIENT"
  start_server -A "$host" -d 10
  lc "$URI/"
  lc_code 2.05
  [[ "$output" == *"coapkit coap-server"* ]]
  lc -m put -e hello "$URI/thing"
  lc_code 2.01
  lc "$URI/thing"
  lc_code 2.05
  [[ "$output" == *hello* ]]
  lc -m post -e posted "$URI/echo"
  lc_code 2.04
  [[ "$output" == *posted* ]]
  lc -m delete "$URI/thing"
  lc_code 2.02
  lc "$URI/thing"
  lc_code 4.04
  lc "$URI/.well-known/core"
  lc_code 2.05
  [[ "$output" == *'</time>'* ]]
  lc "$URI/.well-known/core?rt=time"
  [[ "$output" == *'</time>'* ]]
  [[ "$output" != *'</echo>'* ]]
}

@test "libcoap client -> our server over IPv4: GET PUT POST DELETE, discovery, 4.04" {
  their_client_our_server 127.0.0.1
}

@test "libcoap client -> our server over IPv6" {
  has_ipv6 || skip "no IPv6 loopback"
  their_client_our_server ::1
}

@test "libcoap client -> our server with the amplification limit: 4.01 Echo, repeat, /large whole" {
  require_bin "$LC_CLIENT"
  start_server -A 127.0.0.1 -v 7
  run "$LC_CLIENT" -B 10 -v 7 "$URI/large"
  [ "$status" -eq 0 ]
  # It saw our 4.01 with the Echo (option 252), repeated, and got the body.
  lc_code 4.01
  lc_code 2.05
  [[ "$output" == *"0099 coapkit large resource"* ]]
  grep -q "unverified address: 4.01 with an Echo instead" "$SERVER_LOG"
}

# ---------------------------------------------------------------- ours -> theirs

our_client_their_server() {
  LIBCOAP_HOST="$1" start_libcoap_server "$LC_SERVER" -d 10
  run --separate-stderr client "$URI/"
  [ "$status" -eq 0 ]
  [[ "$output" == *libcoap* ]]
  json=$(client --json "$URI/time")
  [ "$(jq -r .code <<<"$json")" = "2.05" ]
  [ -n "$(jq -r .payload <<<"$json")" ]
  json=$(client --json -m put -t text -e 'stored value' "$URI/mine")
  [ "$(jq -r .code <<<"$json")" = "2.01" ]
  run --separate-stderr client "$URI/mine"
  [ "$status" -eq 0 ]
  [ "$output" = "stored value" ]
  run --separate-stderr client "$URI/no/such/resource"
  [ "$status" -eq 4 ]
  json=$(client --json "$URI/no/such/resource") || true
  [ "$(jq -r .code <<<"$json")" = "4.04" ]
}

@test "our client -> libcoap server over IPv4: /, /time, dynamic PUT/GET, 4.04" {
  our_client_their_server 127.0.0.1
}

@test "our client -> libcoap server over IPv6" {
  has_ipv6 || skip "no IPv6 loopback"
  our_client_their_server ::1
}

@test "our client -> libcoap server: /async?1 separate response" {
  start_libcoap_server "$LC_SERVER"
  run --separate-stderr client -B 20 "$URI/async?1"
  [ "$status" -eq 0 ]
  [ "$output" = "done" ]
  json=$(client --json -B 20 "$URI/async?1")
  # A separate response comes as its own CON (or NON), not in the ACK.
  [ "$(jq -r .code <<<"$json")" = "2.05" ]
  [[ "$(jq -r .type <<<"$json")" =~ ^(CON|NON)$ ]]
}

@test "our client -> libcoap server: Proxy-Uri gets 5.05, exit 5" {
  start_libcoap_server "$LC_SERVER"
  run --separate-stderr client -P "$URI" "coap://192.0.2.1/x"
  [ "$status" -eq 5 ]
  json=$(client --json -P "$URI" "coap://192.0.2.1/x") || true
  [ "$(jq -r .code <<<"$json")" = "5.05" ]
}

@test "our client -> libcoap forward proxy -> our server" {
  require_bin "$LC_SERVER"
  start_server -A 127.0.0.1
  local target="$URI" our_pid="$SERVER_PID"
  SERVER_PID=""
  # A proxy known as "proxy" that forwards anything else directly.
  start_libcoap_server "$LC_SERVER" -P ",proxy"
  local proxy_pid="$SERVER_PID"
  run --separate-stderr client -B 20 -P "$URI" "$target/time"
  SERVER_PID="$our_pid"
  SERVER_OURS=1
  kill "$proxy_pid"
  wait "$proxy_pid" || true
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]]
}

@test "our client -> libcoap server: an RST to our request exits 3" {
  start_libcoap_server "$LC_SERVER"
  # libcoap resets a NON that carries an unknown critical option.
  run --separate-stderr client -N -O 2049,x -B 10 "$URI/"
  [ "$status" -eq 3 ]
  [ -z "$output" ]
  [[ "$stderr" == *"coap-client: the server answered with a reset (RST)"* ]]
}
