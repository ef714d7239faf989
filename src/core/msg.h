/* msg.h — the message: one allocation holding a header, the target actor's
 * id and the body. Requests, replies and control messages all use it, so a
 * worker's inbox is one queue. Allocation goes through per-worker caches:
 * a block freed on the worker that allocated it goes back on its free list;
 * one freed on another worker travels home in a batch (one atomic operation
 * per batch), so messages that cross threads cost no malloc, no free and no
 * lock in the steady state. Every block is also a plain malloc'd block, so
 * free() is always a correct fallback. */
#ifndef VA_CORE_MSG_H
#define VA_CORE_MSG_H

#include "mpsc.h"
#include "vactor.h"
#include <stdint.h>

struct va_worker;
struct va_pending;
struct va_actor;

typedef enum va_msg_kind {
  VA_MSG_REQUEST, /* call or one-way send to an actor */
  VA_MSG_REPLY,   /* outcome of a call, for a pending record */
  VA_MSG_CONTROL, /* runtime's own work for a worker (see runtime.h) */
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
  uint8_t control;    /* VA_MSG_CONTROL: what to do; VA_MSG_REQUEST:
                         VA_REQ_* flags */
  uint16_t type;
  uint16_t reply_worker;
  uint16_t method;
  uint16_t origin; /* 1 + index of the worker whose cache allocated it, or 0 */
  int32_t status;  /* VA_MSG_REPLY: the call's status */
  uint64_t hash;   /* of (type, id): picks the worker and the directory slot */
  uint64_t chain;  /* call-chain id */
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
  /* Where the target lived when the sender's va_ref last knew: valid while
   * hint->gen == hint_gen (checked by the owner). */
  struct va_actor *hint;
  uint64_t hint_gen;
  uint32_t id_len;
  uint32_t len;
  char data[]; /* id_len bytes of id, then len bytes of body */
} va_msg;

static inline const char *va__msg_id(const va_msg *m) {
  return m->data;
}
static inline char *va__msg_body(va_msg *m) {
  return m->data + m->id_len;
}

#define VA_MSG_CLASSES 3
#define VA_MSG_CLASS_NONE 0xff

/* Blocks on their way back to the worker that allocated them. */
typedef struct va_msg_batch {
  va_qnode *first, *last;
  uint32_t count;
} va_msg_batch;

/* One worker's cache. Only `returned` is touched by other threads. */
typedef struct va_msg_cache {
  uint16_t owner; /* 1 + worker index */
  va_qnode *free[VA_MSG_CLASSES];
  uint32_t count[VA_MSG_CLASSES];
  va_msg_batch *outgoing;      /* [n_peers * VA_MSG_CLASSES] */
  struct va_msg_cache **peers; /* every worker's cache, by index */
  unsigned n_peers;
  /* Stacks of blocks other workers sent home, one per class: producers
   * push a chain with a CAS, the owner takes the whole stack at once. */
  _Atomic(va_qnode *) returned[VA_MSG_CLASSES];
} va_msg_cache;

/* Sets up cache for worker `index` of n, whose peers' caches are peers[]
 * (filled in by the caller before any message moves). */
int va__msg_cache_init(va_msg_cache *cache, unsigned index, unsigned n,
                       va_msg_cache **peers);
/* Allocates a message with room for id_len + len bytes of data, from cache
 * when given (the calling worker's), else from malloc. Fields are zeroed up
 * to data; id and body are left for the caller. NULL when out of memory. */
va_msg *va__msg_alloc(va_msg_cache *cache, uint32_t id_len, uint32_t len);
/* Releases m: into cache when it came from there, towards its home cache
 * when it came from another worker, else to free(). cache may be NULL. */
void va__msg_free(va_msg_cache *cache, va_msg *m);
/* Sends the batches of blocks going home. Once per worker pass. */
void va__msg_cache_flush(va_msg_cache *cache);
/* Releases every block held by cache. Only when no thread uses it. */
void va__msg_cache_drain(va_msg_cache *cache);

#endif
