/* timerheap.c — see timerheap.h. */
#include "timerheap.h"
#include "vactor.h"
#include <stdlib.h>

static void place(va_timerheap *h, uint32_t i, va_timer *t) {
  h->items[i] = t;
  t->index = i;
}

static void sift_up(va_timerheap *h, uint32_t i) {
  va_timer *t = h->items[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (h->items[parent]->due_ms <= t->due_ms)
      break;
    place(h, i, h->items[parent]);
    i = parent;
  }
  place(h, i, t);
}

static void sift_down(va_timerheap *h, uint32_t i) {
  va_timer *t = h->items[i];
  for (;;) {
    uint32_t child = 2 * i + 1;
    if (child >= h->n)
      break;
    if (child + 1 < h->n &&
        h->items[child + 1]->due_ms < h->items[child]->due_ms)
      child++;
    if (t->due_ms <= h->items[child]->due_ms)
      break;
    place(h, i, h->items[child]);
    i = child;
  }
  place(h, i, t);
}

int va__heap_reserve(va_timerheap *h, uint32_t n) {
  if (n <= h->cap)
    return 0;
  va_timer **items = realloc(h->items, n * sizeof(*items));
  if (!items)
    return VA_ENOMEM;
  h->items = items;
  h->cap = n;
  return 0;
}

int va__heap_push(va_timerheap *h, va_timer *t, uint64_t due_ms) {
  if (h->n == h->cap && h->cap > UINT32_MAX / 2)
    return VA_ENOMEM;
  if (h->n == h->cap && va__heap_reserve(h, h->cap ? h->cap * 2 : 64) != 0)
    return VA_ENOMEM;
  t->due_ms = due_ms;
  place(h, h->n++, t);
  sift_up(h, t->index);
  return 0;
}

void va__heap_remove(va_timerheap *h, va_timer *t) {
  if (!va__timer_armed(t))
    return;
  uint32_t i = t->index;
  t->index = VA_TIMER_IDLE;
  if (i == --h->n)
    return;
  va_timer *moved = h->items[h->n];
  place(h, i, moved);
  /* The moved timer may belong below or above its new place. */
  sift_down(h, i);
  sift_up(h, moved->index);
}

void va__heap_free(va_timerheap *h) {
  free(h->items);
  *h = (va_timerheap){0};
}
