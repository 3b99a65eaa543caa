/*
 * test_tcp.c -- CoAP over TCP and WebSockets end to end on loopback: two
 * contexts (server, client) in one process, plus raw sockets playing a
 * misbehaving peer.  Every wait is a bounded loop.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream_internal.h"
#include "loopback.h"
#include "tap.h"

static coap_context_t *server, *client;
static int responses, pongs, pings_seen, connected_events, closed_events;
static uint8_t last_code;
static char last_body[64];

static void
hello(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
      const coap_string_t *q, coap_pdu_t *resp)
{
  (void)r;
  (void)s;
  (void)req;
  (void)q;
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
  coap_add_data(resp, 5, (const uint8_t *)"world");
}

static void
sink(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
     const coap_string_t *q, coap_pdu_t *resp)
{
  (void)r;
  (void)s;
  (void)req;
  (void)q;
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
}

static coap_response_t
on_response(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
            const coap_mid_t mid)
{
  size_t len = 0;
  const uint8_t *data = NULL;

  (void)s;
  (void)sent;
  (void)mid;
  responses++;
  last_code = (uint8_t)coap_pdu_get_code(rcvd);
  coap_get_data(rcvd, &len, &data);
  if (len >= sizeof(last_body))
    len = sizeof(last_body) - 1;
  memcpy(last_body, data ? (const char *)data : "", len);
  last_body[len] = '\0';
  return COAP_RESPONSE_OK;
}

static void
on_pong(coap_session_t *s, const coap_pdu_t *rcvd, const coap_mid_t mid)
{
  (void)s;
  (void)rcvd;
  (void)mid;
  pongs++;
}

static void
on_ping(coap_session_t *s, const coap_pdu_t *rcvd, const coap_mid_t mid)
{
  (void)s;
  (void)rcvd;
  (void)mid;
  pings_seen++;
}

static int
on_event(coap_session_t *s, const coap_event_t ev)
{
  (void)s;
  if (ev == COAP_EVENT_SESSION_CONNECTED)
    connected_events++;
  if (ev == COAP_EVENT_SESSION_CLOSED || ev == COAP_EVENT_SESSION_FAILED)
    closed_events++;
  return 0;
}

/* Runs both loops (the client's waiting up to 10 ms a turn) until *counter
 * reaches want, or for all of max_turns when counter is NULL. */
static int
run_turns(const int *counter, int want, int max_turns)
{
  lb_loop_t l = {server, client, COAP_IO_NO_WAIT, 10, max_turns, 5000};

  return lb_run(&l, counter, want);
}

/* Until *counter reaches want or about 2 s (200 turns) pass. */
static int
wait_for(const int *counter, int want)
{
  return run_turns(counter, want, 200);
}

/* A few turns for traffic that no counter follows (closes, CSMs). */
static void
settle(void)
{
  run_turns(NULL, 0, 10);
}

static coap_endpoint_t *
listen_on(coap_proto_t proto, coap_address_t *addr)
{
  return lb_listen(server, proto, "127.0.0.1", AF_INET, addr);
}

static coap_pdu_t *
request(coap_session_t *s, coap_pdu_code_t code, const char *path,
        size_t payload)
{
  coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, code, s);
  uint8_t tok[4];
  size_t tl = sizeof(tok);

  if (!pdu)
    return NULL;
  coap_session_new_token(s, &tl, tok);
  coap_add_token(pdu, tl, tok);
  coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(path),
                  (const uint8_t *)path);
  if (payload) {
    uint8_t *d = coap_add_data_after(pdu, payload);
    if (d)
      memset(d, 'x', payload);
  }
  return pdu;
}

static void
test_exchange(coap_proto_t proto)
{
  coap_address_t addr;
  coap_endpoint_t *ep = listen_on(proto, &addr);
  coap_session_t *s;
  const char *name = coap_proto_name(proto);

  ok(ep != NULL, "%s: the server listens", name);
  if (!ep)
    return;
  connected_events = responses = pongs = 0;
  s = coap_new_client_session(client, NULL, &addr, proto);
  ok(s && coap_session_get_state(s) == COAP_SESSION_STATE_CONNECTING,
     "%s: a client session starts CONNECTING", name);
  if (!s)
    return;
  /* Sent before the connection is up: held behind the CSM. */
  ok(coap_send(s, request(s, COAP_REQUEST_CODE_GET, "hello", 0)) !=
         COAP_INVALID_MID,
     "%s: a request may be sent at once", name);
  ok(wait_for(&responses, 1) && last_code == COAP_RESPONSE_CODE_CONTENT &&
         strcmp(last_body, "world") == 0,
     "%s: GET /hello answers 2.05 world", name);
  ok(coap_session_get_state(s) == COAP_SESSION_STATE_ESTABLISHED &&
         connected_events >= 1,
     "%s: the session is ESTABLISHED after the peer's CSM", name);
  ok(coap_session_max_pdu_size(s) == 8192,
     "%s: the peer's Max-Message-Size is applied", name);
  ok(coap_session_send_ping(s) != COAP_INVALID_MID && wait_for(&pongs, 1),
     "%s: a 7.02 Ping is answered by a 7.03 Pong", name);
  ok(pings_seen >= 1, "%s: the server's ping handler saw it", name);
  ok(coap_send(s, request(s, COAP_REQUEST_CODE_PUT, "sink", 4000)) !=
         COAP_INVALID_MID &&
         wait_for(&responses, 2) && last_code == COAP_RESPONSE_CODE_CHANGED,
     "%s: a 4000-byte PUT crosses several reads", name);
  coap_session_release(s);
  settle();
  coap_free_endpoint(ep);
}

static void
test_too_big(void)
{
  coap_address_t addr;
  coap_endpoint_t *ep = listen_on(COAP_PROTO_TCP, &addr);
  coap_session_t *s;
  coap_pdu_t *large;
  uint8_t body[1000] = {0};
  int before;

  coap_context_set_csm_max_message_size(server, 300);
  s = coap_new_client_session(client, NULL, &addr, COAP_PROTO_TCP);
  responses = 0;
  coap_send(s, request(s, COAP_REQUEST_CODE_GET, "hello", 0));
  wait_for(&responses, 1);
  ok(coap_session_max_pdu_size(s) == 300,
     "a client honours the server's smaller Max-Message-Size");
  large = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_PUT, 0, 2000);
  coap_add_data(large, sizeof(body), body);
  ok(coap_send(s, large) == COAP_INVALID_MID,
     "a message over the peer's Max-Message-Size is not sent");
  coap_session_release(s);

  /* A peer that ignores our limit is aborted. */
  coap_context_set_csm_max_message_size(client, 100000);
  settle();
  before = (int)coap_context_get_session_count(server);
  {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    uint8_t csm[] = {0x00, 0xe1};
    uint8_t big[2000];
    uint8_t in[512];
    ssize_t n, got = 0;
    int abort_seen = 0, closed = 0;

    connect(fd, &addr.addr.sa, coap_address_socklen(&addr));
    send(fd, csm, sizeof(csm), MSG_NOSIGNAL);
    memset(big, 0, sizeof(big));
    big[0] = 0xe0; /* Len 14: 269 + 2 bytes */
    big[1] = (uint8_t)((1500 - 269) >> 8);
    big[2] = (uint8_t)(1500 - 269);
    big[3] = COAP_REQUEST_CODE_PUT;
    big[4] = 0xff;
    send(fd, big, 1505, MSG_NOSIGNAL);
    for (int i = 0; i < 200 && !closed; i++) {
      struct pollfd p = {fd, POLLIN, 0};
      coap_io_process(server, COAP_IO_NO_WAIT);
      if (poll(&p, 1, 10) > 0) {
        n = recv(fd, in + got, sizeof(in) - (size_t)got, 0);
        if (n <= 0)
          closed = 1;
        else
          got += n;
      }
    }
    /* Our CSM first, then the Abort (code 0xe5) with its diagnostic. */
    for (ssize_t i = 0; i < got; i++)
      if (in[i] == COAP_SIGNALING_CODE_ABORT)
        abort_seen = 1;
    ok(abort_seen && closed,
       "a frame over our Max-Message-Size is answered by Abort and a close");
    close(fd);
  }
  settle();
  ok(coap_context_get_session_count(server) == (unsigned)before,
     "the aborted session is gone");
  coap_context_set_csm_max_message_size(server, 0);
  coap_free_endpoint(ep);
}

/* Connects a raw socket, sends what, and reports whether the server closed
 * the connection within about max_ms. */
static int
server_closes(const coap_address_t *addr, const uint8_t *what, size_t len,
              int max_ms)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0), closed = 0;
  uint8_t in[512];

  if (connect(fd, &addr->addr.sa, coap_address_socklen(addr)) < 0) {
    close(fd);
    return 0;
  }
  if (len)
    send(fd, what, len, MSG_NOSIGNAL);
  for (int i = 0; i < max_ms / 10 && !closed; i++) {
    struct pollfd p = {fd, POLLIN, 0};
    coap_io_process(server, COAP_IO_NO_WAIT);
    if (poll(&p, 1, 10) > 0 && recv(fd, in, sizeof(in), 0) <= 0)
      closed = 1;
  }
  close(fd);
  return closed;
}

static void
test_defences(void)
{
  coap_address_t addr;
  coap_endpoint_t *ep = listen_on(COAP_PROTO_TCP, &addr);
  static const uint8_t garbage[] = "GET / HTTP/1.0\r\n\r\n";
  static const uint8_t stall[] = {0x00, 0xe1, 0xd0}; /* CSM, then 1 byte */
  coap_session_t *s;

  coap_context_set_stream_timeout(server, 1);
  ok(server_closes(&addr, garbage, sizeof(garbage) - 1, 1000),
     "garbage is dropped at once");
  ok(server_closes(&addr, NULL, 0, 3000),
     "a peer that never speaks is dropped after the stream timeout");
  ok(server_closes(&addr, stall, sizeof(stall), 3000),
     "a peer that stalls mid-frame is dropped after the stream timeout");
  ok(!server_closes(&addr, stall, 2, 300),
     "a quiet peer that sent its CSM is kept");

  /* Meanwhile a good client is not disturbed. */
  s = coap_new_client_session(client, NULL, &addr, COAP_PROTO_TCP);
  responses = 0;
  coap_send(s, request(s, COAP_REQUEST_CODE_GET, "hello", 0));
  ok(wait_for(&responses, 1) && last_code == COAP_RESPONSE_CODE_CONTENT,
     "a good client is served meanwhile");
  coap_session_release(s);
  settle();

  coap_context_set_max_connections(server, 1);
  {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    connect(fd, &addr.addr.sa, coap_address_socklen(&addr));
    for (int i = 0; i < 10; i++)
      coap_io_process(server, COAP_IO_NO_WAIT);
    ok(server_closes(&addr, NULL, 0, 500),
       "past --max-connections a new connection is closed at once");
    close(fd);
  }
  coap_context_set_max_connections(server, 0);
  coap_context_set_stream_timeout(server, 0);
  coap_free_endpoint(ep);
}

static void
test_ws_refused(void)
{
  coap_address_t addr;
  coap_endpoint_t *ep = listen_on(COAP_PROTO_WS, &addr);
  static const uint8_t req[] = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";

  ok(server_closes(&addr, req, sizeof(req) - 1, 1000),
     "WS: a bad upgrade request is refused and closed");
  coap_free_endpoint(ep);
}

int
main(void)
{
  coap_resource_t *r;

  coap_startup();
  coap_set_log_level(getenv("TEST_DEBUG") ? COAP_LOG_DEBUG : COAP_LOG_WARN);
  server = coap_new_context(NULL);
  client = coap_new_context(NULL);
  if (!server || !client)
    return 1;
  r = coap_resource_init(coap_make_str_const("hello"), 0);
  coap_register_handler(r, COAP_REQUEST_GET, hello);
  coap_add_resource(server, r);
  r = coap_resource_init(coap_make_str_const("sink"), 0);
  coap_register_handler(r, COAP_REQUEST_PUT, sink);
  coap_add_resource(server, r);
  coap_register_ping_handler(server, on_ping);
  coap_register_response_handler(client, on_response);
  coap_register_pong_handler(client, on_pong);
  coap_register_event_handler(client, on_event);
  ok(coap_tcp_is_supported() && coap_ws_is_supported(),
     "TCP and WebSockets are supported");
  test_exchange(COAP_PROTO_TCP);
  test_exchange(COAP_PROTO_WS);
  test_too_big();
  test_defences();
  test_ws_refused();
  coap_free_context(client);
  coap_free_context(server);
  coap_cleanup();
  return tap_done();
}
