/*
 * test_linkformat.c -- RFC 6690 link-format parsing and filter queries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap.h"
#include "tap.h"

typedef struct collect_t {
  size_t count;
  size_t stop_after; /* 0: never stop */
  char out[1024];    /* "target|attrs\n" per link */
} collect_t;

static int
collect(const coap_str_const_t *target, const coap_str_const_t *attrs,
        void *arg)
{
  collect_t *c = arg;
  size_t o = strlen(c->out);

  snprintf(c->out + o, sizeof(c->out) - o, "%.*s|%.*s\n", (int)target->length,
           (const char *)target->s, (int)attrs->length, (const char *)attrs->s);
  c->count++;
  return c->stop_after && c->count >= c->stop_after;
}

/* Parses a copy of exactly len bytes (so out-of-bounds reads are caught). */
static int
parse_exact(const char *doc, size_t len, collect_t *c)
{
  uint8_t *copy = malloc(len ? len : 1);
  int rc;

  if (len)
    memcpy(copy, doc, len);
  rc = coap_link_format_parse(copy, len, collect, c);
  free(copy);
  return rc;
}

static void
test_good(void)
{
  static const struct {
    const char *doc;
    const char *want;
  } cases[] = {
    {"</a>", "/a|\n"},
    {"<>", "|\n"},
    {"</a>;obs;ct=40;sz=1024", "/a|;obs;ct=40;sz=1024\n"},
    {"</sensors/temp>;rt=\"temperature-c\";if=\"sensor\",</sensors/light>;"
     "rt=\"light-lux\";if=\"sensor\"",
     "/sensors/temp|;rt=\"temperature-c\";if=\"sensor\"\n"
     "/sensors/light|;rt=\"light-lux\";if=\"sensor\"\n"},
    {"</a>;title=\"a, b; c\",</b>", "/a|;title=\"a, b; c\"\n/b|\n"},
    {"</a>;title=\"say \\\"hi\\\", ok\"", "/a|;title=\"say \\\"hi\\\", ok\"\n"},
    {"</a>;title=\"\"", "/a|;title=\"\"\n"},
    {"</a>;title*=UTF-8'de'n%c3%a4chstes", "/a|;title*=UTF-8'de'n%c3%a4chstes\n"},
    {"</sensors>;ct=40;title=\"Sensor Index\",</sensors/temp>;rt=\"temperature-c\";"
     "if=\"sensor\",<http://www.example.com/sensors/t123>;anchor=\"/sensors/temp\";"
     "rel=\"describedby\",</t>;anchor=\"/sensors/temp\";rel=\"alternate\"",
     "/sensors|;ct=40;title=\"Sensor Index\"\n"
     "/sensors/temp|;rt=\"temperature-c\";if=\"sensor\"\n"
     "http://www.example.com/sensors/t123|;anchor=\"/sensors/temp\";"
     "rel=\"describedby\"\n"
     "/t|;anchor=\"/sensors/temp\";rel=\"alternate\"\n"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    collect_t c;
    int rc;
    memset(&c, 0, sizeof(c));
    rc = parse_exact(cases[i].doc, strlen(cases[i].doc), &c);
    ok(rc == 0 && strcmp(c.out, cases[i].want) == 0, "parses: %s",
       cases[i].doc);
    if (rc != 0 || strcmp(c.out, cases[i].want) != 0)
      printf("#   rc %d, got:\n#   %s\n", rc, c.out);
  }
}

static void
test_malformed(void)
{
  static const char *const docs[] = {
    "",               "<",           "</a",         "</a>;title=\"abc",
    "</a>;t=\"abc\\", "</a>,",       ",</a>",       "</a> ;rt=x",
    "</a>;",          "</a>;rt=",    "</a>;=x",     "/a",
    "</a>x",          "</a>,,</b>",  "</a b>",      "</a>;rt=x y",
    "</a>;rt=\"x\"y", "</a>\n",      " </a>",       "</a>;rt=\"x\n\"",
    "<</a>",          "</a>;rt,x",   "</a>;rt=a,b", "</a>;r t",
    "</a>;rt=\"x\";", "</a\">",      "</a>;rt=\"x\",",
  };
  size_t i;

  for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    collect_t c;
    char name[64];
    size_t j;
    /* TAP descriptions must stay on one line */
    for (j = 0; docs[i][j] && j + 1 < sizeof(name); j++)
      name[j] = docs[i][j] == '\n' ? '~' : docs[i][j];
    name[j] = '\0';
    memset(&c, 0, sizeof(c));
    ok(parse_exact(docs[i], strlen(docs[i]), &c) == -1 && c.count == 0,
       "malformed, no callback: '%s'", name);
  }
  ok(coap_link_format_parse(NULL, 3, NULL, NULL) == -1, "NULL document");
  {
    /* "</a>;rt=x,</b>" read with a length that stops inside the quote */
    static const char doc[] = "</a>;rt=\"x\",</b>";
    collect_t c;
    memset(&c, 0, sizeof(c));
    ok(coap_link_format_parse((const uint8_t *)doc, 10, collect, &c) == -1,
       "length bounds the parse");
  }
}

static void
test_truncations(void)
{
  static const char doc[] = "</a>;rt=\"x\",</b>";
  /* the prefixes that are documents themselves */
  static const size_t valid[] = {4, 6, 7, 11, 16};
  size_t len, bad = 0, v;

  for (len = 0; len <= strlen(doc); len++) {
    collect_t c;
    int want = -1, rc;
    memset(&c, 0, sizeof(c));
    for (v = 0; v < sizeof(valid) / sizeof(valid[0]); v++)
      if (valid[v] == len)
        want = 0;
    rc = parse_exact(doc, len, &c);
    if (rc != want) {
      bad++;
      printf("#   prefix %zu: rc %d\n", len, rc);
    }
  }
  is_int(bad, 0, "every prefix parses only when it is a document");
}

static void
test_callback_stop(void)
{
  static const char doc[] = "</a>,</b>,</c>";
  collect_t c;

  memset(&c, 0, sizeof(c));
  c.stop_after = 2;
  ok(parse_exact(doc, strlen(doc), &c) == 0 && c.count == 2 &&
         strcmp(c.out, "/a|\n/b|\n") == 0,
     "a non-zero callback stops the walk");
  memset(&c, 0, sizeof(c));
  ok(coap_link_format_parse((const uint8_t *)doc, strlen(doc), NULL, NULL) == 0,
     "validation without a callback");
}

/* ---------------------------------------------------------------- filters */

static void
test_filters(void)
{
  static const struct {
    const char *target, *attrs, *query;
    int want;
  } cases[] = {
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "rt=temperature-c", 1},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "rt=temp*", 1},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "rt=te*", 1},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "rt=temperature", 0},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "rt=temp", 0},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "rt=*", 1},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "if=sensor", 1},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "if=sensors", 0},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "RT=temperature-c", 1},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "href=/sensors/temp", 1},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "href=/sen*", 1},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "href=/sensors", 0},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "href=/x*", 0},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "ct=40", 0},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "title=x", 0},
    {"/sensors/temp", ";rt=\"temperature-c\";if=\"sensor\"", "", 1},
    {"/sensors", ";ct=40;title=\"Sensor Index\"", "ct=40", 1},
    {"/sensors", ";ct=40;title=\"Sensor Index\"", "ct=4", 0},
    {"/sensors", ";ct=40;title=\"Sensor Index\"", "ct=4*", 1},
    {"/sensors", ";ct=40;title=\"Sensor Index\"", "ct=0", 0},
    {"/sensors", ";ct=40;title=\"Sensor Index\"", "title=Sensor Index", 1},
    {"/sensors", ";ct=40;title=\"Sensor Index\"", "title=Sensor*", 1},
    {"/sensors", ";ct=40;title=\"Sensor Index\"", "title=Sensor", 0},
    {"/sensors", ";ct=40;title=\"Sensor Index\"", "title=Index", 0},
    {"/x", ";rt=\"a b c\";ct=\"0 40\"", "rt=b", 1},
    {"/x", ";rt=\"a b c\";ct=\"0 40\"", "rt=c", 1},
    {"/x", ";rt=\"a b c\";ct=\"0 40\"", "rt=a b", 0},
    {"/x", ";rt=\"a b c\";ct=\"0 40\"", "rt=d", 0},
    {"/x", ";rt=\"a b c\";ct=\"0 40\"", "ct=40", 1},
    {"/x", ";rt=\"a b c\";ct=\"0 40\"", "ct=0", 1},
    {"/x", ";rt=a;rt=b", "rt=b", 1},
    {"/x", ";obs;rt=x", "obs", 1},
    {"/x", ";obs;rt=x", "rt=x", 1},
    {"/x", ";obs;rt=x", "sz", 0},
    {"/x", ";obs;rt=x", "rt", 1},
    {"/x", ";rt=x", "obs", 0},
    {"/x", ";title=\"a\\\"b\"", "title=a\"b", 1},
    {"/x", ";title=\"x y\"", "title=x", 0},
    {"/x", ";title=\"x y\"", "title=x y", 1},
    {"/x", ";rt=\"x", "rt=x", 0},
    {"/x", "", "rt=x", 0},
    {"/x", ";sz=1024", "sz=1024", 1},
    {"/x", ";sz=1024", "sz=10240", 0},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    coap_str_const_t t = {strlen(cases[i].target),
                          (const uint8_t *)cases[i].target};
    coap_str_const_t a = {strlen(cases[i].attrs), (const uint8_t *)cases[i].attrs};
    coap_str_const_t q = {strlen(cases[i].query), (const uint8_t *)cases[i].query};
    is_int(coap_link_matches(&t, &a, &q), cases[i].want, cases[i].query);
  }
  ok(coap_link_matches(NULL, NULL, NULL) == 1, "no query matches everything");
}

int
main(void)
{
  coap_set_log_level(COAP_LOG_ERR);
  test_good();
  test_malformed();
  test_truncations();
  test_callback_stop();
  test_filters();
  return tap_done();
}
