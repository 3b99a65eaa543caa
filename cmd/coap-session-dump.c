/*
 * coap-session-dump -- show everything a CoAP session knows, or list a
 * running coap-server's sessions.  This file only reads the command line;
 * src/session_dump.c does the work.
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
#include "session_dump.h"

enum {
  OPT_REQUEST = 256,
  OPT_JSON,
  OPT_SHOW_KEY,
  OPT_SERVER,
  OPT_WATCH,
  OPT_HELP,
  OPT_VERSION
};

static const struct option long_options[] = {
  {"local-address", required_argument, NULL, 'a'},
  {"local-port", required_argument, NULL, 'p'},
  {"wait", required_argument, NULL, 'B'},
  {"verbose", required_argument, NULL, 'v'},
  {"request", no_argument, NULL, OPT_REQUEST},
  {"json", no_argument, NULL, OPT_JSON},
  {"show-key", no_argument, NULL, OPT_SHOW_KEY},
  {"server", required_argument, NULL, OPT_SERVER},
  {"watch", required_argument, NULL, OPT_WATCH},
  {"help", no_argument, NULL, OPT_HELP},
  {"version", no_argument, NULL, OPT_VERSION},
  CK_KEYS_LONG,
  {NULL, 0, NULL, 0},
};

static void
usage(FILE *out)
{
  fputs(
      "Usage: coap-session-dump [options] URI\n"
      "       coap-session-dump --server PATH [--watch SECONDS] [--json]\n"
      "Open a CoAP session to URI, check that it is established (a CoAP\n"
      "ping; with --request also a GET of the URI) and print every field the\n"
      "session has.  With --server, list the sessions of a coap-server\n"
      "started with --admin PATH, one line each.\n"
      "\n"
      "  -a, --local-address ADDR  send from this local address\n"
      "  -p, --local-port PORT     send from this local port\n"
      "  -B, --wait SECONDS        give up after this long (default 10)\n"
      "  -v, --verbose LEVEL       log level 0-9 (default 4)\n"
      "Security (coaps://, coaps+tcp://, coaps+ws://; on a plain URI a PSK\n"
      "is only stored and shown), as coap-client:\n"
      "  -u, --identity ID         PSK identity\n"
      "  -k, --key KEY             PSK key: text, or 0x and hex digits\n"
      "      --key-file FILE       PSK key from the first line of FILE\n"
      "  -h FILE                   lines hint,identity,key: the server's\n"
      "                            identity hint picks identity and key\n"
      "  -c, --cert FILE           own certificate (PEM or DER)\n"
      "  -j, --cert-key FILE       its private key (PEM or DER)\n"
      "  -C, --ca FILE             common CA: the server must be signed by it\n"
      "  -R, --trusted-ca FILE|DIR trusted CA certificates\n"
      "  -n, --no-verify           do not verify the server's certificate\n"
      "Other options:\n"
      "      --request             also send a GET for the URI's path\n"
      "      --json                print one JSON object (an array with\n"
      "                            --server)\n"
      "      --show-key            print the PSK key instead of a mask\n"
      "      --server PATH         list the sessions of the coap-server whose\n"
      "                            admin socket is PATH\n"
      "      --watch SECONDS       with --server: list again every SECONDS\n"
      "                            until interrupted\n"
      "      --help                show this help and exit\n"
      "      --version             show the version and exit\n"
      "\n"
      "Exit status: 0 the session was established (or the list was read),\n"
      "1 it could not be (no answer, unreachable, no server), 2 usage error.\n",
      out);
}

static const ck_cli_t cli = {"coap-session-dump", usage, OPT_HELP,
                             OPT_VERSION};

static int
apply_option(ck_dump_config_t *cfg, int opt, const char *arg)
{
  switch (opt) {
  case 'a':
    cfg->local_address = arg;
    return 0;
  case 'p':
    cfg->have_local_port = 1;
    return ck_parse_port(arg, &cfg->local_port) == 0
               ? 0 : ck_cli_bad_value("-p", arg, "a port from 0 to 65535");
  case 'B':
    return ck_parse_seconds(arg, &cfg->wait_ms) == 0
               ? 0 : ck_cli_bad_value("-B", arg, "seconds, more than 0");
  case 'v':
    return ck_parse_log_level(arg, &cfg->log_level) == 0
               ? 0 : ck_cli_bad_value("-v", arg, "a level from 0 to 9");
  case OPT_REQUEST:
    cfg->request = 1;
    return 0;
  case OPT_JSON:
    cfg->json = 1;
    return 0;
  case OPT_SHOW_KEY:
    cfg->show_key = 1;
    return 0;
  case OPT_SERVER:
    cfg->server_path = arg;
    return 0;
  case OPT_WATCH:
    return ck_parse_seconds(arg, &cfg->watch_ms) == 0
               ? 0 : ck_cli_bad_value("--watch", arg, "seconds, more than 0");
  default:
    return ck_cli_keys_option(&cli, cfg->keys, opt, arg);
  }
}

static int
check_combination(const ck_dump_config_t *cfg, int args_left)
{
  if (cfg->server_path != NULL) {
    if (args_left != 0)
      return ck_usage_error("--server takes no URI");
    if (cfg->request || cfg->show_key || cfg->local_address ||
        cfg->have_local_port || ck_keys_have_psk(cfg->keys) ||
        ck_keys_have_pki(cfg->keys) || cfg->keys->identity ||
        cfg->keys->key_file)
      return ck_usage_error("--server lists sessions: --request, --show-key, "
                            "-a, -p and the security options do not apply");
    return 0;
  }
  if (cfg->watch_ms != 0)
    return ck_usage_error("--watch needs --server");
  if (args_left != 1)
    return ck_usage_error(args_left == 0
                              ? "missing URI; try 'coap-session-dump --help'"
                              : "expected one URI, got more arguments");
  if (cfg->keys->identity && !cfg->keys->have_key && !cfg->keys->key_file &&
      !cfg->keys->hint_file)
    return ck_usage_error("-u needs a key (-k or --key-file)");
  return 0;
}

int
main(int argc, char *argv[])
{
  static ck_dump_config_t cfg;
  static ck_keys_t keys;
  int opt, rc;

  ck_dump_config_init(&cfg);
  ck_keys_init(&keys, CK_KEYS_CLIENT);
  cfg.keys = &keys;
  ck_output_init("coap-session-dump", 0);
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":a:p:B:v:" CK_KEYS_CLIENT_SHORT,
                            long_options, NULL)) != -1) {
    rc = ck_cli_common(&cli, opt, argv);
    if (rc != CK_CLI_CONTINUE)
      return rc;
    rc = apply_option(&cfg, opt, optarg);
    if (rc != 0)
      return rc;
  }
  rc = check_combination(&cfg, argc - optind);
  if (rc == 0)
    rc = ck_keys_load(&keys);
  if (rc != 0) {
    ck_keys_free(&keys);
    return rc;
  }
  coap_startup();
  coap_set_log_level(cfg.log_level);
  if (cfg.server_path != NULL)
    rc = ck_dump_server(&cfg);
  else {
    cfg.uri = argv[optind];
    rc = ck_dump_session(&cfg);
  }
  coap_cleanup();
  ck_keys_free(&keys);
  return rc;
}
