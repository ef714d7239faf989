/* id_page.h — one page of an actor listing: from ids offered in any order
 * (a worker's directory, a store's rows), keeps the `cap` smallest, in
 * byte order, that sort after the cursor and begin with the prefix. An id
 * offered twice is kept once, its flags merged, so the sources of a
 * listing (the live activations, the stored state) can be poured into one
 * page. Insertion into a sorted array: O(cap) per id kept, O(log cap) per
 * id refused; cap is a page's size (a thousand at most), ids are short.
 * Not thread-safe: one owner at a time. */
#ifndef VA_BASE_ID_PAGE_H
#define VA_BASE_ID_PAGE_H

#include "vactor.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct va_id_entry {
  char *id; /* owned copy, NUL-terminated after len bytes */
  uint32_t len;
  uint32_t flags; /* the caller's bits, OR-ed over the offers of the id */
  char *node;     /* owned copy or NULL: the first offer's that had one */
} va_id_entry;

typedef struct va_id_page {
  /* Set by the caller, borrowed: the cursor (ids <= after are refused;
   * after_len 0: none) and the prefix every id must begin with. */
  const char *after, *prefix;
  size_t after_len, prefix_len;
  size_t cap;         /* how many ids the page keeps, >= 1 */
  va_id_entry *items; /* sorted, n of them (owned) */
  size_t n;
} va_id_page;

/* memcmp order, a proper prefix first. */
static inline int va_id_cmp(const char *a, size_t alen, const char *b,
                            size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);
  return c ? c : (alen > blen) - (alen < blen);
}

/* Where id is, or would go, in p->items; *found whether it is there. */
static inline size_t va_id_page_find(const va_id_page *p, const char *id,
                                     size_t len, bool *found) {
  size_t lo = 0, hi = p->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = va_id_cmp(p->items[mid].id, p->items[mid].len, id, len);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = false;
  return lo;
}

/* The bounds of a listing's range in a store's ordered index, so that a
 * query reads only the ids it may answer with. */

/* The lowest id wanted (the range includes it), into out (room for
 * max(after_len + 1, prefix_len) bytes): after's successor (after and a
 * 0 byte, the first id greater) or the prefix, the greater. Its length. */
static inline size_t va_id_range_from(const char *after, size_t after_len,
                                      const char *prefix, size_t prefix_len,
                                      char *out) {
  if (after_len &&
      (!prefix_len || va_id_cmp(after, after_len, prefix, prefix_len) >= 0)) {
    memcpy(out, after, after_len);
    out[after_len] = 0;
    return after_len + 1;
  }
  if (prefix_len)
    memcpy(out, prefix, prefix_len);
  return prefix_len;
}

/* The first id past those that begin with prefix (the range excludes it),
 * into out (room for prefix_len bytes): prefix without its trailing 0xff
 * bytes, its last byte plus one. Its length; 0 when there is none (an
 * empty prefix, or all 0xff: the range is open at the top). */
static inline size_t va_id_range_below(const char *prefix, size_t len,
                                       char *out) {
  while (len && (unsigned char)prefix[len - 1] == 0xff)
    len--;
  if (len) {
    memcpy(out, prefix, len);
    out[len - 1] = (char)((unsigned char)out[len - 1] + 1);
  }
  return len;
}

static inline void va_id_entry_free(va_id_entry *e) {
  free(e->id);
  free(e->node);
}

/* Offers id (flags, node: NULL for none; both copied). 0, or VA_ENOMEM
 * (the page is then as it was). */
static inline int va_id_page_offer(va_id_page *p, const char *id, size_t len,
                                   uint32_t flags, const char *node) {
  if (len > UINT32_MAX || len < p->prefix_len ||
      memcmp(id, p->prefix, p->prefix_len) ||
      (p->after_len && va_id_cmp(id, len, p->after, p->after_len) <= 0))
    return 0;
  bool found;
  size_t at = va_id_page_find(p, id, len, &found);
  if (found) {
    va_id_entry *e = &p->items[at];
    e->flags |= flags;
    if (node && !e->node && !(e->node = strdup(node)))
      return VA_ENOMEM;
    return 0;
  }
  if (at >= p->cap)
    return 0; /* past the page */
  if (!p->items && !(p->items = calloc(p->cap, sizeof(*p->items))))
    return VA_ENOMEM;
  va_id_entry e = {malloc(len + 1), (uint32_t)len, flags,
                   node ? strdup(node) : NULL};
  if (!e.id || (node && !e.node)) {
    va_id_entry_free(&e);
    return VA_ENOMEM;
  }
  memcpy(e.id, id, len);
  e.id[len] = '\0';
  if (p->n == p->cap) /* full: the largest falls off */
    va_id_entry_free(&p->items[--p->n]);
  memmove(&p->items[at + 1], &p->items[at], (p->n - at) * sizeof(e));
  p->items[at] = e;
  p->n++;
  return 0;
}

static inline void va_id_page_free(va_id_page *p) {
  for (size_t i = 0; i < p->n; i++)
    va_id_entry_free(&p->items[i]);
  free(p->items);
  p->items = NULL;
  p->n = 0;
}

#endif
