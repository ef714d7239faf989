/* test_link.c — the node link (src/cluster/link.c) between two runtimes in
 * one process, A and B, each with a test router that places ids starting
 * with "b" on B and the rest on A, and forwards through its link. Calls
 * made on A to a "b..." actor run on B and say so (va_reply_node); one-way
 * sends arrive, in order; state is read and written across (the runtime's
 * own methods travel by number); a type or method B lacks is answered
 * VA_ENOTYPE / VA_ENOMETHOD; a call chain A -> B -> A into a non-reentrant
 * actor fails VA_EDEADLK long before its deadline (the chain travels); a
 * callee that never answers times out at the caller's deadline; calls in
 * flight fail VA_ELINK at once when B's link is freed or B is forgotten; a
 * peer that does not read makes calls fail VA_EBACKPRESSURE; a peer named
 * wrongly, or holding another cluster's key, is never connected; garbage,
 * wrong HELLOs and a stranger's made-up AUTH close the connection (a CALL
 * behind that AUTH never runs) and the link goes on; strangers that
 * connect and say nothing hold at most 16 places per worker (the oldest
 * goes); 100,000 calls from four
 * threads are each answered exactly once and the counts add up. Ports are the
 * kernel's; every wait is bounded and polls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "cluster/frame.h"
#include "cluster/link.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { WAIT_MS = 30000, NODE_A = 1, NODE_B = 2, TICKETS_MAX = 64 };

static void sleep_ms(long ms) {
  nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits (up to WAIT_MS) until cond holds. */
#define WAIT_UNTIL(cond)                                                       \
  do {                                                                         \
    for (uint64_t wait_end_ = now_ms() + WAIT_MS;                              \
         !(cond) && now_ms() < wait_end_;)                                     \
      sleep_ms(1);                                                             \
  } while (0)

/* ---- A node: a runtime, its router, its link ---- */

typedef struct node {
  const char *name;
  int number;
  va_runtime *rt;
  _Atomic(va_link *) link;
  int probe;  /* the Probe type's id */
  int only_a; /* OnlyA's id (on A only) */
  uint16_t port;
  /* Turns of "wait" that never answer: their tickets, to release. */
  va_await *_Atomic tickets[TICKETS_MAX];
  atomic_int waiting;
} node;

static int test_place(void *user, va_loop *loop, int type, const char *id,
                      size_t id_len) {
  (void)loop, (void)type;
  node *n = user;
  int want = id_len && id[0] == 'b' ? NODE_B : NODE_A;
  return want == n->number ? VA_ROUTE_HERE : want;
}

static int test_forward(void *user, va_loop *loop, int to,
                        const va_route_call *call, va_route_reply reply) {
  node *n = user;
  va_link *link = atomic_load(&n->link);
  return link ? va__link_forward(link, loop, to, call, reply) : VA_ELINK;
}

/* ---- The Probe type (on both nodes; B lacks the method "extra") ---- */

typedef struct probe_self {
  int64_t count;
} probe_self;

static node *node_of(va_turn *t) {
  return va_turn_type_user(t);
}

static int probe_whoami(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  const char *name = node_of(t)->name;
  return va_turn_reply(t, name, strlen(name));
}

static int probe_count(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  probe_self *self = va_turn_self(t);
  self->count++;
  return va_turn_reply(t, &self->count, sizeof(self->count));
}

static int probe_get(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  probe_self *self = va_turn_self(t);
  return va_turn_reply(t, &self->count, sizeof(self->count));
}

/* A callee's answer becomes this turn's (its failure, this turn's). */
static int relay_done(va_turn *t, void *user, int status, const void *data,
                      size_t len) {
  (void)user;
  return status < 0 ? status : va_turn_reply(t, data, len);
}

/* arg "id/rest": calls id's relay with rest; an empty arg answers whoami. */
static int probe_relay(va_turn *t, const void *arg, size_t len) {
  if (len == 0)
    return probe_whoami(t, NULL, 0);
  const char *s = arg, *slash = memchr(s, '/', len);
  size_t id_len = slash ? (size_t)(slash - s) : len;
  const char *rest = slash ? slash + 1 : "";
  size_t rest_len = slash ? len - id_len - 1 : 0;
  int method = va_method_lookup(va_turn_runtime(t), va_turn_type(t), "relay");
  return va_turn_call(t, va_turn_type(t), s, id_len, method, rest, rest_len,
                      relay_done, NULL);
}

static int wait_done(va_turn *t, void *user, int status, const void *data,
                     size_t len) {
  (void)t, (void)user, (void)data, (void)len;
  return status;
}

/* Never answers by itself: its ticket is kept for the test to release. */
static int probe_wait(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  node *n = node_of(t);
  va_await *ticket;
  int rc = va_turn_await(t, wait_done, NULL, &ticket);
  if (rc != 0)
    return rc;
  int i = atomic_fetch_add(&n->waiting, 1);
  if (i >= TICKETS_MAX)
    abort(); /* the test asked for more than it can release */
  atomic_store(&n->tickets[i], ticket);
  return 0;
}

static int probe_extra(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  return va_turn_reply(t, "x", 1);
}

static void register_types(node *n) {
  const va_method methods[] = {
      {"whoami", probe_whoami}, {"count", probe_count}, {"get", probe_get},
      {"relay", probe_relay},   {"wait", probe_wait},   {"extra", probe_extra}};
  size_t n_methods = sizeof(methods) / sizeof(methods[0]);
  va_type_def def = {.name = "Probe",
                     .methods = methods,
                     .n_methods =
                         n->number == NODE_A ? n_methods : n_methods - 1,
                     .instance_size = sizeof(probe_self),
                     .user = n};
  n->probe = va_register_type(n->rt, &def);
  assert_true(n->probe >= 0);
  n->only_a = -1;
  if (n->number == NODE_A) {
    va_type_def only = {
        .name = "OnlyA", .methods = methods, .n_methods = 1, .user = n};
    n->only_a = va_register_type(n->rt, &only);
    assert_true(n->only_a >= 0);
  }
}

static int method(node *n, const char *name) {
  int m = va_method_lookup(n->rt, n->probe, name);
  assert_true(m >= 0);
  return m;
}

/* The cluster's key every node of these tests holds, and another. */
static const uint8_t KEY[VA__LINK_KEY_LEN] = "the key of the test cluster....";
static const uint8_t OTHER_KEY[VA__LINK_KEY_LEN] =
    "the key of another cluster.....";

static void node_start_keyed(node *n, const char *name, int number,
                             uint64_t call_timeout_ms,
                             const uint8_t key[VA__LINK_KEY_LEN]) {
  memset(n, 0, sizeof(*n));
  n->name = name;
  n->number = number;
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = 2;
  cfg.node = name;
  cfg.call_timeout_ms = call_timeout_ms;
  assert_int_equal(va_runtime_new(&cfg, &n->rt), 0);
  register_types(n);
  va_router router = {.place = test_place, .forward = test_forward};
  assert_int_equal(va_runtime_set_router(n->rt, &router, n), 0);
  assert_int_equal(va_runtime_start(n->rt), 0);
  va_link *link;
  assert_int_equal(va__link_new(n->rt, name, key, &link), 0);
  assert_int_equal(va__link_listen(link, "127.0.0.1", 0, &n->port), 0);
  assert_true(n->port > 0);
  atomic_store(&n->link, link);
}

static void node_start(node *n, const char *name, int number,
                       uint64_t call_timeout_ms) {
  node_start_keyed(n, name, number, call_timeout_ms, KEY);
}

/* Tells a where b is (by its number and name). */
static void introduce(node *a, const node *b) {
  char address[32];
  snprintf(address, sizeof(address), "127.0.0.1:%u", (unsigned)b->port);
  assert_int_equal(
      va__link_set_peer(atomic_load(&a->link), b->number, b->name, address), 0);
}

/* Both workers of a are connected to b. */
static bool connected(node *a, const node *b) {
  return va__link_peer_connected(atomic_load(&a->link), b->number) == 2;
}

static void pair_start(node *a, node *b, uint64_t timeout_a_ms,
                       uint64_t timeout_b_ms) {
  node_start(a, "A", NODE_A, timeout_a_ms);
  node_start(b, "B", NODE_B, timeout_b_ms);
  introduce(a, b);
  introduce(b, a);
  WAIT_UNTIL(connected(a, b) && connected(b, a));
  assert_true(connected(a, b) && connected(b, a));
}

/* Releases the turns that wait, frees the link, stops the runtime. */
static void node_stop(node *n) {
  int waiting = atomic_load(&n->waiting);
  for (int i = 0; i < waiting && i < TICKETS_MAX; i++) {
    va_await *ticket = NULL;
    WAIT_UNTIL((ticket = atomic_load(&n->tickets[i])) != NULL);
    assert_non_null(ticket);
    va_await_done(ticket, 0, NULL, 0);
  }
  va__link_free(atomic_exchange(&n->link, NULL));
  assert_int_equal(va_runtime_stop(n->rt), 0);
  va_runtime_free(n->rt);
}

static va__link_stats stats_of(node *n) {
  va__link_stats s;
  va__link_stats_get(atomic_load(&n->link), &s);
  return s;
}

/* ---- Calls and their outcomes ---- */

typedef struct outcome {
  atomic_int done;
  int status;
  char reply[64];
  size_t len;
  char node[64]; /* va_reply_node() in the callback, or "" */
} outcome;

static void on_outcome(void *user, int status, const void *data, size_t len) {
  outcome *o = user;
  o->status = status;
  o->len = len < sizeof(o->reply) ? len : sizeof(o->reply);
  if (o->len)
    memcpy(o->reply, data, o->len);
  const char *from = va_reply_node();
  snprintf(o->node, sizeof(o->node), "%s", from ? from : "");
  atomic_store(&o->done, 1);
}

static void wait_outcome(outcome *o) {
  WAIT_UNTIL(atomic_load(&o->done));
  assert_true(atomic_load(&o->done));
}

/* Calls (type, id).method with arg on n's runtime and waits. */
static void call_on(node *n, int type, const char *id, int m, const char *arg,
                    outcome *o) {
  memset(o, 0, sizeof(*o));
  assert_int_equal(va_call(n->rt, type, id, strlen(id), m, arg,
                           arg ? strlen(arg) : 0, on_outcome, o),
                   0);
  wait_outcome(o);
}

static int64_t count_of(node *n, const char *id) {
  outcome o;
  call_on(n, n->probe, id, method(n, "get"), NULL, &o);
  assert_int_equal(o.status, 0);
  int64_t v = 0;
  if (o.len == sizeof(v))
    memcpy(&v, o.reply, sizeof(v));
  return v;
}

/* ---- The tests ---- */

static void a_call_runs_on_the_node_that_places_it(void **state) {
  (void)state;
  node a, b;
  pair_start(&a, &b, 60000, 60000);
  outcome o;
  call_on(&a, a.probe, "b-1", method(&a, "whoami"), NULL, &o);
  assert_int_equal(o.status, 0);
  assert_int_equal(o.len, 1);
  assert_memory_equal(o.reply, "B", 1);
  assert_string_equal(o.node, "B");
  call_on(&a, a.probe, "a-1", method(&a, "whoami"), NULL, &o);
  assert_int_equal(o.status, 0);
  assert_memory_equal(o.reply, "A", 1);
  /* From B, an "a..." actor runs on A. */
  call_on(&b, b.probe, "a-2", method(&b, "whoami"), NULL, &o);
  assert_int_equal(o.status, 0);
  assert_memory_equal(o.reply, "A", 1);
  assert_string_equal(o.node, "A");
  /* A chain that crosses twice, and comes back: a-3 -> b-3 -> a-4. */
  call_on(&a, a.probe, "a-3", method(&a, "relay"), "b-3/a-4", &o);
  assert_int_equal(o.status, 0);
  assert_memory_equal(o.reply, "A", 1);
  va__link_stats sa = stats_of(&a), sb = stats_of(&b);
  assert_true(sa.answered >= 2 && sa.calls_sent >= 2);
  assert_true(sb.calls_received >= 2 && sb.replies_sent >= 2);
  assert_true(sa.latency_count == sa.answered && sa.latency_sum_ns > 0);
  assert_int_equal(sa.malformed + sb.malformed, 0);
  node_stop(&a);
  node_stop(&b);
}

static void one_way_sends_arrive_in_order(void **state) {
  (void)state;
  node a, b;
  pair_start(&a, &b, 60000, 60000);
  enum { SENDS = 1000 };
  int count = method(&a, "count");
  for (int i = 0; i < SENDS; i++) {
    int rc;
    /* The outside thread's queue is bounded: ask again when full. */
    for (int tries = 0; (rc = va_send(a.rt, a.probe, "b-sent", 6, count, NULL,
                                      0)) == VA_EBACKPRESSURE &&
                        tries < 10000;
         tries++)
      sleep_ms(1);
    assert_int_equal(rc, 0);
  }
  /* A call sent after them, on the same way, finds them all there. */
  assert_int_equal(count_of(&a, "b-sent"), SENDS);
  assert_int_equal(count_of(&b, "b-sent"), SENDS); /* it lives on B */
  node_stop(&a);
  node_stop(&b);
}

typedef struct state_wait {
  atomic_int done;
  int status;
  char value[64];
  size_t len;
} state_wait;

static void on_state(void *user, int status, const void *data, size_t len) {
  state_wait *s = user;
  s->status = status;
  s->len = len < sizeof(s->value) ? len : sizeof(s->value);
  if (s->len)
    memcpy(s->value, data, s->len);
  atomic_store(&s->done, 1);
}

static void state_is_read_and_written_across(void **state) {
  (void)state;
  node a, b;
  pair_start(&a, &b, 60000, 60000);
  va_state_batch batch = {0};
  assert_int_equal(va_state_batch_put(&batch, "colour", "teal", 4, 0), 0);
  state_wait w = {0};
  assert_int_equal(
      va_state_write(a.rt, a.probe, "b-kept", 6, &batch, on_state, &w), 0);
  WAIT_UNTIL(atomic_load(&w.done));
  assert_int_equal(w.status, 0);
  va_state_batch_free(&batch);
  /* Read back through A, and on B itself: it was written on B. */
  node *readers[] = {&a, &b};
  for (int i = 0; i < 2; i++) {
    state_wait r = {0};
    assert_int_equal(va_state_read(readers[i]->rt, readers[i]->probe, "b-kept",
                                   6, "colour", on_state, &r),
                     0);
    WAIT_UNTIL(atomic_load(&r.done));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.len, 4);
    assert_memory_equal(r.value, "teal", 4);
  }
  state_wait missing = {0};
  assert_int_equal(
      va_state_read(a.rt, a.probe, "b-kept", 6, "size", on_state, &missing), 0);
  WAIT_UNTIL(atomic_load(&missing.done));
  assert_int_equal(missing.status, VA_ENOTFOUND);
  node_stop(&a);
  node_stop(&b);
}

static void what_the_peer_lacks_is_refused_by_name(void **state) {
  (void)state;
  node a, b;
  pair_start(&a, &b, 60000, 60000);
  outcome o;
  call_on(&a, a.only_a, "b-1", 0, NULL, &o);
  assert_int_equal(o.status, VA_ENOTYPE);
  call_on(&a, a.probe, "b-1", method(&a, "extra"), NULL, &o);
  assert_int_equal(o.status, VA_ENOMETHOD);
  call_on(&a, a.probe, "a-1", method(&a, "extra"), NULL, &o);
  assert_int_equal(o.status, 0); /* A has it */
  node_stop(&a);
  node_stop(&b);
}

static void a_cycle_across_nodes_fails_fast(void **state) {
  (void)state;
  node a, b;
  pair_start(&a, &b, 60000, 60000);
  uint64_t start = now_ms();
  outcome o;
  /* a-x waits on b-y, which calls a-x back: the same chain. */
  call_on(&a, a.probe, "a-x", method(&a, "relay"), "b-y/a-x", &o);
  assert_int_equal(o.status, VA_EDEADLK);
  assert_true(now_ms() - start < 30000); /* not at the 60 s deadline */
  node_stop(&a);
  node_stop(&b);
}

static void a_callee_that_never_answers_times_out(void **state) {
  (void)state;
  node a, b;
  pair_start(&a, &b, 1000, 60000);
  outcome o;
  call_on(&a, a.probe, "b-never", method(&a, "wait"), NULL, &o);
  assert_int_equal(o.status, VA_ETIMEDOUT);
  node_stop(&a);
  node_stop(&b);
}

/* Starts n calls of "wait" on A to b-wait-<i>, and waits until B holds
 * them all. */
static void calls_waiting_on_b(node *a, node *b, outcome *o, int n) {
  for (int i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof(id), "b-wait-%d", i);
    memset(&o[i], 0, sizeof(o[i]));
    assert_int_equal(va_call(a->rt, a->probe, id, strlen(id), method(a, "wait"),
                             NULL, 0, on_outcome, &o[i]),
                     0);
  }
  WAIT_UNTIL(atomic_load(&b->waiting) == n);
  assert_int_equal(atomic_load(&b->waiting), n);
}

static void calls_in_flight_fail_when_the_link_goes(void **state) {
  (void)state;
  node a, b;
  pair_start(&a, &b, 60000, 60000);
  enum { N = 16 };
  outcome o[N];
  calls_waiting_on_b(&a, &b, o, N);
  uint64_t start = now_ms();
  va__link_free(atomic_exchange(&b.link, NULL));
  for (int i = 0; i < N; i++) {
    wait_outcome(&o[i]);
    assert_int_equal(o[i].status, VA_ELINK);
  }
  assert_true(now_ms() - start < 30000); /* not at the 60 s deadline */
  assert_int_equal(stats_of(&a).failed_link, N);
  node_stop(&b); /* its turns answer a connection that is gone */
  node_stop(&a);
}

static void a_forgotten_peer_fails_its_calls(void **state) {
  (void)state;
  node a, b;
  pair_start(&a, &b, 60000, 60000);
  enum { N = 4 };
  outcome o[N];
  calls_waiting_on_b(&a, &b, o, N);
  assert_int_equal(va__link_set_peer(atomic_load(&a.link), NODE_B, NULL, NULL),
                   0);
  for (int i = 0; i < N; i++) {
    wait_outcome(&o[i]);
    assert_int_equal(o[i].status, VA_ELINK);
  }
  WAIT_UNTIL(va__link_peer_connected(atomic_load(&a.link), NODE_B) == 0);
  assert_int_equal(va__link_peer_connected(atomic_load(&a.link), NODE_B), 0);
  node_stop(&a);
  node_stop(&b);
}

/* A socket that listens and never accepts: connections to it open (the
 * kernel's backlog) and nothing they send is read. *port gets its port. */
static int deaf_listener(uint16_t *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(addr);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  assert_int_equal(listen(fd, 16), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
  *port = ntohs(addr.sin_port);
  return fd;
}

typedef struct tally {
  atomic_int answered, busy, other;
} tally;

static void on_tally(void *user, int status, const void *data, size_t len) {
  (void)data, (void)len;
  tally *t = user;
  if (status == VA_EBACKPRESSURE)
    atomic_fetch_add(&t->busy, 1);
  else
    atomic_fetch_add(&t->other, 1);
  atomic_fetch_add(&t->answered, 1);
}

static void a_peer_that_does_not_read_gets_backpressure(void **state) {
  (void)state;
  node a;
  node_start(&a, "A", NODE_A, 5000);
  va_link *link = atomic_load(&a.link);
  uint16_t port;
  int deaf = deaf_listener(&port);
  /* A bound of its own, set before the peer (va__link_set_out_bound). */
  va__link_set_out_bound(link, 64 * 1024);
  char address[32];
  snprintf(address, sizeof(address), "127.0.0.1:%u", (unsigned)port);
  assert_int_equal(va__link_set_peer(link, NODE_B, "B", address), 0);
  enum { N = 2000, BODY = 16 * 1024 };
  static char body[BODY];
  memset(body, 'x', sizeof(body));
  tally t = {0};
  int m = method(&a, "count");
  int sent = 0;
  /* Until the connection is made (not ready: the HELLO never comes
   * back), calls are refused and placed again by the runtime; once it
   * is, they pile up in the kernel's buffers, then in the link's. */
  for (int i = 0; i < N; i++) {
    char id[32];
    snprintf(id, sizeof(id), "b-%d", i);
    int rc = va_call(a.rt, a.probe, id, strlen(id), m, body, sizeof(body),
                     on_tally, &t);
    if (rc == 0)
      sent++;
    else
      assert_int_equal(rc, VA_EBACKPRESSURE); /* the runtime's own queue */
  }
  WAIT_UNTIL(atomic_load(&t.answered) == sent);
  assert_int_equal(atomic_load(&t.answered), sent);
  assert_true(atomic_load(&t.busy) > 0);
  va__link_stats s = stats_of(&a);
  assert_true(s.refused_busy > 0);
  assert_int_equal(s.answered, 0);
  close(deaf);
  node_stop(&a);
}

static void a_peer_named_wrongly_is_never_connected(void **state) {
  (void)state;
  node a, b;
  node_start(&a, "A", NODE_A, 60000);
  node_start(&b, "B", NODE_B, 60000);
  char address[32];
  snprintf(address, sizeof(address), "127.0.0.1:%u", (unsigned)b.port);
  va_link *link = atomic_load(&a.link);
  assert_int_equal(va__link_set_peer(link, NODE_B, "C", address), 0);
  /* B refuses a HELLO meant for C: A's attempts fail, again and again. */
  WAIT_UNTIL(stats_of(&a).connect_failures >= 4);
  assert_true(stats_of(&a).connect_failures >= 4);
  assert_true(stats_of(&b).malformed >= 4);
  assert_int_equal(va__link_peer_connected(link, NODE_B), 0);
  /* Named rightly, it connects. */
  assert_int_equal(va__link_set_peer(link, NODE_B, "B", address), 0);
  WAIT_UNTIL(connected(&a, &b));
  assert_true(connected(&a, &b));
  assert_int_equal(va__link_set_peer(link, 0, "B", address), VA_EINVAL);
  assert_int_equal(va__link_set_peer(link, NODE_B, "B", "127.0.0.1"),
                   VA_EINVAL);
  assert_int_equal(va__link_set_peer(link, NODE_B, "B/2", address), VA_EINVAL);
  node_stop(&a);
  node_stop(&b);
}

static void a_peer_with_another_key_is_never_connected(void **state) {
  (void)state;
  node a, b;
  node_start_keyed(&a, "A", NODE_A, 2000, OTHER_KEY);
  node_start(&b, "B", NODE_B, 60000);
  introduce(&a, &b);
  /* A finds B's proof wrong, again and again; B never takes A's HELLO for
   * a connection. */
  WAIT_UNTIL(stats_of(&a).unauthenticated >= 4);
  assert_true(stats_of(&a).unauthenticated >= 4);
  assert_int_equal(va__link_peer_connected(atomic_load(&a.link), NODE_B), 0);
  outcome o;
  call_on(&a, a.probe, "b-1", method(&a, "whoami"), NULL, &o);
  assert_true(o.status == VA_ELINK || o.status == VA_ETIMEDOUT);
  assert_int_equal(stats_of(&b).calls_received, 0);
  node_stop(&a);
  node_stop(&b);
}

/* Connects to n's link (a socket that says nothing). */
static int connect_to(const node *n) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_port = htons(n->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_true(fd >= 0);
  assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  return fd;
}

/* Whether the peer has closed fd already (no wait). */
static bool closed_now(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  char sink[64];
  return poll(&p, 1, 0) > 0 && read(fd, sink, sizeof(sink)) <= 0;
}

static void strangers_that_say_nothing_hold_no_place(void **state) {
  (void)state;
  enum { STRANGERS = 100, HELD_MAX = 2 * 16 }; /* 16 per worker of B */
  node a, b;
  pair_start(&a, &b, 60000, 60000);
  uint64_t accepted = stats_of(&b).accepted;
  int fds[STRANGERS];
  for (int i = 0; i < STRANGERS; i++)
    fds[i] = connect_to(&b);
  /* B makes room for each new one by closing the one in its opening
   * longest, at once: once it has accepted them all, all but the last 16
   * per worker are closed (the opening timeout, 3 s, has not come yet:
   * it would close them all). */
  WAIT_UNTIL(stats_of(&b).accepted >= accepted + STRANGERS);
  int closed = 0;
  for (int i = 0; i < STRANGERS; i++)
    closed += closed_now(fds[i]);
  for (int i = 0; i < STRANGERS; i++)
    close(fds[i]);
  assert_true(closed >= STRANGERS - HELD_MAX);
  /* The peers' own connections are untouched. */
  outcome o;
  call_on(&a, a.probe, "b-1", method(&a, "whoami"), NULL, &o);
  assert_int_equal(o.status, 0);
  node_stop(&a);
  node_stop(&b);
}

/* Connects to n's link and writes bytes; true if n then closes it. */
static bool closes_after(const node *n, const void *bytes, size_t len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_port = htons(n->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  assert_int_equal(write(fd, bytes, len), (ssize_t)len);
  bool closed = false;
  for (uint64_t end = now_ms() + WAIT_MS; !closed && now_ms() < end;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char sink[512];
    if (poll(&p, 1, 100) > 0)
      closed = read(fd, sink, sizeof(sink)) <= 0;
  }
  close(fd);
  return closed;
}

static void hostile_input_closes_the_connection(void **state) {
  (void)state;
  node a, b;
  pair_start(&a, &b, 60000, 60000);
  static const char garbage[] = "GET / HTTP/1.1\r\nHost: b\r\n\r\n";
  assert_true(closes_after(&b, garbage, sizeof(garbage) - 1));
  /* A well-formed HELLO meant for another node. */
  va__frame hello = {.kind = VA__FRAME_HELLO,
                     .hello = {.version = VA__FRAME_VERSION,
                               .name = "X",
                               .name_len = 1,
                               .target = "C",
                               .target_len = 1}};
  uint8_t buf[64];
  size_t size;
  assert_int_equal(va__frame_size(&hello, &size), 0);
  assert_true(size <= sizeof(buf));
  va__frame_write(&hello, buf);
  assert_true(closes_after(&b, buf, size));
  /* A REPLY first, before any HELLO. */
  va__frame reply = {.kind = VA__FRAME_REPLY, .reply = {.id = 1}};
  assert_int_equal(va__frame_size(&reply, &size), 0);
  va__frame_write(&reply, buf);
  assert_true(closes_after(&b, buf, size));
  WAIT_UNTIL(stats_of(&b).malformed >= 3);
  assert_true(stats_of(&b).malformed >= 3);
  /* A stranger without the key: the right HELLO, a made-up AUTH, then a
   * CALL. B closes the connection on the AUTH; the CALL never runs. */
  hello.hello.name = "A";
  hello.hello.target = "B";
  va__frame auth = {.kind = VA__FRAME_AUTH};
  memset(auth.auth.proof, 0x5a, sizeof(auth.auth.proof));
  va__frame call = {.kind = VA__FRAME_CALL,
                    .call = {.id = 1,
                             .timeout_ms = 1000,
                             .hops = 1,
                             .method = "whoami",
                             .method_len = 6,
                             .type = "Probe",
                             .type_len = 5,
                             .actor = "b-1",
                             .actor_len = 3}};
  uint8_t stranger[512];
  size = 0;
  const va__frame *frames[] = {&hello, &auth, &call};
  for (size_t i = 0; i < 3; i++) {
    size_t one;
    assert_int_equal(va__frame_size(frames[i], &one), 0);
    assert_true(size + one <= sizeof(stranger));
    size += va__frame_write(frames[i], stranger + size);
  }
  assert_true(closes_after(&b, stranger, size));
  WAIT_UNTIL(stats_of(&b).unauthenticated >= 1);
  assert_int_equal(stats_of(&b).unauthenticated, 1);
  assert_int_equal(stats_of(&b).calls_received, 0);
  /* The link between A and B goes on. */
  outcome o;
  call_on(&a, a.probe, "b-1", method(&a, "whoami"), NULL, &o);
  assert_int_equal(o.status, 0);
  assert_memory_equal(o.reply, "B", 1);
  node_stop(&a);
  node_stop(&b);
}

/* ---- Many calls from several threads ---- */

enum { THREADS = 4, PER_THREAD = 25000, WINDOW = 4000, ACTORS = 1000 };

typedef struct load {
  node *a;
  int m;
  atomic_uchar *seen;                  /* answers per call */
  atomic_int ok, failed, twice, first; /* first failure's status */
} load;

typedef struct load_thread {
  load *l;
  int index;
  atomic_int in_flight;
} load_thread;

typedef struct load_call {
  load_thread *t;
  int k;
} load_call;

static void on_load(void *user, int status, const void *data, size_t len) {
  (void)data, (void)len;
  load_call *c = user;
  load *l = c->t->l;
  if (atomic_fetch_add(&l->seen[c->k], 1) != 0)
    atomic_fetch_add(&l->twice, 1);
  if (status == 0) {
    atomic_fetch_add(&l->ok, 1);
  } else {
    int zero = 0;
    atomic_compare_exchange_strong(&l->first, &zero, status);
    atomic_fetch_add(&l->failed, 1);
  }
  atomic_fetch_sub(&c->t->in_flight, 1);
}

static void *load_run(void *arg) {
  load_thread *t = arg;
  load *l = t->l;
  load_call *calls = calloc(PER_THREAD, sizeof(*calls));
  if (!calls)
    abort(); /* no cmocka assertion off the test's thread */
  for (int i = 0; i < PER_THREAD; i++) {
    int k = t->index * PER_THREAD + i;
    char id[32];
    snprintf(id, sizeof(id), "b-%d", k % ACTORS);
    calls[i] = (load_call){t, k};
    for (uint64_t end = now_ms() + WAIT_MS;
         atomic_load(&t->in_flight) >= WINDOW && now_ms() < end;)
      sleep_ms(1);
    atomic_fetch_add(&t->in_flight, 1);
    int rc;
    for (int tries = 0;
         (rc = va_call(l->a->rt, l->a->probe, id, strlen(id), l->m, NULL, 0,
                       on_load, &calls[i])) == VA_EBACKPRESSURE &&
         tries < 10000;
         tries++)
      sleep_ms(1); /* the runtime's queue for outside threads */
    if (rc != 0) {
      atomic_fetch_sub(&t->in_flight, 1);
      atomic_fetch_add(&l->failed, 1);
    }
  }
  WAIT_UNTIL(atomic_load(&t->in_flight) == 0);
  if (atomic_load(&t->in_flight) == 0)
    free(calls); /* else left to the callbacks still to come (and failed) */
  return NULL;
}

static void many_calls_are_answered_exactly_once(void **state) {
  (void)state;
  node a, b;
  pair_start(&a, &b, 60000, 60000);
  va__link_stats a0 = stats_of(&a), b0 = stats_of(&b);
  load l = {.a = &a, .m = method(&a, "count")};
  l.seen = calloc(THREADS * PER_THREAD, sizeof(*l.seen));
  assert_non_null(l.seen);
  load_thread t[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    t[i] = (load_thread){.l = &l, .index = i};
    assert_int_equal(pthread_create(&th[i], NULL, load_run, &t[i]), 0);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  int total = THREADS * PER_THREAD;
  if (atomic_load(&l.failed))
    print_message("first failure: %s\n", va_err_name(atomic_load(&l.first)));
  assert_int_equal(atomic_load(&l.failed), 0);
  assert_int_equal(atomic_load(&l.twice), 0);
  assert_int_equal(atomic_load(&l.ok), total);
  for (int k = 0; k < total; k++)
    assert_int_equal(atomic_load(&l.seen[k]), 1);
  /* Every count landed on B: the actors' counts sum to the calls. */
  int64_t sum = 0;
  for (int i = 0; i < ACTORS; i++) {
    char id[32];
    snprintf(id, sizeof(id), "b-%d", i);
    sum += count_of(&b, id);
  }
  assert_int_equal(sum, total);
  va__link_stats sa = stats_of(&a), sb = stats_of(&b);
  assert_int_equal(sa.calls_sent - a0.calls_sent, total);
  assert_int_equal(sa.answered - a0.answered, total);
  assert_int_equal(sb.calls_received - b0.calls_received, total);
  assert_int_equal(sb.replies_sent - b0.replies_sent, total);
  assert_int_equal(sa.replies_unknown + sa.failed_link + sa.timed_out, 0);
  uint64_t bucketed = 0;
  for (int i = 0; i < VA__LINK_LATENCY_BUCKETS; i++)
    bucketed += sa.latency[i];
  assert_int_equal(bucketed, sa.latency_count);
  free(l.seen);
  node_stop(&a);
  node_stop(&b);
}

static void the_link_refuses_bad_arguments(void **state) {
  (void)state;
  va_runtime *rt;
  va_link *link = NULL;
  assert_int_equal(va_runtime_new(NULL, &rt), 0);
  assert_int_equal(va__link_new(rt, "A", KEY, &link),
                   VA_ESTOPPED); /* not started */
  assert_int_equal(va_runtime_start(rt), 0);
  assert_int_equal(va__link_new(rt, "", KEY, &link), VA_EINVAL);
  assert_int_equal(va__link_new(rt, "a b", KEY, &link), VA_EINVAL);
  assert_int_equal(va__link_new(rt, "A", KEY, &link), 0);
  assert_int_equal(va__link_listen(link, "localhost", 0, NULL), VA_EINVAL);
  assert_int_equal(va__link_listen(link, "127.0.0.1", 0, NULL), 0);
  assert_int_equal(va__link_listen(link, "127.0.0.1", 0, NULL), VA_ESTATE);
  va__link_free(link);
  assert_int_equal(va_runtime_stop(rt), 0);
  va_runtime_free(rt);
}

static void a_link_freed_after_its_runtime_stopped_closes_all(void **state) {
  (void)state;
  node a, b;
  pair_start(&a, &b, 60000, 60000);
  /* B stops first; A's link then sees B go, and A stops, then frees. */
  va__link_free(atomic_exchange(&b.link, NULL));
  assert_int_equal(va_runtime_stop(b.rt), 0);
  va_runtime_free(b.rt);
  va_link *link = atomic_exchange(&a.link, NULL);
  assert_int_equal(va_runtime_stop(a.rt), 0);
  va__link_free(link); /* the loops are gone: closed on this thread */
  va_runtime_free(a.rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_call_runs_on_the_node_that_places_it),
      cmocka_unit_test(one_way_sends_arrive_in_order),
      cmocka_unit_test(state_is_read_and_written_across),
      cmocka_unit_test(what_the_peer_lacks_is_refused_by_name),
      cmocka_unit_test(a_cycle_across_nodes_fails_fast),
      cmocka_unit_test(a_callee_that_never_answers_times_out),
      cmocka_unit_test(calls_in_flight_fail_when_the_link_goes),
      cmocka_unit_test(a_forgotten_peer_fails_its_calls),
      cmocka_unit_test(a_peer_that_does_not_read_gets_backpressure),
      cmocka_unit_test(a_peer_named_wrongly_is_never_connected),
      cmocka_unit_test(a_peer_with_another_key_is_never_connected),
      cmocka_unit_test(strangers_that_say_nothing_hold_no_place),
      cmocka_unit_test(hostile_input_closes_the_connection),
      cmocka_unit_test(many_calls_are_answered_exactly_once),
      cmocka_unit_test(the_link_refuses_bad_arguments),
      cmocka_unit_test(a_link_freed_after_its_runtime_stopped_closes_all),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
