/*
 * tls_openssl.c -- DTLS 1.2 and TLS 1.2/1.3 over OpenSSL 3: PSK and PKI
 * set-up, the stateless DTLS cookie, HELLO sessions, handshake timers and
 * what the session getters report.  The contract with the transports is in
 * tls_internal.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls_internal.h"
#include "tls_module.h"

#define COOKIE_LEN 32
#define DTLS_MTU 1280
#define HOLD_MAX_RECORDS 64

/* Plaintext queued until the handshake is over, one record per entry. */
typedef struct hold_t {
  struct hold_t *next;
  size_t len;
  uint8_t data[];
} hold_t;

struct coap_tls_t {
  coap_session_t *session; /* NULL for the DTLS listener */
  coap_context_t *context;
  SSL *ssl;
  SSL_CTX *own_ctx; /* client sessions own theirs */
  coap_tls_raw_send_t raw;
  coap_tls_deliver_t deliver;
  const uint8_t *in;
  size_t in_len;
  hold_t *hold;
  size_t hold_bytes;
  unsigned hold_count;
  coap_timer_t timer;
  uint64_t hs_deadline;
  coap_bin_const_t sni_key; /* server: key chosen by the SNI callback */
  int verify_err;           /* first X509 error seen, or X509_V_OK */
  uint8_t is_client, dgram, established, failed, hello_counted;
  char error[256];
};

typedef struct coap_tls_ctx_t {
  BIO_METHOD *biometh;
  SSL_CTX *dtls_server;
  SSL_CTX *tls_server;
  SSL *listener;
  coap_tls_t *listener_t;
  coap_endpoint_t *cur_ep;          /* datagram being listened to */
  const coap_address_t *cur_peer;
  uint8_t secret[32];
  unsigned hello_count;
} coap_tls_ctx_t;

static coap_tls_t *
tls_of(const coap_session_t *s)
{
  return s ? s->ext->tls : NULL;
}

/* ---------------------------------------------------------------- errors */

static void
set_error(coap_tls_t *t, const char *what)
{
  unsigned long e = ERR_peek_last_error();
  const char *reason = e ? ERR_reason_error_string(e) : NULL;

  if (t->error[0])
    return; /* the first reason is the real one */
  if (t->verify_err != X509_V_OK)
    snprintf(t->error, sizeof(t->error), "%s: certificate verify failed: %s",
             what, X509_verify_cert_error_string(t->verify_err));
  else if (reason)
    snprintf(t->error, sizeof(t->error), "%s: %s", what, reason);
  else
    snprintf(t->error, sizeof(t->error), "%s", what);
}

static void
log_openssl_errors(void)
{
  unsigned long e;
  char buf[256];

  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
    coap_log_debug("OpenSSL: %s", buf);
  }
}

/* ---------------------------------------------------------------- BIO */

static int
bio_write(BIO *b, const char *data, int len)
{
  coap_tls_t *t = BIO_get_data(b);
  coap_tls_ctx_t *tc;
  ssize_t r;

  if (!t || len < 0)
    return -1;
  if (t->session) {
    r = t->raw(t->session, (const uint8_t *)data, (size_t)len);
    /* A lost datagram is the DTLS retransmission timer's business. */
    return (r < 0 && !t->dgram) ? -1 : len;
  }
  tc = t->context->tls_ctx;
  if (tc->cur_ep && tc->cur_peer)
    (void)sendto(tc->cur_ep->io.fd, data, (size_t)len, MSG_NOSIGNAL,
                 &tc->cur_peer->addr.sa, coap_address_socklen(tc->cur_peer));
  return len;
}

static int
bio_read(BIO *b, char *out, int size)
{
  coap_tls_t *t = BIO_get_data(b);
  size_t n;

  BIO_clear_retry_flags(b);
  if (!t || size <= 0 || t->in_len == 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  n = t->in_len < (size_t)size ? t->in_len : (size_t)size;
  memcpy(out, t->in, n);
  if (t->dgram) {
    t->in_len = 0; /* one datagram per read; a truncated rest is dropped */
  } else {
    t->in += n;
    t->in_len -= n;
  }
  return (int)n;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
  coap_tls_t *t = BIO_get_data(b);

  (void)ptr;
  switch (cmd) {
  case BIO_CTRL_FLUSH:
  case BIO_CTRL_DGRAM_SET_CONNECTED:
  case BIO_CTRL_DGRAM_SET_PEER:
    return 1;
  case BIO_CTRL_DGRAM_QUERY_MTU:
  case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
    return DTLS_MTU;
  case BIO_CTRL_DGRAM_SET_MTU:
    return num;
  case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
    return 48; /* IPv6 + UDP headers: the larger of the two families */
  case BIO_CTRL_PENDING:
    return t ? (long)t->in_len : 0;
  default:
    return 0;
  }
}

static int
bio_create(BIO *b)
{
  BIO_set_init(b, 1);
  return 1;
}

static BIO_METHOD *
bio_method(coap_tls_ctx_t *tc)
{
  if (tc->biometh)
    return tc->biometh;
  tc->biometh = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                             "coapkit");
  if (!tc->biometh)
    return NULL;
  BIO_meth_set_write(tc->biometh, bio_write);
  BIO_meth_set_read(tc->biometh, bio_read);
  BIO_meth_set_ctrl(tc->biometh, bio_ctrl);
  BIO_meth_set_create(tc->biometh, bio_create);
  return tc->biometh;
}

static coap_tls_ctx_t *
tls_ctx(coap_context_t *ctx)
{
  if (ctx->tls_ctx)
    return ctx->tls_ctx;
  ctx->tls_ctx = calloc(1, sizeof(coap_tls_ctx_t));
  if (!ctx->tls_ctx)
    return NULL;
  if (getrandom(ctx->tls_ctx->secret, sizeof(ctx->tls_ctx->secret), 0) !=
      (ssize_t)sizeof(ctx->tls_ctx->secret))
    RAND_bytes(ctx->tls_ctx->secret, sizeof(ctx->tls_ctx->secret));
  return ctx->tls_ctx;
}

static int
attach_bio(coap_tls_t *t)
{
  coap_tls_ctx_t *tc = tls_ctx(t->context);
  BIO_METHOD *m = tc ? bio_method(tc) : NULL;
  BIO *b = m ? BIO_new(m) : NULL;

  if (!b)
    return 0;
  BIO_set_data(b, t);
  SSL_set_bio(t->ssl, b, b);
  return 1;
}

/* ---------------------------------------------------------------- cookie */

static size_t
addr_bytes(const coap_address_t *a, uint8_t *out, size_t cap)
{
  size_t n = 0;
  uint16_t port = coap_address_get_port(a);

  if (cap < 2 + 16 + 2)
    return 0;
  out[n++] = (uint8_t)a->addr.sa.sa_family;
  if (a->addr.sa.sa_family == AF_INET) {
    memcpy(out + n, &a->addr.sin.sin_addr, 4);
    n += 4;
  } else if (a->addr.sa.sa_family == AF_INET6) {
    memcpy(out + n, &a->addr.sin6.sin6_addr, 16);
    n += 16;
  }
  out[n++] = (uint8_t)(port >> 8);
  out[n++] = (uint8_t)port;
  return n;
}

int
coap_dtls_cookie_make(coap_context_t *ctx, const coap_address_t *peer,
                      uint8_t *cookie, unsigned *len)
{
  coap_tls_ctx_t *tc = ctx ? tls_ctx(ctx) : NULL;
  uint8_t msg[32];
  size_t n;

  if (!tc || !peer || !cookie || !len)
    return 0;
  n = addr_bytes(peer, msg, sizeof(msg));
  if (!n || !HMAC(EVP_sha256(), tc->secret, sizeof(tc->secret), msg, n,
                  cookie, len))
    return 0;
  return 1;
}

int
coap_dtls_cookie_check(coap_context_t *ctx, const coap_address_t *peer,
                       const uint8_t *cookie, unsigned len)
{
  uint8_t want[EVP_MAX_MD_SIZE];
  unsigned wlen = 0;

  if (!cookie || !coap_dtls_cookie_make(ctx, peer, want, &wlen))
    return 0;
  return len == wlen && CRYPTO_memcmp(want, cookie, len) == 0;
}

static int
cookie_gen_cb(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
  coap_tls_t *t = SSL_get_app_data(ssl);
  coap_tls_ctx_t *tc = t ? t->context->tls_ctx : NULL;
  const coap_address_t *peer =
      t && t->session ? coap_session_get_addr_remote(t->session)
                      : tc ? tc->cur_peer : NULL;

  return peer && coap_dtls_cookie_make(t->context, peer, cookie, len);
}

static int
cookie_verify_cb(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
  coap_tls_t *t = SSL_get_app_data(ssl);
  coap_tls_ctx_t *tc = t ? t->context->tls_ctx : NULL;
  const coap_address_t *peer =
      t && t->session ? coap_session_get_addr_remote(t->session)
                      : tc ? tc->cur_peer : NULL;

  return peer && coap_dtls_cookie_check(t->context, peer, cookie, len);
}

/* ---------------------------------------------------------------- keys */

static int
bin_set(coap_bin_const_t *dst, const uint8_t *s, size_t len)
{
  uint8_t *p = malloc(len + 1);

  if (!p)
    return 0;
  if (len)
    memcpy(p, s, len);
  p[len] = '\0';
  if (dst->s) {
    explicit_bzero((void *)(uintptr_t)dst->s, dst->length);
    free((void *)(uintptr_t)dst->s);
  }
  dst->s = p;
  dst->length = len;
  return 1;
}

static coap_security_t *
session_security(coap_session_t *s)
{
  if (!coap_session_ext(s))
    return NULL;
  if (!s->ext->security)
    s->ext->security = calloc(1, sizeof(*s->ext->security));
  return s->ext->security;
}

/* The server's settings, or NULL. */
static const coap_security_t *
server_security(const coap_tls_t *t)
{
  return t->context->security;
}

/* The PKI settings that apply to this side of the session. */
static const coap_dtls_pki_t *
pki_of(const coap_tls_t *t)
{
  const coap_security_t *sec =
      t->is_client ? t->session->ext->security : server_security(t);

  return sec && sec->has_pki ? &sec->pki : NULL;
}

static unsigned int
psk_client_cb(SSL *ssl, const char *hint, char *identity,
              unsigned int max_identity_len, unsigned char *psk,
              unsigned int max_psk_len)
{
  coap_tls_t *t = SSL_get_app_data(ssl);
  coap_session_t *s = t ? t->session : NULL;
  coap_security_t *sec = s ? s->ext->security : NULL;
  coap_bin_const_t id, key;

  if (!sec || !sec->has_psk)
    return 0;
  id = sec->psk_identity;
  key = sec->psk_key;
  if (hint && *hint) {
    coap_str_const_t h = {strlen(hint), (const uint8_t *)hint};
    if (!bin_set(&sec->psk_hint, h.s, h.length))
      return 0;
    if (sec->cpsk.validate_ih_call_back) {
      const coap_dtls_cpsk_info_t *info =
          sec->cpsk.validate_ih_call_back(&h, s, sec->cpsk.ih_call_back_arg);
      if (!info) {
        coap_log_warn("%s: identity hint '%s' not accepted",
                      coap_session_str(s), hint);
        return 0;
      }
      id = info->identity;
      key = info->key;
    }
  }
  if (!id.s || !key.s || id.length + 1 > max_identity_len ||
      key.length > max_psk_len)
    return 0;
  memcpy(identity, id.s, id.length);
  identity[id.length] = '\0';
  memcpy(psk, key.s, key.length);
  /* What is really in use, for the getters (copies first: id may alias). */
  if (id.s != sec->psk_identity.s &&
      !bin_set(&sec->psk_identity, id.s, id.length))
    return 0;
  if (key.s != sec->psk_key.s && !bin_set(&sec->psk_key, key.s, key.length))
    return 0;
  coap_log_dtls("%s: PSK identity '%s'", coap_session_str(s), identity);
  return (unsigned int)key.length;
}

static unsigned int
psk_server_cb(SSL *ssl, const char *identity, unsigned char *psk,
              unsigned int max_psk_len)
{
  coap_tls_t *t = SSL_get_app_data(ssl);
  coap_session_t *s = t ? t->session : NULL;
  const coap_security_t *csec = t ? server_security(t) : NULL;
  coap_security_t *ssec;
  const coap_bin_const_t *key;
  coap_bin_const_t id;

  if (!s || !csec || !csec->has_psk || !identity)
    return 0;
  id.s = (const uint8_t *)identity;
  id.length = strlen(identity);
  key = t->sni_key.s ? &t->sni_key : &csec->psk_key;
  if (csec->spsk.validate_id_call_back)
    key = csec->spsk.validate_id_call_back(&id, s,
                                           csec->spsk.id_call_back_arg);
  if (!key || !key->s || key->length == 0 || key->length > max_psk_len) {
    coap_log_info("%s: unknown PSK identity '%s'", coap_session_str(s),
                  identity);
    return 0;
  }
  ssec = session_security(s);
  if (!ssec || !bin_set(&ssec->psk_identity, id.s, id.length) ||
      !bin_set(&ssec->psk_key, key->s, key->length))
    return 0;
  ssec->has_psk = 1;
  memcpy(psk, key->s, key->length);
  return (unsigned int)key->length;
}

/* ---------------------------------------------------------------- PKI */

static int
is_ip_literal(const char *host)
{
  unsigned char buf[16];

  return inet_pton(AF_INET, host, buf) == 1 ||
         inet_pton(AF_INET6, host, buf) == 1;
}

static X509 *
read_cert_file(const char *file)
{
  BIO *b = BIO_new_file(file, "rb");
  X509 *x = NULL;

  if (!b)
    return NULL;
  x = PEM_read_bio_X509(b, NULL, NULL, NULL);
  if (!x) {
    ERR_clear_error();
    (void)BIO_reset(b);
    x = d2i_X509_bio(b, NULL);
  }
  BIO_free(b);
  return x;
}

static EVP_PKEY *
read_key_file(const char *file)
{
  BIO *b = BIO_new_file(file, "rb");
  EVP_PKEY *k = NULL;

  if (!b)
    return NULL;
  k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
  if (!k) {
    ERR_clear_error();
    (void)BIO_reset(b);
    k = d2i_PrivateKey_bio(b, NULL);
  }
  BIO_free(b);
  return k;
}

/* Adds a CA (PEM with any number of certificates, or one DER) to the store
 * and, for a server, to the list of CAs named in the CertificateRequest. */
static int
load_ca_file(SSL_CTX *c, const char *file, int server)
{
  X509 *x;

  if (SSL_CTX_load_verify_locations(c, file, NULL) == 1) {
    if (server) {
      STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(file);
      if (names)
        SSL_CTX_set_client_CA_list(c, names);
    }
    return 1;
  }
  ERR_clear_error();
  x = read_cert_file(file);
  if (!x)
    return 0;
  X509_STORE_add_cert(SSL_CTX_get_cert_store(c), x);
  if (server)
    SSL_CTX_add_client_CA(c, x);
  X509_free(x);
  return 1;
}

static int
use_cert_and_key(SSL_CTX *c, SSL *ssl, const coap_dtls_key_t *k)
{
  X509 *x = NULL;
  EVP_PKEY *pk = NULL;
  int ok = 0;

  if (k->key_type == COAP_PKI_KEY_PEM) {
    if (k->key.pem.public_cert && !(x = read_cert_file(k->key.pem.public_cert)))
      coap_log_err("cannot read certificate %s", k->key.pem.public_cert);
    if (k->key.pem.private_key && !(pk = read_key_file(k->key.pem.private_key)))
      coap_log_err("cannot read private key %s", k->key.pem.private_key);
  } else if (k->key_type == COAP_PKI_KEY_ASN1) {
    const uint8_t *p = k->key.asn1.public_cert;
    if (p && !(x = d2i_X509(NULL, &p, (long)k->key.asn1.public_cert_len)))
      coap_log_err("cannot parse the DER certificate");
    p = k->key.asn1.private_key;
    if (p && !(pk = d2i_AutoPrivateKey(NULL, &p,
                                       (long)k->key.asn1.private_key_len)))
      coap_log_err("cannot parse the DER private key");
  } else {
    coap_log_err("PKI key type %d is not supported", (int)k->key_type);
    return 0;
  }
  if (!x && !pk) {
    ok = k->key_type == COAP_PKI_KEY_PEM ? !k->key.pem.public_cert &&
                                               !k->key.pem.private_key
                                         : !k->key.asn1.public_cert &&
                                               !k->key.asn1.private_key;
    goto done;
  }
  if (!x || !pk)
    goto done;
  if (ssl)
    ok = SSL_use_certificate(ssl, x) == 1 && SSL_use_PrivateKey(ssl, pk) == 1 &&
         SSL_check_private_key(ssl) == 1;
  else
    ok = SSL_CTX_use_certificate(c, x) == 1 &&
         SSL_CTX_use_PrivateKey(c, pk) == 1 && SSL_CTX_check_private_key(c) == 1;
  if (!ok)
    coap_log_err("the certificate and the private key do not match");
done:
  X509_free(x);
  EVP_PKEY_free(pk);
  return ok;
}

static int
use_ca(SSL_CTX *c, const coap_dtls_key_t *k, int server)
{
  if (k->key_type == COAP_PKI_KEY_PEM && k->key.pem.ca_file) {
    if (load_ca_file(c, k->key.pem.ca_file, server))
      return 1;
    coap_log_err("cannot read CA certificate %s", k->key.pem.ca_file);
    return 0;
  }
  if (k->key_type == COAP_PKI_KEY_ASN1 && k->key.asn1.ca_cert) {
    const uint8_t *p = k->key.asn1.ca_cert;
    X509 *x = d2i_X509(NULL, &p, (long)k->key.asn1.ca_cert_len);
    if (!x) {
      coap_log_err("cannot parse the DER CA certificate");
      return 0;
    }
    X509_STORE_add_cert(SSL_CTX_get_cert_store(c), x);
    if (server)
      SSL_CTX_add_client_CA(c, x);
    X509_free(x);
  }
  return 1;
}

static int
has_ca(const coap_dtls_key_t *k)
{
  return (k->key_type == COAP_PKI_KEY_PEM && k->key.pem.ca_file) ||
         (k->key_type == COAP_PKI_KEY_ASN1 && k->key.asn1.ca_cert);
}

/* The subject's CN, or the first DNS name when there is no CN. */
static void
cert_cn(X509 *x, char *buf, size_t len)
{
  X509_NAME *n = X509_get_subject_name(x);

  buf[0] = '\0';
  if (n && X509_NAME_get_text_by_NID(n, NID_commonName, buf, (int)len) > 0)
    return;
  buf[0] = '\0';
}

static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
  SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
                                        SSL_get_ex_data_X509_STORE_CTX_idx());
  coap_tls_t *t = ssl ? SSL_get_app_data(ssl) : NULL;
  const coap_dtls_pki_t *pki = t ? pki_of(t) : NULL;
  int err = X509_STORE_CTX_get_error(xs);
  int depth = X509_STORE_CTX_get_error_depth(xs);
  X509 *cert = X509_STORE_CTX_get_current_cert(xs);

  if (!t || !pki)
    return ok;
  if (!ok) {
    if (t->verify_err == X509_V_OK)
      t->verify_err = err;
    if (!pki->verify_peer_cert)
      ok = 1;
    else if (pki->allow_expired_certs && (err == X509_V_ERR_CERT_HAS_EXPIRED ||
                                          err == X509_V_ERR_CERT_NOT_YET_VALID))
      ok = 1;
    else if (pki->allow_self_signed && !pki->check_common_ca &&
             (err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
              err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN))
      ok = 1;
  }
  if (ok && pki->validate_cn_call_back && cert) {
    char cn[256];
    uint8_t *der = NULL;
    int dlen = i2d_X509(cert, &der);
    cert_cn(cert, cn, sizeof(cn));
    if (dlen <= 0 ||
        !pki->validate_cn_call_back(cn, der, (size_t)dlen, t->session,
                                    (unsigned)depth, ok, pki->cn_call_back_arg)) {
      ok = 0;
      if (!t->error[0])
        snprintf(t->error, sizeof(t->error),
                 "certificate '%s' rejected by the CN callback", cn);
    }
    OPENSSL_free(der);
  }
  return ok;
}

static int
pki_setup(SSL_CTX *c, const coap_dtls_pki_t *pki, const coap_security_t *roots,
          int server)
{
  int mode = SSL_VERIFY_NONE;

  if (!use_cert_and_key(c, NULL, &pki->pki_key) || !use_ca(c, &pki->pki_key, server))
    return 0;
  if (roots && (roots->ca_file || roots->ca_dir) &&
      SSL_CTX_load_verify_locations(c, roots->ca_file, roots->ca_dir) != 1) {
    coap_log_err("cannot load trusted CAs from %s",
                 roots->ca_file ? roots->ca_file : roots->ca_dir);
    return 0;
  }
  if (!server)
    mode = SSL_VERIFY_PEER;
  else if (pki->check_common_ca || has_ca(&pki->pki_key) ||
           pki->require_peer_cert)
    mode = SSL_VERIFY_PEER |
           (pki->require_peer_cert && pki->verify_peer_cert
                ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                : 0);
  SSL_CTX_set_verify(c, mode, verify_cb);
  if (pki->cert_chain_verify_depth)
    SSL_CTX_set_verify_depth(c, pki->cert_chain_verify_depth + 1);
  return 1;
}

/* ---------------------------------------------------------------- SNI */

static int
sni_cb(SSL *ssl, int *alert, void *arg)
{
  coap_tls_t *t = SSL_get_app_data(ssl);
  const coap_security_t *csec = t ? server_security(t) : NULL;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

  (void)arg;
  if (!csec || !name || !t->session)
    return SSL_TLSEXT_ERR_NOACK;
  if (csec->has_psk && csec->spsk.validate_sni_call_back) {
    const coap_dtls_spsk_info_t *info = csec->spsk.validate_sni_call_back(
        name, t->session, csec->spsk.sni_call_back_arg);
    if (info && info->key.s && !bin_set(&t->sni_key, info->key.s,
                                        info->key.length))
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    if (info && info->hint.s) {
      coap_security_t *ssec = session_security(t->session);
      if (!ssec || !bin_set(&ssec->psk_hint, info->hint.s, info->hint.length))
        return SSL_TLSEXT_ERR_ALERT_FATAL;
      SSL_use_psk_identity_hint(ssl, (const char *)ssec->psk_hint.s);
    }
  }
  if (csec->has_pki && csec->pki.validate_sni_call_back) {
    coap_dtls_key_t *k =
        csec->pki.validate_sni_call_back(name, csec->pki.sni_call_back_arg);
    if (!k) {
      *alert = SSL_AD_UNRECOGNIZED_NAME;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (!use_cert_and_key(NULL, ssl, k))
      return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

/* ---------------------------------------------------------------- SSL_CTX */

static void
keylog_cb(const SSL *ssl, const char *line)
{
  (void)ssl;
  /* Key material: only at the highest verbosity. */
  coap_log_dtls("keylog: %s", line);
}

static SSL_CTX *
new_ssl_ctx(coap_context_t *ctx, int dgram, int server)
{
  const SSL_METHOD *m = dgram ? (server ? DTLS_server_method()
                                        : DTLS_client_method())
                              : (server ? TLS_server_method()
                                        : TLS_client_method());
  SSL_CTX *c = SSL_CTX_new(m);

  if (!c)
    return NULL;
  SSL_CTX_set_min_proto_version(c, dgram ? DTLS1_2_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_app_data(c, ctx);
  SSL_CTX_set_read_ahead(c, dgram ? 1 : 0);
  if (coap_get_log_level() >= COAP_LOG_DTLS_BASE)
    SSL_CTX_set_keylog_callback(c, keylog_cb);
  if (server) {
    SSL_CTX_set_tlsext_servername_callback(c, sni_cb);
    if (dgram) {
      SSL_CTX_set_options(c, SSL_OP_COOKIE_EXCHANGE);
      SSL_CTX_set_cookie_generate_cb(c, cookie_gen_cb);
      SSL_CTX_set_cookie_verify_cb(c, cookie_verify_cb);
    }
  }
  return c;
}

/* PSK suites are not in OpenSSL's default list; and a peer must not be
 * offered suites this side has no credentials for (GnuTLS then fails with
 * "insufficient credentials"). */
static void
set_ciphers(SSL_CTX *c, const coap_security_t *sec)
{
  int psk = sec && sec->has_psk, pki = sec && sec->has_pki;

  SSL_CTX_set_cipher_list(c, psk && pki ? "DEFAULT:PSK:!NULL"
                             : psk      ? "PSK:!NULL"
                                        : "DEFAULT");
}

static SSL_CTX *
server_ssl_ctx(coap_context_t *ctx, int dgram)
{
  coap_tls_ctx_t *tc = tls_ctx(ctx);
  const coap_security_t *sec = ctx->security;
  SSL_CTX **slot, *c;

  if (!tc)
    return NULL;
  slot = dgram ? &tc->dtls_server : &tc->tls_server;
  if (*slot)
    return *slot;
  if (!sec || (!sec->has_psk && !sec->has_pki)) {
    coap_log_warn("(D)TLS server: no PSK or certificate configured");
    return NULL;
  }
  c = new_ssl_ctx(ctx, dgram, 1);
  if (!c)
    return NULL;
  set_ciphers(c, sec);
  if (sec->has_psk) {
    SSL_CTX_set_psk_server_callback(c, psk_server_cb);
    if (sec->psk_hint.s && sec->psk_hint.length)
      SSL_CTX_use_psk_identity_hint(c, (const char *)sec->psk_hint.s);
  }
  if (sec->has_pki && !pki_setup(c, &sec->pki, sec, 1)) {
    SSL_CTX_free(c);
    return NULL;
  }
  *slot = c;
  return c;
}

/* A client given only a PSK must not fall back to a certificate the server
 * offers instead (TLS 1.3 picks one when the PSK does not match): it has
 * nothing to verify it with, and the key it was given would be ignored. */
static int
psk_only_verify_cb(int ok, X509_STORE_CTX *store)
{
  (void)ok;
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

static SSL_CTX *
client_ssl_ctx(coap_session_t *s, int dgram)
{
  const coap_security_t *sec = s->ext->security;
  SSL_CTX *c = new_ssl_ctx(s->context, dgram, 0);

  if (!c)
    return NULL;
  set_ciphers(c, sec);
  if (sec && sec->has_psk)
    SSL_CTX_set_psk_client_callback(c, psk_client_cb);
  if (sec && sec->has_pki && !pki_setup(c, &sec->pki, s->context->security, 0)) {
    SSL_CTX_free(c);
    return NULL;
  }
  if (!sec || (!sec->has_psk && !sec->has_pki))
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
  else if (!sec->has_pki) {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, psk_only_verify_cb);
    /* OpenSSL's TLS 1.3 prefers a certificate over our external PSK; the
     * TLS 1.2 PSK suites make the server use the key or fail. */
    if (!dgram)
      SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION);
  }
  return c;
}

static int
client_names(coap_tls_t *t)
{
  const coap_security_t *sec = t->session->ext->security;
  const char *sni = sec ? sec->client_sni : NULL;

  if (!sni || !*sni)
    return 1;
  if (!is_ip_literal(sni) && SSL_set_tlsext_host_name(t->ssl, sni) != 1)
    return 0;
  if (!sec->has_pki || !sec->pki.verify_peer_cert)
    return 1;
  /* The URI's host must be one of the certificate's names. */
  if (is_ip_literal(sni))
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), sni) == 1;
  return SSL_set1_host(t->ssl, sni) == 1;
}

/* ---------------------------------------------------------------- timers */

static void
arm_timer(coap_tls_t *t)
{
  struct timeval tv;
  uint64_t now = coap_context_now(t->context), when = t->hs_deadline;

  if (t->established || t->failed || !t->session)
    return;
  if (t->dgram && DTLSv1_get_timeout(t->ssl, &tv) == 1) {
    uint64_t d = now + (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
    if (!when || d < when)
      when = d;
  }
  if (when)
    coap_timer_arm(t->context, &t->timer, when);
}

/* A shorter first DTLS retransmission than OpenSSL's one second, doubled
 * up to the handshake deadline. */
static unsigned int
dtls_timer_cb(SSL *ssl, unsigned int previous_us)
{
  (void)ssl;
  if (previous_us == 0)
    return 500000;
  return previous_us >= 4000000 ? 8000000 : previous_us * 2;
}

/* ---------------------------------------------------------------- life */

static void
hold_free(coap_tls_t *t)
{
  while (t->hold) {
    hold_t *h = t->hold;
    t->hold = h->next;
    explicit_bzero(h->data, h->len);
    free(h);
  }
  t->hold_bytes = 0;
  t->hold_count = 0;
}

static void
tls_free(coap_tls_t *t)
{
  if (!t)
    return;
  if (t->session)
    coap_timer_cancel(t->context, &t->timer);
  if (t->hello_counted && t->context->tls_ctx)
    t->context->tls_ctx->hello_count--;
  hold_free(t);
  SSL_free(t->ssl);
  SSL_CTX_free(t->own_ctx);
  if (t->sni_key.s) {
    explicit_bzero((void *)(uintptr_t)t->sni_key.s, t->sni_key.length);
    free((void *)(uintptr_t)t->sni_key.s);
  }
  free(t);
}

static coap_tls_t *
tls_new(coap_context_t *ctx, coap_session_t *s, int is_client, int dgram)
{
  coap_tls_t *t = calloc(1, sizeof(*t));

  if (!t)
    return NULL;
  t->session = s;
  t->context = ctx;
  t->is_client = (uint8_t)is_client;
  t->dgram = (uint8_t)dgram;
  t->verify_err = X509_V_OK;
  coap_timer_init(&t->timer, COAP_TIMER_TLS);
  return t;
}

static int
ssl_setup(coap_tls_t *t, SSL_CTX *c)
{
  t->ssl = SSL_new(c);
  if (!t->ssl || !attach_bio(t))
    return 0;
  SSL_set_app_data(t->ssl, t);
  if (t->dgram) {
    SSL_set_options(t->ssl, SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(t->ssl, DTLS_MTU - 48);
    DTLS_set_timer_cb(t->ssl, dtls_timer_cb);
  }
  return 1;
}

static coap_tls_status_t drive(coap_tls_t *t);

int
coap_tls_attach(coap_session_t *s, int is_client, coap_tls_raw_send_t raw,
                coap_tls_deliver_t deliver)
{
  int dgram = s->proto == COAP_PROTO_DTLS;
  coap_tls_t *t;
  SSL_CTX *c;

  if (s->ext->tls)
    return 1;
  t = tls_new(s->context, s, is_client, dgram);
  if (!t)
    return 0;
  t->raw = raw;
  t->deliver = deliver;
  s->ext->tls = t;
  c = is_client ? (t->own_ctx = client_ssl_ctx(s, dgram))
                : server_ssl_ctx(s->context, dgram);
  if (!c || !ssl_setup(t, c)) {
    set_error(t, "cannot set up (D)TLS");
    t->failed = 1;
    log_openssl_errors();
    return 0;
  }
  if (is_client) {
    SSL_set_connect_state(t->ssl);
    if (!client_names(t)) {
      set_error(t, "cannot set the server name");
      t->failed = 1;
      return 0;
    }
  } else {
    SSL_set_accept_state(t->ssl);
  }
  coap_session_set_state(s, COAP_SESSION_STATE_HANDSHAKE);
  if (dgram)
    t->hs_deadline = coap_context_now(s->context) + COAP_TLS_HANDSHAKE_TIMEOUT_MS;
  if (is_client && drive(t) == COAP_TLS_FAILED)
    return 0;
  return 1;
}

void
coap_tls_detach(coap_session_t *s)
{
  if (!s || !s->ext->tls)
    return;
  tls_free(s->ext->tls);
  s->ext->tls = NULL;
}

void
coap_tls_close(coap_session_t *s)
{
  coap_tls_t *t = tls_of(s);

  if (t && t->established && !t->failed) {
    SSL_shutdown(t->ssl);
    ERR_clear_error();
  }
}

int
coap_tls_established(const coap_session_t *s)
{
  coap_tls_t *t = tls_of(s);

  return t && t->established && !t->failed;
}

const char *
coap_tls_error(const coap_session_t *s)
{
  coap_tls_t *t = tls_of(s);

  return t && t->error[0] ? t->error : NULL;
}

/* ---------------------------------------------------------------- data */

static void
hold_flush(coap_tls_t *t)
{
  while (t->hold && !t->failed) {
    hold_t *h = t->hold;
    t->hold = h->next;
    if (SSL_write(t->ssl, h->data, (int)h->len) <= 0)
      coap_log_debug("%s: held message not sent", coap_session_str(t->session));
    explicit_bzero(h->data, h->len);
    free(h);
  }
  hold_free(t);
}

static void
on_connected(coap_tls_t *t)
{
  coap_session_t *s = t->session;

  t->established = 1;
  coap_timer_cancel(t->context, &t->timer);
  if (t->hello_counted) {
    t->hello_counted = 0;
    t->context->tls_ctx->hello_count--;
  }
  if (s->type == COAP_SESSION_TYPE_HELLO)
    s->type = COAP_SESSION_TYPE_SERVER;
  coap_log_info("%s: %s established, %s", coap_session_str(s),
                SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
  if (t->dgram)
    coap_session_set_state(s, COAP_SESSION_STATE_ESTABLISHED);
  coap_session_event(s, COAP_EVENT_DTLS_CONNECTED);
  if (t->dgram && t->is_client && !s->dead)
    coap_session_event(s, COAP_EVENT_SESSION_CONNECTED);
  if (!s->dead)
    hold_flush(t);
}

static coap_tls_status_t
on_failed(coap_tls_t *t, const char *what)
{
  coap_session_t *s = t->session;

  t->failed = 1;
  set_error(t, what);
  log_openssl_errors();
  coap_timer_cancel(t->context, &t->timer);
  hold_free(t);
  coap_log_warn("%s: %s", coap_session_str(s), t->error);
  coap_session_event(s, COAP_EVENT_DTLS_ERROR);
  return COAP_TLS_FAILED;
}

static coap_tls_status_t
read_app_data(coap_tls_t *t)
{
  uint8_t buf[16384 + 256];
  coap_session_t *s = t->session;

  while (!s->dead && !t->failed) {
    int n = SSL_read(t->ssl, buf, (int)sizeof(buf));
    if (n > 0) {
      t->deliver(s, buf, (size_t)n);
      continue;
    }
    switch (SSL_get_error(t->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return COAP_TLS_PROGRESS;
    case SSL_ERROR_ZERO_RETURN:
      coap_log_info("%s: the peer closed the (D)TLS session",
                    coap_session_str(s));
      coap_session_event(s, COAP_EVENT_DTLS_CLOSED);
      return COAP_TLS_CLOSED;
    default:
      return on_failed(t, "(D)TLS error");
    }
  }
  return COAP_TLS_PROGRESS;
}

static coap_tls_status_t
drive(coap_tls_t *t)
{
  coap_tls_status_t st = COAP_TLS_PROGRESS, r;

  if (t->failed)
    return COAP_TLS_FAILED;
  if (!t->established) {
    int n = SSL_do_handshake(t->ssl);
    if (n != 1) {
      int e = SSL_get_error(t->ssl, n);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        return on_failed(t, "handshake failed");
      arm_timer(t);
      return COAP_TLS_PROGRESS;
    }
    on_connected(t);
    st = COAP_TLS_CONNECTED;
  }
  r = read_app_data(t);
  return r == COAP_TLS_PROGRESS ? st : r;
}

coap_tls_status_t
coap_tls_receive(coap_session_t *s, const uint8_t *data, size_t len)
{
  coap_tls_t *t = tls_of(s);
  coap_tls_status_t st;

  if (!t || t->failed)
    return COAP_TLS_FAILED;
  t->in = data;
  t->in_len = len;
  st = drive(t);
  /* What a stream read left unread is never kept: OpenSSL buffers it. */
  if (s->ext->tls == t) {
    t->in = NULL;
    t->in_len = 0;
  }
  return st;
}

static int
hold_add(coap_tls_t *t, const uint8_t *data, size_t len)
{
  hold_t *h, **pp;

  if (t->hold_bytes + len > COAP_TLS_PENDING_MAX ||
      t->hold_count >= HOLD_MAX_RECORDS)
    return 0;
  h = malloc(sizeof(*h) + len);
  if (!h)
    return 0;
  h->next = NULL;
  h->len = len;
  memcpy(h->data, data, len);
  for (pp = &t->hold; *pp; pp = &(*pp)->next)
    ;
  *pp = h;
  t->hold_bytes += len;
  t->hold_count++;
  return 1;
}

ssize_t
coap_tls_send(coap_session_t *s, const uint8_t *data, size_t len)
{
  coap_tls_t *t = tls_of(s);
  int n;

  if (!t || t->failed || len > INT32_MAX)
    return -1;
  if (!t->established)
    return hold_add(t, data, len) ? (ssize_t)len : -1;
  n = SSL_write(t->ssl, data, (int)len);
  if (n <= 0) {
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return -1;
    on_failed(t, "(D)TLS write failed");
    return -1;
  }
  return (ssize_t)len;
}

/* A session whose handshake failed or stalled: a client is disconnected
 * (its requests fail with COAP_NACK_TLS_FAILED), a server session goes. */
static void
fail_session(coap_session_t *s)
{
  if (s->type == COAP_SESSION_TYPE_CLIENT) {
    coap_session_disconnected(s, COAP_NACK_TLS_FAILED);
    return;
  }
  coap_session_free(s);
}

void
coap_tls_timeout(coap_context_t *ctx, coap_timer_t *t)
{
  coap_tls_t *tls = COAP_CONTAINER_OF(t, coap_tls_t, timer);
  coap_session_t *s = tls->session;

  if (!s || tls->established || tls->failed)
    return;
  if (tls->hs_deadline && ctx->now >= tls->hs_deadline) {
    on_failed(tls, "handshake timed out");
    if (!s->dead)
      fail_session(s);
    return;
  }
  if (tls->dgram && DTLSv1_handle_timeout(tls->ssl) < 0) {
    on_failed(tls, "handshake failed");
    if (!s->dead)
      fail_session(s);
    return;
  }
  arm_timer(tls);
}

/* ---------------------------------------------------------------- DTLS */

static ssize_t
dtls_raw(coap_session_t *s, const uint8_t *data, size_t len)
{
  return coap_udp_send_raw(s, data, len);
}

static void
dtls_deliver(coap_session_t *s, const uint8_t *data, size_t len)
{
  coap_handle_datagram(s, data, len);
}

unsigned
coap_dtls_hello_count(const coap_context_t *ctx)
{
  return ctx && ctx->tls_ctx ? ctx->tls_ctx->hello_count : 0;
}

static coap_tls_t *
listener(coap_context_t *ctx)
{
  coap_tls_ctx_t *tc = tls_ctx(ctx);
  SSL_CTX *c = server_ssl_ctx(ctx, 1);
  coap_tls_t *t;

  if (!tc || !c)
    return NULL;
  if (tc->listener_t)
    return tc->listener_t;
  t = tls_new(ctx, NULL, 0, 1);
  if (!t)
    return NULL;
  if (!ssl_setup(t, c)) {
    tls_free(t);
    return NULL;
  }
  SSL_set_accept_state(t->ssl);
  tc->listener_t = t;
  return t;
}

/* The oldest handshake in progress makes room for a new one. */
static void
evict_hello(coap_context_t *ctx)
{
  coap_session_t *oldest = NULL;

  for (coap_session_t *s = ctx->sessions; s; s = s->all_next)
    if (s->type == COAP_SESSION_TYPE_HELLO && s->ext->tls && !s->dead &&
        (!oldest || s->id < oldest->id))
      oldest = s;
  if (oldest) {
    coap_log_debug("%s: too many handshakes: the oldest is dropped",
                   coap_session_str(oldest));
    coap_session_free(oldest);
  }
}

/* The listener's SSL passed the cookie check: it becomes the session's. */
static coap_session_t *
adopt(coap_endpoint_t *ep, const coap_address_t *peer,
      const coap_address_t *local, coap_tls_t *lt)
{
  coap_context_t *ctx = ep->context;
  coap_tls_ctx_t *tc = ctx->tls_ctx;
  coap_session_t *s;

  if (tc->hello_count >= COAP_DTLS_MAX_HELLO)
    evict_hello(ctx);
  tc->listener_t = NULL;
  s = coap_session_get_server(ctx, ep, peer, local);
  if (!s) {
    tls_free(lt);
    return NULL;
  }
  lt->session = s;
  lt->raw = dtls_raw;
  lt->deliver = dtls_deliver;
  lt->hs_deadline = coap_context_now(ctx) + COAP_TLS_HANDSHAKE_TIMEOUT_MS;
  lt->hello_counted = 1;
  tc->hello_count++;
  s->ext->tls = lt;
  s->type = COAP_SESSION_TYPE_HELLO;
  coap_session_set_state(s, COAP_SESSION_STATE_HANDSHAKE);
  return s;
}

coap_session_t *
coap_dtls_accept(coap_endpoint_t *ep, const coap_address_t *peer,
                 const coap_address_t *local, const uint8_t *data, size_t len)
{
  coap_context_t *ctx = ep->context;
  coap_tls_t *lt;
  BIO_ADDR *client;
  int r;

  /* Only a handshake record can start anything (RFC 6347 4.1). */
  if (len < 13 || data[0] != 22)
    return NULL;
  lt = listener(ctx);
  if (!lt)
    return NULL;
  client = BIO_ADDR_new();
  if (!client)
    return NULL;
  ctx->tls_ctx->cur_ep = ep;
  ctx->tls_ctx->cur_peer = peer;
  lt->in = data;
  lt->in_len = len;
  r = DTLSv1_listen(lt->ssl, client);
  lt->in = NULL;
  lt->in_len = 0;
  ctx->tls_ctx->cur_ep = NULL;
  ctx->tls_ctx->cur_peer = NULL;
  BIO_ADDR_free(client);
  if (r <= 0) {
    /* Answered with a HelloVerifyRequest, or garbage: nothing is kept. */
    ERR_clear_error();
    if (r < 0) {
      tls_free(lt);
      ctx->tls_ctx->listener_t = NULL;
    }
    return NULL;
  }
  return adopt(ep, peer, local, lt);
}

void
coap_dtls_endpoint_datagram(coap_endpoint_t *ep, const coap_address_t *peer,
                            const coap_address_t *local, int ifindex,
                            const uint8_t *data, size_t len)
{
  coap_session_t *s = coap_session_find_server(ep->context, ep, peer);
  coap_tls_status_t st;

  if (!s || !s->ext->tls) {
    if (s)
      coap_session_free(s); /* a stale plain session: start over */
    s = coap_dtls_accept(ep, peer, local, data, len);
    if (!s)
      return;
    if (ifindex >= 0)
      coap_session_set_ifindex(s, ifindex);
    st = drive(s->ext->tls);
  } else {
    if (ifindex >= 0)
      coap_session_set_ifindex(s, ifindex);
    st = coap_tls_receive(s, data, len);
  }
  if ((st == COAP_TLS_FAILED || st == COAP_TLS_CLOSED) && !s->dead)
    coap_session_free(s);
}

void
coap_dtls_session_datagram(coap_session_t *s, const uint8_t *data, size_t len)
{
  coap_tls_status_t st = coap_tls_receive(s, data, len);

  if ((st == COAP_TLS_FAILED || st == COAP_TLS_CLOSED) && !s->dead)
    coap_session_disconnected(s, st == COAP_TLS_FAILED ? COAP_NACK_TLS_FAILED
                                                       : COAP_NACK_NOT_DELIVERABLE);
}

int
coap_dtls_client_start(coap_session_t *s)
{
  return coap_tls_attach(s, 1, dtls_raw, dtls_deliver);
}

/* ---------------------------------------------------------------- context */

void
coap_tls_context_reset(coap_context_t *ctx)
{
  coap_tls_ctx_t *tc = ctx ? ctx->tls_ctx : NULL;

  if (!tc)
    return;
  /* Sessions keep their SSL (and its reference to the old SSL_CTX). */
  if (tc->listener_t)
    tls_free(tc->listener_t);
  tc->listener_t = NULL;
  SSL_CTX_free(tc->dtls_server);
  SSL_CTX_free(tc->tls_server);
  tc->dtls_server = tc->tls_server = NULL;
}

void
coap_tls_context_free(coap_context_t *ctx)
{
  coap_tls_ctx_t *tc = ctx ? ctx->tls_ctx : NULL;

  if (!tc)
    return;
  coap_tls_context_reset(ctx);
  BIO_meth_free(tc->biometh);
  explicit_bzero(tc->secret, sizeof(tc->secret));
  free(tc);
  ctx->tls_ctx = NULL;
}

/* ---------------------------------------------------------------- public */

void *
coap_session_get_tls(const coap_session_t *session, coap_tls_library_t *tls_lib)
{
  coap_tls_t *t = tls_of(session);

  if (tls_lib)
    *tls_lib = t ? COAP_TLS_LIBRARY_OPENSSL : COAP_TLS_LIBRARY_NOTLS;
  return t ? t->ssl : NULL;
}

const char *
coap_session_get_tls_error(const coap_session_t *session)
{
  return coap_tls_error(session);
}

static void
asn1_time_iso(const ASN1_TIME *at, char *buf, size_t len)
{
  struct tm tm;

  buf[0] = '\0';
  if (!at || ASN1_TIME_to_tm(at, &tm) != 1)
    return;
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
name_line(X509_NAME *n, char *buf, size_t len)
{
  BIO *b = BIO_new(BIO_s_mem());
  int r;

  buf[0] = '\0';
  if (!b)
    return;
  X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
  r = BIO_read(b, buf, (int)len - 1);
  buf[r > 0 ? r : 0] = '\0';
  BIO_free(b);
}

static void
peer_summary(coap_tls_t *t, coap_tls_summary_t *sum)
{
  X509 *x = SSL_get1_peer_certificate(t->ssl);
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;

  if (!x)
    return;
  name_line(X509_get_subject_name(x), sum->peer_subject,
            sizeof(sum->peer_subject));
  name_line(X509_get_issuer_name(x), sum->peer_issuer, sizeof(sum->peer_issuer));
  asn1_time_iso(X509_get0_notBefore(x), sum->peer_not_before,
                sizeof(sum->peer_not_before));
  asn1_time_iso(X509_get0_notAfter(x), sum->peer_not_after,
                sizeof(sum->peer_not_after));
  if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1) {
    size_t o = 0;
    for (unsigned i = 0; i < mdlen && o + 4 <= sizeof(sum->peer_sha256); i++)
      o += (size_t)snprintf(sum->peer_sha256 + o, sizeof(sum->peer_sha256) - o,
                            i ? ":%02X" : "%02X", md[i]);
  }
  X509_free(x);
}

int
coap_session_get_tls_summary(const coap_session_t *session,
                             coap_tls_summary_t *summary)
{
  coap_tls_t *t = tls_of(session);
  long vr;

  if (!summary)
    return 0;
  memset(summary, 0, sizeof(*summary));
  if (!t || !t->ssl)
    return 0;
  summary->library = COAP_TLS_LIBRARY_OPENSSL;
  if (t->established) {
    snprintf(summary->version, sizeof(summary->version), "%s",
             SSL_get_version(t->ssl));
    snprintf(summary->cipher, sizeof(summary->cipher), "%s",
             SSL_get_cipher_name(t->ssl));
  }
  peer_summary(t, summary);
  if (t->error[0]) {
    snprintf(summary->verify_result, sizeof(summary->verify_result), "%.*s",
             (int)sizeof(summary->verify_result) - 1, t->error);
  } else if (summary->peer_subject[0]) {
    vr = t->verify_err != X509_V_OK ? t->verify_err
                                    : SSL_get_verify_result(t->ssl);
    snprintf(summary->verify_result, sizeof(summary->verify_result), "%s%s",
             vr == X509_V_OK ? "ok" : "not verified: ",
             vr == X509_V_OK ? "" : X509_verify_cert_error_string(vr));
  } else if (t->established) {
    snprintf(summary->verify_result, sizeof(summary->verify_result), "%s",
             "no peer certificate (PSK)");
  }
  return 1;
}

/* ---------------------------------------------------------------- files */

/* PEM first, then DER; OpenSSL's error queue is left empty either way. */
static int
pem_or_der_cert(BIO *b)
{
  X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

  if (!x) {
    (void)BIO_reset(b);
    x = d2i_X509_bio(b, NULL);
  }
  X509_free(x);
  return x != NULL;
}

static int
pem_or_der_key(BIO *b)
{
  EVP_PKEY *p = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);

  if (!p) {
    (void)BIO_reset(b);
    p = d2i_PrivateKey_bio(b, NULL);
  }
  EVP_PKEY_free(p);
  return p != NULL;
}

int
coap_tls_check_pki_file(const char *path, int is_key)
{
  BIO *b = path ? BIO_new_file(path, "rb") : NULL;
  int ok;

  if (!b) {
    ERR_clear_error();
    return 0;
  }
  ok = is_key ? pem_or_der_key(b) : pem_or_der_cert(b);
  BIO_free(b);
  ERR_clear_error();
  return ok;
}

#ifndef COAPKIT_TLS_MODULE
/* Built in (configure --disable-tls-module): always there. */
const char *
coap_tls_unavailable_reason(void)
{
  return NULL;
}
#endif
