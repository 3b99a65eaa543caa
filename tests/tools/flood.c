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

/* One datagram from peer number i (its own address and port). */
static int
send_from_peer(long i, const uint8_t *msg, size_t len)
{
  struct sockaddr_in me;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

  if (fd < 0)
    return -1;
  memset(&me, 0, sizeof(me));
  me.sin_family = AF_INET;
  me.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i / PORTS_PER_ADDR));
  me.sin_port = htons((uint16_t)(FIRST_PORT + i % PORTS_PER_ADDR));
  if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0 &&
      sendto(fd, msg, len, 0, (struct sockaddr *)&server, sizeof(server)) ==
          (ssize_t)len)
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
                    "       coap-flood probe PORT COUNT INTERVAL_MS\n");
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
  fprintf(stderr, "coap-flood: unknown mode %s\n", argv[1]);
  return 2;
}
