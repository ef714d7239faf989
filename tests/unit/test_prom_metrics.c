/* test_prom_metrics.c — the /proc parsers behind the process metrics
 * (src/api/prom_metrics.c) on real and hostile input: /proc/PID/stat with
 * a command name holding spaces and ')', negative fields we skip, missing,
 * non-numeric and overflowing fields; /proc/stat's btime found only at a
 * line's start, past lines longer than the read buffer. Then the text
 * va_prom_metrics writes for a real runtime: every family with its HELP
 * and TYPE, the version label, and process values read from this very
 * process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "api/prom_metrics.h"
#include "http/response.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stat line whose fields 14, 15, 22, 23, 24 are 11, 22, 333, 4096 and 7;
 * comm is put between the parentheses. */
static char *stat_line(const char *comm) {
  static char line[1024];
  snprintf(line, sizeof(line),
           "4242 (%s) S 1 4242 4242 0 -1 4194560 100 0 0 0 11 22 0 0 -100 0 "
           "3 0 333 4096 7 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 "
           "1 0 0 0 0 0\n",
           comm);
  return line;
}

static bool parse(const char *text, va__proc_stat *st) {
  return va__proc_stat_parse(text, strlen(text), st);
}

/* ---- /proc/PID/stat ---- */

static void a_stat_line_gives_its_fields(void **state) {
  (void)state;
  va__proc_stat st;
  assert_true(parse(stat_line("vactord"), &st));
  assert_int_equal(st.cpu_ticks, 33);
  assert_int_equal(st.start_ticks, 333);
  assert_int_equal(st.vsize, 4096);
  assert_int_equal(st.rss_pages, 7);
}

static void a_command_name_with_spaces_and_parens_is_skipped(void **state) {
  (void)state;
  va__proc_stat st;
  assert_true(parse(stat_line("a) 9 9 (b ) 1 2 3"), &st));
  assert_int_equal(st.cpu_ticks, 33);
  assert_int_equal(st.rss_pages, 7);
}

static void this_process_stat_parses(void **state) {
  (void)state;
  FILE *f = fopen("/proc/self/stat", "r");
  assert_non_null(f);
  char text[4096];
  size_t n = fread(text, 1, sizeof(text), f);
  fclose(f);
  va__proc_stat st;
  assert_true(va__proc_stat_parse(text, n, &st));
  assert_true(st.rss_pages > 0);
  assert_true(st.vsize > 0);
}

static void a_short_or_bad_stat_line_is_refused(void **state) {
  (void)state;
  va__proc_stat st;
  const char *bad[] = {
      "",
      "4242 vactord S 1 2 3", /* no parentheses */
      "4242 (vactord)",       /* no fields */
      "4242 (vactord) S 1 4242 4242 0 -1 4194560 100 0 0 0 11 22 0 0 -100 0 "
      "3 0 333 4096", /* ends before rss */
      "4242 (vactord) S 1 4242 4242 0 -1 4194560 100 0 0 0 x1 22 0 0 -100 0 "
      "3 0 333 4096 7 0", /* utime not a number */
      "4242 (vactord) S 1 4242 4242 0 -1 4194560 100 0 0 0 -11 22 0 0 -100 "
      "0 3 0 333 4096 7 0", /* utime negative */
      "4242 (vactord) S 1 4242 4242 0 -1 4194560 100 0 0 0 11 22 0 0 -100 0 "
      "3 0 333 99999999999999999999999 7 0", /* vsize overflows */
      "4242 (vactord) S 1 4242 4242 0 -1 4194560 100 0 0 0 11 22 0 0 -100 0 "
      "3 0 333 4096 7x 0", /* rss then junk */
      "4242 (vactord) S 1 4242 4242 0 -1 4194560 100 0 0 0 11  22 0 0 -100 "
      "0 3 0 333 4096 7 0", /* an empty field */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (parse(bad[i], &st))
      fail_msg("accepted: %s", bad[i]);
  }
  /* Cut anywhere before rss's last digit: refused. */
  const char *line = stat_line("vactord");
  const char *rss = strstr(line, " 4096 7 ") + 6;
  for (size_t n = 0; n <= (size_t)(rss - line); n++)
    assert_false(va__proc_stat_parse(line, n, &st));
}

/* ---- /proc/stat ---- */

static bool btime_of(const char *text, uint64_t *seconds) {
  FILE *f = fmemopen((void *)text, strlen(text), "r");
  assert_non_null(f);
  bool ok = va__proc_btime_read(f, seconds);
  fclose(f);
  return ok;
}

static void btime_is_read_past_long_lines(void **state) {
  (void)state;
  /* An intr line of 10,000 bytes, in which a "btime " starts exactly where
   * the 256-byte read buffer is refilled: it must not count. */
  size_t size = 12000;
  char *text = malloc(size);
  assert_non_null(text);
  strcpy(text, "cpu  1 2 3 4\nintr ");
  size_t len = strlen(text);
  while (len < 13 + 255)
    text[len++] = '1';
  memcpy(text + len, "btime 12 ", 9);
  len += 9;
  while (len < 10000)
    text[len++] = '2';
  strcpy(text + len, "\nbtime 1796200000\nprocesses 99\n");
  uint64_t s = 0;
  assert_true(btime_of(text, &s));
  assert_int_equal(s, 1796200000);
  free(text);
}

static void btime_missing_or_bad_is_refused(void **state) {
  (void)state;
  uint64_t s;
  assert_false(btime_of("", &s));
  assert_false(btime_of("cpu 1 2 3\nctxt 4\n", &s));
  assert_false(btime_of("cpu 1 btime 5\n", &s));
  assert_false(btime_of("btime x5\n", &s));
  assert_false(btime_of("btime 5x\n", &s));
  assert_false(btime_of("btime -5\n", &s));
  assert_true(btime_of("btime 5", &s)); /* the last line, no newline */
  assert_int_equal(s, 5);
}

static void this_system_has_a_btime(void **state) {
  (void)state;
  FILE *f = fopen("/proc/stat", "r");
  assert_non_null(f);
  uint64_t s = 0;
  assert_true(va__proc_btime_read(f, &s));
  fclose(f);
  assert_true(s > 1000000000); /* after 2001 */
}

/* ---- The text ---- */

/* The value of the sample line that starts with name and a space. */
static double value_of(const char *text, const char *name) {
  size_t n = strlen(name);
  for (const char *line = text; *line;) {
    if (!strncmp(line, name, n) && line[n] == ' ')
      return strtod(line + n + 1, NULL);
    const char *next = strchr(line, '\n');
    if (!next)
      break;
    line = next + 1;
  }
  fail_msg("no sample %s", name);
  return 0;
}

static void the_text_has_every_family_once(void **state) {
  (void)state;
  va_runtime *rt;
  assert_int_equal(va_runtime_new(NULL, &rt), 0);
  va_http_response res = {0};
  va_prom_metrics(rt, &res);
  assert_non_null(res.body);
  char *text = strndup(res.body, res.len);
  assert_non_null(text);
  const char *families[] = {"vactor_active_actors",
                            "vactor_turns_total",
                            "vactor_build_info",
                            "process_cpu_seconds_total",
                            "process_resident_memory_bytes",
                            "process_virtual_memory_bytes",
                            "process_start_time_seconds",
                            "process_open_fds",
                            "process_max_fds"};
  char line[128];
  for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
    snprintf(line, sizeof(line), "\n# TYPE %s ", families[i]);
    const char *at = strstr(text, line);
    if (!at)
      fail_msg("no TYPE line for %s", families[i]);
    assert_null(strstr(at + 1, line));
  }
  snprintf(line, sizeof(line), "vactor_build_info{version=\"%s\"} 1\n",
           va_version());
  assert_non_null(strstr(text, line));
  assert_true(value_of(text, "process_resident_memory_bytes") > 0);
  assert_true(value_of(text, "process_open_fds") >= 3);
  assert_true(value_of(text, "process_max_fds") >=
              value_of(text, "process_open_fds"));
  assert_int_equal(text[res.len - 1], '\n');
  free(text);
  va__http_response_free(&res);
  va_runtime_free(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_stat_line_gives_its_fields),
      cmocka_unit_test(a_command_name_with_spaces_and_parens_is_skipped),
      cmocka_unit_test(this_process_stat_parses),
      cmocka_unit_test(a_short_or_bad_stat_line_is_refused),
      cmocka_unit_test(btime_is_read_past_long_lines),
      cmocka_unit_test(btime_missing_or_bad_is_refused),
      cmocka_unit_test(this_system_has_a_btime),
      cmocka_unit_test(the_text_has_every_family_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
