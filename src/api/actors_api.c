/* actors_api.c — the operator's view of the actors over HTTP (see
 * actors_api.h): the types, a page of a type's actors, one actor. Answers
 * come from va_actor_list and va_actor_inspect, which activate nothing. A
 * Dapr app's type T lives in the runtime as AppActor ids "T/{id}": listed
 * with the prefix "T/", shown without it. */
#include "actors_api.h"
#include "query.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  TYPE_MAX = 128, /* bytes of a type name, as the Dapr API's */
  ID_MAX = 1024,  /* bytes of an id */
  LIST_DEFAULT = 100,
  /* What one inspection shows at most: keys, bytes of one value, bytes of
   * all values (past them: "truncated": true). */
  STATE_SHOWN_MAX = 1000,
  VALUE_SHOWN_MAX = 64 * 1024,
  VALUES_SHOWN_MAX = 1024 * 1024,
};

static const char *const LIST_QUERY[] = {"limit", "cursor", "prefix", "active",
                                         NULL};
static const char *const INSPECT_QUERY[] = {"values", NULL};

/* ---- Answers ---- */

static void fail(va_http_reply *reply, int status, const char *code,
                 const char *message) {
  va_http_error(va_http_res(reply), status, code, message);
  va_http_done(reply);
}

/* Sends v (consumed) as the 200 answer. */
static void send_json(va_http_reply *reply, json_t *v) {
  char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
  json_decref(v);
  if (!text)
    return fail(reply, 500, "ERR_NO_MEMORY", "out of memory");
  va_http_response *res = va_http_res(reply);
  res->status = 200;
  res->content_type = "application/json";
  if (va_http_write(res, text, strlen(text)))
    va_http_error(res, 500, "ERR_NO_MEMORY", "out of memory");
  free(text);
  va_http_done(reply);
}

/* A failure of va_actor_list or va_actor_inspect, as the Task API tells
 * the same ones. */
static void fail_status(va_http_reply *reply, int status) {
  if (status == VA_ENOTFOUND)
    fail(reply, 404, "ERR_ACTOR_NOT_FOUND",
         "no such actor: neither active nor stored");
  else if (status == VA_EBACKPRESSURE) {
    va_http_error(va_http_res(reply), 429, "ERR_BUSY",
                  "too many listings under way, try again");
    va_http_header(va_http_res(reply), "Retry-After", "1");
    va_http_done(reply);
  } else if (status == VA_ETIMEDOUT)
    fail(reply, 504, "ERR_TIMEOUT", "the store did not answer in time");
  else if (status == VA_ENOMEM)
    fail(reply, 500, "ERR_NO_MEMORY", "out of memory");
  else if (status == VA_ESTORE)
    fail(reply, 503, "ERR_STORE", "the store could not be read");
  else if (status == VA_ESTOPPED)
    fail(reply, 503, "ERR_STOPPING", "the server is stopping");
  else
    fail(reply, 500, "ERR_INTERNAL", va_strerror(status));
}

static void hex_encode(const char *s, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[(unsigned char)s[i] >> 4];
    out[2 * i + 1] = digits[(unsigned char)s[i] & 15];
  }
  out[2 * len] = '\0';
}

/* Sets obj[key] to the bytes as a string, or, when they are not UTF-8,
 * obj[key_hex] to their hex. false when out of memory. */
static bool set_bytes(json_t *obj, const char *key, const char *s, size_t len) {
  json_t *v = json_stringn(s, len); /* NULL unless UTF-8 */
  if (v)
    return json_object_set_new(obj, key, v) == 0;
  char *hex = malloc(2 * len + 1), name[64];
  if (!hex)
    return false;
  hex_encode(s, len, hex);
  snprintf(name, sizeof(name), "%s_hex", key);
  bool ok = json_object_set_new(obj, name, json_string(hex)) == 0;
  free(hex);
  return ok;
}

/* ---- Which type ---- */

/* What a path's type names: a runtime type, or an app's (AppActor ids
 * behind prefix "T/"). */
typedef struct actor_type {
  int type;
  char name[TYPE_MAX + 1];
  char prefix[TYPE_MAX + 2]; /* "T/" for an app's type, else "" */
  size_t prefix_len;
} actor_type;

static bool find_type(const va_actors_api *api, const char *name,
                      actor_type *out) {
  snprintf(out->name, sizeof(out->name), "%s", name);
  out->prefix[0] = '\0';
  out->prefix_len = 0;
  if (api->app && va_app_channel_hosts(api->app, name)) {
    out->type = va_app_channel_type(api->app);
    out->prefix_len =
        (size_t)snprintf(out->prefix, sizeof(out->prefix), "%s/", name);
    return true;
  }
  out->type = va_type_lookup(api->rt, name);
  /* AppActor itself is the app's types, listed under their own names. */
  return out->type >= 0 &&
         !(api->app && out->type == va_app_channel_type(api->app));
}

/* ---- GET /v1/actors ---- */

static void list_types(const va_actors_api *api, va_http_reply *reply) {
  json_t *types = json_array();
  int app_type = api->app ? va_app_channel_type(api->app) : -1;
  for (int t = 0; types && t < va_type_count(api->rt); t++) {
    if (t == app_type)
      continue;
    json_array_append_new(
        types,
        json_pack("{s:s, s:I, s:b}", "type", va_type_name(api->rt, t), "active",
                  (json_int_t)va_runtime_active_of(api->rt, t), "app", 0));
  }
  for (size_t i = 0; types && api->app; i++) {
    const char *name = va_app_channel_type_at(api->app, i);
    if (!name)
      break;
    json_array_append_new(types,
                          json_pack("{s:s, s:b}", "type", name, "app", 1));
  }
  send_json(reply, types ? json_pack("{s:o}", "types", types) : NULL);
}

/* ---- GET /v1/actors/{type} ---- */

typedef struct list_reply {
  va_http_reply *reply;
  size_t prefix_len; /* of the app type's "T/", left out of each id */
} list_reply;

static void listed(void *user, int status, const va_listed_actor *actors,
                   size_t n, bool more) {
  list_reply *lr = user;
  va_http_reply *reply = lr->reply;
  size_t skip = lr->prefix_len;
  free(lr);
  if (status)
    return fail_status(reply, status);
  json_t *list = json_array();
  bool ok = list != NULL;
  for (size_t i = 0; ok && i < n; i++) {
    const va_listed_actor *a = &actors[i];
    json_t *e = json_object();
    ok = e && set_bytes(e, "id", a->id + skip, a->id_len - skip) &&
         !json_object_set_new(e, "active", json_boolean(a->active)) &&
         (!a->node || !json_object_set_new(e, "node", json_string(a->node)));
    ok = !json_array_append_new(list, e) && ok;
  }
  json_t *next = json_null();
  if (ok && more && n) { /* the last id, as hex: the next page's cursor */
    char *cursor = malloc(2 * (actors[n - 1].id_len - skip) + 1);
    if (cursor) {
      hex_encode(actors[n - 1].id + skip, actors[n - 1].id_len - skip, cursor);
      next = json_string(cursor);
      free(cursor);
    }
    ok = cursor && next;
  }
  if (!ok) { /* never a short page that looks like the last one */
    json_decref(list);
    json_decref(next);
    return fail(reply, 500, "ERR_NO_MEMORY", "out of memory");
  }
  send_json(reply, json_pack("{s:o, s:o}", "actors", list, "next", next));
}

static int hex_digit(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                : -1;
}

/* Decodes a cursor (lower-case hex) into out: its length, or -1. */
static long hex_decode(const char *hex, char *out, size_t cap) {
  size_t n = strlen(hex);
  if (n % 2 || n / 2 > cap)
    return -1;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (char)(hi << 4 | lo);
  }
  return (long)(n / 2);
}

static void list_actors(const va_actors_api *api, const actor_type *t,
                        const va_http_request *req, va_http_reply *reply) {
  char why[384];
  if (!va_query_check(req->query, LIST_QUERY, why, sizeof(why)))
    return fail(reply, 400, "ERR_BAD_QUERY", why);
  char text[2 * ID_MAX + 1];
  long limit = LIST_DEFAULT;
  if (va_query_get(req->query, "limit", text, sizeof(text))) {
    char *end;
    limit = strtol(text, &end, 10);
    if (*end || end == text || limit < 1 || limit > VA_LIST_MAX)
      return fail(reply, 400, "ERR_BAD_QUERY",
                  "limit must be a whole number from 1 to 1000");
  }
  unsigned flags = 0;
  if (va_query_get(req->query, "active", text, sizeof(text))) {
    if (strcmp(text, "true") && strcmp(text, "false"))
      return fail(reply, 400, "ERR_BAD_QUERY", "active must be true or false");
    flags = !strcmp(text, "true") ? VA_LIST_ACTIVE_ONLY : 0;
  }
  /* Both the cursor and the prefix come after the app type's "T/". */
  char after[TYPE_MAX + 2 + ID_MAX], prefix[TYPE_MAX + 2 + ID_MAX + 1];
  size_t after_len = 0, prefix_len = t->prefix_len;
  memcpy(prefix, t->prefix, t->prefix_len);
  /* A value too long for its buffer is not there for va_query_get: one
   * that va_query_has sees is refused, never taken for none. */
  if (va_query_get(req->query, "cursor", text, sizeof(text))) {
    memcpy(after, t->prefix, t->prefix_len);
    long n = *text ? hex_decode(text, after + t->prefix_len, ID_MAX) : 0;
    if (n < 0)
      return fail(reply, 400, "ERR_BAD_QUERY",
                  "cursor is not one this server gave");
    after_len = n ? t->prefix_len + (size_t)n : 0;
  } else if (va_query_has(req->query, "cursor")) {
    return fail(reply, 400, "ERR_BAD_QUERY",
                "cursor is not one this server gave");
  }
  bool has_prefix = va_query_get(req->query, "prefix", prefix + t->prefix_len,
                                 sizeof(prefix) - t->prefix_len);
  if (has_prefix)
    prefix_len += strlen(prefix + t->prefix_len);
  if (prefix_len - t->prefix_len > ID_MAX ||
      (!has_prefix && va_query_has(req->query, "prefix")))
    return fail(reply, 400, "ERR_BAD_QUERY",
                "prefix is longer than an id (1024 bytes)");
  list_reply *lr = malloc(sizeof(*lr));
  if (!lr)
    return fail(reply, 500, "ERR_NO_MEMORY", "out of memory");
  *lr = (list_reply){reply, t->prefix_len};
  int rc = va_actor_list(api->rt, t->type, after, after_len, prefix, prefix_len,
                         (size_t)limit, flags, listed, lr);
  if (rc) {
    free(lr);
    fail_status(reply, rc);
  }
}

/* ---- GET /v1/actors/{type}/{id} ---- */

typedef struct inspect_reply {
  va_http_reply *reply;
  bool values;
  char type[TYPE_MAX + 1];
  char id[ID_MAX + 1];
} inspect_reply;

static json_t *time_json(int64_t ms) {
  char text[VA_TIME_TEXT_MAX];
  return va_format_time(ms, text, sizeof(text)) == 0 ? json_string(text)
                                                     : json_null();
}

/* How many bytes of a value to show: all up to VALUE_SHOWN_MAX and what
 * is left of the answer's budget, cut back to a UTF-8 character's start. */
static size_t shown_bytes(const char *val, size_t len, size_t budget) {
  size_t n = len < VALUE_SHOWN_MAX ? len : VALUE_SHOWN_MAX;
  if (n > budget)
    n = budget;
  if (n < len)
    while (n && ((unsigned char)val[n] & 0xc0) == 0x80)
      n--;
  return n;
}

/* The state keys (at most STATE_SHOWN_MAX), with values when asked (at
 * most VALUES_SHOWN_MAX bytes in all); NULL when out of memory. */
static json_t *state_json(const va_actor_info *info, bool values,
                          bool *truncated) {
  json_t *list = json_array();
  size_t budget = VALUES_SHOWN_MAX;
  bool ok = list != NULL;
  *truncated = info->n_state > STATE_SHOWN_MAX;
  for (size_t i = 0; ok && i < info->n_state && i < STATE_SHOWN_MAX; i++) {
    const va_state_entry *s = &info->state[i];
    json_t *e = json_object();
    ok = e && set_bytes(e, "key", s->key, strlen(s->key)) &&
         !json_object_set_new(e, "bytes", json_integer((json_int_t)s->len)) &&
         (!s->expires_ms ||
          !json_object_set_new(e, "expires", time_json(s->expires_ms)));
    if (ok && values) {
      const char *val = s->val ? s->val : "";
      size_t n = shown_bytes(val, s->len, budget);
      budget -= n;
      ok = set_bytes(e, "value", val, n) &&
           (n == s->len || !json_object_set_new(e, "truncated", json_true()));
    }
    ok = !json_array_append_new(list, e) && ok;
  }
  if (!ok) {
    json_decref(list);
    return NULL;
  }
  return list;
}

/* A period as ISO 8601 (P1Y2M3DT4H5M6.5S), or null for none. */
static json_t *period_json(const va_duration *p) {
  if (!p->years && !p->months && !p->days && !p->ns)
    return json_null();
  char text[128];
  size_t n = (size_t)snprintf(text, sizeof(text), "P");
  if (p->years)
    n += (size_t)snprintf(text + n, sizeof(text) - n, "%dY", p->years);
  if (p->months)
    n += (size_t)snprintf(text + n, sizeof(text) - n, "%dM", p->months);
  if (p->days)
    n += (size_t)snprintf(text + n, sizeof(text) - n, "%dD", p->days);
  int64_t ms = p->ns / 1000000;
  if (ms) {
    n += (size_t)snprintf(text + n, sizeof(text) - n, "T");
    if (ms >= 3600000)
      n += (size_t)snprintf(text + n, sizeof(text) - n, "%lldH",
                            (long long)(ms / 3600000));
    if (ms % 3600000 >= 60000)
      n += (size_t)snprintf(text + n, sizeof(text) - n, "%lldM",
                            (long long)(ms % 3600000 / 60000));
    if (ms % 60000)
      snprintf(text + n, sizeof(text) - n, "%lld.%03lldS",
               (long long)(ms % 60000 / 1000), (long long)(ms % 1000));
  }
  return json_string(text);
}

static json_t *reminders_json(const va_actor_info *info) {
  json_t *list = json_array();
  for (size_t i = 0; list && i < info->n_reminders; i++) {
    const va_reminder_entry *r = &info->reminders[i];
    json_t *e = json_pack(
        "{s:o, s:o, s:I, s:I}", "due", time_json(r->spec.due_ms), "period",
        period_json(&r->spec.period), "left", (json_int_t)r->spec.left,
        "data_bytes", (json_int_t)r->spec.len);
    if (e) {
      set_bytes(e, "name", r->name, strlen(r->name));
      if (r->spec.expires_ms)
        json_object_set_new(e, "expires", time_json(r->spec.expires_ms));
    }
    json_array_append_new(list, e);
  }
  return list;
}

static json_t *timers_json(const va_actor_info *info) {
  json_t *list = json_array();
  for (size_t i = 0; list && i < info->n_timers; i++) {
    const va_timer_entry *t = &info->timers[i];
    json_t *e = json_pack("{s:o, s:I}", "due", time_json(t->due_ms),
                          "period_ms", (json_int_t)t->period_ms);
    if (e)
      set_bytes(e, "name", t->name, strlen(t->name));
    json_array_append_new(list, e);
  }
  return list;
}

static void inspected(void *user, int status, const va_actor_info *info) {
  inspect_reply *ir = user;
  va_http_reply *reply = ir->reply;
  if (status) {
    free(ir);
    return fail_status(reply, status);
  }
  bool truncated;
  json_t *out =
      json_pack("{s:s, s:b, s:I, s:o, s:o, s:o}", "type", ir->type, "active",
                info->active, "version", (json_int_t)info->version, "state",
                state_json(info, ir->values, &truncated), "reminders",
                reminders_json(info), "timers", timers_json(info));
  if (out && !set_bytes(out, "id", ir->id, strlen(ir->id))) {
    json_decref(out);
    out = NULL;
  }
  if (out && truncated)
    json_object_set_new(out, "state_truncated", json_true());
  if (out && info->node)
    json_object_set_new(out, "node", json_string(info->node));
  if (out && info->here) {
    json_object_set_new(out, "worker", json_integer(info->worker));
    json_object_set_new(out, "idle_ms",
                        json_integer((json_int_t)info->idle_ms));
    json_object_set_new(out, "mailbox", json_integer(info->mailbox));
    json_object_set_new(out, "turns", json_integer((json_int_t)info->turns));
  }
  free(ir);
  send_json(reply, out);
}

static void inspect_actor(const va_actors_api *api, const actor_type *t,
                          const char *id, const va_http_request *req,
                          va_http_reply *reply) {
  char why[384], values[8] = "";
  if (!va_query_check(req->query, INSPECT_QUERY, why, sizeof(why)))
    return fail(reply, 400, "ERR_BAD_QUERY", why);
  if (va_query_get(req->query, "values", values, sizeof(values)) &&
      strcmp(values, "true") && strcmp(values, "false"))
    return fail(reply, 400, "ERR_BAD_QUERY", "values must be true or false");
  inspect_reply *ir = malloc(sizeof(*ir));
  if (!ir)
    return fail(reply, 500, "ERR_NO_MEMORY", "out of memory");
  ir->reply = reply;
  ir->values = !strcmp(values, "true");
  snprintf(ir->type, sizeof(ir->type), "%s", t->name);
  snprintf(ir->id, sizeof(ir->id), "%s", id);
  char key[TYPE_MAX + 2 + ID_MAX + 1];
  int n = snprintf(key, sizeof(key), "%s%s", t->prefix, id);
  int rc = va_actor_inspect(api->rt, t->type, key, (size_t)n, inspected, ir);
  if (rc) {
    free(ir);
    fail_status(reply, rc);
  }
}

/* ---- Routing ---- */

bool va_actors_api_route(const va_actors_api *api, const va_http_request *req,
                         va_http_reply *reply) {
  static const char ROOT[] = "/v1/actors";
  if (strncmp(req->path, ROOT, sizeof(ROOT) - 1) ||
      (req->path[sizeof(ROOT) - 1] && req->path[sizeof(ROOT) - 1] != '/'))
    return false;
  const char *rest = req->path + sizeof(ROOT) - 1;
  rest += *rest == '/';
  const char *slash = strchr(rest, '/');
  va_http_label(reply, !*rest  ? "actors.types"
                       : slash ? "actors.get"
                               : "actors.list");
  char name[TYPE_MAX + 1], id[ID_MAX + 1];
  size_t type_len = slash ? (size_t)(slash - rest) : strlen(rest);
  long n = va_percent_decode(rest, type_len, false, name, sizeof(name));
  long m = slash ? va_percent_decode(slash + 1, strlen(slash + 1), false, id,
                                     sizeof(id))
                 : 1;
  actor_type t;
  if (strcmp(req->method, "GET"))
    fail(reply, 405, "ERR_METHOD_NOT_ALLOWED", "use GET");
  else if (!*rest)
    list_types(api, reply);
  else if (n <= 0 || (long)strlen(name) != n || m <= 0 ||
           (slash && (long)strlen(id) != m))
    fail(reply, 400, "ERR_BAD_REQUEST",
         "the actor type or id is empty, too long or badly encoded");
  else if (!find_type(api, name, &t))
    fail(reply, 404, "ERR_ACTOR_TYPE_NOT_FOUND", "no such actor type");
  else if (slash)
    inspect_actor(api, &t, id, req, reply);
  else
    list_actors(api, &t, req, reply);
  return true;
}
