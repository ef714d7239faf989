/* test_store.c — durable state on a real SQLite file: state survives the
 * runtime, a success reply leaves only once the turn's state is committed
 * (the output gate, read back through a second SQLite connection), many
 * turns share one commit, keys with a TTL expire, and an actor whose save
 * fails answers VA_ESTORE, keeps serving reads and reloads its state.
 * And the store's own contract (store.h), through both back ends without a
 * runtime: the due index is fed from a write's reminder fields only, never
 * from its key or value; failures are told through the store's log
 * callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "helpers.h"
#include "store/store.h"
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int T_ACC, M_ADD, M_GET, M_TTL, M_BIG;

/* add: "total" += arg, and "count" += 1, in one turn. */
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

/* ttl: writes "temp" with a TTL of arg seconds. */
static int acc_ttl(va_turn *t, const void *arg, size_t len) {
  int64_t one = 1;
  return va_turn_state_set_ttl(t, "temp", &one, sizeof(one),
                               (uint32_t)arg_i64(arg, len));
}

/* big: writes arg values of 64 KiB each (to fill a small disk). */
static int acc_big(va_turn *t, const void *arg, size_t len) {
  static char blob[65536];
  int64_t n = arg_i64(arg, len);
  int64_t base = state_i64(t, "blobs");
  for (int64_t i = 0; i < n; i++) {
    char key[32];
    snprintf(key, sizeof(key), "blob-%lld", (long long)(base + i));
    int rc = va_turn_state_set(t, key, blob, sizeof(blob));
    if (rc)
      return rc;
  }
  base += n;
  return va_turn_state_set(t, "blobs", &base, sizeof(base));
}

static int ttl_get(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  const void *v;
  size_t n;
  return reply_i64(t, va_turn_state_get(t, "temp", &v, &n) == 0);
}

static int M_TTL_GET;

static va_durability mode = VA_DURABLE;

static va_runtime *open_runtime(const char *path) {
  va_config cfg;
  va_config_init(&cfg);
  cfg.store = path;
  cfg.durability = mode;
  cfg.relaxed_sync_ms = 20;
  va_runtime *rt;
  assert_int_equal(va_runtime_new(&cfg, &rt), 0);
  static const va_method methods[] = {{"add", acc_add},
                                      {"get", acc_get},
                                      {"ttl", acc_ttl},
                                      {"ttl_get", ttl_get},
                                      {"big", acc_big}};
  va_type_def def = {.name = "Acc", .methods = methods, .n_methods = 5};
  T_ACC = va_register_type(rt, &def);
  M_ADD = va_method_lookup(rt, T_ACC, "add");
  M_GET = va_method_lookup(rt, T_ACC, "get");
  M_TTL = va_method_lookup(rt, T_ACC, "ttl");
  M_TTL_GET = va_method_lookup(rt, T_ACC, "ttl_get");
  M_BIG = va_method_lookup(rt, T_ACC, "big");
  assert_int_equal(va_runtime_start(rt), 0);
  return rt;
}

/* Reads the stored int64 value of (Acc, id, key) through a separate
 * connection; -1 when absent. */
static int64_t stored_i64(const char *path, const char *id, const char *key) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(
      sqlite3_prepare_v2(db,
                         "SELECT value FROM state WHERE type = 'Acc' AND "
                         "id = ?1 AND key = ?2",
                         -1, &st, NULL),
      SQLITE_OK);
  sqlite3_bind_blob(st, 1, id, (int)strlen(id), SQLITE_STATIC);
  sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW &&
      sqlite3_column_bytes(st, 0) == sizeof(v))
    memcpy(&v, sqlite3_column_blob(st, 0), sizeof(v));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

static void state_survives_the_runtime(void **state) {
  (void)state;
  char path[256];
  db_path(path, sizeof(path), "survive");
  va_runtime *rt = open_runtime(path);
  int64_t v = 0;
  for (int i = 1; i <= 10; i++)
    assert_int_equal(call_i64(rt, T_ACC, "alice", M_ADD, i, &v), 0);
  assert_int_equal(v, 55);
  assert_int_equal(call_i64(rt, T_ACC, "bob", M_ADD, 7, &v), 0);
  va_runtime_free(rt);

  rt = open_runtime(path);
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
  char path[256];
  db_path(path, sizeof(path), "gate");
  va_runtime *rt = open_runtime(path);
  int64_t v = 0;
  for (int i = 1; i <= 50; i++) {
    assert_int_equal(call_i64(rt, T_ACC, "dave", M_ADD, 1, &v), 0);
    /* The reply is here: another connection must already see the state
     * of that turn, both keys of it. */
    assert_int_equal(stored_i64(path, "dave", "total"), i);
    assert_int_equal(stored_i64(path, "dave", "count"), i);
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
  char path[256];
  db_path(path, sizeof(path), "group");
  va_runtime *rt = open_runtime(path);
  enum { ACTORS = 200, CALLS = 20000 };
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
  WAIT_UNTIL(atomic_load(&acked) == CALLS);
  assert_int_equal(atomic_load(&acked), CALLS);
  va_stats st;
  va_runtime_stats(rt, &st);
  printf("# %llu saves in %llu commits\n", (unsigned long long)st.store_saves,
         (unsigned long long)st.store_commits);
  assert_int_equal(st.store_saves, CALLS);
  assert_true(st.store_commits < st.store_saves / 4);
  int64_t total = 0;
  for (int i = 0; i < ACTORS; i++) {
    snprintf(id, sizeof(id), "g%d", i);
    total += stored_i64(path, id, "total");
  }
  assert_int_equal(total, CALLS);
  va_runtime_free(rt);
}

static void keys_with_a_ttl_expire(void **state) {
  (void)state;
  char path[256];
  db_path(path, sizeof(path), "ttl");
  va_runtime *rt = open_runtime(path);
  int64_t v = 0;
  assert_int_equal(call_i64(rt, T_ACC, "erin", M_TTL, 1, &v), 0);
  assert_int_equal(call_i64(rt, T_ACC, "erin", M_TTL_GET, 0, &v), 0);
  assert_int_equal(v, 1);
  sleep_ms(1100);
  assert_int_equal(call_i64(rt, T_ACC, "erin", M_TTL_GET, 0, &v), 0);
  assert_int_equal(v, 0);
  va_runtime_free(rt);
  rt = open_runtime(path); /* and after a restart, from the file */
  assert_int_equal(call_i64(rt, T_ACC, "erin", M_TTL_GET, 0, &v), 0);
  assert_int_equal(v, 0);
  va_runtime_free(rt);
}

/* A full disk: a 2 MiB tmpfs holding the database. Needs root. */
static void failed_commit_fails_replies_and_loses_nothing(void **state) {
  (void)state;
  char dir[] = "/tmp/vactor-full-XXXXXX";
  assert_non_null(mkdtemp(dir));
  if (mount("tmpfs", dir, "tmpfs", 0, "size=2m") != 0) {
    rmdir(dir);
    skip(); /* not root: the tmpfs cannot be mounted */
  }
  char path[300];
  snprintf(path, sizeof(path), "%s/vactor.db", dir);
  va_runtime *rt = open_runtime(path);
  int64_t v = 0;
  assert_int_equal(call_i64(rt, T_ACC, "frank", M_ADD, 41, &v), 0);
  /* Fill the disk with big values until a save fails. */
  int rc = 0;
  for (int i = 0; i < 100 && rc == 0; i++)
    rc = call_i64(rt, T_ACC, "filler", M_BIG, 4, NULL);
  assert_int_equal(rc, VA_ESTORE);
  /* Reads are still served, with the state as acknowledged. */
  assert_int_equal(call_i64(rt, T_ACC, "frank", M_GET, 0, &v), 0);
  assert_int_equal(v, 41);
  /* Fill what is left, then a big write to frank fails too, and his
   * acknowledged state stays. (A small write may still fit in WAL pages
   * the file already has: that is success, not loss.) */
  char filler[320];
  snprintf(filler, sizeof(filler), "%s/filler", dir);
  FILE *f = fopen(filler, "w");
  static char junk[4096];
  while (f && fwrite(junk, 1, sizeof(junk), f) == sizeof(junk))
    ;
  if (f)
    fclose(f);
  assert_int_equal(call_i64(rt, T_ACC, "frank", M_BIG, 64, NULL), VA_ESTORE);
  assert_int_equal(call_i64(rt, T_ACC, "frank", M_GET, 0, &v), 0);
  assert_int_equal(v, 41);
  va_stats st;
  va_runtime_stats(rt, &st);
  assert_true(st.store_failures >= 2);
  /* Room again: writes succeed and nothing acknowledged was lost. */
  unlink(filler);
  assert_int_equal(call_i64(rt, T_ACC, "frank", M_ADD, 1, &v), 0);
  assert_int_equal(v, 42);
  va_runtime_free(rt);
  rt = open_runtime(path);
  assert_int_equal(call_i64(rt, T_ACC, "frank", M_GET, 0, &v), 0);
  assert_int_equal(v, 42);
  va_runtime_free(rt);
  umount(dir);
  rmdir(dir);
}

/* Relaxed mode: the reply does not wait, the state still gets to the
 * file (and is fsync'd within relaxed_sync_ms), and survives the runtime. */
static void relaxed_mode_keeps_state_too(void **state) {
  (void)state;
  char path[256];
  db_path(path, sizeof(path), "relaxed");
  mode = VA_RELAXED;
  va_runtime *rt = open_runtime(path);
  int64_t v = 0;
  for (int i = 1; i <= 100; i++)
    assert_int_equal(call_i64(rt, T_ACC, "gina", M_ADD, 1, &v), 0);
  assert_int_equal(v, 100);
  WAIT_UNTIL(stored_i64(path, "gina", "total") == 100);
  assert_int_equal(stored_i64(path, "gina", "total"), 100);
  va_runtime_free(rt);
  rt = open_runtime(path);
  assert_int_equal(call_i64(rt, T_ACC, "gina", M_GET, 0, &v), 0);
  assert_int_equal(v, 100);
  va_runtime_free(rt);
  mode = VA_DURABLE;
}

/* ---- The store's contract, without a runtime ---- */

/* The answer to one store call, filled in by its callback (any thread). */
typedef struct answer {
  atomic_bool done;
  int status;
  uint64_t version;
  size_t n;
  char names[8][64]; /* due reminders: "name@due" / loads: the keys */
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
    snprintf(a->names[i], sizeof(a->names[i]), "%s/%.*s/%s@%lld", rows[i].type,
             (int)rows[i].id_len, rows[i].id, rows[i].name,
             (long long)rows[i].due_ms);
  atomic_store(&a->done, true);
}

static void on_load_items(void *ctx, int status, const va_store_item *items,
                          size_t n, uint64_t version, uint64_t epoch) {
  (void)epoch;
  answer *a = ctx;
  a->status = status;
  a->n = n;
  a->version = version;
  for (size_t i = 0; i < n && i < 8; i++)
    snprintf(a->names[i], sizeof(a->names[i]), "%s:%u",
             items[i].key[0] == 1 ? items[i].key + 1 : items[i].key,
             (unsigned)items[i].len);
  atomic_store(&a->done, true);
}

static void wait_answer(answer *a) {
  WAIT_UNTIL(atomic_load(&a->done));
  assert_true(atomic_load(&a->done));
}

static int save_sync(va_store *s, uint64_t version, const va_store_write *w,
                     size_t n) {
  answer a = {0};
  assert_int_equal(s->ops->save(s, "R", "a1", 2, version, 0, w, n, on_save, &a),
                   0);
  wait_answer(&a);
  return a.status;
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

/* Saves three writes and checks what the due index holds:
 * - a reminder's key whose value's first 8 bytes say 999, due 5000 by its
 *   field: indexed at 5000;
 * - a key shaped like a reminder's ("\x01r:x", 8 bytes of a due time) with
 *   no reminder field: stored, never indexed (the stores before this
 *   contract parsed it and indexed it at 6000);
 * - a plain key naming reminder "other" due 7000: indexed by its field.
 * Then a deletion naming "wake" drops it from the index. */
static void index_follows_the_due_field(va_store *s) {
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
  due_sync(s, 0, 1000, &a); /* nothing at 999, nor at 6000 below */
  assert_int_equal(a.n, 0);
  due_sync(s, 5500, 6500, &a);
  assert_int_equal(a.n, 0);

  /* Every key is stored like any other, the look-alike too. */
  a = (answer){0};
  assert_int_equal(s->ops->load(s, "R", "a1", 2, on_load_items, &a), 0);
  wait_answer(&a);
  assert_int_equal(a.status, 0);
  assert_int_equal(a.version, 1);
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
  /* A deletion naming the reminder drops it from the index; a deleted
   * look-alike key touches nothing there. */
  const va_store_write second[] = {
      {.key = "\x01r:wake", .deleted = true, .reminder = "wake"},
      {.key = "\x01r:x", .deleted = true},
  };
  assert_int_equal(save_sync(s, 1, second, 2), 0);
  due_sync(s, INT64_MIN, INT64_MAX, &a);
  assert_int_equal(a.n, 1);
  assert_true(has(&a, "R/a1/other@7000"));
}

static void memory_store_indexes_reminders_from_the_due_field(void **state) {
  (void)state;
  va_store *s;
  assert_int_equal(va_store_memory_new(&s), 0);
  index_follows_the_due_field(s);
  s->ops->destroy(s);
}

static void sqlite_store_indexes_reminders_from_the_due_field(void **state) {
  (void)state;
  char path[256];
  db_path(path, sizeof(path), "due-field");
  va_store *s;
  assert_int_equal(va_store_sqlite_open(path, NULL, &s), 0);
  index_follows_the_due_field(s);
  s->ops->destroy(s);
  /* And from the file, after a restart. */
  assert_int_equal(va_store_sqlite_open(path, NULL, &s), 0);
  answer a;
  due_sync(s, INT64_MIN, INT64_MAX, &a);
  assert_int_equal(a.n, 1);
  assert_true(has(&a, "R/a1/other@7000"));
  s->ops->destroy(s);
}

/* What the store's log callback was told. */
typedef struct told {
  int calls;
  char msg[64], path[256];
  bool has_code, has_error;
} told;

static void record_log(void *user, va_log_level level, const char *msg,
                       const va_store_log_field *fields, size_t n) {
  told *t = user;
  assert_int_equal(level, VA_LOG_ERROR);
  t->calls++;
  snprintf(t->msg, sizeof(t->msg), "%s", msg);
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(fields[i].key, "path") && fields[i].text)
      snprintf(t->path, sizeof(t->path), "%s", fields[i].text);
    t->has_code |= !strcmp(fields[i].key, "code") && !fields[i].text;
    t->has_error |= !strcmp(fields[i].key, "error") && fields[i].text;
  }
}

static void sqlite_store_tells_its_log_callback(void **state) {
  (void)state;
  char dir[] = "/tmp/vactor-store-dir-XXXXXX";
  assert_non_null(mkdtemp(dir)); /* a directory is no database file */
  told t = {0};
  va_store_sqlite_options opts = {.log = record_log, .log_user = &t};
  va_store *s = NULL;
  assert_int_equal(va_store_sqlite_open(dir, &opts, &s), VA_ESTORE);
  assert_null(s);
  assert_int_equal(t.calls, 1);
  assert_string_equal(t.msg, "cannot open the store");
  assert_string_equal(t.path, dir);
  assert_true(t.has_code && t.has_error);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(state_survives_the_runtime),
      cmocka_unit_test(reply_leaves_after_the_commit),
      cmocka_unit_test(many_turns_share_a_commit),
      cmocka_unit_test(keys_with_a_ttl_expire),
      cmocka_unit_test(relaxed_mode_keeps_state_too),
      cmocka_unit_test(failed_commit_fails_replies_and_loses_nothing),
      cmocka_unit_test(memory_store_indexes_reminders_from_the_due_field),
      cmocka_unit_test(sqlite_store_indexes_reminders_from_the_due_field),
      cmocka_unit_test(sqlite_store_tells_its_log_callback),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
