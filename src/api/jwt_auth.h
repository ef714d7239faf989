/* jwt_auth.h — the users' JSON Web Tokens (RFC 7519): the key they are
 * signed with, loaded once, and the check of one token. The signature is
 * libjwt's; the claims (exp, nbf, iss, aud, sub) are checked here, from
 * the token's own JSON. Used by the routes (routes.h). */
#ifndef VA_API_JWT_AUTH_H
#define VA_API_JWT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  VA_JWT_TOKEN_MAX = 8192, /* the longest token looked at */
  VA_JWT_SUB_MAX = 128,    /* the longest subject (a user id) */
  VA_JWT_LEEWAY_S = 30,    /* the clock skew allowed on exp and nbf */
};

/* Where the keys come from: exactly one of the three files. */
typedef struct va_jwt_config {
  const char *secret_file;     /* HS256: a secret of 32 bytes or more */
  const char *public_key_file; /* PEM: RSA (RS256) or EC P-256 (ES256) */
  /* A JSON Web Key Set (jwks.h): up to 16 such public keys, a token's
   * header "kid" says which one signed it (several during a rotation). */
  const char *jwks_file;
  const char *issuer;   /* iss must equal it (NULL: not checked) */
  const char *audience; /* aud must hold it (NULL: not checked) */
} va_jwt_config;

typedef struct va_jwt va_jwt;

/* Reads the key (and copies the config's strings). NULL when the file or
 * its key will not do, with why (a sentence) in why[why_size]. */
va_jwt *va_jwt_new(const va_jwt_config *config, char *why, size_t why_size);
void va_jwt_free(va_jwt *jwt);
/* The algorithms tokens may be signed with: "HS256", "RS256", "ES256",
 * or both of the last two ("RS256,ES256") for a key set holding both
 * (static). */
const char *va_jwt_alg(const va_jwt *jwt);

/* Checks token (len bytes, not NUL-terminated) at now_s (Unix seconds):
 * signed with the key its header's kid names (any kid, or none, with a
 * single key from a secret or PEM file; with a key set, none only when
 * it holds one key) by that key's algorithm (never "none", never
 * another one), exp in the future, nbf (if any) in the past, iss and aud
 * as configured, and a string sub of 1 to VA_JWT_SUB_MAX bytes, copied to
 * sub (VA_JWT_SUB_MAX + 1 bytes). NULL when it passes, else why not (a
 * static sentence). Safe from any thread. */
const char *va_jwt_verify(const va_jwt *jwt, const char *token, size_t len,
                          int64_t now_s, char *sub);

#endif
