/* errors.c — names and messages of the VA_E* codes, from VA_ERRNO_MAP;
 * and the library's version. */
#include "vactor.h"

#define VA_STR(x) VA_STR_(x)
#define VA_STR_(x) #x

const char *va_version(void) {
  return VA_STR(VA_VERSION_MAJOR) "." VA_STR(VA_VERSION_MINOR) "." VA_STR(
      VA_VERSION_PATCH);
}

const char *va_strerror(int code) {
  switch (code) {
#define VA_ERRNO_MSG(name, value, msg)                                         \
  case VA_##name:                                                              \
    return msg;
    VA_ERRNO_MAP(VA_ERRNO_MSG)
#undef VA_ERRNO_MSG
  case 0:
    return "success";
  default:
    return "application error";
  }
}

const char *va_err_name(int code) {
  switch (code) {
#define VA_ERRNO_NAME(name, value, msg)                                        \
  case VA_##name:                                                              \
    return "VA_" #name;
    VA_ERRNO_MAP(VA_ERRNO_NAME)
#undef VA_ERRNO_NAME
  case 0:
    return "VA_OK";
  default:
    return "VA_UNKNOWN";
  }
}
