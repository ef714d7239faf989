/* link_auth.c — see link_auth.h. The HMAC is OpenSSL's; the nonces come
 * from the kernel (getrandom). */
#include "link_auth.h"
#include "../base/assert.h"
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <sys/random.h>
#include <vactor.h>

static const char LABEL[] = "vactor link v2";

int va__link_random(void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = getrandom((uint8_t *)buf + got, len - got, 0);
    if (n < 0 && errno != EINTR)
      return VA_ESYS;
    if (n > 0)
      got += (size_t)n;
  }
  return 0;
}

void va__link_proof(const uint8_t key[VA__LINK_KEY_LEN], va__link_role role,
                    const va__link_hello_pair *h,
                    uint8_t out[VA__FRAME_PROOF_LEN]) {
  VA_ASSERT(h->connector_len <= VA__FRAME_NODE_MAX &&
            h->acceptor_len <= VA__FRAME_NODE_MAX);
  /* label, role, nonce_c, nonce_a, then each name after its length: the
   * lengths keep ("ab", "c") apart from ("a", "bc"). */
  uint8_t msg[sizeof(LABEL) + 1 + 2 * VA__FRAME_NONCE_LEN + 2 +
              2 * VA__FRAME_NODE_MAX];
  uint8_t *p = msg;
  memcpy(p, LABEL, sizeof(LABEL)), p += sizeof(LABEL);
  *p++ = (uint8_t)role;
  memcpy(p, h->nonce_c, VA__FRAME_NONCE_LEN), p += VA__FRAME_NONCE_LEN;
  memcpy(p, h->nonce_a, VA__FRAME_NONCE_LEN), p += VA__FRAME_NONCE_LEN;
  *p++ = (uint8_t)h->connector_len;
  memcpy(p, h->connector, h->connector_len), p += h->connector_len;
  *p++ = (uint8_t)h->acceptor_len;
  memcpy(p, h->acceptor, h->acceptor_len), p += h->acceptor_len;
  unsigned len = 0;
  uint8_t *done = HMAC(EVP_sha256(), key, VA__LINK_KEY_LEN, msg,
                       (size_t)(p - msg), out, &len);
  /* HMAC fails only without memory for its context: a proof of zeros,
   * which never matches one computed. */
  if (!done || len != VA__FRAME_PROOF_LEN)
    memset(out, 0, VA__FRAME_PROOF_LEN);
}

bool va__link_proof_ok(const uint8_t key[VA__LINK_KEY_LEN], va__link_role role,
                       const va__link_hello_pair *h,
                       const uint8_t got[VA__FRAME_PROOF_LEN]) {
  uint8_t want[VA__FRAME_PROOF_LEN];
  va__link_proof(key, role, h, want);
  static const uint8_t zeros[VA__FRAME_PROOF_LEN];
  return CRYPTO_memcmp(want, zeros, sizeof(want)) != 0 &&
         CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}
