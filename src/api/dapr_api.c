/* dapr_api.c — see dapr_api.h. Paths are /v1.0/actors/{type}/{id}/...;
 * the id is percent-decoded once (the SDKs encode it); the type must be a
 * registered one. A method call takes the body as it comes, except that a
 * JSON array of one element (how the SDKs' proxies pass one argument) is
 * unwrapped and an empty array is no body. Errors follow the reference
 * (../shared/reference/dapr-actors.md §1.9); where vactord differs,
 * docs/dapr.md says so. */
#include "dapr_api.h"
#include "../apps/task_doc.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ID_MAX = 1024, NAME_MAX_BYTES = 255, KEY_MAX = 1024 };

/* ---- Errors ---- */

/* A Dapr error: {"errorCode", "message"} with the message JSON-escaped. */
static void fail(va_http_reply *reply, int status, const char *code,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(va_http_reply *reply, int status, const char *code,
                 const char *fmt, ...) {
  char message[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof(message), fmt, ap);
  va_end(ap);
  va_http_response *res = va_http_res(reply);
  json_t *e = json_pack("{s:s, s:s}", "errorCode", code, "message", message);
  char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
  json_decref(e);
  res->status = status;
  res->content_type = "application/json";
  res->len = 0;
  if (s)
    va_http_write(res, s, strlen(s));
  free(s);
  if (status == 429 || status == 503)
    va_http_header(res, "Retry-After", "1");
  va_http_done(reply);
}

static void ok(va_http_reply *reply, int status, const void *body,
               size_t len) {
  va_http_response *res = va_http_res(reply);
  res->status = status;
  res->content_type = "application/json";
  if (len)
    va_http_write(res, body, len);
  va_http_done(reply);
}

/* ---- Paths ---- */

static int hex(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

/* Decodes one path segment [s, s + n) into out; false for a bad escape, a
 * control byte (NUL included), '\', '#', '?', or "." / "..". An encoded
 * '/' is kept: the SDKs encode an id "user/42" as user%2F42. */
static bool segment(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
      if (n - i < 3 || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
        return false;
      c = (unsigned char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    }
    if (c < 0x20 || c == 0x7f || c == '\\' || c == '#' ||
        c == '?' || o + 1 >= cap)
      return false;
    out[o++] = (char)c;
  }
  out[o] = 0;
  return o > 0 && strcmp(out, ".") && strcmp(out, "..");
}

typedef struct target {
  int type;         /* the vactor type: native, or AppActor */
  bool app;         /* a type the app hosts */
  char type_name[128];
  char id[ID_MAX + 1];
  char key[128 + ID_MAX + 2]; /* the vactor id: id, or "{type}/{id}" */
  const char *what; /* "method", "state", "reminders", "timers" */
  const char *rest; /* after what/ (may hold '/'), or NULL */
} target;

/* Splits /v1.0/actors/{type}/{id}/{what}[/{rest}]. 0, or an HTTP status
 * (400 bad names, 404 no such route / type). */
static int parse_target(va_runtime *rt, va_app_channel *app,
                        const char *path, target *t) {
  const char *p = path + strlen("/v1.0/actors/");
  const char *slash = strchr(p, '/');
  if (!slash || !segment(p, (size_t)(slash - p), t->type_name,
                         sizeof(t->type_name)) ||
      strchr(t->type_name, '/'))
    return slash ? 400 : 404;
  p = slash + 1;
  slash = strchr(p, '/');
  if (!slash || !segment(p, (size_t)(slash - p), t->id, sizeof(t->id)))
    return slash ? 400 : 404;
  p = slash + 1;
  static const char *const WHATS[] = {"method", "state", "reminders",
                                      "timers", NULL};
  for (const char *const *w = WHATS; *w; w++) {
    size_t n = strlen(*w);
    if (!strncmp(p, *w, n) && (p[n] == 0 || p[n] == '/')) {
      t->what = *w;
      t->rest = p[n] == '/' ? p + n + 1 : NULL;
      t->type = va_type_lookup(rt, t->type_name);
      t->app = t->type < 0 && va_app_channel_hosts(app, t->type_name);
      if (t->app)
        t->type = va_app_channel_type(app);
      snprintf(t->key, sizeof(t->key), "%s%s%s", t->app ? t->type_name : "",
               t->app ? "/" : "", t->id);
      return 0;
    }
  }
  return 404;
}

/* ---- Invoke ---- */

/* The body a native method gets: see the top of the file. *owned is set
 * when the result was allocated. */
static const char *method_body(const va_http_request *req, size_t *len,
                               char **owned) {
  *owned = NULL;
  *len = req->body_len;
  if (req->body_len == 0 || req->body[0] != '[')
    return req->body;
  json_t *args = json_loadb(req->body, req->body_len, 0, NULL);
  if (json_is_array(args) && json_array_size(args) <= 1) {
    json_t *one = json_array_get(args, 0);
    *owned = one ? json_dumps(one, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    *len = *owned ? strlen(*owned) : 0;
    json_decref(args);
    return *owned ? *owned : "";
  }
  json_decref(args);
  return req->body;
}

static void invoked(void *user, int status, const void *data, size_t len) {
  va_http_reply *reply = user;
  if (status == 0)
    ok(reply, 200, data, len);
  else if (status == VA_ETOOBIG)
    fail(reply, 500, "ERR_ACTOR_STACK_DEPTH", "maximum stack depth exceeded");
  else if (status == VA_EBACKPRESSURE)
    fail(reply, 429, "ERR_ACTOR_BUSY", "error invoke actor method: %s",
         va_strerror(status));
  else
    fail(reply, 500, "ERR_ACTOR_INVOKE_METHOD",
         "error invoke actor method: %s", va_strerror(status));
}

/* The app's answer, through AppActor: its 200 goes back as it came
 * (status, content type, body); anything else is Dapr's 500. */
static void app_invoked(void *user, int status, const void *data,
                        size_t len) {
  va_http_reply *reply = user;
  va_app_answer a;
  if (status)
    return invoked(reply, status, NULL, 0);
  if (!va_app_answer_read(data, len, &a))
    return invoked(reply, VA_EFAILED, NULL, 0);
  if (a.status != 200)
    return fail(reply, 500, "ERR_ACTOR_INVOKE_METHOD",
                "error invoke actor method: error from actor service: (%d) "
                "%.*s",
                a.status, (int)(a.body_len < 300 ? a.body_len : 300), a.body);
  va_http_response *res = va_http_res(reply);
  res->status = 200;
  if (va_http_content_type(res, a.content_type) != 0)
    res->content_type = "application/json";
  va_http_write(res, a.body, a.body_len);
  va_http_done(reply);
}

static void invoke_app(va_runtime *rt, va_app_channel *app, const target *t,
                       const char *method, const va_http_request *req,
                       va_http_reply *reply) {
  size_t len;
  char *body = va_app_invoke_body(method, req->content_type, req->body,
                                  req->body_len, &len);
  uint64_t chain = va_app_channel_chain(app, req->reentrancy_id);
  int rc = body ? va_call_in_chain(rt, t->type, t->key, strlen(t->key),
                                   VA_APP_INVOKE, body, len, chain,
                                   app_invoked, reply)
                : VA_ENOMEM;
  free(body);
  if (rc)
    invoked(reply, rc, NULL, 0);
}

static void invoke(va_runtime *rt, va_app_channel *app, const target *t,
                   const va_http_request *req, va_http_reply *reply) {
  char method[NAME_MAX_BYTES + 1];
  if (!t->rest || !segment(t->rest, strlen(t->rest), method, sizeof(method)))
    return fail(reply, 400, "ERR_BAD_REQUEST", "invalid request: method");
  if (t->app)
    return invoke_app(rt, app, t, method, req, reply);
  int m = va_method_lookup(rt, t->type, method);
  if (m < 0)
    return fail(reply, 500, "ERR_ACTOR_INVOKE_METHOD",
                "error invoke actor method: no method %s on %s", method,
                t->type_name);
  size_t len;
  char *owned;
  const char *body = method_body(req, &len, &owned);
  int rc = va_call(rt, t->type, t->key, strlen(t->key), m, body, len, invoked,
                   reply);
  free(owned);
  if (rc)
    invoked(reply, rc, NULL, 0);
}

/* ---- State ---- */

static void state_read(void *user, int status, const void *data,
                       size_t len) {
  va_http_reply *reply = user;
  if (status == 0)
    ok(reply, 200, data, len);
  else if (status == VA_ENOTFOUND)
    ok(reply, 204, NULL, 0);
  else
    fail(reply, 500, "ERR_ACTOR_STATE_GET", "error getting actor state: %s",
         va_strerror(status));
}

static void state_saved(void *user, int status, const void *data,
                        size_t len) {
  (void)data, (void)len;
  va_http_reply *reply = user;
  if (status == 0)
    ok(reply, 204, NULL, 0);
  else if (status == VA_EINVAL)
    fail(reply, 400, "ERR_MALFORMED_REQUEST",
         "failed deserializing HTTP body: a key is not allowed");
  else
    fail(reply, 500, "ERR_ACTOR_STATE_TRANSACTION_SAVE",
         "error saving actor state: %s", va_strerror(status));
}

/* One operation of a transaction into the batch; why not, or NULL. */
static const char *add_op(va_state_batch *b, json_t *op) {
  const char *kind = json_string_value(json_object_get(op, "operation"));
  json_t *req = json_object_get(op, "request");
  const char *key = json_string_value(json_object_get(req, "key"));
  if (!kind || !key || !*key || strlen(key) > KEY_MAX)
    return "every operation needs an operation and a request.key";
  if (!strcmp(kind, "delete"))
    return va_state_batch_delete(b, key) ? "out of memory" : NULL;
  if (strcmp(kind, "upsert"))
    return "operation must be upsert or delete";
  const char *ttl = json_string_value(
      json_object_get(json_object_get(req, "metadata"), "ttlInSeconds"));
  long long seconds = 0;
  if (ttl) {
    char *end;
    seconds = strtoll(ttl, &end, 10);
    if (*end || end == ttl || seconds < 0 || seconds > UINT32_MAX)
      return "metadata.ttlInSeconds must be a whole number of seconds";
  }
  json_t *value = json_object_get(req, "value");
  char *s = json_dumps(value ? value : json_null(),
                       JSON_COMPACT | JSON_ENCODE_ANY);
  int rc = s ? va_state_batch_put(b, key, s, strlen(s), (uint32_t)seconds)
             : VA_ENOMEM;
  free(s);
  return rc ? "out of memory" : NULL;
}

static void state(va_runtime *rt, const target *t,
                  const va_http_request *req, va_http_reply *reply) {
  bool get = !strcmp(req->method, "GET");
  if (t->rest && get) {
    char key[KEY_MAX + 1];
    if (!segment(t->rest, strlen(t->rest), key, sizeof(key)))
      return fail(reply, 400, "ERR_BAD_REQUEST", "invalid request: key");
    int rc = va_state_read(rt, t->type, t->key, strlen(t->key), key,
                           state_read, reply);
    if (rc)
      state_read(reply, rc, NULL, 0);
    return;
  }
  if (t->rest || (strcmp(req->method, "POST") && strcmp(req->method, "PUT")))
    return fail(reply, 405, "ERR_METHOD_NOT_ALLOWED",
                "GET a key, POST or PUT a transaction");
  json_t *ops = json_loadb(req->body, req->body_len, 0, NULL);
  if (!json_is_array(ops)) {
    json_decref(ops);
    return fail(reply, 400, "ERR_MALFORMED_REQUEST",
                "failed deserializing HTTP body: expected a JSON array");
  }
  va_state_batch batch = {0};
  const char *why = NULL;
  size_t i;
  json_t *op;
  json_array_foreach(ops, i, op) {
    if (!why)
      why = add_op(&batch, op);
  }
  json_decref(ops);
  int rc = why ? 0
               : va_state_write(rt, t->type, t->key, strlen(t->key), &batch,
                                state_saved, reply);
  va_state_batch_free(&batch);
  if (why)
    fail(reply, 400, "ERR_MALFORMED_REQUEST",
         "failed deserializing HTTP body: %s", why);
  else if (rc)
    state_saved(reply, rc, NULL, 0);
}

/* ---- Reminders ---- */

/* A string field of body; "" when absent or null; NULL when of another
 * type. */
static const char *text_field(json_t *body, const char *key) {
  json_t *v = json_object_get(body, key);
  return !v || json_is_null(v) ? "" : json_string_value(v);
}

/* Reads a reminder request into spec; its data (new, *data) keeps what the
 * caller gave, for GET. NULL when fine, else why not. */
static const char *reminder_spec(json_t *body, va_reminder *spec,
                                 char **data) {
  const char *due = text_field(body, "dueTime");
  const char *period = text_field(body, "period");
  const char *ttl = text_field(body, "ttl");
  if (!due || !period || !ttl)
    return "dueTime, period and ttl must be strings";
  int64_t now = va_wall_ms();
  *spec = (va_reminder){.left = 1};
  if (va_parse_due(due, strlen(due), now, &spec->due_ms))
    return "error parsing reminder due time: unsupported time/duration "
           "format";
  if (*period &&
      va_parse_period(period, strlen(period), &spec->period, &spec->left))
    return "invalid reminder period: parse error";
  if (*ttl) {
    /* A relative ttl counts from the first due instant. */
    if (va_parse_due(ttl, strlen(ttl), spec->due_ms, &spec->expires_ms))
      return "error parsing reminder TTL: unsupported time/duration format";
    if (spec->expires_ms <= spec->due_ms || spec->expires_ms <= now)
      return "reminder has already expired";
  }
  json_t *kept = json_pack("{s:s, s:s}", "dueTime", due, "period", period);
  if (kept && spec->expires_ms)
    json_object_set_new(kept, "ttl", va_json_time(spec->expires_ms));
  json_t *d = json_object_get(body, "data");
  if (kept && d)
    json_object_set(kept, "data", d);
  *data = kept ? json_dumps(kept, JSON_COMPACT) : NULL;
  json_decref(kept);
  if (!*data)
    return "out of memory";
  spec->data = *data;
  spec->len = strlen(*data);
  return NULL;
}

typedef struct reminder_reply {
  va_http_reply *reply;
  const char *op; /* "CREATE", "GET", "DELETE" */
  char type[128], id[ID_MAX + 1];
} reminder_reply;

static void reminder_done(void *user, int status, const void *data,
                          size_t len) {
  reminder_reply *rr = user;
  va_http_reply *reply = rr->reply;
  va_reminder rem;
  json_t *kept = NULL;
  if (status == 0 && !strcmp(rr->op, "GET") &&
      va_reminder_decode(data, len, &rem) == 0)
    kept = json_loadb(rem.data, rem.len, 0, NULL);
  if (status == VA_ENOTFOUND && !strcmp(rr->op, "DELETE"))
    status = 0; /* Dapr: deleting what is not there is fine */
  if (status == VA_ENOTFOUND)
    fail(reply, 404, "ERR_ACTOR_REMINDER_NOT_FOUND",
         "reminder not found");
  else if (status)
    fail(reply, 500,
         !strcmp(rr->op, "GET")      ? "ERR_ACTOR_REMINDER_GET"
         : !strcmp(rr->op, "DELETE") ? "ERR_ACTOR_REMINDER_DELETE"
                                     : "ERR_ACTOR_REMINDER_CREATE",
         "error with actor reminder: %s", va_strerror(status));
  else if (strcmp(rr->op, "GET"))
    ok(reply, 204, NULL, 0);
  else {
    json_t *out = json_pack("{s:s, s:s}", "actorID", rr->id, "actorType",
                            rr->type);
    if (out && kept)
      json_object_update(out, kept);
    char *s = out ? json_dumps(out, JSON_COMPACT) : NULL;
    if (s)
      ok(reply, 200, s, strlen(s));
    else
      fail(reply, 500, "ERR_ACTOR_REMINDER_GET", "out of memory");
    free(s);
    json_decref(out);
  }
  json_decref(kept);
  free(rr);
}

static void reminders(va_runtime *rt, const target *t,
                      const va_http_request *req, va_http_reply *reply) {
  char name[NAME_MAX_BYTES + 1];
  if (!t->rest || !segment(t->rest, strlen(t->rest), name, sizeof(name)))
    return fail(reply, 400, "ERR_BAD_REQUEST", "invalid request: name");
  bool create = !strcmp(req->method, "POST") || !strcmp(req->method, "PUT");
  bool get = !strcmp(req->method, "GET");
  if (!create && !get && strcmp(req->method, "DELETE"))
    return fail(reply, 405, "ERR_METHOD_NOT_ALLOWED",
                "POST, PUT, GET or DELETE a reminder");
  va_reminder spec;
  char *data = NULL;
  if (create) {
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0,
                                              NULL)
                                 : json_object();
    if (!json_is_object(body)) {
      json_decref(body);
      return fail(reply, 400, "ERR_MALFORMED_REQUEST",
                  "failed deserializing HTTP body: expected a JSON object");
    }
    const char *why = reminder_spec(body, &spec, &data);
    json_decref(body);
    if (why) {
      free(data);
      return fail(reply, 500, "ERR_ACTOR_REMINDER_CREATE",
                  "error creating actor reminder: %s", why);
    }
  }
  reminder_reply *rr = malloc(sizeof(*rr));
  if (!rr) {
    free(data);
    return fail(reply, 503, "ERR_NO_MEMORY", "out of memory");
  }
  rr->reply = reply;
  rr->op = create ? "CREATE" : get ? "GET" : "DELETE";
  snprintf(rr->type, sizeof(rr->type), "%s", t->type_name);
  snprintf(rr->id, sizeof(rr->id), "%s", t->id);
  int rc = va_reminder_call(rt, t->type, t->key, strlen(t->key), name,
                            create ? &spec : NULL,
                            create ? VA_REMINDER_SET
                            : get  ? VA_REMINDER_GET
                                   : VA_REMINDER_DELETE,
                            reminder_done, rr);
  free(data);
  if (rc)
    reminder_done(rr, rc, NULL, 0);
}

/* ---- Timers ---- */

static void timer_done(void *user, int status, const void *data,
                       size_t len) {
  (void)data, (void)len;
  va_http_reply *reply = user;
  if (status == 0 || status == VA_ENOTFOUND) /* deleting nothing is fine */
    ok(reply, 204, NULL, 0);
  else
    fail(reply, 500, "ERR_ACTOR_TIMER_CREATE",
         "error creating actor timer: %s", va_strerror(status));
}

/* A timer request's times in ms; NULL when fine, else why not. */
static const char *timer_times(json_t *body, uint64_t *due_ms,
                               uint64_t *period_ms) {
  const char *due = text_field(body, "dueTime");
  const char *period = text_field(body, "period");
  const char *ttl = text_field(body, "ttl");
  int64_t now = va_wall_ms(), at;
  if (!due || !period || va_parse_due(due, strlen(due), now, &at))
    return "unsupported due time";
  *due_ms = at > now ? (uint64_t)(at - now) : 0;
  *period_ms = 0;
  if (*period) {
    va_duration d;
    int64_t reps;
    if (va_parse_period(period, strlen(period), &d, &reps) || reps != -1 ||
        d.years || d.months)
      return "unsupported period (timers take durations up to days, "
             "without repetitions)";
    *period_ms = (uint64_t)d.days * 86400000u + (uint64_t)(d.ns / 1000000);
  }
  if (!ttl || *ttl)
    return "timers do not take a ttl here";
  return NULL;
}

static void timers(va_runtime *rt, const target *t,
                   const va_http_request *req, va_http_reply *reply) {
  char name[NAME_MAX_BYTES + 1];
  if (!t->rest || !segment(t->rest, strlen(t->rest), name, sizeof(name)))
    return fail(reply, 400, "ERR_BAD_REQUEST", "invalid request: name");
  int rc;
  if (!strcmp(req->method, "DELETE")) {
    rc = va_timer_call(rt, t->type, t->key, strlen(t->key), name, 0, 0, -1,
                       NULL, 0, timer_done, reply);
  } else if (!strcmp(req->method, "POST") || !strcmp(req->method, "PUT")) {
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    if (!json_is_object(body)) {
      json_decref(body);
      return fail(reply, 400, "ERR_MALFORMED_REQUEST",
                  "failed deserializing HTTP body: expected a JSON object");
    }
    uint64_t due = 0, period = 0;
    const char *why = timer_times(body, &due, &period);
    const char *callback = json_string_value(json_object_get(body,
                                                             "callback"));
    int method = !callback ? -1
                 : t->app  ? VA_APP_TIMER
                           : va_method_lookup(rt, t->type, callback);
    json_t *d = json_object_get(body, "data");
    char *data;
    if (t->app) { /* AppActor's timer method calls the app back */
      json_object_set_new(body, "name", json_string(name));
      data = json_dumps(body, JSON_COMPACT);
    } else {
      data = d ? json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    }
    json_decref(body);
    if (!why && method < 0)
      why = "callback must name a method of the actor's type";
    if (why) {
      free(data);
      return fail(reply, 500, "ERR_ACTOR_TIMER_CREATE",
                  "error creating actor timer: %s", why);
    }
    rc = va_timer_call(rt, t->type, t->key, strlen(t->key), name, due, period,
                       method, data, data ? strlen(data) : 0, timer_done,
                       reply);
    free(data);
  } else {
    return fail(reply, 405, "ERR_METHOD_NOT_ALLOWED",
                "POST, PUT or DELETE a timer");
  }
  if (rc)
    timer_done(reply, rc, NULL, 0);
}

/* ---- Metadata ---- */

static void metadata(va_runtime *rt, va_http_reply *reply) {
  json_t *active = json_array();
  for (int type = 0; type < va_type_count(rt); type++)
    json_array_append_new(
        active, json_pack("{s:s, s:I}", "type", va_type_name(rt, type),
                          "count", (json_int_t)va_runtime_active_of(rt, type)));
  json_t *out = json_pack(
      "{s:s, s:s, s:O, s:{s:s, s:O, s:b, s:s}, s:[], s:{}}", "id", "vactord",
      "runtimeVersion", "vactord", "actors", active, "actorRuntime",
      "runtimeStatus", "RUNNING", "activeActors", active, "hostReady", 1,
      "placement", "placement: connected", "enabledFeatures", "extended");
  json_decref(active);
  char *s = out ? json_dumps(out, JSON_COMPACT) : NULL;
  json_decref(out);
  if (s)
    ok(reply, 200, s, strlen(s));
  else
    fail(reply, 500, "ERROR", "out of memory");
  free(s);
}

/* ---- Routing ---- */

bool va_dapr_api_route(va_runtime *rt, va_app_channel *app,
                       const va_http_request *req, va_http_reply *reply) {
  bool get = !strcmp(req->method, "GET");
  if (!strcmp(req->path, "/v1.0/metadata")) {
    va_http_label(reply, "dapr.metadata");
    if (get)
      metadata(rt, reply);
    else
      fail(reply, 405, "ERR_METHOD_NOT_ALLOWED", "GET the metadata");
    return true;
  }
  if (!strcmp(req->path, "/v1.0/healthz/outbound")) {
    va_http_label(reply, "dapr.healthz.outbound");
    if (get)
      ok(reply, 204, NULL, 0);
    else
      fail(reply, 405, "ERR_METHOD_NOT_ALLOWED", "use GET");
    return true;
  }
  if (strncmp(req->path, "/v1.0/actors/", 13))
    return false;
  target t;
  int status = parse_target(rt, app, req->path, &t);
  if (status == 400) {
    fail(reply, 400, "ERR_BAD_REQUEST", "invalid request: actor type or id");
    return true;
  }
  if (status == 404) {
    fail(reply, 404, "ERR_NOT_FOUND", "no such route");
    return true;
  }
  static const char *const LABELS[] = {"dapr.invoke", "dapr.state",
                                       "dapr.reminders", "dapr.timers"};
  int which = !strcmp(t.what, "method")  ? 0
              : !strcmp(t.what, "state") ? 1
              : !strcmp(t.what, "reminders") ? 2
                                             : 3;
  va_http_label(reply, LABELS[which]);
  if (t.type < 0) {
    fail(reply, 404, "ERR_ACTOR_NO_ADDRESS",
         "did not find address for actor '%s/%s'", t.type_name, t.id);
    return true;
  }
  if (which == 0) {
    if (strcmp(req->method, "GET") && strcmp(req->method, "POST") &&
        strcmp(req->method, "PUT") && strcmp(req->method, "DELETE"))
      fail(reply, 405, "ERR_METHOD_NOT_ALLOWED",
           "GET, POST, PUT or DELETE a method");
    else
      invoke(rt, app, &t, req, reply);
  } else if (which == 1) {
    state(rt, &t, req, reply);
  } else if (which == 2) {
    reminders(rt, &t, req, reply);
  } else {
    timers(rt, &t, req, reply);
  }
  return true;
}
