/*
 * server.c -- coap-server's run (see server.h).
 */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coap.h"
#include "exitcode.h"
#include "output.h"
#include "resources.h"
#include "session_admin.h"
#include "testres.h"

/* With -p 0 on two addresses, the port the first gets may be taken on the
 * second; try a few fresh ones. */
#define CK_BIND_ATTEMPTS 8

static volatile sig_atomic_t stop_requested;
static ck_testres_t *test_resources; /* /clock, /large, ..., --plugtest */
static coap_context_t *volatile signal_context;

static void
on_signal(int sig)
{
  (void)sig;
  stop_requested = 1;
  if (signal_context != NULL)
    coap_io_interrupt(signal_context);
}

static void
install_signals(void)
{
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

void
ck_server_config_init(ck_server_config_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->port = COAP_DEFAULT_PORT;
  cfg->tcp_port = cfg->tls_port = cfg->ws_port = cfg->wss_port = -1;
  cfg->amp_factor = -1;
  cfg->max_connections = CK_SERVER_MAX_CONNECTIONS;
  cfg->log_level = COAP_LOG_WARN;
}

/* A socket path ("/run/coap.sock") as a Unix-domain address. */
static int
unix_address(const char *path, coap_address_t *addr)
{
  size_t n = strlen(path);

  if (n >= sizeof(addr->addr.cun.sun_path))
    return 0;
  coap_address_init(addr);
  addr->addr.cun.sun_family = AF_UNIX;
  memcpy(addr->addr.cun.sun_path, path, n + 1);
  addr->size = sizeof(struct sockaddr_un);
  return 1;
}

/* "[::1]" or "::1" or a name, with port, into addr; a path starting with
 * '/' is a Unix-domain socket. */
static int
resolve(const char *text, uint16_t port, coap_address_t *addr)
{
  char host[256];
  size_t n = strlen(text);

  if (text[0] == '/')
    return unix_address(text, addr);
  if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
    text++;
    n -= 2;
  }
  if (n == 0 || n >= sizeof(host))
    return 0;
  memcpy(host, text, n);
  host[n] = '\0';
  if (!coap_resolve_address(host, port, AF_UNSPEC, addr))
    return 0;
  coap_address_set_port(addr, port);
  return 1;
}

typedef struct listen_t {
  const char *names[CK_SERVER_MAX_ADDRESSES];
  size_t count;
  int defaults; /* no -A: an address family may be missing */
  coap_endpoint_t *endpoints[CK_SERVER_MAX_ADDRESSES];
  uint16_t port;
  coap_proto_t proto; /* 0: UDP */
} listen_t;

static void
close_endpoints(listen_t *ls)
{
  size_t i;

  for (i = 0; i < ls->count; i++) {
    if (ls->endpoints[i] != NULL)
      coap_free_endpoint(ls->endpoints[i]);
    ls->endpoints[i] = NULL;
  }
}

/* One attempt at binding every address on port (0: the first picks).
 * Returns 0, or -1 with *failed set to the index that did not bind. */
static int
bind_all(coap_context_t *context, listen_t *ls, uint16_t port, size_t *failed)
{
  coap_address_t addr;
  size_t i;

  ls->port = port;
  for (i = 0; i < ls->count; i++) {
    if (!resolve(ls->names[i], ls->port, &addr)) {
      *failed = i;
      return -2;
    }
    ls->endpoints[i] = coap_new_endpoint(context, &addr,
                                         ls->proto ? ls->proto : COAP_PROTO_UDP);
    if (ls->endpoints[i] == NULL) {
      *failed = i;
      return -1;
    }
    if (ls->port == 0 && !coap_is_af_unix(&addr))
      ls->port = coap_address_get_port(
          coap_endpoint_get_address(ls->endpoints[i]));
  }
  return 0;
}

static int
open_endpoints(coap_context_t *context, listen_t *ls, uint16_t port)
{
  size_t failed = 0;
  int attempt, rc = -1;

  for (attempt = 0; attempt < CK_BIND_ATTEMPTS && rc == -1; attempt++) {
    rc = bind_all(context, ls, port, &failed);
    if (rc == 0)
      return 0;
    if (rc == -2) {
      ck_diag("cannot resolve the address '%s'", ls->names[failed]);
      close_endpoints(ls);
      return CK_EXIT_NETWORK;
    }
    /* A fixed port, or the first address, will not do better next time. */
    if (port != 0 || failed == 0)
      break;
    close_endpoints(ls);
  }
  if (ls->defaults && failed > 0) {
    /* No IPv6 here: serve IPv4 alone rather than nothing. */
    ck_diag("cannot listen on [%s]:%u; serving on %s only", ls->names[failed],
            (unsigned)ls->port, ls->names[0]);
    ls->count = failed;
    return 0;
  }
  ck_diag("cannot listen on %s port %u: %s", ls->names[failed],
          (unsigned)(port != 0 ? port : ls->port), strerror(errno));
  close_endpoints(ls);
  return CK_EXIT_NETWORK;
}

static int
write_port_file(const char *path, uint16_t port)
{
  char tmp[4096];
  FILE *f;
  int ok;

  /* Written aside and renamed, so a reader never sees half a number. */
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path,
                       (long)getpid()) >= sizeof(tmp))
    return -1;
  f = fopen(tmp, "w");
  if (f == NULL) {
    ck_diag("cannot write %s: %s", tmp, strerror(errno));
    return -1;
  }
  ok = fprintf(f, "%u\n", (unsigned)port) > 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    ck_diag("cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

static int
serve(coap_context_t *context, ck_resources_t *resources)
{
  while (!stop_requested) {
    /* No longer than the next notification or separate response. */
    if (coap_io_process(context, ck_testres_tick(test_resources)) < 0 &&
        !stop_requested) {
      ck_diag("the event loop failed: %s", strerror(errno));
      return CK_EXIT_FAILURE;
    }
    ck_resources_collect(resources);
  }
  return CK_EXIT_OK;
}

static void
init_listen(listen_t *ls, const ck_server_config_t *cfg)
{
  size_t i;

  memset(ls, 0, sizeof(*ls));
  ls->count = cfg->address_count;
  for (i = 0; i < cfg->address_count; i++)
    ls->names[i] = cfg->addresses[i];
  if (ls->count == 0) {
    ls->names[0] = "0.0.0.0";
    ls->names[1] = "::";
    ls->count = 2;
    ls->defaults = 1;
  }
}

/* With keys or certificates: DTLS on the same addresses, port 5684 (or
 * --dtls-port; free when -p 0). */
static int
open_dtls(coap_context_t *context, const ck_server_config_t *cfg)
{
  ck_keys_t *k = cfg->keys;
  listen_t dls;
  uint16_t port;
  int rc;

  if (k == NULL || (!ck_keys_have_psk(k) && k->cert == NULL))
    return 0;
  rc = ck_keys_server_setup(k, context);
  if (rc != 0)
    return rc;
  init_listen(&dls, cfg);
  dls.proto = COAP_PROTO_DTLS;
  port = cfg->have_dtls_port ? cfg->dtls_port
         : cfg->port == 0    ? 0
                             : COAPS_DEFAULT_PORT;
  rc = open_endpoints(context, &dls, port);
  if (rc != 0)
    return rc;
  if (cfg->dtls_port_file != NULL &&
      write_port_file(cfg->dtls_port_file, dls.port) < 0)
    return CK_EXIT_FILE;
  coap_log_info("DTLS on port %u", (unsigned)dls.port);
  return 0;
}

/* ---------------------------------------------------------------- streams */

/* Ports bound by the stream listeners, for --ports-file. */
typedef struct stream_ports_t {
  uint16_t tcp, tls, ws, wss;
  int have_tcp, have_tls, have_ws, have_wss;
} stream_ports_t;

/* One RFC 8323 listener on the IP addresses (Unix-domain names have no
 * TCP); returns 0, or the exit status. */
static int
open_stream(coap_context_t *context, const ck_server_config_t *cfg,
            coap_proto_t proto, uint16_t port, uint16_t *bound, int *have)
{
  listen_t sl;
  size_t i, n = 0;
  int rc;

  init_listen(&sl, cfg);
  for (i = 0; i < sl.count; i++)
    if (sl.names[i][0] != '/')
      sl.names[n++] = sl.names[i];
  sl.count = n;
  if (n == 0)
    return 0;
  sl.proto = proto;
  rc = open_endpoints(context, &sl, port);
  if (rc != 0)
    return rc;
  *bound = sl.port;
  *have = 1;
  coap_log_info("%s on port %u", coap_proto_name(proto), (unsigned)sl.port);
  return 0;
}

static int
have_keys(const ck_server_config_t *cfg)
{
  return cfg->keys != NULL &&
         (ck_keys_have_psk(cfg->keys) || cfg->keys->cert != NULL);
}

/* TCP next to UDP (same port; free with -p 0), TLS when there are keys
 * (the DTLS port), WebSockets on the ports asked for. */
static int
open_streams(coap_context_t *context, const ck_server_config_t *cfg,
             uint16_t udp_port, stream_ports_t *sp)
{
  uint16_t tls = cfg->have_dtls_port ? cfg->dtls_port
                 : cfg->port == 0    ? 0
                                     : COAPS_DEFAULT_PORT;
  int rc = 0;

  if (cfg->stream_timeout)
    coap_context_set_stream_timeout(context, cfg->stream_timeout);
  coap_context_set_max_connections(context, cfg->max_connections);
  if (cfg->max_message_size)
    coap_context_set_csm_max_message_size(context, cfg->max_message_size);
  if (!cfg->no_tcp)
    rc = open_stream(context, cfg, COAP_PROTO_TCP,
                     cfg->tcp_port >= 0 ? (uint16_t)cfg->tcp_port
                     : cfg->port == 0   ? 0
                                        : udp_port,
                     &sp->tcp, &sp->have_tcp);
  if (rc == 0 && !cfg->no_tcp && have_keys(cfg) && coap_tls_is_supported())
    rc = open_stream(context, cfg, COAP_PROTO_TLS,
                     cfg->tls_port >= 0 ? (uint16_t)cfg->tls_port : tls,
                     &sp->tls, &sp->have_tls);
  if (rc == 0 && cfg->ws_port >= 0)
    rc = open_stream(context, cfg, COAP_PROTO_WS, (uint16_t)cfg->ws_port,
                     &sp->ws, &sp->have_ws);
  if (rc == 0 && cfg->wss_port >= 0) {
    if (!have_keys(cfg) || !coap_tls_is_supported()) {
      ck_diag("--wss-port needs a certificate or key (and TLS)");
      return CK_EXIT_USAGE;
    }
    rc = open_stream(context, cfg, COAP_PROTO_WSS, (uint16_t)cfg->wss_port,
                     &sp->wss, &sp->have_wss);
  }
  return rc;
}

/* --ports-file: "udp N", "tcp N", "tls N", "ws N", "wss N" lines, written
 * aside and renamed like --port-file. */
static int
write_ports_file(const char *path, uint16_t udp, const stream_ports_t *sp)
{
  char tmp[4096];
  FILE *f;
  int ok;

  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path,
                       (long)getpid()) >= sizeof(tmp))
    return -1;
  f = fopen(tmp, "w");
  if (f == NULL) {
    ck_diag("cannot write %s: %s", tmp, strerror(errno));
    return -1;
  }
  ok = fprintf(f, "udp %u\n", (unsigned)udp) > 0;
  if (sp->have_tcp)
    ok = fprintf(f, "tcp %u\n", (unsigned)sp->tcp) > 0 && ok;
  if (sp->have_tls)
    ok = fprintf(f, "tls %u\n", (unsigned)sp->tls) > 0 && ok;
  if (sp->have_ws)
    ok = fprintf(f, "ws %u\n", (unsigned)sp->ws) > 0 && ok;
  if (sp->have_wss)
    ok = fprintf(f, "wss %u\n", (unsigned)sp->wss) > 0 && ok;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    ck_diag("cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* Session events logged (-v 6+, --log-json) and listed (--admin) while
 * serving. */
static int
serve_sessions(coap_context_t *context, const ck_server_config_t *cfg,
               ck_resources_t *resources)
{
  ck_admin_t *admin = NULL;
  int rc;

  if (cfg->admin_path != NULL) {
    admin = ck_admin_open(context, cfg->admin_path);
    if (admin == NULL)
      return CK_EXIT_FAILURE;
  }
  rc = serve(context, resources);
  ck_admin_close(admin);
  return rc;
}

static int
run(coap_context_t *context, const ck_server_config_t *cfg,
    ck_resources_t **resources)
{
  listen_t ls;
  stream_ports_t sp;
  int rc;

  memset(&sp, 0, sizeof(sp));
  if (cfg->max_sessions > 0)
    coap_context_set_max_sessions(context, cfg->max_sessions);
  if (cfg->idle_timeout > 0)
    coap_context_set_session_timeout(context, cfg->idle_timeout);
  coap_context_set_keepalive(context, cfg->keepalive_s);
  if (cfg->amp_factor >= 0)
    coap_context_set_amplification_factor(context,
                                          (unsigned int)cfg->amp_factor);
  ck_session_log_install(context, cfg->log_json);
  *resources = ck_resources_add(context, cfg->max_dynamic);
  if (*resources == NULL) {
    ck_diag("cannot create the resources");
    return CK_EXIT_FAILURE;
  }
  /* Bodies of any size, whole to the handlers (RFC 7959). */
  coap_context_set_block_mode(context, COAP_BLOCK_USE_LIBCOAP |
                                           COAP_BLOCK_SINGLE_BODY);
  coap_context_set_max_upload(context, cfg->max_upload, cfg->max_upload_total,
                              cfg->upload_timeout);
  coap_context_set_mcast_leisure(context, cfg->mcast_leisure);
  test_resources = ck_testres_add(context, cfg->plugtest);
  if (test_resources == NULL) {
    ck_diag("cannot create the test resources");
    return CK_EXIT_FAILURE;
  }
  init_listen(&ls, cfg);
  if (cfg->workers > 1)
    coap_context_set_reuseport(context, 1);
  rc = open_endpoints(context, &ls, cfg->port);
  if (rc != 0)
    return rc;
  if (ck_join_groups(context, cfg->groups, cfg->group_count,
                     cfg->group_if) < 0)
    return CK_EXIT_NETWORK;
  rc = open_dtls(context, cfg);
  if (rc == 0)
    rc = open_streams(context, cfg, ls.port, &sp);
  if (rc != 0)
    return rc;
  if (cfg->ports_file != NULL && write_ports_file(cfg->ports_file, ls.port, &sp) < 0)
    return CK_EXIT_FILE;
  if (cfg->port_file != NULL && write_port_file(cfg->port_file, ls.port) < 0)
    return CK_EXIT_FILE;
  coap_log_info("listening on %s%s%s port %u", ls.names[0],
                ls.count > 1 ? " and " : "", ls.count > 1 ? ls.names[1] : "",
                (unsigned)ls.port);
  return serve_sessions(context, cfg, *resources);
}

/* ---------------------------------------------------------------- workers */

/* A free UDP port on the first address, for --workers with -p 0: every
 * worker must bind the same one.  The probe socket is closed before the
 * workers bind (a socket left in the SO_REUSEPORT group would take its
 * share of the datagrams). */
static int
pick_port(const ck_server_config_t *cfg, uint16_t *port)
{
  coap_address_t addr;
  socklen_t len;
  int fd, on = 1, ok;

  if (!resolve(cfg->address_count > 0 ? cfg->addresses[0] : "0.0.0.0", 0,
               &addr) || coap_is_af_unix(&addr))
    return 0;
  fd = socket(addr.addr.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  len = sizeof(addr.addr);
  ok = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == 0 &&
       bind(fd, &addr.addr.sa, coap_address_socklen(&addr)) == 0 &&
       getsockname(fd, &addr.addr.sa, &len) == 0;
  close(fd);
  if (ok)
    *port = coap_address_get_port(&addr);
  return ok && *port != 0;
}

/* The run of one extra worker: UDP on the shared port, nothing else (the
 * first process keeps the files, the admin socket and the streams). */
static int run_one(const ck_server_config_t *cfg);

static void
worker_main(const ck_server_config_t *cfg)
{
  ck_server_config_t w = *cfg;

  /* Ends with the first process, even when that one is killed. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1)
    _exit(CK_EXIT_FAILURE);
  w.workers = 2; /* still SO_REUSEPORT */
  w.port_file = NULL;
  w.ports_file = NULL;
  w.admin_path = NULL;
  w.no_tcp = 1;
  w.ws_port = w.wss_port = -1;
  w.keys = NULL;
  w.group_count = 0;
  _exit(run_one(&w));
}

static void
stop_workers(const pid_t *pids, unsigned int n)
{
  unsigned int i;

  for (i = 0; i < n; i++)
    if (pids[i] > 0)
      kill(pids[i], SIGTERM);
  for (i = 0; i < n; i++)
    if (pids[i] > 0)
      waitpid(pids[i], NULL, 0);
}

int
ck_server_run(const ck_server_config_t *cfg)
{
  ck_server_config_t first = *cfg;
  pid_t pids[CK_SERVER_MAX_WORKERS];
  unsigned int i, n = 0;
  int rc;

  if (cfg->workers <= 1)
    return run_one(cfg);
  if (first.port == 0 && !pick_port(cfg, &first.port)) {
    ck_diag("--workers: cannot find a free port: %s", strerror(errno));
    return CK_EXIT_NETWORK;
  }
  for (i = 1; i < cfg->workers && i < CK_SERVER_MAX_WORKERS; i++) {
    pid_t pid = fork();
    if (pid == 0)
      worker_main(&first);
    if (pid < 0) {
      ck_diag("--workers: fork: %s", strerror(errno));
      break;
    }
    pids[n++] = pid;
  }
  rc = run_one(&first);
  stop_workers(pids, n);
  return rc;
}

static const char *
method_text(uint8_t code)
{
  static const char *const names[] = {"EMPTY", "GET",   "POST",  "PUT",
                                      "DELETE", "FETCH", "PATCH", "iPATCH"};

  return code < sizeof(names) / sizeof(names[0]) ? names[code] : "?";
}

/* One line per request at -v 6 and above, the options too at -v 7: every
 * request the library answers, its own answers (4.04, 4.05,
 * /.well-known/core, the amplification limit's 4.01) included, with the
 * code that goes out. */
static void
log_request(coap_session_t *session, const coap_pdu_t *request,
            const coap_pdu_t *response)
{
  coap_string_t *path;
  unsigned char peer[128];
  char options[512], code_text[16];
  uint8_t code = (uint8_t)coap_pdu_get_code(response);

  peer[0] = '\0';
  options[0] = '\0';
  path = coap_get_uri_path(request);
  coap_print_addr(coap_session_get_addr_remote(session), peer, sizeof(peer));
  if (coap_get_log_level() >= COAP_LOG_DEBUG)
    ck_format_options(request, options, sizeof(options));
  if (code == 0)
    snprintf(code_text, sizeof(code_text), "(separate)");
  else
    snprintf(code_text, sizeof(code_text), "%u.%02u", code >> 5, code & 0x1fu);
  ck_diag("%s /%.*s from %s -> %s%s%s%s",
          method_text((uint8_t)coap_pdu_get_code(request)),
          path != NULL ? (int)path->length : 0,
          path != NULL ? (const char *)path->s : "", (const char *)peer,
          code_text, options[0] ? " [" : "", options, options[0] ? "]" : "");
  coap_delete_string(path);
}

static int
run_one(const ck_server_config_t *cfg)
{
  coap_context_t *context;
  ck_resources_t *resources = NULL;
  int rc;

  coap_startup();
  coap_set_log_level(cfg->log_level);
  install_signals();
  context = coap_new_context(NULL);
  if (context == NULL) {
    ck_diag("cannot create a CoAP context");
    coap_cleanup();
    return CK_EXIT_FAILURE;
  }
  /* Registered only when printed: the request path then pays nothing. */
  if (coap_get_log_level() >= COAP_LOG_INFO)
    coap_register_request_log_handler(context, log_request);
  signal_context = context;
  rc = run(context, cfg, &resources);
  signal_context = NULL;
  coap_free_context(context);
  ck_resources_free(resources);
  ck_testres_free(test_resources);
  test_resources = NULL;
  if (rc == CK_EXIT_OK)
    coap_log_info("stopped");
  coap_cleanup();
  return rc;
}
