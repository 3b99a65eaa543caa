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

typedef struct ck_server_config_t {
  const char *addresses[CK_SERVER_MAX_ADDRESSES]; /* -A; none: 0.0.0.0, :: */
  size_t address_count;
  uint16_t port;              /* -p; 0 picks a free port */
  coap_log_t log_level;       /* -v */
  unsigned int max_dynamic;   /* -d */
  const char *port_file;      /* --port-file */
  unsigned int max_sessions;  /* --max-sessions, 0: no cap */
  unsigned int idle_timeout;  /* --idle-timeout, 0: the library default */
  ck_keys_t *keys;            /* PSK/certificates: DTLS when given */
  uint16_t dtls_port;         /* --dtls-port */
  int have_dtls_port;
  const char *dtls_port_file; /* --dtls-port-file */
} ck_server_config_t;

void ck_server_config_init(ck_server_config_t *cfg);

/* Serves until SIGINT or SIGTERM.  Returns the exit status. */
int ck_server_run(const ck_server_config_t *cfg);

#endif
