/* test_timefmt.c — Dapr's time formats: what is accepted and how it is
 * read, and a clear VA_EINVAL for the rest (including the fuzz target's
 * crashers, kept in tests/fuzz/timefmt-corpus/); adding durations as
 * timegm does, saturated at the ends of int64; and the next due time of a
 * period computed at once however late it is (issue 9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vactor.h>

static int dur(const char *s, va_duration *d) {
  return va_parse_duration(s, strlen(s), d);
}

static void iso_durations(void **state) {
  (void)state;
  va_duration d;
  assert_int_equal(dur("PT1H30M", &d), 0);
  assert_true(d.ns == 5400000000000LL && !d.days);
  assert_int_equal(dur("P1W2D", &d), 0);
  assert_int_equal(d.days, 9);
  assert_int_equal(dur("P1Y2M3DT4H5M6S", &d), 0);
  assert_true(d.years == 1 && d.months == 2 && d.days == 3);
  assert_true(d.ns == (4 * 3600 + 5 * 60 + 6) * 1000000000LL);
  assert_int_equal(dur("PT0S", &d), 0);
  assert_int_equal(d.ns, 0);
  const char *bad[] = {"P",    "PT",     "pt10s",  "PT1.5S",   "P1H",  "PT1D",
                       "P1DT", "PT1M1H", "PT1S1S", "R5/PT10S", "P-1D", "PTS"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(dur(bad[i], &d), VA_EINVAL);
}

static void go_durations(void **state) {
  (void)state;
  va_duration d;
  assert_int_equal(dur("1h2m3s", &d), 0);
  assert_int_equal(d.ns, 3723000000000LL);
  assert_int_equal(dur("500ms", &d), 0);
  assert_int_equal(d.ns, 500000000LL);
  assert_int_equal(dur("1.5h", &d), 0);
  assert_int_equal(d.ns, 5400000000000LL);
  assert_int_equal(dur("0h0m9s0ms", &d), 0);
  assert_int_equal(d.ns, 9000000000LL);
  assert_int_equal(dur("-5s", &d), 0);
  assert_int_equal(d.ns, -5000000000LL);
  assert_int_equal(dur("0", &d), 0);
  assert_int_equal(dur("10\xc2\xb5s", &d), 0); /* µs */
  assert_int_equal(d.ns, 10000);
  const char *bad[] = {"1d",  "h",   "1",    "1.s2",
                       ".s",  "1hh", "--1s", "99999999999999999h",
                       "1s ", " 1s", ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(va_parse_duration(bad[i], strlen(bad[i]), &d), VA_EINVAL);
}

static void periods(void **state) {
  (void)state;
  va_duration d;
  int64_t reps;
  assert_int_equal(va_parse_period("R5/PT10S", 8, &d, &reps), 0);
  assert_int_equal(reps, 5);
  assert_int_equal(d.ns, 10000000000LL);
  assert_int_equal(va_parse_period("20s", 3, &d, &reps), 0);
  assert_int_equal(reps, -1);
  assert_int_equal(va_parse_period("R0/PT1S", 7, &d, &reps), VA_EINVAL);
  assert_int_equal(va_parse_period("R5/10s", 6, &d, &reps), VA_EINVAL);
  assert_int_equal(va_parse_period("0s", 2, &d, &reps), VA_EINVAL);
  assert_int_equal(va_parse_period("-1s", 3, &d, &reps), VA_EINVAL);
  assert_int_equal(va_parse_period("2025-10-02T15:00:00Z", 20, &d, &reps),
                   VA_EINVAL);
}

static void due_times(void **state) {
  (void)state;
  int64_t due;
  const int64_t now = 1700000000000LL;
  assert_int_equal(va_parse_due("", 0, now, &due), 0);
  assert_int_equal(due, now);
  assert_int_equal(va_parse_due("10s", 3, now, &due), 0);
  assert_int_equal(due, now + 10000);
  assert_int_equal(va_parse_due("2025-10-02T15:00:00Z", 20, now, &due), 0);
  assert_int_equal(due, 1759417200000LL);
  const char *ts = "2025-10-02T15:00:00.250+02:00";
  assert_int_equal(va_parse_due(ts, strlen(ts), now, &due), 0);
  assert_int_equal(due, 1759417200000LL - 7200000 + 250);
  /* One month after 31 January is 3 March (2025), as Go's AddDate. */
  va_duration month = {.months = 1};
  assert_int_equal(va_parse_due("2025-01-31T00:00:00Z", 20, now, &due), 0);
  int64_t next = va_duration_add(due, &month);
  assert_int_equal(va_parse_due("2025-03-03T00:00:00Z", 20, now, &due), 0);
  assert_int_equal(next, due);
  const char *bad[] = {"2025-02-30T00:00:00Z",     "2025-10-02 15:00:00Z",
                       "2025-10-02T15:00:00",      "2025-13-02T15:00:00Z",
                       "2025-10-02T15:00:00+2:00", "tomorrow"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(va_parse_due(bad[i], strlen(bad[i]), now, &due),
                     VA_EINVAL);
}

static int64_t at(const char *rfc3339) {
  int64_t ms;
  assert_int_equal(va_parse_due(rfc3339, strlen(rfc3339), 0, &ms), 0);
  return ms;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The old definition (struct tm and timegm), for values it could take. */
static int64_t add_with_timegm(int64_t t_ms, const va_duration *d) {
  time_t secs = (time_t)(t_ms / 1000);
  int64_t rest = t_ms % 1000;
  if (rest < 0) {
    rest += 1000;
    secs -= 1;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  tm.tm_year += d->years;
  tm.tm_mon += d->months;
  tm.tm_mday += d->days;
  return (int64_t)timegm(&tm) * 1000 + rest + d->ns / 1000000;
}

static void adding_is_as_timegm_and_saturates(void **state) {
  (void)state;
  srand(9);
  const int64_t year1 = at("0001-01-01T00:00:00Z");
  const int64_t year9999 = at("9999-12-31T23:59:59.999Z");
  for (int i = 0; i < 20000; i++) {
    int64_t t = year1 + (int64_t)((double)rand() / RAND_MAX *
                                  (double)(year9999 - year1));
    va_duration d = {rand() % 50, rand() % 40, rand() % 400,
                     (int64_t)(rand() % 100000) * 1000000};
    assert_int_equal(va_duration_add(t, &d), add_with_timegm(t, &d));
  }
  /* Past the ends: saturated, not wrapped (and no UB for UBSan). */
  va_duration forever = {.years = INT32_MAX,
                         .months = INT32_MAX,
                         .days = INT32_MAX,
                         .ns = INT64_MAX};
  assert_int_equal(va_duration_add(year9999, &forever), INT64_MAX);
  assert_int_equal(va_duration_add(INT64_MAX - 5, &forever), INT64_MAX);
  assert_int_equal(
      va_duration_add(INT64_MAX - 5, &(va_duration){.ns = INT64_MAX}),
      INT64_MAX);
  assert_int_equal(
      va_duration_add(INT64_MIN + 5, &(va_duration){.ns = INT64_MIN}),
      INT64_MIN);
  va_duration back = {.years = -INT32_MAX, .days = -INT32_MAX};
  assert_int_equal(va_duration_add(year1, &back), INT64_MIN);
  va_duration millennia;
  assert_int_equal(dur("P9999Y", &millennia), 0);
  va_duration year = {.years = 1};
  assert_int_equal(va_duration_add(year1, &millennia),
                   va_duration_add(at("9999-01-01T00:00:00Z"), &year));
  assert_int_equal(va_duration_add(at("9000-01-01T00:00:00Z"), &millennia),
                   add_with_timegm(at("9000-01-01T00:00:00Z"), &millennia));
}

/* The first due + k * p after `after`, by trying every k. */
static int64_t next_by_trying(int64_t due, const va_duration *p,
                              int64_t after) {
  if (!p->years && !p->months && !p->days) { /* k * ns would overflow */
    int64_t t = due + p->ns / 1000000;
    while (t <= after)
      t += p->ns / 1000000;
    return t;
  }
  for (int64_t k = 1;; k++) {
    va_duration kp = {(int32_t)(k * p->years), (int32_t)(k * p->months),
                      (int32_t)(k * p->days), k * p->ns};
    int64_t t = va_duration_add(due, &kp);
    if (t > after)
      return t;
  }
}

static void next_due_is_computed_not_looped(void **state) {
  (void)state;
  const int64_t year1 = at("0001-01-01T00:00:00Z");
  const int64_t now = at("2025-06-15T12:34:56.789Z");
  /* The reminders: 1 ns and 1 ms periods due in year 1. */
  assert_int_equal(va_period_next(year1, &(va_duration){.ns = 1}, now),
                   now + 1);
  assert_int_equal(va_period_next(year1, &(va_duration){.ns = 1000000}, now),
                   now + 1);
  /* On the grid: 7 ms steps from the due time; 1.5 ms steps. */
  int64_t next = va_period_next(year1, &(va_duration){.ns = 7000000}, now);
  assert_true(next > now && next - 7 <= now && (next - year1) % 7 == 0);
  next = va_period_next(year1, &(va_duration){.ns = 1500000}, now);
  assert_true(next > now && next <= now + 2);
  /* Not late: the next period, as one add. */
  assert_int_equal(va_period_next(now, &(va_duration){.ns = 1000000000}, now),
                   now + 1000);
  assert_int_equal(va_period_next(now + 50, &(va_duration){.days = 1}, now),
                   now + 50 + 86400000);
  /* Calendar periods, against trying every k (k up to ~740 000). */
  const char *periods[] = {"P1M",    "P1Y2M3DT4H", "P1D",   "P3W",
                           "P9999Y", "P1MT1S",     "PT25H", "P1Y"};
  const int64_t dues[] = {at("0001-01-31T00:00:00Z"), year1,
                          at("2024-02-29T23:59:59.999Z")};
  for (size_t i = 0; i < sizeof(periods) / sizeof(periods[0]); i++)
    for (size_t j = 0; j < sizeof(dues) / sizeof(dues[0]); j++) {
      va_duration p;
      assert_int_equal(dur(periods[i], &p), 0);
      assert_int_equal(va_period_next(dues[j], &p, now),
                       next_by_trying(dues[j], &p, now));
    }
  /* Fast whatever the lateness: 20 000 catch-ups of eight millennia. */
  int64_t started = mono_ms();
  for (int i = 0; i < 10000; i++) {
    va_period_next(year1, &(va_duration){.ns = 1}, now + i);
    va_period_next(year1, &(va_duration){.days = 1, .ns = 1}, now + i);
  }
  assert_true(mono_ms() - started < 2000);
  /* The ends: saturated to "never"; not periods: never. */
  va_duration five_millennia = {.years = 9999};
  assert_int_equal(va_period_next(at("9999-01-01T00:00:00Z"), &five_millennia,
                                  INT64_MAX - 1),
                   INT64_MAX);
  assert_int_equal(va_period_next(INT64_MAX - 10,
                                  &(va_duration){.ns = INT64_MAX},
                                  INT64_MAX - 5),
                   INT64_MAX);
  assert_int_equal(
      va_period_next(INT64_MIN, &(va_duration){.ns = 1}, INT64_MAX), INT64_MAX);
  assert_int_equal(va_period_next(now, &(va_duration){0}, now), INT64_MAX);
  assert_int_equal(va_period_next(now, &(va_duration){.ns = -1}, now),
                   INT64_MAX);
  assert_int_equal(
      va_period_next(now, &(va_duration){.days = -1, .ns = 5}, now), INT64_MAX);
}

static void shortest_span_of_a_period(void **state) {
  (void)state;
  va_duration p;
  assert_int_equal(dur("1ns", &p), 0);
  assert_int_equal(va_period_shortest_ms(&p), 0);
  assert_int_equal(dur("1.5s", &p), 0);
  assert_int_equal(va_period_shortest_ms(&p), 1500);
  assert_int_equal(dur("P1M", &p), 0);
  assert_int_equal(va_period_shortest_ms(&p), 28 * 86400000LL);
  assert_int_equal(dur("P1Y1D", &p), 0);
  assert_int_equal(va_period_shortest_ms(&p), (12 * 28 + 1) * 86400000LL);
  p = (va_duration){INT32_MAX, INT32_MAX, INT32_MAX, INT64_MAX};
  assert_int_equal(va_period_shortest_ms(&p), INT64_MAX);
}

/* Every input the fuzzer ever saved must parse or be refused, not crash. */
/* Formatting: RFC 3339 in UTC with ms, read back to the same instant;
 * out of range and a short buffer refused. */
static void times_are_formatted_and_read_back(void **state) {
  (void)state;
  char out[VA_TIME_TEXT_MAX];
  assert_int_equal(va_format_time(1759417200250, out, sizeof(out)), 0);
  assert_string_equal(out, "2025-10-02T15:00:00.250Z");
  int64_t back = 0;
  assert_int_equal(va_parse_due(out, strlen(out), 0, &back), 0);
  assert_int_equal(back, 1759417200250);
  assert_int_equal(va_format_time(0, out, sizeof(out)), 0);
  assert_string_equal(out, "1970-01-01T00:00:00.000Z");
  assert_int_equal(va_format_time(253402300799999, out, sizeof(out)), 0);
  assert_string_equal(out, "9999-12-31T23:59:59.999Z");
  assert_int_equal(va_format_time(-1, out, sizeof(out)), VA_EINVAL);
  assert_string_equal(out, "");
  assert_int_equal(va_format_time(253402300800000, out, sizeof(out)),
                   VA_EINVAL);
  assert_int_equal(va_format_time(0, out, 8), VA_EINVAL);
}

static void fuzz_corpus_is_handled(void **state) {
  (void)state;
  DIR *dir = opendir(VA_TIMEFMT_CORPUS);
  if (!dir)
    skip();
  int files = 0;
  for (struct dirent *e; (e = readdir(dir));) {
    if (e->d_name[0] == '.')
      continue;
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", VA_TIMEFMT_CORPUS, e->d_name);
    FILE *f = fopen(path, "rb");
    char buf[512];
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f)
      fclose(f);
    va_duration d;
    int64_t x;
    va_parse_duration(buf, n, &d);
    va_parse_period(buf, n, &d, &x);
    va_parse_due(buf, n, 0, &x);
    files++;
  }
  closedir(dir);
  assert_true(files > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(iso_durations),
      cmocka_unit_test(go_durations),
      cmocka_unit_test(periods),
      cmocka_unit_test(due_times),
      cmocka_unit_test(fuzz_corpus_is_handled),
      cmocka_unit_test(adding_is_as_timegm_and_saturates),
      cmocka_unit_test(next_due_is_computed_not_looped),
      cmocka_unit_test(shortest_span_of_a_period),
      cmocka_unit_test(times_are_formatted_and_read_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
