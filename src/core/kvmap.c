/* kvmap.c — see kvmap.h. */
#include "kvmap.h"
#include "../base/assert.h"
#include "vactor.h"
#include <stdlib.h>
#include <string.h>

va_kv *va__kvmap_find(const va_kvmap *m, const char *key) {
  for (uint32_t i = 0; i < m->n; i++)
    if (strcmp(m->items[i].key, key) == 0)
      return &m->items[i];
  return NULL;
}

void va__kvmap_remove(va_kvmap *m, const char *key) {
  va_kv *e = va__kvmap_find(m, key);
  if (!e)
    return;
  free(e->key);
  free(e->val);
  size_t after = (size_t)(m->items + m->n - (e + 1));
  memmove(e, e + 1, after * sizeof(*e));
  m->n--;
}

static int reserve_one(va_kvmap *m) {
  if (m->n < m->cap)
    return 0;
  uint32_t cap = m->cap ? m->cap * 2 : 4;
  va_kv *items = realloc(m->items, cap * sizeof(*items));
  if (!items)
    return VA_ENOMEM;
  m->items = items;
  m->cap = cap;
  return 0;
}

/* Replaces e's value with the buffer val (owned) of length len. */
static void set_value(va_kv *e, void *val, uint32_t len, bool tomb,
                      int64_t expires_ms) {
  free(e->val);
  e->val = val;
  e->len = len;
  e->tomb = tomb;
  e->expires_ms = expires_ms;
}

int va__kvmap_put(va_kvmap *m, const char *key, const void *val, size_t len,
                  bool tomb) {
  if (len > UINT32_MAX)
    return VA_ETOOBIG;
  void *copy = NULL;
  if (!tomb && len) {
    if (!(copy = malloc(len)))
      return VA_ENOMEM;
    memcpy(copy, val, len);
  }
  va_kv *e = va__kvmap_find(m, key);
  if (e) {
    set_value(e, copy, (uint32_t)len, tomb, 0);
    return 0;
  }
  char *kcopy = strdup(key);
  if (!kcopy || reserve_one(m) != 0) {
    free(kcopy);
    free(copy);
    return VA_ENOMEM;
  }
  m->items[m->n++] =
      (va_kv){.key = kcopy, .val = copy, .len = (uint32_t)len, .tomb = tomb};
  return 0;
}

int va__kvmap_reserve(va_kvmap *m, uint32_t n) {
  if (n > UINT32_MAX - m->n)
    return VA_ETOOBIG;
  if (m->n + n <= m->cap)
    return 0;
  va_kv *items = realloc(m->items, (m->n + n) * sizeof(*items));
  if (!items)
    return VA_ENOMEM;
  m->items = items;
  m->cap = m->n + n;
  return 0;
}

static void remove_at(va_kvmap *m, uint32_t i) {
  free(m->items[i].key);
  free(m->items[i].val);
  m->items[i] = m->items[--m->n];
}

int va__kvmap_apply(va_kvmap *m, va_kvmap *ws) {
  /* Reserve first so that the moves below cannot fail half way. */
  int rc = va__kvmap_reserve(m, ws->n);
  if (rc)
    return rc;
  for (uint32_t i = 0; i < ws->n; i++) {
    va_kv *w = &ws->items[i];
    va_kv *e = va__kvmap_find(m, w->key);
    if (w->tomb) {
      if (e)
        remove_at(m, (uint32_t)(e - m->items));
      free(w->key);
      free(w->val);
    } else if (e) {
      set_value(e, w->val, w->len, false, w->expires_ms);
      free(w->key);
    } else {
      VA_ASSERT(m->n < m->cap); /* reserved above */
      m->items[m->n++] = *w;
    }
  }
  ws->n = 0;
  return 0;
}

void va__kvmap_clear(va_kvmap *m) {
  for (uint32_t i = 0; i < m->n; i++) {
    free(m->items[i].key);
    free(m->items[i].val);
  }
  free(m->items);
  *m = (va_kvmap){0};
}
