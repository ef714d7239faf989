/* apps.c — registers the Task API's actor types, and what their methods
 * share (see apps.h). */
#include "apps.h"
#include "tz.h"
#include <stdlib.h>
#include <string.h>

bool va_json_is(json_t *v, const char *s) {
  const char *text = json_string_value(v);
  return text && s && !strcmp(text, s);
}

const char *va_json_text(json_t *v) {
  const char *text = json_string_value(v);
  return text ? text : "";
}

int va_reply_json(va_turn *t, json_t *v) {
  char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
  int rc = s ? va_turn_reply(t, s, strlen(s)) : VA_ENOMEM;
  free(s);
  return rc;
}

int va_apps_register(va_apps *apps) {
  if (!apps->chat_limit)
    apps->chat_limit = 200;
  if (!apps->history_limit)
    apps->history_limit = 100;
  /* The zone files are read now, before any turn runs (users' timeZone
   * may name one), so that no worker reads a file. */
  (void)va_tzdb_system();
  /* Type ids first, so that each type knows the others' while it runs. */
  int rc = va_user_register(apps);
  if (rc == 0)
    rc = va_task_register(apps);
  if (rc == 0)
    rc = va_chat_register(apps);
  return rc;
}
