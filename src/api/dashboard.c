/* dashboard.c — the live dashboard (dashboard.h): its page and files from
 * web/, built into the binary, and GET /dashboard/events, a stream of
 * Server-Sent Events: one snapshot of the node's counters at once, then
 * one a second. Counters are cumulative; the page turns two snapshots
 * into rates and percentiles, so the server keeps nothing per viewer but
 * the stream. Without a viewer nothing here runs. */
#include "dashboard.h"
#include "../../web/web_assets.h"
#include "query.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EVERY_MS = 1000 };

/* What the browser is told about the files: nothing from elsewhere, no
 * inline script, no framing, and the token of ?token= never in a
 * Referer. */
static const struct {
  const char *name, *value;
} PAGE_HEADERS[] = {
    {"Content-Security-Policy",
     "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
};

static void page_headers(va_http_response *res) {
  for (size_t i = 0; i < sizeof(PAGE_HEADERS) / sizeof(PAGE_HEADERS[0]); i++)
    va_http_header(res, PAGE_HEADERS[i].name, PAGE_HEADERS[i].value);
}

/* ---- The snapshot ---- */

static json_t *actors_json(va_runtime *rt, const va_stats *st,
                           const va_routes *r) {
  json_t *by_type = json_array();
  int app_type = r->app ? va_app_channel_type(r->app) : -1;
  for (int t = 0; by_type && t < va_type_count(rt); t++)
    json_array_append_new(
        by_type, json_pack("{s:s, s:I, s:b}", "type", va_type_name(rt, t),
                           "active", (json_int_t)va_runtime_active_of(rt, t),
                           "app", t == app_type));
  return json_pack("{s:I, s:I, s:I, s:o*}", "active",
                   (json_int_t)st->active_actors, "activations",
                   (json_int_t)st->activations, "deactivations",
                   (json_int_t)st->deactivations, "by_type", by_type);
}

static json_t *http_json(va_http_server *srv) {
  va_http_summary sum;
  if (va_http_summarize(srv, &sum))
    return NULL;
  json_t *bounds = json_array(), *routes = json_array();
  for (size_t i = 0; bounds && i < sum.n_bounds; i++)
    json_array_append_new(bounds, json_real(sum.bounds_s[i]));
  for (size_t i = 0; routes && i < sum.n_routes; i++) {
    const va_http_route_summary *r = &sum.routes[i];
    json_t *buckets = json_array();
    for (size_t b = 0; buckets && b < VA_HTTP_LATENCY_BUCKETS; b++)
      json_array_append_new(buckets, json_integer((json_int_t)r->buckets[b]));
    json_array_append_new(
        routes, json_pack("{s:s, s:I, s:I, s:I, s:o*}", "route", r->route,
                          "requests", (json_int_t)r->requests, "errors",
                          (json_int_t)r->server_errors, "client_errors",
                          (json_int_t)r->client_errors, "buckets", buckets));
  }
  json_t *out = json_pack(
      "{s:I, s:I, s:I, s:o*, s:o*}", "connections", (json_int_t)sum.open,
      "accepted", (json_int_t)sum.accepted, "refused", (json_int_t)sum.refused,
      "bounds_s", bounds, "routes", routes);
  va_http_summary_free(&sum);
  return out;
}

/* GET /v1/cluster's document, or null alone. */
static json_t *cluster_json(va_cluster *cluster) {
  char *text = cluster ? va_cluster_json(cluster) : NULL;
  json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
  free(text);
  return doc ? doc : json_null();
}

/* One snapshot as an event ("data: {...}\n\n") appended to res. */
static bool write_event(const va_routes *r, va_http_server *srv,
                        va_http_response *res) {
  va_stats st;
  va_runtime *rt = r->apps.rt;
  va_runtime_stats(rt, &st);
  json_t *cluster = cluster_json(r->cluster);
  json_t *self = json_object_get(cluster, "self");
  int64_t now = va_wall_ms();
  json_t *snap = json_pack(
      "{s:I, s:s, s:O, s:I, s:o*, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, "
      "s:I}, s:{s:I, s:I}, s:o*, s:o}",
      "t", (json_int_t)now, "version", va_version(), "node",
      self ? self : json_null(), "uptime_s",
      (json_int_t)((now - r->started_ms) / 1000), "actors",
      actors_json(rt, &st, r), "turns", (json_int_t)st.turns, "turns_failed",
      (json_int_t)st.turns_failed, "mailbox_depth",
      (json_int_t)st.mailbox_depth, "timeouts", (json_int_t)st.timeouts,
      "deadlocks", (json_int_t)st.deadlocks, "backpressure",
      (json_int_t)st.backpressure, "store", "commits",
      (json_int_t)st.store_commits, "saves", (json_int_t)st.store_saves,
      "failures", (json_int_t)st.store_failures, "reminders", "fired",
      (json_int_t)st.reminders_fired, "due", (json_int_t)st.reminders_due,
      "http", http_json(srv), "cluster", cluster);
  char *text =
      snap ? json_dumps(snap, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
  json_decref(snap);
  bool ok = text && va_http_write(res, "data: ", 6) == 0 &&
            va_http_write(res, text, strlen(text)) == 0 &&
            va_http_write(res, "\n\n", 2) == 0;
  free(text);
  return ok;
}

/* ---- The stream ---- */

typedef struct viewer {
  const va_routes *r;
  va_http_server *srv;
} viewer;

static bool tick(void *ctx, va_http_response *chunk) {
  viewer *v = ctx;
  return write_event(v->r, v->srv, chunk);
}

static void viewer_end(void *ctx) {
  free(ctx);
}

static void events(const va_routes *r, va_http_reply *reply) {
  va_http_response *res = va_http_res(reply);
  viewer *v = malloc(sizeof(*v));
  int rc = v ? 0 : VA_ENOMEM;
  if (rc == 0) {
    *v = (viewer){r, va_http_reply_server(reply)};
    rc = va_http_stream(reply, EVERY_MS, tick, viewer_end, v);
  }
  if (rc) {
    free(v);
    if (rc == VA_EBACKPRESSURE) {
      va_http_header(res, "Retry-After", "5");
      va_http_error(res, 503, "ERR_TOO_MANY_VIEWERS",
                    "too many dashboards are open on this server");
    } else {
      va_http_error(res, 503, "ERR_NO_MEMORY", "out of memory");
    }
    return;
  }
  res->status = 200;
  res->content_type = "text/event-stream";
  /* A reconnecting browser waits 2 s; the first snapshot goes at once. */
  if (va_http_printf(res, "retry: 2000\n\n") || !write_event(r, v->srv, res))
    va_http_error(res, 500, "ERR_NO_MEMORY", "out of memory");
}

/* ---- The page ---- */

/* Whether token can be a cookie's value as it is (RFC 6265's
 * cookie-octet: no space, quote, comma, semicolon or backslash). */
static bool cookie_octets(const char *token) {
  for (const unsigned char *p = (const unsigned char *)token; *p; p++)
    if (*p < 0x21 || *p > 0x7e || *p == '"' || *p == ',' || *p == ';' ||
        *p == '\\')
      return false;
  return true;
}

/* GET /dashboard?token=T (T checked by va_routes_authorize): keeps T in a
 * cookie for the page's own requests, then shows the page without it.
 * SameSite=Lax: a link from elsewhere that carries the token still opens
 * the page, and the cookie only opens GET routes that change nothing. */
static void keep_token(const va_routes *r, va_http_response *res) {
  char cookie[512];
  int n = 0;
  if (r->token && *r->token) {
    n = snprintf(cookie, sizeof(cookie),
                 "%s=%s; Path=/; HttpOnly; SameSite=Lax", VA_DASHBOARD_COOKIE,
                 r->token);
    if (!cookie_octets(r->token) || n < 0 || (size_t)n >= sizeof(cookie)) {
      va_http_error(res, 400, "ERR_TOKEN_NOT_A_COOKIE",
                    "this API token cannot be kept in a cookie; send it as "
                    "the dapr-api-token header");
      return;
    }
  }
  res->status = 303;
  if (va_http_header(res, "Location", "/dashboard") ||
      (n && va_http_header(res, "Set-Cookie", cookie)))
    va_http_error(res, 500, "ERR_NO_MEMORY", "out of memory");
}

static void asset(const char *name, va_http_response *res) {
  const va_web_asset *a = va_web_asset_find(name, strlen(name));
  if (!a) {
    va_http_error(res, 404, "ERR_NOT_FOUND", "no such file of the dashboard");
    return;
  }
  res->status = 200;
  res->content_type = a->content_type;
  va_http_header(res, "Cache-Control", "no-cache");
  if (va_http_write(res, a->data, a->len))
    va_http_error(res, 500, "ERR_NO_MEMORY", "out of memory");
}

bool va_dashboard_route(const va_routes *r, const va_http_request *req,
                        va_http_reply *reply) {
  static const char ROOT[] = "/dashboard";
  size_t n = sizeof(ROOT) - 1;
  if (strncmp(req->path, ROOT, n) || (req->path[n] && req->path[n] != '/'))
    return false;
  const char *name = req->path[n] ? req->path + n + 1 : "";
  bool stream = !strcmp(name, "events");
  char token[256];
  va_http_label(reply, stream ? "dashboard.events" : "dashboard");
  va_http_response *res = va_http_res(reply);
  if (strcmp(req->method, "GET"))
    va_http_error(res, 405, "ERR_METHOD_NOT_ALLOWED", "use GET");
  else if (stream)
    events(r, reply);
  else if (!*name && va_query_get(req->query, "token", token, sizeof(token)))
    keep_token(r, res);
  else
    asset(*name ? name : "index.html", res);
  page_headers(res);
  va_http_done(reply);
  return true;
}
