/* timers.c — actor timers: in memory, per activation. A timer sends its
 * actor a one-way message (a method and a body) when due, then again every
 * period. It dies with the activation, and the turns it causes do not count
 * as use, so it never keeps an idle actor alive (Dapr's semantics). The
 * deadline sits in the worker's timer heap. Owner thread only.
 *
 * A period has a floor (va_config.min_period_ms), so one timer fires at most
 * once per minimum period: the next deadline is taken from the fire, never
 * caught up in a loop, and deadlines saturate instead of wrapping. A timer
 * with a count of fires or an end (Dapr's R<n>/ and ttl) is dropped, not
 * re-armed, once the count is spent or its next deadline is at the end. */
#include "../base/clock.h"
#include "runtime.h"
#include <stdlib.h>
#include <string.h>

struct va_actor_timer {
  va_timer timer; /* first: the heap hands back this pointer */
  struct va_actor_timer *next;
  va_actor *actor;
  uint64_t period_ms; /* 0: once */
  uint64_t left;      /* fires to go; 0: no limit */
  uint64_t end_ms;    /* no fire at or after this (heap clock); UINT64_MAX */
  uint16_t method;
  uint32_t len;
  char *name;
  char data[];
};

static va_actor_timer **find(va_actor *a, const char *name) {
  va_actor_timer **pp = &a->timers;
  while (*pp && strcmp((*pp)->name, name))
    pp = &(*pp)->next;
  return pp;
}

/* now + wait on the heap's clock; a wait past the end is "never". */
static uint64_t deadline_after(uint64_t now_ms, uint64_t wait_ms) {
  return wait_ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + wait_ms;
}

static void timer_free(va_worker *w, va_actor_timer *at) {
  va__heap_remove(&w->timers, &at->timer);
  free(at->name);
  free(at);
}

int va_turn_timer_start(va_turn *t, const char *name,
                        const va_timer_spec *spec) {
  if (!t || !name || !*name || !spec || (spec->len && !spec->data) ||
      spec->len > UINT32_MAX)
    return VA_EINVAL;
  va_worker *w = t->w;
  va_actor *a = t->actor;
  if (spec->method < 0 ||
      (size_t)spec->method >= w->rt->types[a->type].n_methods)
    return VA_ENOMETHOD;
  if (spec->period_ms && spec->period_ms < w->rt->cfg.min_period_ms)
    return VA_EINVAL; /* would flood its actor */
  va_actor_timer *at = malloc(sizeof(*at) + spec->len);
  if (!at || !(at->name = strdup(name))) {
    free(at);
    return VA_ENOMEM;
  }
  uint64_t due = deadline_after(w->now_ms, spec->due_ms);
  at->timer.index = VA_TIMER_IDLE;
  at->timer.kind = VA_TIMER_ACTOR;
  at->actor = a;
  at->period_ms = spec->period_ms;
  at->left = spec->fires;
  at->end_ms = spec->ttl_ms ? deadline_after(due, spec->ttl_ms) : UINT64_MAX;
  at->method = (uint16_t)spec->method;
  at->len = (uint32_t)spec->len;
  if (spec->len)
    memcpy(at->data, spec->data, spec->len);
  if (va__heap_push(&w->timers, &at->timer, due) != 0) {
    free(at->name);
    free(at);
    return VA_ENOMEM;
  }
  /* A timer of the same name is replaced. */
  va_actor_timer **pp = find(a, name);
  if (*pp) {
    va_actor_timer *old = *pp;
    *pp = old->next;
    timer_free(w, old);
  }
  at->next = a->timers;
  a->timers = at;
  return 0;
}

int va_turn_timer_stop(va_turn *t, const char *name) {
  if (!t || !name)
    return VA_EINVAL;
  va_actor_timer **pp = find(t->actor, name);
  if (!*pp)
    return VA_ENOTFOUND;
  va_actor_timer *at = *pp;
  *pp = at->next;
  timer_free(t->w, at);
  return 0;
}

size_t va__timers_list(const va_worker *w, const va_actor *a,
                       va_timer_entry *out, size_t cap) {
  int64_t wall = va_clock_wall_ms();
  size_t n = 0;
  for (const va_actor_timer *at = a->timers; at; at = at->next, n++) {
    if (n >= cap)
      continue;
    /* An armed timer's due time is on the worker's coarse clock. */
    int64_t wait = va__timer_armed(&at->timer)
                       ? (int64_t)(at->timer.due_ms - w->now_ms)
                       : 0;
    out[n] =
        (va_timer_entry){at->name, wall + (wait > 0 ? wait : 0), at->period_ms};
  }
  return n;
}

void va__timers_fire(va_worker *w, va_timer *timer) {
  va_actor_timer *at = (va_actor_timer *)timer;
  va_actor *a = at->actor;
  va_msg *m = w->now_ms < at->end_ms /* a late fire past the end: none */
                  ? va__msg_alloc(&w->msgs, a->id_len, at->len)
                  : NULL;
  if (m) {
    memcpy(m->data, a->id, a->id_len);
    if (at->len)
      memcpy(m->data + a->id_len, at->data, at->len);
    m->kind = VA_MSG_REQUEST;
    m->control = VA_REQ_FROM_TIMER;
    m->type = a->type;
    m->method = at->method;
    m->hash = a->hash;
    m->hint = a;
    m->hint_gen = a->gen;
    va__deliver_request(w, m);
  }
  bool spent = at->left && --at->left == 0;
  uint64_t next = deadline_after(w->now_ms, at->period_ms);
  if (at->period_ms && !spent && next < at->end_ms) {
    /* From this fire: at least the minimum period until the next. */
    (void)va__heap_push(&w->timers, &at->timer, next);
  } else {
    va_actor_timer **pp = find(a, at->name);
    *pp = at->next;
    timer_free(w, at);
  }
}

void va__timers_clear(va_worker *w, va_actor *a) {
  while (a->timers) {
    va_actor_timer *at = a->timers;
    a->timers = at->next;
    timer_free(w, at);
  }
}
