/* coap-dtlsgen: DTLS 1.2 PSK handshakes per second against a CoAP server,
 * for the benchmark.  Like coap-loadgen it is a measuring instrument: it
 * talks to OpenSSL directly and does not use lib/, so both servers under
 * test face the same client.
 *
 * It keeps a window of handshakes in flight.  Each handshake uses a new UDP
 * socket (so a new source port, a new session for the server), goes through
 * the server's cookie exchange, optionally sends one CON GET over the new
 * session and checks its answer (message ID, token, ACK, code), then sends
 * close_notify, so the server may free the session, and closes the socket.
 * A handshake not done within --timeout counts as lost; one the server
 * refuses counts as failed, and the first reason is printed. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench.h"

enum {
  MAX_WINDOW = 1024,
  MAX_PSK = 64,
  MAX_IDENTITY = 128,
  GET_LEN = 4 + 8,       /* header and an 8-byte token: GET / */
  RX_MAX = 2048,
};

struct config {
  const char *host, *port, *identity, *cipher;
  uint8_t key[MAX_PSK];
  size_t key_len;
  unsigned window, timeout_ms;
  uint64_t count;
  double duration;
  bool json, get;
};

enum phase { IDLE, HANDSHAKE, REQUEST };

struct slot {
  SSL *ssl;
  int fd;
  enum phase phase;
  uint64_t started_ns, deadline_ns;
  uint16_t mid;
  uint8_t token[8];
};

struct stats {
  uint64_t started, ok, failed, lost, bad;
  uint64_t t0, t_last;
  struct hist lat;
  char first_error[200];
};

struct gen {
  const struct config *cfg;
  SSL_CTX *ctx;
  struct addrinfo *srv;
  struct slot slots[MAX_WINDOW];
  unsigned active;
  uint16_t next_mid;
  int epfd;
  struct stats st;
};

/* ------------------------------------------------------------------- PSK */

static const struct config *psk_config;

static unsigned int psk_cb(SSL *ssl, const char *hint, char *identity, unsigned int max_id,
                           unsigned char *psk, unsigned int max_psk)
{
  const struct config *c = psk_config;
  size_t id_len = strlen(c->identity);
  (void)ssl;
  (void)hint;
  if (id_len + 1 > max_id || c->key_len > max_psk)
    return 0;
  memcpy(identity, c->identity, id_len + 1);
  memcpy(psk, c->key, c->key_len);
  return (unsigned int)c->key_len;
}

static SSL_CTX *new_ctx(const struct config *c)
{
  SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
  if (!ctx)
    return NULL;
  SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
  /* Each handshake is a full one: resumption would measure something else. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_read_ahead(ctx, 1);
  if (SSL_CTX_set_cipher_list(ctx, c->cipher) != 1) {
    fprintf(stderr, "coap-dtlsgen: OpenSSL knows no cipher suite \"%s\"\n", c->cipher);
    SSL_CTX_free(ctx);
    return NULL;
  }
  psk_config = c;
  SSL_CTX_set_psk_client_callback(ctx, psk_cb);
  return ctx;
}

/* ----------------------------------------------------------------- slots */

static void note_error(struct gen *g, const char *what)
{
  char buf[160];
  unsigned long e = ERR_get_error();
  if (g->st.first_error[0])
    return;
  if (e)
    ERR_error_string_n(e, buf, sizeof buf);
  else
    snprintf(buf, sizeof buf, "%s", errno ? strerror(errno) : "no reason given");
  snprintf(g->st.first_error, sizeof g->st.first_error, "%s: %s", what, buf);
}

static void slot_close(struct gen *g, struct slot *s, bool orderly)
{
  if (s->ssl) {
    if (orderly)
      SSL_shutdown(s->ssl); /* close_notify; the answer is not awaited */
    SSL_free(s->ssl);
  }
  if (s->fd >= 0)
    close(s->fd);
  *s = (struct slot){ .fd = -1, .phase = IDLE };
  g->active--;
  ERR_clear_error();
}

static int open_socket(const struct addrinfo *srv)
{
  int fd = socket(srv->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -1;
  if (connect(fd, srv->ai_addr, srv->ai_addrlen) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int slot_start(struct gen *g, struct slot *s, uint64_t now)
{
  BIO *bio;
  s->fd = open_socket(g->srv);
  if (s->fd < 0)
    return -1;
  s->ssl = SSL_new(g->ctx);
  bio = s->ssl ? BIO_new_dgram(s->fd, BIO_NOCLOSE) : NULL;
  if (!bio) {
    if (s->ssl)
      SSL_free(s->ssl);
    close(s->fd);
    s->ssl = NULL;
    s->fd = -1;
    return -1;
  }
  BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, g->srv->ai_addr);
  SSL_set_bio(s->ssl, bio, bio);
  SSL_set_connect_state(s->ssl);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
  epoll_ctl(g->epfd, EPOLL_CTL_ADD, s->fd, &ev);
  s->phase = HANDSHAKE;
  s->started_ns = now;
  s->deadline_ns = now + (uint64_t)g->cfg->timeout_ms * 1000000ull;
  g->active++;
  g->st.started++;
  return 0;
}

static void finish_ok(struct gen *g, struct slot *s)
{
  uint64_t now = now_ns();

  g->st.ok++;
  hist_add(&g->st.lat, now - s->started_ns);
  g->st.t_last = now;
  slot_close(g, s, true);
}

static void send_get(struct gen *g, struct slot *s)
{
  uint8_t req[GET_LEN];
  uint64_t token = g->st.ok + g->st.failed + g->st.bad;

  s->mid = g->next_mid++;
  memcpy(s->token, &token, sizeof s->token);
  req[0] = 0x40 | (uint8_t)sizeof s->token; /* version 1, CON */
  req[1] = 0x01;                             /* GET */
  req[2] = (uint8_t)(s->mid >> 8);
  req[3] = (uint8_t)s->mid;
  memcpy(req + 4, s->token, sizeof s->token);
  if (SSL_write(s->ssl, req, sizeof req) != (int)sizeof req) {
    g->st.failed++;
    note_error(g, "GET over DTLS");
    slot_close(g, s, false);
    return;
  }
  s->phase = REQUEST;
}

/* ACK 2.05 with our message ID and token. */
static bool answer_ok(const struct slot *s, const uint8_t *d, int len)
{
  if (len < 4 || (d[0] >> 6) != 1 || ((d[0] >> 4) & 3) != 2 || d[1] != 0x45)
    return false;
  if ((uint16_t)(d[2] << 8 | d[3]) != s->mid || (d[0] & 15) != sizeof s->token)
    return false;
  return len >= 4 + (int)sizeof s->token && memcmp(d + 4, s->token, sizeof s->token) == 0;
}

static void on_readable(struct gen *g, struct slot *s)
{
  if (s->phase == HANDSHAKE) {
    int r = SSL_do_handshake(s->ssl);
    if (r == 1) {
      if (g->cfg->get)
        send_get(g, s);
      else
        finish_ok(g, s);
      return;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return;
    g->st.failed++;
    note_error(g, "handshake");
    slot_close(g, s, false);
    return;
  }
  uint8_t buf[RX_MAX];
  int n = SSL_read(s->ssl, buf, sizeof buf);
  if (n <= 0) {
    int e = SSL_get_error(s->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return;
    g->st.failed++;
    note_error(g, "reading the answer");
    slot_close(g, s, false);
    return;
  }
  if (!answer_ok(s, buf, n)) {
    g->st.bad++;
    slot_close(g, s, true);
    return;
  }
  finish_ok(g, s);
}

/* DTLS retransmissions, and handshakes past their deadline. */
static void on_timers(struct gen *g, uint64_t now)
{
  for (unsigned i = 0; i < g->cfg->window; i++) {
    struct slot *s = &g->slots[i];
    struct timeval tv;
    if (s->phase == IDLE)
      continue;
    if (now >= s->deadline_ns) {
      g->st.lost++;
      slot_close(g, s, false);
      continue;
    }
    if (s->phase == HANDSHAKE && DTLSv1_get_timeout(s->ssl, &tv) == 1 && tv.tv_sec == 0 &&
        tv.tv_usec == 0)
      DTLSv1_handle_timeout(s->ssl);
  }
}

/* Milliseconds until the next DTLS timer or deadline, at most 50. */
static int next_wait_ms(const struct gen *g, uint64_t now)
{
  uint64_t wait = 50ull * 1000000ull;
  for (unsigned i = 0; i < g->cfg->window; i++) {
    const struct slot *s = &g->slots[i];
    struct timeval tv;
    if (s->phase == IDLE)
      continue;
    if (s->deadline_ns <= now)
      return 0;
    if (s->deadline_ns - now < wait)
      wait = s->deadline_ns - now;
    if (s->phase == HANDSHAKE && DTLSv1_get_timeout(s->ssl, &tv) == 1) {
      uint64_t t = (uint64_t)tv.tv_sec * NS_PER_S + (uint64_t)tv.tv_usec * 1000ull;
      if (t < wait)
        wait = t;
    }
  }
  return (int)((wait + 999999ull) / 1000000ull);
}

/* ------------------------------------------------------------------ run */

static bool may_start(const struct gen *g, uint64_t now, uint64_t stop_ns)
{
  const struct config *c = g->cfg;
  if (interrupted || now >= stop_ns)
    return false;
  return c->count == 0 || g->st.started < c->count;
}

/* Keeps the window full.  A handshake may be done within its first call
 * (the server answers on another core while this one still runs OpenSSL),
 * so a slot is refilled until it is left busy. */
static void fill(struct gen *g, uint64_t stop_ns)
{
  for (unsigned i = 0; i < g->cfg->window; i++) {
    struct slot *s = &g->slots[i];
    while (s->phase == IDLE && may_start(g, now_ns(), stop_ns)) {
      if (slot_start(g, s, now_ns()) != 0) {
        g->st.failed++;
        note_error(g, "opening a socket");
        interrupted = 1;
        return;
      }
      /* The first flight (ClientHello) goes out now. */
      on_readable(g, s);
    }
  }
}

static void run(struct gen *g)
{
  const struct config *c = g->cfg;
  struct epoll_event evs[64];
  uint64_t stop_ns;

  g->st.t0 = g->st.t_last = now_ns();
  stop_ns = g->st.t0 + (uint64_t)(c->duration * 1e9);
  fill(g, stop_ns);
  while (g->active > 0) {
    int n = epoll_wait(g->epfd, evs, 64, next_wait_ms(g, now_ns()));
    for (int i = 0; i < n; i++) {
      struct slot *s = evs[i].data.ptr;
      if (s->phase != IDLE)
        on_readable(g, s);
    }
    on_timers(g, now_ns());
    fill(g, stop_ns);
  }
}

static void report(const struct gen *g)
{
  const struct config *c = g->cfg;
  const struct stats *st = &g->st;
  double elapsed = (double)(st->t_last - st->t0) / 1e9;
  double hps = elapsed > 0 ? (double)st->ok / elapsed : 0;
  double p50 = hist_percentile_ns(&st->lat, 0.50) / 1e3;
  double p99 = hist_percentile_ns(&st->lat, 0.99) / 1e3;
  double mx = (double)st->lat.max_ns / 1e3;
  if (c->json) {
    printf("{\"window\":%u,\"get\":%s,\"started\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64
           ",\"lost\":%" PRIu64 ",\"bad\":%" PRIu64 ",\"elapsed_s\":%.6f,\"hps\":%.1f"
           ",\"p50_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f}\n",
           c->window, c->get ? "true" : "false", st->started, st->ok, st->failed, st->lost, st->bad,
           elapsed, hps, p50, p99, mx);
  } else {
    printf("window=%u%s started=%" PRIu64 " ok=%" PRIu64 " failed=%" PRIu64 " lost=%" PRIu64
           " bad=%" PRIu64 " %.3fs %.0f handshakes/s latency p50=%.1fus p99=%.1fus max=%.1fus\n",
           c->window, c->get ? " +GET" : "", st->started, st->ok, st->failed, st->lost, st->bad,
           elapsed, hps, p50, p99, mx);
  }
  if (st->first_error[0])
    fprintf(stderr, "coap-dtlsgen: first failure: %s\n", st->first_error);
}

/* --------------------------------------------------------------- options */

static void usage(FILE *f)
{
  fprintf(f,
          "usage: coap-dtlsgen -p PORT [options]\n"
          "  -A, --host ADDR        server address (default 127.0.0.1)\n"
          "  -p, --port PORT        the server's DTLS port\n"
          "  -i, --identity ID      PSK identity (default coapkit-bench)\n"
          "  -k, --key KEY          PSK key: text, or 0x and hex digits (default bench-key)\n"
          "  -C, --cipher LIST      OpenSSL cipher list (default PSK-AES128-CCM8,\n"
          "                         the suite RFC 7252 requires)\n"
          "  -w, --window N         handshakes in flight, 1..%d (default 1)\n"
          "  -n, --count N          stop after N handshakes\n"
          "  -d, --duration SEC     stop starting handshakes after SEC seconds\n"
          "                         (default 5, at most 3600)\n"
          "  -t, --timeout MS       a handshake not done after MS ms is lost (default 5000)\n"
          "  -g, --get              after each handshake, GET / and check the 2.05\n"
          "  -j, --json             print the result as one JSON object\n"
          "Exit status: 0 every handshake done, 1 some failed or none was done,\n"
          "2 usage or set-up error.\n",
          MAX_WINDOW);
}

static int hexval(char ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

static int parse_key(const char *s, struct config *c)
{
  size_t n = strlen(s);
  if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s += 2;
    n -= 2;
    if (n % 2 || n / 2 > MAX_PSK)
      return -1;
    for (size_t i = 0; i < n / 2; i++) {
      int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return -1;
      c->key[i] = (uint8_t)(hi << 4 | lo);
    }
    c->key_len = n / 2;
    return 0;
  }
  if (n == 0 || n > MAX_PSK)
    return -1;
  memcpy(c->key, s, n);
  c->key_len = n;
  return 0;
}

static int parse_option(struct config *c, int opt, const char *arg)
{
  unsigned long long v = 0;
  switch (opt) {
  case 'A': c->host = arg; return 0;
  case 'p': c->port = arg; return 0;
  case 'C': c->cipher = arg; return 0;
  case 'j': c->json = true; return 0;
  case 'g': c->get = true; return 0;
  case 'k': return parse_key(arg, c);
  case 'i':
    if (!*arg || strlen(arg) >= MAX_IDENTITY)
      return -1;
    c->identity = arg;
    return 0;
  case 'w': if (parse_uint(arg, 1, MAX_WINDOW, &v)) return -1; c->window = (unsigned)v; return 0;
  case 'n': if (parse_uint(arg, 1, 100000000, &v)) return -1; c->count = v; return 0;
  case 't': if (parse_uint(arg, 1, 600000, &v)) return -1; c->timeout_ms = (unsigned)v; return 0;
  case 'd': return parse_duration(arg, &c->duration);
  default: return -1;
  }
}

static int parse_args(int argc, char **argv, struct config *c)
{
  static const struct option longopts[] = {
    { "host", required_argument, NULL, 'A' },     { "port", required_argument, NULL, 'p' },
    { "identity", required_argument, NULL, 'i' }, { "key", required_argument, NULL, 'k' },
    { "cipher", required_argument, NULL, 'C' },   { "window", required_argument, NULL, 'w' },
    { "count", required_argument, NULL, 'n' },    { "duration", required_argument, NULL, 'd' },
    { "timeout", required_argument, NULL, 't' },  { "get", no_argument, NULL, 'g' },
    { "json", no_argument, NULL, 'j' },           { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  *c = (struct config){ .host = "127.0.0.1", .identity = "coapkit-bench",
                        .cipher = "PSK-AES128-CCM8", .window = 1, .timeout_ms = 5000,
                        .duration = 5 };
  parse_key("bench-key", c);
  int opt;
  while ((opt = getopt_long(argc, argv, "A:p:i:k:C:w:n:d:t:gjh", longopts, NULL)) != -1) {
    if (opt == 'h') {
      usage(stdout);
      exit(0);
    }
    if (parse_option(c, opt, optarg) != 0) {
      if (opt != '?')
        fprintf(stderr, "coap-dtlsgen: bad value for -%c: %s\n", opt, optarg ? optarg : "");
      return -1;
    }
  }
  if (optind != argc || !c->port) {
    fprintf(stderr, "coap-dtlsgen: %s\n", c->port ? "unexpected argument" : "--port is required");
    return -1;
  }
  return 0;
}

static int gen_init(struct gen *g, const struct config *c)
{
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
                            .ai_flags = AI_NUMERICSERV };
  int rc = getaddrinfo(c->host, c->port, &hints, &g->srv);
  if (rc != 0) {
    fprintf(stderr, "coap-dtlsgen: %s:%s: %s\n", c->host, c->port, gai_strerror(rc));
    g->srv = NULL;
    return -1;
  }
  g->cfg = c;
  for (unsigned i = 0; i < MAX_WINDOW; i++)
    g->slots[i] = (struct slot){ .fd = -1, .phase = IDLE };
  g->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (g->epfd < 0) {
    perror("coap-dtlsgen: epoll_create1");
    return -1;
  }
  g->ctx = new_ctx(c);
  return g->ctx ? 0 : -1;
}

static void gen_free(struct gen *g)
{
  if (g->ctx)
    SSL_CTX_free(g->ctx);
  if (g->srv)
    freeaddrinfo(g->srv);
  if (g->epfd > 0)
    close(g->epfd);
}

int main(int argc, char **argv)
{
  struct config cfg;
  if (parse_args(argc, argv, &cfg) != 0) {
    usage(stderr);
    return 2;
  }
  catch_stop_signals();
  signal(SIGPIPE, SIG_IGN);

  static struct gen g;
  int rc = 2;
  if (gen_init(&g, &cfg) == 0) {
    run(&g);
    report(&g);
    rc = (g.st.failed || g.st.lost || g.st.bad || g.st.ok == 0) ? 1 : 0;
  }
  gen_free(&g);
  return rc;
}
