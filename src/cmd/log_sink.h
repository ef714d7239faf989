/* log_sink.h — vactord's log output. Lines are copied into a bounded
 * buffer and written to a file descriptor by a thread of the sink's own,
 * so that a slow or stopped reader of stderr never blocks a worker: past
 * the bound, lines are dropped and counted, and the writer says how many
 * in a line of its own once it can write again. */
#ifndef VA_CMD_LOG_SINK_H
#define VA_CMD_LOG_SINK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct va__log_sink va__log_sink;

/* A sink writing to fd (not owned: never closed), holding at most
 * capacity bytes not yet written. 0 and *out, or an errno value. */
int va__log_sink_start(int fd, size_t capacity, va__log_sink **out);

/* Queues lines (whole lines, each ending in '\n') or drops them all when
 * they do not fit; never waits for the writer. Any thread. */
void va__log_sink_put(va__log_sink *s, const char *lines, size_t len);

/* Lines put and not written because the buffer was full, since the start. */
unsigned long long va__log_sink_dropped(va__log_sink *s);

/* Writes what is held, stops the thread and frees the sink: true. False
 * when the writer did not finish within wait_ms (its reader does not
 * read); the sink is then left to the writer, for the process's exit. */
bool va__log_sink_stop(va__log_sink *s, unsigned wait_ms);

#endif
