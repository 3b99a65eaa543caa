/*
 * watch.h -- coap-client's exchanges with more than one response, and its
 * block-wise set-up: Observe (-s: register, print each notification on a
 * line of its own, re-register when notifications stop past Max-Age,
 * deregister at the end), requests to a multicast group (every answer
 * until -B, each with its source), -b [num,]size, and a progress line on a
 * terminal while a block-wise transfer runs.
 */
#ifndef COAPKIT_SRC_WATCH_H
#define COAPKIT_SRC_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "coap.h"

/* Applies the block-wise mode, -b and --mcast-hops to the opened target.
 * Returns 0 or an exit status. */
int ck_watch_setup(const ck_request_config_t *cfg, ck_target_t *target);
/* Adds Observe (-s) and an early Block2 (-b num,size on GET) to the
 * request's options.  Returns 1 on success. */
int ck_watch_add_options(const ck_request_config_t *cfg,
                         coap_optlist_t **list);
/* 1 when the exchange expects several responses (-s, or a group). */
int ck_watch_wanted(const ck_request_config_t *cfg, const ck_target_t *target);
/* Sends pdu (taking it) and prints responses until the exchange ends.
 * Returns the exit status. */
int ck_watch_run(const ck_request_config_t *cfg, ck_target_t *target,
                 coap_pdu_t *pdu);
/* The progress line on stderr, when it is a terminal: call every loop
 * turn with final 0, and once with final 1 at the end. */
void ck_progress(coap_context_t *context, int final);

#endif
