/* test_reminders.c — reminders on a real SQLite file: they fire when due
 * and never early, stop after their repetitions, never fire once deleted,
 * fire after a restart (the ones due while the process was down, once),
 * and fire again when their turn failed (at least once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/clock.h"
#include "helpers.h"
#include <unistd.h>

static int T_R;
static atomic_int fires, failures_left;
static _Atomic int64_t first_fire_ms;
static char last_data[32];

static int on_reminder(va_turn *t, const char *name, const void *data,
                       size_t len) {
  (void)t, (void)name;
  if (atomic_load(&failures_left) > 0) {
    atomic_fetch_sub(&failures_left, 1);
    return -1; /* fail this turn: the reminder must come again */
  }
  int64_t zero = 0;
  atomic_compare_exchange_strong(&first_fire_ms, &zero, va__wall_ms());
  memcpy(last_data, data, len < sizeof(last_data) ? len : 0);
  atomic_fetch_add(&fires, 1);
  return 0;
}

static int noop(va_turn *t, const void *arg, size_t len) {
  (void)t, (void)arg, (void)len;
  return 0;
}

static va_runtime *open_runtime(const char *path) {
  va_config cfg;
  va_config_init(&cfg);
  cfg.store = path;
  va_runtime *rt;
  assert_int_equal(va_runtime_new(&cfg, &rt), 0);
  static const va_method methods[] = {{"noop", noop}};
  va_type_def def = {.name = "R", .methods = methods, .n_methods = 1,
                     .on_reminder = on_reminder};
  T_R = va_register_type(rt, &def);
  assert_true(T_R >= 0);
  assert_int_equal(va_runtime_start(rt), 0);
  return rt;
}

typedef struct result {
  atomic_int done;
  int status;
  char reply[128];
  size_t len;
} result;

static void on_result(void *user, int status, const void *data, size_t len) {
  result *r = user;
  r->status = status;
  r->len = len < sizeof(r->reply) ? len : 0;
  memcpy(r->reply, data, r->len);
  atomic_store(&r->done, 1);
}

/* Runs one reminder operation and waits for its status. */
static int op(va_runtime *rt, const char *id, const char *name,
              const va_reminder *spec, va_reminder_op what, result *r) {
  memset(r, 0, sizeof(*r));
  int rc = va_reminder_call(rt, T_R, id, strlen(id), name, spec, what,
                            on_result, r);
  if (rc)
    return rc;
  WAIT_UNTIL(atomic_load(&r->done));
  return r->status;
}

static void reset(void) {
  atomic_store(&fires, 0);
  atomic_store(&failures_left, 0);
  atomic_store(&first_fire_ms, 0);
}

static void fires_when_due_and_never_early(void **state) {
  (void)state;
  char path[256];
  db_path(path, sizeof(path), "due");
  reset();
  va_runtime *rt = open_runtime(path);
  int64_t due = va__wall_ms() + 300;
  va_reminder spec = {.due_ms = due, .left = 1, .data = "hello", .len = 5};
  result r;
  assert_int_equal(op(rt, "a", "once", &spec, VA_REMINDER_SET, &r), 0);
  assert_int_equal(op(rt, "a", "once", NULL, VA_REMINDER_GET, &r), 0);
  va_reminder got;
  assert_int_equal(va_reminder_decode(r.reply, r.len, &got), 0);
  assert_int_equal(got.due_ms, due);
  assert_int_equal(got.len, 5);
  WAIT_UNTIL(atomic_load(&fires) == 1);
  assert_int_equal(atomic_load(&fires), 1);
  assert_true(atomic_load(&first_fire_ms) >= due);
  assert_memory_equal(last_data, "hello", 5);
  /* A one-shot reminder is gone once it fired. */
  assert_int_equal(op(rt, "a", "once", NULL, VA_REMINDER_GET, &r),
                   VA_ENOTFOUND);
  va_runtime_free(rt);
}

static void repetitions_stop_after_n(void **state) {
  (void)state;
  char path[256];
  db_path(path, sizeof(path), "reps");
  reset();
  va_runtime *rt = open_runtime(path);
  va_reminder spec = {.due_ms = va__wall_ms() + 50, .left = 3};
  assert_int_equal(va_parse_period("R3/PT0.1S", 9, &spec.period, &spec.left),
                   VA_EINVAL); /* fractions are not ISO here */
  assert_int_equal(va_parse_period("100ms", 5, &spec.period, &spec.left), 0);
  spec.left = 3;
  result r;
  assert_int_equal(op(rt, "b", "thrice", &spec, VA_REMINDER_SET, &r), 0);
  WAIT_UNTIL(atomic_load(&fires) == 3);
  sleep_ms(400); /* time for a fourth, which must not come */
  assert_int_equal(atomic_load(&fires), 3);
  assert_int_equal(op(rt, "b", "thrice", NULL, VA_REMINDER_GET, &r),
                   VA_ENOTFOUND);
  va_runtime_free(rt);
}

static void deleted_reminder_never_fires(void **state) {
  (void)state;
  char path[256];
  db_path(path, sizeof(path), "del");
  reset();
  va_runtime *rt = open_runtime(path);
  va_reminder spec = {.due_ms = va__wall_ms() + 300, .left = 1};
  result r;
  assert_int_equal(op(rt, "c", "gone", &spec, VA_REMINDER_SET, &r), 0);
  assert_int_equal(op(rt, "c", "gone", NULL, VA_REMINDER_DELETE, &r), 0);
  assert_int_equal(op(rt, "c", "gone", NULL, VA_REMINDER_DELETE, &r),
                   VA_ENOTFOUND);
  sleep_ms(1500);
  assert_int_equal(atomic_load(&fires), 0);
  va_runtime_free(rt);
}

static void fires_after_a_restart_once_for_the_missed_periods(void **state) {
  (void)state;
  char path[256];
  db_path(path, sizeof(path), "restart");
  reset();
  va_runtime *rt = open_runtime(path);
  /* Every 300 ms from 400 ms on; the process is down from now to 1.5 s. */
  va_reminder spec = {.due_ms = va__wall_ms() + 400, .left = -1};
  assert_int_equal(va_parse_period("300ms", 5, &spec.period, &spec.left), 0);
  result r;
  assert_int_equal(op(rt, "d", "tick", &spec, VA_REMINDER_SET, &r), 0);
  va_runtime_free(rt);
  assert_int_equal(atomic_load(&fires), 0);
  sleep_ms(1500); /* four periods missed */
  int64_t restarted = va__wall_ms();
  rt = open_runtime(path);
  WAIT_UNTIL(atomic_load(&fires) >= 1);
  int64_t first = atomic_load(&first_fire_ms);
  /* The missed ones fire once, at once; the next comes a period later. */
  assert_true(first >= restarted);
  assert_int_equal(atomic_load(&fires), 1);
  WAIT_UNTIL(atomic_load(&fires) >= 2);
  assert_int_equal(op(rt, "d", "tick", NULL, VA_REMINDER_DELETE, &r), 0);
  va_runtime_free(rt);
}

static void failed_turn_fires_again(void **state) {
  (void)state;
  char path[256];
  db_path(path, sizeof(path), "retry");
  reset();
  atomic_store(&failures_left, 1);
  va_runtime *rt = open_runtime(path);
  va_reminder spec = {.due_ms = va__wall_ms(), .left = 1};
  result r;
  assert_int_equal(op(rt, "e", "retry", &spec, VA_REMINDER_SET, &r), 0);
  WAIT_UNTIL(atomic_load(&fires) == 1);
  assert_int_equal(atomic_load(&fires), 1);
  assert_int_equal(atomic_load(&failures_left), 0);
  va_runtime_free(rt);
}

static void reminders_are_listed(void **state) {
  (void)state;
  char path[256];
  db_path(path, sizeof(path), "list");
  reset();
  va_runtime *rt = open_runtime(path);
  va_reminder spec = {.due_ms = va__wall_ms() + 3600000, .left = 1};
  result r;
  assert_int_equal(op(rt, "g", NULL, NULL, VA_REMINDER_LIST, &r), 0);
  assert_int_equal(r.len, 0);
  assert_int_equal(op(rt, "g", "first", &spec, VA_REMINDER_SET, &r), 0);
  assert_int_equal(op(rt, "g", "second", &spec, VA_REMINDER_SET, &r), 0);
  assert_int_equal(op(rt, "g", NULL, NULL, VA_REMINDER_LIST, &r), 0);
  assert_int_equal(r.len, strlen("first") + strlen("second") + 2);
  bool first = false, second = false;
  for (size_t at = 0; at < r.len; at += strlen(r.reply + at) + 1) {
    first |= !strcmp(r.reply + at, "first");
    second |= !strcmp(r.reply + at, "second");
  }
  assert_true(first && second);
  assert_int_equal(op(rt, "g", "first", NULL, VA_REMINDER_DELETE, &r), 0);
  assert_int_equal(op(rt, "g", NULL, NULL, VA_REMINDER_LIST, &r), 0);
  assert_int_equal(r.len, strlen("second") + 1);
  assert_string_equal(r.reply, "second");
  va_runtime_free(rt);
}

static void bad_reminders_are_refused(void **state) {
  (void)state;
  char path[256];
  db_path(path, sizeof(path), "bad");
  va_runtime *rt = open_runtime(path);
  result r;
  va_reminder zero_left = {.due_ms = 1, .left = 0};
  assert_int_equal(op(rt, "f", "x", &zero_left, VA_REMINDER_SET, &r),
                   VA_EINVAL);
  va_reminder expired = {.due_ms = 100, .left = 1, .expires_ms = 50};
  assert_int_equal(op(rt, "f", "x", &expired, VA_REMINDER_SET, &r),
                   VA_EINVAL);
  assert_int_equal(va_reminder_call(rt, T_R, "f", 1, "", &expired,
                                    VA_REMINDER_SET, on_result, &r),
                   VA_EINVAL);
  va_runtime_free(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fires_when_due_and_never_early),
      cmocka_unit_test(repetitions_stop_after_n),
      cmocka_unit_test(deleted_reminder_never_fires),
      cmocka_unit_test(fires_after_a_restart_once_for_the_missed_periods),
      cmocka_unit_test(failed_turn_fires_again),
      cmocka_unit_test(reminders_are_listed),
      cmocka_unit_test(bad_reminders_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
