/*
 * test_frame.c -- RFC 8323 framing: the length classes, views of hostile
 * frames, and reassembly of frames split anywhere between reads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_internal.h"
#include "tap.h"

/* ---------------------------------------------------------------- helpers */

/* A GET-like frame with a token, one Uri-Path and body_len bytes of
 * payload, encoded into out; returns its length (0: failed). */
static size_t
make_frame(size_t payload, uint8_t code, uint8_t *out, size_t room, int ws)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, (coap_pdu_code_t)code, 0,
                                  payload + 64);
  uint8_t tok[3] = {0xa1, 0xb2, 0xc3};
  const uint8_t *p;
  size_t len = 0;
  uint8_t *d;

  if (!pdu)
    return 0;
  coap_add_token(pdu, sizeof(tok), tok);
  coap_add_option(pdu, COAP_OPTION_URI_PATH, 1, (const uint8_t *)"a");
  if (payload) {
    d = coap_add_data_after(pdu, payload);
    for (size_t i = 0; d && i < payload; i++)
      d[i] = (uint8_t)(i * 7 + 1);
  }
  p = ws ? coap_pdu_encode_ws(pdu, &len) : coap_pdu_encode_tcp(pdu, &len);
  if (!p || len > room)
    len = 0;
  else
    memcpy(out, p, len);
  coap_delete_pdu(pdu);
  return len;
}

/* What the reader handed out, for comparison. */
typedef struct got_t {
  uint8_t *buf;
  size_t len, cap;
  size_t frames;
  size_t lens[16];
  size_t stop_after; /* 0: never stop */
} got_t;

static int
collect(void *arg, const uint8_t *frame, size_t len)
{
  got_t *g = arg;

  if (g->len + len > g->cap) {
    size_t cap = (g->len + len) * 2;
    uint8_t *p = realloc(g->buf, cap);
    if (!p)
      return 1;
    g->buf = p;
    g->cap = cap;
  }
  memcpy(g->buf + g->len, frame, len);
  g->len += len;
  if (g->frames < 16)
    g->lens[g->frames] = len;
  g->frames++;
  return g->stop_after && g->frames >= g->stop_after;
}

static void
got_reset(got_t *g)
{
  g->len = 0;
  g->frames = 0;
}

/* Feeds stream[0..len) in pieces cut at the given points; returns the
 * status of the last feed. */
static coap_frame_status_t
feed_cuts(coap_frame_reader_t *r, const uint8_t *stream, size_t len,
          const size_t *cuts, size_t ncuts, got_t *g)
{
  size_t from = 0;
  coap_frame_status_t st = COAP_FRAME_OK;

  for (size_t i = 0; i <= ncuts && st == COAP_FRAME_OK; i++) {
    size_t to = i < ncuts ? cuts[i] : len;
    /* Each piece in its own exact-size buffer: a read past it is a bug
     * the sanitizers see. */
    uint8_t *piece = malloc(to - from ? to - from : 1);
    memcpy(piece, stream + from, to - from);
    st = coap_frame_feed(r, piece, to - from, collect, g, NULL);
    free(piece);
    from = to;
  }
  return st;
}

/* ---------------------------------------------------------------- tests */

static void
test_length_classes(void)
{
  /* Payloads chosen so the body (Uri-Path 2 bytes + marker + payload)
   * lands on each edge of the Len classes. */
  static const struct {
    size_t payload;
    uint8_t nibble;
    size_t hdr;
  } cases[] = {
      {0, 2, 2},         /* body 2 */
      {9, 12, 2},        /* body 12: the largest nibble */
      {10, 13, 3},       /* body 13 */
      {265, 13, 3},      /* body 268 */
      {266, 14, 4},      /* body 269 */
      {65801, 14, 4},    /* body 65804 */
      {65802, 15, 6},    /* body 65805 */
      {70000, 15, 6},
  };
  static uint8_t buf[80000];

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t len = make_frame(cases[i].payload, COAP_REQUEST_CODE_GET, buf,
                            sizeof(buf), 0);
    uint64_t total = 0;
    coap_pdu_t v;
    size_t dlen = 0;
    const uint8_t *data = NULL;
    int good;

    good = len == cases[i].hdr + 3 + 2 + (cases[i].payload ? 1 : 0) +
                      cases[i].payload &&
           (buf[0] >> 4) == cases[i].nibble && (buf[0] & 0x0f) == 3 &&
           coap_frame_header_size(buf[0]) == cases[i].hdr &&
           coap_frame_length(buf, len, &total) == 1 && total == len &&
           buf[cases[i].hdr - 1] == COAP_REQUEST_CODE_GET;
    ok(good, "payload %zu: Len nibble %u, %zu-byte header, exact total",
       cases[i].payload, cases[i].nibble, cases[i].hdr);
    good = coap_pdu_view_tcp(&v, buf, len) == COAP_PARSE_OK &&
           v.code == COAP_REQUEST_CODE_GET && v.token_length == 3 &&
           v.token[0] == 0xa1 &&
           coap_get_data(&v, &dlen, &data) == (cases[i].payload != 0) &&
           dlen == cases[i].payload &&
           (dlen == 0 || (data[0] == 1 && data[dlen - 1] == (uint8_t)((dlen - 1) * 7 + 1)));
    ok(good, "payload %zu: the view reads token, option and payload",
       cases[i].payload);
  }
}

static void
test_known_bytes(void)
{
  /* A 7.01 CSM with Max-Message-Size 1152 (0x0480) and Block-Wise-Transfer:
   * options 0x22 04 80 and 0x20: body 4, no token. */
  static const uint8_t csm[] = {0x40, 0xe1, 0x22, 0x04, 0x80, 0x20};
  uint8_t buf[COAP_PDU_HEADROOM + 32], mms[2] = {0x04, 0x80};
  coap_pdu_t pdu, v;
  const uint8_t *p;
  size_t len = 0;
  coap_opt_iterator_t oi;
  coap_opt_t *o;

  coap_pdu_init_static(&pdu, buf, sizeof(buf), COAP_MESSAGE_NON,
                       COAP_SIGNALING_CODE_CSM, 0);
  coap_add_option(&pdu, COAP_SIGNALING_OPTION_MAX_MESSAGE_SIZE, 2, mms);
  coap_add_option(&pdu, COAP_SIGNALING_OPTION_BLOCK_WISE_TRANSFER, 0, NULL);
  p = coap_pdu_encode_tcp(&pdu, &len);
  is_mem(p, len, csm, sizeof(csm), "a CSM encodes to the RFC 8323 layout");
  ok(coap_pdu_view_tcp(&v, csm, sizeof(csm)) == COAP_PARSE_OK &&
         v.code == COAP_SIGNALING_CODE_CSM && v.token_length == 0,
     "the CSM parses as 7.01");
  o = coap_check_option(&v, COAP_SIGNALING_OPTION_MAX_MESSAGE_SIZE, &oi);
  ok(o && coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)) == 1152,
     "Max-Message-Size reads 1152");
  p = coap_pdu_encode_ws(&pdu, &len);
  ok(p && len == 6 && p[0] == 0x00 && p[1] == 0xe1,
     "the WebSocket form has Len 0 and no extended length");
  ok(coap_pdu_view_ws(&v, p, len) == COAP_PARSE_OK &&
         v.code == COAP_SIGNALING_CODE_CSM,
     "the WebSocket form parses back");
  {
    coap_pdu_t parsed;
    coap_pdu_t *q = coap_pdu_init(COAP_MESSAGE_CON, COAP_EMPTY_CODE, 0, 64);
    ok(q && coap_pdu_parse(COAP_PROTO_TCP, csm, sizeof(csm), q) &&
           q->code == COAP_SIGNALING_CODE_CSM && q->used_size == 4,
       "coap_pdu_parse accepts COAP_PROTO_TCP");
    ok(q && !coap_pdu_parse(COAP_PROTO_WS, csm, sizeof(csm), q),
       "coap_pdu_parse(WS) refuses a frame with a length");
    (void)parsed;
    coap_delete_pdu(q);
  }
}

static void
test_hostile_views(void)
{
  coap_pdu_t v;
  uint8_t f[16];
  uint64_t total;

  /* TKL 9: reserved (RFC 8974 extended tokens are not supported). */
  f[0] = 0x09;
  f[1] = 0x01;
  ok(coap_frame_length(f, 2, &total) == -1 &&
         coap_pdu_view_tcp(&v, f, 11) == COAP_PARSE_DROP,
     "TKL 9 is a malformed header");
  /* Class 1 code. */
  f[0] = 0x00;
  f[1] = 0x20;
  ok(coap_pdu_view_tcp(&v, f, 2) == COAP_PARSE_REJECT, "code 1.00 is rejected");
  /* A marker with no payload. */
  f[0] = 0x10;
  f[1] = 0x45;
  f[2] = 0xff;
  ok(coap_pdu_view_tcp(&v, f, 3) == COAP_PARSE_REJECT,
     "a payload marker without payload is rejected");
  /* An option whose length runs past the frame. */
  f[0] = 0x20;
  f[1] = 0x01;
  f[2] = 0xb5;
  f[3] = 'x';
  ok(coap_pdu_view_tcp(&v, f, 4) == COAP_PARSE_REJECT,
     "an option longer than the frame is rejected");
  /* Empty code with a body. */
  f[0] = 0x10;
  f[1] = 0x00;
  f[2] = 0x60;
  ok(coap_pdu_view_tcp(&v, f, 3) == COAP_PARSE_REJECT,
     "0.00 with options is rejected");
  /* Length disagreeing with the buffer, both ways. */
  f[0] = 0x30;
  f[1] = 0x45;
  ok(coap_pdu_view_tcp(&v, f, 4) == COAP_PARSE_DROP &&
         coap_pdu_view_tcp(&v, f, 6) == COAP_PARSE_DROP,
     "a frame must be exactly as long as its header says");
  ok(coap_pdu_view_tcp(&v, f, 1) == COAP_PARSE_DROP &&
         coap_pdu_view_tcp(&v, f, 0) == COAP_PARSE_DROP,
     "a truncated header is dropped");
  f[0] = 0xf0;
  ok(coap_frame_length(f, 5, &total) == 0,
     "a 32-bit length needs all six header bytes");
  f[1] = f[2] = f[3] = f[4] = 0xff;
  f[5] = 0x45;
  ok(coap_frame_length(f, 6, &total) == 1 &&
         total == 6ull + 0xffffffffull + 65805ull,
     "the largest 32-bit length does not overflow");
  f[0] = 0x10;
  ok(coap_pdu_view_ws(&v, f, 3) == COAP_PARSE_DROP,
     "a WebSocket frame with Len != 0 is dropped");
}

/* The stream under test: three frames of different length classes. */
static size_t
build_stream(uint8_t *s, size_t room, size_t lens[3])
{
  size_t n = 0;

  lens[0] = make_frame(0, COAP_REQUEST_CODE_GET, s, room, 0);
  n += lens[0];
  lens[1] = make_frame(40, COAP_RESPONSE_CODE_CONTENT, s + n, room - n, 0);
  n += lens[1];
  lens[2] = make_frame(300, COAP_REQUEST_CODE_PUT, s + n, room - n, 0);
  n += lens[2];
  return n;
}

static int
same_frames(const got_t *g, const uint8_t *stream, size_t len,
            const size_t lens[3])
{
  return g->frames == 3 && g->lens[0] == lens[0] && g->lens[1] == lens[1] &&
         g->lens[2] == lens[2] && g->len == len &&
         memcmp(g->buf, stream, len) == 0;
}

static void
test_every_split(void)
{
  uint8_t stream[1024];
  size_t lens[3], len = build_stream(stream, sizeof(stream), lens);
  coap_frame_reader_t r;
  got_t g = {0};
  size_t bad = 0, runs = 0, cuts[2];

  coap_frame_reader_init(&r, 4096);
  for (size_t a = 0; a <= len; a++) {
    cuts[0] = a;
    got_reset(&g);
    runs++;
    if (feed_cuts(&r, stream, len, cuts, 1, &g) != COAP_FRAME_OK ||
        !same_frames(&g, stream, len, lens) || coap_frame_reader_partial(&r))
      bad++;
  }
  ok(bad == 0 && runs == len + 1,
     "every single split of a %zu-byte, 3-frame stream yields the frames "
     "(%zu runs, %zu bad)",
     len, runs, bad);

  bad = runs = 0;
  /* Two cuts anywhere within the first two frames and the head of the
   * third: every header and body boundary is crossed. */
  for (size_t a = 0; a <= lens[0] + lens[1] + 8; a++)
    for (size_t b = a; b <= lens[0] + lens[1] + 8; b++) {
      cuts[0] = a;
      cuts[1] = b;
      got_reset(&g);
      runs++;
      if (feed_cuts(&r, stream, len, cuts, 2, &g) != COAP_FRAME_OK ||
          !same_frames(&g, stream, len, lens))
        bad++;
    }
  ok(bad == 0, "every pair of splits yields the frames (%zu runs, %zu bad)",
     runs, bad);

  got_reset(&g);
  bad = 0;
  for (size_t i = 0; i < len; i++)
    if (coap_frame_feed(&r, stream + i, 1, collect, &g, NULL) != COAP_FRAME_OK)
      bad++;
  ok(bad == 0 && same_frames(&g, stream, len, lens),
     "byte by byte yields the frames");

  bad = 0;
  for (size_t cut = 1; cut < lens[0]; cut++) {
    coap_frame_reader_t t;
    coap_frame_reader_init(&t, 4096);
    got_reset(&g);
    if (coap_frame_feed(&t, stream, cut, collect, &g, NULL) != COAP_FRAME_OK ||
        g.frames != 0 || !coap_frame_reader_partial(&t))
      bad++;
    coap_frame_reader_free(&t);
  }
  ok(bad == 0, "every truncation of a frame is held as partial, not handed out");
  coap_frame_reader_free(&r);
  free(g.buf);
}

static void
test_limits(void)
{
  uint8_t stream[1024], big[600];
  size_t lens[3], len = build_stream(stream, sizeof(stream), lens);
  size_t blen = make_frame(500, COAP_REQUEST_CODE_PUT, big, sizeof(big), 0);
  coap_frame_reader_t r;
  got_t g = {0};
  uint64_t size = 0;
  size_t bad = 0;

  coap_frame_reader_init(&r, 100);
  ok(coap_frame_feed(&r, big, blen, collect, &g, &size) == COAP_FRAME_TOO_BIG &&
         size == blen && g.frames == 0,
     "a whole frame over the limit is refused with its size");
  coap_frame_reader_free(&r);
  /* The 510-byte frame has a 4-byte header: cut inside it. */
  for (size_t cut = 1; cut < 4; cut++) {
    coap_frame_reader_init(&r, 100);
    got_reset(&g);
    size = 0;
    if (coap_frame_feed(&r, big, cut, collect, &g, &size) != COAP_FRAME_OK ||
        coap_frame_feed(&r, big + cut, blen - cut, collect, &g, &size) !=
            COAP_FRAME_TOO_BIG ||
        size != blen || g.frames != 0 || r.cap > 100)
      bad++;
    coap_frame_reader_free(&r);
  }
  ok(bad == 0,
     "a header split over reads is judged before the body is buffered");

  coap_frame_reader_init(&r, 4096);
  got_reset(&g);
  g.stop_after = 1;
  ok(coap_frame_feed(&r, stream, len, collect, &g, NULL) == COAP_FRAME_STOP &&
         g.frames == 1,
     "the callback stops the feed");
  g.stop_after = 0;
  coap_frame_reader_free(&r);

  {
    uint8_t bad_tkl[] = {0x0c, 0x01};
    coap_frame_reader_init(&r, 4096);
    ok(coap_frame_feed(&r, bad_tkl, 1, collect, &g, NULL) == COAP_FRAME_BAD,
       "a bad TKL is caught from the first byte");
    coap_frame_reader_free(&r);
  }
  free(g.buf);
}

/* Noise: nothing may crash or read out of bounds, and what is handed out
 * must be exactly a frame's worth. */
static void
test_noise(void)
{
  uint32_t x = 12345;
  size_t handed = 0, mismatched = 0;

  for (int round = 0; round < 2000; round++) {
    uint8_t buf[64];
    size_t n;
    coap_frame_reader_t r;
    got_t g = {0};

    for (size_t i = 0; i < sizeof(buf); i++) {
      x = x * 1103515245u + 12345u;
      buf[i] = (uint8_t)(x >> 16);
    }
    n = (x >> 8) % sizeof(buf);
    coap_frame_reader_init(&r, 48);
    coap_frame_feed(&r, buf, n, collect, &g, NULL);
    for (size_t f = 0, off = 0; f < g.frames && f < 16; f++) {
      coap_pdu_t v;
      uint64_t total = 0;
      if (coap_frame_length(g.buf + off, g.lens[f], &total) != 1 ||
          total != g.lens[f])
        mismatched++;
      coap_pdu_view_tcp(&v, g.buf + off, g.lens[f]);
      off += g.lens[f];
      handed++;
    }
    coap_frame_reader_free(&r);
    free(g.buf);
  }
  ok(mismatched == 0, "random bytes: %zu frames handed out, each exactly sized",
     handed);
}

int
main(void)
{
  test_length_classes();
  test_known_bytes();
  test_hostile_views();
  test_every_split();
  test_limits();
  test_noise();
  return tap_done();
}
