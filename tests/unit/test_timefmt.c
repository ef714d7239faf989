/* test_timefmt.c — Dapr's time formats: what is accepted and how it is
 * read, and a clear VA_EINVAL for the rest (including the fuzz target's
 * crashers, kept in tests/fuzz/timefmt-corpus/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
  const char *bad[] = {"P", "PT", "pt10s", "PT1.5S", "P1H", "PT1D", "P1DT",
                       "PT1M1H", "PT1S1S", "R5/PT10S", "P-1D", "PTS"};
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
  const char *bad[] = {"1d", "h", "1", "1.s2", ".s", "1hh", "--1s",
                       "99999999999999999h", "1s ", " 1s", ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(va_parse_duration(bad[i], strlen(bad[i]), &d),
                     VA_EINVAL);
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
  const char *bad[] = {"2025-02-30T00:00:00Z", "2025-10-02 15:00:00Z",
                       "2025-10-02T15:00:00", "2025-13-02T15:00:00Z",
                       "2025-10-02T15:00:00+2:00", "tomorrow"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(va_parse_due(bad[i], strlen(bad[i]), now, &due),
                     VA_EINVAL);
}

/* Every input the fuzzer ever saved must parse or be refused, not crash. */
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
      cmocka_unit_test(iso_durations),   cmocka_unit_test(go_durations),
      cmocka_unit_test(periods),         cmocka_unit_test(due_times),
      cmocka_unit_test(fuzz_corpus_is_handled),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
