/* timerheap.h — a binary min-heap of deadlines, owned by one worker. Timers
 * are intrusive (embedded in the record that waits) and know their index,
 * so cancelling one is O(log n) with no search. */
#ifndef VA_CORE_TIMERHEAP_H
#define VA_CORE_TIMERHEAP_H

#include <stdbool.h>
#include <stdint.h>

#define VA_TIMER_IDLE UINT32_MAX

typedef struct va_timer {
  uint64_t due_ms;
  uint32_t index; /* position in the heap, VA_TIMER_IDLE when not in it */
  uint8_t kind;   /* what the owner embedded this timer in */
} va_timer;

typedef struct va_timerheap {
  va_timer **items;
  uint32_t n, cap;
} va_timerheap;

static inline bool va__timer_armed(const va_timer *t) {
  return t->index != VA_TIMER_IDLE;
}

/* Makes room for n timers in all, so that pushes up to n never allocate
 * (the heap never gives room back). 0 or VA_ENOMEM. */
int va__heap_reserve(va_timerheap *h, uint32_t n);
/* Inserts t (not armed) due at due_ms. 0 or VA_ENOMEM (only when the heap
 * holds more timers than it ever reserved or held). */
int va__heap_push(va_timerheap *h, va_timer *t, uint64_t due_ms);
/* Removes t if armed. */
void va__heap_remove(va_timerheap *h, va_timer *t);
/* The earliest timer, or NULL. */
static inline va_timer *va__heap_peek(const va_timerheap *h) {
  return h->n ? h->items[0] : 0;
}
void va__heap_free(va_timerheap *h);

#endif
