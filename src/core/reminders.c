/* reminders.c — persisted reminders. A reminder is part of its actor's
 * state: key "\x01r:<name>", value a 48-byte header (next due time, expiry,
 * fires left, period, failure policy) and the caller's data. So setting,
 * deleting and advancing a reminder are ordinary state writes, saved atomically
 * with the turn that makes them, behind the output gate. Each such write also
 * carries the reminder's name and due time as fields of its own (va_kv's
 * reminder and due_ms), which the store's due index is fed from: this file
 * is the only one that knows the encoding.
 *
 * Firing is a turn of the actor (a system method): it reads the reminder,
 * refuses to run it early, calls the type's on_reminder hook, and writes
 * the next due time (or deletes the reminder) in the same turn. If the hook
 * fails (or a call its turn awaits does) the turn fails, nothing moves,
 * and the reminder's failure policy says what follows (va__reminder_failed):
 * by default it fires again a second later, at least once per due time,
 * never early; a retry's fire message carries its attempt and the due time
 * it retries, so a policy with a count gives up after it and sends a fire
 * that only moves the schedule on. Missed periods (the process was down)
 * fire once.
 *
 * Periods have a floor, the runtime's min_period_ms: a shorter one is
 * refused when set, and one stored before (or by hand) fires as if it were
 * the floor. The next due time is computed, not looped to
 * (va_period_next: a division for exact periods, a bisection of at most 63
 * steps for calendar ones), whatever the lateness, and is never sooner than
 * the floor after the fire that computes it.
 *
 * Finding due reminders: the store keeps an index by due time. Worker 0
 * asks it every second for the reminders due in the next two seconds (and,
 * at start, for every overdue one) and sends each a fire message; a fire
 * that arrives early arms a timer on the owning worker. Memory holds only
 * what is due within the window, however many reminders are registered.
 * A worker sends at most FIRES_PER_MS fires per ms of its clock: past that
 * (a look that finds a million overdue reminders), the rest wait in its
 * timer heap, each for its own later ms, so the fires trickle out while the
 * worker keeps serving other actors' turns. A fire refused by a full
 * mailbox is tried again a second later.
 *
 * A reminder saved for a time the looks have already covered must arm
 * itself. The race is closed by order: worker 0 first publishes how far it
 * is about to look, then queues its question behind the saves already
 * queued (the store answers in order); a save first goes to the store, then
 * reads how far the looks go (va__reminders_saved). Either the save was
 * queued before the question, and the answer includes it, or it sees the
 * new horizon and arms itself. Both orders are seq_cst.
 *
 * A fire that cannot be kept (no memory for its timer) lowers the horizon
 * to the reminder's due time (lower_horizon), so the next look asks the
 * store for it again. That keeps the argument: a save that reads the lower
 * horizon was queued before the next look's question, which covers
 * [lowered, ...), and one that read a higher horizon armed itself. Other
 * reminders in that range may get a second fire message; the fire turn
 * reads the stored due time, so they still fire once per due time. */
#include "../base/assert.h"
#include "../base/clock.h"
#include "../store/store.h"
#include "runtime.h"
#include <stdlib.h>
#include <string.h>

enum {
  LOOK_EVERY_MS = 1000, /* how often worker 0 asks the store */
  LOOK_AHEAD_MS = 2000, /* how far ahead it asks */
  HEADER = 48,
  FIRES_PER_MS = 32, /* fires one worker sends per ms of its clock */
  RETRY_MS = 1000,   /* a fire that could not be sent goes again then */
};

static const char PREFIX[] = "\x01r:";

/* ---- Encoding ---- */

typedef struct record {
  int64_t due_ms, expires_ms, left; /* left: fires to go, -1: no limit */
  va_duration period;               /* all zero: once */
  va_reminder_retry retry;
} record;

static void put64(char *p, int64_t v) {
  memcpy(p, &v, 8);
}
static int64_t get64(const char *p) {
  int64_t v;
  memcpy(&v, p, 8);
  return v;
}

static void encode(const record *r, char *out) {
  put64(out, r->due_ms);
  put64(out + 8, r->expires_ms);
  put64(out + 16, r->left);
  int32_t cal[3] = {r->period.years, r->period.months, r->period.days};
  memcpy(out + 24, cal, 12);
  put64(out + 36, r->period.ns);
  /* The policy in the 4 bytes that were zero before it: kind, max, the
   * interval in tenths of a second. */
  uint16_t tenths = (uint16_t)(r->retry.interval_ms / 100);
  out[44] = (char)r->retry.kind;
  out[45] = (char)r->retry.max;
  memcpy(out + 46, &tenths, 2);
}

static bool retry_ok(const va_reminder_retry *retry);

static void decode(const char *in, record *r) {
  r->due_ms = get64(in);
  r->expires_ms = get64(in + 8);
  r->left = get64(in + 16);
  int32_t cal[3];
  memcpy(cal, in + 24, 12);
  r->period = (va_duration){cal[0], cal[1], cal[2], get64(in + 36)};
  uint16_t tenths;
  memcpy(&tenths, in + 46, 2);
  r->retry = (va_reminder_retry){(va_retry_kind)(uint8_t)in[44],
                                 (uint8_t)in[45], tenths * 100u};
  if (!retry_ok(&r->retry)) /* written by hand, or damaged: the default */
    r->retry = (va_reminder_retry){0};
}

/* Whether retry may be stored: see va_reminder_retry. */
static bool retry_ok(const va_reminder_retry *retry) {
  if (retry->kind != VA_RETRY_CONSTANT)
    return retry->kind == VA_RETRY_FOREVER || retry->kind == VA_RETRY_DROP;
  return retry->max >= 1 && retry->max <= VA_RETRY_UNLIMITED &&
         retry->interval_ms >= 100 &&
         retry->interval_ms <= VA_RETRY_INTERVAL_MAX_MS &&
         retry->interval_ms % 100 == 0; /* kept in tenths of a second */
}

static bool key_of(const char *name, char *key, size_t size) {
  size_t n = strlen(name);
  if (!n || n + sizeof(PREFIX) > size)
    return false;
  memcpy(key, PREFIX, sizeof(PREFIX) - 1);
  memcpy(key + sizeof(PREFIX) - 1, name, n + 1);
  return true;
}

bool va__reminder_key(const char *key) {
  return !strncmp(key, PREFIX, sizeof(PREFIX) - 1);
}

/* Marks the write of reminder key `key` in t's writes as the reminder's,
 * due at due_ms (ignored for a deletion), for the store's due index. */
static void mark(va_turn *t, const char *key, int64_t due_ms) {
  va_kv *w = va__kvmap_find(&t->writes, key);
  VA_ASSERT(w && va__reminder_key(w->key)); /* just written */
  w->reminder = w->key + sizeof(PREFIX) - 1;
  w->due_ms = w->tomb ? 0 : due_ms;
}

/* Reminder keys are the runtime's own: written past va_turn_state_set, which
 * refuses them to methods, and only here. val starts with the encoded
 * record whose due time is due_ms. */
static int state_put(va_turn *t, const char *key, const void *val, size_t len,
                     int64_t due_ms) {
  int rc = va__kvmap_put(&t->writes, key, val, len, false);
  if (rc == 0)
    mark(t, key, due_ms);
  return rc;
}

static int state_delete(va_turn *t, const char *key) {
  int rc = va__kvmap_put(&t->writes, key, NULL, 0, true);
  if (rc == 0)
    mark(t, key, 0);
  return rc;
}

/* ---- Timers for fires that came early ---- */

typedef struct early {
  va_timer timer; /* first */
  uint16_t type;
  bool paced; /* holds a slot of the fire budget: send when due */
  uint32_t id_len;
  int64_t due_ms;   /* the reminder's stored due time (wall ms) */
  uint16_t attempt; /* 0: a fire; n: the nth retry of due_ms's */
  char *name;
  char id[];
} early;

/* Lowers the looks' horizon to due_ms (never raises it), so the next look
 * asks the store from there. Before the first look (0) nothing is needed:
 * it asks from the start of time. */
static void lower_horizon(va_runtime *rt, int64_t due_ms) {
  int64_t seen =
      atomic_load_explicit(&rt->reminders_seen_until, memory_order_seq_cst);
  while (seen != 0 && due_ms < seen &&
         !atomic_compare_exchange_weak_explicit(
             &rt->reminders_seen_until, &seen, due_ms, memory_order_seq_cst,
             memory_order_seq_cst))
    ;
}

/* Arms a timer on w's heap (at heap_due_ms, monotonic) that sends the fire
 * for (type, id, name), whose stored due time is due_ms. Without memory
 * the fire is not kept here: the horizon goes back to due_ms, and the next
 * look at the store (within LOOK_EVERY_MS) finds the reminder again. */
static void arm_at(va_worker *w, uint16_t type, const char *id, size_t id_len,
                   const char *name, uint64_t heap_due_ms, bool paced,
                   int64_t due_ms, uint16_t attempt) {
  early *e = malloc(sizeof(*e) + id_len);
  if (!e || !(e->name = strdup(name))) {
    free(e);
    lower_horizon(w->rt, due_ms);
    return;
  }
  e->timer.index = VA_TIMER_IDLE;
  e->timer.kind = VA_TIMER_REMINDER;
  e->type = type;
  e->paced = paced;
  e->id_len = (uint32_t)id_len;
  e->due_ms = due_ms;
  e->attempt = attempt;
  memcpy(e->id, id, id_len);
  if (va__heap_push(&w->timers, &e->timer, heap_due_ms) != 0) {
    free(e->name);
    free(e);
    lower_horizon(w->rt, due_ms);
  }
}

/* The heap time of wall time due_ms, from w's clock. */
static uint64_t heap_time(const va_worker *w, int64_t due_ms) {
  int64_t wait = due_ms - va_clock_wall_ms();
  return w->now_ms + (uint64_t)(wait > 0 ? wait : 0);
}

/* Arms the fire (attempt 0) or a retry of a's reminder name (stored due
 * time due_ms) for wall time at_ms. */
static void arm(va_worker *w, va_actor *a, const char *name, int64_t at_ms,
                int64_t due_ms, uint16_t attempt) {
  arm_at(w, a->type, a->id, a->id_len, name, heap_time(w, at_ms), false, due_ms,
         attempt);
}

/* Takes the next slot for a fire from w: the heap ms it may go out at,
 * w->now_ms (at once) unless this ms's FIRES_PER_MS are taken. */
static uint64_t fire_slot(va_worker *w) {
  if (w->fire_ms < w->now_ms) {
    w->fire_ms = w->now_ms;
    w->fires_used = 0;
  }
  if (w->fires_used == FIRES_PER_MS) {
    w->fire_ms++;
    w->fires_used = 0;
  }
  w->fires_used++;
  return w->fire_ms;
}

/* A fire message's body: the name; for a retry, then a NUL, the attempt
 * and the due time it retries. */
typedef struct retry_tail {
  uint16_t attempt; /* GIVE_UP: move the schedule on, call nothing */
  int64_t due_ms;
} retry_tail;
enum {
  GIVE_UP = UINT16_MAX,
  TAIL_BYTES = 10
}; /* attempt, due_ms: no padding */

/* Sends the fire message for (type, id, name) (a retry when attempt > 0,
 * of due time due_ms) from worker w: 0, or VA_ENOMEM / VA_EBACKPRESSURE
 * when it could not go. */
static int send_fire(va_worker *w, uint16_t type, const char *id, size_t id_len,
                     const char *name, uint16_t attempt, int64_t due_ms) {
  size_t n = strlen(name);
  size_t len = attempt ? n + 1 + TAIL_BYTES : n;
  va_msg *m = va__msg_alloc(&w->msgs, (uint32_t)id_len, (uint32_t)len);
  if (!m)
    return VA_ENOMEM;
  memcpy(m->data, id, id_len);
  memcpy(m->data + id_len, name, n);
  if (attempt) {
    m->data[id_len + n] = 0;
    memcpy(m->data + id_len + n + 1, &attempt, 2);
    memcpy(m->data + id_len + n + 3, &due_ms, 8);
  }
  m->kind = VA_MSG_REQUEST;
  m->type = type;
  m->method = VA_METHOD_REMINDER;
  m->hash = va__hash_id(type, id, id_len);
  int rc = va__route_request(w->rt, m, NULL);
  if (rc == 0)
    va_count(w->stats.reminders_due, 1);
  return rc;
}

/* Sends the fire (stored due time due_ms) within w's budget: now, or from
 * a timer at its slot; one that cannot go now is tried again RETRY_MS
 * later. */
static void paced_fire(va_worker *w, uint16_t type, const char *id,
                       size_t id_len, const char *name, int64_t due_ms) {
  uint64_t slot = fire_slot(w);
  if (slot > w->now_ms)
    arm_at(w, type, id, id_len, name, slot, true, due_ms, 0);
  else if (send_fire(w, type, id, id_len, name, 0, due_ms) != 0)
    arm_at(w, type, id, id_len, name, w->now_ms + RETRY_MS, false, due_ms, 0);
}

/* Puts e, just taken off w's heap, back on it at heap_due_ms: no allocation
 * (the heap has room for what it just gave out), so the fire is kept. */
static void rearm(va_worker *w, early *e, uint64_t heap_due_ms, bool paced) {
  e->paced = paced;
  if (va__heap_push(&w->timers, &e->timer, heap_due_ms) != 0) {
    lower_horizon(w->rt, e->due_ms);
    free(e->name);
    free(e);
  }
}

/* A timer of ours is due: sends its fire within the budget, or keeps the
 * same timer (e) for its slot or its retry; frees it once the fire went. */
void va__reminders_timer(va_worker *w, va_timer *timer) {
  early *e = (early *)timer;
  if (!e->paced) {
    uint64_t slot = fire_slot(w);
    if (slot > w->now_ms) {
      rearm(w, e, slot, true);
      return;
    }
  }
  if (send_fire(w, e->type, e->id, e->id_len, e->name, e->attempt, e->due_ms) !=
      0) {
    rearm(w, e, w->now_ms + RETRY_MS, false);
    return;
  }
  free(e->name);
  free(e);
}

/* ---- The fire turn ---- */

static bool periodic(const va_duration *p) {
  return p->years > 0 || p->months > 0 || p->days > 0 || p->ns > 0;
}

/* The minimum period in ms, as an int64 whose ns fit in one too. */
static int64_t floor_ms(const va_runtime *rt) {
  uint64_t ms = rt->cfg.min_period_ms;
  return ms > INT64_MAX / 1000000 ? INT64_MAX / 1000000 : (int64_t)ms;
}

/* After a fire at now: the first due time past now (missed periods fire
 * once), never sooner than min_ms after now. A period stored shorter than
 * min_ms (or with parts below zero) counts as min_ms. */
static int64_t next_due(const record *r, int64_t now, int64_t min_ms) {
  va_duration p = r->period;
  bool bad = p.years < 0 || p.months < 0 || p.days < 0 || p.ns < 0;
  if (bad || va_period_shortest_ms(&p) < min_ms)
    p = (va_duration){.ns = min_ms * 1000000};
  int64_t next = va_period_next(r->due_ms, &p, now);
  int64_t soonest = now > INT64_MAX - min_ms ? INT64_MAX : now + min_ms;
  return next > soonest ? next : soonest;
}

/* The due time after a fire of r at now, or 0 when that fire is its last
 * (once, its last repetition, or the next would be at or past its
 * expiry). */
static int64_t after_fire(const va_runtime *rt, const record *r, int64_t now) {
  if (!periodic(&r->period) || r->left == 1)
    return 0;
  int64_t next = next_due(r, now, floor_ms(rt));
  return next == INT64_MAX || (r->expires_ms && next >= r->expires_ms) ? 0
                                                                       : next;
}

bool va_turn_reminder_last(const va_turn *t) {
  return t && t->last_fire;
}

/* Reads a fire message's body: the name into name (256 bytes), and the
 * retry it is, if one (else *tail all zero). */
static bool fire_of(const char *body, size_t len, char *name,
                    retry_tail *tail) {
  size_t n = strnlen(body, len);
  *tail = (retry_tail){0};
  if (n == 0 || n >= 256 || (n < len && len != n + 1 + TAIL_BYTES))
    return false;
  memcpy(name, body, n);
  name[n] = 0;
  if (n < len) {
    memcpy(&tail->attempt, body + n + 1, 2);
    memcpy(&tail->due_ms, body + n + 3, 8);
  }
  return true;
}

int va__reminder_fire(va_turn *t, const char *body, size_t len) {
  va_worker *w = t->w;
  const va_type *ty = &w->rt->types[t->actor->type];
  char name[256], key[300];
  retry_tail retry;
  if (!fire_of(body, len, name, &retry) || !key_of(name, key, sizeof(key)))
    return VA_EINVAL;
  const void *val;
  size_t vlen;
  if (va_turn_state_get(t, key, &val, &vlen) != 0 || vlen < HEADER)
    return 0; /* deleted meanwhile: nothing to do */
  record r;
  decode(val, &r);
  int64_t now = va_clock_wall_ms();
  if (r.due_ms > now) {
    arm(w, t->actor, name, r.due_ms, r.due_ms, 0); /* never early */
    return 0;
  }
  if (r.expires_ms && r.expires_ms <= now)
    return state_delete(t, key);
  bool give_up = retry.attempt == GIVE_UP && retry.due_ms == r.due_ms;
  int64_t next = after_fire(w->rt, &r, now);
  if (!give_up)
    va_count(w->stats.reminders_fired, 1);
  if (ty->on_reminder && !give_up) {
    t->last_fire = next == 0; /* va_turn_reminder_last */
    int rc =
        ty->on_reminder(t, name, (const char *)val + HEADER, vlen - HEADER);
    t->last_fire = false;
    if (rc < 0)
      return rc; /* the turn fails: va__reminder_failed says what next */
    if (t->fire_failed)
      return 0; /* va_turn_reminder_failed: the schedule stays */
  }
  if (!next)
    return state_delete(t, key);
  if (r.left > 0)
    r.left--;
  r.due_ms = next;
  /* The value may move when written: copy it first. */
  char *copy = malloc(vlen);
  if (!copy)
    return VA_ENOMEM;
  memcpy(copy, val, vlen);
  encode(&r, copy);
  int rc = state_put(t, key, copy, vlen, r.due_ms);
  free(copy);
  return rc;
}

int va_turn_reminder_failed(va_turn *t) {
  char name[256], key[300];
  retry_tail retry;
  if (!t || !t->req || t->req->method != VA_METHOD_REMINDER ||
      !fire_of(t->req->data + t->req->id_len, t->req->len, name, &retry) ||
      !key_of(name, key, sizeof(key)))
    return VA_EINVAL;
  /* The fire's own write goes: the reminder stays as stored before it
   * (a write would also arm it again at once: va__reminders_saved). */
  va__kvmap_remove(&t->writes, key);
  t->fire_failed = true;
  return 0;
}

void va__reminder_failed(va_worker *w, va_actor *a, const va_msg *fire) {
  char name[256], key[300];
  retry_tail retry;
  if (!fire_of(fire->data + fire->id_len, fire->len, name, &retry) ||
      !key_of(name, key, sizeof(key)))
    return;
  const va_kv *kv = va__kvmap_find(&a->state, key); /* as before the turn */
  if (!kv || kv->tomb || kv->len < HEADER)
    return;
  record r;
  decode(kv->val, &r);
  if (retry.due_ms != r.due_ms)
    retry.attempt = 0; /* another due time's count */
  int64_t now = va_clock_wall_ms();
  if (retry.attempt == GIVE_UP) { /* moving the schedule on failed */
    arm(w, a, name, now + RETRY_MS, r.due_ms, GIVE_UP);
    return;
  }
  uint32_t done = retry.attempt; /* retries so far */
  switch (r.retry.kind) {
  case VA_RETRY_DROP:
    arm(w, a, name, now, r.due_ms, GIVE_UP);
    break;
  case VA_RETRY_CONSTANT:
    if (r.retry.max == VA_RETRY_UNLIMITED || done < r.retry.max)
      arm(w, a, name, now + r.retry.interval_ms, r.due_ms,
          (uint16_t)(done < VA_RETRY_MAX ? done + 1 : VA_RETRY_MAX));
    else
      arm(w, a, name, now, r.due_ms, GIVE_UP);
    break;
  default: /* VA_RETRY_FOREVER; the store is only asked about times not yet
            * seen, so the retry is ours to arm */
    arm(w, a, name, now + RETRY_MS, r.due_ms,
        (uint16_t)(done < VA_RETRY_MAX ? done + 1 : VA_RETRY_MAX));
  }
}

/* ---- Setting, reading, deleting (inside a turn) ---- */

uint64_t va_min_period_ms(const va_runtime *rt) {
  return rt ? rt->cfg.min_period_ms : VA_MIN_PERIOD_MS_DEFAULT;
}

bool va_period_allowed(const va_runtime *rt, const va_duration *p) {
  if (!p || p->years < 0 || p->months < 0 || p->days < 0 || p->ns < 0)
    return false;
  return !periodic(p) || va_period_shortest_ms(p) >= floor_ms(rt);
}

int va_turn_reminder_set(va_turn *t, const char *name,
                         const va_reminder *spec) {
  char key[300];
  if (!t || !name || !spec || spec->left == 0 || spec->left < -1 ||
      (spec->len && !spec->data) || spec->len > (1u << 30) ||
      !key_of(name, key, sizeof(key)))
    return VA_EINVAL;
  if (spec->expires_ms && spec->expires_ms <= spec->due_ms)
    return VA_EINVAL; /* already expired by its first fire */
  if (!va_period_allowed(t->w->rt, &spec->period) || !retry_ok(&spec->retry))
    return VA_EINVAL;
  record r = {spec->due_ms, spec->expires_ms, spec->left, spec->period,
              spec->retry};
  char *val = malloc(HEADER + spec->len);
  if (!val)
    return VA_ENOMEM;
  encode(&r, val);
  if (spec->len)
    memcpy(val + HEADER, spec->data, spec->len);
  int rc = state_put(t, key, val, HEADER + spec->len, r.due_ms);
  free(val);
  return rc;
}

/* Reads reminder `name` of t's actor: its stored bytes. */
static int stored(va_turn *t, const char *name, const void **val, size_t *len) {
  char key[300];
  if (!t || !name || !key_of(name, key, sizeof(key)))
    return VA_EINVAL;
  if (va_turn_state_get(t, key, val, len) != 0 || *len < HEADER)
    return VA_ENOTFOUND;
  return 0;
}

int va_turn_reminder_get(va_turn *t, const char *name, va_reminder *out) {
  const void *val;
  size_t len;
  int rc = out ? stored(t, name, &val, &len) : VA_EINVAL;
  return rc ? rc : va_reminder_decode(val, len, out);
}

int va_turn_reminder_list(va_turn *t, va_reminder_name_fn fn, void *user) {
  if (!t || !fn)
    return VA_EINVAL;
  const size_t skip = sizeof(PREFIX) - 1;
  /* The cached state, as this turn's writes change it, then its new keys. */
  const va_kvmap *st = &t->actor->state, *ws = &t->writes;
  for (uint32_t i = 0; i < st->n; i++) {
    const char *key = st->items[i].key;
    const va_kv *w = va__kvmap_find(ws, key);
    if (va__reminder_key(key) && !(w && w->tomb))
      fn(user, key + skip);
  }
  for (uint32_t i = 0; i < ws->n; i++) {
    const char *key = ws->items[i].key;
    if (va__reminder_key(key) && !ws->items[i].tomb && !va__kvmap_find(st, key))
      fn(user, key + skip);
  }
  return 0;
}

int va_turn_reminder_delete(va_turn *t, const char *name) {
  char key[300];
  if (!t || !name || !key_of(name, key, sizeof(key)))
    return VA_EINVAL;
  const void *val;
  size_t vlen;
  if (va_turn_state_get(t, key, &val, &vlen) != 0)
    return VA_ENOTFOUND;
  return state_delete(t, key);
}

/* ---- The same, from outside: system methods ----
 * Body of SET: name, NUL, the 48-byte record, data. GET and DELETE: name.
 * GET replies with the record and the data. */

static int name_of(const char *body, size_t len, char *name, size_t size) {
  size_t n = strnlen(body, len);
  if (n == 0 || n >= size)
    return VA_EINVAL;
  memcpy(name, body, n);
  name[n] = 0;
  return (int)n;
}

typedef struct name_list {
  va_kvmap names; /* the keys are the names */
  int status;     /* the first failure to add one */
} name_list;

static void add_name(void *user, const char *name) {
  name_list *l = user;
  int rc = l->status ? 0 : va__kvmap_put(&l->names, name, NULL, 0, false);
  if (rc)
    l->status = rc;
}

/* Replies every name, NUL-ended. */
static int reply_names(va_turn *t) {
  name_list list = {{0}, 0};
  int rc = va_turn_reminder_list(t, add_name, &list);
  if (rc == 0)
    rc = list.status;
  const va_kvmap *names = &list.names;
  size_t total = 0;
  for (uint32_t i = 0; i < names->n; i++)
    total += strlen(names->items[i].key) + 1;
  char *out = rc ? NULL : malloc(total ? total : 1);
  if (!rc && !out)
    rc = VA_ENOMEM;
  for (size_t i = 0, at = 0; out && i < names->n; i++) {
    size_t k = strlen(names->items[i].key) + 1;
    memcpy(out + at, names->items[i].key, k);
    at += k;
  }
  if (!rc)
    rc = va_turn_reply(t, out, total);
  free(out);
  va__kvmap_clear(&list.names);
  return rc;
}

int va__reminder_system(va_turn *t, uint16_t method, const char *body,
                        size_t len) {
  if (method == VA_METHOD_REMINDER_LIST)
    return reply_names(t);
  char name[256];
  int n = name_of(body, len, name, sizeof(name));
  if (n < 0)
    return n;
  if (method == VA_METHOD_REMINDER)
    return va__reminder_fire(t, body, len);
  if (method == VA_METHOD_REMINDER_DELETE)
    return va_turn_reminder_delete(t, name);
  if (method == VA_METHOD_REMINDER_GET) {
    const void *val;
    size_t vlen;
    int rc = stored(t, name, &val, &vlen);
    return rc ? rc : va_turn_reply(t, val, vlen);
  }
  /* SET or CREATE */
  if (method == VA_METHOD_REMINDER_CREATE) {
    const void *val;
    size_t vlen;
    if (stored(t, name, &val, &vlen) == 0)
      return VA_EEXIST;
  }
  if ((size_t)n + 1 + HEADER > len)
    return VA_EINVAL;
  record r;
  decode(body + n + 1, &r);
  va_reminder spec = {.due_ms = r.due_ms,
                      .period = r.period,
                      .left = r.left,
                      .expires_ms = r.expires_ms,
                      .retry = r.retry,
                      .data = body + n + 1 + HEADER,
                      .len = len - (size_t)n - 1 - HEADER};
  return va_turn_reminder_set(t, name, &spec);
}

/* Builds the body of a system call. */
static char *system_body(const char *name, const va_reminder *spec,
                         size_t *len) {
  size_t n = strlen(name);
  *len = n + 1 + (spec ? HEADER + spec->len : 0);
  char *body = malloc(*len);
  if (!body)
    return NULL;
  memcpy(body, name, n + 1);
  if (spec) {
    record r = {spec->due_ms, spec->expires_ms, spec->left, spec->period,
                spec->retry};
    encode(&r, body + n + 1);
    if (spec->len)
      memcpy(body + n + 1 + HEADER, spec->data, spec->len);
  }
  return body;
}

int va_reminder_call(va_runtime *rt, int type, const char *id, size_t id_len,
                     const char *name, const va_reminder *spec,
                     va_reminder_op op, va_reply_fn cb, void *user) {
  if (op == VA_REMINDER_LIST && !name)
    name = "*"; /* the body needs one; LIST reads none */
  if (!rt || !name || !*name || strlen(name) >= 256 || !cb ||
      (op == VA_REMINDER_SET || op == VA_REMINDER_CREATE) != (spec != NULL) ||
      op > VA_REMINDER_CREATE)
    return VA_EINVAL;
  if (type < 0 || (size_t)type >= rt->n_types)
    return VA_ENOTYPE;
  if (spec && !retry_ok(&spec->retry)) /* before it is packed into bytes */
    return VA_EINVAL;
  size_t len;
  char *body = system_body(name, spec, &len);
  if (!body)
    return VA_ENOMEM;
  static const uint16_t methods[] = {
      VA_METHOD_REMINDER_SET, VA_METHOD_REMINDER_GET, VA_METHOD_REMINDER_DELETE,
      VA_METHOD_REMINDER_LIST, VA_METHOD_REMINDER_CREATE};
  int rc =
      va__call_system(rt, type, id, id_len, methods[op], body, len, cb, user);
  free(body);
  return rc;
}

int va_reminder_decode(const void *data, size_t len, va_reminder *out) {
  if (!data || !out || len < HEADER)
    return VA_EINVAL;
  record r;
  decode(data, &r);
  *out = (va_reminder){.due_ms = r.due_ms,
                       .period = r.period,
                       .left = r.left,
                       .expires_ms = r.expires_ms,
                       .retry = r.retry,
                       .data = (const char *)data + HEADER,
                       .len = len - HEADER};
  return 0;
}

/* ---- Looking at the store (worker 0) ---- */

typedef struct look {
  va_worker *w;
  int64_t from, until;
  int status;
  size_t n;
  va_due_reminder *rows; /* owned: type, id and name in one block each */
} look;

/* Copies row (borrowed) into *out: type, name and id in one block. */
static int copy_row(const va_due_reminder *row, va_due_reminder *out) {
  size_t tl = strlen(row->type) + 1, nl = strlen(row->name) + 1;
  char *block = malloc(tl + nl + row->id_len);
  if (!block)
    return VA_ENOMEM;
  memcpy(block, row->type, tl);
  memcpy(block + tl, row->name, nl);
  memcpy(block + tl + nl, row->id, row->id_len);
  *out = (va_due_reminder){block,      block + tl + nl, row->id_len,
                           block + tl, row->due_ms,     row->orphan};
  return 0;
}

/* The store's answer (any thread): copied, and posted back to worker 0.
 * Rows that cannot be copied fail the look, so that its range is asked
 * again; those copied still fire (a fire reads its stored due time). */
static void on_due(void *ctx, int status, const va_due_reminder *rows,
                   size_t n) {
  va_msg *m = ctx;
  look *l = (look *)va__msg_body(m);
  l->status = status;
  if (status == 0 && n && !(l->rows = calloc(n, sizeof(*rows))))
    l->status = VA_ENOMEM;
  for (size_t i = 0; l->rows && l->status == 0 && i < n; i++) {
    l->status = copy_row(&rows[i], &l->rows[i]);
    if (l->status == 0)
      l->n = i + 1;
  }
  va__worker_post(l->w, m);
}

void va__reminders_saved(va_worker *w, va_actor *a, const va_kvmap *writes) {
  int64_t horizon =
      atomic_load_explicit(&w->rt->reminders_seen_until, memory_order_seq_cst);
  for (uint32_t i = 0; i < writes->n; i++) {
    const va_kv *kv = &writes->items[i];
    if (!kv->tomb && kv->reminder && kv->due_ms < horizon)
      arm(w, a, kv->reminder, kv->due_ms, kv->due_ms, 0);
  }
}

void va__reminders_look(va_worker *w) {
  va_runtime *rt = w->rt;
  VA_ASSERT(w->index == 0); /* the one worker that looks */
  if (!rt->store->ops->reminders_due || w->looking)
    return;
  va_msg *m = va__msg_alloc(&w->msgs, 0, sizeof(look));
  if (!m) /* this look is skipped; the next asks from the same horizon */
    return;
  m->kind = VA_MSG_CONTROL;
  m->control = VA_CONTROL_REMINDERS;
  look *l = (look *)va__msg_body(m);
  *l = (look){.w = w, .until = va_clock_wall_ms() + LOOK_AHEAD_MS};
  l->from = atomic_exchange_explicit(&rt->reminders_seen_until, l->until,
                                     memory_order_seq_cst);
  /* 0: the first look (the runtime starts at 0). It asks from the start of
   * time, for the reminders due before 1970 too (a due time of year 1). */
  if (l->from == 0)
    l->from = INT64_MIN;
  w->loading++;
  w->looking = true;
  if (rt->store->ops->reminders_due(rt->store, l->from, l->until, on_due, m)) {
    w->loading--;
    w->looking = false;
    lower_horizon(rt, l->from);
    va__msg_free(&w->msgs, m);
  }
}

void va__reminders_seen(va_worker *w, va_msg *m) {
  look *l = (look *)va__msg_body(m);
  va_runtime *rt = w->rt;
  VA_ASSERT(w->looking && w->loading > 0); /* this look's, counted in */
  w->loading--;
  for (size_t i = 0; i < l->n; i++) {
    va_due_reminder *r = &l->rows[i];
    int type = va_type_lookup(rt, r->type);
    /* An orphan's fire is for the node placement picks, no other. */
    bool mine = !r->orphan || !rt->router.place ||
                rt->router.place(rt->router_user, va_runtime_loop(rt, w->index),
                                 type, r->id, r->id_len) == VA_ROUTE_HERE;
    if (type >= 0 && mine)
      paced_fire(w, (uint16_t)type, r->id, r->id_len, r->name, r->due_ms);
    free((char *)r->type);
  }
  free(l->rows);
  w->looking = false;
  /* A failed look is asked again next time, from where it started. */
  if (l->status != 0)
    lower_horizon(rt, l->from);
}

void va__reminders_rescan(va_runtime *rt) {
  lower_horizon(rt, INT64_MIN);
}

void va__reminders_free_timers(va_worker *w) {
  for (uint32_t i = 0; i < w->timers.n; i++) {
    va_timer *t = w->timers.items[i];
    if (t->kind == VA_TIMER_REMINDER) {
      free(((early *)t)->name);
      free(t);
    }
  }
}

uint64_t va__reminders_interval_ms(void) {
  return LOOK_EVERY_MS;
}
