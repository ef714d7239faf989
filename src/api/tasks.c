/* tasks.c — the Task API's routes (see tasks.h): parse the path, check the
 * ids and the JSON body, call the TaskActor, and turn its answer into an
 * HTTP response. */
#include "tasks.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum { ID_MAX = 128 };

/* An id is 1..128 of [A-Za-z0-9._~-]: no '/', no '%', nothing to decode. */
static bool valid_id(const char *s, size_t n) {
  if (n == 0 || n > ID_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' ||
          c == '-'))
      return false;
  }
  return true;
}

typedef struct route {
  const char *user, *task, *action; /* action: "" or "log" */
  size_t user_len, task_len;
} route;

/* Matches /v1/users/{user}/tasks/{task}[/{action}]. */
static bool match(const char *path, route *r) {
  static const char p1[] = "/v1/users/";
  if (strncmp(path, p1, sizeof(p1) - 1))
    return false;
  r->user = path + sizeof(p1) - 1;
  const char *slash = strchr(r->user, '/');
  if (!slash || strncmp(slash, "/tasks/", 7))
    return false;
  r->user_len = (size_t)(slash - r->user);
  r->task = slash + 7;
  slash = strchr(r->task, '/');
  r->task_len = slash ? (size_t)(slash - r->task) : strlen(r->task);
  r->action = slash ? slash + 1 : "";
  return true;
}

static void error_for(va_http_response *res, int status) {
  switch (status) {
  case VA_ENOTFOUND:
    va_http_error(res, 404, "ERR_TASK_NOT_FOUND", "no such task");
    break;
  case VA_EEXIST:
    va_http_error(res, 409, "ERR_TASK_EXISTS", "the task exists already");
    break;
  case VA_EINVAL:
    va_http_error(res, 400, "ERR_BAD_REQUEST",
                  "the body is not what this route takes");
    break;
  case VA_EBACKPRESSURE:
    va_http_error(res, 503, "ERR_BUSY", "too many requests; retry");
    break;
  case VA_ETIMEDOUT:
    va_http_error(res, 504, "ERR_TIMEOUT", "the actor did not answer in time");
    break;
  case VA_ESTORE:
    va_http_error(res, 503, "ERR_STORE", "the state could not be saved");
    break;
  default:
    va_http_error(res, 500, "ERR_INTERNAL", va_strerror(status));
  }
}

static void on_answer(void *user, int status, const void *data, size_t len) {
  va_http_reply *reply = user;
  va_http_response *res = va_http_res(reply);
  if (status == 0) {
    res->status = 200;
    va_http_write(res, data, len);
  } else {
    error_for(res, status);
  }
  va_http_done(reply);
}

/* GET /v1/users/{user}/tasks: the user's list. */
static bool list_route(va_task_api *api, const va_http_request *req,
                       va_http_reply *reply) {
  static const char p1[] = "/v1/users/";
  const char *user = req->path + sizeof(p1) - 1;
  const char *slash = strncmp(req->path, p1, sizeof(p1) - 1) ? NULL
                                                              : strchr(user, '/');
  if (!slash || strcmp(slash, "/tasks"))
    return false;
  va_http_response *res = va_http_res(reply);
  size_t ulen = (size_t)(slash - user);
  int rc = 0;
  if (!valid_id(user, ulen))
    va_http_error(res, 400, "ERR_BAD_ID",
                  "ids are 1-128 characters of A-Z a-z 0-9 . _ ~ -");
  else if (strcmp(req->method, "GET"))
    va_http_error(res, 405, "ERR_METHOD_NOT_ALLOWED", "GET the list");
  else if ((rc = va_call(api->rt, api->user.type, user, ulen, api->user.list,
                         NULL, 0, on_answer, reply)) == 0)
    return true; /* on_answer finishes it */
  else
    error_for(res, rc);
  va_http_done(reply);
  return true;
}

bool va_task_api_route(va_task_api *api, const va_http_request *req,
                       va_http_reply *reply) {
  if (list_route(api, req, reply))
    return true;
  route r;
  if (!match(req->path, &r))
    return false;
  va_http_response *res = va_http_res(reply);
  if (!valid_id(r.user, r.user_len) || !valid_id(r.task, r.task_len)) {
    va_http_error(res, 400, "ERR_BAD_ID",
                  "ids are 1-128 characters of A-Z a-z 0-9 . _ ~ -");
    va_http_done(reply);
    return true;
  }
  int method;
  bool get = !strcmp(req->method, "GET");
  if (!*r.action && !strcmp(req->method, "PUT"))
    method = api->task.create;
  else if (!*r.action && get)
    method = api->task.get;
  else if (!strcmp(r.action, "log") && !strcmp(req->method, "POST"))
    method = api->task.log;
  else {
    if (!strcmp(r.action, "") || !strcmp(r.action, "log"))
      va_http_error(res, 405, "ERR_METHOD_NOT_ALLOWED",
                    "PUT or GET a task; POST its log");
    else
      va_http_error(res, 404, "ERR_NOT_FOUND", "no such route");
    va_http_done(reply);
    return true;
  }
  /* The actor's body: the request's JSON object (none for GET), with the
   * caller's id; for log, a va_task_log. */
  json_t *body = get ? json_object()
                     : json_loadb(req->body, req->body_len, 0, NULL);
  if (!json_is_object(body)) {
    json_decref(body);
    va_http_error(res, 400, "ERR_MALFORMED_JSON",
                  "the body must be a JSON object");
    va_http_done(reply);
    return true;
  }
  char *s = NULL;
  size_t len = 0;
  if (method == api->task.log) {
    json_t *m = json_object_get(body, "minutes");
    va_task_log head = {json_is_integer(m) ? json_integer_value(m) : 0};
    if ((s = malloc(sizeof(head) + r.user_len))) {
      memcpy(s, &head, sizeof(head));
      memcpy(s + sizeof(head), r.user, r.user_len);
      len = sizeof(head) + r.user_len;
    }
  } else {
    json_object_set_new(body, "user", json_stringn(r.user, r.user_len));
    if ((s = json_dumps(body, JSON_COMPACT)))
      len = strlen(s);
  }
  json_decref(body);
  int rc = s ? va_call(api->rt, api->task.type, r.task, r.task_len, method, s,
                       len, on_answer, reply)
             : VA_ENOMEM;
  free(s);
  if (rc) {
    error_for(res, rc);
    va_http_done(reply);
  }
  return true;
}
