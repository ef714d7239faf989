/* test_inventory.c — listing and inspecting actors (va_actor_list,
 * va_actor_inspect) on a SQLite file: live and stored-only actors in one
 * listing, in id order, paged without loss or repeat while other actors
 * activate; prefix and live-only filters; one actor's activation, state,
 * reminders and timers; that neither call activates anything; and the
 * bound on how many run at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "helpers.h"

static int T_INV, M_ADD, M_ARM;

static int inv_add(va_turn *t, const void *arg, size_t len) {
  int64_t n = state_i64(t, "n") + arg_i64(arg, len);
  return va_turn_state_set(t, "n", &n, sizeof(n));
}

/* A reminder "r" due in an hour, hourly, and a timer "t" due in a minute. */
static int inv_arm(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  va_reminder r = {.due_ms = va_wall_ms() + 3600000,
                   .period = {.ns = 3600 * INT64_C(1000000000)},
                   .left = -1,
                   .data = "hi",
                   .len = 2};
  int rc = va_turn_reminder_set(t, "r", &r);
  va_timer_spec spec = {.due_ms = 60000, .period_ms = 60000, .method = M_ADD};
  return rc ? rc : va_turn_timer_start(t, "t", &spec);
}

static va_runtime *open_runtime(const char *db) {
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = 2;
  cfg.store = db;
  va_runtime *rt;
  assert_int_equal(va_runtime_new(&cfg, &rt), 0);
  static const va_method methods[] = {{"add", inv_add}, {"arm", inv_arm}};
  va_type_def def = {.name = "Inv", .methods = methods, .n_methods = 2};
  T_INV = va_register_type(rt, &def);
  assert_true(T_INV >= 0);
  M_ADD = va_method_lookup(rt, T_INV, "add");
  M_ARM = va_method_lookup(rt, T_INV, "arm");
  assert_int_equal(va_runtime_start(rt), 0);
  return rt;
}

static void add(va_runtime *rt, const char *id, int64_t n) {
  assert_int_equal(call_i64(rt, T_INV, id, M_ADD, n, NULL), 0);
}

/* ---- a blocking wrapper around each call ---- */

enum { PAGE_IDS = 64, ID_MAX = 32 };

typedef struct page {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done, more;
  int status;
  size_t n;
  char ids[PAGE_IDS][ID_MAX];
  bool active[PAGE_IDS];
} page;

static void page_filled(void *user, int status, const va_listed_actor *actors,
                        size_t n, bool more) {
  page *p = user;
  pthread_mutex_lock(&p->lock);
  p->status = status;
  p->more = more;
  for (size_t i = 0; i < n && i < PAGE_IDS; i++) {
    assert_true(actors[i].id_len < ID_MAX);
    memcpy(p->ids[i], actors[i].id, actors[i].id_len);
    p->ids[i][actors[i].id_len] = '\0';
    p->active[i] = actors[i].active;
    assert_null(actors[i].node); /* one node */
  }
  p->n = n;
  p->done = true;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
}

/* Fills *p with one page; returns va_actor_list's own status. */
static int list(va_runtime *rt, const char *after, const char *prefix,
                size_t limit, unsigned flags, page *p) {
  memset(p, 0, sizeof(*p));
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->cond, NULL);
  int rc =
      va_actor_list(rt, T_INV, after, after ? strlen(after) : 0, prefix,
                    prefix ? strlen(prefix) : 0, limit, flags, page_filled, p);
  pthread_mutex_lock(&p->lock);
  while (rc == 0 && !p->done)
    pthread_cond_wait(&p->cond, &p->lock);
  pthread_mutex_unlock(&p->lock);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->cond);
  return rc;
}

typedef struct look {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
  int status;
  va_actor_info info; /* its arrays are not kept: only what is below */
  int64_t n;          /* the value of state key "n" */
  size_t n_len;
  char reminder[16];
  int64_t reminder_period_ns;
  size_t reminder_data_len;
  char timer[16];
  uint64_t timer_period_ms;
} look;

static void looked(void *user, int status, const va_actor_info *info) {
  look *l = user;
  pthread_mutex_lock(&l->lock);
  l->status = status;
  if (info) {
    l->info = *info;
    for (size_t i = 0; i < info->n_state; i++)
      if (!strcmp(info->state[i].key, "n")) {
        l->n_len = info->state[i].len;
        if (l->n_len == sizeof(l->n))
          memcpy(&l->n, info->state[i].val, sizeof(l->n));
      }
    if (info->n_reminders) {
      snprintf(l->reminder, sizeof(l->reminder), "%s", info->reminders[0].name);
      l->reminder_period_ns = info->reminders[0].spec.period.ns;
      l->reminder_data_len = info->reminders[0].spec.len;
    }
    if (info->n_timers) {
      snprintf(l->timer, sizeof(l->timer), "%s", info->timers[0].name);
      l->timer_period_ms = info->timers[0].period_ms;
    }
  }
  l->done = true;
  pthread_cond_signal(&l->cond);
  pthread_mutex_unlock(&l->lock);
}

static int inspect(va_runtime *rt, const char *id, look *l) {
  memset(l, 0, sizeof(*l));
  pthread_mutex_init(&l->lock, NULL);
  pthread_cond_init(&l->cond, NULL);
  int rc = va_actor_inspect(rt, T_INV, id, strlen(id), looked, l);
  pthread_mutex_lock(&l->lock);
  while (rc == 0 && !l->done)
    pthread_cond_wait(&l->cond, &l->lock);
  pthread_mutex_unlock(&l->lock);
  pthread_mutex_destroy(&l->lock);
  pthread_cond_destroy(&l->cond);
  return rc;
}

/* ---- the tests ---- */

/* Stored-only actors "s-0".."s-4" (written by an earlier runtime on the
 * same file) and live ones "a-00".."a-24". */
static va_runtime *populated(const char *name) {
  static char db[256];
  db_path(db, sizeof(db), name);
  va_runtime *rt = open_runtime(db);
  for (int i = 0; i < 5; i++) {
    char id[8];
    snprintf(id, sizeof(id), "s-%d", i);
    add(rt, id, i + 1);
  }
  va_runtime_free(rt);
  rt = open_runtime(db);
  for (int i = 0; i < 25; i++) {
    char id[8];
    snprintf(id, sizeof(id), "a-%02d", i);
    add(rt, id, 1);
  }
  return rt;
}

static void listing_merges_live_and_stored_in_id_order(void **state) {
  (void)state;
  va_runtime *rt = populated("merge");
  page p;
  assert_int_equal(list(rt, NULL, NULL, 100, 0, &p), 0);
  assert_int_equal(p.status, 0);
  assert_int_equal(p.n, 30);
  assert_false(p.more);
  for (size_t i = 0; i < 30; i++) {
    if (i)
      assert_true(strcmp(p.ids[i - 1], p.ids[i]) < 0);
    assert_int_equal(p.active[i], p.ids[i][0] == 'a');
  }
  /* Filters: a prefix, live ones only, both. */
  assert_int_equal(list(rt, NULL, "s-", 100, 0, &p), 0);
  assert_int_equal(p.n, 5);
  assert_string_equal(p.ids[0], "s-0");
  assert_false(p.active[0]);
  assert_int_equal(list(rt, NULL, NULL, 100, VA_LIST_ACTIVE_ONLY, &p), 0);
  assert_int_equal(p.n, 25);
  assert_int_equal(list(rt, NULL, "s-", 100, VA_LIST_ACTIVE_ONLY, &p), 0);
  assert_int_equal(p.n, 0);
  assert_int_equal(list(rt, NULL, "zz", 100, 0, &p), 0);
  assert_int_equal(p.n, 0);
  assert_false(p.more);
  /* Listing activated nobody. */
  assert_int_equal(va_runtime_active_of(rt, T_INV), 25);
  /* Bad arguments are refused before anything runs. */
  assert_int_equal(list(rt, NULL, NULL, 0, 0, &p), VA_EINVAL);
  assert_int_equal(list(rt, NULL, NULL, VA_LIST_MAX + 1, 0, &p), VA_EINVAL);
  assert_int_equal(
      va_actor_list(rt, 99, NULL, 0, NULL, 0, 10, 0, page_filled, &p),
      VA_EINVAL);
  va_runtime_free(rt);
}

/* While paging, other actors activate (ids between and after the pages):
 * every actor that was there at the start is seen exactly once, in order. */
static void pages_lose_and_repeat_nothing_while_actors_come(void **state) {
  (void)state;
  va_runtime *rt = populated("pages");
  char seen[64][ID_MAX];
  size_t n_seen = 0, pages = 0;
  char after[ID_MAX] = "";
  for (;;) {
    page p;
    assert_int_equal(list(rt, n_seen ? after : NULL, NULL, 7, 0, &p), 0);
    assert_int_equal(p.status, 0);
    pages++;
    for (size_t i = 0; i < p.n; i++) {
      assert_true(n_seen < 64);
      if (n_seen)
        assert_true(strcmp(seen[n_seen - 1], p.ids[i]) < 0);
      memcpy(seen[n_seen++], p.ids[i], ID_MAX);
    }
    if (!p.more)
      break;
    assert_int_equal(p.n, 7);
    snprintf(after, sizeof(after), "%s", p.ids[p.n - 1]);
    /* Newcomers: one behind the pages seen, one after every id. */
    char id[ID_MAX];
    snprintf(id, sizeof(id), "a-%02zu+", pages);
    add(rt, id, 1);
    snprintf(id, sizeof(id), "t-%zu", pages);
    add(rt, id, 1);
  }
  size_t old = 0, ahead = 0;
  for (size_t i = 0; i < n_seen; i++)
    if (seen[i][0] == 't')
      ahead++;
    else if (!strchr(seen[i], '+'))
      old++;
  assert_int_equal(old, 30);
  assert_int_equal(ahead, pages - 1); /* each was added before the last page */
  assert_true(pages >= 5);
  va_runtime_free(rt);
}

static void inspect_shows_activation_state_reminders_and_timers(void **state) {
  (void)state;
  va_runtime *rt = populated("inspect");
  assert_int_equal(call_i64(rt, T_INV, "a-03", M_ARM, 0, NULL), 0);
  add(rt, "a-03", 41);
  look l;
  assert_int_equal(inspect(rt, "a-03", &l), 0);
  assert_int_equal(l.status, 0);
  assert_true(l.info.active);
  assert_null(l.info.node);
  uint64_t h = va__hash_id((uint16_t)T_INV, "a-03", 4);
  assert_int_equal(l.info.worker, va__worker_of(rt, h));
  assert_int_equal(l.info.turns, 3);
  assert_int_equal(l.info.mailbox, 0);
  assert_true(l.info.version >= 1);
  assert_int_equal(l.info.n_state, 1); /* the reminder is not a state key */
  assert_int_equal(l.n_len, sizeof(int64_t));
  assert_int_equal(l.n, 42);
  assert_int_equal(l.info.n_reminders, 1);
  assert_string_equal(l.reminder, "r");
  assert_int_equal(l.reminder_period_ns, 3600 * INT64_C(1000000000));
  assert_int_equal(l.reminder_data_len, 2);
  assert_int_equal(l.info.n_timers, 1);
  assert_string_equal(l.timer, "t");
  assert_int_equal(l.timer_period_ms, 60000);

  /* A stored-only actor is read from the store, and stays inactive. */
  assert_int_equal(inspect(rt, "s-2", &l), 0);
  assert_int_equal(l.status, 0);
  assert_false(l.info.active);
  assert_int_equal(l.n, 3);
  assert_int_equal(l.info.n_timers, 0);
  assert_int_equal(l.info.n_reminders, 0);
  assert_int_equal(va_runtime_active_of(rt, T_INV), 25);

  /* Neither live nor stored. */
  assert_int_equal(inspect(rt, "nobody", &l), 0);
  assert_int_equal(l.status, VA_ENOTFOUND);
  assert_int_equal(va_runtime_active_of(rt, T_INV), 25);
  assert_int_equal(va_actor_inspect(rt, T_INV, "x", 0, looked, &l), VA_EINVAL);
  va_runtime_free(rt);
}

/* An inspection whose callback holds its worker until released. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int looks_done;

static void held(void *user, int status, const va_actor_info *info) {
  (void)user, (void)status, (void)info;
  pthread_mutex_lock(&gate_lock);
  while (!gate_open)
    pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
  atomic_fetch_add(&looks_done, 1);
}

/* VA_LOOKS_MAX under way at once: the next is refused at once, not
 * queued; when they end, a new one runs. */
static void looks_past_the_bound_are_refused(void **state) {
  (void)state;
  va_runtime *rt = populated("bound");
  gate_open = false;
  atomic_store(&looks_done, 0);
  /* Every inspection of a-00 goes to its worker: the first holds it, the
   * others wait behind it, each in its slot. */
  for (int i = 0; i < VA_LOOKS_MAX; i++)
    assert_int_equal(va_actor_inspect(rt, T_INV, "a-00", 4, held, NULL), 0);
  assert_int_equal(va_actor_inspect(rt, T_INV, "a-01", 4, held, NULL),
                   VA_EBACKPRESSURE);
  page p;
  assert_int_equal(list(rt, NULL, NULL, 10, 0, &p), VA_EBACKPRESSURE);
  pthread_mutex_lock(&gate_lock);
  gate_open = true;
  pthread_cond_broadcast(&gate_cond);
  pthread_mutex_unlock(&gate_lock);
  WAIT_UNTIL(atomic_load(&looks_done) == VA_LOOKS_MAX);
  assert_int_equal(atomic_load(&looks_done), VA_LOOKS_MAX);
  /* The slot is given back after the callback returns: retry briefly. */
  int rc = VA_EBACKPRESSURE;
  for (int i = 0; i < 1000 && rc == VA_EBACKPRESSURE; i++, sleep_ms(1))
    rc = list(rt, NULL, NULL, 10, 0, &p);
  assert_int_equal(rc, 0);
  assert_int_equal(p.n, 10);
  va_runtime_free(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(listing_merges_live_and_stored_in_id_order),
      cmocka_unit_test(pages_lose_and_repeat_nothing_while_actors_come),
      cmocka_unit_test(inspect_shows_activation_state_reminders_and_timers),
      cmocka_unit_test(looks_past_the_bound_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
