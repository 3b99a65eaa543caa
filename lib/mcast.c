/*
 * mcast.c -- RFC 7252 section 8.2: a server's answers to group requests.
 *
 * An answer to a request that reached us through a multicast address goes
 * out as NON after a random delay within the Leisure period (so that the
 * members of a group do not all answer at once); errors are not sent at all
 * (resource.c decides that).  The delayed datagrams wait here, each with a
 * timer and a reference on its session.
 */
#include <stdlib.h>
#include <sys/random.h>

#include "net_internal.h"

typedef struct coap_delayed_t {
  coap_timer_t timer;              /* first: the timer leads to the entry */
  struct coap_delayed_t *next;
  coap_session_t *session;
  size_t len;
  uint8_t data[];
} coap_delayed_t;

void
coap_context_set_mcast_leisure(coap_context_t *context, unsigned int ms)
{
  if (context)
    context->mcast_leisure_ms = ms ? ms : COAP_DEFAULT_LEISURE_MS;
}

static void
delayed_unlink(coap_context_t *ctx, coap_delayed_t *d)
{
  for (coap_delayed_t **pp = &ctx->delayed; *pp; pp = &(*pp)->next)
    if (*pp == d) {
      *pp = d->next;
      return;
    }
}

void
coap_mcast_delay(coap_session_t *s, const uint8_t *data, size_t len)
{
  coap_context_t *ctx = s->context;
  uint32_t leisure = ctx->mcast_leisure_ms ? ctx->mcast_leisure_ms
                                           : COAP_DEFAULT_LEISURE_MS;
  uint32_t r = 0;
  coap_delayed_t *d = malloc(sizeof(*d) + len);

  if (!d)
    return;
  if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
    r = (uint32_t)coap_ticks_ms();
  memcpy(d->data, data, len);
  d->len = len;
  d->session = coap_session_reference(s);
  coap_timer_init(&d->timer, COAP_TIMER_MCAST);
  d->next = ctx->delayed;
  ctx->delayed = d;
  if (!coap_timer_arm(ctx, &d->timer, coap_context_now(ctx) + r % leisure))
    coap_mcast_timer_fire(ctx, &d->timer); /* no room to wait: send now */
}

void
coap_mcast_timer_fire(coap_context_t *ctx, coap_timer_t *t)
{
  coap_delayed_t *d = (coap_delayed_t *)(void *)t;
  coap_session_t *s = d->session;

  coap_timer_cancel(ctx, &d->timer);
  delayed_unlink(ctx, d);
  if (!s->dead)
    coap_udp_send(s, d->data, d->len);
  free(d);
  coap_session_release(s);
}

void
coap_mcast_session_gone(coap_session_t *s)
{
  coap_context_t *ctx = s->context;
  coap_delayed_t *d = ctx->delayed, *next;

  for (; d; d = next) {
    next = d->next;
    if (d->session != s)
      continue;
    coap_timer_cancel(ctx, &d->timer);
    delayed_unlink(ctx, d);
    free(d); /* the session is being destroyed: no release */
  }
}
