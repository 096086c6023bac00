/* signals: SIGHUP reloads, SIGTERM/SIGINT stop; see signals.h. */
#include "daemon/signals.h"

#include <signal.h>

#include "common/log.h"
#include "daemon/notify.h"

static const int signals_nums[3] = {SIGHUP, SIGTERM, SIGINT};

static void signals_on(uv_signal_t *h, int signum)
{
    signals_t *s = h->data;

    if (signum == SIGHUP) {
        log_info("SIGHUP: %s", s->what);
        s->reload(s->arg);
        return;
    }
    log_info("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    notify_stopping();
    uv_stop(h->loop);
}

void signals_start(uv_loop_t *loop, signals_t *s, const char *what, void (*reload)(void *),
                   void *arg)
{
    s->what = what;
    s->reload = reload;
    s->arg = arg;
    for (int i = 0; i < 3; i++) {
        uv_signal_init(loop, &s->sig[i]);
        s->sig[i].data = s;
        uv_signal_start(&s->sig[i], signals_on, signals_nums[i]);
    }
}

void signals_stop(signals_t *s)
{
    for (int i = 0; i < 3; i++) {
        uv_close((uv_handle_t *)&s->sig[i], NULL);
    }
}
