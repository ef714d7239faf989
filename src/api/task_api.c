/* task_api.c — see task_api.h. A request goes: split the path, find the
 * route (table below) by shape and method, check the ids and the body,
 * build the actor's body (the request's JSON object plus the caller and
 * the path's and query's parameters), call, and turn the answer into a
 * response. The hot route (log) builds a binary body and needs no
 * allocation for its answer. */
#include "task_api.h"
#include "../apps/limits.h"
#include "../apps/prefs.h"
#include "../apps/task_doc.h"
#include "../apps/user_list.h"
#include "../base/assert.h"
#include "query.h"
#include "reply_node.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  ID_MAX = VA_APPS_ID_MAX,
  KEY_MAX = VA_APPS_TASK_KEY_MAX, /* a TaskActor's id */
  SEGMENTS_MAX = 8
};

/* ---- Paths ---- */

typedef struct segment {
  const char *s;
  size_t n;
} segment;

/* Splits "/a/b/c" into segments; false for more than SEGMENTS_MAX or an
 * empty one ("//", a trailing "/"). */
static bool split(const char *path, segment *seg, size_t *count) {
  *count = 0;
  if (*path != '/')
    return false;
  while (*path == '/') {
    const char *start = ++path;
    while (*path && *path != '/')
      path++;
    if (path == start || *count == SEGMENTS_MAX)
      return false;
    seg[(*count)++] = (segment){start, (size_t)(path - start)};
  }
  return true;
}

static bool is(segment s, const char *word) {
  return s.n == strlen(word) && !memcmp(s.s, word, s.n);
}

/* An id is 1..128 of [A-Za-z0-9._~-]: no '/', no '%', nothing to decode;
 * not "." or "..", which clients and proxies take for path steps. */
static bool valid_id(segment s) {
  if (s.n == 0 || s.n > ID_MAX || is(s, ".") || is(s, ".."))
    return false;
  for (size_t i = 0; i < s.n; i++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                "0123456789._~-",
                s.s[i]) ||
        !s.s[i])
      return false;
  return true;
}

/* A task as a user names it (task_doc.h): an id, or "owner:task". */
static bool valid_task_ref(segment s) {
  const char *colon = memchr(s.s, ':', s.n);
  if (!colon)
    return valid_id(s);
  size_t owner = (size_t)(colon - s.s);
  return valid_id((segment){s.s, owner}) &&
         valid_id((segment){colon + 1, s.n - owner - 1});
}

/* ---- Routes ---- */

/* What the route's actor body carries besides the request's JSON. */
enum body_kind {
  BODY_JSON, /* the request's object (or {} without a body) + user */
  BODY_NONE, /* nothing */
  BODY_LOG,  /* va_task_log */
};

/* How the route's input is checked before the call. */
enum check_kind {
  CHECK_NONE,
  CHECK_CREATE,
  CHECK_UPDATE,
  CHECK_PREFS,
  CHECK_CHAT,
  CHECK_REMINDER
};

typedef struct route {
  const char *label;  /* for metrics */
  const char *method; /* HTTP */
  const char *shape;  /* segments after /v1/users/{user}, "*" an id */
  char actor; /* 't' task (id: the {task} segment), 'u' user, 'c' chat */
  int call;   /* the actor's method */
  enum body_kind body;
  enum check_kind check;
  int ok_status;            /* 200, 201, 204 */
  bool etag;                /* answer has "version": send it as ETag */
  const char *const *query; /* accepted query parameters */
} route;

static const char *const LIST_QUERY[] = {
    "status", "priority", "q",       "role",       "tag", "sort",
    "limit",  "cursor",   "overdue", "due_before", NULL};
static const char *const PAGE_QUERY[] = {"before", "limit", NULL};
static const char *const NO_QUERY[] = {NULL};

/* "*" in a shape matches an id. */
static const route ROUTES[] = {
    {"tasks.list", "GET", "tasks", 'u', VA_USER_LIST, BODY_JSON, CHECK_NONE,
     200, false, LIST_QUERY},
    {"tasks.create", "POST", "tasks", 't', VA_TASK_CREATE, BODY_JSON,
     CHECK_CREATE, 201, true, NO_QUERY},
    {"tasks.create", "PUT", "tasks/*", 't', VA_TASK_CREATE, BODY_JSON,
     CHECK_CREATE, 201, true, NO_QUERY},
    {"tasks.get", "GET", "tasks/*", 't', VA_TASK_GET, BODY_JSON, CHECK_NONE,
     200, true, NO_QUERY},
    {"tasks.update", "PATCH", "tasks/*", 't', VA_TASK_UPDATE, BODY_JSON,
     CHECK_UPDATE, 200, true, NO_QUERY},
    {"tasks.delete", "DELETE", "tasks/*", 't', VA_TASK_DELETE, BODY_JSON,
     CHECK_NONE, 204, false, NO_QUERY},
    {"tasks.log", "POST", "tasks/*/log", 't', VA_TASK_LOG, BODY_LOG, CHECK_NONE,
     200, false, NO_QUERY},
    {"tasks.complete", "POST", "tasks/*/complete", 't', VA_TASK_COMPLETE,
     BODY_JSON, CHECK_NONE, 200, true, NO_QUERY},
    {"tasks.history", "GET", "tasks/*/history", 't', VA_TASK_HISTORY, BODY_JSON,
     CHECK_NONE, 200, false, PAGE_QUERY},
    {"tasks.members", "GET", "tasks/*/members", 't', VA_TASK_MEMBERS, BODY_JSON,
     CHECK_NONE, 200, false, NO_QUERY},
    {"tasks.members.add", "PUT", "tasks/*/members/*", 't', VA_TASK_ADD_MEMBER,
     BODY_JSON, CHECK_NONE, 200, true, NO_QUERY},
    {"tasks.members.remove", "DELETE", "tasks/*/members/*", 't',
     VA_TASK_DEL_MEMBER, BODY_JSON, CHECK_NONE, 200, true, NO_QUERY},
    {"tasks.reminders.set", "PUT", "tasks/*/reminders/*", 't',
     VA_TASK_REMINDER_SET, BODY_JSON, CHECK_REMINDER, 204, false, NO_QUERY},
    {"tasks.reminders.list", "GET", "tasks/*/reminders", 't',
     VA_TASK_REMINDER_LIST, BODY_JSON, CHECK_NONE, 200, false, NO_QUERY},
    {"tasks.reminders.get", "GET", "tasks/*/reminders/*", 't',
     VA_TASK_REMINDER_GET, BODY_JSON, CHECK_NONE, 200, false, NO_QUERY},
    {"tasks.reminders.delete", "DELETE", "tasks/*/reminders/*", 't',
     VA_TASK_REMINDER_DEL, BODY_JSON, CHECK_NONE, 204, false, NO_QUERY},
    {"preferences.get", "GET", "preferences", 'u', VA_USER_PREFS, BODY_NONE,
     CHECK_NONE, 200, false, NO_QUERY},
    {"preferences.set", "PUT", "preferences", 'u', VA_USER_SET_PREFS, BODY_JSON,
     CHECK_PREFS, 200, false, NO_QUERY},
    {"chat.say", "POST", "chat", 'c', VA_CHAT_SAY, BODY_JSON, CHECK_CHAT, 200,
     false, NO_QUERY},
    {"chat.history", "GET", "chat", 'c', VA_CHAT_HISTORY, BODY_JSON, CHECK_NONE,
     200, false, PAGE_QUERY},
    {"reminders.list", "GET", "reminders", 'c', VA_CHAT_REMINDERS, BODY_JSON,
     CHECK_NONE, 200, false, NO_QUERY},
    {"reminders.delete", "DELETE", "reminders/*", 'c', VA_CHAT_REMINDER_DEL,
     BODY_JSON, CHECK_NONE, 204, false, NO_QUERY},
};
enum { N_ROUTES = sizeof(ROUTES) / sizeof(ROUTES[0]) };

/* Whether segs (after /v1/users/{user}) have the route's shape; the ids
 * matched by "*" go to ids[]. */
static bool shape_matches(const char *shape, const segment *segs, size_t n,
                          segment *ids, size_t *n_ids) {
  size_t i = 0;
  *n_ids = 0;
  while (*shape) {
    const char *end = strchr(shape, '/');
    size_t len = end ? (size_t)(end - shape) : strlen(shape);
    if (i == n)
      return false;
    if (len == 1 && *shape == '*')
      ids[(*n_ids)++] = segs[i];
    else if (segs[i].n != len || memcmp(segs[i].s, shape, len))
      return false;
    i++;
    shape += len + (end ? 1 : 0);
  }
  return i == n;
}

/* ---- Errors ---- */

/* An error whose message names a limit's number. */
static void limit_error(va_http_response *res, int status, const char *code,
                        const char *fmt, int limit) {
  char message[128];
  snprintf(message, sizeof(message), fmt, limit);
  va_http_error(res, status, code, message);
}

static void error_for(va_http_response *res, int status, char actor) {
  switch (status) {
  case VA_ENOTFOUND:
    if (actor == 't')
      va_http_error(res, 404, "ERR_TASK_NOT_FOUND", "no such task");
    else
      va_http_error(res, 404, "ERR_NOT_FOUND", "no such thing");
    break;
  case VA_EEXIST:
    va_http_error(res, 409, "ERR_TASK_EXISTS", "the task exists already");
    break;
  case VA_EINVAL:
    va_http_error(res, 400, "ERR_BAD_REQUEST",
                  "the body is not what this route takes");
    break;
  case VA_ECONFLICT:
    va_http_error(res, 412, "ERR_VERSION_MISMATCH",
                  "If-Match does not match the task's version");
    break;
  case VA_EPERM:
    va_http_error(res, 403, "ERR_FORBIDDEN",
                  "only the task's owner may do this (a member may "
                  "only leave it: remove themself)");
    break;
  case VA_EBACKPRESSURE:
    va_http_error(res, 429, "ERR_BUSY", "too many requests for this actor");
    va_http_header(res, "Retry-After", "1");
    break;
  case VA_ETIMEDOUT:
    va_http_error(res, 504, "ERR_TIMEOUT", "the actor did not answer in time");
    break;
  case VA_ESTORE:
    va_http_error(res, 503, "ERR_STORE", "the state could not be saved");
    va_http_header(res, "Retry-After", "1");
    break;
  case VA_ESTOPPED:
    va_http_error(res, 503, "ERR_STOPPING", "the server is stopping");
    break;
  case VA_EFENCED:
    va_http_error(res, 503, "ERR_MOVED",
                  "the actor moved to another node before this change "
                  "was saved: nothing of it was kept; send it again");
    va_http_header(res, "Retry-After", "1");
    break;
  case VA_ELINK:
    va_http_error(res, 503, "ERR_NODE_UNAVAILABLE",
                  "the connection to the actor's node was lost during the "
                  "call: whether it ran is not known");
    va_http_header(res, "Retry-After", "1");
    break;
  case VA_ETOOBIG:
    va_http_error(res, 400, "ERR_TOO_LARGE", "an id or a value is too long");
    break;
  case VA_APPS_ECORRUPT:
    va_http_error(res, 409, "ERR_TASK_CORRUPT",
                  "the task's stored document is not one the Task API "
                  "writes (the server log says what is wrong); an operator "
                  "can mend or delete it through the Dapr state API "
                  "(vactord --repair-state)");
    break;
  case VA_APPS_ECORRUPT_LIST:
    va_http_error(res, 409, "ERR_STATE_CORRUPT",
                  "a user's stored task list is not what the Task API "
                  "writes (the server log says which key)");
    break;
  case VA_APPS_ELIMIT_TASKS:
    limit_error(res, 409, "ERR_LIMIT_TASKS",
                "a user of this task is on %d tasks already, the most one "
                "user may have",
                VA_APPS_TASKS_PER_USER_MAX);
    break;
  case VA_APPS_ELIMIT_MEMBERS:
    limit_error(res, 409, "ERR_LIMIT_MEMBERS", "a task has at most %d members",
                VA_APPS_MEMBERS_MAX);
    break;
  case VA_APPS_ELIMIT_REMINDERS:
    limit_error(res, 409, "ERR_LIMIT_REMINDERS",
                "a task has at most %d reminders", VA_APPS_REMINDERS_MAX);
    break;
  case VA_APPS_ELIMIT_USER_REMINDERS:
    limit_error(res, 409, "ERR_LIMIT_REMINDERS",
                "a user owns at most %d reminders, across their tasks, and "
                "this task's owner has that many",
                VA_APPS_REMINDERS_PER_USER_MAX);
    break;
  case VA_APPS_ECORRUPT_REMINDERS:
    va_http_error(res, 409, "ERR_STATE_CORRUPT",
                  "a user's stored reminder count is not what the Task API "
                  "writes (the server log says which key)");
    break;
  case VA_APPS_EVERSION:
    va_http_error(res, 409, "ERR_VERSION_EXHAUSTED",
                  "the task's version is at its maximum (2^53 - 1): it can "
                  "be read and deleted, not changed");
    break;
  case VA_APPS_ENO_REMINDER:
    va_http_error(res, 404, "ERR_REMINDER_NOT_FOUND",
                  "there is no reminder of that name");
    break;
  case VA_APPS_ENO_MEMBER:
    va_http_error(res, 404, "ERR_MEMBER_NOT_FOUND",
                  "that user is not a member of the task");
    break;
  case VA_APPS_EOWNER:
    va_http_error(res, 409, "ERR_OWNER_IS_NOT_A_MEMBER",
                  "the task's owner has it already and cannot be one of "
                  "its members");
    break;
  case VA_APPS_EPERIOD:
    va_http_error(res, 400, "ERR_BAD_PERIOD",
                  "a reminder's period is shorter than the server's minimum "
                  "(vactord --min-period, 1s by default)");
    break;
  default:
    va_http_error(res, 500, "ERR_INTERNAL", va_strerror(status));
  }
}

static void fail(va_http_reply *reply, int status, const char *code,
                 const char *message) {
  va_http_error(va_http_res(reply), status, code, message);
  va_http_done(reply);
}

/* ---- Answers ---- */

/* A route's call in flight (not for log, which answers plainly). */
typedef struct pending_answer {
  const va_apps *apps;
  va_http_reply *reply;
  const route *route;
  char location[sizeof("/v1/users//tasks/") + ID_MAX + KEY_MAX]; /* created */
  /* A create's: the task's actor id, and {user, members} to take it off
   * their lists again if the create fails (owned; NULL for other routes). */
  char task[KEY_MAX + 1];
  char *unlist;
  int status; /* the create's failure, answered once the lists are clean */
} pending_answer;

static void pending_free(pending_answer *pa) {
  free(pa->unlist);
  free(pa);
}

/* log: {"minutes": n} as it comes. */
static void answer_plain(void *user, int status, const void *data, size_t len) {
  va_http_reply *reply = user;
  va_http_response *res = va_http_res(reply);
  va__api_reply_node(res);
  if (status == 0) {
    res->status = 200;
    va_http_write(res, data, len);
  } else {
    error_for(res, status, 't');
  }
  va_http_done(reply);
}

static void set_etag(va_http_response *res, const void *data, size_t len) {
  json_t *doc = json_loadb(data, len, 0, NULL);
  json_t *version = json_object_get(doc, "version");
  char etag[32];
  if (json_is_integer(version)) {
    snprintf(etag, sizeof(etag), "\"%lld\"",
             (long long)json_integer_value(version));
    va_http_header(res, "ETag", etag);
  }
  json_decref(doc);
}

/* The unlist after a failed create is done: the create's error goes out;
 * an unlist that failed too is logged (the lists may keep the task until
 * it is created or deleted). */
static void unlisted(void *user, int status, const void *data, size_t len) {
  (void)data, (void)len;
  pending_answer *pa = user;
  if (status) {
    char task[2 * KEY_MAX + 8];
    va_log_quote(pa->task, strlen(pa->task), task, sizeof(task));
    va_log(pa->apps->rt, VA_LOG_WARN, "unlist failed", "task=%s error=%s", task,
           va_err_name(status));
  }
  va__api_reply_node(va_http_res(pa->reply));
  error_for(va_http_res(pa->reply), pa->status, 't');
  va_http_done(pa->reply);
  pending_free(pa);
}

/* Whether a create that failed with status may have told some lists
 * before it failed (then they are cleaned up before the answer). */
static bool may_have_listed(int status) {
  return status != 0 && status != VA_EINVAL && status != VA_EEXIST;
}

static void answer(void *user, int status, const void *data, size_t len) {
  pending_answer *pa = user;
  va_http_response *res = va_http_res(pa->reply);
  if (pa->unlist && may_have_listed(status)) {
    pa->status = status;
    const va_apps *apps = pa->apps;
    if (va_call(apps->rt, apps->task, pa->task, strlen(pa->task),
                VA_TASK_UNLIST, pa->unlist, strlen(pa->unlist), unlisted,
                pa) == 0)
      return;
  }
  va__api_reply_node(res);
  if (status) {
    error_for(res, status, pa->route->actor);
  } else {
    res->status = pa->route->ok_status;
    if (pa->route->ok_status != 204)
      va_http_write(res, data, len);
    if (pa->route->etag)
      set_etag(res, data, len);
    if (pa->route->ok_status == 201 && pa->location[0])
      va_http_header(res, "Location", pa->location);
  }
  va_http_done(pa->reply);
  pending_free(pa);
}

/* ---- Bodies ---- */

/* If-Match: "3", W/"3" or 3 -> 3; -1 when absent (or empty), -2 when
 * unreadable. */
static long long if_match(const va_http_request *req) {
  size_t len;
  const char *header = va_http_request_header(req, "if-match", &len);
  char text[64];
  if (!header || !len)
    return -1;
  if (len >= sizeof(text))
    return -2;
  memcpy(text, header, len);
  text[len] = 0;
  const char *v = text;
  if (!strncmp(v, "W/", 2))
    v += 2;
  char *end;
  long long n = strtoll(v + (*v == '"'), &end, 10);
  if (end == v + (*v == '"') || n < 0 || (*v == '"' && *end++ != '"') || *end)
    return -2;
  return n;
}

/* A query parameter's value as a whole number in [min, max], or -1. */
static long long query_number(const char *value, long long min, long long max) {
  char *end;
  long long n = strtoll(value, &end, 10);
  return *end || end == value || n < min || n > max ? -1 : n;
}

/* One query parameter's value as the actor body takes it, checked as the
 * same field is in a body: NULL and the value in *out (new), or why not. */
static const char *query_value(const char *key, const char *value,
                               json_t **out) {
  *out = NULL;
  int64_t ms, cursor_key, cursor_seq;
  if (!strcmp(key, "limit") || !strcmp(key, "before")) {
    bool limit = !strcmp(key, "limit");
    long long n = query_number(value, limit ? 1 : 0,
                               limit ? VA_APPS_PAGE_MAX : 1000000000);
    if (n < 0)
      return limit ? "limit must be a whole number from 1 to 1000"
                   : "before must be a whole number from 0";
    *out = json_integer(n);
  } else if (!strcmp(key, "overdue")) {
    if (strcmp(value, "true") && strcmp(value, "false"))
      return "overdue must be true or false";
    *out = json_boolean(!strcmp(value, "true"));
  } else if (!strcmp(key, "due_before")) {
    if (va_parse_due(value, strlen(value), va_wall_ms(), &ms) != 0)
      return "due_before must be an RFC 3339 time or a duration from now "
             "(48h)";
    *out = json_integer(ms);
  } else if (!strcmp(key, "cursor") &&
             !va_user_cursor_read(value, &cursor_key, &cursor_seq)) {
    return "cursor must be the next of a page, as it came";
  } else if (!strcmp(key, "sort") && strcmp(value, "due") &&
             strcmp(value, "priority") && strcmp(value, "updated")) {
    return "sort must be due, priority or updated";
  } else if (!strcmp(key, "role") && strcmp(value, "owner") &&
             strcmp(value, "member")) {
    return "role must be owner or member";
  } else if (!(*out = json_string(value))) {
    return "a query parameter's value must be UTF-8";
  } else if (!strcmp(key, "status") || !strcmp(key, "priority")) {
    json_t *field = json_pack("{s:O}", key, *out);
    const char *why = field ? va_task_doc_check(field, false) : NULL;
    json_decref(field);
    if (why || !field) {
      json_decref(*out);
      *out = NULL;
      return why ? why : "out of memory";
    }
  }
  return NULL;
}

/* Adds the query's parameters to body (query_value). NULL, or why not
 * (naming the parameter). */
static const char *add_query(json_t *body, const char *query,
                             const char *const *keys) {
  char value[1024];
  for (; *keys; keys++) {
    if (!va_query_has(query, *keys))
      continue;
    if (!va_query_get(query, *keys, value, sizeof(value)))
      return "a query parameter's value is longer than 1023 bytes";
    json_t *v;
    const char *why = query_value(*keys, value, &v);
    if (why)
      return why;
    json_object_set_new(body, *keys, v);
  }
  return NULL;
}

/* Checks the body the route takes; NULL when fine, else why not. */
static const char *check(const route *rt, json_t *body) {
  switch (rt->check) {
  case CHECK_CREATE:
    return va_task_doc_check(body, true);
  case CHECK_UPDATE:
    return va_task_doc_check(body, false);
  case CHECK_PREFS:
    return va_prefs_check(body);
  case CHECK_CHAT: {
    json_t *m = json_object_get(body, "message");
    return json_is_string(m) && va_json_chars(m) > 0 &&
                   va_json_chars(m) <= VA_APPS_CHAT_MESSAGE_MAX
               ? NULL
               : "message must be a string of 1-1000 characters";
  }
  case CHECK_REMINDER: {
    const char *due = json_string_value(json_object_get(body, "dueTime"));
    int64_t ms;
    return due && va_parse_due(due, strlen(due), 0, &ms) == 0
               ? NULL
               : "dueTime must be a duration (10m, PT10M) or an RFC 3339 "
                 "time";
  }
  default:
    return NULL;
  }
}

/* ---- Dispatch ---- */

static void call_log(const va_apps *apps, segment user, const char *task,
                     const va_http_request *req, va_http_reply *reply) {
  json_t *in = json_loadb(req->body, req->body_len, 0, NULL);
  json_t *m = json_object_get(in, "minutes");
  bool ok = json_is_integer(m) && json_integer_value(m) > 0 &&
            json_integer_value(m) <= 100000;
  va_task_log head = {ok ? json_integer_value(m) : 0};
  bool object = json_is_object(in), only_minutes = json_object_size(in) == 1,
       has_minutes = m != NULL;
  json_decref(in);
  if (!object)
    return fail(reply, 400, "ERR_MALFORMED_JSON",
                "the body must be a JSON object");
  if (req->query && *req->query)
    return fail(reply, 400, "ERR_BAD_QUERY", "log takes no query parameters");
  if (has_minutes && !only_minutes)
    return fail(reply, 400, "ERR_BAD_REQUEST",
                "unknown field: log takes minutes only");
  if (!ok)
    return fail(reply, 400, "ERR_BAD_REQUEST",
                "minutes must be an integer from 1 to 100000");
  char body[sizeof(head) + ID_MAX];
  memcpy(body, &head, sizeof(head));
  memcpy(body + sizeof(head), user.s, user.n);
  int rc = va_call(apps->rt, apps->task, task, strlen(task), VA_TASK_LOG, body,
                   sizeof(head) + user.n, answer_plain, reply);
  if (rc) {
    error_for(va_http_res(reply), rc, 't');
    va_http_done(reply);
  }
}

/* The request's JSON object ({} when there is no body). */
static json_t *request_object(const va_http_request *req) {
  if (req->body_len == 0)
    return json_object();
  json_t *in = json_loadb(req->body, req->body_len, 0, NULL);
  if (json_is_object(in))
    return in;
  json_decref(in);
  return NULL;
}

/* A create's undo: {user, members} of its body as JSON (new, NULL when out
 * of memory). */
static char *unlist_body(json_t *body) {
  json_t *undo = json_pack("{s:O, s:O?}", "user", json_object_get(body, "user"),
                           "members", json_object_get(body, "members"));
  char *s = undo ? json_dumps(undo, JSON_COMPACT) : NULL;
  json_decref(undo);
  return s;
}

/* The TaskActor id (into key, KEY_MAX + 1 bytes) of the task the route's
 * user names ref, or of a new one with a name made up (a POST create):
 * NULL, or why the user may not name it so. */
static const char *task_key(const route *rt, segment user, segment ref,
                            char *key) {
  char user_id[ID_MAX + 1], made_up[VA_TASK_NAME_NEW_SIZE];
  snprintf(user_id, sizeof(user_id), "%.*s", (int)user.n, user.s);
  if (rt->call == VA_TASK_CREATE && !strcmp(rt->method, "POST")) {
    if (!va_task_name_new(made_up))
      return "no random bytes to make an id of: name the task (PUT)";
    ref = (segment){made_up, strlen(made_up)};
  }
  bool named = va_task_key_of(user_id, ref.s, ref.n, key);
  VA_ASSERT(named); /* (the ids were checked: valid_task_ref) */
  if (rt->call == VA_TASK_CREATE &&
      !va_task_key_creatable(user_id, key, strlen(key)))
    return "a task is created under its owner's own name: leave out "
           "\"owner:\"";
  return NULL;
}

static void call_route(const va_apps *apps, const route *rt, segment user,
                       const segment *ids, const va_http_request *req,
                       va_http_reply *reply) {
  char key[KEY_MAX + 1];
  const char *bad_key =
      rt->actor == 't' ? task_key(rt, user, ids[0], key) : NULL;
  if (bad_key)
    return fail(reply, 400, "ERR_BAD_ID", bad_key);
  if (rt->body == BODY_LOG)
    return call_log(apps, user, key, req, reply);
  char why_query[384];
  if (!va_query_check(req->query, rt->query, why_query, sizeof(why_query)))
    return fail(reply, 400, "ERR_BAD_QUERY", why_query);
  json_t *body = request_object(req);
  if (!body)
    return fail(reply, 400, "ERR_MALFORMED_JSON",
                "the body must be a JSON object");
  const char *why = check(rt, body), *code = "ERR_BAD_REQUEST";
  long long version = if_match(req);
  if (!why && version == -2)
    why = "If-Match must be a task version, e.g. \"3\"";
  if (!why && (why = add_query(body, req->query, rt->query)))
    code = "ERR_BAD_QUERY";
  if (why) {
    json_decref(body);
    return fail(reply, 400, code, why);
  }
  pending_answer *pa = calloc(1, sizeof(*pa));
  if (!pa) {
    json_decref(body);
    return fail(reply, 503, "ERR_NO_MEMORY", "out of memory");
  }
  *pa = (pending_answer){.apps = apps, .reply = reply, .route = rt};
  json_object_set_new(body, "user", json_stringn(user.s, user.n));
  if (version >= 0)
    json_object_set_new(body, "ifMatch", json_integer(version));
  /* The second id of a shape is a member or a reminder's name. */
  if (rt->actor == 't' &&
      (rt->call == VA_TASK_ADD_MEMBER || rt->call == VA_TASK_DEL_MEMBER))
    json_object_set_new(body, "member", json_stringn(ids[1].s, ids[1].n));
  if (rt->actor == 't' && rt->call >= VA_TASK_REMINDER_SET &&
      rt->call <= VA_TASK_REMINDER_DEL)
    json_object_set_new(body, "name", json_stringn(ids[1].s, ids[1].n));
  if (rt->actor == 'c' && rt->call == VA_CHAT_REMINDER_DEL)
    json_object_set_new(body, "name", json_stringn(ids[0].s, ids[0].n));
  segment target = rt->actor == 't' ? (segment){key, strlen(key)} : user;
  if (rt->call == VA_TASK_CREATE && rt->actor == 't') {
    snprintf(pa->task, sizeof(pa->task), "%s", key);
    if (!(pa->unlist = unlist_body(body))) {
      json_decref(body);
      free(pa);
      return fail(reply, 503, "ERR_NO_MEMORY", "out of memory");
    }
  }
  if (rt->ok_status == 201) {
    const char *name = strchr(key, ':') + 1; /* the creator's own name */
    snprintf(pa->location, sizeof(pa->location), "/v1/users/%.*s/tasks/%s",
             (int)user.n, user.s, name);
  }
  int type = rt->actor == 't'   ? apps->task
             : rt->actor == 'u' ? apps->user
                                : apps->chat;
  char *s = rt->body == BODY_NONE ? NULL : json_dumps(body, JSON_COMPACT);
  json_decref(body);
  int rc = rt->body == BODY_NONE || s
               ? va_call(apps->rt, type, target.s, target.n, rt->call, s,
                         s ? strlen(s) : 0, answer, pa)
               : VA_ENOMEM;
  free(s);
  if (rc) {
    error_for(va_http_res(reply), rc, rt->actor);
    va_http_done(reply);
    pending_free(pa);
  }
}

bool va_task_api_route(const va_apps *apps, const va_http_request *req,
                       va_http_reply *reply) {
  segment seg[SEGMENTS_MAX];
  size_t n;
  if (strncmp(req->path, "/v1/users/", 10))
    return false;
  if (!split(req->path, seg, &n) || n < 4 || !is(seg[0], "v1") ||
      !is(seg[1], "users")) {
    fail(reply, 404, "ERR_NOT_FOUND", "no such route");
    return true;
  }
  segment ids[2] = {{0}};
  size_t n_ids;
  bool shape_found = false;
  for (size_t i = 0; i < N_ROUTES; i++) {
    const route *rt = &ROUTES[i];
    if (!shape_matches(rt->shape, seg + 3, n - 3, ids, &n_ids))
      continue;
    shape_found = true;
    if (strcmp(rt->method, req->method))
      continue;
    va_http_label(reply, rt->label);
    bool ids_ok = valid_id(seg[2]);
    for (size_t k = 0; k < n_ids; k++) /* (a task first, if any) */
      ids_ok = ids_ok && (k == 0 && rt->actor == 't' ? valid_task_ref(ids[k])
                                                     : valid_id(ids[k]));
    if (!ids_ok)
      fail(reply, 400, "ERR_BAD_ID",
           "ids are 1-128 characters of A-Z a-z 0-9 . _ ~ - (another "
           "owner's task: owner:task)");
    else
      call_route(apps, rt, seg[2], ids, req, reply);
    return true;
  }
  if (shape_found)
    fail(reply, 405, "ERR_METHOD_NOT_ALLOWED",
         "this route does not take that method");
  else
    fail(reply, 404, "ERR_NOT_FOUND", "no such route");
  return true;
}
