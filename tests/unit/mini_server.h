/* mini_server.h — a tiny blocking HTTP/1.1 server on 127.0.0.1 for the
 * outbound client's tests: one thread accepts, one thread per connection
 * answers (keep-alive), chosen by path:
 *
 *   /echo...      200, body "METHOD PATH BODY", header X-Echo-Method
 *   /headers      200, body = the request's header block as received
 *   /status/N     status N, empty body
 *   /delay/N      answers after N ms (or gives up if the client closes)
 *   /close        closes the connection without answering
 *   /hang         never answers; waits for the client to close
 *   /big/N        200 with Content-Length N and N bytes
 *   /bigclose/N   200 with N bytes and no length (ends by closing)
 *
 * Test fixture only: it reads just what curl sends (Content-Length bodies,
 * no chunking, no pipelining) and trusts it. */
#ifndef VA_TEST_MINI_SERVER_H
#define VA_TEST_MINI_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MS_BUF = 64 * 1024 };

typedef struct ms_conn {
  struct ms_conn *next;
  struct mini_server *s;
  pthread_t thread;
  int fd; /* -1 once the connection's thread has closed it */
} ms_conn;

typedef struct mini_server {
  int lfd;
  uint16_t port;
  pthread_t accept_thread;
  pthread_mutex_t lock; /* conns, and each conn's fd */
  ms_conn *conns;
  atomic_int accepted, requests;
  atomic_bool stop;
} mini_server;

typedef struct ms_request {
  char method[16], path[256];
  const char *head; /* request line and headers, up to the blank line */
  size_t head_len;
  const char *body;
  size_t body_len, total;
} ms_request;

static bool ms_send_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return false;
    c += k;
    n -= (size_t)k;
  }
  return true;
}

static bool ms_respond(int fd, int status, const char *extra, const void *body,
                       size_t len) {
  char head[512];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status,
                   len, extra ? extra : "");
  return ms_send_all(fd, head, (size_t)n) && ms_send_all(fd, body, len);
}

/* The value of Content-Length in a header block, or 0. */
static size_t ms_content_length(const char *head, size_t len) {
  for (const char *p = head; p < head + len; p++) {
    if ((p == head || p[-1] == '\n') &&
        strncasecmp(p, "Content-Length:", 15) == 0)
      return (size_t)strtoul(p + 15, NULL, 10);
  }
  return 0;
}

/* Reads one request into buf (holding *have bytes). Returns false on EOF,
 * error or a request the fixture cannot read. */
static bool ms_read_request(int fd, char *buf, size_t *have, ms_request *r) {
  char *end;
  for (;;) {
    buf[*have] = '\0';
    if ((end = strstr(buf, "\r\n\r\n")))
      break;
    ssize_t k = read(fd, buf + *have, MS_BUF - 1 - *have);
    if (k <= 0)
      return false;
    *have += (size_t)k;
  }
  r->head = buf;
  r->head_len = (size_t)(end + 4 - buf);
  if (sscanf(buf, "%15s %255s", r->method, r->path) != 2)
    return false;
  r->body_len = ms_content_length(buf, r->head_len);
  r->total = r->head_len + r->body_len;
  if (r->total >= MS_BUF)
    return false;
  while (*have < r->total) {
    ssize_t k = read(fd, buf + *have, MS_BUF - 1 - *have);
    if (k <= 0)
      return false;
    *have += (size_t)k;
  }
  r->body = buf + r->head_len;
  return true;
}

/* Waits up to ms (-1: forever) for the client to send or close; true if it
 * did (for us: the client gave up, or the server is stopping). */
static bool ms_client_moved(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, ms) != 0;
}

/* Sends n filler bytes; with_length says whether a Content-Length goes
 * first (else the end of the body is the connection's close). */
static bool ms_send_big(int fd, size_t n, bool with_length) {
  char head[128], chunk[16384];
  int k = with_length
              ? snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n)
              : snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
  memset(chunk, 'b', sizeof(chunk));
  if (!ms_send_all(fd, head, (size_t)k))
    return false;
  while (n) {
    size_t m = n < sizeof(chunk) ? n : sizeof(chunk);
    if (!ms_send_all(fd, chunk, m))
      return false;
    n -= m;
  }
  return with_length;
}

static bool ms_echo(int fd, const ms_request *r) {
  char body[MS_BUF + 512], extra[64];
  int n = snprintf(body, sizeof(body), "%s %s %.*s", r->method, r->path,
                   (int)r->body_len, r->body);
  snprintf(extra, sizeof(extra), "X-Echo-Method: %s\r\n", r->method);
  return ms_respond(fd, 200, extra, body, (size_t)n);
}

/* Answers r; false when the connection must close. */
static bool ms_handle(int fd, const ms_request *r) {
  const char *p = r->path;
  if (strncmp(p, "/echo", 5) == 0)
    return ms_echo(fd, r);
  if (strcmp(p, "/headers") == 0)
    return ms_respond(fd, 200, NULL, r->head, r->head_len);
  if (strncmp(p, "/status/", 8) == 0)
    return ms_respond(fd, atoi(p + 8), NULL, "", 0);
  if (strncmp(p, "/delay/", 7) == 0)
    return !ms_client_moved(fd, atoi(p + 7)) &&
           ms_respond(fd, 200, NULL, "late", 4);
  if (strcmp(p, "/close") == 0)
    return false;
  if (strcmp(p, "/hang") == 0) {
    ms_client_moved(fd, -1);
    return false;
  }
  if (strncmp(p, "/big/", 5) == 0)
    return ms_send_big(fd, strtoul(p + 5, NULL, 10), true);
  if (strncmp(p, "/bigclose/", 10) == 0)
    return ms_send_big(fd, strtoul(p + 10, NULL, 10), false);
  return ms_respond(fd, 404, NULL, "", 0);
}

static void *ms_conn_main(void *arg) {
  ms_conn *c = arg;
  char *buf = malloc(MS_BUF);
  size_t have = 0;
  ms_request r;
  while (buf && ms_read_request(c->fd, buf, &have, &r)) {
    atomic_fetch_add(&c->s->requests, 1);
    if (!ms_handle(c->fd, &r))
      break;
    have -= r.total;
    memmove(buf, buf + r.total, have);
  }
  free(buf);
  pthread_mutex_lock(&c->s->lock);
  int fd = c->fd;
  c->fd = -1;
  pthread_mutex_unlock(&c->s->lock);
  close(fd);
  return NULL;
}

static void *ms_accept_main(void *arg) {
  mini_server *s = arg;
  for (;;) {
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
      continue;
    if (fd < 0 || atomic_load(&s->stop)) {
      if (fd >= 0)
        close(fd);
      return NULL;
    }
    atomic_fetch_add(&s->accepted, 1);
    ms_conn *c = calloc(1, sizeof(*c));
    c->s = s;
    c->fd = fd;
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    s->conns = c;
    pthread_create(&c->thread, NULL, ms_conn_main, c);
    pthread_mutex_unlock(&s->lock);
  }
}

/* Listens on 127.0.0.1 on a free port (s->port). Returns 0 or -1. */
static int ms_start(mini_server *s) {
  memset(s, 0, sizeof(*s));
  pthread_mutex_init(&s->lock, NULL);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof(a);
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) ||
      listen(s->lfd, 1024) || getsockname(s->lfd, (struct sockaddr *)&a, &alen))
    return -1;
  s->port = ntohs(a.sin_port);
  return pthread_create(&s->accept_thread, NULL, ms_accept_main, s) ? -1 : 0;
}

/* Stops accepting, wakes and joins every connection thread, frees all. */
static void ms_stop(mini_server *s) {
  atomic_store(&s->stop, true);
  shutdown(s->lfd, SHUT_RDWR); /* wakes accept() */
  pthread_join(s->accept_thread, NULL);
  close(s->lfd);
  pthread_mutex_lock(&s->lock);
  for (ms_conn *c = s->conns; c; c = c->next)
    if (c->fd >= 0)
      shutdown(c->fd, SHUT_RDWR);
  pthread_mutex_unlock(&s->lock);
  while (s->conns) {
    ms_conn *c = s->conns;
    s->conns = c->next;
    pthread_join(c->thread, NULL);
    free(c);
  }
  pthread_mutex_destroy(&s->lock);
}

#endif
