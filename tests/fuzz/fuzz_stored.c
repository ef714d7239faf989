/* fuzz_stored.c — libFuzzer target for the stored state the Task API's
 * actors read back (untrusted: the Dapr state API can write any of it): a
 * task's document, a user's list entries, counters and old-format list,
 * the reminders a user is charged for, preferences, and journal (history,
 * chat) counts and entries. The same bytes go to every decoder, and what a
 * decoder accepts must be what the actor may use without a further check:
 * a decoded document passes va_task_doc_valid and its version can grow
 * without overflow, decoded preferences pass va_prefs_check, a decoded
 * count is in range, decoded charges are distinct reminder names. Any
 * breach aborts. tests/unit/test_stored.c replays the corpus through this
 * same function. */
#include "../../src/apps/journal.h"
#include "../../src/apps/limits.h"
#include "../../src/apps/prefs.h"
#include "../../src/apps/task_doc.h"
#include "../../src/apps/user_list.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <vactor.h>

/* The "id" the bytes name at path (doc.id or doc.task.id), so that the
 * decoders get past their first check; "t1" when there is none. */
static void named_id(const uint8_t *data, size_t size, const char *inner,
                     char *out, size_t cap) {
  json_t *v = json_loadb((const char *)data, size, 0, NULL);
  json_t *holder = inner ? json_object_get(v, inner) : v;
  const char *id = json_string_value(json_object_get(holder, "id"));
  size_t n = id ? json_string_length(json_object_get(holder, "id")) : 0;
  if (!id || n == 0 || n >= cap)
    id = "t1", n = 2;
  memcpy(out, id, n);
  out[n] = 0;
  json_decref(v);
}

static void task_doc(const uint8_t *data, size_t size) {
  char id[VA_APPS_ID_MAX + 1];
  named_id(data, size, NULL, id, sizeof(id));
  const char *why;
  json_t *doc = va_task_doc_decode(data, size, id, strlen(id), &why);
  if (!doc) {
    if (!why)
      abort(); /* refused without saying why */
    return;
  }
  if (va_task_doc_valid(doc, id, strlen(id)))
    abort();
  json_t *summary = va_task_summary(doc);
  if (!va_user_summary_ok(summary))
    abort(); /* a valid task's summary must be listable */
  json_decref(summary);
  va_task_doc_allows(doc, "ann");
  json_t *copy = json_deep_copy(doc);
  json_t *changes = va_task_doc_apply(copy, doc);
  if (!changes || json_object_size(changes))
    abort(); /* applying a document to itself changes nothing */
  json_int_t before = json_integer_value(json_object_get(copy, "version"));
  int rc = va_task_doc_bump(copy, 1764000000000);
  json_int_t after = json_integer_value(json_object_get(copy, "version"));
  if (rc == 0 && after != before + 1)
    abort();
  if (rc != 0 && (rc != VA_APPS_EVERSION || before != VA_APPS_VERSION_MAX))
    abort();
  if (rc == 0 && after <= VA_APPS_VERSION_MAX &&
      va_task_doc_valid(copy, id, strlen(id)))
    abort(); /* a bumped document must still read back */
  json_decref(changes);
  json_decref(copy);
  json_decref(doc);
}

static void user_list(const uint8_t *data, size_t size) {
  int64_t n = -1;
  if (va_user_counter_decode(data, size, VA_USER_SLOTS_MAX, &n) == 0 &&
      (n < 0 || n > VA_USER_SLOTS_MAX))
    abort();
  va_user_slot_ok(data, size);
  char id[VA_APPS_ID_MAX + 1];
  named_id(data, size, "task", id, sizeof(id));
  int64_t slot = -1, seq = -1;
  json_t *e = va_user_entry_decode(data, size, id, strlen(id), &slot, &seq);
  if (e && (slot < 0 || slot >= VA_USER_SLOTS_MAX || seq < 0 ||
            !va_user_summary_ok(json_object_get(e, "task"))))
    abort();
  json_decref(e);
  json_t *legacy = va_user_legacy_decode(data, size);
  const char *key;
  json_t *summary;
  json_object_foreach(legacy, key, summary) {
    if (!va_user_summary_ok(summary))
      abort();
  }
  json_decref(legacy);
}

static void user_reminders(const uint8_t *data, size_t size) {
  const int64_t most = VA_APPS_REMINDERS_PER_USER_MAX;
  int64_t n = -1;
  if (va_user_counter_decode(data, size, most, &n) == 0 && (n < 0 || n > most))
    abort();
  json_t *names = va_user_charges_decode(data, size);
  if (names &&
      (!json_is_array(names) || json_array_size(names) > VA_USER_CHARGES_MAX))
    abort();
  for (size_t i = 0; i < json_array_size(names); i++) {
    json_t *name = json_array_get(names, i);
    if (!va_user_reminder_name_ok(name))
      abort(); /* a name TaskActor could not have charged */
    for (size_t k = 0; k < i; k++)
      if (json_equal(name, json_array_get(names, k)))
        abort(); /* one reminder counted twice */
  }
  json_decref(names);
}

static void prefs_and_journal(const uint8_t *data, size_t size) {
  json_t *p = va_prefs_decode(data, size);
  if (p && va_prefs_check(p))
    abort(); /* what is kept must be what an update may set */
  json_decref(p);
  int64_t total = va_journal_total_decode(data, size);
  if (total < 0 || total > VA_APPS_JOURNAL_TOTAL_MAX)
    abort();
  json_t *e = va_journal_entry_decode(data, size);
  if (e && !json_is_object(e))
    abort();
  json_decref(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  task_doc(data, size);
  user_list(data, size);
  user_reminders(data, size);
  prefs_and_journal(data, size);
  return 0;
}
