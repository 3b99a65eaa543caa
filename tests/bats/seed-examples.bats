#!/usr/bin/env bats
# The example programs of the seed pages (../shared/seeds), extracted at test
# time, build against lib/ with only their #include line changed, link, and
# create a session: a UDP or Unix-domain one with reference count 1; a DTLS
# one (PSK, PKI, anonymous) is refused with NULL while the library has no
# DTLS, and has reference count 1 once it has.  The
# examples' code is never stored in the tree.

load helpers
load session-helpers

setup() {
  [ -d "$SEEDS_DIR" ] || skip "seed pages not found in $SEEDS_DIR"
  command -v "${CC:-cc}" >/dev/null || skip "no C compiler (${CC:-cc})"
  [ -f "$COAPKIT_BUILDDIR/lib/.libs/libcoapkit.a" ] || skip "lib/ is not built"
}

# run_example FILE: builds and runs one extracted example; sets output.
run_example() {
  seed_main "$1"
  seed_build "$1"
  run "${1%.c}" "$BATS_TEST_TMPDIR/no-server.sock"
  [ "$status" -eq 0 ]
}

@test "seed pages: the example sections yield programs, synopses do not" {
  local page n total=0 d
  for page in "$SEEDS_DIR"/*.txt; do
    d="$BATS_TEST_TMPDIR/$(basename "$page" .txt)"
    mkdir -p "$d"
    n=$(extract_examples "$page" "$d")
    if grep -q '^EXAMPLES\|^ *EXAMPLES$\|CoAP Client Non-Encrypted Setup' "$page"; then
      [ "$n" -gt 0 ] || { echo "no example found in $page" >&2; return 1; }
    else
      [ "$n" -eq 0 ] || { echo "$n examples found in $page, which has none" >&2; return 1; }
    fi
    total=$((total + n))
  done
  [ "$total" -gt 0 ]
}

@test "seed pages: every example compiles, links and behaves as documented" {
  local page d ex kind udp=0 unix=0 dtls=0
  for page in "$SEEDS_DIR"/*.txt; do
    d="$BATS_TEST_TMPDIR/$(basename "$page" .txt)"
    mkdir -p "$d"
    [ "$(extract_examples "$page" "$d")" -gt 0 ] || continue
    for ex in "$d"/ex*.c; do
      grep -q '^#include "coap.h"$' "$ex"
      ! grep -q '<coap[23]/coap.h>' "$ex"
      # Classified before main() is appended (main mentions AF_UNIX too).
      kind=udp
      grep -q 'AF_UNIX' "$ex" && kind=unix
      grep -q 'COAP_PROTO_DTLS' "$ex" && kind=dtls
      run_example "$ex" || { echo "$ex failed: $output" >&2; return 1; }
      if [ "$kind" = dtls ] && grep -q '^dtls_supported=0$' <<<"$output"; then
        # Without DTLS: compiled, linked, and refused.
        grep -q '^session=NULL$' <<<"$output" || { echo "$ex: $output" >&2; return 1; }
        dtls=$((dtls + 1))
      elif [ "$kind" = dtls ]; then
        # With DTLS the session exists (its handshake needs a server; the PKI
        # examples name certificate files that do not exist, so NULL is
        # also what they may give).
        grep -q '^session=NULL$\|^session=created refcount=1 type=1 proto=DTLS ' <<<"$output" ||
          { echo "$ex: $output" >&2; return 1; }
        dtls=$((dtls + 1))
      elif [ "$kind" = unix ]; then
        grep -q '^session=created refcount=1 type=1 proto=UDP state=4$' <<<"$output" ||
          { echo "$ex: $output" >&2; return 1; }
        grep -q '^local=/tmp/client\.[0-9]* remote=.*no-server.sock$' <<<"$output" || { echo "$ex: $output" >&2; return 1; }
        grep -q '^unix_local_removed=yes$' <<<"$output"
        unix=$((unix + 1))
      else
        grep -q '^session=created refcount=1 type=1 proto=UDP state=4$' <<<"$output" ||
          { echo "$ex: $output" >&2; return 1; }
        grep -q '^local=127\.0\.0\.1:[0-9]* remote=127\.0\.0\.1:5683$' <<<"$output"
        ! grep -q '^local_port=0$' <<<"$output"
        grep -q '^ping=sent$' <<<"$output"
        udp=$((udp + 1))
      fi
    done
  done
  echo "# examples: udp=$udp unix=$unix dtls=$dtls" >&3
  [ "$udp" -gt 0 ] && [ "$unix" -gt 0 ] && [ "$dtls" -gt 0 ]
}
