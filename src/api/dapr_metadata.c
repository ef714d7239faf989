/* dapr_metadata.c — GET and PUT of the Dapr API's metadata
 * (dapr_metadata.h). The counts are the runtime's live activations per
 * type; an app's actors, all of them AppActor activations inside vactord,
 * are counted per app type by the app channel. */
#include "dapr_metadata.h"
#include "dapr_common.h"
#include <stdlib.h>
#include <string.h>

void va_dapr_extended_init(va_dapr_extended *x) {
  memset(x, 0, sizeof(*x));
  pthread_mutex_init(&x->lock, NULL);
}

/* {key: value, ...} of what was set. */
static json_t *extended_json(va_dapr_extended *x) {
  json_t *out = json_object();
  if (!x)
    return out;
  pthread_mutex_lock(&x->lock);
  for (size_t i = 0; out && i < x->n; i++)
    json_object_set_new(out, x->items[i].key, json_string(x->items[i].value));
  pthread_mutex_unlock(&x->lock);
  return out;
}

/* [{type, count}, ...]: the native types, then the app's. */
static json_t *active_json(va_runtime *rt, va_app_channel *app) {
  json_t *active = json_array();
  int app_type = app ? va_app_channel_type(app) : -1;
  for (int type = 0; type < va_type_count(rt); type++)
    if (type != app_type)
      json_array_append_new(
          active,
          json_pack("{s:s, s:I}", "type", va_type_name(rt, type), "count",
                    (json_int_t)va_runtime_active_of(rt, type)));
  const char *name;
  for (size_t i = 0; app && (name = va_app_channel_type_at(app, i)); i++)
    json_array_append_new(active,
                          json_pack("{s:s, s:I}", "type", name, "count",
                                    (json_int_t)va_app_channel_active(app, i)));
  return active;
}

void va_dapr_metadata_get(va_runtime *rt, va_app_channel *app,
                          va_dapr_extended *x, va_http_reply *reply) {
  json_t *active = active_json(rt, app);
  json_t *out =
      json_pack("{s:s, s:s, s:O, s:{s:s, s:O, s:b, s:s}, s:[], s:o}", "id",
                "vactord", "runtimeVersion", "vactord", "actors", active,
                "actorRuntime", "runtimeStatus", "RUNNING", "activeActors",
                active, "hostReady", 1, "placement", "placement: connected",
                "enabledFeatures", "extended", extended_json(x));
  json_decref(active);
  char *s = out ? json_dumps(out, JSON_COMPACT) : NULL;
  json_decref(out);
  if (s)
    va__dapr_ok(reply, 200, s, strlen(s));
  else
    va__dapr_fail(reply, 500, "ERR_METADATA_GET", "out of memory");
  free(s);
}

static bool key_ok(const char *key) {
  size_t n = strlen(key);
  if (n == 0 || n > VA_DAPR_EXTENDED_KEY_MAX)
    return false;
  return strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") == n;
}

void va_dapr_metadata_put(va_dapr_extended *x, const char *key,
                          const va_http_request *req, va_http_reply *reply) {
  if (!key_ok(key))
    return va__dapr_fail(reply, 400, "ERR_BAD_REQUEST",
                         "a metadata key is 1 to %d of A-Z a-z 0-9 . _ -",
                         VA_DAPR_EXTENDED_KEY_MAX);
  bool text = req->body_len <= VA_DAPR_EXTENDED_VALUE_MAX &&
              !memchr(req->body, 0, req->body_len);
  json_t *utf8 = text ? json_stringn(req->body, req->body_len) : NULL;
  text = utf8 != NULL; /* jansson refuses what is not UTF-8 */
  json_decref(utf8);
  if (!text)
    return va__dapr_fail(reply, 400, "ERR_BAD_REQUEST",
                         "a metadata value is UTF-8 text of at most %d bytes",
                         VA_DAPR_EXTENDED_VALUE_MAX);
  pthread_mutex_lock(&x->lock);
  size_t i = 0;
  while (i < x->n && strcmp(x->items[i].key, key))
    i++;
  bool room = i < x->n || x->n < VA_DAPR_EXTENDED_MAX;
  if (room) {
    if (i == x->n)
      x->n++;
    memcpy(x->items[i].key, key, strlen(key) + 1);
    memcpy(x->items[i].value, req->body, req->body_len);
    x->items[i].value[req->body_len] = 0;
  }
  pthread_mutex_unlock(&x->lock);
  if (room)
    va__dapr_ok(reply, 204, NULL, 0);
  else
    va__dapr_fail(reply, 400, "ERR_BAD_REQUEST",
                  "at most %d metadata keys; this one is new",
                  VA_DAPR_EXTENDED_MAX);
}
