/* cluster.h — one vactord node's place in a cluster over PostgreSQL: the
 * router it gives the runtime (vactor_route.h), built from the membership
 * (a row per node with a lease the database judges, membership.c), the
 * view and rendezvous placement (view.h) and the node link (link.h).
 * docs/architecture.md tells the protocol and why one activation per
 * actor holds; docs/operations.md how to run it.
 *
 * Order: va_cluster_new before va_runtime_start (it sets the router), with
 * the runtime's store on the same database (va_config.store = url,
 * va_config.node = node); va_cluster_start once the runtime runs (it
 * listens, joins and waits for the first view); va_cluster_leave on a
 * graceful stop (its actors move to the others first); va_cluster_stop
 * before va_runtime_stop; va_cluster_free after it. None of these on a
 * worker. */
#ifndef VA_CLUSTER_CLUSTER_H
#define VA_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vactor.h>

typedef struct va_cluster va_cluster;

/* Defaults of va_cluster_options (what 0 means). */
#define VA_CLUSTER_DEFAULT_LEASE_MS 2000
#define VA_CLUSTER_DEFAULT_RENEW_MS 500
#define VA_CLUSTER_DEFAULT_DRAIN_MS 30000

typedef struct va_cluster_options {
  const char *url;       /* libpq connection URI of the cluster's database */
  const char *node;      /* this node's name, as va_config.node */
  const char *address;   /* where clients and peers reach this node's HTTP
                            API ("127.0.0.1:8080"), published in its row */
  const char *link_host; /* where the link listens (numeric IPv4); NULL:
                            the host of address */
  uint16_t link_port;    /* 0: the kernel picks one */
  const char *app_actor; /* the runtime type (registered on rt) whose
                           actors are an app's, ids "{app type}/{id}"
                           (app_channel.h's AppActor); NULL: none. Such
                           an actor runs on a member whose app hosts its
                           app type (va_cluster_set_app_types). */
  uint32_t lease_ms;     /* a member not renewed for this long is dead */
  uint32_t renew_ms;     /* how often the lease is renewed */
} va_cluster_options;

/* Makes the cluster part of a node for rt (not started yet) and gives rt
 * its router. Options are copied. *out is the caller's: va_cluster_free. */
int va_cluster_new(va_runtime *rt, const va_cluster_options *opts,
                   va_cluster **out);

/* Listens for peers, joins (a new incarnation of the node's row), and
 * returns once this node has its first view, or VA_ETIMEDOUT /
 * VA_ESTORE after 10 s. From then on the membership thread renews the
 * lease, follows view changes (a log line each) and fences the runtime
 * when renewals fail. */
int va_cluster_start(va_cluster *c);

/* Marks this node leaving, so that the others take its actors, sends its
 * activations away (their state is saved, their claims released), waits
 * until none is left or drain_ms passed (0: the default), marks it dead,
 * and waits until the others stopped sending it calls (at most 5 s). The
 * node keeps serving and forwarding calls meanwhile. */
int va_cluster_leave(va_cluster *c, uint32_t drain_ms);

/* Stops the membership thread and the link (forwarded calls fail from
 * then on), while the runtime still runs. Idempotent. */
void va_cluster_stop(va_cluster *c);
/* Stops (if needed) and frees c, once the runtime has stopped (its
 * workers read c's views until then). NULL is a no-op. */
void va_cluster_free(va_cluster *c);

/* The app types this node's app hosts, comma-separated (the app's
 * configuration, once it came; "" when none): published with the next
 * lease renewal, after which every node places them on the members that
 * host them. Any thread. VA_EINVAL when longer than 4095 bytes. */
int va_cluster_set_app_types(va_cluster *c, const char *types);
/* Whether a live member (this one or another) hosts the app type named
 * (len bytes): then its actors are served through any node. Any thread;
 * on a worker, by that worker's view (the one its placement uses). */
bool va_cluster_hosts_app(va_cluster *c, const char *type, size_t len);

/* GET /v1/cluster's body: {"self": ..., "version": ..., "members": [...]}
 * (docs/api.md). malloc'd, the caller frees it; NULL when out of memory. */
char *va_cluster_json(va_cluster *c);

/* Appends the cluster's metrics, Prometheus text, through write (which
 * copies): forwarded calls and their latency, link state per peer, view
 * changes, claims, fenced saves, rebalanced actors. */
void va_cluster_metrics(va_cluster *c,
                        void (*write)(void *user, const char *text, size_t len),
                        void *user);

#endif
