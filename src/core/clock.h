/* clock.h — monotonic time in milliseconds and nanoseconds. */
#ifndef VA_CORE_CLOCK_H
#define VA_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t va__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t va__now_ms(void) { return va__now_ns() / 1000000u; }

/* Cheap (a few ns, a few ms of resolution): for checks made per message. */
static inline uint64_t va__coarse_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
