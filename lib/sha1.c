/*
 * sha1.c -- SHA-1 as FIPS 180-4 section 6.1 describes it.
 */
#include <string.h>

#include "sha1.h"

static uint32_t
rol(uint32_t x, unsigned n)
{
  return (x << n) | (x >> (32 - n));
}

static uint32_t
load_be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static void
store_be32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* f_t and K_t of FIPS 180-4 4.1.1 and 4.2.1, by round. */
static uint32_t
round_f(unsigned t, uint32_t b, uint32_t c, uint32_t d)
{
  if (t < 20)
    return ((b & c) | (~b & d)) + 0x5a827999u;
  if (t < 40)
    return (b ^ c ^ d) + 0x6ed9eba1u;
  if (t < 60)
    return ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdcu;
  return (b ^ c ^ d) + 0xca62c1d6u;
}

static void
compress(uint32_t h[5], const uint8_t block[64])
{
  uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], tmp;
  unsigned t;

  for (t = 0; t < 16; t++)
    w[t] = load_be32(block + 4 * t);
  for (t = 16; t < 80; t++)
    w[t] = rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
  for (t = 0; t < 80; t++) {
    tmp = rol(a, 5) + round_f(t, b, c, d) + e + w[t];
    e = d;
    d = c;
    c = rol(b, 30);
    b = a;
    a = tmp;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

void
coap_sha1_init(coap_sha1_t *c)
{
  static const uint32_t h0[5] = { 0x67452301u, 0xefcdab89u, 0x98badcfeu,
                                  0x10325476u, 0xc3d2e1f0u };

  memcpy(c->h, h0, sizeof(h0));
  c->bytes = 0;
  c->used = 0;
}

void
coap_sha1_update(coap_sha1_t *c, const void *data, size_t len)
{
  const uint8_t *p = data;

  c->bytes += len;
  while (len > 0) {
    size_t n = sizeof(c->block) - c->used;

    if (n > len)
      n = len;
    memcpy(c->block + c->used, p, n);
    c->used += n;
    p += n;
    len -= n;
    if (c->used == sizeof(c->block)) {
      compress(c->h, c->block);
      c->used = 0;
    }
  }
}

void
coap_sha1_final(coap_sha1_t *c, uint8_t out[COAP_SHA1_LEN])
{
  uint64_t bits = c->bytes * 8;
  unsigned i;

  /* 0x80, zeros up to 56 mod 64, then the length in bits, big-endian. */
  c->block[c->used++] = 0x80;
  if (c->used > 56) {
    memset(c->block + c->used, 0, sizeof(c->block) - c->used);
    compress(c->h, c->block);
    c->used = 0;
  }
  memset(c->block + c->used, 0, 56 - c->used);
  store_be32(c->block + 56, (uint32_t)(bits >> 32));
  store_be32(c->block + 60, (uint32_t)bits);
  compress(c->h, c->block);
  for (i = 0; i < 5; i++)
    store_be32(out + 4 * i, c->h[i]);
  memset(c, 0, sizeof(*c));
}

void
coap_sha1(const void *data, size_t len, uint8_t out[COAP_SHA1_LEN])
{
  coap_sha1_t c;

  coap_sha1_init(&c);
  coap_sha1_update(&c, data, len);
  coap_sha1_final(&c, out);
}
