/* journal.h — a bounded, persisted list of JSON entries in an actor's
 * state (a task's history, a chat's messages): each entry is its own key
 * "<prefix><seq>", so appending writes one entry, not the list; past the
 * limit the oldest entries are deleted, and the total count is kept. Used
 * inside a turn of the owning actor. */
#ifndef VA_APPS_JOURNAL_H
#define VA_APPS_JOURNAL_H

#include <jansson.h>
#include <stdint.h>
#include <vactor.h>

typedef struct va_journal {
  const char *prefix; /* e.g. "h:" */
  uint32_t limit;     /* entries kept, >= 1 */
} va_journal;

/* Entries ever appended (the next one's seq). */
int64_t va_journal_total(va_turn *t, const va_journal *j);
/* Appends entry (borrowed), adding "seq" to it; deletes the entry that
 * falls past the limit. */
int va_journal_append(va_turn *t, const va_journal *j, json_t *entry);
/* Up to limit entries with seq < before (before <= 0: the newest), oldest
 * first, as a new JSON array. NULL when out of memory. */
json_t *va_journal_page(va_turn *t, const va_journal *j, int64_t before,
                        int64_t limit);
/* The stored count's bytes as a count: 0 unless they are 8 bytes holding
 * 0..VA_APPS_JOURNAL_TOTAL_MAX. */
int64_t va_journal_total_decode(const void *bytes, size_t len);
/* A stored entry: the object (new reference), or NULL when the bytes are
 * not a JSON object. */
json_t *va_journal_entry_decode(const void *bytes, size_t len);
/* Deletes every kept entry and the count. */
int va_journal_clear(va_turn *t, const va_journal *j);

#endif
