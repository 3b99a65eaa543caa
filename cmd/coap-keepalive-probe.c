/*
 * coap-keepalive-probe -- CoAP's ping for device liveness, for one device
 * or a fleet.  This file only reads the command line; src/probe.c does the
 * work.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "exitcode.h"
#include "keys.h"
#include "options.h"
#include "output.h"
#include "probe.h"

enum {
  OPT_JSON = 256,
  OPT_PROMETHEUS,
  OPT_PARALLEL,
  OPT_SHARD,
  OPT_WATCH,
  OPT_HELP,
  OPT_VERSION,
  OPT_CERT
};

static const struct option long_options[] = {
  {"count", required_argument, NULL, 'c'},
  {"interval", required_argument, NULL, 'i'},
  {"timeout", required_argument, NULL, 'W'},
  {"deadline", required_argument, NULL, 'w'},
  {"file", required_argument, NULL, 'F'},
  {"keepalive", required_argument, NULL, 'K'},
  {"quiet", no_argument, NULL, 'q'},
  {"verbose", required_argument, NULL, 'v'},
  {"parallel", required_argument, NULL, OPT_PARALLEL},
  {"shard", required_argument, NULL, OPT_SHARD},
  {"json", no_argument, NULL, OPT_JSON},
  {"prometheus", no_argument, NULL, OPT_PROMETHEUS},
  {"watch", no_argument, NULL, OPT_WATCH},
  {"help", no_argument, NULL, OPT_HELP},
  {"version", no_argument, NULL, OPT_VERSION},
  /* coap-client's security options, but -c is ping(8)'s count here: the
   * certificate is --cert only. */
  {"identity", required_argument, NULL, 'u'},
  {"key", required_argument, NULL, 'k'},
  {"key-file", required_argument, NULL, CK_OPT_KEY_FILE},
  {"cert", required_argument, NULL, OPT_CERT},
  {"cert-key", required_argument, NULL, 'j'},
  {"ca", required_argument, NULL, 'C'},
  {"trusted-ca", required_argument, NULL, 'R'},
  {"no-verify", no_argument, NULL, 'n'},
  {NULL, 0, NULL, 0},
};

static void
usage(FILE *out)
{
  fputs(
      "Usage: coap-keepalive-probe [options] URI...\n"
      "Send CoAP pings to each target and report the answers, like ping(8):\n"
      "an empty CON answered with RST over coap:// and coaps:// (DTLS), a\n"
      "7.02 Ping answered with a 7.03 Pong over coap+tcp://, coaps+tcp://\n"
      "(TLS), coap+ws:// and coaps+ws://.\n"
      "\n"
      "  -c, --count N          pings per target (default 3; 0: until\n"
      "                         interrupted or the deadline)\n"
      "  -i, --interval SECS    between one ping and the next to a target\n"
      "                         (default 1; fractions allowed)\n"
      "  -W, --timeout SECS     a ping unanswered this long is lost; also\n"
      "                         bounds connecting and the handshake\n"
      "                         (default 2)\n"
      "  -w, --deadline SECS    stop the whole run after SECS\n"
      "  -F, --file FILE        read more targets from FILE, one URI a line\n"
      "                         (- for stdin; blank and # lines skipped)\n"
      "      --parallel N       probe at most N targets at once (default\n"
      "                         100), each with its own session\n"
      "      --shard I/N        probe only the targets k (counted from 0)\n"
      "                         with k mod N = I, so N machines split a fleet\n"
      "      --json             one JSON object per event and per target\n"
      "      --prometheus       Prometheus text exposition format at the end\n"
      "                         (for node_exporter's textfile collector)\n"
      "      --watch            keep a session per target, ping it every -K\n"
      "                         seconds of silence, and print a line when a\n"
      "                         target goes down or comes back; until\n"
      "                         SIGINT, SIGTERM or -w\n"
      "  -K, --keepalive SECS   keepalive period for --watch (default 30)\n"
      "  -q, --quiet            print nothing; only the exit status tells\n"
      "  -v, --verbose LEVEL    library log level 0-9 (default 4)\n"
      "      --help             show this help and exit\n"
      "      --version          show the version and exit\n"
      "Security for coaps:// targets (as coap-client, but the certificate\n"
      "is --cert only: -c is the count):\n"
      "  -u, --identity ID      PSK identity\n"
      "  -k, --key KEY          PSK key: text, or 0x and hex digits\n"
      "      --key-file FILE    PSK key from the first line of FILE\n"
      "  -h FILE                lines hint,identity,key: the server's\n"
      "                         identity hint picks identity and key\n"
      "      --cert FILE        own certificate (PEM or DER)\n"
      "  -j, --cert-key FILE    its private key (PEM or DER)\n"
      "  -C, --ca FILE          common CA: the server must be signed by it\n"
      "  -R, --trusted-ca FILE|DIR  trusted CA certificates\n"
      "  -n, --no-verify        do not verify the server's certificate\n"
      "\n"
      "A DTLS or TLS target reports its handshake time apart from the\n"
      "pings'; a failed connection or handshake counts as not answered.\n"
      "\n"
      "Exit status: 0 every target answered, 1 at least one did not (or was\n"
      "not probed), 2 usage or set-up error.\n",
      out);
}

static const ck_cli_t cli = {"coap-keepalive-probe", usage, OPT_HELP,
                             OPT_VERSION};

static int
parse_shard(ck_probe_config_t *cfg, const char *arg)
{
  const char *slash = strchr(arg, '/');
  char index[32];
  size_t n;

  if (slash == NULL || (n = (size_t)(slash - arg)) == 0 || n >= sizeof(index))
    return -1;
  memcpy(index, arg, n);
  index[n] = '\0';
  if (ck_parse_uint(index, 0, 1000000, &cfg->shard_index) < 0 ||
      ck_parse_uint(slash + 1, 1, 1000000, &cfg->shard_count) < 0 ||
      cfg->shard_index >= cfg->shard_count)
    return -1;
  return 0;
}

typedef struct seen_t {
  int count, interval, keepalive;
} seen_t;

/* The security options (src/keys.h); 0 or an exit status. */
static int
apply_key_option(ck_probe_config_t *cfg, int opt, const char *arg)
{
  return ck_cli_keys_option(&cli, cfg->keys, opt == OPT_CERT ? 'c' : opt,
                            arg);
}

/* Applies one option to cfg; returns 0 or an exit status. */
static int
apply_option(ck_probe_config_t *cfg, seen_t *seen, int opt, const char *arg)
{
  unsigned long number;

  switch (opt) {
  case 'c':
    seen->count = 1;
    return ck_parse_uint(arg, 0, 1000000000ul, &cfg->count) == 0
               ? 0 : ck_cli_bad_value("-c", arg, "a count, 0 for no limit");
  case 'i':
    seen->interval = 1;
    return ck_parse_seconds(arg, &cfg->interval_ms) == 0
               ? 0 : ck_cli_bad_value("-i", arg, "seconds, more than 0");
  case 'W':
    return ck_parse_seconds(arg, &cfg->timeout_ms) == 0
               ? 0 : ck_cli_bad_value("-W", arg, "seconds, more than 0");
  case 'w':
    return ck_parse_seconds(arg, &cfg->deadline_ms) == 0
               ? 0 : ck_cli_bad_value("-w", arg, "seconds, more than 0");
  case 'F':
    cfg->target_file = arg;
    return 0;
  case 'K':
    seen->keepalive = 1;
    if (ck_parse_uint(arg, 1, 86400, &number) < 0)
      return ck_cli_bad_value("-K", arg, "whole seconds from 1 to 86400");
    cfg->keepalive_s = (unsigned int)number;
    return 0;
  case 'q':
    cfg->quiet = 1;
    return 0;
  case 'v':
    return ck_parse_log_level(arg, &cfg->log_level) == 0
               ? 0 : ck_cli_bad_value("-v", arg, "a level from 0 to 9");
  case OPT_PARALLEL:
    return ck_parse_uint(arg, 1, 1000000, &cfg->parallel) == 0
               ? 0 : ck_cli_bad_value("--parallel", arg, "a number from 1");
  case OPT_SHARD:
    return parse_shard(cfg, arg) == 0
               ? 0 : ck_cli_bad_value("--shard", arg, "I/N with 0 <= I < N");
  case OPT_JSON:
  case OPT_PROMETHEUS:
    if (cfg->format != CK_PROBE_TEXT)
      return ck_usage_error("use --json or --prometheus, not both");
    cfg->format = opt == OPT_JSON ? CK_PROBE_JSON : CK_PROBE_PROMETHEUS;
    return 0;
  case OPT_WATCH:
    cfg->watch = 1;
    return 0;
  default:
    return apply_key_option(cfg, opt, arg);
  }
}

static int
check_combination(const ck_probe_config_t *cfg, const seen_t *seen,
                  int have_targets)
{
  if (!have_targets)
    return ck_usage_error("missing URI; try 'coap-keepalive-probe --help'");
  if (seen->keepalive && !cfg->watch)
    return ck_usage_error("-K applies to --watch only");
  if (cfg->watch && (seen->count || seen->interval))
    return ck_usage_error("-c and -i do not apply to --watch (use -K)");
  return 0;
}

int
main(int argc, char *argv[])
{
  static ck_probe_config_t cfg;
  static ck_keys_t keys;
  seen_t seen = {0, 0, 0};
  int opt, rc, quiet = 0, i;

  ck_probe_config_init(&cfg);
  ck_keys_init(&keys, CK_KEYS_CLIENT);
  cfg.keys = &keys;
  /* -q must hold before any other option can complain at runtime. */
  for (i = 1; i < argc; i++)
    if (strcmp(argv[i], "--") == 0)
      break;
    else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
      quiet = 1;
  ck_output_init("coap-keepalive-probe", quiet);
  opterr = 0;
  while ((opt = getopt_long(argc, argv,
                            ":c:i:W:w:F:K:qv:u:k:h:j:C:R:n",
                            long_options, NULL)) != -1) {
    rc = ck_cli_common(&cli, opt, argv);
    if (rc != CK_CLI_CONTINUE)
      return rc;
    rc = apply_option(&cfg, &seen, opt, optarg);
    if (rc != 0)
      return rc;
  }
  cfg.uris = argv + optind;
  cfg.uri_count = (size_t)(argc - optind);
  rc = check_combination(&cfg, &seen,
                         cfg.uri_count > 0 || cfg.target_file != NULL);
  if (rc != 0)
    return rc;
  rc = ck_keys_load(&keys);
  if (rc == 0)
    rc = ck_probe_run(&cfg);
  ck_keys_free(&keys);
  return rc;
}
