/* client.c — see client.h. One thread per client runs a libcurl multi loop:
 *
 *   take the submitted jobs (a mutex-guarded list, spliced whole)
 *   start each one on an easy handle (reused from a small idle stack)
 *   curl_multi_perform, then deliver every finished transfer's result
 *   curl_multi_poll until a socket is ready, a timer is due, or a sender
 *   calls curl_multi_wakeup
 *
 * A sender holds the mutex only to append one job, and wakes the thread only
 * when the list was empty (the thread has then taken everything before it,
 * so one wake-up per batch is enough). Each job is one allocation holding
 * the request's copies (method, URL, headers as a curl_slist, body) and the
 * buffers the answer is read into. The multi handle's connection cache keeps
 * connections alive between requests. Deadlines are curl's own
 * (CURLOPT_TIMEOUT_MS over the whole transfer). */
#include "client.h"
#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
  IDLE_EASY_MAX = 16, /* easy handles kept for reuse */
  MAX_CONNECTS = 64,  /* connections the multi handle keeps open */
  POLL_MS = 1000,     /* longest sleep; curl shortens it for its timers */
  METHOD_MAX = 32,
};

static const char EXPECT_OFF[] = "Expect:";
static const char CTYPE_OFF[] = "Content-Type:";

/* A growing, NUL-terminated byte buffer. data is NULL until the first byte. */
typedef struct buf {
  char *data;
  size_t len, cap;
} buf;

typedef struct job {
  struct job *next, *prev; /* the submit queue (next), or the active list */
  CURL *easy;              /* while active */
  va_http_client_done done;
  void *user;
  /* The request's copies; they live in this job's allocation. */
  const char *method, *url, *body;
  size_t body_len;
  bool send_body;
  long timeout_ms;
  struct curl_slist *headers;
  /* The answer. */
  buf hdr, out;
  int error; /* why a write callback refused data: VA_ETOOBIG, VA_ENOMEM */
} job;

struct va_http_client {
  /* Set at creation. curl_multi_wakeup on it is thread-safe. */
  CURLM *multi;
  pthread_t thread;
  /* Shared with senders, under lock. */
  pthread_mutex_t lock;
  job *queue_head, *queue_tail;
  bool stopping;     /* va_http_client_free has begun */
  bool free_on_exit; /* ... from a done callback: the thread frees */
  /* The client's thread only. */
  job *active; /* transfers in the multi handle, doubly linked */
  CURL *idle[IDLE_EASY_MAX];
  unsigned nidle;
};

/* ---- Process-wide libcurl setup ------------------------------------------ */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

/* Never undone: curl_global_cleanup is not thread-safe and other clients may
 * come later; what it would free lives as long as the process. */
static void global_init(void) {
  global_rc = curl_global_init(CURL_GLOBAL_ALL);
}

/* ---- Buffers ---- */

/* Appends p[0..n) to b, keeping a NUL after the data. Returns 0,
 * VA_ETOOBIG if b would pass max bytes, or VA_ENOMEM. */
static int buf_append(buf *b, const char *p, size_t n, size_t max) {
  if (n > max - b->len)
    return VA_ETOOBIG;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data)
      return VA_ENOMEM;
    b->data = data;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

static const char *buf_str(const buf *b) {
  return b->data ? b->data : "";
}

/* ---- Checking and copying a request (any thread) ---- */

static bool is_token(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > METHOD_MAX)
    return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
          (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-.^_`|~", *p)))
      return false;
  return true;
}

static bool is_http_url(const char *url) {
  return strncasecmp(url, "http://", 7) == 0 ||
         strncasecmp(url, "https://", 8) == 0;
}

static bool header_ok(const char *h) {
  return h && strchr(h, ':') && !strpbrk(h, "\r\n");
}

static bool has_header(const char *const *headers, const char *name) {
  size_t n = strlen(name);
  for (; headers && *headers; headers++)
    if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':')
      return true;
  return false;
}

static int check_request(const va_http_client_request *req) {
  if (!req->method || !req->url || !is_token(req->method) ||
      !is_http_url(req->url) || req->timeout_ms < 0 ||
      (!req->body && req->body_len))
    return VA_EINVAL;
  for (const char *const *h = req->headers; h && *h; h++)
    if (!header_ok(*h))
      return VA_EINVAL;
  return 0;
}

/* Copies n bytes and a NUL to *cur, advancing it; returns the copy. */
static char *put(char **cur, const void *src, size_t n) {
  char *dst = *cur;
  if (n)
    memcpy(dst, src, n);
  dst[n] = '\0';
  *cur += n + 1;
  return dst;
}

/* What a request's copy needs: the caller's headers, then "Expect:" (no
 * 100-continue round trip) and "Content-Type:" (not curl's form default)
 * unless the caller set them, and the bytes of every string. */
typedef struct plan {
  size_t given, nodes;
  bool add_expect, add_ctype;
  size_t size; /* of the whole job allocation */
} plan;

/* Returns 0, or VA_ENOMEM when the sizes overflow. */
static int make_plan(const va_http_client_request *req, plan *p) {
  size_t strs = strlen(req->method) + 1 + strlen(req->url) + 1;
  p->given = 0;
  for (const char *const *h = req->headers; h && *h; h++, p->given++)
    strs += strlen(*h) + 1;
  p->add_expect = !has_header(req->headers, "Expect");
  p->add_ctype = !has_header(req->headers, "Content-Type");
  strs += p->add_expect ? sizeof(EXPECT_OFF) : 0;
  strs += p->add_ctype ? sizeof(CTYPE_OFF) : 0;
  p->nodes = p->given + p->add_expect + p->add_ctype;
  /* job, then the list nodes (sizeof(job) keeps them pointer-aligned), then
   * the strings, then the body and a NUL. */
  size_t fixed = sizeof(job) + p->nodes * sizeof(struct curl_slist) + strs;
  if (req->body_len > SIZE_MAX - fixed - 1)
    return VA_ENOMEM;
  p->size = fixed + req->body_len + 1;
  return 0;
}

/* Fills the job's header list (nodes right after the job) from *cur. */
static void copy_headers(job *j, const va_http_client_request *req,
                         const plan *p, char **cur) {
  struct curl_slist *nodes = (struct curl_slist *)(j + 1);
  size_t i = 0;
  for (; i < p->given; i++)
    nodes[i].data = put(cur, req->headers[i], strlen(req->headers[i]));
  if (p->add_expect)
    nodes[i++].data = put(cur, EXPECT_OFF, sizeof(EXPECT_OFF) - 1);
  if (p->add_ctype)
    nodes[i++].data = put(cur, CTYPE_OFF, sizeof(CTYPE_OFF) - 1);
  for (size_t k = 0; k < p->nodes; k++)
    nodes[k].next = k + 1 < p->nodes ? &nodes[k + 1] : NULL;
  j->headers = p->nodes ? nodes : NULL;
}

/* A body is sent when one is given, and always (maybe empty, so with
 * "Content-Length: 0") for the methods that expect one. */
static bool wants_body(const va_http_client_request *req) {
  return req->body || strcmp(req->method, "POST") == 0 ||
         strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0;
}

/* Copies req into a new job, one allocation, owned by the caller (freed
 * with job_free). Returns 0, VA_EINVAL or VA_ENOMEM. */
static int job_new(const va_http_client_request *req, job **out) {
  plan p;
  int rc = check_request(req);
  if (rc == 0)
    rc = make_plan(req, &p);
  if (rc)
    return rc;
  job *j = malloc(p.size);
  if (!j)
    return VA_ENOMEM;
  memset(j, 0, sizeof(*j));
  char *cur = (char *)((struct curl_slist *)(j + 1) + p.nodes);
  j->method = put(&cur, req->method, strlen(req->method));
  j->url = put(&cur, req->url, strlen(req->url));
  copy_headers(j, req, &p, &cur);
  j->body = put(&cur, req->body, req->body_len);
  j->body_len = req->body_len;
  j->send_body = wants_body(req);
  j->timeout_ms =
      req->timeout_ms ? req->timeout_ms : VA_HTTP_CLIENT_TIMEOUT_MS_DEFAULT;
  *out = j;
  return 0;
}

/* Frees j and its answer buffers (not its easy handle). */
static void job_free(job *j) {
  free(j->hdr.data);
  free(j->out.data);
  free(j);
}

/* ---- libcurl callbacks (client thread) ---- */

/* Body bytes. Returning less than given makes curl fail the transfer with
 * CURLE_WRITE_ERROR; j->error says why. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
  job *j = ud;
  size_t n = size * nmemb;
  int rc = buf_append(&j->out, p, n, VA_HTTP_CLIENT_MAX_BODY);
  if (rc) {
    j->error = rc;
    return 0;
  }
  return n;
}

/* One header line at a time. A status line starts a new response (after a
 * 1xx), so it empties the block; it and the blank end line are not kept.
 * No header name contains '/', so "HTTP/" only ever starts a status line. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud) {
  job *j = ud;
  size_t n = size * nmemb;
  if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    j->hdr.len = 0;
    if (j->hdr.data)
      j->hdr.data[0] = '\0';
    return n;
  }
  if ((n == 2 && p[0] == '\r') || (n == 1 && p[0] == '\n'))
    return n;
  int rc = buf_append(&j->hdr, p, n, VA_HTTP_CLIENT_MAX_HEADERS);
  if (rc) {
    j->error = rc;
    return 0;
  }
  return n;
}

/* ---- Easy handles (client thread) ---- */

/* The error a finished transfer reports. */
static int error_of(const job *j, CURLcode rc) {
  switch (rc) {
  case CURLE_OK:
    return 0;
  case CURLE_OPERATION_TIMEDOUT:
    return VA_ETIMEDOUT;
  case CURLE_OUT_OF_MEMORY:
    return VA_ENOMEM;
  case CURLE_FILESIZE_EXCEEDED: /* Content-Length over the limit */
    return VA_ETOOBIG;
  case CURLE_URL_MALFORMAT:
    return VA_EINVAL;
  case CURLE_WRITE_ERROR:
    return j->error ? j->error : VA_ESYS;
  default: /* refused, reset, closed without an answer, TLS, ... */
    return VA_ESYS;
  }
}

/* The method and, when one is sent, the body (borrowed from j). */
static CURLcode set_method(CURL *e, const job *j) {
  if (strcmp(j->method, "HEAD") == 0)
    return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  if (strcmp(j->method, "GET") == 0 && !j->send_body)
    return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  CURLcode rc = CURLE_OK;
  if (j->send_body) {
    rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                          (curl_off_t)j->body_len);
    if (rc == CURLE_OK)
      rc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
  }
  if (rc == CURLE_OK && strcmp(j->method, "POST") != 0)
    rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, j->method);
  return rc;
}

/* Sets every option of j on a fresh (or reset) handle. curl keeps pointers
 * to j's strings and body, which live until j is freed after the transfer. */
static CURLcode configure(CURL *e, job *j) {
  CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                          \
  do {                                                                         \
    if (rc == CURLE_OK)                                                        \
      rc = curl_easy_setopt(e, opt, val);                                      \
  } while (0)
  SET(CURLOPT_URL, j->url);
  SET(CURLOPT_PRIVATE, (void *)j);
  SET(CURLOPT_NOSIGNAL, 1L); /* no SIGALRM: we are one thread of many */
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_TIMEOUT_MS, j->timeout_ms);
  SET(CURLOPT_TCP_KEEPALIVE, 1L); /* pooled connections may idle long */
  SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)VA_HTTP_CLIENT_MAX_BODY);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, (void *)j);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, (void *)j);
  SET(CURLOPT_HTTPHEADER, j->headers);
#undef SET
  return rc == CURLE_OK ? set_method(e, j) : rc;
}

/* A handle from the idle stack, or a new one (NULL when out of memory). */
static CURL *easy_take(va_http_client *c) {
  return c->nidle ? c->idle[--c->nidle] : curl_easy_init();
}

/* Takes back e (not in the multi handle): reset for the next request, or
 * freed when the idle stack is full. */
static void easy_give(va_http_client *c, CURL *e) {
  if (c->nidle == IDLE_EASY_MAX) {
    curl_easy_cleanup(e);
    return;
  }
  curl_easy_reset(e);
  c->idle[c->nidle++] = e;
}

/* ---- Jobs on the client thread ---- */

/* Calls j's callback with its outcome, then frees j. */
static void deliver(job *j, int error, long status) {
  va_http_client_result r = {.error = error, .status = error ? 0 : status};
  r.headers = error ? "" : buf_str(&j->hdr);
  r.headers_len = error ? 0 : j->hdr.len;
  r.body = error ? "" : buf_str(&j->out);
  r.body_len = error ? 0 : j->out.len;
  j->done(j->user, &r);
  job_free(j);
}

static void active_link(va_http_client *c, job *j) {
  j->prev = NULL;
  j->next = c->active;
  if (c->active)
    c->active->prev = j;
  c->active = j;
}

static void active_unlink(va_http_client *c, job *j) {
  if (j->prev)
    j->prev->next = j->next;
  else
    c->active = j->next;
  if (j->next)
    j->next->prev = j->prev;
}

/* Starts j's transfer; if it cannot start, j completes at once. */
static void start(va_http_client *c, job *j) {
  CURL *e = easy_take(c);
  if (!e) {
    deliver(j, VA_ENOMEM, 0);
    return;
  }
  CURLcode rc = configure(e, j);
  if (rc == CURLE_OK && curl_multi_add_handle(c->multi, e) != CURLM_OK)
    rc = CURLE_OUT_OF_MEMORY;
  if (rc != CURLE_OK) {
    easy_give(c, e);
    deliver(j, error_of(j, rc), 0);
    return;
  }
  j->easy = e;
  active_link(c, j);
}

/* Ends j's transfer (finished or not) and delivers error, or its status. */
static void finish(va_http_client *c, job *j, int error) {
  long status = 0;
  if (!error)
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
  active_unlink(c, j);
  /* Removing an unfinished transfer closes its connection. */
  curl_multi_remove_handle(c->multi, j->easy);
  easy_give(c, j->easy);
  deliver(j, error, status);
}

/* Delivers every transfer curl reports finished. */
static void reap(va_http_client *c) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(c->multi, &left))) {
    if (m->msg != CURLMSG_DONE)
      continue;
    job *j = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
    CURLcode rc = m->data.result; /* m dies with the handle's removal */
    finish(c, j, error_of(j, rc));
  }
}

/* Moves the submitted jobs to *batch (in order); true once stopping. */
static bool take_submitted(va_http_client *c, job **batch) {
  pthread_mutex_lock(&c->lock);
  *batch = c->queue_head;
  c->queue_head = c->queue_tail = NULL;
  bool stop = c->stopping;
  pthread_mutex_unlock(&c->lock);
  return stop;
}

/* Starts each job of batch, or, when stopping, fails it. */
static void run_batch(va_http_client *c, job *batch, bool stop) {
  while (batch) {
    job *next = batch->next;
    if (stop)
      deliver(batch, VA_ESTOPPED, 0);
    else
      start(c, batch);
    batch = next;
  }
}

static void destroy(va_http_client *c);

/* The client's thread. curl_multi_perform's own failures (out of memory)
 * need no handling here: the transfers they hit fail through info_read. */
static void *client_main(void *arg) {
  va_http_client *c = arg;
  for (;;) {
    job *batch;
    bool stop = take_submitted(c, &batch);
    run_batch(c, batch, stop);
    if (stop)
      break;
    int running;
    curl_multi_perform(c->multi, &running);
    reap(c);
    curl_multi_poll(c->multi, NULL, 0, POLL_MS, NULL);
  }
  while (c->active)
    finish(c, c->active, VA_ESTOPPED);
  pthread_mutex_lock(&c->lock);
  bool self_free = c->free_on_exit;
  pthread_mutex_unlock(&c->lock);
  if (self_free) {
    pthread_detach(pthread_self());
    destroy(c);
  }
  return NULL;
}

/* ---- Public API ---- */

/* Frees c once its thread has ended (or never started). */
static void destroy(va_http_client *c) {
  while (c->nidle)
    curl_easy_cleanup(c->idle[--c->nidle]);
  if (c->multi)
    curl_multi_cleanup(c->multi); /* closes the pooled connections */
  pthread_mutex_destroy(&c->lock);
  free(c);
}

/* Starts the thread with every signal blocked, so that signals go to the
 * application's threads. */
static int start_thread(va_http_client *c) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&c->thread, NULL, client_main, c);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc ? VA_ESYS : 0;
}

/* A multi handle; NULL when out of memory or when curl_multi_wakeup does
 * not work (sends would then wait for the poll timeout). */
static CURLM *multi_new(void) {
  CURLM *m = curl_multi_init();
  if (m && (curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)MAX_CONNECTS) !=
                CURLM_OK ||
            curl_multi_wakeup(m) != CURLM_OK)) {
    curl_multi_cleanup(m);
    return NULL;
  }
  return m;
}

int va_http_client_new(va_http_client **out) {
  if (!out)
    return VA_EINVAL;
  *out = NULL;
  pthread_once(&global_once, global_init);
  if (global_rc != CURLE_OK)
    return global_rc == CURLE_OUT_OF_MEMORY ? VA_ENOMEM : VA_ESYS;
  va_http_client *c = calloc(1, sizeof(*c));
  if (!c)
    return VA_ENOMEM;
  pthread_mutex_init(&c->lock, NULL);
  c->multi = multi_new();
  int rc = c->multi ? start_thread(c) : VA_ENOMEM;
  if (rc) {
    destroy(c);
    return rc;
  }
  *out = c;
  return 0;
}

/* Queues j (now owned by c) and wakes the thread if the queue was empty;
 * VA_ESTOPPED (j freed) once stopping. */
static int enqueue(va_http_client *c, job *j) {
  pthread_mutex_lock(&c->lock);
  if (c->stopping) {
    pthread_mutex_unlock(&c->lock);
    job_free(j);
    return VA_ESTOPPED;
  }
  bool wake = c->queue_head == NULL;
  j->next = NULL;
  if (c->queue_tail)
    c->queue_tail->next = j;
  else
    c->queue_head = j;
  c->queue_tail = j;
  pthread_mutex_unlock(&c->lock);
  if (wake)
    curl_multi_wakeup(c->multi); /* checked to work in multi_new */
  return 0;
}

int va_http_client_send(va_http_client *c, const va_http_client_request *req,
                        va_http_client_done done, void *user) {
  if (!c || !req || !done)
    return VA_EINVAL;
  job *j;
  int rc = job_new(req, &j);
  if (rc)
    return rc;
  j->done = done;
  j->user = user;
  return enqueue(c, j);
}

void va_http_client_free(va_http_client *c) {
  if (!c)
    return;
  bool self = pthread_equal(pthread_self(), c->thread);
  pthread_mutex_lock(&c->lock);
  c->stopping = true;
  c->free_on_exit = self;
  pthread_mutex_unlock(&c->lock);
  curl_multi_wakeup(c->multi);
  if (self)
    return; /* client_main frees c when the running callback returns */
  pthread_join(c->thread, NULL);
  destroy(c);
}

/* ---- Reading a header ---- */

/* If line (len bytes, no line end) is "name: value", sets *v and *vlen to the
 * value without surrounding spaces and tabs and returns true. */
static bool header_match(const char *line, size_t len, const char *name,
                         const char **v, size_t *vlen) {
  size_t n = strlen(name);
  if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
    return false;
  const char *p = line + n + 1, *end = line + len;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  *v = p;
  *vlen = (size_t)(end - p);
  return true;
}

int va_http_client_header(const va_http_client_result *r, const char *name,
                          char *out, size_t cap) {
  if (!r || !r->headers || !name || (!out && cap))
    return -1;
  const char *p = r->headers, *end = r->headers + r->headers_len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eol = nl ? nl : end;
    size_t len = (size_t)(eol - p);
    if (len && p[len - 1] == '\r')
      len--;
    const char *v;
    size_t vlen;
    if (header_match(p, len, name, &v, &vlen)) {
      if (cap) {
        size_t k = vlen < cap - 1 ? vlen : cap - 1;
        memcpy(out, v, k);
        out[k] = '\0';
      }
      return vlen > INT_MAX ? INT_MAX : (int)vlen;
    }
    p = eol + 1;
  }
  return -1;
}
