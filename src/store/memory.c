/* memory.c — the in-memory state store: a hash map from "type\0id" to the
 * actor's entries and version, split into stripes with a mutex each so that
 * workers rarely meet on a lock. Completes every call before returning. */
#include "store.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

enum { STRIPES = 64 };

typedef struct record {
  struct record *next;
  uint64_t hash;
  uint64_t version;
  va_kvmap state;
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
    cb(ctx, 0, r->state.items, r->state.n, r->version);
  else
    cb(ctx, 0, NULL, 0, 0);
  pthread_mutex_unlock(&s->lock);
  free(key);
  return 0;
}

static int apply(stripe *s, const char *key, size_t len, uint64_t hash,
                 uint64_t version, const va_kv *writes, size_t n) {
  record *r = find(s, key, len, hash);
  if ((r ? r->version : 0) != version)
    return VA_ESTORE;
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
  /* Copy the writes first, so that a failure leaves the record as it was. */
  va_kvmap copy = {0};
  for (size_t i = 0; i < n; i++) {
    if (va__kvmap_put(&copy, writes[i].key, writes[i].val, writes[i].len,
                      writes[i].tomb) != 0) {
      va__kvmap_clear(&copy);
      return VA_ENOMEM;
    }
    va__kvmap_find(&copy, writes[i].key)->expires_ms = writes[i].expires_ms;
  }
  if (va__kvmap_apply(&r->state, &copy) != 0) {
    va__kvmap_clear(&copy);
    return VA_ENOMEM;
  }
  va__kvmap_clear(&copy);
  r->version = version + 1;
  return 0;
}

static int mem_save(va_store *base, const char *type, const char *id,
                    size_t id_len, uint64_t version, const va_kv *writes,
                    size_t n, va_store_save_cb cb, void *ctx) {
  memory_store *ms = (memory_store *)base;
  char *key;
  size_t len = make_key(type, id, id_len, &key);
  if (!key)
    return VA_ENOMEM;
  uint64_t hash = XXH3_64bits(key, len);
  stripe *s = &ms->stripes[hash % STRIPES];
  pthread_mutex_lock(&s->lock);
  int rc = apply(s, key, len, hash, version, writes, n);
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
        va__kvmap_clear(&r->state);
        free(r);
      }
    }
    free(s->buckets);
    pthread_mutex_destroy(&s->lock);
  }
  free(ms);
}

/* Reminders due in [from, before): the memory store has no index and
 * scans every record (it serves tests and small programs). */
static int mem_reminders_due(va_store *base, int64_t from_ms,
                             int64_t before_ms, va_store_due_cb cb,
                             void *ctx) {
  memory_store *ms = (memory_store *)base;
  va_due_reminder *rows = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  for (int i = 0; i < STRIPES && rc == 0; i++) {
    stripe *s = &ms->stripes[i];
    pthread_mutex_lock(&s->lock);
    for (size_t b = 0; b < s->n_buckets && rc == 0; b++) {
      for (record *r = s->buckets[b]; r && rc == 0; r = r->next) {
        for (uint32_t k = 0; k < r->state.n; k++) {
          va_kv *kv = &r->state.items[k];
          int64_t due = 0;
          if (strncmp(kv->key, "\x01r:", 3) || kv->len < 8)
            continue;
          memcpy(&due, kv->val, 8);
          if (due < from_ms || due >= before_ms)
            continue;
          if (n == cap) {
            cap = cap ? cap * 2 : 64;
            va_due_reminder *more = realloc(rows, cap * sizeof(*rows));
            if (!more) {
              rc = VA_ENOMEM;
              break;
            }
            rows = more;
          }
          /* The record key is "type\0id": copy it with the name. */
          size_t tl = strlen(r->key) + 1, il = r->key_len - tl;
          size_t nl = strlen(kv->key + 3) + 1;
          char *block = malloc(r->key_len + nl);
          if (!block) {
            rc = VA_ENOMEM;
            break;
          }
          memcpy(block, r->key, r->key_len);
          memcpy(block + r->key_len, kv->key + 3, nl);
          rows[n++] = (va_due_reminder){block, block + tl, il,
                                        block + r->key_len, due};
        }
      }
    }
    pthread_mutex_unlock(&s->lock);
  }
  cb(ctx, rc, rows, n);
  for (size_t i = 0; i < n; i++)
    free((char *)rows[i].type);
  free(rows);
  return 0;
}

static const va_store_ops memory_ops = {
    .abi_version = VA_STORE_ABI,
    .load = mem_load,
    .save = mem_save,
    .destroy = mem_destroy,
    .reminders_due = mem_reminders_due,
};

int va__store_memory_new(va_store **out) {
  memory_store *ms = calloc(1, sizeof(*ms));
  if (!ms)
    return VA_ENOMEM;
  ms->base.ops = &memory_ops;
  for (int i = 0; i < STRIPES; i++)
    pthread_mutex_init(&ms->stripes[i].lock, NULL);
  *out = &ms->base;
  return 0;
}
