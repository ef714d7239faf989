/* view.c — a view's members, the types they host, and rendezvous
 * placement over them (view.h). */
#include "view.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const char *const STATUS_NAMES[] = {
    [VA__MEMBER_ALIVE] = "alive",     [VA__MEMBER_SUSPECT] = "suspect",
    [VA__MEMBER_LEAVING] = "leaving", [VA__MEMBER_EXPELLED] = "expelled",
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

/* Whether the comma-separated list has name (n bytes) as one of its
 * items. */
static bool list_has(const char *list, const char *name, size_t n) {
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
      if (list_has(v->members[i].types, name, strlen(name)))
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
  for (size_t i = 0; i < v->n; i++) {
    free(v->members[i].types);
    free(v->members[i].unreachable);
  }
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

/* The eligible member of hosts (bits by index) that (key, seed) scores
 * highest on, or -1. */
static int place_among(const va__view *v, uint64_t hosts, uint64_t seed,
                       const char *id, size_t id_len) {
  uint64_t key = XXH3_64bits_withSeed(id, id_len, seed);
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

int va__view_place(const va__view *v, int type, const char *type_name,
                   const char *id, size_t id_len) {
  if (type < 0 || (size_t)type >= v->n_types)
    return -1;
  return place_among(v, v->hosts[type],
                     XXH3_64bits(type_name, strlen(type_name)), id, id_len);
}

/* The members (bits by index) whose app lists the app type. */
static uint64_t app_hosts(const va__view *v, const char *type, size_t len) {
  uint64_t hosts = 0;
  for (size_t i = 0; i < v->n; i++)
    if (list_has(v->members[i].types, type, len))
      hosts |= 1ull << i;
  return hosts;
}

int va__view_place_app(const va__view *v, const char *key, size_t key_len) {
  const char *slash = memchr(key, '/', key_len);
  if (!slash || slash == key)
    return -1;
  size_t len = (size_t)(slash - key);
  return place_among(v, app_hosts(v, key, len), XXH3_64bits(key, len), key,
                     key_len);
}

bool va__view_hosts_app(const va__view *v, const char *type, size_t len) {
  uint64_t hosts = app_hosts(v, type, len);
  for (size_t i = 0; i < v->n; i++)
    if ((hosts & (1ull << i)) && eligible(&v->members[i]))
      return true;
  return false;
}

/* ---- Reachability ---- */

_Static_assert(VA__VIEW_MEMBERS_MAX <= 64, "a view's members fit a mask");

size_t va__view_cut_off(const va__view *v, bool cut[VA__VIEW_MEMBERS_MAX]) {
  memset(cut, 0, VA__VIEW_MEMBERS_MAX * sizeof(*cut));
  /* in: eligible and not cut yet; voters: those of them whose lease the
   * read found running (a member that stopped renewing votes no more);
   * against[i]: the voters that list member i's present incarnation. */
  uint64_t in = 0, voters = 0, against[VA__VIEW_MEMBERS_MAX] = {0};
  for (size_t i = 0; i < v->n; i++)
    if (eligible(&v->members[i])) {
      in |= 1ull << i;
      if (v->members[i].lease_left_ms > 0)
        voters |= 1ull << i;
    }
  for (size_t i = 0; i < v->n; i++) {
    const va__member *m = &v->members[i];
    char name[96];
    int len = snprintf(name, sizeof(name), "%s:%llu", m->id,
                       (unsigned long long)m->incarnation);
    for (size_t j = 0; (in & (1ull << i)) && len > 0 &&
                       (size_t)len < sizeof(name) && j < v->n;
         j++)
      if (j != i && (voters & (1ull << j)) &&
          list_has(v->members[j].unreachable, name, (size_t)len))
        against[i] |= 1ull << j;
  }
  size_t n_cut = 0;
  for (;;) {
    int worst = -1;
    int worst_votes = 0;
    for (size_t i = 0; i < v->n; i++) {
      uint64_t bit = 1ull << i;
      if (!(in & bit))
        continue;
      int others = __builtin_popcountll(in & ~bit),
          votes = __builtin_popcountll(against[i] & in);
      if (votes == 0 || 2 * votes <= others)
        continue;
      if (worst < 0 || votes > worst_votes ||
          (votes == worst_votes &&
           strcmp(v->members[i].id, v->members[worst].id) > 0)) {
        worst = (int)i;
        worst_votes = votes;
      }
    }
    if (worst < 0)
      return n_cut;
    cut[worst] = true;
    in &= ~(1ull << worst);
    n_cut++;
  }
}
