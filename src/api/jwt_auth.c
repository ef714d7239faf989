/* jwt_auth.c — see jwt_auth.h. A key's type decides the one algorithm
 * a token may name: a secret is HS256 only, an RSA key RS256 only, a
 * P-256 key ES256 only. With a key set, the token's kid picks the key
 * (read from the header before libjwt looks at the token). libjwt verifies a
 * signature with whatever algorithm the token's header names, so the header is
 * checked against that after it: a token that says "none", or HS256 beside a
 * public key (whose PEM text would be taken as an HMAC secret), never passes.
 */
#include "jwt_auth.h"
#include "jwks.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
  KEY_FILE_MAX = 64 << 10, /* no key file is larger */
  SECRET_MIN = 32,         /* RFC 7518 3.2: as many bytes as the hash */
  RSA_BITS_MIN = 2048,
};

/* A key tokens may be signed with. */
typedef struct key {
  char kid[VA_JWKS_KID_MAX + 1]; /* "" from a secret or PEM file: any */
  unsigned char *bytes;          /* the secret or the PEM text (owned) */
  size_t len;
  jwt_alg_t alg;
} key;

struct va_jwt {
  key keys[VA_JWKS_KEYS_MAX];
  size_t n_keys;           /* 1 but from a key set */
  char *issuer, *audience; /* NULL: not checked */
};

/* The whole of a regular file of at most KEY_FILE_MAX bytes (malloc'd,
 * NUL-terminated), or NULL with why. Opened without blocking, so that a
 * FIFO or a device named by mistake is refused, not waited on. */
static unsigned char *read_key_file(const char *path, size_t *len, char *why,
                                    size_t why_size) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size > KEY_FILE_MAX) {
    snprintf(why, why_size, "%s: %s", path,
             fd < 0 ? strerror(errno) : "not a regular file of at most 64 KiB");
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  unsigned char *buf = malloc((size_t)st.st_size + 1);
  ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
  close(fd);
  if (n != st.st_size) { /* (a regular file this small reads in one go) */
    snprintf(why, why_size, "%s: cannot be read", path);
    free(buf);
    return NULL;
  }
  buf[n] = 0;
  *len = (size_t)n;
  return buf;
}

/* The algorithm a PEM public key signs for, or JWT_ALG_INVAL with why. */
static jwt_alg_t public_key_alg(const unsigned char *pem, size_t len,
                                const char *path, char *why, size_t why_size) {
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  jwt_alg_t alg = JWT_ALG_INVAL;
  char group[64] = "";
  size_t group_len;
  if (!pkey)
    snprintf(why, why_size, "%s: not a PEM public key (BEGIN PUBLIC KEY)",
             path);
  else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
           EVP_PKEY_get_bits(pkey) >= RSA_BITS_MIN)
    alg = JWT_ALG_RS256;
  else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC &&
           EVP_PKEY_get_group_name(pkey, group, sizeof(group), &group_len) &&
           !strcmp(group, "prime256v1"))
    alg = JWT_ALG_ES256;
  else
    snprintf(why, why_size,
             "%s: the key is neither RSA of %d bits or more (RS256) nor EC "
             "on P-256 (ES256)",
             path, RSA_BITS_MIN);
  EVP_PKEY_free(pkey);
  return alg;
}

static bool copy_string(const char *s, char **out) {
  *out = s ? strdup(s) : NULL;
  return !s || *out;
}

/* The keys of a key set file (jwks.h) into jwt: true, or false with why. */
static bool read_key_set(va_jwt *jwt, const unsigned char *text, size_t len,
                         const char *path, char *why, size_t why_size) {
  va_jwk set[VA_JWKS_KEYS_MAX];
  size_t n;
  char what[160];
  if (va_jwks_read((const char *)text, len, set, &n, what, sizeof(what))) {
    snprintf(why, why_size, "%s: %s", path, what);
    return false;
  }
  bool ok = true;
  for (size_t i = 0; i < n; i++) {
    key *k = &jwt->keys[jwt->n_keys++];
    memcpy(k->kid, set[i].kid, sizeof(k->kid));
    k->bytes = set[i].pem, k->len = set[i].pem_len;
    set[i].pem = NULL; /* (jwt's now) */
    if (ok && (k->alg = public_key_alg(k->bytes, k->len, path, why,
                                       why_size)) == JWT_ALG_INVAL)
      ok = false;
  }
  return ok;
}

/* The one key of a secret file (HS256) or a PEM file into jwt. */
static bool read_one_key(va_jwt *jwt, bool secret, unsigned char *bytes,
                         size_t len, const char *path, char *why,
                         size_t why_size) {
  key *k = &jwt->keys[jwt->n_keys++];
  k->bytes = bytes, k->len = len;
  if (!secret) {
    k->alg = public_key_alg(k->bytes, k->len, path, why, why_size);
    return k->alg != JWT_ALG_INVAL;
  }
  /* A file written by echo ends in a newline that is not the secret's. */
  while (k->len &&
         (k->bytes[k->len - 1] == '\n' || k->bytes[k->len - 1] == '\r'))
    k->bytes[--k->len] = 0;
  k->alg = JWT_ALG_HS256;
  if (k->len >= SECRET_MIN)
    return true;
  snprintf(why, why_size, "%s: an HS256 secret has %d bytes or more", path,
           SECRET_MIN);
  return false;
}

va_jwt *va_jwt_new(const va_jwt_config *config, char *why, size_t why_size) {
  int files =
      !!config->secret_file + !!config->public_key_file + !!config->jwks_file;
  if (files != 1) {
    snprintf(why, why_size,
             "give one key: a secret file, a public key or a key set");
    return NULL;
  }
  va_jwt *jwt = calloc(1, sizeof(*jwt));
  if (!jwt) {
    snprintf(why, why_size, "out of memory");
    return NULL;
  }
  const char *path = config->secret_file       ? config->secret_file
                     : config->public_key_file ? config->public_key_file
                                               : config->jwks_file;
  size_t len;
  unsigned char *text = read_key_file(path, &len, why, why_size);
  if (!text)
    goto fail;
  if (config->jwks_file) {
    bool ok = read_key_set(jwt, text, len, path, why, why_size);
    free(text);
    if (!ok)
      goto fail;
  } else if (!read_one_key(jwt, config->secret_file != NULL, text, len, path,
                           why, why_size)) {
    goto fail;
  }
  if (!copy_string(config->issuer, &jwt->issuer) ||
      !copy_string(config->audience, &jwt->audience)) {
    snprintf(why, why_size, "out of memory");
    goto fail;
  }
  return jwt;
fail:
  va_jwt_free(jwt);
  return NULL;
}

void va_jwt_free(va_jwt *jwt) {
  if (!jwt)
    return;
  for (size_t i = 0; i < jwt->n_keys; i++) {
    memset(jwt->keys[i].bytes, 0, jwt->keys[i].len);
    free(jwt->keys[i].bytes);
  }
  free(jwt->issuer);
  free(jwt->audience);
  free(jwt);
}

const char *va_jwt_alg(const va_jwt *jwt) {
  bool rs = false, es = false;
  for (size_t i = 0; i < jwt->n_keys; i++) {
    rs |= jwt->keys[i].alg == JWT_ALG_RS256;
    es |= jwt->keys[i].alg == JWT_ALG_ES256;
  }
  return rs && es ? "RS256,ES256" : jwt_alg_str(jwt->keys[0].alg);
}

/* A NumericDate claim (RFC 7519 2) as whole seconds in *out: false when
 * it is there but not a number. */
static bool numeric_date(json_t *claims, const char *name, bool *present,
                         int64_t *out) {
  json_t *v = json_object_get(claims, name);
  *present = v != NULL;
  if (!v)
    return true;
  if (!json_is_number(v))
    return false;
  double d = json_number_value(v);
  *out = d >= 9e15    ? INT64_C(9000000000000000)
         : d <= -9e15 ? -INT64_C(9000000000000000)
                      : (int64_t)d;
  return true;
}

static bool audience_holds(json_t *aud, const char *want) {
  if (json_is_string(aud))
    return !strcmp(json_string_value(aud), want);
  size_t i;
  json_t *a;
  json_array_foreach(aud, i, a) {
    if (json_is_string(a) && !strcmp(json_string_value(a), want))
      return true;
  }
  return false;
}

/* The registered claims, checked. */
static const char *check_claims(const va_jwt *jwt, json_t *claims,
                                int64_t now_s, char *sub) {
  int64_t exp = 0, nbf = 0;
  bool has_exp, has_nbf;
  if (!numeric_date(claims, "exp", &has_exp, &exp) || !has_exp)
    return "the token has no exp (expiry) claim, or it is not a number";
  if (now_s >= exp + VA_JWT_LEEWAY_S)
    return "the token has expired";
  if (!numeric_date(claims, "nbf", &has_nbf, &nbf))
    return "the token's nbf claim is not a number";
  if (has_nbf && now_s + VA_JWT_LEEWAY_S < nbf)
    return "the token is not valid yet (nbf)";
  const char *iss = json_string_value(json_object_get(claims, "iss"));
  if (jwt->issuer && (!iss || strcmp(iss, jwt->issuer)))
    return "the token's issuer (iss) is not the one this server trusts";
  if (jwt->audience &&
      !audience_holds(json_object_get(claims, "aud"), jwt->audience))
    return "the token is not meant for this server (aud)";
  json_t *s = json_object_get(claims, "sub");
  size_t n = json_string_length(s);
  if (!json_is_string(s) || n == 0 || n > VA_JWT_SUB_MAX ||
      memchr(json_string_value(s), 0, n))
    return "the token's sub (the user) is missing or not 1-128 bytes";
  memcpy(sub, json_string_value(s), n + 1);
  return NULL;
}

/* The key the token's header names by its kid (text: the NUL-ended
 * token), in *out: NULL, or why there is none. Nothing in the header is
 * trusted but to pick a key: libjwt then checks the signature with it. */
static const char *key_of(const va_jwt *jwt, const char *text,
                          const key **out) {
  if (jwt->n_keys == 1 && !jwt->keys[0].kid[0]) {
    *out = &jwt->keys[0]; /* one key, no kid: no header to read for it */
    return NULL;
  }
  const char *dot = strchr(text, '.');
  unsigned char header[VA_JWT_TOKEN_MAX];
  long n =
      dot ? va_b64url_decode(text, (size_t)(dot - text), header, sizeof(header))
          : -1;
  json_t *h =
      n > 0 ? json_loadb((const char *)header, (size_t)n, 0, NULL) : NULL;
  json_t *kid = json_object_get(h, "kid");
  const char *why = !json_is_object(h) ? "the token is malformed"
                    : kid && !json_is_string(kid)
                        ? "the token's kid is not a string"
                        : NULL;
  *out = NULL;
  for (size_t i = 0; !why && !*out && i < jwt->n_keys; i++)
    if (!jwt->keys[i].kid[0] ||
        (kid ? !strcmp(jwt->keys[i].kid, json_string_value(kid))
             : jwt->n_keys == 1))
      *out = &jwt->keys[i];
  if (!why && !*out)
    why = kid ? "the token's key (kid) is not one this server trusts"
              : "the token names no key (kid), and this server trusts "
                "several";
  json_decref(h);
  return why;
}

const char *va_jwt_verify(const va_jwt *jwt, const char *token, size_t len,
                          int64_t now_s, char *sub) {
  if (len == 0 || len > VA_JWT_TOKEN_MAX || memchr(token, 0, len))
    return "the token is empty or longer than 8192 bytes";
  char text[VA_JWT_TOKEN_MAX + 1];
  memcpy(text, token, len);
  text[len] = 0;
  const key *k;
  const char *no_key = key_of(jwt, text, &k);
  if (no_key)
    return no_key;
  jwt_t *decoded = NULL;
  if (jwt_decode(&decoded, text, k->bytes, (int)k->len) != 0 || !decoded)
    return "the token is malformed or its signature does not verify";
  const char *why = NULL;
  char *crit = jwt_get_headers_json(decoded, "crit");
  char *grants = jwt_get_grants_json(decoded, NULL);
  json_t *claims = grants ? json_loads(grants, 0, NULL) : NULL;
  /* As written, too: libjwt reads "hs256" as HS256; RFC 7515 does not. */
  const char *alg = jwt_get_header(decoded, "alg");
  if (jwt_get_alg(decoded) != k->alg || !alg ||
      strcmp(alg, jwt_alg_str(k->alg)))
    why = k->alg == JWT_ALG_HS256   ? "the token must be signed with HS256"
          : k->alg == JWT_ALG_RS256 ? "the token must be signed with RS256"
                                    : "the token must be signed with ES256";
  else if (crit)
    why = "the token names critical header extensions (crit), which this "
          "server does not implement";
  else if (!json_is_object(claims))
    why = "the token's claims are not a JSON object";
  else
    why = check_claims(jwt, claims, now_s, sub);
  json_decref(claims);
  free(grants);
  free(crit);
  jwt_free(decoded);
  return why;
}
