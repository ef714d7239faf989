/* directory.c — see directory.h. Deletion shifts the following entries
 * back (no tombstones), so probe lengths stay short under churn. */
#include "directory.h"
#include "vactor.h"
#include <stdlib.h>
#include <string.h>

/* A zeroed table, written rather than calloc'd: a calloc'd (mmap'd) page
 * that a lookup reads first is mapped to the shared zero page, and the
 * insert that follows takes a copy-on-write fault with a TLB shootdown
 * across every worker (seen in the P4 profile). */
static va_dir_slot *new_slots(size_t n) {
  va_dir_slot *slots = malloc(n * sizeof(*slots));
  if (slots)
    memset(slots, 0, n * sizeof(*slots));
  return slots;
}

int va__dir_init(va_directory *d, size_t capacity) {
  size_t cap = 16;
  while (cap < capacity)
    cap *= 2;
  d->slots = new_slots(cap);
  if (!d->slots)
    return VA_ENOMEM;
  d->mask = cap - 1;
  d->count = 0;
  return 0;
}

void va__dir_free(va_directory *d) {
  free(d->slots);
  *d = (va_directory){0};
}

va_actor *va__dir_find(const va_directory *d, uint64_t hash, uint16_t type,
                       const char *id, uint32_t id_len) {
  for (size_t i = hash & d->mask;; i = (i + 1) & d->mask) {
    const va_dir_slot *s = &d->slots[i];
    if (!s->actor)
      return NULL;
    if (s->hash == hash) {
      va_actor *a = s->actor;
      if (a->type == type && a->id_len == id_len &&
          memcmp(a->id, id, id_len) == 0)
        return a;
    }
  }
}

static void place(va_dir_slot *slots, size_t mask, va_actor *a) {
  size_t i = a->hash & mask;
  while (slots[i].actor)
    i = (i + 1) & mask;
  slots[i] = (va_dir_slot){a->hash, a};
}

static int grow(va_directory *d) {
  size_t cap = (d->mask + 1) * 2;
  va_dir_slot *slots = new_slots(cap);
  if (!slots)
    return VA_ENOMEM;
  for (size_t i = 0; i <= d->mask; i++)
    if (d->slots[i].actor)
      place(slots, cap - 1, d->slots[i].actor);
  free(d->slots);
  d->slots = slots;
  d->mask = cap - 1;
  return 0;
}

int va__dir_insert(va_directory *d, va_actor *a) {
  /* Keep the load at or under 3/4. */
  if ((d->count + 1) * 4 > (d->mask + 1) * 3) {
    int rc = grow(d);
    if (rc)
      return rc;
  }
  place(d->slots, d->mask, a);
  d->count++;
  return 0;
}

void va__dir_remove(va_directory *d, va_actor *a) {
  size_t i = a->hash & d->mask;
  while (d->slots[i].actor != a) {
    if (!d->slots[i].actor)
      return;
    i = (i + 1) & d->mask;
  }
  /* Backward-shift: pull later entries of the cluster into the hole when
   * their home slot is at or before it. */
  size_t hole = i;
  for (size_t j = (i + 1) & d->mask; d->slots[j].actor; j = (j + 1) & d->mask) {
    size_t home = d->slots[j].hash & d->mask;
    if (((j - home) & d->mask) >= ((j - hole) & d->mask)) {
      d->slots[hole] = d->slots[j];
      hole = j;
    }
  }
  d->slots[hole] = (va_dir_slot){0, NULL};
  d->count--;
}
