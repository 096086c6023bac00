/*
 * procstat: process_* metrics from /proc; see procstat.h.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon/procstat.h"

/* The fields of /proc/self/stat this needs (proc(5) numbers them from 1). */
typedef struct {
    unsigned long long utime, stime; /* 14, 15: clock ticks */
    unsigned long long starttime;    /* 22: clock ticks after boot */
    unsigned long long vsize;        /* 23: bytes */
    long long rss;                   /* 24: pages */
} self_stat_t;

static int read_self_stat(self_stat_t *st)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "re");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: the
     * fields after it start past its last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL) {
        return -1;
    }
    /* Field 3 (state) onwards. */
    int got = sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                     "%*d %*d %llu %llu %lld",
                     &st->utime, &st->stime, &st->starttime, &st->vsize, &st->rss);
    return got == 5 ? 0 : -1;
}

/* The boot time, in seconds since the epoch (/proc/stat's btime). */
static long long boot_time(void)
{
    char line[256];
    long long bt = -1;
    FILE *f = fopen("/proc/stat", "re");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "btime %lld", &bt) == 1) {
            break;
        }
    }
    fclose(f);
    return bt;
}

static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    long n = 0;
    if (d == NULL) {
        return -1;
    }
    while (readdir(d) != NULL) {
        n++;
    }
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

void procstat_write(prom_t *p)
{
    self_stat_t st;
    long tick = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);

    if (read_self_stat(&st) == 0 && tick > 0) {
        prom_family(p, "process_cpu_seconds_total", PROM_COUNTER,
                    "Total user and system CPU time spent in seconds.");
        prom_double(p, "process_cpu_seconds_total", (double)(st.utime + st.stime) / (double)tick,
                    NULL);
        prom_family(p, "process_virtual_memory_bytes", PROM_GAUGE, "Virtual memory size in bytes.");
        prom_u64(p, "process_virtual_memory_bytes", st.vsize, NULL);
        prom_family(p, "process_resident_memory_bytes", PROM_GAUGE,
                    "Resident memory size in bytes.");
        prom_u64(p, "process_resident_memory_bytes",
                 st.rss > 0 ? (uint64_t)st.rss * (uint64_t)page : 0, NULL);
        long long bt = boot_time();
        if (bt >= 0) {
            prom_family(p, "process_start_time_seconds", PROM_GAUGE,
                        "Start time of the process since unix epoch in seconds.");
            prom_double(p, "process_start_time_seconds",
                        (double)bt + (double)st.starttime / (double)tick, NULL);
        }
    }
    long fds = open_fds();
    if (fds >= 0) {
        prom_family(p, "process_open_fds", PROM_GAUGE, "Number of open file descriptors.");
        prom_u64(p, "process_open_fds", (uint64_t)fds, NULL);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        prom_family(p, "process_max_fds", PROM_GAUGE, "Maximum number of open file descriptors.");
        prom_u64(p, "process_max_fds", (uint64_t)rl.rlim_cur, NULL);
    }
}
