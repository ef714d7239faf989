/* directory.h — one worker's map from (type, id) to its live activation.
 * Open addressing with linear probing; each slot keeps the full hash so that
 * a probe touches an actor only when the hashes match. Owner thread only,
 * so no locks. */
#ifndef VA_CORE_DIRECTORY_H
#define VA_CORE_DIRECTORY_H

#include "actor.h"
#include <stddef.h>

typedef struct va_dir_slot {
  uint64_t hash;
  va_actor *actor; /* NULL: empty */
} va_dir_slot;

typedef struct va_directory {
  va_dir_slot *slots;
  size_t mask; /* capacity - 1; capacity is a power of two */
  size_t count;
} va_directory;

int va__dir_init(va_directory *d, size_t capacity);
void va__dir_free(va_directory *d);
va_actor *va__dir_find(const va_directory *d, uint64_t hash, uint16_t type,
                       const char *id, uint32_t id_len);
/* Inserts a (not present). 0 or VA_ENOMEM. */
int va__dir_insert(va_directory *d, va_actor *a);
void va__dir_remove(va_directory *d, va_actor *a);

#endif
