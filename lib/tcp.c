/*
 * tcp.c -- CoAP over TCP, TLS and WebSockets (RFC 8323): listening and
 * connecting stream sockets, partial reads and writes with back-pressure,
 * the layering (socket, then TLS, then WebSocket, then frames), the
 * signalling messages (CSM, Ping/Pong, Release, Abort) and the defences of
 * a server against peers that never speak, stall mid-frame or send garbage.
 *
 * Only stream sessions carry a coap_stream_t (s->ext->stream): UDP sessions pay
 * nothing.  Closing happens at the top of an event (I/O or timer), never
 * inside the delivery of a message: a nested path only asks for it
 * (stream_close_soon), so nothing below ever sees a freed session.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "stream_internal.h"
#include "tls_internal.h"

#define STREAM_TIMEOUT_DEFAULT_S 30
#define ACCEPT_PER_WAKEUP 32
#define READS_PER_WAKEUP 8
#define READ_CHUNK 16384
#define OUT_HIGH_WATER (256 * 1024) /* stop reading while this much waits */
#define OUT_MAX (4 * 1024 * 1024)   /* sends fail beyond this backlog */
#define HOLD_MAX (256 * 1024)       /* frames queued before the channel opens */
#define LISTEN_BACKLOG 128
#define WS_REPLY_MAX 512

typedef enum close_kind_t {
  CLOSE_NONE = 0,
  CLOSE_PEER,      /* orderly: the peer closed, released or aborted */
  CLOSE_FAILED,    /* an error: connect failed, reset, protocol violation */
  CLOSE_TIMEOUT,   /* silent or stalled peer */
  CLOSE_LOCAL      /* coap_session_disconnected or a keepalive failure */
} close_kind_t;

typedef struct coap_stream_t {
  coap_session_t *session;
  coap_frame_reader_t rd;     /* TCP/TLS framing */
  coap_ws_t *ws;              /* WS/WSS only */
  uint8_t *out;               /* bytes the socket did not take yet */
  size_t out_len, out_cap;
  uint8_t *hold;              /* frames sent before the channel opened */
  size_t hold_len, hold_cap;
  coap_timer_t timer;         /* COAP_TIMER_STREAM */
  uint64_t opened_ms;         /* when the connection began */
  uint64_t partial_since;     /* when the unfinished input began, or 0 */
  uint32_t peer_mms;
  uint32_t events;            /* registered with epoll */
  uint8_t connected;          /* the TCP connection is up */
  uint8_t channel;            /* CoAP frames may flow (CSM sent) */
  uint8_t csm_rcvd;
  uint8_t closed;             /* socket closed */
  uint8_t pending;            /* close_kind_t asked for, not done yet */
  uint8_t counted;            /* in ctx->stream_conns */
  int err;                    /* errno behind a failure */
} coap_stream_t;

static void channel_open(coap_session_t *s);

/* ---------------------------------------------------------------- context */

static uint32_t
our_mms(const coap_context_t *ctx)
{
  return ctx->csm_max_message_size ? ctx->csm_max_message_size
                                   : COAP_DEFAULT_MAX_PDU_RX_SIZE;
}

static uint64_t
timeout_ms(const coap_context_t *ctx)
{
  return (uint64_t)(ctx->stream_timeout_s ? ctx->stream_timeout_s
                                          : STREAM_TIMEOUT_DEFAULT_S) *
         1000u;
}

void
coap_context_set_csm_max_message_size(coap_context_t *context, uint32_t size)
{
  /* RFC 8323 5.3.1: below the base value a peer could not even talk. */
  if (context)
    context->csm_max_message_size = size && size < 64 ? 64 : size;
}

uint32_t
coap_context_get_csm_max_message_size(const coap_context_t *context)
{
  return context ? our_mms(context) : 0;
}

void
coap_context_set_stream_timeout(coap_context_t *context, unsigned int seconds)
{
  if (context)
    context->stream_timeout_s = seconds;
}

void
coap_context_set_max_connections(coap_context_t *context, unsigned int max)
{
  if (context)
    context->max_connections = max;
}

static int
is_ws(const coap_session_t *s)
{
  return s->proto == COAP_PROTO_WS || s->proto == COAP_PROTO_WSS;
}

static int
is_tls_proto(coap_proto_t proto)
{
  return proto == COAP_PROTO_TLS || proto == COAP_PROTO_WSS;
}

static int
is_tls(const coap_session_t *s)
{
  return is_tls_proto((coap_proto_t)s->proto);
}

/* ---------------------------------------------------------------- state */

/* A client's Host header until coap_ws_set_host_request names the URI's
 * host: the numeric address, with the port unless it is the scheme's
 * default (RFC 6455 4.1; RFC 8323 8.3, 8.4: 80 for coap+ws, 443 for
 * coaps+ws).  A Unix-domain peer has no host: "localhost". */
static void
ws_default_host(const coap_session_t *s, char *host, size_t cap)
{
  coap_address_t ra;
  char a[INET6_ADDRSTRLEN];
  uint16_t port, dflt = is_tls(s) ? 443 : 80;
  const void *bin;
  int v6;

  coap_session_remote(s, &ra);
  v6 = ra.addr.sa.sa_family == AF_INET6;
  if (!v6 && ra.addr.sa.sa_family != AF_INET) {
    snprintf(host, cap, "localhost");
    return;
  }
  bin = v6 ? (const void *)&ra.addr.sin6.sin6_addr
           : (const void *)&ra.addr.sin.sin_addr;
  if (!inet_ntop(ra.addr.sa.sa_family, bin, a, sizeof(a))) {
    snprintf(host, cap, "localhost");
    return;
  }
  port = coap_address_get_port(&ra);
  snprintf(host, cap, v6 ? "[%s]" : "%s", a);
  if (port != dflt)
    snprintf(host + strlen(host), cap - strlen(host), ":%u", port);
}

int
coap_ws_set_host_request(coap_session_t *session, coap_str_const_t *ws_host)
{
  if (!session || !ws_host || !is_ws(session) ||
      session->type != COAP_SESSION_TYPE_CLIENT || !session->ext->stream ||
      !coap_ws_set_host(session->ext->stream->ws, ws_host->s, ws_host->length))
    return 0;
  return 1;
}

static coap_stream_t *
stream_new(coap_session_t *s)
{
  coap_stream_t *st = calloc(1, sizeof(*st));

  if (!st)
    return NULL;
  st->session = s;
  st->peer_mms = COAP_TCP_DEFAULT_MMS;
  st->opened_ms = coap_context_now(s->context);
  coap_frame_reader_init(&st->rd, (size_t)our_mms(s->context) +
                                      COAP_TCP_HEADER_MAX);
  coap_timer_init(&st->timer, COAP_TIMER_STREAM);
  if (is_ws(s)) {
    char host[INET6_ADDRSTRLEN + 16];
    ws_default_host(s, host, sizeof(host));
    st->ws = coap_ws_new(s->type == COAP_SESSION_TYPE_CLIENT, host,
                         our_mms(s->context));
    if (!st->ws) {
      free(st);
      return NULL;
    }
  }
  s->ext->stream = st;
  s->ext->mtu = COAP_TCP_DEFAULT_MMS;
  return st;
}

static int
set_events(coap_session_t *s, uint32_t want)
{
  coap_stream_t *st = s->ext->stream;
  struct epoll_event ev = {.events = want, .data.ptr = &s->io};

  if (st->closed || s->io.fd < 0 || st->events == want)
    return 1;
  if (epoll_ctl(s->context->epfd, EPOLL_CTL_MOD, s->io.fd, &ev) < 0) {
    coap_log_warn("epoll_ctl: %s", strerror(errno));
    return 0;
  }
  st->events = want;
  return 1;
}

/* Reading stops while the peer does not take our replies (back-pressure);
 * writing is watched while bytes wait or the connect is under way. */
static void
update_events(coap_session_t *s)
{
  coap_stream_t *st = s->ext->stream;
  uint32_t want = 0;

  if (st->connected && st->out_len < OUT_HIGH_WATER)
    want |= EPOLLIN;
  if (!st->connected || st->out_len)
    want |= EPOLLOUT;
  set_events(s, want);
}

static int
partial_input(const coap_stream_t *st)
{
  return coap_frame_reader_partial(&st->rd) ||
         (st->ws && coap_ws_partial(st->ws));
}

/* One timer: now for a requested close; else the deadline of the CSM (a
 * peer that never speaks) or of the frame under way (a peer that stalls). */
static void
stream_rearm(coap_session_t *s)
{
  coap_stream_t *st = s->ext->stream;
  coap_context_t *ctx = s->context;
  uint64_t now = coap_context_now(ctx), deadline = 0;

  if (st->closed && !st->pending) {
    coap_timer_cancel(ctx, &st->timer);
    return;
  }
  if (partial_input(st)) {
    if (!st->partial_since)
      st->partial_since = now;
  } else {
    st->partial_since = 0;
  }
  if (st->pending)
    deadline = now;
  else if (!st->csm_rcvd)
    deadline = st->opened_ms + timeout_ms(ctx);
  if (st->partial_since &&
      (!deadline || st->partial_since + timeout_ms(ctx) < deadline))
    deadline = st->partial_since + timeout_ms(ctx);
  if (deadline)
    coap_timer_arm(ctx, &st->timer, deadline);
  else
    coap_timer_cancel(ctx, &st->timer);
}

static void
stream_close_soon(coap_session_t *s, close_kind_t kind, int err)
{
  coap_stream_t *st = s->ext->stream;

  if (!st || st->pending)
    return;
  st->pending = (uint8_t)kind;
  st->err = err;
  coap_timer_arm(s->context, &st->timer, coap_context_now(s->context));
}

/* Closes the socket; the state stays until the session goes. */
static void
stream_shut(coap_session_t *s)
{
  coap_stream_t *st = s->ext->stream;
  coap_context_t *ctx = s->context;

  if (st->closed)
    return;
  st->closed = 1;
  if (s->ext->tls)
    coap_tls_close(s); /* close_notify, into out */
  if (st->out_len && st->connected && s->io.fd >= 0) {
    /* Best effort: an Abort or close_notify still goes if it fits. */
    ssize_t r = send(s->io.fd, st->out, st->out_len, MSG_NOSIGNAL);
    (void)r;
  }
  if (s->io.fd >= 0) {
    coap_loop_del(ctx, &s->io);
    close(s->io.fd);
    s->io.fd = -1;
  }
  if (st->counted && ctx->stream_conns > 0)
    ctx->stream_conns--;
  st->counted = 0;
  coap_frame_reader_free(&st->rd);
  free(st->out);
  free(st->hold);
  st->out = st->hold = NULL;
  st->out_len = st->out_cap = st->hold_len = st->hold_cap = 0;
  coap_timer_cancel(ctx, &st->timer);
}

/* The end of a connection, at the top of an event only: the socket
 * closes, waiting requests fail, the application hears of it, and a
 * server session nobody references goes. */
static void
stream_end(coap_session_t *s, close_kind_t kind)
{
  coap_stream_t *st = s->ext->stream;
  int was_up = s->state != COAP_SESSION_STATE_NONE;
  int established = st->csm_rcvd;

  stream_shut(s);
  st->pending = CLOSE_NONE;
  if (kind == CLOSE_FAILED && st->err)
    coap_log_debug("%s: %s", coap_session_str(s), strerror(st->err));
  coap_queue_drop_all(s, is_tls(s) && !established ? COAP_NACK_TLS_FAILED
                                                   : COAP_NACK_NOT_DELIVERABLE,
                      1);
  if (s->dead)
    return;
  coap_session_event(s, st->connected && kind != CLOSE_FAILED
                            ? COAP_EVENT_TCP_CLOSED
                            : COAP_EVENT_TCP_FAILED);
  if (was_up && !s->dead) {
    coap_session_set_state(s, COAP_SESSION_STATE_NONE);
    coap_session_event(s, established && kind != CLOSE_FAILED &&
                                  kind != CLOSE_TIMEOUT
                              ? COAP_EVENT_SESSION_CLOSED
                              : COAP_EVENT_SESSION_FAILED);
  }
  if (!s->dead && s->type == COAP_SESSION_TYPE_SERVER && s->refcount == 0)
    coap_session_free(s);
}

void
coap_stream_free(coap_session_t *s)
{
  coap_stream_t *st = s ? s->ext->stream : NULL;

  if (!st)
    return;
  stream_shut(s);
  if (s->ext->tls)
    coap_tls_detach(s);
  coap_ws_free(st->ws);
  free(st);
  s->ext->stream = NULL;
}

/* ---------------------------------------------------------------- output */

static int
buf_append(uint8_t **buf, size_t *len, size_t *cap, size_t max,
           const uint8_t *data, size_t n)
{
  size_t want;
  uint8_t *p;

  if (n > max - *len)
    return 0;
  if (*len + n > *cap) {
    want = *cap ? *cap * 2 : 1024;
    while (want < *len + n)
      want *= 2;
    p = realloc(*buf, want);
    if (!p)
      return 0;
    *buf = p;
    *cap = want;
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  return 1;
}

/* Bytes to the socket: what it does not take now waits in out, and
 * EPOLLOUT brings the rest later.  Returns len, or -1 (connection dead or
 * backlog full); a failure closes the connection soon. */
static ssize_t
raw_send(coap_session_t *s, const uint8_t *data, size_t len)
{
  coap_stream_t *st = s->ext->stream;
  size_t done = 0;

  if (!st || st->closed || st->pending)
    return -1;
  if (st->connected && st->out_len == 0) {
    ssize_t r = send(s->io.fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      stream_close_soon(s, CLOSE_FAILED, errno);
      return -1;
    }
    done = r > 0 ? (size_t)r : 0;
  }
  if (done < len &&
      !buf_append(&st->out, &st->out_len, &st->out_cap, OUT_MAX, data + done,
                  len - done)) {
    coap_log_warn("%s: the peer does not read: closing", coap_session_str(s));
    stream_close_soon(s, CLOSE_FAILED, ENOBUFS);
    return -1;
  }
  update_events(s);
  return (ssize_t)len;
}

static void
flush_out(coap_session_t *s)
{
  coap_stream_t *st = s->ext->stream;
  ssize_t r;

  if (!st->out_len || st->closed)
    return;
  r = send(s->io.fd, st->out, st->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (r < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      stream_close_soon(s, CLOSE_FAILED, errno);
    return;
  }
  memmove(st->out, st->out + r, st->out_len - (size_t)r);
  st->out_len -= (size_t)r;
  update_events(s);
}

/* Bytes over the link: encrypted when TLS is on. */
static int
link_send(coap_session_t *s, const uint8_t *data, size_t len)
{
  if (is_tls(s)) {
    if (!s->ext->tls || coap_tls_send(s, data, len) < 0) {
      stream_close_soon(s, CLOSE_FAILED, EPROTO);
      return 0;
    }
    return 1;
  }
  return raw_send(s, data, len) >= 0;
}

/* A CoAP frame inside a binary WebSocket message; a client masks it, in
 * pieces so that the PDU itself (still needed to match the response) is
 * left alone. */
static int
ws_send(coap_session_t *s, const uint8_t *frame, size_t len)
{
  uint8_t hdr[14], key[4], chunk[1024];
  size_t hl = coap_ws_frame_header(s->ext->stream->ws, COAP_WS_OP_BINARY, len, hdr,
                                   key);
  int masked = s->type == COAP_SESSION_TYPE_CLIENT;

  if (!link_send(s, hdr, hl))
    return 0;
  if (!masked)
    return link_send(s, frame, len);
  for (size_t off = 0; off < len; off += sizeof(chunk)) {
    size_t n = len - off < sizeof(chunk) ? len - off : sizeof(chunk);
    memcpy(chunk, frame + off, n);
    coap_ws_mask(chunk, n, key, off);
    if (!link_send(s, chunk, n))
      return 0;
  }
  return 1;
}

/* A whole encoded frame: held until the channel is open (the CSM must be
 * the first message), then wrapped as the protocol needs. */
static int
frame_send(coap_session_t *s, const uint8_t *frame, size_t len)
{
  coap_stream_t *st = s->ext->stream;

  if (!st->channel) {
    uint8_t pfx[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16),
                      (uint8_t)(len >> 8), (uint8_t)len};
    if (st->ws && !buf_append(&st->hold, &st->hold_len, &st->hold_cap,
                              HOLD_MAX, pfx, sizeof(pfx)))
      return 0;
    return buf_append(&st->hold, &st->hold_len, &st->hold_cap, HOLD_MAX,
                      frame, len);
  }
  if (st->ws)
    return ws_send(s, frame, len);
  return link_send(s, frame, len);
}

static int
pdu_send(coap_session_t *s, coap_pdu_t *pdu)
{
  size_t len;
  const uint8_t *data = s->ext->stream->ws ? coap_pdu_encode_ws(pdu, &len)
                                      : coap_pdu_encode_tcp(pdu, &len);

  if (!data) {
    coap_log_warn("%s: cannot encode the message", coap_session_str(s));
    return 0;
  }
  if (len > (size_t)s->ext->stream->peer_mms + COAP_TCP_HEADER_MAX) {
    coap_log_warn("%s: a %zu-byte message exceeds the peer's "
                  "Max-Message-Size %u",
                  coap_session_str(s), len, (unsigned)s->ext->stream->peer_mms);
    return 0;
  }
  if (!frame_send(s, data, len))
    return 0;
  s->sent++;
  coap_session_touch(s);
  return 1;
}

int
coap_stream_send_pdu(coap_session_t *s, coap_pdu_t *pdu)
{
  coap_stream_t *st = s ? s->ext->stream : NULL;

  if (!st || st->closed || st->pending || !pdu)
    return 0;
  return pdu_send(s, pdu);
}

/* ---------------------------------------------------------------- signalling */

/* A signalling message built on the stack: code, token, options (number
 * and value pairs, ascending) and a diagnostic payload. */
static void
send_signal(coap_session_t *s, coap_pdu_code_t code, const coap_pdu_t *echo,
            coap_option_num_t opt, const uint8_t *val, size_t val_len,
            const char *diag)
{
  uint8_t buf[COAP_PDU_HEADROOM + 256];
  coap_pdu_t pdu;

  coap_pdu_init_static(&pdu, buf, sizeof(buf), COAP_MESSAGE_NON, code, 0);
  if (echo && !coap_add_token(&pdu, echo->token_length, echo->token))
    return;
  if (opt && !coap_add_option(&pdu, opt, val_len, val))
    return;
  if (diag && *diag && !coap_add_data(&pdu, strlen(diag), (const uint8_t *)diag))
    return;
  pdu_send(s, &pdu);
}

static void
send_csm(coap_session_t *s)
{
  uint8_t buf[COAP_PDU_HEADROOM + 32], mms[4];
  coap_pdu_t pdu;
  size_t n = coap_encode_var_safe(mms, sizeof(mms), our_mms(s->context));
  size_t len;
  const uint8_t *data;

  coap_pdu_init_static(&pdu, buf, sizeof(buf), COAP_MESSAGE_NON,
                       COAP_SIGNALING_CODE_CSM, 0);
  coap_add_option(&pdu, COAP_SIGNALING_OPTION_MAX_MESSAGE_SIZE, n, mms);
  /* RFC 8323 5.3.2: block-wise transfers are supported (block.c). */
  coap_add_option(&pdu, COAP_SIGNALING_OPTION_BLOCK_WISE_TRANSFER, 0, NULL);
  data = s->ext->stream->ws ? coap_pdu_encode_ws(&pdu, &len)
                       : coap_pdu_encode_tcp(&pdu, &len);
  if (data && frame_send(s, data, len))
    s->sent++;
}

/* Abort (7.05): the diagnostic goes in the payload; the connection ends. */
static void
stream_abort(coap_session_t *s, coap_option_num_t bad_csm_opt, const char *why)
{
  uint8_t v[2];
  size_t n = coap_encode_var_safe(v, sizeof(v), bad_csm_opt);

  coap_log_info("%s: abort: %s", coap_session_str(s), why);
  if (s->ext->stream->channel)
    send_signal(s, COAP_SIGNALING_CODE_ABORT, NULL,
                bad_csm_opt ? COAP_SIGNALING_OPTION_BAD_CSM_OPTION : 0, v, n,
                why);
  stream_close_soon(s, CLOSE_FAILED, 0);
}

/* The CoAP channel is up (TCP connected, TLS begun, WebSocket open): our
 * CSM goes first, then whatever the application sent meanwhile. */
static void
channel_open(coap_session_t *s)
{
  coap_stream_t *st = s->ext->stream;
  uint8_t *hold = st->hold;
  size_t hold_len = st->hold_len;

  if (st->channel)
    return;
  st->channel = 1;
  send_csm(s);
  st->hold = NULL;
  st->hold_len = st->hold_cap = 0;
  /* Held bytes are whole frames, each re-sent through the wrapping. */
  for (size_t off = 0; off < hold_len;) {
    uint64_t total = 0;
    size_t len;
    if (st->ws) {
      /* WS frames have no length: held ones carry a 4-byte prefix. */
      len = ((size_t)hold[off] << 24) | ((size_t)hold[off + 1] << 16) |
            ((size_t)hold[off + 2] << 8) | hold[off + 3];
      off += 4;
    } else {
      coap_frame_length(hold + off, hold_len - off, &total);
      len = (size_t)total;
    }
    frame_send(s, hold + off, len);
    off += len;
  }
  free(hold);
  if (!st->csm_rcvd && s->state != COAP_SESSION_STATE_HANDSHAKE)
    coap_session_set_state(s, COAP_SESSION_STATE_CSM);
}

static uint32_t
opt_uint(const coap_opt_t *o)
{
  return coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
}

/* RFC 8323 5.3: every CSM updates the peer's settings; the first one
 * establishes the session. */
static void
handle_csm(coap_session_t *s, const coap_pdu_t *pdu)
{
  coap_stream_t *st = s->ext->stream;
  coap_opt_iterator_t oi;
  coap_opt_t *o;

  coap_option_iterator_init(pdu, &oi, NULL);
  while ((o = coap_option_next(&oi)) != NULL) {
    if (oi.number == COAP_SIGNALING_OPTION_MAX_MESSAGE_SIZE) {
      if (coap_opt_length(o) > 4) {
        stream_abort(s, oi.number, "bad Max-Message-Size");
        return;
      }
      st->peer_mms = opt_uint(o);
    } else if (oi.number != COAP_SIGNALING_OPTION_BLOCK_WISE_TRANSFER &&
               coap_option_is_critical(oi.number)) {
      stream_abort(s, oi.number, "unknown critical CSM option");
      return;
    }
  }
  if (oi.bad) {
    stream_abort(s, 0, "malformed CSM");
    return;
  }
  coap_log_debug("%s: CSM: Max-Message-Size %u", coap_session_str(s),
                 (unsigned)st->peer_mms);
  s->ext->mtu = (uint16_t)(st->peer_mms > 65535 ? 65535
                      : st->peer_mms < 64  ? 64
                                           : st->peer_mms);
  if (st->csm_rcvd)
    return;
  st->csm_rcvd = 1;
  coap_session_set_state(s, COAP_SESSION_STATE_ESTABLISHED);
  coap_session_event(s, s->type == COAP_SESSION_TYPE_CLIENT
                            ? COAP_EVENT_SESSION_CONNECTED
                            : COAP_EVENT_SERVER_SESSION_CONNECTED);
}

/* Ping: a Pong with the same token; Custody (RFC 8323 5.4.1) asks that
 * the Pong wait for the messages before it, which in-order processing
 * already gives, so it is echoed. */
static void
handle_ping(coap_session_t *s, const coap_pdu_t *pdu)
{
  coap_opt_iterator_t oi;
  int custody = coap_check_option(pdu, COAP_SIGNALING_OPTION_CUSTODY, &oi) !=
                NULL;

  if (s->context->ping_handler)
    s->context->ping_handler(s, pdu, 0);
  if (s->dead)
    return;
  send_signal(s, COAP_SIGNALING_CODE_PONG, pdu,
              custody ? COAP_SIGNALING_OPTION_CUSTODY : 0, NULL, 0, NULL);
}

static void
log_text(coap_session_t *s, const char *what, const coap_pdu_t *pdu)
{
  size_t len = 0;
  const uint8_t *data = NULL;

  coap_get_data(pdu, &len, &data);
  if (len > 200)
    len = 200;
  coap_log_info("%s: %s%s%.*s", coap_session_str(s), what, len ? ": " : "",
                (int)len, data ? (const char *)data : "");
}

/* Release (7.04): the peer wants the connection closed; an
 * Alternative-Address says where to go instead, Hold-Off how long to
 * stay away.  We do not reconnect by ourselves, so both are reported. */
static void
handle_release(coap_session_t *s, const coap_pdu_t *pdu)
{
  coap_opt_iterator_t oi;
  coap_opt_t *o;

  log_text(s, "release", pdu);
  coap_option_iterator_init(pdu, &oi, NULL);
  while ((o = coap_option_next(&oi)) != NULL) {
    if (oi.number == COAP_SIGNALING_OPTION_ALTERNATIVE_ADDRESS)
      coap_log_info("%s: alternative address %.*s", coap_session_str(s),
                    (int)coap_opt_length(o), (const char *)coap_opt_value(o));
    else if (oi.number == COAP_SIGNALING_OPTION_HOLD_OFF)
      coap_log_info("%s: hold off %u s", coap_session_str(s), opt_uint(o));
  }
  stream_close_soon(s, CLOSE_PEER, 0);
}

static void
handle_signal(coap_session_t *s, const coap_pdu_t *pdu)
{
  switch (pdu->code) {
  case COAP_SIGNALING_CODE_CSM:
    handle_csm(s, pdu);
    break;
  case COAP_SIGNALING_CODE_PING:
    handle_ping(s, pdu);
    break;
  case COAP_SIGNALING_CODE_PONG:
    coap_queue_pong(s, pdu);
    break;
  case COAP_SIGNALING_CODE_RELEASE:
    handle_release(s, pdu);
    break;
  case COAP_SIGNALING_CODE_ABORT:
    log_text(s, "aborted by the peer", pdu);
    stream_close_soon(s, CLOSE_PEER, 0);
    break;
  default:
    /* RFC 8323 5.1: unknown signalling codes are ignored. */
    break;
  }
}

/* ---------------------------------------------------------------- input */

static int
stopped(const coap_session_t *s)
{
  return s->dead || !s->ext->stream || s->ext->stream->pending || s->ext->stream->closed;
}

/* One received frame.  Returns non-zero to stop reading. */
static int
handle_frame(coap_session_t *s, const uint8_t *data, size_t len)
{
  coap_pdu_t pdu;
  coap_parse_status_t ps = s->ext->stream->ws ? coap_pdu_view_ws(&pdu, data, len)
                                         : coap_pdu_view_tcp(&pdu, data, len);

  s->received++;
  coap_session_touch(s);
  if (ps != COAP_PARSE_OK) {
    coap_session_event(s, COAP_EVENT_BAD_PACKET);
    stream_abort(s, 0, "malformed message");
    return 1;
  }
  pdu.session = s;
  if (!s->ext->stream->csm_rcvd && pdu.code != COAP_SIGNALING_CODE_CSM &&
      pdu.code != COAP_EMPTY_CODE) {
    /* RFC 8323 5.3: the CSM is the first message on the connection. */
    stream_abort(s, 0, "the first message was not a CSM");
    return 1;
  }
  if (COAP_RESPONSE_CLASS(pdu.code) == 7)
    handle_signal(s, &pdu);
  else if (pdu.code != COAP_EMPTY_CODE) /* 0.00 is ignored (RFC 8323 3.3) */
    coap_handle_reliable(s, &pdu);
  return stopped(s);
}

static int
frame_cb(void *arg, const uint8_t *frame, size_t len)
{
  return handle_frame(arg, frame, len);
}

static void
ws_input(coap_session_t *s, const uint8_t *data, size_t len)
{
  coap_stream_t *st = s->ext->stream;

  while (len > 0 && !stopped(s)) {
    uint8_t reply[WS_REPLY_MAX];
    size_t used = 0, rlen = 0, mlen = 0;
    const uint8_t *msg = NULL;
    coap_ws_event_t ev = coap_ws_input(st->ws, data, len, &used, &msg, &mlen,
                                       reply, &rlen, sizeof(reply));
    data += used;
    len -= used;
    if (rlen)
      link_send(s, reply, rlen);
    switch (ev) {
    case COAP_WS_OPEN:
      channel_open(s);
      break;
    case COAP_WS_MESSAGE:
      handle_frame(s, msg, mlen);
      break;
    case COAP_WS_CLOSE:
      stream_close_soon(s, CLOSE_PEER, 0);
      return;
    case COAP_WS_TOO_BIG:
      stream_abort(s, 0, "message larger than Max-Message-Size");
      return;
    case COAP_WS_ERROR:
      coap_log_info("%s: WebSocket protocol error", coap_session_str(s));
      stream_close_soon(s, CLOSE_FAILED, EPROTO);
      return;
    default:
      break;
    }
    if (used == 0 && ev == COAP_WS_MORE)
      return; /* no progress possible: wait for more */
  }
}

/* Plain bytes of the CoAP link (after TLS). */
static void
link_input(coap_session_t *s, const uint8_t *data, size_t len)
{
  coap_stream_t *st = s->ext->stream;
  uint64_t size = 0;
  char why[80];

  if (stopped(s))
    return;
  if (st->ws) {
    ws_input(s, data, len);
    return;
  }
  switch (coap_frame_feed(&st->rd, data, len, frame_cb, s, &size)) {
  case COAP_FRAME_BAD:
    coap_session_event(s, COAP_EVENT_BAD_PACKET);
    stream_abort(s, 0, "malformed frame header");
    break;
  case COAP_FRAME_TOO_BIG:
    snprintf(why, sizeof(why), "a %llu-byte message exceeds Max-Message-Size %u",
             (unsigned long long)size, (unsigned)our_mms(s->context));
    stream_abort(s, 0, why);
    break;
  case COAP_FRAME_NOMEM:
    stream_close_soon(s, CLOSE_FAILED, ENOMEM);
    break;
  default:
    break;
  }
}

static void
tls_deliver(coap_session_t *s, const uint8_t *data, size_t len)
{
  link_input(s, data, len);
}

static void
tls_input(coap_session_t *s, const uint8_t *data, size_t len)
{
  coap_tls_status_t r = coap_tls_receive(s, data, len);

  if (r == COAP_TLS_CONNECTED && !s->dead && !s->ext->stream->csm_rcvd &&
      s->state == COAP_SESSION_STATE_HANDSHAKE)
    coap_session_set_state(s, COAP_SESSION_STATE_CSM);
  if (r == COAP_TLS_FAILED) {
    const char *why = coap_tls_error(s);
    coap_log_info("%s: TLS failed%s%s", coap_session_str(s), why ? ": " : "",
                  why ? why : "");
    stream_close_soon(s, CLOSE_FAILED, EPROTO);
  } else if (r == COAP_TLS_CLOSED) {
    stream_close_soon(s, CLOSE_PEER, 0);
  }
}

static void
session_read(coap_session_t *s)
{
  uint8_t buf[READ_CHUNK];

  for (int i = 0; i < READS_PER_WAKEUP && !stopped(s); i++) {
    ssize_t n = recv(s->io.fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) {
      stream_close_soon(s, CLOSE_PEER, 0);
      return;
    }
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        stream_close_soon(s, CLOSE_FAILED, errno);
      return;
    }
    if (s->ext->tls)
      tls_input(s, buf, (size_t)n);
    else
      link_input(s, buf, (size_t)n);
    if ((size_t)n < sizeof(buf))
      return;
  }
}

/* ---------------------------------------------------------------- set-up */

/* The transport is connected: start TLS, the WebSocket upgrade, or the
 * CoAP channel itself. */
static int
transport_ready(coap_session_t *s)
{
  coap_stream_t *st = s->ext->stream;
  int client = s->type == COAP_SESSION_TYPE_CLIENT;

  st->connected = 1;
  coap_session_event(s, COAP_EVENT_TCP_CONNECTED);
  if (s->dead)
    return 0;
  update_events(s);
  if (is_tls(s)) {
    if (!coap_tls_attach(s, client, raw_send, tls_deliver)) {
      st->err = EPROTO;
      return 0;
    }
    coap_session_set_state(s, COAP_SESSION_STATE_HANDSHAKE);
  }
  if (st->ws) {
    if (client) {
      uint8_t req[1024];
      size_t n = coap_ws_client_request(st->ws, req, sizeof(req));
      if (!n || !link_send(s, req, n))
        return 0;
    }
    coap_session_set_state(s, COAP_SESSION_STATE_HANDSHAKE);
    return 1;
  }
  /* TLS holds what is sent before its handshake ends (tls_internal.h). */
  channel_open(s);
  return 1;
}

static void
connect_done(coap_session_t *s)
{
  int err = 0;
  socklen_t len = sizeof(err);

  if (getsockopt(s->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  if (err) {
    unsigned char a[INET6_ADDRSTRLEN + 16];
    coap_address_t ra;
    coap_session_remote(s, &ra);
    coap_print_addr(&ra, a, sizeof(a));
    coap_log_warn("connect to %s: %s", a, strerror(err));
    s->ext->stream->err = err;
    stream_end(s, CLOSE_FAILED);
    return;
  }
  if (!transport_ready(s) && !s->dead)
    stream_end(s, CLOSE_FAILED);
}

/* Runs a requested close, or (re)arms the timer. */
static void
stream_settle(coap_session_t *s)
{
  coap_stream_t *st = s->ext->stream;

  if (s->dead || !st)
    return;
  if (st->pending) {
    stream_end(s, (close_kind_t)st->pending);
    return;
  }
  stream_rearm(s);
}

void
coap_tcp_session_event(coap_context_t *ctx, coap_session_t *s,
                       uint32_t events)
{
  coap_stream_t *st = s->ext->stream;

  (void)ctx;
  if (s->dead || st->closed)
    return;
  if (!st->connected) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
      connect_done(s);
    if (!s->dead && s->ext->stream && !s->ext->stream->closed)
      stream_settle(s);
    return;
  }
  if (events & EPOLLOUT)
    flush_out(s);
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !stopped(s))
    session_read(s);
  stream_settle(s);
}

void
coap_stream_timer_fire(coap_context_t *ctx, coap_timer_t *t)
{
  coap_stream_t *st = COAP_CONTAINER_OF(t, coap_stream_t, timer);
  coap_session_t *s = st->session;

  if (s->dead)
    return;
  if (st->pending) {
    stream_end(s, (close_kind_t)st->pending);
    return;
  }
  if (st->closed)
    return;
  if (partial_input(st) && st->partial_since + timeout_ms(ctx) <= ctx->now) {
    coap_log_info("%s: stalled mid-message for %u s: dropped",
                  coap_session_str(s), (unsigned)(timeout_ms(ctx) / 1000));
  } else if (!st->csm_rcvd && st->opened_ms + timeout_ms(ctx) <= ctx->now) {
    coap_log_info("%s: no CSM within %u s: dropped", coap_session_str(s),
                  (unsigned)(timeout_ms(ctx) / 1000));
  } else {
    stream_rearm(s);
    return;
  }
  stream_end(s, CLOSE_TIMEOUT);
}

/* coap_session_disconnected on a stream session: the connection goes too
 * (at the next turn: this may run inside a handler of this session). */
void
coap_stream_disconnected(coap_session_t *s)
{
  if (s && s->ext->stream && !s->ext->stream->closed)
    stream_close_soon(s, CLOSE_LOCAL, 0);
}

static int
stream_socket(int family)
{
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int on = 1;

  if (fd < 0) {
    coap_log_err("socket: %s", strerror(errno));
    return -1;
  }
  if (family != AF_UNIX &&
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0)
    coap_log_debug("TCP_NODELAY: %s", strerror(errno));
  return fd;
}

static void
local_of(int fd, coap_address_t *addr)
{
  coap_address_init(addr);
  addr->size = sizeof(addr->addr);
  if (getsockname(fd, &addr->addr.sa, &addr->size) < 0)
    coap_address_init(addr);
}

int
coap_tcp_endpoint_open(coap_endpoint_t *ep, const coap_address_t *addr)
{
  int family = addr->addr.sa.sa_family, on = 1, fd;
  unsigned char pb[INET6_ADDRSTRLEN + 16];

  if (family != AF_INET && family != AF_INET6) {
    coap_log_err("coap_new_endpoint: %s needs an IP address",
                 coap_proto_name(ep->proto));
    return 0;
  }
  if (is_tls_proto(ep->proto) && !coap_tls_is_supported()) {
    coap_log_err("coap_new_endpoint: TLS is not available");
    return 0;
  }
  fd = stream_socket(family);
  if (fd < 0)
    return 0;
  ep->io.fd = fd;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (family == AF_INET6 &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0)
    coap_log_warn("IPV6_V6ONLY: %s", strerror(errno));
  if (bind(fd, &addr->addr.sa, coap_address_socklen(addr)) < 0 ||
      listen(fd, LISTEN_BACKLOG) < 0) {
    coap_print_addr(addr, pb, sizeof(pb));
    coap_log_err("coap_new_endpoint: %s %s: %s", coap_proto_name(ep->proto),
                 pb, strerror(errno));
    return 0;
  }
  local_of(fd, &ep->bind_addr);
  return coap_loop_add(ep->context, &ep->io);
}

static void
accept_one(coap_endpoint_t *ep, int fd, const coap_address_t *peer)
{
  coap_context_t *ctx = ep->context;
  coap_address_t local;
  coap_session_t *s;

  local_of(fd, &local);
  s = coap_session_find_server(ctx, ep, peer);
  if (s) {
    /* The same address and port again: the old connection is gone. */
    if (s->ext->stream)
      stream_shut(s);
    if (s->refcount == 0)
      coap_session_free(s);
  }
  s = coap_session_get_server(ctx, ep, peer, &local);
  if (!s || s->ext->stream || !stream_new(s)) {
    close(fd);
    if (s && !s->ext->stream && s->refcount == 0)
      coap_session_free(s);
    return;
  }
  s->io.fd = fd;
  s->ext->stream->events = EPOLLIN;
  s->ext->stream->counted = 1;
  ctx->stream_conns++;
  coap_session_set_state(s, COAP_SESSION_STATE_CONNECTING);
  if (!coap_loop_add(ctx, &s->io) || !transport_ready(s)) {
    if (!s->dead)
      stream_end(s, CLOSE_FAILED);
    return;
  }
  stream_settle(s);
}

void
coap_tcp_endpoint_event(coap_context_t *ctx, coap_endpoint_t *ep)
{
  for (int i = 0; i < ACCEPT_PER_WAKEUP; i++) {
    coap_address_t peer;
    int fd;

    coap_address_init(&peer);
    peer.size = sizeof(peer.addr);
    fd = accept4(ep->io.fd, &peer.addr.sa, &peer.size,
                 SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        coap_log_warn("accept: %s", strerror(errno));
      return;
    }
    if (ctx->max_connections && ctx->stream_conns >= ctx->max_connections) {
      coap_log_debug("connection limit (%u) reached: refused",
                     ctx->max_connections);
      close(fd);
      continue;
    }
    if (peer.addr.sa.sa_family != AF_UNIX) {
      int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
    accept_one(ep, fd, &peer);
  }
}

int
coap_tcp_client_open(coap_session_t *s, const coap_address_t *local_if,
                     const coap_address_t *server)
{
  int family = server->addr.sa.sa_family;
  coap_address_t remote;
  coap_address_t *own = coap_session_own_local(s);
  coap_stream_t *st;

  if (!own)
    return 0;
  if (family != AF_INET && family != AF_INET6) {
    coap_log_err("coap_new_client_session: %s needs an IP address",
                 coap_proto_name((coap_proto_t)s->proto));
    return 0;
  }
  coap_address_copy(&remote, server);
  remote.size = coap_address_socklen(server);
  if (coap_address_get_port(server) == 0)
    coap_address_set_port(&remote, is_tls(s) ? COAPS_DEFAULT_PORT
                                             : COAP_DEFAULT_PORT);
  if (!coap_session_set_remote(s, &remote))
    return 0;
  st = stream_new(s);
  if (!st)
    return 0;
  s->io.fd = stream_socket(family);
  if (s->io.fd < 0)
    return 0;
  if (local_if &&
      bind(s->io.fd, &local_if->addr.sa, coap_address_socklen(local_if)) < 0) {
    coap_log_err("coap_new_client_session: bind: %s", strerror(errno));
    return 0;
  }
  if (connect(s->io.fd, &remote.addr.sa, coap_address_socklen(&remote)) <
          0 &&
      errno != EINPROGRESS) {
    coap_log_err("coap_new_client_session: connect: %s", strerror(errno));
    return 0;
  }
  local_of(s->io.fd, own);
  coap_session_set_state(s, COAP_SESSION_STATE_CONNECTING);
  if (!coap_loop_add(s->context, &s->io))
    return 0;
  st->events = EPOLLIN;
  update_events(s);
  stream_rearm(s);
  return 1;
}
