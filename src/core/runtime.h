/* runtime.h — the runtime's internal types, shared by the files of
 * src/core/: the runtime, its workers, turns, pending calls and references.
 * Fields are grouped by which thread may touch them. */
#ifndef VA_CORE_RUNTIME_H
#define VA_CORE_RUNTIME_H

#include "../base/atomics.h"
#include "actor.h"
#include "deadlines.h"
#include "directory.h"
#include "msg.h"
#include "timerheap.h"
#include "vactor.h"
#include "vactor_route.h"
#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>

/* ---- Types ---- */

typedef struct va_type {
  char *name;
  va_method *methods; /* names owned */
  size_t n_methods;
  va_hook_fn on_activate, on_deactivate;
  va_reminder_fn on_reminder;
  size_t instance_size;
  size_t instance_offset; /* from the start of an actor block */
  size_t block_size;      /* actor + instance + inline id */
  unsigned flags;
  void *user; /* va_type_def.user, borrowed: va_turn_type_user() */
  /* Its idle timeout, when not the runtime's (0); any thread may set it
   * (va_type_set_idle_timeout), workers read it. */
  _Atomic uint64_t idle_timeout_ms;
} va_type;

/* ---- Pending calls ---- */

/* A call waiting for its reply, on the worker that will consume the reply:
 * the caller's worker for calls made in a turn, the callee's for external
 * calls (admitted there). Records live in per-worker pools that are freed
 * only with the runtime, so a late reply may always read seq to find out
 * that its record moved on. */
typedef struct va_pending {
  va_deadline deadline;
  uint64_t seq;  /* changes every time the record is reused */
  va_dlink link; /* the turn's list of calls */
  struct va_pending *next_free;
  struct va_turn *turn; /* caller turn; NULL for an external call */
  union {
    struct {
      va_cont_fn fn;
      void *user;
    } cont;
    struct {
      va_reply_fn fn;
      void *user;
    } callback;
  } u;
} va_pending;

/* ---- Turns ---- */

struct va_turn {
  struct va_worker *w;
  va_actor *actor;
  va_msg *req;   /* the request being handled (owned); NULL for hooks */
  va_msg *reply; /* reply body set with va_turn_reply (owned) */
  uint64_t chain;
  va_dlist calls; /* outstanding calls (va_pending.link) */
  uint32_t n_calls;
  int status;       /* first failure, else 0 */
  bool is_hook;     /* hooks may not call or send */
  bool last_fire;   /* in on_reminder: this fire is the last (reminders.c) */
  bool fire_failed; /* va_turn_reminder_failed was called */
  va_kvmap writes;  /* buffered state writes */
  struct va_turn *older_open; /* the actor's open turn opened before this */
  struct va_turn *next_free;
};

/* ---- References ---- */

struct va_ref {
  va_runtime *rt;
  uint16_t type;
  uint64_t hash;
  /* Location hint: (actor, gen) is valid while actor->gen == gen. Written by
   * the owning worker when a send through the ref is delivered on it, and
   * copied into every message sent through the ref. Atomic because the copy
   * may race with the write; a torn pair fails the gen check at the owner,
   * since gens are never reused. */
  _Atomic(va_actor *) hint_actor;
  _Atomic uint64_t hint_gen;
  uint32_t id_len;
  char id[];
};

/* ---- Sockets on a worker's loop ----
 * Watched through the public API of vactor_loop.h (worker.c): a va_loop is
 * its worker; epoll's data points to the caller's va_loop_watcher. */

/* ---- Workers ---- */

/* Messages being batched for another worker's inbox. */
typedef struct va_outbox {
  va_msg *first, *last;
  uint32_t count, requests;
} va_outbox;

/* Actor blocks of one type on one worker. Blocks are never returned to
 * malloc before the runtime is freed, which keeps va_ref hints safe to
 * dereference; a deactivated actor's block is reused by the next
 * activation of that type. */
typedef struct va_actor_pool {
  va_actor *free; /* linked through run_next */
  void **chunks;
  size_t n_chunks;
  va_counter active; /* live activations of the type on this worker */
} va_actor_pool;

typedef struct va_worker_stats {
  va_counter active, activations, deactivations, turns, turns_failed, timeouts,
      deadlocks, backpressure, store_failures, reminders_fired, reminders_due;
} va_worker_stats;

/* What the heap's timers are embedded in. */
enum {
  VA_TIMER_SCAN = 1,
  VA_TIMER_ACTOR,
  VA_TIMER_LOOK,
  VA_TIMER_REMINDER,
  VA_TIMER_REROUTE, /* messages to place again (route.c) */
  VA_TIMER_MOVE,    /* the next few actors to send away (route.c) */
};

/* The runtime's own methods, past any type's (reminders.c). */
enum {
  VA_METHOD_REMINDER = 0xffff, /* fire */
  VA_METHOD_REMINDER_SET = 0xfffe,
  VA_METHOD_REMINDER_GET = 0xfffd,
  VA_METHOD_REMINDER_DELETE = 0xfffc,
  VA_METHOD_REMINDER_LIST = 0xfffb,
  VA_METHOD_STATE_READ = 0xfffa, /* outside.c */
  VA_METHOD_STATE_WRITE = 0xfff9,
  VA_METHOD_TIMER = 0xfff8,
  VA_METHOD_REMINDER_CREATE = 0xfff7, /* SET, only when there is none */
  VA_METHOD_SYSTEM = 0xfff7,          /* the lowest of them */
};

/* Flags of a request (va_msg.control). */
enum {
  VA_REQ_FROM_TIMER = 1, /* its turn does not count as use */
  /* Bits 1-2: how many nodes it crossed (vactor_route.h). */
  VA_REQ_HOPS_SHIFT = 1,
  VA_REQ_HOPS_MASK = 3 << VA_REQ_HOPS_SHIFT,
};

typedef struct va_actor_timer va_actor_timer;

/* What a VA_MSG_CONTROL message asks of a worker. */
enum {
  VA_CONTROL_SHUTDOWN = 1,
  VA_CONTROL_LOADED,    /* a state load is back (persist.c) */
  VA_CONTROL_SAVED,     /* a save is back (persist.c) */
  VA_CONTROL_REMINDERS, /* the store's due reminders are back */
  VA_CONTROL_RUN,       /* run a function on the worker (va__run_on) */
};

typedef struct va_worker {
  /* Set before the thread starts, then read-only. */
  va_runtime *rt;
  unsigned index;
  pthread_t thread;
  int epfd, evfd;

  /* Owner thread only. */
  va_directory dir;
  va_actor *run_head, *run_tail;   /* actors with runnable messages */
  va_msg *local_head, *local_tail; /* replies produced on this worker */
  va_outbox *outbox;               /* one per worker */
  bool outbox_dirty;
  va_timerheap timers; /* idle scan, reminder look, actor timers, early fires */
  va_deadlines deadlines; /* of pending calls */
  va_dlist idle;          /* actors, least recently used first */
  va_timer scan_timer;
  va_timer look_timer; /* worker 0: asks the store for due reminders */
  va_msg_cache msgs;
  va_pending *free_pending;
  va_turn *free_turns;
  va_actor_pool *pools; /* one per type */
  uint64_t now_ms;
  uint64_t next_gen;
  uint64_t next_chain;
  uint32_t open_turns;   /* turns started and not finished */
  uint32_t live_pending; /* pending records in use */
  uint32_t loading;      /* state loads in flight */
  uint32_t saving;       /* saves in flight */
  uint32_t held;         /* turns whose replies wait for a save */
  uint32_t watched;      /* file descriptors on the loop besides evfd */
  uint64_t queued;       /* messages in mailboxes */
  bool shutdown;
  bool looking;        /* worker 0: a look for due reminders is out */
  uint64_t fire_ms;    /* the heap ms whose fire slots are given out */
  uint32_t fires_used; /* ... and how many of them are taken */
  unsigned unarmed;    /* own timers to arm again (worker.c) */
  bool yield;          /* end the running actor's batch after this turn */
  va_actor *running;   /* the actor va__actor_run is running, or NULL */
  /* Messages whose actor another node held (route.c), placed again when
   * reroute_timer fires; linked through node.next. */
  va_msg *reroute_head, *reroute_tail;
  va_timer reroute_timer;
  va_timer move_timer; /* sends misplaced or all actors away (route.c) */
  uint8_t moving;      /* 0, or what move_timer does: VA_MOVE_* */
  uint64_t evictions;  /* eviction steps begun here: a load older than the
                          last one may have claimed as an old incarnation */

  /* Written by the owner, read by the thread that stops the runtime. */
  va_worker_stats stats;
  _Atomic uint64_t posted_out; /* messages pushed to other inboxes */
  _Atomic uint64_t taken_in;   /* messages popped from our inbox */
  _Atomic bool quiet;          /* no work left as of the last check */

  /* Written by any thread. */
  alignas(64) va_mpsc inbox;
  _Atomic uint64_t inbox_len; /* requests in the inbox, for backpressure:
                                 replies and control messages are owed,
                                 never refused, so they do not count */
  /* Written by the owner once per pass: messages waiting in its mailboxes.
   * With inbox_len, what a sender on another thread is held back by. */
  _Atomic uint64_t queued_pub;
  _Atomic bool sleeping; /* parked in epoll_wait; wake with evfd */
} va_worker;

/* ---- The runtime ---- */

typedef enum va_phase {
  VA_PHASE_NEW,
  VA_PHASE_RUNNING,
  VA_PHASE_STOPPING,
  VA_PHASE_STOPPED,
} va_phase;

struct va_runtime {
  va_config cfg;
  va_type *types;
  size_t n_types;
  va_worker **workers;
  unsigned n_workers;
  va_msg_cache **caches;  /* each worker's message cache, by index */
  struct va_store *store; /* owned */
  _Atomic int phase;
  _Atomic uint64_t min_idle_ms;     /* the shortest idle timeout of any type */
  _Atomic uint64_t external_posted; /* inbox pushes by non-worker threads */
  _Atomic uint32_t entering;        /* external calls between check and post */
  _Atomic uint64_t next_chain;
  _Atomic int64_t reminders_seen_until; /* wall ms the store was asked to */
  char *node;                           /* cfg.node, copied; NULL: one node */
  uint64_t chain_salt; /* with a node: mixed into call chains (dispatch.c) */
  va_router router;    /* route.c; router.place NULL: every actor is here */
  void *router_user;   /* passed to the router */
  _Atomic uint64_t fence_until; /* va_runtime_fence: no turn starts from
                                   this monotonic ms; UINT64_MAX: none */
  _Atomic uint64_t moved;       /* activations rebalanced or evicted */
  _Atomic uint64_t evict_steps; /* first eviction steps done (route.c) */
  bool store_claims;            /* the store is PostgreSQL's (claims) */
  _Atomic bool draining;        /* va_runtime_drain */
  _Atomic unsigned looks;       /* va_actor_list/inspect under way */
  pthread_mutex_t stop_lock;
};

/* The worker running on this thread, or NULL. */
extern _Thread_local va_worker *va__tl_worker;

static inline va_worker *va__current_worker(const va_runtime *rt) {
  va_worker *w = va__tl_worker;
  return w && w->rt == rt ? w : NULL;
}

static inline unsigned va__worker_of(const va_runtime *rt, uint64_t hash) {
  /* High bits pick the worker, low bits the directory slot. */
  return (unsigned)(((hash >> 32) * rt->n_workers) >> 32);
}

uint64_t va__hash_id(uint16_t type, const char *id, size_t id_len);

/* ---- worker.c ---- */
int va__worker_new(va_runtime *rt, unsigned index, va_worker **out);
void va__worker_free(va_worker *w);
int va__worker_start(va_worker *w);
void *va__worker_main(void *arg);
/* Any thread: pushes m to w's inbox and wakes w if it sleeps. */
void va__worker_push(va_worker *w, va_msg *m);
/* Any thread: hands control message m to w (its local queue when on w). */
void va__worker_post(va_worker *w, va_msg *m);
/* Any thread: runs fn(ctx, worker) on worker `index`'s thread, soon; as
 * va_loop_run (vactor_loop.h), with the same errors (fn then never runs). */
int va__run_on(va_runtime *rt, unsigned index,
               void (*fn)(void *ctx, va_worker *w), void *ctx);
/* Owner (through va__run_on): arms the idle scan again, for a new
 * shortest idle timeout. */
void va__worker_rearm_scan(void *ctx, va_worker *w);
/* Owner: queues m for another worker, flushed at the end of this pass. */
void va__worker_outbox_add(va_worker *self, unsigned dst, va_msg *m);
void va__worker_wake(va_worker *w);
/* Any thread: asks w to deactivate its actors and leave its loop. */
int va__worker_post_shutdown(va_worker *w);
/* Owner: puts a on the run queue if it is not there. */
void va__worker_schedule(va_worker *w, va_actor *a);
/* Owner: takes a (scheduled, and not the actor being run) off the run
 * queue, before it is freed. O(run queue): for the rare removal of an
 * actor whose activation failed with messages queued. */
void va__worker_unschedule(va_worker *w, va_actor *a);
/* Owner: queues a reply produced on this worker for itself. */
void va__worker_local_add(va_worker *w, va_msg *m);

/* ---- actor.c ---- */
/* Owner: the live activation for m's target, activating it if needed.
 * NULL with *err set when activation fails. When ref is given (the sender
 * runs on this worker), its location hint is refreshed. */
va_actor *va__actor_resolve(va_worker *w, va_msg *m, va_ref *ref, int *err);
/* Owner: runs the deactivate hook and releases the activation (once the
 * hook's save, if any, is back). */
void va__actor_deactivate(va_worker *w, va_actor *a);
/* Owner: a closing actor's last save is back: release it, or bring it back
 * if messages came meanwhile. */
void va__actor_closed(va_worker *w, va_actor *a);
/* Owner: takes a out of the directory and frees it. was_active: it counted
 * as an active actor. */
void va__actor_remove(va_worker *w, va_actor *a, bool was_active);
/* Owner: answers every message waiting in a's mailbox with status. */
void va__actor_fail_mailbox(va_worker *w, va_actor *a, int status);
/* Owner: moves a to the most-recently-used end. */
void va__actor_touch(va_worker *w, va_actor *a);
void va__actor_pools_free(va_worker *w);
static inline void *va__actor_instance(const va_runtime *rt,
                                       const va_actor *a) {
  return (char *)a + rt->types[a->type].instance_offset;
}

/* ---- dispatch.c ---- */
/* Owner: a request arriving for an actor of this worker (from the inbox or
 * from a turn on this worker). Returns 0, or for a one-way send from this
 * worker VA_EBACKPRESSURE when refused (m is then freed). */
int va__deliver_request(va_worker *w, va_msg *m);
/* Owner: handles a reply message (frees it). */
void va__deliver_reply(va_worker *w, va_msg *m);
/* Any thread: routes m (a request) to the owning worker of its target.
 * ref, if m was sent through one, gets its hint refreshed when the target
 * lives on this thread. On failure m is freed and the code returned. */
int va__route_request(va_runtime *rt, va_msg *m, va_ref *ref);
/* Owner: sends the outcome of request m (status, reply body) to whoever
 * waits for it. Consumes reply (may be NULL); does not free m. */
void va__answer(va_worker *w, va_msg *m, int status, va_msg *reply);
/* Owner: a pending record for something turn t will wait for, with the
 * call timeout, linked to t's calls; NULL when out of memory. */
va_pending *va__turn_pending(va_turn *t, va_cont_fn cont, void *user);
/* Owner: a pending record's deadline passed. */
void va__pending_expired(va_worker *w, va_pending *p);
/* Owner: forgets a failed turn's outstanding calls. */
void va__pending_cancel_turn(va_worker *w, va_turn *t);
void va__pending_free_all(va_worker *w);

/* ---- timers.c ---- */
/* Owner: a VA_TIMER_ACTOR timer is due. */
void va__timers_fire(va_worker *w, va_timer *timer);
/* Owner: drops every timer of a (its activation ends). */
void va__timers_clear(va_worker *w, va_actor *a);
/* Owner: describes up to cap of a's timers in out (names borrowed from
 * the timers, due times on the wall clock); returns how many a has (out
 * may be NULL to count them). */
size_t va__timers_list(const va_worker *w, const va_actor *a,
                       va_timer_entry *out, size_t cap);

/* ---- reminders.c ---- */
/* Owner: runs a system method (fire, set, get, delete) as the turn t. */
int va__reminder_system(va_turn *t, uint16_t method, const char *body,
                        size_t len);
int va__reminder_fire(va_turn *t, const char *body, size_t len);
/* The fire turn of message fire failed: arms what a's reminder's failure
 * policy says (a retry, or a fire that moves its schedule on). */
void va__reminder_failed(va_worker *w, va_actor *a, const va_msg *fire);
/* Worker 0: asks the store for reminders due soon; the answer comes back as
 * a VA_CONTROL_REMINDERS message for va__reminders_seen. */
void va__reminders_look(va_worker *w);
void va__reminders_seen(va_worker *w, va_msg *m);
/* Owner: after a's writes went to the store, arms those of its reminders
 * the looks have already passed. */
void va__reminders_saved(va_worker *w, va_actor *a, const va_kvmap *writes);
/* Frees the early-fire timers left in w's heap (the runtime is going). */
void va__reminders_free_timers(va_worker *w);
uint64_t va__reminders_interval_ms(void);
/* Owner: a VA_TIMER_REMINDER (an early fire, waiting) is due. */
void va__reminders_timer(va_worker *w, va_timer *timer);
/* Whether key is a reminder's (the runtime's own) state key. */
bool va__reminder_key(const char *key);
/* Any thread: the next look asks the store again from the start of time
 * (a member left: its reminders may have been due for a while). */
void va__reminders_rescan(va_runtime *rt);

/* ---- outside.c ---- */
/* Runs a system method (state, timers, reminders) as the turn t. */
int va__system_method(va_turn *t, uint16_t method, const char *body,
                      size_t len);
/* Owner: runs system request m inside the open turn t of its actor (a
 * VA_TYPE_OPEN_STATE type), answers it and frees it. */
void va__system_join(va_worker *w, va_turn *t, va_msg *m);

/* ---- dispatch.c (system calls) ---- */
int va__call_system(va_runtime *rt, int type, const char *id, size_t id_len,
                    uint16_t method, const void *body, size_t len,
                    va_reply_fn cb, void *user);

/* ---- route.c ---- */
enum { VA_MOVE_REBALANCE = 1, VA_MOVE_EVICT = 2 };
/* Owner: with a router, takes m (admitted) when its actor is not active
 * here and placement puts it on another node: forwarded, or answered with
 * the router's refusal. false: m runs here. */
bool va__route_away(va_worker *w, va_msg *m);
/* Owner: queues m (or every message of a's mailbox) to be placed again
 * shortly, until its deadline: its actor is held by another node. */
void va__route_later(va_worker *w, va_msg *m);
void va__route_later_mailbox(va_worker *w, va_actor *a);
/* Owner: reroute_timer or move_timer fired. */
void va__route_timer(va_worker *w, va_timer *t);
/* Owner: whether turns may start now (va_runtime_fence). */
static inline bool va__route_may_run(const va_worker *w) {
  return w->now_ms < va_load_relaxed(&w->rt->fence_until);
}

/* ---- persist.c ---- */
/* Owner: starts loading a's state (a becomes LOADING); the activation ends
 * when the VA_CONTROL_LOADED message comes back. */
int va__persist_load(va_worker *w, va_actor *a, bool reload);
/* Owner: hands t's writes to the store and moves them into the cache. */
int va__persist_save(va_worker *w, va_turn *t);
/* Owner: true when t's reply must wait for a save (t is then kept). */
bool va__persist_hold(va_worker *w, va_turn *t);
/* Owner: handles a VA_CONTROL_LOADED or _SAVED message (frees it). */
void va__persist_control(va_worker *w, va_msg *m);
/* Owner: a broken actor with nothing in flight reloads its state. */
void va__persist_recover(va_worker *w, va_actor *a);

/* ---- turn.c ---- */
/* Owner: answers t's caller with status (t's reply when 0) and frees t. */
void va__turn_answer(va_worker *w, va_turn *t, int status);
/* Owner: runs a's mailbox as far as its turn discipline allows. */
void va__actor_run(va_worker *w, va_actor *a, unsigned budget);
/* Owner: continues t after a continuation returned rc. */
void va__turn_resume(va_worker *w, va_turn *t, int rc);
/* Owner: runs a hook turn (activate/deactivate); returns its status. */
int va__run_hook(va_worker *w, va_actor *a, va_hook_fn hook);
void va__turns_free(va_worker *w);

#endif
