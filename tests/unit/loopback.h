/*
 * loopback.h -- the loopback set-up the C unit tests share: an endpoint on
 * a kernel-chosen port, a server and a client context joined by a session,
 * a raw UDP socket playing the peer, and one bounded run loop.  Header-only
 * (static inline) so that every test stays a single translation unit.
 */
#ifndef COAPKIT_LOOPBACK_H
#define COAPKIT_LOOPBACK_H

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coap.h"

/* A hard cap on turns, so that a loop whose coap_io_process keeps returning
 * at once still ends; the time limit normally ends it first. */
#define LB_MAX_TURNS 1000000

/* An endpoint of proto on host, port 0; *bound gets the port the kernel
 * chose (never assume 5683 is free). */
static inline coap_endpoint_t *
lb_listen(coap_context_t *ctx, coap_proto_t proto, const char *host,
          int family, coap_address_t *bound)
{
  coap_address_t any;
  coap_endpoint_t *ep;

  if (!ctx || !coap_resolve_address(host, 0, family, &any))
    return NULL;
  ep = coap_new_endpoint(ctx, &any, proto);
  if (ep && bound)
    coap_address_copy(bound, coap_endpoint_get_address(ep));
  return ep;
}

/* A server context listening on 127.0.0.1 and a client context with a
 * session to it. */
typedef struct lb_pair_t {
  coap_context_t *server;
  coap_context_t *client;
  coap_endpoint_t *ep;
  coap_session_t *session;
  coap_address_t addr; /* where the server listens */
} lb_pair_t;

/* 1 when all of it exists; on 0 whatever was made is still in *p for
 * lb_pair_close.  block_mode (coap_context_set_block_mode) goes to both
 * contexts. */
static inline int
lb_pair_open(lb_pair_t *p, coap_proto_t proto, uint32_t block_mode)
{
  memset(p, 0, sizeof(*p));
  p->server = coap_new_context(NULL);
  p->client = coap_new_context(NULL);
  if (!p->server || !p->client)
    return 0;
  coap_context_set_block_mode(p->server, block_mode);
  coap_context_set_block_mode(p->client, block_mode);
  p->ep = lb_listen(p->server, proto, "127.0.0.1", AF_INET, &p->addr);
  if (!p->ep)
    return 0;
  p->session = coap_new_client_session(p->client, NULL, &p->addr, proto);
  return p->session != NULL;
}

static inline void
lb_pair_close(lb_pair_t *p)
{
  coap_session_release(p->session);
  coap_free_context(p->client);
  coap_free_context(p->server);
  memset(p, 0, sizeof(*p));
}

/* What a run loop drives and how long it may take: contexts a and b (b may
 * be NULL) take turns, each coap_io_process waiting at most its wait_*. */
typedef struct lb_loop_t {
  coap_context_t *a;
  coap_context_t *b;
  uint32_t wait_a; /* ms, or COAP_IO_NO_WAIT */
  uint32_t wait_b;
  int max_turns;   /* 0: LB_MAX_TURNS */
  unsigned max_ms;
} lb_loop_t;

/* Runs the loop until done(arg) holds or a bound is hit; done may be NULL
 * (run for the whole time).  Returns the last value of done (1 without
 * one). */
static inline int
lb_run_until(const lb_loop_t *l, int (*done)(const void *), const void *arg)
{
  uint64_t end = coap_ticks_ms() + l->max_ms;
  int turns = l->max_turns > 0 ? l->max_turns : LB_MAX_TURNS;

  for (int i = 0; i < turns && coap_ticks_ms() < end; i++) {
    if (done && done(arg))
      return 1;
    if (l->a)
      coap_io_process(l->a, l->wait_a);
    if (l->b)
      coap_io_process(l->b, l->wait_b);
  }
  return done ? done(arg) : 1;
}

typedef struct lb_count_t {
  const int *counter;
  int want;
} lb_count_t;

static inline int
lb_count_reached(const void *arg)
{
  const lb_count_t *c = arg;

  return *c->counter >= c->want;
}

/* Runs the loop until *counter >= want (counter NULL: for the whole time). */
static inline int
lb_run(const lb_loop_t *l, const int *counter, int want)
{
  lb_count_t c = {counter, want};

  return lb_run_until(l, counter ? lb_count_reached : NULL, &c);
}

/* Runs a and b (b may be NULL), 5 ms a wait, until *counter >= want or
 * max_ms pass. */
static inline int
lb_pump(coap_context_t *a, coap_context_t *b, const int *counter, int want,
        unsigned max_ms)
{
  lb_loop_t l = {a, b, 5, 5, 0, max_ms};

  return lb_run(&l, counter, want);
}

/* Runs the pair's server, then its client, without waiting, until *counter
 * >= want (counter NULL: all the turns) or a bound is hit. */
static inline int
lb_pair_run(const lb_pair_t *p, const int *counter, int want, int max_turns,
            unsigned max_ms)
{
  lb_loop_t l = {p->server, p->client, COAP_IO_NO_WAIT, COAP_IO_NO_WAIT,
                 max_turns, max_ms};

  return lb_run(&l, counter, want);
}

/* ---------------------------------------------------------- raw UDP peer */

/* A non-blocking UDP socket on 127.0.0.1, port 0; *bound (when not NULL)
 * gets its address.  -1 on failure. */
static inline int
lb_raw_udp(coap_address_t *bound)
{
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  coap_address_t a;

  if (fd < 0)
    return -1;
  coap_resolve_address("127.0.0.1", 0, AF_INET, &a);
  if (bind(fd, &a.addr.sa, coap_address_socklen(&a)) < 0) {
    close(fd);
    return -1;
  }
  if (bound) {
    coap_address_init(bound);
    bound->size = sizeof(bound->addr);
    getsockname(fd, &bound->addr.sa, &bound->size);
  }
  return fd;
}

/* The next datagram on fd (its sender in *from, which may be NULL) while
 * ctx runs (ctx NULL: just waits), or -1 after max_ms or once *stop (when
 * stop is not NULL) is non-zero. */
static inline ssize_t
lb_raw_recv(int fd, coap_context_t *ctx, uint8_t *buf, size_t cap,
            coap_address_t *from, int max_ms, const int *stop)
{
  uint64_t end = coap_ticks_ms() + (uint64_t)max_ms;
  coap_address_t dummy;

  if (!from)
    from = &dummy;
  for (int i = 0; i < LB_MAX_TURNS && coap_ticks_ms() < end && !(stop && *stop);
       i++) {
    ssize_t n;
    coap_address_init(from);
    from->size = sizeof(from->addr);
    n = recvfrom(fd, buf, cap, MSG_DONTWAIT, &from->addr.sa, &from->size);
    if (n >= 0)
      return n;
    if (ctx)
      coap_io_process(ctx, 5);
    else
      poll(NULL, 0, 5);
  }
  return -1;
}

/* 1 when the whole datagram went out; a failure is noted as a TAP comment
 * (the checks that follow will fail on their own). */
static inline int
lb_raw_send(int fd, const coap_address_t *to, const uint8_t *data, size_t len)
{
  if (sendto(fd, data, len, 0, &to->addr.sa, coap_address_socklen(to)) ==
      (ssize_t)len)
    return 1;
  printf("# sendto: %s\n", strerror(errno));
  return 0;
}

#endif
