/* crash_child.c — the process the crash test kills. It runs a durable
 * runtime on the SQLite file given, and keeps 256 calls in flight to 100
 * actors; each call ("bump") reads four keys that must be equal, and sets
 * all four to the next number. Each acknowledged turn is written to stdout
 * as "<actor> <number>" right after its reply arrives, so whatever the
 * parent reads was acknowledged. A turn that finds its four keys unequal
 * (half a turn survived) makes it exit with status 3.
 * Usage: vactor-crash-child DB_PATH */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vactor.h>

enum { ACTORS = 100, IN_FLIGHT = 256, KEYS = 4 };

static va_runtime *rt;
static int T_ACC, M_BUMP;
static _Atomic unsigned seed = 12345;

static int bump(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  int64_t first = -1;
  for (int k = 0; k < KEYS; k++) {
    char key[8];
    snprintf(key, sizeof(key), "k%d", k);
    const void *v;
    size_t n;
    int64_t x = 0;
    if (va_turn_state_get(t, key, &v, &n) == 0 && n == sizeof(x))
      memcpy(&x, v, sizeof(x));
    if (k == 0)
      first = x;
    else if (x != first) {
      fprintf(stderr, "half a turn: %s=%" PRId64 " k0=%" PRId64 "\n", key, x,
              first);
      _exit(3);
    }
  }
  int64_t next = first + 1;
  for (int k = 0; k < KEYS; k++) {
    char key[8];
    snprintf(key, sizeof(key), "k%d", k);
    int rc = va_turn_state_set(t, key, &next, sizeof(next));
    if (rc)
      return rc;
  }
  return va_turn_reply(t, &next, sizeof(next));
}

static void issue(void);

static void on_reply(void *user, int status, const void *data, size_t len) {
  int actor = (int)(intptr_t)user;
  if (status == 0 && len == sizeof(int64_t)) {
    int64_t n;
    memcpy(&n, data, sizeof(n));
    char line[64];
    int l = snprintf(line, sizeof(line), "a%d %" PRId64 "\n", actor, n);
    /* One write of a short line: atomic on a pipe. */
    if (write(1, line, (size_t)l) != l)
      _exit(4);
  }
  issue();
}

static void issue(void) {
  unsigned s = atomic_fetch_add(&seed, 2654435761u);
  int actor = (int)((s >> 8) % ACTORS);
  char id[16];
  snprintf(id, sizeof(id), "a%d", actor);
  while (va_call(rt, T_ACC, id, strlen(id), M_BUMP, NULL, 0, on_reply,
                 (void *)(intptr_t)actor) == VA_EBACKPRESSURE)
    ;
}

int main(int argc, char **argv) {
  if (argc != 2 || !strcmp(argv[1], "--help")) {
    fprintf(stderr,
            "usage: %s DB_PATH\n(the crash test's child; see "
            "tests/crash/crash_test.c)\n",
            argv[0]);
    return 2;
  }
  va_config cfg;
  va_config_init(&cfg);
  cfg.store = argv[1];
  if (va_runtime_new(&cfg, &rt) != 0)
    return 1;
  static const va_method methods[] = {{"bump", bump}};
  va_type_def def = {.name = "Acc", .methods = methods, .n_methods = 1};
  T_ACC = va_register_type(rt, &def);
  M_BUMP = va_method_lookup(rt, T_ACC, "bump");
  if (va_runtime_start(rt) != 0)
    return 1;
  for (int i = 0; i < IN_FLIGHT; i++)
    issue();
  for (;;)
    pause(); /* until killed */
}
