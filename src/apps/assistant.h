/* assistant.h — the built-in assistant's understanding of a chat message:
 * a pure, offline parser from text to an intent (what task operation the
 * user asks for). ChatActor carries the intent out with actor calls. It
 * takes outside bytes, so it has a fuzz target (tests/fuzz). */
#ifndef VA_APPS_ASSISTANT_H
#define VA_APPS_ASSISTANT_H

#include "limits.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum va_intent_kind {
  VA_INTENT_UNKNOWN,
  VA_INTENT_HELP,     /* "help" */
  VA_INTENT_LIST,     /* "list", "list done tasks", "show my tasks" */
  VA_INTENT_ADD,      /* "add buy milk due tomorrow at 10:00" */
  VA_INTENT_COMPLETE, /* "complete buy milk", "done t1" */
  VA_INTENT_LOG,      /* "log 30 minutes on buy milk" */
  VA_INTENT_REMIND,   /* "remind me in 10 minutes to call Bob" */
} va_intent_kind;

/* A text in bytes: a title's most characters, at up to 4 bytes each. A
 * longer one is not cut: too_long says so, the text is left empty. */
enum { VA_INTENT_TEXT_MAX = 4 * VA_APPS_TITLE_MAX };

typedef struct va_intent {
  va_intent_kind kind;
  /* ADD: the title; COMPLETE, LOG: the task (its id or words of its
   * title); REMIND: what to remind of. NUL-terminated. */
  char text[VA_INTENT_TEXT_MAX + 1];
  bool too_long;   /* the text was over VA_INTENT_TEXT_MAX bytes */
  char status[16]; /* LIST: "open", "done" or "" (all) */
  int64_t at_ms;   /* ADD: due time (0: none); REMIND: when */
  int64_t minutes; /* LOG */
} va_intent;

/* Reads msg (len bytes, any bytes) as said at now_ms by a user whose
 * clock is tz_minutes east of UTC ("at 17:00" is their 17:00). Always
 * fills *out; kind VA_INTENT_UNKNOWN when nothing fits. */
void va_assistant_parse(const char *msg, size_t len, int64_t now_ms,
                        int tz_minutes, va_intent *out);

/* What the assistant answers to "help". */
extern const char va_assistant_help[];

#endif
