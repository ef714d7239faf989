/* actors_api.h — the operator's view of the actors over HTTP, for the
 * dashboard and for scripts (docs/api.md, "Actors"):
 *   GET /v1/actors                  the actor types, with their live counts
 *   GET /v1/actors/{type}           a page of the type's actors, live or
 *       ?limit=&cursor=&prefix=&active=   stored, by id
 *   GET /v1/actors/{type}/{id}      one actor: activation, state keys and
 *       ?values=true                sizes (values on request), reminders,
 *                                   timers
 * Nothing here activates an actor. */
#ifndef VA_API_ACTORS_API_H
#define VA_API_ACTORS_API_H

#include "../http/server.h"
#include "app_channel.h"
#include <stdbool.h>

typedef struct va_actors_api {
  va_runtime *rt;
  va_app_channel *app; /* an app's types behind vactord, or NULL */
} va_actors_api;

/* Handles the request if its path is /v1/actors or below it (true), else
 * leaves it (false). */
bool va_actors_api_route(const va_actors_api *api, const va_http_request *req,
                         va_http_reply *reply);

#endif
