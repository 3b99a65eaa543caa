/*
 * coap-client -- send one CoAP request and print the response.
 * This file only reads the command line; src/client.c does the work.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "exitcode.h"
#include "keys.h"
#include "options.h"
#include "output.h"

enum { OPT_JSON = 256, OPT_QUIET, OPT_HELP, OPT_VERSION, OPT_SESSION,
       OPT_MCAST_HOPS };

static const struct option long_options[] = {
  {"method", required_argument, NULL, 'm'},
  {"payload", required_argument, NULL, 'e'},
  {"payload-file", required_argument, NULL, 'f'},
  {"output", required_argument, NULL, 'o'},
  {"content-format", required_argument, NULL, 't'},
  {"accept", required_argument, NULL, 'A'},
  {"option", required_argument, NULL, 'O'},
  {"token", required_argument, NULL, 'T'},
  {"non", no_argument, NULL, 'N'},
  {"wait", required_argument, NULL, 'B'},
  {"keepalive", required_argument, NULL, 'K'},
  {"verbose", required_argument, NULL, 'v'},
  {"local-address", required_argument, NULL, 'a'},
  {"local-port", required_argument, NULL, 'p'},
  {"no-uri-host", no_argument, NULL, 'U'},
  {"hop-limit", required_argument, NULL, 'H'},
  {"proxy", required_argument, NULL, 'P'},
  {"newline", no_argument, NULL, 'w'},
  {"json", no_argument, NULL, OPT_JSON},
  {"block", required_argument, NULL, 'b'},
  {"observe", required_argument, NULL, 's'},
  {"mcast-hops", required_argument, NULL, OPT_MCAST_HOPS},
  {"tcp", no_argument, NULL, 'r'},
  {"max-message-size", required_argument, NULL, 'X'},
  {"session", no_argument, NULL, OPT_SESSION},
  {"quiet", no_argument, NULL, OPT_QUIET},
  {"help", no_argument, NULL, OPT_HELP},
  {"version", no_argument, NULL, OPT_VERSION},
  CK_KEYS_LONG,
  {NULL, 0, NULL, 0},
};

static void
usage(FILE *out)
{
  fputs(
      "Usage: coap-client [options] URI\n"
      "Send one CoAP request to URI (coap://host[:port]/path[?query]; also\n"
      "coaps, coap+tcp, coaps+tcp, coap+ws, coaps+ws) and print the\n"
      "response payload on standard output.\n"
      "\n"
      "  -m, --method METHOD        get, put, post, delete, fetch, patch or\n"
      "                             ipatch (default get)\n"
      "  -e, --payload TEXT         send TEXT as the request payload\n"
      "  -f, --payload-file FILE    send the bytes of FILE (- for stdin)\n"
      "  -o, --output FILE          write the response payload to FILE\n"
      "                             (- for stdout, the default)\n"
      "  -t, --content-format CF    Content-Format of the payload, a name\n"
      "                             (text, json, cbor, ...) or a number\n"
      "  -A, --accept CF            ask for this Content-Format (Accept)\n"
      "  -O, --option NUM,VALUE     add an option, by number or name; VALUE\n"
      "                             is text, 0x-prefixed hex, or a number\n"
      "                             for uint options (repeatable)\n"
      "  -T, --token TOKEN          token as text, or 0x-prefixed hex\n"
      "                             (at most 8 bytes)\n"
      "  -N, --non                  send a non-confirmable (NON) request\n"
      "  -B, --wait SECONDS         give up after SECONDS (default 90;\n"
      "                             fractions allowed)\n"
      "  -K, --keepalive SECONDS    send a CoAP ping after SECONDS of\n"
      "                             silence (0, the default: never)\n"
      "  -v, --verbose LEVEL        log level 0-9 (6 shows the response code,\n"
      "                             7 debug; default 4)\n"
      "  -a, --local-address ADDR   send from this local address (for a\n"
      "                             Unix-domain URI: this local socket path)\n"
      "  -p, --local-port PORT      send from this local port\n"
      "  -U, --no-uri-host          never add Uri-Host or Uri-Port options\n"
      "  -H, --hop-limit N          add a Hop-Limit option (1-255)\n"
      "  -P, --proxy URI            send the request to the proxy at URI\n"
      "                             with the target URI in Proxy-Uri\n"
      "  -w, --newline              append a newline after the payload\n"
      "  -b, --block [NUM,]SIZE     block-wise transfer in blocks of at most\n"
      "                             SIZE bytes (16..1024, a power of two);\n"
      "                             a GET starts at block NUM\n"
      "  -s, --observe SECONDS      observe the resource that long: print\n"
      "                             each notification on a line of its own\n"
      "      --mcast-hops N         hop limit of a request to a multicast\n"
      "                             group (1-255, default 1)\n"
      "  -r, --tcp                  coap:// over TCP, coaps:// over TLS\n"
      "  -X, --max-message-size N   Max-Message-Size of our CSM on TCP, TLS\n"
      "                             and WebSockets (64-4294967295, default\n"
      "                             8192)\n"
      "coaps:// (DTLS) security, see coap-client(1):\n"
      "  -u, --identity ID          PSK identity\n"
      "  -k, --key KEY              PSK key: text, or 0x and hex digits\n"
      "      --key-file FILE        PSK key from the first line of FILE\n"
      "  -h FILE                    lines hint,identity,key: the server's\n"
      "                             identity hint picks identity and key\n"
      "  -c, --cert FILE            own certificate (PEM or DER)\n"
      "  -j, --cert-key FILE        its private key (PEM or DER)\n"
      "  -C, --ca FILE              common CA: the server must be signed\n"
      "                             by it\n"
      "  -R, --trusted-ca FILE|DIR  trusted CA certificates\n"
      "  -n, --no-verify            do not verify the server's certificate\n"
      "      --json                 print the response as one JSON object\n"
      "      --session              print the session (coap-session-dump's\n"
      "                             fields) on stderr after the exchange\n"
      "      --quiet                print no diagnostics on stderr\n"
      "      --help                 show this help and exit\n"
      "      --version              show the version and exit\n"
      "\n"
      "Exit status: 0 a 2.xx response, 1 other failure, 2 usage error,\n"
      "3 network or address error, 4 a 4.xx response, 5 a 5.xx response,\n"
      "6 no response in time, 7 TLS failure, 8 local file error.\n",
      out);
}

static const ck_cli_t cli = {"coap-client", usage, OPT_HELP, OPT_VERSION};

static int
bad_value(int opt, const char *value, const char *expected)
{
  const char name[3] = {'-', (char)opt, '\0'};

  return ck_cli_bad_value(name, value, expected);
}

/* -b [num,]size (src/options.c). */
static int
parse_block(ck_request_config_t *cfg, const char *arg)
{
  return ck_parse_block(arg, &cfg->block_num, &cfg->block_size);
}

/* Applies one option to cfg; returns 0 or an exit status. */
static int
apply_option(ck_request_config_t *cfg, int opt, const char *arg)
{
  unsigned long number;
  uint16_t format;
  const char *why = NULL;

  switch (opt) {
  case 'm':
    return ck_parse_method(arg, &cfg->method) == 0
               ? 0 : bad_value(opt, arg, "expected " CK_METHOD_NAMES);
  case 'e':
    cfg->payload_text = arg;
    return 0;
  case 'f':
    cfg->payload_file = arg;
    return 0;
  case 'o':
    cfg->output_file = arg;
    return 0;
  case 't':
  case 'A':
    if (ck_parse_content_format(arg, &format) < 0)
      return bad_value(opt, arg, "unknown Content-Format");
    *(opt == 't' ? &cfg->content_format : &cfg->accept) = format;
    return 0;
  case 'O':
    if (cfg->option_count == CK_MAX_EXTRA_OPTIONS)
      return ck_usage_error("too many -O options (at most %d)",
                            CK_MAX_EXTRA_OPTIONS);
    if (ck_parse_option_arg(arg, &cfg->options[cfg->option_count], &why) < 0)
      return bad_value(opt, arg, why);
    cfg->option_count++;
    return 0;
  case 'T':
    if (ck_parse_token(arg, cfg->token, &cfg->token_length) < 0)
      return bad_value(opt, arg, "at most 8 bytes of text or 0x hex");
    cfg->have_token = 1;
    return 0;
  case 'N':
    cfg->non = 1;
    return 0;
  case 'B':
    return ck_parse_seconds(arg, &cfg->wait_ms) == 0
               ? 0 : bad_value(opt, arg, "seconds, more than 0");
  case 'K':
    if (ck_parse_uint(arg, 0, 86400, &number) < 0)
      return bad_value(opt, arg, "whole seconds from 0 (off) to 86400");
    cfg->keepalive_s = (unsigned int)number;
    return 0;
  case 'v':
    return ck_parse_log_level(arg, &cfg->log_level) == 0
               ? 0 : bad_value(opt, arg, "a level from 0 to 9");
  case 'a':
    cfg->local_address = arg;
    return 0;
  case 'p':
    cfg->have_local_port = 1;
    return ck_parse_port(arg, &cfg->local_port) == 0
               ? 0 : bad_value(opt, arg, "a port from 0 to 65535");
  case 'U':
    cfg->no_uri_host = 1;
    return 0;
  case 'H':
    if (ck_parse_uint(arg, 1, 255, &number) < 0)
      return bad_value(opt, arg, "a hop limit from 1 to 255");
    cfg->hop_limit = (int)number;
    return 0;
  case 'P':
    cfg->proxy_uri = arg;
    return 0;
  case 'w':
    cfg->newline = 1;
    return 0;
  case 'r':
    cfg->tcp = 1;
    return 0;
  case 'X':
    if (ck_parse_uint(arg, 64, 4294967295ul, &number) < 0)
      return bad_value(opt, arg, "a size from 64 to 4294967295");
    cfg->max_message_size = (uint32_t)number;
    return 0;
  case 'b':
    return parse_block(cfg, arg) == 0
               ? 0 : bad_value(opt, arg, "[num,]size, size 16..1024, a power of two");
  case 's':
    return ck_parse_seconds(arg, &cfg->observe_ms) == 0
               ? 0 : bad_value(opt, arg, "seconds, more than 0");
  case OPT_MCAST_HOPS:
    if (ck_parse_uint(arg, 1, 255, &number) < 0)
      return ck_usage_error("invalid value '%s' for --mcast-hops: 1 to 255",
                            arg);
    cfg->mcast_hops = (int)number;
    return 0;
  case OPT_JSON:
    cfg->json = 1;
    return 0;
  case OPT_SESSION:
    cfg->session_summary = 1;
    return 0;
  default:
    return ck_cli_keys_option(&cli, cfg->keys, opt, arg);
  }
}

int
main(int argc, char *argv[])
{
  static ck_request_config_t cfg;
  static ck_keys_t keys;
  int opt, rc, quiet = 0, i;

  ck_request_config_init(&cfg);
  ck_keys_init(&keys, CK_KEYS_CLIENT);
  cfg.keys = &keys;
  ck_output_init("coap-client", 0);
  /* --quiet must hold before any other option can complain at runtime. */
  for (i = 1; i < argc; i++)
    if (argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2] == '\0')
      break;
    else if (strcmp(argv[i], "--quiet") == 0)
      quiet = 1;
  ck_output_init("coap-client", quiet);
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":m:e:f:o:t:A:O:T:NB:K:v:a:p:UH:P:wb:s:rX:" CK_KEYS_CLIENT_SHORT,
                            long_options, NULL)) != -1) {
    if (opt == OPT_QUIET)
      continue;
    rc = ck_cli_common(&cli, opt, argv);
    if (rc != CK_CLI_CONTINUE)
      return rc;
    rc = apply_option(&cfg, opt, optarg);
    if (rc != 0)
      return rc;
  }
  if (optind != argc - 1)
    return ck_usage_error(optind >= argc
                              ? "missing URI; try 'coap-client --help'"
                              : "expected one URI, got more arguments");
  if (cfg.payload_text != NULL && cfg.payload_file != NULL)
    return ck_usage_error("use -e or -f, not both");
  cfg.uri = argv[optind];
  rc = ck_keys_load(&keys);
  if (rc == 0)
    rc = ck_request_run(&cfg);
  ck_keys_free(&keys);
  return rc;
}
