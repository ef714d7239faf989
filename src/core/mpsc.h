/* mpsc.h — intrusive multi-producer single-consumer queue (Vyukov's
 * non-blocking list with a stub node). A worker's inbox: any thread pushes,
 * only the owning worker pops. Producers may push a whole pre-linked chain
 * with one atomic exchange, which is how batches cross threads. */
#ifndef VA_CORE_MPSC_H
#define VA_CORE_MPSC_H

#include "../base/atomics.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct va_qnode {
  _Atomic(struct va_qnode *) next;
} va_qnode;

typedef struct va_mpsc {
  _Atomic(va_qnode *) head; /* last pushed node; producers swap it */
  va_qnode *tail;           /* next node to pop; consumer only */
  va_qnode stub;
} va_mpsc;

static inline void va__mpsc_init(va_mpsc *q) {
  atomic_init(&q->stub.next, NULL);
  atomic_init(&q->head, &q->stub);
  q->tail = &q->stub;
}

/* Pushes the chain first..last (already linked through next). */
static inline void va__mpsc_push_chain(va_mpsc *q, va_qnode *first,
                                       va_qnode *last) {
  va_store_relaxed(&last->next, NULL);
  /* acq_rel: release publishes the chain's contents to the consumer; acquire
   * orders us after the previous producer, whose node we link to. */
  va_qnode *prev =
      atomic_exchange_explicit(&q->head, last, memory_order_acq_rel);
  /* Pairs with the acquire load of next in va__mpsc_pop. Between the
   * exchange and this store the list is briefly cut; pop sees NULL and
   * reports "empty for now", never a torn chain. */
  va_store_rel(&prev->next, first);
}

static inline void va__mpsc_push(va_mpsc *q, va_qnode *n) {
  va__mpsc_push_chain(q, n, n);
}

/* Pops one node, or NULL when the queue is empty or a push is half done. */
static inline va_qnode *va__mpsc_pop(va_mpsc *q) {
  va_qnode *tail = q->tail;
  va_qnode *next = va_load_acq(&tail->next);
  if (tail == &q->stub) {
    if (next == NULL)
      return NULL;
    q->tail = next;
    tail = next;
    next = va_load_acq(&next->next);
  }
  if (next) {
    q->tail = next;
    return tail;
  }
  if (tail != va_load_acq(&q->head))
    return NULL; /* a producer is between its exchange and its link */
  va__mpsc_push(q, &q->stub);
  next = va_load_acq(&tail->next);
  if (next) {
    q->tail = next;
    return tail;
  }
  return NULL;
}

/* True when nothing has been pushed since the last pop, counting a push
 * that has swapped head but not yet linked its node. Consumer only. */
static inline bool va__mpsc_empty(va_mpsc *q) {
  return q->tail == &q->stub && va_load_acq(&q->head) == &q->stub;
}

#endif
