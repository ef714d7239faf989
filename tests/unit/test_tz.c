/* test_tz.c — time zones (src/apps/tz.c): offsets and local times in
 * named zones read from the system's tzdata (Europe/Berlin around 2026's
 * changes, the gap and the overlap, New York, Sydney, Kolkata, Kathmandu,
 * 2100 from the footer, 1900 before the first transition), footers alone
 * (hours past 24 and negative, Jn and n dates, all-year DST), damaged TZif
 * bytes (every truncation of a real file, wrong magic, huge counts, bad
 * footers), the walk of a zone directory (a damaged file, a link loop, a
 * FIFO), fixed offsets, preferences, and the replay of the fuzz corpus
 * through the fuzz target's own function. Instants are written with
 * timegm, not with tz.c's calendar. Needs Debian's tzdata. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>
// clang-format on

#include "../fuzz/fuzz_tzif.c"
#include "apps/prefs.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <vactor.h>

#define ZONEINFO "/usr/share/zoneinfo"

/* The instant y-mo-d h:mi UTC (or a local time read as UTC), in ms. */
static int64_t at(int y, int mo, int d, int h, int mi) {
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = mo - 1,
                  .tm_mday = d,
                  .tm_hour = h,
                  .tm_min = mi};
  return (int64_t)timegm(&tm) * 1000;
}

static va_zone zone(const char *name) {
  va_zone z = {NULL, 12345};
  assert_true(va_zone_find(va_tzdb_system(), name, &z));
  assert_non_null(z.rules);
  return z;
}

/* A file's bytes (malloc'd, *len set). */
static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static uint8_t buf[1 << 18];
  *len = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  uint8_t *copy = malloc(*len + 1);
  assert_non_null(copy);
  memcpy(copy, buf, *len);
  return copy;
}

static int parse(const void *bytes, size_t len) {
  va_tz_rules *r = (va_tz_rules *)1;
  int rc = va_tz_rules_parse(bytes, len, &r);
  if (rc != 0)
    assert_null(r);
  va_tz_rules_free(r);
  return rc;
}

/* ---- The system's table ---- */

static void *system_table(void *arg) {
  (void)arg;
  return (void *)va_tzdb_system();
}

/* First of all tests: two threads race to the first load. */
static void system_table_loads_once(void **state) {
  (void)state;
  pthread_t a, b;
  void *pa, *pb;
  assert_int_equal(pthread_create(&a, NULL, system_table, NULL), 0);
  assert_int_equal(pthread_create(&b, NULL, system_table, NULL), 0);
  pthread_join(a, &pa);
  pthread_join(b, &pb);
  assert_ptr_equal(pa, pb);
  assert_ptr_equal(pa, va_tzdb_system());
  const va_tzdb *db = va_tzdb_system();
  /* Debian 12's tzdata has ~600 names outside posix/ and right/. */
  assert_in_range(va_tzdb_count(db), 400, 1000);
  assert_in_range(va_tzdb_bytes(db), 10000, 512 * 1024);
  va_zone z;
  assert_false(va_zone_find(db, "posixrules", &z));
  assert_false(va_zone_find(db, "localtime", &z));
  assert_false(va_zone_find(db, "posix/Europe/Berlin", &z));
  assert_false(va_zone_find(db, "right/Europe/Berlin", &z));
  assert_false(va_zone_find(db, "zone.tab", &z));
  assert_false(va_zone_find(db, "Europe", &z));
  assert_false(va_zone_find(db, "europe/berlin", &z));
  assert_true(va_zone_find(db, "America/Argentina/Buenos_Aires", &z));
  assert_true(va_zone_find(db, "Etc/GMT+5", &z));
  assert_int_equal(va_zone_offset(&z, at(2026, 7, 1, 0, 0)), -300);
}

/* ---- Named zones ---- */

static void berlin_around_2026_changes(void **state) {
  (void)state;
  va_zone z = zone("Europe/Berlin");
  int64_t spring = at(2026, 3, 29, 1, 0), autumn = at(2026, 10, 25, 1, 0);
  assert_int_equal(va_zone_offset(&z, spring - 1), 60);
  assert_int_equal(va_zone_offset(&z, spring), 120);
  assert_int_equal(va_zone_offset(&z, autumn - 1), 120);
  assert_int_equal(va_zone_offset(&z, autumn), 60);
  assert_int_equal(va_zone_offset(&z, at(2026, 1, 15, 12, 0)), 60);
  assert_int_equal(va_zone_offset(&z, at(2026, 7, 15, 12, 0)), 120);
}

static void berlin_gap_and_overlap(void **state) {
  (void)state;
  va_zone z = zone("Europe/Berlin");
  /* Spring: clocks go from 02:00 CET to 03:00 CEST (01:00 UTC). */
  assert_int_equal(va_zone_to_utc(&z, at(2026, 3, 29, 1, 59)),
                   at(2026, 3, 29, 0, 59));
  assert_int_equal(va_zone_to_utc(&z, at(2026, 3, 29, 2, 0)),
                   at(2026, 3, 29, 1, 0));
  /* 02:30 is skipped: 30 minutes after the gap's start, 03:30 CEST. */
  assert_int_equal(va_zone_to_utc(&z, at(2026, 3, 29, 2, 30)),
                   at(2026, 3, 29, 1, 30));
  assert_int_equal(va_zone_to_utc(&z, at(2026, 3, 29, 3, 0)),
                   at(2026, 3, 29, 1, 0));
  assert_int_equal(va_zone_to_utc(&z, at(2026, 3, 29, 3, 30)),
                   at(2026, 3, 29, 1, 30));
  /* Autumn: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:30 is shown
   * twice, at 00:30 and 01:30 UTC: the first. */
  assert_int_equal(va_zone_to_utc(&z, at(2026, 10, 25, 2, 30)),
                   at(2026, 10, 25, 0, 30));
  assert_int_equal(va_zone_to_utc(&z, at(2026, 10, 25, 1, 59)),
                   at(2026, 10, 24, 23, 59));
  assert_int_equal(va_zone_to_utc(&z, at(2026, 10, 25, 3, 0)),
                   at(2026, 10, 25, 2, 0));
  /* Milliseconds go through. */
  assert_int_equal(va_zone_to_utc(&z, at(2026, 7, 1, 12, 0) + 999),
                   at(2026, 7, 1, 10, 0) + 999);
}

static void new_york(void **state) {
  (void)state;
  va_zone z = zone("America/New_York");
  int64_t spring = at(2026, 3, 8, 7, 0), autumn = at(2026, 11, 1, 6, 0);
  assert_int_equal(va_zone_offset(&z, spring - 1), -300);
  assert_int_equal(va_zone_offset(&z, spring), -240);
  assert_int_equal(va_zone_offset(&z, autumn - 1), -240);
  assert_int_equal(va_zone_offset(&z, autumn), -300);
  /* 02:30 on 2026-03-08 is skipped: 03:30 EDT. */
  assert_int_equal(va_zone_to_utc(&z, at(2026, 3, 8, 2, 30)),
                   at(2026, 3, 8, 7, 30));
  /* 01:30 on 2026-11-01 is shown twice: the first, EDT. */
  assert_int_equal(va_zone_to_utc(&z, at(2026, 11, 1, 1, 30)),
                   at(2026, 11, 1, 5, 30));
}

static void sydney_southern_hemisphere(void **state) {
  (void)state;
  va_zone z = zone("Australia/Sydney");
  /* Daylight saving time ends 2026-04-05 03:00 AEDT, starts again
   * 2026-10-04 02:00 AEST: summer is at the year's ends. */
  int64_t end = at(2026, 4, 4, 16, 0), start = at(2026, 10, 3, 16, 0);
  assert_int_equal(va_zone_offset(&z, at(2026, 1, 15, 0, 0)), 660);
  assert_int_equal(va_zone_offset(&z, end - 1), 660);
  assert_int_equal(va_zone_offset(&z, end), 600);
  assert_int_equal(va_zone_offset(&z, at(2026, 7, 1, 0, 0)), 600);
  assert_int_equal(va_zone_offset(&z, start - 1), 600);
  assert_int_equal(va_zone_offset(&z, start), 660);
  assert_int_equal(va_zone_offset(&z, at(2026, 12, 31, 23, 0)), 660);
  /* 02:30 on 2026-10-04 is skipped: 03:30 AEDT. */
  assert_int_equal(va_zone_to_utc(&z, at(2026, 10, 4, 2, 30)),
                   at(2026, 10, 3, 16, 30));
}

static void half_and_three_quarter_hours(void **state) {
  (void)state;
  va_zone kolkata = zone("Asia/Kolkata"), kathmandu = zone("Asia/Kathmandu");
  assert_int_equal(va_zone_offset(&kolkata, at(2026, 1, 1, 0, 0)), 330);
  assert_int_equal(va_zone_offset(&kolkata, at(2026, 7, 1, 0, 0)), 330);
  assert_int_equal(va_zone_to_utc(&kolkata, at(2026, 7, 1, 9, 0)),
                   at(2026, 7, 1, 3, 30));
  assert_int_equal(va_zone_offset(&kathmandu, at(2026, 7, 1, 0, 0)), 345);
  assert_int_equal(va_zone_to_utc(&kathmandu, at(2026, 7, 1, 9, 0)),
                   at(2026, 7, 1, 3, 15));
  /* Kathmandu was +05:30 until 1986. */
  assert_int_equal(va_zone_offset(&kathmandu, at(1985, 6, 1, 0, 0)), 330);
}

static void year_2100_from_the_footer(void **state) {
  (void)state;
  /* Debian's files list transitions up to 2037; the rule string then. */
  va_zone berlin = zone("Europe/Berlin"), ny = zone("America/New_York");
  int64_t spring = at(2100, 3, 28, 1, 0), autumn = at(2100, 10, 31, 1, 0);
  assert_int_equal(va_zone_offset(&berlin, spring - 1), 60);
  assert_int_equal(va_zone_offset(&berlin, spring), 120);
  assert_int_equal(va_zone_offset(&berlin, autumn - 1), 120);
  assert_int_equal(va_zone_offset(&berlin, autumn), 60);
  assert_int_equal(va_zone_to_utc(&berlin, at(2100, 3, 28, 2, 30)),
                   at(2100, 3, 28, 1, 30));
  assert_int_equal(va_zone_to_utc(&berlin, at(2100, 10, 31, 2, 30)),
                   at(2100, 10, 31, 0, 30));
  assert_int_equal(va_zone_offset(&ny, at(2100, 3, 14, 6, 59)), -300);
  assert_int_equal(va_zone_offset(&ny, at(2100, 3, 14, 7, 0)), -240);
  va_zone kathmandu = zone("Asia/Kathmandu");
  assert_int_equal(va_zone_offset(&kathmandu, at(2100, 7, 1, 0, 0)), 345);
}

static void before_the_first_transition(void **state) {
  (void)state;
  /* Local mean time, rounded to the minute: Kathmandu's +05:41:16 until
   * 1920, Berlin's +00:53:28 until 1893. */
  va_zone kathmandu = zone("Asia/Kathmandu"), berlin = zone("Europe/Berlin");
  va_zone ny = zone("America/New_York");
  assert_int_equal(va_zone_offset(&kathmandu, at(1900, 1, 1, 0, 0)), 341);
  assert_int_equal(va_zone_to_utc(&kathmandu, at(1900, 1, 1, 5, 41)),
                   at(1900, 1, 1, 0, 0));
  assert_int_equal(va_zone_offset(&berlin, at(1890, 1, 1, 0, 0)), 53);
  assert_int_equal(va_zone_offset(&berlin, at(1900, 1, 1, 0, 0)), 60);
  /* The ends of time are the first and the last offset. */
  assert_int_equal(va_zone_offset(&berlin, INT64_MIN), 53);
  assert_int_equal(va_zone_offset(&kathmandu, INT64_MAX), 345);
  assert_int_equal(va_zone_to_utc(&berlin, INT64_MIN), INT64_MIN);
  assert_int_equal(va_zone_to_utc(&ny, INT64_MAX), INT64_MAX);
}

/* ---- Footers alone: a v3 file with one type and no transitions ---- */

static size_t put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
  return 4;
}

/* A header with no transitions and one type (offset utoff, "ABC"). */
static size_t header_and_block(uint8_t *p, char version, int32_t utoff) {
  size_t n = 0;
  memcpy(p, "TZif", 4);
  p[4] = (uint8_t)version;
  memset(p + 5, 0, 15);
  n = 20;
  uint32_t counts[6] = {0, 0, 0, 0, 1, 4};
  for (int i = 0; i < 6; i++)
    n += put32(p + n, counts[i]);
  n += put32(p + n, (uint32_t)utoff);
  p[n++] = 0, p[n++] = 0;
  memcpy(p + n, "ABC", 4);
  return n + 4;
}

/* The file of footer tz (text between the newlines), into buf. */
static size_t footer_file(uint8_t *buf, const char *tz) {
  size_t n = header_and_block(buf, '3', 0);
  n += header_and_block(buf + n, '3', 0);
  buf[n++] = '\n';
  memcpy(buf + n, tz, strlen(tz));
  n += strlen(tz);
  buf[n++] = '\n';
  return n;
}

static va_tz_rules *footer_zone(const char *tz) {
  uint8_t buf[512];
  size_t n = footer_file(buf, tz);
  va_tz_rules *r = NULL;
  assert_int_equal(va_tz_rules_parse(buf, n, &r), 0);
  return r;
}

static void footer_rules(void **state) {
  (void)state;
  /* POSIX's own form: New York. */
  va_tz_rules *r = footer_zone("EST5EDT,M3.2.0,M11.1.0");
  va_zone z = {r, 0};
  assert_int_equal(va_zone_offset(&z, at(2026, 3, 8, 6, 59)), -300);
  assert_int_equal(va_zone_offset(&z, at(2026, 3, 8, 7, 0)), -240);
  assert_int_equal(va_zone_offset(&z, at(2026, 11, 1, 5, 59)), -240);
  assert_int_equal(va_zone_offset(&z, at(2026, 11, 1, 6, 0)), -300);
  va_tz_rules_free(r);
  /* Hours past 24 (v3): the Thursday of March's 4th week at 26:00, i.e.
   * Friday 2026-03-27 02:00 +02 (00:00 UTC); back the last Sunday of
   * October at 02:00 +03 (2026-10-24 23:00 UTC). */
  z.rules = r = footer_zone("IST-2IDT,M3.4.4/26,M10.5.0");
  assert_int_equal(va_zone_offset(&z, at(2026, 3, 26, 23, 59)), 120);
  assert_int_equal(va_zone_offset(&z, at(2026, 3, 27, 0, 0)), 180);
  assert_int_equal(va_zone_offset(&z, at(2026, 10, 24, 22, 59)), 180);
  assert_int_equal(va_zone_offset(&z, at(2026, 10, 24, 23, 0)), 120);
  va_tz_rules_free(r);
  /* Negative hours (v3), quoted names: Nuuk's -1:00 on the last Sunday of
   * March, at -02, is Saturday 23:00 local, Sunday 01:00 UTC. */
  z.rules = r = footer_zone("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
  assert_int_equal(va_zone_offset(&z, at(2026, 3, 29, 0, 59)), -120);
  assert_int_equal(va_zone_offset(&z, at(2026, 3, 29, 1, 0)), -60);
  assert_int_equal(va_zone_offset(&z, at(2026, 10, 25, 0, 59)), -60);
  assert_int_equal(va_zone_offset(&z, at(2026, 10, 25, 1, 0)), -120);
  va_tz_rules_free(r);
  /* Jn never counts Feb 29 (J60 is March 1), n does (59 is Feb 29 in a
   * leap year). Daylight saving time from 00:00 of that day. */
  z.rules = r = footer_zone("AAA0BBB,J60/0,J300/0");
  assert_int_equal(va_zone_offset(&z, at(2024, 2, 29, 12, 0)), 0);
  assert_int_equal(va_zone_offset(&z, at(2024, 3, 1, 0, 0)), 60);
  va_tz_rules_free(r);
  z.rules = r = footer_zone("AAA0BBB,59/0,300/0");
  assert_int_equal(va_zone_offset(&z, at(2024, 2, 28, 23, 59)), 0);
  assert_int_equal(va_zone_offset(&z, at(2024, 2, 29, 0, 0)), 60);
  assert_int_equal(va_zone_offset(&z, at(2025, 2, 28, 23, 59)), 0);
  assert_int_equal(va_zone_offset(&z, at(2025, 3, 1, 0, 0)), 60);
  va_tz_rules_free(r);
  /* Daylight saving time all year (RFC 8536, 3.3.1). */
  z.rules = r = footer_zone("XXX3YYY,0/0,J365/25");
  assert_int_equal(va_zone_offset(&z, at(2026, 1, 1, 3, 0)), -120);
  assert_int_equal(va_zone_offset(&z, at(2026, 7, 1, 0, 0)), -120);
  assert_int_equal(va_zone_offset(&z, at(2026, 12, 31, 23, 59)), -120);
  assert_int_equal(va_zone_offset(&z, at(2027, 1, 1, 2, 0)), -120);
  va_tz_rules_free(r);
  /* No daylight saving time, and a DST offset of its own. */
  z.rules = r = footer_zone("<+0545>-5:45");
  assert_int_equal(va_zone_offset(&z, at(2026, 7, 1, 0, 0)), 345);
  va_tz_rules_free(r);
  z.rules = r = footer_zone("LHST-10:30LHDT-11,M10.1.0,M4.1.0");
  assert_int_equal(va_zone_offset(&z, at(2026, 1, 1, 0, 0)), 660);
  assert_int_equal(va_zone_offset(&z, at(2026, 7, 1, 0, 0)), 630);
  va_tz_rules_free(r);
  /* A version 1 block with no types is skipped, as RFC 8536 lets readers
   * of version 2+ do (some writers leave it empty); not in a v1 file. */
  uint8_t buf[512];
  size_t n = footer_file(buf, "CET-1");
  uint8_t empty_v1[44] = {'T', 'Z', 'i', 'f', '2'};
  memmove(buf + 44, buf + 54, n - 54); /* the first block: 10 bytes */
  memcpy(buf, empty_v1, 44);
  assert_int_equal(va_tz_rules_parse(buf, n - 10, &r), 0);
  z.rules = r;
  assert_int_equal(va_zone_offset(&z, at(2026, 7, 1, 0, 0)), 60);
  va_tz_rules_free(r);
  empty_v1[4] = 0;
  assert_int_equal(parse(empty_v1, sizeof(empty_v1)), VA_EINVAL);
}

static void footers_with_garbage_are_refused(void **state) {
  (void)state;
  static const char *const BAD[] = {
      "CET-1CEST,M3.5.0,M10.5.0/3x", /* trailing bytes */
      "CET-1CEST",                   /* DST without its rule */
      "CET-1CEST,M3.5.0",            /* no end */
      "CET-1CEST,M13.5.0,M10.5.0",   /* month 13 */
      "CET-1CEST,M3.6.0,M10.5.0",    /* week 6 */
      "CET-1CEST,M3.5.7,M10.5.0",    /* weekday 7 */
      "CET-1CEST,J0,J365",           /* J starts at 1 */
      "CET-1CEST,366,J365",          /* n ends at 365 */
      "CET-1CEST,M3.5.0/168,M10.5.0",
      "CET-25", /* offsets at most 24:59:59 */
      "CET-1:60",
      "CE-1",   /* names of 3 or more */
      "<+03-3", /* unclosed */
      "<>-3",
      "CET",      /* no offset */
      "CET-0001", /* at most 3 digits of hours */
      "CET-1CEST,M3.5.0,M10.5.0/3\nX",
      "",
  };
  for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
    uint8_t buf[512];
    size_t n = footer_file(buf, BAD[i]);
    if (BAD[i][0] == 0) { /* an empty footer is fine, no footer is not */
      assert_int_equal(parse(buf, n), 0);
      assert_int_equal(parse(buf, n - 1), VA_EINVAL);
      continue;
    }
    if (parse(buf, n) != VA_EINVAL)
      fail_msg("footer %zu (%s) was taken", i, BAD[i]);
  }
  /* And a footer with a NUL in it. */
  uint8_t buf[512];
  size_t n = footer_file(buf, "CET-1");
  buf[n - 3] = 0;
  assert_int_equal(parse(buf, n), VA_EINVAL);
}

/* ---- Damaged files ---- */

static void every_truncation_is_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *good = slurp(ZONEINFO "/Europe/Berlin", &len);
  assert_int_equal(parse(good, len), 0);
  for (size_t n = 0; n < len; n++)
    if (parse(good, n) != VA_EINVAL)
      fail_msg("Europe/Berlin cut to %zu of %zu bytes was taken", n, len);
  /* Nor is a byte more. */
  good[len] = '\n';
  assert_int_equal(parse(good, len + 1), VA_EINVAL);
  free(good);
}

/* Europe/Berlin with one change: the 32-bit value at off set to v. */
static int berlin_with(size_t off, uint32_t v) {
  size_t len;
  uint8_t *bytes = slurp(ZONEINFO "/Europe/Berlin", &len);
  put32(bytes + off, v);
  int rc = parse(bytes, len);
  free(bytes);
  return rc;
}

static void damaged_headers_are_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *bytes = slurp(ZONEINFO "/Europe/Berlin", &len);
  /* Where the second header starts (the v1 block's counts). */
  uint32_t c[6];
  for (int i = 0; i < 6; i++)
    c[i] = (uint32_t)bytes[20 + 4 * i] << 24 | bytes[21 + 4 * i] << 16 |
           bytes[22 + 4 * i] << 8 | bytes[23 + 4 * i];
  size_t second = 44 + c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
  assert_memory_equal(bytes + second, "TZif2", 5);
  free(bytes);
  assert_int_equal(berlin_with(0, 0x545a6967), VA_EINVAL); /* "TZig" */
  assert_int_equal(berlin_with(second, 0x545a6967), VA_EINVAL);
  assert_int_equal(berlin_with(4, 0x35000000), VA_EINVAL); /* version 5 */
  /* Huge counts, in either header: isut, isstd, leap, time, type, char. */
  for (int i = 0; i < 6; i++) {
    assert_int_equal(berlin_with(20 + 4 * i, 0xffffffff), VA_EINVAL);
    assert_int_equal(berlin_with(second + 20 + 4 * i, 0xffffffff), VA_EINVAL);
    assert_int_equal(berlin_with(second + 20 + 4 * i, 0x7fffffff), VA_EINVAL);
  }
  assert_int_equal(berlin_with(second + 20 + 16, 0), VA_EINVAL); /* 0 types */
  assert_int_equal(berlin_with(second + 20 + 16, 257), VA_EINVAL);
  assert_int_equal(berlin_with(second + 20 + 12, 10001), VA_EINVAL);
  /* The first transition's time set after the second's. */
  size_t times = second + 44;
  assert_int_equal(berlin_with(times, 0x7fffffff), VA_EINVAL);
  /* A transition's type index past the types. */
  size_t len2;
  uint8_t *b = slurp(ZONEINFO "/Europe/Berlin", &len2);
  uint32_t timecnt = (uint32_t)b[second + 32] << 24 | b[second + 33] << 16 |
                     b[second + 34] << 8 | b[second + 35];
  uint32_t typecnt = b[second + 39];
  b[times + 8 * timecnt] = (uint8_t)typecnt;
  assert_int_equal(parse(b, len2), VA_EINVAL);
  b[times + 8 * timecnt] = 1;
  assert_int_equal(parse(b, len2), 0);
  /* A type's offset of 27 hours, then an isdst of 2. */
  size_t type0 = times + 9 * timecnt;
  put32(b + type0, 27 * 3600);
  assert_int_equal(parse(b, len2), VA_EINVAL);
  put32(b + type0, 3208);
  b[type0 + 4] = 2;
  assert_int_equal(parse(b, len2), VA_EINVAL);
  free(b);
}

/* Slim files (zic -b slim) list few transitions and lean on the footer;
 * the last transition may not change the offset, and the footer holds
 * from it on, not from the last change. */
static void slim_and_version_1_files(void **state) {
  (void)state;
  size_t len;
  uint8_t *bytes = slurp(VA_TZIF_CORPUS "/europe-lisbon-slim", &len);
  va_tz_rules *r;
  assert_int_equal(va_tz_rules_parse(bytes, len, &r), 0);
  free(bytes);
  va_zone z = {r, 0};
  assert_int_equal(va_zone_offset(&z, at(1995, 10, 31, 10, 0)), 60); /* CET */
  assert_int_equal(va_zone_offset(&z, at(1996, 7, 1, 0, 0)), 60);    /* WEST */
  assert_int_equal(va_zone_offset(&z, at(2026, 1, 1, 0, 0)), 0);
  assert_int_equal(va_zone_offset(&z, at(2026, 7, 1, 0, 0)), 60);
  va_tz_rules_free(r);
  /* Version 1: 32-bit times (up to 2037), no footer: CET after. */
  bytes = slurp(VA_TZIF_CORPUS "/europe-berlin-v1", &len);
  assert_int_equal(va_tz_rules_parse(bytes, len, &r), 0);
  free(bytes);
  z.rules = r;
  assert_int_equal(va_zone_offset(&z, at(2026, 7, 1, 0, 0)), 120);
  assert_int_equal(va_zone_offset(&z, at(2037, 7, 1, 0, 0)), 120);
  assert_int_equal(va_zone_offset(&z, at(2100, 7, 1, 0, 0)), 60);
  va_tz_rules_free(r);
}

/* ---- Loading a directory ---- */

static void write_file(const char *path, const void *bytes, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, len, f), len);
  fclose(f);
}

static void load_skips_what_is_no_zone(void **state) {
  (void)state;
  char dir[] = "/tmp/test_tz.XXXXXX", path[256];
  assert_non_null(mkdtemp(dir));
  size_t len;
  uint8_t *berlin = slurp(ZONEINFO "/Europe/Berlin", &len);
  snprintf(path, sizeof(path), "%s/Good", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(path, sizeof(path), "%s/Good/Zone", dir);
  write_file(path, berlin, len);
  snprintf(path, sizeof(path), "%s/Damaged", dir);
  write_file(path, berlin, len / 2);
  snprintf(path, sizeof(path), "%s/zone.tab", dir); /* no zone name */
  write_file(path, berlin, len);
  snprintf(path, sizeof(path), "%s/posixrules", dir);
  write_file(path, berlin, len);
  snprintf(path, sizeof(path), "%s/Text", dir);
  write_file(path, "# not TZif\n", 11);
  snprintf(path, sizeof(path), "%s/Loop", dir); /* Loop/Loop/... */
  assert_int_equal(symlink(".", path), 0);
  snprintf(path, sizeof(path), "%s/Link", dir); /* a link to a file */
  assert_int_equal(symlink("Good/Zone", path), 0);
  snprintf(path, sizeof(path), "%s/Dangling", dir);
  assert_int_equal(symlink("Nowhere", path), 0);
  snprintf(path, sizeof(path), "%s/Fifo", dir); /* would block a read */
  assert_int_equal(mkfifo(path, 0600), 0);
  free(berlin);

  va_tzdb *db = NULL;
  assert_int_equal(va_tzdb_load(dir, &db), 0);
  assert_int_equal(va_tzdb_count(db), 2);
  va_zone z, link;
  assert_true(va_zone_find(db, "Good/Zone", &z));
  assert_true(va_zone_find(db, "Link", &link));
  assert_ptr_equal(z.rules, link.rules); /* read once */
  assert_int_equal(va_zone_offset(&z, at(2026, 7, 1, 0, 0)), 120);
  static const char *const ABSENT[] = {
      "Damaged", "zone.tab", "posixrules", "Text",
      "Loop",    "Fifo",     "Dangling",   "Loop/Link",
      "Good",    "Good/",    "/Good/Zone", "Europe/Berlin",
      ""};
  for (size_t i = 0; i < sizeof(ABSENT) / sizeof(ABSENT[0]); i++)
    if (va_zone_find(db, ABSENT[i], &z))
      fail_msg("%s is a zone", ABSENT[i]);
  va_tzdb_free(db);

  const char *remove_them[] = {"Good/Zone",  "Good", "Damaged", "zone.tab",
                               "posixrules", "Text", "Loop",    "Link",
                               "Dangling",   "Fifo"};
  for (size_t i = 0; i < sizeof(remove_them) / sizeof(remove_them[0]); i++) {
    snprintf(path, sizeof(path), "%s/%s", dir, remove_them[i]);
    assert_int_equal(remove(path), 0);
  }
  assert_int_equal(rmdir(dir), 0);

  db = (va_tzdb *)1;
  assert_int_equal(va_tzdb_load("/nonexistent/zoneinfo", &db), VA_EINVAL);
  assert_null(db);
  assert_int_equal(va_tzdb_count(NULL), 0);
  va_tzdb_free(NULL);
}

/* ---- Fixed offsets ---- */

static void fixed_offsets(void **state) {
  (void)state;
  static const struct {
    const char *name;
    int minutes;
  } OK[] = {{"UTC", 0},       {"Z", 0},        {"+14:00", 840},
            {"-14:00", -840}, {"+05:30", 330}, {"-09:30", -570},
            {"+00:00", 0},    {"-00:00", 0},   {"+13:59", 839},
            {"+14:59", 899}};
  for (size_t i = 0; i < sizeof(OK) / sizeof(OK[0]); i++) {
    va_zone z = {(const va_tz_rules *)1, 1};
    assert_true(va_zone_find(NULL, OK[i].name, &z));
    assert_null(z.rules);
    assert_int_equal(va_zone_offset(&z, at(2026, 7, 1, 0, 0)), OK[i].minutes);
    assert_int_equal(va_zone_to_utc(&z, at(2026, 7, 1, 0, 0)),
                     at(2026, 7, 1, 0, 0) - OK[i].minutes * 60000LL);
  }
  static const char *const BAD[] = {"+15:00",  "+05:60", "utc",   "z",
                                    "+5:30",   "05:30",  "+05:3", "+05-30",
                                    "+05:30 ", "",       "GMT+2", "+0530"};
  for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
    va_zone z = {NULL, 12345};
    if (va_zone_find(va_tzdb_system(), BAD[i], &z))
      fail_msg("%s is a zone", BAD[i]);
    assert_int_equal(z.fixed_minutes, 12345); /* untouched */
  }
  va_zone z;
  assert_false(va_zone_find(NULL, "Europe/Berlin", &z));
  assert_false(va_zone_find(va_tzdb_system(), NULL, &z));
  assert_false(va_zone_find(va_tzdb_system(), "Mars/Base", &z));
  /* Saturation at the ends. */
  z = (va_zone){NULL, -840};
  assert_int_equal(va_zone_to_utc(&z, INT64_MAX), INT64_MAX);
  z = (va_zone){NULL, 840};
  assert_int_equal(va_zone_to_utc(&z, INT64_MIN), INT64_MIN);
}

/* ---- Preferences ---- */

static const char *prefs_refusal(const char *tz) {
  json_t *in = json_pack("{s:s}", "timeZone", tz);
  const char *why = va_prefs_check(in);
  json_decref(in);
  return why;
}

static void preferences_take_zone_names(void **state) {
  (void)state;
  assert_null(prefs_refusal("Europe/Berlin"));
  assert_null(prefs_refusal("America/Argentina/Buenos_Aires"));
  assert_null(prefs_refusal("+02:00"));
  assert_null(prefs_refusal("UTC"));
  assert_string_equal(prefs_refusal("Mars/Base"),
                      "timeZone must be UTC, an offset such as +02:00, or a "
                      "zone name such as Europe/Berlin");
  assert_null(prefs_refusal("+14:30")); /* (as stored before zones) */
  assert_non_null(prefs_refusal("posixrules"));
  va_zone z;
  assert_true(va_prefs_zone("Asia/Kolkata", &z));
  assert_int_equal(va_zone_offset(&z, at(2026, 7, 1, 0, 0)), 330);
  assert_true(va_prefs_zone("-03:00", &z));
  assert_int_equal(va_zone_offset(&z, 0), -180);
  assert_false(va_prefs_zone(NULL, &z));
  /* Stored preferences naming a zone are kept. */
  const char *stored = "{\"timeZone\":\"Australia/Sydney\"}";
  json_t *p = va_prefs_decode(stored, strlen(stored));
  assert_string_equal(json_string_value(json_object_get(p, "timeZone")),
                      "Australia/Sydney");
  json_decref(p);
}

/* ---- The fuzz corpus ---- */

static void fuzz_corpus_replays(void **state) {
  (void)state;
  DIR *d = opendir(VA_TZIF_CORPUS);
  assert_non_null(d);
  int n = 0, parsed = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.')
      continue;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", VA_TZIF_CORPUS, e->d_name);
    size_t len;
    uint8_t *bytes = slurp(path, &len);
    LLVMFuzzerTestOneInput(bytes, len); /* aborts on a broken invariant */
    parsed += parse(bytes, len) == 0;
    free(bytes);
    n++;
  }
  closedir(d);
  assert_true(n >= 5);
  assert_true(parsed >= 5); /* the real files, at least */
}

/* The whole system table through the fuzz target's checks: every zone's
 * every transition of Debian's files. */
static void every_system_zone_keeps_its_promises(void **state) {
  (void)state;
  DIR *d = opendir(ZONEINFO "/Europe");
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    char path[1024];
    snprintf(path, sizeof(path), ZONEINFO "/Europe/%s", e->d_name);
    struct stat st;
    if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    size_t len;
    uint8_t *bytes = slurp(path, &len);
    assert_int_equal(parse(bytes, len), 0);
    LLVMFuzzerTestOneInput(bytes, len);
    free(bytes);
    n++;
  }
  closedir(d);
  assert_true(n > 30);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(system_table_loads_once), /* first: the race */
      cmocka_unit_test(berlin_around_2026_changes),
      cmocka_unit_test(berlin_gap_and_overlap),
      cmocka_unit_test(new_york),
      cmocka_unit_test(sydney_southern_hemisphere),
      cmocka_unit_test(half_and_three_quarter_hours),
      cmocka_unit_test(year_2100_from_the_footer),
      cmocka_unit_test(before_the_first_transition),
      cmocka_unit_test(footer_rules),
      cmocka_unit_test(footers_with_garbage_are_refused),
      cmocka_unit_test(every_truncation_is_refused),
      cmocka_unit_test(damaged_headers_are_refused),
      cmocka_unit_test(slim_and_version_1_files),
      cmocka_unit_test(load_skips_what_is_no_zone),
      cmocka_unit_test(fixed_offsets),
      cmocka_unit_test(preferences_take_zone_names),
      cmocka_unit_test(fuzz_corpus_replays),
      cmocka_unit_test(every_system_zone_keeps_its_promises),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
