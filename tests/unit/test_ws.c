/*
 * test_ws.c -- the WebSocket layer of RFC 8323 section 4: the accept hash,
 * the upgrade in both directions, masking, fragmentation, control frames,
 * and the violations that end a connection.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loopback.h"
#include "stream_internal.h"
#include "tap.h"

#define CAP 4096

/* Runs all of in through ws; records the events, the last message and the
 * replies.  Stops at CLOSE, ERROR or TOO_BIG. */
typedef struct run_t {
  int opens, messages, closes, errors, too_big;
  uint8_t msg[CAP];
  size_t msg_len;
  uint8_t reply[CAP];
  size_t reply_len;
} run_t;

static void
run(coap_ws_t *ws, const uint8_t *in, size_t len, run_t *r)
{
  int guard = 0;

  while (len > 0 && guard++ < 10000) {
    size_t used = 0, mlen = 0;
    const uint8_t *msg = NULL;
    coap_ws_event_t ev = coap_ws_input(ws, in, len, &used, &msg, &mlen,
                                       r->reply, &r->reply_len, CAP);
    in += used;
    len -= used;
    switch (ev) {
    case COAP_WS_OPEN:
      r->opens++;
      break;
    case COAP_WS_MESSAGE:
      r->messages++;
      if (mlen <= CAP) {
        memcpy(r->msg, msg, mlen);
        r->msg_len = mlen;
      }
      break;
    case COAP_WS_CLOSE:
      r->closes++;
      return;
    case COAP_WS_ERROR:
      r->errors++;
      return;
    case COAP_WS_TOO_BIG:
      r->too_big++;
      return;
    default:
      break;
    }
    if (used == 0)
      return;
  }
}

/* A whole frame from ws's side: header, then the payload masked when ws
 * is a client. */
static size_t
frame(coap_ws_t *ws, uint8_t op, int fin, const uint8_t *payload, size_t len,
      uint8_t *out)
{
  uint8_t key[4];
  size_t hl = coap_ws_frame_header(ws, op, len, out, key);

  if (!fin)
    out[0] &= 0x7f;
  memcpy(out + hl, payload, len);
  if (out[1] & 0x80)
    coap_ws_mask(out + hl, len, key, 0);
  return hl + len;
}

static void
open_pair(coap_ws_t **c, coap_ws_t **s)
{
  uint8_t req[1024];
  size_t n;
  run_t rs = {0}, rc = {0};

  *c = coap_ws_new(1, "127.0.0.1:5683", 1024);
  *s = coap_ws_new(0, NULL, 1024);
  n = coap_ws_client_request(*c, req, sizeof(req));
  run(*s, req, n, &rs);
  run(*c, rs.reply, rs.reply_len, &rc);
}

static void
test_accept_key(void)
{
  char out[29];

  /* RFC 6455 section 1.3's example. */
  ok(coap_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out) &&
         strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
     "the accept hash of RFC 6455's example key");
}

static void
test_upgrade(void)
{
  coap_ws_t *c = coap_ws_new(1, "example.net", 1024);
  uint8_t req[1024];
  size_t n = coap_ws_client_request(c, req, sizeof(req)), bad = 0;
  run_t rs, rc;

  ok(n > 0 && strstr((char *)req, "GET /.well-known/coap HTTP/1.1\r\n") &&
         strstr((char *)req, "Sec-WebSocket-Protocol: coap\r\n") &&
         strstr((char *)req, "Host: example.net\r\n"),
     "the client asks for /.well-known/coap with the coap subprotocol");
  for (size_t cut = 0; cut <= n; cut++) {
    coap_ws_t *s = coap_ws_new(0, NULL, 1024);
    memset(&rs, 0, sizeof(rs));
    run(s, req, cut, &rs);
    run(s, req + cut, n - cut, &rs);
    if (rs.opens != 1 || rs.errors || rs.closes || !coap_ws_is_open(s) ||
        strncmp((char *)rs.reply, "HTTP/1.1 101 ", 13) != 0)
      bad++;
    coap_ws_free(s);
  }
  ok(bad == 0, "the server opens on the request split anywhere (%zu bad)", bad);

  {
    coap_ws_t *s = coap_ws_new(0, NULL, 1024);
    memset(&rs, 0, sizeof(rs));
    memset(&rc, 0, sizeof(rc));
    run(s, req, n, &rs);
    ok(strstr((char *)rs.reply, "Sec-WebSocket-Protocol: coap\r\n") != NULL,
       "the 101 selects the coap subprotocol");
    run(c, rs.reply, rs.reply_len, &rc);
    ok(rc.opens == 1 && coap_ws_is_open(c), "the client accepts the 101");
    coap_ws_free(s);
  }
  coap_ws_free(c);

  {
    /* An accept hash for another key. */
    coap_ws_t *c2 = coap_ws_new(1, "h", 1024), *s = coap_ws_new(0, NULL, 1024);
    n = coap_ws_client_request(c2, req, sizeof(req));
    memset(&rs, 0, sizeof(rs));
    memset(&rc, 0, sizeof(rc));
    run(s, req, n, &rs);
    coap_ws_free(c2);
    c2 = coap_ws_new(1, "h", 1024); /* a fresh key */
    run(c2, rs.reply, rs.reply_len, &rc);
    ok(rc.errors == 1 && !coap_ws_is_open(c2),
       "a client refuses a 101 whose accept hash is not for its key");
    coap_ws_free(c2);
    coap_ws_free(s);
  }
}

static void
test_refusals(void)
{
  static const struct {
    const char *req;
    const char *status;
  } cases[] = {
      {"GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Protocol: coap\r\nSec-WebSocket-Version: 13\r\n\r\n",
       "HTTP/1.1 404"},
      {"GET /.well-known/coap HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Version: 13\r\n\r\n",
       "HTTP/1.1 400"},
      {"GET /.well-known/coap HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Protocol: coap\r\nSec-WebSocket-Version: 8\r\n\r\n",
       "HTTP/1.1 426"},
      {"POST /.well-known/coap HTTP/1.1\r\n\r\n", "HTTP/1.1 405"},
      {"GET /.well-known/coap HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400"},
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    coap_ws_t *s = coap_ws_new(0, NULL, 1024);
    run_t r = {0};
    run(s, (const uint8_t *)cases[i].req, strlen(cases[i].req), &r);
    ok(r.closes == 1 && !coap_ws_is_open(s) &&
           strncmp((char *)r.reply, cases[i].status, strlen(cases[i].status)) ==
               0,
       "refused with %s", cases[i].status);
    coap_ws_free(s);
  }
  {
    coap_ws_t *s = coap_ws_new(0, NULL, 1024);
    uint8_t junk[5000];
    run_t r = {0};
    memset(junk, 'A', sizeof(junk));
    run(s, junk, sizeof(junk), &r);
    ok(r.errors == 1, "an upgrade request that never ends is an error");
    coap_ws_free(s);
  }
}

static void
test_frames(void)
{
  coap_ws_t *c, *s;
  uint8_t wire[CAP], coap[300];
  size_t n, bad = 0;
  run_t r;

  for (size_t i = 0; i < sizeof(coap); i++)
    coap[i] = (uint8_t)(i ^ 0x5a);
  open_pair(&c, &s);
  ok(coap_ws_is_open(c) && coap_ws_is_open(s), "both sides are open");

  /* Client to server: masked, 16-bit length. */
  n = frame(c, COAP_WS_OP_BINARY, 1, coap, sizeof(coap), wire);
  ok((wire[1] & 0x80) && (wire[1] & 0x7f) == 126 &&
         memcmp(wire + 8, coap, 8) != 0,
     "a client frame is masked and uses the 16-bit length");
  for (size_t cut = 0; cut <= n; cut++) {
    memset(&r, 0, sizeof(r));
    run(s, wire, cut, &r);
    run(s, wire + cut, n - cut, &r);
    if (r.messages != 1 || r.msg_len != sizeof(coap) ||
        memcmp(r.msg, coap, sizeof(coap)) != 0)
      bad++;
  }
  ok(bad == 0, "the server unmasks a frame split anywhere (%zu bad)", bad);

  /* Server to client: unmasked, 7-bit length. */
  n = frame(s, COAP_WS_OP_BINARY, 1, coap, 20, wire);
  memset(&r, 0, sizeof(r));
  run(c, wire, n, &r);
  ok(!(wire[1] & 0x80) && r.messages == 1 && r.msg_len == 20 &&
         memcmp(r.msg, coap, 20) == 0,
     "a server frame is unmasked and read by the client");

  /* Fragments with a Ping between them. */
  {
    size_t a = frame(c, COAP_WS_OP_BINARY, 0, coap, 10, wire);
    size_t b = frame(c, COAP_WS_OP_PING, 1, (const uint8_t *)"hi", 2, wire + a);
    size_t d = frame(c, COAP_WS_OP_CONT, 1, coap + 10, 15, wire + a + b);
    memset(&r, 0, sizeof(r));
    run(s, wire, a + b + d, &r);
    ok(r.messages == 1 && r.msg_len == 25 && memcmp(r.msg, coap, 25) == 0,
       "a fragmented message is reassembled");
    ok(r.reply_len == 4 && r.reply[0] == (0x80 | COAP_WS_OP_PONG) &&
           r.reply[1] == 2 && memcmp(r.reply + 2, "hi", 2) == 0,
       "a Ping between fragments is answered by a Pong with its payload");
  }

  /* Close: echoed, then the connection ends. */
  {
    uint8_t code[2] = {0x03, 0xe8};
    n = frame(c, COAP_WS_OP_CLOSE, 1, code, 2, wire);
    memset(&r, 0, sizeof(r));
    run(s, wire, n, &r);
    ok(r.closes == 1 && r.reply_len == 4 &&
           r.reply[0] == (0x80 | COAP_WS_OP_CLOSE) && r.reply[2] == 0x03 &&
           r.reply[3] == 0xe8,
       "a Close is echoed with its status code");
  }
  coap_ws_free(c);
  coap_ws_free(s);
}

static void
test_violations(void)
{
  coap_ws_t *c, *s;
  uint8_t wire[CAP], big[200];
  size_t n;
  run_t r;

  memset(big, 7, sizeof(big));
  open_pair(&c, &s);
  /* A server frame sent to the server: unmasked. */
  n = frame(s, COAP_WS_OP_BINARY, 1, big, 10, wire);
  memset(&r, 0, sizeof(r));
  run(s, wire, n, &r);
  ok(r.errors == 1, "an unmasked client frame is an error");
  coap_ws_free(c);
  coap_ws_free(s);

  open_pair(&c, &s);
  n = frame(c, COAP_WS_OP_BINARY, 1, big, 10, wire);
  memset(&r, 0, sizeof(r));
  run(c, wire, n, &r);
  ok(r.errors == 1, "a masked server frame is an error");

  n = frame(c, COAP_WS_OP_TEXT, 1, big, 10, wire);
  memset(&r, 0, sizeof(r));
  run(s, wire, n, &r);
  ok(r.errors == 1, "a text frame is an error (RFC 8323 uses binary)");
  coap_ws_free(c);
  coap_ws_free(s);

  open_pair(&c, &s);
  n = frame(c, COAP_WS_OP_PING, 1, big, 126, wire);
  memset(&r, 0, sizeof(r));
  run(s, wire, n, &r);
  ok(r.errors == 1, "a control frame over 125 bytes is an error");
  coap_ws_free(s);

  s = coap_ws_new(0, NULL, 100);
  {
    uint8_t req[1024];
    run_t rs = {0};
    coap_ws_t *c2 = coap_ws_new(1, "h", 100);
    size_t rn = coap_ws_client_request(c2, req, sizeof(req));
    run(s, req, rn, &rs);
    n = frame(c2, COAP_WS_OP_BINARY, 1, big, 150, wire);
    memset(&r, 0, sizeof(r));
    run(s, wire, n, &r);
    ok(r.too_big == 1 && r.messages == 0,
       "a message over the limit is refused before it is buffered");
    coap_ws_free(c2);
  }
  coap_ws_free(c);
  coap_ws_free(s);

  open_pair(&c, &s);
  wire[0] = 0x80 | 0x40 | COAP_WS_OP_BINARY; /* RSV1 */
  wire[1] = 0x80;
  memset(wire + 2, 0, 4);
  memset(&r, 0, sizeof(r));
  run(s, wire, 6, &r);
  ok(r.errors == 1, "a reserved bit without an extension is an error");
  coap_ws_free(c);
  coap_ws_free(s);
}

/* ---------------------------------------------------------------- Host */

/* The request's Host line (NUL-terminated, without CR LF) into out. */
static int
host_line(const uint8_t *req, size_t len, char *out, size_t cap)
{
  char buf[2048];
  const char *h, *e;

  if (len >= sizeof(buf))
    return 0;
  memcpy(buf, req, len);
  buf[len] = '\0';
  h = strstr(buf, "\r\nHost: ");
  if (!h || !(e = strstr(h + 2, "\r\n")) || strstr(e, "\r\nHost:"))
    return 0; /* none, unterminated, or twice */
  h += 8;
  if ((size_t)(e - h) >= cap)
    return 0;
  memcpy(out, h, (size_t)(e - h));
  out[e - h] = '\0';
  return 1;
}

static void
test_host_layer(void)
{
  coap_ws_t *c = coap_ws_new(1, "127.0.0.1:5683", 1024),
            *s = coap_ws_new(0, NULL, 1024);
  uint8_t req[1024], long_host[300];
  char host[300];
  size_t n;

  ok(coap_ws_set_host(c, (const uint8_t *)"example.org:8080", 16),
     "a client takes a Host");
  ok(!coap_ws_set_host(c, (const uint8_t *)"a\r\nX-Evil: 1", 13),
     "a Host with CR LF is refused");
  ok(!coap_ws_set_host(c, (const uint8_t *)"a b", 3), "with a space: refused");
  ok(!coap_ws_set_host(c, (const uint8_t *)"", 0), "empty: refused");
  memset(long_host, 'h', sizeof(long_host));
  ok(!coap_ws_set_host(c, long_host, 256) && coap_ws_set_host(c, long_host, 255),
     "256 bytes refused, 255 taken");
  ok(coap_ws_set_host(c, (const uint8_t *)"[::1]:8080", 10),
     "an IPv6 literal in brackets");
  ok(!coap_ws_set_host(s, (const uint8_t *)"x", 1), "a server has no Host to set");
  n = coap_ws_client_request(c, req, sizeof(req));
  ok(host_line(req, n, host, sizeof(host)) && strcmp(host, "[::1]:8080") == 0,
     "the request carries the last Host set, once");
  ok(!coap_ws_set_host(c, (const uint8_t *)"late", 4),
     "after the request went out: refused");
  coap_ws_free(c);
  coap_ws_free(s);
}

/* A raw TCP listener on addr (127.0.0.1 or ::1), port 0; -1 if none. */
static int
tcp_listener(const char *addr, int family, coap_address_t *bound)
{
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0 || !coap_resolve_address(addr, 0, family, bound) ||
      bind(fd, &bound->addr.sa, coap_address_socklen(bound)) < 0 ||
      listen(fd, 4) < 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  bound->size = sizeof(bound->addr);
  getsockname(fd, &bound->addr.sa, &bound->size);
  return fd;
}

/* The upgrade request a WS client session sends to the listener lfd (the
 * context runs meanwhile); its Host line into host. */
static int
session_host(coap_context_t *ctx, int lfd, char *host, size_t cap)
{
  uint8_t buf[2048];
  size_t got = 0;
  int cfd = -1, found = 0;
  uint64_t end = coap_ticks_ms() + 2000;

  while (coap_ticks_ms() < end && !found) {
    ssize_t n;
    coap_io_process(ctx, 5);
    if (cfd < 0)
      cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0)
      continue;
    n = recv(cfd, buf + got, sizeof(buf) - 1 - got, 0);
    if (n > 0)
      got += (size_t)n;
    buf[got] = '\0';
    found = strstr((char *)buf, "\r\n\r\n") != NULL;
  }
  if (cfd >= 0)
    close(cfd);
  return found && host_line(buf, got, host, cap);
}

static void
test_host_session(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_address_t l4, l6;
  int f4 = tcp_listener("127.0.0.1", AF_INET, &l4),
      f6 = tcp_listener("::1", AF_INET6, &l6);
  coap_session_t *s;
  char host[300], want[300];

  coap_set_log_level(COAP_LOG_ERR);
  if (!ctx || f4 < 0) {
    printf("Bail out! no loopback TCP listener\n");
    exit(1);
  }
  snprintf(want, sizeof(want), "localhost:%u", coap_address_get_port(&l4));
  s = coap_new_client_session(ctx, NULL, &l4, COAP_PROTO_WS);
  ok(s && coap_ws_set_host_request(s, coap_make_str_const("localhost:1")) &&
         coap_ws_set_host_request(
             s, &(coap_str_const_t){strlen(want), (const uint8_t *)want}),
     "coap_ws_set_host_request on a new WS session");
  ok(!coap_ws_set_host_request(s, coap_make_str_const("bad\nhost")),
     "a Host with a newline is refused");
  ok(session_host(ctx, f4, host, sizeof(host)) && strcmp(host, want) == 0,
     "the upgrade request carries Host: %s", want);
  ok(!coap_ws_set_host_request(s, coap_make_str_const("late")),
     "refused once the request went out");
  coap_session_release(s);

  /* Without a name: the numeric address and port. */
  snprintf(want, sizeof(want), "127.0.0.1:%u", coap_address_get_port(&l4));
  s = coap_new_client_session(ctx, NULL, &l4, COAP_PROTO_WS);
  ok(session_host(ctx, f4, host, sizeof(host)) && strcmp(host, want) == 0,
     "no Host set: %s", want);
  coap_session_release(s);
  if (f6 >= 0) {
    snprintf(want, sizeof(want), "[::1]:%u", coap_address_get_port(&l6));
    s = coap_new_client_session(ctx, NULL, &l6, COAP_PROTO_WS);
    ok(session_host(ctx, f6, host, sizeof(host)) && strcmp(host, want) == 0,
       "no Host set, IPv6: %s", want);
    coap_session_release(s);
  } else {
    ok(1, "# SKIP no IPv6 loopback");
  }

  s = coap_new_client_session(ctx, NULL, &l4, COAP_PROTO_TCP);
  ok(s && !coap_ws_set_host_request(s, coap_make_str_const("localhost")),
     "a TCP session has no Host: refused");
  coap_session_release(s);
  ok(!coap_ws_set_host_request(NULL, coap_make_str_const("localhost")),
     "no session: refused");
  coap_free_context(ctx);
  close(f4);
  if (f6 >= 0)
    close(f6);
}

int
main(void)
{
  test_accept_key();
  test_upgrade();
  test_refusals();
  test_frames();
  test_violations();
  test_host_layer();
  test_host_session();
  return tap_done();
}
