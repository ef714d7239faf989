/* actor.c — activation and deactivation: actor blocks from per-type pools,
 * the directory, the state load on activation, the hooks, and the
 * least-recently-used list that idle deactivation walks. Owner thread only. */
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
    va__dlist_remove(&w->idle, &a->idle);
    va__dlist_append(&w->idle, &a->idle);
  }
}

/* ---- Activation ---- */

typedef struct load_ctx {
  va_actor *actor;
  bool done;
  int status;
} load_ctx;

static void on_loaded(void *arg, int status, const va_kv *items, size_t n,
                      uint64_t version) {
  load_ctx *ctx = arg;
  ctx->done = true;
  ctx->status = status;
  for (size_t i = 0; status == 0 && i < n; i++)
    ctx->status = va__kvmap_put(&ctx->actor->state, items[i].key,
                                items[i].val, items[i].len, false);
  ctx->actor->version = version;
}

static void release(va_worker *w, va_actor *a) {
  va__kvmap_clear(&a->state);
  if (a->id_len > VA_ID_INLINE)
    free(a->id);
  pool_put(w, a);
}

static int load_state(va_worker *w, va_actor *a) {
  va_runtime *rt = w->rt;
  load_ctx ctx = {a, false, 0};
  int rc = rt->store->ops->load(rt->store, rt->types[a->type].name, a->id,
                                a->id_len, on_loaded, &ctx);
  if (rc)
    return rc;
  /* The memory store answers before returning; stores that answer later
   * plug in with the asynchronous activation path of the durability work. */
  return ctx.done ? ctx.status : VA_ESTORE;
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
  a->life = VA_ACTOR_ACTIVE;
  a->last_used_ms = w->now_ms;
  va__dlist_append(&w->idle, &a->idle);
  int rc = load_state(w, a);
  if (rc == 0 && ty->on_activate)
    rc = va__run_hook(w, a, ty->on_activate);
  if (rc) {
    va__dir_remove(&w->dir, a);
    va__dlist_remove(&w->idle, &a->idle);
    release(w, a);
    *err = rc;
    return NULL;
  }
  va__count(w->stats.activations, 1);
  va__count(w->stats.active, 1);
  return a;
}

va_actor *va__actor_resolve(va_worker *w, va_msg *m, va_ref *ref, int *err) {
  /* Actor blocks are never unmapped while the runtime lives, so reading a
   * stale hint is safe; its gen tells whether it is still that actor. */
  va_actor *hint = m->hint;
  if (hint && hint->gen == m->hint_gen && hint->life == VA_ACTOR_ACTIVE)
    return hint;
  va_actor *a = va__dir_find(&w->dir, m->hash, m->type, va__msg_id(m),
                             m->id_len);
  if (!a && !(a = activate(w, m, err)))
    return NULL;
  if (ref) {
    va__store_relaxed(&ref->hint_actor, a);
    va__store_relaxed(&ref->hint_gen, a->gen);
  }
  return a;
}

void va__actor_deactivate(va_worker *w, va_actor *a) {
  const va_type *ty = &w->rt->types[a->type];
  if (ty->on_deactivate)
    (void)va__run_hook(w, a, ty->on_deactivate); /* the actor goes anyway */
  va__dir_remove(&w->dir, a);
  va__dlist_remove(&w->idle, &a->idle);
  release(w, a);
  va__count(w->stats.deactivations, 1);
  va__count(w->stats.active, (uint64_t)-1);
}
