/* fuzz_assistant.c — libFuzzer target for the Task API's parsers of
 * outside bytes that are not HTTP itself: the assistant's reading of a
 * chat message, a query string, and the checks of a task or preferences
 * body. Any input must come back with an answer, never a crash, a read out
 * of bounds or undefined behaviour. */
#include "../../src/api/query.h"
#include "../../src/apps/assistant.h"
#include "../../src/apps/prefs.h"
#include "../../src/apps/task_doc.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  va_intent intent;
  int tz = size ? (int)(data[0] % 29) * 60 - 12 * 60 : 0;
  va_assistant_parse((const char *)data, size, 1764000000000, tz, &intent);
  if (memchr(intent.text, 0, sizeof(intent.text)) == NULL)
    abort(); /* the text must always end */

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
