/*
 * siphash.c -- SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit
 * hash, the MAC of the stateless Echo values (amp.c).  Kept here rather
 * than taken from OpenSSL so that plain UDP never loads the TLS library.
 */
#include "net_internal.h"

static inline uint64_t
rotl(uint64_t x, unsigned b)
{
  return (x << b) | (x >> (64 - b));
}

static inline uint64_t
load_le64(const uint8_t *p)
{
  uint64_t v = 0;

  for (unsigned i = 0; i < 8; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static inline void
sip_round(uint64_t v[4])
{
  v[0] += v[1];
  v[1] = rotl(v[1], 13);
  v[1] ^= v[0];
  v[0] = rotl(v[0], 32);
  v[2] += v[3];
  v[3] = rotl(v[3], 16);
  v[3] ^= v[2];
  v[0] += v[3];
  v[3] = rotl(v[3], 21);
  v[3] ^= v[0];
  v[2] += v[1];
  v[1] = rotl(v[1], 17);
  v[1] ^= v[2];
  v[2] = rotl(v[2], 32);
}

static inline void
compress(uint64_t v[4], uint64_t m)
{
  v[3] ^= m;
  sip_round(v);
  sip_round(v);
  v[0] ^= m;
}

uint64_t
coap_siphash24(const uint8_t key[16], const uint8_t *data, size_t len)
{
  uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
  uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
                   k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
  size_t full = len & ~(size_t)7;
  uint64_t last = (uint64_t)len << 56;

  for (size_t i = 0; i < full; i += 8)
    compress(v, load_le64(data + i));
  for (size_t i = full; i < len; i++)
    last |= (uint64_t)data[i] << (8 * (i - full));
  compress(v, last);
  v[2] ^= 0xff;
  for (int i = 0; i < 4; i++)
    sip_round(v);
  return v[0] ^ v[1] ^ v[2] ^ v[3];
}
