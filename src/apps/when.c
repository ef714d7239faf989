/* when.c — see when.h. A cursor walks the phrase word by word; each rule
 * of the grammar is a function that takes its words and fills a `parsed`
 * (a local day and a time of day, or an instant) and answers YES, or
 * leaves the cursor where it was and answers NO, or meets a date-shaped
 * word that is no date and answers BAD (which ends the reading). At the
 * end the parsed phrase is resolved against now by the defaults. Days are
 * counted as local day numbers (days since 1970-01-01 on the user's
 * clock); only resolve() turns a day and a time into an instant. */
#include "when.h"
#include "../base/assert.h"
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <vactor.h>

#define DAY_MS ((int64_t)86400000)
#define HOUR_MS ((int64_t)3600000)
#define MIN_MS ((int64_t)60000)
/* now_ms is read only within [1970, ~9000): the day arithmetic below is
 * for years 1970-9999 (and a little either side). */
#define NOW_MAX_MS ((int64_t)221845392000000) /* 9000-01-01 */
/* An instant read is in [1970, 10000): one outside (1970-01-01 09:00 at
 * +14:00) is no date a task can have. */
#define AT_END_MS ((int64_t)253402300800000) /* 10000-01-01 */

/* Minutes of the day the defaults use (when.h says why). */
enum {
  MORNING = 540,
  AFTERNOON = 900,
  WORKDAY_END = 1020,
  EVENING = 1080,
  NIGHT = 1200,
  NOON = 720,
  LAST_MINUTE = 1439,
  MIDNIGHT = 1440,
};

enum {
  YEAR_MIN = 1970,
  YEAR_MAX = 9999,
  AMOUNT_MINUTES_MAX = 100 * 366 * 1440, /* "in N ...": 100 years */
  AMOUNT_MONTHS_MAX = 1200,
  WORD_SCAN_MAX = 64, /* longer words match nothing here */
  NEAR_WORD_MAX = 12, /* words compared with weekday names */
};

typedef enum got { NO, BAD, YES } got;

typedef struct cursor {
  const char *s;
  size_t at, len;
} cursor;

/* Now, as the user's clock shows it. */
typedef struct here {
  int64_t now_ms;
  const va_zone *zone;
  int64_t today;     /* local day number */
  int64_t ms_of_day; /* local time of day now */
} here;

/* What a phrase said, before the defaults fill the rest in. */
typedef struct parsed {
  bool led;          /* a lead or "on" came first: short weekday names */
  bool dated;        /* day is set */
  int64_t day;       /* local day number */
  int fallback;      /* minute of day for a date said without a time; -1:
                        the default (09:00, or today's rule) */
  bool part_pm;      /* afternoon, evening or night was said */
  bool timed;        /* ms_of_day is set */
  bool meridiem;     /* the time said am or pm */
  int64_t ms_of_day; /* 0 .. MIDNIGHT minutes */
  bool exact;        /* at_ms is the instant ("in 2 hours", RFC 3339) */
  int64_t at_ms;
} parsed;

typedef struct named {
  const char *word;
  int value;
} named;

static const named LEADS[] = {{"due", 0},           {"by", 0}, {"before", 0},
                              {"until", 0},         {"on", 0}, {"till", 0},
                              {"no later than", 0}, {NULL, 0}};
static const named WEEKDAYS[] = {
    {"monday", 0}, {"tuesday", 1},  {"wednesday", 2}, {"thursday", 3},
    {"friday", 4}, {"saturday", 5}, {"sunday", 6},    {NULL, 0}};
static const named WEEKDAYS_SHORT[] = {
    {"mon", 0},   {"tue", 1}, {"tues", 1}, {"wed", 2}, {"thu", 3}, {"thur", 3},
    {"thurs", 3}, {"fri", 4}, {"sat", 5},  {"sun", 6}, {NULL, 0}};
static const named MONTHS[] = {
    {"january", 1},   {"jan", 1},    {"february", 2},  {"feb", 2},
    {"march", 3},     {"mar", 3},    {"april", 4},     {"apr", 4},
    {"may", 5},       {"june", 6},   {"jun", 6},       {"july", 7},
    {"jul", 7},       {"august", 8}, {"aug", 8},       {"september", 9},
    {"sept", 9},      {"sep", 9},    {"october", 10},  {"oct", 10},
    {"november", 11}, {"nov", 11},   {"december", 12}, {"dec", 12},
    {NULL, 0}};
static const named PARTS[] = {{"morning", MORNING},
                              {"afternoon", AFTERNOON},
                              {"evening", EVENING},
                              {"night", NIGHT},
                              {NULL, 0}};
/* Units of "in N <unit>", in minutes; months are -1. */
static const named UNITS[] = {{"minutes", 1}, {"minute", 1},    {"mins", 1},
                              {"min", 1},     {"m", 1},         {"hours", 60},
                              {"hour", 60},   {"hrs", 60},      {"hr", 60},
                              {"h", 60},      {"days", 1440},   {"day", 1440},
                              {"d", 1440},    {"weeks", 10080}, {"week", 10080},
                              {"wks", 10080}, {"wk", 10080},    {"w", 10080},
                              {"months", -1}, {"month", -1},    {NULL, 0}};

/* ---- Words ---- */

static void skip_spaces(cursor *c) {
  while (c->at < c->len && c->s[c->at] == ' ')
    c->at++;
}

/* Bytes of the word at the cursor, counted up to WORD_SCAN_MAX + 1. */
static size_t word_len(const cursor *c) {
  size_t n = 0;
  while (c->at + n < c->len && c->s[c->at + n] != ' ' && n <= WORD_SCAN_MAX)
    n++;
  return n;
}

static const char *word_at(const cursor *c) {
  return c->s + c->at;
}

static void next_word(cursor *c) {
  while (c->at < c->len && c->s[c->at] != ' ')
    c->at++;
  skip_spaces(c);
}

/* Takes the words of `words` (split by single spaces) if they come next,
 * each whole. */
static bool eat(cursor *c, const char *words) {
  size_t start = c->at;
  while (*words) {
    size_t n = strcspn(words, " ");
    if (word_len(c) != n || memcmp(word_at(c), words, n)) {
      c->at = start;
      return false;
    }
    c->at += n;
    skip_spaces(c);
    words += n + (words[n] == ' ');
  }
  return true;
}

/* Takes the first entry of table that comes next; *value its value. */
static bool eat_named(cursor *c, const named *table, int *value) {
  for (; table->word; table++)
    if (eat(c, table->word)) {
      if (value)
        *value = table->value;
      return true;
    }
  return false;
}

static size_t digits_at(const char *w, size_t n) {
  size_t i = 0;
  while (i < n && isdigit((unsigned char)w[i]))
    i++;
  return i;
}

/* The value of n (<= 9) digits. */
static int64_t value_of(const char *w, size_t n) {
  VA_ASSERT(n <= 9);
  int64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v = v * 10 + (w[i] - '0');
  return v;
}

/* Edits (change, add, drop, swap two neighbours) from a to b; both at
 * most NEAR_WORD_MAX bytes. */
static int edits(const char *a, size_t n, const char *b, size_t m) {
  int d[NEAR_WORD_MAX + 1][NEAR_WORD_MAX + 1];
  VA_ASSERT(n <= NEAR_WORD_MAX && m <= NEAR_WORD_MAX);
  for (size_t i = 0; i <= n; i++)
    d[i][0] = (int)i;
  for (size_t j = 0; j <= m; j++)
    d[0][j] = (int)j;
  for (size_t i = 1; i <= n; i++)
    for (size_t j = 1; j <= m; j++) {
      int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best)
        best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best)
        best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[n][m];
}

/* Whether the word at the cursor reads as a misspelt weekday: it ends in
 * "day" and is within two edits of one ("blursday", "fryday"). */
static bool near_weekday(const cursor *c) {
  size_t n = word_len(c);
  const char *w = word_at(c);
  if (n < 5 || n > NEAR_WORD_MAX || memcmp(w + n - 3, "day", 3))
    return false;
  for (const named *d = WEEKDAYS; d->word; d++)
    if (edits(w, n, d->word, strlen(d->word)) <= 2)
      return true;
  return false;
}

/* ---- Days ---- */

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b) {
  return a - floor_div(a, b) * b;
}

static bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100) || y % 400 == 0;
}

static int month_days(int64_t y, int m) {
  static const int DAYS[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  VA_ASSERT(m >= 1 && m <= 12);
  return DAYS[m - 1] + (m == 2 && leap(y));
}

/* Leap years in [1, y], y >= 0. */
static int64_t leaps_through(int64_t y) {
  return y / 4 - y / 100 + y / 400;
}

/* The day number of y-m-d (y >= 1). */
static int64_t days_of(int64_t y, int m, int d) {
  static const int BEFORE[] = {0,   31,  59,  90,  120, 151,
                               181, 212, 243, 273, 304, 334};
  VA_ASSERT(y >= 1 && m >= 1 && m <= 12);
  return 365 * (y - 1970) + leaps_through(y - 1) - leaps_through(1969) +
         BEFORE[m - 1] + (m > 2 && leap(y)) + d - 1;
}

/* The date of day number `day` (years around 1970-9999). */
static void date_of(int64_t day, int64_t *y, int *m, int *d) {
  int64_t year = 1970 + floor_div(day * 400, 146097);
  while (year > 1 && days_of(year, 1, 1) > day)
    year--;
  while (days_of(year + 1, 1, 1) <= day)
    year++;
  int64_t left = day - days_of(year, 1, 1);
  int month = 1;
  while (month < 12 && left >= month_days(year, month))
    left -= month_days(year, month++);
  *y = year;
  *m = month;
  *d = (int)left + 1;
}

/* 0 Monday .. 6 Sunday (1970-01-01 was a Thursday). */
static int weekday_of(int64_t day) {
  return (int)floor_mod(day + 3, 7);
}

static here here_at(int64_t now_ms, const va_zone *zone) {
  int64_t local = now_ms + (int64_t)va_zone_offset(zone, now_ms) * MIN_MS;
  here h = {now_ms, zone, floor_div(local, DAY_MS), 0};
  h.ms_of_day = local - h.today * DAY_MS;
  return h;
}

/* The instant local clocks show ms_of_day on day. */
static int64_t instant(const here *h, int64_t day, int64_t ms_of_day) {
  return va_zone_to_utc(h->zone, day * DAY_MS + ms_of_day);
}

/* ---- Times of day ---- */

/* "am", "a.m." or "pm", "p.m." in w[0, n): 1 am, 2 pm, 0 neither. The
 * last dot may be gone (the assistant drops a message's last "."). */
static int meridiem_of(const char *w, size_t n) {
  if (n < 2 || n > 4 || (w[1] != 'm' && w[1] != '.'))
    return 0;
  int which = w[0] == 'a' ? 1 : w[0] == 'p' ? 2 : 0;
  bool plain = n == 2 && w[1] == 'm';
  bool dotted = n >= 3 && !memcmp(w + 1, ".m", 2) && (n == 3 || w[3] == '.');
  return plain || dotted ? which : 0;
}

/* An hour and minute, on a 12-hour clock when meridiem is 1 or 2: YES
 * (*ms), or BAD when out of range. */
static got clock_value(int64_t h, int64_t m, int meridiem, int64_t *ms) {
  if (m > 59 || (meridiem && (h < 1 || h > 12)) || (!meridiem && h > 23))
    return BAD;
  if (meridiem)
    h = h % 12 + (meridiem == 2 ? 12 : 0);
  *ms = h * HOUR_MS + m * MIN_MS;
  return YES;
}

/* A clock time: H:MM, or H[:MM] with am/pm glued on or as the next word,
 * or a bare H when `at` came before it. BAD: that shape, out of range
 * ("25:00", "13pm"). NO: anything else (the cursor stays). */
static got clock_time(cursor *c, bool at, parsed *p) {
  size_t n = word_len(c), start = c->at;
  const char *w = word_at(c);
  size_t hours = digits_at(w, n), i = hours;
  int64_t m = 0;
  if (hours == 0 || hours > 2)
    return NO;
  bool colon = i < n && w[i] == ':';
  if (colon) {
    if (digits_at(w + i + 1, n - i - 1) != 2)
      return NO;
    m = value_of(w + i + 1, 2);
    i += 3;
  }
  int meridiem = meridiem_of(w + i, n - i);
  if (i < n && !meridiem)
    return NO; /* "5th", "9:30x" */
  next_word(c);
  if (!meridiem && (meridiem = meridiem_of(word_at(c), word_len(c))))
    next_word(c);
  int64_t h = value_of(w, hours);
  if (!colon && !meridiem && (!at || h > 23)) {
    c->at = start; /* "at 25" may be an address; "9" alone is a number */
    return NO;
  }
  p->timed = true;
  p->meridiem = meridiem != 0;
  return clock_value(h, m, meridiem, &p->ms_of_day);
}

/* time = [at | @] (clock | noon | midday | midnight). */
static got time_of_day(cursor *c, parsed *p) {
  size_t start = c->at;
  bool at = eat(c, "at") || eat(c, "@");
  if (eat(c, "noon") || eat(c, "midday")) {
    p->timed = true;
    p->ms_of_day = NOON * MIN_MS;
    return YES;
  }
  if (eat(c, "midnight")) {
    p->timed = true;
    p->ms_of_day = MIDNIGHT * MIN_MS;
    return YES;
  }
  got g = clock_time(c, at, p);
  if (g == NO)
    c->at = start;
  return g;
}

/* ---- Dates ---- */

static got set_day(parsed *p, int64_t day, int fallback) {
  p->dated = true;
  p->day = day;
  p->fallback = fallback;
  p->part_pm = fallback >= AFTERNOON && fallback <= NIGHT;
  return YES;
}

/* An optional part of the day after a date ("tomorrow morning"). */
static void part_of_day(cursor *c, parsed *p) {
  int minute;
  if (eat_named(c, PARTS, &minute))
    set_day(p, p->day, minute);
}

/* A weekday's name (short ones only when led); BAD: a misspelt one, when
 * led. */
static got weekday_word(cursor *c, bool led, int *wd) {
  if (eat_named(c, WEEKDAYS, wd) || (led && eat_named(c, WEEKDAYS_SHORT, wd)))
    return YES;
  return led && near_weekday(c) ? BAD : NO;
}

/* today, tonight, tomorrow [part], [the] day after tomorrow, end of
 * [the] day, end of today, eod. */
static got named_day(cursor *c, const here *h, parsed *p) {
  if (eat(c, "today"))
    return set_day(p, h->today, -1);
  if (eat(c, "tonight"))
    return set_day(p, h->today, NIGHT);
  if (eat(c, "tomorrow")) {
    set_day(p, h->today + 1, -1);
    part_of_day(c, p);
    return YES;
  }
  if (eat(c, "day after tomorrow") || eat(c, "the day after tomorrow"))
    return set_day(p, h->today + 2, -1);
  if (eat(c, "eod") || eat(c, "end of day") || eat(c, "end of the day") ||
      eat(c, "end of today"))
    return set_day(p, h->today, LAST_MINUTE);
  return NO;
}

/* this (part | weekday), next (weekday | week | month). */
static got this_or_next(cursor *c, const here *h, parsed *p) {
  size_t start = c->at;
  bool next = eat(c, "next");
  if (!next && !eat(c, "this"))
    return NO;
  int v, wd = weekday_of(h->today);
  if (!next && eat_named(c, PARTS, &v))
    return set_day(p, h->today, v);
  if (next && eat(c, "week"))
    return set_day(p, h->today - wd + 7, -1);
  if (next && eat(c, "month")) {
    int64_t y;
    int m, d;
    date_of(h->today, &y, &m, &d);
    return set_day(p, m == 12 ? days_of(y + 1, 1, 1) : days_of(y, m + 1, 1),
                   -1);
  }
  got g = weekday_word(c, true, &v);
  if (g == NO)
    c->at = start;
  if (g != YES)
    return g;
  set_day(p, next ? h->today - wd + 7 + v : h->today + floor_mod(v - wd, 7),
          -1);
  part_of_day(c, p);
  return YES;
}

/* A weekday alone: the next one after today. */
static got on_weekday(cursor *c, const here *h, parsed *p) {
  int v;
  got g = weekday_word(c, p->led, &v);
  if (g != YES)
    return g;
  int64_t ahead = floor_mod(v - weekday_of(h->today), 7);
  set_day(p, h->today + (ahead ? ahead : 7), -1);
  part_of_day(c, p);
  return YES;
}

/* The rest of an ISO word after YYYY-MM-DD: "t" then HH:MM local, or a
 * whole RFC 3339 timestamp. */
static got iso_time(cursor *c, const here *h, parsed *p, size_t n) {
  const char *w = word_at(c);
  if (n == 16 && w[10] == 't' && w[13] == ':' && digits_at(w + 11, 2) == 2 &&
      digits_at(w + 14, 2) == 2) {
    p->timed = true;
    got g =
        clock_value(value_of(w + 11, 2), value_of(w + 14, 2), 0, &p->ms_of_day);
    next_word(c);
    return g;
  }
  char up[48];
  if (n >= sizeof(up))
    return BAD;
  for (size_t i = 0; i < n; i++)
    up[i] = (char)toupper((unsigned char)w[i]);
  if (va_parse_due(up, n, h->now_ms, &p->at_ms) != 0)
    return BAD;
  p->exact = true;
  next_word(c);
  return YES;
}

/* YYYY-MM-DD (one or two digit month and day) as one word, maybe with a
 * time after a "t". */
static got iso_date(cursor *c, const here *h, parsed *p) {
  size_t n = word_len(c);
  const char *w = word_at(c);
  if (n < 8 || digits_at(w, n) != 4 || w[4] != '-')
    return NO;
  size_t mn = digits_at(w + 5, n - 5);
  if (mn < 1 || mn > 2 || 5 + mn >= n || w[5 + mn] != '-')
    return NO;
  size_t d_at = 6 + mn, dn = digits_at(w + d_at, n - d_at);
  if (dn < 1 || dn > 2 || (d_at + dn < n && w[d_at + dn] != 't'))
    return NO;
  int64_t y = value_of(w, 4);
  int m = (int)value_of(w + 5, mn), d = (int)value_of(w + d_at, dn);
  if (y < YEAR_MIN || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
    return BAD;
  set_day(p, days_of(y, m, d), -1);
  if (d_at + dn < n) /* (a time needs the date as RFC 3339 writes it) */
    return mn == 2 && dn == 2 ? iso_time(c, h, p, n) : BAD;
  next_word(c);
  return YES;
}

/* A day of the month as a word: "24th" (any of st/nd/rd/th), or "24" when
 * digits_ok. YES: *d in 1..31 (the cursor past it); BAD: an ordinal or
 * number of that shape out of range (the cursor past it); NO. */
static got day_word(cursor *c, bool digits_ok, int *d, bool *ordinal) {
  size_t n = word_len(c);
  const char *w = word_at(c);
  size_t k = digits_at(w, n);
  *ordinal = k && k <= 3 && n == k + 2 &&
             (!memcmp(w + k, "st", 2) || !memcmp(w + k, "nd", 2) ||
              !memcmp(w + k, "rd", 2) || !memcmp(w + k, "th", 2));
  if (!*ordinal && !(digits_ok && k && k <= 2 && n == k))
    return NO;
  *d = (int)value_of(w, k);
  next_word(c);
  return *d >= 1 && *d <= 31 ? YES : BAD;
}

/* An optional year: YES (*y) or NO (*y = 0); BAD a 4-digit one out of
 * range. */
static got year_word(cursor *c, int64_t *y) {
  size_t n = word_len(c);
  *y = 0;
  if (n != 4 || digits_at(word_at(c), n) != 4)
    return NO;
  *y = value_of(word_at(c), 4);
  next_word(c);
  return *y >= YEAR_MIN && *y <= YEAR_MAX ? YES : BAD;
}

/* Month m, day d, year y (0: the next such date from today on). */
static got settle_date(const here *h, parsed *p, int64_t y, int m, int d) {
  if (d > month_days(2000, m))
    return BAD; /* never: "feb 30", "april 31" */
  if (y)
    return d <= month_days(y, m) ? set_day(p, days_of(y, m, d), -1) : BAD;
  int64_t year;
  int tm, td;
  date_of(h->today, &year, &tm, &td);
  /* At most 8 years apart: the gap between two Feb 29ths. */
  for (int64_t k = 0; k <= 8; k++)
    if (d <= month_days(year + k, m) && days_of(year + k, m, d) >= h->today)
      return set_day(p, days_of(year + k, m, d), -1);
  return BAD;
}

/* The d-th, month unsaid: the first month from this one that has a d-th
 * on or after today. */
static got settle_ordinal(const here *h, parsed *p, int d) {
  int64_t y;
  int m, td;
  date_of(h->today, &y, &m, &td);
  for (int k = 0; k < 12; k++) {
    if (d <= month_days(y, m) && days_of(y, m, d) >= h->today)
      return set_day(p, days_of(y, m, d), -1);
    y += m == 12;
    m = m % 12 + 1;
  }
  return BAD;
}

/* Whether the phrase ends here or a time follows: where an out of range
 * ordinal ("the 35th") is a bad date, not words of a title. */
static bool date_ends(cursor *c) {
  cursor t = *c;
  return t.at == t.len || eat(&t, "at") || eat(&t, "@");
}

/* month D [YYYY] (the cursor after the month). */
static got month_first(cursor *c, const here *h, parsed *p, int m) {
  int d;
  bool ordinal;
  int64_t y;
  got g = day_word(c, true, &d, &ordinal);
  if (g != YES)
    return g;
  if (year_word(c, &y) == BAD)
    return BAD;
  return settle_date(h, p, y, m, d);
}

/* [the] Nth [of month [YYYY]], D month [YYYY], month D [YYYY]. */
static got calendar_date(cursor *c, const here *h, parsed *p) {
  size_t start = c->at;
  bool the = eat(c, "the"), ordinal;
  int d, m = 0;
  int64_t y = 0;
  if (!the && eat_named(c, MONTHS, &m)) {
    got g = month_first(c, h, p, m);
    if (g == NO)
      c->at = start;
    return g;
  }
  got g = day_word(c, !the, &d, &ordinal);
  if (g != NO) {
    bool of = eat(c, "of");
    if (!eat_named(c, MONTHS, &m) && (of || !ordinal))
      g = NO; /* "24 apples", "the 5th of the month" */
  }
  if (g == NO || (g == BAD && !m && !date_ends(c))) {
    c->at = start;
    return NO;
  }
  if (g == BAD || (m && year_word(c, &y) == BAD))
    return BAD;
  return m ? settle_date(h, p, y, m, d) : settle_ordinal(h, p, d);
}

/* date = [on] (named day | this/next | weekday | ISO | calendar). */
static got date(cursor *c, const here *h, parsed *p) {
  size_t start = c->at;
  if (eat(c, "on"))
    p->led = true;
  got g = named_day(c, h, p);
  if (g == NO)
    g = this_or_next(c, h, p);
  if (g == NO)
    g = on_weekday(c, h, p);
  if (g == NO)
    g = iso_date(c, h, p);
  if (g == NO)
    g = calendar_date(c, h, p);
  if (g == NO)
    c->at = start;
  return g;
}

/* ---- In N units ---- */

/* N: digits, "a", "an", "one"; a unit glued on ("30m") or next. YES:
 * *n and *unit (minutes, -1 months); BAD: zero; NO. */
static got amount(cursor *c, int64_t *n, int *unit) {
  size_t start = c->at, len = word_len(c);
  const char *w = word_at(c);
  size_t k = digits_at(w, len);
  if (k > 9)
    return NO;
  if (k == 0) {
    if (!eat(c, "a") && !eat(c, "an") && !eat(c, "one"))
      return NO;
    *n = 1;
  } else {
    *n = value_of(w, k);
    if (k < len) { /* "30m", "2h" */
      cursor glued = {w + k, 0, len - k};
      if (!eat_named(&glued, UNITS, unit) || glued.at != glued.len)
        return NO;
      next_word(c);
      return *n ? YES : BAD;
    }
    next_word(c);
  }
  if (!eat_named(c, UNITS, unit)) {
    c->at = start;
    return NO;
  }
  return *n ? YES : BAD;
}

/* The day `months` months after today, on today's day of the month or
 * the month's last. */
static int64_t months_on(const here *h, int64_t months) {
  int64_t y;
  int m, d;
  date_of(h->today, &y, &m, &d);
  int64_t index = y * 12 + (m - 1) + months;
  y = index / 12;
  m = (int)(index % 12) + 1;
  return days_of(y, m, d < month_days(y, m) ? d : month_days(y, m));
}

/* in N (minutes | hours) | in N (days | weeks | months) | in half an
 * hour. */
static got relative(cursor *c, const here *h, parsed *p) {
  size_t start = c->at;
  int64_t n;
  int unit;
  if (!eat(c, "in"))
    return NO;
  if (eat(c, "half an hour")) {
    p->exact = true;
    p->at_ms = h->now_ms + 30 * MIN_MS;
    return YES;
  }
  got g = amount(c, &n, &unit);
  if (g == NO)
    c->at = start;
  if (g != YES)
    return g;
  if (unit < 0 ? n > AMOUNT_MONTHS_MAX : n > AMOUNT_MINUTES_MAX / unit)
    return BAD;
  if (unit > 0 && unit < 1440) {
    p->exact = true;
    p->at_ms = h->now_ms + n * unit * MIN_MS;
    return YES;
  }
  set_day(p, unit < 0 ? months_on(h, n) : h->today + n * (unit / 1440), -1);
  p->timed = true; /* the time of day now, unless one is said */
  p->ms_of_day = h->ms_of_day;
  return YES;
}

/* ---- Phrases ---- */

static got phrase(cursor *c, const here *h, parsed *p) {
  for (int i = 0; i < 3 && eat_named(c, LEADS, NULL); i++)
    p->led = true;
  got g = relative(c, h, p);
  if (g == NO)
    g = date(c, h, p);
  if (g == YES) {
    if (p->exact)
      return YES;
    return time_of_day(c, p) == BAD ? BAD : YES;
  }
  if (g == BAD)
    return BAD;
  g = time_of_day(c, p);
  if (g != YES)
    return g;
  return date(c, h, p) == BAD ? BAD : YES;
}

/* A date said without a time: when.h's defaults. */
static int64_t untimed(const here *h, const parsed *p) {
  if (p->day != h->today)
    return instant(h, p->day,
                   (p->fallback >= 0 ? p->fallback : MORNING) * MIN_MS);
  int minute = p->fallback >= 0 ? p->fallback : WORKDAY_END;
  int64_t at = instant(h, h->today, minute * MIN_MS);
  return at > h->now_ms ? at : instant(h, h->today, LAST_MINUTE * MIN_MS);
}

static int64_t resolve(const here *h, const parsed *p) {
  if (p->exact)
    return p->at_ms;
  int64_t ms = p->ms_of_day;
  if (p->timed && !p->meridiem && p->part_pm && ms >= HOUR_MS &&
      ms < 12 * HOUR_MS)
    ms += 12 * HOUR_MS; /* "tonight at 8" */
  if (!p->dated) {
    int64_t at = instant(h, h->today, ms);
    return at > h->now_ms ? at : instant(h, h->today + 1, ms);
  }
  return p->timed ? instant(h, p->day, ms) : untimed(h, p);
}

va_when_verdict va_when_read(const char *low, size_t len, int64_t now_ms,
                             const va_zone *zone, int64_t *at_ms) {
  VA_ASSERT(low && zone && at_ms);
  if (now_ms < 0 || now_ms > NOW_MAX_MS)
    return VA_WHEN_NONE;
  here h = here_at(now_ms, zone);
  cursor c = {low, 0, len};
  parsed p = {.fallback = -1};
  skip_spaces(&c);
  got g = phrase(&c, &h, &p);
  if (g == BAD)
    return VA_WHEN_BAD;
  if (g == NO || c.at != c.len || (p.exact && p.timed))
    return VA_WHEN_NONE;
  int64_t at = resolve(&h, &p);
  if (at < 0 || at >= AT_END_MS)
    return VA_WHEN_BAD;
  *at_ms = at;
  return VA_WHEN_OK;
}

int64_t va_when_day_start(int64_t now_ms, const va_zone *zone, int days) {
  here h = here_at(now_ms, zone);
  return instant(&h, h.today + days, 0);
}

int va_when_weekday(int64_t now_ms, const va_zone *zone) {
  return weekday_of(here_at(now_ms, zone).today);
}
