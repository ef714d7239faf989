/* test_containers.c — the runtime's small data structures on their own:
 * the directory, the timer heap, the key-value map and the MPSC queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "core/directory.h"
#include "core/kvmap.h"
#include "core/mpsc.h"
#include "core/timerheap.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- directory ---- */

static va_actor *make_actor(uint16_t type, const char *id) {
  va_actor *a = calloc(1, sizeof(*a));
  a->id_len = (uint32_t)strlen(id);
  a->id = strdup(id);
  a->type = type;
  /* A weak hash on purpose: collisions exercise probing and shifting. */
  a->hash = XXH3_64bits(id, a->id_len) & 0x3ff;
  return a;
}

static void free_actor(va_actor *a) {
  free(a->id);
  free(a);
}

static void
directory_finds_what_it_holds_through_growth_and_removal(void **state) {
  (void)state;
  enum { N = 20000 };
  va_directory d;
  assert_int_equal(va__dir_init(&d, 4), 0);
  va_actor **actors = calloc(N, sizeof(*actors));
  char id[32];
  for (int i = 0; i < N; i++) {
    snprintf(id, sizeof(id), "user-%d", i);
    actors[i] = make_actor((uint16_t)(i % 3), id);
    assert_int_equal(va__dir_insert(&d, actors[i]), 0);
  }
  assert_int_equal(d.count, N);
  /* Remove every other one; the rest must still be found. */
  for (int i = 0; i < N; i += 2)
    va__dir_remove(&d, actors[i]);
  for (int i = 0; i < N; i++) {
    va_actor *a = actors[i];
    va_actor *found = va__dir_find(&d, a->hash, a->type, a->id, a->id_len);
    assert_ptr_equal(found, i % 2 ? a : NULL);
  }
  /* Same id, other type: a different actor. */
  va_actor *a = actors[1];
  assert_null(
      va__dir_find(&d, a->hash, (uint16_t)(a->type + 7), a->id, a->id_len));
  for (int i = 1; i < N; i += 2)
    va__dir_remove(&d, actors[i]);
  assert_int_equal(d.count, 0);
  for (int i = 0; i < N; i++)
    free_actor(actors[i]);
  free(actors);
  va__dir_free(&d);
}

/* ---- timer heap ---- */

static void timer_heap_pops_in_deadline_order_after_removals(void **state) {
  (void)state;
  enum { N = 5000 };
  va_timerheap h = {0};
  va_timer *timers = calloc(N, sizeof(*timers));
  srand(7);
  for (int i = 0; i < N; i++) {
    timers[i].index = VA_TIMER_IDLE;
    assert_int_equal(va__heap_push(&h, &timers[i], (uint64_t)(rand() % 1000)),
                     0);
  }
  for (int i = 0; i < N; i += 3)
    va__heap_remove(&h, &timers[i]);
  for (int i = 0; i < N; i += 3)
    assert_false(va__timer_armed(&timers[i]));
  uint64_t last = 0;
  uint32_t popped = 0;
  for (va_timer *t; (t = va__heap_peek(&h)); popped++) {
    assert_true(t->due_ms >= last);
    last = t->due_ms;
    va__heap_remove(&h, t);
  }
  assert_int_equal(popped, N - (N + 2) / 3);
  free(timers);
  va__heap_free(&h);
}

/* ---- kvmap ---- */

static void kvmap_applies_writes_and_tombstones(void **state) {
  (void)state;
  va_kvmap m = {0}, ws = {0};
  assert_int_equal(va__kvmap_put(&m, "a", "1", 1, false), 0);
  assert_int_equal(va__kvmap_put(&m, "b", "22", 2, false), 0);
  assert_int_equal(va__kvmap_put(&ws, "a", NULL, 0, true), 0);
  assert_int_equal(va__kvmap_put(&ws, "b", "333", 3, false), 0);
  assert_int_equal(va__kvmap_put(&ws, "c", "", 0, false), 0);
  assert_int_equal(va__kvmap_apply(&m, &ws), 0);
  assert_int_equal(ws.n, 0);
  assert_null(va__kvmap_find(&m, "a"));
  va_kv *b = va__kvmap_find(&m, "b");
  assert_non_null(b);
  assert_int_equal(b->len, 3);
  assert_memory_equal(b->val, "333", 3);
  va_kv *c = va__kvmap_find(&m, "c");
  assert_non_null(c);
  assert_int_equal(c->len, 0);
  va__kvmap_clear(&m);
  va__kvmap_clear(&ws);
}

/* ---- MPSC queue ---- */

enum { PRODUCERS = 4, PER_PRODUCER = 100000 };

typedef struct item {
  va_qnode node;
  int producer;
  int seq;
} item;

static va_mpsc queue;

static void *produce(void *arg) {
  int p = (int)(intptr_t)arg;
  item *items = calloc(PER_PRODUCER, sizeof(*items));
  for (int i = 0; i < PER_PRODUCER; i++) {
    items[i].producer = p;
    items[i].seq = i;
    /* Alternate single pushes and chains of two. */
    if (i % 2 == 1 && i + 1 < PER_PRODUCER) {
      items[i + 1].producer = p;
      items[i + 1].seq = i + 1;
      atomic_store(&items[i].node.next, &items[i + 1].node);
      va__mpsc_push_chain(&queue, &items[i].node, &items[i + 1].node);
      i++;
    } else {
      va__mpsc_push(&queue, &items[i].node);
    }
  }
  return items;
}

static void mpsc_delivers_every_item_in_order_per_producer(void **state) {
  (void)state;
  va__mpsc_init(&queue);
  assert_true(va__mpsc_empty(&queue));
  pthread_t th[PRODUCERS];
  for (int p = 0; p < PRODUCERS; p++)
    pthread_create(&th[p], NULL, produce, (void *)(intptr_t)p);
  int next[PRODUCERS] = {0};
  long total = 0;
  while (total < (long)PRODUCERS * PER_PRODUCER) {
    va_qnode *n = va__mpsc_pop(&queue);
    if (!n)
      continue;
    item *it = (item *)n;
    assert_int_equal(it->seq, next[it->producer]);
    next[it->producer]++;
    total++;
  }
  for (int p = 0; p < PRODUCERS; p++) {
    void *items;
    pthread_join(th[p], &items);
    free(items);
  }
  assert_null(va__mpsc_pop(&queue));
  assert_true(va__mpsc_empty(&queue));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          directory_finds_what_it_holds_through_growth_and_removal),
      cmocka_unit_test(timer_heap_pops_in_deadline_order_after_removals),
      cmocka_unit_test(kvmap_applies_writes_and_tombstones),
      cmocka_unit_test(mpsc_delivers_every_item_in_order_per_producer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
