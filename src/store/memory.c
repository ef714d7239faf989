/* memory.c — the in-memory state store: a hash map from "type\0id" to the
 * actor's record (its entries, its reminders' due times and its version),
 * split into stripes with a mutex each so that workers rarely meet on a
 * lock. Completes every call before returning. */
#include "../base/assert.h"
#include "../base/id_page.h"
#include "store.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

enum { STRIPES = 64 };

/* A reminder of the due index: its name (owned) and due time. */
typedef struct due_entry {
  char *name;
  int64_t due_ms;
} due_entry;

typedef struct record {
  struct record *next;
  uint64_t hash;
  uint64_t version;
  va_store_item *items; /* each key and value one malloc'd block, at key */
  uint32_t n_items, cap_items;
  due_entry *dues;
  uint32_t n_dues, cap_dues;
  size_t key_len;
  char key[]; /* type, NUL, id */
} record;

typedef struct stripe {
  pthread_mutex_t lock;
  record **buckets;
  size_t n_buckets, count;
} stripe;

typedef struct memory_store {
  va_store base;
  stripe stripes[STRIPES];
} memory_store;

/* Builds the record key "type\0id" into buf (malloc'd), returns its length. */
static size_t make_key(const char *type, const char *id, size_t id_len,
                       char **buf) {
  size_t tl = strlen(type);
  *buf = malloc(tl + 1 + id_len);
  if (*buf) {
    memcpy(*buf, type, tl + 1);
    memcpy(*buf + tl + 1, id, id_len);
  }
  return tl + 1 + id_len;
}

static record *find(stripe *s, const char *key, size_t len, uint64_t hash) {
  if (!s->n_buckets)
    return NULL;
  for (record *r = s->buckets[hash % s->n_buckets]; r; r = r->next)
    if (r->hash == hash && r->key_len == len && !memcmp(r->key, key, len))
      return r;
  return NULL;
}

static int grow(stripe *s) {
  size_t n = s->n_buckets ? s->n_buckets * 2 : 64;
  record **b = calloc(n, sizeof(*b));
  if (!b)
    return VA_ENOMEM;
  for (size_t i = 0; i < s->n_buckets; i++) {
    for (record *r = s->buckets[i], *next; r; r = next) {
      next = r->next;
      r->next = b[r->hash % n];
      b[r->hash % n] = r;
    }
  }
  free(s->buckets);
  s->buckets = b;
  s->n_buckets = n;
  return 0;
}

static void record_free(record *r) {
  for (uint32_t i = 0; i < r->n_items; i++)
    free((char *)r->items[i].key);
  for (uint32_t i = 0; i < r->n_dues; i++)
    free(r->dues[i].name);
  free(r->items);
  free(r->dues);
  free(r);
}

static int mem_load(va_store *base, const char *type, const char *id,
                    size_t id_len, va_store_load_cb cb, void *ctx) {
  memory_store *ms = (memory_store *)base;
  char *key;
  size_t len = make_key(type, id, id_len, &key);
  if (!key)
    return VA_ENOMEM;
  uint64_t hash = XXH3_64bits(key, len);
  stripe *s = &ms->stripes[hash % STRIPES];
  pthread_mutex_lock(&s->lock);
  record *r = find(s, key, len, hash);
  if (r)
    cb(ctx, 0, r->items, r->n_items, r->version, 0);
  else
    cb(ctx, 0, NULL, 0, 0, 0);
  pthread_mutex_unlock(&s->lock);
  free(key);
  return 0;
}

/* ---- Saving: copy everything first, then apply what cannot fail ---- */

/* Makes room for n more entries of size `size` in the array *items (cap
 * *cap, used of them taken); on failure it is as it was. */
static int reserve(void **items, uint32_t used, uint32_t *cap, size_t n,
                   size_t size) {
  if (used + n <= *cap)
    return 0;
  if (used + n > UINT32_MAX)
    return VA_ETOOBIG;
  void *more = realloc(*items, (used + n) * size);
  if (!more)
    return VA_ENOMEM;
  *items = more;
  *cap = (uint32_t)(used + n);
  return 0;
}

/* The copies a write needs: its key and value in one block (not for a
 * deletion), its reminder's name (a reminder's write, not deleted). */
typedef struct write_copy {
  char *block;
  char *name;
} write_copy;

static int copy_write(const va_store_write *w, write_copy *c) {
  *c = (write_copy){0};
  if (w->deleted)
    return 0;
  size_t kl = strlen(w->key) + 1;
  if (!(c->block = malloc(kl + w->len)))
    return VA_ENOMEM;
  memcpy(c->block, w->key, kl);
  if (w->len)
    memcpy(c->block + kl, w->val, w->len);
  if (w->reminder && !(c->name = strdup(w->reminder))) {
    free(c->block);
    c->block = NULL;
    return VA_ENOMEM;
  }
  return 0;
}

static int64_t item_at(const record *r, const char *key) {
  for (uint32_t i = 0; i < r->n_items; i++)
    if (!strcmp(r->items[i].key, key))
      return i;
  return -1;
}

static int64_t due_at(const record *r, const char *name) {
  for (uint32_t i = 0; i < r->n_dues; i++)
    if (!strcmp(r->dues[i].name, name))
      return i;
  return -1;
}

/* Applies w with its copies c (taken over) to r, which has room for one
 * more item and one more due entry. */
static void apply_write(record *r, const va_store_write *w, write_copy *c) {
  int64_t i = item_at(r, w->key);
  if (i >= 0)
    free((char *)r->items[i].key);
  if (w->deleted) {
    if (i >= 0)
      r->items[i] = r->items[--r->n_items];
  } else {
    VA_ASSERT(i >= 0 || r->n_items < r->cap_items); /* reserved */
    size_t kl = strlen(c->block) + 1;
    va_store_item item = {c->block, w->len ? c->block + kl : NULL, w->len,
                          w->expires_ms};
    r->items[i >= 0 ? i : r->n_items++] = item;
  }
  if (!w->reminder)
    return;
  int64_t d = due_at(r, w->reminder);
  if (w->deleted) {
    if (d >= 0) {
      free(r->dues[d].name);
      r->dues[d] = r->dues[--r->n_dues];
    }
  } else if (d >= 0) {
    r->dues[d].due_ms = w->due_ms;
    free(c->name);
  } else {
    VA_ASSERT(r->n_dues < r->cap_dues); /* reserved */
    r->dues[r->n_dues++] = (due_entry){c->name, w->due_ms};
  }
}

static int apply(record *r, const va_store_write *writes, size_t n) {
  write_copy *copies = calloc(n ? n : 1, sizeof(*copies));
  int rc = copies ? 0 : VA_ENOMEM;
  void *items = r->items, *dues = r->dues;
  if (rc == 0)
    rc = reserve(&items, r->n_items, &r->cap_items, n, sizeof(*r->items));
  r->items = items;
  if (rc == 0)
    rc = reserve(&dues, r->n_dues, &r->cap_dues, n, sizeof(*r->dues));
  r->dues = dues;
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = copy_write(&writes[i], &copies[i]);
  if (rc != 0) { /* the record is as it was (with more room, maybe) */
    for (size_t i = 0; copies && i < n; i++) {
      free(copies[i].block);
      free(copies[i].name);
    }
    free(copies);
    return rc;
  }
  /* Each write adds at most one item and one due entry: the room is there. */
  for (size_t i = 0; i < n; i++)
    apply_write(r, &writes[i], &copies[i]);
  free(copies);
  return 0;
}

/* The record of key in s, created (empty, version 0) if missing. */
static int record_of(stripe *s, const char *key, size_t len, uint64_t hash,
                     record **out) {
  record *r = find(s, key, len, hash);
  if (!r) {
    if (s->count >= s->n_buckets && grow(s) != 0)
      return VA_ENOMEM;
    if (!(r = calloc(1, sizeof(*r) + len)))
      return VA_ENOMEM;
    r->hash = hash;
    r->key_len = len;
    memcpy(r->key, key, len);
    r->next = s->buckets[hash % s->n_buckets];
    s->buckets[hash % s->n_buckets] = r;
    s->count++;
  }
  *out = r;
  return 0;
}

static int save_locked(stripe *s, const char *key, size_t len, uint64_t hash,
                       uint64_t version, const va_store_write *writes,
                       size_t n) {
  record *r = find(s, key, len, hash);
  if ((r ? r->version : 0) != version)
    return VA_ESTORE;
  int rc = r ? 0 : record_of(s, key, len, hash, &r);
  if (rc == 0)
    rc = apply(r, writes, n);
  if (rc == 0)
    r->version = version + 1;
  return rc;
}

static int mem_save(va_store *base, const char *type, const char *id,
                    size_t id_len, uint64_t version, uint64_t epoch,
                    const va_store_write *writes, size_t n, va_store_save_cb cb,
                    void *ctx) {
  (void)epoch; /* one node: nothing to fence */
  memory_store *ms = (memory_store *)base;
  char *key;
  size_t len = make_key(type, id, id_len, &key);
  if (!key)
    return VA_ENOMEM;
  uint64_t hash = XXH3_64bits(key, len);
  stripe *s = &ms->stripes[hash % STRIPES];
  pthread_mutex_lock(&s->lock);
  int rc = save_locked(s, key, len, hash, version, writes, n);
  pthread_mutex_unlock(&s->lock);
  free(key);
  cb(ctx, rc);
  return 0;
}

static void mem_destroy(va_store *base) {
  memory_store *ms = (memory_store *)base;
  for (int i = 0; i < STRIPES; i++) {
    stripe *s = &ms->stripes[i];
    for (size_t b = 0; b < s->n_buckets; b++) {
      for (record *r = s->buckets[b], *next; r; r = next) {
        next = r->next;
        record_free(r);
      }
    }
    free(s->buckets);
    pthread_mutex_destroy(&s->lock);
  }
  free(ms);
}

/* ---- Due reminders ---- */

typedef struct due_rows {
  va_due_reminder *rows; /* type, id and name in one block each (owned) */
  size_t n, cap;
} due_rows;

/* Adds reminder d of record r to out. */
static int add_row(due_rows *out, const record *r, const due_entry *d) {
  if (out->n == out->cap) {
    size_t cap = out->cap ? out->cap * 2 : 64;
    va_due_reminder *more = realloc(out->rows, cap * sizeof(*more));
    if (!more)
      return VA_ENOMEM;
    out->rows = more;
    out->cap = cap;
  }
  /* The record key is "type\0id": copy it with the name. */
  size_t tl = strlen(r->key) + 1, il = r->key_len - tl;
  size_t nl = strlen(d->name) + 1;
  char *block = malloc(r->key_len + nl);
  if (!block)
    return VA_ENOMEM;
  memcpy(block, r->key, r->key_len);
  memcpy(block + r->key_len, d->name, nl);
  out->rows[out->n++] = (va_due_reminder){
      block, block + tl, il, block + r->key_len, d->due_ms, false};
  return 0;
}

static int scan_stripe(stripe *s, int64_t from_ms, int64_t before_ms,
                       due_rows *out) {
  int rc = 0;
  pthread_mutex_lock(&s->lock);
  for (size_t b = 0; b < s->n_buckets && rc == 0; b++)
    for (record *r = s->buckets[b]; r && rc == 0; r = r->next)
      for (uint32_t k = 0; k < r->n_dues && rc == 0; k++)
        if (r->dues[k].due_ms >= from_ms && r->dues[k].due_ms < before_ms)
          rc = add_row(out, r, &r->dues[k]);
  pthread_mutex_unlock(&s->lock);
  return rc;
}

/* Reminders due in [from, before): the memory store has no index by time
 * and scans every record (it serves tests and small programs). */
static int mem_reminders_due(va_store *base, int64_t from_ms, int64_t before_ms,
                             va_store_due_cb cb, void *ctx) {
  memory_store *ms = (memory_store *)base;
  due_rows out = {0};
  int rc = 0;
  for (int i = 0; i < STRIPES && rc == 0; i++)
    rc = scan_stripe(&ms->stripes[i], from_ms, before_ms, &out);
  cb(ctx, rc, out.rows, out.n);
  for (size_t i = 0; i < out.n; i++)
    free((char *)out.rows[i].type);
  free(out.rows);
  return 0;
}

/* ---- Listing ---- */

/* Offers the records of type in s that hold a key to page. */
static int list_stripe(stripe *s, const char *type, size_t type_len,
                       va_id_page *page) {
  int rc = 0;
  pthread_mutex_lock(&s->lock);
  for (size_t b = 0; b < s->n_buckets && rc == 0; b++)
    for (record *r = s->buckets[b]; r && rc == 0; r = r->next)
      if (r->n_items && r->key_len > type_len &&
          !memcmp(r->key, type, type_len + 1))
        rc = va_id_page_offer(page, r->key + type_len + 1,
                              r->key_len - type_len - 1, 0, NULL);
  pthread_mutex_unlock(&s->lock);
  return rc;
}

/* No index by id either: every record is looked at, as for reminders. */
static int mem_list(va_store *base, const char *type, const char *after,
                    size_t after_len, const char *prefix, size_t prefix_len,
                    size_t limit, va_store_list_cb cb, void *ctx) {
  memory_store *ms = (memory_store *)base;
  if (!limit)
    return VA_EINVAL;
  va_id_page page = {.after = after,
                     .after_len = after_len,
                     .prefix = prefix,
                     .prefix_len = prefix_len,
                     .cap = limit};
  int rc = 0;
  for (int i = 0; i < STRIPES && rc == 0; i++)
    rc = list_stripe(&ms->stripes[i], type, strlen(type), &page);
  va_store_actor *rows = calloc(page.n ? page.n : 1, sizeof(*rows));
  if (!rows)
    rc = VA_ENOMEM;
  for (size_t i = 0; rc == 0 && i < page.n; i++)
    rows[i] = (va_store_actor){page.items[i].id, page.items[i].len, NULL};
  cb(ctx, rc, rows, rc ? 0 : page.n);
  free(rows);
  va_id_page_free(&page);
  return 0;
}

static const va_store_ops memory_ops = {
    .abi_version = VA_STORE_ABI,
    .load = mem_load,
    .save = mem_save,
    .destroy = mem_destroy,
    .reminders_due = mem_reminders_due,
    .list = mem_list,
};

int va_store_memory_new(va_store **out) {
  if (!out)
    return VA_EINVAL;
  memory_store *ms = calloc(1, sizeof(*ms));
  if (!ms)
    return VA_ENOMEM;
  ms->base.ops = &memory_ops;
  for (int i = 0; i < STRIPES; i++) {
    int e = pthread_mutex_init(&ms->stripes[i].lock, NULL);
    if (e) {
      while (i-- > 0)
        pthread_mutex_destroy(&ms->stripes[i].lock);
      free(ms);
      return e == ENOMEM ? VA_ENOMEM : VA_ESYS;
    }
  }
  *out = &ms->base;
  return 0;
}
