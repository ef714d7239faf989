/* membership.c — this node's row in vactor_member and the view that
 * follows from every row, kept by a thread of its own with its own
 * PostgreSQL connection (statements with a deadline: a database that does
 * not answer cannot hold it). Each tick (a quarter of the renewal period):
 *
 *  - join once (a new incarnation of the row, status alive) and bump the
 *    view version; the runtime's loads claim as that incarnation;
 *  - renew the lease (lease_until = the database's now() + lease) when due;
 *    a renewal that succeeds moves the runtime's fence to lease - margin
 *    after it was sent, by this node's monotonic clock, so the node stops
 *    starting turns before the database can judge its lease over. A
 *    renewal that finds the row marked dead (or another incarnation) makes
 *    the node evict every activation and join again;
 *  - mark dead, in one transaction with a bump of the view version, the
 *    rows whose lease the database judges over; only once this node has
 *    itself been connected and renewing for a whole lease (after a
 *    database outage everyone gets the chance to renew first);
 *  - read the rows again when the version moved (or every 2 s anyway) and
 *    install the new view (cluster.c);
 *  - reachability: list in the row (with each renewal) the peers to which
 *    no link connection has been ready for a lease; when the others' lists
 *    put members out (va__view_cut_off: more than half of the others
 *    cannot reach one), mark them dead, deciding again on the rows locked.
 *    A node so expelled waits to join again until its link reaches more
 *    than half of the others: cut off from its peers but not from the
 *    database, it stays out instead of coming back to be cut again.
 *
 * Leases are judged by the database's clock only: no node compares its
 * clock with another's. Claims (store.h) only take actors from dead rows,
 * so marking dead is the one decision that moves actors away from a node,
 * and a renewal racing it is ordered by the row's lock. */
#include "../base/clock.h"
#include "cluster_impl.h"
#include <inttypes.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  STATEMENT_MS = 1500,         /* the longest one statement may take */
  CONNECT_S = 2,               /* libpq's connect_timeout */
  FULL_READ_MS = 2000,         /* members read again at least this often */
  MARGIN_MIN_MS = 300,         /* the fence comes at least this long before the
                                  lease can run out */
  LOSSES_FORGOTTEN_MS = 60000, /* a member this long: its losses forgotten */
};

/* ---- Statements with a deadline ---- */

static void drop_connection(va_cluster *c) {
  if (c->conn)
    PQfinish(c->conn);
  c->conn = NULL;
  c->steady_since_ms = 0;
}

static void log_pg(va_cluster *c, const char *what, const char *detail) {
  char quoted[512];
  va_log_quote(detail ? detail : "", detail ? strcspn(detail, "\n") : 0, quoted,
               sizeof(quoted));
  va_log(c->rt, VA_LOG_WARN, what, "node=%s error=%s", c->node, quoted);
}

static bool connect_db(va_cluster *c) {
  char timeout[16];
  snprintf(timeout, sizeof(timeout), "%d", CONNECT_S);
  const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
  const char *values[] = {c->url, timeout, "vactord-membership", NULL};
  c->conn = PQconnectdbParams(keys, values, 1);
  if (c->conn && PQstatus(c->conn) == CONNECTION_OK &&
      PQsetnonblocking(c->conn, 1) == 0)
    return true;
  log_pg(c, "cluster database unreachable",
         c->conn ? PQerrorMessage(c->conn) : "out of memory");
  drop_connection(c);
  return false;
}

/* Collects the results of the statement sent; the last one is its own.
 * 1: done (*out set, or NULL on failure), 0: more to come. */
static int collect(va_cluster *c, PGresult **last, PGresult **out) {
  while (!PQisBusy(c->conn)) {
    PGresult *r = PQgetResult(c->conn);
    if (r) {
      PQclear(*last);
      *last = r;
      continue;
    }
    ExecStatusType st = *last ? PQresultStatus(*last) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      *out = *last;
    } else {
      log_pg(c, "cluster statement failed",
             *last ? PQresultErrorMessage(*last) : "no result");
      PQclear(*last);
      *out = NULL;
    }
    *last = NULL;
    return 1;
  }
  return 0;
}

/* Runs one statement and returns its result (the caller PQclears it), or
 * NULL when it failed or took longer than STATEMENT_MS (the connection is
 * then dropped: a late answer must never be taken for the next one's). */
static PGresult *run(va_cluster *c, const char *sql, int n,
                     const char *const *params) {
  if (!c->conn && !connect_db(c))
    return NULL;
  uint64_t deadline = va_clock_ms() + STATEMENT_MS;
  PGresult *last = NULL, *out = NULL;
  if (!PQsendQueryParams(c->conn, sql, n, NULL, params, NULL, NULL, 0))
    goto lost;
  for (;;) {
    int flushing = PQflush(c->conn);
    if (flushing < 0)
      goto lost;
    if (!flushing && collect(c, &last, &out))
      return out;
    uint64_t now = va_clock_ms();
    if (now >= deadline) {
      PQclear(last);
      log_pg(c, "cluster statement timed out", sql);
      drop_connection(c);
      return NULL;
    }
    struct pollfd p = {.fd = PQsocket(c->conn),
                       .events = POLLIN | (flushing ? POLLOUT : 0)};
    if (poll(&p, 1, (int)(deadline - now)) < 0 || !PQconsumeInput(c->conn))
      goto lost;
  }
lost:
  PQclear(last);
  log_pg(c, "cluster connection lost", PQerrorMessage(c->conn));
  drop_connection(c);
  return NULL;
}

/* run() for a statement whose rows are not needed: 0 or VA_ESTORE. */
static int exec(va_cluster *c, const char *sql, int n,
                const char *const *params, int *rows) {
  PGresult *r = run(c, sql, n, params);
  if (!r)
    return VA_ESTORE;
  if (rows) {
    const char *t = PQcmdTuples(r);
    *rows = *t ? atoi(t) : PQntuples(r);
  }
  PQclear(r);
  return 0;
}

static const char BUMP_VIEW[] =
    "UPDATE vactor_view SET version = version + 1 WHERE id = 1";

/* ---- Joining and renewing ---- */

/* The lease, as a text parameter in ms. */
static void ms_text(uint32_t ms, char out[16]) {
  snprintf(out, 16, "%" PRIu32, ms);
}

static void fence_after(va_cluster *c, uint64_t sent_ms) {
  uint32_t margin = c->lease_ms / 5;
  if (margin < MARGIN_MIN_MS)
    margin = MARGIN_MIN_MS;
  va_runtime_fence(c->rt, sent_ms + c->lease_ms - margin);
}

/* The app's types as they are now (va_cluster_set_app_types). */
static void app_types_now(va_cluster *c, char out[VA__CLUSTER_TYPES_MAX]) {
  pthread_mutex_lock(&c->lock);
  snprintf(out, VA__CLUSTER_TYPES_MAX, "%s", c->app_types);
  pthread_mutex_unlock(&c->lock);
}

static int join(va_cluster *c) {
  static const char sql[] =
      "INSERT INTO vactor_member (id, incarnation, address, link, status, "
      "lease_until, types) VALUES ($1, 1, $2, $3, 'alive', now() + "
      "CAST($4 AS bigint) * interval '1 millisecond', $5) "
      "ON CONFLICT (id) DO UPDATE SET incarnation = "
      "vactor_member.incarnation + 1, address = excluded.address, link = "
      "excluded.link, status = 'alive', lease_until = excluded.lease_until, "
      "types = excluded.types, unreachable = '', joined_at = now() "
      "RETURNING incarnation";
  char lease[16];
  ms_text(c->lease_ms, lease);
  char types[sizeof(c->types_written)];
  app_types_now(c, types);
  const char *p[] = {c->node, c->address, c->link_address, lease, types};
  uint64_t sent = va_clock_coarse_ms();
  PGresult *r = run(c, sql, 5, p);
  if (!r)
    return VA_ESTORE;
  uint64_t inc =
      PQntuples(r) == 1 ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
  PQclear(r);
  if (!inc || exec(c, BUMP_VIEW, 0, NULL, NULL))
    return VA_ESTORE;
  c->incarnation = inc;
  c->expelled = false;
  c->waiting_told = false;
  c->joined_ms = sent;
  memcpy(c->types_written, types, sizeof(types));
  c->unreachable_written[0] = 0;
  va_runtime_set_incarnation(c->rt, inc);
  fence_after(c, sent);
  c->renew_sent_ms = sent;
  c->next_renew_ms = sent + c->renew_ms;
  c->steady_since_ms = sent;
  va_log(c->rt, VA_LOG_INFO, "cluster joined",
         "node=%s incarnation=%" PRIu64 " address=%s link=%s", c->node, inc,
         c->address, c->link_address);
  return 0;
}

/* 0: renewed; VA_ENOTFOUND: the row is not ours any more (marked dead,
 * or another incarnation); VA_ESTORE: no answer. The renewal also writes
 * the app's types and the peers this node cannot reach, and bumps the
 * view when either changed (the others then place by them). */
static int renew(va_cluster *c) {
  static const char sql[] =
      "UPDATE vactor_member SET lease_until = now() + CAST($3 AS bigint) * "
      "interval '1 millisecond', types = $4, unreachable = $5 WHERE id = $1 "
      "AND incarnation = CAST($2 AS bigint) AND status NOT IN ('dead', "
      "'expelled')";
  char lease[16], inc[24], types[VA__CLUSTER_TYPES_MAX];
  ms_text(c->lease_ms, lease);
  snprintf(inc, sizeof(inc), "%" PRIu64, c->incarnation);
  app_types_now(c, types);
  const char *p[] = {c->node, inc, lease, types, c->unreachable};
  uint64_t sent = va_clock_coarse_ms();
  int rows = 0;
  if (exec(c, sql, 5, p, &rows)) {
    atomic_fetch_add(&c->renewals_failed, 1);
    return VA_ESTORE;
  }
  c->next_renew_ms = sent + c->renew_ms;
  if (rows != 1)
    return VA_ENOTFOUND;
  c->renew_sent_ms = sent;
  fence_after(c, sent);
  if (!c->steady_since_ms)
    c->steady_since_ms = sent;
  if (c->losses && sent - c->joined_ms >= LOSSES_FORGOTTEN_MS)
    c->losses = 0; /* a member for a while: the next loss is a first */
  if ((strcmp(types, c->types_written) ||
       strcmp(c->unreachable, c->unreachable_written)) &&
      exec(c, BUMP_VIEW, 0, NULL, NULL) == 0) {
    memcpy(c->types_written, types, sizeof(types));
    memcpy(c->unreachable_written, c->unreachable, sizeof(c->unreachable));
  }
  return 0;
}

/* Expelled: nothing of the old activations may act, then a new
 * incarnation joins. */
static void rejoin(va_cluster *c) {
  va_runtime_fence(c->rt, 0);
  pthread_mutex_lock(&c->lock);
  bool leaving = c->phase != VA__CLUSTER_JOINED;
  pthread_mutex_unlock(&c->lock);
  if (leaving) { /* on its way out: it stays fenced, and does not come back */
    va_log(c->rt, VA_LOG_WARN, "cluster membership lost", "node=%s action=none",
           c->node);
    return;
  }
  va_log(c->rt, VA_LOG_WARN, "cluster membership lost",
         "node=%s incarnation=%" PRIu64 " action=rejoin", c->node,
         c->incarnation);
  int rc = va_runtime_evict(c->rt);
  if (rc)
    va_log(c->rt, VA_LOG_ERROR, "cluster eviction incomplete",
           "node=%s error=\"%s\"", c->node, va_strerror(rc));
  atomic_fetch_add(&c->rejoins, 1);
  c->incarnation = 0; /* the tick joins again (join_allowed) */
  c->expelled = true;
  c->losses++;
  c->reached_since_ms = 0;
  c->view_version = 0; /* read the members again */
}

/* ---- Dead members ---- */

static void mark_dead(va_cluster *c) {
  static const char sql[] =
      "UPDATE vactor_member SET status = 'dead' WHERE status <> 'dead' AND "
      "lease_until < now() RETURNING id, incarnation";
  if (!c->steady_since_ms ||
      va_clock_coarse_ms() < c->steady_since_ms + c->lease_ms)
    return;
  if (exec(c, "BEGIN", 0, NULL, NULL))
    return;
  PGresult *r = run(c, sql, 0, NULL);
  int n = r ? PQntuples(r) : 0;
  if (!r || (n > 0 && exec(c, BUMP_VIEW, 0, NULL, NULL)) ||
      exec(c, "COMMIT", 0, NULL, NULL)) {
    PQclear(r);
    if (c->conn)
      (void)exec(c, "ROLLBACK", 0, NULL, NULL);
    return;
  }
  for (int i = 0; i < n; i++) {
    char id[200];
    va_log_quote(PQgetvalue(r, i, 0), strlen(PQgetvalue(r, i, 0)), id,
                 sizeof(id));
    va_log(c->rt, VA_LOG_WARN, "cluster member dead",
           "node=%s member=%s incarnation=%s", c->node, id,
           PQgetvalue(r, i, 1));
  }
  atomic_fetch_add(&c->marked_dead, (uint64_t)n);
  PQclear(r);
}

/* ---- The view ---- */

/* Copies text (hostile: read from the database) into out (cap bytes):
 * false when it does not fit. */
static bool copy_text(const char *text, char *out, size_t cap) {
  size_t n = strlen(text);
  if (n >= cap)
    return false;
  memcpy(out, text, n + 1);
  return true;
}

/* Fills member m from row i of r (id, incarnation, address, link, status,
 * types, lease left in ms, unreachable); false for a row that makes no
 * sense. */
static bool read_member(va_cluster *c, PGresult *r, int i, va__member *m) {
  va__member_status status;
  if (!copy_text(PQgetvalue(r, i, 0), m->id, sizeof(m->id)) || !m->id[0] ||
      !copy_text(PQgetvalue(r, i, 2), m->address, sizeof(m->address)) ||
      !copy_text(PQgetvalue(r, i, 3), m->link, sizeof(m->link)) ||
      !va__member_status_parse(PQgetvalue(r, i, 4), &status))
    return false;
  m->incarnation = strtoull(PQgetvalue(r, i, 1), NULL, 10);
  m->lease_left_ms = strtoll(PQgetvalue(r, i, 6), NULL, 10);
  /* A renewal late by half a lease or more: still placed on, but told. */
  if (status == VA__MEMBER_ALIVE && m->lease_left_ms < (int64_t)c->lease_ms / 2)
    status = VA__MEMBER_SUSPECT;
  m->status = status;
  m->number = va__cluster_number(c, m->id);
  /* No longer than a node writes them (va_cluster_set_app_types, the
   * votes): a row that says more is not taken in. */
  if (PQgetlength(r, i, 5) >= VA__CLUSTER_TYPES_MAX ||
      PQgetlength(r, i, 7) >= VA__CLUSTER_UNREACHABLE_MAX)
    return false;
  m->types = strdup(PQgetvalue(r, i, 5));
  m->unreachable = strdup(PQgetvalue(r, i, 7));
  return m->number > 0 && m->types && m->unreachable;
}

/* Reads every member into a new view (NULL when the read failed); lock:
 * the rows stay locked until the transaction the caller opened ends. */
static va__view *read_view(va_cluster *c, uint64_t version, bool lock) {
#define MEMBERS_SQL                                                            \
  "SELECT id, incarnation, address, link, status, types, "                     \
  "CAST(EXTRACT(EPOCH FROM (lease_until - now())) * 1000 AS bigint), "         \
  "unreachable FROM vactor_member WHERE status <> 'dead' OR lease_until > "    \
  "now() - interval '5 minutes' ORDER BY id" /* the long dead left out */
  static const char plain[] = MEMBERS_SQL, locked[] = MEMBERS_SQL " FOR UPDATE";
#undef MEMBERS_SQL
  const char *sql = lock ? locked : plain;
  PGresult *r = run(c, sql, 0, NULL);
  if (!r)
    return NULL;
  va__view *v = calloc(1, sizeof(*v));
  int rows = PQntuples(r);
  if (v && (PQnfields(r) != 8 || rows > VA__VIEW_MEMBERS_MAX)) {
    log_pg(c, "cluster members unreadable", "too many or malformed rows");
    va__view_free(v);
    v = NULL;
  }
  if (v) {
    v->self = -1;
    v->version = version;
  }
  for (int i = 0; v && i < rows; i++) {
    va__member *m = &v->members[v->n];
    if (!read_member(c, r, i, m)) {
      free(m->types);
      free(m->unreachable);
      memset(m, 0, sizeof(*m));
      continue; /* a row nobody can use: left out of the view */
    }
    if (!strcmp(m->id, c->node))
      v->self = (int)v->n;
    v->n++;
  }
  PQclear(r);
  if (v && va__view_finish(v, c->rt) != 0) {
    va__view_free(v);
    v = NULL;
  }
  return v;
}

/* Reads the view version; reads the members when it moved (or when they
 * were not read for FULL_READ_MS) and installs them. */
static void follow_view(va_cluster *c) {
  PGresult *r = run(c, "SELECT version FROM vactor_view WHERE id = 1", 0, NULL);
  if (!r)
    return;
  uint64_t version =
      PQntuples(r) == 1 ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
  PQclear(r);
  uint64_t now = va_clock_coarse_ms();
  if (version == c->view_version && now < c->next_read_ms)
    return;
  va__view *v = read_view(c, version, false);
  if (!v)
    return;
  c->next_read_ms = now + FULL_READ_MS;
  bool changed = version != c->view_version;
  c->view_version = version;
  va__cluster_install(c, v);
  if (changed)
    atomic_fetch_add(&c->view_changes, 1);
}

/* ---- Reachability ---- */

/* Whether member m of v is a peer this node should reach: another live
 * member whose lease the last read found running. */
static bool live_peer(const va__view *v, size_t i) {
  const va__member *m = &v->members[i];
  return (int)i != v->self && m->status <= VA__MEMBER_SUSPECT &&
         m->lease_left_ms > 0 && m->link[0];
}

/* Notes which live peers of the latest view have a ready link connection,
 * and lists in c->unreachable those that had none for a whole lease since
 * this node first saw their incarnation. */
static void note_reachability(va_cluster *c) {
  const va__view *v = c->latest; /* this thread installs it: no lock */
  va_link *link = atomic_load(&c->link);
  uint64_t now = va_clock_coarse_ms();
  char *out = c->unreachable, *end = c->unreachable + sizeof(c->unreachable);
  *out = 0;
  for (size_t i = 0; v && link && i < v->n; i++) {
    const va__member *m = &v->members[i];
    if (!live_peer(v, i))
      continue;
    va__peer_reach *r = &c->reach[m->number];
    /* A peer new here, or back after it was not live, gets a lease of
     * grace, as one that was just reached. */
    bool noted_lately = now - r->noted_ms <= 2 * (uint64_t)c->renew_ms;
    r->noted_ms = now;
    if (r->incarnation != m->incarnation || !noted_lately ||
        va__link_peer_connected(link, m->number) > 0) {
      r->incarnation = m->incarnation;
      r->reached_ms = now;
    }
    if (now - r->reached_ms < c->lease_ms)
      continue;
    int n = snprintf(out, (size_t)(end - out), "%s%s:%" PRIu64,
                     out == c->unreachable ? "" : ",", m->id, m->incarnation);
    if (n < 0 || n >= end - out) {
      *out = 0; /* cannot happen: room for every member */
      break;
    }
    out += n;
  }
}

/* Whether this node may join: at once the first time; after losing its
 * place, only once its link has reached more than half of the live others
 * (or there are none) without a break for a hold-down that doubles with
 * each loss in a row (a lease, then 2, 4, 8, at most 16 leases), so that a
 * node the others keep voting out comes back ever more rarely. */
static bool join_allowed(va_cluster *c) {
  const va__view *v = c->latest;
  va_link *link = atomic_load(&c->link);
  if (!c->expelled || !v || !link)
    return true;
  unsigned others = 0, reached = 0;
  for (size_t i = 0; i < v->n; i++)
    if (live_peer(v, i)) {
      others++;
      reached += va__link_peer_connected(link, v->members[i].number) > 0;
    }
  uint64_t now = va_clock_coarse_ms();
  if (others > 0 && 2 * reached <= others) {
    c->reached_since_ms = 0;
  } else if (!c->reached_since_ms) {
    c->reached_since_ms = now;
  }
  unsigned doublings = c->losses > 1 ? c->losses - 1 : 0;
  uint64_t hold = (uint64_t)c->lease_ms << (doublings < 4 ? doublings : 4);
  bool allowed =
      others == 0 || (c->reached_since_ms && now - c->reached_since_ms >= hold);
  if (!allowed && !c->waiting_told) {
    va_log(c->rt, VA_LOG_WARN, "cluster rejoin waits for its peers",
           "node=%s reached=%u others=%u hold_ms=%" PRIu64, c->node, reached,
           others, hold);
    c->waiting_told = true;
  }
  return allowed;
}

/* Marks expelled the members the votes of the latest view put out,
 * deciding again on the rows locked (two nodes deciding at once decide the
 * same). Not dead: an expelled member keeps its actors until mark_dead
 * finds its lease over, by when it has fenced itself (it renews no more);
 * its renewal fails at once, so it evicts and waits to join again. */
static void expel_unreachable(va_cluster *c) {
  static const char sql[] =
      "UPDATE vactor_member SET status = 'expelled' WHERE id = $1 AND "
      "incarnation = CAST($2 AS bigint) AND status NOT IN ('dead', "
      "'expelled')";
  bool cut[VA__VIEW_MEMBERS_MAX];
  if (!c->latest || !va__view_cut_off(c->latest, cut) || !c->steady_since_ms)
    return;
  if (exec(c, "BEGIN", 0, NULL, NULL))
    return;
  va__view *v = read_view(c, 0, true);
  size_t n = v ? va__view_cut_off(v, cut) : 0;
  int rc = v ? 0 : VA_ESTORE;
  for (size_t i = 0; rc == 0 && v && i < v->n; i++) {
    if (!cut[i])
      continue;
    char inc[24];
    snprintf(inc, sizeof(inc), "%" PRIu64, v->members[i].incarnation);
    const char *p[] = {v->members[i].id, inc};
    rc = exec(c, sql, 2, p, NULL);
  }
  if (rc == 0 && n > 0)
    rc = exec(c, BUMP_VIEW, 0, NULL, NULL);
  if (rc == 0)
    rc = exec(c, "COMMIT", 0, NULL, NULL);
  if (rc && c->conn)
    (void)exec(c, "ROLLBACK", 0, NULL, NULL);
  for (size_t i = 0; rc == 0 && i < v->n; i++) {
    if (!cut[i])
      continue;
    va_log(c->rt, VA_LOG_WARN, "cluster member cut off",
           "node=%s member=%s incarnation=%" PRIu64 " status=expelled", c->node,
           v->members[i].id, v->members[i].incarnation);
    if ((int)i == v->self) /* its next renewal finds out, and evicts */
      va_runtime_fence(c->rt, 0);
  }
  if (rc == 0)
    atomic_fetch_add(&c->marked_dead, (uint64_t)n);
  va__view_free(v);
}

int va__membership_mark_self(va_cluster *c, bool leaving) {
  static const char sql[] =
      "UPDATE vactor_member SET status = $3 WHERE id = $1 AND incarnation = "
      "CAST($2 AS bigint) AND status NOT IN ('dead', 'expelled')";
  char inc[24];
  snprintf(inc, sizeof(inc), "%" PRIu64, c->incarnation);
  const char *p[] = {c->node, inc, leaving ? "leaving" : "dead"};
  /* Its own connection: the thread's is the thread's alone. */
  va_cluster own = {.rt = c->rt, .url = c->url, .node = c->node};
  int rc = exec(&own, "BEGIN", 0, NULL, NULL);
  if (rc == 0)
    rc = exec(&own, sql, 3, p, NULL);
  if (rc == 0)
    rc = exec(&own, BUMP_VIEW, 0, NULL, NULL);
  if (rc == 0)
    rc = exec(&own, "COMMIT", 0, NULL, NULL);
  drop_connection(&own);
  return rc;
}

/* ---- The link's key ---- */

static int hex_digit(char ch) {
  return ch >= '0' && ch <= '9'   ? ch - '0'
         : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                  : -1;
}

int va__membership_link_key(va_cluster *c, uint8_t key[VA__LINK_KEY_LEN]) {
  static const char make[] =
      "INSERT INTO vactor_link_key (id, key) VALUES (1, $1) "
      "ON CONFLICT (id) DO NOTHING";
  static const char read[] = "SELECT key FROM vactor_link_key WHERE id = 1";
  uint8_t fresh[VA__LINK_KEY_LEN];
  char text[2 * VA__LINK_KEY_LEN + 1];
  int rc = va__link_random(fresh, sizeof(fresh));
  for (size_t i = 0; rc == 0 && i < sizeof(fresh); i++)
    snprintf(text + 2 * i, 3, "%02x", fresh[i]);
  OPENSSL_cleanse(fresh, sizeof(fresh));
  if (rc)
    return rc;
  /* Its own connection: the thread's is the thread's alone. */
  va_cluster own = {.rt = c->rt, .url = c->url, .node = c->node};
  const char *p[] = {text};
  rc = exec(&own, make, 1, p, NULL);
  OPENSSL_cleanse(text, sizeof(text));
  PGresult *r = rc == 0 ? run(&own, read, 0, NULL) : NULL;
  drop_connection(&own);
  if (!r)
    return VA_ESTORE;
  /* What the database holds is checked like any input: 64 hex digits. */
  const char *stored = PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "";
  rc = strlen(stored) == 2 * VA__LINK_KEY_LEN ? 0 : VA_ESTORE;
  for (size_t i = 0; rc == 0 && i < VA__LINK_KEY_LEN; i++) {
    int hi = hex_digit(stored[2 * i]), lo = hex_digit(stored[2 * i + 1]);
    if (hi < 0 || lo < 0)
      rc = VA_ESTORE;
    else
      key[i] = (uint8_t)(hi << 4 | lo);
  }
  if (rc)
    log_pg(c, "cluster link key unreadable",
           "vactor_link_key holds no key of 64 lowercase hex digits");
  PQclear(r);
  return rc;
}

/* ---- The thread ---- */

static void tell_start(va_cluster *c, int error) {
  pthread_mutex_lock(&c->lock);
  if (error)
    c->start_error = error;
  else if (c->phase == VA__CLUSTER_NEW)
    c->phase = VA__CLUSTER_JOINED;
  pthread_cond_broadcast(&c->changed);
  pthread_mutex_unlock(&c->lock);
}

static void tick(va_cluster *c) {
  uint64_t now = va_clock_coarse_ms();
  pthread_mutex_lock(&c->lock);
  bool left = c->phase == VA__CLUSTER_LEFT;
  pthread_mutex_unlock(&c->lock);
  if (left) /* its row says dead: renewing would make it join again */
    return;
  if (!c->incarnation) {
    if (!join_allowed(c)) {
      follow_view(c); /* who is alive, while it waits */
      return;
    }
    if (join(c) != 0)
      return;
  } else if (now >= c->next_renew_ms) {
    note_reachability(c);
    int rc = renew(c);
    if (rc == VA_ENOTFOUND)
      rejoin(c);
    if (rc)
      return;
  }
  mark_dead(c);
  follow_view(c);
  expel_unreachable(c);
  /* The start waits for the first view with this node in it. */
  pthread_mutex_lock(&c->lock);
  bool in_view = c->latest && c->latest->self >= 0;
  pthread_mutex_unlock(&c->lock);
  if (in_view)
    tell_start(c, 0);
}

void *va__membership_main(void *arg) {
  va_cluster *c = arg;
  uint32_t every = c->renew_ms / 4 ? c->renew_ms / 4 : 1;
  while (!atomic_load(&c->stop)) {
    tick(c);
    struct timespec pause = {every / 1000, (long)(every % 1000) * 1000000};
    nanosleep(&pause, NULL);
  }
  drop_connection(c);
  return NULL;
}
