/* client.h — an asynchronous outbound HTTP client (libcurl's multi
 * interface: HTTP/1.1, and HTTP/2 over TLS when the server offers it), for
 * calls to an LLM endpoint and to app-hosted actors.
 *
 * One client owns one background thread that runs every transfer. Any thread
 * submits a request with va_http_client_send(), which copies it, queues it
 * and wakes the client's thread; it never waits on the network, so runtime
 * workers may call it. The answer arrives through a callback that runs ON
 * THE CLIENT'S THREAD: it must be short and must not block (hand the result
 * to its own thread, e.g. with va_send, and return). Connections are kept
 * alive and reused between requests to the same host. Redirects are not
 * followed: a 3xx is returned like any other status. */
#ifndef VA_HTTP_CLIENT_H
#define VA_HTTP_CLIENT_H

#include <stddef.h>
#include <vactor.h>

typedef struct va_http_client va_http_client;

/* Largest response body accepted; a longer one fails with VA_ETOOBIG. */
#define VA_HTTP_CLIENT_MAX_BODY (8u << 20)
/* Largest response header block accepted (VA_ETOOBIG beyond). */
#define VA_HTTP_CLIENT_MAX_HEADERS (256u << 10)
/* The whole-request deadline when a request gives 0. */
#define VA_HTTP_CLIENT_TIMEOUT_MS_DEFAULT 30000

typedef struct va_http_client_request {
  const char *method;         /* "GET", "POST", "PUT", "DELETE" ... (a token) */
  const char *url;            /* http://host:port/path (or https://) */
  const char *const *headers; /* "Name: value" strings, NULL-terminated; may
                                 be NULL. No CR or LF. "Name:" with no value
                                 removes a header curl would add. */
  const void *body;           /* may be NULL */
  size_t body_len;
  long timeout_ms; /* whole request; 0 = 30000 */
} va_http_client_request;

typedef struct va_http_client_result {
  /* 0, or VA_ETIMEDOUT (the deadline passed), VA_ESYS (connect or transport
   * failure, including a connection closed without an answer), VA_ENOMEM,
   * VA_ETOOBIG (body or headers over the limits above), VA_EINVAL (a URL
   * curl cannot parse), VA_ESTOPPED (the client was freed first). */
  int error;
  long status; /* the HTTP status when error == 0, else 0 */
  /* The final response's header lines as received, each "Name: value\r\n";
   * the status line and the blank line that ends the block are excluded
   * (and so are the headers of interim 1xx responses; trailers of a chunked
   * body, if any, follow the headers). NUL-terminated;
   * "" when error != 0. */
  const char *headers;
  size_t headers_len;
  const char *body; /* NUL-terminated for convenience; "" when error != 0 */
  size_t body_len;
} va_http_client_result;

/* Called exactly once per accepted request, on the client's thread. result
 * (and everything it points to) is valid only during the call. The callback
 * may call va_http_client_send (on any client) and va_http_client_free on
 * its own client (see there). */
typedef void (*va_http_client_done)(void *user,
                                    const va_http_client_result *result);

/* Creates a client and starts its thread (with every signal blocked). On
 * success *out is the client, owned by the caller until
 * va_http_client_free. Returns 0, VA_EINVAL, VA_ENOMEM or VA_ESYS. */
int va_http_client_new(va_http_client **out);

/* Submits a request. Everything in req is copied (req is borrowed for the
 * call); user is passed to done untouched and stays the caller's. Returns 0
 * (done will be called exactly once) or an error, and then done is never
 * called: VA_EINVAL (NULL argument, method not a token, URL not http(s),
 * a header without ':' or with CR/LF, negative timeout), VA_ENOMEM,
 * VA_ESTOPPED (va_http_client_free has begun). Thread-safe; never waits on
 * I/O (a short mutex and a wake-up write). Must not race with
 * va_http_client_free on the same client except from a done callback. */
int va_http_client_send(va_http_client *c, const va_http_client_request *req,
                        va_http_client_done done, void *user);

/* Stops the client: requests still queued or in flight complete with
 * VA_ESTOPPED (on the client's thread), then the thread ends and the client
 * is freed. From any other thread, this waits for all of that. From a done
 * callback of this client, it returns at once and the client's thread does
 * the rest when the callback returns. NULL is ignored. */
void va_http_client_free(va_http_client *c);

/* Finds the first header called name (case-insensitive) in r's header
 * block and copies its value, without surrounding spaces, into out: at most
 * cap - 1 bytes and a NUL (nothing when cap is 0). Returns the value's full
 * length (more than cap - 1 means it was cut, as with snprintf), or -1 when
 * there is no such header. */
int va_http_client_header(const va_http_client_result *r, const char *name,
                          char *out, size_t cap);

#endif
