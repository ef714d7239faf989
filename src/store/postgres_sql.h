/* postgres_sql.h — the PostgreSQL store's SQL: the statements its
 * connections prepare (one table, so that postgres.c names a statement by
 * its enum and never holds SQL text), and the schema setup run when the
 * store opens (docs/store-postgres.md explains both).
 *
 * Every statement is standard enough for CockroachDB, YugabyteDB and
 * Citus: INSERT ... ON CONFLICT, UPDATE ... RETURNING, EXISTS subqueries,
 * now(); no PL/pgSQL, no advisory lock, no LISTEN. Parameters and results
 * travel in binary: text as its bytes, bytea raw, bigint as 8 bytes in
 * network order, boolean as one byte. Folder-internal (va__pg_). */
#ifndef VA_STORE_POSTGRES_SQL_H
#define VA_STORE_POSTGRES_SQL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The prepared statements. Their parameters, in order, are in the
 * comments; "fence" is the actor's version after its save and, in a store
 * that claims, its epoch. */
typedef enum va__pg_stmt {
  VA_PG_CLAIM_INSERT, /* type, id: the ownership row, if absent */
  VA_PG_CLAIM,        /* type, id, node, incarnation -> epoch, version */
  VA_PG_READ,         /* type, id -> key, value, expires_ms, version */
  VA_PG_BUMP_FIRST,   /* (one node) type, id, count -> version */
  VA_PG_BUMP,   /* type, id, version, count[, epoch] -> version[, epoch] */
  VA_PG_UNMARK, /* type, id: undoes a refused bump's mark */
  VA_PG_PUT,    /* type, id, key, value, expires_ms, fence */
  VA_PG_DELETE, /* type, id, key, fence */
  VA_PG_PUT_REMINDER,    /* type, id, name, due_ms, fence */
  VA_PG_DELETE_REMINDER, /* type, id, name, fence */
  VA_PG_RELEASE,         /* (claims) type, id, epoch, node */
  VA_PG_DUE,   /* from, before[, node] -> type, id, name, due_ms[, orphan] */
  VA_PG_CHECK, /* type, id -> version, epoch */
  VA_PG_STMT_COUNT
} va__pg_stmt;

enum { VA_PG_MAX_PARAMS = 8 };

typedef struct va__pg_statement {
  const char *name; /* the prepared statement's name */
  const char *sql;  /* NULL: not used in this mode */
  int n_params;
  Oid types[VA_PG_MAX_PARAMS];
} va__pg_statement;

/* The statement st as a store that claims (claiming) or one of a single
 * node prepares it. */
const va__pg_statement *va__pg_statement_of(va__pg_stmt st, bool claiming);

/* A listing's statement (store.h's list; run unprepared by
 * postgres_look.c): type, lowest id, limit[, first id past the range when
 * bounded] -> id, owner (NULL: none that is live; always, unless
 * claiming). */
const va__pg_statement *va__pg_list_statement(bool claiming, bool bounded);

/* What went wrong in the schema setup: a fixed text, the server's (or
 * libpq's) message and the SQLSTATE ("" when none). */
typedef struct va__pg_failure {
  const char *what;
  char error[512];
  char sqlstate[6];
} va__pg_failure;

/* Creates the schema on conn (blocking, autocommit) if it is missing, or
 * migrates it to this build's version; safe when several nodes do it at
 * once. 0, or VA_ESTORE with *why filled in. */
int va__pg_schema_setup(PGconn *conn, va__pg_failure *why);

/* This build's schema version (vactor_schema). */
#define VA_PG_SCHEMA_VERSION 2

#endif
