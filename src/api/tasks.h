/* tasks.h — the Task API's HTTP routes (docs/api.md):
 *   PUT  /v1/users/{user}/tasks/{task}       create, with the caller's id
 *   GET  /v1/users/{user}/tasks/{task}       read
 *   POST /v1/users/{user}/tasks/{task}/log   {"minutes": n}: add logged time
 *   GET  /v1/users/{user}/tasks              the user's tasks' ids
 * Each is a call to the task's TaskActor; the answer comes back from the
 * actor's worker. */
#ifndef VA_API_TASKS_H
#define VA_API_TASKS_H

#include "../apps/task.h"
#include "../http/server.h"
#include <stdbool.h>

typedef struct va_task_api {
  va_runtime *rt;
  va_user_type user;
  va_task_type task;
} va_task_api;

/* Handles req if it is a Task API route (then true: reply is done or will
 * be). */
bool va_task_api_route(va_task_api *api, const va_http_request *req,
                       va_http_reply *reply);

#endif
