/*
 * net_internal.h -- the engine's structures (context, endpoint, session,
 * resource, timers, transmission queue) and the prototypes its modules
 * share.  Nothing here is part of the public API.
 */
#ifndef COAPKIT_NET_INTERNAL_H
#define COAPKIT_NET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "pdu_internal.h"

#define COAP_CONTAINER_OF(ptr, type, member)                                   \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---------------------------------------------------------------- timers */

typedef enum coap_timer_kind_t {
  COAP_TIMER_XMIT = 1,   /* a coap_queue_t: retransmission or lifetime */
  COAP_TIMER_KEEPALIVE,  /* a coap_session_t's keepalive */
  COAP_TIMER_IDLE,       /* the context's idle-session expiry */
  COAP_TIMER_TLS,        /* a coap_tls_t: DTLS flights, handshake deadline */
  COAP_TIMER_STREAM,     /* a coap_stream_t (tcp.c): silent or stalled peer */
  COAP_TIMER_MCAST,      /* a delayed answer to a group request (mcast.c) */
  COAP_TIMER_BLOCK,      /* the context's block-wise expiry (block.c) */
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
  COAP_IO_APP,         /* a coap_app_fd_t: the application's descriptor */
} coap_io_kind_t;

/* What an epoll event points at: the first member of its owner. */
typedef struct coap_io_t {
  int fd;
  uint8_t kind; /* coap_io_kind_t */
} coap_io_t;

#define COAP_BATCH 32
/* A context starts with this many receive/send slots and widens to
 * COAP_BATCH on its first read from a server endpoint: a one-shot client
 * then never maps (and faults in) the server's 400 kB of batch buffers. */
#define COAP_BATCH_SMALL 2
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
  unsigned width;    /* slots in use: COAP_BATCH_SMALL or COAP_BATCH */
  unsigned tx_count;
  unsigned rx_dirty; /* rx_msg slots the kernel wrote: reset before reuse */
  uint8_t rx_ready;  /* rx_msg set up once (their buffers never move) */
  int tx_fd;        /* the socket of the batch being processed, or -1 */
  int tx_connected; /* 1: no destination address (a connected socket) */
} coap_batch_t;

/* An application descriptor (coap_context_add_fd). */
typedef struct coap_app_fd_t {
  coap_io_t io;                 /* first: epoll data */
  struct coap_app_fd_t *next;
  coap_fd_handler_t handler;
  void *arg;
  uint32_t events;
} coap_app_fd_t;

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
  uint8_t echo_retry;     /* amp.c: already the repeat after a 4.01 Echo */
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
  /* The distinct local addresses a wildcard endpoint received on: server
   * sessions point into this list instead of each holding 116 bytes. */
  struct coap_local_addr_t *locals;
  unsigned nlocals;
};

typedef struct coap_local_addr_t {
  struct coap_local_addr_t *next;
  coap_address_t addr;
} coap_local_addr_t;

#define COAP_ENDPOINT_MAX_LOCALS 64 /* more: the session keeps its own */

/* ---------------------------------------------------------------- session */

#define COAP_ECHO_MAX 40 /* RFC 9175: an Echo value is 1 to 40 bytes */

/* A peer address of the IP families, without the room of a sockaddr_un:
 * 28 bytes instead of coap_address_t's 116.  AF_UNIX peers are kept whole
 * in the session's extension (sa_family says which). */
typedef union coap_peer_addr_t {
  struct sockaddr sa;
  struct sockaddr_in sin;
  struct sockaddr_in6 sin6;
} coap_peer_addr_t;

/* What an idle UDP server session does not need: allocated on first need.
 * Sessions without one point at coap_session_ext_none, a read-only zeroed
 * (defaults set) instance, so reads need no test; every write goes through
 * coap_session_ext() first (a stray write faults on the read-only page). */
typedef struct coap_session_ext_t {
  coap_session_t *session;        /* back pointer: ka_timer's owner */
  coap_queue_t *queue;            /* messages in flight, FIFO */
  coap_security_t *security;      /* client (D)TLS settings, or NULL */
  struct coap_tls_t *tls;         /* (D)TLS state (tls_internal.h), or NULL */
  struct coap_stream_t *stream;   /* TCP/TLS/WS state (tcp.c), or NULL */
  coap_address_t *mcast_addr;     /* multicast clients only */
  void *app_data;
  coap_timer_t ka_timer;
  uint64_t ping_stamp;            /* monotonic ms of the last refill */
  uint32_t retransmitted, duplicates; /* stats: only with traffic beyond
                                         request and answer */
  int ifindex;                    /* when it does not fit the session's */
  uint16_t mtu;
  uint16_t ka_mid;                /* message ID of the keepalive ping */
  uint8_t hops;
  uint8_t con_active;             /* outstanding CONs (NSTART) */
  uint8_t unix_bound;             /* local_own.cun path created by us */
  uint8_t ka_outstanding;         /* a keepalive ping is in flight */
  uint8_t pending_err;            /* a send saw ECONNREFUSED: nack soon */
  uint8_t ping_tokens;            /* empty-CON pings that may be answered */
  uint8_t echo_len;               /* amp.c, client: the server's last Echo */
  uint8_t echo[COAP_ECHO_MAX];
  coap_address_t local_own;       /* a local address not interned */
  coap_address_t remote_full;     /* AF_UNIX peer; the getter's full form */
} coap_session_ext_t;

extern const coap_session_ext_t coap_session_ext_none;

/* Sized for malloc's 16-byte granules (152 + 8 = 160): an idle UDP server
 * session holds only this.  Its hash is not kept: the chain is compared by
 * address, and a rehash recomputes it. */
struct coap_session_t {
  coap_io_t io;                   /* client sessions: own socket; else -1 */
  coap_context_t *context;
  coap_endpoint_t *endpoint;      /* server sessions */
  coap_session_t *hnext;          /* hash chain (server sessions) */
  coap_session_t *lru_prev, *lru_next; /* idle pool (unreferenced server) */
  coap_session_t *all_next, *all_prev; /* every session of the context */
  coap_session_ext_t *ext;        /* never NULL: see coap_session_ext_none */
  const coap_address_t *local;    /* interned, the endpoint's, or ext's */
  uint64_t id;                    /* never reused within the process */
  uint64_t last_activity;         /* monotonic ms */
  uint64_t created;               /* monotonic ms */
  coap_peer_addr_t remote;
  uint32_t sent, received;        /* stats */
  unsigned refcount;
  int16_t ifindex;                /* COAP_IFINDEX_IN_EXT: see ext->ifindex */
  uint16_t next_mid;
  uint8_t type;                   /* coap_session_type_t */
  uint8_t state;                  /* coap_session_state_t */
  uint8_t proto;                  /* coap_proto_t */
  unsigned in_lru : 1;
  unsigned dead : 1;              /* released while dispatching */
  unsigned in_htab : 1;
  unsigned verified : 1;          /* amp.c: the UDP peer proved its address */
};

#define COAP_IFINDEX_IN_EXT INT16_MIN

static inline int
coap_session_has_ext(const coap_session_t *s)
{
  return s->ext != &coap_session_ext_none;
}

/* s's writable extension, allocated on first call; NULL when out of memory. */
coap_session_ext_t *coap_session_ext(coap_session_t *s);
/* Records the interface a datagram came in on. */
void coap_session_set_ifindex(coap_session_t *s, int ifindex);
/* The remote address in full form (a copy into *out). */
void coap_session_remote(const coap_session_t *s, coap_address_t *out);
/* Sets the remote address.  Returns 0 when out of memory (AF_UNIX). */
int coap_session_set_remote(coap_session_t *s, const coap_address_t *a);
/* The remote address for sendmsg()/connect(): its sockaddr and length. */
const struct sockaddr *coap_session_remote_sa(const coap_session_t *s,
                                              socklen_t *len);
/* A writable local address owned by the session (client sessions bind and
 * fill it); s->local then points at it.  NULL when out of memory. */
coap_address_t *coap_session_own_local(coap_session_t *s);
/* Frees an endpoint's interned local addresses (after its sessions). */
void coap_endpoint_free_locals(coap_endpoint_t *ep);

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
  uint8_t obs_busy;                /* observe.c: notifying now */
  uint8_t obs_dirty;               /* observe.c: changed while notifying */
  uint32_t obs_seq;                /* observe.c: last Observe value sent */
  struct coap_observer_t *observers; /* observe.c */
};

/* ---------------------------------------------------------------- dedup */

/* The slots form a ring reused oldest first (every entry lives equally
 * long, so the oldest is the one closest to expiry), indexed by a chained
 * hash on (session, message ID): a lookup and an insert cost a few steps
 * whatever the load. */
typedef struct coap_dedup_t {
  uint64_t sid;        /* session id, 0 = free */
  uint64_t expiry;     /* monotonic ms */
  uint8_t *resp;       /* reply bytes: the slot's part of dedup_inline, or
                          heap (realloc'd only to grow) for longer ones */
  uint32_t next;       /* hash chain: slot index + 1, 0 ends it */
  uint16_t resp_cap;
  uint16_t resp_len;
  uint16_t mid;
  uint16_t bucket;     /* dedup_hash(sid, mid), kept for the unlink */
  uint8_t resp_heap;   /* resp is malloc'd */
} coap_dedup_t;

#define COAP_DEDUP_SLOTS 4096 /* power of two */
/* A context starts with this ring and widens it with its batch (first read
 * from a server endpoint): a client sees few messages, and a one-shot run
 * should not zero (and fault in) the server's 32 kB of chain heads. */
#define COAP_DEDUP_SLOTS_SMALL 64
#define COAP_DEDUP_INLINE 96  /* reply bytes kept without a malloc */

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
  coap_session_t *last_found;      /* session.c: the last hash hit */
  uint8_t reuseport;               /* udp.c: SO_REUSEPORT on endpoints */
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
  uint32_t *dedup_bucket;          /* 2 * dedup_slots chain heads (index + 1) */
  uint32_t dedup_next;             /* the ring's oldest slot, reused next */
  uint32_t dedup_slots;            /* ring size, a power of two */
  uint32_t dedup_bucket_mask;      /* 2 * dedup_slots - 1 */
  uint8_t *dedup_inline;           /* dedup_slots * COAP_DEDUP_INLINE */
  coap_security_t *security;       /* server (D)TLS settings */
  struct coap_tls_ctx_t *tls_ctx;  /* server SSL_CTX, cookie secret */
  void *app_data;
  coap_response_handler_t response_handler;
  coap_nack_handler_t nack_handler;
  coap_ping_handler_t ping_handler;
  coap_pong_handler_t pong_handler;
  coap_request_log_handler_t request_log;
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
  coap_app_fd_t *app_fds;          /* coap_context_add_fd */
  uint32_t csm_max_message_size;   /* tcp.c: our CSM's Max-Message-Size */
  unsigned stream_timeout_s;       /* tcp.c: silent/stalled peer limit */
  unsigned max_connections;        /* tcp.c: accepted streams at most */
  unsigned stream_conns;           /* tcp.c: accepted streams now */
  int ev_n;
  struct coap_lg_t *lg;            /* block.c: transfers in progress */
  struct coap_obs_client_t *obs_client; /* observe.c: our observations */
  size_t lg_total;                 /* block.c: bytes held by server uploads */
  size_t max_upload;               /* block.c: 0 = default */
  size_t max_upload_total;         /* block.c: 0 = default */
  uint32_t upload_timeout_ms;      /* block.c: 0 = default */
  uint16_t max_block_size;         /* block.c: 0 = 1024 */
  uint8_t lg_timer_ready;          /* block.c: lg_timer initialised */
  coap_timer_t lg_timer;           /* block.c: sweeps expired transfers */
  uint8_t rx_mcast;                /* the datagram in hand came to a group */
  uint32_t mcast_leisure_ms;       /* mcast.c: 0 = COAP_DEFAULT_LEISURE_MS */
  struct coap_delayed_t *delayed;  /* mcast.c: answers waiting to go */
  unsigned amp_factor;             /* amp.c: 0 = no amplification limit */
  uint8_t echo_key_ready;          /* amp.c: echo_key drawn */
  uint8_t echo_key[16];            /* amp.c: SipHash key of Echo values */
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
/* Grows the batch to COAP_BATCH slots (context.c); a no-op mid-batch. */
void coap_batch_widen(coap_context_t *ctx);
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
/* Changes the state; a change is signalled as COAP_EVENT_SESSION_STATE. */
void coap_session_set_state(coap_session_t *s, coap_session_state_t state);
void coap_sessions_free_all(coap_context_t *ctx);
int coap_token_in_use(const coap_session_t *s, const uint8_t *tok, size_t len);

/* reliability.c */
/* slots: a power of two (COAP_DEDUP_SLOTS_SMALL or COAP_DEDUP_SLOTS). */
int coap_dedup_init(coap_context_t *ctx, uint32_t slots);
void coap_dedup_free(coap_context_t *ctx);
/* Replaces a small ring by a full one (its entries are dropped: they are
 * a client's responses, long since matched). */
void coap_dedup_widen(coap_context_t *ctx);
/* Looks up (s, mid).  Returns 1 for a duplicate (and sets *slot), 0 for a
 * new message (and reserves *slot, may be NULL if the cache is full). */
int coap_dedup_check(coap_context_t *ctx, coap_session_t *s, uint16_t mid,
                     coap_dedup_t **slot);
void coap_dedup_store(coap_dedup_t *slot, const uint8_t *data, size_t len);
/* coap_dedup_store for every answered CON: the usual reply fits the slot. */
static inline void
coap_dedup_keep(coap_dedup_t *slot, const uint8_t *data, size_t len)
{
  if (slot && len <= slot->resp_cap) {
    memcpy(slot->resp, data, len);
    slot->resp_len = (uint16_t)len;
    return;
  }
  coap_dedup_store(slot, data, len);
}
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

/* block.c (RFC 7959) */
/* Server: a request carrying Block1 while the library does block-wise.
 * Returns 1 when resp is the whole answer (2.31, 4.08, 4.13); 0 when the
 * handler runs, with *body the reassembled request (caller frees) or NULL
 * to use req as it is. */
int coap_block_server_request(coap_session_t *s, const coap_pdu_t *req,
                              coap_pdu_t *resp, coap_pdu_t **body);
/* Client: a response to sent.  Returns 1 when block.c took it (asked for
 * the next block, or delivered the assembled body itself). */
int coap_block_client_response(coap_session_t *s, const coap_pdu_t *sent,
                               const coap_pdu_t *rcvd);
/* Client: a response no queued request matches (a notification, ...).
 * Returns 1 when it was ours. */
int coap_block_client_unsolicited(coap_session_t *s, const coap_pdu_t *rcvd);
void coap_block_session_gone(coap_session_t *s);
/* Server: a request for a later block of a response body block.c keeps;
 * returns 1 when resp is that block (the handler is not run). */
int coap_block_server_cached(coap_session_t *s, const coap_pdu_t *req,
                             coap_pdu_t *resp);
void coap_block_timer_fire(coap_context_t *ctx);
/* A copy of pdu (for session s, or pdu's) without the options in drop[]
 * and without payload; NULL on failure. */
coap_pdu_t *coap_pdu_clone_without(const coap_pdu_t *pdu, coap_session_t *s,
                                   const coap_option_num_t *drop, size_t ndrop,
                                   size_t extra);

/* mcast.c: sends len bytes to s's peer after a random Leisure delay. */
void coap_mcast_delay(coap_session_t *s, const uint8_t *data, size_t len);
void coap_mcast_timer_fire(coap_context_t *ctx, coap_timer_t *t);
void coap_mcast_session_gone(coap_session_t *s);

/* observe.c (RFC 7641) */
/* Before the handler: adds Observe to resp when req registers on r. */
void coap_observe_before(coap_resource_t *r, coap_session_t *s,
                         const coap_pdu_t *req, coap_pdu_t *resp);
/* After the handler: registers, or strips Observe from an error. */
void coap_observe_after(coap_resource_t *r, coap_session_t *s,
                        const coap_pdu_t *req, coap_pdu_t *resp);
/* The peer refused (RST) or never acknowledged a notification. */
void coap_observe_rst(coap_session_t *s, coap_mid_t mid);
void coap_observe_failed(coap_session_t *s, const coap_pdu_t *notification);
void coap_observe_resource_gone(coap_resource_t *r);
void coap_observe_session_gone(coap_session_t *s);
/* Client: remember an observation established by this exchange. */
void coap_observe_client_note(coap_session_t *s, const coap_pdu_t *sent,
                              const coap_pdu_t *rcvd);
/* Client: a notification.  Returns 1 with *req the registration request
 * when it is fresh and ours, 2 when ours but stale (RFC 7641 3.4), 0 when
 * no observation of ours has its token. */
int coap_observe_client_match(coap_session_t *s, const coap_pdu_t *rcvd,
                              const coap_pdu_t **req);
/* Client: the observation with rcvd's token ended (an error answer). */
void coap_observe_client_forget(coap_session_t *s, const coap_pdu_t *rcvd);

/* siphash.c: SipHash-2-4 of data under a 16-byte key. */
uint64_t coap_siphash24(const uint8_t key[16], const uint8_t *data,
                        size_t len);

/* amp.c (RFC 9175 Echo; amplification limit, section 2.4) */
#define COAP_DEFAULT_AMP_FACTOR 3
#define COAP_ECHO_LEN 12       /* 4 bytes of time, 8 of SipHash */
#define COAP_ECHO_WINDOW_S 300 /* how long an Echo value we made is good */
/* Writes the Echo value for s's peer at the context's time into
 * out[COAP_ECHO_LEN].  Returns 0 when no key could be drawn. */
int coap_echo_make(coap_context_t *ctx, const coap_session_t *s,
                   uint8_t out[COAP_ECHO_LEN]);
/* 1 when v is an Echo value we made for s's peer within the window. */
int coap_echo_check(coap_context_t *ctx, const coap_session_t *s,
                    const uint8_t *v, size_t len);
/* Server: resp (built for req) would exceed the limit for an unverified
 * UDP peer; replaces it with a 4.01 carrying an Echo unless req proves the
 * address.  Returns 1 when resp was replaced. */
int coap_amp_limit_slow(coap_session_t *s, const coap_pdu_t *req,
                        coap_pdu_t *resp);
static inline int
coap_amp_limit(coap_session_t *s, const coap_pdu_t *req, coap_pdu_t *resp)
{
  unsigned f = s->context->amp_factor;

  /* The factor first: with the limit off this is one load on the hot path. */
  if (!f || s->verified || s->proto != COAP_PROTO_UDP ||
      resp->used_size + COAP_UDP_HEADER_SIZE <=
          (size_t)f * (req->used_size + COAP_UDP_HEADER_SIZE))
    return 0;
  return coap_amp_limit_slow(s, req, resp);
}
/* Server: 1 when resp is the 4.01 Echo challenge coap_amp_limit made. */
int coap_amp_is_challenge(const coap_pdu_t *resp);
/* Client: when rcvd is a 4.01 with an Echo answering sent, the value is
 * kept for the session's later requests and, when repeat, the repeat of
 * sent carrying it is returned (a new PDU, new message ID); else NULL. */
coap_pdu_t *coap_echo_repeat(coap_session_t *s, const coap_pdu_t *sent,
                             const coap_pdu_t *rcvd, int repeat);
/* Client: pdu with the session's last Echo value added (a request without
 * one); may be a new PDU (pdu freed), never NULL when pdu is not. */
coap_pdu_t *coap_echo_add_last(coap_session_t *s, coap_pdu_t *pdu);

/* keepalive.c */
void coap_keepalive_start(coap_session_t *s);
void coap_keepalive_fire(coap_context_t *ctx, coap_session_t *s);
void coap_keepalive_apply(coap_context_t *ctx);
/* The keepalive ping with this mid got no answer. */
void coap_keepalive_failed(coap_session_t *s);
uint64_t coap_exchange_lifetime_ms(const coap_context_t *ctx);

#endif
