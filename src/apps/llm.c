/* llm.c — see llm.h. One outbound HTTP client (its own thread) serves every
 * chat; each request carries its va_await ticket, completed from the
 * client's thread. */
#include "llm.h"
#include "../base/assert.h"
#include "../http/client.h"
#include "task_doc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct va_llm {
  va_http_client *client;
  char *url, *model;
  char *auth; /* "Authorization: Bearer KEY", or NULL */
  long timeout_ms;
};

int va_llm_new(const va_llm_config *cfg, va_llm **out) {
  if (!cfg || !cfg->url || !cfg->model || !out)
    return VA_EINVAL;
  va_llm *llm = calloc(1, sizeof(*llm));
  if (!llm)
    return VA_ENOMEM;
  llm->url = strdup(cfg->url);
  llm->model = strdup(cfg->model);
  llm->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 20000;
  if (cfg->key && *cfg->key &&
      asprintf(&llm->auth, "Authorization: Bearer %s", cfg->key) < 0)
    llm->auth = NULL;
  int rc = llm->url && llm->model && (!cfg->key || !*cfg->key || llm->auth)
               ? va_http_client_new(&llm->client)
               : VA_ENOMEM;
  if (rc) {
    va_llm_free(llm);
    return rc;
  }
  *out = llm;
  return 0;
}

long va_llm_timeout_ms(const va_llm *llm) {
  return llm->timeout_ms;
}

void va_llm_free(va_llm *llm) {
  if (!llm)
    return;
  va_http_client_free(llm->client);
  free(llm->url);
  free(llm->model);
  free(llm->auth);
  free(llm);
}

/* The tools, as chat-completions describes functions. */
static json_t *tools(void) {
  static const char *const SPEC =
      "["
      "{\"type\":\"function\",\"function\":{\"name\":\"add_task\","
      "\"description\":\"Add a task for the user.\",\"parameters\":{"
      "\"type\":\"object\",\"properties\":{\"title\":{\"type\":\"string\"},"
      "\"due\":{\"type\":\"string\",\"description\":\"RFC 3339 time\"}},"
      "\"required\":[\"title\"]}}},"
      "{\"type\":\"function\",\"function\":{\"name\":\"list_tasks\","
      "\"description\":\"List the user's tasks.\",\"parameters\":{"
      "\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\","
      "\"enum\":[\"open\",\"done\"]},\"due\":{\"type\":\"string\","
      "\"description\":\"only the tasks due then\",\"enum\":[\"today\","
      "\"tomorrow\",\"this week\",\"next week\",\"overdue\"]}}}}},"
      "{\"type\":\"function\",\"function\":{\"name\":\"delete_task\","
      "\"description\":\"Delete a task.\",\"parameters\":{"
      "\"type\":\"object\",\"properties\":{\"task\":{\"type\":\"string\","
      "\"description\":\"the task's id or title\"}},"
      "\"required\":[\"task\"]}}},"
      "{\"type\":\"function\",\"function\":{\"name\":\"rename_task\","
      "\"description\":\"Give a task a new title.\",\"parameters\":{"
      "\"type\":\"object\",\"properties\":{\"task\":{\"type\":\"string\"},"
      "\"title\":{\"type\":\"string\"}},\"required\":[\"task\",\"title\"]}}},"
      "{\"type\":\"function\",\"function\":{\"name\":\"set_due\","
      "\"description\":\"Change when a task is due; no due to clear it.\","
      "\"parameters\":{\"type\":\"object\",\"properties\":{"
      "\"task\":{\"type\":\"string\"},\"due\":{\"type\":\"string\","
      "\"description\":\"RFC 3339 time\"}},\"required\":[\"task\"]}}},"
      "{\"type\":\"function\",\"function\":{\"name\":\"list_reminders\","
      "\"description\":\"List the reminders the user asked for.\","
      "\"parameters\":{\"type\":\"object\",\"properties\":{}}}},"
      "{\"type\":\"function\",\"function\":{\"name\":\"cancel_reminder\","
      "\"description\":\"Cancel one of the user's reminders.\","
      "\"parameters\":{\"type\":\"object\",\"properties\":{"
      "\"number\":{\"type\":\"integer\",\"description\":\"its number in "
      "list_reminders\"},\"text\":{\"type\":\"string\",\"description\":"
      "\"words of its text\"}}}}},"
      "{\"type\":\"function\",\"function\":{\"name\":\"complete_task\","
      "\"description\":\"Mark a task as done.\",\"parameters\":{"
      "\"type\":\"object\",\"properties\":{\"task\":{\"type\":\"string\","
      "\"description\":\"the task's id or title\"}},"
      "\"required\":[\"task\"]}}},"
      "{\"type\":\"function\",\"function\":{\"name\":\"log_time\","
      "\"description\":\"Log minutes of work on a task.\",\"parameters\":{"
      "\"type\":\"object\",\"properties\":{\"task\":{\"type\":\"string\"},"
      "\"minutes\":{\"type\":\"integer\"}},"
      "\"required\":[\"task\",\"minutes\"]}}},"
      "{\"type\":\"function\",\"function\":{\"name\":\"set_reminder\","
      "\"description\":\"Remind the user of something later.\","
      "\"parameters\":{\"type\":\"object\",\"properties\":{"
      "\"text\":{\"type\":\"string\"},\"at\":{\"type\":\"string\","
      "\"description\":\"RFC 3339 time\"},\"in_minutes\":{\"type\":"
      "\"integer\"}},\"required\":[\"text\"]}}}"
      "]";
  return json_loads(SPEC, 0, NULL);
}

/* The client's thread: hands the outcome to the waiting turn; a failure's
 * data is the HTTP status in decimal ("0" without one), for the log. */
static void answered(void *user, const va_http_client_result *r) {
  va_await *ticket = user;
  int status = r->error;
  if (status == 0 && (r->status < 200 || r->status > 299))
    status = VA_EFAILED;
  char http[16];
  int n = snprintf(http, sizeof(http), "%ld", status ? (long)r->status : 0L);
  if (status)
    va_await_done(ticket, status, http, (size_t)n);
  else
    va_await_done(ticket, 0, r->body, r->body_len);
}

int va_llm_ask(va_llm *llm, json_t *messages, va_await *ticket) {
  json_t *req =
      json_pack("{s:s, s:O, s:o, s:s}", "model", llm->model, "messages",
                messages, "tools", tools(), "tool_choice", "auto");
  char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
  json_decref(req);
  const char *headers[] = {"Content-Type: application/json", llm->auth, NULL};
  va_http_client_request hr = {.method = "POST",
                               .url = llm->url,
                               .headers = headers,
                               .body = body,
                               .body_len = body ? strlen(body) : 0,
                               .timeout_ms = llm->timeout_ms};
  int rc = body ? va_http_client_send(llm->client, &hr, answered, ticket)
                : VA_ENOMEM;
  free(body);
  if (rc)
    va_await_done(ticket, rc, NULL, 0);
  return rc;
}

/* Copies s into in->text; one too long to keep whole is not kept
 * (in->too_long). */
static void copy_text(const char *s, va_intent *in) {
  size_t len = s ? strlen(s) : 0;
  in->too_long = len > VA_INTENT_TEXT_MAX;
  size_t n = in->too_long ? 0 : len;
  if (n)
    memcpy(in->text, s, n);
  in->text[n] = 0;
}

/* A time argument: an RFC 3339 string. */
static int64_t time_arg(json_t *args, const char *key, int64_t now_ms) {
  const char *s = json_string_value(json_object_get(args, key));
  int64_t ms;
  return s && va_parse_due(s, strlen(s), now_ms, &ms) == 0 ? ms : 0;
}

/* list_tasks' due window ("today", "overdue", ...) as the assistant
 * reads it (in zone), into in's window and overdue; unknown words: none. */
static void due_window(const char *when, int64_t now_ms, const va_zone *zone,
                       va_intent *in) {
  static const char *const WHEN[] = {"today",     "tomorrow", "this week",
                                     "next week", "overdue",  NULL};
  for (const char *const *w = WHEN; when && *w; w++) {
    if (strcmp(when, *w))
      continue;
    char phrase[32];
    snprintf(phrase, sizeof(phrase), "list %s", when);
    va_intent read;
    va_assistant_read(phrase, strlen(phrase), now_ms, zone, &read);
    VA_ASSERT(read.kind == VA_INTENT_LIST);
    in->window = read.window, in->overdue = read.overdue;
    in->from_ms = read.from_ms, in->to_ms = read.to_ms;
    if (read.status[0])
      strcpy(in->status, read.status);
  }
}

/* One tool call as an intent. */
static void read_call(const char *name, json_t *args, int64_t now_ms,
                      const va_zone *zone, va_intent *in) {
  const char *task = json_string_value(json_object_get(args, "task"));
  if (!strcmp(name, "add_task")) {
    copy_text(json_string_value(json_object_get(args, "title")), in);
    in->at_ms = time_arg(args, "due", now_ms);
    in->kind = VA_INTENT_ADD;
  } else if (!strcmp(name, "list_tasks")) {
    const char *status = json_string_value(json_object_get(args, "status"));
    if (status && (!strcmp(status, "open") || !strcmp(status, "done")))
      strcpy(in->status, status);
    due_window(json_string_value(json_object_get(args, "due")), now_ms, zone,
               in);
    in->kind = VA_INTENT_LIST;
  } else if (!strcmp(name, "delete_task")) {
    copy_text(task, in);
    in->kind = VA_INTENT_DELETE;
  } else if (!strcmp(name, "rename_task")) {
    copy_text(task, in);
    const char *title = json_string_value(json_object_get(args, "title"));
    size_t n = title ? strlen(title) : 0;
    in->too_long |= n > VA_INTENT_TEXT_MAX;
    if (n && n <= VA_INTENT_TEXT_MAX)
      memcpy(in->title, title, n + 1);
    in->kind =
        in->title[0] || in->too_long ? VA_INTENT_RENAME : VA_INTENT_UNKNOWN;
  } else if (!strcmp(name, "set_due")) {
    copy_text(task, in);
    in->at_ms = time_arg(args, "due", now_ms);
    in->kind = VA_INTENT_DUE;
  } else if (!strcmp(name, "list_reminders")) {
    in->kind = VA_INTENT_LIST_REMINDERS;
  } else if (!strcmp(name, "cancel_reminder")) {
    json_int_t number = json_integer_value(json_object_get(args, "number"));
    in->reminder =
        number > 0 && number <= VA_APPS_CHAT_REMINDERS_MAX ? (int)number : 0;
    if (!in->reminder)
      copy_text(json_string_value(json_object_get(args, "text")), in);
    in->kind = in->reminder || in->text[0] || in->too_long
                   ? VA_INTENT_CANCEL_REMINDER
                   : VA_INTENT_UNKNOWN;
  } else if (!strcmp(name, "complete_task")) {
    copy_text(task, in);
    in->kind = VA_INTENT_COMPLETE;
  } else if (!strcmp(name, "log_time")) {
    copy_text(task, in);
    in->minutes = json_integer_value(json_object_get(args, "minutes"));
    in->kind = VA_INTENT_LOG;
  } else if (!strcmp(name, "set_reminder")) {
    copy_text(json_string_value(json_object_get(args, "text")), in);
    json_int_t after = json_integer_value(json_object_get(args, "in_minutes"));
    if (after > 10 * 366 * 24 * 60)
      after = 0; /* over ten years: no reminder */
    in->at_ms =
        after > 0 ? now_ms + after * 60000 : time_arg(args, "at", now_ms);
    in->kind = VA_INTENT_REMIND;
  }
  /* A call with missing arguments is no call: */
  if ((in->kind == VA_INTENT_ADD || in->kind == VA_INTENT_COMPLETE ||
       in->kind == VA_INTENT_LOG || in->kind == VA_INTENT_REMIND ||
       in->kind == VA_INTENT_DELETE || in->kind == VA_INTENT_RENAME ||
       in->kind == VA_INTENT_DUE) &&
      !in->text[0] && !in->too_long)
    in->kind = VA_INTENT_UNKNOWN;
  if ((in->kind == VA_INTENT_LOG && in->minutes <= 0) ||
      (in->kind == VA_INTENT_REMIND && in->at_ms <= 0))
    in->kind = VA_INTENT_UNKNOWN;
}

int va_llm_read(const char *body, size_t len, int64_t now_ms,
                const va_zone *zone, va_intent *intent, char **text,
                json_t **call) {
  *intent = (va_intent){.kind = VA_INTENT_UNKNOWN};
  *text = NULL;
  if (call)
    *call = NULL;
  json_t *res = json_loadb(body, len, 0, NULL);
  json_t *msg = json_object_get(
      json_array_get(json_object_get(res, "choices"), 0), "message");
  if (!json_is_object(msg)) {
    json_decref(res);
    return VA_EINVAL;
  }
  const char *content = json_string_value(json_object_get(msg, "content"));
  if (content && *content)
    *text = strdup(content);
  json_t *first = json_array_get(json_object_get(msg, "tool_calls"), 0);
  json_t *fn = json_object_get(first, "function");
  const char *name = json_string_value(json_object_get(fn, "name"));
  const char *args = json_string_value(json_object_get(fn, "arguments"));
  json_t *parsed = args ? json_loads(args, 0, NULL) : NULL;
  if (name && json_is_object(parsed))
    read_call(name, parsed, now_ms, zone, intent);
  if (call && intent->kind != VA_INTENT_UNKNOWN &&
      json_is_string(json_object_get(first, "id")))
    *call = json_pack("{s:O, s:s, s:{s:s, s:s}}", "id",
                      json_object_get(first, "id"), "type", "function",
                      "function", "name", name, "arguments", args);
  json_decref(parsed);
  json_decref(res);
  return 0;
}

json_t *va_llm_after_call(json_t *messages, json_t *call, const char *result) {
  json_t *out = json_copy(messages);
  json_t *asked = json_pack("{s:s, s:n, s:[O]}", "role", "assistant", "content",
                            "tool_calls", call);
  json_t *told = json_pack("{s:s, s:O, s:s}", "role", "tool", "tool_call_id",
                           json_object_get(call, "id"), "content", result);
  bool ok = out && asked && told && !json_array_append(out, asked) &&
            !json_array_append(out, told);
  json_decref(asked);
  json_decref(told);
  if (!ok) {
    json_decref(out);
    return NULL;
  }
  return out;
}
