/* server.h — the HTTP/1.1 server of vactord: one listening socket per
 * worker (SO_REUSEPORT), each connection served on the worker that
 * accepted it, parsed with http-parser, keep-alive and pipelining (answers
 * leave in request order), with limits on header and body size. A handler
 * answers at once or later, from any thread (after an actor call). */
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
} va_http_request;

/* The answer a handler fills in. body is appended with va_http_write. */
typedef struct va_http_response {
  int status;
  const char *content_type;
  char *body;
  size_t len, cap;
} va_http_response;

int va_http_write(va_http_response *res, const void *data, size_t len);
int va_http_printf(va_http_response *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON error body {"errorCode": code, "message": message}. */
void va_http_error(va_http_response *res, int status, const char *code,
                   const char *message);

/* One request's answer. The handler fills va_http_res(reply) and calls
 * va_http_done(reply) exactly once: before returning, or later from any
 * thread. The request (and its body) is valid only during the handler. */
typedef struct va_http_reply va_http_reply;
va_http_response *va_http_res(va_http_reply *reply);
void va_http_done(va_http_reply *reply);

/* Runs on the connection's worker; must not block. */
typedef void (*va_http_handler)(void *ctx, const va_http_request *req,
                                va_http_reply *reply);

typedef struct va_http_options {
  const char *host;     /* numeric IPv4, e.g. "127.0.0.1" */
  uint16_t port;
  size_t max_header;    /* bytes of request line and headers; 0 = 16 KiB */
  size_t max_body;      /* 0 = 1 MiB */
  const char *token;    /* optional API token: every request but GET
                           /v1.0/healthz must carry it, as
                           "dapr-api-token: T" or "Authorization: Bearer
                           T", else 401 (copied) */
  va_http_handler handler;
  void *ctx;
} va_http_options;

/* Starts listening on every worker of rt (which must be running). */
int va_http_start(va_runtime *rt, const va_http_options *opts,
                  va_http_server **out);
/* Closes the listeners (connections end with the process). */
void va_http_stop(va_http_server *srv);

#endif
