/* chat_impl.h — what the ChatActor's two files share (chat.c: messages,
 * the assistant and the task operations; chat_reminders.c: the user's own
 * "remind me" reminders): the activation's state for the message being
 * answered, and the helpers that answer it. Internal to src/apps. */
#ifndef VA_APPS_CHAT_IMPL_H
#define VA_APPS_CHAT_IMPL_H

#include "apps.h"
#include "assistant.h"
#include "journal.h"
#include "limits.h"
#include "tz.h"
#include <jansson.h>
#include <stdint.h>
#include <vactor.h>

enum {
  MESSAGE_MAX = VA_APPS_CHAT_MESSAGE_MAX,
  ID_MAX = VA_APPS_ID_MAX,
  KEY_MAX = VA_APPS_TASK_KEY_MAX
};

/* The message being answered. */
typedef struct chat {
  char *message; /* owned; kept until the next message or deactivation */
  va_zone zone;  /* the user's time zone (UTC when they named none) */
  va_intent intent;
  char task[KEY_MAX + 1]; /* the task the intent is about, once found, as
                            the user calls it (task_doc.h) */
  json_t *actions;        /* what was done, for the reply */
  const char *via;        /* "built-in" or "model" */
  char *note;             /* the model's own words, or why it was not used */
  /* After the model called a tool: the messages it was sent and its call,
   * to give it the result (owned; NULL otherwise); and that result, kept
   * should its second answer fail (owned). */
  json_t *asked, *call;
  char *result;
  int64_t began_ms; /* when the message came (wall clock) */
} chat;

/* The Task API this chat belongs to (the type's user pointer). */
const va_apps *va__chat_apps(va_turn *t);
/* The chat's messages. */
va_journal va__chat_messages(va_turn *t);
/* Appends a message (role "user" or "assistant", text, and extra's
 * fields, borrowed; may be NULL) to the chat's messages. */
int va__chat_remember(va_turn *t, const char *role, const char *text,
                      json_t *extra);
/* The end of every answer: records it and replies {reply, actions, via}
 * (after a tool call of the model, the model words it first). */
int va__chat_answer(va_turn *t, const char *text);
int va__chat_answerf(va_turn *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A time as the user in zone reads it: "2026-11-26 17:00 (+01:00)". */
void va__chat_local_time(int64_t ms, const va_zone *zone, char *out,
                         size_t cap);
/* Adds action (new reference, taken) to what the reply says was done. */
void va__chat_act(chat *c, json_t *action);

/* chat_reminders.c: the intents about the user's own reminders... */
int va__chat_remind(va_turn *t, chat *c);
int va__chat_list_reminders(va_turn *t, chat *c);
int va__chat_cancel_reminder(va_turn *t, chat *c);
/* ...their fire, and the methods that list and cancel them. */
int va__chat_on_reminder(va_turn *t, const char *name, const void *data,
                         size_t len);
int va__chat_reminders(va_turn *t, const void *arg, size_t len);
int va__chat_reminder_del(va_turn *t, const void *arg, size_t len);

#endif
