/* cluster_impl.h — the cluster's state, shared by cluster.c (the router,
 * start and stop, what it tells) and membership.c (the thread that keeps
 * this node's row and follows the view). Internal to src/cluster. */
#ifndef VA_CLUSTER_IMPL_H
#define VA_CLUSTER_IMPL_H

#include "cluster.h"
#include "link.h"
#include "view.h"
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

enum {
  VA__CLUSTER_TYPES_MAX = 4096, /* an app's types, comma-separated, + NUL */
  /* A member's unreachable list: every other member's "id:incarnation". */
  VA__CLUSTER_UNREACHABLE_MAX = VA__VIEW_MEMBERS_MAX * 88,
};

/* How this node last reached a peer (the membership thread's). */
typedef struct va__peer_reach {
  uint64_t incarnation; /* the peer's incarnation this is about */
  uint64_t reached_ms;  /* when a link connection to it was last ready */
  uint64_t noted_ms;    /* when it was last a live peer here */
} va__peer_reach;

typedef enum va__cluster_phase {
  VA__CLUSTER_NEW,
  VA__CLUSTER_JOINED,  /* in the view, renewing */
  VA__CLUSTER_LEAVING, /* handing its actors over */
  VA__CLUSTER_LEFT,    /* marked dead by itself */
} va__cluster_phase;

struct va_cluster {
  va_runtime *rt;
  /* Options, copied; fixed once made. */
  char *url, *node, *address, *link_host;
  uint16_t link_port;
  uint32_t lease_ms, renew_ms;
  int app_actor_type;    /* the runtime type of an app's actors, or -1 */
  char link_address[80]; /* host:port the link listens on, once listening */

  /* Set by start, cleared by stop; the router's forward reads it. */
  _Atomic(va_link *) link;
  bool stopped;
  /* Each worker's view, read and written only on that worker. */
  va__view **views;
  unsigned n_workers;

  /* Node numbers of the link: members' ids in the order first seen (the
   * membership thread only; numbers are index + 1). */
  char (*numbers)[64];
  size_t n_numbers;

  /* The membership thread's. */
  pthread_t thread;
  bool thread_started;
  PGconn *conn;
  _Atomic uint64_t incarnation; /* read by the leave, on its own thread */
  uint64_t view_version;
  uint64_t renew_sent_ms;    /* when the last renewal was sent */
  uint64_t next_renew_ms;    /* when the next is due */
  uint64_t next_read_ms;     /* when the members are read again anyway */
  uint64_t steady_since_ms;  /* connected and renewing since (0: not) */
  bool expelled;             /* lost its place: joins again when allowed */
  bool waiting_told;         /* the wait to join again was logged */
  unsigned losses;           /* places lost in a row (join_allowed) */
  uint64_t reached_since_ms; /* most peers reached since (0: not now) */
  uint64_t joined_ms;        /* when this incarnation joined */
  va__peer_reach *reach;     /* by node number */
  char unreachable[VA__CLUSTER_UNREACHABLE_MAX]; /* as the next renewal
                                                    writes it */
  char unreachable_written[VA__CLUSTER_UNREACHABLE_MAX];
  char types_written[VA__CLUSTER_TYPES_MAX];

  /* Shared: lock guards latest, phase and the start condition. */
  pthread_mutex_t lock;
  pthread_cond_t changed;
  va__view *latest; /* the newest view (a reference), for /v1/cluster;
                       the membership thread reads it without the lock */
  char app_types[VA__CLUSTER_TYPES_MAX]; /* va_cluster_set_app_types */
  va__cluster_phase phase;
  int start_error; /* a failure the start waits to hear of */
  _Atomic bool stop;

  /* Counters, for /metrics (written by the membership thread). */
  _Atomic uint64_t view_changes, renewals_failed, rejoins, marked_dead;
};

/* membership.c: the thread's body, and the leave it carries out. */
void *va__membership_main(void *arg);
/* Sets this node's status to leaving (true) or dead (false) and bumps the
 * view: 0 or VA_ESTORE. On the caller's own connection (not the
 * thread's). */
int va__membership_mark_self(va_cluster *c, bool leaving);
/* Reads the cluster's link key (link_auth.h) into key, storing a new
 * random one first if the database has none (the first node to start
 * makes it): 0, VA_ESTORE (no answer, or a stored key that is not 64 hex
 * digits), VA_ESYS. On a connection of its own, like mark_self. */
int va__membership_link_key(va_cluster *c, uint8_t key[VA__LINK_KEY_LEN]);

/* cluster.c: hands view v (one reference per worker, taken by the caller)
 * to every worker, tells the link where the peers are, and rebalances.
 * On the membership thread. */
void va__cluster_install(va_cluster *c, va__view *v);
/* The link node number of member id (assigned on first sight), or -1
 * when the table is full. */
int va__cluster_number(va_cluster *c, const char *id);

#endif
