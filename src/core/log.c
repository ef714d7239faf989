/* log.c — the runtime's log events: formatted here, handed to the
 * callback the program set in va_config (vactord writes them as logfmt
 * lines on stderr). Nothing is formatted when no callback is set. */
#include "runtime.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { FIELDS_MAX = 1024 };

void va_log(va_runtime *rt, va_log_level level, const char *msg,
            const char *fmt, ...) {
  if (!rt || !rt->cfg.log || !msg)
    return;
  char fields[FIELDS_MAX] = "";
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fields, sizeof(fields), fmt, ap);
    va_end(ap);
  }
  rt->cfg.log(rt->cfg.log_user, level, msg, fields);
}

char *va_log_quote(const char *s, size_t len, char *out, size_t size) {
  static const char hex[] = "0123456789abcdef";
  if (!out || size < 3) {
    if (out && size)
      *out = 0;
    return out;
  }
  size_t at = 0, room = size - 2; /* the closing quote and the NUL */
  out[at++] = '"';
  for (size_t i = 0; s && i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[4];
    size_t n = 0;
    if (c == '"' || c == '\\') {
      esc[n++] = '\\';
      esc[n++] = (char)c;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      esc[n++] = '\\';
      esc[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
    } else if (c < 0x20 || c == 0x7f) {
      esc[n++] = '\\';
      esc[n++] = 'x';
      esc[n++] = hex[c >> 4];
      esc[n++] = hex[c & 15];
    } else {
      esc[n++] = (char)c;
    }
    if (at + n > room)
      break;
    memcpy(out + at, esc, n);
    at += n;
  }
  out[at++] = '"';
  out[at] = 0;
  return out;
}
