#!/usr/bin/env bats
# coap-server: its resources, the dynamic ones, limits, options, signals,
# and IPv6.  Requests are made with our coap-client (and raw datagrams where
# the client would refuse to send something).

load helpers

setup() {
  require_tools
  require_bin jq
}

code_of() {
  client --json "$@" | jq -r .code
}

option_value() {
  jq -r --argjson n "$2" '[.options[] | select(.number == $n) | .value][0]' <<<"$1"
}

@test "--help lists every option; the man page names the same ones" {
  run server --help
  [ "$status" -eq 0 ]
  for o in -A --address -p --port -v --verbose -d --max-dynamic --port-file \
    --max-sessions --idle-timeout --help --version; do
    grep -q -- "$o" <<<"$output" || { echo "missing $o"; false; }
  done
  help=$(grep -oE -- '--[a-z][a-z-]+' <<<"$output" | sort -u)
  page=$(sed 's/\\-/-/g' "$COAPKIT_SRCDIR/man/coap-server.1" | grep -oE -- '--[a-z][a-z-]+' | sort -u)
  [ "$help" = "$page" ]
  run server --version
  [ "$status" -eq 0 ]
  [[ "$output" == "coap-server "*[0-9]* ]]
}

@test "GET / describes the server" {
  start_server -A 127.0.0.1
  json=$(client --json "$URI/")
  [ "$(jq -r .code <<<"$json")" = "2.05" ]
  [[ "$(jq -r .payload <<<"$json")" == "coapkit coap-server "* ]]
  [ "$(option_value "$json" 12)" = "0" ]
}

@test "GET /time is the current UTC time in ISO 8601" {
  start_server -A 127.0.0.1
  json=$(client --json "$URI/time")
  [ "$(jq -r .code <<<"$json")" = "2.05" ]
  t=$(jq -r .payload <<<"$json")
  [[ "$t" =~ ^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z$ ]]
  # The same instant as date(1) says, give or take a slow machine.
  then=$(date -u -d "$t" +%s)
  now=$(date -u +%s)
  [ $((now - then)) -ge -5 ] && [ $((now - then)) -le 300 ]
}

@test "/echo: GET 2.05, POST and PUT 2.04, payload and format echoed" {
  start_server -A 127.0.0.1
  [ "$(code_of "$URI/echo")" = "2.05" ]
  json=$(client --json -m post -t json -e '{"a":1}' "$URI/echo")
  [ "$(jq -r .code <<<"$json")" = "2.04" ]
  [ "$(jq -r .payload <<<"$json")" = '{"a":1}' ]
  [ "$(option_value "$json" 12)" = "50" ]
  json=$(client --json -m put -e plain "$URI/echo")
  [ "$(jq -r .code <<<"$json")" = "2.04" ]
  [ "$(jq -r .payload <<<"$json")" = "plain" ]
  [ "$(jq '[.options[] | select(.number == 12)] | length' <<<"$json")" = "0" ]
  [ "$(code_of -m delete "$URI/echo")" = "4.05" ]
}

@test "/.well-known/core lists the resources with their attributes" {
  start_server -A 127.0.0.1
  json=$(client --json "$URI/.well-known/core")
  [ "$(jq -r .code <<<"$json")" = "2.05" ]
  [ "$(option_value "$json" 12)" = "40" ]
  doc=$(jq -r .payload <<<"$json")
  [[ "$doc" == *'</time>'*'rt="time"'* ]]
  [[ "$doc" == *'</echo>'* ]]
  [[ "$doc" == *'</>'* ]]
  [[ "$doc" == *'title="'* ]]
  [[ "$doc" == *'ct=0'* ]]
}

@test "/.well-known/core filters by ?rt= and ?href=" {
  start_server -A 127.0.0.1
  doc=$(client "$URI/.well-known/core?rt=time")
  [[ "$doc" == '</time>'* ]]
  [[ "$doc" != *'</echo>'* ]]
  doc=$(client "$URI/.well-known/core?href=/echo")
  [[ "$doc" == '</echo>'* ]]
  [[ "$doc" != *'</time>'* ]]
  doc=$(client "$URI/.well-known/core?href=/ti*")
  [[ "$doc" == '</time>'* ]]
  [[ "$doc" != *'</echo>'* ]]
  run client "$URI/.well-known/core?rt=nothing-has-this"
  [[ "$output" != *'</'* ]]
}

@test "DELETE on / and /time is 4.05; PUT on /time is 4.05" {
  start_server -A 127.0.0.1 -d 5
  [ "$(code_of -m delete "$URI/")" = "4.05" ]
  [ "$(code_of -m delete "$URI/time")" = "4.05" ]
  [ "$(code_of -m put -e x "$URI/time")" = "4.05" ]
}

@test "without -d, PUT and POST on unknown paths get 4.04" {
  start_server -A 127.0.0.1
  [ "$(code_of -m put -e x "$URI/new")" = "4.04" ]
  [ "$(code_of -m post -e x "$URI/new")" = "4.04" ]
  [ "$(code_of "$URI/new")" = "4.04" ]
}

@test "-d: create, get, replace, delete with the right codes" {
  start_server -A 127.0.0.1 -d 3
  json=$(client --json -m put -t json -e '[1]' "$URI/a/b")
  [ "$(jq -r .code <<<"$json")" = "2.01" ]
  json=$(client --json "$URI/a/b")
  [ "$(jq -r .code <<<"$json")" = "2.05" ]
  [ "$(jq -r .payload <<<"$json")" = "[1]" ]
  [ "$(option_value "$json" 12)" = "50" ]
  [ "$(code_of -A text "$URI/a/b")" = "4.06" ]
  json=$(client --json -m put -t text -e second "$URI/a/b")
  [ "$(jq -r .code <<<"$json")" = "2.04" ]
  [ "$(client "$URI/a/b")" = "second" ]
  [ "$(code_of -m delete "$URI/a/b")" = "2.02" ]
  [ "$(code_of "$URI/a/b")" = "4.04" ]
  [ "$(code_of -m delete "$URI/a/b")" = "4.04" ]
  # Deleted then created again.
  [ "$(code_of -m put -e again "$URI/a/b")" = "2.01" ]
  [ "$(client "$URI/a/b")" = "again" ]
}

@test "-d: POST on an unknown path creates it with Location-Path" {
  start_server -A 127.0.0.1 --max-dynamic 2
  json=$(client --json -m post -e v "$URI/made/here")
  [ "$(jq -r .code <<<"$json")" = "2.01" ]
  [ "$(jq -r '[.options[] | select(.number == 8) | .value] | join("/")' <<<"$json")" = "made/here" ]
  [ "$(client "$URI/made/here")" = "v" ]
}

@test "-d: past the limit 4.03 with a diagnostic; room again after DELETE" {
  start_server -A 127.0.0.1 -d 2
  [ "$(code_of -m put -e 1 "$URI/one")" = "2.01" ]
  [ "$(code_of -m post -e 2 "$URI/two")" = "2.01" ]
  json=$(client --json -m put -e 3 "$URI/three") || true
  [ "$(jq -r .code <<<"$json")" = "4.03" ]
  [ "$(jq -r .payload <<<"$json")" = "dynamic resource limit reached" ]
  # Replacing an existing one is not creating.
  [ "$(code_of -m put -e 1b "$URI/one")" = "2.04" ]
  [ "$(code_of -m delete "$URI/one")" = "2.02" ]
  [ "$(code_of -m put -e 3 "$URI/three")" = "2.01" ]
  [ "$(code_of "$URI/two")" = "2.05" ]
}

@test "a payload over the limit gets 4.13 with Size1; at the limit it is kept" {
  start_server -A 127.0.0.1 -d 5
  big=$(printf '61%.0s' $(seq 1 3000))
  # CON PUT, token aa, Uri-Path "big", payload 3000 x 'a' (raw: our client
  # would refuse to send it).
  resp=$(coap_raw "$SERVER_PORT" "41034321aab3626967ff$big")
  [ "${resp:2:2}" = "8d" ]        # 4.13
  [[ "$resp" == 6*4321aa* ]]
  limit=$(printf '%s' "$resp" | sed -E 's/^.{8}aa//' | head -c 12)
  # Size1 (60) follows as option delta 13 (0xd?), extended 60-13=47 (0x2f).
  [[ "$limit" == d?2f* ]]
  len=$((16#${limit:1:1}))
  size1=$((16#${limit:4:$((len * 2))}))
  [ "$size1" -gt 0 ] && [ "$size1" -le 65536 ]
  # A payload of exactly Size1 bytes fits the response: stored, read back.
  body=$(printf '62%.0s' $(seq 1 "$size1"))
  resp=$(coap_raw "$SERVER_PORT" "41034322abb3626967ff$body")
  [ "${resp:2:2}" = "41" ]        # 2.01
  [ "$(client "$URI/big" | wc -c)" -eq "$size1" ]
}

@test "--port-file holds the port the server answers on" {
  start_server -A 127.0.0.1
  [[ "$(cat "$BATS_TEST_TMPDIR/port")" =~ ^[0-9]+$ ]]
  [ "$SERVER_PORT" -gt 0 ]
  run client "coap://127.0.0.1:$SERVER_PORT/"
  [ "$status" -eq 0 ]
}

@test "SIGTERM and SIGINT stop the server cleanly with exit 0" {
  start_server -A 127.0.0.1 -d 3
  client -m put -e kept "$URI/x" >/dev/null
  rc=0
  stop_server || rc=$?
  [ "$rc" -eq 0 ]
  start_server -A 127.0.0.1
  kill -INT "$SERVER_PID"
  rc=0
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  [ "$rc" -eq 0 ]
}

@test "-v 6 logs one line per request: method, path, peer, code" {
  start_server -A 127.0.0.1 -v 6
  client "$URI/time" >/dev/null
  for i in $(seq 1 20); do grep -q 'GET /time' "$SERVER_LOG" && break; sleep 0.1; done
  grep -Eq '^coap-server: GET /time from 127\.0\.0\.1:[0-9]+ -> 2\.05$' "$SERVER_LOG"
}

@test "-v 6 logs the library's own answers too, with the code that went out" {
  start_server -A 127.0.0.1 -v 6 --plugtest
  local p='from 127\.0\.0\.1:[0-9]+ ->'
  run client "$URI/nope"
  [ "$status" -eq 4 ]
  run client -m post "$URI/time"
  [ "$status" -eq 4 ]
  client "$URI/.well-known/core" >/dev/null
  client "$URI/large" >/dev/null
  client "$URI/separate" >/dev/null
  for i in $(seq 1 20); do grep -q 'GET /separate' "$SERVER_LOG" && break; sleep 0.1; done
  grep -Eq "^coap-server: GET /nope $p 4\.04\$" "$SERVER_LOG"
  grep -Eq "^coap-server: POST /time $p 4\.05\$" "$SERVER_LOG"
  grep -Eq "^coap-server: GET /\.well-known/core $p 2\.05\$" "$SERVER_LOG"
  grep -Eq "^coap-server: GET /separate $p \(separate\)\$" "$SERVER_LOG"
  # /large from a new port: the amplification limit's 4.01 first, then
  # every block of the body.
  grep -Eq "^coap-server: GET /large $p 4\.01\$" "$SERVER_LOG"
  [ "$(grep -Ec "^coap-server: GET /large $p 2\.05\$" "$SERVER_LOG")" -ge 2 ]
}

@test "IPv6: -A ::1 serves over IPv6" {
  has_ipv6 || skip "no IPv6 loopback"
  start_server -A ::1
  [[ "$URI" == "coap://[::1]:"* ]]
  json=$(client --json "$URI/")
  [ "$(jq -r .code <<<"$json")" = "2.05" ]
  [ "$(jq -r .source <<<"$json")" = "[::1]:$SERVER_PORT" ]
}

@test "default addresses: the same port on 127.0.0.1 and ::1" {
  has_ipv6 || skip "no IPv6 loopback"
  start_server
  run client "coap://127.0.0.1:$SERVER_PORT/"
  [ "$status" -eq 0 ]
  run client "coap://[::1]:$SERVER_PORT/"
  [ "$status" -eq 0 ]
}

@test "two -A addresses share one port" {
  has_ipv6 || skip "no IPv6 loopback"
  start_server -A 127.0.0.1 --address ::1
  run client "coap://[::1]:$SERVER_PORT/time"
  [ "$status" -eq 0 ]
}

@test "--max-sessions and --idle-timeout are accepted and the server serves" {
  start_server -A 127.0.0.1 --max-sessions 1 --idle-timeout 5
  for p in 1 2 3; do
    run client "$URI/"
    [ "$status" -eq 0 ]
  done
}

@test "bad options exit 2 with one line; bind failures exit 3" {
  for args in "-p 70000" "-d x" "--bogus" "-v 11" "--max-sessions 0" \
    "--idle-timeout x" "-A 127.0.0.1 -A ::1 -A ::" "extra"; do
    run --separate-stderr server $args
    echo "$args -> $status $stderr"
    [ "$status" -eq 2 ]
    [ "$(wc -l <<<"$stderr")" -eq 1 ]
    [[ "$stderr" == "coap-server: "* ]]
  done
  run --separate-stderr server -A no-such-host.invalid -p 0
  [ "$status" -eq 3 ]
  start_server -A 127.0.0.1
  run --separate-stderr server -A 127.0.0.1 -p "$SERVER_PORT"
  [ "$status" -eq 3 ]
  grep -q "^coap-server: cannot listen on 127.0.0.1 port $SERVER_PORT" <<<"$stderr"
}

@test "an unwritable --port-file exits 8" {
  run --separate-stderr server -A 127.0.0.1 -p 0 --port-file "$BATS_TEST_TMPDIR/no/dir/port"
  [ "$status" -eq 8 ]
}

@test "--workers 2: two processes share the UDP port and stop together" {
  start_server -A 127.0.0.1 --workers 2
  child=""
  for i in $(seq 1 50); do
    child=$(pgrep -P "$SERVER_PID" | head -1)
    [ -n "$child" ] && break
    sleep 0.1
  done
  [ -n "$child" ]
  # Each run is a new source port: the kernel spreads them over both.
  for p in 1 2 3 4 5 6; do
    run client "$URI/"
    [ "$status" -eq 0 ]
    [[ "$output" == "coapkit coap-server"* ]]
  done
  stop_server
  for i in $(seq 1 50); do
    kill -0 "$child" 2>/dev/null || break
    sleep 0.1
  done
  ! kill -0 "$child" 2>/dev/null
  run --separate-stderr server --workers 0
  [ "$status" -eq 2 ]
}
