/* tz.h — time zones: a fixed offset from UTC ("+02:00") or a named IANA
 * zone with its daylight saving rules ("Europe/Berlin"), read from the
 * system's TZif files (Debian's tzdata) once, before any turn runs, so
 * that no worker reads a file. After loading, everything here is a pure
 * lookup in read-only memory, safe from any thread. */
#ifndef VA_APPS_TZ_H
#define VA_APPS_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The named zones: a sorted table of names and their transitions. */
typedef struct va_tzdb va_tzdb;
/* One named zone's transitions, owned by its va_tzdb. */
typedef struct va_tz_rules va_tz_rules;

/* A zone as a value: small, copied freely, valid while its va_tzdb is. */
typedef struct va_zone {
  const va_tz_rules *rules; /* NULL: a fixed offset */
  int fixed_minutes;        /* east of UTC, when rules is NULL */
} va_zone;

/* The process's zones, read on the first call from $TZDIR or
 * /usr/share/zoneinfo (once; later calls return the same table, from any
 * thread). Never NULL: without a readable zone directory (or memory) it
 * is empty, and only offsets are zones. Call it once at start so that
 * the reading happens then. */
const va_tzdb *va_tzdb_system(void);

/* Reads every TZif file under dir into a new table (*out, owned: free
 * with va_tzdb_free): 0, VA_ENOMEM, or VA_EINVAL when dir is unreadable.
 * Files that are not TZif, or are damaged, are skipped. */
int va_tzdb_load(const char *dir, va_tzdb **out);
void va_tzdb_free(va_tzdb *db);
/* How many named zones db holds. */
int va_tzdb_count(const va_tzdb *db);
/* The bytes db's table has allocated (names, zones, transitions). */
size_t va_tzdb_bytes(const va_tzdb *db);

/* One TZif file's bytes (untrusted, RFC 8536 versions 1-4) as a zone of
 * its own (*out, owned: free with va_tz_rules_free; the zone is
 * (va_zone){*out, 0}): 0, VA_ENOMEM, or VA_EINVAL for bytes that are not a
 * whole, valid file (then *out is NULL). What va_tzdb_load reads each
 * file with; for tests and the fuzz target. */
int va_tz_rules_parse(const void *bytes, size_t len, va_tz_rules **out);
void va_tz_rules_free(va_tz_rules *rules);
/* The bytes rules was allocated with (0 for NULL). */
size_t va_tz_rules_bytes(const va_tz_rules *rules);

/* The zone called name: "UTC", "Z", "+HH:MM" or "-HH:MM" (at most 14:59
 * either way), or a name db holds ("Europe/Berlin"; db may be NULL: then
 * offsets only). false, *out untouched, for anything else. */
bool va_zone_find(const va_tzdb *db, const char *name, va_zone *out);

/* Minutes east of UTC in zone z at the instant utc_ms. Instants more
 * than 2^40 s (~35,000 years) from 1970 have the offset at that limit. */
int va_zone_offset(const va_zone *z, int64_t utc_ms);

/* The instant at which clocks in z show local_ms (milliseconds since
 * 1970-01-01 00:00 on the local clock, read as if it were UTC). A time
 * that clocks skip (spring forward, 02:30 in a 02:00-03:00 gap) is taken
 * as that many minutes after the gap's start (03:30); a time they show
 * twice (fall back) is the first. */
int64_t va_zone_to_utc(const va_zone *z, int64_t local_ms);

#endif
