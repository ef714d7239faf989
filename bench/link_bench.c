/* link_bench.c — the node link's cost (issue 11's targets: <= 50 µs p50
 * added per hop, >= 100 k forwarded calls/s per node pair): two runtimes
 * in this process, A and B, joined by their links over loopback TCP, a
 * router placing ids starting with "b" on B and the rest on A. The same
 * call ("count": the actor increments its count and replies it) is made
 * from A to actors on A (local) and to actors on B (forwarded, one hop
 * and back), driven by reply callbacks as P6 is (each reply issues the
 * next call):
 *   link-calls-local / link-calls-forwarded   calls/s, WINDOW in flight
 *   link-latency-local / -forwarded           p50 µs (p99 in extra), one
 *                                             call in flight
 *   link-added-per-hop                        forwarded p50 - local p50
 *   tcp-pingpong-floor                        p50 µs of one byte there
 *                                             and back between two
 *                                             threads asleep in epoll:
 *                                             the machine's own floor
 * Each run checks its own result: every call answered with success, and
 * the actors' counts summed (on the node they live on) equal the calls.
 * Lines in the peers' format:
 *   peer=vactor workload=link-calls-forwarded value=N unit=calls/s extra=...
 * Usage: vactor-link-bench [scale-percent] [threads-per-node]
 * (100 %: 1,000,000 calls per throughput run, 100,000 per latency run;
 * 1 thread per node by default: a node pair on this 2-core machine is a
 * core each). */
#include "cluster/link.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { NODE_A = 1, NODE_B = 2, ACTORS = 1000, WINDOW = 4096 };

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms) {
  nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

/* ---- Two nodes ---- */

typedef struct node {
  const char *name;
  int number;
  va_runtime *rt;
  _Atomic(va_link *) link;
  int type, count, get;
  uint16_t port;
} node;

static int place(void *user, va_loop *loop, int type, const char *id,
                 size_t id_len) {
  (void)loop, (void)type;
  node *n = user;
  int want = id_len && id[0] == 'b' ? NODE_B : NODE_A;
  return want == n->number ? VA_ROUTE_HERE : want;
}

static int forward(void *user, va_loop *loop, int to, const va_route_call *call,
                   va_route_reply reply) {
  node *n = user;
  va_link *link = atomic_load(&n->link);
  return link ? va__link_forward(link, loop, to, call, reply) : VA_ELINK;
}

static int count(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  int64_t *c = va_turn_self(t);
  ++*c;
  return va_turn_reply(t, c, sizeof(*c));
}

static int get(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  return va_turn_reply(t, va_turn_self(t), sizeof(int64_t));
}

static void die(const char *what, int rc) {
  fprintf(stderr, "link-bench: %s: %s\n", what, va_strerror(rc));
  exit(1);
}

static void node_start(node *n, const char *name, int number,
                       unsigned threads) {
  memset(n, 0, sizeof(*n));
  n->name = name;
  n->number = number;
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = threads;
  cfg.node = name;
  int rc = va_runtime_new(&cfg, &n->rt);
  if (rc)
    die("runtime", rc);
  static const va_method methods[] = {{"count", count}, {"get", get}};
  va_type_def def = {.name = "Counter",
                     .methods = methods,
                     .n_methods = 2,
                     .instance_size = sizeof(int64_t)};
  n->type = va_register_type(n->rt, &def);
  n->count = 0;
  n->get = 1;
  va_router router = {.place = place, .forward = forward};
  if ((rc = va_runtime_set_router(n->rt, &router, n)) ||
      (rc = va_runtime_start(n->rt)))
    die("start", rc);
  va_link *link;
  static const uint8_t key[VA__LINK_KEY_LEN] =
      "vactor-link-bench's own key....";
  if ((rc = va__link_new(n->rt, name, key, &link)) ||
      (rc = va__link_listen(link, "127.0.0.1", 0, &n->port)))
    die("link", rc);
  atomic_store(&n->link, link);
}

static void introduce(node *a, const node *b) {
  char address[32];
  snprintf(address, sizeof(address), "127.0.0.1:%u", (unsigned)b->port);
  int rc =
      va__link_set_peer(atomic_load(&a->link), b->number, b->name, address);
  if (rc)
    die("peer", rc);
}

static void node_stop(node *n) {
  va__link_free(atomic_exchange(&n->link, NULL));
  va_runtime_stop(n->rt);
  va_runtime_free(n->rt);
}

/* ---- A run: reply callbacks keep `window` calls in flight ---- */

typedef struct run {
  node *a;
  char prefix;
  uint64_t total;
  _Atomic uint64_t issued, answered, failed;
  uint64_t *latency_ns; /* per call, when measured (else NULL) */
  _Atomic uint64_t end_ns;
} run;

typedef struct slot {
  run *r;
  uint64_t k; /* the call in flight */
  uint64_t start_ns;
  char id[16];
} slot;

static void on_reply(void *user, int status, const void *data, size_t len);

/* Issues call k from s (on any thread); false when refused. */
static bool issue(slot *s, uint64_t k) {
  run *r = s->r;
  s->k = k;
  int n = snprintf(s->id, sizeof(s->id), "%c-%u", r->prefix,
                   (unsigned)(k % ACTORS));
  s->start_ns = r->latency_ns ? now_ns() : 0;
  return va_call(r->a->rt, r->a->type, s->id, (size_t)n, r->a->count, NULL, 0,
                 on_reply, s) == 0;
}

static void finish_one(run *r) {
  if (atomic_fetch_add(&r->answered, 1) + 1 == r->total)
    atomic_store(&r->end_ns, now_ns());
}

/* The next call goes out before this one is counted: the run (on the
 * driver's stack) is over only once every call is counted, so nothing
 * here touches it after that. */
static void on_reply(void *user, int status, const void *data, size_t len) {
  (void)data, (void)len;
  slot *s = user;
  run *r = s->r;
  if (r->latency_ns)
    r->latency_ns[s->k] = now_ns() - s->start_ns;
  if (status != 0)
    atomic_fetch_add(&r->failed, 1);
  uint64_t k = atomic_fetch_add(&r->issued, 1);
  if (k < r->total && !issue(s, k)) {
    atomic_fetch_add(&r->failed, 1);
    finish_one(r);
  }
  finish_one(r);
}

/* Runs total calls to prefix-<k mod ACTORS> with window in flight; the
 * seconds it took, or a negative number when it did not finish. */
static double drive(node *a, char prefix, uint64_t total, unsigned window,
                    uint64_t *latency_ns) {
  run r = {.a = a, .prefix = prefix, .total = total, .latency_ns = latency_ns};
  slot *slots = calloc(window, sizeof(*slots));
  if (!slots)
    die("memory", VA_ENOMEM);
  uint64_t start = now_ns();
  for (unsigned i = 0; i < window && i < total; i++) {
    slots[i].r = &r;
    /* Replies to the first slots issue calls too: once they have taken
     * every number, a call from here would be one too many (its reply
     * could come after the run, to freed slots). */
    uint64_t k = atomic_fetch_add(&r.issued, 1);
    if (k >= total)
      break;
    if (!issue(&slots[i], k)) {
      atomic_fetch_add(&r.failed, 1);
      finish_one(&r);
    }
  }
  for (int ms = 0; ms < 600000 && !atomic_load(&r.end_ns); ms++)
    sleep_ms(1);
  uint64_t end = atomic_load(&r.end_ns);
  bool ok = end && !atomic_load(&r.failed);
  if (!end) {
    fprintf(stderr, "link-bench: a run did not finish (%llu of %llu)\n",
            (unsigned long long)atomic_load(&r.answered),
            (unsigned long long)total);
    return -1; /* its slots may still be in use: left allocated */
  }
  free(slots);
  return ok ? (double)(end - start) / 1e9 : -1;
}

/* The actors' counts, summed, read on `on` (where they live). */
static int64_t counted(node *on, char prefix) {
  int64_t sum = 0;
  for (int i = 0; i < ACTORS; i++) {
    char id[16];
    int n = snprintf(id, sizeof(id), "%c-%d", prefix, i);
    void *reply = NULL;
    size_t len = 0;
    int64_t c = 0;
    if (va_call_wait(on->rt, on->type, id, (size_t)n, on->get, NULL, 0, &reply,
                     &len) == 0 &&
        len == sizeof(c))
      memcpy(&c, reply, sizeof(c));
    free(reply);
    sum += c;
  }
  return sum;
}

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

static bool all_ok = true;

static void emit(const char *w, double value, const char *unit,
                 const char *extra, bool ok) {
  printf("peer=vactor workload=%s value=%.0f unit=%s extra=%s ok=%s\n", w,
         value, unit, extra, ok ? "true" : "false");
  fflush(stdout);
  all_ok &= ok;
}

/* Throughput of calls to prefix's actors; before + calls must be counted
 * on `on` afterwards. */
static void throughput(node *a, node *on, char prefix, uint64_t calls,
                       const char *workload) {
  int64_t before = counted(on, prefix);
  double secs = drive(a, prefix, calls, WINDOW, NULL);
  int64_t after = counted(on, prefix);
  bool ok = secs > 0 && after - before == (int64_t)calls;
  char extra[128];
  snprintf(extra, sizeof(extra), "calls=%llu,window=%d,actors=%d,secs=%.3f",
           (unsigned long long)calls, WINDOW, ACTORS, secs);
  emit(workload, ok ? (double)calls / secs : 0, "calls/s", extra, ok);
}

/* One call in flight: *p50 and *p99 in µs; false when a call failed. */
static bool latency(node *a, char prefix, uint64_t calls, double *p50,
                    double *p99, const char *workload) {
  uint64_t *ns = calloc(calls, sizeof(*ns));
  if (!ns)
    die("memory", VA_ENOMEM);
  bool ok = drive(a, prefix, calls, 1, ns) > 0;
  qsort(ns, calls, sizeof(*ns), cmp_u64);
  *p50 = ns[calls / 2] / 1e3;
  *p99 = ns[calls * 99 / 100] / 1e3;
  char extra[128];
  snprintf(extra, sizeof(extra), "p99_us=%.1f,calls=%llu,in_flight=1", *p99,
           (unsigned long long)calls);
  emit(workload, *p50, "us_p50", extra, ok);
  free(ns);
  return ok;
}

/* ---- The floor: one byte back and forth over loopback TCP ---- */

/* Two threads, each asleep in epoll_wait until its socket is readable (as
 * a worker with sockets parks): what any one-hop round trip between two
 * sleeping threads costs on this machine before a link does anything. */
typedef struct pinger {
  int fd;
  uint64_t n;
} pinger;

static void wait_read(int ep, int fd) {
  struct epoll_event e;
  char byte;
  while (epoll_wait(ep, &e, 1, -1) < 0 && errno == EINTR) {
  }
  if (read(fd, &byte, 1) != 1)
    die("ping-pong read", VA_ESYS);
}

static int epoll_for(int fd) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event e = {.events = EPOLLIN};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0)
    die("epoll", VA_ESYS);
  return ep;
}

static void *ponger(void *arg) {
  pinger *p = arg;
  int ep = epoll_for(p->fd);
  for (uint64_t i = 0; i < p->n; i++) {
    wait_read(ep, p->fd);
    if (write(p->fd, "p", 1) != 1)
      die("ping-pong write", VA_ESYS);
  }
  close(ep);
  return NULL;
}

static void tcp_floor(uint64_t n) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(addr);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) ||
      listen(lfd, 1) || getsockname(lfd, (struct sockaddr *)&addr, &len))
    die("ping-pong listen", VA_ESYS);
  int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (cfd < 0 || connect(cfd, (struct sockaddr *)&addr, sizeof(addr)))
    die("ping-pong connect", VA_ESYS);
  int sfd = accept(lfd, NULL, NULL);
  if (sfd < 0)
    die("ping-pong accept", VA_ESYS);
  setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  pinger p = {.fd = sfd, .n = n};
  pthread_t t;
  if (pthread_create(&t, NULL, ponger, &p) != 0)
    die("ping-pong thread", VA_ESYS);
  uint64_t *ns = calloc(n, sizeof(*ns));
  if (!ns)
    die("memory", VA_ENOMEM);
  int ep = epoll_for(cfd);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t start = now_ns();
    if (write(cfd, "p", 1) != 1)
      die("ping-pong write", VA_ESYS);
    wait_read(ep, cfd);
    ns[i] = now_ns() - start;
  }
  pthread_join(t, NULL);
  qsort(ns, n, sizeof(*ns), cmp_u64);
  char extra[128];
  snprintf(extra, sizeof(extra), "p99_us=%.1f,round_trips=%llu",
           ns[n * 99 / 100] / 1e3, (unsigned long long)n);
  emit("tcp-pingpong-floor", ns[n / 2] / 1e3, "us_p50", extra, true);
  free(ns);
  close(ep);
  close(cfd);
  close(sfd);
  close(lfd);
}

int main(int argc, char **argv) {
  double scale = argc > 1 ? atof(argv[1]) / 100 : 1;
  unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
  if (scale <= 0 || threads == 0) {
    fprintf(stderr, "usage: vactor-link-bench [scale-percent] [threads]\n");
    return 2;
  }
  uint64_t calls = (uint64_t)(1000000 * scale),
           pings = (uint64_t)(100000 * scale);
  calls = calls < ACTORS ? ACTORS : calls;
  pings = pings < 100 ? 100 : pings;
  node a, b;
  node_start(&a, "A", NODE_A, threads);
  node_start(&b, "B", NODE_B, threads);
  introduce(&a, &b);
  introduce(&b, &a);
  for (int ms = 0; ms < 30000 && va__link_peer_connected(atomic_load(&a.link),
                                                         NODE_B) < threads;
       ms++)
    sleep_ms(1);
  /* Warm-up: every actor active, the buffers grown. */
  drive(&a, 'a', 4 * ACTORS, WINDOW, NULL);
  drive(&a, 'b', 4 * ACTORS, WINDOW, NULL);
  throughput(&a, &a, 'a', calls, "link-calls-local");
  throughput(&a, &b, 'b', calls, "link-calls-forwarded");
  double l50, l99, f50, f99;
  bool ok = latency(&a, 'a', pings, &l50, &l99, "link-latency-local");
  ok &= latency(&a, 'b', pings, &f50, &f99, "link-latency-forwarded");
  char extra[128];
  snprintf(extra, sizeof(extra), "p99_added_us=%.1f,threads_per_node=%u",
           f99 - l99, threads);
  emit("link-added-per-hop", f50 - l50, "us_p50", extra, ok);
  tcp_floor(pings);
  va__link_stats s;
  va__link_stats_get(atomic_load(&a.link), &s);
  fprintf(
      stderr,
      "link A: frames out %llu in %llu, bytes out %llu in %llu, "
      "answered %llu, refused busy %llu link %llu\n",
      (unsigned long long)s.frames_sent, (unsigned long long)s.frames_received,
      (unsigned long long)s.bytes_sent, (unsigned long long)s.bytes_received,
      (unsigned long long)s.answered, (unsigned long long)s.refused_busy,
      (unsigned long long)s.refused_link);
  node_stop(&a);
  node_stop(&b);
  return all_ok ? 0 : 1;
}
