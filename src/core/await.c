/* await.c — turns that wait for work done outside the runtime
 * (va_turn_await, va_await_done in vactor.h). The wait is a pending record
 * like a call's, so deadlines, failed turns and stop treat both alike; the
 * outcome comes back as a reply message to the turn's worker. */
#include "runtime.h"
#include <stdlib.h>
#include <string.h>

struct va_await {
  va_runtime *rt;
  unsigned worker;
  va_pending *record;
  uint64_t seq; /* the record's, when the wait began */
};

int va_turn_await(va_turn *t, va_cont_fn cont, void *user, va_await **ticket) {
  if (!t || !cont || !ticket)
    return VA_EINVAL;
  if (t->is_hook)
    return VA_ESTATE;
  va_await *a = malloc(sizeof(*a));
  if (!a)
    return VA_ENOMEM;
  va_pending *p = va__turn_pending(t, cont, user);
  if (!p) {
    free(a);
    return VA_ENOMEM;
  }
  *a = (va_await){t->w->rt, t->w->index, p, p->seq};
  *ticket = a;
  return 0;
}

void va_await_done(va_await *a, int status, const void *data, size_t len) {
  if (!a)
    return;
  va_worker *here = va__current_worker(a->rt);
  va_msg *m = NULL;
  if (len <= UINT32_MAX)
    m = va__msg_alloc(here ? &here->msgs : NULL, 0, (uint32_t)len);
  if (!m) {
    free(a); /* the turn's deadline will answer it */
    return;
  }
  m->kind = VA_MSG_REPLY;
  m->status = status;
  m->reply.pending.record = a->record;
  m->reply.pending.seq = a->seq;
  if (len)
    memcpy(va__msg_body(m), data, len);
  va_worker *w = a->rt->workers[a->worker];
  if (here == w)
    va__worker_local_add(w, m);
  else
    va__worker_post(w, m);
  free(a);
}
