/*
 * output.h -- everything the tools print: one-line diagnostics on stderr,
 * the library's log lines, a response's payload byte for byte, and a
 * response as one JSON object (libcjson).
 */
#ifndef COAPKIT_SRC_OUTPUT_H
#define COAPKIT_SRC_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "coap.h"

/* Sets the program name that prefixes every line, and whether runtime
 * diagnostics are dropped (--quiet).  Installs the library log handler. */
void ck_output_init(const char *prog, int quiet);
const char *ck_prog(void);
/* 1 under --quiet. */
int ck_output_quiet(void);

/* "prog: message" on stderr, one line; nothing when quiet. */
void ck_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, also when quiet: for usage errors, which are never noise.
 * Returns CK_EXIT_USAGE so callers can `return ck_usage_error(...)`. */
int ck_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes data (and a newline if asked) to path, or stdout for NULL or "-".
 * Returns 0, or -1 after printing why. */
int ck_write_payload(const char *path, const uint8_t *data, size_t len,
                     int newline);
/* Reads a whole file (or stdin for "-") of at most max bytes into a malloc'd
 * buffer.  Returns 0; -1 when it cannot be read (printed), -2 when it is
 * longer than max (not printed). */
int ck_read_file(const char *path, size_t max, uint8_t **data, size_t *len);

/* 1 when the bytes are valid UTF-8 without NUL (fit for a JSON string). */
int ck_is_text(const uint8_t *data, size_t len);
/* Lower-case hex of len bytes into out (2 * len + 1 bytes). */
void ck_hex(const uint8_t *data, size_t len, char *out);

/* "Uri-Path=echo Content-Format=0 ..." for every option of pdu, at most len
 * bytes (NUL included); a value in its registered format. */
void ck_format_options(const coap_pdu_t *pdu, char *buf, size_t len);

/* Prints a response as one JSON object and a newline on stdout:
 * code, code_class, type, token, mid, options, payload or payload_base64,
 * rtt_ms, source.  Returns 0, or -1 on an allocation or write failure. */
int ck_print_response_json(const coap_pdu_t *pdu, coap_session_t *session,
                           uint64_t rtt_ms);

#endif
