/*
 * session_admin.h -- what coap-server offers about its sessions: the admin
 * socket that coap-session-dump --server reads, and the session event log
 * (-v 6 and above, or --log-json).
 *
 * The admin protocol (documented in coap-session-dump(1)): a client connects
 * to the Unix-domain stream socket, writes one command line, and reads JSON
 * lines until the server closes the connection.
 *   LIST      one session object per line (ck_session_info_to_json), then
 *             {"end":true,"count":N}
 *   anything else: {"error":"..."}
 * Only the server's own user (or root) may connect (SO_PEERCRED).
 */
#ifndef COAPKIT_SRC_SESSION_ADMIN_H
#define COAPKIT_SRC_SESSION_ADMIN_H

#include "coap.h"

#define CK_ADMIN_MAX_CONNECTIONS 16
#define CK_ADMIN_MAX_LINE 256

typedef struct ck_admin_t ck_admin_t;

/* Creates the socket at path (mode 0600; a stale socket file there is
 * replaced, any other file is an error) and serves it through ctx's loop.
 * Returns NULL after printing why. */
ck_admin_t *ck_admin_open(coap_context_t *ctx, const char *path);
/* Closes every connection and the socket, removes the path. */
void ck_admin_close(ck_admin_t *admin);

/* The "LIST" answer for ctx as a malloc'd string of JSON lines; NULL on
 * allocation failure.  Exposed for the tests. */
char *ck_admin_list(coap_context_t *ctx, size_t *len);

/* Registers ctx's event handler: each session's creation, state changes,
 * failures and end are logged with the session rendered (a text line
 * through the library log at info level; with json, one JSON object per
 * event on stderr: {"event":"...","time":"...","session":{...}}). */
void ck_session_log_install(coap_context_t *ctx, int json);
/* The name an event is logged under ("session-new", ...), NULL for events
 * the log leaves out. */
const char *ck_session_event_name(coap_event_t event);

#endif
