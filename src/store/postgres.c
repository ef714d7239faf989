/* postgres.c — the PostgreSQL state store, a cluster's store: state,
 * ownership (claims and fences) and the due index of reminders in one
 * database, reached through libpq without ever blocking a caller.
 *
 * One store thread runs two connections ("lanes"), both non-blocking and
 * in pipeline mode, polled together with an eventfd that callers ring
 * when they queue a request: the reads lane takes the loads (each claims
 * its actor, with a node, and reads its state in the same transaction);
 * the writes lane takes the saves, the releases and the due-reminders
 * queries, in the order given. Callers copy their request into one block,
 * queue it and return; every callback runs on the store thread.
 *
 * A batch is a run of statements ended by a Sync: one implicit
 * transaction, committed at the Sync (the server has answered it only
 * after COMMIT, and its fsync with synchronous_commit on). Saves commit in
 * groups: every save queued while a group is in flight joins the next one,
 * merged per actor (one version bump, the last write of each key); up to
 * MAX_BATCHES_IN_FLIGHT batches are in the pipeline at once, so the server
 * never waits for a round trip. Each save is fenced on its own inside the
 * group (postgres_sql.c): one actor's refusal commits none of its writes
 * and leaves the others be.
 *
 * A lost connection (a database restart) is made again with backoff; the
 * statements are prepared again; the requests in flight are resolved:
 * loads, releases and queries are sent again, and a save whose COMMIT
 * went unanswered is looked up — its actor's version and epoch tell
 * whether it committed — and answered, or sent again. Meanwhile requests
 * wait, at most WAIT_LIMIT_MS. docs/store-postgres.md tells the whole
 * protocol.
 *
 * Listings and peeks (an operator's questions) never enter the lanes: a
 * look-out thread of their own answers them (postgres_look.c). */
#include "../base/assert.h"
#include "../base/atomics.h"
#include "../base/clock.h"
#include "postgres_look.h"
#include "postgres_sql.h"
#include "store.h"
#include "write_copy.h"
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum {
  /* Two: one commits while the next is on its way. More would send
   * smaller groups earlier and commit (fsync) more often for the same
   * saves: the server runs one connection's transactions one by one. */
  MAX_BATCHES_IN_FLIGHT = 2,
  MAX_GROUP_REQUESTS = 2048,  /* saves and releases in one transaction */
  MAX_GROUP_BYTES = 8 << 20,  /* their keys, values and names */
  MAX_LOAD_BATCH = 256,       /* loads in one transaction */
  MAX_RETRIES = 5,            /* times one request is sent again */
  WAIT_LIMIT_MS = 30000,      /* a request waits so long disconnected */
  STUCK_MS = 30000,           /* a batch unanswered this long: the
                                 connection is given up */
  CONNECT_TIMEOUT_MS = 10000, /* one attempt to connect */
  BACKOFF_FIRST_MS = 50,      /* between attempts: doubling to */
  BACKOFF_MAX_MS = 2000,      /* this */
  MAX_VALUE_LEN = 1 << 30,    /* PostgreSQL's limit on one bytea */
};

/* ---- Requests ---- */

typedef enum req_kind { REQ_LOAD, REQ_SAVE, REQ_RELEASE, REQ_DUE } req_kind;

struct entry;

/* A caller's request, in one allocation: the struct, the id, then (a
 * save) its writes and their keys, values and reminder names. */
typedef struct request {
  struct request *next;
  req_kind kind;
  const char *type; /* borrowed: type names outlive the store */
  size_t type_len;
  char *id;
  size_t id_len;
  uint64_t version;       /* a save: the version it expects */
  uint64_t epoch;         /* a save's or a release's claim */
  va_store_write *writes; /* a save: pointing into this block */
  size_t n;
  size_t bytes; /* a save: what its parameters weigh */
  union {
    va_store_load_cb load;
    va_store_save_cb save; /* also a release's (may be NULL) */
    va_store_due_cb due;
  } cb;
  void *ctx;
  int64_t from_ms, before_ms; /* a due query */
  uint64_t deadline_ms;       /* monotonic: fails once past, disconnected */
  uint64_t seq;               /* the order it was taken in (store thread) */
  unsigned retries;
  /* One attempt's (store thread): */
  struct entry *entry; /* a save or release: its actor in the group */
  int status;          /* a load: its claim's outcome */
  uint64_t got_epoch, got_version; /* a load: what its claim returned */
} request;

/* A FIFO of requests (tail points at the last next, or at head). */
typedef struct request_list {
  request *head, **tail;
} request_list;

static void rl_init(request_list *l) {
  l->head = NULL;
  l->tail = &l->head;
}

static void rl_push(request_list *l, request *r) {
  r->next = NULL;
  *l->tail = r;
  l->tail = &r->next;
}

static request *rl_pop(request_list *l) {
  request *r = l->head;
  if (r) {
    l->head = r->next;
    if (!l->head)
      l->tail = &l->head;
    r->next = NULL;
  }
  return r;
}

/* Moves all of src to the end of dst. */
static void rl_append(request_list *dst, request_list *src) {
  if (!src->head)
    return;
  *dst->tail = src->head;
  dst->tail = src->tail;
  rl_init(src);
}

/* Moves all of src to the front of dst. */
static void rl_prepend(request_list *dst, request_list *src) {
  if (!src->head)
    return;
  *src->tail = dst->head;
  if (!dst->head)
    dst->tail = src->tail;
  dst->head = src->head;
  rl_init(src);
}

/* ---- Batches ---- */

/* One actor's saves (and release) in a group, merged. */
typedef struct entry {
  const request *first;   /* type and id */
  uint64_t version;       /* expected before its first save */
  uint64_t count;         /* saves merged (0: a release only) */
  uint64_t epoch;         /* the saves' claim */
  va_store_write *writes; /* last write of each key: the array is owned,
                             what it points to is the requests' */
  size_t n_writes, cap_writes;
  const request *release; /* after the saves, or NULL */
  int status;             /* the saves' outcome */
  bool committed;         /* resolution: the saves are in the database */
} entry;

typedef enum step_kind {
  STEP_PREPARE,
  STEP_CLAIM_INSERT,
  STEP_CLAIM,
  STEP_READ,
  STEP_BUMP,
  STEP_KEY,
  STEP_REMINDER,
  STEP_UNMARK,
  STEP_RELEASE,
  STEP_DUE,
  STEP_CHECK,
} step_kind;

/* One statement of a batch, and (the steps that read rows) its result. */
typedef struct step {
  step_kind kind;
  request *req;
  entry *entry;
  const va_store_write *w; /* STEP_KEY, STEP_REMINDER */
  va__pg_stmt stmt;        /* STEP_PREPARE */
  PGresult *res;
} step;

typedef enum batch_kind {
  BATCH_SETUP, /* prepares the statements on a new connection */
  BATCH_LOADS,
  BATCH_GROUP, /* saves and releases: one transaction */
  BATCH_DUE,
  BATCH_CHECK, /* after a loss: did the saves in doubt commit? */
} batch_kind;

/* Statements sent together and ended by one Sync. */
typedef struct batch {
  struct batch *next;
  batch_kind kind;
  request_list reqs; /* owned, in the order given */
  step *steps;
  size_t n_steps, n_results;
  entry *entries; /* a group's actors */
  size_t n_entries;
  PGresult *error; /* the first error the batch got, or NULL */
  uint64_t sent_ms;
} batch;

typedef struct batch_list {
  batch *head, *tail;
  size_t n;
} batch_list;

static void bl_push(batch_list *l, batch *b) {
  b->next = NULL;
  if (l->tail)
    l->tail->next = b;
  else
    l->head = b;
  l->tail = b;
  l->n++;
}

static void bl_push_front(batch_list *l, batch *b) {
  b->next = l->head;
  l->head = b;
  if (!l->tail)
    l->tail = b;
  l->n++;
}

static batch *bl_pop(batch_list *l) {
  batch *b = l->head;
  if (b) {
    l->head = b->next;
    if (!l->head)
      l->tail = NULL;
    l->n--;
    b->next = NULL;
  }
  return b;
}

/* ---- The store ---- */

typedef enum lane_state {
  LANE_DOWN,       /* no connection; the next attempt at next_attempt_ms */
  LANE_CONNECTING, /* PQconnectPoll under way */
  LANE_SETUP,      /* the statements are being prepared */
  LANE_RESOLVING,  /* the saves in doubt are being looked up */
  LANE_READY,
} lane_state;

struct pg_store;

typedef struct lane {
  struct pg_store *s;
  const char *name;   /* "reads" or "writes", in log lines */
  request_list inbox; /* callers', under s->lock */
  /* The store thread's: */
  PGconn *conn;
  lane_state state;
  PostgresPollingStatusType connect_wants;
  bool want_flush;       /* libpq holds bytes the socket did not take */
  request_list pending;  /* taken from the inbox, not sent yet */
  request_list retry;    /* to be sent again before pending */
  batch_list inflight;   /* sent, in order; answers come in this order */
  batch_list unresolved; /* in flight when the connection was lost */
  /* Nothing new is sent until what failed or was lost is back at the
   * front of pending: later requests must not overtake it. */
  bool recovering;
  bool lost; /* connected once, and lost it since */
  uint64_t next_attempt_ms, backoff_ms, connect_started_ms;
  unsigned failed_attempts;
  uint64_t next_seq;
} lane;

typedef struct pg_store {
  va_store base;
  va_store_postgres_options opts; /* node points at node below */
  char *node, *url;
  bool claiming; /* opts.node given */
  /* The incarnation claims are made with: set by any thread, read by the
   * store thread when it sends a claim. Nothing else is published with
   * it, so relaxed. */
  _Atomic uint64_t incarnation;
  pthread_mutex_t lock; /* the inboxes, stop and wake_pending */
  bool stop, wake_pending;
  int wake_fd;
  lane reads, writes;
  pthread_t thread;
  bool thread_started;
  va__pg_look *look; /* list and peek: a thread of their own */
  /* Written by the store thread, read by any. */
  va_counter commits, saved, claims, claims_refused, fenced, reconnects,
      retried;
} pg_store;

static const va_store_ops postgres_ops;

/* ---- Telling the operator ---- */

static void tell(const pg_store *s, va_log_level level, const char *what,
                 const va_store_log_field *fields, size_t n) {
  if (s->opts.log)
    s->opts.log(s->opts.log_user, level, what, fields, n);
}

/* Copies libpq's message into buf without its trailing newline. */
static const char *trimmed(const char *msg, char *buf, size_t size) {
  snprintf(buf, size, "%s", msg && *msg ? msg : "(no message)");
  size_t n = strlen(buf);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
    buf[--n] = 0;
  return buf;
}

/* Tells a failure on lane l: libpq's message from res (NULL: the
 * connection's, or text when given), its SQLSTATE, and a count of the
 * requests concerned (< 0: none). */
static void tell_pg(const lane *l, va_log_level level, const char *what,
                    const PGresult *res, const char *text, int64_t requests) {
  const pg_store *s = l->s;
  if (!s->opts.log)
    return;
  char buf[512];
  const char *msg = res       ? PQresultErrorMessage(res)
                    : text    ? text
                    : l->conn ? PQerrorMessage(l->conn)
                              : NULL;
  va_store_log_field f[4];
  size_t n = 0;
  f[n++] = (va_store_log_field){"lane", l->name, 0};
  f[n++] = (va_store_log_field){"error", trimmed(msg, buf, sizeof(buf)), 0};
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (state)
    f[n++] = (va_store_log_field){"sqlstate", state, 0};
  if (requests >= 0)
    f[n++] = (va_store_log_field){"requests", NULL, requests};
  tell(s, level, what, f, n);
}

/* Notices (warnings the server sends) are not failures: libpq would print
 * them on stderr. */
static void ignore_notice(void *arg, const char *message) {
  (void)arg, (void)message;
}

/* ---- Answering ---- */

static size_t list_length(const request_list *l) {
  size_t n = 0;
  for (const request *r = l->head; r; r = r->next)
    n++;
  return n;
}

/* Answers r with a failure (or 0 for a release) and frees it. */
static void fail_request(request *r, int status) {
  switch (r->kind) {
  case REQ_LOAD:
    r->cb.load(r->ctx, status, NULL, 0, 0, 0);
    break;
  case REQ_SAVE:
  case REQ_RELEASE:
    if (r->cb.save)
      r->cb.save(r->ctx, status);
    break;
  case REQ_DUE:
    r->cb.due(r->ctx, status, NULL, 0);
    break;
  }
  free(r);
}

static void fail_list(request_list *l, int status) {
  request *r;
  while ((r = rl_pop(l)))
    fail_request(r, status);
}

/* Answers a save and frees it. */
static void answer_save(pg_store *s, request *r, int status) {
  if (status == 0)
    va_count(s->saved, 1);
  else if (status == VA_EFENCED)
    va_count(s->fenced, 1);
  r->cb.save(r->ctx, status);
  free(r);
}

static void batch_free(batch *b) {
  for (size_t i = 0; i < b->n_steps; i++)
    PQclear(b->steps[i].res);
  for (size_t i = 0; i < b->n_entries; i++)
    free(b->entries[i].writes);
  PQclear(b->error);
  VA_ASSERT(!b->reqs.head); /* answered, or moved on, by now */
  free(b->entries);
  free(b->steps);
  free(b);
}

static void fail_batch(batch *b, int status) {
  fail_list(&b->reqs, status);
  batch_free(b);
}

/* Puts r back to be sent again (after the others put back before it),
 * unless it has been sent too often. */
static void requeue(lane *l, request *r) {
  r->entry = NULL;
  if (++r->retries > MAX_RETRIES) {
    fail_request(r, VA_ESTORE);
    return;
  }
  va_count(l->s->retried, 1);
  rl_push(&l->retry, r);
}

static void requeue_batch(lane *l, batch *b) {
  request *r;
  while ((r = rl_pop(&b->reqs)))
    requeue(l, r);
  batch_free(b);
  l->recovering = true;
}

/* ---- Parameters and results (binary) ---- */

typedef struct params {
  int n;
  const char *values[VA_PG_MAX_PARAMS];
  int lengths[VA_PG_MAX_PARAMS];
  int formats[VA_PG_MAX_PARAMS];
  char ints[VA_PG_MAX_PARAMS][8];
} params;

/* len was checked (<= MAX_VALUE_LEN) when the request was queued. An empty
 * value is "" (a NULL pointer would be SQL NULL). */
static void add_bytes(params *p, const void *v, size_t len) {
  VA_ASSERT(p->n < VA_PG_MAX_PARAMS && len <= INT_MAX);
  p->values[p->n] = len ? v : "";
  p->lengths[p->n] = (int)len;
  p->formats[p->n] = 1;
  p->n++;
}

static void add_text(params *p, const char *text) {
  add_bytes(p, text, strlen(text));
}

static void add_i64(params *p, int64_t v) {
  VA_ASSERT(p->n < VA_PG_MAX_PARAMS);
  uint64_t u = (uint64_t)v;
  for (int i = 0; i < 8; i++)
    p->ints[p->n][i] = (char)(u >> (56 - 8 * i));
  add_bytes(p, p->ints[p->n], 8);
}

static void add_actor(params *p, const request *r) {
  add_bytes(p, r->type, r->type_len);
  add_bytes(p, r->id, r->id_len);
}

/* A bigint column of row (8 bytes, network order); false for NULL or any
 * other length. */
static bool get_i64(const PGresult *res, int row, int col, int64_t *out) {
  if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8)
    return false;
  const unsigned char *b = (const unsigned char *)PQgetvalue(res, row, col);
  uint64_t u = 0;
  for (int i = 0; i < 8; i++)
    u = u << 8 | b[i];
  *out = (int64_t)u;
  return true;
}

/* A bigint that must not be negative (versions, epochs). */
static bool get_u64(const PGresult *res, int row, int col, uint64_t *out) {
  int64_t v;
  if (!get_i64(res, row, col, &v) || v < 0)
    return false;
  *out = (uint64_t)v;
  return true;
}

/* Whether res holds rows of `fields` columns, all binary. */
static bool has_rows(const PGresult *res, int fields) {
  if (!res || PQresultStatus(res) != PGRES_TUPLES_OK ||
      PQnfields(res) != fields)
    return false;
  for (int i = 0; i < fields; i++)
    if (PQfformat(res, i) != 1)
      return false;
  return true;
}

/* A text or bytea column holding a name: not NULL, not empty (when
 * nonempty), no NUL byte. libpq ends every value with a NUL, so the value
 * is a C string once it holds none of its own. */
static const char *get_name(const PGresult *res, int row, int col,
                            bool nonempty) {
  if (PQgetisnull(res, row, col))
    return NULL;
  const char *v = PQgetvalue(res, row, col);
  int len = PQgetlength(res, row, col);
  if ((nonempty && len == 0) || memchr(v, 0, (size_t)len))
    return NULL;
  return v;
}

/* ---- Sending ---- */

/* The parameters of step st, and its statement. */
static va__pg_stmt bind_step(pg_store *s, const step *st, params *p) {
  const entry *e = st->entry;
  const va_store_write *w = st->w;
  switch (st->kind) {
  case STEP_PREPARE:
    return st->stmt;
  case STEP_CLAIM_INSERT:
    add_actor(p, st->req);
    return VA_PG_CLAIM_INSERT;
  case STEP_CLAIM:
    add_actor(p, st->req);
    add_text(p, s->node);
    add_i64(p, (int64_t)atomic_load_explicit(&s->incarnation,
                                             memory_order_relaxed));
    return VA_PG_CLAIM;
  case STEP_READ:
    add_actor(p, st->req);
    return VA_PG_READ;
  case STEP_BUMP:
    add_actor(p, e->first);
    if (!s->claiming && e->version == 0) {
      add_i64(p, (int64_t)e->count);
      return VA_PG_BUMP_FIRST;
    }
    add_i64(p, (int64_t)e->version);
    add_i64(p, (int64_t)e->count);
    if (s->claiming)
      add_i64(p, (int64_t)e->epoch);
    return VA_PG_BUMP;
  case STEP_KEY:
  case STEP_REMINDER: {
    add_actor(p, e->first);
    bool key = st->kind == STEP_KEY;
    add_text(p, key ? w->key : w->reminder);
    if (!w->deleted) {
      if (key) {
        add_bytes(p, w->val, w->len);
        add_i64(p, w->expires_ms);
      } else {
        add_i64(p, w->due_ms);
      }
    }
    add_i64(p, (int64_t)(e->version + e->count)); /* the fence */
    if (s->claiming)
      add_i64(p, (int64_t)e->epoch);
    return key ? (w->deleted ? VA_PG_DELETE : VA_PG_PUT)
               : (w->deleted ? VA_PG_DELETE_REMINDER : VA_PG_PUT_REMINDER);
  }
  case STEP_UNMARK:
    add_actor(p, e->first);
    return VA_PG_UNMARK;
  case STEP_RELEASE:
    add_actor(p, st->req);
    add_i64(p, (int64_t)st->req->epoch);
    add_text(p, s->node);
    return VA_PG_RELEASE;
  case STEP_DUE:
    add_i64(p, st->req->from_ms);
    add_i64(p, st->req->before_ms);
    if (s->claiming)
      add_text(p, s->node);
    return VA_PG_DUE;
  case STEP_CHECK:
    add_actor(p, e->first);
    return VA_PG_CHECK;
  }
  VA_ASSERT(!"a step of no kind");
  return VA_PG_CHECK;
}

static bool send_step(lane *l, const step *st) {
  params p = {0};
  va__pg_stmt which = bind_step(l->s, st, &p);
  const va__pg_statement *def = va__pg_statement_of(which, l->s->claiming);
  VA_ASSERT(def->sql);
  if (st->kind == STEP_PREPARE)
    return PQsendPrepare(l->conn, def->name, def->sql, def->n_params,
                         def->types) == 1;
  VA_ASSERT(def->n_params == p.n);
  return PQsendQueryPrepared(l->conn, def->name, p.n, p.values, p.lengths,
                             p.formats, 1) == 1;
}

static void lane_lost(lane *l, uint64_t now, const char *why);

/* Hands libpq's buffered bytes to the socket: false when the connection
 * failed (then it is lost). */
static bool flush(lane *l, uint64_t now) {
  int rc = PQflush(l->conn);
  if (rc < 0) {
    lane_lost(l, now, NULL);
    return false;
  }
  l->want_flush = rc == 1;
  return true;
}

/* Sends b and its Sync; b is in flight from here on, even if sending
 * fails half-way (then the connection is lost, and b with it). */
static void send_batch(lane *l, batch *b, uint64_t now) {
  b->sent_ms = now;
  bl_push(&l->inflight, b);
  for (size_t i = 0; i < b->n_steps; i++)
    if (!send_step(l, &b->steps[i])) {
      lane_lost(l, now, NULL);
      return;
    }
  if (PQpipelineSync(l->conn) != 1) {
    lane_lost(l, now, NULL);
    return;
  }
  (void)flush(l, now);
}

/* ---- Building batches ---- */

static batch *new_batch(batch_kind kind, size_t steps) {
  batch *b = calloc(1, sizeof(*b));
  if (b && steps && !(b->steps = calloc(steps, sizeof(*b->steps)))) {
    free(b);
    return NULL;
  }
  if (b) {
    b->kind = kind;
    rl_init(&b->reqs);
  }
  return b;
}

static step *add_step(batch *b, step_kind kind, request *r, entry *e) {
  step *st = &b->steps[b->n_steps++];
  *st = (step){.kind = kind, .req = r, .entry = e};
  return st;
}

/* Orders requests by actor (type, id), then as they were given: the order
 * rows are locked in, the same on every node, so that two transactions
 * never wait for each other's rows (no deadlock among them). */
static int by_actor(const void *a, const void *b) {
  const request *x = *(request *const *)a, *y = *(request *const *)b;
  size_t tl = x->type_len < y->type_len ? x->type_len : y->type_len;
  int c = memcmp(x->type, y->type, tl);
  if (c || x->type_len != y->type_len)
    return c ? c : x->type_len < y->type_len ? -1 : 1;
  size_t il = x->id_len < y->id_len ? x->id_len : y->id_len;
  c = il ? memcmp(x->id, y->id, il) : 0;
  if (c || x->id_len != y->id_len)
    return c ? c : x->id_len < y->id_len ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool same_actor(const request *x, const request *y) {
  return x->type_len == y->type_len && x->id_len == y->id_len &&
         !memcmp(x->type, y->type, x->type_len) &&
         (!x->id_len || !memcmp(x->id, y->id, x->id_len));
}

/* Takes up to max requests off the front of l's pending list into an
 * array (malloc'd, the caller's), in order. NULL when out of memory
 * (nothing taken). */
static request **take_pending(lane *l, size_t max, size_t *n) {
  *n = 0;
  size_t count = 0;
  for (request *r = l->pending.head; r && count < max; r = r->next)
    count++;
  request **all = malloc((count ? count : 1) * sizeof(*all));
  if (!all)
    return NULL;
  for (size_t i = 0; i < count; i++)
    all[i] = rl_pop(&l->pending);
  *n = count;
  return all;
}

/* Puts the n requests of all (taken off pending, in order) back at its
 * front. */
static void put_back(lane *l, request **all, size_t n) {
  request_list back;
  rl_init(&back);
  for (size_t i = 0; all && i < n; i++)
    rl_push(&back, all[i]);
  rl_prepend(&l->pending, &back);
}

/* A batch of loads: with a node, each inserts its ownership row if
 * absent, claims it and reads the state; alone, it reads. */
static batch *build_loads(lane *l) {
  pg_store *s = l->s;
  size_t n;
  request **all = take_pending(l, MAX_LOAD_BATCH, &n);
  batch *b = all ? new_batch(BATCH_LOADS, n * (s->claiming ? 3 : 1)) : NULL;
  if (!b) {
    put_back(l, all, n);
    free(all);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    all[i]->status = 0;
    rl_push(&b->reqs, all[i]);
  }
  if (s->claiming)
    qsort(all, n, sizeof(*all), by_actor);
  for (size_t i = 0; i < n; i++) {
    if (s->claiming) {
      add_step(b, STEP_CLAIM_INSERT, all[i], NULL);
      add_step(b, STEP_CLAIM, all[i], NULL);
    }
    add_step(b, STEP_READ, all[i], NULL);
  }
  free(all);
  return b;
}

static va_store_write *find_write(entry *e, const char *key) {
  for (size_t i = 0; i < e->n_writes; i++)
    if (!strcmp(e->writes[i].key, key))
      return &e->writes[i];
  return NULL;
}

/* Adds r's writes to e: a later write of a key replaces the earlier. */
static int merge_writes(entry *e, const request *r) {
  if (e->n_writes + r->n > e->cap_writes) {
    size_t cap = e->n_writes + r->n;
    va_store_write *more = realloc(e->writes, cap * sizeof(*more));
    if (!more)
      return VA_ENOMEM;
    e->writes = more;
    e->cap_writes = cap;
  }
  for (size_t i = 0; i < r->n; i++) {
    va_store_write *w = find_write(e, r->writes[i].key);
    if (w)
      *w = r->writes[i];
    else
      e->writes[e->n_writes++] = r->writes[i];
  }
  return 0;
}

/* Whether r can join e (r's actor's entry so far): a save must follow
 * the saves before it (next version, same claim) and come before the
 * release; one release per group. */
static bool joins(const entry *e, const request *r) {
  if (e->release)
    return false;
  if (r->kind == REQ_RELEASE || e->count == 0)
    return true;
  return r->version == e->version + e->count && r->epoch == e->epoch;
}

static void add_to_entry(entry *e, request *r) {
  if (r->kind == REQ_RELEASE) {
    e->release = r;
  } else {
    if (e->count == 0) {
      e->version = r->version;
      e->epoch = r->epoch;
    }
    e->count++;
  }
  r->entry = e;
}

/* Merges the sorted requests of a group into b's entries, one per actor.
 * A request that cannot join its actor's entry, and every later one of
 * that actor, is left out (entry NULL): it goes in the next group, so
 * the order of one actor's requests holds. */
static int merge_group(batch *b, request **sorted, size_t n) {
  for (size_t i = 0; i < n;) {
    size_t end = i + 1;
    while (end < n && same_actor(sorted[i], sorted[end]))
      end++;
    entry *e = &b->entries[b->n_entries++];
    e->first = sorted[i];
    for (size_t k = i; k < end && joins(e, sorted[k]); k++) {
      if (sorted[k]->kind == REQ_SAVE && merge_writes(e, sorted[k]) != 0)
        return VA_ENOMEM;
      add_to_entry(e, sorted[k]);
    }
    i = end;
  }
  return 0;
}

static size_t entry_steps(const entry *e) {
  size_t n = e->release ? 1 : 0;
  if (e->count) {
    n += 2 + e->n_writes; /* the bump, the writes, the unmark */
    for (size_t i = 0; i < e->n_writes; i++)
      n += e->writes[i].reminder ? 1 : 0;
  }
  return n;
}

/* Per actor, in the order of the rows: the bump (the fence), each write
 * and its reminder's index row, the unmark, then the release. */
static int add_group_steps(batch *b) {
  size_t n = 0;
  for (size_t i = 0; i < b->n_entries; i++)
    n += entry_steps(&b->entries[i]);
  if (!(b->steps = calloc(n ? n : 1, sizeof(*b->steps))))
    return VA_ENOMEM;
  for (size_t i = 0; i < b->n_entries; i++) {
    entry *e = &b->entries[i];
    if (e->count) {
      add_step(b, STEP_BUMP, NULL, e);
      for (size_t k = 0; k < e->n_writes; k++) {
        add_step(b, STEP_KEY, NULL, e)->w = &e->writes[k];
        if (e->writes[k].reminder)
          add_step(b, STEP_REMINDER, NULL, e)->w = &e->writes[k];
      }
      add_step(b, STEP_UNMARK, NULL, e);
    }
    if (e->release)
      add_step(b, STEP_RELEASE, (request *)e->release, e);
  }
  VA_ASSERT(b->n_steps == n);
  return 0;
}

/* Puts the requests of all (n, in the order given) back at the front of
 * pending: those with an entry go into b, the others are left for the
 * next group. */
static void split_taken(lane *l, batch *b, request **all, size_t n) {
  request_list later;
  rl_init(&later);
  for (size_t i = 0; i < n; i++)
    rl_push(all[i]->entry ? &b->reqs : &later, all[i]);
  rl_prepend(&l->pending, &later);
}

/* The group: the saves and releases at the front of pending, up to the
 * first due query (it must see them committed) and the group's bounds. */
static batch *build_group(lane *l) {
  size_t count = 0, bytes = 0;
  for (request *r = l->pending.head; r && r->kind != REQ_DUE; r = r->next) {
    if (count == MAX_GROUP_REQUESTS ||
        (count && bytes + r->bytes > MAX_GROUP_BYTES))
      break;
    count++;
    bytes += r->bytes;
  }
  size_t n;
  request **all = take_pending(l, count, &n);
  request **sorted = all ? malloc(n * sizeof(*sorted)) : NULL;
  batch *b = sorted ? new_batch(BATCH_GROUP, 0) : NULL;
  if (b && !(b->entries = calloc(n, sizeof(*b->entries)))) {
    free(b);
    b = NULL;
  }
  int rc = b ? 0 : VA_ENOMEM;
  if (b) {
    for (size_t i = 0; i < n; i++)
      all[i]->entry = NULL;
    memcpy(sorted, all, n * sizeof(*all));
    qsort(sorted, n, sizeof(*sorted), by_actor);
    rc = merge_group(b, sorted, n);
    if (rc == 0)
      rc = add_group_steps(b);
  }
  if (rc) { /* out of memory: everything back where it was */
    put_back(l, all, n);
    if (b) {
      for (size_t i = 0; i < n; i++)
        all[i]->entry = NULL;
      batch_free(b);
    }
    b = NULL;
  } else {
    split_taken(l, b, all, n);
  }
  free(all);
  free(sorted);
  return b;
}

static batch *build_due(lane *l) {
  batch *b = new_batch(BATCH_DUE, 1);
  if (!b)
    return NULL;
  request *r = rl_pop(&l->pending);
  rl_push(&b->reqs, r);
  add_step(b, STEP_DUE, r, NULL);
  return b;
}

/* The statements a new connection prepares. */
static batch *build_setup(const pg_store *s) {
  batch *b = new_batch(BATCH_SETUP, VA_PG_STMT_COUNT);
  for (int i = 0; b && i < VA_PG_STMT_COUNT; i++)
    if (va__pg_statement_of((va__pg_stmt)i, s->claiming)->sql)
      add_step(b, STEP_PREPARE, NULL, NULL)->stmt = (va__pg_stmt)i;
  return b;
}

/* A look-up of every save in doubt (unresolved groups' actors). NULL
 * when there is none (or no memory: then they are sent again). */
static batch *build_check(lane *l) {
  size_t n = 0;
  for (batch *u = l->unresolved.head; u; u = u->next)
    for (size_t i = 0; i < u->n_entries; i++)
      n += u->entries[i].count ? 1 : 0;
  batch *b = n ? new_batch(BATCH_CHECK, n) : NULL;
  for (batch *u = l->unresolved.head; b && u; u = u->next)
    for (size_t i = 0; i < u->n_entries; i++)
      if (u->entries[i].count) {
        u->entries[i].committed = false;
        add_step(b, STEP_CHECK, NULL, &u->entries[i]);
      }
  return b;
}

/* ---- Answers ---- */

/* The keys of a READ result not expired by now (pointing into res) and
 * the actor's version. 0, or VA_ESTORE with *bad saying what is wrong: a
 * row this store did not write. *items is malloc'd (the caller's). Also
 * the look-out's (postgres_look.h): a peek reads as a load does. */
int va__pg_decode_read(const PGresult *res, int64_t now, va_store_item **items,
                       size_t *n, uint64_t *version, const char **bad) {
  *items = NULL;
  *n = 0;
  *version = 0;
  if (!has_rows(res, 4)) {
    *bad = "unexpected columns";
    return VA_ESTORE;
  }
  int rows = PQntuples(res);
  if (rows && !(*items = malloc((size_t)rows * sizeof(**items)))) {
    *bad = "out of memory";
    return VA_ESTORE;
  }
  for (int i = 0; i < rows; i++) {
    if (!get_u64(res, i, 3, version)) {
      *bad = "a version that is not a bigint >= 0";
      return VA_ESTORE;
    }
    if (PQgetisnull(res, i, 0))
      continue; /* an actor with no keys */
    const char *key = get_name(res, i, 0, false);
    int64_t expires;
    if (!key || PQgetisnull(res, i, 1) || !get_i64(res, i, 2, &expires)) {
      *bad = "a key with a NUL byte, a NULL value or a bad expiry";
      return VA_ESTORE;
    }
    if (expires && expires <= now)
      continue; /* expired: reads as absent */
    int len = PQgetlength(res, i, 1);
    (*items)[(*n)++] = (va_store_item){key, len ? PQgetvalue(res, i, 1) : NULL,
                                       (uint32_t)len, expires};
  }
  return 0;
}

/* A claim's answer: no row, another live node holds the actor; a row,
 * the new epoch and the version. */
static void decode_claim(lane *l, step *st) {
  request *r = st->req;
  if (!has_rows(st->res, 2) || PQntuples(st->res) > 1) {
    tell_pg(l, VA_LOG_ERROR, "unexpected claim answer", NULL,
            "not (epoch, version)", 1);
    r->status = VA_ESTORE;
  } else if (PQntuples(st->res) == 0) {
    r->status = VA_EMOVED;
    va_count(l->s->claims_refused, 1);
  } else if (!get_u64(st->res, 0, 0, &r->got_epoch) || r->got_epoch == 0 ||
             !get_u64(st->res, 0, 1, &r->got_version)) {
    tell_pg(l, VA_LOG_ERROR, "unexpected claim answer", NULL,
            "bad epoch or version", 1);
    r->status = VA_ESTORE;
  } else {
    va_count(l->s->claims, 1);
  }
}

static void answer_load(lane *l, step *st) {
  request *r = st->req;
  if (r->status) {
    r->cb.load(r->ctx, r->status, NULL, 0, 0, 0);
    return;
  }
  va_store_item *items;
  size_t n;
  uint64_t version;
  const char *bad = NULL;
  int rc = va__pg_decode_read(st->res, va_clock_wall_ms(), &items, &n, &version,
                              &bad);
  if (rc)
    tell_pg(l, VA_LOG_ERROR, "state load failed", NULL, bad, 1);
  if (l->s->claiming)
    version = r->got_version; /* the claim's, in the same transaction */
  r->cb.load(r->ctx, rc, rc ? NULL : items, rc ? 0 : n, rc ? 0 : version,
             rc ? 0 : r->got_epoch);
  free(items);
}

static void complete_loads(lane *l, batch *b) {
  for (size_t i = 0; i < b->n_steps; i++) {
    step *st = &b->steps[i];
    if (st->kind == STEP_CLAIM)
      decode_claim(l, st);
    else if (st->kind == STEP_READ)
      answer_load(l, st);
  }
  request *r;
  while ((r = rl_pop(&b->reqs)))
    free(r);
  batch_free(b);
}

/* A bump's answer: the row after it. A version >= 0 is the save's
 * (claiming, under its epoch); a negative one is the mark of a refusal:
 * fenced when the epoch is not the save's, else someone else wrote. No
 * row: the actor was never saved. */
static void decode_bump(lane *l, step *st) {
  entry *e = st->entry;
  bool claiming = l->s->claiming;
  int64_t version = 0;
  uint64_t epoch = 0;
  if (!has_rows(st->res, claiming ? 2 : 1) || PQntuples(st->res) > 1) {
    tell_pg(l, VA_LOG_ERROR, "unexpected save answer", NULL, "not a version",
            (int64_t)e->count);
    e->status = VA_ESTORE;
  } else if (PQntuples(st->res) == 0) {
    e->status = VA_ESTORE;
  } else if (!get_i64(st->res, 0, 0, &version) ||
             (claiming && !get_u64(st->res, 0, 1, &epoch))) {
    tell_pg(l, VA_LOG_ERROR, "unexpected save answer", NULL,
            "bad version or epoch", (int64_t)e->count);
    e->status = VA_ESTORE;
  } else if (claiming && epoch != e->epoch) {
    e->status = VA_EFENCED;
  } else {
    e->status = version >= 0 && (uint64_t)version == e->version + e->count
                    ? 0
                    : VA_ESTORE;
  }
}

/* A committed group. While recovering (an earlier batch failed and is to
 * be sent again), a refused save may have been refused only because the
 * earlier one is not in yet: it goes back too, behind it. */
static void complete_group(lane *l, batch *b) {
  pg_store *s = l->s;
  for (size_t i = 0; i < b->n_steps; i++)
    if (b->steps[i].kind == STEP_BUMP)
      decode_bump(l, &b->steps[i]);
  va_count(s->commits, 1);
  request *r;
  while ((r = rl_pop(&b->reqs))) {
    if (r->kind == REQ_RELEASE) {
      if (r->cb.save)
        r->cb.save(r->ctx, 0);
      free(r);
    } else if (r->entry->status && l->recovering) {
      requeue(l, r);
    } else {
      answer_save(s, r, r->entry->status);
    }
  }
  batch_free(b);
}

/* The rows of a due query (pointing into res); a row this store did not
 * write is left out and told. */
static void complete_due(lane *l, batch *b) {
  bool claiming = l->s->claiming;
  request *r = rl_pop(&b->reqs);
  const PGresult *res = b->steps[0].res;
  int rows = has_rows(res, claiming ? 5 : 4) ? PQntuples(res) : -1;
  va_due_reminder *out = rows > 0 ? malloc((size_t)rows * sizeof(*out)) : NULL;
  if (rows < 0 || (rows > 0 && !out)) {
    tell_pg(l, VA_LOG_ERROR, "reminder query failed", NULL,
            rows < 0 ? "unexpected columns" : "out of memory", 1);
    r->cb.due(r->ctx, VA_ESTORE, NULL, 0);
  } else {
    size_t n = 0, bad = 0;
    for (int i = 0; i < rows; i++) {
      const char *type = get_name(res, i, 0, true);
      const char *name = get_name(res, i, 2, true);
      int64_t due;
      bool orphan_ok =
          !claiming || (!PQgetisnull(res, i, 4) && PQgetlength(res, i, 4) == 1);
      if (!type || !name || PQgetisnull(res, i, 1) ||
          !get_i64(res, i, 3, &due) || !orphan_ok) {
        bad++;
        continue;
      }
      bool orphan = claiming && PQgetvalue(res, i, 4)[0] != 0;
      out[n++] = (va_due_reminder){type,
                                   PQgetvalue(res, i, 1),
                                   (size_t)PQgetlength(res, i, 1),
                                   name,
                                   due,
                                   orphan};
    }
    if (bad)
      tell_pg(l, VA_LOG_ERROR, "reminder rows left out", NULL,
              "a type or name empty or with a NUL byte, or a bad due time",
              (int64_t)bad);
    r->cb.due(r->ctx, 0, out, n);
  }
  free(out);
  free(r);
  batch_free(b);
}

/* ---- Recovery ---- */

/* Everything failed or lost goes back to the front, and sending resumes,
 * once nothing sent before is still in flight. */
static void end_recovery_if_done(lane *l) {
  if (l->recovering && l->state == LANE_READY && !l->inflight.n &&
      !l->unresolved.n) {
    rl_prepend(&l->pending, &l->retry);
    l->recovering = false;
  }
}

/* Answers the saves in doubt that committed; sends the rest again (and
 * every load, release and query that was in flight). */
static void apply_resolution(lane *l) {
  pg_store *s = l->s;
  batch *b;
  while ((b = bl_pop(&l->unresolved))) {
    bool any = false;
    request *r;
    while ((r = rl_pop(&b->reqs))) {
      if (r->kind == REQ_SAVE && r->entry && r->entry->committed) {
        any = true;
        answer_save(s, r, 0);
      } else {
        requeue(l, r);
      }
    }
    if (any)
      va_count(s->commits, 1);
    batch_free(b);
  }
  end_recovery_if_done(l);
}

/* A save in doubt committed when its actor shows its version (or a later
 * one: its later saves, which could only follow it) under its epoch. */
static void complete_check(lane *l, batch *b) {
  for (size_t i = 0; i < b->n_steps; i++) {
    const PGresult *res = b->steps[i].res;
    entry *e = b->steps[i].entry;
    uint64_t version, epoch;
    e->committed = has_rows(res, 2) && PQntuples(res) == 1 &&
                   get_u64(res, 0, 0, &version) && get_u64(res, 0, 1, &epoch) &&
                   version >= e->version + e->count &&
                   (!l->s->claiming || epoch == e->epoch);
  }
  batch_free(b);
  l->state = LANE_READY;
  apply_resolution(l);
}

static void setup_done(lane *l, uint64_t now) {
  pg_store *s = l->s;
  if (l->lost || l->failed_attempts) {
    va_store_log_field f[] = {{"lane", l->name, 0},
                              {"attempts", NULL, l->failed_attempts + 1}};
    tell(s, VA_LOG_INFO, "connected to the database again", f, 2);
  }
  if (l->lost)
    va_count(s->reconnects, 1);
  l->lost = false;
  l->failed_attempts = 0;
  l->backoff_ms = BACKOFF_FIRST_MS;
  batch *check = build_check(l);
  if (check) {
    l->state = LANE_RESOLVING;
    send_batch(l, check, now);
  } else {
    l->state = LANE_READY;
    apply_resolution(l);
  }
}

/* ---- Connections ---- */

/* Closes l's connection: what was in flight is in doubt (unresolved),
 * and nothing new is sent until it is resolved. */
static void drop_connection(lane *l) {
  batch *b;
  while ((b = bl_pop(&l->inflight))) {
    if (b->kind == BATCH_SETUP || b->kind == BATCH_CHECK)
      batch_free(b); /* made again on the next connection */
    else
      bl_push(&l->unresolved, b);
  }
  PQfinish(l->conn);
  l->conn = NULL;
  l->state = LANE_DOWN;
  l->want_flush = false;
  l->recovering = true;
}

/* A connection that worked is gone: told once, tried again soon. */
static void lane_lost(lane *l, uint64_t now, const char *why) {
  int64_t in_flight = 0;
  for (batch *b = l->inflight.head; b; b = b->next)
    in_flight += (int64_t)list_length(&b->reqs);
  tell_pg(l, VA_LOG_ERROR, "database connection lost", NULL, why, in_flight);
  drop_connection(l);
  l->lost = true;
  l->backoff_ms = BACKOFF_FIRST_MS;
  l->next_attempt_ms = now + l->backoff_ms;
}

/* An attempt to connect failed: told at the 1st, 2nd, 4th, 8th... so
 * that an outage of an hour writes a dozen lines. */
static void attempt_failed(lane *l, uint64_t now, const char *why) {
  l->failed_attempts++;
  if (!(l->failed_attempts & (l->failed_attempts - 1))) {
    char buf[512];
    const char *msg = why ? why : l->conn ? PQerrorMessage(l->conn) : NULL;
    va_store_log_field f[] = {{"lane", l->name, 0},
                              {"error", trimmed(msg, buf, sizeof(buf)), 0},
                              {"attempts", NULL, l->failed_attempts}};
    tell(l->s, VA_LOG_ERROR, "cannot connect to the database", f, 3);
  }
  drop_connection(l);
  l->next_attempt_ms = now + l->backoff_ms;
  l->backoff_ms =
      l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

static void start_connect(lane *l, uint64_t now) {
  const char *keys[] = {"fallback_application_name", "dbname", NULL};
  const char *values[] = {"vactor", l->s->url, NULL};
  l->conn = PQconnectStartParams(keys, values, 1);
  l->connect_started_ms = now;
  if (!l->conn || PQstatus(l->conn) == CONNECTION_BAD) {
    attempt_failed(l, now, l->conn ? NULL : "out of memory");
    return;
  }
  PQsetNoticeProcessor(l->conn, ignore_notice, NULL);
  l->state = LANE_CONNECTING;
  l->connect_wants = PGRES_POLLING_WRITING; /* libpq's rule to begin */
}

static void connected(lane *l, uint64_t now) {
  batch *setup = NULL;
  if (PQsetnonblocking(l->conn, 1) != 0 || PQenterPipelineMode(l->conn) != 1 ||
      !(setup = build_setup(l->s))) {
    attempt_failed(l, now, setup ? NULL : "out of memory");
    return;
  }
  l->state = LANE_SETUP;
  send_batch(l, setup, now);
}

static void continue_connect(lane *l, uint64_t now) {
  PostgresPollingStatusType st = PQconnectPoll(l->conn);
  if (st == PGRES_POLLING_OK)
    connected(l, now);
  else if (st == PGRES_POLLING_FAILED)
    attempt_failed(l, now, NULL);
  else
    l->connect_wants = st;
}

/* ---- Results ---- */

static bool keeps_rows(step_kind k) {
  return k == STEP_CLAIM || k == STEP_READ || k == STEP_BUMP || k == STEP_DUE ||
         k == STEP_CHECK;
}

/* Files one result of the batch at the head of the pipeline. false: a
 * result beyond its statements that is no error (libpq and this store
 * disagree: the connection is given up). */
static bool take_result(batch *b, PGresult *res) {
  ExecStatusType st = PQresultStatus(res);
  if (st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED) {
    /* An error at the Sync (the commit) comes after every statement. */
    if (b->n_results < b->n_steps)
      b->n_results++;
    if (st == PGRES_FATAL_ERROR && !b->error)
      b->error = res;
    else
      PQclear(res);
    return true;
  }
  if (b->n_results >= b->n_steps) {
    PQclear(res);
    return false;
  }
  step *s = &b->steps[b->n_results++];
  if (keeps_rows(s->kind))
    s->res = res;
  else
    PQclear(res);
  return true;
}

/* Retrying helps: serialization failures and deadlocks (another node's
 * transaction), a lock not available, a server shutting down or a
 * connection failing. */
static bool transient(const PGresult *error) {
  const char *st = PQresultErrorField(error, PG_DIAG_SQLSTATE);
  if (!st)
    return true; /* libpq's own: the connection */
  return !strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03") ||
         !strncmp(st, "57P0", 4) || !strncmp(st, "08", 2);
}

static const char *failure_text(batch_kind k) {
  switch (k) {
  case BATCH_LOADS:
    return "state load failed";
  case BATCH_GROUP:
    return "state commit failed";
  case BATCH_DUE:
    return "reminder query failed";
  default:
    return "database statement failed";
  }
}

/* A batch answered with an error: its transaction rolled back. Sent
 * again when that may help (or while recovering, so that it does not
 * overtake what is to be sent again before it); else failed. */
static void batch_failed(lane *l, batch *b) {
  int64_t n = (int64_t)list_length(&b->reqs);
  if (transient(b->error) || l->recovering) {
    tell_pg(l, VA_LOG_WARN, "database transaction to be retried", b->error,
            NULL, n);
    requeue_batch(l, b);
  } else {
    tell_pg(l, VA_LOG_ERROR, failure_text(b->kind), b->error, NULL, n);
    fail_batch(b, VA_ESTORE);
  }
}

/* The head batch's Sync came: it is decided. */
static void finish_batch(lane *l, batch *b, uint64_t now) {
  if (!b->error && b->n_results < b->n_steps) {
    /* libpq and this store disagree: whatever b did is in doubt. */
    bl_push_front(&l->inflight, b);
    lane_lost(l, now, "fewer results than statements");
    return;
  }
  switch (b->kind) {
  case BATCH_SETUP:
    if (b->error) {
      tell_pg(l, VA_LOG_ERROR, "cannot prepare the store's statements",
              b->error, NULL, -1);
      batch_free(b);
      attempt_failed(l, now, "preparing failed");
    } else {
      batch_free(b);
      setup_done(l, now);
    }
    return;
  case BATCH_CHECK:
    if (b->error) {
      tell_pg(l, VA_LOG_ERROR, "cannot look up the saves in doubt", b->error,
              NULL, -1);
      batch_free(b);
      lane_lost(l, now, "the look-up failed");
    } else {
      complete_check(l, b);
    }
    return;
  default:
    break;
  }
  if (b->error)
    batch_failed(l, b);
  else if (b->kind == BATCH_LOADS)
    complete_loads(l, b);
  else if (b->kind == BATCH_GROUP)
    complete_group(l, b);
  else
    complete_due(l, b);
}

/* Reads every result libpq has whole, in pipeline order. */
static void drain_results(lane *l, uint64_t now) {
  int nulls = 0; /* one ends each statement's results; two: none left */
  while (l->conn && l->inflight.head && !PQisBusy(l->conn)) {
    PGresult *res = PQgetResult(l->conn);
    if (!res) {
      if (++nulls >= 2)
        break;
      continue;
    }
    nulls = 0;
    if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
      PQclear(res);
      finish_batch(l, bl_pop(&l->inflight), now);
    } else if (!take_result(l->inflight.head, res)) {
      lane_lost(l, now, "a result no statement asked for");
    }
  }
}

/* ---- The store thread ---- */

/* Nothing of l waits or is in flight (its inbox is the callers': looked
 * at under the lock). */
static bool lane_idle(const lane *l) {
  return !l->pending.head && !l->retry.head && !l->inflight.n &&
         !l->unresolved.n;
}

/* Fails every request of l not in flight. */
static void fail_waiting(lane *l) {
  batch *b;
  while ((b = bl_pop(&l->unresolved)))
    fail_batch(b, VA_ESTORE);
  fail_list(&l->retry, VA_ESTORE);
  fail_list(&l->pending, VA_ESTORE);
}

static bool expired(const request *r, uint64_t now) {
  return r->deadline_ms <= now;
}

/* Fails the requests of list that waited past their deadline. */
static void expire_list(request_list *list, uint64_t now) {
  request_list keep, gone;
  rl_init(&keep);
  rl_init(&gone);
  request *r;
  while ((r = rl_pop(list)))
    rl_push(expired(r, now) ? &gone : &keep, r);
  rl_append(list, &keep);
  fail_list(&gone, VA_ESTORE);
}

/* Disconnected: requests wait, but not past their deadline. A batch in
 * doubt fails whole once its oldest request is past it. Oldest first, so
 * that one actor's answers keep their order. */
static void expire_waiting(lane *l, uint64_t now) {
  batch_list keep = {0};
  batch *b;
  while ((b = bl_pop(&l->unresolved))) {
    bool old = false;
    for (request *r = b->reqs.head; r && !old; r = r->next)
      old = expired(r, now);
    if (old)
      fail_batch(b, VA_ESTORE);
    else
      bl_push(&keep, b);
  }
  l->unresolved = keep;
  expire_list(&l->retry, now);
  expire_list(&l->pending, now);
}

/* Sends what is pending while the pipeline has room. */
static void send_pending(lane *l, uint64_t now) {
  while (l->state == LANE_READY && !l->recovering && l->pending.head &&
         l->inflight.n < MAX_BATCHES_IN_FLIGHT) {
    batch *b = l == &l->s->reads                  ? build_loads(l)
               : l->pending.head->kind == REQ_DUE ? build_due(l)
                                                  : build_group(l);
    if (!b)
      return; /* out of memory: tried again on the next pass */
    send_batch(l, b, now);
  }
}

/* Moves l on by the clock: connects, gives up, expires, sends. */
static void lane_advance(lane *l, uint64_t now, bool stopping) {
  switch (l->state) {
  case LANE_DOWN:
  case LANE_CONNECTING:
    if (stopping) { /* nothing to wait for: answer everything now */
      fail_waiting(l);
      if (l->conn) {
        PQfinish(l->conn);
        l->conn = NULL;
        l->state = LANE_DOWN;
      }
      return;
    }
    expire_waiting(l, now);
    if (l->state == LANE_DOWN && now >= l->next_attempt_ms)
      start_connect(l, now);
    else if (l->state == LANE_CONNECTING && PQsocket(l->conn) < 0)
      continue_connect(l, now); /* no socket to wait on yet */
    else if (l->state == LANE_CONNECTING &&
             now - l->connect_started_ms >= CONNECT_TIMEOUT_MS)
      attempt_failed(l, now, "timed out");
    return;
  default:
    if (l->inflight.head && now - l->inflight.head->sent_ms >= STUCK_MS) {
      lane_lost(l, now, "no answer for 30 s");
      return;
    }
    end_recovery_if_done(l);
    send_pending(l, now);
  }
}

static void lane_io(lane *l, short revents, uint64_t now) {
  if (l->state == LANE_CONNECTING) {
    continue_connect(l, now);
    return;
  }
  if ((revents & POLLOUT) && !flush(l, now))
    return;
  if (revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) {
    if (!PQconsumeInput(l->conn)) {
      lane_lost(l, now, NULL);
      return;
    }
    drain_results(l, now);
  }
  if (l->conn && PQstatus(l->conn) == CONNECTION_BAD)
    lane_lost(l, now, NULL);
}

/* The events l waits for on its socket (0: none). */
static short lane_events(const lane *l) {
  if (!l->conn || PQsocket(l->conn) < 0)
    return 0;
  if (l->state == LANE_CONNECTING)
    return l->connect_wants == PGRES_POLLING_READING ? POLLIN : POLLOUT;
  return (short)(POLLIN | (l->want_flush ? POLLOUT : 0));
}

/* Takes what callers queued; returns whether the store is stopping. */
static bool take_inboxes(pg_store *s) {
  pthread_mutex_lock(&s->lock);
  lane *lanes[] = {&s->reads, &s->writes};
  for (int i = 0; i < 2; i++) {
    for (request *r = lanes[i]->inbox.head; r; r = r->next)
      r->seq = lanes[i]->next_seq++;
    rl_append(&lanes[i]->pending, &lanes[i]->inbox);
  }
  s->wake_pending = false;
  bool stop = s->stop;
  pthread_mutex_unlock(&s->lock);
  return stop;
}

/* How long the thread may sleep: until the next attempt to connect, and
 * at most a second (deadlines, a connection that hangs). */
static int poll_timeout(const pg_store *s, uint64_t now) {
  uint64_t ms = 1000;
  const lane *lanes[] = {&s->reads, &s->writes};
  for (int i = 0; i < 2; i++)
    if (lanes[i]->state == LANE_DOWN)
      ms = lanes[i]->next_attempt_ms <= now ? 0
           : lanes[i]->next_attempt_ms - now < ms
               ? lanes[i]->next_attempt_ms - now
               : ms;
  return (int)ms;
}

static void *store_main(void *arg) {
  pg_store *s = arg;
  lane *lanes[] = {&s->reads, &s->writes};
  for (;;) {
    bool stopping = take_inboxes(s);
    uint64_t now = va_clock_ms();
    for (int i = 0; i < 2; i++)
      lane_advance(lanes[i], now, stopping);
    if (stopping && lane_idle(&s->reads) && lane_idle(&s->writes)) {
      pthread_mutex_lock(&s->lock); /* a callback may have queued more */
      bool empty = !s->reads.inbox.head && !s->writes.inbox.head;
      pthread_mutex_unlock(&s->lock);
      if (empty)
        break;
      continue;
    }
    struct pollfd fds[3] = {{.fd = s->wake_fd, .events = POLLIN}};
    lane *polled[3] = {NULL};
    nfds_t n = 1;
    for (int i = 0; i < 2; i++) {
      short ev = lane_events(lanes[i]);
      if (ev) {
        fds[n] = (struct pollfd){.fd = PQsocket(lanes[i]->conn), .events = ev};
        polled[n++] = lanes[i];
      }
    }
    if (poll(fds, n, poll_timeout(s, now)) < 0 && errno != EINTR)
      continue; /* EINVAL or ENOMEM: the next pass tries again */
    uint64_t counter;
    if (fds[0].revents & POLLIN)
      (void)!read(s->wake_fd, &counter, sizeof(counter));
    now = va_clock_ms();
    for (nfds_t i = 1; i < n; i++)
      if (fds[i].revents && polled[i]->conn)
        lane_io(polled[i], fds[i].revents, now);
  }
  for (int i = 0; i < 2; i++) {
    PQfinish(lanes[i]->conn);
    lanes[i]->conn = NULL;
  }
  return NULL;
}

/* ---- The interface ---- */

/* Whether text (len bytes) is UTF-8, as PostgreSQL takes it: no overlong
 * form, no surrogate, nothing past U+10FFFF. */
static bool utf8_valid(const char *text, size_t len) {
  const unsigned char *p = (const unsigned char *)text, *end = p + len;
  while (p < end) {
    unsigned c = *p++;
    if (c < 0x80)
      continue;
    int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : -1;
    if (more < 0 || c > 0xf4 || end - p < more)
      return false;
    unsigned cp = c & (0x3f >> more);
    for (int i = 0; i < more; i++, p++) {
      if ((*p & 0xc0) != 0x80)
        return false;
      cp = cp << 6 | (*p & 0x3f);
    }
    if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
      return false;
  }
  return true;
}

/* A request with room for extra bytes after the id; NULL when out of
 * memory. */
static request *new_request(req_kind kind, const char *type, const char *id,
                            size_t id_len, size_t extra) {
  request *r = malloc(sizeof(*r) + id_len + extra);
  if (!r)
    return NULL;
  memset(r, 0, sizeof(*r));
  r->kind = kind;
  r->type = type;
  r->type_len = strlen(type);
  r->id_len = id_len;
  r->id = (char *)(r + 1);
  if (id_len)
    memcpy(r->id, id, id_len);
  return r;
}

/* Queues r (taken over) for lane l, ringing the thread unless it was
 * rung already and has not looked yet. */
static void submit(pg_store *s, lane *l, request *r) {
  r->deadline_ms = va_clock_ms() + WAIT_LIMIT_MS;
  pthread_mutex_lock(&s->lock);
  rl_push(&l->inbox, r);
  bool ring = !s->wake_pending;
  s->wake_pending = true;
  pthread_mutex_unlock(&s->lock);
  if (ring) {
    uint64_t one = 1;
    (void)!write(s->wake_fd, &one, sizeof(one));
  }
}

/* The checks every request's actor passes: a type PostgreSQL takes as
 * text, an id (bytes). */
static bool actor_ok(const char *type, const char *id, size_t id_len) {
  return type && *type && utf8_valid(type, strlen(type)) && (id || !id_len) &&
         id_len <= MAX_VALUE_LEN;
}

static int pg_load(va_store *base, const char *type, const char *id,
                   size_t id_len, va_store_load_cb cb, void *ctx) {
  pg_store *s = (pg_store *)base;
  if (!cb || !actor_ok(type, id, id_len))
    return VA_EINVAL;
  request *r = new_request(REQ_LOAD, type, id, id_len, 0);
  if (!r)
    return VA_ENOMEM;
  r->cb.load = cb;
  r->ctx = ctx;
  submit(s, &s->reads, r);
  return 0;
}

/* The bytes write w needs copied (write_copy.h); 0 for a write that
 * cannot be stored. */
static size_t copy_size(const va_store_write *w) {
  if (!w->key || (w->len && !w->deleted && !w->val) || w->len > MAX_VALUE_LEN)
    return 0;
  return va__write_copy_size(w);
}

static int pg_save(va_store *base, const char *type, const char *id,
                   size_t id_len, uint64_t version, uint64_t epoch,
                   const va_store_write *writes, size_t n, va_store_save_cb cb,
                   void *ctx) {
  pg_store *s = (pg_store *)base;
  if (!cb || !actor_ok(type, id, id_len) || (n && !writes) ||
      version > INT64_MAX / 2 || epoch > INT64_MAX)
    return VA_EINVAL;
  /* One block: the writes array (aligned after the id), then each key,
   * value and reminder name. */
  size_t array_at = (id_len + 7) & ~(size_t)7;
  size_t extra = array_at - id_len + n * sizeof(*writes);
  for (size_t i = 0; i < n; i++) {
    size_t size = copy_size(&writes[i]);
    if (!size)
      return writes[i].len > MAX_VALUE_LEN ? VA_ETOOBIG : VA_EINVAL;
    extra += size;
  }
  request *r = new_request(REQ_SAVE, type, id, id_len, extra);
  if (!r)
    return VA_ENOMEM;
  r->version = version;
  r->epoch = s->claiming ? epoch : 0; /* one node: nothing to fence */
  r->cb.save = cb;
  r->ctx = ctx;
  r->n = n;
  r->writes = (va_store_write *)(r->id + array_at);
  r->bytes = 64 + r->type_len + id_len + extra;
  char *p = (char *)(r->writes + n);
  for (size_t i = 0; i < n; i++)
    va__write_copy(&writes[i], &r->writes[i], &p);
  VA_ASSERT(p == r->id + id_len + extra);
  submit(s, &s->writes, r);
  return 0;
}

static int pg_reminders_due(va_store *base, int64_t from_ms, int64_t before_ms,
                            va_store_due_cb cb, void *ctx) {
  pg_store *s = (pg_store *)base;
  if (!cb)
    return VA_EINVAL;
  request *r = new_request(REQ_DUE, "", "", 0, 0);
  if (!r)
    return VA_ENOMEM;
  r->cb.due = cb;
  r->ctx = ctx;
  r->from_ms = from_ms;
  r->before_ms = before_ms;
  /* Behind the saves already queued: its answer includes them. */
  submit(s, &s->writes, r);
  return 0;
}

static int pg_release(va_store *base, const char *type, const char *id,
                      size_t id_len, uint64_t epoch, va_store_save_cb cb,
                      void *ctx) {
  pg_store *s = (pg_store *)base;
  if (!actor_ok(type, id, id_len) || epoch > INT64_MAX)
    return VA_EINVAL;
  if (!s->claiming) { /* nothing was claimed */
    if (cb)
      cb(ctx, 0);
    return 0;
  }
  request *r = new_request(REQ_RELEASE, type, id, id_len, 0);
  if (!r)
    return VA_ENOMEM;
  r->epoch = epoch;
  r->cb.save = cb;
  r->ctx = ctx;
  r->bytes = 64 + r->type_len + id_len;
  /* Behind the actor's saves: a release must not overtake a write. */
  submit(s, &s->writes, r);
  return 0;
}

/* A listing and a peek go to the look-out (postgres_look.c), never to
 * the lanes: an operator's question must not wait behind, or hold up,
 * the loads and saves. */
static int pg_list(va_store *base, const char *type, const char *after,
                   size_t after_len, const char *prefix, size_t prefix_len,
                   size_t limit, va_store_list_cb cb, void *ctx) {
  pg_store *s = (pg_store *)base;
  if (!cb || !actor_ok(type, after, after_len) || (prefix_len && !prefix) ||
      prefix_len > MAX_VALUE_LEN || !limit || limit > INT64_MAX)
    return VA_EINVAL;
  return va__pg_look_list(s->look, type, after, after_len, prefix, prefix_len,
                          limit, cb, ctx);
}

static int pg_peek(va_store *base, const char *type, const char *id,
                   size_t id_len, va_store_load_cb cb, void *ctx) {
  pg_store *s = (pg_store *)base;
  if (!cb || !actor_ok(type, id, id_len))
    return VA_EINVAL;
  return va__pg_look_peek(s->look, type, id, id_len, cb, ctx);
}

static void pg_stats(va_store *base, uint64_t *commits, uint64_t *saves) {
  pg_store *s = (pg_store *)base;
  *commits = va_load_relaxed(&s->commits);
  *saves = va_load_relaxed(&s->saved);
}

static void lane_init(lane *l, pg_store *s, const char *name) {
  memset(l, 0, sizeof(*l));
  l->s = s;
  l->name = name;
  rl_init(&l->inbox);
  rl_init(&l->pending);
  rl_init(&l->retry);
  l->backoff_ms = BACKOFF_FIRST_MS;
}

/* Frees s and what it holds; its thread has stopped (or never started). */
static void store_free(pg_store *s) {
  va__pg_look_free(s->look); /* first: it borrows the URL */
  lane *lanes[] = {&s->reads, &s->writes};
  for (int i = 0; i < 2; i++) {
    VA_ASSERT(lane_idle(lanes[i]) && !lanes[i]->inbox.head);
    PQfinish(lanes[i]->conn);
  }
  if (s->wake_fd >= 0)
    close(s->wake_fd);
  pthread_mutex_destroy(&s->lock);
  free(s->node);
  free(s->url);
  free(s);
}

static void pg_destroy(va_store *base) {
  pg_store *s = (pg_store *)base;
  /* Stopping drains: what is queued or in flight is answered first (at
   * once with VA_ESTORE while the database is unreachable). */
  pthread_mutex_lock(&s->lock);
  s->stop = true;
  pthread_mutex_unlock(&s->lock);
  uint64_t one = 1;
  (void)!write(s->wake_fd, &one, sizeof(one));
  if (s->thread_started)
    pthread_join(s->thread, NULL);
  store_free(s);
}

static const va_store_ops postgres_ops = {
    .abi_version = VA_STORE_ABI,
    .load = pg_load,
    .save = pg_save,
    .destroy = pg_destroy,
    .stats = pg_stats,
    .reminders_due = pg_reminders_due,
    .release = pg_release,
    .list = pg_list,
    .peek = pg_peek,
};

/* Connects once, blocking, and creates or migrates the schema; told
 * through the log on failure. */
static int set_up_schema(pg_store *s) {
  const char *keys[] = {"fallback_application_name", "connect_timeout",
                        "dbname", NULL};
  const char *values[] = {"vactor", "10", s->url, NULL};
  PGconn *conn = PQconnectdbParams(keys, values, 1);
  lane fake = {.s = s, .name = "setup", .conn = conn};
  int rc = 0;
  if (!conn || PQstatus(conn) != CONNECTION_OK) {
    tell_pg(&fake, VA_LOG_ERROR, "cannot connect to the database", NULL,
            conn ? NULL : "out of memory", -1);
    rc = VA_ESTORE;
  } else {
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    va__pg_failure why = {0};
    if ((rc = va__pg_schema_setup(conn, &why)) != 0) {
      va_store_log_field f[3] = {{"error", why.error, 0}};
      size_t n = 1;
      if (why.sqlstate[0])
        f[n++] = (va_store_log_field){"sqlstate", why.sqlstate, 0};
      tell(s, VA_LOG_ERROR, why.what, f, n);
    }
  }
  PQfinish(conn);
  return rc;
}

/* The store with its options copied, its lock and its eventfd; NULL when
 * out of memory (*rc says which). */
static pg_store *store_new(const char *url,
                           const va_store_postgres_options *opts, int *rc) {
  pg_store *s = calloc(1, sizeof(*s));
  *rc = VA_ENOMEM;
  if (!s)
    return NULL;
  s->base.ops = &postgres_ops;
  s->wake_fd = -1;
  if (opts)
    s->opts = *opts;
  s->claiming = s->opts.node != NULL;
  atomic_init(&s->incarnation, s->opts.incarnation);
  lane_init(&s->reads, s, "reads");
  lane_init(&s->writes, s, "writes");
  int e = pthread_mutex_init(&s->lock, NULL);
  if (e) {
    free(s);
    *rc = e == ENOMEM ? VA_ENOMEM : VA_ESYS;
    return NULL;
  }
  s->url = strdup(url);
  s->node = s->claiming ? strdup(s->opts.node) : NULL;
  s->opts.node = s->node;
  s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (!s->url || (s->claiming && !s->node) || s->wake_fd < 0) {
    *rc = s->wake_fd < 0 && s->url ? VA_ESYS : VA_ENOMEM;
    store_free(s);
    return NULL;
  }
  *rc = 0;
  return s;
}

int va_store_postgres_open(const char *url,
                           const va_store_postgres_options *opts,
                           va_store **out) {
  if (!url || !out ||
      (opts && opts->node &&
       (!*opts->node || !utf8_valid(opts->node, strlen(opts->node)))) ||
      (opts && opts->incarnation > INT64_MAX))
    return VA_EINVAL;
  int rc;
  pg_store *s = store_new(url, opts, &rc);
  if (!s)
    return rc;
  if ((rc = set_up_schema(s)) != 0) {
    store_free(s);
    return rc;
  }
  va__pg_look_options look = {.url = s->url,
                              .claiming = s->claiming,
                              .log = s->opts.log,
                              .log_user = s->opts.log_user};
  if ((rc = va__pg_look_new(&look, &s->look)) != 0) {
    tell(s, VA_LOG_ERROR, "cannot start the store's look-out thread", NULL, 0);
    store_free(s);
    return rc;
  }
  int e = pthread_create(&s->thread, NULL, store_main, s);
  if (e) {
    char text[128];
    va_store_log_field why = {"error", strerror_r(e, text, sizeof(text)), 0};
    tell(s, VA_LOG_ERROR, "cannot start the store's thread", &why, 1);
    store_free(s);
    return VA_ESYS;
  }
  s->thread_started = true;
  *out = &s->base;
  return 0;
}

void va_store_postgres_set_incarnation(va_store *base, uint64_t incarnation) {
  if (!base || base->ops != &postgres_ops || incarnation > INT64_MAX)
    return;
  pg_store *s = (pg_store *)base;
  atomic_store_explicit(&s->incarnation, incarnation, memory_order_relaxed);
}

void va_store_postgres_stats_get(va_store *base, va_store_postgres_stats *out) {
  *out = (va_store_postgres_stats){0};
  if (!base || base->ops != &postgres_ops)
    return;
  pg_store *s = (pg_store *)base;
  out->claims = va_load_relaxed(&s->claims);
  out->claims_refused = va_load_relaxed(&s->claims_refused);
  out->fenced = va_load_relaxed(&s->fenced);
  out->reconnects = va_load_relaxed(&s->reconnects);
  out->retried = va_load_relaxed(&s->retried);
}
