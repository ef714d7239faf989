/* prom_metrics.h — the body of GET /metrics that is not the HTTP server's
 * or the cluster's: the runtime's counters, vactor_build_info, and the
 * process metrics the Prometheus client libraries write on Linux
 * (process_cpu_seconds_total, process_resident_memory_bytes, ...), read
 * from /proc. The two /proc parsers are declared here for the unit test. */
#ifndef VA_API_PROM_METRICS_H
#define VA_API_PROM_METRICS_H

#include "../http/server.h"
#include "vactor.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Any thread (it reads /proc and the runtime's relaxed counters, takes no
 * lock, never waits on a worker): appends rt's counters and gauges, the
 * live activations of each type, vactor_build_info and the process
 * metrics to res, in the Prometheus text format (version 0.0.4), and sets
 * its content type. A process metric whose /proc file cannot be read or
 * parsed is left out, never written as a guess. When out of memory the
 * response becomes a 500 JSON error. */
void va_prom_metrics(va_runtime *rt, va_http_response *res);

/* The fields of /proc/self/stat the process metrics use. */
typedef struct va__proc_stat {
  uint64_t cpu_ticks;   /* utime + stime, in clock ticks (_SC_CLK_TCK) */
  uint64_t start_ticks; /* starttime: ticks after boot */
  uint64_t vsize;       /* virtual memory, bytes */
  uint64_t rss_pages;   /* resident set, pages */
} va__proc_stat;

/* Parses the text of /proc/PID/stat (len bytes, not NUL-terminated): the
 * command name, in parentheses, may hold spaces and ')', so the fields are
 * counted from the last ')'. False, *out unspecified, when a field is
 * missing or is not a decimal number. */
bool va__proc_stat_parse(const char *text, size_t len, va__proc_stat *out);

/* Reads the text of /proc/stat from f up to its "btime N" line and sets
 * *seconds to N (boot, seconds since the epoch). Lines of any length are
 * skipped with a fixed buffer; a "btime" that is not at a line's start
 * does not count. False when there is none or N is not a number. */
bool va__proc_btime_read(FILE *f, uint64_t *seconds);

#endif
