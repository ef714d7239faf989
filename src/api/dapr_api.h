/* dapr_api.h — the Dapr sidecar's actor API on vactord's port
 * (docs/dapr.md): invoke, state, reminders and timers of any registered
 * actor type under /v1.0/actors/, GET /v1.0/metadata and
 * GET /v1.0/healthz/outbound, with Dapr's statuses and error codes; the
 * types of an app behind vactord (app_channel.h) as well as native ones. */
#ifndef VA_API_DAPR_API_H
#define VA_API_DAPR_API_H

#include "../cluster/cluster.h"
#include "../http/server.h"
#include "app_channel.h"
#include <stdbool.h>

/* Handles req if it is one of the routes above (then true: the reply is
 * done, or will be). app: the app channel, or NULL without an app; its
 * actor types are reachable once the app's configuration is in. cluster:
 * this node's cluster, or NULL; the types other members' apps host are
 * reachable through it as well. native_writes: whether a state
 * transaction may write a native (vactord's own) actor's state, which is
 * otherwise a 403 ERR_ACTOR_STATE_READONLY (reads are always served). */
bool va_dapr_api_route(va_runtime *rt, va_app_channel *app, va_cluster *cluster,
                       bool native_writes, const va_http_request *req,
                       va_http_reply *reply);

#endif
