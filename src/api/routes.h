/* routes.h — vactord's routes: GET /v1.0/healthz, GET /metrics, and the
 * Task API (task_api.h). Used by vactord and by the request fuzz target. */
#ifndef VA_API_ROUTES_H
#define VA_API_ROUTES_H

#include "app_channel.h"
#include "task_api.h"
#include <stdbool.h>

typedef struct va_routes {
  va_apps apps;
  va_app_channel *app; /* an app's actor types behind vactord, or NULL */
} va_routes;

/* Registers the actor types the routes call (before va_runtime_start).
 * r->apps' settings (limits, llm) are the caller's to fill first. */
bool va_routes_init(va_routes *r, va_runtime *rt);
/* The va_http_handler: ctx is the va_routes. */
void va_routes_handle(void *ctx, const va_http_request *req,
                      va_http_reply *reply);

#endif
