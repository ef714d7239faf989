/*
 * link.h — the node-to-node link: carries calls a runtime's router
 * forwards (vactor_route.h) to the node that runs the actor, and their
 * answers back, over TCP in binary frames (frame.h), on the runtime's own
 * worker loops (vactor_loop.h): no thread of its own, no connection per
 * call, never a blocking system call on a worker. Internal to src/cluster.
 *
 * Connections. Each worker has its own outgoing connection to each peer
 * node, so a call a worker forwards never crosses to another thread; it
 * is opened (non-blocking) when the peer is set, and opened again after a
 * failure with a backoff (20 ms doubling to 1 s). A node listens with one
 * socket per worker (SO_REUSEPORT); a connection it accepts is served by
 * the worker that accepted it, which hands each call to its runtime
 * (va_route_inbound) and writes the answer back on the same connection.
 * Frames made during one pass of a loop leave in one write. A connection
 * opens with a HELLO each way (frame.h): a node refuses a connection meant
 * for another name, and a connection whose peer names itself otherwise is
 * dropped. Then each side proves it holds the cluster's key (an AUTH each
 * way, link_auth.h); a connection whose peer fails that is dropped before
 * any call or reply is taken from it. The connecting side's calls queue
 * behind its HELLO and leave after its AUTH.
 *
 * Failures. A call whose connection fails (it cannot be made, it breaks,
 * the peer is forgotten or moves to another address, the link is freed)
 * is answered VA_ELINK at once; while a peer has no connection (between
 * attempts) its calls are refused with VA_ELINK. A connection not ready
 * within 3 s is dropped. A call the peer does not answer is answered
 * VA_ETIMEDOUT by the link's sweep (once a second) a little after its
 * deadline, which the caller has had from its runtime already. Past
 * out_bound bytes waiting to be written on a connection (4 MiB by
 * default), or 262,144 calls waiting for answers on it, a call is refused
 * with VA_EBACKPRESSURE. Anything malformed a peer sends closes its
 * connection.
 *
 * Security: the link is authenticated (the cluster's key), not
 * encrypted: what it carries can be read, though not forged, by whoever
 * sees its packets. It listens where it is told to (loopback in the
 * tests).
 *
 * Threads. va__link_new, _listen, _set_peer, _set_out_bound, _stats,
 * _peer_connected and _free may be called from any thread that is not one
 * of the runtime's workers (_set_peer, _stats and _peer_connected also
 * from a worker); va__link_forward only on a worker of the runtime, from
 * the router's forward. The router must stop calling va__link_forward
 * before va__link_free is called (a pointer it clears first, say): free
 * then waits until no worker is inside the link.
 */
#ifndef VA_CLUSTER_LINK_H
#define VA_CLUSTER_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vactor.h>
#include <vactor_loop.h>
#include <vactor_route.h>

#include "link_auth.h"

typedef struct va_link va_link;

enum {
  VA__LINK_NODES_MAX = 4096, /* node numbers are 1..this */
  /* Buckets of the round-trip latency of forwarded calls, at the sender:
   * bucket i counts the calls answered within VA__LINK_LATENCY_US[i] µs;
   * the last bucket, the rest. */
  VA__LINK_LATENCY_BUCKETS = 16,
};

/* The upper bounds (µs) of the latency buckets but the last. */
extern const uint64_t VA__LINK_LATENCY_US[VA__LINK_LATENCY_BUCKETS - 1];

/* Counters since the link was made, summed over its workers. */
typedef struct va__link_stats {
  uint64_t frames_sent, frames_received;
  uint64_t bytes_sent, bytes_received;
  uint64_t calls_sent;      /* CALL frames sent (one-way ones included) */
  uint64_t calls_received;  /* CALL frames received */
  uint64_t sends_refused;   /* received one-way calls the runtime refused */
  uint64_t answered;        /* forwarded calls answered by their peer */
  uint64_t replies_sent;    /* REPLY frames sent */
  uint64_t replies_unknown; /* REPLYs for no waiting call (ignored) */
  /* Failures, by cause. */
  uint64_t failed_link;     /* calls answered VA_ELINK (connection lost) */
  uint64_t refused_link;    /* calls refused: no connection to the peer */
  uint64_t refused_busy;    /* calls refused with VA_EBACKPRESSURE */
  uint64_t refused_bad;     /* calls refused: too big, a name not sendable */
  uint64_t timed_out;       /* calls answered VA_ETIMEDOUT by the sweep */
  uint64_t malformed;       /* connections closed for what the peer sent */
  uint64_t unauthenticated; /* connections closed: the peer's proof of the
                               cluster's key was wrong */
  uint64_t connects;        /* outgoing connections ready (HELLO back) */
  uint64_t connect_failures;
  uint64_t disconnects; /* ready outgoing connections lost */
  uint64_t accepted;    /* incoming connections */
  /* Round trips of answered forwarded calls, at the sender. */
  uint64_t latency_count, latency_sum_ns;
  uint64_t latency[VA__LINK_LATENCY_BUCKETS];
} va__link_stats;

/* Makes a link for rt (started: the link has a part per worker), this
 * node being `self` (1..63 bytes of [A-Za-z0-9._-]; copied), holding the
 * cluster's key (copied; its peers must hold the same). On success
 * *out owns the link: va__link_free. VA_EINVAL, VA_ESTOPPED (rt not
 * started), VA_EWOULDBLOCK (on a worker), VA_ENOMEM. */
int va__link_new(va_runtime *rt, const char *self,
                 const uint8_t key[VA__LINK_KEY_LEN], va_link **out);

/* Listens on host (numeric IPv4) and port with one socket per worker (port
 * 0: the kernel picks one, the other workers bind it too); *bound (may be
 * NULL) gets the port. Once per link. 0, VA_EINVAL, VA_ESTATE (listening
 * already), VA_ESYS (errno says why), VA_EWOULDBLOCK (on a worker) or the
 * error of a worker that could not be reached. */
int va__link_listen(va_link *link, const char *host, uint16_t port,
                    uint16_t *bound);

/* Sets where the caller's node number `node` (1..VA__LINK_NODES_MAX) is:
 * its name (as it says in its HELLO) and address ("a.b.c.d:port"), both
 * copied. Each worker connects to it soon; a changed name or address
 * drops the old connections (their calls fail with VA_ELINK) and
 * connects again. address NULL forgets the node: its calls fail with
 * VA_ELINK. 0, VA_EINVAL, VA_ENOMEM, or the error of a worker that could
 * not be reached (it keeps what it had). */
int va__link_set_peer(va_link *link, int node, const char *name,
                      const char *address);

/* The bound on bytes waiting to be written on one connection, past which
 * calls are refused with VA_EBACKPRESSURE (0: the default, 4 MiB). For
 * tests; before va__link_listen and va__link_set_peer. */
void va__link_set_out_bound(va_link *link, size_t bytes);

/* The body of a router's forward, on loop (the worker calling it): sends
 * call to node. 0: taken (unless one way, answered exactly once with
 * va_route_answer through reply); else the call was refused: VA_ELINK
 * (node unknown or not connected), VA_EBACKPRESSURE, VA_ETOOBIG (body or
 * id over frame.h's limits), VA_EINVAL (a type or method name that cannot
 * be sent), VA_ENOMEM. */
int va__link_forward(va_link *link, va_loop *loop, int node,
                     const va_route_call *call, va_route_reply reply);

/* Fills *out with the counters (each read without stopping the workers). */
void va__link_stats_get(va_link *link, va__link_stats *out);

/* How many of the workers' outgoing connections to node are ready now. */
unsigned va__link_peer_connected(va_link *link, int node);

/* Closes every socket and connection (calls waiting fail with VA_ELINK;
 * answers to calls received but not yet answered are dropped) and frees
 * the link. NULL is a no-op. Not on a worker (it waits for each). While
 * the runtime runs, or after va_runtime_stop has returned (then it closes
 * everything on the calling thread, answering nothing: the runtime has
 * answered its calls); never while va_runtime_stop is under way. */
void va__link_free(va_link *link);

#endif
