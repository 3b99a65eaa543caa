/*
 * test_keepalive.c -- coap_keepalive(3): idle pings from clients and
 * servers, their answers, their failure, and turning them off.  The peer is
 * usually a plain UDP socket, so that every datagram the library sends is
 * seen and every answer is chosen by the test.  test_session.c already
 * checks the basic pong and the silent-peer nack; this file checks what
 * goes on the wire and the cases around them.  Loopback only.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "coap.h"
#include "loopback.h"
#include "tap.h"

/* ---------------------------------------------------------------- handlers */

static int pings, pongs, nacks, ka_failures, closed_events, responses;
static int last_nack = -1;
static coap_mid_t last_nack_mid = COAP_INVALID_MID;
static coap_mid_t last_pong_mid = COAP_INVALID_MID;
static coap_pdu_type_t last_pong_type;
static coap_session_t *last_event_session;

static void
reset(void)
{
  pings = pongs = nacks = ka_failures = closed_events = responses = 0;
  last_nack = -1;
  last_nack_mid = last_pong_mid = COAP_INVALID_MID;
  last_event_session = NULL;
}

static void
on_ping(coap_session_t *s, const coap_pdu_t *rcvd, const coap_mid_t mid)
{
  (void)s;
  (void)rcvd;
  (void)mid;
  pings++;
}

static void
on_pong(coap_session_t *s, const coap_pdu_t *rcvd, const coap_mid_t mid)
{
  (void)s;
  pongs++;
  last_pong_mid = mid;
  last_pong_type = coap_pdu_get_type(rcvd);
}

static void
on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t r,
        const coap_mid_t mid)
{
  (void)s;
  (void)sent;
  nacks++;
  last_nack = r;
  last_nack_mid = mid;
}

static int
on_event(coap_session_t *s, const coap_event_t ev)
{
  if (ev == COAP_EVENT_KEEPALIVE_FAILURE)
    ka_failures++;
  if (ev == COAP_EVENT_SESSION_CLOSED)
    closed_events++;
  last_event_session = s;
  return 0;
}

static coap_response_t
on_response(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
            const coap_mid_t mid)
{
  (void)s;
  (void)sent;
  (void)rcvd;
  (void)mid;
  responses++;
  return COAP_RESPONSE_OK;
}

static coap_context_t *
new_ctx(void)
{
  coap_context_t *ctx = coap_new_context(NULL);

  if (!ctx)
    return NULL;
  coap_register_ping_handler(ctx, on_ping);
  coap_register_pong_handler(ctx, on_pong);
  coap_register_nack_handler(ctx, on_nack);
  coap_register_event_handler(ctx, on_event);
  coap_register_response_handler(ctx, on_response);
  /* Quick failures: 100 ms, no randomness, two retransmissions. */
  coap_context_set_transmission(ctx, 100, 1000, 2);
  return ctx;
}

/* ---------------------------------------------------------------- raw peer */

/* When set and non-zero, lb_raw_recv gives up at once (so that a test can
 * stop at a nack without taking the next ping in). */
static const int *stop_when;

/* 1 for an empty CON (RFC 7252 4.3: a ping): 4 bytes, version 1, no
 * token, code 0.00. */
static int
is_ping(const uint8_t *b, ssize_t n)
{
  return n == 4 && b[0] == 0x40 && b[1] == 0;
}

static uint16_t
mid_of(const uint8_t *b)
{
  return (uint16_t)(b[2] << 8 | b[3]);
}

static void
answer_rst(int fd, const coap_address_t *to, uint16_t mid)
{
  uint8_t rst[4] = {0x70, 0, (uint8_t)(mid >> 8), (uint8_t)mid};

  lb_raw_send(fd, to, rst, sizeof(rst));
}

/* ---------------------------------------------------------------- tests */

/* An idle client sends an empty CON; a RST answers it and the pong handler
 * sees that very message ID; the next ping uses a fresh one. */
static void
test_idle_ping_wire(void)
{
  coap_context_t *ctx = new_ctx();
  coap_address_t peer, from;
  int fd = lb_raw_udp(&peer);
  coap_session_t *s;
  uint8_t b[64];
  ssize_t n;
  uint16_t first;

  reset();
  coap_context_set_keepalive(ctx, 1);
  s = coap_new_client_session(ctx, NULL, &peer, COAP_PROTO_UDP);
  n = lb_raw_recv(fd, ctx, b, sizeof(b), &from, 3000, stop_when);
  ok(is_ping(b, n), "idle client: an empty CON arrives");
  first = n == 4 ? mid_of(b) : 0;
  answer_rst(fd, &from, first);
  lb_pump(ctx, NULL, NULL, 0, 100);
  is_int(pongs, 1, "the RST fires the pong handler");
  is_int(last_pong_mid, first, "with the ping's message ID");
  is_int(last_pong_type, COAP_MESSAGE_RST, "and the RST itself");
  is_int(nacks, 0, "no nack for an answered ping");
  n = lb_raw_recv(fd, ctx, b, sizeof(b), &from, 3000, stop_when);
  ok(is_ping(b, n) && mid_of(b) != first,
     "still idle: another ping, with a new message ID");
  if (n == 4)
    answer_rst(fd, &from, mid_of(b));
  lb_pump(ctx, NULL, NULL, 0, 100);
  is_int(pongs, 2, "and its pong");
  is_int(coap_session_get_state(s), COAP_SESSION_STATE_ESTABLISHED,
         "the session stays established");
  coap_session_release(s);
  close(fd);
  coap_free_context(ctx);
}

/* Some peers answer a ping with an empty ACK rather than a RST; either
 * proves the peer is there. */
static void
test_ack_answers_ping(void)
{
  coap_context_t *ctx = new_ctx();
  coap_address_t peer, from;
  int fd = lb_raw_udp(&peer);
  coap_session_t *s;
  uint8_t b[64], ack[4] = {0x60, 0, 0, 0};
  ssize_t n;

  reset();
  coap_context_set_keepalive(ctx, 1);
  s = coap_new_client_session(ctx, NULL, &peer, COAP_PROTO_UDP);
  n = lb_raw_recv(fd, ctx, b, sizeof(b), &from, 3000, stop_when);
  if (n == 4) {
    ack[2] = b[2];
    ack[3] = b[3];
    lb_raw_send(fd, &from, ack, sizeof(ack));
  }
  lb_pump(ctx, NULL, NULL, 0, 100);
  ok(pongs == 1 && last_pong_type == COAP_MESSAGE_ACK,
     "an empty ACK also counts as the pong");
  coap_session_release(s);
  close(fd);
  coap_free_context(ctx);
}

/* A session that keeps sending is not idle: no ping until it stops. */
static void
test_traffic_postpones_ping(void)
{
  coap_context_t *ctx = new_ctx();
  coap_address_t peer;
  int fd = lb_raw_udp(&peer);
  coap_session_t *s;
  uint8_t b[64];
  int requests = 0, early_pings = 0;
  ssize_t n;

  reset();
  coap_context_set_keepalive(ctx, 1);
  s = coap_new_client_session(ctx, NULL, &peer, COAP_PROTO_UDP);
  /* 2.4 s of a NON request every 300 ms: never 1 s idle. */
  for (int i = 0; i < 8; i++) {
    coap_pdu_t *p = coap_new_pdu(COAP_MESSAGE_NON, COAP_REQUEST_CODE_GET, s);
    coap_send(s, p);
    while ((n = lb_raw_recv(fd, ctx, b, sizeof(b), NULL, 300, stop_when)) >=
           0) {
      if (is_ping(b, n))
        early_pings++;
      else
        requests++;
    }
  }
  is_int(requests, 8, "the requests went out");
  is_int(early_pings, 0, "no ping while the session is busy");
  n = lb_raw_recv(fd, ctx, b, sizeof(b), NULL, 3000, stop_when);
  ok(is_ping(b, n), "once quiet, the ping comes");
  coap_session_release(s);
  close(fd);
  coap_free_context(ctx);
}

/* 0 turns keepalive off, for sessions already open too; turning it back on
 * applies to them as well. */
static void
test_zero_disables(void)
{
  coap_context_t *ctx = new_ctx();
  coap_address_t peer;
  int fd = lb_raw_udp(&peer);
  coap_session_t *s;
  uint8_t b[64];
  ssize_t n;

  reset();
  coap_context_set_keepalive(ctx, 1);
  s = coap_new_client_session(ctx, NULL, &peer, COAP_PROTO_UDP);
  coap_context_set_keepalive(ctx, 0);
  n = lb_raw_recv(fd, ctx, b, sizeof(b), NULL, 2500, stop_when);
  ok(n < 0, "keepalive 0: nothing is sent in 2.5 s");
  coap_context_set_keepalive(ctx, 1);
  n = lb_raw_recv(fd, ctx, b, sizeof(b), NULL, 3000, stop_when);
  ok(is_ping(b, n), "set again on an open session: it pings");
  coap_session_release(s);

  reset();
  coap_context_set_keepalive(ctx, 0);
  s = coap_new_client_session(ctx, NULL, &peer, COAP_PROTO_UDP);
  n = lb_raw_recv(fd, ctx, b, sizeof(b), NULL, 2500, stop_when);
  ok(n < 0, "a session opened with keepalive 0 never pings");
  coap_session_release(s);
  close(fd);
  coap_free_context(ctx);
}

/* No answer: the ping is retransmitted MAX_RETRANSMIT times with the same
 * message ID, then nack TOO_MANY_RETRIES for that ID, KEEPALIVE_FAILURE and
 * SESSION_CLOSED.  Keepalive goes on afterwards and an answer brings the
 * session back. */
static void
test_failure_then_recovery(void)
{
  coap_context_t *ctx = new_ctx();
  coap_address_t peer, from;
  int fd = lb_raw_udp(&peer);
  coap_session_t *s;
  uint8_t b[64];
  int copies = 0, same = 1;
  uint16_t mid = 0;
  ssize_t n;

  reset();
  coap_context_set_keepalive(ctx, 1);
  s = coap_new_client_session(ctx, NULL, &peer, COAP_PROTO_UDP);
  stop_when = &nacks;
  while ((n = lb_raw_recv(fd, ctx, b, sizeof(b), &from, 3000, stop_when)) >=
         0) {
    if (!is_ping(b, n))
      continue;
    if (copies++ == 0)
      mid = mid_of(b);
    else if (mid_of(b) != mid)
      same = 0;
  }
  stop_when = NULL;
  is_int(copies, 3, "the ping went out 1 + MAX_RETRANSMIT (2) times");
  ok(same, "always with the same message ID");
  is_int(nacks, 1, "one nack");
  is_int(last_nack, COAP_NACK_TOO_MANY_RETRIES, "TOO_MANY_RETRIES");
  is_int(last_nack_mid, mid, "for the ping's message ID");
  is_int(ka_failures, 1, "KEEPALIVE_FAILURE event");
  is_int(closed_events, 1, "SESSION_CLOSED event");
  is_int(coap_session_get_state(s), COAP_SESSION_STATE_NONE,
         "the session is disconnected");
  is_int(pongs, 0, "no pong");

  n = lb_raw_recv(fd, ctx, b, sizeof(b), &from, 3000, stop_when);
  ok(is_ping(b, n) && mid_of(b) != mid,
     "keepalive goes on after the failure, with a new message ID");
  if (n == 4)
    answer_rst(fd, &from, mid_of(b));
  lb_pump(ctx, NULL, NULL, 0, 100);
  is_int(pongs, 1, "the peer is back: pong");
  is_int(coap_session_get_state(s), COAP_SESSION_STATE_ESTABLISHED,
         "and the session is established again");
  coap_session_release(s);
  close(fd);
  coap_free_context(ctx);
}

/* A ping refused with ICMP port unreachable ends in nack ICMP_ISSUE; the
 * keepalive must keep trying (a lost ping must not block the next). */
static void
test_icmp_does_not_stop_keepalive(void)
{
  coap_context_t *ctx = new_ctx();
  coap_address_t closed;
  int fd = lb_raw_udp(&closed);
  coap_session_t *s;
  int icmp = 0, other = 0;
  uint64_t end;

  close(fd); /* nothing listens there any more */
  reset();
  coap_context_set_keepalive(ctx, 1);
  s = coap_new_client_session(ctx, NULL, &closed, COAP_PROTO_UDP);
  end = coap_ticks_ms() + 5000;
  while (icmp + other < 2 && coap_ticks_ms() < end) {
    int before = nacks;
    coap_io_process(ctx, 20);
    if (nacks > before) {
      if (last_nack == COAP_NACK_ICMP_ISSUE)
        icmp++;
      else
        other++;
    }
  }
  is_int(icmp, 2, "two keepalive pings refused by ICMP, one after the other");
  is_int(other, 0, "and no other nack");
  is_int(ka_failures, 0, "ICMP is not a keepalive timeout");
  coap_session_release(s);
  coap_free_context(ctx);
}

/* An explicit coap_session_send_ping is not the keepalive's: its failure
 * nacks but neither signals KEEPALIVE_FAILURE nor disconnects. */
static void
test_explicit_ping(void)
{
  coap_context_t *ctx = new_ctx();
  coap_address_t peer, from;
  int fd = lb_raw_udp(&peer);
  coap_session_t *s;
  uint8_t b[64];
  coap_mid_t mid;
  ssize_t n;

  reset();
  s = coap_new_client_session(ctx, NULL, &peer, COAP_PROTO_UDP);
  mid = coap_session_send_ping(s);
  ok(mid != COAP_INVALID_MID, "coap_session_send_ping returns a message ID");
  n = lb_raw_recv(fd, ctx, b, sizeof(b), &from, 1000, stop_when);
  ok(is_ping(b, n) && mid_of(b) == (uint16_t)mid, "the ping on the wire");
  answer_rst(fd, &from, (uint16_t)mid);
  lb_pump(ctx, NULL, NULL, 0, 100);
  ok(pongs == 1 && last_pong_mid == mid, "pong for that message ID");

  reset();
  mid = coap_session_send_ping(s);
  lb_pump(ctx, NULL, NULL, 0, 1500);
  ok(nacks == 1 && last_nack == COAP_NACK_TOO_MANY_RETRIES &&
         last_nack_mid == mid,
     "unanswered: nack TOO_MANY_RETRIES for it");
  is_int(ka_failures, 0, "but no KEEPALIVE_FAILURE");
  is_int(coap_session_get_state(s), COAP_SESSION_STATE_ESTABLISHED,
         "and no disconnection");
  ok(coap_session_send_ping(NULL) == COAP_INVALID_MID,
     "send_ping(NULL) is refused");
  coap_session_release(s);
  close(fd);
  coap_free_context(ctx);
}

/* A client answers a ping from its peer with RST and its ping handler runs
 * (test_session.c checks the server side of this). */
static void
test_client_answers_ping(void)
{
  coap_context_t *ctx = new_ctx();
  coap_address_t peer;
  int fd = lb_raw_udp(&peer);
  coap_session_t *s;
  uint8_t b[64], ping[4] = {0x40, 0, 0x12, 0x34};
  ssize_t n;

  reset();
  s = coap_new_client_session(ctx, NULL, &peer, COAP_PROTO_UDP);
  lb_raw_send(fd, coap_session_get_addr_local(s), ping, sizeof(ping));
  n = lb_raw_recv(fd, ctx, b, sizeof(b), NULL, 1000, stop_when);
  ok(n == 4 && b[0] == 0x70 && b[1] == 0 && b[2] == 0x12 && b[3] == 0x34,
     "client: a ping gets a RST with its message ID");
  is_int(pings, 1, "the client's ping handler ran");
  coap_session_release(s);
  close(fd);
  coap_free_context(ctx);
}

/* The server side: a server session whose client has gone quiet is pinged;
 * an answer fires the server's pong handler, silence ends in the nack and
 * KEEPALIVE_FAILURE on that server session. */
static void
test_server_side(void)
{
  coap_context_t *sctx = new_ctx();
  coap_address_t bound, from;
  coap_endpoint_t *ep;
  int fd = -1, copies = 0;
  uint8_t b[64], get[4] = {0x40, COAP_REQUEST_CODE_GET, 0x00, 0x01};
  ssize_t n;

  reset();
  ep = lb_listen(sctx, COAP_PROTO_UDP, "127.0.0.1", AF_INET, &bound);
  ok(ep != NULL, "server endpoint");
  if (!ep)
    goto out;
  coap_context_set_keepalive(sctx, 1);
  fd = lb_raw_udp(&from);
  lb_raw_send(fd, &bound, get, sizeof(get));
  n = lb_raw_recv(fd, sctx, b, sizeof(b), NULL, 1000, stop_when);
  ok(n >= 4 && b[1] == COAP_RESPONSE_CODE_NOT_FOUND,
     "a request makes a server session (4.04)");
  n = lb_raw_recv(fd, sctx, b, sizeof(b), &from, 3000, stop_when);
  ok(is_ping(b, n), "the server pings its idle client");
  if (n == 4)
    answer_rst(fd, &from, mid_of(b));
  lb_pump(sctx, NULL, NULL, 0, 100);
  is_int(pongs, 1, "the server's pong handler ran");

  reset();
  stop_when = &nacks;
  while ((n = lb_raw_recv(fd, sctx, b, sizeof(b), NULL, 3000, stop_when)) >=
         0)
    copies += is_ping(b, n);
  stop_when = NULL;
  is_int(copies, 3, "unanswered: the server retransmits its ping");
  is_int(last_nack, COAP_NACK_TOO_MANY_RETRIES,
         "server: nack TOO_MANY_RETRIES");
  is_int(ka_failures, 1, "server: KEEPALIVE_FAILURE");
  ok(last_event_session &&
         coap_session_get_type(last_event_session) == COAP_SESSION_TYPE_SERVER,
     "on the server session");
out:
  if (fd >= 0)
    close(fd);
  coap_free_context(sctx);
}

/* Two contexts, our client against our server: both ping each other when
 * both set keepalive, and each side's ping handler sees the other's. */
static void
test_both_sides(void)
{
  coap_context_t *sctx = new_ctx(), *cctx = new_ctx();
  coap_address_t bound;
  coap_session_t *s;

  reset();
  lb_listen(sctx, COAP_PROTO_UDP, "127.0.0.1", AF_INET, &bound);
  coap_context_set_keepalive(cctx, 1);
  coap_context_set_keepalive(sctx, 1);
  s = coap_new_client_session(cctx, NULL, &bound, COAP_PROTO_UDP);
  lb_pump(cctx, sctx, &pongs, 1, 4000);
  ok(pongs >= 1 && pings >= 1, "client and server: ping answered by pong");
  is_int(nacks, 0, "no failures between live peers");
  coap_session_release(s);
  coap_free_context(cctx);
  coap_free_context(sctx);
}

int
main(void)
{
  coap_startup();
  coap_set_log_level(getenv("COAPKIT_TEST_DEBUG") ? COAP_LOG_DEBUG
                                                   : COAP_LOG_CRIT);
  test_idle_ping_wire();
  test_ack_answers_ping();
  test_traffic_postpones_ping();
  test_zero_disables();
  test_failure_then_recovery();
  test_icmp_does_not_stop_keepalive();
  test_explicit_ping();
  test_client_answers_ping();
  test_server_side();
  test_both_sides();
  coap_cleanup();
  return tap_done();
}
