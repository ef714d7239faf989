/* fuzz_jwt.c — libFuzzer target for the users' JWTs (jwt_auth.c): tokens
 * as a client sends them, and claims and headers signed with the key so
 * that they reach the checks past the signature (jwt_input.h). Any crash
 * or sanitizer report is a finding. Build: make fuzz; run:
 * build/fuzz/tests/fuzz_jwt tests/fuzz/jwt-corpus. Crashers go into that
 * corpus, which the unit test test_jwt replays. */
#include "jwt_input.h"
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static va_jwt *jwt; /* made once, kept for the run */
  if (!jwt) {
    char path[] = "/tmp/fuzz-jwt-XXXXXX", why[256];
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, JWT_INPUT_SECRET, strlen(JWT_INPUT_SECRET)) < 0)
      abort();
    close(fd);
    jwt = va_jwt_new(&(va_jwt_config){.secret_file = path}, why, sizeof(why));
    unlink(path);
    if (!jwt) {
      fprintf(stderr, "fuzz_jwt: %s\n", why);
      abort();
    }
  }
  jwt_input_run(jwt, data, size);
  return 0;
}
