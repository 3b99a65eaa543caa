/*
 * test_ratelimit.c -- the per-session bound on answered empty-CON pings
 * (lib/reliability.c: a bucket of 8, refilled by one every 250 ms), over
 * loopback against a real context.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pdu_internal.h"
#include "tap.h"

#define BURST 8        /* COAP_PING_BURST */
#define REFILL_MS 250  /* COAP_PING_REFILL_MS */

static int
peer_socket(void)
{
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    perror("socket");
    exit(1);
  }
  return fd;
}

static void
send_pings(int fd, const coap_address_t *to, unsigned n, uint16_t mid0)
{
  for (unsigned i = 0; i < n; i++) {
    uint16_t mid = (uint16_t)(mid0 + i);
    uint8_t ping[4] = {0x40, 0x00, (uint8_t)(mid >> 8), (uint8_t)mid};
    if (sendto(fd, ping, sizeof(ping), 0, &to->addr.sa, to->size) != 4) {
      perror("sendto");
      exit(1);
    }
  }
}

/* Lets the server handle what is queued (one loop turn sees every datagram
 * sent so far: one batch), then counts the RSTs that came back (loopback
 * delivers within the send: they are all queued when the turn returns). */
static unsigned
rsts_after_turn(coap_context_t *ctx, int fd)
{
  uint8_t buf[64];
  unsigned n = 0;
  struct pollfd p = {fd, POLLIN, 0};

  coap_io_process(ctx, COAP_IO_NO_WAIT);
  while (poll(&p, 1, 0) == 1) {
    ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (len < 0)
      break;
    if (len == 4 && buf[0] == 0x70 && buf[1] == 0)
      n++;
  }
  return n;
}

static void
sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

int
main(void)
{
  coap_address_t local;
  coap_context_t *ctx;
  coap_endpoint_t *ep;
  const coap_address_t *to;
  int a, b;

  coap_set_log_level(COAP_LOG_ERR);
  coap_address_init(&local);
  local.addr.sin.sin_family = AF_INET;
  local.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  local.size = sizeof(local.addr.sin);
  ctx = coap_new_context(NULL);
  ep = ctx ? coap_new_endpoint(ctx, &local, COAP_PROTO_UDP) : NULL;
  if (!ep) {
    printf("Bail out! no loopback endpoint\n");
    return 1;
  }
  to = coap_endpoint_get_address(ep);
  a = peer_socket();
  b = peer_socket();

  send_pings(a, to, 3 * BURST, 0x100);
  is_int(rsts_after_turn(ctx, a), BURST,
         "a burst of pings from one peer: only the bucket's worth answered");
  send_pings(b, to, 1, 0x200);
  is_int(rsts_after_turn(ctx, b), 1, "another peer is still answered");
  send_pings(a, to, 2, 0x300);
  is_int(rsts_after_turn(ctx, a), 0, "the first peer stays limited");

  /* A second refills 1000 / 250 = 4 pings. */
  sleep_ms(1000 + REFILL_MS / 2);
  send_pings(a, to, BURST, 0x400);
  is_int(rsts_after_turn(ctx, a), 1000 / REFILL_MS,
         "after a second: four more answered");

  /* Once dry, a ping every refill period is answered every time: a
   * keepalive probe (one a second) never comes near the limit. */
  send_pings(b, to, 3 * BURST, 0x500);
  ok(rsts_after_turn(ctx, b) <= BURST, "the second peer's bucket runs dry");
  {
    unsigned answered = 0;
    for (int i = 0; i < 4; i++) {
      sleep_ms(REFILL_MS + 10);
      send_pings(b, to, 1, (uint16_t)(0x600 + i));
      answered += rsts_after_turn(ctx, b);
    }
    is_int(answered, 4, "then one ping per refill period: all answered");
  }

  close(a);
  close(b);
  coap_free_context(ctx);
  return tap_done();
}
