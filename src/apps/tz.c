/* tz.c — see tz.h. Fixed offsets only so far: named zones read no file
 * yet, and the table is always empty. */
#include "tz.h"
#include <ctype.h>
#include <string.h>
#include <vactor.h>

struct va_tzdb {
  int count;
};

const va_tzdb *va_tzdb_system(void) {
  static const va_tzdb empty = {0};
  return &empty;
}

int va_tzdb_load(const char *dir, va_tzdb **out) {
  (void)dir;
  *out = NULL;
  return VA_EINVAL;
}

void va_tzdb_free(va_tzdb *db) {
  (void)db;
}

int va_tzdb_count(const va_tzdb *db) {
  return db ? db->count : 0;
}

/* "+HH:MM" / "-HH:MM" (at most 14:00), "UTC" or "Z" in minutes. */
static bool offset_of(const char *s, int *minutes) {
  if (!strcmp(s, "UTC") || !strcmp(s, "Z")) {
    *minutes = 0;
    return true;
  }
  if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
    return false;
  for (int i = 1; i < 6; i++)
    if (i != 3 && !isdigit((unsigned char)s[i]))
      return false;
  int h = (s[1] - '0') * 10 + (s[2] - '0');
  int m = (s[4] - '0') * 10 + (s[5] - '0');
  if (h > 14 || m > 59 || (h == 14 && m > 0))
    return false;
  *minutes = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
  return true;
}

bool va_zone_find(const va_tzdb *db, const char *name, va_zone *out) {
  (void)db;
  int minutes;
  if (!name || !offset_of(name, &minutes))
    return false;
  *out = (va_zone){NULL, minutes};
  return true;
}

int va_zone_offset(const va_zone *z, int64_t utc_ms) {
  (void)utc_ms;
  return z->fixed_minutes;
}

int64_t va_zone_to_utc(const va_zone *z, int64_t local_ms) {
  return local_ms - (int64_t)z->fixed_minutes * 60000;
}
