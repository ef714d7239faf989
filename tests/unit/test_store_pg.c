/* test_store_pg.c — the PostgreSQL store (src/store/postgres.c) against a
 * throw-away server (tests/support/with_postgres.sh sets
 * VACTOR_TEST_PG_URL and VACTOR_TEST_PG_CTL; the test fails without
 * them). Each test works in a database of its own.
 *
 * Without a node, the same contract as SQLite's: state survives the
 * runtime, a reply leaves only once its turn is committed (read back with
 * libpq), many turns share a commit, TTLs expire, the due index follows
 * the writes' reminder fields only, failures reach the log callback.
 * With nodes (member rows written here with libpq): a load claims and
 * bumps the epoch; another node is refused until the owner is marked dead
 * (a lease that ran out is not enough), then claims; the old owner's save is
 * then fenced and commits nothing while another actor's save in the same group
 * commits; release lets the other node claim at once; due reminders are the
 * node's own and the orphans, never another live node's. And: three
 * stores create the schema at once on an empty database; a database
 * restart in the middle of a stream of saves loses nothing acknowledged
 * and counts nothing twice; rows the store did not write are refused.
 * Listings page through binary ids in byte order, within a prefix, and
 * name an actor's owner as long as a claim would count it live; peeks
 * read what a load would and claim nothing; their look-out thread keeps
 * at most 64 waiting, times statements out, outlives a database restart
 * and answers what waits when destroyed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "helpers.h"
#include "store/postgres_sql.h"
#include "store/store.h"
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

/* ---- The server ---- */

static const char *server_url(void) {
  const char *url = getenv("VACTOR_TEST_PG_URL");
  if (!url || !*url)
    fail_msg("VACTOR_TEST_PG_URL is not set: run through "
             "tests/support/with_postgres.sh");
  return url;
}

/* The URL of database db on the test's server (its query kept). */
static void url_of(const char *db, char *out, size_t size) {
  const char *url = server_url();
  const char *host = strstr(url, "://");
  assert_non_null(host);
  const char *slash = strchr(host + 3, '/');
  assert_non_null(slash);
  const char *query = strchr(slash, '?');
  snprintf(out, size, "%.*s/%s%s", (int)(slash - url), url, db,
           query ? query : "");
}

static void quiet(void *arg, const char *message) {
  (void)arg, (void)message; /* "database ... does not exist, skipping" */
}

static PGconn *connect_to(const char *url) {
  PGconn *c = PQconnectdb(url);
  if (PQstatus(c) != CONNECTION_OK)
    fail_msg("cannot connect to %s: %s", url, PQerrorMessage(c));
  PQsetNoticeProcessor(c, quiet, NULL);
  return c;
}

/* Runs sql (text parameters; NULL ends them) on url; the result is the
 * caller's. Fails the test on an error. */
static PGresult *sql_v(const char *url, int binary, const char *sql,
                       va_list ap) {
  const char *params[8];
  int n = 0;
  const char *p;
  while (n < 8 && (p = va_arg(ap, const char *)))
    params[n++] = p;
  PGconn *c = connect_to(url);
  PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, binary);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    fail_msg("%s: %s", sql, PQresultErrorMessage(r));
  PQfinish(c);
  return r;
}

static void sql_run(const char *url, const char *sql, ...) {
  va_list ap;
  va_start(ap, sql);
  PQclear(sql_v(url, 0, sql, ap));
  va_end(ap);
}

/* The first column of the first row as a number; -1 when there is none
 * (or NULL). */
static int64_t sql_i64(const char *url, const char *sql, ...) {
  va_list ap;
  va_start(ap, sql);
  PGresult *r = sql_v(url, 0, sql, ap);
  va_end(ap);
  int64_t v = -1;
  if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
    v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  return v;
}

/* A new, empty database for one test: its URL in out. */
static void fresh_db(const char *name, char *out, size_t size) {
  char sql[160];
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", name);
  sql_run(server_url(), sql, NULL);
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
  sql_run(server_url(), sql, NULL);
  url_of(name, out, size);
}

/* The int64 value of (type, id, key) in vactor_state; -1 when absent. */
static int64_t stored_i64(const char *url, const char *type, const char *id,
                          const char *key) {
  PGconn *c = connect_to(url);
  const char *params[] = {type, id, key};
  PGresult *r = PQexecParams(c,
                             "SELECT value FROM vactor_state WHERE type = $1"
                             " AND id = convert_to($2, 'UTF8')"
                             " AND key = convert_to($3, 'UTF8')",
                             3, NULL, params, NULL, NULL, 1);
  assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
  int64_t v = -1;
  if (PQntuples(r) == 1 && PQgetlength(r, 0, 0) == sizeof(v))
    memcpy(&v, PQgetvalue(r, 0, 0), sizeof(v));
  PQclear(r);
  PQfinish(c);
  return v;
}

/* A member row for node (incarnation 1), its lease seconds from now
 * (negative: over). */
static void set_member(const char *url, const char *node, int lease_s) {
  char lease[32];
  snprintf(lease, sizeof(lease), "%d", lease_s);
  sql_run(url,
          "INSERT INTO vactor_member(id, incarnation, address, status,"
          " lease_until) VALUES ($1, 1, '127.0.0.1:0', 'alive',"
          " now() + $2::int * interval '1 second')"
          " ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until",
          node, lease, NULL);
}

/* The membership's verdict on node (membership.c): dead. */
static void mark_dead(const char *url, const char *node) {
  sql_run(url, "UPDATE vactor_member SET status = 'dead' WHERE id = $1", node,
          NULL);
}

/* ---- Calling the store's ops and waiting ---- */

/* The answer to one store call, filled in by its callback (store thread). */
typedef struct answer {
  atomic_bool done;
  int status;
  uint64_t version, epoch;
  size_t n;
  char names[8][80]; /* due reminders: "type/id/name@due[!]"; loads: keys */
} answer;

static void on_save(void *ctx, int status) {
  answer *a = ctx;
  a->status = status;
  atomic_store(&a->done, true);
}

static void on_due_rows(void *ctx, int status, const va_due_reminder *rows,
                        size_t n) {
  answer *a = ctx;
  a->status = status;
  a->n = n;
  for (size_t i = 0; i < n && i < 8; i++)
    snprintf(a->names[i], sizeof(a->names[i]), "%s/%.*s/%s@%lld%s",
             rows[i].type, (int)rows[i].id_len, rows[i].id, rows[i].name,
             (long long)rows[i].due_ms, rows[i].orphan ? "!" : "");
  atomic_store(&a->done, true);
}

static void on_load_items(void *ctx, int status, const va_store_item *items,
                          size_t n, uint64_t version, uint64_t epoch) {
  answer *a = ctx;
  a->status = status;
  a->n = n;
  a->version = version;
  a->epoch = epoch;
  for (size_t i = 0; i < n && i < 8; i++)
    snprintf(a->names[i], sizeof(a->names[i]), "%s:%u",
             items[i].key[0] == 1 ? items[i].key + 1 : items[i].key,
             (unsigned)items[i].len);
  atomic_store(&a->done, true);
}

/* Waits (up to 60 s: the store retries for 30) for a's callback. */
static void wait_answer(answer *a) {
  for (int i = 0; i < 60000 && !atomic_load(&a->done); i++)
    sleep_ms(1);
  assert_true(atomic_load(&a->done));
}

static void load_sync(va_store *s, const char *type, const char *id,
                      answer *a) {
  *a = (answer){0};
  assert_int_equal(s->ops->load(s, type, id, strlen(id), on_load_items, a), 0);
  wait_answer(a);
}

static int save_as(va_store *s, const char *type, const char *id,
                   uint64_t version, uint64_t epoch, const va_store_write *w,
                   size_t n) {
  answer a = {0};
  assert_int_equal(
      s->ops->save(s, type, id, strlen(id), version, epoch, w, n, on_save, &a),
      0);
  wait_answer(&a);
  return a.status;
}

static int save_sync(va_store *s, uint64_t version, const va_store_write *w,
                     size_t n) {
  return save_as(s, "R", "a1", version, 0, w, n);
}

static void due_sync(va_store *s, int64_t from, int64_t before, answer *a) {
  *a = (answer){0};
  assert_int_equal(s->ops->reminders_due(s, from, before, on_due_rows, a), 0);
  wait_answer(a);
  assert_int_equal(a->status, 0);
}

/* Whether the answer holds the string want. */
static bool has(const answer *a, const char *want) {
  for (size_t i = 0; i < a->n && i < 8; i++)
    if (!strcmp(a->names[i], want))
      return true;
  return false;
}

static va_store *open_store(const char *url, const char *node) {
  va_store_postgres_options opts = {.node = node, .incarnation = 1};
  va_store *s = NULL;
  assert_int_equal(va_store_postgres_open(url, &opts, &s), 0);
  return s;
}

/* ---- The contract of one node ---- */

/* As test_store.c's index_follows_the_due_field: the due index holds what
 * the writes' reminder fields say, never what a key or value looks like. */
static void due_index_follows_the_reminder_fields(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_due_field", url, sizeof(url));
  va_store *s = open_store(url, NULL);
  char value[48] = {0}, lookalike[8];
  int64_t wrong = 999, looks_due = 6000;
  memcpy(value, &wrong, 8);
  memcpy(lookalike, &looks_due, 8);
  const va_store_write first[] = {
      {.key = "\x01r:wake",
       .val = value,
       .len = 48,
       .reminder = "wake",
       .due_ms = 5000},
      {.key = "\x01r:x", .val = lookalike, .len = 8},
      {.key = "plain",
       .val = "v",
       .len = 1,
       .reminder = "other",
       .due_ms = 7000},
  };
  assert_int_equal(save_sync(s, 0, first, 3), 0);
  answer a;
  due_sync(s, INT64_MIN, INT64_MAX, &a);
  assert_int_equal(a.n, 2);
  assert_true(has(&a, "R/a1/wake@5000"));
  assert_true(has(&a, "R/a1/other@7000"));
  due_sync(s, 5001, 7000, &a); /* [from, before) */
  assert_int_equal(a.n, 0);
  due_sync(s, 0, 1000, &a);
  assert_int_equal(a.n, 0);
  due_sync(s, 5500, 6500, &a);
  assert_int_equal(a.n, 0);

  load_sync(s, "R", "a1", &a);
  assert_int_equal(a.status, 0);
  assert_int_equal(a.version, 1);
  assert_int_equal(a.epoch, 0);
  assert_int_equal(a.n, 3);
  assert_true(has(&a, "r:wake:48"));
  assert_true(has(&a, "r:x:8"));
  assert_true(has(&a, "plain:1"));

  /* A stale version is refused, and its reminder is not indexed. */
  const va_store_write stale[] = {{.key = "\x01r:late",
                                   .val = value,
                                   .len = 48,
                                   .reminder = "late",
                                   .due_ms = 100}};
  assert_int_equal(save_sync(s, 0, stale, 1), VA_ESTORE);
  const va_store_write second[] = {
      {.key = "\x01r:wake", .deleted = true, .reminder = "wake"},
      {.key = "\x01r:x", .deleted = true},
  };
  assert_int_equal(save_sync(s, 1, second, 2), 0);
  due_sync(s, INT64_MIN, INT64_MAX, &a);
  assert_int_equal(a.n, 1);
  assert_true(has(&a, "R/a1/other@7000"));
  s->ops->destroy(s);

  /* And from the database, with a new store. */
  s = open_store(url, NULL);
  due_sync(s, INT64_MIN, INT64_MAX, &a);
  assert_int_equal(a.n, 1);
  assert_true(has(&a, "R/a1/other@7000"));
  load_sync(s, "R", "a1", &a);
  assert_int_equal(a.version, 2);
  assert_int_equal(a.n, 1); /* plain: r:late never went in */
  assert_true(has(&a, "plain:1"));
  s->ops->destroy(s);
}

/* Saves of one actor queued together merge, keep their order, and an
 * empty value and an empty id are stored as such. */
static void saves_in_a_row_keep_their_order(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_order", url, sizeof(url));
  va_store *s = open_store(url, NULL);
  enum { SAVES = 200 };
  static answer answers[SAVES];
  for (int i = 0; i < SAVES; i++) {
    int64_t v = i + 1;
    const va_store_write w[] = {{.key = "n", .val = &v, .len = sizeof(v)},
                                {.key = "empty", .val = NULL, .len = 0}};
    answers[i] = (answer){0};
    assert_int_equal(
        s->ops->save(s, "O", "", 0, (uint64_t)i, 0, w, 2, on_save, &answers[i]),
        0);
  }
  for (int i = 0; i < SAVES; i++) {
    wait_answer(&answers[i]);
    assert_int_equal(answers[i].status, 0);
  }
  answer a;
  load_sync(s, "O", "", &a);
  assert_int_equal(a.version, SAVES);
  assert_int_equal(a.n, 2);
  assert_true(has(&a, "empty:0"));
  uint64_t commits, saves;
  s->ops->stats(s, &commits, &saves);
  printf("# %llu saves in %llu commits\n", (unsigned long long)saves,
         (unsigned long long)commits);
  assert_int_equal(saves, SAVES);
  assert_true(commits < SAVES);
  s->ops->destroy(s);
}

/* What the store's log callback was told. */
typedef struct told {
  pthread_mutex_t lock;
  int calls;
  char msg[64], error[256];
} told;

static void record_log(void *user, va_log_level level, const char *msg,
                       const va_store_log_field *fields, size_t n) {
  (void)level;
  told *t = user;
  pthread_mutex_lock(&t->lock);
  t->calls++;
  snprintf(t->msg, sizeof(t->msg), "%s", msg);
  for (size_t i = 0; i < n; i++)
    if (!strcmp(fields[i].key, "error") && fields[i].text)
      snprintf(t->error, sizeof(t->error), "%s", fields[i].text);
  pthread_mutex_unlock(&t->lock);
}

static void failures_reach_the_log_callback(void **state) {
  (void)state;
  told t = {.lock = PTHREAD_MUTEX_INITIALIZER};
  va_store_postgres_options opts = {.log = record_log, .log_user = &t};
  va_store *s = NULL;
  char url[512];
  url_of("no_such_database", url, sizeof(url));
  assert_int_equal(va_store_postgres_open(url, &opts, &s), VA_ESTORE);
  assert_null(s);
  assert_int_equal(t.calls, 1);
  assert_string_equal(t.msg, "cannot connect to the database");
  assert_non_null(strstr(t.error, "no_such_database"));
  /* Bad arguments are refused before anything is sent. */
  assert_int_equal(va_store_postgres_open(NULL, &opts, &s), VA_EINVAL);
  va_store_postgres_options bad_node = {.node = ""};
  assert_int_equal(va_store_postgres_open(server_url(), &bad_node, &s),
                   VA_EINVAL);
}

/* ---- Through the runtime (one node) ---- */

static int T_ACC, M_ADD, M_GET, M_TTL, M_TTL_GET;

static int acc_add(va_turn *t, const void *arg, size_t len) {
  int64_t total = state_i64(t, "total") + arg_i64(arg, len);
  int64_t count = state_i64(t, "count") + 1;
  int rc = va_turn_state_set(t, "total", &total, sizeof(total));
  if (rc == 0)
    rc = va_turn_state_set(t, "count", &count, sizeof(count));
  return rc ? rc : reply_i64(t, total);
}

static int acc_get(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  return reply_i64(t, state_i64(t, "total"));
}

static int acc_ttl(va_turn *t, const void *arg, size_t len) {
  int64_t one = 1;
  return va_turn_state_set_ttl(t, "temp", &one, sizeof(one),
                               (uint32_t)arg_i64(arg, len));
}

static int ttl_get(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  const void *v;
  size_t n;
  return reply_i64(t, va_turn_state_get(t, "temp", &v, &n) == 0);
}

static va_runtime *open_runtime(const char *url) {
  va_config cfg;
  va_config_init(&cfg);
  cfg.store = url;
  va_runtime *rt;
  assert_int_equal(va_runtime_new(&cfg, &rt), 0);
  static const va_method methods[] = {{"add", acc_add},
                                      {"get", acc_get},
                                      {"ttl", acc_ttl},
                                      {"ttl_get", ttl_get}};
  va_type_def def = {.name = "Acc", .methods = methods, .n_methods = 4};
  T_ACC = va_register_type(rt, &def);
  M_ADD = va_method_lookup(rt, T_ACC, "add");
  M_GET = va_method_lookup(rt, T_ACC, "get");
  M_TTL = va_method_lookup(rt, T_ACC, "ttl");
  M_TTL_GET = va_method_lookup(rt, T_ACC, "ttl_get");
  assert_int_equal(va_runtime_start(rt), 0);
  return rt;
}

static void state_survives_the_runtime(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_survive", url, sizeof(url));
  va_runtime *rt = open_runtime(url);
  int64_t v = 0;
  for (int i = 1; i <= 10; i++)
    assert_int_equal(call_i64(rt, T_ACC, "alice", M_ADD, i, &v), 0);
  assert_int_equal(v, 55);
  assert_int_equal(call_i64(rt, T_ACC, "bob", M_ADD, 7, &v), 0);
  va_runtime_free(rt);

  rt = open_runtime(url);
  assert_int_equal(call_i64(rt, T_ACC, "alice", M_GET, 0, &v), 0);
  assert_int_equal(v, 55);
  assert_int_equal(call_i64(rt, T_ACC, "bob", M_ADD, 1, &v), 0);
  assert_int_equal(v, 8);
  assert_int_equal(call_i64(rt, T_ACC, "carol", M_GET, 0, &v), 0);
  assert_int_equal(v, 0);
  va_runtime_free(rt);
}

static void reply_leaves_after_the_commit(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_gate", url, sizeof(url));
  va_runtime *rt = open_runtime(url);
  int64_t v = 0;
  for (int i = 1; i <= 30; i++) {
    assert_int_equal(call_i64(rt, T_ACC, "dave", M_ADD, 1, &v), 0);
    /* The reply is here: another connection sees both keys of the turn. */
    assert_int_equal(stored_i64(url, "Acc", "dave", "total"), i);
    assert_int_equal(stored_i64(url, "Acc", "dave", "count"), i);
  }
  va_runtime_free(rt);
}

static atomic_long acked;
static void count_acked(void *user, int status, const void *data, size_t len) {
  (void)user, (void)data, (void)len;
  if (status == 0)
    atomic_fetch_add(&acked, 1);
}

static void many_turns_share_a_commit(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_group", url, sizeof(url));
  va_runtime *rt = open_runtime(url);
  enum { ACTORS = 200, CALLS = 10000 };
  atomic_store(&acked, 0);
  char id[32];
  int64_t one = 1;
  for (int i = 0; i < CALLS; i++) {
    snprintf(id, sizeof(id), "g%d", i % ACTORS);
    int rc;
    while ((rc = va_call(rt, T_ACC, id, strlen(id), M_ADD, &one, sizeof(one),
                         count_acked, NULL)) == VA_EBACKPRESSURE)
      sleep_ms(1);
    assert_int_equal(rc, 0);
  }
  for (int i = 0; i < 60000 && atomic_load(&acked) < CALLS; i++)
    sleep_ms(1);
  assert_int_equal(atomic_load(&acked), CALLS);
  va_stats st;
  va_runtime_stats(rt, &st);
  printf("# %llu saves in %llu commits\n", (unsigned long long)st.store_saves,
         (unsigned long long)st.store_commits);
  assert_int_equal(st.store_saves, CALLS);
  assert_true(st.store_commits < st.store_saves / 4);
  assert_int_equal(
      sql_i64(url, "SELECT sum(version) FROM vactor_actor WHERE type = 'Acc'",
              NULL),
      CALLS);
  va_runtime_free(rt);
}

static void keys_with_a_ttl_expire(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_ttl", url, sizeof(url));
  va_runtime *rt = open_runtime(url);
  int64_t v = 0;
  assert_int_equal(call_i64(rt, T_ACC, "erin", M_TTL, 1, &v), 0);
  assert_int_equal(call_i64(rt, T_ACC, "erin", M_TTL_GET, 0, &v), 0);
  assert_int_equal(v, 1);
  sleep_ms(1100);
  assert_int_equal(call_i64(rt, T_ACC, "erin", M_TTL_GET, 0, &v), 0);
  assert_int_equal(v, 0);
  va_runtime_free(rt);
  rt = open_runtime(url); /* and after a restart, from the database */
  assert_int_equal(call_i64(rt, T_ACC, "erin", M_TTL_GET, 0, &v), 0);
  assert_int_equal(v, 0);
  va_runtime_free(rt);
}

/* ---- Claims and fences ---- */

static va_store_write one_write(const char *key, const char *text) {
  return (va_store_write){
      .key = key, .val = text, .len = (uint32_t)strlen(text)};
}

static void a_load_claims_and_bumps_the_epoch(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_claim", url, sizeof(url));
  va_store *a = open_store(url, "node-a");
  answer got;
  load_sync(a, "T", "x", &got); /* no member row: not alive, no claim */
  assert_int_equal(got.status, VA_EMOVED);
  set_member(url, "node-a", 60);
  load_sync(a, "T", "x", &got);
  assert_int_equal(got.status, 0);
  assert_int_equal(got.epoch, 1);
  assert_int_equal(got.version, 0);
  load_sync(a, "T", "x", &got);
  assert_int_equal(got.epoch, 2);
  assert_int_equal(sql_i64(url,
                           "SELECT epoch FROM vactor_actor WHERE type = 'T'"
                           " AND owner = 'node-a' AND incarnation = 1",
                           NULL),
                   2);
  /* A save under the current epoch goes in, one under an old one not. */
  va_store_write w = one_write("k", "v1");
  assert_int_equal(save_as(a, "T", "x", 0, 2, &w, 1), 0);
  w = one_write("k", "v2");
  assert_int_equal(save_as(a, "T", "x", 1, 1, &w, 1), VA_EFENCED);
  assert_int_equal(save_as(a, "T", "x", 0, 2, &w, 1), VA_ESTORE);
  va_store_postgres_stats st;
  va_store_postgres_stats_get(a, &st);
  assert_int_equal(st.claims, 2);
  assert_int_equal(st.claims_refused, 1);
  assert_int_equal(st.fenced, 1);
  a->ops->destroy(a);
}

/* Two saves handed to the store from one of its own callbacks: the store
 * thread takes both together, so they go in one group. */
typedef struct two_saves {
  va_store *s;
  uint64_t epochs[2];
  answer stale, fine;
  atomic_bool sent;
} two_saves;

static void save_x_and_y(void *ctx, int status, const va_store_item *items,
                         size_t n, uint64_t version, uint64_t epoch) {
  (void)status, (void)items, (void)n, (void)version, (void)epoch;
  two_saves *t = ctx;
  const va_store_write stale[] = {{.key = "k", .val = "stale", .len = 5},
                                  {.key = "\x01r:wake",
                                   .val = "r",
                                   .len = 1,
                                   .reminder = "wake",
                                   .due_ms = 42}};
  const va_store_write fine = {.key = "k", .val = "second", .len = 6};
  assert_int_equal(t->s->ops->save(t->s, "T", "x", 1, 1, t->epochs[0], stale, 2,
                                   on_save, &t->stale),
                   0);
  assert_int_equal(t->s->ops->save(t->s, "T", "y", 1, 1, t->epochs[1], &fine, 1,
                                   on_save, &t->fine),
                   0);
  atomic_store(&t->sent, true);
}

static void other_node_claims_once_the_owner_is_dead(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_fence", url, sizeof(url));
  va_store *a = open_store(url, "node-a");
  va_store *b = open_store(url, "node-b");
  set_member(url, "node-a", 60);
  set_member(url, "node-b", 60);
  answer got;
  uint64_t ex[2]; /* epochs of a's actors x and y */
  const char *ids[] = {"x", "y"};
  for (int i = 0; i < 2; i++) {
    load_sync(a, "T", ids[i], &got);
    assert_int_equal(got.status, 0);
    ex[i] = got.epoch;
    va_store_write w = one_write("k", "first");
    assert_int_equal(save_as(a, "T", ids[i], 0, ex[i], &w, 1), 0);
  }
  /* a's member row is live: b is refused, and reads nothing. */
  load_sync(b, "T", "x", &got);
  assert_int_equal(got.status, VA_EMOVED);
  assert_int_equal(got.n, 0);
  /* a's lease ran out: not enough, until the membership marks it dead
   * (a renewal may still come, e.g. after the database restarted). */
  set_member(url, "node-a", -1);
  load_sync(b, "T", "x", &got);
  assert_int_equal(got.status, VA_EMOVED);
  /* a is dead: b claims x, with a's state. */
  mark_dead(url, "node-a");
  load_sync(b, "T", "x", &got);
  assert_int_equal(got.status, 0);
  assert_int_equal(got.epoch, ex[0] + 1);
  assert_int_equal(got.version, 1);
  assert_true(has(&got, "k:5"));

  /* a still thinks it owns x and y: its saves of both go in one group
   * (handed over from a callback of a's, see two_saves); x's is fenced,
   * y's commits. */
  uint64_t commits_before, commits_after, saves;
  a->ops->stats(a, &commits_before, &saves);
  static two_saves two;
  two = (two_saves){.s = a, .epochs = {ex[0], ex[1]}};
  assert_int_equal(a->ops->load(a, "T", "other", 5, save_x_and_y, &two), 0);
  wait_answer(&two.stale);
  wait_answer(&two.fine);
  assert_int_equal(two.stale.status, VA_EFENCED);
  assert_int_equal(two.fine.status, 0);
  a->ops->stats(a, &commits_after, &saves);
  assert_int_equal(commits_after - commits_before, 1);
  /* x's save committed nothing: b's view, no reminder. */
  assert_int_equal(sql_i64(url,
                           "SELECT count(*) FROM vactor_state WHERE type = 'T'"
                           " AND id = 'x'::bytea AND value = 'first'::bytea",
                           NULL),
                   1);
  assert_int_equal(sql_i64(url, "SELECT count(*) FROM vactor_reminder", NULL),
                   0);
  assert_int_equal(sql_i64(url,
                           "SELECT version FROM vactor_actor WHERE type = 'T'"
                           " AND id = 'x'::bytea",
                           NULL),
                   1);
  assert_int_equal(sql_i64(url,
                           "SELECT version FROM vactor_actor WHERE type = 'T'"
                           " AND id = 'y'::bytea",
                           NULL),
                   2);
  /* b, the owner now, writes x. */
  va_store_write w = one_write("k", "third");
  assert_int_equal(save_as(b, "T", "x", 1, ex[0] + 1, &w, 1), 0);
  a->ops->destroy(a);
  b->ops->destroy(b);
}

static void release_lets_another_node_claim_at_once(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_release", url, sizeof(url));
  va_store *a = open_store(url, "node-a");
  va_store *b = open_store(url, "node-b");
  set_member(url, "node-a", 60);
  set_member(url, "node-b", 60);
  answer got;
  load_sync(a, "T", "x", &got);
  uint64_t epoch = got.epoch;
  load_sync(b, "T", "x", &got);
  assert_int_equal(got.status, VA_EMOVED);
  /* A release with another epoch changes nothing, and answers 0. */
  answer rel = {0};
  assert_int_equal(a->ops->release(a, "T", "x", 1, epoch + 1, on_save, &rel),
                   0);
  wait_answer(&rel);
  assert_int_equal(rel.status, 0);
  load_sync(b, "T", "x", &got);
  assert_int_equal(got.status, VA_EMOVED);
  rel = (answer){0};
  assert_int_equal(a->ops->release(a, "T", "x", 1, epoch, on_save, &rel), 0);
  wait_answer(&rel);
  assert_int_equal(rel.status, 0);
  /* And one without a callback. */
  assert_int_equal(a->ops->release(a, "T", "x", 1, epoch, NULL, NULL), 0);
  load_sync(b, "T", "x", &got);
  assert_int_equal(got.status, 0);
  assert_int_equal(got.epoch, epoch + 1);
  a->ops->destroy(a);
  b->ops->destroy(b);
}

/* Loads (T, id) on s and saves a reminder name due at due. */
static uint64_t own_with_reminder(va_store *s, const char *id, const char *name,
                                  int64_t due) {
  answer got;
  load_sync(s, "T", id, &got);
  assert_int_equal(got.status, 0);
  char key[32];
  snprintf(key, sizeof(key), "\x01r:%s", name);
  const va_store_write w = {
      .key = key, .val = "d", .len = 1, .reminder = name, .due_ms = due};
  assert_int_equal(save_as(s, "T", id, got.version, got.epoch, &w, 1), 0);
  return got.epoch;
}

static void due_reminders_are_ours_and_the_orphans(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_orphans", url, sizeof(url));
  va_store *a = open_store(url, "node-a");
  va_store *b = open_store(url, "node-b");
  va_store *c = open_store(url, "node-c");
  set_member(url, "node-a", 60);
  set_member(url, "node-b", 60);
  set_member(url, "node-c", 60);
  own_with_reminder(a, "mine", "r1", 1000);
  own_with_reminder(b, "theirs", "r2", 1000);
  uint64_t e = own_with_reminder(a, "released", "r3", 1000);
  own_with_reminder(c, "dead", "r4", 1000);
  own_with_reminder(a, "later", "r5", 5000);
  answer rel = {0};
  assert_int_equal(a->ops->release(a, "T", "released", 8, e, on_save, &rel), 0);
  wait_answer(&rel);
  set_member(url, "node-c", -1); /* c is gone */
  mark_dead(url, "node-c");
  answer got;
  due_sync(a, 0, 2000, &got);
  assert_int_equal(got.n, 3);
  assert_true(has(&got, "T/mine/r1@1000"));
  assert_true(has(&got, "T/released/r3@1000!"));
  assert_true(has(&got, "T/dead/r4@1000!"));
  due_sync(b, 0, 2000, &got); /* b sees its own, and the same orphans */
  assert_int_equal(got.n, 3);
  assert_true(has(&got, "T/theirs/r2@1000"));
  /* A store of one node sees every row, none an orphan. */
  va_store *one = open_store(url, NULL);
  due_sync(one, 0, INT64_MAX, &got);
  assert_int_equal(got.n, 5);
  assert_true(has(&got, "T/theirs/r2@1000"));
  assert_true(has(&got, "T/dead/r4@1000"));
  one->ops->destroy(one);
  a->ops->destroy(a);
  b->ops->destroy(b);
  c->ops->destroy(c);
}

/* ---- Schema, restarts, hostile rows ---- */

typedef struct opener {
  const char *url;
  pthread_barrier_t *start;
  int rc;
  va_store *s;
} opener;

static void *open_at_once(void *arg) {
  opener *o = arg;
  pthread_barrier_wait(o->start);
  o->rc = va_store_postgres_open(o->url, NULL, &o->s);
  return NULL;
}

static void three_stores_create_the_schema_at_once(void **state) {
  (void)state;
  for (int round = 0; round < 3; round++) {
    char url[512];
    fresh_db("pg_race", url, sizeof(url));
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 3);
    opener o[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
      o[i] = (opener){.url = url, .start = &start};
      assert_int_equal(pthread_create(&th[i], NULL, open_at_once, &o[i]), 0);
    }
    for (int i = 0; i < 3; i++)
      pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < 3; i++) {
      assert_int_equal(o[i].rc, 0);
      o[i].s->ops->destroy(o[i].s);
    }
    assert_int_equal(sql_i64(url, "SELECT count(*) FROM vactor_schema", NULL),
                     1);
    assert_int_equal(sql_i64(url, "SELECT version FROM vactor_schema", NULL),
                     VA_PG_SCHEMA_VERSION);
    assert_int_equal(sql_i64(url, "SELECT version FROM vactor_view", NULL), 0);
  }
}

/* A database at schema version 1 (a cluster of an earlier release) is
 * brought to this build's version on open, its rows kept. */
static void a_version_1_schema_is_migrated(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_migrate", url, sizeof(url));
  va_store *s = open_store(url, NULL);
  s->ops->destroy(s);
  sql_run(url, "ALTER TABLE vactor_member DROP COLUMN unreachable", NULL);
  sql_run(url, "UPDATE vactor_schema SET version = 1", NULL);
  sql_run(url,
          "INSERT INTO vactor_member (id, incarnation, address, status, "
          "lease_until) VALUES ('old', 1, '127.0.0.1:1', 'alive', now())",
          NULL);
  s = open_store(url, NULL);
  s->ops->destroy(s);
  assert_int_equal(sql_i64(url, "SELECT version FROM vactor_schema", NULL), 2);
  assert_int_equal(sql_i64(url,
                           "SELECT count(*) FROM vactor_member WHERE id = "
                           "'old' AND unreachable = ''",
                           NULL),
                   1);
}

/* The stream of the restart test: ACTORS actors, each saving its counter
 * again as soon as its last save is answered (reloading after a failure,
 * as the runtime does). Everything runs in the store's callbacks. */
enum { ACTORS = 16 };
typedef struct stream_actor {
  struct stream *st;
  char id[16];
  uint64_t version, epoch;
  int64_t acked, failed;
} stream_actor;

typedef struct stream {
  va_store *s;
  stream_actor actors[ACTORS];
  atomic_int busy;  /* actors with a call out */
  atomic_long acks; /* saves answered 0 */
  atomic_bool stop;
} stream;

static void stream_next(stream_actor *a);

static void stream_loaded(void *ctx, int status, const va_store_item *items,
                          size_t n, uint64_t version, uint64_t epoch) {
  (void)items, (void)n;
  stream_actor *a = ctx;
  if (status == 0) {
    a->version = version;
    a->epoch = epoch;
  } else {
    sleep_ms(20); /* the database is away: try again a little later */
  }
  if (status != 0)
    assert_int_equal(a->st->s->ops->load(a->st->s, "S", a->id, strlen(a->id),
                                         stream_loaded, a),
                     0);
  else
    stream_next(a);
}

static void stream_saved(void *ctx, int status) {
  stream_actor *a = ctx;
  if (status == 0) {
    a->version++;
    a->acked++;
    atomic_fetch_add(&a->st->acks, 1);
    stream_next(a);
    return;
  }
  a->failed++;
  assert_int_equal(a->st->s->ops->load(a->st->s, "S", a->id, strlen(a->id),
                                       stream_loaded, a),
                   0);
}

static void stream_next(stream_actor *a) {
  if (atomic_load(&a->st->stop)) {
    atomic_fetch_sub(&a->st->busy, 1);
    return;
  }
  int64_t next = (int64_t)a->version + 1;
  const va_store_write w = {.key = "n", .val = &next, .len = sizeof(next)};
  assert_int_equal(a->st->s->ops->save(a->st->s, "S", a->id, strlen(a->id),
                                       a->version, a->epoch, &w, 1,
                                       stream_saved, a),
                   0);
}

static void wait_acks(stream *st, long target) {
  for (int i = 0; i < 120000 && atomic_load(&st->acks) < target; i++)
    sleep_ms(1);
  assert_true(atomic_load(&st->acks) >= target);
}

static void restart_in_a_stream_of_saves_loses_nothing(void **state) {
  (void)state;
  const char *ctl = getenv("VACTOR_TEST_PG_CTL");
  if (!ctl || !*ctl)
    fail_msg("VACTOR_TEST_PG_CTL is not set");
  char url[512];
  fresh_db("pg_restart", url, sizeof(url));
  told t = {.lock = PTHREAD_MUTEX_INITIALIZER};
  va_store_postgres_options opts = {
      .node = "node-a", .incarnation = 1, .log = record_log, .log_user = &t};
  static stream st;
  memset(&st, 0, sizeof(st));
  assert_int_equal(va_store_postgres_open(url, &opts, &st.s), 0);
  set_member(url, "node-a", 3600);
  atomic_store(&st.busy, ACTORS);
  for (int i = 0; i < ACTORS; i++) {
    stream_actor *a = &st.actors[i];
    a->st = &st;
    snprintf(a->id, sizeof(a->id), "s%d", i);
    assert_int_equal(
        st.s->ops->load(st.s, "S", a->id, strlen(a->id), stream_loaded, a), 0);
  }
  wait_acks(&st, 500);
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "%s restart -m fast >/dev/null 2>&1", ctl);
  assert_int_equal(system(cmd), 0);
  long after_restart = atomic_load(&st.acks);
  wait_acks(&st, after_restart + 500);
  atomic_store(&st.stop, true);
  for (int i = 0; i < 60000 && atomic_load(&st.busy) > 0; i++)
    sleep_ms(1);
  assert_int_equal(atomic_load(&st.busy), 0);
  va_store_postgres_stats ps;
  va_store_postgres_stats_get(st.s, &ps);
  st.s->ops->destroy(st.s);
  int64_t failed = 0;
  for (int i = 0; i < ACTORS; i++) {
    stream_actor *a = &st.actors[i];
    int64_t version = sql_i64(url,
                              "SELECT version FROM vactor_actor WHERE"
                              " type = 'S' AND id = convert_to($1, 'UTF8')",
                              a->id, NULL);
    /* Every save answered 0 is in, once: the stored counter is the
     * version, and the version is what was acknowledged (a failed save
     * may have gone in; then it is more). */
    assert_int_equal(stored_i64(url, "S", a->id, "n"), version);
    assert_true(version >= a->acked);
    assert_true(version - a->acked <= a->failed);
    failed += a->failed;
  }
  printf("# %ld saves acknowledged, %lld failed; %llu reconnects, %llu "
         "requests sent again\n",
         atomic_load(&st.acks), (long long)failed,
         (unsigned long long)ps.reconnects, (unsigned long long)ps.retried);
  assert_true(ps.reconnects >= 1);
  assert_true(t.calls >= 1); /* the loss was told */
}

/* A TCP proxy between the store and the server, which the test can make
 * swallow the server's answers, or everything, and cut: a connection
 * lost at a chosen moment. */
enum { PROXY_PASS, PROXY_SWALLOW_ANSWERS, PROXY_SWALLOW_ALL };
enum { PROXY_PAIRS = 8 };

typedef struct proxy {
  int listen_fd, port, server_port;
  int client[PROXY_PAIRS], server[PROXY_PAIRS];
  atomic_int mode;
  atomic_bool cut, stop;
  pthread_t thread;
} proxy;

static void close_pair(proxy *p, int i) {
  close(p->client[i]);
  close(p->server[i]);
  p->client[i] = p->server[i] = -1;
}

static void accept_pair(proxy *p) {
  int c = accept(p->listen_fd, NULL, NULL);
  if (c < 0)
    return;
  int srv = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)p->server_port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (int i = 0; i < PROXY_PAIRS; i++)
    if (p->client[i] < 0 &&
        connect(srv, (struct sockaddr *)&to, sizeof(to)) == 0) {
      p->client[i] = c;
      p->server[i] = srv;
      return;
    }
  close(c);
  close(srv);
}

/* Moves what from has to to (or drops it); false when from closed. */
static bool pump(int from, int to, bool drop) {
  char buf[65536];
  ssize_t n = read(from, buf, sizeof(buf));
  if (n <= 0)
    return false;
  for (ssize_t at = 0; !drop && at < n;) {
    ssize_t w = write(to, buf + at, (size_t)(n - at));
    if (w <= 0)
      return false;
    at += w;
  }
  return true;
}

static void *proxy_main(void *arg) {
  proxy *p = arg;
  while (!atomic_load(&p->stop)) {
    if (atomic_exchange(&p->cut, false))
      for (int i = 0; i < PROXY_PAIRS; i++)
        if (p->client[i] >= 0)
          close_pair(p, i);
    struct pollfd fds[1 + 2 * PROXY_PAIRS] = {
        {.fd = p->listen_fd, .events = POLLIN}};
    for (int i = 0; i < PROXY_PAIRS; i++) {
      fds[1 + 2 * i] = (struct pollfd){.fd = p->client[i], .events = POLLIN};
      fds[2 + 2 * i] = (struct pollfd){.fd = p->server[i], .events = POLLIN};
    }
    if (poll(fds, 1 + 2 * PROXY_PAIRS, 10) <= 0)
      continue;
    if (fds[0].revents & POLLIN)
      accept_pair(p);
    int mode = atomic_load(&p->mode);
    for (int i = 0; i < PROXY_PAIRS; i++) {
      bool ok = true;
      if (p->client[i] >= 0 && fds[1 + 2 * i].revents)
        ok = pump(p->client[i], p->server[i], mode == PROXY_SWALLOW_ALL);
      if (ok && p->client[i] >= 0 && fds[2 + 2 * i].revents)
        ok = pump(p->server[i], p->client[i], mode != PROXY_PASS);
      if (!ok)
        close_pair(p, i);
    }
  }
  for (int i = 0; i < PROXY_PAIRS; i++)
    if (p->client[i] >= 0)
      close_pair(p, i);
  close(p->listen_fd);
  return NULL;
}

/* Starts a proxy to the test's server; *url (size bytes) reaches database
 * db through it. */
static void proxy_start(proxy *p, const char *db, char *url, size_t size) {
  char direct[512];
  url_of(db, direct, sizeof(direct));
  const char *at = strchr(strstr(direct, "://") + 3, '@');
  const char *host = at ? at + 1 : strstr(direct, "://") + 3;
  const char *colon = strchr(host, ':');
  assert_non_null(colon);
  *p = (proxy){.server_port = atoi(colon + 1)};
  for (int i = 0; i < PROXY_PAIRS; i++)
    p->client[i] = p->server[i] = -1;
  p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in any = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(p->listen_fd, (struct sockaddr *)&any, sizeof(any)), 0);
  assert_int_equal(listen(p->listen_fd, 16), 0);
  socklen_t len = sizeof(any);
  getsockname(p->listen_fd, (struct sockaddr *)&any, &len);
  p->port = ntohs(any.sin_port);
  const char *path = strchr(colon, '/');
  snprintf(url, size, "%.*s:%d%s", (int)(colon - direct), direct, p->port,
           path);
  assert_int_equal(pthread_create(&p->thread, NULL, proxy_main, p), 0);
}

static void proxy_stop(proxy *p) {
  atomic_store(&p->stop, true);
  pthread_join(p->thread, NULL);
}

/* Waits until (T, id)'s version in the database is want. */
static void wait_version(const char *url, const char *id, int64_t want) {
  int64_t v = -1;
  for (int i = 0; i < 6000 && v != want; i++) {
    v = sql_i64(url,
                "SELECT version FROM vactor_actor WHERE type = 'T'"
                " AND id = convert_to($1, 'UTF8')",
                id, NULL);
    if (v != want)
      sleep_ms(5);
  }
  assert_int_equal(v, want);
}

/* A save whose COMMIT went through but whose answer was lost is found
 * committed after reconnecting (answered 0, not sent again); one the
 * server never got is sent again. */
static void saves_in_doubt_are_looked_up(void **state) {
  (void)state;
  char url[512], via[512];
  fresh_db("pg_doubt", url, sizeof(url));
  static proxy p;
  proxy_start(&p, "pg_doubt", via, sizeof(via));
  va_store *s = open_store(via, "node-a");
  set_member(url, "node-a", 3600);
  answer got;
  load_sync(s, "T", "x", &got);
  assert_int_equal(got.status, 0);
  uint64_t epoch = got.epoch;
  va_store_write w = one_write("k", "one");
  assert_int_equal(save_as(s, "T", "x", 0, epoch, &w, 1), 0);

  /* Committed, answer lost. */
  atomic_store(&p.mode, PROXY_SWALLOW_ANSWERS);
  answer a = {0};
  w = one_write("k", "two");
  assert_int_equal(s->ops->save(s, "T", "x", 1, 1, epoch, &w, 1, on_save, &a),
                   0);
  wait_version(url, "x", 2); /* the server has committed it */
  assert_false(atomic_load(&a.done));
  atomic_store(&p.mode, PROXY_PASS);
  atomic_store(&p.cut, true);
  wait_answer(&a);
  assert_int_equal(a.status, 0);
  va_store_postgres_stats st;
  va_store_postgres_stats_get(s, &st);
  assert_true(st.reconnects >= 1);
  assert_int_equal(st.retried, 0); /* found, not sent again */

  /* Never received: sent again. */
  atomic_store(&p.mode, PROXY_SWALLOW_ALL);
  a = (answer){0};
  w = one_write("k", "three");
  assert_int_equal(s->ops->save(s, "T", "x", 1, 2, epoch, &w, 1, on_save, &a),
                   0);
  sleep_ms(100); /* on its way (not needed for the outcome) */
  atomic_store(&p.mode, PROXY_PASS);
  atomic_store(&p.cut, true);
  wait_answer(&a);
  assert_int_equal(a.status, 0);
  wait_version(url, "x", 3);
  assert_int_equal(sql_i64(url,
                           "SELECT count(*) FROM vactor_state WHERE type = 'T'"
                           " AND value = 'three'::bytea",
                           NULL),
                   1);
  s->ops->destroy(s);
  proxy_stop(&p);
}

static void rows_it_did_not_write_are_refused(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_hostile", url, sizeof(url));
  told t = {.lock = PTHREAD_MUTEX_INITIALIZER};
  va_store_postgres_options opts = {.log = record_log, .log_user = &t};
  va_store *s = NULL;
  assert_int_equal(va_store_postgres_open(url, &opts, &s), 0);
  /* A key with a NUL byte, and a negative version. */
  sql_run(url,
          "INSERT INTO vactor_actor(type, id, version) VALUES"
          " ('H', 'nul'::bytea, 1), ('H', 'neg'::bytea, -5)",
          NULL);
  sql_run(url,
          "INSERT INTO vactor_state(type, id, key, value) VALUES"
          " ('H', 'nul'::bytea, '\\x6100'::bytea, 'v'::bytea)",
          NULL);
  answer got;
  load_sync(s, "H", "nul", &got);
  assert_int_equal(got.status, VA_ESTORE);
  load_sync(s, "H", "neg", &got);
  assert_int_equal(got.status, VA_ESTORE);
  /* A reminder row whose name holds a NUL is left out, the others not. */
  sql_run(url,
          "INSERT INTO vactor_reminder(type, id, name, due_ms) VALUES"
          " ('H', 'x'::bytea, '\\x6200'::bytea, 10),"
          " ('H', 'x'::bytea, 'good'::bytea, 10), ('', 'x'::bytea, 'e', 10)",
          NULL);
  due_sync(s, 0, 100, &got);
  assert_int_equal(got.n, 1);
  assert_true(has(&got, "H/x/good@10"));
  assert_true(t.calls >= 3);
  /* Bad arguments are refused before anything is queued. */
  assert_int_equal(s->ops->load(s, "\xff", "x", 1, on_load_items, &got),
                   VA_EINVAL);
  const va_store_write nokey = {.key = NULL};
  assert_int_equal(s->ops->save(s, "H", "x", 1, 0, 0, &nokey, 1, on_save, &got),
                   VA_EINVAL);
  s->ops->destroy(s);
}

/* ---- Listing and peeking (postgres_look.c) ---- */

/* A binary id: its bytes and length (NULs and 0xff included). */
typedef struct bin_id {
  const char *bytes;
  size_t len;
} bin_id;
#define BIN(lit) ((bin_id){lit, sizeof(lit) - 1})

/* A listing's answer, as text: each id (printable bytes as themselves,
 * others as \xHH), "@owner" when it has one, separated by spaces. */
typedef struct listing {
  atomic_bool done;
  int status;
  size_t n;
  char text[2048];
  char last[64]; /* the last id, raw, for the next page's cursor */
  size_t last_len;
} listing;

static void on_list(void *ctx, int status, const va_store_actor *rows,
                    size_t n) {
  listing *l = ctx;
  l->status = status;
  l->n = n;
  size_t at = 0;
  l->text[0] = 0;
  for (size_t i = 0; i < n; i++) {
    if (i && at < sizeof(l->text) - 1)
      l->text[at++] = ' ';
    for (size_t k = 0; k < rows[i].id_len && at < sizeof(l->text) - 5; k++) {
      unsigned char c = (unsigned char)rows[i].id[k];
      at += (size_t)(c > 0x20 && c < 0x7f && c != '\\'
                         ? snprintf(l->text + at, 2, "%c", c)
                         : snprintf(l->text + at, 5, "\\x%02x", c));
    }
    if (rows[i].owner)
      at += (size_t)snprintf(l->text + at, sizeof(l->text) - at, "@%s",
                             rows[i].owner);
  }
  if (n && rows[n - 1].id_len <= sizeof(l->last)) {
    memcpy(l->last, rows[n - 1].id, rows[n - 1].id_len);
    l->last_len = rows[n - 1].id_len;
  }
  atomic_store(&l->done, true);
}

static void list_sync(va_store *s, const char *type, bin_id after,
                      bin_id prefix, size_t limit, listing *l) {
  *l = (listing){0};
  assert_int_equal(s->ops->list(s, type, after.bytes, after.len, prefix.bytes,
                                prefix.len, limit, on_list, l),
                   0);
  for (int i = 0; i < 60000 && !atomic_load(&l->done); i++)
    sleep_ms(1);
  assert_true(atomic_load(&l->done));
}

/* Every page of limit from the first, joined as one listing's text. */
static void list_all_in_pages(va_store *s, const char *type, bin_id prefix,
                              size_t limit, char *out, size_t size) {
  static listing page;
  char after[64];
  size_t after_len = 0;
  out[0] = 0;
  for (int pages = 0;; pages++) {
    assert_true(pages < 50);
    list_sync(s, type, (bin_id){after, after_len}, prefix, limit, &page);
    assert_int_equal(page.status, 0);
    assert_true(page.n <= limit);
    if (page.n)
      snprintf(out + strlen(out), size - strlen(out), "%s%s", *out ? " " : "",
               page.text);
    if (page.n < limit)
      return;
    memcpy(after, page.last, page.last_len);
    after_len = page.last_len;
  }
}

static void peek_sync(va_store *s, const char *type, bin_id id, answer *a) {
  *a = (answer){0};
  assert_int_equal(s->ops->peek(s, type, id.bytes, id.len, on_load_items, a),
                   0);
  wait_answer(a);
}

/* One key saved to (type, id) at version 0, by a store of one node. */
static void save_one(va_store *s, const char *type, bin_id id) {
  answer a = {0};
  va_store_write w = one_write("k", "v");
  assert_int_equal(
      s->ops->save(s, type, id.bytes, id.len, 0, 0, &w, 1, on_save, &a), 0);
  wait_answer(&a);
  assert_int_equal(a.status, 0);
}

static const bin_id NONE = {NULL, 0};

/* Ids in bytea order (memcmp, then length), binary ones among them; the
 * cursor and the prefix (one ending in 0xff, one all 0xff: open at the
 * top) bound the page; pages join up to the whole listing. */
static void listing_pages_through_ids_in_byte_order(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_list", url, sizeof(url));
  va_store *s = open_store(url, NULL);
  const bin_id ids[] = {
      BIN("b"),         BIN("a\xff\xff"), BIN("\xff\xff\x00"), BIN("a"),
      BIN("a\x01"),     BIN("\xff"),      BIN("ab"),           BIN("0"),
      BIN("a\xff\x01"), BIN("\x00"),      BIN("a\xff"),        BIN("a\x00"),
      BIN("\xff\xff"),
  };
  for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
    save_one(s, "L", ids[i]);
  save_one(s, "M", BIN("a")); /* another type */
  save_one(s, "E", BIN(""));  /* the empty id */
  /* Saved, then its only key deleted: no state, not listed. */
  save_one(s, "L", BIN("a-gone"));
  const va_store_write del = {.key = "k", .deleted = true};
  assert_int_equal(save_as(s, "L", "a-gone", 1, 0, &del, 1), 0);

  static const char all[] = "\\x00 0 a a\\x00 a\\x01 ab a\\xff a\\xff\\x01 "
                            "a\\xff\\xff b \\xff \\xff\\xff \\xff\\xff\\x00";
  listing l;
  list_sync(s, "L", NONE, NONE, 100, &l);
  assert_int_equal(l.status, 0);
  assert_string_equal(l.text, all);
  char joined[2048];
  for (size_t limit = 1; limit <= 4; limit++) {
    list_all_in_pages(s, "L", NONE, limit, joined, sizeof(joined));
    assert_string_equal(joined, all);
  }
  list_sync(s, "L", BIN("a\x01"), NONE, 3, &l); /* strictly after */
  assert_string_equal(l.text, "ab a\\xff a\\xff\\x01");
  list_sync(s, "L", BIN("\xff\xff\x00"), NONE, 3, &l);
  assert_int_equal(l.n, 0);

  list_sync(s, "L", NONE, BIN("a"), 100, &l);
  assert_string_equal(l.text,
                      "a a\\x00 a\\x01 ab a\\xff a\\xff\\x01 a\\xff\\xff");
  list_sync(s, "L", NONE, BIN("a\xff"), 100, &l);
  assert_string_equal(l.text, "a\\xff a\\xff\\x01 a\\xff\\xff");
  list_sync(s, "L", NONE, BIN("\xff"), 100, &l);
  assert_string_equal(l.text, "\\xff \\xff\\xff \\xff\\xff\\x00");
  list_sync(s, "L", NONE, BIN("\xff\xff"), 100, &l);
  assert_string_equal(l.text, "\\xff\\xff \\xff\\xff\\x00");
  list_sync(s, "L", NONE, BIN("\x00"), 100, &l);
  assert_string_equal(l.text, "\\x00");
  list_sync(s, "L", NONE, BIN("c"), 100, &l);
  assert_int_equal(l.n, 0);
  /* A cursor before, inside and past the prefix's range. */
  list_sync(s, "L", BIN("0"), BIN("a\xff"), 100, &l);
  assert_string_equal(l.text, "a\\xff a\\xff\\x01 a\\xff\\xff");
  list_sync(s, "L", BIN("a\xff"), BIN("a\xff"), 100, &l);
  assert_string_equal(l.text, "a\\xff\\x01 a\\xff\\xff");
  list_sync(s, "L", BIN("b"), BIN("a"), 100, &l);
  assert_int_equal(l.n, 0);
  list_all_in_pages(s, "L", BIN("a"), 2, joined, sizeof(joined));
  assert_string_equal(joined,
                      "a a\\x00 a\\x01 ab a\\xff a\\xff\\x01 a\\xff\\xff");

  list_sync(s, "E", NONE, NONE, 10, &l);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.text, "");
  list_sync(s, "Nobody", NONE, NONE, 10, &l);
  assert_int_equal(l.n, 0);
  /* Refused before anything is queued. */
  assert_int_equal(s->ops->list(s, "L", NULL, 0, NULL, 0, 0, on_list, &l),
                   VA_EINVAL);
  assert_int_equal(s->ops->list(s, "\xff", NULL, 0, NULL, 0, 1, on_list, &l),
                   VA_EINVAL);
  s->ops->destroy(s);
}

/* Loads (T, id) on s: claimed; saved (one key) when save. */
static void claim_as(va_store *s, const char *id, bool save) {
  answer got;
  load_sync(s, "T", id, &got);
  assert_int_equal(got.status, 0);
  if (save) {
    va_store_write w = one_write("k", "v");
    assert_int_equal(save_as(s, "T", id, got.version, got.epoch, &w, 1), 0);
  }
}

/* A claiming store lists the actors with state and those a live member
 * holds, as a claim judges it: the claim's incarnation, any status but
 * dead (leaving, a lease that ran out: still held). */
static void listing_names_the_live_owners(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_list_owners", url, sizeof(url));
  const char *nodes[] = {"node-a", "node-b", "node-c",
                         "node-e", "node-f", "node-g"};
  va_store *st[6];
  for (int i = 0; i < 6; i++) {
    st[i] = open_store(url, nodes[i]);
    set_member(url, nodes[i], 60);
  }
  va_store *a = st[0], *b = st[1], *c = st[2], *e = st[3], *f = st[4],
           *g = st[5];
  claim_as(a, "x-held", false);
  claim_as(b, "y-saved", true);
  claim_as(c, "z-dead-empty", false);
  claim_as(c, "z-dead-saved", true);
  claim_as(e, "w-old-incarnation", false);
  claim_as(f, "v-leaving", false);
  claim_as(g, "t-lease-over", false);
  answer got;
  load_sync(a, "T", "u-released", &got);
  answer rel = {0};
  assert_int_equal(
      a->ops->release(a, "T", "u-released", 10, got.epoch, on_save, &rel), 0);
  wait_answer(&rel);
  mark_dead(url, "node-c");
  sql_run(url, "UPDATE vactor_member SET incarnation = 2 WHERE id = 'node-e'",
          NULL);
  sql_run(url, "UPDATE vactor_member SET status = 'leaving' WHERE id = $1",
          "node-f", NULL);
  set_member(url, "node-g", -1);

  static const char all[] = "t-lease-over@node-g v-leaving@node-f "
                            "x-held@node-a y-saved@node-b z-dead-saved";
  listing l;
  list_sync(b, "T", NONE, NONE, 100, &l);
  assert_int_equal(l.status, 0);
  assert_string_equal(l.text, all);
  char joined[2048];
  for (size_t limit = 1; limit <= 3; limit++) {
    list_all_in_pages(c, "T", NONE, limit, joined, sizeof(joined));
    assert_string_equal(joined, all);
  }
  list_sync(a, "T", NONE, BIN("x"), 100, &l);
  assert_string_equal(l.text, "x-held@node-a");
  list_sync(a, "T", NONE, BIN("z"), 100, &l);
  assert_string_equal(l.text, "z-dead-saved");
  list_sync(a, "T", BIN("v-leaving"), NONE, 2, &l);
  assert_string_equal(l.text, "x-held@node-a y-saved@node-b");
  /* A store of one node names no owner, and lists the state only. */
  va_store *one = open_store(url, NULL);
  list_sync(one, "T", NONE, NONE, 100, &l);
  assert_string_equal(l.text, "y-saved z-dead-saved");
  one->ops->destroy(one);
  /* Listing took nothing: the claims are as they were. */
  assert_int_equal(sql_i64(url,
                           "SELECT count(*) FROM vactor_actor WHERE type = 'T'"
                           " AND epoch = 1",
                           NULL),
                   8);
  for (int i = 0; i < 6; i++)
    st[i]->ops->destroy(st[i]);
}

/* A peek reads what a load would (expired keys absent, the version) and
 * claims nothing: the owner's epoch stands, its saves go in, and a node
 * that then claims gets what it would have. */
static void peek_reads_without_claiming(void **state) {
  (void)state;
  char url[512];
  fresh_db("pg_peek", url, sizeof(url));
  va_store *a = open_store(url, "node-a");
  va_store *b = open_store(url, "node-b");
  set_member(url, "node-a", 60);
  set_member(url, "node-b", 60);
  answer got;
  load_sync(a, "T", "x", &got);
  assert_int_equal(got.status, 0);
  uint64_t epoch = got.epoch;
  const va_store_write w[] = {
      {.key = "k", .val = "v1", .len = 2},
      {.key = "gone", .val = "g", .len = 1, .expires_ms = 1}};
  assert_int_equal(save_as(a, "T", "x", 0, epoch, w, 2), 0);

  peek_sync(b, "T", BIN("x"), &got);
  assert_int_equal(got.status, 0);
  assert_int_equal(got.version, 1);
  assert_int_equal(got.epoch, 0);
  assert_int_equal(got.n, 1);
  assert_true(has(&got, "k:2"));
  assert_int_equal(sql_i64(url,
                           "SELECT epoch FROM vactor_actor WHERE type = 'T'"
                           " AND id = 'x'::bytea AND owner = 'node-a'",
                           NULL),
                   (int64_t)epoch);
  /* a still owns x: its next save is not fenced. */
  va_store_write w2 = one_write("k", "v22");
  assert_int_equal(save_as(a, "T", "x", 1, epoch, &w2, 1), 0);
  peek_sync(a, "T", BIN("x"), &got);
  assert_int_equal(got.version, 2);
  assert_true(has(&got, "k:3"));
  load_sync(b, "T", "x", &got); /* a is alive: b is still refused */
  assert_int_equal(got.status, VA_EMOVED);

  /* Never saved: version 0, no keys, and no row made. */
  peek_sync(b, "T", BIN("nobody\x00\xff"), &got);
  assert_int_equal(got.status, 0);
  assert_int_equal(got.version, 0);
  assert_int_equal(got.epoch, 0);
  assert_int_equal(got.n, 0);
  assert_int_equal(sql_i64(url, "SELECT count(*) FROM vactor_actor", NULL), 1);

  /* The claim after the peeks: the epoch the load would have got. */
  mark_dead(url, "node-a");
  load_sync(b, "T", "x", &got);
  assert_int_equal(got.status, 0);
  assert_int_equal(got.epoch, epoch + 1);
  assert_int_equal(got.version, 2);
  assert_int_equal(got.n, 1);
  assert_true(has(&got, "k:3"));
  /* A store of one node peeks too. */
  va_store *one = open_store(url, NULL);
  peek_sync(one, "T", BIN("x"), &got);
  assert_int_equal(got.version, 2);
  assert_true(has(&got, "k:3"));
  assert_int_equal(one->ops->peek(one, "T", NULL, 1, on_load_items, &got),
                   VA_EINVAL);
  one->ops->destroy(one);
  a->ops->destroy(a);
  b->ops->destroy(b);
}

/* A peek whose callback holds the look-out's thread until released. */
typedef struct holder {
  atomic_bool inside, release;
  answer a;
} holder;

static void hold_thread(void *ctx, int status, const va_store_item *items,
                        size_t n, uint64_t version, uint64_t epoch) {
  holder *h = ctx;
  atomic_store(&h->inside, true);
  for (int i = 0; i < 60000 && !atomic_load(&h->release); i++)
    sleep_ms(1);
  on_load_items(&h->a, status, items, n, version, epoch);
}

static void hold(va_store *s, holder *h) {
  *h = (holder){0};
  assert_int_equal(s->ops->peek(s, "P", "p", 1, hold_thread, h), 0);
  for (int i = 0; i < 60000 && !atomic_load(&h->inside); i++)
    sleep_ms(1);
  assert_true(atomic_load(&h->inside));
}

static void *destroy_store(void *arg) {
  va_store *s = arg;
  s->ops->destroy(s);
  return NULL;
}

/* At most 64 questions wait; destroy answers those still waiting; a
 * statement stuck behind a lock runs out of statement time; a database
 * restart costs the next question nothing. */
static void the_look_out_is_bounded(void **state) {
  (void)state;
  const char *ctl = getenv("VACTOR_TEST_PG_CTL");
  if (!ctl || !*ctl)
    fail_msg("VACTOR_TEST_PG_CTL is not set");
  char url[512];
  fresh_db("pg_look", url, sizeof(url));
  va_store *s = open_store(url, NULL);
  save_one(s, "P", BIN("p"));
  enum { QUEUE = 64 };
  static answer waiting[QUEUE];
  static holder h;
  hold(s, &h);
  for (int i = 0; i < QUEUE; i++) {
    waiting[i] = (answer){0};
    assert_int_equal(s->ops->peek(s, "P", "p", 1, on_load_items, &waiting[i]),
                     0);
  }
  answer refused = {0};
  assert_int_equal(s->ops->peek(s, "P", "p", 1, on_load_items, &refused),
                   VA_EBACKPRESSURE);
  atomic_store(&h.release, true);
  for (int i = 0; i < QUEUE; i++) {
    wait_answer(&waiting[i]);
    assert_int_equal(waiting[i].status, 0);
    assert_int_equal(waiting[i].version, 1);
  }
  assert_false(atomic_load(&refused.done));

  /* Stuck behind a lock: statement_timeout. Then it answers again. */
  PGconn *locker = connect_to(url);
  PQclear(PQexec(locker, "BEGIN"));
  PGresult *r = PQexec(locker, "LOCK TABLE vactor_actor IN ACCESS EXCLUSIVE"
                               " MODE");
  assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
  PQclear(r);
  answer got;
  peek_sync(s, "P", BIN("p"), &got);
  assert_int_equal(got.status, VA_ETIMEDOUT);
  PQclear(PQexec(locker, "ROLLBACK"));
  PQfinish(locker);
  peek_sync(s, "P", BIN("p"), &got);
  assert_int_equal(got.status, 0);

  /* The look-out's connection dies with the restart; the next question
   * connects again. */
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "%s restart -m fast >/dev/null 2>&1", ctl);
  assert_int_equal(system(cmd), 0);
  peek_sync(s, "P", BIN("p"), &got);
  assert_int_equal(got.status, 0);
  assert_int_equal(got.version, 1);

  /* Destroyed while questions wait: they are answered, VA_ESTOPPED. */
  hold(s, &h);
  int queued = 0;
  for (; queued < 5; queued++) {
    waiting[queued] = (answer){0};
    assert_int_equal(
        s->ops->peek(s, "P", "p", 1, on_load_items, &waiting[queued]), 0);
  }
  pthread_t destroyer;
  assert_int_equal(pthread_create(&destroyer, NULL, destroy_store, s), 0);
  /* Until destroy has reached the look-out, questions are still taken. */
  int rc = 0;
  for (int i = 0; i < 60000; i++) {
    answer *next = queued < QUEUE ? &waiting[queued] : &refused;
    *next = (answer){0};
    rc = s->ops->peek(s, "P", "p", 1, on_load_items, next);
    if (rc == VA_ESTOPPED)
      break;
    if (rc == 0)
      queued++;
    else
      sleep_ms(1);
  }
  assert_int_equal(rc, VA_ESTOPPED);
  assert_true(queued <= QUEUE);
  atomic_store(&h.release, true);
  pthread_join(destroyer, NULL);
  assert_int_equal(h.a.status, 0);
  for (int i = 0; i < queued; i++) {
    assert_true(atomic_load(&waiting[i].done));
    assert_int_equal(waiting[i].status, VA_ESTOPPED);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(due_index_follows_the_reminder_fields),
      cmocka_unit_test(saves_in_a_row_keep_their_order),
      cmocka_unit_test(failures_reach_the_log_callback),
      cmocka_unit_test(state_survives_the_runtime),
      cmocka_unit_test(reply_leaves_after_the_commit),
      cmocka_unit_test(many_turns_share_a_commit),
      cmocka_unit_test(keys_with_a_ttl_expire),
      cmocka_unit_test(a_load_claims_and_bumps_the_epoch),
      cmocka_unit_test(other_node_claims_once_the_owner_is_dead),
      cmocka_unit_test(release_lets_another_node_claim_at_once),
      cmocka_unit_test(due_reminders_are_ours_and_the_orphans),
      cmocka_unit_test(three_stores_create_the_schema_at_once),
      cmocka_unit_test(a_version_1_schema_is_migrated),
      cmocka_unit_test(rows_it_did_not_write_are_refused),
      cmocka_unit_test(saves_in_doubt_are_looked_up),
      cmocka_unit_test(listing_pages_through_ids_in_byte_order),
      cmocka_unit_test(listing_names_the_live_owners),
      cmocka_unit_test(peek_reads_without_claiming),
      cmocka_unit_test(the_look_out_is_bounded),
      cmocka_unit_test(restart_in_a_stream_of_saves_loses_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
