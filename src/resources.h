/*
 * resources.h -- the resources coap-server offers: "/" (what this server
 * is), "/time" (UTC, ISO 8601), "/echo" (the request's payload and
 * Content-Format back), and with a dynamic limit, resources created by PUT
 * or POST on unknown paths.  /.well-known/core is the library's.
 */
#ifndef COAPKIT_SRC_RESOURCES_H
#define COAPKIT_SRC_RESOURCES_H

#include <stddef.h>

#include "coap.h"

/* The most a dynamic resource (or /echo) stores, RFC 7959 aside. */
#define CK_DYNAMIC_MAX_PAYLOAD (64u * 1024u)

typedef struct ck_resources_t ck_resources_t;

/* Adds the built-in resources to context; max_dynamic > 0 also lets PUT and
 * POST create up to that many resources on unknown paths.  NULL on
 * allocation failure. */
ck_resources_t *ck_resources_add(coap_context_t *context,
                                 unsigned int max_dynamic);
/* Removes dynamic resources deleted since the last call; the server calls
 * it after each coap_io_process, outside any handler. */
void ck_resources_collect(ck_resources_t *resources);
/* Frees what the resources own; call after coap_free_context(). */
void ck_resources_free(ck_resources_t *resources);

/* The payload limit for a response on session: 64 KiB, or less when one
 * datagram cannot carry that much. */
size_t ck_payload_limit(const coap_session_t *session);

#endif
