#!/usr/bin/env bats
# Floods against coap-server (issue #9), loopback only, bounded in count and
# time: many peers must not grow the server past --max-sessions, a
# legitimate client is answered throughout, and empty-CON pings are
# answered at a bounded rate per peer that a keepalive probe never reaches.
# The load comes from tests/tools/coap-flood.

load helpers

FLOOD_BIN="$COAPKIT_BUILDDIR/tests/tools/coap-flood"

# Per-session allowance for the RSS bound: a session costs about 0.5 KiB
# (struct, hash slot, allocator); the slack covers the dedup cache's reply
# copies and the allocator's arenas.
SESSION_KIB=2
SLACK_KIB=4096

require_flood() {
  require_tools
  require_bin "$FLOOD_BIN"
  if [ "${CK_VALGRIND:-0}" = 1 ]; then
    skip "memory and rates are not meaningful under valgrind"
  fi
}

# The coap-server process itself (start_server's $! may be the subshell
# that runs the wrapper function).
server_pid() {
  local p
  for p in "$SERVER_PID" $(pgrep -P "$SERVER_PID" 2>/dev/null); do
    case "$(readlink "/proc/$p/exe" 2>/dev/null)" in
      */coap-server) echo "$p"; return 0 ;;
    esac
  done
  return 1
}

rss_kib() {
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# ASan keeps freed memory in quarantine and shadows every byte: its RSS says
# nothing about ours.
@test "100000 peers: RSS stays bounded by --max-sessions, a client is answered throughout" {
  require_flood
  local max=1000 pid rss0 rss1 bound flood_pid i ok=0 bad=0
  start_server -A 127.0.0.1 --max-sessions "$max"
  pid=$(server_pid)
  rss0=$(rss_kib "$pid")

  "$FLOOD_BIN" ports "$SERVER_PORT" 100000 >"$BATS_TEST_TMPDIR/flood.out" 3>&- &
  flood_pid=$!
  # The legitimate client: one GET after another while the flood lasts
  # (at most 120 of them, ~60 s).
  for i in $(seq 1 120); do
    if "$CLIENT_BIN" -B 10 --quiet "$URI/time" >/dev/null 2>&1; then
      ok=$((ok + 1))
    else
      bad=$((bad + 1))
    fi
    kill -0 "$flood_pid" 2>/dev/null || break
    sleep 0.2
  done
  wait "$flood_pid"
  run cat "$BATS_TEST_TMPDIR/flood.out"
  [ "$output" = "sent 100000" ]
  echo "client: $ok answered, $bad failed during the flood"
  [ "$bad" -eq 0 ]
  [ "$ok" -ge 1 ]
  # And after it.
  run "$CLIENT_BIN" -B 10 --quiet "$URI/time"
  [ "$status" -eq 0 ]

  rss1=$(rss_kib "$pid")
  bound=$((max * SESSION_KIB + SLACK_KIB))
  echo "RSS ${rss0} KiB before, ${rss1} KiB after; growth bound ${bound} KiB"
  if sanitized; then
    skip "sanitizer build: RSS bound not checked"
  fi
  [ $((rss1 - rss0)) -le "$bound" ]
}

@test "a flood of pings from one peer gets a bounded number of RSTs" {
  require_flood
  start_server -A 127.0.0.1
  # 8 at once, then 4 a second: 200 pings and a 1 s wait get at most
  # 8 + 4 * (1 + the time the burst itself took) answers.
  run "$FLOOD_BIN" pings "$SERVER_PORT" 200 1000
  [ "$status" -eq 0 ]
  echo "$output"
  local n=${output#rst }
  [ "$n" -ge 8 ]
  [ "$n" -le 20 ]
  # The limit is per peer: another one is answered at once.
  run "$FLOOD_BIN" pings "$SERVER_PORT" 1 1000
  [ "$output" = "rst 1" ]
}

@test "a keepalive probe at one ping a second is always answered" {
  require_flood
  start_server -A 127.0.0.1
  run "$FLOOD_BIN" probe "$SERVER_PORT" 12 1000
  [ "$status" -eq 0 ]
  [ "$output" = "rst 12" ]
  # Faster than the refill (4 a second), a probe would be cut off.
  run "$FLOOD_BIN" probe "$SERVER_PORT" 40 50
  [ "$status" -eq 0 ]
  echo "$output"
  local n=${output#rst }
  [ "$n" -lt 40 ]
}

@test "uploads that never finish stay within --max-upload-total and are dropped after --upload-timeout" {
  require_flood
  local total=131072 cont full other lost held i ok=""
  start_server -A 127.0.0.1 --max-upload-total "$total" --upload-timeout 6
  # 32 peers each start a 16 KiB upload and never send its last block:
  # 512 KiB asked for, 128 KiB allowed.
  run "$FLOOD_BIN" uploads "$SERVER_PORT" 32 16
  [ "$status" -eq 0 ]
  echo "$output"
  read -r _ cont _ full _ other _ lost _ held <<<"$output"
  [ "$other" -eq 0 ]
  [ "$lost" -eq 0 ]
  [ "$cont" -ge 16 ]
  # The total was reached, and what the server still holds is within it.
  [ "$full" -ge 1 ]
  [ "$held" -gt 0 ]
  [ "$held" -le "$total" ]
  # While those uploads are held, a 40 KiB one finds no room: 5.03 (exit 5).
  head -c 40000 /dev/urandom >"$BATS_TEST_TMPDIR/body"
  run client -B 10 -m put -f "$BATS_TEST_TMPDIR/body" "$URI/upload"
  [ "$status" -eq 5 ]
  # Once the timeout has dropped them, it does, byte-exact.
  for i in $(seq 1 60); do
    if client -B 10 -m put -f "$BATS_TEST_TMPDIR/body" "$URI/upload" >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.5
  done
  [ -n "$ok" ]
  client -B 10 "$URI/upload" >"$BATS_TEST_TMPDIR/back"
  cmp "$BATS_TEST_TMPDIR/body" "$BATS_TEST_TMPDIR/back"
}

@test "--max-upload-total: a bad value is a one-line usage error (exit 2)" {
  require_tools
  run "$SERVER_BIN" --max-upload-total 8
  [ "$status" -eq 2 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"--max-upload-total"* ]]
}
