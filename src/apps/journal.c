/* journal.c — see journal.h. The count is key "<prefix>n" (int64, binary);
 * entry seq s is key "<prefix><s>" (decimal), JSON. Kept entries are
 * those with seq in [total - limit, total). The stored values are read as
 * untrusted: a count that is not one reads as 0 (so the journal starts
 * again, overwriting), an entry that is not an object is skipped. */
#include "journal.h"
#include "limits.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void key_of(const va_journal *j, int64_t seq, char *out, size_t cap) {
  if (seq < 0)
    snprintf(out, cap, "%sn", j->prefix);
  else
    snprintf(out, cap, "%s%lld", j->prefix, (long long)seq);
}

int64_t va_journal_total(va_turn *t, const va_journal *j) {
  char key[48];
  key_of(j, -1, key, sizeof(key));
  const void *v;
  size_t n;
  return va_turn_state_get(t, key, &v, &n) == 0 ? va_journal_total_decode(v, n)
                                                : 0;
}

int64_t va_journal_total_decode(const void *bytes, size_t len) {
  int64_t total;
  if (len != sizeof(total))
    return 0;
  memcpy(&total, bytes, sizeof(total));
  return total >= 0 && total <= VA_APPS_JOURNAL_TOTAL_MAX ? total : 0;
}

json_t *va_journal_entry_decode(const void *bytes, size_t len) {
  json_t *e = json_loadb(bytes, len, 0, NULL);
  if (!json_is_object(e)) {
    json_decref(e);
    return NULL;
  }
  return e;
}

static int64_t oldest_kept(const va_journal *j, int64_t total) {
  return total > (int64_t)j->limit ? total - (int64_t)j->limit : 0;
}

int va_journal_append(va_turn *t, const va_journal *j, json_t *entry) {
  char key[48];
  int64_t seq = va_journal_total(t, j);
  if (json_object_set_new(entry, "seq", json_integer(seq)) != 0)
    return VA_ENOMEM;
  char *s = json_dumps(entry, JSON_COMPACT);
  if (!s)
    return VA_ENOMEM;
  key_of(j, seq, key, sizeof(key));
  int rc = va_turn_state_set(t, key, s, strlen(s));
  free(s);
  int64_t total = seq + 1;
  if (rc == 0 && seq >= (int64_t)j->limit) {
    key_of(j, seq - (int64_t)j->limit, key, sizeof(key));
    rc = va_turn_state_delete(t, key);
  }
  key_of(j, -1, key, sizeof(key));
  return rc ? rc : va_turn_state_set(t, key, &total, sizeof(total));
}

json_t *va_journal_page(va_turn *t, const va_journal *j, int64_t before,
                        int64_t limit) {
  int64_t total = va_journal_total(t, j);
  if (before <= 0 || before > total)
    before = total;
  int64_t from = before - limit;
  if (from < oldest_kept(j, total))
    from = oldest_kept(j, total);
  json_t *page = json_array();
  for (int64_t seq = from; page && seq < before; seq++) {
    char key[48];
    const void *v;
    size_t n;
    key_of(j, seq, key, sizeof(key));
    if (va_turn_state_get(t, key, &v, &n) != 0)
      continue; /* (deleted with a failed turn's rollback: never) */
    json_t *e = va_journal_entry_decode(v, n);
    if (e) /* (an entry written from outside that is not one: skipped) */
      json_array_append_new(page, e);
  }
  return page;
}

int va_journal_clear(va_turn *t, const va_journal *j) {
  int64_t total = va_journal_total(t, j);
  char key[48];
  int rc = 0;
  for (int64_t seq = oldest_kept(j, total); rc == 0 && seq < total; seq++) {
    key_of(j, seq, key, sizeof(key));
    rc = va_turn_state_delete(t, key);
  }
  key_of(j, -1, key, sizeof(key));
  return rc ? rc : va_turn_state_delete(t, key);
}
