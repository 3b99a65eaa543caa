/*
 * net_internal.h -- the engine's structures (context, endpoint, session,
 * resource, timers, transmission queue) and the prototypes its modules
 * share.  Nothing here is part of the public API.
 */
#ifndef COAPKIT_NET_INTERNAL_H
#define COAPKIT_NET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pdu_internal.h"

#define COAP_CONTAINER_OF(ptr, type, member)                                   \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---------------------------------------------------------------- timers */

typedef enum coap_timer_kind_t {
  COAP_TIMER_XMIT = 1,   /* a coap_queue_t: retransmission or lifetime */
  COAP_TIMER_KEEPALIVE,  /* a coap_session_t's keepalive */
  COAP_TIMER_IDLE,       /* the context's idle-session expiry */
} coap_timer_kind_t;

typedef struct coap_timer_t {
  uint64_t deadline;   /* monotonic ms */
  uint32_t heap_index; /* COAP_TIMER_IDLE_INDEX when not armed */
  uint8_t kind;        /* coap_timer_kind_t */
} coap_timer_t;

#define COAP_TIMER_IDLE_INDEX UINT32_MAX

void coap_timer_init(coap_timer_t *t, coap_timer_kind_t kind);
/* Arms (or moves) t to fire at deadline.  Returns 0 on allocation failure. */
int coap_timer_arm(coap_context_t *ctx, coap_timer_t *t, uint64_t deadline);
void coap_timer_cancel(coap_context_t *ctx, coap_timer_t *t);
static inline int
coap_timer_armed(const coap_timer_t *t)
{
  return t->heap_index != COAP_TIMER_IDLE_INDEX;
}

/* ---------------------------------------------------------------- I/O */

typedef enum coap_io_kind_t {
  COAP_IO_ENDPOINT = 1,
  COAP_IO_SESSION,
  COAP_IO_EVENTFD,
} coap_io_kind_t;

/* What an epoll event points at: the first member of its owner. */
typedef struct coap_io_t {
  int fd;
  uint8_t kind; /* coap_io_kind_t */
} coap_io_t;

#define COAP_BATCH 32
#define COAP_RX_SLOT 8192                      /* largest datagram accepted */
#define COAP_TX_SLOT (2048 + COAP_PDU_HEADROOM) /* a reply built in the batch */
#define COAP_CMSG_SPACE 64

/* One received datagram and the reply built for it, in the context's batch
 * buffers (allocated once per context). */
typedef struct coap_batch_t {
  uint8_t *rx;                 /* COAP_BATCH * COAP_RX_SLOT */
  uint8_t *tx;                 /* COAP_BATCH * COAP_TX_SLOT */
  struct mmsghdr rx_msg[COAP_BATCH];
  struct iovec rx_iov[COAP_BATCH];
  struct sockaddr_storage rx_name[COAP_BATCH];
  uint8_t rx_cmsg[COAP_BATCH][COAP_CMSG_SPACE];
  struct mmsghdr tx_msg[COAP_BATCH];
  struct iovec tx_iov[COAP_BATCH];
  coap_address_t tx_name[COAP_BATCH];
  uint8_t tx_cmsg[COAP_BATCH][COAP_CMSG_SPACE];
  unsigned tx_count;
  int tx_fd;        /* the socket of the batch being processed, or -1 */
  int tx_connected; /* 1: no destination address (a connected socket) */
} coap_batch_t;

/* ---------------------------------------------------------------- queue */

/* A message the library sent and still owns: a CON waiting for its ACK
 * (retransmitted by the timer), or a request (CON already acknowledged, or
 * NON) waiting for its response, or a CON waiting for NSTART. */
typedef struct coap_queue_t {
  struct coap_queue_t *next;
  coap_session_t *session;
  coap_pdu_t *pdu;
  coap_timer_t timer;
  uint32_t timeout_ms;    /* current retransmission timeout */
  coap_mid_t mid;
  uint8_t retransmits;    /* retransmissions done */
  uint8_t acked;          /* CON acknowledged, waiting for a response */
  uint8_t waiting;        /* queued behind NSTART: not sent yet */
} coap_queue_t;

/* ---------------------------------------------------------------- security */

/* Deep copies of what a session or context was given for (D)TLS. */
typedef struct coap_security_t {
  coap_bin_const_t psk_identity; /* s owned */
  coap_bin_const_t psk_key;      /* s owned */
  coap_bin_const_t psk_hint;     /* s owned */
  char *client_sni;
  int has_psk;
  int has_pki;
  coap_dtls_pki_t pki;           /* string members owned */
  coap_dtls_cpsk_t cpsk;         /* callbacks only; strings above */
  coap_dtls_spsk_t spsk;
  char *ca_file;
  char *ca_dir;
} coap_security_t;

void coap_security_free(coap_security_t *sec);
coap_security_t *coap_security_from_cpsk(const coap_dtls_cpsk_t *setup);
coap_security_t *coap_security_from_psk(const char *identity,
                                        const uint8_t *key, unsigned key_len);
coap_security_t *coap_security_from_pki(const coap_dtls_pki_t *setup);
coap_security_t *coap_security_from_spsk(const coap_dtls_spsk_t *setup);

/* ---------------------------------------------------------------- endpoint */

struct coap_endpoint_t {
  coap_io_t io;              /* first: epoll data */
  coap_endpoint_t *next;
  coap_context_t *context;
  coap_proto_t proto;
  int wildcard;              /* bound to INADDR_ANY / in6addr_any */
  coap_address_t bind_addr;  /* getsockname() */
};

/* ---------------------------------------------------------------- session */

struct coap_session_t {
  coap_io_t io;                   /* client sessions: own socket; else -1 */
  coap_context_t *context;
  coap_endpoint_t *endpoint;      /* server sessions */
  coap_session_t *hnext;          /* hash chain (server sessions) */
  coap_session_t *lru_prev, *lru_next; /* idle pool (unreferenced server) */
  coap_session_t *all_next, *all_prev; /* every session of the context */
  coap_queue_t *queue;            /* messages in flight, FIFO */
  coap_security_t *security;      /* client (D)TLS settings, or NULL */
  coap_address_t *mcast_addr;     /* multicast clients only */
  void *app_data;
  uint64_t id;                    /* never reused within the process */
  uint64_t last_activity;         /* monotonic ms */
  coap_session_stats_t stats;
  coap_address_t local;
  coap_address_t remote;
  coap_timer_t ka_timer;
  unsigned refcount;
  int ifindex;
  uint32_t hash;
  uint16_t mtu;
  uint16_t next_mid;
  uint8_t type;                   /* coap_session_type_t */
  uint8_t state;                  /* coap_session_state_t */
  uint8_t proto;                  /* coap_proto_t */
  uint8_t hops;
  uint8_t con_active;             /* outstanding CONs (NSTART) */
  uint8_t in_lru;
  uint8_t unix_bound;             /* local.cun path created by us */
  uint8_t ka_outstanding;         /* a keepalive ping is in flight */
  uint8_t dead;                   /* released while dispatching */
  uint8_t in_htab;
  uint8_t pending_err;            /* a send saw ECONNREFUSED: nack soon */
  uint16_t ka_mid;                /* message ID of the keepalive ping */
};

/* ---------------------------------------------------------------- resource */

typedef struct coap_attr_t {
  struct coap_attr_t *next;
  coap_str_const_t *name;
  coap_str_const_t *value;
  int flags;
} coap_attr_t;

struct coap_resource_t {
  coap_resource_t *hnext;
  coap_resource_t *lprev, *lnext; /* insertion order, for link-format */
  coap_context_t *context;
  coap_str_const_t *uri_path;
  coap_method_handler_t handler[7]; /* GET .. IPATCH */
  coap_attr_t *attrs;
  void *userdata;
  uint32_t hash;
  int flags;
  uint8_t observable;
  uint8_t is_unknown;
  uint8_t owns_path;
};

/* ---------------------------------------------------------------- dedup */

typedef struct coap_dedup_t {
  uint64_t sid;        /* session id, 0 = free */
  uint64_t expiry;     /* monotonic ms */
  uint8_t *resp;       /* reply bytes (realloc'd only to grow) */
  uint32_t resp_cap;
  uint16_t resp_len;
  uint16_t mid;
} coap_dedup_t;

#define COAP_DEDUP_SLOTS 4096
#define COAP_DEDUP_PROBE 16

/* ---------------------------------------------------------------- context */

struct coap_context_t {
  int epfd;
  coap_io_t evfd;
  uint64_t now;                    /* cached monotonic ms, one read per turn */
  coap_endpoint_t *endpoints;
  coap_session_t *sessions;        /* all sessions (doubly linked) */
  coap_session_t **htab;           /* server sessions by (endpoint, peer) */
  size_t htab_size;                /* power of two */
  unsigned server_sessions;
  unsigned session_count;
  unsigned max_sessions;
  unsigned session_timeout_s;
  unsigned keepalive_s;
  coap_session_t *lru_head, *lru_tail;
  coap_timer_t idle_timer;
  coap_timer_t **heap;
  uint32_t heap_len, heap_cap;
  coap_resource_t **rtab;          /* resources by path */
  coap_resource_t *rfirst, *rlast; /* the same, in insertion order */
  size_t rtab_size;
  size_t resource_count;
  coap_resource_t *unknown_resource;
  coap_batch_t *batch;
  coap_dedup_t *dedup;
  coap_security_t *security;       /* server (D)TLS settings */
  void *app_data;
  coap_response_handler_t response_handler;
  coap_nack_handler_t nack_handler;
  coap_ping_handler_t ping_handler;
  coap_pong_handler_t pong_handler;
  coap_event_handler_t event_handler;
  uint32_t block_mode;
  uint32_t ack_timeout_ms;
  uint32_t ack_random_factor_x1000;
  uint32_t max_retransmit;
  uint64_t next_session_id;
  int64_t wall_offset;             /* wall clock ms - monotonic ms */
  int in_dispatch;                 /* >0: frees of client sessions wait */
  coap_session_t *dead;            /* client sessions released meanwhile */
  void *ev_pending;                /* epoll events not handled yet */
  int ev_n;
};

/* ---------------------------------------------------------------- modules */

uint64_t coap_wallclock_ms(void);
uint64_t coap_context_now(coap_context_t *ctx);

/* loop.c */
int coap_loop_init(coap_context_t *ctx);
void coap_loop_free(coap_context_t *ctx);
int coap_loop_add(coap_context_t *ctx, coap_io_t *io);
void coap_loop_del(coap_context_t *ctx, coap_io_t *io);
void coap_session_reap(coap_context_t *ctx);

/* udp.c */
int coap_udp_endpoint_open(coap_endpoint_t *ep, const coap_address_t *addr);
int coap_udp_client_open(coap_session_t *s, const coap_address_t *local_if,
                         const coap_address_t *server);
void coap_udp_read(coap_context_t *ctx, coap_io_t *io);
/* Sends len bytes to the session's peer now.  Returns bytes or -1. */
ssize_t coap_udp_send(coap_session_t *s, const uint8_t *data, size_t len);
/* Queues a reply into the current batch when one is open for the session's
 * socket, else sends it now. */
int coap_udp_reply(coap_session_t *s, const uint8_t *data, size_t len);
int coap_udp_batch_slot(coap_context_t *ctx, uint8_t **buf, size_t *size);
void coap_udp_batch_commit(coap_context_t *ctx, coap_session_t *s,
                           const uint8_t *data, size_t len);

/* session.c */
coap_session_t *coap_session_new(coap_context_t *ctx, coap_session_type_t type,
                                 coap_proto_t proto);
void coap_session_free(coap_session_t *s);
coap_session_t *coap_session_find_server(coap_context_t *ctx,
                                         coap_endpoint_t *ep,
                                         const coap_address_t *peer);
coap_session_t *coap_session_get_server(coap_context_t *ctx,
                                        coap_endpoint_t *ep,
                                        const coap_address_t *peer,
                                        const coap_address_t *local);
void coap_session_touch(coap_session_t *s);
void coap_session_idle_expire(coap_context_t *ctx);
void coap_session_event(coap_session_t *s, coap_event_t ev);
void coap_sessions_free_all(coap_context_t *ctx);
int coap_token_in_use(const coap_session_t *s, const uint8_t *tok, size_t len);

/* reliability.c */
int coap_dedup_init(coap_context_t *ctx);
void coap_dedup_free(coap_context_t *ctx);
/* Looks up (s, mid).  Returns 1 for a duplicate (and sets *slot), 0 for a
 * new message (and reserves *slot, may be NULL if the cache is full). */
int coap_dedup_check(coap_context_t *ctx, coap_session_t *s, uint16_t mid,
                     coap_dedup_t **slot);
void coap_dedup_store(coap_dedup_t *slot, const uint8_t *data, size_t len);
void coap_queue_fire(coap_context_t *ctx, coap_queue_t *q);
void coap_queue_drop_all(coap_session_t *s, coap_nack_reason_t reason,
                         int call_nack);
void coap_handle_datagram(coap_session_t *s, const uint8_t *data, size_t len);
void coap_send_next_waiting(coap_session_t *s);
coap_mid_t coap_send_internal(coap_session_t *s, coap_pdu_t *pdu);
void coap_send_empty(coap_session_t *s, coap_pdu_type_t type, uint16_t mid);
void coap_session_io_error(coap_session_t *s, int err);

/* resource.c */
void coap_resources_free(coap_context_t *ctx);
void coap_handle_request(coap_session_t *s, coap_pdu_t *req,
                         coap_dedup_t *slot);

/* keepalive.c */
void coap_keepalive_start(coap_session_t *s);
void coap_keepalive_fire(coap_context_t *ctx, coap_session_t *s);
void coap_keepalive_apply(coap_context_t *ctx);
/* The keepalive ping with this mid got no answer. */
void coap_keepalive_failed(coap_session_t *s);
uint64_t coap_exchange_lifetime_ms(const coap_context_t *ctx);

#endif
