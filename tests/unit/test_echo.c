/*
 * test_echo.c -- RFC 9175 Echo and the amplification limit (lib/amp.c,
 * lib/siphash.c): SipHash-2-4's published vectors, the stateless Echo
 * values, a server context answering raw datagrams over loopback, and a
 * client repeating a request after a 4.01 with an Echo.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "loopback.h"
#include "net_internal.h"
#include "tap.h"

#define BIG 600 /* payload of /big: far over 3 x any request here */

/* ---------------------------------------------------------------- siphash */

static void
test_siphash(void)
{
  /* SipHash-2-4, key 00..0f, message 00..(n-1): the reference vectors. */
  static const struct {
    size_t n;
    uint64_t h;
  } v[] = {{0, 0x726fdb47dd0e0e31ull},  {1, 0x74f839c593dc67fdull},
           {2, 0x0d6c8009d9a94f5aull},  {7, 0xab0200f58b01d137ull},
           {8, 0x93f5f5799a932462ull},  {15, 0xa129ca6149be45e5ull},
           {16, 0x3f2acc7f57c29bdbull}, {31, 0x32d892fad841c342ull},
           {63, 0x958a324ceb064572ull}};
  uint8_t key[16], msg[64];

  for (int i = 0; i < 16; i++)
    key[i] = (uint8_t)i;
  for (int i = 0; i < 64; i++)
    msg[i] = (uint8_t)i;
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    uint64_t h = coap_siphash24(key, msg, v[i].n);
    if (!ok(h == v[i].h, "SipHash-2-4 of %zu bytes", v[i].n))
      printf("#   got %016llx\n", (unsigned long long)h);
  }
}

/* ---------------------------------------------------------------- values */

static void
fake_peer(coap_session_t *s, coap_context_t *ctx, uint16_t port)
{
  memset(s, 0, sizeof(*s));
  s->context = ctx;
  s->remote.sin.sin_family = AF_INET;
  s->remote.sin.sin_port = htons(port);
  s->remote.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void
test_values(coap_context_t *ctx)
{
  coap_session_t a, b;
  uint8_t e[COAP_ECHO_LEN], t[COAP_ECHO_LEN];
  uint64_t now = ctx->now;

  fake_peer(&a, ctx, 40000);
  fake_peer(&b, ctx, 40001);
  ok(coap_echo_make(ctx, &a, e), "an Echo value is made");
  ok(coap_echo_check(ctx, &a, e, sizeof(e)), "fresh: accepted");
  ok(!coap_echo_check(ctx, &b, e, sizeof(e)), "another port: rejected");
  b.remote.sin.sin_port = a.remote.sin.sin_port;
  b.remote.sin.sin_addr.s_addr = htonl(0x7f000002);
  ok(!coap_echo_check(ctx, &b, e, sizeof(e)), "another address: rejected");
  for (size_t i = 0; i < sizeof(e); i++) {
    memcpy(t, e, sizeof(t));
    t[i] ^= 0x01;
    if (coap_echo_check(ctx, &a, t, sizeof(t))) {
      ok(0, "tampered byte %zu: rejected", i);
      break;
    }
    if (i == sizeof(e) - 1)
      ok(1, "any tampered byte: rejected");
  }
  ok(!coap_echo_check(ctx, &a, e, sizeof(e) - 1), "truncated: rejected");
  ctx->now = now + (uint64_t)COAP_ECHO_WINDOW_S * 1000u;
  ok(coap_echo_check(ctx, &a, e, sizeof(e)), "at the window's end: accepted");
  ctx->now = now + (uint64_t)(COAP_ECHO_WINDOW_S + 2) * 1000u;
  ok(!coap_echo_check(ctx, &a, e, sizeof(e)), "expired: rejected");
  ctx->now = now;
  ok(coap_echo_make(ctx, &a, t) &&
         (ctx->now = now + 5000, coap_echo_check(ctx, &a, e, sizeof(e))),
     "5 s later: still accepted");
  ctx->now = now;
  /* A value from the future (a forged time with no valid MAC either). */
  memcpy(t, e, sizeof(t));
  t[3] = (uint8_t)(t[3] + 10);
  ok(!coap_echo_check(ctx, &a, t, sizeof(t)), "a future time: rejected");
}

/* ---------------------------------------------------------------- server */

/* The session of the last request to /big: the server's side of a raw
 * peer, for sending it a CON of our own. */
static coap_session_t *last_session;

static void
big_get(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
        const coap_string_t *q, coap_pdu_t *resp)
{
  uint8_t body[BIG];

  (void)r;
  last_session = s;
  (void)req;
  (void)q;
  memset(body, 'x', sizeof(body));
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
  coap_add_data(resp, sizeof(body), body);
}

static int posts;

static void
big_post(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
         const coap_string_t *q, coap_pdu_t *resp)
{
  posts++;
  big_get(r, s, req, q, resp);
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
}

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

/* A request: CON, 4-byte token, Uri-Path "big", maybe Observe 0, maybe an
 * Echo.  Returns its length. */
static size_t
request(uint8_t *b, uint8_t code, uint16_t mid, int observe,
        const uint8_t *echo, size_t elen)
{
  size_t n = 0;

  b[n++] = 0x44;
  b[n++] = code;
  b[n++] = (uint8_t)(mid >> 8);
  b[n++] = (uint8_t)mid;
  memcpy(b + n, "\x11\x22\x33\x44", 4);
  n += 4;
  if (observe)
    b[n++] = 0x60; /* Observe (6), empty: 0 */
  b[n++] = (uint8_t)((observe ? 0x50 : 0xb0) | 3); /* Uri-Path (11) */
  memcpy(b + n, "big", 3);
  n += 3;
  if (echo) {
    b[n++] = (uint8_t)(0xd0 | elen); /* Echo (252): delta 241 = 13 + 228 */
    b[n++] = 252 - 11 - 13;
    memcpy(b + n, echo, elen);
    n += elen;
  }
  return n;
}

/* Sends req, runs the server, and returns the answer's length (0: none
 * within the bound). */
static size_t
exchange(coap_context_t *ctx, int fd, const uint8_t *req, size_t len,
         uint8_t *ans, size_t cap)
{
  const coap_address_t *to =
      coap_endpoint_get_address(ctx->endpoints);
  struct pollfd p = {fd, POLLIN, 0};

  if (sendto(fd, req, len, 0, &to->addr.sa, to->size) != (ssize_t)len)
    return 0;
  for (int i = 0; i < 50; i++) {
    ssize_t n;
    coap_io_process(ctx, 10);
    if (poll(&p, 1, 10) != 1)
      continue;
    n = recv(fd, ans, cap, MSG_DONTWAIT);
    if (n >= 4 && ans[1] == COAP_EMPTY_CODE)
      continue; /* a ping of the server's (retransmitted): not the answer */
    return n > 0 ? (size_t)n : 0;
  }
  return 0;
}

/* The answer's code and Echo (copied into echo, length returned). */
static size_t
answer_echo(const uint8_t *ans, size_t len, uint8_t *code, uint8_t *echo)
{
  coap_pdu_t v;
  coap_opt_iterator_t oi;
  coap_opt_t *o;
  size_t elen;

  *code = 0;
  if (coap_pdu_view_udp(&v, ans, len) != COAP_PARSE_OK)
    return 0;
  *code = (uint8_t)v.code;
  o = coap_check_option(&v, COAP_OPTION_ECHO, &oi);
  if (!o)
    return 0;
  elen = coap_opt_length(o);
  if (elen > COAP_ECHO_MAX)
    return 0;
  memcpy(echo, coap_opt_value(o), elen);
  return elen;
}

static void
test_server(coap_context_t *ctx, coap_resource_t *big)
{
  uint8_t req[64], ans[1500], echo[COAP_ECHO_MAX], code;
  size_t rlen, alen, elen;
  int a = peer_socket(), b = peer_socket(), c = peer_socket();

  is_int(coap_context_get_amplification_factor(ctx), 3, "default factor 3");

  rlen = request(req, COAP_REQUEST_CODE_GET, 1, 0, NULL, 0);
  alen = exchange(ctx, a, req, rlen, ans, sizeof(ans));
  elen = answer_echo(ans, alen, &code, echo);
  is_int(code, COAP_RESPONSE_CODE_UNAUTHORIZED, "fresh port, big GET: 4.01");
  ok(alen > 0 && alen <= 3 * rlen, "the 4.01 is at most 3x the request (%zu <= 3 x %zu)",
     alen, rlen);
  is_int(elen, COAP_ECHO_LEN, "it carries a 12-byte Echo");
  is_int(ans[0], 0x60 | 4, "piggybacked ACK, same token length");
  ok(alen >= 8 && memcmp(ans + 4, "\x11\x22\x33\x44", 4) == 0, "same token");

  /* Another port presenting a's value is not verified by it. */
  rlen = request(req, COAP_REQUEST_CODE_GET, 2, 0, echo, elen);
  alen = exchange(ctx, b, req, rlen, ans, sizeof(ans));
  answer_echo(ans, alen, &code, ans + 1400);
  is_int(code, COAP_RESPONSE_CODE_UNAUTHORIZED,
         "another port with that Echo: 4.01 again");

  rlen = request(req, COAP_REQUEST_CODE_GET, 3, 0, echo, elen);
  alen = exchange(ctx, a, req, rlen, ans, sizeof(ans));
  answer_echo(ans, alen, &code, ans + 1400);
  is_int(code, COAP_RESPONSE_CODE_CONTENT, "the repeat with the Echo: 2.05");
  ok(alen > BIG, "the whole body (%zu bytes)", alen);

  rlen = request(req, COAP_REQUEST_CODE_GET, 4, 0, NULL, 0);
  alen = exchange(ctx, a, req, rlen, ans, sizeof(ans));
  answer_echo(ans, alen, &code, ans + 1400);
  ok(code == COAP_RESPONSE_CODE_CONTENT && alen > BIG,
     "later requests of the verified peer: unlimited");

  /* An Observe registration answered with 4.01 registers nobody. */
  rlen = request(req, COAP_REQUEST_CODE_GET, 5, 1, NULL, 0);
  alen = exchange(ctx, c, req, rlen, ans, sizeof(ans));
  elen = answer_echo(ans, alen, &code, echo);
  is_int(code, COAP_RESPONSE_CODE_UNAUTHORIZED, "fresh port, GET+Observe: 4.01");
  is_int(coap_resource_observer_count(big), 0, "no observer registered");
  rlen = request(req, COAP_REQUEST_CODE_GET, 6, 1, echo, elen);
  alen = exchange(ctx, c, req, rlen, ans, sizeof(ans));
  answer_echo(ans, alen, &code, ans + 1400);
  is_int(code, COAP_RESPONSE_CODE_CONTENT, "with the Echo: 2.05");
  is_int(coap_resource_observer_count(big), 1, "and registered");

  /* POST: the handler acted already; its answer goes out whole. */
  close(c);
  c = peer_socket();
  posts = 0;
  rlen = request(req, COAP_REQUEST_CODE_POST, 7, 0, NULL, 0);
  alen = exchange(ctx, c, req, rlen, ans, sizeof(ans));
  answer_echo(ans, alen, &code, ans + 1400);
  ok(code == COAP_RESPONSE_CODE_CHANGED && alen > BIG && posts == 1,
     "POST from a fresh port: answered as is, handler run once");

  /* Factor 0: no limit at all. */
  close(b);
  b = peer_socket();
  coap_context_set_amplification_factor(ctx, 0);
  is_int(coap_context_get_amplification_factor(ctx), 0, "factor set to 0");
  rlen = request(req, COAP_REQUEST_CODE_GET, 8, 0, NULL, 0);
  alen = exchange(ctx, b, req, rlen, ans, sizeof(ans));
  answer_echo(ans, alen, &code, ans + 1400);
  ok(code == COAP_RESPONSE_CODE_CONTENT && alen > BIG,
     "factor 0: a fresh port gets the big answer");
  coap_context_set_amplification_factor(ctx, 3);
  close(a);
  close(b);
  close(c);
}

/* ------------------------------------------------- verified by an answer */

/* A GET of /big from fd: the answer's code (0: none); *len its size. */
static uint8_t
big_code(coap_context_t *ctx, int fd, uint16_t mid, size_t *len)
{
  uint8_t req[64], ans[1500], echo[COAP_ECHO_MAX], code;
  size_t rlen = request(req, COAP_REQUEST_CODE_GET, mid, 0, NULL, 0);

  *len = exchange(ctx, fd, req, rlen, ans, sizeof(ans));
  answer_echo(ans, *len, &code, echo);
  return code;
}

/* A fresh peer on fd asks for /big (a 4.01: unverified), then the server
 * pings it; returns the ping's message ID as the peer saw it, or -1. */
static int
pinged_peer(coap_context_t *ctx, int fd, uint16_t mid)
{
  uint8_t buf[64];
  size_t len;
  coap_mid_t sent;
  ssize_t n;

  last_session = NULL;
  if (big_code(ctx, fd, mid, &len) != COAP_RESPONSE_CODE_UNAUTHORIZED ||
      !last_session)
    return -1;
  sent = coap_session_send_ping(last_session);
  if (sent == COAP_INVALID_MID)
    return -1;
  n = lb_raw_recv(fd, ctx, buf, sizeof(buf), NULL, 1000, NULL);
  /* An empty CON (ver 1, TKL 0) with the ID coap_session_send_ping gave. */
  if (n != 4 || buf[0] != 0x40 || buf[1] != COAP_EMPTY_CODE ||
      ((buf[2] << 8) | buf[3]) != sent)
    return -1;
  return sent;
}

/* An empty ACK (type 2) or RST (type 3) for mid. */
static void
send_empty(coap_context_t *ctx, int fd, uint8_t type, int mid)
{
  const uint8_t m[4] = {(uint8_t)(0x40 | (type << 4)), 0, (uint8_t)(mid >> 8),
                        (uint8_t)mid};

  lb_raw_send(fd, coap_endpoint_get_address(ctx->endpoints), m, sizeof(m));
}

/* RFC 9175 2.4: an ACK or RST matching a CON the server sent proves the
 * peer's address as well as an Echo does (reliability.c). */
static void
test_verified_by_reply(coap_context_t *ctx)
{
  int a = peer_socket(), b = peer_socket(), c = peer_socket(),
      d = peer_socket();
  int mid;
  size_t len;

  mid = pinged_peer(ctx, a, 20);
  ok(mid >= 0, "server pings an unverified peer (empty CON, its message ID)");
  send_empty(ctx, a, COAP_MESSAGE_ACK, mid);
  is_int(big_code(ctx, a, 21, &len), COAP_RESPONSE_CODE_CONTENT,
         "the peer ACKed the ping: big GET answered 2.05");
  ok(len > BIG, "with the whole body (%zu bytes)", len);

  mid = pinged_peer(ctx, b, 22);
  ok(mid >= 0, "second peer pinged");
  send_empty(ctx, b, COAP_MESSAGE_RST, mid);
  is_int(big_code(ctx, b, 23, &len), COAP_RESPONSE_CODE_CONTENT,
         "the peer RST the ping: big GET answered 2.05");
  ok(len > BIG, "with the whole body (%zu bytes)", len);

  /* c is pinged but never answers with the right ID; d (another port)
   * sends the ACK c should have sent. */
  mid = pinged_peer(ctx, c, 24);
  ok(mid >= 0, "third peer pinged");
  send_empty(ctx, c, COAP_MESSAGE_ACK, (mid + 1) & 0xffff);
  send_empty(ctx, c, COAP_MESSAGE_RST, (mid + 2) & 0xffff);
  send_empty(ctx, d, COAP_MESSAGE_ACK, mid);
  send_empty(ctx, d, COAP_MESSAGE_RST, mid);
  is_int(big_code(ctx, c, 25, &len), COAP_RESPONSE_CODE_UNAUTHORIZED,
         "ACK/RST with other message IDs: still 4.01");
  is_int(big_code(ctx, d, 26, &len), COAP_RESPONSE_CODE_UNAUTHORIZED,
         "ACK/RST of another port's ping: still 4.01");
  close(a);
  close(b);
  close(c);
  close(d);
}

/* A response from the peer matching the token of a request the server
 * sent it verifies the peer too (deliver() in reliability.c). */
static void
test_verified_by_response(coap_context_t *ctx)
{
  int e = peer_socket();
  uint8_t buf[128], resp[16];
  size_t len;
  ssize_t n;
  coap_pdu_t *pdu;
  uint8_t tok[4] = {9, 8, 7, 6};

  last_session = NULL;
  is_int(big_code(ctx, e, 30, &len), COAP_RESPONSE_CODE_UNAUTHORIZED,
         "fresh peer: 4.01");
  pdu = last_session ? coap_new_pdu(COAP_MESSAGE_NON, COAP_REQUEST_CODE_GET,
                                    last_session)
                     : NULL;
  ok(pdu && coap_add_token(pdu, sizeof(tok), tok) &&
         coap_send(last_session, pdu) != COAP_INVALID_MID,
     "server sends the peer a NON request");
  n = lb_raw_recv(e, ctx, buf, sizeof(buf), NULL, 1000, NULL);
  ok(n == 8 && (buf[0] & 0x30) == 0x10 && buf[1] == COAP_REQUEST_CODE_GET &&
         memcmp(buf + 4, tok, 4) == 0,
     "the peer gets it");
  /* A NON 2.05 with the same token, and a message ID of the peer's own. */
  resp[0] = 0x54;
  resp[1] = COAP_RESPONSE_CODE_CONTENT;
  resp[2] = 0x77;
  resp[3] = 0x01;
  memcpy(resp + 4, tok, 4);
  lb_raw_send(e, coap_endpoint_get_address(ctx->endpoints), resp, 8);
  is_int(big_code(ctx, e, 31, &len), COAP_RESPONSE_CODE_CONTENT,
         "after its response: big GET answered 2.05");
  close(e);
}

/* ---------------------------------------------------------------- groups */

#define GROUP "224.0.1.187"
#define LEISURE_MS 300

/* A raw peer whose group datagrams leave through lo (and loop back to the
 * members there). */
static int
group_peer(void)
{
  int fd = peer_socket();
  struct in_addr lo = {htonl(INADDR_LOOPBACK)};
  int one = 1;

  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof(lo)) < 0 ||
      setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one)) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends req to the group and waits for the one answer: its length, its
 * sender in *from, the milliseconds it took in *ms. */
static ssize_t
group_exchange(coap_context_t *ctx, int fd, const coap_address_t *group,
               const uint8_t *req, size_t rlen, uint8_t *ans, size_t cap,
               coap_address_t *from, uint64_t *ms)
{
  uint64_t start = coap_ticks_ms();
  ssize_t n;

  *ms = 0;
  if (!lb_raw_send(fd, group, req, rlen))
    return -1;
  n = lb_raw_recv(fd, ctx, ans, cap, from, LEISURE_MS + 2000, NULL);
  *ms = coap_ticks_ms() - start;
  return n;
}

/* RFC 7252 8.2 with RFC 9175 2.4: an unverified peer's group GET of a big
 * resource gets the 4.01 challenge, NON, from our unicast address, after
 * the leisure delay; an error of any other kind would stay silent. */
static void
test_group(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_resource_t *big;
  coap_address_t bound, group, from;
  uint8_t req[64], ans[1500], echo[COAP_ECHO_MAX], code = 0;
  size_t rlen, elen;
  ssize_t n;
  uint64_t ms;
  int fd = -1;

  if (!ctx || !lb_listen(ctx, COAP_PROTO_UDP, "0.0.0.0", AF_INET, &bound) ||
      coap_join_mcast_group_intf(ctx, GROUP, "lo") != 0 ||
      (fd = group_peer()) < 0) {
    /* Lo without IPv4 multicast (or no IPv4 at all): nothing to test. */
    ok(1, "# SKIP cannot join " GROUP " on lo here");
    goto out;
  }
  coap_context_set_mcast_leisure(ctx, LEISURE_MS);
  big = coap_resource_init(coap_make_str_const("big"), 0);
  coap_register_request_handler(big, COAP_REQUEST_GET, big_get);
  coap_add_resource(ctx, big);
  coap_resolve_address(GROUP, coap_address_get_port(&bound), AF_INET, &group);

  rlen = request(req, COAP_REQUEST_CODE_GET, 40, 0, NULL, 0);
  req[0] = 0x54; /* NON: a group request (RFC 7252 8.1) */
  n = group_exchange(ctx, fd, &group, req, rlen, ans, sizeof(ans), &from, &ms);
  elen = n > 0 ? answer_echo(ans, (size_t)n, &code, echo) : 0;
  printf("# the group's 4.01 came after %llu ms (leisure %d)\n",
         (unsigned long long)ms, LEISURE_MS);
  is_int(code, COAP_RESPONSE_CODE_UNAUTHORIZED, "group GET of /big: 4.01");
  is_int(elen, COAP_ECHO_LEN, "with an Echo");
  ok(n > 0 && (ans[0] & 0x30) == 0x10, "sent NON");
  ok(n > 0 && (size_t)n <= 3 * rlen, "within 3x the request (%zd bytes)", n);
  ok(from.addr.sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
         from.addr.sin.sin_port == bound.addr.sin.sin_port,
     "from our unicast address, not the group");

  /* The repeat goes CON: a unicast answer would be its ACK; a group's is
   * NON with a message ID of its own. */
  rlen = request(req, COAP_REQUEST_CODE_GET, 41, 0, echo, elen);
  n = group_exchange(ctx, fd, &group, req, rlen, ans, sizeof(ans), &from, &ms);
  if (n > 0)
    answer_echo(ans, (size_t)n, &code, echo);
  ok(n > BIG && code == COAP_RESPONSE_CODE_CONTENT,
     "the repeat with the Echo: 2.05 with the whole body");
  ok(n > 4 && (ans[0] & 0x30) == 0x10 && ((ans[2] << 8) | ans[3]) != 41,
     "as a group answer: NON, its own message ID");
  ok(ms <= LEISURE_MS + 1000, "within the leisure (%llu ms)",
     (unsigned long long)ms);

  /* Verified for unicast too: it is the same peer. */
  rlen = request(req, COAP_REQUEST_CODE_GET, 42, 0, NULL, 0);
  n = exchange(ctx, fd, req, rlen, ans, sizeof(ans));
  answer_echo(ans, (size_t)n, &code, echo);
  ok(code == COAP_RESPONSE_CODE_CONTENT && n > BIG,
     "and its unicast GET: 2.05 whole");
out:
  if (fd >= 0)
    close(fd);
  coap_free_context(ctx);
}

/* ---------------------------------------------------------------- client */

static int responses;
static uint8_t last_code;
static size_t last_len;

static coap_response_t
on_response(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
            const coap_mid_t mid)
{
  size_t len = 0;
  const uint8_t *data;

  (void)s;
  (void)sent;
  (void)mid;
  responses++;
  last_code = (uint8_t)coap_pdu_get_code(rcvd);
  coap_get_data(rcvd, &len, &data);
  last_len = len;
  return COAP_RESPONSE_OK;
}

static coap_session_t *
client_to(coap_context_t *cctx, const coap_address_t *server)
{
  return coap_new_client_session(cctx, NULL, server, COAP_PROTO_UDP);
}

static coap_pdu_t *
get_big(coap_session_t *cs)
{
  coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, cs);
  uint8_t tok[8];
  size_t tlen = sizeof(tok);

  coap_session_new_token(cs, &tlen, tok);
  coap_add_token(pdu, tlen, tok);
  coap_add_option(pdu, COAP_OPTION_URI_PATH, 3, (const uint8_t *)"big");
  return pdu;
}

static void
run_both(coap_context_t *sctx, coap_context_t *cctx, int want)
{
  for (int i = 0; i < 100 && responses < want; i++) {
    coap_io_process(cctx, 5);
    if (sctx)
      coap_io_process(sctx, 5);
  }
}

static void
test_client(coap_context_t *sctx)
{
  coap_context_t *cctx = coap_new_context(NULL);
  coap_session_t *cs;

  coap_register_response_handler(cctx, on_response);
  cs = client_to(cctx, coap_endpoint_get_address(sctx->endpoints));
  responses = 0;
  coap_send(cs, get_big(cs));
  run_both(sctx, cctx, 1);
  is_int(responses, 1, "client: one response delivered");
  is_int(last_code, COAP_RESPONSE_CODE_CONTENT, "client: it is the 2.05");
  is_int(last_len, BIG, "client: with the whole body");
  ok(cs->ext->echo_len == COAP_ECHO_LEN, "client: the Echo value is kept");
  coap_session_release(cs);
  coap_free_context(cctx);
}

/* A peer that answers every request with a 4.01 and a new Echo: the client
 * repeats once, then delivers the second 4.01. */
static void
test_client_once(void)
{
  coap_context_t *cctx = coap_new_context(NULL);
  int srv = peer_socket();
  struct sockaddr_in sa;
  socklen_t salen = sizeof(sa);
  coap_address_t to;
  coap_session_t *cs;
  uint8_t buf[256], echo[COAP_ECHO_MAX], code;
  int got = 0, with_echo = 0, echo_matches = 0;
  struct pollfd p = {srv, POLLIN, 0};
  uint8_t next_echo = 'a';

  getsockname(srv, (struct sockaddr *)&sa, &salen);
  coap_address_init(&to);
  to.addr.sin = sa;
  to.size = sizeof(sa);
  coap_register_response_handler(cctx, on_response);
  cs = client_to(cctx, &to);
  responses = 0;
  coap_send(cs, get_big(cs));
  for (int i = 0; i < 60 && (responses == 0 || i < 40); i++) {
    struct sockaddr_in from;
    socklen_t flen = sizeof(from);
    ssize_t n;
    size_t elen;

    coap_io_process(cctx, 5);
    if (poll(&p, 1, 5) != 1)
      continue;
    n = recvfrom(srv, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
    if (n < 4 || (buf[0] & 0x30) != 0)
      continue; /* not a CON request */
    got++;
    elen = answer_echo(buf, (size_t)n, &code, echo);
    if (elen) {
      with_echo++;
      echo_matches += elen == 3 && echo[0] == next_echo - 1;
    }
    {
      uint8_t tkl = buf[0] & 0x0f;
      uint8_t r[32] = {(uint8_t)(0x60 | tkl), COAP_RESPONSE_CODE_UNAUTHORIZED,
                       buf[2], buf[3]};
      size_t rl = 4;
      memcpy(r + rl, buf + 4, tkl);
      rl += tkl;
      r[rl++] = 0xd3;
      r[rl++] = 252 - 13;
      memset(r + rl, next_echo++, 3);
      rl += 3;
      sendto(srv, r, rl, 0, (struct sockaddr *)&from, flen);
    }
  }
  is_int(got, 2, "the request was sent twice");
  is_int(with_echo, 1, "the repeat carried an Echo");
  is_int(echo_matches, 1, "the Echo the peer sent");
  is_int(responses, 1, "the second 4.01 was delivered");
  is_int(last_code, COAP_RESPONSE_CODE_UNAUTHORIZED, "as a 4.01");

  /* Later requests carry the last value. */
  coap_send(cs, get_big(cs));
  got = 0;
  for (int i = 0; i < 40 && !got; i++) {
    ssize_t n;
    coap_io_process(cctx, 5);
    if (poll(&p, 1, 5) != 1)
      continue;
    n = recv(srv, buf, sizeof(buf), 0);
    got = n > 0;
    ok(answer_echo(buf, (size_t)n, &code, echo) == 3 && echo[0] == 'b',
       "a later request carries the last Echo");
  }
  is_int(got, 1, "a later request was sent");
  coap_session_release(cs);
  coap_free_context(cctx);
  close(srv);
}

int
main(void)
{
  coap_address_t local;
  coap_context_t *ctx;
  coap_resource_t *big;

  coap_set_log_level(COAP_LOG_ERR);
  test_siphash();
  coap_address_init(&local);
  local.addr.sin.sin_family = AF_INET;
  local.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  local.size = sizeof(local.addr.sin);
  ctx = coap_new_context(NULL);
  if (!ctx || !coap_new_endpoint(ctx, &local, COAP_PROTO_UDP)) {
    printf("Bail out! no loopback endpoint\n");
    return 1;
  }
  test_values(ctx);
  big = coap_resource_init(coap_make_str_const("big"), 0);
  coap_register_request_handler(big, COAP_REQUEST_GET, big_get);
  coap_register_request_handler(big, COAP_REQUEST_POST, big_post);
  coap_resource_set_get_observable(big, 1);
  coap_add_resource(ctx, big);
  test_server(ctx, big);
  test_verified_by_reply(ctx);
  test_verified_by_response(ctx);
  test_group();
  test_client(ctx);
  test_client_once();
  ok(sizeof(coap_session_t) <= 160, "an idle session stays %zu <= 160 bytes",
     sizeof(coap_session_t));
  coap_free_context(ctx);
  return tap_done();
}
