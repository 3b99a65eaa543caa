/*
 * reliability.c -- RFC 7252 section 4: CON retransmission, NSTART, matching
 * of ACK/RST by message ID and of responses by token, deduplication of
 * received messages, and the dispatch of every received datagram.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "net_internal.h"
#include "stream_internal.h"

#define NSTART COAP_DEFAULT_NSTART
#define MAX_LATENCY_MS 100000u

uint64_t
coap_exchange_lifetime_ms(const coap_context_t *ctx)
{
  /* RFC 7252 4.8.2 with the context's parameters. */
  uint64_t span = (uint64_t)ctx->ack_timeout_ms *
                  ((1u << ctx->max_retransmit) - 1) *
                  ctx->ack_random_factor_x1000 / 1000u;
  return span + 2u * MAX_LATENCY_MS + ctx->ack_timeout_ms;
}

static int
is_request(const coap_pdu_t *pdu)
{
  return pdu->code >= 1 && pdu->code <= 31;
}

/* ---------------------------------------------------------------- dedup */

int
coap_dedup_init(coap_context_t *ctx, uint32_t slots)
{
  ctx->dedup_slots = slots;
  ctx->dedup_bucket_mask = 2 * slots - 1;
  ctx->dedup = calloc(slots, sizeof(*ctx->dedup));
  ctx->dedup_bucket = calloc(2 * (size_t)slots, sizeof(*ctx->dedup_bucket));
  /* Replies up to COAP_DEDUP_INLINE bytes (nearly all) are kept here:
   * no malloc or free per cached reply. */
  ctx->dedup_inline = malloc((size_t)slots * COAP_DEDUP_INLINE);
  ctx->dedup_next = 0;
  /* Slots get their inline buffer when first taken (coap_dedup_check):
   * touching all of them here would fault in every page of the ring at
   * start-up, a cost a one-shot client pays for nothing. */
  return ctx->dedup && ctx->dedup_bucket && ctx->dedup_inline;
}

void
coap_dedup_free(coap_context_t *ctx)
{
  /* The ring hands out slots in index order and a taken slot keeps its
   * buffer, so the first slot without one ends the used prefix: the rest
   * of the ring is never touched (no page faults for a one-shot client). */
  if (ctx->dedup)
    for (size_t i = 0; i < ctx->dedup_slots && ctx->dedup[i].resp; i++)
      if (ctx->dedup[i].resp_heap)
        free(ctx->dedup[i].resp);
  free(ctx->dedup);
  free(ctx->dedup_bucket);
  free(ctx->dedup_inline);
  ctx->dedup = NULL;
  ctx->dedup_bucket = NULL;
  ctx->dedup_inline = NULL;
}

void
coap_dedup_widen(coap_context_t *ctx)
{
  coap_context_t big;

  if (ctx->dedup_slots >= COAP_DEDUP_SLOTS)
    return;
  big.dedup_slots = 0;
  if (!coap_dedup_init(&big, COAP_DEDUP_SLOTS)) {
    coap_dedup_free(&big);
    return; /* the small ring still works */
  }
  coap_dedup_free(ctx);
  ctx->dedup = big.dedup;
  ctx->dedup_bucket = big.dedup_bucket;
  ctx->dedup_inline = big.dedup_inline;
  ctx->dedup_slots = big.dedup_slots;
  ctx->dedup_bucket_mask = big.dedup_bucket_mask;
  ctx->dedup_next = 0;
}

static uint32_t
dedup_hash(const coap_context_t *ctx, uint64_t sid, uint16_t mid)
{
  uint64_t x = sid * 0x9E3779B97F4A7C15ull ^ ((uint64_t)mid * 0xBF58476D1CE4E5B9ull);
  x ^= x >> 31;
  return (uint32_t)x & ctx->dedup_bucket_mask;
}

/* Takes slot i out of its hash chain (chains are about one long). */
static void
dedup_unlink(coap_context_t *ctx, uint32_t i)
{
  coap_dedup_t *d = &ctx->dedup[i];
  uint32_t *pp = &ctx->dedup_bucket[d->bucket];

  while (*pp && *pp != i + 1)
    pp = &ctx->dedup[*pp - 1].next;
  if (*pp)
    *pp = d->next;
  d->next = 0;
  d->sid = 0;
}

int
coap_dedup_check(coap_context_t *ctx, coap_session_t *s, uint16_t mid,
                 coap_dedup_t **slot)
{
  uint32_t h = dedup_hash(ctx, s->id, mid), i;
  coap_dedup_t *d;

  for (i = ctx->dedup_bucket[h]; i; i = d->next) {
    d = &ctx->dedup[i - 1];
    if (d->sid == s->id && d->mid == mid && d->expiry > ctx->now) {
      *slot = d;
      return 1;
    }
  }
  i = ctx->dedup_next;
  ctx->dedup_next = (i + 1) & (ctx->dedup_slots - 1);
  d = &ctx->dedup[i];
  if (d->sid)
    dedup_unlink(ctx, i);
  if (!d->resp) {
    d->resp = ctx->dedup_inline + (size_t)i * COAP_DEDUP_INLINE;
    d->resp_cap = COAP_DEDUP_INLINE;
  }
  d->sid = s->id;
  d->mid = mid;
  d->expiry = ctx->now + coap_exchange_lifetime_ms(ctx);
  d->resp_len = 0;
  d->bucket = (uint16_t)h;
  d->next = ctx->dedup_bucket[h];
  ctx->dedup_bucket[h] = i + 1;
  *slot = d;
  return 0;
}

void
coap_dedup_store(coap_dedup_t *slot, const uint8_t *data, size_t len)
{
  if (!slot || len > UINT16_MAX)
    return;
  if (len > slot->resp_cap) {
    /* Rounded up so that slightly longer replies reuse the block. */
    size_t cap = (len + 31) & ~(size_t)31;
    uint8_t *p = realloc(slot->resp_heap ? slot->resp : NULL,
                         cap > UINT16_MAX ? len : cap);
    if (!p) {
      slot->resp_len = 0;
      return;
    }
    slot->resp = p;
    slot->resp_heap = 1;
    slot->resp_cap = (uint16_t)(cap > UINT16_MAX ? len : cap);
  }
  memcpy(slot->resp, data, len);
  slot->resp_len = (uint16_t)len;
}

/* ---------------------------------------------------------------- queue */

static void
queue_append(coap_session_t *s, coap_queue_t *q)
{
  coap_queue_t **pp = &s->ext->queue;

  while (*pp)
    pp = &(*pp)->next;
  q->next = NULL;
  *pp = q;
}

static void
queue_unlink(coap_session_t *s, coap_queue_t *q)
{
  for (coap_queue_t **pp = &s->ext->queue; *pp; pp = &(*pp)->next)
    if (*pp == q) {
      *pp = q->next;
      q->next = NULL;
      return;
    }
}

static void
queue_free(coap_context_t *ctx, coap_queue_t *q)
{
  coap_timer_cancel(ctx, &q->timer);
  coap_delete_pdu(q->pdu);
  free(q);
}

/* An outstanding CON leaves: the NSTART slot frees. */
static void
queue_finish(coap_session_t *s, coap_queue_t *q)
{
  queue_unlink(s, q);
  if (!q->waiting && !q->acked && q->pdu->type == COAP_MESSAGE_CON &&
      s->ext->con_active > 0)
    s->ext->con_active--;
  coap_timer_cancel(s->context, &q->timer);
}

static uint32_t
initial_timeout(const coap_context_t *ctx)
{
  uint32_t r = 0, span = ctx->ack_random_factor_x1000 - 1000u;

  if (span > 0 && getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
    r = (uint32_t)coap_ticks_ms();
  return (uint32_t)((uint64_t)ctx->ack_timeout_ms *
                    (1000u + (span ? r % (span + 1) : 0)) / 1000u);
}

static int
transmit(coap_session_t *s, coap_pdu_t *pdu)
{
  size_t len;
  const uint8_t *data = coap_pdu_encode_udp(pdu, &len);

  if (!data) {
    coap_log_warn("cannot encode the message for %s", coap_session_str(s));
    return 0;
  }
  coap_udp_send(s, data, len);
  /* UDP send failures are covered by retransmission or pending_err. */
  return 1;
}

static void
start_con(coap_session_t *s, coap_queue_t *q)
{
  coap_context_t *ctx = s->context;

  q->waiting = 0;
  s->ext->con_active++;
  q->timeout_ms = initial_timeout(ctx);
  transmit(s, q->pdu);
  coap_timer_arm(ctx, &q->timer,
                 s->ext->pending_err ? ctx->now : coap_context_now(ctx) + q->timeout_ms);
}

void
coap_send_next_waiting(coap_session_t *s)
{
  coap_queue_t *q;

  while (s->ext->con_active < NSTART && !s->dead) {
    for (q = s->ext->queue; q && !q->waiting; q = q->next)
      ;
    if (!q)
      return;
    start_con(s, q);
  }
}

static void
call_nack(coap_session_t *s, const coap_pdu_t *pdu, coap_nack_reason_t reason,
          coap_mid_t mid)
{
  if (s->context->nack_handler)
    s->context->nack_handler(s, pdu, reason, mid);
}

void
coap_queue_drop_all(coap_session_t *s, coap_nack_reason_t reason,
                    int call_nack_handler)
{
  coap_queue_t *q = s->ext->queue, *next;

  if (!coap_session_has_ext(s))
    return;
  /* Detached first: a nack handler may send again on this session.  A
   * keepalive ping dropped here (an ICMP error, say) must not leave the
   * keepalive waiting forever for its answer. */
  s->ext->queue = NULL;
  s->ext->con_active = 0;
  s->ext->ka_outstanding = 0;
  for (; q; q = next) {
    next = q->next;
    coap_timer_cancel(s->context, &q->timer);
    if (call_nack_handler)
      call_nack(s, q->pdu, reason, q->mid);
    queue_free(s->context, q);
  }
}

void
coap_session_io_error(coap_session_t *s, int err)
{
  if (s->dead)
    return;
  if (coap_session_has_ext(s))
    s->ext->pending_err = 0;
  coap_log_debug("%s: %s", coap_session_str(s), strerror(err));
  coap_queue_drop_all(s, COAP_NACK_ICMP_ISSUE, 1);
  if (s->dead)
    return;
  /* Nobody is there: not established until the next send tries again. */
  coap_session_set_state(s, COAP_SESSION_STATE_NONE);
  coap_session_event(s, COAP_EVENT_SESSION_FAILED);
}

static void
con_failed(coap_session_t *s, coap_queue_t *q)
{
  int ping = q->pdu->code == COAP_EMPTY_CODE;
  int keepalive = ping && s->ext->ka_outstanding && s->ext->ka_mid == (uint16_t)q->mid;

  queue_finish(s, q);
  if (!ping && !is_request(q->pdu))
    coap_observe_failed(s, q->pdu);
  call_nack(s, q->pdu, COAP_NACK_TOO_MANY_RETRIES, q->mid);
  queue_free(s->context, q);
  if (keepalive)
    coap_keepalive_failed(s);
  coap_send_next_waiting(s);
}

/* RFC 8323: a request (or Ping) on a stream waited its whole lifetime
 * without an answer.  A keepalive Ping that goes unanswered ends the
 * session. */
static void
reliable_expired(coap_session_t *s, coap_queue_t *q)
{
  int keepalive = q->pdu->code == COAP_SIGNALING_CODE_PING &&
                  s->ext->ka_outstanding && s->ext->ka_mid == (uint16_t)q->mid;

  queue_unlink(s, q);
  call_nack(s, q->pdu, COAP_NACK_TOO_MANY_RETRIES, q->mid);
  queue_free(s->context, q);
  if (keepalive)
    coap_keepalive_failed(s);
}

void
coap_queue_fire(coap_context_t *ctx, coap_queue_t *q)
{
  coap_session_t *s = q->session;

  if (s->ext->pending_err) {
    coap_session_io_error(s, ECONNREFUSED);
    return;
  }
  if (coap_proto_reliable((coap_proto_t)s->proto)) {
    reliable_expired(s, q);
    return;
  }
  if (q->acked || q->pdu->type != COAP_MESSAGE_CON) {
    /* Lifetime over: no response is coming any more. */
    queue_unlink(s, q);
    queue_free(ctx, q);
    return;
  }
  if (q->retransmits >= ctx->max_retransmit) {
    con_failed(s, q);
    return;
  }
  q->retransmits++;
  q->timeout_ms *= 2;
  s->ext->retransmitted++; /* a queued message: the extension exists */
  transmit(s, q->pdu);
  coap_session_event(s, COAP_EVENT_MSG_RETRANSMITTED);
  coap_timer_arm(ctx, &q->timer,
                 s->ext->pending_err ? ctx->now : ctx->now + q->timeout_ms);
}

/* ---------------------------------------------------------------- sending */

void
coap_send_empty(coap_session_t *s, coap_pdu_type_t type, uint16_t mid)
{
  uint8_t b[4] = {(uint8_t)(0x40 | (type << 4)), 0, (uint8_t)(mid >> 8),
                  (uint8_t)mid};

  coap_udp_reply(s, b, sizeof(b));
}

static coap_mid_t
send_con(coap_session_t *s, coap_pdu_t *pdu)
{
  coap_queue_t *q = coap_session_ext(s) ? calloc(1, sizeof(*q)) : NULL;

  if (!q) {
    coap_delete_pdu(pdu);
    return COAP_INVALID_MID;
  }
  q->session = s;
  q->pdu = pdu;
  q->mid = pdu->mid;
  coap_timer_init(&q->timer, COAP_TIMER_XMIT);
  q->waiting = 1;
  queue_append(s, q);
  coap_send_next_waiting(s);
  return q->mid;
}

static coap_mid_t
send_non_request(coap_session_t *s, coap_pdu_t *pdu)
{
  coap_context_t *ctx = s->context;
  coap_queue_t *q = coap_session_ext(s) ? calloc(1, sizeof(*q)) : NULL;
  coap_mid_t mid = pdu->mid;

  if (!q) {
    coap_delete_pdu(pdu);
    return COAP_INVALID_MID;
  }
  q->session = s;
  q->pdu = pdu;
  q->mid = mid;
  coap_timer_init(&q->timer, COAP_TIMER_XMIT);
  queue_append(s, q);
  transmit(s, pdu);
  coap_timer_arm(ctx, &q->timer,
                 coap_context_now(ctx) +
                     (s->ext->pending_err ? 0 : COAP_DEFAULT_NON_LIFETIME * 1000u));
  return mid;
}

/* ---------------------------------------------------------------- streams */

/* How long a stream Ping waits for its Pong: as long as a UDP ping would
 * with its retransmissions. */
static uint64_t
ping_wait_ms(const coap_context_t *ctx)
{
  uint64_t w = (uint64_t)ctx->ack_timeout_ms * ((1u << ctx->max_retransmit) - 1);

  return w < 1000 ? 1000 : w;
}

/* RFC 8323: no type, no message ID, no ACK, no retransmission.  A request
 * (or Ping) waits in the queue for the response (or Pong) with its token;
 * the timer only bounds the wait. */
static coap_mid_t
send_reliable(coap_session_t *s, coap_pdu_t *pdu)
{
  coap_context_t *ctx = s->context;
  coap_mid_t mid = pdu->mid;
  int ping = pdu->code == COAP_SIGNALING_CODE_PING;
  coap_queue_t *q;

  if (!coap_stream_send_pdu(s, pdu)) {
    coap_delete_pdu(pdu);
    return COAP_INVALID_MID;
  }
  if (!is_request(pdu) && !ping) {
    coap_delete_pdu(pdu);
    return mid;
  }
  q = calloc(1, sizeof(*q));
  if (!q) {
    coap_delete_pdu(pdu);
    return mid; /* sent; its answer will find nobody waiting */
  }
  q->session = s;
  q->pdu = pdu;
  q->mid = mid;
  q->acked = 1; /* never counts against NSTART */
  coap_timer_init(&q->timer, COAP_TIMER_XMIT);
  queue_append(s, q);
  coap_timer_arm(ctx, &q->timer,
                 coap_context_now(ctx) +
                     (ping ? ping_wait_ms(ctx) : coap_exchange_lifetime_ms(ctx)));
  return mid;
}

coap_mid_t
coap_send_internal(coap_session_t *s, coap_pdu_t *pdu)
{
  coap_mid_t mid = pdu->mid;

  if (coap_proto_reliable((coap_proto_t)s->proto))
    return send_reliable(s, pdu);
  if (s->ext->mcast_addr)
    coap_session_set_remote(s, s->ext->mcast_addr);
  if (s->state == COAP_SESSION_STATE_NONE) /* UDP needs no handshake */
    coap_session_set_state(s, COAP_SESSION_STATE_ESTABLISHED);
  if (pdu->type == COAP_MESSAGE_CON)
    return send_con(s, pdu);
  if (pdu->type == COAP_MESSAGE_NON && is_request(pdu))
    return send_non_request(s, pdu);
  if (!transmit(s, pdu))
    mid = COAP_INVALID_MID;
  coap_delete_pdu(pdu);
  return mid;
}

coap_mid_t
coap_send(coap_session_t *session, coap_pdu_t *pdu)
{
  if (!pdu)
    return COAP_INVALID_MID;
  if (!session || session->dead ||
      (session->proto != COAP_PROTO_UDP && session->proto != COAP_PROTO_DTLS &&
       !coap_proto_reliable((coap_proto_t)session->proto))) {
    coap_delete_pdu(pdu);
    return COAP_INVALID_MID;
  }
  if (pdu->mid < 0 || pdu->mid > 0xFFFF)
    pdu->mid = coap_new_message_id(session);
  pdu = coap_echo_add_last(session, pdu); /* RFC 9175 2.3: keep sending it */
  return coap_send_internal(session, pdu);
}

coap_mid_t
coap_session_send_ping(coap_session_t *session)
{
  coap_pdu_t *pdu;

  if (!session || session->dead)
    return COAP_INVALID_MID;
  /* RFC 8323 5.4: on a stream the ping is the 7.02 signal. */
  pdu = coap_pdu_init(COAP_MESSAGE_CON,
                      coap_proto_reliable((coap_proto_t)session->proto)
                          ? COAP_SIGNALING_CODE_PING
                          : COAP_EMPTY_CODE,
                      coap_new_message_id(session), 0);
  if (!pdu)
    return COAP_INVALID_MID;
  return coap_send_internal(session, pdu);
}

/* ---------------------------------------------------------------- receiving */

static coap_queue_t *
find_by_mid(coap_session_t *s, coap_mid_t mid)
{
  for (coap_queue_t *q = s->ext->queue; q; q = q->next)
    if (q->mid == mid && !q->waiting)
      return q;
  return NULL;
}

static coap_queue_t *
find_by_token(coap_session_t *s, const coap_pdu_t *rcvd)
{
  for (coap_queue_t *q = s->ext->queue; q; q = q->next)
    if (!q->waiting && is_request(q->pdu) &&
        q->pdu->token_length == rcvd->token_length &&
        memcmp(q->pdu->token, rcvd->token, rcvd->token_length) == 0)
      return q;
  return NULL;
}

static void
pong(coap_session_t *s, coap_queue_t *q, const coap_pdu_t *rcvd)
{
  if (s->ext->ka_outstanding && s->ext->ka_mid == (uint16_t)q->mid)
    s->ext->ka_outstanding = 0;
  queue_finish(s, q);
  queue_free(s->context, q);
  if (s->context->pong_handler)
    s->context->pong_handler(s, rcvd, rcvd->mid);
  coap_send_next_waiting(s);
}

/* RFC 9175: a 4.01 with an Echo answering a request that is not already
 * such a repeat sends the request again with the value, once. */
static int
echo_repeat(coap_session_t *s, coap_queue_t *q, const coap_pdu_t *rcvd)
{
  coap_pdu_t *again;
  coap_mid_t mid;

  if (rcvd->code != COAP_RESPONSE_CODE_UNAUTHORIZED ||
      !(again = coap_echo_repeat(s, q->pdu, rcvd, !q->echo_retry)))
    return 0;
  mid = coap_send_internal(s, again);
  if (mid == COAP_INVALID_MID || s->dead)
    return mid != COAP_INVALID_MID;
  for (coap_queue_t *n = s->ext->queue; n; n = n->next)
    if (n->mid == mid && n != q)
      n->echo_retry = 1;
  return 1;
}

static void
deliver(coap_session_t *s, coap_queue_t *q, const coap_pdu_t *rcvd)
{
  queue_finish(s, q);
  s->verified = 1; /* the peer answered what we sent it */
  if (echo_repeat(s, q, rcvd)) {
    queue_free(s->context, q);
    coap_send_next_waiting(s);
    return;
  }
  /* block.c may take it: ask for the next block, or deliver the whole. */
  if (!coap_block_client_response(s, q->pdu, rcvd) &&
      s->context->response_handler)
    s->context->response_handler(s, q->pdu, rcvd, rcvd->mid);
  queue_free(s->context, q);
  coap_send_next_waiting(s);
}

static void
handle_ack(coap_session_t *s, const coap_pdu_t *rcvd)
{
  coap_queue_t *q = find_by_mid(s, rcvd->mid);

  if (!q || q->acked)
    return; /* a late or duplicate ACK */
  s->verified = 1; /* it saw our CON: the address is real (RFC 9175 2.4) */
  if (q->pdu->code == COAP_EMPTY_CODE) {
    pong(s, q, rcvd);
    return;
  }
  if (rcvd->code == COAP_EMPTY_CODE && is_request(q->pdu)) {
    /* Separate response to come (RFC 7252 5.2.2): stop retransmitting. */
    q->acked = 1;
    if (s->ext->con_active > 0)
      s->ext->con_active--;
    coap_timer_arm(s->context, &q->timer,
                   s->context->now + coap_exchange_lifetime_ms(s->context));
    coap_send_next_waiting(s);
    return;
  }
  if (rcvd->code != COAP_EMPTY_CODE && is_request(q->pdu) &&
      (q->pdu->token_length != rcvd->token_length ||
       memcmp(q->pdu->token, rcvd->token, rcvd->token_length) != 0)) {
    coap_log_debug("piggybacked response with a foreign token: ignored");
    return;
  }
  if (is_request(q->pdu)) {
    deliver(s, q, rcvd);
    return;
  }
  queue_finish(s, q); /* our CON response or notification was received */
  queue_free(s->context, q);
  coap_send_next_waiting(s);
}

static void
handle_rst(coap_session_t *s, const coap_pdu_t *rcvd)
{
  coap_queue_t *q = find_by_mid(s, rcvd->mid);

  coap_observe_rst(s, rcvd->mid); /* a notification refused */
  if (!q)
    return;
  s->verified = 1; /* it saw our CON */
  if (q->pdu->code == COAP_EMPTY_CODE) {
    pong(s, q, rcvd);
    return;
  }
  queue_finish(s, q);
  call_nack(s, q->pdu, COAP_NACK_RST, q->mid);
  queue_free(s->context, q);
  coap_send_next_waiting(s);
}

static void
handle_response(coap_session_t *s, const coap_pdu_t *rcvd, coap_dedup_t *slot)
{
  coap_queue_t *q = find_by_token(s, rcvd);
  uint8_t reply[4] = {0x40, 0, (uint8_t)(rcvd->mid >> 8), (uint8_t)rcvd->mid};

  if (!q && coap_block_client_unsolicited(s, rcvd)) {
    /* A notification of ours (or a block of one). */
    if (rcvd->type == COAP_MESSAGE_CON) {
      reply[0] = 0x40 | (COAP_MESSAGE_ACK << 4);
      coap_dedup_store(slot, reply, sizeof(reply));
      coap_udp_reply(s, reply, sizeof(reply));
    }
    return;
  }
  if (!q) {
    if (rcvd->type == COAP_MESSAGE_CON) {
      reply[0] = 0x40 | (COAP_MESSAGE_RST << 4);
      coap_dedup_store(slot, reply, sizeof(reply));
      coap_udp_reply(s, reply, sizeof(reply));
    }
    return;
  }
  if (rcvd->type == COAP_MESSAGE_CON) {
    reply[0] = 0x40 | (COAP_MESSAGE_ACK << 4);
    coap_dedup_store(slot, reply, sizeof(reply));
    coap_udp_reply(s, reply, sizeof(reply));
  }
  if (s->ext->mcast_addr && q->pdu->type == COAP_MESSAGE_NON) {
    /* Several servers may answer a multicast request: keep listening. */
    if (s->context->response_handler)
      s->context->response_handler(s, q->pdu, rcvd, rcvd->mid);
    return;
  }
  deliver(s, q, rcvd);
}

/* Empty-CON pings answered per session: a token bucket of COAP_PING_BURST
 * refilled by one every COAP_PING_REFILL_MS (4 a second), so a flood of
 * pings from one peer gets at most that many RSTs while a keepalive probe at
 * one ping a second never runs dry.  A new session (zeroed) starts full. */
#define COAP_PING_BURST 8
#define COAP_PING_REFILL_MS 250

static int
ping_allowed(coap_session_t *s)
{
  uint64_t now = s->context->now;
  uint64_t add;

  if (!coap_session_ext(s))
    return 0;
  add = now > s->ext->ping_stamp ? (now - s->ext->ping_stamp) / COAP_PING_REFILL_MS : 0;

  if (add >= (uint64_t)(COAP_PING_BURST - s->ext->ping_tokens)) {
    s->ext->ping_tokens = COAP_PING_BURST;
    s->ext->ping_stamp = now;
  } else if (add) {
    s->ext->ping_tokens = (uint8_t)(s->ext->ping_tokens + add);
    s->ext->ping_stamp += add * COAP_PING_REFILL_MS;
  }
  if (s->ext->ping_tokens == 0)
    return 0;
  s->ext->ping_tokens--;
  return 1;
}

static void
handle_empty(coap_session_t *s, const coap_pdu_t *rcvd)
{
  if (rcvd->type != COAP_MESSAGE_CON)
    return;
  if (!ping_allowed(s)) {
    coap_log_debug("%s: ping rate exceeded: not answered", coap_session_str(s));
    return;
  }
  /* RFC 7252 4.3: an empty CON is a ping, answered with RST. */
  if (s->context->ping_handler)
    s->context->ping_handler(s, rcvd, rcvd->mid);
  coap_send_empty(s, COAP_MESSAGE_RST, (uint16_t)rcvd->mid);
}

void
coap_handle_datagram(coap_session_t *s, const uint8_t *data, size_t len)
{
  coap_context_t *ctx = s->context;
  coap_pdu_t pdu;
  coap_dedup_t *slot;
  coap_parse_status_t st = coap_pdu_view_udp(&pdu, data, len);

  if (st == COAP_PARSE_DROP)
    return;
  s->received++;
  /* A burst from one peer touches its session once per loop turn. */
  if (s->last_activity != ctx->now || !ctx->in_dispatch ||
      (s->in_lru && ctx->lru_tail != s))
    coap_session_touch(s);
  if (st == COAP_PARSE_REJECT) {
    if (pdu.type == COAP_MESSAGE_CON)
      coap_send_empty(s, COAP_MESSAGE_RST, (uint16_t)pdu.mid);
    coap_session_event(s, COAP_EVENT_BAD_PACKET);
    return;
  }
  pdu.session = s;
  switch (pdu.type) {
  case COAP_MESSAGE_ACK:
    handle_ack(s, &pdu);
    return;
  case COAP_MESSAGE_RST:
    handle_rst(s, &pdu);
    return;
  default:
    break;
  }
  if (pdu.code == COAP_EMPTY_CODE) {
    handle_empty(s, &pdu);
    return;
  }
  if (coap_dedup_check(ctx, s, (uint16_t)pdu.mid, &slot)) {
    if (coap_session_ext(s))
      s->ext->duplicates++;
    if (pdu.type != COAP_MESSAGE_CON)
      return;
    if (slot->resp_len)
      coap_udp_reply(s, slot->resp, slot->resp_len);
    else
      coap_send_empty(s, COAP_MESSAGE_ACK, (uint16_t)pdu.mid);
    return;
  }
  if (is_request(&pdu))
    coap_handle_request(s, &pdu, slot);
  else if (COAP_RESPONSE_CLASS(pdu.code) >= 2 &&
           COAP_RESPONSE_CLASS(pdu.code) <= 5)
    handle_response(s, &pdu, slot);
  else if (pdu.type == COAP_MESSAGE_CON)
    coap_send_empty(s, COAP_MESSAGE_RST, (uint16_t)pdu.mid);
}

/* ---------------------------------------------------------------- streams */

void
coap_handle_reliable(coap_session_t *s, coap_pdu_t *pdu)
{
  pdu->session = s;
  if (is_request(pdu))
    coap_handle_request(s, pdu, NULL);
  else if (COAP_RESPONSE_CLASS(pdu->code) >= 2 &&
           COAP_RESPONSE_CLASS(pdu->code) <= 5)
    handle_response(s, pdu, NULL);
}

int
coap_queue_pong(coap_session_t *s, const coap_pdu_t *rcvd)
{
  for (coap_queue_t *q = s->ext->queue; q; q = q->next)
    if (q->pdu->code == COAP_SIGNALING_CODE_PING &&
        q->pdu->token_length == rcvd->token_length &&
        memcmp(q->pdu->token, rcvd->token, rcvd->token_length) == 0) {
      pong(s, q, rcvd);
      return 1;
    }
  if (s->context->pong_handler)
    s->context->pong_handler(s, rcvd, 0);
  return 0;
}
