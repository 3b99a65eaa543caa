/*
 * keys.h -- the tools' security options (PSK and certificates), the files
 * they name, and the (D)TLS set-up they turn into.  Every tool takes the
 * same options through these few calls:
 *
 *   ck_keys_t keys;  ck_keys_init(&keys, CK_KEYS_CLIENT);
 *   getopt_long(..., "..." CK_KEYS_CLIENT_SHORT, options-with CK_KEYS_LONG)
 *     -> ck_keys_option(&keys, opt, optarg) for every option it knows
 *   ck_keys_load(&keys)            reads and checks the files (exit 2)
 *   ck_keys_client_session(...)    or ck_keys_server_setup(&keys, ctx)
 *   ck_keys_free(&keys)
 */
#ifndef COAPKIT_KEYS_H
#define COAPKIT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "coap.h"

#define CK_KEYS_CLIENT 0
#define CK_KEYS_SERVER 1

/* Short options: the client's -h is a hint file, the server's a hint. */
#define CK_KEYS_CLIENT_SHORT "u:k:h:c:j:C:R:n"
#define CK_KEYS_SERVER_SHORT "k:h:c:j:C:R:n"

#define CK_OPT_KEY_FILE 0x4b01
#define CK_OPT_PSK_FILE 0x4b02
#define CK_OPT_SNI_PSK_FILE 0x4b03

/* Long options every tool adds to its table. */
#define CK_KEYS_LONG                                                           \
  {"identity", required_argument, NULL, 'u'},                                  \
      {"key", required_argument, NULL, 'k'},                                   \
      {"key-file", required_argument, NULL, CK_OPT_KEY_FILE},                  \
      {"psk-file", required_argument, NULL, CK_OPT_PSK_FILE},                  \
      {"sni-psk-file", required_argument, NULL, CK_OPT_SNI_PSK_FILE},          \
      {"cert", required_argument, NULL, 'c'},                                  \
      {"cert-key", required_argument, NULL, 'j'},                              \
      {"ca", required_argument, NULL, 'C'},                                    \
      {"trusted-ca", required_argument, NULL, 'R'},                            \
      {"no-verify", no_argument, NULL, 'n'}

#define CK_KEY_MAX 128
#define CK_TEXT_MAX 128

/* One line of a PSK file: client "hint,identity,key", server
 * "identity,key", SNI "sni,hint,key". */
typedef struct ck_psk_entry_t {
  char name[CK_TEXT_MAX];     /* hint (client), identity, or SNI */
  char identity[CK_TEXT_MAX]; /* identity (client), hint (SNI) */
  uint8_t key[CK_KEY_MAX];
  size_t key_len;
  coap_dtls_cpsk_info_t cinfo; /* views for the library's callbacks */
  coap_dtls_spsk_info_t sinfo;
  coap_bin_const_t bkey;
} ck_psk_entry_t;

typedef struct ck_keys_t {
  int role;                   /* CK_KEYS_CLIENT or CK_KEYS_SERVER */
  const char *identity;       /* -u */
  const char *key_text;       /* -k */
  const char *key_file;       /* --key-file */
  const char *hint;           /* server -h */
  const char *hint_file;      /* client -h */
  const char *psk_file;       /* server --psk-file */
  const char *sni_psk_file;   /* server --sni-psk-file */
  const char *cert, *cert_key, *ca, *trusted_ca; /* -c -j -C -R */
  int no_verify;              /* -n */
  uint8_t key[CK_KEY_MAX];
  size_t key_len;
  int have_key;
  ck_psk_entry_t *entries;    /* hint file or psk file */
  size_t n_entries;
  ck_psk_entry_t *sni;        /* sni psk file */
  size_t n_sni;
  char sni_host[256];         /* the client's SNI: the URI's host */
} ck_keys_t;

void ck_keys_init(ck_keys_t *k, int role);
/* Takes one getopt result; returns 1 when it was a security option, 0 when
 * not, -1 when its value is unusable (message printed, exit 2). */
int ck_keys_option(ck_keys_t *k, int opt, const char *arg);
/* Reads and checks every file named: missing, unreadable, wrong format, a
 * private key or PSK file readable by group or others.  Prints one line
 * naming the file and returns CK_EXIT_USAGE (2), else 0 (CK_EXIT_TLS when
 * a certificate must be read and (D)TLS is unavailable). */
int ck_keys_load(ck_keys_t *k);
/* 1 when PSK or certificates were given. */
int ck_keys_have_psk(const ck_keys_t *k);
int ck_keys_have_pki(const ck_keys_t *k);
/* A client session for proto (DTLS, TLS) to remote, with PSK when given,
 * else certificates (the URI's host as SNI and checked name); NULL on
 * failure (printed). */
coap_session_t *ck_keys_client_session(ck_keys_t *k, coap_context_t *ctx,
                                       const coap_address_t *local,
                                       const coap_address_t *remote,
                                       coap_proto_t proto, const char *host);
/* Gives the server context its keys; returns 0 or an exit code. */
int ck_keys_server_setup(ck_keys_t *k, coap_context_t *ctx);
/* 0 when (D)TLS is available (its module loads), else prints why (one
 * line naming the module tried) and returns CK_EXIT_TLS (7). */
int ck_tls_require(void);
void ck_keys_free(ck_keys_t *k);
/* Prints "tool: DTLS handshake failed: <OpenSSL's reason>" for a session
 * whose handshake failed and returns 1 (the tool exits CK_EXIT_TLS); 0 when
 * it did not fail. */
int ck_keys_report_failure(const coap_session_t *s);

#endif
