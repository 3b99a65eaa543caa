/*
 * test_pdu.c -- the message codec: encoding, parsing, options, limits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdu_internal.h"
#include "tap.h"

/* Copies the encoded datagram into out; returns its length (0: failed). */
static size_t
encode(coap_pdu_t *pdu, uint8_t *out, size_t room)
{
  size_t len = 0;
  const uint8_t *p = coap_pdu_encode_udp(pdu, &len);

  if (!p || len > room)
    return 0;
  memcpy(out, p, len);
  return len;
}

/* Views a copy of data in a buffer of exactly len bytes, so that ASan and
 * valgrind catch any read past the end. */
static coap_parse_status_t
view_exact(const uint8_t *data, size_t len, coap_pdu_t *pdu)
{
  uint8_t *copy = malloc(len ? len : 1);
  coap_parse_status_t st;

  if (!copy)
    return COAP_PARSE_DROP;
  if (len)
    memcpy(copy, data, len);
  st = coap_pdu_view_udp(pdu, copy, len);
  free(copy);
  return st;
}

/* ---------------------------------------------------------------- vars */

static void
test_encode_var(void)
{
  static const struct {
    uint64_t value;
    unsigned len;
    uint8_t bytes[8];
  } cases[] = {
    {0, 0, {0}},
    {1, 1, {1}},
    {255, 1, {0xff}},
    {256, 2, {1, 0}},
    {65535, 2, {0xff, 0xff}},
    {65536, 3, {1, 0, 0}},
    {0xffffff, 3, {0xff, 0xff, 0xff}},
    {0x1000000, 4, {1, 0, 0, 0}},
    {0xffffffffu, 4, {0xff, 0xff, 0xff, 0xff}},
    {0x100000000ull, 5, {1, 0, 0, 0, 0}},
    {UINT64_MAX, 8, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint8_t buf[8];
    char name[80];
    unsigned n = coap_encode_var_safe8(buf, sizeof(buf), cases[i].value);

    snprintf(name, sizeof(name), "encode_var8 %llu: %u bytes",
             (unsigned long long)cases[i].value, cases[i].len);
    is_int(n, cases[i].len, name);
    snprintf(name, sizeof(name), "encode_var8 %llu: bytes",
             (unsigned long long)cases[i].value);
    is_mem(buf, n, cases[i].bytes, cases[i].len, name);
    snprintf(name, sizeof(name), "decode_var8 round trip %llu",
             (unsigned long long)cases[i].value);
    ok(coap_decode_var_bytes8(buf, n) == cases[i].value, "%s", name);
    if (cases[i].value <= 0xffffffffu) {
      n = coap_encode_var_safe(buf, sizeof(buf), (unsigned)cases[i].value);
      snprintf(name, sizeof(name), "encode_var %llu",
               (unsigned long long)cases[i].value);
      ok(n == cases[i].len && memcmp(buf, cases[i].bytes, n) == 0, "%s", name);
      ok(coap_decode_var_bytes(buf, n) == cases[i].value,
         "decode_var round trip %llu", (unsigned long long)cases[i].value);
    }
    if (cases[i].len > 0) {
      ok(coap_encode_var_safe8(buf, cases[i].len - 1, cases[i].value) == 0,
         "encode_var8 %llu refuses a buffer one byte short",
         (unsigned long long)cases[i].value);
    }
  }
  is_int(coap_decode_var_bytes(NULL, 0), 0, "decode of nothing is 0");
}

/* ---------------------------------------------------------------- build */

static void
test_build_known_bytes(void)
{
  static const uint8_t token[] = {1, 2, 3, 4, 5, 6, 7, 8};
  static const uint8_t want[] = {
    0x48, 0x01, 0x12, 0x34,                   /* CON GET, TKL 8 */
    1, 2, 3, 4, 5, 6, 7, 8,                   /* token */
    0x39, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', /* Uri-Host */
    0x84, 't', 'e', 'm', 'p',                 /* Uri-Path (delta 8) */
    0x11, 0x28,                               /* Content-Format 40 */
    0xff, 'h', 'i'};
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
                                  0x1234, 64);
  uint8_t out[128], cf = 40;
  size_t len;
  coap_bin_const_t tok;
  const uint8_t *data;
  size_t dlen;

  ok(pdu != NULL, "coap_pdu_init");
  ok(coap_add_token(pdu, sizeof(token), token), "8-byte token");
  ok(coap_add_token(pdu, 1, token) == 0, "a second token is refused");
  ok(coap_add_option(pdu, COAP_OPTION_URI_HOST, 9,
                     (const uint8_t *)"localhost") == 10,
     "add Uri-Host returns its size");
  ok(coap_add_option(pdu, COAP_OPTION_URI_PATH, 4, (const uint8_t *)"temp") ==
         5,
     "add Uri-Path");
  ok(coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, 1, &cf) == 2,
     "add Content-Format");
  ok(coap_add_data(pdu, 2, (const uint8_t *)"hi"), "add payload");
  len = encode(pdu, out, sizeof(out));
  is_mem(out, len, want, sizeof(want), "encoding matches RFC 7252 layout");
  tok = coap_pdu_get_token(pdu);
  is_mem(tok.s, tok.length, token, sizeof(token), "token getter");
  ok(coap_get_data(pdu, &dlen, &data) && dlen == 2 && memcmp(data, "hi", 2) == 0,
     "coap_get_data");
  is_int(coap_pdu_get_mid(pdu), 0x1234, "mid getter");
  coap_pdu_set_mid(pdu, 7);
  coap_pdu_set_type(pdu, COAP_MESSAGE_NON);
  coap_pdu_set_code(pdu, COAP_RESPONSE_CODE_CONTENT);
  len = encode(pdu, out, sizeof(out));
  ok(len == sizeof(want) && out[0] == 0x58 && out[1] == 0x45 && out[2] == 0 &&
         out[3] == 7,
     "setters reach the header");
  is_int(coap_pdu_get_type(pdu), COAP_MESSAGE_NON, "type getter");
  is_int(coap_pdu_get_code(pdu), COAP_RESPONSE_CODE_CONTENT, "code getter");
  coap_delete_pdu(pdu);
}

static void
test_empty_message(void)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_RST, COAP_EMPTY_CODE, 0xbeef, 16);
  uint8_t out[16];
  static const uint8_t want[] = {0x70, 0x00, 0xbe, 0xef};
  size_t len = encode(pdu, out, sizeof(out));

  is_mem(out, len, want, sizeof(want), "RST encodes as 4 bytes");
  coap_add_token(pdu, 1, (const uint8_t *)"x");
  ok(encode(pdu, out, sizeof(out)) == 0, "empty code with a token refuses");
  coap_delete_pdu(pdu);
}

/* One option alone after the token: header bytes for edge deltas/lengths. */
static void
test_option_edges(void)
{
  static const struct {
    coap_option_num_t number;
    size_t length;
    uint8_t hdr[5];
    size_t hlen;
  } cases[] = {
    {0, 0, {0x00}, 1},
    {1, 0, {0x10}, 1},
    {12, 12, {0xcc}, 1},
    {13, 13, {0xdd, 0x00, 0x00}, 3},
    {14, 14, {0xdd, 0x01, 0x01}, 3},
    {268, 268, {0xdd, 0xff, 0xff}, 3},
    {269, 269, {0xee, 0x00, 0x00, 0x00, 0x00}, 5},
    {270, 0, {0xe0, 0x00, 0x01}, 3},
    {12, 269, {0xce, 0x00, 0x00}, 3},
    {65535, 1, {0xe1, 0xfe, 0xf2}, 3},
    {3, 65535 + 269, {0x3e, 0xff, 0xff}, 3},
  };
  size_t i;
  uint8_t *value = malloc(65535 + 270);
  uint8_t *out = malloc(65535 + 300);

  for (i = 0; i < 65535 + 270; i++)
    value[i] = (uint8_t)(i * 7);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_NON, COAP_REQUEST_CODE_POST,
                                    1, 70000);
    coap_pdu_t view;
    coap_opt_iterator_t oi;
    coap_opt_t *opt;
    size_t len;
    char name[96];

    snprintf(name, sizeof(name), "option %u length %zu", cases[i].number,
             cases[i].length);
    ok(coap_add_option(pdu, cases[i].number, cases[i].length, value) ==
           cases[i].hlen + cases[i].length,
       "%s: size", name);
    len = encode(pdu, out, 65535 + 300);
    ok(len == 4 + cases[i].hlen + cases[i].length &&
           memcmp(out + 4, cases[i].hdr, cases[i].hlen) == 0 &&
           memcmp(out + 4 + cases[i].hlen, value, cases[i].length) == 0,
       "%s: header bytes", name);
    ok(view_exact(out, len, &view) == COAP_PARSE_OK, "%s: parses", name);
    ok(coap_pdu_view_udp(&view, out, len) == COAP_PARSE_OK &&
           (opt = coap_check_option(&view, cases[i].number, &oi)) != NULL &&
           coap_opt_length(opt) == cases[i].length &&
           memcmp(coap_opt_value(opt), value, cases[i].length) == 0 &&
           coap_option_next(&oi) == NULL && !oi.bad,
       "%s: iterates back", name);
    is_int(view.max_opt, cases[i].number, "view sets max_opt");
    coap_delete_pdu(pdu);
  }
  {
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_NON, COAP_REQUEST_CODE_POST,
                                    1, 70000);
    ok(coap_add_option(pdu, 3, 65535 + 270, value) == 0,
       "option longer than 65804 bytes is refused");
    is_int(pdu->used_size, 0, "refused option leaves nothing");
    coap_delete_pdu(pdu);
  }
  free(value);
  free(out);
}

/* ---------------------------------------------------------------- malformed */

static void
test_malformed(void)
{
  static const struct {
    const char *name;
    uint8_t bytes[16];
    size_t len;
    coap_parse_status_t want;
  } cases[] = {
    {"empty datagram", {0}, 0, COAP_PARSE_DROP},
    {"1 byte", {0x40}, 1, COAP_PARSE_DROP},
    {"3 bytes", {0x40, 0x01, 0x00}, 3, COAP_PARSE_DROP},
    {"version 0", {0x00, 0x01, 0, 1}, 4, COAP_PARSE_DROP},
    {"version 2", {0x80, 0x01, 0, 1}, 4, COAP_PARSE_DROP},
    {"version 3", {0xc0, 0x01, 0, 1}, 4, COAP_PARSE_DROP},
    {"minimal GET", {0x40, 0x01, 0, 1}, 4, COAP_PARSE_OK},
    {"token longer than datagram", {0x42, 0x01, 0, 1, 9}, 5, COAP_PARSE_REJECT},
    {"class 1 code", {0x40, 0x20, 0, 1}, 4, COAP_PARSE_REJECT},
    {"class 6 code", {0x40, 0xc0, 0, 1}, 4, COAP_PARSE_REJECT},
    {"class 7 code", {0x40, 0xe1, 0, 1}, 4, COAP_PARSE_REJECT},
    {"empty ACK", {0x60, 0x00, 0, 1}, 4, COAP_PARSE_OK},
    {"empty with token", {0x41, 0x00, 0, 1, 7}, 5, COAP_PARSE_REJECT},
    {"empty with option", {0x40, 0x00, 0, 1, 0x10}, 5, COAP_PARSE_REJECT},
    {"empty with marker", {0x40, 0x00, 0, 1, 0xff, 1}, 6, COAP_PARSE_REJECT},
    {"delta nibble 15", {0x40, 0x01, 0, 1, 0xf0}, 5, COAP_PARSE_REJECT},
    {"length nibble 15", {0x40, 0x01, 0, 1, 0x1f}, 5, COAP_PARSE_REJECT},
    {"marker without payload", {0x40, 0x01, 0, 1, 0xff}, 5, COAP_PARSE_REJECT},
    {"marker with payload", {0x40, 0x01, 0, 1, 0xff, 0}, 6, COAP_PARSE_OK},
    {"option value past end", {0x40, 0x01, 0, 1, 0xb3, 'a'}, 6,
     COAP_PARSE_REJECT},
    {"13-form delta cut", {0x40, 0x01, 0, 1, 0xd0}, 5, COAP_PARSE_REJECT},
    {"14-form delta cut", {0x40, 0x01, 0, 1, 0xe0, 0}, 6, COAP_PARSE_REJECT},
    {"13-form length cut", {0x40, 0x01, 0, 1, 0x1d}, 5, COAP_PARSE_REJECT},
    {"14-form length cut", {0x40, 0x01, 0, 1, 0x1e, 0}, 6, COAP_PARSE_REJECT},
    {"13-form length past end", {0x40, 0x01, 0, 1, 0x1d, 0}, 6,
     COAP_PARSE_REJECT},
    {"14-form delta beyond 65535", {0x40, 0x01, 0, 1, 0xe0, 0xff, 0xff}, 7,
     COAP_PARSE_REJECT},
    {"option number sum overflows",
     {0x40, 0x01, 0, 1, 0xe0, 0xfe, 0xf2, 0x10}, 8, COAP_PARSE_REJECT},
    {"option number 65535 exactly", {0x40, 0x01, 0, 1, 0xe0, 0xfe, 0xf2}, 7,
     COAP_PARSE_OK},
    {"options then marker", {0x40, 0x01, 0, 1, 0xb1, 'a', 0xff, 'x'}, 8,
     COAP_PARSE_OK},
    {"nibble 15 after an option", {0x40, 0x01, 0, 1, 0xb1, 'a', 0x1f}, 7,
     COAP_PARSE_REJECT},
  };
  size_t i;
  unsigned tkl;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    coap_pdu_t view;
    is_int(view_exact(cases[i].bytes, cases[i].len, &view), cases[i].want,
           cases[i].name);
  }
  for (tkl = 9; tkl <= 15; tkl++) {
    uint8_t msg[4 + 15];
    coap_pdu_t view;
    memset(msg, 0, sizeof(msg));
    msg[0] = (uint8_t)(0x40 | tkl);
    msg[1] = 0x01;
    msg[2] = 0xab;
    msg[3] = 0xcd;
    ok(view_exact(msg, 4 + tkl, &view) == COAP_PARSE_REJECT &&
           view.type == COAP_MESSAGE_CON && view.mid == 0xabcd,
       "TKL %u rejected, header still read", tkl);
  }
  {
    /* A CON with bad options must still expose its mid for the RST. */
    static const uint8_t msg[] = {0x51, 0x02, 0x12, 0x34, 0x77, 0xf0};
    coap_pdu_t view;
    coap_bin_const_t tok;
    ok(view_exact(msg, sizeof(msg), &view) == COAP_PARSE_REJECT &&
           view.type == COAP_MESSAGE_NON && view.code == COAP_REQUEST_CODE_POST &&
           view.mid == 0x1234,
       "rejected message keeps type, code, mid");
    ok(coap_pdu_view_udp(&view, msg, sizeof(msg)) == COAP_PARSE_REJECT &&
           (tok = coap_pdu_get_token(&view)).length == 1 && tok.s[0] == 0x77,
       "rejected message keeps its token");
  }
}

/* Every prefix of a valid message: only the prefixes that are themselves
 * valid messages may parse. */
static void
test_truncations(void)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_PUT, 9,
                                  1024);
  uint8_t msg[1024], big[300];
  size_t len, cut, bad = 0, boundaries[8], nb = 0, b;

  memset(big, 'B', sizeof(big));
  coap_add_token(pdu, 3, (const uint8_t *)"tok");
  boundaries[nb++] = 4 + 3;
  coap_add_option(pdu, COAP_OPTION_URI_PATH, 20, big); /* 13-form length */
  boundaries[nb++] = 4 + 3 + 2 + 20;
  coap_add_option(pdu, 300, 280, big); /* 14-form delta and length */
  boundaries[nb++] = 4 + 3 + 2 + 20 + 5 + 280;
  coap_add_data(pdu, 5, (const uint8_t *)"hello");
  len = encode(pdu, msg, sizeof(msg));
  is_int(len, 4 + 3 + 22 + 285 + 6, "truncation subject length");
  for (cut = 0; cut < len; cut++) {
    coap_pdu_t view;
    coap_parse_status_t st = view_exact(msg, cut, &view);
    int valid = cut > boundaries[nb - 1] + 1; /* some payload left */

    for (b = 0; b < nb; b++)
      if (cut == boundaries[b])
        valid = 1;
    if ((st == COAP_PARSE_OK) != valid) {
      bad++;
      printf("# prefix %zu: status %d\n", cut, (int)st);
    }
  }
  is_int(bad, 0, "every truncation parses only when it is a valid prefix");
  coap_delete_pdu(pdu);
}

/* ---------------------------------------------------------------- order */

typedef struct opt_spec_t {
  coap_option_num_t number;
  size_t length;
} opt_spec_t;

static size_t
build_in_order(const opt_spec_t *specs, const size_t *order, size_t n,
               uint8_t *out, size_t room, const uint8_t *value)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1,
                                  4096);
  size_t i, len = 0, fail = 0;

  coap_add_token(pdu, 2, (const uint8_t *)"tk");
  for (i = 0; i < n; i++) {
    const opt_spec_t *s = &specs[order[i]];
    /* distinct content per spec so a swap shows in the bytes */
    if (coap_add_option(pdu, s->number, s->length, value + order[i]) == 0)
      fail = 1;
  }
  if (!fail)
    len = encode(pdu, out, room);
  coap_delete_pdu(pdu);
  return len;
}

static int
next_permutation(size_t *a, size_t n)
{
  size_t i, j, t;

  if (n < 2)
    return 0;
  i = n - 1;
  while (i > 0 && a[i - 1] >= a[i])
    i--;
  if (i == 0)
    return 0;
  j = n - 1;
  while (a[j] <= a[i - 1])
    j--;
  t = a[i - 1];
  a[i - 1] = a[j];
  a[j] = t;
  for (j = n - 1; i < j; i++, j--) {
    t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return 1;
}

static void
test_out_of_order(void)
{
  /* Deltas between neighbours cross the 13 and 269 thresholds both ways
   * depending on what is inserted between them. */
  static const opt_spec_t sets[][6] = {
    {{1, 0}, {11, 5}, {12, 1}, {60, 13}, {258, 300}, {2000, 2}},
    {{3, 9}, {4, 8}, {13, 0}, {269, 14}, {282, 268}, {65535, 1}},
    {{11, 1}, {15, 2}, {300, 0}, {301, 12}, {600, 269}, {40000, 3}},
  };
  uint8_t value[512], want[4096], got[4096];
  size_t s, i;

  for (i = 0; i < sizeof(value); i++)
    value[i] = (uint8_t)(i * 13 + 1);
  for (s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
    size_t order[6] = {0, 1, 2, 3, 4, 5}, wlen, mismatches = 0, perms = 0;

    wlen = build_in_order(sets[s], order, 6, want, sizeof(want), value);
    ok(wlen > 0, "set %zu builds in order", s);
    while (next_permutation(order, 6)) {
      size_t glen = build_in_order(sets[s], order, 6, got, sizeof(got), value);
      perms++;
      if (glen != wlen || memcmp(got, want, wlen) != 0)
        mismatches++;
    }
    is_int(perms, 719, "all permutations tried");
    is_int(mismatches, 0, "every insertion order gives the in-order bytes");
  }
  {
    /* Equal numbers keep the order they were added in. */
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1,
                                    256);
    coap_opt_iterator_t oi;
    coap_opt_t *opt;
    coap_add_option(pdu, COAP_OPTION_URI_QUERY, 1, (const uint8_t *)"q");
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 1, (const uint8_t *)"a");
    coap_add_option(pdu, COAP_OPTION_URI_HOST, 1, (const uint8_t *)"h");
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 1, (const uint8_t *)"b");
    opt = coap_check_option(pdu, COAP_OPTION_URI_PATH, &oi);
    ok(opt && *coap_opt_value(opt) == 'a', "first Uri-Path is a");
    opt = coap_option_next(&oi);
    ok(opt && *coap_opt_value(opt) == 'b', "second Uri-Path is b");
    is_int(pdu->max_opt, COAP_OPTION_URI_QUERY, "max_opt stays the largest");
    coap_delete_pdu(pdu);
  }
}

/* ---------------------------------------------------------------- limits */

static void
test_payload_rules(void)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, 1,
                                  64);
  size_t used;
  uint8_t *p;
  const uint8_t *d;
  size_t dl;

  ok(!coap_get_data(pdu, &dl, &d) && dl == 0 && d == NULL,
     "no payload: get_data 0");
  ok(coap_add_data(pdu, 0, NULL), "empty payload is a no-op success");
  ok(!coap_get_data(pdu, &dl, &d), "still no payload after empty add");
  coap_add_option(pdu, COAP_OPTION_URI_PATH, 1, (const uint8_t *)"x");
  ok(coap_add_data(pdu, 3, (const uint8_t *)"abc"), "payload added");
  used = pdu->used_size;
  ok(coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, 0, NULL) == 0,
     "option after payload fails");
  ok(coap_add_option(pdu, COAP_OPTION_URI_HOST, 1, (const uint8_t *)"h") == 0,
     "lower option after payload fails");
  ok(coap_add_data(pdu, 1, (const uint8_t *)"d") == 0, "second payload fails");
  is_int(pdu->used_size, used, "failed adds change nothing");
  coap_pdu_clear_body(pdu);
  ok(!coap_get_data(pdu, &dl, &d) && pdu->used_size == 0 && pdu->max_opt == 0,
     "clear_body drops options and payload");
  p = coap_add_data_after(pdu, 4);
  ok(p != NULL, "add_data_after gives room");
  if (p)
    memcpy(p, "wxyz", 4);
  ok(coap_get_data(pdu, &dl, &d) && dl == 4 && memcmp(d, "wxyz", 4) == 0,
     "add_data_after data is the payload");
  ok(coap_add_data_after(pdu, 0) == NULL, "add_data_after 0 gives NULL");
  coap_delete_pdu(pdu);
}

static void
test_max_size(void)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1,
                                  16);
  uint8_t v[32];
  uint8_t buf[COAP_PDU_HEADROOM + 12];
  coap_pdu_t st;

  memset(v, 'v', sizeof(v));
  ok(coap_add_token(pdu, 8, v), "token in a 16-byte PDU");
  ok(coap_add_option(pdu, COAP_OPTION_URI_PATH, 6, v) == 7, "7 bytes fit");
  is_int(pdu->used_size, 15, "15 used");
  ok(coap_add_option(pdu, COAP_OPTION_URI_PATH, 1, v) == 0,
     "2-byte option over max_size refused");
  ok(coap_add_option(pdu, COAP_OPTION_URI_HOST, 0, v) == 1,
     "1-byte insertion fits exactly");
  ok(coap_add_option(pdu, COAP_OPTION_IF_MATCH, 0, v) == 0,
     "insertion over max_size refused");
  ok(coap_add_data(pdu, 1, v) == 0, "payload over max_size refused");
  is_int(pdu->used_size, 16, "used_size stays at the limit");
  coap_delete_pdu(pdu);

  pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1, 4000);
  ok(coap_add_token(pdu, 9, v) == 0, "9-byte token refused");
  coap_delete_pdu(pdu);

  coap_pdu_init_static(&st, buf, sizeof(buf), COAP_MESSAGE_ACK,
                       COAP_RESPONSE_CODE_CONTENT, 42);
  ok(coap_add_token(&st, 4, v), "static PDU takes a token");
  ok(coap_add_option(&st, COAP_OPTION_CONTENT_FORMAT, 1, v) == 2,
     "static PDU takes an option");
  ok(coap_add_data(&st, 7, v) == 0, "static PDU refuses past its buffer");
  ok(coap_add_data(&st, 5, v), "static PDU fills exactly");
  {
    size_t len = 0;
    const uint8_t *p = coap_pdu_encode_udp(&st, &len);
    ok(p == buf + COAP_PDU_HEADROOM - 4 && len == 16 && p[0] == 0x64 &&
           p[1] == 0x45 && p[3] == 42,
       "static PDU encodes in its headroom");
  }
}

static void
test_growth(void)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, 1,
                                  5000);
  uint8_t *payload = malloc(4400);
  const uint8_t *d;
  size_t dl, i, added = 0;

  for (i = 0; i < 4400; i++)
    payload[i] = (uint8_t)i;
  coap_add_token(pdu, 2, (const uint8_t *)"gt");
  for (i = 0; i < 100; i++)
    added += coap_add_option(pdu, COAP_OPTION_URI_PATH, 5, payload) == 6;
  is_int(added, 100, "100 options added with the buffer growing");
  /* 2 + 600 used: the marker and 4397 bytes fill the 5000 exactly */
  ok(coap_add_data(pdu, 4398, payload) == 0, "payload past max_size refused");
  ok(coap_add_data(pdu, 4397, payload), "payload up to max_size");
  ok(coap_get_data(pdu, &dl, &d) && dl == 4397 && memcmp(d, payload, 4397) == 0,
     "payload intact after growth");
  is_int(pdu->used_size, 5000, "used_size reaches max_size");
  ok(coap_add_option(pdu, COAP_OPTION_URI_HOST, 1, payload) == 0,
     "no option after payload even when growing");
  free(payload);
  coap_delete_pdu(pdu);
}

/* ---------------------------------------------------------------- iterate */

static coap_pdu_t *
make_request(void)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 5,
                                  256);
  uint8_t cf = 0;

  coap_add_token(pdu, 1, (const uint8_t *)"t");
  coap_add_option(pdu, COAP_OPTION_URI_HOST, 4, (const uint8_t *)"host");
  coap_add_option(pdu, COAP_OPTION_URI_PATH, 1, (const uint8_t *)"a");
  coap_add_option(pdu, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"bc");
  coap_add_option(pdu, COAP_OPTION_URI_QUERY, 3, (const uint8_t *)"k=v");
  coap_add_option(pdu, COAP_OPTION_SIZE1, 1, &cf);
  coap_add_data(pdu, 1, (const uint8_t *)"P");
  return pdu;
}

static void
test_iterator(void)
{
  coap_pdu_t *pdu = make_request();
  coap_opt_iterator_t oi;
  coap_opt_filter_t f;
  coap_opt_t *opt;
  coap_option_num_t seen[8];
  size_t n = 0, i;

  ok(coap_option_iterator_init(pdu, &oi, NULL) != NULL, "iterator init");
  while ((opt = coap_option_next(&oi)) && n < 8)
    seen[n++] = oi.number;
  ok(n == 5 && seen[0] == 3 && seen[1] == 11 && seen[2] == 11 &&
         seen[3] == 15 && seen[4] == 60,
     "unfiltered iteration yields all options in order");
  ok(!oi.bad, "iteration ended cleanly at the payload marker");

  coap_option_filter_clear(&f);
  coap_option_filter_set(&f, COAP_OPTION_URI_PATH);
  coap_option_filter_set(&f, COAP_OPTION_SIZE1);
  coap_option_iterator_init(pdu, &oi, &f);
  n = 0;
  while ((opt = coap_option_next(&oi)) && n < 8)
    seen[n++] = oi.number;
  ok(n == 3 && seen[0] == 11 && seen[1] == 11 && seen[2] == 60,
     "filter {11, 60} yields 11, 11, 60");

  coap_option_filter_clear(&f);
  coap_option_iterator_init(pdu, &oi, &f);
  ok(coap_option_next(&oi) == NULL, "an empty filter matches nothing");

  coap_option_filter_clear(&f);
  for (n = 0, i = 0; i < 16; i++)
    n += (size_t)coap_option_filter_set(&f, (coap_option_num_t)(100 + i));
  is_int(n, 16, "a filter takes 16 numbers");
  ok(coap_option_filter_set(&f, 500) == 0, "a 17th filter number is refused");
  ok(coap_option_filter_set(&f, 100), "setting a present number succeeds");

  opt = coap_check_option(pdu, COAP_OPTION_URI_QUERY, &oi);
  is_mem(coap_opt_value(opt), coap_opt_length(opt), "k=v", 3,
         "check_option finds Uri-Query");
  ok(coap_check_option(pdu, COAP_OPTION_ETAG, &oi) == NULL,
     "check_option on an absent option");
  coap_delete_pdu(pdu);
}

/* ---------------------------------------------------------------- parse */

static void
test_parse_copy(void)
{
  coap_pdu_t *src = make_request(), *dst, *small, *dup;
  uint8_t msg[256];
  size_t len = encode(src, msg, sizeof(msg)), dl;
  const uint8_t *d;
  coap_opt_iterator_t oi;
  coap_opt_t *opt;
  uint8_t again[256];

  dst = coap_pdu_init(0, 0, 0, 256);
  ok(coap_pdu_parse(COAP_PROTO_UDP, msg, len, dst), "coap_pdu_parse UDP");
  ok(dst->type == COAP_MESSAGE_CON && dst->code == COAP_REQUEST_CODE_GET &&
         dst->mid == 5 && dst->token_length == 1 && dst->token[0] == 't',
     "parsed header and token");
  ok(coap_get_data(dst, &dl, &d) && dl == 1 && d[0] == 'P', "parsed payload");
  ok(encode(dst, again, sizeof(again)) == len && memcmp(again, msg, len) == 0,
     "parse then encode is the identity");
  ok(coap_pdu_parse(COAP_PROTO_DTLS, msg, len, dst), "DTLS uses UDP framing");
  ok(coap_pdu_parse(COAP_PROTO_TCP, msg, len, dst) == 0, "TCP framing: 0");
  small = coap_pdu_init(0, 0, 0, 8);
  ok(coap_pdu_parse(COAP_PROTO_UDP, msg, len, small) == 0,
     "parse into a PDU without room fails");
  msg[4 + 1] = 0xf0; /* first option header: delta nibble 15 */
  ok(coap_pdu_parse(COAP_PROTO_UDP, msg, len, dst) == 0,
     "parse of a malformed message fails");

  dup = coap_pdu_duplicate(src, NULL, 4, (const uint8_t *)"newt", NULL);
  ok(dup != NULL, "duplicate");
  ok(dup->token_length == 4 && memcmp(dup->token, "newt", 4) == 0,
     "duplicate has the new token");
  opt = coap_check_option(dup, COAP_OPTION_URI_QUERY, &oi);
  ok(opt && coap_opt_length(opt) == 3 && memcmp(coap_opt_value(opt), "k=v", 3) == 0,
     "duplicate copies options");
  ok(!coap_get_data(dup, &dl, &d), "duplicate leaves the payload out");
  ok(coap_add_option(dup, COAP_OPTION_ACCEPT, 0, NULL) == 1 &&
         coap_check_option(dup, COAP_OPTION_ACCEPT, &oi) != NULL,
     "duplicate accepts more options in order");
  ok(coap_pdu_duplicate(src, NULL, 9, msg, NULL) == NULL,
     "duplicate refuses a 9-byte token");
  coap_delete_pdu(dup);
  coap_delete_pdu(small);
  coap_delete_pdu(dst);
  coap_delete_pdu(src);
}

static void
test_view_is_readonly(void)
{
  static const uint8_t msg[] = {0x40, 0x01, 0, 1, 0xb1, 'a'};
  coap_pdu_t view;
  size_t len;

  ok(coap_pdu_view_udp(&view, msg, sizeof(msg)) == COAP_PARSE_OK, "view");
  ok(coap_add_option(&view, 12, 0, NULL) == 0, "a view cannot grow");
  ok(coap_pdu_encode_udp(&view, &len) == NULL, "a view cannot be encoded");
}

/* ---------------------------------------------------------------- critical */

static void
test_unknown_critical(void)
{
  static const struct {
    const char *name;
    coap_option_num_t numbers[3];
    size_t lengths[3];
    size_t n;
    coap_option_num_t want;
  } cases[] = {
    {"Uri-Path only", {11}, {1}, 1, 0},
    {"OSCORE is known", {9}, {0}, 1, 0},
    {"unregistered critical 2049", {11, 2049}, {1, 1}, 2, 2049},
    {"unregistered elective 2048", {2048}, {1}, 1, 0},
    {"Uri-Host of length 0", {3}, {0}, 1, 3},
    {"Uri-Port of 3 bytes", {7}, {3}, 1, 7},
    {"If-None-Match with a value", {5}, {1}, 1, 5},
    {"If-None-Match twice", {5, 5}, {0, 0}, 2, 5},
    {"Uri-Path repeats", {11, 11}, {1, 1}, 2, 0},
    {"Uri-Port twice", {7, 7}, {1, 1}, 2, 7},
    {"Accept twice", {17, 17}, {1, 1}, 2, 17},
    {"Max-Age twice is elective", {14, 14}, {1, 1}, 2, 0},
    {"ETag too long is elective", {4}, {9}, 1, 0},
    {"Proxy-Uri 1035 bytes", {35}, {1035}, 1, 35},
    {"Block2 4 bytes", {23}, {4}, 1, 23},
    {"Hop-Limit elective", {16}, {2}, 1, 0},
    {"No-Response critical", {258}, {2}, 1, 0},
    {"Request-Tag repeats", {292, 292}, {1, 1}, 2, 0},
    {"Echo elective", {252}, {41}, 1, 0},
  };
  uint8_t value[1100];
  size_t i, j;

  memset(value, 1, sizeof(value));
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1,
                                    2048);
    for (j = 0; j < cases[i].n; j++)
      coap_add_option(pdu, cases[i].numbers[j], cases[i].lengths[j], value);
    is_int(coap_pdu_unknown_critical(pdu), cases[i].want, cases[i].name);
    coap_delete_pdu(pdu);
  }
}

int
main(void)
{
  coap_set_log_level(COAP_LOG_ERR);
  test_encode_var();
  test_build_known_bytes();
  test_empty_message();
  test_option_edges();
  test_malformed();
  test_truncations();
  test_out_of_order();
  test_payload_rules();
  test_max_size();
  test_growth();
  test_iterator();
  test_parse_copy();
  test_view_is_readonly();
  test_unknown_critical();
  return tap_done();
}
