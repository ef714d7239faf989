/*
 * vactor_route.h — running actors on other nodes: the seam a cluster layer
 * plugs into a runtime (src/cluster does; a program of one node needs none
 * of this).
 *
 * Without a router every actor runs here. With one, a message for an actor
 * that is not active here is placed first: the worker that would run the
 * actor asks the router where it runs (place), and a message for another
 * node is handed to the router to carry there (forward). The outcome comes
 * back with va_route_answer; on the other node the router hands the call
 * in with va_route_inbound. An actor active here keeps taking its messages
 * while it stays active, whatever placement says meanwhile: its claim in
 * the store (store.h, Ownership) fences it, and va_runtime_rebalance sends
 * it away once it is idle.
 *
 * A load refused because another node holds the actor (VA_EMOVED), and a
 * save refused because the actor was claimed away (VA_EFENCED: its held
 * replies fail, the activation is dropped) put the actor's waiting
 * messages through placement again, a little later, until their deadline:
 * calls refused before they started are retried, never dropped.
 *
 * Every function here runs on a worker of the runtime (a va_loop callback,
 * a router callback) unless its comment says otherwise.
 */
#ifndef VACTOR_ROUTE_H
#define VACTOR_ROUTE_H

#include "vactor.h"
#include "vactor_loop.h"
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* place() says "here" with this; a forwarded call crosses at most
 * VA_ROUTE_MAX_HOPS nodes, then runs where it is (unless that node is
 * draining: va_runtime_drain). */
enum { VA_ROUTE_HERE = 0, VA_ROUTE_MAX_HOPS = 2 };

/* A call on its way between nodes (all borrowed for the call it is given
 * to). */
typedef struct va_route_call {
  int type; /* this runtime's type id */
  const char *id;
  size_t id_len;
  int method; /* the type's method id, or one of the runtime's own methods
                 (those have no name: va_method_name is NULL for them) */
  const void *body;
  size_t len;
  uint64_t chain;      /* the call chain (reentrancy, deadlock detection) */
  uint64_t timeout_ms; /* left until the caller's deadline */
  unsigned hops;       /* nodes crossed so far */
  bool one_way;        /* a send: no answer is owed */
} va_route_call;

/* Where a forwarded call's outcome goes. Opaque: keep it, pass it back to
 * va_route_answer as it is. */
typedef struct va_route_reply {
  void *record;
  uint64_t seq;
  uint32_t worker;
} va_route_reply;

typedef struct va_router {
  /* The node that runs (type, id): VA_ROUTE_HERE, or a node number > 0 of
   * the router's own. Called on the worker that would run the actor, for
   * every message to an actor not active there: it must be quick and must
   * not block. */
  int (*place)(void *user, va_loop *loop, int type, const char *id,
               size_t id_len);
  /* Carries call to node (a number place gave). 0: taken; unless the call
   * is one way, the router then answers it with va_route_answer exactly
   * once (VA_ELINK when the link fails). Negative: refused now (say
   * VA_EBACKPRESSURE when the link is full); the caller gets that code. */
  int (*forward)(void *user, va_loop *loop, int node, const va_route_call *call,
                 va_route_reply reply);
} va_router;

/* Gives rt a router (copied; user is passed to its functions and must
 * outlive rt). Before va_runtime_start only (VA_ESTATE after); any thread. */
int va_runtime_set_router(va_runtime *rt, const va_router *router, void *user);

/* Hands a forwarded call's outcome back to its caller: status, the reply
 * body (copied) and the name of the node whose activation ran the turn
 * (copied; 1..255 bytes, or NULL). On any worker of rt. An answer for a
 * caller that stopped waiting (its deadline passed) is dropped. */
int va_route_answer(va_runtime *rt, va_route_reply reply, int status,
                    const void *data, size_t len, const char *node);

/* Hands in a call another node forwarded (call->type and call->method as
 * this runtime numbers them). cb (NULL for a one-way call) runs exactly
 * once, on this same worker, if this returns 0; inside it va_reply_node
 * names the node that ran the turn when it was yet another one. The call
 * is placed again here: with call->hops < VA_ROUTE_MAX_HOPS it may go on to
 * a third node. */
int va_route_inbound(va_runtime *rt, const va_route_call *call, va_reply_fn cb,
                     void *user);

/* Inside a reply callback (va_reply_fn) or a continuation (va_cont_fn): the
 * name of the node whose activation produced this reply, when it was
 * another node; NULL when it was this one. Any thread. */
const char *va_reply_node(void);

/* The name of a type's method, or NULL for a bad id or one of the
 * runtime's own methods (which travel by number). Any thread. */
const char *va_method_name(const va_runtime *rt, int type, int method);
/* Whether method is one of the runtime's own (a reminder's fire, a state
 * read from outside, ...) rather than a type's. */
bool va_method_is_system(int method);

/* No turn starts once the monotonic clock (CLOCK_MONOTONIC_COARSE, in ms)
 * reaches until_ms: a node that may have lost its lease must not act on
 * state another node may own by now. Turns already running finish (their
 * saves are fenced by the store). UINT64_MAX, the default: no limit. Any
 * thread. */
void va_runtime_fence(va_runtime *rt, uint64_t until_ms);

/* With a PostgreSQL store (va_config.store): the incarnation of this node
 * (va_config.node) that loads claim actors with. The membership sets it
 * each time the node joins; until then no claim succeeds. Any thread. */
void va_runtime_set_incarnation(va_runtime *rt, uint64_t incarnation);

/* A draining node takes no actor of its own any more (it is leaving the
 * cluster): a call at its last hop is forwarded where placement says
 * rather than run here, where no claim would succeed. Any thread. */
void va_runtime_drain(va_runtime *rt, bool draining);

/* After the router's placement changed (a member joined or left): every
 * worker deactivates, a few at a time, the idle activations that place()
 * no longer puts here (their state is saved already; their claims are
 * released), and the busy ones once they are idle. Any thread. */
int va_runtime_rebalance(va_runtime *rt);

/* Sends every activation away: after this node lost its place in the
 * cluster (expelled, about to rejoin), an activation it kept may hold
 * state another node has written since. Each worker at once hands the
 * messages waiting in its actors' mailboxes to placement again, marks its
 * actors leaving (they take no new message) and deactivates them, a few
 * at a time (their hooks run; their saves are fenced when the actor was
 * claimed away). Returns once every worker has done the first step: no
 * turn of an old activation starts after that but one already open. Not
 * on a worker (VA_EWOULDBLOCK). */
int va_runtime_evict(va_runtime *rt);

/* How many activations a rebalance or an eviction deactivated since
 * start. Any thread. */
uint64_t va_runtime_moved(va_runtime *rt);

#ifdef __cplusplus
}
#endif
#endif /* VACTOR_ROUTE_H */
