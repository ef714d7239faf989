/* counter.c — a tour of libvactor in one program: register an actor type,
 * call actors by id, keep state, let an idle actor deactivate and come back
 * with its state, and make an actor call another from inside its turn
 * (finding the ids it needs through its type's user pointer, not a
 * global). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vactor.h>

/* The Counter type's ids, once registered: the type's user pointer, so
 * its methods find them in every turn (va_turn_type_user). */
typedef struct counter_ids {
  int type, add, get, total_of;
} counter_ids;

/* add: body is a decimal number; adds it to the persisted "total". */
static int counter_add(va_turn *t, const void *arg, size_t len) {
  char buf[32] = {0};
  memcpy(buf, arg, len < sizeof(buf) - 1 ? len : sizeof(buf) - 1);
  long total = 0;
  const void *val;
  size_t vlen;
  if (va_turn_state_get(t, "total", &val, &vlen) == 0 && vlen == sizeof(total))
    memcpy(&total, val, sizeof(total));
  total += strtol(buf, NULL, 10);
  return va_turn_state_set(t, "total", &total, sizeof(total));
}

static int counter_get(va_turn *t, const void *arg, size_t len) {
  (void)arg, (void)len;
  long total = 0;
  const void *val;
  size_t vlen;
  if (va_turn_state_get(t, "total", &val, &vlen) == 0)
    memcpy(&total, val, sizeof(total));
  char out[32];
  int n = snprintf(out, sizeof(out), "%ld", total);
  return va_turn_reply(t, out, (size_t)n);
}

/* total_of: asks another counter (id in the body) for its total and answers
 * it: the call suspends this turn, not the thread. */
static int got_total(va_turn *t, void *user, int status, const void *data,
                     size_t len) {
  (void)user;
  return status ? status : va_turn_reply(t, data, len);
}

static int counter_total_of(va_turn *t, const void *arg, size_t len) {
  const counter_ids *ids = va_turn_type_user(t);
  return va_turn_call(t, ids->type, arg, len, ids->get, NULL, 0, got_total,
                      NULL);
}

static int on_deactivate(va_turn *t) {
  size_t len;
  const char *id = va_turn_id(t, &len);
  printf("  (deactivated %.*s)\n", (int)len, id);
  return 0;
}

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "%s: %s\n", what, va_strerror(rc));
    exit(1);
  }
}

static void call(va_runtime *rt, const counter_ids *ids, const char *id,
                 int method, const char *arg) {
  void *reply = NULL;
  size_t len = 0;
  int rc = va_call_wait(rt, ids->type, id, strlen(id), method, arg,
                        arg ? strlen(arg) : 0, &reply, &len);
  check(rc, "call");
  if (len)
    printf("  %s -> %.*s\n", id, (int)len, (char *)reply);
  else
    printf("  %s -> ok\n", id);
  free(reply);
}

int main(int argc, char **argv) {
  if (argc > 1) {
    printf("usage: %s\n"
           "A tour of libvactor: registers a Counter actor type, calls actors\n"
           "by id, shows state kept across idle deactivation, and an actor\n"
           "calling another inside its turn. Takes no arguments.\n",
           argv[0]);
    return strcmp(argv[1], "--help") == 0 ? 0 : 2;
  }
  va_config cfg;
  va_config_init(&cfg);
  cfg.idle_timeout_ms = 200; /* short, to show deactivation */
  cfg.scan_interval_ms = 50;
  va_runtime *rt;
  check(va_runtime_new(&cfg, &rt), "runtime");

  static const va_method methods[] = {{"add", counter_add},
                                      {"get", counter_get},
                                      {"total_of", counter_total_of}};
  counter_ids ids; /* lives past va_runtime_free, as a user pointer must */
  va_type_def def = {.name = "Counter",
                     .methods = methods,
                     .n_methods = 3,
                     .on_deactivate = on_deactivate,
                     .user = &ids};
  check(ids.type = va_register_type(rt, &def), "register");
  ids.add = va_method_lookup(rt, ids.type, "add");
  ids.get = va_method_lookup(rt, ids.type, "get");
  ids.total_of = va_method_lookup(rt, ids.type, "total_of");
  check(va_runtime_start(rt), "start");
  printf("runtime started with %u threads\n", va_runtime_threads(rt));

  printf("calls by id (each actor activates on its first message):\n");
  call(rt, &ids, "alice", ids.add, "5");
  call(rt, &ids, "alice", ids.add, "7");
  call(rt, &ids, "bob", ids.add, "1");
  call(rt, &ids, "alice", ids.get, NULL);
  printf("an actor calling another inside its turn:\n");
  call(rt, &ids, "bob", ids.total_of, "alice");

  printf("waiting for idle deactivation...\n");
  nanosleep(&(struct timespec){0, 600 * 1000 * 1000}, NULL);
  va_stats st;
  va_runtime_stats(rt, &st);
  printf("  active=%llu deactivations=%llu\n",
         (unsigned long long)st.active_actors,
         (unsigned long long)st.deactivations);
  printf("state is back after reactivation:\n");
  call(rt, &ids, "alice", ids.get, NULL);

  va_runtime_free(rt);
  return 0;
}
