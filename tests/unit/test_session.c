/*
 * test_session.c -- the session API (coap_session(3), coap_endpoint_client(3),
 * coap_keepalive(3)) and the UDP engine behind it, over loopback only.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coap.h"
#include "pdu_internal.h"
#include "loopback.h"
#include "tap.h"

/* ---------------------------------------------------------------- helpers */

static int handler_calls;
static int responses;
static int nacks;
static int last_nack = -1;
static coap_mid_t last_nack_mid = COAP_INVALID_MID;
static int pongs;
static int pings;
static int events_ka_failure;
static int events_server_new;
static int events_failed;
static uint8_t last_code;
static coap_pdu_type_t last_type;
static char last_payload[256];
static coap_session_t *server_seen;
static unsigned server_seen_refcount;
static coap_session_type_t server_seen_type;
static int defer_response;
static uint8_t deferred_token[8];
static size_t deferred_token_len;

static void
reset(void)
{
  handler_calls = responses = nacks = pongs = pings = 0;
  events_ka_failure = events_server_new = events_failed = 0;
  last_nack = -1;
  last_nack_mid = COAP_INVALID_MID;
  last_code = 0;
  last_payload[0] = '\0';
  server_seen = NULL;
  defer_response = 0;
}

static void
hnd_echo(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
         const coap_string_t *query, coap_pdu_t *resp)
{
  coap_bin_const_t tok = coap_pdu_get_token(req);
  char buf[64];
  int n;

  (void)r;
  handler_calls++;
  server_seen = s;
  server_seen_refcount = coap_session_get_refcount(s);
  server_seen_type = coap_session_get_type(s);
  if (defer_response) {
    deferred_token_len = tok.length;
    memcpy(deferred_token, tok.s, tok.length);
    return; /* separate response later */
  }
  n = snprintf(buf, sizeof(buf), "echo%s%.*s", query ? " " : "",
               query ? (int)query->length : 0,
               query ? (const char *)query->s : "");
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
  coap_add_data(resp, (size_t)n, (const uint8_t *)buf);
}

static coap_response_t
on_response(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
            const coap_mid_t mid)
{
  size_t len = 0;
  const uint8_t *data;

  (void)s;
  (void)sent;
  (void)mid;
  responses++;
  last_code = (uint8_t)coap_pdu_get_code(rcvd);
  last_type = coap_pdu_get_type(rcvd);
  last_payload[0] = '\0';
  if (coap_get_data(rcvd, &len, &data) && len < sizeof(last_payload)) {
    memcpy(last_payload, data, len);
    last_payload[len] = '\0';
  }
  return COAP_RESPONSE_OK;
}

static void
on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t r,
        const coap_mid_t mid)
{
  (void)s;
  (void)sent;
  nacks++;
  last_nack = r;
  last_nack_mid = mid;
}

static void
on_ping(coap_session_t *s, const coap_pdu_t *rcvd, const coap_mid_t mid)
{
  (void)s;
  (void)rcvd;
  (void)mid;
  pings++;
}

static void
on_pong(coap_session_t *s, const coap_pdu_t *rcvd, const coap_mid_t mid)
{
  (void)s;
  (void)rcvd;
  (void)mid;
  pongs++;
}

static int
on_event(coap_session_t *s, const coap_event_t ev)
{
  (void)s;
  if (ev == COAP_EVENT_KEEPALIVE_FAILURE)
    events_ka_failure++;
  if (ev == COAP_EVENT_SERVER_SESSION_NEW)
    events_server_new++;
  if (ev == COAP_EVENT_SESSION_FAILED)
    events_failed++;
  return 0;
}

static void
handlers(coap_context_t *ctx)
{
  coap_register_response_handler(ctx, on_response);
  coap_register_nack_handler(ctx, on_nack);
  coap_register_ping_handler(ctx, on_ping);
  coap_register_pong_handler(ctx, on_pong);
  coap_register_event_handler(ctx, on_event);
}

static coap_context_t *
server_ctx(const char *host, int family, coap_address_t *bound)
{
  coap_context_t *ctx;
  coap_resource_t *r;

  ctx = coap_new_context(NULL);
  if (!lb_listen(ctx, COAP_PROTO_UDP, host, family, bound)) {
    coap_free_context(ctx);
    return NULL;
  }
  r = coap_resource_init(coap_make_str_const("echo"), 0);
  coap_register_handler(r, COAP_REQUEST_GET, hnd_echo);
  coap_register_handler(r, COAP_REQUEST_PUT, hnd_echo);
  coap_add_attr(r, coap_make_str_const("rt"), coap_make_str_const("test"), 0);
  coap_add_resource(ctx, r);
  handlers(ctx);
  return ctx;
}

static coap_pdu_t *
request(coap_session_t *s, coap_pdu_type_t type, coap_pdu_code_t code,
        const char *path, const char *query)
{
  coap_pdu_t *p = coap_new_pdu(type, code, s);
  uint8_t tok[8];
  size_t tl = sizeof(tok);

  if (!p)
    return NULL;
  coap_session_new_token(s, &tl, tok);
  coap_add_token(p, tl, tok);
  if (path)
    coap_add_option(p, COAP_OPTION_URI_PATH, strlen(path),
                    (const uint8_t *)path);
  if (query)
    coap_add_option(p, COAP_OPTION_URI_QUERY, strlen(query),
                    (const uint8_t *)query);
  return p;
}

/* ---------------------------------------------------------------- tests */

static void
test_null_getters(void)
{
  coap_tls_library_t lib = COAP_TLS_LIBRARY_OPENSSL;

  ok(coap_session_reference(NULL) == NULL, "reference(NULL) is NULL");
  coap_session_release(NULL);
  coap_session_disconnected(NULL, COAP_NACK_RST);
  is_int(coap_session_set_type_client(NULL), 0, "set_type_client(NULL) is 0");
  ok(coap_session_get_app_data(NULL) == NULL, "get_app_data(NULL) is NULL");
  ok(coap_session_get_addr_local(NULL) == NULL, "get_addr_local(NULL) is NULL");
  ok(coap_session_get_addr_mcast(NULL) == NULL, "get_addr_mcast(NULL) is NULL");
  ok(coap_session_get_addr_remote(NULL) == NULL,
     "get_addr_remote(NULL) is NULL");
  ok(coap_session_get_context(NULL) == NULL, "get_context(NULL) is NULL");
  is_int(coap_session_get_ifindex(NULL), -1, "get_ifindex(NULL) is -1");
  is_int(coap_session_get_proto(NULL), 0, "get_proto(NULL) is 0");
  is_int(coap_session_get_state(NULL), 0, "get_state(NULL) is 0");
  ok(coap_session_get_tls(NULL, &lib) == NULL, "get_tls(NULL) is NULL");
  is_int(coap_session_get_type(NULL), 0, "get_type(NULL) is 0");
  ok(coap_session_get_psk_hint(NULL) == NULL, "get_psk_hint(NULL) is NULL");
  ok(coap_session_get_psk_key(NULL) == NULL, "get_psk_key(NULL) is NULL");
  is_int(coap_mcast_set_hops(NULL, 1), 0, "mcast_set_hops(NULL) is 0");
  is_int(coap_send(NULL, coap_pdu_init(COAP_MESSAGE_CON, 1, 1, 16)),
         COAP_INVALID_MID, "coap_send on a NULL session fails");
  /* Each transport says whether it is built in; TLS and WSS need both
   * their stream layer and (D)TLS. */
  ok(!coap_tls_is_supported() ||
         (coap_tcp_is_supported() && coap_dtls_is_supported()),
     "TLS support implies TCP and DTLS support");
  ok(!coap_wss_is_supported() || coap_ws_is_supported(),
     "WSS support implies WS support");
}

static void
test_client_basics(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_address_t server, zero;
  coap_session_t *s, *s2;
  coap_tls_library_t lib = COAP_TLS_LIBRARY_OPENSSL;
  uint8_t t1[8], t2[8];
  size_t l1 = 8, l2 = 8;
  uint16_t m1, m2;
  int dummy = 0;

  coap_resolve_address("127.0.0.1", 40999, AF_INET, &server);
  s = coap_new_client_session(ctx, NULL, &server, COAP_PROTO_UDP);
  ok(s != NULL, "client session created");
  if (!s)
    return;
  is_int(coap_session_get_refcount(s), 1, "client refcount starts at 1");
  is_int(coap_session_get_type(s), COAP_SESSION_TYPE_CLIENT, "type CLIENT");
  is_int(coap_session_get_state(s), COAP_SESSION_STATE_ESTABLISHED,
         "UDP client is ESTABLISHED");
  is_int(coap_session_get_proto(s), COAP_PROTO_UDP, "proto UDP");
  ok(coap_session_get_context(s) == ctx, "get_context");
  ok(coap_address_equals(coap_session_get_addr_remote(s), &server),
     "remote is the server");
  ok(coap_session_get_addr_local(s)->addr.sa.sa_family == AF_INET,
     "local is AF_INET");
  ok(coap_address_get_port(coap_session_get_addr_local(s)) != 0,
     "local has a real port with local_if NULL");
  ok(coap_session_get_addr_mcast(s) == NULL, "no mcast address for unicast");
  ok(coap_session_get_tls(s, &lib) == NULL && lib == COAP_TLS_LIBRARY_NOTLS,
     "no TLS object, library NOTLS");
  ok(coap_session_get_psk_key(s) == NULL, "no PSK key");
  ok(coap_session_get_app_data(s) == NULL, "app data starts NULL");
  coap_session_set_app_data(s, &dummy);
  ok(coap_session_get_app_data(s) == &dummy, "app data round trip");
  is_int(coap_session_max_pdu_size(s), 1152, "default max PDU size 1152");
  coap_session_set_mtu(s, 500);
  is_int(coap_session_max_pdu_size(s), 500, "set_mtu changes max_pdu_size");
  is_int(coap_session_get_mcast_hops(s), 1, "mcast hops default 1");
  is_int(coap_mcast_set_hops(s, 7), 1, "mcast_set_hops returns 1");
  is_int(coap_session_get_mcast_hops(s), 7, "mcast hops set");
  is_int(coap_mcast_set_hops(s, 300), 0, "mcast_set_hops(300) fails");
  ok(strstr(coap_session_str(s), "<->") && strstr(coap_session_str(s), "UDP") &&
         strstr(coap_session_str(s), "127.0.0.1:40999"),
     "coap_session_str shows both ends");
  m1 = coap_new_message_id(s);
  m2 = coap_new_message_id(s);
  is_int((uint16_t)(m2 - m1), 1, "message IDs increase by one");
  coap_session_new_token(s, &l1, t1);
  coap_session_new_token(s, &l2, t2);
  ok(l1 == 8 && l2 == 8 && memcmp(t1, t2, 8) != 0, "tokens are 8 fresh bytes");

  ok(coap_session_reference(s) == s, "reference returns the session");
  is_int(coap_session_get_refcount(s), 2, "reference adds one");
  coap_session_release(s);
  is_int(coap_session_get_refcount(s), 1, "release subtracts one");
  is_int(coap_session_set_type_client(s), 0,
         "set_type_client on a client session is 0");
  is_int(coap_context_get_session_count(ctx), 1, "one session in the context");
  coap_session_release(s);
  is_int(coap_context_get_session_count(ctx), 0,
         "release to 0 frees a client session");

  coap_address_init(&zero);
  coap_resolve_address("127.0.0.1", 0, AF_INET, &zero);
  s2 = coap_new_client_session(ctx, NULL, &zero, COAP_PROTO_UDP);
  is_int(coap_address_get_port(coap_session_get_addr_remote(s2)), 5683,
         "server port 0 means 5683");
  coap_session_release(s2);

  s2 = coap_new_client_session(ctx, NULL, &server, COAP_PROTO_DTLS);
  ok((s2 != NULL) == (coap_dtls_is_supported() != 0),
     "a DTLS client session exists exactly when DTLS is supported");
  coap_session_release(s2);
  coap_free_context(ctx);
}

static void
test_security_copies(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_address_t server;
  coap_session_t *s;
  uint8_t key[4] = {1, 2, 3, 4};
  char ident[] = "me";
  coap_dtls_cpsk_t cpsk;
  coap_dtls_pki_t pki;
  const coap_bin_const_t *k;

  coap_resolve_address("127.0.0.1", 40998, AF_INET, &server);
  s = coap_new_client_session_psk(ctx, NULL, &server, COAP_PROTO_UDP, ident,
                                  key, sizeof(key));
  ok(s != NULL, "psk client session over UDP");
  key[0] = 9;
  ident[0] = 'X';
  k = coap_session_get_psk_key(s);
  ok(k && k->length == 4 && k->s[0] == 1, "PSK key was deep-copied");
  k = coap_session_get_psk_identity(s);
  ok(k && k->length == 2 && memcmp(k->s, "me", 2) == 0,
     "PSK identity was deep-copied");
  ok(coap_session_get_psk_hint(s) == NULL, "no hint before a handshake");
  coap_session_release(s);

  memset(&cpsk, 0, sizeof(cpsk));
  cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
  cpsk.psk_info.identity.s = (const uint8_t *)"id2";
  cpsk.psk_info.identity.length = 3;
  cpsk.psk_info.key.s = key;
  cpsk.psk_info.key.length = 2;
  s = coap_new_client_session_psk2(ctx, NULL, &server, COAP_PROTO_DTLS, &cpsk);
  ok((s != NULL) == (coap_dtls_is_supported() != 0),
     "psk2 over DTLS exactly when DTLS is supported");
  coap_session_release(s);
  s = coap_new_client_session_psk2(ctx, NULL, &server, COAP_PROTO_UDP, &cpsk);
  k = coap_session_get_psk_key(s);
  ok(s && k && k->length == 2 && k->s[0] == 9, "psk2 key kept");
  coap_session_release(s);

  memset(&pki, 0, sizeof(pki));
  pki.version = COAP_DTLS_PKI_SETUP_VERSION;
  pki.pki_key.key_type = COAP_PKI_KEY_PEM;
  pki.pki_key.key.pem.public_cert = "/nonexistent/cert.pem";
  s = coap_new_client_session_pki(ctx, NULL, &server, COAP_PROTO_UDP, &pki);
  ok(s != NULL, "pki client session over UDP stores the settings");
  coap_session_release(s);
  s = coap_new_client_session_pki(ctx, NULL, &server, COAP_PROTO_DTLS, &pki);
  ok(s == NULL || coap_dtls_is_supported(),
     "pki over DTLS only when DTLS is supported (the certificate is missing)");
  coap_session_release(s);
  is_int(coap_context_get_session_count(ctx), 0, "all released");
  coap_free_context(ctx);
}

static void
unix_path(coap_address_t *a, const char *prefix)
{
  coap_address_init(a);
  a->addr.cun.sun_family = AF_UNIX;
  snprintf(a->addr.cun.sun_path, sizeof(a->addr.cun.sun_path), "%s.%d",
           prefix, (int)getpid());
}

static void
test_unix_local_path(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_address_t local, server;
  coap_session_t *s;
  struct stat st;

  unix_path(&local, "/tmp/coapkit-test-cl");
  unix_path(&server, "/tmp/coapkit-test-nosrv");
  unlink(local.addr.cun.sun_path);
  ok(coap_new_client_session(ctx, NULL, &server, COAP_PROTO_UDP) == NULL,
     "AF_UNIX client needs local_if");
  s = coap_new_client_session(ctx, &local, &server, COAP_PROTO_UDP);
  ok(s != NULL, "AF_UNIX client session created");
  ok(stat(local.addr.cun.sun_path, &st) == 0, "local path exists");
  coap_session_release(s);
  ok(stat(local.addr.cun.sun_path, &st) != 0, "local path removed on free");
  s = coap_new_client_session(ctx, &local, &server, COAP_PROTO_UDP);
  ok(s != NULL, "the same local path can be bound again");
  coap_session_release(s);
  coap_free_context(ctx);
}

static int
exchange(coap_context_t *cctx, coap_session_t *cs, coap_context_t *sctx,
         coap_pdu_type_t type, const char *query)
{
  reset();
  if (coap_send(cs, request(cs, type, COAP_REQUEST_CODE_GET, "echo", query)) ==
      COAP_INVALID_MID)
    return 0;
  return lb_pump(cctx, sctx, &responses, 1, 3000);
}

static void
test_roundtrip(const char *name, const char *host, int family)
{
  coap_address_t bound;
  coap_context_t *sctx = server_ctx(host, family, &bound);
  coap_context_t *cctx;
  coap_session_t *cs;
  unsigned lo = if_nametoindex("lo");

  if (!sctx) {
    printf("# %s unavailable: skipping\n", host);
    ok(1, "# SKIP %s round trip (no %s)", name, host);
    return;
  }
  ok(coap_address_get_port(&bound) != 0, "%s: endpoint port 0 was resolved",
     name);
  cctx = coap_new_context(NULL);
  handlers(cctx);
  cs = coap_new_client_session(cctx, NULL, &bound, COAP_PROTO_UDP);
  ok(exchange(cctx, cs, sctx, COAP_MESSAGE_CON, "a=1"), "%s: CON answered",
     name);
  is_int(last_code, COAP_RESPONSE_CODE_CONTENT, "response is 2.05");
  is_int(last_type, COAP_MESSAGE_ACK, "piggybacked in the ACK");
  is_str(last_payload, "echo a=1", "payload and query arrived");
  is_int(coap_session_get_ifindex(cs), (int)lo, "client ifindex is lo");
  ok(server_seen != NULL, "server handler saw a session");
  is_int(server_seen_refcount, 0, "server session refcount starts at 0");
  is_int(server_seen_type, COAP_SESSION_TYPE_SERVER, "server session type");
  is_int(coap_session_get_ifindex(server_seen), (int)lo, "server ifindex is lo");
  ok(coap_address_equals(coap_session_get_addr_remote(server_seen),
                         coap_session_get_addr_local(cs)),
     "server's remote is the client's local");
  is_int(events_server_new, 1, "SERVER_SESSION_NEW event");
  ok(exchange(cctx, cs, sctx, COAP_MESSAGE_NON, NULL), "%s: NON answered",
     name);
  is_int(last_type, COAP_MESSAGE_NON, "NON request, NON response");
  is_int(coap_context_get_session_count(sctx), 1, "one server session reused");
  coap_session_release(cs);
  coap_free_context(cctx);
  coap_free_context(sctx);
}

static void
test_unix_roundtrip(void)
{
  coap_address_t srv, local;
  coap_context_t *sctx = coap_new_context(NULL), *cctx = coap_new_context(NULL);
  coap_resource_t *r = coap_resource_init(coap_make_str_const("echo"), 0);
  coap_session_t *cs;
  struct stat st;

  unix_path(&srv, "/tmp/coapkit-test-srv");
  unix_path(&local, "/tmp/coapkit-test-cl2");
  coap_register_handler(r, COAP_REQUEST_GET, hnd_echo);
  coap_add_resource(sctx, r);
  handlers(sctx);
  handlers(cctx);
  ok(coap_new_endpoint(sctx, &srv, COAP_PROTO_UDP) != NULL,
     "AF_UNIX server endpoint");
  cs = coap_new_client_session(cctx, &local, &srv, COAP_PROTO_UDP);
  ok(exchange(cctx, cs, sctx, COAP_MESSAGE_CON, NULL),
     "AF_UNIX: request answered");
  is_str(last_payload, "echo", "AF_UNIX payload");
  coap_session_release(cs);
  coap_free_context(cctx);
  coap_free_context(sctx);
  ok(stat(srv.addr.cun.sun_path, &st) != 0, "server path removed");
}

static void
test_server_lifecycle(void)
{
  coap_address_t bound;
  coap_context_t *sctx = server_ctx("127.0.0.1", AF_INET, &bound);
  coap_context_t *cctx = coap_new_context(NULL);
  coap_session_t *cs, *ss;
  int never = 0;

  handlers(cctx);
  coap_context_set_session_timeout(sctx, 1);
  cs = coap_new_client_session(cctx, NULL, &bound, COAP_PROTO_UDP);
  ok(exchange(cctx, cs, sctx, COAP_MESSAGE_CON, NULL), "request answered");
  ss = server_seen;
  is_int(coap_context_get_session_count(sctx), 1, "server session lingers");
  lb_pump(sctx, NULL, &never, 1, 400);
  is_int(coap_context_get_session_count(sctx), 1,
         "still there before the timeout");
  lb_pump(sctx, NULL, &never, 1, 1000);
  is_int(coap_context_get_session_count(sctx), 0,
         "idle server session freed after the timeout");

  ok(exchange(cctx, cs, sctx, COAP_MESSAGE_CON, NULL), "new server session");
  ss = server_seen;
  is_int(coap_session_set_type_client(ss), 1,
         "set_type_client on a server session is 1");
  is_int(coap_session_get_refcount(ss), 1, "and adds a reference");
  is_int(coap_session_get_type(ss), COAP_SESSION_TYPE_CLIENT, "type CLIENT");
  lb_pump(sctx, NULL, &never, 1, 1300);
  is_int(coap_context_get_session_count(sctx), 1,
         "a referenced session does not expire");
  coap_session_release(ss);
  is_int(coap_context_get_session_count(sctx), 0,
         "released to 0 as a client: freed");
  coap_session_release(cs);
  coap_free_context(cctx);
  coap_free_context(sctx);
}

static void
test_disconnected(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_address_t silent;
  int fd = lb_raw_udp(&silent);
  coap_session_t *s;
  coap_mid_t mid;

  reset();
  handlers(ctx);
  s = coap_new_client_session(ctx, NULL, &silent, COAP_PROTO_UDP);
  mid = coap_send(s, request(s, COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
                             "x", NULL));
  ok(mid != COAP_INVALID_MID, "CON sent");
  is_int(coap_can_exit(ctx), 0, "cannot exit with a CON outstanding");
  coap_session_disconnected(s, COAP_NACK_NOT_DELIVERABLE);
  is_int(nacks, 1, "disconnected calls the nack handler");
  is_int(last_nack, COAP_NACK_NOT_DELIVERABLE, "with the reason");
  is_int(last_nack_mid, mid, "for the outstanding CON");
  is_int(coap_session_get_state(s), COAP_SESSION_STATE_NONE, "state NONE");
  is_int(coap_can_exit(ctx), 1, "nothing outstanding any more");
  coap_session_release(s);
  coap_free_context(ctx);
  close(fd);
}

static void
test_icmp(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_address_t dead;
  int fd = lb_raw_udp(&dead);
  coap_session_t *s;
  uint64_t t0;

  close(fd); /* nothing listens on that port now */
  reset();
  handlers(ctx);
  s = coap_new_client_session(ctx, NULL, &dead, COAP_PROTO_UDP);
  t0 = coap_ticks_ms();
  coap_send(s, request(s, COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, "x", NULL));
  lb_pump(ctx, NULL, &nacks, 1, 3000);
  is_int(last_nack, COAP_NACK_ICMP_ISSUE, "dead port: nack ICMP_ISSUE");
  ok(coap_ticks_ms() - t0 < 1000, "and quickly");
  is_int(events_failed, 1, "SESSION_FAILED event");
  coap_session_release(s);
  coap_free_context(ctx);
}

static void
test_retransmit(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_address_t silent;
  int fd = lb_raw_udp(&silent);
  coap_session_t *s;
  coap_session_stats_t st;
  uint8_t buf[256];
  int got = 0;
  uint64_t t0;

  reset();
  handlers(ctx);
  coap_context_set_transmission(ctx, 100, 1000, 2);
  s = coap_new_client_session(ctx, NULL, &silent, COAP_PROTO_UDP);
  t0 = coap_ticks_ms();
  coap_send(s, request(s, COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, "x", NULL));
  while (nacks == 0 && coap_ticks_ms() - t0 < 3000) {
    coap_io_process(ctx, 5);
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
      got++;
  }
  while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
    got++;
  is_int(got, 3, "sent once and retransmitted MAX_RETRANSMIT (2) times");
  is_int(last_nack, COAP_NACK_TOO_MANY_RETRIES, "then nack TOO_MANY_RETRIES");
  ok(coap_ticks_ms() - t0 >= 650 && coap_ticks_ms() - t0 < 1500,
     "after 100+200+400 ms");
  coap_session_get_stats(s, &st);
  is_int(st.retransmitted, 2, "stats count 2 retransmissions");
  is_int(st.sent, 3, "stats count 3 sent");
  coap_session_release(s);
  coap_free_context(ctx);
  close(fd);
}

/* The request log handler's record: how often it ran, and the last
 * request's method and the answer's code. */
static int logged;
static unsigned logged_method, logged_code;

static void
on_request_log(coap_session_t *s, const coap_pdu_t *request,
               const coap_pdu_t *response)
{
  (void)s;
  logged++;
  logged_method = coap_pdu_get_code(request);
  logged_code = coap_pdu_get_code(response);
}

static size_t
build(coap_pdu_type_t type, uint8_t code, uint16_t mid, const char *path,
      coap_option_num_t extra, uint8_t *out)
{
  coap_pdu_t *p = coap_pdu_init(type, code, mid, 64);
  const uint8_t *d;
  size_t len = 0;

  coap_add_token(p, 2, (const uint8_t *)"tk");
  if (path)
    coap_add_option(p, COAP_OPTION_URI_PATH, strlen(path),
                    (const uint8_t *)path);
  if (extra)
    coap_add_option(p, extra, 1, (const uint8_t *)"x");
  d = coap_pdu_encode_udp(p, &len);
  memcpy(out, d, len);
  coap_delete_pdu(p);
  return len;
}

static void
test_server_raw(void)
{
  coap_address_t bound, me;
  coap_context_t *sctx = server_ctx("127.0.0.1", AF_INET, &bound);
  int fd = lb_raw_udp(&me);
  uint8_t req[64], r1[256], r2[256];
  size_t len = build(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 0x1234, "echo",
                     0, req);
  ssize_t n1, n2;
  coap_session_stats_t st;
  static const uint8_t bad[] = {0x49, 0x01, 0x22, 0x33}; /* TKL 9 */
  static const uint8_t ping[] = {0x40, 0x00, 0x55, 0x66};

  reset();
  logged = 0;
  coap_register_request_log_handler(sctx, on_request_log);
  lb_raw_send(fd, &bound, req, len);
  n1 = lb_raw_recv(fd, sctx, r1, sizeof(r1), NULL, 2000, NULL);
  lb_raw_send(fd, &bound, req, len);
  n2 = lb_raw_recv(fd, sctx, r2, sizeof(r2), NULL, 2000, NULL);
  ok(n1 > 4 && n1 == n2 && memcmp(r1, r2, (size_t)n1) == 0,
     "a duplicate CON gets the same bytes");
  is_int(handler_calls, 1, "the handler ran once");
  ok(logged == 1 && logged_method == COAP_REQUEST_CODE_GET &&
         logged_code == (unsigned)r1[1],
     "the request log saw the request once, with the code sent");
  ok(server_seen && coap_session_get_stats(server_seen, &st) &&
         st.duplicates == 1 && st.received == 2,
     "stats count the duplicate");

  lb_raw_send(fd, &bound, bad, sizeof(bad));
  n1 = lb_raw_recv(fd, sctx, r1, sizeof(r1), NULL, 2000, NULL);
  ok(n1 == 4 && r1[0] == 0x70 && r1[1] == 0 && r1[2] == 0x22 && r1[3] == 0x33,
     "a malformed CON gets RST");

  len = build(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 0x2000, "echo", 2049,
              req);
  lb_raw_send(fd, &bound, req, len);
  n1 = lb_raw_recv(fd, sctx, r1, sizeof(r1), NULL, 2000, NULL);
  ok(n1 >= 4 && r1[0] == 0x62 && r1[1] == COAP_RESPONSE_CODE_BAD_OPTION &&
         r1[2] == 0x20 && r1[3] == 0x00,
     "an unknown critical option gets a piggybacked 4.02");

  len = build(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 0x2001, "nothere", 0,
              req);
  lb_raw_send(fd, &bound, req, len);
  n1 = lb_raw_recv(fd, sctx, r1, sizeof(r1), NULL, 2000, NULL);
  ok(n1 >= 4 && r1[1] == COAP_RESPONSE_CODE_NOT_FOUND, "unknown path: 4.04");
  ok(logged == 3 && logged_code == COAP_RESPONSE_CODE_NOT_FOUND,
     "the request log saw the 4.02 and the 4.04 the library sent");

  len = build(COAP_MESSAGE_CON, COAP_REQUEST_CODE_DELETE, 0x2002, "echo", 0,
              req);
  lb_raw_send(fd, &bound, req, len);
  n1 = lb_raw_recv(fd, sctx, r1, sizeof(r1), NULL, 2000, NULL);
  ok(n1 >= 4 && r1[1] == COAP_RESPONSE_CODE_NOT_ALLOWED,
     "no handler for the method: 4.05");

  lb_raw_send(fd, &bound, ping, sizeof(ping));
  n1 = lb_raw_recv(fd, sctx, r1, sizeof(r1), NULL, 2000, NULL);
  ok(n1 == 4 && r1[0] == 0x70 && r1[2] == 0x55 && r1[3] == 0x66,
     "an empty CON (ping) gets RST");
  is_int(pings, 1, "and the ping handler ran");
  ok(logged == 4 && logged_method == COAP_REQUEST_CODE_DELETE &&
         logged_code == COAP_RESPONSE_CODE_NOT_ALLOWED,
     "the request log saw the 4.05, not the ping");

  len = build(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 0x2003,
              ".well-known", 0, req);
  {
    coap_pdu_t *p = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
                                  0x2003, 64);
    const uint8_t *d;
    coap_pdu_t view;
    size_t plen;
    const uint8_t *pl;
    coap_add_option(p, COAP_OPTION_URI_PATH, 11, (const uint8_t *)".well-known");
    coap_add_option(p, COAP_OPTION_URI_PATH, 4, (const uint8_t *)"core");
    d = coap_pdu_encode_udp(p, &len);
    lb_raw_send(fd, &bound, d, len);
    coap_delete_pdu(p);
    n1 = lb_raw_recv(fd, sctx, r1, sizeof(r1), NULL, 2000, NULL);
    ok(n1 > 4 && coap_pdu_view_udp(&view, r1, (size_t)n1) == COAP_PARSE_OK &&
           coap_get_data(&view, &plen, &pl) &&
           plen == strlen("</echo>;rt=\"test\"") &&
           memcmp(pl, "</echo>;rt=\"test\"", plen) == 0,
       "/.well-known/core lists the resource");
    ok(logged == 5 && logged_code == COAP_RESPONSE_CODE_CONTENT,
       "the request log saw /.well-known/core's 2.05");
  }
  {
    /* RFC 7967: No-Response 2 suppresses 2.xx; a CON still gets its ACK. */
    coap_pdu_t *p = coap_pdu_init(COAP_MESSAGE_NON, COAP_REQUEST_CODE_GET,
                                  0x2004, 64);
    const uint8_t *d;
    uint8_t two = 2;
    coap_add_option(p, COAP_OPTION_URI_PATH, 4, (const uint8_t *)"echo");
    coap_add_option(p, COAP_OPTION_NORESPONSE, 1, &two);
    d = coap_pdu_encode_udp(p, &len);
    lb_raw_send(fd, &bound, d, len);
    ok(lb_raw_recv(fd, sctx, r1, sizeof(r1), NULL, 300, NULL) < 0,
       "No-Response 2 on a NON: nothing sent");
    coap_pdu_set_type(p, COAP_MESSAGE_CON);
    coap_pdu_set_mid(p, 0x2005);
    d = coap_pdu_encode_udp(p, &len);
    lb_raw_send(fd, &bound, d, len);
    n1 = lb_raw_recv(fd, sctx, r1, sizeof(r1), NULL, 2000, NULL);
    ok(n1 == 4 && r1[0] == 0x60 && r1[1] == 0 && r1[3] == 0x05,
       "No-Response 2 on a CON: only the empty ACK");
    coap_delete_pdu(p);
  }
  close(fd);
  coap_free_context(sctx);
}

static void
test_max_sessions(void)
{
  coap_address_t bound, me[3];
  coap_context_t *sctx = server_ctx("127.0.0.1", AF_INET, &bound);
  int fd[3];
  uint8_t req[64], resp[256];
  size_t len = build(COAP_MESSAGE_NON, COAP_REQUEST_CODE_GET, 0x3000, "echo",
                     0, req);
  int answered = 0;
  coap_session_t *first = NULL;

  reset();
  coap_context_set_max_sessions(sctx, 2);
  for (int i = 0; i < 3; i++) {
    fd[i] = lb_raw_udp(&me[i]);
    lb_raw_send(fd[i], &bound, req, len);
    if (lb_raw_recv(fd[i], sctx, resp, sizeof(resp), NULL, 2000, NULL) > 0)
      answered++;
    if (i == 0)
      first = server_seen;
  }
  is_int(answered, 3, "three peers answered with a cap of 2");
  is_int(coap_context_get_session_count(sctx), 2,
         "the longest idle session was evicted");
  ok(first != NULL && events_server_new == 3, "three sessions were created");
  /* Referenced sessions cannot be evicted: the next new peer is dropped. */
  coap_session_reference(server_seen); /* peer 2's */
  len = build(COAP_MESSAGE_NON, COAP_REQUEST_CODE_GET, 0x3001, "echo", 0, req);
  lb_raw_send(fd[1], &bound, req, len);
  ok(lb_raw_recv(fd[1], sctx, resp, sizeof(resp), NULL, 2000, NULL) > 0,
     "peer 1 still has its session");
  coap_session_reference(server_seen); /* peer 1's */
  lb_raw_send(fd[0], &bound, req, len);
  ok(lb_raw_recv(fd[0], sctx, resp, sizeof(resp), NULL, 500, NULL) < 0,
     "no session can be evicted: the datagram is dropped");
  is_int(coap_context_get_session_count(sctx), 2, "still 2 sessions");
  for (int i = 0; i < 3; i++)
    close(fd[i]);
  coap_free_context(sctx);
}

static void
test_separate_and_rst(void)
{
  coap_address_t bound, fake;
  coap_context_t *sctx = server_ctx("127.0.0.1", AF_INET, &bound);
  coap_context_t *cctx = coap_new_context(NULL);
  coap_session_t *cs, *ss;
  coap_pdu_t *resp;
  int fd = lb_raw_udp(&fake);
  uint8_t buf[256];
  ssize_t n;

  handlers(cctx);
  cs = coap_new_client_session(cctx, NULL, &bound, COAP_PROTO_UDP);
  reset();
  defer_response = 1;
  coap_send(cs, request(cs, COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, "echo",
                        NULL));
  lb_pump(cctx, sctx, &handler_calls, 1, 2000);
  lb_pump(cctx, sctx, NULL, 0, 100);
  is_int(responses, 0, "no response yet, only the empty ACK");
  is_int(coap_can_exit(cctx), 0, "client still waits for the response");
  ss = coap_session_reference(server_seen);
  resp = coap_pdu_init(COAP_MESSAGE_CON, COAP_RESPONSE_CODE_CONTENT,
                       coap_new_message_id(ss), 64);
  coap_add_token(resp, deferred_token_len, deferred_token);
  coap_add_data(resp, 4, (const uint8_t *)"late");
  ok(coap_send(ss, resp) != COAP_INVALID_MID, "separate CON response sent");
  lb_pump(cctx, sctx, &responses, 1, 2000);
  is_str(last_payload, "late", "separate response delivered");
  lb_pump(cctx, sctx, NULL, 0, 100);
  is_int(coap_can_exit(sctx), 1, "the client ACKed the CON response");
  is_int(coap_can_exit(cctx), 1, "the client transaction ended");
  coap_session_release(ss);
  coap_session_release(cs);

  /* A peer that answers our CON with RST, and sends an unknown response. */
  reset();
  cs = coap_new_client_session(cctx, NULL, &fake, COAP_PROTO_UDP);
  coap_send(cs, request(cs, COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, "x", NULL));
  n = lb_raw_recv(fd, cctx, buf, sizeof(buf), NULL, 1000, NULL);
  if (n >= 4) {
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    uint8_t rst[4] = {0x70, 0, buf[2], buf[3]};
    uint8_t unk[6] = {0x42, COAP_RESPONSE_CODE_CONTENT, 0x77, 0x01, 'z', 'z'};
    coap_address_t peer;
    coap_address_copy(&peer, coap_session_get_addr_local(cs));
    (void)from;
    (void)fl;
    lb_raw_send(fd, &peer, rst, sizeof(rst));
    lb_pump(cctx, NULL, &nacks, 1, 1000);
    is_int(last_nack, COAP_NACK_RST, "RST to a CON: nack RST");
    lb_raw_send(fd, &peer, unk, sizeof(unk));
    n = lb_raw_recv(fd, cctx, buf, sizeof(buf), NULL, 1000, NULL);
    ok(n == 4 && buf[0] == 0x70 && buf[2] == 0x77 && buf[3] == 0x01,
       "a CON response with an unknown token gets RST");
  } else {
    ok(0, "the CON reached the fake server");
    ok(0, "(skipped)");
  }
  coap_session_release(cs);
  close(fd);
  coap_free_context(cctx);
  coap_free_context(sctx);
}

static void
test_nstart(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_address_t fake;
  int fd = lb_raw_udp(&fake);
  coap_session_t *s;
  uint8_t buf[256], ack[16];
  ssize_t n;
  size_t tkl;

  reset();
  handlers(ctx);
  s = coap_new_client_session(ctx, NULL, &fake, COAP_PROTO_UDP);
  coap_send(s, request(s, COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, "a", NULL));
  coap_send(s, request(s, COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, "b", NULL));
  n = lb_raw_recv(fd, ctx, buf, sizeof(buf), NULL, 1000, NULL);
  ok(n > 4, "first CON sent");
  ok(lb_raw_recv(fd, ctx, ack, sizeof(ack), NULL, 200, NULL) < 0,
     "NSTART 1: the second CON waits");
  if (n > 4) {
    /* Piggybacked 2.05 for the first: the second may go. */
    tkl = buf[0] & 0x0F;
    ack[0] = (uint8_t)(0x60 | tkl);
    ack[1] = COAP_RESPONSE_CODE_CONTENT;
    ack[2] = buf[2];
    ack[3] = buf[3];
    memcpy(ack + 4, buf + 4, tkl);
    lb_raw_send(fd, coap_session_get_addr_local(s), ack, 4 + tkl);
  }
  n = lb_raw_recv(fd, ctx, buf, sizeof(buf), NULL, 1000, NULL);
  ok(n > 4 && responses == 1, "after the response the second CON is sent");
  coap_session_release(s);
  close(fd);
  coap_free_context(ctx);
}

static void
test_keepalive(void)
{
  coap_address_t bound, silent;
  coap_context_t *sctx = server_ctx("127.0.0.1", AF_INET, &bound);
  coap_context_t *cctx = coap_new_context(NULL);
  coap_session_t *cs;
  int fd = lb_raw_udp(&silent);

  reset();
  handlers(cctx);
  coap_context_set_keepalive(cctx, 1);
  cs = coap_new_client_session(cctx, NULL, &bound, COAP_PROTO_UDP);
  lb_pump(cctx, sctx, &pongs, 1, 3000);
  is_int(pongs, 1, "keepalive: the pong handler fires");
  is_int(pings, 1, "the server saw the ping");
  coap_session_release(cs);

  reset();
  coap_context_set_transmission(cctx, 100, 1000, 2);
  cs = coap_new_client_session(cctx, NULL, &silent, COAP_PROTO_UDP);
  lb_pump(cctx, NULL, &nacks, 1, 4000);
  is_int(last_nack, COAP_NACK_TOO_MANY_RETRIES,
         "keepalive to a silent peer: nack TOO_MANY_RETRIES");
  is_int(events_ka_failure, 1, "KEEPALIVE_FAILURE event");
  is_int(coap_session_get_state(cs), COAP_SESSION_STATE_NONE,
         "and the session is disconnected");
  coap_session_release(cs);
  close(fd);
  coap_free_context(cctx);
  coap_free_context(sctx);
}

static void
test_mcast_session(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_address_t group;
  coap_session_t *s;

  coap_resolve_address("224.0.1.187", 0, AF_INET, &group);
  ok(coap_is_mcast(&group), "224.0.1.187 is multicast");
  s = coap_new_client_session(ctx, NULL, &group, COAP_PROTO_UDP);
  ok(s && coap_session_get_addr_mcast(s) &&
         coap_address_get_port(coap_session_get_addr_mcast(s)) == 5683,
     "multicast session has a mcast address");
  is_int(coap_session_get_mcast_hops(s), 1, "hops default 1");
  is_int(coap_mcast_set_hops(s, 3), 1, "hops set on a multicast socket");
  coap_session_release(s);
  coap_free_context(ctx);
}

/* ---------------------------------------------------------------- issue 3 */

static int fd_calls;
static int fd_last;
static uint32_t fd_events;
static void *fd_arg;

static void
on_fd(coap_context_t *ctx, int fd, uint32_t events, void *arg)
{
  char c;

  (void)ctx;
  fd_calls++;
  fd_last = fd;
  fd_events = events;
  fd_arg = arg;
  if (read(fd, &c, 1) < 0)
    fd_calls += 100; /* a readable fd that cannot be read is a bug */
}

static void
on_fd_self_delete(coap_context_t *ctx, int fd, uint32_t events, void *arg)
{
  (void)events;
  (void)arg;
  fd_calls++;
  coap_context_del_fd(ctx, fd);
}

static void
test_app_fds(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  int p[2], q[2], x = 1, y = 2;

  fd_calls = 0;
  ok(pipe(p) == 0 && pipe(q) == 0, "pipes");
  is_int(coap_context_add_fd(NULL, p[0], 0x001, on_fd, &x), 0,
         "add_fd(NULL context) is 0");
  is_int(coap_context_add_fd(ctx, p[0], 0x001, NULL, &x), 0,
         "add_fd without a handler is 0");
  is_int(coap_context_add_fd(ctx, -1, 0x001, on_fd, &x), 0,
         "add_fd(-1) is 0");
  is_int(coap_context_add_fd(ctx, p[0], 0x001 /* EPOLLIN */, on_fd, &x), 1,
         "add_fd watches an application fd");
  coap_io_process(ctx, COAP_IO_NO_WAIT);
  is_int(fd_calls, 0, "nothing ready: no call");
  ok(write(p[1], "a", 1) == 1, "pipe written");
  coap_io_process(ctx, 200);
  is_int(fd_calls, 1, "readable: the handler is called once");
  ok(fd_last == p[0] && fd_arg == &x && (fd_events & 0x001),
     "with its fd, EPOLLIN and its arg");
  is_int(coap_context_add_fd(ctx, p[0], 0x001, on_fd, &y), 1,
         "adding again replaces the arg");
  ok(write(p[1], "b", 1) == 1, "pipe written again");
  coap_io_process(ctx, 200);
  ok(fd_calls == 2 && fd_arg == &y, "the new arg is passed");
  is_int(coap_context_del_fd(ctx, p[0]), 1, "del_fd");
  is_int(coap_context_del_fd(ctx, p[0]), 0, "del_fd of an unknown fd is 0");
  ok(write(p[1], "c", 1) == 1, "pipe written after del");
  coap_io_process(ctx, 50);
  is_int(fd_calls, 2, "a deleted fd is not watched");
  ok(fcntl(p[0], F_GETFD) != -1, "del_fd leaves the fd open");

  fd_calls = 0;
  coap_context_add_fd(ctx, q[0], 0x001, on_fd_self_delete, NULL);
  ok(write(q[1], "d", 1) == 1, "second pipe written");
  coap_io_process(ctx, 200);
  coap_io_process(ctx, 50);
  is_int(fd_calls, 1, "a handler may delete its own fd");
  coap_context_add_fd(ctx, q[0], 0x001, on_fd, NULL);
  coap_free_context(ctx);
  ok(fcntl(q[0], F_GETFD) != -1, "free_context leaves watched fds open");
  close(p[0]);
  close(p[1]);
  close(q[0]);
  close(q[1]);
}

static int
count_cb(coap_session_t *s, void *arg)
{
  int *n = arg;

  (void)s;
  (*n)++;
  return 0;
}

static int
stop_cb(coap_session_t *s, void *arg)
{
  (void)s;
  (void)arg;
  return 7;
}

static int
release_cb(coap_session_t *s, void *arg)
{
  (void)arg;
  if (coap_session_get_type(s) == COAP_SESSION_TYPE_CLIENT)
    coap_session_release(s);
  return 0;
}

static void
test_foreach_and_id(void)
{
  coap_address_t bound;
  coap_context_t *sctx = server_ctx("127.0.0.1", AF_INET, &bound);
  coap_context_t *cctx = coap_new_context(NULL);
  coap_session_t *a, *b;
  int n = 0;

  handlers(cctx);
  a = coap_new_client_session(cctx, NULL, &bound, COAP_PROTO_UDP);
  b = coap_new_client_session(cctx, NULL, &bound, COAP_PROTO_UDP);
  ok(coap_session_get_id(a) != 0 && coap_session_get_id(b) != 0 &&
         coap_session_get_id(a) != coap_session_get_id(b),
     "session ids are distinct and non-zero");
  ok(coap_session_get_id(NULL) == 0, "get_id(NULL) is 0");
  ok(exchange(cctx, a, sctx, COAP_MESSAGE_CON, NULL), "a: answered");
  ok(exchange(cctx, b, sctx, COAP_MESSAGE_CON, NULL), "b: answered");
  coap_context_foreach_session(cctx, count_cb, &n);
  is_int(n, 2, "foreach visits both client sessions");
  n = 0;
  coap_context_foreach_session(sctx, count_cb, &n);
  is_int(n, 2, "foreach visits the server's two sessions");
  is_int(coap_context_foreach_session(sctx, stop_cb, NULL), 7,
         "foreach stops and returns the callback's value");
  is_int(coap_context_foreach_session(NULL, count_cb, &n), 0,
         "foreach(NULL) is 0");
  coap_context_foreach_session(cctx, release_cb, NULL);
  is_int(coap_context_get_session_count(cctx), 0,
         "the callback may release the session it is given");
  coap_free_context(cctx);
  coap_free_context(sctx);
}

static int state_events, closed_events;

static int
on_state_event(coap_session_t *s, const coap_event_t ev)
{
  (void)s;
  if (ev == COAP_EVENT_SESSION_STATE)
    state_events++;
  if (ev == COAP_EVENT_SESSION_CLOSED)
    closed_events++;
  return 0;
}

static void
test_state_events(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_address_t silent, dead;
  int fd = lb_raw_udp(&silent), fd2 = lb_raw_udp(&dead);
  coap_session_t *s;
  coap_tls_summary_t t;

  state_events = closed_events = 0;
  close(fd2);
  coap_register_event_handler(ctx, on_state_event);
  s = coap_new_client_session(ctx, NULL, &silent, COAP_PROTO_UDP);
  coap_session_disconnected(s, COAP_NACK_NOT_DELIVERABLE);
  ok(state_events == 1 && closed_events == 1,
     "disconnected: one SESSION_STATE and one SESSION_CLOSED event");
  coap_session_disconnected(s, COAP_NACK_NOT_DELIVERABLE);
  ok(state_events == 1 && closed_events == 1,
     "disconnecting again signals nothing");
  coap_send(s, request(s, COAP_MESSAGE_NON, COAP_REQUEST_CODE_GET, "x", NULL));
  is_int(coap_session_get_state(s), COAP_SESSION_STATE_ESTABLISHED,
         "the next send re-establishes a UDP session");
  is_int(state_events, 2, "and signals the state change");
  ok(coap_session_get_tls_summary(s, &t) == 0 &&
         t.library == COAP_TLS_LIBRARY_NOTLS && t.cipher[0] == '\0',
     "a UDP session has no TLS summary");
  is_int(coap_session_get_tls_summary(NULL, &t), 0, "tls_summary(NULL) is 0");
  coap_session_release(s);

  s = coap_new_client_session(ctx, NULL, &dead, COAP_PROTO_UDP);
  reset();
  handlers(ctx);
  coap_send(s, request(s, COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, "x", NULL));
  lb_pump(ctx, NULL, &nacks, 1, 2000);
  is_int(last_nack, COAP_NACK_ICMP_ISSUE, "unreachable port: ICMP nack");
  is_int(coap_session_get_state(s), COAP_SESSION_STATE_NONE,
         "after ICMP the session is not established");
  coap_session_release(s);
  coap_free_context(ctx);
  close(fd);
}

static void
test_mcast_responder(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_address_t group, me, local;
  int fd = lb_raw_udp(&me);
  coap_session_t *s;
  static const uint8_t ack[] = {0x60, 0x00, 0x12, 0x34};

  coap_resolve_address("224.0.1.187", 0, AF_INET, &group);
  s = coap_new_client_session(ctx, NULL, &group, COAP_PROTO_UDP);
  ok(s != NULL, "multicast client session");
  if (!s)
    goto out;
  ok(coap_address_get_port(coap_session_get_addr_local(s)) != 0,
     "a multicast session's local port is known before any send");
  /* A unicast answer arrives from a responder (our raw socket). */
  coap_address_copy(&local, coap_session_get_addr_local(s));
  coap_resolve_address("127.0.0.1", coap_address_get_port(&local), AF_INET,
                       &local);
  lb_raw_send(fd, &local, ack, sizeof(ack));
  lb_pump(ctx, NULL, NULL, 0, 100);
  ok(coap_address_equals(coap_session_get_addr_remote(s), &me),
     "remote becomes the unicast responder");
  ok(coap_address_get_port(coap_session_get_addr_mcast(s)) == 5683,
     "the group stays in addr_mcast");
  coap_send(s, request(s, COAP_MESSAGE_NON, COAP_REQUEST_CODE_GET, "x", NULL));
  ok(coap_address_equals(coap_session_get_addr_remote(s),
                         coap_session_get_addr_mcast(s)),
     "the next send sets remote back to the group");
  coap_session_release(s);
out:
  close(fd);
  coap_free_context(ctx);
}

static void
test_idle_pool(void)
{
  coap_address_t bound;
  coap_context_t *sctx = server_ctx("127.0.0.1", AF_INET, &bound);
  coap_context_t *cctx = coap_new_context(NULL);
  coap_session_t *cs, *ss;
  coap_session_stats_t st;
  int never = 0;

  handlers(cctx);
  coap_context_set_session_timeout(sctx, 1);
  cs = coap_new_client_session(cctx, NULL, &bound, COAP_PROTO_UDP);
  ok(exchange(cctx, cs, sctx, COAP_MESSAGE_CON, NULL), "request answered");
  ss = server_seen;
  is_int(coap_session_get_refcount(ss), 0, "server session starts at 0");
  coap_session_reference(ss);
  lb_pump(sctx, NULL, &never, 1, 1300);
  is_int(coap_context_get_session_count(sctx), 1,
         "a referenced server session is not in the idle pool");
  coap_session_release(ss);
  is_int(coap_session_get_refcount(ss), 0, "released to 0");
  is_int(coap_session_get_type(ss), COAP_SESSION_TYPE_SERVER,
         "still a server session (not freed: back in the idle pool)");
  ok(coap_session_get_stats(ss, &st) && st.received == 1 && st.sent == 1,
     "server counters: 1 received, 1 sent");
  lb_pump(sctx, NULL, &never, 1, 1600);
  is_int(coap_context_get_session_count(sctx), 0,
         "freed from the idle pool after the timeout");
  ok(coap_session_get_stats(cs, &st) && st.sent == 1 && st.received == 1 &&
         st.last_rx_tx_ms >= st.created_ms,
     "client counters and times");
  coap_session_release(cs);
  coap_free_context(cctx);
  coap_free_context(sctx);
}

int
main(void)
{
  coap_startup();
  coap_set_log_level(getenv("COAPKIT_TEST_DEBUG") ? COAP_LOG_DEBUG
                                                   : COAP_LOG_CRIT);
  test_null_getters();
  test_client_basics();
  test_security_copies();
  test_unix_local_path();
  test_roundtrip("IPv4", "127.0.0.1", AF_INET);
  test_roundtrip("IPv6", "::1", AF_INET6);
  test_unix_roundtrip();
  test_server_lifecycle();
  test_disconnected();
  test_icmp();
  test_retransmit();
  test_server_raw();
  test_max_sessions();
  test_separate_and_rst();
  test_nstart();
  test_keepalive();
  test_mcast_session();
  test_app_fds();
  test_foreach_and_id();
  test_state_events();
  test_mcast_responder();
  test_idle_pool();
  coap_cleanup();
  return tap_done();
}
