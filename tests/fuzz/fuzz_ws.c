/*
 * fuzz_ws.c -- the WebSocket layer (lib/ws.c) as a server sees it: the
 * HTTP upgrade request, then RFC 6455 frames (masking, fragments, control
 * frames, Close) carrying RFC 8323 section 4 messages.
 *
 * Input: two bytes seeding how the input is cut, one byte choosing the
 * message size limit, then what a client sends.  The bytes are fed to one
 * server state in one go and to another in pieces of random sizes: both
 * must see the same events, the same messages, and write the same replies
 * (101 or refusal, Pongs, Close).  Every message goes through the
 * zero-copy WebSocket view of a CoAP frame.
 */
#include "fuzz.h"
#include "stream_internal.h"

#define REPLY_CAP 65536
#define EVENTS_MAX 4096

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  return 0;
}

typedef struct run_t {
  uint8_t *msgs;  /* every message, back to back */
  size_t msgs_used, msgs_cap;
  uint8_t events[EVENTS_MAX];
  size_t n_events;
  uint8_t *reply;
  size_t reply_len;
  int stopped;    /* CLOSE, ERROR or TOO_BIG ended it */
} run_t;

static void
record(run_t *r, coap_ws_event_t ev, const uint8_t *msg, size_t mlen)
{
  coap_pdu_t view;

  if (ev == COAP_WS_MORE || ev == COAP_WS_NONE)
    return;
  if (r->n_events < EVENTS_MAX)
    r->events[r->n_events++] = (uint8_t)ev;
  if (ev != COAP_WS_MESSAGE)
    return;
  FUZZ_CHECK(mlen == 0 || msg != NULL);
  FUZZ_CHECK(r->msgs_used + mlen <= r->msgs_cap);
  if (mlen)
    memcpy(r->msgs + r->msgs_used, msg, mlen);
  r->msgs_used += mlen;
  memset(&view, 0, sizeof(view));
  (void)coap_pdu_view_ws(&view, msg, mlen);
}

/* Feeds in[0..len) until it is used up, more is needed, or the state
 * stopped. */
static void
feed(coap_ws_t *ws, const uint8_t *in, size_t len, run_t *r)
{
  size_t guard = 0;

  while (len > 0 && !r->stopped && guard++ < 1000000) {
    size_t used = 0, mlen = 0;
    const uint8_t *msg = NULL;
    coap_ws_event_t ev = coap_ws_input(ws, in, len, &used, &msg, &mlen,
                                       r->reply, &r->reply_len, REPLY_CAP);

    FUZZ_CHECK(used <= len && r->reply_len <= REPLY_CAP);
    record(r, ev, msg, mlen);
    in += used;
    len -= used;
    if (ev == COAP_WS_CLOSE || ev == COAP_WS_ERROR || ev == COAP_WS_TOO_BIG)
      r->stopped = 1;
    else if (used == 0)
      break;
  }
}

static int
run_init(run_t *r, size_t cap)
{
  memset(r, 0, sizeof(*r));
  r->msgs_cap = cap;
  r->msgs = malloc(cap ? cap : 1);
  r->reply = malloc(REPLY_CAP);
  return r->msgs && r->reply;
}

static void
run_free(run_t *r)
{
  free(r->msgs);
  free(r->reply);
}

static uint32_t
next_rand(uint32_t *state)
{
  *state = *state * 1103515245u + 12345u;
  return *state >> 16;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  coap_ws_t *one = NULL, *cut = NULL;
  run_t r_one, r_cut;
  uint32_t seed;
  size_t limit, off = 0;
  int ok;

  if (size < 3)
    return 0;
  seed = (uint32_t)data[0] << 8 | data[1];
  limit = 16 + (size_t)data[2] * 16;
  data += 3;
  size -= 3;
  ok = run_init(&r_one, size);
  ok = run_init(&r_cut, size) && ok;
  one = coap_ws_new(0, NULL, limit);
  cut = coap_ws_new(0, NULL, limit);
  if (!ok || !one || !cut)
    goto done;
  feed(one, data, size, &r_one);
  while (off < size && !r_cut.stopped) {
    size_t piece = 1 + next_rand(&seed) % (size - off < 64 ? size - off : 64);
    feed(cut, data + off, piece, &r_cut);
    off += piece;
  }
  FUZZ_CHECK(r_one.n_events == r_cut.n_events);
  FUZZ_CHECK(memcmp(r_one.events, r_cut.events, r_one.n_events) == 0);
  FUZZ_CHECK(r_one.msgs_used == r_cut.msgs_used);
  FUZZ_CHECK(memcmp(r_one.msgs, r_cut.msgs, r_one.msgs_used) == 0);
  FUZZ_CHECK(r_one.reply_len == r_cut.reply_len);
  FUZZ_CHECK(memcmp(r_one.reply, r_cut.reply, r_one.reply_len) == 0);
  FUZZ_CHECK(r_one.stopped || coap_ws_partial(one) == coap_ws_partial(cut));
  FUZZ_CHECK(coap_ws_is_open(one) == coap_ws_is_open(cut));
done:
  coap_ws_free(one);
  coap_ws_free(cut);
  run_free(&r_one);
  run_free(&r_cut);
  return 0;
}
