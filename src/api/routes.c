/* routes.c — what vactord serves: health, metrics, the Task API, the Dapr
 * actor API, the actor listing (/v1/actors) and the dashboard; and the API
 * token, checked on each request's head (as Dapr's dapr-api-token header,
 * or, for GET /dashboard* and /v1/actors* only, as the dashboard's
 * cookie or its ?token=); with users' JWTs configured, the Task API takes
 * them instead (jwt_auth.h). */
#include "routes.h"
#include "actors_api.h"
#include "dapr_api.h"
#include "dashboard.h"
#include "prom_metrics.h"
#include "query.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The value of the cookie called name in the Cookie header ("a=1; b=2"),
 * or NULL; *len its length. */
static const char *cookie(const va_http_request *head, const char *name,
                          size_t *len) {
  size_t n, want = strlen(name);
  const char *p = va_http_request_header(head, "cookie", &n);
  const char *end = p ? p + n : NULL;
  while (p && p < end) {
    while (p < end && (*p == ' ' || *p == ';'))
      p++;
    const char *stop = memchr(p, ';', (size_t)(end - p));
    if (!stop)
      stop = end;
    if ((size_t)(stop - p) > want && !memcmp(p, name, want) && p[want] == '=') {
      *len = (size_t)(stop - p) - want - 1;
      return p + want + 1;
    }
    p = stop;
  }
  return NULL;
}

/* The routes a browser opens, which may carry the token in its cookie. */
static bool browser_route(const va_http_request *head) {
  const char *p = head->path;
  return !strcmp(head->method, "GET") &&
         ((!strncmp(p, "/dashboard", 10) && (!p[10] || p[10] == '/')) ||
          (!strncmp(p, "/v1/actors", 10) && (!p[10] || p[10] == '/')));
}

/* Whether a browser's request carries the token: in the cookie, or (the
 * page alone) as ?token=T. */
static bool browser_has_token(const va_http_request *head, const char *token) {
  size_t want = strlen(token), n;
  const char *v = cookie(head, VA_DASHBOARD_COOKIE, &n);
  if (v && same_secret(v, n, token, want))
    return true;
  char given[256];
  return !strcmp(head->path, "/dashboard") &&
         va_query_get(head->query, "token", given, sizeof(given)) &&
         same_secret(given, strlen(given), token, want);
}

/* Dapr's health routes need no token (GET only). */
static bool exempt(const va_http_request *head) {
  return !strcmp(head->method, "GET") &&
         (!strcmp(head->path, "/v1.0/healthz") ||
          !strcmp(head->path, "/v1.0/healthz/outbound"));
}

/* ---- The users' JWTs ---- */

static bool unauthenticated(va_http_response *refusal, const char *why,
                            bool invalid) {
  va_http_error(refusal, 401, "ERR_UNAUTHENTICATED", why);
  va_http_header(refusal, "WWW-Authenticate",
                 invalid ? "Bearer realm=\"vactor\", error=\"invalid_token\""
                         : "Bearer realm=\"vactor\"");
  return false;
}

/* A request under /v1/users/: its bearer JWT must pass and name the
 * path's user. */
static bool user_authorized(const va_jwt *jwt, const va_http_request *head,
                            va_http_response *refusal) {
  size_t n;
  const char *v = va_http_request_header(head, "authorization", &n);
  if (!v || n < 7 || strncasecmp(v, "Bearer ", 7))
    return unauthenticated(refusal,
                           "this route needs Authorization: Bearer <JWT>, a "
                           "token whose sub is the user in the path",
                           false);
  char sub[VA_JWT_SUB_MAX + 1];
  const char *why = va_jwt_verify(jwt, v + 7, n - 7, va_wall_ms() / 1000, sub);
  if (why)
    return unauthenticated(refusal, why, true);
  const char *user = head->path + strlen("/v1/users/");
  size_t user_len = strcspn(user, "/");
  if (user_len != strlen(sub) || memcmp(user, sub, user_len)) {
    /* As for a task that is not there: nothing of another user shows. */
    va_http_error(refusal, 404, "ERR_TASK_NOT_FOUND", "no such task");
    return false;
  }
  return true;
}

bool va_routes_authorize(void *ctx, const va_http_request *head,
                         va_http_response *refusal) {
  const va_routes *r = ctx;
  bool has_api_token = r->token && *r->token;
  if (exempt(head))
    return true;
  if (r->jwt && !strncmp(head->path, "/v1/users/", 10))
    return user_authorized(r->jwt, head, refusal);
  if ((!has_api_token && !r->jwt) ||
      (has_api_token &&
       (has_token(head, r->token) ||
        (browser_route(head) && browser_has_token(head, r->token)))))
    return true;
  if (has_api_token && !strncmp(head->path, "/v1.0/", 6)) {
    /* The Dapr API answers as daprd does (Go's http.Error): plain text. */
    refusal->status = 401;
    refusal->content_type = "text/plain; charset=utf-8";
    (void)va_http_header(refusal, "X-Content-Type-Options", "nosniff");
    (void)va_http_write(refusal, "invalid api token\n", 18);
    return false;
  }
  va_http_error(refusal, 401, "ERR_UNAUTHORIZED",
                has_api_token ? "missing or wrong API token"
                              : "this route needs the API token, and the "
                                "server has none (vactord --token): with "
                                "users' JWTs, only /v1/users/ is open");
  return false;
}

/* ---- Routes ---- */

bool va_routes_init(va_routes *r, va_runtime *rt) {
  r->apps.rt = rt;
  r->started_ms = va_wall_ms();
  va_dapr_extended_init(&r->extended);
  return va_apps_register(&r->apps) == 0;
}

void va_routes_handle(void *ctx, const va_http_request *req,
                      va_http_reply *reply) {
  va_routes *r = ctx;
  va_actors_api actors = {r->apps.rt, r->app};
  va_dapr_api dapr = {r->apps.rt, r->app, r->cluster, r->repair_state,
                      &r->extended};
  if (va_task_api_route(&r->apps, req, reply) ||
      va_dapr_api_route(&dapr, req, reply) ||
      va_actors_api_route(&actors, req, reply) ||
      va_dashboard_route(r, req, reply))
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
      va_prom_metrics(r->apps.rt, res);
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
