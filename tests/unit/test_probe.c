/*
 * test_probe.c -- the parts of coap-keepalive-probe's engine that the
 * command line cannot reach: the Prometheus label escaping (the library
 * refuses URIs with a quote or a backslash, so the escaping is defence in
 * depth and must be checked here).
 */
#include <stdio.h>
#include <string.h>

#include "probe.h"
#include "tap.h"

static void
test_escape(void)
{
  char out[64];
  size_t n;

  n = ck_prom_escape("coap://h:1/p", out, sizeof(out));
  is_str(out, "coap://h:1/p", "plain text is kept");
  is_int(n, strlen("coap://h:1/p"), "and its length returned");
  ck_prom_escape("a\"b", out, sizeof(out));
  is_str(out, "a\\\"b", "a double quote is escaped");
  ck_prom_escape("a\\b", out, sizeof(out));
  is_str(out, "a\\\\b", "a backslash is doubled");
  ck_prom_escape("a\nb", out, sizeof(out));
  is_str(out, "a\\nb", "a newline becomes \\n");
  n = ck_prom_escape("\"\"\"\"", out, 5);
  is_int(n, 8, "the needed length is returned when the buffer is short");
  is_str(out, "\\\"\\\"", "and the output is cut, NUL-terminated");
  n = ck_prom_escape("abc", out, 0);
  is_int(n, 3, "cap 0 writes nothing and still measures");
  ck_prom_escape("", out, sizeof(out));
  is_str(out, "", "empty stays empty");
}

static void
test_config_defaults(void)
{
  ck_probe_config_t cfg;

  ck_probe_config_init(&cfg);
  is_int(cfg.count, CK_PROBE_DEFAULT_COUNT, "default count");
  is_int(cfg.interval_ms, 1000, "default interval 1 s");
  is_int(cfg.timeout_ms, 2000, "default timeout 2 s");
  is_int(cfg.format, CK_PROBE_TEXT, "default format text");
  is_int(cfg.shard_count, 0, "no sharding by default");
}

int
main(void)
{
  test_escape();
  test_config_defaults();
  return tap_done();
}
