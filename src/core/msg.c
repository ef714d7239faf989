/* msg.c — message allocation through per-worker free lists. */
#include "msg.h"
#include <stdlib.h>
#include <string.h>

static const uint32_t class_bytes[VA_MSG_CLASSES] = {128, 256, 512};
/* A worker keeps at most this many free blocks per class; the rest go back
 * to malloc, so a worker that only receives does not hoard memory. */
enum { CACHE_MAX = 8192 };

static uint8_t class_of(size_t bytes) {
  for (uint8_t c = 0; c < VA_MSG_CLASSES; c++)
    if (bytes <= class_bytes[c])
      return c;
  return VA_MSG_CLASS_NONE;
}

va_msg *va__msg_alloc(va_msg_cache *cache, uint32_t id_len, uint32_t len) {
  size_t bytes = sizeof(va_msg) + (size_t)id_len + len;
  uint8_t c = class_of(bytes);
  va_msg *m = NULL;
  if (c != VA_MSG_CLASS_NONE && cache && cache->free[c]) {
    m = (va_msg *)cache->free[c];
    cache->free[c] = va__load_relaxed(&m->node.next);
    cache->count[c]--;
  } else {
    m = malloc(c == VA_MSG_CLASS_NONE ? bytes : class_bytes[c]);
    if (!m)
      return NULL;
  }
  memset(m, 0, sizeof(*m));
  m->size_class = c;
  m->id_len = id_len;
  m->len = len;
  return m;
}

void va__msg_free(va_msg_cache *cache, va_msg *m) {
  uint8_t c = m->size_class;
  if (!cache || c == VA_MSG_CLASS_NONE || cache->count[c] >= CACHE_MAX) {
    free(m);
    return;
  }
  va__store_relaxed(&m->node.next, cache->free[c]);
  cache->free[c] = &m->node;
  cache->count[c]++;
}

void va__msg_cache_drain(va_msg_cache *cache) {
  for (int c = 0; c < VA_MSG_CLASSES; c++) {
    while (cache->free[c]) {
      va_qnode *n = cache->free[c];
      cache->free[c] = va__load_relaxed(&n->next);
      free(n);
    }
    cache->count[c] = 0;
  }
}
