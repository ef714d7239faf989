/* helpers.h — actor types and small utilities shared by the runtime tests.
 * Each test builds its own runtime with the configuration it needs. */
#ifndef VA_TEST_HELPERS_H
#define VA_TEST_HELPERS_H

#include "core/runtime.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vactor.h>

static inline void sleep_ms(long ms) {
  nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

static inline uint64_t elapsed_ms(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t ns = (int64_t)(now.tv_sec - since->tv_sec) * 1000000000 +
               (now.tv_nsec - since->tv_nsec);
  return (uint64_t)(ns / 1000000);
}

/* Reads an int64 state key (0 when absent). */
static inline int64_t state_i64(va_turn *t, const char *key) {
  const void *v;
  size_t len;
  int64_t x = 0;
  if (va_turn_state_get(t, key, &v, &len) == 0 && len == sizeof(x))
    memcpy(&x, v, sizeof(x));
  return x;
}

static inline int reply_i64(va_turn *t, int64_t x) {
  return va_turn_reply(t, &x, sizeof(x));
}

static inline int64_t arg_i64(const void *arg, size_t len) {
  int64_t x = 0;
  if (len == sizeof(x))
    memcpy(&x, arg, sizeof(x));
  return x;
}

/* A blocking call with an int64 argument and an int64 reply. */
static inline int call_i64(va_runtime *rt, int type, const char *id, int method,
                           int64_t arg, int64_t *out) {
  void *reply = NULL;
  size_t len = 0;
  int rc = va_call_wait(rt, type, id, strlen(id), method, &arg, sizeof(arg),
                        &reply, &len);
  if (rc == 0 && out) {
    *out = 0;
    if (len == sizeof(*out))
      memcpy(out, reply, len);
  }
  free(reply);
  return rc;
}

/* An id of the form prefix-N whose actor of `type` lives on `worker`. */
static inline void id_on_worker(va_runtime *rt, int type, unsigned worker,
                                const char *prefix, char *out, size_t size) {
  for (int n = 0;; n++) {
    snprintf(out, size, "%s-%d", prefix, n);
    uint64_t h = va__hash_id((uint16_t)type, out, strlen(out));
    if (va__worker_of(rt, h) == worker)
      return;
  }
}

/* A fresh path for a test's SQLite file (removes it, -wal and -shm). */
static inline void db_path(char *out, size_t size, const char *name) {
  snprintf(out, size, "/tmp/vactor-test-%d-%s.db", (int)getpid(), name);
  const char *suffix[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    char aux[320];
    snprintf(aux, sizeof(aux), "%s%s", out, suffix[i]);
    unlink(aux);
  }
}

/* Waits (up to 10 s) until cond() holds. */
#define WAIT_UNTIL(cond)                                                       \
  do {                                                                         \
    for (int wait_i_ = 0; wait_i_ < 10000 && !(cond); wait_i_++)               \
      sleep_ms(1);                                                             \
  } while (0)

#endif
