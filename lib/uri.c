/*
 * uri.c -- CoAP URIs: splitting (RFC 7252 6.1, 6.2), into options (6.4),
 * and back (6.5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pdu_internal.h"

static const struct {
  const char *name;
  coap_uri_scheme_t scheme;
  coap_proto_t proto;
  uint16_t port;
  uint8_t proxy_only;
} schemes[] = {
  {"coap", COAP_URI_SCHEME_COAP, COAP_PROTO_UDP, COAP_DEFAULT_PORT, 0},
  {"coaps", COAP_URI_SCHEME_COAPS, COAP_PROTO_DTLS, COAPS_DEFAULT_PORT, 0},
  {"coap+tcp", COAP_URI_SCHEME_COAP_TCP, COAP_PROTO_TCP, COAP_DEFAULT_PORT, 0},
  {"coaps+tcp", COAP_URI_SCHEME_COAPS_TCP, COAP_PROTO_TLS, COAPS_DEFAULT_PORT,
   0},
  {"http", COAP_URI_SCHEME_HTTP, COAP_PROTO_NONE, 80, 1},
  {"https", COAP_URI_SCHEME_HTTPS, COAP_PROTO_NONE, 443, 1},
  {"coap+ws", COAP_URI_SCHEME_COAP_WS, COAP_PROTO_WS, 80, 0},
  {"coaps+ws", COAP_URI_SCHEME_COAPS_WS, COAP_PROTO_WSS, 443, 0},
};

#define N_SCHEMES (sizeof(schemes) / sizeof(schemes[0]))

coap_proto_t
coap_uri_scheme_proto(coap_uri_scheme_t scheme)
{
  return (unsigned)scheme < N_SCHEMES ? schemes[scheme].proto
                                      : COAP_PROTO_NONE;
}

uint16_t
coap_uri_scheme_default_port(coap_uri_scheme_t scheme)
{
  return (unsigned)scheme < N_SCHEMES ? schemes[scheme].port : 0;
}

const char *
coap_uri_scheme_name(coap_uri_scheme_t scheme)
{
  return (unsigned)scheme < N_SCHEMES ? schemes[scheme].name : NULL;
}

/* ---------------------------------------------------------------- chars */

static int
is_alpha(int c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(int c)
{
  return c >= '0' && c <= '9';
}

static int
hex_val(int c)
{
  if (is_digit(c))
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int
is_unreserved(int c)
{
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

static int
is_sub_delim(int c)
{
  return c != 0 && strchr("!$&'()*+,;=", c) != NULL;
}

static int
is_pchar(int c)
{
  return is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@';
}

/* Checks that s[0..len) holds only allowed characters and well-formed
 * %-escapes. */
static int
valid_component(const uint8_t *s, size_t len, int (*allowed)(int))
{
  size_t i;

  for (i = 0; i < len; i++) {
    if (s[i] == '%') {
      if (len - i < 3 || hex_val(s[i + 1]) < 0 || hex_val(s[i + 2]) < 0)
        return 0;
      i += 2;
    } else if (!allowed(s[i])) {
      return 0;
    }
  }
  return 1;
}

static int
path_char(int c)
{
  return is_pchar(c) || c == '/';
}

static int
query_char(int c)
{
  return is_pchar(c) || c == '/' || c == '?';
}

static int
host_char(int c)
{
  return is_unreserved(c) || is_sub_delim(c);
}

static int
ipv6_char(int c)
{
  /* Hex digits, separators, and an RFC 6874 zone ("%25" then unreserved). */
  return is_unreserved(c) || c == ':';
}

/* Decodes %-escapes of s[0..len) into out (room: outlen).  Returns the
 * decoded length, or -1 on a bad escape or too little room. */
static long
pct_decode(const uint8_t *s, size_t len, uint8_t *out, size_t outlen)
{
  size_t i, o = 0;

  for (i = 0; i < len; i++) {
    int c = s[i];
    if (c == '%') {
      int hi, lo;
      if (len - i < 3)
        return -1;
      hi = hex_val(s[i + 1]);
      lo = hex_val(s[i + 2]);
      if (hi < 0 || lo < 0)
        return -1;
      c = (hi << 4) | lo;
      i += 2;
    }
    if (o >= outlen)
      return -1;
    out[o++] = (uint8_t)c;
  }
  return (long)o;
}

static int
is_unix_host(const coap_str_const_t *host)
{
  return host->length >= 3 && host->s[0] == '%' && host->s[1] == '2' &&
         (host->s[2] == 'F' || host->s[2] == 'f');
}

/* ---------------------------------------------------------------- split */

static int
parse_scheme(const uint8_t **p, const uint8_t *end, int proxy,
             coap_uri_t *uri)
{
  const uint8_t *s = *p, *colon = s;
  size_t i, n;

  while (colon < end && *colon != ':')
    colon++;
  if (end - colon < 3 || colon[1] != '/' || colon[2] != '/')
    return -1;
  n = (size_t)(colon - s);
  for (i = 0; i < N_SCHEMES; i++) {
    if (strlen(schemes[i].name) == n &&
        strncasecmp((const char *)s, schemes[i].name, n) == 0) {
      if (schemes[i].proxy_only && !proxy)
        return -1;
      uri->scheme = schemes[i].scheme;
      *p = colon + 3;
      return 0;
    }
  }
  return -1;
}

static int
parse_port(const uint8_t *s, size_t len, uint16_t *port)
{
  unsigned long v = 0;
  size_t i;

  if (len == 0)
    return 0; /* "host:" means the default port (RFC 3986 6.2.3) */
  if (len > 5)
    return -1;
  for (i = 0; i < len; i++) {
    if (!is_digit(s[i]))
      return -1;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v > 65535)
    return -1;
  *port = (uint16_t)v;
  return 0;
}

static int
parse_authority(const uint8_t *s, const uint8_t *end, coap_uri_t *uri)
{
  const uint8_t *h = s, *hend, *p;

  if (s < end && *s == '[') {
    hend = memchr(s, ']', (size_t)(end - s));
    if (!hend || hend == s + 1)
      return -1;
    h = s + 1;
    if (!valid_component(h, (size_t)(hend - h), ipv6_char))
      return -1;
    p = hend + 1;
    if (p < end && *p != ':')
      return -1;
  } else {
    hend = s;
    while (hend < end && *hend != ':')
      hend++;
    if (hend == s || !valid_component(s, (size_t)(hend - s), host_char))
      return -1;
    p = hend;
  }
  uri->host.s = h;
  uri->host.length = (size_t)(hend - h);
  uri->port = coap_uri_scheme_default_port(uri->scheme);
  if (is_unix_host(&uri->host)) {
    uri->port = 0;
    return p == end ? 0 : -1;
  }
  if (p == end)
    return 0;
  return parse_port(p + 1, (size_t)(end - p - 1), &uri->port);
}

static int
split_uri(const uint8_t *str, size_t len, coap_uri_t *uri, int proxy)
{
  const uint8_t *p = str, *end = str + len, *a, *q;

  if (!str || !uri)
    return -1;
  memset(uri, 0, sizeof(*uri));
  if (memchr(str, '#', len))
    return -1; /* RFC 7252 6.1: no fragments */
  if (parse_scheme(&p, end, proxy, uri) < 0)
    return -2;
  a = p;
  while (p < end && *p != '/' && *p != '?')
    p++;
  if (parse_authority(a, p, uri) < 0)
    return -3;
  q = p;
  while (q < end && *q != '?')
    q++;
  if (p < q) {
    /* p is at the '/' that starts the path */
    uri->path.s = p + 1;
    uri->path.length = (size_t)(q - p - 1);
    if (!valid_component(uri->path.s, uri->path.length, path_char))
      return -4;
  }
  if (q < end) {
    uri->query.s = q + 1;
    uri->query.length = (size_t)(end - q - 1);
    if (!valid_component(uri->query.s, uri->query.length, query_char))
      return -5;
  }
  return 0;
}

int
coap_split_uri(const uint8_t *str_var, size_t len, coap_uri_t *uri)
{
  return split_uri(str_var, len, uri, 0);
}

int
coap_split_proxy_uri(const uint8_t *str_var, size_t len, coap_uri_t *uri)
{
  return split_uri(str_var, len, uri, 1);
}

/* ---------------------------------------------------------------- options */

static int
host_is_ip_literal(const coap_str_const_t *host)
{
  char tmp[INET_ADDRSTRLEN];
  struct in_addr a4;

  if (memchr(host->s, ':', host->length))
    return 1; /* only a bracketed IPv6 literal may hold a ':' */
  if (host->length >= sizeof(tmp))
    return 0;
  memcpy(tmp, host->s, host->length);
  tmp[host->length] = '\0';
  return inet_pton(AF_INET, tmp, &a4) == 1;
}

static int
add_opt(coap_optlist_t **chain, coap_option_num_t num, const uint8_t *v,
        size_t len)
{
  coap_optlist_t *node = coap_new_optlist(num, len, v);

  if (!node)
    return -1;
  coap_insert_optlist(chain, node);
  return 0;
}

static int
add_decoded(coap_optlist_t **chain, coap_option_num_t num, const uint8_t *s,
            size_t len, uint8_t *buf, size_t buflen)
{
  long n = pct_decode(s, len, buf, buflen);

  if (n < 0)
    return -1;
  return add_opt(chain, num, buf, (size_t)n);
}

static int
add_host(const coap_uri_t *uri, coap_optlist_t **chain, uint8_t *buf,
         size_t buflen)
{
  long n, i;

  if (host_is_ip_literal(&uri->host) || is_unix_host(&uri->host))
    return 0;
  n = pct_decode(uri->host.s, uri->host.length, buf, buflen);
  if (n <= 0)
    return -1;
  /* RFC 7252 6.4 step 5: lowercase, then the value goes on decoded. */
  for (i = 0; i < n; i++)
    if (buf[i] >= 'A' && buf[i] <= 'Z')
      buf[i] = (uint8_t)(buf[i] - 'A' + 'a');
  return add_opt(chain, COAP_OPTION_URI_HOST, buf, (size_t)n);
}

static int
seg_is(const uint8_t *s, size_t len, const char *dots)
{
  return len == strlen(dots) && memcmp(s, dots, len) == 0;
}

/* Finds the segment that ends at end (exclusive), scanning back to the
 * previous '/' or to start. */
static const uint8_t *
seg_start(const uint8_t *start, const uint8_t *end)
{
  while (end > start && end[-1] != '/')
    end--;
  return end;
}

/* RFC 7252 6.4 step 8 with RFC 3986 5.2.4 dot-segment removal.  Walking the
 * segments backwards tells which survive: a ".." removes the nearest
 * surviving segment before it.  Survivors are prepended to a private list
 * so it ends up in order, then go to the chain (which keeps equal numbers in
 * insertion order). */
static int
add_path(const coap_uri_t *uri, coap_optlist_t **chain, uint8_t *buf,
         size_t buflen)
{
  const uint8_t *start = uri->path.s, *e, *s;
  coap_optlist_t *list = NULL, *node;
  size_t pending = 0;

  if (!start || uri->path.length == 0)
    return 0; /* before any arithmetic: NULL + 0 is undefined */
  e = start + uri->path.length;
  s = seg_start(start, e);
  if (seg_is(s, (size_t)(e - s), ".") || seg_is(s, (size_t)(e - s), "..")) {
    /* "a/." and "a/.." name a directory: an empty last segment stays. */
    if (!(list = coap_new_optlist(COAP_OPTION_URI_PATH, 0, NULL)))
      return -1;
  }
  for (;;) {
    size_t len;

    s = seg_start(start, e);
    len = (size_t)(e - s);
    if (seg_is(s, len, "..")) {
      pending++;
    } else if (seg_is(s, len, ".")) {
      /* dropped */
    } else if (pending) {
      pending--;
    } else {
      long n = pct_decode(s, len, buf, buflen);
      if (n < 0 ||
          !(node = coap_new_optlist(COAP_OPTION_URI_PATH, (size_t)n, buf))) {
        coap_delete_optlist(list);
        return -1;
      }
      node->next = list;
      list = node;
    }
    if (s == start)
      break;
    e = s - 1; /* step over the '/' */
  }
  /* A lone empty segment is the path "/", which RFC 7252 6.4 skips. */
  if (list && !list->next && list->length == 0) {
    coap_delete_optlist(list);
    return 0;
  }
  while (list) {
    node = list;
    list = list->next;
    node->next = NULL;
    coap_insert_optlist(chain, node);
  }
  return 0;
}

static int
add_query(const coap_uri_t *uri, coap_optlist_t **chain, uint8_t *buf,
          size_t buflen)
{
  const uint8_t *s = uri->query.s, *end;

  if (!s || uri->query.length == 0)
    return 0;
  end = s + uri->query.length;
  for (;;) {
    const uint8_t *amp = memchr(s, '&', (size_t)(end - s));
    const uint8_t *e = amp ? amp : end;
    if (add_decoded(chain, COAP_OPTION_URI_QUERY, s, (size_t)(e - s), buf,
                    buflen) < 0)
      return -1;
    if (!amp)
      return 0;
    s = amp + 1;
  }
}

int
coap_uri_into_options(const coap_uri_t *uri, const coap_address_t *dst,
                      coap_optlist_t **optlist_chain, int create_port_host_opt,
                      uint8_t *buf, size_t buflen)
{
  (void)dst;
  if (!uri || !optlist_chain || !buf || !uri->host.s)
    return -1;
  if (create_port_host_opt) {
    if (add_host(uri, optlist_chain, buf, buflen) < 0)
      return -1;
    if (!is_unix_host(&uri->host) &&
        uri->port != coap_uri_scheme_default_port(uri->scheme)) {
      uint8_t port[2];
      unsigned n = coap_encode_var_safe(port, sizeof(port), uri->port);
      if (add_opt(optlist_chain, COAP_OPTION_URI_PORT, port, n) < 0)
        return -1;
    }
  }
  if (add_path(uri, optlist_chain, buf, buflen) < 0)
    return -1;
  return add_query(uri, optlist_chain, buf, buflen);
}

int
coap_uri_to_address(const coap_uri_t *uri, coap_address_t *addr)
{
  char host[256];
  long n;

  if (!uri || !addr || !uri->host.s)
    return 0;
  if (is_unix_host(&uri->host)) {
    char *path = addr->addr.cun.sun_path;
    coap_address_init(addr);
    n = pct_decode(uri->host.s, uri->host.length, (uint8_t *)path,
                   sizeof(addr->addr.cun.sun_path) - 1);
    if (n <= 0 || memchr(path, '\0', (size_t)n))
      return 0;
    path[n] = '\0';
    addr->addr.cun.sun_family = AF_UNIX;
    addr->size = coap_address_socklen(addr);
    return 1;
  }
  n = pct_decode(uri->host.s, uri->host.length, (uint8_t *)host,
                 sizeof(host) - 1);
  if (n <= 0 || memchr(host, '\0', (size_t)n))
    return 0;
  host[n] = '\0';
  return coap_resolve_address(host, uri->port, AF_UNSPEC, addr);
}

/* ---------------------------------------------------------------- rebuild */

typedef struct out_t {
  char *buf;
  size_t len, pos;
  int overflow;
} out_t;

static void
out_char(out_t *o, char c)
{
  if (o->pos + 1 >= o->len) {
    o->overflow = 1;
    return;
  }
  o->buf[o->pos++] = c;
}

static void
out_str(out_t *o, const char *s)
{
  while (*s)
    out_char(o, *s++);
}

static int
path_keep(int c)
{
  return is_pchar(c);
}

/* RFC 7252 6.5 step 8: sub-delims except '&', and '/' and '?'. */
static int
query_keep(int c)
{
  return (is_pchar(c) && c != '&') || c == '/' || c == '?';
}

static void
out_encoded(out_t *o, const uint8_t *s, size_t len, int (*keep)(int))
{
  static const char hex[] = "0123456789ABCDEF";
  size_t i;

  for (i = 0; i < len; i++) {
    if (keep(s[i])) {
      out_char(o, (char)s[i]);
    } else {
      out_char(o, '%');
      out_char(o, hex[s[i] >> 4]);
      out_char(o, hex[s[i] & 15]);
    }
  }
}

static void
out_host(out_t *o, const uint8_t *h, size_t len)
{
  if (memchr(h, ':', len)) {
    out_char(o, '[');
    out_encoded(o, h, len, ipv6_char);
    out_char(o, ']');
  } else {
    out_encoded(o, h, len, host_char);
  }
}

/* Appends every option numbered num, each after sep (first after first). */
static size_t
out_options(out_t *o, const coap_pdu_t *pdu, coap_option_num_t num,
            char first, char sep, int (*keep)(int))
{
  coap_opt_iterator_t oi;
  coap_opt_t *opt;
  size_t count = 0;

  for (opt = coap_check_option(pdu, num, &oi); opt;
       opt = coap_option_next(&oi)) {
    char c = count == 0 ? first : sep;
    if (c)
      out_char(o, c);
    out_encoded(o, coap_opt_value(opt), coap_opt_length(opt), keep);
    count++;
  }
  return count;
}

size_t
coap_pdu_to_uri(const coap_pdu_t *pdu, coap_uri_scheme_t scheme,
                const char *default_host, char *buf, size_t len)
{
  out_t o = {buf, len, 0, 0};
  coap_opt_iterator_t oi;
  coap_opt_t *opt;
  const char *name = coap_uri_scheme_name(scheme);

  if (!pdu || !buf || len == 0 || !name)
    return 0;
  out_str(&o, name);
  out_str(&o, "://");
  opt = coap_check_option(pdu, COAP_OPTION_URI_HOST, &oi);
  if (opt)
    out_host(&o, coap_opt_value(opt), coap_opt_length(opt));
  else if (default_host)
    out_host(&o, (const uint8_t *)default_host, strlen(default_host));
  opt = coap_check_option(pdu, COAP_OPTION_URI_PORT, &oi);
  if (opt) {
    unsigned port = coap_decode_var_bytes(coap_opt_value(opt),
                                          coap_opt_length(opt));
    if (port != coap_uri_scheme_default_port(scheme)) {
      char num[12];
      snprintf(num, sizeof(num), ":%u", port);
      out_str(&o, num);
    }
  }
  if (out_options(&o, pdu, COAP_OPTION_URI_PATH, '/', '/', path_keep) == 0)
    out_char(&o, '/');
  out_options(&o, pdu, COAP_OPTION_URI_QUERY, '?', '&', query_keep);
  if (o.overflow)
    return 0;
  buf[o.pos] = '\0';
  return o.pos;
}

static coap_string_t *
join_options(const coap_pdu_t *pdu, coap_option_num_t num, char sep,
             int (*keep)(int), int null_if_none)
{
  coap_opt_iterator_t oi;
  coap_opt_t *opt;
  size_t need = 0, count = 0;
  coap_string_t *str;
  out_t o;

  /* Worst case: every byte percent-encoded, plus separators. */
  for (opt = coap_check_option(pdu, num, &oi); opt;
       opt = coap_option_next(&oi)) {
    need += 3 * (size_t)coap_opt_length(opt) + 1;
    count++;
  }
  if (count == 0 && null_if_none)
    return NULL;
  str = coap_new_string(need + 1);
  if (!str)
    return NULL;
  o.buf = (char *)str->s;
  o.len = need + 1;
  o.pos = 0;
  o.overflow = 0;
  out_options(&o, pdu, num, 0, sep, keep);
  str->s[o.pos] = '\0';
  str->length = o.pos;
  return str;
}

coap_string_t *
coap_get_uri_path(const coap_pdu_t *request)
{
  if (!request)
    return NULL;
  return join_options(request, COAP_OPTION_URI_PATH, '/', path_keep, 0);
}

coap_string_t *
coap_get_query(const coap_pdu_t *request)
{
  if (!request)
    return NULL;
  return join_options(request, COAP_OPTION_URI_QUERY, '&', query_keep, 1);
}
