/*
 * ws.c -- WebSockets (RFC 6455) as CoAP over WebSockets uses them
 * (RFC 8323 section 4): the HTTP/1.1 upgrade on /.well-known/coap with the
 * "coap" subprotocol, binary messages each carrying one CoAP frame,
 * masking from the client, and the Close, Ping and Pong control frames.
 *
 * This file knows nothing about sockets: it turns received bytes into
 * events and appends the replies the protocol owes to a caller's buffer.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "sha1.h"
#include "stream_internal.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_PATH "/.well-known/coap"
#define WS_HTTP_MAX 4096      /* the upgrade request or response */
#define WS_CTL_MAX 125        /* RFC 6455 5.5 */

struct coap_ws_t {
  uint8_t is_client;
  uint8_t open;
  uint8_t requested;        /* client: the upgrade request was written */
  uint8_t delivered;        /* msg was handed out: reset on the next input */
  /* opening handshake */
  char key[32];             /* client: the Sec-WebSocket-Key it sent */
  char host[256];
  char http[WS_HTTP_MAX + 1];
  size_t http_len;
  /* the frame being read */
  uint8_t hdr[14];
  size_t hdr_len;
  uint64_t payload_len;
  uint64_t payload_got;
  uint8_t opcode;
  uint8_t fin;
  uint8_t masked;
  uint8_t mkey[4];
  /* the data message being assembled and the control payload */
  uint8_t msg_op;           /* opcode of the message's first frame, 0: none */
  uint8_t *msg;
  size_t msg_len, msg_cap;
  uint8_t ctl[WS_CTL_MAX];
  size_t ctl_len;
  size_t limit;
};

static void
random_fill(uint8_t *p, size_t n)
{
  if (getrandom(p, n, GRND_NONBLOCK) == (ssize_t)n)
    return;
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(coap_ticks_ms() * 2654435761u >> (i % 24));
}

coap_ws_t *
coap_ws_new(int is_client, const char *host, size_t limit)
{
  coap_ws_t *ws = calloc(1, sizeof(*ws));
  uint8_t raw[16];

  if (!ws)
    return NULL;
  ws->is_client = is_client ? 1 : 0;
  ws->limit = limit;
  snprintf(ws->host, sizeof(ws->host), "%s", host ? host : "localhost");
  if (is_client) {
    random_fill(raw, sizeof(raw));
    coap_base64_encode(raw, sizeof(raw), ws->key);
  }
  return ws;
}

void
coap_ws_free(coap_ws_t *ws)
{
  if (!ws)
    return;
  free(ws->msg);
  free(ws);
}

int
coap_ws_is_open(const coap_ws_t *ws)
{
  return ws && ws->open;
}

int
coap_ws_partial(const coap_ws_t *ws)
{
  if (!ws)
    return 0;
  if (!ws->open)
    return ws->http_len > 0;
  return ws->hdr_len > 0 || ws->msg_op != 0;
}

int
coap_ws_accept_key(const char *key, char out[29])
{
  char buf[64 + sizeof(WS_GUID)];
  uint8_t md[COAP_SHA1_LEN];
  size_t klen = key ? strlen(key) : 0;

  if (!key || klen == 0 || klen > 64)
    return 0;
  memcpy(buf, key, klen);
  memcpy(buf + klen, WS_GUID, sizeof(WS_GUID) - 1);
  /* SHA-1 of RFC 6455 4.2.2: a handshake check, not a security function. */
  coap_sha1(buf, klen + sizeof(WS_GUID) - 1, md);
  coap_base64_encode(md, sizeof(md), out);
  return 1;
}

int
coap_ws_set_host(coap_ws_t *ws, const uint8_t *host, size_t len)
{
  if (!ws || !ws->is_client || ws->requested || !host || len == 0 ||
      len >= sizeof(ws->host))
    return 0;
  /* It goes into the request line by line: no controls, spaces or
   * non-ASCII (a CR LF would inject headers). */
  for (size_t i = 0; i < len; i++)
    if (host[i] <= 0x20 || host[i] >= 0x7f)
      return 0;
  memcpy(ws->host, host, len);
  ws->host[len] = '\0';
  return 1;
}

size_t
coap_ws_client_request(coap_ws_t *ws, uint8_t *out, size_t cap)
{
  int n;

  if (!ws || !ws->is_client)
    return 0;
  ws->requested = 1;
  n = snprintf((char *)out, cap,
               "GET " WS_PATH " HTTP/1.1\r\n"
               "Host: %s\r\n"
               "Upgrade: websocket\r\n"
               "Connection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Protocol: coap\r\n"
               "Sec-WebSocket-Version: 13\r\n"
               "\r\n",
               ws->host, ws->key);
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---------------------------------------------------------------- HTTP */

static coap_ws_event_t
violation(const char *why)
{
  coap_log_debug("WebSocket: %s", why);
  return COAP_WS_ERROR;
}


/* The value of header name in the block, trimmed, into val; 1 if found. */
static int
http_header(const char *block, const char *name, char *val, size_t cap)
{
  size_t nlen = strlen(name);
  const char *p = strstr(block, "\r\n");

  while (p && p[2] != '\r' && p[2] != '\0') {
    const char *line = p + 2, *end = strstr(line, "\r\n");
    if (!end)
      return 0;
    if ((size_t)(end - line) > nlen && line[nlen] == ':' &&
        strncasecmp(line, name, nlen) == 0) {
      const char *v = line + nlen + 1;
      size_t n;
      while (v < end && (*v == ' ' || *v == '\t'))
        v++;
      n = (size_t)(end - v);
      while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
      if (n >= cap)
        return 0;
      memcpy(val, v, n);
      val[n] = '\0';
      return 1;
    }
    p = end;
  }
  return 0;
}

/* 1 when the comma-separated list holds token (case-insensitive). */
static int
list_has(const char *list, const char *token)
{
  size_t tlen = strlen(token);
  const char *p = list;

  while (*p) {
    const char *end;
    size_t n;
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    end = p;
    while (*end && *end != ',')
      end++;
    n = (size_t)(end - p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
      n--;
    if (n == tlen && strncasecmp(p, token, n) == 0)
      return 1;
    p = end;
  }
  return 0;
}

static size_t
append(uint8_t *reply, size_t *reply_len, size_t cap, const char *text)
{
  size_t n = strlen(text);

  if (*reply_len + n > cap)
    return 0;
  memcpy(reply + *reply_len, text, n);
  *reply_len += n;
  return n;
}

static coap_ws_event_t
server_refuse(uint8_t *reply, size_t *reply_len, size_t cap, const char *status,
              const char *why)
{
  char text[256];

  coap_log_debug("WebSocket upgrade refused: %s", why);
  snprintf(text, sizeof(text),
           "HTTP/1.1 %s\r\nConnection: close\r\nSec-WebSocket-Version: 13\r\n"
           "Content-Length: 0\r\n\r\n",
           status);
  append(reply, reply_len, cap, text);
  return COAP_WS_CLOSE;
}

/* The Host the client named (for debugging virtual-host set-ups); the
 * peer's bytes are logged only when they are printable ASCII. */
static void
log_host(const coap_ws_t *ws)
{
  char v[256];

  if (!http_header(ws->http, "Host", v, sizeof(v))) {
    coap_log_debug("WebSocket upgrade without a Host header");
    return;
  }
  for (const char *p = v; *p; p++)
    if (*p < 0x20 || *p > 0x7e) {
      coap_log_debug("WebSocket upgrade: Host is not printable");
      return;
    }
  coap_log_debug("WebSocket upgrade for Host: %s", v);
}

static coap_ws_event_t
server_handshake(coap_ws_t *ws, uint8_t *reply, size_t *reply_len, size_t cap)
{
  char v[256], accept[29], text[512];
  const char *line_end = strstr(ws->http, "\r\n");
  size_t reqlen = line_end ? (size_t)(line_end - ws->http) : 0;
  static const char want[] = "GET " WS_PATH " HTTP/1.1";

  if (reqlen < 4 || strncmp(ws->http, "GET ", 4) != 0)
    return server_refuse(reply, reply_len, cap, "405 Method Not Allowed",
                         "not a GET");
  if (reqlen != sizeof(want) - 1 || strncmp(ws->http, want, reqlen) != 0)
    return server_refuse(reply, reply_len, cap, "404 Not Found",
                         "not GET " WS_PATH " HTTP/1.1");
  if (!http_header(ws->http, "Upgrade", v, sizeof(v)) ||
      !list_has(v, "websocket") ||
      !http_header(ws->http, "Connection", v, sizeof(v)) ||
      !list_has(v, "upgrade"))
    return server_refuse(reply, reply_len, cap, "400 Bad Request",
                         "no Upgrade: websocket");
  if (!http_header(ws->http, "Sec-WebSocket-Version", v, sizeof(v)) ||
      strcmp(v, "13") != 0)
    return server_refuse(reply, reply_len, cap, "426 Upgrade Required",
                         "WebSocket version is not 13");
  if (!http_header(ws->http, "Sec-WebSocket-Protocol", v, sizeof(v)) ||
      !list_has(v, "coap"))
    return server_refuse(reply, reply_len, cap, "400 Bad Request",
                         "subprotocol coap not offered");
  if (!http_header(ws->http, "Sec-WebSocket-Key", v, sizeof(v)) ||
      strlen(v) != 24 || !coap_ws_accept_key(v, accept))
    return server_refuse(reply, reply_len, cap, "400 Bad Request",
                         "bad Sec-WebSocket-Key");
  log_host(ws);
  snprintf(text, sizeof(text),
           "HTTP/1.1 101 Switching Protocols\r\n"
           "Upgrade: websocket\r\n"
           "Connection: Upgrade\r\n"
           "Sec-WebSocket-Accept: %s\r\n"
           "Sec-WebSocket-Protocol: coap\r\n"
           "\r\n",
           accept);
  if (!append(reply, reply_len, cap, text))
    return COAP_WS_ERROR;
  ws->open = 1;
  return COAP_WS_OPEN;
}

static coap_ws_event_t
client_handshake(coap_ws_t *ws)
{
  char v[256], accept[29];

  if (strncmp(ws->http, "HTTP/1.1 101", 12) != 0) {
    const char *e = strstr(ws->http, "\r\n");
    coap_log_warn("WebSocket upgrade refused: %.*s",
                  e ? (int)(e - ws->http) : 40, ws->http);
    return COAP_WS_ERROR;
  }
  if (!http_header(ws->http, "Upgrade", v, sizeof(v)) ||
      !list_has(v, "websocket") ||
      !http_header(ws->http, "Sec-WebSocket-Accept", v, sizeof(v)) ||
      !coap_ws_accept_key(ws->key, accept) || strcmp(v, accept) != 0) {
    coap_log_warn("WebSocket upgrade: bad Sec-WebSocket-Accept");
    return COAP_WS_ERROR;
  }
  if (!http_header(ws->http, "Sec-WebSocket-Protocol", v, sizeof(v)) ||
      strcasecmp(v, "coap") != 0) {
    coap_log_warn("WebSocket upgrade: the server did not select coap");
    return COAP_WS_ERROR;
  }
  ws->open = 1;
  return COAP_WS_OPEN;
}

/* Collects the header block up to the blank line; never past it, so the
 * first frame after the upgrade stays in the input. */
static coap_ws_event_t
http_input(coap_ws_t *ws, const uint8_t *in, size_t len, size_t *used,
           uint8_t *reply, size_t *reply_len, size_t cap)
{
  size_t old = ws->http_len, room = WS_HTTP_MAX - old, take = len, from;
  char *end;

  if (take > room)
    take = room;
  memcpy(ws->http + old, in, take);
  ws->http_len += take;
  from = old > 3 ? old - 3 : 0;
  /* The first frame may follow in the same read: only the header block
   * is HTTP. */
  end = memmem(ws->http + from, ws->http_len - from, "\r\n\r\n", 4);
  if (!end) {
    *used = take;
    if (memchr(ws->http + old, '\0', take))
      return violation("a NUL in the HTTP header");
    return ws->http_len >= WS_HTTP_MAX ? violation("HTTP header too long")
                                       : COAP_WS_MORE;
  }
  ws->http_len = (size_t)(end - ws->http) + 4;
  ws->http[ws->http_len] = '\0';
  if (memchr(ws->http, '\0', ws->http_len)) {
    *used = ws->http_len - old;
    return violation("a NUL in the HTTP header");
  }
  *used = ws->http_len - old;
  if (ws->is_client)
    return client_handshake(ws);
  return server_handshake(ws, reply, reply_len, cap);
}

/* ---------------------------------------------------------------- frames */

void
coap_ws_mask(uint8_t *data, size_t len, const uint8_t key[4], size_t offset)
{
  for (size_t i = 0; i < len; i++)
    data[i] ^= key[(offset + i) & 3];
}

size_t
coap_ws_frame_header(coap_ws_t *ws, uint8_t opcode, uint64_t len,
                     uint8_t hdr[14], uint8_t key[4])
{
  size_t n = 2;

  hdr[0] = (uint8_t)(0x80 | (opcode & 0x0f));
  if (len < 126) {
    hdr[1] = (uint8_t)len;
  } else if (len <= 0xffff) {
    hdr[1] = 126;
    hdr[2] = (uint8_t)(len >> 8);
    hdr[3] = (uint8_t)len;
    n = 4;
  } else {
    hdr[1] = 127;
    for (int i = 0; i < 8; i++)
      hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    n = 10;
  }
  if (!ws->is_client)
    return n;
  hdr[1] |= 0x80;
  random_fill(key, 4);
  memcpy(hdr + n, key, 4);
  return n + 4;
}

/* Appends a whole frame (header and masked payload) to reply. */
static int
reply_frame(coap_ws_t *ws, uint8_t op, const uint8_t *payload, size_t plen,
            uint8_t *reply, size_t *reply_len, size_t cap)
{
  uint8_t hdr[14], key[4];
  size_t hl = coap_ws_frame_header(ws, op, plen, hdr, key);

  if (*reply_len + hl + plen > cap)
    return 0;
  memcpy(reply + *reply_len, hdr, hl);
  memcpy(reply + *reply_len + hl, payload, plen);
  if (ws->is_client)
    coap_ws_mask(reply + *reply_len + hl, plen, key, 0);
  *reply_len += hl + plen;
  return 1;
}

/* Bytes the header needs given what is buffered: 2, then 2 + extended
 * length + mask key. */
static size_t
header_need(const coap_ws_t *ws)
{
  size_t n = 2;

  if (ws->hdr_len < 2)
    return 2;
  if ((ws->hdr[1] & 0x7f) == 126)
    n += 2;
  else if ((ws->hdr[1] & 0x7f) == 127)
    n += 8;
  if (ws->hdr[1] & 0x80)
    n += 4;
  return n;
}

/* Checks a complete header (RFC 6455 5.2 and 5.5) and readies the payload. */
static coap_ws_event_t
header_done(coap_ws_t *ws)
{
  uint8_t op = ws->hdr[0] & 0x0f, l7 = ws->hdr[1] & 0x7f;
  size_t at = 2;
  uint64_t len = l7;

  ws->fin = (ws->hdr[0] & 0x80) != 0;
  ws->masked = (ws->hdr[1] & 0x80) != 0;
  if (ws->hdr[0] & 0x70)
    return violation("reserved bits set (no extension was negotiated)");
  if (ws->masked == ws->is_client)
    return violation(ws->is_client ? "a masked frame from the server"
                                   : "an unmasked frame from the client");
  if (l7 == 126) {
    len = ((uint64_t)ws->hdr[2] << 8) | ws->hdr[3];
    at = 4;
  } else if (l7 == 127) {
    len = 0;
    for (int i = 0; i < 8; i++)
      len = (len << 8) | ws->hdr[2 + i];
    at = 10;
  }
  if (ws->masked)
    memcpy(ws->mkey, ws->hdr + at, 4);
  if (op >= 0x8) {
    if (!ws->fin || len > WS_CTL_MAX ||
        (op != COAP_WS_OP_CLOSE && op != COAP_WS_OP_PING &&
         op != COAP_WS_OP_PONG))
      return violation("a bad control frame");
    ws->ctl_len = 0;
  } else if (op == COAP_WS_OP_CONT) {
    if (!ws->msg_op)
      return violation("a continuation without a message");
  } else if (op == COAP_WS_OP_BINARY) {
    if (ws->msg_op)
      return violation("a new message inside a fragmented one");
    ws->msg_op = op;
    ws->msg_len = 0;
  } else {
    return violation("a text or reserved frame (RFC 8323 uses binary)");
  }
  if (op < 0x8 && len > ws->limit - ws->msg_len)
    return COAP_WS_TOO_BIG;
  ws->opcode = op;
  ws->payload_len = len;
  ws->payload_got = 0;
  return COAP_WS_MORE;
}

static int
msg_reserve(coap_ws_t *ws, size_t n)
{
  uint8_t *p;

  if (n <= ws->msg_cap)
    return 1;
  p = realloc(ws->msg, n < 256 ? 256 : n);
  if (!p)
    return 0;
  ws->msg = p;
  ws->msg_cap = n < 256 ? 256 : n;
  return 1;
}

/* The payload is complete: act on the frame. */
static coap_ws_event_t
frame_done(coap_ws_t *ws, const uint8_t **msg, size_t *msg_len,
           uint8_t *reply, size_t *reply_len, size_t cap)
{
  ws->hdr_len = 0;
  switch (ws->opcode) {
  case COAP_WS_OP_PING:
    reply_frame(ws, COAP_WS_OP_PONG, ws->ctl, ws->ctl_len, reply, reply_len,
                cap);
    return COAP_WS_MORE;
  case COAP_WS_OP_PONG:
    return COAP_WS_MORE;
  case COAP_WS_OP_CLOSE:
    /* Echo the status code (RFC 6455 5.5.1), then the caller closes. */
    reply_frame(ws, COAP_WS_OP_CLOSE, ws->ctl, ws->ctl_len >= 2 ? 2 : 0,
                reply, reply_len, cap);
    return COAP_WS_CLOSE;
  default:
    break;
  }
  if (!ws->fin)
    return COAP_WS_MORE;
  ws->msg_op = 0;
  ws->delivered = 1;
  *msg = ws->msg;
  *msg_len = ws->msg_len;
  return COAP_WS_MESSAGE;
}

static coap_ws_event_t
frame_input(coap_ws_t *ws, const uint8_t *in, size_t len, size_t *used,
            const uint8_t **msg, size_t *msg_len, uint8_t *reply,
            size_t *reply_len, size_t cap)
{
  size_t need = header_need(ws), take;
  uint8_t *dst;

  *used = 0;
  if (ws->hdr_len < need) {
    /* Header bytes one piece at a time: the length byte tells how many. */
    take = need - ws->hdr_len;
    if (take > len)
      take = len;
    memcpy(ws->hdr + ws->hdr_len, in, take);
    ws->hdr_len += take;
    *used = take;
    if (ws->hdr_len < header_need(ws))
      return COAP_WS_MORE;
    {
      coap_ws_event_t ev = header_done(ws);
      if (ev != COAP_WS_MORE)
        return ev;
    }
    if (ws->payload_len > 0)
      return COAP_WS_MORE;
    return frame_done(ws, msg, msg_len, reply, reply_len, cap);
  }
  take = ws->payload_len - ws->payload_got < len
             ? (size_t)(ws->payload_len - ws->payload_got)
             : len;
  if (ws->opcode >= 0x8) {
    dst = ws->ctl + ws->ctl_len;
    ws->ctl_len += take;
  } else {
    if (!msg_reserve(ws, ws->msg_len + take))
      return COAP_WS_ERROR;
    dst = ws->msg + ws->msg_len;
    ws->msg_len += take;
  }
  memcpy(dst, in, take);
  if (ws->masked)
    coap_ws_mask(dst, take, ws->mkey, (size_t)ws->payload_got);
  ws->payload_got += take;
  *used = take;
  if (ws->payload_got < ws->payload_len)
    return COAP_WS_MORE;
  return frame_done(ws, msg, msg_len, reply, reply_len, cap);
}

coap_ws_event_t
coap_ws_input(coap_ws_t *ws, const uint8_t *in, size_t len, size_t *used,
              const uint8_t **msg, size_t *msg_len, uint8_t *reply,
              size_t *reply_len, size_t reply_cap)
{
  *used = 0;
  if (!ws || !in || len == 0)
    return COAP_WS_MORE;
  if (ws->delivered) {
    ws->delivered = 0;
    ws->msg_len = 0;
  }
  if (!ws->open)
    return http_input(ws, in, len, used, reply, reply_len, reply_cap);
  return frame_input(ws, in, len, used, msg, msg_len, reply, reply_len,
                     reply_cap);
}
