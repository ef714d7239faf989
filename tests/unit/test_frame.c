/* test_frame.c — the node link's frame codec (src/cluster/frame.c): each
 * kind of frame encodes and decodes back to the same fields; a stream of
 * frames decodes one after another; every truncation of a valid frame
 * reads as incomplete and every corruption of one is refused or decodes
 * to a frame that keeps every rule (checked by the fuzz target's own
 * function, which aborts on a breach); named malformed frames are refused;
 * the encoder refuses what the decoder would; and the fuzz corpus replays
 * through the fuzz target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "../fuzz/fuzz_frame.c"
#include <dirent.h>
#include <stdio.h>

/* ---- Helpers ---- */

/* Encodes f into a new buffer (the caller frees it); *size its length. */
static uint8_t *encode(const va__frame *f, size_t *size) {
  assert_int_equal(va__frame_size(f, size), 0);
  uint8_t *out = malloc(*size);
  assert_non_null(out);
  assert_int_equal(va__frame_write(f, out), *size);
  return out;
}

static void decode_whole(const uint8_t *buf, size_t size, va__frame *out) {
  size_t used = 0;
  assert_int_equal(va__frame_decode(buf, size, out, &used), 1);
  assert_int_equal(used, size);
}

static bool same(const void *a, size_t a_len, const void *b, size_t b_len) {
  return a_len == b_len && (a_len == 0 || !memcmp(a, b, a_len));
}

static va__frame sample_hello(void) {
  return (va__frame){.kind = VA__FRAME_HELLO,
                     .hello = {.version = VA__FRAME_VERSION,
                               .worker = 3,
                               .name = "node-A.1_x",
                               .name_len = 10,
                               .target = "B",
                               .target_len = 1,
                               .nonce = "nonce\0\xff of 16 b"}};
}

static va__frame sample_auth(void) {
  va__frame f = {.kind = VA__FRAME_AUTH};
  for (size_t i = 0; i < sizeof(f.auth.proof); i++)
    f.auth.proof[i] = (uint8_t)(0xa0 + i);
  return f;
}

static va__frame sample_call(bool system, const void *body, size_t len) {
  return (va__frame){
      .kind = VA__FRAME_CALL,
      .call = {.id = 0x0102030405060708ull,
               .chain = 0xfedcba9876543210ull,
               .timeout_ms = 60000,
               .hops = 1,
               .flags = system ? VA__FRAME_SYSTEM | VA__FRAME_ONE_WAY : 0,
               .method_number = system ? 0xfffa : 0,
               .method = system ? NULL : "whoami",
               .method_len = system ? 0 : 6,
               .type = "Probe",
               .type_len = 5,
               .actor = "b-\0\xff",
               .actor_len = 4,
               .body = body,
               .body_len = len}};
}

static va__frame sample_reply(const char *node, const void *body, size_t len) {
  return (va__frame){.kind = VA__FRAME_REPLY,
                     .reply = {.id = 77,
                               .status = VA_EDEADLK,
                               .node = node,
                               .node_len = node ? strlen(node) : 0,
                               .body = body,
                               .body_len = len}};
}

/* ---- Round trips ---- */

static void hello_round_trips(void **state) {
  (void)state;
  va__frame f = sample_hello(), g;
  size_t size;
  uint8_t *buf = encode(&f, &size);
  decode_whole(buf, size, &g);
  assert_int_equal(g.kind, VA__FRAME_HELLO);
  assert_int_equal(g.hello.version, VA__FRAME_VERSION);
  assert_int_equal(g.hello.worker, 3);
  assert_true(same(g.hello.name, g.hello.name_len, "node-A.1_x", 10));
  assert_true(same(g.hello.target, g.hello.target_len, "B", 1));
  assert_memory_equal(g.hello.nonce, f.hello.nonce, VA__FRAME_NONCE_LEN);
  free(buf);
}

static void auth_round_trips(void **state) {
  (void)state;
  va__frame f = sample_auth(), g;
  size_t size;
  uint8_t *buf = encode(&f, &size);
  assert_int_equal(size, VA__FRAME_PREFIX + 1 + VA__FRAME_PROOF_LEN);
  decode_whole(buf, size, &g);
  assert_int_equal(g.kind, VA__FRAME_AUTH);
  assert_memory_equal(g.auth.proof, f.auth.proof, VA__FRAME_PROOF_LEN);
  free(buf);
}

static void calls_round_trip(void **state) {
  (void)state;
  for (int system = 0; system < 2; system++) {
    va__frame f = sample_call(system, "{\"x\":1}", 7), g;
    size_t size;
    uint8_t *buf = encode(&f, &size);
    decode_whole(buf, size, &g);
    const va__frame_call *c = &g.call;
    assert_int_equal(g.kind, VA__FRAME_CALL);
    assert_true(c->id == f.call.id && c->chain == f.call.chain);
    assert_int_equal(c->timeout_ms, 60000);
    assert_int_equal(c->hops, 1);
    assert_int_equal(c->flags, f.call.flags);
    if (system) {
      assert_int_equal(c->method_number, 0xfffa);
      assert_int_equal(c->method_len, 0);
    } else {
      assert_true(same(c->method, c->method_len, "whoami", 6));
    }
    assert_true(same(c->type, c->type_len, "Probe", 5));
    assert_true(same(c->actor, c->actor_len, "b-\0\xff", 4));
    assert_true(same(c->body, c->body_len, "{\"x\":1}", 7));
    free(buf);
  }
}

static void replies_round_trip(void **state) {
  (void)state;
  const char *nodes[] = {"B", NULL};
  for (int i = 0; i < 2; i++) {
    va__frame f = sample_reply(nodes[i], i ? NULL : "ok", i ? 0 : 2), g;
    size_t size;
    uint8_t *buf = encode(&f, &size);
    decode_whole(buf, size, &g);
    assert_int_equal(g.kind, VA__FRAME_REPLY);
    assert_int_equal(g.reply.id, 77);
    assert_int_equal(g.reply.status, VA_EDEADLK);
    assert_int_equal(g.reply.node_len, i ? 0 : 1);
    assert_true(same(g.reply.body, g.reply.body_len, i ? "" : "ok", i ? 0 : 2));
    free(buf);
  }
}

static void the_largest_body_round_trips(void **state) {
  (void)state;
  size_t len = VA__FRAME_BODY_MAX;
  uint8_t *body = malloc(len);
  assert_non_null(body);
  for (size_t i = 0; i < len; i++)
    body[i] = (uint8_t)(i * 31);
  va__frame f = sample_call(false, body, len), g;
  size_t size;
  uint8_t *buf = encode(&f, &size);
  decode_whole(buf, size, &g);
  assert_true(same(g.call.body, g.call.body_len, body, len));
  free(buf);
  f.call.body_len = len + 1; /* one byte more is too big */
  assert_int_equal(va__frame_size(&f, &size), VA_ETOOBIG);
  free(body);
}

static void a_stream_decodes_frame_by_frame(void **state) {
  (void)state;
  va__frame frames[] = {sample_hello(), sample_call(false, "x", 1),
                        sample_call(true, NULL, 0), sample_reply("B", "y", 1)};
  size_t n = sizeof(frames) / sizeof(frames[0]);
  uint8_t stream[4096];
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    size_t size;
    assert_int_equal(va__frame_size(&frames[i], &size), 0);
    assert_true(len + size <= sizeof(stream));
    len += va__frame_write(&frames[i], stream + len);
  }
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    va__frame g;
    size_t used;
    assert_int_equal(va__frame_decode(stream + off, len - off, &g, &used), 1);
    assert_int_equal(g.kind, frames[i].kind);
    off += used;
  }
  assert_int_equal(off, len);
}

/* ---- Hostile input ---- */

enum { SAMPLES = 5 };

/* Every valid sample frame, encoded: what truncation and corruption
 * start from. */
static uint8_t *sample(int i, size_t *size) {
  va__frame f = i == 0   ? sample_hello()
                : i == 1 ? sample_call(false, "body", 4)
                : i == 2 ? sample_call(true, "k", 1)
                : i == 3 ? sample_reply("node-B", "r", 1)
                         : sample_auth();
  return encode(&f, size);
}

static void every_truncation_is_incomplete(void **state) {
  (void)state;
  for (int i = 0; i < SAMPLES; i++) {
    size_t size;
    uint8_t *buf = sample(i, &size);
    for (size_t len = 0; len < size; len++) {
      uint8_t *copy = malloc(len ? len : 1); /* ASan sees a read past len */
      assert_non_null(copy);
      memcpy(copy, buf, len);
      va__frame g;
      size_t need;
      assert_int_equal(va__frame_decode(copy, len, &g, &need), 0);
      assert_int_equal(need, len < VA__FRAME_PREFIX ? VA__FRAME_PREFIX : size);
      free(copy);
    }
    free(buf);
  }
}

static void every_corruption_is_refused_or_valid(void **state) {
  (void)state;
  static const uint8_t values[] = {0x00, 0x01, 0x03, 0x20, 0x2f,
                                   0x40, 0x7f, 0x80, 0xfe, 0xff};
  int refused = 0;
  for (int i = 0; i < SAMPLES; i++) {
    size_t size;
    uint8_t *buf = sample(i, &size);
    uint8_t *copy = malloc(size);
    assert_non_null(copy);
    for (size_t at = 0; at < size; at++) {
      for (size_t v = 0; v < sizeof(values); v++) {
        memcpy(copy, buf, size);
        copy[at] = values[v];
        va__frame g;
        size_t used;
        refused += va__frame_decode(copy, size, &g, &used) < 0;
        LLVMFuzzerTestOneInput(copy, size); /* aborts on a broken rule */
      }
    }
    free(copy);
    free(buf);
  }
  assert_true(refused > 100); /* the checks do refuse */
}

/* Decodes bytes (len) expecting a refusal with code. */
static void refused(const uint8_t *bytes, size_t len, int code) {
  va__frame g;
  size_t used;
  assert_int_equal(va__frame_decode(bytes, len, &g, &used), code);
}

/* The sample frame i with byte `at` set to v, expecting a refusal. */
static void refused_with(int i, size_t at, uint8_t v) {
  size_t size;
  uint8_t *buf = sample(i, &size);
  assert_true(at < size);
  buf[at] = v;
  refused(buf, size, VA_EINVAL);
  free(buf);
}

static void named_malformations_are_refused(void **state) {
  (void)state;
  /* Offsets: prefix 4, kind 1; HELLO: magic 5..8, version 9..10, worker
   * 11..12, name_len 13, name 14..; CALL: id 5..12, chain 13..20,
   * timeout 21..24, hops 25, flags 26, method_len 27, method 28..33, type
   * len 34, type 35..39, id len 40..41. REPLY: id 5..12, status 13..16,
   * node len 17, node 18... */
  refused_with(0, 4, 9);     /* an unknown kind */
  refused_with(0, 5, 'X');   /* the magic */
  refused_with(0, 9, 1);     /* another version (1: before AUTH) */
  refused_with(0, 14, '/');  /* a node name's alphabet */
  refused_with(0, 13, 0);    /* an empty node name */
  refused_with(1, 25, 3);    /* hops over VA_ROUTE_MAX_HOPS */
  refused_with(1, 26, 4);    /* an unknown flag */
  refused_with(1, 28, '\n'); /* a control byte in the method */
  refused_with(1, 35, 0x7f); /* ... and in the type */
  refused_with(1, 27, 0);    /* an empty method name */
  refused_with(1, 40, 0);    /* an empty actor id: the body is left */
  refused_with(3, 16, 0x00); /* a positive status */
  refused_with(3, 18, ' ');  /* the node's alphabet */
  uint8_t zero[] = {0, 0, 0, 0, 1};
  refused(zero, sizeof(zero), VA_EINVAL); /* length 0 */
  uint8_t huge[] = {0xff, 0xff, 0xff, 0x7f, 2};
  refused(huge, sizeof(huge), VA_ETOOBIG); /* over VA__FRAME_MAX */
  /* A HELLO with a byte after its target. */
  size_t size;
  uint8_t *buf = sample(0, &size);
  uint8_t *longer = malloc(size + 1);
  assert_non_null(longer);
  memcpy(longer, buf, size);
  longer[size] = 'x';
  longer[0]++; /* the length says so */
  refused(longer, size + 1, VA_EINVAL);
  free(longer);
  /* An AUTH a byte short, and one a byte long. */
  free(buf);
  buf = sample(4, &size);
  buf[0]--;
  refused(buf, size - 1, VA_EINVAL);
  longer = malloc(size + 1);
  assert_non_null(longer);
  buf[0] += 2;
  memcpy(longer, buf, size);
  longer[size] = 'x';
  refused(longer, size + 1, VA_EINVAL);
  /* A CALL whose actor length runs past the frame. */
  free(buf);
  buf = sample(1, &size);
  buf[40] = 0xff;
  refused(buf, size, VA_EINVAL);
  free(buf);
  free(longer);
}

static void the_encoder_refuses_what_the_decoder_would(void **state) {
  (void)state;
  size_t size;
  va__frame f = sample_hello();
  f.hello.name = "a b";
  f.hello.name_len = 3;
  assert_int_equal(va__frame_size(&f, &size), VA_EINVAL);
  f = sample_hello();
  f.hello.target_len = 64;
  f.hello.target =
      "0123456789012345678901234567890123456789012345678901234567890123";
  assert_int_equal(va__frame_size(&f, &size), VA_EINVAL);
  f = sample_call(false, NULL, 0);
  f.call.hops = VA_ROUTE_MAX_HOPS + 1;
  assert_int_equal(va__frame_size(&f, &size), VA_EINVAL);
  f = sample_call(false, NULL, 0);
  f.call.actor_len = VA__FRAME_ID_MAX + 1;
  assert_int_equal(va__frame_size(&f, &size), VA_ETOOBIG);
  f = sample_call(false, NULL, 0);
  f.call.method = "";
  f.call.method_len = 0;
  assert_int_equal(va__frame_size(&f, &size), VA_EINVAL);
  f = sample_reply("B", NULL, 0);
  f.reply.status = 1;
  assert_int_equal(va__frame_size(&f, &size), VA_EINVAL);
  f.kind = 0;
  assert_int_equal(va__frame_size(&f, &size), VA_EINVAL);
}

static void names_follow_their_alphabets(void **state) {
  (void)state;
  assert_true(va__frame_node_name_ok("a-Z.0_9", 7));
  assert_false(va__frame_node_name_ok("", 0));
  assert_false(va__frame_node_name_ok("a:b", 3));
  assert_false(va__frame_node_name_ok("\xc3\xa9", 2));
  assert_true(va__frame_name_ok("Dapr Type/é", 12));
  assert_false(va__frame_name_ok("a\tb", 3));
  assert_false(va__frame_name_ok("", 0));
  char long_name[VA__FRAME_NAME_MAX + 1];
  memset(long_name, 'n', sizeof(long_name));
  assert_true(va__frame_name_ok(long_name, VA__FRAME_NAME_MAX));
  assert_false(va__frame_name_ok(long_name, VA__FRAME_NAME_MAX + 1));
}

static void fuzz_corpus_replays(void **state) {
  (void)state;
  DIR *d = opendir(VA_FRAME_CORPUS);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.')
      continue;
    char path[1024];
    static uint8_t buf[1 << 16];
    snprintf(path, sizeof(path), "%s/%s", VA_FRAME_CORPUS, e->d_name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len); /* aborts on a broken rule */
    n++;
  }
  closedir(d);
  assert_true(n > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hello_round_trips),
      cmocka_unit_test(auth_round_trips),
      cmocka_unit_test(calls_round_trip),
      cmocka_unit_test(replies_round_trip),
      cmocka_unit_test(the_largest_body_round_trips),
      cmocka_unit_test(a_stream_decodes_frame_by_frame),
      cmocka_unit_test(every_truncation_is_incomplete),
      cmocka_unit_test(every_corruption_is_refused_or_valid),
      cmocka_unit_test(named_malformations_are_refused),
      cmocka_unit_test(the_encoder_refuses_what_the_decoder_would),
      cmocka_unit_test(names_follow_their_alphabets),
      cmocka_unit_test(fuzz_corpus_replays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
