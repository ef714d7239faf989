/* route.c — actors on other nodes, seen from the worker that would run
 * them here (vactor_route.h): the placement check a message passes before
 * it activates anything, the forward to the router, the list of messages
 * that wait to be placed again while another node still holds their actor,
 * and the paced walk that sends misplaced (rebalance) or all (evict)
 * activations away. Owner thread only, except the va_runtime_* entry
 * points, which post to the workers.
 *
 * An actor active here keeps its messages (its claim fences it), unless it
 * is leaving: a walk found it misplaced but busy. A leaving actor takes no
 * new message (but one of its own open call chain, which it waits for):
 * new ones go where placement says, or wait here until it is gone. */
#include "../base/assert.h"
#include "../base/clock.h"
#include "../store/store.h"
#include "runtime.h"
#include <string.h>

enum {
  REROUTE_MS = 50,     /* how long a refused message waits to be placed again */
  MOVE_TICK_MS = 20,   /* the walk's pace: this often ... */
  MOVES_PER_TICK = 64, /* ... at most this many deactivations per worker */
  EVICT_WAIT_MS = 5000, /* how long va_runtime_evict waits for the workers */
};

static va_loop *loop_of(va_worker *w) {
  return va_runtime_loop(w->rt, w->index);
}

static unsigned hops_of(const va_msg *m) {
  return (m->control & VA_REQ_HOPS_MASK) >> VA_REQ_HOPS_SHIFT;
}

static int place(va_worker *w, uint16_t type, const char *id, size_t id_len) {
  va_runtime *rt = w->rt;
  return rt->router.place(rt->router_user, loop_of(w), type, id, id_len);
}

/* ---- Forwarding ---- */

static void forward(va_worker *w, va_msg *m, int node) {
  va_runtime *rt = w->rt;
  uint64_t deadline =
      m->deadline_ms ? m->deadline_ms : w->now_ms + rt->cfg.call_timeout_ms;
  va_route_call call = {
      .type = m->type,
      .id = va__msg_id(m),
      .id_len = m->id_len,
      .method = m->method,
      .body = va__msg_body(m),
      .len = m->len,
      .chain = m->chain,
      .timeout_ms = deadline > w->now_ms ? deadline - w->now_ms : 1,
      /* A draining node's call may go on past the last hop: it cannot
       * run here, and an eligible node runs it there at its last hop. */
      .hops =
          hops_of(m) < VA_ROUTE_MAX_HOPS ? hops_of(m) + 1 : VA_ROUTE_MAX_HOPS,
      .one_way = m->reply_kind == VA_REPLY_NONE,
  };
  /* Admitted already (dispatch.c): a call has a pending record by now. */
  VA_ASSERT(call.one_way || m->reply_kind == VA_REPLY_PENDING);
  va_route_reply reply = {.record = m->reply.pending.record,
                          .seq = m->reply.pending.seq,
                          .worker = m->reply_worker};
  int rc = rt->router.forward(rt->router_user, loop_of(w), node, &call,
                              call.one_way ? (va_route_reply){0} : reply);
  if (rc == VA_ELINK) {
    /* Refused before it left: not connected to that node (it died, or is
     * coming). Placed again shortly, when the view may have changed. */
    va__route_later(w, m);
    return;
  }
  if (rc)
    va__answer(w, m, rc, NULL);
  va__msg_free(&w->msgs, m);
}

static void walk_soon(va_worker *w);

bool va__route_away(va_worker *w, va_msg *m) {
  va_runtime *rt = w->rt;
  if (!rt->router.place)
    return false;
  va_actor *a = m->hint;
  if (!(a && a->gen == m->hint_gen && a->life != VA_ACTOR_FREE))
    a = va__dir_find(&w->dir, m->hash, m->type, va__msg_id(m), m->id_len);
  if (a && !a->leaving)
    return false;
  if (a && a->depth > 0 && m->chain == a->busy_chain)
    return false; /* its own open chain: it waits for this one */
  bool last_hop =
      hops_of(m) >= VA_ROUTE_MAX_HOPS && !va_load_relaxed(&rt->draining);
  int node =
      last_hop ? VA_ROUTE_HERE : place(w, m->type, va__msg_id(m), m->id_len);
  if (node != VA_ROUTE_HERE) {
    forward(w, m, node);
    return true;
  }
  if (a) { /* leaving, yet placed here (an eviction): wait until it went */
    va__route_later(w, m);
    return true;
  }
  /* At its last hop a call may activate an actor that placement puts on
   * another node (the views of the nodes it crossed disagreed while one
   * changed). It runs here, and a walk sends it where it belongs once it
   * is idle: else it would stay, holding its claim, while the node it
   * belongs to is refused the claim for as long as it lives. */
  if (last_hop && place(w, m->type, va__msg_id(m), m->id_len) != VA_ROUTE_HERE)
    walk_soon(w);
  return false;
}

/* ---- Placing again, later ---- */

static void arm(va_worker *w, va_timer *t, uint64_t due_ms) {
  if (!va__timer_armed(t) && va__heap_push(&w->timers, t, due_ms) != 0)
    va_log(w->rt, VA_LOG_ERROR, "routing timer not armed", "worker=%u",
           w->index); /* out of memory: what waits, waits for its deadline */
}

static bool stopping(const va_worker *w) {
  return w->shutdown || va_load_relaxed(&w->rt->phase) != VA_PHASE_RUNNING;
}

void va__route_later(va_worker *w, va_msg *m) {
  if (stopping(w)) { /* stop must not wait for another node */
    va__answer(w, m, VA_ESTOPPED, NULL);
    va__msg_free(&w->msgs, m);
    return;
  }
  if (!m->deadline_ms) /* a one-way message waits as long as a call would */
    m->deadline_ms = w->now_ms + w->rt->cfg.call_timeout_ms;
  m->hint = NULL;
  va_store_relaxed(&m->node.next, NULL);
  if (w->reroute_tail)
    va_store_relaxed(&w->reroute_tail->node.next, &m->node);
  else
    w->reroute_head = m;
  w->reroute_tail = m;
  w->queued++;
  arm(w, &w->reroute_timer, w->now_ms + REROUTE_MS);
}

void va__route_later_mailbox(va_worker *w, va_actor *a) {
  while (a->mbox_head) {
    va_msg *m = a->mbox_head;
    a->mbox_head = (va_msg *)va_load_relaxed(&m->node.next);
    VA_ASSERT(a->mbox_len > 0 && w->queued > 0);
    a->mbox_len--;
    w->queued--;
    va__route_later(w, m);
  }
  a->mbox_tail = NULL;
}

static void reroute(va_worker *w) {
  va_msg *m = w->reroute_head;
  w->reroute_head = w->reroute_tail = NULL;
  while (m) {
    va_msg *next = (va_msg *)va_load_relaxed(&m->node.next);
    VA_ASSERT(w->queued > 0);
    w->queued--;
    if (stopping(w) || w->now_ms >= m->deadline_ms) {
      va__answer(w, m, stopping(w) ? VA_ESTOPPED : VA_ETIMEDOUT, NULL);
      va__msg_free(&w->msgs, m);
    } else {
      (void)va__deliver_request(w, m); /* a refusal is answered there */
    }
    m = next;
  }
}

/* ---- Sending actors away ---- */

static bool idle(const va_actor *a) {
  return a->depth == 0 && !a->mbox_head && !a->scheduled && !a->unsaved &&
         a->life == VA_ACTOR_ACTIVE;
}

/* One step of the walk: deactivates up to MOVES_PER_TICK idle actors that
 * must go, marks the busy ones leaving, and comes back while any is left. */
static void move_some(va_worker *w) {
  unsigned sent = 0, left = 0;
  va_dlink *next = w->idle.head;
  for (size_t n = w->dir.count; n && next; n--) {
    va_actor *a = VA_CONTAINER_OF(next, va_actor, idle);
    next = next->next;
    if (a->life != VA_ACTOR_ACTIVE && a->life != VA_ACTOR_LOADING)
      continue;
    if (w->moving != VA_MOVE_EVICT &&
        place(w, a->type, a->id, a->id_len) == VA_ROUTE_HERE) {
      a->leaving = false;
      continue;
    }
    if (a->life == VA_ACTOR_LOADING) { /* looked at again once it is active */
      left++;
      continue;
    }
    if (sent < MOVES_PER_TICK && idle(a)) {
      /* Leaving while its hook's save is on the way (closing): a message
       * meanwhile goes where placement says, not into its mailbox. */
      a->leaving = true;
      va__actor_deactivate(w, a);
      sent++;
      continue;
    }
    a->leaving = true;
    left++;
    if (w->moving == VA_MOVE_EVICT && a != w->running) {
      /* What waits for it was accepted by an activation that may be
       * stale: placed again, it finds a fresh one. */
      if (a->scheduled)
        va__worker_unschedule(w, a);
      va__route_later_mailbox(w, a);
    }
  }
  va_add_relaxed(&w->rt->moved, sent);
  if (left || sent == MOVES_PER_TICK)
    arm(w, &w->move_timer, w->now_ms + MOVE_TICK_MS);
  else
    w->moving = 0;
}

void va__route_timer(va_worker *w, va_timer *t) {
  if (t == &w->reroute_timer)
    reroute(w);
  else if (!w->shutdown)
    move_some(w);
}

/* A rebalance walk on w, soon (unless one is on its way). */
static void walk_soon(va_worker *w) {
  if (!w->moving)
    w->moving = VA_MOVE_REBALANCE;
  arm(w, &w->move_timer, w->now_ms + MOVE_TICK_MS);
}

static void start_move(void *ctx, va_worker *w) {
  uint8_t kind = (uint8_t)(uintptr_t)ctx;
  if (w->moving != VA_MOVE_EVICT) /* an eviction covers a rebalance */
    w->moving = kind;
  if (kind == VA_MOVE_EVICT) { /* its first step at once (va_runtime_evict) */
    w->evictions++;
    if (va__timer_armed(&w->move_timer))
      va__heap_remove(&w->timers, &w->move_timer);
    move_some(w);
    va_add_rel(&w->rt->evict_steps, 1);
    return;
  }
  arm(w, &w->move_timer, w->now_ms);
}

static int move_all(va_runtime *rt, uint8_t kind) {
  if (!rt)
    return VA_EINVAL;
  for (unsigned i = 0; i < rt->n_workers; i++) {
    int rc = va__run_on(rt, i, start_move, (void *)(uintptr_t)kind);
    if (rc)
      return rc;
  }
  return 0;
}

/* ---- The public face ---- */

int va_runtime_set_router(va_runtime *rt, const va_router *router, void *user) {
  if (!rt || !router || !router->place || !router->forward)
    return VA_EINVAL;
  if (va_load_acq(&rt->phase) != VA_PHASE_NEW)
    return VA_ESTATE;
  rt->router = *router;
  rt->router_user = user;
  return 0;
}

void va_runtime_fence(va_runtime *rt, uint64_t until_ms) {
  if (rt)
    va_store_rel(&rt->fence_until, until_ms);
}

void va_runtime_drain(va_runtime *rt, bool draining) {
  if (rt)
    va_store_rel(&rt->draining, draining);
}

int va_runtime_rebalance(va_runtime *rt) {
  int rc = move_all(rt, VA_MOVE_REBALANCE);
  /* A member that went may have left reminders due before now, which
   * this node's looks passed over while that member owned them. */
  if (rc == 0)
    va__reminders_rescan(rt);
  return rc;
}

int va_runtime_evict(va_runtime *rt) {
  if (rt && va__current_worker(rt))
    return VA_EWOULDBLOCK;
  uint64_t before = rt ? va_load_acq(&rt->evict_steps) : 0;
  int rc = move_all(rt, VA_MOVE_EVICT);
  /* Bounded: a worker stuck in a long turn must not hold the caller (the
   * membership) forever; its actors are fenced meanwhile. */
  for (int i = 0; rc == 0 && i < EVICT_WAIT_MS; i++) {
    if (va_load_acq(&rt->evict_steps) - before >= rt->n_workers)
      return 0;
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
  return rc ? rc : VA_ETIMEDOUT;
}

uint64_t va_runtime_moved(va_runtime *rt) {
  return rt ? va_load_relaxed(&rt->moved) : 0;
}

bool va_method_is_system(int method) {
  return method >= VA_METHOD_SYSTEM && method <= VA_METHOD_REMINDER;
}

const char *va_method_name(const va_runtime *rt, int type, int method) {
  if (!rt || type < 0 || (size_t)type >= rt->n_types || method < 0 ||
      (size_t)method >= rt->types[type].n_methods)
    return NULL;
  return rt->types[type].methods[method].name;
}
