/* inproc.c — the in-process workloads P1..P6 of shared/bench/WORKLOADS.md on
 * libvactor, with the same checks as the peers (CAF, Erlang). Prints one line
 * per run in the peers' format:
 *   peer=vactor workload=P3 value=N unit=msgs/s extra=k=v,... ok=true
 * Usage: vactor-bench-inproc <P1|P2|P3|P3m|P4|P5|P6> [scale-percent]
 * Drivers: P1, P2, P3, P3m and P5 are driven by actors (one-way sends from
 * inside turns); P4 and P6 by reply callbacks, each reply issuing the next
 * request, with 10,000 requests in flight. See bench/README.md. */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <vactor.h>

/* ---- Measuring ---- */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double secs_since(uint64_t t0) {
  return (now_ns() - t0) / 1e9;
}

static long status_kb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(field);
  while (f && fgets(line, sizeof(line), f))
    if (!strncmp(line, field, n))
      v = strtol(line + n, NULL, 10);
  if (f)
    fclose(f);
  return v;
}

static long peak_rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static bool all_ok = true;
static void emit(const char *w, double value, const char *unit,
                 const char *extra, bool ok) {
  printf("peer=vactor workload=%s value=%.0f unit=%s extra=%s ok=%s\n", w,
         value, unit, extra, ok ? "true" : "false");
  fflush(stdout);
  all_ok &= ok;
}

static void die(const char *what, int rc) {
  fprintf(stderr, "%s: %s\n", what, va_strerror(rc));
  exit(1);
}

/* A one-shot event the main thread waits for. */
typedef struct event {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool set;
  int64_t a, b;
} event;

static event done_event = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                           false, 0, 0};

static void signal_done(int64_t a, int64_t b) {
  pthread_mutex_lock(&done_event.lock);
  done_event.a = a;
  done_event.b = b;
  done_event.set = true;
  pthread_cond_signal(&done_event.cond);
  pthread_mutex_unlock(&done_event.lock);
}

static void wait_done(int64_t *a, int64_t *b) {
  pthread_mutex_lock(&done_event.lock);
  while (!done_event.set)
    pthread_cond_wait(&done_event.cond, &done_event.lock);
  *a = done_event.a;
  *b = done_event.b;
  pthread_mutex_unlock(&done_event.lock);
}

static int64_t as_i64(const void *data, size_t len) {
  int64_t x = 0;
  if (len == sizeof(x))
    memcpy(&x, data, sizeof(x));
  return x;
}

/* ---- The user actor of P2, P3, P3m, P4, P6: one running count ---- */

static va_runtime *rt;
static int T_USER, M_INC, M_REQ, M_HELLO, M_CNT, M_BUMP;

typedef struct user {
  int64_t n;
} user;

static int user_inc(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  ((user *)va_turn_self(t))->n++;
  return 0;
}

static int user_req(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  int64_t n = ++((user *)va_turn_self(t))->n;
  return va_turn_reply(t, &n, sizeof(n));
}

static int user_hello(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  ((user *)va_turn_self(t))->n++;
  return 0; /* the empty reply is the ack */
}

/* bump (workload D): count += 1 in the actor's state (one key), and reply
 * the time the turn ended, so the caller can see how long the output gate
 * held the reply. */
static int user_bump(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  const void *v;
  size_t n;
  int64_t count = 0;
  if (va_turn_state_get(t, "count", &v, &n) == 0 && n == sizeof(count))
    memcpy(&count, v, sizeof(count));
  count++;
  int rc = va_turn_state_set(t, "count", &count, sizeof(count));
  uint64_t end = now_ns();
  return rc ? rc : va_turn_reply(t, &end, sizeof(end));
}

/* on_reminder (workload R): counts fires. */
static _Atomic int64_t reminder_fires;
static _Atomic uint64_t first_fire_ns, last_fire_ns;
static int user_remind(va_turn *t, const char *name, const void *data,
                       size_t len) {
  (void)t, (void)name, (void)data, (void)len;
  uint64_t now = now_ns(), zero = 0;
  atomic_compare_exchange_strong(&first_fire_ns, &zero, now);
  atomic_store(&last_fire_ns, now);
  atomic_fetch_add(&reminder_fires, 1);
  return 0;
}

static int user_cnt(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  int64_t n = ((user *)va_turn_self(t))->n;
  return va_turn_reply(t, &n, sizeof(n));
}

/* ---- The sender (driver actor) of P2, P3, P3m ----
 * run: sends its share of one-way incs, a chunk per turn, continuing with a
 * one-way message to itself so that other actors run in between; a send
 * refused with backpressure is retried in the next chunk. Then it asks
 * every target for its count ("cnt"), a chunk of calls per turn, and
 * reports the sum. */

static int T_SENDER, M_RUN, M_COLLECT;

enum { SEND_CHUNK = 1024, COLLECT_CHUNK = 4096 };

typedef struct sender {
  char (*ids)[24]; /* ids of the targets, built before the clock */
  int64_t n_ids;
  va_ref *target; /* P2: the one counter */
  int64_t total;  /* messages to send */
  int64_t sent;
  int64_t asked, answered, sum;
  int64_t *retry; /* targets whose "cnt" met a full mailbox: ask again */
  int64_t n_retry;
} sender;

static sender sender_cfg; /* copied into the actor by "run" */

static int sender_collect(va_turn *t, const void *arg, size_t len);

static int got_count(va_turn *t, void *user_data, int status, const void *data,
                     size_t len) {
  sender *s = va_turn_self(t);
  if (status == VA_EBACKPRESSURE) {
    s->retry[s->n_retry++] = (int64_t)(intptr_t)user_data;
    return 0;
  }
  if (status)
    return status;
  s->sum += as_i64(data, len);
  s->answered++;
  return 0;
}

/* Ends the collect turn's chunk: the turn is over once its calls answered. */
static int sender_collect(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  sender *s = va_turn_self(t);
  if (s->answered == s->n_ids) {
    signal_done(s->sum, s->answered);
    return 0;
  }
  for (int64_t issued = 0; issued < COLLECT_CHUNK; issued++) {
    int64_t i;
    if (s->n_retry)
      i = s->retry[--s->n_retry];
    else if (s->asked < s->n_ids)
      i = s->asked++;
    else
      break;
    void *tag = (void *)(intptr_t)i;
    int rc = s->target ? va_turn_call_ref(t, s->target, M_CNT, NULL, 0,
                                          got_count, tag)
                       : va_turn_call(t, T_USER, s->ids[i], strlen(s->ids[i]),
                                      M_CNT, NULL, 0, got_count, tag);
    if (rc == VA_EBACKPRESSURE) {
      s->retry[s->n_retry++] = i;
      break;
    }
    if (rc)
      return rc;
  }
  /* Come back for the next chunk (this message waits until the calls of
   * this turn have answered and the turn has ended). */
  size_t idlen;
  const char *id = va_turn_id(t, &idlen);
  return va_turn_send(t, T_SENDER, id, idlen, M_COLLECT, NULL, 0);
}

static int sender_run(va_turn *t, const void *arg, size_t len) {
  sender *s = va_turn_self(t);
  if (len) /* the first run carries the configuration */
    *s = sender_cfg;
  (void)arg;
  int64_t end = s->sent + SEND_CHUNK;
  while (s->sent < s->total && s->sent < end) {
    int rc = s->target ? va_turn_send_ref(t, s->target, M_INC, NULL, 0)
                       : va_turn_send(t, T_USER, s->ids[s->sent % s->n_ids],
                                      strlen(s->ids[s->sent % s->n_ids]), M_INC,
                                      NULL, 0);
    if (rc == VA_EBACKPRESSURE)
      break;
    if (rc)
      return rc;
    s->sent++;
  }
  size_t idlen;
  const char *id = va_turn_id(t, &idlen);
  return va_turn_send(t, T_SENDER, id, idlen,
                      s->sent < s->total ? M_RUN : M_COLLECT, NULL, 0);
}

/* ---- P1 ping-pong and P5 ring: actors holding references ---- */

static int T_NODE, M_LINK, M_TOKEN;

typedef struct ring_node {
  va_ref *next;
  int64_t index, limit; /* limit: hops (P5) or round trips (P1) */
} ring_node;

typedef struct link_msg {
  va_ref *next;
  int64_t index, limit;
} link_msg;

static int node_link(va_turn *t, const void *arg, size_t len) {
  if (len != sizeof(link_msg))
    return VA_EINVAL;
  ring_node *n = va_turn_self(t);
  link_msg m;
  memcpy(&m, arg, sizeof(m));
  n->next = m.next;
  n->index = m.index;
  n->limit = m.limit;
  return 0;
}

/* token: the body is the hop count so far. The holder of the limit-th hop
 * reports (hops, its index); everyone else passes the token on. */
static int node_token(va_turn *t, const void *arg, size_t len) {
  ring_node *n = va_turn_self(t);
  int64_t hops = as_i64(arg, len);
  if (hops == n->limit) {
    signal_done(hops, n->index);
    return 0;
  }
  hops++;
  return va_turn_send_ref(t, n->next, M_TOKEN, &hops, sizeof(hops));
}

static va_ref *node_ref(int64_t i) {
  char id[32];
  snprintf(id, sizeof(id), "node-%" PRId64, i);
  va_ref *ref;
  int rc = va_ref_new(rt, T_NODE, id, strlen(id), &ref);
  if (rc)
    die("ref", rc);
  return ref;
}

static void link_node(int64_t index, va_ref *next, int64_t limit) {
  link_msg m = {next, index, limit};
  char id[32];
  snprintf(id, sizeof(id), "node-%" PRId64, index);
  int rc = va_call_wait(rt, T_NODE, id, strlen(id), M_LINK, &m, sizeof(m), NULL,
                        NULL);
  if (rc)
    die("link", rc);
}

/* ---- P4 and P6: reply callbacks that issue the next request ---- */

enum { LAT_CAP_US = 10000000 };

typedef struct rr_thread {
  int64_t got, sum;
  uint32_t *hist; /* P6: latency in 1 us buckets, per thread */
  struct rr_thread *next;
} rr_thread;

static struct {
  int workload;  /* 4, 6, or 7 (D: durable bumps) */
  int64_t paced; /* D at a fixed rate: requests issued from the main thread */
  int64_t total, actors;
  char (*ids)[24];
  _Atomic int64_t next_k; /* next request to issue */
  _Atomic int64_t got;    /* replies, flushed from threads in batches */
  _Atomic int64_t errors;
  pthread_mutex_t lock;
  rr_thread *threads;
  /* Requests refused with backpressure inside a reply callback: a worker
   * must not wait there, so the main thread sends them again. */
  int64_t *deferred;
  size_t n_deferred, cap_deferred;
} rr = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void defer(int64_t k) {
  pthread_mutex_lock(&rr.lock);
  if (rr.n_deferred == rr.cap_deferred) {
    rr.cap_deferred = rr.cap_deferred ? rr.cap_deferred * 2 : 1024;
    rr.deferred = realloc(rr.deferred, rr.cap_deferred * sizeof(int64_t));
  }
  rr.deferred[rr.n_deferred++] = k;
  pthread_mutex_unlock(&rr.lock);
}

static _Thread_local rr_thread *my_rr;

static rr_thread *rr_self(void) {
  if (!my_rr) {
    my_rr = calloc(1, sizeof(*my_rr));
    if (rr.workload != 4)
      my_rr->hist = calloc(LAT_CAP_US + 1, sizeof(uint32_t));
    pthread_mutex_lock(&rr.lock);
    my_rr->next = rr.threads;
    rr.threads = my_rr;
    pthread_mutex_unlock(&rr.lock);
  }
  return my_rr;
}

static void rr_reply(void *user_data, int status, const void *data, size_t len);

/* Issues request k; the request carries its issue time for latency. On a
 * worker (in a callback) a refused request is deferred, never waited on. */
static void rr_issue_on(int64_t k, bool on_worker) {
  char fmt[24];
  const char *id;
  if (rr.workload == 4) { /* P4 formats each id just before its send */
    snprintf(fmt, sizeof(fmt), "user-%" PRId64, k);
    id = fmt;
  } else {
    id = rr.ids[k % rr.actors];
  }
  uint64_t t0 = now_ns();
  int method = rr.workload == 4 ? M_HELLO : rr.workload == 6 ? M_REQ : M_BUMP;
  int rc;
  while ((rc = va_call(rt, T_USER, id, strlen(id), method, NULL, 0, rr_reply,
                       (void *)(uintptr_t)t0)) == VA_EBACKPRESSURE) {
    if (on_worker) {
      defer(k);
      return;
    }
    sched_yield();
  }
  if (rc)
    die("call", rc);
}

static void rr_issue(int64_t k) {
  rr_issue_on(k, false);
}

/* The main thread's wait: sends the deferred requests again. */
static void rr_wait(void) {
  while (atomic_load(&rr.got) < rr.total) {
    pthread_mutex_lock(&rr.lock);
    size_t n = rr.n_deferred;
    int64_t *ks = NULL;
    if (n && (ks = malloc(n * sizeof(*ks))))
      memcpy(ks, rr.deferred, n * sizeof(*ks));
    rr.n_deferred = ks ? 0 : n;
    pthread_mutex_unlock(&rr.lock);
    for (size_t i = 0; ks && i < n; i++)
      rr_issue(ks[i]);
    free(ks);
    nanosleep(&(struct timespec){0, 100000}, NULL);
  }
}

static void rr_reply(void *user_data, int status, const void *data,
                     size_t len) {
  rr_thread *me = rr_self();
  if (status) {
    atomic_fetch_add(&rr.errors, 1);
  } else if (rr.workload == 6) {
    uint64_t us = (now_ns() - (uint64_t)(uintptr_t)user_data) / 1000;
    me->hist[us < LAT_CAP_US ? us : LAT_CAP_US]++;
    me->sum += as_i64(data, len);
  } else if (rr.workload == 7) {
    /* From the end of the turn to the reply in hand: the output gate. */
    uint64_t us = (now_ns() - (uint64_t)as_i64(data, len)) / 1000;
    me->hist[us < LAT_CAP_US ? us : LAT_CAP_US]++;
  }
  me->got++;
  int64_t k =
      rr.paced ? rr.total
               : atomic_fetch_add_explicit(&rr.next_k, 1, memory_order_relaxed);
  if (k < rr.total)
    rr_issue_on(k, true);
  /* Batch the shared counter; near the end, every reply is counted. */
  if (me->got >= 256 || k >= rr.total) {
    atomic_fetch_add(&rr.got, me->got);
    me->got = 0;
  }
}

static void rr_run(int64_t window) {
  atomic_store(&rr.next_k, window);
  for (int64_t k = 0; k < window; k++)
    rr_issue(k);
  rr_wait();
}

/* Open loop: rr.paced requests per second, issued each millisecond from
 * this thread, whatever the replies do. */
static void rr_run_paced(void) {
  uint64_t t0 = now_ns();
  for (int64_t k = 0; k < rr.total;) {
    int64_t due =
        (int64_t)((now_ns() - t0) / 1000 * (uint64_t)rr.paced / 1000000);
    for (; k < due && k < rr.total; k++)
      rr_issue(k);
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
  rr_wait();
}

static double rr_percentile(double p) {
  uint64_t want = (uint64_t)(p * (double)rr.total), acc = 0;
  if (!want)
    want = 1;
  for (size_t i = 0; i <= LAT_CAP_US; i++) {
    for (rr_thread *th = rr.threads; th; th = th->next)
      acc += th->hist[i];
    if (acc >= want)
      return (double)i;
  }
  return LAT_CAP_US;
}

/* ---- Set-up ---- */

static void start_runtime(const char *store, va_durability durability) {
  va_config cfg;
  va_config_init(&cfg);
  cfg.store = store;
  cfg.durability = durability;
  const char *threads = getenv("VA_THREADS");
  if (threads)
    cfg.threads = (unsigned)atoi(threads);
  int rc = va_runtime_new(&cfg, &rt);
  if (rc)
    die("runtime", rc);
  static const va_method user_methods[] = {{"inc", user_inc},
                                           {"req", user_req},
                                           {"hello", user_hello},
                                           {"cnt", user_cnt},
                                           {"bump", user_bump}};
  va_type_def udef = {.name = "User",
                      .methods = user_methods,
                      .n_methods = 5,
                      .instance_size = sizeof(user),
                      .on_reminder = user_remind};
  static const va_method sender_methods[] = {{"run", sender_run},
                                             {"collect", sender_collect}};
  va_type_def sdef = {.name = "Sender",
                      .methods = sender_methods,
                      .n_methods = 2,
                      .instance_size = sizeof(sender)};
  static const va_method node_methods[] = {{"link", node_link},
                                           {"token", node_token}};
  va_type_def ndef = {.name = "Node",
                      .methods = node_methods,
                      .n_methods = 2,
                      .instance_size = sizeof(ring_node)};
  if ((T_USER = va_register_type(rt, &udef)) < 0 ||
      (T_SENDER = va_register_type(rt, &sdef)) < 0 ||
      (T_NODE = va_register_type(rt, &ndef)) < 0)
    die("register", -1);
  M_INC = va_method_lookup(rt, T_USER, "inc");
  M_REQ = va_method_lookup(rt, T_USER, "req");
  M_HELLO = va_method_lookup(rt, T_USER, "hello");
  M_CNT = va_method_lookup(rt, T_USER, "cnt");
  M_BUMP = va_method_lookup(rt, T_USER, "bump");
  M_RUN = va_method_lookup(rt, T_SENDER, "run");
  M_COLLECT = va_method_lookup(rt, T_SENDER, "collect");
  M_LINK = va_method_lookup(rt, T_NODE, "link");
  M_TOKEN = va_method_lookup(rt, T_NODE, "token");
  if ((rc = va_runtime_start(rt)))
    die("start", rc);
}

static char (*make_ids(int64_t n))[24] {
  char(*ids)[24] = malloc((size_t)n * 24);
  for (int64_t i = 0; i < n; i++)
    snprintf(ids[i], 24, "user-%d", (int)i);
  return ids;
}

static int64_t scaled(int64_t n, int scale) {
  return n * scale / 100;
}

/* ---- Workloads ---- */

static void run_pingpong(int scale) {
  int64_t n = scaled(1000000, scale);
  va_ref *ping = node_ref(0), *pong = node_ref(1);
  /* A ring of two: a round trip is two hops. */
  link_node(0, pong, 2 * n);
  link_node(1, ping, 2 * n);
  uint64_t t0 = now_ns();
  int64_t zero = 0, hops, last;
  va_ref_send(ping, M_TOKEN, &zero, sizeof(zero));
  wait_done(&hops, &last);
  double s = secs_since(t0);
  char extra[256];
  snprintf(extra, sizeof(extra),
           "round_trips=%" PRId64 ",secs=%.3f,peak_rss_kb=%ld", hops / 2, s,
           peak_rss_kb());
  emit("P1", n / s, "round_trips/s", extra, hops == 2 * n && last == 0);
}

static void run_sender(const char *w, int64_t actors, int64_t msgs,
                       bool by_ref) {
  sender_cfg.n_ids = actors;
  sender_cfg.total = msgs;
  sender_cfg.retry = malloc((size_t)actors * sizeof(int64_t));
  if (by_ref) {
    int rc = va_ref_new(rt, T_USER, "counter", 7, &sender_cfg.target);
    if (rc)
      die("ref", rc);
  } else {
    sender_cfg.ids = make_ids(actors);
  }
  long rss0 = status_kb("VmRSS:");
  uint64_t t0 = now_ns();
  int64_t one = 1, sum, answered;
  int rc;
  while ((rc = va_send(rt, T_SENDER, "driver", 6, M_RUN, &one, sizeof(one))) ==
         VA_EBACKPRESSURE)
    sched_yield();
  if (rc)
    die("send", rc);
  wait_done(&sum, &answered);
  double s = secs_since(t0);
  va_stats st;
  va_runtime_stats(rt, &st);
  int64_t live = (int64_t)st.active_actors - 1; /* less the driver */
  char extra[256];
  if (by_ref) {
    snprintf(extra, sizeof(extra),
             "total=%" PRId64 ",secs=%.3f,peak_rss_kb=%ld", sum, s,
             peak_rss_kb());
    emit(w, msgs / s, "msgs/s", extra, sum == msgs && live == 1);
  } else {
    snprintf(extra, sizeof(extra),
             "actors=%" PRId64 ",msgs=%" PRId64 ",sum=%" PRId64
             ",secs=%.3f,peak_rss_kb=%ld,rss_before_kb=%ld,driver=actor",
             live, msgs, sum, s, peak_rss_kb(), rss0);
    emit(w, msgs / s, "msgs/s", extra,
         sum == msgs && live == actors && answered == actors);
  }
}

static void run_activation(int scale) {
  rr.workload = 4;
  rr.total = scaled(1000000, scale);
  long rss0 = status_kb("VmRSS:");
  uint64_t t0 = now_ns();
  rr_run(rr.total < 10000 ? rr.total : 10000);
  double s = secs_since(t0);
  long peak = peak_rss_kb();
  va_stats st;
  va_runtime_stats(rt, &st);
  int64_t live = (int64_t)st.active_actors;
  double bpa = (double)(peak - rss0) * 1024.0 / (double)rr.total;
  char extra[256];
  snprintf(extra, sizeof(extra),
           "acks=%" PRId64 ",live=%" PRId64
           ",secs=%.3f,bytes_per_actor=%.0f,peak_rss_kb=%ld,rss_before_kb=%ld,"
           "driver=callbacks,errors=%" PRId64,
           atomic_load(&rr.got), live, s, bpa, peak, rss0,
           atomic_load(&rr.errors));
  emit("P4", rr.total / s, "activations/s", extra,
       atomic_load(&rr.got) == rr.total && live == rr.total &&
           atomic_load(&rr.errors) == 0);
}

static void run_request_reply(int scale) {
  rr.workload = 6;
  rr.actors = 10000;
  rr.total = scaled(10000000, scale) / rr.actors * rr.actors;
  rr.ids = make_ids(rr.actors);
  uint64_t t0 = now_ns();
  rr_run(rr.actors);
  double s = secs_since(t0);
  int64_t sum = 0;
  for (rr_thread *th = rr.threads; th; th = th->next)
    sum += th->sum;
  int64_t per = rr.total / rr.actors;
  int64_t expect = rr.actors * (per * (per + 1) / 2);
  char extra[320];
  snprintf(extra, sizeof(extra),
           "requests=%" PRId64 ",count_sum=%" PRId64 ",in_flight=%" PRId64
           ",p50_ms=%.3f,p99_ms=%.3f,secs=%.3f,peak_rss_kb=%ld,"
           "driver=callbacks,errors=%" PRId64,
           atomic_load(&rr.got), sum, rr.actors, rr_percentile(0.50) / 1000.0,
           rr_percentile(0.99) / 1000.0, s, peak_rss_kb(),
           atomic_load(&rr.errors));
  emit("P6", rr.total / s, "requests/s", extra,
       atomic_load(&rr.got) == rr.total && sum == expect &&
           atomic_load(&rr.errors) == 0);
}

/* D: durable acknowledged turns with 10,000 actors, one key each, on a
 * SQLite file; closed loop with 10,000 in flight, or paced (VA_RATE). */
static void run_durable(const char *w, int scale, va_durability durability) {
  rr.workload = 7;
  rr.actors = 10000;
  rr.total = scaled(durability == VA_DURABLE ? 2000000 : 5000000, scale);
  rr.ids = make_ids(rr.actors);
  const char *rate = getenv("VA_RATE");
  rr.paced = rate ? atoll(rate) : 0;
  uint64_t t0 = now_ns();
  if (rr.paced)
    rr_run_paced();
  else
    rr_run(rr.actors);
  double acked_s = secs_since(t0);
  /* Relaxed replies run ahead of the store: the figure is what the store
   * keeps up with, so the clock stops when every save is committed. */
  va_stats st;
  for (va_runtime_stats(rt, &st); st.store_saves < (uint64_t)rr.total;
       va_runtime_stats(rt, &st))
    nanosleep(&(struct timespec){0, 100000}, NULL);
  double s = secs_since(t0);
  char extra[400];
  snprintf(extra, sizeof(extra),
           "turns=%" PRId64 ",actors=%" PRId64 ",mode=%s,paced=%" PRId64
           ",gate_p50_ms=%.3f,gate_p99_ms=%.3f,commits=%" PRIu64
           ",turns_per_commit=%.0f,secs=%.3f,acked_secs=%.3f,errors=%" PRId64,
           atomic_load(&rr.got), rr.actors,
           durability == VA_DURABLE ? "durable" : "relaxed", rr.paced,
           rr_percentile(0.50) / 1000.0, rr_percentile(0.99) / 1000.0,
           st.store_commits,
           st.store_commits ? (double)st.store_saves / st.store_commits : 0.0,
           s, acked_s, atomic_load(&rr.errors));
  emit(w, rr.total / s, "turns/s", extra,
       atomic_load(&rr.got) == rr.total && atomic_load(&rr.errors) == 0 &&
           st.store_saves == (uint64_t)rr.total && st.store_failures == 0);
}

/* R: reminders. Registers `total` reminders (100 per actor) due in an
 * hour, restarts the runtime on the same file and measures the start-up
 * (they are not loaded: only what is due within two seconds is), then
 * registers `fire` more due all at one moment and measures how fast they
 * fire. Each registration and each fire is a durable turn. */
static _Atomic int64_t reminders_set;
static void count_set(void *user_data, int status, const void *data,
                      size_t len) {
  (void)user_data, (void)data, (void)len;
  if (status == 0)
    atomic_fetch_add(&reminders_set, 1);
  else
    atomic_fetch_add(&rr.errors, 1);
}

static void set_reminders(int64_t n, int64_t due_ms, const char *prefix) {
  char id[24], name[32];
  va_reminder spec = {.due_ms = due_ms, .left = 1};
  int64_t start = atomic_load(&reminders_set);
  for (int64_t i = 0; i < n; i++) {
    snprintf(id, sizeof(id), "user-%d", (int)(i % 10000));
    snprintf(name, sizeof(name), "%s-%d", prefix, (int)(i / 10000));
    int rc;
    while ((rc = va_reminder_call(rt, T_USER, id, strlen(id), name, &spec,
                                  VA_REMINDER_SET, count_set, NULL)) ==
           VA_EBACKPRESSURE)
      nanosleep(&(struct timespec){0, 100000}, NULL);
    if (rc)
      die("reminder", rc);
    /* Keep at most ~20,000 registrations in flight. */
    while (i - (atomic_load(&reminders_set) - start) > 20000)
      nanosleep(&(struct timespec){0, 100000}, NULL);
  }
  while (atomic_load(&reminders_set) - start < n &&
         atomic_load(&rr.errors) == 0)
    nanosleep(&(struct timespec){0, 1000000}, NULL);
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_reminders(const char *db, int scale) {
  int64_t total = scaled(1000000, scale), fire = scaled(200000, scale);
  uint64_t t0 = now_ns();
  set_reminders(total, wall_ms() + 3600 * 1000, "later");
  double register_s = secs_since(t0);
  /* Restart on the same file: what does a million registered cost? */
  va_runtime_free(rt);
  long rss0 = status_kb("VmRSS:");
  t0 = now_ns();
  start_runtime(db, VA_DURABLE);
  double startup_s = secs_since(t0);
  nanosleep(&(struct timespec){1, 200000000}, NULL); /* a look or two */
  long rss1 = status_kb("VmRSS:");
  /* Firing: `fire` reminders due at one moment, after they are all set. */
  /* Due once they are all set: registration runs at ~25 k/s here. */
  int64_t due = wall_ms() + 3000 + fire / 15;
  set_reminders(fire, due, "now");
  t0 = now_ns();
  while (atomic_load(&reminder_fires) < fire && secs_since(t0) < 120)
    nanosleep(&(struct timespec){0, 10000000}, NULL);
  double fire_s =
      (atomic_load(&last_fire_ns) - atomic_load(&first_fire_ns)) / 1e9;
  int64_t fired = atomic_load(&reminder_fires);
  char extra[400];
  snprintf(extra, sizeof(extra),
           "registered=%" PRId64 ",register_secs=%.2f,restart_secs=%.3f,"
           "rss_before_kb=%ld,rss_after_restart_kb=%ld,fired=%" PRId64
           ",fire_secs=%.3f,errors=%" PRId64,
           total, register_s, startup_s, rss0, rss1, fired, fire_s,
           atomic_load(&rr.errors));
  emit("R", fire_s > 0 ? fired / fire_s : 0, "fires/s", extra,
       fired == fire && atomic_load(&rr.errors) == 0);
}

static void run_ring(int scale) {
  const int64_t nodes = 1000, hops = scaled(10000000, scale);
  va_ref **refs = calloc(nodes, sizeof(*refs));
  for (int64_t i = 0; i < nodes; i++)
    refs[i] = node_ref(i);
  for (int64_t i = 0; i < nodes; i++)
    link_node(i, refs[(i + 1) % nodes], hops);
  uint64_t t0 = now_ns();
  int64_t zero = 0, h, last;
  va_ref_send(refs[0], M_TOKEN, &zero, sizeof(zero));
  wait_done(&h, &last);
  double s = secs_since(t0);
  char extra[256];
  snprintf(extra, sizeof(extra),
           "actors=%" PRId64 ",hops=%" PRId64 ",last=%" PRId64
           ",secs=%.3f,peak_rss_kb=%ld",
           nodes, h, last, s, peak_rss_kb());
  emit("P5", hops / s, "hops/s", extra, h == hops && last == hops % nodes);
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help")) {
    fprintf(stderr,
            "usage: %s <P1|P2|P3|P3m|P4|P5|P6|D|Dr> [scale-percent]\n"
            "Runs one in-process workload of shared/bench/WORKLOADS.md on\n"
            "libvactor and prints its result line. D and Dr: durable and\n"
            "relaxed turns on a SQLite file in VA_DATA_DIR (default /tmp),\n"
            "closed loop, or paced at VA_RATE turns/s. VA_THREADS sets the\n"
            "worker count (default: cores).\n",
            argv[0]);
    return argc < 2 ? 2 : 0;
  }
  const char *w = argv[1];
  int scale = argc > 2 ? atoi(argv[2]) : 100;
  if (scale <= 0)
    scale = 100;
  bool durable = !strcmp(w, "D") || !strcmp(w, "Dr") || !strcmp(w, "R");
  char db[256] = "";
  if (durable) {
    const char *dir = getenv("VA_DATA_DIR") ? getenv("VA_DATA_DIR") : "/tmp";
    snprintf(db, sizeof(db), "%s/vactor-bench-%d.db", dir, (int)getpid());
  }
  start_runtime(durable ? db : NULL,
                !strcmp(w, "Dr") ? VA_RELAXED : VA_DURABLE);
  if (!strcmp(w, "P1"))
    run_pingpong(scale);
  else if (!strcmp(w, "P2"))
    run_sender("P2", 1, scaled(10000000, scale), true);
  else if (!strcmp(w, "P3"))
    run_sender("P3", 10000, scaled(10000000, scale), false);
  else if (!strcmp(w, "P3m"))
    run_sender("P3m", scaled(1000000, scale), scaled(20000000, scale), false);
  else if (!strcmp(w, "P4"))
    run_activation(scale);
  else if (!strcmp(w, "P5"))
    run_ring(scale);
  else if (!strcmp(w, "P6"))
    run_request_reply(scale);
  else if (!strcmp(w, "D"))
    run_durable("D", scale, VA_DURABLE);
  else if (!strcmp(w, "Dr"))
    run_durable("Dr", scale, VA_RELAXED);
  else if (!strcmp(w, "R"))
    run_reminders(db, scale);
  else {
    fprintf(stderr, "unknown workload %s\n", w);
    return 2;
  }
  /* Exit without tearing down millions of actors: the figure is taken. */
  fflush(stdout);
  if (durable) {
    char aux[300];
    unlink(db);
    snprintf(aux, sizeof(aux), "%s-wal", db);
    unlink(aux);
    snprintf(aux, sizeof(aux), "%s-shm", db);
    unlink(aux);
  }
  _Exit(all_ok ? 0 : 1);
}
