/*
 * session_render.c -- one snapshot of a session and its three renderings
 * (text block, ss-like row, JSON).  Everything goes through the snapshot so
 * that a session read from the admin socket prints exactly like a local one.
 */
#include "session_render.h"

#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "output.h"

#define MASK "********"

const char *
ck_session_type_name(coap_session_type_t type)
{
  switch (type) {
  case COAP_SESSION_TYPE_CLIENT:
    return "client";
  case COAP_SESSION_TYPE_SERVER:
    return "server";
  case COAP_SESSION_TYPE_HELLO:
    return "hello";
  default:
    return "none";
  }
}

const char *
ck_session_state_name(coap_session_state_t state)
{
  switch (state) {
  case COAP_SESSION_STATE_CONNECTING:
    return "connecting";
  case COAP_SESSION_STATE_HANDSHAKE:
    return "handshake";
  case COAP_SESSION_STATE_CSM:
    return "csm";
  case COAP_SESSION_STATE_ESTABLISHED:
    return "established";
  default:
    return "none";
  }
}

uint64_t
ck_wallclock_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
ck_format_time_ms(uint64_t ms, char *buf, size_t len)
{
  time_t secs = (time_t)(ms / 1000u);
  struct tm tm;
  char date[24];

  if (len == 0)
    return;
  if (ms == 0 || !gmtime_r(&secs, &tm)) {
    snprintf(buf, len, "none");
    return;
  }
  strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, len, "%s.%03uZ", date, (unsigned)(ms % 1000u));
}

/* ---------------------------------------------------------------- snapshot */

static void
addr_text(const coap_address_t *a, char *buf, size_t len)
{
  buf[0] = '\0';
  if (a == NULL || a->addr.sa.sa_family == AF_UNSPEC ||
      coap_print_addr(a, (unsigned char *)buf, len) == 0)
    buf[0] = '\0';
}

/* Printable bytes as they are, anything else as 0x and hex (truncated to
 * CK_SI_BIN bytes: a snapshot is for people, not for keys' storage). */
static void
bin_text(const coap_bin_const_t *b, char *buf, size_t len)
{
  size_t n = b->length > CK_SI_BIN ? CK_SI_BIN : b->length;

  if (len < 2 * CK_SI_BIN + 3)
    return;
  if (ck_is_text(b->s, n)) {
    memcpy(buf, b->s, n);
    buf[n] = '\0';
    return;
  }
  buf[0] = '0';
  buf[1] = 'x';
  ck_hex(b->s, n, buf + 2);
}

static void
fill_psk(ck_session_info_t *info, const coap_session_t *s, int show_key)
{
  const coap_bin_const_t *id = coap_session_get_psk_identity(s);
  const coap_bin_const_t *hint = coap_session_get_psk_hint(s);
  const coap_bin_const_t *key = coap_session_get_psk_key(s);

  if (id && id->s) {
    info->has_identity = 1;
    bin_text(id, info->identity, sizeof(info->identity));
  }
  if (hint && hint->s) {
    info->has_hint = 1;
    bin_text(hint, info->hint, sizeof(info->hint));
  }
  if (key && key->s) {
    info->has_key = 1;
    info->key_length = key->length;
    info->key_masked = !show_key;
    if (show_key)
      bin_text(key, info->key, sizeof(info->key));
  }
}

static const char *
tls_library_name(coap_tls_library_t lib)
{
  switch (lib) {
  case COAP_TLS_LIBRARY_OPENSSL:
    return "OpenSSL";
  case COAP_TLS_LIBRARY_GNUTLS:
    return "GnuTLS";
  case COAP_TLS_LIBRARY_MBEDTLS:
    return "Mbed TLS";
  case COAP_TLS_LIBRARY_TINYDTLS:
    return "TinyDTLS";
  case COAP_TLS_LIBRARY_WOLFSSL:
    return "wolfSSL";
  default:
    return "";
  }
}

static void
fill_tls(ck_session_info_t *info, const coap_session_t *s)
{
  coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
  coap_tls_summary_t t;

  /* Without a TLS object there is nothing to describe (UDP, TCP). */
  if (coap_session_get_tls(s, &lib) == NULL)
    return;
  snprintf(info->tls_library, sizeof(info->tls_library), "%s",
           tls_library_name(lib));
  if (!coap_session_get_tls_summary(s, &t))
    return;
  snprintf(info->tls_version, sizeof(info->tls_version), "%s", t.version);
  snprintf(info->tls_cipher, sizeof(info->tls_cipher), "%s", t.cipher);
  snprintf(info->cert_subject, sizeof(info->cert_subject), "%s",
           t.peer_subject);
  snprintf(info->cert_issuer, sizeof(info->cert_issuer), "%s", t.peer_issuer);
  snprintf(info->cert_not_before, sizeof(info->cert_not_before), "%s",
           t.peer_not_before);
  snprintf(info->cert_not_after, sizeof(info->cert_not_after), "%s",
           t.peer_not_after);
  snprintf(info->cert_sha256, sizeof(info->cert_sha256), "%s", t.peer_sha256);
  snprintf(info->verify_result, sizeof(info->verify_result), "%s",
           t.verify_result);
}

void
ck_session_info_fill(ck_session_info_t *info, const coap_session_t *s,
                     int show_key)
{
  coap_session_stats_t st;
  char name[IF_NAMESIZE];

  memset(info, 0, sizeof(*info));
  snprintf(info->type, sizeof(info->type), "%s",
           ck_session_type_name(coap_session_get_type(s)));
  snprintf(info->state, sizeof(info->state), "%s",
           ck_session_state_name(coap_session_get_state(s)));
  snprintf(info->proto, sizeof(info->proto), "%s",
           s ? coap_proto_name(coap_session_get_proto(s)) : "NONE");
  if (s == NULL)
    return;
  info->id = coap_session_get_id(s);
  addr_text(coap_session_get_addr_local(s), info->local, sizeof(info->local));
  addr_text(coap_session_get_addr_remote(s), info->remote,
            sizeof(info->remote));
  addr_text(coap_session_get_addr_mcast(s), info->mcast, sizeof(info->mcast));
  info->ifindex = coap_session_get_ifindex(s);
  if (info->ifindex > 0 && if_indextoname((unsigned)info->ifindex, name))
    snprintf(info->ifname, sizeof(info->ifname), "%s", name);
  info->mtu = (unsigned)coap_session_get_mtu(s);
  info->max_pdu_size = (unsigned)coap_session_max_pdu_size(s);
  info->mcast_hops = (unsigned)coap_session_get_mcast_hops(s);
  info->refcount = coap_session_get_refcount(s);
  fill_psk(info, s, show_key);
  fill_tls(info, s);
  if (coap_session_get_stats(s, &st)) {
    info->sent = st.sent;
    info->received = st.received;
    info->retransmitted = st.retransmitted;
    info->duplicates = st.duplicates;
    info->created_ms = st.created_ms;
    info->last_activity_ms = st.last_rx_tx_ms;
  }
}

/* ---------------------------------------------------------------- JSON */

static int
add_str(cJSON *obj, const char *name, int present, const char *value)
{
  cJSON *v = present && value[0] != '\0' ? cJSON_CreateString(value)
                                         : cJSON_CreateNull();

  return v != NULL && cJSON_AddItemToObject(obj, name, v);
}

static int
add_num(cJSON *obj, const char *name, double value)
{
  return cJSON_AddNumberToObject(obj, name, value) != NULL;
}

static int
add_time(cJSON *obj, const char *name, const char *name_ms, uint64_t ms)
{
  char t[40];

  ck_format_time_ms(ms, t, sizeof(t));
  return add_str(obj, name, ms != 0, t) && add_num(obj, name_ms, (double)ms);
}

static cJSON *
psk_json(const ck_session_info_t *i)
{
  cJSON *o = cJSON_CreateObject();
  int good = o != NULL;

  good = good && add_str(o, "identity", i->has_identity, i->identity);
  good = good && add_str(o, "hint", i->has_hint, i->hint);
  good = good && add_str(o, "key", i->has_key,
                         i->key_masked ? MASK : i->key);
  good = good && add_num(o, "key_length", (double)i->key_length);
  good = good && cJSON_AddBoolToObject(o, "key_masked", i->key_masked);
  if (good)
    return o;
  cJSON_Delete(o);
  return NULL;
}

static cJSON *
tls_json(const ck_session_info_t *i)
{
  cJSON *o = cJSON_CreateObject(), *c = cJSON_CreateObject();
  int good = o != NULL && c != NULL;

  good = good && add_str(o, "library", 1, i->tls_library);
  good = good && add_str(o, "version", 1, i->tls_version);
  good = good && add_str(o, "cipher", 1, i->tls_cipher);
  good = good && add_str(c, "subject", 1, i->cert_subject);
  good = good && add_str(c, "issuer", 1, i->cert_issuer);
  good = good && add_str(c, "not_before", 1, i->cert_not_before);
  good = good && add_str(c, "not_after", 1, i->cert_not_after);
  good = good && add_str(c, "sha256", 1, i->cert_sha256);
  if (good && cJSON_AddItemToObject(o, "peer_certificate", c)) {
    c = NULL;
    if (add_str(o, "verify_result", 1, i->verify_result))
      return o;
  }
  cJSON_Delete(c);
  cJSON_Delete(o);
  return NULL;
}

static cJSON *
counters_json(const ck_session_info_t *i)
{
  cJSON *o = cJSON_CreateObject();
  int good = o != NULL;

  good = good && add_num(o, "sent", (double)i->sent);
  good = good && add_num(o, "received", (double)i->received);
  good = good && add_num(o, "retransmitted", (double)i->retransmitted);
  good = good && add_num(o, "duplicates", (double)i->duplicates);
  good = good && add_time(o, "created", "created_ms", i->created_ms);
  good = good && add_time(o, "last_activity", "last_activity_ms",
                          i->last_activity_ms);
  if (good)
    return o;
  cJSON_Delete(o);
  return NULL;
}

static int
add_object(cJSON *obj, const char *name, cJSON *child)
{
  if (child == NULL)
    return 0;
  if (cJSON_AddItemToObject(obj, name, child))
    return 1;
  cJSON_Delete(child);
  return 0;
}

cJSON *
ck_session_info_to_json(const ck_session_info_t *i)
{
  cJSON *o = cJSON_CreateObject();
  int good = o != NULL;

  good = good && add_num(o, "id", (double)i->id);
  good = good && add_str(o, "type", 1, i->type);
  good = good && add_str(o, "state", 1, i->state);
  good = good && add_str(o, "protocol", 1, i->proto);
  good = good && add_str(o, "local", 1, i->local);
  good = good && add_str(o, "remote", 1, i->remote);
  good = good && add_str(o, "multicast", 1, i->mcast);
  good = good && add_num(o, "ifindex", i->ifindex);
  good = good && add_str(o, "ifname", 1, i->ifname);
  good = good && add_num(o, "mtu", i->mtu);
  good = good && add_num(o, "max_pdu_size", i->max_pdu_size);
  good = good && add_num(o, "mcast_hops", i->mcast_hops);
  good = good && add_num(o, "refcount", i->refcount);
  good = good && add_object(o, "psk", psk_json(i));
  good = good && add_object(o, "tls", tls_json(i));
  good = good && add_object(o, "counters", counters_json(i));
  if (good)
    return o;
  cJSON_Delete(o);
  return NULL;
}

static void
get_str(const cJSON *obj, const char *name, char *buf, size_t len, int *present)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

  if (present)
    *present = cJSON_IsString(v);
  if (cJSON_IsString(v) && v->valuestring != NULL)
    snprintf(buf, len, "%s", v->valuestring);
}

static double
get_num(const cJSON *obj, const char *name)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

  return cJSON_IsNumber(v) && v->valuedouble >= 0 ? v->valuedouble : 0;
}

#define GET_STR(obj, name, field) get_str(obj, name, field, sizeof(field), NULL)

int
ck_session_info_from_json(ck_session_info_t *i, const cJSON *o)
{
  const cJSON *psk, *tls, *cert, *cnt;

  memset(i, 0, sizeof(*i));
  if (!cJSON_IsObject(o))
    return -1;
  i->id = (uint64_t)get_num(o, "id");
  GET_STR(o, "type", i->type);
  GET_STR(o, "state", i->state);
  GET_STR(o, "protocol", i->proto);
  GET_STR(o, "local", i->local);
  GET_STR(o, "remote", i->remote);
  GET_STR(o, "multicast", i->mcast);
  i->ifindex = (int)get_num(o, "ifindex");
  GET_STR(o, "ifname", i->ifname);
  i->mtu = (unsigned)get_num(o, "mtu");
  i->max_pdu_size = (unsigned)get_num(o, "max_pdu_size");
  i->mcast_hops = (unsigned)get_num(o, "mcast_hops");
  i->refcount = (unsigned)get_num(o, "refcount");
  psk = cJSON_GetObjectItemCaseSensitive(o, "psk");
  get_str(psk, "identity", i->identity, sizeof(i->identity), &i->has_identity);
  get_str(psk, "hint", i->hint, sizeof(i->hint), &i->has_hint);
  get_str(psk, "key", i->key, sizeof(i->key), &i->has_key);
  i->key_length = (size_t)get_num(psk, "key_length");
  i->key_masked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(psk, "key_masked"));
  if (i->key_masked)
    i->key[0] = '\0';
  tls = cJSON_GetObjectItemCaseSensitive(o, "tls");
  GET_STR(tls, "library", i->tls_library);
  GET_STR(tls, "version", i->tls_version);
  GET_STR(tls, "cipher", i->tls_cipher);
  GET_STR(tls, "verify_result", i->verify_result);
  cert = cJSON_GetObjectItemCaseSensitive(tls, "peer_certificate");
  GET_STR(cert, "subject", i->cert_subject);
  GET_STR(cert, "issuer", i->cert_issuer);
  GET_STR(cert, "not_before", i->cert_not_before);
  GET_STR(cert, "not_after", i->cert_not_after);
  GET_STR(cert, "sha256", i->cert_sha256);
  cnt = cJSON_GetObjectItemCaseSensitive(o, "counters");
  i->sent = (uint64_t)get_num(cnt, "sent");
  i->received = (uint64_t)get_num(cnt, "received");
  i->retransmitted = (uint64_t)get_num(cnt, "retransmitted");
  i->duplicates = (uint64_t)get_num(cnt, "duplicates");
  i->created_ms = (uint64_t)get_num(cnt, "created_ms");
  i->last_activity_ms = (uint64_t)get_num(cnt, "last_activity_ms");
  return 0;
}

/* ---------------------------------------------------------------- text */

static const char *
or_none(const char *s)
{
  return s[0] != '\0' ? s : "none";
}

static void
key_text(const ck_session_info_t *i, char *buf, size_t len)
{
  if (!i->has_key)
    snprintf(buf, len, "none");
  else if (i->key_masked)
    snprintf(buf, len, "%s (%zu bytes; --show-key shows it)", MASK,
             i->key_length);
  else
    snprintf(buf, len, "%s (%zu bytes)", i->key, i->key_length);
}

void
ck_session_render_text(FILE *out, const ck_session_info_t *i)
{
  char key[2 * CK_SI_BIN + 64], created[40], last[40], ifx[48];

  key_text(i, key, sizeof(key));
  ck_format_time_ms(i->created_ms, created, sizeof(created));
  ck_format_time_ms(i->last_activity_ms, last, sizeof(last));
  if (i->ifindex > 0)
    snprintf(ifx, sizeof(ifx), "%d (%s)", i->ifindex, or_none(i->ifname));
  else
    snprintf(ifx, sizeof(ifx), "none");
  fprintf(out,
          "session          %llu\n"
          "type             %s\n"
          "state            %s\n"
          "protocol         %s\n"
          "local            %s\n"
          "remote           %s\n"
          "multicast        %s\n"
          "ifindex          %s\n"
          "mtu              %u\n"
          "max pdu size     %u\n"
          "multicast hops   %u\n"
          "refcount         %u\n",
          (unsigned long long)i->id, i->type, i->state, i->proto,
          or_none(i->local), or_none(i->remote), or_none(i->mcast), ifx,
          i->mtu, i->max_pdu_size, i->mcast_hops, i->refcount);
  fprintf(out,
          "psk identity     %s\n"
          "psk hint         %s\n"
          "psk key          %s\n"
          "tls library      %s\n"
          "tls version      %s\n"
          "tls cipher       %s\n"
          "peer subject     %s\n"
          "peer issuer      %s\n"
          "peer not before  %s\n"
          "peer not after   %s\n"
          "peer sha256      %s\n"
          "verification     %s\n",
          i->has_identity ? i->identity : "none",
          i->has_hint ? i->hint : "none", key, or_none(i->tls_library),
          or_none(i->tls_version), or_none(i->tls_cipher),
          or_none(i->cert_subject), or_none(i->cert_issuer),
          or_none(i->cert_not_before), or_none(i->cert_not_after),
          or_none(i->cert_sha256), or_none(i->verify_result));
  fprintf(out,
          "sent             %llu\n"
          "received         %llu\n"
          "retransmitted    %llu\n"
          "duplicates       %llu\n"
          "created          %s\n"
          "last activity    %s\n",
          (unsigned long long)i->sent, (unsigned long long)i->received,
          (unsigned long long)i->retransmitted,
          (unsigned long long)i->duplicates, created, last);
}

void
ck_session_print(FILE *out, const coap_session_t *session)
{
  ck_session_info_t info;

  ck_session_info_fill(&info, session, 0);
  ck_session_render_text(out, &info);
  fflush(out);
}

void
ck_session_render_header(FILE *out)
{
  fprintf(out, "%-5s %-6s %-11s %-5s %-24s %-24s %4s %6s %6s %5s %5s %7s\n",
          "ID", "TYPE", "STATE", "PROTO", "LOCAL", "REMOTE", "REF", "SENT",
          "RECV", "RETX", "DUP", "IDLE");
}

void
ck_session_render_row(FILE *out, const ck_session_info_t *i, uint64_t now_ms)
{
  uint64_t idle = now_ms > i->last_activity_ms && i->last_activity_ms != 0
                      ? now_ms - i->last_activity_ms
                      : 0;

  fprintf(out,
          "%-5llu %-6s %-11s %-5s %-24s %-24s %4u %6llu %6llu %5llu %5llu "
          "%6.1fs\n",
          (unsigned long long)i->id, i->type, i->state, i->proto,
          or_none(i->local), or_none(i->remote), i->refcount,
          (unsigned long long)i->sent, (unsigned long long)i->received,
          (unsigned long long)i->retransmitted,
          (unsigned long long)i->duplicates, (double)idle / 1000.0);
}

void
ck_session_render_line(char *buf, size_t len, const ck_session_info_t *i)
{
  snprintf(buf, len,
           "#%llu %s %s %s <-> %s%s%s %s ref %u psk-identity %s hint %s "
           "tls %s",
           (unsigned long long)i->id, i->type, i->proto, or_none(i->local),
           or_none(i->remote), i->mcast[0] ? " group " : "", i->mcast,
           i->state, i->refcount, i->has_identity ? i->identity : "none",
           i->has_hint ? i->hint : "none", or_none(i->tls_library));
}
