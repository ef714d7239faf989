/* view.c — a view's members, the types they host, and rendezvous
 * placement over them (view.h). */
#include "view.h"
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const char *const STATUS_NAMES[] = {
    [VA__MEMBER_ALIVE] = "alive",
    [VA__MEMBER_SUSPECT] = "suspect",
    [VA__MEMBER_LEAVING] = "leaving",
    [VA__MEMBER_DEAD] = "dead",
};

const char *va__member_status_name(va__member_status s) {
  return (unsigned)s <= VA__MEMBER_DEAD ? STATUS_NAMES[s] : "dead";
}

bool va__member_status_parse(const char *text, va__member_status *out) {
  for (unsigned s = 0; s <= VA__MEMBER_DEAD; s++)
    if (!strcmp(text, STATUS_NAMES[s])) {
      *out = (va__member_status)s;
      return true;
    }
  return false;
}

/* Whether the comma-separated list has name as one of its items. */
static bool list_has(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && !memcmp(p, name, n))
      return true;
    p = end ? end + 1 : NULL;
  }
  return false;
}

static bool eligible(const va__member *m) {
  return m->status == VA__MEMBER_ALIVE || m->status == VA__MEMBER_SUSPECT;
}

int va__view_finish(va__view *v, const va_runtime *rt) {
  int n_types = va_type_count(rt);
  v->n_types = n_types > 0 ? (size_t)n_types : 0;
  v->hosts = calloc(v->n_types ? v->n_types : 1, sizeof(*v->hosts));
  if (!v->hosts)
    return VA_ENOMEM;
  for (size_t i = 0; i < v->n; i++)
    v->members[i].seed =
        XXH3_64bits(v->members[i].id, strlen(v->members[i].id));
  for (size_t t = 0; t < v->n_types; t++) {
    const char *name = va_type_name(rt, (int)t);
    uint64_t apps = 0, all = 0;
    for (size_t i = 0; i < v->n; i++) {
      all |= 1ull << i;
      if (list_has(v->members[i].types, name))
        apps |= 1ull << i;
    }
    /* A type no member's app lists is the runtime's own: everywhere. */
    v->hosts[t] = apps ? apps : all;
  }
  return 0;
}

void va__view_free(va__view *v) {
  if (!v)
    return;
  for (size_t i = 0; i < v->n; i++)
    free(v->members[i].types);
  free(v->hosts);
  free(v);
}

void va__view_release(va__view *v) {
  if (v && atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1)
    va__view_free(v);
}

/* splitmix64's finalizer: a score that changes with every bit of both. */
static uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int va__view_place(const va__view *v, int type, const char *type_name,
                   const char *id, size_t id_len) {
  if (type < 0 || (size_t)type >= v->n_types)
    return -1;
  uint64_t key = XXH3_64bits_withSeed(
      id, id_len, XXH3_64bits(type_name, strlen(type_name)));
  uint64_t hosts = v->hosts[type];
  int best = -1;
  uint64_t best_score = 0;
  for (size_t i = 0; i < v->n; i++) {
    if (!(hosts & (1ull << i)) || !eligible(&v->members[i]))
      continue;
    uint64_t score = mix(key ^ v->members[i].seed);
    if (best < 0 || score > best_score) {
      best = (int)i;
      best_score = score;
    }
  }
  return best;
}
