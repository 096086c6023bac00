/* notify: readiness, reloads and stops for systemd; see notify.h. */
#include "daemon/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "common/errcode.h"

/* Send `state` (newline-separated KEY=VALUE assignments); the environment
 * is kept, since a daemon notifies more than once. */
static void notify_send(const char *state)
{
    int r = sd_notify(0, state);

    if (r < 0) {
        log_debug("cannot notify the service manager: %s", gslb_strerror(r));
    }
}

void notify_ready(const char *fmt, ...)
{
    char status[512], state[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(status, sizeof(status), fmt, ap);
    va_end(ap);
    snprintf(state, sizeof(state), "READY=1\nSTATUS=%s", status);
    notify_send(state);
}

void notify_reloading(void)
{
    struct timespec ts;
    char state[80];

    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    notify_send(state);
}

void notify_stopping(void)
{
    notify_send("STOPPING=1\nSTATUS=stopping");
}
