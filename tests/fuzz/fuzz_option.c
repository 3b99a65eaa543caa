/*
 * fuzz_option.c -- the option registry, the unknown-critical check (RFC 7252
 * 5.4.1), option building in any order, option lists, and the variable
 * length unsigned integers (RFC 7252 3.2).
 *
 * Input: records "number (2 bytes, big endian) | length (1 byte) | value",
 * the last one cut short by the end of the input.  The same bytes are also
 * read as an option encoding and as a name for the registries.
 *
 * Properties: options added in any order, directly or through an option
 * list, come out sorted by number with equal numbers in insertion order
 * (compared with a reference stable sort); the result is a well-formed
 * message; coap_pdu_unknown_critical agrees with a direct reading of the
 * registry; every integer decodes, re-encodes minimally and decodes to
 * itself; registry look-ups by number and by name agree.
 */
#include <strings.h>

#include "fuzz.h"
#include "pdu_internal.h"

#define MAX_RECORDS 256

typedef struct rec_t {
  coap_option_num_t number;
  uint8_t length;
  const uint8_t *value;
} rec_t;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  return 0;
}

static size_t
read_records(const uint8_t *data, size_t size, rec_t *r)
{
  size_t n = 0, i = 0;

  while (n < MAX_RECORDS && size - i >= 3) {
    size_t len = data[i + 2];
    if (len > size - i - 3)
      len = size - i - 3;
    r[n].number = (coap_option_num_t)((data[i] << 8) | data[i + 1]);
    r[n].length = (uint8_t)len;
    r[n].value = data + i + 3;
    n++;
    i += 3 + len;
  }
  return n;
}

/* Stable insertion sort by number: the order the PDU must show. */
static void
reference_sort(rec_t *r, size_t n)
{
  for (size_t i = 1; i < n; i++) {
    rec_t x = r[i];
    size_t j = i;
    while (j > 0 && r[j - 1].number > x.number) {
      r[j] = r[j - 1];
      j--;
    }
    r[j] = x;
  }
}

static coap_option_num_t
reference_unknown_critical(const rec_t *r, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const coap_option_def_t *def = coap_option_def(r[i].number);
    int repeated = i > 0 && r[i - 1].number == r[i].number;

    if (!coap_option_is_critical(r[i].number))
      continue;
    if (!def || r[i].length < def->min_length || r[i].length > def->max_length ||
        (repeated && !def->repeatable))
      return r[i].number;
  }
  return 0;
}

static void
pdu_holds(const coap_pdu_t *pdu, const rec_t *r, size_t n)
{
  coap_opt_iterator_t oi;
  coap_opt_t *opt;
  size_t i = 0, len;
  const uint8_t *enc;
  coap_pdu_t *again;

  coap_option_iterator_init(pdu, &oi, NULL);
  while ((opt = coap_option_next(&oi)) != NULL) {
    FUZZ_CHECK(i < n);
    FUZZ_CHECK(oi.number == r[i].number);
    FUZZ_CHECK(coap_opt_length(opt) == r[i].length);
    FUZZ_CHECK(r[i].length == 0 ||
               memcmp(coap_opt_value(opt), r[i].value, r[i].length) == 0);
    i++;
  }
  FUZZ_CHECK(!oi.bad && i == n);
  /* What the builder wrote is a message the parser accepts. */
  enc = coap_pdu_encode_udp((coap_pdu_t *)(uintptr_t)pdu, &len);
  again = coap_pdu_init(COAP_MESSAGE_CON, COAP_EMPTY_CODE, 0, 0);
  FUZZ_CHECK(enc && again && coap_pdu_parse(COAP_PROTO_UDP, enc, len, again));
  coap_delete_pdu(again);
}

static void
check_building(const rec_t *in, size_t n, size_t size)
{
  static rec_t sorted[MAX_RECORDS];
  coap_pdu_t *direct, *listed;
  coap_optlist_t *list = NULL;
  int fits = 1;

  memcpy(sorted, in, n * sizeof(*in));
  reference_sort(sorted, n);
  direct = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 7, 0);
  listed = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 7, 0);
  FUZZ_CHECK(direct && listed);
  for (size_t i = 0; i < n; i++) {
    coap_optlist_t *node = coap_new_optlist(in[i].number, in[i].length,
                                            in[i].value);
    FUZZ_CHECK(node && coap_insert_optlist(&list, node));
    if (coap_add_option(direct, in[i].number, in[i].length, in[i].value) == 0)
      fits = 0;
  }
  if (fits) {
    pdu_holds(direct, sorted, n);
    FUZZ_CHECK(coap_pdu_unknown_critical(direct) ==
               reference_unknown_critical(sorted, n));
  }
  /* 256 records of at most 5 header bytes fit the 8 KiB default. */
  FUZZ_CHECK(fits || size > 4096);
  if (coap_add_optlist_pdu(listed, &list))
    pdu_holds(listed, sorted, n);
  else
    FUZZ_CHECK(size > 4096);
  coap_delete_optlist(list);
  coap_delete_pdu(direct);
  coap_delete_pdu(listed);
}

static void
check_uint(const uint8_t *v, size_t len)
{
  uint8_t buf[8];
  uint64_t x;
  unsigned n, minimal = 0;

  if (len > 8)
    len = 8;
  x = coap_decode_var_bytes8(v, len);
  FUZZ_CHECK(coap_decode_var_bytes(v, len) == (unsigned int)x);
  for (uint64_t t = x; t; t >>= 8)
    minimal++;
  n = coap_encode_var_safe8(buf, sizeof(buf), x);
  FUZZ_CHECK(n == minimal);
  FUZZ_CHECK(coap_decode_var_bytes8(buf, n) == x);
  if (len && v[0] != 0)
    FUZZ_CHECK(n == len && memcmp(buf, v, len) == 0);
  /* Too small a buffer is refused, never overrun. */
  if (n > 0)
    FUZZ_CHECK(coap_encode_var_safe8(buf, n - 1, x) == 0);
}

static void
check_registry(const rec_t *r, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const coap_option_def_t *def = coap_option_def(r[i].number);
    if (!def)
      continue;
    FUZZ_CHECK(def->number == r[i].number && def->name != NULL);
    FUZZ_CHECK(def->min_length <= def->max_length);
    FUZZ_CHECK(coap_option_def_by_name(def->name) == def);
    check_uint(r[i].value, r[i].length);
  }
}

static void
check_names(const uint8_t *data, size_t size)
{
  char *s = fuzz_strndup(data, size);
  const coap_option_def_t *def;
  int cf;

  if (!s)
    return;
  def = coap_option_def_by_name(s);
  if (def) {
    FUZZ_CHECK(strcasecmp(def->name, s) == 0);
    FUZZ_CHECK(coap_option_def(def->number) == def);
  }
  cf = coap_content_format_by_name(s);
  FUZZ_CHECK(cf >= -1 && cf <= 65535);
  if (cf >= 0 && !(s[0] >= '0' && s[0] <= '9'))
    FUZZ_CHECK(coap_content_format_name((uint16_t)cf) != NULL);
  free(s);
}

/* The raw bytes as an option encoding: every step stays inside. */
static void
walk_encoding(const uint8_t *data, size_t size)
{
  const uint8_t *p = data, *end = data + size;

  while (p < end && *p != COAP_PAYLOAD_START) {
    uint16_t delta;
    uint32_t length;
    const uint8_t *value, *next = coap_opt_parse(p, end, &delta, &length, &value);
    if (!next)
      return;
    FUZZ_CHECK(next > p && next <= end);
    FUZZ_CHECK(value > p && value + length == next);
    p = next;
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static rec_t recs[MAX_RECORDS];
  size_t n = read_records(data, size, recs);

  check_building(recs, n, size);
  check_registry(recs, n);
  check_uint(data, size);
  check_names(data, size);
  walk_encoding(data, size);
  return 0;
}
