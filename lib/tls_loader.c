/*
 * tls_loader.c -- the entry points of tls_internal.h when (D)TLS lives in
 * the module coapkit-tls.so (tls_module.h): a process that only speaks
 * coap:// never maps libssl and libcrypto, which is most of a short
 * client's start-up time.
 *
 * The first call that needs (D)TLS dlopen()s the module.  The search:
 *   1. $COAPKIT_TLS_MODULE (ignored in set-uid programs), and only it;
 *   2. the build tree's lib/.libs/, but only for a program that itself lies
 *      in the build tree, so an installed tool never loads a module from a
 *      build directory;
 *   3. the configured $(pkglibdir).
 * Calls that only make sense once a session has (D)TLS do not load it: they
 * report "no (D)TLS" while nothing is loaded.
 *
 * The module handle is process state, like the logger: one module serves
 * every context; it is never unloaded.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls_module.h"

#define COAP_TLS_HOST_ENTRY(f) .f = f,

static const coap_tls_host_t host_table = {
  .hdr = { .abi = COAP_TLS_MODULE_ABI,
           .size = sizeof(coap_tls_host_t),
           .layout = COAP_TLS_LAYOUT_STAMP,
           .reserved = 0 },
  COAP_TLS_HOST_FUNCS(COAP_TLS_HOST_ENTRY)
};

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const coap_tls_module_t *loaded; /* written once, under load_once */
static char load_error[PATH_MAX + 256];

/* The module, if some earlier call loaded it; never loads. */
static const coap_tls_module_t *
peek(void)
{
  return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE);
}

static void
set_error(const char *path, const char *why)
{
  size_t n = strlen(path);

  /* dlerror() usually starts with the path itself: say it once. */
  if (strncmp(why, path, n) == 0 && why[n] == ':')
    why += n + 1 + (why[n + 1] == ' ');
  snprintf(load_error, sizeof(load_error),
           "cannot load the TLS module %s: %s", path, why);
}

static int
try_module(const char *path)
{
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  coap_tls_module_init_t init;
  const coap_tls_module_t *m;

  if (!h) {
    const char *e = dlerror();
    set_error(path, e ? e : "dlopen failed");
    return 0;
  }
  init = (coap_tls_module_init_t)dlsym(h, COAP_TLS_MODULE_INIT);
  m = init ? init(&host_table) : NULL;
  if (!m || !coap_tls_hdr_matches(&m->hdr, sizeof(*m))) {
    set_error(path, init ? "built for another version of coapkit (ABI "
                           "mismatch): reinstall coapkit"
                         : "not a coapkit TLS module");
    dlclose(h);
    return 0;
  }
  coap_log_debug("TLS module %s loaded\n", path);
  __atomic_store_n(&loaded, m, __ATOMIC_RELEASE);
  return 1;
}

/* 1 with the build tree's module in out, when this program is in the
 * build tree and the module has been built. */
static int
build_tree_module(char *out, size_t len)
{
#ifdef COAPKIT_TLS_BUILDDIR
  char exe[PATH_MAX], top[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  size_t tl;

  if (n <= 0 || !realpath(COAPKIT_TLS_BUILDDIR, top))
    return 0;
  exe[n] = '\0';
  tl = strlen(top);
  if (strncmp(exe, top, tl) != 0 || exe[tl] != '/')
    return 0;
  if ((size_t)snprintf(out, len, "%s/lib/.libs/%s", top,
                       COAP_TLS_MODULE_NAME) >= len)
    return 0;
  return access(out, R_OK) == 0;
#else
  (void)out;
  (void)len;
  return 0;
#endif
}

static void
load(void)
{
  const char *env = secure_getenv("COAPKIT_TLS_MODULE");
  char path[PATH_MAX];

  if (env && *env) {
    try_module(env);
    return;
  }
  if (build_tree_module(path, sizeof(path)) && try_module(path))
    return;
  try_module(COAPKIT_TLS_MODULE_DIR "/" COAP_TLS_MODULE_NAME);
}

/* The module, loaded now if need be; NULL (logged once) when it cannot. */
static const coap_tls_module_t *
need(void)
{
  const coap_tls_module_t *m = peek();

  if (m)
    return m;
  pthread_once(&load_once, load);
  m = peek();
  return m;
}

const char *
coap_tls_unavailable_reason(void)
{
  return need() ? NULL : load_error;
}

/* ------------------------------------------------- loading entry points */

int
coap_tls_attach(coap_session_t *s, int is_client, coap_tls_raw_send_t raw,
                coap_tls_deliver_t deliver)
{
  const coap_tls_module_t *m = need();

  if (!m) {
    coap_log_warn("%s: %s\n", coap_session_str(s), load_error);
    return 0;
  }
  return m->coap_tls_attach(s, is_client, raw, deliver);
}

int
coap_dtls_client_start(coap_session_t *s)
{
  const coap_tls_module_t *m = need();

  if (!m) {
    coap_log_warn("%s: %s\n", coap_session_str(s), load_error);
    return 0;
  }
  return m->coap_dtls_client_start(s);
}

coap_session_t *
coap_dtls_accept(coap_endpoint_t *ep, const coap_address_t *peer,
                 const coap_address_t *local, const uint8_t *data, size_t len)
{
  const coap_tls_module_t *m = need();

  return m ? m->coap_dtls_accept(ep, peer, local, data, len) : NULL;
}

void
coap_dtls_endpoint_datagram(coap_endpoint_t *ep, const coap_address_t *peer,
                            const coap_address_t *local, int ifindex,
                            const uint8_t *data, size_t len)
{
  const coap_tls_module_t *m = need();

  if (m)
    m->coap_dtls_endpoint_datagram(ep, peer, local, ifindex, data, len);
}

int
coap_dtls_cookie_make(coap_context_t *ctx, const coap_address_t *peer,
                      uint8_t *cookie, unsigned *len)
{
  const coap_tls_module_t *m = need();

  return m ? m->coap_dtls_cookie_make(ctx, peer, cookie, len) : 0;
}

int
coap_dtls_cookie_check(coap_context_t *ctx, const coap_address_t *peer,
                       const uint8_t *cookie, unsigned len)
{
  const coap_tls_module_t *m = need();

  return m ? m->coap_dtls_cookie_check(ctx, peer, cookie, len) : 0;
}

int
coap_tls_check_pki_file(const char *path, int is_key)
{
  const coap_tls_module_t *m = need();

  return m ? m->coap_tls_check_pki_file(path, is_key) : -1;
}

/* -------------------------- entry points that need a (D)TLS session first */

coap_tls_status_t
coap_tls_receive(coap_session_t *s, const uint8_t *data, size_t len)
{
  const coap_tls_module_t *m = peek();

  return m ? m->coap_tls_receive(s, data, len) : COAP_TLS_FAILED;
}

ssize_t
coap_tls_send(coap_session_t *s, const uint8_t *data, size_t len)
{
  const coap_tls_module_t *m = peek();

  return m ? m->coap_tls_send(s, data, len) : -1;
}

int
coap_tls_established(const coap_session_t *s)
{
  const coap_tls_module_t *m = peek();

  return m ? m->coap_tls_established(s) : 0;
}

const char *
coap_tls_error(const coap_session_t *s)
{
  const coap_tls_module_t *m = peek();

  return m ? m->coap_tls_error(s) : NULL;
}

void
coap_tls_close(coap_session_t *s)
{
  const coap_tls_module_t *m = peek();

  if (m)
    m->coap_tls_close(s);
}

void
coap_tls_detach(coap_session_t *s)
{
  const coap_tls_module_t *m = peek();

  if (m)
    m->coap_tls_detach(s);
}

void
coap_tls_timeout(coap_context_t *ctx, coap_timer_t *t)
{
  const coap_tls_module_t *m = peek();

  if (m)
    m->coap_tls_timeout(ctx, t);
}

void
coap_tls_context_free(coap_context_t *ctx)
{
  const coap_tls_module_t *m = peek();

  if (m)
    m->coap_tls_context_free(ctx);
}

void
coap_tls_context_reset(coap_context_t *ctx)
{
  const coap_tls_module_t *m = peek();

  if (m)
    m->coap_tls_context_reset(ctx);
}

unsigned
coap_dtls_hello_count(const coap_context_t *ctx)
{
  const coap_tls_module_t *m = peek();

  return m ? m->coap_dtls_hello_count(ctx) : 0;
}

void
coap_dtls_session_datagram(coap_session_t *s, const uint8_t *data, size_t len)
{
  const coap_tls_module_t *m = peek();

  if (m)
    m->coap_dtls_session_datagram(s, data, len);
}

void *
coap_session_get_tls(const coap_session_t *session, coap_tls_library_t *tls_lib)
{
  const coap_tls_module_t *m = peek();

  if (m)
    return m->coap_session_get_tls(session, tls_lib);
  if (tls_lib)
    *tls_lib = COAP_TLS_LIBRARY_NOTLS;
  return NULL;
}

const char *
coap_session_get_tls_error(const coap_session_t *session)
{
  const coap_tls_module_t *m = peek();

  return m ? m->coap_session_get_tls_error(session) : NULL;
}

int
coap_session_get_tls_summary(const coap_session_t *session,
                             coap_tls_summary_t *summary)
{
  const coap_tls_module_t *m = peek();

  if (m)
    return m->coap_session_get_tls_summary(session, summary);
  if (summary)
    memset(summary, 0, sizeof(*summary));
  return 0;
}
