/* jwks.h — a JSON Web Key Set (RFC 7517) file, as an identity provider
 * publishes it, turned into the PEM public keys libjwt verifies with:
 * RSA keys ({"kty": "RSA", "n", "e"}) and EC keys on P-256 ({"kty": "EC",
 * "crv": "P-256", "x", "y"}), each with its "kid". Keys for encryption
 * ("use": "enc") are skipped; any other key the set holds must be one of
 * these, or the set is refused. Used by jwt_auth.c, once, at start. */
#ifndef VA_API_JWKS_H
#define VA_API_JWKS_H

#include <stdbool.h>
#include <stddef.h>

enum {
  VA_JWKS_KEYS_MAX = 16, /* keys a set may hold (rotation needs two) */
  VA_JWKS_KID_MAX = 128, /* bytes of a kid */
};

/* One key of a set: its kid (NUL-ended) and its PEM text (malloc'd,
 * owned by the caller once read; the key's type is in it). */
typedef struct va_jwk {
  char kid[VA_JWKS_KID_MAX + 1];
  unsigned char *pem;
  size_t pem_len;
} va_jwk;

/* Reads a key set (json, len bytes: untrusted) into keys[0..*n): 0, or
 * -1 with why (a sentence) in why[why_size] and nothing to free. The
 * set must hold 1 to VA_JWKS_KEYS_MAX signing keys, each with a kid no
 * other key has. Whether a key is strong enough (RSA bits) is the
 * caller's to check on its PEM. */
int va_jwks_read(const char *json, size_t len, va_jwk *keys, size_t *n,
                 char *why, size_t why_size);
/* Decodes base64url without padding (RFC 7515 2: s, n bytes) into out
 * (at most cap bytes): its length, or -1 when s is not that or would
 * not fit. */
long va_b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap);
/* Frees the PEM texts of keys[0..n). */
void va_jwks_free(va_jwk *keys, size_t n);

#endif
