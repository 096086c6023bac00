/*
 * log: the one logging facility both daemons use.
 *
 * Messages go to stderr as "PROG: level: text". Nothing here allocates or is
 * async-signal-safe: never log from a signal handler (libuv delivers signals to
 * the loop, where logging is fine). Per-packet conditions go through
 * log_ratelimit() so a flood cannot fill the disk.
 */
#ifndef GSLB_LOG_H
#define GSLB_LOG_H

#include <stdbool.h>

#define ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ATTR_NONNULL      __attribute__((nonnull))
#define ATTR_WUR          __attribute__((warn_unused_result))

typedef enum { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG } log_level_t;

/* Set the program name printed before each line (a static string) and the
 * most verbose level printed. */
void log_init(const char *prog, log_level_t max);

void log_msg(log_level_t level, const char *fmt, ...) ATTR_PRINTF(2, 3);

/* Print `line` as it is, without the "PROG: level: " prefix, if `level` is
 * printed: for lines that carry their own form, such as diag.h's
 * "file:line:col: error: ..." lines. */
void log_line(log_level_t level, const char *line);

#define log_err(...)   log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* True at most `per_sec` times a second for one call site's counter `*state`
 * (a static uint64_t the caller owns). Thread-safe enough: a race lets one
 * extra message through, never loses the process. */
bool log_ratelimit(unsigned long long *state, unsigned per_sec);

#endif
