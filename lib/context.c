/*
 * context.c -- coap_context_t: creation and teardown, handlers, settings,
 * endpoints' ownership, server-side security settings.
 */
#include <stdlib.h>
#include <unistd.h>

#include "net_internal.h"
#include "tls_internal.h"

static int
batch_init(coap_context_t *ctx)
{
  coap_batch_t *b = calloc(1, sizeof(*b));

  if (!b)
    return 0;
  ctx->batch = b;
  b->tx_fd = -1;
  b->width = COAP_BATCH_SMALL;
  b->rx = malloc((size_t)b->width * COAP_RX_SLOT);
  b->tx = malloc((size_t)b->width * COAP_TX_SLOT);
  return b->rx && b->tx;
}

void
coap_batch_widen(coap_context_t *ctx)
{
  coap_batch_t *b = ctx->batch;
  uint8_t *rx, *tx;

  /* Only between batches: the slots of a batch in progress must stay. */
  if (b->width == COAP_BATCH || b->tx_fd >= 0)
    return;
  rx = malloc((size_t)COAP_BATCH * COAP_RX_SLOT);
  tx = malloc((size_t)COAP_BATCH * COAP_TX_SLOT);
  if (!rx || !tx) {
    free(rx);
    free(tx);
    return; /* the narrow batch still works */
  }
  free(b->rx);
  free(b->tx);
  b->rx = rx;
  b->tx = tx;
  b->width = COAP_BATCH;
  b->rx_ready = 0;
  coap_dedup_widen(ctx);
}

static void
batch_free(coap_context_t *ctx)
{
  if (!ctx->batch)
    return;
  free(ctx->batch->rx);
  free(ctx->batch->tx);
  free(ctx->batch);
  ctx->batch = NULL;
}

coap_context_t *
coap_new_context(const coap_address_t *listen_addr)
{
  coap_context_t *ctx = calloc(1, sizeof(*ctx));

  if (!ctx)
    return NULL;
  ctx->epfd = -1;
  ctx->evfd.fd = -1;
  ctx->ack_timeout_ms = COAP_DEFAULT_ACK_TIMEOUT_MS;
  ctx->ack_random_factor_x1000 = COAP_DEFAULT_ACK_RANDOM_FACTOR_X1000;
  ctx->max_retransmit = COAP_DEFAULT_MAX_RETRANSMIT;
  ctx->amp_factor = COAP_DEFAULT_AMP_FACTOR;
  ctx->now = coap_ticks_ms();
  ctx->wall_offset = (int64_t)coap_wallclock_ms() - (int64_t)ctx->now;
  coap_timer_init(&ctx->idle_timer, COAP_TIMER_IDLE);
  if (!coap_loop_init(ctx) || !batch_init(ctx) || !coap_dedup_init(ctx, COAP_DEDUP_SLOTS_SMALL))
    goto fail;
  if (listen_addr && !coap_new_endpoint(ctx, listen_addr, COAP_PROTO_UDP))
    goto fail;
  return ctx;
fail:
  coap_log_err("coap_new_context: cannot create the context");
  coap_free_context(ctx);
  return NULL;
}

void
coap_free_context(coap_context_t *context)
{
  if (!context)
    return;
  coap_sessions_free_all(context);
  while (context->endpoints)
    coap_free_endpoint(context->endpoints);
  coap_resources_free(context);
  coap_timer_cancel(context, &context->idle_timer);
  coap_dedup_free(context);
  batch_free(context);
  coap_tls_context_free(context);
  coap_security_free(context->security);
  coap_loop_free(context);
  free(context);
}

void
coap_context_set_block_mode(coap_context_t *context, uint32_t block_mode)
{
  if (context)
    context->block_mode = block_mode;
}

void
coap_context_set_keepalive(coap_context_t *context, unsigned int seconds)
{
  if (!context)
    return;
  context->keepalive_s = seconds;
  coap_keepalive_apply(context);
}

void
coap_context_set_app_data(coap_context_t *context, void *data)
{
  if (context)
    context->app_data = data;
}

void *
coap_context_get_app_data(const coap_context_t *context)
{
  return context ? context->app_data : NULL;
}

void
coap_context_set_session_timeout(coap_context_t *context, unsigned int seconds)
{
  if (!context)
    return;
  context->session_timeout_s = seconds;
  if (context->lru_head)
    coap_timer_arm(context, &context->idle_timer,
                   coap_context_now(context)); /* re-evaluate soon */
}

void
coap_context_set_max_sessions(coap_context_t *context, unsigned int max)
{
  if (context)
    context->max_sessions = max;
}

unsigned int
coap_context_get_session_count(const coap_context_t *context)
{
  return context ? context->session_count : 0;
}

void
coap_context_set_transmission(coap_context_t *context,
                              unsigned int ack_timeout_ms,
                              unsigned int ack_random_factor_x1000,
                              unsigned int max_retransmit)
{
  if (!context)
    return;
  if (ack_timeout_ms)
    context->ack_timeout_ms = ack_timeout_ms;
  if (ack_random_factor_x1000 >= 1000)
    context->ack_random_factor_x1000 = ack_random_factor_x1000;
  if (max_retransmit)
    context->max_retransmit = max_retransmit > 20 ? 20 : max_retransmit;
}

void
coap_register_response_handler(coap_context_t *context,
                               coap_response_handler_t handler)
{
  if (context)
    context->response_handler = handler;
}

void
coap_register_nack_handler(coap_context_t *context, coap_nack_handler_t handler)
{
  if (context)
    context->nack_handler = handler;
}

void
coap_register_ping_handler(coap_context_t *context, coap_ping_handler_t handler)
{
  if (context)
    context->ping_handler = handler;
}

void
coap_register_pong_handler(coap_context_t *context, coap_pong_handler_t handler)
{
  if (context)
    context->pong_handler = handler;
}

void
coap_register_request_log_handler(coap_context_t *context,
                                  coap_request_log_handler_t handler)
{
  if (context)
    context->request_log = handler;
}

void
coap_register_event_handler(coap_context_t *context,
                            coap_event_handler_t handler)
{
  if (context)
    context->event_handler = handler;
}

int
coap_can_exit(coap_context_t *context)
{
  if (!context)
    return 1;
  for (coap_session_t *s = context->sessions; s; s = s->all_next)
    if (s->ext->queue && !s->dead)
      return 0;
  return 1;
}

int
coap_tcp_is_supported(void)
{
  return 1; /* tcp.c */
}

int
coap_dtls_is_supported(void)
{
  return coap_tls_unavailable_reason() == NULL; /* loads the module */
}

int
coap_tls_is_supported(void)
{
  return coap_tls_unavailable_reason() == NULL; /* under tcp.c */
}

int
coap_ws_is_supported(void)
{
  return 1; /* ws.c */
}

int
coap_wss_is_supported(void)
{
  return coap_tls_is_supported(); /* WebSockets over tcp.c's TLS */
}

/* ---------------------------------------------------------------- security */

static coap_security_t *
context_security(coap_context_t *ctx)
{
  if (!ctx->security)
    ctx->security = calloc(1, sizeof(*ctx->security));
  return ctx->security;
}

int
coap_context_set_psk2(coap_context_t *context, coap_dtls_spsk_t *setup_data)
{
  coap_security_t *sec, *old;

  if (!context || !setup_data)
    return 0;
  sec = coap_security_from_spsk(setup_data);
  if (!sec)
    return 0;
  old = context->security;
  if (old && old->has_pki) {
    /* Keep the PKI half: move it over. */
    sec->has_pki = 1;
    sec->pki = old->pki;
    old->has_pki = 0;
  }
  if (old) {
    sec->ca_file = old->ca_file;
    sec->ca_dir = old->ca_dir;
    old->ca_file = old->ca_dir = NULL;
  }
  coap_security_free(old);
  context->security = sec;
  coap_tls_context_reset(context); /* the server SSL_CTX is rebuilt */
  return 1;
}

int
coap_context_set_pki(coap_context_t *context, const coap_dtls_pki_t *setup_data)
{
  coap_security_t *sec, *old;

  if (!context || !setup_data)
    return 0;
  sec = coap_security_from_pki(setup_data);
  if (!sec)
    return 0;
  old = context->security;
  if (old && old->has_psk) {
    sec->has_psk = 1;
    sec->spsk = old->spsk;
    sec->psk_hint = old->psk_hint;
    sec->psk_key = old->psk_key;
    sec->psk_identity = old->psk_identity;
    old->psk_hint.s = old->psk_key.s = old->psk_identity.s = NULL;
  }
  if (old) {
    sec->ca_file = old->ca_file;
    sec->ca_dir = old->ca_dir;
    old->ca_file = old->ca_dir = NULL;
  }
  coap_security_free(old);
  context->security = sec;
  coap_tls_context_reset(context); /* the server SSL_CTX is rebuilt */
  return 1;
}

int
coap_context_set_pki_root_cas(coap_context_t *context, const char *ca_file,
                              const char *ca_dir)
{
  coap_security_t *sec;
  char *f = NULL, *d = NULL;

  if (!context || (!ca_file && !ca_dir))
    return 0;
  sec = context_security(context);
  if (!sec)
    return 0;
  if ((ca_file && !(f = strdup(ca_file))) || (ca_dir && !(d = strdup(ca_dir)))) {
    free(f);
    return 0;
  }
  free(sec->ca_file);
  free(sec->ca_dir);
  sec->ca_file = f;
  sec->ca_dir = d;
  coap_tls_context_reset(context);
  return 1;
}
