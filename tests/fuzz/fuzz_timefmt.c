/* fuzz_timefmt.c — libFuzzer target for Dapr's time formats (timefmt.c):
 * any bytes must parse or be refused with VA_EINVAL, never crash or read
 * out of bounds. Build: make fuzz; run: build/fuzz/fuzz_timefmt
 * tests/fuzz/timefmt-corpus. Crashers go into that corpus, which the unit
 * test test_timefmt replays. */
#include <stddef.h>
#include <stdint.h>
#include <vactor.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  va_duration d;
  int64_t x;
  int rc = va_parse_duration(s, size, &d);
  if (rc != 0 && rc != VA_EINVAL)
    __builtin_trap();
  rc = va_parse_period(s, size, &d, &x);
  if (rc != 0 && rc != VA_EINVAL)
    __builtin_trap();
  if (rc == 0 && x == 0)
    __builtin_trap(); /* zero repetitions must be refused */
  rc = va_parse_due(s, size, 1700000000000LL, &x);
  if (rc != 0 && rc != VA_EINVAL)
    __builtin_trap();
  return 0;
}
