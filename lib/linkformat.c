/*
 * linkformat.c -- RFC 6690 link-format: parsing and filter queries.
 *
 * Grammar (RFC 6690 section 2):
 *   Links      = link-value *( "," link-value )
 *   link-value = "<" URI-Reference ">" *( ";" link-param )
 *   link-param = parmname [ "=" ( ptoken / quoted-string ) ]
 * No whitespace is allowed anywhere outside quoted strings.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coap.h"

static int
is_alnum(int c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

/* RFC 5987 token characters, plus '*' for extended names ("title*"). */
static int
parmname_char(int c)
{
  return is_alnum(c) || (c != 0 && strchr("!#$&+-.^_`|~*", c) != NULL);
}

static int
ptoken_char(int c)
{
  return is_alnum(c) ||
         (c != 0 && strchr("!#$%&'()*+-./:<=>?@[]^_`{|}~", c) != NULL);
}

/* p is at the opening quote; returns the byte after the closing one. */
static const uint8_t *
skip_quoted(const uint8_t *p, const uint8_t *end)
{
  for (p++; p < end; p++) {
    if (*p == '\\') {
      if (end - p < 2 || p[1] < 0x20 || p[1] == 0x7f)
        return NULL;
      p++;
    } else if (*p == '"') {
      return p + 1;
    } else if (*p < 0x20 || *p == 0x7f) {
      return NULL;
    }
  }
  return NULL;
}

/* One ";name[=value]"; p is at the ';'.  Sets the name and raw value
 * (quotes included; vlen 0 and val NULL when there is none). */
static const uint8_t *
parse_param(const uint8_t *p, const uint8_t *end, coap_str_const_t *name,
            coap_str_const_t *val)
{
  const uint8_t *n = ++p;

  while (p < end && parmname_char(*p))
    p++;
  if (p == n)
    return NULL;
  name->s = n;
  name->length = (size_t)(p - n);
  val->s = NULL;
  val->length = 0;
  if (p == end || *p != '=')
    return p;
  n = ++p;
  if (p < end && *p == '"') {
    p = skip_quoted(p, end);
    if (!p)
      return NULL;
  } else {
    while (p < end && ptoken_char(*p))
      p++;
    if (p == n)
      return NULL;
  }
  val->s = n;
  val->length = (size_t)(p - n);
  return p;
}

static const uint8_t *
parse_link(const uint8_t *p, const uint8_t *end, coap_str_const_t *target,
           coap_str_const_t *attrs)
{
  const uint8_t *t;

  if (p >= end || *p != '<')
    return NULL;
  t = ++p;
  while (p < end && *p != '>') {
    if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '"')
      return NULL;
    p++;
  }
  if (p == end)
    return NULL;
  target->s = t;
  target->length = (size_t)(p - t);
  attrs->s = ++p;
  while (p < end && *p == ';') {
    coap_str_const_t name, val;
    p = parse_param(p, end, &name, &val);
    if (!p)
      return NULL;
  }
  attrs->length = (size_t)(p - attrs->s);
  return p;
}

static int
parse_doc(const uint8_t *doc, size_t len, coap_link_cb_t cb, void *arg)
{
  const uint8_t *p = doc, *end = doc + len;

  for (;;) {
    coap_str_const_t target, attrs;

    p = parse_link(p, end, &target, &attrs);
    if (!p)
      return -1;
    if (cb && cb(&target, &attrs, arg))
      return 0;
    if (p == end)
      return 0;
    if (*p != ',')
      return -1;
    p++;
  }
}

/* The whole document is checked before the first callback, so a caller never
 * acts on half of a malformed document. */
int
coap_link_format_parse(const uint8_t *doc, size_t len, coap_link_cb_t cb,
                       void *arg)
{
  if (!doc || len == 0)
    return -1;
  if (parse_doc(doc, len, NULL, NULL) < 0)
    return -1;
  return cb ? parse_doc(doc, len, cb, arg) : 0;
}

/* ---------------------------------------------------------------- filters */

typedef struct filter_t {
  const uint8_t *name;
  size_t name_len;
  const uint8_t *value; /* NULL: "name" alone, matches presence */
  size_t value_len;
  int prefix;           /* value ended in '*' */
} filter_t;

static int
value_matches(const filter_t *f, const uint8_t *v, size_t len)
{
  if (f->prefix)
    return len >= f->value_len && memcmp(v, f->value, f->value_len) == 0;
  return len == f->value_len && memcmp(v, f->value, len) == 0;
}

static int
name_is(const uint8_t *s, size_t len, const char *name)
{
  return len == strlen(name) && strncasecmp((const char *)s, name, len) == 0;
}

/* Relation-type style attributes hold space-separated lists (RFC 6690 3.1,
 * 3.2; ct per RFC 7252 7.2.1). */
static int
is_list_attr(const uint8_t *s, size_t len)
{
  return name_is(s, len, "rt") || name_is(s, len, "if") ||
         name_is(s, len, "rel") || name_is(s, len, "ct");
}

/* Unquotes and unescapes raw into out (at least raw->length bytes). */
static size_t
unquote(const coap_str_const_t *raw, uint8_t *out)
{
  size_t i, o = 0;

  if (raw->length < 2 || raw->s[0] != '"') {
    memcpy(out, raw->s, raw->length);
    return raw->length;
  }
  for (i = 1; i + 1 < raw->length; i++) {
    if (raw->s[i] == '\\' && i + 2 < raw->length)
      i++;
    out[o++] = raw->s[i];
  }
  return o;
}

static int
param_matches(const filter_t *f, const coap_str_const_t *name,
              const coap_str_const_t *raw)
{
  uint8_t *v;
  size_t len, i, start;
  int hit = 0;

  if (!f->value)
    return 1;
  if (!raw->s)
    return f->value_len == 0;
  v = malloc(raw->length + 1);
  if (!v)
    return 0;
  len = unquote(raw, v);
  if (!is_list_attr(name->s, name->length)) {
    hit = value_matches(f, v, len);
  } else {
    for (start = 0, i = 0; i <= len && !hit; i++) {
      if (i == len || v[i] == ' ') {
        if (i > start)
          hit = value_matches(f, v + start, i - start);
        start = i + 1;
      }
    }
  }
  free(v);
  return hit;
}

static void
filter_init(filter_t *f, const coap_str_const_t *query)
{
  const uint8_t *eq = memchr(query->s, '=', query->length);

  memset(f, 0, sizeof(*f));
  f->name = query->s;
  f->name_len = eq ? (size_t)(eq - query->s) : query->length;
  if (!eq)
    return;
  f->value = eq + 1;
  f->value_len = query->length - f->name_len - 1;
  if (f->value_len && f->value[f->value_len - 1] == '*') {
    f->prefix = 1;
    f->value_len--;
  }
}

int
coap_link_matches(const coap_str_const_t *target,
                  const coap_str_const_t *attributes,
                  const coap_str_const_t *query)
{
  filter_t f;
  const uint8_t *p, *end;

  if (!query || query->length == 0 || !query->s)
    return 1;
  filter_init(&f, query);
  if (name_is(f.name, f.name_len, "href")) {
    if (!f.value)
      return 1;
    return target && target->s && value_matches(&f, target->s, target->length);
  }
  if (!attributes || !attributes->s)
    return 0;
  p = attributes->s;
  end = p + attributes->length;
  while (p < end && *p == ';') {
    coap_str_const_t name, val;

    p = parse_param(p, end, &name, &val);
    if (!p)
      return 0;
    if (name.length == f.name_len &&
        strncasecmp((const char *)name.s, (const char *)f.name, f.name_len) == 0 &&
        param_matches(&f, &name, &val))
      return 1;
  }
  return 0;
}
