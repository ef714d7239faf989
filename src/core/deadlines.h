/* deadlines.h — call deadlines of one worker, in a FIFO list: O(1) to add,
 * remove and expire. Every call gets the same timeout, so deadlines arrive
 * in order, except for the skew between the clocks different threads cached
 * (a few ms). A deadline that arrives earlier than the last one queued is
 * moved up to it: it expires at most that skew late, and the list stays
 * sorted. A heap did the same job at O(log n) per call and showed up in the
 * P6 profile (see docs/architecture.md). Owner thread only. */
#ifndef VA_CORE_DEADLINES_H
#define VA_CORE_DEADLINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct va_deadline {
  struct va_deadline *prev, *next;
  uint64_t due_ms;
  bool armed;
} va_deadline;

typedef struct va_deadlines {
  va_deadline *head, *tail; /* earliest first */
} va_deadlines;

static inline void va__deadline_add(va_deadlines *l, va_deadline *d,
                                    uint64_t due_ms) {
  va_deadline *last = l->tail;
  d->due_ms = last && last->due_ms > due_ms ? last->due_ms : due_ms;
  d->armed = true;
  d->prev = last;
  d->next = NULL;
  if (last)
    last->next = d;
  else
    l->head = d;
  l->tail = d;
}

static inline void va__deadline_remove(va_deadlines *l, va_deadline *d) {
  if (!d->armed)
    return;
  if (d->prev)
    d->prev->next = d->next;
  else
    l->head = d->next;
  if (d->next)
    d->next->prev = d->prev;
  else
    l->tail = d->prev;
  d->prev = d->next = NULL;
  d->armed = false;
}

#endif
