/*
 * resources.c -- coap-server's resources (see resources.h).
 *
 * Dynamic resources are never deleted inside their own DELETE handler: the
 * library is still dispatching to them.  DELETE marks the entry, answers as
 * if it were gone, and ck_resources_collect() removes it after the loop
 * turn.  Our paths outlive the library's resources (they are freed only in
 * ck_resources_free, after the context), whether or not it copies them.
 */
#include "config.h"

#include "resources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coap.h"
#include "output.h"

/* Header, the longest token, Content-Format, payload marker, and slack. */
#define CK_RESPONSE_OVERHEAD 24

typedef struct ck_dynamic_t {
  struct ck_dynamic_t *next;
  ck_resources_t *owner;
  coap_resource_t *resource;
  coap_str_const_t path;
  uint8_t *data;
  size_t length;
  int content_format; /* -1: none given */
  int deleted;
} ck_dynamic_t;

struct ck_resources_t {
  coap_context_t *context;
  unsigned int max_dynamic;
  unsigned int live; /* dynamic resources not deleted */
  ck_dynamic_t *dynamic;
};

/* ---------------------------------------------------------------- helpers */

size_t
ck_payload_limit(const coap_session_t *session)
{
  size_t pdu = coap_session_max_pdu_size(session);
  size_t room = pdu > CK_RESPONSE_OVERHEAD ? pdu - CK_RESPONSE_OVERHEAD : 0;

  return room < CK_DYNAMIC_MAX_PAYLOAD ? room : CK_DYNAMIC_MAX_PAYLOAD;
}

static int
uint_option(const coap_pdu_t *pdu, coap_option_num_t number)
{
  coap_opt_iterator_t oi;
  coap_opt_t *opt = coap_check_option(pdu, number, &oi);

  if (opt == NULL || coap_opt_length(opt) > 4)
    return -1;
  return (int)(coap_decode_var_bytes(coap_opt_value(opt),
                                     coap_opt_length(opt)) & 0xffff);
}

static void
add_uint(coap_pdu_t *pdu, coap_option_num_t number, unsigned int value)
{
  uint8_t buf[4];

  /* Zero (text/plain, the usual format) encodes as no bytes at all. */
  coap_add_option(pdu, number,
                  value ? coap_encode_var_safe(buf, sizeof(buf), value) : 0,
                  buf);
}

static void
answer(coap_pdu_t *response, uint8_t code, int content_format,
       const uint8_t *data, size_t len)
{
  coap_pdu_set_code(response, (coap_pdu_code_t)code);
  if (content_format >= 0)
    add_uint(response, COAP_OPTION_CONTENT_FORMAT,
             (unsigned int)content_format);
  if (len > 0)
    coap_add_data(response, len, data);
}

static void
answer_text(coap_pdu_t *response, uint8_t code, const char *text)
{
  answer(response, code, COAP_MEDIATYPE_TEXT_PLAIN, (const uint8_t *)text,
         strlen(text));
}

static void
too_large(coap_pdu_t *response, size_t limit)
{
  static const char text[] = "payload too large";

  coap_pdu_set_code(response, COAP_RESPONSE_CODE_REQUEST_TOO_LARGE);
  add_uint(response, COAP_OPTION_SIZE1, (unsigned int)limit);
  coap_add_data(response, sizeof(text) - 1, (const uint8_t *)text);
}

/* 1 when an Accept option asks for something other than format. */
static int
not_acceptable(const coap_pdu_t *request, int format)
{
  int accept = uint_option(request, COAP_OPTION_ACCEPT);

  return accept >= 0 && format >= 0 && accept != format;
}

/* ---------------------------------------------------------------- built-ins */

static void
handle_root(coap_resource_t *resource, coap_session_t *session,
            const coap_pdu_t *request, const coap_string_t *query,
            coap_pdu_t *response)
{
  static const char text[] =
      "coapkit coap-server " PACKAGE_VERSION
      ": a CoAP server (RFC 7252); see /.well-known/core";

  (void)resource;
  (void)query;
  if (not_acceptable(request, COAP_MEDIATYPE_TEXT_PLAIN))
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_ACCEPTABLE);
  else
    answer(response, COAP_RESPONSE_CODE_CONTENT, COAP_MEDIATYPE_TEXT_PLAIN,
           (const uint8_t *)text, sizeof(text) - 1);
}

static void
handle_time(coap_resource_t *resource, coap_session_t *session,
            const coap_pdu_t *request, const coap_string_t *query,
            coap_pdu_t *response)
{
  char text[32];
  time_t now = time(NULL);
  struct tm tm;

  (void)resource;
  (void)query;
  if (not_acceptable(request, COAP_MEDIATYPE_TEXT_PLAIN)) {
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_ACCEPTABLE);
  } else if (gmtime_r(&now, &tm) == NULL ||
             strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_INTERNAL_ERROR);
  } else {
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CONTENT);
    add_uint(response, COAP_OPTION_CONTENT_FORMAT, COAP_MEDIATYPE_TEXT_PLAIN);
    add_uint(response, COAP_OPTION_MAXAGE, 1);
    coap_add_data(response, strlen(text), (const uint8_t *)text);
  }
}

static void
handle_echo(coap_resource_t *resource, coap_session_t *session,
            const coap_pdu_t *request, const coap_string_t *query,
            coap_pdu_t *response)
{
  const uint8_t *data = NULL;
  size_t len = 0, limit = ck_payload_limit(session);
  int format = uint_option(request, COAP_OPTION_CONTENT_FORMAT);
  uint8_t code = coap_pdu_get_code(request) == COAP_REQUEST_CODE_GET
                     ? COAP_RESPONSE_CODE_CONTENT
                     : COAP_RESPONSE_CODE_CHANGED;

  (void)resource;
  (void)query;
  coap_get_data(request, &len, &data);
  if (len > CK_DYNAMIC_MAX_PAYLOAD) {
    too_large(response, CK_DYNAMIC_MAX_PAYLOAD);
  } else if (not_acceptable(request, format)) {
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_ACCEPTABLE);
  } else if (len > limit) {
    /* More than a datagram: back block-wise (RFC 7959). */
    coap_pdu_set_code(response, (coap_pdu_code_t)code);
    coap_add_data_large_response(
        resource, session, request, response, query,
        (uint16_t)(format >= 0 ? format
                               : COAP_MEDIATYPE_APPLICATION_OCTET_STREAM),
        -1, 0, len, data, NULL, NULL);
  } else {
    answer(response, code, format, data, len);
  }
}

/* ---------------------------------------------------------------- dynamic */

static void handle_dynamic_get(coap_resource_t *, coap_session_t *,
                               const coap_pdu_t *, const coap_string_t *,
                               coap_pdu_t *);
static void handle_dynamic_put(coap_resource_t *, coap_session_t *,
                               const coap_pdu_t *, const coap_string_t *,
                               coap_pdu_t *);
static void handle_dynamic_delete(coap_resource_t *, coap_session_t *,
                                  const coap_pdu_t *, const coap_string_t *,
                                  coap_pdu_t *);

/* Location-Path options naming path, one per segment. */
static void
add_location(coap_pdu_t *response, const coap_str_const_t *path)
{
  size_t start = 0, i;

  for (i = 0; i <= path->length; i++) {
    if (i == path->length || path->s[i] == '/') {
      coap_add_option(response, COAP_OPTION_LOCATION_PATH, i - start,
                      path->s + start);
      start = i + 1;
    }
  }
}

/* Stores the request's payload and Content-Format in entry, or answers why
 * not.  Returns 0 when stored. */
static int
store(ck_dynamic_t *entry, coap_session_t *session, const coap_pdu_t *request,
      coap_pdu_t *response)
{
  const uint8_t *data = NULL;
  size_t len = 0, limit = ck_payload_limit(session);
  uint8_t *copy = NULL;

  coap_get_data(request, &len, &data);
  if (len > limit) {
    too_large(response, limit);
    return -1;
  }
  if (len > 0) {
    copy = malloc(len);
    if (copy == NULL) {
      answer_text(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "out of memory");
      return -1;
    }
    memcpy(copy, data, len);
  }
  free(entry->data);
  entry->data = copy;
  entry->length = len;
  entry->content_format = uint_option(request, COAP_OPTION_CONTENT_FORMAT);
  return 0;
}

static int
over_limit(ck_resources_t *res, coap_pdu_t *response)
{
  if (res->live < res->max_dynamic)
    return 0;
  answer_text(response, COAP_RESPONSE_CODE_FORBIDDEN,
              "dynamic resource limit reached");
  return 1;
}

static void
created(ck_dynamic_t *entry, const coap_pdu_t *request, coap_pdu_t *response)
{
  entry->deleted = 0;
  entry->owner->live++;
  coap_pdu_set_code(response, COAP_RESPONSE_CODE_CREATED);
  if (coap_pdu_get_code(request) == COAP_REQUEST_CODE_POST)
    add_location(response, &entry->path);
}

static ck_dynamic_t *
new_entry(ck_resources_t *res, const coap_string_t *path)
{
  ck_dynamic_t *entry = calloc(1, sizeof(*entry));
  uint8_t *copy = malloc(path->length + 1);

  if (entry == NULL || copy == NULL) {
    free(entry);
    free(copy);
    return NULL;
  }
  memcpy(copy, path->s, path->length);
  copy[path->length] = '\0';
  entry->owner = res;
  entry->path.s = copy;
  entry->path.length = path->length;
  entry->deleted = 1; /* until created() counts it */
  entry->resource = coap_resource_init(&entry->path, 0);
  if (entry->resource == NULL) {
    free(copy);
    free(entry);
    return NULL;
  }
  coap_register_request_handler(entry->resource, COAP_REQUEST_GET,
                                handle_dynamic_get);
  coap_register_request_handler(entry->resource, COAP_REQUEST_PUT,
                                handle_dynamic_put);
  coap_register_request_handler(entry->resource, COAP_REQUEST_POST,
                                handle_dynamic_put);
  coap_register_request_handler(entry->resource, COAP_REQUEST_DELETE,
                                handle_dynamic_delete);
  coap_resource_set_userdata(entry->resource, entry);
  return entry;
}

/* A new resource is named by the request's path, and the library finds it
 * again by the raw Uri-Path options joined with '/'.  A path that needs
 * percent-encoding, or starts with an empty segment (which the library strips
 * from a resource's name), would be stored under another name than the one
 * it is looked up by -- and could replace, and free, a resource already
 * there (found by fuzz_server). */
static int
creatable_path(const coap_string_t *path)
{
  return path->s[0] != '/' && memchr(path->s, '%', path->length) == NULL;
}

static void
handle_unknown_create(coap_resource_t *resource, coap_session_t *session,
                      const coap_pdu_t *request, const coap_string_t *query,
                      coap_pdu_t *response)
{
  ck_resources_t *res = coap_resource_get_userdata(resource);
  coap_string_t *path = coap_get_uri_path(request);
  ck_dynamic_t *entry = NULL;

  (void)query;
  if (path == NULL || path->length == 0) {
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_BAD_REQUEST);
  } else if (!creatable_path(path)) {
    answer_text(response, COAP_RESPONSE_CODE_BAD_REQUEST,
                "a new resource's path must not need percent-encoding "
                "or start with an empty segment");
  } else if (!over_limit(res, response)) {
    entry = new_entry(res, path);
    if (entry == NULL) {
      answer_text(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "out of memory");
    } else {
      /* Listed even if the store fails: then it stays deleted and
       * ck_resources_collect() removes it like any other. */
      entry->next = res->dynamic;
      res->dynamic = entry;
      coap_add_resource(res->context, entry->resource);
      if (store(entry, session, request, response) == 0)
        created(entry, request, response);
    }
  }
  coap_delete_string(path);
}

static void
handle_unknown_other(coap_resource_t *resource, coap_session_t *session,
                     const coap_pdu_t *request, const coap_string_t *query,
                     coap_pdu_t *response)
{
  (void)resource;
  (void)query;
  coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
}

static void
handle_dynamic_get(coap_resource_t *resource, coap_session_t *session,
                   const coap_pdu_t *request, const coap_string_t *query,
                   coap_pdu_t *response)
{
  ck_dynamic_t *entry = coap_resource_get_userdata(resource);

  (void)query;
  if (entry->deleted)
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
  else if (not_acceptable(request, entry->content_format))
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_ACCEPTABLE);
  else
    answer(response, COAP_RESPONSE_CODE_CONTENT, entry->content_format,
           entry->data, entry->length);
}

static void
handle_dynamic_put(coap_resource_t *resource, coap_session_t *session,
                   const coap_pdu_t *request, const coap_string_t *query,
                   coap_pdu_t *response)
{
  ck_dynamic_t *entry = coap_resource_get_userdata(resource);

  (void)query;
  if (entry->deleted) {
    /* Deleted this loop turn and not yet collected: create it anew. */
    if (!over_limit(entry->owner, response) &&
        store(entry, session, request, response) == 0)
      created(entry, request, response);
  } else if (store(entry, session, request, response) == 0) {
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CHANGED);
  }
}

static void
handle_dynamic_delete(coap_resource_t *resource, coap_session_t *session,
                      const coap_pdu_t *request, const coap_string_t *query,
                      coap_pdu_t *response)
{
  ck_dynamic_t *entry = coap_resource_get_userdata(resource);

  (void)query;
  if (entry->deleted) {
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
  } else {
    entry->deleted = 1;
    entry->owner->live--;
    free(entry->data);
    entry->data = NULL;
    entry->length = 0;
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_DELETED);
  }
}

/* ---------------------------------------------------------------- set-up */

/* Static storage: the library may keep pointers to these. */
#define CK_STR(text) {sizeof(text) - 1, (const uint8_t *)(text)}
static coap_str_const_t path_root = CK_STR("");
static coap_str_const_t path_time = CK_STR("time");
static coap_str_const_t path_echo = CK_STR("echo");
static coap_str_const_t attr_ct = CK_STR("ct");
static coap_str_const_t attr_rt = CK_STR("rt");
static coap_str_const_t attr_title = CK_STR("title");
static coap_str_const_t value_text = CK_STR("0");
static coap_str_const_t value_rt_time = CK_STR("\"time\"");
static coap_str_const_t value_rt_echo = CK_STR("\"echo\"");
static coap_str_const_t title_root = CK_STR("\"coapkit server\"");
static coap_str_const_t title_time = CK_STR("\"current UTC time\"");
static coap_str_const_t title_echo = CK_STR("\"echoes the request body\"");

static coap_resource_t *
builtin(coap_context_t *context, coap_str_const_t *path,
        coap_method_handler_t get, coap_str_const_t *rt,
        coap_str_const_t *title)
{
  coap_resource_t *r = coap_resource_init(path, 0);

  if (r == NULL)
    return NULL;
  coap_register_request_handler(r, COAP_REQUEST_GET, get);
  coap_add_attr(r, &attr_ct, &value_text, 0);
  if (rt != NULL)
    coap_add_attr(r, &attr_rt, rt, 0);
  coap_add_attr(r, &attr_title, title, 0);
  coap_add_resource(context, r);
  return r;
}

static int
add_unknown(ck_resources_t *res)
{
  coap_resource_t *r = coap_resource_unknown_init(handle_unknown_create);

  if (r == NULL)
    return -1;
  coap_register_request_handler(r, COAP_REQUEST_POST, handle_unknown_create);
  coap_register_request_handler(r, COAP_REQUEST_GET, handle_unknown_other);
  coap_register_request_handler(r, COAP_REQUEST_DELETE, handle_unknown_other);
  coap_register_request_handler(r, COAP_REQUEST_FETCH, handle_unknown_other);
  coap_register_request_handler(r, COAP_REQUEST_PATCH, handle_unknown_other);
  coap_register_request_handler(r, COAP_REQUEST_IPATCH, handle_unknown_other);
  coap_resource_set_userdata(r, res);
  coap_add_resource(res->context, r);
  return 0;
}

ck_resources_t *
ck_resources_add(coap_context_t *context, unsigned int max_dynamic)
{
  ck_resources_t *res = calloc(1, sizeof(*res));
  coap_resource_t *echo;

  if (res == NULL)
    return NULL;
  res->context = context;
  res->max_dynamic = max_dynamic;
  echo = builtin(context, &path_echo, handle_echo, &value_rt_echo,
                 &title_echo);
  if (builtin(context, &path_root, handle_root, NULL, &title_root) == NULL ||
      builtin(context, &path_time, handle_time, &value_rt_time,
              &title_time) == NULL ||
      echo == NULL || (max_dynamic > 0 && add_unknown(res) < 0)) {
    free(res);
    return NULL;
  }
  coap_register_request_handler(echo, COAP_REQUEST_PUT, handle_echo);
  coap_register_request_handler(echo, COAP_REQUEST_POST, handle_echo);
  return res;
}

void
ck_resources_collect(ck_resources_t *res)
{
  ck_dynamic_t **link = &res->dynamic;

  while (*link != NULL) {
    ck_dynamic_t *entry = *link;

    if (!entry->deleted) {
      link = &entry->next;
      continue;
    }
    *link = entry->next;
    coap_delete_resource(res->context, entry->resource);
    free(entry->data);
    free((void *)entry->path.s);
    free(entry);
  }
}

void
ck_resources_free(ck_resources_t *res)
{
  ck_dynamic_t *entry, *next;

  if (res == NULL)
    return;
  for (entry = res->dynamic; entry != NULL; entry = next) {
    next = entry->next;
    free(entry->data);
    free((void *)entry->path.s);
    free(entry);
  }
  free(res);
}
