/* query.h — decoding a URL's parts: percent-escapes, and the query string
 * (a=b&c=d, form-encoded). */
#ifndef VA_API_QUERY_H
#define VA_API_QUERY_H

#include <stdbool.h>
#include <stddef.h>

/* Decodes [s, s + n) into out (cap bytes with the NUL): %XX escapes, and
 * '+' as a space when plus_is_space (form encoding). The length decoded
 * (NUL bytes included: the caller decides whether they may be there), or
 * -1 when an escape is bad or the result does not fit. */
long va_percent_decode(const char *s, size_t n, bool plus_is_space, char *out,
                       size_t cap);

/* Finds key in query (the part after '?') and decodes its value (%XX and
 * '+') into out (cap bytes with the NUL). False when the key is absent,
 * its value does not fit, is badly encoded or holds a NUL byte. */
bool va_query_get(const char *query, const char *key, char *out, size_t cap);

/* Whether key is in query at all (whatever its value). */
bool va_query_has(const char *query, const char *key);

enum { VA_QUERY_BAD_MAX = 64 }; /* the most of a bad key an error names */

/* Whether every parameter of query is one of keys (NULL-terminated) and
 * decodes cleanly; else why not, for a 400, in why (why_size bytes): "unknown
 * query parameter colour (this route takes q, status)" or "the query
 * parameter q is badly encoded". The key is shown as sent, at most
 * VA_QUERY_BAD_MAX bytes of it, a byte outside [A-Za-z0-9._~-] as '?'. */
bool va_query_check(const char *query, const char *const *keys, char *why,
                    size_t why_size);

#endif
