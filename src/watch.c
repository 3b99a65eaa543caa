/*
 * watch.c -- coap-client's Observe and group exchanges, block-wise set-up
 * and progress line (see watch.h).
 */
#include "config.h"

#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitcode.h"
#include "output.h"

#define DEFAULT_MAX_AGE_MS 60000u     /* RFC 7252 5.10.5 */
#define REREGISTER_MARGIN_MS 1000u    /* past Max-Age before re-registering */
#define CANCEL_WAIT_MS 2000u          /* for the deregistration's answer */
#define PROGRESS_EVERY_MS 200u

typedef struct watch_t {
  const ck_request_config_t *cfg;
  ck_target_t *target;
  coap_pdu_t *reg;        /* the registration, to send again */
  uint8_t token[COAP_TOKEN_MAX_LEN];
  size_t token_length;
  uint64_t sent_ms;
  uint64_t last_ms;       /* the last notification */
  uint32_t max_age_ms;
  int mcast;
  int answers;            /* responses printed */
  int observing;          /* the server took the registration */
  int ended;              /* no more notifications will come */
  int cancelling;
  int cancel_answered;
  int status;
  int failed;             /* a nack: status says why */
} watch_t;

/* ---------------------------------------------------------------- set-up */

int
ck_watch_setup(const ck_request_config_t *cfg, ck_target_t *target)
{
  coap_context_set_block_mode(target->context, COAP_BLOCK_USE_LIBCOAP |
                                                   COAP_BLOCK_SINGLE_BODY);
  if (cfg->block_size > 0 &&
      !coap_context_set_max_block_size(target->context, cfg->block_size))
    return ck_usage_error("bad block size %u", cfg->block_size);
  if (cfg->mcast_hops > 0 &&
      !coap_mcast_set_hops(target->session, (size_t)cfg->mcast_hops)) {
    ck_diag("cannot set the multicast hop limit");
    return CK_EXIT_NETWORK;
  }
  return 0;
}

static int
add_uint(coap_optlist_t **list, coap_option_num_t number, unsigned int value)
{
  uint8_t buf[4];
  unsigned int n = coap_encode_var_safe(buf, sizeof(buf), value);

  return coap_insert_optlist(list, coap_new_optlist(number, n, buf));
}

int
ck_watch_add_options(const ck_request_config_t *cfg, coap_optlist_t **list)
{
  unsigned int szx = 0;

  if (cfg->observe_ms > 0 &&
      !add_uint(list, COAP_OPTION_OBSERVE, COAP_OBSERVE_ESTABLISH))
    return 0;
  if (cfg->block_size == 0 || (cfg->method != COAP_REQUEST_CODE_GET &&
                               cfg->method != COAP_REQUEST_CODE_FETCH))
    return 1;
  while ((16u << szx) < cfg->block_size)
    szx++;
  /* Early negotiation (RFC 7959 2.4): the size, and where to start. */
  return add_uint(list, COAP_OPTION_BLOCK2, (cfg->block_num << 4) | szx);
}

int
ck_watch_wanted(const ck_request_config_t *cfg, const ck_target_t *target)
{
  return cfg->observe_ms > 0 || coap_is_mcast(&target->remote);
}

/* ---------------------------------------------------------------- printing */

static int
to_file(const ck_request_config_t *cfg)
{
  return cfg->output_file != NULL && strcmp(cfg->output_file, "-") != 0;
}

static int
print_response(watch_t *w, coap_session_t *session, const coap_pdu_t *rcvd)
{
  const ck_request_config_t *cfg = w->cfg;
  const uint8_t *data = NULL;
  size_t len = 0;

  coap_get_data(rcvd, &len, &data);
  if (cfg->json) {
    if (to_file(cfg) && ck_write_payload(cfg->output_file, data, len, 1) < 0)
      return -1;
    return ck_print_response_json(rcvd, session, coap_ticks_ms() - w->sent_ms);
  }
  if (w->mcast) {
    unsigned char addr[128] = "";
    coap_print_addr(coap_session_get_addr_remote(session), addr, sizeof(addr));
    if (printf("%s ", (const char *)addr) < 0)
      return -1;
  }
  if (to_file(cfg))
    return ck_write_payload(cfg->output_file, data, len, 1);
  /* One payload per line, flushed: a reader sees it as it arrives. */
  if ((len && fwrite(data, 1, len, stdout) != len) || putchar('\n') == EOF ||
      fflush(stdout) != 0) {
    ck_diag("cannot write to standard output");
    return -1;
  }
  return 0;
}

static uint32_t
max_age_ms(const coap_pdu_t *pdu)
{
  coap_opt_iterator_t oi;
  coap_opt_t *o = coap_check_option(pdu, COAP_OPTION_MAXAGE, &oi);

  if (o == NULL || coap_opt_length(o) > 4)
    return DEFAULT_MAX_AGE_MS;
  return coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)) * 1000u;
}

/* ---------------------------------------------------------------- handlers */

static watch_t *
watch_of(coap_session_t *session)
{
  return coap_context_get_app_data(coap_session_get_context(session));
}

static int
ours(const watch_t *w, const coap_pdu_t *rcvd)
{
  coap_bin_const_t token = coap_pdu_get_token(rcvd);

  return token.length == w->token_length &&
         (token.length == 0 || memcmp(token.s, w->token, token.length) == 0);
}

static coap_response_t
on_response(coap_session_t *session, const coap_pdu_t *sent,
            const coap_pdu_t *rcvd, const coap_mid_t mid)
{
  watch_t *w = watch_of(session);
  uint8_t code = (uint8_t)coap_pdu_get_code(rcvd);
  coap_opt_iterator_t oi;
  int observe = coap_check_option(rcvd, COAP_OPTION_OBSERVE, &oi) != NULL;

  (void)sent;
  (void)mid;
  if (w == NULL || code == COAP_EMPTY_CODE || !ours(w, rcvd))
    return COAP_RESPONSE_OK;
  if (w->cancelling) {
    w->cancel_answered = 1; /* the deregistration's answer: not printed */
    return COAP_RESPONSE_OK;
  }
  w->answers++;
  w->status = print_response(w, session, rcvd) < 0 ? CK_EXIT_FILE
                                                   : ck_exit_for_code(code);
  if (w->mcast)
    return COAP_RESPONSE_OK;
  w->observing = observe && COAP_RESPONSE_CLASS(code) == 2;
  /* Not observable, or an error: this was the last answer. */
  w->ended = !w->observing || w->status == CK_EXIT_FILE;
  w->last_ms = coap_ticks_ms();
  w->max_age_ms = max_age_ms(rcvd);
  return COAP_RESPONSE_OK;
}

static void
on_nack(coap_session_t *session, const coap_pdu_t *sent,
        const coap_nack_reason_t reason, const coap_mid_t mid)
{
  watch_t *w = watch_of(session);

  (void)sent;
  (void)mid;
  if (w == NULL || w->cancelling)
    return;
  if (w->observing && reason == COAP_NACK_TOO_MANY_RETRIES)
    return; /* a re-registration went unanswered: keep trying */
  w->failed = 1;
  w->status = ck_exit_for_nack(reason);
  ck_diag("the request failed: %s", coap_nack_reason_str(reason)
                                        ? coap_nack_reason_str(reason)
                                        : "network error");
}

/* ---------------------------------------------------------------- loops */

static int
turn(watch_t *w, uint64_t until)
{
  uint64_t now = coap_ticks_ms();
  uint64_t left = until > now ? until - now : 0;

  if (coap_io_process(w->target->context,
                      (uint32_t)(left < 200 ? left : 200)) < 0) {
    ck_diag("network I/O failed");
    w->failed = 1;
    w->status = CK_EXIT_NETWORK;
    return -1;
  }
  return 0;
}

static void
reregister(watch_t *w)
{
  coap_pdu_t *pdu = coap_pdu_duplicate(w->reg, w->target->session,
                                       w->token_length, w->token, NULL);

  if (pdu == NULL)
    return;
  if (coap_get_log_level() >= COAP_LOG_INFO)
    ck_diag("no notification for %u s: re-registering",
            (unsigned)((coap_ticks_ms() - w->last_ms) / 1000u));
  coap_send(w->target->session, pdu);
  w->last_ms = coap_ticks_ms();
}

static void
deregister(watch_t *w)
{
  coap_binary_t token = {w->token_length, w->token};
  uint64_t end;

  w->cancelling = 1;
  if (!coap_cancel_observe(w->target->session, &token,
                           w->cfg->non ? COAP_MESSAGE_NON : COAP_MESSAGE_CON))
    return;
  end = coap_ticks_ms() + CANCEL_WAIT_MS;
  while (!w->cancel_answered && coap_ticks_ms() < end && turn(w, end) == 0)
    ;
}

static int
observe_loop(watch_t *w)
{
  uint64_t end = w->sent_ms + w->cfg->observe_ms;
  uint64_t first_by = w->sent_ms + w->cfg->wait_ms;

  while (!w->failed && !w->ended && coap_ticks_ms() < end) {
    uint64_t now = coap_ticks_ms();
    if (w->answers == 0 && now >= first_by) {
      ck_diag("no response within %.3g s", w->cfg->wait_ms / 1000.0);
      return CK_EXIT_TIMEOUT;
    }
    if (w->observing &&
        now > w->last_ms + w->max_age_ms + REREGISTER_MARGIN_MS)
      reregister(w);
    if (turn(w, w->answers ? end : (first_by < end ? first_by : end)) < 0)
      break;
  }
  if (w->answers == 0 && !w->failed) {
    ck_diag("no response within %.3g s", w->cfg->observe_ms / 1000.0);
    return CK_EXIT_TIMEOUT;
  }
  if (w->observing && !w->ended && !w->failed)
    deregister(w);
  return w->status;
}

static int
group_loop(watch_t *w)
{
  uint64_t end = w->sent_ms + w->cfg->wait_ms;

  while (!w->failed && coap_ticks_ms() < end)
    if (turn(w, end) < 0)
      break;
  if (w->answers == 0 && !w->failed) {
    ck_diag("no response within %.3g s", w->cfg->wait_ms / 1000.0);
    return CK_EXIT_TIMEOUT;
  }
  return w->status;
}

int
ck_watch_run(const ck_request_config_t *cfg, ck_target_t *target,
             coap_pdu_t *pdu)
{
  watch_t w;
  coap_bin_const_t token = coap_pdu_get_token(pdu);
  int rc;

  memset(&w, 0, sizeof(w));
  w.cfg = cfg;
  w.target = target;
  w.mcast = coap_is_mcast(&target->remote);
  w.token_length = token.length;
  memcpy(w.token, token.s, token.length);
  w.reg = coap_pdu_duplicate(pdu, NULL, token.length, token.s, NULL);
  w.status = CK_EXIT_TIMEOUT;
  coap_context_set_app_data(target->context, &w);
  coap_register_response_handler(target->context, on_response);
  coap_register_nack_handler(target->context, on_nack);
  w.sent_ms = coap_ticks_ms();
  if (coap_send(target->session, pdu) == COAP_INVALID_MID) {
    ck_diag("cannot send the request");
    rc = CK_EXIT_NETWORK;
  } else {
    rc = w.mcast ? group_loop(&w) : observe_loop(&w);
  }
  coap_context_set_app_data(target->context, NULL);
  coap_delete_pdu(w.reg);
  return rc;
}

/* ---------------------------------------------------------------- progress */

typedef struct progress_t {
  size_t done, total;
  int sending, found;
} progress_t;

static int
find_progress(coap_session_t *session, void *arg)
{
  progress_t *p = arg;

  if (!coap_block_progress(session, &p->done, &p->total, &p->sending))
    return 0;
  p->found = 1;
  return 1;
}

static void
progress_line(const progress_t *p, const char *end)
{
  if (p->total)
    fprintf(stderr, "\r%s: %s %zu of %zu bytes%s", ck_prog(),
            p->sending ? "sent" : "received", p->done, p->total, end);
  else
    fprintf(stderr, "\r%s: %s %zu bytes%s", ck_prog(),
            p->sending ? "sent" : "received", p->done, end);
  fflush(stderr);
}

void
ck_progress(coap_context_t *context, int final)
{
  static progress_t last;
  static uint64_t shown_ms;
  static int shown;
  progress_t now = {0, 0, 0, 0};

  if (ck_output_quiet() || !isatty(STDERR_FILENO))
    return;
  if (final) {
    if (!shown)
      return;
    if (last.total)
      last.done = last.total; /* it ended: everything went */
    progress_line(&last, "\n");
    shown = 0;
    return;
  }
  coap_context_foreach_session(context, find_progress, &now);
  if (!now.found || (shown && coap_ticks_ms() < shown_ms + PROGRESS_EVERY_MS))
    return;
  last = now;
  shown_ms = coap_ticks_ms();
  shown = 1;
  progress_line(&now, "");
}
