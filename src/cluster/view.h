/* view.h — one node's view of the cluster: the members as the database
 * listed them at one view version, and placement over them. A view is
 * immutable once built; each worker holds the one it was last given
 * (installed through its loop), and a view is freed when the last worker
 * let go of it, so placement reads it without a lock.
 *
 * Placement is rendezvous hashing: (type, id) goes to the eligible member
 * with the highest score of hash(type, id) mixed with the member's own
 * seed. A member is eligible when it is alive (or suspect) and hosts the
 * type: every member hosts the runtime's own types; a type some member's
 * app registered (its row's types list) is hosted only by those members.
 * Adding or removing a member moves only the actors it wins or held.
 * The actors of an app behind vactord are one runtime type whose ids are
 * "{app type}/{id}" (va__view_place_app): they go to the members whose
 * app lists the app type.
 *
 * Reachability: each member lists the peers its link could not reach for
 * a lease (its row's unreachable). va__view_cut_off tells which members
 * those votes put out of the cluster. */
#ifndef VA_CLUSTER_VIEW_H
#define VA_CLUSTER_VIEW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vactor.h>

enum { VA__VIEW_MEMBERS_MAX = 64 };

typedef enum va__member_status {
  VA__MEMBER_ALIVE,
  VA__MEMBER_SUSPECT, /* its lease is running out: still eligible */
  VA__MEMBER_LEAVING, /* handing its actors over: not eligible */
  /* Voted out (va__view_cut_off): not eligible, renews no more; what it
   * ran stays its own until its lease has run out and it is marked dead,
   * so that it has fenced itself before anyone claims its actors. */
  VA__MEMBER_EXPELLED,
  VA__MEMBER_DEAD,
} va__member_status;

typedef struct va__member {
  char id[64];
  int number; /* the link's node number, stable for this process */
  uint64_t incarnation;
  char address[128]; /* where clients reach its HTTP API */
  char link[128];    /* where peers reach its link */
  va__member_status status;
  int64_t lease_left_ms; /* as the database judged it, when read */
  char *types;           /* its app's types, comma-separated (owned) */
  char *unreachable;     /* the peers it cannot reach, "id:incarnation"
                            comma-separated (owned) */
  uint64_t seed;         /* placement: hash of id */
} va__member;

typedef struct va__view {
  uint64_t version;
  size_t n;
  va__member members[VA__VIEW_MEMBERS_MAX];
  /* Per type id of the runtime: the members (bits by index) hosting it. */
  uint64_t *hosts;
  size_t n_types;
  int self;                   /* index of this node in members, or -1 */
  struct va_cluster *cluster; /* whose view it is (cluster.c) */
  _Atomic unsigned refs;      /* workers holding it, plus the builder's */
} va__view;

const char *va__member_status_name(va__member_status s);
/* Parses the database's status text; false for anything else. */
bool va__member_status_parse(const char *text, va__member_status *out);

/* Computes v->hosts for rt's types and the members' seeds, once the
 * members are filled in. 0 or VA_ENOMEM. */
int va__view_finish(va__view *v, const va_runtime *rt);
void va__view_free(va__view *v);
/* Drops one reference; frees v with the last. NULL is a no-op. */
void va__view_release(va__view *v);

/* The index in v->members of the member that runs (type, id), or -1 when
 * no member is eligible. type_name is rt's name of type. */
int va__view_place(const va__view *v, int type, const char *type_name,
                   const char *id, size_t id_len);
/* The same for an app's actor, key "{app type}/{id}": among the members
 * whose app lists the app type; -1 when none does (or key has no '/'). */
int va__view_place_app(const va__view *v, const char *key, size_t key_len);
/* Whether an eligible member's app lists the app type named. */
bool va__view_hosts_app(const va__view *v, const char *type, size_t len);

/* Marks in cut[] (by index) the members that the others' votes put out:
 * repeatedly, the eligible member not yet cut that the most of the other
 * eligible, uncut members list as unreachable -- more than half of them
 * -- is cut (ties: the greatest id), until none is. Votes name an
 * incarnation: a vote for an earlier one does not count; nor does the
 * vote of a member whose lease the read found over. So one node cut
 * off from its peers goes, a side of a partition in two is cut whole (the
 * side with the greatest ids when they are even) and the rest stays.
 * Returns how many were cut. */
size_t va__view_cut_off(const va__view *v, bool cut[VA__VIEW_MEMBERS_MAX]);

#endif
