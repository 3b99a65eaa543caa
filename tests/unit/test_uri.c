/*
 * test_uri.c -- URI splitting, Uri-* options, and the way back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdu_internal.h"
#include "tap.h"

#define ERR -1 /* any negative result */

static const struct {
  const char *uri;
  int proxy;
  int ok;
  coap_uri_scheme_t scheme;
  const char *host;
  int port;
  const char *path;
  const char *query;
} split_cases[] = {
  {"coap://example.com/a/b?x=1", 0, 1, COAP_URI_SCHEME_COAP, "example.com",
   5683, "a/b", "x=1"},
  {"coaps://h", 0, 1, COAP_URI_SCHEME_COAPS, "h", 5684, "", ""},
  {"coap+tcp://h:1/", 0, 1, COAP_URI_SCHEME_COAP_TCP, "h", 1, "", ""},
  {"coaps+tcp://h", 0, 1, COAP_URI_SCHEME_COAPS_TCP, "h", 5684, "", ""},
  {"coap+ws://h/p", 0, 1, COAP_URI_SCHEME_COAP_WS, "h", 80, "p", ""},
  {"coaps+ws://h", 0, 1, COAP_URI_SCHEME_COAPS_WS, "h", 443, "", ""},
  {"COAP://H/", 0, 1, COAP_URI_SCHEME_COAP, "H", 5683, "", ""},
  {"CoApS+TcP://h", 0, 1, COAP_URI_SCHEME_COAPS_TCP, "h", 5684, "", ""},
  {"coap://[::1]:5683/x", 0, 1, COAP_URI_SCHEME_COAP, "::1", 5683, "x", ""},
  {"coap://[fe80::1%25eth0]/", 0, 1, COAP_URI_SCHEME_COAP, "fe80::1%25eth0",
   5683, "", ""},
  {"coap://[2001:db8::7]:61616", 0, 1, COAP_URI_SCHEME_COAP, "2001:db8::7",
   61616, "", ""},
  {"coap://h:0", 0, 1, COAP_URI_SCHEME_COAP, "h", 0, "", ""},
  {"coap://h:65535/", 0, 1, COAP_URI_SCHEME_COAP, "h", 65535, "", ""},
  {"coap://h:", 0, 1, COAP_URI_SCHEME_COAP, "h", 5683, "", ""},
  {"coap://h:00080", 0, 1, COAP_URI_SCHEME_COAP, "h", 80, "", ""},
  {"coap://h?q", 0, 1, COAP_URI_SCHEME_COAP, "h", 5683, "", "q"},
  {"coap://h/a/?a&b=c/d?e", 0, 1, COAP_URI_SCHEME_COAP, "h", 5683, "a/",
   "a&b=c/d?e"},
  {"coap://h//", 0, 1, COAP_URI_SCHEME_COAP, "h", 5683, "/", ""},
  {"coap://%2Ftmp%2Fsock/path", 0, 1, COAP_URI_SCHEME_COAP, "%2Ftmp%2Fsock", 0,
   "path", ""},
  {"coap://%2ftmp%2fsock", 0, 1, COAP_URI_SCHEME_COAP, "%2ftmp%2fsock", 0, "",
   ""},
  {"coap://h/~a/%7E/!$&'()*+,;=:@", 0, 1, COAP_URI_SCHEME_COAP, "h", 5683,
   "~a/%7E/!$&'()*+,;=:@", ""},
  {"http://h/", 1, 1, COAP_URI_SCHEME_HTTP, "h", 80, "", ""},
  {"https://h:8443/x", 1, 1, COAP_URI_SCHEME_HTTPS, "h", 8443, "x", ""},
  {"coap://h/", 1, 1, COAP_URI_SCHEME_COAP, "h", 5683, "", ""},
  {"http://h/", 0, 0, 0, NULL, 0, NULL, NULL},
  {"https://h/", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://h:65536", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://h:99999", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://h:123456", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://h:-1", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://h:8x", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://h#frag", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://h/p?q#frag", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap:///path", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://:5683/", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://?q", 0, 0, 0, NULL, 0, NULL, NULL},
  {"ftp://h/", 1, 0, 0, NULL, 0, NULL, NULL},
  {"coapx://h/", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap:/h", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap:h", 0, 0, 0, NULL, 0, NULL, NULL},
  {"//h/path", 0, 0, 0, NULL, 0, NULL, NULL},
  {"", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://[::1", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://[::1]x/", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://[]/", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://[::1]]/", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://h/a b", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://h/%zz", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://h/a%4", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://h/?a=%", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://u@h/", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://h%zz/", 0, 0, 0, NULL, 0, NULL, NULL},
  {"coap://%2Ftmp%2Fsock:5683/", 0, 0, 0, NULL, 0, NULL, NULL},
};

static int
view_is(const coap_str_const_t *v, const char *want)
{
  size_t n = strlen(want);

  if (n == 0)
    return v->length == 0;
  return v->s && v->length == n && memcmp(v->s, want, n) == 0;
}

static void
test_split(void)
{
  size_t i;

  for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
    const char *u = split_cases[i].uri;
    coap_uri_t uri;
    int rc = split_cases[i].proxy
                 ? coap_split_proxy_uri((const uint8_t *)u, strlen(u), &uri)
                 : coap_split_uri((const uint8_t *)u, strlen(u), &uri);

    if (!split_cases[i].ok) {
      ok(rc < 0, "'%s' is rejected", u);
      continue;
    }
    if (!ok(rc == 0, "'%s' splits", u)) {
      printf("#   rc %d\n", rc);
      continue;
    }
    ok(uri.scheme == split_cases[i].scheme && uri.port == split_cases[i].port &&
           view_is(&uri.host, split_cases[i].host) &&
           view_is(&uri.path, split_cases[i].path) &&
           view_is(&uri.query, split_cases[i].query),
       "'%s': scheme %d port %d host '%s' path '%s' query '%s'", u,
       (int)split_cases[i].scheme, split_cases[i].port, split_cases[i].host,
       split_cases[i].path, split_cases[i].query);
  }
  {
    /* The length bounds the parse: bytes after it are not part of the URI. */
    static const char s[] = "coap://h/abc#frag";
    coap_uri_t uri;
    ok(coap_split_uri((const uint8_t *)s, 12, &uri) == 0 &&
           view_is(&uri.path, "abc"),
       "split honours the length");
  }
}

static void
test_scheme_tables(void)
{
  static const struct {
    coap_uri_scheme_t scheme;
    coap_proto_t proto;
    uint16_t port;
    const char *name;
  } t[] = {
    {COAP_URI_SCHEME_COAP, COAP_PROTO_UDP, 5683, "coap"},
    {COAP_URI_SCHEME_COAPS, COAP_PROTO_DTLS, 5684, "coaps"},
    {COAP_URI_SCHEME_COAP_TCP, COAP_PROTO_TCP, 5683, "coap+tcp"},
    {COAP_URI_SCHEME_COAPS_TCP, COAP_PROTO_TLS, 5684, "coaps+tcp"},
    {COAP_URI_SCHEME_HTTP, COAP_PROTO_NONE, 80, "http"},
    {COAP_URI_SCHEME_HTTPS, COAP_PROTO_NONE, 443, "https"},
    {COAP_URI_SCHEME_COAP_WS, COAP_PROTO_WS, 80, "coap+ws"},
    {COAP_URI_SCHEME_COAPS_WS, COAP_PROTO_WSS, 443, "coaps+ws"},
  };
  size_t i;

  for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    ok(coap_uri_scheme_proto(t[i].scheme) == t[i].proto &&
           coap_uri_scheme_default_port(t[i].scheme) == t[i].port,
       "%s: proto and port", t[i].name);
    is_str(coap_uri_scheme_name(t[i].scheme), t[i].name, "scheme name");
  }
  ok(coap_uri_scheme_name(COAP_URI_SCHEME_LAST) == NULL, "no name past the end");
}

/* ---------------------------------------------------------------- options */

/* "num=value num=value": printable bytes as they are, others as \xHH. */
static void
format_optlist(const coap_optlist_t *l, char *out, size_t room)
{
  size_t o = 0, i;

  out[0] = '\0';
  for (; l; l = l->next) {
    o += (size_t)snprintf(out + o, room - o, "%s%u=", o ? " " : "", l->number);
    for (i = 0; i < l->length && o + 5 < room; i++) {
      uint8_t c = l->data[i];
      if (c > 0x20 && c < 0x7f)
        out[o++] = (char)c;
      else
        o += (size_t)snprintf(out + o, room - o, "\\x%02x", c);
    }
    out[o] = '\0';
  }
}

static int
uri_options(const char *u, int port_host, char *out, size_t room)
{
  coap_uri_t uri;
  coap_optlist_t *list = NULL;
  uint8_t buf[256];
  int rc;

  out[0] = '\0';
  if (coap_split_uri((const uint8_t *)u, strlen(u), &uri) < 0)
    return -100;
  rc = coap_uri_into_options(&uri, NULL, &list, port_host, buf, sizeof(buf));
  format_optlist(list, out, room);
  coap_delete_optlist(list);
  return rc;
}

static void
test_into_options(void)
{
  static const struct {
    const char *uri;
    int port_host;
    const char *want;
  } cases[] = {
    /* RFC 7252 6.3: three spellings of one resource */
    {"coap://example.com:5683/~sensors/temp.xml", 1,
     "3=example.com 11=~sensors 11=temp.xml"},
    {"coap://EXAMPLE.com/%7Esensors/temp.xml", 1,
     "3=example.com 11=~sensors 11=temp.xml"},
    {"coap://EXAMPLE.com:/%7esensors/temp.xml", 1,
     "3=example.com 11=~sensors 11=temp.xml"},
    {"coap://127.0.0.1/a", 1, "11=a"},
    {"coap://[::1]:61616/a", 1, "7=\\xf0\\xb0 11=a"},
    {"coap://h", 1, "3=h"},
    {"coap://h/", 1, "3=h"},
    {"coap://h//", 1, "3=h 11= 11="},
    {"coap://h/a/", 1, "3=h 11=a 11="},
    {"coap://h/a/b/../c", 1, "3=h 11=a 11=c"},
    {"coap://h/a/./b", 1, "3=h 11=a 11=b"},
    {"coap://h/../a", 1, "3=h 11=a"},
    {"coap://h/a/..", 1, "3=h"},
    {"coap://h/.", 1, "3=h"},
    {"coap://h/a/b/..", 1, "3=h 11=a 11="},
    {"coap://h/a/b/.", 1, "3=h 11=a 11=b 11="},
    {"coap://h/a/b/c/./../../g", 1, "3=h 11=a 11=g"},
    {"coap://h/a//../b", 1, "3=h 11=a 11=b"},
    {"coap://h/a/.../b", 1, "3=h 11=a 11=... 11=b"},
    {"coap://h/a%2Fb", 1, "3=h 11=a/b"},
    {"coap://h/%2E%2E/x", 1, "3=h 11=.. 11=x"},
    {"coap://h/p?a=1&b=2", 1, "3=h 11=p 15=a=1 15=b=2"},
    {"coap://h/?a&&b", 1, "3=h 15=a 15= 15=b"},
    {"coap://h/?x=%26%3D", 1, "3=h 15=x=&="},
    {"coap://h/%E2%82%AC", 1, "3=h 11=\\xe2\\x82\\xac"},
    {"coap://h/a%20b", 1, "3=h 11=a\\x20b"},
    {"coap://H%41st/", 1, "3=hast"},
    {"coaps://h:5684/", 1, "3=h"},
    {"coaps://h:5683/", 1, "3=h 7=\\x163"},
    {"coap://h:0/", 1, "3=h 7="},
    {"coap+ws://h:80/", 1, "3=h"},
    {"coap://%2Ftmp%2Fsock/path", 1, "11=path"},
    {"coap://example.com:99/a?b", 0, "11=a 15=b"},
  };
  size_t i;
  char got[512];

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = uri_options(cases[i].uri, cases[i].port_host, got, sizeof(got));
    ok(rc == 0 && strcmp(got, cases[i].want) == 0, "%s -> %s", cases[i].uri,
       cases[i].want);
    if (rc != 0 || strcmp(got, cases[i].want) != 0)
      printf("#   rc %d, got '%s'\n", rc, got);
  }
}

static void
test_into_options_errors(void)
{
  coap_uri_t uri;
  coap_optlist_t *list = NULL;
  uint8_t buf[4];
  static const char *bad_paths[] = {"a%G1", "a%4", "%", "x/%zz/y"};
  size_t i;

  for (i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
    memset(&uri, 0, sizeof(uri));
    uri.host.s = (const uint8_t *)"h";
    uri.host.length = 1;
    uri.port = 5683;
    uri.path.s = (const uint8_t *)bad_paths[i];
    uri.path.length = strlen(bad_paths[i]);
    ok(coap_uri_into_options(&uri, NULL, &list, 0, buf, sizeof(buf)) < 0 &&
           list == NULL,
       "bad escape in path '%s' is an error, nothing added", bad_paths[i]);
  }
  memset(&uri, 0, sizeof(uri));
  uri.host.s = (const uint8_t *)"h";
  uri.host.length = 1;
  uri.query.s = (const uint8_t *)"a=%2";
  uri.query.length = 4;
  ok(coap_uri_into_options(&uri, NULL, &list, 0, buf, sizeof(buf)) < 0,
     "bad escape in query is an error");
  coap_delete_optlist(list);
  list = NULL;
  uri.query.s = (const uint8_t *)"toolong";
  uri.query.length = 7;
  ok(coap_uri_into_options(&uri, NULL, &list, 0, buf, sizeof(buf)) < 0,
     "a segment larger than the scratch buffer is an error");
  coap_delete_optlist(list);
  ok(coap_uri_into_options(NULL, NULL, &list, 0, buf, sizeof(buf)) < 0,
     "NULL uri");
}

/* Found by fuzz_uri ("coap://S"): a URI without path or query has NULL
 * views, and computing their ends was NULL + 0, undefined behaviour that
 * clang's UBSan reports. */
static void
test_into_options_null_views(void)
{
  coap_uri_t uri;
  coap_optlist_t *list = NULL;
  uint8_t buf[16];
  char got[64];

  memset(&uri, 0, sizeof(uri));
  uri.host.s = (const uint8_t *)"S";
  uri.host.length = 1;
  uri.port = COAP_DEFAULT_PORT;
  ok(coap_uri_into_options(&uri, NULL, &list, 1, buf, sizeof(buf)) == 0,
     "NULL path and query views: no error");
  format_optlist(list, got, sizeof(got));
  is_str(got, "3=s", "only the (lowercased) Uri-Host");
  coap_delete_optlist(list);
}

/* ---------------------------------------------------------------- rebuild */

static coap_pdu_t *
pdu_from_uri(const char *u)
{
  coap_uri_t uri;
  coap_optlist_t *list = NULL;
  uint8_t buf[256];
  coap_pdu_t *pdu;

  if (coap_split_uri((const uint8_t *)u, strlen(u), &uri) < 0 ||
      coap_uri_into_options(&uri, NULL, &list, 1, buf, sizeof(buf)) < 0)
    return NULL;
  pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1, 1024);
  if (!coap_add_optlist_pdu(pdu, &list)) {
    coap_delete_pdu(pdu);
    pdu = NULL;
  }
  coap_delete_optlist(list);
  return pdu;
}

static void
test_rebuild(void)
{
  static const struct {
    const char *uri;
    coap_uri_scheme_t scheme;
    const char *dflt;
    const char *want;
  } cases[] = {
    {"coap://example.com/~sensors/temp.xml", COAP_URI_SCHEME_COAP, NULL,
     "coap://example.com/~sensors/temp.xml"},
    {"coap://EXAMPLE.com:5683/%7esensors/temp.xml", COAP_URI_SCHEME_COAP, NULL,
     "coap://example.com/~sensors/temp.xml"},
    {"coap://EXAMPLE.com:61616/a%20b/c?x=1&y=%26&z=a/b?c", COAP_URI_SCHEME_COAP,
     NULL, "coap://example.com:61616/a%20b/c?x=1&y=%26&z=a/b?c"},
    {"coap://127.0.0.1/", COAP_URI_SCHEME_COAP, "127.0.0.1",
     "coap://127.0.0.1/"},
    {"coap://[::1]/a", COAP_URI_SCHEME_COAP, "::1", "coap://[::1]/a"},
    {"coaps://h:5684/a%3Fb/a&b", COAP_URI_SCHEME_COAPS, NULL,
     "coaps://h/a%3Fb/a&b"},
    {"coaps://h:5683", COAP_URI_SCHEME_COAPS, NULL, "coaps://h:5683/"},
    {"coap://h/a%2Fb/%25", COAP_URI_SCHEME_COAP, NULL, "coap://h/a%2Fb/%25"},
    {"coap://h/%E2%82%AC?%E2%82%AC", COAP_URI_SCHEME_COAP, NULL,
     "coap://h/%E2%82%AC?%E2%82%AC"},
    {"coap://h//", COAP_URI_SCHEME_COAP, NULL, "coap://h//"},
    {"coap://h/a/", COAP_URI_SCHEME_COAP, NULL, "coap://h/a/"},
  };
  size_t i;
  char out[256], a[512], b[512];

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    coap_pdu_t *pdu = pdu_from_uri(cases[i].uri);
    size_t n = pdu ? coap_pdu_to_uri(pdu, cases[i].scheme, cases[i].dflt, out,
                                     sizeof(out))
                   : 0;
    ok(n == strlen(cases[i].want) && strcmp(out, cases[i].want) == 0,
       "6.5 rebuild of %s", cases[i].uri);
    if (n == 0 || strcmp(out, cases[i].want) != 0)
      printf("#   got '%s'\n", n ? out : "(0)");
    /* The rebuilt URI must give back the same options (when it has a host). */
    if (n && !cases[i].dflt) {
      uri_options(cases[i].uri, 1, a, sizeof(a));
      uri_options(out, 1, b, sizeof(b));
      ok(strcmp(a, b) == 0, "round trip of %s keeps the options",
         cases[i].uri);
    }
    if (pdu && n) {
      ok(coap_pdu_to_uri(pdu, cases[i].scheme, cases[i].dflt, out, n) == 0,
         "buffer one byte short gives 0");
      ok(coap_pdu_to_uri(pdu, cases[i].scheme, cases[i].dflt, out, n + 1) == n,
         "exact buffer fits");
    }
    coap_delete_pdu(pdu);
  }
}

static void
test_get_path_query(void)
{
  coap_pdu_t *pdu = pdu_from_uri("coap://h/a/b%20c?x=1&y=%26");
  coap_string_t *s;

  s = coap_get_uri_path(pdu);
  ok(s && s->length == 7 && memcmp(s->s, "a/b%20c", 7) == 0 && s->s[7] == 0,
     "coap_get_uri_path joins and encodes");
  coap_delete_string(s);
  s = coap_get_query(pdu);
  ok(s && s->length == 9 && memcmp(s->s, "x=1&y=%26", 9) == 0,
     "coap_get_query joins with &");
  coap_delete_string(s);
  coap_delete_pdu(pdu);

  pdu = pdu_from_uri("coap://h");
  s = coap_get_uri_path(pdu);
  ok(s && s->length == 0, "no Uri-Path: empty path");
  coap_delete_string(s);
  ok(coap_get_query(pdu) == NULL, "no Uri-Query: NULL");
  coap_delete_pdu(pdu);
}

static void
test_to_address(void)
{
  coap_uri_t uri;
  coap_address_t addr;
  static const char unix_uri[] = "coap://%2Ftmp%2Fcoapkit.sock/x";
  static const char v4[] = "coap://127.0.0.1:1234/";
  static const char v6[] = "coap://[::1]/";

  coap_split_uri((const uint8_t *)unix_uri, strlen(unix_uri), &uri);
  ok(coap_uri_to_address(&uri, &addr) && addr.addr.sa.sa_family == AF_UNIX &&
         strcmp(addr.addr.cun.sun_path, "/tmp/coapkit.sock") == 0,
     "Unix form decodes to a socket path");
  coap_split_uri((const uint8_t *)v4, strlen(v4), &uri);
  ok(coap_uri_to_address(&uri, &addr) && addr.addr.sa.sa_family == AF_INET &&
         coap_address_get_port(&addr) == 1234,
     "IPv4 literal resolves with its port");
  coap_split_uri((const uint8_t *)v6, strlen(v6), &uri);
  ok(coap_uri_to_address(&uri, &addr) && addr.addr.sa.sa_family == AF_INET6 &&
         coap_address_get_port(&addr) == 5683,
     "IPv6 literal resolves with the default port");
}

int
main(void)
{
  coap_set_log_level(COAP_LOG_ERR);
  test_split();
  test_scheme_tables();
  test_into_options();
  test_into_options_errors();
  test_into_options_null_views();
  test_rebuild();
  test_get_path_query();
  test_to_address();
  return tap_done();
}
