/*
 * tls_module.c -- the entry point of coapkit-tls.so: checks the library's
 * host table and hands back the module's own (tls_module.h).
 */
#include "tls_module.h"

const coap_tls_host_t *coap_tls_host;

#define COAP_TLS_ENTRY(f) .f = f,

static const coap_tls_module_t module_table = {
  .hdr = { .abi = COAP_TLS_MODULE_ABI,
           .size = sizeof(coap_tls_module_t),
           .layout = COAP_TLS_LAYOUT_STAMP,
           .reserved = 0 },
  COAP_TLS_MODULE_FUNCS(COAP_TLS_ENTRY)
};

const coap_tls_module_t *
coap_tls_module_init(const coap_tls_host_t *host)
{
  /* A host from another build may lay out its table or its sessions
   * differently: calling through it would be undefined, so say no. */
  if (!host || !coap_tls_hdr_matches(&host->hdr, sizeof(*host)))
    return NULL;
  coap_tls_host = host;
  return &module_table;
}
