/* test_http_client.c — the outbound HTTP client (src/http/client.c) against
 * an in-process server (mini_server.h): answers, headers both ways, status
 * codes, timeouts, refused and dropped connections, size limits, connection
 * reuse, many requests from many threads each completed exactly once, and
 * freeing with requests in flight (each completed once, VA_ESTOPPED). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "http/client.h"
#include "mini_server.h"
#include <time.h>

enum { THREADS = 4, PER_THREAD = 50, WAIT_MS = 20000 };

/* What one request's callback saw. Written on the client's thread, read by
 * the test after wait_done (the mutex orders the two). */
typedef struct outcome {
  atomic_int calls;
  int error;
  long status;
  char body[256];
  size_t body_len;
  char echo_method[16];
  int echo_method_len;
  bool nul_ok; /* body and headers NUL-terminated */
  pthread_t thread;
  char expect[256]; /* the body it should have had, if set */
} outcome;

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done_count;

static void record(outcome *o, const va_http_client_result *r) {
  o->error = r->error;
  o->status = r->status;
  o->body_len = r->body_len;
  snprintf(o->body, sizeof(o->body), "%s", r->body);
  o->echo_method_len = va_http_client_header(r, "x-echo-method", o->echo_method,
                                             sizeof(o->echo_method));
  o->nul_ok =
      r->body[r->body_len] == '\0' && r->headers[r->headers_len] == '\0';
  o->thread = pthread_self();
}

static void count_done(void) {
  pthread_mutex_lock(&done_lock);
  done_count++;
  pthread_cond_broadcast(&done_cond);
  pthread_mutex_unlock(&done_lock);
}

static void on_done(void *user, const va_http_client_result *r) {
  outcome *o = user;
  record(o, r);
  atomic_fetch_add(&o->calls, 1);
  count_done();
}

/* Waits until n callbacks in all have run (since the test began). */
static bool wait_done(int n) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&done_lock);
  int rc = 0;
  while (done_count < n && rc == 0)
    rc = pthread_cond_timedwait(&done_cond, &done_lock, &until);
  bool ok = done_count >= n;
  pthread_mutex_unlock(&done_lock);
  return ok;
}

static int done_so_far(void) {
  pthread_mutex_lock(&done_lock);
  int n = done_count;
  pthread_mutex_unlock(&done_lock);
  return n;
}

static void sleep_ms(long ms) {
  nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

typedef struct fixture {
  mini_server srv;
  va_http_client *c;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f || ms_start(&f->srv) || va_http_client_new(&f->c))
    return -1;
  done_count = 0;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  va_http_client_free(f->c); /* may already be NULL */
  ms_stop(&f->srv);
  free(f);
  return 0;
}

static void url(char *out, size_t cap, const fixture *f, const char *path) {
  snprintf(out, cap, "http://127.0.0.1:%u%s", f->srv.port, path);
}

/* Sends method path [body] and returns send's code. */
static int send_req(fixture *f, const char *method, const char *path,
                    const char *body, long timeout_ms, outcome *o) {
  char u[128];
  url(u, sizeof(u), f, path);
  va_http_client_request req = {.method = method,
                                .url = u,
                                .body = body,
                                .body_len = body ? strlen(body) : 0,
                                .timeout_ms = timeout_ms};
  return va_http_client_send(f->c, &req, on_done, o);
}

/* One request, waited for. */
static void roundtrip(fixture *f, const char *method, const char *path,
                      const char *body, long timeout_ms, outcome *o) {
  int before = done_so_far();
  assert_int_equal(send_req(f, method, path, body, timeout_ms, o), 0);
  assert_true(wait_done(before + 1));
  assert_int_equal(atomic_load(&o->calls), 1);
}

static void test_methods_echo(void **state) {
  fixture *f = *state;
  const char *methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
  const char *bodies[] = {NULL, "hello", "{\"a\":1}", NULL, ""};
  for (int i = 0; i < 5; i++) {
    outcome o = {0};
    char want[128];
    roundtrip(f, methods[i], "/echo/x", bodies[i], 0, &o);
    assert_int_equal(o.error, 0);
    assert_int_equal(o.status, 200);
    snprintf(want, sizeof(want), "%s /echo/x %s", methods[i],
             bodies[i] ? bodies[i] : "");
    assert_string_equal(o.body, want);
    assert_int_equal(o.body_len, strlen(want));
    assert_int_equal(o.echo_method_len, (int)strlen(methods[i]));
    assert_string_equal(o.echo_method, methods[i]);
    assert_true(o.nul_ok);
    assert_false(pthread_equal(o.thread, pthread_self()));
  }
}

static void test_status_passes_through(void **state) {
  fixture *f = *state;
  outcome o = {0};
  roundtrip(f, "GET", "/status/404", NULL, 0, &o);
  assert_int_equal(o.error, 0);
  assert_int_equal(o.status, 404);
  assert_int_equal(o.body_len, 0);
  assert_string_equal(o.body, "");
}

/* The server echoes the request's header block as the body. */
static void headers_seen(fixture *f, const char *const *headers,
                         const char *body, char *out, size_t cap) {
  char u[128];
  url(u, sizeof(u), f, "/headers");
  outcome o = {0};
  va_http_client_request req = {.method = "POST",
                                .url = u,
                                .headers = headers,
                                .body = body,
                                .body_len = strlen(body)};
  int before = done_so_far();
  assert_int_equal(va_http_client_send(f->c, &req, on_done, &o), 0);
  assert_true(wait_done(before + 1));
  assert_int_equal(o.error, 0);
  assert_int_equal(o.status, 200);
  snprintf(out, cap, "%s", o.body);
}

static void test_request_headers_arrive(void **state) {
  fixture *f = *state;
  char seen[256];
  const char *const hs[] = {"X-Custom: hello there",
                            "Content-Type: application/json", NULL};
  headers_seen(f, hs, "{}", seen, sizeof(seen));
  assert_non_null(strstr(seen, "\r\nX-Custom: hello there\r\n"));
  assert_non_null(strstr(seen, "\r\nContent-Type: application/json\r\n"));
  assert_null(strcasestr(seen, "Expect:"));
  /* Without a Content-Type, none is made up. */
  headers_seen(f, NULL, "plain", seen, sizeof(seen));
  assert_null(strcasestr(seen, "Content-Type"));
  assert_non_null(strstr(seen, "\r\nContent-Length: 5\r\n"));
}

static void test_header_lookup(void **state) {
  (void)state;
  const char *block = "Content-Type: text/plain\r\nX-A:  v1 \t\r\n"
                      "x-a: v2\r\nX-Empty:\r\nX-Long: abcdef\r\n";
  va_http_client_result r = {
      .headers = block, .headers_len = strlen(block), .body = ""};
  char v[8];
  assert_int_equal(va_http_client_header(&r, "x-A", v, sizeof(v)), 2);
  assert_string_equal(v, "v1"); /* the first one, trimmed */
  assert_int_equal(va_http_client_header(&r, "CONTENT-TYPE", v, sizeof(v)), 10);
  assert_string_equal(v, "text/pl"); /* cut to cap - 1 */
  assert_int_equal(va_http_client_header(&r, "X-Empty", v, sizeof(v)), 0);
  assert_string_equal(v, "");
  assert_int_equal(va_http_client_header(&r, "X", v, sizeof(v)), -1);
  assert_int_equal(va_http_client_header(&r, "Missing", v, sizeof(v)), -1);
  assert_int_equal(va_http_client_header(&r, "X-Long", NULL, 0), 6);
  /* A line without a line end at the very end of the block. */
  r.headers = "A: 1\r\nB: 2";
  r.headers_len = strlen(r.headers);
  assert_int_equal(va_http_client_header(&r, "b", v, sizeof(v)), 1);
  assert_string_equal(v, "2");
}

/* A real response's headers: the status line is not in the block. */
static void on_done_headers(void *user, const va_http_client_result *r) {
  outcome *o = user;
  record(o, r);
  char v[32];
  int n = va_http_client_header(r, "Content-Length", v, sizeof(v));
  snprintf(o->expect, sizeof(o->expect), "%d %s %d", n, n >= 0 ? v : "",
           strncmp(r->headers, "HTTP/", 5) == 0);
  atomic_fetch_add(&o->calls, 1);
  count_done();
}

static void test_response_header_block(void **state) {
  fixture *f = *state;
  char u[128];
  url(u, sizeof(u), f, "/echo/h");
  outcome o = {0};
  va_http_client_request req = {.method = "GET", .url = u};
  assert_int_equal(va_http_client_send(f->c, &req, on_done_headers, &o), 0);
  assert_true(wait_done(1));
  assert_int_equal(o.error, 0);
  assert_string_equal(o.expect, "2 12 0"); /* "GET /echo/h " is 12 bytes */
}

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void test_timeout(void **state) {
  fixture *f = *state;
  outcome o = {0};
  uint64_t t0 = now_ms();
  roundtrip(f, "GET", "/delay/2000", NULL, 200, &o);
  uint64_t took = now_ms() - t0;
  assert_int_equal(o.error, VA_ETIMEDOUT);
  assert_int_equal(o.status, 0);
  assert_string_equal(o.body, "");
  assert_true(took >= 150 && took < 1500);
}

static void test_closed_without_answer(void **state) {
  fixture *f = *state;
  outcome o = {0};
  roundtrip(f, "GET", "/close", NULL, 0, &o);
  assert_int_equal(o.error, VA_ESYS);
  assert_int_equal(o.status, 0);
}

/* A port that is bound but not listening refuses connections. */
static void test_connection_refused(void **state) {
  fixture *f = *state;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof(a);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
  char u[128];
  snprintf(u, sizeof(u), "http://127.0.0.1:%u/x", ntohs(a.sin_port));
  outcome o = {0};
  va_http_client_request req = {.method = "GET", .url = u};
  assert_int_equal(va_http_client_send(f->c, &req, on_done, &o), 0);
  assert_true(wait_done(1));
  close(fd);
  assert_int_equal(o.error, VA_ESYS);
  assert_int_equal(atomic_load(&o.calls), 1);
}

static void test_body_limit(void **state) {
  fixture *f = *state;
  char path[64];
  outcome ok = {0}, big = {0}, bigclose = {0};
  snprintf(path, sizeof(path), "/big/%u", 1u << 20);
  roundtrip(f, "GET", path, NULL, 0, &ok);
  assert_int_equal(ok.error, 0);
  assert_int_equal(ok.body_len, 1u << 20);
  snprintf(path, sizeof(path), "/big/%u", VA_HTTP_CLIENT_MAX_BODY + 1);
  roundtrip(f, "GET", path, NULL, 0, &big); /* refused from the length */
  assert_int_equal(big.error, VA_ETOOBIG);
  snprintf(path, sizeof(path), "/bigclose/%u", VA_HTTP_CLIENT_MAX_BODY + 1);
  roundtrip(f, "GET", path, NULL, 0, &bigclose); /* refused while reading */
  assert_int_equal(bigclose.error, VA_ETOOBIG);
}

static void test_connection_reused(void **state) {
  fixture *f = *state;
  for (int i = 0; i < 20; i++) {
    outcome o = {0};
    roundtrip(f, i % 2 ? "POST" : "GET", "/echo/again", "b", 0, &o);
    assert_int_equal(o.status, 200);
  }
  assert_int_equal(atomic_load(&f->srv.accepted), 1);
  assert_int_equal(atomic_load(&f->srv.requests), 20);
}

typedef struct sender {
  fixture *f;
  int index;
  outcome *outs; /* PER_THREAD of them */
  int failures;  /* sends that did not return 0 */
} sender;

static void *sender_main(void *arg) {
  sender *s = arg;
  for (int i = 0; i < PER_THREAD; i++) {
    char path[64], body[32];
    snprintf(path, sizeof(path), "/echo/%d/%d", s->index, i);
    snprintf(body, sizeof(body), "b%d", i);
    snprintf(s->outs[i].expect, sizeof(s->outs[i].expect), "POST %s %s", path,
             body);
    if (send_req(s->f, "POST", path, body, 10000, &s->outs[i]))
      s->failures++;
  }
  return NULL;
}

static void test_many_threads_each_once(void **state) {
  fixture *f = *state;
  static outcome outs[THREADS][PER_THREAD];
  memset(outs, 0, sizeof(outs));
  pthread_t th[THREADS];
  sender s[THREADS];
  for (int t = 0; t < THREADS; t++) {
    s[t] = (sender){.f = f, .index = t, .outs = outs[t]};
    assert_int_equal(pthread_create(&th[t], NULL, sender_main, &s[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) {
    pthread_join(th[t], NULL);
    assert_int_equal(s[t].failures, 0);
  }
  assert_true(wait_done(THREADS * PER_THREAD));
  sleep_ms(100); /* a second callback would show up here */
  assert_int_equal(done_so_far(), THREADS * PER_THREAD);
  for (int t = 0; t < THREADS; t++)
    for (int i = 0; i < PER_THREAD; i++) {
      outcome *o = &outs[t][i];
      assert_int_equal(atomic_load(&o->calls), 1);
      assert_int_equal(o->error, 0);
      assert_int_equal(o->status, 200);
      assert_string_equal(o->body, o->expect);
      assert_true(pthread_equal(o->thread, outs[0][0].thread));
    }
}

static void test_free_with_requests_in_flight(void **state) {
  fixture *f = *state;
  enum { HANGING = 8, QUEUED = 4 };
  outcome o[HANGING + QUEUED];
  memset(o, 0, sizeof(o));
  for (int i = 0; i < HANGING; i++)
    assert_int_equal(send_req(f, "GET", "/hang", NULL, 60000, &o[i]), 0);
  for (int i = 0; i < 500 && atomic_load(&f->srv.requests) < HANGING; i++)
    sleep_ms(10);
  assert_int_equal(atomic_load(&f->srv.requests), HANGING);
  for (int i = HANGING; i < HANGING + QUEUED; i++)
    assert_int_equal(send_req(f, "GET", "/hang", NULL, 60000, &o[i]), 0);
  va_http_client_free(f->c);
  f->c = NULL;
  /* Every callback ran before free returned. */
  assert_int_equal(done_so_far(), HANGING + QUEUED);
  for (int i = 0; i < HANGING + QUEUED; i++) {
    assert_int_equal(atomic_load(&o[i].calls), 1);
    assert_int_equal(o[i].error, VA_ESTOPPED);
    assert_string_equal(o[i].body, "");
  }
}

/* A chain of requests, each sent by the previous one's callback (on the
 * client's own thread). Touched by the test only before the first send and
 * after wait_done. */
typedef struct chain {
  va_http_client *c;
  char url[128];
  int sent, answered, errors;
} chain;

static void on_chain(void *user, const va_http_client_result *r) {
  chain *ch = user;
  ch->answered++;
  if (r->error || r->status != 200)
    ch->errors++;
  if (ch->sent < 5) {
    va_http_client_request req = {.method = "GET", .url = ch->url};
    if (va_http_client_send(ch->c, &req, on_chain, ch) == 0)
      ch->sent++;
    else
      ch->errors++;
  }
  count_done();
}

static void test_callback_may_send(void **state) {
  fixture *f = *state;
  chain ch = {.c = f->c, .sent = 1};
  url(ch.url, sizeof(ch.url), f, "/echo/chain");
  va_http_client_request req = {.method = "GET", .url = ch.url};
  assert_int_equal(va_http_client_send(f->c, &req, on_chain, &ch), 0);
  assert_true(wait_done(5));
  assert_int_equal(ch.sent, 5);
  assert_int_equal(ch.answered, 5);
  assert_int_equal(ch.errors, 0);
  assert_int_equal(atomic_load(&f->srv.accepted), 1);
}

/* Frees the client whose callback this is. */
static void on_done_free(void *user, const va_http_client_result *r) {
  (void)r;
  va_http_client_free(user); /* returns at once; the thread frees later */
  count_done();
}

static void test_callback_may_free(void **state) {
  fixture *f = *state;
  outcome hang = {0};
  assert_int_equal(send_req(f, "GET", "/hang", NULL, 60000, &hang), 0);
  for (int i = 0; i < 500 && atomic_load(&f->srv.requests) < 1; i++)
    sleep_ms(10);
  char u[128];
  url(u, sizeof(u), f, "/echo/free");
  va_http_client_request req = {.method = "GET", .url = u};
  va_http_client *c = f->c;
  f->c = NULL; /* the callback frees it */
  assert_int_equal(va_http_client_send(c, &req, on_done_free, c), 0);
  assert_true(wait_done(2));
  assert_int_equal(atomic_load(&hang.calls), 1);
  assert_int_equal(hang.error, VA_ESTOPPED);
  sleep_ms(200); /* the detached thread finishes; LSan checks it freed */
}

static void test_send_refusals(void **state) {
  fixture *f = *state;
  char u[128];
  url(u, sizeof(u), f, "/echo");
  outcome o = {0};
  const char *const bad_crlf[] = {"X-A: 1\r\nX-B: 2", NULL};
  const char *const bad_colon[] = {"NoColon", NULL};
  va_http_client_request ok = {.method = "GET", .url = u};
  va_http_client_request r;
  assert_int_equal(va_http_client_send(NULL, &ok, on_done, &o), VA_EINVAL);
  assert_int_equal(va_http_client_send(f->c, NULL, on_done, &o), VA_EINVAL);
  assert_int_equal(va_http_client_send(f->c, &ok, NULL, &o), VA_EINVAL);
  r = ok, r.method = "GE T";
  assert_int_equal(va_http_client_send(f->c, &r, on_done, &o), VA_EINVAL);
  r = ok, r.method = "";
  assert_int_equal(va_http_client_send(f->c, &r, on_done, &o), VA_EINVAL);
  r = ok, r.url = "ftp://127.0.0.1/x";
  assert_int_equal(va_http_client_send(f->c, &r, on_done, &o), VA_EINVAL);
  r = ok, r.headers = bad_crlf;
  assert_int_equal(va_http_client_send(f->c, &r, on_done, &o), VA_EINVAL);
  r = ok, r.headers = bad_colon;
  assert_int_equal(va_http_client_send(f->c, &r, on_done, &o), VA_EINVAL);
  r = ok, r.timeout_ms = -1;
  assert_int_equal(va_http_client_send(f->c, &r, on_done, &o), VA_EINVAL);
  r = ok, r.body_len = 3;
  assert_int_equal(va_http_client_send(f->c, &r, on_done, &o), VA_EINVAL);
  sleep_ms(50);
  assert_int_equal(atomic_load(&o.calls), 0);
  /* A URL curl cannot parse is an answer, not a refusal. */
  r = ok, r.url = "http://127.0.0.1:99999999/x";
  assert_int_equal(va_http_client_send(f->c, &r, on_done, &o), 0);
  assert_true(wait_done(1));
  assert_int_equal(o.error, VA_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_methods_echo, setup, teardown),
      cmocka_unit_test_setup_teardown(test_status_passes_through, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_request_headers_arrive, setup,
                                      teardown),
      cmocka_unit_test(test_header_lookup),
      cmocka_unit_test_setup_teardown(test_response_header_block, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_closed_without_answer, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_body_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connection_reused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_threads_each_once, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_free_with_requests_in_flight, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_callback_may_send, setup, teardown),
      cmocka_unit_test_setup_teardown(test_callback_may_free, setup, teardown),
      cmocka_unit_test_setup_teardown(test_send_refusals, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
