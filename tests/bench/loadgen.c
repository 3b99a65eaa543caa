/* coap-loadgen: a CoAP load generator for the benchmark.  It is a measuring
 * instrument, so it carries its own minimal CoAP encoding and does not use
 * lib/.
 *
 * It keeps a window of requests in flight (CON or NON GETs, or pings: empty
 * CONs that must be answered by an RST), spread round-robin over one or many
 * source sockets, each a distinct client session for the server.  Every
 * answer is checked (message ID, token, type, code); a request unanswered
 * after --timeout counts as lost.  The run is bounded by --count and by
 * --duration, and never sends more than 65536 requests from one source port,
 * so that no message ID is reused within EXCHANGE_LIFETIME (a server with
 * real deduplication would answer a reused ID from its cache).
 *
 * The hot loop does not allocate: slots, the message-ID table and the
 * latency histogram are sized at start-up. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

enum { T_CON = 0, T_NON = 1, T_ACK = 2, T_RST = 3 };
enum { MODE_CON, MODE_NON, MODE_PING };
enum {
  BATCH = 64,          /* datagrams per sendmmsg/recvmmsg */
  DGRAM_MAX = 1500,    /* receive buffer per datagram */
  REQ_MAX = 4 + 8 + 256, /* header, token, encoded Uri-Path */
  TOKEN_LEN = 8,
  MAX_PORTS = 100000,
  MAX_WINDOW = 65536,
  PORTS_PER_ADDR = 20000, /* source ports per loopback address */
  EPOLL_EVENTS = 1024,
};
#define MID_BUDGET 65536u  /* requests per source port per run */
#define EMPTY UINT32_MAX

struct config {
  const char *host, *port, *path, *src_addr;
  int mode;
  unsigned window, ports, timeout_ms, expect_code;
  uint64_t count;      /* 0: bounded by the duration and the ID budget */
  double duration;     /* seconds */
  bool json, spin;
};

struct slot {
  uint64_t sent_ns;
  uint32_t sock, gen;
  uint16_t mid;
  bool used;
};

struct stats {
  uint64_t issued, sent, ok, lost, bad, malformed, unmatched, send_errors;
  uint64_t t0, t_last;
  struct hist lat;
  bool budget_stop;
};

/* All run state; one instance, allocated once. */
struct gen {
  const struct config *cfg;
  int *fds;
  uint16_t *next_mid;
  struct slot *slots;
  uint32_t *free_list, free_top;
  uint32_t *htab, hmask;
  uint32_t cursor, gen_counter, inflight;
  int epfd;
  uint8_t opts[256];
  size_t opts_len;
  struct stats st;
};

/* ------------------------------------------------- message-ID hash table */

static uint32_t hslot(const struct gen *g, uint32_t sock, uint16_t mid)
{
  uint64_t k = ((uint64_t)sock << 16 | mid) * 0x9E3779B97F4A7C15ull;
  return (uint32_t)(k >> 32) & g->hmask;
}

static void h_insert(struct gen *g, uint32_t idx)
{
  uint32_t h = hslot(g, g->slots[idx].sock, g->slots[idx].mid);
  while (g->htab[h] != EMPTY)
    h = (h + 1) & g->hmask;
  g->htab[h] = idx;
}

/* Returns the table position holding (sock, mid), or EMPTY. */
static uint32_t h_find(const struct gen *g, uint32_t sock, uint16_t mid)
{
  for (uint32_t h = hslot(g, sock, mid);; h = (h + 1) & g->hmask) {
    uint32_t i = g->htab[h];
    if (i == EMPTY)
      return EMPTY;
    if (g->slots[i].sock == sock && g->slots[i].mid == mid)
      return h;
  }
}

/* Linear-probing deletion by backward shift, so lookups need no tombstones. */
static void h_remove_at(struct gen *g, uint32_t p)
{
  g->htab[p] = EMPTY;
  for (uint32_t j = (p + 1) & g->hmask; g->htab[j] != EMPTY; j = (j + 1) & g->hmask) {
    const struct slot *s = &g->slots[g->htab[j]];
    uint32_t k = hslot(g, s->sock, s->mid);
    bool stays = (p <= j) ? (p < k && k <= j) : (p < k || k <= j);
    if (stays)
      continue;
    g->htab[p] = g->htab[j];
    g->htab[j] = EMPTY;
    p = j;
  }
}

/* --------------------------------------------------------------- requests */

static bool uses_mid_table(const struct gen *g)
{
  return g->cfg->mode != MODE_NON;
}

static void slot_release(struct gen *g, uint32_t idx)
{
  struct slot *s = &g->slots[idx];
  if (uses_mid_table(g)) {
    uint32_t p = h_find(g, s->sock, s->mid);
    if (p != EMPTY)
      h_remove_at(g, p);
  }
  s->used = false;
  g->free_list[g->free_top++] = idx;
  g->inflight--;
}

/* Encodes the path as Uri-Path options once; "" and "/" mean GET /. */
static int encode_path(struct gen *g, const char *path)
{
  size_t n = 0;
  unsigned prev = 0;
  while (*path) {
    while (*path == '/')
      path++;
    size_t len = strcspn(path, "/");
    if (len == 0)
      break;
    size_t need = 1 + (len >= 13) + len;
    if (len > 255 || n + need > sizeof g->opts)
      return -1;
    unsigned delta = 11 - prev;
    prev = 11;
    g->opts[n++] = (uint8_t)(delta << 4 | (len >= 13 ? 13 : len));
    if (len >= 13)
      g->opts[n++] = (uint8_t)(len - 13);
    memcpy(g->opts + n, path, len);
    n += len;
    path += len;
  }
  g->opts_len = n;
  return 0;
}

static size_t build_request(const struct gen *g, uint8_t *buf, uint32_t idx)
{
  const struct slot *s = &g->slots[idx];
  buf[2] = (uint8_t)(s->mid >> 8);
  buf[3] = (uint8_t)s->mid;
  if (g->cfg->mode == MODE_PING) {
    buf[0] = 0x40 | (T_CON << 4);
    buf[1] = 0;
    return 4;
  }
  buf[0] = (uint8_t)(0x40 | ((g->cfg->mode == MODE_CON ? T_CON : T_NON) << 4) | TOKEN_LEN);
  buf[1] = 0x01; /* GET */
  uint32_t t[2] = { htonl(idx), htonl(s->gen) };
  memcpy(buf + 4, t, TOKEN_LEN);
  memcpy(buf + 4 + TOKEN_LEN, g->opts, g->opts_len);
  return 4 + TOKEN_LEN + g->opts_len;
}

struct sendbatch {
  struct mmsghdr msg[BATCH];
  struct iovec iov[BATCH];
  uint8_t buf[BATCH][REQ_MAX];
  uint32_t slot[BATCH];
  unsigned n;
};

/* Sends the batch, one sendmmsg per run of datagrams for the same socket.
 * Datagrams the kernel refuses are released, not counted as sent. */
static void flush(struct gen *g, struct sendbatch *b)
{
  uint64_t t = now_ns();
  for (unsigned i = 0; i < b->n; i++)
    g->slots[b->slot[i]].sent_ns = t;
  unsigned i = 0;
  while (i < b->n) {
    uint32_t sock = g->slots[b->slot[i]].sock;
    unsigned j = i + 1;
    while (j < b->n && g->slots[b->slot[j]].sock == sock)
      j++;
    int k = sendmmsg(g->fds[sock], b->msg + i, j - i, MSG_DONTWAIT);
    unsigned done = k > 0 ? (unsigned)k : 0;
    g->st.sent += done;
    for (unsigned r = i + done; r < j; r++) {
      g->st.send_errors++;
      slot_release(g, b->slot[r]);
    }
    i = j;
  }
  b->n = 0;
}

/* Tops the window up, or stops short when the run's budget is spent. */
static void fill(struct gen *g, struct sendbatch *b, uint64_t cap)
{
  while (g->inflight < g->cfg->window && g->st.issued < cap) {
    uint32_t sock = g->cursor;
    g->cursor = (g->cursor + 1 == g->cfg->ports) ? 0 : g->cursor + 1;
    uint32_t idx = g->free_list[--g->free_top];
    struct slot *s = &g->slots[idx];
    *s = (struct slot){ .sock = sock, .gen = g->gen_counter++, .mid = g->next_mid[sock]++, .used = true };
    if (uses_mid_table(g))
      h_insert(g, idx);
    g->inflight++;
    g->st.issued++;
    size_t len = build_request(g, b->buf[b->n], idx);
    b->iov[b->n] = (struct iovec){ b->buf[b->n], len };
    b->msg[b->n].msg_hdr = (struct msghdr){ .msg_iov = &b->iov[b->n], .msg_iovlen = 1 };
    b->slot[b->n++] = idx;
    if (b->n == BATCH)
      flush(g, b);
  }
  if (b->n)
    flush(g, b);
}

static void expire(struct gen *g, uint64_t now)
{
  uint64_t limit = (uint64_t)g->cfg->timeout_ms * 1000000ull;
  for (uint32_t i = 0; i < g->cfg->window; i++) {
    if (g->slots[i].used && now - g->slots[i].sent_ns > limit) {
      g->st.lost++;
      slot_release(g, i);
    }
  }
}

/* ---------------------------------------------------------------- answers */

/* Finds the slot an answer belongs to, or EMPTY. */
static uint32_t match(const struct gen *g, uint32_t sock, const uint8_t *d, unsigned tkl, uint16_t mid)
{
  if (uses_mid_table(g)) {
    uint32_t p = h_find(g, sock, mid);
    return p == EMPTY ? EMPTY : g->htab[p];
  }
  if (tkl != TOKEN_LEN)
    return EMPTY;
  uint32_t t[2];
  memcpy(t, d + 4, TOKEN_LEN);
  uint32_t idx = ntohl(t[0]);
  if (idx >= g->cfg->window || !g->slots[idx].used || g->slots[idx].gen != ntohl(t[1]) ||
      g->slots[idx].sock != sock)
    return EMPTY;
  return idx;
}

static bool answer_ok(const struct gen *g, uint32_t idx, const uint8_t *d, size_t len)
{
  unsigned type = (d[0] >> 4) & 3, tkl = d[0] & 0x0f, code = d[1];
  if (g->cfg->mode == MODE_PING)
    return type == T_RST && code == 0 && tkl == 0 && len == 4;
  if (code != g->cfg->expect_code || tkl != TOKEN_LEN)
    return false;
  if (type != (g->cfg->mode == MODE_CON ? T_ACK : T_NON))
    return false;
  uint32_t t[2] = { htonl(idx), htonl(g->slots[idx].gen) };
  return memcmp(d + 4, t, TOKEN_LEN) == 0;
}

static void on_datagram(struct gen *g, uint32_t sock, const uint8_t *d, size_t len, uint64_t now)
{
  if (len < 4 || (d[0] >> 6) != 1) {
    g->st.malformed++;
    return;
  }
  unsigned tkl = d[0] & 0x0f;
  if (tkl > 8 || len < 4 + (size_t)tkl) {
    g->st.malformed++;
    return;
  }
  uint16_t mid = (uint16_t)(d[2] << 8 | d[3]);
  uint32_t idx = match(g, sock, d, tkl, mid);
  if (idx == EMPTY) {
    g->st.unmatched++; /* late (after --timeout), duplicated, or foreign */
    return;
  }
  if (!answer_ok(g, idx, d, len)) {
    g->st.bad++;
  } else {
    uint64_t lat = now - g->slots[idx].sent_ns;
    g->st.ok++;
    hist_add(&g->st.lat, lat);
    g->st.t_last = now;
  }
  slot_release(g, idx);
}

struct recvbatch {
  struct mmsghdr msg[BATCH];
  struct iovec iov[BATCH];
  uint8_t buf[BATCH][DGRAM_MAX];
};

static void recv_socket(struct gen *g, struct recvbatch *rb, uint32_t sock, int flags)
{
  for (int i = 0; i < BATCH; i++)
    rb->msg[i].msg_hdr = (struct msghdr){ .msg_iov = &rb->iov[i], .msg_iovlen = 1 };
  int n = recvmmsg(g->fds[sock], rb->msg, BATCH, flags, NULL);
  if (n <= 0)
    return;
  uint64_t t = now_ns();
  for (int i = 0; i < n; i++) {
    if (rb->msg[i].msg_hdr.msg_flags & MSG_TRUNC)
      g->st.malformed++;
    else
      on_datagram(g, sock, rb->buf[i], rb->msg[i].msg_len, t);
  }
}

static void receive(struct gen *g, struct recvbatch *rb)
{
  if (g->cfg->ports == 1) {
    /* One socket: block in recvmmsg itself (SO_RCVTIMEO bounds the wait). */
    recv_socket(g, rb, 0, g->cfg->spin ? MSG_DONTWAIT : MSG_WAITFORONE);
    return;
  }
  static struct epoll_event ev[EPOLL_EVENTS];
  int n = epoll_wait(g->epfd, ev, EPOLL_EVENTS, g->cfg->spin ? 0 : 5);
  for (int i = 0; i < n; i++)
    recv_socket(g, rb, ev[i].data.u32, MSG_DONTWAIT);
}

/* ------------------------------------------------------------------ setup */

static int raise_nofile(unsigned need)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return -1;
  if (rl.rlim_cur >= need)
    return 0;
  struct rlimit want = { need, rl.rlim_max < need ? need : rl.rlim_max };
  /* Raising the hard limit needs CAP_SYS_RESOURCE. */
  if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
    fprintf(stderr,
            "coap-loadgen: cannot raise RLIMIT_NOFILE to %u: %s (hard limit %llu); run several\n"
            "  generators one after another, each with fewer --ports and its own --src-addr\n",
            need, strerror(errno), (unsigned long long)rl.rlim_max);
    return -1;
  }
  return 0;
}

/* Opens and connects source socket i.  With a first source address (IPv4),
 * every PORTS_PER_ADDR sockets move on to the next address, as one address's
 * ephemeral port range holds fewer than 30,000 ports. */
static int open_source(const struct addrinfo *srv, unsigned i, uint32_t first_src)
{
  int fd = socket(srv->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (first_src) {
    struct sockaddr_in src = { .sin_family = AF_INET };
    src.sin_addr.s_addr = htonl(first_src + i / PORTS_PER_ADDR);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0)
      goto fail;
  }
  if (connect(fd, srv->ai_addr, srv->ai_addrlen) != 0)
    goto fail;
  return fd;
fail:
  close(fd);
  return -1;
}

static int open_sockets(struct gen *g)
{
  const struct config *c = g->cfg;
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
                            .ai_flags = AI_NUMERICSERV };
  struct addrinfo *srv = NULL;
  int rc = getaddrinfo(c->host, c->port, &hints, &srv);
  if (rc != 0) {
    fprintf(stderr, "coap-loadgen: %s port %s: %s\n", c->host, c->port, gai_strerror(rc));
    return -1;
  }
  bool loop4 = srv->ai_family == AF_INET &&
               (ntohl(((struct sockaddr_in *)srv->ai_addr)->sin_addr.s_addr) >> 24) == 127;
  uint32_t first_src = 0;
  struct in_addr a;
  if (c->src_addr) {
    if (srv->ai_family != AF_INET || inet_pton(AF_INET, c->src_addr, &a) != 1) {
      fprintf(stderr, "coap-loadgen: --src-addr needs an IPv4 address and server\n");
      freeaddrinfo(srv);
      return -1;
    }
    first_src = ntohl(a.s_addr);
  } else if (loop4 && c->ports > PORTS_PER_ADDR) {
    first_src = 0x7f000001u;
  }
  int ret = 0;
  g->epfd = c->ports > 1 ? epoll_create1(EPOLL_CLOEXEC) : -1;
  for (unsigned i = 0; i < c->ports && ret == 0; i++) {
    g->fds[i] = open_source(srv, i, first_src);
    if (g->fds[i] < 0) {
      fprintf(stderr, "coap-loadgen: source socket %u of %u: %s\n", i + 1, c->ports, strerror(errno));
      ret = -1;
      break;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
    if (g->epfd >= 0 && epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->fds[i], &ev) != 0)
      ret = -1;
  }
  if (ret == 0 && c->ports == 1) {
    int buf = 4 << 20;
    struct timeval tv = { .tv_usec = 5000 };
    (void)setsockopt(g->fds[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (setsockopt(g->fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
      ret = -1;
  }
  freeaddrinfo(srv);
  return ret;
}

static uint64_t seed_state;

static uint32_t rnd(void)
{
  seed_state ^= seed_state << 13;
  seed_state ^= seed_state >> 7;
  seed_state ^= seed_state << 17;
  return (uint32_t)(seed_state >> 16);
}

static int gen_init(struct gen *g, const struct config *c)
{
  memset(g, 0, sizeof *g);
  g->cfg = c;
  g->epfd = -1;
  uint32_t hsize = 64;
  while (hsize < 2u * c->window)
    hsize <<= 1;
  g->hmask = hsize - 1;
  g->fds = calloc(c->ports, sizeof *g->fds);
  g->next_mid = calloc(c->ports, sizeof *g->next_mid);
  g->slots = calloc(c->window, sizeof *g->slots);
  g->free_list = calloc(c->window, sizeof *g->free_list);
  g->htab = malloc(hsize * sizeof *g->htab);
  if (!g->fds || !g->next_mid || !g->slots || !g->free_list || !g->htab)
    return -1;
  memset(g->htab, 0xff, hsize * sizeof *g->htab);
  for (unsigned i = 0; i < c->window; i++)
    g->free_list[g->free_top++] = c->window - 1 - i;
  seed_state = now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x2545F4914F6CDD1Dull;
  for (unsigned i = 0; i < c->ports; i++) {
    g->fds[i] = -1;
    g->next_mid[i] = (uint16_t)rnd();
  }
  g->gen_counter = rnd();
  if (encode_path(g, c->path) != 0) {
    fprintf(stderr, "coap-loadgen: path too long: %s\n", c->path);
    return -1;
  }
  return 0;
}

static void gen_free(struct gen *g)
{
  if (!g->cfg)
    return;
  for (unsigned i = 0; g->fds && i < g->cfg->ports; i++)
    if (g->fds[i] >= 0)
      close(g->fds[i]);
  if (g->epfd >= 0)
    close(g->epfd);
  free(g->fds);
  free(g->next_mid);
  free(g->slots);
  free(g->free_list);
  free(g->htab);
}

/* -------------------------------------------------------------------- run */

static void run(struct gen *g)
{
  static struct sendbatch sb;
  static struct recvbatch rb;
  const struct config *c = g->cfg;
  uint64_t budget = (uint64_t)c->ports * MID_BUDGET;
  uint64_t cap = c->count ? c->count : budget;
  for (int i = 0; i < BATCH; i++)
    rb.iov[i] = (struct iovec){ rb.buf[i], sizeof rb.buf[i] };

  uint64_t t0 = now_ns(), next_scan = t0 + 5000000ull;
  uint64_t deadline = t0 + (uint64_t)(c->duration * (double)NS_PER_S);
  g->st.t0 = g->st.t_last = t0;
  bool sending = true;
  for (;;) {
    uint64_t now = now_ns();
    if (sending && (g->st.issued >= cap || now >= deadline || interrupted)) {
      sending = false;
      g->st.budget_stop = g->st.issued >= budget && !c->count;
    }
    if (!sending && g->inflight == 0)
      break;
    if (now >= next_scan) {
      expire(g, now);
      next_scan = now + 5000000ull;
    }
    if (sending)
      fill(g, &sb, cap);
    receive(g, &rb);
  }
}

static void report(const struct gen *g)
{
  const struct config *c = g->cfg;
  const struct stats *st = &g->st;
  static const char *const modes[] = { "con", "non", "ping" };
  double elapsed = (double)(st->t_last - st->t0) / 1e9;
  double rps = elapsed > 0 ? (double)st->ok / elapsed : 0;
  double loss = st->sent ? 100.0 * (double)st->lost / (double)st->sent : 0;
  double p50 = hist_percentile_ns(&st->lat, 0.50) / 1e3;
  double p99 = hist_percentile_ns(&st->lat, 0.99) / 1e3;
  double mx = (double)st->lat.max_ns / 1e3;
  if (c->json) {
    printf("{\"mode\":\"%s\",\"window\":%u,\"ports\":%u,\"sent\":%" PRIu64 ",\"ok\":%" PRIu64
           ",\"lost\":%" PRIu64 ",\"loss_pct\":%.4f,\"bad\":%" PRIu64 ",\"malformed\":%" PRIu64
           ",\"unmatched\":%" PRIu64 ",\"send_errors\":%" PRIu64 ",\"elapsed_s\":%.6f,\"rps\":%.1f"
           ",\"p50_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f,\"budget_stop\":%s}\n",
           modes[c->mode], c->window, c->ports, st->sent, st->ok, st->lost, loss, st->bad,
           st->malformed, st->unmatched, st->send_errors, elapsed, rps, p50, p99, mx,
           st->budget_stop ? "true" : "false");
    return;
  }
  printf("%s window=%u ports=%u sent=%" PRIu64 " ok=%" PRIu64 " lost=%" PRIu64 " (%.3f%%) bad=%" PRIu64
         " malformed=%" PRIu64 " unmatched=%" PRIu64 " %.3fs %.0f req/s latency p50=%.1fus p99=%.1fus"
         " max=%.1fus%s\n",
         modes[c->mode], c->window, c->ports, st->sent, st->ok, st->lost, loss, st->bad, st->malformed,
         st->unmatched, elapsed, rps, p50, p99, mx, st->budget_stop ? " (stopped: message-ID budget)" : "");
}

/* ---------------------------------------------------------------- options */

static void usage(FILE *f)
{
  fprintf(f,
          "usage: coap-loadgen -p PORT [options]\n"
          "  -A, --host ADDR        server address (default 127.0.0.1)\n"
          "  -p, --port PORT        server port\n"
          "  -m, --mode MODE        con (default), non, or ping (empty CON, expects RST)\n"
          "  -w, --window N         requests in flight, 1..%d (default 1)\n"
          "  -P, --ports N          source ports (client sessions), 1..%d (default 1)\n"
          "  -n, --count N          stop after N requests (at most 65536 per port)\n"
          "  -d, --duration SEC     stop sending after SEC seconds (default 5, at most 3600;\n"
          "                         600 when only --count is given)\n"
          "  -t, --timeout MS       a request unanswered after MS ms is lost (default 2000)\n"
          "  -u, --path PATH        Uri-Path of the GET (default /)\n"
          "  -S, --src-addr ADDR    first IPv4 source address; every %d ports move on to\n"
          "                         the next one (default: the kernel's choice, or\n"
          "                         127.0.0.1 upwards for a loopback server)\n"
          "  -c, --expect-code C.DD response code to expect (default 2.05)\n"
          "  -s, --spin             poll without sleeping, so the generator's own wake-up\n"
          "                         latency stays out of the measurement (burns its core)\n"
          "  -j, --json             print the result as one JSON object\n",
          MAX_WINDOW, MAX_PORTS, PORTS_PER_ADDR);
}

static int parse_code(const char *s, unsigned *code)
{
  unsigned cls, det;
  char extra;
  if (sscanf(s, "%u.%u%c", &cls, &det, &extra) != 2 || cls > 7 || det > 31)
    return -1;
  *code = cls << 5 | det;
  return 0;
}

static int parse_option(struct config *c, int opt, const char *arg, bool *dur_set)
{
  unsigned long long v = 0;
  switch (opt) {
  case 'A': c->host = arg; return 0;
  case 'p': c->port = arg; return 0;
  case 'u': c->path = arg; return 0;
  case 'S': c->src_addr = arg; return 0;
  case 'j': c->json = true; return 0;
  case 's': c->spin = true; return 0;
  case 'c': return parse_code(arg, &c->expect_code);
  case 'm':
    if (strcmp(arg, "con") == 0) c->mode = MODE_CON;
    else if (strcmp(arg, "non") == 0) c->mode = MODE_NON;
    else if (strcmp(arg, "ping") == 0) c->mode = MODE_PING;
    else return -1;
    return 0;
  case 'w': if (parse_uint(arg, 1, MAX_WINDOW, &v)) return -1; c->window = (unsigned)v; return 0;
  case 'P': if (parse_uint(arg, 1, MAX_PORTS, &v)) return -1; c->ports = (unsigned)v; return 0;
  case 'n': if (parse_uint(arg, 1, (unsigned long long)MAX_PORTS * MID_BUDGET, &v)) return -1; c->count = v; return 0;
  case 't': if (parse_uint(arg, 1, 600000, &v)) return -1; c->timeout_ms = (unsigned)v; return 0;
  case 'd':
    if (parse_duration(arg, &c->duration))
      return -1;
    *dur_set = true;
    return 0;
  default: return -1;
  }
}

static int parse_args(int argc, char **argv, struct config *c)
{
  static const struct option longopts[] = {
    { "host", required_argument, NULL, 'A' },   { "port", required_argument, NULL, 'p' },
    { "mode", required_argument, NULL, 'm' },   { "window", required_argument, NULL, 'w' },
    { "ports", required_argument, NULL, 'P' },  { "count", required_argument, NULL, 'n' },
    { "duration", required_argument, NULL, 'd' }, { "timeout", required_argument, NULL, 't' },
    { "path", required_argument, NULL, 'u' },   { "expect-code", required_argument, NULL, 'c' },
    { "json", no_argument, NULL, 'j' },         { "spin", no_argument, NULL, 's' },
    { "src-addr", required_argument, NULL, 'S' },         { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  *c = (struct config){ .host = "127.0.0.1", .path = "", .mode = MODE_CON, .window = 1, .ports = 1,
                        .timeout_ms = 2000, .expect_code = 0x45, .duration = 5 };
  bool dur_set = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "A:p:m:w:P:n:d:t:u:c:S:jsh", longopts, NULL)) != -1) {
    if (opt == 'h') {
      usage(stdout);
      exit(0);
    }
    if (parse_option(c, opt, optarg, &dur_set) != 0) {
      if (opt != '?')
        fprintf(stderr, "coap-loadgen: bad value for -%c: %s\n", opt, optarg ? optarg : "");
      return -1;
    }
  }
  if (optind != argc || !c->port) {
    fprintf(stderr, "coap-loadgen: %s\n", c->port ? "unexpected argument" : "--port is required");
    return -1;
  }
  if (c->count && !dur_set)
    c->duration = 600;
  if (c->count > (uint64_t)c->ports * MID_BUDGET) {
    fprintf(stderr,
            "coap-loadgen: refusing %" PRIu64 " requests over %u port(s): more than %u per port would "
            "reuse message IDs within EXCHANGE_LIFETIME; use more --ports\n",
            c->count, c->ports, MID_BUDGET);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv)
{
  struct config cfg;
  if (parse_args(argc, argv, &cfg) != 0) {
    usage(stderr);
    return 2;
  }
  catch_stop_signals();

  static struct gen g;
  int rc = 2;
  if (raise_nofile(cfg.ports + 16) == 0 && gen_init(&g, &cfg) == 0 && open_sockets(&g) == 0) {
    run(&g);
    report(&g);
    rc = (g.st.bad || g.st.malformed || g.st.ok == 0) ? 1 : 0;
  }
  gen_free(&g);
  return rc;
}
