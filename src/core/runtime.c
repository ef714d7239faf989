/* runtime.c — the runtime's lifecycle (create, register types, start,
 * stop with drain, free), name lookups and statistics. */
#include "runtime.h"
#include "../base/clock.h"
#include "../store/store.h"
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

enum {
  DEFAULT_IDLE_MS = 60 * 60 * 1000,
  DEFAULT_SCAN_MS = 30 * 1000,
  DEFAULT_CALL_MS = 60 * 1000,
  DEFAULT_MAILBOX = 65536,
  MAX_TYPES = 65535,
  MAX_WORKERS = 1024,
};

void va_config_init(va_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
}

static void apply_defaults(va_config *c) {
  if (!c->threads) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = n > 0 ? (unsigned)n : 1;
  }
  if (c->threads > MAX_WORKERS)
    c->threads = MAX_WORKERS;
  if (!c->idle_timeout_ms)
    c->idle_timeout_ms = DEFAULT_IDLE_MS;
  if (!c->scan_interval_ms)
    c->scan_interval_ms = DEFAULT_SCAN_MS;
  if (c->scan_interval_ms > c->idle_timeout_ms)
    c->scan_interval_ms = c->idle_timeout_ms;
  if (!c->call_timeout_ms)
    c->call_timeout_ms = DEFAULT_CALL_MS;
  if (!c->mailbox_bound)
    c->mailbox_bound = DEFAULT_MAILBOX;
  if (!c->min_period_ms)
    c->min_period_ms = VA_MIN_PERIOD_MS_DEFAULT;
}

/* The store's log events, as the runtime's (through va_log, so rt's log
 * callback): its fields as logfmt, texts quoted, numbers as they are. A
 * field that does not fit is left out, with those after it. user is rt. */
static void store_log(void *user, va_log_level level, const char *msg,
                      const va_store_log_field *fields, size_t n) {
  char line[1024], value[1024];
  size_t at = 0;
  line[0] = 0;
  for (size_t i = 0; i < n; i++) {
    if (fields[i].text)
      va_log_quote(fields[i].text, strlen(fields[i].text), value,
                   sizeof(value));
    else
      snprintf(value, sizeof(value), "%" PRId64, fields[i].number);
    int len = snprintf(line + at, sizeof(line) - at, "%s%s=%s", at ? " " : "",
                       fields[i].key, value);
    if (len < 0 || (size_t)len >= sizeof(line) - at) {
      line[at] = 0; /* cut at the last whole field */
      break;
    }
    at += (size_t)len;
  }
  va_log(user, level, msg, "%s", line);
}

static bool is_postgres_uri(const char *store) {
  return !strncmp(store, "postgresql://", 13) ||
         !strncmp(store, "postgres://", 11);
}

/* Opens the store cfg->store names (NULL or "memory:": memory) into
 * rt->store. */
static int open_store(va_runtime *rt, const char *store) {
  if (!store || !strcmp(store, "memory:"))
    return va_store_memory_new(&rt->store);
  if (is_postgres_uri(store)) {
    rt->store_claims = true;
    va_store_postgres_options opts = {.node = rt->node,
                                      .log = rt->cfg.log ? store_log : NULL,
                                      .log_user = rt};
    return va_store_postgres_open(store, &opts, &rt->store);
  }
  if (!rt->cfg.relaxed_sync_ms)
    rt->cfg.relaxed_sync_ms = VA_RELAXED_SYNC_MS_DEFAULT;
  /* The store tells its failures through rt's log callback (cfg.log),
   * which is set already; rt outlives the store. */
  va_store_sqlite_options opts = {.durability = rt->cfg.durability,
                                  .relaxed_sync_ms = rt->cfg.relaxed_sync_ms,
                                  .log = rt->cfg.log ? store_log : NULL,
                                  .log_user = rt};
  return va_store_sqlite_open(store, &opts, &rt->store);
}

/* A node's name is 1..63 bytes of A-Z a-z 0-9 . _ - (it travels in
 * headers, log lines and the node link). *out is malloc'd. */
static int copy_node_name(const char *name, char **out) {
  size_t n = strlen(name);
  if (n == 0 || n > 63 ||
      strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "abcdefghijklmnopqrstuvwxyz"
                   "0123456789._-") != n)
    return VA_EINVAL;
  return (*out = strdup(name)) ? 0 : VA_ENOMEM;
}

int va_runtime_new(const va_config *cfg, va_runtime **out) {
  if (!out)
    return VA_EINVAL;
  va_runtime *rt = calloc(1, sizeof(*rt));
  if (!rt)
    return VA_ENOMEM;
  if (cfg)
    rt->cfg = *cfg;
  apply_defaults(&rt->cfg);
  rt->min_idle_ms = rt->cfg.idle_timeout_ms;
  /* The config's strings are the caller's: keep no pointer to them. */
  rt->cfg.store = NULL;
  rt->cfg.node = NULL;
  int rc = cfg && cfg->node ? copy_node_name(cfg->node, &rt->node) : 0;
  if (rc == 0)
    rc = open_store(rt, cfg ? cfg->store : NULL);
  if (rc) {
    free(rt->node);
    free(rt);
    return rc;
  }
  int e = pthread_mutex_init(&rt->stop_lock, NULL);
  if (e) {
    rt->store->ops->destroy(rt->store);
    free(rt->node);
    free(rt);
    return e == ENOMEM ? VA_ENOMEM : VA_ESYS;
  }
  atomic_init(&rt->phase, VA_PHASE_NEW);
  atomic_init(&rt->fence_until, UINT64_MAX);
  /* Chains travel between nodes: each node's are its own. */
  if (rt->node && getrandom(&rt->chain_salt, sizeof(rt->chain_salt), 0) !=
                      (ssize_t)sizeof(rt->chain_salt))
    rt->chain_salt = va_clock_ns() ^ (uint64_t)getpid() << 32;
  *out = rt;
  return 0;
}

/* ---- Types ---- */

static size_t round16(size_t n) {
  return (n + 15) & ~(size_t)15;
}

static void type_free(va_type *t) {
  for (size_t i = 0; i < t->n_methods; i++)
    free((char *)t->methods[i].name);
  free(t->methods);
  free(t->name);
}

static int check_def(const va_runtime *rt, const va_type_def *def) {
  if (!def->name || !*def->name || (def->n_methods && !def->methods))
    return VA_EINVAL;
  for (size_t i = 0; i < def->n_methods; i++) {
    if (!def->methods[i].name || !def->methods[i].fn)
      return VA_EINVAL;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(def->methods[i].name, def->methods[j].name))
        return VA_EEXIST;
  }
  if (va_type_lookup(rt, def->name) >= 0)
    return VA_EEXIST;
  if (rt->n_types >= MAX_TYPES || def->n_methods >= VA_METHOD_SYSTEM)
    return VA_ETOOBIG;
  return 0;
}

int va_register_type(va_runtime *rt, const va_type_def *def) {
  if (!rt || !def)
    return VA_EINVAL;
  if (va_load_acq(&rt->phase) != VA_PHASE_NEW)
    return VA_ESTATE;
  int rc = check_def(rt, def);
  if (rc)
    return rc;
  va_type *types = realloc(rt->types, (rt->n_types + 1) * sizeof(*types));
  if (!types)
    return VA_ENOMEM;
  rt->types = types;
  va_type *t = &types[rt->n_types];
  memset(t, 0, sizeof(*t));
  t->name = strdup(def->name);
  t->methods = calloc(def->n_methods ? def->n_methods : 1, sizeof(*t->methods));
  if (!t->name || !t->methods) {
    type_free(t);
    return VA_ENOMEM;
  }
  for (size_t i = 0; i < def->n_methods; i++, t->n_methods++) {
    t->methods[i].fn = def->methods[i].fn;
    if (!(t->methods[i].name = strdup(def->methods[i].name))) {
      type_free(t);
      return VA_ENOMEM;
    }
  }
  t->on_activate = def->on_activate;
  t->on_deactivate = def->on_deactivate;
  t->on_reminder = def->on_reminder;
  t->flags = def->flags;
  t->user = def->user;
  t->instance_size = def->instance_size;
  t->instance_offset = round16(sizeof(va_actor));
  t->block_size =
      t->instance_offset + round16(def->instance_size) + VA_ID_INLINE;
  return (int)rt->n_types++;
}

int va_type_lookup(const va_runtime *rt, const char *type) {
  if (!rt || !type)
    return VA_EINVAL;
  for (size_t i = 0; i < rt->n_types; i++)
    if (!strcmp(rt->types[i].name, type))
      return (int)i;
  return VA_ENOTYPE;
}

int va_method_lookup(const va_runtime *rt, int type, const char *method) {
  if (!rt || !method)
    return VA_EINVAL;
  if (type < 0 || (size_t)type >= rt->n_types)
    return VA_ENOTYPE;
  const va_type *t = &rt->types[type];
  for (size_t i = 0; i < t->n_methods; i++)
    if (!strcmp(t->methods[i].name, method))
      return (int)i;
  return VA_ENOMETHOD;
}

int va_type_set_idle_timeout(va_runtime *rt, int type, uint64_t ms) {
  if (!rt || type < 0 || (size_t)type >= rt->n_types)
    return VA_EINVAL;
  va_store_rel(&rt->types[type].idle_timeout_ms, ms);
  /* The shortest of them all: where the idle scan may stop. */
  uint64_t min = rt->cfg.idle_timeout_ms;
  for (size_t i = 0; i < rt->n_types; i++) {
    uint64_t own = va_load_acq(&rt->types[i].idle_timeout_ms);
    if (own && own < min)
      min = own;
  }
  va_store_rel(&rt->min_idle_ms, min);
  /* Scan sooner. A post that fails (out of memory, stopping) only leaves
   * that worker on its current scan interval, whose next scan reads the
   * new timeout anyway: nothing is lost, so it is not an error here. */
  if (va_load_acq(&rt->phase) == VA_PHASE_RUNNING)
    for (unsigned i = 0; i < rt->n_workers; i++)
      (void)va__run_on(rt, i, va__worker_rearm_scan, NULL);
  return 0;
}

int va_type_count(const va_runtime *rt) {
  return rt ? (int)rt->n_types : 0;
}

const char *va_type_name(const va_runtime *rt, int type) {
  if (!rt || type < 0 || (size_t)type >= rt->n_types)
    return NULL;
  return rt->types[type].name;
}

/* ---- Start and stop ---- */

/* Posts w its shutdown message, waiting for memory when there is none: the
 * join that follows would wait forever for a worker never told to stop. */
static void post_shutdown(va_worker *w) {
  while (va__worker_post_shutdown(w) != 0)
    nanosleep(&(struct timespec){0, 1000000}, NULL);
}

static void free_workers(va_runtime *rt) {
  for (unsigned i = 0; i < rt->n_workers; i++)
    va__worker_free(rt->workers[i]);
  free(rt->workers);
  free(rt->caches);
  rt->workers = NULL;
  rt->caches = NULL;
  rt->n_workers = 0;
}

int va_runtime_start(va_runtime *rt) {
  if (!rt)
    return VA_EINVAL;
  if (va_load_acq(&rt->phase) != VA_PHASE_NEW)
    return VA_ESTATE;
  unsigned n = rt->cfg.threads;
  rt->workers = calloc(n, sizeof(*rt->workers));
  rt->caches = calloc(n, sizeof(*rt->caches));
  if (!rt->workers || !rt->caches) {
    free_workers(rt);
    return VA_ENOMEM;
  }
  rt->n_workers = n;
  for (unsigned i = 0; i < n; i++) {
    int rc = va__worker_new(rt, i, &rt->workers[i]);
    if (rc) {
      free_workers(rt);
      return rc;
    }
  }
  /* Running before the threads exist: a worker may call va_call from its
   * first turn. The workers array is complete and read-only from here. */
  va_store_rel(&rt->phase, VA_PHASE_RUNNING);
  for (unsigned i = 0; i < n; i++) {
    int rc = va__worker_start(rt->workers[i]);
    if (rc) {
      /* Workers already running have nothing to do yet: stop them. */
      va_store_rel(&rt->phase, VA_PHASE_STOPPING);
      for (unsigned j = 0; j < i; j++) {
        post_shutdown(rt->workers[j]);
        pthread_join(rt->workers[j]->thread, NULL);
      }
      free_workers(rt);
      va_store_rel(&rt->phase, VA_PHASE_NEW);
      return rc;
    }
  }
  return 0;
}

unsigned va_runtime_threads(const va_runtime *rt) {
  return rt ? rt->n_workers : 0;
}

typedef struct wave {
  bool quiet;
  uint64_t posted, taken;
} wave;

static wave read_wave(va_runtime *rt) {
  wave wv = {true, va_load_acq(&rt->external_posted), 0};
  for (unsigned i = 0; i < rt->n_workers; i++) {
    va_worker *w = rt->workers[i];
    /* taken first: its release store makes quiet == false visible. */
    wv.taken += va_load_acq(&w->taken_in);
    wv.quiet &= va_load_acq(&w->quiet);
    wv.posted += va_load_acq(&w->posted_out);
  }
  return wv;
}

/* Waits until no worker has work and no message is in flight: two waves of
 * readings that agree (counters only grow, so equal sums in two quiet
 * waves mean nothing moved in between). */
static void wait_quiescent(va_runtime *rt) {
  wave prev = {false, 0, 0};
  for (;;) {
    wave now = read_wave(rt);
    if (now.quiet && now.posted == now.taken && prev.quiet &&
        prev.posted == now.posted && prev.taken == now.taken)
      return;
    prev = now;
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
}

int va_runtime_stop(va_runtime *rt) {
  if (!rt)
    return VA_EINVAL;
  if (va__current_worker(rt))
    return VA_EWOULDBLOCK;
  pthread_mutex_lock(&rt->stop_lock);
  int phase = va_load_acq(&rt->phase);
  if (phase != VA_PHASE_RUNNING) {
    if (phase == VA_PHASE_NEW)
      va_store_rel(&rt->phase, VA_PHASE_STOPPED);
    pthread_mutex_unlock(&rt->stop_lock);
    return 0;
  }
  atomic_store_explicit(&rt->phase, VA_PHASE_STOPPING, memory_order_seq_cst);
  while (atomic_load_explicit(&rt->entering, memory_order_seq_cst))
    sched_yield();
  wait_quiescent(rt);
  for (unsigned i = 0; i < rt->n_workers; i++)
    post_shutdown(rt->workers[i]);
  for (unsigned i = 0; i < rt->n_workers; i++)
    pthread_join(rt->workers[i]->thread, NULL);
  va_store_rel(&rt->phase, VA_PHASE_STOPPED);
  pthread_mutex_unlock(&rt->stop_lock);
  return 0;
}

void va_runtime_free(va_runtime *rt) {
  if (!rt)
    return;
  /* From one of its own threads the runtime can neither stop nor go: it is
   * left as it is (a leak) rather than freed under the running workers. */
  if (va_runtime_stop(rt) == VA_EWOULDBLOCK)
    return;
  /* The store first: its threads may still be returning from waking a
   * worker they posted a completion to. */
  rt->store->ops->destroy(rt->store);
  free_workers(rt);
  for (size_t i = 0; i < rt->n_types; i++)
    type_free(&rt->types[i]);
  free(rt->types);
  pthread_mutex_destroy(&rt->stop_lock);
  free(rt->node);
  free(rt);
}

void va_runtime_stats(va_runtime *rt, va_stats *out) {
  memset(out, 0, sizeof(*out));
  if (!rt)
    return;
  if (rt->store->ops->stats)
    rt->store->ops->stats(rt->store, &out->store_commits, &out->store_saves);
  if (rt->store_claims) {
    va_store_postgres_stats pg;
    va_store_postgres_stats_get(rt->store, &pg);
    out->claims = pg.claims;
    out->claims_refused = pg.claims_refused;
    out->fenced_saves = pg.fenced;
  }
  for (unsigned i = 0; i < rt->n_workers; i++) {
    const va_worker_stats *s = &rt->workers[i]->stats;
    out->active_actors += va_load_relaxed(&s->active);
    out->activations += va_load_relaxed(&s->activations);
    out->deactivations += va_load_relaxed(&s->deactivations);
    out->turns += va_load_relaxed(&s->turns);
    out->turns_failed += va_load_relaxed(&s->turns_failed);
    out->timeouts += va_load_relaxed(&s->timeouts);
    out->deadlocks += va_load_relaxed(&s->deadlocks);
    out->backpressure += va_load_relaxed(&s->backpressure);
    out->store_failures += va_load_relaxed(&s->store_failures);
    out->reminders_fired += va_load_relaxed(&s->reminders_fired);
    out->reminders_due += va_load_relaxed(&s->reminders_due);
    out->mailbox_depth += va_load_relaxed(&rt->workers[i]->queued_pub);
  }
}

uint64_t va_runtime_active_of(va_runtime *rt, int type) {
  uint64_t n = 0;
  if (!rt || type < 0 || (size_t)type >= rt->n_types)
    return 0;
  for (unsigned i = 0; i < rt->n_workers; i++)
    if (rt->workers[i]->pools)
      n += va_load_relaxed(&rt->workers[i]->pools[type].active);
  return n;
}

void va_runtime_set_incarnation(va_runtime *rt, uint64_t incarnation) {
  if (rt && rt->store_claims)
    va_store_postgres_set_incarnation(rt->store, incarnation);
}
