/* msg.h — the message: one allocation holding a header, the target actor's
 * id and the body. Requests, replies and control messages all use it, so a
 * worker's inbox is one queue. Allocation goes through per-worker free lists
 * (no lock, no malloc in the steady state); any block may still be released
 * with free(), so messages may die on any thread. */
#ifndef VA_CORE_MSG_H
#define VA_CORE_MSG_H

#include "mpsc.h"
#include "vactor.h"
#include <stdint.h>

struct va_worker;
struct va_pending;
struct va_ref;

typedef enum va_msg_kind {
  VA_MSG_REQUEST, /* call or one-way send to an actor */
  VA_MSG_REPLY,   /* outcome of a call, for a pending record */
  VA_MSG_CONTROL, /* runtime's own work for a worker (see worker.h) */
} va_msg_kind;

/* Where a request's outcome goes. */
typedef enum va_reply_kind {
  VA_REPLY_NONE,     /* one-way send */
  VA_REPLY_CALLBACK, /* external call: cb/user, not yet admitted */
  VA_REPLY_PENDING,  /* a pending record on worker reply_worker */
} va_reply_kind;

typedef struct va_msg {
  va_qnode node; /* inbox, mailbox and free-list link */
  uint8_t kind;  /* va_msg_kind */
  uint8_t size_class;
  uint8_t reply_kind; /* va_reply_kind */
  uint8_t control;    /* VA_MSG_CONTROL: what to do */
  uint16_t type;
  uint16_t reply_worker;
  uint32_t method;
  int32_t status; /* VA_MSG_REPLY: the call's status */
  uint64_t hash;  /* of (type, id): picks the worker and the directory slot */
  uint64_t chain; /* call-chain id */
  uint64_t deadline_ms;
  union {
    struct {
      va_reply_fn cb;
      void *user;
    } callback;
    struct {
      struct va_pending *record;
      uint64_t seq;
    } pending;
  } reply;
  struct va_ref *ref; /* optional location hint */
  uint32_t id_len;
  uint32_t len;
  char data[]; /* id_len bytes of id, then len bytes of body */
} va_msg;

static inline const char *va__msg_id(const va_msg *m) { return m->data; }
static inline char *va__msg_body(va_msg *m) { return m->data + m->id_len; }

#define VA_MSG_CLASSES 3
#define VA_MSG_CLASS_NONE 0xff

/* Per-thread cache of free message blocks, one list per size class. */
typedef struct va_msg_cache {
  va_qnode *free[VA_MSG_CLASSES];
  uint32_t count[VA_MSG_CLASSES];
} va_msg_cache;

/* Allocates a message with room for id_len + len bytes of data, from cache
 * when given (the calling worker's), else from malloc. Fields are zeroed up
 * to data; id and body are left for the caller. NULL when out of memory. */
va_msg *va__msg_alloc(va_msg_cache *cache, uint32_t id_len, uint32_t len);
/* Returns m to cache (or to free() when cache is NULL or full). */
void va__msg_free(va_msg_cache *cache, va_msg *m);
/* Releases every block held by cache. */
void va__msg_cache_drain(va_msg_cache *cache);

#endif
