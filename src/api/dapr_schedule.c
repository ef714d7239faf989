/* dapr_schedule.c — the Dapr API's reminder and timer routes of one actor
 * (dapr_common.h): requests checked and turned into va_reminder_call and
 * va_timer_call; for an app's actor, a timer calls AppActor's "timer"
 * method, which calls the app back. A period under the runtime's minimum
 * (va_min_period_ms) is refused here with a message naming the minimum,
 * as Dapr refuses a bad period: 500 ERR_ACTOR_REMINDER_CREATE or
 * ERR_ACTOR_TIMER_CREATE. */
#include "app_channel.h"
#include "dapr_common.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WHY_MAX = 192 };

/* Writes into why (WHY_MAX) why period (the caller's text) is too short
 * for rt, and returns true; false when it is long enough. */
static bool too_short(va_runtime *rt, const char *text, const va_duration *p,
                      char *why) {
  if (va_period_allowed(rt, p))
    return false;
  char min_text[32];
  va__dapr_format_ms(va_min_period_ms(rt), min_text, sizeof(min_text));
  snprintf(why, WHY_MAX, "period %.64s is shorter than the minimum of %s", text,
           min_text);
  return true;
}

/* ---- Reminders ---- */

/* The failure_policy of a reminder request into retry: absent, Dapr's
 * default (3 retries, 1 s apart); {"drop": {}}; {"constant": {"interval",
 * "maxRetries"?}} (no maxRetries: no limit). NULL when fine, else why not. */
static const char *failure_policy(json_t *body, va_reminder_retry *retry) {
  json_t *policy = json_object_get(body, "failure_policy");
  *retry = (va_reminder_retry){VA_RETRY_CONSTANT, 3, 1000};
  if (!policy || json_is_null(policy))
    return NULL;
  json_t *drop = json_object_get(policy, "drop");
  json_t *constant = json_object_get(policy, "constant");
  if (!json_is_object(policy) || json_object_size(policy) != 1 ||
      (!json_is_object(drop) && !json_is_object(constant)))
    return "failure_policy is {\"drop\": {}} or {\"constant\": {...}}";
  if (drop) {
    *retry = (va_reminder_retry){.kind = VA_RETRY_DROP};
    return NULL;
  }
  const char *every = va__dapr_text_field(constant, "interval");
  json_t *max = json_object_get(constant, "maxRetries");
  va_duration d;
  if (!every || !*every || va_parse_duration(every, strlen(every), &d) ||
      d.years || d.months || d.days || d.ns < 100 * 1000000ll ||
      d.ns / 1000000 > VA_RETRY_INTERVAL_MAX_MS - 99)
    return "failure_policy.constant.interval is a duration from 100ms to "
           "1h49m";
  if (max && !json_is_null(max) &&
      (!json_is_integer(max) || json_integer_value(max) < 1 ||
       json_integer_value(max) > VA_RETRY_MAX))
    return "failure_policy.constant.maxRetries is a whole number from 1 to "
           "254";
  /* Kept in tenths of a second: rounded up, never sooner than asked. */
  retry->interval_ms = (uint32_t)((d.ns / 1000000 + 99) / 100 * 100);
  retry->max = max && !json_is_null(max) ? (uint32_t)json_integer_value(max)
                                         : VA_RETRY_UNLIMITED;
  return NULL;
}

/* Reads a reminder request into spec; its data (new, *data) keeps what the
 * caller gave, for GET. NULL when fine, else why not (static, or in why). */
static const char *reminder_spec(va_runtime *rt, json_t *body,
                                 va_reminder *spec, char **data, char *why) {
  const char *due = va__dapr_text_field(body, "dueTime");
  const char *period = va__dapr_text_field(body, "period");
  const char *ttl = va__dapr_text_field(body, "ttl");
  if (!due || !period || !ttl)
    return "dueTime, period and ttl must be strings";
  int64_t now = va_wall_ms();
  *spec = (va_reminder){.left = 1};
  if (va_parse_due(due, strlen(due), now, &spec->due_ms))
    return "error parsing reminder due time: unsupported time/duration "
           "format";
  if (*period &&
      va_parse_period(period, strlen(period), &spec->period, &spec->left))
    return "invalid reminder period: parse error";
  if (*period && too_short(rt, period, &spec->period, why))
    return why;
  if (*ttl) {
    /* A relative ttl counts from the first due instant. */
    if (va_parse_due(ttl, strlen(ttl), spec->due_ms, &spec->expires_ms))
      return "error parsing reminder TTL: unsupported time/duration format";
    if (spec->expires_ms <= spec->due_ms || spec->expires_ms <= now)
      return "reminder has already expired";
  }
  const char *why_policy = failure_policy(body, &spec->retry);
  if (why_policy)
    return why_policy;
  json_t *kept = json_pack("{s:s, s:s}", "dueTime", due, "period", period);
  char ttl_text[VA_TIME_TEXT_MAX];
  if (kept && spec->expires_ms &&
      va_format_time(spec->expires_ms, ttl_text, sizeof(ttl_text)) == 0)
    json_object_set_new(kept, "ttl", json_string(ttl_text));
  json_t *d = json_object_get(body, "data");
  if (kept && d)
    json_object_set(kept, "data", d);
  json_t *policy = json_object_get(body, "failure_policy");
  if (kept && json_is_object(policy))
    json_object_set(kept, "failure_policy", policy);
  *data = kept ? json_dumps(kept, JSON_COMPACT) : NULL;
  json_decref(kept);
  if (!*data)
    return "out of memory";
  spec->data = *data;
  spec->len = strlen(*data);
  return NULL;
}

typedef struct reminder_reply {
  va_http_reply *reply;
  const char *op; /* "CREATE", "GET", "DELETE", "LIST" */
  char type[128], id[ID_MAX + 1];
} reminder_reply;

static void reminder_done(void *user, int status, const void *data,
                          size_t len) {
  reminder_reply *rr = user;
  va_http_reply *reply = rr->reply;
  va_reminder rem;
  json_t *kept = NULL;
  if (status == 0 && !strcmp(rr->op, "GET") &&
      va_reminder_decode(data, len, &rem) == 0)
    kept = json_loadb(rem.data, rem.len, 0, NULL);
  if (status == VA_ENOTFOUND && !strcmp(rr->op, "DELETE"))
    status = 0; /* Dapr: deleting what is not there is fine */
  if (status == VA_ENOTFOUND)
    va__dapr_fail(reply, 404, "ERR_ACTOR_REMINDER_NOT_FOUND",
                  "reminder not found");
  else if (status == VA_EEXIST) /* overwrite: false */
    va__dapr_fail(reply, 409, "ERR_ACTOR_REMINDER_ALREADY_EXISTS",
                  "error creating actor reminder: reminder already exists");
  else if (status)
    va__dapr_fail(reply, 500,
                  !strcmp(rr->op, "GET")      ? "ERR_ACTOR_REMINDER_GET"
                  : !strcmp(rr->op, "DELETE") ? "ERR_ACTOR_REMINDER_DELETE"
                                              : "ERR_ACTOR_REMINDER_CREATE",
                  "error with actor reminder: %s", va_strerror(status));
  else if (strcmp(rr->op, "GET"))
    va__dapr_ok(reply, 204, NULL, 0);
  else {
    json_t *out =
        json_pack("{s:s, s:s}", "actorID", rr->id, "actorType", rr->type);
    if (out && kept)
      json_object_update(out, kept);
    char *s = out ? json_dumps(out, JSON_COMPACT) : NULL;
    if (s)
      va__dapr_ok(reply, 200, s, strlen(s));
    else
      va__dapr_fail(reply, 500, "ERR_ACTOR_REMINDER_GET", "out of memory");
    free(s);
    json_decref(out);
  }
  json_decref(kept);
  free(rr);
}

/* GET /v1.0/actors/{type}/{id}/reminders: the actor's reminders, each as
 * GET of one answers it (with its name), from va_actor_inspect: listing
 * them activates nothing. */
static void listed_reminders(void *user, int status,
                             const va_actor_info *info) {
  reminder_reply *rr = user;
  json_t *list = json_array();
  for (size_t i = 0; status == 0 && list && i < info->n_reminders; i++) {
    const va_reminder_entry *e = &info->reminders[i];
    json_t *one = json_pack("{s:s, s:s, s:s}", "actorID", rr->id, "actorType",
                            rr->type, "name", e->name);
    json_t *kept = json_loadb(e->spec.data, e->spec.len, 0, NULL);
    if (json_is_object(kept))
      json_object_update(one, kept);
    json_decref(kept);
    json_array_append_new(list, one);
  }
  char *text = status == 0 && list ? json_dumps(list, JSON_COMPACT) : NULL;
  if (status == VA_ENOTFOUND) /* an actor with nothing stored has none */
    va__dapr_ok(rr->reply, 200, "[]", 2);
  else if (text)
    va__dapr_ok(rr->reply, 200, text, strlen(text));
  else
    va__dapr_fail(rr->reply, 500, "ERR_ACTOR_REMINDER_GET",
                  "error listing actor reminders: %s",
                  va_strerror(status ? status : VA_ENOMEM));
  free(text);
  json_decref(list);
  free(rr);
}

static void list_reminders(va_runtime *rt, const target *t,
                           va_http_reply *reply) {
  reminder_reply *rr = malloc(sizeof(*rr));
  if (!rr)
    return va__dapr_fail(reply, 503, "ERR_NO_MEMORY", "out of memory");
  rr->reply = reply;
  rr->op = "LIST";
  snprintf(rr->type, sizeof(rr->type), "%s", t->type_name);
  snprintf(rr->id, sizeof(rr->id), "%s", t->id);
  int rc = va_actor_inspect(rt, t->type, t->key, strlen(t->key),
                            listed_reminders, rr);
  if (rc)
    listed_reminders(rr, rc, NULL);
}

void va__dapr_reminders(va_runtime *rt, const target *t,
                        const va_http_request *req, va_http_reply *reply) {
  if (!t->rest && !strcmp(req->method, "GET"))
    return list_reminders(rt, t, reply);
  char name[NAME_MAX_BYTES + 1];
  if (!va__dapr_rest(t, name, sizeof(name), "name", reply))
    return;
  bool create = !strcmp(req->method, "POST") || !strcmp(req->method, "PUT");
  bool get = !strcmp(req->method, "GET");
  if (!create && !get && strcmp(req->method, "DELETE"))
    return va__dapr_fail(reply, 405, "ERR_METHOD_NOT_ALLOWED",
                         "POST, PUT, GET or DELETE a reminder");
  va_reminder spec;
  char *data = NULL;
  bool overwrite = true; /* Dapr's default, whatever its docs say */
  if (create) {
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL)
                                 : json_object();
    if (!json_is_object(body)) {
      json_decref(body);
      return va__dapr_fail(
          reply, 400, "ERR_MALFORMED_REQUEST",
          "failed deserializing HTTP body: expected a JSON object");
    }
    json_t *ow = json_object_get(body, "overwrite");
    if (ow && !json_is_boolean(ow)) {
      json_decref(body);
      return va__dapr_fail(reply, 400, "ERR_MALFORMED_REQUEST",
                           "failed deserializing HTTP body: overwrite must "
                           "be true or false");
    }
    overwrite = !ow || json_is_true(ow);
    char because[WHY_MAX];
    const char *why = reminder_spec(rt, body, &spec, &data, because);
    json_decref(body);
    if (why) {
      free(data);
      return va__dapr_fail(reply, 500, "ERR_ACTOR_REMINDER_CREATE",
                           "error creating actor reminder: %s", why);
    }
  }
  reminder_reply *rr = malloc(sizeof(*rr));
  if (!rr) {
    free(data);
    return va__dapr_fail(reply, 503, "ERR_NO_MEMORY", "out of memory");
  }
  rr->reply = reply;
  rr->op = create ? "CREATE" : get ? "GET" : "DELETE";
  snprintf(rr->type, sizeof(rr->type), "%s", t->type_name);
  snprintf(rr->id, sizeof(rr->id), "%s", t->id);
  int rc = va_reminder_call(
      rt, t->type, t->key, strlen(t->key), name, create ? &spec : NULL,
      create ? overwrite ? VA_REMINDER_SET : VA_REMINDER_CREATE
      : get  ? VA_REMINDER_GET
             : VA_REMINDER_DELETE,
      reminder_done, rr);
  free(data);
  if (rc)
    reminder_done(rr, rc, NULL, 0);
}

/* ---- Timers ---- */

static void timer_done(void *user, int status, const void *data, size_t len) {
  (void)data, (void)len;
  va_http_reply *reply = user;
  if (status == 0 || status == VA_ENOTFOUND) /* deleting nothing is fine */
    va__dapr_ok(reply, 204, NULL, 0);
  else
    va__dapr_fail(reply, 500, "ERR_ACTOR_TIMER_CREATE",
                  "error creating actor timer: %s", va_strerror(status));
}

/* A timer request's times into spec (ms from now, fires, ttl); NULL when
 * fine, else why not (static, or in why). A relative ttl counts from the
 * first due time, as a reminder's; a timer that would end before it first
 * fires is refused, as Dapr refuses it. */
static const char *timer_times(va_runtime *rt, json_t *body,
                               va_timer_spec *spec, char *why) {
  const char *due = va__dapr_text_field(body, "dueTime");
  const char *period = va__dapr_text_field(body, "period");
  const char *ttl = va__dapr_text_field(body, "ttl");
  int64_t now = va_wall_ms(), at;
  if (!due || !period || !ttl || va_parse_due(due, strlen(due), now, &at))
    return "unsupported due time";
  if (at < now)
    at = now;
  spec->due_ms = (uint64_t)(at - now);
  if (*period) {
    va_duration d;
    int64_t reps;
    if (va_parse_period(period, strlen(period), &d, &reps) || d.years ||
        d.months)
      return "unsupported period (timers take durations up to weeks, with "
             "or without R<n>/)";
    if (too_short(rt, period, &d, why))
      return why;
    spec->period_ms = (uint64_t)d.days * 86400000u + (uint64_t)(d.ns / 1000000);
    spec->fires = reps > 0 ? (uint64_t)reps : 0;
  }
  if (*ttl) {
    int64_t end;
    if (va_parse_due(ttl, strlen(ttl), at, &end))
      return "error parsing timer TTL: unsupported time/duration format";
    if (end <= at)
      return "timer has already expired";
    spec->ttl_ms = (uint64_t)(end - at);
  }
  return NULL;
}

void va__dapr_timers(va_runtime *rt, const target *t,
                     const va_http_request *req, va_http_reply *reply) {
  char name[NAME_MAX_BYTES + 1];
  if (!va__dapr_rest(t, name, sizeof(name), "name", reply))
    return;
  int rc;
  if (!strcmp(req->method, "DELETE")) {
    rc = va_timer_call(rt, t->type, t->key, strlen(t->key), name, NULL,
                       timer_done, reply);
  } else if (!strcmp(req->method, "POST") || !strcmp(req->method, "PUT")) {
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    if (!json_is_object(body)) {
      json_decref(body);
      return va__dapr_fail(
          reply, 400, "ERR_MALFORMED_REQUEST",
          "failed deserializing HTTP body: expected a JSON object");
    }
    va_timer_spec spec = {0};
    char because[WHY_MAX];
    const char *why = timer_times(rt, body, &spec, because);
    const char *callback = json_string_value(json_object_get(body, "callback"));
    spec.method = !callback ? -1
                  : t->app  ? VA_APP_TIMER
                            : va_method_lookup(rt, t->type, callback);
    json_t *d = json_object_get(body, "data");
    char *data;
    if (t->app) { /* AppActor's timer method calls the app back */
      json_object_set_new(body, "name", json_string(name));
      data = json_dumps(body, JSON_COMPACT);
    } else {
      data = d ? json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    }
    json_decref(body);
    if (!why && spec.method < 0)
      why = "callback must name a method of the actor's type";
    if (why) {
      free(data);
      return va__dapr_fail(reply, 500, "ERR_ACTOR_TIMER_CREATE",
                           "error creating actor timer: %s", why);
    }
    spec.data = data;
    spec.len = data ? strlen(data) : 0;
    rc = va_timer_call(rt, t->type, t->key, strlen(t->key), name, &spec,
                       timer_done, reply);
    free(data);
  } else {
    return va__dapr_fail(reply, 405, "ERR_METHOD_NOT_ALLOWED",
                         "POST, PUT or DELETE a timer");
  }
  if (rc)
    timer_done(reply, rc, NULL, 0);
}
