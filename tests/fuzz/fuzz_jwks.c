/* fuzz_jwks.c — libFuzzer target for the JSON Web Key Set reader
 * (src/api/jwks.h), which reads a file an operator points vactord at:
 * whatever the bytes, it returns a set or a refusal, never crashes; a set
 * it returns holds 1 to VA_JWKS_KEYS_MAX keys with distinct non-empty
 * kids, each a PEM public key OpenSSL reads back. */
#include "../../src/api/jwks.h"
#include <openssl/pem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void must(int ok) {
  if (!ok)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  va_jwk keys[VA_JWKS_KEYS_MAX];
  size_t n = 99;
  char why[160];
  if (va_jwks_read((const char *)data, size, keys, &n, why, sizeof(why))) {
    must(n == 0 && strlen(why) > 0);
    return 0;
  }
  must(n >= 1 && n <= VA_JWKS_KEYS_MAX);
  for (size_t i = 0; i < n; i++) {
    must(keys[i].kid[0] && keys[i].pem && keys[i].pem_len > 0);
    for (size_t k = 0; k < i; k++)
      must(strcmp(keys[i].kid, keys[k].kid) != 0);
    BIO *bio = BIO_new_mem_buf(keys[i].pem, (int)keys[i].pem_len);
    EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    must(pkey != NULL);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
  }
  va_jwks_free(keys, n);
  return 0;
}
