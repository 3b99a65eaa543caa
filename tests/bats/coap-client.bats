#!/usr/bin/env bats
# coap-client against our coap-server on 127.0.0.1: every option, the exit
# codes, and the scripting contract (payload alone on stdout, one line per
# diagnostic on stderr).

load helpers

setup() {
  require_tools
  require_bin jq
  # -v 7: the server logs each request with its options, which is how these
  # tests see what the client really sent.
  start_server -A 127.0.0.1 -d 50 -v 7
}

# json_of ARGS...: runs the client with --json, leaves the object in $json.
json_of() {
  json=$(client --json "$@") || true
}

# option_value JSON NUMBER: the value of the first option NUMBER.
option_value() {
  jq -r --argjson n "$2" '[.options[] | select(.number == $n) | .value][0]' <<<"$1"
}

# logged PATTERN: the server logged a request line matching PATTERN (ERE).
logged() {
  local i
  for i in $(seq 1 20); do
    grep -Eq -- "$1" "$SERVER_LOG" && return 0
    sleep 0.1
  done
  echo "not in the server log: $1" >&2
  tail -20 "$SERVER_LOG" >&2
  return 1
}

# ---------------------------------------------------------------- basics

@test "GET / prints the payload alone, without a newline, exit 0" {
  run --separate-stderr client "$URI/"
  [ "$status" -eq 0 ]
  [[ "$output" == "coapkit coap-server "* ]]
  [ -z "$stderr" ]
  client "$URI/" >"$BATS_TEST_TMPDIR/out"
  [ "$(tail -c 1 "$BATS_TEST_TMPDIR/out" | od -An -tx1 | tr -d ' ')" != "0a" ]
}

@test "libcjson is loaded only for JSON output" {
  # The dynamic loader names every library it maps (LD_DEBUG=files); the
  # binary itself, outside valgrind, is what is looked at.
  LD_DEBUG=files "$CLIENT_BIN" "$URI/" 2>"$BATS_TEST_TMPDIR/text.ld" >/dev/null
  ! grep -q 'file=libcjson' "$BATS_TEST_TMPDIR/text.ld"
  LD_DEBUG=files "$CLIENT_BIN" --json "$URI/" 2>"$BATS_TEST_TMPDIR/json.ld" \
    >"$BATS_TEST_TMPDIR/json.out"
  grep -q 'file=libcjson' "$BATS_TEST_TMPDIR/json.ld"
  [ "$(jq -r .code "$BATS_TEST_TMPDIR/json.out")" = "2.05" ]
}

@test "-w appends exactly one newline" {
  client "$URI/" >"$BATS_TEST_TMPDIR/plain"
  client -w "$URI/" >"$BATS_TEST_TMPDIR/nl"
  [ $(($(stat -c %s "$BATS_TEST_TMPDIR/plain") + 1)) -eq "$(stat -c %s "$BATS_TEST_TMPDIR/nl")" ]
  [ "$(tail -c 1 "$BATS_TEST_TMPDIR/nl" | od -An -tx1 | tr -d ' ')" = "0a" ]
  client --newline "$URI/" | cmp - "$BATS_TEST_TMPDIR/nl"
}

@test "--help lists every option, --version prints the version" {
  run client --help
  [ "$status" -eq 0 ]
  for o in -m --method -e --payload -f --payload-file -o --output -t \
    --content-format -A --accept -O --option -T --token -N --non -B --wait \
    -v --verbose -a --local-address -p --local-port -U --no-uri-host -H \
    --hop-limit -P --proxy -w --newline --json --quiet --help --version; do
    grep -q -- "$o" <<<"$output" || { echo "missing $o"; false; }
  done
  run client --version
  [ "$status" -eq 0 ]
  [[ "$output" == "coap-client "*[0-9]* ]]
}

@test "--help and the man page name the same long options" {
  local man="$COAPKIT_SRCDIR/man/coap-client.1"
  [ -f "$man" ]
  help=$(client --help | grep -oE -- '--[a-z][a-z-]+' | sort -u)
  page=$(sed 's/\\-/-/g' "$man" | grep -oE -- '--[a-z][a-z-]+' | sort -u)
  [ "$help" = "$page" ]
}

# ---------------------------------------------------------------- methods

@test "-m put / get / post / delete on a dynamic resource" {
  json_of -m put -e first "$URI/dyn"
  [ "$(jq -r .code <<<"$json")" = "2.01" ]
  run client "$URI/dyn"
  [ "$status" -eq 0 ]
  [ "$output" = "first" ]
  json_of --method post -e second "$URI/dyn"
  [ "$(jq -r .code <<<"$json")" = "2.04" ]
  [ "$(client "$URI/dyn")" = "second" ]
  json_of -m DELETE "$URI/dyn"
  [ "$(jq -r .code <<<"$json")" = "2.02" ]
  run client "$URI/dyn"
  [ "$status" -eq 4 ]
}

@test "-m fetch, patch and ipatch are sent as such" {
  run client -m fetch "$URI/nothing-here"
  [ "$status" -eq 4 ]
  logged '^coap-server: FETCH /nothing-here from .* -> 4\.04'
  run client -m patch -e x "$URI/nothing-here"
  [ "$status" -eq 4 ]
  logged '^coap-server: PATCH /nothing-here from .* -> 4\.04'
  run client -m ipatch -e x "$URI/nothing-here"
  [ "$status" -eq 4 ]
  logged '^coap-server: iPATCH /nothing-here from .* -> 4\.04'
}

# ---------------------------------------------------------------- payloads

@test "-e payload comes back byte for byte from /echo" {
  run --separate-stderr client -m post -e 'hello, world  ' "$URI/echo"
  [ "$status" -eq 0 ]
  [ "$output" = "hello, world  " ]
  [ -z "$stderr" ]
}

@test "binary payload via -f and -o is exact" {
  local bin="$BATS_TEST_TMPDIR/bin" out="$BATS_TEST_TMPDIR/out" i
  for i in $(seq 0 255); do printf "\\x$(printf %02x "$i")"; done >"$bin"
  [ "$(stat -c %s "$bin")" -eq 256 ]
  run client -m put -t binary -f "$bin" -o "$out" "$URI/echo"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  cmp "$bin" "$out"
  client -m put -f "$bin" --output - "$URI/echo" | cmp - "$bin"
}

@test "-f - reads the payload from stdin" {
  run client -m post --payload-file - "$URI/echo" < <(printf 'from\0stdin')
  [ "$status" -eq 0 ]
  printf 'from\0stdin' >"$BATS_TEST_TMPDIR/want"
  printf 'from\0stdin' | client -m post -f - "$URI/echo" | cmp - "$BATS_TEST_TMPDIR/want"
}

@test "binary payload appears as payload_base64 in --json" {
  printf '\x00\xff\x10' >"$BATS_TEST_TMPDIR/b"
  json_of -m put -f "$BATS_TEST_TMPDIR/b" "$URI/echo"
  [ "$(jq -r .payload_base64 <<<"$json")" = "AP8Q" ]
  [ "$(jq -r 'has("payload")' <<<"$json")" = "false" ]
}

@test "a payload larger than one datagram goes block-wise, and back" {
  big=$(head -c 3000 /dev/zero | tr '\0' a)
  run --separate-stderr client -m put -e "$big" "$URI/echo"
  [ "$status" -eq 0 ]
  [ "$output" = "$big" ]
  [ -z "$stderr" ]
}

# ---------------------------------------------------------------- options

@test "-t sets Content-Format, by name or number; /echo sends it back" {
  json_of -m put -t json -e '{}' "$URI/echo"
  [ "$(option_value "$json" 12)" = "50" ]
  json_of -m put --content-format application/cbor -e x "$URI/echo"
  [ "$(option_value "$json" 12)" = "60" ]
  json_of -m put -t 11542 -e x "$URI/echo"
  [ "$(option_value "$json" 12)" = "11542" ]
  [ "$(jq -r '.options[] | select(.number == 12) | .name' <<<"$json")" = "Content-Format" ]
  logged 'PUT /echo .*Content-Format=11542'
}

@test "-A sends Accept; the server refuses a format it cannot give" {
  run client -A json "$URI/time"
  [ "$status" -eq 4 ]
  logged 'GET /time .* -> 4\.06 .*Accept=50'
  run client --accept text "$URI/time"
  [ "$status" -eq 0 ]
  run client -m put -t text -A cbor -e x "$URI/echo"
  [ "$status" -eq 4 ]
}

@test "-O adds options by number or name, text, hex or uint" {
  run client -O uri-query,a=b -O 65000,0x0102 -O 17,0 "$URI/time"
  [ "$status" -eq 0 ]
  logged 'GET /time .*Uri-Query=a=b'
  logged 'GET /time .*Accept=0 .*65000=0x0102'
  run client --option 2049,x "$URI/"
  [ "$status" -eq 4 ]
}

@test "-O with an unknown critical option gets 4.02" {
  json_of -O 2049,x "$URI/"
  [ "$(jq -r .code <<<"$json")" = "4.02" ]
}

@test "-T sets the token, as text or hex; --json shows it" {
  json_of -T abc "$URI/"
  [ "$(jq -r .token <<<"$json")" = "616263" ]
  json_of --token 0xDEADbeef "$URI/"
  [ "$(jq -r .token <<<"$json")" = "deadbeef" ]
  json_of "$URI/"
  [ "$(jq -r '.token | length' <<<"$json")" -gt 0 ]
}

@test "-N sends NON and gets a NON response" {
  json_of -N "$URI/"
  [ "$(jq -r .type <<<"$json")" = "NON" ]
  json_of "$URI/"
  [ "$(jq -r .type <<<"$json")" = "ACK" ]
  run client --non -m post -e n "$URI/echo"
  [ "$status" -eq 0 ]
  [ "$output" = "n" ]
}

@test "-U leaves out Uri-Port; without it Uri-Port is sent" {
  run client "$URI/echo"
  logged "GET /echo .*Uri-Port=$SERVER_PORT"
  run client -U -m post -e marker-u "$URI/echo"
  [ "$status" -eq 0 ]
  logged 'POST /echo from'
  if grep -E 'POST /echo .*Uri-Port' "$SERVER_LOG"; then false; fi
}

@test "-H adds Hop-Limit; out of range is a usage error" {
  run client -H 7 "$URI/"
  [ "$status" -eq 0 ]
  logged 'GET / from .*Hop-Limit=7'
  run client -H 0 "$URI/"
  [ "$status" -eq 2 ]
  run client --hop-limit 256 "$URI/"
  [ "$status" -eq 2 ]
}

@test "-a and -p choose the local address and port" {
  port=$(closed_port)
  run client -a 127.0.0.1 -p "$port" "$URI/"
  [ "$status" -eq 0 ]
  logged "GET / from 127\\.0\\.0\\.1:$port "
  port=$(closed_port)
  run client --local-port "$port" "$URI/"
  [ "$status" -eq 0 ]
  logged "GET / from 127\\.0\\.0\\.1:$port "
}

@test "-P sends to the proxy with the target in Proxy-Uri" {
  # Our server is no proxy: it must see Proxy-Uri and say so (5.05).
  run --separate-stderr client --json -P "$URI" "coap://192.0.2.1:5683/x"
  [ "$status" -eq 5 ]
  [ "$(jq -r .code <<<"$output")" = "5.05" ]
}

@test "-v 6 prints the response code on stderr; the default does not" {
  run --separate-stderr client -v 6 "$URI/"
  [ "$status" -eq 0 ]
  grep -qx 'coap-client: 2.05 Content' <<<"$stderr"
  run --separate-stderr client "$URI/nope"
  [ "$status" -eq 4 ]
  [ -z "$stderr" ]
}

@test "--json gives one object with every field" {
  json_of -T 0x0a0b "$URI/"
  [ "$(wc -l <<<"$json")" -eq 1 ]
  jq -e --arg src "127.0.0.1:$SERVER_PORT" '
    .code == "2.05" and .code_class == 2 and .type == "ACK" and
    .token == "0a0b" and (.mid | type == "number") and
    (.rtt_ms | type == "number") and .rtt_ms >= 0 and .source == $src and
    (.payload | startswith("coapkit coap-server")) and
    (.options | type == "array")' <<<"$json"
  [ "$(option_value "$json" 12)" = "0" ]
}

@test "a 4.xx response exits 4 and still prints its payload" {
  run --separate-stderr client -m put -e x "$URI/time"
  [ "$status" -eq 4 ]
  run client -m delete "$URI/time"
  [ "$status" -eq 4 ]
  run client "$URI/no/such/thing"
  [ "$status" -eq 4 ]
  # 4.03 from the dynamic limit carries a diagnostic payload.
  stop_server
  start_server -A 127.0.0.1 -d 1
  run client -m put -e 1 "$URI/one"
  [ "$status" -eq 0 ]
  run --separate-stderr client -m put -e 2 "$URI/two"
  [ "$status" -eq 4 ]
  [ "$output" = "dynamic resource limit reached" ]
}

# ---------------------------------------------------------------- failures

@test "-B: no response before the deadline exits 6" {
  freeze_server
  run --separate-stderr client -B 1 "$URI/"
  [ "$status" -eq 6 ]
  [ -z "$output" ]
  [[ "$stderr" == "coap-client: no response"* ]]
  run --separate-stderr client --wait 0.3 --quiet "$URI/"
  [ "$status" -eq 6 ]
  [ -z "$stderr" ]
}

@test "network errors exit 3: nothing listening, unresolvable host" {
  port=$(closed_port)
  run --separate-stderr client -B 20 "coap://127.0.0.1:$port/"
  [ "$status" -eq 3 ]
  [[ "$stderr" == "coap-client: "* ]]
  run --separate-stderr client -B 20 "coap://no-such-host.invalid/"
  [ "$status" -eq 3 ]
  [[ "$stderr" == "coap-client: cannot resolve"* ]]
}

@test "file errors exit 8: unreadable -f, unwritable -o" {
  run --separate-stderr client -m put -f "$BATS_TEST_TMPDIR/missing" "$URI/echo"
  [ "$status" -eq 8 ]
  [[ "$stderr" == "coap-client: cannot read"* ]]
  [ "$(wc -l <<<"$stderr")" -eq 1 ]
  run --separate-stderr client -o "$BATS_TEST_TMPDIR/no/such/dir/out" "$URI/"
  [ "$status" -eq 8 ]
  [[ "$stderr" == "coap-client: cannot write"* ]]
}

@test "bad input: one line on stderr, exit 2, never a crash" {
  local args
  while IFS= read -r args; do
    eval "set -- $args"
    run --separate-stderr client "$@"
    echo "args: $args -> $status: $stderr"
    [ "$status" -eq 2 ]
    [ -z "$output" ]
    [ "$(wc -l <<<"$stderr")" -eq 1 ]
    [[ "$stderr" == "coap-client: "* ]]
  done <<EOF
--bogus "$URI/"
-m frob "$URI/"
"not a uri"
"coap://"
"coap://[::1/x"
"$URI/" extra
-t nosuch "$URI/"
-A 70000 "$URI/"
-O 12 "$URI/"
-O nosuchoption,1 "$URI/"
-O 0,x "$URI/"
-O 12,abc "$URI/"
-O 65000,0xabc "$URI/"
-T 123456789 "$URI/"
-T 0x123 "$URI/"
-T 0xzz "$URI/"
-p 70000 "$URI/"
-p -1 "$URI/"
-B abc "$URI/"
-B 0 "$URI/"
-B -3 "$URI/"
-v 10 "$URI/"
-e a -f /dev/null "$URI/"
-m
EOF
  run --separate-stderr client
  [ "$status" -eq 2 ]
}

@test "other schemes are refused with exit 2" {
  # coap+tcp, coap+ws and the secure ones are tested in tcp.bats.
  for s in http https; do
    run --separate-stderr client "$s://127.0.0.1/"
    [ "$status" -eq 2 ]
    [ "$stderr" = "coap-client: $s:// is not supported in this build" ]
  done
}

@test "Unix-domain URI: GET over a socket path" {
  local sock="$BATS_TEST_TMPDIR/s.sock" i
  stop_server
  server_exec -A "$sock" -p 0 2>"$BATS_TEST_TMPDIR/unix.log" 3>&- &
  SERVER_PID=$!
  for i in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
  [ -S "$sock" ]
  enc=$(sed 's|/|%2F|g' <<<"$sock")
  before=$(ls /tmp | grep -c '^coap-client\.' || true)
  run --separate-stderr client -B 10 "coap://$enc/time"
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]]
  after=$(ls /tmp | grep -c '^coap-client\.' || true)
  [ "$after" -le "$before" ]
}
