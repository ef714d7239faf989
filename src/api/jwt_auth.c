/* jwt_auth.c — see jwt_auth.h. The key's type decides the one algorithm
 * a token may name: a secret is HS256 only, an RSA key RS256 only, a
 * P-256 key ES256 only. libjwt verifies a signature with whatever
 * algorithm the token's header names, so the header is checked against
 * that after it: a token that says "none", or HS256 beside a public key
 * (whose PEM text would be taken as an HMAC secret), never passes. */
#include "jwt_auth.h"
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

struct va_jwt {
  unsigned char *key; /* the secret or the PEM text */
  size_t key_len;
  jwt_alg_t alg;
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

va_jwt *va_jwt_new(const va_jwt_config *config, char *why, size_t why_size) {
  bool secret = config->secret_file != NULL;
  if (secret == (config->public_key_file != NULL)) {
    snprintf(why, why_size, "give one key: a secret file or a public key");
    return NULL;
  }
  va_jwt *jwt = calloc(1, sizeof(*jwt));
  if (!jwt) {
    snprintf(why, why_size, "out of memory");
    return NULL;
  }
  const char *path = secret ? config->secret_file : config->public_key_file;
  jwt->key = read_key_file(path, &jwt->key_len, why, why_size);
  if (!jwt->key)
    goto fail;
  if (secret) {
    /* A file written by echo ends in a newline that is not the secret's. */
    while (jwt->key_len && (jwt->key[jwt->key_len - 1] == '\n' ||
                            jwt->key[jwt->key_len - 1] == '\r'))
      jwt->key[--jwt->key_len] = 0;
    if (jwt->key_len < SECRET_MIN) {
      snprintf(why, why_size, "%s: an HS256 secret has %d bytes or more", path,
               SECRET_MIN);
      goto fail;
    }
    jwt->alg = JWT_ALG_HS256;
  } else {
    jwt->alg = public_key_alg(jwt->key, jwt->key_len, path, why, why_size);
    if (jwt->alg == JWT_ALG_INVAL)
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
  if (jwt->key)
    memset(jwt->key, 0, jwt->key_len);
  free(jwt->key);
  free(jwt->issuer);
  free(jwt->audience);
  free(jwt);
}

const char *va_jwt_alg(const va_jwt *jwt) {
  return jwt_alg_str(jwt->alg);
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

const char *va_jwt_verify(const va_jwt *jwt, const char *token, size_t len,
                          int64_t now_s, char *sub) {
  if (len == 0 || len > VA_JWT_TOKEN_MAX || memchr(token, 0, len))
    return "the token is empty or longer than 8192 bytes";
  char text[VA_JWT_TOKEN_MAX + 1];
  memcpy(text, token, len);
  text[len] = 0;
  jwt_t *decoded = NULL;
  if (jwt_decode(&decoded, text, jwt->key, (int)jwt->key_len) != 0 || !decoded)
    return "the token is malformed or its signature does not verify";
  const char *why = NULL;
  char *crit = jwt_get_headers_json(decoded, "crit");
  char *grants = jwt_get_grants_json(decoded, NULL);
  json_t *claims = grants ? json_loads(grants, 0, NULL) : NULL;
  /* As written, too: libjwt reads "hs256" as HS256; RFC 7515 does not. */
  const char *alg = jwt_get_header(decoded, "alg");
  if (jwt_get_alg(decoded) != jwt->alg || !alg ||
      strcmp(alg, jwt_alg_str(jwt->alg)))
    why = jwt->alg == JWT_ALG_HS256   ? "the token must be signed with HS256"
          : jwt->alg == JWT_ALG_RS256 ? "the token must be signed with RS256"
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
