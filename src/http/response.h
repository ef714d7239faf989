/* response.h — internal to src/http/: what server.c needs of response.c
 * beyond the public API in server.h. */
#ifndef VA_HTTP_RESPONSE_H
#define VA_HTTP_RESPONSE_H

#include "server.h"

/* Makes *buf (of capacity *cap, malloc'd and owned by the caller, may be
 * NULL) hold at least need bytes, doubling from first. 0 or VA_ENOMEM
 * (*buf then unchanged). */
int va__http_grow(char **buf, size_t *cap, size_t need, size_t first);
/* Frees what the response owns (body, headers); not res itself. */
void va__http_response_free(va_http_response *res);
/* The reason phrase of status (static), "Unknown" for one not listed. */
const char *va__http_reason(int status);

#endif
