/*
 * reloader: a daemon's reloads, run on libuv's thread pool one at a time.
 *
 * Loading and compiling large zones takes seconds. On the main loop that
 * would stall everything else the loop serves for as long: signals, the
 * control socket, health reports and their timers. Here a reload runs aside
 * (uv_queue_work()): `work` on a pool thread, then `done` on the loop, where
 * the result is published. Requests that arrive while one runs are not
 * queued one by one: they are merged (their `what` bits OR'ed) into a single
 * run after it, which sees every change made before it starts. So there is
 * never more than one reload running, nor more than one waiting.
 *
 * It knows nothing of what a reload does. While one runs, `work` may use
 * only what the loop leaves alone by the daemon's own rules (the loop thread
 * calls `begin` before each run starts, to set such rules up, and `done`
 * after it ends).
 */
#ifndef GSLB_RELOADER_H
#define GSLB_RELOADER_H

#include <stdbool.h>

#include <uv.h>

typedef struct {
    /* On the loop, before a run starts (may be NULL). */
    void (*begin)(void *arg, unsigned what);
    /* On a pool thread: the reload itself. */
    void (*work)(void *arg, unsigned what);
    /* On the loop, after work: publish, log, free. `stopping`: the daemon
     * is stopping (reloader_stop()); free the result without publishing. */
    void (*done)(void *arg, unsigned what, bool stopping);
} reloader_ops_t;

typedef struct {
    uv_loop_t *loop;
    uv_work_t req;
    const reloader_ops_t *ops; /* not owned; must outlive the reloader */
    void *arg;
    unsigned running; /* what the run in progress does, 0: none runs */
    unsigned pending; /* what the next run will do, 0: none waits */
    bool stopping;
} reloader_t;

void reloader_init(uv_loop_t *loop, reloader_t *r, const reloader_ops_t *ops, void *arg);

/* Ask for a reload doing `what` (not 0): it starts now if none runs, else
 * once the one running is done, merged with every other request made
 * meanwhile. Ignored once stopping. Loop thread only. */
void reloader_request(reloader_t *r, unsigned what);

/* True while a run is in progress. */
bool reloader_busy(const reloader_t *r);

/* Start no more runs, and return once the one in progress (if any) is done,
 * running the loop meanwhile (its `done` is told the daemon is stopping).
 * Call after the loop has stopped, before freeing what `work` uses. */
void reloader_stop(reloader_t *r);

#endif
