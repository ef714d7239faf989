/* jwks.c — see jwks.h. A key's numbers come base64url-encoded (RFC 7518
 * 6.2, 6.3); OpenSSL builds the public key from them and writes its PEM
 * text, which is all libjwt takes. */
#include "jwks.h"
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NUMBER_MAX = 1024 }; /* bytes of n (8192-bit RSA), x, y or e */

long va_b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap) {
  if (!s || n == 0 || n % 4 == 1 || n > cap / 3 * 4)
    return -1;
  unsigned char *std = malloc(n + 4);
  if (!std)
    return -1;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      free(std);
      return -1;
    }
    std[i] = c == '-' ? '+' : c == '_' ? '/' : (unsigned char)c;
  }
  size_t pad = (4 - n % 4) % 4;
  memset(std + n, '=', pad);
  int len = EVP_DecodeBlock(out, std, (int)(n + pad));
  free(std);
  return len < 0 ? -1 : len - (long)pad;
}

/* A JWK member that is a base64url number into out (NUMBER_MAX bytes). */
static long number_of(json_t *jwk, const char *name, unsigned char *out) {
  json_t *v = json_object_get(jwk, name);
  return va_b64url_decode(json_string_value(v), json_string_length(v), out,
                          NUMBER_MAX);
}

/* The PEM text of key pkey (malloc'd, into *pem): true, or false. */
static bool pem_of(EVP_PKEY *pkey, unsigned char **pem, size_t *len) {
  BIO *bio = BIO_new(BIO_s_mem());
  char *data;
  long n =
      bio && PEM_write_bio_PUBKEY(bio, pkey) ? BIO_get_mem_data(bio, &data) : 0;
  *pem = n > 0 ? malloc((size_t)n + 1) : NULL;
  if (*pem) {
    memcpy(*pem, data, (size_t)n);
    (*pem)[n] = 0;
    *len = (size_t)n;
  }
  BIO_free(bio);
  return *pem != NULL;
}

/* The public key params describe, of type name ("RSA", "EC"), or NULL. */
static EVP_PKEY *key_from(const char *name, OSSL_PARAM_BLD *bld) {
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
  EVP_PKEY *pkey = NULL;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
      EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
    pkey = NULL;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

/* An RSA JWK's key, or NULL when n or e is not a number. */
static EVP_PKEY *rsa_key(json_t *jwk) {
  unsigned char n[NUMBER_MAX], e[NUMBER_MAX];
  long n_len = number_of(jwk, "n", n);
  long e_len = number_of(jwk, "e", e);
  if (n_len <= 0 || e_len <= 0 || e_len > 8)
    return NULL;
  BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL);
  BIGNUM *bn_e = BN_bin2bn(e, (int)e_len, NULL);
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  EVP_PKEY *pkey =
      bn_n && bn_e && bld &&
              OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
              OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)
          ? key_from("RSA", bld)
          : NULL;
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  return pkey;
}

/* An EC JWK's key (P-256 only), or NULL. */
static EVP_PKEY *ec_key(json_t *jwk) {
  unsigned char x[NUMBER_MAX], y[NUMBER_MAX], point[65];
  if (!json_is_string(json_object_get(jwk, "crv")) ||
      strcmp(json_string_value(json_object_get(jwk, "crv")), "P-256") ||
      number_of(jwk, "x", x) != 32 || number_of(jwk, "y", y) != 32)
    return NULL;
  point[0] = 0x04; /* uncompressed: x then y */
  memcpy(point + 1, x, 32);
  memcpy(point + 33, y, 32);
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  EVP_PKEY *pkey =
      bld &&
              OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                              "prime256v1", 0) &&
              OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                               point, sizeof(point))
          ? key_from("EC", bld)
          : NULL;
  OSSL_PARAM_BLD_free(bld);
  return pkey;
}

/* One signing key of the set into *out: NULL, or why not. */
static const char *read_key(json_t *jwk, va_jwk *out) {
  const char *kty = json_string_value(json_object_get(jwk, "kty"));
  const char *alg = json_string_value(json_object_get(jwk, "alg"));
  json_t *kid = json_object_get(jwk, "kid");
  bool rsa = kty && !strcmp(kty, "RSA"), ec = kty && !strcmp(kty, "EC");
  if (!rsa && !ec)
    return "a key's kty is neither RSA nor EC";
  if (json_object_get(jwk, "alg") &&
      (!alg || strcmp(alg, rsa ? "RS256" : "ES256")))
    return "a key's alg is not RS256 (RSA) or ES256 (EC)";
  if (!json_is_string(kid) || json_string_length(kid) == 0 ||
      json_string_length(kid) > VA_JWKS_KID_MAX ||
      strlen(json_string_value(kid)) != json_string_length(kid))
    return "a key has no kid of 1-128 bytes";
  EVP_PKEY *pkey = rsa ? rsa_key(jwk) : ec_key(jwk);
  bool kept = pkey && pem_of(pkey, &out->pem, &out->pem_len);
  EVP_PKEY_free(pkey);
  if (!kept)
    return rsa ? "an RSA key's n and e are not base64url numbers"
               : "an EC key is not a P-256 point (crv, x, y)";
  memcpy(out->kid, json_string_value(kid), json_string_length(kid) + 1);
  return NULL;
}

/* Whether keys[0..n) has one of this kid. */
static bool kid_taken(const va_jwk *keys, size_t n, const char *kid) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(keys[i].kid, kid))
      return true;
  return false;
}

int va_jwks_read(const char *json, size_t len, va_jwk *keys, size_t *n,
                 char *why, size_t why_size) {
  *n = 0;
  json_t *set = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
  json_t *all = json_object_get(set, "keys");
  const char *wrong = json_is_array(all) ? NULL
                                         : "not a JSON Web Key Set "
                                           "({\"keys\": [...]})";
  size_t i;
  json_t *jwk;
  json_array_foreach(all, i, jwk) {
    const char *use = json_string_value(json_object_get(jwk, "use"));
    if (wrong || (use && !strcmp(use, "enc")))
      continue; /* (an encryption key: not for signatures) */
    va_jwk key = {0};
    if (!json_is_object(jwk))
      wrong = "a key is not a JSON object";
    else if (json_object_get(jwk, "use") && (!use || strcmp(use, "sig")))
      wrong = "a key's use is neither sig nor enc";
    else if (*n == VA_JWKS_KEYS_MAX)
      wrong = "the set holds more than 16 signing keys";
    else if (!(wrong = read_key(jwk, &key)) && kid_taken(keys, *n, key.kid)) {
      free(key.pem);
      wrong = "two keys have the same kid";
    }
    if (!wrong)
      keys[(*n)++] = key;
  }
  if (!wrong && *n == 0)
    wrong = "the set holds no signing key";
  json_decref(set);
  if (!wrong)
    return 0;
  snprintf(why, why_size, "%s", wrong);
  va_jwks_free(keys, *n);
  *n = 0;
  return -1;
}

void va_jwks_free(va_jwk *keys, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(keys[i].pem);
    keys[i].pem = NULL;
  }
}
