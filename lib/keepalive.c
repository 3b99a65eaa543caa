/*
 * keepalive.c -- idle pings (RFC 7252 4.3: an empty CON solicits a RST).
 *
 * A session's timer is not moved on every datagram: when it fires it looks
 * at the last activity and re-arms itself for the real deadline, so the hot
 * path costs nothing.
 */
#include "net_internal.h"

static uint64_t
period_ms(const coap_context_t *ctx)
{
  return (uint64_t)ctx->keepalive_s * 1000u;
}

void
coap_keepalive_start(coap_session_t *s)
{
  coap_context_t *ctx = s->context;

  if (!ctx->keepalive_s || s->dead) {
    coap_timer_cancel(ctx, &s->ext->ka_timer);
    return;
  }
  if (!coap_session_ext(s))
    return;
  coap_timer_arm(ctx, &s->ext->ka_timer, s->last_activity + period_ms(ctx));
}

void
coap_keepalive_apply(coap_context_t *ctx)
{
  for (coap_session_t *s = ctx->sessions; s; s = s->all_next)
    coap_keepalive_start(s);
}

void
coap_keepalive_fire(coap_context_t *ctx, coap_session_t *s)
{
  uint64_t due = s->last_activity + period_ms(ctx);
  coap_mid_t mid;

  if (!ctx->keepalive_s || s->dead)
    return;
  if (s->ext->ka_outstanding || due > ctx->now) {
    /* Traffic since, or a ping still being retransmitted: look again. */
    coap_timer_arm(ctx, &s->ext->ka_timer,
                   due > ctx->now ? due : ctx->now + period_ms(ctx));
    return;
  }
  mid = coap_session_send_ping(s);
  if (mid != COAP_INVALID_MID) {
    s->ext->ka_outstanding = 1;
    s->ext->ka_mid = (uint16_t)mid;
  }
  coap_timer_arm(ctx, &s->ext->ka_timer, ctx->now + period_ms(ctx));
}

void
coap_keepalive_failed(coap_session_t *s)
{
  if (coap_session_has_ext(s))
    s->ext->ka_outstanding = 0;
  if (s->dead)
    return;
  coap_session_event(s, COAP_EVENT_KEEPALIVE_FAILURE);
  coap_session_disconnected(s, COAP_NACK_TOO_MANY_RETRIES);
}
