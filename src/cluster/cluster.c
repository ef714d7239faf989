/* cluster.c — the cluster part of a node (cluster.h): the router the
 * runtime asks where an actor runs (each worker's own view, rendezvous
 * placement) and which carries calls over the link; installing the views
 * the membership thread reads; start, leave and free; and what the node
 * tells about it (/v1/cluster, /metrics). */
#include "../base/clock.h"
#include "cluster_impl.h"
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vactor_route.h>

enum {
  START_WAIT_MS = 10000,
  NUMBERS_MAX = 256,
  LINGER_QUIET_MS = 600, /* a leaving node: no call for this long, ... */
  LINGER_MAX_MS = 5000,  /* ... or this long at most */
};

/* ---- The router (on the workers) ---- */

static int place(void *user, va_loop *loop, int type, const char *id,
                 size_t id_len) {
  va_cluster *c = user;
  const va__view *v = c->views[va_loop_index(loop)];
  if (!v || v->self < 0)
    return VA_ROUTE_HERE; /* no view yet: claims decide */
  int i;
  if (type == c->app_actor_type) {
    i = va__view_place_app(v, id, id_len);
  } else {
    const char *name = va_type_name(c->rt, type);
    i = name ? va__view_place(v, type, name, id, id_len) : -1;
  }
  if (i < 0 || i == v->self)
    return VA_ROUTE_HERE;
  return v->members[i].number;
}

static int forward(void *user, va_loop *loop, int node,
                   const va_route_call *call, va_route_reply reply) {
  va_cluster *c = user;
  va_link *link = atomic_load_explicit(&c->link, memory_order_acquire);
  return link ? va__link_forward(link, loop, node, call, reply) : VA_ELINK;
}

/* ---- Views ---- */

int va__cluster_number(va_cluster *c, const char *id) {
  for (size_t i = 0; i < c->n_numbers; i++)
    if (!strcmp(c->numbers[i], id))
      return (int)i + 1;
  if (c->n_numbers == NUMBERS_MAX)
    return -1;
  snprintf(c->numbers[c->n_numbers], sizeof(c->numbers[0]), "%s", id);
  return (int)++c->n_numbers;
}

/* On worker loop: it takes v, and lets go of the view it had. */
static void take_view(void *ctx, va_loop *loop) {
  va__view *v = ctx;
  va_cluster *c = v->cluster;
  unsigned i = va_loop_index(loop);
  va__view *old = c->views[i];
  c->views[i] = v;
  va__view_release(old);
}

static void log_view(va_cluster *c, const va__view *v) {
  char members[1024] = "", *p = members;
  for (size_t i = 0; i < v->n && p < members + sizeof(members) - 80; i++)
    p += snprintf(p, (size_t)(members + sizeof(members) - p), "%s%s:%s",
                  i ? "," : "", v->members[i].id,
                  va__member_status_name(v->members[i].status));
  char quoted[1100];
  va_log_quote(members, strlen(members), quoted, sizeof(quoted));
  va_log(c->rt, VA_LOG_INFO, "cluster view changed",
         "node=%s version=%" PRIu64 " members=%s", c->node, v->version, quoted);
}

/* Whether placement can differ between the views: a member came, went or
 * changed status, incarnation or types. */
static bool placement_moved(const va__view *a, const va__view *b) {
  if (!a || a->n != b->n)
    return true;
  for (size_t i = 0; i < a->n; i++) {
    const va__member *x = &a->members[i], *y = &b->members[i];
    bool x_on = x->status <= VA__MEMBER_SUSPECT,
         y_on = y->status <= VA__MEMBER_SUSPECT;
    if (strcmp(x->id, y->id) || x_on != y_on ||
        x->incarnation != y->incarnation || strcmp(x->types, y->types))
      return true;
  }
  return false;
}

void va__cluster_install(va_cluster *c, va__view *v) {
  v->cluster = c;
  /* The link first: a call placed by the new view finds its peer. */
  for (size_t i = 0; i < v->n; i++) {
    const va__member *m = &v->members[i];
    /* A dead member is not forgotten: placement sends it nothing new, and
     * the calls still on their way to one that left gracefully (it serves
     * until the others stopped sending) are answered, not cut. */
    if ((int)i == v->self || m->status == VA__MEMBER_DEAD || !m->link[0])
      continue;
    int rc =
        va__link_set_peer(atomic_load(&c->link), m->number, m->id, m->link);
    if (rc)
      va_log(c->rt, VA_LOG_ERROR, "cluster peer not set",
             "node=%s member=%s error=\"%s\"", c->node, m->id, va_strerror(rc));
  }
  atomic_init(&v->refs, c->n_workers + 1);
  for (unsigned i = 0; i < c->n_workers; i++)
    if (va_loop_run(c->rt, i, take_view, v) != 0)
      va__view_release(v); /* stopping: that worker needs no view */
  pthread_mutex_lock(&c->lock);
  va__view *old = c->latest;
  c->latest = v;
  pthread_mutex_unlock(&c->lock);
  if (!old || old->version != v->version)
    log_view(c, v);
  if (placement_moved(old, v))
    (void)va_runtime_rebalance(c->rt);
  va__view_release(old);
}

/* ---- Life ---- */

int va_cluster_new(va_runtime *rt, const va_cluster_options *o,
                   va_cluster **out) {
  if (!rt || !o || !o->url || !o->node || !o->address || !out)
    return VA_EINVAL;
  va_cluster *c = calloc(1, sizeof(*c));
  if (!c)
    return VA_ENOMEM;
  c->rt = rt;
  c->url = strdup(o->url);
  c->node = strdup(o->node);
  c->address = strdup(o->address);
  c->app_actor_type = o->app_actor ? va_type_lookup(rt, o->app_actor) : -1;
  if (o->link_host) {
    c->link_host = strdup(o->link_host);
  } else { /* the host part of address */
    const char *colon = strrchr(o->address, ':');
    c->link_host = strndup(o->address, colon ? (size_t)(colon - o->address)
                                             : strlen(o->address));
  }
  c->link_port = o->link_port;
  c->lease_ms = o->lease_ms ? o->lease_ms : VA_CLUSTER_DEFAULT_LEASE_MS;
  c->renew_ms = o->renew_ms ? o->renew_ms : VA_CLUSTER_DEFAULT_RENEW_MS;
  c->numbers = calloc(NUMBERS_MAX, sizeof(*c->numbers));
  c->reach = calloc(NUMBERS_MAX + 1, sizeof(*c->reach));
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->changed, NULL);
  int rc = VA_ENOMEM;
  if (c->url && c->node && c->address && c->link_host && c->numbers &&
      c->reach) {
    rc = c->renew_ms < c->lease_ms && (!o->app_actor || c->app_actor_type >= 0)
             ? 0
             : VA_EINVAL;
    va_router router = {.place = place, .forward = forward};
    if (rc == 0)
      rc = va_runtime_set_router(rt, &router, c);
  }
  if (rc) {
    va_cluster_free(c);
    return rc;
  }
  /* No turn before this node is in the cluster (va_cluster_start). */
  va_runtime_fence(rt, 0);
  *out = c;
  return 0;
}

static int wait_joined(va_cluster *c) {
  struct timespec until = va_clock_deadline(START_WAIT_MS);
  pthread_mutex_lock(&c->lock);
  int rc = 0;
  while (c->phase == VA__CLUSTER_NEW && !c->start_error && rc == 0)
    rc = pthread_cond_timedwait(&c->changed, &c->lock, &until);
  int result = c->phase != VA__CLUSTER_NEW ? 0
               : c->start_error            ? c->start_error
                                           : VA_ETIMEDOUT;
  pthread_mutex_unlock(&c->lock);
  return result;
}

int va_cluster_start(va_cluster *c) {
  if (!c || c->thread_started)
    return VA_EINVAL;
  c->n_workers = va_runtime_threads(c->rt);
  c->views = calloc(c->n_workers, sizeof(*c->views));
  if (!c->views)
    return VA_ENOMEM;
  uint8_t key[VA__LINK_KEY_LEN];
  int rc = va__membership_link_key(c, key);
  va_link *link = NULL;
  if (rc == 0)
    rc = va__link_new(c->rt, c->node, key, &link);
  OPENSSL_cleanse(key, sizeof(key));
  uint16_t port = 0;
  if (rc == 0 &&
      (rc = va__link_listen(link, c->link_host, c->link_port, &port)) != 0)
    va__link_free(link);
  if (rc)
    return rc;
  snprintf(c->link_address, sizeof(c->link_address), "%s:%u", c->link_host,
           (unsigned)port);
  atomic_store_explicit(&c->link, link, memory_order_release);
  if (pthread_create(&c->thread, NULL, va__membership_main, c) != 0)
    return VA_ESYS;
  c->thread_started = true;
  return wait_joined(c);
}

/* Once marked dead: the others stop sending here when their views have
 * it, which this node sees as calls that stop coming. It waits until none
 * came for LINGER_QUIET_MS (its answers to the last ones leave meanwhile),
 * at most LINGER_MAX_MS, so that closing the link fails no call. */
static void linger(va_cluster *c) {
  va_link *link = atomic_load(&c->link);
  uint64_t start = va_clock_ms(), quiet_since = start, seen = UINT64_MAX;
  while (link && va_clock_ms() - start < LINGER_MAX_MS &&
         va_clock_ms() - quiet_since < LINGER_QUIET_MS) {
    va__link_stats st;
    va__link_stats_get(link, &st);
    if (st.calls_received + st.calls_sent != seen) {
      seen = st.calls_received + st.calls_sent;
      quiet_since = va_clock_ms();
    }
    nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
  }
}

/* Whether the newest view has a member other than this node that can take
 * its actors (alive or suspect): if every member is leaving together,
 * nobody can, and the drain does not wait for what cannot happen. */
static bool others_can_take_over(va_cluster *c) {
  pthread_mutex_lock(&c->lock);
  const va__view *v = c->latest;
  bool any = false;
  for (size_t i = 0; v && i < v->n && !any; i++)
    any = (int)i != v->self && v->members[i].status <= VA__MEMBER_SUSPECT;
  pthread_mutex_unlock(&c->lock);
  return any;
}

int va_cluster_leave(va_cluster *c, uint32_t drain_ms) {
  if (!c || !c->thread_started)
    return VA_EINVAL;
  pthread_mutex_lock(&c->lock);
  bool joined = c->phase == VA__CLUSTER_JOINED;
  if (joined)
    c->phase = VA__CLUSTER_LEAVING;
  pthread_mutex_unlock(&c->lock);
  if (!joined)
    return VA_ESTATE;
  va_runtime_drain(c->rt, true);
  int rc = va__membership_mark_self(c, true);
  va_log(c->rt, VA_LOG_INFO, "cluster leaving", "node=%s", c->node);
  /* The next view (the thread reads it within a tick) places nothing
   * here, and the walk sends every activation away. */
  uint64_t until =
      va_clock_ms() + (drain_ms ? drain_ms : VA_CLUSTER_DEFAULT_DRAIN_MS);
  va_stats st;
  bool taker = true;
  do {
    nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
    va_runtime_stats(c->rt, &st);
    taker = others_can_take_over(c);
  } while (st.active_actors > 0 && taker && va_clock_ms() < until);
  if (st.active_actors > 0 && !taker)
    va_log(c->rt, VA_LOG_INFO, "cluster drain ends: no member to take over",
           "node=%s active=%" PRIu64, c->node, st.active_actors);
  else if (st.active_actors > 0)
    va_log(c->rt, VA_LOG_WARN, "cluster drain incomplete",
           "node=%s active=%" PRIu64, c->node, st.active_actors);
  pthread_mutex_lock(&c->lock);
  c->phase = VA__CLUSTER_LEFT;
  pthread_mutex_unlock(&c->lock);
  int dead = va__membership_mark_self(c, false);
  linger(c);
  va__link_stats ls = {0};
  if (atomic_load(&c->link))
    va__link_stats_get(atomic_load(&c->link), &ls);
  va_log(c->rt, VA_LOG_INFO, "cluster left",
         "node=%s calls_received=%" PRIu64 " replies_sent=%" PRIu64
         " calls_sent=%" PRIu64 " answered=%" PRIu64,
         c->node, ls.calls_received, ls.replies_sent, ls.calls_sent,
         ls.answered);
  return rc ? rc : dead;
}

void va_cluster_stop(va_cluster *c) {
  if (!c || c->stopped)
    return;
  c->stopped = true;
  if (c->thread_started) {
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
  }
  /* Calls forwarded from now on are refused (VA_ELINK); the link waits
   * for the workers inside it before it goes. */
  va__link_free(atomic_exchange(&c->link, NULL));
}

void va_cluster_free(va_cluster *c) {
  if (!c)
    return;
  va_cluster_stop(c);
  /* The runtime stopped (cluster.h): no worker reads its view any more. */
  for (unsigned i = 0; c->views && i < c->n_workers; i++)
    va__view_release(c->views[i]);
  va__view_release(c->latest);
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->changed);
  free(c->views);
  free(c->numbers);
  free(c->url);
  free(c->node);
  free(c->address);
  free(c->link_host);
  free(c->reach);
  free(c);
}

/* ---- App types ---- */

int va_cluster_set_app_types(va_cluster *c, const char *types) {
  if (!c || !types || strlen(types) >= sizeof(c->app_types))
    return VA_EINVAL;
  pthread_mutex_lock(&c->lock);
  snprintf(c->app_types, sizeof(c->app_types), "%s", types);
  pthread_mutex_unlock(&c->lock);
  return 0;
}

bool va_cluster_hosts_app(va_cluster *c, const char *type, size_t len) {
  if (!c)
    return false;
  va_loop *loop = c->views ? va_loop_current(c->rt) : NULL;
  if (loop) { /* a worker reads its own view, as place() does: no lock */
    const va__view *v = c->views[va_loop_index(loop)];
    return v && va__view_hosts_app(v, type, len);
  }
  pthread_mutex_lock(&c->lock);
  bool hosted = c->latest && va__view_hosts_app(c->latest, type, len);
  pthread_mutex_unlock(&c->lock);
  return hosted;
}

/* ---- What it tells ---- */

char *va_cluster_json(va_cluster *c) {
  pthread_mutex_lock(&c->lock);
  va__view *v = c->latest;
  if (v)
    atomic_fetch_add(&v->refs, 1);
  pthread_mutex_unlock(&c->lock);
  json_t *members = json_array();
  for (size_t i = 0; v && members && i < v->n; i++) {
    const va__member *m = &v->members[i];
    json_t *types = json_array();
    for (const char *p = m->types; types && *p;) {
      size_t len = strcspn(p, ",");
      json_array_append_new(types, json_stringn(p, len));
      p += len + (p[len] == ',');
    }
    json_array_append_new(
        members, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "id", m->id,
                           "address", m->address, "link", m->link, "status",
                           va__member_status_name(m->status), "incarnation",
                           (json_int_t)m->incarnation, "leaseRemainingMs",
                           (json_int_t)m->lease_left_ms, "types",
                           types ? types : json_array()));
  }
  json_t *doc = json_pack("{s:s, s:I, s:o}", "self", c->node, "version",
                          (json_int_t)(v ? v->version : 0), "members",
                          members ? members : json_array());
  va__view_release(v);
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  return text;
}

static void printf_to(void (*write)(void *, const char *, size_t), void *user,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void printf_to(void (*write)(void *, const char *, size_t), void *user,
                      const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (n > 0)
    write(user, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Every metric line goes through write(user, ...). */
#define OUT(...) printf_to(write, user, __VA_ARGS__)

static void link_metrics(va_cluster *c, const va__view *v,
                         void (*write)(void *, const char *, size_t),
                         void *user) {
  va_link *link = atomic_load(&c->link);
  if (!link)
    return;
  va__link_stats s;
  va__link_stats_get(link, &s);
  OUT("# HELP vactor_cluster_forwarded_calls_total Calls sent to the node "
      "that runs their actor.\n# TYPE vactor_cluster_forwarded_calls_total "
      "counter\nvactor_cluster_forwarded_calls_total %" PRIu64 "\n",
      s.calls_sent);
  OUT("# HELP vactor_cluster_received_calls_total Calls other nodes sent "
      "here.\n# TYPE vactor_cluster_received_calls_total counter\n"
      "vactor_cluster_received_calls_total %" PRIu64 "\n",
      s.calls_received);
  OUT("# HELP vactor_cluster_forward_failures_total Forwarded calls that "
      "failed, by cause.\n# TYPE vactor_cluster_forward_failures_total "
      "counter\n");
  const struct {
    const char *cause;
    uint64_t n;
  } causes[] = {{"link_lost", s.failed_link},
                {"not_connected", s.refused_link},
                {"busy", s.refused_busy},
                {"refused", s.refused_bad},
                {"timed_out", s.timed_out}};
  for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
    OUT("vactor_cluster_forward_failures_total{cause=\"%s\"} %" PRIu64 "\n",
        causes[i].cause, causes[i].n);
  OUT("# HELP vactor_cluster_link_refused_total Link connections closed "
      "because the peer could not prove it holds the cluster's key.\n"
      "# TYPE vactor_cluster_link_refused_total counter\n"
      "vactor_cluster_link_refused_total %" PRIu64 "\n",
      s.unauthenticated);
  OUT("# HELP vactor_cluster_forward_seconds Round trip of forwarded calls, "
      "at the sender.\n# TYPE vactor_cluster_forward_seconds histogram\n");
  uint64_t cumulative = 0;
  for (int i = 0; i < VA__LINK_LATENCY_BUCKETS - 1; i++) {
    cumulative += s.latency[i];
    OUT("vactor_cluster_forward_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
        (double)VA__LINK_LATENCY_US[i] / 1e6, cumulative);
  }
  OUT("vactor_cluster_forward_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
      "vactor_cluster_forward_seconds_sum %.6f\n"
      "vactor_cluster_forward_seconds_count %" PRIu64 "\n",
      s.latency_count, (double)s.latency_sum_ns / 1e9, s.latency_count);
  OUT("# HELP vactor_cluster_link_connected Ready connections to each peer "
      "(one per worker).\n# TYPE vactor_cluster_link_connected gauge\n");
  for (size_t i = 0; v && i < v->n; i++)
    if ((int)i != v->self)
      OUT("vactor_cluster_link_connected{peer=\"%s\"} %u\n", v->members[i].id,
          va__link_peer_connected(link, v->members[i].number));
}

void va_cluster_metrics(va_cluster *c,
                        void (*write)(void *user, const char *text, size_t len),
                        void *user) {
  pthread_mutex_lock(&c->lock);
  va__view *v = c->latest;
  if (v)
    atomic_fetch_add(&v->refs, 1);
  pthread_mutex_unlock(&c->lock);
  unsigned by_status[VA__MEMBER_DEAD + 1] = {0};
  for (size_t i = 0; v && i < v->n; i++)
    by_status[v->members[i].status]++;
  OUT("# HELP vactor_cluster_members Members in this node's view, by "
      "status.\n# TYPE vactor_cluster_members gauge\n");
  for (unsigned s = 0; s <= VA__MEMBER_DEAD; s++)
    OUT("vactor_cluster_members{status=\"%s\"} %u\n",
        va__member_status_name((va__member_status)s), by_status[s]);
  va_stats st;
  va_runtime_stats(c->rt, &st);
  OUT("# HELP vactor_cluster_view_version The view this node places by.\n"
      "# TYPE vactor_cluster_view_version gauge\n"
      "vactor_cluster_view_version %" PRIu64 "\n",
      v ? v->version : 0);
  const struct {
    const char *name, *help;
    uint64_t n;
  } counters[] = {
      {"view_changes", "View versions this node moved to.",
       atomic_load(&c->view_changes)},
      {"renewals_failed", "Lease renewals that got no answer.",
       atomic_load(&c->renewals_failed)},
      {"rejoins", "Times this node found itself expelled and joined again.",
       atomic_load(&c->rejoins)},
      {"members_marked_dead", "Members this node found dead.",
       atomic_load(&c->marked_dead)},
      {"claims", "Activations that claimed their actor.", st.claims},
      {"claims_refused", "Activations refused: another node held the actor.",
       st.claims_refused},
      {"fenced_saves", "Saves refused: another node had claimed the actor.",
       st.fenced_saves},
      {"rebalanced_actors", "Activations sent away to another node.",
       va_runtime_moved(c->rt)},
  };
  for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
    OUT("# HELP vactor_cluster_%s_total %s\n# TYPE vactor_cluster_%s_total "
        "counter\nvactor_cluster_%s_total %" PRIu64 "\n",
        counters[i].name, counters[i].help, counters[i].name, counters[i].name,
        counters[i].n);
  link_metrics(c, v, write, user);
#undef OUT
  va__view_release(v);
}
