/* user.c — UserActor (methods in apps.h): one actor per user. State: the
 * summaries of the tasks the user owns or is a member of (JSON object by
 * task id, in the order they were added, key "tasks"), kept up to date by
 * TaskActor; and the user's preferences (JSON, key "prefs"). */
#include "apps.h"
#include "prefs.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum { ID_MAX = 128 };

/* The JSON object in key (new reference); an empty one when absent. */
static json_t *load_object(va_turn *t, const char *key) {
  const void *v;
  size_t n;
  json_t *o = va_state_get(t, key, &v, &n) == 0
                  ? json_loadb(v, n, 0, NULL)
                  : json_object();
  if (!json_is_object(o)) { /* (never written so) */
    json_decref(o);
    o = json_object();
  }
  return o;
}

static int save_object(va_turn *t, const char *key, json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT);
  int rc = s ? va_state_set(t, key, s, strlen(s)) : VA_ENOMEM;
  free(s);
  return rc;
}

static int upsert(va_turn *t, const void *arg, size_t len) {
  json_t *summary = json_loadb(arg, len, 0, NULL);
  const char *id = json_string_value(json_object_get(summary, "id"));
  int rc = VA_EINVAL;
  if (id && *id && strlen(id) <= ID_MAX) {
    json_t *tasks = load_object(t, "tasks");
    json_object_set(tasks, id, summary);
    rc = save_object(t, "tasks", tasks);
    json_decref(tasks);
  }
  json_decref(summary);
  return rc;
}

static int remove_task(va_turn *t, const void *arg, size_t len) {
  if (len == 0 || len > ID_MAX || memchr(arg, 0, len))
    return VA_EINVAL;
  char id[ID_MAX + 1];
  memcpy(id, arg, len);
  id[len] = 0;
  json_t *tasks = load_object(t, "tasks");
  int rc = json_object_del(tasks, id) == 0 ? save_object(t, "tasks", tasks)
                                           : 0; /* not there: done */
  json_decref(tasks);
  return rc;
}

/* Whether summary passes the filters: each given one must match; q is a
 * case-insensitive substring of the title. */
static bool wanted(json_t *summary, json_t *filters, const char *user) {
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
  const char *q = json_string_value(json_object_get(filters, "q"));
  const char *title = json_string_value(json_object_get(summary, "title"));
  return !q || (title && strcasestr(title, q));
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
  json_t *tasks = load_object(t, "tasks");
  json_t *out = json_array();
  const char *id;
  json_t *summary;
  json_object_foreach(tasks, id, summary) {
    if (wanted(summary, filters, me))
      json_array_append(out, summary);
  }
  json_t *reply = json_pack("{s:o, s:i}", "tasks", out, "count",
                            (json_int_t)json_array_size(out));
  int rc = va_reply_json(t, reply);
  json_decref(reply);
  json_decref(tasks);
  json_decref(filters);
  return rc;
}

static int prefs(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  json_t *p = load_object(t, "prefs");
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
  json_t *p = load_object(t, "prefs");
  json_object_update(p, in);
  int rc = save_object(t, "prefs", p);
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
  };
  va_type_def def = {.name = "UserActor",
                     .methods = methods,
                     .n_methods = VA_USER_METHODS};
  int type = va_register_type(apps->rt, &def);
  if (type < 0)
    return type;
  apps->user = type;
  return 0;
}
