/* link.c — see link.h. The link keeps a shard per worker, touched only on
 * that worker: its listening socket, its sweep timer, its outgoing
 * connection to each peer (wpeer, by node number) and the connections it
 * accepted. What other threads touch is the counters (relaxed atomics,
 * written by the shard's worker), each node's count of ready connections,
 * and the link's reference count: the owner holds one, and so does every
 * function posted to a worker that is not waited for (a flush, a peer's
 * change), so that the link's memory outlives the last of them.
 *
 * Output. A frame is encoded straight into its connection's output
 * buffer; the first frame of a pass puts the connection on its shard's
 * dirty list and posts one flush to the shard's own worker, which runs
 * after what the worker is doing now: every frame of the pass leaves in
 * one send. What the socket does not take waits for WRITABLE.
 *
 * Input. A connection reads into its buffer, decodes every complete frame
 * in place, and keeps the part of the next one (the buffer grows to the
 * frame's length, bounded by VA__FRAME_MAX, and is given back when large
 * and empty). Before its HELLO a connection may send no frame longer
 * than a HELLO.
 *
 * Lifetimes. A connection is marked dead when it closes (its socket
 * closed, its calls failed) and freed once no handler of its own is on
 * the stack and, for an accepted one, no call it handed to the runtime is
 * still to be answered (inflight): the runtime's reply callback holds a
 * record naming the connection, and a dead connection only counts it.
 * Answers given to callers (va_route_answer) may call back into the link
 * (a new forward from a reply callback), so a connection's calls are
 * detached from it, and it from its peer, before they are answered. */
#include "link.h"
#include "../base/assert.h"
#include "../base/atomics.h"
#include "../base/clock.h"
#include "../base/dlist.h"
#include "frame.h"
#include "link_auth.h"
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum {
  OUT_BOUND_DEFAULT = 4 * 1024 * 1024,
  CALLS_MAX = 262144,    /* calls waiting for answers, per connection */
  INFLIGHT_HIGH = 65536, /* calls an accepted connection may have handed
                            in unanswered before it is no longer read */
  BUF_INITIAL = 64 * 1024,
  BUF_KEEP = 1024 * 1024,    /* an empty buffer larger than this is freed */
  READ_ROOM = 4096,          /* the least room a read is given */
  READ_BUDGET = 1024 * 1024, /* bytes one readiness event reads at most */
  HELLO_MAX = 256,           /* the longest frame before the peer's HELLO */
  BACKOFF_MIN_MS = 20,
  BACKOFF_MAX_MS = 1000,
  READY_TIMEOUT_MS = 3000, /* connect and HELLO, for either side */
  SWEEP_MS = 1000,
  LATE_MS = 1000,    /* after a call's deadline, before the sweep answers */
  INBOUND_MAX = 256, /* accepted connections per worker */
  /* Accepted connections per worker still in their opening: past this, a
   * new one closes the oldest, so strangers that open connections and say
   * nothing (they have no key) hold no place a peer needs. */
  GREETING_MAX = 16,
  ACCEPTS_PER_EVENT = 64,
  POST_TRIES = 1000, /* a post that finds no memory, asked again 1 ms on */
  EXPIRE_CHUNK = 256,
  /* A peer that stops answering (cut off, its machine gone) is noticed by
   * the kernel: an idle connection is probed after KEEPALIVE_IDLE_S, and
   * one whose bytes (data or probes) go unacknowledged for
   * UNACKED_MAX_MS is closed. The cluster judges reachability from the
   * connections that stay ready (cluster.h). */
  KEEPALIVE_IDLE_S = 1,
  KEEPALIVE_INTERVAL_S = 1,
  KEEPALIVE_PROBES = 2,
  UNACKED_MAX_MS = 2500,
};

const uint64_t VA__LINK_LATENCY_US[VA__LINK_LATENCY_BUCKETS - 1] = {
    25,    50,    100,   250,    500,    1000,    2500,   5000,
    10000, 25000, 50000, 100000, 250000, 1000000, 5000000};

/* The counters of va__link_stats but the histogram, once. */
#define LINK_COUNTERS(X)                                                       \
  X(frames_sent)                                                               \
  X(frames_received)                                                           \
  X(bytes_sent)                                                                \
  X(bytes_received)                                                            \
  X(calls_sent)                                                                \
  X(calls_received)                                                            \
  X(sends_refused)                                                             \
  X(answered)                                                                  \
  X(replies_sent)                                                              \
  X(replies_unknown)                                                           \
  X(failed_link)                                                               \
  X(refused_link)                                                              \
  X(refused_busy)                                                              \
  X(refused_bad)                                                               \
  X(timed_out)                                                                 \
  X(malformed)                                                                 \
  X(unauthenticated)                                                           \
  X(connects)                                                                  \
  X(connect_failures)                                                          \
  X(disconnects)                                                               \
  X(accepted)                                                                  \
  X(latency_count)                                                             \
  X(latency_sum_ns)

/* A shard's counters: written by its worker only, read by any thread. */
typedef struct counters {
#define LINK_COUNTER_FIELD(name) va_counter name;
  LINK_COUNTERS(LINK_COUNTER_FIELD)
#undef LINK_COUNTER_FIELD
  va_counter latency[VA__LINK_LATENCY_BUCKETS];
} counters;

/* ---- Calls waiting for their answer (per outgoing connection) ---- */

/* Open addressing by call id (ids are sequential per connection, so the
 * slot is the id's low bits: no collisions while the live ids span less
 * than the table), linear probing, deletion by backward shift, at most
 * half full. */
typedef struct call_slot {
  uint64_t id; /* 0: empty */
  uint64_t sent_ns;
  uint64_t deadline_ms; /* coarse clock */
  va_route_reply reply;
} call_slot;

typedef struct call_table {
  call_slot *slots; /* NULL until the first call */
  size_t mask;      /* capacity - 1 */
  size_t n;
} call_table;

static void calls_put(call_slot *slots, size_t mask, const call_slot *e) {
  size_t i = e->id & mask;
  while (slots[i].id)
    i = (i + 1) & mask;
  slots[i] = *e;
}

static int calls_grow(call_table *t) {
  size_t cap = t->slots ? (t->mask + 1) * 2 : 256;
  call_slot *slots = calloc(cap, sizeof(*slots));
  if (!slots)
    return VA_ENOMEM;
  for (size_t i = 0; t->slots && i <= t->mask; i++)
    if (t->slots[i].id)
      calls_put(slots, cap - 1, &t->slots[i]);
  free(t->slots);
  t->slots = slots;
  t->mask = cap - 1;
  return 0;
}

static int calls_add(call_table *t, const call_slot *e) {
  if (!t->slots || (t->n + 1) * 2 > t->mask + 1) {
    int rc = calls_grow(t);
    if (rc != 0)
      return rc;
  }
  calls_put(t->slots, t->mask, e);
  t->n++;
  return 0;
}

/* Empties slot i, moving back the entries after it that probed past it. */
static void calls_remove_at(call_table *t, size_t i) {
  call_slot *s = t->slots;
  for (size_t j = i;;) {
    j = (j + 1) & t->mask;
    if (!s[j].id)
      break;
    size_t home = s[j].id & t->mask;
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      s[i] = s[j];
      i = j;
    }
  }
  s[i].id = 0;
  t->n--;
}

/* Removes call id into *out: false when it is not waiting. */
static bool calls_take(call_table *t, uint64_t id, call_slot *out) {
  if (!t->slots || id == 0)
    return false;
  for (size_t i = id & t->mask; t->slots[i].id; i = (i + 1) & t->mask) {
    if (t->slots[i].id == id) {
      *out = t->slots[i];
      calls_remove_at(t, i);
      return true;
    }
  }
  return false;
}

/* Removes up to cap calls whose deadline is before now_ms into out; how
 * many. */
static size_t calls_take_expired(call_table *t, uint64_t now_ms, call_slot *out,
                                 size_t cap) {
  size_t n = 0;
  for (size_t i = 0; t->slots && i <= t->mask && n < cap;) {
    if (t->slots[i].id && t->slots[i].deadline_ms < now_ms) {
      out[n++] = t->slots[i];
      calls_remove_at(t, i); /* may move a later entry into i: look again */
    } else {
      i++;
    }
  }
  return n;
}

/* ---- The link's parts ---- */

typedef struct shard shard;
typedef struct wpeer wpeer;

/* Where a connection is in its opening. */
enum { CONNECTING = 1, GREETING, READY };

typedef struct conn {
  shard *sh;
  wpeer *peer;   /* outgoing and open: its peer (NULL once closed) */
  bool outgoing; /* made by this node (else accepted) */
  uint8_t state;
  bool hello_seen;   /* GREETING: the peer's HELLO came, its AUTH is next */
  bool auth_pending; /* outgoing: its AUTH, at out + auth_at, is not
                        written yet: nothing from there on is sent */
  size_t auth_at;
  bool dead;      /* closed: freed once !busy and inflight is 0 */
  bool busy;      /* its handler is on the stack */
  bool dirty;     /* in its shard's dirty list */
  bool throttled; /* accepted: not read until its backlog drains */
  int fd;
  uint32_t events; /* watched for now */
  va_loop_watcher watch;
  uint64_t opened_ms;
  va_dlink dirty_link;
  va_dlink link;     /* accepted: in its shard's inbound list */
  unsigned inflight; /* accepted: calls handed in, unanswered */
  call_table calls;  /* outgoing: calls waiting for their answer */
  uint64_t next_id;
  char peer_name[VA__FRAME_NODE_MAX + 1];  /* from its HELLO */
  uint8_t nonce[VA__FRAME_NONCE_LEN];      /* this side's (link_auth.h) */
  uint8_t peer_nonce[VA__FRAME_NONCE_LEN]; /* from its HELLO */
  /* Input: in_len bytes read, not yet decoded; the next frame takes
   * need bytes in all. */
  uint8_t *in;
  size_t in_len, in_cap, need;
  /* Output: bytes out_off..out_len not yet written. */
  uint8_t *out;
  size_t out_len, out_off, out_cap;
} conn;

/* A peer node as one worker sees it. */
struct wpeer {
  shard *sh;
  int node;
  char name[VA__FRAME_NODE_MAX + 1];
  size_t name_len;
  struct sockaddr_in addr;
  conn *c; /* NULL between attempts */
  unsigned backoff_ms;
  int timer; /* the backoff's timerfd; -1 until the first failure */
  bool timer_watched, timer_armed;
  uint64_t retry_ms; /* without a timer: the sweep connects from then */
  va_loop_watcher timer_watch;
};

/* A call handed to the runtime, until its reply callback. */
typedef struct inbound {
  conn *c;
  uint64_t id;
  struct inbound *next_free;
} inbound;

/* One run of a function on every worker, waited for (new, listen, free:
 * never two at once on one link). */
typedef struct everywhere {
  void (*fn)(shard *sh);
  _Atomic unsigned done;
} everywhere;

struct shard {
  /* Set before the worker sees it. */
  alignas(64) va_link *link;
  unsigned index;
  va_loop *loop;
  everywhere *run; /* the run of run_everywhere going on */
  /* Its worker only (or the thread of va__link_free once the runtime has
   * stopped: loop_gone). */
  int listener, sweeper;
  bool accept_watched, accept_paused, sweep_watched;
  bool stopped, loop_gone, flush_posted;
  int start_rc;
  va_loop_watcher accept_watch, sweep_watch;
  wpeer **peers;                  /* by node number, VA__LINK_NODES_MAX + 1 */
  va_dlist inbound;               /* accepted connections, oldest first */
  unsigned n_inbound, n_greeting; /* n_greeting: of them, not READY */
  va_dlist dirty; /* connections with output to write this pass */
  inbound *free_records;
  counters stats;
};

struct va_link {
  va_runtime *rt;
  char self[VA__FRAME_NODE_MAX + 1];
  size_t self_len;
  uint8_t key[VA__LINK_KEY_LEN]; /* the cluster's (link_auth.h) */
  unsigned n;
  shard *shards;
  size_t out_bound;
  bool listening;
  _Atomic unsigned *connected; /* by node number: ready connections */
  _Atomic unsigned refs;
};

/* A change of one peer, posted to every worker. */
typedef struct peer_change {
  va_link *link;
  int node;
  bool forget;
  char name[VA__FRAME_NODE_MAX + 1];
  size_t name_len;
  struct sockaddr_in addr;
  _Atomic unsigned left; /* workers yet to apply it; the last frees it */
} peer_change;

#define COUNT(sh, field, n) va_count((sh)->stats.field, (n))

/* ---- References ---- */

static void link_ref(va_link *link) {
  atomic_fetch_add_explicit(&link->refs, 1, memory_order_relaxed);
}

static void link_destroy(va_link *link) {
  OPENSSL_cleanse(link->key, sizeof(link->key));
  for (unsigned i = 0; link->shards && i < link->n; i++)
    free(link->shards[i].peers);
  free(link->shards);
  free(link->connected);
  free(link);
}

/* Acquire-release: whoever drops the last reference sees every write the
 * others made to the link before they dropped theirs. */
static void link_unref(va_link *link) {
  if (atomic_fetch_sub_explicit(&link->refs, 1, memory_order_acq_rel) == 1)
    link_destroy(link);
}

/* ---- Connections: opening, watching, closing ---- */

static void on_conn(void *ctx, uint32_t events);

static conn *conn_open(shard *sh, int fd, wpeer *peer, uint8_t state) {
  conn *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->sh = sh;
  c->peer = peer;
  c->outgoing = peer != NULL;
  c->state = state;
  c->fd = fd;
  c->next_id = 1;
  c->opened_ms = va_clock_coarse_ms();
  c->need = VA__FRAME_PREFIX;
  c->events = state == CONNECTING ? VA_LOOP_WRITABLE
                                  : VA_LOOP_READABLE | VA_LOOP_PEER_CLOSED;
  c->watch = (va_loop_watcher){.fn = on_conn, .ctx = c};
  if (va_loop_watch(sh->loop, fd, c->events, &c->watch) != 0) {
    free(c);
    return NULL;
  }
  return c;
}

/* Watches c for events, with a system call only on a change. If that
 * fails, c could wait for an event it is not watched for: it is shut down
 * instead, which the loop reports as a hang-up. */
static void watch_for(conn *c, uint32_t events) {
  if (c->dead || c->events == events)
    return;
  if (va_loop_rewatch(c->sh->loop, c->fd, events, &c->watch) == 0)
    c->events = events;
  else
    shutdown(c->fd, SHUT_RDWR);
}

static void conn_free(conn *c) {
  VA_ASSERT(c->dead && !c->busy && c->inflight == 0);
  free(c->in);
  free(c->out);
  free(c->calls.slots);
  free(c);
}

static void conn_maybe_free(conn *c) {
  if (c->dead && !c->busy && c->inflight == 0)
    conn_free(c);
}

/* Answers every call waiting on c with status (none once the runtime has
 * stopped: it answered them itself). The table is detached first: an
 * answer may forward a new call. */
static void fail_calls(conn *c, int status) {
  call_table t = c->calls;
  c->calls = (call_table){0};
  shard *sh = c->sh;
  for (size_t i = 0; t.slots && i <= t.mask && !sh->loop_gone; i++) {
    if (!t.slots[i].id)
      continue;
    COUNT(sh, failed_link, 1);
    va_route_answer(sh->link->rt, t.slots[i].reply, status, NULL, 0, NULL);
  }
  free(t.slots);
}

/* Detaches an outgoing connection from its peer, counting how it ended. */
static void detach_outgoing(conn *c) {
  shard *sh = c->sh;
  wpeer *p = c->peer;
  VA_ASSERT(p); /* an open outgoing connection has its peer */
  if (p->c == c)
    p->c = NULL;
  if (c->state == READY) {
    atomic_fetch_sub_explicit(&sh->link->connected[p->node], 1,
                              memory_order_relaxed);
    COUNT(sh, disconnects, 1);
    if (!sh->stopped)
      va_log(sh->link->rt, VA_LOG_WARN, "node link lost", "node=%s worker=%u",
             p->name, sh->index);
  } else {
    COUNT(sh, connect_failures, 1);
  }
  c->peer = NULL;
}

/* Closes c: its socket, its place in the shard, its calls (VA_ELINK). */
static void conn_close(conn *c) {
  if (c->dead)
    return;
  shard *sh = c->sh;
  c->dead = true;
  if (c->dirty)
    va_dlist_remove(&sh->dirty, &c->dirty_link);
  c->dirty = false;
  if (c->outgoing) {
    detach_outgoing(c);
  } else {
    va_dlist_remove(&sh->inbound, &c->link);
    sh->n_inbound--;
    sh->n_greeting -= c->state != READY;
  }
  if (!sh->loop_gone) {
    int rc = va_loop_unwatch(sh->loop, c->fd);
    VA_ASSERT(rc == 0); /* watched from conn_open until here */
    (void)rc;
  }
  close(c->fd);
  fail_calls(c, VA_ELINK);
  if (sh->loop_gone)
    c->inflight = 0; /* the runtime has stopped: no callback will come */
  conn_maybe_free(c);
}

/* Every link socket: no Nagle delay, and a peer that stops answering is
 * found out by the kernel (KEEPALIVE_*, UNACKED_MAX_MS). Best effort: a
 * socket without these still works, it only notices a silent peer later
 * (a call's deadline). */
static void tune_socket(int fd) {
  const int one = 1, idle = KEEPALIVE_IDLE_S, interval = KEEPALIVE_INTERVAL_S,
            probes = KEEPALIVE_PROBES, unacked = UNACKED_MAX_MS;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
  (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &unacked,
                   sizeof(unacked));
}

static void peer_retry_later(wpeer *p);

/* c failed (a system call, the peer closed, a timeout): closed, and its
 * peer, if it has one, tries again later. */
static void conn_broken(conn *c) {
  wpeer *p = c->outgoing ? c->peer : NULL;
  conn_close(c);
  if (p && !p->sh->stopped)
    peer_retry_later(p);
}

/* The peer sent something malformed: logged, counted, closed. */
static void conn_malformed(conn *c, const char *why) {
  shard *sh = c->sh;
  COUNT(sh, malformed, 1);
  va_log(sh->link->rt, VA_LOG_WARN, "node link: malformed input", "why=\"%s\"",
         why);
  conn_broken(c);
}

/* ---- Output ---- */

static size_t out_waiting(const conn *c) {
  return c->out_len - c->out_off;
}

/* Room for more bytes at the end of c's output. 0 or VA_ENOMEM. */
static int out_reserve(conn *c, size_t more) {
  if (c->out_len + more <= c->out_cap)
    return 0;
  if (c->out_off) { /* what was written makes room first */
    memmove(c->out, c->out + c->out_off, out_waiting(c));
    if (c->auth_pending)
      c->auth_at -= c->out_off; /* never written yet: past out_off */
    c->out_len -= c->out_off;
    c->out_off = 0;
    if (c->out_len + more <= c->out_cap)
      return 0;
  }
  size_t cap = c->out_cap ? c->out_cap * 2 : BUF_INITIAL;
  if (cap < c->out_len + more)
    cap = c->out_len + more;
  uint8_t *out = realloc(c->out, cap);
  if (!out)
    return VA_ENOMEM;
  c->out = out;
  c->out_cap = cap;
  return 0;
}

static void flush_dirty(void *ctx, va_loop *loop);

/* c has output for this pass: one flush per shard and pass. If the flush
 * cannot be posted, c waits for WRITABLE instead (a socket with room is
 * writable at once). */
static void mark_dirty(conn *c) {
  shard *sh = c->sh;
  if (c->dirty)
    return;
  c->dirty = true;
  va_dlist_append(&sh->dirty, &c->dirty_link);
  if (sh->flush_posted)
    return;
  link_ref(sh->link);
  if (va_loop_run(sh->link->rt, sh->index, flush_dirty, sh) == 0) {
    sh->flush_posted = true;
    return;
  }
  link_unref(sh->link); /* not the last: the owner holds one */
  if (c->state != CONNECTING)
    watch_for(c, c->events | VA_LOOP_WRITABLE);
}

/* Encodes f at the end of c's output. 0, or va__frame_size's error, or
 * VA_ENOMEM. */
static int send_frame(conn *c, const va__frame *f) {
  size_t size;
  int rc = va__frame_size(f, &size);
  if (rc == 0)
    rc = out_reserve(c, size);
  if (rc != 0)
    return rc;
  c->out_len += va__frame_write(f, c->out + c->out_len);
  COUNT(c->sh, frames_sent, 1);
  mark_dirty(c);
  return 0;
}

static void unthrottle_if_drained(conn *c);

/* Writes c's output until the socket takes no more (then it waits for
 * WRITABLE); an empty buffer that grew large is given back. */
static void conn_flush(conn *c) {
  if (c->dead || c->state == CONNECTING)
    return;
  /* Before its AUTH, only the HELLO leaves (the calls queued behind wait). */
  size_t end = c->auth_pending ? c->auth_at : c->out_len;
  while (c->out_off < end) {
    ssize_t n =
        send(c->fd, c->out + c->out_off, end - c->out_off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      watch_for(c, c->events | VA_LOOP_WRITABLE);
      return;
    }
    if (n <= 0) {
      conn_broken(c);
      return;
    }
    c->out_off += (size_t)n;
    COUNT(c->sh, bytes_sent, (uint64_t)n);
  }
  if (c->auth_pending) {
    watch_for(c, c->events & ~(uint32_t)VA_LOOP_WRITABLE);
    return;
  }
  c->out_len = c->out_off = 0;
  if (c->out_cap > BUF_KEEP) {
    free(c->out);
    c->out = NULL;
    c->out_cap = 0;
  }
  watch_for(c, c->events & ~(uint32_t)VA_LOOP_WRITABLE);
  if (c->throttled)
    unthrottle_if_drained(c);
}

/* Posted by mark_dirty: writes every connection of the shard that has
 * output, once per pass. */
static void flush_dirty(void *ctx, va_loop *loop) {
  (void)loop;
  shard *sh = ctx;
  va_link *link = sh->link;
  sh->flush_posted = false;
  while (!sh->stopped && sh->dirty.head) {
    conn *c = VA_CONTAINER_OF(sh->dirty.head, conn, dirty_link);
    va_dlist_remove(&sh->dirty, &c->dirty_link);
    c->dirty = false;
    conn_flush(c);
  }
  link_unref(link);
}

/* ---- Accepted connections: calls in, replies out ---- */

static inbound *record_take(shard *sh) {
  inbound *r = sh->free_records;
  if (r)
    sh->free_records = r->next_free;
  else
    r = malloc(sizeof(*r));
  return r;
}

static void record_put(shard *sh, inbound *r) {
  r->next_free = sh->free_records;
  sh->free_records = r;
}

/* Stops reading c while its backlog (output not written, calls not
 * answered) is over its bound, ... */
static void throttle_if_full(conn *c) {
  size_t bound = c->sh->link->out_bound;
  if (c->throttled || (c->inflight < INFLIGHT_HIGH && out_waiting(c) <= bound))
    return;
  c->throttled = true;
  watch_for(c, c->events & ~(uint32_t)(VA_LOOP_READABLE));
}

/* ... and reads it again once that is under half of it. Outside c's
 * handler, WRITABLE is watched too, so that the handler runs at once to
 * decode what was read before. */
static void unthrottle_if_drained(conn *c) {
  size_t bound = c->sh->link->out_bound;
  if (c->dead || !c->throttled || c->inflight >= INFLIGHT_HIGH / 2 ||
      out_waiting(c) > bound / 2)
    return;
  c->throttled = false;
  uint32_t events = c->events | VA_LOOP_READABLE;
  watch_for(c, c->busy ? events : events | VA_LOOP_WRITABLE);
}

/* Writes the REPLY to call id on c; a connection that cannot take it is
 * closed (the peer fails the call with VA_ELINK). */
static void send_reply(conn *c, uint64_t id, int status, const void *data,
                       size_t len, const char *node) {
  va_link *link = c->sh->link;
  if (!node)
    node = link->self;
  va__frame f = {.kind = VA__FRAME_REPLY,
                 .reply = {.id = id,
                           .status = status > 0 ? VA_EFAILED : status,
                           .node = node,
                           .node_len = strlen(node),
                           .body = data,
                           .body_len = len}};
  if (!va__frame_node_name_ok(node, f.reply.node_len))
    f.reply.node_len = 0; /* a name from elsewhere that is not sendable */
  if (len > VA__FRAME_BODY_MAX) {
    f.reply.status = VA_ETOOBIG;
    f.reply.body_len = 0;
  }
  if (send_frame(c, &f) != 0) {
    conn_broken(c);
    return;
  }
  COUNT(c->sh, replies_sent, 1);
}

/* The runtime's answer to a call c handed in: on c's worker. */
static void on_inbound_reply(void *user, int status, const void *data,
                             size_t len) {
  inbound *r = user;
  conn *c = r->c;
  uint64_t id = r->id;
  VA_ASSERT(c->inflight > 0);
  c->inflight--;
  if (c->dead) {
    free(r);
    conn_maybe_free(c);
    return;
  }
  record_put(c->sh, r);
  c->busy = true; /* a failed write breaks c: it must not be freed under us */
  send_reply(c, id, status, data, len, va_reply_node());
  c->busy = false;
  if (c->dead) {
    conn_maybe_free(c);
    return;
  }
  if (c->throttled)
    unthrottle_if_drained(c);
}

/* name (len bytes, checked by the decoder) as a C string in buf. */
static const char *c_string(char *buf, const char *name, size_t len) {
  memcpy(buf, name, len);
  buf[len] = 0;
  return buf;
}

/* The type and method a CALL names, in this runtime's numbers. 0, or the
 * status to answer (VA_ENOTYPE, VA_ENOMETHOD). */
static int resolve(const va_runtime *rt, const va__frame_call *f, int *type,
                   int *method) {
  char buf[VA__FRAME_NAME_MAX + 1];
  *type = va_type_lookup(rt, c_string(buf, f->type, f->type_len));
  if (*type < 0)
    return VA_ENOTYPE;
  if (f->flags & VA__FRAME_SYSTEM) {
    *method = f->method_number;
    return va_method_is_system(*method) ? 0 : VA_ENOMETHOD;
  }
  *method =
      va_method_lookup(rt, *type, c_string(buf, f->method, f->method_len));
  return *method < 0 ? VA_ENOMETHOD : 0;
}

/* Hands a CALL to the runtime; what is refused is answered at once. */
static void on_call(conn *c, const va__frame_call *f) {
  shard *sh = c->sh;
  va_runtime *rt = sh->link->rt;
  bool one_way = f->flags & VA__FRAME_ONE_WAY;
  COUNT(sh, calls_received, 1);
  int type = -1, method = -1;
  int rc = resolve(rt, f, &type, &method);
  va_route_call call = {.type = type,
                        .id = f->actor,
                        .id_len = f->actor_len,
                        .method = method,
                        .body = f->body,
                        .len = f->body_len,
                        .chain = f->chain,
                        .timeout_ms = f->timeout_ms,
                        .hops = f->hops,
                        .one_way = one_way};
  if (rc == 0 && one_way) {
    /* A send: nobody to answer; a refusal is counted. */
    if (va_route_inbound(rt, &call, NULL, NULL) != 0)
      COUNT(sh, sends_refused, 1);
    return;
  }
  inbound *r = rc == 0 ? record_take(sh) : NULL;
  if (rc == 0 && !r)
    rc = VA_ENOMEM;
  if (rc == 0) {
    *r = (inbound){.c = c, .id = f->id};
    c->inflight++;
    rc = va_route_inbound(rt, &call, on_inbound_reply, r);
    if (rc != 0) { /* refused: the callback will not run */
      c->inflight--;
      record_put(sh, r);
    }
  }
  if (rc != 0 && one_way)
    COUNT(sh, sends_refused, 1);
  else if (rc != 0)
    send_reply(c, f->id, rc, NULL, 0, NULL);
  if (!c->dead)
    throttle_if_full(c);
}

/* ---- The opening: HELLO and AUTH each way (link_auth.h) ---- */

/* The names and nonces of c's opening. */
static va__link_hello_pair hello_pair(const conn *c) {
  const va_link *link = c->sh->link;
  size_t peer_len = strlen(c->peer_name);
  return c->outgoing ? (va__link_hello_pair){.connector = link->self,
                                             .connector_len = link->self_len,
                                             .acceptor = c->peer_name,
                                             .acceptor_len = peer_len,
                                             .nonce_c = c->nonce,
                                             .nonce_a = c->peer_nonce}
                     : (va__link_hello_pair){.connector = c->peer_name,
                                             .connector_len = peer_len,
                                             .acceptor = link->self,
                                             .acceptor_len = link->self_len,
                                             .nonce_c = c->peer_nonce,
                                             .nonce_a = c->nonce};
}

/* c's HELLO, naming this node, its worker and the peer, with c's nonce. */
static va__frame hello_frame(const conn *c) {
  const va_link *link = c->sh->link;
  va__frame f = {.kind = VA__FRAME_HELLO,
                 .hello = {.version = VA__FRAME_VERSION,
                           .worker = (uint16_t)c->sh->index,
                           .name = link->self,
                           .name_len = link->self_len,
                           .target = c->peer_name,
                           .target_len = strlen(c->peer_name)}};
  memcpy(f.hello.nonce, c->nonce, sizeof(c->nonce));
  return f;
}

/* Whether f is the peer's AUTH with the right proof for its role; if not,
 * c is closed (logged, counted). */
static bool peer_proved(conn *c, const va__frame *f, va__link_role role) {
  if (f->kind != VA__FRAME_AUTH) {
    conn_malformed(c, "a frame before AUTH");
    return false;
  }
  va__link_hello_pair h = hello_pair(c);
  if (va__link_proof_ok(c->sh->link->key, role, &h, f->auth.proof))
    return true;
  COUNT(c->sh, unauthenticated, 1);
  /* Logged the 1st, 2nd, 4th, 8th... time on this worker: a peer with
   * another key tries again and again. */
  uint64_t n = va_load_relaxed(&c->sh->stats.unauthenticated);
  if ((n & (n - 1)) == 0)
    va_log(c->sh->link->rt, VA_LOG_WARN, "node link: peer not authenticated",
           "peer=%s why=\"its proof does not match this cluster's key\" "
           "times=%" PRIu64,
           c->peer_name, n);
  conn_broken(c);
  return false;
}

/* An accepted connection's opening: the peer's HELLO, meant for this
 * node, answered with this node's HELLO and AUTH; then the peer's AUTH. */
static void on_greeting_in(conn *c, const va__frame *f) {
  va_link *link = c->sh->link;
  if (c->hello_seen) {
    if (peer_proved(c, f, VA__LINK_CONNECTOR)) {
      c->state = READY;
      c->sh->n_greeting--;
    }
    return;
  }
  if (f->kind != VA__FRAME_HELLO) {
    conn_malformed(c, "a frame before HELLO");
    return;
  }
  const va__frame_hello *h = &f->hello;
  if (h->target_len != link->self_len ||
      memcmp(h->target, link->self, h->target_len)) {
    conn_malformed(c, "HELLO for another node");
    return;
  }
  c_string(c->peer_name, h->name, h->name_len);
  memcpy(c->peer_nonce, h->nonce, sizeof(h->nonce));
  c->hello_seen = true;
  if (va__link_random(c->nonce, sizeof(c->nonce)) != 0) {
    conn_broken(c);
    return;
  }
  va__frame hello = hello_frame(c), auth = {.kind = VA__FRAME_AUTH};
  va__link_hello_pair pair = hello_pair(c);
  va__link_proof(link->key, VA__LINK_ACCEPTOR, &pair, auth.auth.proof);
  if (send_frame(c, &hello) != 0 || send_frame(c, &auth) != 0)
    conn_broken(c);
}

/* ---- Outgoing connections: calls out, replies in ---- */

static void count_latency(shard *sh, uint64_t ns) {
  uint64_t us = ns / 1000;
  unsigned i = 0;
  while (i < VA__LINK_LATENCY_BUCKETS - 1 && us > VA__LINK_LATENCY_US[i])
    i++;
  COUNT(sh, latency[i], 1);
  COUNT(sh, latency_count, 1);
  COUNT(sh, latency_sum_ns, ns);
}

static void on_reply(conn *c, const va__frame_reply *f) {
  shard *sh = c->sh;
  call_slot s;
  if (!calls_take(&c->calls, f->id, &s)) {
    COUNT(sh, replies_unknown, 1); /* answered by the sweep already, say */
    return;
  }
  uint64_t now = va_clock_ns();
  count_latency(sh, now > s.sent_ns ? now - s.sent_ns : 0);
  COUNT(sh, answered, 1);
  char node[VA__FRAME_NODE_MAX + 1];
  const char *who = f->node_len ? c_string(node, f->node, f->node_len) : NULL;
  va_route_answer(sh->link->rt, s.reply, f->status, f->body, f->body_len, who);
}

/* An outgoing connection's opening: the peer's HELLO, naming the node it
 * was set to be and meant for this one; then its AUTH, answered with this
 * node's (written where peer_connect kept its place, before the calls
 * queued meanwhile, which then leave too). */
static void on_greeting_out(conn *c, const va__frame *f) {
  shard *sh = c->sh;
  va_link *link = sh->link;
  wpeer *p = c->peer;
  if (c->hello_seen) {
    if (!peer_proved(c, f, VA__LINK_ACCEPTOR))
      return;
    va__frame auth = {.kind = VA__FRAME_AUTH};
    va__link_hello_pair pair = hello_pair(c);
    va__link_proof(link->key, VA__LINK_CONNECTOR, &pair, auth.auth.proof);
    VA_ASSERT(c->auth_pending);
    va__frame_write(&auth, c->out + c->auth_at);
    c->auth_pending = false;
    mark_dirty(c);
    c->state = READY;
    p->backoff_ms = BACKOFF_MIN_MS;
    atomic_fetch_add_explicit(&link->connected[p->node], 1,
                              memory_order_relaxed);
    COUNT(sh, connects, 1);
    return;
  }
  if (f->kind != VA__FRAME_HELLO) {
    conn_malformed(c, "a frame before HELLO");
    return;
  }
  const va__frame_hello *h = &f->hello;
  if (h->name_len != p->name_len || memcmp(h->name, p->name, h->name_len) ||
      h->target_len != link->self_len ||
      memcmp(h->target, link->self, h->target_len)) {
    conn_malformed(c, "HELLO from another node");
    return;
  }
  memcpy(c->peer_nonce, h->nonce, sizeof(h->nonce));
  c->hello_seen = true;
}

/* ---- Input ---- */

static void on_frame(conn *c, const va__frame *f) {
  COUNT(c->sh, frames_received, 1);
  if (c->state != READY) {
    if (c->outgoing)
      on_greeting_out(c, f);
    else
      on_greeting_in(c, f);
  } else if (c->outgoing && f->kind == VA__FRAME_REPLY) {
    on_reply(c, &f->reply);
  } else if (!c->outgoing && f->kind == VA__FRAME_CALL) {
    on_call(c, &f->call);
  } else {
    conn_malformed(c, "a frame of the wrong kind");
  }
}

/* Decodes and handles every complete frame read (while c is not
 * throttled); keeps the start of the next one at the buffer's start. */
static void decode_frames(conn *c) {
  size_t off = 0;
  while (!c->dead && !c->throttled) {
    va__frame f;
    size_t size;
    int rc = va__frame_decode(c->in + off, c->in_len - off, &f, &size);
    if (rc == 0) {
      c->need = size;
      if (c->state != READY && size > HELLO_MAX)
        conn_malformed(c, "a long frame before HELLO");
      break;
    }
    if (rc < 0) {
      conn_malformed(c, rc == VA_ETOOBIG ? "a frame over the limit"
                                         : "a malformed frame");
      break;
    }
    off += size;
    on_frame(c, &f);
  }
  if (c->dead || !off)
    return;
  c->in_len -= off;
  memmove(c->in, c->in + off, c->in_len);
  c->need = VA__FRAME_PREFIX;
  if (!c->in_len && c->in_cap > BUF_KEEP) {
    free(c->in);
    c->in = NULL;
    c->in_cap = 0;
  }
}

/* Room to read into: the whole of the next frame, at least READ_ROOM. */
static int in_reserve(conn *c) {
  size_t want = c->in_len + READ_ROOM;
  if (want < c->need)
    want = c->need;
  if (want <= c->in_cap)
    return 0;
  size_t cap = c->in_cap ? c->in_cap * 2 : BUF_INITIAL;
  if (cap < want)
    cap = want;
  uint8_t *in = realloc(c->in, cap);
  if (!in)
    return VA_ENOMEM;
  c->in = in;
  c->in_cap = cap;
  return 0;
}

/* Reads and decodes until the socket is drained, READ_BUDGET bytes were
 * read (the rest at the next pass), or c is throttled or closed. */
static void conn_read(conn *c) {
  size_t budget = READ_BUDGET;
  while (!c->dead && !c->throttled && budget) {
    if (in_reserve(c) != 0) {
      conn_broken(c);
      return;
    }
    size_t room = c->in_cap - c->in_len;
    ssize_t n = read(c->fd, c->in + c->in_len, room);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (n <= 0) { /* the peer closed, or the connection failed */
      conn_broken(c);
      return;
    }
    c->in_len += (size_t)n;
    COUNT(c->sh, bytes_received, (uint64_t)n);
    budget -= (size_t)n < budget ? (size_t)n : budget;
    decode_frames(c);
    if ((size_t)n < room)
      return; /* drained (level-triggered: what comes later is reported) */
  }
}

/* A non-blocking connect finished (c was watched for WRITABLE). */
static void connect_done(conn *c) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
    conn_broken(c);
    return;
  }
  c->state = GREETING;
  watch_for(c, VA_LOOP_READABLE | VA_LOOP_PEER_CLOSED |
                   (out_waiting(c) ? VA_LOOP_WRITABLE : 0));
}

static void on_conn(void *ctx, uint32_t events) {
  conn *c = ctx;
  c->busy = true;
  if (c->state == CONNECTING) {
    if (events & (VA_LOOP_ERROR | VA_LOOP_HANGUP))
      conn_broken(c);
    else if (events & VA_LOOP_WRITABLE)
      connect_done(c);
  }
  if (!c->dead && events & VA_LOOP_WRITABLE)
    conn_flush(c);
  if (!c->dead && !c->throttled && c->in_len)
    decode_frames(c); /* what was read while throttled */
  if (!c->dead && events & (VA_LOOP_READABLE | VA_LOOP_PEER_CLOSED))
    conn_read(c);
  if (!c->dead && events & (VA_LOOP_ERROR | VA_LOOP_HANGUP))
    conn_broken(c);
  c->busy = false;
  conn_maybe_free(c);
}

/* ---- Peers (outgoing connections) ---- */

static void peer_connect(wpeer *p);

static void on_peer_timer(void *ctx, uint32_t events) {
  (void)events;
  wpeer *p = ctx;
  uint64_t fired;
  ssize_t n = read(p->timer, &fired, sizeof(fired));
  (void)n; /* EAGAIN: nothing to drain */
  p->timer_armed = false;
  if (!p->c)
    peer_connect(p);
}

/* The backoff's timer: made and watched on first use. 0 or an error. */
static int peer_timer(wpeer *p) {
  if (p->timer >= 0)
    return 0;
  p->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (p->timer < 0)
    return VA_ESYS;
  p->timer_watch = (va_loop_watcher){.fn = on_peer_timer, .ctx = p};
  int rc =
      va_loop_watch(p->sh->loop, p->timer, VA_LOOP_READABLE, &p->timer_watch);
  if (rc != 0) {
    close(p->timer);
    p->timer = -1;
    return rc;
  }
  p->timer_watched = true;
  return 0;
}

/* Connects again after the backoff (doubled each time, up to its bound);
 * without a timer, the sweep does. */
static void peer_retry_later(wpeer *p) {
  unsigned ms = p->backoff_ms;
  p->backoff_ms = ms * 2 < BACKOFF_MAX_MS ? ms * 2 : BACKOFF_MAX_MS;
  p->retry_ms = va_clock_coarse_ms() + ms;
  struct itimerspec at = {.it_value = {.tv_sec = ms / 1000,
                                       .tv_nsec = (long)(ms % 1000) * 1000000}};
  p->timer_armed =
      peer_timer(p) == 0 && timerfd_settime(p->timer, 0, &at, NULL) == 0;
}

static int connect_socket(const struct sockaddr_in *addr, bool *at_once) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  tune_socket(fd);
  int rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
  if (rc != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  *at_once = rc == 0;
  return fd;
}

/* Opens p's connection and queues this node's HELLO on it (calls queue
 * behind it while it opens); a failure tries again later. */
static void peer_connect(wpeer *p) {
  shard *sh = p->sh;
  VA_ASSERT(!p->c && !sh->stopped);
  bool at_once = false;
  int fd = connect_socket(&p->addr, &at_once);
  conn *c =
      fd < 0 ? NULL : conn_open(sh, fd, p, at_once ? GREETING : CONNECTING);
  if (!c) {
    if (fd >= 0)
      close(fd);
    COUNT(sh, connect_failures, 1);
    peer_retry_later(p);
    return;
  }
  p->c = c;
  c_string(c->peer_name, p->name, p->name_len);
  /* The HELLO, then room for the AUTH (written once the peer's AUTH is
   * checked); calls queue behind and leave after it. */
  int rc = va__link_random(c->nonce, sizeof(c->nonce));
  va__frame hello = hello_frame(c), auth = {.kind = VA__FRAME_AUTH};
  if (rc == 0)
    rc = send_frame(c, &hello);
  c->auth_at = c->out_len;
  c->auth_pending = true;
  if (rc == 0)
    rc = send_frame(c, &auth);
  if (rc != 0)
    conn_broken(c);
}

/* Drops p's connection (its calls fail with VA_ELINK) and its timer. */
static void peer_disconnect(wpeer *p) {
  if (p->c)
    conn_close(p->c);
  if (p->timer_armed) {
    struct itimerspec off = {0};
    timerfd_settime(p->timer, 0, &off, NULL);
    p->timer_armed = false;
  }
}

static void peer_free(wpeer *p) {
  peer_disconnect(p);
  if (p->timer_watched && !p->sh->loop_gone) {
    int rc = va_loop_unwatch(p->sh->loop, p->timer);
    VA_ASSERT(rc == 0);
    (void)rc;
  }
  if (p->timer >= 0)
    close(p->timer);
  free(p);
}

static void peer_apply(shard *sh, const peer_change *ch) {
  wpeer *p = sh->peers[ch->node];
  if (ch->forget) {
    if (p)
      peer_free(p);
    sh->peers[ch->node] = NULL;
    return;
  }
  if (p && p->name_len == ch->name_len &&
      !memcmp(p->name, ch->name, ch->name_len) &&
      p->addr.sin_addr.s_addr == ch->addr.sin_addr.s_addr &&
      p->addr.sin_port == ch->addr.sin_port)
    return; /* as it was */
  if (p) {
    peer_disconnect(p);
  } else if ((p = calloc(1, sizeof(*p)))) {
    *p = (wpeer){.sh = sh, .node = ch->node, .timer = -1};
    sh->peers[ch->node] = p;
  } else {
    va_log(sh->link->rt, VA_LOG_ERROR, "node link: no memory for a peer",
           "node=%s worker=%u", ch->name, sh->index);
    return;
  }
  memcpy(p->name, ch->name, sizeof(p->name));
  p->name_len = ch->name_len;
  p->addr = ch->addr;
  p->backoff_ms = BACKOFF_MIN_MS;
  peer_connect(p);
}

/* Posted by va__link_set_peer to every worker. */
static void apply_peer(void *ctx, va_loop *loop) {
  peer_change *ch = ctx;
  va_link *link = ch->link;
  shard *sh = &link->shards[va_loop_index(loop)];
  if (!sh->stopped)
    peer_apply(sh, ch);
  if (atomic_fetch_sub_explicit(&ch->left, 1, memory_order_acq_rel) == 1)
    free(ch);
  link_unref(link);
}

/* ---- Accepting and sweeping ---- */

/* Closes the accepted connection that has been in its opening longest. */
static void close_oldest_greeting(shard *sh) {
  for (va_dlink *l = sh->inbound.head; l; l = l->next) {
    conn *c = VA_CONTAINER_OF(l, conn, link);
    if (c->state != READY) {
      conn_close(c);
      return;
    }
  }
}

static void on_accept(void *ctx, uint32_t events) {
  (void)events;
  shard *sh = ctx;
  for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
    int fd = accept4(sh->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                   errno == ENOMEM)) {
      /* The listener would stay ready and spin the loop: not watched
       * until the next sweep; the kernel's backlog holds the peers. */
      if (va_loop_rewatch(sh->loop, sh->listener, 0, &sh->accept_watch) == 0)
        sh->accept_paused = true;
      return;
    }
    if (fd < 0)
      return; /* EAGAIN: all taken */
    tune_socket(fd);
    if (sh->n_greeting >= GREETING_MAX)
      close_oldest_greeting(sh);
    conn *c =
        sh->n_inbound < INBOUND_MAX ? conn_open(sh, fd, NULL, GREETING) : NULL;
    if (!c) {
      close(fd);
      continue;
    }
    va_dlist_append(&sh->inbound, &c->link);
    sh->n_inbound++;
    sh->n_greeting++;
    COUNT(sh, accepted, 1);
  }
}

/* Answers VA_ETIMEDOUT to c's calls whose deadline passed LATE_MS ago,
 * a chunk at a time (an answer may forward a new call on c). */
static void expire_calls(conn *c, uint64_t now_ms) {
  shard *sh = c->sh;
  call_slot expired[EXPIRE_CHUNK];
  size_t n;
  do {
    n = calls_take_expired(&c->calls, now_ms - LATE_MS, expired, EXPIRE_CHUNK);
    for (size_t i = 0; i < n; i++) {
      COUNT(sh, timed_out, 1);
      va_route_answer(sh->link->rt, expired[i].reply, VA_ETIMEDOUT, NULL, 0,
                      NULL);
    }
  } while (n == EXPIRE_CHUNK && !c->dead);
}

static void sweep_peer(wpeer *p, uint64_t now) {
  conn *c = p->c;
  if (!c) {
    if (!p->timer_armed && now >= p->retry_ms)
      peer_connect(p); /* the timer could not be set */
    return;
  }
  if (c->state != READY && now - c->opened_ms > READY_TIMEOUT_MS) {
    conn_broken(c);
    return;
  }
  c->busy = true; /* an answer may not free it under us */
  if (c->calls.n && now > LATE_MS)
    expire_calls(c, now);
  c->busy = false;
  conn_maybe_free(c);
}

/* Once a second: connections not ready in time, calls never answered,
 * peers whose timer could not be set, a paused listener. */
static void on_sweep(void *ctx, uint32_t events) {
  (void)events;
  shard *sh = ctx;
  uint64_t fired;
  ssize_t r = read(sh->sweeper, &fired, sizeof(fired));
  (void)r;
  uint64_t now = va_clock_coarse_ms();
  for (int node = 1; node <= VA__LINK_NODES_MAX && !sh->stopped; node++)
    if (sh->peers[node])
      sweep_peer(sh->peers[node], now);
  for (va_dlink *l = sh->inbound.head, *next; l; l = next) {
    next = l->next;
    conn *c = VA_CONTAINER_OF(l, conn, link);
    if (c->state != READY && now - c->opened_ms > READY_TIMEOUT_MS)
      conn_close(c);
  }
  if (sh->accept_paused &&
      va_loop_rewatch(sh->loop, sh->listener, VA_LOOP_READABLE,
                      &sh->accept_watch) == 0)
    sh->accept_paused = false;
}

/* ---- Rounds: a function on every worker, waited for ---- */

static void round_run(void *ctx, va_loop *loop) {
  (void)loop;
  shard *sh = ctx;
  everywhere *r = sh->run;
  r->fn(sh);
  /* Release: the waiting thread reads what fn wrote after it sees this. */
  atomic_fetch_add_explicit(&r->done, 1, memory_order_release);
}

/* Posts fn for worker i, asking again for a while when there is no memory
 * for the post (only off the workers: a worker must not sleep). */
static int post(va_link *link, unsigned i, va_loop_fn fn, void *ctx) {
  int rc = VA_ENOMEM;
  bool may_sleep = !va_loop_current(link->rt);
  for (int tries = 0; rc == VA_ENOMEM && tries < (may_sleep ? POST_TRIES : 1);
       tries++) {
    if (tries)
      usleep(1000);
    rc = va_loop_run(link->rt, i, fn, ctx);
  }
  return rc;
}

/* Runs fn on every worker's shard and waits until it has run everywhere
 * it could be posted. 0, or the first post's error. */
static int run_everywhere(va_link *link, void (*fn)(shard *sh)) {
  everywhere r = {.fn = fn};
  unsigned posted = 0;
  int failed = 0;
  for (unsigned i = 0; i < link->n; i++) {
    shard *sh = &link->shards[i];
    sh->run = &r;
    int rc = post(link, i, round_run, sh);
    posted += rc == 0;
    if (rc != 0 && !failed)
      failed = rc;
  }
  while (atomic_load_explicit(&r.done, memory_order_acquire) < posted)
    usleep(1000);
  return failed;
}

static void start_shard(shard *sh) {
  sh->sweep_watch = (va_loop_watcher){.fn = on_sweep, .ctx = sh};
  sh->start_rc =
      va_loop_watch(sh->loop, sh->sweeper, VA_LOOP_READABLE, &sh->sweep_watch);
  sh->sweep_watched = sh->start_rc == 0;
}

static void listen_shard(shard *sh) {
  sh->accept_watch = (va_loop_watcher){.fn = on_accept, .ctx = sh};
  sh->start_rc = va_loop_watch(sh->loop, sh->listener, VA_LOOP_READABLE,
                               &sh->accept_watch);
  sh->accept_watched = sh->start_rc == 0;
}

/* Closes a descriptor of the shard, unwatched first if it was watched. */
static void close_watched(shard *sh, int *fd, bool *watched) {
  if (*watched && !sh->loop_gone) {
    int rc = va_loop_unwatch(sh->loop, *fd);
    VA_ASSERT(rc == 0);
    (void)rc;
  }
  *watched = false;
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

/* On the shard's worker (or, loop_gone, on the thread of va__link_free
 * once the runtime has stopped): closes everything it holds. */
static void stop_shard(shard *sh) {
  sh->stopped = true;
  close_watched(sh, &sh->listener, &sh->accept_watched);
  close_watched(sh, &sh->sweeper, &sh->sweep_watched);
  for (int node = 1; node <= VA__LINK_NODES_MAX; node++) {
    if (sh->peers[node])
      peer_free(sh->peers[node]);
    sh->peers[node] = NULL;
  }
  while (sh->inbound.head)
    conn_close(VA_CONTAINER_OF(sh->inbound.head, conn, link));
  for (inbound *r = sh->free_records, *next; r; r = next) {
    next = r->next_free;
    free(r);
  }
  sh->free_records = NULL;
}

/* ---- The public functions ---- */

/* "a.b.c.d:port" into *addr: 0 or VA_EINVAL. */
static int parse_address(const char *address, struct sockaddr_in *addr) {
  const char *colon = strrchr(address, ':');
  char host[INET_ADDRSTRLEN];
  size_t host_len = colon ? (size_t)(colon - address) : 0;
  if (!colon || host_len == 0 || host_len >= sizeof(host))
    return VA_EINVAL;
  c_string(host, address, host_len);
  char *end;
  errno = 0;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (errno || end == colon + 1 || *end || port == 0 || port > 65535)
    return VA_EINVAL;
  *addr = (struct sockaddr_in){.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port)};
  return inet_pton(AF_INET, host, &addr->sin_addr) == 1 ? 0 : VA_EINVAL;
}

static int make_shards(va_link *link) {
  size_t size = link->n * sizeof(shard); /* a multiple of 64 (alignas) */
  link->shards = aligned_alloc(64, size);
  link->connected = calloc(VA__LINK_NODES_MAX + 1, sizeof(*link->connected));
  if (!link->shards || !link->connected)
    return VA_ENOMEM;
  memset(link->shards, 0, size);
  for (unsigned i = 0; i < link->n; i++)
    link->shards[i].sweeper = link->shards[i].listener = -1;
  for (unsigned i = 0; i < link->n; i++) {
    shard *sh = &link->shards[i];
    sh->link = link;
    sh->index = i;
    sh->loop = va_runtime_loop(link->rt, i);
    sh->peers = calloc(VA__LINK_NODES_MAX + 1, sizeof(*sh->peers));
    sh->sweeper = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (!sh->peers)
      return VA_ENOMEM;
    struct timespec every = {.tv_sec = SWEEP_MS / 1000,
                             .tv_nsec = (SWEEP_MS % 1000) * 1000000L};
    struct itimerspec spec = {.it_interval = every, .it_value = every};
    if (!sh->loop || sh->sweeper < 0 ||
        timerfd_settime(sh->sweeper, 0, &spec, NULL) != 0)
      return VA_ESYS;
  }
  return 0;
}

int va__link_new(va_runtime *rt, const char *self,
                 const uint8_t key[VA__LINK_KEY_LEN], va_link **out) {
  if (!rt || !self || !key || !out ||
      !va__frame_node_name_ok(self, strlen(self)))
    return VA_EINVAL;
  if (va_loop_current(rt))
    return VA_EWOULDBLOCK;
  unsigned n = va_runtime_threads(rt);
  if (!n || !va_runtime_loop(rt, 0))
    return VA_ESTOPPED;
  va_link *link = calloc(1, sizeof(*link));
  if (!link)
    return VA_ENOMEM;
  link->rt = rt;
  link->self_len = strlen(self);
  memcpy(link->self, self, link->self_len);
  memcpy(link->key, key, sizeof(link->key));
  link->n = n;
  link->out_bound = OUT_BOUND_DEFAULT;
  atomic_init(&link->refs, 1);
  int rc = make_shards(link);
  if (rc != 0) {
    for (unsigned i = 0; link->shards && i < n; i++)
      if (link->shards[i].sweeper >= 0)
        close(link->shards[i].sweeper);
    link_destroy(link);
    return rc;
  }
  rc = run_everywhere(link, start_shard);
  for (unsigned i = 0; i < n && rc == 0; i++)
    rc = link->shards[i].start_rc;
  if (rc != 0) {
    va__link_free(link);
    return rc;
  }
  *out = link;
  return 0;
}

static int listen_socket(const struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0 ||
      listen(fd, 1024) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

/* Binds every worker's listener on addr (its port, once the first bound
 * one that the kernel picked). 0 or VA_ESYS (nothing left open). */
static int open_listeners(va_link *link, struct sockaddr_in *addr) {
  for (unsigned i = 0; i < link->n; i++) {
    shard *sh = &link->shards[i];
    sh->listener = listen_socket(addr);
    socklen_t len = sizeof(*addr);
    if (sh->listener >= 0 && i == 0 && addr->sin_port == 0 &&
        getsockname(sh->listener, (struct sockaddr *)addr, &len) != 0) {
      close(sh->listener);
      sh->listener = -1;
    }
    if (sh->listener < 0) {
      int err = errno;
      for (unsigned j = 0; j < i; j++) {
        close(link->shards[j].listener);
        link->shards[j].listener = -1;
      }
      errno = err;
      return VA_ESYS;
    }
  }
  return 0;
}

int va__link_listen(va_link *link, const char *host, uint16_t port,
                    uint16_t *bound) {
  if (!link || !host)
    return VA_EINVAL;
  if (va_loop_current(link->rt))
    return VA_EWOULDBLOCK;
  if (link->listening)
    return VA_ESTATE;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
    return VA_EINVAL;
  int rc = open_listeners(link, &addr);
  if (rc != 0)
    return rc;
  link->listening = true;
  rc = run_everywhere(link, listen_shard);
  for (unsigned i = 0; i < link->n && rc == 0; i++)
    rc = link->shards[i].start_rc;
  if (bound)
    *bound = ntohs(addr.sin_port);
  return rc;
}

int va__link_set_peer(va_link *link, int node, const char *name,
                      const char *address) {
  if (!link || node < 1 || node > VA__LINK_NODES_MAX)
    return VA_EINVAL;
  peer_change *ch = calloc(1, sizeof(*ch));
  if (!ch)
    return VA_ENOMEM;
  *ch = (peer_change){.link = link, .node = node, .forget = !address};
  if (address && (!name || !va__frame_node_name_ok(name, strlen(name)) ||
                  parse_address(address, &ch->addr) != 0)) {
    free(ch);
    return VA_EINVAL;
  }
  if (address) {
    ch->name_len = strlen(name);
    memcpy(ch->name, name, ch->name_len);
  }
  atomic_init(&ch->left, link->n);
  int failed = 0;
  for (unsigned i = 0; i < link->n; i++) {
    link_ref(link);
    int rc = post(link, i, apply_peer, ch);
    if (rc == 0)
      continue;
    failed = failed ? failed : rc;
    link_unref(link);
    if (atomic_fetch_sub_explicit(&ch->left, 1, memory_order_acq_rel) == 1)
      free(ch);
  }
  return failed;
}

void va__link_set_out_bound(va_link *link, size_t bytes) {
  if (link)
    link->out_bound = bytes ? bytes : OUT_BOUND_DEFAULT;
}

/* The CALL frame for call (its names from the runtime). 0 or VA_EINVAL. */
static int call_frame(const va_runtime *rt, const va_route_call *call,
                      uint64_t id, va__frame *f) {
  if (call->hops > VA_ROUTE_MAX_HOPS)
    return VA_EINVAL; /* the runtime runs such a call where it is */
  const char *type = va_type_name(rt, call->type);
  bool system = va_method_is_system(call->method);
  const char *method =
      system ? NULL : va_method_name(rt, call->type, call->method);
  if (!type || (!system && !method))
    return VA_EINVAL;
  *f = (va__frame){
      .kind = VA__FRAME_CALL,
      .call = {.id = id,
               .chain = call->chain,
               .timeout_ms = call->timeout_ms > UINT32_MAX
                                 ? UINT32_MAX
                                 : (uint32_t)call->timeout_ms,
               .hops = (uint8_t)call->hops, /* this crossing counted */
               .flags = (uint8_t)((call->one_way ? VA__FRAME_ONE_WAY : 0) |
                                  (system ? VA__FRAME_SYSTEM : 0)),
               .method_number = system ? (uint16_t)call->method : 0,
               .method = method,
               .method_len = method ? strlen(method) : 0,
               .type = type,
               .type_len = strlen(type),
               .actor = call->id,
               .actor_len = call->id_len,
               .body = call->body,
               .body_len = call->len}};
  return 0;
}

/* The connection a call to node from sh goes on: 0, or why none does. */
static int conn_for(shard *sh, int node, conn **out) {
  wpeer *p = !sh->stopped && node >= 1 && node <= VA__LINK_NODES_MAX
                 ? sh->peers[node]
                 : NULL;
  if (!p || !p->c) {
    COUNT(sh, refused_link, 1);
    return VA_ELINK;
  }
  conn *c = p->c;
  if (out_waiting(c) > sh->link->out_bound || c->calls.n >= CALLS_MAX) {
    COUNT(sh, refused_busy, 1);
    return VA_EBACKPRESSURE;
  }
  *out = c;
  return 0;
}

int va__link_forward(va_link *link, va_loop *loop, int node,
                     const va_route_call *call, va_route_reply reply) {
  if (!link || !loop || !call || va_loop_index(loop) >= link->n)
    return VA_EINVAL;
  shard *sh = &link->shards[va_loop_index(loop)];
  VA_ASSERT(va_loop_current(link->rt) == loop);
  conn *c;
  int rc = conn_for(sh, node, &c);
  if (rc != 0)
    return rc;
  va__frame f;
  uint64_t id = call->one_way ? 0 : c->next_id;
  rc = call_frame(link->rt, call, id, &f);
  if (rc == 0 && id) {
    call_slot slot = {.id = id,
                      .sent_ns = va_clock_ns(),
                      .deadline_ms = va_clock_coarse_ms() + f.call.timeout_ms,
                      .reply = reply};
    rc = calls_add(&c->calls, &slot);
  }
  if (rc == 0 && (rc = send_frame(c, &f)) != 0 && id) {
    call_slot unsent;
    calls_take(&c->calls, id, &unsent); /* not sent: not waited for */
  }
  if (rc != 0) {
    COUNT(sh, refused_bad, 1);
    return rc;
  }
  c->next_id += id != 0;
  COUNT(sh, calls_sent, 1);
  return 0;
}

void va__link_stats_get(va_link *link, va__link_stats *out) {
  memset(out, 0, sizeof(*out));
  for (unsigned i = 0; link && i < link->n; i++) {
    const counters *s = &link->shards[i].stats;
#define LINK_COUNTER_SUM(name) out->name += va_load_relaxed(&s->name);
    LINK_COUNTERS(LINK_COUNTER_SUM)
#undef LINK_COUNTER_SUM
    for (int b = 0; b < VA__LINK_LATENCY_BUCKETS; b++)
      out->latency[b] += va_load_relaxed(&s->latency[b]);
  }
}

unsigned va__link_peer_connected(va_link *link, int node) {
  if (!link || node < 1 || node > VA__LINK_NODES_MAX)
    return 0;
  return atomic_load_explicit(&link->connected[node], memory_order_relaxed);
}

void va__link_free(va_link *link) {
  if (!link)
    return;
  if (va_loop_current(link->rt)) {
    va_log(link->rt, VA_LOG_ERROR, "node link: freed on a worker (leaked)",
           "worker=%u", va_loop_index(va_loop_current(link->rt)));
    return;
  }
  run_everywhere(link, stop_shard);
  /* A worker the stop could not reach has left its loop: the runtime has
   * stopped, and this thread may close what that shard holds. */
  for (unsigned i = 0; i < link->n; i++) {
    shard *sh = &link->shards[i];
    if (!sh->stopped) {
      sh->loop_gone = true;
      stop_shard(sh);
    }
  }
  link_unref(link);
}
