/*
 * test_resources.c -- coap-server's resources (src/resources.c) against
 * hostile paths, through a real context over loopback.  Regression tests
 * for what fuzz_server found: "POST //" with -d named its new resource ""
 * (the library strips a leading '/'), which replaced and freed the root
 * resource, and a second one freed the first while the server still
 * listed it (a use after free).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pdu_internal.h"
#include "resources.h"
#include "tap.h"

static coap_context_t *ctx;
static ck_resources_t *res;
static const coap_address_t *server;
static int peer = -1;
static uint16_t next_mid = 1;

static int
setup(void)
{
  coap_address_t local;
  coap_endpoint_t *ep;
  struct sockaddr_in a;

  coap_address_init(&local);
  local.addr.sin.sin_family = AF_INET;
  local.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  local.size = sizeof(local.addr.sin);
  ctx = coap_new_context(NULL);
  ep = ctx ? coap_new_endpoint(ctx, &local, COAP_PROTO_UDP) : NULL;
  res = ctx ? ck_resources_add(ctx, 4) : NULL;
  /* The raw peer never repeats with an Echo: answers as they are. */
  coap_context_set_amplification_factor(ctx, 0);
  if (!ep || !res)
    return 0;
  server = coap_endpoint_get_address(ep);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  peer = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  return peer >= 0 && bind(peer, (struct sockaddr *)&a, sizeof(a)) == 0;
}

/* Sends a CON request with the given Uri-Path segments (NULL-terminated)
 * and payload, lets the server run, and returns the response code (-1 if
 * none came).  The payload of the response goes to body (NUL-terminated). */
static int
request(uint8_t method, const char *const *segments, const char *payload,
        char *body, size_t body_len)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, method, next_mid++, 0);
  uint8_t buf[2048];
  const uint8_t *enc;
  size_t len;
  ssize_t n;
  struct pollfd p = {peer, POLLIN, 0};
  coap_pdu_t view;
  int code = -1;

  for (; segments && *segments; segments++)
    coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(*segments),
                    (const uint8_t *)*segments);
  if (payload)
    coap_add_data(pdu, strlen(payload), (const uint8_t *)payload);
  enc = coap_pdu_encode_udp(pdu, &len);
  if (enc)
    sendto(peer, enc, len, 0, &server->addr.sa, server->size);
  coap_delete_pdu(pdu);
  coap_io_process(ctx, COAP_IO_NO_WAIT);
  ck_resources_collect(res);
  if (body && body_len)
    body[0] = '\0';
  if (poll(&p, 1, 1000) == 1 && (n = recv(peer, buf, sizeof(buf), 0)) >= 4 &&
      coap_pdu_view_udp(&view, buf, (size_t)n) == COAP_PARSE_OK) {
    const uint8_t *d;
    size_t dl;
    code = coap_pdu_get_code(&view);
    if (body && body_len && coap_get_data(&view, &dl, &d)) {
      if (dl >= body_len)
        dl = body_len - 1;
      memcpy(body, d, dl);
      body[dl] = '\0';
    }
  }
  return code;
}

#define C(n) COAP_RESPONSE_CODE(n)

int
main(void)
{
  static const char *const empty2[] = {"", "", NULL};
  static const char *const lead_a[] = {"", "a", NULL};
  static const char *const spaced[] = {"a b", NULL};
  static const char *const slashed[] = {"a/b", NULL};
  static const char *const x[] = {"x", NULL};
  static const char *const a[] = {"a", NULL};
  char root[256], body[256];

  coap_set_log_level(COAP_LOG_ERR);
  if (!setup()) {
    printf("Bail out! no loopback server\n");
    return 1;
  }
  is_int(request(COAP_REQUEST_CODE_GET, NULL, NULL, root, sizeof(root)), C(205),
         "GET / answers");

  is_int(request(COAP_REQUEST_CODE_POST, empty2, "evil", NULL, 0), C(400),
         "POST // (two empty segments) is refused");
  is_int(request(COAP_REQUEST_CODE_POST, empty2, "evil", NULL, 0), C(400),
         "and refused again (the second one freed the first)");
  is_int(request(COAP_REQUEST_CODE_GET, NULL, NULL, body, sizeof(body)), C(205),
         "GET / still answers");
  is_str(body, root, "with the root resource's own text");

  is_int(request(COAP_REQUEST_CODE_PUT, lead_a, "v", NULL, 0), C(400),
         "PUT //a (leading empty segment) is refused");
  is_int(request(COAP_REQUEST_CODE_GET, a, NULL, NULL, 0), C(404),
         "and created nothing at /a");
  is_int(request(COAP_REQUEST_CODE_PUT, spaced, "v", NULL, 0), C(400),
         "a path that needs percent-encoding is refused");
  is_int(request(COAP_REQUEST_CODE_PUT, slashed, "v", NULL, 0), C(400),
         "a segment holding '/' is refused");

  is_int(request(COAP_REQUEST_CODE_PUT, x, "one", NULL, 0), C(201),
         "PUT /x creates it");
  is_int(request(COAP_REQUEST_CODE_GET, x, NULL, body, sizeof(body)), C(205),
         "GET /x");
  is_str(body, "one", "returns what was stored");
  is_int(request(COAP_REQUEST_CODE_DELETE, x, NULL, NULL, 0), C(202),
         "DELETE /x");
  is_int(request(COAP_REQUEST_CODE_PUT, x, "two", NULL, 0), C(201),
         "PUT /x creates it again");

  close(peer);
  coap_free_context(ctx);
  ck_resources_free(res);
  return tap_done();
}
