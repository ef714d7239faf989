/* dapr_common.h — what the Dapr actor API's files share (internal to
 * src/api): the actor a request is for, Dapr's answers, path segments,
 * request fields, and the reminder and timer routes. */
#ifndef VA_API_DAPR_COMMON_H
#define VA_API_DAPR_COMMON_H

#include "../http/server.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { ID_MAX = 1024, NAME_MAX_BYTES = 255, KEY_MAX = 1024 };

typedef struct target {
  int type; /* the vactor type: native, or AppActor */
  bool app; /* a type the app hosts */
  char type_name[128];
  char id[ID_MAX + 1];
  char key[128 + ID_MAX + 2]; /* the vactor id: id, or "{type}/{id}" */
  const char *what;           /* "method", "state", "reminders", "timers" */
  const char *rest;           /* after what/ (may hold '/'), or NULL */
} target;

/* A Dapr error {"errorCode", "message"} (the message JSON-escaped), with
 * Retry-After for 429 and 503; finishes the reply. */
void va__dapr_fail(va_http_reply *reply, int status, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* status with body (may be empty) as application/json; finishes it. */
void va__dapr_ok(va_http_reply *reply, int status, const void *body,
                 size_t len);
/* Decodes one path segment [s, s + n) into out: see dapr_common.c. */
bool va__dapr_segment(const char *s, size_t n, char *out, size_t cap);
/* Decodes the route's last part (t->rest) into out; false (and a 400
 * ERR_BAD_REQUEST naming `what` sent on reply) when it is missing or bad. */
bool va__dapr_rest(const target *t, char *out, size_t cap, const char *what,
                   va_http_reply *reply);
/* A string field of body: "" when absent or null, NULL when not a string. */
const char *va__dapr_text_field(json_t *body, const char *key);
/* ms as a Go duration for messages ("1s", "1.5s", "100ms") into out. */
void va__dapr_format_ms(uint64_t ms, char *out, size_t cap);

/* The reminder and timer routes of one actor (dapr_schedule.c). */
void va__dapr_reminders(va_runtime *rt, const target *t,
                        const va_http_request *req, va_http_reply *reply);
void va__dapr_timers(va_runtime *rt, const target *t,
                     const va_http_request *req, va_http_reply *reply);

#endif
