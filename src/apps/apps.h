/* apps.h — the Task API's actor types (TaskActor, UserActor, ChatActor):
 * their type ids and method ids, registered together because they call
 * one another. Method ids are the indexes below (each type's method table
 * is in this order). Bodies are JSON objects unless said otherwise; the
 * calling user is "user" in the body (the routes put it there). */
#ifndef VA_APPS_APPS_H
#define VA_APPS_APPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <vactor.h>

/* TaskActor, one per task (task.c). */
enum {
  VA_TASK_CREATE,       /* {user, title, description?, priority?, due?,
                           members?} -> the task; VA_EEXIST */
  VA_TASK_GET,          /* {user} -> the task */
  VA_TASK_UPDATE,       /* {user, ifMatch?, fields...} -> the task;
                           VA_ECONFLICT when ifMatch is not the version */
  VA_TASK_DELETE,       /* {user, ifMatch?}; owner only (VA_EPERM) */
  VA_TASK_COMPLETE,     /* {user} -> the task, status "done" */
  VA_TASK_HISTORY,      /* {user, before?, limit?} -> {total, entries} */
  VA_TASK_MEMBERS,      /* {user} -> {owner, members} */
  VA_TASK_ADD_MEMBER,   /* {user, member}; owner only */
  VA_TASK_DEL_MEMBER,   /* {user, member}; owner only */
  VA_TASK_LOG,          /* va_task_log (binary) -> {minutes} */
  VA_TASK_REMINDER_SET, /* {user, name, dueTime, period?, ttl?, message?} */
  VA_TASK_REMINDER_GET, /* {user, name} -> the reminder */
  VA_TASK_REMINDER_DEL, /* {user, name} */
  VA_TASK_UNLIST,       /* {user, members?}: after a failed create, takes
                           the task off those users' lists unless it
                           exists */
  /* {owner, name}: queued by a new reminder's set, so it runs after it;
   * releases owner's charge for the reminder unless the task has it (the
   * set's save failed). */
  VA_TASK_SETTLE_REMINDER,
  VA_TASK_REMINDER_LIST, /* {user} -> {reminders: [the reminder, ...]} */
  VA_TASK_METHODS
};

/* UserActor, one per user (user.c). */
enum {
  VA_USER_UPSERT, /* a task's summary {id, title, status, ...} */
  VA_USER_REMOVE, /* body: the task id (bytes) */
  /* {status?, priority?, q?, role?, tag?, overdue?, due_before?,
   * due_after?, sort?, limit?, cursor?} -> {tasks: [...], count, next} */
  VA_USER_LIST,
  VA_USER_PREFS,     /* -> {timeZone, ...} */
  VA_USER_SET_PREFS, /* {timeZone?, ...} -> the preferences */
  /* {task, name, current?}: counts reminder name of a task the user owns
   * (nothing if it is counted); current (the task's other reminders)
   * drops the task's counted ones that are not in it.
   * VA_APPS_ELIMIT_USER_REMINDERS past the limit, and
   * VA_APPS_ECORRUPT_REMINDERS. */
  VA_USER_CHARGE_REMINDER,
  /* {task, names?}: uncounts those reminders of the task (all of its
   * reminders without names); names not counted are skipped. */
  VA_USER_RELEASE_REMINDERS,
  VA_USER_METHODS
};

/* ChatActor, one per user (chat.c). */
enum {
  VA_CHAT_SAY,          /* {message} -> {reply, actions} */
  VA_CHAT_HISTORY,      /* {before?, limit?} -> {total, kept, messages} */
  VA_CHAT_NOTIFY,       /* {text, task?}: an assistant message (reminders) */
  VA_CHAT_REMINDERS,    /* {} -> {reminders: [{name, text, next}]}: those
                           "remind me ..." set */
  VA_CHAT_REMINDER_DEL, /* {name}: cancels one (VA_APPS_ENO_REMINDER) */
  VA_CHAT_METHODS
};

/* The body of VA_TASK_LOG: the minutes, then the user's id (not NUL-ended):
 * binary, because it is the hot operation. */
typedef struct va_task_log {
  int64_t minutes;
  char user[];
} va_task_log;

typedef struct va_llm va_llm;

typedef struct va_apps {
  va_runtime *rt;
  int task, user, chat;   /* type ids */
  uint32_t chat_limit;    /* chat messages kept per user */
  uint32_t history_limit; /* history entries kept per task */
  va_llm *llm;            /* NULL: the rule-based assistant only */
  /* The runtime's call timeout (0: 60 s, as va_runtime_config's): the
   * model's second request is made only when it can end within it. */
  uint64_t call_timeout_ms;
} va_apps;

/* Registers the three types (before va_runtime_start). apps must outlive
 * the runtime; rt, chat_limit, history_limit and llm are set by the
 * caller first (0 limits: 200 and 100). apps is each type's user pointer
 * (va_turn_type_user): their methods find the limits and one another's
 * type ids there, so every runtime in a process has a va_apps of its own
 * and nothing of it is process-wide. */
int va_apps_register(va_apps *apps);

/* Replies v (borrowed; NULL: out of memory) as compact JSON. */
int va_reply_json(va_turn *t, json_t *v);
/* Whether v is the JSON string s. State is read as untrusted (the Dapr
 * API can write any of it), so comparisons go through this. */
bool va_json_is(json_t *v, const char *s);
/* v's string, or "" when v is not a string. */
const char *va_json_text(json_t *v);

/* Each file's part of va_apps_register. */
int va_task_register(va_apps *apps);
int va_user_register(va_apps *apps);
int va_chat_register(va_apps *apps);

#endif
