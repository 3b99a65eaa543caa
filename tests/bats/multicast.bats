#!/usr/bin/env bats
# Groups (RFC 7252 section 8) inside network namespaces this file creates:
# one client namespace with a bridge, two server namespaces on it.  Skipped
# where namespaces cannot be made (no root, no CAP_SYS_ADMIN, no iproute2).

load helpers

NS_TAG="ck$$"
NS_C="${NS_TAG}c"
NS_1="${NS_TAG}s1"
NS_2="${NS_TAG}s2"
SERVER_PIDS=()

can_netns() {
  command -v ip >/dev/null 2>&1 || return 1
  ip netns add "${NS_TAG}probe" 2>/dev/null || return 1
  ip netns del "${NS_TAG}probe"
}

# Two server namespaces (10.99.0.2, 10.99.0.3) bridged to a client one
# (10.99.0.1); IPv4 and IPv6 multicast routed over the link.
make_topology() {
  ip netns add "$NS_C" && ip netns add "$NS_1" && ip netns add "$NS_2" || return 1
  local n
  for n in "$NS_C" "$NS_1" "$NS_2"; do
    # No duplicate address detection: addresses usable at once.
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
      net.ipv6.conf.default.accept_dad=0 2>/dev/null || true
  done
  ip -n "$NS_C" link set lo up
  ip -n "$NS_C" link add br0 type bridge || return 1
  ip -n "$NS_C" link set br0 up
  local i ns
  for i in 1 2; do
    ns="${NS_TAG}s$i"
    ip -n "$NS_C" link add "v$i" type veth peer name e0 netns "$ns" || return 1
    ip -n "$NS_C" link set "v$i" master br0
    ip -n "$NS_C" link set "v$i" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set e0 up
    ip -n "$ns" addr add "10.99.0.$((i + 1))/24" dev e0
    ip -n "$ns" addr add "fd00:99::$((i + 1))/64" dev e0 nodad 2>/dev/null || true
    ip -n "$ns" route add 224.0.0.0/4 dev e0
  done
  ip -n "$NS_C" addr add 10.99.0.1/24 dev br0
  ip -n "$NS_C" addr add fd00:99::1/64 dev br0 nodad 2>/dev/null || true
  ip -n "$NS_C" route add 224.0.0.0/4 dev br0
}

setup() {
  require_tools
  [ "$(id -u)" = 0 ] || skip "network namespaces need root"
  can_netns || skip "cannot create network namespaces here"
  make_topology || skip "cannot build the test network"
}

teardown() {
  local p
  for p in "${SERVER_PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  ip netns del "$NS_C" 2>/dev/null || true
  ip netns del "$NS_1" 2>/dev/null || true
  ip netns del "$NS_2" 2>/dev/null || true
}

# start_member NS ARGS...: our server in NS on port 5683 (a fresh namespace
# has nothing else on it), joined as ARGS say.
start_member() {
  local ns="$1" i
  shift
  ip netns exec "$ns" "$SERVER_BIN" -p 5683 --mcast-leisure 300 "$@" \
    2>"$BATS_TEST_TMPDIR/$ns.log" 3>&- &
  SERVER_PIDS+=($!)
  for i in $(seq 1 50); do
    ip netns exec "$ns" ss -uln 2>/dev/null | grep -q ':5683 ' && return 0
    sleep 0.1
  done
  cat "$BATS_TEST_TMPDIR/$ns.log" >&2
  return 1
}

in_client() { ip netns exec "$NS_C" "$CLIENT_BIN" "$@"; }

@test "a GET to 224.0.1.187 collects both members' answers with their sources" {
  start_member "$NS_1" -g 224.0.1.187
  start_member "$NS_2" -g 224.0.1.187
  run in_client -B 2 coap://224.0.1.187/time
  [ "$status" -eq 0 ]
  [[ "$output" == *10.99.0.2:5683* ]]
  [[ "$output" == *10.99.0.3:5683* ]]
  [ "$(grep -c . <<<"$output")" -eq 2 ]
}

@test "--json to a group: one object per answer, each with its source" {
  require_bin jq
  start_member "$NS_1" -g 224.0.1.187
  start_member "$NS_2" -g 224.0.1.187
  run --separate-stderr in_client -B 2 --json coap://224.0.1.187/time
  [ "$status" -eq 0 ]
  [ "$(jq -r .type <<<"$output" | sort -u)" = NON ]
  [ "$(jq -r .source <<<"$output" | sort | tr '\n' ' ')" = "10.99.0.2:5683 10.99.0.3:5683 " ]
}

@test "errors to a group stay silent: nothing before -B, exit 6" {
  start_member "$NS_1" -g 224.0.1.187
  run in_client -B 1 coap://224.0.1.187/no-such-resource
  [ "$status" -eq 6 ]
  [[ "$output" != *4.04* ]]
}

@test "the same server still answers unicast errors" {
  start_member "$NS_1" -g 224.0.1.187
  run in_client -B 3 coap://10.99.0.2/no-such-resource
  [ "$status" -eq 4 ]
}

@test "-g all joins the All-CoAP-Nodes groups; a member not joined is silent" {
  start_member "$NS_1" -g all
  start_member "$NS_2"
  run in_client -B 2 coap://224.0.1.187/time
  [ "$status" -eq 0 ]
  [[ "$output" == *10.99.0.2:5683* ]]
  [[ "$output" != *10.99.0.3:5683* ]]
}

@test "--mcast-hops: the hop limit is accepted and checked" {
  start_member "$NS_1" -g 224.0.1.187
  run in_client -B 2 --mcast-hops 1 coap://224.0.1.187/time
  [ "$status" -eq 0 ]
  [[ "$output" == *10.99.0.2:5683* ]]
  run in_client --mcast-hops 300 coap://224.0.1.187/time
  [ "$status" -eq 2 ]
}

@test "IPv6: ff05::fd and ff02::fd (with a zone) reach the members" {
  ip -n "$NS_C" -6 route show table local 2>/dev/null | grep -q 'ff00::/8 dev br0' ||
    skip "no IPv6 multicast route in the test network"
  start_member "$NS_1" -g all
  start_member "$NS_2" -g ff05::fd
  run in_client -B 2 "coap://[ff05::fd]/time"
  [ "$status" -eq 0 ]
  [[ "$output" == *"[fd00:99::2]:5683"* ]]
  [[ "$output" == *"[fd00:99::3]:5683"* ]]
  run in_client -B 2 "coap://[ff02::fd%25br0]/time"
  [ "$status" -eq 0 ]
  [ "$(grep -c . <<<"$output")" -eq 1 ]
}
