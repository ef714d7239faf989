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
 * its end (400, 408, 413, 414, 431, 505, or by the authorize check of the
 * options, e.g. a 401) is answered at once and the connection closed. The
 * server is generic HTTP/1.1: it reads no header but those HTTP needs
 * (lengths, chunking, keep-alive: http-parser's); handlers read the others
 * by name (va_http_request_header). It runs on the runtime's loops through
 * vactor_loop.h.
 * A handler answers at once or later, from any thread (after an actor
 * call). The server counts requests, latency and connections per worker
 * and writes them as Prometheus text (va_http_metrics). */
#ifndef VA_HTTP_SERVER_H
#define VA_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vactor.h>

typedef struct va_http_server va_http_server;

/* The defaults of va_http_options (what 0 means), in one place: vactord's
 * help and log show these. Plain numbers, so that they can be made text
 * (VA_HTTP_TEXT). */
#define VA_HTTP_DEFAULT_MAX_HEADER 16384 /* bytes */
#define VA_HTTP_DEFAULT_MAX_BODY 1048576 /* bytes: 1 MiB */
#define VA_HTTP_DEFAULT_MAX_CONNECTIONS 16384
#define VA_HTTP_DEFAULT_IDLE_TIMEOUT_MS 60000
#define VA_HTTP_DEFAULT_REQUEST_TIMEOUT_MS 10000
/* A number macro as a string literal: VA_HTTP_TEXT(VA_HTTP_DEFAULT_MAX_BODY)
 * is "1048576". */
#define VA_HTTP_TEXT(macro) VA_HTTP_TEXT_(macro)
#define VA_HTTP_TEXT_(x) #x

/* A request as the handler (or, without its body, the authorize check)
 * sees it; valid only during that call. */
typedef struct va_http_request {
  const char *method; /* "GET", "POST", ... */
  const char *path;   /* the URL's path, NUL-terminated */
  size_t path_len;
  const char *query; /* after '?', or "" */
  const char *body;  /* "" (and 0) in the authorize check */
  size_t body_len;
  const char *headers; /* every header as received: "Name: value\r\n" */
  size_t headers_len;
} va_http_request;

/* The value of the request's first header called name (compared without
 * case), white space around it left out; *len is its length. The value
 * points into req->headers and is NOT NUL-terminated. NULL (and *len 0)
 * when there is none. A scan of the header block (bounded by max_header):
 * call it when a handler needs a header, not for every request. */
const char *va_http_request_header(const va_http_request *req, const char *name,
                                   size_t *len);

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
/* The Prometheus text format: a family's # HELP and # TYPE lines; a label
 * value, escaped as the format asks (\\, \", \n). 0, or VA_ENOMEM. */
int va_http_prom_family(va_http_response *res, const char *name,
                        const char *kind, const char *help);
int va_http_prom_label(va_http_response *res, const char *v);
/* A JSON error body {"errorCode": code, "message": message}; replaces the
 * body, keeps the headers added so far. */
void va_http_error(va_http_response *res, int status, const char *code,
                   const char *message);
/* Adds the header line "name: value" (both copied) to the response, e.g.
 * ETag, Location, Retry-After. Returns 0, VA_ENOMEM, or VA_EINVAL for a
 * name that is empty or not an HTTP token, a value with CR, LF or another
 * control character (but tab), or a header the server writes itself
 * (Content-Length, Content-Type, Connection, Transfer-Encoding). */
int va_http_header(va_http_response *res, const char *name, const char *value);

/* One request's answer. The handler fills va_http_res(reply) and calls
 * va_http_done(reply) exactly once: before returning, or later from any
 * thread. The request (and its body) is valid only during the handler.
 * From another thread the answer is handed to the connection's worker
 * (va_loop_run); if that fails (out of memory), the failure is logged and
 * counted (vactor_http_handoffs_failed_total) and the connection's sweep
 * sends the answer instead, within a second, then closes the connection;
 * a hand-off refused because the runtime stopped leaves the connection
 * to die with the process. */
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

/* ---- Streams (Server-Sent Events) ----
 * A handler may answer with a stream instead of a whole response: the
 * answer's head (its status, content type and headers, no length, and
 * "Connection: close") and the body written so far leave at once; then
 * about every every_ms (at the server's sweep, at most once a second) the
 * server calls tick on the connection's worker, which appends the next
 * part of the body to chunk with va_http_write; the server writes it. No
 * tick is made while the last part is still unwritten, and a reader that
 * takes nothing for idle_timeout_ms is closed, so a slow reader costs one
 * part of memory. The stream ends when the client closes, when tick
 * returns false (after its part is written), or when the server stops;
 * then end(ctx) runs, once, on the connection's worker. No other request
 * is read from the connection. Nothing runs for a stream between ticks.
 * A reply whose status is 300 or more when it is done (the handler failed
 * after va_http_stream) is sent as a plain answer, and the stream ends. */
enum { VA_HTTP_STREAMS_MAX = 32 }; /* open at once, whole server */
typedef bool (*va_http_tick)(void *ctx, va_http_response *chunk);
/* Makes reply a stream; call it in the handler (on the connection's
 * worker), then va_http_done. 0; VA_EBACKPRESSURE when
 * VA_HTTP_STREAMS_MAX streams are open (answer 503); VA_ESTATE off the
 * connection's worker or for a reply that is done. ctx is the caller's
 * until end. */
int va_http_stream(va_http_reply *reply, uint64_t every_ms, va_http_tick tick,
                   void (*end)(void *ctx), void *ctx);

/* ---- A summary for a live view (the dashboard) ---- */

enum { VA_HTTP_LATENCY_BUCKETS = 14 };

/* One route's requests, summed over the workers. */
typedef struct va_http_route_summary {
  const char *route; /* the label of va_http_label (static) */
  uint64_t requests, client_errors /* 4xx */, server_errors /* 5xx */;
  /* Latency: requests per bucket (not cumulative), bucket i up to
   * bounds_s[i], the last one beyond the last bound. */
  uint64_t buckets[VA_HTTP_LATENCY_BUCKETS];
} va_http_route_summary;

typedef struct va_http_summary {
  uint64_t open, accepted, refused; /* connections */
  const double *bounds_s;           /* static, n_bounds of them */
  size_t n_bounds;
  va_http_route_summary *routes; /* owned, sorted by route */
  size_t n_routes;
} va_http_summary;

/* The server of a reply (for a stream that summarizes it later). */
va_http_server *va_http_reply_server(const va_http_reply *reply);
/* Sums every worker's counters into out (relaxed reads; any thread); free
 * it with va_http_summary_free. 0 or VA_ENOMEM. */
int va_http_summarize(va_http_server *srv, va_http_summary *out);
void va_http_summary_free(va_http_summary *summary);

/* Runs on the connection's worker; must not block. */
typedef void (*va_http_handler)(void *ctx, const va_http_request *req,
                                va_http_reply *reply);

/* Decides on a request's head (its body not read yet: req->body is ""),
 * on the connection's worker; must not block. true: the request is read
 * and handled. false: refusal (a 401 with a JSON body unless the check
 * changed it; fill it with va_http_error) is the answer, sent at once, and
 * the connection is closed without reading the body. refusal is owned by
 * the server. */
typedef bool (*va_http_authorize)(void *ctx, const va_http_request *head,
                                  va_http_response *refusal);

typedef struct va_http_options {
  const char *host; /* numeric IPv4, e.g. "127.0.0.1" */
  uint16_t port;
  /* Limits; 0 for each: its VA_HTTP_DEFAULT_*. */
  size_t max_header;        /* bytes of the headers' names and values; beyond
                               it a 431 ERR_HEADERS_TOO_LARGE. A request
                               target over 8 KiB is a 414 ERR_URI_TOO_LONG */
  size_t max_body;          /* a Content-Length or a chunked body beyond it is
                               a 413 ERR_BODY_TOO_LARGE, as soon as it is
                               announced or passed */
  unsigned max_connections; /* open at once, whole server. Beyond it a new
                               connection gets a 503
                               ERR_TOO_MANY_CONNECTIONS with Retry-After: 1
                               and is closed */
  uint64_t idle_timeout_ms; /* a connection with no request in progress and
                               no reply pending is closed quietly after this
                               long; so is one whose answers wait to be
                               written and that has neither read nor
                               written a byte for this long (a client that
                               does not read, or half-closed and does not
                               read) */
  uint64_t request_timeout_ms; /* a request begun but not complete after
                                  this long (slow headers or body) gets a
                                  408 ERR_REQUEST_TIMEOUT and the
                                  connection closes */
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
  /* Optional (NULL: every request is served): the check of each
   * request's head, e.g. an API token (see va_http_authorize). */
  va_http_authorize authorize;
  void *authorize_ctx;
  va_http_handler handler;
  void *ctx;
} va_http_options;

/* Starts listening on every worker of rt (which must be running). A
 * system call that fails is logged (va_log, with errno's text) and the
 * start fails with VA_ESYS. Every 5xx answer is logged too (va_log: warn
 * for 503, else error), whether or not the access log is on. Returns 0
 * (*out is the server, the caller's until va_http_stop), VA_EINVAL,
 * VA_ENOMEM, VA_ESYS, or VA_ESTOPPED (rt is not running); on an error
 * what was opened is closed again (unless closing it on a worker fails
 * too: that is logged). Not from a worker of rt (VA_EWOULDBLOCK): it
 * waits for them. */
int va_http_start(va_runtime *rt, const va_http_options *opts,
                  va_http_server **out);
/* Closes the listeners and the open connections, on every worker, and
 * frees srv; a worker that cannot be reached is asked again for a while.
 * Returns 0, VA_EWOULDBLOCK (called from a worker of the runtime: nothing
 * done), or the error of a worker that could not be reached (VA_ENOMEM,
 * VA_ESTOPPED: the runtime stopped first); srv is then left allocated,
 * since that worker may still use it, and its sockets stay open until the
 * process ends. NULL is ignored (0). */
int va_http_stop(va_http_server *srv);

#endif
