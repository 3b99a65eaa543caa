# session-helpers.bash -- set-up for the session tests (coap-session-dump,
# the seed pages' example programs).  Loaded after helpers.bash.

DUMP_BIN="$COAPKIT_BUILDDIR/coap-session-dump"
SEEDS_DIR="${COAPKIT_SEEDS_DIR:-$COAPKIT_SRCDIR/../shared/seeds}"

dump() { _ck_wrap "$DUMP_BIN" "$@"; }

require_dump() {
  require_bin "$DUMP_BIN" "$CLIENT_BIN" "$SERVER_BIN"
}

# wait_for_file PATH: until PATH exists (at most ~5 s).
wait_for_file() {
  local i
  for i in $(seq 1 50); do
    [ -e "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------- seeds

# extract_examples PAGE OUTDIR: writes each example program of a seed page
# to OUTDIR/ex<N>.c (N from 1) and prints how many it wrote.  An example
# starts at a line including <coap2/coap.h> or <coap3/coap.h> and ends at the
# last line, before the next such include, where the braces balance again
# after at least one was opened; a synopsis (no braces) yields nothing.
# Only the include line is changed, to "coap.h".
extract_examples() {
  awk -v out="$2" '
    function flush(   i, f) {
      if (inex && last > 0) {
        n++
        f = out "/ex" n ".c"
        for (i = 1; i <= last; i++) print buf[i] > f
        close(f)
      }
      inex = 0; cnt = 0; last = 0; depth = 0; opened = 0
    }
    /^[ \t]*#[ \t]*include[ \t]*<coap[23]\/coap\.h>/ {
      flush()
      inex = 1
      buf[++cnt] = "#include \"coap.h\""
      next
    }
    inex {
      buf[++cnt] = $0
      line = $0
      o = gsub(/\{/, "{", line)
      c = gsub(/\}/, "}", line)
      depth += o - c
      if (o > 0) opened = 1
      if (opened && depth == 0 && (o > 0 || c > 0)) last = cnt
    }
    END { flush(); print n + 0 }
  ' "$1"
}

# _seed_arg NAME TYPE: the C expression main() passes for a parameter of an
# example's set-up function, chosen by the parameter's name.
_seed_arg() {
  case "$1" in
    ip_address) echo "ip" ;;
    host) echo '"localhost"' ;;
    server_ud) echo "argv[1]" ;;
    public_cert_file) echo '"client.crt"' ;;
    private_key_file) echo '"client.key"' ;;
    ca_file) echo '"ca.crt"' ;;
    identity)
      case "$2" in *uint8_t*) echo '(const uint8_t *)"client-id"' ;; *) echo '"client-id"' ;; esac ;;
    identity_len) echo "9" ;;
    key) echo '(const uint8_t *)"secretkey"' ;;
    key_len) echo "9" ;;
    *) return 1 ;;
  esac
}

# seed_main EXAMPLE.c: appends a main() that calls the example's set-up
# function (the last setup_client_session* it defines) and prints what the
# session looks like.  Fails when a parameter is not understood.
seed_main() {
  local src="$1" sig fn params p name type args="" arg
  sig=$(tr '\n\t' '  ' <"$src" | grep -o 'setup_client_session[a-z_]* *([^)]*)' | tail -n 1)
  [ -n "$sig" ] || { echo "no set-up function in $src" >&2; return 1; }
  fn=$(sed 's/ *(.*//' <<<"$sig")
  params=$(sed 's/^[^(]*(//; s/)$//' <<<"$sig")
  IFS=',' read -ra plist <<<"$params"
  for p in "${plist[@]}"; do
    p=$(sed 's/^ *//; s/ *$//; s/  */ /g' <<<"$p")
    name=$(sed 's/.*[ *]//' <<<"$p")
    type=${p%"$name"}
    arg=$(_seed_arg "$name" "$type") || { echo "unknown parameter '$p' of $fn" >&2; return 1; }
    args="${args:+$args, }$arg"
  done
  cat >>"$src" <<EOF

/* ---- appended by seed-examples.bats ---- */
#include <stdio.h>
#include <sys/stat.h>
int
main(int argc, char **argv)
{
  struct in_addr ip;
  coap_session_t *s;
  coap_context_t *ctx;
  unsigned char l[128], r[128];
  char unix_local[sizeof(((struct sockaddr_un *)0)->sun_path)] = "";
  struct stat st;

  (void)argc;
  coap_startup();
  inet_pton(AF_INET, "127.0.0.1", &ip);
  printf("dtls_supported=%d\n", coap_dtls_is_supported());
  s = $fn($args);
  if (!s) {
    printf("session=NULL\n");
    return 0;
  }
  ctx = coap_session_get_context(s);
  coap_print_addr(coap_session_get_addr_local(s), l, sizeof(l));
  coap_print_addr(coap_session_get_addr_remote(s), r, sizeof(r));
  printf("session=created refcount=%u type=%d proto=%s state=%d\n",
         coap_session_get_refcount(s), (int)coap_session_get_type(s),
         coap_proto_name(coap_session_get_proto(s)),
         (int)coap_session_get_state(s));
  printf("local=%s remote=%s\n", l, r);
  if (coap_session_get_addr_local(s)->addr.sa.sa_family == AF_UNIX)
    snprintf(unix_local, sizeof(unix_local), "%s",
             coap_session_get_addr_local(s)->addr.cun.sun_path);
  else
    printf("local_port=%u\n",
           (unsigned)coap_address_get_port(coap_session_get_addr_local(s)));
  printf("ping=%s\n",
         coap_session_send_ping(s) != COAP_INVALID_MID ? "sent" : "failed");
  coap_session_release(s);
  if (unix_local[0])
    printf("unix_local_removed=%s\n", stat(unix_local, &st) != 0 ? "yes" : "no");
  coap_free_context(ctx);
  coap_cleanup();
  return 0;
}
EOF
}

# seed_build EXAMPLE.c: compiles and links it against the built library.
seed_build() {
  local src="$1" lib="$COAPKIT_BUILDDIR/lib/.libs/libcoapkit.a" extra=""
  [ -f "$lib" ] || { echo "$lib is not built" >&2; return 1; }
  if nm "$lib" 2>/dev/null | grep -q '__asan_init'; then
    extra="-fsanitize=address,undefined"
  fi
  # shellcheck disable=SC2046,SC2086
  ${CC:-cc} -std=gnu11 -w $extra -I"$COAPKIT_SRCDIR/lib" -o "${src%.c}" "$src" \
    "$lib" $(pkg-config --libs libssl libcrypto 2>/dev/null)
}
