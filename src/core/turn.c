/* turn.c — turns: running an actor's mailbox one message at a time,
 * suspending a turn while its calls are out, finishing it (handing its
 * state writes to persist.c all together, or discarding them when it
 * failed) and answering its caller. Also the va_turn_* and va_state_*
 * functions. Owner thread only. */
#include "../base/assert.h"
#include "../base/clock.h"
#include "../store/store.h"
#include "runtime.h"
#include <stdlib.h>
#include <string.h>

/* ---- Turn objects ---- */

static va_turn *turn_new(va_worker *w, va_actor *a, va_msg *req) {
  va_turn *t = w->free_turns;
  if (t)
    w->free_turns = t->next_free;
  else if (!(t = calloc(1, sizeof(*t))))
    return NULL;
  /* Field by field: a compound literal would become `rep stos` (see
   * va__msg_alloc), and writes keeps its array for reuse. */
  t->w = w;
  t->actor = a;
  t->req = req;
  t->reply = NULL;
  t->chain = req ? req->chain : 0;
  t->calls = (va_dlist){NULL, NULL};
  t->n_calls = 0;
  t->status = 0;
  t->is_hook = false;
  t->last_fire = false;
  t->fire_failed = false;
  t->writes.n = 0;
  a->depth++;
  t->older_open = a->open_turn;
  a->open_turn = t;
  a->busy_chain = t->chain;
  w->open_turns++;
  return t;
}

/* Takes t out of its actor's open turns (a reentrant type's turns may end
 * in any order). */
static void unlink_open(va_actor *a, va_turn *t) {
  va_turn **p = &a->open_turn;
  while (*p && *p != t)
    p = &(*p)->older_open;
  if (*p)
    *p = t->older_open;
  t->older_open = NULL;
}

static void turn_release(va_worker *w, va_turn *t) {
  for (uint32_t i = 0; i < t->writes.n; i++) {
    free(t->writes.items[i].key);
    free(t->writes.items[i].val);
  }
  t->writes.n = 0;
  t->next_free = w->free_turns;
  w->free_turns = t;
}

void va__turns_free(va_worker *w) {
  while (w->free_turns) {
    va_turn *t = w->free_turns;
    w->free_turns = t->next_free;
    va__kvmap_clear(&t->writes);
    free(t);
  }
}

/* ---- Running turns ---- */

void va__turn_answer(va_worker *w, va_turn *t, int status) {
  if (t->req) {
    va__answer(w, t->req, status, status == 0 ? t->reply : NULL);
    if (status != 0 && t->reply)
      va__msg_free(&w->msgs, t->reply);
    va__msg_free(&w->msgs, t->req);
  } else if (t->reply) {
    va__msg_free(&w->msgs, t->reply);
  }
  turn_release(w, t);
}

static void turn_finish(va_worker *w, va_turn *t) {
  va_actor *a = t->actor;
  int status = t->status;
  if (status == 0 && t->writes.n)
    status = va__persist_save(w, t);
  va_count(w->stats.turns, 1);
  a->turns += a->turns != UINT32_MAX;
  if (status)
    va_count(w->stats.turns_failed, 1);
  if ((status || t->fire_failed) && t->req &&
      t->req->method == VA_METHOD_REMINDER)
    va__reminder_failed(w, a, t->req);
  VA_ASSERT(a->depth > 0); /* t is one of a's open turns */
  a->depth--;
  unlink_open(a, t);
  w->open_turns--;
  /* A timer's turn is not use: timers never keep an actor alive. */
  if (!t->req || !(t->req->control & VA_REQ_FROM_TIMER))
    va__actor_touch(w, a);
  /* The output gate: a reply may wait for the state it follows. */
  if (status != 0 || !t->req || !va__persist_hold(w, t))
    va__turn_answer(w, t, status);
  if (a->depth == 0) {
    va__persist_recover(w, a);
    if (a->mbox_head)
      va__worker_schedule(w, a); /* a no-op while va__actor_run runs a */
  }
}

void va__turn_resume(va_worker *w, va_turn *t, int rc) {
  if (rc < 0 && t->status == 0) {
    t->status = rc;
    va__pending_cancel_turn(w, t);
  }
  if (t->n_calls == 0)
    turn_finish(w, t);
}

static void start_turn(va_worker *w, va_actor *a, va_msg *m) {
  const va_type *ty = &w->rt->types[a->type];
  /* Method ids were checked where the message entered the runtime. */
  VA_ASSERT(m->method >= VA_METHOD_SYSTEM || m->method < ty->n_methods);
  va_turn *t = turn_new(w, a, m);
  if (!t) {
    va__answer(w, m, VA_ENOMEM, NULL);
    va__msg_free(&w->msgs, m);
    return;
  }
  int rc = m->method >= VA_METHOD_SYSTEM
               ? va__system_method(t, m->method, va__msg_body(m), m->len)
               : ty->methods[m->method].fn(t, va__msg_body(m), m->len);
  va__turn_resume(w, t, rc);
}

/* Whether the message at the head of a's mailbox may start a turn now:
 * while a turn is open, only a call of its own chain to a reentrant type. */
static bool head_runnable(const va_worker *w, const va_actor *a) {
  const va_msg *m = a->mbox_head;
  if (!m || a->life != VA_ACTOR_ACTIVE || a->broken)
    return false;
  if (a->depth == 0)
    return true;
  return (w->rt->types[a->type].flags & VA_TYPE_REENTRANT) &&
         m->chain == a->busy_chain && m->reply_kind != VA_REPLY_NONE;
}

/* a was taken off the run queue with its scheduled flag still set, so that
 * turns finishing here do not queue it again. */
void va__actor_run(va_worker *w, va_actor *a, unsigned budget) {
  VA_ASSERT(va__current_worker(w->rt) == w);           /* owner thread only */
  VA_ASSERT(a->scheduled && a->life != VA_ACTOR_FREE); /* taken off the queue */
  w->yield = false; /* set by a send outside this run (a continuation) */
  w->running = a;
  while (budget && head_runnable(w, a)) {
    va_msg *m = a->mbox_head;
    a->mbox_head = (va_msg *)va_load_relaxed(&m->node.next);
    if (!a->mbox_head)
      a->mbox_tail = NULL;
    a->mbox_len--;
    w->queued--;
    budget--;
    if (m->deadline_ms && m->deadline_ms <= va_clock_coarse_ms()) {
      /* Its caller has given up: do not run it. */
      va__answer(w, m, VA_ETIMEDOUT, NULL);
      va__msg_free(&w->msgs, m);
      continue;
    }
    start_turn(w, a, m);
    if (w->yield) {
      /* A send of this turn met a full queue (like Pony's muting), or the
       * actor sent itself a message: it goes to the back of the run queue
       * so that the others run first. */
      w->yield = false;
      break;
    }
  }
  w->running = NULL;
  a->scheduled = 0;
  if (head_runnable(w, a))
    va__worker_schedule(w, a);
}

int va__run_hook(va_worker *w, va_actor *a, va_hook_fn hook) {
  VA_ASSERT(va__current_worker(w->rt) == w); /* owner thread only */
  va_turn *t = turn_new(w, a, NULL);
  if (!t)
    return VA_ENOMEM;
  t->is_hook = true;
  int rc = hook(t);
  if (rc == 0 && t->writes.n)
    rc = va__persist_save(w, t);
  if (t->reply)
    va__msg_free(&w->msgs, t->reply);
  VA_ASSERT(a->depth > 0); /* turn_new opened t */
  a->depth--;
  unlink_open(a, t);
  w->open_turns--;
  turn_release(w, t);
  return rc;
}

/* ---- The turn API ---- */

void *va_turn_self(va_turn *t) {
  return va__actor_instance(t->w->rt, t->actor);
}

const char *va_turn_id(const va_turn *t, size_t *len) {
  if (len)
    *len = t->actor->id_len;
  return t->actor->id;
}

int va_turn_type(const va_turn *t) {
  return t->actor->type;
}

uint64_t va_turn_chain(const va_turn *t) {
  return t->chain;
}

va_runtime *va_turn_runtime(const va_turn *t) {
  return t->w->rt;
}

void *va_turn_type_user(const va_turn *t) {
  VA_ASSERT(t->actor->type < t->w->rt->n_types);
  return t->w->rt->types[t->actor->type].user;
}

int va_turn_reply(va_turn *t, const void *data, size_t len) {
  if (!t || (len && !data))
    return VA_EINVAL;
  if (len > UINT32_MAX / 2)
    return VA_ETOOBIG;
  va_msg *r = va__msg_alloc(&t->w->msgs, 0, (uint32_t)len);
  if (!r)
    return VA_ENOMEM;
  if (len)
    memcpy(va__msg_body(r), data, len);
  if (t->reply)
    va__msg_free(&t->w->msgs, t->reply);
  t->reply = r;
  return 0;
}

/* ---- State ---- */

int va_turn_state_get(va_turn *t, const char *key, const void **val,
                      size_t *len) {
  if (!t || !key || !val || !len)
    return VA_EINVAL;
  const va_kv *e = va__kvmap_find(&t->writes, key);
  if (!e)
    e = va__kvmap_find(&t->actor->state, key);
  if (!e || e->tomb || (e->expires_ms && e->expires_ms <= va_clock_wall_ms()))
    return VA_ENOTFOUND;
  *val = e->val;
  *len = e->len;
  return 0;
}

int va_turn_state_set(va_turn *t, const char *key, const void *val,
                      size_t len) {
  if (!t || !key || !*key || (len && !val) || va__reminder_key(key))
    return VA_EINVAL;
  return va__kvmap_put(&t->writes, key, val, len, false);
}

int va_turn_state_set_ttl(va_turn *t, const char *key, const void *val,
                          size_t len, uint32_t ttl_seconds) {
  if (!ttl_seconds)
    return VA_EINVAL;
  int rc = va_turn_state_set(t, key, val, len);
  if (rc == 0)
    va__kvmap_find(&t->writes, key)->expires_ms =
        va_clock_wall_ms() + (int64_t)ttl_seconds * 1000;
  return rc;
}

int va_turn_state_delete(va_turn *t, const char *key) {
  if (!t || !key || !*key || va__reminder_key(key))
    return VA_EINVAL;
  return va__kvmap_put(&t->writes, key, NULL, 0, true);
}
