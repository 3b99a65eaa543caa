/*
 * fuzz_linkformat.c -- the link-format parser (RFC 6690) and its filter
 * queries (RFC 6690 section 4.1), as a client reads /.well-known/core.
 *
 * Input: one byte L, then L bytes of filter query ("rt=temp*"), then the
 * document.  Every link the parser reports lies inside the document; a
 * callback that stops early sees exactly the links it asked for; the query
 * runs against every link, and queries built from the link itself
 * ("href=<target>", "href=<prefix>*", "<its first attribute name>") match.
 */
#include <strings.h>

#include "fuzz.h"

typedef struct walk_t {
  const uint8_t *doc;
  size_t len;
  size_t count;
  size_t stop_after; /* 0: never stop */
  const coap_str_const_t *query;
} walk_t;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  return 0;
}

static int
inside(const walk_t *w, const coap_str_const_t *v)
{
  return v->length == 0 ||
         (v->s >= w->doc && v->s + v->length <= w->doc + w->len);
}

/* The name of the first ";name[=...]" of attributes, as a query. */
static void
first_attr_matches(const coap_str_const_t *target, const coap_str_const_t *attrs)
{
  const uint8_t *p = attrs->s, *end = attrs->s + attrs->length, *n;
  coap_str_const_t q;

  if (attrs->length < 2 || p[0] != ';')
    return;
  n = ++p;
  while (p < end && *p != '=' && *p != ';')
    p++;
  if (p == n)
    return;
  q.s = n;
  q.length = (size_t)(p - n);
  FUZZ_CHECK(coap_link_matches(target, attrs, &q) == 1);
}

static void
self_queries_match(const coap_str_const_t *target, const coap_str_const_t *attrs)
{
  static uint8_t buf[8192];
  coap_str_const_t q = {0, buf};

  if (target->length + 6 > sizeof(buf))
    return;
  memcpy(buf, "href=", 5);
  memcpy(buf + 5, target->s, target->length);
  q.length = 5 + target->length;
  /* A target that ends in '*' reads as a prefix of itself: still a match. */
  FUZZ_CHECK(coap_link_matches(target, attrs, &q) == 1);
  q.length = 5 + target->length / 2;
  buf[q.length++] = '*';
  FUZZ_CHECK(coap_link_matches(target, attrs, &q) == 1);
  first_attr_matches(target, attrs);
}

static int
on_link(const coap_str_const_t *target, const coap_str_const_t *attrs,
        void *arg)
{
  walk_t *w = arg;

  FUZZ_CHECK(inside(w, target) && inside(w, attrs));
  (void)coap_link_matches(target, attrs, w->query);
  self_queries_match(target, attrs);
  w->count++;
  return w->stop_after && w->count == w->stop_after;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  coap_str_const_t query;
  walk_t w;
  size_t qlen, total;
  int rc;

  if (size < 1)
    return 0;
  qlen = data[0];
  if (qlen > size - 1)
    qlen = size - 1;
  query.s = data + 1;
  query.length = qlen;
  memset(&w, 0, sizeof(w));
  w.doc = data + 1 + qlen;
  w.len = size - 1 - qlen;
  w.query = &query;
  rc = coap_link_format_parse(w.doc, w.len, on_link, &w);
  FUZZ_CHECK(rc == 0 || rc == -1);
  FUZZ_CHECK(coap_link_format_parse(w.doc, w.len, NULL, NULL) == rc);
  if (rc < 0) {
    /* The whole document is checked first: no callback on a bad one. */
    FUZZ_CHECK(w.count == 0);
    return 0;
  }
  FUZZ_CHECK(w.count > 0);
  total = w.count;
  if (total > 1) {
    w.count = 0;
    w.stop_after = total / 2;
    FUZZ_CHECK(coap_link_format_parse(w.doc, w.len, on_link, &w) == 0);
    FUZZ_CHECK(w.count == total / 2);
  }
  return 0;
}
