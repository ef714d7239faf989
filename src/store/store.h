/* store.h — the state store interface: a versioned method table, so that
 * back ends (memory here; SQLite, PostgreSQL, Redis later) plug in without
 * the runtime knowing their SQL. An actor's state is a set of key -> bytes
 * plus a version that every successful save increments.
 *
 * Completion callbacks may run before the method returns (the memory store
 * does so) or later on a store thread; the runtime handles both. Nothing
 * outside src/store/ includes a back end's own headers. */
#ifndef VA_STORE_STORE_H
#define VA_STORE_STORE_H

#include "../core/kvmap.h"
#include "vactor.h"
#include <stddef.h>

typedef struct va_store va_store;
#include <stdint.h>

/* items/n are borrowed until the callback returns. version is 0 for an
 * actor never saved. */
typedef void (*va_store_load_cb)(void *ctx, int status, const va_kv *items,
                                 size_t n, uint64_t version);
typedef void (*va_store_save_cb)(void *ctx, int status);

/* A reminder found by due time (all borrowed until the callback returns). */
typedef struct va_due_reminder {
  const char *type;
  const char *id;
  size_t id_len;
  const char *name;
  int64_t due_ms;
} va_due_reminder;
typedef void (*va_store_due_cb)(void *ctx, int status,
                                const va_due_reminder *rows, size_t n);

typedef struct va_store_ops {
  unsigned abi_version; /* VA_STORE_ABI */
  /* Reads the state of (type, id). */
  int (*load)(va_store *s, const char *type, const char *id, size_t id_len,
              va_store_load_cb cb, void *ctx);
  /* Applies writes (a tombstone deletes its key) all together, and sets the
   * version to version + 1, but only if the stored version is still
   * `version` (else VA_ESTORE: someone else wrote). writes are copied
   * before save returns. */
  int (*save)(va_store *s, const char *type, const char *id, size_t id_len,
              uint64_t version, const va_kv *writes, size_t n,
              va_store_save_cb cb, void *ctx);
  void (*destroy)(va_store *s);
  /* Optional: commits (transactions) and saves done so far. */
  void (*stats)(va_store *s, uint64_t *commits, uint64_t *saves);
  /* The reminders (state keys "\x01r:<name>", whose value starts with the
   * due time) due in [from_ms, before_ms), from an index by due time. */
  int (*reminders_due)(va_store *s, int64_t from_ms, int64_t before_ms,
                       va_store_due_cb cb, void *ctx);
} va_store_ops;

#define VA_STORE_ABI 1

/* Every back end embeds this first. */
struct va_store {
  const va_store_ops *ops;
};

/* The in-memory store. Thread-safe; answers before returning. */
int va__store_memory_new(va_store **out);

typedef struct va_store_sqlite_options {
  va_durability durability; /* VA_DURABLE: fsync every commit */
  uint32_t relaxed_sync_ms; /* VA_RELAXED: fsync at least this often */
  va_runtime *log;          /* where SQLite's failures are told (va_log),
                               with its own message; NULL: nowhere.
                               Borrowed: must outlive the store */
} va_store_sqlite_options;

/* Opens (creating if needed) the SQLite store at path: a writer thread
 * (group commit) and a reader thread. opts may be NULL (durable). A
 * failure to open is logged through opts->log (SQLite's message and the
 * system error) before VA_ESTORE is returned; so is every failed commit,
 * load or reminder query later. */
int va__store_sqlite_open(const char *path,
                          const va_store_sqlite_options *opts,
                          va_store **out);

#endif
