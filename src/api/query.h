/* query.h — reading a URL's query string (a=b&c=d, form-encoded). */
#ifndef VA_API_QUERY_H
#define VA_API_QUERY_H

#include <stdbool.h>
#include <stddef.h>

/* Finds key in query (the part after '?') and decodes its value (%XX and
 * '+') into out (cap bytes with the NUL). False when the key is absent,
 * its value does not fit, is badly encoded or holds a NUL byte. */
bool va_query_get(const char *query, const char *key, char *out,
                  size_t cap);

/* Whether every parameter of query is one of keys (NULL-terminated) and
 * decodes cleanly; else *bad names the first one that is not (static
 * "?" when the key itself cannot be read). */
bool va_query_check(const char *query, const char *const *keys,
                    const char **bad);

#endif
