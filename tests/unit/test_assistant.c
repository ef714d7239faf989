/* test_assistant.c — the built-in assistant's parser (what a chat message
 * asks for, at a fixed time and time zone), the query-string reader, the
 * task and preferences checks, and the replay of the fuzz corpus (every
 * input the fuzzer kept, crashers included, must parse). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "api/query.h"
#include "apps/assistant.h"
#include "apps/prefs.h"
#include "apps/task_doc.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vactor.h>

/* 2026-11-26T10:00:00Z */
static const int64_t NOW = 1795687200000;
enum { MIN = 60000, HOUR = 60 * MIN, DAY = 24 * HOUR };

/* msg read at NOW by a user tz minutes east of UTC. */
static va_intent parse(const char *msg, int tz) {
  va_intent in;
  va_zone zone = {NULL, tz};
  va_assistant_read(msg, strlen(msg), NOW, &zone, &in);
  return in;
}

static void kinds(void **state) {
  (void)state;
  assert_int_equal(parse("help", 0).kind, VA_INTENT_HELP);
  assert_int_equal(parse("  What can you do?", 0).kind, VA_INTENT_HELP);
  assert_int_equal(parse("list", 0).kind, VA_INTENT_LIST);
  assert_int_equal(parse("show my tasks", 0).kind, VA_INTENT_LIST);
  assert_int_equal(parse("my tasks", 0).kind, VA_INTENT_LIST);
  assert_string_equal(parse("list done tasks", 0).status, "done");
  assert_string_equal(parse("List open tasks.", 0).status, "open");
  assert_int_equal(parse("list the moon", 0).kind, VA_INTENT_UNKNOWN);
  assert_int_equal(parse("flibber", 0).kind, VA_INTENT_UNKNOWN);
  assert_int_equal(parse("add", 0).kind, VA_INTENT_UNKNOWN);
}

static void adding(void **state) {
  (void)state;
  va_intent in = parse("add Buy milk", 0);
  assert_int_equal(in.kind, VA_INTENT_ADD);
  assert_string_equal(in.text, "Buy milk");
  assert_int_equal(in.at_ms, 0);
  in = parse("Please add a task Write report due tomorrow at 18:00", 0);
  assert_string_equal(in.text, "Write report");
  assert_int_equal(in.at_ms, NOW - 10 * HOUR + DAY + 18 * HOUR);
  in = parse("add call mum in 2 hours", 0);
  assert_string_equal(in.text, "call mum");
  assert_int_equal(in.at_ms, NOW + 2 * HOUR);
  in = parse("add taxes by 2027-04-01T12:00:00Z", 0);
  assert_string_equal(in.text, "taxes");
  assert_true(in.at_ms > NOW);
  /* "at" in a title is not a time unless a time follows to the end. */
  in = parse("add look at the roof", 0);
  assert_string_equal(in.text, "look at the roof");
  assert_int_equal(in.at_ms, 0);
}

static void completing_and_logging(void **state) {
  (void)state;
  va_intent in = parse("complete Buy milk", 0);
  assert_int_equal(in.kind, VA_INTENT_COMPLETE);
  assert_string_equal(in.text, "Buy milk");
  in = parse("mark t1 as done", 0);
  assert_int_equal(in.kind, VA_INTENT_COMPLETE);
  assert_string_equal(in.text, "t1");
  in = parse("log 30 minutes on Buy milk", 0);
  assert_int_equal(in.kind, VA_INTENT_LOG);
  assert_int_equal(in.minutes, 30);
  assert_string_equal(in.text, "Buy milk");
  in = parse("log 2h to report", 0);
  assert_int_equal(in.minutes, 120);
  assert_int_equal(parse("log lots on x", 0).kind, VA_INTENT_UNKNOWN);
  assert_int_equal(parse("log 0 minutes on x", 0).kind, VA_INTENT_UNKNOWN);
}

static void reminding(void **state) {
  (void)state;
  va_intent in = parse("remind me in 10 minutes to stretch", 0);
  assert_int_equal(in.kind, VA_INTENT_REMIND);
  assert_int_equal(in.at_ms, NOW + 10 * MIN);
  assert_string_equal(in.text, "stretch");
  /* 17:00 at +02:00 is 15:00 UTC, today (it is 12:00 there). */
  in = parse("remind me at 17:00 to leave", 120);
  assert_int_equal(in.at_ms, NOW + 5 * HOUR);
  /* 09:00 has passed today: tomorrow's. */
  in = parse("remind me at 9am to wake up", 0);
  assert_int_equal(in.at_ms, NOW - HOUR + DAY);
  in = parse("remind me to call Bob at 5:30pm", 0);
  assert_string_equal(in.text, "call Bob");
  assert_int_equal(in.at_ms, NOW + 7 * HOUR + 30 * MIN);
  in = parse("remind me tomorrow to water", -300);
  assert_int_equal(in.kind, VA_INTENT_REMIND);
  assert_true(in.at_ms > NOW);
  assert_int_equal(parse("remind me to", 0).kind, VA_INTENT_UNKNOWN);
  in = parse("remind me at 25:00 to x", 0); /* said to be no date */
  assert_int_equal(in.kind, VA_INTENT_REMIND);
  assert_string_equal(in.bad_date, "at 25:00");
  assert_int_equal(in.at_ms, 0);
}

/* A command word one edit off is read as the command; two off, or one
 * edit from two commands, is not. */
static void typos(void **state) {
  (void)state;
  static const struct {
    const char *msg;
    va_intent_kind kind;
    const char *text;
  } CASES[] = {
      {"lsit", VA_INTENT_LIST, ""},
      {"lst", VA_INTENT_LIST, ""},
      {"lisst", VA_INTENT_LIST, ""},
      {"ad buy bread", VA_INTENT_ADD, "buy bread"},
      {"adn buy bread", VA_INTENT_ADD, "buy bread"},
      {"aad buy bread", VA_INTENT_ADD, "buy bread"},
      {"compelte buy milk", VA_INTENT_COMPLETE, "buy milk"},
      {"complet buy milk", VA_INTENT_COMPLETE, "buy milk"},
      {"dnoe buy milk", VA_INTENT_COMPLETE, "buy milk"},
      {"lgo 20 minutes on report", VA_INTENT_LOG, "report"},
      {"remnd me in 10 minutes to call Ben", VA_INTENT_REMIND, "call Ben"},
      {"hlep", VA_INTENT_HELP, ""},
      {"Ad Buy Bread", VA_INTENT_ADD, "Buy Bread"},
      /* Not typos of one command. */
      {"now call mom", VA_INTENT_UNKNOWN, ""},
      {"lots of things", VA_INTENT_UNKNOWN, ""}, /* (two edits from list) */
      {"xyz buy bread", VA_INTENT_UNKNOWN, ""},
      {"a buy bread", VA_INTENT_UNKNOWN, ""},
      {"adding buy bread", VA_INTENT_UNKNOWN, ""},
  };
  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
    va_intent in = parse(CASES[i].msg, 0);
    if (in.kind != CASES[i].kind || strcmp(in.text, CASES[i].text))
      fail_msg("\"%s\": kind %d text \"%s\", want kind %d text \"%s\"",
               CASES[i].msg, (int)in.kind, in.text, (int)CASES[i].kind,
               CASES[i].text);
  }
}

static void long_and_odd_input(void **state) {
  (void)state;
  char big[5000];
  memset(big, 'a', sizeof(big));
  memcpy(big, "add ", 4);
  va_intent in;
  va_zone utc = {NULL, 0};
  va_assistant_read(big, sizeof(big), NOW, &utc, &in);
  assert_int_equal(in.kind, VA_INTENT_ADD);
  /* A text too long to keep is not cut: it is said to be too long. */
  assert_true(in.too_long);
  assert_string_equal(in.text, "");
  big[4 + VA_INTENT_TEXT_MAX] = 0; /* the longest text kept whole */
  va_assistant_read(big, 4 + VA_INTENT_TEXT_MAX, NOW, &utc, &in);
  assert_int_equal(in.kind, VA_INTENT_ADD);
  assert_false(in.too_long);
  assert_int_equal(strlen(in.text), VA_INTENT_TEXT_MAX);
  va_assistant_read("add \0\t\x01x", 8, NOW, &utc, &in);
  assert_int_equal(in.kind, VA_INTENT_ADD);
}

/* ---- The table: a few hundred phrasings ---- */

/* Moments the rows are said at (UTC). */
#define THU "2026-11-26T10:00:00Z"        /* a Thursday */
#define THU_2330_W "2026-11-27T04:30:00Z" /* Thu 23:30 at -05:00 */
#define THU_2330 "2026-11-26T23:30:00Z"
#define MON "2026-11-30T08:00:00Z"
#define TUE "2026-12-01T10:00:00Z"
#define XMAS "2026-12-25T10:00:00Z" /* a Friday */
#define NYE "2026-12-31T10:00:00Z"  /* a Thursday */
#define JAN30 "2027-01-30T10:00:00Z"
#define FEB28 "2028-02-28T10:00:00Z" /* a leap year's */
#define LEAPDAY "2028-02-29T10:00:00Z"
#define MAR1 "2029-03-01T10:00:00Z"

enum {
  UNK = VA_INTENT_UNKNOWN,
  HELP = VA_INTENT_HELP,
  LIST = VA_INTENT_LIST,
  ADD = VA_INTENT_ADD,
  COMPLETE = VA_INTENT_COMPLETE,
  LOG = VA_INTENT_LOG,
  REMIND = VA_INTENT_REMIND,
  DEL = VA_INTENT_DELETE,
  RENAME = VA_INTENT_RENAME,
  DUE = VA_INTENT_DUE,
  REMINDERS = VA_INTENT_LIST_REMINDERS,
  CANCEL = VA_INTENT_CANCEL_REMINDER,
};

/* A message said at now in a zone tz minutes east, and what it means:
 * kind, text, at ("" none, "+N" N minutes after now, else RFC 3339 UTC),
 * bad_date, and more: LIST "status[|from|to]" or "status|overdue",
 * RENAME the new title, CANCEL "#N", LOG the minutes. */
typedef struct row {
  const char *msg, *now;
  int tz, kind;
  const char *text, *at, *bad, *more;
} row;

static const row DATES[] = {
    /* The examples. */
    {"add call the dentist next monday at 9am", THU, 0, ADD, "call the dentist",
     "2026-11-30T09:00:00Z", "", ""},
    {"add pay rent by friday", THU, 0, ADD, "pay rent", "2026-11-27T09:00:00Z",
     "", ""},
    {"add gifts 2026-12-24", THU, 0, ADD, "gifts", "2026-12-24T09:00:00Z", "",
     ""},
    {"add gifts 2026-12-24 at 10:00", THU, 0, ADD, "gifts",
     "2026-12-24T10:00:00Z", "", ""},
    {"add party tonight", THU, 0, ADD, "party", "2026-11-26T20:00:00Z", "", ""},
    {"add lunch at noon", THU, 0, ADD, "lunch", "2026-11-26T12:00:00Z", "", ""},
    {"add lunch noon", THU, 0, ADD, "lunch", "2026-11-26T12:00:00Z", "", ""},
    {"add backup midnight", THU, 0, ADD, "backup", "2026-11-27T00:00:00Z", "",
     ""},
    {"add report end of day", THU, 0, ADD, "report", "2026-11-26T23:59:00Z", "",
     ""},
    {"add report eod", THU, 0, ADD, "report", "2026-11-26T23:59:00Z", "", ""},
    {"add call mom this evening", THU, 0, ADD, "call mom",
     "2026-11-26T18:00:00Z", "", ""},
    {"add renew passport in 2 weeks", THU, 0, ADD, "renew passport",
     "2026-12-10T10:00:00Z", "", ""},
    {"add renew passport in 3 days", THU, 0, ADD, "renew passport",
     "2026-11-29T10:00:00Z", "", ""},
    {"add check oven in an hour", THU, 0, ADD, "check oven", "+60", "", ""},
    {"add pay rent the 24th", THU, 0, ADD, "pay rent", "2026-12-24T09:00:00Z",
     "", ""},
    {"add pay rent on the 3rd", THU, 0, ADD, "pay rent", "2026-12-03T09:00:00Z",
     "", ""},
    {"add buy tree dec 24", THU, 0, ADD, "buy tree", "2026-12-24T09:00:00Z", "",
     ""},
    {"add buy tree 24 december", THU, 0, ADD, "buy tree",
     "2026-12-24T09:00:00Z", "", ""},
    {"add plan next week", THU, 0, ADD, "plan", "2026-11-30T09:00:00Z", "", ""},
    {"add run tomorrow morning", THU, 0, ADD, "run", "2026-11-27T09:00:00Z", "",
     ""},
    {"add run friday at 5pm", THU, 0, ADD, "run", "2026-11-27T17:00:00Z", "",
     ""},
    {"add run next monday 9am", THU, 0, ADD, "run", "2026-11-30T09:00:00Z", "",
     ""},
    {"add run on friday", THU, 0, ADD, "run", "2026-11-27T09:00:00Z", "", ""},
    {"add run monday", THU, 0, ADD, "run", "2026-11-30T09:00:00Z", "", ""},
    /* Weekdays: alone the next after today; this: today on; next: next
     * week's. */
    {"add pay rent next friday", THU, 0, ADD, "pay rent",
     "2026-12-04T09:00:00Z", "", ""},
    {"add pay rent this friday", THU, 0, ADD, "pay rent",
     "2026-11-27T09:00:00Z", "", ""},
    {"add review thursday", THU, 0, ADD, "review", "2026-12-03T09:00:00Z", "",
     ""},
    {"add review this thursday", THU, 0, ADD, "review", "2026-11-26T17:00:00Z",
     "", ""},
    {"add review next thursday", THU, 0, ADD, "review", "2026-12-03T09:00:00Z",
     "", ""},
    {"add run sunday", THU, 0, ADD, "run", "2026-11-29T09:00:00Z", "", ""},
    {"add run this sunday", THU, 0, ADD, "run", "2026-11-29T09:00:00Z", "", ""},
    {"add run next sunday", THU, 0, ADD, "run", "2026-12-06T09:00:00Z", "", ""},
    {"add run next saturday", THU, 0, ADD, "run", "2026-12-05T09:00:00Z", "",
     ""},
    {"add run saturday", THU, 0, ADD, "run", "2026-11-28T09:00:00Z", "", ""},
    {"add run on fri", THU, 0, ADD, "run", "2026-11-27T09:00:00Z", "", ""},
    {"add run by thurs", THU, 0, ADD, "run", "2026-12-03T09:00:00Z", "", ""},
    {"add run next tue", THU, 0, ADD, "run", "2026-12-01T09:00:00Z", "", ""},
    {"add run monday morning", THU, 0, ADD, "run", "2026-11-30T09:00:00Z", "",
     ""},
    {"add run friday evening", THU, 0, ADD, "run", "2026-11-27T18:00:00Z", "",
     ""},
    {"add run friday at midnight", THU, 0, ADD, "run", "2026-11-28T00:00:00Z",
     "", ""},
    {"add run monday at 9am", THU, 0, ADD, "run", "2026-11-30T09:00:00Z", "",
     ""},
    {"add run at 9am monday", THU, 0, ADD, "run", "2026-11-30T09:00:00Z", "",
     ""},
    {"add run at 9am on monday", THU, 0, ADD, "run", "2026-11-30T09:00:00Z", "",
     ""},
    {"add run Wednesday", THU, 0, ADD, "run", "2026-12-02T09:00:00Z", "", ""},
    {"add run tuesday at 14:30", THU, 0, ADD, "run", "2026-12-01T14:30:00Z", "",
     ""},
    {"add x monday", MON, 0, ADD, "x", "2026-12-07T09:00:00Z", "", ""},
    {"add x this monday", MON, 0, ADD, "x", "2026-11-30T17:00:00Z", "", ""},
    {"add x next monday", MON, 0, ADD, "x", "2026-12-07T09:00:00Z", "", ""},
    {"add x next friday", MON, 0, ADD, "x", "2026-12-11T09:00:00Z", "", ""},
    {"add x friday", MON, 0, ADD, "x", "2026-12-04T09:00:00Z", "", ""},
    {"add x at 9am", MON, 0, ADD, "x", "2026-11-30T09:00:00Z", "", ""},
    {"add x this morning", MON, 0, ADD, "x", "2026-11-30T09:00:00Z", "", ""},
    {"add x next friday", TUE, 0, ADD, "x", "2026-12-11T09:00:00Z", "", ""},
    {"add x friday", TUE, 0, ADD, "x", "2026-12-04T09:00:00Z", "", ""},
    {"add x next week", TUE, 0, ADD, "x", "2026-12-07T09:00:00Z", "", ""},
    /* Days by name, parts of the day. */
    {"add run tomorrow", THU, 0, ADD, "run", "2026-11-27T09:00:00Z", "", ""},
    {"add run tomorrow evening", THU, 0, ADD, "run", "2026-11-27T18:00:00Z", "",
     ""},
    {"add run tomorrow afternoon", THU, 0, ADD, "run", "2026-11-27T15:00:00Z",
     "", ""},
    {"add run tomorrow night", THU, 0, ADD, "run", "2026-11-27T20:00:00Z", "",
     ""},
    {"add run tomorrow at 7", THU, 0, ADD, "run", "2026-11-27T07:00:00Z", "",
     ""},
    {"add run tomorrow at 7pm", THU, 0, ADD, "run", "2026-11-27T19:00:00Z", "",
     ""},
    {"add run tomorrow 7:30am", THU, 0, ADD, "run", "2026-11-27T07:30:00Z", "",
     ""},
    {"add run tomorrow morning at 8", THU, 0, ADD, "run",
     "2026-11-27T08:00:00Z", "", ""},
    {"add run 9am tomorrow", THU, 0, ADD, "run", "2026-11-27T09:00:00Z", "",
     ""},
    {"add run today", THU, 0, ADD, "run", "2026-11-26T17:00:00Z", "", ""},
    {"add run today at 9am", THU, 0, ADD, "run", "2026-11-26T09:00:00Z", "",
     ""},
    {"add run this afternoon", THU, 0, ADD, "run", "2026-11-26T15:00:00Z", "",
     ""},
    {"add run this morning", THU, 0, ADD, "run", "2026-11-26T23:59:00Z", "",
     ""},
    {"add run tonight at 8", THU, 0, ADD, "run", "2026-11-26T20:00:00Z", "",
     ""},
    {"add run this evening at 7", THU, 0, ADD, "run", "2026-11-26T19:00:00Z",
     "", ""},
    {"add run the day after tomorrow", THU, 0, ADD, "run",
     "2026-11-28T09:00:00Z", "", ""},
    {"add run day after tomorrow", THU, 0, ADD, "run", "2026-11-28T09:00:00Z",
     "", ""},
    {"add report by eod", THU, 0, ADD, "report", "2026-11-26T23:59:00Z", "",
     ""},
    {"add report by end of the day", THU, 0, ADD, "report",
     "2026-11-26T23:59:00Z", "", ""},
    {"add report end of today", THU, 0, ADD, "report", "2026-11-26T23:59:00Z",
     "", ""},
    {"add plan next month", THU, 0, ADD, "plan", "2026-12-01T09:00:00Z", "",
     ""},
    /* Leads. */
    {"add run due tomorrow", THU, 0, ADD, "run", "2026-11-27T09:00:00Z", "",
     ""},
    {"add run due by friday", THU, 0, ADD, "run", "2026-11-27T09:00:00Z", "",
     ""},
    {"add run due on the 3rd", THU, 0, ADD, "run", "2026-12-03T09:00:00Z", "",
     ""},
    {"add run before friday", THU, 0, ADD, "run", "2026-11-27T09:00:00Z", "",
     ""},
    {"add run until monday", THU, 0, ADD, "run", "2026-11-30T09:00:00Z", "",
     ""},
    {"add run due at 5pm", THU, 0, ADD, "run", "2026-11-26T17:00:00Z", "", ""},
    /* Clock times: the next occurrence when no date is said. */
    {"add run at 9am", THU, 0, ADD, "run", "2026-11-27T09:00:00Z", "", ""},
    {"add run at 11am", THU, 0, ADD, "run", "2026-11-26T11:00:00Z", "", ""},
    {"add run at 9", THU, 0, ADD, "run", "2026-11-27T09:00:00Z", "", ""},
    {"add run 5pm", THU, 0, ADD, "run", "2026-11-26T17:00:00Z", "", ""},
    {"add run 17:00", THU, 0, ADD, "run", "2026-11-26T17:00:00Z", "", ""},
    {"add run at 5 pm", THU, 0, ADD, "run", "2026-11-26T17:00:00Z", "", ""},
    {"add run at 5:30 p.m.", THU, 0, ADD, "run", "2026-11-26T17:30:00Z", "",
     ""},
    {"add run at 12am", THU, 0, ADD, "run", "2026-11-27T00:00:00Z", "", ""},
    {"add run at 12pm", THU, 0, ADD, "run", "2026-11-26T12:00:00Z", "", ""},
    {"add run @ 6pm", THU, 0, ADD, "run", "2026-11-26T18:00:00Z", "", ""},
    {"add run midday", THU, 0, ADD, "run", "2026-11-26T12:00:00Z", "", ""},
    {"add backup at midnight", THU, 0, ADD, "backup", "2026-11-27T00:00:00Z",
     "", ""},
    {"add run at 10:00", THU, 0, ADD, "run", "2026-11-27T10:00:00Z", "", ""},
    {"add run at 10:01", THU, 0, ADD, "run", "2026-11-26T10:01:00Z", "", ""},
    /* Amounts. */
    {"add check oven in a minute", THU, 0, ADD, "check oven", "+1", "", ""},
    {"add check oven in half an hour", THU, 0, ADD, "check oven", "+30", "",
     ""},
    {"add check oven in 90 minutes", THU, 0, ADD, "check oven", "+90", "", ""},
    {"add check oven in 2h", THU, 0, ADD, "check oven", "+120", "", ""},
    {"add check oven in 30m", THU, 0, ADD, "check oven", "+30", "", ""},
    {"add call mum in 2 hours", THU, 0, ADD, "call mum", "+120", "", ""},
    {"add run in 2 days at 5pm", THU, 0, ADD, "run", "2026-11-28T17:00:00Z", "",
     ""},
    {"add run in a week", THU, 0, ADD, "run", "2026-12-03T10:00:00Z", "", ""},
    {"add run in 1 month", THU, 0, ADD, "run", "2026-12-26T10:00:00Z", "", ""},
    {"add run in 3 months", THU, 0, ADD, "run", "2027-02-26T10:00:00Z", "", ""},
    {"add run in 3d", THU, 0, ADD, "run", "2026-11-29T10:00:00Z", "", ""},
    {"add run in one day", THU, 0, ADD, "run", "2026-11-27T10:00:00Z", "", ""},
    /* Calendar dates. */
    {"add pay rent on the 30th", THU, 0, ADD, "pay rent",
     "2026-11-30T09:00:00Z", "", ""},
    {"add pay rent on the 26th", THU, 0, ADD, "pay rent",
     "2026-11-26T17:00:00Z", "", ""},
    {"add pay rent on the 31st", THU, 0, ADD, "pay rent",
     "2026-12-31T09:00:00Z", "", ""},
    {"add pay rent on the 1st", THU, 0, ADD, "pay rent", "2026-12-01T09:00:00Z",
     "", ""},
    {"add pay rent the 2nd", THU, 0, ADD, "pay rent", "2026-12-02T09:00:00Z",
     "", ""},
    {"add buy tree december 24th", THU, 0, ADD, "buy tree",
     "2026-12-24T09:00:00Z", "", ""},
    {"add buy tree the 24th of december", THU, 0, ADD, "buy tree",
     "2026-12-24T09:00:00Z", "", ""},
    {"add buy tree 24th of dec", THU, 0, ADD, "buy tree",
     "2026-12-24T09:00:00Z", "", ""},
    {"add buy tree dec 24 2027", THU, 0, ADD, "buy tree",
     "2027-12-24T09:00:00Z", "", ""},
    {"add buy tree dec 24, 2027", THU, 0, ADD, "buy tree",
     "2027-12-24T09:00:00Z", "", ""},
    {"add buy tree Dec 24 at 6pm", THU, 0, ADD, "buy tree",
     "2026-12-24T18:00:00Z", "", ""},
    {"add buy tree on dec 24", THU, 0, ADD, "buy tree", "2026-12-24T09:00:00Z",
     "", ""},
    {"add visit nov 26", THU, 0, ADD, "visit", "2026-11-26T17:00:00Z", "", ""},
    {"add visit nov 25", THU, 0, ADD, "visit", "2027-11-25T09:00:00Z", "", ""},
    {"add visit sept 3", THU, 0, ADD, "visit", "2027-09-03T09:00:00Z", "", ""},
    {"add visit 3 march", THU, 0, ADD, "visit", "2027-03-03T09:00:00Z", "", ""},
    {"add buy milk due feb 29", THU, 0, ADD, "buy milk", "2028-02-29T09:00:00Z",
     "", ""},
    {"add run at 9 on the 1st", THU, 0, ADD, "run", "2026-12-01T09:00:00Z", "",
     ""},
    {"add gifts 2026-12-24 10:00", THU, 0, ADD, "gifts", "2026-12-24T10:00:00Z",
     "", ""},
    {"add gifts on 2026-12-24", THU, 0, ADD, "gifts", "2026-12-24T09:00:00Z",
     "", ""},
    {"add gifts 2026-1-5", THU, 0, ADD, "gifts", "2026-01-05T09:00:00Z", "",
     ""},
    {"add taxes by 2027-04-01T12:00:00Z", THU, 0, ADD, "taxes",
     "2027-04-01T12:00:00Z", "", ""},
    {"add taxes 2027-04-01t12:00:00+02:00", THU, 0, ADD, "taxes",
     "2027-04-01T10:00:00Z", "", ""},
    {"add taxes 2027-04-01T12:00", THU, 0, ADD, "taxes", "2027-04-01T12:00:00Z",
     "", ""},
    /* Case and punctuation: the title as written. */
    {"add Call Bob Tomorrow At 10AM", THU, 0, ADD, "Call Bob",
     "2026-11-27T10:00:00Z", "", ""},
    {"add call bob, tomorrow", THU, 0, ADD, "call bob", "2026-11-27T09:00:00Z",
     "", ""},
    {"Add Buy milk by Friday!", THU, 0, ADD, "Buy milk", "2026-11-27T09:00:00Z",
     "", ""},
    {"please add a task Write report due tomorrow at 18:00", THU, 0, ADD,
     "Write report", "2026-11-27T18:00:00Z", "", ""},
    {"create a new task plan trip next week", THU, 0, ADD, "plan trip",
     "2026-11-30T09:00:00Z", "", ""},
    {"new task water plants tonight", THU, 0, ADD, "water plants",
     "2026-11-26T20:00:00Z", "", ""},
    {"add \"meet at noon\" tomorrow", THU, 0, ADD, "meet at noon",
     "2026-11-27T09:00:00Z", "", ""},
    /* Words that are no date stay in the title. */
    {"add look at the roof", THU, 0, ADD, "look at the roof", "", "", ""},
    {"add sit in the sun", THU, 0, ADD, "sit in the sun", "", "", ""},
    {"add read the next chapter", THU, 0, ADD, "read the next chapter", "", "",
     ""},
    {"add fix the 5th floor", THU, 0, ADD, "fix the 5th floor", "", "", ""},
    {"add buy 2 apples", THU, 0, ADD, "buy 2 apples", "", "", ""},
    {"add plan next holiday", THU, 0, ADD, "plan next holiday", "", "", ""},
    {"add may i help", THU, 0, ADD, "may i help", "", "", ""},
    {"add plan our 35th anniversary", THU, 0, ADD, "plan our 35th anniversary",
     "", "", ""},
    {"add meet at 123 main st", THU, 0, ADD, "meet at 123 main st", "", "", ""},
    {"add watch friday night lights", THU, 0, ADD, "watch friday night lights",
     "", "", ""},
    {"add buy 5 eggs in 2 shops", THU, 0, ADD, "buy 5 eggs in 2 shops", "", "",
     ""},
    {"add monday", THU, 0, ADD, "monday", "", "", ""},
    {"add tomorrow", THU, 0, ADD, "tomorrow", "", "", ""},
    {"add wed plans", THU, 0, ADD, "wed plans", "", "", ""},
    {"add see the march of time", THU, 0, ADD, "see the march of time", "", "",
     ""},
    {"add buy 2 tomorrow", THU, 0, ADD, "buy 2", "2026-11-27T09:00:00Z", "",
     ""},
    {"add book flight to paris in 3 weeks", THU, 0, ADD, "book flight to paris",
     "2026-12-17T10:00:00Z", "", ""},
    {"add happy birthday next birthday", THU, 0, ADD,
     "happy birthday next birthday", "", "", ""},
    {"add meet at 25 main street", THU, 0, ADD, "meet at 25 main street", "",
     "", ""},
    /* Looks like a date, is not one: said, not folded into the title. */
    {"add meet next blursday", THU, 0, ADD, "meet", "", "next blursday", ""},
    {"add meet on the 35th", THU, 0, ADD, "meet", "", "on the 35th", ""},
    {"add meet 2026-13-01", THU, 0, ADD, "meet", "", "2026-13-01", ""},
    {"add meet at 25:00", THU, 0, ADD, "meet", "", "at 25:00", ""},
    {"add meet at 13pm", THU, 0, ADD, "meet", "", "at 13pm", ""},
    {"add meet at 9:75", THU, 0, ADD, "meet", "", "at 9:75", ""},
    {"add meet dec 32", THU, 0, ADD, "meet", "", "dec 32", ""},
    {"add meet feb 30", THU, 0, ADD, "meet", "", "feb 30", ""},
    {"add meet 2026-02-29", THU, 0, ADD, "meet", "", "2026-02-29", ""},
    {"add meet feb 29 2027", THU, 0, ADD, "meet", "", "feb 29 2027", ""},
    {"add meet on fryday", THU, 0, ADD, "meet", "", "on fryday", ""},
    {"add meet by wendsday", THU, 0, ADD, "meet", "", "by wendsday", ""},
    {"add meet tomorrow at 25:00", THU, 0, ADD, "meet", "", "tomorrow at 25:00",
     ""},
    {"add meet in 0 days", THU, 0, ADD, "meet", "", "in 0 days", ""},
    {"add meet the 0th", THU, 0, ADD, "meet", "", "the 0th", ""},
    {"add meet 1969-12-31", THU, 0, ADD, "meet", "", "1969-12-31", ""},
    {"add meet 2026-12-24t25:00", THU, 0, ADD, "meet", "", "2026-12-24t25:00",
     ""},
    {"add Meet Next Blursday At 9", THU, 0, ADD, "Meet", "",
     "Next Blursday At 9", ""},
    {"add meet in 99999999 weeks", THU, 0, ADD, "meet", "", "in 99999999 weeks",
     ""},
    {"add meet 32 december", THU, 0, ADD, "meet", "", "32 december", ""},
    {"add meet the 32nd of may", THU, 0, ADD, "meet", "", "the 32nd of may",
     ""},
    {"add meet this thirsday", THU, 0, ADD, "meet", "", "this thirsday", ""},
    {"add meet 2027-04-01T12:00:00X", THU, 0, ADD, "meet", "",
     "2027-04-01T12:00:00X", ""},
    {"add meet at 24:00", THU, 0, ADD, "meet", "", "at 24:00", ""},
    {"add meet 0pm", THU, 0, ADD, "meet", "", "0pm", ""},
    /* An instant before 1970 is no due time. */
    {"add meet 1970-01-01", THU, 840, ADD, "meet", "", "1970-01-01", ""},
    /* Zones east and west: local days and clocks. */
    {"add x tomorrow", THU, 120, ADD, "x", "2026-11-27T07:00:00Z", "", ""},
    {"add x at 17:00", THU, 120, ADD, "x", "2026-11-26T15:00:00Z", "", ""},
    {"add x at 11am", THU, 120, ADD, "x", "2026-11-27T09:00:00Z", "", ""},
    {"add x tonight", THU, 120, ADD, "x", "2026-11-26T18:00:00Z", "", ""},
    {"add x friday at 5pm", THU, 120, ADD, "x", "2026-11-27T15:00:00Z", "", ""},
    {"add x in 3 days", THU, 120, ADD, "x", "2026-11-29T10:00:00Z", "", ""},
    {"add x dec 24", THU, 120, ADD, "x", "2026-12-24T07:00:00Z", "", ""},
    {"add x today", THU, 120, ADD, "x", "2026-11-26T15:00:00Z", "", ""},
    {"add x at midnight", THU, 120, ADD, "x", "2026-11-26T22:00:00Z", "", ""},
    {"add x 2026-12-24 at 10:00", THU, 120, ADD, "x", "2026-12-24T08:00:00Z",
     "", ""},
    {"add x tomorrow", THU, -300, ADD, "x", "2026-11-27T14:00:00Z", "", ""},
    {"add x at 9am", THU, -300, ADD, "x", "2026-11-26T14:00:00Z", "", ""},
    {"add x today", THU, -300, ADD, "x", "2026-11-26T22:00:00Z", "", ""},
    {"add x this morning", THU, -300, ADD, "x", "2026-11-26T14:00:00Z", "", ""},
    {"add x end of day", THU, -300, ADD, "x", "2026-11-27T04:59:00Z", "", ""},
    {"add x monday", THU, -300, ADD, "x", "2026-11-30T14:00:00Z", "", ""},
    {"add x the 26th", THU, -300, ADD, "x", "2026-11-26T22:00:00Z", "", ""},
    {"add x in 2 hours", THU, -300, ADD, "x", "+120", "", ""},
    {"add x at 3pm", THU, 330, ADD, "x", "2026-11-27T09:30:00Z", "", ""},
    {"add x at 4pm", THU, 330, ADD, "x", "2026-11-26T10:30:00Z", "", ""},
    {"add x tomorrow", THU, 840, ADD, "x", "2026-11-27T19:00:00Z", "", ""},
    {"add x friday", THU, 840, ADD, "x", "2026-12-03T19:00:00Z", "", ""},
    {"add x today", THU, 840, ADD, "x", "2026-11-27T03:00:00Z", "", ""},
    {"add x tomorrow", THU, -720, ADD, "x", "2026-11-26T21:00:00Z", "", ""},
    {"add x thursday", THU, -720, ADD, "x", "2026-11-26T21:00:00Z", "", ""},
    {"add x tonight", THU, -720, ADD, "x", "2026-11-26T11:59:00Z", "", ""},
    /* Said at 23:30 local, west of UTC (the UTC date is already the
     * next), and in UTC. */
    {"add x tomorrow", THU_2330_W, -300, ADD, "x", "2026-11-27T14:00:00Z", "",
     ""},
    {"add x today", THU_2330_W, -300, ADD, "x", "2026-11-27T04:59:00Z", "", ""},
    {"add x at 11pm", THU_2330_W, -300, ADD, "x", "2026-11-28T04:00:00Z", "",
     ""},
    {"add x at midnight", THU_2330_W, -300, ADD, "x", "2026-11-27T05:00:00Z",
     "", ""},
    {"add x in an hour", THU_2330_W, -300, ADD, "x", "+60", "", ""},
    {"add x friday", THU_2330_W, -300, ADD, "x", "2026-11-27T14:00:00Z", "",
     ""},
    {"add x tonight", THU_2330_W, -300, ADD, "x", "2026-11-27T04:59:00Z", "",
     ""},
    {"add x in 2 days", THU_2330_W, -300, ADD, "x", "2026-11-29T04:30:00Z", "",
     ""},
    {"add x at 11:45pm", THU_2330, 0, ADD, "x", "2026-11-26T23:45:00Z", "", ""},
    {"add x tomorrow", THU_2330, 0, ADD, "x", "2026-11-27T09:00:00Z", "", ""},
    {"add x at 11pm", THU_2330, 0, ADD, "x", "2026-11-27T23:00:00Z", "", ""},
    /* Month and year rollover. */
    {"add x the 24th", XMAS, 0, ADD, "x", "2027-01-24T09:00:00Z", "", ""},
    {"add x dec 24", XMAS, 0, ADD, "x", "2027-12-24T09:00:00Z", "", ""},
    {"add x jan 2", XMAS, 0, ADD, "x", "2027-01-02T09:00:00Z", "", ""},
    {"add x next month", XMAS, 0, ADD, "x", "2027-01-01T09:00:00Z", "", ""},
    {"add x next week", XMAS, 0, ADD, "x", "2026-12-28T09:00:00Z", "", ""},
    {"add x in 2 weeks", XMAS, 0, ADD, "x", "2027-01-08T10:00:00Z", "", ""},
    {"add x tomorrow", NYE, 0, ADD, "x", "2027-01-01T09:00:00Z", "", ""},
    {"add x the 5th", NYE, 0, ADD, "x", "2027-01-05T09:00:00Z", "", ""},
    {"add x dec 31", NYE, 0, ADD, "x", "2026-12-31T17:00:00Z", "", ""},
    {"add x dec 30", NYE, 0, ADD, "x", "2027-12-30T09:00:00Z", "", ""},
    {"add x in 2 months", NYE, 0, ADD, "x", "2027-02-28T10:00:00Z", "", ""},
    {"add x the 31st", NYE, 0, ADD, "x", "2026-12-31T17:00:00Z", "", ""},
    {"add x next monday", NYE, 0, ADD, "x", "2027-01-04T09:00:00Z", "", ""},
    {"add x friday", NYE, 0, ADD, "x", "2027-01-01T09:00:00Z", "", ""},
    {"add x the 29th", JAN30, 0, ADD, "x", "2027-03-29T09:00:00Z", "", ""},
    {"add x the 30th", JAN30, 0, ADD, "x", "2027-01-30T17:00:00Z", "", ""},
    /* Leap days. */
    {"add x tomorrow", FEB28, 0, ADD, "x", "2028-02-29T09:00:00Z", "", ""},
    {"add x feb 29", FEB28, 0, ADD, "x", "2028-02-29T09:00:00Z", "", ""},
    {"add x the 29th", FEB28, 0, ADD, "x", "2028-02-29T09:00:00Z", "", ""},
    {"add x the 30th", FEB28, 0, ADD, "x", "2028-03-30T09:00:00Z", "", ""},
    {"add x in 2 days", FEB28, 0, ADD, "x", "2028-03-01T10:00:00Z", "", ""},
    {"add x 2028-02-29", FEB28, 0, ADD, "x", "2028-02-29T09:00:00Z", "", ""},
    {"add x 2027-02-29", FEB28, 0, ADD, "x", "", "2027-02-29", ""},
    {"add x in 1 month", LEAPDAY, 0, ADD, "x", "2028-03-29T10:00:00Z", "", ""},
    {"add x feb 29", LEAPDAY, 0, ADD, "x", "2028-02-29T17:00:00Z", "", ""},
    {"add x feb 28", LEAPDAY, 0, ADD, "x", "2029-02-28T09:00:00Z", "", ""},
    {"add x in 1 year", LEAPDAY, 0, ADD, "x in 1 year", "", "", ""},
    {"add x feb 29", MAR1, 0, ADD, "x", "2032-02-29T09:00:00Z", "", ""},
};

static const row COMMANDS[] = {
    /* Lists, with filters. */
    {"list", THU, 0, LIST, "", "", "", ""},
    {"list all", THU, 0, LIST, "", "", "", ""},
    {"list all tasks", THU, 0, LIST, "", "", "", ""},
    {"List open tasks.", THU, 0, LIST, "", "", "", "open"},
    {"list done", THU, 0, LIST, "", "", "", "done"},
    {"list done tasks", THU, 0, LIST, "", "", "", "done"},
    {"show my tasks", THU, 0, LIST, "", "", "", ""},
    {"my tasks", THU, 0, LIST, "", "", "", ""},
    {"tasks", THU, 0, LIST, "", "", "", ""},
    {"what's due today?", THU, 0, LIST, "", "", "",
     "open|2026-11-26T00:00:00Z|2026-11-27T00:00:00Z"},
    {"whats due today", THU, 0, LIST, "", "", "",
     "open|2026-11-26T00:00:00Z|2026-11-27T00:00:00Z"},
    {"What is due today?", THU, 0, LIST, "", "", "",
     "open|2026-11-26T00:00:00Z|2026-11-27T00:00:00Z"},
    {"what is overdue", THU, 0, LIST, "", "", "", "open|overdue"},
    {"what's overdue?", THU, 0, LIST, "", "", "", "open|overdue"},
    {"show overdue tasks", THU, 0, LIST, "", "", "", "open|overdue"},
    {"list late tasks", THU, 0, LIST, "", "", "", "open|overdue"},
    {"which tasks are overdue", THU, 0, LIST, "", "", "", "open|overdue"},
    {"list tasks that are past due", THU, 0, LIST, "", "", "", "open|overdue"},
    {"show this week's tasks", THU, 0, LIST, "", "", "",
     "|2026-11-23T00:00:00Z|2026-11-30T00:00:00Z"},
    {"what's due this week", THU, 0, LIST, "", "", "",
     "open|2026-11-23T00:00:00Z|2026-11-30T00:00:00Z"},
    {"list tasks due tomorrow", THU, 0, LIST, "", "", "",
     "open|2026-11-27T00:00:00Z|2026-11-28T00:00:00Z"},
    {"show tomorrow's tasks", THU, 0, LIST, "", "", "",
     "|2026-11-27T00:00:00Z|2026-11-28T00:00:00Z"},
    {"list today's tasks", THU, 0, LIST, "", "", "",
     "|2026-11-26T00:00:00Z|2026-11-27T00:00:00Z"},
    {"what's due next week", THU, 0, LIST, "", "", "",
     "open|2026-11-30T00:00:00Z|2026-12-07T00:00:00Z"},
    {"what are my tasks", THU, 0, LIST, "", "", "", ""},
    {"what are my open tasks", THU, 0, LIST, "", "", "", "open"},
    {"list completed tasks", THU, 0, LIST, "", "", "", "done"},
    {"show me my tasks", THU, 0, LIST, "", "", "", ""},
    {"what do i have today", THU, 0, LIST, "", "", "",
     "|2026-11-26T00:00:00Z|2026-11-27T00:00:00Z"},
    {"list pending tasks for today", THU, 0, LIST, "", "", "",
     "open|2026-11-26T00:00:00Z|2026-11-27T00:00:00Z"},
    {"list done tasks this week", THU, 0, LIST, "", "", "",
     "done|2026-11-23T00:00:00Z|2026-11-30T00:00:00Z"},
    {"show me what's due today", THU, 0, LIST, "", "", "",
     "open|2026-11-26T00:00:00Z|2026-11-27T00:00:00Z"},
    {"what's due today", THU, -300, LIST, "", "", "",
     "open|2026-11-26T05:00:00Z|2026-11-27T05:00:00Z"},
    {"what's due today", THU, 840, LIST, "", "", "",
     "open|2026-11-26T10:00:00Z|2026-11-27T10:00:00Z"},
    {"what's due tomorrow", THU_2330_W, -300, LIST, "", "", "",
     "open|2026-11-27T05:00:00Z|2026-11-28T05:00:00Z"},
    {"what's due this week", MON, 0, LIST, "", "", "",
     "open|2026-11-30T00:00:00Z|2026-12-07T00:00:00Z"},
    {"what's due this week", THU, 120, LIST, "", "", "",
     "open|2026-11-22T22:00:00Z|2026-11-29T22:00:00Z"},
    {"list the moon", THU, 0, UNK, "", "", "", ""},
    {"what's the weather", THU, 0, UNK, "", "", "", ""},
    {"what is love", THU, 0, UNK, "", "", "", ""},
    {"what is", THU, 0, UNK, "", "", "", ""},
    {"list today tomorrow", THU, 0, UNK, "", "", "", ""},
    {"list open done tasks", THU, 0, UNK, "", "", "", ""},
    {"show done overdue tasks", THU, 0, UNK, "", "", "", ""},
    {"what's up", THU, 0, UNK, "", "", "", ""},
    /* Reminders. */
    {"list reminders", THU, 0, REMINDERS, "", "", "", ""},
    {"list my reminders", THU, 0, REMINDERS, "", "", "", ""},
    {"what are my reminders", THU, 0, REMINDERS, "", "", "", ""},
    {"What are my reminders?", THU, 0, REMINDERS, "", "", "", ""},
    {"show reminders", THU, 0, REMINDERS, "", "", "", ""},
    {"my reminders", THU, 0, REMINDERS, "", "", "", ""},
    {"reminders", THU, 0, REMINDERS, "", "", "", ""},
    {"show my reminders for today", THU, 0, UNK, "", "", "", ""},
    {"cancel reminder 2", THU, 0, CANCEL, "", "", "", "#2"},
    {"cancel reminder #3", THU, 0, CANCEL, "", "", "", "#3"},
    {"cancel reminder number 4", THU, 0, CANCEL, "", "", "", "#4"},
    {"cancel the reminder to call bob", THU, 0, CANCEL, "call bob", "", "",
     "#0"},
    {"cancel my reminder about rent", THU, 0, CANCEL, "rent", "", "", "#0"},
    {"delete reminder 1", THU, 0, CANCEL, "", "", "", "#1"},
    {"remove the reminder to call Bob", THU, 0, CANCEL, "call Bob", "", "",
     "#0"},
    {"stop the reminder about the dentist", THU, 0, CANCEL, "the dentist", "",
     "", "#0"},
    {"cancel reminder stretch", THU, 0, CANCEL, "stretch", "", "", "#0"},
    {"cancel reminder 0", THU, 0, UNK, "", "", "", ""},
    {"cancel reminder", THU, 0, UNK, "", "", "", ""},
    {"cancel buy milk", THU, 0, UNK, "", "", "", ""},
    {"cancle reminder 2", THU, 0, CANCEL, "", "", "", "#2"},
    /* Delete. */
    {"delete buy milk", THU, 0, DEL, "buy milk", "", "", ""},
    {"remove task t1", THU, 0, DEL, "t1", "", "", ""},
    {"delete the task Buy milk", THU, 0, DEL, "Buy milk", "", "", ""},
    {"remove the milk", THU, 0, DEL, "milk", "", "", ""},
    {"erase t3", THU, 0, DEL, "t3", "", "", ""},
    {"please delete task t9", THU, 0, DEL, "t9", "", "", ""},
    {"delete", THU, 0, UNK, "", "", "", ""},
    {"dlete buy milk", THU, 0, DEL, "buy milk", "", "", ""},
    {"remvoe t1", THU, 0, DEL, "t1", "", "", ""},
    {"dleete t1", THU, 0, DEL, "t1", "", "", ""},
    /* Rename. */
    {"rename buy milk to buy oat milk", THU, 0, RENAME, "buy milk", "", "",
     "buy oat milk"},
    {"rename t1 to Call Bob", THU, 0, RENAME, "t1", "", "", "Call Bob"},
    {"rename \"walk to school\" to \"walk kids to school\"", THU, 0, RENAME,
     "walk to school", "", "", "walk kids to school"},
    {"rename task t2 as weekly report", THU, 0, RENAME, "t2", "", "",
     "weekly report"},
    {"change the title of t1 to Buy bread", THU, 0, RENAME, "t1", "", "",
     "Buy bread"},
    {"change the name of buy milk to buy oat milk", THU, 0, RENAME, "buy milk",
     "", "", "buy oat milk"},
    {"rename buy milk", THU, 0, UNK, "", "", "", ""},
    {"rename to x", THU, 0, UNK, "", "", "", ""},
    {"rename \"open quote to x", THU, 0, UNK, "", "", "", ""},
    {"renmae t1 to x", THU, 0, RENAME, "t1", "", "", "x"},
    {"raname t1 to x", THU, 0, RENAME, "t1", "", "", "x"},
    /* Due times changed. */
    {"move buy milk to friday", THU, 0, DUE, "buy milk", "2026-11-27T09:00:00Z",
     "", ""},
    {"change the due date of buy milk to tomorrow at 10", THU, 0, DUE,
     "buy milk", "2026-11-27T10:00:00Z", "", ""},
    {"buy milk is due friday", THU, 0, DUE, "buy milk", "2026-11-27T09:00:00Z",
     "", ""},
    {"Buy milk is now due next monday at 9am", THU, 0, DUE, "Buy milk",
     "2026-11-30T09:00:00Z", "", ""},
    {"reschedule t1 for next week", THU, 0, DUE, "t1", "2026-11-30T09:00:00Z",
     "", ""},
    {"postpone report until monday", THU, 0, DUE, "report",
     "2026-11-30T09:00:00Z", "", ""},
    {"push report to next month", THU, 0, DUE, "report", "2026-12-01T09:00:00Z",
     "", ""},
    {"set the deadline of report to dec 24", THU, 0, DUE, "report",
     "2026-12-24T09:00:00Z", "", ""},
    {"change the due date for t1 to in 3 days", THU, 0, DUE, "t1",
     "2026-11-29T10:00:00Z", "", ""},
    {"move trip to tokyo to friday", THU, 0, DUE, "trip to tokyo",
     "2026-11-27T09:00:00Z", "", ""},
    {"move the task t4 to tonight", THU, 0, DUE, "t4", "2026-11-26T20:00:00Z",
     "", ""},
    {"update the due date of t1 to 2026-12-24 at 10:00", THU, 0, DUE, "t1",
     "2026-12-24T10:00:00Z", "", ""},
    {"move buy milk to 5pm", THU, -300, DUE, "buy milk", "2026-11-26T22:00:00Z",
     "", ""},
    {"clear the due date of buy milk", THU, 0, DUE, "buy milk", "", "", ""},
    {"remove the due date from t1", THU, 0, DUE, "t1", "", "", ""},
    {"move buy milk to next blursday", THU, 0, DUE, "buy milk", "",
     "next blursday", ""},
    {"move buy milk to the top", THU, 0, DUE, "buy milk", "", "the top", ""},
    {"buy milk is due next blursday", THU, 0, DUE, "buy milk", "",
     "next blursday", ""},
    {"change the due date of t1 to at 25:00", THU, 0, DUE, "t1", "", "at 25:00",
     ""},
    {"move buy milk", THU, 0, UNK, "", "", "", ""},
    {"mvoe buy milk to friday", THU, 0, DUE, "buy milk", "2026-11-27T09:00:00Z",
     "", ""},
    {"chnage the due date of t1 to friday", THU, 0, DUE, "t1",
     "2026-11-27T09:00:00Z", "", ""},
    {"clera the due date of t1", THU, 0, DUE, "t1", "", "", ""},
    {"rent is due", THU, 0, UNK, "", "", "", ""},
    {"the report is due", THU, 0, UNK, "", "", "", ""},
    {"the report is due soon", THU, 0, UNK, "", "", "", ""},
    /* Complete, log. */
    {"complete buy milk", THU, 0, COMPLETE, "buy milk", "", "", ""},
    {"complete task t1", THU, 0, COMPLETE, "t1", "", "", ""},
    {"done t1", THU, 0, COMPLETE, "t1", "", "", ""},
    {"mark t1 as done", THU, 0, COMPLETE, "t1", "", "", ""},
    {"mark the task report as complete", THU, 0, COMPLETE, "report", "", "",
     ""},
    {"finish the report", THU, 0, COMPLETE, "report", "", "", ""},
    {"close t7", THU, 0, COMPLETE, "t7", "", "", ""},
    {"log 30 minutes on buy milk", THU, 0, LOG, "buy milk", "", "", "30"},
    {"log 2h to report", THU, 0, LOG, "report", "", "", "120"},
    {"log 1 hour for task t1", THU, 0, LOG, "t1", "", "", "60"},
    {"log 45m on the report", THU, 0, LOG, "report", "", "", "45"},
    {"log lots on x", THU, 0, UNK, "", "", "", ""},
    {"log 0 minutes on x", THU, 0, UNK, "", "", "", ""},
    /* Reminders set. */
    {"remind me in 10 minutes to call Bob", THU, 0, REMIND, "call Bob", "+10",
     "", ""},
    {"remind me tomorrow at 9 to pay rent", THU, 0, REMIND, "pay rent",
     "2026-11-27T09:00:00Z", "", ""},
    {"remind me to call Bob at 5:30pm", THU, 0, REMIND, "call Bob",
     "2026-11-26T17:30:00Z", "", ""},
    {"remind me next monday at 9am to call the dentist", THU, 0, REMIND,
     "call the dentist", "2026-11-30T09:00:00Z", "", ""},
    {"remind me on friday to water the plants", THU, 0, REMIND,
     "water the plants", "2026-11-27T09:00:00Z", "", ""},
    {"remind me about the meeting in 2 hours", THU, 0, REMIND, "the meeting",
     "+120", "", ""},
    {"remind me tonight to take out the trash", THU, 0, REMIND,
     "take out the trash", "2026-11-26T20:00:00Z", "", ""},
    {"remind me in 2 days that rent is due", THU, 0, REMIND, "rent is due",
     "2026-11-28T10:00:00Z", "", ""},
    {"remind me at noon to eat", THU, 0, REMIND, "eat", "2026-11-26T12:00:00Z",
     "", ""},
    {"remind me to go to the gym tomorrow", THU, 0, REMIND, "go to the gym",
     "2026-11-27T09:00:00Z", "", ""},
    {"remind me tomorrow to go to the gym", THU, 0, REMIND, "go to the gym",
     "2026-11-27T09:00:00Z", "", ""},
    {"remind me at 17:00 to leave", THU, 120, REMIND, "leave",
     "2026-11-26T15:00:00Z", "", ""},
    {"remind me at 9am to wake up", THU, 0, REMIND, "wake up",
     "2026-11-27T09:00:00Z", "", ""},
    {"remind me in 45 minutes to sleep", THU_2330_W, -300, REMIND, "sleep",
     "+45", "", ""},
    {"remind me on the 1st to pay rent", THU, 0, REMIND, "pay rent",
     "2026-12-01T09:00:00Z", "", ""},
    {"remind me dec 24 at 6pm to wrap gifts", THU, 0, REMIND, "wrap gifts",
     "2026-12-24T18:00:00Z", "", ""},
    {"remind me at 25:00 to stretch", THU, 0, REMIND, "stretch", "", "at 25:00",
     ""},
    {"remind me to stretch next blursday", THU, 0, REMIND, "stretch", "",
     "next blursday", ""},
    {"remind me to stretch", THU, 0, UNK, "", "", "", ""},
    {"remind me to", THU, 0, UNK, "", "", "", ""},
    {"remnd me in 10 minutes to call Ben", THU, 0, REMIND, "call Ben", "+10",
     "", ""},
    /* Help; near misses that must stay unknown. */
    {"help", THU, 0, HELP, "", "", "", ""},
    {"  What can you do?", THU, 0, HELP, "", "", "", ""},
    {"hlep", THU, 0, HELP, "", "", "", ""},
    {"", THU, 0, HELP, "", "", "", ""},
    {"lsit reminders", THU, 0, REMINDERS, "", "", "", ""},
    {"now call mom", THU, 0, UNK, "", "", "", ""},
    {"hello", THU, 0, UNK, "", "", "", ""},
    {"mark", THU, 0, UNK, "", "", "", ""},
    {"tomorrow", THU, 0, UNK, "", "", "", ""},
    {"next monday", THU, 0, UNK, "", "", "", ""},
    {"show the moon", THU, 0, UNK, "", "", "", ""},
    {"dance tonight", THU, 0, UNK, "", "", "", ""},
    {"lost my keys", THU, 0, UNK, "", "", "", ""},
    {"flibber", THU, 0, UNK, "", "", "", ""},
    {"add", THU, 0, UNK, "", "", "", ""},
    {"moves are fun", THU, 0, UNK, "", "", "", ""},
};

static int64_t ms_of(const char *rfc3339) {
  int64_t ms = 0;
  if (va_parse_due(rfc3339, strlen(rfc3339), 0, &ms))
    fail_msg("bad time in the table: %s", rfc3339);
  return ms;
}

/* Whether a LIST intent has the row's "status[|from|to]" or
 * "status|overdue"; else why not (in why). */
static bool list_fits(const va_intent *in, const char *more, char *why,
                      size_t cap) {
  char want[128];
  snprintf(want, sizeof(want), "%s", more);
  char *from = strchr(want, '|'), *to = NULL;
  if (from) {
    *from++ = 0;
    to = strchr(from, '|');
    if (to)
      *to++ = 0;
  }
  bool overdue = from && !strcmp(from, "overdue"), window = from && !overdue;
  if (strcmp(in->status, want) || in->overdue != overdue ||
      in->window != window ||
      (window && (in->from_ms != ms_of(from) || in->to_ms != ms_of(to)))) {
    char f[VA_TIME_TEXT_MAX], t[VA_TIME_TEXT_MAX];
    va_format_time(in->from_ms, f, sizeof(f));
    va_format_time(in->to_ms, t, sizeof(t));
    snprintf(why, cap, "status \"%s\" overdue %d window %d [%s, %s)",
             in->status, in->overdue, in->window, f, t);
    return false;
  }
  return true;
}

/* Whether the intent's kind-specific field is the row's `more`. */
static bool more_fits(const row *w, const va_intent *in, char *why,
                      size_t cap) {
  switch (w->kind) {
  case LIST:
    return list_fits(in, w->more, why, cap);
  case RENAME:
    if (strcmp(in->title, w->more))
      return snprintf(why, cap, "title \"%s\"", in->title), false;
    return true;
  case CANCEL:
    if (in->reminder != atoi(w->more + 1))
      return snprintf(why, cap, "reminder %d", in->reminder), false;
    return true;
  case LOG:
    if (in->minutes != atoll(w->more))
      return snprintf(why, cap, "minutes %lld", (long long)in->minutes), false;
    return true;
  default:
    return true;
  }
}

/* Reads one row's message; "" when it means what the row says, else how
 * it differs (in why). */
static void read_row(const row *w, char *why, size_t cap) {
  va_zone zone = {NULL, w->tz};
  int64_t now = ms_of(w->now), want_at = 0;
  va_intent in;
  va_assistant_read(w->msg, strlen(w->msg), now, &zone, &in);
  if (w->at[0] == '+')
    want_at = now + atoll(w->at + 1) * MIN;
  else if (w->at[0])
    want_at = ms_of(w->at);
  char at[VA_TIME_TEXT_MAX] = "0";
  if (in.at_ms)
    va_format_time(in.at_ms, at, sizeof(at));
  *why = 0;
  if ((int)in.kind != w->kind || strcmp(in.text, w->text) ||
      in.at_ms != want_at || strcmp(in.bad_date, w->bad))
    snprintf(why, cap, "kind %d text \"%s\" at %s bad_date \"%s\"",
             (int)in.kind, in.text, at, in.bad_date);
  else
    more_fits(w, &in, why, cap);
}

/* Every row of a table; each one that differs is printed, then fails. */
static void check_rows(const row *rows, size_t n) {
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    char why[2048];
    read_row(&rows[i], why, sizeof(why));
    if (*why) {
      print_message("\"%s\" (at %s, %+d): %s\n", rows[i].msg, rows[i].now,
                    rows[i].tz, why);
      failed++;
    }
  }
  if (failed)
    fail_msg("%d of %zu rows differ", failed, n);
}

static void dates(void **state) {
  (void)state;
  check_rows(DATES, sizeof(DATES) / sizeof(DATES[0]));
}

static void commands(void **state) {
  (void)state;
  check_rows(COMMANDS, sizeof(COMMANDS) / sizeof(COMMANDS[0]));
}

static void queries(void **state) {
  (void)state;
  char v[16];
  assert_true(va_query_get("a=1&q=plan%20the+trip", "q", v, 16));
  assert_string_equal(v, "plan the trip");
  assert_false(va_query_get("q=%zz", "q", v, 16));
  assert_false(va_query_get("q=%00", "q", v, 16));
  assert_false(va_query_get("q=%2", "q", v, 16));
  assert_false(va_query_get("q=0123456789abcdefg", "q", v, 16));
  assert_false(va_query_get("", "q", v, 16));
  static const char *const keys[] = {"q", NULL};
  char why[256];
  assert_true(va_query_check("q=1&&q=2", keys, why, sizeof(why)));
  assert_false(va_query_check("q=1&x=2", keys, why, sizeof(why)));
  assert_string_equal(why, "unknown query parameter x (this route takes q)");
  assert_false(va_query_check("q=%", keys, why, sizeof(why)));
  assert_string_equal(why, "the query parameter q is badly encoded");
  assert_false(va_query_check("q=1&a%22b\x01=2", keys, why, sizeof(why)));
  assert_string_equal(why,
                      "unknown query parameter a?22b? (this route takes q)");
  static const char *const three[] = {"a", "b", "c", NULL}, *const none[] = {
                                                                NULL};
  assert_false(va_query_check("x=1", three, why, sizeof(why)));
  assert_string_equal(
      why, "unknown query parameter x (this route takes a, b and c)");
  assert_false(va_query_check("x=1", none, why, sizeof(why)));
  assert_string_equal(why, "unknown query parameter x (this route takes none)");
}

static void checks(void **state) {
  (void)state;
  json_t *ok = json_loads("{\"title\":\"a\",\"due\":\"2026-12-01T10:00:00Z\","
                          "\"members\":[\"b\"]}",
                          0, NULL);
  assert_null(va_task_doc_check(ok, true));
  assert_non_null(va_task_doc_check(ok, false)); /* members: create only */
  json_t *bad = json_loads("{\"title\":\"\"}", 0, NULL);
  assert_non_null(va_task_doc_check(bad, true));
  json_t *tz = json_loads("{\"timeZone\":\"-05:30\"}", 0, NULL);
  assert_null(va_prefs_check(tz));
  va_zone zone;
  assert_true(va_prefs_zone("-05:30", &zone));
  assert_int_equal(va_zone_offset(&zone, NOW), -330);
  assert_false(va_prefs_zone("+15:00", &zone));
  json_decref(ok);
  json_decref(bad);
  json_decref(tz);
}

static void fuzz_corpus_replays(void **state) {
  (void)state;
  DIR *d = opendir(VA_ASSISTANT_CORPUS);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.')
      continue;
    char path[1024], buf[4096];
    snprintf(path, sizeof(path), "%s/%s", VA_ASSISTANT_CORPUS, e->d_name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    va_intent in;
    va_zone west = {NULL, -300};
    va_assistant_read(buf, len, NOW, &west, &in);
    assert_non_null(memchr(in.text, 0, sizeof(in.text)));
    assert_non_null(memchr(in.bad_date, 0, sizeof(in.bad_date)));
    n++;
  }
  closedir(d);
  assert_true(n > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(kinds),
      cmocka_unit_test(adding),
      cmocka_unit_test(completing_and_logging),
      cmocka_unit_test(reminding),
      cmocka_unit_test(typos),
      cmocka_unit_test(long_and_odd_input),
      cmocka_unit_test(dates),
      cmocka_unit_test(commands),
      cmocka_unit_test(queries),
      cmocka_unit_test(checks),
      cmocka_unit_test(fuzz_corpus_replays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
