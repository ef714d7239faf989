/* test_stored.c — the decoders of the Task API actors' stored state (a
 * task's document, a user's list and the reminders charged to them,
 * preferences, journals): what they accept and refuse, the overflow of
 * issue 9 (a stored version of 2^63 - 1), and the replay of the fuzz
 * corpus through the fuzz target's own function, so that every input the
 * fuzzer kept (crashers included) is checked with the same assertions on
 * every test run. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>
// clang-format on

#include "../fuzz/fuzz_stored.c"
#include <dirent.h>
#include <stdio.h>

static const char *const VALID_DOC =
    "{\"id\":\"t1\",\"owner\":\"ann\",\"title\":\"Buy milk\","
    "\"description\":\"\",\"status\":\"open\",\"priority\":\"medium\","
    "\"due\":null,\"members\":[\"bob\"],\"version\":3,"
    "\"created\":\"2026-12-01T10:00:00.000Z\","
    "\"updated\":\"2026-12-01T10:00:00.000Z\"}";

/* VALID_DOC with key's value replaced by value (JSON text). */
static json_t *doc_with(const char *key, const char *value) {
  json_t *doc = json_loads(VALID_DOC, 0, NULL);
  json_object_set_new(doc, key, json_loads(value, JSON_DECODE_ANY, NULL));
  return doc;
}

static void valid_documents_decode(void **state) {
  (void)state;
  const char *why = "unset";
  json_t *doc = va_task_doc_decode(VALID_DOC, strlen(VALID_DOC), "t1", 2, &why);
  assert_non_null(doc);
  assert_null(why);
  assert_true(va_task_doc_allows(doc, "bob"));
  json_decref(doc);
  /* ... but only as the task they name. */
  assert_null(va_task_doc_decode(VALID_DOC, strlen(VALID_DOC), "t2", 2, &why));
  assert_non_null(why);
}

static void wrong_types_are_refused(void **state) {
  (void)state;
  static const char *const BAD[][2] = {
      {"title", "5"},         {"title", "null"},
      {"description", "[]"},  {"status", "\"closed\""},
      {"priority", "1"},      {"due", "\"tomorrow\""},
      {"members", "\"bob\""}, {"members", "[1]"},
      {"members", "[\"\"]"},  {"owner", "{}"},
      {"owner", "\"\""},      {"version", "\"3\""},
      {"version", "0"},       {"version", "-1"},
      {"version", "1.5"},     {"version", "9223372036854775807"},
      {"created", "7"},       {"updated", "\"yesterday\""},
  };
  for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
    json_t *doc = doc_with(BAD[i][0], BAD[i][1]);
    assert_non_null(doc);
    if (!va_task_doc_valid(doc, "t1", 2))
      fail_msg("%s = %s was accepted", BAD[i][0], BAD[i][1]);
    json_decref(doc);
  }
  const char *why;
  assert_null(va_task_doc_decode("[]", 2, "t1", 2, &why));
  assert_null(va_task_doc_decode("{\"id\":", 6, "t1", 2, &why));
}

static void version_cannot_overflow(void **state) {
  (void)state;
  char max[32];
  snprintf(max, sizeof(max), "%lld", (long long)VA_APPS_VERSION_MAX);
  json_t *doc = doc_with("version", max);
  assert_null(va_task_doc_valid(doc, "t1", 2)); /* the largest kept */
  assert_int_equal(va_task_doc_bump(doc, 0), VA_APPS_EVERSION);
  json_decref(doc);
  /* The reproduction: INT64_MAX, as the Dapr state API can write it. */
  doc = doc_with("version", "9223372036854775807");
  assert_int_equal(va_task_doc_bump(doc, 0), VA_APPS_ECORRUPT);
  json_decref(doc);
  doc = doc_with("version", "41");
  assert_int_equal(va_task_doc_bump(doc, 0), 0);
  assert_int_equal(json_integer_value(json_object_get(doc, "version")), 42);
  json_decref(doc);
}

static void user_entries_decode(void **state) {
  (void)state;
  const char *entry = "{\"slot\":4,\"seq\":9,\"task\":{\"id\":\"t1\","
                      "\"title\":\"x\"}}";
  int64_t slot, seq;
  json_t *e = va_user_entry_decode(entry, strlen(entry), "t1", 2, &slot, &seq);
  assert_non_null(e);
  assert_int_equal(slot, 4);
  assert_int_equal(seq, 9);
  json_decref(e);
  assert_null(va_user_entry_decode(entry, strlen(entry), "t2", 2, &slot, &seq));
  const char *bad = "{\"slot\":-1,\"seq\":9,\"task\":{\"id\":\"t1\"}}";
  assert_null(va_user_entry_decode(bad, strlen(bad), "t1", 2, &slot, &seq));
  bad = "{\"slot\":\"4\",\"seq\":9,\"task\":{\"id\":\"t1\"}}";
  assert_null(va_user_entry_decode(bad, strlen(bad), "t1", 2, &slot, &seq));

  int64_t n = 5, v;
  assert_int_equal(va_user_counter_decode(&n, sizeof(n), 10, &v), 0);
  assert_int_equal(v, 5);
  assert_int_equal(va_user_counter_decode(&n, 4, 10, &v), VA_APPS_ECORRUPT);
  n = -1;
  assert_int_equal(va_user_counter_decode(&n, sizeof(n), 10, &v),
                   VA_APPS_ECORRUPT);
  assert_true(va_user_slot_ok("t1", 2));
  assert_false(va_user_slot_ok("t\0", 2));
  assert_false(va_user_slot_ok("", 0));
}

/* A JSON array of n names "r<i>" (n < 1000), as text (static). */
static const char *names_text(size_t n) {
  static char text[8 * 1000 + 2];
  size_t at = 0;
  text[at++] = '[';
  for (size_t i = 0; i < n; i++)
    at += (size_t)snprintf(text + at, sizeof(text) - at, "%s\"r%zu\"",
                           i ? "," : "", i);
  snprintf(text + at, sizeof(text) - at, "]");
  return text;
}

static void reminder_charges_decode(void **state) {
  (void)state;
  /* Names may hold any byte but NUL: a '/' is one like any other. */
  const char *ok = "[\"r1\",\"a/b\",\"r:1\",\"\u00e9t\u00e9\"]";
  json_t *names = va_user_charges_decode(ok, strlen(ok));
  assert_int_equal(json_array_size(names), 4);
  json_decref(names);
  static const char *const BAD[] = {
      "{}",
      "\"r1\"",
      "[1]",
      "[null]",
      "[\"\"]",
      "[\"a\",\"a\"]",
      "[\"a\\u0000b\"]",
      "[\"a\"",
      "",
  };
  for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++)
    if (va_user_charges_decode(BAD[i], strlen(BAD[i])))
      fail_msg("%s was accepted", BAD[i]);
  char longest[VA_APPS_REMINDER_NAME_MAX + 8];
  snprintf(longest, sizeof(longest), "[\"%0*d\"]", VA_APPS_REMINDER_NAME_MAX,
           0);
  names = va_user_charges_decode(longest, strlen(longest));
  assert_non_null(names); /* 128 bytes */
  json_decref(names);
  snprintf(longest, sizeof(longest), "[\"%0*d\"]",
           VA_APPS_REMINDER_NAME_MAX + 1, 0);
  assert_null(va_user_charges_decode(longest, strlen(longest)));
  const char *most = names_text(VA_USER_CHARGES_MAX);
  names = va_user_charges_decode(most, strlen(most));
  assert_int_equal(json_array_size(names), VA_USER_CHARGES_MAX);
  json_decref(names);
  most = names_text(VA_USER_CHARGES_MAX + 1);
  assert_null(va_user_charges_decode(most, strlen(most)));
  /* The count: at most the limit (no write makes more). */
  int64_t n = VA_APPS_REMINDERS_PER_USER_MAX, v;
  assert_int_equal(
      va_user_counter_decode(&n, sizeof(n), VA_APPS_REMINDERS_PER_USER_MAX, &v),
      0);
  n++;
  assert_int_equal(
      va_user_counter_decode(&n, sizeof(n), VA_APPS_REMINDERS_PER_USER_MAX, &v),
      VA_APPS_ECORRUPT);
}

static void old_lists_keep_what_is_usable(void **state) {
  (void)state;
  const char *old = "{\"t1\":{\"id\":\"t1\",\"title\":\"a\"},"
                    "\"t2\":{\"id\":\"t3\"},\"t4\":5,\"t5\":{\"id\":7}}";
  json_t *kept = va_user_legacy_decode(old, strlen(old));
  assert_int_equal(json_object_size(kept), 1);
  assert_non_null(json_object_get(kept, "t1"));
  json_decref(kept);
  kept = va_user_legacy_decode("[1,2]", 5);
  assert_int_equal(json_object_size(kept), 0);
  json_decref(kept);
}

static void preferences_and_journals_are_mended(void **state) {
  (void)state;
  const char *p = "{\"timeZone\":5,\"language\":\"de\",\"colour\":\"red\"}";
  json_t *kept = va_prefs_decode(p, strlen(p));
  assert_int_equal(json_object_size(kept), 1);
  assert_string_equal(json_string_value(json_object_get(kept, "language")),
                      "de");
  json_decref(kept);
  int64_t total = 7;
  assert_int_equal(va_journal_total_decode(&total, sizeof(total)), 7);
  total = -3;
  assert_int_equal(va_journal_total_decode(&total, sizeof(total)), 0);
  total = INT64_MAX;
  assert_int_equal(va_journal_total_decode(&total, sizeof(total)), 0);
  assert_int_equal(va_journal_total_decode("abc", 3), 0);
  assert_null(va_journal_entry_decode("\"text\"", 6));
  json_t *e = va_journal_entry_decode("{\"seq\":1}", 9);
  assert_non_null(e);
  json_decref(e);
}

static void fuzz_corpus_replays(void **state) {
  (void)state;
  DIR *d = opendir(VA_STORED_CORPUS);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.')
      continue;
    char path[1024];
    static uint8_t buf[1 << 16];
    snprintf(path, sizeof(path), "%s/%s", VA_STORED_CORPUS, e->d_name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len); /* aborts on a broken invariant */
    n++;
  }
  closedir(d);
  assert_true(n > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(valid_documents_decode),
      cmocka_unit_test(wrong_types_are_refused),
      cmocka_unit_test(version_cannot_overflow),
      cmocka_unit_test(user_entries_decode),
      cmocka_unit_test(reminder_charges_decode),
      cmocka_unit_test(old_lists_keep_what_is_usable),
      cmocka_unit_test(preferences_and_journals_are_mended),
      cmocka_unit_test(fuzz_corpus_replays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
