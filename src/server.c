/*
 * server.c -- coap-server's run (see server.h).
 */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "coap.h"
#include "exitcode.h"
#include "output.h"
#include "resources.h"

/* With -p 0 on two addresses, the port the first gets may be taken on the
 * second; try a few fresh ones. */
#define CK_BIND_ATTEMPTS 8

static volatile sig_atomic_t stop_requested;
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
    if (coap_io_process(context, 1000) < 0 && !stop_requested) {
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

static int
run(coap_context_t *context, const ck_server_config_t *cfg,
    ck_resources_t **resources)
{
  listen_t ls;
  int rc;

  if (cfg->max_sessions > 0)
    coap_context_set_max_sessions(context, cfg->max_sessions);
  if (cfg->idle_timeout > 0)
    coap_context_set_session_timeout(context, cfg->idle_timeout);
  *resources = ck_resources_add(context, cfg->max_dynamic);
  if (*resources == NULL) {
    ck_diag("cannot create the resources");
    return CK_EXIT_FAILURE;
  }
  init_listen(&ls, cfg);
  rc = open_endpoints(context, &ls, cfg->port);
  if (rc != 0)
    return rc;
  rc = open_dtls(context, cfg);
  if (rc != 0)
    return rc;
  if (cfg->port_file != NULL && write_port_file(cfg->port_file, ls.port) < 0)
    return CK_EXIT_FILE;
  coap_log_info("listening on %s%s%s port %u", ls.names[0],
                ls.count > 1 ? " and " : "", ls.count > 1 ? ls.names[1] : "",
                (unsigned)ls.port);
  return serve(context, *resources);
}

int
ck_server_run(const ck_server_config_t *cfg)
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
  signal_context = context;
  rc = run(context, cfg, &resources);
  signal_context = NULL;
  coap_free_context(context);
  ck_resources_free(resources);
  if (rc == CK_EXIT_OK)
    coap_log_info("stopped");
  coap_cleanup();
  return rc;
}
