/* chat_reminders.c — the ChatActor's part for the user's own reminders
 * ("remind me in 10 minutes to stretch"): setting one (at most
 * VA_APPS_CHAT_REMINDERS_MAX pending), listing them soonest first,
 * cancelling one by its number in that list or by words of its text, its
 * fire (an assistant message), and the Task API's methods for the same
 * (GET and DELETE /v1/users/{user}/reminders). Each reminder's data is
 * {text}. */
#include "chat_impl.h"
#include "task_doc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void add_name(void *user, const char *name) {
  json_array_append_new(user, json_string(name)); /* (not UTF-8: left out) */
}

static int soonest_first(const void *a, const void *b) {
  json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  int by_time = strcmp(va_json_text(json_object_get(x, "next")),
                       va_json_text(json_object_get(y, "next")));
  return by_time ? by_time
                 : strcmp(va_json_text(json_object_get(x, "name")),
                          va_json_text(json_object_get(y, "name")));
}

/* A pending reminder as the reminders route shows it (new; NULL when out
 * of memory). */
static json_t *reminder_entry(json_t *name, const va_reminder *rem) {
  json_t *data = json_loadb(rem->data, rem->len, 0, NULL);
  json_t *text = json_object_get(data, "text");
  json_t *entry = json_pack("{s:O, s:O?, s:o}", "name", name, "text",
                            json_is_string(text) ? text : NULL, "next",
                            va_json_time(rem->due_ms));
  json_decref(data);
  return entry;
}

/* The reminders "remind me" set and not yet fired, soonest first (then
 * by name): [{name, text, next}] (new, in *out): 0 or VA_ENOMEM. The
 * route lists them in this order, and "cancel reminder 2" counts in it. */
static int pending_reminders(va_turn *t, json_t **out) {
  *out = NULL;
  json_t *names = json_array();
  int rc = names ? va_turn_reminder_list(t, add_name, names) : VA_ENOMEM;
  size_t n = json_array_size(names), kept = 0;
  json_t **v = rc ? NULL : calloc(n ? n : 1, sizeof(*v));
  if (rc == 0 && !v)
    rc = VA_ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    json_t *name = json_array_get(names, i);
    va_reminder rem;
    if (va_turn_reminder_get(t, json_string_value(name), &rem) != 0)
      continue;
    if (!(v[kept] = reminder_entry(name, &rem)))
      rc = VA_ENOMEM;
    else
      kept++;
  }
  if (rc == 0) {
    qsort(v, kept, sizeof(*v), soonest_first);
    *out = json_array();
  }
  for (size_t i = 0; i < kept; i++) /* (each goes in, or is freed) */
    if (json_array_append_new(*out, v[i]))
      rc = VA_ENOMEM;
  if (rc) {
    json_decref(*out);
    *out = NULL;
  }
  free(v);
  json_decref(names);
  return rc;
}

int va__chat_list_reminders(va_turn *t, chat *c) {
  json_t *list;
  int rc = pending_reminders(t, &list);
  if (rc)
    return rc;
  size_t n = json_array_size(list), i;
  va__chat_act(c, json_pack("{s:s, s:i}", "op", "list_reminders", "count",
                            (json_int_t)n));
  char *text = NULL;
  size_t text_len = 0;
  FILE *f = open_memstream(&text, &text_len);
  if (!f) {
    json_decref(list);
    return VA_ENOMEM;
  }
  if (n == 0)
    fputs("You have no reminders waiting.", f);
  else
    fprintf(f, "You have %zu reminder%s:", n, n == 1 ? "" : "s");
  json_t *r;
  json_array_foreach(list, i, r) {
    int64_t due_ms = 0;
    const char *next = va_json_text(json_object_get(r, "next"));
    char when[48] = "";
    if (va_parse_due(next, strlen(next), 0, &due_ms) == 0)
      va__chat_local_time(due_ms, &c->zone, when, sizeof(when));
    fprintf(f, " %zu. %s at %s", i + 1,
            va_json_text(json_object_get(r, "text")), when);
  }
  fclose(f);
  json_decref(list);
  rc = va__chat_answer(t, text);
  free(text);
  return rc;
}

/* The reminders of list that c->intent names: by number, or those whose
 * text holds its words (new array). */
static json_t *reminders_named(const chat *c, json_t *list) {
  json_t *fits = json_array(), *r;
  size_t i;
  json_array_foreach(list, i, r) {
    if (c->intent.reminder
            ? (int)i + 1 == c->intent.reminder
            : strcasestr(va_json_text(json_object_get(r, "text")),
                         c->intent.text) != NULL)
      json_array_append(fits, r);
  }
  return fits;
}

int va__chat_cancel_reminder(va_turn *t, chat *c) {
  json_t *list;
  int rc = pending_reminders(t, &list);
  if (rc)
    return rc;
  json_t *fits = reminders_named(c, list);
  json_t *r = json_array_get(fits, 0);
  const char *name = va_json_text(json_object_get(r, "name"));
  if (!r)
    rc = c->intent.reminder
             ? va__chat_answerf(t, "You have no reminder %d (you have %zu).",
                                c->intent.reminder, json_array_size(list))
             : va__chat_answerf(t, "I found no reminder \"%s\".",
                                c->intent.text);
  else if (json_array_size(fits) > 1)
    rc = va__chat_answerf(
        t,
        "%zu reminders fit \"%s\". Which one? Say \"cancel reminder "
        "N\" with its number in \"list reminders\".",
        json_array_size(fits), c->intent.text);
  else if ((rc = va_turn_reminder_delete(t, name)) == 0) {
    va__chat_act(
        c, json_pack("{s:s, s:s}", "op", "cancel_reminder", "name", name));
    rc = va__chat_answerf(t, "Cancelled the reminder to %s.",
                          va_json_text(json_object_get(r, "text")));
  }
  json_decref(fits);
  json_decref(list);
  return rc;
}

static void count_reminder(void *user, const char *name) {
  (void)name;
  ++*(size_t *)user;
}

int va__chat_remind(va_turn *t, chat *c) {
  char name[32], when[48];
  size_t pending = 0;
  int rc = va_turn_reminder_list(t, count_reminder, &pending);
  if (rc)
    return rc;
  if (pending >= VA_APPS_CHAT_REMINDERS_MAX)
    return va__chat_answerf(t,
                            "You have %d reminders waiting already, the most I "
                            "keep; I did not add this one.",
                            VA_APPS_CHAT_REMINDERS_MAX);
  va_journal messages = va__chat_messages(t);
  snprintf(name, sizeof(name), "chat-%lld",
           (long long)va_journal_total(t, &messages));
  json_t *data = json_pack("{s:s}", "text", c->intent.text);
  char *s = data ? json_dumps(data, JSON_COMPACT) : NULL;
  json_decref(data);
  if (!s)
    return VA_ENOMEM;
  va_reminder spec = {
      .due_ms = c->intent.at_ms, .left = 1, .data = s, .len = strlen(s)};
  rc = va_turn_reminder_set(t, name, &spec);
  free(s);
  if (rc)
    return rc;
  va__chat_act(c, json_pack("{s:s, s:s, s:o}", "op", "remind", "name", name,
                            "at", va_json_time(c->intent.at_ms)));
  va__chat_local_time(c->intent.at_ms, &c->zone, when, sizeof(when));
  return va__chat_answerf(t, "OK, I will remind you at %s to %s.", when,
                          c->intent.text);
}

/* The user's own reminder ("remind me ..."): data {text}. */
int va__chat_on_reminder(va_turn *t, const char *name, const void *data,
                         size_t len) {
  json_t *in = json_loadb(data, len, 0, NULL);
  const char *what = json_string_value(json_object_get(in, "text"));
  char *text = NULL;
  json_t *extra = json_pack("{s:s}", "reminder", name);
  int rc = asprintf(&text, "Reminder: %s", what ? what : name) < 0
               ? VA_ENOMEM
               : va__chat_remember(t, "assistant", text, extra);
  free(text);
  json_decref(extra);
  json_decref(in);
  return rc;
}

int va__chat_reminders(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  json_t *list;
  int rc = pending_reminders(t, &list);
  json_t *out = rc ? NULL : json_pack("{s:o}", "reminders", list);
  if (rc == 0)
    rc = out ? va_reply_json(t, out) : VA_ENOMEM;
  json_decref(out);
  return rc;
}

int va__chat_reminder_del(va_turn *t, const void *arg, size_t len) {
  json_t *in = json_loadb(arg, len, 0, NULL);
  const char *name = json_string_value(json_object_get(in, "name"));
  va_reminder rem;
  int rc = !name ? VA_EINVAL
           : va_turn_reminder_get(t, name, &rem) == VA_ENOTFOUND
               ? VA_APPS_ENO_REMINDER
               : va_turn_reminder_delete(t, name);
  json_decref(in);
  return rc;
}
