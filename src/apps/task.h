/* task.h — TaskActor, one actor per task: its document (title, status,
 * owner, members...) and the time logged on it. Only the owner and the
 * members may read or change a task; to anyone else it does not exist. */
#ifndef VA_APPS_TASK_H
#define VA_APPS_TASK_H

#include <vactor.h>

typedef struct va_task_type {
  int type;                  /* TaskActor's type id */
  int create, get, log;      /* its methods */
} va_task_type;

/* Registers TaskActor. Method bodies are JSON objects that carry the
 * calling user as "user":
 *   create {"user", "title", "description"?, "priority"?, "due"?,
 *           "members"?}  -> the task; VA_EEXIST if it exists
 *   get    {"user"}      -> the task
 *   log    {"user", "minutes"} -> {"minutes": total}
 * VA_ENOTFOUND for a task that does not exist or is not the user's,
 * VA_EINVAL for a body that is not what it should be. */
int va_task_register(va_runtime *rt, va_task_type *out);

#endif
