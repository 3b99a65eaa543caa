/*
 * testres.h -- coap-server's resources for exercising clients: an
 * observable clock (/clock), a large resource (/large, block-wise), an
 * upload sink (/upload), a separate response after a delay (/separate),
 * and with --plugtest the ETSI CoAP plugtest resource set (/test,
 * /seg1/seg2/seg3, /query, /location-query, /multi-format, /validate,
 * /create1, /large-update, /large-create, /obs, /obs-non, /link1..3,
 * /path/sub1..3).  ETag, If-Match and If-None-Match follow RFC 7252
 * 5.10 where a resource stores a body.
 */
#ifndef COAPKIT_SRC_TESTRES_H
#define COAPKIT_SRC_TESTRES_H

#include "coap.h"

/* Bytes of /large (and the initial /large-update). */
#define CK_LARGE_SIZE 5000u
/* Default delay of /separate, in milliseconds (?delay=ms overrides). */
#define CK_SEPARATE_DELAY_MS 1000u
#define CK_SEPARATE_DELAY_MAX_MS 60000u
/* Period of /clock and of the plugtest's /obs and /obs-non. */
#define CK_CLOCK_PERIOD_MS 1000u
#define CK_OBS_PERIOD_MS 5000u

typedef struct ck_testres_t ck_testres_t;

/* Adds the resources to context (and the plugtest set when plugtest).
 * NULL on allocation failure. */
ck_testres_t *ck_testres_add(coap_context_t *context, int plugtest);
/* Sends what is due (notifications, separate responses); returns the
 * milliseconds until something is due next (at most 1000). */
unsigned int ck_testres_tick(ck_testres_t *t);
/* Frees what the resources own; call after coap_free_context(). */
void ck_testres_free(ck_testres_t *t);

/* Joins each group (an address, or "all": 224.0.1.187, ff02::fd and
 * ff05::fd) on ifname (NULL: the default).  Returns 0, or -1 after printing
 * which group failed. */
int ck_join_groups(coap_context_t *context, const char *const *groups,
                   size_t count, const char *ifname);

#endif
