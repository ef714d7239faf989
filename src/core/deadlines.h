/* deadlines.h — call deadlines of one worker, in a FIFO list: O(1) to add,
 * remove and expire. Every call gets the same timeout, so deadlines arrive
 * in order, except for the skew between the clocks different threads cached
 * (a few ms). A deadline that arrives earlier than the last one queued is
 * moved up to it: it expires at most that skew late, and the list stays
 * sorted. A heap did the same job at O(log n) per call and showed up in the
 * P6 profile (see docs/architecture.md). Owner thread only. */
#ifndef VA_CORE_DEADLINES_H
#define VA_CORE_DEADLINES_H

#include "../base/dlist.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct va_deadline {
  va_dlink link;
  uint64_t due_ms;
  bool armed;
} va_deadline;

/* Earliest first. */
typedef va_dlist va_deadlines;

static inline va_deadline *va__deadline_first(const va_deadlines *l) {
  return l->head ? VA_CONTAINER_OF(l->head, va_deadline, link) : NULL;
}

static inline void va__deadline_add(va_deadlines *l, va_deadline *d,
                                    uint64_t due_ms) {
  va_deadline *last =
      l->tail ? VA_CONTAINER_OF(l->tail, va_deadline, link) : NULL;
  d->due_ms = last && last->due_ms > due_ms ? last->due_ms : due_ms;
  d->armed = true;
  va_dlist_append(l, &d->link);
}

static inline void va__deadline_remove(va_deadlines *l, va_deadline *d) {
  if (d->armed) {
    va_dlist_remove(l, &d->link);
    d->armed = false;
  }
}

#endif
