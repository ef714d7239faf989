/* assistant.c — see assistant.h. The message is lower-cased into a
 * buffer (the original kept for texts, at the same offsets) and read word
 * by word with a cursor: eat() takes words if they come next. A command
 * word comes first; dates are found as the longest phrase that runs to
 * the end of the message (or up to "to" in "remind me <when> to ...") and
 * reads as a date by when.h, so that "look at the roof" stays a title.
 * Everything is in fixed buffers on the stack; a mistyped command word is
 * mended once (no deeper recursion). */
#include "assistant.h"
#include "../base/assert.h"
#include "when.h"
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char va_assistant_help[] =
    "I can manage your tasks. Try: \"add call the dentist next monday at "
    "9am\", \"list\" (or \"what's due today?\", \"what is overdue\", \"list "
    "done tasks\"), \"complete buy milk\", \"delete buy milk\", \"rename "
    "buy milk to buy oat milk\", \"move buy milk to friday\", \"log 30 "
    "minutes on buy milk\", \"remind me tomorrow at 9 to pay rent\", \"list "
    "reminders\", \"cancel reminder 2\". Dates like today, tonight, "
    "tomorrow morning, friday at 5pm, next week, in 3 days, the 24th, dec "
    "24 or 2026-12-24 are read in your time zone.";

enum { MSG_MAX = VA_APPS_CHAT_MESSAGE_BYTES_MAX, REMINDER_NUMBER_MAX = 99999 };

typedef struct reader {
  const char *low;  /* lower-cased message */
  const char *orig; /* the message as written, same offsets */
  size_t at, len;
  int64_t now_ms;
  const va_zone *zone;
} reader;

/* ---- Words ---- */

static void skip_spaces(reader *r) {
  while (r->at < r->len && r->low[r->at] == ' ')
    r->at++;
}

/* Takes the words of `words` (lower case, split by single spaces) if they
 * come next, each whole. */
static bool eat(reader *r, const char *words) {
  size_t start = r->at;
  while (*words) {
    size_t n = strcspn(words, " ");
    if (r->at + n > r->len || memcmp(r->low + r->at, words, n) ||
        (r->at + n < r->len && r->low[r->at + n] != ' ')) {
      r->at = start;
      return false;
    }
    r->at += n;
    skip_spaces(r);
    words += n + (words[n] == ' ');
  }
  return true;
}

static bool eat_any(reader *r, const char *const *words) {
  for (; *words; words++)
    if (eat(r, *words))
      return true;
  return false;
}

/* Whether the word at i is one of words. */
static bool word_is(const reader *r, size_t i, const char *const *words) {
  reader t = *r;
  t.at = i;
  return eat_any(&t, words);
}

/* Whether a word starts at i (after a space, in the message). */
static bool word_starts(const reader *r, size_t i) {
  return i < r->len && r->low[i] != ' ' && (i == 0 || r->low[i - 1] == ' ');
}

static bool number(reader *r, int64_t *out) {
  size_t start = r->at;
  int64_t v = 0;
  while (r->at < r->len && isdigit((unsigned char)r->low[r->at]) &&
         r->at - start < 9)
    v = v * 10 + (r->low[r->at++] - '0');
  if (r->at == start)
    return false;
  *out = v;
  return true;
}

/* A unit of time after a number: minutes per unit, or 0. Also takes a
 * unit glued to the number ("30m", "2h"). */
static int64_t unit_minutes(reader *r) {
  static const char *const MINUTES[] = {"minutes", "minute", "mins",
                                        "min",     "m",      NULL};
  static const char *const HOURS[] = {"hours", "hour", "hrs", "hr", "h", NULL};
  static const char *const DAYS[] = {"days", "day", "d", NULL};
  if (eat_any(r, MINUTES))
    return 1;
  if (eat_any(r, HOURS))
    return 60;
  if (eat_any(r, DAYS))
    return 1440;
  return 0;
}

/* "N unit": an amount of minutes (LOG). */
static bool amount(reader *r, int64_t *minutes) {
  size_t start = r->at;
  int64_t n, unit;
  if (number(r, &n) && (skip_spaces(r), (unit = unit_minutes(r)) > 0) &&
      n > 0) {
    *minutes = n * unit;
    return true;
  }
  r->at = start;
  return false;
}

/* ---- Texts ---- */

/* [*from, *to) of the original without spaces and commas around it, nor
 * one pair of quotes. */
static void trim(const reader *r, size_t *from, size_t *to) {
  while (*from < *to && strchr(" ,", r->orig[*from]))
    (*from)++;
  while (*to > *from && strchr(" ,", r->orig[*to - 1]))
    (*to)--;
  if (*to - *from >= 2 && strchr("\"'", r->orig[*from]) &&
      r->orig[*to - 1] == r->orig[*from]) {
    (*from)++;
    (*to)--;
  }
}

/* Copies the original text of [from, to), trimmed, into dst (room for
 * VA_INTENT_TEXT_MAX + 1); one too long to keep whole is not kept
 * (*too_long). */
static void copy_text(const reader *r, size_t from, size_t to, char *dst,
                      bool *too_long) {
  trim(r, &from, &to);
  bool over = to - from > VA_INTENT_TEXT_MAX;
  size_t n = over ? 0 : to - from;
  *too_long = *too_long || over;
  memcpy(dst, r->orig + from, n);
  dst[n] = 0;
}

static void take_text(const reader *r, size_t from, size_t to, va_intent *out) {
  copy_text(r, from, to, out->text, &out->too_long);
}

/* Whether out has a text (or one too long to keep). */
static bool has_text(const va_intent *out) {
  return out->text[0] || out->too_long;
}

/* Drops a leading "the task", "task" or "the" before a task's name, when
 * words follow it. */
static void skip_task_word(reader *r) {
  static const char *const TASK[] = {"the task", "task", "the", NULL};
  size_t start = r->at;
  if (eat_any(r, TASK) && r->at == r->len)
    r->at = start;
}

/* Keeps [from, to) of the original as out->bad_date, cut with "..." at a
 * character's end when longer than VA_INTENT_DATE_MAX. */
static void note_bad_date(const reader *r, size_t from, size_t to,
                          va_intent *out) {
  trim(r, &from, &to);
  size_t n = to - from;
  if (n > VA_INTENT_DATE_MAX) {
    n = VA_INTENT_DATE_MAX - 3;
    while (n && ((unsigned char)r->orig[from + n] & 0xC0) == 0x80)
      n--; /* not inside a UTF-8 character */
  }
  memcpy(out->bad_date, r->orig + from, n);
  if (n < to - from)
    memcpy(out->bad_date + n, "...", 4);
  else
    out->bad_date[n] = 0;
  out->at_ms = 0;
}

/* ---- Dates in a message ---- */

/* Reads [from, to) as a date phrase. */
static va_when_verdict date_in(const reader *r, size_t from, size_t to,
                               int64_t *at_ms) {
  while (to > from && r->low[to - 1] == ' ')
    to--;
  return va_when_read(r->low + from, to - from, r->now_ms, r->zone, at_ms);
}

/* Where a date phrase that runs to the end starts, after from (a text
 * comes first): the first word from which the rest reads as a date
 * (out->at_ms) or as a bad one (out->bad_date: "meet next blursday at 9"
 * is a bad date, not "at 9" in a title "meet next blursday"). r->len when
 * neither. */
static size_t trailing_date(const reader *r, size_t from, va_intent *out) {
  for (size_t i = from + 1; i < r->len; i++) {
    if (!word_starts(r, i))
      continue;
    int64_t at;
    va_when_verdict v = date_in(r, i, r->len, &at);
    if (v == VA_WHEN_OK)
      out->at_ms = at;
    if (v == VA_WHEN_BAD)
      note_bad_date(r, i, r->len, out);
    if (v != VA_WHEN_NONE)
      return i;
  }
  return r->len;
}

/* "<task> <mark> <date>" in [r->at, len), mark one of marks ("to" in
 * "move X to friday"): the task's end. The first mark after which a date
 * reads wins (out->at_ms); else the first after which a bad one does, or
 * else the last mark: what follows it is out->bad_date, as the command
 * needs a date. r->len when no mark follows a task. */
static size_t date_after(const reader *r, const char *const *marks,
                         va_intent *out) {
  size_t bad = r->len, last = r->len;
  for (size_t i = r->at + 1; i < r->len; i++) {
    if (!word_starts(r, i) || !word_is(r, i, marks))
      continue;
    reader t = *r;
    t.at = i;
    eat_any(&t, marks);
    int64_t at;
    va_when_verdict v = date_in(r, t.at, r->len, &at);
    if (v == VA_WHEN_OK) {
      out->at_ms = at;
      return i;
    }
    if (v == VA_WHEN_BAD && bad == r->len)
      bad = i;
    last = i;
  }
  size_t mark = bad < r->len ? bad : last;
  if (mark < r->len) {
    reader t = *r;
    t.at = mark;
    eat_any(&t, marks);
    note_bad_date(r, t.at, r->len, out);
  }
  return mark;
}

/* ---- Commands ---- */

static void parse_add(reader *r, va_intent *out) {
  static const char *const TASK[] = {"a new task", "a task", "new task",
                                     "task",       "a",      NULL};
  eat_any(r, TASK);
  size_t end = trailing_date(r, r->at, out);
  take_text(r, r->at, end, out);
  out->kind = has_text(out) ? VA_INTENT_ADD : VA_INTENT_UNKNOWN;
}

/* Sets LIST's window to local days [from, to) after today. */
static bool set_window(const reader *r, int from, int to, va_intent *out) {
  if (out->window)
    return false; /* two windows: not guessed at */
  out->window = true;
  out->from_ms = va_when_day_start(r->now_ms, r->zone, from);
  out->to_ms = va_when_day_start(r->now_ms, r->zone, to);
  return true;
}

/* One word (or two) of a list's filter: whether it was one. *meant: it
 * says what to list (not a filler word). */
static bool list_word(reader *r, va_intent *out, bool *meant, bool *due,
                      bool *reminders) {
  static const char *const FILLER[] = {
      "my",     "all",   "the",   "of",   "for", "me",   "i",
      "have",   "are",   "is",    "that", "on",  "in",   "to",
      "do",     "any",   "there", "list", "got", "i've", "what",
      "what's", "whats", "which", "ones", NULL};
  static const char *const TASKS[] = {"tasks", "task",   "todos", "to-dos",
                                      "items", "things", NULL};
  static const char *const OVERDUE[] = {"overdue", "late", "past due", NULL};
  static const char *const TODAY[] = {"today", "today's", "todays", NULL};
  static const char *const TOMORROW[] = {"tomorrow", "tomorrow's", "tomorrows",
                                         NULL};
  static const char *const THIS_WEEK[] = {"this week", "this week's",
                                          "this weeks", NULL};
  static const char *const NEXT_WEEK[] = {"next week", "next week's",
                                          "next weeks", NULL};
  static const char *const REMINDERS[] = {"reminders", "reminder", NULL};
  int wd = va_when_weekday(r->now_ms, r->zone);
  *meant = true;
  if (eat_any(r, TASKS))
    return true;
  if (eat_any(r, REMINDERS))
    return *reminders = true;
  if (eat(r, "due"))
    return *due = true;
  if (eat_any(r, OVERDUE))
    return out->overdue = true;
  if (eat_any(r, TODAY))
    return set_window(r, 0, 1, out);
  if (eat_any(r, TOMORROW))
    return set_window(r, 1, 2, out);
  if (eat_any(r, THIS_WEEK))
    return set_window(r, -wd, 7 - wd, out);
  if (eat_any(r, NEXT_WEEK))
    return set_window(r, 7 - wd, 14 - wd, out);
  *meant = false;
  return eat_any(r, FILLER);
}

/* A status word at the cursor ("open", "done"): sets out->status; whether
 * there was one (two different ones: UNKNOWN, via *clash). */
static bool status_word(reader *r, va_intent *out, bool *clash) {
  static const char *const OPEN[] = {"open",        "pending",    "todo",
                                     "undone",      "incomplete", "unfinished",
                                     "outstanding", NULL};
  static const char *const DONE[] = {"done",   "completed", "finished",
                                     "closed", "complete",  NULL};
  const char *status = eat_any(r, OPEN)   ? "open"
                       : eat_any(r, DONE) ? "done"
                                          : NULL;
  if (!status)
    return false;
  *clash = *clash || (out->status[0] && strcmp(out->status, status));
  strcpy(out->status, status);
  return true;
}

/* After "list", "show", "what's" ...: filters, in any order. `asked`: a
 * question ("what is"), which must name something to list. */
static void parse_list(reader *r, bool asked, va_intent *out) {
  bool meant_any = false, due = false, reminders = false, clash = false;
  while (r->at < r->len) {
    bool meant;
    if (status_word(r, out, &clash)) {
      meant_any = true;
      continue;
    }
    if (!list_word(r, out, &meant, &due, &reminders))
      return; /* a word that is no filter: not a list */
    meant_any = meant_any || meant;
  }
  if (clash || (asked && !meant_any))
    return;
  if (reminders) {
    if (!out->status[0] && !out->window && !out->overdue && !due)
      out->kind = VA_INTENT_LIST_REMINDERS;
    return;
  }
  if ((due || out->overdue) && !out->status[0])
    strcpy(out->status, "open");
  out->kind = out->overdue && strcmp(out->status, "open") ? VA_INTENT_UNKNOWN
                                                          : VA_INTENT_LIST;
}

/* "log N unit (on|to|for) task". */
static void parse_log(reader *r, va_intent *out) {
  static const char *const PREP[] = {"on", "to", "for", NULL};
  if (!amount(r, &out->minutes) || !eat_any(r, PREP))
    return;
  skip_task_word(r);
  take_text(r, r->at, r->len, out);
  out->kind = has_text(out) ? VA_INTENT_LOG : VA_INTENT_UNKNOWN;
}

/* "remind me <when> to X": the first "to"/"about" before which the words
 * read as a date, else the first before which they read as a bad one
 * (out->bad_date). */
static void remind_when_first(reader *r, va_intent *out) {
  static const char *const TO[] = {"to", "about", "that", NULL};
  size_t split = r->len;
  bool understood = false;
  for (size_t i = r->at + 1; i < r->len && !understood; i++) {
    if (!word_starts(r, i) || !word_is(r, i, TO))
      continue;
    int64_t at;
    va_when_verdict v = date_in(r, r->at, i, &at);
    if (v == VA_WHEN_OK) {
      out->at_ms = at;
      understood = true;
    }
    if (understood || (v == VA_WHEN_BAD && split == r->len))
      split = i;
  }
  if (split == r->len)
    return;
  if (!understood)
    note_bad_date(r, r->at, split, out);
  reader t = *r;
  t.at = split;
  eat_any(&t, TO);
  take_text(r, t.at, r->len, out);
}

/* "remind me <when> to X" or "remind me to X <when>". */
static void parse_remind(reader *r, va_intent *out) {
  eat(r, "me");
  if (eat(r, "to") || eat(r, "about")) {
    size_t start = r->at;
    size_t end = trailing_date(r, start, out);
    if (end == r->len)
      return; /* no time: not a reminder */
    take_text(r, start, end, out);
  } else {
    remind_when_first(r, out);
  }
  out->kind = has_text(out) ? VA_INTENT_REMIND : VA_INTENT_UNKNOWN;
}

/* "mark X as done" / "mark X done". */
static void parse_mark(reader *r, va_intent *out) {
  size_t end = r->len;
  static const char *const TAILS[] = {
      " as done", " as complete", " as completed", " done", " complete", NULL};
  skip_task_word(r);
  for (const char *const *tail = TAILS; *tail; tail++) {
    size_t n = strlen(*tail);
    if (end - r->at > n && !memcmp(r->low + end - n, *tail, n)) {
      take_text(r, r->at, end - n, out);
      out->kind = has_text(out) ? VA_INTENT_COMPLETE : VA_INTENT_UNKNOWN;
      return;
    }
  }
}

/* After "cancel", "delete", ...: "[the|my] reminder (N | #N | [to|about]
 * words)". Whether the words were about a reminder. */
static bool parse_cancel_reminder(reader *r, va_intent *out) {
  static const char *const THE[] = {"the", "my", "that", NULL};
  static const char *const REMINDER[] = {"reminder", "reminders", NULL};
  static const char *const ABOUT[] = {"to", "about", "for", "of", "that", NULL};
  size_t start = r->at;
  eat_any(r, THE);
  if (!eat_any(r, REMINDER)) {
    r->at = start;
    return false;
  }
  reader t = *r;
  int64_t n;
  eat(&t, "number");
  if (t.at < t.len && t.low[t.at] == '#')
    t.at++;
  if (number(&t, &n) && t.at == t.len) {
    if (n >= 1 && n <= REMINDER_NUMBER_MAX) {
      out->reminder = (int)n;
      out->kind = VA_INTENT_CANCEL_REMINDER;
    }
    return true;
  }
  eat_any(r, ABOUT);
  take_text(r, r->at, r->len, out);
  out->kind = has_text(out) ? VA_INTENT_CANCEL_REMINDER : VA_INTENT_UNKNOWN;
  return true;
}

/* "the due date of X", "due date of X", "deadline of X": after "clear",
 * "remove", "change", "set". Whether they came (the cursor at X). */
static bool due_date_of(reader *r) {
  static const char *const DUE[] = {
      "the due date", "due date", "the due time", "due time", "the deadline",
      "deadline",     "the due",  "due",          "the date", NULL};
  static const char *const OF[] = {"of", "for", "on", "from", NULL};
  size_t start = r->at;
  if (eat_any(r, DUE) && eat_any(r, OF) && r->at < r->len)
    return true;
  r->at = start;
  return false;
}

/* After "delete" / "remove": a reminder, a due date, or a task. */
static void parse_delete(reader *r, va_intent *out) {
  if (parse_cancel_reminder(r, out))
    return;
  if (due_date_of(r)) {
    take_text(r, r->at, r->len, out);
    out->kind = has_text(out) ? VA_INTENT_DUE : VA_INTENT_UNKNOWN;
    return;
  }
  skip_task_word(r);
  take_text(r, r->at, r->len, out);
  out->kind = has_text(out) ? VA_INTENT_DELETE : VA_INTENT_UNKNOWN;
}

/* "X to Y" after "rename": X ends at its closing quote when it starts
 * with one, else at the first "to" (or "as"). */
static void parse_rename(reader *r, va_intent *out) {
  static const char *const TO[] = {"to", "as", NULL};
  skip_task_word(r);
  size_t from = r->at, end = from + 1;
  char quote = r->orig[from];
  if (quote == '"' || quote == '\'') {
    while (end < r->len && r->orig[end] != quote)
      end++;
    if (end == r->len)
      return;
    r->at = ++end; /* past the closing quote */
    skip_spaces(r);
    if (!eat_any(r, TO))
      return;
  } else {
    while (end < r->len && !(word_starts(r, end) && word_is(r, end, TO)))
      end++;
    if (end >= r->len)
      return;
    r->at = end;
    eat_any(r, TO);
  }
  take_text(r, from, end, out);
  copy_text(r, r->at, r->len, out->title, &out->too_long);
  out->kind = has_text(out) && (out->title[0] || out->too_long)
                  ? VA_INTENT_RENAME
                  : VA_INTENT_UNKNOWN;
}

/* "<task> to <date>" after "move", "reschedule", ... */
static void parse_move(reader *r, va_intent *out) {
  static const char *const MARKS[] = {"to", "for", "until", "till", NULL};
  skip_task_word(r);
  size_t end = date_after(r, MARKS, out);
  if (end == r->len)
    return;
  take_text(r, r->at, end, out);
  out->kind = has_text(out) ? VA_INTENT_DUE : VA_INTENT_UNKNOWN;
}

/* After "change", "set", "update": "the due date of X to D", "the title
 * (or name) of X to Y". */
static void parse_change(reader *r, va_intent *out) {
  static const char *const TITLE[] = {"the title", "title", "the name", "name",
                                      NULL};
  static const char *const OF[] = {"of", "for", NULL};
  if (due_date_of(r)) {
    parse_move(r, out);
    return;
  }
  if (eat_any(r, TITLE) && eat_any(r, OF))
    parse_rename(r, out);
}

/* After "clear": "the due date of X". */
static void parse_clear(reader *r, va_intent *out) {
  if (!due_date_of(r))
    return;
  take_text(r, r->at, r->len, out);
  out->kind = has_text(out) ? VA_INTENT_DUE : VA_INTENT_UNKNOWN;
}

/* "<task> is [now] due <date>" (no command word). */
static void parse_is_due(reader *r, va_intent *out) {
  static const char *const IS_DUE[] = {"is now due", "is due", "now due", NULL};
  for (size_t i = r->at + 1; i < r->len; i++) {
    if (!word_starts(r, i) || !word_is(r, i, IS_DUE))
      continue;
    reader t = *r;
    t.at = i;
    eat_any(&t, IS_DUE);
    int64_t at;
    va_when_verdict v = date_in(r, t.at, r->len, &at);
    if (v == VA_WHEN_NONE || t.at == t.len)
      continue;
    if (v == VA_WHEN_OK)
      out->at_ms = at;
    else
      note_bad_date(r, t.at, r->len, out);
    take_text(r, r->at, i, out);
    out->kind = has_text(out) ? VA_INTENT_DUE : VA_INTENT_UNKNOWN;
    return;
  }
}

/* The commands, by their first word(s). */
static void dispatch(reader *r, va_intent *out) {
  static const char *const ADD[] = {"add", "create", "new", NULL};
  static const char *const COMPLETE[] = {"complete", "done",  "finish",
                                         "finished", "close", NULL};
  static const char *const LIST[] = {"list", "show me", "show", NULL};
  static const char *const ASK[] = {
      "what are",       "what's",          "whats", "what is",
      "what do i have", "which tasks are", NULL};
  static const char *const DELETE[] = {"delete", "remove", "del", "erase",
                                       NULL};
  static const char *const MOVE[] = {"move",  "reschedule", "postpone", "push",
                                     "delay", "defer",      "shift",    NULL};
  static const char *const CHANGE[] = {"change", "set", "update", NULL};
  static const char *const CANCEL[] = {"cancel", "stop", "drop", NULL};
  size_t start = r->at;
  if (r->at == r->len || eat(r, "help") || eat(r, "what can you do"))
    out->kind = VA_INTENT_HELP;
  else if (eat_any(r, ADD))
    parse_add(r, out);
  else if (eat_any(r, LIST))
    parse_list(r, false, out);
  else if (eat_any(r, ASK))
    parse_list(r, true, out);
  else if (eat_any(r, COMPLETE)) {
    skip_task_word(r);
    take_text(r, r->at, r->len, out);
    out->kind = has_text(out) ? VA_INTENT_COMPLETE : VA_INTENT_UNKNOWN;
  } else if (eat(r, "mark"))
    parse_mark(r, out);
  else if (eat_any(r, DELETE))
    parse_delete(r, out);
  else if (eat_any(r, CANCEL))
    parse_cancel_reminder(r, out);
  else if (eat(r, "rename"))
    parse_rename(r, out);
  else if (eat_any(r, MOVE))
    parse_move(r, out);
  else if (eat_any(r, CHANGE))
    parse_change(r, out);
  else if (eat(r, "clear"))
    parse_clear(r, out);
  else if (eat(r, "log"))
    parse_log(r, out);
  else if (eat(r, "remind"))
    parse_remind(r, out);
  else if (eat(r, "my tasks") || eat(r, "tasks") || eat(r, "my reminders") ||
           eat(r, "reminders")) {
    r->at = start;
    parse_list(r, false, out);
  } else
    parse_is_due(r, out);
}

/* ---- Typos ---- */

/* Whether a (n bytes) is one edit from word: one letter changed, added,
 * dropped, or two next to each other swapped ("lsit" for "list"). */
static bool one_edit(const char *a, size_t n, const char *word) {
  size_t m = strlen(word), i = 0;
  const char *longer = n >= m ? a : word, *shorter = n >= m ? word : a;
  size_t ln = n >= m ? n : m, sn = n >= m ? m : n;
  if (ln - sn > 1)
    return false;
  while (i < sn && longer[i] == shorter[i])
    i++;
  if (ln == sn + 1) /* one letter more in longer, at i */
    return !memcmp(longer + i + 1, shorter + i, sn - i);
  if (i == sn)
    return false; /* the same word: no edit */
  return !memcmp(longer + i + 1, shorter + i + 1, sn - i - 1) ||
         (i + 1 < sn && longer[i] == shorter[i + 1] &&
          longer[i + 1] == shorter[i] &&
          !memcmp(longer + i + 2, shorter + i + 2, sn - i - 2));
}

/* The command word the first word of low (len bytes) is a typo of, when
 * it is one edit from exactly one of them; else NULL. ("new", "del",
 * "set", "push" are left out: "now", "did", "get", "push" are words one
 * edit from them or from each other.) */
static const char *command_typo(const char *low, size_t len) {
  static const char *const COMMANDS[] = {
      "add",    "create",     "list",     "show",   "complete", "done",
      "finish", "close",      "mark",     "log",    "remind",   "help",
      "delete", "remove",     "rename",   "move",   "change",   "cancel",
      "clear",  "reschedule", "postpone", "update", NULL};
  size_t n = strcspn(low, " ");
  if (n > len)
    n = len;
  const char *fits = NULL;
  for (const char *const *c = COMMANDS; *c; c++)
    if (one_edit(low, n, *c)) {
      if (fits)
        return NULL; /* two fit: not a typo we can read */
      fits = *c;
    }
  return fits;
}

/* ---- Reading ---- */

static void read_message(const char *msg, size_t len, int64_t now_ms,
                         const va_zone *zone, bool mend_typo, va_intent *out);

/* Reads the message again with its first word replaced by command. */
static void read_mended(const char *low, const char *orig, const char *command,
                        int64_t now_ms, const va_zone *zone, va_intent *out) {
  size_t word = strcspn(low, " ");
  char fixed[MSG_MAX + 16];
  int n = snprintf(fixed, sizeof(fixed), "%s%s", command, orig + word);
  size_t fixed_len = n < 0                       ? 0
                     : (size_t)n < sizeof(fixed) ? (size_t)n
                                                 : sizeof(fixed) - 1;
  read_message(fixed, fixed_len, now_ms, zone, false, out);
}

/* mend_typo: when nothing fits, read the first word as the command it is
 * one edit from (once). */
static void read_message(const char *msg, size_t len, int64_t now_ms,
                         const va_zone *zone, bool mend_typo, va_intent *out) {
  char low[MSG_MAX + 1], orig[MSG_MAX + 1];
  *out = (va_intent){.kind = VA_INTENT_UNKNOWN};
  if (len > MSG_MAX)
    len = MSG_MAX;
  /* Control bytes and tabs become spaces, and commas too in low; trailing
   * . ! ? go. */
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)msg[i];
    orig[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    low[i] = orig[i] == ',' ? ' ' : (char)tolower((unsigned char)orig[i]);
  }
  while (len && strchr(" .!?", low[len - 1]))
    len--;
  low[len] = orig[len] = 0;
  reader r = {low, orig, 0, len, now_ms, zone};
  skip_spaces(&r);
  eat(&r, "please");
  dispatch(&r, out);
  const char *command = NULL;
  if (out->kind == VA_INTENT_UNKNOWN && mend_typo)
    command = command_typo(low + r.at, len - r.at);
  if (command)
    read_mended(low + r.at, orig + r.at, command, now_ms, zone, out);
  VA_ASSERT(memchr(out->text, 0, sizeof(out->text)));
  VA_ASSERT(memchr(out->bad_date, 0, sizeof(out->bad_date)));
}

void va_assistant_read(const char *msg, size_t len, int64_t now_ms,
                       const va_zone *zone, va_intent *out) {
  VA_ASSERT(out && zone && (msg || !len));
  read_message(msg ? msg : "", len, now_ms, zone, true, out);
}
