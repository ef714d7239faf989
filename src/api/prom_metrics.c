/* prom_metrics.c — see prom_metrics.h: the runtime's counters as
 * Prometheus families, the build's version as an info gauge, and the
 * process metrics, named and computed as the Prometheus client libraries
 * (client_golang's process collector) do on Linux, so dashboards made for
 * them work unchanged. Reading /proc costs a few system calls on the
 * worker that serves the scrape; nothing there can block for long. */
#include "prom_metrics.h"
#include "../base/atomics.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- The runtime ---- */

static int runtime_families(va_runtime *rt, va_http_response *res) {
  va_stats st;
  va_runtime_stats(rt, &st);
  const struct {
    const char *name, *help, *kind;
    uint64_t value;
  } m[] = {
      {"vactor_active_actors", "Live activations.", "gauge", st.active_actors},
      {"vactor_activations_total", "Activations.", "counter", st.activations},
      {"vactor_deactivations_total", "Deactivations.", "counter",
       st.deactivations},
      {"vactor_turns_total", "Completed turns.", "counter", st.turns},
      {"vactor_turns_failed_total", "Failed turns.", "counter",
       st.turns_failed},
      {"vactor_call_timeouts_total", "Calls that timed out.", "counter",
       st.timeouts},
      {"vactor_deadlocks_total", "Calls refused as call cycles.", "counter",
       st.deadlocks},
      {"vactor_backpressure_total", "Messages refused by full queues.",
       "counter", st.backpressure},
      {"vactor_store_commits_total", "Store commits (one fsync each).",
       "counter", st.store_commits},
      {"vactor_store_saves_total", "Turn saves committed.", "counter",
       st.store_saves},
      {"vactor_store_failures_total", "Saves the store failed.", "counter",
       st.store_failures},
      {"vactor_mailbox_depth", "Messages waiting in mailboxes.", "gauge",
       st.mailbox_depth},
      {"vactor_reminders_fired_total", "Reminder turns run.", "counter",
       st.reminders_fired},
      {"vactor_reminders_due_total", "Fires sent to reminders that are due.",
       "counter", st.reminders_due},
  };
  int rc = 0;
  for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
    rc |= va_http_prom_family(res, m[i].name, m[i].kind, m[i].help);
    rc |= va_http_printf(res, "%s %llu\n", m[i].name,
                         (unsigned long long)m[i].value);
  }
  return rc;
}

/* Type names come from apps (an app's actor types), hence the escaping. */
static int actors_by_type(va_runtime *rt, va_http_response *res) {
  int rc = va_http_prom_family(res, "vactor_active_actors_by_type", "gauge",
                               "Live activations of each type.");
  for (int type = 0; type < va_type_count(rt); type++) {
    const char *name = va_type_name(rt, type);
    if (!name)
      continue;
    rc |= va_http_printf(res, "vactor_active_actors_by_type{type=\"");
    rc |= va_http_prom_label(res, name);
    rc |= va_http_printf(res, "\"} %llu\n",
                         (unsigned long long)va_runtime_active_of(rt, type));
  }
  return rc;
}

static int build_info(va_http_response *res) {
  int rc = va_http_prom_family(res, "vactor_build_info", "gauge",
                               "Always 1; the version label is the library's "
                               "(MAJOR.MINOR.PATCH).");
  rc |= va_http_printf(res, "vactor_build_info{version=\"");
  rc |= va_http_prom_label(res, va_version());
  rc |= va_http_printf(res, "\"} 1\n");
  return rc;
}

/* ---- /proc ---- */

/* A decimal number of [*p, end), then *p past it. No sign, no space. */
static bool decimal(const char **p, const char *end, uint64_t *out) {
  const char *s = *p;
  uint64_t v = 0;
  if (s == end || *s < '0' || *s > '9')
    return false;
  for (; s < end && *s >= '0' && *s <= '9'; s++) {
    if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
      return false; /* overflow */
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *p = s;
  *out = v;
  return true;
}

/* The fields of /proc/PID/stat (proc(5)), numbered from 1 as there. */
enum {
  STAT_UTIME = 14,
  STAT_STIME = 15,
  STAT_STARTTIME = 22,
  STAT_VSIZE = 23,
  STAT_RSS = 24
};

bool va__proc_stat_parse(const char *text, size_t len, va__proc_stat *out) {
  const char *end = text + len, *close = NULL;
  for (const char *s = text; s < end; s++)
    if (*s == ')')
      close = s;
  if (!close)
    return false;
  /* After "(comm)" come field 3 (state), then 4, 5, ... separated by one
   * space each. Fields we do not use are skipped whatever they hold (some
   * are negative). */
  const char *p = close + 1;
  uint64_t utime = 0, stime = 0;
  for (int field = 3; field <= STAT_RSS; field++) {
    if (p == end || *p != ' ')
      return false;
    p++;
    uint64_t *want = field == STAT_UTIME       ? &utime
                     : field == STAT_STIME     ? &stime
                     : field == STAT_STARTTIME ? &out->start_ticks
                     : field == STAT_VSIZE     ? &out->vsize
                     : field == STAT_RSS       ? &out->rss_pages
                                               : NULL;
    if (want) {
      if (!decimal(&p, end, want))
        return false;
      if (p < end && *p != ' ' && *p != '\n')
        return false;
    } else {
      const char *start = p;
      while (p < end && *p != ' ' && *p != '\n')
        p++;
      if (p == start)
        return false;
    }
  }
  out->cpu_ticks = utime + stime;
  return true;
}

enum { STAT_MAX = 4096 }; /* bytes of /proc/self/stat read (~300 used) */

/* Reads all of a small file into buf (cap bytes); false when it cannot be
 * read or does not fit. */
static bool read_small(const char *path, char *buf, size_t cap, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  size_t n = 0;
  bool ok = true;
  for (;;) {
    if (n == cap) {
      ok = false; /* larger than we ever expect: not trusted */
      break;
    }
    ssize_t got = read(fd, buf + n, cap - n);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      ok = got == 0;
      break;
    }
    n += (size_t)got;
  }
  close(fd);
  *len = n;
  return ok;
}

enum { LINE_CHUNK = 256, MAX_CHUNKS = 1 << 16 }; /* at most 16 MiB read */

bool va__proc_btime_read(FILE *f, uint64_t *seconds) {
  char chunk[LINE_CHUNK];
  bool at_line_start = true;
  for (int i = 0; i < MAX_CHUNKS && fgets(chunk, sizeof(chunk), f); i++) {
    size_t n = strlen(chunk);
    bool starts_line = at_line_start;
    at_line_start = n > 0 && chunk[n - 1] == '\n';
    if (!starts_line || strncmp(chunk, "btime ", 6))
      continue;
    const char *p = chunk + 6, *end = chunk + n;
    uint64_t v;
    /* The whole line: a number, then its end. */
    bool whole = decimal(&p, end, &v) &&
                 ((p < end && *p == '\n') || (p == end && feof(f)));
    if (whole)
      *seconds = v;
    return whole;
  }
  return false;
}

/* Boot time, read once: it does not change while the system runs. */
static bool boot_seconds(uint64_t *out) {
  /* Relaxed: racing first scrapes compute the same value. 0 is unknown. */
  static _Atomic uint64_t cached;
  uint64_t v = va_load_relaxed(&cached);
  if (!v) {
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
      return false;
    bool ok = va__proc_btime_read(f, &v);
    fclose(f);
    if (!ok || !v)
      return false;
    va_store_relaxed(&cached, v);
  }
  *out = v;
  return true;
}

/* Open descriptors: the entries of /proc/self/fd but the one reading it. */
static bool open_fds(uint64_t *out) {
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return false;
  uint64_t n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  *out = n ? n - 1 : 0;
  return n > 0;
}

/* One process metric: a gauge, or a counter (name ending in _total). */
static int process_metric(va_http_response *res, const char *name,
                          const char *kind, const char *help, double value) {
  int rc = va_http_prom_family(res, name, kind, help);
  return rc | va_http_printf(res, "%s %.15g\n", name, value);
}

static int process_families(va_http_response *res) {
  int rc = 0;
  char text[STAT_MAX];
  size_t len;
  va__proc_stat st;
  long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
  if (read_small("/proc/self/stat", text, sizeof(text), &len) &&
      va__proc_stat_parse(text, len, &st) && hz > 0 && page > 0) {
    uint64_t boot;
    rc |= process_metric(res, "process_cpu_seconds_total", "counter",
                         "Total user and system CPU time spent in seconds.",
                         (double)st.cpu_ticks / (double)hz);
    rc |= process_metric(res, "process_resident_memory_bytes", "gauge",
                         "Resident memory size in bytes.",
                         (double)st.rss_pages * (double)page);
    rc |= process_metric(res, "process_virtual_memory_bytes", "gauge",
                         "Virtual memory size in bytes.", (double)st.vsize);
    if (boot_seconds(&boot))
      rc |= process_metric(res, "process_start_time_seconds", "gauge",
                           "Start time of the process since unix epoch in "
                           "seconds.",
                           (double)boot + (double)st.start_ticks / (double)hz);
  }
  uint64_t fds;
  if (open_fds(&fds))
    rc |= process_metric(res, "process_open_fds", "gauge",
                         "Number of open file descriptors.", (double)fds);
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    rc |= process_metric(res, "process_max_fds", "gauge",
                         "Maximum number of open file descriptors.",
                         (double)lim.rlim_cur);
  return rc;
}

void va_prom_metrics(va_runtime *rt, va_http_response *res) {
  res->content_type = "text/plain; version=0.0.4";
  int rc = runtime_families(rt, res) | actors_by_type(rt, res) |
           build_info(res) | process_families(res);
  if (rc)
    va_http_error(res, 500, "ERR_NO_MEMORY", "out of memory");
}
