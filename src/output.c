/*
 * output.c -- what the tools print, and how.  stdout carries only data (a
 * payload byte for byte, or one JSON object); every diagnostic is one line
 * on stderr prefixed with the program name, so scripts can rely on both.
 */
#include "output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "coap.h"
#include "exitcode.h"

static const char *prog_name = "coapkit";
static int quiet_mode;

static void
vline(const char *fmt, va_list ap)
{
  char line[1024];
  size_t n;

  vsnprintf(line, sizeof(line), fmt, ap);
  n = strlen(line);
  /* One line per message, whatever the message carried. */
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  fprintf(stderr, "%s: %s\n", prog_name, line);
}

static void
log_handler(coap_log_t level, const char *message)
{
  (void)level;
  if (!quiet_mode && message != NULL)
    ck_diag("%s", message);
}

void
ck_output_init(const char *prog, int quiet)
{
  prog_name = prog;
  quiet_mode = quiet;
  coap_set_log_handler(log_handler);
}

const char *
ck_prog(void)
{
  return prog_name;
}

int
ck_output_quiet(void)
{
  return quiet_mode;
}

void
ck_diag(const char *fmt, ...)
{
  va_list ap;

  if (quiet_mode)
    return;
  va_start(ap, fmt);
  vline(fmt, ap);
  va_end(ap);
}

int
ck_usage_error(const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vline(fmt, ap);
  va_end(ap);
  return CK_EXIT_USAGE;
}

static int
is_stdio(const char *path)
{
  return path == NULL || strcmp(path, "-") == 0;
}

int
ck_write_payload(const char *path, const uint8_t *data, size_t len,
                 int newline)
{
  FILE *f = is_stdio(path) ? stdout : fopen(path, "wb");
  const char *name = is_stdio(path) ? "standard output" : path;
  int failed = 0;

  if (f == NULL) {
    ck_diag("cannot write %s: %s", name, strerror(errno));
    return -1;
  }
  if (len > 0 && fwrite(data, 1, len, f) != len)
    failed = 1;
  if (newline && fputc('\n', f) == EOF)
    failed = 1;
  if (f == stdout ? fflush(f) != 0 : fclose(f) != 0)
    failed = 1;
  if (failed) {
    ck_diag("cannot write %s: %s", name, strerror(errno));
    return -1;
  }
  return 0;
}

static int
read_stream(FILE *f, size_t max, uint8_t **data, size_t *len)
{
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);

  while (buf != NULL) {
    size_t got = fread(buf + n, 1, cap - n, f);

    n += got;
    if (n > max)
      break;
    if (got == 0) {
      if (ferror(f)) {
        free(buf);
        return -1;
      }
      *data = buf;
      *len = n;
      return 0;
    }
    if (n == cap) {
      uint8_t *bigger = realloc(buf, cap * 2);

      if (bigger == NULL)
        break;
      buf = bigger;
      cap *= 2;
    }
  }
  free(buf);
  errno = ENOMEM;
  return n > max ? -2 : -1;
}

int
ck_read_file(const char *path, size_t max, uint8_t **data, size_t *len)
{
  FILE *f = is_stdio(path) ? stdin : fopen(path, "rb");
  const char *name = is_stdio(path) ? "standard input" : path;
  int rc;

  if (f == NULL) {
    ck_diag("cannot read %s: %s", name, strerror(errno));
    return -1;
  }
  rc = read_stream(f, max, data, len);
  if (rc == -1)
    ck_diag("cannot read %s: %s", name, strerror(errno));
  if (f != stdin)
    fclose(f);
  return rc;
}

/* The length of the UTF-8 sequence starting at s (at most n bytes), 0 when
 * it is not a valid, shortest-form sequence of a scalar value. */
static size_t
utf8_seq(const uint8_t *s, size_t n)
{
  size_t need, i;
  uint32_t cp;

  if (s[0] < 0x80)
    return s[0] != 0;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) {
    need = 2;
    cp = s[0] & 0x1f;
  } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
    need = 3;
    cp = s[0] & 0x0f;
  } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    need = 4;
    cp = s[0] & 0x07;
  } else {
    return 0;
  }
  if (n < need)
    return 0;
  for (i = 1; i < need; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
      cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return need;
}

int
ck_is_text(const uint8_t *data, size_t len)
{
  size_t i = 0;

  while (i < len) {
    size_t n = utf8_seq(data + i, len - i);

    if (n == 0)
      return 0;
    i += n;
  }
  return 1;
}

void
ck_hex(const uint8_t *data, size_t len, char *out)
{
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < len; i++) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0xf];
  }
  out[2 * len] = '\0';
}

static const char *
type_name(coap_pdu_type_t type)
{
  static const char *const names[] = {"CON", "NON", "ACK", "RST"};

  return (unsigned)type < 4 ? names[type] : "?";
}

/* An option value as text in its registered format: a decimal uint, a
 * string, or 0x-prefixed hex. */
static void
option_text(coap_option_num_t number, const uint8_t *value, size_t len,
            char *out, size_t outlen)
{
  const coap_option_def_t *def = coap_option_def(number);
  char hex[2 * 16 + 1];

  if (def != NULL && def->format == COAP_OPTION_FORMAT_UINT && len <= 8) {
    snprintf(out, outlen, "%llu",
             (unsigned long long)coap_decode_var_bytes8(value, len));
  } else if (def != NULL && def->format == COAP_OPTION_FORMAT_STRING &&
             ck_is_text(value, len)) {
    snprintf(out, outlen, "%.*s", (int)len, (const char *)value);
  } else if (len == 0) {
    snprintf(out, outlen, "%s", "");
  } else {
    size_t shown = len < 16 ? len : 16;

    ck_hex(value, shown, hex);
    snprintf(out, outlen, "0x%s%s", hex, shown < len ? "..." : "");
  }
}

static const char *
option_name(coap_option_num_t number, char *buf, size_t len)
{
  const coap_option_def_t *def = coap_option_def(number);

  if (def != NULL && def->name != NULL)
    return def->name;
  snprintf(buf, len, "%u", (unsigned)number);
  return buf;
}

void
ck_format_options(const coap_pdu_t *pdu, char *buf, size_t len)
{
  coap_opt_iterator_t oi;
  coap_opt_t *opt;
  size_t used = 0;

  if (len == 0)
    return;
  buf[0] = '\0';
  coap_option_iterator_init(pdu, &oi, NULL);
  while ((opt = coap_option_next(&oi)) != NULL && used + 1 < len) {
    char value[80], numbuf[8];
    int n;

    option_text(oi.number, coap_opt_value(opt), coap_opt_length(opt), value,
                sizeof(value));
    n = snprintf(buf + used, len - used, "%s%s=%s", used ? " " : "",
                 option_name(oi.number, numbuf, sizeof(numbuf)), value);
    if (n < 0 || (size_t)n >= len - used)
      break;
    used += (size_t)n;
  }
}

/* {number, name, value}: value a number for uint options, a string for
 * text, hex otherwise. */
static cJSON *
option_json(coap_option_num_t number, const uint8_t *value, size_t len)
{
  const coap_option_def_t *def = coap_option_def(number);
  cJSON *obj = cJSON_CreateObject();
  char *hex;

  if (obj == NULL)
    return NULL;
  cJSON_AddNumberToObject(obj, "number", number);
  if (def != NULL && def->name != NULL)
    cJSON_AddStringToObject(obj, "name", def->name);
  else
    cJSON_AddNullToObject(obj, "name");
  if (def != NULL && def->format == COAP_OPTION_FORMAT_UINT && len <= 8) {
    cJSON_AddNumberToObject(obj, "value",
                            (double)coap_decode_var_bytes8(value, len));
    return obj;
  }
  if (def != NULL && def->format == COAP_OPTION_FORMAT_STRING &&
      ck_is_text(value, len)) {
    char *text = malloc(len + 1);

    if (text != NULL) {
      memcpy(text, value, len);
      text[len] = '\0';
      cJSON_AddStringToObject(obj, "value", text);
      free(text);
    }
    return obj;
  }
  hex = malloc(2 * len + 1);
  if (hex != NULL) {
    ck_hex(value, len, hex);
    cJSON_AddStringToObject(obj, "value", hex);
    free(hex);
  }
  return obj;
}

static void
add_options(cJSON *root, const coap_pdu_t *pdu)
{
  cJSON *list = cJSON_AddArrayToObject(root, "options");
  coap_opt_iterator_t oi;
  coap_opt_t *opt;

  if (list == NULL)
    return;
  coap_option_iterator_init(pdu, &oi, NULL);
  while ((opt = coap_option_next(&oi)) != NULL) {
    cJSON *item = option_json(oi.number, coap_opt_value(opt),
                              coap_opt_length(opt));

    if (item != NULL)
      cJSON_AddItemToArray(list, item);
  }
}

static void
add_payload(cJSON *root, const coap_pdu_t *pdu)
{
  const uint8_t *data = NULL;
  size_t len = 0;
  char *text;

  coap_get_data(pdu, &len, &data);
  if (ck_is_text(data, len)) {
    text = malloc(len + 1);
    if (text == NULL)
      return;
    if (len > 0)
      memcpy(text, data, len);
    text[len] = '\0';
    cJSON_AddStringToObject(root, "payload", text);
  } else {
    text = malloc(4 * ((len + 2) / 3) + 1);
    if (text == NULL)
      return;
    coap_base64_encode(data, len, text);
    cJSON_AddStringToObject(root, "payload_base64", text);
  }
  free(text);
}

static cJSON *
response_json(const coap_pdu_t *pdu, coap_session_t *session, uint64_t rtt_ms)
{
  cJSON *root = cJSON_CreateObject();
  coap_bin_const_t token = coap_pdu_get_token(pdu);
  uint8_t code = (uint8_t)coap_pdu_get_code(pdu);
  char codebuf[8], tokhex[2 * COAP_TOKEN_MAX_LEN + 1];
  unsigned char addr[INET6_ADDRSTRLEN + sizeof(struct sockaddr_un) + 16];
  const coap_address_t *remote = coap_session_get_addr_remote(session);
  const char *phrase = coap_response_phrase(code);

  if (root == NULL)
    return NULL;
  snprintf(codebuf, sizeof(codebuf), "%u.%02u", code >> 5, code & 0x1fu);
  cJSON_AddStringToObject(root, "code", codebuf);
  cJSON_AddNumberToObject(root, "code_class", code >> 5);
  if (phrase != NULL)
    cJSON_AddStringToObject(root, "phrase", phrase);
  cJSON_AddStringToObject(root, "type", type_name(coap_pdu_get_type(pdu)));
  ck_hex(token.s, token.length <= COAP_TOKEN_MAX_LEN ? token.length : 0,
         tokhex);
  cJSON_AddStringToObject(root, "token", tokhex);
  cJSON_AddNumberToObject(root, "mid", coap_pdu_get_mid(pdu));
  add_options(root, pdu);
  add_payload(root, pdu);
  cJSON_AddNumberToObject(root, "rtt_ms", (double)rtt_ms);
  addr[0] = '\0';
  if (remote != NULL)
    coap_print_addr(remote, addr, sizeof(addr));
  cJSON_AddStringToObject(root, "source", (const char *)addr);
  return root;
}

int
ck_print_response_json(const coap_pdu_t *pdu, coap_session_t *session,
                       uint64_t rtt_ms)
{
  cJSON *root = response_json(pdu, session, rtt_ms);
  char *text = root != NULL ? cJSON_PrintUnformatted(root) : NULL;
  int rc = -1;

  if (text != NULL && printf("%s\n", text) >= 0 && fflush(stdout) == 0)
    rc = 0;
  else
    ck_diag("cannot print the JSON response: %s", strerror(errno));
  cJSON_free(text);
  cJSON_Delete(root);
  return rc;
}
