/* store.h — the state store's contract: a versioned method table, so that
 * back ends (memory and SQLite here; PostgreSQL, Redis later) plug in
 * without the runtime knowing their SQL, and without a back end knowing
 * the runtime's encodings. An actor's state is a set of key -> bytes plus a
 * version that every successful save increments; beside it, a store keeps
 * an index of reminders by due time, fed only from the explicit fields of
 * the writes (a back end never reads a key or a value to find one).
 *
 * Everything here is the store's own: its types, its log callback. It uses
 * the public include/vactor.h (error codes, va_durability, va_log_level)
 * and src/base, nothing of src/core. Completion callbacks may run before
 * the method returns (the memory store does so) or later on a store
 * thread; callers handle both. Nothing outside src/store/ includes a back
 * end's own headers. */
#ifndef VA_STORE_STORE_H
#define VA_STORE_STORE_H

#include "vactor.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct va_store va_store;

/* A stored key and its value, as a load hands it back. */
typedef struct va_store_item {
  const char *key;
  const void *val; /* NULL when len is 0 */
  uint32_t len;
  int64_t expires_ms; /* wall-clock ms after which the key reads as absent;
                         0: never */
} va_store_item;

/* One write of a save. key is set to val/len (or removed when deleted).
 *
 * A reminder's write also names the reminder: reminder is its name and
 * due_ms its next due time, and the store keeps (type, id, reminder) at
 * due_ms in its due index (a deleted write drops it from the index). The
 * key and value are stored like any other; the runtime reads them back at
 * load. Which keys hold reminders is the caller's business: it must mark
 * every write of such a key, deletions included, and no other. */
typedef struct va_store_write {
  const char *key;
  const void *val; /* NULL when len is 0; unused when deleted */
  uint32_t len;
  bool deleted;         /* a deletion of key */
  int64_t expires_ms;   /* as in va_store_item; unused when deleted */
  const char *reminder; /* the reminder this key holds, or NULL */
  int64_t due_ms;       /* its due time (wall ms); unused when deleted */
} va_store_write;

/* items/n are borrowed until the callback returns. version is 0 for an
 * actor never saved. epoch is the claim this load made (see Ownership
 * below; 0 from a store of one node). */
typedef void (*va_store_load_cb)(void *ctx, int status,
                                 const va_store_item *items, size_t n,
                                 uint64_t version, uint64_t epoch);
typedef void (*va_store_save_cb)(void *ctx, int status);

/* A reminder found by due time (all borrowed until the callback returns). */
typedef struct va_due_reminder {
  const char *type;
  const char *id;
  size_t id_len;
  const char *name;
  int64_t due_ms;
  /* The actor's owner is gone (a store that places actors: see
   * Ownership): the node the cluster now places the actor on fires it,
   * no other. false for a row of an actor this node owns, and from a
   * store of one node. */
  bool orphan;
} va_due_reminder;
typedef void (*va_store_due_cb)(void *ctx, int status,
                                const va_due_reminder *rows, size_t n);

/* Ownership. A store shared by the nodes of a cluster (PostgreSQL) also
 * decides which node may write an actor: a load claims the actor for this
 * node, bumping its epoch, unless another node that is still alive holds
 * it (then the load fails with VA_EMOVED, and reads nothing); every save
 * names the epoch its activation's load returned and commits nothing once
 * another claim has bumped it (VA_EFENCED: this node lost the actor). A
 * store of one node (memory, SQLite) claims nothing: its epoch is 0, and
 * a save ignores the one it is given. */

/* An actor a listing found (borrowed until the callback returns). */
typedef struct va_store_actor {
  const char *id;
  size_t id_len;
  /* A store that claims: the live node that holds the actor now, or NULL
   * (none, or a store of one node). */
  const char *owner;
} va_store_actor;
typedef void (*va_store_list_cb)(void *ctx, int status,
                                 const va_store_actor *rows, size_t n);

typedef struct va_store_ops {
  unsigned abi_version; /* VA_STORE_ABI */
  /* Reads the state of (type, id), claiming it first (see Ownership). */
  int (*load)(va_store *s, const char *type, const char *id, size_t id_len,
              va_store_load_cb cb, void *ctx);
  /* Applies writes (n of them; a deletion removes its key) all together,
   * with their reminders' index entries, and sets the version to version +
   * 1, but only if the stored version is still `version` (else VA_ESTORE:
   * someone else wrote) and epoch is still the actor's (else VA_EFENCED).
   * Everything writes points to is copied before save returns. type must
   * outlive the store (the runtime's type names do). */
  int (*save)(va_store *s, const char *type, const char *id, size_t id_len,
              uint64_t version, uint64_t epoch, const va_store_write *writes,
              size_t n, va_store_save_cb cb, void *ctx);
  void (*destroy)(va_store *s);
  /* Optional: commits (transactions) and saves done so far. */
  void (*stats)(va_store *s, uint64_t *commits, uint64_t *saves);
  /* The reminders due in [from_ms, before_ms), from the due index. The
   * answer includes every save that was handed to the store before. */
  int (*reminders_due)(va_store *s, int64_t from_ms, int64_t before_ms,
                       va_store_due_cb cb, void *ctx);
  /* Optional (stores that claim): gives up this node's claim on (type, id)
   * made with epoch, after its last save, so that another node may claim
   * it at once. cb gets 0 also when the claim was not ours any more. */
  int (*release)(va_store *s, const char *type, const char *id, size_t id_len,
                 uint64_t epoch, va_store_save_cb cb, void *ctx);
  /* The actors of type that have stored state (and, in a store that
   * claims, those a live node holds), in the byte order of their ids: the
   * first `limit` (>= 1) of those after `after` (after_len 0: from the
   * first) whose id begins with prefix (prefix_len 0: any). An operator's
   * question, answered from an index; not on any hot path. */
  int (*list)(va_store *s, const char *type, const char *after,
              size_t after_len, const char *prefix, size_t prefix_len,
              size_t limit, va_store_list_cb cb, void *ctx);
  /* Optional: reads (type, id) as load does, but claims nothing (a
   * look from outside, which must not take the actor from its owner).
   * NULL: load claims nothing in this store, use it. */
  int (*peek)(va_store *s, const char *type, const char *id, size_t id_len,
              va_store_load_cb cb, void *ctx);
} va_store_ops;

#define VA_STORE_ABI 4

/* Every back end embeds this first. */
struct va_store {
  const va_store_ops *ops;
};

/* ---- Telling the operator ---- */

/* One detail of a log event: a text (quoted by whoever writes the line)
 * or, when text is NULL, a number. */
typedef struct va_store_log_field {
  const char *key;
  const char *text;
  int64_t number;
} va_store_log_field;

/* Receives a back end's failure: msg is a short fixed text ("state commit
 * failed"), fields its details (all borrowed for the call). Called from
 * the store's threads, or from the caller's thread while opening. */
typedef void (*va_store_log_fn)(void *user, va_log_level level, const char *msg,
                                const va_store_log_field *fields, size_t n);

/* ---- Back ends ---- */

/* The in-memory store. Thread-safe; answers before returning. 0 or
 * VA_ENOMEM; *out is the caller's, freed with ops->destroy. */
int va_store_memory_new(va_store **out);

typedef struct va_store_sqlite_options {
  va_durability durability; /* VA_DURABLE: fsync every commit */
  uint32_t relaxed_sync_ms; /* VA_RELAXED: fsync at least this often */
  va_store_log_fn log;      /* where SQLite's failures are told, with its
                               own message; NULL: nowhere */
  void *log_user;           /* passed to log; must outlive the store */
} va_store_sqlite_options;

/* Opens (creating if needed) the SQLite store at path: a writer thread
 * (group commit) and a reader thread. opts may be NULL (durable, no log).
 * A failure to open is told through opts->log (SQLite's message and the
 * system error) before VA_ESTORE (VA_ESYS: no threads) is returned; so is
 * every failed commit, load or reminder query later. */
int va_store_sqlite_open(const char *path, const va_store_sqlite_options *opts,
                         va_store **out);

/* ---- PostgreSQL (a cluster's store) ---- */

typedef struct va_store_postgres_options {
  /* This node's name in the cluster (copied), whose claims the loads make
   * (see Ownership); NULL: claim nothing, as a store of one node. */
  const char *node;
  /* The incarnation of node that claims: the membership sets it, and
   * moves it on each rejoin, with va_store_postgres_set_incarnation. */
  uint64_t incarnation;
  va_store_log_fn log; /* where failures are told; NULL: nowhere */
  void *log_user;      /* passed to log; must outlive the store */
} va_store_postgres_options;

/* Connects to the PostgreSQL database at url (a libpq connection URI),
 * creates or migrates the schema (docs/architecture.md), and starts the
 * store's thread. opts may be NULL. A failure to connect or to set up the
 * schema is told through opts->log before VA_ESTORE is returned. */
int va_store_postgres_open(const char *url,
                           const va_store_postgres_options *opts,
                           va_store **out);
/* The incarnation later loads claim with (any thread). */
void va_store_postgres_set_incarnation(va_store *s, uint64_t incarnation);

typedef struct va_store_postgres_stats {
  uint64_t claims;         /* loads that claimed their actor */
  uint64_t claims_refused; /* loads refused: another live node holds it */
  uint64_t fenced;         /* saves refused: the epoch was not ours */
  uint64_t reconnects;     /* connections lost and made again */
  uint64_t retried;        /* loads and saves sent again after a loss */
} va_store_postgres_stats;
void va_store_postgres_stats_get(va_store *s, va_store_postgres_stats *out);

#endif
