/*
 * flood.c -- coap-flood, the load the flood tests (tests/bats/flood.bats)
 * put on coap-server.  IPv4 loopback only; every loop is bounded in count
 * and in time.
 *
 *   coap-flood ports PORT COUNT
 *       one CON GET / from each of COUNT distinct peers (127.0.0.2 and up,
 *       ports 20000-59999): a socket is opened, bound, used once and closed.
 *       Prints "sent N".
 *   coap-flood pings PORT COUNT WAIT_MS
 *       COUNT empty CONs (pings) from one socket as fast as possible, then
 *       counts the RSTs that arrive within WAIT_MS.  Prints "rst N".
 *   coap-flood probe PORT COUNT INTERVAL_MS
 *       COUNT pings from one socket, one per INTERVAL_MS, each waiting up to
 *       INTERVAL_MS for its RST (a keepalive probe).  Prints "rst N".
 *   coap-flood uploads PORT PEERS BLOCKS
 *       PEERS peers, one after another, each start a Block1 PUT /upload and
 *       send BLOCKS blocks of 1024 bytes, all with M=1, so that none ever
 *       finishes; each block waits up to a second for its answer, and a
 *       peer stops at the first answer that is not 2.31 Continue.  Prints
 *       "continue N unavailable N other N lost N held N": the answers by
 *       code, and the bytes the server still holds for the peers that were
 *       never refused (a 5.03 drops the upload it answers).
 *
 * The server is 127.0.0.1:PORT.  Exit status 0, or 1 on a local error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FIRST_PORT 20000
#define PORTS_PER_ADDR 40000
#define MAX_COUNT 1000000
#define UPLOAD_BLOCK 1024
#define UPLOAD_MAX_BLOCKS 1024

static struct sockaddr_in server;

static uint64_t
now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
pause_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

static int
parse_count(const char *s, long max, long *out)
{
  char *end;
  long v;

  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 0 || v > max)
    return -1;
  *out = v;
  return 0;
}

/* A socket bound to peer number i's address and port, connected to the
 * server. */
static int
peer_socket(long i)
{
  struct sockaddr_in me;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  memset(&me, 0, sizeof(me));
  me.sin_family = AF_INET;
  me.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i / PORTS_PER_ADDR));
  me.sin_port = htons((uint16_t)(FIRST_PORT + i % PORTS_PER_ADDR));
  if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
      connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* One datagram from peer number i (its own address and port). */
static int
send_from_peer(long i, const uint8_t *msg, size_t len)
{
  int fd = peer_socket(i), rc = -1;

  if (fd < 0)
    return -1;
  if (send(fd, msg, len, 0) == (ssize_t)len)
    rc = 0;
  close(fd);
  return rc;
}

static int
flood_ports(long count)
{
  /* CON GET / with a 1-byte token: the server creates a session and
   * answers each. */
  uint8_t get[5] = {0x41, 0x01, 0, 0, 0x5a};
  long sent = 0, i;

  /* A peer whose port is taken by someone else is skipped: at most as many
   * tries again as the count asked for. */
  for (i = 0; sent < count && i < 2 * count; i++) {
    get[2] = (uint8_t)(i >> 8);
    get[3] = (uint8_t)i;
    if (send_from_peer(i, get, sizeof(get)) == 0)
      sent++;
    if (i % 512 == 511)
      pause_ms(1); /* a burst, not a wall: the server reads in batches */
  }
  printf("sent %ld\n", sent);
  return 0;
}

static int
ping_socket(void)
{
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0 || connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0) {
    perror("coap-flood: socket");
    exit(1);
  }
  return fd;
}

static int
send_ping(int fd, uint16_t mid)
{
  uint8_t ping[4] = {0x40, 0x00, (uint8_t)(mid >> 8), (uint8_t)mid};

  return send(fd, ping, sizeof(ping), 0) == 4 ? 0 : -1;
}

/* Counts RSTs until deadline (monotonic ms). */
static long
count_rsts(int fd, uint64_t deadline, long want)
{
  long n = 0;
  uint8_t buf[64];

  while (n < want) {
    uint64_t t = now_ms();
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t len;

    if (t >= deadline || poll(&p, 1, (int)(deadline - t)) != 1)
      break;
    len = recv(fd, buf, sizeof(buf), 0);
    if (len == 4 && (buf[0] & 0xf0) == 0x70 && buf[1] == 0)
      n++;
  }
  return n;
}

static int
flood_pings(long count, long wait_ms)
{
  int fd = ping_socket();

  for (long i = 0; i < count; i++)
    send_ping(fd, (uint16_t)(0x1000 + i));
  printf("rst %ld\n", count_rsts(fd, now_ms() + (uint64_t)wait_ms, count));
  close(fd);
  return 0;
}

static int
probe(long count, long interval_ms)
{
  int fd = ping_socket();
  long answered = 0;

  for (long i = 0; i < count; i++) {
    uint64_t next = now_ms() + (uint64_t)interval_ms;
    send_ping(fd, (uint16_t)(0x2000 + i));
    answered += count_rsts(fd, next, 1);
    if (now_ms() < next)
      pause_ms((long)(next - now_ms()));
  }
  printf("rst %ld\n", answered);
  close(fd);
  return 0;
}

/* CON PUT /upload, token 0x75, Block1 NUM/M=1/SZX 6, 1024 bytes of data. */
static size_t
upload_block(uint8_t *msg, uint16_t mid, long num)
{
  size_t n = 0;
  unsigned v = (unsigned)num << 4 | 8u | 6u;

  msg[n++] = 0x41;
  msg[n++] = 0x03;
  msg[n++] = (uint8_t)(mid >> 8);
  msg[n++] = (uint8_t)mid;
  msg[n++] = 0x75;
  msg[n++] = 0xb6; /* Uri-Path (11), 6 bytes */
  memcpy(msg + n, "upload", 6);
  n += 6;
  /* Block1 (27): delta 16 in the 13 form. */
  msg[n++] = (uint8_t)(0xd0 | (v > 0xff ? 2 : 1));
  msg[n++] = 27 - 11 - 13;
  if (v > 0xff)
    msg[n++] = (uint8_t)(v >> 8);
  msg[n++] = (uint8_t)v;
  msg[n++] = 0xff;
  memset(msg + n, 'u', UPLOAD_BLOCK);
  return n + UPLOAD_BLOCK;
}

/* The answer's code to the CON with this mid within a second, or -1. */
static int
await_ack(int fd, uint16_t mid)
{
  uint64_t deadline = now_ms() + 1000;
  uint8_t buf[256];

  for (;;) {
    uint64_t t = now_ms();
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t len;

    if (t >= deadline || poll(&p, 1, (int)(deadline - t)) != 1)
      return -1;
    len = recv(fd, buf, sizeof(buf), 0);
    if (len >= 4 && (buf[0] & 0xf0) == 0x60 &&
        buf[2] == (uint8_t)(mid >> 8) && buf[3] == (uint8_t)mid)
      return buf[1];
  }
}

static int
flood_uploads(long peers, long blocks)
{
  uint8_t msg[32 + UPLOAD_BLOCK];
  long cont = 0, full = 0, other = 0, lost = 0, held = 0;
  uint64_t deadline = now_ms() + 120000;
  uint16_t mid = 0x3000;

  if (blocks < 1 || blocks > UPLOAD_MAX_BLOCKS || peers > 10000) {
    fprintf(stderr, "coap-flood: uploads: at most 10000 peers of 1..%d blocks\n",
            UPLOAD_MAX_BLOCKS);
    return 2;
  }
  for (long i = 0; i < peers && now_ms() < deadline; i++) {
    int fd = peer_socket(i), code = 0x5f;
    long b;

    if (fd < 0) {
      perror("coap-flood: peer socket");
      return 1;
    }
    for (b = 0; b < blocks && code == 0x5f; b++, mid++) {
      if (send(fd, msg, upload_block(msg, mid, b), 0) < 0)
        code = -1;
      else
        code = await_ack(fd, mid);
      if (code == 0x5f)
        cont++;
    }
    close(fd);
    if (code == 0x5f)
      held += blocks * UPLOAD_BLOCK;
    else if (code == 0xa3)
      full++;
    else if (code < 0)
      lost++;
    else
      other++;
  }
  printf("continue %ld unavailable %ld other %ld lost %ld held %ld\n", cont,
         full, other, lost, held);
  return 0;
}

int
main(int argc, char **argv)
{
  long port, count, ms = 0;

  if (argc < 4 || parse_count(argv[2], 65535, &port) < 0 || port == 0 ||
      parse_count(argv[3], MAX_COUNT, &count) < 0 ||
      (strcmp(argv[1], "ports") != 0 &&
       (argc < 5 || parse_count(argv[4], 60000, &ms) < 0))) {
    fprintf(stderr, "usage: coap-flood ports PORT COUNT\n"
                    "       coap-flood pings PORT COUNT WAIT_MS\n"
                    "       coap-flood probe PORT COUNT INTERVAL_MS\n"
                    "       coap-flood uploads PORT PEERS BLOCKS\n");
    return 2;
  }
  memset(&server, 0, sizeof(server));
  server.sin_family = AF_INET;
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  server.sin_port = htons((uint16_t)port);
  if (strcmp(argv[1], "ports") == 0)
    return flood_ports(count);
  if (strcmp(argv[1], "pings") == 0)
    return flood_pings(count, ms);
  if (strcmp(argv[1], "probe") == 0)
    return probe(count, ms);
  if (strcmp(argv[1], "uploads") == 0)
    return flood_uploads(count, ms);
  fprintf(stderr, "coap-flood: unknown mode %s\n", argv[1]);
  return 2;
}
