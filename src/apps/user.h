/* user.h — UserActor, one actor per user: the ids of the tasks the user
 * owns or is a member of. TaskActor keeps it up to date with calls. */
#ifndef VA_APPS_USER_H
#define VA_APPS_USER_H

#include <vactor.h>

typedef struct va_user_type {
  int type;
  int add_task; /* body: a task id; idempotent */
  int list;     /* -> {"tasks": [ids...]} in the order they were added */
} va_user_type;

int va_user_register(va_runtime *rt, va_user_type *out);

#endif
