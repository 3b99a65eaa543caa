/*
 * option.c -- the option and Content-Format registries, and option lists.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pdu_internal.h"

#define E COAP_OPTION_FORMAT_EMPTY
#define O COAP_OPTION_FORMAT_OPAQUE
#define U COAP_OPTION_FORMAT_UINT
#define S COAP_OPTION_FORMAT_STRING

/* Sorted by number.  Lengths: RFC 7252 5.10, 7641 (Observe), 7959 (Block,
 * Size2), 7967 (No-Response), 8613 (OSCORE), 8768 (Hop-Limit), 9175 (Echo,
 * Request-Tag), 9177 (Q-Block). */
static const coap_option_def_t option_defs[] = {
  {COAP_OPTION_IF_MATCH, "If-Match", O, 0, 8, 1},
  {COAP_OPTION_URI_HOST, "Uri-Host", S, 1, 255, 0},
  {COAP_OPTION_ETAG, "ETag", O, 1, 8, 1},
  {COAP_OPTION_IF_NONE_MATCH, "If-None-Match", E, 0, 0, 0},
  {COAP_OPTION_OBSERVE, "Observe", U, 0, 3, 0},
  {COAP_OPTION_URI_PORT, "Uri-Port", U, 0, 2, 0},
  {COAP_OPTION_LOCATION_PATH, "Location-Path", S, 0, 255, 1},
  {COAP_OPTION_OSCORE, "OSCORE", O, 0, 255, 0},
  {COAP_OPTION_URI_PATH, "Uri-Path", S, 0, 255, 1},
  {COAP_OPTION_CONTENT_FORMAT, "Content-Format", U, 0, 2, 0},
  {COAP_OPTION_MAXAGE, "Max-Age", U, 0, 4, 0},
  {COAP_OPTION_URI_QUERY, "Uri-Query", S, 0, 255, 1},
  {COAP_OPTION_HOP_LIMIT, "Hop-Limit", U, 1, 1, 0},
  {COAP_OPTION_ACCEPT, "Accept", U, 0, 2, 0},
  {COAP_OPTION_Q_BLOCK1, "Q-Block1", U, 0, 3, 0},
  {COAP_OPTION_LOCATION_QUERY, "Location-Query", S, 0, 255, 1},
  {COAP_OPTION_BLOCK2, "Block2", U, 0, 3, 0},
  {COAP_OPTION_BLOCK1, "Block1", U, 0, 3, 0},
  {COAP_OPTION_SIZE2, "Size2", U, 0, 4, 0},
  {COAP_OPTION_Q_BLOCK2, "Q-Block2", U, 0, 3, 1},
  {COAP_OPTION_PROXY_URI, "Proxy-Uri", S, 1, 1034, 0},
  {COAP_OPTION_PROXY_SCHEME, "Proxy-Scheme", S, 1, 255, 0},
  {COAP_OPTION_SIZE1, "Size1", U, 0, 4, 0},
  {COAP_OPTION_ECHO, "Echo", O, 1, 40, 0},
  {COAP_OPTION_NORESPONSE, "No-Response", U, 0, 1, 0},
  {COAP_OPTION_RTAG, "Request-Tag", O, 0, 8, 1},
};

#undef E
#undef O
#undef U
#undef S

#define N_OPTION_DEFS (sizeof(option_defs) / sizeof(option_defs[0]))

const coap_option_def_t *
coap_option_def(coap_option_num_t number)
{
  size_t lo = 0, hi = N_OPTION_DEFS;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (option_defs[mid].number == number)
      return &option_defs[mid];
    if (option_defs[mid].number < number)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

const coap_option_def_t *
coap_option_def_by_name(const char *name)
{
  size_t i;

  if (!name)
    return NULL;
  for (i = 0; i < N_OPTION_DEFS; i++)
    if (strcasecmp(name, option_defs[i].name) == 0)
      return &option_defs[i];
  return NULL;
}

/* ---------------------------------------------------------------- formats */

static const struct {
  uint16_t format;
  const char *name;
} content_formats[] = {
  {0, "text/plain;charset=utf-8"},
  {16, "application/cose; cose-type=\"cose-encrypt0\""},
  {17, "application/cose; cose-type=\"cose-mac0\""},
  {18, "application/cose; cose-type=\"cose-sign1\""},
  {40, "application/link-format"},
  {41, "application/xml"},
  {42, "application/octet-stream"},
  {47, "application/exi"},
  {50, "application/json"},
  {51, "application/json-patch+json"},
  {52, "application/merge-patch+json"},
  {60, "application/cbor"},
  {61, "application/cwt"},
  {62, "application/multipart-core"},
  {63, "application/cbor-seq"},
  {96, "application/cose; cose-type=\"cose-encrypt\""},
  {97, "application/cose; cose-type=\"cose-mac\""},
  {98, "application/cose; cose-type=\"cose-sign\""},
  {101, "application/cose-key"},
  {102, "application/cose-key-set"},
  {110, "application/senml+json"},
  {111, "application/sensml+json"},
  {112, "application/senml+cbor"},
  {113, "application/sensml+cbor"},
  {256, "application/coap-group+json"},
  {320, "application/senml+xml"},
  {321, "application/sensml+xml"},
  {10000, "application/vnd.ocf+cbor"},
  {11542, "application/vnd.oma.lwm2m+tlv"},
  {11543, "application/vnd.oma.lwm2m+json"},
};

/* Short names the tools accept on their command lines. */
static const struct {
  const char *alias;
  uint16_t format;
} format_aliases[] = {
  {"text/plain", 0}, {"text", 0},   {"plain", 0},       {"link", 40},
  {"xml", 41},       {"binary", 42}, {"octet", 42},     {"exi", 47},
  {"json", 50},      {"cbor", 60},  {"senml+json", 110}, {"senml+cbor", 112},
};

#define N_FORMATS (sizeof(content_formats) / sizeof(content_formats[0]))
#define N_ALIASES (sizeof(format_aliases) / sizeof(format_aliases[0]))

const char *
coap_content_format_name(uint16_t format)
{
  size_t i;

  for (i = 0; i < N_FORMATS; i++)
    if (content_formats[i].format == format)
      return content_formats[i].name;
  return NULL;
}

/* Strict decimal 0..65535: no sign, no spaces, no trailing junk. */
static int
parse_format_number(const char *s)
{
  long v = 0;
  size_t i;

  if (!s[0] || strlen(s) > 5)
    return -1;
  for (i = 0; s[i]; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v <= 65535 ? (int)v : -1;
}

int
coap_content_format_by_name(const char *name)
{
  size_t i;

  if (!name)
    return -1;
  if (name[0] >= '0' && name[0] <= '9')
    return parse_format_number(name);
  for (i = 0; i < N_FORMATS; i++)
    if (strcasecmp(name, content_formats[i].name) == 0)
      return content_formats[i].format;
  for (i = 0; i < N_ALIASES; i++)
    if (strcasecmp(name, format_aliases[i].alias) == 0)
      return format_aliases[i].format;
  return -1;
}

/* ---------------------------------------------------------------- optlists */

coap_optlist_t *
coap_new_optlist(coap_option_num_t number, size_t length, const uint8_t *data)
{
  coap_optlist_t *node;

  if ((length && !data) || length > SIZE_MAX - sizeof(*node))
    return NULL;
  node = malloc(sizeof(*node) + length);
  if (!node)
    return NULL;
  node->next = NULL;
  node->number = number;
  node->length = length;
  node->data = (uint8_t *)(node + 1);
  if (length)
    memcpy(node->data, data, length);
  return node;
}

/* Stable: a node goes after every node with the same number, so repeated
 * options (Uri-Path segments) keep the order they were inserted in. */
int
coap_insert_optlist(coap_optlist_t **head, coap_optlist_t *node)
{
  coap_optlist_t **pos;

  if (!head || !node)
    return 0;
  pos = head;
  while (*pos && (*pos)->number <= node->number)
    pos = &(*pos)->next;
  node->next = *pos;
  *pos = node;
  return 1;
}

/* A list built by hand may be unsorted: re-insert every node. */
static void
sort_optlist(coap_optlist_t **head)
{
  coap_optlist_t *rest = *head, *sorted = NULL;

  while (rest) {
    coap_optlist_t *node = rest;
    rest = rest->next;
    node->next = NULL;
    coap_insert_optlist(&sorted, node);
  }
  *head = sorted;
}

int
coap_add_optlist_pdu(coap_pdu_t *pdu, coap_optlist_t **head)
{
  coap_optlist_t *node;

  if (!pdu || !head)
    return 0;
  sort_optlist(head);
  for (node = *head; node; node = node->next)
    if (coap_add_option(pdu, node->number, node->length, node->data) == 0)
      return 0;
  return 1;
}

void
coap_delete_optlist(coap_optlist_t *head)
{
  while (head) {
    coap_optlist_t *next = head->next;
    free(head);
    head = next;
  }
}
