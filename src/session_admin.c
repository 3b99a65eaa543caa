/*
 * session_admin.c -- coap-server's admin socket and session event log.
 *
 * The admin socket is served by the server's own event loop
 * (coap_context_add_fd): every descriptor is non-blocking and a slow reader
 * only ever costs its own buffer, never a stall of the CoAP traffic.
 */
#include "session_admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "output.h"
#include "session_render.h"

typedef struct admin_conn_t {
  ck_admin_t *admin;
  int fd;
  size_t in_len;
  char in[CK_ADMIN_MAX_LINE];
  char *out;
  size_t out_len, out_off;
} admin_conn_t;

struct ck_admin_t {
  coap_context_t *ctx;
  int fd;
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  admin_conn_t *conns[CK_ADMIN_MAX_CONNECTIONS];
};

/* ---------------------------------------------------------------- LIST */

typedef struct list_acc_t {
  char *buf;
  size_t len, cap;
  size_t count;
  int failed;
} list_acc_t;

static void
acc_append(list_acc_t *acc, const char *s)
{
  size_t n = strlen(s);

  if (acc->failed)
    return;
  if (acc->len + n + 2 > acc->cap) {
    size_t cap = (acc->cap ? acc->cap * 2 : 4096) + n;
    char *b = realloc(acc->buf, cap);
    if (b == NULL) {
      acc->failed = 1;
      return;
    }
    acc->buf = b;
    acc->cap = cap;
  }
  memcpy(acc->buf + acc->len, s, n);
  acc->len += n;
  acc->buf[acc->len++] = '\n';
  acc->buf[acc->len] = '\0';
}

static int
list_one(coap_session_t *session, void *arg)
{
  list_acc_t *acc = arg;
  ck_session_info_t info;
  cJSON *obj;
  char *text;

  ck_session_info_fill(&info, session, 0); /* keys never leave the server */
  obj = ck_session_info_to_json(&info);
  text = obj ? cJSON_PrintUnformatted(obj) : NULL;
  if (text == NULL)
    acc->failed = 1;
  else
    acc_append(acc, text);
  acc->count++;
  free(text);
  cJSON_Delete(obj);
  return acc->failed;
}

char *
ck_admin_list(coap_context_t *ctx, size_t *len)
{
  list_acc_t acc = {0};
  char end[64];

  coap_context_foreach_session(ctx, list_one, &acc);
  snprintf(end, sizeof(end), "{\"end\":true,\"count\":%zu}", acc.count);
  acc_append(&acc, end);
  if (acc.failed) {
    free(acc.buf);
    return NULL;
  }
  *len = acc.len;
  return acc.buf;
}

/* ---------------------------------------------------------------- conns */

static void
conn_close(admin_conn_t *c)
{
  ck_admin_t *a = c->admin;

  for (size_t i = 0; i < CK_ADMIN_MAX_CONNECTIONS; i++)
    if (a->conns[i] == c)
      a->conns[i] = NULL;
  coap_context_del_fd(a->ctx, c->fd);
  close(c->fd);
  free(c->out);
  free(c);
}

static void conn_event(coap_context_t *ctx, int fd, uint32_t events, void *arg);

static void
conn_flush(admin_conn_t *c)
{
  while (c->out_off < c->out_len) {
    ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                     MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      coap_context_add_fd(c->admin->ctx, c->fd, EPOLLOUT, conn_event, c);
      return;
    }
    if (n <= 0)
      break;
    c->out_off += (size_t)n;
  }
  conn_close(c); /* one command per connection: done, or the peer left */
}

static void
conn_answer(admin_conn_t *c, const char *line)
{
  size_t len = 0;

  if (strcmp(line, "LIST") == 0) {
    c->out = ck_admin_list(c->admin->ctx, &len);
  } else {
    c->out = strdup("{\"error\":\"unknown command (try LIST)\"}\n");
    len = c->out ? strlen(c->out) : 0;
  }
  if (c->out == NULL) {
    conn_close(c);
    return;
  }
  c->out_len = len;
  conn_flush(c);
}

static void
conn_read(admin_conn_t *c)
{
  ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);
  char *nl;

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return;
  if (n <= 0 && c->in_len == 0) {
    conn_close(c);
    return;
  }
  if (n > 0)
    c->in_len += (size_t)n;
  c->in[c->in_len] = '\0';
  nl = strchr(c->in, '\n');
  if (nl == NULL && n > 0 && c->in_len < sizeof(c->in) - 1)
    return; /* the rest of the line is still coming */
  if (nl != NULL)
    *nl = '\0';
  if (nl != NULL && nl > c->in && nl[-1] == '\r')
    nl[-1] = '\0';
  /* Answered once: no more input is looked at. */
  coap_context_add_fd(c->admin->ctx, c->fd, EPOLLOUT, conn_event, c);
  conn_answer(c, c->in);
}

static void
conn_event(coap_context_t *ctx, int fd, uint32_t events, void *arg)
{
  admin_conn_t *c = arg;

  (void)ctx;
  (void)fd;
  if (c->out != NULL) {
    conn_flush(c);
    return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
    conn_read(c);
}

/* ---------------------------------------------------------------- accept */

static int
peer_allowed(int fd)
{
  struct ucred cred;
  socklen_t len = sizeof(cred);

  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    return 0;
  return cred.uid == 0 || cred.uid == getuid();
}

static void
refuse(int fd, const char *why)
{
  char msg[128];
  int n = snprintf(msg, sizeof(msg), "{\"error\":\"%s\"}\n", why);

  if (n > 0 && send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
    coap_log_debug("admin: %s", strerror(errno));
  close(fd);
}

static void
admin_accept(coap_context_t *ctx, int lfd, uint32_t events, void *arg)
{
  ck_admin_t *a = arg;
  admin_conn_t *c;
  size_t slot;
  int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

  (void)events;
  if (fd < 0)
    return;
  if (!peer_allowed(fd)) {
    coap_log_warn("admin: connection from another user refused");
    refuse(fd, "permission denied");
    return;
  }
  for (slot = 0; slot < CK_ADMIN_MAX_CONNECTIONS && a->conns[slot]; slot++)
    ;
  c = slot < CK_ADMIN_MAX_CONNECTIONS ? calloc(1, sizeof(*c)) : NULL;
  if (c == NULL) {
    refuse(fd, "busy");
    return;
  }
  c->admin = a;
  c->fd = fd;
  if (!coap_context_add_fd(ctx, fd, EPOLLIN, conn_event, c)) {
    close(fd);
    free(c);
    return;
  }
  a->conns[slot] = c;
}

/* ---------------------------------------------------------------- open */

static int
bind_private(int fd, const struct sockaddr_un *sun)
{
  mode_t old = umask(0177); /* no window where the socket is 0755 */
  int r = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));

  umask(old);
  if (r == 0 && chmod(sun->sun_path, 0600) < 0)
    return -1;
  return r;
}

static int
clear_stale(const char *path)
{
  struct stat st;

  if (lstat(path, &st) < 0)
    return errno == ENOENT ? 0 : -1;
  if (!S_ISSOCK(st.st_mode)) {
    errno = EEXIST;
    return -1;
  }
  return unlink(path);
}

ck_admin_t *
ck_admin_open(coap_context_t *ctx, const char *path)
{
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  ck_admin_t *a;

  if (strlen(path) >= sizeof(sun.sun_path)) {
    ck_diag("--admin: path too long: %s", path);
    return NULL;
  }
  a = calloc(1, sizeof(*a));
  if (a == NULL)
    return NULL;
  a->ctx = ctx;
  snprintf(a->path, sizeof(a->path), "%s", path);
  memcpy(sun.sun_path, path, strlen(path) + 1);
  a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (a->fd < 0 || clear_stale(path) < 0 || bind_private(a->fd, &sun) < 0 ||
      listen(a->fd, CK_ADMIN_MAX_CONNECTIONS) < 0 ||
      !coap_context_add_fd(ctx, a->fd, EPOLLIN, admin_accept, a)) {
    ck_diag("--admin %s: %s", path, strerror(errno));
    if (a->fd >= 0)
      close(a->fd);
    free(a);
    return NULL;
  }
  return a;
}

void
ck_admin_close(ck_admin_t *a)
{
  if (a == NULL)
    return;
  for (size_t i = 0; i < CK_ADMIN_MAX_CONNECTIONS; i++)
    if (a->conns[i])
      conn_close(a->conns[i]);
  coap_context_del_fd(a->ctx, a->fd);
  close(a->fd);
  unlink(a->path);
  free(a);
}

/* ---------------------------------------------------------------- events */

static int log_json;

const char *
ck_session_event_name(coap_event_t event)
{
  switch (event) {
  case COAP_EVENT_SERVER_SESSION_NEW:
    return "session-new";
  case COAP_EVENT_SERVER_SESSION_DEL:
    return "session-end";
  case COAP_EVENT_SERVER_SESSION_CONNECTED:
  case COAP_EVENT_SESSION_CONNECTED:
    return "session-connected";
  case COAP_EVENT_SESSION_STATE:
    return "session-state";
  case COAP_EVENT_SESSION_CLOSED:
    return "session-closed";
  case COAP_EVENT_SESSION_FAILED:
    return "session-failed";
  case COAP_EVENT_KEEPALIVE_FAILURE:
    return "keepalive-failure";
  case COAP_EVENT_DTLS_CONNECTED:
    return "dtls-connected";
  case COAP_EVENT_DTLS_CLOSED:
    return "dtls-closed";
  case COAP_EVENT_DTLS_ERROR:
    return "dtls-error";
  default:
    return NULL;
  }
}

static void
log_event_json(const char *name, const ck_session_info_t *info)
{
  cJSON *o = cJSON_CreateObject(), *s = ck_session_info_to_json(info);
  char t[40], *text = NULL;

  ck_format_time_ms(ck_wallclock_ms(), t, sizeof(t));
  if (o && s && cJSON_AddStringToObject(o, "event", name) &&
      cJSON_AddStringToObject(o, "time", t) &&
      cJSON_AddItemToObject(o, "session", s)) {
    s = NULL;
    text = cJSON_PrintUnformatted(o);
  }
  if (text) {
    fprintf(stderr, "%s\n", text);
    fflush(stderr);
  }
  free(text);
  cJSON_Delete(s);
  cJSON_Delete(o);
}

static int
on_event(coap_session_t *session, const coap_event_t event)
{
  const char *name = ck_session_event_name(event);
  ck_session_info_t info;
  char line[3 * CK_SI_ADDR + 2 * CK_SI_BIN + 200];

  if (name == NULL)
    return 0;
  if (!log_json && coap_get_log_level() < COAP_LOG_INFO)
    return 0;
  ck_session_info_fill(&info, session, 0);
  if (log_json) {
    log_event_json(name, &info);
    return 0;
  }
  ck_session_render_line(line, sizeof(line), &info);
  coap_log_info("%s %s", name, line);
  return 0;
}

void
ck_session_log_install(coap_context_t *ctx, int json)
{
  log_json = json;
  coap_register_event_handler(ctx, on_event);
}
