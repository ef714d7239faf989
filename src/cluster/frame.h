/*
 * frame.h — the node link's binary frames (link.c sends and reads them):
 * what a frame holds, how it is laid out on the wire, and the pure
 * encoder and decoder (no I/O, no allocation). Internal to src/cluster.
 *
 * Wire layout, every integer little-endian:
 *
 *   frame := length:u32 kind:u8 payload    length = 1 + |payload|,
 *                                          1..VA__FRAME_MAX
 *   HELLO := magic:u32 version:u16 worker:u16
 *            name_len:u8 name  target_len:u8 target  nonce:16 bytes
 *   AUTH  := proof:32 bytes
 *   CALL  := call_id:u64 chain:u64 timeout_ms:u32 hops:u8 flags:u8
 *            (flags & SYSTEM ? method:u16 : method_len:u8 method)
 *            type_len:u8 type  actor_len:u16 actor  body (the rest)
 *   REPLY := call_id:u64 status:i32 node_len:u8 node  body (the rest)
 *
 * HELLO opens a connection in each direction: the connecting node names
 * itself, its worker, and the node it means to reach (target), so that a
 * node listening on a reused address refuses a connection meant for
 * another one; the accepting node answers with its own HELLO. Each HELLO
 * carries a fresh random nonce, and each side then proves that it holds
 * the cluster's key with an AUTH (link_auth.h): the accepting node right
 * after its HELLO, the connecting node once it has checked that one. A CALL
 * names its method by name, or by number for the runtime's own methods
 * (vactor_route.h, va_method_is_system). A REPLY's node is the one whose
 * activation ran the turn (empty: not known).
 *
 * Everything a peer sends is hostile: the decoder checks every length
 * against what is left and against the limits below, node names against
 * their alphabet ([A-Za-z0-9._-], 1..63 bytes), type and method names
 * against theirs (1..255 bytes, no control byte), flags against the known
 * ones, hops against VA_ROUTE_MAX_HOPS, a reply's status (<= 0), and
 * refuses a frame with bytes left over. Decoded strings are not
 * NUL-terminated: they point into the buffer decoded.
 */
#ifndef VA_CLUSTER_FRAME_H
#define VA_CLUSTER_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frame kinds. */
enum {
  VA__FRAME_HELLO = 1,
  VA__FRAME_CALL = 2,
  VA__FRAME_REPLY = 3,
  VA__FRAME_AUTH = 4,
};

/* Flags of a CALL. */
enum { VA__FRAME_ONE_WAY = 1u << 0, VA__FRAME_SYSTEM = 1u << 1 };

enum {
  VA__FRAME_VERSION = 2, /* 2: HELLO's nonce and AUTH */
  VA__FRAME_NONCE_LEN = 16,
  VA__FRAME_PROOF_LEN = 32,             /* an HMAC-SHA-256 */
  VA__FRAME_PREFIX = 4,                 /* the length in front of each frame */
  VA__FRAME_BODY_MAX = 8 * 1024 * 1024, /* a call's or a reply's body */
  /* The longest frame after its prefix: a body and the largest header
   * (a CALL's: 24 fixed bytes, two names of 255, an id of 4096). */
  VA__FRAME_MAX = VA__FRAME_BODY_MAX + 8192,
  VA__FRAME_NODE_MAX = 63,  /* a node's name */
  VA__FRAME_NAME_MAX = 255, /* a type's or a method's name */
  VA__FRAME_ID_MAX = 4096,  /* an actor id (the runtime's limit) */
};

/* "VLNK" read as a little-endian u32: the first bytes of every HELLO. */
#define VA__FRAME_MAGIC 0x4b4e4c56u

typedef struct va__frame_hello {
  uint16_t version; /* VA__FRAME_VERSION (the decoder refuses others) */
  uint16_t worker;  /* the sender's worker index */
  const char *name; /* the sender's node name */
  size_t name_len;
  const char *target; /* the node the connection is meant for */
  size_t target_len;
  uint8_t nonce[VA__FRAME_NONCE_LEN]; /* the sender's, fresh per connection */
} va__frame_hello;

typedef struct va__frame_auth {
  uint8_t proof[VA__FRAME_PROOF_LEN]; /* link_auth.h */
} va__frame_auth;

typedef struct va__frame_call {
  uint64_t id;    /* the sender's call id (its REPLY names it) */
  uint64_t chain; /* the call chain */
  uint32_t timeout_ms;
  uint8_t hops;           /* nodes crossed, this one included */
  uint8_t flags;          /* VA__FRAME_ONE_WAY, VA__FRAME_SYSTEM */
  uint16_t method_number; /* with VA__FRAME_SYSTEM */
  const char *method;     /* without it: the method's name */
  size_t method_len;
  const char *type; /* the type's name */
  size_t type_len;
  const char *actor; /* the actor's id (any bytes) */
  size_t actor_len;
  const void *body;
  size_t body_len;
} va__frame_call;

typedef struct va__frame_reply {
  uint64_t id;
  int32_t status;   /* 0 or a negative VA_E* (or application) code */
  const char *node; /* who ran the turn; node_len 0: not known */
  size_t node_len;
  const void *body;
  size_t body_len;
} va__frame_reply;

typedef struct va__frame {
  uint8_t kind; /* VA__FRAME_* */
  union {
    va__frame_hello hello;
    va__frame_call call;
    va__frame_reply reply;
    va__frame_auth auth;
  };
} va__frame;

/* Whether s (len bytes) may be a node's name: 1..63 of [A-Za-z0-9._-]. */
bool va__frame_node_name_ok(const char *s, size_t len);

/* Whether s (len bytes) may be a type's or a method's name on the wire:
 * 1..255 bytes, none below 0x20 nor 0x7f. */
bool va__frame_name_ok(const char *s, size_t len);

/* Checks f against the rules the decoder applies, and gives the bytes its
 * encoding takes, prefix included, in *size. 0, VA_EINVAL (a field out of
 * its rules) or VA_ETOOBIG (a body or an id over its limit). */
int va__frame_size(const va__frame *f, size_t *size);

/* Writes f, which va__frame_size accepted, into out (at least that many
 * bytes; the caller's); returns the bytes written. */
size_t va__frame_write(const va__frame *f, void *out);

/* Decodes the frame at the start of buf (len bytes, borrowed; *out's
 * strings and body point into it). Returns 1 with *out filled and *size
 * the frame's bytes (prefix included); 0 when buf holds only part of a
 * frame (*size: the bytes it takes in all, once its prefix is there, else
 * VA__FRAME_PREFIX); VA_ETOOBIG when its length is over VA__FRAME_MAX;
 * VA_EINVAL when it is malformed. A connection that sees a negative return
 * must be closed: where the next frame starts is not known. */
int va__frame_decode(const void *buf, size_t len, va__frame *out, size_t *size);

#endif
