/*
 * keys.c -- the tools' PSK and certificate options: parsing, reading and
 * checking the files they name, and turning them into the library's
 * coap_dtls_cpsk_t / coap_dtls_spsk_t / coap_dtls_pki_t set-up.
 */
#include "keys.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exitcode.h"
#include "options.h"
#include "output.h"

void
ck_keys_init(ck_keys_t *k, int role)
{
  memset(k, 0, sizeof(*k));
  k->role = role;
}

/* "0x..." is hex, anything else the bytes of the text. */
static int
parse_key(const char *text, uint8_t *out, size_t *len)
{
  size_t n = strlen(text);

  if (n > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
    return ck_parse_hex(text + 2, out, CK_KEY_MAX, len) == 0 && *len > 0 ? 0 : -1;
  if (n == 0 || n > CK_KEY_MAX)
    return -1;
  memcpy(out, text, n);
  *len = n;
  return 0;
}

int
ck_keys_option(ck_keys_t *k, int opt, const char *arg)
{
  int server = k->role == CK_KEYS_SERVER;

  switch (opt) {
  case 'u':
    if (server)
      return 0;
    if (!*arg || strlen(arg) >= CK_TEXT_MAX)
      return ck_usage_error("-u: bad PSK identity"), -1;
    k->identity = arg;
    return 1;
  case 'k':
    k->key_text = arg;
    if (parse_key(arg, k->key, &k->key_len) < 0)
      return ck_usage_error("-k: bad key (text, or 0x and hex digits, at most "
                            "%d bytes)", CK_KEY_MAX), -1;
    k->have_key = 1;
    return 1;
  case CK_OPT_KEY_FILE:
    k->key_file = arg;
    return 1;
  case 'h':
    if (server) {
      if (strlen(arg) >= CK_TEXT_MAX)
        return ck_usage_error("-h: hint too long"), -1;
      k->hint = arg;
    } else {
      k->hint_file = arg;
    }
    return 1;
  case CK_OPT_PSK_FILE:
    if (!server)
      return 0;
    k->psk_file = arg;
    return 1;
  case CK_OPT_SNI_PSK_FILE:
    if (!server)
      return 0;
    k->sni_psk_file = arg;
    return 1;
  case 'c':
    k->cert = arg;
    return 1;
  case 'j':
    k->cert_key = arg;
    return 1;
  case 'C':
    k->ca = arg;
    return 1;
  case 'R':
    k->trusted_ca = arg;
    return 1;
  case 'n':
    k->no_verify = 1;
    return 1;
  default:
    return 0;
  }
}

/* ---------------------------------------------------------------- files */

static int
file_error(const char *what, const char *path, const char *why)
{
  return ck_usage_error("%s %s: %s", what, path, why);
}

/* A regular readable file; a secret one must not be open to group/others. */
static int
check_file(const char *what, const char *path, int secret)
{
  struct stat st;
  FILE *f;

  if (stat(path, &st) < 0)
    return file_error(what, path, strerror(errno));
  if (S_ISDIR(st.st_mode))
    return file_error(what, path, "is a directory");
  f = fopen(path, "rb");
  if (!f)
    return file_error(what, path, strerror(errno));
  fclose(f);
  if (secret && (st.st_mode & 077))
    return file_error(what, path,
                      "readable by group or others (chmod 600 it)");
  return 0;
}

int
ck_tls_require(void)
{
  const char *why = coap_tls_unavailable_reason();

  if (why == NULL)
    return 0;
  ck_diag("%s", why);
  return CK_EXIT_TLS;
}

/* The library tells PEM and DER apart (through the (D)TLS module). */
static int
check_pki_kind(const char *what, const char *path, int is_key)
{
  int rc = coap_tls_check_pki_file(path, is_key);

  if (rc < 0)
    return ck_tls_require();
  if (rc == 0)
    return file_error(what, path,
                      is_key ? "not a PEM or DER private key"
                             : "not a PEM or DER certificate");
  return 0;
}

static int
check_cert(const char *what, const char *path)
{
  int rc = check_file(what, path, 0);

  if (rc)
    return rc;
  return check_pki_kind(what, path, 0);
}

static int
read_line(FILE *f, char *buf, size_t len)
{
  size_t n;

  if (!fgets(buf, (int)len, f))
    return 0;
  n = strlen(buf);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  return 1;
}

static int
load_key_file(ck_keys_t *k)
{
  char line[2 * CK_KEY_MAX + 8];
  FILE *f;
  int rc = check_file("key file", k->key_file, 1), ok;

  if (rc)
    return rc;
  f = fopen(k->key_file, "r");
  if (!f)
    return file_error("key file", k->key_file, strerror(errno));
  ok = read_line(f, line, sizeof(line)) &&
       parse_key(line, k->key, &k->key_len) == 0;
  explicit_bzero(line, sizeof(line));
  fclose(f);
  if (!ok)
    return file_error("key file", k->key_file,
                      "the first line must be the key (text or 0x hex)");
  k->have_key = 1;
  return 0;
}

/* Splits "a,b,c" (three fields) or "a,b" (two: b is the key). */
static int
parse_entry(char *line, int fields, ck_psk_entry_t *e)
{
  char *a = line, *b, *c = NULL;

  b = strchr(a, ',');
  if (!b)
    return -1;
  *b++ = '\0';
  if (fields == 3) {
    c = strchr(b, ',');
    if (!c)
      return -1;
    *c++ = '\0';
  }
  if (strlen(a) >= CK_TEXT_MAX || (fields == 3 && strlen(b) >= CK_TEXT_MAX))
    return -1;
  memset(e, 0, sizeof(*e));
  snprintf(e->name, sizeof(e->name), "%s", a);
  if (fields == 3)
    snprintf(e->identity, sizeof(e->identity), "%s", b);
  return parse_key(fields == 3 ? c : b, e->key, &e->key_len);
}

static int
load_psk_lines(const char *what, const char *path, int fields,
               ck_psk_entry_t **out, size_t *count)
{
  char line[4 * CK_TEXT_MAX];
  FILE *f;
  size_t n = 0, lineno = 0;
  int rc = check_file(what, path, 1);

  if (rc)
    return rc;
  f = fopen(path, "r");
  if (!f)
    return file_error(what, path, strerror(errno));
  while (read_line(f, line, sizeof(line))) {
    ck_psk_entry_t *grown;
    lineno++;
    if (line[0] == '\0' || line[0] == '#')
      continue;
    grown = realloc(*out, (n + 1) * sizeof(**out));
    if (!grown)
      break;
    *out = grown;
    if (parse_entry(line, fields, &grown[n]) < 0) {
      explicit_bzero(line, sizeof(line));
      fclose(f);
      *count = n;
      return ck_usage_error("%s %s: line %zu: expected %s", what, path, lineno,
                            fields == 3 ? "three comma-separated fields"
                                        : "identity,key");
    }
    n++;
  }
  explicit_bzero(line, sizeof(line));
  fclose(f);
  *count = n;
  if (n == 0)
    return file_error(what, path, "no entries");
  return 0;
}

static int
load_pki(ck_keys_t *k)
{
  struct stat st;
  int rc = 0;

  if (k->cert && (rc = check_cert("certificate", k->cert)))
    return rc;
  if (k->cert_key && (rc = check_file("private key", k->cert_key, 1)))
    return rc;
  if (k->cert_key && (rc = check_pki_kind("private key", k->cert_key, 1)))
    return rc;
  if ((k->cert != NULL) != (k->cert_key != NULL) && k->cert_key)
    return ck_usage_error("-j needs -c (the certificate of the key)");
  if (k->ca && (rc = check_cert("CA certificate", k->ca)))
    return rc;
  if (k->trusted_ca && stat(k->trusted_ca, &st) == 0 && S_ISDIR(st.st_mode))
    return 0;
  if (k->trusted_ca)
    rc = check_cert("trusted CA", k->trusted_ca);
  return rc;
}

int
ck_keys_load(ck_keys_t *k)
{
  int rc = 0;

  if (k->key_file && (rc = load_key_file(k)))
    return rc;
  if (k->hint_file && (rc = load_psk_lines("hint file", k->hint_file, 3,
                                           &k->entries, &k->n_entries)))
    return rc;
  if (k->psk_file && (rc = load_psk_lines("PSK file", k->psk_file, 2,
                                          &k->entries, &k->n_entries)))
    return rc;
  if (k->sni_psk_file && (rc = load_psk_lines("SNI PSK file", k->sni_psk_file,
                                              3, &k->sni, &k->n_sni)))
    return rc;
  if (k->role == CK_KEYS_CLIENT && k->identity && !k->have_key &&
      !k->hint_file)
    return ck_usage_error("-u needs a key (-k or --key-file)");
  if (k->cert && !k->cert_key && k->role == CK_KEYS_SERVER)
    return ck_usage_error("-c needs -j (the certificate's private key)");
  return load_pki(k);
}

int
ck_keys_have_psk(const ck_keys_t *k)
{
  return k->have_key || k->n_entries > 0 || k->n_sni > 0;
}

int
ck_keys_have_pki(const ck_keys_t *k)
{
  return k->cert != NULL || k->ca != NULL || k->trusted_ca != NULL;
}

void
ck_keys_free(ck_keys_t *k)
{
  if (k->entries)
    explicit_bzero(k->entries, k->n_entries * sizeof(*k->entries));
  if (k->sni)
    explicit_bzero(k->sni, k->n_sni * sizeof(*k->sni));
  explicit_bzero(k->key, sizeof(k->key));
  free(k->entries);
  free(k->sni);
  k->entries = k->sni = NULL;
  k->n_entries = k->n_sni = 0;
}

/* ---------------------------------------------------------------- client */

static const coap_dtls_cpsk_info_t *
client_hint_cb(coap_str_const_t *hint, coap_session_t *s, void *arg)
{
  ck_keys_t *k = arg;

  (void)s;
  for (size_t i = 0; i < k->n_entries; i++) {
    ck_psk_entry_t *e = &k->entries[i];
    if (strlen(e->name) == hint->length &&
        memcmp(e->name, hint->s, hint->length) == 0) {
      e->cinfo.identity.s = (const uint8_t *)e->identity;
      e->cinfo.identity.length = strlen(e->identity);
      e->cinfo.key.s = e->key;
      e->cinfo.key.length = e->key_len;
      return &e->cinfo;
    }
  }
  if (k->have_key && k->identity) {
    static coap_dtls_cpsk_info_t dflt;
    dflt.identity.s = (const uint8_t *)k->identity;
    dflt.identity.length = strlen(k->identity);
    dflt.key.s = k->key;
    dflt.key.length = k->key_len;
    return &dflt;
  }
  ck_diag("no PSK for the server's identity hint '%.*s'", (int)hint->length,
          (const char *)hint->s);
  return NULL;
}

static coap_session_t *
client_psk(ck_keys_t *k, coap_context_t *ctx, const coap_address_t *local,
           const coap_address_t *remote, coap_proto_t proto)
{
  coap_dtls_cpsk_t cp;
  const char *id = k->identity;

  memset(&cp, 0, sizeof(cp));
  cp.version = COAP_DTLS_CPSK_SETUP_VERSION;
  cp.client_sni = k->sni_host[0] ? k->sni_host : NULL;
  if (k->n_entries) {
    cp.validate_ih_call_back = client_hint_cb;
    cp.ih_call_back_arg = k;
    if (!id) /* until a hint picks one: the file's first entry */
      id = k->entries[0].identity;
  }
  cp.psk_info.identity.s = (const uint8_t *)(id ? id : "");
  cp.psk_info.identity.length = id ? strlen(id) : 0;
  cp.psk_info.key.s = k->have_key ? k->key : k->entries[0].key;
  cp.psk_info.key.length = k->have_key ? k->key_len : k->entries[0].key_len;
  return coap_new_client_session_psk2(ctx, local, remote, proto, &cp);
}

static int
is_dir(const char *path)
{
  struct stat st;

  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
pem_key(coap_dtls_key_t *key, const char *ca, const char *cert,
        const char *priv)
{
  key->key_type = COAP_PKI_KEY_PEM; /* file names: PEM or DER inside */
  key->key.pem.ca_file = ca;
  key->key.pem.public_cert = cert;
  key->key.pem.private_key = priv;
}

static coap_session_t *
client_pki(ck_keys_t *k, coap_context_t *ctx, const coap_address_t *local,
           const coap_address_t *remote, coap_proto_t proto)
{
  coap_dtls_pki_t pki;

  memset(&pki, 0, sizeof(pki));
  pki.version = COAP_DTLS_PKI_SETUP_VERSION;
  pki.verify_peer_cert = !k->no_verify;
  pki.check_common_ca = k->ca != NULL;
  pki.cert_chain_validation = 1;
  pki.cert_chain_verify_depth = 4;
  pki.client_sni = k->sni_host[0] ? k->sni_host : NULL;
  pem_key(&pki.pki_key, k->ca, k->cert, k->cert_key);
  if (k->trusted_ca && !coap_context_set_pki_root_cas(
                           ctx, is_dir(k->trusted_ca) ? NULL : k->trusted_ca,
                           is_dir(k->trusted_ca) ? k->trusted_ca : NULL))
    return NULL;
  return coap_new_client_session_pki(ctx, local, remote, proto, &pki);
}

coap_session_t *
ck_keys_client_session(ck_keys_t *k, coap_context_t *ctx,
                       const coap_address_t *local,
                       const coap_address_t *remote, coap_proto_t proto,
                       const char *host)
{
  if (ck_tls_require() != 0)
    return NULL;
  snprintf(k->sni_host, sizeof(k->sni_host), "%s", host ? host : "");
  if (ck_keys_have_psk(k))
    return client_psk(k, ctx, local, remote, proto);
  return client_pki(k, ctx, local, remote, proto);
}

int
ck_keys_report_failure(const coap_session_t *s)
{
  const char *why = coap_session_get_tls_error(s);

  if (!why)
    return 0;
  ck_diag("%s handshake failed: %s",
                 coap_session_get_proto(s) == COAP_PROTO_DTLS ? "DTLS" : "TLS",
                 why);
  return 1;
}

/* ---------------------------------------------------------------- server */

static const coap_bin_const_t *
server_id_cb(coap_bin_const_t *identity, coap_session_t *s, void *arg)
{
  ck_keys_t *k = arg;

  (void)s;
  for (size_t i = 0; i < k->n_entries; i++) {
    ck_psk_entry_t *e = &k->entries[i];
    if (strlen(e->name) == identity->length &&
        memcmp(e->name, identity->s, identity->length) == 0) {
      e->bkey.s = e->key;
      e->bkey.length = e->key_len;
      return &e->bkey;
    }
  }
  if (k->have_key) {
    static coap_bin_const_t dflt;
    dflt.s = k->key;
    dflt.length = k->key_len;
    return &dflt;
  }
  return NULL;
}

static const coap_dtls_spsk_info_t *
server_sni_cb(const char *sni, coap_session_t *s, void *arg)
{
  ck_keys_t *k = arg;

  (void)s;
  for (size_t i = 0; i < k->n_sni; i++) {
    ck_psk_entry_t *e = &k->sni[i];
    if (strcmp(e->name, sni) == 0) {
      e->sinfo.hint.s = (const uint8_t *)e->identity;
      e->sinfo.hint.length = strlen(e->identity);
      e->sinfo.key.s = e->key;
      e->sinfo.key.length = e->key_len;
      return &e->sinfo;
    }
  }
  return NULL; /* the default hint and key */
}

static int
server_psk(ck_keys_t *k, coap_context_t *ctx)
{
  coap_dtls_spsk_t sp;

  memset(&sp, 0, sizeof(sp));
  sp.version = COAP_DTLS_SPSK_SETUP_VERSION;
  if (k->n_entries) {
    sp.validate_id_call_back = server_id_cb;
    sp.id_call_back_arg = k;
  }
  if (k->n_sni) {
    sp.validate_sni_call_back = server_sni_cb;
    sp.sni_call_back_arg = k;
  }
  sp.psk_info.hint.s = (const uint8_t *)k->hint;
  sp.psk_info.hint.length = k->hint ? strlen(k->hint) : 0;
  sp.psk_info.key.s = k->have_key ? k->key : NULL;
  sp.psk_info.key.length = k->have_key ? k->key_len : 0;
  return coap_context_set_psk2(ctx, &sp) ? 0 : CK_EXIT_FAILURE;
}

static int
server_pki(ck_keys_t *k, coap_context_t *ctx)
{
  coap_dtls_pki_t pki;

  memset(&pki, 0, sizeof(pki));
  pki.version = COAP_DTLS_PKI_SETUP_VERSION;
  pki.verify_peer_cert = !k->no_verify;
  pki.check_common_ca = k->ca != NULL;
  pki.require_peer_cert = k->ca != NULL;
  pki.cert_chain_validation = 1;
  pki.cert_chain_verify_depth = 4;
  pem_key(&pki.pki_key, k->ca, k->cert, k->cert_key);
  if (k->trusted_ca &&
      !coap_context_set_pki_root_cas(ctx, is_dir(k->trusted_ca) ? NULL : k->trusted_ca,
                                     is_dir(k->trusted_ca) ? k->trusted_ca : NULL))
    return CK_EXIT_FAILURE;
  return coap_context_set_pki(ctx, &pki) ? 0 : CK_EXIT_FAILURE;
}

int
ck_keys_server_setup(ck_keys_t *k, coap_context_t *ctx)
{
  int rc = ck_tls_require();

  if (rc == 0 && (ck_keys_have_psk(k) || k->hint))
    rc = server_psk(k, ctx);
  if (rc == 0 && k->cert)
    rc = server_pki(k, ctx);
  return rc;
}
