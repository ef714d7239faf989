/* fuzz_frame.c — libFuzzer target for the node link's frame decoder
 * (src/cluster/frame.c): the input is read as a stream of frames, as a
 * connection reads its peer. Every frame the decoder accepts must obey the
 * rules frame.h states (names in their alphabet, lengths within their
 * limits), must encode again to exactly the bytes it came from (the
 * layout has one spelling), and every shorter prefix of it must read as
 * incomplete; any breach aborts. tests/unit/test_frame.c replays the
 * corpus (tests/fuzz/frame-corpus) through this same function.
 * Build: make fuzz (or cmake -DVA_FUZZ=ON with CC=clang); run:
 *   build/fuzz/tests/fuzz_frame -max_total_time=60 build/fuzz/frame-corpus
 *   tests/fuzz/frame-corpus */
#include "../../src/cluster/frame.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <vactor.h>
#include <vactor_route.h>

static void check_fields(const va__frame *f) {
  if (f->kind == VA__FRAME_HELLO) {
    const va__frame_hello *h = &f->hello;
    if (h->version != VA__FRAME_VERSION ||
        !va__frame_node_name_ok(h->name, h->name_len) ||
        !va__frame_node_name_ok(h->target, h->target_len))
      abort();
  } else if (f->kind == VA__FRAME_CALL) {
    const va__frame_call *c = &f->call;
    bool system = c->flags & VA__FRAME_SYSTEM;
    if (c->hops > VA_ROUTE_MAX_HOPS || c->actor_len == 0 ||
        c->actor_len > VA__FRAME_ID_MAX || c->body_len > VA__FRAME_BODY_MAX ||
        !va__frame_name_ok(c->type, c->type_len) ||
        (!system && !va__frame_name_ok(c->method, c->method_len)) ||
        (system && c->method_len))
      abort();
  } else if (f->kind == VA__FRAME_REPLY) {
    const va__frame_reply *r = &f->reply;
    if (r->status > 0 || r->body_len > VA__FRAME_BODY_MAX ||
        (r->node_len && !va__frame_node_name_ok(r->node, r->node_len)))
      abort();
  } else if (f->kind != VA__FRAME_AUTH) {
    abort(); /* an AUTH is 32 bytes of anything */
  }
}

/* f, decoded from bytes (size of them), encodes to the same bytes. */
static void check_reencodes(const va__frame *f, const uint8_t *bytes,
                            size_t size) {
  size_t again;
  if (va__frame_size(f, &again) != 0 || again != size)
    abort();
  uint8_t *out = malloc(size);
  if (!out)
    abort();
  if (va__frame_write(f, out) != size || memcmp(out, bytes, size))
    abort();
  free(out);
}

/* The prefixes of a frame (a few lengths) read as incomplete. */
static void check_prefixes(const uint8_t *bytes, size_t size) {
  size_t lengths[] = {0,        1,       VA__FRAME_PREFIX - 1, VA__FRAME_PREFIX,
                      size / 2, size - 1};
  for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
    va__frame f;
    size_t need;
    if (lengths[i] >= size)
      continue;
    if (va__frame_decode(bytes, lengths[i], &f, &need) != 0)
      abort();
    if (lengths[i] >= VA__FRAME_PREFIX && need != size)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off = 0;
  for (int frames = 0; frames < 1024 && off < size; frames++) {
    va__frame f;
    size_t used;
    int rc = va__frame_decode(data + off, size - off, &f, &used);
    if (rc < 0 && rc != VA_EINVAL && rc != VA_ETOOBIG)
      abort();
    if (rc <= 0) {
      if (rc == 0 && used <= size - off && used >= VA__FRAME_PREFIX)
        abort(); /* said incomplete with the whole frame there */
      return 0;
    }
    if (used < VA__FRAME_PREFIX + 1 || used > size - off)
      abort();
    check_fields(&f);
    check_reencodes(&f, data + off, used);
    check_prefixes(data + off, used);
    off += used;
  }
  return 0;
}
