/*
 * test_sha1.c -- lib/sha1.c against FIPS 180-4's example vectors, the
 * padding boundaries (55, 56, 63, 64... bytes: one or two final blocks),
 * piecewise updates, and RFC 6455's accept key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap.h"
#include "sha1.h"
#include "tap.h"

static void
hex(const uint8_t md[COAP_SHA1_LEN], char out[2 * COAP_SHA1_LEN + 1])
{
  for (int i = 0; i < COAP_SHA1_LEN; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void
check(const void *data, size_t len, const char *want, const char *name)
{
  uint8_t md[COAP_SHA1_LEN];
  char got[2 * COAP_SHA1_LEN + 1];

  coap_sha1(data, len, md);
  hex(md, got);
  is_str(got, want, name);
}

static void
test_fips(void)
{
  static const char m448[] =
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  size_t n = 1000000;
  char *million = malloc(n);

  check("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709", "empty message");
  check("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d", "FIPS: \"abc\"");
  check(m448, sizeof(m448) - 1, "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
        "FIPS: the 448-bit message");
  if (!ok(million != NULL, "a buffer for one million 'a'"))
    return;
  memset(million, 'a', n);
  check(million, n, "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
        "FIPS: one million 'a'");
  free(million);
}

/* Lengths around the block and padding edges: the message is (7i+3) & 255. */
static void
test_boundaries(void)
{
  static const struct {
    size_t len;
    const char *want;
  } v[] = {
    { 55, "ddf57317ef34bfee3b6df83d359098930eb278bc" },
    { 56, "a0d492bb0fc889d0eca3bc137066ab6f4f74f369" },
    { 63, "c55856749bef509bdfe6bfebfc7bf4e793e82132" },
    { 64, "bede92be29c3874e1b54ddc77988d606fc857a8e" },
    { 65, "b05a80522b053d6dc7e0a517d0e70212c7dad11f" },
    { 119, "504e27376a6e0f0dba8295b85cb25dc4dfa17d23" },
    { 120, "82134b02fb3f702491be9bed581eeab59334acb2" },
  };
  uint8_t buf[128];
  char name[64];

  for (size_t i = 0; i < sizeof(buf); i++)
    buf[i] = (uint8_t)((i * 7 + 3) & 0xff);
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    snprintf(name, sizeof(name), "%zu bytes", v[i].len);
    check(buf, v[i].len, v[i].want, name);
  }
}

/* Any split into updates gives the one-shot digest. */
static void
test_pieces(void)
{
  uint8_t buf[200], whole[COAP_SHA1_LEN], part[COAP_SHA1_LEN];
  unsigned bad = 0;

  for (size_t i = 0; i < sizeof(buf); i++)
    buf[i] = (uint8_t)(i ^ 0x5a);
  coap_sha1(buf, sizeof(buf), whole);
  for (size_t a = 0; a <= sizeof(buf); a += 3) {
    for (size_t b = a; b <= sizeof(buf); b += 17) {
      coap_sha1_t c;

      coap_sha1_init(&c);
      coap_sha1_update(&c, buf, a);
      coap_sha1_update(&c, buf + a, b - a);
      coap_sha1_update(&c, buf + b, sizeof(buf) - b);
      coap_sha1_final(&c, part);
      bad += memcmp(whole, part, sizeof(part)) != 0;
    }
  }
  is_int(bad, 0, "three-piece updates at every split give the same digest");
}

static void
test_websocket(void)
{
  static const char in[] =
      "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  uint8_t md[COAP_SHA1_LEN];
  char b64[29];

  check(in, sizeof(in) - 1, "b37a4f2cc0624f1690f64606cf385945b2bec4ea",
        "RFC 6455 1.3: key + GUID");
  coap_sha1(in, sizeof(in) - 1, md);
  coap_base64_encode(md, sizeof(md), b64);
  is_str(b64, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 1.3: the accept value");
}

int
main(void)
{
  test_fips();
  test_boundaries();
  test_pieces();
  test_websocket();
  return tap_done();
}
