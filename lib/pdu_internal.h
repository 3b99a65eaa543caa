/*
 * pdu_internal.h -- the PDU's layout, shared by the codec and the engine.
 *
 * A PDU keeps its token, options and payload contiguous, after a headroom
 * large enough for the biggest transport header (RFC 8323: 1 + 4 + 1 bytes),
 * so that sending writes the header into the headroom and hands one span to
 * the socket: nothing is copied on the way out.
 */
#ifndef COAPKIT_PDU_INTERNAL_H
#define COAPKIT_PDU_INTERNAL_H

#include "coap.h"

#define COAP_PDU_HEADROOM 8      /* >= the largest header (6) */
#define COAP_UDP_HEADER_SIZE 4

/* coap_pdu_init(..., size): size is the most the PDU may hold from the token
 * on (max_size); 0 means COAP_DEFAULT_MAX_PDU_RX_SIZE.  The buffer starts
 * small and grows (realloc, so token/data pointers move) up to max_size. */
struct coap_pdu_t {
  coap_pdu_type_t type;
  coap_pdu_code_t code;
  coap_mid_t mid;
  uint8_t token_length;
  uint8_t hdr_size;         /* header bytes written by the last encode */
  uint8_t owns_buf;         /* 0: buf_base is the caller's (a parsed view) */
  uint8_t pad_;
  coap_option_num_t max_opt; /* number of the last option in the encoding */
  size_t alloc_size;        /* bytes available from token on */
  size_t max_size;          /* bytes allowed from token on; 0 = alloc_size */
  size_t used_size;         /* token + options + marker + payload */
  uint8_t *buf_base;        /* start of the headroom */
  uint8_t *token;           /* buf_base + COAP_PDU_HEADROOM */
  uint8_t *data;            /* payload, or NULL */
  coap_session_t *session;  /* for coap_new_pdu's MTU; may be NULL */
  /* Set by coap_pdu_check_options: bit n for each option number n < 63
   * present, bit 63 for any larger one.  Trusted only on a view (buf_base
   * NULL, so the options cannot change): a clear bit answers "absent"
   * without walking the options, which a request handler asks many times. */
  uint64_t opt_mask;
  uint8_t opt_mask_valid;
};

/* For a slow path kept out of its hot caller (no register spills there). */
#if defined(__GNUC__)
#define COAP_NOINLINE __attribute__((noinline))
#else
#define COAP_NOINLINE
#endif

/* The opt_mask bit of option number n. */
#define COAP_OPT_MASK_BIT(n) (1ull << ((n) < 63 ? (n) : 63))

/* 1 when pdu is a checked view known to hold no option numbered n: the
 * engine's request path asks this before any lookup. */
static inline int
coap_pdu_view_lacks(const coap_pdu_t *pdu, unsigned n)
{
  return !pdu->buf_base && pdu->opt_mask_valid &&
         !(pdu->opt_mask & COAP_OPT_MASK_BIT(n));
}

/* 1 when pdu is a checked view with no options at all. */
static inline int
coap_pdu_view_optionless(const coap_pdu_t *pdu)
{
  return !pdu->buf_base && pdu->opt_mask_valid && !pdu->opt_mask;
}

/* Result of looking at a datagram before any state is touched. */
typedef enum coap_parse_status_t {
  COAP_PARSE_OK = 0,
  COAP_PARSE_DROP,      /* not even a CoAP header: ignore silently */
  COAP_PARSE_REJECT     /* header readable, body malformed: RST a CON */
} coap_parse_status_t;

/* Zero-copy: points pdu (a caller-owned struct, e.g. on the stack) into
 * data[0..len), after checking every length.  The header must start at
 * data[0]; pdu->token points at data + 4 and pdu->buf_base is NULL (there is
 * no headroom), which makes every write, growth or encode of the view fail.
 * type/code/mid are always set when the status is not COAP_PARSE_DROP (so a
 * CON can be RST even when its options are malformed); the token too, unless
 * TKL itself is bad (then token_length is 0).  data must outlive the view. */
coap_parse_status_t coap_pdu_view_udp(coap_pdu_t *pdu, const uint8_t *data,
                                      size_t len);

/* Validates options and the payload marker of the span after the token
 * (pdu->token + token_length .. pdu->token + used_size); sets pdu->data and
 * max_opt.  Returns 1 when well formed. */
int coap_pdu_check_options(coap_pdu_t *pdu);

/* Writes the UDP header into the headroom; returns the first byte to send
 * and sets *len.  Returns NULL if the PDU cannot be encoded. */
const uint8_t *coap_pdu_encode_udp(coap_pdu_t *pdu, size_t *len);

/* Initialises pdu over caller memory buf[0..size): the headroom is taken
 * from it, so the PDU holds size - COAP_PDU_HEADROOM bytes.  No allocation:
 * the engine builds responses this way in a buffer the context owns (once
 * per request, hence inline). */
static inline void
coap_pdu_init_static(coap_pdu_t *pdu, uint8_t *buf, size_t size,
                     coap_pdu_type_t type, coap_pdu_code_t code,
                     coap_mid_t mid)
{
  if (!pdu)
    return;
  *pdu = (coap_pdu_t){.type = type, .code = code, .mid = mid};
  if (!buf || size < COAP_PDU_HEADROOM) {
    /* Unusable: every write fails on the NULL base. */
    pdu->token = buf;
    return;
  }
  pdu->buf_base = buf;
  pdu->token = buf + COAP_PDU_HEADROOM;
  pdu->alloc_size = size - COAP_PDU_HEADROOM;
}

/* Walks one option at p (bounded by end): sets delta, length and value, and
 * returns the next position, or NULL when malformed.  The payload marker is
 * the caller's to recognise before calling. */
const uint8_t *coap_opt_parse(const uint8_t *p, const uint8_t *end,
                              uint16_t *delta, uint32_t *length,
                              const uint8_t **value);

/* First unrecognised critical option in a request (RFC 7252 5.4.1), or 0. */
coap_option_num_t coap_pdu_unknown_critical(const coap_pdu_t *pdu);

#endif
