/* test_concurrency.c — invariants 1 and 6 with real threads: one turn at a
 * time per actor (a non-atomic read-modify-write never loses an update),
 * FIFO per sender (from outside threads and from actors), counts that add
 * up across many actors and threads, and actors running in parallel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "helpers.h"
#include <sched.h>

enum { SENDERS = 8 };

static int T_C, M_RMW, M_GET, M_SEQ, M_CHECK, M_FLOOD, M_SLEEP;

typedef struct counter {
  volatile int64_t n;        /* updated with a deliberately racy pattern */
  int64_t next[SENDERS + 1]; /* next expected sequence number per sender */
  int64_t violations;
  int64_t received;
} counter;

/* rmw: read state and memory, yield the CPU, write back + 1. Two turns of
 * one actor running at once would lose updates. */
static int c_rmw(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  counter *c = va_turn_self(t);
  int64_t mem = c->n, st = state_i64(t, "n");
  if ((mem & 7) == 0)
    sched_yield();
  c->n = mem + 1;
  st++;
  return va_turn_state_set(t, "n", &st, sizeof(st));
}

static int c_get(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  counter *c = va_turn_self(t);
  int64_t st = state_i64(t, "n");
  return reply_i64(t, st == c->n ? st : -1);
}

/* seq: body is {sender, seq}; checks arrival order per sender. */
static int c_seq(va_turn *t, const void *arg, size_t len) {
  int64_t msg[2];
  if (len != sizeof(msg))
    return VA_EINVAL;
  memcpy(msg, arg, sizeof(msg));
  counter *c = va_turn_self(t);
  if (msg[1] != c->next[msg[0]])
    c->violations++;
  c->next[msg[0]] = msg[1] + 1;
  c->received++;
  return 0;
}

static int c_check(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  counter *c = va_turn_self(t);
  return reply_i64(t, c->violations * 1000000000 + c->received);
}

/* flood: an actor as sender: sends `arg` seq messages to "fifo-target" as
 * sender SENDERS, in chunks, continuing itself with a one-way message. */
static int c_flood(va_turn *t, const void *arg, size_t len) {
  counter *c = va_turn_self(t);
  int64_t total = arg_i64(arg, len);
  for (int i = 0; i < 100 && c->received < total; i++) {
    int64_t msg[2] = {SENDERS, c->received};
    int rc = va_turn_send(t, T_C, "fifo-target", 11, M_SEQ, msg, sizeof(msg));
    if (rc == VA_EBACKPRESSURE)
      break; /* retry this number in the next chunk */
    if (rc)
      return rc;
    c->received++;
  }
  if (c->received < total)
    return va_turn_send(t, T_C, "flooder", 7, M_FLOOD, arg, len);
  return 0;
}

static int c_sleep(va_turn *t, const void *arg, size_t len) {
  (void)t;
  sleep_ms((long)arg_i64(arg, len));
  return 0;
}

static va_runtime *new_runtime(va_config *cfg) {
  va_runtime *rt;
  assert_int_equal(va_runtime_new(cfg, &rt), 0);
  static const va_method methods[] = {{"rmw", c_rmw},     {"get", c_get},
                                      {"seq", c_seq},     {"check", c_check},
                                      {"flood", c_flood}, {"sleep", c_sleep}};
  va_type_def def = {.name = "C",
                     .methods = methods,
                     .n_methods = 6,
                     .instance_size = sizeof(counter)};
  T_C = va_register_type(rt, &def);
  M_RMW = va_method_lookup(rt, T_C, "rmw");
  M_GET = va_method_lookup(rt, T_C, "get");
  M_SEQ = va_method_lookup(rt, T_C, "seq");
  M_CHECK = va_method_lookup(rt, T_C, "check");
  M_FLOOD = va_method_lookup(rt, T_C, "flood");
  M_SLEEP = va_method_lookup(rt, T_C, "sleep");
  return rt;
}

typedef struct sender_arg {
  va_runtime *rt;
  int index;
  int count;
  const char *target;
  atomic_long *done;
} sender_arg;

static void count_ok(void *user, int status, const void *data, size_t len) {
  (void)data, (void)len;
  if (status == 0)
    atomic_fetch_add((atomic_long *)user, 1);
}

/* Calls rmw on target `count` times, retrying on backpressure. */
static void *rmw_sender(void *p) {
  sender_arg *a = p;
  for (int i = 0; i < a->count; i++) {
    int rc;
    while ((rc = va_call(a->rt, T_C, a->target, strlen(a->target), M_RMW, NULL,
                         0, count_ok, a->done)) == VA_EBACKPRESSURE)
      sched_yield();
    assert_int_equal(rc, 0);
  }
  return NULL;
}

static void one_turn_at_a_time_loses_no_update(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL);
  assert_int_equal(va_runtime_start(rt), 0);
  enum { PER = 5000 };
  atomic_long done = 0;
  pthread_t th[SENDERS];
  sender_arg args[SENDERS];
  for (int i = 0; i < SENDERS; i++) {
    args[i] = (sender_arg){rt, i, PER, "shared", &done};
    pthread_create(&th[i], NULL, rmw_sender, &args[i]);
  }
  for (int i = 0; i < SENDERS; i++)
    pthread_join(th[i], NULL);
  WAIT_UNTIL(atomic_load(&done) == SENDERS * PER);
  assert_int_equal(atomic_load(&done), SENDERS * PER);
  int64_t v;
  assert_int_equal(call_i64(rt, T_C, "shared", M_GET, 0, &v), 0);
  assert_int_equal(v, SENDERS * PER);
  va_runtime_free(rt);
}

static void *seq_sender(void *p) {
  sender_arg *a = p;
  for (int64_t i = 0; i < a->count;) {
    int64_t msg[2] = {a->index, i};
    int rc = va_send(a->rt, T_C, a->target, strlen(a->target), M_SEQ, msg,
                     sizeof(msg));
    if (rc == VA_EBACKPRESSURE) {
      sched_yield();
      continue;
    }
    assert_int_equal(rc, 0);
    i++;
  }
  return NULL;
}

static void messages_from_one_sender_arrive_in_order(void **state) {
  (void)state;
  va_config cfg;
  va_config_init(&cfg);
  cfg.mailbox_bound = 1024; /* small, so that backpressure happens */
  va_runtime *rt = new_runtime(&cfg);
  assert_int_equal(va_runtime_start(rt), 0);
  enum { PER = 20000 };
  pthread_t th[SENDERS];
  sender_arg args[SENDERS];
  for (int i = 0; i < SENDERS; i++) {
    args[i] = (sender_arg){rt, i, PER, "fifo-target", NULL};
    pthread_create(&th[i], NULL, seq_sender, &args[i]);
  }
  /* And an actor sending from inside its turns. */
  int64_t flood = PER;
  int rc;
  while ((rc = va_send(rt, T_C, "flooder", 7, M_FLOOD, &flood,
                       sizeof(flood))) == VA_EBACKPRESSURE)
    sched_yield();
  assert_int_equal(rc, 0);
  for (int i = 0; i < SENDERS; i++)
    pthread_join(th[i], NULL);
  int64_t v = 0;
  WAIT_UNTIL(call_i64(rt, T_C, "fifo-target", M_CHECK, 0, &v) == 0 &&
             v == (SENDERS + 1) * PER);
  assert_int_equal(v, (SENDERS + 1) * PER); /* no violation, none lost */
  va_runtime_free(rt);
}

static void counts_add_up_across_many_actors(void **state) {
  (void)state;
  va_runtime *rt = new_runtime(NULL);
  assert_int_equal(va_runtime_start(rt), 0);
  enum { ACTORS = 1000, PER = 40 };
  atomic_long done = 0;
  pthread_t th[SENDERS];
  sender_arg args[SENDERS];
  char(*ids)[16] = calloc(ACTORS, 16);
  for (int i = 0; i < ACTORS; i++)
    snprintf(ids[i], 16, "many-%d", i);
  /* Each thread walks every actor PER/ SENDERS times. */
  for (int round = 0; round < ACTORS; round += ACTORS / 10) {
    for (int i = 0; i < SENDERS; i++) {
      args[i] = (sender_arg){rt, i, PER / SENDERS * 10,
                             ids[(round + i) % ACTORS], &done};
      pthread_create(&th[i], NULL, rmw_sender, &args[i]);
    }
    for (int i = 0; i < SENDERS; i++)
      pthread_join(th[i], NULL);
  }
  long expected = 10L * SENDERS * (PER / SENDERS * 10);
  WAIT_UNTIL(atomic_load(&done) == expected);
  assert_int_equal(atomic_load(&done), expected);
  int64_t sum = 0;
  for (int i = 0; i < ACTORS; i++) {
    int64_t v = 0;
    assert_int_equal(call_i64(rt, T_C, ids[i], M_GET, 0, &v), 0);
    assert_true(v >= 0); /* memory and state agree */
    sum += v;
  }
  assert_int_equal(sum, expected);
  free(ids);
  va_runtime_free(rt);
}

static atomic_int slept;
static void count_slept(void *user, int status, const void *data, size_t len) {
  (void)user, (void)data, (void)len;
  if (status == 0)
    atomic_fetch_add(&slept, 1);
}

static void actors_run_in_parallel(void **state) {
  (void)state;
  enum { N = 8, TURN_MS = 200 };
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = N;
  va_runtime *rt = new_runtime(&cfg);
  assert_int_equal(va_runtime_start(rt), 0);
  char ids[N][32];
  for (unsigned i = 0; i < N; i++)
    id_on_worker(rt, T_C, i, "sleeper", ids[i], sizeof(ids[i]));
  atomic_store(&slept, 0);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int64_t ms = TURN_MS;
  for (int i = 0; i < N; i++)
    assert_int_equal(va_call(rt, T_C, ids[i], strlen(ids[i]), M_SLEEP, &ms,
                             sizeof(ms), count_slept, NULL),
                     0);
  WAIT_UNTIL(atomic_load(&slept) == N);
  uint64_t wall = elapsed_ms(&t0);
  assert_int_equal(atomic_load(&slept), N);
  /* Serial would take N turns; parallel about one. The bound is loose (half
   * of serial) because this machine is shared and noisy. */
  printf("# %d sleeping turns of %d ms took %llu ms\n", N, TURN_MS,
         (unsigned long long)wall);
  assert_true(wall < (uint64_t)N * TURN_MS / 2);
  va_runtime_free(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(one_turn_at_a_time_loses_no_update),
      cmocka_unit_test(messages_from_one_sender_arrive_in_order),
      cmocka_unit_test(counts_add_up_across_many_actors),
      cmocka_unit_test(actors_run_in_parallel),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
