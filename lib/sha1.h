/*
 * sha1.h -- SHA-1 (FIPS 180-4), for the WebSocket accept key (RFC 6455),
 * which is a handshake check, not a security function; keeping it here
 * spares ws.c a dependency on OpenSSL (see tls_loader.c).  Do not use it
 * for anything that needs collision resistance.
 */
#ifndef COAPKIT_SHA1_H
#define COAPKIT_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define COAP_SHA1_LEN 20

typedef struct coap_sha1_t {
  uint32_t h[5];
  uint64_t bytes;     /* message length so far */
  uint8_t block[64];
  size_t used;        /* bytes waiting in block */
} coap_sha1_t;

void coap_sha1_init(coap_sha1_t *c);
void coap_sha1_update(coap_sha1_t *c, const void *data, size_t len);
void coap_sha1_final(coap_sha1_t *c, uint8_t out[COAP_SHA1_LEN]);
/* The digest of one buffer. */
void coap_sha1(const void *data, size_t len, uint8_t out[COAP_SHA1_LEN]);

#endif
