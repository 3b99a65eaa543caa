/*
 * testres.c -- coap-server's test resources (see testres.h).
 *
 * Every body is served through coap_add_data_large_response, so any of
 * them may be larger than a datagram; uploads arrive whole because the
 * server runs the library's block mode.  A separate response holds a
 * reference on its session until it is sent.
 */
#include "config.h"

#include "testres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output.h"

typedef struct ck_body_t {
  uint8_t *data;
  size_t len;
  int format;     /* Content-Format; -1 none */
  uint64_t etag;  /* changes with every new body */
  int exists;
} ck_body_t;

/* What a resource's userdata points at. */
typedef struct ck_res_t {
  struct ck_res_t *next;
  ck_testres_t *owner;
  ck_body_t body;
  const char *text; /* a fixed answer, or NULL */
} ck_res_t;

typedef struct ck_pending_t {
  struct ck_pending_t *next;
  coap_session_t *session; /* referenced */
  uint64_t due_ms;
  coap_pdu_type_t type;
  uint8_t token[COAP_TOKEN_MAX_LEN];
  size_t token_length;
  unsigned int delay_ms;
} ck_pending_t;

struct ck_testres_t {
  coap_context_t *context;
  ck_res_t *all;
  ck_pending_t *pending;
  coap_resource_t *clock, *obs, *obs_non;
  uint64_t next_clock_ms, next_obs_ms;
  uint64_t etag_seq;
  unsigned int obs_value;
  unsigned int created;
};

/* ---------------------------------------------------------------- helpers */

static void
add_uint(coap_pdu_t *pdu, coap_option_num_t number, unsigned int value)
{
  uint8_t buf[4];

  coap_add_option(pdu, number, coap_encode_var_safe(buf, sizeof(buf), value),
                  buf);
}

static int
uint_option(const coap_pdu_t *pdu, coap_option_num_t number)
{
  coap_opt_iterator_t oi;
  coap_opt_t *opt = coap_check_option(pdu, number, &oi);

  if (opt == NULL || coap_opt_length(opt) > 4)
    return -1;
  return (int)(coap_decode_var_bytes(coap_opt_value(opt),
                                     coap_opt_length(opt)) & 0xffff);
}

static void
answer_text(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
            coap_pdu_t *resp, const char *text, int maxage)
{
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
  coap_add_data_large_response(r, s, req, resp, NULL,
                               COAP_MEDIATYPE_TEXT_PLAIN, maxage, 0,
                               strlen(text), (const uint8_t *)text, NULL,
                               NULL);
}

static ck_res_t *
res_of(coap_resource_t *r)
{
  return coap_resource_get_userdata(r);
}

static int
body_set(ck_testres_t *t, ck_body_t *b, const uint8_t *data, size_t len,
         int format)
{
  uint8_t *copy = malloc(len ? len : 1);

  if (copy == NULL)
    return 0;
  if (len)
    memcpy(copy, data, len);
  free(b->data);
  b->data = copy;
  b->len = len;
  b->format = format;
  b->etag = ++t->etag_seq;
  b->exists = 1;
  return 1;
}

static void
body_clear(ck_body_t *b)
{
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->exists = 0;
}

/* RFC 7252 5.10.8: 1 when If-Match / If-None-Match allow the request,
 * else the response becomes 4.12. */
static int
preconditions_hold(const coap_pdu_t *req, const ck_body_t *b,
                   coap_pdu_t *resp)
{
  coap_opt_iterator_t oi;
  coap_opt_filter_t f;
  coap_opt_t *o;
  uint8_t et[8];
  unsigned etlen = coap_encode_var_safe8(et, sizeof(et), b->etag);
  int any = 0, match = 0;

  coap_option_filter_clear(&f);
  coap_option_filter_set(&f, COAP_OPTION_IF_MATCH);
  coap_option_iterator_init(req, &oi, &f);
  while ((o = coap_option_next(&oi))) {
    any = 1;
    if (b->exists &&
        (coap_opt_length(o) == 0 ||
         (coap_opt_length(o) == etlen &&
          memcmp(coap_opt_value(o), et, etlen) == 0)))
      match = 1;
  }
  if ((any && !match) ||
      (b->exists && coap_check_option(req, COAP_OPTION_IF_NONE_MATCH, &oi))) {
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_PRECONDITION_FAILED);
    return 0;
  }
  return 1;
}

static void
add_etag(coap_pdu_t *resp, uint64_t etag)
{
  uint8_t et[8];

  coap_add_option(resp, COAP_OPTION_ETAG,
                  coap_encode_var_safe8(et, sizeof(et), etag), et);
}

static void
serve_body(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
           coap_pdu_t *resp, const ck_body_t *b)
{
  if (!b->exists) {
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_NOT_FOUND);
    return;
  }
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
  coap_add_data_large_response(
      r, s, req, resp, NULL,
      (uint16_t)(b->format >= 0 ? b->format
                                : COAP_MEDIATYPE_APPLICATION_OCTET_STREAM),
      -1, b->etag, b->len, b->data, NULL, NULL);
}

/* PUT/POST store, GET serve, DELETE clear; preconditions checked. */
static void
handle_store(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
             const coap_string_t *q, coap_pdu_t *resp)
{
  ck_res_t *res = res_of(r);
  ck_body_t *b = &res->body;
  uint8_t code = (uint8_t)coap_pdu_get_code(req);
  const uint8_t *data = NULL;
  size_t len = 0;
  int existed = b->exists;

  (void)q;
  if (code == COAP_REQUEST_CODE_GET) {
    serve_body(r, s, req, resp, b);
    return;
  }
  if (!preconditions_hold(req, b, resp))
    return;
  if (code == COAP_REQUEST_CODE_DELETE) {
    body_clear(b);
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_DELETED);
    return;
  }
  coap_get_data(req, &len, &data);
  if (!body_set(res->owner, b, data, len,
                uint_option(req, COAP_OPTION_CONTENT_FORMAT))) {
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_INTERNAL_ERROR);
    return;
  }
  coap_pdu_set_code(resp, existed ? COAP_RESPONSE_CODE_CHANGED
                                  : COAP_RESPONSE_CODE_CREATED);
  add_etag(resp, b->etag);
}

static void
handle_text(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
            const coap_string_t *q, coap_pdu_t *resp)
{
  (void)q;
  answer_text(r, s, req, resp, res_of(r)->text, -1);
}

static void
utc_now(char *buf, size_t len)
{
  time_t now = time(NULL);
  struct tm tm;

  if (gmtime_r(&now, &tm) == NULL ||
      strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, len, "%lld", (long long)now);
}

/* ---------------------------------------------------------------- basics */

static void
handle_clock(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
             const coap_string_t *q, coap_pdu_t *resp)
{
  char text[32];

  (void)q;
  utc_now(text, sizeof(text));
  /* Fresh for two periods: a missed notification is not yet stale. */
  answer_text(r, s, req, resp, text, 2);
}

static void
handle_separate(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
                const coap_string_t *q, coap_pdu_t *resp)
{
  ck_testres_t *t = res_of(r)->owner;
  coap_bin_const_t token = coap_pdu_get_token(req);
  ck_pending_t *p;
  unsigned long delay = CK_SEPARATE_DELAY_MS;

  if (q != NULL && q->length > 6 && memcmp(q->s, "delay=", 6) == 0) {
    char num[16];
    size_t n = q->length - 6 < sizeof(num) - 1 ? q->length - 6
                                               : sizeof(num) - 1;
    memcpy(num, q->s + 6, n);
    num[n] = '\0';
    delay = strtoul(num, NULL, 10);
    if (delay > CK_SEPARATE_DELAY_MAX_MS)
      delay = CK_SEPARATE_DELAY_MAX_MS;
  }
  p = calloc(1, sizeof(*p));
  if (p == NULL) {
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_INTERNAL_ERROR);
    return;
  }
  p->session = coap_session_reference(s);
  p->due_ms = coap_ticks_ms() + delay;
  p->delay_ms = (unsigned int)delay;
  p->type = coap_pdu_get_type(req) == COAP_MESSAGE_NON ? COAP_MESSAGE_NON
                                                       : COAP_MESSAGE_CON;
  p->token_length = token.length;
  memcpy(p->token, token.s, token.length);
  p->next = t->pending;
  t->pending = p;
  /* No code: the library acknowledges a CON now, we answer later. */
}

static void
send_separate(ck_pending_t *p)
{
  char text[64];
  coap_pdu_t *pdu = coap_pdu_init(p->type, COAP_RESPONSE_CODE_CONTENT,
                                  COAP_INVALID_MID,
                                  coap_session_max_pdu_size(p->session));

  if (pdu == NULL)
    return;
  snprintf(text, sizeof(text), "separate response after %u ms", p->delay_ms);
  coap_add_token(pdu, p->token_length, p->token);
  add_uint(pdu, COAP_OPTION_CONTENT_FORMAT, COAP_MEDIATYPE_TEXT_PLAIN);
  coap_add_data(pdu, strlen(text), (const uint8_t *)text);
  coap_send(p->session, pdu);
}

static void
handle_large(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
             const coap_string_t *q, coap_pdu_t *resp)
{
  (void)q;
  serve_body(r, s, req, resp, &res_of(r)->body);
}

/* ---------------------------------------------------------------- plugtest */

static void
handle_test(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
            const coap_string_t *q, coap_pdu_t *resp)
{
  static const char *const loc[] = {"location1", "location2", "location3"};

  (void)q;
  switch (coap_pdu_get_code(req)) {
  case COAP_REQUEST_CODE_GET:
    answer_text(r, s, req, resp, "Type: test resource (GET)", -1);
    break;
  case COAP_REQUEST_CODE_POST:
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CREATED);
    for (size_t i = 0; i < 3; i++)
      coap_add_option(resp, COAP_OPTION_LOCATION_PATH, strlen(loc[i]),
                      (const uint8_t *)loc[i]);
    break;
  case COAP_REQUEST_CODE_PUT:
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
    break;
  case COAP_REQUEST_CODE_DELETE:
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_DELETED);
    break;
  default:
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_NOT_ALLOWED);
    break;
  }
}

static void
handle_query(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
             const coap_string_t *q, coap_pdu_t *resp)
{
  char text[256];

  snprintf(text, sizeof(text), "query: %.*s", q ? (int)q->length : 0,
           q ? (const char *)q->s : "");
  answer_text(r, s, req, resp, text, -1);
}

static void
handle_location_query(coap_resource_t *r, coap_session_t *s,
                      const coap_pdu_t *req, const coap_string_t *q,
                      coap_pdu_t *resp)
{
  (void)r;
  (void)s;
  (void)req;
  (void)q;
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CREATED);
  coap_add_option(resp, COAP_OPTION_LOCATION_QUERY, 7,
                  (const uint8_t *)"first=1");
  coap_add_option(resp, COAP_OPTION_LOCATION_QUERY, 8,
                  (const uint8_t *)"second=2");
}

static void
handle_multi_format(coap_resource_t *r, coap_session_t *s,
                    const coap_pdu_t *req, const coap_string_t *q,
                    coap_pdu_t *resp)
{
  static const char xml[] = "<value>multi-format</value>";
  static const char text[] = "multi-format";
  int accept = uint_option(req, COAP_OPTION_ACCEPT);

  (void)q;
  if (accept == COAP_MEDIATYPE_APPLICATION_XML) {
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
    coap_add_data_large_response(r, s, req, resp, NULL,
                                 COAP_MEDIATYPE_APPLICATION_XML, -1, 0,
                                 sizeof(xml) - 1, (const uint8_t *)xml, NULL,
                                 NULL);
  } else if (accept < 0 || accept == COAP_MEDIATYPE_TEXT_PLAIN) {
    answer_text(r, s, req, resp, text, -1);
  } else {
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_NOT_ACCEPTABLE);
  }
}

static void
handle_large_create(coap_resource_t *r, coap_session_t *s,
                    const coap_pdu_t *req, const coap_string_t *q,
                    coap_pdu_t *resp)
{
  ck_res_t *res = res_of(r);
  char n[16];

  handle_store(r, s, req, q, resp);
  if (coap_pdu_get_code(resp) != COAP_RESPONSE_CODE_CREATED &&
      coap_pdu_get_code(resp) != COAP_RESPONSE_CODE_CHANGED)
    return;
  /* Every POST creates: the new body is at a location of its own. */
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CREATED);
  snprintf(n, sizeof(n), "%u", ++res->owner->created);
  coap_add_option(resp, COAP_OPTION_LOCATION_PATH, 12,
                  (const uint8_t *)"large-create");
  coap_add_option(resp, COAP_OPTION_LOCATION_PATH, strlen(n),
                  (const uint8_t *)n);
}

static void
handle_obs(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
           const coap_string_t *q, coap_pdu_t *resp)
{
  char text[64];

  (void)q;
  snprintf(text, sizeof(text), "%u", res_of(r)->owner->obs_value);
  answer_text(r, s, req, resp, text, CK_OBS_PERIOD_MS / 1000u + 1u);
}

/* ---------------------------------------------------------------- set-up */

static coap_resource_t *
add(ck_testres_t *t, const char *path, coap_method_handler_t get,
    coap_method_handler_t other, const char *text)
{
  coap_resource_t *r;
  ck_res_t *res = calloc(1, sizeof(*res));

  if (res == NULL)
    return NULL;
  res->owner = t;
  res->text = text;
  res->body.format = -1;
  res->next = t->all;
  t->all = res;
  r = coap_resource_init(
      &(coap_str_const_t){strlen(path), (const uint8_t *)path}, 0);
  if (r == NULL)
    return NULL;
  coap_resource_set_userdata(r, res);
  if (get != NULL)
    coap_register_handler(r, COAP_REQUEST_GET, get);
  if (other != NULL) {
    coap_register_handler(r, COAP_REQUEST_PUT, other);
    coap_register_handler(r, COAP_REQUEST_POST, other);
    coap_register_handler(r, COAP_REQUEST_DELETE, other);
  }
  coap_add_resource(t->context, r);
  return r;
}

static void
attr(coap_resource_t *r, const char *name, const char *value)
{
  if (r == NULL)
    return;
  coap_add_attr(r, &(coap_str_const_t){strlen(name), (const uint8_t *)name},
                value ? &(coap_str_const_t){strlen(value),
                                            (const uint8_t *)value}
                      : NULL,
                0);
}

static int
large_body(ck_testres_t *t, ck_body_t *b)
{
  uint8_t *data = malloc(CK_LARGE_SIZE);
  size_t n = 0;
  int ok;

  if (data == NULL)
    return 0;
  /* Numbered lines, so that a missing or repeated block shows. */
  for (unsigned line = 0; n < CK_LARGE_SIZE; line++) {
    char buf[80];
    int k = snprintf(buf, sizeof(buf),
                     "%04u coapkit large resource, block-wise test line\n",
                     line);
    size_t take = CK_LARGE_SIZE - n < (size_t)k ? CK_LARGE_SIZE - n
                                                : (size_t)k;
    memcpy(data + n, buf, take);
    n += take;
  }
  ok = body_set(t, b, data, n, COAP_MEDIATYPE_TEXT_PLAIN);
  free(data);
  return ok;
}

static int
add_basics(ck_testres_t *t)
{
  coap_resource_t *large, *upload, *sep;

  t->clock = add(t, "clock", handle_clock, NULL, NULL);
  large = add(t, "large", handle_large, NULL, NULL);
  upload = add(t, "upload", handle_store, handle_store, NULL);
  sep = add(t, "separate", handle_separate, NULL, NULL);
  if (!t->clock || !large || !upload || !sep ||
      !large_body(t, &res_of(large)->body))
    return 0;
  coap_resource_set_get_observable(t->clock, 1);
  attr(t->clock, "rt", "clock");
  attr(t->clock, "title", "UTC time, observable, every second");
  attr(large, "title", "A large resource (block-wise)");
  attr(large, "sz", "5000");
  attr(upload, "title", "Upload sink: PUT/POST a body, GET it back");
  attr(sep, "title", "A separate response (?delay=ms)");
  return 1;
}

static int
add_links(ck_testres_t *t)
{
  coap_resource_t *r;

  r = add(t, "link1", handle_text, NULL, "link1");
  attr(r, "rt", "Type1 Type2");
  attr(r, "if", "If1");
  r = add(t, "link2", handle_text, NULL, "link2");
  attr(r, "rt", "Type2 Type3");
  attr(r, "if", "If2");
  r = add(t, "link3", handle_text, NULL, "link3");
  attr(r, "rt", "Type1 Type3");
  attr(r, "if", "foo");
  r = add(t, "path", handle_text, NULL,
          "</path/sub1>,</path/sub2>,</path/sub3>");
  attr(r, "ct", "40");
  attr(add(t, "path/sub1", handle_text, NULL, "sub1"), "title", "sub1");
  attr(add(t, "path/sub2", handle_text, NULL, "sub2"), "title", "sub2");
  attr(add(t, "path/sub3", handle_text, NULL, "sub3"), "title", "sub3");
  r = add(t, "extend", handle_text, NULL, "extend");
  attr(r, "title", "extended link attributes");
  return 1;
}

static int
add_plugtest(ck_testres_t *t)
{
  coap_resource_t *r;

  add(t, "test", handle_test, handle_test, NULL);
  attr(add(t, "seg1/seg2/seg3", handle_text, NULL, "seg3"), "title",
       "Long path");
  add(t, "query", handle_query, NULL, NULL);
  r = add(t, "location-query", NULL, NULL, NULL);
  if (r != NULL)
    coap_register_handler(r, COAP_REQUEST_POST, handle_location_query);
  r = add(t, "multi-format", handle_multi_format, NULL, NULL);
  attr(r, "ct", "0 41");
  r = add(t, "validate", handle_store, handle_store, NULL);
  if (r == NULL || !body_set(t, &res_of(r)->body,
                             (const uint8_t *)"validate", 8,
                             COAP_MEDIATYPE_TEXT_PLAIN))
    return 0;
  add(t, "create1", handle_store, handle_store, NULL);
  r = add(t, "large-update", handle_store, handle_store, NULL);
  if (r == NULL || !large_body(t, &res_of(r)->body))
    return 0;
  r = add(t, "large-create", handle_store, handle_large_create, NULL);
  t->obs = add(t, "obs", handle_obs, NULL, NULL);
  t->obs_non = add(t, "obs-non", handle_obs, NULL, NULL);
  if (!t->obs || !t->obs_non)
    return 0;
  coap_resource_set_get_observable(t->obs, 1);
  coap_resource_set_mode(t->obs, COAP_RESOURCE_FLAGS_NOTIFY_CON);
  coap_resource_set_get_observable(t->obs_non, 1);
  attr(t->obs, "rt", "observe");
  attr(t->obs_non, "rt", "observe");
  return add_links(t);
}

ck_testres_t *
ck_testres_add(coap_context_t *context, int plugtest)
{
  ck_testres_t *t = calloc(1, sizeof(*t));

  if (t == NULL)
    return NULL;
  t->context = context;
  t->next_clock_ms = coap_ticks_ms() + CK_CLOCK_PERIOD_MS;
  t->next_obs_ms = coap_ticks_ms() + CK_OBS_PERIOD_MS;
  if (!add_basics(t) || (plugtest && !add_plugtest(t))) {
    ck_testres_free(t);
    return NULL;
  }
  return t;
}

static unsigned int
send_due(ck_testres_t *t, uint64_t now)
{
  ck_pending_t **pp = &t->pending;
  uint64_t next = now + 1000;

  while (*pp != NULL) {
    ck_pending_t *p = *pp;
    if (p->due_ms > now) {
      if (p->due_ms < next)
        next = p->due_ms;
      pp = &p->next;
      continue;
    }
    *pp = p->next;
    send_separate(p);
    coap_session_release(p->session);
    free(p);
  }
  return (unsigned int)(next - now);
}

unsigned int
ck_testres_tick(ck_testres_t *t)
{
  uint64_t now = coap_ticks_ms();
  unsigned int wait;

  if (t == NULL)
    return 1000;
  if (now >= t->next_clock_ms) {
    coap_resource_notify_observers(t->clock, NULL);
    t->next_clock_ms = now + CK_CLOCK_PERIOD_MS;
  }
  if (now >= t->next_obs_ms && t->obs != NULL) {
    t->obs_value++;
    coap_resource_notify_observers(t->obs, NULL);
    coap_resource_notify_observers(t->obs_non, NULL);
    t->next_obs_ms = now + CK_OBS_PERIOD_MS;
  }
  wait = send_due(t, now);
  if (t->next_clock_ms - now < wait)
    wait = (unsigned int)(t->next_clock_ms - now);
  return wait;
}

void
ck_testres_free(ck_testres_t *t)
{
  ck_res_t *res, *next;
  ck_pending_t *p, *pnext;

  if (t == NULL)
    return;
  for (res = t->all; res != NULL; res = next) {
    next = res->next;
    free(res->body.data);
    free(res);
  }
  /* The context (and its sessions) is gone: nothing to release. */
  for (p = t->pending; p != NULL; p = pnext) {
    pnext = p->next;
    free(p);
  }
  free(t);
}

/* ---------------------------------------------------------------- groups */

static int
join_one(coap_context_t *context, const char *group, const char *ifname)
{
  if (coap_join_mcast_group_intf(context, group, ifname) == 0)
    return 0;
  ck_diag("cannot join the multicast group %s%s%s", group,
          ifname ? " on " : "", ifname ? ifname : "");
  return -1;
}

int
ck_join_groups(coap_context_t *context, const char *const *groups,
               size_t count, const char *ifname)
{
  static const char *const all[] = {"224.0.1.187", "ff02::fd", "ff05::fd"};

  for (size_t i = 0; i < count; i++) {
    if (strcmp(groups[i], "all") != 0) {
      if (join_one(context, groups[i], ifname) < 0)
        return -1;
      continue;
    }
    /* All-CoAP-Nodes: a family the server does not listen on is skipped,
     * but at least one group must take. */
    int joined = 0;
    for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
      joined += coap_join_mcast_group_intf(context, all[k], ifname) == 0;
    if (!joined) {
      ck_diag("cannot join any All-CoAP-Nodes group");
      return -1;
    }
  }
  return 0;
}
