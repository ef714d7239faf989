/* routes.h — vactord's routes: GET /v1.0/healthz, GET /metrics, GET
 * /v1/cluster, the Task API (task_api.h), the Dapr actor API
 * (dapr_api.h), the actor listing (actors_api.h) and the dashboard
 * (dashboard.h), and who may call them (the API token, as Dapr's). Used
 * by vactord and by the request fuzz target. */
#ifndef VA_API_ROUTES_H
#define VA_API_ROUTES_H

#include "../cluster/cluster.h"
#include "app_channel.h"
#include "dapr_metadata.h"
#include "jwt_auth.h"
#include "task_api.h"
#include <stdbool.h>

typedef struct va_routes {
  va_apps apps;
  va_app_channel *app; /* an app's actor types behind vactord, or NULL */
  va_cluster *cluster; /* this node's cluster, or NULL: one node */
  /* The API token (borrowed; alive as long as the server), or NULL or ""
   * for none: see va_routes_authorize. */
  const char *token;
  /* The users' JWT key (borrowed), or NULL: see va_routes_authorize. */
  const va_jwt *jwt;
  /* Whether the Dapr API may write native actors' state (an operator
   * mending a stored document); see va_dapr_api_route. */
  bool repair_state;
  int64_t started_ms; /* wall ms of va_routes_init: the dashboard's uptime */
  va_dapr_extended extended; /* PUT /v1.0/metadata/{key}'s entries */
} va_routes;

/* Registers the actor types the routes call (before va_runtime_start).
 * r->apps' settings (limits, llm) are the caller's to fill first. */
bool va_routes_init(va_routes *r, va_runtime *rt);
/* The va_http_handler: ctx is the va_routes. */
void va_routes_handle(void *ctx, const va_http_request *req,
                      va_http_reply *reply);
/* The va_http_authorize check (ctx is the va_routes), Dapr's rule: with a
 * token set, every request but GET /v1.0/healthz and GET
 * /v1.0/healthz/outbound must carry it, as "dapr-api-token: T" or
 * "Authorization: Bearer T" (compared in constant time), else a 401 on
 * the request's head: under /v1.0/ (the Dapr API) daprd's plain text
 * "invalid api token", elsewhere the JSON error ERR_UNAUTHORIZED. A browser's
 * GETs of the dashboard and of /v1/actors may carry it as the cookie
 * VA_DASHBOARD_COOKIE instead, and GET /dashboard as ?token=T (which sets
 * the cookie). Without a token, everything.
 *
 * With a JWT key (r->jwt), each request under /v1/users/{user}/ must
 * carry "Authorization: Bearer JWT", a token va_jwt_verify passes whose
 * sub is {user}: else a 401 ERR_UNAUTHENTICATED (with WWW-Authenticate),
 * or, for another user's path, the 404 ERR_TASK_NOT_FOUND of a task that
 * is not there. Every other route but health then needs the token, and
 * with no token set is closed (401 ERR_UNAUTHORIZED). */
bool va_routes_authorize(void *ctx, const va_http_request *head,
                         va_http_response *refusal);

#endif
