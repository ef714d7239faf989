/* write_copy.h — copying a save's writes (store.h: everything a save is
 * given is the caller's only for the call) into one block of the back
 * end's own: the bytes each write needs, and the copy. Internal to
 * src/store; shared by the SQLite and PostgreSQL back ends. */
#ifndef VA_STORE_WRITE_COPY_H
#define VA_STORE_WRITE_COPY_H

#include "store.h"
#include <string.h>

/* The bytes w needs copied: key, value (not for a deletion) and reminder
 * name, with their NULs. */
static inline size_t va__write_copy_size(const va_store_write *w) {
  return strlen(w->key) + 1 + (w->deleted ? 0 : w->len) +
         (w->reminder ? strlen(w->reminder) + 1 : 0);
}

/* Copies w into *out, its bytes at *p (advanced past them; the caller
 * sized the block with va__write_copy_size). */
static inline void va__write_copy(const va_store_write *w, va_store_write *out,
                                  char **p) {
  *out = *w;
  size_t klen = strlen(w->key) + 1;
  out->key = memcpy(*p, w->key, klen);
  *p += klen;
  if (w->deleted) {
    out->val = NULL;
    out->len = 0;
  } else {
    out->val = w->len ? memcpy(*p, w->val, w->len) : NULL;
    *p += w->len;
  }
  if (w->reminder) {
    size_t nlen = strlen(w->reminder) + 1;
    out->reminder = memcpy(*p, w->reminder, nlen);
    *p += nlen;
  }
}

#endif
