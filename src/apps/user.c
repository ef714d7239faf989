/* user.c — UserActor (see user.h). The task list is state key "tasks":
 * the ids, each ended by a NUL. */
#include "user.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum { ID_MAX = 128 };

static int add_task(va_turn *t, const void *arg, size_t len) {
  if (len == 0 || len > ID_MAX || memchr(arg, 0, len))
    return VA_EINVAL;
  const void *v = NULL;
  size_t n = 0;
  va_state_get(t, "tasks", &v, &n); /* absent: an empty list */
  for (size_t at = 0; at < n; at += strlen((const char *)v + at) + 1)
    if (strlen((const char *)v + at) == len &&
        !memcmp((const char *)v + at, arg, len))
      return 0; /* there already */
  char *list = malloc(n + len + 1);
  if (!list)
    return VA_ENOMEM;
  if (n)
    memcpy(list, v, n);
  memcpy(list + n, arg, len);
  list[n + len] = 0;
  int rc = va_state_set(t, "tasks", list, n + len + 1);
  free(list);
  return rc;
}

static int list(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  const void *v = NULL;
  size_t n = 0;
  va_state_get(t, "tasks", &v, &n);
  json_t *ids = json_array();
  for (size_t at = 0; at < n; at += strlen((const char *)v + at) + 1)
    json_array_append_new(ids, json_string((const char *)v + at));
  json_t *out = json_pack("{s:o}", "tasks", ids);
  char *s = json_dumps(out, JSON_COMPACT);
  json_decref(out);
  int rc = s ? va_turn_reply(t, s, strlen(s)) : VA_ENOMEM;
  free(s);
  return rc;
}

int va_user_register(va_runtime *rt, va_user_type *out) {
  static const va_method methods[] = {{"add_task", add_task},
                                      {"list", list}};
  va_type_def def = {.name = "UserActor", .methods = methods,
                     .n_methods = 2};
  int type = va_register_type(rt, &def);
  if (type < 0)
    return type;
  *out = (va_user_type){type, va_method_lookup(rt, type, "add_task"),
                        va_method_lookup(rt, type, "list")};
  return 0;
}
