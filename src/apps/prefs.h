/* prefs.h — a user's preferences: what they may hold, and the time zone
 * they name (an offset from UTC or a named zone with its daylight saving
 * rules, see tz.h). Pure functions of JSON values and of the process's
 * zone table, read once (va_tzdb_system). */
#ifndef VA_APPS_PREFS_H
#define VA_APPS_PREFS_H

#include "tz.h"
#include <jansson.h>
#include <stdbool.h>

/* Checks a preferences update: an object with timeZone ("UTC", "Z", an
 * offset "+HH:MM" / "-HH:MM" of at most 14:00, or a zone name the system's
 * table holds, "Europe/Berlin"), language (2-8 letters), and nothing else.
 * NULL when fine, else why not (static). */
const char *va_prefs_check(json_t *in);

/* The zone a timeZone names (tz may be NULL), as va_prefs_check takes it:
 * false, *out untouched, for one it would refuse. */
bool va_prefs_zone(const char *tz, va_zone *out);

/* Stored preferences (untrusted bytes): the fields va_prefs_check would
 * accept, as a new object; an empty one when the bytes are not an object;
 * NULL when out of memory. */
json_t *va_prefs_decode(const void *bytes, size_t len);

#endif
