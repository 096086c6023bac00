/*
 * log: the one logging facility both daemons and gslbctl use.
 *
 * Where lines go is chosen once, at start-up:
 *
 *   plain (log_init only; gslbctl, --check, --explain, tests): stderr,
 *       "PROG: level: text", as a command-line tool prints;
 *   stderr (a daemon, log_open(false)): the same line after an ISO 8601 UTC
 *       time with milliseconds, "2025-06-01T12:00:00.123Z gslbd: warning: text";
 *   journal (a daemon whose stderr is systemd's journal, which says so in
 *       JOURNAL_STREAM): "<4>warning: text", the priority as a prefix that
 *       journald turns into the entry's PRIORITY (sd-daemon(3)); no time and
 *       no program name, since the journal records both;
 *   syslog (a daemon started with --syslog): syslog(3) with LOG_PID and the
 *       daemon facility, "warning: text" at the matching priority.
 *
 * Nothing here is async-signal-safe: never log from a signal handler (libuv
 * delivers signals to the loop, where logging is fine). Lines from several
 * threads stay whole: each goes out in one write. Per-packet conditions go
 * through log_ratelimit() so a flood cannot fill the disk.
 */
#ifndef GSLB_LOG_H
#define GSLB_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ATTR_NONNULL      __attribute__((nonnull))
#define ATTR_WUR          __attribute__((warn_unused_result))

typedef enum { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG } log_level_t;

/* Where lines go; see the top of this file. */
typedef enum { LOG_TO_PLAIN, LOG_TO_STDERR, LOG_TO_JOURNAL, LOG_TO_SYSLOG } log_dest_t;

/* Set the program name printed before each line (a static string) and the
 * most verbose level printed. Lines go to stderr, plain, until log_open(). */
void log_init(const char *prog, log_level_t max);

/* A daemon's logging: syslog(3) when `use_syslog`, else stderr, with the
 * journal's priority prefixes when stderr is the journal and timestamps
 * otherwise. Returns the destination chosen. Call once, before threads
 * start; log_close() undoes it. */
log_dest_t log_open(bool use_syslog);
void log_close(void);

void log_msg(log_level_t level, const char *fmt, ...) ATTR_PRINTF(2, 3);

/* Print `line` as it is, without the "PROG: level: " prefix, if `level` is
 * printed: for lines that carry their own form, such as diag.h's
 * "file:line:col: error: ..." lines. A daemon's timestamp or priority prefix
 * still comes first. */
void log_line(log_level_t level, const char *line);

#define log_err(...)   log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* True at most `per_sec` times a second for one call site's counter `*state`
 * (a static uint64_t the caller owns). Thread-safe enough: a race lets one
 * extra message through, never loses the process. */
bool log_ratelimit(unsigned long long *state, unsigned per_sec);

/* ---- pieces, exposed for unit tests ---- */

/* Whether JOURNAL_STREAM's value `env` ("DEVICE:INODE", both decimal) names
 * the file `dev`/`ino` (stderr's, from fstat()). NULL or malformed: false. */
bool log_journal_match(const char *env, dev_t dev, ino_t ino);

/* The prefix a destination puts before a line at `level` at time `now`:
 * "2025-06-01T12:00:00.123Z " for LOG_TO_STDERR, "<4>" for LOG_TO_JOURNAL,
 * "" otherwise. Returns its length (always less than `size`, which must be at
 * least LOG_PREFIX_MAX). */
#define LOG_PREFIX_MAX 32
size_t log_prefix(log_dest_t dest, log_level_t level, const struct timespec *now, char *buf,
                  size_t size);

#endif
