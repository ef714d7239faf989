/* test_jwt.c — the users' JWTs (api/jwt_auth.c) at their edges: the
 * leeway on exp and nbf to the second, the subject's length, the claims'
 * types, issuer and audience, the secret's length and its file's trailing
 * newline; and the fuzz corpus (tests/fuzz/jwt-corpus) replayed. The
 * attacks with real keys (none, algorithm confusion, RS256, ES256) are in
 * tests/integration/jwt_auth_test.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "../fuzz/jwt_input.h"
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

enum { NOW = JWT_INPUT_NOW };

/* A verifier for the secret (written to a file as given). */
static va_jwt *verifier(const char *secret, const char *issuer,
                        const char *audience) {
  char path[] = "/tmp/test-jwt-XXXXXX", why[256];
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, secret, strlen(secret)), (ssize_t)strlen(secret));
  close(fd);
  va_jwt *jwt = va_jwt_new(&(va_jwt_config){.secret_file = path,
                                            .issuer = issuer,
                                            .audience = audience},
                           why, sizeof(why));
  unlink(path);
  return jwt;
}

/* An HS256 token of claims (JSON), signed with secret. */
static char *token(const char *secret, const char *claims) {
  static char out[4096];
  static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  size_t len = jwt_input_b64((const uint8_t *)header, strlen(header), out);
  out[len++] = '.';
  len += jwt_input_b64((const uint8_t *)claims, strlen(claims), out + len);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned mac_len = 0;
  HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)out, len,
       mac, &mac_len);
  out[len++] = '.';
  len += jwt_input_b64(mac, mac_len, out + len);
  out[len] = 0;
  return out;
}

/* va_jwt_verify of the claims, signed with the test's secret. */
static const char *verify(const va_jwt *jwt, const char *claims, char *sub) {
  const char *t = token(JWT_INPUT_SECRET, claims);
  return va_jwt_verify(jwt, t, strlen(t), NOW, sub);
}

static void leeway_to_the_second(void **state) {
  (void)state;
  va_jwt *jwt = verifier(JWT_INPUT_SECRET, NULL, NULL);
  char sub[VA_JWT_SUB_MAX + 1], claims[256];
  assert_non_null(jwt);
  snprintf(claims, sizeof(claims), "{\"sub\":\"ann\",\"exp\":%d}",
           NOW - VA_JWT_LEEWAY_S + 1);
  assert_null(verify(jwt, claims, sub));
  assert_string_equal(sub, "ann");
  snprintf(claims, sizeof(claims), "{\"sub\":\"ann\",\"exp\":%d}",
           NOW - VA_JWT_LEEWAY_S);
  assert_non_null(verify(jwt, claims, sub));
  snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%d,\"nbf\":%d}",
           NOW + 60, NOW + VA_JWT_LEEWAY_S);
  assert_null(verify(jwt, claims, sub));
  snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%d,\"nbf\":%d}",
           NOW + 60, NOW + VA_JWT_LEEWAY_S + 1);
  assert_non_null(verify(jwt, claims, sub));
  /* A fraction counts as the second it is in; far dates do not wrap. */
  assert_null(verify(jwt, "{\"sub\":\"a\",\"exp\":1.9e9}", sub));
  assert_null(verify(jwt, "{\"sub\":\"a\",\"exp\":1e300}", sub));
  assert_non_null(verify(jwt, "{\"sub\":\"a\",\"exp\":-1e300}", sub));
  assert_non_null(verify(jwt, "{\"sub\":\"a\",\"exp\":\"1900000000\"}", sub));
  assert_non_null(verify(jwt, "{\"sub\":\"a\"}", sub));
  assert_non_null(
      verify(jwt, "{\"sub\":\"a\",\"exp\":1900000000,\"nbf\":\"x\"}", sub));
  va_jwt_free(jwt);
}

static void the_subject(void **state) {
  (void)state;
  va_jwt *jwt = verifier(JWT_INPUT_SECRET, NULL, NULL);
  char sub[VA_JWT_SUB_MAX + 1], claims[512], name[VA_JWT_SUB_MAX + 2];
  memset(name, 'u', sizeof(name));
  name[VA_JWT_SUB_MAX] = 0;
  snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"exp\":1900000000}", name);
  assert_null(verify(jwt, claims, sub));
  assert_string_equal(sub, name);
  name[VA_JWT_SUB_MAX] = 'u', name[VA_JWT_SUB_MAX + 1] = 0;
  snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"exp\":1900000000}", name);
  assert_non_null(verify(jwt, claims, sub));
  assert_non_null(verify(jwt, "{\"sub\":\"\",\"exp\":1900000000}", sub));
  assert_non_null(
      verify(jwt, "{\"sub\":\"a\\u0000b\",\"exp\":1900000000}", sub));
  assert_non_null(verify(jwt, "{\"sub\":[\"ann\"],\"exp\":1900000000}", sub));
  assert_non_null(verify(jwt, "[1]", sub));
  va_jwt_free(jwt);
}

static void issuer_and_audience(void **state) {
  (void)state;
  va_jwt *jwt = verifier(JWT_INPUT_SECRET, "idp", "api");
  char sub[VA_JWT_SUB_MAX + 1];
  assert_null(verify(
      jwt, "{\"sub\":\"a\",\"exp\":1900000000,\"iss\":\"idp\",\"aud\":\"api\"}",
      sub));
  assert_null(verify(jwt,
                     "{\"sub\":\"a\",\"exp\":1900000000,\"iss\":\"idp\","
                     "\"aud\":[\"x\",\"api\"]}",
                     sub));
  assert_non_null(verify(
      jwt, "{\"sub\":\"a\",\"exp\":1900000000,\"iss\":\"idp\",\"aud\":[]}",
      sub));
  assert_non_null(
      verify(jwt, "{\"sub\":\"a\",\"exp\":1900000000,\"aud\":\"api\"}", sub));
  assert_non_null(verify(
      jwt,
      "{\"sub\":\"a\",\"exp\":1900000000,\"iss\":\"idp\",\"aud\":\"apis\"}",
      sub));
  va_jwt_free(jwt);
}

static void the_secret(void **state) {
  (void)state;
  char sub[VA_JWT_SUB_MAX + 1];
  /* 31 bytes are too few; 32 with echo's newline are 32. */
  assert_null(verifier("0123456789012345678901234567890", NULL, NULL));
  va_jwt *jwt = verifier("01234567890123456789012345678901\n", NULL, NULL);
  assert_non_null(jwt);
  assert_string_equal(va_jwt_alg(jwt), "HS256");
  const char *t = token("01234567890123456789012345678901",
                        "{\"sub\":\"a\",\"exp\":1900000000}");
  assert_null(va_jwt_verify(jwt, t, strlen(t), NOW, sub));
  t = token("01234567890123456789012345678901\n",
            "{\"sub\":\"a\",\"exp\":1900000000}");
  assert_non_null(va_jwt_verify(jwt, t, strlen(t), NOW, sub));
  va_jwt_free(jwt);
  char why[256];
  assert_null(va_jwt_new(&(va_jwt_config){0}, why, sizeof(why)));
  assert_null(va_jwt_new(&(va_jwt_config){.secret_file = "/nonexistent"}, why,
                         sizeof(why)));
  assert_null(
      va_jwt_new(&(va_jwt_config){.secret_file = "/tmp"}, why, sizeof(why)));
}

static void corpus_replays(void **state) {
  (void)state;
  va_jwt *jwt = verifier(JWT_INPUT_SECRET, NULL, NULL);
  DIR *dir = opendir(VA_JWT_CORPUS);
  assert_non_null(dir);
  struct dirent *e;
  int files = 0;
  while ((e = readdir(dir))) {
    if (e->d_name[0] == '.')
      continue;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", VA_JWT_CORPUS, e->d_name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t data[VA_JWT_TOKEN_MAX];
    size_t n = fread(data, 1, sizeof(data), f);
    fclose(f);
    jwt_input_run(jwt, data, n);
    files++;
  }
  closedir(dir);
  assert_true(files > 0);
  va_jwt_free(jwt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(leeway_to_the_second), cmocka_unit_test(the_subject),
      cmocka_unit_test(issuer_and_audience),  cmocka_unit_test(the_secret),
      cmocka_unit_test(corpus_replays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
