/*
 * pdu.c -- CoAP message encoding and decoding (RFC 7252 sections 3 and 4).
 *
 * Options stay in their wire form inside the PDU buffer: adding one writes
 * its encoding, iterating walks the encoding.  Nothing is decoded into
 * separate structures, so a received datagram can be used in place.
 */
#include <stdlib.h>
#include <string.h>

#include "pdu_internal.h"
#include "stream_internal.h"

/* The largest option value the 14-form length nibble can express. */
#define OPT_MAX_LENGTH (65535u + 269u)
/* Below this a payload length cannot overflow a size_t sum. */
#define DATA_FAST_MAX 65536u
/* The smallest allocation for a growable PDU; grows by doubling. */
#define PDU_INITIAL_ALLOC 256

/* ---------------------------------------------------------------- helpers */

static size_t
pdu_limit(const coap_pdu_t *pdu)
{
  return pdu->max_size ? pdu->max_size : pdu->alloc_size;
}

/* pdu_reserve's slow path: the buffer must grow. */
static COAP_NOINLINE int
pdu_grow(coap_pdu_t *pdu, size_t need)
{
  size_t new_size;
  uint8_t *base;
  ptrdiff_t data_off = -1;

  if (!pdu->buf_base || need > pdu_limit(pdu) || !pdu->owns_buf)
    return 0;
  new_size = pdu->alloc_size * 2;
  if (new_size < need)
    new_size = need;
  if (new_size > pdu_limit(pdu))
    new_size = pdu_limit(pdu);
  if (pdu->data)
    data_off = pdu->data - pdu->token;
  base = realloc(pdu->buf_base, COAP_PDU_HEADROOM + new_size);
  if (!base)
    return 0;
  pdu->buf_base = base;
  pdu->token = base + COAP_PDU_HEADROOM;
  pdu->data = data_off >= 0 ? pdu->token + data_off : NULL;
  pdu->alloc_size = new_size;
  return 1;
}

/* Makes room for need bytes (from token on); only PDUs that own their
 * buffer grow, and never past max_size.  Every add calls it: the common
 * case (room already there) stays inline. */
static inline int
pdu_reserve(coap_pdu_t *pdu, size_t need)
{
  if (pdu->buf_base && need <= pdu->alloc_size &&
      (!pdu->max_size || need <= pdu->max_size))
    return 1;
  return pdu_grow(pdu, need);
}

/* The nibble and extension bytes for a delta or length value. */
static size_t
ext_size(uint32_t v)
{
  return v < 13 ? 0 : v < 269 ? 1 : 2;
}

static uint8_t
ext_nibble(uint32_t v)
{
  return (uint8_t)(v < 13 ? v : v < 269 ? 13 : 14);
}

static uint8_t *
ext_write(uint8_t *p, uint32_t v)
{
  if (v >= 269) {
    v -= 269;
    *p++ = (uint8_t)(v >> 8);
    *p++ = (uint8_t)v;
  } else if (v >= 13) {
    *p++ = (uint8_t)(v - 13);
  }
  return p;
}

static size_t
opt_header_size(uint32_t delta, uint32_t length)
{
  return 1 + ext_size(delta) + ext_size(length);
}

static size_t
opt_header_write(uint8_t *p, uint32_t delta, uint32_t length)
{
  uint8_t *start = p;

  *p++ = (uint8_t)((ext_nibble(delta) << 4) | ext_nibble(length));
  p = ext_write(p, delta);
  p = ext_write(p, length);
  return (size_t)(p - start);
}

/* Reads one extended field for nibble n at *p; -1 when malformed. */
static int32_t
ext_read(uint8_t n, const uint8_t **p, const uint8_t *end)
{
  const uint8_t *q = *p;

  if (n < 13)
    return n;
  if (n == 13) {
    if (end - q < 1)
      return -1;
    *p = q + 1;
    return 13 + q[0];
  }
  if (n == 14) {
    if (end - q < 2)
      return -1;
    *p = q + 2;
    return 269 + ((q[0] << 8) | q[1]);
  }
  return -1;
}

const uint8_t *
coap_opt_parse(const uint8_t *p, const uint8_t *end, uint16_t *delta,
               uint32_t *length, const uint8_t **value)
{
  int32_t d, l;
  uint8_t b;

  if (!p || !end || p >= end)
    return NULL;
  b = *p++;
  d = ext_read(b >> 4, &p, end);
  if (d < 0 || d > 65535)
    return NULL;
  l = ext_read(b & 0x0f, &p, end);
  if (l < 0 || (size_t)(end - p) < (size_t)l)
    return NULL;
  if (delta)
    *delta = (uint16_t)d;
  if (length)
    *length = (uint32_t)l;
  if (value)
    *value = p;
  return p + l;
}

/* Span of the options: from after the token to the marker or the end. */
static const uint8_t *
opts_begin(const coap_pdu_t *pdu)
{
  return pdu->token + pdu->token_length;
}

static const uint8_t *
opts_end(const coap_pdu_t *pdu)
{
  return pdu->data ? pdu->data - 1 : pdu->token + pdu->used_size;
}

/* ---------------------------------------------------------------- life */

static void
pdu_reset(coap_pdu_t *pdu, coap_pdu_type_t type, coap_pdu_code_t code,
          coap_mid_t mid)
{
  pdu->type = type;
  pdu->code = code;
  pdu->mid = mid;
  pdu->token_length = 0;
  pdu->hdr_size = 0;
  pdu->max_opt = 0;
  pdu->used_size = 0;
  pdu->data = NULL;
}

coap_pdu_t *
coap_pdu_init(coap_pdu_type_t type, coap_pdu_code_t code, coap_mid_t mid,
              size_t size)
{
  coap_pdu_t *pdu;
  size_t alloc;

  if (size == 0)
    size = COAP_DEFAULT_MAX_PDU_RX_SIZE;
  alloc = size < PDU_INITIAL_ALLOC ? size : PDU_INITIAL_ALLOC;
  pdu = calloc(1, sizeof(*pdu));
  if (!pdu)
    return NULL;
  pdu->buf_base = malloc(COAP_PDU_HEADROOM + alloc);
  if (!pdu->buf_base) {
    free(pdu);
    return NULL;
  }
  pdu_reset(pdu, type, code, mid);
  pdu->owns_buf = 1;
  pdu->alloc_size = alloc;
  pdu->max_size = size;
  pdu->token = pdu->buf_base + COAP_PDU_HEADROOM;
  return pdu;
}

void
coap_delete_pdu(coap_pdu_t *pdu)
{
  if (!pdu)
    return;
  if (pdu->owns_buf)
    free(pdu->buf_base);
  free(pdu);
}

coap_pdu_t *
coap_new_pdu(coap_pdu_type_t type, coap_pdu_code_t code,
             coap_session_t *session)
{
  coap_pdu_t *pdu;

  if (!session)
    return coap_pdu_init(type, code, 0, COAP_DEFAULT_MTU);
  pdu = coap_pdu_init(type, code, coap_new_message_id(session),
                      coap_session_max_pdu_size(session));
  if (pdu)
    pdu->session = session;
  return pdu;
}

coap_pdu_t *
coap_pdu_duplicate(const coap_pdu_t *old, coap_session_t *session,
                   size_t token_length, const uint8_t *token,
                   const void *drop_options_unused)
{
  coap_pdu_t *pdu;
  const uint8_t *ob, *oe;
  size_t opt_len, size;

  if (!old || token_length > COAP_TOKEN_MAX_LEN || (token_length && !token))
    return NULL;
  ob = opts_begin(old);
  oe = opts_end(old);
  opt_len = (size_t)(oe - ob);
  size = pdu_limit(old);
  if (size < token_length + opt_len)
    size = token_length + opt_len;
  pdu = coap_pdu_init(old->type, old->code,
                      session ? coap_new_message_id(session) : old->mid, size);
  if (!pdu)
    return NULL;
  pdu->session = session ? session : old->session;
  if ((token_length && !coap_add_token(pdu, token_length, token)) ||
      !pdu_reserve(pdu, token_length + opt_len)) {
    coap_delete_pdu(pdu);
    return NULL;
  }
  /* Option deltas do not depend on the token, so the encoding copies. */
  if (opt_len)
    memcpy(pdu->token + token_length, ob, opt_len);
  pdu->used_size = token_length + opt_len;
  pdu->max_opt = old->max_opt;
  return pdu;
}

/* ---------------------------------------------------------------- building */

int
coap_add_token(coap_pdu_t *pdu, size_t len, const uint8_t *data)
{
  if (!pdu || len > COAP_TOKEN_MAX_LEN || (len && !data))
    return 0;
  if (!pdu->used_size && pdu_reserve(pdu, len)) {
    if (len == COAP_TOKEN_MAX_LEN) /* the usual one: no call to memcpy */
      memcpy(pdu->token, data, COAP_TOKEN_MAX_LEN);
    else if (len)
      memcpy(pdu->token, data, len);
    pdu->token_length = (uint8_t)len;
    pdu->used_size = len;
    return 1;
  }
  if (pdu->used_size) {
    coap_log_warn("coap_add_token: the token must come first\n");
    return 0;
  }
  if (!pdu_reserve(pdu, len))
    return 0;
  if (len)
    memcpy(pdu->token, data, len);
  pdu->token_length = (uint8_t)len;
  pdu->used_size = len;
  return 1;
}

static size_t
append_option(coap_pdu_t *pdu, coap_option_num_t number, size_t len,
              const uint8_t *data)
{
  uint32_t delta = (uint32_t)(number - pdu->max_opt);
  size_t total = opt_header_size(delta, (uint32_t)len) + len;
  uint8_t *p;

  if (!pdu_reserve(pdu, pdu->used_size + total))
    return 0;
  p = pdu->token + pdu->used_size;
  p += opt_header_write(p, delta, (uint32_t)len);
  if (len)
    memcpy(p, data, len);
  pdu->used_size += total;
  pdu->max_opt = number;
  return total;
}

/* Inserts before the first option numbered above number, re-encoding that
 * option's delta, which now counts from the new option. */
static size_t
insert_option(coap_pdu_t *pdu, coap_option_num_t number, size_t len,
              const uint8_t *data)
{
  const uint8_t *p = opts_begin(pdu), *end = opts_end(pdu);
  uint32_t prev = 0, next_num = 0, next_len = 0;
  const uint8_t *next = NULL, *next_val = NULL;
  size_t pos, new_total, old_hdr, new_hdr, tail_from, tail_len;
  ptrdiff_t shift;
  uint8_t *w;

  while (p < end) {
    uint16_t d;
    const uint8_t *q = coap_opt_parse(p, end, &d, &next_len, &next_val);
    if (!q)
      return 0;
    if (prev + d > number) {
      next = p;
      next_num = prev + d;
      break;
    }
    prev += d;
    p = q;
  }
  if (!next)
    return 0; /* max_opt disagrees with the encoding */
  pos = (size_t)(next - pdu->token);
  new_total = opt_header_size(number - prev, (uint32_t)len) + len;
  old_hdr = (size_t)(next_val - next);
  new_hdr = opt_header_size(next_num - number, next_len);
  shift = (ptrdiff_t)(new_total + new_hdr) - (ptrdiff_t)old_hdr;
  if (!pdu_reserve(pdu, (size_t)((ptrdiff_t)pdu->used_size + shift)))
    return 0;
  tail_from = pos + old_hdr;
  tail_len = pdu->used_size - tail_from;
  memmove(pdu->token + tail_from + shift, pdu->token + tail_from, tail_len);
  w = pdu->token + pos;
  w += opt_header_write(w, number - prev, (uint32_t)len);
  if (len)
    memcpy(w, data, len);
  w += len;
  opt_header_write(w, next_num - number, next_len);
  pdu->used_size = (size_t)((ptrdiff_t)pdu->used_size + shift);
  return new_total;
}

/* The usual option of a response (small number step, short value, room
 * already there) written in one go: 1 header byte and the value. */
static size_t
append_short_option(coap_pdu_t *pdu, coap_option_num_t number, size_t len,
                    const uint8_t *data)
{
  uint8_t *p = pdu->token + pdu->used_size;

  *p++ = (uint8_t)(((number - pdu->max_opt) << 4) | len);
  for (size_t i = 0; i < len; i++)
    p[i] = data[i];
  pdu->used_size += 1 + len;
  pdu->max_opt = number;
  return 1 + len;
}

static COAP_NOINLINE size_t
add_option_slow(coap_pdu_t *pdu, coap_option_num_t number, size_t len,
                const uint8_t *data)
{
  if (pdu->data) {
    coap_log_warn("coap_add_option: options cannot follow the payload\n");
    return 0;
  }
  if (number >= pdu->max_opt)
    return append_option(pdu, number, len, data);
  return insert_option(pdu, number, len, data);
}

size_t
coap_add_option(coap_pdu_t *pdu, coap_option_num_t number, size_t len,
                const uint8_t *data)
{
  if (!pdu || (len && !data) || len > OPT_MAX_LENGTH)
    return 0;
  if (len < 13 && !pdu->data && number >= pdu->max_opt &&
      number - pdu->max_opt < 13 &&
      pdu_reserve(pdu, pdu->used_size + 1 + len))
    return append_short_option(pdu, number, len, data);
  return add_option_slow(pdu, number, len, data);
}

uint8_t *
coap_add_data_after(coap_pdu_t *pdu, size_t len)
{
  if (!pdu || len == 0 || pdu->data)
    return NULL;
  if (len > SIZE_MAX - pdu->used_size - 1 ||
      !pdu_reserve(pdu, pdu->used_size + 1 + len))
    return NULL;
  pdu->token[pdu->used_size] = COAP_PAYLOAD_START;
  pdu->data = pdu->token + pdu->used_size + 1;
  pdu->used_size += 1 + len;
  return pdu->data;
}

static COAP_NOINLINE int
add_data_slow(coap_pdu_t *pdu, size_t len, const uint8_t *data)
{
  uint8_t *p = coap_add_data_after(pdu, len);

  if (!p)
    return 0;
  memcpy(p, data, len);
  return 1;
}

int
coap_add_data(coap_pdu_t *pdu, size_t len, const uint8_t *data)
{
  uint8_t *p;

  if (!pdu || (len && !data))
    return 0;
  if (len == 0)
    return 1;
  if (!pdu->data && len < DATA_FAST_MAX &&
      pdu_reserve(pdu, pdu->used_size + 1 + len)) {
    /* The common case inline: room is there, no payload yet. */
    p = pdu->token + pdu->used_size;
    *p++ = COAP_PAYLOAD_START;
    pdu->data = p;
    pdu->used_size += 1 + len;
    memcpy(p, data, len);
    return 1;
  }
  return add_data_slow(pdu, len, data);
}

int
coap_get_data(const coap_pdu_t *pdu, size_t *len, const uint8_t **data)
{
  if (len)
    *len = 0;
  if (data)
    *data = NULL;
  if (!pdu || !pdu->data)
    return 0;
  if (len)
    *len = pdu->used_size - (size_t)(pdu->data - pdu->token);
  if (data)
    *data = pdu->data;
  return 1;
}

coap_pdu_code_t
coap_pdu_get_code(const coap_pdu_t *pdu)
{
  return pdu ? pdu->code : COAP_EMPTY_CODE;
}

void
coap_pdu_set_code(coap_pdu_t *pdu, coap_pdu_code_t code)
{
  if (pdu)
    pdu->code = code;
}

coap_pdu_type_t
coap_pdu_get_type(const coap_pdu_t *pdu)
{
  return pdu ? pdu->type : COAP_MESSAGE_CON;
}

void
coap_pdu_set_type(coap_pdu_t *pdu, coap_pdu_type_t type)
{
  if (pdu)
    pdu->type = type;
}

coap_mid_t
coap_pdu_get_mid(const coap_pdu_t *pdu)
{
  return pdu ? pdu->mid : COAP_INVALID_MID;
}

void
coap_pdu_set_mid(coap_pdu_t *pdu, coap_mid_t mid)
{
  if (pdu)
    pdu->mid = mid;
}

coap_bin_const_t
coap_pdu_get_token(const coap_pdu_t *pdu)
{
  coap_bin_const_t t = {0, NULL};

  if (pdu) {
    t.length = pdu->token_length;
    t.s = pdu->token;
  }
  return t;
}

void
coap_pdu_clear_body(coap_pdu_t *pdu)
{
  if (!pdu)
    return;
  pdu->used_size = pdu->token_length;
  pdu->max_opt = 0;
  pdu->data = NULL;
}

/* ---------------------------------------------------------------- parsing */

int
coap_pdu_check_options(coap_pdu_t *pdu)
{
  const uint8_t *p, *end;
  uint32_t number = 0;

  if (!pdu || !pdu->token || pdu->token_length > pdu->used_size)
    return 0;
  p = pdu->token + pdu->token_length;
  end = pdu->token + pdu->used_size;
  pdu->data = NULL;
  pdu->max_opt = 0;
  pdu->opt_mask = 0;
  pdu->opt_mask_valid = 0;
  while (p < end) {
    uint16_t delta;

    if (*p == COAP_PAYLOAD_START) {
      /* RFC 7252 3: a marker with no payload after it is a format error. */
      if (end - p < 2)
        return 0;
      pdu->data = (uint8_t *)(uintptr_t)(p + 1);
      break;
    }
    p = coap_opt_parse(p, end, &delta, NULL, NULL);
    if (!p)
      return 0;
    number += delta;
    if (number > 65535)
      return 0;
    pdu->opt_mask |= COAP_OPT_MASK_BIT(number);
  }
  pdu->max_opt = (coap_option_num_t)number;
  pdu->opt_mask_valid = 1;
  return 1;
}

coap_parse_status_t
coap_pdu_view_udp(coap_pdu_t *pdu, const uint8_t *data, size_t len)
{
  unsigned tkl, cls;

  if (!pdu || !data || len < COAP_UDP_HEADER_SIZE || (data[0] >> 6) != 1)
    return COAP_PARSE_DROP;
  /* A view has no headroom: buf_base stays NULL so it cannot be grown or
   * encoded; token points into the caller's datagram.  (One initialiser
   * rather than memset and stores: this runs for every datagram.) */
  *pdu = (coap_pdu_t){
      .type = (coap_pdu_type_t)((data[0] >> 4) & 3),
      .code = (coap_pdu_code_t)data[1],
      .mid = (data[2] << 8) | data[3],
      .hdr_size = COAP_UDP_HEADER_SIZE,
      .token = (uint8_t *)(uintptr_t)(data + COAP_UDP_HEADER_SIZE),
  };
  tkl = data[0] & 0x0f;
  if (tkl > COAP_TOKEN_MAX_LEN || len - COAP_UDP_HEADER_SIZE < tkl)
    return COAP_PARSE_REJECT;
  pdu->token_length = (uint8_t)tkl;
  pdu->used_size = len - COAP_UDP_HEADER_SIZE;
  pdu->alloc_size = pdu->used_size;
  pdu->max_size = pdu->used_size;
  cls = data[1] >> 5;
  if (cls == 1 || cls == 6 || cls == 7)
    return COAP_PARSE_REJECT;
  if (data[1] == COAP_EMPTY_CODE && len != COAP_UDP_HEADER_SIZE)
    return COAP_PARSE_REJECT;
  return coap_pdu_check_options(pdu) ? COAP_PARSE_OK : COAP_PARSE_REJECT;
}

const uint8_t *
coap_pdu_encode_udp(coap_pdu_t *pdu, size_t *len)
{
  uint8_t *h;

  if (!pdu || !len || !pdu->buf_base || pdu->token_length > COAP_TOKEN_MAX_LEN ||
      (unsigned)pdu->type > 3 || (unsigned)pdu->mid > 0xffff)
    return NULL;
  if (pdu->code == COAP_EMPTY_CODE && pdu->used_size != 0) {
    coap_log_debug("encode: an empty message cannot carry a token or body\n");
    return NULL;
  }
  h = pdu->token - COAP_UDP_HEADER_SIZE;
  h[0] = (uint8_t)(0x40 | (pdu->type << 4) | pdu->token_length);
  h[1] = (uint8_t)pdu->code;
  h[2] = (uint8_t)(pdu->mid >> 8);
  h[3] = (uint8_t)pdu->mid;
  pdu->hdr_size = COAP_UDP_HEADER_SIZE;
  *len = COAP_UDP_HEADER_SIZE + pdu->used_size;
  return h;
}

/* RFC 8323 framing lives in frame.c. */
static coap_parse_status_t
coap_pdu_view_proto(coap_proto_t proto, coap_pdu_t *view, const uint8_t *data,
                    size_t length)
{
  switch (proto) {
  case COAP_PROTO_UDP:
  case COAP_PROTO_DTLS:
    return coap_pdu_view_udp(view, data, length);
  case COAP_PROTO_TCP:
  case COAP_PROTO_TLS:
    return coap_pdu_view_tcp(view, data, length);
  case COAP_PROTO_WS:
  case COAP_PROTO_WSS:
    return coap_pdu_view_ws(view, data, length);
  default:
    return COAP_PARSE_DROP;
  }
}

int
coap_pdu_parse(coap_proto_t proto, const uint8_t *data, size_t length,
               coap_pdu_t *pdu)
{
  coap_pdu_t view;
  ptrdiff_t data_off = -1;

  if (!pdu || !data)
    return 0;
  if (coap_pdu_view_proto(proto, &view, data, length) != COAP_PARSE_OK)
    return 0;
  if (!pdu_reserve(pdu, view.used_size))
    return 0;
  if (view.data)
    data_off = view.data - view.token;
  memcpy(pdu->token, view.token, view.used_size);
  pdu->type = view.type;
  pdu->code = view.code;
  pdu->mid = view.mid;
  pdu->token_length = view.token_length;
  pdu->hdr_size = view.hdr_size;
  pdu->used_size = view.used_size;
  pdu->max_opt = view.max_opt;
  pdu->data = data_off >= 0 ? pdu->token + data_off : NULL;
  return 1;
}

/* ---------------------------------------------------------------- iterating */

void
coap_option_filter_clear(coap_opt_filter_t *filter)
{
  if (filter)
    memset(filter, 0, sizeof(*filter));
}

int
coap_option_filter_set(coap_opt_filter_t *filter, coap_option_num_t number)
{
  size_t i, max = sizeof(filter->numbers) / sizeof(filter->numbers[0]);

  if (!filter)
    return 0;
  for (i = 0; i < filter->mask_count; i++)
    if (filter->numbers[i] == number)
      return 1;
  if (filter->mask_count >= max)
    return 0;
  filter->numbers[filter->mask_count++] = number;
  return 1;
}

static int
filter_has(const coap_opt_filter_t *filter, coap_option_num_t number)
{
  size_t i;

  for (i = 0; i < filter->mask_count; i++)
    if (filter->numbers[i] == number)
      return 1;
  return 0;
}

coap_opt_iterator_t *
coap_option_iterator_init(const coap_pdu_t *pdu, coap_opt_iterator_t *oi,
                          const coap_opt_filter_t *filter)
{
  const uint8_t *begin;

  if (!pdu || !oi || !pdu->token)
    return NULL;
  /* Runs several times per request: only what next() reads is set, and
   * only the used part of the filter is copied. */
  begin = opts_begin(pdu);
  oi->next_option = (coap_opt_t *)(uintptr_t)begin;
  oi->length = (size_t)(opts_end(pdu) - begin);
  oi->number = 0;
  oi->bad = 0;
  oi->filtered = filter != NULL;
  oi->filter.mask_count = 0;
  if (filter) {
    size_t n = filter->mask_count;
    if (n > sizeof(filter->numbers) / sizeof(filter->numbers[0]))
      n = sizeof(filter->numbers) / sizeof(filter->numbers[0]);
    memcpy(oi->filter.numbers, filter->numbers, n * sizeof(filter->numbers[0]));
    oi->filter.mask_count = (uint16_t)n;
  }
  return oi;
}

coap_opt_t *
coap_option_next(coap_opt_iterator_t *oi)
{
  if (!oi)
    return NULL;
  while (!oi->bad && oi->length > 0) {
    coap_opt_t *opt = oi->next_option;
    const uint8_t *q;
    uint16_t delta;

    if (*opt == COAP_PAYLOAD_START) {
      oi->length = 0;
      break;
    }
    q = coap_opt_parse(opt, opt + oi->length, &delta, NULL, NULL);
    if (!q || (uint32_t)oi->number + delta > 65535) {
      oi->bad = 1;
      break;
    }
    oi->number = (coap_option_num_t)(oi->number + delta);
    oi->length -= (size_t)(q - opt);
    oi->next_option = (coap_opt_t *)(uintptr_t)q;
    if (!oi->filtered || filter_has(&oi->filter, oi->number))
      return opt;
    if (oi->filter.mask_count == 1 && oi->number > oi->filter.numbers[0]) {
      /* Numbers only grow: the one number asked for cannot come any more. */
      oi->length = 0;
      break;
    }
  }
  return NULL;
}

coap_opt_t *
coap_check_option(const coap_pdu_t *pdu, coap_option_num_t number,
                  coap_opt_iterator_t *oi)
{
  if (!pdu || !oi || !pdu->token)
    return NULL;
  oi->bad = 0;
  if (coap_pdu_view_lacks(pdu, number)) {
    /* The common answer, from the parse: no walk at all, and an iterator
     * that next() ends at once. */
    oi->length = 0;
    oi->next_option = NULL;
    return NULL;
  }
  oi->number = 0;
  oi->filtered = 1;
  oi->filter.mask_count = 1;
  oi->filter.numbers[0] = number;
  oi->next_option = (coap_opt_t *)(uintptr_t)opts_begin(pdu);
  oi->length = (size_t)(opts_end(pdu) - opts_begin(pdu));
  return oi->length ? coap_option_next(oi) : NULL;
}

/* The option was validated when it was parsed or built, so only its header
 * is read here: at most 5 bytes, all inside the option. */
static const uint8_t *
opt_header(const coap_opt_t *opt, uint32_t *length)
{
  const uint8_t *p = opt + 1;
  uint8_t dn = opt[0] >> 4, ln = opt[0] & 0x0f;
  int32_t l;

  p += ext_size(dn == 13 ? 13 : dn == 14 ? 269 : 0);
  l = ext_read(ln, &p, p + 2);
  *length = l < 0 ? 0 : (uint32_t)l;
  return p;
}

uint32_t
coap_opt_length(const coap_opt_t *opt)
{
  uint32_t len = 0;

  if (!opt || *opt == COAP_PAYLOAD_START)
    return 0;
  opt_header(opt, &len);
  return len;
}

const uint8_t *
coap_opt_value(const coap_opt_t *opt)
{
  uint32_t len;

  if (!opt || *opt == COAP_PAYLOAD_START)
    return NULL;
  return opt_header(opt, &len);
}

/* ---------------------------------------------------------------- numbers */

unsigned int
coap_decode_var_bytes(const uint8_t *buf, size_t length)
{
  return (unsigned int)coap_decode_var_bytes8(buf, length);
}

uint64_t
coap_decode_var_bytes8(const uint8_t *buf, size_t length)
{
  uint64_t v = 0;
  size_t i;

  for (i = 0; buf && i < length; i++)
    v = (v << 8) | buf[i];
  return v;
}

unsigned int
coap_encode_var_safe8(uint8_t *buf, size_t length, uint64_t value)
{
  unsigned int n = 0, i;
  uint64_t v;

  for (v = value; v; v >>= 8)
    n++;
  if (n > length || (n && !buf))
    return 0;
  for (i = n; i > 0; i--) {
    buf[i - 1] = (uint8_t)value;
    value >>= 8;
  }
  return n;
}

unsigned int
coap_encode_var_safe(uint8_t *buf, size_t length, unsigned int value)
{
  return coap_encode_var_safe8(buf, length, value);
}

/* ---------------------------------------------------------------- checks */

/* RFC 7252 5.4.1: a critical option is unrecognised when it is not in the
 * registry, has a length outside the registered range (5.4.3), or repeats
 * when it may not (5.4.5). */
coap_option_num_t
coap_pdu_unknown_critical(const coap_pdu_t *pdu)
{
  coap_opt_iterator_t oi;
  coap_opt_t *opt;
  uint32_t prev = 0x10000;

  if (!pdu || coap_pdu_view_optionless(pdu))
    return 0;
  if (!coap_option_iterator_init(pdu, &oi, NULL))
    return 0;
  while ((opt = coap_option_next(&oi)) != NULL) {
    coap_option_num_t n = oi.number;
    const coap_option_def_t *def = coap_option_def(n);
    uint32_t len = coap_opt_length(opt);
    int repeated = prev == n;

    prev = n;
    if (!coap_option_is_critical(n))
      continue;
    if (!def || len < def->min_length || len > def->max_length ||
        (repeated && !def->repeatable))
      return n;
  }
  return 0;
}
