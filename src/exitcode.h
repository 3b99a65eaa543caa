/*
 * exitcode.h -- the exit status every coapkit tool uses, so that a script
 * can tell "the server said no" from "nobody answered" from "you typed it
 * wrong" without parsing stderr.  The man pages document the same table.
 */
#ifndef COAPKIT_EXITCODE_H
#define COAPKIT_EXITCODE_H

#include <stdint.h>

#include "coap.h"

enum ck_exit {
  CK_EXIT_OK = 0,      /* a 2.xx response (or nothing went wrong) */
  CK_EXIT_FAILURE = 1, /* any failure the codes below do not cover */
  CK_EXIT_USAGE = 2,   /* bad option, bad URI, bad value */
  CK_EXIT_NETWORK = 3, /* cannot resolve, socket error, ICMP, RST */
  CK_EXIT_CLIENT_ERROR = 4, /* a 4.xx response */
  CK_EXIT_SERVER_ERROR = 5, /* a 5.xx response */
  CK_EXIT_TIMEOUT = 6, /* no response before the deadline */
  CK_EXIT_TLS = 7,     /* TLS or DTLS handshake failure */
  CK_EXIT_FILE = 8     /* cannot read an input file or write an output */
};

/* The exit status a response code maps to. */
static inline int
ck_exit_for_code(uint8_t code)
{
  switch (COAP_RESPONSE_CLASS(code)) {
  case 2:
    return CK_EXIT_OK;
  case 4:
    return CK_EXIT_CLIENT_ERROR;
  case 5:
    return CK_EXIT_SERVER_ERROR;
  default:
    return CK_EXIT_FAILURE;
  }
}

/* The exit status a failed exchange maps to. */
static inline int
ck_exit_for_nack(coap_nack_reason_t reason)
{
  switch (reason) {
  case COAP_NACK_TOO_MANY_RETRIES:
    return CK_EXIT_TIMEOUT;
  case COAP_NACK_NOT_DELIVERABLE:
  case COAP_NACK_RST:
  case COAP_NACK_ICMP_ISSUE:
    return CK_EXIT_NETWORK;
  case COAP_NACK_TLS_FAILED:
  case COAP_NACK_TLS_LAYER_FAILED:
    return CK_EXIT_TLS;
  default:
    return CK_EXIT_FAILURE;
  }
}

#endif
