#!/usr/bin/env bats
# Observe (RFC 7641): coap-client -s against our /clock and libcoap's /time,
# libcoap's client against our /clock, JSON lines, deregistration, and
# re-registration when notifications stop.

load helpers

LC_CLIENT=coap-client-notls
LC_SERVER=coap-server-notls

setup() {
  require_tools
}

# count_lines FILE: non-empty lines.
count_lines() { grep -c . "$1" || true; }

@test "-s 3 on /clock: one timestamp per line as notifications arrive" {
  start_server -A 127.0.0.1
  run --separate-stderr client -B 10 -s 3 "$URI/clock"
  [ "$status" -eq 0 ]
  printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/out"
  [ "$(count_lines "$BATS_TEST_TMPDIR/out")" -ge 2 ]
  # Every line is a whole timestamp: no two payloads run together.
  ! grep -Evq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' \
    "$BATS_TEST_TMPDIR/out"
}

@test "-s with --json: one JSON object per line, with the Observe option" {
  require_bin jq
  start_server -A 127.0.0.1
  run --separate-stderr client -B 10 -s 3 --json "$URI/clock"
  [ "$status" -eq 0 ]
  printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/out"
  [ "$(count_lines "$BATS_TEST_TMPDIR/out")" -ge 2 ]
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    [ "$(jq -r .code <<<"$line")" = "2.05" ]
    jq -e '.options | map(select(.name == "Observe")) | length == 1' <<<"$line"
  done <"$BATS_TEST_TMPDIR/out"
}

@test "-s deregisters at the end: the server logs the observer gone" {
  start_server -A 127.0.0.1 -v 7
  run client -B 10 -s 2 "$URI/clock"
  [ "$status" -eq 0 ]
  for i in $(seq 1 30); do
    grep -q "removed (deregistered)" "$SERVER_LOG" && break
    sleep 0.1
  done
  grep -q "removed (deregistered)" "$SERVER_LOG"
}

@test "-s on a resource that is not observable prints the one answer" {
  start_server -A 127.0.0.1
  run --separate-stderr client -B 10 -s 1 "$URI/large"
  [ "$status" -eq 0 ]
  [ "${#output}" -ge 4990 ]
}

@test "-s re-registers when notifications stop past Max-Age" {
  start_server -A 127.0.0.1
  client -B 30 -s 9 -v 7 "$URI/clock" >"$BATS_TEST_TMPDIR/out" \
    2>"$BATS_TEST_TMPDIR/err" 3>&- &
  local pid=$!
  sleep 1.5
  freeze_server
  sleep 4
  kill -CONT "$SERVER_PID"
  SERVER_STOPPED=""
  wait "$pid"
  grep -q "re-registering" "$BATS_TEST_TMPDIR/err"
  [ "$(count_lines "$BATS_TEST_TMPDIR/out")" -ge 3 ]
}

@test "libcoap client -s 3 -> our /clock: notifications arrive" {
  require_bin "$LC_CLIENT"
  start_server -A 127.0.0.1
  run "$LC_CLIENT" -B 10 -s 3 -v 6 "$URI/clock"
  [ "$status" -eq 0 ]
  [ "$(grep -Ec 't:(NON|CON) c:2.05 .*Observe' <<<"$output")" -ge 2 ] ||
    [ "$(grep -c 'Observe' <<<"$output")" -ge 3 ]
}

@test "our client -s 3 -> libcoap server /time: notifications arrive" {
  start_libcoap_server "$LC_SERVER"
  run --separate-stderr client -B 10 -s 3 "$URI/time"
  [ "$status" -eq 0 ]
  printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/out"
  [ "$(count_lines "$BATS_TEST_TMPDIR/out")" -ge 2 ]
}

@test "over TCP: -s on /clock, ours and libcoap's client" {
  start_server -A 127.0.0.1 --ports-file "$BATS_TEST_TMPDIR/ports"
  local tcp="coap+tcp://127.0.0.1:$(awk '$1 == "tcp" {print $2}' "$BATS_TEST_TMPDIR/ports")"
  run --separate-stderr client -B 10 -s 3 "$tcp/clock"
  [ "$status" -eq 0 ]
  printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/out"
  [ "$(count_lines "$BATS_TEST_TMPDIR/out")" -ge 2 ]
  require_bin "$LC_CLIENT"
  run "$LC_CLIENT" -B 10 -s 3 -v 6 "$tcp/clock"
  [ "$status" -eq 0 ]
  [ "$(grep -c 'Observe' <<<"$output")" -ge 2 ]
}
