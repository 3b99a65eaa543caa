/*
 * options.h -- parsers for the values the tools take on their command line.
 * Each returns 0 on success and -1 when the text is not a valid value; none
 * prints anything, so the caller words the complaint for its own option.
 */
#ifndef COAPKIT_SRC_OPTIONS_H
#define COAPKIT_SRC_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "coap.h"

/* The longest option value RFC 7252 allows (Proxy-Uri). */
#define CK_OPTION_VALUE_MAX 1034

/* An option given on the command line, already encoded for the wire. */
typedef struct ck_option_arg_t {
  coap_option_num_t number;
  size_t length;
  uint8_t value[CK_OPTION_VALUE_MAX];
} ck_option_arg_t;

/* A decimal number in [min, max]; no sign, no trailing junk. */
int ck_parse_uint(const char *text, unsigned long min, unsigned long max,
                  unsigned long *out);
/* A UDP port, 0-65535. */
int ck_parse_port(const char *text, uint16_t *port);
/* Seconds, fractions allowed ("0.5"), greater than 0 and at most a day;
 * returned in milliseconds, rounded up. */
int ck_parse_seconds(const char *text, uint32_t *ms);
/* A log level 0-9 (libcoap's numbering: 4 warning, 6 info, 7 debug). */
int ck_parse_log_level(const char *text, coap_log_t *level);
/* get, put, post, delete, fetch, patch, ipatch (any case). */
int ck_parse_method(const char *text, uint8_t *code);
/* A Content-Format number, or a name ("text", "json", "application/cbor"). */
int ck_parse_content_format(const char *text, uint16_t *format);
/* Hex digits (an even number, no prefix) into at most cap bytes. */
int ck_parse_hex(const char *hex, uint8_t *out, size_t cap, size_t *len);
/* A token: "0x" and hex digits, or text used byte for byte; at most 8
 * bytes either way. */
int ck_parse_token(const char *text, uint8_t token[COAP_TOKEN_MAX_LEN],
                   size_t *len);
/* "number,value" or "name,value" (-O): the value is text, "0x" hex, or for
 * an option of uint format a decimal number encoded as a uint.  On failure
 * why (if not NULL) points to a short reason. */
int ck_parse_option_arg(const char *text, ck_option_arg_t *opt,
                        const char **why);

/* -b [num,]size as libcoap's: num 0..0xFFFFF (0 when absent), size a
 * power of two in 16..1024. */
int ck_parse_block(const char *text, unsigned int *num, unsigned int *size);

/* Space-separated list of the method names, for messages. */
#define CK_METHOD_NAMES "get, put, post, delete, fetch, patch, ipatch"

#endif
