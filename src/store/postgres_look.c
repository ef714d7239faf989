/* postgres_look.c — the PostgreSQL store's look-out (postgres_look.h):
 * listings of a type's actors and peeks at an actor's state that claim
 * nothing, asked by an operator now and then.
 *
 * The simplest design that holds nobody up: one thread, one connection,
 * one question at a time. Callers copy their question into one block,
 * queue it (at most QUEUE_MAX wait; VA_EBACKPRESSURE beyond) and return;
 * the store's lanes never see it. The connection is opened at the first
 * question, with the store's URL and settings, closed after IDLE_CLOSE_MS
 * without one, and opened again after a failure; it is read-only, and
 * every statement on it runs under statement_timeout, so that a slow
 * database cannot pile work up on itself. Every wait of the thread —
 * connecting, sending, the answer — is a poll with a deadline that also
 * wakes for destroy, so destroy never waits for the database.
 *
 * A question runs as one statement (its own snapshot), unprepared, so
 * that the planner sees its bounds (a listing's ranges and limit: see
 * va__pg_list_statement); a peek is the load's own read (VA_PG_READ)
 * without the claim before it. */
#include "postgres_look.h"
#include "../base/assert.h"
#include "../base/clock.h"
#include "../base/id_page.h"
#include "postgres_sql.h"
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum {
  QUEUE_MAX = 64,             /* questions waiting; more are refused */
  WAIT_LIMIT_MS = 30000,      /* a question waits so long for its turn */
  CONNECT_TIMEOUT_MS = 10000, /* one attempt to connect (as the lanes) */
  STATEMENT_MS = 5000,        /* the server's statement_timeout */
  ANSWER_GRACE_MS = 2000,     /* past it, no answer: the connection is
                                 given up */
  IDLE_CLOSE_MS = 60000,      /* the connection closes after so long idle */
};

/* The session's settings, sent once per connection. */
static const char SESSION_SQL[] = "SET statement_timeout = 5000;"
                                  " SET default_transaction_read_only = on";

typedef enum look_kind { LOOK_LIST, LOOK_PEEK } look_kind;

/* A question, in one allocation: the struct, the type (with its NUL),
 * then the key (a peek's id; a listing's lowest id) and a listing's upper
 * bound. */
typedef struct question {
  struct question *next;
  look_kind kind;
  const char *type;
  const char *key;
  size_t key_len;
  const char *below; /* a listing's first id past the range; NULL: none */
  size_t below_len;
  int64_t limit;
  union {
    va_store_list_cb list;
    va_store_load_cb load;
  } cb;
  void *ctx;
  uint64_t deadline_ms; /* monotonic: not started by then, it times out */
} question;

struct va__pg_look {
  va__pg_look_options opts;
  pthread_mutex_t lock; /* the queue and stop */
  question *head, **tail;
  size_t queued;
  bool stop;
  int wake_fd; /* rung by a caller that queued, and by destroy */
  pthread_t thread;
  bool thread_started;
  /* The look-out's thread only: */
  PGconn *conn;
  uint64_t used_ms; /* when conn last answered */
};

/* The outcome of a wait or of a statement. */
typedef enum outcome {
  DONE,     /* ready; a statement: answered (maybe with a server error) */
  LOST,     /* the connection failed */
  TIMEOUT,  /* the deadline passed */
  STOPPING, /* destroy was called */
} outcome;

/* ---- Telling the operator ---- */

/* Tells a failure: what, libpq's or the server's message (trailing
 * newline off) and the SQLSTATE when there is one. */
static void tell(const va__pg_look *k, va_log_level level, const char *what,
                 const char *error, const char *sqlstate) {
  if (!k->opts.log)
    return;
  char buf[512];
  snprintf(buf, sizeof(buf), "%s", error && *error ? error : "(no message)");
  size_t len = strlen(buf);
  while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
    buf[--len] = 0;
  va_store_log_field f[3] = {{"lane", "look", 0}, {"error", buf, 0}};
  size_t n = 2;
  if (sqlstate)
    f[n++] = (va_store_log_field){"sqlstate", sqlstate, 0};
  k->opts.log(k->opts.log_user, level, what, f, n);
}

static void ignore_notice(void *arg, const char *message) {
  (void)arg, (void)message;
}

/* ---- Answering ---- */

static void answer_failure(question *q, int status) {
  if (q->kind == LOOK_LIST)
    q->cb.list(q->ctx, status, NULL, 0);
  else
    q->cb.load(q->ctx, status, NULL, 0, 0, 0);
  free(q);
}

/* Pops the first question queued, or NULL; *stop: destroy was called. */
static question *take(va__pg_look *k, bool *stop) {
  pthread_mutex_lock(&k->lock);
  question *q = k->head;
  if (q) {
    k->head = q->next;
    if (!k->head)
      k->tail = &k->head;
    k->queued--;
  }
  *stop = k->stop;
  pthread_mutex_unlock(&k->lock);
  return q;
}

/* Answers every question queued with status. */
static void fail_queued(va__pg_look *k, int status) {
  bool stop;
  question *q;
  while ((q = take(k, &stop)))
    answer_failure(q, status);
}

static bool stopping(va__pg_look *k) {
  pthread_mutex_lock(&k->lock);
  bool stop = k->stop;
  pthread_mutex_unlock(&k->lock);
  return stop;
}

static void drain_wake(va__pg_look *k) {
  uint64_t counter;
  (void)!read(k->wake_fd, &counter, sizeof(counter));
}

/* ---- Waiting ---- */

/* Waits until fd is ready for events (fd < 0: nothing to wait on, ready
 * at once), the deadline passes or destroy is called. */
static outcome wait_fd(va__pg_look *k, int fd, short events,
                       uint64_t deadline) {
  if (fd < 0)
    return DONE;
  for (;;) {
    uint64_t now = va_clock_ms();
    if (now >= deadline)
      return TIMEOUT;
    struct pollfd fds[2] = {{.fd = fd, .events = events},
                            {.fd = k->wake_fd, .events = POLLIN}};
    int n = poll(fds, 2, (int)(deadline - now));
    if (n < 0 && errno != EINTR)
      return LOST;
    if (n <= 0)
      continue;
    if (fds[1].revents & POLLIN) {
      drain_wake(k); /* a question queued: the main loop sees it */
      if (stopping(k))
        return STOPPING;
    }
    if (fds[0].revents)
      return DONE;
  }
}

/* Sends what libpq holds, then reads every result of the statement sent
 * on k->conn: *out gets its error, or else its last result (the caller
 * clears it). */
static outcome await_results(va__pg_look *k, uint64_t deadline,
                             PGresult **out) {
  PGconn *c = k->conn;
  *out = NULL;
  int rc;
  while ((rc = PQflush(c)) == 1) {
    outcome o = wait_fd(k, PQsocket(c), POLLIN | POLLOUT, deadline);
    if (o != DONE)
      return o;
    if (!PQconsumeInput(c))
      return LOST;
  }
  if (rc < 0)
    return LOST;
  for (;;) {
    while (PQisBusy(c)) {
      outcome o = wait_fd(k, PQsocket(c), POLLIN, deadline);
      if (o == DONE && !PQconsumeInput(c))
        o = LOST;
      if (o != DONE) {
        PQclear(*out);
        *out = NULL;
        return o;
      }
    }
    PGresult *res = PQgetResult(c);
    if (!res)
      break;
    /* The first error stays (later results follow from it). */
    if (*out && PQresultStatus(*out) == PGRES_FATAL_ERROR) {
      PQclear(res);
    } else {
      PQclear(*out);
      *out = res;
    }
  }
  if (!*out || PQstatus(c) == CONNECTION_BAD) {
    PQclear(*out); /* its message is the connection's, told by the caller */
    *out = NULL;
    return LOST;
  }
  return DONE;
}

/* ---- The connection ---- */

static void drop_connection(va__pg_look *k) {
  PQfinish(k->conn);
  k->conn = NULL;
}

/* Sets the session up on a new connection: read-only, statements
 * bounded. */
static outcome set_up_session(va__pg_look *k) {
  if (PQsetnonblocking(k->conn, 1) != 0 || !PQsendQuery(k->conn, SESSION_SQL))
    return LOST;
  PGresult *res;
  outcome o =
      await_results(k, va_clock_ms() + STATEMENT_MS + ANSWER_GRACE_MS, &res);
  if (o == DONE && PQresultStatus(res) != PGRES_COMMAND_OK) {
    tell(k, VA_LOG_ERROR, "cannot set up the look-out's session",
         PQresultErrorMessage(res), PQresultErrorField(res, PG_DIAG_SQLSTATE));
    o = LOST;
  }
  PQclear(res);
  return o;
}

/* Connects (k->conn) within CONNECT_TIMEOUT_MS, as the store's lanes do;
 * told on failure. */
static outcome connect_now(va__pg_look *k) {
  const char *keys[] = {"fallback_application_name", "dbname", NULL};
  const char *values[] = {"vactor", k->opts.url, NULL};
  uint64_t deadline = va_clock_ms() + CONNECT_TIMEOUT_MS;
  k->conn = PQconnectStartParams(keys, values, 1);
  outcome o = k->conn && PQstatus(k->conn) != CONNECTION_BAD ? DONE : LOST;
  if (o == DONE)
    PQsetNoticeProcessor(k->conn, ignore_notice, NULL);
  /* libpq's rule: wait for writing first, then as PQconnectPoll says. */
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (o == DONE && st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) {
      o = LOST;
      break;
    }
    o = wait_fd(k, PQsocket(k->conn),
                st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
    if (o == DONE)
      st = PQconnectPoll(k->conn);
  }
  if (o == DONE)
    o = set_up_session(k);
  if (o == LOST || o == TIMEOUT)
    tell(k, VA_LOG_ERROR, "cannot connect to the database",
         o == TIMEOUT ? "timed out"
         : k->conn    ? PQerrorMessage(k->conn)
                      : "out of memory",
         NULL);
  if (o != DONE)
    drop_connection(k);
  return o;
}

/* ---- Asking ---- */

/* Sends q's statement on k->conn (binary parameters and results). */
static bool send_question(va__pg_look *k, const question *q) {
  const va__pg_statement *def =
      q->kind == LOOK_LIST
          ? va__pg_list_statement(k->opts.claiming, q->below != NULL)
          : va__pg_statement_of(VA_PG_READ, k->opts.claiming);
  char limit[8];
  for (int i = 0; i < 8; i++)
    limit[i] = (char)((uint64_t)q->limit >> (56 - 8 * i));
  /* An empty bytea is "" (a NULL pointer would be SQL NULL). */
  const char *values[4] = {q->type, q->key_len ? q->key : "", limit, q->below};
  int lengths[4] = {(int)strlen(q->type), (int)q->key_len, 8,
                    (int)q->below_len};
  int formats[4] = {1, 1, 1, 1};
  VA_ASSERT(def->sql && def->n_params <= 4);
  return PQsendQueryParams(k->conn, def->sql, def->n_params, def->types, values,
                           lengths, formats, 1) == 1;
}

/* Whether res holds rows of `fields` binary columns. */
static bool has_rows(const PGresult *res, int fields) {
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != fields)
    return false;
  for (int i = 0; i < fields; i++)
    if (PQfformat(res, i) != 1)
      return false;
  return true;
}

/* A listing's rows: (id bytea, owner text or NULL). */
static void answer_list(va__pg_look *k, question *q, const PGresult *res) {
  int rows = has_rows(res, 2) ? PQntuples(res) : -1;
  va_store_actor *out = rows > 0 ? malloc((size_t)rows * sizeof(*out)) : NULL;
  const char *bad = rows < 0           ? "unexpected columns"
                    : rows > 0 && !out ? "out of memory"
                    : rows > q->limit  ? "more rows than the limit"
                                       : NULL;
  for (int i = 0; !bad && i < rows; i++) {
    if (PQgetisnull(res, i, 0)) {
      bad = "a NULL id";
      break;
    }
    /* libpq ends every value with a NUL; text holds none of its own. */
    out[i] =
        (va_store_actor){PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0),
                         PQgetisnull(res, i, 1) || !PQgetlength(res, i, 1)
                             ? NULL
                             : PQgetvalue(res, i, 1)};
  }
  if (bad)
    tell(k, VA_LOG_ERROR, "listing failed", bad, NULL);
  q->cb.list(q->ctx, bad ? VA_ESTORE : 0, bad ? NULL : out,
             bad ? 0 : (size_t)(rows > 0 ? rows : 0));
  free(out);
}

/* A peek's rows, read as a load reads them (va__pg_decode_read); no
 * claim, so epoch 0. */
static void answer_peek(va__pg_look *k, question *q, const PGresult *res) {
  va_store_item *items;
  size_t n;
  uint64_t version;
  const char *bad = NULL;
  int rc =
      va__pg_decode_read(res, va_clock_wall_ms(), &items, &n, &version, &bad);
  if (rc)
    tell(k, VA_LOG_ERROR, "state peek failed", bad, NULL);
  q->cb.load(q->ctx, rc, rc ? NULL : items, rc ? 0 : n, rc ? 0 : version, 0);
  free(items);
}

/* A statement answered with an error: out of statement time, or any
 * other failure. */
static void answer_error(va__pg_look *k, question *q, const PGresult *res) {
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  bool timed_out = state && !strcmp(state, "57014"); /* query_canceled */
  tell(k, timed_out ? VA_LOG_WARN : VA_LOG_ERROR,
       q->kind == LOOK_LIST ? "listing failed" : "state peek failed",
       PQresultErrorMessage(res), state);
  answer_failure(q, timed_out ? VA_ETIMEDOUT : VA_ESTORE);
}

/* Answers q from its statement's result, and frees it. */
static void answer(va__pg_look *k, question *q, const PGresult *res) {
  if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
    answer_error(k, q, res);
    return;
  }
  if (q->kind == LOOK_LIST)
    answer_list(k, q, res);
  else
    answer_peek(k, q, res);
  free(q);
}

/* Asks q on k->conn (connecting first when there is none) and answers
 * it. A connection that was open before q and turns out lost (the
 * server restarted, or closed it) is made again once, and q asked again:
 * it is read-only. */
static void ask(va__pg_look *k, question *q) {
  if (va_clock_ms() >= q->deadline_ms) {
    answer_failure(q, VA_ETIMEDOUT);
    return;
  }
  for (int attempt = 0;; attempt++) {
    bool reused = k->conn != NULL;
    outcome o = reused ? DONE : connect_now(k);
    if (o == STOPPING) {
      answer_failure(q, VA_ESTOPPED);
      return;
    }
    if (o != DONE) { /* unreachable: the others queued would wait for it */
      answer_failure(q, VA_ESTORE);
      fail_queued(k, VA_ESTORE);
      return;
    }
    PGresult *res = NULL;
    uint64_t deadline = va_clock_ms() + STATEMENT_MS + ANSWER_GRACE_MS;
    o = send_question(k, q) ? await_results(k, deadline, &res) : LOST;
    if (o == DONE) {
      k->used_ms = va_clock_ms();
      answer(k, q, res);
      PQclear(res);
      return;
    }
    if (o == LOST && reused && attempt == 0) {
      drop_connection(k); /* closed while idle, most likely: once more */
      continue;
    }
    if (o == TIMEOUT)
      tell(k, VA_LOG_WARN, "database connection given up", "no answer in time",
           NULL);
    else if (o == LOST)
      tell(k, VA_LOG_ERROR, "database connection lost", PQerrorMessage(k->conn),
           NULL);
    drop_connection(k); /* out of step with its answers, or gone */
    answer_failure(q, o == STOPPING  ? VA_ESTOPPED
                      : o == TIMEOUT ? VA_ETIMEDOUT
                                     : VA_ESTORE);
    return;
  }
}

/* ---- The thread ---- */

/* Sleeps until a caller or destroy rings; an idle connection is closed
 * meanwhile. */
static void wait_idle(va__pg_look *k) {
  int timeout = -1;
  if (k->conn) {
    uint64_t idle = va_clock_ms() - k->used_ms;
    if (idle >= IDLE_CLOSE_MS) {
      drop_connection(k);
    } else {
      timeout = (int)(IDLE_CLOSE_MS - idle);
    }
  }
  struct pollfd fd = {.fd = k->wake_fd, .events = POLLIN};
  if (poll(&fd, 1, timeout) > 0)
    drain_wake(k);
}

static void *look_main(void *arg) {
  va__pg_look *k = arg;
  for (;;) {
    bool stop;
    question *q = take(k, &stop);
    if (stop) {
      if (q)
        answer_failure(q, VA_ESTOPPED);
      break;
    }
    if (q)
      ask(k, q);
    else
      wait_idle(k);
  }
  fail_queued(k, VA_ESTOPPED);
  drop_connection(k);
  return NULL;
}

/* ---- The interface ---- */

/* Queues q (taken over), unless too many wait or destroy was called. */
static int submit(va__pg_look *k, question *q) {
  q->deadline_ms = va_clock_ms() + WAIT_LIMIT_MS;
  q->next = NULL;
  pthread_mutex_lock(&k->lock);
  int rc = k->stop                  ? VA_ESTOPPED
           : k->queued >= QUEUE_MAX ? VA_EBACKPRESSURE
                                    : 0;
  if (rc == 0) {
    *k->tail = q;
    k->tail = &q->next;
    k->queued++;
  }
  pthread_mutex_unlock(&k->lock);
  if (rc) {
    free(q);
    return rc;
  }
  uint64_t one = 1;
  (void)!write(k->wake_fd, &one, sizeof(one));
  return 0;
}

/* A question with the type copied and room for extra bytes; NULL when out
 * of memory. */
static question *new_question(look_kind kind, const char *type, size_t extra) {
  size_t type_len = strlen(type);
  question *q = malloc(sizeof(*q) + type_len + 1 + extra);
  if (!q)
    return NULL;
  memset(q, 0, sizeof(*q));
  q->kind = kind;
  char *p = (char *)(q + 1);
  memcpy(p, type, type_len + 1);
  q->type = p;
  q->key = p + type_len + 1;
  return q;
}

int va__pg_look_list(va__pg_look *k, const char *type, const char *after,
                     size_t after_len, const char *prefix, size_t prefix_len,
                     size_t limit, va_store_list_cb cb, void *ctx) {
  VA_ASSERT(limit >= 1 && limit <= INT64_MAX && after_len < INT_MAX &&
            prefix_len < INT_MAX);
  size_t room = after_len + 1 > prefix_len ? after_len + 1 : prefix_len;
  question *q = new_question(LOOK_LIST, type, room + prefix_len);
  if (!q)
    return VA_ENOMEM;
  char *key = (char *)q->key;
  q->key_len = va_id_range_from(after, after_len, prefix, prefix_len, key);
  char *below = key + room;
  q->below_len = va_id_range_below(prefix, prefix_len, below);
  q->below = q->below_len ? below : NULL;
  q->limit = (int64_t)limit;
  q->cb.list = cb;
  q->ctx = ctx;
  return submit(k, q);
}

int va__pg_look_peek(va__pg_look *k, const char *type, const char *id,
                     size_t id_len, va_store_load_cb cb, void *ctx) {
  VA_ASSERT(id_len < INT_MAX);
  question *q = new_question(LOOK_PEEK, type, id_len);
  if (!q)
    return VA_ENOMEM;
  if (id_len)
    memcpy((char *)q->key, id, id_len);
  q->key_len = id_len;
  q->cb.load = cb;
  q->ctx = ctx;
  return submit(k, q);
}

int va__pg_look_new(const va__pg_look_options *opts, va__pg_look **out) {
  va__pg_look *k = calloc(1, sizeof(*k));
  if (!k)
    return VA_ENOMEM;
  k->opts = *opts;
  k->tail = &k->head;
  int e = pthread_mutex_init(&k->lock, NULL);
  if (e) {
    free(k);
    return e == ENOMEM ? VA_ENOMEM : VA_ESYS;
  }
  k->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (k->wake_fd < 0 || pthread_create(&k->thread, NULL, look_main, k)) {
    va__pg_look_free(k);
    return VA_ESYS;
  }
  k->thread_started = true;
  *out = k;
  return 0;
}

void va__pg_look_free(va__pg_look *k) {
  if (!k)
    return;
  pthread_mutex_lock(&k->lock);
  k->stop = true;
  pthread_mutex_unlock(&k->lock);
  if (k->thread_started) {
    uint64_t one = 1;
    (void)!write(k->wake_fd, &one, sizeof(one));
    pthread_join(k->thread, NULL);
  }
  VA_ASSERT(!k->head && !k->conn);
  if (k->wake_fd >= 0)
    close(k->wake_fd);
  pthread_mutex_destroy(&k->lock);
  free(k);
}
