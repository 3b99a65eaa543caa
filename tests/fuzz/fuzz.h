/*
 * fuzz.h -- what every libFuzzer target of coapkit shares: the entry point's
 * prototype, a quiet logger that still formats every message (so a bad
 * format argument is caught), a way to cut one input into several pieces,
 * and the check that aborts (a crash libFuzzer records) when a property the
 * target asserts does not hold.
 *
 * A new transport adds one file here (tests/fuzz/fuzz_<thing>.c) and one
 * name to FUZZ_TARGETS in Makefile.am; scripts/fuzz and its corpus layout
 * (tests/fuzz/corpus/<target>/) pick it up by name.
 */
#ifndef COAPKIT_FUZZ_H
#define COAPKIT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A failed property is a bug as real as a crash: report and abort. */
#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__,      \
              #cond);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

static inline void
fuzz_log_sink(coap_log_t level, const char *message)
{
  (void)level;
  (void)message;
}

/* Every log call is formatted (vsnprintf sees the hostile data) but nothing
 * is printed: libFuzzer's own output stays readable. */
static inline void
fuzz_quiet_logs(void)
{
  coap_set_log_handler(fuzz_log_sink);
  coap_set_log_level(COAP_LOG_DEBUG);
}

/* Cuts the input into pieces at each occurrence of the two-byte separator
 * "\xFE\xFD" (rare in seeds, easy for the fuzzer to learn); returns the
 * next piece and advances *cursor, or NULL when nothing is left. */
typedef struct fuzz_cursor_t {
  const uint8_t *p;
  size_t left;
  int done;
} fuzz_cursor_t;

static inline void
fuzz_cursor_init(fuzz_cursor_t *c, const uint8_t *data, size_t size)
{
  c->p = data;
  c->left = size;
  c->done = 0;
}

static inline const uint8_t *
fuzz_next_piece(fuzz_cursor_t *c, size_t *len)
{
  const uint8_t *start = c->p;
  size_t i;

  if (c->done)
    return NULL;
  for (i = 0; i + 1 < c->left; i++) {
    if (c->p[i] == 0xFE && c->p[i + 1] == 0xFD) {
      *len = i;
      c->p += i + 2;
      c->left -= i + 2;
      return start;
    }
  }
  *len = c->left;
  c->p += c->left;
  c->left = 0;
  c->done = 1;
  return start;
}

/* A NUL-terminated heap copy of data[0..len) (the tools' parsers take C
 * strings); ASan sees any read past the terminator.  NULL on failure. */
static inline char *
fuzz_strndup(const uint8_t *data, size_t len)
{
  char *s = malloc(len + 1);

  if (!s)
    return NULL;
  if (len)
    memcpy(s, data, len);
  s[len] = '\0';
  return s;
}

#endif
