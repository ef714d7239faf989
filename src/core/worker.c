/* worker.c — one worker thread: its event loop (epoll, with an eventfd to
 * be woken), its inbox from other threads, its outboxes to other workers
 * (flushed once per pass, one wake-up per batch), its run queue of actors,
 * its timers (call deadlines, the idle scan) and parking when idle. The
 * loop's public face (vactor_loop.h: watching descriptors, running a
 * function on a worker) is here too: a va_loop is its worker. */
#include "../base/assert.h"
#include "../base/clock.h"
#include "../store/store.h"
#include "runtime.h"
#include "vactor_loop.h"
#include <errno.h>
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

_Thread_local va_worker *va__tl_worker;

/* The body of a VA_CONTROL_RUN message: one of the two functions. */
typedef struct run_req {
  void (*worker_fn)(void *ctx, va_worker *w); /* va__run_on's */
  va_loop_fn loop_fn;                         /* va_loop_run's */
  void *ctx;
} run_req;

/* A va_loop is its worker, under a name of its own outside src/core/. */
static va_loop *as_loop(va_worker *w) {
  return (va_loop *)(void *)w;
}
static va_worker *of_loop(va_loop *loop) {
  return (va_worker *)(void *)loop;
}

/* The batch of ready descriptors this thread's loop is delivering (see
 * poll_io), so that unwatching a descriptor forgets what was not delivered
 * yet: its watcher may be freed at once. */
static _Thread_local struct epoll_event *batch;
static _Thread_local int batch_next, batch_len;

enum {
  BATCH_PER_ACTOR = 256,  /* messages of one actor before the next actor */
  ACTORS_PER_PASS = 1024, /* actor visits before the inbox is looked at */
  INBOX_PER_PASS = 4096,  /* inbox messages taken in one pass */
  OUTBOX_FLUSH = 256,     /* an outbox this full is pushed at once */
  SPIN_NS = 50000,        /* spin this long before parking */
};

/* The worker's own timers a failed push left unarmed (va_worker.unarmed). */
enum { UNARMED_SCAN = 1, UNARMED_LOOK = 2 };

int va__worker_new(va_runtime *rt, unsigned index, va_worker **out) {
  va_worker *w = aligned_alloc(64, (sizeof(*w) + 63) / 64 * 64);
  if (!w)
    return VA_ENOMEM;
  memset(w, 0, sizeof(*w));
  w->rt = rt;
  w->index = index;
  w->epfd = w->evfd = -1;
  va__mpsc_init(&w->inbox);
  w->scan_timer.index = VA_TIMER_IDLE;
  w->scan_timer.kind = VA_TIMER_SCAN;
  w->look_timer.index = VA_TIMER_IDLE;
  w->look_timer.kind = VA_TIMER_LOOK;
  w->reroute_timer.index = VA_TIMER_IDLE;
  w->reroute_timer.kind = VA_TIMER_REROUTE;
  w->move_timer.index = VA_TIMER_IDLE;
  w->move_timer.kind = VA_TIMER_MOVE;
  int rc = VA_ENOMEM;
  w->outbox = calloc(rt->n_workers, sizeof(*w->outbox));
  w->pools = calloc(rt->n_types ? rt->n_types : 1, sizeof(*w->pools));
  /* Room for the worker's own timers (see arm_scan). */
  if (!w->outbox || !w->pools || va__heap_reserve(&w->timers, 64) != 0 ||
      va__dir_init(&w->dir, 1024) != 0 ||
      va__msg_cache_init(&w->msgs, index, rt->n_workers, rt->caches) != 0)
    goto fail;
  rt->caches[index] = &w->msgs;
  rc = VA_ESYS;
  w->epfd = epoll_create1(EPOLL_CLOEXEC);
  w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->epfd < 0 || w->evfd < 0)
    goto fail;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) != 0)
    goto fail;
  *out = w;
  return 0;
fail:
  va__worker_free(w);
  return rc;
}

void va__worker_free(va_worker *w) {
  if (!w)
    return;
  /* Messages left in the inbox (the runtime never started, or stopped). */
  for (va_qnode *n; (n = va__mpsc_pop(&w->inbox));) {
    free(n);
  }
  va__reminders_free_timers(w);
  if (w->pools)
    va__actor_pools_free(w);
  va__dir_free(&w->dir);
  va__heap_free(&w->timers);
  va__msg_cache_drain(&w->msgs);
  va__pending_free_all(w);
  va__turns_free(w);
  free(w->outbox);
  if (w->epfd >= 0)
    close(w->epfd);
  if (w->evfd >= 0)
    close(w->evfd);
  free(w);
}

/* ---- Waking ---- */

void va__worker_wake(va_worker *w) {
  /* Pairs with the fence in park(): either the worker sees our push before
   * it sleeps, or we see its sleeping flag here. */
  atomic_thread_fence(memory_order_seq_cst);
  if (va_load_relaxed(&w->sleeping) &&
      atomic_exchange_explicit(&w->sleeping, false, memory_order_relaxed)) {
    uint64_t one = 1;
    ssize_t n = write(w->evfd, &one, sizeof(one));
    (void)n; /* EAGAIN means a wake-up is already pending */
  }
}

void va__worker_push(va_worker *w, va_msg *m) {
  if (m->kind == VA_MSG_REQUEST)
    va_add_relaxed(&w->inbox_len, 1);
  va__mpsc_push(&w->inbox, &m->node);
  va__worker_wake(w);
}

void va__worker_post(va_worker *w, va_msg *m) {
  if (va__tl_worker == w) {
    va__worker_local_add(w, m);
  } else {
    va_add_relaxed(&w->rt->external_posted, 1); /* counted for stop */
    va__worker_push(w, m);
  }
}

void va__worker_outbox_add(va_worker *self, unsigned dst, va_msg *m) {
  va_outbox *ob = &self->outbox[dst];
  va_store_relaxed(&m->node.next, NULL);
  if (ob->last)
    va_store_relaxed(&ob->last->node.next, &m->node);
  else
    ob->first = m;
  ob->last = m;
  ob->count++;
  ob->requests += m->kind == VA_MSG_REQUEST;
  self->outbox_dirty = true;
  if (ob->count >= OUTBOX_FLUSH) {
    va_worker *target = self->rt->workers[dst];
    va_add_relaxed(&target->inbox_len, ob->requests);
    va_add_relaxed(&self->posted_out, ob->count);
    va__mpsc_push_chain(&target->inbox, &ob->first->node, &ob->last->node);
    va__worker_wake(target);
    *ob = (va_outbox){0};
  }
}

static void flush_outboxes(va_worker *w) {
  if (!w->outbox_dirty)
    return;
  w->outbox_dirty = false;
  for (unsigned i = 0; i < w->rt->n_workers; i++) {
    va_outbox *ob = &w->outbox[i];
    if (!ob->count)
      continue;
    va_worker *target = w->rt->workers[i];
    va_add_relaxed(&target->inbox_len, ob->requests);
    va_add_relaxed(&w->posted_out, ob->count);
    va__mpsc_push_chain(&target->inbox, &ob->first->node, &ob->last->node);
    va__worker_wake(target);
    *ob = (va_outbox){0};
  }
}

/* ---- Queues ---- */

void va__worker_schedule(va_worker *w, va_actor *a) {
  if (a->scheduled)
    return;
  a->scheduled = 1;
  a->run_next = NULL;
  if (w->run_tail)
    w->run_tail->run_next = a;
  else
    w->run_head = a;
  w->run_tail = a;
}

void va__worker_unschedule(va_worker *w, va_actor *a) {
  VA_ASSERT(a->scheduled && a != w->running);
  va_actor *prev = NULL;
  for (va_actor *it = w->run_head; it; prev = it, it = it->run_next) {
    if (it != a)
      continue;
    if (prev)
      prev->run_next = a->run_next;
    else
      w->run_head = a->run_next;
    if (w->run_tail == a)
      w->run_tail = prev;
    break;
  }
  a->run_next = NULL;
  a->scheduled = 0;
}

void va__worker_local_add(va_worker *w, va_msg *m) {
  va_store_relaxed(&m->node.next, NULL);
  if (w->local_tail)
    va_store_relaxed(&w->local_tail->node.next, &m->node);
  else
    w->local_head = m;
  w->local_tail = m;
}

static void shutdown_worker(va_worker *w);

/* Runs a control message (and frees it). */
static void control(va_worker *w, va_msg *m) {
  switch (m->control) {
  case VA_CONTROL_SHUTDOWN:
    shutdown_worker(w);
    va__msg_free(&w->msgs, m);
    break;
  case VA_CONTROL_REMINDERS:
    va__reminders_seen(w, m);
    va__msg_free(&w->msgs, m);
    break;
  case VA_CONTROL_RUN: {
    run_req *r = (run_req *)va__msg_body(m);
    if (r->loop_fn)
      r->loop_fn(r->ctx, as_loop(w));
    else
      r->worker_fn(r->ctx, w);
    va__msg_free(&w->msgs, m);
    break;
  }
  default:
    va__persist_control(w, m);
  }
}

static bool run_local(va_worker *w) {
  va_msg *m = w->local_head;
  if (!m)
    return false;
  w->local_head = w->local_tail = NULL;
  while (m) {
    va_msg *next = (va_msg *)va_load_relaxed(&m->node.next);
    if (m->kind == VA_MSG_REPLY)
      va__deliver_reply(w, m);
    else
      control(w, m);
    m = next;
  }
  return true;
}

static bool drain_inbox(va_worker *w) {
  uint64_t taken = 0, requests = 0;
  va_qnode *n;
  while (taken < INBOX_PER_PASS && (n = va__mpsc_pop(&w->inbox))) {
    va_msg *m = (va_msg *)n;
    /* Messages come from another core: start fetching the next one. */
    __builtin_prefetch(w->inbox.tail);
    if (taken++ == 0)
      va_store_relaxed(&w->quiet, false); /* published by taken_in below */
    switch (m->kind) {
    case VA_MSG_REQUEST:
      requests++;
      va__deliver_request(w, m);
      break;
    case VA_MSG_REPLY:
      va__deliver_reply(w, m);
      break;
    case VA_MSG_CONTROL:
      control(w, m);
      break;
    }
  }
  if (taken) {
    va_sub_relaxed(&w->inbox_len, requests);
    /* Release: whoever sees the new count also sees quiet == false. */
    atomic_fetch_add_explicit(&w->taken_in, taken, memory_order_release);
  }
  return taken > 0;
}

static bool run_actors(va_worker *w) {
  /* A bounded number of visits, so that the inbox is never starved; actors
   * scheduled meanwhile (a message passed on locally) count, so a chain of
   * local hops does not pay a whole pass per hop. */
  if (!w->run_head || !va__route_may_run(w))
    return false; /* fenced: the actors wait (park_timeout_ms) */
  for (unsigned visits = 0; visits < ACTORS_PER_PASS && w->run_head; visits++) {
    va_actor *a = w->run_head;
    w->run_head = a->run_next;
    if (!w->run_head)
      w->run_tail = NULL;
    else /* the next actor and its first message are likely cold */
      __builtin_prefetch(w->run_head, 1),
          __builtin_prefetch(w->run_head->mbox_head);
    va__actor_run(w, a, BATCH_PER_ACTOR);
  }
  return true;
}

/* ---- Timers and idle deactivation ---- */

/* Arms the idle scan. The heap has room for it once it has held it (the
 * worker reserves room for its own timers at its start, and a heap never
 * gives room back), but other timers may have taken that room: then the
 * scan is armed again at the next pass (w->unarmed), never dropped. */
static void arm_scan(va_worker *w) {
  uint64_t every = w->rt->cfg.scan_interval_ms;
  uint64_t min = va_load_relaxed(&w->rt->min_idle_ms);
  if (va__heap_push(&w->timers, &w->scan_timer,
                    w->now_ms + (min < every ? min : every)) != 0)
    w->unarmed |= UNARMED_SCAN;
}

/* Arms worker 0's look for due reminders at due_ms, as surely as the
 * scan. */
static void arm_look(va_worker *w, uint64_t due_ms) {
  if (va__heap_push(&w->timers, &w->look_timer, due_ms) != 0)
    w->unarmed |= UNARMED_LOOK;
}

/* Arms what a failed push left unarmed: once per pass. */
static void arm_unarmed(va_worker *w) {
  unsigned which = w->unarmed;
  w->unarmed = 0;
  if ((which & UNARMED_SCAN) && !va__timer_armed(&w->scan_timer))
    arm_scan(w);
  if ((which & UNARMED_LOOK) && !w->shutdown &&
      !va__timer_armed(&w->look_timer))
    arm_look(w, w->now_ms);
}

void va__worker_rearm_scan(void *ctx, va_worker *w) {
  (void)ctx;
  if (va__timer_armed(&w->scan_timer))
    va__heap_remove(&w->timers, &w->scan_timer);
  arm_scan(w);
}

static uint64_t idle_timeout_of(const va_worker *w, const va_actor *a) {
  uint64_t own = va_load_relaxed(&w->rt->types[a->type].idle_timeout_ms);
  return own ? own : w->rt->cfg.idle_timeout_ms;
}

static void scan_idle(va_worker *w) {
  uint64_t shortest = va_load_relaxed(&w->rt->min_idle_ms);
  /* The list is in order of last use, so stop at the first one used within
   * the shortest timeout; older ones whose type waits longer are passed
   * over. Busy actors met on the way are moved to the end. */
  va_dlink *next = w->idle.head;
  for (size_t n = w->dir.count; n && next; n--) {
    va_actor *a = VA_CONTAINER_OF(next, va_actor, idle);
    next = next->next;
    uint64_t idle_for = w->now_ms - a->last_used_ms;
    if (idle_for < shortest)
      break;
    if (idle_for < idle_timeout_of(w, a))
      continue;
    if (a->depth == 0 && !a->mbox_head && !a->scheduled && !a->unsaved &&
        a->life == VA_ACTOR_ACTIVE)
      va__actor_deactivate(w, a);
    else
      va__actor_touch(w, a);
  }
}

static bool fire_timers(va_worker *w) {
  bool fired = false;
  va_deadline *d;
  while ((d = va__deadline_first(&w->deadlines)) && d->due_ms <= w->now_ms) {
    fired = true;
    va__pending_expired(w, VA_CONTAINER_OF(d, va_pending, deadline));
  }
  va_timer *t;
  while ((t = va__heap_peek(&w->timers)) && t->due_ms <= w->now_ms) {
    va__heap_remove(&w->timers, t);
    fired = true;
    if (t->kind == VA_TIMER_SCAN) {
      scan_idle(w);
      arm_scan(w);
    } else if (t->kind == VA_TIMER_LOOK) {
      if (!w->shutdown) {
        va__reminders_look(w);
        arm_look(w, w->now_ms + va__reminders_interval_ms());
      }
    } else if (t->kind == VA_TIMER_REMINDER) {
      va__reminders_timer(w, t);
    } else if (t->kind == VA_TIMER_REROUTE || t->kind == VA_TIMER_MOVE) {
      va__route_timer(w, t);
    } else {
      va__timers_fire(w, t);
    }
  }
  return fired;
}

/* ---- The loop ---- */

static bool has_work(va_worker *w) {
  return (w->run_head && va__route_may_run(w)) || w->local_head ||
         !va__mpsc_empty(&w->inbox);
}

/* Publishes whether this worker holds any unfinished work, for stop. */
static void publish_quiet(va_worker *w) {
  bool quiet = !w->run_head && !w->local_head && w->open_turns == 0 &&
               w->live_pending == 0 && w->queued == 0 && w->loading == 0 &&
               w->saving == 0;
  va_store_rel(&w->quiet, quiet);
}

/* How often a fenced worker with actors to run looks whether the fence
 * moved (va_runtime_fence). */
enum { FENCED_LOOK_MS = 10 };

static int park_timeout_ms(va_worker *w) {
  va_timer *t = va__heap_peek(&w->timers);
  va_deadline *d = va__deadline_first(&w->deadlines);
  if (!t && !d && !w->run_head)
    return -1;
  uint64_t due = t ? t->due_ms : UINT64_MAX;
  if (d && d->due_ms < due)
    due = d->due_ms;
  uint64_t now = va_clock_coarse_ms();
  if (w->run_head && now + FENCED_LOOK_MS < due)
    due = now + FENCED_LOOK_MS;
  return due <= now ? 0 : (int)(due - now < INT32_MAX ? due - now : INT32_MAX);
}

/* ---- The loop's public face (vactor_loop.h) ---- */

/* The event values are epoll's, so they pass through unchanged. */
_Static_assert((unsigned)VA_LOOP_READABLE == (unsigned)EPOLLIN &&
                   (unsigned)VA_LOOP_WRITABLE == (unsigned)EPOLLOUT &&
                   (unsigned)VA_LOOP_ERROR == (unsigned)EPOLLERR &&
                   (unsigned)VA_LOOP_HANGUP == (unsigned)EPOLLHUP &&
                   (unsigned)VA_LOOP_PEER_CLOSED == (unsigned)EPOLLRDHUP,
               "va_loop_events are epoll's values");

enum {
  WATCHABLE = VA_LOOP_READABLE | VA_LOOP_WRITABLE | VA_LOOP_PEER_CLOSED |
              VA_LOOP_ERROR | VA_LOOP_HANGUP,
  ALWAYS_REPORTED = VA_LOOP_ERROR | VA_LOOP_HANGUP,
};

va_loop *va_loop_current(const va_runtime *rt) {
  va_worker *w = va__current_worker(rt);
  return w ? as_loop(w) : NULL;
}

va_loop *va_runtime_loop(va_runtime *rt, unsigned index) {
  /* Acquire: the workers array is complete once the phase left NEW. */
  if (!rt || va_load_acq(&rt->phase) == VA_PHASE_NEW || index >= rt->n_workers)
    return NULL;
  return as_loop(rt->workers[index]);
}

unsigned va_loop_index(const va_loop *loop) {
  return ((const va_worker *)(const void *)loop)->index;
}

/* What a failed epoll_ctl means, as a VA_E* code (errno kept). */
static int ctl_error(int err) {
  switch (err) {
  case EEXIST:
    return VA_EEXIST;
  case ENOENT:
    return VA_ENOTFOUND;
  case ENOMEM:
    return VA_ENOMEM;
  case EBADF:
  case EINVAL:
  case EPERM: /* a descriptor epoll cannot watch (a regular file) */
  case ELOOP:
    return VA_EINVAL;
  default: /* ENOSPC: the user's epoll watches are all taken */
    return VA_ESYS;
  }
}

/* 0 when the loop and the arguments may be used from this thread. */
static int check_call(const va_worker *w, const va_loop_watcher *watcher,
                      uint32_t events) {
  if (!w || (watcher && !watcher->fn) || (events & ~(uint32_t)WATCHABLE))
    return VA_EINVAL;
  return va__tl_worker == w ? 0 : VA_ESTATE;
}

int va_loop_watch(va_loop *loop, int fd, uint32_t events,
                  va_loop_watcher *watcher) {
  va_worker *w = of_loop(loop);
  int rc = watcher ? check_call(w, watcher, events) : VA_EINVAL;
  if (rc)
    return rc;
  watcher->fd = fd;
  struct epoll_event ev = {.events = events, .data.ptr = watcher};
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
    return ctl_error(errno);
  w->watched++;
  return 0;
}

int va_loop_rewatch(va_loop *loop, int fd, uint32_t events,
                    va_loop_watcher *watcher) {
  va_worker *w = of_loop(loop);
  int rc = watcher ? check_call(w, watcher, events) : VA_EINVAL;
  if (rc)
    return rc;
  struct epoll_event ev = {.events = events, .data.ptr = watcher};
  if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
    return ctl_error(errno);
  watcher->fd = fd;
  /* What is still to be delivered in this batch goes to the new watcher,
   * and only for what fd is now watched for. */
  for (int i = batch_next; i < batch_len; i++) {
    va_loop_watcher *o = batch[i].data.ptr;
    if (batch[i].events && o && o->fd == fd) {
      batch[i].data.ptr = watcher;
      batch[i].events &= events | ALWAYS_REPORTED;
    }
  }
  return 0;
}

int va_loop_unwatch(va_loop *loop, int fd) {
  va_worker *w = of_loop(loop);
  int rc = check_call(w, NULL, 0);
  if (rc)
    return rc;
  if (epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL) != 0)
    return ctl_error(errno);
  VA_ASSERT(w->watched > 0); /* one per descriptor added and not deleted */
  w->watched--;
  /* Forget fd's readiness not yet delivered. Every entry still to be
   * delivered points to a live watcher: an unwatched one's entries are
   * cleared here before its owner may free it. */
  for (int i = batch_next; i < batch_len; i++) {
    va_loop_watcher *o = batch[i].data.ptr;
    if (batch[i].events && o && o->fd == fd)
      batch[i].events = 0;
  }
  return 0;
}

/* Posts fn (one of the two kinds) to worker `index`. External threads
 * announce themselves before they look at the phase, as external calls do
 * (dispatch.c): stop, which waits for the announced ones after it set
 * STOPPING, then waits for what they posted. A worker posting while the
 * runtime stops is not quiet, so stop waits for its posts too. */
static int post_run(va_runtime *rt, unsigned index, run_req req) {
  va_worker *here = va__current_worker(rt);
  if (!here)
    atomic_fetch_add_explicit(&rt->entering, 1, memory_order_seq_cst);
  int phase = atomic_load_explicit(&rt->phase, memory_order_seq_cst);
  int rc = 0;
  if (phase != VA_PHASE_RUNNING && !(here && phase == VA_PHASE_STOPPING)) {
    rc = VA_ESTOPPED;
  } else if (index >= rt->n_workers) {
    rc = VA_EINVAL;
  } else {
    /* From a worker: its message cache and its outbox, which travels in a
     * batch with one wake-up at the end of the pass (an answer handed back
     * to the connection's worker, say); from elsewhere: malloc and a
     * push. */
    va_msg *m = va__msg_alloc(here ? &here->msgs : NULL, 0, sizeof(run_req));
    if (!m) {
      rc = VA_ENOMEM;
    } else {
      m->kind = VA_MSG_CONTROL;
      m->control = VA_CONTROL_RUN;
      *(run_req *)va__msg_body(m) = req;
      if (here && here->index != index)
        va__worker_outbox_add(here, index, m);
      else
        va__worker_post(rt->workers[index], m);
    }
  }
  if (!here)
    atomic_fetch_sub_explicit(&rt->entering, 1, memory_order_release);
  return rc;
}

int va_loop_run(va_runtime *rt, unsigned index, va_loop_fn fn, void *ctx) {
  if (!rt || !fn)
    return VA_EINVAL;
  return post_run(rt, index, (run_req){NULL, fn, ctx});
}

int va__run_on(va_runtime *rt, unsigned index,
               void (*fn)(void *ctx, va_worker *w), void *ctx) {
  return post_run(rt, index, (run_req){fn, NULL, ctx});
}

/* Runs the handlers of ready descriptors; timeout as epoll_wait's. An
 * entry whose events were cleared (its descriptor unwatched by an earlier
 * handler of the batch) is skipped. */
static bool poll_io(va_worker *w, int timeout_ms) {
  struct epoll_event ev[64];
  int n = epoll_wait(w->epfd, ev, 64, timeout_ms);
  bool worked = false;
  batch = ev;
  batch_len = n > 0 ? n : 0;
  for (batch_next = 0; batch_next < batch_len;) {
    struct epoll_event *e = &ev[batch_next++];
    va_loop_watcher *watcher = e->data.ptr;
    if (!watcher) { /* the eventfd: a wake-up */
      uint64_t v;
      ssize_t r = read(w->evfd, &v, sizeof(v));
      (void)r; /* EAGAIN: the wake-up was consumed already */
      continue;
    }
    if (!e->events)
      continue; /* forgotten: unwatched meanwhile */
    watcher->fn(watcher->ctx, e->events);
    worked = true;
  }
  batch = NULL;
  batch_len = batch_next = 0;
  return worked;
}

static void park(va_worker *w) {
  uint64_t until = va_clock_ns() + (w->watched ? 0 : SPIN_NS);
  do {
    for (int i = 0; i < 256; i++) {
      if (!va__mpsc_empty(&w->inbox))
        return;
      _mm_pause();
    }
  } while (va_clock_ns() < until);
  publish_quiet(w);
  va_store_relaxed(&w->sleeping, true);
  /* Pairs with the fence in va__worker_wake. */
  atomic_thread_fence(memory_order_seq_cst);
  if (!va__mpsc_empty(&w->inbox)) {
    va_store_relaxed(&w->sleeping, false);
    return;
  }
  int timeout = park_timeout_ms(w);
  va_store_relaxed(&w->sleeping, timeout != 0);
  poll_io(w, timeout);
  va_store_relaxed(&w->sleeping, false);
}

/* Deactivates every actor. Stop comes once the runtime was quiet, but a
 * timer or a reminder may have queued work since: nothing runs any more,
 * so the run queue is emptied and what waits in a mailbox is answered
 * VA_ESTOPPED before its actor goes. */
static void shutdown_worker(va_worker *w) {
  for (va_actor *a = w->run_head, *next; a; a = next) {
    next = a->run_next;
    a->scheduled = 0;
  }
  w->run_head = w->run_tail = NULL;
  while (w->idle.head) {
    va_actor *a = VA_CONTAINER_OF(w->idle.head, va_actor, idle);
    va__actor_fail_mailbox(w, a, VA_ESTOPPED);
    va__actor_deactivate(w, a);
  }
  w->shutdown = true;
}

void *va__worker_main(void *arg) {
  va_worker *w = arg;
  va__tl_worker = w;
  w->now_ms = va_clock_coarse_ms();
  arm_scan(w);
  if (w->index == 0) /* worker 0 looks for due reminders, from now on */
    arm_look(w, w->now_ms);
  /* After shutdown, the saves of the deactivate hooks still come back. */
  while (!w->shutdown || w->saving || w->loading) {
    w->now_ms = va_clock_coarse_ms();
    bool worked = drain_inbox(w);
    worked |= run_local(w);
    worked |= run_actors(w);
    /* Turns may have taken a while: a deadline that passed during them
     * wins over a reply they produced (still in the local queue). */
    w->now_ms = va_clock_coarse_ms();
    worked |= fire_timers(w);
    if (w->unarmed)
      arm_unarmed(w);
    if (w->watched) /* sockets: a look at each pass, without waiting */
      worked |= poll_io(w, 0);
    flush_outboxes(w);
    va__msg_cache_flush(&w->msgs);
    if (va_load_relaxed(&w->queued_pub) != w->queued)
      va_store_relaxed(&w->queued_pub, w->queued);
    if (!worked && !has_work(w))
      park(w);
  }
  flush_outboxes(w);
  publish_quiet(w);
  va__tl_worker = NULL;
  return NULL;
}

int va__worker_start(va_worker *w) {
  int rc = pthread_create(&w->thread, NULL, va__worker_main, w);
  return rc ? VA_ESYS : 0;
}

int va__worker_post_shutdown(va_worker *w) {
  va_msg *m = va__msg_alloc(NULL, 0, 0);
  if (!m)
    return VA_ENOMEM;
  m->kind = VA_MSG_CONTROL;
  m->control = VA_CONTROL_SHUTDOWN;
  va__worker_push(w, m);
  return 0;
}
