/* What the benchmark's generators (coap-loadgen, coap-dtlsgen) share: the
 * clock, a stop flag set by SIGINT/SIGTERM, option-value parsers and the
 * latency histogram. */
#ifndef COAPKIT_BENCH_H
#define COAPKIT_BENCH_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define NS_PER_S 1000000000ull

static volatile sig_atomic_t interrupted;

static inline void on_signal(int sig)
{
  (void)sig;
  interrupted = 1;
}

/* SIGINT and SIGTERM end the run early; what was measured is reported. */
static inline void catch_stop_signals(void)
{
  struct sigaction sa = { .sa_handler = on_signal };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static inline uint64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* A decimal in [lo, hi]; 0, or -1 with *out untouched. */
static inline int parse_uint(const char *s, unsigned long long lo, unsigned long long hi,
                             unsigned long long *out)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

/* Seconds, fractions allowed, in (0, 3600]. */
static inline int parse_duration(const char *s, double *out)
{
  char *end;
  double d = strtod(s, &end);
  if (end == s || *end || !(d > 0 && d <= 3600))
    return -1;
  *out = d;
  return 0;
}

/* Latency histogram: fixed size, so recording a sample never allocates.
 * Log-linear buckets: exact below 64 ns, then 64 buckets per power of two
 * (under 1.6 % error), up to 2^40 ns. */

#define HIST_BUCKETS (36 * 64)

struct hist {
  uint64_t bucket[HIST_BUCKETS];
  uint64_t n, max_ns;
};

static inline unsigned hist_bucket(uint64_t v)
{
  if (v < 64)
    return (unsigned)v;
  if (v >= (1ull << 40))
    v = (1ull << 40) - 1;
  unsigned msb = 63u - (unsigned)__builtin_clzll(v);
  return (msb - 5) * 64 + (unsigned)((v >> (msb - 6)) & 63);
}

static inline double hist_value(unsigned b)
{
  if (b < 64)
    return b;
  unsigned msb = b / 64 + 5, sub = b % 64;
  double lo = (double)((64ull + sub) << (msb - 6));
  return lo + (double)(1ull << (msb - 6)) / 2;
}

static inline void hist_add(struct hist *h, uint64_t ns)
{
  h->bucket[hist_bucket(ns)]++;
  h->n++;
  if (ns > h->max_ns)
    h->max_ns = ns;
}

/* The p-quantile (0 < p <= 1) in nanoseconds; 0 without samples. */
static inline double hist_percentile_ns(const struct hist *h, double p)
{
  if (h->n == 0)
    return 0;
  double want = p * (double)h->n;
  uint64_t rank = (uint64_t)want, seen = 0;
  if ((double)rank < want || rank == 0)
    rank++;
  for (unsigned b = 0; b < HIST_BUCKETS; b++) {
    seen += h->bucket[b];
    if (seen >= rank)
      return hist_value(b) < (double)h->max_ns ? hist_value(b) : (double)h->max_ns;
  }
  return (double)h->max_ns;
}

#endif
