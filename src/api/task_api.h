/* task_api.h — the Task API's HTTP routes (docs/api.md, docs/openapi.yaml):
 * tasks, their history, members and reminders under
 * /v1/users/{user}/tasks, the user's preferences and the chat. Each route
 * is one call to an actor (apps.h); the answer comes back from the actor's
 * worker and becomes the HTTP response. */
#ifndef VA_API_TASK_API_H
#define VA_API_TASK_API_H

#include "../apps/apps.h"
#include "../http/server.h"
#include <stdbool.h>

/* Handles req if its path is under /v1/users/ (then true: the reply is
 * done, or will be). */
bool va_task_api_route(const va_apps *apps, const va_http_request *req,
                       va_http_reply *reply);

#endif
