/* kvmap.h — a small map from string keys to byte values: an actor's cached
 * state, and the writes of a turn (where a deleted key is a tombstone).
 * Linear search: actors hold a handful of keys. The map owns its keys and
 * values (malloc'd copies). */
#ifndef VA_CORE_KVMAP_H
#define VA_CORE_KVMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct va_kv {
  char *key;
  void *val; /* NULL when len is 0 */
  uint32_t len;
  bool tomb;          /* a deletion (write sets only) */
  int64_t expires_ms; /* wall-clock ms after which the key reads as absent;
                         0: never (Dapr's ttlInSeconds) */
  /* A reminder's write: set by reminders.c on the writes of a turn, so that
   * the store is told the reminder's name and due time as such (persist.c)
   * and never reads them out of the key or the value. Meaningful in a
   * write set only; in a cached state, stale or NULL. */
  const char *reminder; /* the reminder's name, inside key; NULL: none */
  int64_t due_ms;       /* its due time (not for a tombstone) */
} va_kv;

typedef struct va_kvmap {
  va_kv *items;
  uint32_t n, cap;
} va_kvmap;

/* The entry for key, or NULL. */
va_kv *va__kvmap_find(const va_kvmap *m, const char *key);
/* Sets key to a copy of val/len (or a tombstone when tomb), never
 * expiring; a new entry is no reminder's. 0, VA_ENOMEM or VA_ETOOBIG. */
int va__kvmap_put(va_kvmap *m, const char *key, const void *val, size_t len,
                  bool tomb);
/* Removes key's entry, if any (the others keep their order). */
void va__kvmap_remove(va_kvmap *m, const char *key);
/* Makes sure n more entries fit without allocating: 0, VA_ENOMEM or
 * VA_ETOOBIG. */
int va__kvmap_reserve(va_kvmap *m, uint32_t n);
/* Applies the writes of ws to m, moving their buffers into m; empties ws.
 * 0, or the error of making room (then neither map changed). */
int va__kvmap_apply(va_kvmap *m, va_kvmap *ws);
/* Frees every entry (and the array). */
void va__kvmap_clear(va_kvmap *m);

#endif
