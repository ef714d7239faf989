/* metrics.c — see metrics.h: counting on the worker (a lookup by the
 * route's address in a small open-addressing index, a few relaxed stores)
 * and writing the sums in the Prometheus text format (version 0.0.4). */
#include "metrics.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of the latency buckets, in ns; the last bucket is +Inf. */
static const uint64_t bound_ns[VA__HTTP_BUCKETS - 1] = {
    500000,     1000000,    2500000,   5000000,   10000000,
    25000000,   50000000,   100000000, 250000000, 500000000,
    1000000000, 2500000000, 5000000000};
const double va__http_bound_s[VA__HTTP_BUCKETS - 1] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
static const char *const bound_label[VA__HTTP_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "+Inf"};

va__http_stats *va__http_stats_new(void) {
  size_t size = (sizeof(va__http_stats) + 63) / 64 * 64;
  va__http_stats *st = aligned_alloc(64, size);
  if (st)
    memset(st, 0, size);
  return st;
}

/* ---- Counting (owner) ---- */

static uint32_t slot_of(const char *route, int status, uint32_t slots) {
  uint64_t h = ((uint64_t)(uintptr_t)route ^ (uint64_t)status << 48) *
               0x9e3779b97f4a7c15u;
  return (uint32_t)(h >> 40) & (slots - 1);
}

/* The series of (route, status), added if new; NULL when the table is
 * full. */
static va__http_series *series_of(va__http_stats *st, const char *route,
                                  int status) {
  uint32_t slots = VA__HTTP_SERIES * 2;
  for (uint32_t i = slot_of(route, status, slots);; i = (i + 1) & (slots - 1)) {
    uint16_t e = st->series_slot[i];
    if (e && st->series[e - 1].route == route &&
        st->series[e - 1].status == status)
      return &st->series[e - 1];
    if (e)
      continue;
    uint32_t n = va_load_relaxed(&st->n_series);
    if (n == VA__HTTP_SERIES)
      return NULL;
    st->series[n].route = route;
    st->series[n].status = status;
    st->series_slot[i] = (uint16_t)(n + 1);
    /* Release: a reader that sees n + 1 sees the entry filled. */
    va_store_rel(&st->n_series, n + 1);
    return &st->series[n];
  }
}

/* The histogram of route, added if new; NULL when the table is full. */
static va__http_latency *latency_of(va__http_stats *st, const char *route) {
  uint32_t slots = VA__HTTP_ROUTES * 2;
  for (uint32_t i = slot_of(route, 0, slots);; i = (i + 1) & (slots - 1)) {
    uint16_t e = st->latency_slot[i];
    if (e && st->latency[e - 1].route == route)
      return &st->latency[e - 1];
    if (e)
      continue;
    uint32_t n = va_load_relaxed(&st->n_latency);
    if (n == VA__HTTP_ROUTES)
      return NULL;
    st->latency[n].route = route;
    st->latency_slot[i] = (uint16_t)(n + 1);
    va_store_rel(&st->n_latency, n + 1); /* as in series_of */
    return &st->latency[n];
  }
}

void va__http_stats_request(va__http_stats *st, const char *route, int status,
                            uint64_t ns) {
  va__http_series *s = series_of(st, route, status);
  va__http_latency *l = latency_of(st, route);
  if (!s || !l) {
    va_count(st->unrecorded, 1);
    return;
  }
  va_count(s->n, 1);
  unsigned b = 0;
  while (b < VA__HTTP_BUCKETS - 1 && ns > bound_ns[b])
    b++;
  va_count(l->buckets[b], 1);
  va_count(l->sum_ns, ns);
  va_count(l->count, 1);
}

/* ---- Summing (any thread) ---- */

static int by_route_status(const void *a, const void *b) {
  const va__http_series_sum *x = a, *y = b;
  int c = strcmp(x->route, y->route);
  return c ? c : (x->status > y->status) - (x->status < y->status);
}

static int by_route(const void *a, const void *b) {
  return strcmp(((const va__http_latency_sum *)a)->route,
                ((const va__http_latency_sum *)b)->route);
}

size_t va__http_sum_series(va__http_stats *const *stats, unsigned workers,
                           va__http_series_sum *out, size_t room) {
  size_t n = 0;
  for (unsigned w = 0; w < workers; w++) {
    uint32_t count = va_load_acq(&stats[w]->n_series);
    for (uint32_t i = 0; i < count; i++) {
      const va__http_series *s = &stats[w]->series[i];
      size_t j = 0;
      while (j < n &&
             (out[j].status != s->status || strcmp(out[j].route, s->route)))
        j++;
      if (j == n && n == room)
        continue; /* published after the tables were sized */
      if (j == n)
        out[n++] = (va__http_series_sum){s->route, s->status, 0};
      out[j].n += va_load_relaxed(&s->n);
    }
  }
  qsort(out, n, sizeof(*out), by_route_status);
  return n;
}

size_t va__http_sum_latency(va__http_stats *const *stats, unsigned workers,
                            va__http_latency_sum *out, size_t room) {
  size_t n = 0;
  for (unsigned w = 0; w < workers; w++) {
    uint32_t count = va_load_acq(&stats[w]->n_latency);
    for (uint32_t i = 0; i < count; i++) {
      const va__http_latency *l = &stats[w]->latency[i];
      size_t j = 0;
      while (j < n && strcmp(out[j].route, l->route))
        j++;
      if (j == n && n == room)
        continue;
      if (j == n)
        out[n++] = (va__http_latency_sum){.route = l->route};
      for (unsigned b = 0; b < VA__HTTP_BUCKETS; b++)
        out[j].buckets[b] += va_load_relaxed(&l->buckets[b]);
      out[j].sum_ns += va_load_relaxed(&l->sum_ns);
      out[j].count += va_load_relaxed(&l->count);
    }
  }
  qsort(out, n, sizeof(*out), by_route);
  return n;
}

/* ---- Writing ---- */

int va_http_prom_family(va_http_response *res, const char *name,
                        const char *kind, const char *help) {
  return va_http_printf(res, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                        kind);
}

int va_http_prom_label(va_http_response *res, const char *v) {
  int rc = 0;
  for (const char *run = v;; v++) {
    if (*v && *v != '\\' && *v != '"' && *v != '\n')
      continue;
    rc |= va_http_write(res, run, (size_t)(v - run));
    if (!*v)
      return rc;
    rc |= va_http_write(res,
                        *v == '\n'  ? "\\n"
                        : *v == '"' ? "\\\""
                                    : "\\\\",
                        2);
    run = v + 1;
  }
}

static int write_requests(va_http_response *res, const va__http_series_sum *s,
                          size_t n, uint64_t unrecorded) {
  int rc = va_http_prom_family(res, "vactor_http_requests_total", "counter",
                               "HTTP requests answered, by route and status.");
  for (size_t i = 0; i < n; i++) {
    rc |= va_http_printf(res, "vactor_http_requests_total{route=\"");
    rc |= va_http_prom_label(res, s[i].route);
    rc |= va_http_printf(res, "\",status=\"%d\"} %llu\n", s[i].status,
                         (unsigned long long)s[i].n);
  }
  rc |= va_http_prom_family(
      res, "vactor_http_requests_unrecorded_total", "counter",
      "Requests left out of the route metrics (tables full).");
  rc |= va_http_printf(res, "vactor_http_requests_unrecorded_total %llu\n",
                       (unsigned long long)unrecorded);
  return rc;
}

/* One line of a route's histogram: name suffix, optional le, value. */
static int histogram_line(va_http_response *res, const char *suffix,
                          const char *route, const char *le,
                          const char *value) {
  int rc = va_http_printf(res,
                          "vactor_http_request_duration_seconds%s"
                          "{route=\"",
                          suffix);
  rc |= va_http_prom_label(res, route);
  if (le)
    rc |= va_http_printf(res, "\",le=\"%s", le);
  rc |= va_http_printf(res, "\"} %s\n", value);
  return rc;
}

static int write_latency(va_http_response *res, const va__http_latency_sum *l,
                         size_t n) {
  int rc = va_http_prom_family(
      res, "vactor_http_request_duration_seconds", "histogram",
      "Time from a request parsed to its response queued.");
  char v[32];
  for (size_t i = 0; i < n; i++) {
    uint64_t cumulative = 0;
    for (unsigned b = 0; b < VA__HTTP_BUCKETS; b++) {
      cumulative += l[i].buckets[b];
      snprintf(v, sizeof(v), "%llu", (unsigned long long)cumulative);
      rc |= histogram_line(res, "_bucket", l[i].route, bound_label[b], v);
    }
    snprintf(v, sizeof(v), "%.9f", (double)l[i].sum_ns / 1e9);
    rc |= histogram_line(res, "_sum", l[i].route, NULL, v);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)l[i].count);
    rc |= histogram_line(res, "_count", l[i].route, NULL, v);
  }
  return rc;
}

/* The connection counters, summed. */
static int write_connections(va_http_response *res,
                             va__http_stats *const *stats, unsigned workers,
                             uint64_t open, uint64_t handoffs_failed) {
  uint64_t total = 0, refused = 0, idle = 0, request = 0;
  for (unsigned w = 0; w < workers; w++) {
    total += va_load_relaxed(&stats[w]->conns_total);
    refused += va_load_relaxed(&stats[w]->refused);
    idle += va_load_relaxed(&stats[w]->idle_timeouts);
    request += va_load_relaxed(&stats[w]->request_timeouts);
  }
  const char *c = "vactor_http_connections";
  int rc = va_http_prom_family(res, c, "gauge", "Open client connections.");
  rc |= va_http_printf(res, "%s %llu\n", c, (unsigned long long)open);
  rc |= va_http_prom_family(res, "vactor_http_connections_total", "counter",
                            "Client connections accepted.");
  rc |= va_http_printf(res, "%s_total %llu\n", c, (unsigned long long)total);
  rc |= va_http_prom_family(
      res, "vactor_http_connections_refused_total", "counter",
      "Connections refused with a 503 (over max_connections).");
  rc |= va_http_printf(res, "%s_refused_total %llu\n", c,
                       (unsigned long long)refused);
  rc |=
      va_http_prom_family(res, "vactor_http_client_timeouts_total", "counter",
                          "Connections closed for a timeout: idle (quietly) or "
                          "request (408).");
  rc |= va_http_printf(res,
                       "vactor_http_client_timeouts_total{kind=\"idle\"} %llu\n"
                       "vactor_http_client_timeouts_total{kind=\"request\"} "
                       "%llu\n",
                       (unsigned long long)idle, (unsigned long long)request);
  rc |= va_http_prom_family(
      res, "vactor_http_handoffs_failed_total", "counter",
      "Answers that could not be handed to their connection's "
      "worker (out of memory, or the runtime stopping): sent by "
      "its sweep, then the "
      "connection closed.");
  rc |= va_http_printf(res, "vactor_http_handoffs_failed_total %llu\n",
                       (unsigned long long)handoffs_failed);
  return rc;
}

int va__http_stats_write(va_http_response *res, va__http_stats *const *stats,
                         unsigned n, uint64_t open, uint64_t handoffs_failed) {
  size_t max_series = 0, max_latency = 0;
  uint64_t unrecorded = 0;
  for (unsigned w = 0; w < n; w++) {
    max_series += va_load_acq(&stats[w]->n_series);
    max_latency += va_load_acq(&stats[w]->n_latency);
    unrecorded += va_load_relaxed(&stats[w]->unrecorded);
  }
  /* Tables may grow meanwhile; what is summed below stops at these. */
  va__http_series_sum *s = malloc((max_series ? max_series : 1) * sizeof(*s));
  va__http_latency_sum *l =
      malloc((max_latency ? max_latency : 1) * sizeof(*l));
  int rc = VA_ENOMEM;
  if (s && l) {
    size_t ns = va__http_sum_series(stats, n, s, max_series);
    size_t nl = va__http_sum_latency(stats, n, l, max_latency);
    rc = write_requests(res, s, ns, unrecorded) | write_latency(res, l, nl) |
         write_connections(res, stats, n, open, handoffs_failed);
    rc = rc ? VA_ENOMEM : 0;
  }
  free(s);
  free(l);
  return rc;
}
