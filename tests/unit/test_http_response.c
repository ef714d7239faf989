/* test_http_response.c — building HTTP responses without a socket: header
 * lines (va_http_header refuses CR/LF and the headers the server writes
 * itself), JSON error bodies (every byte escaped, invalid UTF-8 replaced),
 * and the metrics text of the per-worker counters (buckets, sums, route
 * labels merged by content across workers, escaping). A request's headers
 * read by name, and vactord's authorize check (Dapr's token and its
 * exemptions). Then, with a server on a loopback port: the access log's
 * lines and blocks, the log line of each 5xx, the log line of a start whose
 * bind fails, a start on a runtime not running (an error, nothing left
 * listening), a refusal of the authorize check sent on the head, and an
 * answer completed on another thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "api/routes.h"
#include "http/metrics.h"
#include "http/response.h"
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vactor_loop.h>

/* The response's header lines as a NUL-terminated string (owned by res). */
static const char *headers(va_http_response *res) {
  assert_int_equal(
      va__http_grow(&res->headers, &res->headers_cap, res->headers_len + 1, 16),
      0);
  res->headers[res->headers_len] = 0;
  return res->headers;
}

static const char *body(va_http_response *res) {
  va_http_write(res, "", 1); /* a NUL to end the string */
  res->len--;
  return res->body;
}

static void header_lines_in_order(void **state) {
  (void)state;
  va_http_response res = {.status = 200};
  assert_int_equal(va_http_header(&res, "ETag", "\"v3\""), 0);
  assert_int_equal(va_http_header(&res, "Retry-After", "1"), 0);
  assert_int_equal(va_http_header(&res, "X-Tab", "a\tb"), 0);
  assert_string_equal(headers(&res),
                      "ETag: \"v3\"\r\nRetry-After: 1\r\nX-Tab: a\tb\r\n");
  /* An error replaces the body, not the headers. */
  va_http_error(&res, 503, "ERR_BUSY", "retry");
  assert_int_equal(res.status, 503);
  assert_non_null(strstr(headers(&res), "Retry-After: 1\r\n"));
  va__http_response_free(&res);
}

static void header_injection_refused(void **state) {
  (void)state;
  va_http_response res = {.status = 200};
  const char *bad_values[] = {"a\r\nSet-Cookie: x=1", "a\nb", "a\rb",
                              ("a\x01"
                               "b"),
                              "a\x7f"};
  for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
    assert_int_equal(va_http_header(&res, "Location", bad_values[i]),
                     VA_EINVAL);
  const char *bad_names[] = {"",
                             "X\r\nY",
                             "X Y",
                             "X:Y",
                             "X\n",
                             "Content-Length",
                             "content-type",
                             "Connection",
                             "Transfer-Encoding"};
  for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
    assert_int_equal(va_http_header(&res, bad_names[i], "v"), VA_EINVAL);
  assert_int_equal(va_http_header(&res, NULL, "v"), VA_EINVAL);
  assert_int_equal(va_http_header(&res, "X", NULL), VA_EINVAL);
  assert_int_equal(res.headers_len, 0); /* nothing half-written */
  va__http_response_free(&res);
}

/* va_http_error's body parses as JSON and its message is what was given,
 * with what is not UTF-8 replaced by U+FFFD. */
static void error_body_is_json(void **state) {
  (void)state;
  static const struct {
    const char *message, *decoded;
  } cases[] = {
      {"If-Match must be a task version, e.g. \"3\"",
       "If-Match must be a task version, e.g. \"3\""},
      {"back\\slash, tab\t, newline\n, bell\a, del\x7f",
       "back\\slash, tab\t, newline\n, bell\a, del\x7f"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
      /* a stray byte, an overlong '/', a surrogate, a cut sequence */
      {"/a\xff"
       "b/\xc0\xaf/\xed\xa0\x80/\xe2\x82",
       "/a\xef\xbf\xbd"
       "b/\xef\xbf\xbd\xef\xbf\xbd/"
       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/\xef\xbf\xbd\xef\xbf\xbd"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    va_http_response res = {.status = 200};
    va_http_error(&res, 400, "ERR_BAD_REQUEST", cases[i].message);
    assert_int_equal(res.status, 400);
    json_error_t err;
    json_t *j = json_loadb(res.body, res.len, 0, &err);
    if (!j)
      fail_msg("case %zu: not JSON (%s): %.*s", i, err.text, (int)res.len,
               res.body);
    assert_string_equal(json_string_value(json_object_get(j, "errorCode")),
                        "ERR_BAD_REQUEST");
    assert_string_equal(json_string_value(json_object_get(j, "message")),
                        cases[i].decoded);
    json_decref(j);
    va__http_response_free(&res);
  }
  /* A long message is cut, the body still whole. */
  char *long_message = malloc(100000);
  memset(long_message, '"', 99999);
  long_message[99999] = 0;
  va_http_response res = {.status = 200};
  va_http_error(&res, 404, "ERR_NOT_FOUND", long_message);
  json_t *j = json_loadb(res.body, res.len, 0, NULL);
  assert_non_null(j);
  const char *m = json_string_value(json_object_get(j, "message"));
  assert_int_equal(strlen(m), 1024 + 3);
  assert_string_equal(m + 1024, "...");
  json_decref(j);
  va__http_response_free(&res);
  free(long_message);
}

static void reason_phrases(void **state) {
  (void)state;
  assert_string_equal(va__http_reason(408), "Request Timeout");
  assert_string_equal(va__http_reason(412), "Precondition Failed");
  assert_string_equal(va__http_reason(505), "HTTP Version Not Supported");
  assert_string_equal(va__http_reason(299), "Unknown");
}

static void metrics_text(void **state) {
  (void)state;
  va__http_stats *st[2] = {va__http_stats_new(), va__http_stats_new()};
  assert_true(st[0] && st[1]);
  /* The same route name at two addresses, as two files might have it. */
  char *copy = strdup("tasks.log");
  va__http_stats_request(st[0], "tasks.log", 200, 700000); /* 0.7 ms */
  va__http_stats_request(st[1], copy, 200, 3000000);       /* 3 ms */
  va__http_stats_request(st[1], copy, 404, 20000000000u);  /* 20 s */
  va__http_stats_request(st[0], "we\"ird", 500, 1);
  va_count(st[1]->refused, 2);
  va_http_response res = {.status = 200};
  assert_int_equal(va__http_stats_write(&res, st, 2, 7, 3), 0);
  const char *t = body(&res);
  const char *want[] = {
      "vactor_http_requests_total{route=\"tasks.log\",status=\"200\"} 2\n",
      "vactor_http_requests_total{route=\"tasks.log\",status=\"404\"} 1\n",
      "vactor_http_requests_total{route=\"we\\\"ird\",status=\"500\"} 1\n",
      "_bucket{route=\"tasks.log\",le=\"0.0005\"} 0\n",
      "_bucket{route=\"tasks.log\",le=\"0.001\"} 1\n",
      "_bucket{route=\"tasks.log\",le=\"0.0025\"} 1\n",
      "_bucket{route=\"tasks.log\",le=\"0.005\"} 2\n",
      "_bucket{route=\"tasks.log\",le=\"5\"} 2\n",
      "_bucket{route=\"tasks.log\",le=\"+Inf\"} 3\n",
      "_sum{route=\"tasks.log\"} 20.003700000\n",
      "_count{route=\"tasks.log\"} 3\n",
      "\nvactor_http_connections 7\n",
      "\nvactor_http_connections_refused_total 2\n",
      "vactor_http_client_timeouts_total{kind=\"idle\"} 0\n",
      "\nvactor_http_handoffs_failed_total 3\n",
      "# TYPE vactor_http_request_duration_seconds histogram\n",
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    if (!strstr(t, want[i]))
      fail_msg("missing: %s\nin:\n%s", want[i], t);
  va__http_response_free(&res);
  free(copy);
  free(st[0]);
  free(st[1]);
}

/* ---- Requests ---- */

static va_http_request request_with(const char *method, const char *path,
                                    const char *headers) {
  return (va_http_request){.method = method,
                           .path = path,
                           .path_len = strlen(path),
                           .query = "",
                           .body = "",
                           .headers = headers,
                           .headers_len = strlen(headers)};
}

/* The value as a string (for the asserts), or "(none)". */
static const char *value_of(const va_http_request *req, const char *name) {
  static char out[256];
  size_t len = 99;
  const char *v = va_http_request_header(req, name, &len);
  if (!v) {
    assert_int_equal(len, 0);
    return "(none)";
  }
  snprintf(out, sizeof(out), "%.*s", (int)len, v);
  return out;
}

static void request_headers_by_name(void **state) {
  (void)state;
  va_http_request req =
      request_with("GET", "/x",
                   "Host: t\r\nIf-Match-Not: 9\r\nIF-MATCH:   \"3\" \t\r\n"
                   "X-Empty: \r\nIf-Match: \"4\"\r\nX-Last: end\r\n");
  assert_string_equal(value_of(&req, "if-match"), "\"3\""); /* the first */
  assert_string_equal(value_of(&req, "If-Match-Not"), "9");
  assert_string_equal(value_of(&req, "host"), "t");
  assert_string_equal(value_of(&req, "x-empty"), "");
  assert_string_equal(value_of(&req, "X-LAST"), "end");
  assert_string_equal(value_of(&req, "if"), "(none)");
  assert_string_equal(value_of(&req, "Content-Type"), "(none)");
  va_http_request none = request_with("GET", "/x", "");
  assert_string_equal(value_of(&none, "host"), "(none)");
}

/* va_routes_authorize on a request with these headers: true, or false
 * with a 401: under /v1.0/ daprd's plain text, elsewhere the JSON
 * ERR_UNAUTHORIZED. */
static bool authorized(const char *token, const char *method, const char *path,
                       const char *headers) {
  va_routes routes = {.token = token};
  va_http_request head = request_with(method, path, headers);
  va_http_response refusal = {.status = 401};
  bool ok = va_routes_authorize(&routes, &head, &refusal);
  if (!ok) {
    assert_int_equal(refusal.status, 401);
    if (!strncmp(path, "/v1.0/", 6))
      assert_string_equal(body(&refusal), "invalid api token\n");
    else
      assert_non_null(strstr(body(&refusal), "\"ERR_UNAUTHORIZED\""));
  } else {
    assert_int_equal(refusal.len, 0);
  }
  va__http_response_free(&refusal);
  return ok;
}

static void dapr_token_checked_by_the_routes(void **state) {
  (void)state;
  assert_true(authorized(NULL, "POST", "/v1.0/metadata", ""));
  assert_true(authorized("", "POST", "/v1.0/metadata", ""));
  assert_false(authorized("s3cret", "GET", "/metrics", ""));
  assert_false(
      authorized("s3cret", "GET", "/metrics", "dapr-api-token: nope\r\n"));
  assert_false(
      authorized("s3cret", "GET", "/metrics", "dapr-api-token: s3cretX\r\n"));
  assert_false(
      authorized("s3cret", "GET", "/metrics", "Authorization: s3cret\r\n"));
  assert_true(
      authorized("s3cret", "GET", "/metrics", "Dapr-Api-Token: s3cret\r\n"));
  assert_true(authorized("s3cret", "GET", "/metrics",
                         "authorization: bearer s3cret\r\n"));
  assert_true(authorized("s3cret", "GET", "/metrics",
                         "dapr-api-token: nope\r\n"
                         "Authorization: Bearer s3cret\r\n"));
  /* The health routes need none, for GET only. */
  assert_true(authorized("s3cret", "GET", "/v1.0/healthz", ""));
  assert_true(authorized("s3cret", "GET", "/v1.0/healthz/outbound", ""));
  assert_false(authorized("s3cret", "POST", "/v1.0/healthz", ""));
  assert_false(authorized("s3cret", "GET", "/v1.0/healthz/", ""));
}

/* ---- With a server ---- */

/* What the callbacks received (from the workers' threads). */
static struct {
  pthread_mutex_t lock;
  char access[8192], log[8192];
  size_t access_len, log_len;
  unsigned access_blocks;
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void append(char *to, size_t *len, size_t cap, const char *s, size_t n) {
  if (*len + n < cap) {
    memcpy(to + *len, s, n);
    *len += n;
    to[*len] = 0;
  }
}

static void on_access(void *user, const char *lines, size_t len) {
  (void)user;
  pthread_mutex_lock(&seen.lock);
  assert_true(len > 0 && lines[len - 1] == '\n'); /* whole lines */
  append(seen.access, &seen.access_len, sizeof(seen.access), lines, len);
  seen.access_blocks++;
  pthread_mutex_unlock(&seen.lock);
}

static void on_log(void *user, va_log_level level, const char *msg,
                   const char *fields) {
  (void)user;
  char line[1024];
  int n = snprintf(line, sizeof(line), "%d %s %s\n", (int)level, msg, fields);
  pthread_mutex_lock(&seen.lock);
  append(seen.log, &seen.log_len, sizeof(seen.log), line,
         n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
  pthread_mutex_unlock(&seen.lock);
}

/* An answer completed by a thread of its own (not a worker). */
static pthread_t later_thread;

static void *answer_later(void *arg) {
  va_http_reply *reply = arg;
  va_http_write(va_http_res(reply), "{\"later\":true}", 14);
  va_http_done(reply);
  return NULL;
}

/* /fail answers 500, /later 200 from another thread, anything else 200. */
static void handle(void *ctx, const va_http_request *req,
                   va_http_reply *reply) {
  (void)ctx;
  va_http_response *res = va_http_res(reply);
  if (!strcmp(req->path, "/later")) {
    va_http_label(reply, "test.later");
    if (pthread_create(&later_thread, NULL, answer_later, reply) != 0)
      abort();
    return;
  }
  if (!strcmp(req->path, "/fail")) {
    va_http_label(reply, "test.fail");
    va_http_error(res, 500, "ERR_TEST", "it failed \"here\"");
  } else {
    va_http_label(reply, "test.ok");
    va_http_write(res, "{\"ok\":true}", 11);
  }
  va_http_done(reply);
}

static va_runtime *new_runtime(void) {
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = 2;
  cfg.log = on_log;
  va_runtime *rt;
  assert_int_equal(va_runtime_new(&cfg, &rt), 0);
  assert_int_equal(va_runtime_start(rt), 0);
  return rt;
}

/* A server of handle on a free loopback port, with this authorize check
 * (may be NULL); *port set. */
static va_http_server *serve_checked(va_runtime *rt, uint16_t *port,
                                     va_http_authorize authorize) {
  for (*port = 42000; *port < 42100; (*port)++) {
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(*port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int taken = connect(probe, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(probe);
    if (taken)
      continue;
    va_http_options o = {.host = "127.0.0.1",
                         .port = *port,
                         .handler = handle,
                         .access_log = on_access,
                         .authorize = authorize};
    va_http_server *srv;
    if (va_http_start(rt, &o, &srv) == 0)
      return srv;
  }
  fail_msg("no free port");
  return NULL;
}

static va_http_server *serve(va_runtime *rt, uint16_t *port) {
  return serve_checked(rt, port, NULL);
}

/* Whether something listens on the loopback port. */
static bool listening(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  bool yes = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  close(fd);
  return yes;
}

/* Sends request on a new connection and reads until the server closes. */
static void exchange(uint16_t port, const char *request, char *out,
                     size_t cap) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(write(fd, request, strlen(request)),
                   (ssize_t)strlen(request));
  size_t len = 0;
  struct pollfd p = {fd, POLLIN, 0};
  for (ssize_t n = 1; n > 0 && len + 1 < cap && poll(&p, 1, 5000) > 0;
       len += (size_t)n)
    n = read(fd, out + len, cap - 1 - len);
  out[len] = 0;
  close(fd);
}

static void access_and_error_logs(void **state) {
  (void)state;
  va_runtime *rt = new_runtime();
  uint16_t port;
  va_http_server *srv = serve(rt, &port);
  char answer[4096];
  exchange(port,
           "POST /ok HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
           "GET /fail HTTP/1.1\r\n\r\n"
           "GET /ok HTTP/9.9\r\n\r\n",
           answer, sizeof(answer));
  assert_non_null(strstr(answer, "HTTP/1.1 200 OK"));
  assert_non_null(strstr(answer, "HTTP/1.1 500 Internal Server Error"));
  assert_non_null(strstr(answer, "HTTP/1.1 505 HTTP Version Not Supported"));
  va_http_stop(srv); /* hands over what is buffered */
  pthread_mutex_lock(&seen.lock);
  const char *want[] = {
      (" level=info msg=\"request\" method=POST route=test.ok status=200 "
       "duration_us="),
      " bytes_in=5 bytes_out=11\n",
      " level=info msg=\"request\" method=GET route=test.fail status=500 ",
      " level=info msg=\"request\" method=GET route=unmatched status=505 ",
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    if (!strstr(seen.access, want[i]))
      fail_msg("missing: %s\nin:\n%s", want[i], seen.access);
  assert_int_equal(strncmp(seen.access, "ts=20", 5), 0);
  assert_true(seen.access_blocks >= 1);
  /* The 5xx are logged (500: error, the 505 too). */
  assert_non_null(strstr(seen.log, "3 server error method=GET "
                                   "route=test.fail status=500 "
                                   "errorCode=\"ERR_TEST\"\n"));
  assert_non_null(strstr(seen.log, "3 server error method=GET "
                                   "route=unmatched status=505 "
                                   "errorCode=\"ERR_HTTP_VERSION_NOT_"
                                   "SUPPORTED\"\n"));
  pthread_mutex_unlock(&seen.lock);
  assert_int_equal(va_runtime_stop(rt), 0);
  va_runtime_free(rt);
}

static void failed_start_logged(void **state) {
  (void)state;
  va_runtime *rt = new_runtime();
  va_http_options o = {.host = "192.0.2.1", .port = 42999, .handler = handle};
  va_http_server *srv = NULL;
  assert_int_equal(va_http_start(rt, &o, &srv), VA_ESYS);
  o.host = "localhost"; /* not numeric */
  assert_int_equal(va_http_start(rt, &o, &srv), VA_ESYS);
  pthread_mutex_lock(&seen.lock);
  assert_non_null(strstr(seen.log, "3 cannot bind addr=192.0.2.1:42999 "
                                   "error=\"Cannot assign requested "
                                   "address\"\n"));
  assert_non_null(strstr(seen.log, "3 cannot listen: not a numeric IPv4 "
                                   "address addr=localhost:42999"));
  pthread_mutex_unlock(&seen.lock);
  assert_int_equal(va_runtime_stop(rt), 0);
  va_runtime_free(rt);
}

static void start_refused_when_not_running(void **state) {
  (void)state;
  va_runtime *rt;
  assert_int_equal(va_runtime_new(NULL, &rt), 0);
  va_http_options o = {.host = "127.0.0.1", .port = 42998, .handler = handle};
  va_http_server *srv = NULL;
  assert_int_equal(va_http_start(rt, &o, &srv), VA_ESTOPPED); /* new */
  assert_int_equal(va_runtime_start(rt), 0);
  assert_int_equal(va_runtime_stop(rt), 0);
  /* Stopped: refused once its sockets are open, and they are closed again.
   * A port some other socket holds (a loopback port in the ephemeral range
   * may be in TIME_WAIT) is VA_ESYS before that point: try the next. */
  int rc = VA_ESYS;
  for (o.port = 42900; rc == VA_ESYS && o.port < 43000; o.port++)
    if ((rc = va_http_start(rt, &o, &srv)) != VA_ESYS)
      break;
  assert_int_equal(rc, VA_ESTOPPED);
  assert_null(srv);
  assert_false(listening(o.port)); /* what it opened is closed again */
  assert_int_equal(va_http_stop(NULL), 0);
  va_runtime_free(rt);
}

/* From a worker, start and stop would wait for themselves: refused. */
typedef struct on_worker {
  va_runtime *rt;
  va_http_server *srv;
  int start_rc, stop_rc;
  atomic_int done;
} on_worker;

static void start_and_stop_here(void *ctx, va_loop *loop) {
  (void)loop;
  on_worker *w = ctx;
  va_http_options o = {.host = "127.0.0.1", .port = 42997, .handler = handle};
  va_http_server *srv;
  w->start_rc = va_http_start(w->rt, &o, &srv);
  w->stop_rc = va_http_stop(w->srv);
  atomic_store(&w->done, 1);
}

static void start_and_stop_refused_on_a_worker(void **state) {
  (void)state;
  va_runtime *rt = new_runtime();
  uint16_t port;
  on_worker w = {.rt = rt, .srv = serve(rt, &port)};
  assert_int_equal(va_loop_run(rt, 1, start_and_stop_here, &w), 0);
  for (int i = 0; i < 20000 && !atomic_load(&w.done); i++)
    usleep(1000);
  assert_int_equal(w.start_rc, VA_EWOULDBLOCK);
  assert_int_equal(w.stop_rc, VA_EWOULDBLOCK);
  assert_true(listening(port)); /* still served */
  assert_int_equal(va_http_stop(w.srv), 0);
  assert_false(listening(port));
  assert_int_equal(va_runtime_stop(rt), 0);
  va_runtime_free(rt);
}

/* Serves what carries X-Key: k, and /open; refuses /bare without a body
 * of its own (the server's 401), the rest with a 403. */
static bool check_key(void *ctx, const va_http_request *head,
                      va_http_response *refusal) {
  (void)ctx;
  size_t len;
  const char *key = va_http_request_header(head, "x-key", &len);
  if ((key && len == 1 && *key == 'k') || !strcmp(head->path, "/open"))
    return true;
  if (strcmp(head->path, "/bare"))
    va_http_error(refusal, 403, "ERR_FORBIDDEN", "no key");
  return false;
}

static void refused_on_the_head(void **state) {
  (void)state;
  va_runtime *rt = new_runtime();
  uint16_t port;
  va_http_server *srv = serve_checked(rt, &port, check_key);
  char answer[4096];
  /* A body announced and never sent: the refusal comes at once. */
  exchange(port, "POST /ok HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", answer,
           sizeof(answer));
  assert_non_null(strstr(answer, "HTTP/1.1 403 Forbidden\r\n"));
  assert_non_null(strstr(answer, "Connection: close\r\n"));
  assert_non_null(strstr(answer, "\"ERR_FORBIDDEN\""));
  exchange(port, "GET /bare?x=1 HTTP/1.1\r\n\r\n", answer, sizeof(answer));
  assert_non_null(strstr(answer, "HTTP/1.1 401 Unauthorized\r\n"));
  assert_non_null(strstr(answer, "\"ERR_UNAUTHORIZED\""));
  exchange(port,
           "GET /open HTTP/1.1\r\n\r\n"
           "POST /ok?q=1 HTTP/1.1\r\nX-Key: k\r\nContent-Length: 2\r\n"
           "Connection: close\r\n\r\nhi",
           answer, sizeof(answer));
  const char *second = strstr(answer, "HTTP/1.1 200 OK\r\n");
  assert_non_null(second);
  assert_non_null(strstr(second + 1, "HTTP/1.1 200 OK\r\n"));
  assert_int_equal(va_http_stop(srv), 0);
  assert_int_equal(va_runtime_stop(rt), 0);
  va_runtime_free(rt);
}

static void answer_done_on_another_thread(void **state) {
  (void)state;
  va_runtime *rt = new_runtime();
  uint16_t port;
  va_http_server *srv = serve(rt, &port);
  char answer[4096];
  exchange(port, "GET /later HTTP/1.1\r\nConnection: close\r\n\r\n", answer,
           sizeof(answer));
  pthread_join(later_thread, NULL);
  assert_non_null(strstr(answer, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(answer, "{\"later\":true}"));
  assert_int_equal(va_http_stop(srv), 0);
  assert_int_equal(va_runtime_stop(rt), 0);
  va_runtime_free(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(header_lines_in_order),
      cmocka_unit_test(header_injection_refused),
      cmocka_unit_test(error_body_is_json),
      cmocka_unit_test(reason_phrases),
      cmocka_unit_test(metrics_text),
      cmocka_unit_test(access_and_error_logs),
      cmocka_unit_test(failed_start_logged),
      cmocka_unit_test(request_headers_by_name),
      cmocka_unit_test(dapr_token_checked_by_the_routes),
      cmocka_unit_test(start_refused_when_not_running),
      cmocka_unit_test(start_and_stop_refused_on_a_worker),
      cmocka_unit_test(refused_on_the_head),
      cmocka_unit_test(answer_done_on_another_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
