/*
 * json_loader.c -- libcjson, loaded on first use.
 *
 * Most runs of the tools print text, and every shared library a program is
 * linked with costs each run its mapping, relocations and page faults
 * (measured: 40-140 us of a 1.4 ms one-GET coap-client run).  The tools
 * therefore reach libcjson through these definitions of the cJSON functions
 * they use: the first call dlopen()s the library, each function is looked up
 * once.  cjson/cJSON.h declares them all, so the compiler checks every
 * definition against the library's own prototype.  The programs are not
 * linked with -lcjson and export nothing, so the library's calls to its own
 * functions stay inside it.
 *
 * A library that cannot be loaded ends the tool with one line and exit 1:
 * the JSON asked for cannot be written, and nothing is printed half.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "exitcode.h"
#include "output.h"

#ifndef CK_CJSON_SONAME
#define CK_CJSON_SONAME "libcjson.so.1"
#endif

static void *
cjson_sym(const char *name)
{
  static void *handle;
  void *f;

  if (handle == NULL) {
    handle = dlopen(CK_CJSON_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
      ck_diag("cannot load %s for JSON output: %s", CK_CJSON_SONAME,
              dlerror());
      exit(CK_EXIT_FAILURE);
    }
  }
  f = dlsym(handle, name);
  if (f == NULL) {
    ck_diag("%s has no %s", CK_CJSON_SONAME, name);
    exit(CK_EXIT_FAILURE);
  }
  return f;
}

/* One forwarding definition; the pointer is looked up on the first call.
 * POSIX lets a dlsym() result be used as a function pointer; the copy
 * through void * keeps ISO C's compilers quiet about it. */
#define CK_CJSON_FORWARD(ret, name, params, args)                              \
  CJSON_PUBLIC(ret) name params                                                \
  {                                                                            \
    static ret(*fn) params;                                                    \
    if (fn == NULL) {                                                          \
      void *p = cjson_sym(#name);                                              \
      memcpy(&fn, &p, sizeof(fn));                                             \
    }                                                                          \
    return fn args;                                                            \
  }

#define CK_CJSON_FORWARD_VOID(name, params, args)                              \
  CJSON_PUBLIC(void) name params                                               \
  {                                                                            \
    static void(*fn) params;                                                   \
    if (fn == NULL) {                                                          \
      void *p = cjson_sym(#name);                                              \
      memcpy(&fn, &p, sizeof(fn));                                             \
    }                                                                          \
    fn args;                                                                   \
  }

CK_CJSON_FORWARD(cJSON *, cJSON_CreateObject, (void), ())
CK_CJSON_FORWARD(cJSON *, cJSON_CreateArray, (void), ())
CK_CJSON_FORWARD(cJSON *, cJSON_CreateNull, (void), ())
CK_CJSON_FORWARD(cJSON *, cJSON_CreateString, (const char *string),
                 (string))
CK_CJSON_FORWARD(cJSON *, cJSON_AddStringToObject,
                 (cJSON *const object, const char *const name,
                  const char *const string),
                 (object, name, string))
CK_CJSON_FORWARD(cJSON *, cJSON_AddNumberToObject,
                 (cJSON *const object, const char *const name,
                  const double number),
                 (object, name, number))
CK_CJSON_FORWARD(cJSON *, cJSON_AddBoolToObject,
                 (cJSON *const object, const char *const name,
                  const cJSON_bool boolean),
                 (object, name, boolean))
CK_CJSON_FORWARD(cJSON *, cJSON_AddNullToObject,
                 (cJSON *const object, const char *const name),
                 (object, name))
CK_CJSON_FORWARD(cJSON *, cJSON_AddArrayToObject,
                 (cJSON *const object, const char *const name),
                 (object, name))
CK_CJSON_FORWARD(cJSON_bool, cJSON_AddItemToObject,
                 (cJSON *object, const char *string, cJSON *item),
                 (object, string, item))
CK_CJSON_FORWARD(cJSON_bool, cJSON_AddItemToArray, (cJSON *array, cJSON *item),
                 (array, item))
CK_CJSON_FORWARD(cJSON *, cJSON_GetObjectItemCaseSensitive,
                 (const cJSON *const object, const char *const string),
                 (object, string))
CK_CJSON_FORWARD(cJSON *, cJSON_GetObjectItem,
                 (const cJSON *const object, const char *const string),
                 (object, string))
CK_CJSON_FORWARD(cJSON_bool, cJSON_IsNull, (const cJSON *const item), (item))
CK_CJSON_FORWARD(cJSON_bool, cJSON_IsString, (const cJSON *const item), (item))
CK_CJSON_FORWARD(cJSON_bool, cJSON_IsNumber, (const cJSON *const item), (item))
CK_CJSON_FORWARD(cJSON_bool, cJSON_IsObject, (const cJSON *const item), (item))
CK_CJSON_FORWARD(cJSON_bool, cJSON_IsTrue, (const cJSON *const item), (item))
CK_CJSON_FORWARD(cJSON *, cJSON_Parse, (const char *value), (value))
CK_CJSON_FORWARD(char *, cJSON_PrintUnformatted, (const cJSON *item), (item))
CK_CJSON_FORWARD_VOID(cJSON_Delete, (cJSON * item), (item))
CK_CJSON_FORWARD_VOID(cJSON_free, (void *object), (object))
