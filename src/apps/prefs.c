/* prefs.c — see prefs.h. A timeZone is a fixed offset or a named IANA
 * zone (Europe/Berlin) with its daylight saving rules: tz.c reads the
 * system's TZif files itself, once, since the C library offers zones only
 * through the process-wide TZ. */
#include "prefs.h"
#include <ctype.h>
#include <string.h>

bool va_prefs_zone(const char *tz, va_zone *out) {
  return va_zone_find(va_tzdb_system(), tz, out);
}

static bool language_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  for (size_t i = 0; i < n; i++)
    if (!isalpha((unsigned char)s[i]) && s[i] != '-')
      return false;
  return n >= 2 && n <= 8;
}

const char *va_prefs_check(json_t *in) {
  if (!json_is_object(in))
    return "the body must be a JSON object";
  const char *key;
  json_t *v;
  va_zone zone;
  json_object_foreach(in, key, v) {
    if (!strcmp(key, "timeZone")) {
      if (!va_prefs_zone(json_string_value(v), &zone))
        return "timeZone must be UTC, an offset such as +02:00, or a zone "
               "name such as Europe/Berlin";
    } else if (!strcmp(key, "language")) {
      if (!language_ok(json_string_value(v)))
        return "language must be a language tag such as en";
    } else {
      return "unknown preference: there are timeZone and language";
    }
  }
  return NULL;
}

json_t *va_prefs_decode(const void *bytes, size_t len) {
  json_t *stored = json_loadb(bytes, len, 0, NULL);
  json_t *kept = json_object();
  const char *key;
  json_t *v;
  json_object_foreach(stored, key, v) {
    json_t *one = json_pack("{s:O}", key, v);
    if (kept && one && !va_prefs_check(one))
      json_object_set(kept, key, v);
    json_decref(one);
  }
  json_decref(stored);
  return kept;
}
