/*
 * log.c -- the one logger of the library.
 *
 * The level and handler are the only global state lib/ keeps (DESIGN.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "coap.h"

static coap_log_t log_level = COAP_LOG_WARN;
static coap_log_handler_t log_handler;

static const char *const level_names[] = {
  "EMRG", "ALRT", "CRIT", "ERR", "WARN", "NOTE", "INFO", "DEBG", "OSC", "DTLS",
};

void
coap_set_log_level(coap_log_t level)
{
  if ((int)level < 0)
    level = COAP_LOG_EMERG;
  if (level > COAP_MAX_LOGGING_LEVEL)
    level = COAP_MAX_LOGGING_LEVEL;
  log_level = level;
}

coap_log_t
coap_get_log_level(void)
{
  return log_level;
}

void
coap_set_log_handler(coap_log_handler_t handler)
{
  log_handler = handler;
}

void
coap_log_impl(coap_log_t level, const char *format, ...)
{
  char msg[1024];
  va_list ap;
  size_t n;

  if ((int)level > (int)log_level)
    return;
  va_start(ap, format);
  vsnprintf(msg, sizeof(msg), format, ap);
  va_end(ap);
  if (log_handler) {
    log_handler(level, msg);
    return;
  }
  n = strlen(msg);
  /* Callers often end with '\n' already: never print a blank line. */
  while (n > 0 && msg[n - 1] == '\n')
    msg[--n] = '\0';
  fprintf(stderr, "%s %s\n",
          (unsigned)level < sizeof(level_names) / sizeof(level_names[0])
              ? level_names[level]
              : "LOG",
          msg);
}
