/* crash_test.c — kill -9 in the middle of durable turns, many times over,
 * and check invariants 2 and 3 on the file each time: every acknowledged
 * turn is there, and no turn is there in part.
 *
 * Each round starts vactor-crash-child on the same SQLite file, reads the
 * turns it acknowledges, kills it with SIGKILL after a random 100-600 ms,
 * then reads the file through SQLite: each actor's four keys must be equal
 * (a turn writes all four), at least the highest number acknowledged for
 * it, and equal to the actor's stored version (one save per turn). The next
 * round continues from that state, and its child checks every turn's four
 * keys again as it reads them.
 * Usage: vactor-crash-test CHILD_PATH DB_PATH ROUNDS */
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { ACTORS = 100, KEYS = 4 };

static int64_t acked[ACTORS]; /* highest acknowledged number per actor */

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads "aN V" lines from fd until the child is gone or until deadline
 * (then kills it). Returns the number of acknowledgements read. */
static long run_round(const char *child, const char *db, long kill_after) {
  int fds[2];
  if (pipe(fds) != 0)
    return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(child, child, db, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  long deadline = now_ms() + kill_after, acks = 0;
  bool killed = false;
  char buf[65536], line[64];
  size_t used = 0;
  for (;;) {
    if (!killed && now_ms() >= deadline) {
      kill(pid, SIGKILL);
      killed = true;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    if (poll(&p, 1, 10) <= 0)
      continue;
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n <= 0)
      break; /* the child is gone and the pipe is drained */
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] != '\n') {
        if (used < sizeof(line) - 1)
          line[used++] = buf[i];
        continue;
      }
      line[used] = 0;
      used = 0;
      int actor;
      int64_t v;
      if (sscanf(line, "a%d %" SCNd64, &actor, &v) == 2 && actor >= 0 &&
          actor < ACTORS) {
        if (v > acked[actor])
          acked[actor] = v;
        acks++;
      }
    }
  }
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    fprintf(stderr, "child ended on its own (status %d)\n", status);
    return -1;
  }
  return acks;
}

/* Checks the file. Returns the number of problems. */
static int verify(const char *db, long *turns) {
  sqlite3 *h;
  if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    return 1;
  int bad = 0;
  *turns = 0;
  for (int a = 0; a < ACTORS; a++) {
    char id[16];
    snprintf(id, sizeof(id), "a%d", a);
    int64_t vals[KEYS], version = 0;
    int found = 0;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(h,
                       "SELECT key, value FROM state WHERE type = 'Acc' "
                       "AND id = ?1",
                       -1, &st, NULL);
    sqlite3_bind_blob(st, 1, id, (int)strlen(id), SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
      int k = atoi((const char *)sqlite3_column_text(st, 0) + 1);
      if (k >= 0 && k < KEYS && sqlite3_column_bytes(st, 1) == 8) {
        memcpy(&vals[k], sqlite3_column_blob(st, 1), 8);
        found++;
      }
    }
    sqlite3_finalize(st);
    sqlite3_prepare_v2(h,
                       "SELECT version FROM actor WHERE type = 'Acc' AND "
                       "id = ?1",
                       -1, &st, NULL);
    sqlite3_bind_blob(st, 1, id, (int)strlen(id), SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
      version = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    int64_t v = found ? vals[0] : 0;
    if (found != 0 && found != KEYS) {
      fprintf(stderr, "%s: %d of %d keys: half a turn\n", id, found, KEYS);
      bad++;
      continue;
    }
    for (int k = 1; k < found; k++)
      if (vals[k] != v) {
        fprintf(stderr, "%s: k%d=%" PRId64 " k0=%" PRId64 ": half a turn\n", id,
                k, vals[k], v);
        bad++;
      }
    if (v < acked[a]) {
      fprintf(stderr, "%s: %" PRId64 " stored, %" PRId64 " acknowledged\n", id,
              v, acked[a]);
      bad++;
    }
    if (version != v) {
      fprintf(stderr, "%s: version %" PRId64 " for %" PRId64 " turns\n", id,
              version, v);
      bad++;
    }
    *turns += v;
  }
  sqlite3_close(h);
  return bad;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s CHILD_PATH DB_PATH ROUNDS\n", argv[0]);
    return 2;
  }
  const char *child = argv[1], *db = argv[2];
  int rounds = atoi(argv[3]);
  char aux[4200];
  unlink(db);
  snprintf(aux, sizeof(aux), "%s-wal", db);
  unlink(aux);
  snprintf(aux, sizeof(aux), "%s-shm", db);
  unlink(aux);
  srand((unsigned)time(NULL));
  int failures = 0;
  for (int r = 1; r <= rounds; r++) {
    long after = 100 + rand() % 500;
    long acks = run_round(child, db, after);
    long turns = 0;
    int bad = acks < 0 ? 1 : verify(db, &turns);
    printf("round %d: killed after %ld ms, %ld acknowledged, %ld turns "
           "stored, %s\n",
           r, after, acks, turns, bad ? "FAILED" : "ok");
    fflush(stdout);
    failures += bad != 0;
  }
  printf("%d passed, %d failed\n", rounds - failures, failures);
  return failures ? 1 : 0;
}
