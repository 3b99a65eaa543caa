/*
 * session.c -- coap_session_t: reference counts, types and states, the
 * server sessions' hash table and idle pool, the getters, and the client
 * session constructors.
 *
 * Server sessions are found by a chained hash on (endpoint, peer).  The
 * unreferenced ones sit in an LRU list (oldest first); one context timer
 * looks only at the oldest end, so expiry never walks every session.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "net_internal.h"
#include "stream_internal.h"
#include "tls_internal.h"

static void
random_bytes(void *buf, size_t len)
{
  ssize_t r = getrandom(buf, len, GRND_NONBLOCK);

  if (r == (ssize_t)len)
    return;
  /* Only at early boot: fall back to something that still varies. */
  {
    uint8_t *p = buf;
    uint64_t x = coap_ticks_ms() ^ (uint64_t)(uintptr_t)buf ^ (uint64_t)getpid();
    for (size_t i = 0; i < len; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      p[i] = (uint8_t)x;
    }
  }
}

/* ---------------------------------------------------------------- hash */

static uint32_t
fnv(uint32_t h, const void *data, size_t len)
{
  const uint8_t *p = data;

  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 16777619u;
  }
  return h;
}

/* Runs for every datagram: IP addresses are mixed a word at a time. */
static uint32_t
mix64(uint64_t x)
{
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return (uint32_t)x;
}

static uint32_t
peer_hash(const coap_endpoint_t *ep, const coap_address_t *a)
{
  uint64_t e = (uint64_t)(uintptr_t)ep * 0x9E3779B97F4A7C15ull, w[2];
  uint32_t h = 2166136261u;

  switch (a->addr.sa.sa_family) {
  case AF_INET:
    return mix64(e ^ ((uint64_t)a->addr.sin.sin_port << 32 |
                      a->addr.sin.sin_addr.s_addr));
  case AF_INET6:
    memcpy(w, &a->addr.sin6.sin6_addr, sizeof(w));
    return mix64(e ^ a->addr.sin6.sin6_port ^ w[0] ^
                 (w[1] * 0xC2B2AE3D27D4EB4Full));
  case AF_UNIX:
    h = fnv(h, &ep, sizeof(ep));
    return fnv(h, a->addr.cun.sun_path,
               strnlen(a->addr.cun.sun_path, sizeof(a->addr.cun.sun_path)));
  default:
    return h;
  }
}

/* Not kept in the session (4 bytes each): recomputed to move or unlink. */
static uint32_t
session_hash(const coap_session_t *s)
{
  coap_address_t a;

  coap_session_remote(s, &a);
  return peer_hash(s->endpoint, &a);
}

static int
htab_grow(coap_context_t *ctx)
{
  size_t size = ctx->htab_size ? ctx->htab_size * 2 : 64;
  coap_session_t **t = calloc(size, sizeof(*t));

  if (!t)
    return 0;
  for (size_t i = 0; i < ctx->htab_size; i++) {
    coap_session_t *s = ctx->htab[i], *next;
    for (; s; s = next) {
      size_t b = session_hash(s) & (size - 1);
      next = s->hnext;
      s->hnext = t[b];
      t[b] = s;
    }
  }
  free(ctx->htab);
  ctx->htab = t;
  ctx->htab_size = size;
  return 1;
}

static int
htab_insert(coap_context_t *ctx, coap_session_t *s, uint32_t hash)
{
  size_t b;

  if (ctx->server_sessions + 1 > ctx->htab_size && !htab_grow(ctx))
    return 0;
  b = hash & (ctx->htab_size - 1);
  s->hnext = ctx->htab[b];
  ctx->htab[b] = s;
  s->in_htab = 1;
  return 1;
}

static void
htab_remove(coap_context_t *ctx, coap_session_t *s)
{
  coap_session_t **pp;

  if (!ctx->htab_size)
    return;
  for (pp = &ctx->htab[session_hash(s) & (ctx->htab_size - 1)]; *pp;
       pp = &(*pp)->hnext) {
    if (*pp == s) {
      *pp = s->hnext;
      s->hnext = NULL;
      return;
    }
  }
}

/* ---------------------------------------------------------------- extension */

const coap_session_ext_t coap_session_ext_none = {
    .ka_timer = {.heap_index = COAP_TIMER_IDLE_INDEX,
                 .kind = COAP_TIMER_KEEPALIVE},
    .mtu = COAP_DEFAULT_MTU,
    .hops = 1,
};


coap_session_ext_t *
coap_session_ext(coap_session_t *s)
{
  coap_session_ext_t *x;

  if (coap_session_has_ext(s))
    return s->ext;
  x = malloc(sizeof(*x));
  if (!x) {
    coap_log_warn("session: out of memory");
    return NULL;
  }
  *x = coap_session_ext_none;
  x->session = s;
  s->ext = x;
  return x;
}

void
coap_session_set_ifindex(coap_session_t *s, int ifindex)
{
  if (ifindex > COAP_IFINDEX_IN_EXT && ifindex <= INT16_MAX) {
    s->ifindex = (int16_t)ifindex;
    return;
  }
  if (!coap_session_ext(s))
    return;
  s->ext->ifindex = ifindex;
  s->ifindex = COAP_IFINDEX_IN_EXT;
}

void
coap_session_remote(const coap_session_t *s, coap_address_t *out)
{
  coap_address_init(out);
  switch (s->remote.sa.sa_family) {
  case AF_INET:
    out->addr.sin = s->remote.sin;
    break;
  case AF_INET6:
    out->addr.sin6 = s->remote.sin6;
    break;
  case AF_UNIX:
    *out = s->ext->remote_full;
    return;
  default:
    break;
  }
  out->size = coap_address_socklen(out);
}

int
coap_session_set_remote(coap_session_t *s, const coap_address_t *a)
{
  coap_session_ext_t *x;

  memset(&s->remote, 0, sizeof(s->remote));
  switch (a->addr.sa.sa_family) {
  case AF_INET:
    s->remote.sin = a->addr.sin;
    return 1;
  case AF_INET6:
    s->remote.sin6 = a->addr.sin6;
    return 1;
  case AF_UNIX:
    x = coap_session_ext(s);
    if (!x)
      return 0;
    coap_address_copy(&x->remote_full, a);
    s->remote.sa.sa_family = AF_UNIX;
    return 1;
  default:
    s->remote.sa.sa_family = a->addr.sa.sa_family;
    return 1;
  }
}

const struct sockaddr *
coap_session_remote_sa(const coap_session_t *s, socklen_t *len)
{
  switch (s->remote.sa.sa_family) {
  case AF_INET:
    *len = sizeof(s->remote.sin);
    return &s->remote.sa;
  case AF_INET6:
    *len = sizeof(s->remote.sin6);
    return &s->remote.sa;
  case AF_UNIX:
    *len = coap_address_socklen(&s->ext->remote_full);
    return &s->ext->remote_full.addr.sa;
  default:
    *len = 0;
    return &s->remote.sa;
  }
}

coap_address_t *
coap_session_own_local(coap_session_t *s)
{
  coap_session_ext_t *x = coap_session_ext(s);

  if (!x)
    return NULL;
  if (s->local != &x->local_own) {
    if (s->local)
      coap_address_copy(&x->local_own, s->local);
    else
      coap_address_init(&x->local_own);
    s->local = &x->local_own;
  }
  return &x->local_own;
}

/* The interned form of a server session's local address: the endpoint's
 * bind address, or an entry of its small list of those seen. */
static const coap_address_t *
intern_local(coap_endpoint_t *ep, const coap_address_t *local)
{
  coap_local_addr_t *e;

  if (!local || coap_address_equals(local, &ep->bind_addr))
    return &ep->bind_addr;
  for (e = ep->locals; e; e = e->next)
    if (coap_address_equals(local, &e->addr))
      return &e->addr;
  if (ep->nlocals >= COAP_ENDPOINT_MAX_LOCALS)
    return NULL;
  e = malloc(sizeof(*e));
  if (!e)
    return NULL;
  coap_address_copy(&e->addr, local);
  e->next = ep->locals;
  ep->locals = e;
  ep->nlocals++;
  return &e->addr;
}

void
coap_endpoint_free_locals(coap_endpoint_t *ep)
{
  while (ep->locals) {
    coap_local_addr_t *e = ep->locals;
    ep->locals = e->next;
    free(e);
  }
  ep->nlocals = 0;
}

/* IPv4, the usual peer, compared without a call. */
static int
same_ipv4(const coap_peer_addr_t *a, const coap_address_t *b)
{
  return a->sa.sa_family == AF_INET && b->addr.sa.sa_family == AF_INET &&
         a->sin.sin_port == b->addr.sin.sin_port &&
         a->sin.sin_addr.s_addr == b->addr.sin.sin_addr.s_addr;
}

static int
same_peer(const coap_session_t *s, const coap_address_t *b)
{
  if (s->remote.sa.sa_family != b->addr.sa.sa_family)
    return 0;
  switch (b->addr.sa.sa_family) {
  case AF_INET:
    return same_ipv4(&s->remote, b);
  case AF_INET6:
    return s->remote.sin6.sin6_port == b->addr.sin6.sin6_port &&
           memcmp(&s->remote.sin6.sin6_addr, &b->addr.sin6.sin6_addr,
                  sizeof(struct in6_addr)) == 0 &&
           s->remote.sin6.sin6_scope_id == b->addr.sin6.sin6_scope_id;
  case AF_UNIX:
    return coap_address_equals(&s->ext->remote_full, b);
  default:
    return 0;
  }
}

coap_session_t *
coap_session_find_server(coap_context_t *ctx, coap_endpoint_t *ep,
                         const coap_address_t *peer)
{
  uint32_t h;
  coap_session_t *s;

  if (!ctx->htab_size)
    return NULL;
  /* Datagrams come in bursts from one peer (a batch, a block-wise
   * transfer): the session of the previous one is checked before hashing. */
  s = ctx->last_found;
  if (s && s->endpoint == ep && same_ipv4(&s->remote, peer))
    return s;
  h = peer_hash(ep, peer);
  for (s = ctx->htab[h & (ctx->htab_size - 1)]; s; s = s->hnext) {
    if (s->endpoint == ep && same_peer(s, peer))
      return ctx->last_found = s;
  }
  return NULL;
}

/* ---------------------------------------------------------------- idle LRU */

static void
lru_unlink(coap_context_t *ctx, coap_session_t *s)
{
  if (!s->in_lru)
    return;
  if (s->lru_prev)
    s->lru_prev->lru_next = s->lru_next;
  else
    ctx->lru_head = s->lru_next;
  if (s->lru_next)
    s->lru_next->lru_prev = s->lru_prev;
  else
    ctx->lru_tail = s->lru_prev;
  s->lru_prev = s->lru_next = NULL;
  s->in_lru = 0;
}

static void
lru_append(coap_context_t *ctx, coap_session_t *s)
{
  s->lru_prev = ctx->lru_tail;
  s->lru_next = NULL;
  if (ctx->lru_tail)
    ctx->lru_tail->lru_next = s;
  else
    ctx->lru_head = s;
  ctx->lru_tail = s;
  s->in_lru = 1;
}

static uint64_t
idle_timeout_ms(const coap_context_t *ctx)
{
  return (uint64_t)(ctx->session_timeout_s ? ctx->session_timeout_s : 300) *
         1000u;
}

static void
idle_arm(coap_context_t *ctx)
{
  if (!ctx->lru_head) {
    coap_timer_cancel(ctx, &ctx->idle_timer);
    return;
  }
  coap_timer_arm(ctx, &ctx->idle_timer,
                 ctx->lru_head->last_activity + idle_timeout_ms(ctx));
}

void
coap_session_touch(coap_session_t *s)
{
  coap_context_t *ctx = s->context;

  s->last_activity = coap_context_now(ctx);
  if (!s->in_lru)
    return;
  /* Most recently used goes last; the timer may now fire early for the old
   * head, which costs one look and a re-arm. */
  if (ctx->lru_tail != s) {
    lru_unlink(ctx, s);
    lru_append(ctx, s);
  }
}

static void
idle_pool_add(coap_session_t *s)
{
  coap_context_t *ctx = s->context;

  if (s->in_lru || s->type != COAP_SESSION_TYPE_SERVER)
    return;
  s->last_activity = coap_context_now(ctx);
  lru_append(ctx, s);
  if (!coap_timer_armed(&ctx->idle_timer))
    idle_arm(ctx);
}

void
coap_session_idle_expire(coap_context_t *ctx)
{
  uint64_t limit = idle_timeout_ms(ctx);
  unsigned budget = ctx->server_sessions + 1;

  while (ctx->lru_head && budget-- > 0) {
    coap_session_t *s = ctx->lru_head;
    if (s->last_activity + limit > ctx->now)
      break;
    if (s->ext->queue) {
      /* Still has messages in flight: give it another period. */
      coap_session_touch(s);
      continue;
    }
    coap_session_free(s);
  }
  idle_arm(ctx);
}

/* ---------------------------------------------------------------- life */

coap_session_t *
coap_session_new(coap_context_t *ctx, coap_session_type_t type,
                 coap_proto_t proto)
{
  coap_session_t *s = calloc(1, sizeof(*s));
  uint16_t mid;

  if (!s)
    return NULL;
  s->io.fd = -1;
  s->io.kind = COAP_IO_SESSION;
  s->context = ctx;
  s->id = ++ctx->next_session_id;
  s->type = (uint8_t)type;
  s->proto = (uint8_t)proto;
  s->state = COAP_SESSION_STATE_ESTABLISHED;
  random_bytes(&mid, sizeof(mid));
  s->next_mid = mid;
  s->last_activity = coap_context_now(ctx);
  s->created = s->last_activity;
  s->ext = (coap_session_ext_t *)(uintptr_t)&coap_session_ext_none;
  /* Only an idle UDP server session goes without its extension. */
  if ((type != COAP_SESSION_TYPE_SERVER || proto != COAP_PROTO_UDP) &&
      !coap_session_ext(s)) {
    free(s);
    return NULL;
  }
  if (coap_session_has_ext(s))
    s->local = &s->ext->local_own;
  s->all_next = ctx->sessions;
  if (ctx->sessions)
    ctx->sessions->all_prev = s;
  ctx->sessions = s;
  ctx->session_count++;
  return s;
}

static void
evict_one(coap_context_t *ctx)
{
  coap_session_t *s = ctx->lru_head;

  /* Evicting a session with messages in flight would drop them silently;
   * prefer the oldest quiet one within a short look. */
  for (int i = 0; s && s->ext->queue && i < 8; i++)
    s = s->lru_next;
  if (s && !s->ext->queue)
    coap_session_free(s);
}

coap_session_t *
coap_session_get_server(coap_context_t *ctx, coap_endpoint_t *ep,
                        const coap_address_t *peer,
                        const coap_address_t *local)
{
  coap_session_t *s = coap_session_find_server(ctx, ep, peer);

  if (s)
    return s;
  if (ctx->max_sessions && ctx->server_sessions >= ctx->max_sessions) {
    evict_one(ctx);
    if (ctx->server_sessions >= ctx->max_sessions) {
      coap_log_debug("session limit reached: datagram dropped");
      return NULL;
    }
  }
  s = coap_session_new(ctx, COAP_SESSION_TYPE_SERVER, ep->proto);
  if (!s)
    return NULL;
  s->endpoint = ep;
  s->local = intern_local(ep, local);
  if (!coap_session_set_remote(s, peer) ||
      (!s->local && !(s->local = coap_session_own_local(s)))) {
    coap_session_free(s);
    return NULL;
  }
  if (s->local == &s->ext->local_own)
    coap_address_copy(&s->ext->local_own, local);
  if (!htab_insert(ctx, s, peer_hash(ep, peer))) {
    coap_session_free(s);
    return NULL;
  }
  ctx->server_sessions++;
  idle_pool_add(s);
  coap_keepalive_start(s);
  coap_session_event(s, COAP_EVENT_SERVER_SESSION_NEW);
  return s;
}

void
coap_session_event(coap_session_t *s, coap_event_t ev)
{
  if (s->context->event_handler)
    s->context->event_handler(s, ev);
}

void
coap_session_set_state(coap_session_t *s, coap_session_state_t state)
{
  if (s->state == (uint8_t)state)
    return;
  s->state = (uint8_t)state;
  coap_session_event(s, COAP_EVENT_SESSION_STATE);
}

static void
session_destroy(coap_session_t *s)
{
  coap_context_t *ctx = s->context;

  if (s->endpoint && s->type == COAP_SESSION_TYPE_SERVER)
    coap_session_event(s, COAP_EVENT_SERVER_SESSION_DEL);
  if (s->proto == COAP_PROTO_DTLS)
    coap_tls_close(s); /* close_notify while the socket is still there */
  coap_queue_drop_all(s, COAP_NACK_NOT_DELIVERABLE, 0);
  coap_observe_session_gone(s);
  coap_block_session_gone(s);
  coap_mcast_session_gone(s);
  coap_timer_cancel(ctx, &s->ext->ka_timer);
  lru_unlink(ctx, s);
  if (ctx->last_found == s)
    ctx->last_found = NULL;
  if (s->in_htab) {
    htab_remove(ctx, s);
    ctx->server_sessions--;
  }
  coap_stream_free(s); /* closes a stream's socket itself */
  if (s->io.fd >= 0) {
    coap_loop_del(ctx, &s->io);
    close(s->io.fd);
    s->io.fd = -1;
  }
  if (s->ext->unix_bound)
    unlink(s->local->addr.cun.sun_path);
  if (s->all_prev)
    s->all_prev->all_next = s->all_next;
  else if (ctx->sessions == s)
    ctx->sessions = s->all_next;
  if (s->all_next)
    s->all_next->all_prev = s->all_prev;
  ctx->session_count--;
  coap_tls_detach(s);
  coap_security_free(s->ext->security);
  free(s->ext->mcast_addr);
  if (coap_session_has_ext(s))
    free(s->ext);
  free(s);
}

void
coap_session_free(coap_session_t *s)
{
  coap_context_t *ctx;

  if (!s || s->dead)
    return;
  ctx = s->context;
  if (ctx->in_dispatch && s->type == COAP_SESSION_TYPE_CLIENT) {
    /* The loop may still hold this session: free it at the end of the
     * turn, but stop its traffic now. */
    s->dead = 1;
    coap_queue_drop_all(s, COAP_NACK_NOT_DELIVERABLE, 0);
    coap_timer_cancel(ctx, &s->ext->ka_timer);
    if (s->io.fd >= 0)
      coap_loop_del(ctx, &s->io);
    s->lru_next = ctx->dead; /* a client is never in the LRU: reuse link */
    ctx->dead = s;
    return;
  }
  session_destroy(s);
}

void
coap_session_reap(coap_context_t *ctx)
{
  if (ctx->in_dispatch)
    return;
  while (ctx->dead) {
    coap_session_t *s = ctx->dead;
    ctx->dead = s->lru_next;
    s->lru_next = NULL;
    session_destroy(s);
  }
}

void
coap_sessions_free_all(coap_context_t *ctx)
{
  int saved = ctx->in_dispatch;

  ctx->in_dispatch = 0;
  coap_session_reap(ctx);
  while (ctx->sessions)
    session_destroy(ctx->sessions);
  ctx->in_dispatch = saved;
  free(ctx->htab);
  ctx->htab = NULL;
  ctx->htab_size = 0;
}

/* ---------------------------------------------------------------- public */

coap_session_t *
coap_session_reference(coap_session_t *session)
{
  if (!session)
    return NULL;
  session->refcount++;
  lru_unlink(session->context, session);
  return session;
}

void
coap_session_release(coap_session_t *session)
{
  if (!session || session->dead)
    return;
  if (session->refcount == 0) {
    coap_log_debug("coap_session_release: reference count already 0");
    return;
  }
  if (--session->refcount > 0)
    return;
  if (session->type == COAP_SESSION_TYPE_CLIENT)
    coap_session_free(session);
  else
    idle_pool_add(session);
}

/* Every queued or outstanding message is dropped with a nack carrying the
 * reason; the state becomes NONE and SESSION_CLOSED is signalled (once).  A
 * UDP session needs no handshake, so the next coap_send re-establishes it;
 * SESSION_FAILED is reserved for socket errors (ICMP). */
void
coap_session_disconnected(coap_session_t *session, coap_nack_reason_t reason)
{
  if (!session || session->dead)
    return;
  coap_queue_drop_all(session, reason, 1);
  if (coap_session_has_ext(session))
    session->ext->ka_outstanding = 0;
  coap_stream_disconnected(session); /* a stream's connection goes too */
  if (session->state == COAP_SESSION_STATE_NONE)
    return;
  coap_session_set_state(session, COAP_SESSION_STATE_NONE);
  coap_session_event(session, COAP_EVENT_SESSION_CLOSED);
}

int
coap_session_set_type_client(coap_session_t *session)
{
  if (!session || session->type != COAP_SESSION_TYPE_SERVER)
    return 0;
  session->type = COAP_SESSION_TYPE_CLIENT;
  coap_session_reference(session);
  return 1;
}

void
coap_session_set_app_data(coap_session_t *session, void *data)
{
  if (session && (data || coap_session_has_ext(session)) && coap_session_ext(session))
    session->ext->app_data = data;
}

void *
coap_session_get_app_data(const coap_session_t *session)
{
  return session ? session->ext->app_data : NULL;
}

const coap_address_t *
coap_session_get_addr_local(const coap_session_t *session)
{
  return session ? session->local : NULL;
}

const coap_address_t *
coap_session_get_addr_mcast(const coap_session_t *session)
{
  return session ? session->ext->mcast_addr : NULL;
}

const coap_address_t *
coap_session_get_addr_remote(const coap_session_t *session)
{
  /* The caller holds the session, which is never defined const: the full
   * form is made in its extension, which lives as long as it does. */
  coap_session_t *s = (coap_session_t *)(uintptr_t)session;
  coap_session_ext_t *x;

  if (!s || !(x = coap_session_ext(s)))
    return NULL;
  if (s->remote.sa.sa_family != AF_UNIX)
    coap_session_remote(s, &x->remote_full);
  return &x->remote_full;
}

coap_context_t *
coap_session_get_context(const coap_session_t *session)
{
  return session ? session->context : NULL;
}

int
coap_session_get_ifindex(const coap_session_t *session)
{
  if (!session)
    return -1;
  return session->ifindex == COAP_IFINDEX_IN_EXT ? session->ext->ifindex
                                                 : session->ifindex;
}

coap_proto_t
coap_session_get_proto(const coap_session_t *session)
{
  return session ? (coap_proto_t)session->proto : COAP_PROTO_NONE;
}

coap_session_state_t
coap_session_get_state(const coap_session_t *session)
{
  return session ? (coap_session_state_t)session->state
                 : COAP_SESSION_STATE_NONE;
}

coap_session_type_t
coap_session_get_type(const coap_session_t *session)
{
  return session ? (coap_session_type_t)session->type : COAP_SESSION_TYPE_NONE;
}

const coap_bin_const_t *
coap_session_get_psk_hint(const coap_session_t *session)
{
  if (!session || !session->ext->security || !session->ext->security->psk_hint.s)
    return NULL;
  return &session->ext->security->psk_hint;
}

const coap_bin_const_t *
coap_session_get_psk_key(const coap_session_t *session)
{
  if (!session || !session->ext->security || !session->ext->security->psk_key.s)
    return NULL;
  return &session->ext->security->psk_key;
}

const coap_bin_const_t *
coap_session_get_psk_identity(const coap_session_t *session)
{
  if (!session || !session->ext->security || !session->ext->security->psk_identity.s)
    return NULL;
  return &session->ext->security->psk_identity;
}

void
coap_session_set_mtu(coap_session_t *session, unsigned mtu)
{
  if (!session)
    return;
  /* RFC 7252 4.6: 1152 is safe; below 64 nothing useful fits. */
  if (mtu < 64)
    mtu = 64;
  if (mtu > 65535)
    mtu = 65535;
  if (mtu == session->ext->mtu || !coap_session_ext(session))
    return;
  session->ext->mtu = (uint16_t)mtu;
}

size_t
coap_session_max_pdu_size(const coap_session_t *session)
{
  /* UDP: the 4-byte header is part of the PDU, so the whole MTU. */
  return session ? session->ext->mtu : 0;
}

size_t
coap_session_get_mtu(const coap_session_t *session)
{
  return session ? session->ext->mtu : 0;
}

int
coap_mcast_set_hops(coap_session_t *session, size_t hops)
{
  int v = (int)hops;

  if (!session || hops > 255 || !coap_session_ext(session))
    return 0;
  session->ext->hops = (uint8_t)hops;
  if (session->io.fd < 0 || !session->ext->mcast_addr)
    return 1;
  if (session->ext->mcast_addr->addr.sa.sa_family == AF_INET6)
    return setsockopt(session->io.fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &v,
                      sizeof(v)) == 0;
  return setsockopt(session->io.fd, IPPROTO_IP, IP_MULTICAST_TTL, &v,
                    sizeof(v)) == 0;
}

size_t
coap_session_get_mcast_hops(const coap_session_t *session)
{
  return session ? session->ext->hops : 0;
}

const char *
coap_session_str(const coap_session_t *session)
{
  static char buf[2 * 120 + 16];
  unsigned char l[120], r[120];
  coap_address_t ra;

  if (!session)
    return "(null session)";
  coap_session_remote(session, &ra);
  if (!session->local || !coap_print_addr(session->local, l, sizeof(l)))
    snprintf((char *)l, sizeof(l), "-");
  if (!coap_print_addr(&ra, r, sizeof(r)))
    snprintf((char *)r, sizeof(r), "-");
  snprintf(buf, sizeof(buf), "%s <-> %s %s", l, r,
           coap_proto_name((coap_proto_t)session->proto)
               ? coap_proto_name((coap_proto_t)session->proto)
               : "?");
  return buf;
}

int
coap_session_get_stats(const coap_session_t *session,
                       coap_session_stats_t *stats)
{
  if (!session || !stats)
    return 0;
  memset(stats, 0, sizeof(*stats));
  stats->sent = session->sent;
  stats->received = session->received;
  stats->retransmitted = session->ext->retransmitted;
  stats->duplicates = session->ext->duplicates;
  stats->created_ms =
      (uint64_t)((int64_t)session->created + session->context->wall_offset);
  stats->last_rx_tx_ms =
      (uint64_t)((int64_t)session->last_activity + session->context->wall_offset);
  return 1;
}

uint64_t
coap_session_get_id(const coap_session_t *session)
{
  return session ? session->id : 0;
}

int
coap_context_foreach_session(coap_context_t *ctx, coap_session_iter_t cb,
                             void *arg)
{
  coap_session_t *s, *next;

  if (!ctx || !cb)
    return 0;
  for (s = ctx->sessions; s; s = next) {
    int r;
    next = s->all_next; /* cb may release (free) s */
    if (s->dead)
      continue;
    r = cb(s, arg);
    if (r)
      return r;
  }
  return 0;
}

unsigned int
coap_session_get_refcount(const coap_session_t *session)
{
  return session ? session->refcount : 0;
}

uint16_t
coap_new_message_id(coap_session_t *session)
{
  if (!session)
    return 0;
  return ++session->next_mid;
}

int
coap_token_in_use(const coap_session_t *s, const uint8_t *tok, size_t len)
{
  for (const coap_queue_t *q = s->ext->queue; q; q = q->next)
    if (q->pdu && q->pdu->token_length == len &&
        memcmp(q->pdu->token, tok, len) == 0)
      return 1;
  return 0;
}

void
coap_session_new_token(coap_session_t *session, size_t *len, uint8_t *token)
{
  size_t n;

  if (!len || !token)
    return;
  n = (*len >= 1 && *len <= COAP_TOKEN_MAX_LEN) ? *len : COAP_TOKEN_MAX_LEN;
  /* 64 random bits rarely collide; the check makes it never. */
  for (int tries = 0; tries < 16; tries++) {
    random_bytes(token, n);
    if (!session || !coap_token_in_use(session, token, n))
      break;
  }
  *len = n;
}

/* ---------------------------------------------------------------- clients */

static int
proto_check(coap_proto_t proto)
{
  if (proto == COAP_PROTO_UDP || proto == COAP_PROTO_TCP ||
      proto == COAP_PROTO_WS || proto == COAP_PROTO_DTLS)
    return 1;
  if ((proto == COAP_PROTO_TLS || proto == COAP_PROTO_WSS) &&
      coap_tls_is_supported())
    return 1;
  if (proto > COAP_PROTO_NONE && proto < COAP_PROTO_LAST)
    coap_log_err("coap_new_client_session: %s is not supported yet",
                 proto == COAP_PROTO_DTLS  ? "DTLS"
                 : proto == COAP_PROTO_TCP ? "TCP"
                 : proto == COAP_PROTO_TLS ? "TLS"
                 : proto == COAP_PROTO_WS  ? "WS"
                                           : "WSS");
  else
    coap_log_err("coap_new_client_session: unknown protocol %d", (int)proto);
  return 0;
}

static coap_session_t *
client_new(coap_context_t *ctx, const coap_address_t *local_if,
           const coap_address_t *server, coap_proto_t proto,
           coap_security_t *sec)
{
  coap_session_t *s = NULL;

  if (!ctx || !server || !proto_check(proto))
    goto fail;
  if (local_if && local_if->addr.sa.sa_family != server->addr.sa.sa_family) {
    coap_log_err("coap_new_client_session: local and server address "
                 "families differ");
    goto fail;
  }
  s = coap_session_new(ctx, COAP_SESSION_TYPE_CLIENT, proto);
  if (!s)
    goto fail;
  s->ext->security = sec;
  sec = NULL;
  s->refcount = 1;
  if (coap_proto_reliable(proto) ? !coap_tcp_client_open(s, local_if, server)
                                 : !coap_udp_client_open(s, local_if, server))
    goto fail;
  if (proto == COAP_PROTO_DTLS && !coap_dtls_client_start(s))
    goto fail;
  coap_keepalive_start(s);
  return s;
fail:
  coap_security_free(sec);
  if (s) {
    s->refcount = 0;
    session_destroy(s);
  }
  return NULL;
}

coap_session_t *
coap_new_client_session(coap_context_t *context, const coap_address_t *local_if,
                        const coap_address_t *server, coap_proto_t proto)
{
  return client_new(context, local_if, server, proto, NULL);
}

coap_session_t *
coap_new_client_session_psk(coap_context_t *context,
                            const coap_address_t *local_if,
                            const coap_address_t *server, coap_proto_t proto,
                            const char *identity, const uint8_t *key,
                            unsigned key_len)
{
  coap_security_t *sec;

  if (!identity || !*identity || !key || key_len == 0) {
    coap_log_err("coap_new_client_session_psk: identity and key are needed");
    return NULL;
  }
  sec = coap_security_from_psk(identity, key, key_len);
  if (!sec)
    return NULL;
  return client_new(context, local_if, server, proto, sec);
}

coap_session_t *
coap_new_client_session_psk2(coap_context_t *context,
                             const coap_address_t *local_if,
                             const coap_address_t *server, coap_proto_t proto,
                             coap_dtls_cpsk_t *setup_data)
{
  coap_security_t *sec;

  if (!setup_data) {
    coap_log_err("coap_new_client_session_psk2: no setup data");
    return NULL;
  }
  sec = coap_security_from_cpsk(setup_data);
  if (!sec)
    return NULL;
  return client_new(context, local_if, server, proto, sec);
}

coap_session_t *
coap_new_client_session_pki(coap_context_t *context,
                            const coap_address_t *local_if,
                            const coap_address_t *server, coap_proto_t proto,
                            coap_dtls_pki_t *setup_data)
{
  coap_security_t *sec;

  if (!setup_data) {
    coap_log_err("coap_new_client_session_pki: no setup data");
    return NULL;
  }
  sec = coap_security_from_pki(setup_data);
  if (!sec)
    return NULL;
  return client_new(context, local_if, server, proto, sec);
}

/* ---------------------------------------------------------------- security */

static int
bin_dup(coap_bin_const_t *dst, const uint8_t *s, size_t len)
{
  uint8_t *p;

  dst->s = NULL;
  dst->length = 0;
  if (!s)
    return 1;
  p = malloc(len + 1);
  if (!p)
    return 0;
  memcpy(p, s, len);
  p[len] = '\0';
  dst->s = p;
  dst->length = len;
  return 1;
}

static int
str_dup(char **dst, const char *s)
{
  *dst = NULL;
  if (!s)
    return 1;
  *dst = strdup(s);
  return *dst != NULL;
}

void
coap_security_free(coap_security_t *sec)
{
  if (!sec)
    return;
  /* Keys should not linger in freed memory. */
  if (sec->psk_key.s)
    explicit_bzero((void *)(uintptr_t)sec->psk_key.s, sec->psk_key.length);
  free((void *)(uintptr_t)sec->psk_identity.s);
  free((void *)(uintptr_t)sec->psk_key.s);
  free((void *)(uintptr_t)sec->psk_hint.s);
  free(sec->client_sni);
  if (sec->has_pki && sec->pki.pki_key.key_type == COAP_PKI_KEY_PEM) {
    free((void *)(uintptr_t)sec->pki.pki_key.key.pem.ca_file);
    free((void *)(uintptr_t)sec->pki.pki_key.key.pem.public_cert);
    free((void *)(uintptr_t)sec->pki.pki_key.key.pem.private_key);
  }
  free(sec->ca_file);
  free(sec->ca_dir);
  free(sec);
}

coap_security_t *
coap_security_from_psk(const char *identity, const uint8_t *key,
                       unsigned key_len)
{
  coap_security_t *sec = calloc(1, sizeof(*sec));

  if (!sec)
    return NULL;
  sec->has_psk = 1;
  if (!bin_dup(&sec->psk_identity, (const uint8_t *)identity,
               identity ? strlen(identity) : 0) ||
      !bin_dup(&sec->psk_key, key, key_len)) {
    coap_security_free(sec);
    return NULL;
  }
  return sec;
}

coap_security_t *
coap_security_from_cpsk(const coap_dtls_cpsk_t *setup)
{
  coap_security_t *sec = calloc(1, sizeof(*sec));

  if (!sec)
    return NULL;
  sec->has_psk = 1;
  sec->cpsk = *setup;
  sec->cpsk.client_sni = NULL;
  sec->cpsk.psk_info.identity.s = NULL;
  sec->cpsk.psk_info.key.s = NULL;
  if (!bin_dup(&sec->psk_identity, setup->psk_info.identity.s,
               setup->psk_info.identity.length) ||
      !bin_dup(&sec->psk_key, setup->psk_info.key.s,
               setup->psk_info.key.length) ||
      !str_dup(&sec->client_sni, setup->client_sni)) {
    coap_security_free(sec);
    return NULL;
  }
  sec->cpsk.client_sni = sec->client_sni;
  sec->cpsk.psk_info.identity = sec->psk_identity;
  sec->cpsk.psk_info.key = sec->psk_key;
  return sec;
}

coap_security_t *
coap_security_from_spsk(const coap_dtls_spsk_t *setup)
{
  coap_security_t *sec = calloc(1, sizeof(*sec));

  if (!sec)
    return NULL;
  sec->has_psk = 1;
  sec->spsk = *setup;
  if (!bin_dup(&sec->psk_hint, setup->psk_info.hint.s,
               setup->psk_info.hint.length) ||
      !bin_dup(&sec->psk_key, setup->psk_info.key.s,
               setup->psk_info.key.length)) {
    coap_security_free(sec);
    return NULL;
  }
  sec->spsk.psk_info.hint = sec->psk_hint;
  sec->spsk.psk_info.key = sec->psk_key;
  return sec;
}

coap_security_t *
coap_security_from_pki(const coap_dtls_pki_t *setup)
{
  coap_security_t *sec = calloc(1, sizeof(*sec));
  char *ca = NULL, *cert = NULL, *key = NULL;
  const char *sni;

  if (!sec)
    return NULL;
  sec->has_pki = 1;
  sec->pki = *setup;
  sec->pki.client_sni = sec->pki.sni = NULL;
  memset(&sec->pki.pki_key.key, 0, sizeof(sec->pki.pki_key.key));
  sni = setup->client_sni ? setup->client_sni : setup->sni;
  if (!str_dup(&sec->client_sni, sni))
    goto fail;
  sec->pki.client_sni = sec->pki.sni = sec->client_sni;
  /* File names are copied; in-memory ASN.1/PEM buffers stay the caller's
   * (libcoap requires them to outlive the session as well). */
  if (setup->pki_key.key_type == COAP_PKI_KEY_PEM) {
    if (!str_dup(&ca, setup->pki_key.key.pem.ca_file) ||
        !str_dup(&cert, setup->pki_key.key.pem.public_cert) ||
        !str_dup(&key, setup->pki_key.key.pem.private_key))
      goto fail;
    sec->pki.pki_key.key.pem.ca_file = ca;
    sec->pki.pki_key.key.pem.public_cert = cert;
    sec->pki.pki_key.key.pem.private_key = key;
  } else {
    sec->pki.pki_key.key.asn1 = setup->pki_key.key.asn1;
  }
  return sec;
fail:
  free(ca);
  free(cert);
  free(key);
  coap_security_free(sec);
  return NULL;
}
