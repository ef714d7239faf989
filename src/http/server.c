/* server.c — see server.h. A connection is read with a stack buffer; a
 * small scan of each request's head refuses what http-parser (built
 * lenient) would let through (bare LF, obsolete line folding), and then
 * http-parser parses it, one request per call (it pauses at each request's
 * end). Each complete request gets a reply in the connection's queue;
 * replies that are done are moved, in request order, into the output
 * buffer, which is written when the read is drained (so pipelined requests
 * leave in one write) or when a late reply completes. A reply completed on
 * another thread comes back to the connection's worker (va_loop_run; if
 * that fails, the worker's sweep finds it). The server sees the runtime
 * only through vactor_loop.h: it watches its sockets on the workers' loops
 * and runs its start and stop there. It knows HTTP and nothing of routes
 * or tokens: the header block is kept as received for the handlers, and
 * the authorize check of the options decides on each request's head.
 * Back-pressure: past QUEUE_HIGH replies queued or OUT_HIGH bytes not yet
 * written, a connection is no longer read (what it sent is kept) until its
 * output drains below the low-water marks. A client that half-closes is
 * never watched for input again; only bytes read or written count as its
 * activity, so one that reads nothing is closed after the idle timeout.
 * A request refused before its end (400, 408, 413, 414, 431, 505, 503 out
 * of memory, or the authorize check's refusal) is answered at once, then
 * the connection is closed gracefully (shut down
 * for writing, what the client still sends read and dropped for a while).
 * Limits: one counter of open connections for the whole server (touched
 * once per connection, never per request); timeouts cost a coarse
 * timestamp per read or write, and a sweep per worker (a timerfd on its
 * loop, at most once a second) closes what has idled or dawdled too long.
 * The access log is formatted by hand into a buffer per worker, handed to
 * the callback in blocks (ACCESS_LOG_FLUSH bytes, or by the sweep). */
#include "server.h"
#include "../base/assert.h"
#include "../base/clock.h"
#include "../base/dlist.h"
#include "metrics.h"
#include "response.h"
#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <vactor_loop.h>

enum {
  PATH_MAX_BYTES = 8192,
  SWEEP_MAX_MS = 1000, /* the sweep runs at least this often... */
  SWEEP_MIN_MS = 10,   /* ...and at most this often */
  TICK_SLACK_MS = 100, /* a stream's tick this early is on time */
  /* Back-pressure, per connection: it is no longer read past QUEUE_HIGH
   * replies queued (done or not, not yet in the output) or OUT_HIGH bytes
   * of output not yet written, and read again once both are below the low
   * marks. */
  QUEUE_HIGH = 64,
  QUEUE_LOW = 16,
  OUT_HIGH = 256 * 1024,
  OUT_LOW = 64 * 1024,
  /* A graceful close reads and drops at most this much of what the client
   * still sends, for at most this long. */
  LINGER_BYTES = 1 << 20,
  LINGER_MS = 2000,
  /* The access log: a block is handed over once this full... */
  ACCESS_LOG_FLUSH = 32 * 1024,
  ACCESS_LINE_MAX = 512, /* ...and a line is at most this long */
  ROUTE_LOGGED_MAX = 128,
  /* va_http_start and va_http_stop ask a worker again this many times, a
   * millisecond apart, when a post finds no memory. */
  POST_TRIES = 1000,
};

/* Replies that could not be handed back to their connection's worker, in
 * every server of the process (vactor_http_handoffs_failed_total); each
 * worker's sweep looks for them when the count moves. */
static _Atomic uint64_t handoffs_failed;

/* What the server keeps on one worker. */
typedef struct shard {
  /* Set before the worker sees it, then read-only. */
  alignas(64) struct va_http_server *srv;
  va__http_stats *stats;
  int listener; /* -1 when closed */
  int sweeper;  /* the sweep's timerfd; -1 when closed */
  bool posted;  /* start_on_worker was posted (va_http_start's thread) */
  /* That worker only. */
  va_loop *loop;
  va_dlist conns; /* open connections */
  bool paused;    /* not accepting (out of descriptors) until a sweep */
  bool watching_listener, watching_sweeper;
  int start_rc;           /* 0, or why the worker could not watch its sockets */
  uint64_t handoffs_seen; /* handoffs_failed as of the last recovery */
  va_loop_watcher accept_watch, sweep_watch;
  /* The access log's lines not yet handed over (NULL: no access log), and
   * the current second as text for their ts=. */
  char *access;
  size_t access_len;
  time_t access_sec;
  char access_ts[32];
} shard;

struct va_http_server {
  va_runtime *rt;
  va_http_options opts;
  unsigned n;             /* workers */
  shard *shards;          /* one per worker */
  va__http_stats **stats; /* shards[i].stats, for va_http_metrics */
  uint64_t sweep_ms;      /* the sweep's period */
  char refusal[320];      /* the 503 for connections over the limit */
  size_t refusal_len;
  /* Functions posted to the workers (start_on_worker, stop_on_worker)
   * that have run: the thread of va_http_start / _stop waits for them. */
  _Atomic unsigned acks;
  _Atomic unsigned streams; /* open (va_http_stream), at most STREAMS_MAX */
  /* Connections open on every worker: admission against max_connections.
   * Changed once per connection opened or closed (relaxed: a count, not a
   * guard of other memory), on a line of its own. */
  alignas(64) _Atomic unsigned open;
};

struct va_http_reply {
  struct va_http_reply *next; /* the connection's queue, in request order */
  struct conn *c;
  bool done, keep;
  /* Set by the thread whose hand-off of it failed (handoff_failed), read
   * by the connection's sweep. */
  _Atomic bool lost;
  const char *route;     /* the metrics' route label (static), or NULL */
  const char *method;    /* static: "GET", ..., or "-" when not read */
  struct stream *stream; /* va_http_stream's, until its head is queued */
  size_t bytes_in;       /* of the request's body */
  uint64_t parsed_ns;    /* when the request was complete */
  va_http_response res;
};

/* A stream's ticks (va_http_stream): on its reply until the head leaves,
 * then on its connection. */
typedef struct stream {
  va_http_tick tick;
  void (*end)(void *ctx);
  void *ctx;
  uint64_t every_ms, last_ms;
} stream;

/* Where the scan of a request's head is (see scan_head). */
enum { SCAN_START, SCAN_REQUEST_LINE, SCAN_FIELDS, SCAN_BODY };

typedef struct head_scan {
  uint8_t state;    /* SCAN_* */
  bool after_cr;    /* the byte before was CR */
  bool line_start;  /* the byte before ended a line (SCAN_FIELDS) */
  bool blank;       /* a line that is empty so far: CR at its start */
  int8_t matched;   /* request line: bytes of "HTTP/" matched after a SP,
                       -1 when not matching */
  bool has_version; /* request line: " HTTP/" seen */
} head_scan;

typedef struct conn {
  /* Set when it opens, then read-only (also read by threads completing
   * its replies). */
  va_runtime *rt;
  va_loop *loop; /* its worker's */
  /* Its worker only. */
  va_dlink link;              /* in its shard's conns */
  va_http_reply *head, *tail; /* replies not yet written */
  unsigned queued;            /* replies in that queue */
  unsigned pending;           /* replies not yet done (<= queued) */
  bool dead;                  /* closed: freed once pending is 0 */
  va_loop_watcher watch;
  int fd;
  va_http_server *srv;
  shard *sh;
  http_parser parser;
  head_scan scan;
  uint64_t last_ms;  /* coarse: the last bytes read or written, or the
                        last late reply */
  uint64_t begin_ms; /* coarse: when the request being read began */
  bool in_request;   /* a request has begun and is not complete */
  /* The request being read. */
  char path[PATH_MAX_BYTES + 1]; /* its target; path and query once the
                                    head is read (end_target) */
  size_t path_len, header_bytes;
  const char *query; /* into path, or "" */
  bool in_value;     /* the parser is in a header's value */
  bool in_trailers;  /* the head is read: fields now are a chunked body's
                        trailers, counted against max_header but not kept */
  char *headers;     /* every header, "Name: value\r\n" lines */
  size_t headers_len, headers_cap;
  char *body;
  size_t body_len;
  bool method_known; /* the request line's method has been read */
  bool stop_reading; /* a request that closes the connection was read, or
                        the client half-closed: never read again */
  bool reading;      /* inside on_conn's read loop */
  uint32_t events;   /* what epoll watches for now */
  bool closing;      /* close once the output is written */
  bool linger;       /* ...gracefully (a request was refused midway) */
  bool lingering;    /* shut down for writing, dropping what comes */
  size_t lingered;   /* bytes dropped so far */
  uint64_t linger_ms;
  bool throttled; /* not read: too much output queued */
  /* What was read but not parsed while throttled (malloc'd; NULL when
   * none). */
  char *in;
  size_t in_len;
  /* Answers waiting to be written. */
  char *out;
  size_t out_len, out_off, out_cap;
  stream *stream; /* the stream being written, or NULL */
} conn;

/* ---- Responses ---- */

static int out_reserve(conn *c, size_t more) {
  return va__http_grow(&c->out, &c->out_cap, c->out_len + more, 4096);
}

/* Appends what fits in the room reserved (the sizes below are bounded). */
static void out_printf(conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void out_printf(conn *c, const char *fmt, ...) {
  size_t room = c->out_cap - c->out_len;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(c->out + c->out_len, room, fmt, ap);
  va_end(ap);
  if (n > 0 && (size_t)n < room)
    c->out_len += (size_t)n;
}

static void out_put(conn *c, const void *data, size_t len) {
  if (len)
    memcpy(c->out + c->out_len, data, len);
  c->out_len += len;
}

/* Queues the response to the request just read; the bytes of its body. */
/* Reserves room for an answer's head and body (its status line and
 * Content-Length or Connection lines <= 128 bytes) and queues its status
 * line, Content-Type and headers; false (the connection closing) when out
 * of memory. */
static bool queue_head(conn *c, const va_http_response *res, const char *type,
                       size_t body) {
  size_t need = 128 + (type ? strlen(type) + 16 : 0) + res->headers_len + body;
  if (out_reserve(c, need) != 0) {
    c->closing = true;
    return false;
  }
  out_printf(c, "HTTP/1.1 %d %s\r\n", res->status,
             va__http_reason(res->status));
  if (type)
    out_printf(c, "Content-Type: %s\r\n", type);
  out_put(c, res->headers, res->headers_len);
  return true;
}

static size_t queue_response(conn *c, const va_http_response *res, bool keep) {
  bool bodyless = res->status == 204 || res->status == 304 ||
                  (res->status >= 100 && res->status < 200);
  size_t body = bodyless ? 0 : res->len;
  if (!queue_head(c, res, bodyless ? NULL : res->content_type, body))
    return 0;
  out_printf(c, "Content-Length: %zu\r\n%s\r\n", body,
             keep ? "" : "Connection: close\r\n");
  out_put(c, res->body, body);
  return body;
}

/* Queues a stream's head and the body written so far; the bytes of the
 * body. */
static size_t queue_stream_head(conn *c, const va_http_response *res) {
  if (!queue_head(c, res, res->content_type, res->len))
    return 0;
  out_printf(c, "Cache-Control: no-store\r\nConnection: close\r\n\r\n");
  out_put(c, res->body, res->len);
  return res->len;
}

/* ---- Scanning a request's head ---- */

/* What http-parser, built lenient, lets through and RFC 9112 refuses: a
 * bare LF as a line's end (§2.2), a bare CR, and a field line that begins
 * with white space (obsolete line folding, §5.2). Empty lines before the
 * request line are skipped (§2.2). Also notes whether the request line
 * names a version (" HTTP/"), which http-parser does not tell. */

static const char *scan_request_line(head_scan *s, unsigned char ch) {
  if (ch == '\n') {
    if (!s->after_cr)
      return "a line ends with a bare LF";
    s->state = SCAN_FIELDS;
    s->line_start = true;
    s->after_cr = false;
    return NULL;
  }
  if (s->after_cr)
    return "a CR not followed by LF";
  s->after_cr = ch == '\r';
  if (ch == ' ')
    s->matched = 0;
  else if (s->matched >= 0 && s->matched < 5)
    s->matched = "HTTP/"[s->matched] == ch ? s->matched + 1 : -1;
  if (s->matched == 5)
    s->has_version = true;
  return NULL;
}

/* Scans the field lines in p (n bytes) from *i, to their end (the empty
 * line, then SCAN_BODY) or to n. The lines are found with memchr. */
static const char *scan_fields(head_scan *s, const char *p, size_t n,
                               size_t *i) {
  while (*i < n) {
    unsigned char ch = (unsigned char)p[*i];
    if (s->blank) { /* CR at a line's start: the head's end, if LF */
      if (ch != '\n')
        return "a CR not followed by LF";
      s->state = SCAN_BODY;
      (*i)++;
      return NULL;
    }
    if (s->line_start) {
      s->line_start = false;
      if (ch == ' ' || ch == '\t')
        return "a header line is folded (obsolete line folding)";
      if (ch == '\n')
        return "a line ends with a bare LF";
      if (ch == '\r') {
        s->blank = true;
        (*i)++;
        continue;
      }
    }
    const char *lf = memchr(p + *i, '\n', n - *i);
    if (!lf) {
      s->after_cr = p[n - 1] == '\r';
      *i = n;
      return NULL;
    }
    size_t at = (size_t)(lf - p);
    if (!(at > *i ? p[at - 1] == '\r' : s->after_cr))
      return "a line ends with a bare LF";
    s->after_cr = false;
    s->line_start = true;
    *i = at + 1;
  }
  return NULL;
}

/* Scans p (n > 0 bytes) of a request's head: *used is how many belong to
 * it (all, or up to its end). NULL, or what is wrong (a 400). */
static const char *scan_head(head_scan *s, const char *p, size_t n,
                             size_t *used) {
  size_t i = 0;
  const char *bad = NULL;
  while (i < n && !bad && s->state != SCAN_BODY) {
    unsigned char ch = (unsigned char)p[i];
    if (s->state == SCAN_FIELDS) {
      bad = scan_fields(s, p, n, &i);
      continue;
    }
    if (s->state == SCAN_START && ch != '\r' && ch != '\n') {
      if (s->after_cr)
        return "a CR not followed by LF";
      s->state = SCAN_REQUEST_LINE;
      s->matched = -1;
      continue;
    }
    if (s->state == SCAN_START) { /* an empty line before the request */
      if (ch == '\n' && !s->after_cr)
        return "a line ends with a bare LF";
      s->after_cr = ch == '\r';
    } else {
      bad = scan_request_line(s, ch);
    }
    i++;
  }
  *used = i;
  return bad;
}

/* ---- Parsing ---- */

static void answer_and_close(conn *c, int status, const char *code,
                             const char *message);

/* Answers a request refused midway (after the answers before it), reads no
 * more; what a parser callback returns to stop the parse. */
static int refuse_now(conn *c, int status, const char *code,
                      const char *message) {
  answer_and_close(c, status, code, message);
  return -1;
}

static int on_begin(http_parser *p) {
  conn *c = p->data;
  c->in_request = true;
  c->begin_ms = c->last_ms; /* this read's (or parse_kept's) */
  c->path_len = c->header_bytes = c->body_len = 0;
  c->in_value = c->in_trailers = false;
  c->headers_len = 0;
  c->query = "";
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  c->method_known = true;
  if (c->path_len + len > PATH_MAX_BYTES)
    return refuse_now(c, 414, "ERR_URI_TOO_LONG", "request target too long");
  memcpy(c->path + c->path_len, at, len);
  c->path_len += len;
  return 0;
}

/* Counts header bytes against max_header: 0, or -1 after answering 431. */
static int count_header(conn *c, size_t len) {
  c->header_bytes += len;
  if (c->header_bytes <= c->srv->opts.max_header)
    return 0;
  return refuse_now(c, 431, "ERR_HEADERS_TOO_LARGE",
                    "request headers too large");
}

/* Appends to the request's header block (bounded by max_header, which
 * count_header enforces first, plus 4 bytes of punctuation a header). 0,
 * or -1 after answering 503 (out of memory). */
static int add_header_bytes(conn *c, const char *at, size_t len) {
  if (va__http_grow(&c->headers, &c->headers_cap, c->headers_len + len + 1,
                    512) != 0)
    return refuse_now(c, 503, "ERR_NO_MEMORY", "out of memory");
  memcpy(c->headers + c->headers_len, at, len);
  c->headers_len += len;
  c->headers[c->headers_len] = 0;
  return 0;
}

/* The header block is kept as "Name: value\r\n" lines, for handlers to
 * read (va_http_request_header); the server itself reads none of it. */
static int on_field(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (count_header(c, len) != 0)
    return -1;
  if (c->in_trailers)
    return 0;
  /* http-parser takes a space in a name, or before the colon (§5.1). */
  if (memchr(at, ' ', len))
    return refuse_now(c, 400, "ERR_MALFORMED_REQUEST",
                      "white space in a header's name or before its colon");
  if (c->in_value && add_header_bytes(c, "\r\n", 2) != 0)
    return -1;
  c->in_value = false;
  return add_header_bytes(c, at, len);
}

static int on_value(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (count_header(c, len) != 0)
    return -1;
  if (c->in_trailers)
    return 0;
  if (!c->in_value && add_header_bytes(c, ": ", 2) != 0)
    return -1;
  c->in_value = true;
  return add_header_bytes(c, at, len);
}

/* The request as handlers see it (body "" until it is read). */
static va_http_request request_of(const conn *c, const http_parser *p) {
  return (va_http_request){
      .method = http_method_str((enum http_method)p->method),
      .path = c->path,
      .path_len = strlen(c->path),
      .query = c->query,
      .body = c->body ? c->body : "",
      .body_len = c->body_len,
      .headers = c->headers ? c->headers : "",
      .headers_len = c->headers_len,
  };
}

/* The request target, read whole: splits it into path and query. */
static void end_target(conn *c) {
  c->path[c->path_len] = 0; /* path_len <= PATH_MAX_BYTES (on_url) */
  char *q = strchr(c->path, '?');
  if (q)
    *q++ = 0;
  c->query = q ? q : "";
}

static void close_with(conn *c, va_http_response *res);

/* Asks the authorize check about the request whose head was read: 0, or
 * -1 after answering its refusal. */
static int authorize(conn *c, const http_parser *p) {
  const va_http_options *o = &c->srv->opts;
  va_http_request head = request_of(c, p);
  head.body = ""; /* what a connection kept of an earlier one is not it */
  head.body_len = 0;
  va_http_response refusal = {.status = 401,
                              .content_type = "application/json"};
  if (o->authorize(o->authorize_ctx, &head, &refusal)) {
    va__http_response_free(&refusal);
    return 0;
  }
  if (!refusal.len)
    va_http_error(&refusal, refusal.status, "ERR_UNAUTHORIZED",
                  "the request is not authorized");
  close_with(c, &refusal);
  return -1;
}

static int on_headers(http_parser *p) {
  conn *c = p->data;
  if (c->in_value && add_header_bytes(c, "\r\n", 2) != 0)
    return -1;
  c->in_value = false;
  c->in_trailers = true;
  /* http-parser takes any one-digit version, and a request line without
   * one as HTTP/0.9. */
  if (p->http_major != 1 && !c->scan.has_version)
    return refuse_now(c, 400, "ERR_MALFORMED_REQUEST",
                      "the request line has no HTTP version");
  if (p->http_major != 1)
    return refuse_now(c, 505, "ERR_HTTP_VERSION_NOT_SUPPORTED",
                      "only HTTP/1.1 and HTTP/1.0 are served");
  /* No upgrade (nor CONNECT) is supported: the request is answered as an
   * HTTP/1.1 one, ignoring Upgrade (RFC 9110 §7.8 allows it). */
  p->upgrade = 0;
  if (p->content_length != ULLONG_MAX &&
      p->content_length > c->srv->opts.max_body)
    return refuse_now(c, 413, "ERR_BODY_TOO_LARGE", "request body too large");
  end_target(c);
  /* Decided on the head: a request refused is answered before its body is
   * read. */
  return c->srv->opts.authorize ? authorize(c, p) : 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (c->body_len + len > c->srv->opts.max_body) /* chunked */
    return refuse_now(c, 413, "ERR_BODY_TOO_LARGE", "request body too large");
  char *body = realloc(c->body, c->body_len + len);
  if (!body)
    return refuse_now(c, 503, "ERR_NO_MEMORY", "out of memory");
  memcpy(body + c->body_len, at, len);
  c->body = body;
  c->body_len += len;
  return 0;
}

static void write_ready(conn *c);

/* ---- Requests and replies ---- */

static bool is_space(char ch) {
  return ch == ' ' || ch == '\t';
}

const char *va_http_request_header(const va_http_request *req, const char *name,
                                   size_t *len) {
  *len = 0;
  if (!req->headers || !name)
    return NULL;
  size_t n = strlen(name);
  const char *p = req->headers, *end = req->headers + req->headers_len;
  while (p < end) {
    const char *eol = memchr(p, '\r', (size_t)(end - p));
    if (!eol)
      eol = end;
    if ((size_t)(eol - p) > n && p[n] == ':' && !strncasecmp(p, name, n)) {
      const char *v = p + n + 1, *v_end = eol;
      while (v < v_end && is_space(*v))
        v++;
      while (v_end > v && is_space(v_end[-1]))
        v_end--;
      *len = (size_t)(v_end - v);
      return v;
    }
    p = eol + 2; /* each line ends in CR LF (on_headers) */
  }
  return NULL;
}

va_http_response *va_http_res(va_http_reply *r) {
  return &r->res;
}

void va_http_label(va_http_reply *r, const char *route) {
  r->route = route;
}

void va_http_metrics(va_http_reply *r) {
  va_http_server *srv = r->c->srv;
  unsigned open = atomic_load_explicit(&srv->open, memory_order_relaxed);
  uint64_t lost = atomic_load_explicit(&handoffs_failed, memory_order_relaxed);
  if (va__http_stats_write(&r->res, srv->stats, srv->n, open, lost) != 0)
    va_http_error(&r->res, 500, "ERR_NO_MEMORY", "out of memory");
}

va_http_server *va_http_reply_server(const va_http_reply *r) {
  return r->c->srv;
}

int va_http_summarize(va_http_server *srv, va_http_summary *out) {
  unsigned open = atomic_load_explicit(&srv->open, memory_order_relaxed);
  return va__http_stats_summary(srv->stats, srv->n, open, out);
}

/* Ends stream st of a connection of srv (on that connection's worker). */
static void stream_end(va_http_server *srv, stream *st) {
  if (st->end)
    st->end(st->ctx);
  free(st);
  unsigned was =
      atomic_fetch_sub_explicit(&srv->streams, 1, memory_order_relaxed);
  VA_ASSERT(was > 0);
  (void)was;
}

int va_http_stream(va_http_reply *r, uint64_t every_ms, va_http_tick tick,
                   void (*end)(void *ctx), void *ctx) {
  conn *c = r->c;
  if (!tick || r->done || r->stream || va_loop_current(c->rt) != c->loop)
    return VA_ESTATE;
  stream *st = calloc(1, sizeof(*st));
  if (!st)
    return VA_ENOMEM;
  unsigned before =
      atomic_fetch_add_explicit(&c->srv->streams, 1, memory_order_relaxed);
  if (before >= VA_HTTP_STREAMS_MAX) {
    atomic_fetch_sub_explicit(&c->srv->streams, 1, memory_order_relaxed);
    free(st);
    return VA_EBACKPRESSURE;
  }
  *st = (stream){tick, end, ctx, every_ms, 0};
  r->stream = st;
  c->stop_reading = true; /* the stream is the connection's last answer */
  return 0;
}

/* Frees a closed connection and the replies it still holds. */
static void free_conn(conn *c) {
  free(c->in);
  for (va_http_reply *r = c->head, *next; r; r = next) {
    next = r->next;
    va__http_response_free(&r->res);
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
  r->method = c->method_known
                  ? http_method_str((enum http_method)c->parser.method)
                  : "-";
  r->parsed_ns = va_clock_ns();
  r->res =
      (va_http_response){.status = 200, .content_type = "application/json"};
  if (c->tail)
    c->tail->next = r;
  else
    c->head = r;
  c->tail = r;
  c->queued++;
  c->pending++;
  return r;
}

static void complete_here(va_http_reply *r) {
  conn *c = r->c;
  VA_ASSERT(!r->done); /* va_http_done once per reply */
  VA_ASSERT(c->pending > 0 && c->pending <= c->queued);
  r->done = true;
  c->pending--;
  if (c->dead) {
    if (!c->pending)
      free_conn(c);
    return;
  }
  if (!c->reading) /* a late reply: the connection is not idle till now */
    c->last_ms = va_clock_coarse_ms();
  write_ready(c);
}

static void complete_remote(void *ctx, va_loop *loop) {
  (void)loop;
  complete_here(ctx);
}

/* A reply completed on another thread could not be handed to its
 * connection's worker: it is logged, counted, and marked for the sweep of
 * that worker (recover_lost), which sends it. Touches only the reply, the
 * connection's read-only fields and the runtime: the server may be gone
 * (a connection closed by va_http_stop lives until its last reply). */
static void handoff_failed(va_http_reply *r, int rc) {
  conn *c = r->c;
  va_log(c->rt, VA_LOG_ERROR, "reply hand-off failed", "worker=%u error=%s",
         va_loop_index(c->loop), va_err_name(rc));
  /* Release: the sweep that sees the count sees the flag and the
   * response the handler wrote before va_http_done. */
  atomic_store_explicit(&r->lost, true, memory_order_release);
  atomic_fetch_add_explicit(&handoffs_failed, 1, memory_order_release);
}

void va_http_done(va_http_reply *r) {
  conn *c = r->c;
  if (va_loop_current(c->rt) == c->loop) {
    complete_here(r);
    return;
  }
  int rc = va_loop_run(c->rt, va_loop_index(c->loop), complete_remote, r);
  if (rc != 0)
    handoff_failed(r, rc);
}

static int on_complete(http_parser *p) {
  conn *c = p->data;
  c->in_request = false;
  c->scan = (head_scan){.state = SCAN_START}; /* the next request's head */
  bool keep = http_should_keep_alive(p);
  va_http_reply *r = new_reply(c, keep);
  c->method_known = false;
  if (!r)
    return -1;
  r->bytes_in = c->body_len;
  va_http_request req = request_of(c, p); /* target split on its head */
  c->srv->opts.handler(c->srv->opts.ctx, &req, r);
  /* After a request that closes the connection, read no further; else
   * stop here, so that the next request's head is scanned first. */
  if (!keep) {
    c->stop_reading = true;
    return -1;
  }
  http_parser_pause(p, 1);
  return 0;
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
  /* Streams end here, while the server is alive: the connection itself
   * may outlive it, waiting for its last reply. */
  if (c->stream)
    stream_end(c->srv, c->stream);
  c->stream = NULL;
  for (va_http_reply *r = c->head; r; r = r->next)
    if (r->stream) {
      stream_end(c->srv, r->stream);
      r->stream = NULL;
    }
  va_dlist_remove(&c->sh->conns, &c->link);
  int rc = va_loop_unwatch(c->loop, c->fd);
  VA_ASSERT(rc == 0); /* watched from open_conn until here */
  close(c->fd);
  unsigned was_open =
      atomic_fetch_sub_explicit(&c->srv->open, 1, memory_order_relaxed);
  VA_ASSERT(was_open > 0); /* admitted when it opened */
  free(c->body);
  free(c->out);
  free(c->headers);
  free(c->in);
  c->body = c->out = c->headers = c->in = NULL;
  c->dead = true;
  if (!c->pending) /* else the last reply to complete frees it */
    free_conn(c);
}

/* Changes what epoll watches for, with a system call only on a change
 * (one per response showed in the profile of H1). If that fails, the
 * connection could wait for an event it is not watched for: it is shut
 * down instead, which the loop reports as a hang-up (on_conn closes it). */
static void watch_for(conn *c, uint32_t events) {
  if (c->events == events)
    return;
  if (va_loop_rewatch(c->loop, c->fd, events, &c->watch) == 0) {
    c->events = events;
  } else {
    c->closing = true;
    shutdown(c->fd, SHUT_RDWR);
  }
}

static size_t out_waiting(const conn *c) {
  return c->out_len - c->out_off;
}

/* Too much queued: the connection is not read until it drains. */
static bool over_high(const conn *c) {
  return c->queued >= QUEUE_HIGH || out_waiting(c) >= OUT_HIGH;
}

/* Input is parsed (and the socket read) now, or once c drains. */
static bool wants_input(const conn *c) {
  return !c->stop_reading && !c->closing;
}

/* Watches for what c waits for: input while it is read (never after the
 * client half-closed); output while some waits; and output also when
 * input kept while throttled may be parsed again (a socket with room is
 * writable at once, so on_conn runs to parse it). Errors and hang-ups are
 * reported whatever is watched. */
static void watch_wanted(conn *c) {
  uint32_t events = 0;
  if (c->lingering) {
    events = EPOLLIN | EPOLLRDHUP;
  } else {
    if (wants_input(c) && !c->throttled)
      events |= EPOLLIN | EPOLLRDHUP;
    if (c->stream) /* the client's end is the stream's */
      events |= EPOLLRDHUP;
    if (out_waiting(c) || (wants_input(c) && !c->throttled && c->in))
      events |= EPOLLOUT;
  }
  watch_for(c, events);
}

/* Closes c gracefully, once its answers are written: shut down for
 * writing (the client reads the answer, then the end), then read and drop
 * what the client still sends until it closes too, LINGER_BYTES were
 * dropped or LINGER_MS passed (the sweep). Closing at once, with unread
 * input, would send a reset that can destroy the answer in flight. */
static void start_linger(conn *c) {
  shutdown(c->fd, SHUT_WR);
  c->lingering = true;
  c->linger_ms = va_clock_coarse_ms();
  watch_wanted(c);
}

static void linger_read(conn *c) {
  char sink[16384];
  for (int i = 0; i < 4; i++) { /* then the other connections' turn */
    ssize_t n = read(c->fd, sink, sizeof(sink));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (n <= 0 || (c->lingered += (size_t)n) >= LINGER_BYTES) {
      conn_close(c);
      return;
    }
  }
}

/* Writes what is queued; false when the connection is closed or closing
 * gracefully (nothing more to serve). Only bytes written count as
 * activity. */
static bool flush(conn *c) {
  if (c->lingering)
    return false; /* shut down for writing: nothing more is written */
  bool wrote = false;
  while (c->out_off < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n > 0) {
      c->out_off += (size_t)n;
      wrote = true;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      conn_close(c);
      return false;
    }
  }
  if (wrote)
    c->last_ms = va_clock_coarse_ms();
  if (c->out_off == c->out_len) {
    c->out_off = c->out_len = 0;
    if (c->out_cap > OUT_HIGH) { /* a big answer: not kept while idle */
      free(c->out);
      c->out = NULL;
      c->out_cap = 0;
    }
    if (c->closing && c->linger) {
      start_linger(c);
      return false;
    }
    if (c->closing) {
      conn_close(c);
      return false;
    }
  }
  if (c->throttled && c->queued <= QUEUE_LOW && out_waiting(c) <= OUT_LOW)
    c->throttled = false;
  watch_wanted(c);
  return true;
}

/* Logs a 5xx answer (whether or not the access log is on). */
static void log_server_error(conn *c, const va_http_reply *r,
                             const char *route) {
  static const char key[] = "\"errorCode\":\"";
  const va_http_response *res = &r->res;
  size_t window = res->len < 256 ? res->len : 256;
  const char *at =
      res->body ? memmem(res->body, window, key, sizeof(key) - 1) : NULL;
  const char *code = "", *end = NULL;
  if (at) {
    code = at + sizeof(key) - 1;
    end = memchr(code, '"', (size_t)(res->body + window - code));
  }
  char quoted[160];
  va_log_quote(code, end ? (size_t)(end - code) : 0, quoted, sizeof(quoted));
  va_log(c->srv->rt, res->status == 503 ? VA_LOG_WARN : VA_LOG_ERROR,
         "server error", "method=%s route=%s status=%d errorCode=%s", r->method,
         route, res->status, quoted);
}

/* Hands the access log's lines to the callback. */
static void access_flush(shard *sh) {
  if (sh->access_len)
    sh->srv->opts.access_log(sh->srv->opts.access_log_user, sh->access,
                             sh->access_len);
  sh->access_len = 0;
}

static char *put_text(char *p, const char *s, size_t n) {
  memcpy(p, s, n);
  return p + n;
}

#define PUT_LITERAL(p, s) put_text(p, s, sizeof(s) - 1)

static char *put_uint(char *p, uint64_t v) {
  char digits[20];
  size_t n = 0;
  do
    digits[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n)
    *p++ = digits[--n];
  return p;
}

/* Appends one access log line (logfmt). Formatted by hand, with the
 * second's text cached: a coarse clock read and some copies per request.
 * Every value is the server's own (method names and route labels are
 * static), so nothing needs quoting. */
static void access_line(shard *sh, const va_http_reply *r, const char *route,
                        size_t bytes_out, uint64_t ns) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  if (now.tv_sec != sh->access_sec || !sh->access_ts[0]) {
    struct tm tm;
    sh->access_sec = now.tv_sec;
    strftime(sh->access_ts, sizeof(sh->access_ts), "%Y-%m-%dT%H:%M:%SZ",
             gmtime_r(&now.tv_sec, &tm));
  }
  size_t route_len = strnlen(route, ROUTE_LOGGED_MAX);
  char *p = sh->access + sh->access_len;
  p = PUT_LITERAL(p, "ts=");
  p = put_text(p, sh->access_ts, strlen(sh->access_ts));
  p = PUT_LITERAL(p, " level=info msg=\"request\" method=");
  p = put_text(p, r->method, strnlen(r->method, 16));
  p = PUT_LITERAL(p, " route=");
  p = put_text(p, route, route_len);
  p = PUT_LITERAL(p, " status=");
  p = put_uint(p, (uint64_t)(unsigned)r->res.status);
  p = PUT_LITERAL(p, " duration_us=");
  p = put_uint(p, ns / 1000);
  p = PUT_LITERAL(p, " bytes_in=");
  p = put_uint(p, r->bytes_in);
  p = PUT_LITERAL(p, " bytes_out=");
  p = put_uint(p, bytes_out);
  *p++ = '\n';
  sh->access_len = (size_t)(p - sh->access);
  if (sh->access_len >= ACCESS_LOG_FLUSH)
    access_flush(sh);
}

/* Moves the replies that are done, in order, into the output, counting
 * each in the worker's metrics (and its access log; a 5xx in the log);
 * writes. */
static void write_ready(conn *c) {
  uint64_t now_ns = 0;
  while (c->head && c->head->done) {
    va_http_reply *r = c->head;
    c->head = r->next;
    if (!c->head)
      c->tail = NULL;
    VA_ASSERT(c->queued > c->pending); /* r is queued and done */
    c->queued--;
    if (!now_ns)
      now_ns = va_clock_ns();
    const char *route = r->route ? r->route : "unmatched";
    uint64_t ns = now_ns > r->parsed_ns ? now_ns - r->parsed_ns : 0;
    va__http_stats_request(c->sh->stats, route, r->res.status, ns);
    size_t body;
    if (r->stream && !c->stream && !c->closing && r->res.status < 300) {
      body = queue_stream_head(c, &r->res);
      c->stream = r->stream; /* now the connection's */
      r->stream = NULL;
      c->stream->last_ms = va_clock_coarse_ms();
      c->stop_reading = true;
      r->keep = true; /* closed by the stream's end, not now */
    } else {
      body = queue_response(c, &r->res, r->keep);
    }
    if (r->res.status >= 500)
      log_server_error(c, r, route);
    if (c->sh->access)
      access_line(c->sh, r, route, body, ns);
    if (!r->keep)
      c->closing = true;
    if (r->stream) /* refused, or behind an answer that closes */
      stream_end(c->srv, r->stream);
    va__http_response_free(&r->res);
    free(r);
  }
  if (c->stop_reading && !c->head && !c->pending && !c->stream)
    c->closing = true; /* everything asked is answered */
  if (!c->reading)
    flush(c);
}

/* Answers the request being read with res (moved into its reply: the
 * caller's copy is no longer its own) after the answers before it, reads
 * no more and closes gracefully. */
static void close_with(conn *c, va_http_response *res) {
  c->in_request = false;
  c->stop_reading = true;
  c->linger = true;
  va_http_reply *r = new_reply(c, false);
  if (!r) {
    va__http_response_free(res);
    c->closing = true;
    return;
  }
  r->res = *res;
  complete_here(r);
}

static void answer_and_close(conn *c, int status, const char *code,
                             const char *message) {
  va_http_response res = {0};
  va_http_error(&res, status, code, message);
  close_with(c, &res);
}

/* Answers a request that http-parser could not parse. */
static void malformed(conn *c) {
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (e == HPE_HEADER_OVERFLOW) /* its own bound, 80 KiB */
    answer_and_close(c, 431, "ERR_HEADERS_TOO_LARGE",
                     "request headers too large");
  else
    answer_and_close(c, 400, "ERR_MALFORMED_REQUEST",
                     e == HPE_OK ? "the request could not be parsed"
                                 : http_errno_description(e));
}

/* Keeps what could not be parsed yet (the connection is throttled). */
static void keep_input(conn *c, const char *data, size_t len) {
  c->throttled = true;
  if (!(c->in = malloc(len))) {
    c->closing = true;
    return;
  }
  memcpy(c->in, data, len);
  c->in_len = len;
}

/* Parses data: each request's head is scanned first, then handed to
 * http-parser, which pauses at each request's end. Stops when the
 * connection is refused or closing; keeps the rest when too much is
 * queued. */
static void parse(conn *c, const char *data, size_t len) {
  size_t off = 0;
  while (off < len && wants_input(c)) {
    if (over_high(c)) {
      keep_input(c, data + off, len - off);
      return;
    }
    size_t chunk = len - off;
    if (c->scan.state != SCAN_BODY) {
      const char *bad = scan_head(&c->scan, data + off, chunk, &chunk);
      if (bad) {
        answer_and_close(c, 400, "ERR_MALFORMED_REQUEST", bad);
        return;
      }
    }
    size_t used = http_parser_execute(&c->parser, &settings, data + off, chunk);
    if (!wants_input(c))
      return; /* refused (answered), or a request that closes */
    if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED) {
      http_parser_pause(&c->parser, 0);
    } else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || used != chunk) {
      malformed(c);
      return;
    }
    off += used;
  }
}

/* Parses what was kept while c was throttled. The input is taken as read
 * now: a request that begins in it is timed from now, not from the read
 * that kept it (which may be older than the request timeout). */
static void parse_kept(conn *c) {
  c->last_ms = va_clock_coarse_ms();
  char *in = c->in;
  size_t len = c->in_len;
  c->in = NULL;
  c->in_len = 0;
  parse(c, in, len);
  free(in);
}

/* Reads and parses until the socket is drained, the connection is
 * throttled, refused or closing, or the client half-closed (then it is
 * never watched for input again; its answers are still written). */
static void read_input(conn *c) {
  char buf[16384];
  while (wants_input(c) && !c->throttled) {
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n <= 0) { /* the peer is done (answer what was asked), or failed */
      c->stop_reading = true;
      c->closing |= n < 0;
      break;
    }
    c->last_ms = va_clock_coarse_ms(); /* the timeouts' only cost per read */
    parse(c, buf, (size_t)n);
    /* A short read drained the socket: no second read just to hear EAGAIN
     * (epoll is level-triggered and reports what comes later). */
    if ((size_t)n < sizeof(buf))
      break;
  }
}

static void on_conn(void *ctx, uint32_t events) {
  conn *c = ctx;
  if (events & (EPOLLERR | EPOLLHUP) || (c->stream && events & EPOLLRDHUP)) {
    conn_close(c);
    return;
  }
  if (c->lingering) {
    linger_read(c);
    return;
  }
  if (events & EPOLLOUT && !flush(c))
    return;
  c->reading = true; /* answers made meanwhile leave in one write, below */
  if (c->in && !c->throttled && wants_input(c))
    parse_kept(c);
  if (events & (EPOLLIN | EPOLLRDHUP))
    read_input(c);
  c->reading = false;
  write_ready(c);
}

/* ---- Limits and timeouts ---- */

/* Takes a place among max_connections, or false. */
static bool admit(va_http_server *srv) {
  unsigned before =
      atomic_fetch_add_explicit(&srv->open, 1, memory_order_relaxed);
  if (before < srv->opts.max_connections)
    return true;
  atomic_fetch_sub_explicit(&srv->open, 1, memory_order_relaxed);
  return false;
}

/* Answers a connection over the limit with the 503 and closes it. What the
 * client sent already is read first, so that the close is a FIN and not a
 * reset that could destroy the answer; a new socket's buffer takes the
 * 503 whole, else the connection is just closed. */
static void refuse(shard *sh, int fd) {
  char sink[4096];
  ssize_t n = read(fd, sink, sizeof(sink));
  n = write(fd, sh->srv->refusal, sh->srv->refusal_len);
  (void)n; /* closed either way */
  shutdown(fd, SHUT_WR);
  close(fd);
  va_count(sh->stats->refused, 1);
  va_log(sh->srv->rt, VA_LOG_WARN, "server error",
         "method=- route=- status=503 errorCode=ERR_TOO_MANY_CONNECTIONS");
}

/* A request begun request_timeout_ms ago is not complete: answer 408 (after
 * the answers before it) and close. */
static void request_timeout(conn *c) {
  va_count(c->sh->stats->request_timeouts, 1);
  answer_and_close(c, 408, "ERR_REQUEST_TIMEOUT",
                   "the request was not complete in time");
}

/* Asks c's stream for its next part and writes it; c may be closed on
 * return. */
static void stream_tick(conn *c, uint64_t now) {
  stream *st = c->stream;
  va_http_response part = {0};
  bool go = st->tick(st->ctx, &part);
  st->last_ms = now;
  if (part.len && out_reserve(c, part.len) == 0)
    out_put(c, part.body, part.len);
  else if (part.len)
    go = false; /* out of memory: the stream ends */
  va__http_response_free(&part);
  if (!go)
    c->closing = true;
  flush(c);
}

/* Closes c if it has idled or dawdled too long. A request begun and not
 * complete after request_timeout_ms gets its 408 (unless the server
 * stopped reading it: throttled). A connection whose answers wait to be
 * written and that neither read nor wrote a byte for idle_timeout_ms is
 * closed: a client that does not read its answers, also one that half
 * closed. Otherwise a connection waiting for replies, or in a request, is
 * never idle; one that did nothing for idle_timeout_ms is closed. */
static void sweep_conn(conn *c, uint64_t now) {
  const va_http_options *o = &c->srv->opts;
  if (c->lingering) {
    if (now - c->linger_ms >= LINGER_MS)
      conn_close(c);
    return;
  }
  /* Within TICK_SLACK_MS of its time: the sweep's own period jitters. */
  stream *st = c->stream;
  if (st && !c->closing && !out_waiting(c) &&
      now - st->last_ms + TICK_SLACK_MS >= st->every_ms) {
    stream_tick(c, now);
    return;
  }
  bool in_request = c->in_request && wants_input(c) && !c->throttled;
  if (in_request && now - c->begin_ms >= o->request_timeout_ms) {
    request_timeout(c);
    return;
  }
  if (!out_waiting(c) && (c->pending || in_request || c->throttled))
    return;
  if (now - c->last_ms < o->idle_timeout_ms)
    return;
  va_count(c->sh->stats->idle_timeouts, 1);
  conn_close(c);
}

/* Completes c's replies whose hand-off failed (handoff_failed): each is
 * sent as it was written, and the connection closes after it. c may be
 * closed on return. */
static void recover_conn(conn *c) {
  bool found = false;
  for (va_http_reply *r = c->head; r; r = r->next) {
    /* Acquire: pairs with handoff_failed's release. */
    if (r->done || !atomic_load_explicit(&r->lost, memory_order_acquire))
      continue;
    r->done = true;
    r->keep = false;
    VA_ASSERT(c->pending > 0); /* r was not done */
    c->pending--;
    found = true;
  }
  if (found) {
    c->last_ms = va_clock_coarse_ms();
    write_ready(c);
  }
}

/* When some hand-off failed since the last look (in any server: rare),
 * looks for the replies of this worker's connections it concerns. Those of
 * a connection closed meanwhile are not looked for: it stays allocated. */
static void recover_lost(shard *sh) {
  uint64_t failed =
      atomic_load_explicit(&handoffs_failed, memory_order_acquire);
  if (failed == sh->handoffs_seen)
    return;
  sh->handoffs_seen = failed;
  for (va_dlink *l = sh->conns.head, *next; l; l = next) {
    next = l->next; /* c may be closed */
    recover_conn(VA_CONTAINER_OF(l, conn, link));
  }
}

static void on_sweep(void *ctx, uint32_t events) {
  (void)events;
  shard *sh = ctx;
  uint64_t expirations;
  ssize_t n = read(sh->sweeper, &expirations, sizeof(expirations));
  (void)n; /* EAGAIN: nothing new; the sweep is harmless anyway */
  if (sh->paused && va_loop_rewatch(sh->loop, sh->listener, VA_LOOP_READABLE,
                                    &sh->accept_watch) == 0)
    sh->paused = false;
  recover_lost(sh);
  uint64_t now = va_clock_coarse_ms();
  for (va_dlink *l = sh->conns.head, *next; l; l = next) {
    next = l->next; /* c may be closed */
    sweep_conn(VA_CONTAINER_OF(l, conn, link), now);
  }
  if (sh->access)
    access_flush(sh); /* at least once a second */
}

/* ---- Accepting ---- */

/* Serves fd on sh's worker. 0, or an error (fd is then the caller's). */
static int open_conn(shard *sh, int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  conn *c = calloc(1, sizeof(*c));
  if (!c)
    return VA_ENOMEM;
  c->fd = fd;
  c->rt = sh->srv->rt;
  c->loop = sh->loop;
  c->srv = sh->srv;
  c->sh = sh;
  c->last_ms = va_clock_coarse_ms();
  c->watch = (va_loop_watcher){.fn = on_conn, .ctx = c};
  c->events = EPOLLIN | EPOLLRDHUP;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  int rc = va_loop_watch(sh->loop, fd, c->events, &c->watch);
  if (rc != 0) {
    free(c);
    return rc;
  }
  va_dlist_append(&sh->conns, &c->link);
  va_count(sh->stats->conns_total, 1);
  return 0;
}

static void on_accept(void *ctx, uint32_t events) {
  (void)events;
  shard *sh = ctx;
  for (;;) {
    int fd = accept4(sh->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                   errno == ENOMEM)) {
      /* The listener would stay ready and spin the loop: pause accepting
       * until the next sweep; the kernel's backlog holds the clients. */
      if (va_loop_rewatch(sh->loop, sh->listener, 0, &sh->accept_watch) == 0)
        sh->paused = true;
      return;
    }
    if (fd < 0)
      return; /* EAGAIN: all taken */
    int rc = 0;
    if (!admit(sh->srv)) {
      refuse(sh, fd);
    } else if ((rc = open_conn(sh, fd)) != 0) {
      atomic_fetch_sub_explicit(&sh->srv->open, 1, memory_order_relaxed);
      close(fd);
      va_log(sh->srv->rt, VA_LOG_WARN, "cannot serve a connection", "error=%s",
             va_err_name(rc));
    }
  }
}

/* ---- Listeners ---- */

/* Logs a system call of va_http_start that failed, with errno's text. */
static void log_failure(const va_http_server *srv, const char *msg, int err) {
  char quoted[160];
  const char *text = strerror(err);
  va_log_quote(text, strlen(text), quoted, sizeof(quoted));
  va_log(srv->rt, VA_LOG_ERROR, msg, "addr=%s:%u error=%s", srv->opts.host,
         (unsigned)srv->opts.port, quoted);
}

static int listen_socket(const va_http_server *srv) {
  const va_http_options *o = &srv->opts;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(o->port)};
  if (inet_pton(AF_INET, o->host, &addr.sin_addr) != 1) {
    log_failure(srv, "cannot listen: not a numeric IPv4 address", EINVAL);
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    log_failure(srv, "cannot open a socket", errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  const char *failed = NULL;
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
    failed = "cannot bind";
  else if (listen(fd, 4096) != 0)
    failed = "cannot listen";
  if (failed) {
    log_failure(srv, failed, errno);
    close(fd);
    return -1;
  }
  return fd;
}

/* The sweep's timer, firing every period_ms. */
static int sweep_timer(const va_http_server *srv) {
  uint64_t period_ms = srv->sweep_ms;
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct timespec every = {.tv_sec = (time_t)(period_ms / 1000),
                           .tv_nsec = (long)(period_ms % 1000) * 1000000};
  struct itimerspec spec = {.it_interval = every, .it_value = every};
  if (fd < 0) {
    log_failure(srv, "cannot make the sweep's timer", errno);
  } else if (timerfd_settime(fd, 0, &spec, NULL) != 0) {
    log_failure(srv, "cannot set the sweep's timer", errno);
    close(fd);
    return -1;
  }
  return fd;
}

/* On sh's worker: watches its sweep timer and its listener. */
static void start_on_worker(void *ctx, va_loop *loop) {
  shard *sh = ctx;
  sh->loop = loop;
  sh->accept_watch = (va_loop_watcher){.fn = on_accept, .ctx = sh};
  sh->sweep_watch = (va_loop_watcher){.fn = on_sweep, .ctx = sh};
  int rc = va_loop_watch(loop, sh->sweeper, VA_LOOP_READABLE, &sh->sweep_watch);
  sh->watching_sweeper = rc == 0;
  if (rc == 0)
    rc = va_loop_watch(loop, sh->listener, VA_LOOP_READABLE, &sh->accept_watch);
  sh->watching_listener = sh->watching_sweeper && rc == 0;
  if (rc != 0) {
    /* errno's text only when a system call failed under it. */
    if (rc == VA_ESYS)
      log_failure(sh->srv, "cannot watch the listener (epoll)", errno);
    else
      va_log(sh->srv->rt, VA_LOG_ERROR, "cannot watch the listener",
             "addr=%s:%u error=\"%s\"", sh->srv->opts.host,
             (unsigned)sh->srv->opts.port, va_strerror(rc));
    sh->start_rc = rc;
  }
  /* Release: the thread of va_http_start reads start_rc after. */
  atomic_fetch_add_explicit(&sh->srv->acks, 1, memory_order_release);
}

/* Closes a shard's sockets: on its worker once it was started there, else
 * on the thread of va_http_start. */
static void close_sockets(shard *sh) {
  if (sh->watching_listener) {
    int rc = va_loop_unwatch(sh->loop, sh->listener);
    VA_ASSERT(rc == 0); /* watched by start_on_worker */
  }
  if (sh->watching_sweeper) {
    int rc = va_loop_unwatch(sh->loop, sh->sweeper);
    VA_ASSERT(rc == 0);
  }
  sh->watching_listener = sh->watching_sweeper = false;
  if (sh->listener >= 0)
    close(sh->listener);
  if (sh->sweeper >= 0)
    close(sh->sweeper);
  sh->listener = sh->sweeper = -1;
}

/* On sh's worker: closes its sockets and its connections. */
static void stop_on_worker(void *ctx, va_loop *loop) {
  (void)loop;
  shard *sh = ctx;
  close_sockets(sh);
  /* Requests are answered as they are read: what is open is idle. */
  while (sh->conns.head)
    conn_close(VA_CONTAINER_OF(sh->conns.head, conn, link));
  if (sh->access)
    access_flush(sh);
  atomic_fetch_add_explicit(&sh->srv->acks, 1, memory_order_release);
}

/* Posts fn for shard i's worker, asking again for a while when there is no
 * memory for the post. 0 or the post's error (fn then never runs). */
static int post(va_http_server *srv, unsigned i, va_loop_fn fn) {
  int rc = VA_ENOMEM;
  for (int tries = 0; rc == VA_ENOMEM && tries < POST_TRIES; tries++) {
    if (tries)
      usleep(1000);
    rc = va_loop_run(srv->rt, i, fn, &srv->shards[i]);
  }
  return rc;
}

/* Waits until n posted functions have run. They all do, soon: a worker
 * runs what is posted to it between turns, and a runtime that stops first
 * waits for them (va_loop_run). */
static void wait_acks(va_http_server *srv, unsigned n) {
  while (atomic_load_explicit(&srv->acks, memory_order_acquire) < n)
    usleep(1000);
}

/* Stops the shards started, and closes the sockets of the others. 0, or
 * the error of a worker that could not be reached: srv must then be left
 * allocated (that shard's worker may still use it). */
static int stop_shards(va_http_server *srv) {
  unsigned expected = atomic_load_explicit(&srv->acks, memory_order_acquire);
  int failed = 0;
  for (unsigned i = 0; i < srv->n; i++) {
    shard *sh = &srv->shards[i];
    if (!sh->posted) {
      close_sockets(sh);
      continue;
    }
    int rc = post(srv, i, stop_on_worker);
    if (rc == 0) {
      expected++;
    } else {
      failed = failed ? failed : rc;
      va_log(srv->rt, VA_LOG_ERROR, "cannot stop the server on a worker",
             "worker=%u error=%s", i, va_err_name(rc));
    }
  }
  wait_acks(srv, expected);
  return failed;
}

/* Frees srv and what it holds (its sockets are closed already). */
static void server_free(va_http_server *srv) {
  for (unsigned i = 0; srv->stats && i < srv->n; i++)
    free(srv->stats[i]);
  for (unsigned i = 0; srv->shards && i < srv->n; i++)
    free(srv->shards[i].access);
  free(srv->stats);
  free(srv->shards);
  free(srv);
}

/* The options with their defaults (VA_HTTP_DEFAULT_*) filled in. */
static void set_options(va_http_server *srv, const va_http_options *opts) {
  srv->opts = *opts;
  va_http_options *o = &srv->opts;
  if (!o->max_header)
    o->max_header = VA_HTTP_DEFAULT_MAX_HEADER;
  if (!o->max_body)
    o->max_body = VA_HTTP_DEFAULT_MAX_BODY;
  if (!o->max_connections)
    o->max_connections = VA_HTTP_DEFAULT_MAX_CONNECTIONS;
  if (!o->idle_timeout_ms)
    o->idle_timeout_ms = VA_HTTP_DEFAULT_IDLE_TIMEOUT_MS;
  if (!o->request_timeout_ms)
    o->request_timeout_ms = VA_HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
  /* A quarter of the shorter timeout, so a timeout is late by at most a
   * quarter; within [SWEEP_MIN_MS, SWEEP_MAX_MS]. */
  uint64_t t = o->idle_timeout_ms < o->request_timeout_ms
                   ? o->idle_timeout_ms
                   : o->request_timeout_ms;
  srv->sweep_ms = t / 4 < SWEEP_MIN_MS   ? SWEEP_MIN_MS
                  : t / 4 > SWEEP_MAX_MS ? SWEEP_MAX_MS
                                         : t / 4;
  static const char body[] = "{\"errorCode\":\"ERR_TOO_MANY_CONNECTIONS\","
                             "\"message\":\"too many open connections; "
                             "retry\"}";
  srv->refusal_len = (size_t)snprintf(
      srv->refusal, sizeof(srv->refusal),
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Retry-After: 1\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
      sizeof(body) - 1, body);
}

/* Allocates srv's per-worker parts, sockets not yet open. 0 or VA_ENOMEM. */
static int make_shards(va_http_server *srv) {
  size_t size = srv->n * sizeof(shard); /* a multiple of 64 (alignas) */
  srv->shards = aligned_alloc(64, size);
  if (srv->shards)
    memset(srv->shards, 0, size);
  srv->stats = calloc(srv->n, sizeof(*srv->stats));
  if (!srv->shards || !srv->stats)
    return VA_ENOMEM;
  for (unsigned i = 0; i < srv->n; i++) {
    shard *sh = &srv->shards[i];
    sh->srv = srv;
    sh->listener = sh->sweeper = -1;
    if (!(sh->stats = srv->stats[i] = va__http_stats_new()))
      return VA_ENOMEM;
    /* Room for one more line past the flush mark. */
    if (srv->opts.access_log &&
        !(sh->access = malloc(ACCESS_LOG_FLUSH + ACCESS_LINE_MAX)))
      return VA_ENOMEM;
  }
  return 0;
}

/* Binds every listener and makes every sweep timer, so that a taken port
 * is an error now. 0 or VA_ESYS (what was opened is closed again). */
static int open_sockets(va_http_server *srv) {
  for (unsigned i = 0; i < srv->n; i++) {
    shard *sh = &srv->shards[i];
    sh->listener = listen_socket(srv);
    sh->sweeper = sh->listener < 0 ? -1 : sweep_timer(srv);
    if (sh->listener < 0 || sh->sweeper < 0) {
      for (unsigned j = 0; j <= i; j++) {
        if (srv->shards[j].listener >= 0)
          close(srv->shards[j].listener);
        if (srv->shards[j].sweeper >= 0)
          close(srv->shards[j].sweeper);
      }
      return VA_ESYS;
    }
  }
  return 0;
}

/* Starts srv on every worker: 0, or the first error (a post that failed,
 * a worker that could not watch its sockets); shards are marked posted as
 * they are. */
static int start_shards(va_http_server *srv) {
  unsigned posted = 0;
  int rc = 0;
  for (unsigned i = 0; i < srv->n && rc == 0; i++) {
    rc = post(srv, i, start_on_worker);
    srv->shards[i].posted = rc == 0;
    posted += rc == 0;
  }
  wait_acks(srv, posted);
  for (unsigned i = 0; i < srv->n && rc == 0; i++)
    rc = srv->shards[i].start_rc;
  return rc;
}

int va_http_start(va_runtime *rt, const va_http_options *opts,
                  va_http_server **out) {
  if (!rt || !opts || !opts->handler || !opts->host || !out)
    return VA_EINVAL;
  if (va_loop_current(rt))
    return VA_EWOULDBLOCK; /* it would wait for its own worker */
  unsigned n = va_runtime_threads(rt);
  if (!n)
    return VA_ESTOPPED;                 /* never started */
  size_t size = sizeof(va_http_server); /* a multiple of 64 (alignas) */
  va_http_server *srv = aligned_alloc(64, size);
  if (!srv)
    return VA_ENOMEM;
  memset(srv, 0, size);
  srv->rt = rt;
  srv->n = n;
  set_options(srv, opts);
  int rc = make_shards(srv);
  if (rc == 0)
    rc = open_sockets(srv);
  if (rc != 0) {
    server_free(srv);
    return rc;
  }
  rc = start_shards(srv);
  if (rc != 0) {
    /* Undone; a worker that cannot be reached keeps srv (leaked). */
    if (stop_shards(srv) == 0)
      server_free(srv);
    return rc;
  }
  *out = srv;
  return 0;
}

int va_http_stop(va_http_server *srv) {
  if (!srv)
    return 0;
  if (va_loop_current(srv->rt))
    return VA_EWOULDBLOCK;
  int rc = stop_shards(srv);
  if (rc == 0)
    server_free(srv);
  return rc;
}
