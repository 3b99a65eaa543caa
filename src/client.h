/*
 * client.h -- one CoAP request from a URI to an exit status: the URI is
 * split and resolved, a client session set up (a unique local socket path
 * for a Unix-domain peer), the request built and sent, and the event loop
 * driven until the response, a failure, or the deadline.  coap-client is a
 * thin front end to this; later tools reuse ck_target_open().
 */
#ifndef COAPKIT_SRC_CLIENT_H
#define COAPKIT_SRC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "coap.h"
#include "keys.h"
#include "options.h"

#define CK_MAX_EXTRA_OPTIONS 32
#define CK_DEFAULT_WAIT_MS 90000u

typedef struct ck_request_config_t {
  const char *uri;
  const char *proxy_uri;      /* -P: send to this proxy, uri in Proxy-Uri */
  uint8_t method;
  const char *payload_text;   /* -e */
  const char *payload_file;   /* -f, "-" for stdin */
  const char *output_file;    /* -o, "-" or NULL for stdout */
  int content_format;         /* -t, -1 when not given */
  int accept;                 /* -A, -1 when not given */
  size_t option_count;
  uint8_t token[COAP_TOKEN_MAX_LEN];
  size_t token_length;
  int have_token;             /* -T */
  int non;                    /* -N */
  uint32_t wait_ms;           /* -B */
  const char *local_address;  /* -a */
  int have_local_port;
  uint16_t local_port;        /* -p */
  int no_uri_host;            /* -U */
  int hop_limit;              /* -H, 0 when not given */
  int newline;                /* -w */
  int json;                   /* --json */
  int session_summary;        /* --session: the session on stderr after */
  unsigned int block_size;    /* -b: 16..1024, 0 when not given */
  unsigned int block_num;     /* -b num,size: the first block of a GET */
  uint32_t observe_ms;        /* -s: observe this long, 0: no */
  int mcast_hops;             /* --mcast-hops, 0 when not given */
  coap_log_t log_level;       /* -v */
  ck_keys_t *keys;            /* coaps:// security options, or NULL */
  int tcp;                    /* -r: coap:// over TCP, coaps:// over TLS */
  uint32_t max_message_size;  /* -X: our CSM's Max-Message-Size, 0: default */
  unsigned int keepalive_s;   /* -K: ping when idle this long, 0: never */
  /* Last: init leaves it alone (only option_count entries are read). */
  ck_option_arg_t options[CK_MAX_EXTRA_OPTIONS]; /* -O */
} ck_request_config_t;

/* Defaults: GET, no payload, 90 s deadline. */
void ck_request_config_init(ck_request_config_t *cfg);

/* Runs the exchange; prints the response or a diagnostic.  Returns the
 * exit status (exitcode.h). */
int ck_request_run(const ck_request_config_t *cfg);

/* A client session towards a coap:// URI, as the tools set it up. */
typedef struct ck_target_t {
  coap_uri_t uri;             /* views into the caller's URI string */
  coap_address_t remote;
  coap_address_t local;
  int have_local;
  char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  coap_context_t *context;
  coap_session_t *session;
  ck_keys_t *keys;            /* coaps:// (set before ck_target_open) */
  int tcp;                    /* -r (set before ck_target_open) */
  uint32_t max_message_size;  /* -X (set before ck_target_open) */
} ck_target_t;

/* A coap+ws:// or coaps+ws:// session's Host header from its URI (RFC 6455
 * 4.1): the host as written (an IPv6 literal in brackets, without a zone)
 * and the port unless it is the scheme's default.  Other sessions, and a
 * Unix-domain peer, keep the library's default. */
void ck_ws_host(coap_session_t *session, const coap_uri_t *uri);
/* Splits uri (coap:// only: other schemes are refused with a usage
 * error).  Returns 0, or the exit status after printing why. */
int ck_target_parse(ck_target_t *target, const char *uri);
/* Resolves the parsed URI and the optional local address/port, creates a
 * context and a client session.  Returns 0, or the exit status after
 * printing why. */
int ck_target_open(ck_target_t *target, const char *local_address,
                   int have_local_port, uint16_t local_port);
/* Releases the session and context, removes a Unix-domain local path. */
void ck_target_close(ck_target_t *target);

#endif
