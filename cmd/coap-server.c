/*
 * coap-server -- a CoAP server with a few built-in resources.
 * This file only reads the command line; src/server.c does the work.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "exitcode.h"
#include "keys.h"
#include "options.h"
#include "output.h"
#include "server.h"

enum {
  OPT_PORT_FILE = 256,
  OPT_MAX_SESSIONS,
  OPT_IDLE_TIMEOUT,
  OPT_HELP,
  OPT_VERSION,
  OPT_DTLS_PORT,
  OPT_DTLS_PORT_FILE
};

static const struct option long_options[] = {
  {"address", required_argument, NULL, 'A'},
  {"port", required_argument, NULL, 'p'},
  {"verbose", required_argument, NULL, 'v'},
  {"max-dynamic", required_argument, NULL, 'd'},
  {"port-file", required_argument, NULL, OPT_PORT_FILE},
  {"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
  {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
  {"help", no_argument, NULL, OPT_HELP},
  {"version", no_argument, NULL, OPT_VERSION},
  {"dtls-port", required_argument, NULL, OPT_DTLS_PORT},
  {"dtls-port-file", required_argument, NULL, OPT_DTLS_PORT_FILE},
  CK_KEYS_LONG,
  {NULL, 0, NULL, 0},
};

static void
usage(FILE *out)
{
  fputs(
      "Usage: coap-server [options]\n"
      "Serve CoAP over UDP: /, /time, /echo, /.well-known/core, and with -d\n"
      "resources created by PUT or POST.  Stops on SIGINT or SIGTERM.\n"
      "\n"
      "  -A, --address ADDR       listen on ADDR, or on a Unix-domain socket\n"
      "                           if ADDR starts with / (up to twice;\n"
      "                           default both 0.0.0.0 and ::)\n"
      "  -p, --port PORT          UDP port (default 5683; 0 picks a free one)\n"
      "  -v, --verbose LEVEL      log level 0-9 (6 logs each request, 7 debug;\n"
      "                           default 4)\n"
      "  -d, --max-dynamic MAX    let PUT/POST create up to MAX resources\n"
      "                           on unknown paths\n"
      "      --port-file FILE     write the bound UDP port to FILE\n"
      "      --max-sessions N     keep at most N client sessions\n"
      "      --idle-timeout SECS  drop sessions idle this long (default 300)\n"
      "With a key or certificate, also DTLS (coaps://), see coap-server(1):\n"
      "  -k, --key KEY            PSK key: text, or 0x and hex digits\n"
      "      --key-file FILE      PSK key from the first line of FILE\n"
      "  -h HINT                  PSK identity hint\n"
      "      --psk-file FILE      lines identity,key: a key per identity\n"
      "      --sni-psk-file FILE  lines sni,hint,key: per server name\n"
      "  -c, --cert FILE          certificate (PEM or DER)\n"
      "  -j, --cert-key FILE      its private key (PEM or DER)\n"
      "  -C, --ca FILE            ask clients for a certificate signed by it\n"
      "  -R, --trusted-ca F|DIR   trusted CA certificates\n"
      "  -n, --no-verify          do not verify client certificates\n"
      "      --dtls-port PORT     DTLS port (default 5684; free with -p 0)\n"
      "      --dtls-port-file F   write the bound DTLS port to F\n"
      "      --help               show this help and exit\n"
      "      --version            show the version and exit\n"
      "\n"
      "Exit status: 0 stopped by a signal, 1 other failure, 2 usage error,\n"
      "3 network or address error (cannot resolve or bind), 8 local file\n"
      "error (cannot write --port-file).\n",
      out);
}

static int
bad_value(const char *option, const char *value, const char *expected)
{
  return ck_usage_error("invalid value '%s' for %s: %s", value, option,
                        expected);
}

static int
apply_option(ck_server_config_t *cfg, int opt, const char *arg)
{
  unsigned long number;

  switch (opt) {
  case 'A':
    if (cfg->address_count == CK_SERVER_MAX_ADDRESSES)
      return ck_usage_error("-A may be given at most %d times",
                            CK_SERVER_MAX_ADDRESSES);
    cfg->addresses[cfg->address_count++] = arg;
    return 0;
  case 'p':
    return ck_parse_port(arg, &cfg->port) == 0
               ? 0 : bad_value("-p", arg, "a port from 0 to 65535");
  case 'v':
    return ck_parse_log_level(arg, &cfg->log_level) == 0
               ? 0 : bad_value("-v", arg, "a level from 0 to 9");
  case 'd':
    if (ck_parse_uint(arg, 0, 1000000, &number) < 0)
      return bad_value("-d", arg, "a number from 0 to 1000000");
    cfg->max_dynamic = (unsigned int)number;
    return 0;
  case OPT_PORT_FILE:
    cfg->port_file = arg;
    return 0;
  case OPT_MAX_SESSIONS:
    if (ck_parse_uint(arg, 1, 1000000, &number) < 0)
      return bad_value("--max-sessions", arg, "a number from 1 to 1000000");
    cfg->max_sessions = (unsigned int)number;
    return 0;
  case OPT_IDLE_TIMEOUT:
    if (ck_parse_uint(arg, 1, 86400, &number) < 0)
      return bad_value("--idle-timeout", arg, "seconds from 1 to 86400");
    cfg->idle_timeout = (unsigned int)number;
    return 0;
  case OPT_DTLS_PORT:
    cfg->have_dtls_port = 1;
    return ck_parse_port(arg, &cfg->dtls_port) == 0
               ? 0 : bad_value("--dtls-port", arg, "a port from 0 to 65535");
  case OPT_DTLS_PORT_FILE:
    cfg->dtls_port_file = arg;
    return 0;
  default:
    switch (ck_keys_option(cfg->keys, opt, arg)) {
    case 1:
      return 0;
    case -1:
      return CK_EXIT_USAGE;
    default:
      return ck_usage_error("try 'coap-server --help'");
    }
  }
}

int
main(int argc, char *argv[])
{
  ck_server_config_t cfg;
  int opt, rc;

  static ck_keys_t keys;

  ck_server_config_init(&cfg);
  ck_keys_init(&keys, CK_KEYS_SERVER);
  cfg.keys = &keys;
  ck_output_init("coap-server", 0);
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":A:p:v:d:" CK_KEYS_SERVER_SHORT, long_options, NULL)) !=
         -1) {
    if (opt == OPT_HELP) {
      usage(stdout);
      return CK_EXIT_OK;
    }
    if (opt == OPT_VERSION) {
      printf("coap-server (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
      return CK_EXIT_OK;
    }
    if (opt == '?' && optopt != 0)
      return ck_usage_error("unknown option '-%c'; try 'coap-server --help'",
                            optopt);
    if (opt == '?')
      return ck_usage_error("unknown option '%s'; try 'coap-server --help'",
                            argv[optind - 1]);
    if (opt == ':')
      return ck_usage_error("option '%s' needs a value", argv[optind - 1]);
    rc = apply_option(&cfg, opt, optarg);
    if (rc != 0)
      return rc;
  }
  if (optind != argc)
    return ck_usage_error("unexpected argument '%s'; try 'coap-server --help'",
                          argv[optind]);
  rc = ck_keys_load(&keys);
  if (rc == 0)
    rc = ck_server_run(&cfg);
  ck_keys_free(&keys);
  return rc;
}
