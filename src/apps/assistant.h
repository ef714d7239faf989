/* assistant.h — the built-in assistant's understanding of a chat message:
 * a pure, offline parser from text to an intent (what task operation the
 * user asks for). ChatActor carries the intent out with actor calls. It
 * takes outside bytes, so it has a fuzz target (tests/fuzz). Dates and
 * times ("next monday at 9am", "by friday", "in 2 weeks") are when.h's. */
#ifndef VA_APPS_ASSISTANT_H
#define VA_APPS_ASSISTANT_H

#include "limits.h"
#include "tz.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a message asks for. "The task" below is named as the user wrote
 * it: an id ("t1") or words of its title ("buy milk"); the caller finds
 * it (a leading "the task", "task" or "the" is dropped). */
typedef enum va_intent_kind {
  VA_INTENT_UNKNOWN,
  VA_INTENT_HELP,           /* "help" */
  VA_INTENT_LIST,           /* "list", "list done tasks", "what's due today?" */
  VA_INTENT_ADD,            /* "add buy milk due tomorrow at 10:00" */
  VA_INTENT_COMPLETE,       /* "complete buy milk", "done t1" */
  VA_INTENT_LOG,            /* "log 30 minutes on buy milk" */
  VA_INTENT_REMIND,         /* "remind me in 10 minutes to call Bob" */
  VA_INTENT_DELETE,         /* "delete buy milk", "remove task t1" */
  VA_INTENT_RENAME,         /* "rename buy milk to buy oat milk" */
  VA_INTENT_DUE,            /* "move buy milk to friday", "clear the due date
                               of buy milk" */
  VA_INTENT_LIST_REMINDERS, /* "list reminders", "what are my reminders" */
  VA_INTENT_CANCEL_REMINDER, /* "cancel reminder 2", "cancel the reminder
                                to call bob" */
} va_intent_kind;

/* A text in bytes: a title's most characters, at up to 4 bytes each. A
 * longer one is not cut: too_long says so, the text is left empty. */
enum { VA_INTENT_TEXT_MAX = 4 * VA_APPS_TITLE_MAX };

/* A date phrase kept to be quoted back, in bytes. A longer one is cut at
 * a character's end and ends in "..." (it is only quoted, never used). */
enum { VA_INTENT_DATE_MAX = 120 };

/* Every field is zero (false, "", 0) unless its kind says otherwise.
 * Texts are NUL-terminated, as the user wrote them (case kept, spaces
 * and commas around them trimmed, one pair of quotes around them taken
 * off). */
typedef struct va_intent {
  va_intent_kind kind;
  /* ADD: the title; COMPLETE, LOG, DELETE, RENAME, DUE: the task;
   * REMIND: what to remind of; CANCEL_REMINDER: words of the reminder's
   * text ("" when it is named by number). */
  char text[VA_INTENT_TEXT_MAX + 1];
  /* RENAME: the new title. */
  char title[VA_INTENT_TEXT_MAX + 1];
  bool too_long; /* text or title was over VA_INTENT_TEXT_MAX bytes (and
                    is ""): the caller must do nothing and say so */
  /* LIST: "open", "done" or "" (all). "what's due ..." and "overdue"
   * mean "open". */
  char status[16];
  /* LIST: only tasks with a due time in [from_ms, to_ms) when window
   * ("today", "tomorrow", "this week", "next week": whole local days,
   * weeks from Monday 00:00). */
  bool window;
  int64_t from_ms, to_ms;
  /* LIST: only open tasks due before now ("what is overdue"); status is
   * "open" then too. */
  bool overdue;
  /* ADD: the due time (0: none); REMIND: when; DUE: the new due time (0:
   * take the due time away). Milliseconds since the epoch, UTC. */
  int64_t at_ms;
  int64_t minutes; /* LOG: 1 or more */
  /* CANCEL_REMINDER by number: 1 is the first of the user's pending
   * reminders in the order the reminders route lists them; 0 when named
   * by words (text). */
  int reminder;
  /* ADD, REMIND, DUE: a phrase that looked like a date but was not
   * understood ("next blursday", "at 25:00"), as written; at_ms is 0 and
   * the caller must not act, but say "I did not understand the date
   * ...". "" otherwise. */
  char bad_date[VA_INTENT_DATE_MAX + 1];
} va_intent;

/* Reads msg (len bytes, any bytes; the first
 * VA_APPS_CHAT_MESSAGE_BYTES_MAX are read) as said at now_ms by a user in
 * zone (borrowed for the call): "at 17:00" is their 17:00. Always fills
 * *out; kind VA_INTENT_UNKNOWN when nothing fits. */
void va_assistant_read(const char *msg, size_t len, int64_t now_ms,
                       const va_zone *zone, va_intent *out);

/* What the assistant answers to "help". */
extern const char va_assistant_help[];

#endif
