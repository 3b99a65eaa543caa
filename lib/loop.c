/*
 * loop.c -- the event loop: one epoll per context, a binary min-heap of
 * timers in monotonic milliseconds, and the eventfd that interrupts a wait.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "net_internal.h"
#include "tls_internal.h"
#include "stream_internal.h"

#define EVENTS_PER_TURN 64

uint64_t
coap_context_now(coap_context_t *ctx)
{
  /* Inside the loop one clock read per turn; outside it (the application
   * calling coap_send after a pause) the cached value may be stale. */
  if (!ctx->in_dispatch)
    ctx->now = coap_ticks_ms();
  return ctx->now;
}

/* ---------------------------------------------------------------- heap */

void
coap_timer_init(coap_timer_t *t, coap_timer_kind_t kind)
{
  t->deadline = 0;
  t->heap_index = COAP_TIMER_IDLE_INDEX;
  t->kind = (uint8_t)kind;
}

static void
heap_place(coap_context_t *ctx, coap_timer_t *t, uint32_t i)
{
  ctx->heap[i] = t;
  t->heap_index = i;
}

static void
heap_up(coap_context_t *ctx, uint32_t i)
{
  coap_timer_t *t = ctx->heap[i];

  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (ctx->heap[parent]->deadline <= t->deadline)
      break;
    heap_place(ctx, ctx->heap[parent], i);
    i = parent;
  }
  heap_place(ctx, t, i);
}

static void
heap_down(coap_context_t *ctx, uint32_t i)
{
  coap_timer_t *t = ctx->heap[i];

  for (;;) {
    uint32_t child = 2 * i + 1;
    if (child >= ctx->heap_len)
      break;
    if (child + 1 < ctx->heap_len &&
        ctx->heap[child + 1]->deadline < ctx->heap[child]->deadline)
      child++;
    if (t->deadline <= ctx->heap[child]->deadline)
      break;
    heap_place(ctx, ctx->heap[child], i);
    i = child;
  }
  heap_place(ctx, t, i);
}

int
coap_timer_arm(coap_context_t *ctx, coap_timer_t *t, uint64_t deadline)
{
  if (coap_timer_armed(t)) {
    uint64_t old = t->deadline;
    t->deadline = deadline;
    if (deadline < old)
      heap_up(ctx, t->heap_index);
    else
      heap_down(ctx, t->heap_index);
    return 1;
  }
  if (ctx->heap_len == ctx->heap_cap) {
    uint32_t cap = ctx->heap_cap ? ctx->heap_cap * 2 : 64;
    coap_timer_t **h = realloc(ctx->heap, cap * sizeof(*h));
    if (!h)
      return 0;
    ctx->heap = h;
    ctx->heap_cap = cap;
  }
  t->deadline = deadline;
  heap_place(ctx, t, ctx->heap_len++);
  heap_up(ctx, t->heap_index);
  return 1;
}

void
coap_timer_cancel(coap_context_t *ctx, coap_timer_t *t)
{
  uint32_t i = t->heap_index;
  coap_timer_t *last;

  if (!coap_timer_armed(t) || i >= ctx->heap_len)
    return;
  t->heap_index = COAP_TIMER_IDLE_INDEX;
  last = ctx->heap[--ctx->heap_len];
  if (last == t)
    return;
  heap_place(ctx, last, i);
  if (i > 0 && ctx->heap[(i - 1) / 2]->deadline > last->deadline)
    heap_up(ctx, i);
  else
    heap_down(ctx, i);
}

static void
timer_dispatch(coap_context_t *ctx, coap_timer_t *t)
{
  switch ((coap_timer_kind_t)t->kind) {
  case COAP_TIMER_XMIT:
    coap_queue_fire(ctx, COAP_CONTAINER_OF(t, coap_queue_t, timer));
    break;
  case COAP_TIMER_KEEPALIVE:
    coap_keepalive_fire(ctx, COAP_CONTAINER_OF(t, coap_session_ext_t, ka_timer)->session);
    break;
  case COAP_TIMER_IDLE:
    coap_session_idle_expire(ctx);
    break;
  case COAP_TIMER_TLS:
    coap_tls_timeout(ctx, t);
    break;
  case COAP_TIMER_STREAM:
    coap_stream_timer_fire(ctx, t);
    break;
  case COAP_TIMER_MCAST:
    coap_mcast_timer_fire(ctx, t);
    break;
  case COAP_TIMER_BLOCK:
    coap_block_timer_fire(ctx);
    break;
  }
}

static void
run_timers(coap_context_t *ctx)
{
  /* Bounded so that a timer re-armed for "now" cannot spin the loop. */
  unsigned budget = ctx->heap_len + 64;

  while (ctx->heap_len > 0 && budget-- > 0) {
    coap_timer_t *t = ctx->heap[0];
    if (t->deadline > ctx->now)
      break;
    coap_timer_cancel(ctx, t);
    timer_dispatch(ctx, t);
  }
}

/* ---------------------------------------------------------------- epoll */

int
coap_loop_init(coap_context_t *ctx)
{
  ctx->epfd = epoll_create1(EPOLL_CLOEXEC);
  ctx->evfd.fd = -1;
  ctx->evfd.kind = COAP_IO_EVENTFD;
  if (ctx->epfd < 0)
    return 0;
  ctx->evfd.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ctx->evfd.fd < 0)
    return 0;
  return coap_loop_add(ctx, &ctx->evfd);
}

void
coap_loop_free(coap_context_t *ctx)
{
  while (ctx->app_fds) {
    coap_app_fd_t *a = ctx->app_fds;
    ctx->app_fds = a->next;
    free(a); /* the descriptor itself is the application's */
  }
  if (ctx->evfd.fd >= 0)
    close(ctx->evfd.fd);
  if (ctx->epfd >= 0)
    close(ctx->epfd);
  ctx->evfd.fd = -1;
  ctx->epfd = -1;
  free(ctx->heap);
  ctx->heap = NULL;
  ctx->heap_len = ctx->heap_cap = 0;
}

int
coap_loop_add(coap_context_t *ctx, coap_io_t *io)
{
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = io};

  if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0) {
    coap_log_err("epoll_ctl: %s", strerror(errno));
    return 0;
  }
  return 1;
}

void
coap_loop_del(coap_context_t *ctx, coap_io_t *io)
{
  struct epoll_event *ev = ctx->ev_pending;
  int i;

  if (io->fd >= 0 && ctx->epfd >= 0)
    epoll_ctl(ctx->epfd, EPOLL_CTL_DEL, io->fd, NULL);
  /* Events of this turn not handled yet must not reach a freed owner. */
  for (i = 0; ev && i < ctx->ev_n; i++)
    if (ev[i].data.ptr == io)
      ev[i].data.ptr = NULL;
}

void
coap_io_interrupt(coap_context_t *context)
{
  uint64_t one = 1;

  if (context && context->evfd.fd >= 0) {
    /* Async-signal-safe: write(2) only; a full counter still wakes. */
    ssize_t r = write(context->evfd.fd, &one, sizeof(one));
    (void)r;
  }
}

static int
wait_ms(coap_context_t *ctx, uint32_t timeout_ms)
{
  uint64_t limit;

  if (timeout_ms == COAP_IO_NO_WAIT)
    return 0;
  limit = timeout_ms == COAP_IO_WAIT ? UINT64_MAX : ctx->now + timeout_ms;
  if (ctx->heap_len > 0 && ctx->heap[0]->deadline < limit)
    limit = ctx->heap[0]->deadline;
  if (limit == UINT64_MAX)
    return -1;
  if (limit <= ctx->now)
    return 0;
  return limit - ctx->now > INT32_MAX ? INT32_MAX : (int)(limit - ctx->now);
}

static void
handle_event(coap_context_t *ctx, coap_io_t *io, uint32_t events)
{
  uint64_t v;

  if (io->kind == COAP_IO_EVENTFD) {
    while (read(io->fd, &v, sizeof(v)) > 0)
      ;
    return;
  }
  if (io->kind == COAP_IO_APP) {
    coap_app_fd_t *a = (coap_app_fd_t *)(void *)io;
    /* The handler may delete (free) a: nothing touches it afterwards. */
    a->handler(ctx, a->io.fd, events, a->arg);
    return;
  }
  if (io->kind == COAP_IO_ENDPOINT &&
      coap_proto_reliable(((coap_endpoint_t *)(void *)io)->proto)) {
    coap_tcp_endpoint_event(ctx, (coap_endpoint_t *)(void *)io);
    return;
  }
  if (io->kind == COAP_IO_SESSION &&
      ((coap_session_t *)(void *)io)->ext->stream) {
    coap_tcp_session_event(ctx, (coap_session_t *)(void *)io, events);
    return;
  }
  coap_udp_read(ctx, io);
}

/* ---------------------------------------------------------------- app fds */

static coap_app_fd_t *
app_fd_find(coap_context_t *ctx, int fd, coap_app_fd_t ***link)
{
  coap_app_fd_t **pp;

  for (pp = &ctx->app_fds; *pp; pp = &(*pp)->next)
    if ((*pp)->io.fd == fd) {
      if (link)
        *link = pp;
      return *pp;
    }
  return NULL;
}

int
coap_context_add_fd(coap_context_t *ctx, int fd, uint32_t events,
                    coap_fd_handler_t h, void *arg)
{
  coap_app_fd_t *a;
  struct epoll_event ev = {.events = events};
  int op = EPOLL_CTL_MOD;

  if (!ctx || fd < 0 || !h || ctx->epfd < 0)
    return 0;
  a = app_fd_find(ctx, fd, NULL);
  if (!a) {
    a = calloc(1, sizeof(*a));
    if (!a)
      return 0;
    a->io.fd = fd;
    a->io.kind = COAP_IO_APP;
    op = EPOLL_CTL_ADD;
  }
  ev.data.ptr = &a->io;
  if (epoll_ctl(ctx->epfd, op, fd, &ev) < 0) {
    coap_log_err("coap_context_add_fd: epoll_ctl: %s", strerror(errno));
    if (op == EPOLL_CTL_ADD)
      free(a);
    return 0;
  }
  a->handler = h;
  a->arg = arg;
  a->events = events;
  if (op == EPOLL_CTL_ADD) {
    a->next = ctx->app_fds;
    ctx->app_fds = a;
  }
  return 1;
}

int
coap_context_del_fd(coap_context_t *ctx, int fd)
{
  coap_app_fd_t *a, **link = NULL;

  if (!ctx)
    return 0;
  a = app_fd_find(ctx, fd, &link);
  if (!a)
    return 0;
  *link = a->next;
  coap_loop_del(ctx, &a->io);
  free(a);
  return 1;
}

int
coap_io_process(coap_context_t *context, uint32_t timeout_ms)
{
  struct epoll_event ev[EVENTS_PER_TURN];
  uint64_t start;
  int n, i;

  if (!context || context->epfd < 0)
    return -1;
  context->now = coap_ticks_ms();
  start = context->now;
  context->in_dispatch++;
  run_timers(context);
  context->in_dispatch--;
  coap_session_reap(context);
  n = epoll_wait(context->epfd, ev, EVENTS_PER_TURN,
                 wait_ms(context, timeout_ms));
  if (n < 0 && errno != EINTR) {
    coap_log_err("epoll_wait: %s", strerror(errno));
    return -1;
  }
  context->now = coap_ticks_ms();
  context->in_dispatch++;
  context->ev_pending = ev;
  context->ev_n = n;
  for (i = 0; i < n; i++) {
    /* coap_loop_del clears the entries of owners freed meanwhile. */
    if (ev[i].data.ptr)
      handle_event(context, ev[i].data.ptr, ev[i].events);
  }
  context->ev_pending = NULL;
  context->ev_n = 0;
  run_timers(context);
  context->in_dispatch--;
  coap_session_reap(context);
  return (int)(coap_ticks_ms() - start);
}
