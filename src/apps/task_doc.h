/* task_doc.h — a task's document as JSON: which fields it has and what they
 * may hold, making one from a create request, applying an update, the
 * summary a user's list keeps. Pure functions of JSON values: the routes
 * use them to explain a bad request, TaskActor to build its state. */
#ifndef VA_APPS_TASK_DOC_H
#define VA_APPS_TASK_DOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Checks the fields of a create (create = true) or update request: title
 * (1..200 characters), description (..4000), status (open, in_progress,
 * done), priority (low, medium, high, urgent), due (RFC 3339 or null),
 * members (create only: up to 64 ids). Other keys are refused, except the
 * routes' own (user, ifMatch). NULL when fine, else why not (static). */
const char *va_task_doc_check(json_t *in, bool create);

/* A new document (new reference) for task id, owned by owner, from a
 * checked create request; NULL when out of memory. */
json_t *va_task_doc_new(json_t *in, const char *id, size_t id_len,
                        const char *owner, int64_t now_ms);

/* Applies a checked update to doc: changed fields are set (the version is
 * the caller's to bump, when anything changed). Returns the changes as a
 * new object {field: new value}; empty when nothing changed; NULL when out
 * of memory. */
json_t *va_task_doc_apply(json_t *doc, json_t *in);

/* Adds one to doc's version and sets "updated": 0, VA_APPS_ECORRUPT when
 * the version is not one va_task_doc_valid accepts or has reached
 * VA_APPS_VERSION_MAX, VA_ENOMEM. */
int va_task_doc_bump(json_t *doc, int64_t now_ms);

/* Whether doc, read from a task's state (untrusted: the Dapr state API can
 * write anything there), is a document of the task id as the actor writes
 * them: NULL when it is, else what is wrong (static). */
const char *va_task_doc_valid(json_t *doc, const char *id, size_t id_len);
/* Parses and checks stored bytes: the document (new reference), or NULL
 * with *why (static) saying what is wrong. */
json_t *va_task_doc_decode(const void *bytes, size_t len, const char *id,
                           size_t id_len, const char **why);

/* Whether s (n bytes) is an id as the routes take them: 1..VA_APPS_ID_MAX
 * of [A-Za-z0-9._~-]. */
bool va_task_id_ok(const char *s, size_t n);
/* The characters (code points) of n bytes of UTF-8, and of a JSON string
 * (0 for anything else). The Task API's text limits count these, not
 * bytes. */
size_t va_utf8_chars(const char *s, size_t n);
size_t va_json_chars(const json_t *v);
/* Whether s (n bytes) may name a user or a task inside the actors: 1..
 * VA_APPS_ID_MAX bytes without a NUL (the Dapr API can call them with any
 * actor id, "user/42" say; longer ones would be cut). */
bool va_task_key_ok(const char *s, size_t n);

/* ---- Task ids ----
 * A task's TaskActor id is "<owner>:<name>", so that names are per owner:
 * ann's "trip" and cat's "trip" are two tasks, and neither learns of the
 * other. A user calls their own task by its name and another owner's (as
 * a member) by its actor id, "ann:trip": that is the id the API shows
 * them. Tasks created before names were per owner have a plain actor id,
 * "trip" (a legacy id), shown as it is to everyone; TaskActor "ann:trip"
 * passes calls for a task it does not have on to "trip" (task.c), so that
 * an owner's name for it still finds it. */

/* The actor id (NUL-ended into key, VA_APPS_TASK_KEY_MAX + 1 bytes) of
 * the task user calls ref (n bytes): a name ("trip": user's own) or an
 * actor id ("ann:trip"). false when ref is neither (an id as
 * va_task_id_ok, or two joined by one ':'). */
bool va_task_key_of(const char *user, const char *ref, size_t n, char *key);
/* Whether the task of actor id key (n bytes) may be created by user: a
 * legacy id, or user's own "<user>:<name>". */
bool va_task_key_creatable(const char *user, const char *key, size_t n);
/* The name in user's own actor id key ("trip" of "ann:trip" for ann): its
 * start, and its length in *name_len; NULL when key is not user's own. */
const char *va_task_key_name(const char *user, const char *key, size_t n,
                             size_t *name_len);
/* How user sees the task of actor id key (NUL-ended): its name when it is
 * theirs, else key whole (borrowed from key). */
const char *va_task_shown_id(const char *user, const char *key);
/* A new task name made up ("t" and 16 hex digits, 64 random bits) into
 * name (VA_TASK_NAME_NEW_SIZE bytes): false when the system has no
 * random bytes to give (never, once it has booted). */
enum { VA_TASK_NAME_NEW_SIZE = 18 };
bool va_task_name_new(char *name);
/* Whether s (n bytes) may be a TaskActor's id inside the actors: 1..
 * VA_APPS_TASK_KEY_MAX bytes without a NUL. */
bool va_task_actor_key_ok(const char *s, size_t n);

/* What a user's list keeps of a task (new reference). */
json_t *va_task_summary(json_t *doc);

bool va_task_doc_is_owner(json_t *doc, const char *user);
/* Owner or member. */
bool va_task_doc_allows(json_t *doc, const char *user);

/* An RFC 3339 time (UTC, ms) as a new JSON string. */
json_t *va_json_time(int64_t ms);

#endif
