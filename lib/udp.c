/*
 * udp.c -- datagram transport: server endpoints, client sockets, batched
 * reads (recvmmsg) and batched replies (sendmmsg), packet info for the
 * interface index and the reply's source address.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net_internal.h"
#include "stream_internal.h"
#include "tls_internal.h"

#define RCVBUF_WANTED (4 * 1024 * 1024)
#define MAX_BATCHES_PER_WAKEUP 8

static int
set_pktinfo(int fd, int family)
{
  int on = 1;

  if (family == AF_INET)
    return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
  if (family == AF_INET6)
    return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
  return 0;
}

static int
open_socket(int family)
{
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (fd < 0) {
    coap_log_err("socket: %s", strerror(errno));
    return -1;
  }
  if (set_pktinfo(fd, family) < 0)
    coap_log_debug("cannot enable packet info: %s", strerror(errno));
  return fd;
}

static void
fill_local(int fd, coap_address_t *addr)
{
  coap_address_init(addr);
  addr->size = sizeof(addr->addr);
  if (getsockname(fd, &addr->addr.sa, &addr->size) < 0)
    coap_address_init(addr);
}

static int
is_wildcard(const coap_address_t *a)
{
  if (a->addr.sa.sa_family == AF_INET)
    return a->addr.sin.sin_addr.s_addr == htonl(INADDR_ANY);
  if (a->addr.sa.sa_family == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&a->addr.sin6.sin6_addr);
  return 0;
}

static void
unlink_stale_unix(const coap_address_t *a)
{
  struct stat st;

  /* Only a leftover socket file, never a regular file someone named. */
  if (a->addr.cun.sun_path[0] && stat(a->addr.cun.sun_path, &st) == 0 &&
      S_ISSOCK(st.st_mode))
    unlink(a->addr.cun.sun_path);
}

/* ---------------------------------------------------------------- endpoints */

int
coap_udp_endpoint_open(coap_endpoint_t *ep, const coap_address_t *addr)
{
  int family = addr->addr.sa.sa_family, on = 1, rcvbuf = RCVBUF_WANTED;
  int fd;
  unsigned char pb[INET6_ADDRSTRLEN + 120];

  if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) {
    coap_log_err("coap_new_endpoint: unsupported address family %d", family);
    return 0;
  }
  fd = open_socket(family);
  if (fd < 0)
    return 0;
  ep->io.fd = fd;
  if (family == AF_INET6 &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0)
    coap_log_warn("IPV6_V6ONLY: %s", strerror(errno));
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
    coap_log_debug("SO_RCVBUF: %s", strerror(errno));
  if (family != AF_UNIX && ep->context->reuseport &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0)
    coap_log_warn("SO_REUSEPORT: %s", strerror(errno));
  if (family == AF_UNIX)
    unlink_stale_unix(addr);
  if (bind(fd, &addr->addr.sa, coap_address_socklen(addr)) < 0) {
    coap_print_addr(addr, pb, sizeof(pb));
    coap_log_err("coap_new_endpoint: bind %s: %s", pb, strerror(errno));
    return 0;
  }
  if (family == AF_UNIX)
    coap_address_copy(&ep->bind_addr, addr);
  else
    fill_local(fd, &ep->bind_addr);
  ep->wildcard = is_wildcard(&ep->bind_addr);
  return coap_loop_add(ep->context, &ep->io);
}

coap_endpoint_t *
coap_new_endpoint(coap_context_t *context, const coap_address_t *listen_addr,
                  coap_proto_t proto)
{
  coap_endpoint_t *ep;

  if (!context || !listen_addr)
    return NULL;
  if (proto != COAP_PROTO_UDP && proto != COAP_PROTO_DTLS &&
      !coap_proto_reliable(proto)) {
    coap_log_err("coap_new_endpoint: %s is not supported yet",
                 coap_proto_name(proto) ? coap_proto_name(proto) : "?");
    return NULL;
  }
  ep = calloc(1, sizeof(*ep));
  if (!ep)
    return NULL;
  ep->io.fd = -1;
  ep->io.kind = COAP_IO_ENDPOINT;
  ep->context = context;
  ep->proto = proto;
  if (coap_proto_reliable(proto) ? !coap_tcp_endpoint_open(ep, listen_addr)
                                 : !coap_udp_endpoint_open(ep, listen_addr)) {
    if (ep->io.fd >= 0)
      close(ep->io.fd);
    free(ep);
    return NULL;
  }
  ep->next = context->endpoints;
  context->endpoints = ep;
  return ep;
}

void
coap_free_endpoint(coap_endpoint_t *endpoint)
{
  coap_context_t *ctx;
  coap_endpoint_t **pp;
  coap_session_t *s, *next;

  if (!endpoint)
    return;
  ctx = endpoint->context;
  for (s = ctx->sessions; s; s = next) {
    next = s->all_next;
    if (s->endpoint == endpoint) {
      /* A session of this endpoint cannot outlive its socket. */
      s->refcount = 0;
      s->type = COAP_SESSION_TYPE_SERVER;
      coap_session_free(s);
    }
  }
  for (pp = &ctx->endpoints; *pp; pp = &(*pp)->next)
    if (*pp == endpoint) {
      *pp = endpoint->next;
      break;
    }
  if (endpoint->io.fd >= 0) {
    coap_loop_del(ctx, &endpoint->io);
    close(endpoint->io.fd);
  }
  if (endpoint->bind_addr.addr.sa.sa_family == AF_UNIX)
    unlink(endpoint->bind_addr.addr.cun.sun_path);
  coap_endpoint_free_locals(endpoint);
  free(endpoint);
}

const coap_address_t *
coap_endpoint_get_address(const coap_endpoint_t *ep)
{
  return ep ? &ep->bind_addr : NULL;
}

int
coap_join_mcast_group_intf(coap_context_t *context, const char *groupname,
                           const char *ifname)
{
  coap_address_t group;
  unsigned ifindex = 0;
  int joined = 0;

  if (!context || !groupname ||
      !coap_resolve_address(groupname, 0, AF_UNSPEC, &group) ||
      !coap_is_mcast(&group))
    return -1;
  if (ifname && !(ifindex = if_nametoindex(ifname)))
    return -1;
  for (coap_endpoint_t *ep = context->endpoints; ep; ep = ep->next) {
    int family = ep->bind_addr.addr.sa.sa_family, r;
    if (family != group.addr.sa.sa_family)
      continue;
    if (family == AF_INET) {
      struct ip_mreqn m = {.imr_multiaddr = group.addr.sin.sin_addr,
                           .imr_ifindex = (int)ifindex};
      r = setsockopt(ep->io.fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m));
    } else {
      struct ipv6_mreq m = {.ipv6mr_multiaddr = group.addr.sin6.sin6_addr,
                            .ipv6mr_interface = ifindex};
      r = setsockopt(ep->io.fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof(m));
    }
    if (r == 0)
      joined++;
    else
      coap_log_warn("cannot join %s: %s", groupname, strerror(errno));
  }
  return joined ? 0 : -1;
}

/* ---------------------------------------------------------------- clients */

static int
client_mcast_setup(coap_session_t *s)
{
  int hops = s->ext->hops;

  s->ext->mcast_addr = malloc(sizeof(*s->ext->mcast_addr));
  if (!s->ext->mcast_addr)
    return 0;
  coap_session_remote(s, s->ext->mcast_addr);
  if (s->remote.sa.sa_family == AF_INET6)
    return setsockopt(s->io.fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops,
                      sizeof(hops)) == 0;
  return setsockopt(s->io.fd, IPPROTO_IP, IP_MULTICAST_TTL, &hops,
                    sizeof(hops)) == 0;
}

static int
bind_any(int fd, int family)
{
  coap_address_t any;

  coap_address_init(&any);
  any.addr.sa.sa_family = (sa_family_t)family;
  if (bind(fd, &any.addr.sa, coap_address_socklen(&any)) == 0)
    return 1;
  coap_log_err("coap_new_client_session: bind: %s", strerror(errno));
  return 0;
}

int
coap_udp_client_open(coap_session_t *s, const coap_address_t *local_if,
                     const coap_address_t *server)
{
  int family = server->addr.sa.sa_family;
  coap_address_t remote;
  coap_address_t *own = coap_session_own_local(s);

  if (!own)
    return 0;
  if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) {
    coap_log_err("coap_new_client_session: unsupported address family %d",
                 family);
    return 0;
  }
  if (family == AF_UNIX && (!local_if || !local_if->addr.cun.sun_path[0])) {
    coap_log_err("coap_new_client_session: AF_UNIX needs a local path");
    return 0;
  }
  coap_address_copy(&remote, server);
  remote.size = coap_address_socklen(server);
  if (family != AF_UNIX && coap_address_get_port(server) == 0)
    coap_address_set_port(&remote, COAP_DEFAULT_PORT);
  if (!coap_session_set_remote(s, &remote))
    return 0;
  s->io.fd = open_socket(family);
  if (s->io.fd < 0)
    return 0;
  if (local_if) {
    if (bind(s->io.fd, &local_if->addr.sa, coap_address_socklen(local_if)) < 0) {
      coap_log_err("coap_new_client_session: bind: %s", strerror(errno));
      return 0;
    }
    if (family == AF_UNIX) {
      /* Recorded now so that a failure below still removes the file. */
      coap_address_copy(own, local_if);
      s->ext->unix_bound = 1;
    }
  }
  if (coap_is_mcast(&remote)) {
    /* Bound now, so that the local port is known before the first send. */
    if (!local_if && !bind_any(s->io.fd, family))
      return 0;
    if (!client_mcast_setup(s))
      return 0;
  } else if (family != AF_UNIX && connect(s->io.fd, &remote.addr.sa,
                     coap_address_socklen(&remote)) < 0) {
    coap_log_err("coap_new_client_session: connect: %s", strerror(errno));
    return 0;
  }
  if (family != AF_UNIX)
    fill_local(s->io.fd, own);
  return coap_loop_add(s->context, &s->io);
}

void
coap_context_set_reuseport(coap_context_t *context, int on)
{
  if (context)
    context->reuseport = on ? 1 : 0;
}

/* ---------------------------------------------------------------- sending */

static size_t
build_pktinfo(const coap_session_t *s, uint8_t *cbuf, size_t cap)
{
  struct msghdr m = {.msg_control = cbuf, .msg_controllen = cap};
  struct cmsghdr *c;

  if (!s->endpoint || !s->endpoint->wildcard || s->io.fd >= 0)
    return 0;
  memset(cbuf, 0, cap);
  c = CMSG_FIRSTHDR(&m);
  if (s->local->addr.sa.sa_family == AF_INET) {
    struct in_pktinfo pi = {.ipi_spec_dst = s->local->addr.sin.sin_addr};
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(pi));
    memcpy(CMSG_DATA(c), &pi, sizeof(pi));
    return CMSG_SPACE(sizeof(pi));
  }
  if (s->local->addr.sa.sa_family == AF_INET6) {
    struct in6_pktinfo pi = {.ipi6_addr = s->local->addr.sin6.sin6_addr};
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(pi));
    memcpy(CMSG_DATA(c), &pi, sizeof(pi));
    return CMSG_SPACE(sizeof(pi));
  }
  return 0;
}

static int
session_fd(const coap_session_t *s, int *connected)
{
  if (s->io.fd >= 0) {
    /* AF_UNIX clients stay unconnected: the server may not exist yet. */
    *connected = s->ext->mcast_addr == NULL &&
                 s->remote.sa.sa_family != AF_UNIX;
    return s->io.fd;
  }
  *connected = 0;
  return s->endpoint ? s->endpoint->io.fd : -1;
}

ssize_t
coap_udp_send(coap_session_t *s, const uint8_t *data, size_t len)
{
  ssize_t r = s->ext->tls && s->proto == COAP_PROTO_DTLS
                  ? coap_tls_send(s, data, len)
                  : coap_udp_send_raw(s, data, len);

  if (r < 0)
    return r;
  s->sent++;
  coap_session_touch(s);
  return r;
}

ssize_t
coap_udp_send_raw(coap_session_t *s, const uint8_t *data, size_t len)
{
  uint8_t cbuf[COAP_CMSG_SPACE];
  struct iovec iov = {.iov_base = (void *)(uintptr_t)data, .iov_len = len};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  int connected, fd = session_fd(s, &connected);
  ssize_t r;

  if (fd < 0)
    return -1;
  if (!connected) {
    m.msg_name = (void *)(uintptr_t)coap_session_remote_sa(s, &m.msg_namelen);
  }
  m.msg_controllen = build_pktinfo(s, cbuf, sizeof(cbuf));
  m.msg_control = m.msg_controllen ? cbuf : NULL;
  r = sendmsg(fd, &m, MSG_NOSIGNAL);
  if (r < 0) {
    int err = errno;
    if (err != EAGAIN && err != EWOULDBLOCK)
      coap_log_debug("send to %s: %s", coap_session_str(s), strerror(err));
    /* Reported through the queue's timer, not from inside coap_send. */
    if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH ||
        err == ENOENT) {
      if (coap_session_ext(s))
        s->ext->pending_err = 1;
    }
    errno = err;
    return -1;
  }
  return r;
}

int
coap_udp_batch_slot(coap_context_t *ctx, uint8_t **buf, size_t *size)
{
  coap_batch_t *b = ctx->batch;

  if (b->tx_fd < 0 || b->tx_count >= b->width)
    return 0;
  *buf = b->tx + (size_t)b->tx_count * COAP_TX_SLOT;
  *size = COAP_TX_SLOT;
  return 1;
}

void
coap_udp_batch_commit(coap_context_t *ctx, coap_session_t *s,
                      const uint8_t *data, size_t len)
{
  coap_batch_t *b = ctx->batch;
  int connected, fd = session_fd(s, &connected);
  unsigned i = b->tx_count;
  struct msghdr *m;

  if (fd != b->tx_fd || i >= b->width || s->ext->tls) {
    coap_udp_send(s, data, len);
    return;
  }
  m = &b->tx_msg[i].msg_hdr;
  b->tx_iov[i].iov_base = (void *)(uintptr_t)data;
  b->tx_iov[i].iov_len = len;
  m->msg_iov = &b->tx_iov[i];
  m->msg_iovlen = 1;
  m->msg_flags = 0;
  m->msg_name = NULL;
  m->msg_namelen = 0;
  if (!connected) {
    /* Only the bytes the kernel reads, not the whole coap_address_t. */
    if (s->remote.sa.sa_family == AF_INET) {
      m->msg_namelen = sizeof(struct sockaddr_in);
      b->tx_name[i].addr.sin = s->remote.sin;
    } else if (s->remote.sa.sa_family == AF_INET6) {
      m->msg_namelen = sizeof(struct sockaddr_in6);
      b->tx_name[i].addr.sin6 = s->remote.sin6;
    } else {
      const struct sockaddr *sa = coap_session_remote_sa(s, &m->msg_namelen);
      if (m->msg_namelen > sizeof(b->tx_name[i].addr))
        m->msg_namelen = sizeof(b->tx_name[i].addr);
      memcpy(&b->tx_name[i].addr, sa, m->msg_namelen);
    }
    m->msg_name = &b->tx_name[i].addr;
  }
  /* Only a wildcard endpoint has to say which address the reply is from. */
  m->msg_controllen = 0;
  m->msg_control = NULL;
  if (s->endpoint && s->endpoint->wildcard) {
    m->msg_controllen = build_pktinfo(s, b->tx_cmsg[i], COAP_CMSG_SPACE);
    m->msg_control = m->msg_controllen ? b->tx_cmsg[i] : NULL;
  }
  b->tx_count++;
  s->sent++;
  /* The datagram being answered touched the session this very turn. */
  if (s->last_activity != ctx->now || !ctx->in_dispatch)
    coap_session_touch(s);
}

int
coap_udp_reply(coap_session_t *s, const uint8_t *data, size_t len)
{
  uint8_t *buf;
  size_t size;

  if (!coap_udp_batch_slot(s->context, &buf, &size) || len > size ||
      s->context->batch->tx_fd != (s->io.fd >= 0 ? s->io.fd
                                   : s->endpoint ? s->endpoint->io.fd
                                                 : -1))
    return coap_udp_send(s, data, len) >= 0;
  memcpy(buf, data, len);
  coap_udp_batch_commit(s->context, s, buf, len);
  return 1;
}

static void
batch_flush(coap_context_t *ctx)
{
  coap_batch_t *b = ctx->batch;
  unsigned done = 0;

  while (done < b->tx_count) {
    int r = sendmmsg(b->tx_fd, b->tx_msg + done, b->tx_count - done,
                     MSG_NOSIGNAL);
    if (r > 0) {
      done += (unsigned)r;
      continue;
    }
    if (r < 0 && errno == ENOSYS) {
      for (; done < b->tx_count; done++)
        sendmsg(b->tx_fd, &b->tx_msg[done].msg_hdr, MSG_NOSIGNAL);
      break;
    }
    /* This one failed (peer gone, buffer full): UDP may lose it. */
    coap_log_debug("sendmmsg: %s", r < 0 ? strerror(errno) : "0 sent");
    done++;
  }
  b->tx_count = 0;
}

/* ---------------------------------------------------------------- receiving */

static void
rx_setup(coap_batch_t *b)
{
  for (unsigned i = 0; i < b->width; i++) {
    struct msghdr *m = &b->rx_msg[i].msg_hdr;
    b->rx_iov[i].iov_base = b->rx + (size_t)i * COAP_RX_SLOT;
    b->rx_iov[i].iov_len = COAP_RX_SLOT;
    m->msg_name = &b->rx_name[i];
    m->msg_namelen = sizeof(b->rx_name[i]);
    m->msg_iov = &b->rx_iov[i];
    m->msg_iovlen = 1;
    m->msg_control = b->rx_cmsg[i];
    m->msg_controllen = COAP_CMSG_SPACE;
    m->msg_flags = 0;
  }
  b->rx_ready = 1;
  b->rx_dirty = 0;
}

static int
receive_batch(coap_batch_t *b, int fd)
{
  int n;

  /* The kernel rewrites only the lengths and flags of the slots it fills:
   * those alone are reset, not the whole batch on every read. */
  if (!b->rx_ready)
    rx_setup(b);
  for (unsigned i = 0; i < b->rx_dirty; i++) {
    struct msghdr *m = &b->rx_msg[i].msg_hdr;
    m->msg_namelen = sizeof(b->rx_name[i]);
    m->msg_controllen = COAP_CMSG_SPACE;
    m->msg_flags = 0;
  }
  b->rx_dirty = 0;
  n = recvmmsg(fd, b->rx_msg, b->width, MSG_DONTWAIT, NULL);
  if (n >= 0 || errno != ENOSYS) {
    b->rx_dirty = n > 0 ? (unsigned)n : 0;
    return n;
  }
  b->rx_dirty = 1;
  n = (int)recvmsg(fd, &b->rx_msg[0].msg_hdr, MSG_DONTWAIT);
  if (n < 0)
    return -1;
  b->rx_msg[0].msg_len = (unsigned)n;
  return 1;
}

/* Interface index and destination address of a received datagram. */
static inline int
parse_pktinfo(struct msghdr *m, coap_address_t *local, uint16_t port)
{
  struct cmsghdr *first = CMSG_FIRSTHDR(m);

  /* The usual case, an IPv4 endpoint that needs only the interface: the
   * one control message read without the walk. */
  if (!local && first && first->cmsg_level == IPPROTO_IP &&
      first->cmsg_type == IP_PKTINFO &&
      first->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
    struct in_pktinfo pi;
    memcpy(&pi, CMSG_DATA(first), sizeof(pi));
    return pi.ipi_ifindex;
  }
  for (struct cmsghdr *c = first; c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      if (local) {
        coap_address_init(local);
        local->addr.sin.sin_family = AF_INET;
        local->addr.sin.sin_addr = pi.ipi_addr;
        local->addr.sin.sin_port = port;
        local->size = sizeof(struct sockaddr_in);
      }
      return pi.ipi_ifindex;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      if (local) {
        coap_address_init(local);
        local->addr.sin6.sin6_family = AF_INET6;
        local->addr.sin6.sin6_addr = pi.ipi6_addr;
        local->addr.sin6.sin6_port = port;
        local->size = sizeof(struct sockaddr_in6);
      }
      return (int)pi.ipi6_ifindex;
    }
  }
  return -1;
}

static inline void
peer_from(coap_address_t *peer, const struct msghdr *m)
{
  if (m->msg_namelen > sizeof(peer->addr) ||
      m->msg_namelen < sizeof(sa_family_t)) {
    coap_address_init(peer);
    return;
  }
  /* Per datagram: an IP peer needs only its sockaddr, not a cleared
   * coap_address_t (readers go by the family). */
  if (m->msg_namelen == sizeof(peer->addr.sin)) {
    memcpy(&peer->addr.sin, m->msg_name, sizeof(peer->addr.sin));
  } else if (m->msg_namelen == sizeof(peer->addr.sin6)) {
    memcpy(&peer->addr.sin6, m->msg_name, sizeof(peer->addr.sin6));
  } else {
    if (m->msg_namelen < sizeof(peer->addr.sin6))
      memset(&peer->addr.sin6, 0, sizeof(peer->addr.sin6));
    memcpy(&peer->addr, m->msg_name, m->msg_namelen);
  }
  peer->size = m->msg_namelen;
  if (peer->addr.sa.sa_family == AF_UNIX &&
      m->msg_namelen < sizeof(peer->addr.cun))
    /* Paths arrive without a NUL when they fill the name: terminate. */
    ((char *)&peer->addr)[m->msg_namelen] = '\0';
}

static void
endpoint_datagram(coap_endpoint_t *ep, struct msghdr *m, const uint8_t *data,
                  size_t len)
{
  coap_context_t *ctx = ep->context;
  coap_address_t peer, local, *lp = NULL;
  coap_session_t *s;
  int ifindex;
  uint16_t port = ep->bind_addr.addr.sa.sa_family == AF_INET6
                      ? ep->bind_addr.addr.sin6.sin6_port
                      : ep->bind_addr.addr.sin.sin_port;

  peer_from(&peer, m);
  ifindex = parse_pktinfo(m, ep->wildcard ? &local : NULL, port);
  if (ep->wildcard && ifindex >= 0)
    lp = &local;
  if (ep->proto == COAP_PROTO_DTLS) {
    coap_dtls_endpoint_datagram(ep, &peer, lp, ifindex, data, len);
    return;
  }
  /* A group request: answers must not come from the group address. */
  ctx->rx_mcast = lp && coap_is_mcast(lp);
  if (ctx->rx_mcast)
    lp = NULL;
  s = coap_session_find_server(ctx, ep, &peer);
  if (!s)
    s = coap_session_get_server(ctx, ep, &peer, lp);
  if (!s)
    return;
  /* Nearly always the interface of the last datagram: skip the call. */
  if (ifindex >= 0 && ifindex != s->ifindex)
    coap_session_set_ifindex(s, ifindex);
  coap_handle_datagram(s, data, len);
  ctx->rx_mcast = 0;
}

static void
session_datagram(coap_session_t *s, struct msghdr *m, const uint8_t *data,
                 size_t len)
{
  int ifindex = parse_pktinfo(m, NULL, 0);

  if (ifindex >= 0)
    coap_session_set_ifindex(s, ifindex);
  if (s->ext->mcast_addr && m->msg_namelen > 0) {
    /* The responder's unicast address, until the next coap_send. */
    coap_address_t from;
    peer_from(&from, m);
    coap_session_set_remote(s, &from);
  }
  if (s->ext->tls)
    coap_dtls_session_datagram(s, data, len);
  else
    coap_handle_datagram(s, data, len);
}

static int
read_once(coap_context_t *ctx, coap_io_t *io)
{
  coap_batch_t *b;
  int n;

  if (io->kind == COAP_IO_ENDPOINT)
    coap_batch_widen(ctx);
  b = ctx->batch;
  n = receive_batch(b, io->fd);

  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
        io->kind == COAP_IO_SESSION)
      coap_session_io_error((coap_session_t *)(void *)io, errno);
    return 0;
  }
  b->tx_fd = io->fd;
  b->tx_count = 0;
  for (int i = 0; i < n; i++) {
    struct msghdr *m = &b->rx_msg[i].msg_hdr;
    const uint8_t *data = b->rx_iov[i].iov_base;
    size_t len = b->rx_msg[i].msg_len;
    if (m->msg_flags & MSG_TRUNC)
      continue; /* larger than any PDU we accept */
    if (io->kind == COAP_IO_ENDPOINT) {
      endpoint_datagram((coap_endpoint_t *)(void *)io, m, data, len);
    } else {
      coap_session_t *s = (coap_session_t *)(void *)io;
      if (s->dead)
        break;
      session_datagram(s, m, data, len);
    }
  }
  if (b->tx_count)
    batch_flush(ctx);
  b->tx_fd = -1;
  return n == (int)b->width;
}

void
coap_udp_read(coap_context_t *ctx, coap_io_t *io)
{
  /* Level-triggered: what is left after a few batches comes next turn. */
  for (int i = 0; i < MAX_BATCHES_PER_WAKEUP; i++) {
    if (io->kind == COAP_IO_SESSION && ((coap_session_t *)(void *)io)->dead)
      return;
    if (!read_once(ctx, io))
      return;
  }
}
