/*
 * watch: call back when a watched file, or any *.yaml file of a watched
 * directory, changes on disk; both daemons reload their zones this way and
 * gslbd its GeoIP database.
 *
 * It watches the directory, not the file: editors and tools replace files by
 * renaming, which a watch on the file itself would miss. A Kubernetes
 * ConfigMap volume (files that are symlinks into `..data/`, updated by
 * renaming a new `..data` symlink over the old one) is watched the same way:
 * the rename of `..data` counts as a change of every file.
 *
 * A file is read only once its writer seems to have finished: WATCH_DELAY_MS
 * after the last event, the watched files' metadata (inode, size,
 * modification and change times, through symlinks) is sampled, and the
 * callback runs only when a second sample WATCH_SETTLE_MS later finds it the
 * same; otherwise it samples again. An editor that writes a file in place in
 * pieces, pausing less than that between them, is never read half way. A
 * writer that pauses longer can be: publish zones atomically (write aside,
 * rename), as the README says. Failing to watch is a warning, not an error:
 * SIGHUP still reloads.
 */
#ifndef GSLB_WATCH_H
#define GSLB_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#define WATCH_DELAY_MS  100 /* quiet time after the last event */
#define WATCH_SETTLE_MS 500 /* the files must then stay unchanged this long */

/* The symlink a Kubernetes ConfigMap volume swaps on every update. */
#define WATCH_K8S_DATA "..data"

typedef struct {
    uv_fs_event_t ev;
    uv_timer_t timer;
    char *dir, *file; /* file NULL: any *.yaml file in dir */
    void (*fire)(void *arg);
    void *arg;
    uint64_t sample; /* the files' metadata, hashed, when last sampled */
    bool sampled;    /* sample holds one since the last event */
    bool started;
} watch_t;

/* Watch `path` (a file, or a directory of *.yaml files) on `loop`. */
void watch_start(uv_loop_t *loop, watch_t *w, const char *path, void (*fire)(void *), void *arg);

/* Close the handles (the loop must run once more) and free. NULL-safe for a
 * watch never started. */
void watch_stop(watch_t *w);

#endif
