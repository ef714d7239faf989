/* web_assets.h — the dashboard's files (web/index.html, dashboard.js,
 * dashboard.css), embedded in the binary at build time by
 * web/embed_assets.cmake. The data is static and read-only: nothing to free. */
#ifndef VA_WEB_ASSETS_H
#define VA_WEB_ASSETS_H

#include <stddef.h>

typedef struct va_web_asset {
  const char *name;         /* "index.html", "dashboard.js" */
  const char *content_type; /* "text/html; charset=utf-8", ... */
  const unsigned char *data;
  size_t len;
} va_web_asset;

/* The asset called exactly `name` (name_len bytes, not NUL-terminated), or
 * NULL if there is none. */
const va_web_asset *va_web_asset_find(const char *name, size_t name_len);

#endif
