/*
 * address.c -- coap_address_t for AF_INET, AF_INET6 and AF_UNIX; printing,
 * resolving; the library's clocks and start-up.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "net_internal.h"

void
coap_address_init(coap_address_t *addr)
{
  if (!addr)
    return;
  memset(addr, 0, sizeof(*addr));
  addr->size = sizeof(addr->addr);
}

void
coap_address_copy(coap_address_t *dst, const coap_address_t *src)
{
  if (!dst || !src || dst == src)
    return;
  memcpy(dst, src, sizeof(*dst));
}

socklen_t
coap_address_socklen(const coap_address_t *addr)
{
  if (!addr)
    return 0;
  switch (addr->addr.sa.sa_family) {
  case AF_INET:
    return sizeof(struct sockaddr_in);
  case AF_INET6:
    return sizeof(struct sockaddr_in6);
  case AF_UNIX:
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                       strnlen(addr->addr.cun.sun_path,
                               sizeof(addr->addr.cun.sun_path)) + 1);
  default:
    return addr->size;
  }
}

int
coap_address_equals(const coap_address_t *a, const coap_address_t *b)
{
  if (!a || !b || a->addr.sa.sa_family != b->addr.sa.sa_family)
    return 0;
  switch (a->addr.sa.sa_family) {
  case AF_INET:
    return a->addr.sin.sin_port == b->addr.sin.sin_port &&
           a->addr.sin.sin_addr.s_addr == b->addr.sin.sin_addr.s_addr;
  case AF_INET6:
    return a->addr.sin6.sin6_port == b->addr.sin6.sin6_port &&
           memcmp(&a->addr.sin6.sin6_addr, &b->addr.sin6.sin6_addr,
                  sizeof(struct in6_addr)) == 0;
  case AF_UNIX:
    return strncmp(a->addr.cun.sun_path, b->addr.cun.sun_path,
                   sizeof(a->addr.cun.sun_path)) == 0;
  default:
    return 0;
  }
}

uint16_t
coap_address_get_port(const coap_address_t *addr)
{
  if (!addr)
    return 0;
  if (addr->addr.sa.sa_family == AF_INET)
    return ntohs(addr->addr.sin.sin_port);
  if (addr->addr.sa.sa_family == AF_INET6)
    return ntohs(addr->addr.sin6.sin6_port);
  return 0;
}

void
coap_address_set_port(coap_address_t *addr, uint16_t port)
{
  if (!addr)
    return;
  if (addr->addr.sa.sa_family == AF_INET)
    addr->addr.sin.sin_port = htons(port);
  else if (addr->addr.sa.sa_family == AF_INET6)
    addr->addr.sin6.sin6_port = htons(port);
}

int
coap_is_mcast(const coap_address_t *addr)
{
  if (!addr)
    return 0;
  if (addr->addr.sa.sa_family == AF_INET)
    return IN_MULTICAST(ntohl(addr->addr.sin.sin_addr.s_addr));
  if (addr->addr.sa.sa_family == AF_INET6)
    return IN6_IS_ADDR_MULTICAST(&addr->addr.sin6.sin6_addr) ||
           (IN6_IS_ADDR_V4MAPPED(&addr->addr.sin6.sin6_addr) &&
            addr->addr.sin6.sin6_addr.s6_addr[12] >= 224 &&
            addr->addr.sin6.sin6_addr.s6_addr[12] <= 239);
  return 0;
}

int
coap_is_af_unix(const coap_address_t *addr)
{
  return addr && addr->addr.sa.sa_family == AF_UNIX;
}

size_t
coap_print_addr(const coap_address_t *addr, unsigned char *buf, size_t len)
{
  char host[INET6_ADDRSTRLEN];
  int n = -1;

  if (!buf || len == 0)
    return 0;
  buf[0] = '\0';
  if (!addr)
    return 0;
  switch (addr->addr.sa.sa_family) {
  case AF_INET:
    if (inet_ntop(AF_INET, &addr->addr.sin.sin_addr, host, sizeof(host)))
      n = snprintf((char *)buf, len, "%s:%u", host,
                   ntohs(addr->addr.sin.sin_port));
    break;
  case AF_INET6:
    if (inet_ntop(AF_INET6, &addr->addr.sin6.sin6_addr, host, sizeof(host)))
      n = snprintf((char *)buf, len, "[%s]:%u", host,
                   ntohs(addr->addr.sin6.sin6_port));
    break;
  case AF_UNIX:
    n = snprintf((char *)buf, len, "%.*s",
                 (int)sizeof(addr->addr.cun.sun_path), addr->addr.cun.sun_path);
    break;
  default:
    break;
  }
  if (n < 0) {
    buf[0] = '\0';
    return 0;
  }
  return (size_t)n < len ? (size_t)n : len - 1;
}

int
coap_resolve_address(const char *host, uint16_t port, int family,
                     coap_address_t *addr)
{
  struct addrinfo hints, *res = NULL, *ai;
  char service[8];
  int ok = 0;

  if (!host || !addr)
    return 0;
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
    return 0;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = family;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  snprintf(service, sizeof(service), "%u", port);
  if (getaddrinfo(host[0] ? host : NULL, service, &hints, &res) != 0)
    return 0;
  for (ai = res; ai; ai = ai->ai_next) {
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
        ai->ai_addrlen > sizeof(addr->addr))
      continue;
    coap_address_init(addr);
    memcpy(&addr->addr, ai->ai_addr, ai->ai_addrlen);
    addr->size = ai->ai_addrlen;
    ok = 1;
    break;
  }
  freeaddrinfo(res);
  return ok;
}

uint64_t
coap_ticks_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t
coap_wallclock_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
coap_startup(void)
{
}

void
coap_cleanup(void)
{
}
