/*
 * test_dtls.c -- DTLS over OpenSSL: the stateless cookie, PSK and PKI
 * handshakes between two contexts of this process over loopback, what the
 * getters report on both sides, failures, and the cap on handshakes in
 * progress (HELLO sessions).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "coap.h"
#include "net_internal.h"
#include "tls_internal.h"
#include "loopback.h"
#include "tap.h"

/* ---------------------------------------------------------------- helpers */

typedef struct result_t {
  int responses;
  int nacks;
  coap_nack_reason_t reason;
  char payload[64];
} result_t;

static result_t res;

static coap_response_t
on_response(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
            const coap_mid_t mid)
{
  size_t len = 0;
  const uint8_t *data = NULL;

  (void)s;
  (void)sent;
  (void)mid;
  res.responses++;
  if (coap_get_data(rcvd, &len, &data) && len < sizeof(res.payload)) {
    memcpy(res.payload, data, len);
    res.payload[len] = '\0';
  }
  return COAP_RESPONSE_OK;
}

static void
on_nack(coap_session_t *s, const coap_pdu_t *sent, const coap_nack_reason_t r,
        const coap_mid_t mid)
{
  (void)s;
  (void)sent;
  (void)mid;
  res.nacks++;
  res.reason = r;
}

static void
hnd_get(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
        const coap_string_t *q, coap_pdu_t *resp)
{
  (void)r;
  (void)s;
  (void)req;
  (void)q;
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
  coap_add_data(resp, 6, (const uint8_t *)"secret");
}

static coap_context_t *
server_ctx(uint16_t *port)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_address_t a;
  coap_endpoint_t *ep;
  coap_resource_t *r;

  ep = lb_listen(ctx, COAP_PROTO_DTLS, "127.0.0.1", AF_INET, &a);
  if (!ep)
    return NULL;
  *port = coap_address_get_port(&a);
  r = coap_resource_init(coap_make_str_const("t"), 0);
  coap_register_handler(r, COAP_REQUEST_GET, hnd_get);
  coap_add_resource(ctx, r);
  return ctx;
}

static coap_context_t *
client_ctx(void)
{
  coap_context_t *ctx = coap_new_context(NULL);

  coap_register_response_handler(ctx, on_response);
  coap_register_nack_handler(ctx, on_nack);
  return ctx;
}

static void
send_get(coap_session_t *s)
{
  coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, s);

  coap_add_option(pdu, COAP_OPTION_URI_PATH, 1, (const uint8_t *)"t");
  coap_send(s, pdu);
}

static int
answered(const void *arg)
{
  const result_t *r = arg;

  return r->responses || r->nacks;
}

/* Runs both loops until a response or a nack came, at most ms. */
static void
run(coap_context_t *a, coap_context_t *b, unsigned ms)
{
  lb_loop_t l = {a, b, 5, 5, 0, ms};

  lb_run_until(&l, answered, &res);
}

static void
spin(coap_context_t *a, coap_context_t *b, unsigned ms)
{
  lb_pump(a, b, NULL, 0, ms);
}

static coap_session_t *
first_server_session(coap_context_t *ctx)
{
  for (coap_session_t *s = ctx->sessions; s; s = s->all_next)
    if (s->type != COAP_SESSION_TYPE_CLIENT)
      return s;
  return NULL;
}

static coap_address_t
loopback(uint16_t port)
{
  coap_address_t a;

  coap_resolve_address("127.0.0.1", port, AF_INET, &a);
  return a;
}

/* ---------------------------------------------------------------- cookie */

static void
test_cookie(void)
{
  coap_context_t *c1 = coap_new_context(NULL), *c2 = coap_new_context(NULL);
  coap_address_t a = loopback(40000), b = loopback(40001), v6;
  uint8_t ck[64], ck2[64];
  unsigned len = 0, len2 = 0;

  coap_resolve_address("::1", 40000, AF_INET6, &v6);
  ok(coap_dtls_cookie_make(c1, &a, ck, &len) && len == 32,
     "cookie: 32 bytes of HMAC-SHA256");
  ok(coap_dtls_cookie_check(c1, &a, ck, len), "cookie: valid for its peer");
  ok(!coap_dtls_cookie_check(c1, &b, ck, len), "cookie: invalid for another port");
  ok(!coap_dtls_cookie_check(c1, &v6, ck, len),
     "cookie: invalid for another address family");
  ok(!coap_dtls_cookie_check(c2, &a, ck, len),
     "cookie: invalid under another context's secret");
  ok(!coap_dtls_cookie_check(c1, &a, ck, len - 1), "cookie: truncated is invalid");
  ck[5] ^= 1;
  ok(!coap_dtls_cookie_check(c1, &a, ck, len), "cookie: one flipped bit is invalid");
  ck[5] ^= 1;
  ok(coap_dtls_cookie_make(c1, &a, ck2, &len2) && len2 == len &&
         memcmp(ck, ck2, len) == 0,
     "cookie: stateless (the same peer gets the same cookie)");
  coap_free_context(c1);
  coap_free_context(c2);
}

/* ---------------------------------------------------------------- PSK */

static char seen_hint[64];
static const coap_dtls_cpsk_info_t *
ih_cb(coap_str_const_t *hint, coap_session_t *s, void *arg)
{
  static coap_dtls_cpsk_info_t info;

  (void)s;
  snprintf(seen_hint, sizeof(seen_hint), "%.*s", (int)hint->length,
           (const char *)hint->s);
  info.identity.s = (const uint8_t *)"hinted-id";
  info.identity.length = 9;
  info.key = ((coap_dtls_cpsk_info_t *)arg)->key;
  return &info;
}

static const coap_bin_const_t *
id_cb(coap_bin_const_t *identity, coap_session_t *s, void *arg)
{
  static coap_bin_const_t key = {7, (const uint8_t *)"idkey-7"};

  (void)s;
  (void)arg;
  if (identity->length == 9 && memcmp(identity->s, "hinted-id", 9) == 0)
    return &key;
  if (identity->length == 4 && memcmp(identity->s, "user", 4) == 0)
    return &key;
  return NULL;
}

static int
set_server_psk(coap_context_t *ctx, const char *hint, const char *key,
               coap_dtls_id_callback_t cb)
{
  coap_dtls_spsk_t sp;

  memset(&sp, 0, sizeof(sp));
  sp.version = COAP_DTLS_SPSK_SETUP_VERSION;
  sp.validate_id_call_back = cb;
  sp.psk_info.hint.s = (const uint8_t *)hint;
  sp.psk_info.hint.length = hint ? strlen(hint) : 0;
  sp.psk_info.key.s = (const uint8_t *)key;
  sp.psk_info.key.length = strlen(key);
  return coap_context_set_psk2(ctx, &sp);
}

static void
test_psk(void)
{
  uint16_t port = 0;
  coap_context_t *srv = server_ctx(&port), *cli = client_ctx();
  coap_address_t dst = loopback(port);
  coap_session_t *s, *ss;
  coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
  coap_tls_summary_t sum;
  const coap_bin_const_t *b;

  ok(srv != NULL, "psk: a DTLS endpoint opens");
  ok(set_server_psk(srv, "the-hint", "k3y", NULL), "psk: server key set");
  memset(&res, 0, sizeof(res));
  s = coap_new_client_session_psk(cli, NULL, &dst, COAP_PROTO_DTLS, "me",
                                  (const uint8_t *)"k3y", 3);
  ok(s != NULL, "psk: client session created");
  is_int(coap_session_get_state(s), COAP_SESSION_STATE_HANDSHAKE,
         "psk: the client session is in HANDSHAKE at first");
  send_get(s);
  run(cli, srv, 5000);
  is_int(res.responses, 1, "psk: one response over DTLS");
  is_str(res.payload, "secret", "psk: the payload arrived decrypted");
  is_int(coap_session_get_state(s), COAP_SESSION_STATE_ESTABLISHED,
         "psk: client ESTABLISHED after the handshake");
  ok(coap_session_get_tls(s, &lib) != NULL && lib == COAP_TLS_LIBRARY_OPENSSL,
     "psk: coap_session_get_tls returns the SSL and OpenSSL");
  b = coap_session_get_psk_hint(s);
  ok(b && b->length == 8 && memcmp(b->s, "the-hint", 8) == 0,
     "psk: the client reports the hint the server sent");
  b = coap_session_get_psk_key(s);
  ok(b && b->length == 3 && memcmp(b->s, "k3y", 3) == 0,
     "psk: the client reports its key");
  ss = first_server_session(srv);
  ok(ss && coap_session_get_type(ss) == COAP_SESSION_TYPE_SERVER,
     "psk: the server session is SERVER once established");
  b = coap_session_get_psk_identity(ss);
  ok(b && b->length == 2 && memcmp(b->s, "me", 2) == 0,
     "psk: the server reports the identity the client used");
  b = coap_session_get_psk_key(ss);
  ok(b && b->length == 3 && memcmp(b->s, "k3y", 3) == 0,
     "psk: the server reports the key in use");
  ok(coap_session_get_tls_summary(s, &sum) && strcmp(sum.version, "DTLSv1.2") == 0 &&
         strstr(sum.cipher, "PSK") != NULL,
     "psk: summary: DTLSv1.2 with a PSK cipher (%s %s)", sum.version, sum.cipher);
  ok(coap_session_get_tls_error(s) == NULL, "psk: no error recorded");
  is_int(coap_dtls_hello_count(srv), 0, "psk: no HELLO session left");
  coap_session_release(s);
  coap_free_context(cli);
  coap_free_context(srv);
}

static void
test_psk_callbacks(void)
{
  uint16_t port = 0;
  coap_context_t *srv = server_ctx(&port), *cli = client_ctx();
  coap_address_t dst = loopback(port);
  coap_dtls_cpsk_t cp;
  coap_session_t *s, *ss;
  const coap_bin_const_t *b;

  set_server_psk(srv, "hint-2", "unused", id_cb);
  memset(&cp, 0, sizeof(cp));
  cp.version = COAP_DTLS_CPSK_SETUP_VERSION;
  cp.validate_ih_call_back = ih_cb;
  cp.ih_call_back_arg = &cp.psk_info;
  cp.psk_info.identity.s = (const uint8_t *)"wrong-id";
  cp.psk_info.identity.length = 8;
  cp.psk_info.key.s = (const uint8_t *)"idkey-7";
  cp.psk_info.key.length = 7;
  memset(&res, 0, sizeof(res));
  s = coap_new_client_session_psk2(cli, NULL, &dst, COAP_PROTO_DTLS, &cp);
  send_get(s);
  run(cli, srv, 5000);
  is_int(res.responses, 1, "ih callback: the hinted identity is accepted");
  is_str(seen_hint, "hint-2", "ih callback: it saw the server's hint");
  b = coap_session_get_psk_identity(s);
  ok(b && b->length == 9 && memcmp(b->s, "hinted-id", 9) == 0,
     "ih callback: the client reports the identity it really used");
  ss = first_server_session(srv);
  b = ss ? coap_session_get_psk_key(ss) : NULL;
  ok(b && b->length == 7 && memcmp(b->s, "idkey-7", 7) == 0,
     "id callback: the server reports the per-identity key");
  coap_session_release(s);
  coap_free_context(cli);
  coap_free_context(srv);
}

static void
test_psk_unknown_identity(void)
{
  uint16_t port = 0;
  coap_context_t *srv = server_ctx(&port), *cli = client_ctx();
  coap_address_t dst = loopback(port);
  coap_session_t *s;

  set_server_psk(srv, NULL, "k", id_cb);
  memset(&res, 0, sizeof(res));
  s = coap_new_client_session_psk(cli, NULL, &dst, COAP_PROTO_DTLS, "nobody",
                                  (const uint8_t *)"k", 1);
  send_get(s);
  run(cli, srv, 5000);
  is_int(res.responses, 0, "unknown identity: no response");
  is_int(res.nacks, 1, "unknown identity: the request is nacked");
  is_int(res.reason, COAP_NACK_TLS_FAILED, "unknown identity: reason TLS_FAILED");
  ok(coap_session_get_tls_error(s) != NULL, "unknown identity: the reason: %s",
     coap_session_get_tls_error(s) ? coap_session_get_tls_error(s) : "-");
  spin(srv, NULL, 100);
  is_int(coap_context_get_session_count(srv), 0,
         "unknown identity: the server keeps no session");
  coap_session_release(s);
  coap_free_context(cli);
  coap_free_context(srv);
}

/* ---------------------------------------------------------------- HELLO */

static void
test_hello_cap(void)
{
  enum { N = COAP_DTLS_MAX_HELLO + 6 };
  uint16_t port = 0;
  coap_context_t *srv = server_ctx(&port), *cli = client_ctx();
  coap_address_t dst = loopback(port);
  coap_session_t *c[N];
  unsigned hello = 0;

  set_server_psk(srv, NULL, "k", NULL);
  for (int i = 0; i < N; i++)
    c[i] = coap_new_client_session_psk(cli, NULL, &dst, COAP_PROTO_DTLS, "u",
                                       (const uint8_t *)"k", 1);
  /* ClientHello in, HelloVerifyRequest out: no state yet. */
  coap_io_process(srv, 50);
  is_int(coap_context_get_session_count(srv), 0,
         "hello: a ClientHello without cookie creates no session");
  /* The clients answer with the cookie; the server stops short of them. */
  for (int i = 0; i < 4; i++)
    coap_io_process(cli, 20);
  for (int i = 0; i < 4; i++)
    coap_io_process(srv, 20);
  hello = coap_dtls_hello_count(srv);
  ok(hello == COAP_DTLS_MAX_HELLO, "hello: capped at %d (got %u)",
     COAP_DTLS_MAX_HELLO, hello);
  ok(coap_context_get_session_count(srv) <= COAP_DTLS_MAX_HELLO,
     "hello: server sessions within the cap");
  {
    coap_session_t *ss = first_server_session(srv);
    ok(ss && coap_session_get_type(ss) == COAP_SESSION_TYPE_HELLO &&
           coap_session_get_state(ss) == COAP_SESSION_STATE_HANDSHAKE,
       "hello: a handshaking server session is HELLO in HANDSHAKE");
  }
  for (int i = 0; i < N; i++)
    coap_session_release(c[i]);
  coap_free_context(cli);
  coap_free_context(srv);
}

static void
test_garbage(void)
{
  uint16_t port = 0;
  coap_context_t *srv = server_ctx(&port);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  coap_address_t dst = loopback(port);
  uint8_t junk[64] = {0x40, 0x01, 0x12, 0x34};
  uint8_t hs[40] = {22, 0xfe, 0xfd};

  set_server_psk(srv, NULL, "k", NULL);
  sendto(fd, junk, sizeof(junk), 0, &dst.addr.sa, dst.size);
  sendto(fd, hs, sizeof(hs), 0, &dst.addr.sa, dst.size);
  spin(srv, NULL, 100);
  is_int(coap_context_get_session_count(srv), 0,
         "garbage: plain CoAP and a broken handshake record leave no session");
  close(fd);
  coap_free_context(srv);
}

/* ---------------------------------------------------------------- PKI */

static char dir[] = "/tmp/test_dtls.XXXXXX";
static char ca_pem[64], srv_pem[64], srv_der[64], srv_key[64], other_ca[64];

static EVP_PKEY *
new_key(void)
{
  return EVP_EC_gen("P-256");
}

static X509 *
new_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
         int ca, const char *san)
{
  X509 *x = X509_new();
  X509V3_CTX v3;
  X509_EXTENSION *ext;

  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(coap_ticks_ms() & 0xffff) + ca);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
                                 : X509_get_subject_name(x));
  X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                            ca ? "critical,CA:TRUE" : "CA:FALSE");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  if (san) {
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
  return x;
}

static void
write_pem_cert(const char *path, X509 *x)
{
  FILE *f = fopen(path, "w");
  PEM_write_X509(f, x);
  fclose(f);
}

static void
make_certs(void)
{
  EVP_PKEY *cak = new_key(), *sk = new_key(), *ok_ = new_key();
  X509 *ca = new_cert(cak, "Test CA", NULL, NULL, 1, NULL);
  X509 *other = new_cert(ok_, "Other CA", NULL, NULL, 1, NULL);
  X509 *sc = new_cert(sk, "server", ca, cak, 0, "DNS:localhost,IP:127.0.0.1");
  FILE *f;

  if (!mkdtemp(dir))
    return;
  snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", dir);
  snprintf(other_ca, sizeof(other_ca), "%s/other.pem", dir);
  snprintf(srv_pem, sizeof(srv_pem), "%s/server.pem", dir);
  snprintf(srv_der, sizeof(srv_der), "%s/server.der", dir);
  snprintf(srv_key, sizeof(srv_key), "%s/server.key", dir);
  write_pem_cert(ca_pem, ca);
  write_pem_cert(other_ca, other);
  write_pem_cert(srv_pem, sc);
  f = fopen(srv_der, "wb");
  i2d_X509_fp(f, sc);
  fclose(f);
  f = fopen(srv_key, "w");
  PEM_write_PrivateKey(f, sk, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  X509_free(ca);
  X509_free(other);
  X509_free(sc);
  EVP_PKEY_free(cak);
  EVP_PKEY_free(sk);
  EVP_PKEY_free(ok_);
}

static void
remove_certs(void)
{
  unlink(ca_pem);
  unlink(other_ca);
  unlink(srv_pem);
  unlink(srv_der);
  unlink(srv_key);
  rmdir(dir);
}

static int cn_calls;
static char cn_seen[64];
static int
cn_cb(const char *cn, const uint8_t *der, size_t len, coap_session_t *s,
      unsigned depth, int validated, void *arg)
{
  (void)der;
  (void)s;
  (void)validated;
  (void)arg;
  cn_calls++;
  if (depth == 0)
    snprintf(cn_seen, sizeof(cn_seen), "%s", cn);
  return len > 0;
}

/* A client of cert_file's server, trusting ca (NULL: none), checking host. */
static int
pki_round(const char *cert_file, const char *ca, const char *host, int verify,
          coap_session_t **out_srv_s, coap_context_t **out_srv,
          coap_context_t **out_cli, coap_session_t **out_cli_s)
{
  uint16_t port = 0;
  coap_context_t *srv = server_ctx(&port), *cli = client_ctx();
  coap_address_t dst = loopback(port);
  coap_dtls_pki_t sp, cp;
  coap_session_t *s;

  memset(&sp, 0, sizeof(sp));
  sp.version = COAP_DTLS_PKI_SETUP_VERSION;
  sp.pki_key.key_type = COAP_PKI_KEY_PEM;
  sp.pki_key.key.pem.public_cert = cert_file;
  sp.pki_key.key.pem.private_key = srv_key;
  coap_context_set_pki(srv, &sp);
  memset(&cp, 0, sizeof(cp));
  cp.version = COAP_DTLS_PKI_SETUP_VERSION;
  cp.verify_peer_cert = (uint8_t)verify;
  cp.check_common_ca = ca != NULL;
  cp.validate_cn_call_back = cn_cb;
  cp.client_sni = (char *)(uintptr_t)host;
  cp.pki_key.key_type = COAP_PKI_KEY_PEM;
  cp.pki_key.key.pem.ca_file = ca;
  memset(&res, 0, sizeof(res));
  s = coap_new_client_session_pki(cli, NULL, &dst, COAP_PROTO_DTLS, &cp);
  if (s) {
    send_get(s);
    run(cli, srv, 5000);
  }
  *out_srv = srv;
  *out_cli = cli;
  *out_cli_s = s;
  *out_srv_s = first_server_session(srv);
  return res.responses;
}

static void
pki_done(coap_context_t *srv, coap_context_t *cli, coap_session_t *s)
{
  coap_session_release(s);
  coap_free_context(cli);
  coap_free_context(srv);
}

static void
test_pki(void)
{
  coap_context_t *srv, *cli;
  coap_session_t *s, *ss;
  coap_tls_summary_t sum;

  make_certs();
  cn_calls = 0;
  ok(pki_round(srv_pem, ca_pem, "127.0.0.1", 1, &ss, &srv, &cli, &s) == 1,
     "pki: PEM certificate, common CA, IP host: a response");
  ok(cn_calls >= 2, "pki: the CN callback ran for every depth (%d)", cn_calls);
  is_str(cn_seen, "server", "pki: the CN callback saw the server's CN");
  ok(coap_session_get_tls_summary(s, &sum), "pki: the client has a summary");
  ok(strstr(sum.peer_subject, "CN=server") != NULL, "pki: peer subject (%s)",
     sum.peer_subject);
  ok(strstr(sum.peer_issuer, "CN=Test CA") != NULL, "pki: peer issuer (%s)",
     sum.peer_issuer);
  is_int(strlen(sum.peer_sha256), 95, "pki: SHA-256 fingerprint, 32 hex pairs");
  is_str(sum.verify_result, "ok", "pki: verified");
  ok(sum.peer_not_after[0] && sum.peer_not_before[0], "pki: validity dates");
  ok(ss && coap_session_get_tls_summary(ss, &sum) && sum.peer_subject[0] == 0,
     "pki: the server saw no client certificate");
  pki_done(srv, cli, s);

  ok(pki_round(srv_der, ca_pem, "localhost", 1, &ss, &srv, &cli, &s) == 1,
     "pki: DER certificate file, DNS host: a response");
  pki_done(srv, cli, s);

  ok(pki_round(srv_pem, ca_pem, "wrong.example", 1, &ss, &srv, &cli, &s) == 0,
     "pki: the wrong host name fails");
  is_int(res.reason, COAP_NACK_TLS_FAILED, "pki: wrong host: TLS_FAILED");
  ok(coap_session_get_tls_error(s) &&
         strstr(coap_session_get_tls_error(s), "mismatch"),
     "pki: wrong host: the reason says so (%s)",
     coap_session_get_tls_error(s) ? coap_session_get_tls_error(s) : "-");
  pki_done(srv, cli, s);

  ok(pki_round(srv_pem, other_ca, "127.0.0.1", 1, &ss, &srv, &cli, &s) == 0,
     "pki: an untrusted CA fails");
  ok(coap_session_get_tls_error(s) &&
         strstr(coap_session_get_tls_error(s), "certificate verify failed"),
     "pki: untrusted: the reason (%s)",
     coap_session_get_tls_error(s) ? coap_session_get_tls_error(s) : "-");
  pki_done(srv, cli, s);

  ok(pki_round(srv_pem, other_ca, "wrong.example", 0, &ss, &srv, &cli, &s) == 1,
     "pki: without verification anything goes");
  pki_done(srv, cli, s);
  remove_certs();
}

int
main(void)
{
  coap_startup();
  coap_set_log_level(getenv("TEST_DTLS_DEBUG") ? COAP_LOG_DEBUG : COAP_LOG_EMERG);
  ok(coap_dtls_is_supported() == 1, "coap_dtls_is_supported");
  test_cookie();
  test_psk();
  test_psk_callbacks();
  test_psk_unknown_identity();
  test_hello_cap();
  test_garbage();
  test_pki();
  coap_cleanup();
  return tap_done();
}
