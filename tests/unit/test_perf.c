/*
 * test_perf.c -- the request path's shortcuts (issue #8) give the same
 * answers as the long ways: the deduplication ring and its hash chains, the
 * option mask of a parsed view, the fast paths of coap_add_option,
 * coap_add_data and coap_add_token, and SO_REUSEPORT endpoints.
 */
#include <stdlib.h>
#include <unistd.h>

#include "net_internal.h"
#include "tap.h"
#include "loopback.h"

/* ---------------------------------------------------------------- dedup */

static void
test_dedup(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_session_t *a, *b;
  coap_dedup_t *slot = NULL, *again = NULL;
  uint8_t big[300], reply[4] = {0x60, 0x45, 0x12, 0x34};
  unsigned found = 0, fresh = 0;

  if (!ok(ctx != NULL, "a context"))
    return;
  is_int(ctx->dedup_slots, COAP_DEDUP_SLOTS_SMALL,
         "a new context starts with the small ring");
  a = coap_session_new(ctx, COAP_SESSION_TYPE_SERVER, COAP_PROTO_UDP);
  b = coap_session_new(ctx, COAP_SESSION_TYPE_SERVER, COAP_PROTO_UDP);
  ctx->now = 1000;
  is_int(coap_dedup_check(ctx, a, 3, &slot), 0, "small ring: a new ID is new");
  coap_dedup_widen(ctx);
  is_int(ctx->dedup_slots, COAP_DEDUP_SLOTS, "widened to the full ring");
  is_int(coap_dedup_check(ctx, a, 3, &slot), 0,
         "the small ring's entries are gone with it");
  is_int(coap_dedup_check(ctx, a, 7, &slot), 0, "a new message ID is new");
  coap_dedup_keep(slot, reply, sizeof(reply));
  is_int(coap_dedup_check(ctx, a, 7, &again), 1, "the same one is a duplicate");
  ok(again == slot, "... found in its slot");
  is_mem(again->resp, again->resp_len, reply, sizeof(reply),
         "... with the reply kept");
  is_int(coap_dedup_check(ctx, b, 7, &again), 0,
         "the same ID from another session is new");
  /* A reply longer than the inline part goes to the heap, intact. */
  for (size_t i = 0; i < sizeof(big); i++)
    big[i] = (uint8_t)(i * 7);
  is_int(coap_dedup_check(ctx, a, 8, &slot), 0, "ID 8 is new");
  coap_dedup_keep(slot, big, sizeof(big));
  is_int(coap_dedup_check(ctx, a, 8, &again), 1, "ID 8 again is a duplicate");
  is_mem(again->resp, again->resp_len, big, sizeof(big),
         "a 300-byte reply comes back whole");
  /* Fill the ring: the oldest entries go, the last SLOTS all stay. */
  for (unsigned m = 100; m < 100 + ctx->dedup_slots; m++)
    coap_dedup_check(ctx, b, (uint16_t)m, &slot);
  is_int(coap_dedup_check(ctx, a, 7, &slot), 0,
         "after SLOTS newer messages the oldest is forgotten");
  for (unsigned m = 101; m < 100 + ctx->dedup_slots; m++) {
    if (coap_dedup_check(ctx, b, (uint16_t)m, &slot))
      found++;
  }
  /* The lookups above found every entry: none inserted, none evicted. */
  is_int(found, COAP_DEDUP_SLOTS - 1, "every recent entry is still found");
  ctx->now += coap_exchange_lifetime_ms(ctx) + 1;
  for (unsigned m = 101; m < 110; m++)
    if (!coap_dedup_check(ctx, b, (uint16_t)m, &slot))
      fresh++;
  is_int(fresh, 9, "past EXCHANGE_LIFETIME an ID is new again");
  coap_free_context(ctx);
}

/* ---------------------------------------------------------------- views */

static void
test_view_mask(void)
{
  /* CON GET, token 2 bytes, Observe(6)=0, Uri-Path(11) "a", Uri-Path "b",
   * Accept(17)=0, No-Response(258)=2, then a payload. */
  static const uint8_t msg[] = {0x42, 0x01, 0x00, 0x01, 0xaa, 0xbb,
                                0x60,             /* Observe, empty */
                                0x51, 'a',        /* delta 5 -> 11 */
                                0x01, 'b',        /* delta 0 -> 11 */
                                0x60,             /* delta 6 -> 17 */
                                0xd1, 0xe4, 0x02, /* delta 13+228 -> 258 */
                                0xff, 'x'};
  static const uint8_t bare[] = {0x40, 0x01, 0x00, 0x02};
  coap_pdu_t v;
  coap_opt_iterator_t oi;
  coap_opt_t *o;
  int n = 0;

  is_int(coap_pdu_view_udp(&v, msg, sizeof(msg)), COAP_PARSE_OK, "view parses");
  ok(!coap_pdu_view_optionless(&v), "it has options");
  ok(!coap_pdu_view_lacks(&v, COAP_OPTION_OBSERVE) &&
         !coap_pdu_view_lacks(&v, COAP_OPTION_URI_PATH) &&
         !coap_pdu_view_lacks(&v, COAP_OPTION_ACCEPT) &&
         !coap_pdu_view_lacks(&v, COAP_OPTION_NORESPONSE),
     "the mask holds every option present");
  ok(coap_pdu_view_lacks(&v, COAP_OPTION_BLOCK1) &&
         coap_pdu_view_lacks(&v, COAP_OPTION_URI_QUERY) &&
         coap_pdu_view_lacks(&v, COAP_OPTION_CONTENT_FORMAT),
     "... and no option absent below 63");
  for (o = coap_check_option(&v, COAP_OPTION_URI_PATH, &oi); o;
       o = coap_option_next(&oi))
    n++;
  is_int(n, 2, "both Uri-Path options are found");
  o = coap_check_option(&v, COAP_OPTION_NORESPONSE, &oi);
  ok(o && coap_opt_length(o) == 1 && coap_opt_value(o)[0] == 2,
     "No-Response (258) is found past the mask's last bit");
  ok(coap_check_option(&v, COAP_OPTION_BLOCK1, &oi) == NULL &&
         coap_option_next(&oi) == NULL,
     "an absent option: NULL, and the iterator ends");
  ok(coap_check_option(&v, COAP_OPTION_SIZE1, &oi) == NULL,
     "an absent option above 63 is looked for and not found");
  is_int(coap_pdu_unknown_critical(&v), 0, "no unknown critical option");
  is_int(coap_pdu_view_udp(&v, bare, sizeof(bare)), COAP_PARSE_OK,
         "a bare GET parses");
  ok(coap_pdu_view_optionless(&v), "... and has no options");
  ok(coap_check_option(&v, COAP_OPTION_URI_PATH, &oi) == NULL &&
         coap_option_next(&oi) == NULL,
     "... so no Uri-Path");
}

/* ---------------------------------------------------------------- build */

static void
test_build(void)
{
  /* The same message through the fast paths (in order, short) and the
   * slow ones (out of order, long value, second payload refused). */
  static const uint8_t want[] = {0x60, 0x45, 0x00, 0x09, 0xc0, /* CF 12 */
                                 0xd1, 0x02, 0x05, /* Block1 27: delta 15 */
                                 0xff, 'h', 'i'};
  uint8_t buf[64], val = 5, tok[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  coap_pdu_t p, *q;
  const uint8_t *data;
  size_t len;

  coap_pdu_init_static(&p, buf, sizeof(buf), COAP_MESSAGE_ACK,
                       COAP_RESPONSE_CODE_CONTENT, 9);
  ok(coap_add_option(&p, COAP_OPTION_CONTENT_FORMAT, 0, NULL) == 1,
     "Content-Format 0 takes one byte");
  ok(coap_add_option(&p, COAP_OPTION_BLOCK1, 1, &val) == 3,
     "Block1 (delta 15) takes an extended delta");
  ok(coap_add_data(&p, 2, (const uint8_t *)"hi"), "payload added");
  ok(!coap_add_data(&p, 1, (const uint8_t *)"x"), "a second payload is refused");
  ok(coap_add_option(&p, COAP_OPTION_ETAG, 1, &val) == 0,
     "no option after the payload");
  data = coap_pdu_encode_udp(&p, &len);
  is_mem(data, len, want, sizeof(want), "the encoding is the expected one");
  /* Out of order goes through insert; a full token through the fast copy. */
  q = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1, 0);
  ok(q && coap_add_token(q, sizeof(tok), tok), "an 8-byte token");
  ok(!coap_add_token(q, 1, tok), "a second token is refused");
  ok(coap_add_option(q, COAP_OPTION_URI_QUERY, 1, (const uint8_t *)"q") &&
         coap_add_option(q, COAP_OPTION_URI_PATH, 1, (const uint8_t *)"p"),
     "options out of order");
  ok(coap_check_option(q, COAP_OPTION_URI_PATH, NULL) == NULL,
     "a NULL iterator is refused");
  {
    coap_opt_iterator_t oi;
    coap_opt_t *o = coap_check_option(q, COAP_OPTION_URI_PATH, &oi);
    ok(o && coap_opt_value(o)[0] == 'p', "Uri-Path found on a built PDU");
    o = coap_check_option(q, COAP_OPTION_URI_QUERY, &oi);
    ok(o && coap_opt_value(o)[0] == 'q', "Uri-Query found after it");
  }
  is_mem(q->token, q->token_length, tok, sizeof(tok), "the token is intact");
  coap_delete_pdu(q);
}

/* ---------------------------------------------------------------- reuseport */

static void
test_reuseport(void)
{
  coap_context_t *c1 = coap_new_context(NULL), *c2 = coap_new_context(NULL);
  coap_address_t a;
  coap_endpoint_t *e1, *e2;

  coap_address_init(&a);
  a.addr.sin.sin_family = AF_INET;
  a.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  coap_context_set_reuseport(c1, 1);
  coap_context_set_reuseport(c2, 1);
  e1 = coap_new_endpoint(c1, &a, COAP_PROTO_UDP);
  ok(e1 != NULL, "a first SO_REUSEPORT endpoint binds");
  if (e1)
    a.addr.sin.sin_port = htons(coap_address_get_port(coap_endpoint_get_address(e1)));
  e2 = coap_new_endpoint(c2, &a, COAP_PROTO_UDP);
  ok(e2 != NULL, "a second context binds the same port");
  coap_free_context(c2);
  c2 = coap_new_context(NULL);
  ok(coap_new_endpoint(c2, &a, COAP_PROTO_UDP) == NULL,
     "without SO_REUSEPORT the port is taken");
  coap_free_context(c1);
  coap_free_context(c2);
}

/* ---------------------------------------------------------------- widths */

static int answers;

static coap_response_t
on_answer(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
          coap_mid_t mid)
{
  (void)s;
  (void)sent;
  (void)rcvd;
  (void)mid;
  answers++;
  return COAP_RESPONSE_OK;
}

/* A client context keeps the narrow batch and small ring through an
 * exchange; the server context widens both on its first read. */
static void
test_widths(void)
{
  lb_pair_t p;
  coap_pdu_t *req;

  if (!ok(lb_pair_open(&p, COAP_PROTO_UDP, 0), "a loopback pair"))
    goto done;
  is_int(p.server->batch->width, COAP_BATCH_SMALL, "server: narrow at first");
  coap_register_response_handler(p.client, on_answer);
  req = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, p.session);
  if (!ok(req && coap_send(p.session, req) != COAP_INVALID_MID, "a GET is sent"))
    goto done;
  lb_pair_run(&p, &answers, 1, 0, 5000);
  is_int(answers, 1, "the GET is answered (4.04)");
  is_int(p.server->batch->width, COAP_BATCH, "server: the batch widened");
  is_int(p.server->dedup_slots, COAP_DEDUP_SLOTS, "server: the full ring");
  is_int(p.client->batch->width, COAP_BATCH_SMALL, "client: still narrow");
  is_int(p.client->dedup_slots, COAP_DEDUP_SLOTS_SMALL, "client: small ring");
done:
  lb_pair_close(&p);
}

int
main(void)
{
  coap_set_log_level(COAP_LOG_EMERG);
  test_dedup();
  test_view_mask();
  test_build();
  test_reuseport();
  test_widths();
  return tap_done();
}
