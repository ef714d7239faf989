/* timefmt.c — the time formats of Dapr's timers and reminders: ISO 8601
 * durations (with an `Rn/` repetition prefix for periods), Go durations,
 * and RFC 3339 timestamps, read and written (va_format_time); see
 * shared/reference/dapr-actors.md §1.7. Outside bytes: every input is
 * length-bounded, every number checked for overflow, and anything else is
 * VA_EINVAL. */
#include "../base/clock.h"
#include "vactor.h"
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct cursor {
  const char *p, *end;
} cursor;

static bool at_end(const cursor *c) {
  return c->p >= c->end;
}
static bool is_digit(char ch) {
  return ch >= '0' && ch <= '9';
}

/* Reads an unsigned decimal integer of at most 18 digits. */
static bool read_uint(cursor *c, int64_t *out) {
  int64_t v = 0;
  int n = 0;
  while (!at_end(c) && is_digit(*c->p)) {
    if (++n > 18)
      return false;
    v = v * 10 + (*c->p++ - '0');
  }
  *out = v;
  return n > 0;
}

/* Adds a * b to *acc, false on overflow. */
static bool add_mul(int64_t *acc, int64_t a, int64_t b) {
  int64_t prod;
  return !__builtin_mul_overflow(a, b, &prod) &&
         !__builtin_add_overflow(*acc, prod, acc);
}

/* ---- ISO 8601 durations: P[nY][nM][nW][nD][T[nH][nM][nS]] ---- */

static int parse_iso(cursor c, va_duration *d) {
  if (at_end(&c) || *c.p++ != 'P')
    return VA_EINVAL;
  static const char date_units[] = "YMWD", time_units[] = "HMS";
  const char *units = date_units;
  int last = -1, parts = 0;
  *d = (va_duration){0};
  while (!at_end(&c)) {
    if (*c.p == 'T') {
      if (units == time_units)
        return VA_EINVAL;
      units = time_units;
      last = -1;
      c.p++;
      if (at_end(&c))
        return VA_EINVAL; /* "T" needs a time part after it */
      continue;
    }
    int64_t n;
    if (!read_uint(&c, &n) || at_end(&c))
      return VA_EINVAL;
    const char *u = strchr(units, *c.p++);
    int idx = u && *u ? (int)(u - units) : -1;
    if (idx <= last)
      return VA_EINVAL; /* unknown, repeated or out of order */
    last = idx;
    parts++;
    bool ok = true;
    if (units == date_units) {
      /* Ten thousand years of any unit at most: far past any reminder,
       * and short of struct tm's int fields overflowing in the add. */
      if (n > 10000 * 366)
        return VA_EINVAL;
      switch (idx) {
      case 0:
        d->years = (int32_t)n;
        break;
      case 1:
        d->months = (int32_t)n;
        break;
      case 2:
        ok = !__builtin_mul_overflow((int32_t)n, 7, &d->days);
        break;
      default:
        ok = !__builtin_add_overflow(d->days, (int32_t)n, &d->days);
      }
      ok = ok && d->years <= 10000 && d->months <= 120000 &&
           d->days <= 10000 * 366;
    } else {
      static const int64_t ns[] = {3600000000000, 60000000000, 1000000000};
      ok = add_mul(&d->ns, n, ns[idx]);
    }
    if (!ok)
      return VA_EINVAL;
  }
  return parts ? 0 : VA_EINVAL;
}

/* ---- Go durations: [-+]?(number unit)+ or "0" ---- */

static int go_unit(cursor *c, int64_t *ns) {
  static const struct {
    const char *name;
    int64_t ns;
  } units[] = {{"ns", 1},           {"us", 1000},        {"\xc2\xb5s", 1000},
               {"\xce\xbcs", 1000}, {"ms", 1000000},     {"s", 1000000000},
               {"m", 60000000000},  {"h", 3600000000000}};
  size_t best = 0;
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    size_t n = strlen(units[i].name);
    if ((size_t)(c->end - c->p) >= n && !memcmp(c->p, units[i].name, n) &&
        n > best) {
      best = n;
      *ns = units[i].ns;
    }
  }
  c->p += best;
  return best ? 0 : VA_EINVAL;
}

static int parse_go(cursor c, va_duration *d) {
  *d = (va_duration){0};
  bool negative = false;
  if (!at_end(&c) && (*c.p == '-' || *c.p == '+'))
    negative = *c.p++ == '-';
  if (c.end - c.p == 1 && *c.p == '0')
    return 0;
  if (at_end(&c))
    return VA_EINVAL;
  int64_t total = 0;
  while (!at_end(&c)) {
    int64_t whole = 0, frac = 0, scale = 1;
    bool have_whole = read_uint(&c, &whole), have_frac = false;
    if (!at_end(&c) && *c.p == '.') {
      c.p++;
      while (!at_end(&c) && is_digit(*c.p)) {
        if (scale < 1000000000000000000 / 10) { /* digits past ns precision */
          frac = frac * 10 + (*c.p - '0');
          scale *= 10;
        }
        c.p++;
        have_frac = true;
      }
    }
    int64_t unit;
    if ((!have_whole && !have_frac) || go_unit(&c, &unit) != 0)
      return VA_EINVAL;
    /* frac/scale of a unit, in ns, rounded down. */
    int64_t part = (int64_t)((double)frac * ((double)unit / (double)scale));
    if (!add_mul(&total, whole, unit) ||
        __builtin_add_overflow(total, part, &total))
      return VA_EINVAL;
  }
  d->ns = negative ? -total : total;
  return 0;
}

int va_parse_duration(const char *s, size_t len, va_duration *out) {
  if (!s || !out || len == 0 || len > 256)
    return VA_EINVAL;
  cursor c = {s, s + len};
  if (parse_iso(c, out) == 0)
    return 0;
  return parse_go(c, out);
}

int va_parse_period(const char *s, size_t len, va_duration *out,
                    int64_t *repetitions) {
  if (!s || !out || !repetitions || len == 0 || len > 256)
    return VA_EINVAL;
  *repetitions = -1;
  cursor c = {s, s + len};
  if (*c.p == 'R') {
    c.p++;
    int64_t n;
    if (!read_uint(&c, &n) || at_end(&c) || *c.p++ != '/' || n < 1 ||
        n > INT32_MAX)
      return VA_EINVAL;
    *repetitions = n;
    return parse_iso(c, out);
  }
  int rc = parse_iso(c, out);
  if (rc != 0)
    rc = parse_go(c, out);
  if (rc == 0 && out->ns < 0)
    return VA_EINVAL; /* a period goes forward */
  if (rc == 0 && !out->years && !out->months && !out->days && !out->ns)
    return VA_EINVAL; /* a zero period would fire forever at once */
  return rc;
}

/* ---- RFC 3339 ---- */

static bool read_fixed(cursor *c, int digits, int *out) {
  int v = 0;
  for (int i = 0; i < digits; i++) {
    if (at_end(c) || !is_digit(*c->p))
      return false;
    v = v * 10 + (*c->p++ - '0');
  }
  *out = v;
  return true;
}

static bool expect(cursor *c, char ch) {
  if (at_end(c) || *c->p != ch)
    return false;
  c->p++;
  return true;
}

static int parse_rfc3339(cursor c, int64_t *out_ms) {
  int year, mon, day, hour, min, sec;
  if (!read_fixed(&c, 4, &year) || !expect(&c, '-') ||
      !read_fixed(&c, 2, &mon) || !expect(&c, '-') ||
      !read_fixed(&c, 2, &day) || !expect(&c, 'T') ||
      !read_fixed(&c, 2, &hour) || !expect(&c, ':') ||
      !read_fixed(&c, 2, &min) || !expect(&c, ':') || !read_fixed(&c, 2, &sec))
    return VA_EINVAL;
  int64_t ms = 0;
  if (!at_end(&c) && *c.p == '.') {
    c.p++;
    int digits = 0;
    while (!at_end(&c) && is_digit(*c.p)) {
      if (digits < 3)
        ms = ms * 10 + (*c.p - '0');
      digits++;
      c.p++;
    }
    if (!digits || digits > 9)
      return VA_EINVAL;
    for (; digits < 3; digits++)
      ms *= 10;
  }
  int offset_min = 0;
  if (expect(&c, 'Z')) {
    offset_min = 0;
  } else if (!at_end(&c) && (*c.p == '+' || *c.p == '-')) {
    int sign = *c.p++ == '-' ? -1 : 1, oh, om;
    if (!read_fixed(&c, 2, &oh) || !expect(&c, ':') ||
        !read_fixed(&c, 2, &om) || oh > 23 || om > 59)
      return VA_EINVAL;
    offset_min = sign * (oh * 60 + om);
  } else {
    return VA_EINVAL;
  }
  if (!at_end(&c) || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 ||
      min > 59 || sec > 60)
    return VA_EINVAL;
  struct tm tm = {.tm_year = year - 1900,
                  .tm_mon = mon - 1,
                  .tm_mday = day,
                  .tm_hour = hour,
                  .tm_min = min,
                  .tm_sec = sec};
  time_t t = timegm(&tm);
  if (tm.tm_mday != day) /* 31 February and the like */
    return VA_EINVAL;
  *out_ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + ms;
  return 0;
}

/* ---- Adding durations ----
 * In 128-bit integers over a proleptic Gregorian calendar of days, so that
 * any stored value (year 0001 or 9999, "P9999Y" times many, ns near
 * INT64_MAX) gives a saturated int64 instead of overflowing struct tm or
 * time_t. Adding a calendar part normalises as Go's AddDate and timegm do:
 * the months move first, then the day of the month (which may spill into
 * the next month: 31 January + 1 month is 3 March) and the days. */

typedef __int128 wide;

static const int64_t MS_PER_DAY = 86400000;
/* Years beyond which no int64 ms value lies (2^63 ms is 292 million years). */
static const int64_t YEARS_MAX = 300000000;

static int64_t saturate(wide v) {
  return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31), and back (H. Hinnant's
 * algorithms); |y| <= YEARS_MAX. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d) {
  z += 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yoe + era * 400 + (*m <= 2);
}

/* t_ms + times * d, saturated; times >= 0. */
static int64_t add_times(int64_t t_ms, const va_duration *d, int64_t times) {
  wide ms = t_ms;
  if (d->years || d->months || d->days) {
    int64_t day = floor_div(t_ms, MS_PER_DAY), y, m, mday;
    int64_t time_of_day = t_ms - day * MS_PER_DAY;
    civil_from_days(day, &y, &m, &mday);
    wide months = (wide)y * 12 + (m - 1) +
                  (wide)times * ((wide)d->years * 12 + d->months);
    wide days = (wide)times * d->days;
    if (months > (wide)YEARS_MAX * 12 || days > (wide)YEARS_MAX * 366)
      return INT64_MAX;
    if (months < -(wide)YEARS_MAX * 12 || days < -(wide)YEARS_MAX * 366)
      return INT64_MIN;
    int64_t year = floor_div((int64_t)months, 12);
    int64_t month = (int64_t)months - year * 12 + 1;
    wide to_day = (wide)days_from_civil(year, month, 1) + (mday - 1) + days;
    ms = to_day * MS_PER_DAY + time_of_day;
  }
  return saturate(ms + (wide)times * d->ns / 1000000);
}

int64_t va_duration_add(int64_t t_ms, const va_duration *d) {
  return add_times(t_ms, d, 1);
}

/* The shortest span one period can cover, in ms (a month is at least 28
 * days, a year at least 12 of them), saturated. */
static wide shortest_ms(const va_duration *p) {
  return ((wide)p->years * 12 * 28 + (wide)p->months * 28 + p->days) *
             MS_PER_DAY +
         p->ns / 1000000;
}

int64_t va_period_shortest_ms(const va_duration *p) {
  return p ? saturate(shortest_ms(p)) : 0;
}

/* The smallest k >= 1 with due + floor(k * ns / 1e6) > after (ns > 0). */
static int64_t next_fixed(int64_t due_ms, int64_t ns, int64_t after_ms) {
  wide late = (wide)after_ms - due_ms;
  if (late < 0)
    return saturate((wide)due_ms + ns / 1000000);
  wide need = (late + 1) * 1000000; /* k * ns must reach it */
  wide k = (need + ns - 1) / ns;
  return saturate((wide)due_ms + k * ns / 1000000);
}

int64_t va_period_next(int64_t due_ms, const va_duration *p, int64_t after_ms) {
  if (!p || p->years < 0 || p->months < 0 || p->days < 0 || p->ns < 0 ||
      (!p->years && !p->months && !p->days && !p->ns))
    return INT64_MAX; /* not a period: never again */
  if (!p->years && !p->months && !p->days)
    return next_fixed(due_ms, p->ns, after_ms);
  /* add_times grows with k (each part does), and k periods cover at least
   * k * shortest_ms: the answer lies in [1, hi], found by bisection in at
   * most 63 steps whatever the lateness. */
  wide late = (wide)after_ms - due_ms;
  wide hi_wide = late < 0 ? 1 : late / shortest_ms(p) + 1;
  int64_t lo = 1, hi = hi_wide > INT64_MAX ? INT64_MAX : (int64_t)hi_wide;
  if (add_times(due_ms, p, hi) <= after_ms)
    return INT64_MAX; /* saturated: beyond any time */
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (add_times(due_ms, p, mid) > after_ms)
      hi = mid;
    else
      lo = mid + 1;
  }
  return add_times(due_ms, p, lo);
}

int va_parse_due(const char *s, size_t len, int64_t now_ms, int64_t *due_ms) {
  if (!s || !due_ms || len > 256)
    return VA_EINVAL;
  if (len == 0) { /* omitted: at once */
    *due_ms = now_ms;
    return 0;
  }
  va_duration d;
  if (va_parse_duration(s, len, &d) == 0) {
    *due_ms = va_duration_add(now_ms, &d);
    return 0;
  }
  cursor c = {s, s + len};
  return parse_rfc3339(c, due_ms);
}

int64_t va_wall_ms(void) {
  return va_clock_wall_ms();
}

int va_format_time(int64_t ms, char *out, size_t cap) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  if (!out || cap < VA_TIME_TEXT_MAX)
    return VA_EINVAL;
  out[0] = 0;
  if (ms < 0 || ms > 253402300799999 || !gmtime_r(&secs, &tm))
    return VA_EINVAL;
  size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, cap - n, ".%03dZ", (int)(ms % 1000));
  return 0;
}
