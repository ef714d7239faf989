/* postgres_look.h — the PostgreSQL store's look-out: store.h's list and
 * peek, an operator's rare questions (which actors a type has, what one
 * of them holds), answered on a thread of their own over a connection of
 * their own, so that they never hold up the store's lanes nor block a
 * caller (postgres_look.c tells how). postgres.c checks the arguments,
 * starts and stops it with the store, and lends it the decoding of a read
 * (so that a peek reads exactly as a load does). Folder-internal
 * (va__pg_). */
#ifndef VA_STORE_POSTGRES_LOOK_H
#define VA_STORE_POSTGRES_LOOK_H

#include "store.h"
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct va__pg_look va__pg_look;

typedef struct va__pg_look_options {
  const char *url;     /* libpq URI; borrowed, must outlive the look-out */
  bool claiming;       /* the store claims (a node): listings name owners */
  va_store_log_fn log; /* failures, on the look-out's thread; NULL: none */
  void *log_user;
} va__pg_look_options;

/* Starts the look-out's thread (the connection waits for the first
 * question). 0, VA_ENOMEM or VA_ESYS; *out is the caller's, freed with
 * va__pg_look_free. */
int va__pg_look_new(const va__pg_look_options *opts, va__pg_look **out);

/* Answers every question still queued with VA_ESTOPPED (one being asked
 * gives up waiting at once), joins the thread and frees k. Not from one
 * of k's callbacks. */
void va__pg_look_free(va__pg_look *k);

/* Queues store.h's list and peek; arguments checked by the caller (type
 * valid UTF-8, not empty; limit in 1..INT64_MAX). Everything is copied
 * before the call returns. cb runs later on the look-out's thread, and
 * never when the call fails: VA_ENOMEM, VA_EBACKPRESSURE (too many
 * questions waiting) or VA_ESTOPPED (being freed). A question that waited
 * too long, or ran out of statement time, is answered VA_ETIMEDOUT; one
 * the database could not answer, VA_ESTORE. */
int va__pg_look_list(va__pg_look *k, const char *type, const char *after,
                     size_t after_len, const char *prefix, size_t prefix_len,
                     size_t limit, va_store_list_cb cb, void *ctx);
int va__pg_look_peek(va__pg_look *k, const char *type, const char *id,
                     size_t id_len, va_store_load_cb cb, void *ctx);

/* From postgres.c: the keys of a VA_PG_READ result (binary) not expired
 * by now (wall ms), pointing into res, and the actor's version. 0, or
 * VA_ESTORE with *bad saying what is wrong. *items is malloc'd (the
 * caller's, also on failure). */
int va__pg_decode_read(const PGresult *res, int64_t now, va_store_item **items,
                       size_t *n, uint64_t *version, const char **bad);

#endif
