/* frame.c — see frame.h. The decoder reads through a cursor that never
 * passes the end of its buffer: each read checks what is left first, and
 * a failed read poisons the cursor, so a frame is checked once, at its
 * end, for both a short read and bytes left over. The encoder writes what
 * va__frame_size has checked, with the same layout function by function. */
#include "frame.h"
#include "../base/assert.h"
#include <string.h>
#include <vactor.h>
#include <vactor_route.h>

/* The fixed part of each payload, after the kind byte. */
enum {
  HELLO_FIXED = 4 + 2 + 2 + 1 + 1 + VA__FRAME_NONCE_LEN,
  AUTH_SIZE = VA__FRAME_PROOF_LEN,
  CALL_FIXED = 8 + 8 + 4 + 1 + 1 + 1 + 2, /* and the method's u16, or its
                                             u8 length and name */
  REPLY_FIXED = 8 + 4 + 1,
};

bool va__frame_node_name_ok(const char *s, size_t len) {
  if (!s || len == 0 || len > VA__FRAME_NODE_MAX)
    return false;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    if (!ok)
      return false;
  }
  return true;
}

bool va__frame_name_ok(const char *s, size_t len) {
  if (!s || len == 0 || len > VA__FRAME_NAME_MAX)
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == 0x7f)
      return false;
  }
  return true;
}

/* ---- Checking and sizing ---- */

static int hello_size(const va__frame_hello *h, size_t *size) {
  if (h->version != VA__FRAME_VERSION ||
      !va__frame_node_name_ok(h->name, h->name_len) ||
      !va__frame_node_name_ok(h->target, h->target_len))
    return VA_EINVAL;
  *size = HELLO_FIXED + h->name_len + h->target_len;
  return 0;
}

static int call_size(const va__frame_call *c, size_t *size) {
  bool system = c->flags & VA__FRAME_SYSTEM;
  if (c->flags & ~(unsigned)(VA__FRAME_ONE_WAY | VA__FRAME_SYSTEM) ||
      c->hops > VA_ROUTE_MAX_HOPS ||
      (!system && !va__frame_name_ok(c->method, c->method_len)) ||
      !va__frame_name_ok(c->type, c->type_len) || !c->actor ||
      c->actor_len == 0 || (c->body_len && !c->body))
    return VA_EINVAL;
  if (c->actor_len > VA__FRAME_ID_MAX || c->body_len > VA__FRAME_BODY_MAX)
    return VA_ETOOBIG;
  *size = CALL_FIXED + (system ? 2 : 1 + c->method_len) + c->type_len +
          c->actor_len + c->body_len;
  return 0;
}

static int reply_size(const va__frame_reply *r, size_t *size) {
  if (r->status > 0 || (r->body_len && !r->body) ||
      (r->node_len && !va__frame_node_name_ok(r->node, r->node_len)))
    return VA_EINVAL;
  if (r->body_len > VA__FRAME_BODY_MAX)
    return VA_ETOOBIG;
  *size = REPLY_FIXED + r->node_len + r->body_len;
  return 0;
}

static int auth_size(size_t *size) {
  *size = AUTH_SIZE; /* a proof is any 32 bytes */
  return 0;
}

int va__frame_size(const va__frame *f, size_t *size) {
  size_t payload = 0;
  int rc = VA_EINVAL;
  if (f->kind == VA__FRAME_HELLO)
    rc = hello_size(&f->hello, &payload);
  else if (f->kind == VA__FRAME_CALL)
    rc = call_size(&f->call, &payload);
  else if (f->kind == VA__FRAME_REPLY)
    rc = reply_size(&f->reply, &payload);
  else if (f->kind == VA__FRAME_AUTH)
    rc = auth_size(&payload);
  if (rc != 0)
    return rc;
  VA_ASSERT(1 + payload <= VA__FRAME_MAX); /* the limits above sum to it */
  *size = VA__FRAME_PREFIX + 1 + payload;
  return 0;
}

/* ---- Writing ---- */

static uint8_t *put_u8(uint8_t *p, uint8_t v) {
  *p = v;
  return p + 1;
}

static uint8_t *put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  return p + 2;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
  return p + 4;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
  return p + 8;
}

static uint8_t *put_bytes(uint8_t *p, const void *s, size_t len) {
  if (len)
    memcpy(p, s, len);
  return p + len;
}

static uint8_t *write_hello(uint8_t *p, const va__frame_hello *h) {
  p = put_u32(p, VA__FRAME_MAGIC);
  p = put_u16(p, h->version);
  p = put_u16(p, h->worker);
  p = put_u8(p, (uint8_t)h->name_len);
  p = put_bytes(p, h->name, h->name_len);
  p = put_u8(p, (uint8_t)h->target_len);
  p = put_bytes(p, h->target, h->target_len);
  return put_bytes(p, h->nonce, sizeof(h->nonce));
}

static uint8_t *write_call(uint8_t *p, const va__frame_call *c) {
  p = put_u64(p, c->id);
  p = put_u64(p, c->chain);
  p = put_u32(p, c->timeout_ms);
  p = put_u8(p, c->hops);
  p = put_u8(p, c->flags);
  if (c->flags & VA__FRAME_SYSTEM) {
    p = put_u16(p, c->method_number);
  } else {
    p = put_u8(p, (uint8_t)c->method_len);
    p = put_bytes(p, c->method, c->method_len);
  }
  p = put_u8(p, (uint8_t)c->type_len);
  p = put_bytes(p, c->type, c->type_len);
  p = put_u16(p, (uint16_t)c->actor_len);
  p = put_bytes(p, c->actor, c->actor_len);
  return put_bytes(p, c->body, c->body_len);
}

static uint8_t *write_reply(uint8_t *p, const va__frame_reply *r) {
  p = put_u64(p, r->id);
  p = put_u32(p, (uint32_t)r->status);
  p = put_u8(p, (uint8_t)r->node_len);
  p = put_bytes(p, r->node, r->node_len);
  return put_bytes(p, r->body, r->body_len);
}

size_t va__frame_write(const va__frame *f, void *out) {
  uint8_t *start = out, *p = start + VA__FRAME_PREFIX;
  p = put_u8(p, f->kind);
  if (f->kind == VA__FRAME_HELLO)
    p = write_hello(p, &f->hello);
  else if (f->kind == VA__FRAME_CALL)
    p = write_call(p, &f->call);
  else if (f->kind == VA__FRAME_REPLY)
    p = write_reply(p, &f->reply);
  else
    p = put_bytes(p, f->auth.proof, sizeof(f->auth.proof));
  size_t total = (size_t)(p - start);
  put_u32(start, (uint32_t)(total - VA__FRAME_PREFIX));
  return total;
}

/* ---- Reading ---- */

/* A cursor over one frame's payload; bad once any read went past its
 * end. */
typedef struct cursor {
  const uint8_t *p, *end;
  bool bad;
} cursor;

/* The next n bytes (NULL, and the cursor bad, when fewer are left). */
static const uint8_t *take(cursor *c, size_t n) {
  if (c->bad || (size_t)(c->end - c->p) < n) {
    c->bad = true;
    return NULL;
  }
  const uint8_t *at = c->p;
  c->p += n;
  return at;
}

static uint8_t get_u8(cursor *c) {
  const uint8_t *p = take(c, 1);
  return p ? p[0] : 0;
}

static uint16_t get_u16(cursor *c) {
  const uint8_t *p = take(c, 2);
  return p ? (uint16_t)(p[0] | (unsigned)p[1] << 8) : 0;
}

static uint32_t get_u32(cursor *c) {
  const uint8_t *p = take(c, 4);
  uint32_t v = 0;
  for (int i = 0; p && i < 4; i++)
    v |= (uint32_t)p[i] << (8 * i);
  return v;
}

static uint64_t get_u64(cursor *c) {
  const uint8_t *p = take(c, 8);
  uint64_t v = 0;
  for (int i = 0; p && i < 8; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* len bytes as a string (its pointer; NULL when they are not there). */
static const char *get_str(cursor *c, size_t len) {
  return (const char *)take(c, len);
}

/* What is left: a frame's body. */
static const void *get_rest(cursor *c, size_t *len) {
  *len = c->bad ? 0 : (size_t)(c->end - c->p);
  return take(c, *len);
}

static int read_hello(cursor *c, va__frame_hello *h) {
  uint32_t magic = get_u32(c);
  h->version = get_u16(c);
  h->worker = get_u16(c);
  h->name_len = get_u8(c);
  h->name = get_str(c, h->name_len);
  h->target_len = get_u8(c);
  h->target = get_str(c, h->target_len);
  const uint8_t *nonce = take(c, sizeof(h->nonce));
  if (c->bad || c->p != c->end || magic != VA__FRAME_MAGIC)
    return VA_EINVAL;
  memcpy(h->nonce, nonce, sizeof(h->nonce));
  size_t size;
  return hello_size(h, &size);
}

static int read_call(cursor *c, va__frame_call *call) {
  call->id = get_u64(c);
  call->chain = get_u64(c);
  call->timeout_ms = get_u32(c);
  call->hops = get_u8(c);
  call->flags = get_u8(c);
  call->method_number = 0;
  call->method = NULL;
  call->method_len = 0;
  if (call->flags & VA__FRAME_SYSTEM) {
    call->method_number = get_u16(c);
  } else {
    call->method_len = get_u8(c);
    call->method = get_str(c, call->method_len);
  }
  call->type_len = get_u8(c);
  call->type = get_str(c, call->type_len);
  call->actor_len = get_u16(c);
  call->actor = get_str(c, call->actor_len);
  call->body = get_rest(c, &call->body_len);
  if (c->bad)
    return VA_EINVAL;
  size_t size;
  return call_size(call, &size);
}

static int read_auth(cursor *c, va__frame_auth *a) {
  const uint8_t *proof = take(c, sizeof(a->proof));
  if (c->bad || c->p != c->end)
    return VA_EINVAL;
  memcpy(a->proof, proof, sizeof(a->proof));
  return 0;
}

static int read_reply(cursor *c, va__frame_reply *r) {
  r->id = get_u64(c);
  r->status = (int32_t)get_u32(c);
  r->node_len = get_u8(c);
  r->node = get_str(c, r->node_len);
  r->body = get_rest(c, &r->body_len);
  if (c->bad)
    return VA_EINVAL;
  size_t size;
  return reply_size(r, &size);
}

int va__frame_decode(const void *buf, size_t len, va__frame *out,
                     size_t *size) {
  *size = VA__FRAME_PREFIX;
  if (len < VA__FRAME_PREFIX)
    return 0;
  cursor head = {.p = buf, .end = (const uint8_t *)buf + VA__FRAME_PREFIX};
  uint32_t length = get_u32(&head);
  if (length > VA__FRAME_MAX)
    return VA_ETOOBIG;
  if (length == 0)
    return VA_EINVAL;
  *size = VA__FRAME_PREFIX + (size_t)length;
  if (len < *size)
    return 0;
  cursor c = {.p = (const uint8_t *)buf + VA__FRAME_PREFIX,
              .end = (const uint8_t *)buf + *size};
  memset(out, 0, sizeof(*out));
  out->kind = get_u8(&c);
  int rc = VA_EINVAL;
  if (out->kind == VA__FRAME_HELLO)
    rc = read_hello(&c, &out->hello);
  else if (out->kind == VA__FRAME_CALL)
    rc = read_call(&c, &out->call);
  else if (out->kind == VA__FRAME_REPLY)
    rc = read_reply(&c, &out->reply);
  else if (out->kind == VA__FRAME_AUTH)
    rc = read_auth(&c, &out->auth);
  /* A body or an id over its limit inside a frame within VA__FRAME_MAX is
   * malformed like any other field. */
  return rc == 0 ? 1 : VA_EINVAL;
}
