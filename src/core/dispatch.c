/* dispatch.c — how a message finds its actor and how an answer finds its
 * caller: building requests, routing them to the owning worker (inline when
 * it is this thread's, batched when it is another worker's), admission at
 * the owner (deadlock, reentrancy and mailbox checks), pending calls and
 * their deadlines, and the public call/send functions. */
#include "../base/assert.h"
#include "../base/clock.h"
#include "runtime.h"
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Longest accepted actor id. */
enum { ID_MAX = 4096 };

uint64_t va__hash_id(uint16_t type, const char *id, size_t id_len) {
  return XXH3_64bits_withSeed(id, id_len, (uint64_t)type + 1);
}

/* ---- Pending records ---- */

static va_pending *pending_take(va_worker *w) {
  va_pending *p = w->free_pending;
  if (p)
    w->free_pending = p->next_free;
  else if (!(p = calloc(1, sizeof(*p))))
    return NULL;
  p->seq++;
  w->live_pending++;
  return p;
}

/* Invalidates p (a late reply will see a different seq) and pools it. */
static void pending_release(va_worker *w, va_pending *p) {
  va__deadline_remove(&w->deadlines, &p->deadline);
  p->seq++;
  p->turn = NULL;
  p->next_free = w->free_pending;
  w->free_pending = p;
  VA_ASSERT(w->live_pending > 0);
  w->live_pending--;
}

void va__pending_free_all(va_worker *w) {
  while (w->free_pending) {
    va_pending *p = w->free_pending;
    w->free_pending = p->next_free;
    free(p);
  }
}

/* Delivers an outcome to p's waiter and releases p. */
static void complete(va_worker *w, va_pending *p, int status, const void *data,
                     size_t len) {
  va_turn *t = p->turn;
  if (t) {
    va_dlist_remove(&t->calls, &p->link);
    t->n_calls--;
    va_cont_fn fn = p->u.cont.fn;
    void *user = p->u.cont.user;
    pending_release(w, p);
    va__turn_resume(w, t, fn(t, user, status, data, len));
  } else {
    va_reply_fn fn = p->u.callback.fn;
    void *user = p->u.callback.user;
    pending_release(w, p);
    fn(user, status, data, len);
  }
}

void va__pending_expired(va_worker *w, va_pending *p) {
  va_count(w->stats.timeouts, 1);
  complete(w, p, VA_ETIMEDOUT, NULL, 0);
}

/* Drops the turn's outstanding calls: their replies will be ignored. */
void va__pending_cancel_turn(va_worker *w, va_turn *t) {
  while (t->calls.head) {
    va_pending *p = VA_CONTAINER_OF(t->calls.head, va_pending, link);
    va_dlist_remove(&t->calls, &p->link);
    pending_release(w, p);
  }
  t->n_calls = 0;
}

/* The node whose activation produced the reply being delivered on this
 * thread (va_reply_node). */
static _Thread_local const char *tl_reply_node;

const char *va_reply_node(void) {
  return tl_reply_node;
}

/* A reply from another node (va_route_answer) carries that node's name
 * after its body: control bytes of it. */
void va__deliver_reply(va_worker *w, va_msg *m) {
  va_pending *p = m->reply.pending.record;
  if (p->seq == m->reply.pending.seq) {
    uint32_t name_len = m->control;
    VA_ASSERT(name_len <= m->len);
    char name[256];
    const char *from = w->rt->node;
    if (name_len) {
      memcpy(name, va__msg_body(m) + m->len - name_len, name_len);
      name[name_len] = 0;
      from = name;
    }
    const char *outer = tl_reply_node; /* a reply delivered inside one */
    tl_reply_node = from;
    complete(w, p, m->status, va__msg_body(m), m->len - name_len);
    tl_reply_node = outer;
  }
  va__msg_free(&w->msgs, m);
}

/* ---- Answers ---- */

void va__answer(va_worker *w, va_msg *m, int status, va_msg *reply) {
  if (m->reply_kind != VA_REPLY_PENDING) {
    if (reply)
      va__msg_free(&w->msgs, reply);
    return;
  }
  if (status != 0 && reply) {
    va__msg_free(&w->msgs, reply);
    reply = NULL;
  }
  if (!reply && !(reply = va__msg_alloc(&w->msgs, 0, 0)))
    return; /* out of memory: the caller's deadline will answer */
  reply->kind = VA_MSG_REPLY;
  reply->status = status;
  reply->reply.pending = m->reply.pending;
  if (m->reply_worker == w->index)
    va__worker_local_add(w, reply);
  else
    va__worker_outbox_add(w, m->reply_worker, reply);
}

/* ---- Admission at the owning worker ---- */

/* Turns an external call's callback into a pending record on this worker,
 * so that its deadline is watched here. */
static int admit_callback(va_worker *w, va_msg *m) {
  va_pending *p = pending_take(w);
  if (!p)
    return VA_ENOMEM;
  va__deadline_add(&w->deadlines, &p->deadline, m->deadline_ms);
  p->u.callback.fn = m->reply.callback.cb;
  p->u.callback.user = m->reply.callback.user;
  m->reply_kind = VA_REPLY_PENDING;
  m->reply_worker = (uint16_t)w->index;
  m->reply.pending.record = p;
  m->reply.pending.seq = p->seq;
  return 0;
}

static void mailbox_push(va_actor *a, va_msg *m, bool at_head) {
  if (!a->mbox_head) {
    va_store_relaxed(&m->node.next, NULL);
    a->mbox_head = a->mbox_tail = m;
  } else if (at_head) {
    va_store_relaxed(&m->node.next, &a->mbox_head->node);
    a->mbox_head = m;
  } else {
    va_store_relaxed(&m->node.next, NULL);
    va_store_relaxed(&a->mbox_tail->node.next, &m->node);
    a->mbox_tail = m;
  }
  a->mbox_len++;
}

/* from_here: the sender runs on this worker and can be told synchronously
 * that a one-way send was refused. */
static int deliver(va_worker *w, va_msg *m, bool from_here, va_ref *ref) {
  if (m->reply_kind == VA_REPLY_CALLBACK) {
    int rc = admit_callback(w, m);
    if (rc) {
      m->reply.callback.cb(m->reply.callback.user, rc, NULL, 0);
      va__msg_free(&w->msgs, m);
      return 0;
    }
  }
  if (va__route_away(w, m))
    return 0;
  int err = 0;
  va_actor *a = va__actor_resolve(w, m, ref, &err);
  bool is_call = m->reply_kind != VA_REPLY_NONE;
  if (!a) {
    va__answer(w, m, err, NULL);
    va__msg_free(&w->msgs, m);
    return 0;
  }
  const va_type *ty = &w->rt->types[a->type];
  if (a->open_turn && (ty->flags & VA_TYPE_OPEN_STATE) &&
      m->method >= VA_METHOD_SYSTEM && m->method != VA_METHOD_REMINDER) {
    va__system_join(w, a->open_turn, m);
    return 0;
  }
  if (is_call && a->depth > 0 && m->chain == a->busy_chain) {
    if (ty->flags & VA_TYPE_REENTRANT) {
      mailbox_push(a, m, true);
      w->queued++;
      va__worker_schedule(w, a);
      return 0;
    }
    va_count(w->stats.deadlocks, 1);
    va__answer(w, m, VA_EDEADLK, NULL);
    va__msg_free(&w->msgs, m);
    return 0;
  }
  if (a->mbox_len >= w->rt->cfg.mailbox_bound && (is_call || from_here)) {
    va_count(w->stats.backpressure, 1);
    va__answer(w, m, VA_EBACKPRESSURE, NULL);
    va__msg_free(&w->msgs, m);
    if (is_call)
      return 0;
    w->yield = true; /* let the full mailbox drain before the sender runs on */
    return VA_EBACKPRESSURE;
  }
  /* A one-way send from another thread is admitted even over the bound:
   * its sender was held back by the bound on this worker's backlog. */
  mailbox_push(a, m, false);
  /* A message to itself is how an actor says "continue later": let the
   * others run first instead of looping through it in the same batch. */
  if (a == w->running)
    w->yield = true;
  w->queued++;
  if (a->depth == 0)
    va__worker_schedule(w, a);
  return 0;
}

int va__deliver_request(va_worker *w, va_msg *m) {
  return deliver(w, m, false, NULL);
}

/* ---- Routing ---- */

int va__route_request(va_runtime *rt, va_msg *m, va_ref *ref) {
  unsigned dst = va__worker_of(rt, m->hash);
  va_worker *here = va__current_worker(rt);
  if (here && here->index == dst)
    return deliver(here, m, true, ref);
  va_worker *target = rt->workers[dst];
  uint64_t backlog = va_load_relaxed(&target->inbox_len) +
                     va_load_relaxed(&target->queued_pub);
  if (here)
    backlog += here->outbox[dst].requests;
  if (backlog >= rt->cfg.mailbox_bound) {
    if (here) {
      va_count(here->stats.backpressure, 1);
      here->yield = true;
    }
    va__msg_free(here ? &here->msgs : NULL, m);
    return VA_EBACKPRESSURE;
  }
  if (here) {
    va__worker_outbox_add(here, dst, m);
  } else {
    va_add_relaxed(&rt->external_posted, 1);
    va__worker_push(target, m);
  }
  return 0;
}

/* ---- Building requests ---- */

/* Chains are unique per node; with a node name they are told apart from
 * other nodes' by a salt drawn at start (runtime.c), since they travel. */
static uint64_t new_chain(va_runtime *rt, va_worker *here) {
  uint64_t chain =
      here ? ((uint64_t)(here->index + 1) << 48) | ++here->next_chain
           : va_add_relaxed(&rt->next_chain, 1) + 1;
  chain ^= rt->chain_salt;
  return chain ? chain : 1;
}

/* system: one of the runtime's own methods (outside.c), which only
 * va__call_system asks for; the public functions take a type's methods. */
static int check_target(const va_runtime *rt, int type, int method,
                        bool system) {
  if (type < 0 || (size_t)type >= rt->n_types)
    return VA_ENOTYPE;
  if (system ? method < VA_METHOD_SYSTEM || method > VA_METHOD_REMINDER
             : method < 0 || (size_t)method >= rt->types[type].n_methods)
    return VA_ENOMETHOD;
  return 0;
}

/* A request for (type, id) with body arg/len; hash may be precomputed. */
static va_msg *build_msg(va_runtime *rt, va_worker *here, int type,
                         const char *id, size_t id_len, uint64_t hash,
                         int method, bool system, const void *arg, size_t len,
                         int *err) {
  if ((*err = check_target(rt, type, method, system)) != 0)
    return NULL;
  if (!id || id_len == 0 || (len && !arg)) {
    *err = VA_EINVAL;
    return NULL;
  }
  if (id_len > ID_MAX || len > UINT32_MAX - ID_MAX) {
    *err = VA_ETOOBIG;
    return NULL;
  }
  va_msg *m =
      va__msg_alloc(here ? &here->msgs : NULL, (uint32_t)id_len, (uint32_t)len);
  if (!m) {
    *err = VA_ENOMEM;
    return NULL;
  }
  memcpy(m->data, id, id_len);
  if (len)
    memcpy(m->data + id_len, arg, len);
  m->kind = VA_MSG_REQUEST;
  m->type = (uint16_t)type;
  m->method = (uint16_t)method;
  m->hash = hash ? hash : va__hash_id((uint16_t)type, id, id_len);
  return m;
}

static va_msg *build(va_runtime *rt, va_worker *here, int type, const char *id,
                     size_t id_len, uint64_t hash, int method, const void *arg,
                     size_t len, int *err) {
  return build_msg(rt, here, type, id, id_len, hash, method, false, arg, len,
                   err);
}

static va_msg *build_ref(va_ref *ref, va_worker *here, int method,
                         const void *arg, size_t len, int *err) {
  va_msg *m = build(ref->rt, here, ref->type, ref->id, ref->id_len, ref->hash,
                    method, arg, len, err);
  if (m) {
    m->hint = va_load_relaxed(&ref->hint_actor);
    m->hint_gen = va_load_relaxed(&ref->hint_gen);
  }
  return m;
}

/* ---- External calls ---- */

/* External calls from threads outside the runtime announce themselves
 * before they look at the phase, and stop waits for the announced ones
 * after it has set STOPPING: a call either sees STOPPING or is waited for.
 * Workers need no announcement: while one runs a callback it is not quiet. */
static int enter(va_runtime *rt, va_worker *here) {
  if (!here)
    atomic_fetch_add_explicit(&rt->entering, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&rt->phase, memory_order_seq_cst) ==
      VA_PHASE_RUNNING)
    return 0;
  if (!here)
    atomic_fetch_sub_explicit(&rt->entering, 1, memory_order_release);
  return VA_ESTOPPED;
}

static void leave(va_runtime *rt, va_worker *here) {
  if (!here)
    atomic_fetch_sub_explicit(&rt->entering, 1, memory_order_release);
}

static int post_external(va_runtime *rt, va_msg *m, va_ref *ref, va_reply_fn cb,
                         void *user, uint64_t chain) {
  va_worker *here = va__current_worker(rt);
  m->chain = chain ? chain : new_chain(rt, here);
  if (cb) {
    /* The deadline runs from now, not from when the owner admits it. */
    m->deadline_ms =
        (here ? here->now_ms : va_clock_coarse_ms()) + rt->cfg.call_timeout_ms;
    m->reply_kind = VA_REPLY_CALLBACK;
    m->reply.callback.cb = cb;
    m->reply.callback.user = user;
  }
  return va__route_request(rt, m, ref);
}

/* The external entry points: build a request, post it, never block. */
static int external(va_runtime *rt, va_ref *ref, int type, const char *id,
                    size_t id_len, int method, const void *arg, size_t len,
                    va_reply_fn cb, void *user, uint64_t chain) {
  va_worker *here = va__current_worker(rt);
  int err = enter(rt, here);
  if (err)
    return err;
  va_msg *m =
      ref ? build_ref(ref, here, method, arg, len, &err)
          : build(rt, here, type, id, id_len, 0, method, arg, len, &err);
  if (m)
    err = post_external(rt, m, ref, cb, user, chain);
  leave(rt, here);
  return err;
}

int va_call(va_runtime *rt, int type, const char *id, size_t id_len, int method,
            const void *arg, size_t len, va_reply_fn cb, void *user) {
  if (!rt || !cb)
    return VA_EINVAL;
  return external(rt, NULL, type, id, id_len, method, arg, len, cb, user, 0);
}

int va_call_in_chain(va_runtime *rt, int type, const char *id, size_t id_len,
                     int method, const void *arg, size_t len, uint64_t chain,
                     va_reply_fn cb, void *user) {
  if (!rt || !cb)
    return VA_EINVAL;
  return external(rt, NULL, type, id, id_len, method, arg, len, cb, user,
                  chain);
}

int va_send(va_runtime *rt, int type, const char *id, size_t id_len, int method,
            const void *arg, size_t len) {
  if (!rt)
    return VA_EINVAL;
  return external(rt, NULL, type, id, id_len, method, arg, len, NULL, NULL, 0);
}

int va_ref_call(va_ref *ref, int method, const void *arg, size_t len,
                va_reply_fn cb, void *user) {
  if (!ref || !cb)
    return VA_EINVAL;
  return external(ref->rt, ref, 0, NULL, 0, method, arg, len, cb, user, 0);
}

int va_ref_send(va_ref *ref, int method, const void *arg, size_t len) {
  if (!ref)
    return VA_EINVAL;
  return external(ref->rt, ref, 0, NULL, 0, method, arg, len, NULL, NULL, 0);
}

/* A call of one of the runtime's own methods (reminders.c). */
int va__call_system(va_runtime *rt, int type, const char *id, size_t id_len,
                    uint16_t method, const void *body, size_t len,
                    va_reply_fn cb, void *user) {
  va_worker *here = va__current_worker(rt);
  int err = enter(rt, here);
  if (err)
    return err;
  va_msg *m =
      build_msg(rt, here, type, id, id_len, 0, method, true, body, len, &err);
  if (m)
    err = post_external(rt, m, NULL, cb, user, 0);
  leave(rt, here);
  return err;
}

/* ---- Blocking calls ---- */

typedef struct waiter {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
  int status;
  void *data;
  size_t len;
} waiter;

static void wake_waiter(void *user, int status, const void *data, size_t len) {
  waiter *wt = user;
  void *copy = NULL;
  if (status == 0 && len) {
    if ((copy = malloc(len)))
      memcpy(copy, data, len);
    else
      status = VA_ENOMEM;
  }
  pthread_mutex_lock(&wt->lock);
  wt->status = status;
  wt->data = copy;
  wt->len = copy ? len : 0;
  wt->done = true;
  pthread_cond_signal(&wt->cond);
  pthread_mutex_unlock(&wt->lock);
}

int va_call_wait(va_runtime *rt, int type, const char *id, size_t id_len,
                 int method, const void *arg, size_t len, void **reply,
                 size_t *reply_len) {
  if (!rt)
    return VA_EINVAL;
  if (va__current_worker(rt))
    return VA_EWOULDBLOCK;
  waiter wt = {.done = false};
  pthread_mutex_init(&wt.lock, NULL);
  pthread_cond_init(&wt.cond, NULL);
  int rc = va_call(rt, type, id, id_len, method, arg, len, wake_waiter, &wt);
  if (rc == 0) {
    pthread_mutex_lock(&wt.lock);
    while (!wt.done)
      pthread_cond_wait(&wt.cond, &wt.lock);
    pthread_mutex_unlock(&wt.lock);
    rc = wt.status;
  }
  pthread_cond_destroy(&wt.cond);
  pthread_mutex_destroy(&wt.lock);
  if (reply)
    *reply = wt.data;
  else
    free(wt.data);
  if (reply_len)
    *reply_len = wt.len;
  return rc;
}

/* ---- Calls from inside a turn ---- */

va_pending *va__turn_pending(va_turn *t, va_cont_fn cont, void *user) {
  va_worker *w = t->w;
  va_pending *p = pending_take(w);
  if (!p)
    return NULL;
  va__deadline_add(&w->deadlines, &p->deadline,
                   w->now_ms + w->rt->cfg.call_timeout_ms);
  p->turn = t;
  p->u.cont.fn = cont;
  p->u.cont.user = user;
  va_dlist_append(&t->calls, &p->link);
  t->n_calls++;
  return p;
}

static int turn_post_call(va_turn *t, va_msg *m, va_ref *ref, va_cont_fn cont,
                          void *user) {
  va_worker *w = t->w;
  va_pending *p = va__turn_pending(t, cont, user);
  if (!p) {
    va__msg_free(&w->msgs, m);
    return VA_ENOMEM;
  }
  m->chain = t->chain;
  m->reply_kind = VA_REPLY_PENDING;
  m->reply_worker = (uint16_t)w->index;
  m->reply.pending.record = p;
  m->reply.pending.seq = p->seq;
  m->deadline_ms = p->deadline.due_ms;
  int rc = va__route_request(w->rt, m, ref);
  if (rc) {
    va_dlist_remove(&t->calls, &p->link);
    t->n_calls--;
    pending_release(w, p);
  }
  return rc;
}

static int turn_post_send(va_turn *t, va_msg *m, va_ref *ref) {
  /* A one-way message starts a chain of its own: nobody waits for it, so
   * it cannot close a cycle. */
  m->chain = new_chain(t->w->rt, t->w);
  return va__route_request(t->w->rt, m, ref);
}

static int turn_check(const va_turn *t) {
  if (!t)
    return VA_EINVAL;
  return t->is_hook ? VA_ESTATE : 0;
}

int va_turn_call(va_turn *t, int type, const char *id, size_t id_len,
                 int method, const void *arg, size_t len, va_cont_fn cont,
                 void *user) {
  int err;
  if ((err = turn_check(t)) != 0)
    return err;
  if (!cont)
    return VA_EINVAL;
  va_msg *m =
      build(t->w->rt, t->w, type, id, id_len, 0, method, arg, len, &err);
  return m ? turn_post_call(t, m, NULL, cont, user) : err;
}

int va_turn_call_ref(va_turn *t, va_ref *ref, int method, const void *arg,
                     size_t len, va_cont_fn cont, void *user) {
  int err;
  if ((err = turn_check(t)) != 0)
    return err;
  if (!ref || !cont || ref->rt != t->w->rt)
    return VA_EINVAL;
  va_msg *m = build_ref(ref, t->w, method, arg, len, &err);
  return m ? turn_post_call(t, m, ref, cont, user) : err;
}

int va_turn_send(va_turn *t, int type, const char *id, size_t id_len,
                 int method, const void *arg, size_t len) {
  int err;
  if ((err = turn_check(t)) != 0)
    return err;
  va_msg *m =
      build(t->w->rt, t->w, type, id, id_len, 0, method, arg, len, &err);
  return m ? turn_post_send(t, m, NULL) : err;
}

int va_turn_send_ref(va_turn *t, va_ref *ref, int method, const void *arg,
                     size_t len) {
  int err;
  if ((err = turn_check(t)) != 0)
    return err;
  if (!ref || ref->rt != t->w->rt)
    return VA_EINVAL;
  va_msg *m = build_ref(ref, t->w, method, arg, len, &err);
  return m ? turn_post_send(t, m, ref) : err;
}

/* ---- References ---- */

int va_ref_new(va_runtime *rt, int type, const char *id, size_t id_len,
               va_ref **out) {
  if (!rt || !out || !id || !id_len)
    return VA_EINVAL;
  if (type < 0 || (size_t)type >= rt->n_types)
    return VA_ENOTYPE;
  if (id_len > ID_MAX)
    return VA_ETOOBIG;
  va_ref *ref = calloc(1, sizeof(*ref) + id_len);
  if (!ref)
    return VA_ENOMEM;
  ref->rt = rt;
  ref->type = (uint16_t)type;
  ref->hash = va__hash_id((uint16_t)type, id, id_len);
  ref->id_len = (uint32_t)id_len;
  memcpy(ref->id, id, id_len);
  *out = ref;
  return 0;
}

/* Messages hold copies of the hint, never the ref: it may go at once. */
void va_ref_free(va_ref *ref) {
  free(ref);
}

/* ---- Calls between nodes (vactor_route.h) ---- */

int va_route_answer(va_runtime *rt, va_route_reply reply, int status,
                    const void *data, size_t len, const char *node) {
  va_worker *w = va__current_worker(rt);
  size_t name_len = node ? strlen(node) : 0;
  if (!w)
    return VA_ESTATE;
  if (!reply.record || reply.worker >= rt->n_workers || name_len > 255 ||
      (len && !data) || len > UINT32_MAX - 255)
    return VA_EINVAL;
  if (status != 0)
    len = 0; /* as va__answer: a failure carries no body */
  va_msg *m = va__msg_alloc(&w->msgs, 0, (uint32_t)(len + name_len));
  if (!m)
    return VA_ENOMEM; /* the caller's deadline answers */
  if (len)
    memcpy(va__msg_body(m), data, len);
  if (name_len)
    memcpy(va__msg_body(m) + len, node, name_len);
  m->kind = VA_MSG_REPLY;
  m->status = status;
  m->control = (uint8_t)name_len;
  m->reply.pending.record = reply.record;
  m->reply.pending.seq = reply.seq;
  if (reply.worker == w->index)
    va__worker_local_add(w, m);
  else
    va__worker_outbox_add(w, reply.worker, m);
  return 0;
}

int va_route_inbound(va_runtime *rt, const va_route_call *call, va_reply_fn cb,
                     void *user) {
  va_worker *w = va__current_worker(rt);
  if (!w)
    return VA_ESTATE;
  if (!call || (!call->one_way && !cb))
    return VA_EINVAL;
  int err = enter(rt, w);
  if (err)
    return err;
  va_msg *m =
      build_msg(rt, w, call->type, call->id, call->id_len, 0, call->method,
                va_method_is_system(call->method), call->body, call->len, &err);
  if (!m)
    return err;
  unsigned hops =
      call->hops < VA_ROUTE_MAX_HOPS ? call->hops : VA_ROUTE_MAX_HOPS;
  m->control = (uint8_t)(hops << VA_REQ_HOPS_SHIFT);
  m->chain = call->chain ? call->chain : new_chain(rt, w);
  va_pending *p = NULL;
  if (!call->one_way) {
    /* The answer comes back to this worker, where the link is. */
    if (!(p = pending_take(w))) {
      va__msg_free(&w->msgs, m);
      return VA_ENOMEM;
    }
    uint64_t timeout = call->timeout_ms < rt->cfg.call_timeout_ms
                           ? call->timeout_ms
                           : rt->cfg.call_timeout_ms;
    va__deadline_add(&w->deadlines, &p->deadline, w->now_ms + timeout);
    p->u.callback.fn = cb;
    p->u.callback.user = user;
    m->reply_kind = VA_REPLY_PENDING;
    m->reply_worker = (uint16_t)w->index;
    m->reply.pending.record = p;
    m->reply.pending.seq = p->seq;
    m->deadline_ms = p->deadline.due_ms;
  }
  int rc = va__route_request(rt, m, NULL);
  if (rc && p)
    pending_release(w, p);
  return rc;
}
