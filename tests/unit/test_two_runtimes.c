/* test_two_runtimes.c — two runtimes, and two vactord servers, in one
 * process, each on a store of its own: a type's user pointer comes back in
 * its methods and hooks (va_turn_type_user), each runtime's Task API
 * actors use that runtime's va_apps (its type ids, its limits) and see
 * only its tasks, each AppActor calls its own app, and each HTTP server
 * serves its own runtime's tasks. The runtimes are set up differently on
 * purpose (B hosts one more type first, so its type ids differ; its
 * history limit differs), so that anything process-wide would show. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "api/app_channel.h"
#include "api/routes.h"
#include "apps/apps.h"
#include "http/client.h"
#include "http/server.h"
#include "mini_server.h"
#include <jansson.h>
#include <time.h>
#include <unistd.h>

enum { WAIT_MS = 20000, PORT_TRIES = 20 };

static void sleep_ms(long ms) {
  nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

/* Waits (up to WAIT_MS) until cond holds. */
#define WAIT_UNTIL(cond)                                                       \
  do {                                                                         \
    for (int wait_i_ = 0; wait_i_ < WAIT_MS && !(cond); wait_i_++)             \
      sleep_ms(1);                                                             \
  } while (0)

/* ---- A type of the test's own: what its hooks saw of the user pointer */

typedef struct probe {
  const char *name; /* what its "whoami" method answers */
  atomic_int activated, deactivated, reminded;
  atomic_int mismatched; /* a hook or method that got another pointer */
} probe;

/* Every turn of Probe checks that its user pointer is one of the two
 * probes, and names itself with it; the runtime's probe is the only one
 * a turn on it may see, which the counts below show. */
static probe *probe_of(va_turn *t) {
  return va_turn_type_user(t);
}

static int probe_whoami(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  const probe *p = probe_of(t);
  return p ? va_turn_reply(t, p->name, strlen(p->name)) : VA_EINVAL;
}

static int probe_activate(va_turn *t) {
  atomic_fetch_add(&probe_of(t)->activated, 1);
  return 0;
}

static int probe_deactivate(va_turn *t) {
  atomic_fetch_add(&probe_of(t)->deactivated, 1);
  return 0;
}

static int probe_remind(va_turn *t, const char *name, const void *data,
                        size_t len) {
  probe *p = probe_of(t);
  if (len != strlen(p->name) || memcmp(data, p->name, len) ||
      strcmp(name, "ping"))
    atomic_fetch_add(&p->mismatched, 1);
  atomic_fetch_add(&p->reminded, 1);
  return 0;
}

/* A reminder set from outside: its status, once answered. */
static void reminder_set(void *user, int status, const void *data, size_t len) {
  (void)data, (void)len;
  atomic_store((atomic_int *)user, status == 0 ? 1 : -1);
}

static int register_probe(va_runtime *rt, probe *p) {
  static const va_method methods[] = {{"whoami", probe_whoami}};
  va_type_def def = {.name = "Probe",
                     .methods = methods,
                     .n_methods = 1,
                     .on_activate = probe_activate,
                     .on_deactivate = probe_deactivate,
                     .on_reminder = probe_remind,
                     .user = p};
  return va_register_type(rt, &def);
}

/* ---- One node: a runtime, its Task API, maybe its app channel and server */

typedef struct node {
  va_runtime *rt;
  va_routes routes; /* routes.apps is the types' user pointer */
  probe probe;
  int probe_type;
  va_http_server *srv;
  uint16_t port;
} node;

/* Creates, registers and starts n: store is "memory:" or a file; extra
 * adds the Probe type before the Task API's (its ids then shift); app_port
 * (0: none) is where its AppActor's app listens. */
static void node_start(node *n, const char *name, const char *store, bool extra,
                       uint32_t history_limit, uint16_t app_port) {
  memset(n, 0, sizeof(*n));
  n->probe.name = name;
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = 2;
  cfg.store = store;
  assert_int_equal(va_runtime_new(&cfg, &n->rt), 0);
  n->probe_type = extra ? register_probe(n->rt, &n->probe) : -1;
  if (app_port) {
    va_app_options app = {.port = app_port, .call_timeout_ms = 5000};
    assert_int_equal(va_app_channel_new(n->rt, &app, &n->routes.app), 0);
  }
  n->routes.apps.history_limit = history_limit;
  assert_true(va_routes_init(&n->routes, n->rt));
  if (!extra)
    n->probe_type = register_probe(n->rt, &n->probe);
  assert_true(n->probe_type >= 0);
  assert_int_equal(va_runtime_start(n->rt), 0);
}

static void node_stop(node *n) {
  assert_int_equal(va_http_stop(n->srv), 0);
  assert_int_equal(va_runtime_stop(n->rt), 0);
  va_app_channel_free(n->routes.app);
  va_runtime_free(n->rt);
}

/* ---- Calls ---- */

/* Calls method of (type, id) with the JSON text body; the reply parsed
 * into *out (new; may be NULL to drop it). Returns the call's status. */
static int call_json(va_runtime *rt, int type, const char *id, int method,
                     const char *body, json_t **out) {
  void *reply = NULL;
  size_t len = 0;
  int rc = va_call_wait(rt, type, id, strlen(id), method, body,
                        body ? strlen(body) : 0, &reply, &len);
  if (out)
    *out = rc == 0 ? json_loadb(reply, len, 0, NULL) : NULL;
  free(reply);
  return rc;
}

static int create_task(node *n, const char *id, const char *title) {
  char body[256];
  snprintf(body, sizeof(body), "{\"user\":\"alice\",\"title\":\"%s\"}", title);
  return call_json(n->rt, n->routes.apps.task, id, VA_TASK_CREATE, body, NULL);
}

/* The title of task id as alice sees it on n, or VA_ENOTFOUND. */
static int task_title(node *n, const char *id, char *out, size_t cap) {
  json_t *task;
  int rc = call_json(n->rt, n->routes.apps.task, id, VA_TASK_GET,
                     "{\"user\":\"alice\"}", &task);
  if (rc == 0)
    snprintf(out, cap, "%s",
             json_string_value(json_object_get(task, "title")) ?: "");
  json_decref(task);
  return rc;
}

/* How many tasks alice's list (UserActor) holds on n. */
static size_t listed(node *n) {
  json_t *list;
  assert_int_equal(
      call_json(n->rt, n->routes.apps.user, "alice", VA_USER_LIST, "{}", &list),
      0);
  size_t count = json_array_size(json_object_get(list, "tasks"));
  json_decref(list);
  return count;
}

/* How many history entries task id keeps on n (its total in *total). */
static size_t history_kept(node *n, const char *id, json_int_t *total) {
  json_t *h;
  assert_int_equal(call_json(n->rt, n->routes.apps.task, id, VA_TASK_HISTORY,
                             "{\"user\":\"alice\"}", &h),
                   0);
  *total = json_integer_value(json_object_get(h, "total"));
  size_t kept = json_array_size(json_object_get(h, "entries"));
  json_decref(h);
  return kept;
}

static void retitle(node *n, const char *id, int times) {
  for (int i = 0; i < times; i++) {
    char body[128];
    snprintf(body, sizeof(body), "{\"user\":\"alice\",\"title\":\"v%d\"}", i);
    assert_int_equal(
        call_json(n->rt, n->routes.apps.task, id, VA_TASK_UPDATE, body, NULL),
        0);
  }
}

/* ---- (a) Two runtimes ---- */

static void
test_a_type_gets_its_own_user_pointer_in_methods_and_hooks(void **state) {
  (void)state;
  node a, b;
  node_start(&a, "A", "memory:", false, 0, 0);
  node_start(&b, "B", "memory:", true, 0, 0);
  assert_int_not_equal(a.probe_type, b.probe_type);
  node *both[] = {&a, &b};
  atomic_int set[2] = {0, 0};
  for (int i = 0; i < 2; i++) {
    node *n = both[i];
    void *reply = NULL;
    size_t len = 0;
    assert_int_equal(
        va_call_wait(n->rt, n->probe_type, "p", 1, 0, NULL, 0, &reply, &len),
        0);
    assert_int_equal(len, strlen(n->probe.name));
    assert_memory_equal(reply, n->probe.name, len);
    free(reply);
    va_reminder ping = {.due_ms = va_wall_ms(),
                        .left = 1,
                        .data = n->probe.name,
                        .len = strlen(n->probe.name)};
    assert_int_equal(va_reminder_call(n->rt, n->probe_type, "p", 1, "ping",
                                      &ping, VA_REMINDER_SET, reminder_set,
                                      &set[i]),
                     0);
  }
  WAIT_UNTIL(atomic_load(&a.probe.reminded) && atomic_load(&b.probe.reminded));
  for (int i = 0; i < 2; i++) {
    node *n = both[i];
    assert_int_equal(atomic_load(&set[i]), 1);
    assert_int_equal(atomic_load(&n->probe.reminded), 1);
    assert_int_equal(atomic_load(&n->probe.activated), 1);
    assert_int_equal(atomic_load(&n->probe.mismatched), 0);
    assert_int_equal(va_runtime_stop(n->rt), 0); /* deactivates "p" */
    assert_int_equal(atomic_load(&n->probe.deactivated), 1);
  }
  node_stop(&a);
  node_stop(&b);
}

static void test_two_runtimes_keep_their_tasks_apart(void **state) {
  (void)state;
  node a, b;
  node_start(&a, "A", "memory:", false, 2, 0);
  node_start(&b, "B", "memory:", true, 3, 0);
  assert_int_not_equal(a.routes.apps.task, b.routes.apps.task);

  assert_int_equal(create_task(&a, "t1", "on A"), 0);
  char title[64];
  assert_int_equal(task_title(&a, "t1", title, sizeof(title)), 0);
  assert_string_equal(title, "on A");
  assert_int_equal(task_title(&b, "t1", title, sizeof(title)), VA_ENOTFOUND);
  assert_int_equal(listed(&a), 1);
  assert_int_equal(listed(&b), 0);

  /* The same id on B is a task of its own, not a duplicate. */
  assert_int_equal(create_task(&b, "t1", "on B"), 0);
  assert_int_equal(task_title(&b, "t1", title, sizeof(title)), 0);
  assert_string_equal(title, "on B");
  assert_int_equal(task_title(&a, "t1", title, sizeof(title)), 0);
  assert_string_equal(title, "on A");

  /* Each keeps the history its own va_apps says (create + 4 changes). */
  retitle(&a, "t1", 4);
  retitle(&b, "t1", 4);
  json_int_t total;
  assert_int_equal(history_kept(&a, "t1", &total), 2);
  assert_int_equal(total, 5);
  assert_int_equal(history_kept(&b, "t1", &total), 3);
  assert_int_equal(total, 5);
  node_stop(&a);
  node_stop(&b);
}

/* An AppActor invocation on n; the app's status in the answer (0: the
 * app did not answer). */
static int app_status(node *n) {
  size_t len;
  char *body = va_app_invoke_body("m", NULL, NULL, 0, "", 0, &len);
  assert_non_null(body);
  void *reply = NULL;
  size_t reply_len = 0;
  int rc = va_call_wait(n->rt, va_app_channel_type(n->routes.app), "Demo/1", 6,
                        VA_APP_INVOKE, body, len, &reply, &reply_len);
  free(body);
  assert_int_equal(rc, 0);
  va_app_answer answer;
  assert_true(va_app_answer_read(reply, reply_len, &answer));
  free(reply);
  return answer.status;
}

/* A port nothing listens on (free a moment ago). */
static uint16_t free_port(void) {
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof(addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &alen), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

static void test_each_runtime_has_its_own_app_channel(void **state) {
  (void)state;
  mini_server app; /* answers 404 to the callbacks: an answer all the same */
  assert_int_equal(ms_start(&app), 0);
  node a, b;
  node_start(&a, "A", "memory:", false, 0, app.port);
  node_start(&b, "B", "memory:", true, 0, free_port());
  assert_int_equal(app_status(&a), 404);
  assert_int_equal(app_status(&b), 0); /* B's app is not there */
  assert_int_equal(atomic_load(&app.requests), 1);
  node_stop(&a);
  node_stop(&b);
  ms_stop(&app);
}

/* ---- (b) Two servers ---- */

/* Starts n's HTTP server on 127.0.0.1, on a free port (tried again if
 * another process took it meanwhile). */
static void serve(node *n) {
  int rc = VA_ESYS;
  for (int i = 0; i < PORT_TRIES && rc == VA_ESYS; i++) {
    n->port = free_port();
    va_http_options http = {.host = "127.0.0.1",
                            .port = n->port,
                            .handler = va_routes_handle,
                            .ctx = &n->routes};
    rc = va_http_start(n->rt, &http, &n->srv);
  }
  assert_int_equal(rc, 0);
}

/* A blocking request through the outbound client: the status (0 when
 * there was no answer) and, in body, the start of the answer's body. */
typedef struct answer {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
  long status;
  char body[512];
} answer;

static void answered(void *user, const va_http_client_result *r) {
  answer *a = user;
  pthread_mutex_lock(&a->lock);
  a->status = r->error ? 0 : r->status;
  snprintf(a->body, sizeof(a->body), "%.*s", (int)r->body_len, r->body);
  a->done = true;
  pthread_cond_signal(&a->cond);
  pthread_mutex_unlock(&a->lock);
}

static long request(va_http_client *c, const char *method, const node *n,
                    const char *path, const char *body, char *out, size_t cap) {
  char url[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", n->port, path);
  const char *headers[] = {"Content-Type: application/json", NULL};
  va_http_client_request req = {.method = method,
                                .url = url,
                                .headers = headers,
                                .body = body,
                                .body_len = body ? strlen(body) : 0,
                                .timeout_ms = WAIT_MS};
  answer a = {.done = false};
  pthread_mutex_init(&a.lock, NULL);
  pthread_cond_init(&a.cond, NULL);
  assert_int_equal(va_http_client_send(c, &req, answered, &a), 0);
  pthread_mutex_lock(&a.lock);
  while (!a.done)
    pthread_cond_wait(&a.cond, &a.lock);
  pthread_mutex_unlock(&a.lock);
  pthread_cond_destroy(&a.cond);
  pthread_mutex_destroy(&a.lock);
  if (out)
    snprintf(out, cap, "%s", a.body);
  return a.status;
}

/* Removes a SQLite file and its -wal and -shm. */
static void remove_db(const char *path) {
  const char *suffix[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    char aux[320];
    snprintf(aux, sizeof(aux), "%s%s", path, suffix[i]);
    unlink(aux);
  }
}

static void test_two_servers_serve_their_own_runtimes(void **state) {
  (void)state;
  char dir[] = "/tmp/vactor-two-XXXXXX", path_a[64], path_b[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path_a, sizeof(path_a), "%s/a.db", dir);
  snprintf(path_b, sizeof(path_b), "%s/b.db", dir);
  node a, b;
  node_start(&a, "A", path_a, false, 0, 0);
  node_start(&b, "B", path_b, true, 0, 0);
  serve(&a);
  serve(&b);
  assert_int_not_equal(a.port, b.port);
  va_http_client *c;
  assert_int_equal(va_http_client_new(&c), 0);
  const char *task = "/v1/users/alice/tasks/t1";
  char body[512];
  assert_int_equal(
      request(c, "PUT", &a, task, "{\"title\":\"on A\"}", body, sizeof(body)),
      201);
  assert_int_equal(request(c, "GET", &a, task, NULL, body, sizeof(body)), 200);
  assert_non_null(strstr(body, "\"on A\""));
  assert_int_equal(request(c, "GET", &b, task, NULL, body, sizeof(body)), 404);
  /* Both answer, each for its own runtime. */
  assert_int_equal(
      request(c, "PUT", &b, task, "{\"title\":\"on B\"}", body, sizeof(body)),
      201);
  assert_int_equal(request(c, "GET", &b, task, NULL, body, sizeof(body)), 200);
  assert_non_null(strstr(body, "\"on B\""));
  assert_int_equal(request(c, "GET", &a, task, NULL, body, sizeof(body)), 200);
  assert_non_null(strstr(body, "\"on A\""));
  assert_int_equal(request(c, "GET", &a, "/v1.0/healthz", NULL, NULL, 0), 204);
  assert_int_equal(request(c, "GET", &b, "/v1.0/healthz", NULL, NULL, 0), 204);
  va_http_client_free(c);
  node_stop(&a);
  node_stop(&b);
  remove_db(path_a);
  remove_db(path_b);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          test_a_type_gets_its_own_user_pointer_in_methods_and_hooks),
      cmocka_unit_test(test_two_runtimes_keep_their_tasks_apart),
      cmocka_unit_test(test_each_runtime_has_its_own_app_channel),
      cmocka_unit_test(test_two_servers_serve_their_own_runtimes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
