/*
 * str.c -- small strings, code and name tables, base64.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coap.h"

/* The header and its bytes share one allocation, so one free() releases
 * both and the text is always NUL-terminated for callers that print it. */
coap_string_t *
coap_new_string(size_t size)
{
  coap_string_t *s;

  if (size > SIZE_MAX - sizeof(*s) - 1)
    return NULL;
  s = malloc(sizeof(*s) + size + 1);
  if (!s)
    return NULL;
  s->s = (uint8_t *)(s + 1);
  s->s[size] = '\0';
  s->length = size;
  return s;
}

void
coap_delete_string(coap_string_t *string)
{
  free(string);
}

static void *
new_const(const uint8_t *data, size_t size, size_t header)
{
  uint8_t *mem;
  coap_str_const_t *s;

  if (size > SIZE_MAX - header - 1 || (!data && size))
    return NULL;
  mem = malloc(header + size + 1);
  if (!mem)
    return NULL;
  if (size)
    memcpy(mem + header, data, size);
  mem[header + size] = '\0';
  s = (coap_str_const_t *)(void *)mem;
  s->length = size;
  s->s = mem + header;
  return mem;
}

coap_str_const_t *
coap_new_str_const(const uint8_t *data, size_t size)
{
  return new_const(data, size, sizeof(coap_str_const_t));
}

void
coap_delete_str_const(coap_str_const_t *string)
{
  free(string);
}

/* coap_bin_const_t has the same layout as coap_str_const_t. */
coap_bin_const_t *
coap_new_bin_const(const uint8_t *data, size_t size)
{
  return new_const(data, size, sizeof(coap_bin_const_t));
}

void
coap_delete_bin_const(coap_bin_const_t *bin)
{
  free(bin);
}

size_t
coap_base64_encode(const uint8_t *in, size_t len, char *out)
{
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i, o = 0;

  if (!out)
    return 0;
  for (i = 0; in && i + 2 < len; i += 3) {
    uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = alphabet[v & 63];
  }
  if (in && i < len) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (i + 1 < len)
      v |= (uint32_t)in[i + 1] << 8;
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}

const char *
coap_code_str(uint8_t code, char buf[5])
{
  unsigned cls = code >> 5, detail = code & 31;

  buf[0] = (char)('0' + cls);
  buf[1] = '.';
  buf[2] = (char)('0' + detail / 10);
  buf[3] = (char)('0' + detail % 10);
  buf[4] = '\0';
  return buf;
}

static const struct {
  uint8_t code;
  const char *phrase;
} phrases[] = {
  {COAP_RESPONSE_CODE(201), "Created"},
  {COAP_RESPONSE_CODE(202), "Deleted"},
  {COAP_RESPONSE_CODE(203), "Valid"},
  {COAP_RESPONSE_CODE(204), "Changed"},
  {COAP_RESPONSE_CODE(205), "Content"},
  {COAP_RESPONSE_CODE(231), "Continue"},
  {COAP_RESPONSE_CODE(400), "Bad Request"},
  {COAP_RESPONSE_CODE(401), "Unauthorized"},
  {COAP_RESPONSE_CODE(402), "Bad Option"},
  {COAP_RESPONSE_CODE(403), "Forbidden"},
  {COAP_RESPONSE_CODE(404), "Not Found"},
  {COAP_RESPONSE_CODE(405), "Method Not Allowed"},
  {COAP_RESPONSE_CODE(406), "Not Acceptable"},
  {COAP_RESPONSE_CODE(408), "Request Entity Incomplete"},
  {COAP_RESPONSE_CODE(409), "Conflict"},
  {COAP_RESPONSE_CODE(412), "Precondition Failed"},
  {COAP_RESPONSE_CODE(413), "Request Entity Too Large"},
  {COAP_RESPONSE_CODE(415), "Unsupported Content-Format"},
  {COAP_RESPONSE_CODE(422), "Unprocessable Entity"},
  {COAP_RESPONSE_CODE(429), "Too Many Requests"},
  {COAP_RESPONSE_CODE(500), "Internal Server Error"},
  {COAP_RESPONSE_CODE(501), "Not Implemented"},
  {COAP_RESPONSE_CODE(502), "Bad Gateway"},
  {COAP_RESPONSE_CODE(503), "Service Unavailable"},
  {COAP_RESPONSE_CODE(504), "Gateway Timeout"},
  {COAP_RESPONSE_CODE(505), "Proxying Not Supported"},
  {COAP_RESPONSE_CODE(508), "Hop Limit Reached"},
  {COAP_SIGNALING_CODE(701), "CSM"},
  {COAP_SIGNALING_CODE(702), "Ping"},
  {COAP_SIGNALING_CODE(703), "Pong"},
  {COAP_SIGNALING_CODE(704), "Release"},
  {COAP_SIGNALING_CODE(705), "Abort"},
};

const char *
coap_response_phrase(uint8_t code)
{
  size_t i;

  for (i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
    if (phrases[i].code == code)
      return phrases[i].phrase;
  return NULL;
}

static const char *const methods[] = {
  NULL, "get", "post", "put", "delete", "fetch", "patch", "ipatch",
};

const char *
coap_method_name(uint8_t code)
{
  if (code == 0 || code >= sizeof(methods) / sizeof(methods[0]))
    return NULL;
  return methods[code];
}

uint8_t
coap_method_by_name(const char *name)
{
  uint8_t i;

  if (!name)
    return 0;
  for (i = 1; i < sizeof(methods) / sizeof(methods[0]); i++)
    if (strcasecmp(name, methods[i]) == 0)
      return i;
  return 0;
}

const char *
coap_proto_name(coap_proto_t proto)
{
  static const char *const names[] = {"NONE", "UDP", "DTLS", "TCP",
                                      "TLS",  "WS",  "WSS"};

  if ((unsigned)proto >= sizeof(names) / sizeof(names[0]))
    return "UNKNOWN";
  return names[proto];
}

int
coap_proto_reliable(coap_proto_t proto)
{
  return proto == COAP_PROTO_TCP || proto == COAP_PROTO_TLS ||
         proto == COAP_PROTO_WS || proto == COAP_PROTO_WSS;
}

const char *
coap_nack_reason_str(coap_nack_reason_t reason)
{
  switch (reason) {
  case COAP_NACK_TOO_MANY_RETRIES:
    return "too many retries";
  case COAP_NACK_NOT_DELIVERABLE:
    return "not deliverable";
  case COAP_NACK_RST:
    return "reset by peer";
  case COAP_NACK_TLS_FAILED:
    return "TLS failed";
  case COAP_NACK_ICMP_ISSUE:
    return "ICMP issue";
  case COAP_NACK_BAD_RESPONSE:
    return "bad response";
  case COAP_NACK_TLS_LAYER_FAILED:
    return "TLS layer failed";
  case COAP_NACK_WS_LAYER_FAILED:
    return "WebSocket layer failed";
  case COAP_NACK_WS_FAILED:
    return "WebSocket failed";
  }
  return "unknown";
}

const char *
coap_package_version(void)
{
  return PACKAGE_VERSION;
}
