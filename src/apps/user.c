/* user.c — UserActor (methods in apps.h): one actor per user. State: the
 * user's task list, one key per task (the layout is in user_list.h), kept
 * up to date by TaskActor; the reminders the user is charged for, one key
 * per task and a count (user_list.h), also kept by TaskActor; and the
 * user's preferences (JSON, key "prefs"). An upsert or a removal writes at
 * most five small keys, whatever the length of the list; at most
 * VA_APPS_TASKS_PER_USER_MAX entries. A charge or a release writes two
 * keys; at most VA_APPS_REMINDERS_PER_USER_MAX reminders. */
#include "apps.h"
#include "limits.h"
#include "prefs.h"
#include "task_doc.h"
#include "user_list.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of a TaskActor id (user ids are shorter), and of a state key. */
enum { ID_MAX = VA_APPS_TASK_KEY_MAX, KEY_MAX = ID_MAX + 32 };

static void log_corrupt(va_turn *t, const char *key, const char *why) {
  size_t idlen;
  const char *id = va_turn_id(t, &idlen);
  char quoted[2 * ID_MAX + 8], qkey[2 * KEY_MAX + 8];
  va_log_quote(id, idlen, quoted, sizeof(quoted));
  va_log_quote(key, strlen(key), qkey, sizeof(qkey));
  va_log(va_turn_runtime(t), VA_LOG_WARN, "stored state invalid",
         "type=UserActor id=%s key=%s why=\"%s\"", quoted, qkey, why);
}

/* ---- Decoding stored values (user_list.h) ---- */

int va_user_counter_decode(const void *bytes, size_t len, int64_t max,
                           int64_t *out) {
  int64_t v;
  if (len != sizeof(v))
    return VA_APPS_ECORRUPT;
  memcpy(&v, bytes, sizeof(v));
  if (v < 0 || v > max)
    return VA_APPS_ECORRUPT;
  *out = v;
  return 0;
}

bool va_user_slot_ok(const void *bytes, size_t len) {
  return va_task_actor_key_ok(bytes, len);
}

bool va_user_summary_ok(json_t *summary) {
  json_t *id = json_object_get(summary, "id");
  return json_is_object(summary) &&
         va_task_actor_key_ok(json_string_value(id), json_string_length(id));
}

static bool counter_ok(json_t *v, int64_t max) {
  return json_is_integer(v) && json_integer_value(v) >= 0 &&
         json_integer_value(v) <= max;
}

json_t *va_user_entry_decode(const void *bytes, size_t len, const char *id,
                             size_t id_len, int64_t *slot, int64_t *seq) {
  json_t *e = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, NULL);
  json_t *task = json_object_get(e, "task");
  json_t *task_id = json_object_get(task, "id");
  if (!json_is_object(e) ||
      !counter_ok(json_object_get(e, "slot"), VA_USER_SLOTS_MAX - 1) ||
      !counter_ok(json_object_get(e, "seq"), INT64_MAX - 1) ||
      !va_user_summary_ok(task) || json_string_length(task_id) != id_len ||
      memcmp(json_string_value(task_id), id, id_len)) {
    json_decref(e);
    return NULL;
  }
  *slot = json_integer_value(json_object_get(e, "slot"));
  *seq = json_integer_value(json_object_get(e, "seq"));
  return e;
}

json_t *va_user_entry_new(json_t *summary, int64_t slot, int64_t seq) {
  return json_pack("{s:I, s:I, s:O}", "slot", (json_int_t)slot, "seq",
                   (json_int_t)seq, "task", summary);
}

json_t *va_user_legacy_decode(const void *bytes, size_t len) {
  json_t *old = json_loadb(bytes, len, 0, NULL);
  json_t *kept = json_object();
  const char *id;
  json_t *summary;
  json_object_foreach(old, id, summary) {
    if (kept && va_user_summary_ok(summary) &&
        !strcmp(json_string_value(json_object_get(summary, "id")), id))
      json_object_set(kept, id, summary);
  }
  json_decref(old);
  return kept;
}

/* ---- The list's keys ---- */

static void slot_key(int64_t slot, char *out) {
  snprintf(out, KEY_MAX, "s:%lld", (long long)slot);
}

static void entry_key(const char *id, char *out) {
  snprintf(out, KEY_MAX, "t:%s", id);
}

/* A counter key: 0 when absent; corrupt (logged) when unreadable. */
static int read_count(va_turn *t, const char *key, int64_t max, int corrupt,
                      int64_t *out) {
  const void *v;
  size_t n;
  *out = 0;
  if (va_turn_state_get(t, key, &v, &n) != 0)
    return 0;
  if (va_user_counter_decode(v, n, max, out) == 0)
    return 0;
  log_corrupt(t, key, "not a count");
  return corrupt;
}

/* The list's counter key ("n" or "q"): 0 when absent;
 * VA_APPS_ECORRUPT_LIST. */
static int read_counter(va_turn *t, const char *key, int64_t max,
                        int64_t *out) {
  return read_count(t, key, max, VA_APPS_ECORRUPT_LIST, out);
}

static int write_counter(va_turn *t, const char *key, int64_t v) {
  return va_turn_state_set(t, key, &v, sizeof(v));
}

/* The entry of task id (new reference) and its slot and seq; NULL when the
 * task is not listed (or its entry is unreadable: then it counts as not
 * listed, and is overwritten by the next upsert). */
static json_t *read_entry(va_turn *t, const char *id, int64_t *slot,
                          int64_t *seq) {
  char key[KEY_MAX];
  const void *v;
  size_t n;
  entry_key(id, key);
  if (va_turn_state_get(t, key, &v, &n) != 0)
    return NULL;
  json_t *e = va_user_entry_decode(v, n, id, strlen(id), slot, seq);
  if (!e)
    log_corrupt(t, key, "not a task entry");
  return e;
}

static int write_entry(va_turn *t, const char *id, json_t *entry) {
  char key[KEY_MAX];
  entry_key(id, key);
  char *s = json_dumps(entry, JSON_COMPACT);
  int rc = s ? va_turn_state_set(t, key, s, strlen(s)) : VA_ENOMEM;
  free(s);
  return rc;
}

/* The task id in slot (NUL-ended into id, ID_MAX + 1 bytes): false when
 * the slot is empty or unreadable. */
static bool read_slot(va_turn *t, int64_t slot, char *id) {
  char key[KEY_MAX];
  const void *v;
  size_t n;
  slot_key(slot, key);
  if (va_turn_state_get(t, key, &v, &n) != 0 || !va_user_slot_ok(v, n))
    return false;
  memcpy(id, v, n);
  id[n] = 0;
  return true;
}

static int write_slot(va_turn *t, int64_t slot, const char *id) {
  char key[KEY_MAX];
  slot_key(slot, key);
  return va_turn_state_set(t, key, id, strlen(id));
}

/* Whether task id is the one in slot, a slot in use. */
static bool slot_holds(va_turn *t, int64_t slot, int64_t count,
                       const char *id) {
  char there[ID_MAX + 1];
  return slot < count && read_slot(t, slot, there) && !strcmp(there, id);
}

/* Whether a task new to the list, id, would be called as one listed is
 * (task_doc.h): this user's own "<me>:<name>" beside a legacy "<name>",
 * either one coming second. */
static bool name_taken(va_turn *t, const char *id) {
  size_t idlen, name_len;
  const char *user = va_turn_id(t, &idlen);
  char me[VA_APPS_ID_MAX + 1], other[ID_MAX + 1];
  if (idlen > VA_APPS_ID_MAX)
    return false;
  snprintf(me, sizeof(me), "%.*s", (int)idlen, user);
  const char *name = va_task_key_name(me, id, strlen(id), &name_len);
  if (name)
    snprintf(other, sizeof(other), "%.*s", (int)name_len, name);
  else if (!strchr(id, ':') && va_task_id_ok(id, strlen(id)))
    snprintf(other, sizeof(other), "%s:%s", me, id);
  else
    return false;
  int64_t slot, seq;
  json_t *e = read_entry(t, other, &slot, &seq);
  json_decref(e);
  return e != NULL;
}

/* Adds or replaces task id's summary (borrowed): a replacement writes its
 * entry; a new task (or one whose entry lost its slot to a write from
 * outside) its entry, a slot and the two counters, unless its name is
 * taken (VA_EEXIST, name_taken). */
static int put_task(va_turn *t, const char *id, json_t *summary) {
  int64_t slot, seq, count, next;
  int rc = read_counter(t, "n", VA_USER_SLOTS_MAX, &count);
  if (rc)
    return rc;
  json_t *old = read_entry(t, id, &slot, &seq);
  bool placed = old && slot_holds(t, slot, count, id);
  json_decref(old);
  if (!placed) {
    rc = read_counter(t, "q", INT64_MAX - 1, &next);
    if (rc == 0 && count >= VA_APPS_TASKS_PER_USER_MAX)
      rc = VA_APPS_ELIMIT_TASKS;
    if (rc == 0 && name_taken(t, id))
      rc = VA_EEXIST;
    if (rc)
      return rc;
    slot = count, seq = next;
    rc = write_slot(t, slot, id);
    if (rc == 0)
      rc = write_counter(t, "n", count + 1);
    if (rc == 0)
      rc = write_counter(t, "q", next + 1);
  }
  json_t *entry = rc == 0 ? va_user_entry_new(summary, slot, seq) : NULL;
  if (rc == 0)
    rc = entry ? write_entry(t, id, entry) : VA_ENOMEM;
  json_decref(entry);
  return rc;
}

/* Takes task id off the list: the last slot's task moves into its slot. */
static int drop_task(va_turn *t, const char *id) {
  int64_t slot, seq, count;
  json_t *old = read_entry(t, id, &slot, &seq);
  char key[KEY_MAX];
  entry_key(id, key);
  if (!old) /* not listed (or unreadable): only its key, if any, goes */
    return va_turn_state_delete(t, key);
  json_decref(old);
  int rc = read_counter(t, "n", VA_USER_SLOTS_MAX, &count);
  if (rc == 0)
    rc = va_turn_state_delete(t, key);
  if (rc || !slot_holds(t, slot, count, id))
    return rc; /* (its slot is another's: nothing else to mend) */
  char last[ID_MAX + 1];
  if (slot != count - 1 && read_slot(t, count - 1, last)) {
    int64_t last_slot, last_seq;
    json_t *moved = read_entry(t, last, &last_slot, &last_seq);
    rc = write_slot(t, slot, last);
    if (rc == 0 && moved) {
      json_object_set_new(moved, "slot", json_integer(slot));
      rc = write_entry(t, last, moved);
    }
    json_decref(moved);
  }
  slot_key(count - 1, key);
  if (rc == 0)
    rc = va_turn_state_delete(t, key);
  return rc ? rc : write_counter(t, "n", count - 1);
}

/* Moves the old format's list into per-task keys (once: it is deleted). */
static int migrate(va_turn *t) {
  const void *v;
  size_t n;
  if (va_turn_state_get(t, "tasks", &v, &n) != 0)
    return 0;
  json_t *old = va_user_legacy_decode(v, n);
  if (!old)
    return VA_ENOMEM;
  const char *id;
  json_t *summary;
  int rc = 0;
  json_object_foreach(old, id, summary) {
    if (rc == 0)
      rc = put_task(t, id, summary);
    if (rc == VA_APPS_ELIMIT_TASKS)
      rc = 0; /* over the limit already: the rest cannot be kept */
  }
  json_decref(old);
  return rc ? rc : va_turn_state_delete(t, "tasks");
}

/* ---- Methods ---- */

static int upsert(va_turn *t, const void *arg, size_t len) {
  json_t *summary = json_loadb(arg, len, 0, NULL);
  const char *id = json_string_value(json_object_get(summary, "id"));
  int rc = va_user_summary_ok(summary) ? migrate(t) : VA_EINVAL;
  if (rc == 0)
    rc = put_task(t, id, summary);
  json_decref(summary);
  return rc;
}

static int remove_task(va_turn *t, const void *arg, size_t len) {
  if (!va_user_slot_ok(arg, len))
    return VA_EINVAL;
  char id[ID_MAX + 1];
  memcpy(id, arg, len);
  id[len] = 0;
  int rc = migrate(t);
  return rc ? rc : drop_task(t, id);
}

/* ---- Listing: filters, order, pages ---- */

/* A due or updated time of a summary in ms, or none when it has none. */
static int64_t time_ms(json_t *v, int64_t none) {
  const char *s = json_string_value(v);
  int64_t ms;
  return s && va_parse_due(s, json_string_length(v), 0, &ms) == 0 ? ms : none;
}

static int64_t priority_rank(json_t *v) {
  static const char *const RANKS[] = {"low", "medium", "high", "urgent"};
  for (int64_t i = 0; i < 4; i++)
    if (va_json_is(v, RANKS[i]))
      return i;
  return -1;
}

/* Whether summary passes the filters: each given one must match; q is a
 * case-insensitive substring of the title; tag one of its tags; due_before (ms)
 * keeps the tasks due before it, due_after those due at or after it, overdue
 * those past due and not done (or, false, the others). due: the summary's, in
 * ms (INT64_MAX for none). */
static bool wanted(json_t *summary, json_t *filters, const char *user,
                   int64_t now, int64_t due) {
  static const char *const EXACT[] = {"status", "priority", NULL};
  for (const char *const *f = EXACT; *f; f++) {
    json_t *want = json_object_get(filters, *f);
    if (want && !json_equal(want, json_object_get(summary, *f)))
      return false;
  }
  const char *role = json_string_value(json_object_get(filters, "role"));
  if (role) {
    bool owner = va_json_is(json_object_get(summary, "owner"), user);
    if (owner != !strcmp(role, "owner"))
      return false;
  }
  json_t *before = json_object_get(filters, "due_before");
  if (json_is_integer(before) && due >= json_integer_value(before))
    return false;
  json_t *after = json_object_get(filters, "due_after"); /* (the chat's) */
  if (json_is_integer(after) && due < json_integer_value(after))
    return false;
  json_t *overdue = json_object_get(filters, "overdue");
  bool late =
      due < now && !va_json_is(json_object_get(summary, "status"), "done");
  if (json_is_boolean(overdue) && late != json_is_true(overdue))
    return false;
  json_t *tag = json_object_get(filters, "tag"), *has;
  bool tagged = !tag;
  size_t i;
  json_array_foreach(json_object_get(summary, "tags"), i, has) tagged |=
      json_equal(has, tag);
  if (!tagged)
    return false;
  const char *q = json_string_value(json_object_get(filters, "q"));
  const char *title = json_string_value(json_object_get(summary, "title"));
  return !q || (title && strcasestr(title, q));
}

/* A task of the list with where it goes: by key, then by seq (the order
 * it was listed in, which is unique). */
typedef struct list_item {
  json_t *task; /* borrowed from the entries */
  int64_t key, seq;
} list_item;

/* The key a task (due at due ms) is ordered by for sort: due (soonest
 * first, none last), priority (urgent first), updated (latest first), or
 * NULL (the order listed: all keys equal). */
static int64_t sort_key(json_t *task, int64_t due, const char *sort) {
  if (!sort)
    return 0;
  if (!strcmp(sort, "due"))
    return due;
  if (!strcmp(sort, "priority"))
    return -priority_rank(json_object_get(task, "priority"));
  return -time_ms(json_object_get(task, "updated"), 0);
}

static int by_key(const void *a, const void *b) {
  const list_item *x = a, *y = b;
  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

bool va_user_cursor_read(const char *s, int64_t *key, int64_t *seq) {
  long long k, q;
  int end = 0;
  if (sscanf(s, "%lld.%lld%n", &k, &q, &end) != 2 || s[end])
    return false;
  *key = k, *seq = q;
  return true;
}

/* A task of user's list as they see it: with the id they call it by
 * (task_doc.h; new reference, NULL when out of memory). */
static json_t *shown_to(const char *user, json_t *task) {
  json_t *shown = json_copy(task);
  const char *id = va_json_text(json_object_get(task, "id"));
  if (shown && json_object_set_new(shown, "id",
                                   json_string(va_task_shown_id(user, id)))) {
    json_decref(shown);
    return NULL;
  }
  return shown;
}

/* The list's answer: {tasks: a page, count: how many match in all, next:
 * the cursor of the page after, or null}. */
static json_t *page_of(json_t *entries, json_t *filters, const char *user) {
  size_t n = json_array_size(entries), kept = 0;
  list_item *v = malloc((n ? n : 1) * sizeof(*v));
  if (!v)
    return NULL;
  const char *sort = json_string_value(json_object_get(filters, "sort"));
  int64_t now = va_wall_ms();
  size_t i;
  json_t *e;
  json_array_foreach(entries, i, e) {
    json_t *task = json_object_get(e, "task");
    int64_t due = time_ms(json_object_get(task, "due"), INT64_MAX);
    if (wanted(task, filters, user, now, due))
      v[kept++] =
          (list_item){task, sort_key(task, due, sort),
                      (int64_t)json_integer_value(json_object_get(e, "seq"))};
  }
  qsort(v, kept, sizeof(*v), by_key);
  list_item after;
  const char *cursor = json_string_value(json_object_get(filters, "cursor"));
  json_int_t limit = json_integer_value(json_object_get(filters, "limit"));
  size_t from = 0, to;
  if (cursor && !va_user_cursor_read(cursor, &after.key, &after.seq)) {
    free(v);
    return json_null(); /* (the route checks; the Dapr API does not) */
  }
  while (cursor && from < kept && by_key(&v[from], &after) <= 0)
    from++;
  to = limit > 0 && (size_t)limit < kept - from ? from + (size_t)limit : kept;
  json_t *tasks = json_array();
  for (size_t k = from; tasks && k < to; k++)
    if (json_array_append_new(tasks, shown_to(user, v[k].task))) {
      json_decref(tasks); /* out of memory */
      tasks = NULL;
    }
  char next[48];
  if (to < kept)
    snprintf(next, sizeof(next), "%lld.%lld", (long long)v[to - 1].key,
             (long long)v[to - 1].seq);
  json_t *out = tasks ? json_pack("{s:o, s:I, s:s?}", "tasks", tasks, "count",
                                  (json_int_t)kept, "next",
                                  to < kept && to > from ? next : NULL)
                      : NULL;
  free(v);
  return out;
}

/* The listed tasks' entries in the order they were added (new array). */
static int collect(va_turn *t, json_t **out) {
  int64_t count;
  int rc = read_counter(t, "n", VA_USER_SLOTS_MAX, &count);
  *out = rc ? NULL : json_array();
  if (rc || !*out)
    return rc ? rc : VA_ENOMEM;
  for (int64_t i = 0; i < count; i++) {
    char id[ID_MAX + 1];
    int64_t slot, seq;
    json_t *e = read_slot(t, i, id) ? read_entry(t, id, &slot, &seq) : NULL;
    if (e && slot == i) /* (else a slot left by a write from outside) */
      json_array_append(*out, e);
    json_decref(e);
  }
  return 0;
}

static int list(va_turn *t, const void *arg, size_t len) {
  json_t *filters = len ? json_loadb(arg, len, 0, NULL) : json_object();
  if (!json_is_object(filters)) {
    json_decref(filters);
    return VA_EINVAL;
  }
  size_t idlen;
  const char *user = va_turn_id(t, &idlen);
  char me[ID_MAX + 1];
  snprintf(me, sizeof(me), "%.*s", (int)idlen, user);
  json_t *entries = NULL;
  int rc = migrate(t);
  if (rc == 0)
    rc = collect(t, &entries);
  json_t *reply = rc == 0 ? page_of(entries, filters, me) : NULL;
  if (rc == 0)
    rc = !reply                ? VA_ENOMEM
         : json_is_null(reply) ? VA_EINVAL
                               : va_reply_json(t, reply);
  json_decref(reply);
  json_decref(entries);
  json_decref(filters);
  return rc;
}

/* ---- Reminders charged (user_list.h) ---- */

enum { CHARGED_MAX = VA_APPS_REMINDERS_PER_USER_MAX };

bool va_user_reminder_name_ok(json_t *v) {
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  return s && n > 0 && n <= VA_APPS_REMINDER_NAME_MAX && strlen(s) == n;
}

/* Where name is in names (an array of strings), or -1. */
static long name_index(json_t *names, const char *name) {
  size_t i;
  json_t *v;
  json_array_foreach(names, i, v) {
    if (va_json_is(v, name))
      return (long)i;
  }
  return -1;
}

/* Whether names is an array of at most max reminder names. */
static bool names_ok(json_t *names, size_t max) {
  size_t i;
  json_t *v;
  if (!json_is_array(names) || json_array_size(names) > max)
    return false;
  json_array_foreach(names, i, v) {
    if (!va_user_reminder_name_ok(v))
      return false;
  }
  return true;
}

json_t *va_user_charges_decode(const void *bytes, size_t len) {
  json_t *names = json_loadb(bytes, len, 0, NULL);
  bool ok = names_ok(names, VA_USER_CHARGES_MAX);
  for (size_t i = 1; ok && i < json_array_size(names); i++) {
    const char *name = json_string_value(json_array_get(names, i));
    for (size_t k = 0; ok && k < i; k++)
      ok = !va_json_is(json_array_get(names, k), name);
  }
  if (!ok) {
    json_decref(names);
    return NULL;
  }
  return names;
}

static void charges_key(const char *task, char *out) {
  snprintf(out, KEY_MAX, "r:%s", task);
}

/* The names charged for task (new array, empty when none) in *out: 0;
 * VA_APPS_ECORRUPT_REMINDERS (logged) when the key is unreadable. */
static int read_charges(va_turn *t, const char *task, json_t **out) {
  char key[KEY_MAX];
  const void *v;
  size_t n;
  charges_key(task, key);
  if (va_turn_state_get(t, key, &v, &n) != 0) {
    *out = json_array();
    return *out ? 0 : VA_ENOMEM;
  }
  if ((*out = va_user_charges_decode(v, n)))
    return 0;
  log_corrupt(t, key, "not a list of reminder names");
  return VA_APPS_ECORRUPT_REMINDERS;
}

/* Writes task's charged names (none: the key goes). */
static int write_charges(va_turn *t, const char *task, json_t *names) {
  char key[KEY_MAX];
  charges_key(task, key);
  if (json_array_size(names) == 0)
    return va_turn_state_delete(t, key);
  char *s = json_dumps(names, JSON_COMPACT);
  int rc = s ? va_turn_state_set(t, key, s, strlen(s)) : VA_ENOMEM;
  free(s);
  return rc;
}

/* Takes out of charged the names that are (drop) or are not (!drop) in
 * names, except spare (may be NULL); returns how many went. */
static size_t remove_names(json_t *charged, json_t *names, bool drop,
                           const char *spare) {
  size_t gone = 0;
  for (size_t i = json_array_size(charged); i-- > 0;) {
    const char *name = json_string_value(json_array_get(charged, i));
    bool listed = name_index(names, name) >= 0;
    if (listed == drop && !(spare && !strcmp(name, spare))) {
      json_array_remove(charged, i);
      gone++;
    }
  }
  return gone;
}

/* The task id of a charge's or a release's body, or NULL. */
static const char *charged_task(json_t *in) {
  json_t *task = json_object_get(in, "task");
  return va_task_actor_key_ok(json_string_value(task), json_string_length(task))
             ? json_string_value(task)
             : NULL;
}

/* Counts name for task unless it is counted (charged: the task's names),
 * after taking out those not in current (NULL: keep them). */
static int charge(va_turn *t, const char *task, json_t *charged,
                  const char *name, json_t *current, int64_t count) {
  size_t gone = current ? remove_names(charged, current, false, name) : 0;
  count = count > (int64_t)gone ? count - (int64_t)gone : 0;
  bool counted = name_index(charged, name) >= 0;
  if (counted && gone == 0)
    return 0; /* counted already: nothing changes */
  if (!counted) {
    if (count >= CHARGED_MAX || json_array_size(charged) >= CHARGED_MAX)
      return VA_APPS_ELIMIT_USER_REMINDERS;
    if (json_array_append_new(charged, json_string(name)))
      return VA_ENOMEM;
    count++;
  }
  int rc = write_charges(t, task, charged);
  return rc ? rc : write_counter(t, "rn", count);
}

static int charge_reminder(va_turn *t, const void *arg, size_t len) {
  json_t *in = json_loadb(arg, len, 0, NULL);
  const char *task = charged_task(in);
  json_t *name = json_object_get(in, "name");
  json_t *current = json_object_get(in, "current");
  int rc = task && va_user_reminder_name_ok(name) &&
                   (!current || names_ok(current, CHARGED_MAX))
               ? 0
               : VA_EINVAL;
  int64_t count = 0;
  json_t *charged = NULL;
  if (rc == 0)
    rc = read_count(t, "rn", CHARGED_MAX, VA_APPS_ECORRUPT_REMINDERS, &count);
  if (rc == 0)
    rc = read_charges(t, task, &charged);
  if (rc == 0)
    rc = charge(t, task, charged, json_string_value(name), current, count);
  json_decref(charged);
  json_decref(in);
  return rc;
}

/* All of a task's (it is being deleted): an unreadable entry goes too,
 * though what it counted cannot be known (and stays counted). */
static int release_all(va_turn *t, const char *task, json_t **charged) {
  int rc = read_charges(t, task, charged);
  if (rc != VA_APPS_ECORRUPT_REMINDERS)
    return rc;
  char key[KEY_MAX];
  charges_key(task, key);
  return va_turn_state_delete(t, key);
}

static int release_reminders(va_turn *t, const void *arg, size_t len) {
  json_t *in = json_loadb(arg, len, 0, NULL);
  const char *task = charged_task(in);
  json_t *names = json_object_get(in, "names");
  int rc = task && (!names || names_ok(names, CHARGED_MAX)) ? 0 : VA_EINVAL;
  json_t *charged = NULL;
  if (rc == 0)
    rc = names ? read_charges(t, task, &charged)
               : release_all(t, task, &charged);
  size_t gone = 0;
  if (rc == 0 && names) {
    gone = remove_names(charged, names, true, NULL);
  } else if (rc == 0) {
    gone = json_array_size(charged);
    json_array_clear(charged);
  }
  if (rc == 0 && gone)
    rc = write_charges(t, task, charged);
  /* An unreadable count (logged) is left as it is: the release goes on,
   * and the count refuses new charges until it is mended. */
  int64_t count;
  if (rc == 0 && gone &&
      read_count(t, "rn", CHARGED_MAX, VA_APPS_ECORRUPT_REMINDERS, &count) == 0)
    rc = write_counter(t, "rn",
                       count > (int64_t)gone ? count - (int64_t)gone : 0);
  json_decref(charged);
  json_decref(in);
  return rc;
}

/* ---- Preferences ---- */

/* The stored preferences (new reference): those va_prefs_check accepts;
 * anything else there is dropped (and so mended by the next write). */
static json_t *load_prefs(va_turn *t) {
  const void *v;
  size_t n;
  return va_turn_state_get(t, "prefs", &v, &n) == 0 ? va_prefs_decode(v, n)
                                                    : json_object();
}

static int save_prefs(va_turn *t, json_t *p) {
  char *s = json_dumps(p, JSON_COMPACT);
  int rc = s ? va_turn_state_set(t, "prefs", s, strlen(s)) : VA_ENOMEM;
  free(s);
  return rc;
}

static int prefs(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  json_t *p = load_prefs(t);
  if (!json_object_get(p, "timeZone"))
    json_object_set_new(p, "timeZone", json_string("UTC"));
  int rc = va_reply_json(t, p);
  json_decref(p);
  return rc;
}

static int set_prefs(va_turn *t, const void *arg, size_t len) {
  json_t *in = json_loadb(arg, len, 0, NULL);
  json_object_del(in, "user"); /* the caller, added by the route */
  if (va_prefs_check(in)) {
    json_decref(in);
    return VA_EINVAL;
  }
  json_t *p = load_prefs(t);
  int rc = p && json_object_update(p, in) == 0 ? save_prefs(t, p) : VA_ENOMEM;
  json_decref(p);
  json_decref(in);
  return rc ? rc : prefs(t, NULL, 0);
}

int va_user_register(va_apps *apps) {
  static const va_method methods[VA_USER_METHODS] = {
      [VA_USER_UPSERT] = {"upsert_task", upsert},
      [VA_USER_REMOVE] = {"remove_task", remove_task},
      [VA_USER_LIST] = {"list", list},
      [VA_USER_PREFS] = {"preferences", prefs},
      [VA_USER_SET_PREFS] = {"set_preferences", set_prefs},
      [VA_USER_CHARGE_REMINDER] = {"charge_reminder", charge_reminder},
      [VA_USER_RELEASE_REMINDERS] = {"release_reminders", release_reminders},
  };
  va_type_def def = {.name = "UserActor",
                     .methods = methods,
                     .n_methods = VA_USER_METHODS,
                     .user = apps};
  int type = va_register_type(apps->rt, &def);
  if (type < 0)
    return type;
  apps->user = type;
  return 0;
}
