/*
 * fuzz_tool_options.c -- the tools' command-line value parsers
 * (src/options.c): numbers, ports, seconds, log levels, methods,
 * Content-Format numbers and names, hex, tokens, and "-O num,value".
 *
 * Input: the text of one argument (up to the first NUL), given to every
 * parser.  Besides "no crash, no read past the terminator" (ASan), each
 * accepted value is checked against what the text says.
 */
#include <ctype.h>
#include <strings.h>

#include "fuzz.h"
#include "options.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  return 0;
}

static int
all_digits(const char *s)
{
  if (!*s)
    return 0;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s))
      return 0;
  return 1;
}

static int
all_digits_n(const char *s, const char *end)
{
  for (; s < end; s++)
    if (!isdigit((unsigned char)*s))
      return 0;
  return 1;
}

static void
check_numbers(const char *text)
{
  unsigned long v = 0;
  uint16_t port = 0;
  uint32_t ms = 0;
  coap_log_t level = COAP_LOG_EMERG;
  int ok_uint = ck_parse_uint(text, 0, 65535, &v) == 0;

  if (ok_uint) {
    const char *s = text;
    char back[32];
    FUZZ_CHECK(all_digits(text) && v <= 65535);
    while (s[0] == '0' && s[1])
      s++;
    snprintf(back, sizeof(back), "%lu", v);
    FUZZ_CHECK(strcmp(back, s) == 0);
  }
  FUZZ_CHECK((ck_parse_port(text, &port) == 0) == ok_uint);
  FUZZ_CHECK(!ok_uint || port == v);
  if (ck_parse_uint(text, 10, 20, &v) == 0)
    FUZZ_CHECK(v >= 10 && v <= 20);
  if (ck_parse_seconds(text, &ms) == 0)
    FUZZ_CHECK(ms >= 1 && ms <= 86400000u);
  if (ck_parse_log_level(text, &level) == 0)
    FUZZ_CHECK((int)level >= 0 && level <= COAP_MAX_LOGGING_LEVEL);
}

static void
check_names(const char *text)
{
  uint8_t code = 0;
  uint16_t format = 0;

  if (ck_parse_method(text, &code) == 0) {
    const char *name = coap_method_name(code);
    FUZZ_CHECK(code >= 1 && code <= 7 && name && strcasecmp(name, text) == 0);
  }
  if (ck_parse_content_format(text, &format) == 0 &&
      isdigit((unsigned char)text[0])) {
    unsigned long v;
    FUZZ_CHECK(ck_parse_uint(text, 0, 65535, &v) == 0 && v == format);
  }
}

static void
check_bytes(const char *text)
{
  static const char hex[] = "0123456789abcdef";
  uint8_t out[16], token[COAP_TOKEN_MAX_LEN];
  size_t len = 0, n = strlen(text);

  if (ck_parse_hex(text, out, sizeof(out), &len) == 0) {
    FUZZ_CHECK(len * 2 == n && len <= sizeof(out));
    for (size_t i = 0; i < len; i++) {
      FUZZ_CHECK(tolower((unsigned char)text[2 * i]) == hex[out[i] >> 4]);
      FUZZ_CHECK(tolower((unsigned char)text[2 * i + 1]) == hex[out[i] & 15]);
    }
  }
  if (ck_parse_token(text, token, &len) == 0)
    FUZZ_CHECK(len <= COAP_TOKEN_MAX_LEN);
}

static void
check_option_arg(const char *text)
{
  static ck_option_arg_t opt;
  const char *why = NULL;

  if (ck_parse_option_arg(text, &opt, &why) == 0) {
    FUZZ_CHECK(strchr(text, ',') != NULL);
    FUZZ_CHECK(opt.number >= 1 && opt.length <= CK_OPTION_VALUE_MAX);
  } else {
    /* The tool prints the reason: there must be one. */
    FUZZ_CHECK(why != NULL && why[0] != '\0');
  }
  FUZZ_CHECK(ck_parse_option_arg(text, &opt, NULL) == 0 ||
             ck_parse_option_arg(text, &opt, &why) != 0);
}

/* -b [num,]size: an accepted value is what the text spells. */
static void
check_block(const char *text)
{
  unsigned int num = 7, size = 7;
  const char *comma = strchr(text, ',');
  char back[48];

  if (ck_parse_block(text, &num, &size) != 0) {
    FUZZ_CHECK(num == 7 && size == 7); /* untouched on failure */
    return;
  }
  FUZZ_CHECK(size >= 16 && size <= 1024 && (size & (size - 1)) == 0);
  FUZZ_CHECK(num <= 0xFFFFF && (comma != NULL || num == 0));
  FUZZ_CHECK(all_digits(comma ? comma + 1 : text));
  FUZZ_CHECK(!comma || (comma > text && all_digits_n(text, comma)));
  snprintf(back, sizeof(back), "%u", size);
  {
    const char *s = comma ? comma + 1 : text;
    while (s[0] == '0' && s[1])
      s++;
    FUZZ_CHECK(strcmp(back, s) == 0);
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = fuzz_strndup(data, size);

  if (!text)
    return 0;
  check_numbers(text);
  check_names(text);
  check_bytes(text);
  check_option_arg(text);
  check_block(text);
  free(text);
  return 0;
}
