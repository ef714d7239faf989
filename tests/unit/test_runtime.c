/* test_runtime.c — the runtime's lifecycle and an actor's life: errors,
 * activation on the first message, state kept across turns, rollback of a
 * failed turn (invariant 2), idle deactivation and reactivation with state
 * (invariant 7), resolved references, and stop draining what is in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "helpers.h"

static atomic_int activations_seen, deactivations_seen;
static int T_ACC, M_ADD, M_GET, M_FAIL, M_NOOP, M_TICK, M_START, M_STOP;
static atomic_int ticks;

/* Accumulator: "total" in state. */
static int acc_add(va_turn *t, const void *arg, size_t len) {
  int64_t total = state_i64(t, "total") + arg_i64(arg, len);
  int rc = va_turn_state_set(t, "total", &total, sizeof(total));
  return rc ? rc : reply_i64(t, total);
}

static int acc_get(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  return reply_i64(t, state_i64(t, "total"));
}

/* Writes two keys, then fails: neither write may survive. */
static int acc_fail(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  int64_t junk = 999;
  va_turn_state_set(t, "total", &junk, sizeof(junk));
  va_turn_state_set(t, "other", &junk, sizeof(junk));
  va_turn_reply(t, "never seen", 10);
  return -1000;
}

static int acc_noop(va_turn *t, const void *arg, size_t len) {
  (void)t, (void)arg, (void)len;
  return 0;
}

/* tick: what the timer calls; start/stop: a 10 ms periodic timer. */
static int acc_tick(va_turn *t, const void *arg, size_t len) {
  (void)t;
  if (len == 4 && !memcmp(arg, "tick", 4))
    atomic_fetch_add(&ticks, 1);
  return 0;
}

static int acc_start(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  va_timer_spec spec = {.due_ms = 10,
                        .period_ms = 10,
                        .method = M_TICK,
                        .data = "tick",
                        .len = 4};
  return va_turn_timer_start(t, "ticker", &spec);
}

static int acc_stop(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  return va_turn_timer_stop(t, "ticker");
}

static int acc_activate(va_turn *t) {
  size_t len;
  const char *id = va_turn_id(t, &len);
  if (len == 3 && !memcmp(id, "bad", 3))
    return -77; /* this actor refuses to activate */
  atomic_fetch_add(&activations_seen, 1);
  return 0;
}

static int acc_deactivate(va_turn *t) {
  (void)t;
  atomic_fetch_add(&deactivations_seen, 1);
  return 0;
}

static va_runtime *new_runtime(va_config *cfg) {
  va_runtime *rt;
  assert_int_equal(va_runtime_new(cfg, &rt), 0);
  static const va_method methods[] = {{"add", acc_add},   {"get", acc_get},
                                      {"fail", acc_fail}, {"noop", acc_noop},
                                      {"tick", acc_tick}, {"start", acc_start},
                                      {"stop", acc_stop}};
  va_type_def def = {.name = "Acc",
                     .methods = methods,
                     .n_methods = 7,
                     .on_activate = acc_activate,
                     .on_deactivate = acc_deactivate};
  T_ACC = va_register_type(rt, &def);
  assert_true(T_ACC >= 0);
  M_ADD = va_method_lookup(rt, T_ACC, "add");
  M_GET = va_method_lookup(rt, T_ACC, "get");
  M_FAIL = va_method_lookup(rt, T_ACC, "fail");
  M_NOOP = va_method_lookup(rt, T_ACC, "noop");
  M_TICK = va_method_lookup(rt, T_ACC, "tick");
  M_START = va_method_lookup(rt, T_ACC, "start");
  M_STOP = va_method_lookup(rt, T_ACC, "stop");
  atomic_store(&ticks, 0);
  atomic_store(&activations_seen, 0);
  atomic_store(&deactivations_seen, 0);
  return rt;
}

static void errors_have_names_and_messages(void **state) {
  (void)state;
  assert_string_equal(va_strerror(VA_ETIMEDOUT), "call timed out");
  assert_string_equal(va_err_name(VA_EDEADLK), "VA_EDEADLK");
  assert_string_equal(va_strerror(-12345), "application error");
  assert_string_equal(va_err_name(-12345), "VA_UNKNOWN");
}

static void registration_rules_are_enforced(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL);
  static const va_method dup[] = {{"a", acc_noop}, {"a", acc_noop}};
  va_type_def def = {.name = "Dup", .methods = dup, .n_methods = 2};
  assert_int_equal(va_register_type(rt, &def), VA_EEXIST);
  def.n_methods = 1;
  def.name = "Acc";
  assert_int_equal(va_register_type(rt, &def), VA_EEXIST);
  def.name = "";
  assert_int_equal(va_register_type(rt, &def), VA_EINVAL);
  assert_int_equal(va_type_lookup(rt, "Nope"), VA_ENOTYPE);
  assert_int_equal(va_method_lookup(rt, T_ACC, "nope"), VA_ENOMETHOD);
  assert_int_equal(va_method_lookup(rt, 99, "add"), VA_ENOTYPE);
  /* Calls before start are refused. */
  assert_int_equal(va_send(rt, T_ACC, "x", 1, M_NOOP, NULL, 0), VA_ESTOPPED);
  assert_int_equal(va_runtime_start(rt), 0);
  def.name = "Late";
  assert_int_equal(va_register_type(rt, &def), VA_ESTATE);
  assert_int_equal(va_runtime_start(rt), VA_ESTATE);
  va_runtime_free(rt);
}

static void bad_targets_are_errors_not_crashes(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL);
  assert_int_equal(va_runtime_start(rt), 0);
  assert_int_equal(call_i64(rt, 42, "x", M_GET, 0, NULL), VA_ENOTYPE);
  assert_int_equal(call_i64(rt, T_ACC, "x", 42, 0, NULL), VA_ENOMETHOD);
  assert_int_equal(call_i64(rt, T_ACC, "x", -1, 0, NULL), VA_ENOMETHOD);
  assert_int_equal(va_call_wait(rt, T_ACC, "", 0, M_GET, NULL, 0, NULL, NULL),
                   VA_EINVAL);
  char *huge = calloc(1, 100000);
  memset(huge, 'x', 99999);
  assert_int_equal(
      va_call_wait(rt, T_ACC, huge, 99999, M_GET, NULL, 0, NULL, NULL),
      VA_ETOOBIG);
  free(huge);
  /* A failing activate hook fails the call; the actor is not created. */
  assert_int_equal(call_i64(rt, T_ACC, "bad", M_GET, 0, NULL), -77);
  va_stats st;
  va_runtime_stats(rt, &st);
  assert_int_equal(st.active_actors, 0);
  va_runtime_free(rt);
}

static void actors_activate_on_first_message_and_keep_state(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL);
  assert_int_equal(va_runtime_start(rt), 0);
  int64_t v = 0;
  assert_int_equal(call_i64(rt, T_ACC, "alice", M_ADD, 5, &v), 0);
  assert_int_equal(v, 5);
  assert_int_equal(call_i64(rt, T_ACC, "alice", M_ADD, 7, &v), 0);
  assert_int_equal(v, 12);
  assert_int_equal(call_i64(rt, T_ACC, "bob", M_ADD, 1, &v), 0);
  assert_int_equal(v, 1);
  va_stats st;
  va_runtime_stats(rt, &st);
  assert_int_equal(st.activations, 2);
  assert_int_equal(st.active_actors, 2);
  assert_int_equal(atomic_load(&activations_seen), 2);
  va_runtime_free(rt);
}

static void failed_turn_leaves_state_as_it_was(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL);
  assert_int_equal(va_runtime_start(rt), 0);
  int64_t v = 0;
  assert_int_equal(call_i64(rt, T_ACC, "carol", M_ADD, 10, &v), 0);
  void *reply = (void *)1;
  size_t len = 1;
  assert_int_equal(
      va_call_wait(rt, T_ACC, "carol", 5, M_FAIL, NULL, 0, &reply, &len),
      -1000);
  assert_null(reply);
  assert_int_equal(len, 0);
  assert_int_equal(call_i64(rt, T_ACC, "carol", M_GET, 0, &v), 0);
  assert_int_equal(v, 10);
  va_stats st;
  va_runtime_stats(rt, &st);
  assert_int_equal(st.turns_failed, 1);
  va_runtime_free(rt);
}

static void idle_actor_deactivates_and_returns_with_state(void **state) {
  (void)state;
  va_config cfg;
  va_config_init(&cfg);
  cfg.idle_timeout_ms = 50;
  cfg.scan_interval_ms = 10;
  va_runtime *rt = new_runtime(&cfg);
  assert_int_equal(va_runtime_start(rt), 0);
  int64_t v = 0;
  assert_int_equal(call_i64(rt, T_ACC, "dave", M_ADD, 42, &v), 0);
  va_stats st;
  WAIT_UNTIL((va_runtime_stats(rt, &st), st.deactivations >= 1));
  assert_int_equal(st.deactivations, 1);
  assert_int_equal(st.active_actors, 0);
  assert_int_equal(atomic_load(&deactivations_seen), 1);
  assert_int_equal(call_i64(rt, T_ACC, "dave", M_GET, 0, &v), 0);
  assert_int_equal(v, 42);
  va_runtime_stats(rt, &st);
  assert_int_equal(st.activations, 2);
  va_runtime_free(rt);
}

static void a_type_may_have_its_own_idle_timeout(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL); /* the runtime's: 60 minutes */
  static const va_method methods[] = {{"add", acc_add}};
  va_type_def def = {.name = "Short", .methods = methods, .n_methods = 1};
  int short_type = va_register_type(rt, &def);
  assert_true(short_type >= 0);
  assert_int_equal(va_runtime_start(rt), 0);
  assert_int_equal(va_type_set_idle_timeout(rt, short_type, 50), 0);
  int64_t v = 0;
  assert_int_equal(call_i64(rt, T_ACC, "long", M_ADD, 1, &v), 0);
  assert_int_equal(call_i64(rt, short_type, "brief", 0, 1, &v), 0);
  va_stats st;
  WAIT_UNTIL((va_runtime_stats(rt, &st), st.deactivations >= 1));
  assert_int_equal(va_runtime_active_of(rt, short_type), 0);
  assert_int_equal(va_runtime_active_of(rt, T_ACC), 1);
  assert_int_equal(va_type_set_idle_timeout(rt, 99, 50), VA_EINVAL);
  va_runtime_free(rt);
}

static atomic_int ref_replies;
static void count_reply(void *user, int status, const void *data, size_t len) {
  (void)data, (void)len;
  int64_t *last = user;
  if (status == 0) {
    memcpy(last, data, sizeof(*last));
    atomic_fetch_add(&ref_replies, 1);
  }
}

static void references_survive_deactivation(void **state) {
  (void)state;
  va_config cfg;
  va_config_init(&cfg);
  cfg.idle_timeout_ms = 30;
  cfg.scan_interval_ms = 10;
  va_runtime *rt = new_runtime(&cfg);
  assert_int_equal(va_runtime_start(rt), 0);
  va_ref *ref;
  assert_int_equal(va_ref_new(rt, T_ACC, "erin", 4, &ref), 0);
  int64_t one = 1, last = 0;
  atomic_store(&ref_replies, 0);
  for (int i = 0; i < 100; i++)
    assert_int_equal(
        va_ref_call(ref, M_ADD, &one, sizeof(one), count_reply, &last), 0);
  WAIT_UNTIL(atomic_load(&ref_replies) == 100);
  assert_int_equal(last, 100);
  va_stats st;
  WAIT_UNTIL((va_runtime_stats(rt, &st), st.deactivations >= 1));
  assert_int_equal(
      va_ref_call(ref, M_ADD, &one, sizeof(one), count_reply, &last), 0);
  WAIT_UNTIL(atomic_load(&ref_replies) == 101);
  assert_int_equal(last, 101);
  /* The reference and the id name the same actor. */
  int64_t v;
  assert_int_equal(call_i64(rt, T_ACC, "erin", M_GET, 0, &v), 0);
  assert_int_equal(v, 101);
  va_ref_free(ref);
  va_runtime_free(rt);
}

static atomic_long drained;
static void count_done(void *user, int status, const void *data, size_t len) {
  (void)user, (void)data, (void)len;
  if (status == 0)
    atomic_fetch_add(&drained, 1);
}

static void stop_drains_in_flight_calls_and_deactivates(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL);
  assert_int_equal(va_runtime_start(rt), 0);
  atomic_store(&drained, 0);
  long accepted = 0;
  char id[32];
  int64_t one = 1;
  for (int i = 0; i < 20000; i++) {
    snprintf(id, sizeof(id), "a%d", i % 500);
    if (va_call(rt, T_ACC, id, strlen(id), M_ADD, &one, sizeof(one), count_done,
                NULL) == 0)
      accepted++;
  }
  assert_int_equal(va_runtime_stop(rt), 0);
  assert_int_equal(atomic_load(&drained), accepted);
  assert_int_equal(atomic_load(&deactivations_seen), 500);
  assert_int_equal(
      va_call(rt, T_ACC, "a1", 2, M_GET, NULL, 0, count_done, NULL),
      VA_ESTOPPED);
  assert_int_equal(va_runtime_stop(rt), 0); /* twice is harmless */
  va_runtime_free(rt);
}

static void timer_fires_until_stopped(void **state) {
  (void)state;
  va_config cfg;
  va_config_init(&cfg);
  cfg.min_period_ms = 10; /* the timer's period: the floor allows it */
  va_runtime *rt = new_runtime(&cfg);
  assert_int_equal(va_runtime_start(rt), 0);
  assert_int_equal(call_i64(rt, T_ACC, "timed", M_START, 0, NULL), 0);
  WAIT_UNTIL(atomic_load(&ticks) >= 3);
  assert_true(atomic_load(&ticks) >= 3);
  assert_int_equal(call_i64(rt, T_ACC, "timed", M_STOP, 0, NULL), 0);
  int after = atomic_load(&ticks);
  sleep_ms(60);
  assert_int_equal(atomic_load(&ticks), after);
  assert_int_equal(call_i64(rt, T_ACC, "timed", M_STOP, 0, NULL), VA_ENOTFOUND);
  va_runtime_free(rt);
}

static void
timer_dies_with_its_activation_and_keeps_nothing_alive(void **state) {
  (void)state;
  va_config cfg;
  va_config_init(&cfg);
  cfg.idle_timeout_ms = 100;
  cfg.scan_interval_ms = 10;
  cfg.min_period_ms = 10;
  va_runtime *rt = new_runtime(&cfg);
  assert_int_equal(va_runtime_start(rt), 0);
  assert_int_equal(call_i64(rt, T_ACC, "timed", M_START, 0, NULL), 0);
  va_stats st;
  /* The timer ticks every 10 ms, yet the actor goes idle and away. */
  WAIT_UNTIL((va_runtime_stats(rt, &st), st.deactivations >= 1));
  assert_int_equal(st.deactivations, 1);
  assert_true(atomic_load(&ticks) >= 3);
  int after = atomic_load(&ticks);
  sleep_ms(60);
  assert_int_equal(atomic_load(&ticks), after);
  va_runtime_free(rt);
}

/* Under the runtime's floor (1 s by default) a period is refused. */
static void timer_under_the_floor_is_refused(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL);
  assert_int_equal(va_runtime_start(rt), 0);
  assert_int_equal(call_i64(rt, T_ACC, "timed", M_START, 0, NULL), VA_EINVAL);
  assert_int_equal(call_i64(rt, T_ACC, "timed", M_STOP, 0, NULL), VA_ENOTFOUND);
  va_runtime_free(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(errors_have_names_and_messages),
      cmocka_unit_test(registration_rules_are_enforced),
      cmocka_unit_test(bad_targets_are_errors_not_crashes),
      cmocka_unit_test(actors_activate_on_first_message_and_keep_state),
      cmocka_unit_test(failed_turn_leaves_state_as_it_was),
      cmocka_unit_test(idle_actor_deactivates_and_returns_with_state),
      cmocka_unit_test(a_type_may_have_its_own_idle_timeout),
      cmocka_unit_test(references_survive_deactivation),
      cmocka_unit_test(stop_drains_in_flight_calls_and_deactivates),
      cmocka_unit_test(timer_fires_until_stopped),
      cmocka_unit_test(timer_dies_with_its_activation_and_keeps_nothing_alive),
      cmocka_unit_test(timer_under_the_floor_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
