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
#include "../core/clock.h"
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_GROUP = 8192 }; /* saves in one transaction at most */

typedef struct request {
  struct request *next;
  const char *type; /* borrowed: type names outlive the store's use */
  char *id;
  size_t id_len;
  uint64_t version;  /* saves */
  va_kv *writes;     /* saves: deep copies */
  size_t n;
  va_store_save_cb save_cb;
  va_store_load_cb load_cb;
  void *ctx;
  int status;
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

/* Waits for requests; takes up to max of them. NULL once stopped and empty. */
static request *queue_take(queue *q, size_t max) {
  pthread_mutex_lock(&q->lock);
  while (!q->head && !q->stop)
    pthread_cond_wait(&q->cond, &q->lock);
  request *first = q->head, *last = first;
  for (size_t n = 1; last && n < max && last->next; n++)
    last = last->next;
  if (last) {
    q->head = last->next;
    if (!q->head)
      q->tail = NULL;
    last->next = NULL;
  }
  pthread_mutex_unlock(&q->lock);
  return first;
}

static void queue_stop(queue *q) {
  pthread_mutex_lock(&q->lock);
  q->stop = true;
  pthread_cond_broadcast(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

static void request_free(request *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->writes[i].key);
    free(r->writes[i].val);
  }
  free(r->writes);
  free(r->id);
  free(r);
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

/* Applies one save inside the open transaction. VA_ESTORE on a version
 * mismatch (nothing written), a SQLite code on failure. */
static int apply_save(sqlite_store *s, request *r) {
  /* The fence first: no write happens unless the version matches. */
  sqlite3_stmt *st = r->version ? s->bump_version : s->insert_actor;
  int rc = bind_actor(st, r);
  if (rc == SQLITE_OK && r->version)
    rc = sqlite3_bind_int64(st, 3, (sqlite3_int64)r->version);
  if (rc == SQLITE_OK)
    rc = run(st);
  if (rc != SQLITE_OK)
    return rc;
  if (sqlite3_changes(s->wdb) != 1)
    return VA_ESTORE;
  for (size_t i = 0; i < r->n && rc == SQLITE_OK; i++) {
    const va_kv *w = &r->writes[i];
    st = w->tomb ? s->del : s->put;
    rc = bind_actor(st, r);
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
  }
  return rc;
}

static int exec(sqlite3 *db, const char *sql) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* One group: BEGIN, every save, COMMIT; then every callback, in order. */
static void commit_group(sqlite_store *s, request *group) {
  int rc = exec(s->wdb, "BEGIN IMMEDIATE");
  for (request *r = group; r; r = r->next) {
    if (rc != SQLITE_OK) {
      r->status = VA_ESTORE;
      continue;
    }
    int st = apply_save(s, r);
    if (st == VA_ESTORE) {
      r->status = VA_ESTORE; /* this save only; the group goes on */
    } else if (st != SQLITE_OK) {
      rc = st; /* the transaction is in doubt: fail the group */
    } else {
      r->status = 0;
    }
  }
  if (rc == SQLITE_OK)
    rc = exec(s->wdb, "COMMIT");
  if (rc != SQLITE_OK) {
    exec(s->wdb, "ROLLBACK");
    atomic_fetch_add(&s->failed_commits, 1);
  } else {
    atomic_fetch_add(&s->commits, 1);
  }
  for (request *r = group, *next; r; r = next) {
    next = r->next;
    int status = rc == SQLITE_OK ? r->status : VA_ESTORE;
    if (status == 0)
      atomic_fetch_add_explicit(&s->saved, 1, memory_order_relaxed);
    r->save_cb(r->ctx, status);
    request_free(r);
  }
}

static void *writer_main(void *arg) {
  sqlite_store *s = arg;
  request *group;
  while ((group = queue_take(&s->saves, MAX_GROUP)))
    commit_group(s, group);
  return NULL;
}

/* ---- The reader ---- */

static void load_one(sqlite_store *s, request *r) {
  va_kvmap state = {0};
  uint64_t version = 0;
  int64_t now = va__wall_ms();
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
  run(s->end_read);
  r->load_cb(r->ctx, rc == SQLITE_OK ? 0 : VA_ESTORE, state.items, state.n,
             version);
  va__kvmap_clear(&state);
}

static void *reader_main(void *arg) {
  sqlite_store *s = arg;
  request *batch;
  while ((batch = queue_take(&s->loads, 64))) {
    for (request *r = batch, *next; r; r = next) {
      next = r->next;
      load_one(s, r);
      request_free(r);
    }
  }
  return NULL;
}

/* ---- The interface ---- */

static request *new_request(const char *type, const char *id, size_t id_len) {
  request *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  r->type = type;
  r->id_len = id_len;
  if (!(r->id = malloc(id_len ? id_len : 1))) {
    free(r);
    return NULL;
  }
  memcpy(r->id, id, id_len);
  return r;
}

static int sq_load(va_store *base, const char *type, const char *id,
                   size_t id_len, va_store_load_cb cb, void *ctx) {
  sqlite_store *s = (sqlite_store *)base;
  request *r = new_request(type, id, id_len);
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
  request *r = new_request(type, id, id_len);
  if (!r || (n && !(r->writes = calloc(n, sizeof(*r->writes))))) {
    if (r)
      request_free(r);
    return VA_ENOMEM;
  }
  r->version = version;
  r->save_cb = cb;
  r->ctx = ctx;
  for (; r->n < n; r->n++) {
    va_kv *w = &r->writes[r->n];
    *w = writes[r->n];
    w->key = strdup(writes[r->n].key);
    w->val = NULL;
    if (w->len && !(w->val = malloc(w->len))) {
      free(w->key);
      w->key = NULL;
    } else if (w->len) {
      memcpy(w->val, writes[r->n].val, w->len);
    }
    if (!w->key) {
      request_free(r);
      return VA_ENOMEM;
    }
  }
  queue_put(&s->saves, r);
  return 0;
}

static void finalize_all(sqlite_store *s) {
  sqlite3_stmt *all[] = {s->insert_actor, s->bump_version, s->put,
                         s->del,          s->get_version,  s->get_state,
                         s->begin_read,   s->end_read};
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
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS actor("
    "  type TEXT NOT NULL, id BLOB NOT NULL, version INTEGER NOT NULL,"
    "  PRIMARY KEY(type, id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS state("
    "  type TEXT NOT NULL, id BLOB NOT NULL, key TEXT NOT NULL,"
    "  value BLOB NOT NULL, expires INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(type, id, key)) WITHOUT ROWID;";

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
    rc = exec(*db, durable ? "PRAGMA synchronous=FULL"
                           : "PRAGMA synchronous=NORMAL");
  return rc;
}

static int setup(sqlite_store *s, const char *path) {
  bool durable = s->opts.durability == VA_DURABLE;
  int rc = open_db(path, durable, &s->wdb);
  if (rc == SQLITE_OK)
    rc = exec(s->wdb, schema);
  if (rc == SQLITE_OK)
    rc = open_db(path, durable, &s->rdb);
  if (rc != SQLITE_OK)
    return rc;
  const struct {
    sqlite3 *db;
    const char *sql;
    sqlite3_stmt **st;
  } stmts[] = {
      {s->wdb, "INSERT INTO actor(type, id, version) VALUES(?1, ?2, 1)"
               " ON CONFLICT DO NOTHING", &s->insert_actor},
      {s->wdb, "UPDATE actor SET version = version + 1"
               " WHERE type = ?1 AND id = ?2 AND version = ?3", &s->bump_version},
      {s->wdb, "INSERT INTO state(type, id, key, value, expires)"
               " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(type, id, key)"
               " DO UPDATE SET value = excluded.value, expires = excluded.expires",
       &s->put},
      {s->wdb, "DELETE FROM state WHERE type = ?1 AND id = ?2 AND key = ?3",
       &s->del},
      {s->rdb, "SELECT version FROM actor WHERE type = ?1 AND id = ?2",
       &s->get_version},
      {s->rdb, "SELECT key, value, expires FROM state"
               " WHERE type = ?1 AND id = ?2", &s->get_state},
      {s->rdb, "BEGIN", &s->begin_read},
      {s->rdb, "COMMIT", &s->end_read},
  };
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof(stmts) / sizeof(stmts[0]);
       i++)
    rc = prepare(stmts[i].db, stmts[i].sql, stmts[i].st);
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
  int rc = setup(s, path) == SQLITE_OK ? 0 : VA_ESTORE;
  if (rc == 0) {
    s->writer_started = pthread_create(&s->writer, NULL, writer_main, s) == 0;
    s->reader_started = pthread_create(&s->reader, NULL, reader_main, s) == 0;
    if (!s->writer_started || !s->reader_started)
      rc = VA_ESYS;
  }
  if (rc) {
    sq_destroy(&s->base);
    return rc;
  }
  *out = &s->base;
  return 0;
}
