/*
 * test_block.c -- RFC 7959 block-wise transfers through the library
 * (lib/block.c): a server context and a client context on loopback, both
 * driven by this process.
 */
#include <stdio.h>
#include <stdlib.h>

#include "coap.h"
#include "loopback.h"
#include "tap.h"

#define TURNS_MAX 200000 /* every exchange loop is bounded in turns ... */
#define WAIT_MS 20000    /* ... and in time */

/* ---------------------------------------------------------------- fixture */

static lb_pair_t pair; /* server, client and the session between */
static uint8_t *body;       /* what /large serves */
static size_t body_len;
static uint8_t *stored;     /* what the last PUT to /upload carried */
static size_t stored_len;
static int stored_count;
static int upload_saw_block1;

static int responses;
static uint8_t last_code;
static uint8_t *got;
static size_t got_len;
static int got_has_block2;
static coap_bin_const_t want_token;
static uint8_t want_token_buf[8];
static int token_ok;
static unsigned got_size1;

static void
fill(uint8_t *p, size_t n, unsigned seed)
{
  uint32_t x = seed * 2654435761u + 1;

  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    p[i] = (uint8_t)(x >> 16);
  }
}

static void
hnd_large(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
          const coap_string_t *q, coap_pdu_t *resp)
{
  coap_add_data_large_response(r, s, req, resp, q,
                               COAP_MEDIATYPE_APPLICATION_OCTET_STREAM, 30, 0,
                               body_len, body, NULL, NULL);
}

static void
hnd_upload(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
           const coap_string_t *q, coap_pdu_t *resp)
{
  const uint8_t *data = NULL;
  size_t len = 0;
  coap_block_t b;

  (void)r;
  (void)s;
  (void)q;
  coap_get_data(req, &len, &data);
  free(stored);
  stored = malloc(len ? len : 1);
  if (len)
    memcpy(stored, data, len);
  stored_len = len;
  stored_count++;
  upload_saw_block1 = coap_get_block(req, COAP_OPTION_BLOCK1, &b);
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
}

static coap_response_t
on_response(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
            const coap_mid_t mid)
{
  const uint8_t *data = NULL;
  size_t len = 0;
  coap_bin_const_t tok = coap_pdu_get_token(rcvd);
  coap_block_t b;
  coap_opt_iterator_t oi;
  coap_opt_t *o;

  (void)s;
  (void)sent;
  (void)mid;
  responses++;
  last_code = (uint8_t)coap_pdu_get_code(rcvd);
  coap_get_data(rcvd, &len, &data);
  free(got);
  got = malloc(len ? len : 1);
  if (len)
    memcpy(got, data, len);
  got_len = len;
  got_has_block2 = coap_get_block(rcvd, COAP_OPTION_BLOCK2, &b);
  token_ok = tok.length == want_token.length &&
             memcmp(tok.s, want_token.s, tok.length) == 0;
  o = coap_check_option(rcvd, COAP_OPTION_SIZE1, &oi);
  got_size1 = o ? coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o))
                : 0;
  return COAP_RESPONSE_OK;
}

static int
setup(void)
{
  coap_resource_t *r;

  if (!lb_pair_open(&pair, COAP_PROTO_UDP,
                    COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY))
    return 0;
  r = coap_resource_init(coap_make_str_const("large"), 0);
  coap_register_handler(r, COAP_REQUEST_GET, hnd_large);
  coap_add_resource(pair.server, r);
  r = coap_resource_init(coap_make_str_const("upload"), 0);
  coap_register_handler(r, COAP_REQUEST_PUT, hnd_upload);
  coap_register_handler(r, COAP_REQUEST_POST, hnd_upload);
  coap_add_resource(pair.server, r);
  coap_register_response_handler(pair.client, on_response);
  return 1;
}

/* Both loops until a response arrived (or the bounds are hit). */
static int
run(int want)
{
  return lb_pair_run(&pair, &responses, want, TURNS_MAX, WAIT_MS);
}

static coap_pdu_t *
request(coap_pdu_code_t code, const char *path)
{
  coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, code, pair.session);
  size_t tl = 8;

  coap_session_new_token(pair.session, &tl, want_token_buf);
  want_token.s = want_token_buf;
  want_token.length = tl;
  coap_add_token(pdu, tl, want_token_buf);
  coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(path),
                  (const uint8_t *)path);
  return pdu;
}

/* data to /upload as one large request (block-wise where it must be). */
static void
send_upload(coap_pdu_code_t code, const uint8_t *data, size_t len)
{
  coap_pdu_t *pdu = request(code, "upload");

  coap_add_data_large_request(pair.session, pdu, len, data, NULL, NULL);
  coap_send(pair.session, pdu);
}

/* ---------------------------------------------------------------- tests */

static void
test_get(size_t len, const char *name)
{
  char msg[128];

  free(body);
  body = malloc(len ? len : 1);
  fill(body, len, (unsigned)len);
  body_len = len;
  responses = 0;
  coap_send(pair.session, request(COAP_REQUEST_CODE_GET, "large"));
  snprintf(msg, sizeof(msg), "GET %s: a response", name);
  ok(run(1), "%s", msg);
  snprintf(msg, sizeof(msg), "GET %s: 2.05, one response, whole body", name);
  ok(responses == 1 && last_code == COAP_RESPONSE_CODE_CONTENT &&
         got_len == len && (len == 0 || memcmp(got, body, len) == 0),
     "%s (got %zu of %zu bytes)", msg, got_len, len);
  snprintf(msg, sizeof(msg), "GET %s: the application's token, no Block2",
           name);
  ok(token_ok && !got_has_block2, "%s", msg);
}

static void
test_put(size_t len, const char *name)
{
  uint8_t *data = malloc(len ? len : 1);
  coap_pdu_t *pdu;
  char msg[128];

  fill(data, len, (unsigned)len + 7);
  responses = 0;
  stored_count = 0;
  pdu = request(COAP_REQUEST_CODE_PUT, "upload");
  ok(coap_add_data_large_request(pair.session, pdu, len, data, NULL, NULL),
     "PUT %s: coap_add_data_large_request", name);
  coap_send(pair.session, pdu);
  snprintf(msg, sizeof(msg), "PUT %s: a response", name);
  ok(run(1), "%s", msg);
  snprintf(msg, sizeof(msg), "PUT %s: 2.04, the handler saw the body once",
           name);
  ok(last_code == COAP_RESPONSE_CODE_CHANGED && stored_count == 1 &&
         stored_len == len && (len == 0 || memcmp(stored, data, len) == 0) &&
         !upload_saw_block1,
     "%s (stored %zu of %zu, %d calls)", msg, stored_len, len, stored_count);
  free(data);
}

static void
test_unit(void)
{
  coap_pdu_t *req = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1,
                                  0);
  coap_pdu_t *resp = coap_pdu_init(COAP_MESSAGE_ACK, 0, 1, 1152);
  uint8_t v[3], data[100];
  coap_block_t b;
  coap_block_b_t bb;
  size_t len, off, total;
  const uint8_t *p;

  fill(data, sizeof(data), 1);
  coap_add_token(req, 1, (const uint8_t *)"t");
  coap_add_option(req, COAP_OPTION_BLOCK2,
                  coap_encode_var_safe(v, sizeof(v), (2u << 4) | 0u), v);
  ok(coap_get_block(req, COAP_OPTION_BLOCK2, &b) && b.num == 2 && !b.m &&
         b.szx == 0,
     "coap_get_block decodes num 2, szx 0");
  ok(!coap_get_block(req, COAP_OPTION_BLOCK1, &b), "no Block1: 0");
  ok(coap_get_block_b(pair.session, req, COAP_OPTION_BLOCK2, &bb) &&
         bb.chunk_size == 16 && bb.defined,
     "coap_get_block_b: 16-byte chunks");
  coap_add_token(resp, 1, (const uint8_t *)"t");
  ok(coap_add_data_large_response(NULL, pair.session, req, resp, NULL, 0, -1, 0,
                                  sizeof(data), data, NULL, NULL),
     "coap_add_data_large_response for block 2 of 16 bytes");
  ok(coap_get_block(resp, COAP_OPTION_BLOCK2, &b) && b.num == 2 && b.m &&
         b.szx == 0,
     "the answer is block 2, more to come, 16 bytes");
  ok(coap_get_data_large(resp, &len, &p, &off, &total) && len == 16 &&
         off == 32 && total == sizeof(data) && memcmp(p, data + 32, 16) == 0,
     "coap_get_data_large: bytes 32..47 of 100");
  coap_delete_pdu(resp);
  resp = coap_pdu_init(COAP_MESSAGE_ACK, 0, 1, 1152);
  coap_add_token(resp, 1, (const uint8_t *)"t");
  coap_delete_pdu(req);
  req = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1, 0);
  coap_add_token(req, 1, (const uint8_t *)"t");
  coap_add_option(req, COAP_OPTION_BLOCK2,
                  coap_encode_var_safe(v, sizeof(v), (7u << 4) | 0u), v);
  coap_add_data_large_response(NULL, pair.session, req, resp, NULL, 0, -1, 0,
                               sizeof(data), data, NULL, NULL);
  is_int(coap_pdu_get_code(resp), COAP_RESPONSE_CODE_BAD_OPTION,
         "a block past the end: 4.02");
  coap_delete_pdu(resp);
  coap_delete_pdu(req);
  ok(coap_context_set_max_block_size(pair.client, 64) &&
         !coap_context_set_max_block_size(pair.client, 100) &&
         !coap_context_set_max_block_size(pair.client, 2048) &&
         coap_context_set_max_block_size(pair.client, 0),
     "coap_context_set_max_block_size takes powers of two 16..1024");
}

static void
test_etag_valid(void)
{
  coap_pdu_t *req = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1,
                                  0);
  coap_pdu_t *resp = coap_pdu_init(COAP_MESSAGE_ACK, 0, 1, 1152);
  uint8_t et[8];
  unsigned n = coap_encode_var_safe8(et, sizeof(et), 0x1234);

  coap_add_token(req, 0, NULL);
  coap_add_option(req, COAP_OPTION_ETAG, n, et);
  coap_add_data_large_response(NULL, pair.session, req, resp, NULL, 0, 5,
                               0x1234, 3,
                               (const uint8_t *)"abc", NULL, NULL);
  is_int(coap_pdu_get_code(resp), COAP_RESPONSE_CODE_VALID,
         "a matching ETag: 2.03 Valid");
  ok(!coap_get_data(resp, &(size_t){0}, &(const uint8_t *){NULL}),
     "2.03 carries no body");
  coap_delete_pdu(resp);
  coap_delete_pdu(req);
}

static void
test_sizes(void)
{
  static const size_t sizes[] = {16, 32, 64, 128, 256, 512, 1024};

  free(body);
  body_len = 3000;
  body = malloc(body_len);
  fill(body, body_len, 99);
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    uint8_t data[700];
    char name[64];

    /* Block2 in the server's size; Block1 in the client's. */
    coap_context_set_max_block_size(pair.server, sizes[i]);
    coap_context_set_max_block_size(pair.client, sizes[i]);
    responses = 0;
    coap_send(pair.session, request(COAP_REQUEST_CODE_GET, "large"));
    snprintf(name, sizeof(name), "%zu-byte blocks: GET 3000 bytes", sizes[i]);
    ok(run(1) && got_len == body_len && memcmp(got, body, body_len) == 0,
       "%s", name);
    fill(data, sizeof(data), (unsigned)i);
    responses = 0;
    send_upload(COAP_REQUEST_CODE_POST, data, sizeof(data));
    snprintf(name, sizeof(name), "%zu-byte blocks: POST 700 bytes", sizes[i]);
    ok(run(1) && stored_len == sizeof(data) &&
           memcmp(stored, data, sizeof(data)) == 0,
       "%s", name);
  }
  coap_context_set_max_block_size(pair.server, 0);
  coap_context_set_max_block_size(pair.client, 0);
}

static void
test_late_negotiation(void)
{
  uint8_t data[5000];

  /* The client sends 1024-byte blocks; the server wants 64 (RFC 7959
   * 2.5): it keeps 64 of the first block and the client continues. */
  coap_context_set_max_block_size(pair.server, 64);
  fill(data, sizeof(data), 5);
  responses = 0;
  send_upload(COAP_REQUEST_CODE_PUT, data, sizeof(data));
  ok(run(1) && last_code == COAP_RESPONSE_CODE_CHANGED &&
         stored_len == sizeof(data) && memcmp(stored, data, sizeof(data)) == 0,
     "late negotiation 1024 -> 64: the body arrives whole");
  coap_context_set_max_block_size(pair.server, 0);
}

static void
test_limits(void)
{
  uint8_t data[5000];
  coap_pdu_t *pdu;
  uint8_t v[3];

  coap_context_set_max_upload(pair.server, 2000, 0, 0);
  fill(data, sizeof(data), 6);
  responses = 0;
  stored_count = 0;
  send_upload(COAP_REQUEST_CODE_PUT, data, sizeof(data));
  ok(run(1) && last_code == COAP_RESPONSE_CODE_REQUEST_TOO_LARGE &&
         got_size1 == 2000 && stored_count == 0,
     "over --max-upload: 4.13 with Size1 2000, handler not called");
  coap_context_set_max_upload(pair.server, 0, 0, 0);

  /* Over the total of all uploads in progress: 5.03, nothing kept. */
  coap_context_set_max_upload(pair.server, 0, 3000, 0);
  responses = 0;
  stored_count = 0;
  send_upload(COAP_REQUEST_CODE_PUT, data, sizeof(data));
  ok(run(1) && last_code == COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE &&
         stored_count == 0,
     "over the total upload memory: 5.03, handler not called");
  coap_context_set_max_upload(pair.server, 0, 0, 0);

  /* A block in the middle of nothing: 4.08. */
  responses = 0;
  pdu = request(COAP_REQUEST_CODE_PUT, "upload");
  coap_add_option(pdu, COAP_OPTION_BLOCK1,
                  coap_encode_var_safe(v, sizeof(v), (3u << 4) | 8u | 2u), v);
  coap_add_data(pdu, 64, data);
  coap_send(pair.session, pdu);
  ok(run(1) && last_code == COAP_RESPONSE_CODE_INCOMPLETE && stored_count == 0,
     "Block1 #3 without #0..2: 4.08 Request Entity Incomplete");

  /* A block whose size disagrees with its SZX while M is set: 4.00. */
  responses = 0;
  pdu = request(COAP_REQUEST_CODE_PUT, "upload");
  coap_add_option(pdu, COAP_OPTION_BLOCK1,
                  coap_encode_var_safe(v, sizeof(v), 8u | 2u), v);
  coap_add_data(pdu, 10, data);
  coap_send(pair.session, pdu);
  ok(run(1) && last_code == COAP_RESPONSE_CODE_BAD_REQUEST,
     "Block1 M=1 with a short block: 4.00");

  /* Announced too large by Size1 from the first block. */
  responses = 0;
  coap_context_set_max_upload(pair.server, 100, 0, 0);
  pdu = request(COAP_REQUEST_CODE_PUT, "upload");
  coap_add_option(pdu, COAP_OPTION_BLOCK1,
                  coap_encode_var_safe(v, sizeof(v), 8u | 2u), v);
  coap_add_option(pdu, COAP_OPTION_SIZE1,
                  coap_encode_var_safe(v, sizeof(v), 4000), v);
  coap_add_data(pdu, 64, data);
  coap_send(pair.session, pdu);
  ok(run(1) && last_code == COAP_RESPONSE_CODE_REQUEST_TOO_LARGE &&
         got_size1 == 100,
     "Size1 over the limit: 4.13 at once");
  coap_context_set_max_upload(pair.server, 0, 0, 0);
}

static void
block1(unsigned num, int more, const uint8_t *data)
{
  coap_pdu_t *pdu = request(COAP_REQUEST_CODE_PUT, "upload");
  uint8_t v[3];

  coap_add_option(pdu, COAP_OPTION_BLOCK1,
                  coap_encode_var_safe(v, sizeof(v),
                                       (num << 4) | (more ? 8u : 0u) | 2u),
                  v);
  coap_add_data(pdu, 64, data);
  responses = 0;
  coap_send(pair.session, pdu);
}

static void
test_upload_timeout(void)
{
  uint8_t data[64];
  uint64_t end;

  memset(data, 'u', sizeof(data));
  coap_context_set_max_upload(pair.server, 0, 0, 1);
  stored_count = 0;
  block1(0, 1, data);
  ok(run(1) && last_code == COAP_RESPONSE_CODE_CONTINUE,
     "block 0 of an upload: 2.31 Continue");
  block1(1, 1, data);
  ok(run(1) && last_code == COAP_RESPONSE_CODE_CONTINUE,
     "block 1 in time: 2.31 Continue");
  /* Past --upload-timeout (1 s) the server's timer drops the upload. */
  end = coap_ticks_ms() + 2500;
  while (coap_ticks_ms() < end)
    coap_io_process(pair.server, 100);
  block1(2, 0, data);
  ok(run(1) && last_code == COAP_RESPONSE_CODE_INCOMPLETE && stored_count == 0,
     "the last block after the timeout: 4.08, handler not called");
  coap_context_set_max_upload(pair.server, 0, 0, 0);
}

static void
test_plain_without_block_mode(void)
{
  /* Without the block mode a client handler sees each block itself. */
  free(body);
  body_len = 2500;
  body = malloc(body_len);
  fill(body, body_len, 77);
  coap_context_set_block_mode(pair.client, 0);
  responses = 0;
  coap_send(pair.session, request(COAP_REQUEST_CODE_GET, "large"));
  ok(run(1) && got_len == 1024 && got_has_block2 &&
         memcmp(got, body, 1024) == 0,
     "no block mode: the first 1024-byte block, Block2 visible");
  coap_context_set_block_mode(pair.client, COAP_BLOCK_USE_LIBCOAP);
  responses = 0;
  coap_send(pair.session, request(COAP_REQUEST_CODE_GET, "large"));
  ok(run(3) && responses == 3 && got_len == 2500 - 2048 &&
         memcmp(got, body + 2048, got_len) == 0,
     "block mode without single body: each of 3 blocks delivered");
  coap_context_set_block_mode(pair.client, COAP_BLOCK_USE_LIBCOAP |
                                              COAP_BLOCK_SINGLE_BODY);
}

int
main(void)
{
  coap_startup();
  coap_set_log_level(COAP_LOG_WARN);
  if (!ok(setup(), "server and client contexts on loopback"))
    return tap_done();
  test_unit();
  test_etag_valid();
  test_get(0, "0 bytes");
  test_get(1, "1 byte");
  test_get(1024, "exactly one block");
  test_get(1025, "one block and a byte");
  test_get(3 * 1024 * 1024 + 17, "3 MiB + 17");
  test_put(0, "0 bytes");
  test_put(1, "1 byte");
  test_put(1024, "exactly one block");
  test_put(1025, "one block and a byte");
  test_put(2 * 1024 * 1024 + 3, "2 MiB + 3");
  test_sizes();
  test_late_negotiation();
  test_limits();
  test_upload_timeout();
  test_plain_without_block_mode();
  lb_pair_close(&pair);
  free(body);
  free(stored);
  free(got);
  coap_cleanup();
  return tap_done();
}
