/* test_turns.c — calls made inside turns: the continuation runs in the same
 * turn and the actor takes no other message meanwhile; a call cycle among
 * non-reentrant actors fails at once (invariant 9) while a reentrant type
 * admits it; every call has a deadline; a full mailbox answers backpressure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "helpers.h"

static int T_NODE, T_RNODE, T_ONODE, M_SUM, M_GET, M_PING, M_BOUNCE, M_PONG,
    M_SLEEP, M_ASK, M_ADD, M_AWAIT;
static atomic_int sleep_done;

typedef struct node {
  int64_t value;
  int parts; /* answers the open "sum" turn has received */
} node;

/* add: value += arg. */
static int node_add(va_turn *t, const void *arg, size_t len) {
  node *n = va_turn_self(t);
  n->value += arg_i64(arg, len);
  return reply_i64(t, n->value);
}

static int node_get(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  node *n = va_turn_self(t);
  return reply_i64(t, n->value);
}

/* sum: sets value to left's value plus right's, replies it. While it waits,
 * an "add" sent to this actor must wait too. */
static int got_part(va_turn *t, void *user, int status, const void *data,
                    size_t len) {
  (void)user;
  if (status)
    return status;
  node *n = va_turn_self(t);
  n->value += arg_i64(data, len);
  return ++n->parts == 2 ? reply_i64(t, n->value) : 0;
}

static int node_sum(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  node *n = va_turn_self(t);
  n->value = 0;
  n->parts = 0;
  int rc = va_turn_call(t, T_NODE, "left", 4, M_GET, NULL, 0, got_part, NULL);
  if (rc == 0)
    rc = va_turn_call(t, T_NODE, "right", 5, M_GET, NULL, 0, got_part, NULL);
  return rc;
}

/* ping -> other.bounce -> back to us: pong. */
static int pass_through(va_turn *t, void *user, int status, const void *data,
                        size_t len) {
  (void)user;
  return status ? status : va_turn_reply(t, data, len);
}

static int node_ping(va_turn *t, const void *arg, size_t len) {
  size_t idlen;
  const char *id = va_turn_id(t, &idlen);
  /* arg: the id of the actor to bounce through */
  (void)idlen;
  return va_turn_call(t, T_NODE, arg, len, M_BOUNCE, id, idlen, pass_through,
                      NULL);
}

static int node_bounce(va_turn *t, const void *arg, size_t len) {
  /* arg: the caller's id; the caller's type is told by the id's prefix. */
  int type = len && ((const char *)arg)[0] == 'r' ? T_RNODE : T_NODE;
  return va_turn_call(t, type, arg, len, M_PONG, NULL, 0, pass_through, NULL);
}

static int node_pong(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  return reply_i64(t, 4242);
}

/* sleep: blocks its thread (as a method must not): used to hold a worker. */
static int node_sleep(va_turn *t, const void *arg, size_t len) {
  sleep_ms((long)arg_i64(arg, len));
  atomic_fetch_add(&sleep_done, 1);
  return reply_i64(t, 1);
}

/* ask: calls arg's actor "sleep 2000"; records the call's status and
 * whether the callee had finished by then. */
static atomic_long ask_result = -1;
static int got_status(va_turn *t, void *user, int status, const void *data,
                      size_t len) {
  (void)t, (void)user, (void)data, (void)len;
  atomic_store(&ask_result, status * 10 + atomic_load(&sleep_done));
  return 0;
}

static int node_ask(va_turn *t, const void *arg, size_t len) {
  int64_t ms = 2000;
  return va_turn_call(t, T_NODE, arg, len, M_SLEEP, &ms, sizeof(ms), got_status,
                      NULL);
}

/* await: waits for the test thread (va_await_done with an int64), adds it
 * to the value and replies the sum. */
static _Atomic(va_await *) ticket;
static int awaited(va_turn *t, void *user, int status, const void *data,
                   size_t len) {
  (void)user;
  if (status)
    return status;
  node *n = va_turn_self(t);
  n->value += arg_i64(data, len);
  return reply_i64(t, n->value);
}

static int node_await(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  va_await *a;
  int rc = va_turn_await(t, awaited, NULL, &a);
  if (rc == 0)
    atomic_store(&ticket, a);
  return rc;
}

static va_runtime *new_runtime(va_config *cfg) {
  va_runtime *rt;
  assert_int_equal(va_runtime_new(cfg, &rt), 0);
  static const va_method methods[] = {
      {"sum", node_sum},       {"get", node_get},   {"ping", node_ping},
      {"bounce", node_bounce}, {"pong", node_pong}, {"sleep", node_sleep},
      {"ask", node_ask},       {"add", node_add},   {"await", node_await}};
  va_type_def def = {.name = "Node",
                     .methods = methods,
                     .n_methods = 9,
                     .instance_size = sizeof(node)};
  T_NODE = va_register_type(rt, &def);
  def.name = "RNode";
  def.flags = VA_TYPE_REENTRANT;
  T_RNODE = va_register_type(rt, &def);
  def.name = "ONode";
  def.flags = VA_TYPE_OPEN_STATE;
  T_ONODE = va_register_type(rt, &def);
  assert_true(T_NODE >= 0 && T_RNODE >= 0);
  M_SUM = va_method_lookup(rt, T_NODE, "sum");
  M_GET = va_method_lookup(rt, T_NODE, "get");
  M_PING = va_method_lookup(rt, T_NODE, "ping");
  M_BOUNCE = va_method_lookup(rt, T_NODE, "bounce");
  M_PONG = va_method_lookup(rt, T_NODE, "pong");
  M_SLEEP = va_method_lookup(rt, T_NODE, "sleep");
  M_ASK = va_method_lookup(rt, T_NODE, "ask");
  M_ADD = va_method_lookup(rt, T_NODE, "add");
  M_AWAIT = va_method_lookup(rt, T_NODE, "await");
  atomic_store(&sleep_done, 0);
  return rt;
}

static atomic_int replies;
static int64_t reply_values[4];
static void store_reply(void *user, int status, const void *data, size_t len) {
  int slot = (int)(intptr_t)user;
  reply_values[slot] = status ? status : arg_i64(data, len);
  atomic_fetch_add(&replies, 1);
}

static void continuation_runs_in_the_same_turn(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL);
  assert_int_equal(va_runtime_start(rt), 0);
  int64_t v;
  assert_int_equal(call_i64(rt, T_NODE, "left", M_ADD, 30, &v), 0);
  assert_int_equal(call_i64(rt, T_NODE, "right", M_ADD, 12, &v), 0);
  /* Hold left's worker so that sum's first call is slow to answer, then
   * send sum and, right behind it, an add to the same actor. */
  int64_t ms = 200;
  atomic_store(&replies, 0);
  char sleeper[32];
  uint64_t h = va__hash_id((uint16_t)T_NODE, "left", 4);
  id_on_worker(rt, T_NODE, va__worker_of(rt, h), "sleeper", sleeper,
               sizeof(sleeper));
  assert_int_equal(va_call(rt, T_NODE, sleeper, strlen(sleeper), M_SLEEP, &ms,
                           sizeof(ms), store_reply, (void *)2),
                   0);
  assert_int_equal(
      va_call(rt, T_NODE, "top", 3, M_SUM, NULL, 0, store_reply, (void *)0), 0);
  int64_t five = 5;
  assert_int_equal(va_call(rt, T_NODE, "top", 3, M_ADD, &five, sizeof(five),
                           store_reply, (void *)1),
                   0);
  WAIT_UNTIL(atomic_load(&replies) == 3);
  assert_int_equal(reply_values[0], 42);
  /* add ran after the whole sum turn: 42 + 5. */
  assert_int_equal(reply_values[1], 47);
  va_runtime_free(rt);
}

static void call_cycle_fails_fast_with_deadlock(void **state) {
  (void)state;
  va_config cfg;
  va_config_init(&cfg);
  cfg.call_timeout_ms = 60000; /* a hang would be caught by ctest instead */
  va_runtime *rt = new_runtime(&cfg);
  assert_int_equal(va_runtime_start(rt), 0);
  /* a.ping -> b.bounce -> a.pong: a is waiting on this very chain. */
  int rc = va_call_wait(rt, T_NODE, "a", 1, M_PING, "b", 1, NULL, NULL);
  assert_int_equal(rc, VA_EDEADLK);
  va_stats st;
  va_runtime_stats(rt, &st);
  assert_int_equal(st.deadlocks, 1);
  /* Both actors serve again afterwards. */
  int64_t v;
  assert_int_equal(call_i64(rt, T_NODE, "a", M_ADD, 1, &v), 0);
  assert_int_equal(call_i64(rt, T_NODE, "b", M_ADD, 1, &v), 0);
  va_runtime_free(rt);
}

static void reentrant_type_admits_its_own_chain(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL);
  assert_int_equal(va_runtime_start(rt), 0);
  void *reply = NULL;
  size_t len = 0;
  int rc = va_call_wait(rt, T_RNODE, "ra", 2, M_PING, "b", 1, &reply, &len);
  assert_int_equal(rc, 0);
  assert_int_equal(len, sizeof(int64_t));
  assert_int_equal(arg_i64(reply, len), 4242);
  free(reply);
  va_runtime_free(rt);
}

static void call_from_a_turn_times_out(void **state) {
  (void)state;
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = 2;
  cfg.call_timeout_ms = 100;
  va_runtime *rt = new_runtime(&cfg);
  assert_int_equal(va_runtime_start(rt), 0);
  char asker[32], sleeper[32];
  id_on_worker(rt, T_NODE, 0, "asker", asker, sizeof(asker));
  id_on_worker(rt, T_NODE, 1, "sleeper", sleeper, sizeof(sleeper));
  atomic_store(&ask_result, -1);
  assert_int_equal(va_send(rt, T_NODE, asker, strlen(asker), M_ASK, sleeper,
                           strlen(sleeper)),
                   0);
  WAIT_UNTIL(atomic_load(&ask_result) != -1);
  /* ETIMEDOUT, delivered while the callee still slept (sleep_done == 0). */
  assert_int_equal(atomic_load(&ask_result), VA_ETIMEDOUT * 10 + 0);
  va_stats st;
  va_runtime_stats(rt, &st);
  assert_true(st.timeouts >= 1);
  va_runtime_free(rt); /* waits for the sleeper's turn to end */
}

static void external_call_times_out_and_late_reply_is_dropped(void **state) {
  (void)state;
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = 1;
  cfg.call_timeout_ms = 50;
  va_runtime *rt = new_runtime(&cfg);
  assert_int_equal(va_runtime_start(rt), 0);
  atomic_store(&replies, 0);
  int64_t ms = 300;
  /* The first call holds the only worker past its deadline. The second is
   * made while the worker sleeps: its deadline passes before the worker
   * even sees it, and it must not run once its caller has given up. */
  assert_int_equal(va_call(rt, T_NODE, "s", 1, M_SLEEP, &ms, sizeof(ms),
                           store_reply, (void *)0),
                   0);
  sleep_ms(20);
  assert_int_equal(va_call(rt, T_NODE, "s", 1, M_SLEEP, &ms, sizeof(ms),
                           store_reply, (void *)1),
                   0);
  WAIT_UNTIL(atomic_load(&replies) == 2);
  assert_int_equal(reply_values[0], VA_ETIMEDOUT);
  assert_int_equal(reply_values[1], VA_ETIMEDOUT);
  sleep_ms(50);
  assert_int_equal(atomic_load(&replies), 2);    /* exactly once each */
  assert_int_equal(atomic_load(&sleep_done), 1); /* the second never ran */
  va_runtime_free(rt);
}

static void await_resumes_the_turn_from_another_thread(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL);
  assert_int_equal(va_runtime_start(rt), 0);
  atomic_store(&replies, 0);
  atomic_store(&ticket, NULL);
  assert_int_equal(
      va_call(rt, T_NODE, "w", 1, M_AWAIT, NULL, 0, store_reply, (void *)0), 0);
  int64_t five = 5;
  assert_int_equal(va_call(rt, T_NODE, "w", 1, M_ADD, &five, sizeof(five),
                           store_reply, (void *)1),
                   0);
  WAIT_UNTIL(atomic_load(&ticket) != NULL);
  sleep_ms(50);
  assert_int_equal(atomic_load(&replies), 0); /* add waits for the turn */
  int64_t forty = 40;
  va_await_done(atomic_load(&ticket), 0, &forty, sizeof(forty));
  WAIT_UNTIL(atomic_load(&replies) == 2);
  assert_int_equal(reply_values[0], 40);
  assert_int_equal(reply_values[1], 45);
  assert_int_equal(va_runtime_active_of(rt, T_NODE), 1); /* "w" */
  assert_int_equal(va_runtime_active_of(rt, T_RNODE), 0);
  assert_string_equal(va_type_name(rt, T_RNODE), "RNode");
  assert_int_equal(va_type_count(rt), 3);
  va_runtime_free(rt);
}

static void await_times_out_and_a_late_outcome_is_dropped(void **state) {
  (void)state;
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = 1;
  cfg.call_timeout_ms = 50;
  va_runtime *rt = new_runtime(&cfg);
  assert_int_equal(va_runtime_start(rt), 0);
  atomic_store(&replies, 0);
  atomic_store(&ticket, NULL);
  assert_int_equal(
      va_call(rt, T_NODE, "w", 1, M_AWAIT, NULL, 0, store_reply, (void *)0), 0);
  WAIT_UNTIL(atomic_load(&replies) == 1);
  assert_int_equal(reply_values[0], VA_ETIMEDOUT);
  /* The caller's deadline may pass before the turn's own (it started
   * first; on a busy machine, well before): the turn is over once another
   * call to the actor runs, which is retried while it times out too. */
  int64_t v = -1;
  int rc = VA_ETIMEDOUT;
  for (int i = 0; i < 200 && rc == VA_ETIMEDOUT; i++)
    rc = call_i64(rt, T_NODE, "w", M_GET, 0, &v);
  assert_int_equal(rc, 0);
  int64_t one = 1;
  va_await_done(atomic_load(&ticket), 0, &one, sizeof(one));
  rc = VA_ETIMEDOUT;
  for (int i = 0; i < 200 && rc == VA_ETIMEDOUT; i++)
    rc = call_i64(rt, T_NODE, "w", M_GET, 0, &v);
  assert_int_equal(rc, 0);
  assert_int_equal(v, 0); /* the late outcome never ran the continuation */
  assert_int_equal(atomic_load(&replies), 1);
  va_runtime_free(rt);
}

static atomic_int saved;
static void count_saved(void *user, int status, const void *data, size_t len) {
  (void)user, (void)data, (void)len;
  atomic_store(&saved, status == 0 ? 1 : status);
}

static atomic_int read_done;
static char read_value[16];
static void store_read(void *user, int status, const void *data, size_t len) {
  (void)user;
  if (status == 0 && len < sizeof(read_value)) {
    memcpy(read_value, data, len);
    read_value[len] = 0;
  }
  atomic_store(&read_done, status == 0 ? 1 : status);
}

/* While an "await" turn waits: a state write from outside to an
 * OPEN_STATE actor joins the turn at once; to another type it waits. */
static void outside_state_joins_an_open_turn_only_when_asked(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL);
  assert_int_equal(va_runtime_start(rt), 0);
  va_state_batch batch = {0};
  assert_int_equal(va_state_batch_put(&batch, "k", "v1", 2, 0), 0);
  for (int open = 1; open >= 0; open--) {
    int type = open ? T_ONODE : T_NODE;
    atomic_store(&replies, 0);
    atomic_store(&ticket, NULL);
    atomic_store(&saved, 0);
    atomic_store(&read_done, 0);
    assert_int_equal(
        va_call(rt, type, "o", 1, M_AWAIT, NULL, 0, store_reply, (void *)0), 0);
    WAIT_UNTIL(atomic_load(&ticket) != NULL);
    assert_int_equal(
        va_state_write(rt, type, "o", 1, &batch, count_saved, NULL), 0);
    sleep_ms(50);
    assert_int_equal(atomic_load(&saved), open); /* joined, or waiting */
    if (open) {
      assert_int_equal(va_state_read(rt, type, "o", 1, "k", store_read, NULL),
                       0);
      WAIT_UNTIL(atomic_load(&read_done) != 0);
      assert_string_equal(read_value, "v1"); /* the open turn's write */
    }
    int64_t two = 2;
    va_await_done(atomic_load(&ticket), 0, &two, sizeof(two));
    WAIT_UNTIL(atomic_load(&replies) == 1 && atomic_load(&saved) == 1);
    atomic_store(&read_done, 0);
    read_value[0] = 0;
    assert_int_equal(va_state_read(rt, type, "o", 1, "k", store_read, NULL), 0);
    WAIT_UNTIL(atomic_load(&read_done) != 0);
    assert_string_equal(read_value, "v1"); /* saved with the turn */
  }
  va_state_batch_free(&batch);
  va_runtime_free(rt);
}

static atomic_int ok_replies, bp_replies;
static void classify(void *user, int status, const void *data, size_t len) {
  (void)user, (void)data, (void)len;
  if (status == 0)
    atomic_fetch_add(&ok_replies, 1);
  else if (status == VA_EBACKPRESSURE)
    atomic_fetch_add(&bp_replies, 1);
}

static void full_mailbox_answers_backpressure(void **state) {
  (void)state;
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = 1;
  cfg.mailbox_bound = 8;
  va_runtime *rt = new_runtime(&cfg);
  assert_int_equal(va_runtime_start(rt), 0);
  atomic_store(&ok_replies, 0);
  atomic_store(&bp_replies, 0);
  int64_t ms = 200, one = 1;
  assert_int_equal(
      va_call(rt, T_NODE, "busy", 4, M_SLEEP, &ms, sizeof(ms), classify, NULL),
      0);
  sleep_ms(20); /* the worker is now inside the sleep */
  int refused_now = 0, accepted = 0;
  for (int i = 0; i < 100; i++) {
    int rc = va_call(rt, T_NODE, "busy", 4, M_ADD, &one, sizeof(one), classify,
                     NULL);
    if (rc == VA_EBACKPRESSURE)
      refused_now++;
    else if (rc == 0)
      accepted++;
  }
  assert_int_equal(refused_now + accepted, 100);
  assert_true(refused_now > 0); /* the inbox bound held the sender back */
  WAIT_UNTIL(atomic_load(&ok_replies) + atomic_load(&bp_replies) ==
             accepted + 1);
  /* Whatever was accepted either ran or was refused with backpressure. */
  int64_t v = -1;
  assert_int_equal(call_i64(rt, T_NODE, "busy", M_GET, 0, &v), 0);
  assert_int_equal(v, atomic_load(&ok_replies) - 1);
  va_runtime_free(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(continuation_runs_in_the_same_turn),
      cmocka_unit_test(call_cycle_fails_fast_with_deadlock),
      cmocka_unit_test(reentrant_type_admits_its_own_chain),
      cmocka_unit_test(call_from_a_turn_times_out),
      cmocka_unit_test(external_call_times_out_and_late_reply_is_dropped),
      cmocka_unit_test(full_mailbox_answers_backpressure),
      cmocka_unit_test(await_resumes_the_turn_from_another_thread),
      cmocka_unit_test(await_times_out_and_a_late_outcome_is_dropped),
      cmocka_unit_test(outside_state_joins_an_open_turn_only_when_asked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
