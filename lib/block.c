/*
 * block.c -- RFC 7959 block-wise transfers.
 *
 * Server: uploads (Block1) are reassembled per session and request key
 * under a per-body cap, a total cap and a timeout; large response bodies
 * (coap_add_data_large_response) are cut statelessly: the handler runs for
 * every block and the block asked for is taken from the body it gives, with
 * an ETag derived from the body so that a client notices a change between
 * blocks.  Client: coap_add_data_large_request sends a body in Block1
 * blocks; Block2 answers are fetched block by block and delivered whole.
 *
 * Block sizes come from coap_session_max_pdu_size and the context's
 * maximum; continuation requests go through coap_send_internal, so a
 * reliable transport simply never sees a CON retransmission.
 */
#include <stdlib.h>

#include "net_internal.h"

#define BLOCK_SZX_MAX 6                        /* 1024 bytes */
#define DEFAULT_MAX_UPLOAD (16u * 1024u * 1024u)
#define DEFAULT_MAX_UPLOAD_TOTAL (64u * 1024u * 1024u)
#define DEFAULT_UPLOAD_TIMEOUT_MS 60000u
#define CLIENT_BODY_MAX ((size_t)256u * 1024u * 1024u)
#define CLIENT_RESTARTS_MAX 4
#define CLIENT_STALLS_MAX 16 /* answers that do not move a transfer on */
#define OPT_OVERHEAD 32 /* ETag, Content-Format, Max-Age, Block, Size, marker */
#define KEY_MAX 2048
#define SWEEP_MS 1000 /* how often abandoned transfers are looked for */

typedef enum lg_kind_t {
  LG_SRCV = 1, /* server: an upload being reassembled */
  LG_CSEND,    /* client: a body being sent in Block1 blocks */
  LG_CRCV,     /* client: a body being fetched in Block2 blocks */
  LG_SSEND     /* server: a large response body, served block by block */
} lg_kind_t;

typedef struct coap_lg_t {
  struct coap_lg_t *next;
  coap_session_t *session;
  uint8_t kind;
  uint8_t szx;
  uint8_t app_token_len;
  uint8_t cur_token_len;
  uint8_t etag_len;
  uint8_t restarts;
  uint8_t stalls;
  uint8_t app_token[COAP_TOKEN_MAX_LEN]; /* what the application sees */
  uint8_t cur_token[COAP_TOKEN_MAX_LEN]; /* of the request in flight */
  uint8_t etag[8];
  uint8_t *key;             /* LG_SRCV: method and Uri-* options */
  size_t key_len;
  uint8_t *body;            /* LG_SRCV, LG_CRCV: owned */
  size_t len, cap, base;    /* base: offset of the first block kept */
  size_t total;             /* LG_CRCV: Size2, 0 unknown */
  size_t acked;             /* LG_CSEND: bytes the server has taken */
  int maxage;               /* LG_SSEND: the response's Max-Age, or -1 */
  uint16_t format;          /* LG_SSEND: its Content-Format */
  uint8_t code;             /* LG_SSEND: its code */
  const uint8_t *data;      /* LG_CSEND: the caller's */
  size_t data_len;
  coap_release_large_data_t release;
  void *app_ptr;
  coap_pdu_t *first;        /* LG_CRCV: the first block's response */
  coap_pdu_t *tmpl;         /* LG_CRCV: the request to repeat */
  uint64_t expiry;          /* monotonic ms */
} coap_lg_t;

/* ---------------------------------------------------------------- helpers */

static size_t
pdu_room(const coap_pdu_t *pdu)
{
  size_t limit = pdu->max_size ? pdu->max_size : pdu->alloc_size;

  return limit > pdu->used_size ? limit - pdu->used_size : 0;
}

static unsigned
ctx_szx(const coap_context_t *ctx)
{
  unsigned szx = BLOCK_SZX_MAX;
  size_t max = ctx->max_block_size ? ctx->max_block_size : 1024;

  while (szx > 0 && (16u << szx) > max)
    szx--;
  return szx;
}

/* The largest block size exponent that fits room bytes of payload; -1 when
 * not even 16 bytes fit. */
static int
szx_for(const coap_context_t *ctx, size_t room)
{
  int szx = (int)ctx_szx(ctx);

  while (szx >= 0 && (16u << szx) > room)
    szx--;
  return szx;
}

/* -1 malformed, 0 absent, 1 present; szx 7 (BERT, RFC 8323 6) only when
 * bert is set (a reliable transport). */
static int
block_opt_b(const coap_pdu_t *pdu, coap_option_num_t number, coap_block_t *b,
            int bert)
{
  coap_opt_iterator_t oi;
  coap_opt_t *o = coap_check_option(pdu, number, &oi);
  unsigned v;

  memset(b, 0, sizeof(*b));
  if (!o)
    return 0;
  if (coap_opt_length(o) > 3)
    return -1;
  v = coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
  if ((v & 7u) == 7u && !bert)
    return -1;
  b->num = v >> 4;
  b->m = (v >> 3) & 1u;
  b->szx = v & 7u;
  return 1;
}

static int
block_opt(const coap_pdu_t *pdu, coap_option_num_t number, coap_block_t *b)
{
  return block_opt_b(pdu, number, b, 0);
}

/* Whether a Block1 block's payload length fits its option: a full block
 * unless it is the last; BERT blocks are whole multiples of 1024. */
static int
block1_len_ok(const coap_block_t *b, size_t len)
{
  if (b->szx == 7)
    return !b->m || (len > 0 && len % 1024 == 0);
  return len <= (16u << b->szx) && (!b->m || len == (16u << b->szx));
}

static unsigned
opt_uint(const coap_pdu_t *pdu, coap_option_num_t number, int *present)
{
  coap_opt_iterator_t oi;
  coap_opt_t *o = coap_check_option(pdu, number, &oi);

  if (present)
    *present = o != NULL && coap_opt_length(o) <= 4;
  if (!o || coap_opt_length(o) > 4)
    return 0;
  return coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
}

static int
add_uint(coap_pdu_t *pdu, coap_option_num_t number, uint64_t value)
{
  uint8_t buf[8];
  unsigned n = coap_encode_var_safe8(buf, sizeof(buf), value);

  return coap_add_option(pdu, number, n, buf) > 0 || n == 0 ? 1 : 0;
}

static int
add_block(coap_pdu_t *pdu, coap_option_num_t number, size_t num, int m,
          unsigned szx)
{
  return add_uint(pdu, number, ((uint64_t)num << 4) | (m ? 8u : 0u) | szx);
}

static int
same_token(const coap_pdu_t *pdu, const uint8_t *tok, size_t len)
{
  return pdu->token_length == len && memcmp(pdu->token, tok, len) == 0;
}

coap_pdu_t *
coap_pdu_clone_without(const coap_pdu_t *pdu, coap_session_t *s,
                       const coap_option_num_t *drop, size_t ndrop,
                       size_t extra)
{
  coap_opt_iterator_t oi;
  coap_opt_t *o;
  coap_pdu_t *out;
  size_t size = pdu->used_size + extra + 16;

  out = coap_pdu_init(pdu->type, pdu->code,
                      s ? coap_new_message_id(s) : pdu->mid, size);
  if (!out)
    return NULL;
  out->session = s ? s : pdu->session;
  if (!coap_add_token(out, pdu->token_length, pdu->token))
    goto fail;
  coap_option_iterator_init(pdu, &oi, NULL);
  while ((o = coap_option_next(&oi))) {
    size_t i;
    for (i = 0; i < ndrop && drop[i] != oi.number; i++)
      ;
    if (i < ndrop)
      continue;
    if (!coap_add_option(out, oi.number, coap_opt_length(o),
                         coap_opt_value(o)) &&
        coap_opt_length(o) > 0)
      goto fail;
  }
  return out;
fail:
  coap_delete_pdu(out);
  return NULL;
}

static void
set_token(coap_pdu_t *pdu, const uint8_t *tok, size_t len)
{
  /* Same length only: the options after the token stay where they are. */
  if (pdu->token_length == len)
    memcpy(pdu->token, tok, len);
}

/* ---------------------------------------------------------------- state */

/* While transfers exist, a timer looks for abandoned ones every second. */
static void
sweep_timer_arm(coap_context_t *ctx)
{
  if (!ctx->lg_timer_ready) {
    coap_timer_init(&ctx->lg_timer, COAP_TIMER_BLOCK);
    ctx->lg_timer_ready = 1;
  }
  if (ctx->lg && !coap_timer_armed(&ctx->lg_timer))
    coap_timer_arm(ctx, &ctx->lg_timer, coap_context_now(ctx) + SWEEP_MS);
}

static coap_lg_t *
lg_new(coap_session_t *s, lg_kind_t kind)
{
  coap_lg_t *lg = calloc(1, sizeof(*lg));

  if (!lg)
    return NULL;
  lg->session = s;
  lg->kind = (uint8_t)kind;
  lg->next = s->context->lg;
  s->context->lg = lg;
  sweep_timer_arm(s->context);
  return lg;
}

static void
lg_free(coap_context_t *ctx, coap_lg_t *lg)
{
  for (coap_lg_t **pp = &ctx->lg; *pp; pp = &(*pp)->next)
    if (*pp == lg) {
      *pp = lg->next;
      break;
    }
  if (lg->kind == LG_SRCV || lg->kind == LG_SSEND)
    ctx->lg_total -= lg->cap + lg->key_len;
  if (lg->release)
    lg->release(lg->session, lg->app_ptr);
  coap_delete_pdu(lg->first);
  coap_delete_pdu(lg->tmpl);
  free(lg->key);
  free(lg->body);
  free(lg);
}

static void
lg_sweep(coap_context_t *ctx)
{
  coap_lg_t *lg = ctx->lg, *next;
  uint64_t now = coap_context_now(ctx);

  for (; lg; lg = next) {
    next = lg->next;
    if (lg->expiry && lg->expiry <= now) {
      coap_log_debug("%s: block-wise transfer timed out",
                     coap_session_str(lg->session));
      lg_free(ctx, lg);
    }
  }
}

void
coap_block_timer_fire(coap_context_t *ctx)
{
  lg_sweep(ctx);
  sweep_timer_arm(ctx);
}

void
coap_block_session_gone(coap_session_t *s)
{
  coap_context_t *ctx = s->context;
  coap_lg_t *lg = ctx->lg, *next;

  for (; lg; lg = next) {
    next = lg->next;
    if (lg->session == s)
      lg_free(ctx, lg);
  }
}

static coap_lg_t *
lg_by_token(coap_session_t *s, const coap_pdu_t *pdu)
{
  for (coap_lg_t *lg = s->context->lg; lg; lg = lg->next)
    if (lg->session == s && lg->kind != LG_SRCV &&
        same_token(pdu, lg->cur_token, lg->cur_token_len))
      return lg;
  return NULL;
}

/* Grows lg->body to hold need bytes, within cap; accounts server memory. */
static int
body_reserve(coap_lg_t *lg, size_t need, size_t cap)
{
  coap_context_t *ctx = lg->session->context;
  size_t n = lg->cap ? lg->cap : 1024;
  uint8_t *p;

  if (need <= lg->cap)
    return 1;
  if (need > cap)
    return 0;
  while (n < need)
    n = n > cap / 2 ? cap : n * 2;
  if (lg->kind == LG_SRCV || lg->kind == LG_SSEND) {
    size_t total = ctx->max_upload_total ? ctx->max_upload_total
                                         : DEFAULT_MAX_UPLOAD_TOTAL;
    if (ctx->lg_total - lg->cap + n > total)
      return 0;
  }
  p = realloc(lg->body, n);
  if (!p)
    return 0;
  if (lg->kind == LG_SRCV || lg->kind == LG_SSEND)
    ctx->lg_total += n - lg->cap;
  lg->body = p;
  lg->cap = n;
  return 1;
}

/* ---------------------------------------------------------------- API */

int
coap_get_block(const coap_pdu_t *pdu, coap_option_num_t number,
               coap_block_t *block)
{
  coap_block_t b;

  if (!pdu || !block || block_opt(pdu, number, &b) != 1)
    return 0;
  *block = b;
  return 1;
}

int
coap_get_block_b(const coap_session_t *session, const coap_pdu_t *pdu,
                 coap_option_num_t number, coap_block_b_t *block)
{
  coap_block_t b;

  (void)session;
  if (!block)
    return 0;
  memset(block, 0, sizeof(*block));
  if (!coap_get_block(pdu, number, &b))
    return 0;
  block->num = b.num;
  block->m = b.m;
  block->szx = b.szx;
  block->aszx = b.szx;
  block->defined = 1;
  block->chunk_size = 16u << b.szx;
  return 1;
}

int
coap_context_set_max_block_size(coap_context_t *context, size_t max_block_size)
{
  if (!context)
    return 0;
  if (max_block_size != 0 &&
      (max_block_size < 16 || max_block_size > 1024 ||
       (max_block_size & (max_block_size - 1)) != 0))
    return 0;
  context->max_block_size = (uint16_t)max_block_size;
  return 1;
}

void
coap_context_set_max_upload(coap_context_t *context, size_t per_body,
                            size_t total, unsigned int timeout_s)
{
  if (!context)
    return;
  context->max_upload = per_body;
  context->max_upload_total = total;
  context->upload_timeout_ms = timeout_s * 1000u;
}

int
coap_get_data_large(const coap_pdu_t *pdu, size_t *len, const uint8_t **data,
                    size_t *offset, size_t *total)
{
  coap_block_t b;
  int has_size = 0;
  unsigned size = 0;
  int r;

  if (!pdu || !len || !data || !offset || !total)
    return 0;
  r = coap_get_data(pdu, len, data);
  *offset = 0;
  *total = *len;
  if (COAP_RESPONSE_CLASS(pdu->code) == 0) {
    if (block_opt(pdu, COAP_OPTION_BLOCK1, &b) == 1)
      *offset = (size_t)b.num << (b.szx + 4);
    size = opt_uint(pdu, COAP_OPTION_SIZE1, &has_size);
  } else {
    if (block_opt(pdu, COAP_OPTION_BLOCK2, &b) == 1)
      *offset = (size_t)b.num << (b.szx + 4);
    size = opt_uint(pdu, COAP_OPTION_SIZE2, &has_size);
  }
  if (has_size)
    *total = size;
  else
    *total = *offset + *len;
  return r;
}

/* ---------------------------------------------------------------- server */

static uint64_t
body_etag(const uint8_t *data, size_t len)
{
  uint64_t h = 0xcbf29ce484222325ull;

  for (size_t i = 0; i < len; i++) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h ? h : 1;
}

static int
etag_matches(const coap_pdu_t *req, const uint8_t *etag, size_t len)
{
  coap_opt_iterator_t oi;
  coap_opt_filter_t f;
  coap_opt_t *o;

  coap_option_filter_clear(&f);
  coap_option_filter_set(&f, COAP_OPTION_ETAG);
  coap_option_iterator_init(req, &oi, &f);
  while ((o = coap_option_next(&oi)))
    if (coap_opt_length(o) == len && memcmp(coap_opt_value(o), etag, len) == 0)
      return 1;
  return 0;
}

static size_t request_key(const coap_pdu_t *req, uint8_t *key, size_t cap);
static coap_lg_t *lg_find_key(coap_session_t *s, lg_kind_t kind,
                              const uint8_t *key, size_t len);
static coap_lg_t *lg_new_key(coap_session_t *s, lg_kind_t kind,
                             const uint8_t *key, size_t len);

static uint64_t
upload_expiry(coap_context_t *ctx)
{
  return coap_context_now(ctx) + (ctx->upload_timeout_ms
                                      ? ctx->upload_timeout_ms
                                      : DEFAULT_UPLOAD_TIMEOUT_MS);
}

/* The body a multi-block response is cut from.  The first block keeps a
 * copy (and its ETag, hashed once); later blocks are cut from that copy, so
 * they agree with each other however the resource changes meanwhile, and
 * the body is not hashed again for every block.  Without memory for a copy
 * each block hashes the body it is given. */
static void
ssend_body(coap_session_t *s, const coap_pdu_t *req, const coap_pdu_t *resp,
           uint16_t format, int maxage, size_t offset, uint64_t *etag,
           size_t *length, const uint8_t **data)
{
  uint8_t key[KEY_MAX];
  size_t klen = req ? request_key(req, key, sizeof(key)) : 0;
  coap_lg_t *lg;

  lg_sweep(s->context);
  lg = klen ? lg_find_key(s, LG_SSEND, key, klen) : NULL;
  if (lg && offset > 0) {
    memcpy(etag, lg->etag, sizeof(*etag));
    *length = lg->len;
    *data = lg->body;
    lg->expiry = upload_expiry(s->context);
    return;
  }
  if (lg)
    lg_free(s->context, lg);
  if (!*etag)
    *etag = body_etag(*data, *length);
  if (!klen || *length == 0 || !(lg = lg_new_key(s, LG_SSEND, key, klen)))
    return;
  if (!body_reserve(lg, *length, *length)) {
    lg_free(s->context, lg);
    return;
  }
  memcpy(lg->body, *data, *length);
  lg->len = *length;
  memcpy(lg->etag, etag, sizeof(*etag));
  lg->code = (uint8_t)resp->code;
  lg->format = format;
  lg->maxage = maxage;
  lg->expiry = upload_expiry(s->context);
}

static void
ssend_done(coap_session_t *s, const coap_pdu_t *req)
{
  uint8_t key[KEY_MAX];
  size_t klen = req ? request_key(req, key, sizeof(key)) : 0;
  coap_lg_t *lg = klen ? lg_find_key(s, LG_SSEND, key, klen) : NULL;

  if (lg)
    lg_free(s->context, lg);
}

static int
large_response(coap_session_t *s, const coap_pdu_t *req, coap_pdu_t *resp,
               uint16_t media_type, int maxage, uint64_t etag, size_t length,
               const uint8_t *data)
{
  coap_block_t b;
  int reliable = coap_proto_reliable((coap_proto_t)s->proto);
  int has = req ? block_opt_b(req, COAP_OPTION_BLOCK2, &b, reliable) : 0;
  int szx = szx_for(s->context, pdu_room(resp) > OPT_OVERHEAD
                                    ? pdu_room(resp) - OPT_OVERHEAD
                                    : 0);
  uint8_t et[8];
  unsigned etlen = 0;
  size_t offset = 0, chunk;
  int blocks, ok;

  if (has < 0) {
    resp->code = COAP_RESPONSE_CODE_BAD_OPTION;
    return 1;
  }
  if (szx < 0)
    return 0;
  if (has && (int)b.szx < szx)
    szx = (int)b.szx;
  blocks = has || length > (16u << szx);
  if (blocks) {
    /* BERT asks in 1024-byte units; we answer in single blocks. */
    offset = (size_t)b.num << (b.szx == 7 ? 10 : b.szx + 4);
    ssend_body(s, req, resp, media_type, maxage, offset, &etag, &length,
               &data);
    if (offset > length || (offset == length && length > 0)) {
      resp->code = COAP_RESPONSE_CODE_BAD_OPTION;
      return 1;
    }
  }
  if (etag)
    etlen = coap_encode_var_safe8(et, sizeof(et), etag);
  if (resp->code == COAP_EMPTY_CODE)
    resp->code = COAP_RESPONSE_CODE_CONTENT;
  if (etlen && req && req->code == COAP_REQUEST_CODE_GET && !blocks &&
      etag_matches(req, et, etlen)) {
    /* RFC 7252 5.10.6.2: the client's copy is still good. */
    resp->code = COAP_RESPONSE_CODE_VALID;
    coap_add_option(resp, COAP_OPTION_ETAG, etlen, et);
    if (maxage >= 0)
      add_uint(resp, COAP_OPTION_MAXAGE, (unsigned)maxage);
    return 1;
  }
  if (etlen && !coap_add_option(resp, COAP_OPTION_ETAG, etlen, et))
    return 0;
  if (!add_uint(resp, COAP_OPTION_CONTENT_FORMAT, media_type))
    return 0;
  if (maxage >= 0 && !add_uint(resp, COAP_OPTION_MAXAGE, (unsigned)maxage))
    return 0;
  if (!blocks)
    return coap_add_data(resp, length, data);
  chunk = length - offset < (16u << szx) ? length - offset : (16u << szx);
  ok = add_block(resp, COAP_OPTION_BLOCK2, offset >> (szx + 4),
                 offset + chunk < length, (unsigned)szx) &&
       add_uint(resp, COAP_OPTION_SIZE2, length) &&
       (!chunk || coap_add_data(resp, chunk, data + offset));
  if (offset + chunk >= length)
    ssend_done(s, req); /* data may be the copy: only now */
  return ok;
}

int
coap_block_server_cached(coap_session_t *s, const coap_pdu_t *req,
                         coap_pdu_t *resp)
{
  uint8_t key[KEY_MAX];
  size_t klen;
  coap_block_t b;
  coap_lg_t *lg;
  uint64_t etag;

  if (!(s->context->block_mode & COAP_BLOCK_USE_LIBCOAP) ||
      block_opt_b(req, COAP_OPTION_BLOCK2, &b,
                  coap_proto_reliable((coap_proto_t)s->proto)) != 1 ||
      b.num == 0)
    return 0;
  lg_sweep(s->context);
  klen = request_key(req, key, sizeof(key));
  lg = klen ? lg_find_key(s, LG_SSEND, key, klen) : NULL;
  if (!lg)
    return 0;
  /* A later block of a body we cut before: the handler is not asked again
   * (a POST's repeat carries no payload to answer). */
  resp->code = lg->code;
  memcpy(&etag, lg->etag, sizeof(etag));
  if (!large_response(s, req, resp, lg->format, lg->maxage, etag, lg->len,
                      lg->body)) {
    coap_pdu_clear_body(resp);
    resp->code = COAP_RESPONSE_CODE_INTERNAL_ERROR;
  }
  return 1;
}

int
coap_add_data_large_response(coap_resource_t *resource,
                             coap_session_t *session,
                             const coap_pdu_t *request, coap_pdu_t *response,
                             const coap_string_t *query, uint16_t media_type,
                             int maxage, uint64_t etag, size_t length,
                             const uint8_t *data,
                             coap_release_large_data_t release_func,
                             void *app_ptr)
{
  int ok = 0;

  (void)resource;
  (void)query;
  if (session && response && (data || length == 0))
    ok = large_response(session, request, response, media_type, maxage, etag,
                        length, data);
  if (release_func)
    release_func(session, app_ptr);
  return ok;
}

/* The request's identity for reassembly (RFC 7959 2.4, 2.5): method,
 * Uri-Host, Uri-Port, Uri-Path, Uri-Query and Request-Tag. */
static size_t
request_key(const coap_pdu_t *req, uint8_t *key, size_t cap)
{
  static const coap_option_num_t nums[] = {
      COAP_OPTION_URI_HOST, COAP_OPTION_URI_PORT, COAP_OPTION_URI_PATH,
      COAP_OPTION_URI_QUERY, COAP_OPTION_RTAG};
  coap_opt_iterator_t oi;
  coap_opt_filter_t f;
  coap_opt_t *o;
  size_t n = 1;

  key[0] = (uint8_t)req->code;
  coap_option_filter_clear(&f);
  for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
    coap_option_filter_set(&f, nums[i]);
  coap_option_iterator_init(req, &oi, &f);
  while ((o = coap_option_next(&oi))) {
    uint32_t l = coap_opt_length(o);
    if (n + 4 + l > cap)
      return 0;
    key[n++] = (uint8_t)(oi.number >> 8);
    key[n++] = (uint8_t)oi.number;
    key[n++] = (uint8_t)(l >> 8);
    key[n++] = (uint8_t)l;
    memcpy(key + n, coap_opt_value(o), l);
    n += l;
  }
  return n;
}

static coap_lg_t *
lg_find_key(coap_session_t *s, lg_kind_t kind, const uint8_t *key, size_t len)
{
  for (coap_lg_t *lg = s->context->lg; lg; lg = lg->next)
    if (lg->session == s && lg->kind == kind && lg->key_len == len &&
        memcmp(lg->key, key, len) == 0)
      return lg;
  return NULL;
}

static coap_lg_t *
lg_new_key(coap_session_t *s, lg_kind_t kind, const uint8_t *key, size_t len)
{
  coap_context_t *ctx = s->context;
  size_t total = ctx->max_upload_total ? ctx->max_upload_total
                                       : DEFAULT_MAX_UPLOAD_TOTAL;
  coap_lg_t *lg;

  /* Keys count against the total too: many tiny uploads are no way round
   * it. */
  if (ctx->lg_total + len > total)
    return NULL;
  lg = lg_new(s, kind);
  if (!lg)
    return NULL;
  lg->key = malloc(len);
  if (!lg->key) {
    lg_free(s->context, lg);
    return NULL;
  }
  memcpy(lg->key, key, len);
  lg->key_len = len;
  ctx->lg_total += len;
  return lg;
}

static int
too_large(coap_pdu_t *resp, size_t max)
{
  resp->code = COAP_RESPONSE_CODE_REQUEST_TOO_LARGE;
  add_uint(resp, COAP_OPTION_SIZE1, max);
  return 1;
}

/* The whole upload as one request for the handler. */
static coap_pdu_t *
srcv_body(coap_session_t *s, const coap_pdu_t *req, coap_lg_t *lg)
{
  static const coap_option_num_t drop[] = {COAP_OPTION_BLOCK1,
                                           COAP_OPTION_SIZE1};
  coap_pdu_t *body = coap_pdu_clone_without(req, NULL, drop, 2, lg->len + 1);

  if (!body)
    return NULL;
  body->session = s;
  if (lg->len && !coap_add_data(body, lg->len, lg->body)) {
    coap_delete_pdu(body);
    return NULL;
  }
  return body;
}

int
coap_block_server_request(coap_session_t *s, const coap_pdu_t *req,
                          coap_pdu_t *resp, coap_pdu_t **body)
{
  coap_context_t *ctx = s->context;
  size_t max = ctx->max_upload ? ctx->max_upload : DEFAULT_MAX_UPLOAD;
  uint8_t key[KEY_MAX];
  size_t klen, len = 0, offset, keep;
  const uint8_t *data = NULL;
  coap_block_t b;
  coap_lg_t *lg;
  unsigned szx;
  int has_size1, r, bert;

  *body = NULL;
  if (!(ctx->block_mode & COAP_BLOCK_USE_LIBCOAP))
    return 0;
  r = block_opt_b(req, COAP_OPTION_BLOCK1, &b,
                  coap_proto_reliable((coap_proto_t)s->proto));
  if (r == 0)
    return 0;
  lg_sweep(ctx);
  klen = request_key(req, key, sizeof(key));
  if (r < 0 || klen == 0) {
    resp->code = COAP_RESPONSE_CODE_BAD_OPTION;
    return 1;
  }
  if (opt_uint(req, COAP_OPTION_SIZE1, &has_size1) > max && has_size1)
    return too_large(resp, max);
  coap_get_data(req, &len, &data);
  bert = b.szx == 7;
  offset = (size_t)b.num << (bert ? 10 : b.szx + 4);
  if (!block1_len_ok(&b, len)) {
    resp->code = COAP_RESPONSE_CODE_BAD_REQUEST;
    return 1;
  }
  lg = lg_find_key(s, LG_SRCV, key, klen);
  if (b.num == 0) {
    if (lg)
      lg_free(ctx, lg);
    lg = lg_new_key(s, LG_SRCV, key, klen);
    if (!lg) {
      resp->code = COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE;
      return 1;
    }
    lg->szx = (uint8_t)(b.szx < ctx_szx(ctx) ? b.szx : ctx_szx(ctx));
  }
  if (!lg || offset > lg->len) {
    resp->code = COAP_RESPONSE_CODE_INCOMPLETE;
    return 1;
  }
  szx = lg->szx < b.szx ? lg->szx : b.szx;
  /* Late negotiation (2.5): of a larger block only our size is kept; BERT
   * (RFC 8323 6) is taken as it comes. */
  keep = !bert && b.m && len > (16u << szx) ? (16u << szx) : len;
  if (offset + keep > lg->len) {
    size_t need = offset + keep;
    if (need > max) {
      lg_free(ctx, lg);
      return too_large(resp, max);
    }
    if (!body_reserve(lg, need, max)) {
      /* All uploads together hold as much as they may: later. */
      lg_free(ctx, lg);
      resp->code = COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE;
      return 1;
    }
    memcpy(lg->body + offset, data, keep);
    lg->len = need;
  }
  lg->expiry = upload_expiry(ctx);
  if (b.m) {
    resp->code = COAP_RESPONSE_CODE_CONTINUE;
    if (bert)
      add_block(resp, COAP_OPTION_BLOCK1, b.num, 1, 7);
    else
      add_block(resp, COAP_OPTION_BLOCK1, ((offset + keep) >> (szx + 4)) - 1,
                1, szx);
    return 1;
  }
  *body = srcv_body(s, req, lg);
  lg_free(ctx, lg);
  if (!*body) {
    resp->code = COAP_RESPONSE_CODE_INTERNAL_ERROR;
    return 1;
  }
  add_block(resp, COAP_OPTION_BLOCK1, b.num, 0, b.szx);
  return 0;
}

/* ---------------------------------------------------------------- client */

static uint64_t
client_expiry(coap_context_t *ctx)
{
  return coap_context_now(ctx) + 2 * coap_exchange_lifetime_ms(ctx);
}

static void
call_handler(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd)
{
  if (s->context->response_handler)
    s->context->response_handler(s, sent, rcvd, rcvd->mid);
}

static int
send_block1(coap_session_t *s, coap_lg_t *lg, const coap_pdu_t *sent,
            size_t offset)
{
  static const coap_option_num_t drop[] = {COAP_OPTION_BLOCK1,
                                           COAP_OPTION_SIZE1};
  size_t bsize = 16u << lg->szx, chunk;
  coap_pdu_t *pdu = coap_pdu_clone_without(sent, s, drop, 2, bsize + 16);

  if (!pdu)
    return 0;
  chunk = lg->data_len - offset < bsize ? lg->data_len - offset : bsize;
  if (!add_block(pdu, COAP_OPTION_BLOCK1, offset >> (lg->szx + 4),
                 offset + chunk < lg->data_len, lg->szx) ||
      (offset == 0 && !add_uint(pdu, COAP_OPTION_SIZE1, lg->data_len)) ||
      !coap_add_data(pdu, chunk, lg->data + offset)) {
    coap_delete_pdu(pdu);
    return 0;
  }
  lg->expiry = client_expiry(s->context);
  return coap_send_internal(s, pdu) != COAP_INVALID_MID;
}

int
coap_add_data_large_request(coap_session_t *session, coap_pdu_t *pdu,
                            size_t length, const uint8_t *data,
                            coap_release_large_data_t release_func,
                            void *app_ptr)
{
  size_t room;
  int szx;
  coap_lg_t *lg;

  if (!session || !pdu || (length && !data))
    return 0;
  room = pdu_room(pdu);
  szx = szx_for(session->context, room > 16 ? room - 16 : 0);
  if (length == 0 || (szx >= 0 && length <= (16u << szx)) ||
      !(session->context->block_mode & COAP_BLOCK_USE_LIBCOAP)) {
    int ok = coap_add_data(pdu, length, data);
    if (release_func)
      release_func(session, app_ptr);
    return ok;
  }
  if (szx < 0 || !(lg = lg_new(session, LG_CSEND))) {
    if (release_func)
      release_func(session, app_ptr);
    return 0;
  }
  lg->szx = (uint8_t)szx;
  lg->data = data;
  lg->data_len = length;
  lg->release = release_func;
  lg->app_ptr = app_ptr;
  lg->cur_token_len = lg->app_token_len = pdu->token_length;
  memcpy(lg->cur_token, pdu->token, pdu->token_length);
  memcpy(lg->app_token, pdu->token, pdu->token_length);
  lg->expiry = client_expiry(session->context);
  if (!add_block(pdu, COAP_OPTION_BLOCK1, 0, 1, lg->szx) ||
      !add_uint(pdu, COAP_OPTION_SIZE1, length) ||
      !coap_add_data(pdu, 16u << lg->szx, data)) {
    lg_free(session->context, lg);
    return 0;
  }
  return 1;
}

static int crcv_start(coap_session_t *s, const coap_pdu_t *tmpl,
                      const coap_pdu_t *rcvd);

/* A response to one of our Block1 blocks. */
static int
csend_response(coap_session_t *s, coap_lg_t *lg, const coap_pdu_t *sent,
               const coap_pdu_t *rcvd)
{
  coap_block_t b;
  int has = block_opt(rcvd, COAP_OPTION_BLOCK1, &b);
  coap_block_t b2;

  if (rcvd->code == COAP_RESPONSE_CODE_CONTINUE && has == 1 && b.szx < 7) {
    size_t acked = ((size_t)b.num + 1) << (b.szx + 4);
    /* A server that never takes more would keep us sending forever. */
    if (acked <= lg->acked && lg->stalls++ >= CLIENT_STALLS_MAX)
      acked = lg->data_len;
    lg->acked = acked;
    if (b.szx < lg->szx)
      lg->szx = (uint8_t)b.szx;
    if (acked < lg->data_len && send_block1(s, lg, sent, acked))
      return 1;
  } else if (rcvd->code == COAP_RESPONSE_CODE_REQUEST_TOO_LARGE && has == 1 &&
             b.szx < lg->szx && lg->restarts++ < CLIENT_RESTARTS_MAX) {
    /* Blocks smaller than we sent, from the start. */
    lg->szx = (uint8_t)b.szx;
    if (send_block1(s, lg, sent, 0))
      return 1;
  }
  lg_free(s->context, lg);
  if (block_opt(rcvd, COAP_OPTION_BLOCK2, &b2) == 1 && b2.m)
    return crcv_start(s, sent, rcvd);
  return 0;
}

static int
send_block2(coap_session_t *s, coap_lg_t *lg, size_t offset)
{
  coap_pdu_t *pdu = coap_pdu_clone_without(lg->tmpl, s, NULL, 0, 8);
  size_t tl = COAP_TOKEN_MAX_LEN;

  if (!pdu)
    return 0;
  coap_session_new_token(s, &tl, lg->cur_token);
  lg->cur_token_len = (uint8_t)tl;
  if (pdu->token_length != tl) {
    /* The template's token has another length: rebuild with ours. */
    coap_pdu_t *t = coap_pdu_init(pdu->type, pdu->code, pdu->mid,
                                  pdu->max_size);
    coap_opt_iterator_t oi;
    coap_opt_t *o;
    int ok = t && coap_add_token(t, tl, lg->cur_token);
    coap_option_iterator_init(pdu, &oi, NULL);
    while (ok && (o = coap_option_next(&oi)))
      ok = coap_add_option(t, oi.number, coap_opt_length(o),
                           coap_opt_value(o)) > 0 ||
           coap_opt_length(o) == 0;
    coap_delete_pdu(pdu);
    if (!ok) {
      coap_delete_pdu(t);
      return 0;
    }
    t->session = s;
    pdu = t;
  } else {
    set_token(pdu, lg->cur_token, tl);
  }
  if (!add_block(pdu, COAP_OPTION_BLOCK2, offset >> (lg->szx + 4), 0,
                 lg->szx)) {
    coap_delete_pdu(pdu);
    return 0;
  }
  lg->expiry = client_expiry(s->context);
  return coap_send_internal(s, pdu) != COAP_INVALID_MID;
}

/* rcvd as the application should see it: its token, and for the whole
 * body the first block's options with every byte. */
static void
crcv_deliver(coap_session_t *s, coap_lg_t *lg, const coap_pdu_t *rcvd,
             int whole)
{
  static const coap_option_num_t drop[] = {COAP_OPTION_BLOCK2};
  const coap_pdu_t *src = whole ? lg->first : rcvd;
  coap_pdu_t *out = coap_pdu_clone_without(src, NULL, whole ? drop : NULL,
                                           whole ? 1 : 0,
                                           (whole ? lg->len : 0) + 1);
  const uint8_t *data = NULL;
  size_t len = 0;

  if (!out)
    return;
  out->session = s;
  out->code = rcvd->code;
  out->type = rcvd->type;
  out->mid = rcvd->mid;
  set_token(out, lg->app_token, lg->app_token_len);
  if (whole) {
    data = lg->body;
    len = lg->len;
  } else {
    coap_get_data(rcvd, &len, &data);
  }
  if (len == 0 || coap_add_data(out, len, data))
    call_handler(s, lg->tmpl, out);
  coap_delete_pdu(out);
}

/* A response to one of our Block2 requests. */
static int
crcv_block(coap_session_t *s, coap_lg_t *lg, const coap_pdu_t *rcvd)
{
  coap_context_t *ctx = s->context;
  int single = (ctx->block_mode & COAP_BLOCK_SINGLE_BODY) != 0;
  coap_opt_iterator_t oi;
  coap_opt_t *et = coap_check_option(rcvd, COAP_OPTION_ETAG, &oi);
  const uint8_t *data = NULL;
  size_t len = 0, offset;
  coap_block_t b;

  if (COAP_RESPONSE_CLASS(rcvd->code) != 2 ||
      block_opt(rcvd, COAP_OPTION_BLOCK2, &b) != 1) {
    crcv_deliver(s, lg, rcvd, 0); /* the error ends the transfer */
    lg_free(ctx, lg);
    return 1;
  }
  offset = (size_t)b.num << (b.szx + 4);
  if (lg->etag_len && et &&
      (coap_opt_length(et) != lg->etag_len ||
       memcmp(coap_opt_value(et), lg->etag, lg->etag_len) != 0)) {
    /* The body changed under us (RFC 7959 2.4): start again. */
    if (lg->restarts++ >= CLIENT_RESTARTS_MAX) {
      crcv_deliver(s, lg, rcvd, 0);
      lg_free(ctx, lg);
      return 1;
    }
    lg->len = 0;
    send_block2(s, lg, lg->base);
    return 1;
  }
  if (offset != lg->base + lg->len) {
    /* Not the block we asked for: ask again, a bounded number of times. */
    if (lg->stalls++ >= CLIENT_STALLS_MAX ||
        !send_block2(s, lg, lg->base + lg->len)) {
      crcv_deliver(s, lg, rcvd, 0);
      lg_free(ctx, lg);
    }
    return 1;
  }
  coap_get_data(rcvd, &len, &data);
  if (len && !body_reserve(lg, lg->len + len, CLIENT_BODY_MAX)) {
    coap_log_warn("%s: response body too large", coap_session_str(s));
    lg_free(ctx, lg);
    return 1;
  }
  if (len)
    memcpy(lg->body + lg->len, data, len);
  lg->len += len;
  lg->szx = (uint8_t)b.szx;
  if (!single)
    crcv_deliver(s, lg, rcvd, 0);
  if (b.m && len > 0) {
    if (!send_block2(s, lg, lg->base + lg->len))
      lg_free(ctx, lg);
    return 1;
  }
  if (single)
    crcv_deliver(s, lg, rcvd, 1);
  lg_free(ctx, lg);
  return 1;
}

static int
crcv_start(coap_session_t *s, const coap_pdu_t *tmpl, const coap_pdu_t *rcvd)
{
  static const coap_option_num_t tdrop[] = {
      COAP_OPTION_OBSERVE, COAP_OPTION_BLOCK2, COAP_OPTION_BLOCK1,
      COAP_OPTION_SIZE2, COAP_OPTION_SIZE1};
  coap_context_t *ctx = s->context;
  coap_opt_iterator_t oi;
  coap_opt_t *et = coap_check_option(rcvd, COAP_OPTION_ETAG, &oi);
  coap_lg_t *lg;
  coap_block_t b;
  int has_size;
  unsigned size2 = opt_uint(rcvd, COAP_OPTION_SIZE2, &has_size);

  if (block_opt(rcvd, COAP_OPTION_BLOCK2, &b) != 1)
    return 0;
  for (lg = ctx->lg; lg; lg = lg->next)
    if (lg->session == s && lg->kind == LG_CRCV &&
        same_token(rcvd, lg->app_token, lg->app_token_len)) {
      lg_free(ctx, lg); /* a newer notification replaces the fetch */
      break;
    }
  lg = lg_new(s, LG_CRCV);
  if (!lg)
    return 0;
  lg->tmpl = coap_pdu_clone_without(tmpl, NULL, tdrop, 5, 0);
  lg->first = coap_pdu_clone_without(rcvd, NULL, NULL, 0, 0);
  if (!lg->tmpl || !lg->first) {
    lg_free(ctx, lg);
    return 0;
  }
  lg->tmpl->type = tmpl->type == COAP_MESSAGE_NON ? COAP_MESSAGE_NON
                                                  : COAP_MESSAGE_CON;
  lg->app_token_len = rcvd->token_length;
  memcpy(lg->app_token, rcvd->token, rcvd->token_length);
  lg->cur_token_len = lg->app_token_len;
  memcpy(lg->cur_token, lg->app_token, lg->app_token_len);
  lg->base = (size_t)b.num << (b.szx + 4);
  lg->szx = (uint8_t)b.szx;
  if (et && coap_opt_length(et) <= sizeof(lg->etag)) {
    lg->etag_len = (uint8_t)coap_opt_length(et);
    memcpy(lg->etag, coap_opt_value(et), lg->etag_len);
  }
  lg->total = has_size ? size2 : 0;
  if (has_size && size2 > 0 && size2 <= 16u * 1024u * 1024u)
    body_reserve(lg, size2, CLIENT_BODY_MAX);
  lg->expiry = client_expiry(ctx);
  return crcv_block(s, lg, rcvd);
}

int
coap_block_client_response(coap_session_t *s, const coap_pdu_t *sent,
                           const coap_pdu_t *rcvd)
{
  coap_context_t *ctx = s->context;
  coap_lg_t *lg;
  coap_block_t b;

  if (!(ctx->block_mode & COAP_BLOCK_USE_LIBCOAP)) {
    coap_observe_client_note(s, sent, rcvd);
    return 0;
  }
  lg_sweep(ctx);
  lg = lg_by_token(s, rcvd);
  if (lg && lg->kind == LG_CSEND)
    return csend_response(s, lg, sent, rcvd);
  if (lg && lg->kind == LG_CRCV)
    return crcv_block(s, lg, rcvd);
  if (COAP_RESPONSE_CLASS(rcvd->code) == 2 &&
      block_opt(rcvd, COAP_OPTION_BLOCK2, &b) == 1 && b.m) {
    coap_observe_client_note(s, sent, rcvd);
    return crcv_start(s, sent, rcvd);
  }
  coap_observe_client_note(s, sent, rcvd);
  return 0;
}

int
coap_block_client_unsolicited(coap_session_t *s, const coap_pdu_t *rcvd)
{
  coap_context_t *ctx = s->context;
  const coap_pdu_t *req;
  coap_lg_t *lg = lg_by_token(s, rcvd);
  coap_block_t b;
  int r;

  if (lg && lg->kind == LG_CRCV)
    return crcv_block(s, lg, rcvd);
  r = coap_observe_client_match(s, rcvd, &req);
  if (r != 1)
    return r == 2;
  if ((ctx->block_mode & COAP_BLOCK_USE_LIBCOAP) &&
      COAP_RESPONSE_CLASS(rcvd->code) == 2 &&
      block_opt(rcvd, COAP_OPTION_BLOCK2, &b) == 1 && b.m) {
    crcv_start(s, req, rcvd);
    return 1;
  }
  call_handler(s, req, rcvd);
  if (COAP_RESPONSE_CLASS(rcvd->code) != 2)
    coap_observe_client_forget(s, rcvd);
  return 1;
}

int
coap_block_progress(const coap_session_t *session, size_t *done,
                    size_t *total, int *sending)
{
  const coap_lg_t *found = NULL;

  if (!session)
    return 0;
  /* The oldest transfer of the session: the list is newest first. */
  for (const coap_lg_t *lg = session->context->lg; lg; lg = lg->next)
    if (lg->session == session &&
        (lg->kind == LG_CSEND || lg->kind == LG_CRCV))
      found = lg;
  if (!found)
    return 0;
  if (done)
    *done = found->kind == LG_CSEND ? found->acked : found->base + found->len;
  if (total)
    *total = found->kind == LG_CSEND ? found->data_len : found->total;
  if (sending)
    *sending = found->kind == LG_CSEND;
  return 1;
}
