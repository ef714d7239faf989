/* outside.c — state and timers of an actor from outside it (vactor.h:
 * va_state_read, va_state_write, va_timer_call), as system methods: each
 * runs as a turn of the actor, so it waits for the actor's running turn and
 * its writes are saved (and gated) like any turn's. Also the dispatch of
 * every system method, reminders' included.
 *
 * Bodies. STATE_READ: the key. STATE_WRITE: records, each
 *   u8 op (0 put, 1 delete), u32 ttl seconds, u32 key length, key,
 *   u32 value length, value  (integers little-endian, as this machine's).
 * TIMER: u64 due ms, u64 period ms, i32 method (< 0: stop), name, NUL,
 *   data. */
#include "runtime.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH_PUT, BATCH_DELETE, KEY_MAX = 1024 };

/* ---- Batches ---- */

static int batch_add(va_state_batch *b, uint8_t op, const char *key,
                     const void *val, size_t len, uint32_t ttl) {
  size_t klen = key ? strlen(key) : 0;
  if (!b || klen == 0 || klen > KEY_MAX || (len && !val) || len > UINT32_MAX)
    return VA_EINVAL;
  size_t need = b->len + 1 + 3 * sizeof(uint32_t) + klen + len;
  if (need > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
      cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
      return VA_ENOMEM;
    b->data = d;
    b->cap = cap;
  }
  uint32_t k32 = (uint32_t)klen, v32 = (uint32_t)len;
  char *p = b->data + b->len;
  *p++ = (char)op;
  memcpy(p, &ttl, 4), p += 4;
  memcpy(p, &k32, 4), p += 4;
  memcpy(p, key, klen), p += klen;
  memcpy(p, &v32, 4), p += 4;
  if (len)
    memcpy(p, val, len);
  b->len = need;
  return 0;
}

int va_state_batch_put(va_state_batch *b, const char *key, const void *val,
                       size_t len, uint32_t ttl_seconds) {
  return batch_add(b, BATCH_PUT, key, val, len, ttl_seconds);
}

int va_state_batch_delete(va_state_batch *b, const char *key) {
  return batch_add(b, BATCH_DELETE, key, NULL, 0, 0);
}

void va_state_batch_free(va_state_batch *b) {
  if (b) {
    free(b->data);
    *b = (va_state_batch){0};
  }
}

/* Applies a batch in turn t (apply = false: only checks it); VA_EINVAL for
 * a malformed one. Checked whole before anything is applied, so that a
 * batch joining an open turn leaves nothing behind when it is refused. */
static int walk_batch(va_turn *t, const char *p, size_t len, bool apply) {
  const char *end = p + len;
  char key[KEY_MAX + 1];
  while (p < end) {
    uint32_t ttl, klen, vlen;
    if ((size_t)(end - p) < 9)
      return VA_EINVAL;
    uint8_t op = (uint8_t)*p++;
    memcpy(&ttl, p, 4), p += 4;
    memcpy(&klen, p, 4), p += 4;
    if (klen == 0 || klen > KEY_MAX || (size_t)(end - p) < (size_t)klen + 4)
      return VA_EINVAL;
    memcpy(key, p, klen), p += klen;
    key[klen] = 0;
    memcpy(&vlen, p, 4), p += 4;
    if ((size_t)(end - p) < vlen || memchr(key, 0, klen) || op > BATCH_DELETE)
      return VA_EINVAL;
    if (!apply) {
      if (va__reminder_key(key)) /* the runtime's own keys */
        return VA_EINVAL;
      p += vlen;
      continue;
    }
    int rc = op == BATCH_DELETE ? va_turn_state_delete(t, key)
             : ttl              ? va_turn_state_set_ttl(t, key, p, vlen, ttl)
                                : va_turn_state_set(t, key, p, vlen);
    if (rc)
      return rc;
    p += vlen;
  }
  return 0;
}

/* ---- Timers ---- */

typedef struct timer_head {
  uint64_t due_ms, period_ms, fires, ttl_ms;
  int32_t method; /* -1: stop the timer */
} timer_head;

static int timer_method(va_turn *t, const char *body, size_t len) {
  timer_head h;
  if (len < sizeof(h) + 2)
    return VA_EINVAL;
  memcpy(&h, body, sizeof(h));
  const char *name = body + sizeof(h);
  size_t n = strnlen(name, len - sizeof(h));
  if (n == 0 || n == len - sizeof(h))
    return VA_EINVAL;
  if (h.method < 0)
    return va_turn_timer_stop(t, name);
  const char *data = name + n + 1;
  va_timer_spec spec = {.due_ms = h.due_ms,
                        .period_ms = h.period_ms,
                        .fires = h.fires,
                        .ttl_ms = h.ttl_ms,
                        .method = h.method,
                        .data = data,
                        .len = len - sizeof(h) - n - 1};
  return va_turn_timer_start(t, name, &spec);
}

/* ---- Dispatch ---- */

int va__system_method(va_turn *t, uint16_t method, const char *body,
                      size_t len) {
  switch (method) {
  case VA_METHOD_STATE_READ: {
    char key[KEY_MAX + 1];
    const void *val;
    size_t vlen;
    if (len == 0 || len > KEY_MAX || memchr(body, 0, len))
      return VA_EINVAL;
    memcpy(key, body, len);
    key[len] = 0;
    int rc = va_turn_state_get(t, key, &val, &vlen);
    return rc ? rc : va_turn_reply(t, val, vlen);
  }
  case VA_METHOD_STATE_WRITE: {
    int rc = walk_batch(t, body, len, false);
    return rc ? rc : walk_batch(t, body, len, true);
  }
  case VA_METHOD_TIMER:
    return timer_method(t, body, len);
  default:
    return va__reminder_system(t, method, body, len);
  }
}

void va__system_join(va_worker *w, va_turn *t, va_msg *m) {
  va_msg *own_reply = t->reply; /* the open turn's, kept aside */
  t->reply = NULL;
  int rc = va__system_method(t, m->method, va__msg_body(m), m->len);
  va_msg *reply = t->reply;
  t->reply = own_reply;
  va__answer(w, m, rc, reply);
  va__msg_free(&w->msgs, m);
}

/* ---- From outside ---- */

int va_state_read(va_runtime *rt, int type, const char *id, size_t id_len,
                  const char *key, va_reply_fn cb, void *user) {
  if (!rt || !key || !*key || strlen(key) > KEY_MAX || !cb)
    return VA_EINVAL;
  return va__call_system(rt, type, id, id_len, VA_METHOD_STATE_READ, key,
                         strlen(key), cb, user);
}

int va_state_write(va_runtime *rt, int type, const char *id, size_t id_len,
                   const va_state_batch *batch, va_reply_fn cb, void *user) {
  if (!rt || !batch || !cb)
    return VA_EINVAL;
  return va__call_system(rt, type, id, id_len, VA_METHOD_STATE_WRITE,
                         batch->data, batch->len, cb, user);
}

int va_timer_call(va_runtime *rt, int type, const char *id, size_t id_len,
                  const char *name, const va_timer_spec *spec, va_reply_fn cb,
                  void *user) {
  size_t n = name ? strlen(name) : 0;
  size_t len = spec ? spec->len : 0;
  if (!rt || n == 0 || n > 255 || !cb || (len && !spec->data) ||
      (spec && spec->method < 0))
    return VA_EINVAL;
  if (type < 0 || (size_t)type >= rt->n_types)
    return VA_ENOTYPE;
  if (spec && (size_t)spec->method >= rt->types[type].n_methods)
    return VA_ENOMETHOD;
  timer_head h = {.method = -1};
  if (spec)
    h = (timer_head){spec->due_ms, spec->period_ms, spec->fires, spec->ttl_ms,
                     spec->method};
  size_t total = sizeof(h) + n + 1 + len;
  char *body = malloc(total);
  if (!body)
    return VA_ENOMEM;
  memcpy(body, &h, sizeof(h));
  memcpy(body + sizeof(h), name, n + 1);
  if (len)
    memcpy(body + sizeof(h) + n + 1, spec->data, len);
  int rc = va__call_system(rt, type, id, id_len, VA_METHOD_TIMER, body, total,
                           cb, user);
  free(body);
  return rc;
}
