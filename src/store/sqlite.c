/* sqlite.c — the SQLite state store: one database file in WAL mode.
 *
 * Saves go to a writer thread that commits them in groups: it takes every
 * save queued since its last commit, applies them in one transaction and
 * commits once — one fsync for the whole group in durable mode — while the
 * saves that arrive meanwhile form the next group. Loads run on a reader
 * thread with a connection of its own (WAL lets it read while the writer
 * writes). Callbacks run on these threads; nothing here blocks a caller
 * beyond a short queue lock.
 *
 * Schema: actor(type, id, version) and state(type, id, key, value, expires),
 * expires in wall-clock ms (0: never), and reminder(type, id, name, due),
 * the due index, written from the reminder fields of the writes (never
 * from their keys or values). A save is conditional on the actor's version
 * (the fence a cluster will rely on). */
#include "../base/assert.h"
#include "../base/clock.h"
#include "../base/id_page.h"
#include "store.h"
#include "write_copy.h"
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

/* A load or a save, in one allocation: the struct, then the id, then (for
 * a save) the writes and their keys, values and reminder names, copied
 * from the caller. */
typedef struct request {
  struct request *next;
  const char *type; /* borrowed: type names outlive the store's use */
  char *id;
  size_t id_len;
  uint64_t version;       /* saves */
  va_store_write *writes; /* saves: pointing into this block */
  size_t n;
  va_store_save_cb save_cb;
  va_store_load_cb load_cb;
  va_store_due_cb due_cb;   /* a due-reminders query: [from, before) */
  va_store_list_cb list_cb; /* a listing: id is its cursor */
  const char *prefix;       /* a listing's, in this block */
  size_t prefix_len, limit;
  int64_t from_ms, before_ms;
  void *ctx;
  int status;
  struct merged *merged; /* saves: its actor's entry in the group */
} request;

typedef struct queue {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  request *head, *tail;
  bool stop;
} queue;

typedef struct sqlite_store {
  va_store base;
  va_store_sqlite_options opts;
  sqlite3 *wdb, *rdb;
  sqlite3_stmt *insert_actor, *bump_version, *put, *del;         /* writer's */
  sqlite3_stmt *put_reminder, *del_reminder, *due_reminders;     /* writer's */
  sqlite3_stmt *get_version, *get_state, *begin_read, *end_read; /* reader's */
  sqlite3_stmt *list_range, *list_from;                          /* reader's */
  pthread_t writer, reader;
  bool writer_started, reader_started;
  queue saves, loads;
  _Atomic uint64_t commits, saved, failed_commits;
} sqlite_store;

/* ---- Queues ---- */

/* 0, or the error of pthread_mutex_init / pthread_cond_init (then q has
 * nothing to destroy). */
static int queue_init(queue *q) {
  q->head = q->tail = NULL;
  q->stop = false;
  int e = pthread_mutex_init(&q->lock, NULL);
  if (e)
    return e;
  if ((e = pthread_cond_init(&q->cond, NULL)))
    pthread_mutex_destroy(&q->lock);
  return e;
}

static void queue_destroy(queue *q) {
  pthread_cond_destroy(&q->cond);
  pthread_mutex_destroy(&q->lock);
}

static void queue_put(queue *q, request *r) {
  r->next = NULL;
  pthread_mutex_lock(&q->lock);
  if (q->tail)
    q->tail->next = r;
  else
    q->head = r;
  q->tail = r;
  pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

/* Waits for requests and takes all of them (a group is whatever queued up
 * during the last commit). NULL once stopped and empty, or after wait_ms
 * (when not 0) with nothing to take. */
static request *queue_take_for(queue *q, uint32_t wait_ms) {
  struct timespec until = va_clock_deadline(wait_ms);
  pthread_mutex_lock(&q->lock);
  while (!q->head && !q->stop)
    if (wait_ms ? pthread_cond_timedwait(&q->cond, &q->lock, &until) != 0
                : pthread_cond_wait(&q->cond, &q->lock) != 0)
      break;
  request *all = q->head;
  q->head = q->tail = NULL;
  pthread_mutex_unlock(&q->lock);
  return all;
}

static request *queue_take(queue *q) {
  return queue_take_for(q, 0);
}

static bool queue_stopped(queue *q) {
  pthread_mutex_lock(&q->lock);
  bool stopped = q->stop && !q->head;
  pthread_mutex_unlock(&q->lock);
  return stopped;
}

static void queue_stop(queue *q) {
  pthread_mutex_lock(&q->lock);
  q->stop = true;
  pthread_cond_broadcast(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

static void request_free(request *r) {
  free(r);
}

/* ---- Telling the operator ---- */

/* Hands one event to the log callback of s's options, if any. */
static void tell(const sqlite_store *s, const char *what,
                 const va_store_log_field *fields, size_t n) {
  if (s->opts.log)
    s->opts.log(s->opts.log_user, VA_LOG_ERROR, what, fields, n);
}

enum { EXTRA_MAX = 2 };

/* Tells what SQLite said about its last failure on db (NULL: none, rc says
 * it all): its message, its extended result code and, for an I/O or open
 * failure, the errno's text SQLite kept, if any. what is a fixed text
 * ("state commit failed"); extra holds up to EXTRA_MAX fields of the
 * caller's, told first. Call it before anything else runs on db. */
static void log_failure(const sqlite_store *s, sqlite3 *db, int rc,
                        const char *what, const va_store_log_field *extra,
                        size_t n_extra) {
  VA_ASSERT(n_extra <= EXTRA_MAX);
  if (!s->opts.log)
    return;
  int code = db ? sqlite3_extended_errcode(db) : rc;
  int os =
      db && ((code & 0xff) == SQLITE_IOERR || (code & 0xff) == SQLITE_CANTOPEN)
          ? sqlite3_system_errno(db)
          : 0;
  va_store_log_field fields[EXTRA_MAX + 3];
  char os_text[128];
  size_t n = 0;
  for (; n < n_extra; n++)
    fields[n] = extra[n];
  fields[n++] = (va_store_log_field){
      "error", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), 0};
  fields[n++] = (va_store_log_field){"code", NULL, code};
  if (os)
    fields[n++] = (va_store_log_field){
        "os_error", strerror_r(os, os_text, sizeof(os_text)), 0};
  tell(s, what, fields, n);
}

/* ---- The writer ---- */

/* Binds (type, id) as ?1 and ?2. The reset's code is the last step's,
 * which was looked at then. */
static int bind_actor(sqlite3_stmt *st, const request *r) {
  (void)sqlite3_reset(st);
  int rc = sqlite3_bind_text(st, 1, r->type, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob64(st, 2, r->id, (sqlite3_uint64)r->id_len,
                             SQLITE_STATIC);
  return rc;
}

/* Steps a statement that returns no row. (The reset repeats the step's
 * code, which is returned.) */
static int run(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  (void)sqlite3_reset(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The saves of one actor in one group, merged. They come from one
 * activation one after the other (their versions follow each other), so
 * only the last value of each key and the final version need writing: when
 * the writer falls behind, its groups grow and each actor costs one version
 * update and one write per key however many turns it ran. */
typedef struct merged {
  const request *first; /* type and id */
  uint64_t hash;
  uint64_t version;       /* expected before the first save */
  uint64_t count;         /* saves merged */
  va_store_write *writes; /* last write of each key, deletions included;
                             the array is owned, what it points to is
                             borrowed from the requests, which outlive it */
  size_t n_writes, cap_writes;
  int status;
} merged;

static va_store_write *merged_find(merged *m, const char *key) {
  for (size_t i = 0; i < m->n_writes; i++)
    if (!strcmp(m->writes[i].key, key))
      return &m->writes[i];
  return NULL;
}

/* Adds r's writes to m: a later write of a key replaces the earlier. */
static int merge_writes(merged *m, const request *r) {
  if (m->n_writes + r->n > m->cap_writes) {
    size_t cap = m->n_writes + r->n;
    va_store_write *more = realloc(m->writes, cap * sizeof(*more));
    if (!more)
      return VA_ENOMEM;
    m->writes = more;
    m->cap_writes = cap;
  }
  for (size_t i = 0; i < r->n; i++) {
    va_store_write *e = merged_find(m, r->writes[i].key);
    if (e)
      *e = r->writes[i];
    else
      m->writes[m->n_writes++] = r->writes[i];
  }
  return 0;
}

typedef struct merge_table {
  merged *slots; /* hash == 0 and first == NULL: empty */
  size_t mask;
} merge_table;

static merged *merge_slot(merge_table *t, const request *r, uint64_t hash) {
  for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
    merged *m = &t->slots[i];
    if (!m->first || (m->hash == hash && m->first->type == r->type &&
                      m->first->id_len == r->id_len &&
                      !memcmp(m->first->id, r->id, r->id_len)))
      return m;
  }
}

/* Keeps the due index in step with a reminder's write: its name and due
 * time, as the write says. */
static int index_reminder(sqlite_store *s, const request *actor,
                          const va_store_write *w) {
  sqlite3_stmt *st = w->deleted ? s->del_reminder : s->put_reminder;
  int rc = bind_actor(st, actor);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 3, w->reminder, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && !w->deleted)
    rc = sqlite3_bind_int64(st, 4, w->due_ms);
  return rc == SQLITE_OK ? run(st) : rc;
}

/* Writes (or deletes) one key of an actor. */
static int write_key(sqlite_store *s, const request *actor,
                     const va_store_write *w) {
  sqlite3_stmt *st = w->deleted ? s->del : s->put;
  int rc = bind_actor(st, actor);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 3, w->key, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && !w->deleted) {
    rc = sqlite3_bind_blob64(st, 4, w->val ? w->val : "",
                             (sqlite3_uint64)w->len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_int64(st, 5, w->expires_ms);
  }
  return rc == SQLITE_OK ? run(st) : rc;
}

/* Writes one merged actor inside the open transaction. VA_ESTORE on a
 * version mismatch (nothing written), a SQLite code on failure. */
static int apply_merged(sqlite_store *s, merged *m) {
  /* The fence first: no write happens unless the version matches. */
  sqlite3_stmt *st = m->version ? s->bump_version : s->insert_actor;
  int rc = bind_actor(st, m->first);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(
        st, 3, (sqlite3_int64)(m->version ? m->version : m->count));
  if (rc == SQLITE_OK && m->version)
    rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)m->count);
  if (rc == SQLITE_OK)
    rc = run(st);
  if (rc != SQLITE_OK)
    return rc;
  if (sqlite3_changes(s->wdb) != 1)
    return VA_ESTORE;
  for (size_t i = 0; i < m->n_writes && rc == SQLITE_OK; i++) {
    const va_store_write *w = &m->writes[i];
    rc = write_key(s, m->first, w);
    if (rc == SQLITE_OK && w->reminder)
      rc = index_reminder(s, m->first, w);
  }
  return rc;
}

static int exec(sqlite3 *db, const char *sql) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Merges the group per actor. A save whose version does not follow its
 * actor's previous one (after a failure, a reload) cannot be merged: it is
 * marked to fail, as the store would refuse it anyway. */
static int merge_group(request *group, size_t n, merge_table *t) {
  size_t cap = 16;
  while (cap < 2 * n)
    cap *= 2;
  if (!(t->slots = calloc(cap, sizeof(*t->slots))))
    return VA_ENOMEM;
  t->mask = cap - 1;
  for (request *r = group; r; r = r->next) {
    uint64_t hash = XXH3_64bits(r->id, r->id_len) ^ (uintptr_t)r->type;
    merged *m = merge_slot(t, r, hash);
    if (!m->first) {
      m->first = r;
      m->hash = hash;
      m->version = r->version;
    } else if (r->version != m->version + m->count) {
      r->status = VA_ESTORE;
      continue;
    }
    m->count++;
    r->merged = m;
    if (merge_writes(m, r) != 0)
      return VA_ENOMEM;
  }
  return 0;
}

static void free_table(merge_table *t) {
  for (size_t i = 0; t->slots && i <= t->mask; i++)
    free(t->slots[i].writes); /* what they point to is borrowed */
  free(t->slots);
}

/* Ends the writer's transaction after a failure, if SQLite has not ended
 * it already. One that cannot be ended is told: the next groups then fail
 * to begin (and try again to end it) until it can. */
static void roll_back(sqlite_store *s) {
  if (sqlite3_get_autocommit(s->wdb))
    return;
  int rc = exec(s->wdb, "ROLLBACK");
  if (rc != SQLITE_OK)
    log_failure(s, s->wdb, rc, "state rollback failed", NULL, 0);
}

/* One group: BEGIN, every merged actor, COMMIT; then every callback, in
 * order. */
static void commit_group(sqlite_store *s, request *group) {
  size_t n = 0;
  for (request *r = group; r; r = r->next)
    n++;
  merge_table table = {0};
  int rc = merge_group(group, n, &table) == 0 ? exec(s->wdb, "BEGIN IMMEDIATE")
                                              : SQLITE_NOMEM;
  for (size_t i = 0; rc == SQLITE_OK && i <= table.mask; i++) {
    merged *m = &table.slots[i];
    if (!m->first)
      continue;
    int st = apply_merged(s, m);
    if (st == VA_ESTORE)
      m->status = VA_ESTORE; /* this actor only; the group goes on */
    else if (st != SQLITE_OK)
      rc = st; /* the transaction is in doubt: fail the group */
  }
  if (rc == SQLITE_OK)
    rc = exec(s->wdb, "COMMIT");
  if (rc != SQLITE_OK) {
    va_store_log_field saves = {"saves", NULL, (int64_t)n};
    log_failure(s, rc == SQLITE_NOMEM ? NULL : s->wdb, rc,
                "state commit failed", &saves, 1);
    roll_back(s);
    atomic_fetch_add(&s->failed_commits, 1);
  } else {
    atomic_fetch_add(&s->commits, 1);
  }
  for (request *r = group, *next; r; r = next) {
    next = r->next;
    int status = rc != SQLITE_OK ? VA_ESTORE
                 : r->status     ? r->status
                                 : r->merged->status;
    if (status == 0)
      atomic_fetch_add_explicit(&s->saved, 1, memory_order_relaxed);
    r->save_cb(r->ctx, status);
    request_free(r);
  }
  free_table(&table);
}

/* A passive checkpoint, which syncs the WAL first: true when done; a
 * failure is told (and the caller tries again later). */
static bool checkpoint(sqlite_store *s) {
  int rc = sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                     NULL, NULL);
  if (rc != SQLITE_OK)
    log_failure(s, s->wdb, rc, "state sync failed", NULL, 0);
  return rc == SQLITE_OK;
}

/* Relaxed mode: commits are not fsync'd; a passive checkpoint every
 * relaxed_sync_ms syncs the WAL (SQLite syncs it before checkpointing). A
 * failed one is tried again relaxed_sync_ms later. */
static void sync_if_due(sqlite_store *s, int64_t *last_sync, bool *unsynced) {
  int64_t now = va_clock_wall_ms();
  if (*unsynced && now - *last_sync >= (int64_t)s->opts.relaxed_sync_ms) {
    *last_sync = now;
    *unsynced = !checkpoint(s);
  }
}

static void due_one(sqlite_store *s, request *r);

/* Commits the saves in order; a due-reminders question among them is
 * answered once the saves queued before it are committed. */
static void *writer_main(void *arg) {
  sqlite_store *s = arg;
  /* The workers come first: on a machine with as many cores as workers,
   * a writer at equal priority takes a worker's core in the middle of its
   * pass, and 1,000 connections wait. At nice 5 it runs in their gaps and
   * commits bigger groups (H1: 60 k -> 66-68 k req/s, docs/architecture.md).
   * Failing to lower it changes nothing else. */
  (void)setpriority(PRIO_PROCESS, (id_t)gettid(), 5);
  bool relaxed = s->opts.durability == VA_RELAXED, unsynced = false;
  int64_t last_sync = va_clock_wall_ms();
  for (;;) {
    request *all =
        queue_take_for(&s->saves, relaxed ? s->opts.relaxed_sync_ms : 0);
    if (!all && queue_stopped(&s->saves))
      break;
    unsynced |= all != NULL;
    while (all) {
      request *group = NULL, **tail = &group;
      while (all && !all->due_cb) {
        *tail = all;
        tail = &all->next;
        all = all->next;
      }
      *tail = NULL;
      if (group)
        commit_group(s, group);
      if (all) {
        request *question = all;
        all = all->next;
        due_one(s, question);
        request_free(question);
      }
    }
    if (relaxed) /* after the commits: they are what it syncs */
      sync_if_due(s, &last_sync, &unsynced);
  }
  if (unsynced)          /* stopping: whatever was committed goes to disk */
    (void)checkpoint(s); /* a failure was told; nothing else to do */
  return NULL;
}

/* ---- The reader ---- */

/* The items of a load: each key and value copied into one block (owned),
 * at key. */
typedef struct item_list {
  va_store_item *items;
  size_t n, cap;
} item_list;

static int item_add(item_list *l, const char *key, const void *val, size_t len,
                    int64_t expires_ms) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    va_store_item *more = realloc(l->items, cap * sizeof(*more));
    if (!more)
      return SQLITE_NOMEM;
    l->items = more;
    l->cap = cap;
  }
  size_t kl = strlen(key) + 1;
  char *block = len <= UINT32_MAX ? malloc(kl + len) : NULL;
  if (!block)
    return SQLITE_NOMEM;
  memcpy(block, key, kl);
  if (len)
    memcpy(block + kl, val, len);
  l->items[l->n++] = (va_store_item){block, len ? block + kl : NULL,
                                     (uint32_t)len, expires_ms};
  return SQLITE_OK;
}

static void item_list_free(item_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free((char *)l->items[i].key);
  free(l->items);
}

/* Reads the version of r's actor into *version (0: none) and its keys that
 * have not expired by now into state, inside the open read transaction. */
static int read_actor(sqlite_store *s, const request *r, int64_t now,
                      uint64_t *version, item_list *state) {
  int rc = bind_actor(s->get_version, r);
  if (rc == SQLITE_OK) {
    int step = sqlite3_step(s->get_version);
    if (step == SQLITE_ROW)
      *version = (uint64_t)sqlite3_column_int64(s->get_version, 0);
    else if (step != SQLITE_DONE)
      rc = step;
    (void)sqlite3_reset(s->get_version); /* repeats the step's code */
  }
  if (rc == SQLITE_OK)
    rc = bind_actor(s->get_state, r);
  if (rc != SQLITE_OK)
    return rc;
  sqlite3_stmt *st = s->get_state;
  int step;
  while (rc == SQLITE_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t expires = sqlite3_column_int64(st, 2);
    if (expires && expires <= now)
      continue; /* expired: reads as absent */
    const char *key = (const char *)sqlite3_column_text(st, 0);
    const void *val = sqlite3_column_blob(st, 1);
    int len = sqlite3_column_bytes(st, 1);
    if (!key || (len > 0 && !val)) /* SQLite ran out of memory */
      rc = SQLITE_NOMEM;
    else
      rc = item_add(state, key, val, (size_t)len, expires);
  }
  if (rc == SQLITE_OK && step != SQLITE_DONE)
    rc = step;
  (void)sqlite3_reset(st);
  return rc;
}

static void load_one(sqlite_store *s, request *r) {
  item_list state = {0};
  uint64_t version = 0;
  int rc = run(s->begin_read);
  if (rc == SQLITE_OK)
    rc = read_actor(s, r, va_clock_wall_ms(), &version, &state);
  if (rc != SQLITE_OK)
    log_failure(s, rc == SQLITE_NOMEM ? NULL : s->rdb, rc, "state load failed",
                NULL, 0);
  /* Only reads happened: ending the transaction cannot lose anything, but
   * one left open would fail every later load's BEGIN. */
  if (!sqlite3_get_autocommit(s->rdb)) {
    int end = run(s->end_read);
    if (end != SQLITE_OK)
      log_failure(s, s->rdb, end, "state read end failed", NULL, 0);
  }
  r->load_cb(r->ctx, rc == SQLITE_OK ? 0 : VA_ESTORE, state.items, state.n,
             version, 0);
  item_list_free(&state);
}

/* Answers a due-reminders query through the index on due. */
static void due_one(sqlite_store *s, request *r) {
  va_due_reminder *rows = NULL;
  size_t n = 0, cap = 0;
  sqlite3_stmt *st = s->due_reminders;
  int rc = sqlite3_bind_int64(st, 1, r->from_ms);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, r->before_ms);
  int step = SQLITE_DONE;
  while (rc == SQLITE_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      cap = cap ? cap * 2 : 256;
      va_due_reminder *more = realloc(rows, cap * sizeof(*rows));
      if (!more) {
        rc = SQLITE_NOMEM;
        break;
      }
      rows = more;
    }
    /* The column pointers stay valid until the next step: copy. */
    const char *type = (const char *)sqlite3_column_text(st, 0);
    const char *name = (const char *)sqlite3_column_text(st, 2);
    const void *id = sqlite3_column_blob(st, 1);
    size_t id_len = (size_t)sqlite3_column_bytes(st, 1);
    char *block = NULL;
    if (type && name && (id || !id_len)) /* else SQLite ran out of memory */
      block = malloc(strlen(type) + strlen(name) + 2 + id_len + 1);
    if (!block) {
      rc = SQLITE_NOMEM;
      break;
    }
    size_t tl = strlen(type) + 1, nl = strlen(name) + 1;
    memcpy(block, type, tl);
    memcpy(block + tl, name, nl);
    if (id_len)
      memcpy(block + tl + nl, id, id_len);
    rows[n++] = (va_due_reminder){
        block, block + tl + nl, id_len, block + tl, sqlite3_column_int64(st, 3),
        false};
  }
  if (rc == SQLITE_OK && step != SQLITE_DONE)
    rc = step;
  if (rc != SQLITE_OK)
    log_failure(s, rc == SQLITE_NOMEM ? NULL : s->wdb, rc,
                "reminder query failed", NULL, 0);
  (void)sqlite3_reset(st); /* its code is the step's, handled above */
  r->due_cb(r->ctx, rc == SQLITE_OK ? 0 : VA_ESTORE, rows, n);
  for (size_t i = 0; i < n; i++)
    free((char *)rows[i].type);
  free(rows);
}

/* Answers a listing from the state table's primary key (type, id, key). */
static void list_one(sqlite_store *s, request *r) {
  size_t room = r->id_len + 1 > r->prefix_len ? r->id_len + 1 : r->prefix_len;
  char *from = malloc(room + r->prefix_len + 1);
  size_t from_len = 0, below_len = 0;
  if (from) {
    from_len =
        va_id_range_from(r->id, r->id_len, r->prefix, r->prefix_len, from);
    below_len = va_id_range_below(r->prefix, r->prefix_len, from + room);
  }
  sqlite3_stmt *st = below_len ? s->list_range : s->list_from;
  va_store_actor *rows = calloc(r->limit, sizeof(*rows));
  size_t n = 0;
  int rc = from && rows ? SQLITE_OK : SQLITE_NOMEM;
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 1, r->type, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob(st, 2, from, (int)from_len, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 3, (sqlite3_int64)r->limit);
  if (rc == SQLITE_OK && below_len)
    rc = sqlite3_bind_blob(st, 4, from + room, (int)below_len, SQLITE_STATIC);
  int step = SQLITE_DONE;
  while (rc == SQLITE_OK && n < r->limit &&
         (step = sqlite3_step(st)) == SQLITE_ROW) {
    const void *id = sqlite3_column_blob(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    char *copy = malloc(len + 1);
    if (!copy || (len && !id)) {
      free(copy);
      rc = SQLITE_NOMEM;
      break;
    }
    if (len)
      memcpy(copy, id, len);
    copy[len] = '\0';
    rows[n++] = (va_store_actor){copy, len, NULL};
  }
  if (rc == SQLITE_OK && step != SQLITE_DONE && step != SQLITE_ROW)
    rc = step;
  if (rc != SQLITE_OK)
    log_failure(s, rc == SQLITE_NOMEM ? NULL : s->rdb, rc, "listing failed",
                NULL, 0);
  (void)sqlite3_reset(st); /* its code is the step's, handled above */
  r->list_cb(r->ctx, rc == SQLITE_OK ? 0 : VA_ESTORE, rows,
             rc == SQLITE_OK ? n : 0);
  for (size_t i = 0; i < n; i++)
    free((char *)rows[i].id);
  free(rows);
  free(from);
}

static void *reader_main(void *arg) {
  sqlite_store *s = arg;
  request *batch;
  while ((batch = queue_take(&s->loads))) {
    for (request *r = batch, *next; r; r = next) {
      next = r->next;
      if (r->list_cb)
        list_one(s, r);
      else
        load_one(s, r);
      request_free(r);
    }
  }
  return NULL;
}

/* ---- The interface ---- */

/* A request with room for extra bytes after the id. */
static request *new_request(const char *type, const char *id, size_t id_len,
                            size_t extra) {
  request *r = malloc(sizeof(*r) + id_len + extra);
  if (!r)
    return NULL;
  memset(r, 0, sizeof(*r));
  r->type = type;
  r->id_len = id_len;
  r->id = (char *)(r + 1);
  memcpy(r->id, id, id_len);
  return r;
}

static int sq_load(va_store *base, const char *type, const char *id,
                   size_t id_len, va_store_load_cb cb, void *ctx) {
  sqlite_store *s = (sqlite_store *)base;
  request *r = new_request(type, id, id_len, 0);
  if (!r)
    return VA_ENOMEM;
  r->load_cb = cb;
  r->ctx = ctx;
  queue_put(&s->loads, r);
  return 0;
}

static int sq_save(va_store *base, const char *type, const char *id,
                   size_t id_len, uint64_t version, uint64_t epoch,
                   const va_store_write *writes, size_t n, va_store_save_cb cb,
                   void *ctx) {
  (void)epoch; /* one node: nothing to fence */
  sqlite_store *s = (sqlite_store *)base;
  /* One block: the writes array (aligned after the id), then each key,
   * value and reminder name. */
  size_t array_at = (id_len + 7) & ~(size_t)7;
  size_t extra = array_at - id_len + n * sizeof(*writes);
  for (size_t i = 0; i < n; i++)
    extra += va__write_copy_size(&writes[i]);
  request *r = new_request(type, id, id_len, extra);
  if (!r)
    return VA_ENOMEM;
  r->version = version;
  r->save_cb = cb;
  r->ctx = ctx;
  r->n = n;
  r->writes = (va_store_write *)(r->id + array_at);
  char *p = (char *)(r->writes + n);
  for (size_t i = 0; i < n; i++)
    va__write_copy(&writes[i], &r->writes[i], &p);
  VA_ASSERT(p == r->id + id_len + extra);
  queue_put(&s->saves, r);
  return 0;
}

static int sq_reminders_due(va_store *base, int64_t from_ms, int64_t before_ms,
                            va_store_due_cb cb, void *ctx) {
  sqlite_store *s = (sqlite_store *)base;
  request *r = new_request("", "", 0, 0);
  if (!r)
    return VA_ENOMEM;
  r->due_cb = cb;
  r->ctx = ctx;
  r->from_ms = from_ms;
  r->before_ms = before_ms;
  /* Behind the saves already queued: its answer includes them. */
  queue_put(&s->saves, r);
  return 0;
}

static int sq_list(va_store *base, const char *type, const char *after,
                   size_t after_len, const char *prefix, size_t prefix_len,
                   size_t limit, va_store_list_cb cb, void *ctx) {
  sqlite_store *s = (sqlite_store *)base;
  if (!limit || after_len > INT_MAX || prefix_len > INT_MAX)
    return VA_EINVAL;
  request *r = new_request(type, after, after_len, prefix_len);
  if (!r)
    return VA_ENOMEM;
  memcpy(r->id + after_len, prefix, prefix_len);
  r->prefix = r->id + after_len;
  r->prefix_len = prefix_len;
  r->limit = limit;
  r->list_cb = cb;
  r->ctx = ctx;
  queue_put(&s->loads, r);
  return 0;
}

static void finalize_all(sqlite_store *s) {
  sqlite3_stmt *all[] = {s->insert_actor, s->bump_version,  s->put,
                         s->del,          s->put_reminder,  s->del_reminder,
                         s->get_version,  s->get_state,     s->begin_read,
                         s->end_read,     s->due_reminders, s->list_range,
                         s->list_from};
  /* finalize returns the statement's last step error, seen then. */
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    (void)sqlite3_finalize(all[i]);
}

/* Closes db (NULL: nothing). Every statement is finalized, so it closes. */
static void close_db(sqlite3 *db) {
  int rc = sqlite3_close(db);
  VA_ASSERT(rc == SQLITE_OK);
  (void)rc;
}

static void sq_destroy(va_store *base) {
  sqlite_store *s = (sqlite_store *)base;
  /* Stopping drains: both threads finish what is queued first. */
  queue_stop(&s->saves);
  queue_stop(&s->loads);
  if (s->writer_started)
    pthread_join(s->writer, NULL);
  if (s->reader_started)
    pthread_join(s->reader, NULL);
  finalize_all(s);
  close_db(s->wdb);
  close_db(s->rdb);
  queue_destroy(&s->saves);
  queue_destroy(&s->loads);
  free(s);
}

static void sq_stats(va_store *base, uint64_t *commits, uint64_t *saves) {
  sqlite_store *s = (sqlite_store *)base;
  *commits = atomic_load(&s->commits);
  *saves = atomic_load(&s->saved);
}

static const va_store_ops sqlite_ops = {
    .abi_version = VA_STORE_ABI,
    .load = sq_load,
    .save = sq_save,
    .destroy = sq_destroy,
    .stats = sq_stats,
    .reminders_due = sq_reminders_due,
    .list = sq_list,
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS actor("
    "  type TEXT NOT NULL, id BLOB NOT NULL, version INTEGER NOT NULL,"
    "  PRIMARY KEY(type, id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS state("
    "  type TEXT NOT NULL, id BLOB NOT NULL, key TEXT NOT NULL,"
    "  value BLOB NOT NULL, expires INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(type, id, key)) WITHOUT ROWID;"
    /* The due index: the reminders the writes named, by due time. */
    "CREATE TABLE IF NOT EXISTS reminder("
    "  type TEXT NOT NULL, id BLOB NOT NULL, name TEXT NOT NULL,"
    "  due INTEGER NOT NULL, PRIMARY KEY(type, id, name)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS reminder_due ON reminder(due);";

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st) {
  return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
}

static int open_db(const char *path, bool durable, sqlite3 **db) {
  int rc = sqlite3_open_v2(
      path, db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_busy_timeout(*db, 5000);
  if (rc == SQLITE_OK)
    rc = exec(*db, "PRAGMA journal_mode=WAL");
  if (rc == SQLITE_OK)
    rc = exec(*db, "PRAGMA wal_autocheckpoint=16384"); /* 64 MiB of WAL */
  if (rc == SQLITE_OK)
    rc = exec(*db, durable ? "PRAGMA synchronous=FULL"
                           : "PRAGMA synchronous=NORMAL");
  /* Pages read from the file stay in this connection's cache (64 MiB, not
   * the default 2 MiB): with 10,000 actors saving at random, a small cache
   * re-read pages through read() on every commit (the H1 profile's
   * vfs_read / filemap / copy_to_iter, see docs/architecture.md). */
  if (rc == SQLITE_OK)
    rc = exec(*db, "PRAGMA cache_size=-65536");
  return rc;
}

/* Opens both connections, creates the schema, prepares the statements.
 * On failure, *failed is the connection SQLite's message is on (NULL: out
 * of memory before there was one). */
static int setup(sqlite_store *s, const char *path, sqlite3 **failed) {
  bool durable = s->opts.durability == VA_DURABLE;
  *failed = NULL;
  int rc = open_db(path, durable, &s->wdb);
  if (rc == SQLITE_OK)
    rc = exec(s->wdb, schema);
  if (rc != SQLITE_OK) {
    *failed = s->wdb;
    return rc;
  }
  rc = open_db(path, durable, &s->rdb);
  if (rc != SQLITE_OK) {
    *failed = s->rdb;
    return rc;
  }
  const struct {
    sqlite3 *db;
    const char *sql;
    sqlite3_stmt **st;
  } stmts[] = {
      {s->wdb,
       "INSERT INTO actor(type, id, version) VALUES(?1, ?2, ?3)"
       " ON CONFLICT DO NOTHING",
       &s->insert_actor},
      {s->wdb,
       "UPDATE actor SET version = version + ?4"
       " WHERE type = ?1 AND id = ?2 AND version = ?3",
       &s->bump_version},
      {s->wdb,
       "INSERT INTO state(type, id, key, value, expires)"
       " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(type, id, key)"
       " DO UPDATE SET value = excluded.value, expires = excluded.expires",
       &s->put},
      {s->wdb, "DELETE FROM state WHERE type = ?1 AND id = ?2 AND key = ?3",
       &s->del},
      {s->wdb,
       "INSERT INTO reminder(type, id, name, due)"
       " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(type, id, name)"
       " DO UPDATE SET due = excluded.due",
       &s->put_reminder},
      {s->wdb, "DELETE FROM reminder WHERE type = ?1 AND id = ?2 AND name = ?3",
       &s->del_reminder},
      {s->wdb,
       "SELECT type, id, name, due FROM reminder"
       " WHERE due >= ?1 AND due < ?2",
       &s->due_reminders},
      {s->rdb, "SELECT version FROM actor WHERE type = ?1 AND id = ?2",
       &s->get_version},
      {s->rdb,
       "SELECT key, value, expires FROM state"
       " WHERE type = ?1 AND id = ?2",
       &s->get_state},
      /* A listing: ids from ?2 (va_id_range_from) to below ?4. */
      {s->rdb,
       "SELECT DISTINCT id FROM state WHERE type = ?1 AND id >= ?2"
       " AND id < ?4 ORDER BY id LIMIT ?3",
       &s->list_range},
      {s->rdb,
       "SELECT DISTINCT id FROM state WHERE type = ?1 AND id >= ?2"
       " ORDER BY id LIMIT ?3",
       &s->list_from},
      {s->rdb, "BEGIN", &s->begin_read},
      {s->rdb, "COMMIT", &s->end_read},
  };
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof(stmts) / sizeof(stmts[0]);
       i++)
    if ((rc = prepare(stmts[i].db, stmts[i].sql, stmts[i].st)) != SQLITE_OK)
      *failed = stmts[i].db;
  return rc;
}

/* Starts the writer and the reader: 0, or pthread_create's error. */
static int start_threads(sqlite_store *s) {
  int e = pthread_create(&s->writer, NULL, writer_main, s);
  s->writer_started = e == 0;
  if (e == 0)
    s->reader_started =
        (e = pthread_create(&s->reader, NULL, reader_main, s)) == 0;
  return e;
}

/* Both queues, or neither: 0 or the error of the one that failed. */
static int init_queues(sqlite_store *s) {
  int e = queue_init(&s->saves);
  if (e == 0 && (e = queue_init(&s->loads)) != 0)
    queue_destroy(&s->saves);
  return e;
}

int va_store_sqlite_open(const char *path, const va_store_sqlite_options *opts,
                         va_store **out) {
  if (!path || !out)
    return VA_EINVAL;
  sqlite_store *s = calloc(1, sizeof(*s));
  if (!s)
    return VA_ENOMEM;
  s->base.ops = &sqlite_ops;
  if (opts)
    s->opts = *opts;
  int e = init_queues(s);
  if (e) {
    free(s);
    return e == ENOMEM ? VA_ENOMEM : VA_ESYS;
  }
  sqlite3 *failed;
  int rc = setup(s, path, &failed);
  if (rc != SQLITE_OK) {
    va_store_log_field where = {"path", path, 0};
    log_failure(s, failed, rc, "cannot open the store", &where, 1);
    rc = VA_ESTORE;
  } else if ((e = start_threads(s)) != 0) {
    char text[128];
    va_store_log_field why = {"error", strerror_r(e, text, sizeof(text)), 0};
    tell(s, "cannot start the store's threads", &why, 1);
    rc = VA_ESYS;
  }
  if (rc) {
    sq_destroy(&s->base);
    return rc;
  }
  *out = &s->base;
  return 0;
}
