/* atomics.h — C11 atomics with the memory order in the name, so that every
 * call site says which barrier it relies on (see docs/architecture.md). */
#ifndef VA_BASE_ATOMICS_H
#define VA_BASE_ATOMICS_H

#include <stdatomic.h>
#include <stdint.h>

#define va_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define va_load_acq(p) atomic_load_explicit((p), memory_order_acquire)
#define va_store_relaxed(p, v)                                                 \
  atomic_store_explicit((p), (v), memory_order_relaxed)
#define va_store_rel(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define va_add_relaxed(p, v)                                                   \
  atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define va_add_rel(p, v)                                                       \
  atomic_fetch_add_explicit((p), (v), memory_order_release)
#define va_sub_relaxed(p, v)                                                   \
  atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)

/* A statistics counter: written by one thread, read by any. */
typedef _Atomic uint64_t va_counter;
#define va_count(c, n) va_store_relaxed(&(c), va_load_relaxed(&(c)) + (n))

#endif
