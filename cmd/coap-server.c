/*
 * coap-server -- a CoAP server with a few built-in resources.
 * This file only reads the command line; src/server.c does the work.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "exitcode.h"
#include "keys.h"
#include "options.h"
#include "output.h"
#include "server.h"

enum {
  OPT_PORT_FILE = 256,
  OPT_MAX_SESSIONS,
  OPT_WORKERS,
  OPT_IDLE_TIMEOUT,
  OPT_HELP,
  OPT_VERSION,
  OPT_DTLS_PORT,
  OPT_DTLS_PORT_FILE,
  OPT_ADMIN,
  OPT_LOG_JSON,
  OPT_PLUGTEST,
  OPT_MAX_UPLOAD,
  OPT_MAX_UPLOAD_TOTAL,
  OPT_UPLOAD_TIMEOUT,
  OPT_MCAST_LEISURE,
  OPT_NO_TCP,
  OPT_TCP_PORT,
  OPT_TLS_PORT,
  OPT_WS_PORT,
  OPT_WSS_PORT,
  OPT_STREAM_TIMEOUT,
  OPT_MAX_CONNECTIONS,
  OPT_PORTS_FILE,
  OPT_AMP_FACTOR
};

static const struct option long_options[] = {
  {"address", required_argument, NULL, 'A'},
  {"port", required_argument, NULL, 'p'},
  {"verbose", required_argument, NULL, 'v'},
  {"max-dynamic", required_argument, NULL, 'd'},
  {"port-file", required_argument, NULL, OPT_PORT_FILE},
  {"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
  {"workers", required_argument, NULL, OPT_WORKERS},
  {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
  {"keepalive", required_argument, NULL, 'K'},
  {"help", no_argument, NULL, OPT_HELP},
  {"version", no_argument, NULL, OPT_VERSION},
  {"dtls-port", required_argument, NULL, OPT_DTLS_PORT},
  {"dtls-port-file", required_argument, NULL, OPT_DTLS_PORT_FILE},
  {"admin", required_argument, NULL, OPT_ADMIN},
  {"log-json", no_argument, NULL, OPT_LOG_JSON},
  {"plugtest", no_argument, NULL, OPT_PLUGTEST},
  {"group", required_argument, NULL, 'g'},
  {"group-interface", required_argument, NULL, 'G'},
  {"max-upload", required_argument, NULL, OPT_MAX_UPLOAD},
  {"max-upload-total", required_argument, NULL, OPT_MAX_UPLOAD_TOTAL},
  {"upload-timeout", required_argument, NULL, OPT_UPLOAD_TIMEOUT},
  {"mcast-leisure", required_argument, NULL, OPT_MCAST_LEISURE},
  {"no-tcp", no_argument, NULL, OPT_NO_TCP},
  {"tcp-port", required_argument, NULL, OPT_TCP_PORT},
  {"tls-port", required_argument, NULL, OPT_TLS_PORT},
  {"ws-port", required_argument, NULL, OPT_WS_PORT},
  {"wss-port", required_argument, NULL, OPT_WSS_PORT},
  {"stream-timeout", required_argument, NULL, OPT_STREAM_TIMEOUT},
  {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
  {"max-message-size", required_argument, NULL, 'X'},
  {"ports-file", required_argument, NULL, OPT_PORTS_FILE},
  {"amplification-factor", required_argument, NULL, OPT_AMP_FACTOR},
  CK_KEYS_LONG,
  {NULL, 0, NULL, 0},
};

static void
usage(FILE *out)
{
  fputs(
      "Usage: coap-server [options]\n"
      "Serve CoAP over UDP and TCP: /, /time, /echo, /.well-known/core, and\n"
      "with -d resources created by PUT or POST.  Stops on SIGINT or SIGTERM.\n"
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
      "      --workers N          N processes share the UDP port (SO_REUSEPORT;\n"
      "                           the first also serves TCP, DTLS and files)\n"
      "      --idle-timeout SECS  drop sessions idle this long (default 300)\n"
      "  -K, --keepalive SECS     ping a client after SECS of silence; no\n"
      "                           answer ends its session (0: never, default)\n"
      "      --admin PATH         list sessions on this Unix socket (mode\n"
      "                           0600; coap-session-dump --server PATH)\n"
      "      --log-json           log session events as JSON lines (also\n"
      "                           below -v 6, which logs them as text)\n"
      "      --plugtest           also serve the ETSI CoAP plugtest set\n"
      "  -g, --group GROUP        join a multicast group (repeatable; \"all\":\n"
      "                           224.0.1.187, ff02::fd and ff05::fd)\n"
      "  -G, --group-interface IF join the groups on interface IF\n"
      "      --max-upload BYTES   largest block-wise upload (default 16 MiB)\n"
      "      --max-upload-total BYTES  all uploads in progress together\n"
      "                           (default 64 MiB; past it 5.03)\n"
      "      --upload-timeout S   drop an upload whose next block does not\n"
      "                           come within S seconds (default 60)\n"
      "      --mcast-leisure MS   spread answers to group requests over MS\n"
      "                           milliseconds (default 5000)\n"
      "      --amplification-factor N  answer an unverified UDP address at\n"
      "                           most N times its request's size, else 4.01\n"
      "                           with an Echo (RFC 9175; 0-1000, 0: no limit,\n"
      "                           default 3)\n"
      "CoAP over TCP, TLS and WebSockets (RFC 8323):\n"
      "      --tcp-port PORT      TCP port (default: the UDP port; free with\n"
      "                           -p 0)\n"
      "      --no-tcp             no TCP or TLS listener\n"
      "      --tls-port PORT      TLS port, with a key or certificate\n"
      "                           (default: the DTLS port)\n"
      "      --ws-port PORT       also CoAP over WebSockets on PORT (0: free)\n"
      "      --wss-port PORT      also over secure WebSockets (needs -c/-j)\n"
      "  -X, --max-message-size N Max-Message-Size of our CSM (64-4294967295,\n"
      "                           default 8192)\n"
      "      --stream-timeout S   drop a connection that sends no CSM, or\n"
      "                           stalls mid-message, after S s (default 30)\n"
      "      --max-connections N  accept at most N connections at once\n"
      "                           (default 1024)\n"
      "      --ports-file FILE    write \"udp N\", \"tcp N\", \"tls N\", \"ws N\",\n"
      "                           \"wss N\" lines for the bound ports\n"
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

static const ck_cli_t cli = {"coap-server", usage, OPT_HELP, OPT_VERSION};

static int
stream_port(ck_server_config_t *cfg, int opt, const char *arg)
{
  uint16_t port;
  const char *name = opt == OPT_TCP_PORT   ? "--tcp-port"
                     : opt == OPT_TLS_PORT ? "--tls-port"
                     : opt == OPT_WS_PORT  ? "--ws-port"
                                           : "--wss-port";

  if (ck_parse_port(arg, &port) != 0)
    return ck_cli_bad_value(name, arg, "a port from 0 to 65535");
  if (opt == OPT_TCP_PORT)
    cfg->tcp_port = port;
  else if (opt == OPT_TLS_PORT)
    cfg->tls_port = port;
  else if (opt == OPT_WS_PORT)
    cfg->ws_port = port;
  else
    cfg->wss_port = port;
  return 0;
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
               ? 0 : ck_cli_bad_value("-p", arg, "a port from 0 to 65535");
  case 'v':
    return ck_parse_log_level(arg, &cfg->log_level) == 0
               ? 0 : ck_cli_bad_value("-v", arg, "a level from 0 to 9");
  case 'd':
    if (ck_parse_uint(arg, 0, 1000000, &number) < 0)
      return ck_cli_bad_value("-d", arg, "a number from 0 to 1000000");
    cfg->max_dynamic = (unsigned int)number;
    return 0;
  case OPT_PORT_FILE:
    cfg->port_file = arg;
    return 0;
  case OPT_AMP_FACTOR:
    if (ck_parse_uint(arg, 0, 1000, &number) < 0)
      return ck_cli_bad_value("--amplification-factor", arg,
                              "a number from 0 (no limit) to 1000");
    cfg->amp_factor = (int)number;
    return 0;
  case OPT_MAX_SESSIONS:
    if (ck_parse_uint(arg, 1, 1000000, &number) < 0)
      return ck_cli_bad_value("--max-sessions", arg,
                              "a number from 1 to 1000000");
    cfg->max_sessions = (unsigned int)number;
    return 0;
  case OPT_WORKERS:
    if (ck_parse_uint(arg, 1, CK_SERVER_MAX_WORKERS, &number) < 0)
      return ck_cli_bad_value("--workers", arg, "a number from 1 to 64");
    cfg->workers = (unsigned int)number;
    return 0;
  case 'K':
    if (ck_parse_uint(arg, 0, 86400, &number) < 0)
      return ck_cli_bad_value("-K", arg, "whole seconds from 0 (off) to 86400");
    cfg->keepalive_s = (unsigned int)number;
    return 0;
  case OPT_IDLE_TIMEOUT:
    if (ck_parse_uint(arg, 1, 86400, &number) < 0)
      return ck_cli_bad_value("--idle-timeout", arg, "seconds from 1 to 86400");
    cfg->idle_timeout = (unsigned int)number;
    return 0;
  case OPT_DTLS_PORT:
    cfg->have_dtls_port = 1;
    return ck_parse_port(arg, &cfg->dtls_port) == 0
               ? 0 : ck_cli_bad_value("--dtls-port", arg,
                                      "a port from 0 to 65535");
  case OPT_ADMIN:
    cfg->admin_path = arg;
    return 0;
  case OPT_LOG_JSON:
    cfg->log_json = 1;
    return 0;
  case OPT_PLUGTEST:
    cfg->plugtest = 1;
    return 0;
  case 'g':
    if (cfg->group_count == sizeof(cfg->groups) / sizeof(cfg->groups[0]))
      return ck_usage_error("-g may be given at most 8 times");
    cfg->groups[cfg->group_count++] = arg;
    return 0;
  case 'G':
    cfg->group_if = arg;
    return 0;
  case OPT_MAX_UPLOAD:
    if (ck_parse_uint(arg, 16, 1024ul * 1024ul * 1024ul, &number) < 0)
      return ck_cli_bad_value("--max-upload", arg, "bytes from 16 to 1 GiB");
    cfg->max_upload = (size_t)number;
    return 0;
  case OPT_MAX_UPLOAD_TOTAL:
    if (ck_parse_uint(arg, 16, 1024ul * 1024ul * 1024ul, &number) < 0)
      return ck_cli_bad_value("--max-upload-total", arg,
                              "bytes from 16 to 1 GiB");
    cfg->max_upload_total = (size_t)number;
    return 0;
  case OPT_UPLOAD_TIMEOUT:
    if (ck_parse_uint(arg, 1, 86400, &number) < 0)
      return ck_cli_bad_value("--upload-timeout", arg,
                              "seconds from 1 to 86400");
    cfg->upload_timeout = (unsigned int)number;
    return 0;
  case OPT_MCAST_LEISURE:
    if (ck_parse_uint(arg, 1, 600000, &number) < 0)
      return ck_cli_bad_value("--mcast-leisure", arg,
                              "milliseconds, 1 to 600000");
    cfg->mcast_leisure = (unsigned int)number;
    return 0;
  case OPT_DTLS_PORT_FILE:
    cfg->dtls_port_file = arg;
    return 0;
  case OPT_NO_TCP:
    cfg->no_tcp = 1;
    return 0;
  case OPT_TCP_PORT:
  case OPT_TLS_PORT:
  case OPT_WS_PORT:
  case OPT_WSS_PORT:
    return stream_port(cfg, opt, arg);
  case OPT_STREAM_TIMEOUT:
    if (ck_parse_uint(arg, 1, 86400, &number) < 0)
      return ck_cli_bad_value("--stream-timeout", arg,
                              "seconds from 1 to 86400");
    cfg->stream_timeout = (unsigned int)number;
    return 0;
  case OPT_MAX_CONNECTIONS:
    if (ck_parse_uint(arg, 1, 1000000, &number) < 0)
      return ck_cli_bad_value("--max-connections", arg,
                              "a number from 1 to 1000000");
    cfg->max_connections = (unsigned int)number;
    return 0;
  case 'X':
    if (ck_parse_uint(arg, 64, 4294967295ul, &number) < 0)
      return ck_cli_bad_value("-X", arg, "a size from 64 to 4294967295");
    cfg->max_message_size = (uint32_t)number;
    return 0;
  case OPT_PORTS_FILE:
    cfg->ports_file = arg;
    return 0;
  default:
    return ck_cli_keys_option(&cli, cfg->keys, opt, arg);
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
  while ((opt = getopt_long(argc, argv, ":A:p:v:d:g:G:X:K:" CK_KEYS_SERVER_SHORT, long_options, NULL)) !=
         -1) {
    rc = ck_cli_common(&cli, opt, argv);
    if (rc != CK_CLI_CONTINUE)
      return rc;
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
