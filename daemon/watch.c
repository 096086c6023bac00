/* watch: directory watching for reloads, debounced and settled; see watch.h. */
#include "daemon/watch.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/log.h"

/* ---- settling: has anything changed since the last look? ---- */

/* FNV-1a, a word at a time: any mix serves, the hash is only compared with
 * the previous one. */
static uint64_t watch_mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 1099511628211ULL;
}

/* One file's name and metadata (through symlinks), or why stat() failed. */
static uint64_t watch_file(const char *dir, const char *name)
{
    uint64_t h = 14695981039346656037ULL;
    char *path = xasprintf("%s/%s", dir, name);
    struct stat st;

    for (const char *p = name; *p; p++) {
        h = watch_mix(h, (unsigned char)*p);
    }
    if (stat(path, &st) == 0) {
        uint64_t meta[] = {st.st_dev,
                           st.st_ino,
                           (uint64_t)st.st_size,
                           (uint64_t)st.st_mtim.tv_sec,
                           (uint64_t)st.st_mtim.tv_nsec,
                           (uint64_t)st.st_ctim.tv_sec,
                           (uint64_t)st.st_ctim.tv_nsec};

        for (size_t i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
            h = watch_mix(h, meta[i]);
        }
    } else {
        h = watch_mix(h, (uint64_t)errno);
    }
    free(path);
    return h;
}

/* The watched file, or the zone files of the watched directory (the names
 * the loaders read: *.yaml, not hidden), hashed. Files are summed so that the
 * order readdir() gives does not matter. */
static uint64_t watch_sample(const watch_t *w)
{
    uint64_t h = 0;
    struct dirent *e;
    DIR *d;

    if (w->file) {
        return watch_file(w->dir, w->file);
    }
    if (!(d = opendir(w->dir))) {
        return (uint64_t)errno;
    }
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);

        if (e->d_name[0] != '.' && len > 5 && !strcmp(e->d_name + len - 5, ".yaml")) {
            h += watch_file(w->dir, e->d_name);
        }
    }
    closedir(d);
    return h;
}

/* Fire once two samples WATCH_SETTLE_MS apart agree; sample again until
 * they do. */
static void watch_on_timer(uv_timer_t *t)
{
    watch_t *w = t->data;
    uint64_t now = watch_sample(w);

    if (!w->sampled || now != w->sample) {
        w->sample = now;
        w->sampled = true;
        uv_timer_start(&w->timer, watch_on_timer, WATCH_SETTLE_MS, 0);
        return;
    }
    w->sampled = false;
    w->fire(w->arg);
}

/* The names whose change may change what the watched path holds: the file
 * itself, any *.yaml of a watched directory, and `..data`. A Kubernetes
 * ConfigMap volume holds each file as a symlink NAME -> ..data/NAME, and
 * ..data -> ..TIMESTAMP/; an update writes a new timestamped directory and
 * renames a new ..data symlink over the old one, so that rename is the only
 * event the directory sees. */
static bool watch_concerns(const watch_t *w, const char *file)
{
    size_t len = strlen(file);

    if (strcmp(file, WATCH_K8S_DATA) == 0) {
        return true;
    }
    if (w->file) {
        return strcmp(file, w->file) == 0;
    }
    return len >= 5 && strcmp(file + len - 5, ".yaml") == 0;
}

static void watch_on_event(uv_fs_event_t *h, const char *file, int events, int status)
{
    watch_t *w = h->data;
    (void)events;

    if (status < 0 || file == NULL || !watch_concerns(w, file)) {
        return;
    }
    w->sampled = false;
    uv_timer_start(&w->timer, watch_on_timer, WATCH_DELAY_MS, 0);
}

void watch_start(uv_loop_t *loop, watch_t *w, const char *path, void (*fire)(void *), void *arg)
{
    uv_fs_t req;
    char *a = xstrdup(path), *b = xstrdup(path);

    if (uv_fs_stat(NULL, &req, path, NULL) == 0 && S_ISDIR(req.statbuf.st_mode)) {
        w->dir = a;
        w->file = NULL;
        free(b);
    } else {
        w->dir = xstrdup(dirname(a)); /* dirname and basename may write their argument */
        w->file = xstrdup(basename(b));
        free(a);
        free(b);
    }
    uv_fs_req_cleanup(&req);
    w->fire = fire;
    w->arg = arg;
    w->started = true;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    uv_fs_event_init(loop, &w->ev);
    w->ev.data = w;
    int r = uv_fs_event_start(&w->ev, watch_on_event, w->dir, 0);
    if (r < 0) {
        log_warn("cannot watch %s for changes (%s): reload with SIGHUP", w->dir, uv_strerror(r));
    }
}

void watch_stop(watch_t *w)
{
    if (!w->started) {
        return;
    }
    uv_close((uv_handle_t *)&w->ev, NULL);
    uv_close((uv_handle_t *)&w->timer, NULL);
    free(w->dir);
    free(w->file);
    w->started = false;
}
