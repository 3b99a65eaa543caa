/*
 * fuzz_uri.c -- the URI parser and builder (RFC 7252 sections 6.4, 6.5).
 *
 * Input: one flag byte (bit 0: split as a Proxy-Uri; bit 1: no Uri-Host and
 * Uri-Port options), then the URI.  A URI that splits has views inside the
 * input; its options, put in a request and rebuilt into a URI (6.5), split
 * again and give the same options.  Section 6.5 is lossy in two documented
 * ways, which the comparison allows: a Uri-Host spelling an IP literal comes
 * back as that literal (so no Uri-Host), and a "." or ".." Uri-Path segment
 * comes back as a dot segment, which 6.4 removes.
 */
#include <arpa/inet.h>

#include "fuzz.h"
#include "pdu_internal.h"

#define SCRATCH 1100 /* more than the longest option value (1034) */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  return 0;
}

static void
view_inside(const coap_str_const_t *v, const uint8_t *s, size_t len)
{
  if (v->length == 0)
    return;
  FUZZ_CHECK(v->s >= s && v->s + v->length <= s + len);
}

/* The request a client would send for uri; NULL if the URI has no such
 * request (an escape that does not decode, a segment over the scratch). */
static coap_pdu_t *
request_for(const coap_uri_t *uri, int port_host)
{
  static uint8_t scratch[SCRATCH];
  coap_optlist_t *list = NULL;
  coap_pdu_t *pdu = NULL;

  if (coap_uri_into_options(uri, NULL, &list, port_host, scratch,
                            sizeof(scratch)) == 0) {
    pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1, 0);
    if (pdu && !coap_add_optlist_pdu(pdu, &list)) {
      coap_delete_pdu(pdu);
      pdu = NULL;
    }
  }
  coap_delete_optlist(list);
  return pdu;
}

typedef struct opts_t {
  size_t n;
  coap_option_num_t num[512];
  uint32_t len[512];
  const uint8_t *val[512];
} opts_t;

/* The options numbered num; 0 if there are more than opts_t holds. */
static int
get_opts(const coap_pdu_t *pdu, coap_option_num_t num, opts_t *o)
{
  coap_opt_iterator_t oi;
  coap_opt_t *opt;

  o->n = 0;
  for (opt = coap_check_option(pdu, num, &oi); opt;
       opt = coap_option_next(&oi)) {
    if (o->n == sizeof(o->num) / sizeof(o->num[0]))
      return 0;
    o->num[o->n] = oi.number;
    o->len[o->n] = coap_opt_length(opt);
    o->val[o->n] = coap_opt_value(opt);
    o->n++;
  }
  return 1;
}

static int
same_opts(const opts_t *a, const opts_t *b)
{
  if (a->n != b->n)
    return 0;
  for (size_t i = 0; i < a->n; i++)
    if (a->len[i] != b->len[i] ||
        (a->len[i] && memcmp(a->val[i], b->val[i], a->len[i]) != 0))
      return 0;
  return 1;
}

static int
is_dot_segment(const uint8_t *v, uint32_t len)
{
  return (len == 1 && v[0] == '.') || (len == 2 && v[0] == '.' && v[1] == '.');
}

static int
looks_like_ip_literal(const uint8_t *v, uint32_t len)
{
  char tmp[64];
  struct in_addr a4;

  if (memchr(v, ':', len))
    return 1; /* rebuilt in brackets: an IPv6 literal to the parser */
  if (len >= sizeof(tmp))
    return 0;
  memcpy(tmp, v, len);
  tmp[len] = '\0';
  return inet_pton(AF_INET, tmp, &a4) == 1;
}

static void
compare_requests(const coap_pdu_t *a, const coap_pdu_t *b)
{
  static opts_t oa, ob;
  int lossy = 0;

  if (!get_opts(a, COAP_OPTION_URI_HOST, &oa) ||
      !get_opts(b, COAP_OPTION_URI_HOST, &ob))
    return;
  if (oa.n) {
    FUZZ_CHECK(same_opts(&oa, &ob) ||
               (ob.n == 0 && looks_like_ip_literal(oa.val[0], oa.len[0])));
  } else {
    FUZZ_CHECK(ob.n == 0 || (ob.n == 1 && ob.len[0] == 1 && ob.val[0][0] == 'h'));
  }
  get_opts(a, COAP_OPTION_URI_PORT, &oa);
  get_opts(b, COAP_OPTION_URI_PORT, &ob);
  FUZZ_CHECK(same_opts(&oa, &ob));
  if (get_opts(a, COAP_OPTION_URI_PATH, &oa) &&
      get_opts(b, COAP_OPTION_URI_PATH, &ob)) {
    for (size_t i = 0; i < oa.n; i++)
      lossy |= is_dot_segment(oa.val[i], oa.len[i]);
    FUZZ_CHECK(lossy || same_opts(&oa, &ob));
  }
  if (get_opts(a, COAP_OPTION_URI_QUERY, &oa) &&
      get_opts(b, COAP_OPTION_URI_QUERY, &ob))
    FUZZ_CHECK(same_opts(&oa, &ob));
}

static void
round_trip(const coap_uri_t *uri, const coap_pdu_t *first, int port_host)
{
  static char rebuilt[16384];
  coap_uri_t again;
  coap_pdu_t *second;
  size_t n = coap_pdu_to_uri(first, uri->scheme, "h", rebuilt, sizeof(rebuilt));

  if (n == 0)
    return; /* too long for the buffer */
  FUZZ_CHECK(n < sizeof(rebuilt) && strlen(rebuilt) == n);
  /* The rebuilt URI is always well formed and names the same request. */
  FUZZ_CHECK(coap_split_uri((const uint8_t *)rebuilt, n, &again) == 0);
  FUZZ_CHECK(again.scheme == uri->scheme);
  second = request_for(&again, port_host);
  FUZZ_CHECK(second != NULL);
  compare_requests(first, second);
  coap_delete_pdu(second);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  coap_uri_t uri;
  coap_pdu_t *req;
  const uint8_t *s;
  size_t len;
  int proxy, port_host, rc;

  if (size < 1)
    return 0;
  proxy = data[0] & 1;
  port_host = !(data[0] & 2);
  s = data + 1;
  len = size - 1;
  rc = proxy ? coap_split_proxy_uri(s, len, &uri) : coap_split_uri(s, len, &uri);
  if (rc < 0)
    return 0;
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(uri.host.length > 0 && (unsigned)uri.scheme < COAP_URI_SCHEME_LAST);
  view_inside(&uri.host, s, len);
  view_inside(&uri.path, s, len);
  view_inside(&uri.query, s, len);
  FUZZ_CHECK(coap_uri_scheme_name(uri.scheme) != NULL);
  if (uri.scheme == COAP_URI_SCHEME_HTTP || uri.scheme == COAP_URI_SCHEME_HTTPS)
    return 0; /* a Proxy-Uri target: no Uri-* options are built from it */
  req = request_for(&uri, port_host);
  if (!req)
    return 0;
  {
    coap_string_t *p = coap_get_uri_path(req), *q = coap_get_query(req);
    FUZZ_CHECK(p && p->length == strlen((const char *)p->s));
    coap_delete_string(p);
    coap_delete_string(q);
  }
  round_trip(&uri, req, port_host);
  coap_delete_pdu(req);
  return 0;
}
