/* fuzz_assistant.c — libFuzzer target for the Task API's parsers of
 * outside bytes that are not HTTP itself: the assistant's reading of a
 * chat message (and of date phrases, when.h), a query string, and the
 * checks of a task or preferences body. Any input must come back with an
 * answer, never a crash, a read out of bounds or undefined behaviour; an
 * intent must also hold what assistant.h promises (checked below). */
#include "../../src/api/query.h"
#include "../../src/apps/assistant.h"
#include "../../src/apps/prefs.h"
#include "../../src/apps/task_doc.h"
#include "../../src/apps/when.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS ((int64_t)86400000)
#define AT_END_MS ((int64_t)253402300800000) /* 10000-01-01 */

/* Moments a message is said at: 2025-11-24T16:00Z, a 23:30, a leap day,
 * a New Year's Eve. */
static const int64_t NOWS[] = {1764000000000, 1795735800000, 1835431200000,
                               1798711200000};

static void must(int ok) {
  if (!ok)
    abort();
}

/* What assistant.h promises of any intent read at now_ms. */
static void check_intent(const va_intent *in, int64_t now_ms) {
  must(in->kind >= VA_INTENT_UNKNOWN && in->kind <= VA_INTENT_CANCEL_REMINDER);
  must(memchr(in->text, 0, sizeof(in->text)) != NULL);
  must(memchr(in->title, 0, sizeof(in->title)) != NULL);
  must(memchr(in->bad_date, 0, sizeof(in->bad_date)) != NULL);
  must(memchr(in->status, 0, sizeof(in->status)) != NULL);
  must(!in->too_long || (!in->text[0] && !in->title[0]) ||
       in->kind == VA_INTENT_RENAME);
  must(in->at_ms >= 0 && in->at_ms < AT_END_MS);
  must(!in->bad_date[0] || in->at_ms == 0);
  must(in->reminder >= 0);
  must(in->kind != VA_INTENT_LOG || in->minutes > 0);
  if (in->window) /* whole local days, within two weeks of today */
    must(in->from_ms < in->to_ms && in->to_ms - in->from_ms <= 8 * DAY_MS &&
         in->from_ms > now_ms - 9 * DAY_MS && in->to_ms < now_ms + 15 * DAY_MS);
  if (in->kind == VA_INTENT_REMIND && !in->bad_date[0])
    must(in->at_ms > 0);
}

static void fuzz_assistant(const uint8_t *data, size_t size) {
  /* The zone: -12:00 .. +14:00 in quarter hours. */
  int tz = size ? (int)(data[0] % 105) * 15 - 12 * 60 : 0;
  int64_t now = NOWS[size > 1 ? data[1] % 4 : 0];
  va_zone zone = {NULL, tz};
  static va_intent first, again;
  va_assistant_read((const char *)data, size, now, &zone, &first);
  check_intent(&first, now);
  va_assistant_read((const char *)data, size, now, &zone, &again);
  must(!memcmp(&first, &again, sizeof(first))); /* pure: same answer */
  int64_t at = -1;
  if (va_when_read((const char *)data, size, now, &zone, &at) == VA_WHEN_OK)
    must(at >= 0 && at < AT_END_MS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_assistant(data, size);

  char *query = malloc(size + 1);
  if (!query)
    return 0;
  memcpy(query, data, size);
  query[size] = 0;
  char value[64];
  char why[256];
  static const char *const keys[] = {"q", "status", "limit", NULL};
  va_query_get(query, "q", value, sizeof(value));
  if (!va_query_check(query, keys, why, sizeof(why)) && !*why)
    __builtin_trap(); /* refused without saying why */
  free(query);

  json_t *body = json_loadb((const char *)data, size, 0, NULL);
  if (body) {
    va_task_doc_check(body, true);
    va_task_doc_check(body, false);
    va_prefs_check(body);
    json_decref(body);
  }
  return 0;
}
