/* actor.h — one activation of an actor, as its owning worker sees it.
 * Every field is owned by that worker's thread; nothing here is shared.
 * The struct is followed in the same block by the type's instance memory
 * and a short inline buffer for the id (see actor.c). */
#ifndef VA_CORE_ACTOR_H
#define VA_CORE_ACTOR_H

#include "../base/dlist.h"
#include "kvmap.h"
#include "msg.h"
#include <stdbool.h>
#include <stdint.h>

typedef enum va_actor_life {
  VA_ACTOR_FREE,    /* in the pool, not an activation */
  VA_ACTOR_LOADING, /* in the directory, its state on the way: messages wait */
  VA_ACTOR_ACTIVE,  /* in the directory, running turns */
  VA_ACTOR_CLOSING, /* deactivated, its last save on the way: messages wait */
} va_actor_life;

typedef struct va_actor {
  struct va_actor *run_next;     /* worker's run queue */
  va_dlink idle;                 /* worker's LRU list */
  va_msg *mbox_head, *mbox_tail; /* mailbox, FIFO through node.next */
  uint64_t hash;                 /* of (type, id) */
  uint64_t gen;                  /* unique per activation of this worker */
  uint64_t busy_chain;           /* call chain of the open turn(s) */
  uint64_t last_used_ms;    /* end of the last turn, for idle deactivation */
  uint64_t version;         /* store version the cached state will have once
                               every save in flight is done */
  uint64_t epoch;           /* the store's claim on it (store.h, Ownership) */
  va_kvmap state;           /* cached state, key -> bytes */
  struct va_msg *last_save; /* the latest save in flight (persist.c) */
  struct va_actor_timer *timers; /* timers.c */
  struct va_turn *open_turn;     /* the newest open turn (they are linked
                                    through va_turn.older_open), or NULL */
  char *id;                      /* the inline buffer, or malloc'd when long */
  uint32_t id_len;
  uint32_t mbox_len;
  uint16_t type;
  uint16_t depth;    /* open turns: > 1 only for reentrant calls */
  uint8_t life;      /* va_actor_life */
  uint8_t scheduled; /* in the run queue */
  uint16_t unsaved;  /* saves in flight */
  bool broken;       /* a save failed: run nothing until reloaded */
  bool fenced;       /* ... because another node claimed it: drop it */
  bool leaving;      /* placed elsewhere: takes no new message (route.c) */
  uint32_t turns;    /* turns this activation ran (stops at UINT32_MAX; in
                        the padding, so no actor grows for it) */
} va_actor;

/* Ids up to this long live inside the actor's block. */
#define VA_ID_INLINE 24

#endif
