/* persist.c — an actor's state and the store, seen from the owning worker:
 * the asynchronous load that completes an activation, the save of a turn's
 * writes, the output gate that holds replies until the save is on disk, and
 * the recovery of an actor whose save failed.
 *
 * Every store callback may run on any thread (the SQLite store's own), so
 * it only fills in a control message prepared by the worker and posts it
 * back; the worker does the rest when the message arrives.
 *
 * Output gate (durable mode): a turn's state goes into the actor's cache at
 * once, so the next turn sees it, but the turn's reply waits for the save.
 * So does the reply of any later turn of that actor while a save is in
 * flight, since it may have read the unsaved state. Saves of one actor
 * complete in order (the store applies them in order). If one fails, its
 * held replies and those of every later turn fail with VA_ESTORE (the later
 * saves fail too: they expect a version the store never reached), no new
 * turn starts, and once the last save is back the actor reloads its state
 * from the store. Owner thread only, except the two callbacks.
 *
 * The store speaks its own types (store.h): a load's items are copied into
 * the actor's va_kvmap, and a save hands the store an array of
 * va_store_write pointing into the turn's writes, for the duration of the
 * call (the store copies what it keeps). A reminder's write carries its
 * name and due time as reminders.c marked them. */
#include "../base/assert.h"
#include "../store/store.h"
#include "runtime.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct load_done {
  va_worker *w;
  va_actor *actor;
  uint64_t gen;
  bool reload;        /* after a failed save: no activate hook */
  uint64_t evictions; /* the worker's, when the load was asked for */
  int status;
  uint64_t version;
  uint64_t epoch; /* the store's claim */
  va_kvmap state; /* moved into the actor */
} load_done;

typedef struct save_done {
  va_worker *w;
  va_actor *actor;
  int status;
  va_turn *held; /* turns whose replies wait for this save */
  va_turn *held_tail;
} save_done;

static va_msg *control(va_worker *w, uint8_t what, size_t body) {
  va_msg *m = va__msg_alloc(&w->msgs, 0, (uint32_t)body);
  if (m) {
    m->kind = VA_MSG_CONTROL;
    m->control = what;
    memset(va__msg_body(m), 0, body);
  }
  return m;
}

/* Logs a store failure of actor a (what: "state save failed", ...) with
 * its type, id and the error. The store logged the cause already. */
static void log_store_failure(va_worker *w, const va_actor *a, const char *what,
                              int status) {
  char id[300];
  va_log_quote(a->id, a->id_len, id, sizeof(id));
  va_log(w->rt, VA_LOG_ERROR, what, "type=%s id=%s error=\"%s\"",
         w->rt->types[a->type].name, id, va_strerror(status));
}

/* ---- Loading ---- */

static void on_loaded(void *ctx, int status, const va_store_item *items,
                      size_t n, uint64_t version, uint64_t epoch) {
  va_msg *m = ctx;
  load_done *d = (load_done *)va__msg_body(m);
  d->status = status;
  d->version = version;
  d->epoch = epoch;
  for (size_t i = 0; d->status == 0 && i < n; i++) {
    d->status = va__kvmap_put(&d->state, items[i].key, items[i].val,
                              items[i].len, false);
    if (d->status == 0)
      d->state.items[d->state.n - 1].expires_ms = items[i].expires_ms;
  }
  va__worker_post(d->w, m);
}

int va__persist_load(va_worker *w, va_actor *a, bool reload) {
  va_runtime *rt = w->rt;
  /* The state is read only with no save in flight: else it could miss
   * one, and the version would not match the cache. */
  VA_ASSERT(a->unsaved == 0 && !a->last_save);
  va_msg *m = control(w, VA_CONTROL_LOADED, sizeof(load_done));
  if (!m)
    return VA_ENOMEM;
  load_done *d = (load_done *)va__msg_body(m);
  d->w = w;
  d->actor = a;
  d->gen = a->gen;
  d->reload = reload;
  d->evictions = w->evictions;
  a->life = VA_ACTOR_LOADING;
  w->loading++;
  int rc = rt->store->ops->load(rt->store, rt->types[a->type].name, a->id,
                                a->id_len, on_loaded, m);
  if (rc) {
    w->loading--;
    va__msg_free(&w->msgs, m);
  }
  return rc;
}

static void loaded(va_worker *w, load_done *d) {
  va_actor *a = d->actor;
  const va_type *ty = &w->rt->types[a->type];
  VA_ASSERT(w->loading > 0); /* this load's, counted in va__persist_load */
  w->loading--;
  if (a->gen != d->gen || a->life != VA_ACTOR_LOADING) {
    /* The activation went while its state was on the way (stopping
     * deactivates every actor, loading ones too): nobody waits for it. */
    va__kvmap_clear(&d->state);
    return;
  }
  int rc = d->status;
  /* Asked for before an eviction (this node lost its place in the
   * cluster): its claim may be an old incarnation's, its state stale. */
  if (rc == 0 && d->evictions != w->evictions)
    rc = VA_EMOVED;
  if (rc == VA_EMOVED) {
    /* Another node holds the actor: not a failure, the messages wait and
     * are placed again (route.c). */
    va__route_later_mailbox(w, a);
    va__kvmap_clear(&d->state);
    va__actor_remove(w, a, d->reload);
    return;
  }
  if (rc)
    log_store_failure(
        w, a, d->reload ? "state reload failed" : "state load failed", rc);
  if (rc == 0) {
    va__kvmap_clear(&a->state);
    a->state = d->state;
    d->state = (va_kvmap){0};
    a->version = d->version;
    a->epoch = d->epoch;
    a->life = VA_ACTOR_ACTIVE;
    a->broken = false;
    if (!d->reload && ty->on_activate)
      rc = va__run_hook(w, a, ty->on_activate);
  }
  va__kvmap_clear(&d->state);
  if (rc) {
    /* The actor never became active (or cannot recover): whoever waits
     * for it is told why, and the next message starts afresh. A failed
     * hook saved nothing, so no save of this actor is in flight. */
    va__actor_fail_mailbox(w, a, rc);
    va__actor_remove(w, a, d->reload);
    return;
  }
  if (!d->reload) {
    va_count(w->stats.activations, 1);
    va_count(w->stats.active, 1);
    va_count(w->pools[a->type].active, 1);
  }
  if (a->mbox_head)
    va__worker_schedule(w, a);
}

/* ---- Saving ---- */

static void on_saved(void *ctx, int status) {
  va_msg *m = ctx;
  save_done *d = (save_done *)va__msg_body(m);
  d->status = status;
  va__worker_post(d->w, m);
}

enum { WRITES_ON_STACK = 16 }; /* a turn's writes, usually more than enough */

/* The store's view of a turn's write kv: borrowing its buffers. */
static va_store_write store_write(const va_kv *kv) {
  return (va_store_write){.key = kv->key,
                          .val = kv->val,
                          .len = kv->len,
                          .deleted = kv->tomb,
                          .expires_ms = kv->expires_ms,
                          .reminder = kv->reminder,
                          .due_ms = kv->due_ms};
}

/* Hands writes to the store as a's next save, m its completion: 0, or the
 * store's refusal (then m was not used). One allocation at most, for a
 * turn with more than WRITES_ON_STACK writes. */
static int hand_to_store(va_worker *w, va_actor *a, const va_kvmap *writes,
                         va_msg *m) {
  va_store *store = w->rt->store;
  va_store_write local[WRITES_ON_STACK] = {{0}}; /* zeroed for the compiler's
                                                   sake: writes->n > 0 */
  va_store_write *ws = local;
  if (writes->n > WRITES_ON_STACK && !(ws = malloc(writes->n * sizeof(*ws))))
    return VA_ENOMEM;
  for (uint32_t i = 0; i < writes->n; i++)
    ws[i] = store_write(&writes->items[i]);
  int rc = store->ops->save(store, w->rt->types[a->type].name, a->id, a->id_len,
                            a->version, a->epoch, ws, writes->n, on_saved, m);
  if (ws != local)
    free(ws);
  return rc;
}

int va__persist_save(va_worker *w, va_turn *t) {
  va_actor *a = t->actor;
  /* Room first: once the store has the writes, the cache must take them. */
  int rc = va__kvmap_reserve(&a->state, t->writes.n);
  if (rc)
    return rc;
  va_msg *m = control(w, VA_CONTROL_SAVED, sizeof(save_done));
  if (!m)
    return VA_ENOMEM;
  save_done *d = (save_done *)va__msg_body(m);
  d->w = w;
  d->actor = a;
  if ((rc = hand_to_store(w, a, &t->writes, m)) != 0) {
    va__msg_free(&w->msgs, m);
    return rc;
  }
  a->version++;
  a->unsaved++;
  a->last_save = m;
  w->saving++;
  va__reminders_saved(w, a, &t->writes);
  rc = va__kvmap_apply(&a->state, &t->writes);
  VA_ASSERT(rc == 0); /* cannot fail: room was made above */
  return rc;
}

bool va__persist_hold(va_worker *w, va_turn *t) {
  va_actor *a = t->actor;
  /* Relaxed mode does not wait for the disk, except when the store falls
   * this far behind: then replies wait too, which slows the callers down
   * instead of letting unsaved state pile up without bound. */
  if (!a->last_save || (w->rt->cfg.durability == VA_RELAXED &&
                        w->saving < 4 * w->rt->cfg.mailbox_bound))
    return false;
  save_done *d = (save_done *)va__msg_body(a->last_save);
  t->next_free = NULL;
  if (d->held_tail)
    d->held_tail->next_free = t;
  else
    d->held = t;
  d->held_tail = t;
  w->held++;
  return true;
}

static void saved(va_worker *w, va_msg *m) {
  save_done *d = (save_done *)va__msg_body(m);
  va_actor *a = d->actor;
  VA_ASSERT(w->saving > 0 && a->unsaved > 0); /* counted in at the save */
  /* Saves of one actor complete in order: the last one started (last_save)
   * is the last to come back. */
  VA_ASSERT((a->unsaved == 1) == (a->last_save == m));
  w->saving--;
  a->unsaved--;
  if (a->last_save == m)
    a->last_save = NULL;
  if (d->status) {
    /* One line per actor: the saves queued behind the first failed one
     * fail with it, as its consequence. */
    if (!a->broken)
      log_store_failure(w, a, "state save failed", d->status);
    a->broken = true;
    a->fenced |= d->status == VA_EFENCED;
    va_count(w->stats.store_failures, 1);
  }
  /* Behind a fenced save every reply fails as fenced: another node owns
   * the actor, and nothing this activation did since may leave. */
  int failure = a->fenced ? VA_EFENCED : VA_ESTORE;
  for (va_turn *t = d->held, *next; t; t = next) {
    next = t->next_free;
    w->held--;
    va__turn_answer(w, t, d->status ? failure : 0);
  }
  if (a->unsaved > 0)
    return;
  if (a->life == VA_ACTOR_CLOSING)
    va__actor_closed(w, a);
  else
    va__persist_recover(w, a);
}

void va__persist_recover(va_worker *w, va_actor *a) {
  if (!a->broken || a->unsaved || a->depth || a->life != VA_ACTOR_ACTIVE)
    return;
  if (a->fenced) {
    /* Claimed by another node: this activation goes without its hook (it
     * could save nothing), and what waits for it goes to the new owner. */
    va__route_later_mailbox(w, a);
    va__actor_remove(w, a, true);
    return;
  }
  va__kvmap_clear(&a->state);
  int rc = va__persist_load(w, a, true);
  if (rc) {
    va__actor_fail_mailbox(w, a, rc);
    va__actor_remove(w, a, true);
  }
}

void va__persist_control(va_worker *w, va_msg *m) {
  if (m->control == VA_CONTROL_LOADED)
    loaded(w, (load_done *)va__msg_body(m));
  else
    saved(w, m);
  va__msg_free(&w->msgs, m);
}
