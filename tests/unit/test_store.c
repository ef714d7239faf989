/* test_store.c — durable state on a real SQLite file: state survives the
 * runtime, a success reply leaves only once the turn's state is committed
 * (the output gate, read back through a second SQLite connection), many
 * turns share one commit, keys with a TTL expire, and an actor whose save
 * fails answers VA_ESTORE, keeps serving reads and reloads its state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int T_ACC, M_ADD, M_GET, M_TTL, M_BIG;

/* add: "total" += arg, and "count" += 1, in one turn. */
static int acc_add(va_turn *t, const void *arg, size_t len) {
  int64_t total = state_i64(t, "total") + arg_i64(arg, len);
  int64_t count = state_i64(t, "count") + 1;
  int rc = va_state_set(t, "total", &total, sizeof(total));
  if (rc == 0)
    rc = va_state_set(t, "count", &count, sizeof(count));
  return rc ? rc : reply_i64(t, total);
}

static int acc_get(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  return reply_i64(t, state_i64(t, "total"));
}

/* ttl: writes "temp" with a TTL of arg seconds. */
static int acc_ttl(va_turn *t, const void *arg, size_t len) {
  int64_t one = 1;
  return va_state_set_ttl(t, "temp", &one, sizeof(one),
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
    int rc = va_state_set(t, key, blob, sizeof(blob));
    if (rc)
      return rc;
  }
  base += n;
  return va_state_set(t, "blobs", &base, sizeof(base));
}

static int ttl_get(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  const void *v;
  size_t n;
  return reply_i64(t, va_state_get(t, "temp", &v, &n) == 0);
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
static void count_acked(void *user, int status, const void *data,
                        size_t len) {
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(state_survives_the_runtime),
      cmocka_unit_test(reply_leaves_after_the_commit),
      cmocka_unit_test(many_turns_share_a_commit),
      cmocka_unit_test(keys_with_a_ttl_expire),
      cmocka_unit_test(relaxed_mode_keeps_state_too),
      cmocka_unit_test(failed_commit_fails_replies_and_loses_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
