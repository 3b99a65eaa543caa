/*
 * session_render.h -- the one way every tool shows a session: a snapshot of
 * everything the library tracks about it (ck_session_info_t), printed as a
 * text block (coap-session-dump), a one-line row like ss(8) (the server's
 * session list, the event log, coap-client --session) or a JSON object
 * (--json, the admin socket, --log-json).
 *
 * Fields that exist only with (D)TLS (library, version, cipher, the peer
 * certificate) are empty strings until a TLS layer fills them; they are
 * printed as "none" and as JSON null.
 */
#ifndef COAPKIT_SRC_SESSION_RENDER_H
#define COAPKIT_SRC_SESSION_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "coap.h"

#define CK_SI_ADDR 128 /* an address as text: "[v6]:port" or a socket path */
#define CK_SI_BIN 64   /* PSK identity, hint and key bytes kept */
#define CK_SI_TEXT 256 /* TLS strings */

typedef struct ck_session_info_t {
  uint64_t id;
  char type[8];   /* client, server, hello, none */
  char state[12]; /* none, connecting, handshake, csm, established */
  char proto[8];  /* UDP, DTLS, TCP, TLS, WS, WSS */
  char local[CK_SI_ADDR];
  char remote[CK_SI_ADDR];
  char mcast[CK_SI_ADDR]; /* "" when the session does not send to a group */
  int ifindex;            /* 0: nothing received yet */
  char ifname[32];
  unsigned mtu;
  unsigned max_pdu_size;
  unsigned mcast_hops;
  unsigned refcount;
  /* PSK: the bytes as text when printable, else "0x" and hex. */
  int has_identity, has_hint, has_key;
  char identity[2 * CK_SI_BIN + 3];
  char hint[2 * CK_SI_BIN + 3];
  char key[2 * CK_SI_BIN + 3]; /* "" once masked */
  size_t key_length;
  int key_masked;
  /* (D)TLS: "" when there is none. */
  char tls_library[32];
  char tls_version[32];
  char tls_cipher[CK_SI_TEXT];
  char cert_subject[CK_SI_TEXT];
  char cert_issuer[CK_SI_TEXT];
  char cert_not_before[40];
  char cert_not_after[40];
  char cert_sha256[100];
  char verify_result[CK_SI_TEXT];
  /* Counters. */
  uint64_t sent, received, retransmitted, duplicates;
  uint64_t created_ms;       /* wall clock, ms since the epoch */
  uint64_t last_activity_ms; /* wall clock, ms since the epoch */
} ck_session_info_t;

/* Snapshot of session (NULL gives a zeroed "none" snapshot).  The PSK key is
 * masked unless show_key. */
void ck_session_info_fill(ck_session_info_t *info, const coap_session_t *session,
                          int show_key);

/* The snapshot as a JSON object (caller deletes), or NULL on allocation
 * failure.  Documented field by field in coap-session-dump(1). */
cJSON *ck_session_info_to_json(const ck_session_info_t *info);
/* Reads back what ck_session_info_to_json wrote (missing members stay
 * empty/0).  Returns 0, or -1 when obj is not an object. */
int ck_session_info_from_json(ck_session_info_t *info, const cJSON *obj);

/* The text block: one "name  value" line per field. */
void ck_session_render_text(FILE *out, const ck_session_info_t *info);
/* Snapshot and text block in one go (coap-client --session); keys masked. */
void ck_session_print(FILE *out, const coap_session_t *session);
/* The ss-like table: a header line, and one row per session (no newline
 * added to buf; now_ms is the wall clock the idle time is counted from). */
void ck_session_render_header(FILE *out);
void ck_session_render_row(FILE *out, const ck_session_info_t *info,
                           uint64_t now_ms);
/* A short one-line summary for log lines:
 * "#3 server UDP 127.0.0.1:5683 <-> 127.0.0.1:40000 established ref 0
 *  psk-identity none hint none tls none". */
void ck_session_render_line(char *buf, size_t len, const ck_session_info_t *info);

/* Names used in every rendering. */
const char *ck_session_type_name(coap_session_type_t type);
const char *ck_session_state_name(coap_session_state_t state);
/* ISO 8601 UTC with milliseconds ("2025-01-02T03:04:05.678Z"); buf >= 32. */
void ck_format_time_ms(uint64_t ms, char *buf, size_t len);
/* Wall clock now, ms since the epoch. */
uint64_t ck_wallclock_ms(void);

#endif
