/* postgres_sql.c — the PostgreSQL store's SQL text: the statements its
 * connections prepare, in both modes (a store of one node, and a store
 * that claims its actors for a node), and the schema with its migrations,
 * created when the store opens. See postgres_sql.h and
 * docs/store-postgres.md. */
#include "postgres_sql.h"
#include "vactor.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Type OIDs of the parameters (pg_type), fixed since PostgreSQL 7. */
enum { OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_TEXT = 25 };

/* A member row that still counts as the holder of its claims: any status
 * but dead. A lease that ran out does not free them by itself: only the
 * membership marks a member dead (a conditional update, by the database's
 * clock, membership.c), so that a member whose renewal raced the
 * database's restart keeps its actors, and a renewal and a marking are
 * ordered by the row's lock. */
#define LIVE_MEMBER(owner, incarnation)                                        \
  "SELECT 1 FROM vactor_member m WHERE m.id = " owner                          \
  " AND m.incarnation = " incarnation " AND m.status <> 'dead'"

/* The fence of a write: the actor's row shows the version this save set
 * (and, claiming, the epoch it was made under), which it does only if the
 * save's own bump, earlier in the transaction, happened. */
#define FENCE_ONE(v)                                                           \
  " EXISTS (SELECT 1 FROM vactor_actor a"                                      \
  " WHERE a.type = $1 AND a.id = $2 AND a.version = " v ")"
#define FENCE_CLAIMED(v, e)                                                    \
  " EXISTS (SELECT 1 FROM vactor_actor a"                                      \
  " WHERE a.type = $1 AND a.id = $2 AND a.version = " v " AND a.epoch = " e    \
  ")"

#define PUT_SQL(fence)                                                         \
  "INSERT INTO vactor_state(type, id, key, value, expires_ms)"                 \
  " SELECT $1, $2, $3, $4, $5 WHERE" fence                                     \
  " ON CONFLICT (type, id, key) DO UPDATE"                                     \
  " SET value = excluded.value, expires_ms = excluded.expires_ms"
#define DELETE_SQL(fence)                                                      \
  "DELETE FROM vactor_state WHERE type = $1 AND id = $2 AND key = $3"          \
  " AND" fence
#define PUT_REMINDER_SQL(fence)                                                \
  "INSERT INTO vactor_reminder(type, id, name, due_ms)"                        \
  " SELECT $1, $2, $3, $4 WHERE" fence                                         \
  " ON CONFLICT (type, id, name) DO UPDATE SET due_ms = excluded.due_ms"
#define DELETE_REMINDER_SQL(fence)                                             \
  "DELETE FROM vactor_reminder WHERE type = $1 AND id = $2 AND name = $3"      \
  " AND" fence

#define ACTOR OID_TEXT, OID_BYTEA

/* [statement][0]: one node; [1]: claiming. */
static const va__pg_statement statements[VA_PG_STMT_COUNT][2] = {
    [VA_PG_CLAIM_INSERT] =
        {{"va_claim_insert", NULL, 0, {0}},
         {"va_claim_insert",
          "INSERT INTO vactor_actor(type, id) VALUES ($1, $2)"
          " ON CONFLICT (type, id) DO NOTHING",
          2,
          {ACTOR}}},
    /* Ours when our member row is alive and its lease runs, and the actor
     * has no owner, or is ours already (any incarnation of this node), or
     * its owner's row no longer counts. Zero rows: another live node holds
     * it. */
    [VA_PG_CLAIM] =
        {{"va_claim", NULL, 0, {0}},
         {"va_claim",
          "UPDATE vactor_actor"
          " SET owner = $3, incarnation = $4, epoch = epoch + 1"
          " WHERE type = $1 AND id = $2"
          " AND EXISTS (SELECT 1 FROM vactor_member m WHERE m.id = $3"
          " AND m.incarnation = $4 AND m.status = 'alive'"
          " AND m.lease_until > now())"
          " AND (owner IS NULL OR owner = $3 OR NOT EXISTS (" LIVE_MEMBER(
              "vactor_actor.owner",
              "vactor_actor.incarnation") "))"
                                          " RETURNING epoch, version",
          4,
          {ACTOR, OID_TEXT, OID_INT8}}},
    /* One statement, so one snapshot: the version and the keys agree. No
     * row: an actor never saved. A row with a NULL key: saved, no keys. */
    [VA_PG_READ] = {{"va_read",
                     "SELECT s.key, s.value, s.expires_ms, a.version"
                     " FROM vactor_actor a LEFT JOIN vactor_state s"
                     " ON s.type = a.type AND s.id = a.id"
                     " WHERE a.type = $1 AND a.id = $2",
                     2,
                     {ACTOR}},
                    {"va_read",
                     "SELECT s.key, s.value, s.expires_ms, a.version"
                     " FROM vactor_actor a LEFT JOIN vactor_state s"
                     " ON s.type = a.type AND s.id = a.id"
                     " WHERE a.type = $1 AND a.id = $2",
                     2,
                     {ACTOR}}},
    /* The fence. A bump always answers with the actor's row (unless
     * there is none): the save's version and epoch match, and it moves the
     * version on; or they do not, and it marks the row refused (version
     * -1 - version, never negative otherwise) until VA_PG_UNMARK, at the
     * end of the actor's statements, undoes it. Either way the row is
     * locked by this transaction, and the writes' fence (the version
     * after the save) holds only if this bump moved it: a stale save
     * whose version + count happens to be the stored version is refused
     * too. The epoch returned tells a fenced save (not ours) from a stale
     * version. */
    [VA_PG_BUMP_FIRST] =
        {{"va_bump_first",
          "INSERT INTO vactor_actor(type, id, version) VALUES ($1, $2, $3)"
          " ON CONFLICT (type, id) DO UPDATE SET version ="
          " CASE WHEN vactor_actor.version = 0 THEN excluded.version"
          " ELSE -1 - vactor_actor.version END"
          " RETURNING version",
          3,
          {ACTOR, OID_INT8}},
         {"va_bump_first", NULL, 0, {0}}},
    [VA_PG_BUMP] =
        {{"va_bump",
          "UPDATE vactor_actor SET version ="
          " CASE WHEN version = $3 THEN version + $4 ELSE -1 - version END"
          " WHERE type = $1 AND id = $2 RETURNING version",
          4,
          {ACTOR, OID_INT8, OID_INT8}},
         {"va_bump",
          "UPDATE vactor_actor SET version ="
          " CASE WHEN version = $3 AND epoch = $5 THEN version + $4"
          " ELSE -1 - version END"
          " WHERE type = $1 AND id = $2 RETURNING version, epoch",
          5,
          {ACTOR, OID_INT8, OID_INT8, OID_INT8}}},
    [VA_PG_UNMARK] = {{"va_unmark",
                       "UPDATE vactor_actor SET version = -1 - version"
                       " WHERE type = $1 AND id = $2 AND version < 0",
                       2,
                       {ACTOR}},
                      {"va_unmark",
                       "UPDATE vactor_actor SET version = -1 - version"
                       " WHERE type = $1 AND id = $2 AND version < 0",
                       2,
                       {ACTOR}}},
    [VA_PG_PUT] = {{"va_put",
                    PUT_SQL(FENCE_ONE("$6")),
                    6,
                    {ACTOR, OID_BYTEA, OID_BYTEA, OID_INT8, OID_INT8}},
                   {"va_put",
                    PUT_SQL(FENCE_CLAIMED("$6", "$7")),
                    7,
                    {ACTOR, OID_BYTEA, OID_BYTEA, OID_INT8, OID_INT8,
                     OID_INT8}}},
    [VA_PG_DELETE] = {{"va_delete",
                       DELETE_SQL(FENCE_ONE("$4")),
                       4,
                       {ACTOR, OID_BYTEA, OID_INT8}},
                      {"va_delete",
                       DELETE_SQL(FENCE_CLAIMED("$4", "$5")),
                       5,
                       {ACTOR, OID_BYTEA, OID_INT8, OID_INT8}}},
    [VA_PG_PUT_REMINDER] = {{"va_put_reminder",
                             PUT_REMINDER_SQL(FENCE_ONE("$5")),
                             5,
                             {ACTOR, OID_BYTEA, OID_INT8, OID_INT8}},
                            {"va_put_reminder",
                             PUT_REMINDER_SQL(FENCE_CLAIMED("$5", "$6")),
                             6,
                             {ACTOR, OID_BYTEA, OID_INT8, OID_INT8, OID_INT8}}},
    [VA_PG_DELETE_REMINDER] = {{"va_delete_reminder",
                                DELETE_REMINDER_SQL(FENCE_ONE("$4")),
                                4,
                                {ACTOR, OID_BYTEA, OID_INT8}},
                               {"va_delete_reminder",
                                DELETE_REMINDER_SQL(FENCE_CLAIMED("$4", "$5")),
                                5,
                                {ACTOR, OID_BYTEA, OID_INT8, OID_INT8}}},
    [VA_PG_RELEASE] =
        {{"va_release", NULL, 0, {0}},
         {"va_release",
          "UPDATE vactor_actor SET owner = NULL"
          " WHERE type = $1 AND id = $2 AND epoch = $3 AND owner = $4",
          4,
          {ACTOR, OID_INT8, OID_TEXT}}},
    [VA_PG_DUE] =
        {{"va_due",
          "SELECT type, id, name, due_ms FROM vactor_reminder"
          " WHERE due_ms >= $1 AND due_ms < $2",
          2,
          {OID_INT8, OID_INT8}},
         /* Ours (any incarnation of this node), or orphans: no owner, or
          * one whose member row no longer counts. */
         {"va_due",
          "SELECT r.type, r.id, r.name, r.due_ms,"
          " (a.owner IS NULL OR a.owner <> $3)"
          " FROM vactor_reminder r LEFT JOIN vactor_actor a"
          " ON a.type = r.type AND a.id = r.id"
          " WHERE r.due_ms >= $1 AND r.due_ms < $2"
          " AND (a.owner IS NULL OR a.owner = $3 OR NOT EXISTS (" LIVE_MEMBER(
              "a.owner", "a.incarnation") "))",
          3,
          {OID_INT8, OID_INT8, OID_TEXT}}},
    [VA_PG_CHECK] = {{"va_check",
                      "SELECT version, epoch FROM vactor_actor"
                      " WHERE type = $1 AND id = $2",
                      2,
                      {ACTOR}},
                     {"va_check",
                      "SELECT version, epoch FROM vactor_actor"
                      " WHERE type = $1 AND id = $2",
                      2,
                      {ACTOR}}},
};

const va__pg_statement *va__pg_statement_of(va__pg_stmt st, bool claiming) {
  return &statements[st][claiming ? 1 : 0];
}

/* ---- Listing (postgres_look.c: not prepared, planned with its values) ----
 *
 * $1 the type, $2 the lowest id wanted (the cursor's successor or the
 * prefix, whichever is greater), $3 the limit, $4 (bounded) the first id
 * past the prefix's range. Each branch is a range scan of a primary key,
 * in id order, that stops at the limit: the state's (type, id, key), one
 * row per key, made distinct as it goes; and, claiming, the ownership
 * rows' (type, id) whose owner's member row still counts, as for a claim
 * (LIVE_MEMBER: same incarnation, any status but dead). Their union is
 * 2 * limit rows at most, sorted; only then is the owner looked up, for
 * the rows kept, by the ownership row's key. An OR of the two EXISTS in
 * one scan would be planned as a hashed subplan: the whole state table
 * read for every listing. */
#define BELOW(col) " AND " col " < $4"
#define HELD_BY_LIVE " EXISTS (" LIVE_MEMBER("a.owner", "a.incarnation") ")"
#define STATE_IDS(below)                                                       \
  "SELECT DISTINCT s.id FROM vactor_state s"                                   \
  " WHERE s.type = $1 AND s.id >= $2" below " ORDER BY s.id LIMIT $3"
#define HELD_IDS(below)                                                        \
  "SELECT a.id FROM vactor_actor a WHERE a.type = $1 AND a.id >= $2" below     \
  " AND" HELD_BY_LIVE " ORDER BY a.id LIMIT $3"
#define LIVE_OWNER                                                             \
  "(SELECT a.owner FROM vactor_actor a"                                        \
  " WHERE a.type = $1 AND a.id = u.id AND" HELD_BY_LIVE ")"
#define UNION_IDS(below_s, below_a)                                            \
  "((" STATE_IDS(below_s) ") UNION (" HELD_IDS(below_a) "))"
#define LIST_CLAIMED(below_s, below_a)                                         \
  "SELECT u.id, " LIVE_OWNER                                                   \
  " FROM " UNION_IDS(below_s, below_a) " u ORDER BY u.id LIMIT $3"
#define LIST_ONE(below)                                                        \
  "SELECT DISTINCT s.id, NULL::text FROM vactor_state s"                       \
  " WHERE s.type = $1 AND s.id >= $2" below " ORDER BY s.id LIMIT $3"

/* [claiming][bounded] */
static const va__pg_statement list_statements[2][2] = {
    {{"", LIST_ONE(""), 3, {ACTOR, OID_INT8}},
     {"", LIST_ONE(BELOW("s.id")), 4, {ACTOR, OID_INT8, OID_BYTEA}}},
    {{"", LIST_CLAIMED("", ""), 3, {ACTOR, OID_INT8}},
     {"",
      LIST_CLAIMED(BELOW("s.id"), BELOW("a.id")),
      4,
      {ACTOR, OID_INT8, OID_BYTEA}}},
};

const va__pg_statement *va__pg_list_statement(bool claiming, bool bounded) {
  return &list_statements[claiming ? 1 : 0][bounded ? 1 : 0];
}

/* ---- The schema ---- */

/* Version 1: every table. Each statement may run again (IF NOT EXISTS,
 * ON CONFLICT DO NOTHING), so that nodes starting together can all run
 * it. */
static const char *const version_1[] = {
    "CREATE TABLE IF NOT EXISTS vactor_member("
    " id text PRIMARY KEY, incarnation bigint NOT NULL,"
    " address text NOT NULL, link text NOT NULL DEFAULT '',"
    " status text NOT NULL, lease_until timestamptz NOT NULL,"
    " types text NOT NULL DEFAULT '',"
    " joined_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS vactor_view("
    " id int PRIMARY KEY, version bigint NOT NULL)",
    "INSERT INTO vactor_view(id, version) VALUES (1, 0)"
    " ON CONFLICT (id) DO NOTHING",
    "CREATE TABLE IF NOT EXISTS vactor_actor("
    " type text NOT NULL, id bytea NOT NULL, owner text,"
    " incarnation bigint NOT NULL DEFAULT 0,"
    " epoch bigint NOT NULL DEFAULT 0, version bigint NOT NULL DEFAULT 0,"
    " PRIMARY KEY (type, id))",
    "CREATE TABLE IF NOT EXISTS vactor_state("
    " type text NOT NULL, id bytea NOT NULL, key bytea NOT NULL,"
    " value bytea NOT NULL, expires_ms bigint NOT NULL DEFAULT 0,"
    " PRIMARY KEY (type, id, key))",
    "CREATE TABLE IF NOT EXISTS vactor_reminder("
    " type text NOT NULL, id bytea NOT NULL, name bytea NOT NULL,"
    " due_ms bigint NOT NULL, PRIMARY KEY (type, id, name))",
    "CREATE INDEX IF NOT EXISTS vactor_reminder_due"
    " ON vactor_reminder(due_ms)",
    NULL,
};

/* Version 2: each member lists the peers it cannot reach (the votes that
 * put a node cut off from its peers out of the cluster), and the key the
 * node link authenticates with (one row, made by the first node). */
static const char *const version_2[] = {
    "ALTER TABLE vactor_member"
    " ADD COLUMN IF NOT EXISTS unreachable text NOT NULL DEFAULT ''",
    "CREATE TABLE IF NOT EXISTS vactor_link_key ("
    " id int PRIMARY KEY,"
    " key text NOT NULL)",
    NULL,
};

/* Migrations by version: steps[v - 1] brings a schema at v - 1 to v. */
static const char *const *const steps[VA_PG_SCHEMA_VERSION] = {version_1,
                                                               version_2};

/* Concurrent DDL can still collide in the catalog even with IF NOT
 * EXISTS (a unique violation on pg_type or pg_class, a duplicate table or
 * object): the statement is run again, and finds the object there. */
static bool ddl_race(const char *sqlstate) {
  static const char *const codes[] = {"23505", "42P07", "42710", "42701",
                                      "40001", "40P01", NULL};
  for (size_t i = 0; codes[i]; i++)
    if (!strcmp(sqlstate, codes[i]))
      return true;
  return false;
}

static void fill_failure(va__pg_failure *why, const char *what,
                         const PGresult *res, PGconn *conn) {
  const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  why->what = what;
  snprintf(why->error, sizeof(why->error), "%s", msg ? msg : "");
  size_t n = strlen(why->error);
  while (n && (why->error[n - 1] == '\n' || why->error[n - 1] == ' '))
    why->error[--n] = 0;
  snprintf(why->sqlstate, sizeof(why->sqlstate), "%s", state ? state : "");
}

enum { RACE_RETRIES = 50 };

/* Runs one statement (params: text values, or none), again while it
 * collides with another node's setup. *out gets the result (the caller
 * clears it) when out is not NULL. */
static int run(PGconn *conn, const char *sql, int n_params,
               const char *const *params, PGresult **out, va__pg_failure *why) {
  for (int attempt = 0;; attempt++) {
    PGresult *res =
        PQexecParams(conn, sql, n_params, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      if (out)
        *out = res;
      else
        PQclear(res);
      return 0;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && ddl_race(state) && attempt < RACE_RETRIES &&
        PQstatus(conn) == CONNECTION_OK) {
      PQclear(res);
      /* 10-40 ms, varied by process, so that racing nodes fall out of
       * step. */
      long ms = 10 + ((long)getpid() * 7 + attempt * 13) % 30;
      nanosleep(&(struct timespec){0, ms * 1000000L}, NULL);
      continue;
    }
    fill_failure(why, "cannot set up the schema", res, conn);
    PQclear(res);
    return VA_ESTORE;
  }
}

/* The schema's version: 0 for a database without one. */
static int current_version(PGconn *conn, long *version, va__pg_failure *why) {
  PGresult *res = NULL;
  int rc =
      run(conn, "SELECT max(version) FROM vactor_schema", 0, NULL, &res, why);
  if (rc)
    return rc;
  *version = 0;
  if (PQntuples(res) == 1 && PQnfields(res) == 1 && !PQgetisnull(res, 0, 0)) {
    char *end;
    *version = strtol(PQgetvalue(res, 0, 0), &end, 10);
    if (*end || *version < 0) {
      why->what = "the schema's version is not a number";
      snprintf(why->error, sizeof(why->error), "%s", PQgetvalue(res, 0, 0));
      why->sqlstate[0] = 0;
      rc = VA_ESTORE;
    }
  }
  PQclear(res);
  return rc;
}

/* Runs the step to version v, then records v. */
static int migrate_to(PGconn *conn, long v, va__pg_failure *why) {
  for (const char *const *sql = steps[v - 1]; *sql; sql++) {
    int rc = run(conn, *sql, 0, NULL, NULL, why);
    if (rc)
      return rc;
  }
  char to[24], from[24];
  snprintf(to, sizeof(to), "%ld", v);
  snprintf(from, sizeof(from), "%ld", v - 1);
  const char *params[] = {to, from};
  /* One row. A node that migrated first makes these change nothing (two
   * inserting at once: the second's unique violation is a race, run
   * again, and then finds the row). */
  return v == 1 ? run(conn,
                      "INSERT INTO vactor_schema(version) SELECT $1::int"
                      " WHERE NOT EXISTS (SELECT 1 FROM vactor_schema)",
                      1, params, NULL, why)
                : run(conn,
                      "UPDATE vactor_schema SET version = $1::int"
                      " WHERE version = $2::int",
                      2, params, NULL, why);
}

int va__pg_schema_setup(PGconn *conn, va__pg_failure *why) {
  int rc = run(conn,
               "CREATE TABLE IF NOT EXISTS vactor_schema("
               " version int PRIMARY KEY)",
               0, NULL, NULL, why);
  long version = 0;
  if (rc == 0)
    rc = current_version(conn, &version, why);
  if (rc == 0 && version > VA_PG_SCHEMA_VERSION) {
    why->what = "the database's schema is newer than this build's";
    snprintf(why->error, sizeof(why->error), "version %ld, this build knows %d",
             version, VA_PG_SCHEMA_VERSION);
    why->sqlstate[0] = 0;
    return VA_ESTORE;
  }
  for (long v = version + 1; rc == 0 && v <= VA_PG_SCHEMA_VERSION; v++)
    rc = migrate_to(conn, v, why);
  return rc;
}
