/* task.c — TaskActor (methods in apps.h): one actor per task. State: the
 * document (JSON, key "doc", see task_doc.h), the minutes logged (int64,
 * key "minutes": logging time, the hot operation, writes eight bytes), the
 * change history (a journal, "h:"), and the task's reminders. Only the
 * owner and the members see the task; to anyone else it does not exist.
 * Every change is sent to the lists (UserActor) of the people it concerns
 * by calls inside the turn, so a reply means the lists are up to date.
 * Likewise the owner's UserActor counts the task's reminders (at most
 * VA_APPS_REMINDERS_PER_USER_MAX per owner): a new one is charged before
 * the reply, and one deleted, ended by its last fire or gone with the
 * task is released (see "Reminders" below for what happens on failures).
 *
 * The parsed document is kept in the activation beside a copy of the bytes
 * it was parsed from, and used while the state still holds those bytes (a
 * failed turn, a reload: anything that changes them makes it parse again).
 * Methods that change the document work on a deep copy. */
#include "../base/assert.h"
#include "apps.h"
#include "journal.h"
#include "limits.h"
#include "task_doc.h"
#include "user_list.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Task API this task belongs to: the type's user pointer, set by
 * va_task_register: a va_apps per runtime, so runtimes may share a process. */
static const va_apps *apps_of(va_turn *t) {
  const va_apps *apps = va_turn_type_user(t);
  VA_ASSERT(apps && apps->rt == va_turn_runtime(t));
  return apps;
}

/* The task's change history. */
static va_journal history_of(va_turn *t) {
  return (va_journal){"h:", apps_of(t)->history_limit};
}

/* ---- The document ---- */

typedef struct parsed {
  char *bytes; /* what doc was parsed from */
  size_t len;
  json_t *doc;
} parsed;

static void forget(parsed *p) {
  json_decref(p->doc);
  free(p->bytes);
  *p = (parsed){0};
}

/* Says in the log what is wrong with a stored document, so that an
 * operator can find and mend it (the client only hears "corrupt"). */
static void log_corrupt(va_turn *t, const char *key, const char *why) {
  size_t idlen;
  const char *id = va_turn_id(t, &idlen);
  char quoted[2 * VA_APPS_TASK_KEY_MAX + 8];
  va_log_quote(id, idlen, quoted, sizeof(quoted));
  va_log(va_turn_runtime(t), VA_LOG_WARN, "stored state invalid",
         "type=TaskActor id=%s key=%s why=\"%s\"", quoted, key, why);
}

/* The task's document (borrowed from the cache: do not change it) in *doc:
 * 0; VA_ENOTFOUND when there is none; VA_APPS_ECORRUPT when the stored
 * bytes are not a document of this task (see va_task_doc_valid). */
static int load_doc(va_turn *t, json_t **doc) {
  parsed *p = va_turn_self(t);
  const void *v;
  size_t n;
  *doc = NULL;
  if (va_turn_state_get(t, "doc", &v, &n) != 0)
    return VA_ENOTFOUND;
  if (!p->doc || p->len != n || memcmp(p->bytes, v, n)) {
    forget(p);
    size_t idlen;
    const char *id = va_turn_id(t, &idlen);
    const char *why;
    p->doc = va_task_doc_decode(v, n, id, idlen, &why);
    if (!p->doc) {
      log_corrupt(t, "doc", why);
      return VA_APPS_ECORRUPT;
    }
    if (!(p->bytes = malloc(n))) {
      forget(p);
      return VA_ENOMEM;
    }
    memcpy(p->bytes, v, n);
    p->len = n;
  }
  *doc = p->doc;
  return 0;
}

static int save_doc(va_turn *t, json_t *doc) {
  char *s = json_dumps(doc, JSON_COMPACT);
  int rc = s ? va_turn_state_set(t, "doc", s, strlen(s)) : VA_ENOMEM;
  free(s);
  return rc;
}

static int task_deactivate(va_turn *t) {
  forget(va_turn_self(t));
  return 0;
}

static int64_t minutes(va_turn *t) {
  const void *v;
  size_t n;
  int64_t m = 0;
  if (va_turn_state_get(t, "minutes", &v, &n) == 0 && n == sizeof(m))
    memcpy(&m, v, sizeof(m));
  return m;
}

/* The task as the API shows it to user: the document with the id user
 * calls it by (task_doc.h), plus the minutes. */
static int reply_task(va_turn *t, json_t *doc, const char *user) {
  json_t *shown = json_copy(doc);
  json_object_set_new(shown, "id",
                      json_string(va_task_shown_id(
                          user, va_json_text(json_object_get(doc, "id")))));
  json_object_set_new(shown, "minutes", json_integer(minutes(t)));
  int rc = va_reply_json(t, shown);
  json_decref(shown);
  return rc;
}

/* ---- A request ---- */

typedef struct request {
  json_t *in;       /* the body */
  const char *user; /* the caller, in in */
  json_t *doc;      /* the document, borrowed; NULL before create */
} request;

/* Whether user may hear that the document is broken: it did not pass
 * va_task_doc_valid, but read as far as it goes it names user as owner or
 * member, or names no owner at all (then nobody can be told apart). */
static bool corrupt_doc_concerns(va_turn *t, const char *user) {
  const void *v;
  size_t n;
  if (va_turn_state_get(t, "doc", &v, &n) != 0)
    return false;
  json_t *raw = json_loadb(v, n, 0, NULL);
  bool concerns = va_task_doc_allows(raw, user) ||
                  !json_is_string(json_object_get(raw, "owner"));
  json_decref(raw);
  return concerns;
}

/* Parses the body and finds the task as the caller may see it: 0,
 * VA_EINVAL (bad body), VA_ENOTFOUND (no task, or not the caller's) or
 * VA_APPS_ECORRUPT (a stored document this actor cannot have written). */
static int begin(va_turn *t, const void *arg, size_t len, request *r) {
  *r = (request){json_loadb(arg, len, 0, NULL), NULL, NULL};
  json_t *user = json_object_get(r->in, "user");
  r->user = json_string_value(user);
  if (!json_is_object(r->in) || !r->user ||
      !va_task_key_ok(r->user, json_string_length(user)))
    return VA_EINVAL;
  int rc = load_doc(t, &r->doc);
  if (rc == VA_APPS_ECORRUPT && !corrupt_doc_concerns(t, r->user))
    return VA_ENOTFOUND; /* only its people hear that it is broken */
  if (rc)
    return rc;
  return va_task_doc_allows(r->doc, r->user) ? 0 : VA_ENOTFOUND;
}

static int finish(request *r, int rc) {
  json_decref(r->in);
  return rc;
}

static int check_version(request *r) {
  json_t *want = json_object_get(r->in, "ifMatch");
  if (!want)
    return 0;
  return json_equal(want, json_object_get(r->doc, "version")) ? 0
                                                              : VA_ECONFLICT;
}

/* Records what happened in the history: entry gets "at" and "user". */
static int record(va_turn *t, const char *user, json_t *entry) {
  json_object_set_new(entry, "at", va_json_time(va_wall_ms()));
  json_object_set_new(entry, "user", json_string(user));
  va_journal history = history_of(t);
  int rc = va_journal_append(t, &history, entry);
  json_decref(entry);
  return rc;
}

/* ---- Keeping users' lists up to date ---- */

static int passed(va_turn *t, void *user, int status, const void *data,
                  size_t len) {
  (void)t, (void)user, (void)data, (void)len;
  return status; /* a list that could not be updated fails the turn */
}

static int tell_user(va_turn *t, const char *user, int method,
                     json_t *summary) {
  if (!user)
    return 0; /* not a user id: nobody's list to tell */
  size_t idlen;
  const char *id = va_turn_id(t, &idlen);
  if (method == VA_USER_REMOVE)
    return va_turn_call(t, apps_of(t)->user, user, strlen(user), method, id,
                        idlen, passed, NULL);
  char *s = json_dumps(summary, JSON_COMPACT);
  int rc = s ? va_turn_call(t, apps_of(t)->user, user, strlen(user), method, s,
                            strlen(s), passed, NULL)
             : VA_ENOMEM;
  free(s);
  return rc;
}

/* Sends method (upsert or remove) to the owner's and members' lists. */
static int tell_users(va_turn *t, json_t *doc, int method) {
  json_t *summary = va_task_summary(doc);
  int rc = tell_user(t, json_string_value(json_object_get(doc, "owner")),
                     method, summary);
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(doc, "members"), i, m) {
    if (rc == 0)
      rc = tell_user(t, json_string_value(m), method, summary);
  }
  json_decref(summary);
  return rc;
}

/* ---- Counting the owner's reminders ---- */

/* Calls (wait: the turn waits for it, and fails with it) or sends method
 * of actor (type, id) with body (borrowed; NULL: out of memory) as JSON. */
static int call_json(va_turn *t, int type, const char *id, int method,
                     json_t *body, bool wait) {
  char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
  int rc = !s     ? VA_ENOMEM
           : wait ? va_turn_call(t, type, id, strlen(id), method, s, strlen(s),
                                 passed, NULL)
                  : va_turn_send(t, type, id, strlen(id), method, s, strlen(s));
  free(s);
  return rc;
}

/* Releases reminder name (NULL: all the task's) from the count of the
 * document's owner: waiting for it (wait) or one-way. */
static int release_owned(va_turn *t, json_t *doc, const char *name, bool wait) {
  json_t *body = json_pack("{s:O}", "task", json_object_get(doc, "id"));
  if (body && name &&
      json_object_set_new(body, "names", json_pack("[s]", name))) {
    json_decref(body); /* (never all of them for want of memory) */
    body = NULL;
  }
  int rc = call_json(t, apps_of(t)->user,
                     json_string_value(json_object_get(doc, "owner")),
                     VA_USER_RELEASE_REMINDERS, body, wait);
  json_decref(body);
  return rc;
}

/* ---- Methods ---- */

static int task_create(va_turn *t, const void *arg, size_t len) {
  request r;
  int rc = begin(t, arg, len, &r);
  if (rc == VA_EINVAL)
    return finish(&r, rc);
  const void *v;
  size_t n;
  if (va_turn_state_get(t, "doc", &v, &n) == 0) /* (anyone's, or unreadable) */
    return finish(&r, VA_EEXIST);
  size_t idlen;
  const char *id = va_turn_id(t, &idlen);
  if (va_task_doc_check(r.in, true) || !va_task_actor_key_ok(id, idlen) ||
      !va_task_key_creatable(r.user, id, idlen))
    return finish(&r, VA_EINVAL); /* (the Dapr API can name any actor) */
  json_t *doc = va_task_doc_new(r.in, id, idlen, r.user, va_wall_ms());
  rc = doc ? save_doc(t, doc) : VA_ENOMEM;
  if (rc == 0)
    rc = record(t, r.user, json_pack("{s:s}", "action", "created"));
  if (rc == 0)
    rc = tell_users(t, doc, VA_USER_UPSERT);
  if (rc == 0)
    rc = reply_task(t, doc, r.user);
  json_decref(doc);
  return finish(&r, rc);
}

/* After a create that failed: takes the task off the lists of the users
 * named in the failed request ({user, members?}) unless the task exists
 * (then its create did succeed after all, e.g. after a timeout, and the
 * lists are right). A turn of the task, so it runs after the create's. */
static int task_unlist(va_turn *t, const void *arg, size_t len) {
  json_t *in = json_loadb(arg, len, 0, NULL);
  const void *v;
  size_t n;
  if (!json_is_object(in) || va_turn_state_get(t, "doc", &v, &n) == 0) {
    int rc = json_is_object(in) ? 0 : VA_EINVAL;
    json_decref(in);
    return rc;
  }
  json_t *user = json_object_get(in, "user");
  int rc = 0;
  if (va_task_key_ok(json_string_value(user), json_string_length(user)))
    rc = tell_user(t, json_string_value(user), VA_USER_REMOVE, NULL);
  json_t *members = json_object_get(in, "members");
  size_t i;
  json_t *m;
  json_array_foreach(members, i, m) {
    if (rc == 0 && i < VA_APPS_MEMBERS_MAX &&
        va_task_key_ok(json_string_value(m), json_string_length(m)))
      rc = tell_user(t, json_string_value(m), VA_USER_REMOVE, NULL);
  }
  json_decref(in);
  return rc;
}

static int task_get(va_turn *t, const void *arg, size_t len) {
  request r;
  int rc = begin(t, arg, len, &r);
  return finish(&r, rc ? rc : reply_task(t, r.doc, r.user));
}

/* Applies fields (checked) to a copy of the document, records and tells. */
static int change(va_turn *t, request *r, json_t *fields, const char *action) {
  json_t *doc = json_deep_copy(r->doc);
  json_t *changes = doc ? va_task_doc_apply(doc, fields) : NULL;
  int rc = changes ? 0 : VA_ENOMEM;
  if (rc == 0 && json_object_size(changes)) {
    rc = va_task_doc_bump(doc, va_wall_ms());
    if (rc == 0)
      rc = save_doc(t, doc);
    if (rc == 0)
      rc =
          record(t, r->user,
                 json_pack("{s:s, s:O}", "action", action, "changes", changes));
    if (rc == 0)
      rc = tell_users(t, doc, VA_USER_UPSERT);
  }
  if (rc == 0)
    rc = reply_task(t, doc, r->user);
  json_decref(changes);
  json_decref(doc);
  return rc;
}

static int task_update(va_turn *t, const void *arg, size_t len) {
  request r;
  int rc = begin(t, arg, len, &r);
  if (rc == 0 && va_task_doc_check(r.in, false))
    rc = VA_EINVAL;
  if (rc == 0)
    rc = check_version(&r);
  return finish(&r, rc ? rc : change(t, &r, r.in, "updated"));
}

static int task_complete(va_turn *t, const void *arg, size_t len) {
  request r;
  int rc = begin(t, arg, len, &r);
  if (rc == 0)
    rc = check_version(&r);
  if (rc)
    return finish(&r, rc);
  json_t *done = json_pack("{s:s}", "status", "done");
  rc = change(t, &r, done, "completed");
  json_decref(done);
  return finish(&r, rc);
}

static void delete_reminder(void *user, const char *name) {
  va_turn *t = user;
  va_turn_reminder_delete(t, name);
}

static int task_delete(va_turn *t, const void *arg, size_t len) {
  request r;
  int rc = begin(t, arg, len, &r);
  if (rc == 0 && !va_task_doc_is_owner(r.doc, r.user))
    rc = VA_EPERM;
  if (rc == 0)
    rc = check_version(&r);
  if (rc == 0)
    rc = tell_users(t, r.doc, VA_USER_REMOVE);
  if (rc == 0) /* all the task's charges, those it no longer knows too */
    rc = release_owned(t, r.doc, NULL, true);
  if (rc == 0)
    rc = va_turn_reminder_list(t, delete_reminder, t);
  va_journal history = history_of(t);
  if (rc == 0)
    rc = va_journal_clear(t, &history);
  if (rc == 0)
    rc = va_turn_state_delete(t, "minutes");
  if (rc == 0)
    rc = va_turn_state_delete(t, "doc");
  return finish(&r, rc);
}

static int task_history(va_turn *t, const void *arg, size_t len) {
  request r;
  int rc = begin(t, arg, len, &r);
  if (rc)
    return finish(&r, rc);
  json_int_t before = json_integer_value(json_object_get(r.in, "before"));
  json_int_t limit = json_integer_value(json_object_get(r.in, "limit"));
  va_journal history = history_of(t);
  json_t *out = json_pack(
      "{s:I, s:o}", "total", (json_int_t)va_journal_total(t, &history),
      "entries", va_journal_page(t, &history, before, limit > 0 ? limit : 50));
  rc = va_reply_json(t, out);
  json_decref(out);
  return finish(&r, rc);
}

static int task_members(va_turn *t, const void *arg, size_t len) {
  request r;
  int rc = begin(t, arg, len, &r);
  if (rc)
    return finish(&r, rc);
  json_t *out =
      json_pack("{s:O, s:O}", "owner", json_object_get(r.doc, "owner"),
                "members", json_object_get(r.doc, "members"));
  rc = va_reply_json(t, out);
  json_decref(out);
  return finish(&r, rc);
}

/* Index of member in doc's members, or -1. */
static long member_index(json_t *doc, const char *member) {
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(doc, "members"), i, m) {
    if (va_json_is(m, member))
      return (long)i;
  }
  return -1;
}

/* Adds (add) or removes a member: the owner, or a member leaving. */
static int membership(va_turn *t, const void *arg, size_t len, bool add) {
  request r;
  int rc = begin(t, arg, len, &r);
  json_t *member_v = json_object_get(r.in, "member");
  const char *member = json_string_value(member_v);
  if (rc == 0 && !va_task_key_ok(member, json_string_length(member_v)))
    rc = VA_EINVAL; /* (the routes check; the Dapr API does not) */
  bool owner = rc == 0 && va_task_doc_is_owner(r.doc, r.user);
  bool leaving = rc == 0 && !add && !owner && !strcmp(member, r.user);
  if (rc == 0 && !owner && !leaving)
    rc = VA_EPERM;
  if (rc == 0 && owner && !strcmp(member, r.user))
    rc = VA_APPS_EOWNER; /* the owner is not a member */
  long at = rc == 0 ? member_index(r.doc, member) : -1;
  if (rc || (add && at >= 0)) /* already a member: nothing changes */
    return finish(&r, rc ? rc : reply_task(t, r.doc, r.user));
  if (add &&
      json_array_size(json_object_get(r.doc, "members")) >= VA_APPS_MEMBERS_MAX)
    return finish(&r, VA_APPS_ELIMIT_MEMBERS);
  if (!add && at < 0)
    return finish(&r, VA_APPS_ENO_MEMBER);
  json_t *doc = json_deep_copy(r.doc);
  json_t *members = json_object_get(doc, "members");
  if (add)
    json_array_append_new(members, json_string(member));
  else
    json_array_remove(members, (size_t)at);
  rc = doc ? va_task_doc_bump(doc, va_wall_ms()) : VA_ENOMEM;
  if (rc == 0)
    rc = save_doc(t, doc);
  if (rc == 0)
    rc = record(t, r.user,
                json_pack("{s:s, s:s}", "action",
                          add       ? "member_added"
                          : leaving ? "member_left"
                                    : "member_removed",
                          "member", member));
  if (rc == 0)
    rc = tell_users(t, doc, VA_USER_UPSERT);
  if (rc == 0 && !add) {
    json_t *summary = va_task_summary(doc);
    rc = tell_user(t, member, VA_USER_REMOVE, summary);
    json_decref(summary);
  }
  if (rc == 0)
    rc = reply_task(t, doc, r.user);
  json_decref(doc);
  return finish(&r, rc);
}

static int task_add_member(va_turn *t, const void *arg, size_t len) {
  return membership(t, arg, len, true);
}

static int task_del_member(va_turn *t, const void *arg, size_t len) {
  return membership(t, arg, len, false);
}

/* A log body's user (NUL-ended into user, VA_APPS_ID_MAX + 1 bytes):
 * false when the body names none. */
static bool log_user(const void *arg, size_t len, char *user) {
  size_t n = len > sizeof(va_task_log) ? len - sizeof(va_task_log) : 0;
  if (n == 0 || n > VA_APPS_ID_MAX)
    return false;
  memcpy(user, (const char *)arg + sizeof(va_task_log), n);
  user[n] = 0;
  return va_task_key_ok(user, n);
}

static int task_log(va_turn *t, const void *arg, size_t len) {
  va_task_log in;
  char user[VA_APPS_ID_MAX + 1];
  if (!log_user(arg, len, user))
    return VA_EINVAL;
  memcpy(&in, arg, sizeof(in));
  json_t *doc;
  int rc = load_doc(t, &doc);
  if (rc)
    return rc;
  if (!va_task_doc_allows(doc, user))
    return VA_ENOTFOUND;
  if (in.minutes <= 0 || in.minutes > VA_APPS_MINUTES_MAX)
    return VA_EINVAL;
  int64_t before = minutes(t);
  if (before < 0 || before > INT64_MAX - in.minutes)
    return VA_EINVAL; /* (state written from outside, not by log) */
  int64_t total = before + in.minutes;
  rc = va_turn_state_set(t, "minutes", &total, sizeof(total));
  char out[48];
  int n = snprintf(out, sizeof(out), "{\"minutes\":%lld}", (long long)total);
  return rc ? rc : va_turn_reply(t, out, (size_t)n);
}

/* ---- Reminders ----
 *
 * The owner's count (UserActor, user_list.h) and the task's reminders are
 * saved by two turns of two actors. What keeps the count right:
 * - A new reminder is written, then charged by a call (the owner's turn
 *   saves first; past the limit the charge fails this turn). Should this
 *   turn's save fail after that, the settle it queued to itself releases
 *   the charge; should the server die in between, the charge stays until
 *   the task's next new reminder (a charge carries the task's reminders,
 *   "current", and the owner drops the task's other charges) or its
 *   delete (which releases every charge of the task).
 * - A replacement is not charged, so the limit never refuses one.
 * - A delete releases by a call before this turn saves: a failed save
 *   leaves the reminder uncounted (too low, never too high).
 * - A last fire releases one-way, before the fire's turn saves (the same).
 * - A reminder that ends without a fire (its ttl ran out while the server
 *   was down) or that the Dapr reminder API deletes, and a one-way
 *   release whose turn failed, leave a charge over: dropped as above. */

enum { MESSAGE_MAX = VA_APPS_REMINDER_MESSAGE_MAX };

/* A reminder from its request {dueTime, period?, ttl?, message?}; its data
 * is that request as JSON (new, *data), so that get shows what was set. */
static int reminder_spec(va_turn *t, json_t *in, va_reminder *spec,
                         char **data) {
  const char *due = json_string_value(json_object_get(in, "dueTime"));
  const char *period = json_string_value(json_object_get(in, "period"));
  const char *ttl = json_string_value(json_object_get(in, "ttl"));
  json_t *message = json_object_get(in, "message");
  int64_t now = va_wall_ms();
  *spec = (va_reminder){.left = -1};
  if ((json_object_get(in, "period") && !period) ||
      (json_object_get(in, "ttl") && !ttl))
    return VA_EINVAL; /* there, but not strings */
  if (!due || va_parse_due(due, strlen(due), now, &spec->due_ms) != 0)
    return VA_EINVAL;
  if (period && *period &&
      va_parse_period(period, strlen(period), &spec->period, &spec->left))
    return VA_EINVAL;
  if (period && *period &&
      va_period_shortest_ms(&spec->period) <
          (int64_t)va_min_period_ms(va_turn_runtime(t)))
    return VA_APPS_EPERIOD;
  if (!(period && *period))
    spec->left = 1;
  if (ttl && *ttl &&
      (va_parse_due(ttl, strlen(ttl), now, &spec->expires_ms) != 0 ||
       spec->expires_ms <= spec->due_ms))
    return VA_EINVAL;
  if (message &&
      !(json_is_string(message) && va_json_chars(message) <= MESSAGE_MAX))
    return VA_EINVAL;
  /* "by": who set it, whose chat its fires go to (see task_on_reminder). */
  json_t *kept = json_pack("{s:s, s:s?, s:s?, s:O?, s:O?}", "dueTime", due,
                           "period", period, "ttl", ttl, "message", message,
                           "by", json_object_get(in, "user"));
  *data = kept ? json_dumps(kept, JSON_COMPACT) : NULL;
  json_decref(kept);
  spec->data = *data;
  spec->len = *data ? strlen(*data) : 0;
  return *data ? 0 : VA_ENOMEM;
}

/* A reminder's name in v (va_user_reminder_name_ok), or NULL. */
static const char *name_of(json_t *v) {
  return va_user_reminder_name_ok(v) ? json_string_value(v) : NULL;
}

static const char *reminder_name(request *r) {
  return name_of(json_object_get(r->in, "name"));
}

/* The task's reminders as va_turn_reminder_list gives them: how many, and
 * their names (a name that is not UTF-8, set through the Dapr API, is
 * counted but not named: it was never charged). */
typedef struct reminder_names {
  size_t n;
  json_t *names;
} reminder_names;

static void list_reminder(void *user, const char *name) {
  reminder_names *all = user;
  all->n++;
  json_array_append_new(all->names, json_string(name));
}

/* Whether name is new to the task: then *others (new array) names the
 * task's reminders, NULL for a replacement (counted already).
 * VA_APPS_ELIMIT_REMINDERS when name would be one reminder too many. */
static int reminder_room(va_turn *t, const char *name, json_t **others) {
  va_reminder old;
  *others = NULL;
  if (va_turn_reminder_get(t, name, &old) == 0)
    return 0; /* a replacement */
  reminder_names all = {0, json_array()};
  int rc =
      all.names ? va_turn_reminder_list(t, list_reminder, &all) : VA_ENOMEM;
  if (rc == 0 && all.n >= VA_APPS_REMINDERS_MAX)
    rc = VA_APPS_ELIMIT_REMINDERS;
  if (rc == 0)
    *others = all.names;
  else
    json_decref(all.names);
  return rc;
}

/* Charges a new reminder name to the owner of doc, with the task's other
 * reminders (others, borrowed) so that charges for ones it no longer has
 * go. First the task sends itself a settle: it runs after this turn and
 * releases the charge if the turn did not save the reminder (its save
 * failed after the owner's count took it). Past the owner's limit the
 * charge fails, and with it the turn. */
static int charge_owner(va_turn *t, json_t *doc, const char *name,
                        json_t *others) {
  json_t *owner = json_object_get(doc, "owner");
  json_t *task = json_object_get(doc, "id");
  json_t *settle = json_pack("{s:O, s:s}", "owner", owner, "name", name);
  json_t *charge = json_pack("{s:O, s:s, s:O}", "task", task, "name", name,
                             "current", others);
  int rc = call_json(t, apps_of(t)->task, json_string_value(task),
                     VA_TASK_SETTLE_REMINDER, settle, false);
  if (rc == 0)
    rc = call_json(t, apps_of(t)->user, json_string_value(owner),
                   VA_USER_CHARGE_REMINDER, charge, true);
  json_decref(charge);
  json_decref(settle);
  return rc;
}

/* The reminder is written first and the charge called after: a refused
 * charge fails the turn, and the write is dropped with it. */
static int task_reminder_set(va_turn *t, const void *arg, size_t len) {
  request r;
  int rc = begin(t, arg, len, &r);
  const char *name = reminder_name(&r);
  if (rc)
    return finish(&r, rc);
  va_reminder spec;
  char *data = NULL;
  json_t *others = NULL;
  rc = name ? reminder_spec(t, r.in, &spec, &data) : VA_EINVAL;
  if (rc == 0)
    rc = reminder_room(t, name, &others);
  if (rc == 0)
    rc = va_turn_reminder_set(t, name, &spec);
  free(data);
  if (rc == 0)
    rc =
        record(t, r.user,
               json_pack("{s:s, s:s}", "action", "reminder_set", "name", name));
  if (rc == 0 && others)
    rc = charge_owner(t, r.doc, name, others);
  json_decref(others);
  return finish(&r, rc);
}

/* Queued by a new reminder's set ({owner, name}), so it runs after that
 * turn: releases the owner's charge for the reminder unless the task has
 * it (then the set was saved). Any other charge of a reminder the task
 * does not have is wrong too, so a call from outside can do no harm. */
static int task_settle_reminder(va_turn *t, const void *arg, size_t len) {
  json_t *in = json_loadb(arg, len, 0, NULL);
  json_t *owner = json_object_get(in, "owner");
  const char *name = name_of(json_object_get(in, "name"));
  int rc = name && va_task_key_ok(json_string_value(owner),
                                  json_string_length(owner))
               ? 0
               : VA_EINVAL;
  va_reminder rem;
  if (rc == 0 && va_turn_reminder_get(t, name, &rem) != 0) {
    size_t idlen;
    const char *id = va_turn_id(t, &idlen);
    json_t *release =
        json_pack("{s:s%, s:[s]}", "task", id, idlen, "names", name);
    rc = call_json(t, apps_of(t)->user, json_string_value(owner),
                   VA_USER_RELEASE_REMINDERS, release, true);
    json_decref(release);
  }
  json_decref(in);
  return rc;
}

/* Parses the request and finds the reminder it names: 0, or why not. */
static int find_reminder(va_turn *t, const void *arg, size_t len, request *r,
                         const char **name, va_reminder *rem) {
  int rc = begin(t, arg, len, r);
  *name = reminder_name(r);
  if (rc)
    return rc;
  if (!*name)
    return VA_EINVAL;
  rc = va_turn_reminder_get(t, *name, rem);
  return rc == VA_ENOTFOUND ? VA_APPS_ENO_REMINDER : rc;
}

/* What the Task API shows of reminder name: the spec it was set with,
 * its name and its next due time (new; NULL when out of memory). */
static json_t *reminder_json(const char *name, const va_reminder *rem) {
  json_t *out = json_loadb(rem->data, rem->len, 0, NULL);
  if (!json_is_object(out)) { /* set through the Dapr API: no spec kept */
    json_decref(out);
    out = json_object();
  }
  if (out) {
    json_object_set_new(out, "name", json_string(name));
    json_object_set_new(out, "next", va_json_time(rem->due_ms));
  }
  return out;
}

static int task_reminder_get(va_turn *t, const void *arg, size_t len) {
  request r;
  const char *name;
  va_reminder rem;
  int rc = find_reminder(t, arg, len, &r, &name, &rem);
  if (rc)
    return finish(&r, rc);
  json_t *out = reminder_json(name, &rem);
  rc = va_reply_json(t, out);
  json_decref(out);
  return finish(&r, rc);
}

static int task_reminder_list(va_turn *t, const void *arg, size_t len) {
  request r;
  int rc = begin(t, arg, len, &r);
  reminder_names all = {0, json_array()};
  if (rc == 0)
    rc = all.names ? va_turn_reminder_list(t, list_reminder, &all) : VA_ENOMEM;
  json_t *list = json_array();
  if (rc == 0 && (!list || json_array_size(all.names) != all.n))
    rc = VA_ENOMEM;
  size_t i;
  json_t *name;
  json_array_foreach(all.names, i, name) {
    va_reminder rem;
    if (rc == 0)
      rc = va_turn_reminder_get(t, json_string_value(name), &rem);
    if (rc == 0 && json_array_append_new(
                       list, reminder_json(json_string_value(name), &rem)))
      rc = VA_ENOMEM;
  }
  json_t *out = rc ? NULL : json_pack("{s:O}", "reminders", list);
  if (rc == 0)
    rc = va_reply_json(t, out);
  json_decref(out);
  json_decref(list);
  json_decref(all.names);
  return finish(&r, rc);
}

/* The release is called (not sent): once this replies, the owner's count
 * has let the reminder go. Should this turn's own save fail after it, the
 * reminder stays uncounted (the count too low, never too high). */
static int task_reminder_del(va_turn *t, const void *arg, size_t len) {
  request r;
  const char *name;
  va_reminder rem;
  int rc = find_reminder(t, arg, len, &r, &name, &rem);
  if (rc == 0)
    rc = va_turn_reminder_delete(t, name);
  if (rc == 0)
    rc = record(
        t, r.user,
        json_pack("{s:s, s:s}", "action", "reminder_deleted", "name", name));
  if (rc == 0)
    rc = release_owned(t, r.doc, name, true);
  return finish(&r, rc);
}

/* The chat's note for a fire of reminder name, as JSON text (new; NULL
 * when out of memory), for user to: its message (NULL: none) or name. */
static char *fire_note(json_t *doc, const char *name, const char *message,
                       const char *to) {
  const char *title = va_json_text(json_object_get(doc, "title"));
  const char *task =
      va_task_shown_id(to, va_json_text(json_object_get(doc, "id")));
  json_t *note =
      json_pack("{s:s, s:s, s:s}", "text", "", "task", task, "reminder", name);
  char *text = NULL;
  if (note && asprintf(&text, "Reminder for \"%s\": %s", title,
                       message && *message ? message : name) >= 0)
    json_object_set_new(note, "text", json_string(text));
  free(text);
  char *s = note ? json_dumps(note, JSON_COMPACT) : NULL;
  json_decref(note);
  return s;
}

/* Who hears reminder spec's fires: whoever set it ("by"), if they are
 * still the task's owner or a member, else the owner. */
static const char *reminded(json_t *doc, json_t *spec, const char *owner) {
  json_t *by = json_object_get(spec, "by");
  return json_is_string(by) &&
                 va_task_key_ok(json_string_value(by),
                                json_string_length(by)) &&
                 va_task_doc_allows(doc, json_string_value(by))
             ? json_string_value(by)
             : owner;
}

/* A reminder fired: the history records it and the chat of whoever set
 * it gets it as an assistant message (reminded(); a reminder from before
 * "by" was kept goes to the owner; a one-way send: the chat never calls
 * back). Its last fire releases its charge first (one-way too: a call's
 * failure would fail the fire after the hook, and the runtime re-arms a
 * fire only for a hook that fails); a send that cannot go fails the fire,
 * which then comes again. */
static int task_on_reminder(va_turn *t, const char *name, const void *data,
                            size_t len) {
  json_t *doc;
  if (load_doc(t, &doc) != 0)
    return 0; /* the task is gone (or unreadable, logged): nobody to tell */
  const char *owner = json_string_value(json_object_get(doc, "owner"));
  if (!owner)
    return 0; /* a document without an owner: nobody to remind */
  int rc = va_turn_reminder_last(t) ? release_owned(t, doc, name, false) : 0;
  if (rc)
    return rc;
  json_t *spec = json_loadb(data, len, 0, NULL);
  const char *message = json_string_value(json_object_get(spec, "message"));
  const char *to = reminded(doc, spec, owner);
  char *s = fire_note(doc, name, message, to);
  rc = s ? va_turn_send(t, apps_of(t)->chat, to, strlen(to), VA_CHAT_NOTIFY, s,
                        strlen(s))
         : VA_ENOMEM;
  free(s);
  if (rc == 0)
    rc = record(t, to,
                json_pack("{s:s, s:s, s:s?}", "action", "reminder", "name",
                          name, "message", message));
  json_decref(spec);
  return rc;
}

/* ---- Tasks with a legacy id (task_doc.h) ----
 *
 * A call from user to "<user>:<name>" finds no task there when the task
 * has the legacy id "<name>": the call goes on to that actor, whose
 * answer (or error) is this one's, and which alone decides whether user
 * may see it, as before ids were per owner. Only the methods users call
 * go on: create makes a task under the new id, and what tasks call among
 * themselves names their own ids. */

static int relay(va_turn *t, void *user, int status, const void *data,
                 size_t len) {
  (void)user;
  return status ? status : va_turn_reply(t, data, len);
}

/* The caller a method's body names (NUL-ended into user, VA_APPS_ID_MAX
 * + 1 bytes): false when it names none. */
static bool caller_of(int method, const void *arg, size_t len, char *user) {
  if (method == VA_TASK_LOG)
    return log_user(arg, len, user);
  json_t *in = json_loadb(arg, len, 0, NULL);
  json_t *v = json_object_get(in, "user");
  size_t n = json_string_length(v);
  bool ok = va_task_key_ok(json_string_value(v), n);
  if (ok)
    memcpy(user, json_string_value(v), n + 1);
  json_decref(in);
  return ok;
}

/* Runs fn, method's function, or passes the call on (above). */
static int routed(va_turn *t, int method, va_method_fn fn, const void *arg,
                  size_t len) {
  size_t idlen, name_len;
  const char *id = va_turn_id(t, &idlen);
  const void *v;
  size_t n;
  char user[VA_APPS_ID_MAX + 1];
  if (!memchr(id, ':', idlen) || va_turn_state_get(t, "doc", &v, &n) == 0 ||
      !caller_of(method, arg, len, user))
    return fn(t, arg, len);
  const char *name = va_task_key_name(user, id, idlen, &name_len);
  if (name && memchr(name, ':', name_len))
    name = NULL; /* (legacy ids have no ':': no chain of relays) */
  return name ? va_turn_call(t, apps_of(t)->task, name, name_len, method, arg,
                             len, relay, NULL)
              : fn(t, arg, len);
}

/* fn_routed: the method table's entry for fn, a method users call. */
#define ROUTED(fn, method)                                                     \
  static int fn##_routed(va_turn *t, const void *arg, size_t len) {            \
    return routed(t, method, fn, arg, len);                                    \
  }
ROUTED(task_get, VA_TASK_GET)
ROUTED(task_update, VA_TASK_UPDATE)
ROUTED(task_delete, VA_TASK_DELETE)
ROUTED(task_complete, VA_TASK_COMPLETE)
ROUTED(task_history, VA_TASK_HISTORY)
ROUTED(task_members, VA_TASK_MEMBERS)
ROUTED(task_add_member, VA_TASK_ADD_MEMBER)
ROUTED(task_del_member, VA_TASK_DEL_MEMBER)
ROUTED(task_log, VA_TASK_LOG)
ROUTED(task_reminder_set, VA_TASK_REMINDER_SET)
ROUTED(task_reminder_get, VA_TASK_REMINDER_GET)
ROUTED(task_reminder_del, VA_TASK_REMINDER_DEL)
ROUTED(task_reminder_list, VA_TASK_REMINDER_LIST)
#undef ROUTED

int va_task_register(va_apps *apps) {
  static const va_method methods[VA_TASK_METHODS] = {
      [VA_TASK_CREATE] = {"create", task_create},
      [VA_TASK_GET] = {"get", task_get_routed},
      [VA_TASK_UPDATE] = {"update", task_update_routed},
      [VA_TASK_DELETE] = {"delete", task_delete_routed},
      [VA_TASK_COMPLETE] = {"complete", task_complete_routed},
      [VA_TASK_HISTORY] = {"history", task_history_routed},
      [VA_TASK_MEMBERS] = {"members", task_members_routed},
      [VA_TASK_ADD_MEMBER] = {"add_member", task_add_member_routed},
      [VA_TASK_DEL_MEMBER] = {"remove_member", task_del_member_routed},
      [VA_TASK_LOG] = {"log", task_log_routed},
      [VA_TASK_REMINDER_SET] = {"set_reminder", task_reminder_set_routed},
      [VA_TASK_REMINDER_GET] = {"get_reminder", task_reminder_get_routed},
      [VA_TASK_REMINDER_DEL] = {"delete_reminder", task_reminder_del_routed},
      [VA_TASK_REMINDER_LIST] = {"list_reminders", task_reminder_list_routed},
      [VA_TASK_UNLIST] = {"unlist", task_unlist},
      [VA_TASK_SETTLE_REMINDER] = {"settle_reminder", task_settle_reminder},
  };
  va_type_def def = {.name = "TaskActor",
                     .methods = methods,
                     .n_methods = VA_TASK_METHODS,
                     .on_deactivate = task_deactivate,
                     .on_reminder = task_on_reminder,
                     .instance_size = sizeof(parsed),
                     .user = apps};
  int type = va_register_type(apps->rt, &def);
  if (type < 0)
    return type;
  apps->task = type;
  return 0;
}
