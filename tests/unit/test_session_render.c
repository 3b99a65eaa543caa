/*
 * test_session_render.c -- the session renderer (src/session_render.c) and
 * the server's admin socket and event names (src/session_admin.c), over
 * loopback and a private Unix socket only.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "coap.h"
#include "session_admin.h"
#include "session_render.h"
#include "tap.h"

static coap_session_t *
psk_session(coap_context_t *ctx, const char *identity, const uint8_t *key,
            unsigned key_len)
{
  coap_address_t a;

  coap_resolve_address("127.0.0.1", 9, AF_INET, &a);
  return coap_new_client_session_psk(ctx, NULL, &a, COAP_PROTO_UDP, identity,
                                     key, key_len);
}

/* Everything out() printed into a string (freed by the caller). */
static char *
capture_text(const ck_session_info_t *info, int row)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);

  if (!f)
    return NULL;
  if (row) {
    ck_session_render_header(f);
    ck_session_render_row(f, info, info->last_activity_ms + 2500);
  } else {
    ck_session_render_text(f, info);
  }
  fclose(f);
  return buf;
}

static void
test_names_and_time(void)
{
  char t[40];

  is_str(ck_session_type_name(COAP_SESSION_TYPE_CLIENT), "client", "client");
  is_str(ck_session_type_name(COAP_SESSION_TYPE_SERVER), "server", "server");
  is_str(ck_session_type_name(COAP_SESSION_TYPE_HELLO), "hello", "hello");
  is_str(ck_session_type_name((coap_session_type_t)42), "none", "bad type");
  is_str(ck_session_state_name(COAP_SESSION_STATE_ESTABLISHED), "established",
         "established");
  is_str(ck_session_state_name(COAP_SESSION_STATE_CSM), "csm", "csm");
  is_str(ck_session_state_name(COAP_SESSION_STATE_NONE), "none", "none");
  ck_format_time_ms(1700000000123ull, t, sizeof(t));
  is_str(t, "2023-11-14T22:13:20.123Z", "ISO time with milliseconds");
  ck_format_time_ms(0, t, sizeof(t));
  is_str(t, "none", "time 0 is none");
  is_str(ck_session_event_name(COAP_EVENT_SERVER_SESSION_NEW), "session-new",
         "SERVER_SESSION_NEW name");
  is_str(ck_session_event_name(COAP_EVENT_SERVER_SESSION_DEL), "session-end",
         "SERVER_SESSION_DEL name");
  is_str(ck_session_event_name(COAP_EVENT_SESSION_STATE), "session-state",
         "SESSION_STATE name");
  ok(ck_session_event_name(COAP_EVENT_MSG_RETRANSMITTED) == NULL,
     "retransmissions are not session events");
}

static void
test_null_session(void)
{
  ck_session_info_t i;

  ck_session_info_fill(&i, NULL, 0);
  is_str(i.type, "none", "NULL session: type none");
  is_str(i.state, "none", "NULL session: state none");
  is_int(i.has_key + i.has_identity + i.has_hint, 0, "NULL session: no PSK");
}

static void
test_fill_and_mask(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_session_t *s = psk_session(ctx, "client-id",
                                  (const uint8_t *)"secretkey", 9);
  ck_session_info_t i;
  cJSON *j;
  char *text;

  ok(s != NULL, "PSK session over UDP (key stored)");
  ck_session_info_fill(&i, s, 0);
  is_str(i.type, "client", "type client");
  is_str(i.state, "established", "state established");
  is_str(i.proto, "UDP", "protocol UDP");
  is_str(i.remote, "127.0.0.1:9", "remote");
  ok(strncmp(i.local, "127.0.0.1:", 10) == 0 && strcmp(i.local, "127.0.0.1:0"),
     "local is the real bound address and port");
  is_str(i.mcast, "", "not multicast");
  is_int(i.mtu, 1152, "MTU 1152");
  is_int(i.max_pdu_size, 1152, "max PDU size");
  is_int(i.mcast_hops, 1, "hops 1");
  is_int(i.refcount, 1, "refcount 1");
  ok(i.id == coap_session_get_id(s) && i.id != 0, "id");
  ok(i.has_identity && strcmp(i.identity, "client-id") == 0, "identity");
  ok(i.has_key && i.key_masked && i.key[0] == '\0' && i.key_length == 9,
     "key masked by default, length kept");
  is_str(i.tls_library, "", "no TLS library on UDP");
  ok(i.created_ms > 1600000000000ull && i.last_activity_ms >= i.created_ms,
     "created and last activity are wall-clock times");

  j = ck_session_info_to_json(&i);
  ok(j != NULL, "JSON built");
  is_str(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "psk"), "key")->valuestring,
         "********", "JSON key masked");
  ok(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "psk"),
                                      "key_masked")),
     "JSON key_masked true");
  ok(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "tls"),
                                      "cipher")),
     "JSON tls.cipher null");
  ok(cJSON_IsNull(cJSON_GetObjectItem(
         cJSON_GetObjectItem(cJSON_GetObjectItem(j, "tls"), "peer_certificate"),
         "sha256")),
     "JSON peer certificate fingerprint null");
  ok(cJSON_IsNull(cJSON_GetObjectItem(j, "multicast")), "JSON multicast null");
  text = cJSON_PrintUnformatted(j);
  ok(text && !strstr(text, "secretkey"), "the key is nowhere in the JSON");
  free(text);
  cJSON_Delete(j);

  text = capture_text(&i, 0);
  ok(text && strstr(text, "psk key          ******** (9 bytes"),
     "text: key masked");
  ok(text && !strstr(text, "secretkey"), "text: key not shown");
  ok(text && strstr(text, "tls cipher       none\n"), "text: TLS none");
  ok(text && strstr(text, "psk identity     client-id\n"), "text: identity");
  free(text);

  ck_session_info_fill(&i, s, 1);
  ok(!i.key_masked && strcmp(i.key, "secretkey") == 0, "show_key: key shown");
  text = capture_text(&i, 0);
  ok(text && strstr(text, "psk key          secretkey (9 bytes)"),
     "text: key shown with show_key");
  free(text);
  coap_session_release(s);

  s = psk_session(ctx, "id", (const uint8_t *)"\x01\x02\xff", 3);
  ck_session_info_fill(&i, s, 1);
  is_str(i.key, "0x0102ff", "binary key shown as hex");
  coap_session_release(s);
  coap_free_context(ctx);
}

static void
test_json_roundtrip(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_session_t *s = psk_session(ctx, "who", (const uint8_t *)"k", 1);
  ck_session_info_t a, b;
  cJSON *j;
  char *text;

  ck_session_info_fill(&a, s, 0);
  a.sent = 7;
  a.duplicates = 2;
  j = ck_session_info_to_json(&a);
  is_int(ck_session_info_from_json(&b, j), 0, "JSON read back");
  is_str(b.local, a.local, "local survives");
  is_str(b.remote, a.remote, "remote survives");
  is_str(b.type, "client", "type survives");
  is_str(b.state, "established", "state survives");
  ok(b.id == a.id && b.sent == 7 && b.duplicates == 2 &&
         b.created_ms == a.created_ms,
     "numbers survive");
  ok(b.has_identity && strcmp(b.identity, "who") == 0, "identity survives");
  ok(b.has_key && b.key_masked && b.key[0] == '\0', "masked key stays masked");
  is_int(ck_session_info_from_json(&b, cJSON_GetObjectItem(j, "id")), -1,
         "a non-object is refused");
  text = capture_text(&a, 1);
  ok(text && strstr(text, "REMOTE") && strstr(text, a.remote) &&
         strstr(text, a.local) && strstr(text, "2.5s"),
     "row: addresses and idle time");
  free(text);
  cJSON_Delete(j);
  coap_session_release(s);
  coap_free_context(ctx);
}

/* ---------------------------------------------------------------- admin */

static int
connect_unix(const char *path)
{
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);

  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
    return fd;
  if (fd >= 0)
    close(fd);
  return -1;
}

/* Sends cmd and reads the whole answer while running ctx (bounded). */
static size_t
ask(coap_context_t *ctx, const char *path, const char *cmd, char *buf,
    size_t cap)
{
  int fd = connect_unix(path);
  size_t len = 0;
  uint64_t end = coap_ticks_ms() + 3000;

  if (fd < 0)
    return 0;
  if (write(fd, cmd, strlen(cmd)) < 0) {
    close(fd);
    return 0;
  }
  shutdown(fd, SHUT_WR); /* the server may answer a line cut short */
  while (coap_ticks_ms() < end && len < cap - 1) {
    ssize_t n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);
    if (n == 0)
      break;
    if (n > 0)
      len += (size_t)n;
    else
      coap_io_process(ctx, 10);
  }
  buf[len] = '\0';
  close(fd);
  return len;
}

static void
test_admin(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  coap_session_t *s1, *s2;
  coap_address_t a;
  char path[64], buf[16384];
  struct stat st;
  ck_admin_t *admin;
  size_t len;
  char *list;
  int lines = 0;

  snprintf(path, sizeof(path), "/tmp/ck-admin-test.%d", (int)getpid());
  coap_resolve_address("127.0.0.1", 9, AF_INET, &a);
  s1 = coap_new_client_session(ctx, NULL, &a, COAP_PROTO_UDP);
  coap_resolve_address("127.0.0.1", 10, AF_INET, &a);
  s2 = coap_new_client_session(ctx, NULL, &a, COAP_PROTO_UDP);

  list = ck_admin_list(ctx, &len);
  for (char *p = list; p && *p; p++)
    lines += *p == '\n';
  is_int(lines, 3, "LIST: two sessions and the end line");
  ok(list && strstr(list, "\"remote\":\"127.0.0.1:9\"") &&
         strstr(list, "\"remote\":\"127.0.0.1:10\"") &&
         strstr(list, "{\"end\":true,\"count\":2}\n"),
     "LIST: both remotes, and the count");
  free(list);

  admin = ck_admin_open(ctx, path);
  ok(admin != NULL, "admin socket opened");
  ok(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
         (st.st_mode & 0777) == 0600,
     "admin socket is mode 0600");
  len = ask(ctx, path, "LIST\n", buf, sizeof(buf));
  ok(len > 0 && strstr(buf, "\"remote\":\"127.0.0.1:10\"") &&
         strstr(buf, "\"count\":2}"),
     "LIST over the socket");
  len = ask(ctx, path, "FROB\n", buf, sizeof(buf));
  ok(len > 0 && strstr(buf, "\"error\""), "unknown command: an error line");
  len = ask(ctx, path, "LI", buf, sizeof(buf));
  ok(len > 0 && strstr(buf, "\"error\"") && !strstr(buf, "\"end\""),
     "a line cut short is not taken for LIST");
  coap_session_release(s1);
  len = ask(ctx, path, "LIST\r\n", buf, sizeof(buf));
  ok(len > 0 && strstr(buf, "\"count\":1}") &&
         !strstr(buf, "\"remote\":\"127.0.0.1:9\""),
     "a released session leaves the list (CRLF accepted)");
  ck_admin_close(admin);
  ok(stat(path, &st) != 0, "admin socket removed on close");

  /* A regular file at the path is never replaced. */
  {
    FILE *f = fopen(path, "w");
    if (f)
      fclose(f);
    ok(ck_admin_open(ctx, path) == NULL, "a regular file is not replaced");
    unlink(path);
  }
  coap_session_release(s2);
  coap_free_context(ctx);
}

int
main(void)
{
  coap_startup();
  coap_set_log_level(COAP_LOG_CRIT);
  test_names_and_time();
  test_null_session();
  test_fill_and_mask();
  test_json_roundtrip();
  test_admin();
  coap_cleanup();
  return tap_done();
}
