/*
 * session_dump.h -- coap-session-dump's two jobs: open a client session to a
 * URI, prove it works (a CoAP ping, optionally a GET) and print everything
 * it knows; or list a running coap-server's sessions through its admin
 * socket.
 */
#ifndef COAPKIT_SRC_SESSION_DUMP_H
#define COAPKIT_SRC_SESSION_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "coap.h"
#include "keys.h"

#define CK_DUMP_DEFAULT_WAIT_MS 10000u

typedef struct ck_dump_config_t {
  const char *uri;
  const char *server_path;   /* --server */
  uint32_t watch_ms;         /* --watch; 0: list once */
  uint32_t wait_ms;          /* -B */
  const char *local_address; /* -a */
  int have_local_port;
  uint16_t local_port;       /* -p */
  ck_keys_t *keys;           /* -u -k -h -c -j -C -R -n (src/keys.h) */
  int request;               /* --request */
  int json;                  /* --json */
  int show_key;              /* --show-key */
  coap_log_t log_level;      /* -v */
} ck_dump_config_t;

void ck_dump_config_init(ck_dump_config_t *cfg);

/* Exit 0 when the session was established, 1 when not, 2 on a usage error
 * found late (a bad URI). */
int ck_dump_session(const ck_dump_config_t *cfg);
/* Exit 0 when the list was read, 1 when the server could not be asked.
 * With watch_ms, repeats until SIGINT or SIGTERM (then 0). */
int ck_dump_server(const ck_dump_config_t *cfg);

#endif
