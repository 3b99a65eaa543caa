/*
 * amp.c -- the amplification limit of RFC 9175 section 2.4 and the Echo
 * option that lifts it.
 *
 * Server: a UDP peer whose address is not verified gets a response at most
 * amp_factor times the size of its request; a larger one is replaced by a
 * 4.01 Unauthorized carrying an Echo value.  The value is stateless (a
 * flood from many spoofed ports costs no memory): 4 bytes of the
 * context's time in seconds and 8 bytes of SipHash-2-4 over (peer address,
 * port, time) under a per-context random key.  A request that returns a
 * fresh value of ours marks its session verified, as does an ACK or RST
 * matching a CON we sent the peer (reliability.c).
 *
 * Only idempotent methods are limited (GET, FETCH, PUT, DELETE, iPATCH):
 * the limit can only be applied once the handler has built its response,
 * and repeating those after a 4.01 is harmless (RFC 7252 5.1, RFC 8132).
 * A POST or PATCH has had its effect by then; a 4.01 would make the
 * client do it twice, so their responses go out as they are.
 *
 * Client: a 4.01 with an Echo answering one of our requests is not
 * delivered; the request is repeated once with the value (reliability.c),
 * which is kept and added to the session's later requests.
 */
#include <stdlib.h>
#include <sys/random.h>

#include "net_internal.h"

void
coap_context_set_amplification_factor(coap_context_t *context,
                                      unsigned int factor)
{
  if (context)
    context->amp_factor = factor;
}

unsigned int
coap_context_get_amplification_factor(const coap_context_t *context)
{
  return context ? context->amp_factor : 0;
}

/* ---------------------------------------------------------------- values */

static int
echo_key(coap_context_t *ctx)
{
  if (ctx->echo_key_ready)
    return 1;
  if (getrandom(ctx->echo_key, sizeof(ctx->echo_key), GRND_NONBLOCK) !=
      (ssize_t)sizeof(ctx->echo_key)) {
    coap_log_warn("Echo: no random key: the amplification limit is off");
    return 0;
  }
  ctx->echo_key_ready = 1;
  return 1;
}

/* The MAC of (peer, time): 0 when the peer is not an IP address. */
static int
echo_mac(coap_context_t *ctx, const coap_session_t *s, uint32_t t,
         uint64_t *mac)
{
  uint8_t in[1 + 2 + 16 + 4];
  size_t n = 0;

  switch (s->remote.sa.sa_family) {
  case AF_INET:
    in[n++] = 4;
    memcpy(in + n, &s->remote.sin.sin_port, 2);
    memcpy(in + n + 2, &s->remote.sin.sin_addr, 4);
    n += 6;
    break;
  case AF_INET6:
    in[n++] = 6;
    memcpy(in + n, &s->remote.sin6.sin6_port, 2);
    memcpy(in + n + 2, &s->remote.sin6.sin6_addr, 16);
    n += 18;
    break;
  default:
    return 0;
  }
  for (int i = 0; i < 4; i++)
    in[n++] = (uint8_t)(t >> (24 - 8 * i));
  *mac = coap_siphash24(ctx->echo_key, in, n);
  return 1;
}

static uint32_t
echo_now(const coap_context_t *ctx)
{
  return (uint32_t)(ctx->now / 1000u);
}

int
coap_echo_make(coap_context_t *ctx, const coap_session_t *s,
               uint8_t out[COAP_ECHO_LEN])
{
  uint32_t t = echo_now(ctx);
  uint64_t mac;

  if (!echo_key(ctx) || !echo_mac(ctx, s, t, &mac))
    return 0;
  for (int i = 0; i < 4; i++)
    out[i] = (uint8_t)(t >> (24 - 8 * i));
  for (int i = 0; i < 8; i++)
    out[4 + i] = (uint8_t)(mac >> (56 - 8 * i));
  return 1;
}

int
coap_echo_check(coap_context_t *ctx, const coap_session_t *s,
                const uint8_t *v, size_t len)
{
  uint32_t t = 0, now = echo_now(ctx);
  uint64_t mac, got = 0;

  if (!v || len != COAP_ECHO_LEN || !ctx->echo_key_ready)
    return 0;
  for (int i = 0; i < 4; i++)
    t = (t << 8) | v[i];
  if (t > now || now - t > COAP_ECHO_WINDOW_S)
    return 0;
  if (!echo_mac(ctx, s, t, &mac))
    return 0;
  for (int i = 0; i < 8; i++)
    got = (got << 8) | v[4 + i];
  /* Compared whole, not byte by byte: no early exit to time. */
  return (mac ^ got) == 0;
}

/* ---------------------------------------------------------------- server */

static int
idempotent(coap_pdu_code_t code)
{
  return code == COAP_REQUEST_CODE_GET || code == COAP_REQUEST_CODE_PUT ||
         code == COAP_REQUEST_CODE_DELETE || code == COAP_REQUEST_CODE_FETCH ||
         code == COAP_REQUEST_CODE_IPATCH;
}

static const uint8_t *
echo_of(const coap_pdu_t *pdu, size_t *len)
{
  coap_opt_iterator_t oi;
  coap_opt_t *o;

  *len = 0;
  if (coap_pdu_view_lacks(pdu, COAP_OPTION_ECHO))
    return NULL;
  o = coap_check_option(pdu, COAP_OPTION_ECHO, &oi);
  if (!o)
    return NULL;
  *len = coap_opt_length(o);
  return coap_opt_value(o);
}

int
coap_amp_limit_slow(coap_session_t *s, const coap_pdu_t *req,
                    coap_pdu_t *resp)
{
  coap_context_t *ctx = s->context;
  uint8_t echo[COAP_ECHO_LEN];
  size_t vlen, rlen = resp->used_size + COAP_UDP_HEADER_SIZE;
  const uint8_t *v;

  if (!idempotent(req->code))
    return 0;
  v = echo_of(req, &vlen);
  if (v && coap_echo_check(ctx, s, v, vlen)) {
    s->verified = 1;
    return 0;
  }
  if (!coap_echo_make(ctx, s, echo))
    return 0; /* no key, or not an IP peer (nothing to spoof) */
  coap_log_debug("%s: %zu-byte response to a %zu-byte request from an "
                 "unverified address: 4.01 with an Echo instead",
                 coap_session_str(s), rlen,
                 req->used_size + COAP_UDP_HEADER_SIZE);
  coap_pdu_clear_body(resp);
  resp->code = COAP_RESPONSE_CODE_UNAUTHORIZED;
  if (!coap_add_option(resp, COAP_OPTION_ECHO, sizeof(echo), echo))
    coap_log_warn("%s: cannot add the Echo option", coap_session_str(s));
  return 1;
}

int
coap_amp_is_challenge(const coap_pdu_t *resp)
{
  size_t len;

  return resp->code == COAP_RESPONSE_CODE_UNAUTHORIZED &&
         echo_of(resp, &len) != NULL;
}

/* ---------------------------------------------------------------- client */

/* A copy of pdu (new message ID) with value as its only Echo option. */
static coap_pdu_t *
with_echo(coap_session_t *s, const coap_pdu_t *pdu, const uint8_t *value,
          size_t len)
{
  static const coap_option_num_t drop[] = {COAP_OPTION_ECHO};
  size_t dlen;
  const uint8_t *data;
  coap_pdu_t *out;

  coap_get_data(pdu, &dlen, &data);
  out = coap_pdu_clone_without(pdu, s, drop, 1, len + 4 + dlen + 1);
  if (!out)
    return NULL;
  if (!coap_add_option(out, COAP_OPTION_ECHO, len, value) ||
      (dlen && !coap_add_data(out, dlen, data))) {
    coap_delete_pdu(out);
    return NULL;
  }
  return out;
}

coap_pdu_t *
coap_echo_repeat(coap_session_t *s, const coap_pdu_t *sent,
                 const coap_pdu_t *rcvd, int repeat)
{
  size_t len;
  const uint8_t *v;
  coap_pdu_t *again;

  if (rcvd->code != COAP_RESPONSE_CODE_UNAUTHORIZED)
    return NULL;
  v = echo_of(rcvd, &len);
  if (!v || len == 0 || len > COAP_ECHO_MAX || !coap_session_ext(s))
    return NULL;
  memcpy(s->ext->echo, v, len);
  s->ext->echo_len = (uint8_t)len;
  if (!repeat)
    return NULL;
  again = with_echo(s, sent, v, len);
  if (again)
    coap_log_debug("%s: 4.01 with an Echo option (RFC 9175): the request "
                   "is repeated with it (message ID %d)",
                   coap_session_str(s), (int)again->mid);
  return again;
}

coap_pdu_t *
coap_echo_add_last(coap_session_t *s, coap_pdu_t *pdu)
{
  size_t len;
  coap_pdu_t *out;

  if (!coap_session_has_ext(s) || !s->ext->echo_len || pdu->code < 1 ||
      pdu->code > 31 || echo_of(pdu, &len))
    return pdu;
  if (!pdu->data &&
      coap_add_option(pdu, COAP_OPTION_ECHO, s->ext->echo_len, s->ext->echo))
    return pdu;
  out = with_echo(s, pdu, s->ext->echo, s->ext->echo_len);
  if (!out)
    return pdu;
  out->mid = pdu->mid;
  coap_delete_pdu(pdu);
  return out;
}
