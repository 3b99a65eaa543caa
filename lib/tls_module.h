/*
 * tls_module.h -- the handshake between libcoapkit and the (D)TLS module
 * coapkit-tls.so (tls_openssl.c built as a dlopen()ed module, so that a
 * process that never uses (D)TLS never maps libssl and libcrypto).
 *
 * The module must not resolve anything against the executable (the tools
 * link libcoapkit statically and export nothing), so every library
 * function it calls comes through a host table, and every entry point of
 * tls_internal.h goes back through a module table.  Both tables start with
 * the same header; either side refuses a table whose ABI number, size or
 * layout stamp differs from its own: the module and the library must come
 * from the same build, because the module reads the library's structures
 * (net_internal.h) directly.
 */
#ifndef COAPKIT_TLS_MODULE_H
#define COAPKIT_TLS_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "tls_internal.h"

/* Bump when a table gains, loses or reorders a member. */
#define COAP_TLS_MODULE_ABI 1u
#define COAP_TLS_MODULE_INIT "coap_tls_module_init"
#define COAP_TLS_MODULE_NAME "coapkit-tls.so"

/* The structures the module reads; a change in any of them changes the
 * stamp, so a stale installed module is refused rather than misread. */
#define COAP_TLS_LAYOUT_STAMP                                                  \
  ((uint32_t)(sizeof(coap_session_t) * 131u + sizeof(coap_session_ext_t) * 31u + \
              sizeof(coap_context_t) * 17u + sizeof(coap_endpoint_t) * 7u +    \
              sizeof(coap_security_t) * 3u + sizeof(coap_timer_t)))

typedef struct coap_tls_table_hdr_t {
  uint32_t abi;
  uint32_t size;   /* sizeof the whole table */
  uint32_t layout; /* COAP_TLS_LAYOUT_STAMP */
  uint32_t reserved;
} coap_tls_table_hdr_t;

/* What the module calls in the library (nm -u of tls_openssl.o, minus
 * libc and OpenSSL). */
#define COAP_TLS_HOST_FUNCS(X)                                                 \
  X(coap_address_get_port)                                                     \
  X(coap_address_socklen)                                                      \
  X(coap_context_now)                                                          \
  X(coap_get_log_level)                                                        \
  X(coap_handle_datagram)                                                      \
  X(coap_log_impl)                                                             \
  X(coap_session_disconnected)                                                 \
  X(coap_session_event)                                                        \
  X(coap_session_ext)                                                          \
  X(coap_session_find_server)                                                  \
  X(coap_session_free)                                                         \
  X(coap_session_get_addr_remote)                                              \
  X(coap_session_get_server)                                                   \
  X(coap_session_set_ifindex)                                                  \
  X(coap_session_set_state)                                                    \
  X(coap_session_str)                                                          \
  X(coap_timer_arm)                                                            \
  X(coap_timer_cancel)                                                         \
  X(coap_timer_init)                                                           \
  X(coap_udp_send_raw)

/* What the library calls in the module (tls_internal.h and the public
 * functions tls_openssl.c implements). */
#define COAP_TLS_MODULE_FUNCS(X)                                               \
  X(coap_tls_attach)                                                           \
  X(coap_tls_receive)                                                          \
  X(coap_tls_send)                                                             \
  X(coap_tls_established)                                                      \
  X(coap_tls_error)                                                            \
  X(coap_tls_close)                                                            \
  X(coap_tls_detach)                                                           \
  X(coap_tls_timeout)                                                          \
  X(coap_tls_context_free)                                                     \
  X(coap_tls_context_reset)                                                    \
  X(coap_dtls_accept)                                                          \
  X(coap_dtls_cookie_make)                                                     \
  X(coap_dtls_cookie_check)                                                    \
  X(coap_dtls_hello_count)                                                     \
  X(coap_dtls_endpoint_datagram)                                               \
  X(coap_dtls_session_datagram)                                                \
  X(coap_dtls_client_start)                                                    \
  X(coap_session_get_tls)                                                      \
  X(coap_session_get_tls_error)                                                \
  X(coap_session_get_tls_summary)                                              \
  X(coap_tls_check_pki_file)

#define COAP_TLS_MEMBER(f) __typeof__(f) *f;

typedef struct coap_tls_host_t {
  coap_tls_table_hdr_t hdr;
  COAP_TLS_HOST_FUNCS(COAP_TLS_MEMBER)
} coap_tls_host_t;

typedef struct coap_tls_module_t {
  coap_tls_table_hdr_t hdr;
  COAP_TLS_MODULE_FUNCS(COAP_TLS_MEMBER)
} coap_tls_module_t;

/* The module's one exported symbol.  Returns NULL when it refuses host. */
typedef const coap_tls_module_t *(*coap_tls_module_init_t)(
    const coap_tls_host_t *host);
const coap_tls_module_t *coap_tls_module_init(const coap_tls_host_t *host);

static inline int
coap_tls_hdr_matches(const coap_tls_table_hdr_t *h, size_t size)
{
  return h && h->abi == COAP_TLS_MODULE_ABI && h->size == size &&
         h->layout == COAP_TLS_LAYOUT_STAMP;
}

#ifdef COAPKIT_TLS_MODULE
/* Inside the module: every library call goes through the host table.
 * Defined after the prototypes above, so only calls are rewritten. */
extern const coap_tls_host_t *coap_tls_host;
#define coap_address_get_port (coap_tls_host->coap_address_get_port)
#define coap_address_socklen (coap_tls_host->coap_address_socklen)
#define coap_context_now (coap_tls_host->coap_context_now)
#define coap_get_log_level (coap_tls_host->coap_get_log_level)
#define coap_handle_datagram (coap_tls_host->coap_handle_datagram)
#define coap_log_impl (coap_tls_host->coap_log_impl)
#define coap_session_disconnected (coap_tls_host->coap_session_disconnected)
#define coap_session_event (coap_tls_host->coap_session_event)
#define coap_session_ext (coap_tls_host->coap_session_ext)
#define coap_session_find_server (coap_tls_host->coap_session_find_server)
#define coap_session_free (coap_tls_host->coap_session_free)
#define coap_session_get_addr_remote (coap_tls_host->coap_session_get_addr_remote)
#define coap_session_get_server (coap_tls_host->coap_session_get_server)
#define coap_session_set_ifindex (coap_tls_host->coap_session_set_ifindex)
#define coap_session_set_state (coap_tls_host->coap_session_set_state)
#define coap_session_str (coap_tls_host->coap_session_str)
#define coap_timer_arm (coap_tls_host->coap_timer_arm)
#define coap_timer_cancel (coap_tls_host->coap_timer_cancel)
#define coap_timer_init (coap_tls_host->coap_timer_init)
#define coap_udp_send_raw (coap_tls_host->coap_udp_send_raw)
#endif

#endif
