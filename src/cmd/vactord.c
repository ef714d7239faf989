/* vactord.c — the vactor server: a runtime on a SQLite file, served over
 * HTTP/1.1 by the runtime's own worker threads: health, metrics and the
 * Task API (src/api/). Options come from flags or VACTORD_* environment
 * variables (flags win); the HTTP limits and timeouts are checked against
 * the descriptor limit, whose soft value is raised to the hard one.
 * At start it takes the data directory's lock (DIR/vactor.lock) and checks
 * that no other process serves the port, so that a second vactord refuses
 * to start instead of sharing either.
 * SIGTERM or SIGINT: stop accepting, finish in-flight turns, flush commits,
 * deactivate every actor, exit 0. See docs/operations.md. */
#include "../api/routes.h"
#include "../apps/llm.h"
#include "../http/server.h"
#include "log_sink.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <vactor.h>

typedef struct options {
  char host[64];
  uint16_t port;
  const char *data;
  uint64_t threads;        /* 0: the number of cores */
  uint64_t idle_timeout_s; /* 0: the runtime's default (3600) */
  uint64_t min_period_ms;  /* 0: the runtime's default (1000) */
  bool access_log;
  bool repair_state; /* the Dapr API may write native actors' state */
  va_durability durability;
  const char *log_level;
  const char *token;
  /* The users' JWTs: the key's file (one of two) and the claims wanted. */
  va_jwt_config jwt;
  /* Where each token came from (a flag or a variable), for the errors. */
  const char *token_from, *app_token_from;
  /* HTTP limits (0: the server's default). */
  uint64_t max_connections, client_timeout_ms, request_timeout_ms, max_body;
  /* The assistant's model (none without a URL) and the chat's bound. */
  const char *llm_url, *llm_model, *llm_key;
  uint64_t llm_timeout_ms, chat_history;
  /* An app hosting actor types behind vactord (Dapr's app channel). */
  const char *app_host, *app_token;
  uint64_t app_port;
  /* A cluster over PostgreSQL (none without a URL). */
  const char *cluster, *node_id, *cluster_link;
  char link_host[64]; /* --cluster-link's parts ("": the --listen host) */
  uint16_t link_port;
  uint64_t lease_ms;
} options;

/* The HTTP server's defaults (VA_HTTP_DEFAULT_*) are filled in to be
 * logged. */
enum {
  FD_RESERVE = 64,   /* descriptors for all but connections (store, stdio,
                        logs), plus... */
  FD_PER_THREAD = 4, /* ...a worker's epoll, eventfd, listener, sweep */
  /* The longest token accepted: the routes compare a request's whole
   * header value with it, and a header value is bounded too. */
  TOKEN_BYTES_MAX = 256,
  MAX_THREADS = 1024, /* the runtime's bound (MAX_WORKERS) */
};

/* The help text is laid out as it prints. */
/* clang-format off */
static void usage(FILE *f) {
  fprintf(f,
          "usage: vactord [options]\n"
          "Serves virtual actors over HTTP on the runtime's worker threads.\n"
          "\n"
          "  --listen HOST:PORT   address to serve (VACTORD_LISTEN;\n"
          "                       default 127.0.0.1:3500; loopback only\n"
          "                       unless an API token is set)\n"
          "  --token TOKEN        API token every request but health must\n"
          "                       carry (dapr-api-token: TOKEN, or\n"
          "                       Authorization: Bearer TOKEN; env\n"
          "                       VACTORD_API_TOKEN, which keeps it out of ps)\n"
          "  --jwt-secret-file FILE  users sign in with HS256 JWTs made with the\n"
          "                       secret in FILE, 32 bytes or more\n"
          "                       (VACTORD_JWT_SECRET_FILE); then every\n"
          "                       /v1/users/{user}/ request carries\n"
          "                       Authorization: Bearer JWT whose sub is\n"
          "                       {user}, and every other route but health\n"
          "                       needs --token\n"
          "  --jwt-public-key FILE  the same with RS256 or ES256 JWTs checked\n"
          "                       by the PEM public key in FILE (RSA of 2048\n"
          "                       bits or more, or EC P-256;\n"
          "                       VACTORD_JWT_PUBLIC_KEY)\n"
          "  --jwt-jwks FILE      the same with the keys of a JSON Web Key\n"
          "                       Set (up to 16, RSA or EC P-256, each with\n"
          "                       its kid; a token's kid picks one, so keys\n"
          "                       can be rotated; VACTORD_JWT_JWKS)\n"
          "  --jwt-issuer ISS     a JWT's iss must be ISS (VACTORD_JWT_ISSUER)\n"
          "  --jwt-audience AUD   a JWT's aud must hold AUD\n"
          "                       (VACTORD_JWT_AUDIENCE)\n"
          "  --repair-state       let the Dapr state API write the state of\n"
          "                       vactord's own actors (TaskActor, UserActor,\n"
          "                       ChatActor), to mend a stored document;\n"
          "                       without it such a write is a 403\n"
          "  --data DIR           directory of the state file vactor.db and\n"
          "                       its lock: one vactord per directory\n"
          "                       (VACTORD_DATA; default ./vactor-data)\n"
          "  --threads N          worker threads, 1 to 1024 (VACTORD_THREADS;\n"
          "                       default: cores)\n"
          "  --idle-timeout SECS  deactivate actors idle this long\n"
          "                       (VACTORD_IDLE_TIMEOUT; default 3600)\n"
          "  --min-period DUR     the shortest period of a reminder or a\n"
          "                       timer, at least 1ms: 500ms, 1s, PT2S\n"
          "                       (VACTORD_MIN_PERIOD; default 1s)\n"
          "  --access-log on|off  one logfmt line per request on stderr\n"
          "                       (VACTORD_ACCESS_LOG; default on)\n"
          "  --durability MODE    durable (default) or relaxed\n"
          "                       (VACTORD_DURABILITY)\n"
          "  --log-level LEVEL    info (default) or debug (VACTORD_LOG_LEVEL)\n"
          "  --max-connections N  client connections open at once; beyond\n"
          "                       it a 503 ERR_TOO_MANY_CONNECTIONS\n"
          "                       (VACTORD_MAX_CONNECTIONS; default "
          VA_HTTP_TEXT(VA_HTTP_DEFAULT_MAX_CONNECTIONS) ")\n"
          "  --client-timeout MS  close a connection idle this long, with\n"
          "                       no request in progress\n"
          "                       (VACTORD_CLIENT_TIMEOUT; default "
          VA_HTTP_TEXT(VA_HTTP_DEFAULT_IDLE_TIMEOUT_MS) ")\n"
          "  --request-timeout MS a request not complete this long after\n"
          "                       it began gets a 408 ERR_REQUEST_TIMEOUT\n"
          "                       (VACTORD_REQUEST_TIMEOUT; default "
          VA_HTTP_TEXT(VA_HTTP_DEFAULT_REQUEST_TIMEOUT_MS) ")\n"
          "  --max-body BYTES     largest request body; beyond it a 413\n"
          "                       (VACTORD_MAX_BODY; default "
          VA_HTTP_TEXT(VA_HTTP_DEFAULT_MAX_BODY) ")\n"
          "  --llm-url URL        an OpenAI-compatible chat-completions\n"
          "                       endpoint for the assistant (VACTORD_LLM_URL;\n"
          "                       default: none, the built-in rules only)\n"
          "  --llm-model NAME     the model to ask (VACTORD_LLM_MODEL)\n"
          "  --llm-key KEY        sent as Authorization: Bearer KEY\n"
          "                       (VACTORD_LLM_KEY)\n"
          "  --llm-timeout MS     give up on the model after this long and let\n"
          "                       the built-in rules answer\n"
          "                       (VACTORD_LLM_TIMEOUT; default 20000)\n"
          "  --app-port PORT      an app hosting Dapr actor types on this port\n"
          "                       (VACTORD_APP_PORT; default: none)\n"
          "  --app-host ADDR      its numeric address (VACTORD_APP_HOST;\n"
          "                       default 127.0.0.1)\n"
          "  --app-token TOKEN    sent to the app as dapr-api-token\n"
          "                       (APP_API_TOKEN, as Dapr)\n"
          "                       Tokens: 1 to 256 printable ASCII characters,\n"
          "                       no space at either end; an empty one is\n"
          "                       refused\n"
          "  --chat-history N     chat messages kept per user; older ones are\n"
          "                       dropped, the count kept\n"
          "                       (VACTORD_CHAT_HISTORY; default 200)\n"
          "  --cluster URL        join the cluster whose database this libpq\n"
          "                       URI names (postgresql://user@host:5432/db;\n"
          "                       VACTORD_CLUSTER): state, ownership, members\n"
          "                       and reminders live there, not in --data\n"
          "  --node-id NAME       this node's name in the cluster, 1 to 63 of\n"
          "                       A-Z a-z 0-9 . _ - (VACTORD_NODE_ID; needed\n"
          "                       with --cluster; the same name rejoins)\n"
          "  --cluster-link HOST:PORT  where the node-to-node link listens\n"
          "                       (VACTORD_CLUSTER_LINK; default: the --listen\n"
          "                       host, a port the kernel picks)\n"
          "  --lease-ms MS        a member not heard of for this long is dead\n"
          "                       (VACTORD_LEASE_MS; default "
          VA_HTTP_TEXT(VA_CLUSTER_DEFAULT_LEASE_MS) ")\n"
          "  -h, --help           this text\n"
          "  --version            print the version (vactord MAJOR.MINOR.PATCH)\n"
          "\n"
          "Routes: GET /v1.0/healthz, GET /metrics (Prometheus text), GET\n"
          "/v1/cluster (the members, with --cluster); the Task API\n"
          "under /v1/users/{user}/ (tasks, preferences, chat: docs/api.md); the\n"
          "Dapr actor API under /v1.0/actors/ and /v1.0/metadata (docs/dapr.md);\n"
          "the actors listed and inspected under /v1/actors (docs/api.md); the\n"
          "live dashboard at /dashboard (docs/dashboard.md).\n"
          "Errors are JSON: {\"errorCode\": \"...\", \"message\": \"...\"}.\n");
}
/* clang-format on */

/* Where log lines go once main has started it: a bounded buffer that a
 * thread of its own writes to stderr (a reader that stops reading costs
 * dropped lines, never a blocked worker). Before, lines go straight out. */
static va__log_sink *sink;
enum { LOG_BUFFER = 4 << 20, LOG_DRAIN_MS = 2000 };

static void put_log(const char *lines, size_t len) {
  if (sink)
    va__log_sink_put(sink, lines, len);
  else
    fwrite(lines, 1, len, stderr);
}

/* Structured log line on stderr: ts=... level=... msg="..." k=v...,
 * put whole so that lines from several threads never mix. */
static void write_log(const char *level, const char *msg, const char *fields) {
  char ts[32], line[1536];
  time_t now = time(NULL);
  struct tm tm;
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  int n =
      snprintf(line, sizeof(line), "ts=%s level=%s msg=\"%s\"%s%s\n", ts, level,
               msg, fields && *fields ? " " : "", fields ? fields : "");
  if (n >= (int)sizeof(line)) {
    n = (int)sizeof(line) - 1;
    line[n - 1] = '\n';
  }
  if (n > 0)
    put_log(line, (size_t)n);
}

static void log_line(const char *level, const char *msg, const char *fmt, ...) {
  char fields[1024] = "";
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fields, sizeof(fields), fmt, ap);
    va_end(ap);
  }
  write_log(level, msg, fields);
}

/* The runtime's and the server's log events (va_config.log); user points
 * to the least level written. */
static void log_event(void *user, va_log_level level, const char *msg,
                      const char *fields) {
  static const char *const names[] = {"debug", "info", "warn", "error"};
  if (level < *(const va_log_level *)user || level > VA_LOG_ERROR)
    return;
  write_log(names[level], msg, fields);
}

static bool uses_jwt(const options *o) {
  return o->jwt.secret_file || o->jwt.public_key_file || o->jwt.jwks_file;
}

static int parse_listen(const char *s, options *o) {
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s || (size_t)(colon - s) >= sizeof(o->host))
    return -1;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port <= 0 || port > 65535)
    return -1;
  memcpy(o->host, s, (size_t)(colon - s));
  o->host[colon - s] = 0;
  o->port = (uint16_t)port;
  struct in_addr addr;
  if (inet_pton(AF_INET, o->host, &addr) != 1)
    return -1;
  /* Without an API token or users' JWTs, nothing but loopback. */
  return strncmp(o->host, "127.", 4) && !o->token && !uses_jwt(o) ? -2 : 0;
}

/* A whole number in [1, max], or false (after saying why on stderr). */
static bool parse_count(const char *what, const char *s, uint64_t max,
                        uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || *s == '-' || v == 0 || v > max) {
    fprintf(stderr,
            "vactord: %s %s: expected a whole number from 1 to "
            "%llu\n",
            what, s, (unsigned long long)max);
    return false;
  }
  *out = v;
  return true;
}

/* A token as an HTTP header can carry it and the server compares it: 1 to
 * TOKEN_BYTES_MAX bytes of printable ASCII, with no space at either end
 * (a client's header loses those). An empty token would turn
 * authentication off; a longer one, or one with CR, LF or another control
 * byte, would never match. NULL (not set) is fine. from names the flag or
 * variable it came from. */
static bool check_token(const char *from, const char *token) {
  if (!token)
    return true;
  size_t len = strlen(token);
  const char *why = NULL;
  if (!len)
    why = "is empty, which would turn authentication off; set a token, "
          "or unset it to run without one";
  else if (len > TOKEN_BYTES_MAX)
    why = "is longer than 256 bytes";
  else if (token[0] == ' ' || token[len - 1] == ' ')
    why = "begins or ends with a space";
  for (size_t i = 0; !why && i < len; i++)
    if ((unsigned char)token[i] < 0x20 || (unsigned char)token[i] > 0x7e)
      why = "holds a byte that is not printable ASCII (a control byte, "
            "CR, LF, tab or non-ASCII)";
  if (why)
    fprintf(stderr, "vactord: %s: the token %s\n", from, why);
  return !why;
}

/* "on" or "off", or false (after saying why on stderr). */
static bool parse_switch(const char *what, const char *s, bool *out) {
  if (strcmp(s, "on") && strcmp(s, "off")) {
    fprintf(stderr, "vactord: %s %s: expected on or off\n", what, s);
    return false;
  }
  *out = !strcmp(s, "on");
  return true;
}

/* A duration of at least 1 ms (1s, 500ms, PT2S: va_parse_duration) with
 * no calendar part, in whole ms (rounded down), or false (after saying
 * why on stderr). */
static bool parse_min_period(const char *what, const char *s,
                             uint64_t *out_ms) {
  va_duration d;
  if (va_parse_duration(s, strlen(s), &d) != 0 || d.years || d.months ||
      d.days || d.ns < 1000000) {
    fprintf(stderr,
            "vactord: %s %s: expected a duration of at least 1ms "
            "(500ms, 1s, PT2S; no days, months or years)\n",
            what, s);
    return false;
  }
  *out_ms = (uint64_t)(d.ns / 1000000);
  return true;
}

/* The HTTP limits from the environment; flags parsed later win. */
static bool limits_from_env(options *o) {
  const struct {
    const char *env, *flag;
    uint64_t max, *out;
  } v[] = {
      {"VACTORD_THREADS", "--threads", MAX_THREADS, &o->threads},
      {"VACTORD_IDLE_TIMEOUT", "--idle-timeout", UINT32_MAX,
       &o->idle_timeout_s},
      {"VACTORD_MAX_CONNECTIONS", "--max-connections", UINT32_MAX,
       &o->max_connections},
      {"VACTORD_CLIENT_TIMEOUT", "--client-timeout", UINT32_MAX,
       &o->client_timeout_ms},
      {"VACTORD_REQUEST_TIMEOUT", "--request-timeout", UINT32_MAX,
       &o->request_timeout_ms},
      {"VACTORD_MAX_BODY", "--max-body", SIZE_MAX, &o->max_body},
      {"VACTORD_LLM_TIMEOUT", "--llm-timeout", 3600000, &o->llm_timeout_ms},
      {"VACTORD_CHAT_HISTORY", "--chat-history", 1000000, &o->chat_history},
      {"VACTORD_APP_PORT", "--app-port", 65535, &o->app_port},
      {"VACTORD_LEASE_MS", "--lease-ms", 3600000, &o->lease_ms},
  };
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    const char *env = getenv(v[i].env);
    if (env && !parse_count(v[i].env, env, v[i].max, v[i].out))
      return false;
  }
  const char *env = getenv("VACTORD_MIN_PERIOD");
  if (env && !parse_min_period("VACTORD_MIN_PERIOD", env, &o->min_period_ms))
    return false;
  env = getenv("VACTORD_ACCESS_LOG");
  return !env || parse_switch("VACTORD_ACCESS_LOG", env, &o->access_log);
}

/* --cluster needs a name, a PostgreSQL URI, and a link address as
 * --listen's; --node-id or a link alone is an error, not ignored. */
static bool check_cluster(options *o) {
  if (!o->cluster) {
    if (o->node_id || o->cluster_link) {
      fprintf(stderr, "vactord: --node-id and --cluster-link need --cluster\n");
      return false;
    }
    return true;
  }
  if (strncmp(o->cluster, "postgresql://", 13) &&
      strncmp(o->cluster, "postgres://", 11)) {
    fprintf(stderr, "vactord: --cluster must be a postgresql:// URI\n");
    return false;
  }
  size_t n = o->node_id ? strlen(o->node_id) : 0;
  if (n == 0 || n > 63 ||
      strspn(o->node_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789._-") != n) {
    fprintf(stderr, "vactord: --cluster needs --node-id NAME, 1 to 63 of "
                    "A-Z a-z 0-9 . _ -\n");
    return false;
  }
  if (o->lease_ms && o->lease_ms < 4 * 100) {
    fprintf(stderr, "vactord: --lease-ms must be at least 400\n");
    return false;
  }
  if (o->cluster_link) {
    options link = *o;
    if (parse_listen(o->cluster_link, &link) != 0) {
      fprintf(stderr,
              "vactord: --cluster-link %s: expected "
              "IPV4-ADDRESS:PORT (loopback without --token)\n",
              o->cluster_link);
      return false;
    }
    memcpy(o->link_host, link.host, sizeof(o->link_host));
    o->link_port = link.port;
  }
  return true;
}

/* A variable's value, or NULL when it is unset or empty. */
static const char *set_env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

/* Sets key flag which (1 secret, 2 public key, 4 key set) to file; the
 * keys of the other two go unless their flags were given too (given: the
 * flags seen so far), so that a flag replaces a variable. */
static void key_flag(va_jwt_config *jwt, unsigned given, unsigned which,
                     const char *file) {
  const char **slot[] = {&jwt->secret_file, &jwt->public_key_file,
                         &jwt->jwks_file};
  for (unsigned i = 0; i < 3; i++) {
    unsigned bit = 1u << i;
    if (bit == which)
      *slot[i] = file;
    else if (!(given & bit))
      *slot[i] = NULL;
  }
}

static int parse_options(int argc, char **argv, options *o) {
  /* Which key flags were given: 1 --jwt-secret-file, 2 --jwt-public-key,
   * 4 --jwt-jwks (a flag's key takes the place of the variables'). */
  unsigned jwt_flags = 0;
  *o = (options){.host = "127.0.0.1",
                 .port = 3500,
                 .data = "vactor-data",
                 .log_level = "info",
                 .access_log = true,
                 .token_from = "VACTORD_API_TOKEN",
                 .app_token_from = "APP_API_TOKEN"};
  const char *listen = getenv("VACTORD_LISTEN");
  const char *env;
  if ((env = getenv("VACTORD_DATA")))
    o->data = env;
  const char *durability = getenv("VACTORD_DURABILITY");
  if ((env = getenv("VACTORD_LOG_LEVEL")))
    o->log_level = env;
  o->token = getenv("VACTORD_API_TOKEN");
  o->jwt = (va_jwt_config){.secret_file = set_env("VACTORD_JWT_SECRET_FILE"),
                           .public_key_file = set_env("VACTORD_JWT_PUBLIC_KEY"),
                           .jwks_file = set_env("VACTORD_JWT_JWKS"),
                           .issuer = set_env("VACTORD_JWT_ISSUER"),
                           .audience = set_env("VACTORD_JWT_AUDIENCE")};
  o->llm_url = getenv("VACTORD_LLM_URL");
  o->llm_model = getenv("VACTORD_LLM_MODEL");
  o->llm_key = getenv("VACTORD_LLM_KEY");
  o->app_host = getenv("VACTORD_APP_HOST");
  o->app_token = getenv("APP_API_TOKEN");
  o->cluster = getenv("VACTORD_CLUSTER");
  o->node_id = getenv("VACTORD_NODE_ID");
  o->cluster_link = getenv("VACTORD_CLUSTER_LINK");
  if (!limits_from_env(o))
    return -1;
  static const struct option longs[] = {
      {"listen", required_argument, 0, 'l'},
      {"data", required_argument, 0, 'd'},
      {"threads", required_argument, 0, 't'},
      {"idle-timeout", required_argument, 0, 'i'},
      {"min-period", required_argument, 0, 'm'},
      {"access-log", required_argument, 0, 'a'},
      {"durability", required_argument, 0, 'D'},
      {"log-level", required_argument, 0, 'L'},
      {"token", required_argument, 0, 'T'},
      {"repair-state", no_argument, 0, 'r'},
      {"jwt-secret-file", required_argument, 0, 'j'},
      {"jwt-public-key", required_argument, 0, 'J'},
      {"jwt-jwks", required_argument, 0, 'S'},
      {"jwt-issuer", required_argument, 0, 'I'},
      {"jwt-audience", required_argument, 0, 'W'},
      {"max-connections", required_argument, 0, 'M'},
      {"client-timeout", required_argument, 0, 'C'},
      {"request-timeout", required_argument, 0, 'R'},
      {"max-body", required_argument, 0, 'B'},
      {"llm-url", required_argument, 0, 'U'},
      {"llm-model", required_argument, 0, 'N'},
      {"llm-key", required_argument, 0, 'K'},
      {"llm-timeout", required_argument, 0, 'O'},
      {"chat-history", required_argument, 0, 'H'},
      {"app-port", required_argument, 0, 'P'},
      {"app-host", required_argument, 0, 'A'},
      {"app-token", required_argument, 0, 'k'},
      {"cluster", required_argument, 0, 'c'},
      {"node-id", required_argument, 0, 'n'},
      {"cluster-link", required_argument, 0, 'x'},
      {"lease-ms", required_argument, 0, 'e'},
      {"help", no_argument, 0, 'h'},
      {"version", no_argument, 0, 'V'},
      {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
    switch (c) {
    case 'l':
      listen = optarg;
      break;
    case 'd':
      o->data = optarg;
      break;
    case 't':
      if (!parse_count("--threads", optarg, MAX_THREADS, &o->threads))
        return -1;
      break;
    case 'i':
      if (!parse_count("--idle-timeout", optarg, UINT32_MAX,
                       &o->idle_timeout_s))
        return -1;
      break;
    case 'm':
      if (!parse_min_period("--min-period", optarg, &o->min_period_ms))
        return -1;
      break;
    case 'a':
      if (!parse_switch("--access-log", optarg, &o->access_log))
        return -1;
      break;
    case 'D':
      durability = optarg;
      break;
    case 'L':
      o->log_level = optarg;
      break;
    case 'T':
      o->token = optarg;
      o->token_from = "--token";
      break;
    case 'r':
      o->repair_state = true;
      break;
    case 'j':
    case 'J':
    case 'S': {
      unsigned which = c == 'j' ? 1 : c == 'J' ? 2 : 4;
      jwt_flags |= which;
      key_flag(&o->jwt, jwt_flags, which, optarg);
      break;
    }
    case 'I':
      o->jwt.issuer = optarg;
      break;
    case 'W':
      o->jwt.audience = optarg;
      break;
    case 'M':
      if (!parse_count("--max-connections", optarg, UINT32_MAX,
                       &o->max_connections))
        return -1;
      break;
    case 'C':
      if (!parse_count("--client-timeout", optarg, UINT32_MAX,
                       &o->client_timeout_ms))
        return -1;
      break;
    case 'R':
      if (!parse_count("--request-timeout", optarg, UINT32_MAX,
                       &o->request_timeout_ms))
        return -1;
      break;
    case 'B':
      if (!parse_count("--max-body", optarg, SIZE_MAX, &o->max_body))
        return -1;
      break;
    case 'U':
      o->llm_url = optarg;
      break;
    case 'N':
      o->llm_model = optarg;
      break;
    case 'K':
      o->llm_key = optarg;
      break;
    case 'O':
      if (!parse_count("--llm-timeout", optarg, 3600000, &o->llm_timeout_ms))
        return -1;
      break;
    case 'H':
      if (!parse_count("--chat-history", optarg, 1000000, &o->chat_history))
        return -1;
      break;
    case 'P':
      if (!parse_count("--app-port", optarg, 65535, &o->app_port))
        return -1;
      break;
    case 'A':
      o->app_host = optarg;
      break;
    case 'k':
      o->app_token = optarg;
      o->app_token_from = "--app-token";
      break;
    case 'c':
      o->cluster = optarg;
      break;
    case 'n':
      o->node_id = optarg;
      break;
    case 'x':
      o->cluster_link = optarg;
      break;
    case 'e':
      if (!parse_count("--lease-ms", optarg, 3600000, &o->lease_ms))
        return -1;
      break;
    case 'h':
      usage(stdout);
      exit(0);
    case 'V':
      printf("vactord %s\n", va_version());
      exit(0);
    default:
      usage(stderr);
      return -1;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return -1;
  }
  /* Before the address: an empty token must not pass for one. */
  if (!check_token(o->token_from, o->token) ||
      !check_token(o->app_token_from, o->app_token))
    return -1;
  if (!!o->jwt.secret_file + !!o->jwt.public_key_file + !!o->jwt.jwks_file >
      1) {
    fprintf(stderr, "vactord: give one of --jwt-secret-file, "
                    "--jwt-public-key and --jwt-jwks, not both\n");
    return -1;
  }
  if ((o->jwt.issuer || o->jwt.audience) && !uses_jwt(o)) {
    fprintf(stderr, "vactord: --jwt-issuer and --jwt-audience need "
                    "--jwt-secret-file, --jwt-public-key or --jwt-jwks\n");
    return -1;
  }
  if (listen) {
    int rc = parse_listen(listen, o);
    if (rc) {
      fprintf(stderr, "vactord: --listen %s: %s\n", listen,
              rc == -2 ? "without --token or users' JWTs, only loopback "
                         "addresses "
                         "(127.x.x.x) are served"
                       : "expected IPV4-ADDRESS:PORT");
      return -1;
    }
  }
  if (strcmp(o->log_level, "info") && strcmp(o->log_level, "debug")) {
    fprintf(stderr, "vactord: --log-level must be info or debug\n");
    return -1;
  }
  if (durability && strcmp(durability, "durable") &&
      strcmp(durability, "relaxed")) {
    fprintf(stderr, "vactord: --durability must be durable or relaxed\n");
    return -1;
  }
  o->durability =
      durability && !strcmp(durability, "relaxed") ? VA_RELAXED : VA_DURABLE;
  if (!check_cluster(o))
    return -1;
  if (!o->client_timeout_ms)
    o->client_timeout_ms = VA_HTTP_DEFAULT_IDLE_TIMEOUT_MS;
  if (!o->request_timeout_ms)
    o->request_timeout_ms = VA_HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
  if (!o->max_body)
    o->max_body = VA_HTTP_DEFAULT_MAX_BODY;
  return 0;
}

/* ---- The descriptor limit ---- */

/* The most descriptors a process may have when the hard limit is
 * unlimited (setrlimit refuses RLIM_INFINITY for RLIMIT_NOFILE). */
static rlim_t nr_open(void) {
  unsigned long long v = 1 << 20; /* the kernel's default */
  FILE *f = fopen("/proc/sys/fs/nr_open", "r");
  if (f) {
    if (fscanf(f, "%llu", &v) != 1)
      v = 1 << 20;
    fclose(f);
  }
  return (rlim_t)v;
}

/* Raises the soft limit on open descriptors to the hard one, so that
 * 10,000+ connections work; logs it. Returns the soft limit now in force,
 * or 0 if it cannot be read. */
static uint64_t raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    log_line("warn", "cannot read the fd limit", "error=\"%s\"",
             strerror(errno));
    return 0;
  }
  rlim_t was = rl.rlim_cur;
  rlim_t hard = rl.rlim_max == RLIM_INFINITY ? nr_open() : rl.rlim_max;
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= hard) {
    log_line("info", "fd limit", "soft=%llu hard=%llu",
             (unsigned long long)rl.rlim_cur, (unsigned long long)hard);
    return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
  }
  rl.rlim_cur = hard;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    log_line("warn", "cannot raise the fd limit",
             "soft=%llu hard=%llu error=\"%s\"", (unsigned long long)was,
             (unsigned long long)hard, strerror(errno));
    return was;
  }
  log_line("info", "fd limit raised", "soft=%llu hard=%llu was=%llu",
           (unsigned long long)hard, (unsigned long long)hard,
           (unsigned long long)was);
  return hard;
}

/* Checks that max_connections fits under the descriptor limit (with room
 * for the workers' own and the store's). A value asked for that does not
 * fit is an error; the default is lowered to what fits (a warning). Fills
 * in the default. */
static bool fit_max_connections(options *o, uint64_t fd_limit,
                                unsigned threads) {
  uint64_t want =
      o->max_connections ? o->max_connections : VA_HTTP_DEFAULT_MAX_CONNECTIONS;
  uint64_t reserve = FD_RESERVE + (uint64_t)FD_PER_THREAD * threads;
  uint64_t room = fd_limit > reserve ? fd_limit - reserve : 0;
  if (!fd_limit || want <= room) { /* unknown limit: trust the value */
    o->max_connections = want;
    return true;
  }
  if (o->max_connections || !room) {
    log_line("error", "max connections exceed the fd limit",
             "max_connections=%llu fd_limit=%llu fits=%llu "
             "hint=\"lower --max-connections or raise ulimit -n (hard)\"",
             (unsigned long long)want, (unsigned long long)fd_limit,
             (unsigned long long)room);
    return false;
  }
  log_line("warn", "max connections lowered to fit the fd limit",
           "max_connections=%llu fd_limit=%llu", (unsigned long long)room,
           (unsigned long long)fd_limit);
  o->max_connections = room;
  return true;
}

/* ---- The data directory and the port: one server each ---- */

/* value as a logfmt quoted value in out (at least 3 bytes). */
#define QUOTE(value, out)                                                      \
  va_log_quote((value), strlen(value), (out), sizeof(out))

/* The pid a lock holder wrote into its lock file, or 0. */
static long lock_holder(int fd) {
  char text[32] = "";
  ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
  if (n <= 0)
    return 0;
  text[n] = 0;
  return strtol(text, NULL, 10);
}

/* Creates the data directory if missing and locks it: flock(LOCK_EX) on
 * DIR/vactor.lock, held until the process exits (the descriptor is never
 * closed), with this process's pid written into the file. Logs why and
 * returns false when it cannot: the directory cannot be made or opened,
 * or another process holds the lock (then its pid is named). */
static bool lock_data_dir(const char *dir) {
  char quoted[1024], path[4096];
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    log_line("error", "cannot create the data directory", "dir=%s error=\"%s\"",
             QUOTE(dir, quoted), strerror(errno));
    return false;
  }
  snprintf(path, sizeof(path), "%s/vactor.lock", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    log_line("error", "cannot open the data directory's lock",
             "lock=%s error=\"%s\"", QUOTE(path, quoted), strerror(errno));
    return false;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    if (e == EWOULDBLOCK)
      log_line("error", "data directory in use by another process",
               "dir=%s pid=%ld hint=\"stop that vactord, or give this one "
               "another --data\"",
               QUOTE(dir, quoted), lock_holder(fd));
    else
      log_line("error", "cannot lock the data directory",
               "lock=%s error=\"%s\"", QUOTE(path, quoted), strerror(e));
    close(fd);
    return false;
  }
  char pid[32];
  int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
    log_line("warn", "cannot write the pid into the lock",
             "lock=%s error=\"%s\"", QUOTE(path, quoted),
             strerror(errno)); /* the lock holds anyway */
  return true; /* fd stays open: the lock lives as long as the process */
}

/* Claims host:port among vactord processes for this process's life: an
 * abstract Unix socket named after the address (per network namespace,
 * gone with the process, whatever kills it). Two servers started at the
 * same moment cannot both pass the probe below and then share the port
 * through SO_REUSEPORT: the second's bind here fails. The descriptor is
 * kept open on purpose. */
static bool claim_port(const options *o) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  int n = snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1,
                   "vactord:%s:%u", o->host, o->port);
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, len) == 0)
    return true;
  int e = errno;
  log_line("error", "cannot listen", "addr=%s:%u error=\"%s\"%s", o->host,
           o->port, strerror(e),
           e == EADDRINUSE ? " hint=\"another vactord serves this port\"" : "");
  if (fd >= 0)
    close(fd);
  return false;
}

/* Whether host:port is free to serve. The workers' listeners share the
 * port with SO_REUSEPORT, which would let them share it with another
 * server too; a probe bound without it fails with EADDRINUSE while any
 * other socket listens there (SO_REUSEADDR keeps the connections of an
 * earlier run, in TIME_WAIT, from counting). The probe is closed at once.
 * Logs why and returns false when the address cannot be served. */
static bool port_is_free(const options *o) {
  if (!claim_port(o))
    return false;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(o->port)};
  inet_pton(AF_INET, o->host, &addr.sin_addr); /* checked by parse_listen */
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  if (fd < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
    int e = errno;
    log_line("error", "cannot listen", "addr=%s:%u error=\"%s\"%s", o->host,
             o->port, strerror(e),
             e == EADDRINUSE ? " hint=\"another process serves this port\""
                             : "");
    if (fd >= 0)
      close(fd);
    return false;
  }
  close(fd);
  return true;
}

/* The HTTP server's access log (va_http_options.access_log): each block of
 * complete logfmt lines is put whole, so it never mixes with another's. */
static void write_access_log(void *user, const char *lines, size_t len) {
  (void)user;
  put_log(lines, len);
}

/* ---- Main ---- */

/* The assistant's model, when a URL is given (else *out = NULL). */
static int start_model(const options *o, va_llm **out) {
  *out = NULL;
  if (!o->llm_url || !*o->llm_url)
    return 0;
  if (!o->llm_model || !*o->llm_model) {
    log_line("error", "--llm-url needs --llm-model", NULL);
    return VA_EINVAL;
  }
  va_llm_config cfg = {.url = o->llm_url,
                       .model = o->llm_model,
                       .key = o->llm_key,
                       .timeout_ms = (long)o->llm_timeout_ms};
  int rc = va_llm_new(&cfg, out);
  if (rc == 0)
    log_line(
        "info", "assistant model", "url=%s model=%s timeout_ms=%llu",
        o->llm_url, o->llm_model,
        (unsigned long long)(o->llm_timeout_ms ? o->llm_timeout_ms : 20000));
  return rc;
}

/* The app channel's on_types: the cluster publishes them. */
static void publish_app_types(void *user, const char *types) {
  va_routes *routes = user;
  int rc = va_cluster_set_app_types(routes->cluster, types);
  if (rc)
    log_line("error", "cannot publish the app's types", "error=\"%s\"",
             va_strerror(rc));
}

/* A start that failed after the runtime started: the cluster part goes
 * first (its link uses the workers), then the runtime. */
static void stop_cluster(va_cluster *cluster, va_runtime *runtime) {
  va_cluster_stop(cluster);
  va_runtime_stop(runtime);
  va_cluster_free(cluster);
  va_runtime_free(runtime);
}

/* Runs the server until one of stop_signals (blocked) comes: its exit
 * status. */
static int serve(options o, const sigset_t *stop_signals) {
  char quoted[1024];
  va_jwt *jwt = NULL; /* owned; freed when the server has stopped */
  if (uses_jwt(&o)) {
    char why[512];
    if (!(jwt = va_jwt_new(&o.jwt, why, sizeof(why)))) {
      log_line("error", "cannot take the users' JWT key", "error=%s",
               QUOTE(why, quoted));
      return 1;
    }
    log_line("info", "users authenticate with JWTs",
             "alg=%s issuer=%s audience=%s api_token=%s", va_jwt_alg(jwt),
             o.jwt.issuer ? "checked" : "any",
             o.jwt.audience ? "checked" : "any", o.token ? "set" : "none");
  }
  uint64_t fd_limit = raise_fd_limit();
  if (!lock_data_dir(o.data))
    return 1;
  char path[4096];
  snprintf(path, sizeof(path), "%s/vactor.db", o.data);
  /* Before the store opens: a second server is refused before it can
   * fire a reminder or write anything. */
  if (!port_is_free(&o))
    return 1;

  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = (unsigned)o.threads;
  cfg.idle_timeout_ms = o.idle_timeout_s * 1000;
  cfg.min_period_ms = o.min_period_ms;
  cfg.store = o.cluster ? o.cluster : path;
  cfg.node = o.node_id;
  cfg.durability = o.durability;
  static va_log_level least;
  least = strcmp(o.log_level, "debug") ? VA_LOG_INFO : VA_LOG_DEBUG;
  cfg.log = log_event;
  cfg.log_user = &least;
  va_runtime *runtime;
  static va_routes routes;
  routes.token = o.token; /* checked by va_routes_authorize */
  routes.jwt = jwt;
  routes.repair_state = o.repair_state;
  if (o.repair_state)
    log_line("warn", "the Dapr state API may write native actors' state",
             "flag=--repair-state");
  routes.apps.chat_limit = (uint32_t)o.chat_history;
  routes.apps.call_timeout_ms = cfg.call_timeout_ms;
  int rc = start_model(&o, &routes.apps.llm);
  if (rc == 0)
    rc = va_runtime_new(&cfg, &runtime);
  /* A member has the app types' channel even with no app behind it: it
   * forwards their calls to the members whose app hosts them. */
  if (rc == 0 && (o.app_port || o.cluster)) {
    va_app_options app = {.host = o.app_host,
                          .port = (uint16_t)o.app_port,
                          .token = o.app_token,
                          .on_types = o.cluster ? publish_app_types : NULL,
                          .on_types_user = &routes};
    rc = va_app_channel_new(runtime, &app, &routes.app);
  }
  if (rc == 0 && !va_routes_init(&routes, runtime))
    rc = VA_EINVAL;
  char address[96];
  snprintf(address, sizeof(address), "%s:%u", o.host, (unsigned)o.port);
  if (rc == 0 && o.cluster) {
    va_cluster_options co = {.url = o.cluster,
                             .node = o.node_id,
                             .address = address,
                             .link_host = o.link_host[0] ? o.link_host : NULL,
                             .link_port = o.link_port,
                             .app_actor = "AppActor",
                             .lease_ms = (uint32_t)o.lease_ms};
    rc = va_cluster_new(runtime, &co, &routes.cluster);
  }
  if (rc == 0)
    rc = va_runtime_start(runtime);
  if (rc == 0 && routes.app)
    rc = va_app_channel_start(routes.app);
  /* Joined before the HTTP server opens: no call is placed without a
   * view. */
  if (rc == 0 && routes.cluster)
    rc = va_cluster_start(routes.cluster);
  if (rc) {
    log_line("error", "cannot start the runtime", "store=%s error=\"%s\"",
             o.cluster ? "cluster" : QUOTE(path, quoted), va_strerror(rc));
    return 1;
  }
  if (!fit_max_connections(&o, fd_limit, va_runtime_threads(runtime))) {
    stop_cluster(routes.cluster, runtime);
    return 1;
  }
  va_http_options http = {.host = o.host,
                          .port = o.port,
                          .authorize = va_routes_authorize,
                          .authorize_ctx = &routes,
                          .max_body = (size_t)o.max_body,
                          .max_connections = (unsigned)o.max_connections,
                          .idle_timeout_ms = o.client_timeout_ms,
                          .request_timeout_ms = o.request_timeout_ms,
                          .access_log = o.access_log ? write_access_log : NULL,
                          .handler = va_routes_handle,
                          .ctx = &routes};
  va_http_server *srv;
  if ((rc = va_http_start(runtime, &http, &srv)) != 0) {
    log_line("error", "cannot listen", "addr=%s:%u error=\"%s\"", o.host,
             o.port, va_strerror(rc));
    stop_cluster(routes.cluster, runtime);
    return 1;
  }
  log_line("info", "listening",
           "addr=%s:%u pid=%ld threads=%u store=%s durability=%s "
           "min_period_ms=%llu access_log=%s",
           o.host, o.port, (long)getpid(), va_runtime_threads(runtime),
           o.cluster ? "cluster" : QUOTE(path, quoted),
           o.durability == VA_DURABLE ? "durable" : "relaxed",
           (unsigned long long)(o.min_period_ms ? o.min_period_ms
                                                : VA_MIN_PERIOD_MS_DEFAULT),
           o.access_log ? "on" : "off");
  log_line("info", "http limits",
           "max_connections=%llu client_timeout_ms=%llu "
           "request_timeout_ms=%llu max_body=%llu",
           (unsigned long long)o.max_connections,
           (unsigned long long)o.client_timeout_ms,
           (unsigned long long)o.request_timeout_ms,
           (unsigned long long)o.max_body);

  int sig = 0;
  sigwait(stop_signals, &sig);
  log_line("info", "stopping", "signal=%d", sig);
  /* A member hands its actors over first, serving (and forwarding) all
   * the while, until the others' views have it gone. */
  if (routes.cluster)
    (void)va_cluster_leave(routes.cluster, 0); /* it logs what failed */
  int http_rc = va_http_stop(srv);
  if (http_rc != 0)
    log_line("error", "cannot stop the HTTP server", "error=\"%s\"",
             va_strerror(http_rc));
  va_cluster_stop(routes.cluster);
  rc = va_runtime_stop(runtime);
  va_llm_free(routes.apps.llm); /* before the runtime: it may resume turns */
  va_app_channel_free(routes.app);
  va_cluster_free(routes.cluster);
  va_runtime_free(runtime);
  va_jwt_free(jwt); /* after the server: its threads checked tokens */
  log_line("info", "stopped", NULL);
  return rc || http_rc ? 1 : 0;
}

int main(int argc, char **argv) {
  options o;
  if (parse_options(argc, argv, &o) != 0)
    return 2;
  /* Signals are taken by the main thread only: block them before any
   * other thread starts (the log's, the workers), so that they inherit the
   * mask. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* A file size limit (ulimit -f) makes writes fail with EFBIG, which the
   * store reports, instead of killing the process. */
  signal(SIGXFSZ, SIG_IGN);
  int rc = va__log_sink_start(STDERR_FILENO, LOG_BUFFER, &sink);
  if (rc) {
    log_line("error", "cannot start the log", "error=\"%s\"", strerror(rc));
    return 1;
  }
  int status = serve(o, &stop_signals);
  va__log_sink *s = sink;
  sink = NULL;
  /* A reader that stopped reading gets LOG_DRAIN_MS, then what it has not
   * read is lost: the exit does not wait for it. */
  va__log_sink_stop(s, LOG_DRAIN_MS);
  return status;
}
