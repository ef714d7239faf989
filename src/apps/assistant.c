/* assistant.c — see assistant.h. The message is lower-cased into a
 * buffer (the original kept for titles) and read word by word with a
 * cursor: eat() takes a word if it is next. Times: "in N minutes/hours/
 * days", "at HH:MM" / "at 5pm", "today", "tomorrow [at ...]", or an RFC
 * 3339 timestamp. */
#include "assistant.h"
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <vactor.h>

const char va_assistant_help[] =
    "I can manage your tasks. Try: \"add buy milk due tomorrow at 10:00\", "
    "\"list\" (or \"list done tasks\"), \"complete buy milk\", \"log 30 "
    "minutes on buy milk\", \"remind me in 10 minutes to call Bob\", "
    "\"remind me at 17:00 to leave\".";

enum {
  MSG_MAX = VA_APPS_CHAT_MESSAGE_BYTES_MAX,
  DAY_MS = 86400000,
  MIN_MS = 60000
};

typedef struct reader {
  const char *low;  /* lower-cased message */
  const char *orig; /* the message as written, same offsets */
  size_t at, len;
} reader;

static void skip_spaces(reader *r) {
  while (r->at < r->len && r->low[r->at] == ' ')
    r->at++;
}

/* Takes word (lower case) if it comes next, as a whole word. */
static bool eat(reader *r, const char *word) {
  size_t n = strlen(word);
  if (r->at + n > r->len || memcmp(r->low + r->at, word, n) ||
      (r->at + n < r->len && r->low[r->at + n] != ' '))
    return false;
  r->at += n;
  skip_spaces(r);
  return true;
}

static bool eat_any(reader *r, const char *const *words) {
  for (; *words; words++)
    if (eat(r, *words))
      return true;
  return false;
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

/* "N unit": an amount of minutes. */
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

/* A clock time: "17:00", "9", "5pm", "5:30 pm": minutes after midnight. */
static bool clock_time(reader *r, int64_t *minute_of_day) {
  size_t start = r->at;
  int64_t h, m = 0;
  if (!number(r, &h))
    return false;
  if (r->at < r->len && r->low[r->at] == ':') {
    r->at++;
    if (!number(r, &m) || m > 59)
      goto no;
  }
  skip_spaces(r);
  if (eat(r, "pm") || eat(r, "p.m.")) {
    if (h < 1 || h > 12)
      goto no;
    h = h % 12 + 12;
  } else if (eat(r, "am") || eat(r, "a.m.")) {
    if (h < 1 || h > 12)
      goto no;
    h %= 12;
  }
  if (h > 23)
    goto no;
  *minute_of_day = h * 60 + m;
  return true;
no:
  r->at = start;
  return false;
}

/* Midnight (UTC ms) of the user's day containing now. */
static int64_t local_midnight(int64_t now_ms, int tz_minutes) {
  int64_t local = now_ms + (int64_t)tz_minutes * MIN_MS;
  int64_t day = local - ((local % DAY_MS) + DAY_MS) % DAY_MS;
  return day - (int64_t)tz_minutes * MIN_MS;
}

/* A time: see the top of the file. */
static bool when(reader *r, int64_t now_ms, int tz, int64_t *at_ms) {
  size_t start = r->at;
  int64_t minutes, mod;
  if (eat(r, "in") && amount(r, &minutes)) {
    *at_ms = now_ms + minutes * MIN_MS;
    return true;
  }
  r->at = start;
  int64_t day = local_midnight(now_ms, tz);
  bool tomorrow = eat(r, "tomorrow");
  bool today = !tomorrow && eat(r, "today");
  bool at = eat(r, "at");
  if (clock_time(r, &mod)) {
    *at_ms = day + (tomorrow ? DAY_MS : 0) + mod * MIN_MS;
    if (!tomorrow && !today && *at_ms <= now_ms)
      *at_ms += DAY_MS; /* "at 9:00" said at 10:00: tomorrow's */
    return true;
  }
  if ((tomorrow || today) && !at) {
    *at_ms = day + (tomorrow ? DAY_MS : 0) + (tomorrow ? 9 : 17) * 60 * MIN_MS;
    return true;
  }
  r->at = start;
  /* An RFC 3339 timestamp, as one word. */
  size_t end = r->at;
  while (end < r->len && r->low[end] != ' ')
    end++;
  if (end - r->at >= 20 && isdigit((unsigned char)r->low[r->at]) &&
      va_parse_due(r->orig + r->at, end - r->at, now_ms, at_ms) == 0) {
    r->at = end;
    skip_spaces(r);
    return true;
  }
  return false;
}

/* Copies the original text of [from, to) into out->text, trimmed; one
 * too long to keep whole is not kept (out->too_long). */
static void take_text(const reader *r, size_t from, size_t to, va_intent *out) {
  while (from < to && r->orig[from] == ' ')
    from++;
  while (to > from && r->orig[to - 1] == ' ')
    to--;
  out->too_long = to - from > VA_INTENT_TEXT_MAX;
  size_t n = out->too_long ? 0 : to - from;
  memcpy(out->text, r->orig + from, n);
  out->text[n] = 0;
}

/* Finds where a trailing time phrase starts in [r->at, len): the first
 * " due ", " by ", " at ", " in ", " tomorrow", " today" from which the
 * rest reads as a time. Returns its offset (len when none) and the time. */
static size_t trailing_time(reader *r, int64_t now_ms, int tz, int64_t *at_ms) {
  static const char *const MARKS[] = {"due",      "by",    "at", "in",
                                      "tomorrow", "today", NULL};
  for (size_t i = r->at + 1; i < r->len; i++) {
    if (r->low[i - 1] != ' ')
      continue;
    for (const char *const *m = MARKS; *m; m++) {
      reader t = *r;
      t.at = i;
      if (!eat(&t, *m))
        continue;
      if (!strcmp(*m, "due") || !strcmp(*m, "by")) {
        /* "due" and "by" introduce a time: "due tomorrow", "by 17:00". */
      } else {
        t.at = i; /* the word is part of the time itself */
      }
      int64_t ms;
      if (when(&t, now_ms, tz, &ms) && t.at == t.len) {
        *at_ms = ms;
        return i - 1;
      }
    }
  }
  return r->len;
}

static void parse_add(reader *r, int64_t now_ms, int tz, va_intent *out) {
  static const char *const TASK[] = {"a task", "task", "a", NULL};
  eat_any(r, TASK);
  size_t end = trailing_time(r, now_ms, tz, &out->at_ms);
  take_text(r, r->at, end, out);
  out->kind = out->text[0] || out->too_long ? VA_INTENT_ADD : VA_INTENT_UNKNOWN;
}

static void parse_list(reader *r, va_intent *out) {
  static const char *const OPEN[] = {"open", "pending", "todo", NULL};
  static const char *const DONE[] = {"done", "completed", "finished", NULL};
  eat(r, "my");
  eat(r, "all");
  if (eat_any(r, OPEN))
    strcpy(out->status, "open");
  else if (eat_any(r, DONE))
    strcpy(out->status, "done");
  if (!eat(r, "tasks"))
    eat(r, "task");
  out->kind = r->at == r->len ? VA_INTENT_LIST : VA_INTENT_UNKNOWN;
}

/* "log N unit (on|to|for) task". */
static void parse_log(reader *r, va_intent *out) {
  static const char *const PREP[] = {"on", "to", "for", NULL};
  if (!amount(r, &out->minutes) || !eat_any(r, PREP))
    return;
  take_text(r, r->at, r->len, out);
  out->kind = out->text[0] || out->too_long ? VA_INTENT_LOG : VA_INTENT_UNKNOWN;
}

/* "remind me <when> to X" or "remind me to X <when>". */
static void parse_remind(reader *r, int64_t now_ms, int tz, va_intent *out) {
  eat(r, "me");
  if (eat(r, "to") || eat(r, "about")) {
    size_t start = r->at;
    size_t end = trailing_time(r, now_ms, tz, &out->at_ms);
    if (end == r->len)
      return;
    take_text(r, start, end, out);
  } else {
    if (!when(r, now_ms, tz, &out->at_ms) || !(eat(r, "to") || eat(r, "about")))
      return;
    take_text(r, r->at, r->len, out);
  }
  out->kind =
      out->text[0] || out->too_long ? VA_INTENT_REMIND : VA_INTENT_UNKNOWN;
}

/* "mark X as done" / "mark X done". */
static void parse_mark(reader *r, va_intent *out) {
  size_t end = r->len;
  static const char *const TAILS[] = {
      " as done", " as complete", " as completed", " done", " complete", NULL};
  for (const char *const *tail = TAILS; *tail; tail++) {
    size_t n = strlen(*tail);
    if (end - r->at > n && !memcmp(r->low + end - n, *tail, n)) {
      take_text(r, r->at, end - n, out);
      out->kind = out->text[0] || out->too_long ? VA_INTENT_COMPLETE
                                                : VA_INTENT_UNKNOWN;
      return;
    }
  }
}

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
 * it is one edit from exactly one of them; else NULL. ("new" is left out:
 * "now" is one edit from it.) */
static const char *command_typo(const char *low, size_t len) {
  static const char *const COMMANDS[] = {
      "add",   "create", "list", "show",   "complete", "done", "finish",
      "close", "mark",   "log",  "remind", "help",     NULL};
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

static void parse(const char *msg, size_t len, int64_t now_ms, int tz_minutes,
                  bool mend_typo, va_intent *out);

void va_assistant_parse(const char *msg, size_t len, int64_t now_ms,
                        int tz_minutes, va_intent *out) {
  parse(msg, len, now_ms, tz_minutes, true, out);
}

/* mend_typo: when nothing fits, read the first word as the command it is
 * one edit from (once). */
static void parse(const char *msg, size_t len, int64_t now_ms, int tz_minutes,
                  bool mend_typo, va_intent *out) {
  static const char *const ADD[] = {"add", "create", "new", NULL};
  static const char *const COMPLETE[] = {"complete", "done",  "finish",
                                         "finished", "close", NULL};
  static const char *const LIST[] = {"list", "show", "what are", NULL};
  char low[MSG_MAX + 1], orig[MSG_MAX + 1];
  *out = (va_intent){.kind = VA_INTENT_UNKNOWN};
  if (len > MSG_MAX)
    len = MSG_MAX;
  /* Control bytes and tabs become spaces; trailing . ! ? go. */
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)msg[i];
    orig[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    low[i] = (char)tolower((unsigned char)orig[i]);
  }
  while (len && strchr(" .!?", low[len - 1]))
    len--;
  low[len] = orig[len] = 0;
  reader r = {low, orig, 0, len};
  skip_spaces(&r);
  eat(&r, "please");
  if (r.at == r.len || eat(&r, "help") || eat(&r, "what can you do")) {
    out->kind = VA_INTENT_HELP;
  } else if (eat_any(&r, ADD)) {
    parse_add(&r, now_ms, tz_minutes, out);
  } else if (eat_any(&r, LIST) || !strcmp(low + r.at, "my tasks")) {
    parse_list(&r, out);
  } else if (eat_any(&r, COMPLETE)) {
    take_text(&r, r.at, r.len, out);
    out->kind =
        out->text[0] || out->too_long ? VA_INTENT_COMPLETE : VA_INTENT_UNKNOWN;
  } else if (eat(&r, "mark")) {
    parse_mark(&r, out);
  } else if (eat(&r, "log")) {
    parse_log(&r, out);
  } else if (eat(&r, "remind")) {
    parse_remind(&r, now_ms, tz_minutes, out);
  }
  const char *command = NULL;
  if (out->kind == VA_INTENT_UNKNOWN && mend_typo)
    command = command_typo(low, len);
  if (command) {
    size_t word = strcspn(low, " ");
    char fixed[MSG_MAX + 16];
    int n = snprintf(fixed, sizeof(fixed), "%s%s", command, orig + word);
    size_t fixed_len = n < 0                       ? 0
                       : (size_t)n < sizeof(fixed) ? (size_t)n
                                                   : sizeof(fixed) - 1;
    parse(fixed, fixed_len, now_ms, tz_minutes, false, out);
  }
}
