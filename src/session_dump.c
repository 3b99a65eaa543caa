/*
 * session_dump.c -- coap-session-dump: a client session opened, proven alive
 * and printed; or a server's session list read from its admin socket.
 */
#include "session_dump.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "exitcode.h"
#include "output.h"
#include "session_admin.h"
#include "session_render.h"

void
ck_dump_config_init(ck_dump_config_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->wait_ms = CK_DUMP_DEFAULT_WAIT_MS;
  cfg->log_level = COAP_LOG_WARN;
}

/* ---------------------------------------------------------------- probe */

typedef struct probe_t {
  coap_mid_t ping_mid;
  int pong;              /* the ping was answered (RST) */
  uint64_t ping_rtt_ms;
  uint64_t ping_sent_ms;
  int want_response;
  uint8_t token[COAP_TOKEN_MAX_LEN];
  size_t token_length;
  int response;          /* the GET was answered */
  uint8_t code;
  int failed;            /* a nack: nothing more to wait for */
  coap_nack_reason_t reason;
} probe_t;

static probe_t *
probe_of(coap_session_t *session)
{
  return coap_session_get_app_data(session);
}

static void
on_pong(coap_session_t *session, const coap_pdu_t *received,
        const coap_mid_t mid)
{
  probe_t *p = probe_of(session);

  (void)received;
  /* A stream's Pong (7.03) carries no message ID: it answers our Ping. */
  if (p == NULL || p->pong ||
      (mid != p->ping_mid &&
       !coap_proto_reliable(coap_session_get_proto(session))))
    return;
  p->pong = 1;
  p->ping_rtt_ms = coap_ticks_ms() - p->ping_sent_ms;
}

static coap_response_t
on_response(coap_session_t *session, const coap_pdu_t *sent,
            const coap_pdu_t *received, const coap_mid_t mid)
{
  probe_t *p = probe_of(session);
  coap_bin_const_t tok = coap_pdu_get_token(received);

  (void)sent;
  (void)mid;
  if (p == NULL || !p->want_response || p->response ||
      tok.length != p->token_length ||
      (tok.length && memcmp(tok.s, p->token, tok.length) != 0))
    return COAP_RESPONSE_OK;
  p->response = 1;
  p->code = (uint8_t)coap_pdu_get_code(received);
  return COAP_RESPONSE_OK;
}

static void
on_nack(coap_session_t *session, const coap_pdu_t *sent,
        const coap_nack_reason_t reason, const coap_mid_t mid)
{
  probe_t *p = probe_of(session);

  (void)sent;
  (void)mid;
  if (p == NULL || p->failed)
    return;
  /* A RST to the ping is its answer (the pong handler saw it); any other
   * failure ends the probe. */
  if (reason == COAP_NACK_RST && mid == p->ping_mid)
    return;
  p->failed = 1;
  p->reason = reason;
}

static int
probe_done(const probe_t *p)
{
  return p->failed || (p->pong && (!p->want_response || p->response));
}

static int
send_get(ck_target_t *t, probe_t *p)
{
  coap_optlist_t *opts = NULL;
  uint8_t scratch[1024];
  coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
                                 t->session);
  int good = pdu != NULL;

  p->token_length = sizeof(p->token);
  coap_session_new_token(t->session, &p->token_length, p->token);
  good = good && coap_add_token(pdu, p->token_length, p->token);
  good = good && coap_uri_into_options(&t->uri, &t->remote, &opts, 1, scratch,
                                       sizeof(scratch)) == 0;
  good = good && (opts == NULL || coap_add_optlist_pdu(pdu, &opts));
  coap_delete_optlist(opts);
  if (!good) {
    coap_delete_pdu(pdu);
    return -1;
  }
  p->want_response = 1;
  return coap_send(t->session, pdu) == COAP_INVALID_MID ? -1 : 0;
}

static int
run_probe(ck_target_t *t, probe_t *p, uint32_t wait_ms)
{
  uint64_t deadline = coap_ticks_ms() + wait_ms;

  while (!probe_done(p)) {
    uint64_t now = coap_ticks_ms();
    if (now >= deadline)
      return -1;
    if (coap_io_process(t->context, (uint32_t)(deadline - now < 200
                                                    ? deadline - now
                                                    : 200)) < 0)
      return -1;
  }
  /* Lets the library finish what the answers still need (an ACK). */
  coap_io_process(t->context, COAP_IO_NO_WAIT);
  return p->failed ? -1 : 0;
}

static void
explain(const ck_dump_config_t *cfg, const probe_t *p,
        const coap_session_t *s)
{
  if (ck_keys_report_failure(s))
    return;
  if (p->failed && p->reason == COAP_NACK_ICMP_ISSUE)
    ck_diag("%s: unreachable (ICMP): nothing listens there", cfg->uri);
  else if (p->failed)
    ck_diag("%s: %s", cfg->uri,
            coap_nack_reason_str(p->reason) ? coap_nack_reason_str(p->reason)
                                            : "failed");
  else if (!p->pong)
    ck_diag("%s: no answer to a CoAP ping within %.3g s", cfg->uri,
            cfg->wait_ms / 1000.0);
  else
    ck_diag("%s: no response to the GET within %.3g s", cfg->uri,
            cfg->wait_ms / 1000.0);
}

/* ---------------------------------------------------------------- print */

static int
print_json(const ck_dump_config_t *cfg, const ck_session_info_t *info,
           const probe_t *p, int established)
{
  cJSON *o = ck_session_info_to_json(info);
  char code[8], *text = NULL;
  int good = o != NULL;

  good = good && cJSON_AddBoolToObject(o, "established", established) != NULL;
  good = good && cJSON_AddBoolToObject(o, "ping_answered", p->pong) != NULL;
  if (good && p->pong)
    good = cJSON_AddNumberToObject(o, "ping_rtt_ms", (double)p->ping_rtt_ms) != NULL;
  if (good && cfg->request) {
    snprintf(code, sizeof(code), "%u.%02u", p->code >> 5, p->code & 0x1fu);
    good = p->response ? cJSON_AddStringToObject(o, "response_code", code) != NULL
                       : cJSON_AddNullToObject(o, "response_code") != NULL;
  }
  text = good ? cJSON_PrintUnformatted(o) : NULL;
  if (text)
    printf("%s\n", text);
  free(text);
  cJSON_Delete(o);
  return text ? 0 : -1;
}

static void
print_text(const ck_dump_config_t *cfg, const ck_session_info_t *info,
           const probe_t *p, int established)
{
  printf("established      %s\n", established ? "yes" : "no");
  if (p->pong)
    printf("ping rtt         %llu ms\n", (unsigned long long)p->ping_rtt_ms);
  else
    printf("ping rtt         none\n");
  if (cfg->request && p->response)
    printf("response         %u.%02u\n", p->code >> 5, p->code & 0x1fu);
  else if (cfg->request)
    printf("response         none\n");
  ck_session_render_text(stdout, info);
}

/* ---------------------------------------------------------------- session */

/* A secure URI gets its keys from ck_target_open (src/keys.h).  On a
 * plain one a PSK is only stored and shown: the session is replaced by a
 * PSK session with the same addresses. */
static int
use_psk(const ck_dump_config_t *cfg, ck_target_t *t)
{
  const ck_keys_t *k = cfg->keys;
  coap_proto_t proto = coap_session_get_proto(t->session);

  if (k == NULL || !k->have_key || proto == COAP_PROTO_DTLS ||
      proto == COAP_PROTO_TLS || proto == COAP_PROTO_WSS)
    return 0;
  coap_session_release(t->session);
  t->session = coap_new_client_session_psk(
      t->context, t->have_local ? &t->local : NULL, &t->remote, proto,
      k->identity ? k->identity : "coapkit", k->key, (unsigned)k->key_len);
  if (t->session == NULL) {
    ck_diag("cannot set up a PSK session (an identity and a key are needed)");
    return -1;
  }
  return 0;
}

static int
open_target(const ck_dump_config_t *cfg, ck_target_t *t)
{
  int rc = ck_target_parse(t, cfg->uri);

  t->keys = cfg->keys;
  if (rc == 0)
    rc = ck_target_open(t, cfg->local_address, cfg->have_local_port,
                        cfg->local_port);
  if (rc == CK_EXIT_USAGE)
    return CK_EXIT_USAGE;
  if (rc == 0 && use_psk(cfg, t) < 0)
    rc = CK_EXIT_FAILURE;
  return rc == 0 ? 0 : CK_EXIT_FAILURE;
}

int
ck_dump_session(const ck_dump_config_t *cfg)
{
  ck_target_t t;
  probe_t p;
  ck_session_info_t info;
  int rc, established = 0;

  memset(&p, 0, sizeof(p));
  rc = open_target(cfg, &t);
  if (rc != 0)
    goto done;
  coap_session_set_app_data(t.session, &p);
  coap_register_pong_handler(t.context, on_pong);
  coap_register_response_handler(t.context, on_response);
  coap_register_nack_handler(t.context, on_nack);
  p.ping_sent_ms = coap_ticks_ms();
  p.ping_mid = coap_session_send_ping(t.session);
  if (p.ping_mid == COAP_INVALID_MID ||
      (cfg->request && send_get(&t, &p) < 0)) {
    ck_diag("%s: cannot send", cfg->uri);
    rc = CK_EXIT_FAILURE;
    goto done;
  }
  established = run_probe(&t, &p, cfg->wait_ms) == 0 &&
                coap_session_get_state(t.session) ==
                    COAP_SESSION_STATE_ESTABLISHED;
  if (!established)
    explain(cfg, &p, t.session);
  ck_session_info_fill(&info, t.session, cfg->show_key);
  if (cfg->json)
    rc = print_json(cfg, &info, &p, established);
  else
    print_text(cfg, &info, &p, established);
  rc = established && rc == 0 ? CK_EXIT_OK : CK_EXIT_FAILURE;
done:
  ck_target_close(&t);
  return rc;
}

/* ---------------------------------------------------------------- server */

static volatile sig_atomic_t stop_watch;

static void
on_signal(int sig)
{
  (void)sig;
  stop_watch = 1;
}

static int
admin_connect(const char *path)
{
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  int fd;

  if (strlen(path) >= sizeof(sun.sun_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(sun.sun_path, path, strlen(path) + 1);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

/* Reads until the server closes (or wait_ms passes): a malloc'd string. */
static char *
read_all(int fd, uint32_t wait_ms)
{
  uint64_t deadline = coap_ticks_ms() + wait_ms;
  size_t len = 0, cap = 0;
  char *buf = NULL;

  for (;;) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    uint64_t now = coap_ticks_ms();
    ssize_t n;
    if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
      break;
    if (len + 4096 + 1 > cap) {
      char *b = realloc(buf, cap = cap * 2 + 4096 + 1);
      if (b == NULL)
        break;
      buf = b;
    }
    n = read(fd, buf + len, cap - len - 1);
    if (n <= 0)
      return buf ? (buf[len] = '\0', buf) : strdup("");
    len += (size_t)n;
  }
  free(buf);
  return NULL;
}

typedef struct listing_t {
  ck_session_info_t *items;
  size_t count;
  cJSON *array; /* the objects as received, for --json */
  int ended;
} listing_t;

static int
parse_line(listing_t *l, const char *line)
{
  cJSON *o = cJSON_Parse(line), *err;
  ck_session_info_t *items;

  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return -1;
  }
  err = cJSON_GetObjectItemCaseSensitive(o, "error");
  if (cJSON_IsString(err)) {
    ck_diag("the server refused: %s", err->valuestring);
    cJSON_Delete(o);
    return -1;
  }
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "end"))) {
    l->ended = 1;
    cJSON_Delete(o);
    return 0;
  }
  items = realloc(l->items, (l->count + 1) * sizeof(*items));
  if (items == NULL) {
    cJSON_Delete(o);
    return -1;
  }
  l->items = items;
  ck_session_info_from_json(&l->items[l->count++], o);
  cJSON_AddItemToArray(l->array, o);
  return 0;
}

static int
fetch(const ck_dump_config_t *cfg, listing_t *l)
{
  int fd = admin_connect(cfg->server_path);
  char *text, *line, *save = NULL;
  int rc = 0;

  if (fd < 0) {
    ck_diag("cannot connect to %s: %s", cfg->server_path, strerror(errno));
    return -1;
  }
  if (write(fd, "LIST\n", 5) != 5) {
    ck_diag("cannot write to %s: %s", cfg->server_path, strerror(errno));
    close(fd);
    return -1;
  }
  text = read_all(fd, cfg->wait_ms);
  close(fd);
  if (text == NULL) {
    ck_diag("%s: no complete answer within %.3g s", cfg->server_path,
            cfg->wait_ms / 1000.0);
    return -1;
  }
  for (line = strtok_r(text, "\n", &save); line && rc == 0;
       line = strtok_r(NULL, "\n", &save))
    rc = parse_line(l, line);
  free(text);
  if (rc == 0 && !l->ended) {
    ck_diag("%s: the answer was cut short", cfg->server_path);
    rc = -1;
  }
  return rc;
}

static int
list_once(const ck_dump_config_t *cfg)
{
  listing_t l = {.array = cJSON_CreateArray()};
  uint64_t now = ck_wallclock_ms();
  int rc = l.array && fetch(cfg, &l) == 0 ? 0 : -1;
  char *text;

  if (rc == 0 && cfg->json) {
    text = cJSON_PrintUnformatted(l.array);
    if (text)
      printf("%s\n", text);
    rc = text ? 0 : -1;
    free(text);
  } else if (rc == 0) {
    ck_session_render_header(stdout);
    for (size_t i = 0; i < l.count; i++)
      ck_session_render_row(stdout, &l.items[i], now);
  }
  fflush(stdout);
  free(l.items);
  cJSON_Delete(l.array);
  return rc;
}

int
ck_dump_server(const ck_dump_config_t *cfg)
{
  struct sigaction sa;
  int rc;

  if (cfg->watch_ms == 0)
    return list_once(cfg) == 0 ? CK_EXIT_OK : CK_EXIT_FAILURE;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  while (!stop_watch) {
    char t[40];
    struct timespec ts = {.tv_sec = cfg->watch_ms / 1000,
                          .tv_nsec = (long)(cfg->watch_ms % 1000) * 1000000L};
    if (!cfg->json) {
      ck_format_time_ms(ck_wallclock_ms(), t, sizeof(t));
      printf("-- %s %s\n", cfg->server_path, t);
    }
    rc = list_once(cfg);
    if (rc != 0)
      return CK_EXIT_FAILURE;
    nanosleep(&ts, NULL); /* a signal cuts it short */
  }
  return CK_EXIT_OK;
}
