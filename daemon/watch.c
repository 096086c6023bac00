/* watch: debounced directory watching for reloads; see watch.h. */
#include "daemon/watch.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

static void watch_on_timer(uv_timer_t *t)
{
    watch_t *w = t->data;
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
