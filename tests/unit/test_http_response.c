/* test_http_response.c — building HTTP responses without a socket: header
 * lines (va_http_header refuses CR/LF and the headers the server writes
 * itself), and the metrics text of the per-worker counters (buckets,
 * sums, route labels merged by content across workers, escaping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/metrics.h"
#include "http/response.h"
#include <stdlib.h>
#include <string.h>

/* The response's header lines as a NUL-terminated string (owned by res). */
static const char *headers(va_http_response *res) {
  assert_int_equal(va__http_grow(&res->headers, &res->headers_cap,
                                 res->headers_len + 1, 16),
                   0);
  res->headers[res->headers_len] = 0;
  return res->headers;
}

static const char *body(va_http_response *res) {
  va_http_write(res, "", 1); /* a NUL to end the string */
  res->len--;
  return res->body;
}

static void header_lines_in_order(void **state) {
  (void)state;
  va_http_response res = {.status = 200};
  assert_int_equal(va_http_header(&res, "ETag", "\"v3\""), 0);
  assert_int_equal(va_http_header(&res, "Retry-After", "1"), 0);
  assert_int_equal(va_http_header(&res, "X-Tab", "a\tb"), 0);
  assert_string_equal(headers(&res),
                      "ETag: \"v3\"\r\nRetry-After: 1\r\nX-Tab: a\tb\r\n");
  /* An error replaces the body, not the headers. */
  va_http_error(&res, 503, "ERR_BUSY", "retry");
  assert_int_equal(res.status, 503);
  assert_non_null(strstr(headers(&res), "Retry-After: 1\r\n"));
  va__http_response_free(&res);
}

static void header_injection_refused(void **state) {
  (void)state;
  va_http_response res = {.status = 200};
  const char *bad_values[] = {"a\r\nSet-Cookie: x=1", "a\nb", "a\rb",
                              "a\x01" "b", "a\x7f"};
  for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
    assert_int_equal(va_http_header(&res, "Location", bad_values[i]),
                     VA_EINVAL);
  const char *bad_names[] = {"", "X\r\nY", "X Y", "X:Y", "X\n",
                             "Content-Length", "content-type", "Connection",
                             "Transfer-Encoding"};
  for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
    assert_int_equal(va_http_header(&res, bad_names[i], "v"), VA_EINVAL);
  assert_int_equal(va_http_header(&res, NULL, "v"), VA_EINVAL);
  assert_int_equal(va_http_header(&res, "X", NULL), VA_EINVAL);
  assert_int_equal(res.headers_len, 0); /* nothing half-written */
  va__http_response_free(&res);
}

static void reason_phrases(void **state) {
  (void)state;
  assert_string_equal(va__http_reason(408), "Request Timeout");
  assert_string_equal(va__http_reason(412), "Precondition Failed");
  assert_string_equal(va__http_reason(299), "Unknown");
}

static void metrics_text(void **state) {
  (void)state;
  va__http_stats *st[2] = {va__http_stats_new(), va__http_stats_new()};
  assert_true(st[0] && st[1]);
  /* The same route name at two addresses, as two files might have it. */
  char *copy = strdup("tasks.log");
  va__http_stats_request(st[0], "tasks.log", 200, 700000);  /* 0.7 ms */
  va__http_stats_request(st[1], copy, 200, 3000000);        /* 3 ms */
  va__http_stats_request(st[1], copy, 404, 20000000000u);   /* 20 s */
  va__http_stats_request(st[0], "we\"ird", 500, 1);
  va__count(st[1]->refused, 2);
  va_http_response res = {.status = 200};
  assert_int_equal(va__http_stats_write(&res, st, 2, 7), 0);
  const char *t = body(&res);
  const char *want[] = {
      "vactor_http_requests_total{route=\"tasks.log\",status=\"200\"} 2\n",
      "vactor_http_requests_total{route=\"tasks.log\",status=\"404\"} 1\n",
      "vactor_http_requests_total{route=\"we\\\"ird\",status=\"500\"} 1\n",
      "_bucket{route=\"tasks.log\",le=\"0.0005\"} 0\n",
      "_bucket{route=\"tasks.log\",le=\"0.001\"} 1\n",
      "_bucket{route=\"tasks.log\",le=\"0.0025\"} 1\n",
      "_bucket{route=\"tasks.log\",le=\"0.005\"} 2\n",
      "_bucket{route=\"tasks.log\",le=\"5\"} 2\n",
      "_bucket{route=\"tasks.log\",le=\"+Inf\"} 3\n",
      "_sum{route=\"tasks.log\"} 20.003700000\n",
      "_count{route=\"tasks.log\"} 3\n",
      "\nvactor_http_connections 7\n",
      "\nvactor_http_connections_refused_total 2\n",
      "vactor_http_client_timeouts_total{kind=\"idle\"} 0\n",
      "# TYPE vactor_http_request_duration_seconds histogram\n",
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    if (!strstr(t, want[i]))
      fail_msg("missing: %s\nin:\n%s", want[i], t);
  va__http_response_free(&res);
  free(copy);
  free(st[0]);
  free(st[1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(header_lines_in_order),
      cmocka_unit_test(header_injection_refused),
      cmocka_unit_test(reason_phrases),
      cmocka_unit_test(metrics_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
