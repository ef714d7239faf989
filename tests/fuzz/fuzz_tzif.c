/* fuzz_tzif.c — libFuzzer target for the TZif parser (va_tz_rules_parse,
 * what reads every file of the zone directory, each untrusted). Bytes it
 * accepts must make a zone whose lookups keep their promises at every
 * instant tried: an offset within ±26 h, and a local time that some
 * instant shows maps back to an instant (the first, no later than that
 * one) at which the clocks show it. The instants tried are a grid from
 * 1800 to 2500, the edges of the range, and the first 1024 4- and 8-byte
 * windows of the input read as seconds, a second either side (so the
 * file's own transitions). Any breach aborts. tests/unit/test_tz.c
 * replays the corpus (tests/fuzz/tzif-corpus) through this function. */
#include "../../src/apps/tz.h"
#include <stdint.h>
#include <stdlib.h>

/* Instants (ms) whose local time is checked: inside the ±2^40 s that
 * tz.c looks instants up in (beyond, the offset at that limit holds, and
 * a local time near it may map to an instant past it). */
#define INSTANT_MAX_MS ((int64_t)1 << 49)
#define OFFSET_MAX_MIN (26 * 60)

static void check_instant(const va_zone *z, int64_t utc_ms) {
  int minutes = va_zone_offset(z, utc_ms);
  if (minutes < -OFFSET_MAX_MIN || minutes > OFFSET_MAX_MIN)
    abort();
  if (utc_ms < -INSTANT_MAX_MS || utc_ms > INSTANT_MAX_MS)
    return;
  int64_t local = utc_ms + (int64_t)minutes * 60000;
  int64_t back = va_zone_to_utc(z, local);
  if (back > utc_ms)
    abort(); /* the first instant showing local is not after this one */
  if (back + (int64_t)va_zone_offset(z, back) * 60000 != local)
    abort(); /* and the clocks show local at it */
}

static int64_t read_be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = v << 8 | p[i];
  if (n == 4)
    return (int32_t)(uint32_t)v;
  return (int64_t)v;
}

static void check_near(const va_zone *z, int64_t secs) {
  if (secs < -INSTANT_MAX_MS / 1000 || secs > INSTANT_MAX_MS / 1000)
    return;
  for (int64_t d = -1; d <= 1; d++)
    check_instant(z, (secs + d) * 1000);
}

static void check_zone(const va_zone *z, const uint8_t *data, size_t size) {
  static const int64_t EDGES[] = {
      INT64_MIN, INT64_MIN + 1,  -INSTANT_MAX_MS, -1,       0,
      1,         INSTANT_MAX_MS, INT64_MAX - 1,   INT64_MAX};
  for (size_t i = 0; i < sizeof(EDGES) / sizeof(EDGES[0]); i++)
    check_instant(z, EDGES[i]);
  /* 1800 to 2500, every 367 days and 7 hours (so all seasons and hours). */
  for (int64_t s = -5364662400LL; s < 16725225600LL;
       s += 367 * 86400 + 7 * 3607)
    check_instant(z, s * 1000);
  size_t windows = 0;
  for (size_t i = 0; i + 4 <= size && windows < 1024; i++, windows++) {
    check_near(z, read_be(data + i, 4));
    if (i + 8 <= size)
      check_near(z, read_be(data + i, 8));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  va_tz_rules *rules;
  if (va_tz_rules_parse(data, size, &rules) != 0) {
    if (rules)
      abort(); /* refused bytes leave nothing behind */
    return 0;
  }
  va_zone z = {rules, 0};
  check_zone(&z, data, size);
  va_tz_rules_free(rules);
  return 0;
}
