/* limits.h — every limit of the Task API's actors in one place (the
 * numbers docs/api.md lists), and the actors' own error codes: statuses
 * outside the runtime's table (vactor.h) that a method returns so that the
 * routes can say which limit was reached or which stored state is bad. */
#ifndef VA_APPS_LIMITS_H
#define VA_APPS_LIMITS_H

#include <stdint.h>

enum {
  /* Ids: users, tasks, members; reminder names. Bytes of [A-Za-z0-9._~-]. */
  VA_APPS_ID_MAX = 128,
  /* A TaskActor's id, "<owner>:<name>" (task_doc.h): two ids and a colon. */
  VA_APPS_TASK_KEY_MAX = 2 * VA_APPS_ID_MAX + 1,
  VA_APPS_REMINDER_NAME_MAX = 128,
  /* A task's fields, in characters (Unicode code points, as the errors
   * say: 200 "é" are a title, though 400 bytes). */
  VA_APPS_TITLE_MAX = 200,
  VA_APPS_DESCRIPTION_MAX = 4000,
  VA_APPS_MEMBERS_MAX = 64,   /* members per task, the owner aside */
  VA_APPS_TAGS_MAX = 20,      /* tags per task, each of... */
  VA_APPS_TAG_MAX = 32,       /* ...1 to this many characters */
  VA_APPS_REMINDERS_MAX = 20, /* reminders per task */
  /* Reminders of the tasks a user owns, all together: their fires all go
   * to the owner's chat (user_list.h says how they are counted). */
  VA_APPS_REMINDERS_PER_USER_MAX = 500,
  VA_APPS_REMINDER_MESSAGE_MAX = 1000,
  VA_APPS_MINUTES_MAX = 100000, /* per log call */
  /* Tasks a user owns or is a member of (the entries of their list). */
  VA_APPS_TASKS_PER_USER_MAX = 10000,
  /* Chat: a message, and the "remind me" reminders a user has pending;
   * the history kept is vactord's --chat-history (default 200). */
  VA_APPS_CHAT_MESSAGE_MAX = 1000,
  VA_APPS_CHAT_MESSAGE_BYTES_MAX = 4 * VA_APPS_CHAT_MESSAGE_MAX, /* UTF-8 */
  VA_APPS_CHAT_REMINDERS_MAX = 100,
  /* The most entries a page of a history or a chat holds (?limit=). */
  VA_APPS_PAGE_MAX = 1000,
};

/* A stored task's version stays below 2^53 so that every JSON reader
 * (doubles) reads it exactly; a stored one outside [1, this] is corrupt. */
#define VA_APPS_VERSION_MAX ((int64_t)9007199254740991) /* 2^53 - 1 */

/* A journal's stored count above this is corrupt (and read as 0). */
#define VA_APPS_JOURNAL_TOTAL_MAX ((int64_t)1 << 62)

/* The actors' statuses beyond vactor.h's (which end at -19). The Task API
 * answers them with the HTTP status in parentheses. */
enum {
  VA_APPS_ECORRUPT = -1001,         /* stored state is not what the actor
                                       writes (409 ERR_TASK_CORRUPT) */
  VA_APPS_ELIMIT_TASKS = -1002,     /* 409 ERR_LIMIT_TASKS */
  VA_APPS_ELIMIT_MEMBERS = -1003,   /* 409 ERR_LIMIT_MEMBERS */
  VA_APPS_ELIMIT_REMINDERS = -1004, /* 409 ERR_LIMIT_REMINDERS */
  VA_APPS_ECORRUPT_LIST = -1005,    /* a user's stored list is not what
                                       UserActor writes (409
                                       ERR_STATE_CORRUPT) */
  VA_APPS_EPERIOD = -1006,          /* a reminder's period is under the
                                       runtime's minimum (400
                                       ERR_BAD_PERIOD) */
  VA_APPS_EVERSION = -1007,         /* a task at VA_APPS_VERSION_MAX cannot
                                       change again (409
                                       ERR_VERSION_EXHAUSTED) */
  /* A task's owner has VA_APPS_REMINDERS_PER_USER_MAX reminders already
   * (409 ERR_LIMIT_REMINDERS). */
  VA_APPS_ELIMIT_USER_REMINDERS = -1008,
  /* A user's stored reminder count ("rn", "r:<task>") is not what
   * UserActor writes (409 ERR_STATE_CORRUPT). */
  VA_APPS_ECORRUPT_REMINDERS = -1009,
  VA_APPS_ENO_REMINDER = -1010, /* the task has no reminder of that name
                                   (404 ERR_REMINDER_NOT_FOUND) */
  VA_APPS_ENO_MEMBER = -1011,   /* the user is not one of the task's
                                   members (404 ERR_MEMBER_NOT_FOUND) */
  VA_APPS_EOWNER = -1012,       /* the task's owner named as its member
                                   (409 ERR_OWNER_IS_NOT_A_MEMBER) */
};

#endif
