/* dapr_api.c — see dapr_api.h. Paths are /v1.0/actors/{type}/{id}/...;
 * the id is percent-decoded once (the SDKs encode it); the type must be a
 * registered one. A method call takes the body as it comes, except that a
 * JSON array of one element (how the SDKs' proxies pass one argument) is
 * unwrapped and an empty array is no body. Errors follow the reference
 * (../shared/reference/dapr-actors.md §1.9); where vactord differs,
 * docs/dapr.md says so. */
#include "dapr_api.h"
#include "dapr_common.h"
#include "reply_node.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Paths ---- */

/* Splits /v1.0/actors/{type}/{id}/{what}[/{rest}]. 0, or an HTTP status
 * (400 bad names, 404 no such route / type). */
static int parse_target(va_runtime *rt, va_app_channel *app,
                        va_cluster *cluster, const char *path, target *t) {
  const char *p = path + strlen("/v1.0/actors/");
  const char *slash = strchr(p, '/');
  if (!slash ||
      !va__dapr_segment(p, (size_t)(slash - p), t->type_name,
                        sizeof(t->type_name)) ||
      strchr(t->type_name, '/'))
    return slash ? 400 : 404;
  p = slash + 1;
  slash = strchr(p, '/');
  if (!slash || !va__dapr_segment(p, (size_t)(slash - p), t->id, sizeof(t->id)))
    return slash ? 400 : 404;
  p = slash + 1;
  static const char *const WHATS[] = {"method", "state", "reminders", "timers",
                                      NULL};
  for (const char *const *w = WHATS; *w; w++) {
    size_t n = strlen(*w);
    if (!strncmp(p, *w, n) && (p[n] == 0 || p[n] == '/')) {
      t->what = *w;
      t->rest = p[n] == '/' ? p + n + 1 : NULL;
      t->type = va_type_lookup(rt, t->type_name);
      if (app && t->type == va_app_channel_type(app))
        t->type = -1; /* AppActor is vactord's own, not a Dapr type */
      /* An app's type: this node's app hosts it, or another member's
       * (the call goes there). */
      t->app =
          t->type < 0 && app &&
          (va_app_channel_hosts(app, t->type_name) ||
           va_cluster_hosts_app(cluster, t->type_name, strlen(t->type_name)));
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
    va__dapr_ok(reply, 200, data, len);
  else if (status == VA_EDEPTH)
    va__dapr_fail(reply, 500, "ERR_ACTOR_STACK_DEPTH",
                  "maximum stack depth exceeded");
  else if (status == VA_ETOOBIG)
    va__dapr_fail(reply, 400, "ERR_ACTOR_INVOKE_METHOD",
                  "error invoke actor method: an id or a body is too large");
  else if (status == VA_EBACKPRESSURE)
    va__dapr_fail(reply, 429, "ERR_ACTOR_BUSY", "error invoke actor method: %s",
                  va_strerror(status));
  else
    va__dapr_fail(reply, 500, "ERR_ACTOR_INVOKE_METHOD",
                  "error invoke actor method: %s", va_strerror(status));
}

/* Copies the app's response headers onto res, but for those of the hop
 * and those the server writes itself (va_http_header refuses them). */
static void copy_headers(va_http_response *res, const char *block, size_t len) {
  static const char *const HOP[] = {"connection", "keep-alive",
                                    "transfer-encoding", "date", NULL};
  const char *end = block + len;
  for (const char *line = block; line < end;) {
    const char *eol = memchr(line, '\r', (size_t)(end - line));
    const char *colon = memchr(line, ':', (size_t)((eol ? eol : end) - line));
    if (!eol)
      break;
    if (colon) {
      char name[128], value[1024];
      size_t n = (size_t)(colon - line), v;
      const char *val = colon + 1;
      while (val < eol && *val == ' ')
        val++;
      v = (size_t)(eol - val);
      bool hop = false;
      for (const char *const *h = HOP; *h; h++)
        hop |= strlen(*h) == n && !strncasecmp(line, *h, n);
      if (!hop && n < sizeof(name) && v < sizeof(value)) {
        memcpy(name, line, n), name[n] = 0;
        memcpy(value, val, v), value[v] = 0;
        (void)va_http_header(res, name, value); /* refused: not copied */
      }
    }
    line = eol + 2;
  }
}

/* Whether the app marked its answer as an actor's own error
 * (X-DaprErrorResponseHeader): it then goes back as it is. */
static bool actor_error(const va_app_answer *a) {
  static const char NAME[] = "x-daprerrorresponseheader:";
  for (const char *p = a->headers; p && p < a->headers + a->headers_len;) {
    if (!strncasecmp(p, NAME, sizeof(NAME) - 1))
      return true;
    const char *eol = strstr(p, "\r\n");
    p = eol ? eol + 2 : a->headers + a->headers_len;
  }
  return false;
}

/* The app's answer, through AppActor: its 200 (or an answer it marked
 * with X-DaprErrorResponseHeader) goes back as it came, status, headers,
 * content type and body; anything else is Dapr's 500. */
static void app_invoked(void *user, int status, const void *data, size_t len) {
  va_http_reply *reply = user;
  va_app_answer a;
  if (status)
    return invoked(reply, status, NULL, 0);
  if (!va_app_answer_read(data, len, &a))
    return invoked(reply, VA_EFAILED, NULL, 0);
  if (a.status == 0) /* the app did not answer */
    return va__dapr_fail(reply, 500, "ERR_ACTOR_INVOKE_METHOD",
                         "error invoke actor method: %.*s",
                         (int)(a.body_len < 200 ? a.body_len : 200), a.body);
  if (a.status != 200 && !actor_error(&a))
    return va__dapr_fail(
        reply, 500, "ERR_ACTOR_INVOKE_METHOD",
        "error invoke actor method: error from actor service: (%d) "
        "%.*s",
        a.status, (int)(a.body_len < 300 ? a.body_len : 300), a.body);
  va_http_response *res = va_http_res(reply);
  va__api_reply_node(res);
  res->status = a.status >= 200 && a.status <= 599 ? a.status : 500;
  if (va_http_content_type(res, a.content_type) != 0)
    res->content_type = "application/json";
  copy_headers(res, a.headers, a.headers_len);
  va_http_write(res, a.body, a.body_len);
  va_http_done(reply);
}

/* The value of the request's header name as a string in buf (cap bytes),
 * or NULL when there is none (or it is empty); "?" (which matches nothing)
 * when it does not fit. */
static const char *header_text(const va_http_request *req, const char *name,
                               char *buf, size_t cap) {
  size_t n;
  const char *v = va_http_request_header(req, name, &n);
  if (!v || !n)
    return NULL;
  if (n >= cap)
    return "?";
  memcpy(buf, v, n);
  buf[n] = 0;
  return buf;
}

static void invoke_app(va_runtime *rt, va_app_channel *app, const target *t,
                       const char *method, const va_http_request *req,
                       va_http_reply *reply) {
  char type_buf[128], reentrancy_buf[80];
  const char *type =
      header_text(req, "content-type", type_buf, sizeof(type_buf));
  const char *reentrancy = header_text(req, "dapr-reentrancy-id",
                                       reentrancy_buf, sizeof(reentrancy_buf));
  size_t len;
  char *body = va_app_invoke_body(method, type, req->headers, req->headers_len,
                                  req->body, req->body_len, &len);
  uint64_t chain = va_app_channel_chain(app, reentrancy);
  int rc = body ? va_call_in_chain(rt, t->type, t->key, strlen(t->key),
                                   VA_APP_INVOKE, body, len, chain, app_invoked,
                                   reply)
                : VA_ENOMEM;
  free(body);
  if (rc)
    invoked(reply, rc, NULL, 0);
}

static void invoke(va_runtime *rt, va_app_channel *app, const target *t,
                   const va_http_request *req, va_http_reply *reply) {
  char method[NAME_MAX_BYTES + 1];
  if (!va__dapr_rest(t, method, sizeof(method), "method", reply))
    return;
  if (t->app)
    return invoke_app(rt, app, t, method, req, reply);
  int m = va_method_lookup(rt, t->type, method);
  if (m < 0)
    return va__dapr_fail(reply, 500, "ERR_ACTOR_INVOKE_METHOD",
                         "error invoke actor method: no method %s on %s",
                         method, t->type_name);
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

static void state_read(void *user, int status, const void *data, size_t len) {
  va_http_reply *reply = user;
  if (status == 0)
    va__dapr_ok(reply, 200, data, len);
  else if (status == VA_ENOTFOUND)
    va__dapr_ok(reply, 204, NULL, 0);
  else
    va__dapr_fail(reply, 500, "ERR_ACTOR_STATE_GET",
                  "error getting actor state: %s", va_strerror(status));
}

static void state_saved(void *user, int status, const void *data, size_t len) {
  (void)data, (void)len;
  va_http_reply *reply = user;
  if (status == 0)
    va__dapr_ok(reply, 204, NULL, 0);
  else if (status == VA_EINVAL)
    va__dapr_fail(reply, 400, "ERR_MALFORMED_REQUEST",
                  "failed deserializing HTTP body: a key is not allowed");
  else
    va__dapr_fail(reply, 500, "ERR_ACTOR_STATE_TRANSACTION_SAVE",
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
  char *s =
      json_dumps(value ? value : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
  int rc = s ? va_state_batch_put(b, key, s, strlen(s), (uint32_t)seconds)
             : VA_ENOMEM;
  free(s);
  return rc ? "out of memory" : NULL;
}

static void state(va_runtime *rt, const target *t, bool native_writes,
                  const va_http_request *req, va_http_reply *reply) {
  bool get = !strcmp(req->method, "GET");
  if (t->rest && get) {
    char key[KEY_MAX + 1];
    if (!va__dapr_rest(t, key, sizeof(key), "key", reply))
      return;
    int rc = va_state_read(rt, t->type, t->key, strlen(t->key), key, state_read,
                           reply);
    if (rc)
      state_read(reply, rc, NULL, 0);
    return;
  }
  if (t->rest || (strcmp(req->method, "POST") && strcmp(req->method, "PUT")))
    return va__dapr_fail(reply, 405, "ERR_METHOD_NOT_ALLOWED",
                         "GET a key, POST or PUT a transaction");
  /* A native actor keeps its own invariants (a task's document and the
   * lists that name it agree): only its methods change its state. */
  if (!t->app && !native_writes)
    return va__dapr_fail(reply, 403, "ERR_ACTOR_STATE_READONLY",
                         "%s is one of vactord's own actor types: its state "
                         "changes through its methods only (an operator "
                         "mending it runs vactord --repair-state)",
                         t->type_name);
  json_t *ops = json_loadb(req->body, req->body_len, 0, NULL);
  if (!json_is_array(ops)) {
    json_decref(ops);
    return va__dapr_fail(
        reply, 400, "ERR_MALFORMED_REQUEST",
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
    va__dapr_fail(reply, 400, "ERR_MALFORMED_REQUEST",
                  "failed deserializing HTTP body: %s", why);
  else if (rc)
    state_saved(reply, rc, NULL, 0);
}

/* ---- Routing ---- */

bool va_dapr_api_route(const va_dapr_api *api, const va_http_request *req,
                       va_http_reply *reply) {
  va_runtime *rt = api->rt;
  va_app_channel *app = api->app;
  bool get = !strcmp(req->method, "GET");
  if (!strcmp(req->path, "/v1.0/metadata")) {
    va_http_label(reply, "dapr.metadata");
    if (get)
      va_dapr_metadata_get(rt, app, api->extended, reply);
    else
      va__dapr_fail(reply, 405, "ERR_METHOD_NOT_ALLOWED", "GET the metadata");
    return true;
  }
  if (!strncmp(req->path, "/v1.0/metadata/", 15) && api->extended) {
    va_http_label(reply, "dapr.metadata.put");
    if (!strcmp(req->method, "PUT"))
      va_dapr_metadata_put(api->extended, req->path + 15, req, reply);
    else
      va__dapr_fail(reply, 405, "ERR_METHOD_NOT_ALLOWED", "PUT a metadata key");
    return true;
  }
  if (!strcmp(req->path, "/v1.0/healthz/outbound")) {
    va_http_label(reply, "dapr.healthz.outbound");
    if (get)
      va__dapr_ok(reply, 204, NULL, 0);
    else
      va__dapr_fail(reply, 405, "ERR_METHOD_NOT_ALLOWED", "use GET");
    return true;
  }
  if (strncmp(req->path, "/v1.0/actors/", 13))
    return false;
  target t;
  int status = parse_target(rt, app, api->cluster, req->path, &t);
  if (status == 400) {
    va__dapr_fail(reply, 400, "ERR_BAD_REQUEST",
                  "invalid request: actor type or id");
    return true;
  }
  if (status == 404) {
    va__dapr_fail(reply, 404, "ERR_NOT_FOUND", "no such route");
    return true;
  }
  static const char *const LABELS[] = {"dapr.invoke", "dapr.state",
                                       "dapr.reminders", "dapr.timers"};
  int which = !strcmp(t.what, "method")      ? 0
              : !strcmp(t.what, "state")     ? 1
              : !strcmp(t.what, "reminders") ? 2
                                             : 3;
  va_http_label(reply, LABELS[which]);
  if (t.type < 0) {
    va__dapr_fail(reply, 404, "ERR_ACTOR_NO_ADDRESS",
                  "did not find address for actor '%s/%s'", t.type_name, t.id);
    return true;
  }
  if (which == 0) {
    if (strcmp(req->method, "GET") && strcmp(req->method, "POST") &&
        strcmp(req->method, "PUT") && strcmp(req->method, "DELETE"))
      va__dapr_fail(reply, 405, "ERR_METHOD_NOT_ALLOWED",
                    "GET, POST, PUT or DELETE a method");
    else
      invoke(rt, app, &t, req, reply);
  } else if (which == 1) {
    state(rt, &t, api->native_writes, req, reply);
  } else if (which == 2) {
    va__dapr_reminders(rt, &t, req, reply);
  } else {
    va__dapr_timers(rt, &t, req, reply);
  }
  return true;
}
