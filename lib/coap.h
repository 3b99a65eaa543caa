/*
 * coap.h -- the public interface of coapkit's CoAP library.
 *
 * Names and signatures follow the libcoap manual pages (coap_session(3),
 * coap_endpoint_client(3), coap_keepalive(3) and the pages they lean on), so
 * that a program written against those pages builds against this library by
 * changing only its #include line.  Everything else here follows libcoap's
 * naming where libcoap has such a function, and says so where it does not.
 */
#ifndef COAPKIT_COAP_H
#define COAPKIT_COAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#ifdef __cplusplus
extern "C" {
#endif


/* ---------------------------------------------------------------- logging */

typedef enum coap_log_t {
  COAP_LOG_EMERG = 0,
  COAP_LOG_ALERT,
  COAP_LOG_CRIT,
  COAP_LOG_ERR,
  COAP_LOG_WARN,
  COAP_LOG_NOTICE,
  COAP_LOG_INFO,
  COAP_LOG_DEBUG,
  COAP_LOG_OSCORE,
  COAP_LOG_DTLS_BASE, /* 9: TLS library internals, and keys */
  COAP_MAX_LOGGING_LEVEL = COAP_LOG_DTLS_BASE
} coap_log_t;

typedef void (*coap_log_handler_t)(coap_log_t level, const char *message);

void coap_set_log_level(coap_log_t level);
coap_log_t coap_get_log_level(void);
/* NULL restores the default handler, which writes to stderr. */
void coap_set_log_handler(coap_log_handler_t handler);
void coap_log_impl(coap_log_t level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#define coap_log(level, ...)                                                   \
  do {                                                                         \
    if ((int)(level) <= (int)coap_get_log_level())                             \
      coap_log_impl((level), __VA_ARGS__);                                     \
  } while (0)
#define coap_log_emerg(...) coap_log(COAP_LOG_EMERG, __VA_ARGS__)
#define coap_log_alert(...) coap_log(COAP_LOG_ALERT, __VA_ARGS__)
#define coap_log_crit(...) coap_log(COAP_LOG_CRIT, __VA_ARGS__)
#define coap_log_err(...) coap_log(COAP_LOG_ERR, __VA_ARGS__)
#define coap_log_warn(...) coap_log(COAP_LOG_WARN, __VA_ARGS__)
#define coap_log_notice(...) coap_log(COAP_LOG_NOTICE, __VA_ARGS__)
#define coap_log_info(...) coap_log(COAP_LOG_INFO, __VA_ARGS__)
#define coap_log_debug(...) coap_log(COAP_LOG_DEBUG, __VA_ARGS__)
#define coap_log_dtls(...) coap_log(COAP_LOG_DTLS_BASE, __VA_ARGS__)

/* ---------------------------------------------------------------- strings */

typedef struct coap_str_const_t {
  size_t length;
  const uint8_t *s;
} coap_str_const_t;

typedef struct coap_bin_const_t {
  size_t length;
  const uint8_t *s;
} coap_bin_const_t;

typedef struct coap_string_t {
  size_t length;
  uint8_t *s;
} coap_string_t;

typedef struct coap_binary_t {
  size_t length;
  uint8_t *s;
} coap_binary_t;

#define coap_make_str_const(str)                                               \
  (&(coap_str_const_t){sizeof(str) - 1, (const uint8_t *)(str)})

coap_string_t *coap_new_string(size_t size);
void coap_delete_string(coap_string_t *string);
coap_str_const_t *coap_new_str_const(const uint8_t *data, size_t size);
void coap_delete_str_const(coap_str_const_t *string);
coap_bin_const_t *coap_new_bin_const(const uint8_t *data, size_t size);
void coap_delete_bin_const(coap_bin_const_t *bin);

/* ---------------------------------------------------------------- addresses */

typedef struct coap_address_t {
  socklen_t size;
  union {
    struct sockaddr sa;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr_un cun;
  } addr;
} coap_address_t;

void coap_address_init(coap_address_t *addr);
void coap_address_copy(coap_address_t *dst, const coap_address_t *src);
/* The socket length that matches the address family (size may be stale). */
socklen_t coap_address_socklen(const coap_address_t *addr);
int coap_address_equals(const coap_address_t *a, const coap_address_t *b);
uint16_t coap_address_get_port(const coap_address_t *addr);
void coap_address_set_port(coap_address_t *addr, uint16_t port);
int coap_is_mcast(const coap_address_t *addr);
int coap_is_af_unix(const coap_address_t *addr);
/* "127.0.0.1:5683", "[::1]:5683", or the socket path; returns the length
 * written (without the NUL), 0 on error.  Always NUL-terminates if len > 0. */
size_t coap_print_addr(const coap_address_t *addr, unsigned char *buf,
                       size_t len);
/* coapkit: resolve a numeric or named host (no brackets) into addr.
 * family is AF_UNSPEC, AF_INET or AF_INET6.  Returns 1 on success, 0 on
 * failure. */
int coap_resolve_address(const char *host, uint16_t port, int family,
                         coap_address_t *addr);

/* ---------------------------------------------------------------- protocol */

typedef enum coap_proto_t {
  COAP_PROTO_NONE = 0,
  COAP_PROTO_UDP,
  COAP_PROTO_DTLS,
  COAP_PROTO_TCP,
  COAP_PROTO_TLS,
  COAP_PROTO_WS,
  COAP_PROTO_WSS,
  COAP_PROTO_LAST
} coap_proto_t;

const char *coap_proto_name(coap_proto_t proto); /* coapkit: "UDP", ... */
int coap_proto_reliable(coap_proto_t proto);      /* coapkit: TCP/TLS/WS */

int coap_tcp_is_supported(void);
int coap_dtls_is_supported(void);
int coap_tls_is_supported(void);
int coap_ws_is_supported(void);
int coap_wss_is_supported(void);
/* coapkit: (D)TLS lives in a module loaded on first use (configure
 * --disable-tls-module builds it in).  Why (D)TLS is unavailable ("cannot
 * load the TLS module /path/coapkit-tls.so: ..."), or NULL when it is
 * available; loads the module if needed. */
const char *coap_tls_unavailable_reason(void);
/* coapkit: 1 when path holds a PEM or DER certificate (is_key 0) or
 * private key (is_key 1), 0 when it does not (or cannot be read), -1 when
 * (D)TLS is unavailable. */
int coap_tls_check_pki_file(const char *path, int is_key);

#define COAP_DEFAULT_PORT 5683
#define COAPS_DEFAULT_PORT 5684
#define COAP_DEFAULT_MTU 1152
#define COAP_DEFAULT_MAX_PDU_RX_SIZE 8192
#define COAP_TOKEN_MAX_LEN 8

/* RFC 7252 section 4.8 transmission parameters (the defaults). */
#define COAP_DEFAULT_ACK_TIMEOUT_MS 2000
#define COAP_DEFAULT_ACK_RANDOM_FACTOR_X1000 1500
#define COAP_DEFAULT_MAX_RETRANSMIT 4
#define COAP_DEFAULT_NSTART 1
#define COAP_DEFAULT_LEISURE_MS 5000
#define COAP_DEFAULT_PROBING_RATE 1
/* EXCHANGE_LIFETIME with the defaults above, in seconds. */
#define COAP_DEFAULT_EXCHANGE_LIFETIME 247
#define COAP_DEFAULT_NON_LIFETIME 145

/* ---------------------------------------------------------------- PDUs */

typedef enum coap_pdu_type_t {
  COAP_MESSAGE_CON = 0,
  COAP_MESSAGE_NON = 1,
  COAP_MESSAGE_ACK = 2,
  COAP_MESSAGE_RST = 3
} coap_pdu_type_t;

#define COAP_RESPONSE_CODE(N) ((((N) / 100) << 5) | ((N) % 100))
#define COAP_RESPONSE_CLASS(C) (((C) >> 5) & 0xFF)
#define COAP_SIGNALING_CODE(N) COAP_RESPONSE_CODE(N)

typedef enum coap_pdu_code_t {
  COAP_EMPTY_CODE = 0,
  COAP_REQUEST_CODE_GET = 1,
  COAP_REQUEST_CODE_POST = 2,
  COAP_REQUEST_CODE_PUT = 3,
  COAP_REQUEST_CODE_DELETE = 4,
  COAP_REQUEST_CODE_FETCH = 5,
  COAP_REQUEST_CODE_PATCH = 6,
  COAP_REQUEST_CODE_IPATCH = 7,

  COAP_RESPONSE_CODE_CREATED = COAP_RESPONSE_CODE(201),
  COAP_RESPONSE_CODE_DELETED = COAP_RESPONSE_CODE(202),
  COAP_RESPONSE_CODE_VALID = COAP_RESPONSE_CODE(203),
  COAP_RESPONSE_CODE_CHANGED = COAP_RESPONSE_CODE(204),
  COAP_RESPONSE_CODE_CONTENT = COAP_RESPONSE_CODE(205),
  COAP_RESPONSE_CODE_CONTINUE = COAP_RESPONSE_CODE(231),
  COAP_RESPONSE_CODE_BAD_REQUEST = COAP_RESPONSE_CODE(400),
  COAP_RESPONSE_CODE_UNAUTHORIZED = COAP_RESPONSE_CODE(401),
  COAP_RESPONSE_CODE_BAD_OPTION = COAP_RESPONSE_CODE(402),
  COAP_RESPONSE_CODE_FORBIDDEN = COAP_RESPONSE_CODE(403),
  COAP_RESPONSE_CODE_NOT_FOUND = COAP_RESPONSE_CODE(404),
  COAP_RESPONSE_CODE_NOT_ALLOWED = COAP_RESPONSE_CODE(405),
  COAP_RESPONSE_CODE_NOT_ACCEPTABLE = COAP_RESPONSE_CODE(406),
  COAP_RESPONSE_CODE_INCOMPLETE = COAP_RESPONSE_CODE(408),
  COAP_RESPONSE_CODE_CONFLICT = COAP_RESPONSE_CODE(409),
  COAP_RESPONSE_CODE_PRECONDITION_FAILED = COAP_RESPONSE_CODE(412),
  COAP_RESPONSE_CODE_REQUEST_TOO_LARGE = COAP_RESPONSE_CODE(413),
  COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT = COAP_RESPONSE_CODE(415),
  COAP_RESPONSE_CODE_UNPROCESSABLE = COAP_RESPONSE_CODE(422),
  COAP_RESPONSE_CODE_TOO_MANY_REQUESTS = COAP_RESPONSE_CODE(429),
  COAP_RESPONSE_CODE_INTERNAL_ERROR = COAP_RESPONSE_CODE(500),
  COAP_RESPONSE_CODE_NOT_IMPLEMENTED = COAP_RESPONSE_CODE(501),
  COAP_RESPONSE_CODE_BAD_GATEWAY = COAP_RESPONSE_CODE(502),
  COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE = COAP_RESPONSE_CODE(503),
  COAP_RESPONSE_CODE_GATEWAY_TIMEOUT = COAP_RESPONSE_CODE(504),
  COAP_RESPONSE_CODE_PROXYING_NOT_SUPPORTED = COAP_RESPONSE_CODE(505),
  COAP_RESPONSE_CODE_HOP_LIMIT_REACHED = COAP_RESPONSE_CODE(508),

  COAP_SIGNALING_CODE_CSM = COAP_SIGNALING_CODE(701),
  COAP_SIGNALING_CODE_PING = COAP_SIGNALING_CODE(702),
  COAP_SIGNALING_CODE_PONG = COAP_SIGNALING_CODE(703),
  COAP_SIGNALING_CODE_RELEASE = COAP_SIGNALING_CODE(704),
  COAP_SIGNALING_CODE_ABORT = COAP_SIGNALING_CODE(705)
} coap_pdu_code_t;

typedef coap_pdu_code_t coap_request_t;
#define COAP_REQUEST_GET COAP_REQUEST_CODE_GET
#define COAP_REQUEST_POST COAP_REQUEST_CODE_POST
#define COAP_REQUEST_PUT COAP_REQUEST_CODE_PUT
#define COAP_REQUEST_DELETE COAP_REQUEST_CODE_DELETE
#define COAP_REQUEST_FETCH COAP_REQUEST_CODE_FETCH
#define COAP_REQUEST_PATCH COAP_REQUEST_CODE_PATCH
#define COAP_REQUEST_IPATCH COAP_REQUEST_CODE_IPATCH

/* "2.05" style text for a code; buf needs 5 bytes. */
const char *coap_code_str(uint8_t code, char buf[5]);
/* coapkit: "Content", "Not Found", ... or NULL for an unassigned code. */
const char *coap_response_phrase(uint8_t code);
/* coapkit: "get", "post", ... or NULL; and back (0 if unknown). */
const char *coap_method_name(uint8_t code);
uint8_t coap_method_by_name(const char *name);

typedef int coap_mid_t;
#define COAP_INVALID_MID -1

typedef uint16_t coap_option_num_t;
typedef uint8_t coap_opt_t;

/* Option numbers (RFC 7252, 7641, 7959, 7967, 8613, 8768, 9175, 9177). */
#define COAP_OPTION_IF_MATCH 1
#define COAP_OPTION_URI_HOST 3
#define COAP_OPTION_ETAG 4
#define COAP_OPTION_IF_NONE_MATCH 5
#define COAP_OPTION_OBSERVE 6
#define COAP_OPTION_URI_PORT 7
#define COAP_OPTION_LOCATION_PATH 8
#define COAP_OPTION_OSCORE 9
#define COAP_OPTION_URI_PATH 11
#define COAP_OPTION_CONTENT_FORMAT 12
#define COAP_OPTION_CONTENT_TYPE COAP_OPTION_CONTENT_FORMAT
#define COAP_OPTION_MAXAGE 14
#define COAP_OPTION_URI_QUERY 15
#define COAP_OPTION_HOP_LIMIT 16
#define COAP_OPTION_ACCEPT 17
#define COAP_OPTION_Q_BLOCK1 19
#define COAP_OPTION_LOCATION_QUERY 20
#define COAP_OPTION_BLOCK2 23
#define COAP_OPTION_BLOCK1 27
#define COAP_OPTION_SIZE2 28
#define COAP_OPTION_Q_BLOCK2 31
#define COAP_OPTION_PROXY_URI 35
#define COAP_OPTION_PROXY_SCHEME 39
#define COAP_OPTION_SIZE1 60
#define COAP_OPTION_ECHO 252
#define COAP_OPTION_NORESPONSE 258
#define COAP_OPTION_RTAG 292

/* Signalling options (RFC 8323 section 5). */
#define COAP_SIGNALING_OPTION_MAX_MESSAGE_SIZE 2
#define COAP_SIGNALING_OPTION_BLOCK_WISE_TRANSFER 4
#define COAP_SIGNALING_OPTION_CUSTODY 2
#define COAP_SIGNALING_OPTION_ALTERNATIVE_ADDRESS 2
#define COAP_SIGNALING_OPTION_HOLD_OFF 4
#define COAP_SIGNALING_OPTION_BAD_CSM_OPTION 2

#define COAP_PAYLOAD_START 0xFF

/* Content-Formats (the CoRE registry's common entries). */
#define COAP_MEDIATYPE_TEXT_PLAIN 0
#define COAP_MEDIATYPE_APPLICATION_LINK_FORMAT 40
#define COAP_MEDIATYPE_APPLICATION_XML 41
#define COAP_MEDIATYPE_APPLICATION_OCTET_STREAM 42
#define COAP_MEDIATYPE_APPLICATION_RDF_XML 43
#define COAP_MEDIATYPE_APPLICATION_EXI 47
#define COAP_MEDIATYPE_APPLICATION_JSON 50
#define COAP_MEDIATYPE_APPLICATION_CBOR 60

typedef struct coap_pdu_t coap_pdu_t;
typedef struct coap_session_t coap_session_t;
typedef struct coap_context_t coap_context_t;
typedef struct coap_endpoint_t coap_endpoint_t;
typedef struct coap_resource_t coap_resource_t;

/* A PDU with room for size bytes of token, options and payload. */
coap_pdu_t *coap_pdu_init(coap_pdu_type_t type, coap_pdu_code_t code,
                          coap_mid_t mid, size_t size);
void coap_delete_pdu(coap_pdu_t *pdu);
/* A PDU sized for the session's MTU, with a fresh message ID. */
coap_pdu_t *coap_new_pdu(coap_pdu_type_t type, coap_pdu_code_t code,
                         coap_session_t *session);
/* A copy of old for session with the given token; options are copied,
 * the payload is not (libcoap semantics, without the drop list). */
coap_pdu_t *coap_pdu_duplicate(const coap_pdu_t *old, coap_session_t *session,
                               size_t token_length, const uint8_t *token,
                               const void *drop_options_unused);

int coap_add_token(coap_pdu_t *pdu, size_t len, const uint8_t *data);
/* Options may be added in any order; adding in ascending number order is
 * the cheap path.  Returns the bytes the option took, 0 on error. */
size_t coap_add_option(coap_pdu_t *pdu, coap_option_num_t number, size_t len,
                       const uint8_t *data);
/* Payload; must be the last thing added.  Returns 1 on success, 0 on error. */
int coap_add_data(coap_pdu_t *pdu, size_t len, const uint8_t *data);
/* Reserves len bytes of payload and returns where to write them, or NULL. */
uint8_t *coap_add_data_after(coap_pdu_t *pdu, size_t len);
/* Returns 1 and sets len/data when there is a payload, else 0 (len 0). */
int coap_get_data(const coap_pdu_t *pdu, size_t *len, const uint8_t **data);

coap_pdu_code_t coap_pdu_get_code(const coap_pdu_t *pdu);
void coap_pdu_set_code(coap_pdu_t *pdu, coap_pdu_code_t code);
coap_pdu_type_t coap_pdu_get_type(const coap_pdu_t *pdu);
void coap_pdu_set_type(coap_pdu_t *pdu, coap_pdu_type_t type);
coap_mid_t coap_pdu_get_mid(const coap_pdu_t *pdu);
void coap_pdu_set_mid(coap_pdu_t *pdu, coap_mid_t mid);
coap_bin_const_t coap_pdu_get_token(const coap_pdu_t *pdu);
/* Drops options and payload, keeps type, code, mid and token. */
void coap_pdu_clear_body(coap_pdu_t *pdu); /* coapkit */

/* Parse a whole message of the given protocol into pdu (which must have room
 * for it); 1 on success, 0 on a format error.  libcoap's signature. */
int coap_pdu_parse(coap_proto_t proto, const uint8_t *data, size_t length,
                   coap_pdu_t *pdu);

/* Option iteration (libcoap's interface). */
typedef struct coap_opt_filter_t {
  uint16_t mask_count;
  coap_option_num_t numbers[16];
} coap_opt_filter_t;

typedef struct coap_opt_iterator_t {
  size_t length;                /* bytes left */
  coap_option_num_t number;     /* number of the option last returned */
  unsigned int bad : 1;         /* iteration ended on malformed data */
  unsigned int filtered : 1;
  coap_opt_t *next_option;
  coap_opt_filter_t filter;
} coap_opt_iterator_t;

void coap_option_filter_clear(coap_opt_filter_t *filter);
int coap_option_filter_set(coap_opt_filter_t *filter, coap_option_num_t number);
coap_opt_iterator_t *coap_option_iterator_init(const coap_pdu_t *pdu,
                                               coap_opt_iterator_t *oi,
                                               const coap_opt_filter_t *filter);
coap_opt_t *coap_option_next(coap_opt_iterator_t *oi);
coap_opt_t *coap_check_option(const coap_pdu_t *pdu, coap_option_num_t number,
                              coap_opt_iterator_t *oi);
uint32_t coap_opt_length(const coap_opt_t *opt);
const uint8_t *coap_opt_value(const coap_opt_t *opt);

unsigned int coap_decode_var_bytes(const uint8_t *buf, size_t length);
uint64_t coap_decode_var_bytes8(const uint8_t *buf, size_t length);
unsigned int coap_encode_var_safe(uint8_t *buf, size_t length,
                                  unsigned int value);
unsigned int coap_encode_var_safe8(uint8_t *buf, size_t length,
                                   uint64_t value);

/* coapkit: the option registry. */
typedef enum coap_option_format_t {
  COAP_OPTION_FORMAT_EMPTY,
  COAP_OPTION_FORMAT_OPAQUE,
  COAP_OPTION_FORMAT_UINT,
  COAP_OPTION_FORMAT_STRING
} coap_option_format_t;

typedef struct coap_option_def_t {
  coap_option_num_t number;
  const char *name;            /* "Uri-Path" */
  coap_option_format_t format;
  uint16_t min_length;
  uint16_t max_length;
  unsigned int repeatable : 1;
} coap_option_def_t;

/* NULL for an unregistered number. */
const coap_option_def_t *coap_option_def(coap_option_num_t number);
/* Case-insensitive lookup by name ("uri-path"); NULL if unknown. */
const coap_option_def_t *coap_option_def_by_name(const char *name);
#define coap_option_is_critical(n) (((n)&1) != 0)
#define coap_option_is_unsafe(n) (((n)&2) != 0)
#define coap_option_is_nocachekey(n) (((n)&0x1e) == 0x1c)
/* Content-Format registry: NULL / -1 when unknown. */
const char *coap_content_format_name(uint16_t format);
int coap_content_format_by_name(const char *name);

/* Option lists, for building requests from URIs (libcoap's interface). */
typedef struct coap_optlist_t {
  struct coap_optlist_t *next;
  coap_option_num_t number;
  size_t length;
  uint8_t *data;
} coap_optlist_t;

coap_optlist_t *coap_new_optlist(coap_option_num_t number, size_t length,
                                 const uint8_t *data);
int coap_insert_optlist(coap_optlist_t **head, coap_optlist_t *node);
/* Adds every option of the list to pdu in number order; 1 on success. */
int coap_add_optlist_pdu(coap_pdu_t *pdu, coap_optlist_t **head);
void coap_delete_optlist(coap_optlist_t *head);

/* ---------------------------------------------------------------- URIs */

typedef enum coap_uri_scheme_t {
  COAP_URI_SCHEME_COAP = 0,
  COAP_URI_SCHEME_COAPS,
  COAP_URI_SCHEME_COAP_TCP,
  COAP_URI_SCHEME_COAPS_TCP,
  COAP_URI_SCHEME_HTTP,
  COAP_URI_SCHEME_HTTPS,
  COAP_URI_SCHEME_COAP_WS,
  COAP_URI_SCHEME_COAPS_WS,
  COAP_URI_SCHEME_LAST
} coap_uri_scheme_t;

/* Views into the string that was split (nothing is copied or decoded):
 * host without brackets, path without the leading '/', query without '?'. */
typedef struct coap_uri_t {
  coap_str_const_t host;
  uint16_t port;
  coap_str_const_t path;
  coap_str_const_t query;
  coap_uri_scheme_t scheme;
} coap_uri_t;

/* 0 on success, negative on a malformed URI. */
int coap_split_uri(const uint8_t *str_var, size_t len, coap_uri_t *uri);
/* As coap_split_uri, for a Proxy-Uri (also accepts http and https). */
int coap_split_proxy_uri(const uint8_t *str_var, size_t len, coap_uri_t *uri);
/* The protocol a scheme runs over, and its default port. */
coap_proto_t coap_uri_scheme_proto(coap_uri_scheme_t scheme); /* coapkit */
uint16_t coap_uri_scheme_default_port(coap_uri_scheme_t scheme); /* coapkit */
const char *coap_uri_scheme_name(coap_uri_scheme_t scheme); /* coapkit */
/* Appends Uri-Host (when create_port_host_opt and the host is not the
 * literal destination), Uri-Port (when not the default), Uri-Path segments
 * and Uri-Query arguments, percent-decoded, to optlist_chain.  buf is scratch
 * space.  Returns 0 on success, negative on error. */
int coap_uri_into_options(const coap_uri_t *uri, const coap_address_t *dst,
                          coap_optlist_t **optlist_chain,
                          int create_port_host_opt, uint8_t *buf,
                          size_t buflen);
/* coapkit: the host as a socket address: a socket path for the
 * percent-encoded Unix form, else resolved.  1 on success, 0 on failure. */
int coap_uri_to_address(const coap_uri_t *uri, coap_address_t *addr);
/* coapkit: RFC 7252 section 6.5: rebuild a URI from a request's Uri-*
 * options (scheme and default host/port given).  Returns the length written
 * (NUL-terminated), or 0 when buf is too small. */
size_t coap_pdu_to_uri(const coap_pdu_t *pdu, coap_uri_scheme_t scheme,
                       const char *default_host, char *buf, size_t len);
/* The request's Uri-Path joined with '/', percent-encoded as section 6.5
 * says, and its Uri-Query joined with '&'.  Caller frees with
 * coap_delete_string.  libcoap's names. */
coap_string_t *coap_get_uri_path(const coap_pdu_t *request);
coap_string_t *coap_get_query(const coap_pdu_t *request);

/* ---------------------------------------------------------------- TLS set-up */

typedef enum coap_tls_library_t {
  COAP_TLS_LIBRARY_NOTLS = 0,
  COAP_TLS_LIBRARY_TINYDTLS,
  COAP_TLS_LIBRARY_OPENSSL,
  COAP_TLS_LIBRARY_GNUTLS,
  COAP_TLS_LIBRARY_MBEDTLS,
  COAP_TLS_LIBRARY_WOLFSSL
} coap_tls_library_t;

typedef enum coap_pki_key_t {
  COAP_PKI_KEY_PEM = 0,
  COAP_PKI_KEY_ASN1,
  COAP_PKI_KEY_PEM_BUF,
  COAP_PKI_KEY_PKCS11,
  COAP_PKI_KEY_DEFINE
} coap_pki_key_t;

typedef struct coap_pki_key_pem_t {
  const char *ca_file;
  const char *public_cert;
  const char *private_key;
} coap_pki_key_pem_t;

typedef struct coap_pki_key_asn1_t {
  const uint8_t *ca_cert;
  const uint8_t *public_cert;
  const uint8_t *private_key;
  size_t ca_cert_len;
  size_t public_cert_len;
  size_t private_key_len;
  int private_key_type;
} coap_pki_key_asn1_t;

typedef struct coap_dtls_key_t {
  coap_pki_key_t key_type;
  union {
    coap_pki_key_pem_t pem;
    coap_pki_key_asn1_t asn1;
  } key;
} coap_dtls_key_t;

typedef int (*coap_dtls_cn_callback_t)(const char *cn,
                                       const uint8_t *asn1_public_cert,
                                       size_t asn1_length,
                                       coap_session_t *coap_session,
                                       unsigned int depth, int validated,
                                       void *arg);
typedef coap_dtls_key_t *(*coap_dtls_pki_sni_callback_t)(const char *sni,
                                                         void *arg);
struct coap_dtls_pki_t;
typedef int (*coap_dtls_security_setup_t)(void *tls_session,
                                          struct coap_dtls_pki_t *setup_data);

#define COAP_DTLS_PKI_SETUP_VERSION 1
#define COAP_DTLS_RPK_CERT_CN "RPK"

typedef struct coap_dtls_pki_t {
  uint8_t version;
  uint8_t verify_peer_cert;
  uint8_t check_common_ca;
  uint8_t require_peer_cert; /* API 2 */
  uint8_t allow_self_signed;
  uint8_t allow_expired_certs;
  uint8_t cert_chain_validation;
  uint8_t cert_chain_verify_depth;
  uint8_t check_cert_revocation;
  uint8_t allow_no_crl;
  uint8_t allow_expired_crl;
  uint8_t allow_bad_md_hash;
  uint8_t allow_short_rsa_length;
  uint8_t is_rpk_not_cert;
  uint8_t use_cid;
  uint8_t reserved[2];
  coap_dtls_cn_callback_t validate_cn_call_back;
  void *cn_call_back_arg;
  coap_dtls_pki_sni_callback_t validate_sni_call_back;
  void *sni_call_back_arg;
  coap_dtls_security_setup_t additional_tls_setup_call_back;
  char *client_sni;
  char *sni; /* API 2 name of client_sni */
  coap_dtls_key_t pki_key;
} coap_dtls_pki_t;

typedef struct coap_dtls_cpsk_info_t {
  coap_bin_const_t identity;
  coap_bin_const_t key;
} coap_dtls_cpsk_info_t;

typedef const coap_dtls_cpsk_info_t *(*coap_dtls_ih_callback_t)(
    coap_str_const_t *hint, coap_session_t *coap_session, void *arg);

#define COAP_DTLS_CPSK_SETUP_VERSION 1

typedef struct coap_dtls_cpsk_t {
  uint8_t version;
  uint8_t ec_jpake;
  uint8_t use_cid;
  uint8_t reserved[5];
  coap_dtls_ih_callback_t validate_ih_call_back;
  void *ih_call_back_arg;
  char *client_sni;
  coap_dtls_cpsk_info_t psk_info;
} coap_dtls_cpsk_t;

typedef struct coap_dtls_spsk_info_t {
  coap_bin_const_t hint;
  coap_bin_const_t key;
} coap_dtls_spsk_info_t;

typedef const coap_bin_const_t *(*coap_dtls_id_callback_t)(
    coap_bin_const_t *identity, coap_session_t *coap_session, void *arg);
typedef const coap_dtls_spsk_info_t *(*coap_dtls_psk_sni_callback_t)(
    const char *sni, coap_session_t *coap_session, void *arg);

#define COAP_DTLS_SPSK_SETUP_VERSION 1

typedef struct coap_dtls_spsk_t {
  uint8_t version;
  uint8_t ec_jpake;
  uint8_t reserved[6];
  coap_dtls_id_callback_t validate_id_call_back;
  void *id_call_back_arg;
  coap_dtls_psk_sni_callback_t validate_sni_call_back;
  void *sni_call_back_arg;
  coap_dtls_spsk_info_t psk_info;
} coap_dtls_spsk_t;

/* Server-side keys for the context (take effect with the DTLS/TLS layer). */
int coap_context_set_psk2(coap_context_t *context, coap_dtls_spsk_t *setup_data);
int coap_context_set_pki(coap_context_t *context, const coap_dtls_pki_t *setup_data);
int coap_context_set_pki_root_cas(coap_context_t *context, const char *ca_file,
                                  const char *ca_dir);

/* ---------------------------------------------------------------- context */

#define COAP_BLOCK_USE_LIBCOAP 0x01
#define COAP_BLOCK_SINGLE_BODY 0x02

typedef enum coap_nack_reason_t {
  COAP_NACK_TOO_MANY_RETRIES,
  COAP_NACK_NOT_DELIVERABLE,
  COAP_NACK_RST,
  COAP_NACK_TLS_FAILED,
  COAP_NACK_ICMP_ISSUE,
  COAP_NACK_BAD_RESPONSE,
  COAP_NACK_TLS_LAYER_FAILED,
  COAP_NACK_WS_LAYER_FAILED,
  COAP_NACK_WS_FAILED
} coap_nack_reason_t;

const char *coap_nack_reason_str(coap_nack_reason_t reason); /* coapkit */

typedef enum coap_event_t {
  COAP_EVENT_DTLS_CLOSED = 0x0000,
  COAP_EVENT_DTLS_CONNECTED = 0x01DE,
  COAP_EVENT_DTLS_RENEGOTIATE = 0x01DF,
  COAP_EVENT_DTLS_ERROR = 0x0200,
  COAP_EVENT_TCP_CONNECTED = 0x1001,
  COAP_EVENT_TCP_CLOSED = 0x1002,
  COAP_EVENT_TCP_FAILED = 0x1003,
  COAP_EVENT_SESSION_CONNECTED = 0x2001,
  COAP_EVENT_SESSION_CLOSED = 0x2002,
  COAP_EVENT_SESSION_FAILED = 0x2003,
  COAP_EVENT_PARTIAL_BLOCK = 0x3001,
  COAP_EVENT_XMIT_BLOCK_FAIL = 0x3002,
  COAP_EVENT_SERVER_SESSION_NEW = 0x4001,
  COAP_EVENT_SERVER_SESSION_DEL = 0x4002,
  COAP_EVENT_SERVER_SESSION_CONNECTED = 0x4003,
  COAP_EVENT_BAD_PACKET = 0x5001,
  COAP_EVENT_MSG_RETRANSMITTED = 0x5002,
  COAP_EVENT_KEEPALIVE_FAILURE = 0x7001,
  COAP_EVENT_SESSION_STATE = 0x8001 /* coapkit: the session state changed */
} coap_event_t;

typedef enum coap_response_t {
  COAP_RESPONSE_FAIL = 0,
  COAP_RESPONSE_OK = 1
} coap_response_t;

typedef coap_response_t (*coap_response_handler_t)(coap_session_t *session,
                                                   const coap_pdu_t *sent,
                                                   const coap_pdu_t *received,
                                                   const coap_mid_t mid);
typedef void (*coap_nack_handler_t)(coap_session_t *session,
                                    const coap_pdu_t *sent,
                                    const coap_nack_reason_t reason,
                                    const coap_mid_t mid);
typedef void (*coap_ping_handler_t)(coap_session_t *session,
                                    const coap_pdu_t *received,
                                    const coap_mid_t mid);
typedef void (*coap_pong_handler_t)(coap_session_t *session,
                                    const coap_pdu_t *received,
                                    const coap_mid_t mid);
typedef int (*coap_event_handler_t)(coap_session_t *session,
                                    const coap_event_t event);
/* coapkit: told of every request a server answers, with the answer as it
 * goes out: a handler's, the library's own (4.04, 4.05, 4.02, 5.05,
 * /.well-known/core, a cached Block2 block) or the 4.01 Echo of the
 * amplification limit.  A response with no code means no response now (a
 * separate response, or none wanted).  Duplicates answered from the cache
 * are not requests again. */
typedef void (*coap_request_log_handler_t)(coap_session_t *session,
                                           const coap_pdu_t *request,
                                           const coap_pdu_t *response);

/* listen_addr: when given, a UDP endpoint is created on it. */
coap_context_t *coap_new_context(const coap_address_t *listen_addr);
void coap_free_context(coap_context_t *context);
void coap_context_set_block_mode(coap_context_t *context, uint32_t block_mode);
void coap_context_set_keepalive(coap_context_t *context, unsigned int seconds);
void coap_context_set_app_data(coap_context_t *context, void *data);
void *coap_context_get_app_data(const coap_context_t *context);
/* Server sessions unused this long are freed (default 300 s); 0 = default. */
void coap_context_set_session_timeout(coap_context_t *context,
                                      unsigned int seconds);
/* coapkit: at most this many server sessions (0: no cap); past the cap the
 * longest idle unreferenced one is evicted. */
void coap_context_set_max_sessions(coap_context_t *context, unsigned int max);
/* coapkit: UDP endpoints created from now on share their port with other
 * processes' (SO_REUSEPORT), the kernel spreading peers among them. */
void coap_context_set_reuseport(coap_context_t *context, int on);
unsigned int coap_context_get_session_count(const coap_context_t *context); /* coapkit */
/* coapkit: RFC 9175 2.4 amplification limit.  A plain-UDP peer that has
 * not proven its address (a valid Echo, or an ACK/RST to a CON of ours)
 * gets a response to GET, FETCH, PUT, DELETE or iPATCH at most factor times
 * its request's size; a larger one is replaced by a 4.01 Unauthorized with
 * an Echo option, which clients repeat the request with (ours does, once).
 * POST and PATCH are not limited (the handler has already acted).  Default
 * 3; 0 = no limit. */
void coap_context_set_amplification_factor(coap_context_t *context,
                                           unsigned int factor);
unsigned int
coap_context_get_amplification_factor(const coap_context_t *context);
/* coapkit: transmission parameters for new sessions (0 keeps a value). */
void coap_context_set_transmission(coap_context_t *context,
                                   unsigned int ack_timeout_ms,
                                   unsigned int ack_random_factor_x1000,
                                   unsigned int max_retransmit);
/* RFC 8323 (TCP, TLS, WebSockets).  The Max-Message-Size our CSM
 * announces, which is also the largest message accepted (default 8192;
 * libcoap's names). */
void coap_context_set_csm_max_message_size(coap_context_t *context,
                                           uint32_t max_message_size);
uint32_t coap_context_get_csm_max_message_size(const coap_context_t *context);
/* coapkit: a stream peer that sends no CSM, or stops in the middle of a
 * message, for this long is dropped (default 30 s; 0 = default). */
void coap_context_set_stream_timeout(coap_context_t *context,
                                     unsigned int seconds);
/* coapkit: accepted TCP/TLS/WebSocket connections at most (0: no cap);
 * past the cap new connections are closed at once. */
void coap_context_set_max_connections(coap_context_t *context,
                                      unsigned int max);
/* The Host header of a WS/WSS client session's upgrade request (RFC 6455
 * 4.1: the URI's host as written, with ":port" when the port is not the
 * scheme's default).  Without it the numeric address is sent.  Returns 1,
 * or 0 when session is not a WebSocket client, its request went out
 * already, or ws_host is empty, over 255 bytes or not printable ASCII. */
int coap_ws_set_host_request(coap_session_t *session, coap_str_const_t *ws_host);
/* Requests for a resource that does not exist answer 4.04 unless an
 * unknown-resource handler is set (coap_resource_unknown_init). */

void coap_register_response_handler(coap_context_t *context,
                                    coap_response_handler_t handler);
void coap_register_nack_handler(coap_context_t *context,
                                coap_nack_handler_t handler);
void coap_register_ping_handler(coap_context_t *context,
                                coap_ping_handler_t handler);
void coap_register_pong_handler(coap_context_t *context,
                                coap_pong_handler_t handler);
/* coapkit: see coap_request_log_handler_t; NULL stops it. */
void coap_register_request_log_handler(coap_context_t *context,
                                       coap_request_log_handler_t handler);
void coap_register_event_handler(coap_context_t *context,
                                 coap_event_handler_t handler);

coap_endpoint_t *coap_new_endpoint(coap_context_t *context,
                                   const coap_address_t *listen_addr,
                                   coap_proto_t proto);
void coap_free_endpoint(coap_endpoint_t *endpoint);
/* coapkit: the address the endpoint is really bound to (port 0 resolved). */
const coap_address_t *coap_endpoint_get_address(const coap_endpoint_t *ep);
/* coapkit: the Leisure period (RFC 7252 8.2) over which answers to group
 * requests are spread; 0 restores the default, 5000 ms. */
void coap_context_set_mcast_leisure(coap_context_t *context, unsigned int ms);
/* coapkit: joins an IPv4 or IPv6 multicast group on every endpoint. */
int coap_join_mcast_group_intf(coap_context_t *context, const char *groupname,
                               const char *ifname);

#define COAP_IO_WAIT 0
#define COAP_IO_NO_WAIT ((uint32_t)-1)
/* Runs the event loop once: waits at most timeout_ms for I/O (COAP_IO_WAIT:
 * until something happens), handles what arrived and what timed out.
 * Returns the milliseconds spent, or -1 on error. */
int coap_io_process(coap_context_t *context, uint32_t timeout_ms);
/* coapkit: makes a blocked coap_io_process return (safe from a signal
 * handler). */
void coap_io_interrupt(coap_context_t *context);
/* coapkit: no outstanding CON and nothing queued on any session. */
int coap_can_exit(coap_context_t *context);

/* Sends pdu on session and takes ownership of it.  Returns the message ID or
 * COAP_INVALID_MID. */
coap_mid_t coap_send(coap_session_t *session, coap_pdu_t *pdu);
/* An empty CON (UDP, DTLS) or a 7.02 Ping (TCP, TLS). */
coap_mid_t coap_session_send_ping(coap_session_t *session);
uint16_t coap_new_message_id(coap_session_t *session);
/* coapkit: fills token with a fresh random token of len bytes. */
void coap_session_new_token(coap_session_t *session, size_t *len,
                            uint8_t *token);

/* ---------------------------------------------------------------- sessions */

typedef enum coap_session_type_t {
  COAP_SESSION_TYPE_NONE = 0,
  COAP_SESSION_TYPE_CLIENT,
  COAP_SESSION_TYPE_SERVER,
  COAP_SESSION_TYPE_HELLO
} coap_session_type_t;

typedef enum coap_session_state_t {
  COAP_SESSION_STATE_NONE = 0,
  COAP_SESSION_STATE_CONNECTING,
  COAP_SESSION_STATE_HANDSHAKE,
  COAP_SESSION_STATE_CSM,
  COAP_SESSION_STATE_ESTABLISHED
} coap_session_state_t;

coap_session_t *coap_new_client_session(coap_context_t *context,
                                        const coap_address_t *local_if,
                                        const coap_address_t *server,
                                        coap_proto_t proto);
coap_session_t *coap_new_client_session_psk(coap_context_t *context,
                                            const coap_address_t *local_if,
                                            const coap_address_t *server,
                                            coap_proto_t proto,
                                            const char *identity,
                                            const uint8_t *key,
                                            unsigned key_len);
coap_session_t *coap_new_client_session_psk2(coap_context_t *context,
                                             const coap_address_t *local_if,
                                             const coap_address_t *server,
                                             coap_proto_t proto,
                                             coap_dtls_cpsk_t *setup_data);
coap_session_t *coap_new_client_session_pki(coap_context_t *context,
                                            const coap_address_t *local_if,
                                            const coap_address_t *server,
                                            coap_proto_t proto,
                                            coap_dtls_pki_t *setup_data);

coap_session_t *coap_session_reference(coap_session_t *session);
void coap_session_release(coap_session_t *session);
void coap_session_disconnected(coap_session_t *session,
                               coap_nack_reason_t reason);
int coap_session_set_type_client(coap_session_t *session);
void coap_session_set_app_data(coap_session_t *session, void *data);
void *coap_session_get_app_data(const coap_session_t *session);
const coap_address_t *coap_session_get_addr_local(const coap_session_t *session);
const coap_address_t *coap_session_get_addr_mcast(const coap_session_t *session);
const coap_address_t *coap_session_get_addr_remote(const coap_session_t *session);
coap_context_t *coap_session_get_context(const coap_session_t *session);
int coap_session_get_ifindex(const coap_session_t *session);
coap_proto_t coap_session_get_proto(const coap_session_t *session);
coap_session_state_t coap_session_get_state(const coap_session_t *session);
void *coap_session_get_tls(const coap_session_t *session,
                           coap_tls_library_t *tls_lib);
coap_session_type_t coap_session_get_type(const coap_session_t *session);
const coap_bin_const_t *coap_session_get_psk_hint(const coap_session_t *session);
const coap_bin_const_t *coap_session_get_psk_key(const coap_session_t *session);
/* coapkit: the PSK identity in use, or NULL. */
const coap_bin_const_t *coap_session_get_psk_identity(const coap_session_t *session);
void coap_session_set_mtu(coap_session_t *session, unsigned mtu);
size_t coap_session_max_pdu_size(const coap_session_t *session);
int coap_mcast_set_hops(coap_session_t *session, size_t hops);
/* "local <-> remote (proto)"; a static buffer, overwritten by the next call.*/
const char *coap_session_str(const coap_session_t *session);

/* coapkit: what a user inspecting a session wants to know. */
typedef struct coap_session_stats_t {
  uint64_t sent;          /* messages sent, retransmissions included */
  uint64_t received;      /* messages received */
  uint64_t retransmitted; /* retransmissions */
  uint64_t duplicates;    /* duplicate CONs or NONs received */
  uint64_t created_ms;    /* wall clock, ms since the epoch */
  uint64_t last_rx_tx_ms; /* wall clock, ms since the epoch */
} coap_session_stats_t;

int coap_session_get_stats(const coap_session_t *session,
                           coap_session_stats_t *stats);
unsigned int coap_session_get_refcount(const coap_session_t *session);
size_t coap_session_get_mtu(const coap_session_t *session);
size_t coap_session_get_mcast_hops(const coap_session_t *session);
/* coapkit: what a user wants to know about a session's (D)TLS, as text.
 * The strings are empty when unknown. */
typedef struct coap_tls_summary_t {
  coap_tls_library_t library;
  char version[32];          /* "DTLSv1.2" */
  char cipher[128];
  char peer_subject[256];    /* one line, RFC 2253 */
  char peer_issuer[256];
  char peer_not_before[40];  /* ISO 8601 UTC */
  char peer_not_after[40];
  char peer_sha256[100];     /* hex pairs separated by ':' */
  char verify_result[128];   /* "ok", or why the peer was not verified */
} coap_tls_summary_t;

/* coapkit: fills summary and returns 1 for a session with (D)TLS, else
 * zeroes it and returns 0 (also for NULL). */
int coap_session_get_tls_summary(const coap_session_t *session,
                                 coap_tls_summary_t *summary);
/* coapkit: why the session's (D)TLS handshake failed, in OpenSSL's words
 * ("handshake failed: certificate verify failed: certificate has
 * expired"), or NULL when it has not failed. */
const char *coap_session_get_tls_error(const coap_session_t *session);

/* coapkit: a number that identifies the session within the process (never
 * reused); 0 for NULL. */
uint64_t coap_session_get_id(const coap_session_t *session);

/* coapkit: every live session of the context, client and server; stops when
 * cb returns non-zero and returns that value (0 when all were visited).  cb
 * may release the session it is given, but no other. */
typedef int (*coap_session_iter_t)(coap_session_t *session, void *arg);
int coap_context_foreach_session(coap_context_t *ctx, coap_session_iter_t cb,
                                 void *arg);

/* coapkit: an application's file descriptor watched by the context's loop
 * (an admin socket, a pipe): coap_io_process calls h with the ready events
 * (EPOLLIN, EPOLLOUT, EPOLLHUP, ... bits of <sys/epoll.h>).  Adding an fd
 * that is already watched replaces its events, handler and arg.  The fd
 * stays the caller's: del_fd and coap_free_context never close it.  Both
 * return 1 on success, 0 on failure. */
typedef void (*coap_fd_handler_t)(coap_context_t *ctx, int fd, uint32_t events,
                                  void *arg);
int coap_context_add_fd(coap_context_t *ctx, int fd, uint32_t events,
                        coap_fd_handler_t h, void *arg);
int coap_context_del_fd(coap_context_t *ctx, int fd);

/* ---------------------------------------------------------------- resources */

typedef void (*coap_method_handler_t)(coap_resource_t *resource,
                                      coap_session_t *session,
                                      const coap_pdu_t *request,
                                      const coap_string_t *query,
                                      coap_pdu_t *response);

#define COAP_RESOURCE_FLAGS_RELEASE_URI 0x1
#define COAP_RESOURCE_FLAGS_NOTIFY_NON 0x0
#define COAP_RESOURCE_FLAGS_NOTIFY_CON 0x2
#define COAP_ATTR_FLAGS_RELEASE_NAME 0x1
#define COAP_ATTR_FLAGS_RELEASE_VALUE 0x2

/* uri_path without leading '/', "" for the root. */
coap_resource_t *coap_resource_init(coap_str_const_t *uri_path, int flags);
/* A resource that receives requests for paths no resource matches (the
 * handler is registered for PUT; others may be added). */
coap_resource_t *coap_resource_unknown_init(coap_method_handler_t put_handler);
void coap_add_resource(coap_context_t *context, coap_resource_t *resource);
int coap_delete_resource(coap_context_t *context, coap_resource_t *resource);
void coap_register_handler(coap_resource_t *resource, coap_request_t method,
                           coap_method_handler_t handler);
void coap_register_request_handler(coap_resource_t *resource,
                                   coap_request_t method,
                                   coap_method_handler_t handler);
/* Link-format attributes (rt, if, ct, sz, title, ...); value may be NULL. */
void *coap_add_attr(coap_resource_t *resource, coap_str_const_t *name,
                    coap_str_const_t *value, int flags);
void coap_resource_set_get_observable(coap_resource_t *resource, int mode);
void coap_resource_set_userdata(coap_resource_t *resource, void *data);
void *coap_resource_get_userdata(coap_resource_t *resource);
coap_str_const_t *coap_resource_get_uri_path(coap_resource_t *resource);
coap_resource_t *coap_get_resource_from_uri_path(coap_context_t *context,
                                                 coap_str_const_t *uri_path);
/* coapkit: number of resources (the unknown one not counted). */
size_t coap_context_resource_count(const coap_context_t *context);
/* coapkit: writes the /.well-known/core document, filtered by query
 * ("rt=x", "href=/a*", ...; NULL or empty: all).  Returns the length the whole
 * document needs; writes at most len bytes. */
size_t coap_print_wellknown(coap_context_t *context, uint8_t *buf, size_t len,
                            const coap_string_t *query);

/* ---------------------------------------------------------------- block-wise */

/* RFC 7959.  With coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP |
 * COAP_BLOCK_SINGLE_BODY) the library splits and reassembles bodies: a
 * server handler sees an upload whole and answers a large body with
 * coap_add_data_large_response; a client sends with
 * coap_add_data_large_request and its response handler sees one whole
 * body.  Without COAP_BLOCK_SINGLE_BODY a client's handler also sees each
 * Block2 block as it arrives. */
typedef struct coap_block_t {
  unsigned int num;
  unsigned int m : 1;
  unsigned int szx : 3;
} coap_block_t;

typedef struct coap_block_b_t {
  unsigned int num;
  unsigned int m : 1;
  unsigned int szx : 3;
  unsigned int aszx : 3; /* szx as sent (7 = BERT) */
  unsigned int defined : 1;
  size_t chunk_size;
} coap_block_b_t;

#define COAP_OBSERVE_ESTABLISH 0
#define COAP_OBSERVE_CANCEL 1

typedef void (*coap_release_large_data_t)(coap_session_t *session,
                                          void *app_ptr);

/* 1 and *block filled when pdu carries option number (Block1 or Block2)
 * with a valid value, else 0. */
int coap_get_block(const coap_pdu_t *pdu, coap_option_num_t number,
                   coap_block_t *block);
int coap_get_block_b(const coap_session_t *session, const coap_pdu_t *pdu,
                     coap_option_num_t number, coap_block_b_t *block);
/* Client: the payload of a request of any length; pdu must have its token
 * and every option already.  Sends it in blocks when it does not fit one.
 * release_func (may be NULL) is called once the data is no longer needed
 * (data must stay valid until then).  1 on success, 0 on failure. */
int coap_add_data_large_request(coap_session_t *session, coap_pdu_t *pdu,
                                size_t length, const uint8_t *data,
                                coap_release_large_data_t release_func,
                                void *app_ptr);
/* Server: the body of a response of any length.  Adds Content-Format
 * (media_type), Max-Age (maxage >= 0), ETag (etag, or one derived from the
 * body when 0 and the body needs blocks), Block2 and Size2 as needed, and
 * the block the request asked for.  A request whose ETag matches gets 2.03
 * Valid without a body.  The data is used before the call returns; then
 * release_func (may be NULL) is called.  1 on success, 0 on failure. */
int coap_add_data_large_response(coap_resource_t *resource,
                                 coap_session_t *session,
                                 const coap_pdu_t *request,
                                 coap_pdu_t *response,
                                 const coap_string_t *query,
                                 uint16_t media_type, int maxage,
                                 uint64_t etag, size_t length,
                                 const uint8_t *data,
                                 coap_release_large_data_t release_func,
                                 void *app_ptr);
/* The payload and where it sits in the whole body (offset, total: from
 * Block1/Block2 and Size1/Size2; total is len when unknown). */
int coap_get_data_large(const coap_pdu_t *pdu, size_t *len,
                        const uint8_t **data, size_t *offset, size_t *total);
/* Largest block this side uses or asks for: 16..1024 (power of two);
 * 0 restores 1024.  1 on success, 0 for another value. */
int coap_context_set_max_block_size(coap_context_t *context,
                                    size_t max_block_size);
/* coapkit: how far the session's block-wise transfer (the oldest in
 * progress) has come: bytes done, the total (0 when unknown), and whether
 * it is an upload.  0 when none is in progress. */
int coap_block_progress(const coap_session_t *session, size_t *done,
                        size_t *total, int *sending);
/* coapkit: bounds on server reassembly of uploads: bytes per body
 * (default 16 MiB), bytes over all bodies in progress (default 64 MiB),
 * and the time a body may wait for its next block (default 60 s).  0
 * keeps a default. */
void coap_context_set_max_upload(coap_context_t *context, size_t per_body,
                                 size_t total, unsigned int timeout_s);

/* ---------------------------------------------------------------- observe */

/* RFC 7641.  Server: a GET with Observe 0 on an observable resource adds
 * the client to its observer list; coap_resource_notify_observers sends
 * every observer the GET handler's fresh answer (NON, or CON with
 * COAP_RESOURCE_FLAGS_NOTIFY_CON; else every 5th, and at least every 24 h,
 * is CON).  An
 * observer goes on RST, on an unacknowledged CON notification, on a GET
 * with Observe 1, on an error answer, and with its session.  Returns 1
 * when the resource is observable. */
int coap_resource_notify_observers(coap_resource_t *resource,
                                   const coap_string_t *query);
/* COAP_RESOURCE_FLAGS_NOTIFY_NON or COAP_RESOURCE_FLAGS_NOTIFY_CON. */
void coap_resource_set_mode(coap_resource_t *resource, int mode);
/* coapkit: the number of observers of the resource. */
size_t coap_resource_observer_count(const coap_resource_t *resource);
/* Client: ends the observation that token established: sends a GET with
 * Observe 1 (message_type CON or NON); its answer reaches the response
 * handler.  1 on success, 0 when token observes nothing. */
int coap_cancel_observe(coap_session_t *session, coap_binary_t *token,
                        coap_pdu_type_t message_type);

/* coapkit: the link-format parser (RFC 6690), for clients and fuzzing.
 * Calls cb for each link with its target and raw attribute text; stops when
 * cb returns non-zero.  Returns 0 when the document is well formed, -1
 * otherwise. */
typedef int (*coap_link_cb_t)(const coap_str_const_t *target,
                              const coap_str_const_t *attributes, void *arg);
int coap_link_format_parse(const uint8_t *doc, size_t len, coap_link_cb_t cb,
                           void *arg);
/* 1 when a link's attributes (as passed to the callback above) and target
 * match a filter query "name=value" or "name=prefix*", else 0. */
int coap_link_matches(const coap_str_const_t *target,
                      const coap_str_const_t *attributes,
                      const coap_str_const_t *query);

/* ---------------------------------------------------------------- misc */

/* coapkit: base64 (RFC 4648) for the tools' JSON output; out needs
 * 4 * ((len + 2) / 3) + 1 bytes.  Returns the length written. */
size_t coap_base64_encode(const uint8_t *in, size_t len, char *out);
/* coapkit: monotonic time in milliseconds. */
uint64_t coap_ticks_ms(void);
void coap_startup(void);
void coap_cleanup(void);
const char *coap_package_version(void);

#ifdef __cplusplus
}
#endif

#endif /* COAPKIT_COAP_H */
