/* task.c — TaskActor (see task.h). The document is JSON in state key "doc";
 * the minutes logged are a separate binary key, so that logging time (the
 * hot operation) writes eight bytes, not the document. The parsed document
 * is kept in the activation's memory beside a copy of the bytes it was
 * parsed from, and used while the state still holds those bytes (a failed
 * save, a reload: anything that changes them makes it parse again). */
#include "task.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static va_task_type T;
static va_user_type U;

/* A user's list took the new task: the create turn goes on (or fails, and
 * with it the task, if a list could not). */
static int added(va_turn *t, void *user, int status, const void *data,
                 size_t len) {
  (void)t, (void)user, (void)data, (void)len;
  return status;
}

static int add_to(va_turn *t, const char *user) {
  size_t idlen;
  const char *id = va_turn_id(t, &idlen);
  return va_turn_call(t, U.type, user, strlen(user), U.add_task, id, idlen,
                      added, NULL);
}

/* The caller's JSON body, and its "user". NULL on a bad body. */
static json_t *parse(const void *arg, size_t len, const char **user) {
  json_t *in = json_loadb(arg, len, 0, NULL);
  const char *u = json_string_value(json_object_get(in, "user"));
  if (!json_is_object(in) || !u || !*u) {
    json_decref(in);
    return NULL;
  }
  *user = u;
  return in;
}

typedef struct parsed {
  char *bytes; /* what doc was parsed from */
  size_t len;
  json_t *doc;
} parsed;

static void forget(parsed *p) {
  json_decref(p->doc);
  free(p->bytes);
  *p = (parsed){0};
}

/* The task's document (a new reference), or NULL when there is none. */
static json_t *load_doc(va_turn *t) {
  parsed *p = va_turn_self(t);
  const void *v;
  size_t n;
  if (va_state_get(t, "doc", &v, &n) != 0)
    return NULL;
  if (!p->doc || p->len != n || memcmp(p->bytes, v, n)) {
    forget(p);
    p->doc = json_loadb(v, n, 0, NULL);
    if (p->doc && (p->bytes = malloc(n))) {
      memcpy(p->bytes, v, n);
      p->len = n;
    } else {
      forget(p);
      return NULL;
    }
  }
  return json_incref(p->doc);
}

static int task_deactivate(va_turn *t) {
  forget(va_turn_self(t));
  return 0;
}

static int64_t minutes(va_turn *t) {
  const void *v;
  size_t n;
  int64_t m = 0;
  if (va_state_get(t, "minutes", &v, &n) == 0 && n == sizeof(m))
    memcpy(&m, v, sizeof(m));
  return m;
}

/* Whether user is the owner or a member of doc. */
static int allowed(json_t *doc, const char *user) {
  if (!strcmp(json_string_value(json_object_get(doc, "owner")), user))
    return 1;
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(doc, "members"), i, m) if (
      json_is_string(m) && !strcmp(json_string_value(m), user)) return 1;
  return 0;
}

static int reply_json(va_turn *t, json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT);
  int rc = s ? va_turn_reply(t, s, strlen(s)) : VA_ENOMEM;
  free(s);
  return rc;
}

/* The task as the API shows it: the document plus the minutes. */
static int reply_task(va_turn *t, json_t *doc) {
  json_object_set_new(doc, "minutes", json_integer(minutes(t)));
  return reply_json(t, doc);
}

static int task_create(va_turn *t, const void *arg, size_t len) {
  const char *user;
  json_t *in = parse(arg, len, &user);
  if (!in)
    return VA_EINVAL;
  json_t *existing = load_doc(t);
  if (existing) {
    json_decref(existing);
    json_decref(in);
    return VA_EEXIST;
  }
  const char *title = json_string_value(json_object_get(in, "title"));
  json_t *members = json_object_get(in, "members");
  if (!title || !*title || (members && !json_is_array(members))) {
    json_decref(in);
    return VA_EINVAL;
  }
  size_t idlen;
  const char *id = va_turn_id(t, &idlen);
  const char *description =
      json_string_value(json_object_get(in, "description"));
  json_t *doc = json_pack(
      "{s:s%, s:s, s:s, s:s, s:s, s:O?, s:O?, s:o, s:i}", "id", id, idlen,
      "owner", user, "title", title, "description",
      description ? description : "", "status", "open", "priority",
      json_object_get(in, "priority"), "due", json_object_get(in, "due"),
      "members", members ? json_incref(members) : json_array(), "version", 1);
  json_decref(in);
  if (!doc)
    return VA_EINVAL;
  char *s = json_dumps(doc, JSON_COMPACT);
  int rc = s ? va_state_set(t, "doc", s, strlen(s)) : VA_ENOMEM;
  free(s);
  if (rc == 0) /* (user pointed into the request, freed above) */
    rc = add_to(t, json_string_value(json_object_get(doc, "owner")));
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(doc, "members"), i, m) {
    if (rc == 0 && json_is_string(m))
      rc = add_to(t, json_string_value(m));
  }
  if (rc == 0)
    rc = reply_task(t, doc);
  json_decref(doc);
  return rc;
}

static int task_get(va_turn *t, const void *arg, size_t len) {
  const char *user;
  json_t *in = parse(arg, len, &user);
  if (!in)
    return VA_EINVAL;
  json_t *doc = load_doc(t);
  int rc = doc && allowed(doc, user) ? reply_task(t, doc) : VA_ENOTFOUND;
  json_decref(doc);
  json_decref(in);
  return rc;
}

static int task_log(va_turn *t, const void *arg, size_t len) {
  va_task_log in;
  char user[160];
  size_t ulen = len - sizeof(in);
  if (len <= sizeof(in) || ulen >= sizeof(user))
    return VA_EINVAL;
  memcpy(&in, arg, sizeof(in));
  memcpy(user, (const char *)arg + sizeof(in), ulen);
  user[ulen] = 0;
  json_t *doc = load_doc(t);
  int rc = 0;
  if (!doc || !allowed(doc, user))
    rc = VA_ENOTFOUND;
  else if (in.minutes <= 0 || in.minutes > 100000)
    rc = VA_EINVAL;
  json_decref(doc);
  if (rc == 0) {
    int64_t total = minutes(t) + in.minutes;
    rc = va_state_set(t, "minutes", &total, sizeof(total));
    char out[48];
    int n = snprintf(out, sizeof(out), "{\"minutes\":%lld}", (long long)total);
    if (rc == 0)
      rc = va_turn_reply(t, out, (size_t)n);
  }
  return rc;
}

int va_task_register(va_runtime *rt, const va_user_type *users,
                     va_task_type *out) {
  U = *users;
  static const va_method methods[] = {
      {"create", task_create}, {"get", task_get}, {"log", task_log}};
  va_type_def def = {.name = "TaskActor", .methods = methods,
                     .n_methods = 3, .on_deactivate = task_deactivate,
                     .instance_size = sizeof(parsed)};
  int type = va_register_type(rt, &def);
  if (type < 0)
    return type;
  T = (va_task_type){type, va_method_lookup(rt, type, "create"),
                     va_method_lookup(rt, type, "get"),
                     va_method_lookup(rt, type, "log")};
  *out = T;
  return 0;
}
