/*
 * test_observe.c -- RFC 7641 Observe through the library (lib/observe.c):
 * a server context, a client context and raw UDP sockets on loopback.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "coap.h"
#include "loopback.h"
#include "tap.h"

#define TURNS_MAX 100000
#define WAIT_MS 10000

static lb_pair_t pair; /* server, client and the session between */
static coap_resource_t *obs_res, *big_res;
static int value;
static int fail_next;
static size_t big_len = 3000;

static int responses;
static uint8_t last_code;
static long last_observe;
static coap_pdu_type_t last_type;
static char last_payload[64];
static size_t last_len;
static int last_token_ok;
static uint8_t tok[8];
static size_t tok_len;

static long
observe_of(const coap_pdu_t *pdu)
{
  coap_opt_iterator_t oi;
  coap_opt_t *o = coap_check_option(pdu, COAP_OPTION_OBSERVE, &oi);

  return o ? (long)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o))
           : -1;
}

static void
hnd_obs(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
        const coap_string_t *q, coap_pdu_t *resp)
{
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "v%d", value);
  uint8_t ma[4];

  (void)r;
  (void)s;
  (void)req;
  (void)q;
  if (fail_next) {
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_NOT_FOUND);
    return;
  }
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
  coap_add_option(resp, COAP_OPTION_MAXAGE,
                  coap_encode_var_safe(ma, sizeof(ma), 60), ma);
  coap_add_data(resp, (size_t)n, (const uint8_t *)buf);
}

static void
hnd_big(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
        const coap_string_t *q, coap_pdu_t *resp)
{
  static uint8_t body[4096];

  memset(body, 'a' + value % 26, sizeof(body));
  coap_add_data_large_response(r, s, req, resp, q, 0, 60, 0, big_len, body,
                               NULL, NULL);
}

static coap_response_t
on_response(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
            const coap_mid_t mid)
{
  const uint8_t *data = NULL;
  coap_bin_const_t t = coap_pdu_get_token(rcvd);

  (void)s;
  (void)sent;
  (void)mid;
  responses++;
  last_code = (uint8_t)coap_pdu_get_code(rcvd);
  last_observe = observe_of(rcvd);
  last_type = coap_pdu_get_type(rcvd);
  last_len = 0;
  coap_get_data(rcvd, &last_len, &data);
  snprintf(last_payload, sizeof(last_payload), "%.*s",
           (int)(last_len < 63 ? last_len : 63), data ? (const char *)data : "");
  last_token_ok = t.length == tok_len && memcmp(t.s, tok, tok_len) == 0;
  return COAP_RESPONSE_OK;
}

static int
setup(void)
{
  if (!lb_pair_open(&pair, COAP_PROTO_UDP,
                    COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY))
    return 0;
  obs_res = coap_resource_init(coap_make_str_const("obs"), 0);
  coap_register_handler(obs_res, COAP_REQUEST_GET, hnd_obs);
  coap_resource_set_get_observable(obs_res, 1);
  coap_add_resource(pair.server, obs_res);
  big_res = coap_resource_init(coap_make_str_const("big"), 0);
  coap_register_handler(big_res, COAP_REQUEST_GET, hnd_big);
  coap_resource_set_get_observable(big_res, 1);
  coap_add_resource(pair.server, big_res);
  coap_register_response_handler(pair.client, on_response);
  return 1;
}

static int
run(int want)
{
  return lb_pair_run(&pair, &responses, want, TURNS_MAX, WAIT_MS);
}

/* A few turns for traffic that produces no response (ACKs, RSTs). */
static void
settle(void)
{
  lb_pair_run(&pair, NULL, 0, 200, WAIT_MS);
}

static void
observe(const char *path, coap_pdu_type_t type)
{
  coap_pdu_t *pdu = coap_new_pdu(type, COAP_REQUEST_CODE_GET, pair.session);
  uint8_t v = 0;

  tok_len = 8;
  coap_session_new_token(pair.session, &tok_len, tok);
  coap_add_token(pdu, tok_len, tok);
  coap_add_option(pdu, COAP_OPTION_OBSERVE, 0, &v);
  coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(path),
                  (const uint8_t *)path);
  coap_send(pair.session, pdu);
}

static void
test_register_notify_cancel(void)
{
  coap_binary_t t;
  long first;

  value = 1;
  responses = 0;
  observe("obs", COAP_MESSAGE_CON);
  ok(run(1) && last_code == COAP_RESPONSE_CODE_CONTENT && last_observe >= 0 &&
         strcmp(last_payload, "v1") == 0,
     "registration answered 2.05 with Observe");
  is_int(coap_resource_observer_count(obs_res), 1, "one observer");
  first = last_observe;
  value = 2;
  responses = 0;
  coap_resource_notify_observers(obs_res, NULL);
  ok(run(1) && strcmp(last_payload, "v2") == 0 && last_observe > first &&
         last_token_ok,
     "notification: new value, larger Observe, the registration's token");
  is_int(last_type, COAP_MESSAGE_NON, "notifications are NON by default");
  coap_resource_set_mode(obs_res, COAP_RESOURCE_FLAGS_NOTIFY_CON);
  value = 3;
  responses = 0;
  coap_resource_notify_observers(obs_res, NULL);
  ok(run(1) && last_type == COAP_MESSAGE_CON && strcmp(last_payload, "v3") == 0,
     "NOTIFY_CON: a CON notification");
  settle();
  ok(coap_can_exit(pair.server), "the CON notification was acknowledged");
  is_int(coap_resource_observer_count(obs_res), 1, "still one observer");
  coap_resource_set_mode(obs_res, COAP_RESOURCE_FLAGS_NOTIFY_NON);
  {
    /* NON by default, but one in every few goes CON: a vanished observer
     * must not stay for a day. */
    int cons = 0;
    for (int i = 0; i < 6; i++) {
      responses = 0;
      coap_resource_notify_observers(obs_res, NULL);
      if (run(1) && last_type == COAP_MESSAGE_CON)
        cons++;
    }
    is_int(cons, 1, "of 6 NON-mode notifications, exactly one is CON");
  }
  settle();

  /* Re-registration with the same token replaces the entry. */
  responses = 0;
  {
    coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
                                   pair.session);
    uint8_t v = 0;
    coap_add_token(pdu, tok_len, tok);
    coap_add_option(pdu, COAP_OPTION_OBSERVE, 0, &v);
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 3, (const uint8_t *)"obs");
    coap_send(pair.session, pdu);
  }
  ok(run(1), "re-registration answered");
  is_int(coap_resource_observer_count(obs_res), 1,
         "re-registration: still one observer");

  t.s = tok;
  t.length = tok_len;
  responses = 0;
  ok(coap_cancel_observe(pair.session, &t, COAP_MESSAGE_CON),
     "coap_cancel_observe sends GET with Observe 1");
  ok(run(1) && last_code == COAP_RESPONSE_CODE_CONTENT && last_observe < 0,
     "the deregistration is answered without Observe");
  is_int(coap_resource_observer_count(obs_res), 0, "no observer left");
  ok(!coap_cancel_observe(pair.session, &t, COAP_MESSAGE_CON),
     "cancelling again: nothing to cancel");
  responses = 0;
  coap_resource_notify_observers(obs_res, NULL);
  settle();
  is_int(responses, 0, "no notification after deregistration");
}

static void
test_error_ends(void)
{
  responses = 0;
  observe("obs", COAP_MESSAGE_NON);
  ok(run(1) && last_observe >= 0, "NON registration");
  fail_next = 1;
  responses = 0;
  coap_resource_notify_observers(obs_res, NULL);
  ok(run(1) && last_code == COAP_RESPONSE_CODE_NOT_FOUND && last_observe < 0,
     "an error notification carries no Observe");
  is_int(coap_resource_observer_count(obs_res), 0,
         "an error notification ends the observation");
  fail_next = 0;
  responses = 0;
  observe("obs", COAP_MESSAGE_CON);
  fail_next = 1;
  ok(run(1) && last_code == COAP_RESPONSE_CODE_NOT_FOUND && last_observe < 0,
     "an error answer to a registration carries no Observe");
  is_int(coap_resource_observer_count(obs_res), 0, "and registers nothing");
  fail_next = 0;
}

static void
test_block_notifications(void)
{
  value = 0;
  responses = 0;
  observe("big", COAP_MESSAGE_CON);
  ok(run(1) && last_len == big_len && last_payload[0] == 'a' &&
         last_observe >= 0 && last_token_ok,
     "a 3000-byte registration answer arrives whole, with Observe");
  value = 1;
  responses = 0;
  coap_resource_notify_observers(big_res, NULL);
  ok(run(1) && last_len == big_len && last_payload[0] == 'b' &&
         last_token_ok,
     "a 3000-byte notification is fetched block by block and arrives whole");
  is_int(responses, 1, "delivered once");
}

/* ---------------------------------------------------------------- raw peers */

static void
test_rst_removes(void)
{
  int fd = lb_raw_udp(NULL);
  /* CON GET, token 'x', Observe 0, Uri-Path "obs" */
  uint8_t get[] = {0x41, 0x01, 0x12, 0x34, 'x', 0x60, 0x53, 'o', 'b', 's'};
  uint8_t buf[256], rst[4];
  ssize_t n;

  lb_raw_send(fd, &pair.addr, get, sizeof(get));
  n = lb_raw_recv(fd, pair.server, buf, sizeof(buf), NULL, WAIT_MS, NULL);
  ok(n > 4 && (buf[0] & 0x30) == 0x20 && buf[1] == COAP_RESPONSE_CODE_CONTENT,
     "raw client registered");
  is_int(coap_resource_observer_count(obs_res), 1, "one observer (raw)");
  coap_resource_notify_observers(obs_res, NULL);
  n = lb_raw_recv(fd, pair.server, buf, sizeof(buf), NULL, WAIT_MS, NULL);
  ok(n > 4 && (buf[0] & 0x30) == 0x10, "raw client got a NON notification");
  rst[0] = 0x70;
  rst[1] = 0;
  rst[2] = buf[2];
  rst[3] = buf[3];
  lb_raw_send(fd, &pair.addr, rst, sizeof(rst));
  for (int i = 0; i < 500 && coap_resource_observer_count(obs_res); i++) {
    coap_io_process(pair.server, COAP_IO_NO_WAIT);
    usleep(1000);
  }
  is_int(coap_resource_observer_count(obs_res), 0,
         "RST to a notification removes the observer");
  close(fd);
}

static void
test_unacknowledged_removes(void)
{
  int fd = lb_raw_udp(NULL);
  uint8_t get[] = {0x41, 0x01, 0x12, 0x35, 'y', 0x60, 0x53, 'o', 'b', 's'};
  uint8_t buf[256];
  ssize_t n;
  uint64_t end;

  lb_raw_send(fd, &pair.addr, get, sizeof(get));
  n = lb_raw_recv(fd, pair.server, buf, sizeof(buf), NULL, WAIT_MS, NULL);
  ok(n > 4 && buf[1] == COAP_RESPONSE_CODE_CONTENT, "raw client registered");
  /* Short timeouts: the CON notification gives up within a second. */
  coap_context_set_transmission(pair.server, 100, 1000, 2);
  coap_resource_set_mode(obs_res, COAP_RESOURCE_FLAGS_NOTIFY_CON);
  coap_resource_notify_observers(obs_res, NULL);
  end = coap_ticks_ms() + 5000;
  while (coap_resource_observer_count(obs_res) && coap_ticks_ms() < end)
    coap_io_process(pair.server, 50);
  is_int(coap_resource_observer_count(obs_res), 0,
         "a CON notification never acknowledged removes the observer");
  coap_resource_set_mode(obs_res, COAP_RESOURCE_FLAGS_NOTIFY_NON);
  coap_context_set_transmission(pair.server, COAP_DEFAULT_ACK_TIMEOUT_MS,
                                COAP_DEFAULT_ACK_RANDOM_FACTOR_X1000,
                                COAP_DEFAULT_MAX_RETRANSMIT);
  close(fd);
}

/* Notifications out of order (RFC 7641 3.4) from a raw server. */
static void
test_freshness(void)
{
  coap_address_t raw_addr;
  int fd = lb_raw_udp(&raw_addr);
  coap_context_t *ctx = coap_new_context(NULL);
  coap_session_t *s = coap_new_client_session(ctx, NULL, &raw_addr,
                                              COAP_PROTO_UDP);
  coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, s);
  uint8_t req[256], out[64], v = 0;
  coap_address_t from;
  ssize_t n;
  size_t tkl;
  static const uint8_t seqs[] = {5, 3, 6, 4, 7};
  static const int delivered[] = {1, 1, 2, 2, 3};

  coap_register_response_handler(ctx, on_response);
  tok_len = 4;
  memcpy(tok, "tokn", 4);
  coap_add_token(pdu, 4, tok);
  coap_add_option(pdu, COAP_OPTION_OBSERVE, 0, &v);
  coap_send(s, pdu);
  n = lb_raw_recv(fd, ctx, req, sizeof(req), &from, 2000, NULL);
  ok(n >= 8, "raw server got the registration");
  if (n < 8) {
    close(fd);
    coap_free_context(ctx);
    return;
  }
  tkl = req[0] & 0x0f;
  responses = 0;
  for (size_t i = 0; i < sizeof(seqs); i++) {
    /* ACK with the first, NON for the rest: 2.05, Observe seq, "n" */
    size_t m = 0;
    out[m++] = (uint8_t)(0x40 | (i == 0 ? 0x20 : 0x10) | tkl);
    out[m++] = COAP_RESPONSE_CODE_CONTENT;
    out[m++] = i == 0 ? req[2] : 0x50;
    out[m++] = i == 0 ? req[3] : (uint8_t)i;
    memcpy(out + m, req + 4, tkl);
    m += tkl;
    out[m++] = 0x61;
    out[m++] = seqs[i];
    out[m++] = 0xff;
    out[m++] = (uint8_t)('0' + seqs[i]);
    lb_raw_send(fd, &from, out, m);
    for (int k = 0; k < 300 && responses < delivered[i]; k++) {
      coap_io_process(ctx, COAP_IO_NO_WAIT);
      usleep(200);
    }
    for (int k = 0; k < 20; k++)
      coap_io_process(ctx, COAP_IO_NO_WAIT);
  }
  is_int(responses, 3, "observe 5, 3, 6, 4, 7: three delivered");
  is_str(last_payload, "7", "the last one is the freshest");
  coap_session_release(s);
  coap_free_context(ctx);
  close(fd);
}

int
main(void)
{
  coap_startup();
  coap_set_log_level(COAP_LOG_WARN);
  if (!ok(setup(), "server and client contexts on loopback"))
    return tap_done();
  test_register_notify_cancel();
  test_error_ends();
  test_block_notifications();
  test_rst_removes();
  test_unacknowledged_removes();
  test_freshness();
  lb_pair_close(&pair);
  coap_cleanup();
  return tap_done();
}
