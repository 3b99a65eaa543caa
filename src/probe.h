/*
 * probe.h -- coap-keepalive-probe's engine: CoAP pings (an empty CON that a
 * live peer answers with RST over UDP and DTLS; a 7.02 Ping answered by a
 * 7.03 Pong over TCP, TLS and WebSockets) towards many targets from one
 * context, each target its own client session, reported as text, JSON
 * lines or the Prometheus text exposition format.
 * cmd/coap-keepalive-probe.c only reads the command line into a
 * ck_probe_config_t.
 */
#ifndef COAPKIT_SRC_PROBE_H
#define COAPKIT_SRC_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "coap.h"
#include "keys.h"

typedef enum ck_probe_format_t {
  CK_PROBE_TEXT = 0,
  CK_PROBE_JSON,
  CK_PROBE_PROMETHEUS
} ck_probe_format_t;

#define CK_PROBE_DEFAULT_COUNT 3
#define CK_PROBE_DEFAULT_INTERVAL_MS 1000u
#define CK_PROBE_DEFAULT_TIMEOUT_MS 2000u
#define CK_PROBE_DEFAULT_PARALLEL 100
#define CK_PROBE_DEFAULT_KEEPALIVE_S 30
/* A target line longer than this is refused (no URI is that long). */
#define CK_PROBE_MAX_URI 2048

typedef struct ck_probe_config_t {
  char *const *uris;           /* targets from the command line */
  size_t uri_count;
  const char *target_file;     /* -F: one URI a line, "-" for stdin */
  unsigned long count;         /* -c: pings per target, 0 = no limit */
  uint32_t interval_ms;        /* -i: from one ping's send to the next */
  uint32_t timeout_ms;         /* -W: a ping unanswered this long is lost */
  uint32_t deadline_ms;        /* -w: the whole run, 0 = none */
  unsigned long parallel;      /* --parallel: targets probed at once */
  unsigned long shard_index;   /* --shard I/N: targets k with k % N == I */
  unsigned long shard_count;   /* 0: no sharding */
  ck_probe_format_t format;
  int watch;                   /* --watch */
  unsigned int keepalive_s;    /* -K, with --watch */
  int quiet;                   /* -q: print nothing at all */
  coap_log_t log_level;        /* -v */
  ck_keys_t *keys;             /* PSK and certificates for coaps* targets */
} ck_probe_config_t;

void ck_probe_config_init(ck_probe_config_t *cfg);

/* Probes every target; returns 0 when every target answered, 1 when one
 * did not (or was not probed), 2 for a usage or set-up error. */
int ck_probe_run(const ck_probe_config_t *cfg);

/* Writes value as a Prometheus label value (backslash, double quote and
 * newline escaped) into out (at most cap bytes, NUL included).  Returns the
 * length it needs, without the NUL. */
size_t ck_prom_escape(const char *value, char *out, size_t cap);

#endif
