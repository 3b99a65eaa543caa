/* Latency histogram shared by the benchmark's generators: fixed size, so
 * recording a sample never allocates.
 *
 * Log-linear buckets: exact below 64 ns, then 64 buckets per power of two
 * (under 1.6 % error), up to 2^40 ns. */
#ifndef COAPKIT_BENCH_HIST_H
#define COAPKIT_BENCH_HIST_H

#include <stdint.h>

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
