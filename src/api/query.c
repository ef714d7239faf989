/* query.c — see query.h. */
#include "query.h"
#include <stdio.h>
#include <string.h>

static int hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

long va_percent_decode(const char *s, size_t n, bool plus_is_space, char *out,
                       size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '+' && plus_is_space) {
      c = ' ';
    } else if (c == '%') {
      int h = n - i < 3 ? -1 : hex(s[i + 1]), l = h < 0 ? -1 : hex(s[i + 2]);
      if (l < 0)
        return -1;
      c = (char)(h * 16 + l);
      i += 2;
    }
    if (o + 1 >= cap)
      return -1;
    out[o++] = c;
  }
  if (cap == 0)
    return -1;
  out[o] = 0;
  return (long)o;
}

/* A query value [s, s + n) into out: false when it does not fit, is badly
 * encoded or holds a NUL byte. */
static bool decode(const char *s, size_t n, char *out, size_t cap) {
  long len = va_percent_decode(s, n, true, out, cap);
  return len >= 0 && strlen(out) == (size_t)len;
}

/* The next parameter of *q: its key and value spans; advances *q. */
static bool next_param(const char **q, const char **key, size_t *key_len,
                       const char **val, size_t *val_len) {
  const char *p = *q;
  if (!*p)
    return false;
  const char *end = strchr(p, '&');
  if (!end)
    end = p + strlen(p);
  const char *eq = memchr(p, '=', (size_t)(end - p));
  *key = p;
  *key_len = (size_t)((eq ? eq : end) - p);
  *val = eq ? eq + 1 : end;
  *val_len = (size_t)(end - *val);
  *q = *end ? end + 1 : end;
  return true;
}

bool va_query_get(const char *query, const char *key, char *out, size_t cap) {
  const char *k, *v;
  size_t kn, vn;
  size_t want = strlen(key);
  while (query && next_param(&query, &k, &kn, &v, &vn))
    if (kn == want && !memcmp(k, key, kn))
      return decode(v, vn, out, cap);
  return false;
}

bool va_query_has(const char *query, const char *key) {
  const char *k, *v;
  size_t kn, vn;
  size_t want = strlen(key);
  while (query && next_param(&query, &k, &kn, &v, &vn))
    if (kn == want && !memcmp(k, key, kn))
      return true;
  return false;
}

/* A key as an error message may show it. */
static void show_key(const char *k, size_t n, char *out) {
  if (n > VA_QUERY_BAD_MAX)
    n = VA_QUERY_BAD_MAX;
  for (size_t i = 0; i < n; i++)
    out[i] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789._~-",
                    k[i]) &&
                     k[i]
                 ? k[i]
                 : '?';
  out[n] = 0;
}

/* "a, b and c", or "none", into out. */
static void list_keys(const char *const *keys, char *out, size_t cap) {
  size_t n = 0;
  snprintf(out, cap, "%s", *keys ? "" : "none");
  for (const char *const *k = keys; *k && n < cap; k++)
    n += (size_t)snprintf(out + n, cap - n, "%s%s",
                          k == keys ? ""
                          : k[1]    ? ", "
                                    : " and ",
                          *k);
}

bool va_query_check(const char *query, const char *const *keys, char *why,
                    size_t why_size) {
  const char *k, *v;
  size_t kn, vn;
  char value[4096]; /* a listing's cursor: two hex digits per id byte */
  while (query && next_param(&query, &k, &kn, &v, &vn)) {
    if (kn == 0 && vn == 0)
      continue; /* "a=1&&b=2" */
    const char *const *key = keys;
    while (*key && !(strlen(*key) == kn && !memcmp(*key, k, kn)))
      key++;
    if (!*key || !decode(v, vn, value, sizeof(value))) {
      char bad[VA_QUERY_BAD_MAX + 1], takes[256];
      show_key(k, kn, bad);
      list_keys(keys, takes, sizeof(takes));
      if (*key)
        snprintf(why, why_size, "the query parameter %s is badly encoded", bad);
      else
        snprintf(why, why_size,
                 "unknown query parameter %s (this route takes %s)", bad,
                 takes);
      return false;
    }
  }
  return true;
}
