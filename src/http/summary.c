/* summary.c — the HTTP server's counters summed for a live view
 * (va_http_summarize): per route, requests, 4xx and 5xx answers and the
 * latency histogram, from the same per-worker tables as the metrics. */
#include "metrics.h"
#include <stdlib.h>
#include <string.h>

_Static_assert((int)VA_HTTP_LATENCY_BUCKETS == (int)VA__HTTP_BUCKETS,
               "the summary's buckets are the metrics' buckets");

/* Adds the series' counts to the route's summary (both sorted by route). */
static void add_series(va_http_route_summary *routes, size_t n,
                       const va__http_series_sum *s, size_t ns) {
  size_t r = 0;
  for (size_t i = 0; i < ns; i++) {
    while (r < n && strcmp(routes[r].route, s[i].route) < 0)
      r++;
    if (r == n)
      return;
    if (strcmp(routes[r].route, s[i].route))
      continue; /* published between the two sums */
    if (s[i].status >= 500)
      routes[r].server_errors += s[i].n;
    else if (s[i].status >= 400)
      routes[r].client_errors += s[i].n;
  }
}

int va__http_stats_summary(va__http_stats *const *stats, unsigned n,
                           uint64_t open, va_http_summary *out) {
  *out = (va_http_summary){.open = open,
                           .bounds_s = va__http_bound_s,
                           .n_bounds = VA__HTTP_BUCKETS - 1};
  size_t max_series = 0, max_latency = 0;
  for (unsigned w = 0; w < n; w++) {
    max_series += va_load_acq(&stats[w]->n_series);
    max_latency += va_load_acq(&stats[w]->n_latency);
    out->accepted += va_load_relaxed(&stats[w]->conns_total);
    out->refused += va_load_relaxed(&stats[w]->refused);
  }
  va__http_series_sum *s = malloc((max_series ? max_series : 1) * sizeof(*s));
  va__http_latency_sum *l =
      malloc((max_latency ? max_latency : 1) * sizeof(*l));
  out->routes = calloc(max_latency ? max_latency : 1, sizeof(*out->routes));
  if (!s || !l || !out->routes) {
    free(s);
    free(l);
    va_http_summary_free(out);
    return VA_ENOMEM;
  }
  size_t nl = va__http_sum_latency(stats, n, l, max_latency);
  for (size_t i = 0; i < nl; i++) {
    va_http_route_summary *r = &out->routes[i];
    r->route = l[i].route;
    r->requests = l[i].count;
    memcpy(r->buckets, l[i].buckets, sizeof(r->buckets));
  }
  out->n_routes = nl;
  add_series(out->routes, nl, s, va__http_sum_series(stats, n, s, max_series));
  free(s);
  free(l);
  return 0;
}

void va_http_summary_free(va_http_summary *summary) {
  free(summary->routes);
  summary->routes = NULL;
  summary->n_routes = 0;
}
