/* dapr_api.h — the Dapr sidecar's actor API on vactord's port
 * (docs/dapr.md): invoke, state, reminders and timers of any registered
 * actor type under /v1.0/actors/, GET /v1.0/metadata and
 * PUT /v1.0/metadata/{key} (dapr_metadata.h), GET /v1.0/healthz/outbound,
 * with Dapr's statuses and error codes; the
 * types of an app behind vactord (app_channel.h) as well as native ones. */
#ifndef VA_API_DAPR_API_H
#define VA_API_DAPR_API_H

#include "../cluster/cluster.h"
#include "../http/server.h"
#include "app_channel.h"
#include "dapr_metadata.h"
#include <stdbool.h>

/* What the routes serve. */
typedef struct va_dapr_api {
  va_runtime *rt;
  /* The app channel, or NULL without an app; its actor types are
   * reachable once the app's configuration is in. */
  va_app_channel *app;
  /* This node's cluster, or NULL; the types other members' apps host are
   * reachable through it as well. */
  va_cluster *cluster;
  /* Whether a state transaction may write a native (vactord's own)
   * actor's state, which is otherwise a 403 ERR_ACTOR_STATE_READONLY
   * (reads are always served). */
  bool native_writes;
  /* The extended metadata PUT /v1.0/metadata/{key} sets (borrowed). */
  va_dapr_extended *extended;
} va_dapr_api;

/* Handles req if it is one of the routes above (then true: the reply is
 * done, or will be). */
bool va_dapr_api_route(const va_dapr_api *api, const va_http_request *req,
                       va_http_reply *reply);

#endif
