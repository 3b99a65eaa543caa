/*
 * client.c -- one request, from URI to exit status (see client.h).
 */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "coap.h"
#include "exitcode.h"
#include "output.h"
#include "session_render.h"
#include "watch.h"

/* Nothing larger can fit one datagram; refuse it before reading more. */
/* Block-wise transfer sends any size; this bounds the memory it takes. */
#define CK_PAYLOAD_READ_MAX (256u * 1024u * 1024u)

void
ck_request_config_init(ck_request_config_t *cfg)
{
  /* Not the -O table: zeroing its 33 kB would fault in nine pages on
   * every start for entries nobody reads past option_count. */
  memset(cfg, 0, offsetof(ck_request_config_t, options));
  cfg->method = COAP_REQUEST_CODE_GET;
  cfg->content_format = -1;
  cfg->accept = -1;
  cfg->wait_ms = CK_DEFAULT_WAIT_MS;
  cfg->log_level = COAP_LOG_WARN;
}

/* ---------------------------------------------------------------- target */

/* Schemes the library knows of that this build cannot speak yet. */
static const char *const unsupported_schemes[] = {
  "http", "https",
};

static int
check_scheme(const char *uri)
{
  const char *sep = strstr(uri, "://");
  size_t n, i;

  if (sep == NULL)
    return ck_usage_error("bad URI '%s': expected coap://host[:port]/path",
                          uri);
  n = (size_t)(sep - uri);
  if ((n == 4 && strncasecmp(uri, "coap", 4) == 0) ||
      (n == 5 && strncasecmp(uri, "coaps", 5) == 0) ||
      (n == 8 && strncasecmp(uri, "coap+tcp", 8) == 0) ||
      (n == 9 && strncasecmp(uri, "coaps+tcp", 9) == 0) ||
      (n == 7 && strncasecmp(uri, "coap+ws", 7) == 0) ||
      (n == 8 && strncasecmp(uri, "coaps+ws", 8) == 0))
    return 0;
  for (i = 0; i < sizeof(unsupported_schemes) / sizeof(*unsupported_schemes);
       i++) {
    if (strlen(unsupported_schemes[i]) == n &&
        strncasecmp(uri, unsupported_schemes[i], n) == 0)
      return ck_usage_error("%s:// is not supported in this build",
                            unsupported_schemes[i]);
  }
  return ck_usage_error("bad URI '%s': unknown scheme", uri);
}

int
ck_target_parse(ck_target_t *target, const char *uri)
{
  int rc;

  memset(target, 0, sizeof(*target));
  rc = check_scheme(uri);
  if (rc != 0)
    return rc;
  if (coap_split_uri((const uint8_t *)uri, strlen(uri), &target->uri) < 0 ||
      target->uri.host.length == 0)
    return ck_usage_error("bad URI '%s'", uri);
  if (coap_uri_scheme_proto(target->uri.scheme) == COAP_PROTO_NONE)
    return ck_usage_error("only coap, coaps, coap+tcp, coaps+tcp, coap+ws "
                          "and coaps+ws URIs are supported");
  return 0;
}

static int
resolve_remote(ck_target_t *target)
{
  const coap_uri_t *uri = &target->uri;

  if (!coap_uri_to_address(uri, &target->remote)) {
    ck_diag("cannot resolve '%.*s'", (int)uri->host.length,
            (const char *)uri->host.s);
    return CK_EXIT_NETWORK;
  }
  if (!coap_is_af_unix(&target->remote))
    coap_address_set_port(&target->remote,
                          uri->port ? uri->port
                                    : coap_uri_scheme_default_port(uri->scheme));
  return 0;
}

/* A fresh socket path: a Unix-domain client needs its own bound name for
 * the server's answer to reach it. */
static int
unix_local(ck_target_t *target, const char *path)
{
  struct sockaddr_un *sun = &target->local.addr.cun;
  unsigned int nonce = 0;

  if (path == NULL) {
    if (getentropy(&nonce, sizeof(nonce)) != 0)
      nonce = (unsigned int)coap_ticks_ms();
    snprintf(target->unix_path, sizeof(target->unix_path),
             "/tmp/coap-client.%ld.%08x", (long)getpid(), nonce);
    path = target->unix_path;
  }
  if (strlen(path) >= sizeof(sun->sun_path))
    return ck_usage_error("local socket path too long: %s", path);
  coap_address_init(&target->local);
  sun->sun_family = AF_UNIX;
  memcpy(sun->sun_path, path, strlen(path) + 1);
  target->local.size = sizeof(struct sockaddr_un);
  target->have_local = 1;
  return 0;
}

static int
resolve_local(ck_target_t *target, const char *address, int have_port,
              uint16_t port)
{
  int family = target->remote.addr.sa.sa_family;
  char host[256];
  size_t n;

  if (family == AF_UNIX)
    return unix_local(target, address);
  if (address == NULL && !have_port)
    return 0;
  if (address == NULL)
    address = family == AF_INET6 ? "::" : "0.0.0.0";
  n = strlen(address);
  if (n >= 2 && address[0] == '[' && address[n - 1] == ']') {
    address++;
    n -= 2;
  }
  if (n >= sizeof(host))
    return ck_usage_error("bad local address");
  memcpy(host, address, n);
  host[n] = '\0';
  if (!coap_resolve_address(host, port, family, &target->local)) {
    ck_diag("cannot use local address '%s' for a %s peer", host,
            family == AF_INET6 ? "IPv6" : "IPv4");
    return CK_EXIT_NETWORK;
  }
  coap_address_set_port(&target->local, port);
  target->have_local = 1;
  return 0;
}

/* coaps://: the URI's host is the name the certificate must carry. */
static coap_session_t *
secure_session(ck_target_t *target, coap_proto_t proto)
{
  static ck_keys_t none;
  ck_keys_t *keys = target->keys;
  char host[256];

  if (keys == NULL) {
    ck_keys_init(&none, CK_KEYS_CLIENT);
    keys = &none;
  }
  snprintf(host, sizeof(host), "%.*s", (int)target->uri.host.length,
           (const char *)target->uri.host.s);
  return ck_keys_client_session(keys, target->context,
                                target->have_local ? &target->local : NULL,
                                &target->remote, proto, host);
}

void
ck_ws_host(coap_session_t *session, const coap_uri_t *uri)
{
  coap_proto_t proto = coap_session_get_proto(session);
  const coap_address_t *ra = coap_session_get_addr_remote(session);
  const uint8_t *zone;
  size_t hlen = uri->host.length;
  char host[300];
  int n;

  if ((proto != COAP_PROTO_WS && proto != COAP_PROTO_WSS) || !ra ||
      coap_is_af_unix(ra) || hlen == 0)
    return;
  if (memchr(uri->host.s, ':', hlen)) {
    /* An IPv6 literal: the zone names our interface, not the server's
     * host (RFC 6874 4). */
    zone = memchr(uri->host.s, '%', hlen);
    if (zone)
      hlen = (size_t)(zone - uri->host.s);
    n = snprintf(host, sizeof(host), "[%.*s]", (int)hlen,
                 (const char *)uri->host.s);
  } else
    n = snprintf(host, sizeof(host), "%.*s", (int)hlen,
                 (const char *)uri->host.s);
  if (n > 0 && (size_t)n < sizeof(host) &&
      uri->port != coap_uri_scheme_default_port(uri->scheme))
    n += snprintf(host + n, sizeof(host) - (size_t)n, ":%u", uri->port);
  if (n <= 0 || (size_t)n >= sizeof(host) ||
      !coap_ws_set_host_request(
          session, &(coap_str_const_t){(size_t)n, (const uint8_t *)host}))
    ck_diag("the WebSocket Host header stays the numeric address");
}

/* The scheme's transport; -r (libcoap's flag) moves coap:// to TCP and
 * coaps:// to TLS. */
static coap_proto_t
target_proto(const ck_target_t *target)
{
  coap_proto_t proto = coap_uri_scheme_proto(target->uri.scheme);

  if (target->tcp && proto == COAP_PROTO_UDP)
    return COAP_PROTO_TCP;
  if (target->tcp && proto == COAP_PROTO_DTLS)
    return COAP_PROTO_TLS;
  return proto;
}

int
ck_target_open(ck_target_t *target, const char *local_address,
               int have_local_port, uint16_t local_port)
{
  unsigned char addr[128];
  int rc;

  rc = resolve_remote(target);
  if (rc == 0)
    rc = resolve_local(target, local_address, have_local_port, local_port);
  if (rc != 0)
    return rc;
  target->context = coap_new_context(NULL);
  if (target->context == NULL) {
    ck_diag("cannot create a CoAP context");
    return CK_EXIT_FAILURE;
  }
  if (target->max_message_size)
    coap_context_set_csm_max_message_size(target->context,
                                          target->max_message_size);
  if (target->uri.scheme == COAP_URI_SCHEME_COAPS ||
      target->uri.scheme == COAP_URI_SCHEME_COAPS_TCP ||
      target->uri.scheme == COAP_URI_SCHEME_COAPS_WS) {
    rc = ck_tls_require(); /* loads the (D)TLS module: one line if missing */
    if (rc != 0)
      return rc;
    target->session = secure_session(target, target_proto(target));
  } else
    target->session = coap_new_client_session(
        target->context, target->have_local ? &target->local : NULL,
        &target->remote, target_proto(target));
  if (target->session == NULL) {
    coap_print_addr(&target->remote, addr, sizeof(addr));
    ck_diag("cannot open a session to %s", (const char *)addr);
    return CK_EXIT_NETWORK;
  }
  ck_ws_host(target->session, &target->uri);
  return 0;
}

void
ck_target_close(ck_target_t *target)
{
  if (target->session != NULL)
    coap_session_release(target->session);
  target->session = NULL;
  if (target->context != NULL)
    coap_free_context(target->context);
  target->context = NULL;
  /* The library may already have removed it; only our own name goes. */
  if (target->unix_path[0] != '\0')
    unlink(target->unix_path);
}

/* ---------------------------------------------------------------- request */

typedef struct exchange_t {
  const ck_request_config_t *cfg;
  uint8_t token[COAP_TOKEN_MAX_LEN];
  size_t token_length;
  uint64_t sent_ms;
  int done;
  int status;
} exchange_t;

static int
add_uint_option(coap_optlist_t **list, coap_option_num_t number,
                unsigned int value)
{
  uint8_t buf[4];
  unsigned int n = coap_encode_var_safe(buf, sizeof(buf), value);

  return coap_insert_optlist(list, coap_new_optlist(number, n, buf));
}

static int
collect_options(const ck_request_config_t *cfg, ck_target_t *target,
                coap_optlist_t **list)
{
  uint8_t scratch[2048];
  size_t i;
  int ok = 1;

  if (cfg->proxy_uri != NULL) {
    ok = coap_insert_optlist(list, coap_new_optlist(
                                       COAP_OPTION_PROXY_URI, strlen(cfg->uri),
                                       (const uint8_t *)cfg->uri));
  } else if (coap_uri_into_options(&target->uri, &target->remote, list,
                                   !cfg->no_uri_host, scratch,
                                   sizeof(scratch)) < 0) {
    return ck_usage_error("bad URI '%s': cannot encode its path or query",
                          cfg->uri);
  }
  if (ok && cfg->content_format >= 0)
    ok = add_uint_option(list, COAP_OPTION_CONTENT_FORMAT,
                         (unsigned int)cfg->content_format);
  if (ok && cfg->accept >= 0)
    ok = add_uint_option(list, COAP_OPTION_ACCEPT, (unsigned int)cfg->accept);
  if (ok && cfg->hop_limit > 0)
    ok = add_uint_option(list, COAP_OPTION_HOP_LIMIT,
                         (unsigned int)cfg->hop_limit);
  for (i = 0; ok && i < cfg->option_count; i++)
    ok = coap_insert_optlist(
        list, coap_new_optlist(cfg->options[i].number, cfg->options[i].length,
                               cfg->options[i].value));
  if (ok)
    ok = ck_watch_add_options(cfg, list); /* Observe, early Block2 */
  if (!ok) {
    ck_diag("cannot build the request options");
    return CK_EXIT_FAILURE;
  }
  return 0;
}

static int
build_request(const ck_request_config_t *cfg, ck_target_t *target,
              exchange_t *ex, const uint8_t *payload, size_t payload_len,
              coap_pdu_t **out)
{
  coap_optlist_t *list = NULL;
  coap_pdu_t *pdu;
  int rc;

  /* A request to a group is NON (RFC 7252 8.1). */
  pdu = coap_new_pdu(cfg->non || coap_is_mcast(&target->remote)
                         ? COAP_MESSAGE_NON
                         : COAP_MESSAGE_CON,
                     (coap_pdu_code_t)cfg->method, target->session);
  if (pdu == NULL) {
    ck_diag("cannot create the request");
    return CK_EXIT_FAILURE;
  }
  if (cfg->have_token) {
    memcpy(ex->token, cfg->token, cfg->token_length);
    ex->token_length = cfg->token_length;
  } else {
    ex->token_length = COAP_TOKEN_MAX_LEN;
    coap_session_new_token(target->session, &ex->token_length, ex->token);
  }
  rc = coap_add_token(pdu, ex->token_length, ex->token) ? 0 : CK_EXIT_FAILURE;
  if (rc != 0)
    ck_diag("cannot add the token");
  if (rc == 0)
    rc = collect_options(cfg, target, &list);
  if (rc == 0 && list != NULL && !coap_add_optlist_pdu(pdu, &list))
    rc = ck_usage_error("the request options do not fit in one datagram");
  /* Any size: the library sends it in Block1 blocks when it must (the
   * payload stays ours until the context is freed). */
  if (rc == 0 && payload_len > 0 &&
      !coap_add_data_large_request(target->session, pdu, payload_len, payload,
                                   NULL, NULL))
    rc = ck_usage_error("cannot add a payload of %zu bytes", payload_len);
  coap_delete_optlist(list);
  if (rc != 0) {
    coap_delete_pdu(pdu);
    return rc;
  }
  *out = pdu;
  return 0;
}

static exchange_t *
exchange_of(coap_session_t *session)
{
  return coap_context_get_app_data(coap_session_get_context(session));
}

static void
report_code(uint8_t code)
{
  char buf[8];
  const char *phrase = coap_response_phrase(code);

  if (coap_get_log_level() < COAP_LOG_INFO)
    return;
  snprintf(buf, sizeof(buf), "%u.%02u", code >> 5, code & 0x1fu);
  ck_diag("%s%s%s", buf, phrase ? " " : "", phrase ? phrase : "");
}

static int
deliver(const ck_request_config_t *cfg, coap_session_t *session,
        const coap_pdu_t *received, uint64_t rtt_ms)
{
  const uint8_t *data = NULL;
  size_t len = 0;
  int to_file = cfg->output_file != NULL && strcmp(cfg->output_file, "-");

  coap_get_data(received, &len, &data);
  if (cfg->json) {
    if (to_file && ck_write_payload(cfg->output_file, data, len,
                                    cfg->newline) < 0)
      return -1;
    return ck_print_response_json(received, session, rtt_ms);
  }
  return ck_write_payload(cfg->output_file, data, len, cfg->newline);
}

static coap_response_t
on_response(coap_session_t *session, const coap_pdu_t *sent,
            const coap_pdu_t *received, const coap_mid_t mid)
{
  exchange_t *ex = exchange_of(session);
  coap_bin_const_t token = coap_pdu_get_token(received);
  uint8_t code = (uint8_t)coap_pdu_get_code(received);

  (void)sent;
  (void)mid;
  if (ex == NULL || ex->done || code == COAP_EMPTY_CODE)
    return COAP_RESPONSE_OK;
  /* A late answer to someone else's request is not ours to print. */
  if (token.length != ex->token_length ||
      (token.length > 0 && memcmp(token.s, ex->token, token.length) != 0))
    return COAP_RESPONSE_OK;
  ex->done = 1;
  report_code(code);
  if (deliver(ex->cfg, session, received, coap_ticks_ms() - ex->sent_ms) < 0)
    ex->status = CK_EXIT_FILE;
  else
    ex->status = ck_exit_for_code(code);
  return COAP_RESPONSE_OK;
}

static void
on_nack(coap_session_t *session, const coap_pdu_t *sent,
        const coap_nack_reason_t reason, const coap_mid_t mid)
{
  exchange_t *ex = exchange_of(session);
  const char *why = coap_nack_reason_str(reason);

  (void)sent;
  (void)mid;
  if (ex == NULL || ex->done)
    return;
  ex->done = 1;
  ex->status = ck_exit_for_nack(reason);
  if (reason == COAP_NACK_TLS_FAILED && ck_keys_report_failure(session))
    return;
  switch (reason) {
  case COAP_NACK_TOO_MANY_RETRIES:
    ck_diag("no response: the request was retransmitted without an answer");
    break;
  case COAP_NACK_RST:
    ck_diag("the server answered with a reset (RST)");
    break;
  default: {
    unsigned char addr[128] = "";
    const coap_address_t *remote = coap_session_get_addr_remote(session);

    if (remote != NULL)
      coap_print_addr(remote, addr, sizeof(addr));
    ck_diag("the request to %s failed: %s", (const char *)addr,
            why ? why : "network error");
    break;
  }
  }
}

static int
run_loop(coap_context_t *context, exchange_t *ex, uint32_t wait_ms)
{
  uint64_t deadline = ex->sent_ms + wait_ms;

  while (!ex->done) {
    uint64_t now = coap_ticks_ms();
    uint64_t left;

    if (now >= deadline) {
      ck_diag("no response within %.3g s", wait_ms / 1000.0);
      return CK_EXIT_TIMEOUT;
    }
    left = deadline - now;
    if (coap_io_process(context, (uint32_t)(left < 1000 ? left : 1000)) < 0) {
      ck_diag("network I/O failed");
      return CK_EXIT_NETWORK;
    }
    ck_progress(context, 0);
  }
  ck_progress(context, 1);
  /* Let the library send what the response still needs (the ACK of a
   * separate CON response). */
  coap_io_process(context, COAP_IO_NO_WAIT);
  return ex->status;
}

static int
load_payload(const ck_request_config_t *cfg, uint8_t **data, size_t *len)
{
  int rc;

  *data = NULL;
  *len = 0;
  if (cfg->payload_file == NULL)
    return 0;
  rc = ck_read_file(cfg->payload_file, CK_PAYLOAD_READ_MAX, data, len);
  if (rc == -2)
    return ck_usage_error("the payload file %s is too large (at most %u MiB)",
                          cfg->payload_file, CK_PAYLOAD_READ_MAX >> 20);
  return rc < 0 ? CK_EXIT_FILE : 0;
}

static int
check_proxy_target(const ck_request_config_t *cfg)
{
  coap_uri_t uri;

  if (cfg->proxy_uri == NULL)
    return 0;
  if (coap_split_proxy_uri((const uint8_t *)cfg->uri, strlen(cfg->uri),
                           &uri) < 0)
    return ck_usage_error("bad URI '%s'", cfg->uri);
  if (strlen(cfg->uri) > CK_OPTION_VALUE_MAX)
    return ck_usage_error("the URI is too long for a Proxy-Uri option");
  return 0;
}

static int
exchange(const ck_request_config_t *cfg, ck_target_t *target,
         const uint8_t *payload, size_t payload_len)
{
  exchange_t ex;
  coap_pdu_t *pdu = NULL;
  int rc;

  memset(&ex, 0, sizeof(ex));
  ex.cfg = cfg;
  target->keys = cfg->keys;
  target->tcp = cfg->tcp;
  target->max_message_size = cfg->max_message_size;
  rc = ck_target_open(target, cfg->local_address, cfg->have_local_port,
                      cfg->local_port);
  if (rc == 0)
    rc = ck_watch_setup(cfg, target); /* block-wise, -b, --mcast-hops */
  if (rc != 0)
    return rc;
  coap_context_set_app_data(target->context, &ex);
  coap_register_response_handler(target->context, on_response);
  coap_register_nack_handler(target->context, on_nack);
  coap_context_set_keepalive(target->context, cfg->keepalive_s);
  rc = build_request(cfg, target, &ex, payload, payload_len, &pdu);
  if (rc != 0)
    return rc;
  if (ck_watch_wanted(cfg, target)) /* -s, or a group: several answers */
    return ck_watch_run(cfg, target, pdu);
  ex.sent_ms = coap_ticks_ms();
  if (coap_send(target->session, pdu) == COAP_INVALID_MID) {
    ck_diag("cannot send the request");
    return CK_EXIT_NETWORK;
  }
  rc = run_loop(target->context, &ex, cfg->wait_ms);
  if (cfg->session_summary)
    ck_session_print(stderr, target->session);
  return rc;
}

int
ck_request_run(const ck_request_config_t *cfg)
{
  ck_target_t target;
  const uint8_t *payload = NULL;
  uint8_t *loaded = NULL;
  size_t payload_len = 0;
  int rc;

  coap_startup();
  coap_set_log_level(cfg->log_level);
  rc = check_proxy_target(cfg);
  if (rc == 0)
    rc = ck_target_parse(&target,
                         cfg->proxy_uri != NULL ? cfg->proxy_uri : cfg->uri);
  if (rc == 0)
    rc = load_payload(cfg, &loaded, &payload_len);
  if (rc != 0) {
    coap_cleanup();
    return rc;
  }
  if (loaded != NULL) {
    payload = loaded;
  } else if (cfg->payload_text != NULL) {
    payload = (const uint8_t *)cfg->payload_text;
    payload_len = strlen(cfg->payload_text);
  }
  rc = exchange(cfg, &target, payload, payload_len);
  ck_target_close(&target);
  free(loaded);
  coap_cleanup();
  return rc;
}
