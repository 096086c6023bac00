/*
 * log: stderr logging with levels and a rate limiter for per-packet messages.
 * It does not do syslog: daemons under systemd or a supervisor have stderr
 * collected for them, which is what operators expect of a modern daemon.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *log_prog = "gslb";
static log_level_t log_max = LOG_LEVEL_INFO;

static const char *const log_names[] = {"error", "warning", "info", "debug"};

void log_init(const char *prog, log_level_t max)
{
    log_prog = prog;
    log_max = max;
}

void log_msg(log_level_t level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    if (level > log_max) {
        return;
    }
    n = snprintf(line, sizeof(line), "%s: %s: ", log_prog, log_names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line keeps lines from several threads whole. */
    fprintf(stderr, "%s\n", line);
}

void log_line(log_level_t level, const char *line)
{
    if (level <= log_max) {
        fprintf(stderr, "%s\n", line);
    }
}

bool log_ratelimit(unsigned long long *state, unsigned per_sec)
{
    /* *state packs the current second (high bits) and the count within it. */
    unsigned long long now = (unsigned long long)time(NULL);
    unsigned long long sec = *state >> 20, count = *state & 0xfffff;

    if (sec != now) {
        *state = now << 20 | 1;
        return true;
    }
    if (count >= per_sec) {
        return false;
    }
    *state = sec << 20 | (count + 1);
    return true;
}
