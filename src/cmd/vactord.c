/* vactord.c — the vactor server: a runtime on a SQLite file, served over
 * HTTP/1.1 by the runtime's own worker threads. This first version serves
 * health and metrics; the Task API and the Dapr actor API are built on it.
 * SIGTERM or SIGINT: stop accepting, finish in-flight turns, flush commits,
 * deactivate every actor, exit 0. */
#include "../api/routes.h"
#include "../http/server.h"
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <vactor.h>

typedef struct options {
  char host[64];
  uint16_t port;
  const char *data;
  unsigned threads;
  uint64_t idle_timeout_ms;
  va_durability durability;
  const char *log_level;
  const char *token;
} options;

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
          "  --data DIR           directory of the state file vactor.db\n"
          "                       (VACTORD_DATA; default ./vactor-data)\n"
          "  --threads N          worker threads (VACTORD_THREADS; default:\n"
          "                       cores)\n"
          "  --idle-timeout SECS  deactivate actors idle this long\n"
          "                       (VACTORD_IDLE_TIMEOUT; default 3600)\n"
          "  --durability MODE    durable (default) or relaxed\n"
          "                       (VACTORD_DURABILITY)\n"
          "  --log-level LEVEL    info (default) or debug (VACTORD_LOG_LEVEL)\n"
          "  --help               this text\n"
          "\n"
          "Routes: GET /v1.0/healthz (204), GET /metrics (Prometheus text),\n"
          "PUT/GET /v1/users/{user}/tasks/{task}, POST .../log {\"minutes\": n}.\n"
          "Errors are JSON: {\"errorCode\": \"...\", \"message\": \"...\"}.\n");
}

/* Structured log line on stderr: ts=... level=... msg="..." k=v... */
static void log_line(const char *level, const char *msg, const char *fmt,
                     ...) {
  char ts[32];
  time_t now = time(NULL);
  struct tm tm;
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  fprintf(stderr, "ts=%s level=%s msg=\"%s\"", ts, level, msg);
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    fputc(' ', stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
  fputc('\n', stderr);
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
  /* Without an API token, nothing but loopback. */
  return strncmp(o->host, "127.", 4) && !o->token ? -2 : 0;
}

static int parse_options(int argc, char **argv, options *o) {
  *o = (options){.host = "127.0.0.1", .port = 3500, .data = "vactor-data",
                 .log_level = "info"};
  const char *listen = getenv("VACTORD_LISTEN");
  const char *env;
  if ((env = getenv("VACTORD_DATA")))
    o->data = env;
  if ((env = getenv("VACTORD_THREADS")))
    o->threads = (unsigned)atoi(env);
  if ((env = getenv("VACTORD_IDLE_TIMEOUT")))
    o->idle_timeout_ms = (uint64_t)atoll(env) * 1000;
  const char *durability = getenv("VACTORD_DURABILITY");
  if ((env = getenv("VACTORD_LOG_LEVEL")))
    o->log_level = env;
  o->token = getenv("VACTORD_API_TOKEN");
  static const struct option longs[] = {
      {"listen", required_argument, 0, 'l'},
      {"data", required_argument, 0, 'd'},
      {"threads", required_argument, 0, 't'},
      {"idle-timeout", required_argument, 0, 'i'},
      {"durability", required_argument, 0, 'D'},
      {"log-level", required_argument, 0, 'L'},
      {"token", required_argument, 0, 'T'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
    switch (c) {
    case 'l': listen = optarg; break;
    case 'd': o->data = optarg; break;
    case 't': o->threads = (unsigned)atoi(optarg); break;
    case 'i': o->idle_timeout_ms = (uint64_t)atoll(optarg) * 1000; break;
    case 'D': durability = optarg; break;
    case 'L': o->log_level = optarg; break;
    case 'T': o->token = optarg; break;
    case 'h': usage(stdout); exit(0);
    default: usage(stderr); return -1;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return -1;
  }
  if (listen) {
    int rc = parse_listen(listen, o);
    if (rc) {
      fprintf(stderr, "vactord: --listen %s: %s\n", listen,
              rc == -2 ? "without --token, only loopback addresses "
                         "(127.x.x.x) are served"
                       : "expected HOST:PORT");
      return -1;
    }
  }
  if (durability && strcmp(durability, "durable") &&
      strcmp(durability, "relaxed")) {
    fprintf(stderr, "vactord: --durability must be durable or relaxed\n");
    return -1;
  }
  o->durability = durability && !strcmp(durability, "relaxed") ? VA_RELAXED
                                                                : VA_DURABLE;
  return 0;
}

/* ---- Routes ---- */

int main(int argc, char **argv) {
  options o;
  if (parse_options(argc, argv, &o) != 0)
    return 2;
  if (mkdir(o.data, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "vactord: --data %s: %s\n", o.data, strerror(errno));
    return 1;
  }
  char path[4096];
  snprintf(path, sizeof(path), "%s/vactor.db", o.data);

  /* Signals are taken by this thread only: block them before the workers
   * start, so that they inherit the mask. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);

  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = o.threads;
  cfg.idle_timeout_ms = o.idle_timeout_ms;
  cfg.store = path;
  cfg.durability = o.durability;
  va_runtime *runtime;
  static va_routes routes;
  int rc = va_runtime_new(&cfg, &runtime);
  if (rc == 0 && !va_routes_init(&routes, runtime))
    rc = VA_EINVAL;
  if (rc == 0)
    rc = va_runtime_start(runtime);
  if (rc) {
    log_line("error", "cannot start the runtime", "store=%s error=\"%s\"",
             path, va_strerror(rc));
    return 1;
  }
  va_http_options http = {.host = o.host, .port = o.port, .token = o.token,
                          .handler = va_routes_handle, .ctx = &routes};
  va_http_server *srv;
  if ((rc = va_http_start(runtime, &http, &srv)) != 0) {
    log_line("error", "cannot listen", "addr=%s:%u error=\"%s\"", o.host,
             o.port, va_strerror(rc));
    va_runtime_free(runtime);
    return 1;
  }
  log_line("info", "listening", "addr=%s:%u threads=%u store=%s durability=%s",
           o.host, o.port, va_runtime_threads(runtime), path,
           o.durability == VA_DURABLE ? "durable" : "relaxed");

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log_line("info", "stopping", "signal=%d", sig);
  va_http_stop(srv);
  rc = va_runtime_stop(runtime);
  va_runtime_free(runtime);
  log_line("info", "stopped", NULL);
  return rc ? 1 : 0;
}
