/* jwt_input.h — one fuzz input against va_jwt_verify (jwt_auth.h), shared
 * by the libFuzzer target fuzz_jwt.c and the unit test test_jwt.c, which
 * replays tests/fuzz/jwt-corpus. The first byte picks what the rest is:
 *   0: a whole token, as a client would send it;
 *   1: a token's claims, which this file signs with HS256 and the key;
 *   2: a token's header, which this file signs, with fixed good claims.
 * Signing here gets arbitrary claims and headers past the signature, to
 * the checks after it. Whatever comes, va_jwt_verify answers; a token
 * that passes has a subject of 1 to VA_JWT_SUB_MAX bytes, and a header
 * that passes names HS256 and no crit. */
#ifndef VA_TESTS_JWT_INPUT_H
#define VA_TESTS_JWT_INPUT_H

#include "api/jwt_auth.h"
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The secret the target's verifier is made with (the test writes it to a
 * file for va_jwt_new). */
#define JWT_INPUT_SECRET "fuzz-secret-of-more-than-32-bytes-0123456789"
enum { JWT_INPUT_NOW = 1800000000 };

/* base64url of n bytes, no padding, appended at out (room for 4n/3 + 4);
 * returns the length written. */
static size_t jwt_input_b64(const uint8_t *in, size_t n, char *out) {
  int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
  while (len > 0 && out[len - 1] == '=')
    len--;
  for (int i = 0; i < len; i++)
    out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
  return (size_t)len;
}

static void jwt_input_run(const va_jwt *jwt, const uint8_t *data, size_t size) {
  char sub[VA_JWT_SUB_MAX + 1];
  if (size == 0 || size > VA_JWT_TOKEN_MAX + 2) /* (past the 8 KiB edge) */
    return;
  const uint8_t *rest = data + 1;
  size_t n = size - 1;
  if (data[0] % 3 == 0) {
    const char *why =
        va_jwt_verify(jwt, (const char *)rest, n, JWT_INPUT_NOW, sub);
    if (!why && (strlen(sub) == 0 || strlen(sub) > VA_JWT_SUB_MAX))
      abort();
    return;
  }
  static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  static const char claims[] = "{\"sub\":\"ann\",\"exp\":1900000000}";
  const uint8_t *head = data[0] % 3 == 2 ? rest : (const uint8_t *)header;
  size_t head_len = data[0] % 3 == 2 ? n : strlen(header);
  const uint8_t *body = data[0] % 3 == 1 ? rest : (const uint8_t *)claims;
  size_t body_len = data[0] % 3 == 1 ? n : strlen(claims);
  char *token = malloc(2 * VA_JWT_TOKEN_MAX);
  if (!token)
    return;
  size_t len = jwt_input_b64(head, head_len, token);
  token[len++] = '.';
  len += jwt_input_b64(body, body_len, token + len);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned mac_len = 0;
  HMAC(EVP_sha256(), JWT_INPUT_SECRET, (int)strlen(JWT_INPUT_SECRET),
       (const unsigned char *)token, len, mac, &mac_len);
  token[len++] = '.';
  len += jwt_input_b64(mac, mac_len, token + len);
  const char *why = va_jwt_verify(jwt, token, len, JWT_INPUT_NOW, sub);
  if (!why && (strlen(sub) == 0 || strlen(sub) > VA_JWT_SUB_MAX))
    abort();
  if (!why && data[0] % 3 == 2) {
    /* (libjwt reads a header up to a NUL byte, as a C string) */
    json_t *h = json_loadb((const char *)head,
                           strnlen((const char *)head, head_len), 0, NULL);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    bool ok = alg && !strcmp(alg, "HS256") && !json_object_get(h, "crit");
    json_decref(h);
    if (!ok)
      abort(); /* a header the checks should have refused */
  }
  free(token);
}

#endif
