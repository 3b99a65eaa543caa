/* coap-refresponder: the least a CoAP responder can do, as the physical
 * limit for the benchmark.  No state, no options parsed: every CON request
 * gets a piggy-backed ACK 2.05 echoing its message ID and token, every NON
 * request a NON 2.05 echoing its token, every empty CON (ping) an RST.
 * Datagrams are read and written in batches (recvmmsg/sendmmsg).
 *
 * Usage: coap-refresponder [-A ADDR] [-p PORT] [--port-file FILE]
 * Runs until SIGINT or SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BATCH = 64, DGRAM_MAX = 1500, REPLY_MAX = 4 + 8 };
enum { T_CON = 0, T_NON = 1, T_ACK = 2, T_RST = 3 };
#define CODE_CONTENT 0x45 /* 2.05 */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
  (void)sig;
  stop_flag = 1;
}

/* Builds the answer to one datagram into out; returns its length, or 0 when
 * the datagram deserves no answer (malformed, ACK, RST, or a response). */
static size_t answer(const uint8_t *in, size_t len, uint8_t *out, uint16_t *next_mid)
{
  if (len < 4 || (in[0] >> 6) != 1)
    return 0;
  unsigned type = (in[0] >> 4) & 3, tkl = in[0] & 0x0f, code = in[1];
  if (tkl > 8 || len < 4 + (size_t)tkl)
    return 0;
  if (code == 0) {
    /* Empty message: a CON one is a ping; anything else is ignored. */
    if (type != T_CON || len != 4 || tkl != 0)
      return 0;
    out[0] = (uint8_t)(0x40 | (T_RST << 4));
    out[1] = 0;
    out[2] = in[2];
    out[3] = in[3];
    return 4;
  }
  if ((code >> 5) != 0 || (type != T_CON && type != T_NON))
    return 0; /* only requests are answered */
  out[0] = (uint8_t)(0x40 | ((type == T_CON ? T_ACK : T_NON) << 4) | tkl);
  out[1] = CODE_CONTENT;
  if (type == T_CON) {
    out[2] = in[2];
    out[3] = in[3];
  } else {
    out[2] = (uint8_t)(*next_mid >> 8);
    out[3] = (uint8_t)*next_mid;
    (*next_mid)++;
  }
  memcpy(out + 4, in + 4, tkl);
  return 4 + (size_t)tkl;
}

static int open_socket(const char *addr, const char *port)
{
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
                            .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(addr, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "coap-refresponder: %s port %s: %s\n", addr, port, gai_strerror(rc));
    return -1;
  }
  int fd = socket(res->ai_family, SOCK_DGRAM, 0);
  int buf = 4 << 20;
  if (fd >= 0) {
    /* A larger receive buffer so bursts of a wide window are not dropped. */
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
      fprintf(stderr, "coap-refresponder: bind %s port %s: %s\n", addr, port, strerror(errno));
      close(fd);
      fd = -1;
    }
  } else {
    fprintf(stderr, "coap-refresponder: socket: %s\n", strerror(errno));
  }
  freeaddrinfo(res);
  return fd;
}

static int write_port_file(int fd, const char *path)
{
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
    return -1;
  unsigned port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return -1;
  FILE *f = fopen(tmp, "w");
  if (!f)
    return -1;
  int ok = fprintf(f, "%u\n", port) > 0;
  ok = (fclose(f) == 0) && ok;
  /* rename makes the file appear complete to a reader polling for it. */
  return ok && rename(tmp, path) == 0 ? 0 : -1;
}

static int serve(int fd)
{
  static uint8_t inbuf[BATCH][DGRAM_MAX], outbuf[BATCH][REPLY_MAX];
  static struct sockaddr_storage peers[BATCH];
  static struct mmsghdr in[BATCH], out[BATCH];
  static struct iovec iov_in[BATCH], iov_out[BATCH];
  uint16_t next_mid = (uint16_t)getpid();

  for (int i = 0; i < BATCH; i++) {
    iov_in[i] = (struct iovec){ inbuf[i], sizeof inbuf[i] };
    iov_out[i].iov_base = outbuf[i];
  }
  while (!stop_flag) {
    for (int i = 0; i < BATCH; i++)
      in[i].msg_hdr = (struct msghdr){ .msg_name = &peers[i], .msg_namelen = sizeof peers[i],
                                       .msg_iov = &iov_in[i], .msg_iovlen = 1 };
    int n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      fprintf(stderr, "coap-refresponder: recvmmsg: %s\n", strerror(errno));
      return 1;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
      if (in[i].msg_hdr.msg_flags & MSG_TRUNC)
        continue;
      size_t len = answer(inbuf[i], in[i].msg_len, outbuf[m], &next_mid);
      if (len == 0)
        continue;
      iov_out[m].iov_base = outbuf[m];
      iov_out[m].iov_len = len;
      out[m].msg_hdr = (struct msghdr){ .msg_name = &peers[i], .msg_namelen = in[i].msg_hdr.msg_namelen,
                                        .msg_iov = &iov_out[m], .msg_iovlen = 1 };
      m++;
    }
    for (int sent = 0; sent < m;) {
      int k = sendmmsg(fd, out + sent, (unsigned)(m - sent), 0);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        break; /* a lost answer is the generator's loss to report */
      sent += k;
    }
  }
  return 0;
}

static void usage(void)
{
  fprintf(stderr, "usage: coap-refresponder [-A ADDR] [-p PORT] [--port-file FILE]\n");
}

int main(int argc, char **argv)
{
  const char *addr = "127.0.0.1", *port = "5683", *port_file = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) {
      usage();
      return 1;
    }
    if (strcmp(a, "-A") == 0)
      addr = argv[++i];
    else if (strcmp(a, "-p") == 0)
      port = argv[++i];
    else if (strcmp(a, "--port-file") == 0)
      port_file = argv[++i];
    else {
      usage();
      return 1;
    }
  }
  struct sigaction sa = { .sa_handler = on_signal };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  int fd = open_socket(addr, port);
  if (fd < 0)
    return 1;
  if (port_file && write_port_file(fd, port_file) != 0) {
    fprintf(stderr, "coap-refresponder: cannot write %s\n", port_file);
    close(fd);
    return 1;
  }
  int rc = serve(fd);
  close(fd);
  return rc;
}
