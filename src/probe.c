/*
 * probe.c -- coap-keepalive-probe's engine (see probe.h).
 *
 * One context holds every open target, each with its own client session
 * (its own socket: answers never need demultiplexing by hand).  A target
 * has at most one ping outstanding, as NSTART 1 (RFC 7252 4.7) asks; its
 * next event -- the next send or the current ping's timeout -- sits in a
 * binary heap keyed by microseconds, so thousands of targets cost one
 * heap operation per event.  Targets are read from the command line and
 * the file as slots free up, and forgotten once reported: memory grows
 * with --parallel, not with the fleet (Prometheus output excepted, which
 * must group every target's sample by metric family).
 *
 * The probe times its pings itself: the library's retransmission timeout
 * is set past -W, and a ping still unanswered at -W is cancelled with
 * coap_session_disconnected(), so each ping is exactly one datagram and
 * its round-trip time is unambiguous.  On TCP, TLS and WebSockets nothing
 * is retransmitted and disconnecting would drop the connection, so a late
 * ping is only forgotten: its Pong, if it ever comes, comes first (a stream
 * keeps order) and is skipped.  --watch instead leaves the pinging to the
 * library's keepalive (coap_context_set_keepalive) and reports its pongs
 * and nacks; a target other than UDP that goes down gets a new session
 * (connection, handshake) every -K seconds until it answers again.
 *
 * DTLS, TCP, TLS and WebSocket targets first connect (and shake hands);
 * the first ping leaves when the session is established, and the
 * handshake time (to the end of the DTLS or TLS handshake) is reported
 * apart from the pings'.  -W also bounds the connection set-up.
 */
#include "probe.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "exitcode.h"
#include "output.h"

/* File descriptors kept for stdio, the epoll and event descriptors. */
#define FD_RESERVE 32u

/* ---------------------------------------------------------------- types */

typedef struct target_t {
  char *uri;                 /* owned */
  char addr[80];             /* the resolved address, for the header */
  coap_session_t *session;
  size_t heap_index;         /* SIZE_MAX when not in the heap */
  uint64_t due_us;           /* next send, or the outstanding ping's end */
  uint64_t sent_us;          /* when the outstanding ping left */
  coap_mid_t mid;            /* the outstanding ping, or COAP_INVALID_MID */
  unsigned long seq;         /* pings sent so far (the last one's number) */
  unsigned long received;
  unsigned long errors;      /* ICMP and other immediate failures */
  double rtt_min, rtt_max, rtt_sum, rtt_sum2; /* milliseconds */
  const char *setup_error;   /* why no ping could be sent, or NULL */
  coap_uri_t parsed;         /* points into uri */
  coap_proto_t proto;
  uint64_t open_us;          /* when the session was opened */
  double handshake_ms;       /* -1: none (yet) */
  int connecting;            /* waiting for the session to be established */
  int failed;                /* connection or handshake failed: fail_why */
  char fail_why[200];
  unsigned long stale;       /* streams: forgotten pings whose Pong is due */
  uint64_t reopen_us;        /* --watch: reconnect then (0: not planned) */
  int cancelling;            /* our own disconnect: ignore its nack */
  int up;                    /* --watch: -1 unknown, 0 down, 1 up */
  unsigned long transitions; /* --watch */
} target_t;

typedef struct source_t {
  const ck_probe_config_t *cfg;
  size_t argi;
  FILE *file;
  int own_file;
  unsigned long line_no;
  unsigned long seen;        /* targets seen, before sharding */
  char *line;
  size_t cap;
  int done;
} source_t;

typedef enum prom_family_t {
  PROM_SUCCESS = 0,
  PROM_RTT,
  PROM_HANDSHAKE,
  PROM_LOSS,
  PROM_FAMILIES
} prom_family_t;

typedef struct probe_t {
  const ck_probe_config_t *cfg;
  coap_context_t *ctx;
  target_t **heap;
  size_t heap_len, heap_cap;
  target_t **all;            /* --watch: every target */
  size_t all_len;
  size_t active;
  unsigned long parallel;
  uint64_t deadline_us;      /* 0: none */
  FILE *prom[PROM_FAMILIES];
  char *prom_buf[PROM_FAMILIES];
  size_t prom_len[PROM_FAMILIES];
  unsigned long probed, unanswered, setup_errors, usage_errors, skipped;
  unsigned long unix_seq;
} probe_t;

static volatile sig_atomic_t stop_requested;
static coap_context_t *signal_ctx;

/* ---------------------------------------------------------------- time */

static uint64_t
now_us(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double
wall_seconds(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

static void
iso_time(char *buf, size_t len)
{
  time_t t = time(NULL);
  struct tm tm;

  gmtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---------------------------------------------------------------- config */

void
ck_probe_config_init(ck_probe_config_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->count = CK_PROBE_DEFAULT_COUNT;
  cfg->interval_ms = CK_PROBE_DEFAULT_INTERVAL_MS;
  cfg->timeout_ms = CK_PROBE_DEFAULT_TIMEOUT_MS;
  cfg->parallel = CK_PROBE_DEFAULT_PARALLEL;
  cfg->keepalive_s = CK_PROBE_DEFAULT_KEEPALIVE_S;
  cfg->log_level = COAP_LOG_WARN;
}

size_t
ck_prom_escape(const char *value, char *out, size_t cap)
{
  size_t n = 0;

  for (const char *p = value; *p; p++) {
    const char *rep = NULL;
    char one[2] = {*p, '\0'};
    if (*p == '\\')
      rep = "\\\\";
    else if (*p == '"')
      rep = "\\\"";
    else if (*p == '\n')
      rep = "\\n";
    else
      rep = one;
    for (; *rep; rep++, n++)
      if (n + 1 < cap)
        out[n] = *rep;
  }
  if (cap > 0)
    out[n < cap ? n : cap - 1] = '\0';
  return n;
}

/* ---------------------------------------------------------------- heap */

static int
heap_less(const target_t *a, const target_t *b)
{
  return a->due_us < b->due_us;
}

static void
heap_set(probe_t *p, size_t i, target_t *t)
{
  p->heap[i] = t;
  t->heap_index = i;
}

static void
heap_up(probe_t *p, size_t i)
{
  target_t *t = p->heap[i];

  while (i > 0 && heap_less(t, p->heap[(i - 1) / 2])) {
    heap_set(p, i, p->heap[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  heap_set(p, i, t);
}

static void
heap_down(probe_t *p, size_t i)
{
  target_t *t = p->heap[i];

  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= p->heap_len)
      break;
    if (c + 1 < p->heap_len && heap_less(p->heap[c + 1], p->heap[c]))
      c++;
    if (!heap_less(p->heap[c], t))
      break;
    heap_set(p, i, p->heap[c]);
    i = c;
  }
  heap_set(p, i, t);
}

static void
heap_remove(probe_t *p, target_t *t)
{
  size_t i = t->heap_index;
  target_t *last;

  if (i == SIZE_MAX || i >= p->heap_len)
    return;
  t->heap_index = SIZE_MAX;
  last = p->heap[--p->heap_len];
  if (last == t)
    return;
  heap_set(p, i, last);
  heap_up(p, i);
  heap_down(p, last->heap_index);
}

/* The heap has room for every open target (sized by --parallel). */
static void
heap_push(probe_t *p, target_t *t, uint64_t due)
{
  heap_remove(p, t);
  t->due_us = due;
  heap_set(p, p->heap_len++, t);
  heap_up(p, p->heap_len - 1);
}

/* ---------------------------------------------------------------- targets */

static void
source_open(source_t *src, const ck_probe_config_t *cfg)
{
  memset(src, 0, sizeof(*src));
  src->cfg = cfg;
}

static int
source_open_file(source_t *src)
{
  const char *path = src->cfg->target_file;

  if (path == NULL)
    return 0;
  if (strcmp(path, "-") == 0) {
    src->file = stdin;
    return 0;
  }
  src->file = fopen(path, "r");
  if (src->file == NULL)
    return ck_usage_error("cannot read the target file '%s': %s", path,
                          strerror(errno));
  src->own_file = 1;
  return 0;
}

static void
source_close(source_t *src)
{
  if (src->own_file && src->file)
    fclose(src->file);
  src->file = NULL;
  free(src->line);
  src->line = NULL;
}

/* The next line of the file with a target on it, trimmed; NULL at the end.
 * *bad is set for a line that cannot be a URI. */
static char *
source_file_line(source_t *src, int *bad)
{
  ssize_t n;

  while ((n = getline(&src->line, &src->cap, src->file)) >= 0) {
    char *s = src->line, *e = src->line + n;
    src->line_no++;
    while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' ||
                     e[-1] == '\t'))
      *--e = '\0';
    while (*s == ' ' || *s == '\t')
      s++;
    if (*s == '\0' || *s == '#')
      continue;
    *bad = (size_t)(e - s) > CK_PROBE_MAX_URI ||
           memchr(s, '\0', (size_t)(e - s)) != NULL;
    return s;
  }
  if (ferror(src->file))
    ck_diag("error reading the target file: %s", strerror(errno));
  return NULL;
}

/* The next target of this shard as a malloc'd string; NULL at the end.
 * Lines that cannot be targets are counted in p->usage_errors. */
static char *
source_next(source_t *src, probe_t *p)
{
  const ck_probe_config_t *cfg = src->cfg;

  while (!src->done) {
    const char *text = NULL;
    int bad = 0;
    unsigned long k;
    if (src->argi < cfg->uri_count) {
      text = cfg->uris[src->argi++];
    } else if (src->file) {
      text = source_file_line(src, &bad);
    }
    if (text == NULL) {
      src->done = 1;
      break;
    }
    k = src->seen++;
    if (cfg->shard_count > 1 && k % cfg->shard_count != cfg->shard_index)
      continue;
    if (bad) {
      ck_usage_error("%s:%lu: not a URI (too long or binary)",
                     cfg->target_file, src->line_no);
      p->usage_errors++;
      continue;
    }
    char *copy = strdup(text);
    if (copy == NULL)
      ck_diag("out of memory");
    return copy;
  }
  return NULL;
}

/* Checks a target URI; 0 or CK_EXIT_USAGE after saying why. */
static int
check_uri(const char *uri, coap_uri_t *out)
{
  const char *sep = strstr(uri, "://");

  if (sep == NULL)
    return ck_usage_error("bad URI '%s': expected coap://host[:port]", uri);
  if (coap_split_uri((const uint8_t *)uri, strlen(uri), out) < 0 ||
      out->host.length == 0)
    return ck_usage_error("bad URI '%s'", uri);
  if (coap_uri_scheme_proto(out->scheme) == COAP_PROTO_NONE)
    return ck_usage_error("%.*s:// is not supported (coap, coaps, coap+tcp, "
                          "coaps+tcp, coap+ws and coaps+ws are)",
                          (int)(sep - uri), uri);
  return 0;
}

static int
proto_secure(coap_proto_t proto)
{
  return proto == COAP_PROTO_DTLS || proto == COAP_PROTO_TLS ||
         proto == COAP_PROTO_WSS;
}

static target_t *
target_new(char *uri)
{
  target_t *t = calloc(1, sizeof(*t));

  if (t == NULL) {
    free(uri);
    return NULL;
  }
  t->uri = uri;
  t->heap_index = SIZE_MAX;
  t->mid = COAP_INVALID_MID;
  t->up = -1;
  t->handshake_ms = -1.0;
  return t;
}

/* A unique local socket path: a Unix-domain peer answers to a name. */
static void
unix_local(probe_t *p, coap_address_t *local)
{
  coap_address_init(local);
  local->addr.cun.sun_family = AF_UNIX;
  snprintf(local->addr.cun.sun_path, sizeof(local->addr.cun.sun_path),
           "/tmp/coap-keepalive-probe.%ld.%lu", (long)getpid(),
           ++p->unix_seq);
  local->size = sizeof(struct sockaddr_un);
}

/* Resolves and opens the target's session; on failure sets setup_error.
 * Returns 0 when a session is open. */
static coap_session_t *
session_new(probe_t *p, target_t *t, const coap_address_t *local,
            const coap_address_t *remote)
{
  static ck_keys_t none;
  ck_keys_t *keys = p->cfg->keys;
  char host[256];

  if (!proto_secure(t->proto))
    return coap_new_client_session(p->ctx, local, remote, t->proto);
  if (keys == NULL) {
    ck_keys_init(&none, CK_KEYS_CLIENT);
    keys = &none;
  }
  /* The URI's host: SNI and the name the certificate must carry. */
  snprintf(host, sizeof(host), "%.*s", (int)t->parsed.host.length,
           (const char *)t->parsed.host.s);
  return ck_keys_client_session(keys, p->ctx, local, remote, t->proto, host);
}

static int
target_open(probe_t *p, target_t *t)
{
  const coap_uri_t *uri = &t->parsed;
  coap_address_t remote, local;

  t->proto = coap_uri_scheme_proto(uri->scheme);
  if (!coap_uri_to_address(uri, &remote)) {
    t->setup_error = "cannot resolve the host";
    return -1;
  }
  if (!coap_is_af_unix(&remote))
    coap_address_set_port(&remote, uri->port
                                       ? uri->port
                                       : coap_uri_scheme_default_port(
                                             uri->scheme));
  else
    unix_local(p, &local);
  coap_print_addr(&remote, (unsigned char *)t->addr, sizeof(t->addr));
  t->open_us = now_us();
  t->connecting = t->proto != COAP_PROTO_UDP;
  t->failed = 0;
  t->stale = 0;
  t->session = session_new(p, t, coap_is_af_unix(&remote) ? &local : NULL,
                           &remote);
  if (t->session == NULL) {
    t->setup_error = errno == EMFILE || errno == ENFILE
                         ? "out of file descriptors"
                         : "cannot open a session";
    p->setup_errors++;
    return -1;
  }
  ck_ws_host(t->session, uri);
  coap_session_set_app_data(t->session, t);
  return 0;
}

/* ---------------------------------------------------------------- output */

static cJSON *
json_event(const char *event, const target_t *t)
{
  cJSON *o = cJSON_CreateObject();

  if (o == NULL)
    return NULL;
  cJSON_AddStringToObject(o, "event", event);
  cJSON_AddNumberToObject(o, "time", wall_seconds());
  cJSON_AddStringToObject(o, "target", t->uri);
  return o;
}

static void
json_print(cJSON *o)
{
  char *text = o ? cJSON_PrintUnformatted(o) : NULL;

  if (text != NULL)
    printf("%s\n", text);
  else
    ck_diag("out of memory");
  free(text);
  cJSON_Delete(o);
}

static int
printing(const probe_t *p, ck_probe_format_t format)
{
  return !p->cfg->quiet && p->cfg->format == format;
}

static void
flush_if_watching(const probe_t *p)
{
  if (p->cfg->watch)
    fflush(stdout);
}

static void
report_start(const probe_t *p, const target_t *t)
{
  cJSON *o;

  if (printing(p, CK_PROBE_TEXT)) {
    printf("PING %s (%s) over %s\n", t->uri, t->addr,
           coap_proto_name(t->proto));
  } else if (printing(p, CK_PROBE_JSON)) {
    o = json_event("start", t);
    cJSON_AddStringToObject(o, "address", t->addr);
    cJSON_AddStringToObject(o, "proto", coap_proto_name(t->proto));
    json_print(o);
  }
  flush_if_watching(p);
}

/* The session is established; for DTLS and TLS with its handshake time. */
static void
report_connected(const probe_t *p, const target_t *t)
{
  cJSON *o;

  if (t->handshake_ms < 0.0)
    return;
  if (printing(p, CK_PROBE_TEXT)) {
    printf("%s: %s handshake %.3f ms\n", t->uri, coap_proto_name(t->proto),
           t->handshake_ms);
  } else if (printing(p, CK_PROBE_JSON)) {
    o = json_event("handshake", t);
    cJSON_AddStringToObject(o, "proto", coap_proto_name(t->proto));
    cJSON_AddNumberToObject(o, "handshake_ms", t->handshake_ms);
    json_print(o);
  }
  flush_if_watching(p);
}

static const char *
answer_name(const coap_pdu_t *rcvd)
{
  if (coap_pdu_get_code(rcvd) == COAP_SIGNALING_CODE_PONG)
    return "Pong";
  return coap_pdu_get_type(rcvd) == COAP_MESSAGE_RST ? "RST" : "ACK";
}

static void
report_reply(const probe_t *p, const target_t *t, double rtt_ms,
             const char *answer)
{
  cJSON *o;

  if (printing(p, CK_PROBE_TEXT)) {
    printf("%s: seq=%lu %s rtt=%.3f ms\n", t->uri, t->seq, answer, rtt_ms);
  } else if (printing(p, CK_PROBE_JSON)) {
    o = json_event("reply", t);
    cJSON_AddNumberToObject(o, "seq", (double)t->seq);
    cJSON_AddStringToObject(o, "answer", answer);
    cJSON_AddNumberToObject(o, "rtt_ms", rtt_ms);
    json_print(o);
  }
}

static void
report_lost(const probe_t *p, const target_t *t, const char *why)
{
  cJSON *o;

  if (printing(p, CK_PROBE_TEXT)) {
    if (why)
      printf("%s: seq=%lu error: %s\n", t->uri, t->seq, why);
    else
      printf("%s: seq=%lu no answer within %.3f s\n", t->uri, t->seq,
             p->cfg->timeout_ms / 1000.0);
  } else if (printing(p, CK_PROBE_JSON)) {
    o = json_event(why ? "error" : "timeout", t);
    cJSON_AddNumberToObject(o, "seq", (double)t->seq);
    if (why)
      cJSON_AddStringToObject(o, "error", why);
    json_print(o);
  }
}

static void
stats(const target_t *t, double *avg, double *mdev)
{
  double n = (double)t->received, var;

  *avg = *mdev = 0.0;
  if (t->received == 0)
    return;
  *avg = t->rtt_sum / n;
  var = t->rtt_sum2 / n - *avg * *avg;
  *mdev = var > 0.0 ? sqrt(var) : 0.0;
}

static double
loss_ratio(const target_t *t)
{
  if (t->seq == 0)
    return 1.0; /* nothing could be sent: all lost */
  return (double)(t->seq - t->received) / (double)t->seq;
}

static void
summary_text(const probe_t *p, const target_t *t)
{
  double avg, mdev;

  printf("--- %s keepalive probe statistics ---\n", t->uri);
  if (p->cfg->watch) {
    printf("%s, transitions: %lu\n",
           t->up == 1 ? "up" : t->up == 0 ? "down" : "unknown",
           t->transitions);
    return;
  }
  if (t->setup_error || t->failed) {
    printf("0 sent, 0 received, 100%% loss, error: %s\n",
           t->setup_error ? t->setup_error : t->fail_why);
    return;
  }
  if (t->handshake_ms >= 0.0)
    printf("%lu sent, %lu received, %.1f%% loss, handshake %.3f ms (%s)\n",
           t->seq, t->received, loss_ratio(t) * 100.0, t->handshake_ms,
           coap_proto_name(t->proto));
  else
    printf("%lu sent, %lu received, %.1f%% loss, handshake n/a (%s)\n",
           t->seq, t->received, loss_ratio(t) * 100.0,
           coap_proto_name(t->proto));
  if (t->received == 0)
    return;
  stats(t, &avg, &mdev);
  printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", t->rtt_min, avg,
         t->rtt_max, mdev);
}

static void
summary_json(const probe_t *p, const target_t *t)
{
  cJSON *o = json_event("summary", t);
  double avg, mdev;

  if (o == NULL)
    return;
  cJSON_AddStringToObject(o, "proto", coap_proto_name(t->proto));
  if (p->cfg->watch) {
    /* The library sends --watch's pings: there is no count of our own, and
     * what matters is the state at the end, as for the exit status. */
    cJSON_AddStringToObject(o, "state", t->up == 1   ? "up"
                                        : t->up == 0 ? "down"
                                                     : "unknown");
    cJSON_AddNumberToObject(o, "transitions", (double)t->transitions);
    cJSON_AddBoolToObject(o, "answered", t->up == 1);
  } else {
    cJSON_AddNumberToObject(o, "sent", (double)t->seq);
    cJSON_AddNumberToObject(o, "received", (double)t->received);
    cJSON_AddNumberToObject(o, "loss", loss_ratio(t));
    cJSON_AddBoolToObject(o, "answered", t->received > 0);
  }
  if (t->received > 0) {
    stats(t, &avg, &mdev);
    cJSON_AddNumberToObject(o, "rtt_min_ms", t->rtt_min);
    cJSON_AddNumberToObject(o, "rtt_avg_ms", round(avg * 1000.0) / 1000.0);
    cJSON_AddNumberToObject(o, "rtt_max_ms", t->rtt_max);
    cJSON_AddNumberToObject(o, "rtt_mdev_ms", round(mdev * 1000.0) / 1000.0);
  }
  if (t->handshake_ms >= 0.0)
    cJSON_AddNumberToObject(o, "handshake_ms", t->handshake_ms);
  else
    cJSON_AddNullToObject(o, "handshake_ms"); /* UDP, TCP, WS: none */
  if (t->setup_error || t->failed)
    cJSON_AddStringToObject(o, "error",
                            t->setup_error ? t->setup_error : t->fail_why);
  json_print(o);
}

static void
summary_prometheus(probe_t *p, const target_t *t)
{
  char label[2 * CK_PROBE_MAX_URI + 64];
  double avg, mdev;
  int up = p->cfg->watch ? t->up == 1 : t->received > 0;

  if (p->prom[0] == NULL)
    return;
  ck_prom_escape(t->uri, label, sizeof(label));
  fprintf(p->prom[PROM_SUCCESS], "coap_probe_success{target=\"%s\"} %d\n",
          label, up);
  if (t->received > 0) {
    stats(t, &avg, &mdev);
    fprintf(p->prom[PROM_RTT], "coap_probe_rtt_seconds{target=\"%s\"} %.9g\n",
            label, avg / 1000.0);
  }
  /* coap_probe_handshake_seconds: DTLS and TLS only; none for UDP, TCP. */
  if (t->handshake_ms >= 0.0)
    fprintf(p->prom[PROM_HANDSHAKE],
            "coap_probe_handshake_seconds{target=\"%s\"} %.9g\n", label,
            t->handshake_ms / 1000.0);
  if (!p->cfg->watch)
    fprintf(p->prom[PROM_LOSS], "coap_probe_loss_ratio{target=\"%s\"} %.9g\n",
            label, loss_ratio(t));
}

static const char *const prom_help[PROM_FAMILIES][2] = {
  {"coap_probe_success",
   "1 when the target answered a CoAP ping (--watch: is up now), else 0."},
  {"coap_probe_rtt_seconds",
   "Mean round-trip time of the target's answered pings."},
  {"coap_probe_handshake_seconds",
   "DTLS or TLS handshake time; no sample for UDP, TCP and WebSocket "
   "targets, which have none."},
  {"coap_probe_loss_ratio",
   "Share of the pings sent that got no answer (1 when none could be sent)."},
};

static void
prometheus_write(probe_t *p)
{
  for (int f = 0; f < PROM_FAMILIES; f++) {
    if (p->prom[f] == NULL)
      continue;
    fclose(p->prom[f]);
    p->prom[f] = NULL;
    if (!p->cfg->quiet) {
      printf("# HELP %s %s\n# TYPE %s gauge\n", prom_help[f][0],
             prom_help[f][1], prom_help[f][0]);
      fwrite(p->prom_buf[f], 1, p->prom_len[f], stdout);
    }
    free(p->prom_buf[f]);
    p->prom_buf[f] = NULL;
  }
}

/* ---------------------------------------------------------------- pinging */

static void
target_free(target_t *t)
{
  if (t == NULL)
    return;
  if (t->session)
    coap_session_release(t->session);
  free(t->uri);
  free(t);
}

/* The target is done: its summary, its verdict, its resources. */
static void
target_finish(probe_t *p, target_t *t)
{
  int answered = p->cfg->watch ? t->up == 1 : t->received > 0;

  heap_remove(p, t);
  if (!answered)
    p->unanswered++;
  p->probed++;
  if (printing(p, CK_PROBE_TEXT))
    summary_text(p, t);
  else if (printing(p, CK_PROBE_JSON))
    summary_json(p, t);
  else if (p->cfg->format == CK_PROBE_PROMETHEUS)
    summary_prometheus(p, t);
  if (t->session) {
    coap_session_set_app_data(t->session, NULL);
    p->active--;
  }
  target_free(t);
}

/* The outstanding ping is over (answered, lost or failed): finish the
 * target or schedule its next ping. */
static void
ping_done(probe_t *p, target_t *t, uint64_t now)
{
  uint64_t next = t->sent_us + (uint64_t)p->cfg->interval_ms * 1000u;

  t->mid = COAP_INVALID_MID;
  if (p->cfg->count && t->seq >= p->cfg->count) {
    target_finish(p, t);
    return;
  }
  heap_push(p, t, next > now ? next : now);
}

static void
ping_send(probe_t *p, target_t *t, uint64_t now)
{
  t->seq++;
  t->sent_us = now;
  t->mid = coap_session_send_ping(t->session);
  if (t->mid == COAP_INVALID_MID) {
    t->errors++;
    report_lost(p, t, "cannot send");
    ping_done(p, t, now);
    return;
  }
  heap_push(p, t, now + (uint64_t)p->cfg->timeout_ms * 1000u);
}

/* The ping outstanding at -W is lost: cancel it so that the library
 * neither retransmits it nor holds the next one behind it (NSTART).  On
 * TCP, TLS and WebSockets (7.02 Ping, 7.03 Pong; no retransmission, no
 * NSTART) disconnecting would drop the connection: the ping is only
 * forgotten, and its Pong skipped should it come. */
static void
ping_timeout(probe_t *p, target_t *t, uint64_t now)
{
  if (coap_proto_reliable(t->proto)) {
    t->stale++;
  } else {
    t->cancelling = 1;
    coap_session_disconnected(t->session, COAP_NACK_TOO_MANY_RETRIES);
    t->cancelling = 0;
  }
  report_lost(p, t, NULL);
  ping_done(p, t, now);
}

/* The connection or handshake failed or took longer than -W: the target
 * is done, unanswered. */
static void
connect_failed(probe_t *p, target_t *t)
{
  if (!t->failed) {
    t->failed = 1;
    snprintf(t->fail_why, sizeof(t->fail_why), "%s",
             proto_secure(t->proto) ? "handshake timed out"
                                    : "connection timed out");
  }
  if (!p->cfg->quiet)
    ck_diag("%s: %s", t->uri, t->fail_why);
  target_finish(p, t);
}

static void
run_due(probe_t *p)
{
  uint64_t now = now_us();

  while (p->heap_len > 0 && p->heap[0]->due_us <= now) {
    target_t *t = p->heap[0];
    if (t->failed || t->connecting)
      connect_failed(p, t);
    else if (t->mid != COAP_INVALID_MID)
      ping_timeout(p, t, now);
    else
      ping_send(p, t, now);
  }
}

static void
on_pong(coap_session_t *session, const coap_pdu_t *rcvd, const coap_mid_t mid)
{
  probe_t *p = coap_context_get_app_data(coap_session_get_context(session));
  target_t *t = coap_session_get_app_data(session);
  uint64_t now = now_us();
  double rtt;

  if (p == NULL || t == NULL)
    return;
  if (p->cfg->watch) {
    if (t->up != 1) {
      t->up = 1;
      t->transitions++;
      if (printing(p, CK_PROBE_TEXT)) {
        char ts[32];
        iso_time(ts, sizeof(ts));
        printf("%s %s: up (answer %s)\n", ts, t->uri, answer_name(rcvd));
      } else if (printing(p, CK_PROBE_JSON)) {
        cJSON *o = json_event("up", t);
        cJSON_AddStringToObject(o, "answer", answer_name(rcvd));
        json_print(o);
      }
      flush_if_watching(p);
    }
    return;
  }
  if (coap_proto_reliable(t->proto) && t->stale > 0) {
    t->stale--; /* a stream keeps order: the oldest forgotten ping's */
    return;
  }
  /* A stream's Pong has no message ID: the one ping in flight it is. */
  if (t->mid == COAP_INVALID_MID ||
      (t->mid != mid && !coap_proto_reliable(t->proto)))
    return; /* a late answer to a ping already counted as lost */
  rtt = (double)(now - t->sent_us) / 1000.0;
  if (t->received == 0 || rtt < t->rtt_min)
    t->rtt_min = rtt;
  if (t->received == 0 || rtt > t->rtt_max)
    t->rtt_max = rtt;
  t->rtt_sum += rtt;
  t->rtt_sum2 += rtt * rtt;
  t->received++;
  report_reply(p, t, rtt, answer_name(rcvd));
  ping_done(p, t, now);
}

static const char *
nack_text(coap_nack_reason_t reason)
{
  switch (reason) {
  case COAP_NACK_ICMP_ISSUE:
    return "unreachable, ICMP";
  case COAP_NACK_TOO_MANY_RETRIES:
    return "no answer";
  default:
    return coap_nack_reason_str(reason);
  }
}

/* --watch: the target went away.  Over anything but UDP its session is
 * replaced (a new connection and handshake) -K seconds later. */
static void
watch_down(probe_t *p, target_t *t, const char *why)
{
  if (t->up != 0) {
    t->up = 0;
    t->transitions++;
    if (printing(p, CK_PROBE_TEXT)) {
      char ts[32];
      iso_time(ts, sizeof(ts));
      printf("%s %s: down (%s)\n", ts, t->uri, why);
    } else if (printing(p, CK_PROBE_JSON)) {
      cJSON *o = json_event("down", t);
      cJSON_AddStringToObject(o, "reason", why);
      json_print(o);
    }
    flush_if_watching(p);
  }
  if (t->proto != COAP_PROTO_UDP && t->reopen_us == 0)
    t->reopen_us = now_us() + (uint64_t)p->cfg->keepalive_s * 1000000u;
}

static void
on_nack(coap_session_t *session, const coap_pdu_t *sent,
        const coap_nack_reason_t reason, const coap_mid_t mid)
{
  probe_t *p = coap_context_get_app_data(coap_session_get_context(session));
  target_t *t = coap_session_get_app_data(session);

  (void)sent;
  if (p == NULL || t == NULL || t->cancelling)
    return;
  if (p->cfg->watch) {
    watch_down(p, t, nack_text(reason));
    return;
  }
  if (t->mid == COAP_INVALID_MID || t->mid != mid)
    return;
  t->errors++;
  report_lost(p, t, nack_text(reason));
  ping_done(p, t, now_us());
}

/* Why the session could not be set up, from the event that ended it. */
static void
note_failure(target_t *t, coap_session_t *session, coap_event_t event)
{
  const char *tls = coap_session_get_tls_error(session);
  const char *why;

  if (t->failed)
    return;
  t->failed = 1;
  if (tls != NULL) {
    snprintf(t->fail_why, sizeof(t->fail_why), "%s handshake failed: %s",
             t->proto == COAP_PROTO_DTLS ? "DTLS" : "TLS", tls);
    return;
  }
  if (event == COAP_EVENT_TCP_FAILED)
    why = "cannot connect";
  else if (event == COAP_EVENT_SESSION_FAILED && t->proto == COAP_PROTO_DTLS)
    why = "handshake failed: unreachable";
  else if (event == COAP_EVENT_DTLS_ERROR)
    why = "handshake failed";
  else
    why = t->connecting ? "connection closed during set-up"
                        : "connection closed";
  snprintf(t->fail_why, sizeof(t->fail_why), "%s", why);
}

static int
is_failure_event(coap_event_t event)
{
  return event == COAP_EVENT_DTLS_ERROR || event == COAP_EVENT_DTLS_CLOSED ||
         event == COAP_EVENT_TCP_FAILED || event == COAP_EVENT_TCP_CLOSED ||
         event == COAP_EVENT_SESSION_FAILED ||
         event == COAP_EVENT_SESSION_CLOSED;
}

static void watch_down(probe_t *p, target_t *t, const char *why);

/* Connection set-up: the first ping leaves once the session is
 * established; a failure ends the target (after the event, from run_due:
 * the library is still using the session here). */
static int
on_event(coap_session_t *session, const coap_event_t event)
{
  probe_t *p = coap_context_get_app_data(coap_session_get_context(session));
  target_t *t = coap_session_get_app_data(session);
  uint64_t now = now_us();

  if (p == NULL || t == NULL || t->cancelling)
    return 0;
  if (event == COAP_EVENT_DTLS_CONNECTED && t->connecting &&
      proto_secure(t->proto))
    t->handshake_ms = (double)(now - t->open_us) / 1000.0;
  if (event == COAP_EVENT_SESSION_CONNECTED && t->connecting) {
    t->connecting = 0;
    report_connected(p, t);
    if (p->cfg->watch)
      coap_session_send_ping(session);
    else
      heap_push(p, t, now);
    return 0;
  }
  if (!is_failure_event(event) || t->proto == COAP_PROTO_UDP)
    return 0;
  if (p->cfg->watch) {
    note_failure(t, session, event);
    watch_down(p, t, t->fail_why);
    return 0;
  }
  if (t->connecting) {
    note_failure(t, session, event);
    heap_push(p, t, now);
  }
  return 0;
}

/* ---------------------------------------------------------------- set-up */

static void
on_signal(int sig)
{
  (void)sig;
  stop_requested = 1;
  if (signal_ctx)
    coap_io_interrupt(signal_ctx);
}

static void
install_signals(coap_context_t *ctx)
{
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  stop_requested = 0;
  signal_ctx = ctx;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* Every open target needs a socket: raise the soft limit as far as the
 * hard one allows and keep --parallel within it. */
static unsigned long
fit_parallel(unsigned long want)
{
  struct rlimit rl;
  unsigned long room;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return want;
  if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < want + FD_RESERVE) {
    rlim_t goal = (rlim_t)(want + FD_RESERVE);
    rl.rlim_cur = goal < rl.rlim_max ? goal : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  room = rl.rlim_cur > FD_RESERVE ? (unsigned long)(rl.rlim_cur - FD_RESERVE)
                                  : 1;
  if (want > room) {
    ck_diag("--parallel %lu exceeds the file descriptor limit: using %lu",
            want, room);
    return room;
  }
  return want;
}

static int
probe_init(probe_t *p, const ck_probe_config_t *cfg)
{
  memset(p, 0, sizeof(*p));
  p->cfg = cfg;
  p->parallel = fit_parallel(cfg->parallel);
  p->ctx = coap_new_context(NULL);
  if (p->ctx == NULL) {
    ck_diag("cannot create a CoAP context");
    return CK_EXIT_USAGE;
  }
  coap_context_set_app_data(p->ctx, p);
  coap_register_pong_handler(p->ctx, on_pong);
  coap_register_nack_handler(p->ctx, on_nack);
  coap_register_event_handler(p->ctx, on_event);
  if (cfg->watch) {
    /* One retransmission at a third of -W: a keepalive is declared lost
     * -W after it left. */
    uint32_t ack = cfg->timeout_ms / 3;
    coap_context_set_transmission(p->ctx, ack ? ack : 1, 1000, 1);
    coap_context_set_keepalive(p->ctx, cfg->keepalive_s);
  } else {
    /* Never retransmit before our own -W timeout cancels the ping. */
    coap_context_set_transmission(p->ctx, cfg->timeout_ms + 1000u, 1000, 1);
  }
  if (!cfg->watch) {
    p->heap_cap = p->parallel;
    p->heap = calloc(p->heap_cap, sizeof(*p->heap));
    if (p->heap == NULL) {
      ck_diag("out of memory");
      return CK_EXIT_USAGE;
    }
  }
  for (int f = 0; f < PROM_FAMILIES && cfg->format == CK_PROBE_PROMETHEUS;
       f++) {
    p->prom[f] = open_memstream(&p->prom_buf[f], &p->prom_len[f]);
    if (p->prom[f] == NULL) {
      ck_diag("out of memory");
      return CK_EXIT_USAGE;
    }
  }
  install_signals(p->ctx);
  return 0;
}

static void
probe_free(probe_t *p)
{
  for (int f = 0; f < PROM_FAMILIES; f++) {
    if (p->prom[f])
      fclose(p->prom[f]);
    free(p->prom_buf[f]);
  }
  for (size_t i = 0; i < p->all_len; i++)
    target_free(p->all[i]);
  free(p->all);
  while (p->heap_len > 0) {
    target_t *t = p->heap[0];
    heap_remove(p, t);
    target_free(t);
  }
  free(p->heap);
  signal_ctx = NULL;
  coap_free_context(p->ctx);
}

/* Opens the next target of the source.  Returns the target with an open
 * session, or NULL (finished at once, a usage error, or the end). */
static target_t *
start_next(probe_t *p, source_t *src, int *end)
{
  char *uri = source_next(src, p);
  coap_uri_t parsed;
  target_t *t;

  *end = uri == NULL;
  if (uri == NULL)
    return NULL;
  if (check_uri(uri, &parsed) != 0) {
    p->usage_errors++;
    free(uri);
    return NULL;
  }
  t = target_new(uri);
  if (t == NULL) {
    p->setup_errors++;
    return NULL;
  }
  /* Parsed again: the views must point into the target's own copy. */
  coap_split_uri((const uint8_t *)t->uri, strlen(t->uri), &t->parsed);
  if (target_open(p, t) != 0) {
    if (!p->cfg->quiet && t->setup_error)
      ck_diag("%s: %s", t->uri, t->setup_error);
    target_finish(p, t);
    return NULL;
  }
  p->active++;
  report_start(p, t);
  return t;
}

/* The first event of a fresh target: a UDP ping now, or the end of the
 * time its connection and handshake may take. */
static uint64_t
first_due(const probe_t *p, const target_t *t)
{
  uint64_t now = now_us();

  return t->connecting ? t->open_us + (uint64_t)p->cfg->timeout_ms * 1000u
                       : now;
}

/* Counts the targets left unprobed after an interruption or the deadline. */
static void
count_skipped(probe_t *p, source_t *src)
{
  char *uri;

  while ((uri = source_next(src, p)) != NULL) {
    p->skipped++;
    free(uri);
  }
}

static uint32_t
wait_ms(const probe_t *p, uint64_t now)
{
  uint64_t until = now + 1000000u; /* look at the signals at least 1/s */

  if (p->heap_len > 0 && p->heap[0]->due_us < until)
    until = p->heap[0]->due_us;
  if (p->deadline_us && p->deadline_us < until)
    until = p->deadline_us;
  if (until <= now)
    return COAP_IO_NO_WAIT;
  return (uint32_t)((until - now + 999u) / 1000u);
}

static int
past_deadline(const probe_t *p)
{
  return p->deadline_us != 0 && now_us() >= p->deadline_us;
}

/* Stops every open target: an outstanding ping counts as lost. */
static void
finish_all(probe_t *p)
{
  while (p->heap_len > 0)
    target_finish(p, p->heap[0]);
}

static void
run_pings(probe_t *p, source_t *src)
{
  int end = 0;

  while (!stop_requested && !past_deadline(p)) {
    while (!end && p->active < p->parallel) {
      target_t *t = start_next(p, src, &end);
      if (t != NULL)
        heap_push(p, t, first_due(p, t));
    }
    if (end && p->active == 0)
      return;
    run_due(p);
    if (coap_io_process(p->ctx, wait_ms(p, now_us())) < 0) {
      ck_diag("the event loop failed");
      break;
    }
  }
  finish_all(p);
  count_skipped(p, src);
}

static int
watch_add(probe_t *p, target_t *t)
{
  target_t **grown;

  if (p->all_len % 64 == 0) {
    grown = realloc(p->all, (p->all_len + 64) * sizeof(*grown));
    if (grown == NULL)
      return -1;
    p->all = grown;
  }
  p->all[p->all_len++] = t;
  return 0;
}

/* --watch: a new session for a target that went down, in place of the
 * old one. */
static void
watch_reopen(probe_t *p, target_t *t)
{
  t->reopen_us = 0;
  if (t->session) {
    coap_session_set_app_data(t->session, NULL);
    coap_session_release(t->session);
    t->session = NULL;
    p->active--;
  }
  if (target_open(p, t) == 0) {
    p->active++;
    return;
  }
  /* Not a set-up error this time: the target is down, try again later. */
  p->setup_errors--;
  watch_down(p, t, t->setup_error);
  t->setup_error = NULL;
}

/* --watch: connections that take longer than -W, and sessions due to be
 * replaced.  Returns when the next of these is due (0: none). */
static uint64_t
watch_tick(probe_t *p)
{
  uint64_t now = now_us(), next = 0;

  for (size_t i = 0; i < p->all_len; i++) {
    target_t *t = p->all[i];
    uint64_t limit = t->open_us + (uint64_t)p->cfg->timeout_ms * 1000u;
    if (t->connecting && now >= limit) {
      t->connecting = 0;
      watch_down(p, t, proto_secure(t->proto) ? "handshake timed out"
                                              : "connection timed out");
    }
    if (t->reopen_us && now >= t->reopen_us)
      watch_reopen(p, t);
    if (t->connecting && (next == 0 || limit < next))
      next = limit;
    if (t->reopen_us && (next == 0 || t->reopen_us < next))
      next = t->reopen_us;
  }
  return next;
}

static void
run_watch(probe_t *p, source_t *src)
{
  int end = 0;
  target_t *t;

  while (!end) {
    t = start_next(p, src, &end);
    if (t == NULL)
      continue;
    if (watch_add(p, t) != 0) {
      ck_diag("out of memory");
      p->setup_errors++;
      target_finish(p, t);
      break;
    }
    /* The first ping now (or once connected: on_event); the keepalive
     * takes over from there. */
    if (!t->connecting)
      coap_session_send_ping(t->session);
  }
  while (!stop_requested && !past_deadline(p)) {
    uint64_t now, next = watch_tick(p);
    uint32_t ms;
    now = now_us();
    ms = wait_ms(p, now);
    if (next != 0 && next > now && (next - now) / 1000u + 1 < ms)
      ms = (uint32_t)((next - now) / 1000u + 1);
    if (coap_io_process(p->ctx, ms) < 0)
      break;
  }
  for (size_t i = 0; i < p->all_len; i++)
    target_finish(p, p->all[i]);
  p->all_len = 0;
}

int
ck_probe_run(const ck_probe_config_t *cfg)
{
  probe_t p;
  source_t src;
  int rc;

  /* A typo on the command line stops the run before any ping. */
  for (size_t i = 0; i < cfg->uri_count; i++) {
    coap_uri_t parsed;
    if (check_uri(cfg->uris[i], &parsed) != 0)
      return CK_EXIT_USAGE;
  }
  /* Each event reaches a pipe or a log as it happens, as with ping(8). */
  if (cfg->format != CK_PROBE_PROMETHEUS)
    setvbuf(stdout, NULL, _IOLBF, 0);
  coap_startup();
  coap_set_log_level(cfg->log_level);
  source_open(&src, cfg);
  rc = source_open_file(&src);
  if (rc != 0)
    return rc;
  rc = probe_init(&p, cfg);
  if (rc != 0) {
    probe_free(&p);
    source_close(&src);
    return rc;
  }
  if (cfg->deadline_ms)
    p.deadline_us = now_us() + (uint64_t)cfg->deadline_ms * 1000u;
  if (cfg->watch)
    run_watch(&p, &src);
  else
    run_pings(&p, &src);
  if (cfg->format == CK_PROBE_PROMETHEUS)
    prometheus_write(&p);
  fflush(stdout);
  if (src.seen == 0)
    rc = ck_usage_error("no targets: give URIs or -F FILE");
  else if (p.usage_errors || p.setup_errors)
    rc = CK_EXIT_USAGE;
  else if (p.unanswered || p.skipped)
    rc = CK_EXIT_FAILURE;
  else
    rc = CK_EXIT_OK;
  if (p.skipped)
    ck_diag("%lu targets not probed (interrupted or past the deadline)",
            p.skipped);
  probe_free(&p);
  source_close(&src);
  coap_cleanup();
  return rc;
}
