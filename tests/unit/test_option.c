/*
 * test_option.c -- the option and Content-Format registries, option lists,
 * and the small string tables of str.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pdu_internal.h"
#include "tap.h"

/* From the RFCs' option tables (C = critical, U = unsafe, N = NoCacheKey,
 * R = repeatable), written out rather than derived from the number. */
static const struct {
  coap_option_num_t number;
  const char *name;
  int c, u, n, r;
  coap_option_format_t format;
  unsigned min, max;
} registry[] = {
  {1, "If-Match", 1, 0, 0, 1, COAP_OPTION_FORMAT_OPAQUE, 0, 8},
  {3, "Uri-Host", 1, 1, 0, 0, COAP_OPTION_FORMAT_STRING, 1, 255},
  {4, "ETag", 0, 0, 0, 1, COAP_OPTION_FORMAT_OPAQUE, 1, 8},
  {5, "If-None-Match", 1, 0, 0, 0, COAP_OPTION_FORMAT_EMPTY, 0, 0},
  {6, "Observe", 0, 1, 0, 0, COAP_OPTION_FORMAT_UINT, 0, 3},
  {7, "Uri-Port", 1, 1, 0, 0, COAP_OPTION_FORMAT_UINT, 0, 2},
  {8, "Location-Path", 0, 0, 0, 1, COAP_OPTION_FORMAT_STRING, 0, 255},
  {9, "OSCORE", 1, 0, 0, 0, COAP_OPTION_FORMAT_OPAQUE, 0, 255},
  {11, "Uri-Path", 1, 1, 0, 1, COAP_OPTION_FORMAT_STRING, 0, 255},
  {12, "Content-Format", 0, 0, 0, 0, COAP_OPTION_FORMAT_UINT, 0, 2},
  {14, "Max-Age", 0, 1, 0, 0, COAP_OPTION_FORMAT_UINT, 0, 4},
  {15, "Uri-Query", 1, 1, 0, 1, COAP_OPTION_FORMAT_STRING, 0, 255},
  {16, "Hop-Limit", 0, 0, 0, 0, COAP_OPTION_FORMAT_UINT, 1, 1},
  {17, "Accept", 1, 0, 0, 0, COAP_OPTION_FORMAT_UINT, 0, 2},
  {19, "Q-Block1", 1, 1, 0, 0, COAP_OPTION_FORMAT_UINT, 0, 3},
  {20, "Location-Query", 0, 0, 0, 1, COAP_OPTION_FORMAT_STRING, 0, 255},
  {23, "Block2", 1, 1, 0, 0, COAP_OPTION_FORMAT_UINT, 0, 3},
  {27, "Block1", 1, 1, 0, 0, COAP_OPTION_FORMAT_UINT, 0, 3},
  {28, "Size2", 0, 0, 1, 0, COAP_OPTION_FORMAT_UINT, 0, 4},
  {31, "Q-Block2", 1, 1, 0, 1, COAP_OPTION_FORMAT_UINT, 0, 3},
  {35, "Proxy-Uri", 1, 1, 0, 0, COAP_OPTION_FORMAT_STRING, 1, 1034},
  {39, "Proxy-Scheme", 1, 1, 0, 0, COAP_OPTION_FORMAT_STRING, 1, 255},
  {60, "Size1", 0, 0, 1, 0, COAP_OPTION_FORMAT_UINT, 0, 4},
  {252, "Echo", 0, 0, 1, 0, COAP_OPTION_FORMAT_OPAQUE, 1, 40},
  {258, "No-Response", 0, 1, 0, 0, COAP_OPTION_FORMAT_UINT, 0, 1},
  {292, "Request-Tag", 0, 0, 0, 1, COAP_OPTION_FORMAT_OPAQUE, 0, 8},
};

static void
test_registry(void)
{
  size_t i;
  static const coap_option_num_t unregistered[] = {0, 2, 10, 13, 18, 21,
                                                   61, 253, 2048, 65535};

  for (i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
    const coap_option_def_t *d = coap_option_def(registry[i].number);
    char lower[32], upper[32];
    size_t j, n = strlen(registry[i].name);

    if (!ok(d != NULL, "%s (%u) is registered", registry[i].name,
            registry[i].number))
      continue;
    ok(d->number == registry[i].number && strcmp(d->name, registry[i].name) == 0,
       "%s: number and name", registry[i].name);
    ok(d->format == registry[i].format && d->min_length == registry[i].min &&
           d->max_length == registry[i].max,
       "%s: format %d, length %u-%u", registry[i].name, (int)registry[i].format,
       registry[i].min, registry[i].max);
    is_int(d->repeatable, registry[i].r, "repeatable flag");
    ok((coap_option_is_critical(registry[i].number) ? 1 : 0) == registry[i].c &&
           (coap_option_is_unsafe(registry[i].number) ? 1 : 0) == registry[i].u &&
           (coap_option_is_nocachekey(registry[i].number) ? 1 : 0) ==
               registry[i].n,
       "%s: C=%d U=%d N=%d", registry[i].name, registry[i].c, registry[i].u,
       registry[i].n);
    for (j = 0; j <= n && j < sizeof(lower); j++) {
      lower[j] = (char)((registry[i].name[j] >= 'A' && registry[i].name[j] <= 'Z')
                            ? registry[i].name[j] + 32
                            : registry[i].name[j]);
      upper[j] = (char)((registry[i].name[j] >= 'a' && registry[i].name[j] <= 'z')
                            ? registry[i].name[j] - 32
                            : registry[i].name[j]);
    }
    ok(coap_option_def_by_name(lower) == d && coap_option_def_by_name(upper) == d,
       "%s: by name, any case", registry[i].name);
  }
  for (i = 0; i < sizeof(unregistered) / sizeof(unregistered[0]); i++)
    ok(coap_option_def(unregistered[i]) == NULL, "%u is not registered",
       unregistered[i]);
  ok(coap_option_def_by_name("Uri-Pat") == NULL &&
         coap_option_def_by_name("") == NULL &&
         coap_option_def_by_name(NULL) == NULL,
     "unknown names give NULL");
}

static void
test_content_formats(void)
{
  static const struct {
    uint16_t format;
    const char *name;
  } formats[] = {
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
    {112, "application/senml+cbor"},
    {256, "application/coap-group+json"},
    {320, "application/senml+xml"},
    {10000, "application/vnd.ocf+cbor"},
    {11542, "application/vnd.oma.lwm2m+tlv"},
    {11543, "application/vnd.oma.lwm2m+json"},
  };
  static const struct {
    const char *name;
    int format;
  } by_name[] = {
    {"text/plain", 0},   {"TEXT/PLAIN;charset=UTF-8", 0}, {"text", 0},
    {"plain", 0},        {"link", 40},  {"xml", 41},      {"binary", 42},
    {"octet", 42},       {"exi", 47},   {"json", 50},     {"JSON", 50},
    {"cbor", 60},        {"senml+json", 110}, {"senml+cbor", 112},
    {"Application/Link-Format", 40}, {"0", 0}, {"40", 40}, {"65535", 65535},
    {"00060", 60},       {"65536", -1}, {"-1", -1},       {"4x", -1},
    {"", -1},            {"text/html", -1}, {"123456", -1}, {" 40", -1},
  };
  size_t i;

  for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
    is_str(coap_content_format_name(formats[i].format), formats[i].name,
           "content format name");
    is_int(coap_content_format_by_name(formats[i].name), formats[i].format,
           formats[i].name);
  }
  for (i = 0; i < sizeof(by_name) / sizeof(by_name[0]); i++) {
    char label[64];
    snprintf(label, sizeof(label), "by name '%s'", by_name[i].name);
    is_int(coap_content_format_by_name(by_name[i].name), by_name[i].format,
           label);
  }
  ok(coap_content_format_name(1) == NULL && coap_content_format_name(65535) == NULL,
     "unassigned formats have no name");
  ok(coap_content_format_by_name(NULL) == -1, "NULL name");
}

/* ---------------------------------------------------------------- optlists */

static void
format_list(const coap_optlist_t *l, char *out, size_t room)
{
  size_t o = 0;

  out[0] = '\0';
  for (; l && o < room; l = l->next)
    o += (size_t)snprintf(out + o, room - o, "%s%u:%.*s", o ? " " : "",
                          l->number, (int)l->length, (const char *)l->data);
}

static void
test_optlist(void)
{
  coap_optlist_t *list = NULL, *hand;
  coap_pdu_t *pdu;
  coap_opt_iterator_t oi;
  coap_opt_t *opt;
  char got[256];
  size_t n = 0;
  static const char *const want_iter[] = {"h", "a", "b", "q1", "q2"};
  int in_order = 1;

  ok(coap_insert_optlist(&list, coap_new_optlist(11, 1, (const uint8_t *)"a")),
     "insert");
  coap_insert_optlist(&list, coap_new_optlist(15, 2, (const uint8_t *)"q1"));
  coap_insert_optlist(&list, coap_new_optlist(3, 1, (const uint8_t *)"h"));
  coap_insert_optlist(&list, coap_new_optlist(11, 1, (const uint8_t *)"b"));
  coap_insert_optlist(&list, coap_new_optlist(15, 2, (const uint8_t *)"q2"));
  format_list(list, got, sizeof(got));
  is_str(got, "3:h 11:a 11:b 15:q1 15:q2", "optlist sorted and stable");
  ok(coap_insert_optlist(&list, NULL) == 0, "inserting NULL fails");

  pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1, 256);
  ok(coap_add_optlist_pdu(pdu, &list), "add_optlist_pdu");
  for (opt = coap_option_next(coap_option_iterator_init(pdu, &oi, NULL)); opt;
       opt = coap_option_next(&oi), n++)
    if (n >= 5 || coap_opt_length(opt) != strlen(want_iter[n]) ||
        memcmp(coap_opt_value(opt), want_iter[n], coap_opt_length(opt)) != 0)
      in_order = 0;
  ok(in_order && n == 5, "the PDU holds the options in list order");
  coap_delete_pdu(pdu);
  coap_delete_optlist(list);

  /* A list built by hand, out of order: add_optlist_pdu sorts it. */
  hand = coap_new_optlist(60, 1, (const uint8_t *)"s");
  hand->next = coap_new_optlist(11, 1, (const uint8_t *)"x");
  hand->next->next = coap_new_optlist(3, 1, (const uint8_t *)"y");
  hand->next->next->next = coap_new_optlist(11, 1, (const uint8_t *)"z");
  pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1, 256);
  ok(coap_add_optlist_pdu(pdu, &hand), "add_optlist_pdu on an unsorted list");
  format_list(hand, got, sizeof(got));
  is_str(got, "3:y 11:x 11:z 60:s", "the list was sorted in place, stably");
  {
    uint8_t out[64];
    size_t len = 0;
    const uint8_t *p = coap_pdu_encode_udp(pdu, &len);
    static const uint8_t want[] = {0x40, 0x01, 0x00, 0x01, 0x31, 'y', 0x81, 'x',
                                   0x01, 'z', 0xd1, 0x24, 's'};
    memcpy(out, p, len < sizeof(out) ? len : sizeof(out));
    is_mem(out, len, want, sizeof(want), "the encoding of the sorted list");
  }
  coap_delete_optlist(hand);
  coap_delete_pdu(pdu);

  pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1, 8);
  list = NULL;
  coap_insert_optlist(&list, coap_new_optlist(11, 20, (const uint8_t *)
                                              "01234567890123456789"));
  ok(coap_add_optlist_pdu(pdu, &list) == 0, "add_optlist_pdu reports no room");
  coap_delete_optlist(list);
  coap_delete_pdu(pdu);
  coap_delete_optlist(NULL);
}

/* ---------------------------------------------------------------- str.c */

static void
test_strings(void)
{
  static const struct {
    const char *in, *out;
  } b64[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
             {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
             {"foobar", "Zm9vYmFy"}};
  static const struct {
    uint8_t code;
    const char *str, *phrase;
  } codes[] = {
    {0x00, "0.00", NULL},
    {0x01, "0.01", NULL},
    {0x41, "2.01", "Created"},
    {0x45, "2.05", "Content"},
    {0x5f, "2.31", "Continue"},
    {0x84, "4.04", "Not Found"},
    {0x85, "4.05", "Method Not Allowed"},
    {0x8f, "4.15", "Unsupported Content-Format"},
    {0x9d, "4.29", "Too Many Requests"},
    {0xa0, "5.00", "Internal Server Error"},
    {0xa8, "5.08", "Hop Limit Reached"},
    {0xe1, "7.01", "CSM"},
    {0xff, "7.31", NULL},
    {0x46, "2.06", NULL},
  };
  static const char *const names[] = {"get",   "post",  "put",   "delete",
                                      "fetch", "patch", "ipatch"};
  size_t i;
  char buf[5], out[16];
  coap_string_t *s;
  coap_str_const_t *c;
  coap_bin_const_t *b;

  for (i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
    size_t n = coap_base64_encode((const uint8_t *)b64[i].in, strlen(b64[i].in),
                                  out);
    ok(n == strlen(b64[i].out) && strcmp(out, b64[i].out) == 0,
       "base64 '%s' = '%s'", b64[i].in, b64[i].out);
  }
  {
    static const uint8_t bin[] = {0xff, 0xfe, 0x00};
    coap_base64_encode(bin, 3, out);
    is_str(out, "//4A", "base64 of high bytes uses + and / alphabet");
  }
  for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
    is_str(coap_code_str(codes[i].code, buf), codes[i].str, "code string");
    if (codes[i].phrase)
      is_str(coap_response_phrase(codes[i].code), codes[i].phrase,
             codes[i].phrase);
    else
      ok(coap_response_phrase(codes[i].code) == NULL, "%s has no phrase",
         codes[i].str);
  }
  for (i = 0; i < 7; i++) {
    char upper[8];
    size_t j;
    is_str(coap_method_name((uint8_t)(i + 1)), names[i], "method name");
    is_int(coap_method_by_name(names[i]), i + 1, names[i]);
    for (j = 0; names[i][j]; j++)
      upper[j] = (char)(names[i][j] - 32);
    upper[j] = '\0';
    is_int(coap_method_by_name(upper), i + 1, upper);
  }
  ok(coap_method_name(0) == NULL && coap_method_name(8) == NULL &&
         coap_method_by_name("head") == 0 && coap_method_by_name(NULL) == 0,
     "unknown methods");
  is_str(coap_proto_name(COAP_PROTO_UDP), "UDP", "proto UDP");
  is_str(coap_proto_name(COAP_PROTO_DTLS), "DTLS", "proto DTLS");
  is_str(coap_proto_name(COAP_PROTO_TCP), "TCP", "proto TCP");
  is_str(coap_proto_name(COAP_PROTO_TLS), "TLS", "proto TLS");
  is_str(coap_proto_name(COAP_PROTO_WS), "WS", "proto WS");
  is_str(coap_proto_name(COAP_PROTO_WSS), "WSS", "proto WSS");
  ok(coap_proto_name(COAP_PROTO_LAST) != NULL, "out-of-range proto is named");
  ok(!coap_proto_reliable(COAP_PROTO_UDP) && !coap_proto_reliable(COAP_PROTO_DTLS) &&
         coap_proto_reliable(COAP_PROTO_TCP) && coap_proto_reliable(COAP_PROTO_TLS) &&
         coap_proto_reliable(COAP_PROTO_WS) && coap_proto_reliable(COAP_PROTO_WSS),
     "reliable protocols");
  for (i = COAP_NACK_TOO_MANY_RETRIES; i <= COAP_NACK_WS_FAILED; i++)
    ok(coap_nack_reason_str((coap_nack_reason_t)i) != NULL &&
           strcmp(coap_nack_reason_str((coap_nack_reason_t)i), "unknown") != 0,
       "nack reason %zu named", i);
  ok(coap_package_version() && coap_package_version()[0], "package version");

  s = coap_new_string(5);
  ok(s && s->length == 5 && s->s[5] == '\0', "coap_new_string");
  coap_delete_string(s);
  c = coap_new_str_const((const uint8_t *)"abc", 3);
  ok(c && c->length == 3 && memcmp(c->s, "abc", 4) == 0, "coap_new_str_const");
  coap_delete_str_const(c);
  b = coap_new_bin_const((const uint8_t *)"\0\1", 2);
  ok(b && b->length == 2 && b->s[0] == 0 && b->s[1] == 1, "coap_new_bin_const");
  coap_delete_bin_const(b);
  ok(coap_new_str_const(NULL, 3) == NULL, "NULL data with a length");
}

int
main(void)
{
  coap_set_log_level(COAP_LOG_ERR);
  test_registry();
  test_content_formats();
  test_optlist();
  test_strings();
  return tap_done();
}
