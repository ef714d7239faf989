/* user_list.h — how a UserActor stores its task list, one state key per
 * task so that a change writes a few small keys, never the list:
 *
 *   "n"         the number of tasks (int64, 8 bytes, host order)
 *   "q"         the next entry's sequence number (int64): the order added
 *   "s:<slot>"  the id of the task in slot 0..n-1 (bytes)
 *   "t:<id>"    the task's entry {"slot": i, "seq": q, "task": summary}
 *   "tasks"     the old format (one JSON object by task id), read once and
 *               moved into the keys above
 *
 * A removal moves the last slot's task into the freed slot; listing walks
 * the slots and sorts by seq.
 *
 * And the reminders the user is charged for (those of the tasks they own,
 * at most VA_APPS_REMINDERS_PER_USER_MAX), kept by TaskActor:
 *
 *   "rn"        how many (int64, as "n")
 *   "r:<task>"  the names of that task's charged reminders (a JSON array
 *               of distinct strings). The key's rest is the task id, so
 *               no separator can be confused with a byte of an id or of
 *               a name (names may hold any byte but NUL).
 *
 * A key per task, not per reminder, so that a task's delete releases all
 * its charges, those of reminders it no longer has included (one whose
 * ttl ran out while the server was down ends without a fire), and each
 * new reminder's charge drops the task's charges for reminders it no
 * longer has: the count cannot stay too high. A change writes one key of
 * at most VA_APPS_REMINDERS_MAX names and the count.
 *
 * These are the pure decoders of those values (stored state is untrusted:
 * the Dapr state API may write any of it); user.c implements them and
 * does the reading and writing inside turns. */
#ifndef VA_APPS_USER_LIST_H
#define VA_APPS_USER_LIST_H

#include "limits.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most slots "n" may claim (no write makes more): more is corrupt. */
#define VA_USER_SLOTS_MAX ((int64_t)VA_APPS_TASKS_PER_USER_MAX)

/* An int64 counter ("n", "q"): 0 and *out, or VA_APPS_ECORRUPT when the
 * bytes are not 8 or the value is outside [0, max]. */
int va_user_counter_decode(const void *bytes, size_t len, int64_t max,
                           int64_t *out);

/* A task id in a slot: whether bytes are one (va_task_id_ok). */
bool va_user_slot_ok(const void *bytes, size_t len);

/* An entry "t:<id>": the entry (new reference) with its slot and seq
 * (non-negative integers) and its task (an object whose "id" is id), or
 * NULL when the bytes are not one. */
json_t *va_user_entry_decode(const void *bytes, size_t len, const char *id,
                             size_t id_len, int64_t *slot, int64_t *seq);
/* A new entry (new reference; summary borrowed); NULL when out of memory. */
json_t *va_user_entry_new(json_t *summary, int64_t slot, int64_t seq);

/* Whether summary can be kept as the task id's: an object whose "id" is
 * an id. */
bool va_user_summary_ok(json_t *summary);

/* A list page's cursor, "key.seq" of the last task on it (the list sorts
 * by key, then seq): into *key and *seq; false when s is not one. */
bool va_user_cursor_read(const char *s, int64_t *key, int64_t *seq);

/* The most names one "r:<task>" may hold (no write makes more): more is
 * corrupt. TaskActor's charges keep it within VA_APPS_REMINDERS_MAX; a
 * charge from outside (the Dapr API) without "current" may add more. */
#define VA_USER_CHARGES_MAX ((size_t)VA_APPS_REMINDERS_PER_USER_MAX)

/* Whether v is a reminder's name as TaskActor takes one: a JSON string of
 * 1..VA_APPS_REMINDER_NAME_MAX bytes without NUL. */
bool va_user_reminder_name_ok(json_t *v);

/* A task's charged reminders "r:<task>": the names (a new array), or NULL
 * when the bytes are not an array of at most VA_USER_CHARGES_MAX distinct
 * names (va_user_reminder_name_ok). */
json_t *va_user_charges_decode(const void *bytes, size_t len);

/* The old format "tasks": the summaries by task id that are usable (others
 * are dropped), as a new object; an empty one when the bytes are not an
 * object. NULL when out of memory. */
json_t *va_user_legacy_decode(const void *bytes, size_t len);

#endif
