#!/usr/bin/env bats
# coap-keepalive-probe: pings against our coap-server and libcoap's
# coap-server-notls and coap-server-openssl, over UDP, DTLS (PSK and
# certificates), TCP, TLS and WebSockets, dead ports, wrong keys, a server
# frozen with SIGSTOP, fleets from files and stdin, shards, every output
# format parsed back, --watch, -q and the exit codes.  No timing
# assertions: counts, formats and exit codes only.

load helpers

PROBE_BIN="$COAPKIT_BUILDDIR/coap-keepalive-probe"
PROM_VALIDATE="$COAPKIT_SRCDIR/tests/bats/prom-validate"
PROBE_PID=""

probe() { _ck_wrap "$PROBE_BIN" "$@"; }
probe_exec() { _ck_exec "$PROBE_BIN" "$@"; }

setup() {
  require_bin "$PROBE_BIN" "$SERVER_BIN" "$CLIENT_BIN"
  require_bin jq
}

teardown() {
  if [ -n "$PROBE_PID" ]; then
    kill -TERM "$PROBE_PID" 2>/dev/null || true
    wait "$PROBE_PID" 2>/dev/null || true
    PROBE_PID=""
  fi
  stop_server || true
}

# wait_lines FILE REGEX N: until FILE has at least N lines matching REGEX
# (at most ~20 s).
wait_lines() {
  local i
  for i in $(seq 1 200); do
    [ "$(grep -cE -- "$2" "$1" 2>/dev/null || true)" -ge "$3" ] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $3 x '$2' in $1:" >&2
  cat "$1" >&2
  return 1
}

# wait_exit PID: waits at most ~30 s for PID (ours, in this shell: not in
# a subshell) and sets rc to its exit status.
wait_exit() {
  local i
  for i in $(seq 1 300); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  # Still there: it failed to stop, which the caller's checks will show.
  kill -KILL "$1" 2>/dev/null || true
  rc=0
  wait "$1" || rc=$?
}

@test "--help lists every option; the man page names the same ones" {
  run probe --help
  [ "$status" -eq 0 ]
  for o in -c --count -i --interval -W --timeout -w --deadline -F --file \
    --parallel --shard --json --prometheus --watch -K --keepalive -q --quiet \
    -v --verbose --help --version -u --identity -k --key --key-file -h \
    --cert -j --cert-key -C --ca -R --trusted-ca -n --no-verify; do
    grep -q -- "$o" <<<"$output" || { echo "missing $o"; false; }
  done
  ! grep -q "not in this build" <<<"$output"
  help=$(grep -oE -- '--[a-z][a-z-]+' <<<"$output" | sort -u)
  page=$(sed 's/\\-/-/g' "$COAPKIT_SRCDIR/man/coap-keepalive-probe.1" | grep -oE -- '--[a-z][a-z-]+' | sort -u)
  [ "$help" = "$page" ]
  run probe --version
  [ "$status" -eq 0 ]
  [[ "$output" == "coap-keepalive-probe "*[0-9]* ]]
}

@test "usage and set-up errors exit 2 before any ping" {
  run probe
  [ "$status" -eq 2 ]
  run probe not-a-uri
  [ "$status" -eq 2 ]
  run probe http://127.0.0.1
  [ "$status" -eq 2 ]
  [[ "$output" == *"bad URI"* ]]
  run probe -k 0xZZ coaps://127.0.0.1
  [ "$status" -eq 2 ]
  run probe --cert "$BATS_TEST_TMPDIR/missing.pem" coaps://127.0.0.1
  [ "$status" -eq 2 ]
  [[ "$output" != *PING* ]]
  run probe -K 5 coap://127.0.0.1
  [ "$status" -eq 2 ]
  run probe --watch -c 2 coap://127.0.0.1
  [ "$status" -eq 2 ]
  run probe --json --prometheus coap://127.0.0.1
  [ "$status" -eq 2 ]
  for bad in 3/3 x/2 1/0 1 /2; do
    run probe --shard "$bad" coap://127.0.0.1
    [ "$status" -eq 2 ] || { echo "--shard $bad accepted"; false; }
  done
  run probe -c abc coap://127.0.0.1
  [ "$status" -eq 2 ]
  run probe -W 0 coap://127.0.0.1
  [ "$status" -eq 2 ]
  run probe -F "$BATS_TEST_TMPDIR/missing"
  [ "$status" -eq 2 ]
  : >"$BATS_TEST_TMPDIR/empty"
  run probe -F "$BATS_TEST_TMPDIR/empty"
  [ "$status" -eq 2 ]
  [[ "$output" == *"no targets"* ]]
  # A bad URI among good ones on the command line: nothing is sent.
  run probe coap://127.0.0.1:1 'coap://[::1'
  [ "$status" -eq 2 ]
  [[ "$output" != *PING* ]]
}

@test "a live target: every ping answered with RST, exit 0" {
  start_server -A 127.0.0.1
  run probe -c 3 -i 0.2 "$URI"
  [ "$status" -eq 0 ]
  [ "$(grep -c "^$URI: seq=[123] RST rtt=[0-9.]* ms$" <<<"$output")" -eq 3 ]
  grep -q "^PING $URI (127.0.0.1:$SERVER_PORT) over UDP$" <<<"$output"
  grep -q "^--- $URI keepalive probe statistics ---$" <<<"$output"
  grep -q "^3 sent, 3 received, 0.0% loss, handshake n/a (UDP)$" <<<"$output"
  grep -qE "^rtt min/avg/max/mdev = [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ ms$" <<<"$output"
}

@test "libcoap's coap-server-notls answers our pings" {
  start_libcoap_server coap-server-notls
  # libcoap 4.3.1 leaves pings that follow each other closely unanswered
  # (seen at 0.2 s, not at 0.5 s): a slow pace makes this about us.
  # It also drops one now and then on a busy machine: of three pings at
  # least two must come back, each as an RST, and the summary must agree.
  local replies
  run probe -c 3 -i 1.1 --json "$URI"
  [ "$status" -eq 0 ]
  replies=$(jq -s '[.[] | select(.event == "reply")] | length' <<<"$output")
  [ "$replies" -ge 2 ]
  [ "$(jq -s '[.[] | select(.event == "reply" and .answer != "RST")] | length' <<<"$output")" -eq 0 ]
  [ "$(jq -s '[.[] | select(.event == "summary")][0].received' <<<"$output")" -eq "$replies" ]
}

@test "a dead port: every ping lost, exit 1" {
  port=$(closed_port)
  run probe -c 2 -i 0.2 -W 0.5 "coap://127.0.0.1:$port"
  [ "$status" -eq 1 ]
  [ "$(grep -cE "^coap://127.0.0.1:$port: seq=[12] (error|no answer)" <<<"$output")" -eq 2 ]
  grep -q "^2 sent, 0 received, 100.0% loss" <<<"$output"
  ! grep -q "^rtt " <<<"$output"
}

@test "a server frozen mid-run: lost pings are counted, answers resume" {
  start_server -A 127.0.0.1
  out="$BATS_TEST_TMPDIR/probe.out"
  "$PROBE_BIN" -c 8 -i 0.3 -W 0.5 "$URI" >"$out" 2>&1 3>&- &
  PROBE_PID=$!
  wait_lines "$out" "seq=[0-9]+ RST" 2
  freeze_server
  wait_lines "$out" "no answer" 2
  kill -CONT "$SERVER_PID"
  SERVER_STOPPED=""
  wait_exit "$PROBE_PID"
  PROBE_PID=""
  cat "$out"
  [ "$rc" -eq 0 ]
  replies=$(grep -c " RST rtt=" "$out")
  lost=$(grep -c "no answer" "$out")
  [ "$lost" -ge 2 ]
  [ "$replies" -ge 2 ]
  [ $((replies + lost)) -eq 8 ]
  grep -q "^8 sent, $replies received, " "$out"
}

@test "a mixed fleet: exit 1, one summary per target with its own verdict" {
  start_server -A 127.0.0.1
  dead=$(closed_port)
  run probe -c 2 -i 0.1 -W 0.5 --json "$URI/a" "coap://127.0.0.1:$dead" "$URI/b"
  [ "$status" -eq 1 ]
  sums=$(jq -s -c '[.[] | select(.event == "summary")] | sort_by(.target) | map({target, answered, sent, received})' <<<"$output")
  [ "$(jq length <<<"$sums")" -eq 3 ]
  [ "$(jq -r --arg t "$URI/a" '.[] | select(.target == $t) | "\(.answered) \(.sent) \(.received)"' <<<"$sums")" = "true 2 2" ]
  [ "$(jq -r --arg t "$URI/b" '.[] | select(.target == $t) | "\(.answered) \(.sent) \(.received)"' <<<"$sums")" = "true 2 2" ]
  [ "$(jq -r --arg t "coap://127.0.0.1:$dead" '.[] | select(.target == $t) | "\(.answered) \(.sent) \(.received)"' <<<"$sums")" = "false 2 0" ]
  # All alive: exit 0.
  run probe -q -c 1 "$URI/a" "$URI/b"
  [ "$status" -eq 0 ]
}

@test "--json: one valid object per line, events and summary fields" {
  start_server -A 127.0.0.1
  run probe -c 2 -i 0.1 --json "$URI"
  [ "$status" -eq 0 ]
  # Every line is one JSON object.
  [ "$(jq -c . <<<"$output" | wc -l)" -eq "$(wc -l <<<"$output")" ]
  [ "$(jq -s 'map(.event) | join(",")' -r <<<"$output")" = "start,reply,reply,summary" ]
  [ "$(jq -s '[.[] | select(.event == "reply") | .seq]' -c <<<"$output")" = "[1,2]" ]
  s=$(jq -c 'select(.event == "summary")' <<<"$output")
  [ "$(jq -r '.target' <<<"$s")" = "$URI" ]
  [ "$(jq -r '"\(.proto) \(.sent) \(.received) \(.loss) \(.answered) \(.handshake_ms)"' <<<"$s")" = "UDP 2 2 0 true null" ]
  jq -e '.rtt_min_ms <= .rtt_avg_ms and .rtt_avg_ms <= .rtt_max_ms and .rtt_mdev_ms >= 0' <<<"$s"
  jq -e '[.time, .rtt_min_ms] | all(type == "number")' <<<"$s"
}

@test "--prometheus: valid exposition format, one sample per target" {
  start_server -A 127.0.0.1
  dead=$(closed_port)
  out="$BATS_TEST_TMPDIR/metrics.prom"
  run probe -c 2 -i 0.1 -W 0.5 --prometheus "$URI" "coap://127.0.0.1:$dead"
  [ "$status" -eq 1 ]
  printf '%s\n' "$output" >"$out"
  run "$PROM_VALIDATE" "$out"
  echo "$output"
  [ "$status" -eq 0 ]
  for m in coap_probe_success coap_probe_rtt_seconds coap_probe_handshake_seconds coap_probe_loss_ratio; do
    grep -q "^# TYPE $m gauge$" "$out"
    grep -q "^# HELP $m " "$out"
  done
  grep -qx "coap_probe_success{target=\"$URI\"} 1" "$out"
  grep -qx "coap_probe_success{target=\"coap://127.0.0.1:$dead\"} 0" "$out"
  grep -qx "coap_probe_loss_ratio{target=\"$URI\"} 0" "$out"
  grep -qx "coap_probe_loss_ratio{target=\"coap://127.0.0.1:$dead\"} 1" "$out"
  grep -qE "^coap_probe_rtt_seconds\{target=\"$URI\"\} [0-9.e+-]+$" "$out"
  # No RTT for a target that never answered, no handshake for UDP.
  ! grep -q "^coap_probe_rtt_seconds{target=\"coap://127.0.0.1:$dead\"}" "$out"
  ! grep -q "^coap_probe_handshake_seconds{" "$out"
}

@test "the exposition validator rejects what Prometheus would" {
  bad() { printf "$1" | "$PROM_VALIDATE" 2>/dev/null && { echo "accepted: $1"; return 1; }; return 0; }
  bad 'a{x="1"} 1\nb 1\na{x="2"} 1\n'
  bad '# TYPE a gauge\n# TYPE a gauge\na 1\n'
  bad 'a{x="\\q"} 1\n'
  bad 'a{x="1"} one\n'
  bad 'a 1\na 1\n'
  bad 'a 1'
  printf '# HELP a h\n# TYPE a gauge\na{t="q\\"x\\\\y\\n"} NaN\na{t="z"} +Inf 123\n' | "$PROM_VALIDATE"
}

@test "-F - and -F FILE: comments and blank lines skipped, bad lines exit 2" {
  start_server -A 127.0.0.1
  run probe -c 1 --json -F - <<EOF
# the fleet

  $URI/one  
$URI/two
EOF
  [ "$status" -eq 0 ]
  [ "$(jq -s -c '[.[] | select(.event == "summary") | .target] | sort' <<<"$output")" = "[\"$URI/one\",\"$URI/two\"]" ]
  printf '%s\nfoo://bar\n%s\n' "$URI/a" "$URI/b" >"$BATS_TEST_TMPDIR/fleet"
  run probe -c 1 -F "$BATS_TEST_TMPDIR/fleet" "$URI/argv"
  [ "$status" -eq 2 ]
  # The good targets were still probed.
  [ "$(grep -c '^1 sent, 1 received' <<<"$output")" -eq 3 ]
}

@test "--shard I/N: shards are disjoint and together cover the fleet" {
  start_server -A 127.0.0.1
  for i in 1 2 3 4 5 6 7; do echo "$URI/t$i"; done >"$BATS_TEST_TMPDIR/fleet"
  all=""
  for s in 0 1 2; do
    run probe -c 1 --json --shard "$s/3" -F "$BATS_TEST_TMPDIR/fleet"
    [ "$status" -eq 0 ]
    got=$(jq -r 'select(.event == "summary") | .target' <<<"$output" | sort)
    want=$(awk -v s="$s" '(NR - 1) % 3 == s' "$BATS_TEST_TMPDIR/fleet" | sort)
    [ "$got" = "$want" ]
    all="$all$got"$'\n'
  done
  [ "$(sort <<<"$all" | grep -v '^$')" = "$(sort "$BATS_TEST_TMPDIR/fleet")" ]
}

@test "--parallel: more targets than slots, every one probed" {
  start_server -A 127.0.0.1
  for i in $(seq 1 25); do echo "$URI/p$i"; done >"$BATS_TEST_TMPDIR/fleet"
  run probe -c 2 -i 0.05 --parallel 4 --json -F "$BATS_TEST_TMPDIR/fleet"
  [ "$status" -eq 0 ]
  [ "$(jq -s '[.[] | select(.event == "summary" and .received == 2)] | length' <<<"$output")" -eq 25 ]
  [ "$(jq -s '[.[] | select(.event == "reply")] | length' <<<"$output")" -eq 50 ]
}

@test "-q prints nothing; the exit status still tells" {
  start_server -A 127.0.0.1
  run probe -q -c 1 "$URI"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run probe -q -c 1 -W 0.5 "coap://127.0.0.1:$(closed_port)"
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  run probe -q -c 1 --prometheus "$URI"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "-c 0 runs until SIGINT, then summarises" {
  start_server -A 127.0.0.1
  out="$BATS_TEST_TMPDIR/probe.out"
  "$PROBE_BIN" -c 0 -i 0.1 "$URI" >"$out" 2>&1 3>&- &
  PROBE_PID=$!
  wait_lines "$out" "seq=[0-9]+ RST" 3
  kill -INT "$PROBE_PID"
  wait_exit "$PROBE_PID"
  PROBE_PID=""
  [ "$rc" -eq 0 ]
  grep -q "keepalive probe statistics" "$out"
  sent=$(sed -n 's/^\([0-9]*\) sent, .*/\1/p' "$out")
  [ "$sent" -ge 3 ]
}

@test "-w: the deadline ends an endless run; unanswered targets exit 1" {
  run probe -c 0 -i 0.2 -W 0.3 -w 1 "coap://127.0.0.1:$(closed_port)"
  [ "$status" -eq 1 ]
  grep -q "keepalive probe statistics" <<<"$output"
  start_server -A 127.0.0.1
  run probe -c 0 -i 0.2 -w 1 "$URI"
  [ "$status" -eq 0 ]
}

@test "--watch: a target going away and coming back, one line each" {
  start_server -A 127.0.0.1
  dead=$(closed_port)
  out="$BATS_TEST_TMPDIR/watch.out"
  timeout -k 5 60 "$PROBE_BIN" --watch -K 1 -W 1 "$URI" "coap://127.0.0.1:$dead" >"$out" 2>&1 3>&- &
  PROBE_PID=$!
  wait_lines "$out" "$URI: up" 1
  wait_lines "$out" "127.0.0.1:$dead: down" 1
  freeze_server
  wait_lines "$out" "$URI: down" 1
  kill -CONT "$SERVER_PID"
  SERVER_STOPPED=""
  wait_lines "$out" "$URI: up" 2
  kill -INT "$PROBE_PID"
  wait_exit "$PROBE_PID"
  PROBE_PID=""
  cat "$out"
  # The dead target is down at the end: exit 1.
  [ "$rc" -eq 1 ]
  grep -E "^[0-9T:-]+Z $URI: (up|down)" "$out" | awk '{print $3}' >"$BATS_TEST_TMPDIR/states"
  [ "$(tr '\n' ' ' <"$BATS_TEST_TMPDIR/states")" = "up down up " ]
  ! grep -q "127.0.0.1:$dead: up" "$out"
  grep -q "^up, transitions: 3$" "$out"
}

@test "--watch --json ends at -w with exit 0 when every target is up" {
  start_server -A 127.0.0.1
  run timeout 30 "$PROBE_BIN" --watch -K 1 -w 2 --json "$URI"
  [ "$status" -eq 0 ]
  [ "$(jq -s -c '[.[] | .event]' <<<"$output")" = '["start","up","summary"]' ]
  [ "$(jq -r 'select(.event == "summary") | .state' <<<"$output")" = "up" ]
  # Up at the end is answered; --watch has no ping counts of its own.
  jq -se '[.[] | select(.event == "summary")][0] | .answered == true and .transitions == 1 and (has("sent") or has("loss") | not)' <<<"$output"
}

@test "coap-server -K: an idle client is pinged after its response" {
  # No amplification limit: GET / from this fresh port must get 2.05.
  start_server -A 127.0.0.1 -K 1 --amplification-factor 0
  exec {fd}<>"/dev/udp/127.0.0.1/$SERVER_PORT"
  printf '\x40\x01\x12\x34' >&"$fd" # GET /, CON, mid 0x1234
  # Two datagrams: the response, then (a second later) the ping.
  hex=$(timeout 10 dd bs=65536 count=2 <&"$fd" 2>/dev/null | od -An -v -tx1 | tr -d ' \n')
  exec {fd}>&-
  [[ "$hex" == 6045* ]]
  [[ "$hex" =~ 4000[0-9a-f]{4}$ ]]
  run server -K x
  [ "$status" -eq 2 ]
}

@test "coap-client -K: pings while it waits (seen by libcoap's server)" {
  require_bin coap-server-notls
  log="$BATS_TEST_TMPDIR/libcoap.log"
  port=$(closed_port)
  # libcoap logs its debug lines on stdout: keep both streams.
  coap-server-notls -v 7 -A 127.0.0.1 -p "$port" >>"$log" 2>&1 3>&- &
  SERVER_PID=$!
  URI="coap://127.0.0.1:$port"
  wait_answer "$URI/"
  pings() { grep -c 't:CON c:0.00' "$log" || true; }
  before=$(pings)
  timeout 20 "$CLIENT_BIN" -s 2.5 "$URI/example_data" >/dev/null 2>&1 || true
  [ "$(pings)" -eq "$before" ]
  timeout 20 "$CLIENT_BIN" -K 1 -s 2.5 "$URI/example_data" >/dev/null 2>&1 || true
  [ "$(pings)" -gt "$before" ]
  run "$CLIENT_BIN" -K -1 "$URI/"
  [ "$status" -eq 2 ]
}

@test "a Unix-domain target: answered, and no local socket left behind" {
  sock="/tmp/ck-probe-test.$$.sock"
  rm -f "$sock"
  "$SERVER_BIN" -A "$sock" 2>"$BATS_TEST_TMPDIR/server.log" 3>&- &
  SERVER_PID=$!
  enc=$(sed 's|/|%2F|g' <<<"$sock")
  for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
  run probe -c 2 -i 0.1 "coap://$enc"
  stop_server
  rm -f "$sock"
  [ "$status" -eq 0 ]
  grep -q "^2 sent, 2 received" <<<"$output"
  ! ls /tmp/coap-keepalive-probe.* 2>/dev/null | grep -q .
}

# ---------------------------------------------------------------- security
# and streams

# start_secure_server ARGS...: our server with every port free; sets DPORT
# (DTLS), TPORT (TCP), SPORT (TLS) and WPORT (WebSockets, with --ws-port).
start_secure_server() {
  local i
  rm -f "$BATS_TEST_TMPDIR/dport" "$BATS_TEST_TMPDIR/ports"
  start_server -A 127.0.0.1 --dtls-port-file "$BATS_TEST_TMPDIR/dport" \
    --ports-file "$BATS_TEST_TMPDIR/ports" "$@" || return 1
  for i in $(seq 1 50); do
    [ -s "$BATS_TEST_TMPDIR/dport" ] && [ -s "$BATS_TEST_TMPDIR/ports" ] && break
    sleep 0.1
  done
  DPORT=$(cat "$BATS_TEST_TMPDIR/dport")
  TPORT=$(awk '$1 == "tcp" { print $2 }' "$BATS_TEST_TMPDIR/ports")
  SPORT=$(awk '$1 == "tls" { print $2 }' "$BATS_TEST_TMPDIR/ports")
  WPORT=$(awk '$1 == "ws" { print $2 }' "$BATS_TEST_TMPDIR/ports")
}

make_certs() {
  CERTS="$BATS_TEST_TMPDIR/certs"
  "$COAPKIT_SRCDIR/scripts/mkcerts" "$CERTS" >/dev/null 2>&1
}

@test "DTLS PSK: handshake reported apart from the pings, answered with RST" {
  start_secure_server -k s3cret
  t="coaps://127.0.0.1:$DPORT"
  run probe -c 2 -i 0.2 -W "$(vg_secs 2)" -u me -k s3cret --json "$t"
  [ "$status" -eq 0 ]
  [ "$(jq -s '[.[] | select(.event == "reply" and .answer == "RST")] | length' <<<"$output")" -eq 2 ]
  [ "$(jq -s '[.[] | select(.event == "handshake")] | length' <<<"$output")" -eq 1 ]
  jq -se '[.[] | select(.event == "handshake")][0] | (.handshake_ms | type) == "number" and .proto == "DTLS"' <<<"$output"
  jq -se '[.[] | select(.event == "summary")][0] | (.handshake_ms | type) == "number" and .proto == "DTLS" and .received == 2' <<<"$output"
  jq -se '[.[] | select(.event == "start")][0].proto == "DTLS"' <<<"$output"
}

@test "DTLS certificates: text output shows the handshake and RST answers" {
  make_certs
  start_secure_server -c "$CERTS/server.pem" -j "$CERTS/server.key" -C "$CERTS/ca.pem"
  t="coaps://localhost:$DPORT"
  run probe -c 2 -i 0.2 -W "$(vg_secs 2)" --cert "$CERTS/client.pem" \
    -j "$CERTS/client.key" -C "$CERTS/ca.pem" "$t"
  [ "$status" -eq 0 ]
  grep -q "^PING $t (127.0.0.1:$DPORT) over DTLS$" <<<"$output"
  grep -qE "^$t: DTLS handshake [0-9.]+ ms$" <<<"$output"
  [ "$(grep -c "^$t: seq=[12] RST rtt=" <<<"$output")" -eq 2 ]
  grep -qE "^2 sent, 2 received, 0.0% loss, handshake [0-9.]+ ms \(DTLS\)$" <<<"$output"
  # A certificate from another CA: the handshake fails, the target counts
  # as not answered (exit 1) and the reason is on stderr.
  run probe -c 1 -W "$(vg_secs 2)" -R "$CERTS/other-ca.pem" "$t"
  [ "$status" -eq 1 ]
  grep -q "0 sent, 0 received, 100% loss, error: DTLS handshake failed" <<<"$output"
}

@test "TCP, TLS and WebSockets against our server: Pong answers" {
  start_secure_server -k s3cret --ws-port 0
  tcp="coap+tcp://127.0.0.1:$TPORT"
  tls="coaps+tcp://127.0.0.1:$SPORT"
  ws="coap+ws://127.0.0.1:$WPORT"
  run probe -c 2 -i 0.2 -W "$(vg_secs 2)" -u me -k s3cret "$tcp" "$tls" "$ws"
  [ "$status" -eq 0 ]
  for t in "$tcp" "$tls" "$ws"; do
    [ "$(grep -c "^$t: seq=[12] Pong rtt=" <<<"$output")" -eq 2 ] || { echo "$t"; false; }
  done
  grep -q "^PING $tcp (127.0.0.1:$TPORT) over TCP$" <<<"$output"
  grep -q "^PING $tls (127.0.0.1:$SPORT) over TLS$" <<<"$output"
  grep -q "^$tls: TLS handshake [0-9.]* ms$" <<<"$output"
  grep -q "^2 sent, 2 received, 0.0% loss, handshake n/a (TCP)$" <<<"$output"
  grep -qE "^2 sent, 2 received, 0.0% loss, handshake [0-9.]+ ms \(TLS\)$" <<<"$output"
}

@test "--prometheus: handshake samples for DTLS and TLS, none for UDP and TCP" {
  start_secure_server -k s3cret
  out="$BATS_TEST_TMPDIR/metrics.prom"
  run probe -c 1 -W "$(vg_secs 2)" -u me -k s3cret --prometheus "$URI" \
    "coaps://127.0.0.1:$DPORT" "coap+tcp://127.0.0.1:$TPORT" \
    "coaps+tcp://127.0.0.1:$SPORT"
  [ "$status" -eq 0 ]
  printf '%s\n' "$output" >"$out"
  run "$PROM_VALIDATE" "$out"
  echo "$output"
  [ "$status" -eq 0 ]
  grep -qE "^coap_probe_handshake_seconds\{target=\"coaps://127.0.0.1:$DPORT\"\} [0-9.e+-]+$" "$out"
  grep -qE "^coap_probe_handshake_seconds\{target=\"coaps\+tcp://127.0.0.1:$SPORT\"\} [0-9.e+-]+$" "$out"
  [ "$(grep -c '^coap_probe_handshake_seconds{' "$out")" -eq 2 ]
  [ "$(grep -c '^coap_probe_success{.*} 1$' "$out")" -eq 4 ]
}

@test "a wrong key: that target fails (exit 1), the others answer" {
  start_secure_server -k s3cret
  good="coap+tcp://127.0.0.1:$TPORT"
  run probe -c 1 -W "$(vg_secs 1)" -u me -k wrong --json "coaps://127.0.0.1:$DPORT" \
    "coaps+tcp://127.0.0.1:$SPORT" "$good"
  [ "$status" -eq 1 ]
  summaries=$(grep '"event":"summary"' <<<"$output")
  [ "$(jq -s '[.[] | select(.answered)] | length' <<<"$summaries")" -eq 1 ]
  jq -se '.[] | select(.target == "'"$good"'") | .answered' <<<"$summaries"
  # DTLS drops what it cannot decrypt: the handshake times out; TLS is told.
  jq -se '.[] | select(.proto == "DTLS") | .error == "handshake timed out" and .sent == 0' <<<"$summaries"
  jq -se '.[] | select(.proto == "TLS") | (.error | startswith("TLS handshake failed")) and .sent == 0' <<<"$summaries"
  run probe -c 1 -W "$(vg_secs 1)" -u me -k wrong -q "coaps://127.0.0.1:$DPORT"
  [ "$status" -eq 1 ]
  [ -z "$output" ]
}

@test "a dead TCP port fails at connect; its reason on stderr" {
  port=$(closed_port)
  run probe -c 2 -i 0.2 -W 1 "coap+tcp://127.0.0.1:$port"
  [ "$status" -eq 1 ]
  grep -q "^0 sent, 0 received, 100% loss, error: cannot connect$" <<<"$output"
  grep -q "coap-keepalive-probe: coap+tcp://127.0.0.1:$port: cannot connect" <<<"$output"
}

@test "TCP: a ping lost while the server is frozen is forgotten, not misattributed" {
  start_secure_server -k s3cret
  t="coap+tcp://127.0.0.1:$TPORT"
  probe_exec -c 5 -i 0.5 -W 0.4 --json "$t" >"$BATS_TEST_TMPDIR/out" 3>&- &
  PROBE_PID=$!
  wait_lines "$BATS_TEST_TMPDIR/out" '"event":"reply"' 1
  freeze_server
  wait_lines "$BATS_TEST_TMPDIR/out" '"event":"timeout"' 1
  kill -CONT "$SERVER_PID"
  SERVER_STOPPED=""
  wait_exit "$PROBE_PID"
  PROBE_PID=""
  [ "$rc" -eq 0 ]
  out=$(cat "$BATS_TEST_TMPDIR/out")
  sent=$(jq -s '[.[] | select(.event == "summary")][0].sent' <<<"$out")
  got=$(jq -s '[.[] | select(.event == "summary")][0].received' <<<"$out")
  lost=$(jq -s '[.[] | select(.event == "timeout")] | length' <<<"$out")
  [ "$sent" -eq 5 ]
  [ "$lost" -ge 1 ]
  [ $((got + lost)) -eq 5 ]
  # Each reply answers its own ping: sequence numbers never repeat.
  [ "$(jq -s '[.[] | select(.event == "reply" or .event == "timeout") | .seq] | unique | length' <<<"$out")" -eq 5 ]
}

@test "libcoap's coap-server-openssl: DTLS, TCP and TLS targets answer" {
  start_libcoap_server coap-server-openssl -k s3cret
  tls_port=$((SERVER_PORT + 1))
  # libcoap 4.3.1 now and then leaves the DTLS ping sent right after the
  # handshake unanswered (seen in about 1 run of 3 on a busy machine): two
  # pings 1.1 s apart, of which each target must answer at least one, the
  # streams with Pong and DTLS with RST.
  local t dtls="coaps://127.0.0.1:$tls_port" tcp="coap+tcp://127.0.0.1:$SERVER_PORT"
  local tls="coaps+tcp://127.0.0.1:$tls_port"
  run probe -c 2 -i 1.1 -W "$(vg_secs 2)" -u me -k s3cret --json "$dtls" "$tcp" "$tls"
  [ "$status" -eq 0 ]
  for t in "$tcp" "$tls"; do
    [ "$(jq -s --arg t "$t" '[.[] | select(.target == $t and .event == "reply" and .answer == "Pong")] | length' <<<"$output")" -ge 1 ]
  done
  [ "$(jq -s --arg t "$dtls" '[.[] | select(.target == $t and .event == "reply" and .answer == "RST")] | length' <<<"$output")" -ge 1 ]
  [ "$(jq -s '[.[] | select(.event == "reply" and .answer != "Pong" and .answer != "RST")] | length' <<<"$output")" -eq 0 ]
  [ "$(jq -s '[.[] | select(.event == "summary" and (.handshake_ms | type) == "number")] | length' <<<"$output")" -eq 2 ]
}

@test "--watch over TCP and TLS: down when the server goes, up when it is back" {
  start_secure_server -k s3cret
  tcp="coap+tcp://127.0.0.1:$TPORT"
  tls="coaps+tcp://127.0.0.1:$SPORT"
  udp_port=$SERVER_PORT
  probe_exec --watch -K 1 -W "$(vg_secs 1)" -w "$(vg_secs 30)" -u me -k s3cret --json "$tcp" "$tls" \
    >"$BATS_TEST_TMPDIR/out" 2>/dev/null 3>&- &
  PROBE_PID=$!
  wait_lines "$BATS_TEST_TMPDIR/out" '"event":"up"' 2
  stop_server
  wait_lines "$BATS_TEST_TMPDIR/out" '"event":"down"' 2
  server_exec -A 127.0.0.1 -p "$udp_port" --tcp-port "$TPORT" --tls-port "$SPORT" \
    --dtls-port 0 -k s3cret 2>"$BATS_TEST_TMPDIR/server2.log" 3>&- &
  SERVER_PID=$!
  SERVER_OURS=1
  wait_lines "$BATS_TEST_TMPDIR/out" '"event":"up"' 4
  kill -INT "$PROBE_PID"
  wait_exit "$PROBE_PID"
  PROBE_PID=""
  [ "$rc" -eq 0 ]
  out=$(cat "$BATS_TEST_TMPDIR/out")
  for t in "$tcp" "$tls"; do
    [ "$(jq -s --arg t "$t" '[.[] | select(.target == $t and .event == "up")] | length' <<<"$out")" -eq 2 ]
    [ "$(jq -s --arg t "$t" '[.[] | select(.target == $t and .event == "down")] | length' <<<"$out")" -eq 1 ]
  done
}
