/* fuzz_http.c — libFuzzer target for request handling, end to end: the
 * HTTP server and vactord's routes run in this process (memory store, a
 * loopback port); each input is written to a new connection as raw bytes,
 * and whatever comes back is read until the server closes or 200 ms pass.
 * Any crash, sanitizer report or hang of the server is a finding (the
 * access log is on, its lines dropped). Inputs
 * that found something go into tests/fuzz/http-corpus, which the vactord
 * integration test replays against a real vactord.
 * Build: make fuzz; run: build/fuzz/tests/fuzz_http -detect_leaks=0
 *   -max_total_time=60 build/fuzz/http-corpus tests/fuzz/http-corpus
 * (-detect_leaks=0: the server outlives every input, and a connection is
 * freed on its worker after the input returns, so per-input leak checks
 * would report both.) */
#include "api/routes.h"
#include "http/server.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint16_t port;
/* Live for the whole run (and reachable, so no leak is reported at exit). */
static va_runtime *rt;
static va_http_server *srv;

/* The access log's lines are formatted (that code is fuzzed too) and
 * dropped. */
static void drop_lines(void *user, const char *lines, size_t len) {
  (void)user;
  (void)lines;
  (void)len;
}

static void start(void) {
  static va_routes routes = {.repair_state = true}; /* writes fuzzed too */
  va_config cfg;
  va_config_init(&cfg);
  cfg.threads = 2;
  if (va_runtime_new(&cfg, &rt) || !va_routes_init(&routes, rt) ||
      va_runtime_start(rt))
    abort();
  for (port = 41000; port < 41100; port++) {
    /* The authorize check runs on every head (no token: it lets all in,
     * so that the inputs reach the routes). */
    va_http_options o = {.host = "127.0.0.1",
                         .port = port,
                         .handler = va_routes_handle,
                         .ctx = &routes,
                         .authorize = va_routes_authorize,
                         .authorize_ctx = &routes,
                         .access_log = drop_lines};
    if (va_http_start(rt, &o, &srv) == 0)
      return; /* runs until the fuzzer exits */
  }
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!port)
    start();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
    abort(); /* the server stopped accepting: a finding */
  size_t off = 0;
  while (off < size) {
    ssize_t n = write(fd, data + off, size - off);
    if (n <= 0)
      break; /* the server closed early: fine */
    off += (size_t)n;
  }
  shutdown(fd, SHUT_WR);
  char buf[4096];
  struct pollfd p = {fd, POLLIN, 0};
  while (poll(&p, 1, 200) > 0 && read(fd, buf, sizeof(buf)) > 0)
    ;
  close(fd);
  return 0;
}
