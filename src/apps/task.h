/* task.h — TaskActor, one actor per task: its document (title, status,
 * owner, members...) and the time logged on it. Only the owner and the
 * members may read or change a task; to anyone else it does not exist. */
#ifndef VA_APPS_TASK_H
#define VA_APPS_TASK_H

#include "user.h"
#include <stdint.h>
#include <vactor.h>

typedef struct va_task_type {
  int type;                  /* TaskActor's type id */
  int create, get, log;      /* its methods */
} va_task_type;

/* Registers TaskActor, whose create adds the task to the lists of its
 * owner and members (UserActor users, calls inside the turn). The bodies of create and get are JSON objects that
 * carry the calling user as "user"; log's is a va_task_log (binary: it is
 * the hot operation):
 *   create {"user", "title", "description"?, "priority"?, "due"?,
 *           "members"?}  -> the task; VA_EEXIST if it exists
 *   get    {"user"}      -> the task
 *   log    va_task_log   -> {"minutes": total}
 * VA_ENOTFOUND for a task that does not exist or is not the user's,
 * VA_EINVAL for a body that is not what it should be. */
int va_task_register(va_runtime *rt, const va_user_type *users,
                     va_task_type *out);

/* The body of log: the minutes, then the user's id (not NUL-ended). */
typedef struct va_task_log {
  int64_t minutes;
  char user[];
} va_task_log;

#endif
