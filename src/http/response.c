/* response.c — building a response: the body (va_http_write, printf,
 * error, with its code and message JSON-escaped), header lines (va_http_header,
 * which refuses what could split or smuggle a response), reason phrases, and
 * the buffer growth the server's connections share. */
#include "response.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int va__http_grow(char **buf, size_t *cap, size_t need, size_t first) {
  if (need <= *cap)
    return 0;
  size_t n = *cap ? *cap : first;
  while (n < need)
    n *= 2;
  char *more = realloc(*buf, n);
  if (!more)
    return VA_ENOMEM;
  *buf = more;
  *cap = n;
  return 0;
}

int va_http_write(va_http_response *res, const void *data, size_t len) {
  if (!len)
    return 0;
  if (va__http_grow(&res->body, &res->cap, res->len + len, 256) != 0)
    return VA_ENOMEM;
  memcpy(res->body + res->len, data, len);
  res->len += len;
  return 0;
}

int va_http_printf(va_http_response *res, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0)
    return VA_EINVAL;
  if ((size_t)n < sizeof(buf))
    return va_http_write(res, buf, (size_t)n);
  char *big = malloc((size_t)n + 1); /* a long line: formatted again */
  if (!big)
    return VA_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  int rc = va_http_write(res, big, (size_t)n);
  free(big);
  return rc;
}

enum { ERROR_MESSAGE_MAX = 1024 }; /* bytes of a message kept */

/* The length of the UTF-8 sequence at s (of n bytes), 0 when it is not a
 * well-formed one (RFC 3629: no overlong form, no surrogate, <= U+10FFFF). */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t len = c < 0x80                 ? 1
               : c >= 0xc2 && c <= 0xdf ? 2
               : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4
                                        : 0;
  if (!len || len > n)
    return 0;
  for (size_t i = 1; i < len; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
      (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
    return 0;
  return len;
}

/* Appends s (n bytes) as the inside of a JSON string: quote, backslash and
 * control bytes escaped, bytes that are not well-formed UTF-8 replaced by
 * U+FFFD. out has room for 6 bytes per byte of s; returns the end. */
static char *json_escape(char *out, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    size_t len = utf8_sequence(p + i, n - i);
    if (c == '"' || c == '\\') {
      *out++ = '\\';
      *out++ = (char)c;
    } else if (c < 0x20 || c == 0x7f) {
      memcpy(out, "\\u00", 4);
      out[4] = hex[c >> 4];
      out[5] = hex[c & 15];
      out += 6;
    } else if (len) {
      memcpy(out, p + i, len);
      out += len;
      i += len;
      continue;
    } else {
      memcpy(out, "\xef\xbf\xbd", 3); /* U+FFFD */
      out += 3;
    }
    i++;
  }
  return out;
}

void va_http_error(va_http_response *res, int status, const char *code,
                   const char *message) {
  res->status = status;
  res->content_type = "application/json";
  res->len = 0;
  /* Messages may quote what the client sent (an If-Match, a path): every
   * byte is escaped, and a long one is cut (its tail then may be U+FFFD). */
  size_t cl = code ? strlen(code) : 0;
  size_t ml = message ? strnlen(message, ERROR_MESSAGE_MAX + 1) : 0;
  bool cut = ml > ERROR_MESSAGE_MAX;
  if (cut)
    ml = ERROR_MESSAGE_MAX;
  static const char head[] = "{\"errorCode\":\"", mid[] = "\",\"message\":\"",
                    tail[] = "\"}";
  size_t most = sizeof(head) + sizeof(mid) + sizeof(tail) + 6 * (cl + ml) + 3;
  if (va__http_grow(&res->body, &res->cap, most, 256) != 0)
    return; /* out of memory: the status with an empty body */
  char *p = res->body;
  memcpy(p, head, sizeof(head) - 1);
  p = json_escape(p + sizeof(head) - 1, code, cl);
  memcpy(p, mid, sizeof(mid) - 1);
  p = json_escape(p + sizeof(mid) - 1, message, ml);
  if (cut) {
    memcpy(p, "...", 3);
    p += 3;
  }
  memcpy(p, tail, sizeof(tail) - 1);
  res->len = (size_t)(p + sizeof(tail) - 1 - res->body);
}

/* A name of RFC 9110's token characters. */
static bool token_name(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
      return false;
  return true;
}

/* No CR, LF or other control character (tab allowed). */
static bool field_value(const char *s) {
  for (; *s; s++)
    if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
      return false;
  return true;
}

/* The headers queue_response writes itself. */
static bool server_header(const char *name) {
  return !strcasecmp(name, "Content-Length") ||
         !strcasecmp(name, "Content-Type") || !strcasecmp(name, "Connection") ||
         !strcasecmp(name, "Transfer-Encoding");
}

int va_http_header(va_http_response *res, const char *name, const char *value) {
  if (!res || !name || !value || !token_name(name) || !field_value(value) ||
      server_header(name))
    return VA_EINVAL;
  size_t nl = strlen(name), vl = strlen(value);
  size_t need = res->headers_len + nl + vl + 4;
  if (va__http_grow(&res->headers, &res->headers_cap, need, 128) != 0)
    return VA_ENOMEM;
  char *p = res->headers + res->headers_len;
  memcpy(p, name, nl);
  memcpy(p + nl, ": ", 2);
  memcpy(p + nl + 2, value, vl);
  memcpy(p + nl + 2 + vl, "\r\n", 2);
  res->headers_len = need;
  return 0;
}

void va__http_response_free(va_http_response *res) {
  free(res->body);
  free(res->headers);
  free(res->own_type);
}

int va_http_content_type(va_http_response *res, const char *type) {
  for (const char *p = type; *p; p++)
    if ((unsigned char)*p < 0x20 && *p != '\t')
      return VA_EINVAL;
  char *copy = strdup(type);
  if (!copy)
    return VA_ENOMEM;
  free(res->own_type);
  res->own_type = copy;
  res->content_type = *copy ? copy : NULL;
  return 0;
}

const char *va__http_reason(int status) {
  /* clang-format off */
  switch (status) {
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 412: return "Precondition Failed";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 422: return "Unprocessable Content";
  case 428: return "Precondition Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
  /* clang-format on */
}
