/* actor.c — activation and deactivation: actor blocks from per-type pools,
 * the directory, the state load on activation, the hooks, and the
 * least-recently-used list that idle deactivation walks. Owner thread only. */
#include "../base/assert.h"
#include "../store/store.h"
#include "runtime.h"
#include <stdlib.h>
#include <string.h>

enum { BLOCKS_PER_CHUNK = 256 };

/* ---- Pools ---- */

static va_actor *pool_take(va_worker *w, uint16_t type) {
  va_actor_pool *pool = &w->pools[type];
  size_t block = w->rt->types[type].block_size;
  if (!pool->free) {
    void **chunks =
        realloc(pool->chunks, (pool->n_chunks + 1) * sizeof(*chunks));
    if (!chunks)
      return NULL;
    pool->chunks = chunks;
    char *chunk = malloc(block * BLOCKS_PER_CHUNK);
    if (!chunk)
      return NULL;
    chunks[pool->n_chunks++] = chunk;
    for (size_t i = BLOCKS_PER_CHUNK; i-- > 0;) {
      va_actor *a = (va_actor *)(chunk + i * block);
      a->gen = 0;
      a->life = VA_ACTOR_FREE;
      a->run_next = pool->free;
      pool->free = a;
    }
  }
  va_actor *a = pool->free;
  pool->free = a->run_next;
  /* gen survives in the block: a stale va_ref hint must keep failing. */
  uint64_t gen = a->gen;
  memset(a, 0, block);
  a->gen = gen;
  return a;
}

static void pool_put(va_worker *w, va_actor *a) {
  va_actor_pool *pool = &w->pools[a->type];
  /* Only an actor with nothing open, queued or on its way to the store. */
  VA_ASSERT(a->depth == 0 && !a->open_turn && a->unsaved == 0);
  VA_ASSERT(!a->mbox_head && a->mbox_len == 0 && !a->scheduled);
  a->life = VA_ACTOR_FREE;
  a->run_next = pool->free;
  pool->free = a;
}

void va__actor_pools_free(va_worker *w) {
  for (size_t t = 0; t < w->rt->n_types; t++) {
    for (size_t c = 0; c < w->pools[t].n_chunks; c++)
      free(w->pools[t].chunks[c]);
    free(w->pools[t].chunks);
  }
  free(w->pools);
  w->pools = NULL;
}

/* ---- LRU list ---- */

void va__actor_touch(va_worker *w, va_actor *a) {
  a->last_used_ms = w->now_ms;
  if (w->idle.tail != &a->idle) {
    va_dlist_remove(&w->idle, &a->idle);
    va_dlist_append(&w->idle, &a->idle);
  }
}

/* ---- Activation ---- */

static void release(va_worker *w, va_actor *a) {
  va__timers_clear(w, a);
  va__kvmap_clear(&a->state);
  if (a->id_len > VA_ID_INLINE)
    free(a->id);
  pool_put(w, a);
}

static va_actor *activate(va_worker *w, const va_msg *m, int *err) {
  va_runtime *rt = w->rt;
  const va_type *ty = &rt->types[m->type];
  va_actor *a = pool_take(w, m->type);
  if (!a) {
    *err = VA_ENOMEM;
    return NULL;
  }
  a->type = m->type;
  a->hash = m->hash;
  a->gen = ++w->next_gen;
  a->id_len = m->id_len;
  a->id = m->id_len > VA_ID_INLINE ? malloc(m->id_len)
                                   : (char *)a + ty->block_size - VA_ID_INLINE;
  if (!a->id || va__dir_insert(&w->dir, a) != 0) {
    *err = VA_ENOMEM;
    if (a->id_len > VA_ID_INLINE)
      free(a->id);
    a->id_len = 0;
    pool_put(w, a);
    return NULL;
  }
  memcpy(a->id, va__msg_id(m), m->id_len);
  a->last_used_ms = w->now_ms;
  va_dlist_append(&w->idle, &a->idle);
  /* Messages wait in the mailbox until the state is back (persist.c). */
  int rc = va__persist_load(w, a, false);
  if (rc) {
    va__dir_remove(&w->dir, a);
    va_dlist_remove(&w->idle, &a->idle);
    release(w, a);
    *err = rc;
    return NULL;
  }
  return a;
}

va_actor *va__actor_resolve(va_worker *w, va_msg *m, va_ref *ref, int *err) {
  /* Actor blocks are never unmapped while the runtime lives, so reading a
   * stale hint is safe; its gen tells whether it is still that actor. */
  va_actor *hint = m->hint;
  if (hint && hint->gen == m->hint_gen && hint->life != VA_ACTOR_FREE)
    return hint;
  va_actor *a =
      va__dir_find(&w->dir, m->hash, m->type, va__msg_id(m), m->id_len);
  if (!a && w->shutdown) {
    /* Stopping: the actors were deactivated, and one activated now would
     * outlive the worker (a late reminder fire, say). */
    *err = VA_ESTOPPED;
    return NULL;
  }
  if (!a && !(a = activate(w, m, err)))
    return NULL;
  if (ref) {
    va_store_relaxed(&ref->hint_actor, a);
    va_store_relaxed(&ref->hint_gen, a->gen);
  }
  return a;
}

/* Gives up a's claim in the store (store.h, Ownership), so that the node
 * it is placed on next may claim it at once; a claim not given up is
 * taken over once this node's lease runs out. Only after its last save:
 * a release must not overtake a write. */
static void release_claim(va_worker *w, const va_actor *a) {
  va_store *store = w->rt->store;
  VA_ASSERT(a->unsaved == 0);
  if (a->epoch && !a->fenced && store->ops->release)
    (void)store->ops->release(store, w->rt->types[a->type].name, a->id,
                              a->id_len, a->epoch, NULL, NULL);
}

void va__actor_remove(va_worker *w, va_actor *a, bool was_active) {
  /* Queued while its activation was on the way (a failed one ends here):
   * off the run queue before its block goes back to the pool. */
  if (a->scheduled)
    va__worker_unschedule(w, a);
  release_claim(w, a);
  va__dir_remove(&w->dir, a);
  if (a->life != VA_ACTOR_CLOSING)
    va_dlist_remove(&w->idle, &a->idle);
  release(w, a);
  if (was_active) {
    va_count(w->stats.deactivations, 1);
    va_count(w->stats.active, (uint64_t)-1);
    va_count(w->pools[a->type].active, (uint64_t)-1);
  }
}

void va__actor_deactivate(va_worker *w, va_actor *a) {
  const va_type *ty = &w->rt->types[a->type];
  /* Only an activation gets the hook: an actor still loading has no state
   * yet (its load, when it comes back, is dropped: persist.c). */
  if (ty->on_deactivate && a->life == VA_ACTOR_ACTIVE)
    (void)va__run_hook(w, a, ty->on_deactivate); /* the actor goes anyway */
  va__timers_clear(w, a); /* timers die with the activation */
  if (a->unsaved == 0) {
    va__actor_remove(w, a, true);
    return;
  }
  /* The hook's state is on its way to the store. The actor stays in the
   * directory until it is there, so that a message for it waits instead of
   * activating a copy that would load the state from before the hook. */
  va_dlist_remove(&w->idle, &a->idle);
  a->life = VA_ACTOR_CLOSING;
}

void va__actor_closed(va_worker *w, va_actor *a) {
  if (a->leaving) /* sent away (route.c): what came meanwhile follows */
    va__route_later_mailbox(w, a);
  if (!a->mbox_head) {
    va__actor_remove(w, a, true);
    return;
  }
  /* Messages came while it closed: this is a new activation, from the
   * state just saved. */
  a->life = VA_ACTOR_ACTIVE;
  a->last_used_ms = w->now_ms;
  va_dlist_append(&w->idle, &a->idle);
  const va_type *ty = &w->rt->types[a->type];
  int rc = ty->on_activate ? va__run_hook(w, a, ty->on_activate) : 0;
  if (rc) {
    va__actor_fail_mailbox(w, a, rc);
    va__actor_deactivate(w, a);
    return;
  }
  va__worker_schedule(w, a);
}

void va__actor_fail_mailbox(va_worker *w, va_actor *a, int status) {
  while (a->mbox_head) {
    va_msg *m = a->mbox_head;
    a->mbox_head = (va_msg *)va_load_relaxed(&m->node.next);
    VA_ASSERT(a->mbox_len > 0 && w->queued > 0);
    a->mbox_len--;
    w->queued--;
    va__answer(w, m, status, NULL);
    va__msg_free(&w->msgs, m);
  }
  a->mbox_tail = NULL;
}
