/* log_sink.c — the bounded log buffer and its writer thread (log_sink.h).
 * Two buffers of capacity/2 bytes: producers append to the filling one
 * under the lock; the writer swaps it for the empty one and writes it out
 * without the lock, so a producer holds the lock for a memcpy at most. */
#include "log_sink.h"
#include "../base/clock.h"
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct va__log_sink {
  int fd;
  size_t half; /* each buffer's size */
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake; /* lines queued, or stopping */
  /* Under lock. */
  char *filling; /* producers append here */
  size_t filled;
  unsigned long long dropped; /* lines, since the start */
  unsigned long long told;    /* of those, already reported */
  bool stopping;
  /* The writer's own. */
  char *draining;
};

/* Writes all of buf to fd; false when fd refuses (then the rest is lost:
 * there is nowhere else to say it). */
static bool write_all(int fd, const char *buf, size_t len) {
  while (len) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    buf += n;
    len -= (size_t)n;
  }
  return true;
}

static void report_dropped(va__log_sink *s, unsigned long long lines) {
  char ts[32], line[160];
  time_t now = time(NULL);
  struct tm tm;
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  int n = snprintf(line, sizeof(line),
                   "ts=%s level=warn msg=\"log lines dropped\" lines=%llu "
                   "why=\"the log's reader is slower than the server\"\n",
                   ts, lines);
  if (n > 0 && (size_t)n < sizeof(line))
    write_all(s->fd, line, (size_t)n);
}

static void *writer(void *arg) {
  va__log_sink *s = arg;
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (!s->filled && s->told == s->dropped && !s->stopping)
      pthread_cond_wait(&s->wake, &s->lock);
    if (!s->filled && s->told == s->dropped) /* stopping, all written */
      break;
    char *full = s->filling;
    size_t len = s->filled;
    s->filling = s->draining;
    s->filled = 0;
    s->draining = full;
    unsigned long long news = s->dropped - s->told;
    s->told = s->dropped;
    pthread_mutex_unlock(&s->lock);
    write_all(s->fd, full, len);
    if (news)
      report_dropped(s, news);
    pthread_mutex_lock(&s->lock);
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

int va__log_sink_start(int fd, size_t capacity, va__log_sink **out) {
  *out = NULL;
  va__log_sink *s = calloc(1, sizeof(*s));
  if (!s)
    return ENOMEM;
  s->fd = fd;
  s->half = capacity / 2 ? capacity / 2 : 1;
  s->filling = malloc(s->half);
  s->draining = malloc(s->half);
  int rc = s->filling && s->draining ? 0 : ENOMEM;
  if (rc == 0 && (rc = pthread_mutex_init(&s->lock, NULL)) == 0) {
    if ((rc = pthread_cond_init(&s->wake, NULL)) == 0) {
      if ((rc = pthread_create(&s->thread, NULL, writer, s)) == 0) {
        *out = s;
        return 0;
      }
      pthread_cond_destroy(&s->wake);
    }
    pthread_mutex_destroy(&s->lock);
  }
  free(s->filling);
  free(s->draining);
  free(s);
  return rc;
}

static unsigned long long count_lines(const char *p, size_t len) {
  unsigned long long n = 0;
  for (const char *end = p + len; (p = memchr(p, '\n', (size_t)(end - p))); p++)
    n++;
  return n ? n : 1;
}

void va__log_sink_put(va__log_sink *s, const char *lines, size_t len) {
  if (!len)
    return;
  pthread_mutex_lock(&s->lock);
  if (len <= s->half - s->filled) {
    memcpy(s->filling + s->filled, lines, len);
    if (!s->filled)
      pthread_cond_signal(&s->wake);
    s->filled += len;
  } else {
    s->dropped += count_lines(lines, len);
    pthread_cond_signal(&s->wake);
  }
  pthread_mutex_unlock(&s->lock);
}

unsigned long long va__log_sink_dropped(va__log_sink *s) {
  pthread_mutex_lock(&s->lock);
  unsigned long long n = s->dropped;
  pthread_mutex_unlock(&s->lock);
  return n;
}

bool va__log_sink_stop(va__log_sink *s, unsigned wait_ms) {
  if (!s)
    return true;
  pthread_mutex_lock(&s->lock);
  s->stopping = true;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
  struct timespec until = va_clock_deadline(wait_ms);
  if (pthread_timedjoin_np(s->thread, NULL, &until) != 0)
    return false; /* the writer is stuck in write(): leave it the sink */
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->lock);
  free(s->filling);
  free(s->draining);
  free(s);
  return true;
}
