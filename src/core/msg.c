/* msg.c — message allocation through per-worker caches (see msg.h). */
#include "msg.h"
#include "vactor.h"
#include <stdlib.h>
#include <string.h>

static const uint32_t class_bytes[VA_MSG_CLASSES] = {128, 256, 512};
enum {
  /* Free blocks a worker keeps per class; more go to free(). */
  CACHE_MAX = 16384,
  BATCH = 256, /* blocks sent home in one push */
};

static uint8_t class_of(size_t bytes) {
  for (uint8_t c = 0; c < VA_MSG_CLASSES; c++)
    if (bytes <= class_bytes[c])
      return c;
  return VA_MSG_CLASS_NONE;
}

int va__msg_cache_init(va_msg_cache *cache, unsigned index, unsigned n,
                       va_msg_cache **peers) {
  memset(cache, 0, sizeof(*cache));
  cache->outgoing = calloc((size_t)n * VA_MSG_CLASSES, sizeof(va_msg_batch));
  if (!cache->outgoing)
    return VA_ENOMEM;
  cache->owner = (uint16_t)(index + 1);
  cache->peers = peers;
  cache->n_peers = n;
  for (int c = 0; c < VA_MSG_CLASSES; c++)
    atomic_init(&cache->returned[c], NULL);
  return 0;
}

/* Makes the blocks sent home the (empty) free list of class c. The chain
 * is taken whole, not walked: its blocks are cold in this core's cache.
 * count[] only counts blocks freed here, which is all the cap needs. */
static void take_returned(va_msg_cache *cache, int c) {
  /* Acquire pairs with the release CAS in send_home: the blocks' links
   * written by the sender are visible. */
  cache->free[c] =
      atomic_exchange_explicit(&cache->returned[c], NULL, memory_order_acquire);
}

va_msg *va__msg_alloc(va_msg_cache *cache, uint32_t id_len, uint32_t len) {
  size_t bytes = sizeof(va_msg) + (size_t)id_len + len;
  uint8_t c = class_of(bytes);
  va_msg *m = NULL;
  if (c != VA_MSG_CLASS_NONE && cache) {
    if (!cache->free[c] && va_load_relaxed(&cache->returned[c]))
      take_returned(cache, c);
    if (cache->free[c]) {
      m = (va_msg *)cache->free[c];
      cache->free[c] = va_load_relaxed(&m->node.next);
      /* The next allocation will write the next block: fetch it now. */
      __builtin_prefetch(cache->free[c], 1);
      if (cache->count[c])
        cache->count[c]--;
    }
  }
  if (!m && !(m = malloc(c == VA_MSG_CLASS_NONE ? bytes : class_bytes[c])))
    return NULL;
  /* Copied from a zero template rather than memset: gcc turns both memset
   * and a compound literal into `rep stos`, which costs ~30 cycles to
   * start; a struct copy becomes a few vector moves. */
  static const va_msg zero;
  *m = zero;
  m->size_class = c;
  m->origin = c != VA_MSG_CLASS_NONE && cache ? cache->owner : 0;
  m->id_len = id_len;
  m->len = len;
  return m;
}

static void send_home(va_msg_cache *cache, va_msg_batch *b, unsigned origin,
                      int c) {
  _Atomic(va_qnode *) *top = &cache->peers[origin]->returned[c];
  va_qnode *old = va_load_relaxed(top);
  do
    va_store_relaxed(&b->last->next, old);
  while (!atomic_compare_exchange_weak_explicit(
      top, &old, b->first, memory_order_release, memory_order_relaxed));
  *b = (va_msg_batch){0};
}

void va__msg_free(va_msg_cache *cache, va_msg *m) {
  uint8_t c = m->size_class;
  if (!cache || !m->origin || c == VA_MSG_CLASS_NONE) {
    free(m);
    return;
  }
  if (m->origin != cache->owner) {
    unsigned origin = m->origin - 1u;
    va_msg_batch *b = &cache->outgoing[origin * VA_MSG_CLASSES + c];
    va_store_relaxed(&m->node.next, b->first);
    b->first = &m->node;
    if (!b->last)
      b->last = &m->node;
    if (++b->count >= BATCH)
      send_home(cache, b, origin, c);
    return;
  }
  if (cache->count[c] >= CACHE_MAX) {
    free(m);
    return;
  }
  va_store_relaxed(&m->node.next, cache->free[c]);
  cache->free[c] = &m->node;
  cache->count[c]++;
}

void va__msg_cache_flush(va_msg_cache *cache) {
  for (unsigned i = 0; i < cache->n_peers * VA_MSG_CLASSES; i++)
    if (cache->outgoing[i].count)
      send_home(cache, &cache->outgoing[i], i / VA_MSG_CLASSES,
                (int)(i % VA_MSG_CLASSES));
}

static void free_chain(va_qnode *n) {
  while (n) {
    va_qnode *next = va_load_relaxed(&n->next);
    free(n);
    n = next;
  }
}

void va__msg_cache_drain(va_msg_cache *cache) {
  for (unsigned i = 0; cache->outgoing && i < cache->n_peers * VA_MSG_CLASSES;
       i++) {
    va_msg_batch *b = &cache->outgoing[i];
    if (b->last)
      va_store_relaxed(&b->last->next, NULL);
    free_chain(b->first);
  }
  free(cache->outgoing);
  cache->outgoing = NULL;
  for (int c = 0; c < VA_MSG_CLASSES; c++) {
    free_chain(cache->free[c]);
    cache->free[c] = NULL;
    cache->count[c] = 0;
    free_chain(atomic_exchange(&cache->returned[c], NULL));
  }
}
