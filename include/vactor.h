/*
 * vactor.h — the public C API of libvactor, a virtual-actor runtime.
 *
 * A program creates a runtime, registers actor types (a name, methods by name,
 * optional activate/deactivate hooks), starts it, and calls actors by
 * (type, id). The runtime activates an actor on its first message, runs its
 * messages one turn at a time, keeps its state (key -> bytes) in a store,
 * deactivates it when idle and brings it back, state restored, on the next
 * call.
 *
 * Threads. The runtime runs N worker threads. Every actor belongs to one
 * worker (by a hash of type and id) and only ever runs there, so a method
 * never races with another method of the same actor. Functions named
 * va_turn_* may only be called from inside a turn (a method, a continuation
 * or a hook), on the thread that runs it, with the va_turn it was given.
 * Every other function is thread-safe unless its comment says otherwise.
 *
 * Errors. Every function that can fail returns 0 (or a non-negative value)
 * on success and a negative VA_E* code on failure; va_strerror() names it.
 * If a function that takes a callback fails, the callback is never called.
 * The library never exits the process and never prints: what an operator
 * should see (a failed commit, a refused request) goes to the log callback
 * of va_config, if one is set.
 *
 * Memory. Pointers passed in are borrowed for the duration of the call
 * unless a comment says otherwise; data that must outlive the call is copied.
 * Pointers handed to callbacks are valid only until the callback returns.
 */
#ifndef VACTOR_H
#define VACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ------------------------------------------------------------- */

/* The version of this header (semantic versioning: a new MAJOR breaks the
 * API or the ABI); the build reads it from here. va_version() is the
 * library's own, as "MAJOR.MINOR.PATCH": the two differ when a program
 * runs against another libvactor.so than the one it was built with. */
#define VA_VERSION_MAJOR 0
#define VA_VERSION_MINOR 2
#define VA_VERSION_PATCH 0
const char *va_version(void);

/* ---- Errors -------------------------------------------------------------- */

/* One table for every error code: name, value, message. */
#define VA_ERRNO_MAP(XX)                                                       \
  XX(EINVAL, -1, "invalid argument")                                           \
  XX(ENOMEM, -2, "out of memory")                                              \
  XX(ENOTYPE, -3, "unknown actor type")                                        \
  XX(ENOMETHOD, -4, "unknown method")                                          \
  XX(ETIMEDOUT, -5, "call timed out")                                          \
  XX(EDEADLK, -6, "call cycle among non-reentrant actors")                     \
  XX(EBACKPRESSURE, -7, "mailbox full, retry later")                           \
  XX(ESTOPPED, -8, "runtime is not running")                                   \
  XX(EEXIST, -9, "already exists")                                             \
  XX(ESTATE, -10, "not allowed in the runtime's current state")                \
  XX(EWOULDBLOCK, -11, "blocking call made from a runtime thread")             \
  XX(ENOTFOUND, -12, "not found")                                              \
  XX(ETOOBIG, -13, "too large")                                                \
  XX(ESTORE, -14, "state store failed")                                        \
  XX(EFAILED, -15, "method failed")                                            \
  XX(ESYS, -16, "operating system call failed")                                \
  XX(ECONFLICT, -17, "version does not match")                                 \
  XX(EPERM, -18, "not permitted")                                              \
  XX(EDEPTH, -19, "call chain nested too deep")                                \
  XX(EMOVED, -20, "actor is active on another node")                           \
  XX(EFENCED, -21, "this node no longer owns the actor")                       \
  XX(ELINK, -22, "link to the actor's node failed")

typedef enum va_errno {
#define VA_ERRNO_ENUM(name, value, msg) VA_##name = (value),
  VA_ERRNO_MAP(VA_ERRNO_ENUM)
#undef VA_ERRNO_ENUM
} va_errno;

/* A static string describing code: "call timed out". Unknown codes (an
 * application's own negative codes) read "application error". */
const char *va_strerror(int code);
/* The code's short name: "VA_ETIMEDOUT", or "VA_UNKNOWN". */
const char *va_err_name(int code);

/* ---- Runtime configuration ----------------------------------------------- */

typedef struct va_runtime va_runtime;
typedef struct va_turn va_turn;
typedef struct va_ref va_ref;

/* When a turn's reply may leave, relative to its state reaching the disk. */
typedef enum va_durability {
  /* The default. A reply waits until the state it follows (the turn's own
   * writes, and any earlier ones of that actor) is committed and fsync'd.
   * Many turns share one commit (group commit). */
  VA_DURABLE = 0,
  /* A reply leaves as soon as the turn ends; the state is committed right
   * after without fsync (SQLite's synchronous=NORMAL in WAL mode), and
   * fsync'd every relaxed_sync_ms. Survives the process being killed; a
   * power loss or kernel crash may lose the turns acknowledged in the last
   * relaxed_sync_ms (plus those not yet committed). */
  VA_RELAXED = 1,
} va_durability;

/* In relaxed mode the store still fsyncs at least this often. */
#define VA_RELAXED_SYNC_MS_DEFAULT 100
/* Reminders and timers fire at most once a second by default. */
#define VA_MIN_PERIOD_MS_DEFAULT 1000

/* ---- Logging ---- */

typedef enum va_log_level {
  VA_LOG_DEBUG = 0,
  VA_LOG_INFO = 1,
  VA_LOG_WARN = 2,
  VA_LOG_ERROR = 3,
} va_log_level;

/* Receives one log event: msg is a short fixed text ("commit failed"),
 * fields its details as logfmt pairs (key=value key2="quoted value"), or
 * "". Called from any thread, also from workers: it must not block for
 * long, and must be thread-safe. Both strings are borrowed. */
typedef void (*va_log_fn)(void *user, va_log_level level, const char *msg,
                          const char *fields);

typedef struct va_config {
  unsigned threads;          /* worker threads; 0 = number of cores */
  uint64_t idle_timeout_ms;  /* deactivate after this long idle; 0 = 60 min */
  uint64_t scan_interval_ms; /* how often idle actors are looked for; 0 = 30 s
                                (never more than the idle timeout) */
  uint64_t call_timeout_ms;  /* every call's deadline; 0 = 60 s */
  uint32_t mailbox_bound;    /* messages one actor's mailbox (or, for
                                senders on other threads, one worker's
                                backlog) may hold; 0 = 65536 */
  const char *store;         /* where state lives: NULL or "memory:" for
                                memory only, a postgresql:// (or
                                postgres://) URI for a PostgreSQL database
                                (a cluster's), else the path of a SQLite
                                database file (created if missing; WAL
                                mode); copied */
  va_durability durability;  /* VA_DURABLE (default) or VA_RELAXED */
  uint32_t relaxed_sync_ms;  /* VA_RELAXED: fsync at least every this many
                                ms; 0 = VA_RELAXED_SYNC_MS_DEFAULT */
  uint64_t min_period_ms;    /* the shortest period a reminder or a timer
                                may have (and the least time between two
                                fires of one); 0 = VA_MIN_PERIOD_MS_DEFAULT */
  va_log_fn log;             /* where log events go; NULL: nowhere */
  void *log_user;            /* passed to log */
  const char *node;          /* this node's name in a cluster (copied;
                                1..63 bytes of A-Z a-z 0-9 . _ -): with a
                                PostgreSQL store, activations claim their
                                actors for it (vactor_route.h); NULL: one
                                node */
} va_config;

/* Fills cfg with the defaults (all zero, meaning "default"). */
void va_config_init(va_config *cfg);

/* Hands one event to rt's log callback (nothing without one): fmt and the
 * arguments after it, printf-style, make the logfmt fields (NULL: none).
 * Values the caller did not write itself must go through va_log_quote.
 * Any thread. Fields longer than 1 KiB are cut. */
void va_log(va_runtime *rt, va_log_level level, const char *msg,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Writes s as a logfmt quoted value into out (size bytes, NUL-ended, cut
 * if it does not fit; size >= 3): "..." with backslash, quote, \n, \r
 * and \t escaped, other control bytes as \xHH. Returns out. */
char *va_log_quote(const char *s, size_t len, char *out, size_t size);

/* ---- Actor types ---- */

/* A method. arg/len is the message body (borrowed for the call). Return 0 on
 * success or a negative code to fail the turn: its state writes are then
 * discarded and a caller gets the code. Calls made with va_turn_call() keep
 * the turn open after the method returns; it ends when they have all
 * answered and their continuations have returned. */
typedef int (*va_method_fn)(va_turn *turn, const void *arg, size_t len);

/* An activate or deactivate hook. Runs as a turn of its own: it may read
 * and write state, but not call other actors. A failing activate hook fails
 * the message that caused the activation; the actor stays inactive. */
typedef int (*va_hook_fn)(va_turn *turn);

/* A reminder's hook: runs as a turn of the actor when the reminder `name`
 * is due, with the data it was set with. A negative return fails the turn:
 * nothing it wrote is kept and the reminder fires again. */
typedef int (*va_reminder_fn)(va_turn *turn, const char *name, const void *data,
                              size_t len);

typedef struct va_method {
  const char *name;
  va_method_fn fn;
} va_method;

enum va_type_flags {
  /* A call that belongs to the call chain of the actor's open turn runs at
   * once instead of waiting (Dapr/Orleans reentrancy). */
  VA_TYPE_REENTRANT = 1u << 0,
  /* State, reminder and timer calls from outside (va_state_read,
   * va_state_write, va_reminder_call, va_timer_call) that arrive while the
   * actor's turn is open and waiting join that turn: they run at once, in
   * it, and their writes are saved with it. For actors whose turns are
   * carried out by another process that calls back during them (a Dapr
   * app); otherwise those calls would wait for the turn that waits for
   * them. */
  VA_TYPE_OPEN_STATE = 1u << 1,
};

typedef struct va_type_def {
  const char *name;         /* copied */
  const va_method *methods; /* copied */
  size_t n_methods;
  va_hook_fn on_activate;     /* optional */
  va_hook_fn on_deactivate;   /* optional */
  va_reminder_fn on_reminder; /* optional: without it reminders only move */
  size_t instance_size;       /* zeroed per-activation memory: va_turn_self() */
  unsigned flags;             /* va_type_flags */
  /* The type's own data (what its methods and hooks share: their
   * configuration, the ids of the types they call), given back by
   * va_turn_type_user() in every turn of the type. Borrowed, never freed
   * by the runtime: it must outlive the runtime. Optional (NULL). Two
   * runtimes in one process register the type each with their own. */
  void *user;
} va_type_def;

/* ---- Runtime lifecycle ---- */

/* Creates a runtime (not yet running). cfg may be NULL for the defaults.
 * On success *out owns the runtime; release it with va_runtime_free(). */
int va_runtime_new(const va_config *cfg, va_runtime **out);

/* Registers an actor type. Only before va_runtime_start(). Returns the
 * type's id (>= 0), VA_EEXIST for a duplicate name, VA_ESTATE once started. */
int va_register_type(va_runtime *rt, const va_type_def *def);

/* Starts the worker threads. */
int va_runtime_start(va_runtime *rt);

/* Stops accepting new external calls, waits for every turn in flight (and
 * every message already queued) to finish, deactivates every actor (running
 * its deactivate hook), then joins the workers. Must not be called from a
 * runtime thread (VA_EWOULDBLOCK). Calling it twice is harmless. */
int va_runtime_stop(va_runtime *rt);

/* Stops the runtime if needed and frees it. NULL is a no-op. */
void va_runtime_free(va_runtime *rt);

/* Number of worker threads (after start). */
unsigned va_runtime_threads(const va_runtime *rt);

/* Ids of registered names, for the calls below. A type id is >= 0 or
 * VA_ENOTYPE; a method id is >= 0 or VA_ENOTYPE / VA_ENOMETHOD. */
int va_type_lookup(const va_runtime *rt, const char *type);
int va_method_lookup(const va_runtime *rt, int type, const char *method);
/* Gives a type an idle timeout of its own (0: the runtime's), before or
 * while the runtime runs (not from two threads at once); activations of
 * the type idle that long are deactivated. */
int va_type_set_idle_timeout(va_runtime *rt, int type, uint64_t ms);

/* The number of registered types (ids 0..n-1), and a type's name (borrowed
 * from the runtime; NULL for a bad id). */
int va_type_count(const va_runtime *rt);
const char *va_type_name(const va_runtime *rt, int type);

/* ---- Calling actors from outside a turn ---- */

/* Receives a call's outcome. status is 0 or a negative code (the method's
 * own code, VA_ETIMEDOUT, VA_EDEADLK, VA_EBACKPRESSURE, ...). data/len is
 * the reply body, borrowed until the callback returns. Runs on a runtime
 * thread: it must not block; it may issue further calls. */
typedef void (*va_reply_fn)(void *user, int status, const void *data,
                            size_t len);

/* Calls method of actor (type, id). Copies id and arg. cb is called exactly
 * once if this returns 0. VA_EBACKPRESSURE if the owning worker's inbox is
 * full. */
int va_call(va_runtime *rt, int type, const char *id, size_t id_len, int method,
            const void *arg, size_t len, va_reply_fn cb, void *user);

/* As va_call, as part of call chain `chain` (from va_turn_chain, carried
 * through another process): for a reentrant type whose turn of that chain
 * is open, it runs at once instead of waiting. chain 0: a new chain. */
int va_call_in_chain(va_runtime *rt, int type, const char *id, size_t id_len,
                     int method, const void *arg, size_t len, uint64_t chain,
                     va_reply_fn cb, void *user);

/* One-way message: no reply, no completion. */
int va_send(va_runtime *rt, int type, const char *id, size_t id_len, int method,
            const void *arg, size_t len);

/* Blocking call for C programs and tests. On success (return 0) *reply
 * holds a malloc'd copy of the reply body (free it with free(); NULL when
 * empty) and *reply_len its length; both may be NULL to ignore the reply.
 * Returns the call's status. VA_EWOULDBLOCK on a runtime thread. */
int va_call_wait(va_runtime *rt, int type, const char *id, size_t id_len,
                 int method, const void *arg, size_t len, void **reply,
                 size_t *reply_len);

/* ---- Resolved references ---- */

/* A reference remembers where (type, id) lives, so calls through it skip
 * hashing and, while the activation lives, the directory lookup. It stays
 * valid across deactivation: the next call reactivates the actor. Owned by
 * the caller; free with va_ref_free() after its last call has been made. */
int va_ref_new(va_runtime *rt, int type, const char *id, size_t id_len,
               va_ref **out);
void va_ref_free(va_ref *ref);

int va_ref_call(va_ref *ref, int method, const void *arg, size_t len,
                va_reply_fn cb, void *user);
int va_ref_send(va_ref *ref, int method, const void *arg, size_t len);

/* ---- Inside a turn ---- */

/* The actor's per-activation memory (instance_size bytes, zeroed at
 * activation, freed at deactivation). Not transactional: only state written
 * with va_turn_state_set() is rolled back when a turn fails. */
void *va_turn_self(va_turn *turn);
/* The actor's id (not NUL-terminated; *len is set) and type id. */
const char *va_turn_id(const va_turn *turn, size_t *len);
/* The call chain this turn belongs to: a number that protocols carrying a
 * chain across processes (Dapr's reentrancy ids) can pass along and give
 * back to va_call_in_chain. Never 0. */
uint64_t va_turn_chain(const va_turn *turn);
int va_turn_type(const va_turn *turn);
va_runtime *va_turn_runtime(const va_turn *turn);
/* The user pointer of the turn's actor type (va_type_def.user), as it was
 * registered; in methods, continuations and hooks alike. */
void *va_turn_type_user(const va_turn *turn);

/* Sets the reply body of this turn (copied; the last call wins). */
int va_turn_reply(va_turn *turn, const void *data, size_t len);

/* Continuation of a call made inside a turn: runs later as part of the
 * same turn, with the callee's status and reply (borrowed). Its return value
 * counts as the method's: negative fails the whole turn. */
typedef int (*va_cont_fn)(va_turn *turn, void *user, int status,
                          const void *data, size_t len);

/* Calls another actor from inside a turn. The turn is suspended, not the
 * thread: the worker runs other actors meanwhile, and cont runs when the
 * reply (or a timeout / deadlock error) arrives. A call back into an actor
 * whose turn is waiting on this chain fails at once with VA_EDEADLK unless
 * that actor's type is reentrant. */
int va_turn_call(va_turn *turn, int type, const char *id, size_t id_len,
                 int method, const void *arg, size_t len, va_cont_fn cont,
                 void *user);
int va_turn_call_ref(va_turn *turn, va_ref *ref, int method, const void *arg,
                     size_t len, va_cont_fn cont, void *user);

/* One-way send from inside a turn. VA_EBACKPRESSURE when the target's
 * mailbox (same worker) or the target worker's inbox is full. */
int va_turn_send(va_turn *turn, int type, const char *id, size_t id_len,
                 int method, const void *arg, size_t len);
int va_turn_send_ref(va_turn *turn, va_ref *ref, int method, const void *arg,
                     size_t len);

/* Waiting inside a turn for work done outside the runtime (an HTTP request
 * on another thread, say), the way a turn waits for a call: va_turn_await
 * suspends the turn and gives a ticket; whoever does the work calls
 * va_await_done(ticket, ...) once, from any thread, and cont runs in the
 * turn with that outcome (data is copied). If the call timeout passes
 * first, cont gets VA_ETIMEDOUT and the later va_await_done only frees the
 * ticket; so does one for a turn that failed meanwhile. The outside work
 * should time out sooner than the call timeout. va_await_done takes
 * ownership of the ticket; it must run before va_runtime_free. */
typedef struct va_await va_await;
int va_turn_await(va_turn *turn, va_cont_fn cont, void *user,
                  va_await **ticket);
void va_await_done(va_await *ticket, int status, const void *data, size_t len);

/* ---- Timers (inside a turn) ---- */

/* A timer: after due_ms, and then every period_ms (0: once), method is
 * called with a copy of data/len as a one-way message, at most `fires`
 * times in all (0: no limit) and never at or after ttl_ms past its first
 * due time (0: no end), whichever comes first (Dapr's R<n>/ periods and
 * ttl). A period_ms other than 0 under va_min_period_ms is VA_EINVAL; the
 * next fire is due period_ms after the previous one ran. */
typedef struct va_timer_spec {
  uint64_t due_ms, period_ms;
  uint64_t fires;  /* 0: no limit */
  uint64_t ttl_ms; /* 0: no end; else counted from the first due time */
  int method;
  const void *data; /* copied */
  size_t len;
} va_timer_spec;

/* Starts, or replaces, the timer `name` of this activation (spec above).
 * Timers live in memory: they die with the activation, and the turns they
 * cause do not keep the actor from going idle. */
int va_turn_timer_start(va_turn *turn, const char *name,
                        const va_timer_spec *spec);
/* Stops the timer `name`. VA_ENOTFOUND if there is none. */
int va_turn_timer_stop(va_turn *turn, const char *name);

/* ---- Dapr's time formats ---- */

/* A duration as Dapr's timers and reminders write it: a calendar part
 * (years, months, days, added as dates are) and an exact part. */
typedef struct va_duration {
  int32_t years, months, days;
  int64_t ns;
} va_duration;

/* An ISO 8601 duration (PT1H30M, P1W2D; integers only, no Rn/ prefix) or a
 * Go duration (1h2m3s, 500ms, 1.5h, -5s). VA_EINVAL for anything else. */
int va_parse_duration(const char *s, size_t len, va_duration *out);
/* A period: Rn/ + ISO 8601 duration (at most n fires in all; n >= 1), or a
 * duration as above (no limit; *repetitions = -1). Zero and negative
 * periods are VA_EINVAL. */
int va_parse_period(const char *s, size_t len, va_duration *out,
                    int64_t *repetitions);
/* A due time: a duration after now_ms, or an RFC 3339 timestamp
 * (2025-10-02T15:00:00Z, ...00.250+02:00); empty means now. In wall-clock
 * ms since the epoch. */
int va_parse_due(const char *s, size_t len, int64_t now_ms, int64_t *due_ms);
/* Wall-clock ms since the epoch as RFC 3339 in UTC with milliseconds
 * (2025-10-02T15:00:00.250Z) into out (at least VA_TIME_TEXT_MAX bytes);
 * VA_EINVAL, and out "", for a time before 1970 or after 9999. */
enum { VA_TIME_TEXT_MAX = 32 };
int va_format_time(int64_t ms, char *out, size_t cap);
/* The wall clock: ms since the epoch. */
int64_t va_wall_ms(void);
/* t_ms + d, the calendar part first (in UTC), saturated to INT64_MIN or
 * INT64_MAX when the result is out of range. */
int64_t va_duration_add(int64_t t_ms, const va_duration *d);
/* The first due_ms + k * period (k >= 1, the calendar parts multiplied as
 * one) after after_ms, in O(1) for exact periods and at most 63 date
 * computations for calendar ones, whatever the lateness; INT64_MAX when
 * that is out of range or period is not one (all zero, or a part < 0). */
int64_t va_period_next(int64_t due_ms, const va_duration *period,
                       int64_t after_ms);
/* The shortest time one period can span in ms (a month counts as 28 days,
 * a year as 12 of them), saturated. */
int64_t va_period_shortest_ms(const va_duration *period);

/* ---- Reminders ---- */

/* A reminder: persisted with the actor's state, so it survives restarts; it
 * fires (on_reminder, as a turn, activating the actor if needed) at due_ms,
 * then every period, never early, at least once per due time; the periods
 * missed while the process was down fire once. */
/* What a fire that fails (on_reminder, or the turn it awaits, fails) is
 * followed by. VA_RETRY_FOREVER (the zero value): the fire again a second
 * later until one succeeds (at least once per due time). VA_RETRY_DROP:
 * none; the schedule goes on to the next due time. VA_RETRY_CONSTANT: up
 * to max retries (1..VA_RETRY_MAX, or VA_RETRY_UNLIMITED), interval_ms
 * apart (100 ms .. VA_RETRY_INTERVAL_MAX_MS, a multiple of 100 ms),
 * then the schedule goes on (Dapr's scheduler failure policies). Retries
 * are counted in memory: a restart starts the count again. */
typedef enum va_retry_kind {
  VA_RETRY_FOREVER,
  VA_RETRY_DROP,
  VA_RETRY_CONSTANT,
} va_retry_kind;
enum {
  VA_RETRY_MAX = 254,
  VA_RETRY_UNLIMITED = 255,
  VA_RETRY_INTERVAL_MAX_MS = 6553500,
};
typedef struct va_reminder_retry {
  va_retry_kind kind;
  uint32_t max;         /* VA_RETRY_CONSTANT only */
  uint32_t interval_ms; /* VA_RETRY_CONSTANT only */
} va_reminder_retry;

typedef struct va_reminder {
  int64_t due_ms;     /* next fire, wall-clock ms since the epoch */
  va_duration period; /* all zero: fire once */
  int64_t left;       /* fires to go, >= 1; -1: no limit */
  int64_t expires_ms; /* 0: never; else must be after due_ms */
  const void *data;   /* copied */
  size_t len;
  va_reminder_retry retry; /* zero: VA_RETRY_FOREVER */
} va_reminder;

/* The shortest period a reminder or a timer may have, and the least time
 * between two fires of one (va_config.min_period_ms, resolved). */
uint64_t va_min_period_ms(const va_runtime *rt);
/* Whether p may be a reminder's or a timer's period on rt: all zero (once),
 * or parts >= 0 whose shortest span is at least va_min_period_ms. */
bool va_period_allowed(const va_runtime *rt, const va_duration *p);

/* Inside a turn: set (or replace), read, delete a reminder of this actor.
 * Saved with the turn's other writes. get's data points into the state
 * (valid as va_turn_state_get's). Names are 1..255 bytes. A period whose
 * shortest span (va_period_shortest_ms) is under va_min_period_ms, or with
 * a part below zero, is VA_EINVAL. A reminder stored with a shorter period
 * (before the minimum was raised) fires as if its period were the minimum.
 * After a fire the next one is the first due time past now (missed
 * periods fire once), and never sooner than the minimum after this one. */
int va_turn_reminder_set(va_turn *turn, const char *name,
                         const va_reminder *spec);
int va_turn_reminder_get(va_turn *turn, const char *name, va_reminder *out);
int va_turn_reminder_delete(va_turn *turn, const char *name);
/* Inside on_reminder: whether this fire is the reminder's last (a
 * one-shot, its last repetition, or a next due time at or past its
 * expiry), after which the runtime deletes it. False anywhere else. */
bool va_turn_reminder_last(const va_turn *turn);
/* Inside a reminder's fire turn (in on_reminder, or in a continuation of
 * a call it awaits): this fire failed, although the turn goes on. The
 * reminder's schedule stays as it was before the fire and its failure
 * policy applies (va_reminder_retry), while the turn's other writes are
 * saved as ever: what an app was told is saved stays saved. VA_EINVAL
 * outside a fire turn. */
int va_turn_reminder_failed(va_turn *turn);
/* Calls fn once per reminder of this actor (as of this turn's writes). */
typedef void (*va_reminder_name_fn)(void *user, const char *name);
int va_turn_reminder_list(va_turn *turn, va_reminder_name_fn fn, void *user);

/* From outside: the same as a call to the actor (type, id). cb gets the
 * status; for VA_REMINDER_GET the reply is the reminder, read it with
 * va_reminder_decode; for VA_REMINDER_LIST the names. spec only for
 * VA_REMINDER_SET and VA_REMINDER_CREATE; name NULL only for
 * VA_REMINDER_LIST. */
typedef enum va_reminder_op {
  VA_REMINDER_SET,
  VA_REMINDER_GET,
  VA_REMINDER_DELETE,
  VA_REMINDER_LIST,   /* name NULL; the reply: every name, each NUL-ended */
  VA_REMINDER_CREATE, /* SET, but VA_EEXIST when one of the name exists */
} va_reminder_op;
int va_reminder_call(va_runtime *rt, int type, const char *id, size_t id_len,
                     const char *name, const va_reminder *spec,
                     va_reminder_op op, va_reply_fn cb, void *user);
/* Reads a VA_REMINDER_GET reply; out->data points into data. */
int va_reminder_decode(const void *data, size_t len, va_reminder *out);

/* ---- State and timers from outside ----
 * What the Dapr actor API offers its callers, for any actor by (type, id):
 * each is a turn of the actor's own (so it waits for the actor's running
 * turn), and replies through cb like a call. */

/* Reads key: the reply is its value; VA_ENOTFOUND when absent. */
int va_state_read(va_runtime *rt, int type, const char *id, size_t id_len,
                  const char *key, va_reply_fn cb, void *user);

/* A batch of state writes, applied by va_state_write in one turn: all or
 * none. The caller owns it: zero-initialise, add, free. */
typedef struct va_state_batch {
  char *data;
  size_t len, cap;
} va_state_batch;
/* ttl_seconds 0: no expiry. Copies key and value. */
int va_state_batch_put(va_state_batch *b, const char *key, const void *val,
                       size_t len, uint32_t ttl_seconds);
int va_state_batch_delete(va_state_batch *b, const char *key);
void va_state_batch_free(va_state_batch *b);
int va_state_write(va_runtime *rt, int type, const char *id, size_t id_len,
                   const va_state_batch *batch, va_reply_fn cb, void *user);

/* Starts (or replaces) the timer `name` of the actor, as
 * va_turn_timer_start would inside its turn (activating it if needed);
 * spec NULL stops it instead (VA_ENOTFOUND if there is none). */
int va_timer_call(va_runtime *rt, int type, const char *id, size_t id_len,
                  const char *name, const va_timer_spec *spec, va_reply_fn cb,
                  void *user);

/* ---- Actor state (inside a turn) ---- */

/* Reads key. On success *val points at the value (valid until the turn
 * writes that key again or ends) and *len is its length. VA_ENOTFOUND if
 * absent. Sees the turn's own writes. */
int va_turn_state_get(va_turn *turn, const char *key, const void **val,
                      size_t *len);
/* Writes or deletes key. Buffered in the turn: saved with all the turn's
 * other writes when it succeeds, discarded when it fails. */
int va_turn_state_set(va_turn *turn, const char *key, const void *val,
                      size_t len);
int va_turn_state_delete(va_turn *turn, const char *key);
/* As va_turn_state_set, but the key reads as absent once ttl_seconds have
 * passed (wall clock; Dapr's ttlInSeconds). ttl_seconds > 0. */
int va_turn_state_set_ttl(va_turn *turn, const char *key, const void *val,
                          size_t len, uint32_t ttl_seconds);

/* ---- Introspection ---- */

typedef struct va_stats {
  uint64_t active_actors; /* live activations */
  uint64_t activations;   /* since start */
  uint64_t deactivations; /* since start */
  uint64_t turns;         /* completed turns */
  uint64_t turns_failed;
  uint64_t timeouts;
  uint64_t deadlocks;
  uint64_t backpressure;    /* messages refused because a queue was full */
  uint64_t store_failures;  /* saves the store refused or failed */
  uint64_t store_commits;   /* store transactions (one fsync each, durable) */
  uint64_t store_saves;     /* turns' saves they carried */
  uint64_t mailbox_depth;   /* messages waiting in mailboxes now */
  uint64_t reminders_fired; /* reminder turns run */
  uint64_t reminders_due;   /* fires sent to reminders that are due */
  /* With a PostgreSQL store (a cluster's; vactor_route.h): */
  uint64_t claims;         /* activations that claimed their actor */
  uint64_t claims_refused; /* ... refused: another node held it */
  uint64_t fenced_saves;   /* saves refused: the actor was claimed away */
} va_stats;

/* ---- Listing and inspecting actors (an operator's view) ----
 * Neither activates an actor, runs a turn or claims anything: they read
 * the workers' directories (on each worker's own thread, between turns)
 * and the store. */

/* One actor of a listing (borrowed until the callback returns). */
typedef struct va_listed_actor {
  const char *id; /* NUL-terminated after id_len bytes */
  size_t id_len;
  bool active; /* live on this node (or, with node, on that node) */
  /* A cluster's store: the live node that holds it, or NULL. */
  const char *node;
} va_listed_actor;

/* actors[0..n) in byte order of their ids; more: a next page exists (ask
 * again with after = the last id). */
typedef void (*va_list_fn)(void *user, int status,
                           const va_listed_actor *actors, size_t n, bool more);

enum {
  VA_LIST_MAX = 1000,      /* the largest page */
  VA_LIST_ACTIVE_ONLY = 1, /* flags: only live ones */
  /* Listings and inspections under way at once; past it both refuse with
   * VA_EBACKPRESSURE, so that callers cannot pile scans on the workers. */
  VA_LOOKS_MAX = 8,
};

/* Lists the actors of type that are live (on any worker; with a cluster's
 * store, on any node) or have stored state: the first `limit` (1 ..
 * VA_LIST_MAX) whose ids sort after `after` (after_len 0: from the first)
 * and begin with prefix. A page is stable while actors come and go: each
 * is a range of ids. Costs one pass over each worker's directory and one
 * indexed store query. cb runs once, on a worker or a store thread. */
int va_actor_list(va_runtime *rt, int type, const char *after, size_t after_len,
                  const char *prefix, size_t prefix_len, size_t limit,
                  unsigned flags, va_list_fn cb, void *user);

/* What va_actor_inspect found (all borrowed until the callback returns). */
typedef struct va_state_entry {
  const char *key;
  const void *val; /* NULL when len is 0 */
  size_t len;
  int64_t expires_ms; /* wall ms; 0: never */
} va_state_entry;

typedef struct va_reminder_entry {
  const char *name;
  va_reminder spec; /* spec.data: the reminder's data */
} va_reminder_entry;

typedef struct va_timer_entry {
  const char *name;
  int64_t due_ms;     /* next fire, wall ms */
  uint64_t period_ms; /* 0: once */
} va_timer_entry;

typedef struct va_actor_info {
  bool active;      /* live on this node (or, with node, on that node) */
  bool here;        /* live on this node: the four fields below are set */
  const char *node; /* a cluster's store: the node holding it, or NULL */
  unsigned worker;  /* live here: the worker it lives on */
  uint64_t idle_ms; /* live here: since its last turn ended */
  uint32_t mailbox; /* live here: messages waiting */
  uint64_t turns;   /* live here: turns run by this activation */
  uint64_t version; /* of its stored state; 0: never saved */
  const va_state_entry *state; /* its keys, reminders' left out */
  size_t n_state;
  const va_reminder_entry *reminders;
  size_t n_reminders;
  const va_timer_entry *timers; /* live here only: timers die with it */
  size_t n_timers;
} va_actor_info;

/* status 0 and info, or VA_ENOTFOUND (neither live nor stored), or the
 * store's error (info NULL). */
typedef void (*va_inspect_fn)(void *user, int status,
                              const va_actor_info *info);

/* Looks at one actor: a live one in its worker's memory (its cached,
 * committed state: never a running turn's writes), another in the store.
 * cb runs once, on the actor's worker or a store thread. */
int va_actor_inspect(va_runtime *rt, int type, const char *id, size_t id_len,
                     va_inspect_fn cb, void *user);

/* Sums the workers' counters (each read without stopping them). */
void va_runtime_stats(va_runtime *rt, va_stats *out);
/* Live activations of one type (0 for a bad id). */
uint64_t va_runtime_active_of(va_runtime *rt, int type);

#ifdef __cplusplus
}
#endif
#endif /* VACTOR_H */
