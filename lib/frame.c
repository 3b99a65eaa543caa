/*
 * frame.c -- RFC 8323 section 3.2 message framing for CoAP over TCP and
 * TLS, the length-less variant of section 4.4 for WebSockets, and the
 * reassembly of frames from a byte stream that arrives in arbitrary pieces.
 */
#include <stdlib.h>
#include <string.h>

#include "stream_internal.h"

/* Len values 13, 14 and 15 announce 1, 2 and 4 extension bytes holding the
 * length minus these offsets. */
#define EXT8_BASE 13u
#define EXT16_BASE 269u
#define EXT32_BASE 65805u
/* A reader keeps a large reassembly buffer only while it needs it. */
#define READER_KEEP 4096

size_t
coap_frame_header_size(uint8_t b0)
{
  switch (b0 >> 4) {
  case 13:
    return 3;
  case 14:
    return 4;
  case 15:
    return 6;
  default:
    return 2;
  }
}

int
coap_frame_length(const uint8_t *data, size_t avail, uint64_t *total)
{
  size_t hs;
  uint64_t body;
  unsigned tkl;

  if (!data || avail < 1)
    return 0;
  tkl = data[0] & 0x0f;
  if (tkl > COAP_TOKEN_MAX_LEN)
    return -1;
  hs = coap_frame_header_size(data[0]);
  if (avail < hs)
    return 0;
  switch (data[0] >> 4) {
  case 13:
    body = EXT8_BASE + data[1];
    break;
  case 14:
    body = EXT16_BASE + (((uint64_t)data[1] << 8) | data[2]);
    break;
  case 15:
    body = EXT32_BASE + (((uint64_t)data[1] << 24) | ((uint64_t)data[2] << 16) |
                         ((uint64_t)data[3] << 8) | data[4]);
    break;
  default:
    body = data[0] >> 4;
    break;
  }
  *total = hs + tkl + body;
  return 1;
}

/* ---------------------------------------------------------------- views */

/* Common part of both views: code at data[hs - 1], token at data[hs]. */
static coap_parse_status_t
view_body(coap_pdu_t *pdu, const uint8_t *data, size_t len, size_t hs)
{
  unsigned tkl = data[0] & 0x0f, cls;

  memset(pdu, 0, sizeof(*pdu));
  /* No type and no message ID on a reliable transport; NON keeps the
   * engine from acknowledging anything. */
  pdu->type = COAP_MESSAGE_NON;
  pdu->code = (coap_pdu_code_t)data[hs - 1];
  pdu->hdr_size = (uint8_t)hs;
  pdu->token = (uint8_t *)(uintptr_t)(data + hs);
  if (tkl > COAP_TOKEN_MAX_LEN || len - hs < tkl)
    return COAP_PARSE_REJECT;
  pdu->token_length = (uint8_t)tkl;
  pdu->used_size = len - hs;
  pdu->alloc_size = pdu->used_size;
  pdu->max_size = pdu->used_size;
  cls = data[hs - 1] >> 5;
  if (cls == 1 || cls == 6)
    return COAP_PARSE_REJECT;
  if (data[hs - 1] == COAP_EMPTY_CODE && pdu->used_size != tkl)
    return COAP_PARSE_REJECT;
  return coap_pdu_check_options(pdu) ? COAP_PARSE_OK : COAP_PARSE_REJECT;
}

coap_parse_status_t
coap_pdu_view_tcp(coap_pdu_t *pdu, const uint8_t *data, size_t len)
{
  uint64_t total;

  if (!pdu || !data || coap_frame_length(data, len, &total) != 1 ||
      total != len)
    return COAP_PARSE_DROP;
  return view_body(pdu, data, len, coap_frame_header_size(data[0]));
}

coap_parse_status_t
coap_pdu_view_ws(coap_pdu_t *pdu, const uint8_t *data, size_t len)
{
  /* RFC 8323 4.4: the Len nibble is zero and nothing extends it. */
  if (!pdu || !data || len < 2 || (data[0] >> 4) != 0)
    return COAP_PARSE_DROP;
  return view_body(pdu, data, len, 2);
}

/* ---------------------------------------------------------------- encoding */

static int
encodable(const coap_pdu_t *pdu)
{
  if (!pdu || !pdu->buf_base || pdu->token_length > COAP_TOKEN_MAX_LEN ||
      pdu->used_size < pdu->token_length)
    return 0;
  if (pdu->code == COAP_EMPTY_CODE && pdu->used_size != pdu->token_length) {
    coap_log_debug("encode: an empty message cannot carry a body\n");
    return 0;
  }
  return 1;
}

const uint8_t *
coap_pdu_encode_tcp(coap_pdu_t *pdu, size_t *len)
{
  uint64_t body;
  uint8_t ext[4], nib;
  size_t ext_len = 0, hs;
  uint8_t *h;

  if (!len || !encodable(pdu))
    return NULL;
  body = pdu->used_size - pdu->token_length;
  if (body < EXT8_BASE) {
    nib = (uint8_t)body;
  } else if (body < EXT16_BASE) {
    nib = 13;
    ext[0] = (uint8_t)(body - EXT8_BASE);
    ext_len = 1;
  } else if (body < EXT32_BASE) {
    uint64_t v = body - EXT16_BASE;
    nib = 14;
    ext[0] = (uint8_t)(v >> 8);
    ext[1] = (uint8_t)v;
    ext_len = 2;
  } else {
    uint64_t v = body - EXT32_BASE;
    if (v > UINT32_MAX)
      return NULL;
    nib = 15;
    ext[0] = (uint8_t)(v >> 24);
    ext[1] = (uint8_t)(v >> 16);
    ext[2] = (uint8_t)(v >> 8);
    ext[3] = (uint8_t)v;
    ext_len = 4;
  }
  hs = 2 + ext_len;
  h = pdu->token - hs;
  h[0] = (uint8_t)((nib << 4) | pdu->token_length);
  if (ext_len)
    memcpy(h + 1, ext, ext_len);
  h[hs - 1] = (uint8_t)pdu->code;
  pdu->hdr_size = (uint8_t)hs;
  *len = hs + pdu->used_size;
  return h;
}

const uint8_t *
coap_pdu_encode_ws(coap_pdu_t *pdu, size_t *len)
{
  uint8_t *h;

  if (!len || !encodable(pdu))
    return NULL;
  h = pdu->token - 2;
  h[0] = pdu->token_length;
  h[1] = (uint8_t)pdu->code;
  pdu->hdr_size = 2;
  *len = 2 + pdu->used_size;
  return h;
}

/* ---------------------------------------------------------------- reader */

void
coap_frame_reader_init(coap_frame_reader_t *r, size_t limit)
{
  memset(r, 0, sizeof(*r));
  r->limit = limit;
}

void
coap_frame_reader_free(coap_frame_reader_t *r)
{
  free(r->buf);
  r->buf = NULL;
  r->used = r->cap = r->need = 0;
}

int
coap_frame_reader_partial(const coap_frame_reader_t *r)
{
  return r->used > 0;
}

static int
reader_reserve(coap_frame_reader_t *r, size_t n)
{
  uint8_t *p;

  if (n <= r->cap)
    return 1;
  if (n < 64)
    n = 64;
  p = realloc(r->buf, n);
  if (!p)
    return 0;
  r->buf = p;
  r->cap = n;
  return 1;
}

/* A frame was handed out: forget it, and a large buffer with it. */
static void
reader_reset(coap_frame_reader_t *r)
{
  r->used = 0;
  r->need = 0;
  if (r->cap > READER_KEEP) {
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
  }
}

/* Sizes the frame whose first bytes are buffered; copies header bytes from
 * the input as needed.  Returns the bytes taken, and a status. */
static coap_frame_status_t
reader_header(coap_frame_reader_t *r, const uint8_t *data, size_t len,
              size_t *taken, uint64_t *size)
{
  uint8_t b0 = r->used ? r->buf[0] : data[0];
  size_t hs = coap_frame_header_size(b0), take;
  uint64_t total = 0;
  int st;

  *taken = 0;
  if (!reader_reserve(r, COAP_TCP_HEADER_MAX))
    return COAP_FRAME_NOMEM;
  take = hs > r->used ? hs - r->used : 0;
  if (take > len)
    take = len;
  memcpy(r->buf + r->used, data, take);
  r->used += take;
  *taken = take;
  st = coap_frame_length(r->buf, r->used, &total);
  if (st < 0)
    return COAP_FRAME_BAD;
  if (st == 0)
    return COAP_FRAME_OK;
  if (total > r->limit) {
    *size = total;
    return COAP_FRAME_TOO_BIG;
  }
  if (!reader_reserve(r, (size_t)total))
    return COAP_FRAME_NOMEM;
  r->need = (size_t)total;
  return COAP_FRAME_OK;
}

coap_frame_status_t
coap_frame_feed(coap_frame_reader_t *r, const uint8_t *data, size_t len,
                coap_frame_cb_t cb, void *arg, uint64_t *size)
{
  uint64_t dummy;

  if (!size)
    size = &dummy;
  while (len > 0) {
    size_t take;
    coap_frame_status_t st;

    if (r->used == 0) {
      /* Frames wholly inside the input need no copy. */
      uint64_t total;
      int h = coap_frame_length(data, len, &total);
      if (h < 0)
        return COAP_FRAME_BAD;
      if (h > 0 && total > r->limit) {
        *size = total;
        return COAP_FRAME_TOO_BIG;
      }
      if (h > 0 && total <= len) {
        if (cb(arg, data, (size_t)total))
          return COAP_FRAME_STOP;
        data += total;
        len -= (size_t)total;
        continue;
      }
    }
    if (r->need == 0) {
      st = reader_header(r, data, len, &take, size);
      if (st != COAP_FRAME_OK)
        return st;
      data += take;
      len -= take;
      if (r->need == 0 || r->used < r->need)
        continue;
    }
    take = r->need - r->used;
    if (take > len)
      take = len;
    memcpy(r->buf + r->used, data, take);
    r->used += take;
    data += take;
    len -= take;
    if (r->used == r->need) {
      int stop = cb(arg, r->buf, r->need);
      reader_reset(r);
      if (stop)
        return COAP_FRAME_STOP;
    }
  }
  return COAP_FRAME_OK;
}
