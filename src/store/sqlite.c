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
 * expires in wall-clock ms (0: never). A save is conditional on the
 * actor's version (the fence a cluster will rely on). */
#include "store.h"
#include "../base/clock.h"
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdatomic.h>
#include <xxhash.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* A load or a save, in one allocation: the struct, then the id, then (for
 * a save) the writes and their keys and values, copied from the caller. */
typedef struct request {
  struct request *next;
  const char *type; /* borrowed: type names outlive the store's use */
  char *id;
  size_t id_len;
  uint64_t version;  /* saves */
  va_kv *writes;     /* saves: pointing into this block */
  size_t n;
  va_store_save_cb save_cb;
  va_store_load_cb load_cb;
  va_store_due_cb due_cb; /* a due-reminders query: [from, before) */
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
  sqlite3_stmt *insert_actor, *bump_version, *put, *del; /* writer's */
  sqlite3_stmt *put_reminder, *del_reminder, *due_reminders; /* writer's */
  sqlite3_stmt *get_version, *get_state, *begin_read, *end_read; /* reader's */
  pthread_t writer, reader;
  bool writer_started, reader_started;
  queue saves, loads;
  _Atomic uint64_t commits, saved, failed_commits;
} sqlite_store;

/* ---- Queues ---- */

static void queue_init(queue *q) {
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->cond, NULL);
  q->head = q->tail = NULL;
  q->stop = false;
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
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += wait_ms / 1000;
  until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
  if (until.tv_nsec >= 1000000000) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000;
  }
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

static request *queue_take(queue *q) { return queue_take_for(q, 0); }

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

static void request_free(request *r) { free(r); }

/* ---- Telling the operator ---- */

/* Logs what SQLite said about its last failure on db (NULL: none, rc
 * says it all): its message, its extended result code and, for an I/O or
 * open failure, the errno's text SQLite kept, if any. what is a fixed text
 * ("state commit failed"); extra holds logfmt fields made by the caller
 * (may be ""). Call it before anything else runs on db. */
static void log_failure(va_runtime *log, sqlite3 *db, int rc,
                        const char *what, const char *extra) {
  if (!log)
    return;
  const char *message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int code = db ? sqlite3_extended_errcode(db) : rc;
  int os = db && ((code & 0xff) == SQLITE_IOERR ||
                  (code & 0xff) == SQLITE_CANTOPEN)
               ? sqlite3_system_errno(db)
               : 0;
  char quoted[512], os_text[160] = "";
  va_log_quote(message, strlen(message), quoted, sizeof(quoted));
  if (os) {
    const char *text = strerror(os);
    char q[128];
    snprintf(os_text, sizeof(os_text), " os_error=%s",
             va_log_quote(text, strlen(text), q, sizeof(q)));
  }
  va_log(log, VA_LOG_ERROR, what, "%s%serror=%s code=%d%s", extra,
         *extra ? " " : "", quoted, code, os_text);
}

/* ---- The writer ---- */

static int bind_actor(sqlite3_stmt *st, const request *r) {
  sqlite3_reset(st);
  int rc = sqlite3_bind_text(st, 1, r->type, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob(st, 2, r->id, (int)r->id_len, SQLITE_STATIC);
  return rc;
}

/* Steps a statement that returns no row. */
static int run(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
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
  uint64_t version; /* expected before the first save */
  uint64_t count;   /* saves merged */
  va_kvmap writes;  /* last write of each key, tombstones included;
                       borrowed from the requests, which outlive it */
  int status;
} merged;

/* Adds r's writes to m: a later write of a key replaces the earlier. */
static int merge_writes(merged *m, const request *r) {
  if (va__kvmap_reserve(&m->writes, (uint32_t)r->n) != 0)
    return VA_ENOMEM;
  for (size_t i = 0; i < r->n; i++) {
    va_kv *e = va__kvmap_find(&m->writes, r->writes[i].key);
    if (e)
      *e = r->writes[i];
    else
      m->writes.items[m->writes.n++] = r->writes[i];
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

/* Keeps the reminder index in step with a reminder key's write. */
static int index_reminder(sqlite_store *s, const request *actor,
                          const va_kv *w) {
  sqlite3_stmt *st = w->tomb ? s->del_reminder : s->put_reminder;
  int rc = bind_actor(st, actor);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, 3, w->key + 3, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && !w->tomb) {
    int64_t due = 0;
    if (w->len >= 8)
      memcpy(&due, w->val, 8);
    rc = sqlite3_bind_int64(st, 4, due);
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
    rc = sqlite3_bind_int64(st, 3, (sqlite3_int64)(m->version ? m->version
                                                              : m->count));
  if (rc == SQLITE_OK && m->version)
    rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)m->count);
  if (rc == SQLITE_OK)
    rc = run(st);
  if (rc != SQLITE_OK)
    return rc;
  if (sqlite3_changes(s->wdb) != 1)
    return VA_ESTORE;
  for (uint32_t i = 0; i < m->writes.n && rc == SQLITE_OK; i++) {
    const va_kv *w = &m->writes.items[i];
    st = w->tomb ? s->del : s->put;
    rc = bind_actor(st, m->first);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_text(st, 3, w->key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && !w->tomb) {
      rc = sqlite3_bind_blob(st, 4, w->val ? w->val : "", (int)w->len,
                             SQLITE_STATIC);
      if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 5, w->expires_ms);
    }
    if (rc == SQLITE_OK)
      rc = run(st);
    if (rc == SQLITE_OK && !strncmp(w->key, "\x01r:", 3))
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
    free(t->slots[i].writes.items); /* the entries are borrowed */
  free(t->slots);
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
    char fields[64];
    snprintf(fields, sizeof(fields), "saves=%zu", n);
    log_failure(s->opts.log, rc == SQLITE_NOMEM ? NULL : s->wdb, rc,
                "state commit failed", fields);
    exec(s->wdb, "ROLLBACK");
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

static void due_one(sqlite_store *s, request *r);

/* Commits the saves in order; a due-reminders question among them is
 * answered once the saves queued before it are committed. */
/* Relaxed mode: commits are not fsync'd; a passive checkpoint every
 * relaxed_sync_ms syncs the WAL (SQLite syncs it before checkpointing). */
static void sync_if_due(sqlite_store *s, int64_t *last_sync, bool *unsynced) {
  int64_t now = va_clock_wall_ms();
  if (*unsynced && now - *last_sync >= (int64_t)s->opts.relaxed_sync_ms) {
    sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                              NULL);
    *last_sync = now;
    *unsynced = false;
  }
}

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
    request *all = queue_take_for(&s->saves,
                                  relaxed ? s->opts.relaxed_sync_ms : 0);
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
  if (unsynced) /* stopping: whatever was committed goes to disk */
    sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                              NULL);
  return NULL;
}

/* ---- The reader ---- */

static void load_one(sqlite_store *s, request *r) {
  va_kvmap state = {0};
  uint64_t version = 0;
  int64_t now = va_clock_wall_ms();
  int rc = run(s->begin_read);
  if (rc == SQLITE_OK && (rc = bind_actor(s->get_version, r)) == SQLITE_OK) {
    int step = sqlite3_step(s->get_version);
    if (step == SQLITE_ROW)
      version = (uint64_t)sqlite3_column_int64(s->get_version, 0);
    else if (step != SQLITE_DONE)
      rc = step;
    sqlite3_reset(s->get_version);
  }
  if (rc == SQLITE_OK && (rc = bind_actor(s->get_state, r)) == SQLITE_OK) {
    int step;
    while ((step = sqlite3_step(s->get_state)) == SQLITE_ROW) {
      int64_t expires = sqlite3_column_int64(s->get_state, 2);
      if (expires && expires <= now)
        continue; /* expired: reads as absent */
      const char *key = (const char *)sqlite3_column_text(s->get_state, 0);
      const void *val = sqlite3_column_blob(s->get_state, 1);
      int len = sqlite3_column_bytes(s->get_state, 1);
      if (va__kvmap_put(&state, key, val, (size_t)len, false) != 0) {
        rc = SQLITE_NOMEM;
        break;
      }
      state.items[state.n - 1].expires_ms = expires;
    }
    if (rc == SQLITE_OK && step != SQLITE_DONE)
      rc = step;
    sqlite3_reset(s->get_state);
  }
  if (rc != SQLITE_OK)
    log_failure(s->opts.log, rc == SQLITE_NOMEM ? NULL : s->rdb, rc,
                "state load failed", "");
  run(s->end_read);
  r->load_cb(r->ctx, rc == SQLITE_OK ? 0 : VA_ESTORE, state.items, state.n,
             version);
  va__kvmap_clear(&state);
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
    size_t id_len = (size_t)sqlite3_column_bytes(st, 1);
    size_t tl = strlen(type) + 1, nl = strlen(name) + 1;
    char *block = malloc(tl + nl + id_len + 1);
    if (!block) {
      rc = SQLITE_NOMEM;
      break;
    }
    memcpy(block, type, tl);
    memcpy(block + tl, name, nl);
    memcpy(block + tl + nl, sqlite3_column_blob(st, 1), id_len);
    rows[n++] = (va_due_reminder){block, block + tl + nl, id_len, block + tl,
                                  sqlite3_column_int64(st, 3)};
  }
  if (rc == SQLITE_OK && step != SQLITE_DONE)
    rc = step;
  if (rc != SQLITE_OK)
    log_failure(s->opts.log, rc == SQLITE_NOMEM ? NULL : s->wdb, rc,
                "reminder query failed", "");
  sqlite3_reset(st);
  r->due_cb(r->ctx, rc == SQLITE_OK ? 0 : VA_ESTORE, rows, n);
  for (size_t i = 0; i < n; i++)
    free((char *)rows[i].type);
  free(rows);
}

static void *reader_main(void *arg) {
  sqlite_store *s = arg;
  request *batch;
  while ((batch = queue_take(&s->loads))) {
    for (request *r = batch, *next; r; r = next) {
      next = r->next;
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
                   size_t id_len, uint64_t version, const va_kv *writes,
                   size_t n, va_store_save_cb cb, void *ctx) {
  sqlite_store *s = (sqlite_store *)base;
  /* One block: the writes array (aligned after the id), then each key and
   * value. */
  size_t array_at = (id_len + 7) & ~(size_t)7;
  size_t extra = array_at - id_len + n * sizeof(va_kv);
  for (size_t i = 0; i < n; i++)
    extra += strlen(writes[i].key) + 1 + writes[i].len;
  request *r = new_request(type, id, id_len, extra);
  if (!r)
    return VA_ENOMEM;
  r->version = version;
  r->save_cb = cb;
  r->ctx = ctx;
  r->n = n;
  r->writes = (va_kv *)(r->id + array_at);
  char *p = (char *)(r->writes + n);
  for (size_t i = 0; i < n; i++) {
    va_kv *w = &r->writes[i];
    *w = writes[i];
    size_t klen = strlen(writes[i].key) + 1;
    w->key = memcpy(p, writes[i].key, klen);
    p += klen;
    w->val = w->len ? memcpy(p, writes[i].val, w->len) : NULL;
    p += w->len;
  }
  queue_put(&s->saves, r);
  return 0;
}

static int sq_reminders_due(va_store *base, int64_t from_ms,
                            int64_t before_ms, va_store_due_cb cb,
                            void *ctx) {
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

static void finalize_all(sqlite_store *s) {
  sqlite3_stmt *all[] = {s->insert_actor, s->bump_version,  s->put,
                         s->del,          s->put_reminder,  s->del_reminder,
                         s->get_version,  s->get_state,     s->begin_read,
                         s->end_read,     s->due_reminders};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    sqlite3_finalize(all[i]);
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
  sqlite3_close(s->wdb);
  sqlite3_close(s->rdb);
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
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS actor("
    "  type TEXT NOT NULL, id BLOB NOT NULL, version INTEGER NOT NULL,"
    "  PRIMARY KEY(type, id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS state("
    "  type TEXT NOT NULL, id BLOB NOT NULL, key TEXT NOT NULL,"
    "  value BLOB NOT NULL, expires INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(type, id, key)) WITHOUT ROWID;"
    /* The reminders of the state table (keys "\x01r:<name>"), by due time. */
    "CREATE TABLE IF NOT EXISTS reminder("
    "  type TEXT NOT NULL, id BLOB NOT NULL, name TEXT NOT NULL,"
    "  due INTEGER NOT NULL, PRIMARY KEY(type, id, name)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS reminder_due ON reminder(due);";

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st) {
  return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
}

static int open_db(const char *path, bool durable, sqlite3 **db) {
  int rc = sqlite3_open_v2(path, db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                               SQLITE_OPEN_NOMUTEX,
                           NULL);
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
      {s->wdb, "INSERT INTO actor(type, id, version) VALUES(?1, ?2, ?3)"
               " ON CONFLICT DO NOTHING", &s->insert_actor},
      {s->wdb, "UPDATE actor SET version = version + ?4"
               " WHERE type = ?1 AND id = ?2 AND version = ?3", &s->bump_version},
      {s->wdb, "INSERT INTO state(type, id, key, value, expires)"
               " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(type, id, key)"
               " DO UPDATE SET value = excluded.value, expires = excluded.expires",
       &s->put},
      {s->wdb, "DELETE FROM state WHERE type = ?1 AND id = ?2 AND key = ?3",
       &s->del},
      {s->wdb, "INSERT INTO reminder(type, id, name, due)"
               " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(type, id, name)"
               " DO UPDATE SET due = excluded.due", &s->put_reminder},
      {s->wdb, "DELETE FROM reminder WHERE type = ?1 AND id = ?2 AND name = ?3",
       &s->del_reminder},
      {s->wdb, "SELECT type, id, name, due FROM reminder"
               " WHERE due >= ?1 AND due < ?2", &s->due_reminders},
      {s->rdb, "SELECT version FROM actor WHERE type = ?1 AND id = ?2",
       &s->get_version},
      {s->rdb, "SELECT key, value, expires FROM state"
               " WHERE type = ?1 AND id = ?2", &s->get_state},
      {s->rdb, "BEGIN", &s->begin_read},
      {s->rdb, "COMMIT", &s->end_read},
  };
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof(stmts) / sizeof(stmts[0]);
       i++)
    if ((rc = prepare(stmts[i].db, stmts[i].sql, stmts[i].st)) != SQLITE_OK)
      *failed = stmts[i].db;
  return rc;
}

int va__store_sqlite_open(const char *path,
                          const va_store_sqlite_options *opts,
                          va_store **out) {
  if (!path || !out)
    return VA_EINVAL;
  sqlite_store *s = calloc(1, sizeof(*s));
  if (!s)
    return VA_ENOMEM;
  s->base.ops = &sqlite_ops;
  if (opts)
    s->opts = *opts;
  queue_init(&s->saves);
  queue_init(&s->loads);
  sqlite3 *failed;
  int rc = setup(s, path, &failed);
  if (rc != SQLITE_OK) {
    char quoted[1024], fields[1040];
    va_log_quote(path, strlen(path), quoted, sizeof(quoted));
    snprintf(fields, sizeof(fields), "path=%s", quoted);
    log_failure(s->opts.log, failed, rc, "cannot open the store", fields);
    rc = VA_ESTORE;
  } else {
    int e = pthread_create(&s->writer, NULL, writer_main, s);
    s->writer_started = e == 0;
    if (e == 0)
      s->reader_started =
          (e = pthread_create(&s->reader, NULL, reader_main, s)) == 0;
    if (e) {
      va_log(s->opts.log, VA_LOG_ERROR, "cannot start the store's threads",
             "error=\"%s\"", strerror(e));
      rc = VA_ESYS;
    }
  }
  if (rc) {
    sq_destroy(&s->base);
    return rc;
  }
  *out = &s->base;
  return 0;
}
