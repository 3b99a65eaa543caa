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

#include "exitcode.h"
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
  {"identity", required_argument, NULL, 'u'},
  {"key", required_argument, NULL, 'k'},
  {"request", no_argument, NULL, OPT_REQUEST},
  {"json", no_argument, NULL, OPT_JSON},
  {"show-key", no_argument, NULL, OPT_SHOW_KEY},
  {"server", required_argument, NULL, OPT_SERVER},
  {"watch", required_argument, NULL, OPT_WATCH},
  {"help", no_argument, NULL, OPT_HELP},
  {"version", no_argument, NULL, OPT_VERSION},
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
      "  -u, --identity ID         PSK identity (stored; used once DTLS is\n"
      "                            supported)\n"
      "  -k, --key KEY             PSK key: text, or 0x and hex digits\n"
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

static int
bad_value(const char *option, const char *value, const char *expected)
{
  return ck_usage_error("invalid value '%s' for %s: %s", value, option,
                        expected);
}

static int
parse_key(ck_dump_config_t *cfg, const char *arg)
{
  size_t len = strlen(arg);

  if (strncmp(arg, "0x", 2) == 0)
    return ck_parse_hex(arg + 2, cfg->psk_key, sizeof(cfg->psk_key),
                        &cfg->psk_key_len) == 0 && cfg->psk_key_len > 0
               ? 0 : -1;
  if (len == 0 || len > sizeof(cfg->psk_key))
    return -1;
  memcpy(cfg->psk_key, arg, len);
  cfg->psk_key_len = len;
  return 0;
}

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
               ? 0 : bad_value("-p", arg, "a port from 0 to 65535");
  case 'B':
    return ck_parse_seconds(arg, &cfg->wait_ms) == 0
               ? 0 : bad_value("-B", arg, "seconds, more than 0");
  case 'v':
    return ck_parse_log_level(arg, &cfg->log_level) == 0
               ? 0 : bad_value("-v", arg, "a level from 0 to 9");
  case 'u':
    if (arg[0] == '\0')
      return bad_value("-u", arg, "a non-empty identity");
    cfg->psk_identity = arg;
    return 0;
  case 'k':
    cfg->have_psk_key = 1;
    return parse_key(cfg, arg) == 0
               ? 0 : bad_value("-k", "...", "1 to 64 bytes of text or 0x hex");
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
               ? 0 : bad_value("--watch", arg, "seconds, more than 0");
  default:
    return ck_usage_error("try 'coap-session-dump --help'");
  }
}

static int
check_combination(const ck_dump_config_t *cfg, int args_left)
{
  if (cfg->server_path != NULL) {
    if (args_left != 0)
      return ck_usage_error("--server takes no URI");
    if (cfg->request || cfg->show_key || cfg->local_address ||
        cfg->have_local_port || cfg->psk_identity || cfg->have_psk_key)
      return ck_usage_error("--server lists sessions: --request, --show-key, "
                            "-a, -p, -u and -k do not apply");
    return 0;
  }
  if (cfg->watch_ms != 0)
    return ck_usage_error("--watch needs --server");
  if (args_left != 1)
    return ck_usage_error(args_left == 0
                              ? "missing URI; try 'coap-session-dump --help'"
                              : "expected one URI, got more arguments");
  if (cfg->have_psk_key != (cfg->psk_identity != NULL))
    return ck_usage_error("-u and -k go together");
  return 0;
}

int
main(int argc, char *argv[])
{
  static ck_dump_config_t cfg;
  int opt, rc;

  ck_dump_config_init(&cfg);
  ck_output_init("coap-session-dump", 0);
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":a:p:B:v:u:k:", long_options,
                            NULL)) != -1) {
    if (opt == OPT_HELP) {
      usage(stdout);
      return CK_EXIT_OK;
    }
    if (opt == OPT_VERSION) {
      printf("coap-session-dump (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
      return CK_EXIT_OK;
    }
    if (opt == '?' && optopt != 0)
      return ck_usage_error(
          "unknown option '-%c'; try 'coap-session-dump --help'", optopt);
    if (opt == '?')
      return ck_usage_error(
          "unknown option '%s'; try 'coap-session-dump --help'",
          argv[optind - 1]);
    if (opt == ':')
      return ck_usage_error("option '%s' needs a value", argv[optind - 1]);
    rc = apply_option(&cfg, opt, optarg);
    if (rc != 0)
      return rc;
  }
  rc = check_combination(&cfg, argc - optind);
  if (rc != 0)
    return rc;
  coap_startup();
  coap_set_log_level(cfg.log_level);
  if (cfg.server_path != NULL)
    rc = ck_dump_server(&cfg);
  else {
    cfg.uri = argv[optind];
    rc = ck_dump_session(&cfg);
  }
  coap_cleanup();
  return rc;
}
