/* test_loop.c — the workers' loops through their public API only
 * (vactor_loop.h): running a function on a given worker from any thread
 * (in order, and refused with an error before start and after stop),
 * knowing the current loop, watching descriptors (readiness delivered on
 * the loop's thread; errors returned for bad descriptors, bad arguments
 * and the wrong thread), and unwatching from a watcher, which forgets the
 * readiness of the same batch not yet delivered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vactor_loop.h>

static va_runtime *start_runtime(unsigned threads) {
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = threads;
  va_runtime *rt;
  assert_int_equal(va_runtime_new(&cfg, &rt), 0);
  assert_int_equal(va_runtime_start(rt), 0);
  return rt;
}

/* Waits (generously: the machine may be busy) until *flag reaches want. */
static void wait_for(atomic_int *flag, int want) {
  for (int i = 0; i < 20000 && atomic_load(flag) < want; i++)
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  assert_int_equal(atomic_load(flag), want);
}

/* ---- Running functions on loops ---- */

typedef struct where {
  va_runtime *rt;
  atomic_int done;
  unsigned index;
  bool current_is_loop, runtime_loop_is_loop;
} where;

static void note_where(void *ctx, va_loop *loop) {
  where *w = ctx;
  w->index = va_loop_index(loop);
  w->current_is_loop = va_loop_current(w->rt) == loop;
  w->runtime_loop_is_loop = va_runtime_loop(w->rt, w->index) == loop;
  atomic_store(&w->done, 1);
}

static void never(void *ctx, va_loop *loop) {
  (void)ctx;
  (void)loop;
  fail_msg("a refused post ran");
}

static void run_refused_before_start_and_after_stop(void **state) {
  (void)state;
  va_runtime *rt;
  assert_int_equal(va_runtime_new(NULL, &rt), 0);
  assert_int_equal(va_loop_run(rt, 0, never, NULL), VA_ESTOPPED);
  assert_null(va_runtime_loop(rt, 0));
  assert_int_equal(va_runtime_start(rt), 0);
  assert_int_equal(va_runtime_stop(rt), 0);
  assert_int_equal(va_loop_run(rt, 0, never, NULL), VA_ESTOPPED);
  va_runtime_free(rt);
}

static void run_on_each_worker(void **state) {
  (void)state;
  va_runtime *rt = start_runtime(3);
  assert_null(va_loop_current(rt)); /* the test's thread is no worker */
  assert_int_equal(va_loop_run(rt, 3, never, NULL), VA_EINVAL);
  assert_int_equal(va_loop_run(rt, 0, NULL, NULL), VA_EINVAL);
  assert_int_equal(va_loop_run(NULL, 0, never, NULL), VA_EINVAL);
  assert_null(va_runtime_loop(rt, 3));
  for (unsigned i = 0; i < 3; i++) {
    where w = {.rt = rt};
    assert_int_equal(va_loop_run(rt, i, note_where, &w), 0);
    wait_for(&w.done, 1);
    assert_int_equal(w.index, i);
    assert_true(w.current_is_loop);
    assert_true(w.runtime_loop_is_loop);
  }
  assert_int_equal(va_runtime_stop(rt), 0);
  va_runtime_free(rt);
}

/* From worker 0, a post to worker 1 (through worker 0's outbox). */
typedef struct relay {
  va_runtime *rt;
  where there;
  int rc;
  atomic_int posted;
} relay;

static void post_onwards(void *ctx, va_loop *loop) {
  (void)loop;
  relay *r = ctx;
  r->rc = va_loop_run(r->rt, 1, note_where, &r->there);
  atomic_store(&r->posted, 1);
}

static void run_from_a_worker_on_another(void **state) {
  (void)state;
  va_runtime *rt = start_runtime(2);
  relay r = {.rt = rt, .there = {.rt = rt}};
  assert_int_equal(va_loop_run(rt, 0, post_onwards, &r), 0);
  wait_for(&r.posted, 1);
  assert_int_equal(r.rc, 0);
  wait_for(&r.there.done, 1);
  assert_int_equal(r.there.index, 1);
  assert_true(r.there.current_is_loop);
  assert_int_equal(va_runtime_stop(rt), 0);
  va_runtime_free(rt);
}

enum { IN_ORDER = 200 };

typedef struct sequence {
  atomic_int n;
  int seen[IN_ORDER];
} sequence;

typedef struct step {
  sequence *seq;
  int number;
} step;

static void record_step(void *ctx, va_loop *loop) {
  (void)loop;
  step *s = ctx;
  int at = atomic_load(&s->seq->n);
  s->seq->seen[at] = s->number;
  atomic_store(&s->seq->n, at + 1);
}

static void runs_in_the_order_posted(void **state) {
  (void)state;
  va_runtime *rt = start_runtime(2);
  sequence seq = {0};
  step steps[IN_ORDER];
  for (int i = 0; i < IN_ORDER; i++) {
    steps[i] = (step){&seq, i};
    assert_int_equal(va_loop_run(rt, 1, record_step, &steps[i]), 0);
  }
  wait_for(&seq.n, IN_ORDER);
  for (int i = 0; i < IN_ORDER; i++)
    assert_int_equal(seq.seen[i], i);
  assert_int_equal(va_runtime_stop(rt), 0);
  va_runtime_free(rt);
}

/* ---- Watching descriptors ---- */

typedef struct errors {
  va_runtime *rt;
  int pipe_rd, file_fd;
  int bad_fd, regular_file, unknown_bit, no_fn, twice, first;
  int rewatch_unwatched, unwatch_unwatched, unwatch_bad, unwatch_ok;
  atomic_int done;
} errors;

static void ignore_io(void *ctx, uint32_t events) {
  (void)ctx;
  (void)events;
}

static void try_bad_watches(void *ctx, va_loop *loop) {
  errors *e = ctx;
  va_loop_watcher ok = {.fn = ignore_io}, no_fn = {.fn = NULL};
  e->bad_fd = va_loop_watch(loop, -1, VA_LOOP_READABLE, &ok);
  e->regular_file = va_loop_watch(loop, e->file_fd, VA_LOOP_READABLE, &ok);
  e->unknown_bit = va_loop_watch(loop, e->pipe_rd, 1u << 31, &ok);
  e->no_fn = va_loop_watch(loop, e->pipe_rd, VA_LOOP_READABLE, &no_fn);
  e->rewatch_unwatched =
      va_loop_rewatch(loop, e->pipe_rd, VA_LOOP_READABLE, &ok);
  e->unwatch_unwatched = va_loop_unwatch(loop, e->pipe_rd);
  e->unwatch_bad = va_loop_unwatch(loop, -1);
  e->first = va_loop_watch(loop, e->pipe_rd, VA_LOOP_READABLE, &ok);
  e->twice = va_loop_watch(loop, e->pipe_rd, VA_LOOP_READABLE, &ok);
  e->unwatch_ok = va_loop_unwatch(loop, e->pipe_rd);
  atomic_store(&e->done, 1);
}

static void watch_errors_returned(void **state) {
  (void)state;
  va_runtime *rt = start_runtime(1);
  int p[2];
  assert_int_equal(pipe(p), 0);
  char path[] = "/tmp/vactor-test-loop-XXXXXX";
  int file = mkstemp(path);
  assert_true(file >= 0);
  unlink(path);
  /* Off the loop's thread: refused. */
  va_loop_watcher ok = {.fn = ignore_io};
  va_loop *loop = va_runtime_loop(rt, 0);
  assert_non_null(loop);
  assert_int_equal(va_loop_watch(loop, p[0], VA_LOOP_READABLE, &ok), VA_ESTATE);
  assert_int_equal(va_loop_unwatch(loop, p[0]), VA_ESTATE);
  errors e = {.rt = rt, .pipe_rd = p[0], .file_fd = file};
  assert_int_equal(va_loop_run(rt, 0, try_bad_watches, &e), 0);
  wait_for(&e.done, 1);
  assert_int_equal(e.bad_fd, VA_EINVAL);
  assert_int_equal(e.regular_file, VA_EINVAL);
  assert_int_equal(e.unknown_bit, VA_EINVAL);
  assert_int_equal(e.no_fn, VA_EINVAL);
  assert_int_equal(e.rewatch_unwatched, VA_ENOTFOUND);
  assert_int_equal(e.unwatch_unwatched, VA_ENOTFOUND);
  assert_int_equal(e.unwatch_bad, VA_EINVAL);
  assert_int_equal(e.first, 0);
  assert_int_equal(e.twice, VA_EEXIST);
  assert_int_equal(e.unwatch_ok, 0);
  assert_int_equal(va_runtime_stop(rt), 0);
  va_runtime_free(rt);
  close(p[0]);
  close(p[1]);
  close(file);
}

/* A pipe's read end watched on worker 1: each byte written is read there,
 * and the watcher unwatches itself after the third. */
typedef struct reader {
  va_runtime *rt;
  va_loop *loop;
  va_loop_watcher watcher;
  int fd;
  atomic_int bytes;
  bool on_its_loop; /* every call was on the loop's thread */
  int watch_rc, unwatch_rc;
  atomic_int watching;
} reader;

static void on_readable(void *ctx, uint32_t events) {
  reader *r = ctx;
  r->on_its_loop &=
      va_loop_current(r->rt) == r->loop && (events & VA_LOOP_READABLE);
  char c;
  if (read(r->fd, &c, 1) == 1 && atomic_fetch_add(&r->bytes, 1) + 1 == 3)
    r->unwatch_rc = va_loop_unwatch(r->loop, r->fd);
}

static void start_reading(void *ctx, va_loop *loop) {
  reader *r = ctx;
  r->loop = loop;
  r->watcher = (va_loop_watcher){.fn = on_readable, .ctx = r};
  r->watch_rc = va_loop_watch(loop, r->fd, VA_LOOP_READABLE, &r->watcher);
  atomic_store(&r->watching, 1);
}

static void readiness_delivered_on_the_loop(void **state) {
  (void)state;
  va_runtime *rt = start_runtime(2);
  int p[2];
  assert_int_equal(pipe2(p, O_NONBLOCK), 0);
  reader r = {.rt = rt, .fd = p[0], .on_its_loop = true, .unwatch_rc = 1};
  assert_int_equal(va_loop_run(rt, 1, start_reading, &r), 0);
  wait_for(&r.watching, 1);
  assert_int_equal(r.watch_rc, 0);
  for (int i = 1; i <= 3; i++) {
    assert_int_equal(write(p[1], "x", 1), 1);
    wait_for(&r.bytes, i);
  }
  assert_int_equal(write(p[1], "y", 1), 1); /* unwatched: never read */
  assert_int_equal(va_runtime_stop(rt), 0); /* joins the workers */
  assert_int_equal(atomic_load(&r.bytes), 3);
  assert_int_equal(r.unwatch_rc, 0);
  assert_true(r.on_its_loop);
  va_runtime_free(rt);
  close(p[0]);
  close(p[1]);
}

/* Two pipes ready in one batch: whichever watcher runs first unwatches
 * both and "frees" the other (marks it); the other must not be called. */
typedef struct twin {
  struct twins *all;
  va_loop_watcher watcher;
  int fd;
  bool freed;
} twin;

typedef struct twins {
  va_loop *loop;
  twin t[2];
  atomic_int calls, calls_after_free, set_up;
  int watch_rc[2], unwatch_rc[2];
} twins;

static void on_twin(void *ctx, uint32_t events) {
  (void)events;
  twin *self = ctx;
  twins *all = self->all;
  atomic_fetch_add(&all->calls, 1);
  if (self->freed) {
    atomic_fetch_add(&all->calls_after_free, 1);
    return;
  }
  for (int i = 0; i < 2; i++) {
    all->unwatch_rc[i] = va_loop_unwatch(all->loop, all->t[i].fd);
    all->t[i].freed = &all->t[i] != self;
  }
}

static void watch_twins(void *ctx, va_loop *loop) {
  twins *all = ctx;
  all->loop = loop;
  for (int i = 0; i < 2; i++) {
    all->t[i].watcher = (va_loop_watcher){.fn = on_twin, .ctx = &all->t[i]};
    all->watch_rc[i] =
        va_loop_watch(loop, all->t[i].fd, VA_LOOP_READABLE, &all->t[i].watcher);
  }
  atomic_store(&all->set_up, 1);
}

static void unwatch_forgets_the_rest_of_the_batch(void **state) {
  (void)state;
  va_runtime *rt = start_runtime(1);
  twins all = {0};
  int p[2][2];
  for (int i = 0; i < 2; i++) {
    assert_int_equal(pipe2(p[i], O_NONBLOCK), 0);
    assert_int_equal(write(p[i][1], "x", 1), 1); /* ready before watched */
    all.t[i] = (twin){.all = &all, .fd = p[i][0]};
  }
  assert_int_equal(va_loop_run(rt, 0, watch_twins, &all), 0);
  wait_for(&all.set_up, 1);
  wait_for(&all.calls, 1);
  assert_int_equal(va_runtime_stop(rt), 0);
  assert_int_equal(all.watch_rc[0], 0);
  assert_int_equal(all.watch_rc[1], 0);
  assert_int_equal(all.unwatch_rc[0], 0);
  assert_int_equal(all.unwatch_rc[1], 0);
  assert_int_equal(atomic_load(&all.calls), 1);
  assert_int_equal(atomic_load(&all.calls_after_free), 0);
  va_runtime_free(rt);
  for (int i = 0; i < 2; i++) {
    close(p[i][0]);
    close(p[i][1]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(run_refused_before_start_and_after_stop),
      cmocka_unit_test(run_on_each_worker),
      cmocka_unit_test(run_from_a_worker_on_another),
      cmocka_unit_test(runs_in_the_order_posted),
      cmocka_unit_test(watch_errors_returned),
      cmocka_unit_test(readiness_delivered_on_the_loop),
      cmocka_unit_test(unwatch_forgets_the_rest_of_the_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
