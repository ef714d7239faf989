/* prefs.h — a user's preferences: what they may hold, and the time zone
 * they name as an offset from UTC. Pure functions of JSON values. */
#ifndef VA_APPS_PREFS_H
#define VA_APPS_PREFS_H

#include <jansson.h>
#include <stdbool.h>

/* Checks a preferences update: an object with timeZone ("UTC", "Z", or an
 * offset "+HH:MM" / "-HH:MM"), language (2-8 letters), and nothing else.
 * NULL when fine, else why not (static). */
const char *va_prefs_check(json_t *in);

/* The time zone's offset from UTC in minutes (east positive); false for
 * something va_prefs_check would refuse. */
bool va_tz_offset(const char *tz, int *minutes);

/* Stored preferences (untrusted bytes): the fields va_prefs_check would
 * accept, as a new object; an empty one when the bytes are not an object;
 * NULL when out of memory. */
json_t *va_prefs_decode(const void *bytes, size_t len);

#endif
