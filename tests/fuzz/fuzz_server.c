/*
 * fuzz_server.c -- coap-server's request dispatch through the real receive
 * path: a context with the server's resources (src/resources.c, dynamic
 * resources allowed) listens on 127.0.0.1; the input, cut at "\xFE\xFD"
 * into up to 32 datagrams, is sent to it from a loopback socket, and the
 * loop (recvmmsg, session lookup, parse, deduplication, dispatch, handlers,
 * batched replies) runs on them.
 *
 * Properties: nothing the server sends is malformed (every reply parses),
 * and it never sends more datagrams than it received.  A fresh context per
 * input keeps a crash reproducible from that input alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"
#include "pdu_internal.h"
#include "resources.h"

#define MAX_DATAGRAMS 32
#define PER_TURN 8 /* datagrams sent before the loop runs once */

static int peer_fd = -1;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  struct sockaddr_in a;

  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  peer_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (peer_fd < 0 || bind(peer_fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    perror("fuzz_server: loopback socket");
    abort();
  }
  return 0;
}

/* Reads every reply waiting for the peer; each must be a valid message.
 * Returns how many there were. */
static unsigned
drain_replies(void)
{
  static uint8_t buf[65536];
  unsigned n = 0;

  for (;;) {
    coap_pdu_t v;
    ssize_t len = recv(peer_fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (len < 0) {
      FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
      return n;
    }
    n++;
    FUZZ_CHECK(coap_pdu_view_udp(&v, buf, (size_t)len) == COAP_PARSE_OK);
    FUZZ_CHECK((size_t)len <= COAP_DEFAULT_MAX_PDU_RX_SIZE);
  }
}

static void
turn(coap_context_t *ctx, ck_resources_t *res, unsigned *replies)
{
  FUZZ_CHECK(coap_io_process(ctx, COAP_IO_NO_WAIT) >= 0);
  ck_resources_collect(res);
  *replies += drain_replies();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  coap_address_t local;
  coap_context_t *ctx;
  coap_endpoint_t *ep;
  ck_resources_t *res;
  const coap_address_t *to;
  fuzz_cursor_t cur;
  const uint8_t *piece;
  size_t len;
  unsigned sent = 0, replies = 0;

  drain_replies();
  coap_address_init(&local);
  local.addr.sin.sin_family = AF_INET;
  local.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  local.size = sizeof(local.addr.sin);
  ctx = coap_new_context(NULL);
  FUZZ_CHECK(ctx != NULL);
  ep = coap_new_endpoint(ctx, &local, COAP_PROTO_UDP);
  res = ck_resources_add(ctx, 4);
  FUZZ_CHECK(ep && res);
  coap_context_set_max_sessions(ctx, 8);
  to = coap_endpoint_get_address(ep);
  fuzz_cursor_init(&cur, data, size);
  while (sent < MAX_DATAGRAMS && (piece = fuzz_next_piece(&cur, &len))) {
    if (sendto(peer_fd, piece, len, 0, &to->addr.sa, to->size) < 0)
      break;
    if (++sent % PER_TURN == 0)
      turn(ctx, res, &replies);
  }
  turn(ctx, res, &replies);
  FUZZ_CHECK(replies <= sent);
  coap_free_context(ctx);
  ck_resources_free(res);
  return 0;
}
