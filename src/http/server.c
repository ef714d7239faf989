/* server.c — see server.h. A connection is read with a stack buffer, fed
 * to http-parser; each complete request gets a reply in the connection's
 * queue; replies that are done are moved, in request order, into the
 * output buffer, which is written when the read is drained (so pipelined
 * requests leave in one write) or when a late reply completes. A reply
 * completed on another thread comes back to the connection's worker. */
#include "server.h"
#include "../core/runtime.h"
#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { PATH_MAX_BYTES = 8192, TOKEN_MAX = 256 };

struct va_http_server {
  va_runtime *rt;
  va_http_options opts;
  int *listeners; /* one per worker, -1 when closed */
  va_watch *watches;
  va_dlist *conns; /* open connections, per worker (that worker only) */
  _Atomic unsigned started;
};

struct va_http_reply {
  struct va_http_reply *next; /* the connection's queue, in request order */
  struct conn *c;
  bool done, keep;
  va_http_response res;
};

typedef struct conn {
  va_dlink link; /* in srv->conns[w->index] */
  va_http_reply *head, *tail; /* replies not yet written */
  unsigned pending;           /* replies not yet done */
  bool dead;                  /* closed: freed once pending is 0 */
  va_watch watch;
  int fd;
  va_worker *w;
  va_http_server *srv;
  http_parser parser;
  /* The request being read. */
  char path[PATH_MAX_BYTES + 1];
  size_t path_len, header_bytes;
  /* The header being read (the parser may hand it over in pieces). */
  char field[32];
  size_t field_len;
  bool in_value;
  int token_header; /* 0, or which header carries a token: 1 / 2 */
  char token[TOKEN_MAX + 8]; /* its value ("Bearer " included for 2) */
  size_t token_len;
  bool token_ok;
  char *body;
  size_t body_len;
  int refuse; /* a status to answer instead of running the handler */
  bool stop_reading; /* a request that closes the connection was read */
  bool reading;      /* inside on_conn's read loop */
  uint32_t events;   /* what epoll watches for now */
  bool closing;      /* close once the output is written */
  /* Answers waiting to be written. */
  char *out;
  size_t out_len, out_off, out_cap;
} conn;

/* ---- Responses ---- */

/* Makes *buf (of capacity *cap) hold at least need bytes, doubling. */
static int grow(char **buf, size_t *cap, size_t need, size_t first) {
  if (need <= *cap)
    return 0;
  size_t n = *cap ? *cap : first;
  while (n < need)
    n *= 2;
  char *more = realloc(*buf, n);
  if (!more)
    return VA_ENOMEM;
  *buf = more;
  *cap = n;
  return 0;
}

int va_http_write(va_http_response *res, const void *data, size_t len) {
  if (grow(&res->body, &res->cap, res->len + len, 256) != 0)
    return VA_ENOMEM;
  memcpy(res->body + res->len, data, len);
  res->len += len;
  return 0;
}

int va_http_printf(va_http_response *res, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0)
    return VA_EINVAL;
  return va_http_write(res, buf, (size_t)n < sizeof(buf) ? (size_t)n
                                                          : sizeof(buf) - 1);
}

void va_http_error(va_http_response *res, int status, const char *code,
                   const char *message) {
  res->status = status;
  res->content_type = "application/json";
  res->len = 0;
  /* code and message are the server's own strings: no escaping needed. */
  va_http_printf(res, "{\"errorCode\":\"%s\",\"message\":\"%s\"}", code,
                 message);
}

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  default: return "Unknown";
  }
}

static int out_reserve(conn *c, size_t more) {
  return grow(&c->out, &c->out_cap, c->out_len + more, 4096);
}

/* Queues the response to the request just read. */
static void queue_response(conn *c, const va_http_response *res, bool keep) {
  char head[256];
  bool bodyless = res->status == 204 || res->status == 304;
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\n%s\r\n",
                   res->status, reason(res->status),
                   res->content_type && !bodyless ? "Content-Type: " : "",
                   res->content_type && !bodyless ? res->content_type : "",
                   res->content_type && !bodyless ? "\r\n" : "",
                   bodyless ? 0 : res->len,
                   keep ? "" : "Connection: close\r\n");
  size_t body = bodyless ? 0 : res->len;
  if (out_reserve(c, (size_t)n + body) != 0) {
    c->closing = true;
    return;
  }
  memcpy(c->out + c->out_len, head, (size_t)n);
  c->out_len += (size_t)n;
  if (body)
    memcpy(c->out + c->out_len, res->body, body);
  c->out_len += body;
}

/* ---- Parsing ---- */

static int on_begin(http_parser *p) {
  conn *c = p->data;
  c->path_len = c->header_bytes = c->body_len = 0;
  c->field_len = c->token_len = 0;
  c->in_value = c->token_ok = false;
  c->token_header = 0;
  c->refuse = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (c->path_len + len > PATH_MAX_BYTES) {
    c->refuse = 414;
    return 0;
  }
  memcpy(c->path + c->path_len, at, len);
  c->path_len += len;
  return 0;
}

static bool count_header(conn *c, size_t len) {
  c->header_bytes += len;
  if (c->header_bytes > c->srv->opts.max_header && !c->refuse)
    c->refuse = 431;
  return !c->refuse;
}

/* Compares in time independent of where they differ. */
static bool same_secret(const char *a, size_t alen, const char *b,
                        size_t blen) {
  unsigned diff = alen != blen;
  for (size_t i = 0; i < alen && i < blen; i++)
    diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

/* A header is complete: is it the token? */
static void end_header(conn *c) {
  if (!c->token_header || !c->srv->opts.token)
    return;
  const char *v = c->token;
  size_t n = c->token_len;
  if (c->token_header == 2) { /* Authorization: Bearer T */
    if (n < 7 || strncasecmp(v, "Bearer ", 7))
      return;
    v += 7;
    n -= 7;
  }
  c->token_ok |= same_secret(v, n, c->srv->opts.token,
                             strlen(c->srv->opts.token));
}

static int on_field(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (!count_header(c, len))
    return 0;
  if (c->in_value) { /* a new header begins */
    end_header(c);
    c->in_value = false;
    c->field_len = c->token_len = 0;
    c->token_header = 0;
  }
  size_t room = sizeof(c->field) - 1 - c->field_len;
  size_t n = len < room ? len : room;
  memcpy(c->field + c->field_len, at, n);
  c->field_len += n;
  return 0;
}

static int on_value(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (!count_header(c, len))
    return 0;
  if (!c->in_value) {
    c->in_value = true;
    c->field[c->field_len] = 0;
    c->token_header = !strcasecmp(c->field, "dapr-api-token")  ? 1
                      : !strcasecmp(c->field, "authorization") ? 2
                                                                : 0;
  }
  if (c->token_header && c->token_len + len <= sizeof(c->token)) {
    memcpy(c->token + c->token_len, at, len);
    c->token_len += len;
  }
  return 0;
}

static int on_headers(http_parser *p) {
  conn *c = p->data;
  if (c->in_value)
    end_header(c);
  if (p->content_length != ULLONG_MAX &&
      p->content_length > c->srv->opts.max_body && !c->refuse)
    c->refuse = 413;
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (c->refuse)
    return 0;
  if (c->body_len + len > c->srv->opts.max_body) {
    c->refuse = 413;
    return 0;
  }
  char *body = realloc(c->body, c->body_len + len);
  if (!body)
    return -1;
  memcpy(body + c->body_len, at, len);
  c->body = body;
  c->body_len += len;
  return 0;
}

static void write_ready(conn *c);

va_http_response *va_http_res(va_http_reply *r) { return &r->res; }

/* Frees a closed connection and the replies it still holds. */
static void free_conn(conn *c) {
  for (va_http_reply *r = c->head, *next; r; r = next) {
    next = r->next;
    free(r->res.body);
    free(r);
  }
  free(c);
}

/* A reply for the request just read, queued behind the earlier ones. */
static va_http_reply *new_reply(conn *c, bool keep) {
  va_http_reply *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  r->c = c;
  r->keep = keep;
  r->res = (va_http_response){.status = 200,
                              .content_type = "application/json"};
  if (c->tail)
    c->tail->next = r;
  else
    c->head = r;
  c->tail = r;
  c->pending++;
  return r;
}

static void complete_here(va_http_reply *r) {
  conn *c = r->c;
  r->done = true;
  c->pending--;
  if (c->dead) {
    if (!c->pending)
      free_conn(c);
    return;
  }
  write_ready(c);
}

static void complete_remote(void *ctx, va_worker *w) {
  (void)w;
  complete_here(ctx);
}

void va_http_done(va_http_reply *r) {
  va_worker *w = r->c->w;
  if (va__tl_worker == w)
    complete_here(r);
  else
    va__run_on(w->rt, w->index, complete_remote, r);
}

static int on_complete(http_parser *p) {
  conn *c = p->data;
  bool keep = http_should_keep_alive(p) && !c->refuse;
  va_http_reply *r = new_reply(c, keep);
  if (!r)
    return -1;
  va_http_response *res = &r->res;
  c->path[c->path_len < PATH_MAX_BYTES ? c->path_len : PATH_MAX_BYTES] = 0;
  if (!c->refuse && c->srv->opts.token && !c->token_ok &&
      !(p->method == HTTP_GET && !strcmp(c->path, "/v1.0/healthz")))
    c->refuse = 401;
  if (c->refuse) {
    if (c->refuse == 401)
      va_http_error(res, 401, "ERR_UNAUTHORIZED",
                    "missing or wrong API token");
    else if (c->refuse == 414)
      va_http_error(res, 414, "ERR_URI_TOO_LONG", "request target too long");
    else if (c->refuse == 431)
      va_http_error(res, 431, "ERR_HEADERS_TOO_LARGE",
                    "request headers too large");
    else
      va_http_error(res, 413, "ERR_BODY_TOO_LARGE", "request body too large");
    complete_here(r);
  } else {
    char *q = strchr(c->path, '?');
    if (q)
      *q++ = 0;
    va_http_request req = {
        .method = http_method_str((enum http_method)p->method),
        .path = c->path,
        .path_len = strlen(c->path),
        .query = q ? q : "",
        .body = c->body ? c->body : "",
        .body_len = c->body_len,
    };
    c->srv->opts.handler(c->srv->opts.ctx, &req, r);
  }
  /* After a request that closes the connection, read no further. */
  if (!keep)
    c->stop_reading = true;
  return keep ? 0 : -1;
}

static const http_parser_settings settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* ---- Connections ---- */

static void conn_close(conn *c) {
  va__dlist_remove(&c->srv->conns[c->w->index], &c->link);
  va__worker_unwatch(c->w, c->fd);
  close(c->fd);
  free(c->body);
  free(c->out);
  c->body = c->out = NULL;
  c->dead = true;
  if (!c->pending) /* else the last reply to complete frees it */
    free_conn(c);
}

/* Changes what epoll watches for, with a system call only on a change
 * (one per response showed in the profile of H1). */
static void watch_for(conn *c, uint32_t events) {
  if (c->events != events) {
    va__worker_rewatch(c->w, c->fd, events, &c->watch);
    c->events = events;
  }
}

/* Writes what is queued; false when the connection is gone. */
static bool flush(conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n > 0) {
      c->out_off += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      watch_for(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
      return true;
    } else {
      conn_close(c);
      return false;
    }
  }
  c->out_off = c->out_len = 0;
  if (c->closing) {
    conn_close(c);
    return false;
  }
  /* Once nothing more is to be read, only errors wake us up. */
  watch_for(c, c->stop_reading ? 0 : EPOLLIN | EPOLLRDHUP);
  return true;
}

/* Moves the replies that are done, in order, into the output; writes. */
static void write_ready(conn *c) {
  while (c->head && c->head->done) {
    va_http_reply *r = c->head;
    c->head = r->next;
    if (!c->head)
      c->tail = NULL;
    queue_response(c, &r->res, r->keep);
    if (!r->keep)
      c->closing = true;
    free(r->res.body);
    free(r);
  }
  if (c->stop_reading && !c->head && !c->pending)
    c->closing = true; /* everything asked is answered */
  if (!c->reading)
    flush(c);
}

static void on_conn(void *ctx, uint32_t events) {
  conn *c = ctx;
  if (events & (EPOLLERR | EPOLLHUP)) {
    conn_close(c);
    return;
  }
  if (events & EPOLLOUT && !flush(c))
    return;
  if (!(events & (EPOLLIN | EPOLLRDHUP)))
    return;
  char buf[16384];
  c->reading = true; /* answers made meanwhile leave in one write, below */
  for (;;) {
    if (c->closing || c->stop_reading)
      break;
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n <= 0) { /* the peer is done, or the read failed */
      c->reading = false;
      if (c->pending || c->head)
        c->stop_reading = true; /* answer what was asked, then close */
      else
        c->closing = true;
      break;
    }
    size_t used = http_parser_execute(&c->parser, &settings, buf, (size_t)n);
    if (c->stop_reading)
      break;
    if (used != (size_t)n || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
      /* After the answers to the requests before it, in order. */
      va_http_reply *r = new_reply(c, false);
      if (!r) {
        c->closing = true;
        break;
      }
      va_http_error(&r->res, 400, "ERR_MALFORMED_REQUEST",
                    http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
      c->stop_reading = true;
      complete_here(r);
      break;
    }
    /* A short read drained the socket: no second read just to hear EAGAIN
     * (epoll is level-triggered and reports what comes later). */
    if ((size_t)n < sizeof(buf))
      break;
  }
  c->reading = false;
  write_ready(c);
}

static void on_accept(void *ctx, uint32_t events) {
  (void)events;
  va_http_server *srv = ctx;
  va_worker *w = va__tl_worker;
  int lfd = srv->listeners[w->index];
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
      return; /* EAGAIN, or out of descriptors: try at the next event */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn *c = calloc(1, sizeof(*c));
    if (!c) {
      close(fd);
      continue;
    }
    c->fd = fd;
    c->w = w;
    c->srv = srv;
    c->watch = (va_watch){on_conn, c};
    c->events = EPOLLIN | EPOLLRDHUP;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    if (va__worker_watch(w, fd, EPOLLIN | EPOLLRDHUP, &c->watch) != 0) {
      close(fd);
      free(c);
      continue;
    }
    va__dlist_append(&srv->conns[w->index], &c->link);
  }
}

/* ---- Listeners ---- */

static int listen_socket(const va_http_options *o) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_port = htons(o->port)};
  if (inet_pton(AF_INET, o->host, &addr.sin_addr) != 1 ||
      bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
      listen(fd, 4096) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void start_on_worker(void *ctx, va_worker *w) {
  va_http_server *srv = ctx;
  int fd = srv->listeners[w->index];
  srv->watches[w->index] = (va_watch){on_accept, srv};
  if (fd >= 0)
    va__worker_watch(w, fd, EPOLLIN, &srv->watches[w->index]);
  atomic_fetch_add(&srv->started, 1);
}

static void stop_on_worker(void *ctx, va_worker *w) {
  va_http_server *srv = ctx;
  int fd = srv->listeners[w->index];
  if (fd >= 0) {
    va__worker_unwatch(w, fd);
    close(fd);
    srv->listeners[w->index] = -1;
  }
  /* Requests are answered as they are read: what is open is idle. */
  va_dlist *open = &srv->conns[w->index];
  while (open->head)
    conn_close(VA_CONTAINER_OF(open->head, conn, link));
  atomic_fetch_sub(&srv->started, 1);
}

int va_http_start(va_runtime *rt, const va_http_options *opts,
                  va_http_server **out) {
  if (!rt || !opts || !opts->handler || !opts->host || !out)
    return VA_EINVAL;
  unsigned n = va_runtime_threads(rt);
  va_http_server *srv = calloc(1, sizeof(*srv));
  if (!srv || !(srv->listeners = calloc(n, sizeof(int))) ||
      !(srv->watches = calloc(n, sizeof(va_watch))) ||
      !(srv->conns = calloc(n, sizeof(va_dlist)))) {
    if (srv) {
      free(srv->listeners);
      free(srv->watches);
    }
    free(srv);
    return VA_ENOMEM;
  }
  srv->rt = rt;
  srv->opts = *opts;
  srv->opts.token = opts->token && *opts->token ? strdup(opts->token) : NULL;
  if (!srv->opts.max_header)
    srv->opts.max_header = 16384;
  if (!srv->opts.max_body)
    srv->opts.max_body = 1 << 20;
  /* Bind every socket here first, so that a taken port is an error now. */
  for (unsigned i = 0; i < n; i++) {
    if ((srv->listeners[i] = listen_socket(&srv->opts)) < 0) {
      while (i-- > 0)
        close(srv->listeners[i]);
      free((char *)srv->opts.token);
      free(srv->conns);
      free(srv->watches);
      free(srv->listeners);
      free(srv);
      return VA_ESYS;
    }
  }
  for (unsigned i = 0; i < n; i++)
    va__run_on(rt, i, start_on_worker, srv);
  while (atomic_load(&srv->started) < n)
    usleep(1000);
  *out = srv;
  return 0;
}

void va_http_stop(va_http_server *srv) {
  if (!srv)
    return;
  unsigned n = va_runtime_threads(srv->rt);
  for (unsigned i = 0; i < n; i++)
    va__run_on(srv->rt, i, stop_on_worker, srv);
  while (atomic_load(&srv->started) > 0)
    usleep(1000);
  free((char *)srv->opts.token);
  free(srv->conns);
  free(srv->watches);
  free(srv->listeners);
  free(srv);
}
