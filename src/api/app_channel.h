/* app_channel.h — actor types hosted by an app behind vactord, through
 * Dapr's app-callback protocol (docs/dapr.md): vactord reads the app's
 * GET /dapr/config, owns the turns of its actor types, and carries each
 * turn out by calling the app (PUT /actors/{type}/{id}/method/...,
 * DELETE on deactivation) on the outbound HTTP client's thread, the turn
 * waiting (va_turn_await) and no worker blocking. All of an app's actors
 * are activations of one vactor type, "AppActor", whose ids are
 * "{type}/{id}" (a Dapr type name has no '/'); it is VA_TYPE_OPEN_STATE, so
 * the state, reminder and timer calls the app makes during a turn join it.
 * It is also VA_TYPE_REENTRANT: with the app's reentrancy enabled, a call
 * carrying the Dapr-Reentrancy-Id of an open turn's chain runs at once (up
 * to the app's maxStackDepth, else VA_EDEPTH). */
#ifndef VA_API_APP_CHANNEL_H
#define VA_API_APP_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vactor.h>

typedef struct va_app_channel va_app_channel;

typedef struct va_app_options {
  const char *host;     /* numeric address of the app; NULL = 127.0.0.1 */
  uint16_t port;        /* the app's port; 0: no app behind this node (a
                           cluster member that forwards the app types to
                           the members hosting them; a turn that runs here
                           all the same fails with VA_ENOTFOUND) */
  const char *token;    /* sent as dapr-api-token on every call; may be NULL */
  long call_timeout_ms; /* one call to the app; 0 = 50000 */
  /* Told the app's types, comma-separated, once its configuration came
   * (on the channel's thread; may be NULL). Names with a ',' are left out,
   * and so are those past 4095 bytes in all. */
  void (*on_types)(void *user, const char *types);
  void *on_types_user;
} va_app_options;

/* The AppActor type's methods (its method ids). */
enum {
  VA_APP_INVOKE, /* va_app_invoke_body -> va_app_answer */
  VA_APP_TIMER,  /* {name, callback, data?, dueTime, period} */
  VA_APP_METHODS
};

/* Registers AppActor on rt (before va_runtime_start), the channel its
 * type's user pointer: one channel per runtime, and several runtimes in a
 * process each with their own. Copies opts. */
int va_app_channel_new(va_runtime *rt, const va_app_options *opts,
                       va_app_channel **out);
/* After va_runtime_start: a thread waits for the app to answer GET
 * /dapr/config (every 100 ms), then takes its actor types (no thread
 * without an app). */
int va_app_channel_start(va_app_channel *ch);
/* Stops the thread and the client and frees ch: after va_runtime_stop
 * (AppActor's deactivation hook, run by the stop, uses the channel) and
 * before va_runtime_free; calls still out end with VA_ESTOPPED. */
void va_app_channel_free(va_app_channel *ch);

int va_app_channel_type(const va_app_channel *ch); /* AppActor's type id */
/* The i-th of the app's types, or NULL past the last (and until its
 * config came); the name lives as long as ch. */
const char *va_app_channel_type_at(va_app_channel *ch, size_t i);
/* The live activations of the i-th of the app's types (0 past the
 * last); the first VA_APP_COUNTED_TYPES types are counted. */
enum { VA_APP_COUNTED_TYPES = 64 };
long va_app_channel_active(va_app_channel *ch, size_t i);
/* Whether the app hosts the type named (false until its config came). */
bool va_app_channel_hosts(va_app_channel *ch, const char *type_name);
/* The call chain a Dapr-Reentrancy-Id names when the app enabled
 * reentrancy (else, or for NULL, 0: a new chain). The ids vactord sends
 * map back to their chains; others get one of their own. */
uint64_t va_app_channel_chain(va_app_channel *ch, const char *reentrancy_id);

/* An invocation's body for VA_APP_INVOKE: the method, the caller's
 * content type and headers (a "Name: value\r\n" block; those of the hop,
 * the token and the lengths are not passed on), the body. New (free());
 * NULL when out of memory. */
char *va_app_invoke_body(const char *method, const char *content_type,
                         const char *headers, size_t headers_len,
                         const void *body, size_t len, size_t *out_len);
/* The answer of VA_APP_INVOKE: the app's status, content type, headers
 * ("Name: value\r\n" lines) and body (pointers into data); status 0 when
 * the app did not answer (the body says why). False if data is not one. */
typedef struct va_app_answer {
  int status;
  const char *content_type; /* NUL-terminated, "" when none */
  const char *headers;
  size_t headers_len;
  const char *body;
  size_t body_len;
} va_app_answer;
bool va_app_answer_read(const void *data, size_t len, va_app_answer *out);

#endif
