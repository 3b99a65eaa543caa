/*
 * fuzz_frame.c -- the RFC 8323 stream framer (lib/frame.c).
 *
 * Input: two bytes seeding how the stream is cut, one byte choosing the
 * frame size limit, then the byte stream.  The stream is fed to one reader
 * in one call and to another in pieces of random sizes: both must hand out
 * the same frames (bytes and count) and end with the same status.  Every
 * frame handed out must be exactly as long as its header says, and the
 * zero-copy TCP view runs on it.
 */
#include "fuzz.h"
#include "stream_internal.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  return 0;
}

typedef struct frames_t {
  uint8_t *bytes; /* every frame, back to back */
  size_t used;
  size_t *lens;
  size_t n;
  size_t cap;     /* of bytes and of lens: the stream's size bounds both */
} frames_t;

static int
collect(void *arg, const uint8_t *frame, size_t len)
{
  frames_t *f = arg;
  uint64_t total = 0;
  coap_pdu_t view;

  FUZZ_CHECK(len >= 2 && f->used + len <= f->cap && f->n < f->cap);
  FUZZ_CHECK(coap_frame_length(frame, len, &total) == 1 && total == len);
  memset(&view, 0, sizeof(view));
  (void)coap_pdu_view_tcp(&view, frame, len);
  memcpy(f->bytes + f->used, frame, len);
  f->used += len;
  f->lens[f->n++] = len;
  return 0;
}

static int
frames_init(frames_t *f, size_t cap)
{
  memset(f, 0, sizeof(*f));
  f->cap = cap;
  f->bytes = malloc(cap ? cap : 1);
  f->lens = malloc((cap ? cap : 1) * sizeof(*f->lens));
  return f->bytes && f->lens;
}

static void
frames_free(frames_t *f)
{
  free(f->bytes);
  free(f->lens);
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
  coap_frame_reader_t one, cut;
  coap_frame_status_t st_one, st_cut = COAP_FRAME_OK;
  frames_t f_one, f_cut;
  uint32_t seed;
  size_t limit, off = 0;
  uint64_t sz_one = 0, sz_cut = 0;
  int ok;

  if (size < 3)
    return 0;
  seed = (uint32_t)data[0] << 8 | data[1];
  limit = 8 + (size_t)data[2] * 8;
  data += 3;
  size -= 3;
  ok = frames_init(&f_one, size);
  ok = frames_init(&f_cut, size) && ok;
  if (!ok)
    goto done;
  coap_frame_reader_init(&one, limit);
  coap_frame_reader_init(&cut, limit);
  st_one = coap_frame_feed(&one, data, size, collect, &f_one, &sz_one);
  while (off < size && st_cut == COAP_FRAME_OK) {
    size_t piece = 1 + next_rand(&seed) % (size - off < 16 ? size - off : 16);
    st_cut = coap_frame_feed(&cut, data + off, piece, collect, &f_cut, &sz_cut);
    off += piece;
  }
  FUZZ_CHECK(st_one != COAP_FRAME_NOMEM && st_cut != COAP_FRAME_NOMEM);
  FUZZ_CHECK(st_one == st_cut);
  FUZZ_CHECK(st_one != COAP_FRAME_TOO_BIG || (sz_one == sz_cut && sz_one > limit));
  FUZZ_CHECK(f_one.n == f_cut.n && f_one.used == f_cut.used);
  FUZZ_CHECK(memcmp(f_one.bytes, f_cut.bytes, f_one.used) == 0);
  FUZZ_CHECK(memcmp(f_one.lens, f_cut.lens, f_one.n * sizeof(size_t)) == 0);
  if (st_one == COAP_FRAME_OK)
    FUZZ_CHECK(coap_frame_reader_partial(&one) == coap_frame_reader_partial(&cut));
  coap_frame_reader_free(&one);
  coap_frame_reader_free(&cut);
done:
  frames_free(&f_one);
  frames_free(&f_cut);
  return 0;
}
