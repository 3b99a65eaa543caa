/*
 * observe.c -- RFC 7641 Observe.
 *
 * Server: each observable resource keeps its observers (session, token and
 * a copy of the registration request, replayed to the GET handler for
 * every notification).  An observer holds a reference on its session, so
 * an idle server session is not reaped under it; it goes on RST, on an
 * unacknowledged CON notification, on deregistration, on an error answer,
 * and when its session is destroyed.
 *
 * Client: an observation is remembered when a response carrying Observe
 * answers a registration, so that later notifications (which no queued
 * request matches any more) reach the response handler; stale ones are
 * dropped by the freshness rule of section 3.4.
 */
#include <stdlib.h>

#include "net_internal.h"

#define OBS_SEQ_MASK 0xFFFFFFu
#define OBS_CON_INTERVAL_MS (24u * 3600u * 1000u) /* RFC 7641 4.5 */
#define OBS_FRESH_MS 128000u                      /* RFC 7641 3.4 */
#define OBS_NOTIFY_ROUNDS 4
/* Every this many NON notifications one goes CON (as libcoap does), so an
 * observer that vanished without a word is noticed within a minute or so
 * rather than after the 24 hours section 4.5 allows. */
#define OBS_MAX_NON 5
#define QUERY_MAX 1024

typedef struct coap_observer_t {
  struct coap_observer_t *next;
  coap_session_t *session;
  coap_pdu_t *req;       /* the registration request */
  uint64_t last_con_ms;  /* monotonic: when a CON last went out */
  coap_mid_t last_mid;   /* of the last notification */
  unsigned non_count;    /* NON notifications since the last CON */
} coap_observer_t;

typedef struct coap_obs_client_t {
  struct coap_obs_client_t *next;
  coap_session_t *session;
  coap_pdu_t *req;       /* the registration request */
  uint64_t last_ms;      /* monotonic: the last fresh notification */
  uint32_t last_seq;
} coap_obs_client_t;

/* ---------------------------------------------------------------- helpers */

/* -1 absent or malformed, else the option's value. */
static long
observe_value(const coap_pdu_t *pdu)
{
  coap_opt_iterator_t oi;
  coap_opt_t *o = coap_check_option(pdu, COAP_OPTION_OBSERVE, &oi);

  if (!o || coap_opt_length(o) > 3)
    return -1;
  return (long)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
}

static int
same_token(const coap_pdu_t *a, const coap_pdu_t *b)
{
  return a->token_length == b->token_length &&
         memcmp(a->token, b->token, a->token_length) == 0;
}

static int
add_observe(coap_pdu_t *pdu, uint32_t seq)
{
  uint8_t buf[4];
  unsigned n = coap_encode_var_safe(buf, sizeof(buf), seq & OBS_SEQ_MASK);

  return coap_add_option(pdu, COAP_OPTION_OBSERVE, n, buf) > 0 || n == 0;
}

/* Drops the Observe option from pdu in place (an error answer must not
 * carry it); the PDU only shrinks, so its buffer always has room. */
static void
strip_observe(coap_pdu_t *pdu)
{
  static const coap_option_num_t drop[] = {COAP_OPTION_OBSERVE};
  const uint8_t *data = NULL;
  size_t len = 0;
  coap_opt_iterator_t oi;
  coap_pdu_t *tmp;

  if (!coap_check_option(pdu, COAP_OPTION_OBSERVE, &oi))
    return;
  coap_get_data(pdu, &len, &data);
  tmp = coap_pdu_clone_without(pdu, NULL, drop, 1, len + 1);
  if (!tmp || (len && !coap_add_data(tmp, len, data))) {
    coap_delete_pdu(tmp);
    return;
  }
  memmove(pdu->token, tmp->token, tmp->used_size);
  pdu->used_size = tmp->used_size;
  pdu->max_opt = tmp->max_opt;
  pdu->data = tmp->data ? pdu->token + (tmp->data - tmp->token) : NULL;
  coap_delete_pdu(tmp);
}

/* The Uri-Query options joined with '&', as the handler expects. */
static int
query_of(const coap_pdu_t *req, uint8_t *buf, size_t cap, coap_string_t *q)
{
  coap_opt_iterator_t oi;
  coap_opt_filter_t f;
  coap_opt_t *o;
  size_t n = 0;
  int count = 0;

  coap_option_filter_clear(&f);
  coap_option_filter_set(&f, COAP_OPTION_URI_QUERY);
  coap_option_iterator_init(req, &oi, &f);
  while ((o = coap_option_next(&oi))) {
    uint32_t l = coap_opt_length(o);
    if (n + l + 1 > cap)
      return 0;
    if (count++)
      buf[n++] = '&';
    memcpy(buf + n, coap_opt_value(o), l);
    n += l;
  }
  q->s = buf;
  q->length = n;
  return count;
}

static int
same_query(const coap_pdu_t *a, const coap_pdu_t *b)
{
  uint8_t ba[QUERY_MAX], bb[QUERY_MAX];
  coap_string_t qa = {0, NULL}, qb = {0, NULL};

  query_of(a, ba, sizeof(ba), &qa);
  query_of(b, bb, sizeof(bb), &qb);
  return qa.length == qb.length &&
         (qa.length == 0 || memcmp(qa.s, qb.s, qa.length) == 0);
}

/* ---------------------------------------------------------------- server */

static void
observer_free(coap_observer_t *o, int release)
{
  coap_delete_pdu(o->req);
  if (release)
    coap_session_release(o->session);
  free(o);
}

static void
observer_unlink(coap_resource_t *r, coap_observer_t *o)
{
  for (coap_observer_t **pp = &r->observers; *pp; pp = &(*pp)->next)
    if (*pp == o) {
      *pp = o->next;
      return;
    }
}

static void
observer_remove(coap_resource_t *r, coap_observer_t *o, const char *why)
{
  coap_log_debug("%s: observer of /%.*s removed (%s)",
                 coap_session_str(o->session), (int)r->uri_path->length,
                 (const char *)r->uri_path->s, why);
  observer_unlink(r, o);
  observer_free(o, 1);
}

static coap_observer_t *
observer_find(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req)
{
  for (coap_observer_t *o = r->observers; o; o = o->next)
    if (o->session == s && (same_token(o->req, req) || same_query(o->req, req)))
      return o;
  return NULL;
}

static void
observer_add(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req)
{
  coap_observer_t *o = observer_find(r, s, req);
  coap_pdu_t *copy = coap_pdu_clone_without(req, NULL, NULL, 0, 0);

  if (!copy)
    return;
  copy->session = s;
  if (o) {
    /* Section 4.1: the same client and resource replace the entry. */
    coap_delete_pdu(o->req);
    o->req = copy;
    return;
  }
  o = calloc(1, sizeof(*o));
  if (!o) {
    coap_delete_pdu(copy);
    return;
  }
  o->session = coap_session_reference(s);
  o->req = copy;
  o->last_mid = COAP_INVALID_MID;
  o->last_con_ms = coap_context_now(s->context);
  o->next = r->observers;
  r->observers = o;
}

static int
registers(const coap_resource_t *r, const coap_pdu_t *req)
{
  return r && r->observable && req->code == COAP_REQUEST_CODE_GET &&
         observe_value(req) == COAP_OBSERVE_ESTABLISH;
}

void
coap_observe_before(coap_resource_t *r, coap_session_t *s,
                    const coap_pdu_t *req, coap_pdu_t *resp)
{
  coap_observer_t *o;

  if (!r || req->code != COAP_REQUEST_CODE_GET)
    return;
  if (observe_value(req) == COAP_OBSERVE_CANCEL) {
    for (o = r->observers; o; o = o->next)
      if (o->session == s && same_token(o->req, req)) {
        observer_remove(r, o, "deregistered");
        break;
      }
    return;
  }
  if (registers(r, req))
    add_observe(resp, r->obs_seq);
}

void
coap_observe_after(coap_resource_t *r, coap_session_t *s,
                   const coap_pdu_t *req, coap_pdu_t *resp)
{
  coap_observer_t *o;

  if (!registers(r, req))
    return;
  if (COAP_RESPONSE_CLASS(resp->code) == 2) {
    observer_add(r, s, req);
    return;
  }
  if (resp->code != COAP_EMPTY_CODE)
    strip_observe(resp);
  /* Section 4.1: an error answer ends any registration this replaces. */
  o = observer_find(r, s, req);
  if (o && resp->code != COAP_EMPTY_CODE)
    observer_remove(r, o, "error answer");
}

static coap_pdu_t *
notification(coap_resource_t *r, coap_observer_t *o)
{
  coap_session_t *s = o->session;
  coap_context_t *ctx = s->context;
  coap_method_handler_t h = r->handler[COAP_REQUEST_CODE_GET - 1];
  int con = (r->flags & COAP_RESOURCE_FLAGS_NOTIFY_CON) ||
            o->non_count >= OBS_MAX_NON ||
            coap_context_now(ctx) - o->last_con_ms >= OBS_CON_INTERVAL_MS;
  uint8_t qbuf[QUERY_MAX];
  coap_string_t q;
  int has_q = query_of(o->req, qbuf, sizeof(qbuf), &q);
  coap_pdu_t *pdu;

  if (!h)
    return NULL;
  pdu = coap_pdu_init(con ? COAP_MESSAGE_CON : COAP_MESSAGE_NON,
                      COAP_EMPTY_CODE, coap_new_message_id(s),
                      coap_session_max_pdu_size(s));
  if (!pdu)
    return NULL;
  pdu->session = s;
  if (!coap_add_token(pdu, o->req->token_length, o->req->token) ||
      !add_observe(pdu, r->obs_seq)) {
    coap_delete_pdu(pdu);
    return NULL;
  }
  h(r, s, o->req, has_q ? &q : NULL, pdu);
  return pdu;
}

static void
notify_one(coap_resource_t *r, coap_observer_t *o)
{
  coap_session_t *s = o->session;
  coap_pdu_t *pdu;
  int ended;

  if (s->dead)
    return;
  pdu = notification(r, o);
  if (!pdu)
    return;
  if (pdu->code == COAP_EMPTY_CODE) {
    coap_delete_pdu(pdu); /* the handler answers later, or not at all */
    return;
  }
  ended = COAP_RESPONSE_CLASS(pdu->code) != 2;
  if (ended)
    strip_observe(pdu);
  o->last_mid = pdu->mid;
  if (pdu->type == COAP_MESSAGE_CON) {
    o->last_con_ms = coap_context_now(s->context);
    o->non_count = 0;
  } else {
    o->non_count++;
  }
  coap_send_internal(s, pdu);
  if (ended)
    observer_remove(r, o, "error notification");
}

int
coap_resource_notify_observers(coap_resource_t *resource,
                               const coap_string_t *query)
{
  coap_resource_t *r = resource;

  (void)query;
  if (!r || !r->observable)
    return 0;
  if (r->obs_busy) {
    r->obs_dirty = 1; /* a handler changed it again: one more round */
    return 1;
  }
  r->obs_busy = 1;
  for (int round = 0; round < OBS_NOTIFY_ROUNDS; round++) {
    coap_observer_t *o, *next;
    r->obs_dirty = 0;
    r->obs_seq = (r->obs_seq + 1) & OBS_SEQ_MASK;
    for (o = r->observers; o; o = next) {
      next = o->next;
      notify_one(r, o);
    }
    if (!r->obs_dirty)
      break;
  }
  r->obs_busy = 0;
  return 1;
}

void
coap_resource_set_mode(coap_resource_t *resource, int mode)
{
  if (!resource)
    return;
  resource->flags &= ~COAP_RESOURCE_FLAGS_NOTIFY_CON;
  resource->flags |= mode & COAP_RESOURCE_FLAGS_NOTIFY_CON;
}

size_t
coap_resource_observer_count(const coap_resource_t *resource)
{
  size_t n = 0;

  if (!resource)
    return 0;
  for (const coap_observer_t *o = resource->observers; o; o = o->next)
    n++;
  return n;
}

/* Every resource of the context, the unknown one included. */
static coap_resource_t *
next_resource(coap_context_t *ctx, coap_resource_t *r)
{
  if (!r)
    return ctx->rfirst ? ctx->rfirst : ctx->unknown_resource;
  if (r == ctx->unknown_resource)
    return NULL;
  return r->lnext ? r->lnext : ctx->unknown_resource;
}

void
coap_observe_rst(coap_session_t *s, coap_mid_t mid)
{
  coap_context_t *ctx = s->context;

  for (coap_resource_t *r = next_resource(ctx, NULL); r;
       r = next_resource(ctx, r))
    for (coap_observer_t *o = r->observers; o; o = o->next)
      if (o->session == s && o->last_mid == mid) {
        observer_remove(r, o, "RST");
        return;
      }
}

void
coap_observe_failed(coap_session_t *s, const coap_pdu_t *notification_pdu)
{
  coap_context_t *ctx = s->context;

  for (coap_resource_t *r = next_resource(ctx, NULL); r;
       r = next_resource(ctx, r))
    for (coap_observer_t *o = r->observers; o; o = o->next)
      if (o->session == s && same_token(o->req, notification_pdu)) {
        observer_remove(r, o, "notification not acknowledged");
        return;
      }
}

void
coap_observe_resource_gone(coap_resource_t *r)
{
  coap_observer_t *o, *next;

  for (o = r->observers; o; o = next) {
    coap_session_t *s = o->session;
    coap_pdu_t *pdu;
    next = o->next;
    /* Section 3.2: the resource is gone, and so is the observation. */
    pdu = s->dead ? NULL
                  : coap_pdu_init(COAP_MESSAGE_NON,
                                  COAP_RESPONSE_CODE_NOT_FOUND,
                                  coap_new_message_id(s), 64);
    if (pdu && coap_add_token(pdu, o->req->token_length, o->req->token)) {
      pdu->session = s;
      coap_send_internal(s, pdu);
    } else {
      coap_delete_pdu(pdu);
    }
    observer_free(o, 1);
  }
  r->observers = NULL;
}

/* ---------------------------------------------------------------- client */

static coap_obs_client_t *
client_find(coap_session_t *s, const coap_pdu_t *pdu)
{
  for (coap_obs_client_t *c = s->context->obs_client; c; c = c->next)
    if (c->session == s && same_token(c->req, pdu))
      return c;
  return NULL;
}

static void
client_free(coap_context_t *ctx, coap_obs_client_t *c)
{
  for (coap_obs_client_t **pp = &ctx->obs_client; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  coap_delete_pdu(c->req);
  free(c);
}

void
coap_observe_client_forget(coap_session_t *s, const coap_pdu_t *rcvd)
{
  coap_obs_client_t *c = client_find(s, rcvd);

  if (c)
    client_free(s->context, c);
}

void
coap_observe_client_note(coap_session_t *s, const coap_pdu_t *sent,
                         const coap_pdu_t *rcvd)
{
  coap_obs_client_t *c;
  long v = observe_value(rcvd);

  if (!sent || (sent->code != COAP_REQUEST_CODE_GET &&
                sent->code != COAP_REQUEST_CODE_FETCH))
    return;
  if (observe_value(sent) != COAP_OBSERVE_ESTABLISH ||
      COAP_RESPONSE_CLASS(rcvd->code) != 2 || v < 0) {
    coap_observe_client_forget(s, rcvd);
    return;
  }
  c = client_find(s, rcvd);
  if (!c) {
    c = calloc(1, sizeof(*c));
    if (!c)
      return;
    c->req = coap_pdu_clone_without(sent, NULL, NULL, 0, 0);
    if (!c->req) {
      free(c);
      return;
    }
    c->session = s;
    c->next = s->context->obs_client;
    s->context->obs_client = c;
  }
  c->last_seq = (uint32_t)v;
  c->last_ms = coap_context_now(s->context);
}

/* RFC 7641 3.4: is v2 (now) newer than v1 (at t1)? */
static int
fresh(uint32_t v1, uint32_t v2, uint64_t t1, uint64_t now)
{
  return (v1 < v2 && v2 - v1 < (1u << 23)) ||
         (v1 > v2 && v1 - v2 > (1u << 23)) || now > t1 + OBS_FRESH_MS;
}

int
coap_observe_client_match(coap_session_t *s, const coap_pdu_t *rcvd,
                          const coap_pdu_t **req)
{
  coap_obs_client_t *c = client_find(s, rcvd);
  long v = observe_value(rcvd);
  uint64_t now = coap_context_now(s->context);

  *req = NULL;
  if (!c)
    return 0;
  if (v >= 0) {
    if (!fresh(c->last_seq, (uint32_t)v, c->last_ms, now))
      return 2;
    c->last_seq = (uint32_t)v;
    c->last_ms = now;
  }
  *req = c->req;
  return 1;
}

int
coap_cancel_observe(coap_session_t *session, coap_binary_t *token,
                    coap_pdu_type_t message_type)
{
  static const coap_option_num_t drop[] = {COAP_OPTION_OBSERVE};
  coap_obs_client_t *c;
  coap_pdu_t *pdu;

  if (!session || !token)
    return 0;
  for (c = session->context->obs_client; c; c = c->next)
    if (c->session == session && c->req->token_length == token->length &&
        memcmp(c->req->token, token->s, token->length) == 0)
      break;
  if (!c)
    return 0;
  pdu = coap_pdu_clone_without(c->req, session, drop, 1, 8);
  client_free(session->context, c);
  if (!pdu)
    return 0;
  pdu->type = message_type == COAP_MESSAGE_NON ? COAP_MESSAGE_NON
                                               : COAP_MESSAGE_CON;
  if (!add_observe(pdu, COAP_OBSERVE_CANCEL)) {
    coap_delete_pdu(pdu);
    return 0;
  }
  return coap_send(session, pdu) != COAP_INVALID_MID;
}

/* ---------------------------------------------------------------- sessions */

void
coap_observe_session_gone(coap_session_t *s)
{
  coap_context_t *ctx = s->context;
  coap_obs_client_t *c, *cnext;

  for (coap_resource_t *r = next_resource(ctx, NULL); r;
       r = next_resource(ctx, r)) {
    coap_observer_t *o, *next;
    for (o = r->observers; o; o = next) {
      next = o->next;
      if (o->session != s)
        continue;
      observer_unlink(r, o);
      observer_free(o, 0); /* the session is being destroyed */
    }
  }
  for (c = ctx->obs_client; c; c = cnext) {
    cnext = c->next;
    if (c->session == s)
      client_free(ctx, c);
  }
}
