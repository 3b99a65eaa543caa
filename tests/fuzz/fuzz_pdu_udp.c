/*
 * fuzz_pdu_udp.c -- the UDP message parser (RFC 7252 section 3).
 *
 * One input is one datagram.  The zero-copy view and coap_pdu_parse must
 * agree on whether it is well formed and on what it says; a parsed message
 * re-encodes to the very same bytes (the option encoding is canonical: each
 * delta and length has exactly one spelling), parses again to the same
 * fields, and building it afresh with coap_add_option -- in order, and in
 * an order that exercises insertion -- gives those bytes again.  The
 * readers the engine applies to requests (unknown-critical check, URI
 * rebuild, path and query joins, duplicate) run on every parsed message.
 */
#include "fuzz.h"
#include "pdu_internal.h"

#define MAX_OPTS 512

typedef struct opt_rec_t {
  coap_option_num_t number;
  uint32_t length;
  const uint8_t *value;
} opt_rec_t;

/* The options of pdu, through the public iterator; -1 if the iteration
 * ended on malformed data (it must not, once parsed) or there are too many
 * to keep. */
static int
collect_options(const coap_pdu_t *pdu, opt_rec_t *out, size_t cap)
{
  coap_opt_iterator_t oi;
  coap_opt_t *opt;
  size_t n = 0;

  if (!coap_option_iterator_init(pdu, &oi, NULL))
    return -1;
  while ((opt = coap_option_next(&oi)) != NULL) {
    if (n == cap)
      return -1;
    out[n].number = oi.number;
    out[n].length = coap_opt_length(opt);
    out[n].value = coap_opt_value(opt);
    n++;
  }
  return oi.bad ? -1 : (int)n;
}

static void
same_options(const opt_rec_t *a, int na, const opt_rec_t *b, int nb)
{
  FUZZ_CHECK(na == nb);
  for (int i = 0; i < na; i++) {
    FUZZ_CHECK(a[i].number == b[i].number);
    FUZZ_CHECK(a[i].length == b[i].length);
    FUZZ_CHECK(a[i].length == 0 ||
               memcmp(a[i].value, b[i].value, a[i].length) == 0);
  }
}

static void
same_message(const coap_pdu_t *a, const coap_pdu_t *b)
{
  coap_bin_const_t ta = coap_pdu_get_token(a), tb = coap_pdu_get_token(b);
  size_t la, lb;
  const uint8_t *da, *db;
  int ha, hb;

  FUZZ_CHECK(coap_pdu_get_type(a) == coap_pdu_get_type(b));
  FUZZ_CHECK(coap_pdu_get_code(a) == coap_pdu_get_code(b));
  FUZZ_CHECK(coap_pdu_get_mid(a) == coap_pdu_get_mid(b));
  FUZZ_CHECK(ta.length == tb.length);
  FUZZ_CHECK(ta.length == 0 || memcmp(ta.s, tb.s, ta.length) == 0);
  ha = coap_get_data(a, &la, &da);
  hb = coap_get_data(b, &lb, &db);
  FUZZ_CHECK(ha == hb && la == lb);
  FUZZ_CHECK(la == 0 || memcmp(da, db, la) == 0);
  /* A payload marker is never followed by nothing (RFC 7252 section 3). */
  FUZZ_CHECK(!ha || la > 0);
}

/* Rebuilds the message with the public builder.  descending: options are
 * added highest number first (same numbers keep their order), so every
 * option but the first goes through the insertion path. */
static coap_pdu_t *
rebuild(const coap_pdu_t *src, const opt_rec_t *opts, int n, int descending)
{
  coap_bin_const_t tok = coap_pdu_get_token(src);
  coap_pdu_t *pdu = coap_pdu_init(coap_pdu_get_type(src), coap_pdu_get_code(src),
                                  coap_pdu_get_mid(src), 0);
  size_t len;
  const uint8_t *data;

  if (!pdu)
    return NULL;
  FUZZ_CHECK(coap_add_token(pdu, tok.length, tok.s));
  if (!descending) {
    for (int i = 0; i < n; i++)
      FUZZ_CHECK(coap_add_option(pdu, opts[i].number, opts[i].length,
                                 opts[i].value) > 0);
  } else {
    int hi = n - 1;
    while (hi >= 0) {
      int lo = hi;
      while (lo > 0 && opts[lo - 1].number == opts[hi].number)
        lo--;
      for (int i = lo; i <= hi; i++)
        FUZZ_CHECK(coap_add_option(pdu, opts[i].number, opts[i].length,
                                   opts[i].value) > 0);
      hi = lo - 1;
    }
  }
  if (coap_get_data(src, &len, &data))
    FUZZ_CHECK(coap_add_data(pdu, len, data));
  return pdu;
}

static void
encodes_to(coap_pdu_t *pdu, const uint8_t *data, size_t size)
{
  size_t len = 0;
  const uint8_t *enc = coap_pdu_encode_udp(pdu, &len);

  FUZZ_CHECK(enc != NULL);
  FUZZ_CHECK(len == size);
  FUZZ_CHECK(memcmp(enc, data, size) == 0);
}

/* What the server and client do with a message they accept. */
static void
read_like_the_engine(const coap_pdu_t *pdu)
{
  char uri[2048];
  coap_string_t *s;
  coap_pdu_t *dup;
  coap_opt_iterator_t oi;
  coap_opt_t *opt;
  coap_bin_const_t tok = coap_pdu_get_token(pdu);
  size_t n;

  (void)coap_pdu_unknown_critical(pdu);
  n = coap_pdu_to_uri(pdu, COAP_URI_SCHEME_COAP, "h", uri, sizeof(uri));
  FUZZ_CHECK(n == 0 || (n < sizeof(uri) && strlen(uri) == n));
  coap_delete_string(coap_get_uri_path(pdu));
  s = coap_get_query(pdu);
  FUZZ_CHECK(!s || s->length == strlen((const char *)s->s));
  coap_delete_string(s);
  opt = coap_check_option(pdu, COAP_OPTION_CONTENT_FORMAT, &oi);
  if (opt)
    (void)coap_content_format_name((uint16_t)coap_decode_var_bytes(
        coap_opt_value(opt), coap_opt_length(opt)));
  dup = coap_pdu_duplicate(pdu, NULL, tok.length, tok.s, NULL);
  FUZZ_CHECK(dup != NULL);
  FUZZ_CHECK(coap_pdu_get_code(dup) == coap_pdu_get_code(pdu));
  FUZZ_CHECK(coap_get_data(dup, NULL, NULL) == 0);
  coap_delete_pdu(dup);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  return 0;
}

static void
check_parsed(const coap_pdu_t *view, coap_pdu_t *pdu, const uint8_t *data,
             size_t size)
{
  static opt_rec_t a[MAX_OPTS], b[MAX_OPTS];
  int na, nb;
  coap_pdu_t *again, *built;
  const uint8_t *enc;
  size_t len = 0;

  same_message(view, pdu);
  na = collect_options(view, a, MAX_OPTS);
  nb = collect_options(pdu, b, MAX_OPTS);
  if (na < 0 || nb < 0) {
    /* Only "too many to keep" may stop a well-formed message. */
    FUZZ_CHECK(size > MAX_OPTS);
    return;
  }
  same_options(a, na, b, nb);
  read_like_the_engine(pdu);

  /* Encode, and parse what was encoded. */
  enc = coap_pdu_encode_udp(pdu, &len);
  FUZZ_CHECK(enc && len == size && memcmp(enc, data, size) == 0);
  again = coap_pdu_init(COAP_MESSAGE_CON, COAP_EMPTY_CODE, 0, 0);
  FUZZ_CHECK(again && coap_pdu_parse(COAP_PROTO_UDP, enc, len, again));
  same_message(pdu, again);
  nb = collect_options(again, b, MAX_OPTS);
  same_options(a, na, b, nb);
  coap_delete_pdu(again);

  /* Build the same message from its parts, in two orders. */
  for (int descending = 0; descending < 2; descending++) {
    built = rebuild(pdu, a, na, descending);
    FUZZ_CHECK(built != NULL);
    encodes_to(built, data, size);
    coap_delete_pdu(built);
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  coap_pdu_t view, *pdu;
  coap_parse_status_t st;
  int parsed;

  st = coap_pdu_view_udp(&view, data, size);
  pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_EMPTY_CODE, 0, 0);
  if (!pdu)
    return 0;
  parsed = coap_pdu_parse(COAP_PROTO_UDP, data, size, pdu);
  if (size - (size < 4 ? size : 4) <= COAP_DEFAULT_MAX_PDU_RX_SIZE)
    FUZZ_CHECK(parsed == (st == COAP_PARSE_OK));
  if (st != COAP_PARSE_DROP) {
    /* Even a rejected message's header is readable: the engine RSTs it. */
    FUZZ_CHECK(size >= 4 && view.type == (coap_pdu_type_t)((data[0] >> 4) & 3));
    FUZZ_CHECK(view.mid == ((data[2] << 8) | data[3]));
  }
  /* A view can never be written to or encoded. */
  if (st == COAP_PARSE_OK) {
    size_t len;
    FUZZ_CHECK(coap_pdu_encode_udp(&view, &len) == NULL);
    FUZZ_CHECK(coap_add_option(&view, 65535, 0, NULL) == 0);
  }
  if (parsed)
    check_parsed(&view, pdu, data, size);
  coap_delete_pdu(pdu);
  return 0;
}
