/* chat.c — ChatActor (methods in apps.h): one actor per user, the user's
 * private conversation with the assistant. State: the messages (a journal,
 * "m:", bounded by va_apps.chat_limit with the total kept) and the user's
 * own reminders ("remind me ...": chat_reminders.c; what the two files
 * share is in chat_impl.h). A message is answered in one turn: it
 * reads the user's time zone, understands the text (the rule-based parser,
 * or the model when one is configured, falling back to the parser when it
 * fails), performs the operation with calls to the user's UserActor and
 * TaskActors, and records both sides. At most one call is out at a time;
 * what the turn needs between calls is kept in the activation. */
#include "../base/assert.h"
#include "chat_impl.h"
#include "llm.h"
#include "prefs.h"
#include "task_doc.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The Task API this chat belongs to: the type's user pointer, set by
 * va_chat_register: a va_apps per runtime, so runtimes may share a process. */
const va_apps *va__chat_apps(va_turn *t) {
  const va_apps *apps = va_turn_type_user(t);
  VA_ASSERT(apps && apps->rt == va_turn_runtime(t));
  return apps;
}

/* The chat's messages. */
va_journal va__chat_messages(va_turn *t) {
  return (va_journal){"m:", va__chat_apps(t)->chat_limit};
}

static void chat_reset(chat *c) {
  json_decref(c->asked);
  json_decref(c->call);
  free(c->result);
  json_decref(c->actions);
  free(c->note);
  free(c->message);
  memset(c, 0, sizeof(*c));
}

static int chat_deactivate(va_turn *t) {
  chat_reset(va_turn_self(t));
  return 0;
}

static const char *me(va_turn *t, char *buf) {
  size_t n;
  const char *id = va_turn_id(t, &n);
  snprintf(buf, ID_MAX + 1, "%.*s", (int)n, id);
  return buf;
}

int va__chat_remember(va_turn *t, const char *role, const char *text,
                      json_t *extra) {
  json_t *m = json_pack("{s:s, s:s, s:o}", "role", role, "text", text, "at",
                        va_json_time(va_wall_ms()));
  if (m && extra)
    json_object_update(m, extra);
  va_journal messages = va__chat_messages(t);
  int rc = m ? va_journal_append(t, &messages, m) : VA_ENOMEM;
  json_decref(m);
  return rc;
}

static int tell_model(va_turn *t, chat *c, const char *result);

/* The end of every answer: records it and replies {reply, actions, via};
 * after a tool call of the model, the model words it (tell_model). */
int va__chat_answer(va_turn *t, const char *text) {
  chat *c = va_turn_self(t);
  if (c->call)
    return tell_model(t, c, text);
  char *full = NULL;
  if (c->note && asprintf(&full, "%s %s", c->note, text) < 0)
    full = NULL;
  const char *said = full ? full : text;
  json_t *extra = json_pack("{s:O, s:s}", "actions", c->actions, "via", c->via);
  int rc = va__chat_remember(t, "assistant", said, extra);
  json_t *out = json_pack("{s:s, s:O, s:s}", "reply", said, "actions",
                          c->actions, "via", c->via);
  if (rc == 0)
    rc = va_reply_json(t, out);
  json_decref(out);
  json_decref(extra);
  free(full);
  chat_reset(c);
  return rc;
}

int va__chat_answerf(va_turn *t, const char *fmt, ...) {
  va_list ap;
  char *text;
  va_start(ap, fmt);
  int n = vasprintf(&text, fmt, ap);
  va_end(ap);
  if (n < 0)
    return VA_ENOMEM;
  int rc = va__chat_answer(t, text);
  free(text);
  return rc;
}

/* A time as the user in zone reads it: "2026-11-26 17:00 (+01:00)". */
void va__chat_local_time(int64_t ms, const va_zone *zone, char *out,
                         size_t cap) {
  int tz = va_zone_offset(zone, ms);
  time_t s = (time_t)(ms / 1000 + tz * 60);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t n = strftime(out, cap, "%Y-%m-%d %H:%M", &tm);
  if (tz == 0)
    snprintf(out + n, cap - n, " UTC");
  else
    snprintf(out + n, cap - n, " (%c%02d:%02d)", tz < 0 ? '-' : '+',
             abs(tz) / 60, abs(tz) % 60);
}

/* The TaskActor id (into key, KEY_MAX + 1 bytes) of the task the user
 * calls task (task_doc.h). An id from their list that is no name (a
 * legacy id the Dapr API made) is the actor's id as it is. */
static const char *task_key(va_turn *t, const char *task, char *key) {
  char user[ID_MAX + 1];
  if (!va_task_key_of(me(t, user), task, strlen(task), key))
    snprintf(key, KEY_MAX + 1, "%s", task);
  return key;
}

void va__chat_act(chat *c, json_t *action) {
  json_array_append_new(c->actions, action);
}

/* Calls method of the user's own UserActor or of a task with body. */
static int call_json(va_turn *t, int type, const char *id, int method,
                     json_t *body, va_cont_fn cont) {
  char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
  int rc = s ? va_turn_call(t, type, id, strlen(id), method, s, strlen(s), cont,
                            NULL)
             : VA_ENOMEM;
  free(s);
  json_decref(body);
  return rc;
}

/* ---- Listing ---- */

static int listed(va_turn *t, void *user, int status, const void *data,
                  size_t len) {
  (void)user;
  chat *c = va_turn_self(t);
  json_t *out = status == 0 ? json_loadb(data, len, 0, NULL) : NULL;
  json_t *tasks = json_object_get(out, "tasks");
  if (!json_is_array(tasks)) {
    json_decref(out);
    return va__chat_answer(t, "I could not read your task list just now.");
  }
  size_t n = json_array_size(tasks);
  va__chat_act(c,
               json_pack("{s:s, s:i}", "op", "list", "count", (json_int_t)n));
  char *text = NULL;
  size_t text_len = 0;
  FILE *f = open_memstream(&text, &text_len);
  if (!f) {
    json_decref(out);
    return VA_ENOMEM;
  }
  const char *which = c->intent.overdue     ? "overdue "
                      : c->intent.status[0] ? c->intent.status
                                            : "";
  const char *space = *which && !c->intent.overdue ? " " : "";
  if (n == 0)
    fprintf(f, "You have no %s%stasks", which, space);
  else
    fprintf(f, "You have %zu %s%stask%s", n, which, space, n == 1 ? "" : "s");
  if (c->intent.window) {
    char from[48], to[48];
    va__chat_local_time(c->intent.from_ms, &c->zone, from, sizeof(from));
    va__chat_local_time(c->intent.to_ms, &c->zone, to, sizeof(to));
    fprintf(f, " due from %s to %s", from, to);
  }
  fputs(n ? ":" : ".", f);
  size_t i;
  json_t *task;
  json_array_foreach(tasks, i, task) {
    fprintf(f, " %zu. %s (%s, %s", i + 1,
            va_json_text(json_object_get(task, "title")),
            va_json_text(json_object_get(task, "id")),
            va_json_text(json_object_get(task, "status")));
    const char *due = json_string_value(json_object_get(task, "due"));
    int64_t due_ms;
    char when[48];
    if (due && va_parse_due(due, strlen(due), 0, &due_ms) == 0) {
      va__chat_local_time(due_ms, &c->zone, when, sizeof(when));
      fprintf(f, ", due %s", when);
    }
    fputs(")", f);
  }
  fclose(f);
  json_decref(out);
  int rc = va__chat_answer(t, text);
  free(text);
  return rc;
}

/* The list's filters for c->intent (UserActor's VA_USER_LIST; new). */
static json_t *list_filters(const chat *c) {
  json_t *f = json_object();
  if (f && c->intent.status[0])
    json_object_set_new(f, "status", json_string(c->intent.status));
  if (f && c->intent.overdue)
    json_object_set_new(f, "overdue", json_true());
  if (f && c->intent.window) {
    json_object_set_new(f, "due_after", json_integer(c->intent.from_ms));
    json_object_set_new(f, "due_before", json_integer(c->intent.to_ms));
  }
  if (f && (c->intent.overdue || c->intent.window))
    json_object_set_new(f, "sort", json_string("due"));
  return f;
}

static int do_list(va_turn *t, chat *c) {
  char user[ID_MAX + 1];
  json_t *filters = list_filters(c);
  return call_json(t, va__chat_apps(t)->user, me(t, user), VA_USER_LIST,
                   filters, listed);
}

/* ---- Adding ---- */

static int added(va_turn *t, void *user, int status, const void *data,
                 size_t len) {
  (void)user, (void)data, (void)len;
  chat *c = va_turn_self(t);
  if (status)
    return va__chat_answerf(t, "I could not add \"%s\" (%s).", c->intent.text,
                            va_strerror(status));
  va__chat_act(c, json_pack("{s:s, s:s, s:s}", "op", "add", "task", c->task,
                            "title", c->intent.text));
  if (!c->intent.at_ms)
    return va__chat_answerf(t, "Added \"%s\" (task %s).", c->intent.text,
                            c->task);
  char when[48];
  va__chat_local_time(c->intent.at_ms, &c->zone, when, sizeof(when));
  return va__chat_answerf(t, "Added \"%s\" (task %s), due %s.", c->intent.text,
                          c->task, when);
}

static int do_add(va_turn *t, chat *c) {
  size_t chars = va_utf8_chars(c->intent.text, strlen(c->intent.text));
  if (chars > VA_APPS_TITLE_MAX)
    return va__chat_answerf(
        t,
        "A task's title has at most %d characters, and that one "
        "has %zu: I did not add it. Say it shorter?",
        VA_APPS_TITLE_MAX, chars);
  if (!va_task_name_new(c->task))
    return VA_ESYS;
  char user[ID_MAX + 1];
  json_t *body =
      json_pack("{s:s, s:s}", "user", me(t, user), "title", c->intent.text);
  if (body && c->intent.at_ms)
    json_object_set_new(body, "due", va_json_time(c->intent.at_ms));
  char key[KEY_MAX + 1];
  return call_json(t, va__chat_apps(t)->task, task_key(t, c->task, key),
                   VA_TASK_CREATE, body, added);
}

/* ---- Completing and logging: find the task first ---- */

static int changed(va_turn *t, void *user, int status, const void *data,
                   size_t len) {
  (void)user;
  chat *c = va_turn_self(t);
  if (status)
    return va__chat_answerf(t, "I could not change task %s (%s).", c->task,
                            va_strerror(status));
  json_t *out = json_loadb(data, len, 0, NULL);
  json_int_t total = json_integer_value(json_object_get(out, "minutes"));
  json_decref(out);
  if (c->intent.kind == VA_INTENT_LOG) {
    va__chat_act(c, json_pack("{s:s, s:s, s:I}", "op", "log", "task", c->task,
                              "minutes", (json_int_t)c->intent.minutes));
    return va__chat_answerf(t, "Logged %lld minutes on task %s; %lld in all.",
                            (long long)c->intent.minutes, c->task,
                            (long long)total);
  }
  switch (c->intent.kind) {
  case VA_INTENT_DELETE:
    va__chat_act(c, json_pack("{s:s, s:s}", "op", "delete", "task", c->task));
    return va__chat_answerf(t, "Deleted task %s.", c->task);
  case VA_INTENT_RENAME:
    va__chat_act(c, json_pack("{s:s, s:s, s:s}", "op", "rename", "task",
                              c->task, "title", c->intent.title));
    return va__chat_answerf(t, "Renamed task %s to \"%s\".", c->task,
                            c->intent.title);
  case VA_INTENT_DUE: {
    va__chat_act(c, json_pack("{s:s, s:s, s:o}", "op", "due", "task", c->task,
                              "due",
                              c->intent.at_ms ? va_json_time(c->intent.at_ms)
                                              : json_null()));
    if (!c->intent.at_ms)
      return va__chat_answerf(t, "Task %s has no due time now.", c->task);
    char when[48];
    va__chat_local_time(c->intent.at_ms, &c->zone, when, sizeof(when));
    return va__chat_answerf(t, "Task %s is due %s now.", c->task, when);
  }
  default:
    va__chat_act(c, json_pack("{s:s, s:s}", "op", "complete", "task", c->task));
    return va__chat_answerf(t, "Marked task %s as done.", c->task);
  }
}

/* The tasks the words name (a new array): those whose id or whole title
 * they are, else those whose title holds them; to complete one
 * (open_first), the done ones only when no open one fits. */
static json_t *matching(json_t *tasks, const char *words, bool open_first) {
  json_t *exact = json_array(), *part = json_array(), *open = json_array();
  size_t i;
  json_t *task;
  json_array_foreach(tasks, i, task) {
    const char *title = va_json_text(json_object_get(task, "title"));
    if (va_json_is(json_object_get(task, "id"), words) ||
        !strcasecmp(title, words))
      json_array_append(exact, task);
    else if (strcasestr(title, words))
      json_array_append(part, task);
  }
  json_t *fits = json_array_size(exact) ? exact : part;
  json_array_foreach(fits, i, task) {
    if (!va_json_is(json_object_get(task, "status"), "done"))
      json_array_append(open, task);
  }
  json_t *pick = open_first && json_array_size(open) ? open : fits;
  json_incref(pick);
  json_decref(exact);
  json_decref(part);
  json_decref(open);
  return pick;
}

/* "t1 (Buy milk), t2 (Buy milk and eggs)": at most five of tasks. */
static char *names_of(json_t *tasks) {
  char *out = NULL;
  size_t len = 0, i;
  json_t *task;
  FILE *f = open_memstream(&out, &len);
  if (!f)
    return NULL;
  json_array_foreach(tasks, i, task) {
    if (i == 5) {
      fprintf(f, ", ...");
      break;
    }
    fprintf(f, "%s%s (%s)", i ? ", " : "",
            va_json_text(json_object_get(task, "id")),
            va_json_text(json_object_get(task, "title")));
  }
  fclose(f);
  return out;
}

/* Completes, deletes, renames or moves the found task (key) for user. */
static int change_task(va_turn *t, chat *c, const char *user, const char *key) {
  int method = c->intent.kind == VA_INTENT_COMPLETE ? VA_TASK_COMPLETE
               : c->intent.kind == VA_INTENT_DELETE ? VA_TASK_DELETE
                                                    : VA_TASK_UPDATE;
  json_t *body = json_pack("{s:s}", "user", user);
  if (body && c->intent.kind == VA_INTENT_RENAME)
    json_object_set_new(body, "title", json_string(c->intent.title));
  if (body && c->intent.kind == VA_INTENT_DUE)
    json_object_set_new(body, "due",
                        c->intent.at_ms ? va_json_time(c->intent.at_ms)
                                        : json_null());
  return call_json(t, va__chat_apps(t)->task, key, method, body, changed);
}

static int found(va_turn *t, void *user, int status, const void *data,
                 size_t len) {
  (void)user;
  chat *c = va_turn_self(t);
  json_t *out = status == 0 ? json_loadb(data, len, 0, NULL) : NULL;
  bool completing = c->intent.kind == VA_INTENT_COMPLETE;
  json_t *fits =
      matching(json_object_get(out, "tasks"), c->intent.text, completing);
  json_t *task = json_array_get(fits, 0);
  bool answered = true; /* (else the call below answers) */
  int rc = 0;
  if (!task) {
    rc = va__chat_answerf(t, "I found no task \"%s\".", c->intent.text);
  } else if (json_array_size(fits) > 1) {
    char *names = names_of(fits);
    rc =
        names
            ? va__chat_answerf(t,
                               "More than one task fits \"%s\": %s. Which one? "
                               "Say its id.",
                               c->intent.text, names)
            : VA_ENOMEM;
    free(names);
  } else if (completing &&
             va_json_is(json_object_get(task, "status"), "done")) {
    rc = va__chat_answerf(t, "Task %s (%s) is done already.",
                          va_json_text(json_object_get(task, "id")),
                          va_json_text(json_object_get(task, "title")));
  } else {
    snprintf(c->task, sizeof(c->task), "%s",
             va_json_text(json_object_get(task, "id")));
    answered = false;
  }
  json_decref(fits);
  json_decref(out);
  if (answered)
    return rc;
  char user_id[ID_MAX + 1], key[KEY_MAX + 1];
  me(t, user_id);
  task_key(t, c->task, key);
  if (c->intent.kind != VA_INTENT_LOG)
    return change_task(t, c, user_id, key);
  size_t ulen = strlen(user_id);
  char body[sizeof(va_task_log) + ID_MAX];
  va_task_log head = {c->intent.minutes};
  memcpy(body, &head, sizeof(head));
  memcpy(body + sizeof(head), user_id, ulen);
  return va_turn_call(t, va__chat_apps(t)->task, key, strlen(key), VA_TASK_LOG,
                      body, sizeof(head) + ulen, changed, NULL);
}

static int do_find(va_turn *t, chat *c) {
  if (c->intent.kind == VA_INTENT_RENAME &&
      va_utf8_chars(c->intent.title, strlen(c->intent.title)) >
          VA_APPS_TITLE_MAX)
    return va__chat_answerf(
        t,
        "A task's title has at most %d characters: I did not "
        "rename it. Say it shorter?",
        VA_APPS_TITLE_MAX);
  char user[ID_MAX + 1];
  return call_json(t, va__chat_apps(t)->user, me(t, user), VA_USER_LIST,
                   json_object(), found);
}

/* ---- Understanding ---- */

/* Carries out c->intent. */
static int perform(va_turn *t, chat *c) {
  if (c->intent.too_long)
    return va__chat_answerf(
        t,
        "That is longer than a task's title or a reminder I keep "
        "(%d characters): I did nothing. Say it shorter?",
        VA_APPS_TITLE_MAX);
  if (c->intent.bad_date[0])
    return va__chat_answerf(
        t,
        "I did not understand the date \"%s\", so I did nothing. "
        "I understand \"tomorrow at 10:00\", \"next monday\", "
        "\"by friday\", \"2026-12-24\", \"the 24th\" or \"in 2 "
        "hours\".",
        c->intent.bad_date);
  switch (c->intent.kind) {
  case VA_INTENT_HELP:
    return va__chat_answer(t, va_assistant_help);
  case VA_INTENT_LIST:
    return do_list(t, c);
  case VA_INTENT_ADD:
    return do_add(t, c);
  case VA_INTENT_COMPLETE:
  case VA_INTENT_LOG:
  case VA_INTENT_DELETE:
  case VA_INTENT_RENAME:
  case VA_INTENT_DUE:
    return do_find(t, c);
  case VA_INTENT_REMIND:
    return va__chat_remind(t, c);
  case VA_INTENT_LIST_REMINDERS:
    return va__chat_list_reminders(t, c);
  case VA_INTENT_CANCEL_REMINDER:
    return va__chat_cancel_reminder(t, c);
  default:
    return va__chat_answerf(t, "Sorry, I did not understand that. %s",
                            va_assistant_help);
  }
}

static int understand(va_turn *t, chat *c) {
  va_assistant_read(c->message, strlen(c->message), va_wall_ms(), &c->zone,
                    &c->intent);
  return perform(t, c);
}

/* One log line per model failure: the HTTP status (0: none; 200 with an
 * unreadable body) and the runtime's error name. */
static void log_model_failure(va_turn *t, int status, const void *data,
                              size_t len) {
  int http = 200;
  if (status) {
    char digits[16];
    size_t n = len < sizeof(digits) - 1 ? len : sizeof(digits) - 1;
    memcpy(digits, data ? data : "", data ? n : 0);
    digits[data ? n : 0] = 0;
    http = atoi(digits);
  }
  va_log(va_turn_runtime(t), VA_LOG_WARN, "model failed", "status=%d error=%s",
         http, status ? va_err_name(status) : "unreadable_response");
}

static int model_answered(va_turn *t, void *user, int status, const void *data,
                          size_t len) {
  (void)user;
  chat *c = va_turn_self(t);
  char *text = NULL;
  if (status == 0 && va_llm_read(data, len, va_wall_ms(), &c->zone, &c->intent,
                                 &text, &c->call) == 0) {
    c->via = "model";
    if (c->intent.kind != VA_INTENT_UNKNOWN) {
      if (c->call) /* its words come after the call (tell_model) */
        free(text);
      else
        c->note = text;
      return perform(t, c);
    }
    int rc =
        va__chat_answer(t, text && *text ? text : "(The model said nothing.)");
    free(text);
    return rc;
  }
  free(text);
  log_model_failure(t, status, data, len);
  const char *why = status == VA_ETIMEDOUT ? "did not answer in time"
                    : status == 0          ? "answered something unreadable"
                                           : "failed";
  if (asprintf(&c->note, "(The model %s; the built-in assistant answered.)",
               why) < 0)
    c->note = NULL;
  return understand(t, c);
}

/* The model gets the latest messages (this one included) and the time. */
static int ask_model(va_turn *t, chat *c) {
  char when[48];
  va__chat_local_time(va_wall_ms(), &c->zone, when, sizeof(when));
  char *system = NULL;
  if (asprintf(&system,
               "You manage the user's tasks with the tools. It is now %s. "
               "Answer briefly.",
               when) < 0)
    return VA_ENOMEM;
  va_journal messages = va__chat_messages(t);
  json_t *history = va_journal_page(t, &messages, 0, 10);
  json_t *msgs = json_pack("[{s:s, s:s}]", "role", "system", "content", system);
  free(system);
  size_t i;
  json_t *m;
  json_array_foreach(history, i, m) {
    json_t *role = json_object_get(m, "role");
    json_t *text = json_object_get(m, "text");
    if (!(va_json_is(role, "user") || va_json_is(role, "assistant")) ||
        !json_is_string(text))
      continue; /* (not a message this actor wrote) */
    json_array_append_new(
        msgs, json_pack("{s:O, s:O}", "role", role, "content", text));
  }
  json_decref(history);
  va_await *ticket;
  int rc = va_turn_await(t, model_answered, NULL, &ticket);
  if (rc == 0)
    /* errors come back through ticket */
    va_llm_ask(va__chat_apps(t)->llm, msgs, ticket);
  c->asked = msgs; /* (for a second request, should the model call a tool) */
  return rc;
}

/* The model's answer to the result of its tool call: its words are the
 * reply; the result as the built-in assistant put it when it fails or
 * says nothing (a second tool call is not carried out). */
static int model_worded(va_turn *t, void *user, int status, const void *data,
                        size_t len) {
  (void)user;
  chat *c = va_turn_self(t);
  va_intent ignored;
  char *words = NULL;
  if (status != 0 || va_llm_read(data, len, va_wall_ms(), &c->zone, &ignored,
                                 &words, NULL) != 0)
    log_model_failure(t, status, data, len);
  int rc = va__chat_answer(t, words && *words ? words : c->result);
  free(words);
  return rc;
}

/* Gives the model the result of its tool call (a second round trip),
 * so that it answers in words. */
static int tell_model(va_turn *t, chat *c, const char *result) {
  const va_apps *apps = va__chat_apps(t);
  json_t *call = c->call;
  c->call = NULL; /* (the next answer is the last) */
  /* The caller waits call_timeout_ms for the reply, and the action is
   * done: the model words it only if it can within that (2 s to spare). */
  int64_t budget =
      apps->call_timeout_ms ? (int64_t)apps->call_timeout_ms : 60000;
  bool in_time =
      va_wall_ms() - c->began_ms + va_llm_timeout_ms(apps->llm) + 2000 <=
      budget;
  json_t *msgs = in_time ? va_llm_after_call(c->asked, call, result) : NULL;
  json_decref(call);
  c->result = msgs ? strdup(result) : NULL;
  if (!c->result) {
    json_decref(msgs);
    return va__chat_answer(t, result);
  }
  va_await *ticket;
  int rc = va_turn_await(t, model_worded, NULL, &ticket);
  if (rc == 0)
    va_llm_ask(apps->llm, msgs, ticket);
  json_decref(msgs);
  return rc;
}

static int got_prefs(va_turn *t, void *user, int status, const void *data,
                     size_t len) {
  (void)user;
  chat *c = va_turn_self(t);
  json_t *prefs = status == 0 ? json_loadb(data, len, 0, NULL) : NULL;
  if (!va_prefs_zone(json_string_value(json_object_get(prefs, "timeZone")),
                     &c->zone))
    c->zone = (va_zone){NULL, 0};
  json_decref(prefs);
  return va__chat_apps(t)->llm ? ask_model(t, c) : understand(t, c);
}

/* ---- Methods ---- */

static int chat_say(va_turn *t, const void *arg, size_t len) {
  chat *c = va_turn_self(t);
  chat_reset(c);
  size_t idlen;
  const char *id = va_turn_id(t, &idlen);
  if (!va_task_key_ok(id, idlen))
    return VA_EINVAL; /* (the Dapr API can name any actor) */
  json_t *in = json_loadb(arg, len, 0, NULL);
  json_t *msg = json_object_get(in, "message");
  if (!json_is_string(msg) || va_json_chars(msg) == 0 ||
      va_json_chars(msg) > MESSAGE_MAX) {
    json_decref(in);
    return VA_EINVAL;
  }
  c->message = strdup(json_string_value(msg));
  json_decref(in);
  if (!c->message)
    return VA_ENOMEM;
  c->actions = json_array();
  c->via = "built-in";
  c->began_ms = va_wall_ms();
  int rc = va__chat_remember(t, "user", c->message, NULL);
  char user[ID_MAX + 1];
  me(t, user);
  if (rc == 0)
    rc = va_turn_call(t, va__chat_apps(t)->user, user, strlen(user),
                      VA_USER_PREFS, NULL, 0, got_prefs, NULL);
  return rc;
}

static int chat_history(va_turn *t, const void *arg, size_t len) {
  json_t *in = len ? json_loadb(arg, len, 0, NULL) : json_object();
  json_int_t before = json_integer_value(json_object_get(in, "before"));
  json_int_t limit = json_integer_value(json_object_get(in, "limit"));
  json_decref(in);
  va_journal messages = va__chat_messages(t);
  int64_t total = va_journal_total(t, &messages);
  json_t *page = va_journal_page(t, &messages, before, limit > 0 ? limit : 50);
  json_t *out = json_pack(
      "{s:I, s:I, s:o}", "total", (json_int_t)total, "kept",
      (json_int_t)(total < messages.limit ? total : (int64_t)messages.limit),
      "messages", page);
  int rc = va_reply_json(t, out);
  json_decref(out);
  return rc;
}

/* From a task's reminder: {text, task?, reminder?}. */
static int chat_notify(va_turn *t, const void *arg, size_t len) {
  json_t *in = json_loadb(arg, len, 0, NULL);
  const char *text = json_string_value(json_object_get(in, "text"));
  /* The rest of the body (task, reminder) goes into the message too. */
  int rc = text ? va__chat_remember(t, "assistant", text, in) : VA_EINVAL;
  json_decref(in);
  return rc;
}

int va_chat_register(va_apps *apps) {
  static const va_method methods[VA_CHAT_METHODS] = {
      [VA_CHAT_SAY] = {"say", chat_say},
      [VA_CHAT_HISTORY] = {"history", chat_history},
      [VA_CHAT_NOTIFY] = {"notify", chat_notify},
      [VA_CHAT_REMINDERS] = {"reminders", va__chat_reminders},
      [VA_CHAT_REMINDER_DEL] = {"delete_reminder", va__chat_reminder_del},
  };
  va_type_def def = {.name = "ChatActor",
                     .methods = methods,
                     .n_methods = VA_CHAT_METHODS,
                     .on_deactivate = chat_deactivate,
                     .on_reminder = va__chat_on_reminder,
                     .instance_size = sizeof(chat),
                     .user = apps};
  int type = va_register_type(apps->rt, &def);
  if (type < 0)
    return type;
  apps->chat = type;
  return 0;
}
