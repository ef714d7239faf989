/* server.h — the HTTP/1.1 server of vactord: one listening socket per
 * worker (SO_REUSEPORT), each connection served on the worker that
 * accepted it, parsed with http-parser, keep-alive and pipelining (answers
 * leave in request order), with limits on header and body size, on open
 * connections, on the answers queued per connection (past 64 answers or
 * 256 KiB not yet written, the connection is not read until it drains
 * below 16 and 64 KiB), and on how long a client may idle or dawdle over a
 * request. Requests RFC 9112 refuses get a 400 ERR_MALFORMED_REQUEST: bare
 * LF, a bare CR, folded header lines, white space in or after a header's
 * name, a request line without a version; HTTP/x other than 1.x is a 505
 * ERR_HTTP_VERSION_NOT_SUPPORTED; Upgrade (and CONNECT) are not supported
 * and the request is answered as plain HTTP/1.1. A request refused before
 * its end (400, 401, 408, 413, 414, 431, 505) is answered at once and the
 * connection closed.
 * A handler answers at once or later, from any thread (after an actor
 * call). The server counts requests, latency and connections per worker
 * and writes them as Prometheus text (va_http_metrics). */
#ifndef VA_HTTP_SERVER_H
#define VA_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <vactor.h>

typedef struct va_http_server va_http_server;

typedef struct va_http_request {
  const char *method; /* "GET", "POST", ... */
  const char *path;   /* the URL's path, NUL-terminated */
  size_t path_len;
  const char *query;  /* after '?', or "" */
  const char *body;
  size_t body_len;
  const char *if_match; /* the If-Match header's value, or NULL */
  const char *content_type; /* the Content-Type header's value, or NULL */
  const char *reentrancy_id; /* Dapr-Reentrancy-Id's value, or NULL */
  const char *headers; /* every header as received: "Name: value\r\n" */
  size_t headers_len;
} va_http_request;

/* The answer a handler fills in. body is appended with va_http_write,
 * header lines with va_http_header; both are owned by the response and
 * freed with it by the server. */
typedef struct va_http_response {
  int status;
  const char *content_type; /* static; NULL for none */
  char *body;
  size_t len, cap;
  char *headers; /* "Name: value\r\n" lines, in the order added */
  size_t headers_len, headers_cap;
  char *own_type; /* a content type copied by va_http_content_type */
} va_http_response;

int va_http_write(va_http_response *res, const void *data, size_t len);
/* Sets a content type that is not static (copied; VA_EINVAL for CR, LF or
 * other control bytes). */
int va_http_content_type(va_http_response *res, const char *type);
int va_http_printf(va_http_response *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON error body {"errorCode": code, "message": message}; replaces the
 * body, keeps the headers added so far. */
void va_http_error(va_http_response *res, int status, const char *code,
                   const char *message);
/* Adds the header line "name: value" (both copied) to the response, e.g.
 * ETag, Location, Retry-After. Returns 0, VA_ENOMEM, or VA_EINVAL for a
 * name that is empty or not an HTTP token, a value with CR, LF or another
 * control character (but tab), or a header the server writes itself
 * (Content-Length, Content-Type, Connection, Transfer-Encoding). */
int va_http_header(va_http_response *res, const char *name,
                   const char *value);

/* One request's answer. The handler fills va_http_res(reply) and calls
 * va_http_done(reply) exactly once: before returning, or later from any
 * thread. The request (and its body) is valid only during the handler. */
typedef struct va_http_reply va_http_reply;
va_http_response *va_http_res(va_http_reply *reply);
void va_http_done(va_http_reply *reply);
/* Names the route of this request in the metrics (the route label):
 * route is a static string owned by the caller, e.g. "tasks.log", and is
 * compared by address on the hot path (use one literal per route). Call it
 * before va_http_done. A request never labelled counts as "unmatched". */
void va_http_label(va_http_reply *reply, const char *route);
/* Appends the server's metrics to the reply's response body, in Prometheus
 * text format: requests by route and status, a latency histogram per route
 * (from the request's last byte parsed to its response queued), open,
 * accepted and refused connections, and client timeouts. Sums every
 * worker's counters (relaxed reads; any thread, before va_http_done). On
 * VA_ENOMEM the response becomes a 500 JSON error. */
void va_http_metrics(va_http_reply *reply);

/* Runs on the connection's worker; must not block. */
typedef void (*va_http_handler)(void *ctx, const va_http_request *req,
                                va_http_reply *reply);

typedef struct va_http_options {
  const char *host;     /* numeric IPv4, e.g. "127.0.0.1" */
  uint16_t port;
  size_t max_header;    /* bytes of the headers' names and values; 0 =
                           16 KiB; beyond it a 431 ERR_HEADERS_TOO_LARGE.
                           A request target over 8 KiB is a 414
                           ERR_URI_TOO_LONG */
  size_t max_body;      /* 0 = 1 MiB; a Content-Length or a chunked body
                           beyond it is a 413 ERR_BODY_TOO_LARGE, as soon
                           as it is announced or passed */
  unsigned max_connections; /* open at once, whole server; 0 = 16384.
                               Beyond it a new connection gets a 503
                               ERR_TOO_MANY_CONNECTIONS with Retry-After: 1
                               and is closed */
  uint64_t idle_timeout_ms; /* a connection with no request in progress and
                               no reply pending is closed quietly after this
                               long; so is one whose answers wait to be
                               written and that has neither read nor
                               written a byte for this long (a client that
                               does not read, or half-closed and does not
                               read); 0 = 60000 */
  uint64_t request_timeout_ms; /* a request begun but not complete after
                                  this long (slow headers or body) gets a
                                  408 ERR_REQUEST_TIMEOUT and the
                                  connection closes; 0 = 10000 */
  /* The access log: one logfmt line per answered request, ending in '\n',
   * e.g. `ts=2026-12-01T21:00:00Z level=info msg="request" method=GET
   * route=tasks.get status=200 duration_us=153 bytes_in=0 bytes_out=412`
   * (route: the label of va_http_label, "unmatched" without one; method
   * "-" for a request whose method was not read; duration from the
   * request's last byte parsed to its answer queued; bytes of the request's
   * and the answer's bodies). Lines are buffered per worker and handed
   * over in blocks of whole lines: once 32 KiB are buffered, at least once
   * a second, and at va_http_stop. Called on the workers' threads, maybe
   * at once: it must be thread-safe and not block for long; lines is
   * borrowed. NULL: no access log. */
  void (*access_log)(void *user, const char *lines, size_t len);
  void *access_log_user;
  const char *token;    /* optional API token: every request but GET
                           /v1.0/healthz must carry it, as
                           "dapr-api-token: T" or "Authorization: Bearer
                           T", else 401 on the request's head, before its
                           body is read (copied) */
  va_http_handler handler;
  void *ctx;
} va_http_options;

/* Starts listening on every worker of rt (which must be running). A
 * system call that fails is logged (va_log, with errno's text) and the
 * start fails with VA_ESYS. Every 5xx answer is logged too (va_log: warn
 * for 503, else error), whether or not the access log is on. */
int va_http_start(va_runtime *rt, const va_http_options *opts,
                  va_http_server **out);
/* Closes the listeners (connections end with the process). */
void va_http_stop(va_http_server *srv);

#endif
