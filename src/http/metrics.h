/* metrics.h — the HTTP server's counters, internal to src/http/: one
 * va__http_stats per worker, written only by that worker (plain relaxed
 * stores, no lock, no cache line shared with another writer), read by
 * va_http_metrics on any thread, which sums them and writes Prometheus
 * text. Requests are counted by (route, status) and timed per route in a
 * fixed-size table each; an entry, once published, never changes but its
 * counters, so a reader needs no lock. */
#ifndef VA_HTTP_METRICS_H
#define VA_HTTP_METRICS_H

#include "../base/atomics.h"
#include "server.h"
#include <stdalign.h>

enum {
  VA__HTTP_BUCKETS = 14,  /* latency buckets, the last one +Inf */
  VA__HTTP_SERIES = 1024, /* (route, status) pairs per worker */
  VA__HTTP_ROUTES = 256,  /* routes with a histogram per worker */
};

/* Requests answered with one status on one route. */
typedef struct va__http_series {
  const char *route; /* set before publication, then read-only */
  int status;
  va_counter n;
} va__http_series;

/* The latency histogram of one route (bucket counts not cumulative). */
typedef struct va__http_latency {
  const char *route;
  va_counter buckets[VA__HTTP_BUCKETS];
  va_counter sum_ns, count;
} va__http_latency;

typedef struct va__http_stats {
  /* Written by the owning worker, read by any thread. */
  alignas(64) va_counter conns_total, refused, idle_timeouts, request_timeouts,
      unrecorded;
  /* Entries [0, n) are published: stored with release after the entry is
   * filled, loaded with acquire by readers. */
  _Atomic uint32_t n_series, n_latency;
  va__http_series series[VA__HTTP_SERIES];
  va__http_latency latency[VA__HTTP_ROUTES];
  /* Owner only: open-addressing indexes into the tables (entry + 1, 0 for
   * a free slot), keyed by the route's address. */
  uint16_t series_slot[VA__HTTP_SERIES * 2];
  uint16_t latency_slot[VA__HTTP_ROUTES * 2];
} va__http_stats;

/* A zeroed va__http_stats on its own cache lines (owned by the caller,
 * freed with free()), or NULL. */
va__http_stats *va__http_stats_new(void);
/* Owner: counts one answered request of route (never NULL) with status,
 * which took ns from parsed to queued. */
void va__http_stats_request(va__http_stats *st, const char *route, int status,
                            uint64_t ns);
/* One route's sums over every worker. */
typedef struct va__http_series_sum {
  const char *route;
  int status;
  uint64_t n;
} va__http_series_sum;

typedef struct va__http_latency_sum {
  const char *route;
  uint64_t buckets[VA__HTTP_BUCKETS], sum_ns, count;
} va__http_latency_sum;

/* Any thread: sums the (route, status) series of the n workers' stats
 * into out (room entries; equal route strings at different addresses are
 * one series), sorted by route and status. Returns the count. */
size_t va__http_sum_series(va__http_stats *const *stats, unsigned n,
                           va__http_series_sum *out, size_t room);
/* As va__http_sum_series, for the latency histograms, sorted by route. */
size_t va__http_sum_latency(va__http_stats *const *stats, unsigned n,
                            va__http_latency_sum *out, size_t room);
/* Upper bounds of the latency buckets but the last (+Inf), in seconds. */
extern const double va__http_bound_s[VA__HTTP_BUCKETS - 1];

/* Any thread: the summary of va_http_summarize (summary.c). */
int va__http_stats_summary(va__http_stats *const *stats, unsigned n,
                           uint64_t open, va_http_summary *out);

/* Any thread: appends the sum of the n workers' stats, the gauge of open
 * connections and the count of replies whose hand-off to their
 * connection's worker failed, to res. 0 or VA_ENOMEM. */
int va__http_stats_write(va_http_response *res, va__http_stats *const *stats,
                         unsigned n, uint64_t open, uint64_t handoffs_failed);

#endif
