/*
 * tls_internal.h -- the boundary between the transports (udp.c carries
 * DTLS, tcp.c carries TLS) and OpenSSL (tls_openssl.c).  Nothing here is
 * public.
 *
 * The contract, for both kinds of transport:
 *
 * - The transport keeps owning the socket and the epoll loop.  OpenSSL never
 *   sees a file descriptor: it reads from and writes to a custom BIO that
 *   hands ciphertext to the transport's raw_send and takes ciphertext the
 *   transport passes to coap_tls_receive.
 *
 * - coap_tls_attach() gives a session its TLS state (s->tls), built from the
 *   session's own security (client: s->security) or the context's
 *   (server: ctx->security).  A client attach sends the first flight
 *   (ClientHello) at once.  The session's state becomes HANDSHAKE.
 *
 * - raw_send(s, data, len) is called from inside coap_tls_attach,
 *   coap_tls_receive, coap_tls_send and the TLS timer.  For DTLS one call is
 *   one datagram.  For TLS the transport must accept all len bytes
 *   (buffering what the socket does not take now) and return len, or return
 *   -1 when the connection is dead.  raw_send must not call back into the
 *   TLS layer.
 *
 * - coap_tls_receive(s, data, len) takes ciphertext: one datagram (DTLS) or
 *   any slice of the byte stream (TLS).  Decrypted application bytes go to
 *   deliver(s, plain, len): for DTLS one whole CoAP message per call, for
 *   TLS any slice of the plaintext stream (feed it to the framer).  deliver
 *   may send on the session (coap_tls_send) and may release it; the layer
 *   stops delivering once s->dead is set.  The return value says what
 *   happened (coap_tls_status_t); on COAP_TLS_CONNECTED the transport moves
 *   the session on (DTLS: ESTABLISHED, done here; TLS: send the CSM and
 *   go to CSM).  On COAP_TLS_FAILED or COAP_TLS_CLOSED the transport
 *   disconnects the session; coap_tls_error() then says why.
 *
 * - coap_tls_send(s, data, len) encrypts application bytes and hands the
 *   ciphertext to raw_send.  Called before the handshake is over, the bytes
 *   are held (bounded: COAP_TLS_PENDING_MAX bytes) and sent when it
 *   completes, so the engine may queue a request right after creating a
 *   client session.  Returns len, or -1 (failed, or the hold is full).
 *
 * - The layer signals COAP_EVENT_DTLS_CONNECTED, COAP_EVENT_DTLS_ERROR and
 *   COAP_EVENT_DTLS_CLOSED (libcoap uses the DTLS names for TLS too).
 *
 * - DTLS only: a handshake that does not finish within
 *   COAP_TLS_HANDSHAKE_TIMEOUT_MS fails (COAP_TIMER_TLS also drives flight
 *   retransmission): a client session is disconnected with
 *   COAP_NACK_TLS_FAILED, a server HELLO session is freed.  TLS handshakes
 *   have no timer here: a stalled stream is the transport's stream timeout.
 *
 * - coap_tls_detach() frees the state; call coap_tls_close() first to send
 *   a close_notify while the transport can still send.
 */
#ifndef COAPKIT_TLS_INTERNAL_H
#define COAPKIT_TLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net_internal.h"

#define COAP_TLS_PENDING_MAX (64 * 1024)
#define COAP_TLS_HANDSHAKE_TIMEOUT_MS 10000
/* DTLS server: handshakes in progress (HELLO sessions) at most. */
#define COAP_DTLS_MAX_HELLO 64

typedef struct coap_tls_t coap_tls_t;

typedef ssize_t (*coap_tls_raw_send_t)(coap_session_t *s, const uint8_t *data,
                                       size_t len);
typedef void (*coap_tls_deliver_t)(coap_session_t *s, const uint8_t *data,
                                   size_t len);

typedef enum coap_tls_status_t {
  COAP_TLS_FAILED = -1,     /* handshake failed or a fatal alert */
  COAP_TLS_CLOSED = -2,     /* the peer sent close_notify */
  COAP_TLS_PROGRESS = 0,    /* handshake continues, or data delivered */
  COAP_TLS_CONNECTED = 1    /* the handshake completed during this call */
} coap_tls_status_t;

/* Creates s->tls.  is_client: 1 for a client session.  Returns 1, or 0 when
 * the keys/certificates are unusable (logged; coap_tls_error says why). */
int coap_tls_attach(coap_session_t *s, int is_client, coap_tls_raw_send_t raw,
                    coap_tls_deliver_t deliver);
coap_tls_status_t coap_tls_receive(coap_session_t *s, const uint8_t *data,
                                   size_t len);
ssize_t coap_tls_send(coap_session_t *s, const uint8_t *data, size_t len);
int coap_tls_established(const coap_session_t *s);
/* The reason the handshake failed (OpenSSL's words), or NULL. */
const char *coap_tls_error(const coap_session_t *s);
void coap_tls_close(coap_session_t *s);
void coap_tls_detach(coap_session_t *s);
/* COAP_TIMER_TLS fired: DTLS retransmission or handshake deadline. */
void coap_tls_timeout(coap_context_t *ctx, coap_timer_t *t);

/* Per-context state (server SSL_CTX, cookie secret): freed with the
 * context.  Rebuilt when the context's keys change. */
void coap_tls_context_free(coap_context_t *ctx);
void coap_tls_context_reset(coap_context_t *ctx);

/* DTLS server: a datagram from a peer with no session.  Answers a
 * ClientHello without a cookie with a HelloVerifyRequest (no state kept);
 * a ClientHello with a valid cookie creates a HELLO session (capped at
 * COAP_DTLS_MAX_HELLO: the oldest goes) and returns it.  Returns NULL when
 * nothing was created. */
coap_session_t *coap_dtls_accept(coap_endpoint_t *ep,
                                 const coap_address_t *peer,
                                 const coap_address_t *local,
                                 const uint8_t *data, size_t len);

/* The stateless cookie: HMAC-SHA256 over the peer address under the
 * context's secret.  Exposed for the unit tests.  make writes *len bytes
 * (at most 32); check returns 1 when cookie is the peer's. */
int coap_dtls_cookie_make(coap_context_t *ctx, const coap_address_t *peer,
                          uint8_t *cookie, unsigned *len);
int coap_dtls_cookie_check(coap_context_t *ctx, const coap_address_t *peer,
                           const uint8_t *cookie, unsigned len);
/* The number of HELLO sessions of the context (unit tests, defences). */
unsigned coap_dtls_hello_count(const coap_context_t *ctx);

/* The DTLS transport's entry points (udp.c calls these). */
void coap_dtls_endpoint_datagram(coap_endpoint_t *ep, const coap_address_t *peer,
                                 const coap_address_t *local, int ifindex,
                                 const uint8_t *data, size_t len);
void coap_dtls_session_datagram(coap_session_t *s, const uint8_t *data,
                                size_t len);
/* Attaches DTLS to a new client session and sends the ClientHello. */
int coap_dtls_client_start(coap_session_t *s);
/* udp.c: sends a datagram as it is (no DTLS), no statistics. */
ssize_t coap_udp_send_raw(coap_session_t *s, const uint8_t *data, size_t len);

#endif
