/* dapr_common.c — what the Dapr API's files share (dapr_common.h): Dapr's
 * error and success answers, path segments, request fields, durations in
 * messages. */
#include "dapr_common.h"
#include "query.h"
#include "reply_node.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Errors ---- */

/* A Dapr error: {"errorCode", "message"} with the message JSON-escaped. */
void va__dapr_fail(va_http_reply *reply, int status, const char *code,
                   const char *fmt, ...) {
  char message[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof(message), fmt, ap);
  va_end(ap);
  va_http_response *res = va_http_res(reply);
  va__api_reply_node(res);
  json_t *e = json_pack("{s:s, s:s}", "errorCode", code, "message", message);
  if (!e) /* a message that is not UTF-8 (cut, or from outside bytes) */
    e = json_pack("{s:s, s:s}", "errorCode", code, "message",
                  "(the message could not be encoded)");
  char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
  json_decref(e);
  res->status = status;
  res->content_type = "application/json";
  res->len = 0;
  if (s)
    va_http_write(res, s, strlen(s));
  free(s);
  if (status == 429 || status == 503)
    va_http_header(res, "Retry-After", "1");
  va_http_done(reply);
}

void va__dapr_ok(va_http_reply *reply, int status, const void *body,
                 size_t len) {
  va_http_response *res = va_http_res(reply);
  va__api_reply_node(res);
  res->status = status;
  res->content_type = "application/json";
  if (len)
    va_http_write(res, body, len);
  va_http_done(reply);
}

/* Decodes one path segment [s, s + n) into out; false for a bad escape, a
 * control byte (NUL included), a backslash, '#', '?', "." / "..", or what
 * is not UTF-8. An encoded '/' is kept: the SDKs encode an id "user/42" as
 * user%2F42. */
bool va__dapr_segment(const char *s, size_t n, char *out, size_t cap) {
  long len = va_percent_decode(s, n, false, out, cap);
  if (len <= 0)
    return false;
  for (long i = 0; i < len; i++) {
    unsigned char c = (unsigned char)out[i];
    if (c < 0x20 || c == 0x7f || c == '\\' || c == '#' || c == '?')
      return false;
  }
  json_t *utf8 = json_stringn(out, (size_t)len); /* NULL unless UTF-8 */
  bool valid = utf8 != NULL;
  json_decref(utf8);
  return valid && strcmp(out, ".") && strcmp(out, "..");
}

/* A string field of body; "" when absent or null; NULL when of another
 * type. */
const char *va__dapr_text_field(json_t *body, const char *key) {
  json_t *v = json_object_get(body, key);
  return !v || json_is_null(v) ? "" : json_string_value(v);
}

void va__dapr_format_ms(uint64_t ms, char *out, size_t cap) {
  unsigned long long secs = ms / 1000, rest = ms % 1000;
  if (!rest)
    snprintf(out, cap, "%llus", secs);
  else if (!secs)
    snprintf(out, cap, "%llums", rest);
  else /* 1.5s, 1.25s: as Go prints them, no trailing zeros */
    snprintf(out, cap, "%llu.%.*llus", secs,
             rest % 100 == 0  ? 1
             : rest % 10 == 0 ? 2
                              : 3,
             rest % 100 == 0  ? rest / 100
             : rest % 10 == 0 ? rest / 10
                              : rest);
}

bool va__dapr_rest(const target *t, char *out, size_t cap, const char *what,
                   va_http_reply *reply) {
  if (t->rest && va__dapr_segment(t->rest, strlen(t->rest), out, cap))
    return true;
  va__dapr_fail(reply, 400, "ERR_BAD_REQUEST", "invalid request: %s", what);
  return false;
}
