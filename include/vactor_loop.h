/*
 * vactor_loop.h — the workers' event loops, for code that serves file
 * descriptors on them (the HTTP server, a node link): part of libvactor.
 *
 * Each worker thread of a runtime runs one loop (epoll, level-triggered).
 * A loop watches file descriptors and calls their watcher on its own thread
 * when they are ready, between the actors' turns; it also runs functions
 * posted to it from any thread (va_loop_run). A callback runs on the
 * loop's thread and must not block: a slow callback delays every actor and
 * every descriptor of that worker.
 *
 * Threads. va_loop_run, va_loop_current, va_runtime_loop and va_loop_index
 * may be called from any thread; watching (va_loop_watch, _rewatch,
 * _unwatch) only on the loop's own thread (from a watcher, from a function
 * posted with va_loop_run, or from a turn running on that worker);
 * elsewhere it fails with VA_ESTATE.
 *
 * Errors and memory follow vactor.h: 0 or a negative VA_E* code; a call
 * that fails never calls its callback; the watcher records are the
 * caller's.
 */
#ifndef VACTOR_LOOP_H
#define VACTOR_LOOP_H

#include "vactor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One worker's loop (opaque); it lives as long as its runtime. */
typedef struct va_loop va_loop;

/* What a descriptor is watched for, and what its watcher is told. The
 * values are epoll's (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLHUP),
 * so either spelling may be used. ERROR and HANGUP are always reported,
 * whatever was asked. */
enum va_loop_events {
  VA_LOOP_READABLE = 0x001,    /* input is waiting (or the end of it) */
  VA_LOOP_WRITABLE = 0x004,    /* output would not block */
  VA_LOOP_ERROR = 0x008,       /* the descriptor failed */
  VA_LOOP_HANGUP = 0x010,      /* both directions are closed */
  VA_LOOP_PEER_CLOSED = 0x2000 /* the peer shut down its writing side */
};

/* Called on the loop's thread when a watched descriptor is ready: events
 * is the va_loop_events that hold (level-triggered: it is called again at
 * the next pass while they still hold). It may watch, rewatch and unwatch
 * any descriptor, and free the watcher of any descriptor it unwatched (its
 * own included): the loop forgets readiness it had not delivered yet. */
typedef void (*va_loop_io_fn)(void *ctx, uint32_t events);

/* A watch, embedded by the caller (who owns it) and alive as long as its
 * descriptor is watched; one watcher per descriptor. fn and ctx are the
 * caller's to set; fd is the loop's. */
typedef struct va_loop_watcher {
  va_loop_io_fn fn;
  void *ctx;
  int fd; /* set by va_loop_watch / va_loop_rewatch */
} va_loop_watcher;

/* The loop of the worker running on this thread, if it is one of rt's;
 * NULL on any other thread (so "va_loop_current(rt) == loop" tells a
 * caller whether it is on loop's thread). Any thread; no system call. */
va_loop *va_loop_current(const va_runtime *rt);

/* The loop of rt's worker `index` (0 .. va_runtime_threads(rt) - 1), or
 * NULL for an index out of range or a runtime that was never started. Any
 * thread; the pointer stays valid until va_runtime_free. */
va_loop *va_runtime_loop(va_runtime *rt, unsigned index);

/* The loop's worker index, in [0, va_runtime_threads(rt)). Any thread. */
unsigned va_loop_index(const va_loop *loop);

/* Starts watching fd (a socket, pipe, eventfd, timerfd...: what epoll
 * takes; the caller keeps owning it) for events (READABLE, WRITABLE,
 * PEER_CLOSED; 0 for errors and hang-ups only), calling watcher->fn
 * (watcher->ctx, events) when ready. Loop's thread only. Returns 0,
 * VA_EINVAL (a descriptor epoll refuses, NULL watcher or fn, an unknown
 * event bit), VA_EEXIST (fd is watched already), VA_ENOMEM, VA_ESTATE (not
 * on the loop's thread) or VA_ESYS; after a failed system call errno is
 * its reason (for a log line). */
int va_loop_watch(va_loop *loop, int fd, uint32_t events,
                  va_loop_watcher *watcher);

/* Changes what a watched fd is watched for (and, if another record is
 * given, its watcher). Loop's thread only. Returns 0, VA_ENOTFOUND (fd is
 * not watched), VA_EINVAL, VA_ENOMEM, VA_ESTATE or VA_ESYS. */
int va_loop_rewatch(va_loop *loop, int fd, uint32_t events,
                    va_loop_watcher *watcher);

/* Stops watching fd (before the caller closes it): from the return on,
 * its watcher is never called again and may be freed. Loop's thread only.
 * Returns 0, VA_ENOTFOUND (fd is not watched), VA_EINVAL (a bad fd),
 * VA_ESTATE or VA_ESYS. */
int va_loop_unwatch(va_loop *loop, int fd);

/* A function posted to a loop; runs on the loop's thread. */
typedef void (*va_loop_fn)(void *ctx, va_loop *loop);

/* Runs fn(ctx, loop) on the thread of rt's worker `index`, soon: after
 * what that worker is doing now; in the order posted for posts from one
 * thread to one loop. From one of rt's workers the post travels with that
 * worker's other messages to the target (one wake-up per batch); from
 * another thread it costs an allocation and a wake-up. Any thread; ctx is
 * the caller's and must stay valid until fn has run. Returns 0 (fn will
 * run exactly once; from outside the workers even if the runtime is being
 * stopped: stop waits for it), or VA_EINVAL (NULL rt or fn, index out of
 * range), VA_ENOMEM, or VA_ESTOPPED (the runtime was never started, is
 * stopping (for a caller that is not one of its workers) or stopped):
 * then fn never runs. One exception: a post from a worker while the
 * runtime stops may reach a worker that has already left its loop; fn
 * then never runs, so a worker's own clean-up must not depend on it. */
int va_loop_run(va_runtime *rt, unsigned index, va_loop_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif
