/*
 * options.c -- command-line value parsers shared by the tools.  The input is
 * whatever the user typed: every parser checks length and characters before
 * it converts anything.
 */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coap.h"

int
ck_parse_uint(const char *text, unsigned long min, unsigned long max,
              unsigned long *out)
{
  char *end = NULL;
  unsigned long value;

  if (text == NULL || !isdigit((unsigned char)text[0]))
    return -1;
  errno = 0;
  value = strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0')
    return -1;
  if (value < min || value > max)
    return -1;
  *out = value;
  return 0;
}

int
ck_parse_port(const char *text, uint16_t *port)
{
  unsigned long value;

  if (ck_parse_uint(text, 0, 65535, &value) < 0)
    return -1;
  *port = (uint16_t)value;
  return 0;
}

int
ck_parse_seconds(const char *text, uint32_t *ms)
{
  char *end = NULL;
  double value;

  /* strtod alone would take "inf", "nan", hex floats and leading blanks. */
  if (text == NULL || !(isdigit((unsigned char)text[0]) || text[0] == '.'))
    return -1;
  if (strpbrk(text, "xXnN") != NULL)
    return -1;
  errno = 0;
  value = strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !isfinite(value))
    return -1;
  if (value <= 0.0 || value > 86400.0)
    return -1;
  *ms = (uint32_t)(value * 1000.0);
  if ((double)*ms < value * 1000.0)
    (*ms)++;
  return 0;
}

int
ck_parse_log_level(const char *text, coap_log_t *level)
{
  unsigned long value;

  if (ck_parse_uint(text, 0, COAP_MAX_LOGGING_LEVEL, &value) < 0)
    return -1;
  *level = (coap_log_t)value;
  return 0;
}

static const struct {
  const char *name;
  uint8_t code;
} methods[] = {
  {"get", COAP_REQUEST_CODE_GET},       {"post", COAP_REQUEST_CODE_POST},
  {"put", COAP_REQUEST_CODE_PUT},       {"delete", COAP_REQUEST_CODE_DELETE},
  {"fetch", COAP_REQUEST_CODE_FETCH},   {"patch", COAP_REQUEST_CODE_PATCH},
  {"ipatch", COAP_REQUEST_CODE_IPATCH},
};

int
ck_parse_method(const char *text, uint8_t *code)
{
  size_t i;

  if (text == NULL)
    return -1;
  for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    if (strcasecmp(text, methods[i].name) == 0) {
      *code = methods[i].code;
      return 0;
    }
  }
  return -1;
}

/* Short names people type, beside the registry names the library knows. */
static const struct {
  const char *name;
  uint16_t format;
} format_aliases[] = {
  {"text", COAP_MEDIATYPE_TEXT_PLAIN},
  {"plain", COAP_MEDIATYPE_TEXT_PLAIN},
  {"text/plain", COAP_MEDIATYPE_TEXT_PLAIN},
  {"link", COAP_MEDIATYPE_APPLICATION_LINK_FORMAT},
  {"link-format", COAP_MEDIATYPE_APPLICATION_LINK_FORMAT},
  {"application/link-format", COAP_MEDIATYPE_APPLICATION_LINK_FORMAT},
  {"xml", COAP_MEDIATYPE_APPLICATION_XML},
  {"application/xml", COAP_MEDIATYPE_APPLICATION_XML},
  {"octet-stream", COAP_MEDIATYPE_APPLICATION_OCTET_STREAM},
  {"binary", COAP_MEDIATYPE_APPLICATION_OCTET_STREAM},
  {"application/octet-stream", COAP_MEDIATYPE_APPLICATION_OCTET_STREAM},
  {"rdf-xml", COAP_MEDIATYPE_APPLICATION_RDF_XML},
  {"exi", COAP_MEDIATYPE_APPLICATION_EXI},
  {"json", COAP_MEDIATYPE_APPLICATION_JSON},
  {"application/json", COAP_MEDIATYPE_APPLICATION_JSON},
  {"cbor", COAP_MEDIATYPE_APPLICATION_CBOR},
  {"application/cbor", COAP_MEDIATYPE_APPLICATION_CBOR},
};

int
ck_parse_content_format(const char *text, uint16_t *format)
{
  unsigned long number;
  size_t i;
  int found;

  if (text == NULL || text[0] == '\0')
    return -1;
  if (isdigit((unsigned char)text[0])) {
    if (ck_parse_uint(text, 0, 65535, &number) < 0)
      return -1;
    *format = (uint16_t)number;
    return 0;
  }
  for (i = 0; i < sizeof(format_aliases) / sizeof(format_aliases[0]); i++) {
    if (strcasecmp(text, format_aliases[i].name) == 0) {
      *format = format_aliases[i].format;
      return 0;
    }
  }
  found = coap_content_format_by_name(text);
  if (found < 0 || found > 65535)
    return -1;
  *format = (uint16_t)found;
  return 0;
}

static int
hex_digit(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int
ck_parse_hex(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
  size_t n = strlen(hex);
  size_t i;

  if (n % 2 != 0 || n / 2 > cap)
    return -1;
  for (i = 0; i < n / 2; i++) {
    int hi = hex_digit(hex[2 * i]);
    int lo = hex_digit(hex[2 * i + 1]);

    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  *len = n / 2;
  return 0;
}

static int
has_hex_prefix(const char *text)
{
  return text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
}

int
ck_parse_token(const char *text, uint8_t token[COAP_TOKEN_MAX_LEN],
               size_t *len)
{
  size_t n;

  if (text == NULL)
    return -1;
  if (has_hex_prefix(text))
    return ck_parse_hex(text + 2, token, COAP_TOKEN_MAX_LEN, len);
  n = strlen(text);
  if (n > COAP_TOKEN_MAX_LEN)
    return -1;
  memcpy(token, text, n);
  *len = n;
  return 0;
}

/* The option number a "-O" spec names: decimal, or a registered name. */
static int
option_number(const char *name, coap_option_num_t *number)
{
  const coap_option_def_t *def;
  unsigned long value;

  if (isdigit((unsigned char)name[0])) {
    if (ck_parse_uint(name, 1, 65535, &value) < 0)
      return -1;
    *number = (coap_option_num_t)value;
    return 0;
  }
  def = coap_option_def_by_name(name);
  if (def == NULL)
    return -1;
  *number = def->number;
  return 0;
}

static int
option_value(const char *text, ck_option_arg_t *opt, const char **why)
{
  const coap_option_def_t *def = coap_option_def(opt->number);
  unsigned long number;
  uint8_t buf[8];
  size_t n;

  if (has_hex_prefix(text)) {
    if (ck_parse_hex(text + 2, opt->value, sizeof(opt->value),
                     &opt->length) < 0) {
      *why = "bad hex value";
      return -1;
    }
    return 0;
  }
  if (def != NULL && def->format == COAP_OPTION_FORMAT_UINT &&
      text[0] != '\0') {
    if (ck_parse_uint(text, 0, 0xffffffffUL, &number) < 0) {
      *why = "this option takes a number";
      return -1;
    }
    opt->length = coap_encode_var_safe8(buf, sizeof(buf), number);
    memcpy(opt->value, buf, opt->length);
    return 0;
  }
  n = strlen(text);
  if (n > sizeof(opt->value)) {
    *why = "value too long";
    return -1;
  }
  memcpy(opt->value, text, n);
  opt->length = n;
  return 0;
}

int
ck_parse_option_arg(const char *text, ck_option_arg_t *opt, const char **why)
{
  const char *comma;
  char name[64];
  size_t n;
  const char *ignored;

  if (why == NULL)
    why = &ignored;
  comma = text != NULL ? strchr(text, ',') : NULL;
  if (comma == NULL) {
    *why = "expected number,value";
    return -1;
  }
  n = (size_t)(comma - text);
  if (n == 0 || n >= sizeof(name)) {
    *why = "bad option number or name";
    return -1;
  }
  memcpy(name, text, n);
  name[n] = '\0';
  if (option_number(name, &opt->number) < 0) {
    *why = "unknown option number or name";
    return -1;
  }
  return option_value(comma + 1, opt, why);
}

int
ck_parse_block(const char *text, unsigned int *num, unsigned int *size)
{
  const char *comma = strchr(text, ',');
  char digits[16];
  unsigned long n = 0, sz;

  if (comma != NULL) {
    if ((size_t)(comma - text) >= sizeof(digits))
      return -1;
    memcpy(digits, text, (size_t)(comma - text));
    digits[comma - text] = '\0';
    if (ck_parse_uint(digits, 0, 0xFFFFF, &n) < 0)
      return -1;
    text = comma + 1;
  }
  if (ck_parse_uint(text, 16, 1024, &sz) < 0 || (sz & (sz - 1)) != 0)
    return -1;
  *num = (unsigned int)n;
  *size = (unsigned int)sz;
  return 0;
}
