/* assert.h — VA_ASSERT(cond): an invariant the code relies on. Checked in
 * the builds with VA_ASSERTS set (the ASan and TSan builds, and Debug),
 * where a false one prints its text and place and aborts; in release
 * builds it compiles to nothing (cond is not evaluated, so it must have no
 * side effects). Not for input from outside: that is checked and answered
 * with an error, in every build. */
#ifndef VA_BASE_ASSERT_H
#define VA_BASE_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#if defined(VA_ASSERTS) && VA_ASSERTS
#define VA_ASSERT(cond)                                                        \
  ((cond) ? (void)0 : va_assert_failed(#cond, __FILE__, __LINE__, __func__))
#else
#define VA_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

_Noreturn static inline void va_assert_failed(const char *cond,
                                              const char *file, int line,
                                              const char *func) {
  fprintf(stderr, "%s:%d: %s: invariant failed: %s\n", file, line, func, cond);
  abort();
}

#endif
