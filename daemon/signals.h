/*
 * signals: the daemons' signal handling on their libuv loop. SIGHUP calls a
 * reload callback; SIGTERM and SIGINT tell the service manager the daemon
 * is stopping (notify.h) and stop the loop (uv_stop), after which the daemon
 * tears down and exits 0. Nothing runs in a signal handler: libuv
 * delivers the signals on the loop, where logging and reloading are safe.
 */
#ifndef GSLB_SIGNALS_H
#define GSLB_SIGNALS_H

#include <uv.h>

typedef struct {
    uv_signal_t sig[3]; /* SIGHUP, SIGTERM, SIGINT */
    void (*reload)(void *arg);
    void *arg;
    const char *what; /* logged on SIGHUP: "reloading every zone file" */
} signals_t;

void signals_start(uv_loop_t *loop, signals_t *s, const char *what, void (*reload)(void *),
                   void *arg);

/* Close the handles (the loop must run once more). */
void signals_stop(signals_t *s);

#endif
