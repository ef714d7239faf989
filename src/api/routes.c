/* routes.c — what vactord serves: health, metrics, the Task API and the
 * Dapr actor API; and Dapr's API token, checked on each request's head. */
#include "routes.h"
#include "dapr_api.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void metrics(va_runtime *rt, va_http_response *res) {
  va_stats st;
  va_runtime_stats(rt, &st);
  res->content_type = "text/plain; version=0.0.4";
  const struct {
    const char *name, *help, *kind;
    uint64_t value;
  } m[] = {
      {"vactor_active_actors", "Live activations.", "gauge", st.active_actors},
      {"vactor_activations_total", "Activations.", "counter", st.activations},
      {"vactor_deactivations_total", "Deactivations.", "counter",
       st.deactivations},
      {"vactor_turns_total", "Completed turns.", "counter", st.turns},
      {"vactor_turns_failed_total", "Failed turns.", "counter",
       st.turns_failed},
      {"vactor_call_timeouts_total", "Calls that timed out.", "counter",
       st.timeouts},
      {"vactor_deadlocks_total", "Calls refused as call cycles.", "counter",
       st.deadlocks},
      {"vactor_backpressure_total", "Messages refused by full queues.",
       "counter", st.backpressure},
      {"vactor_store_commits_total", "Store commits (one fsync each).",
       "counter", st.store_commits},
      {"vactor_store_saves_total", "Turn saves committed.", "counter",
       st.store_saves},
      {"vactor_store_failures_total", "Saves the store failed.", "counter",
       st.store_failures},
      {"vactor_mailbox_depth", "Messages waiting in mailboxes.", "gauge",
       st.mailbox_depth},
      {"vactor_reminders_fired_total", "Reminder turns run.", "counter",
       st.reminders_fired},
  };
  for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
    va_http_printf(res, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m[i].name,
                   m[i].help, m[i].name, m[i].kind, m[i].name,
                   (unsigned long long)m[i].value);
  va_http_printf(res, "# HELP vactor_active_actors_by_type Live activations "
                      "of each type.\n# TYPE vactor_active_actors_by_type "
                      "gauge\n");
  for (int type = 0; type < va_type_count(rt); type++)
    va_http_printf(res, "vactor_active_actors_by_type{type=\"%s\"} %llu\n",
                   va_type_name(rt, type),
                   (unsigned long long)va_runtime_active_of(rt, type));
}

static void write_to(void *user, const char *text, size_t len) {
  va_http_write(user, text, len);
}

/* GET /v1/cluster: this node and the members it sees. */
static void cluster_view(va_cluster *cluster, va_http_response *res) {
  if (!cluster) {
    va_http_error(res, 404, "ERR_NOT_CLUSTERED",
                  "this node runs alone (vactord --cluster makes it a "
                  "member of a cluster)");
    return;
  }
  char *doc = va_cluster_json(cluster);
  if (!doc) {
    va_http_error(res, 500, "ERR_INTERNAL", "out of memory");
    return;
  }
  res->status = 200;
  res->content_type = "application/json";
  va_http_write(res, doc, strlen(doc));
  free(doc);
}

/* ---- The API token ---- */

/* Compares in time independent of where they differ. */
static bool same_secret(const char *a, size_t alen, const char *b,
                        size_t blen) {
  unsigned diff = alen != blen;
  for (size_t i = 0; i < alen && i < blen; i++)
    diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

/* Whether the request carries the token: dapr-api-token: T, or
 * Authorization: Bearer T. */
static bool has_token(const va_http_request *head, const char *token) {
  size_t want = strlen(token), n;
  const char *v = va_http_request_header(head, "dapr-api-token", &n);
  bool ok = v && same_secret(v, n, token, want);
  v = va_http_request_header(head, "authorization", &n);
  if (v && n >= 7 && !strncasecmp(v, "Bearer ", 7))
    ok |= same_secret(v + 7, n - 7, token, want);
  return ok;
}

/* Dapr's health routes need no token (GET only). */
static bool exempt(const va_http_request *head) {
  return !strcmp(head->method, "GET") &&
         (!strcmp(head->path, "/v1.0/healthz") ||
          !strcmp(head->path, "/v1.0/healthz/outbound"));
}

bool va_routes_authorize(void *ctx, const va_http_request *head,
                         va_http_response *refusal) {
  const va_routes *r = ctx;
  if (!r->token || !*r->token || exempt(head) || has_token(head, r->token))
    return true;
  va_http_error(refusal, 401, "ERR_UNAUTHORIZED", "missing or wrong API token");
  return false;
}

/* ---- Routes ---- */

bool va_routes_init(va_routes *r, va_runtime *rt) {
  r->apps.rt = rt;
  return va_apps_register(&r->apps) == 0;
}

void va_routes_handle(void *ctx, const va_http_request *req,
                      va_http_reply *reply) {
  va_routes *r = ctx;
  if (va_task_api_route(&r->apps, req, reply) ||
      va_dapr_api_route(r->apps.rt, r->app, r->cluster, req, reply))
    return;
  va_http_response *res = va_http_res(reply);
  bool get = !strcmp(req->method, "GET");
  if (!strcmp(req->path, "/v1.0/healthz")) {
    va_http_label(reply, "healthz");
    if (get)
      res->status = 204;
    else
      va_http_error(res, 405, "ERR_METHOD_NOT_ALLOWED", "use GET");
  } else if (!strcmp(req->path, "/metrics")) {
    va_http_label(reply, "metrics");
    if (get) {
      metrics(r->apps.rt, res);
      if (r->cluster)
        va_cluster_metrics(r->cluster, write_to, res);
      va_http_metrics(reply);
    } else
      va_http_error(res, 405, "ERR_METHOD_NOT_ALLOWED", "use GET");
  } else if (!strcmp(req->path, "/v1/cluster")) {
    va_http_label(reply, "cluster");
    if (get)
      cluster_view(r->cluster, res);
    else
      va_http_error(res, 405, "ERR_METHOD_NOT_ALLOWED", "use GET");
  } else {
    va_http_error(res, 404, "ERR_NOT_FOUND", "no such route");
  }
  va_http_done(reply);
}
