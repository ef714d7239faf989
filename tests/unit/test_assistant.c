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

/* 2026-11-26T10:00:00Z */
static const int64_t NOW = 1795687200000;
enum { MIN = 60000, HOUR = 60 * MIN, DAY = 24 * HOUR };

static va_intent parse(const char *msg, int tz) {
  va_intent in;
  va_assistant_parse(msg, strlen(msg), NOW, tz, &in);
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
  assert_int_equal(parse("remind me at 25:00 to x", 0).kind, VA_INTENT_UNKNOWN);
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
  va_assistant_parse(big, sizeof(big), NOW, 0, &in);
  assert_int_equal(in.kind, VA_INTENT_ADD);
  /* A text too long to keep is not cut: it is said to be too long. */
  assert_true(in.too_long);
  assert_string_equal(in.text, "");
  big[4 + VA_INTENT_TEXT_MAX] = 0; /* the longest text kept whole */
  va_assistant_parse(big, 4 + VA_INTENT_TEXT_MAX, NOW, 0, &in);
  assert_int_equal(in.kind, VA_INTENT_ADD);
  assert_false(in.too_long);
  assert_int_equal(strlen(in.text), VA_INTENT_TEXT_MAX);
  va_assistant_parse("add \0\t\x01x", 8, NOW, 0, &in);
  assert_int_equal(in.kind, VA_INTENT_ADD);
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
  int minutes;
  assert_true(va_tz_offset("-05:30", &minutes));
  assert_int_equal(minutes, -330);
  assert_false(va_tz_offset("+15:00", &minutes));
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
    va_assistant_parse(buf, len, NOW, 0, &in);
    assert_non_null(memchr(in.text, 0, sizeof(in.text)));
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
      cmocka_unit_test(queries),
      cmocka_unit_test(checks),
      cmocka_unit_test(fuzz_corpus_replays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
