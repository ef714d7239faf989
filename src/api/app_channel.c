/* app_channel.c — see app_channel.h. One channel per runtime: AppActor's
 * methods and hooks reach theirs as the type's user pointer
 * (va_turn_type_user), so runtimes in one process each have their own.
 * Each call to the app is made from a turn: the turn waits on a ticket
 * (va_turn_await), the outbound client's thread completes it with the
 * app's answer encoded as a va_app_answer, and the continuation runs in
 * the turn. */
#include "app_channel.h"
#include "../base/assert.h"
#include "../http/client.h"
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <xxhash.h>

struct va_app_channel {
  va_runtime *rt;
  int type;
  char base[64]; /* http://host:port */
  uint16_t port; /* 0: no app */
  void (*on_types)(void *user, const char *types);
  void *on_types_user;
  char *token; /* "dapr-api-token: T", or NULL */
  long timeout_ms;
  va_http_client *client;
  pthread_t thread;
  bool started;
  atomic_bool stop;
  _Atomic(json_t *) entities; /* the app's actor types, once known */
  atomic_bool reentrant;      /* the app enabled reentrancy */
  atomic_int max_depth;       /* its maxStackDepth */
  atomic_long active[VA_APP_COUNTED_TYPES]; /* live, per entity */
};

/* The channel of the AppActor whose turn t is. */
static va_app_channel *channel_of(va_turn *t) {
  va_app_channel *ch = va_turn_type_user(t);
  VA_ASSERT(ch && ch->rt == va_turn_runtime(t) && ch->type == va_turn_type(t));
  return ch;
}

enum { MAX_FORWARDED = 48 }; /* caller headers passed on to the app */

/* An activation's memory. */
typedef struct app_actor {
  bool known;         /* the app has answered a call for it: it exists there */
  int counted;        /* its entity's index in active[], or -1 */
  int nesting;        /* method calls open (more than one: reentrant) */
  char reminder[256]; /* the reminder being delivered */
} app_actor;

/* ---- Encodings ----
 * Both are fields, each a u32 length and its bytes (a NUL after each, for
 * the strings' sake). An invocation: method, content type, the caller's
 * headers, body. An answer: u16 status, u8 cancel, then content type, the
 * app's headers, body. */

typedef struct field {
  const char *at;
  size_t len;
} field;

static size_t fields_size(const field *f, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += 4 + f[i].len + 1;
  return total;
}

static char *put_fields(char *p, const field *f, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t len = (uint32_t)f[i].len;
    memcpy(p, &len, 4);
    if (f[i].len)
      memcpy(p + 4, f[i].at, f[i].len);
    p[4 + f[i].len] = 0;
    p += 4 + f[i].len + 1;
  }
  return p;
}

/* Reads n fields from [p, end); false if they are not there. */
static bool get_fields(const char *p, const char *end, field *f, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t len;
    if (end - p < 5)
      return false;
    memcpy(&len, p, 4);
    if ((size_t)(end - p) < 5 + (size_t)len || p[4 + len] != 0)
      return false;
    f[i] = (field){p + 4, len};
    p += 5 + len;
  }
  return true;
}

char *va_app_invoke_body(const char *method, const char *content_type,
                         const char *headers, size_t headers_len,
                         const void *body, size_t len, size_t *out_len) {
  field f[4] = {{method, strlen(method)},
                {content_type ? content_type : "",
                 content_type ? strlen(content_type) : 0},
                {headers ? headers : "", headers ? headers_len : 0},
                {body, len}};
  *out_len = fields_size(f, 4);
  char *out = malloc(*out_len);
  if (out)
    put_fields(out, f, 4);
  return out;
}

static char *encode_answer(const va_http_client_result *r, bool cancel,
                           const char *ctype, size_t *out_len) {
  field f[3] = {{ctype, strlen(ctype)},
                {r->headers, r->headers_len},
                {r->body, r->body_len}};
  *out_len = 3 + fields_size(f, 3);
  char *out = malloc(*out_len);
  if (out) {
    uint16_t status = (uint16_t)r->status;
    memcpy(out, &status, 2);
    out[2] = (char)cancel;
    put_fields(out + 3, f, 3);
  }
  return out;
}

bool va_app_answer_read(const void *data, size_t len, va_app_answer *out) {
  const char *p = data;
  field f[3];
  if (len < 3 || !get_fields(p + 3, p + len, f, 3))
    return false;
  uint16_t status;
  memcpy(&status, p, 2);
  *out = (va_app_answer){status, f[0].at, f[1].at, f[1].len, f[2].at, f[2].len};
  return true;
}

static bool answer_cancels(const void *data, size_t len) {
  return len >= 3 && ((const char *)data)[2];
}

/* ---- Calls to the app ---- */

/* The client's thread: hands the app's answer to the waiting turn. */
static void answered(void *user, const va_http_client_result *r) {
  va_await *ticket = user;
  if (r->error) {
    va_await_done(ticket, r->error, NULL, 0);
    return;
  }
  char ctype[256] = "", cancel[16] = "";
  va_http_client_header(r, "content-type", ctype, sizeof(ctype));
  va_http_client_header(r, "x-daprremindercancel", cancel, sizeof(cancel));
  bool stop = !strcasecmp(cancel, "true") || !strcmp(cancel, "1");
  size_t n;
  char *a = encode_answer(r, stop, ctype, &n);
  va_await_done(ticket, a ? 0 : VA_ENOMEM, a, a ? n : 0);
  free(a);
}

static void forgotten(void *user, const va_http_client_result *r) {
  (void)user, (void)r; /* a deactivation: the app's answer changes nothing */
}

/* Appends s to out, percent-encoding all but unreserved characters. */
static void url_encode(FILE *out, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || strchr("-._~", c))
      fputc(c, out);
    else
      fprintf(out, "%%%02X", c);
  }
}

/* The URL of the actor's callbacks: base/actors/{type}/{id}[/tail...],
 * each of tail's parts encoded. New; NULL when out of memory. */
static char *actor_url(va_app_channel *ch, va_turn *t,
                       const char *const *tail) {
  size_t n;
  const char *id = va_turn_id(t, &n);
  const char *slash = memchr(id, '/', n);
  if (!slash)
    return NULL;
  char *url = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&url, &len);
  if (!f)
    return NULL;
  fprintf(f, "%s/actors/", ch->base);
  url_encode(f, id, (size_t)(slash - id));
  fputc('/', f);
  url_encode(f, slash + 1, n - (size_t)(slash - id) - 1);
  for (; tail && *tail; tail++) {
    fputc('/', f);
    url_encode(f, *tail, strlen(*tail));
  }
  fclose(f);
  return url;
}

/* Sends method url to ch's app with the content type (if any), the token
 * (if any) and the chain's Dapr-Reentrancy-Id (chain 0: none). */
static int send_to_app(va_app_channel *ch, const char *method, const char *url,
                       const char *ctype, uint64_t chain,
                       const char *const *extra, const void *body, size_t len,
                       va_http_client_done done, void *user) {
  if (!ch->port)
    return VA_ENOTFOUND; /* no app behind this node */
  char ct[300], reentrancy[64];
  const char *headers[4 + MAX_FORWARDED] = {NULL};
  size_t n = 0;
  for (; extra && *extra && n < MAX_FORWARDED; extra++)
    headers[n++] = *extra;
  if (ctype && *ctype) {
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
    headers[n++] = ct;
  }
  if (ch->token)
    headers[n++] = ch->token;
  if (chain) {
    snprintf(reentrancy, sizeof(reentrancy), "Dapr-Reentrancy-Id: va-%016llx",
             (unsigned long long)chain);
    headers[n++] = reentrancy;
  }
  va_http_client_request req = {.method = method,
                                .url = url,
                                .headers = headers,
                                .body = body,
                                .body_len = len,
                                .timeout_ms = ch->timeout_ms};
  return va_http_client_send(ch->client, &req, done, user);
}

/* PUT to the actor's callback tail, with the caller's headers (extra,
 * NULL-terminated, may be NULL); cont gets the va_app_answer. */
static int call_app(va_turn *t, const char *const *tail, const char *ctype,
                    const char *const *extra, const void *body, size_t len,
                    va_cont_fn cont) {
  va_app_channel *ch = channel_of(t);
  uint64_t chain = atomic_load(&ch->reentrant) ? va_turn_chain(t) : 0;
  char *url = actor_url(ch, t, tail);
  if (!url)
    return VA_ENOMEM;
  va_await *ticket;
  int rc = va_turn_await(t, cont, NULL, &ticket);
  if (rc == 0) {
    int sent = send_to_app(ch, "PUT", url, ctype, chain, extra, body, len,
                           answered, ticket);
    if (sent)
      va_await_done(ticket, sent, NULL, 0); /* cont sees the failure */
  }
  free(url);
  return rc;
}

/* ---- AppActor ---- */

/* Whether the app answered 200; then it knows the actor. */
static bool note_known(va_turn *t, const void *data, size_t len) {
  va_app_answer a;
  if (!va_app_answer_read(data, len, &a) || a.status != 200)
    return false;
  ((app_actor *)va_turn_self(t))->known = true;
  return true;
}

static int invoked(va_turn *t, void *user, int status, const void *data,
                   size_t len) {
  (void)user;
  app_actor *self = va_turn_self(t);
  VA_ASSERT(self->nesting > 0); /* app_invoke counted this call */
  self->nesting--;
  if (status) {
    /* No answer from the app. The turn still succeeds, so that the state
     * the app saved during it (already acknowledged to the app) is kept;
     * the caller gets status 0 and the reason as the body. */
    va_http_client_result none = {
        .status = 0, .headers = "", .body = va_strerror(status)};
    none.body_len = strlen(none.body);
    size_t n;
    char *a = encode_answer(&none, false, "text/plain", &n);
    int rc = a ? va_turn_reply(t, a, n) : VA_ENOMEM;
    free(a);
    return rc;
  }
  note_known(t, data, len);
  return va_turn_reply(t, data, len); /* the caller reads the app's status */
}

/* Whether a caller's header goes on to the app: not those of the hop
 * (RFC 9110 §7.6.1), the lengths and types vactord writes itself, the
 * sidecar's token, or the reentrancy id vactord sets. */
static bool forwarded(const char *line, size_t name_len) {
  static const char *const DROPPED[] = {"host",
                                        "connection",
                                        "keep-alive",
                                        "proxy-connection",
                                        "transfer-encoding",
                                        "te",
                                        "trailer",
                                        "upgrade",
                                        "content-length",
                                        "content-type",
                                        "expect",
                                        "dapr-api-token",
                                        "dapr-reentrancy-id",
                                        NULL};
  for (const char *const *d = DROPPED; *d; d++)
    if (strlen(*d) == name_len && !strncasecmp(line, *d, name_len))
      return false;
  return true;
}

/* Splits the caller's header block (NUL-ended) in place into lines for
 * the app; out has room for MAX_FORWARDED and a NULL. */
static void forward_headers(char *block, const char **out) {
  size_t n = 0;
  for (char *line = block, *next; *line && n < MAX_FORWARDED; line = next) {
    char *eol = strstr(line, "\r\n");
    next = eol ? eol + 2 : line + strlen(line);
    if (eol)
      *eol = 0;
    char *colon = strchr(line, ':');
    if (colon && forwarded(line, (size_t)(colon - line)))
      out[n++] = line;
  }
  out[n] = NULL;
}

static int app_invoke(va_turn *t, const void *arg, size_t len) {
  field f[4];
  if (!get_fields(arg, (const char *)arg + len, f, 4) || f[0].len == 0 ||
      f[0].len > 1024)
    return VA_EINVAL;
  app_actor *self = va_turn_self(t);
  if (self->nesting >= atomic_load(&channel_of(t)->max_depth))
    return VA_EDEPTH; /* Dapr's maxStackDepth */
  char *headers = strndup(f[2].at, f[2].len);
  if (!headers)
    return VA_ENOMEM;
  const char *extra[MAX_FORWARDED + 1];
  forward_headers(headers, extra);
  const char *tail[] = {"method", f[0].at, NULL};
  int rc = call_app(t, tail, f[1].at, extra, f[3].at, f[3].len, invoked);
  free(headers);
  if (rc == 0)
    self->nesting++;
  return rc;
}

/* A reminder's or a timer's delivery came back. A reminder's that failed
 * (no answer, or not a 200) is told to the runtime, which keeps its
 * schedule and applies its failure policy (Dapr's scheduler retries); the
 * turn itself succeeds, so what the app saved meanwhile is kept. A failed
 * timer's delivery is not retried, as in Dapr. */
static int delivered(va_turn *t, void *user, int status, const void *data,
                     size_t len) {
  (void)user;
  app_actor *self = va_turn_self(t);
  bool ok = status == 0 && note_known(t, data, len);
  int rc = 0;
  if (self->reminder[0] && !ok)
    rc = va_turn_reminder_failed(t); /* else the turn fails: retried too */
  else if (self->reminder[0] && answer_cancels(data, len))
    va_turn_reminder_delete(t, self->reminder); /* X-DaprReminderCancel */
  self->reminder[0] = 0;
  return rc;
}

/* A timer fired: data is {name, callback, data?, dueTime, period}. */
static int app_timer(va_turn *t, const void *arg, size_t len) {
  json_t *in = json_loadb(arg, len, 0, NULL);
  const char *name = json_string_value(json_object_get(in, "name"));
  json_t *body = json_pack("{s:O?, s:O?, s:O?}", "callback",
                           json_object_get(in, "callback"), "dueTime",
                           json_object_get(in, "dueTime"), "period",
                           json_object_get(in, "period"));
  if (body && json_object_get(in, "data"))
    json_object_set(body, "data", json_object_get(in, "data"));
  char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
  const char *tail[] = {"method", "timer", name, NULL};
  ((app_actor *)va_turn_self(t))->reminder[0] = 0;
  int rc = name && s ? call_app(t, tail, "application/json", NULL, s, strlen(s),
                                delivered)
                     : VA_EINVAL;
  free(s);
  json_decref(body);
  json_decref(in);
  return rc;
}

/* A reminder fired: data is what the Dapr API stored, {dueTime, period,
 * ttl?, data?}; the app gets {data?, dueTime, period}. */
static int app_reminder(va_turn *t, const char *name, const void *data,
                        size_t len) {
  json_t *kept = json_loadb(data, len, 0, NULL);
  json_t *body = json_pack(
      "{s:s, s:s}", "dueTime",
      json_string_value(json_object_get(kept, "dueTime")) ?: "", "period",
      json_string_value(json_object_get(kept, "period")) ?: "");
  if (body && json_object_get(kept, "data"))
    json_object_set(body, "data", json_object_get(kept, "data"));
  char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
  app_actor *self = va_turn_self(t);
  snprintf(self->reminder, sizeof(self->reminder), "%s", name);
  const char *tail[] = {"method", "remind", name, NULL};
  int rc =
      s ? call_app(t, tail, "application/json", NULL, s, strlen(s), delivered)
        : VA_ENOMEM;
  free(s);
  json_decref(body);
  json_decref(kept);
  return rc;
}

/* Activation: counted under its type (the id's "{type}/" part). */
static int app_activate(va_turn *t) {
  va_app_channel *ch = channel_of(t);
  app_actor *self = va_turn_self(t);
  size_t len;
  const char *id = va_turn_id(t, &len);
  const char *slash = memchr(id, '/', len);
  json_t *entities = atomic_load(&ch->entities);
  self->counted = -1;
  for (size_t i = 0; slash && i < VA_APP_COUNTED_TYPES; i++) {
    const char *name = json_string_value(json_array_get(entities, i));
    if (!name)
      break;
    if (strlen(name) == (size_t)(slash - id) && !memcmp(name, id, slash - id)) {
      self->counted = (int)i;
      atomic_fetch_add(&ch->active[i], 1);
      break;
    }
  }
  return 0;
}

/* Deactivation: DELETE, but only for an actor the app has seen (the
 * JavaScript SDK stops the process on a DELETE for one it has not). */
static int app_deactivate(va_turn *t) {
  app_actor *self = va_turn_self(t);
  if (self->counted >= 0)
    atomic_fetch_sub(&channel_of(t)->active[self->counted], 1);
  self->counted = -1;
  if (!self->known)
    return 0;
  va_app_channel *ch = channel_of(t);
  char *url = actor_url(ch, t, NULL);
  if (url)
    send_to_app(ch, "DELETE", url, "", 0, NULL, NULL, 0, forgotten, NULL);
  free(url);
  return 0;
}

/* ---- The app's configuration ---- */

typedef struct sync_call {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
  long status;
  json_t *body;
} sync_call;

static void sync_answered(void *user, const va_http_client_result *r) {
  sync_call *sc = user;
  pthread_mutex_lock(&sc->lock);
  sc->status = r->error ? 0 : r->status;
  sc->body = r->error ? NULL : json_loadb(r->body, r->body_len, 0, NULL);
  sc->done = true;
  pthread_cond_signal(&sc->cond);
  pthread_mutex_unlock(&sc->lock);
}

/* The app's actorIdleTimeout (a Go duration), for AppActor. */
static void apply_idle_timeout(va_app_channel *ch, json_t *config) {
  const char *s =
      json_string_value(json_object_get(config, "actorIdleTimeout"));
  va_duration d;
  if (s && va_parse_duration(s, strlen(s), &d) == 0 && !d.years && !d.months &&
      d.ns >= 0) {
    uint64_t ms = (uint64_t)d.days * 86400000u + (uint64_t)d.ns / 1000000;
    if (ms)
      va_type_set_idle_timeout(ch->rt, ch->type, ms);
  }
}

/* GET /dapr/config once: the entities, or NULL. */
static json_t *read_config(va_app_channel *ch) {
  sync_call sc = {.done = false};
  pthread_mutex_init(&sc.lock, NULL);
  pthread_cond_init(&sc.cond, NULL);
  char url[128];
  snprintf(url, sizeof(url), "%s/dapr/config", ch->base);
  const char *headers[] = {"Content-Type: application/json", ch->token, NULL};
  va_http_client_request req = {
      .method = "GET", .url = url, .headers = headers, .timeout_ms = 2000};
  if (va_http_client_send(ch->client, &req, sync_answered, &sc) == 0) {
    pthread_mutex_lock(&sc.lock);
    while (!sc.done)
      pthread_cond_wait(&sc.cond, &sc.lock);
    pthread_mutex_unlock(&sc.lock);
  }
  pthread_cond_destroy(&sc.cond);
  pthread_mutex_destroy(&sc.lock);
  json_t *entities = sc.status == 200
                         ? json_incref(json_object_get(sc.body, "entities"))
                         : NULL;
  if (entities) {
    apply_idle_timeout(ch, sc.body);
    json_t *re = json_object_get(sc.body, "reentrancy");
    json_t *depth = json_object_get(re, "maxStackDepth");
    if (json_is_integer(depth) && json_integer_value(depth) > 0)
      atomic_store(&ch->max_depth, (int)json_integer_value(depth));
    atomic_store(&ch->reentrant, json_is_true(json_object_get(re, "enabled")));
  }
  json_decref(sc.body);
  if (entities && !json_is_array(entities)) {
    json_decref(entities);
    entities = NULL;
  }
  return entities;
}

/* Tells on_types the entities' names, comma-separated. */
static void tell_types(va_app_channel *ch, json_t *entities) {
  char types[4096];
  size_t used = 0;
  size_t i;
  json_t *e;
  json_array_foreach(entities, i, e) {
    const char *name = json_string_value(e);
    size_t len = name ? strlen(name) : 0;
    if (!len || strchr(name, ',') || used + len + 2 > sizeof(types))
      continue;
    if (used)
      types[used++] = ',';
    memcpy(types + used, name, len);
    used += len;
  }
  types[used] = 0;
  ch->on_types(ch->on_types_user, types);
}

static void *connect_main(void *arg) {
  va_app_channel *ch = arg;
  while (!atomic_load(&ch->stop)) {
    json_t *entities = read_config(ch);
    if (entities) {
      atomic_store(&ch->entities, entities);
      if (ch->on_types)
        tell_types(ch, entities);
      break;
    }
    nanosleep(&(struct timespec){0, 100 * 1000000}, NULL);
  }
  return NULL;
}

/* ---- The channel ---- */

int va_app_channel_new(va_runtime *rt, const va_app_options *opts,
                       va_app_channel **out) {
  if (!rt || !opts || !out)
    return VA_EINVAL;
  va_app_channel *ch = calloc(1, sizeof(*ch));
  if (!ch)
    return VA_ENOMEM;
  ch->rt = rt;
  snprintf(ch->base, sizeof(ch->base), "http://%s:%u",
           opts->host ? opts->host : "127.0.0.1", opts->port);
  ch->port = opts->port;
  ch->on_types = opts->on_types;
  ch->on_types_user = opts->on_types_user;
  ch->timeout_ms = opts->call_timeout_ms ? opts->call_timeout_ms : 50000;
  atomic_store(&ch->max_depth, 32); /* Dapr's default */
  if (opts->token && *opts->token &&
      asprintf(&ch->token, "dapr-api-token: %s", opts->token) < 0)
    ch->token = NULL;
  static const va_method methods[VA_APP_METHODS] = {
      [VA_APP_INVOKE] = {"invoke", app_invoke},
      [VA_APP_TIMER] = {"timer", app_timer}};
  va_type_def def = {.name = "AppActor",
                     .methods = methods,
                     .n_methods = VA_APP_METHODS,
                     .on_activate = app_activate,
                     .on_deactivate = app_deactivate,
                     .on_reminder = app_reminder,
                     .instance_size = sizeof(app_actor),
                     .flags = VA_TYPE_OPEN_STATE | VA_TYPE_REENTRANT,
                     .user = ch};
  int rc = va_http_client_new(&ch->client);
  if (rc == 0 && (ch->type = va_register_type(rt, &def)) < 0)
    rc = ch->type;
  if (rc) {
    va_http_client_free(ch->client);
    free(ch->token);
    free(ch);
    return rc;
  }
  *out = ch;
  return 0;
}

int va_app_channel_start(va_app_channel *ch) {
  if (!ch->port)
    return 0; /* no app: nothing to wait for */
  if (pthread_create(&ch->thread, NULL, connect_main, ch) != 0)
    return VA_ESYS;
  ch->started = true;
  return 0;
}

void va_app_channel_free(va_app_channel *ch) {
  if (!ch)
    return;
  atomic_store(&ch->stop, true);
  if (ch->started)
    pthread_join(ch->thread, NULL);
  va_http_client_free(ch->client);
  json_decref(atomic_load(&ch->entities));
  free(ch->token);
  free(ch);
}

int va_app_channel_type(const va_app_channel *ch) {
  return ch->type;
}

const char *va_app_channel_type_at(va_app_channel *ch, size_t i) {
  json_t *entities = ch ? atomic_load(&ch->entities) : NULL;
  return json_string_value(json_array_get(entities, i));
}

long va_app_channel_active(va_app_channel *ch, size_t i) {
  return ch && i < VA_APP_COUNTED_TYPES ? atomic_load(&ch->active[i]) : 0;
}

bool va_app_channel_hosts(va_app_channel *ch, const char *type_name) {
  json_t *entities = ch ? atomic_load(&ch->entities) : NULL;
  size_t i;
  json_t *e;
  json_array_foreach(entities, i, e) {
    if (json_is_string(e) && !strcmp(json_string_value(e), type_name))
      return true;
  }
  return false;
}

uint64_t va_app_channel_chain(va_app_channel *ch, const char *reentrancy_id) {
  if (!ch || !reentrancy_id || !atomic_load(&ch->reentrant))
    return 0;
  unsigned long long chain;
  int end = 0;
  if (sscanf(reentrancy_id, "va-%16llx%n", &chain, &end) == 1 &&
      reentrancy_id[end] == 0 && chain)
    return chain; /* one vactord sent: its own chain */
  /* Another's id: a chain of its own, the same for every call with it. */
  uint64_t h = XXH3_64bits(reentrancy_id, strlen(reentrancy_id));
  /* The high bit keeps it apart from vactord's chains (high bit 0) and
   * never 0 (a chain is never 0: 0 asks for a new one). */
  return h | (1ull << 63);
}
