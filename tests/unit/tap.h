/*
 * tap.h -- the least a unit test needs: TAP lines that Automake's TAP driver
 * counts one by one, so a failing check names itself in the CI summary.
 */
#ifndef COAPKIT_TAP_H
#define COAPKIT_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

__attribute__((format(printf, 4, 5))) static int
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
  va_list ap;

  tap_count++;
  if (!cond)
    tap_failed++;
  printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  if (!cond)
    printf("#   failed at %s:%d\n", file, line);
  fflush(stdout);
  return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, name)                                                \
  do {                                                                         \
    long long g_ = (long long)(got), w_ = (long long)(want);                   \
    if (!ok(g_ == w_, "%s", name))                                             \
      printf("#   got %lld, want %lld\n", g_, w_);                             \
  } while (0)
#define is_mem(got, glen, want, wlen, name)                                    \
  ok((size_t)(glen) == (size_t)(wlen) &&                                       \
         memcmp((got), (want), (size_t)(wlen)) == 0,                           \
     "%s", name)
#define is_str(got, want, name)                                                \
  do {                                                                         \
    const char *g_ = (got), *w_ = (want);                                      \
    if (!ok(g_ && w_ && strcmp(g_, w_) == 0, "%s", name))                      \
      printf("#   got '%s', want '%s'\n", g_ ? g_ : "(null)", w_);             \
  } while (0)

static int
tap_done(void)
{
  printf("1..%d\n", tap_count);
  return tap_failed ? 1 : 0;
}

#endif
