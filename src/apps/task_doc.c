/* task_doc.c — see task_doc.h. */
#include "task_doc.h"
#include "limits.h"
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <vactor.h>

static const char *const STATUSES[] = {"open", "in_progress", "done", NULL};
static const char *const PRIORITIES[] = {"low", "medium", "high", "urgent",
                                         NULL};
enum {
  TITLE_MAX = VA_APPS_TITLE_MAX,
  DESCRIPTION_MAX = VA_APPS_DESCRIPTION_MAX,
  MEMBERS_MAX = VA_APPS_MEMBERS_MAX,
  ID_MAX = VA_APPS_ID_MAX
};

static bool one_of(const char *s, const char *const *set) {
  for (; s && *set; set++)
    if (!strcmp(s, *set))
      return true;
  return false;
}

size_t va_utf8_chars(const char *s, size_t n) {
  size_t chars = 0;
  for (size_t i = 0; i < n; i++)
    chars += ((unsigned char)s[i] & 0xC0) != 0x80; /* not a continuation */
  return chars;
}

size_t va_json_chars(const json_t *v) {
  const char *s = json_string_value(v); /* (jansson's strings are UTF-8) */
  return s ? va_utf8_chars(s, json_string_length(v)) : 0;
}

static bool text_ok(json_t *v, size_t min, size_t max) {
  return json_is_string(v) && va_json_chars(v) >= min &&
         va_json_chars(v) <= max;
}

/* Tags: at most VA_APPS_TAGS_MAX distinct strings of 1 to VA_APPS_TAG_MAX
 * characters, none with a control character. */
static bool tags_ok(json_t *v) {
  if (!json_is_array(v) || json_array_size(v) > VA_APPS_TAGS_MAX)
    return false;
  size_t i;
  json_t *tag;
  json_array_foreach(v, i, tag) {
    const char *s = json_string_value(tag);
    if (!text_ok(tag, 1, VA_APPS_TAG_MAX))
      return false;
    for (size_t k = 0; k < json_string_length(tag); k++)
      if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
        return false;
    for (size_t k = 0; k < i; k++)
      if (json_equal(json_array_get(v, k), tag))
        return false;
  }
  return true;
}

static bool due_ok(json_t *v) {
  if (json_is_null(v))
    return true;
  int64_t ms;
  const char *s = json_string_value(v);
  /* A timestamp, not a duration: it must start with a digit year. */
  return s && s[0] >= '0' && s[0] <= '9' && strlen(s) >= 20 &&
         va_parse_due(s, strlen(s), 0, &ms) == 0;
}

bool va_task_id_ok(const char *s, size_t n) {
  if (!s || n == 0 || n > ID_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!s[i] || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789._~-",
                         s[i]))
      return false;
  return true;
}

bool va_task_key_ok(const char *s, size_t n) {
  return s && n >= 1 && n <= ID_MAX && !memchr(s, 0, n);
}

bool va_task_name_new(char *name) {
  unsigned char r[8];
  if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
    return false;
  name[0] = 't';
  for (size_t i = 0; i < sizeof(r); i++)
    snprintf(name + 1 + 2 * i, 3, "%02x", r[i]);
  return true;
}

bool va_task_actor_key_ok(const char *s, size_t n) {
  return s && n >= 1 && n <= VA_APPS_TASK_KEY_MAX && !memchr(s, 0, n);
}

bool va_task_key_of(const char *user, const char *ref, size_t n, char *key) {
  const char *colon = memchr(ref, ':', n);
  size_t owner_len = colon ? (size_t)(colon - ref) : 0;
  if (colon ? !va_task_id_ok(ref, owner_len) ||
                  !va_task_id_ok(colon + 1, n - owner_len - 1)
            : !va_task_id_ok(ref, n))
    return false;
  if (colon)
    snprintf(key, VA_APPS_TASK_KEY_MAX + 1, "%.*s", (int)n, ref);
  else
    snprintf(key, VA_APPS_TASK_KEY_MAX + 1, "%s:%.*s", user, (int)n, ref);
  return true;
}

const char *va_task_key_name(const char *user, const char *key, size_t n,
                             size_t *name_len) {
  size_t u = strlen(user);
  if (n <= u + 1 || memcmp(key, user, u) || key[u] != ':')
    return NULL;
  *name_len = n - u - 1;
  return key + u + 1;
}

bool va_task_key_creatable(const char *user, const char *key, size_t n) {
  size_t name_len;
  return !memchr(key, ':', n) || va_task_key_name(user, key, n, &name_len);
}

const char *va_task_shown_id(const char *user, const char *key) {
  size_t name_len;
  const char *name = va_task_key_name(user, key, strlen(key), &name_len);
  return name ? name : key;
}

static bool key_ok(json_t *v) {
  const char *s = json_string_value(v);
  return s && va_task_key_ok(s, json_string_length(v));
}

static bool id_ok(json_t *v) {
  const char *s = json_string_value(v);
  return s && va_task_id_ok(s, json_string_length(v));
}

static const char *members_check(json_t *v) {
  if (!json_is_array(v) || json_array_size(v) > MEMBERS_MAX)
    return "members must be an array of at most 64 user ids";
  size_t i;
  json_t *m;
  json_array_foreach(v, i, m) if (!id_ok(m)) return "members must be user "
                                                    "ids (1-128 of A-Z a-z "
                                                    "0-9 . _ ~ -)";
  return NULL;
}

const char *va_task_doc_check(json_t *in, bool create) {
  if (!json_is_object(in))
    return "the body must be a JSON object";
  if (create && !json_object_get(in, "title"))
    return "a task needs a title";
  const char *key;
  json_t *v;
  json_object_foreach(in, key, v) {
    if (!strcmp(key, "user") || !strcmp(key, "ifMatch"))
      continue;
    if (!strcmp(key, "title")) {
      if (!text_ok(v, 1, TITLE_MAX))
        return "title must be a string of 1-200 characters";
    } else if (!strcmp(key, "description")) {
      if (!text_ok(v, 0, DESCRIPTION_MAX))
        return "description must be a string of at most 4000 characters";
    } else if (!strcmp(key, "status")) {
      if (!one_of(json_string_value(v), STATUSES))
        return "status must be open, in_progress or done";
    } else if (!strcmp(key, "priority")) {
      if (!one_of(json_string_value(v), PRIORITIES))
        return "priority must be low, medium, high or urgent";
    } else if (!strcmp(key, "due")) {
      if (!due_ok(v))
        return "due must be an RFC 3339 time (2026-12-01T17:00:00Z) or null";
    } else if (!strcmp(key, "tags")) {
      if (!tags_ok(v))
        return "tags must be an array of at most 20 distinct strings of 1-32 "
               "characters";
    } else if (create && !strcmp(key, "members")) {
      const char *why = members_check(v);
      if (why)
        return why;
    } else {
      return create ? "unknown field: a task has title, description, "
                      "status, priority, due, tags, members"
                    : "unknown field: an update may change title, "
                      "description, status, priority, due, tags";
    }
  }
  return NULL;
}

json_t *va_json_time(int64_t ms) {
  char text[VA_TIME_TEXT_MAX];
  if (va_format_time(ms, text, sizeof(text)) != 0)
    return json_string("1970-01-01T00:00:00.000Z"); /* (not a time we set) */
  return json_string(text);
}

static json_t *field_or(json_t *in, const char *key, json_t *fallback) {
  json_t *v = json_object_get(in, key);
  if (v) {
    json_decref(fallback);
    return json_incref(v);
  }
  return fallback;
}

json_t *va_task_doc_new(json_t *in, const char *id, size_t id_len,
                        const char *owner, int64_t now_ms) {
  json_t *members = json_array();
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(in, "members"), i, m) {
    /* The owner is not a member of their own task; no one is twice. */
    bool dup = !strcmp(json_string_value(m), owner);
    for (size_t k = 0; !dup && k < json_array_size(members); k++)
      dup = json_equal(json_array_get(members, k), m);
    if (!dup)
      json_array_append(members, m);
  }
  return json_pack(
      "{s:s%, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:o, s:o}", "id", id,
      id_len, "owner", owner, "title", field_or(in, "title", json_string("")),
      "description", field_or(in, "description", json_string("")), "status",
      field_or(in, "status", json_string("open")), "priority",
      field_or(in, "priority", json_string("medium")), "due",
      field_or(in, "due", json_null()), "tags",
      field_or(in, "tags", json_array()), "members", members, "version", 1,
      "created", va_json_time(now_ms), "updated", va_json_time(now_ms));
}

json_t *va_task_doc_apply(json_t *doc, json_t *in) {
  static const char *const FIELDS[] = {
      "title", "description", "status", "priority", "due", "tags", NULL};
  json_t *changes = json_object();
  for (const char *const *f = FIELDS; changes && *f; f++) {
    json_t *v = json_object_get(in, *f);
    if (v && !json_equal(v, json_object_get(doc, *f))) {
      json_object_set(doc, *f, v);
      json_object_set(changes, *f, v);
    }
  }
  return changes;
}

int va_task_doc_bump(json_t *doc, int64_t now_ms) {
  json_t *version = json_object_get(doc, "version");
  json_int_t v = json_integer_value(version);
  if (!json_is_integer(version) || v < 1 || v > VA_APPS_VERSION_MAX)
    return VA_APPS_ECORRUPT;
  if (v == VA_APPS_VERSION_MAX)
    return VA_APPS_EVERSION;
  if (json_object_set_new(doc, "version", json_integer(v + 1)) != 0 ||
      json_object_set_new(doc, "updated", va_json_time(now_ms)) != 0)
    return VA_ENOMEM;
  return 0;
}

/* ---- Stored documents ---- */

/* Members as the actor may have stored them (add_member through the Dapr
 * API takes any actor key, not only the routes' ids). */
static bool stored_members_ok(json_t *v) {
  if (!json_is_array(v) || json_array_size(v) > MEMBERS_MAX)
    return false;
  size_t i;
  json_t *m;
  json_array_foreach(v, i, m) if (!key_ok(m)) return false;
  return true;
}

static bool time_ok(json_t *v) {
  const char *s = json_string_value(v);
  int64_t ms;
  return s && va_parse_due(s, json_string_length(v), 0, &ms) == 0;
}

const char *va_task_doc_valid(json_t *doc, const char *id, size_t id_len) {
  if (!json_is_object(doc))
    return "the document is not a JSON object";
  json_t *v = json_object_get(doc, "id");
  if (!va_task_actor_key_ok(json_string_value(v), json_string_length(v)) ||
      json_string_length(v) != id_len ||
      memcmp(json_string_value(v), id, id_len))
    return "id is not the task's id";
  if (!key_ok(json_object_get(doc, "owner")))
    return "owner is not a user id";
  if (!text_ok(json_object_get(doc, "title"), 0, TITLE_MAX))
    return "title is not a string of at most 200 characters";
  if (!text_ok(json_object_get(doc, "description"), 0, DESCRIPTION_MAX))
    return "description is not a string of at most 4000 characters";
  if (!one_of(json_string_value(json_object_get(doc, "status")), STATUSES))
    return "status is not open, in_progress or done";
  if (!one_of(json_string_value(json_object_get(doc, "priority")), PRIORITIES))
    return "priority is not low, medium, high or urgent";
  if (!due_ok(json_object_get(doc, "due")))
    return "due is not an RFC 3339 time or null";
  v = json_object_get(doc, "tags"); /* (none before tags were kept) */
  if (v && !tags_ok(v))
    return "tags is not an array of at most 20 distinct strings of 1-32 "
           "characters";
  if (!stored_members_ok(json_object_get(doc, "members")))
    return "members is not an array of at most 64 user ids";
  v = json_object_get(doc, "version");
  if (!json_is_integer(v) || json_integer_value(v) < 1 ||
      json_integer_value(v) > VA_APPS_VERSION_MAX)
    return "version is not an integer from 1 to 2^53 - 1";
  if (!time_ok(json_object_get(doc, "created")) ||
      !time_ok(json_object_get(doc, "updated")))
    return "created and updated are not RFC 3339 times";
  return NULL;
}

json_t *va_task_doc_decode(const void *bytes, size_t len, const char *id,
                           size_t id_len, const char **why) {
  json_t *doc = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, NULL);
  *why = doc ? va_task_doc_valid(doc, id, id_len) : "not JSON";
  if (*why) {
    json_decref(doc);
    return NULL;
  }
  return doc;
}

json_t *va_task_summary(json_t *doc) {
  return json_pack(
      "{s:O?, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O?}", "tags",
      json_object_get(doc, "tags"), "id", json_object_get(doc, "id"), "title",
      json_object_get(doc, "title"), "status", json_object_get(doc, "status"),
      "priority", json_object_get(doc, "priority"), "due",
      json_object_get(doc, "due"), "owner", json_object_get(doc, "owner"),
      "version", json_object_get(doc, "version"), "updated",
      json_object_get(doc, "updated"));
}

bool va_task_doc_is_owner(json_t *doc, const char *user) {
  const char *owner = json_string_value(json_object_get(doc, "owner"));
  return owner && !strcmp(owner, user);
}

bool va_task_doc_allows(json_t *doc, const char *user) {
  if (va_task_doc_is_owner(doc, user))
    return true;
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(doc, "members"), i, m) {
    const char *member = json_string_value(m);
    if (member && !strcmp(member, user))
      return true;
  }
  return false;
}
