/* test_route.c — the runtime's side of vactor_route.h, with two runtimes
 * ("A" and "B") in one process and a router of the test's own that carries
 * calls between them through their loops (the real link is link.c's, in
 * test_link.c): placement sends a call to the other runtime and its answer
 * names the node that ran it (va_reply_node); a call refused before it
 * left (VA_ELINK) waits and is placed again once placement moved; a
 * forwarded call at its last hop runs where it is, and its activation goes
 * where it belongs once idle; the fence holds turns
 * back until it moves; a rebalance sends misplaced activations away (and
 * their next calls with them); an eviction empties the runtime. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "helpers.h"
#include <vactor_route.h>

/* ---- Two nodes ---- */

typedef struct node {
  const char *name;
  va_runtime *rt;
  int type, m_name, m_add;
  struct node *peer;
  /* Placement: ids starting with this letter run on the peer. */
  _Atomic char peer_letter;
  atomic_bool refuse; /* forward refuses with VA_ELINK (not connected) */
  atomic_int forwarded, ran;
} node;

static node A = {.name = "A"}, B = {.name = "B"};

/* whoami: the node's name; add: "n" += arg, replies the sum. */
static int whoami(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  node *n = va_turn_type_user(t);
  atomic_fetch_add(&n->ran, 1);
  return va_turn_reply(t, n->name, strlen(n->name));
}

static int add(va_turn *t, const void *arg, size_t len) {
  node *n = va_turn_type_user(t);
  atomic_fetch_add(&n->ran, 1);
  int64_t sum = state_i64(t, "n") + arg_i64(arg, len);
  int rc = va_turn_state_set(t, "n", &sum, sizeof(sum));
  return rc ? rc : reply_i64(t, sum);
}

static int place(void *user, va_loop *loop, int type, const char *id,
                 size_t id_len) {
  (void)loop, (void)type;
  node *n = user;
  return id_len && id[0] == atomic_load(&n->peer_letter) ? 1 : VA_ROUTE_HERE;
}

/* A call on its way: copied, handed to the peer's worker 0. */
typedef struct trip {
  node *from, *to;
  va_route_reply reply;
  va_route_call call;
  char id[64], body[64];
  int status;
  char answer[64], ran_on[64];
  size_t answer_len;
} trip;

static void answered_home(void *ctx, va_loop *loop) {
  (void)loop;
  trip *t = ctx;
  assert_int_equal(va_route_answer(t->from->rt, t->reply, t->status, t->answer,
                                   t->answer_len, t->ran_on),
                   0);
  free(t);
}

static void answered(void *user, int status, const void *data, size_t len) {
  trip *t = user;
  t->status = status;
  t->answer_len = len < sizeof(t->answer) ? len : 0;
  memcpy(t->answer, data, t->answer_len);
  const char *ran = va_reply_node();
  snprintf(t->ran_on, sizeof(t->ran_on), "%s", ran ? ran : t->to->name);
  assert_int_equal(va_loop_run(t->from->rt, t->reply.worker, answered_home, t),
                   0);
}

static void arrive(void *ctx, va_loop *loop) {
  (void)loop;
  trip *t = ctx;
  va_route_call call = t->call;
  call.id = t->id;
  call.body = t->body;
  call.type = t->to->type; /* the same names, this runtime's ids */
  int rc =
      va_route_inbound(t->to->rt, &call, call.one_way ? NULL : answered, t);
  if (rc)
    answered(t, rc, NULL, 0);
  else if (call.one_way)
    free(t);
}

static int forward(void *user, va_loop *loop, int to, const va_route_call *c,
                   va_route_reply reply) {
  (void)loop, (void)to;
  node *n = user;
  if (atomic_load(&n->refuse))
    return VA_ELINK;
  trip *t = calloc(1, sizeof(*t));
  assert_non_null(t);
  assert_true(c->id_len < sizeof(t->id) && c->len <= sizeof(t->body));
  t->from = n;
  t->to = n->peer;
  t->reply = reply;
  t->call = *c;
  memcpy(t->id, c->id, c->id_len);
  memcpy(t->body, c->body, c->len);
  atomic_fetch_add(&n->forwarded, 1);
  assert_int_equal(va_loop_run(n->peer->rt, 0, arrive, t), 0);
  return 0;
}

/* One SQLite file for both: the state an actor leaves on one node is
 * there for the other, as a cluster's database would have it. */
static char db[256];

static void node_start(node *n, node *peer) {
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = 2;
  cfg.store = db;
  cfg.node = n->name;
  cfg.call_timeout_ms = 10000;
  assert_int_equal(va_runtime_new(&cfg, &n->rt), 0);
  va_method methods[] = {{"whoami", whoami}, {"add", add}};
  va_type_def def = {
      .name = "Probe", .methods = methods, .n_methods = 2, .user = n};
  n->type = va_register_type(n->rt, &def);
  n->m_name = va_method_lookup(n->rt, n->type, "whoami");
  n->m_add = va_method_lookup(n->rt, n->type, "add");
  n->peer = peer;
  atomic_store(&n->peer_letter, n == &A ? 'b' : 'a');
  va_router router = {.place = place, .forward = forward};
  assert_int_equal(va_runtime_set_router(n->rt, &router, n), 0);
  assert_int_equal(va_runtime_start(n->rt), 0);
  assert_int_equal(va_runtime_set_router(n->rt, &router, n), VA_ESTATE);
}

static int setup(void **state) {
  (void)state;
  db_path(db, sizeof(db), "route");
  node_start(&A, &B);
  node_start(&B, &A);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  va_runtime_free(A.rt);
  va_runtime_free(B.rt);
  return 0;
}

/* ---- Calls and what they tell ---- */

typedef struct answer {
  atomic_bool done;
  int status;
  char body[64], node[64];
} answer;

static void got(void *user, int status, const void *data, size_t len) {
  answer *a = user;
  a->status = status;
  snprintf(a->body, sizeof(a->body), "%.*s", (int)len, (const char *)data);
  const char *n = va_reply_node();
  snprintf(a->node, sizeof(a->node), "%s", n ? n : "(none)");
  atomic_store(&a->done, true);
}

static void call_name(node *n, const char *id, answer *a) {
  memset(a, 0, sizeof(*a));
  assert_int_equal(
      va_call(n->rt, n->type, id, strlen(id), n->m_name, NULL, 0, got, a), 0);
}

static void calls_run_where_placed_and_say_where(void **state) {
  (void)state;
  answer here, there;
  call_name(&A, "apple", &here);
  call_name(&A, "banana", &there);
  WAIT_UNTIL(atomic_load(&here.done) && atomic_load(&there.done));
  assert_int_equal(here.status, 0);
  assert_string_equal(here.body, "A");
  assert_string_equal(here.node, "A"); /* the runtime's own node name */
  assert_int_equal(there.status, 0);
  assert_string_equal(there.body, "B");
  assert_string_equal(there.node, "B");
  assert_true(atomic_load(&A.forwarded) >= 1);
  /* From B, the same actor is B's, and runs there without a hop. */
  int forwarded = atomic_load(&B.forwarded);
  call_name(&B, "banana", &there);
  WAIT_UNTIL(atomic_load(&there.done));
  assert_string_equal(there.body, "B");
  assert_int_equal(atomic_load(&B.forwarded), forwarded);
}

static void state_writes_cross_and_add_up(void **state) {
  (void)state;
  int64_t sum = 0;
  for (int i = 1; i <= 50; i++)
    assert_int_equal(
        call_i64(i % 2 ? A.rt : B.rt, A.type, "bcount", A.m_add, 1, &sum), 0);
  assert_int_equal(sum, 50); /* one activation, on B, saw every add */
}

/* A call refused before it left waits, and goes where placement says
 * once it says otherwise: here, back home. */
static void refused_before_leaving_is_placed_again(void **state) {
  (void)state;
  atomic_store(&A.refuse, true);
  answer a;
  call_name(&A, "blueberry", &a);
  sleep_ms(300);
  assert_false(atomic_load(&a.done)); /* waiting, not failed */
  atomic_store(&A.peer_letter, 'z');  /* placement moves it to A */
  WAIT_UNTIL(atomic_load(&a.done));
  assert_int_equal(a.status, 0);
  assert_string_equal(a.body, "A");
  atomic_store(&A.refuse, false);
  atomic_store(&A.peer_letter, 'b');
}

/* At its last hop a call runs where it is, whatever placement says. */
static void last_hop_runs_here(void **state) {
  (void)state;
  atomic_store(&B.peer_letter, 'b'); /* B would send "b..." back to A */
  answer a;
  call_name(&A, "bilberry", &a);
  WAIT_UNTIL(atomic_load(&a.done));
  assert_int_equal(a.status, 0);
  /* A -> B (hop 1) -> A (hop 2): runs on A. */
  assert_string_equal(a.body, "A");
  /* B agrees again: the activation A was left with goes, once idle, to
   * where A's placement puts it, without a rebalance being asked for. */
  atomic_store(&B.peer_letter, 'a');
  bool on_b = false;
  for (int i = 0; i < 1000 && !on_b; i++) {
    call_name(&A, "bilberry", &a);
    WAIT_UNTIL(atomic_load(&a.done));
    assert_int_equal(a.status, 0);
    on_b = !strcmp(a.body, "B");
    if (!on_b)
      sleep_ms(10);
  }
  assert_true(on_b);
}

static void fence_holds_turns_until_it_moves(void **state) {
  (void)state;
  va_runtime_fence(A.rt, 0);
  int ran = atomic_load(&A.ran);
  answer a;
  call_name(&A, "avocado", &a);
  sleep_ms(300);
  assert_false(atomic_load(&a.done));
  assert_int_equal(atomic_load(&A.ran), ran);
  va_runtime_fence(A.rt, UINT64_MAX);
  WAIT_UNTIL(atomic_load(&a.done));
  assert_int_equal(a.status, 0);
  assert_string_equal(a.body, "A");
}

static uint64_t active(va_runtime *rt) {
  va_stats st;
  va_runtime_stats(rt, &st);
  return st.active_actors;
}

static void rebalance_sends_misplaced_actors_away(void **state) {
  (void)state;
  int64_t sum = 0;
  assert_int_equal(call_i64(A.rt, A.type, "almond", A.m_add, 5, &sum), 0);
  assert_int_equal(call_i64(A.rt, A.type, "apricot", A.m_add, 1, &sum), 0);
  uint64_t moved = va_runtime_moved(A.rt), before = active(A.rt);
  /* "al..." now belongs to B (B places it at home too). */
  atomic_store(&A.peer_letter, 'a');
  atomic_store(&B.peer_letter, '-');
  assert_int_equal(va_runtime_rebalance(A.rt), 0);
  /* Every "a..." activation goes (almond, apricot and those of the tests
   * before); the others stay. */
  WAIT_UNTIL(va_runtime_moved(A.rt) >= moved + 2 &&
             active(A.rt) == before - (va_runtime_moved(A.rt) - moved));
  uint64_t sent = va_runtime_moved(A.rt) - moved;
  assert_true(sent >= 2 && sent < before);
  assert_int_equal(active(A.rt), before - sent);
  /* The state went with it (saved before it went): B goes on from 5. */
  assert_int_equal(call_i64(A.rt, A.type, "almond", A.m_add, 1, &sum), 0);
  assert_int_equal(sum, 6);
  answer a;
  call_name(&A, "almond", &a);
  WAIT_UNTIL(atomic_load(&a.done));
  assert_string_equal(a.node, "B");
  atomic_store(&A.peer_letter, 'b');
  atomic_store(&B.peer_letter, 'a');
}

static void evict_empties_the_runtime(void **state) {
  (void)state;
  int64_t sum;
  for (int i = 0; i < 20; i++) {
    char id[16];
    snprintf(id, sizeof(id), "e%d", i);
    assert_int_equal(call_i64(A.rt, A.type, id, A.m_add, 1, &sum), 0);
  }
  assert_true(active(A.rt) >= 20);
  assert_int_equal(va_runtime_evict(A.rt), 0);
  WAIT_UNTIL(active(A.rt) == 0);
  assert_int_equal(active(A.rt), 0);
  /* They come back with their state. */
  assert_int_equal(call_i64(A.rt, A.type, "e3", A.m_add, 1, &sum), 0);
  assert_int_equal(sum, 2);
}

static void names_of_methods(void **state) {
  (void)state;
  assert_string_equal(va_method_name(A.rt, A.type, A.m_add), "add");
  assert_null(va_method_name(A.rt, A.type, 0xffff));
  assert_null(va_method_name(A.rt, 99, 0));
  assert_true(va_method_is_system(0xffff));
  assert_false(va_method_is_system(A.m_add));
  assert_null(va_reply_node()); /* not inside a reply */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(names_of_methods),
      cmocka_unit_test(calls_run_where_placed_and_say_where),
      cmocka_unit_test(state_writes_cross_and_add_up),
      cmocka_unit_test(refused_before_leaving_is_placed_again),
      cmocka_unit_test(last_hop_runs_here),
      cmocka_unit_test(fence_holds_turns_until_it_moves),
      cmocka_unit_test(rebalance_sends_misplaced_actors_away),
      cmocka_unit_test(evict_empties_the_runtime),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
