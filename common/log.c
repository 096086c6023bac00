/*
 * log: levels, the destinations of log.h (plain stderr, timestamped stderr,
 * the journal's priority prefixes, syslog) and a rate limiter for
 * per-packet messages. It keeps no buffer of its own: each line is formatted
 * on the stack and written at once.
 */
#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

static const char *log_prog = "gslb";
static log_level_t log_max = LOG_LEVEL_INFO;
static log_dest_t log_dest = LOG_TO_PLAIN;

static const char *const log_names[] = {"error", "warning", "info", "debug"};

/* syslog(3) priorities, which are also the journal's (sd-daemon(3): SD_ERR
 * is "<3>", SD_WARNING "<4>", SD_INFO "<6>", SD_DEBUG "<7>"). */
static const int log_prios[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void log_init(const char *prog, log_level_t max)
{
    log_prog = prog;
    log_max = max;
}

bool log_journal_match(const char *env, dev_t dev, ino_t ino)
{
    char *end;
    uintmax_t d, i;

    if (env == NULL || *env < '0' || *env > '9') {
        return false;
    }
    errno = 0;
    d = strtoumax(env, &end, 10);
    if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9') {
        return false;
    }
    i = strtoumax(end + 1, &end, 10);
    return errno == 0 && *end == '\0' && d == (uintmax_t)dev && i == (uintmax_t)ino;
}

/* systemd sets JOURNAL_STREAM when it connects stdout or stderr to the
 * journal; it is inherited by children whose stderr may be something else
 * (a shell's redirection), hence the comparison with stderr itself. */
static bool log_stderr_is_journal(void)
{
    struct stat st;

    return fstat(STDERR_FILENO, &st) == 0 &&
           log_journal_match(getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
}

log_dest_t log_open(bool use_syslog)
{
    if (use_syslog) {
        /* LOG_NDELAY connects now, before a --user drop or a chroot could
         * keep the socket from being reached. */
        openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
        log_dest = LOG_TO_SYSLOG;
    } else {
        log_dest = log_stderr_is_journal() ? LOG_TO_JOURNAL : LOG_TO_STDERR;
    }
    return log_dest;
}

void log_close(void)
{
    if (log_dest == LOG_TO_SYSLOG) {
        closelog();
    }
    log_dest = LOG_TO_PLAIN;
}

size_t log_prefix(log_dest_t dest, log_level_t level, const struct timespec *now, char *buf,
                  size_t size)
{
    struct tm tm;
    size_t n;

    buf[0] = '\0';
    if (dest == LOG_TO_JOURNAL) {
        return (size_t)snprintf(buf, size, "<%d>", log_prios[level]);
    }
    if (dest != LOG_TO_STDERR || gmtime_r(&now->tv_sec, &tm) == NULL) {
        return 0;
    }
    n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, size - n, ".%03ldZ ", now->tv_nsec / 1000000);
    return n < size ? n : size - 1;
}

/* One line out: `head` (the program and level, or nothing) and `text`,
 * after the destination's prefix. writev() puts the pieces out in one
 * system call, so lines of several threads do not interleave. */
static void log_emit(log_level_t level, const char *head, const char *text)
{
    char prefix[LOG_PREFIX_MAX];
    struct timespec now = {0};
    struct iovec iov[4];
    ssize_t r;

    if (log_dest == LOG_TO_SYSLOG) {
        syslog(log_prios[level], "%s%s", head, text);
        return;
    }
    if (log_dest == LOG_TO_STDERR) {
        clock_gettime(CLOCK_REALTIME, &now);
    }
    iov[0] = (struct iovec){prefix, log_prefix(log_dest, level, &now, prefix, sizeof(prefix))};
    iov[1] = (struct iovec){(void *)head, strlen(head)};
    iov[2] = (struct iovec){(void *)text, strlen(text)};
    iov[3] = (struct iovec){"\n", 1};
    do {
        r = writev(STDERR_FILENO, iov, 4);
    } while (r < 0 && errno == EINTR);
}

void log_msg(log_level_t level, const char *fmt, ...)
{
    char head[96], text[1024];
    va_list ap;

    if (level > log_max) {
        return;
    }
    /* The journal and syslog know the program: they get "level: text". */
    if (log_dest == LOG_TO_PLAIN || log_dest == LOG_TO_STDERR) {
        snprintf(head, sizeof(head), "%s: %s: ", log_prog, log_names[level]);
    } else {
        snprintf(head, sizeof(head), "%s: ", log_names[level]);
    }
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    log_emit(level, head, text);
}

void log_line(log_level_t level, const char *line)
{
    if (level <= log_max) {
        log_emit(level, "", line);
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
