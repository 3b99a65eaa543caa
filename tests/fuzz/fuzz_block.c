/*
 * fuzz_block.c -- the block-wise option readers (lib/block.c, RFC 7959):
 * coap_get_block, coap_get_block_b and coap_get_data_large on a parsed UDP
 * message.  (The server's Block1 reassembly, Block2 serving and Observe
 * registration run through fuzz_server, whose corpus has such requests.)
 *
 * Input: one UDP datagram.  An accepted Block option must be the option's
 * own value (NUM, M, SZX; SZX 7 refused outside BERT), both readers agree,
 * and the offset coap_get_data_large reports is NUM * block size of the
 * Block option that belongs to the message's direction.
 */
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  return 0;
}

/* The option's raw value when present with at most 3 bytes; -1 if absent
 * or longer. */
static long
raw_block(const coap_pdu_t *pdu, coap_option_num_t number)
{
  coap_opt_iterator_t oi;
  coap_opt_t *o = coap_check_option(pdu, number, &oi);

  if (!o || coap_opt_length(o) > 3)
    return -1;
  return (long)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
}

static void
check_block(const coap_pdu_t *pdu, coap_option_num_t number)
{
  coap_block_t b;
  coap_block_b_t bb;
  long raw = raw_block(pdu, number);
  int got = coap_get_block(pdu, number, &b);

  FUZZ_CHECK(coap_get_block_b(NULL, pdu, number, &bb) == got);
  if (!got) {
    FUZZ_CHECK(!bb.defined);
    FUZZ_CHECK(raw < 0 || (raw & 7) == 7);
    return;
  }
  FUZZ_CHECK(raw >= 0 && (raw & 7) != 7);
  FUZZ_CHECK(b.num == (unsigned long)raw >> 4 && b.m == ((raw >> 3) & 1) &&
             b.szx == (raw & 7));
  FUZZ_CHECK(bb.defined && bb.num == b.num && bb.m == b.m && bb.szx == b.szx &&
             bb.chunk_size == (16u << b.szx));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, 0, 0, size + 16);
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *payload = NULL;
  coap_block_t b;
  int has_block;

  if (!pdu)
    return 0;
  if (!coap_pdu_parse(COAP_PROTO_UDP, data, size, pdu))
    goto done;
  check_block(pdu, COAP_OPTION_BLOCK1);
  check_block(pdu, COAP_OPTION_BLOCK2);
  has_block = coap_get_block(pdu,
                             COAP_RESPONSE_CLASS(coap_pdu_get_code(pdu)) == 0
                                 ? COAP_OPTION_BLOCK1
                                 : COAP_OPTION_BLOCK2,
                             &b);
  if (coap_get_data_large(pdu, &len, &payload, &offset, &total))
    FUZZ_CHECK(len > 0 && payload != NULL);
  FUZZ_CHECK(offset == (has_block ? (size_t)b.num << (b.szx + 4) : 0));
done:
  coap_delete_pdu(pdu);
  return 0;
}
