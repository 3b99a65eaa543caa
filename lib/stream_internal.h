/*
 * stream_internal.h -- CoAP over reliable transports (RFC 8323): the
 * framing codec (frame.c), the WebSocket layer (ws.c) and the stream
 * transport with its signalling (tcp.c).  Nothing here is public.
 */
#ifndef COAPKIT_STREAM_INTERNAL_H
#define COAPKIT_STREAM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "net_internal.h"

/* ---------------------------------------------------------------- frame.c */

/* RFC 8323 3.2: 1 (Len|TKL) + 0..4 (extended length) + 1 (code). */
#define COAP_TCP_HEADER_MAX 6
/* RFC 8323 5.3.1: what a peer may send before its CSM says otherwise. */
#define COAP_TCP_DEFAULT_MMS 1152

/* Bytes the header of a frame starting with b0 takes: 2, 3, 4 or 6. */
size_t coap_frame_header_size(uint8_t b0);
/* Looks at the start of a frame in data[0..avail).  Returns 1 and sets
 * *total (header + token + options + payload) once the header is complete,
 * 0 when more bytes are needed, -1 when the header is malformed (a TKL
 * above 8). */
int coap_frame_length(const uint8_t *data, size_t avail, uint64_t *total);

/* Zero-copy view of one whole frame (data[0..len) is exactly the frame),
 * like coap_pdu_view_udp: type is NON and mid 0 (TCP has neither). */
coap_parse_status_t coap_pdu_view_tcp(coap_pdu_t *pdu, const uint8_t *data,
                                      size_t len);
/* The same for a frame inside a WebSocket message (RFC 8323 4.4: Len is 0
 * and there is no extended length; the message delimits the frame). */
coap_parse_status_t coap_pdu_view_ws(coap_pdu_t *pdu, const uint8_t *data,
                                     size_t len);
/* Write the TCP (or WebSocket) header into the PDU's headroom; return the
 * first byte to send and set *len, or NULL when the PDU cannot be
 * encoded. */
const uint8_t *coap_pdu_encode_tcp(coap_pdu_t *pdu, size_t *len);
const uint8_t *coap_pdu_encode_ws(coap_pdu_t *pdu, size_t *len);

/* Incremental reassembly of frames from a byte stream split anyhow.  Whole
 * frames found in the input are handed out in place; only a frame that
 * spans reads is copied, into a buffer that grows to at most limit. */
typedef struct coap_frame_reader_t {
  uint8_t *buf;
  size_t used;
  size_t cap;
  size_t need;    /* size of the frame being assembled once known, else 0 */
  size_t limit;   /* largest frame accepted, header included */
} coap_frame_reader_t;

typedef enum coap_frame_status_t {
  COAP_FRAME_OK = 0,   /* all input consumed */
  COAP_FRAME_STOP,     /* the callback asked to stop */
  COAP_FRAME_BAD,      /* malformed header */
  COAP_FRAME_TOO_BIG,  /* a frame larger than limit (its size in *size) */
  COAP_FRAME_NOMEM
} coap_frame_status_t;

/* Called for each complete frame; non-zero stops the feed. */
typedef int (*coap_frame_cb_t)(void *arg, const uint8_t *frame, size_t len);

void coap_frame_reader_init(coap_frame_reader_t *r, size_t limit);
void coap_frame_reader_free(coap_frame_reader_t *r);
/* 1 while part of a frame waits for more bytes. */
int coap_frame_reader_partial(const coap_frame_reader_t *r);
coap_frame_status_t coap_frame_feed(coap_frame_reader_t *r,
                                    const uint8_t *data, size_t len,
                                    coap_frame_cb_t cb, void *arg,
                                    uint64_t *size);

/* ---------------------------------------------------------------- ws.c */

/* WebSocket (RFC 6455) as RFC 8323 section 4 uses it.  The state holds
 * the opening handshake and the reassembly of one message at a time. */
typedef struct coap_ws_t coap_ws_t;

typedef enum coap_ws_event_t {
  COAP_WS_NONE = 0,
  COAP_WS_MORE,        /* nothing complete yet */
  COAP_WS_OPEN,        /* the handshake completed */
  COAP_WS_MESSAGE,     /* a binary message: *msg, *msg_len */
  COAP_WS_CLOSE,       /* the peer closed (or the handshake failed) */
  COAP_WS_ERROR,       /* protocol violation: drop the connection */
  COAP_WS_TOO_BIG      /* a message larger than the limit */
} coap_ws_event_t;

/* is_client: masks what it sends, expects unmasked frames; host: the
 * Host header of the client's request.  limit: largest message. */
coap_ws_t *coap_ws_new(int is_client, const char *host, size_t limit);
void coap_ws_free(coap_ws_t *ws);
int coap_ws_is_open(const coap_ws_t *ws);
/* 1 while part of the upgrade, a frame or a message waits for more. */
int coap_ws_partial(const coap_ws_t *ws);
/* The client's Host header (RFC 6455 4.1: the URI's host, and its port
 * when not the default); 0 once the request was written, or when host is
 * empty, too long or not printable ASCII. */
int coap_ws_set_host(coap_ws_t *ws, const uint8_t *host, size_t len);
/* The client's upgrade request (written once, into out; returns its
 * length, 0 when out is too small). */
size_t coap_ws_client_request(coap_ws_t *ws, uint8_t *out, size_t cap);
/* Consumes input bytes one step at a time: returns an event and the
 * number of bytes it consumed in *used.  The caller loops until all input
 * is used or an event other than COAP_WS_MORE/MESSAGE/OPEN stops it.
 * Replies the protocol requires (the server's 101 or its refusal, a Pong,
 * a Close) are appended to *reply (reply_len in/out, reply_cap). */
coap_ws_event_t coap_ws_input(coap_ws_t *ws, const uint8_t *in, size_t len,
                              size_t *used, const uint8_t **msg,
                              size_t *msg_len, uint8_t *reply,
                              size_t *reply_len, size_t reply_cap);
/* A binary frame's header for a payload of len bytes (masked for a
 * client, with the mask key in the header); returns the header length
 * (at most 14).  The caller masks the payload with coap_ws_mask. */
size_t coap_ws_frame_header(coap_ws_t *ws, uint8_t opcode, uint64_t len,
                            uint8_t hdr[14], uint8_t key[4]);
void coap_ws_mask(uint8_t *data, size_t len, const uint8_t key[4],
                  size_t offset);
/* RFC 6455 4.2.2: base64(SHA-1(key + GUID)); out needs 29 bytes. */
int coap_ws_accept_key(const char *key, char out[29]);

#define COAP_WS_OP_CONT 0x0
#define COAP_WS_OP_TEXT 0x1
#define COAP_WS_OP_BINARY 0x2
#define COAP_WS_OP_CLOSE 0x8
#define COAP_WS_OP_PING 0x9
#define COAP_WS_OP_PONG 0xA

/* ---------------------------------------------------------------- tcp.c */

int coap_tcp_endpoint_open(coap_endpoint_t *ep, const coap_address_t *addr);
int coap_tcp_client_open(coap_session_t *s, const coap_address_t *local_if,
                         const coap_address_t *server);
/* Readiness of an endpoint (accept) or a stream session (I/O). */
void coap_tcp_endpoint_event(coap_context_t *ctx, coap_endpoint_t *ep);
void coap_tcp_session_event(coap_context_t *ctx, coap_session_t *s,
                            uint32_t events);
/* Sends a PDU on a stream session (does not take it). 1 on success. */
int coap_stream_send_pdu(coap_session_t *s, coap_pdu_t *pdu);
/* The stream timeout of a session expired. */
void coap_stream_timer_fire(coap_context_t *ctx, coap_timer_t *t);
/* Frees the stream state of a session (called by session_destroy). */
void coap_stream_free(coap_session_t *s);
/* coap_session_disconnected on a stream session: close it soon. */
void coap_stream_disconnected(coap_session_t *s);

/* ---------------------------------------------------------------- reliability.c */

/* A request or response received on a stream session (no type, no ID:
 * matched by token, never acknowledged or deduplicated). */
void coap_handle_reliable(coap_session_t *s, coap_pdu_t *pdu);
/* A Pong: completes the Ping with the same token.  1 if one waited. */
int coap_queue_pong(coap_session_t *s, const coap_pdu_t *rcvd);

#endif
