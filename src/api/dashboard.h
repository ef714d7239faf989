/* dashboard.h — vactord's live dashboard (docs/dashboard.md):
 *   GET /dashboard          the page (web/index.html), and its files
 *   GET /dashboard/{file}   (web/), built into the binary
 *   GET /dashboard/events   Server-Sent Events: a snapshot of the node's
 *                           counters at once, then one a second
 *   GET /dashboard?token=T  keeps the API token T in the cookie
 *                           VA_DASHBOARD_COOKIE (a browser cannot send a
 *                           header when it opens a page), then 303 to
 *                           /dashboard
 * With an API token, va_routes_authorize lets these and GET /v1/actors...
 * through on the cookie as on the header. */
#ifndef VA_API_DASHBOARD_H
#define VA_API_DASHBOARD_H

#include "routes.h"

#define VA_DASHBOARD_COOKIE "vactor_token"

/* Handles the request if its path is /dashboard or below it (true), else
 * leaves it (false). r must outlive the server: streams keep it. */
bool va_dashboard_route(const va_routes *r, const va_http_request *req,
                        va_http_reply *reply);

#endif
