/* inventory.c — the operator's view of the actors (va_actor_list,
 * va_actor_inspect in vactor.h). Neither runs a turn nor claims anything.
 *
 * A listing asks every worker, on its own thread, for the first ids of its
 * directory past the cursor, and the store for the first stored ones; each
 * answer is poured into one page (src/base/id_page.h), which keeps the
 * first `limit + 1` ids of the union: one more than asked says whether a
 * next page exists. The last answer to arrive, on whichever thread, calls
 * back.
 *
 * An inspection goes to the actor's worker: a live activation is read
 * there (its cached state is what its turns committed; a running turn's
 * writes are in the turn, not here), another one from the store, without
 * a claim. With a cluster's store, the owner is asked first (a listing of
 * that one id), so that an actor live on another node says where. */
#include "../base/assert.h"
#include "../base/clock.h"
#include "../base/id_page.h"
#include "../store/store.h"
#include "runtime.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { LISTED_ACTIVE = 1 }; /* va_id_entry.flags: live on this node */

/* Takes one of the VA_LOOKS_MAX slots; false when all are taken. */
static bool look_begin(va_runtime *rt) {
  unsigned before = atomic_fetch_add(&rt->looks, 1);
  if (before < VA_LOOKS_MAX)
    return true;
  atomic_fetch_sub(&rt->looks, 1);
  return false;
}

static void look_end(va_runtime *rt) {
  unsigned before = atomic_fetch_sub(&rt->looks, 1);
  VA_ASSERT(before > 0);
  (void)before;
}

/* ---- Listing ---- */

typedef struct list_job {
  va_runtime *rt;
  uint16_t type;
  unsigned flags; /* VA_LIST_* */
  size_t limit;
  va_list_fn cb;
  void *user;
  pthread_mutex_t lock;     /* page and status */
  va_id_page page;          /* cap limit + 1; points at after and prefix */
  int status;               /* the first failure, else 0 */
  _Atomic unsigned pending; /* answers still to come */
  char *after, *prefix;     /* owned copies */
  size_t after_len, prefix_len;
} list_job;

static void list_job_free(list_job *job) {
  va_id_page_free(&job->page);
  pthread_mutex_destroy(&job->lock);
  free(job->after);
  free(job->prefix);
  free(job);
}

/* Calls back with the first `limit` ids of the page. */
static void list_finish(list_job *job) {
  size_t n = job->page.n < job->limit ? job->page.n : job->limit;
  va_listed_actor *out = calloc(n ? n : 1, sizeof(*out));
  int status = job->status ? job->status : out ? 0 : VA_ENOMEM;
  for (size_t i = 0; status == 0 && i < n; i++) {
    const va_id_entry *e = &job->page.items[i];
    out[i] = (va_listed_actor){e->id, e->len,
                               (e->flags & LISTED_ACTIVE) || e->node, e->node};
  }
  if (status)
    job->cb(job->user, status, NULL, 0, false);
  else
    job->cb(job->user, 0, out, n, job->page.n > job->limit);
  free(out);
  va_runtime *rt = job->rt;
  list_job_free(job);
  look_end(rt);
}

/* One answer is in (status: its failure, or 0). */
static void list_answered(list_job *job, int status) {
  if (status) {
    pthread_mutex_lock(&job->lock);
    if (!job->status)
      job->status = status;
    pthread_mutex_unlock(&job->lock);
  }
  if (atomic_fetch_sub(&job->pending, 1) == 1)
    list_finish(job);
}

/* Pours page (a source's answer) into the job's page. */
static int list_merge(list_job *job, const va_id_page *from) {
  int rc = 0;
  pthread_mutex_lock(&job->lock);
  for (size_t i = 0; rc == 0 && i < from->n; i++)
    rc = va_id_page_offer(&job->page, from->items[i].id, from->items[i].len,
                          from->items[i].flags, from->items[i].node);
  pthread_mutex_unlock(&job->lock);
  return rc;
}

/* On worker w: its live actors of the type past the cursor. */
static void list_on_worker(void *ctx, va_worker *w) {
  list_job *job = ctx;
  /* The same bounds, a page of its own. The bounds are set before any
   * worker is asked and never change; the job's page itself is only
   * touched under its lock. */
  va_id_page mine = {.after = job->after,
                     .after_len = job->after_len,
                     .prefix = job->prefix,
                     .prefix_len = job->prefix_len,
                     .cap = job->limit + 1};
  int rc = 0;
  for (size_t i = 0; rc == 0 && i <= w->dir.mask; i++) {
    const va_actor *a = w->dir.slots[i].actor;
    if (a && a->type == job->type &&
        (a->life == VA_ACTOR_ACTIVE || a->life == VA_ACTOR_LOADING))
      rc = va_id_page_offer(&mine, a->id, a->id_len, LISTED_ACTIVE, NULL);
  }
  if (rc == 0)
    rc = list_merge(job, &mine);
  va_id_page_free(&mine);
  list_answered(job, rc);
}

/* On a store thread (or before list returns). */
static void list_stored(void *ctx, int status, const va_store_actor *rows,
                        size_t n) {
  list_job *job = ctx;
  pthread_mutex_lock(&job->lock);
  for (size_t i = 0; status == 0 && i < n; i++)
    if (!(job->flags & VA_LIST_ACTIVE_ONLY) || rows[i].owner)
      status = va_id_page_offer(&job->page, rows[i].id, rows[i].id_len, 0,
                                rows[i].owner);
  pthread_mutex_unlock(&job->lock);
  list_answered(job, status);
}

/* A NUL-terminated copy of s/len (s may be NULL when len is 0) into *out
 * (owned); false when out of memory. */
static bool copy_bytes(const char *s, size_t len, char **out) {
  *out = malloc(len + 1);
  if (!*out)
    return false;
  if (len)
    memcpy(*out, s, len);
  (*out)[len] = '\0';
  return true;
}

int va_actor_list(va_runtime *rt, int type, const char *after, size_t after_len,
                  const char *prefix, size_t prefix_len, size_t limit,
                  unsigned flags, va_list_fn cb, void *user) {
  if (!rt || !cb || type < 0 || (size_t)type >= rt->n_types || limit < 1 ||
      limit > VA_LIST_MAX || (after_len && !after) || (prefix_len && !prefix))
    return VA_EINVAL;
  if (atomic_load(&rt->phase) != VA_PHASE_RUNNING)
    return VA_ESTOPPED;
  if (!look_begin(rt))
    return VA_EBACKPRESSURE;
  const va_store_ops *store = rt->store->ops;
  /* One node, live ones only: the store has nothing to add. */
  bool ask_store =
      store->list && (rt->store_claims || !(flags & VA_LIST_ACTIVE_ONLY));
  list_job *job = calloc(1, sizeof(*job));
  int rc = job ? 0 : VA_ENOMEM;
  if (job && pthread_mutex_init(&job->lock, NULL)) {
    free(job);
    rc = VA_ESYS;
  } else if (job && (!copy_bytes(after, after_len, &job->after) ||
                     !copy_bytes(prefix, prefix_len, &job->prefix))) {
    list_job_free(job);
    rc = VA_ENOMEM;
  }
  if (rc) {
    look_end(rt);
    return rc;
  }
  job->after_len = after_len;
  job->prefix_len = prefix_len;
  job->rt = rt;
  job->type = (uint16_t)type;
  job->flags = flags;
  job->limit = limit;
  job->cb = cb;
  job->user = user;
  job->page = (va_id_page){.after = job->after,
                           .after_len = after_len,
                           .prefix = job->prefix,
                           .prefix_len = prefix_len,
                           .cap = limit + 1};
  atomic_init(&job->pending, rt->n_workers + ask_store);
  /* Each source counts itself off, even when it could not be asked; the
   * last one calls back. One extra count is held until every question is
   * out, so that an early answer cannot free the job under this loop. */
  atomic_fetch_add(&job->pending, 1);
  for (unsigned i = 0; i < rt->n_workers; i++) {
    rc = va__run_on(rt, i, list_on_worker, job);
    if (rc)
      list_answered(job, rc);
  }
  if (ask_store) {
    rc = store->list(rt->store, rt->types[type].name, job->after, after_len,
                     job->prefix, prefix_len, limit + 1, list_stored, job);
    if (rc)
      list_answered(job, rc);
  }
  list_answered(job, 0);
  return 0;
}

/* ---- Inspecting ---- */

typedef struct inspect_job {
  va_runtime *rt;
  uint16_t type;
  uint64_t hash;
  va_inspect_fn cb;
  void *user;
  bool loading; /* live here, its state still on the way from the store */
  unsigned worker;
  char *owner; /* a cluster's store: who holds it (owned), or NULL */
  size_t id_len;
  char id[];
} inspect_job;

/* Frees job and gives its slot back. */
static void inspect_job_free(inspect_job *job) {
  va_runtime *rt = job->rt;
  free(job->owner);
  free(job);
  look_end(rt);
}

/* The parts of a va_actor_info that point into arrays of their own. */
typedef struct info_arrays {
  va_state_entry *state;
  va_reminder_entry *reminders;
  va_timer_entry *timers;
} info_arrays;

static void arrays_free(info_arrays *a) {
  free(a->state);
  free(a->reminders);
  free(a->timers);
}

/* Room for n state keys (and as many reminders) and t timers. */
static bool arrays_alloc(info_arrays *a, size_t n, size_t t) {
  a->state = malloc((n ? n : 1) * sizeof(*a->state));
  a->reminders = malloc((n ? n : 1) * sizeof(*a->reminders));
  a->timers = malloc((t ? t : 1) * sizeof(*a->timers));
  return a->state && a->reminders && a->timers;
}

/* Files one stored key under state or reminders; an expired key, or a
 * reminder that does not decode, is left out. */
static void file_key(va_actor_info *info, info_arrays *a, const char *key,
                     const void *val, size_t len, int64_t expires_ms,
                     int64_t now_ms) {
  if (expires_ms && expires_ms <= now_ms)
    return;
  if (va__reminder_key(key)) {
    va_reminder_entry *r = &a->reminders[info->n_reminders];
    r->name = key + 3; /* past "\x01r:" */
    if (va_reminder_decode(val, len, &r->spec) == 0)
      info->n_reminders++;
    return;
  }
  a->state[info->n_state++] = (va_state_entry){key, val, len, expires_ms};
}

/* On the actor's worker: a live activation, read in memory. */
static void inspect_live(inspect_job *job, va_worker *w, const va_actor *a) {
  size_t n_timers = va__timers_list(w, a, NULL, 0);
  info_arrays arr = {0};
  if (!arrays_alloc(&arr, a->state.n, n_timers)) {
    arrays_free(&arr);
    job->cb(job->user, VA_ENOMEM, NULL);
    return;
  }
  va_actor_info info = {.active = true,
                        .here = true,
                        .node = job->rt->node,
                        .worker = w->index,
                        .idle_ms = w->now_ms - a->last_used_ms,
                        .mailbox = a->mbox_len,
                        .turns = a->turns,
                        .version = a->version,
                        .state = arr.state,
                        .reminders = arr.reminders,
                        .timers = arr.timers};
  int64_t wall = va_clock_wall_ms();
  for (uint32_t i = 0; i < a->state.n; i++) {
    const va_kv *kv = &a->state.items[i];
    file_key(&info, &arr, kv->key, kv->val, kv->len, kv->expires_ms, wall);
  }
  info.n_timers = va__timers_list(w, a, arr.timers, n_timers);
  job->cb(job->user, 0, &info);
  arrays_free(&arr);
}

/* On a store thread: the state the store holds. */
static void inspect_stored(void *ctx, int status, const va_store_item *items,
                           size_t n, uint64_t version, uint64_t epoch) {
  (void)epoch;
  inspect_job *job = ctx;
  info_arrays arr = {0};
  if (status == 0 && !arrays_alloc(&arr, n, 0))
    status = VA_ENOMEM;
  va_actor_info info = {.active = job->loading || job->owner,
                        .here = job->loading,
                        .node = job->owner,
                        .worker = job->worker,
                        .version = version,
                        .state = arr.state,
                        .reminders = arr.reminders,
                        .timers = arr.timers};
  int64_t wall = va_clock_wall_ms();
  for (size_t i = 0; status == 0 && i < n; i++)
    file_key(&info, &arr, items[i].key, items[i].val, items[i].len,
             items[i].expires_ms, wall);
  if (status == 0 && !version && !n && !job->loading && !job->owner)
    status = VA_ENOTFOUND;
  job->cb(job->user, status, status ? NULL : &info);
  arrays_free(&arr);
  inspect_job_free(job);
}

/* Reads job's actor from the store without claiming it; calls back either
 * way. */
static void inspect_read(inspect_job *job) {
  const va_store_ops *ops = job->rt->store->ops;
  int (*peek)(va_store *, const char *, const char *, size_t, va_store_load_cb,
              void *) = ops->peek;
  if (!peek && !job->rt->store_claims)
    peek = ops->load; /* it claims nothing in this store */
  int rc = peek ? peek(job->rt->store, job->rt->types[job->type].name, job->id,
                       job->id_len, inspect_stored, job)
                : VA_ESTATE; /* a store that claims, and cannot peek */
  if (rc)
    inspect_stored(job, rc, NULL, 0, 0, 0);
}

/* On a store thread: whether (and by whom) the actor is held. */
static void inspect_owned(void *ctx, int status, const va_store_actor *rows,
                          size_t n) {
  inspect_job *job = ctx;
  if (status == 0 && n == 1 && rows[0].owner &&
      va_id_cmp(rows[0].id, rows[0].id_len, job->id, job->id_len) == 0 &&
      !(job->owner = strdup(rows[0].owner)))
    status = VA_ENOMEM;
  if (status)
    inspect_stored(job, status, NULL, 0, 0, 0);
  else
    inspect_read(job);
}

static void inspect_on_worker(void *ctx, va_worker *w) {
  inspect_job *job = ctx;
  va_actor *a = va__dir_find(&w->dir, job->hash, job->type, job->id,
                             (uint32_t)job->id_len);
  if (a && a->life == VA_ACTOR_ACTIVE) {
    inspect_live(job, w, a);
    inspect_job_free(job);
    return;
  }
  job->loading = a && a->life == VA_ACTOR_LOADING;
  job->worker = w->index;
  const va_store_ops *ops = job->rt->store->ops;
  int rc = 0;
  if (job->rt->store_claims && ops->list && !job->loading)
    rc = ops->list(job->rt->store, job->rt->types[job->type].name, NULL, 0,
                   job->id, job->id_len, 1, inspect_owned, job);
  else
    inspect_read(job);
  if (rc)
    inspect_stored(job, rc, NULL, 0, 0, 0);
}

int va_actor_inspect(va_runtime *rt, int type, const char *id, size_t id_len,
                     va_inspect_fn cb, void *user) {
  if (!rt || !cb || type < 0 || (size_t)type >= rt->n_types || !id || !id_len ||
      id_len > UINT32_MAX)
    return VA_EINVAL;
  if (atomic_load(&rt->phase) != VA_PHASE_RUNNING)
    return VA_ESTOPPED;
  if (!look_begin(rt))
    return VA_EBACKPRESSURE;
  inspect_job *job = calloc(1, sizeof(*job) + id_len + 1);
  if (!job) {
    look_end(rt);
    return VA_ENOMEM;
  }
  job->rt = rt;
  job->type = (uint16_t)type;
  job->hash = va__hash_id((uint16_t)type, id, id_len);
  job->cb = cb;
  job->user = user;
  job->id_len = id_len;
  memcpy(job->id, id, id_len);
  int rc = va__run_on(rt, va__worker_of(rt, job->hash), inspect_on_worker, job);
  if (rc)
    inspect_job_free(job);
  return rc;
}
