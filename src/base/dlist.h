/* dlist.h — an intrusive doubly linked list with head and tail, for lists
 * kept in order: a worker's actors by last use, call deadlines, a turn's
 * outstanding calls, the HTTP server's connections by last activity.
 * Elements embed a va_dlink; VA_CONTAINER_OF finds the element again. O(1)
 * append and remove. Not thread-safe: one owner thread. */
#ifndef VA_BASE_DLIST_H
#define VA_BASE_DLIST_H

#include <stddef.h>

#define VA_CONTAINER_OF(ptr, type, field)                                      \
  ((type *)((char *)(ptr)-offsetof(type, field)))

typedef struct va_dlink {
  struct va_dlink *prev, *next;
} va_dlink;

typedef struct va_dlist {
  va_dlink *head, *tail;
} va_dlist;

static inline void va_dlist_append(va_dlist *l, va_dlink *n) {
  n->prev = l->tail;
  n->next = NULL;
  if (l->tail)
    l->tail->next = n;
  else
    l->head = n;
  l->tail = n;
}

static inline void va_dlist_remove(va_dlist *l, va_dlink *n) {
  if (n->prev)
    n->prev->next = n->next;
  else
    l->head = n->next;
  if (n->next)
    n->next->prev = n->prev;
  else
    l->tail = n->prev;
  n->prev = n->next = NULL;
}

#endif
