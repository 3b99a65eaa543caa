/*
 * server.h -- coap-server's run: endpoints, resources, the loop, and a clean
 * stop on SIGINT or SIGTERM.
 */
#ifndef COAPKIT_SRC_SERVER_H
#define COAPKIT_SRC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "coap.h"
#include "keys.h"

#define CK_SERVER_MAX_ADDRESSES 2
/* --max-connections default: TCP/TLS/WebSocket connections at once. */
#define CK_SERVER_MAX_CONNECTIONS 1024

typedef struct ck_server_config_t {
  const char *addresses[CK_SERVER_MAX_ADDRESSES]; /* -A; none: 0.0.0.0, :: */
  size_t address_count;
  uint16_t port;              /* -p; 0 picks a free port */
  coap_log_t log_level;       /* -v */
  unsigned int max_dynamic;   /* -d */
  const char *port_file;      /* --port-file */
  unsigned int max_sessions;  /* --max-sessions, 0: no cap */
  unsigned int idle_timeout;  /* --idle-timeout, 0: the library default */
  unsigned int keepalive_s;   /* -K: ping idle clients, 0: never */
  ck_keys_t *keys;            /* PSK/certificates: DTLS when given */
  uint16_t dtls_port;         /* --dtls-port */
  int have_dtls_port;
  const char *dtls_port_file; /* --dtls-port-file */
  const char *admin_path;     /* --admin: session list socket */
  int log_json;               /* --log-json: session events as JSON */
  int plugtest;               /* --plugtest: the ETSI plugtest resources */
  const char *groups[8];      /* -g: multicast groups to join */
  size_t group_count;
  const char *group_if;       /* -G: their interface */
  size_t max_upload;          /* --max-upload, 0: the library default */
  size_t max_upload_total;    /* --max-upload-total, 0: the default */
  unsigned int upload_timeout; /* --upload-timeout s, 0: default */
  unsigned int mcast_leisure; /* --mcast-leisure ms, 0: default */
  int no_tcp;                 /* --no-tcp */
  int tcp_port;               /* --tcp-port; -1: the UDP port */
  int tls_port;               /* --tls-port; -1: the DTLS port */
  int ws_port;                /* --ws-port; -1: no WebSocket listener */
  int wss_port;               /* --wss-port; -1: none */
  unsigned int stream_timeout;  /* --stream-timeout s, 0: default (30) */
  unsigned int max_connections; /* --max-connections */
  uint32_t max_message_size;  /* -X: our CSM's Max-Message-Size, 0: 8192 */
  const char *ports_file;     /* --ports-file: "proto port" lines */
  unsigned int workers;       /* --workers: processes on the UDP port */
  int amp_factor;             /* --amplification-factor; -1: default (3) */
} ck_server_config_t;

#define CK_SERVER_MAX_WORKERS 64

void ck_server_config_init(ck_server_config_t *cfg);

/* Serves until SIGINT or SIGTERM.  Returns the exit status. */
int ck_server_run(const ck_server_config_t *cfg);

#endif
