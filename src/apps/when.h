/* when.h — the date and time phrases the assistant understands ("next
 * monday at 9am", "by friday", "2026-12-24", "tonight", "in 2 weeks", "the
 * 24th", "dec 24"), read as wall-clock time in the user's zone: every day
 * and clock reckoning is done on local time and turned into an instant by
 * va_zone_to_utc, so a zone with daylight saving time works too. Pure,
 * offline, bounded (no recursion, no allocation); reads any bytes.
 *
 * The grammar, over lower-case words split by spaces:
 *
 *   phrase   = lead* (relative | date [time] | time [date]) | rfc3339
 *   lead     = due | by | before | until | on            (ignored)
 *   relative = in N (minutes | hours)                     now + N
 *            | in N (days | weeks | months) [time]        local now + N
 *              N: digits (1 and up), "a", "an"; "half an hour"; glued
 *              "30m", "2h", "3d", "2w"; at most 100 years
 *   date     = today | tonight | tomorrow [part] | [the] day after tomorrow
 *            | this (part | weekday) | next (weekday | week | month)
 *            | [on] weekday [part] | end of [the] day | end of today | eod
 *            | YYYY-MM-DD | [the] Nth [of month [YYYY]]
 *            | month D [YYYY] | D month [YYYY]  (D: "24" or "24th")
 *   time     = [at | @] (H:MM | H[:MM] am/pm | noon | midday | midnight)
 *            | (at | @) H                     (a bare hour needs "at")
 *   part     = morning | afternoon | evening | night
 *   weekday  = monday .. sunday; mon, tue(s), wed, thu(r)(s), fri, sat, sun
 *              only after a lead, "on", "this" or "next" ("the sun")
 *   month    = january .. december, jan .. dec, sept
 *
 * The defaults (what a phrase means when it leaves something out):
 *   - A date without a time is 09:00 local on that day ("tomorrow",
 *     "friday", "dec 24", "next week"). When that day is today ("today",
 *     "the 26th" said on the 26th) it is 17:00; once 17:00 has passed, the
 *     end of today, 23:59. So a due time is not already past when set.
 *   - Parts of the day: morning 09:00, afternoon 15:00, evening 18:00,
 *     night ("tonight") 20:00; "this morning" once past is 23:59 today. An
 *     hour without am/pm after afternoon, evening or night is pm
 *     ("tonight at 8" is 20:00).
 *   - noon/midday 12:00; midnight is the end of the day: 00:00 of the next
 *     one ("friday at midnight" is Saturday 00:00); end of day / eod 23:59.
 *   - A time without a date is its next occurrence: "at 9am" said at 10:00
 *     is tomorrow 09:00. A time with a date is that time, even if past.
 *   - A weekday alone ("monday", "on monday", "by monday") is the next
 *     such day after today: said on a Monday, "monday" is in 7 days.
 *     "this monday" is today's if today is a Monday, else the coming one.
 *     "next monday" is the Monday of next week (weeks start on Monday):
 *     said on a Tuesday, "next friday" is in 10 days, "friday" in 3.
 *     "next week" is next week's Monday, "next month" the 1st of next month.
 *   - "the 24th" is this month's if today is the 24th or earlier, else the
 *     next month that has a 24th ("the 31st" in November is December 31).
 *   - "dec 24" is this year's unless past, else next year's; "feb 29" is
 *     the next Feb 29 that is today or later. A date with a year is that
 *     date, past or not (years 1970-9999).
 *   - "in 3 days" keeps the local time of day (now, three days on); "in 2
 *     months" on a 31st lands on the month's last day when it is shorter.
 *
 * A phrase that looks like a date but is not one is VA_WHEN_BAD, so that
 * it is not taken for words of a title: "next blursday" (a word within two
 * edits of a weekday, after on/by/due/this/next), "at 25:00" / "at 13pm"
 * (clock shaped, out of range), "on the 35th" / "dec 32" / "feb 30",
 * "2026-13-01", "in 0 days", "in 9999 years"-sized amounts. */
#ifndef VA_APPS_WHEN_H
#define VA_APPS_WHEN_H

#include "tz.h"
#include <stddef.h>
#include <stdint.h>

typedef enum va_when_verdict {
  VA_WHEN_NONE, /* not a date phrase (or words follow one) */
  VA_WHEN_BAD,  /* looks like a date, is not one (see above) */
  VA_WHEN_OK,   /* a date: *at_ms is its instant */
} va_when_verdict;

/* Reads all of low (len bytes, lower case; any bytes) as one phrase said
 * at now_ms by a user in zone. *at_ms is set only when VA_WHEN_OK. */
va_when_verdict va_when_read(const char *low, size_t len, int64_t now_ms,
                             const va_zone *zone, int64_t *at_ms);

/* The instant local midnight starts the day `days` after today (0: today,
 * -1: yesterday) for a user in zone at now_ms. */
int64_t va_when_day_start(int64_t now_ms, const va_zone *zone, int days);

/* Today's weekday for that user: 0 Monday .. 6 Sunday. */
int va_when_weekday(int64_t now_ms, const va_zone *zone);

#endif
