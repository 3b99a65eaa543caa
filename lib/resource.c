/*
 * resource.c -- the server's resources (a hash table on the Uri-Path),
 * link-format for /.well-known/core, and the dispatch of a request to its
 * method handler with the response built in the context's send batch.
 */
#include <stdio.h>
#include <stdlib.h>

#include "net_internal.h"
#include "stream_internal.h"

#define PATH_MAX_LEN 1024
#define QUERY_MAX_LEN 1024
#define WELLKNOWN ".well-known/core"

static uint32_t
path_hash(const uint8_t *s, size_t len)
{
  uint32_t h = 2166136261u;

  for (size_t i = 0; i < len; i++) {
    h ^= s[i];
    h *= 16777619u;
  }
  return h;
}

static coap_resource_t *
lookup(const coap_context_t *ctx, const uint8_t *path, size_t len)
{
  uint32_t h;

  if (!ctx->rtab_size)
    return NULL;
  h = path_hash(path, len);
  for (coap_resource_t *r = ctx->rtab[h & (ctx->rtab_size - 1)]; r;
       r = r->hnext)
    if (r->hash == h && r->uri_path->length == len &&
        (len == 0 || memcmp(r->uri_path->s, path, len) == 0))
      return r;
  return NULL;
}

static int
rtab_grow(coap_context_t *ctx)
{
  size_t size = ctx->rtab_size ? ctx->rtab_size * 2 : 32;
  coap_resource_t **t = calloc(size, sizeof(*t));

  if (!t)
    return 0;
  for (size_t i = 0; i < ctx->rtab_size; i++) {
    coap_resource_t *r = ctx->rtab[i], *next;
    for (; r; r = next) {
      next = r->hnext;
      r->hnext = t[r->hash & (size - 1)];
      t[r->hash & (size - 1)] = r;
    }
  }
  free(ctx->rtab);
  ctx->rtab = t;
  ctx->rtab_size = size;
  return 1;
}

/* ---------------------------------------------------------------- objects */

static void
attr_free(coap_attr_t *a)
{
  coap_delete_str_const(a->name);
  coap_delete_str_const(a->value);
  free(a);
}

static void
resource_free(coap_resource_t *r)
{
  coap_attr_t *a, *next;

  coap_observe_resource_gone(r);
  for (a = r->attrs; a; a = next) {
    next = a->next;
    attr_free(a);
  }
  coap_delete_str_const(r->uri_path);
  free(r);
}

coap_resource_t *
coap_resource_init(coap_str_const_t *uri_path, int flags)
{
  coap_resource_t *r = calloc(1, sizeof(*r));
  const uint8_t *s = uri_path ? uri_path->s : NULL;
  size_t len = uri_path ? uri_path->length : 0;

  if (!r)
    return NULL;
  /* The path is always our own copy, without a leading '/'. */
  while (len > 0 && s && *s == '/') {
    s++;
    len--;
  }
  r->uri_path = coap_new_str_const(s ? s : (const uint8_t *)"", len);
  if (uri_path && (flags & COAP_RESOURCE_FLAGS_RELEASE_URI))
    coap_delete_str_const(uri_path);
  if (!r->uri_path) {
    free(r);
    return NULL;
  }
  r->flags = flags;
  r->hash = path_hash(r->uri_path->s, r->uri_path->length);
  return r;
}

coap_resource_t *
coap_resource_unknown_init(coap_method_handler_t put_handler)
{
  coap_resource_t *r = coap_resource_init(NULL, 0);

  if (!r)
    return NULL;
  r->is_unknown = 1;
  coap_register_handler(r, COAP_REQUEST_PUT, put_handler);
  return r;
}

static void
rtab_unlink(coap_context_t *ctx, coap_resource_t *r)
{
  coap_resource_t **pp;

  if (!ctx->rtab_size)
    return;
  for (pp = &ctx->rtab[r->hash & (ctx->rtab_size - 1)]; *pp;
       pp = &(*pp)->hnext)
    if (*pp == r) {
      *pp = r->hnext;
      r->hnext = NULL;
      ctx->resource_count--;
      break;
    }
  if (r->lprev)
    r->lprev->lnext = r->lnext;
  else if (ctx->rfirst == r)
    ctx->rfirst = r->lnext;
  if (r->lnext)
    r->lnext->lprev = r->lprev;
  else if (ctx->rlast == r)
    ctx->rlast = r->lprev;
  r->lprev = r->lnext = NULL;
}

void
coap_add_resource(coap_context_t *context, coap_resource_t *resource)
{
  coap_resource_t *old;
  size_t b;

  if (!context || !resource)
    return;
  resource->context = context;
  if (resource->is_unknown) {
    if (context->unknown_resource && context->unknown_resource != resource)
      resource_free(context->unknown_resource);
    context->unknown_resource = resource;
    return;
  }
  old = lookup(context, resource->uri_path->s, resource->uri_path->length);
  if (old == resource)
    return;
  if (old) {
    rtab_unlink(context, old);
    resource_free(old);
  }
  if (context->resource_count + 1 > context->rtab_size && !rtab_grow(context)) {
    coap_log_err("coap_add_resource: out of memory");
    return;
  }
  b = resource->hash & (context->rtab_size - 1);
  resource->hnext = context->rtab[b];
  context->rtab[b] = resource;
  context->resource_count++;
  resource->lnext = NULL;
  resource->lprev = context->rlast;
  if (context->rlast)
    context->rlast->lnext = resource;
  else
    context->rfirst = resource;
  context->rlast = resource;
}

int
coap_delete_resource(coap_context_t *context, coap_resource_t *resource)
{
  if (!resource)
    return 0;
  if (!context)
    context = resource->context;
  if (!context)
    return 0;
  if (resource == context->unknown_resource) {
    context->unknown_resource = NULL;
    resource_free(resource);
    return 1;
  }
  if (lookup(context, resource->uri_path->s, resource->uri_path->length) !=
      resource)
    return 0;
  rtab_unlink(context, resource);
  resource_free(resource);
  return 1;
}

void
coap_resources_free(coap_context_t *ctx)
{
  for (size_t i = 0; i < ctx->rtab_size; i++) {
    coap_resource_t *r = ctx->rtab[i], *next;
    for (; r; r = next) {
      next = r->hnext;
      resource_free(r);
    }
  }
  free(ctx->rtab);
  ctx->rtab = NULL;
  ctx->rtab_size = 0;
  ctx->resource_count = 0;
  ctx->rfirst = ctx->rlast = NULL;
  if (ctx->unknown_resource)
    resource_free(ctx->unknown_resource);
  ctx->unknown_resource = NULL;
}

void
coap_register_handler(coap_resource_t *resource, coap_request_t method,
                      coap_method_handler_t handler)
{
  if (resource && method >= COAP_REQUEST_GET && method <= COAP_REQUEST_IPATCH)
    resource->handler[method - 1] = handler;
}

void
coap_register_request_handler(coap_resource_t *resource, coap_request_t method,
                              coap_method_handler_t handler)
{
  coap_register_handler(resource, method, handler);
}

static coap_str_const_t *
str_take(coap_str_const_t *s, int release)
{
  if (!s || release)
    return s;
  return coap_new_str_const(s->s, s->length);
}

void *
coap_add_attr(coap_resource_t *resource, coap_str_const_t *name,
              coap_str_const_t *value, int flags)
{
  coap_attr_t *a, **pp;

  if (!resource || !name || !name->length)
    return NULL;
  a = calloc(1, sizeof(*a));
  if (!a)
    return NULL;
  a->flags = flags;
  a->name = str_take(name, flags & COAP_ATTR_FLAGS_RELEASE_NAME);
  a->value = str_take(value, flags & COAP_ATTR_FLAGS_RELEASE_VALUE);
  if (!a->name || (value && !a->value)) {
    attr_free(a);
    return NULL;
  }
  for (pp = &resource->attrs; *pp; pp = &(*pp)->next)
    ;
  *pp = a; /* kept in the order given: the link-format follows it */
  return a;
}

void
coap_resource_set_get_observable(coap_resource_t *resource, int mode)
{
  if (resource)
    resource->observable = mode ? 1 : 0;
}

void
coap_resource_set_userdata(coap_resource_t *resource, void *data)
{
  if (resource)
    resource->userdata = data;
}

void *
coap_resource_get_userdata(coap_resource_t *resource)
{
  return resource ? resource->userdata : NULL;
}

coap_str_const_t *
coap_resource_get_uri_path(coap_resource_t *resource)
{
  return resource ? resource->uri_path : NULL;
}

coap_resource_t *
coap_get_resource_from_uri_path(coap_context_t *context,
                                coap_str_const_t *uri_path)
{
  const uint8_t *s;
  size_t len;

  if (!context || !uri_path)
    return NULL;
  s = uri_path->s;
  len = uri_path->length;
  while (len > 0 && *s == '/') {
    s++;
    len--;
  }
  return lookup(context, s ? s : (const uint8_t *)"", len);
}

size_t
coap_context_resource_count(const coap_context_t *context)
{
  return context ? context->resource_count : 0;
}

/* ---------------------------------------------------------------- link-format */

typedef struct out_t {
  uint8_t *buf;
  size_t cap, len;
} out_t;

static void
put(out_t *o, const void *data, size_t n)
{
  if (o->len < o->cap) {
    size_t room = o->cap - o->len;
    memcpy(o->buf + o->len, data, n < room ? n : room);
  }
  o->len += n;
}

static void
puts_(out_t *o, const char *s)
{
  put(o, s, strlen(s));
}

static int
wants_quotes(const coap_str_const_t *name, const coap_str_const_t *value)
{
  static const char *const quoted[] = {"rt", "if", "title", "anchor", "rel"};

  if (!value || (value->length > 0 && value->s[0] == '"'))
    return 0;
  for (size_t i = 0; i < sizeof(quoted) / sizeof(quoted[0]); i++)
    if (name->length == strlen(quoted[i]) &&
        memcmp(name->s, quoted[i], name->length) == 0)
      return 1;
  return 0;
}

/* The text after '>' of one link: ";name=value;..." */
static void
print_attrs(out_t *o, const coap_resource_t *r)
{
  for (const coap_attr_t *a = r->attrs; a; a = a->next) {
    int q = wants_quotes(a->name, a->value);
    put(o, ";", 1);
    put(o, a->name->s, a->name->length);
    if (!a->value)
      continue;
    put(o, q ? "=\"" : "=", q ? 2 : 1);
    put(o, a->value->s, a->value->length);
    if (q)
      put(o, "\"", 1);
  }
  if (r->observable)
    puts_(o, ";obs");
}

static int
link_matches(const coap_resource_t *r, const coap_str_const_t *query)
{
  uint8_t attrs[1024], target[PATH_MAX_LEN + 2];
  out_t o = {attrs, sizeof(attrs), 0};
  coap_str_const_t t = {0, target}, a = {0, attrs};

  if (!query || !query->length)
    return 1;
  print_attrs(&o, r);
  if (o.len > sizeof(attrs) || r->uri_path->length + 1 > sizeof(target))
    return 0;
  target[0] = '/';
  memcpy(target + 1, r->uri_path->s, r->uri_path->length);
  t.length = r->uri_path->length + 1;
  a.length = o.len;
  return coap_link_matches(&t, &a, query);
}

size_t
coap_print_wellknown(coap_context_t *context, uint8_t *buf, size_t len,
                     const coap_string_t *query)
{
  out_t o = {buf, buf ? len : 0, 0};
  coap_str_const_t q = {0, NULL}, *qp = NULL;
  int first = 1;

  if (!context)
    return 0;
  if (query && query->s && query->length) {
    /* One filter (RFC 6690 4.1); further arguments are ignored. */
    const uint8_t *amp = memchr(query->s, '&', query->length);
    q.s = query->s;
    q.length = amp ? (size_t)(amp - query->s) : query->length;
    qp = &q;
  }
  for (coap_resource_t *r = context->rfirst; r; r = r->lnext) {
    if (!link_matches(r, qp))
      continue;
    if (!first)
      put(&o, ",", 1);
    first = 0;
    put(&o, "</", 2);
    put(&o, r->uri_path->s, r->uri_path->length);
    put(&o, ">", 1);
    print_attrs(&o, r);
  }
  return o.len;
}

/* ---------------------------------------------------------------- requests */

/* Joins the values of every option number opt with sep into buf. */
static int
join_options(const coap_pdu_t *req, coap_option_num_t opt, char sep,
             uint8_t *buf, size_t cap, size_t *out, int *count)
{
  coap_opt_iterator_t oi;
  coap_opt_t *o;
  size_t n = 0;

  *count = 0;
  *out = 0;
  if (coap_pdu_view_lacks(req, opt))
    return 1;
  for (o = coap_check_option(req, opt, &oi); o; o = coap_option_next(&oi)) {
    uint32_t l = coap_opt_length(o);
    if (n + l + 1 > cap)
      return 0;
    if ((*count)++)
      buf[n++] = (uint8_t)sep;
    memcpy(buf + n, coap_opt_value(o), l);
    n += l;
  }
  *out = n;
  return 1;
}

/* RFC 7967: the classes the client does not want to hear about. */
static int
suppressed(const coap_pdu_t *req, uint8_t code)
{
  coap_opt_iterator_t oi;
  coap_opt_t *o;
  unsigned v, cls = COAP_RESPONSE_CLASS(code);

  o = coap_check_option(req, COAP_OPTION_NORESPONSE, &oi);
  if (!o)
    return 0;
  v = coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
  return (cls == 2 && (v & 0x02)) || (cls == 4 && (v & 0x08)) ||
         (cls == 5 && (v & 0x10));
}

static void
wellknown(coap_context_t *ctx, const coap_pdu_t *req, coap_pdu_t *resp,
          const coap_string_t *query)
{
  size_t need = coap_print_wellknown(ctx, NULL, 0, query);
  uint8_t *p;

  if (req->code != COAP_REQUEST_CODE_GET) {
    resp->code = COAP_RESPONSE_CODE_NOT_ALLOWED;
    return;
  }
  resp->code = COAP_RESPONSE_CODE_CONTENT;
  p = malloc(need ? need : 1);
  if (!p) {
    resp->code = COAP_RESPONSE_CODE_INTERNAL_ERROR;
    return;
  }
  coap_print_wellknown(ctx, p, need, query);
  /* A long list goes block-wise (RFC 7959), cut from this one snapshot. */
  if (!coap_add_data_large_response(NULL, resp->session, req, resp, query,
                                    COAP_MEDIATYPE_APPLICATION_LINK_FORMAT, -1,
                                    0, need, p, NULL, NULL)) {
    coap_log_warn("/.well-known/core: %zu bytes cannot be sent", need);
    coap_pdu_clear_body(resp);
    resp->code = COAP_RESPONSE_CODE_INTERNAL_ERROR;
  }
  free(p);
}

/* The option numbers a request may hold, as an opt_mask: exact for a
 * parsed view, "any" otherwise.  Lets the request path skip lookups. */
static uint64_t
request_options(const coap_pdu_t *req)
{
  return !req->buf_base && req->opt_mask_valid ? req->opt_mask : ~0ull;
}

/* The handler, with what block.c and observe.c add around it: a Block1
 * upload is reassembled first, an Observe registration recorded after. */
static void
run_handler(coap_method_handler_t h, coap_resource_t *r, coap_session_t *s,
            const coap_pdu_t *req, const coap_string_t *query,
            coap_pdu_t *resp, uint64_t opts)
{
  coap_pdu_t *body = NULL;
  const coap_pdu_t *wire = req; /* what the peer sent: its size counts */
  /* A parsed request tells from its option mask, without a lookup, that
   * block.c (Block1) or observe.c (Observe) has nothing to do. */
  int observe = (opts & COAP_OPT_MASK_BIT(COAP_OPTION_OBSERVE)) != 0;

  if ((opts & COAP_OPT_MASK_BIT(COAP_OPTION_BLOCK2)) &&
      coap_block_server_cached(s, req, resp))
    return;
  if ((opts & COAP_OPT_MASK_BIT(COAP_OPTION_BLOCK1)) &&
      coap_block_server_request(s, req, resp, &body))
    return;
  if (body) {
    req = body;
    observe = 1;
  }
  if (observe)
    coap_observe_before(r, s, req, resp);
  h(r, s, req, query, resp);
  /* Before observe.c: a 4.01 in place of the answer registers nobody.
   * Other answers are limited once, after dispatch (coap_handle_request). */
  if (observe && !s->dead) {
    coap_amp_limit(s, wire, resp);
    coap_observe_after(r, s, req, resp);
  }
  if (body)
    coap_delete_pdu(body);
}

static void
dispatch(coap_session_t *s, const coap_pdu_t *req, coap_pdu_t *resp,
         uint64_t opts)
{
  coap_context_t *ctx = s->context;
  uint8_t path[PATH_MAX_LEN], query[QUERY_MAX_LEN];
  size_t plen = 0, qlen = 0;
  int pcount, qcount;
  coap_string_t qs;
  coap_resource_t *r;
  coap_method_handler_t h;
  coap_opt_iterator_t oi;

  if (opts && coap_pdu_unknown_critical(req)) {
    resp->code = COAP_RESPONSE_CODE_BAD_OPTION;
    return;
  }
  /* Not a proxy: RFC 7252 5.7.2 wants 5.05 rather than serving our own
   * resource under someone else's name. */
  if (opts &&
      (coap_check_option(req, COAP_OPTION_PROXY_URI, &oi) ||
       coap_check_option(req, COAP_OPTION_PROXY_SCHEME, &oi))) {
    resp->code = COAP_RESPONSE_CODE_PROXYING_NOT_SUPPORTED;
    return;
  }
  pcount = qcount = 0;
  path[0] = query[0] = 0;
  if (opts &&
      (!join_options(req, COAP_OPTION_URI_PATH, '/', path, sizeof(path),
                     &plen, &pcount) ||
       !join_options(req, COAP_OPTION_URI_QUERY, '&', query, sizeof(query),
                     &qlen, &qcount))) {
    resp->code = COAP_RESPONSE_CODE_BAD_REQUEST;
    return;
  }
  qs.s = query;
  qs.length = qlen;
  r = lookup(ctx, path, plen);
  if (!r && plen == strlen(WELLKNOWN) && memcmp(path, WELLKNOWN, plen) == 0) {
    wellknown(ctx, req, resp, qcount ? &qs : NULL);
    return;
  }
  if (!r && ctx->unknown_resource && req->code <= COAP_REQUEST_CODE_IPATCH &&
      ctx->unknown_resource->handler[req->code - 1])
    r = ctx->unknown_resource;
  if (!r) {
    resp->code = COAP_RESPONSE_CODE_NOT_FOUND;
    return;
  }
  h = req->code <= COAP_REQUEST_CODE_IPATCH ? r->handler[req->code - 1] : NULL;
  if (!h) {
    resp->code = COAP_RESPONSE_CODE_NOT_ALLOWED;
    return;
  }
  run_handler(h, r, s, req, qcount ? &qs : NULL, resp, opts);
}

void
coap_handle_request(coap_session_t *s, coap_pdu_t *req, coap_dedup_t *slot)
{
  coap_context_t *ctx = s->context;
  uint8_t stack[COAP_TX_SLOT], *buf;
  size_t size, len, cap;
  coap_batch_t *b = ctx->batch;
  int batched = b->tx_fd >= 0 && b->tx_count < b->width;
  coap_pdu_t resp;
  const uint8_t *data;
  int con = req->type == COAP_MESSAGE_CON;
  uint64_t opts = request_options(req);

  /* The reply is built in place in the batch's next send slot (what
   * coap_udp_batch_slot hands out), or on the stack outside a batch. */
  if (batched) {
    buf = b->tx + (size_t)b->tx_count * COAP_TX_SLOT;
    size = COAP_TX_SLOT;
  } else {
    buf = stack;
    size = sizeof(stack);
  }
  cap = (size_t)s->ext->mtu + COAP_PDU_HEADROOM;
  coap_pdu_init_static(&resp, buf, cap < size ? cap : size,
                       con ? COAP_MESSAGE_ACK : COAP_MESSAGE_NON,
                       COAP_EMPTY_CODE,
                       con ? req->mid : coap_new_message_id(s));
  resp.session = s;
  if (req->token_length == COAP_TOKEN_MAX_LEN &&
      resp.alloc_size >= COAP_TOKEN_MAX_LEN) {
    /* The usual 8-byte token, copied without coap_add_token's checks
     * (resp is new and empty). */
    memcpy(resp.token, req->token, COAP_TOKEN_MAX_LEN);
    resp.token_length = COAP_TOKEN_MAX_LEN;
    resp.used_size = COAP_TOKEN_MAX_LEN;
  } else if (!coap_add_token(&resp, req->token_length, req->token)) {
    return;
  }
  dispatch(s, req, &resp, opts);
  if (s->dead)
    return;
  coap_amp_limit(s, req, &resp); /* answers not from a handler: cached
                                    blocks, /.well-known/core */
  if (ctx->request_log)
    ctx->request_log(s, req, &resp);
  if (s->ext->stream) {
    /* RFC 8323: nothing to acknowledge; the response goes on the stream. */
    if (resp.code != COAP_EMPTY_CODE && !suppressed(req, (uint8_t)resp.code))
      coap_stream_send_pdu(s, &resp);
    return;
  }
  if (ctx->rx_mcast) {
    /* RFC 7252 8.2: errors to a group stay silent; answers are NON and
     * wait a random part of the Leisure period. */
    if ((COAP_RESPONSE_CLASS(resp.code) == 2 ||
         coap_amp_is_challenge(&resp)) &&
        !suppressed(req, (uint8_t)resp.code)) {
      resp.type = COAP_MESSAGE_NON;
      if (con)
        resp.mid = coap_new_message_id(s);
      data = coap_pdu_encode_udp(&resp, &len);
      if (data)
        coap_mcast_delay(s, data, len);
    }
    return;
  }
  if (resp.code == COAP_EMPTY_CODE ||
      ((opts & COAP_OPT_MASK_BIT(COAP_OPTION_NORESPONSE)) &&
       suppressed(req, (uint8_t)resp.code))) {
    /* No response now (separate, or not wanted): a CON still needs its ACK. */
    if (con) {
      uint8_t ack[4] = {0x40 | (COAP_MESSAGE_ACK << 4), 0,
                        (uint8_t)(req->mid >> 8), (uint8_t)req->mid};
      coap_dedup_store(slot, ack, sizeof(ack));
      coap_udp_reply(s, ack, sizeof(ack));
    }
    return;
  }
  data = coap_pdu_encode_udp(&resp, &len);
  if (!data) {
    coap_log_warn("cannot encode the response to %s", coap_session_str(s));
    return;
  }
  if (con)
    coap_dedup_keep(slot, data, len);
  if (batched)
    coap_udp_batch_commit(ctx, s, data, len);
  else
    coap_udp_send(s, data, len);
}
