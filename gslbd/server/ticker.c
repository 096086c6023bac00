/*
 * ticker: the wall clock in an atomic word; see ticker.h.
 */
#include "gslbd/server/ticker.h"

#include <time.h>

#include "gslbd/engine/answer.h"

static void ticker_main(void *arg)
{
    ticker_t *t = arg;
    const struct timespec period = {.tv_nsec = TICKER_MS * 1000000L};

    while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
        nanosleep(&period, NULL); /* a signal cutting it short only ticks early */
        atomic_store_explicit(&t->now_us, answer_clock_us(), memory_order_relaxed);
    }
}

int ticker_start(ticker_t *t)
{
    atomic_store(&t->now_us, answer_clock_us());
    atomic_store(&t->stop, false);
    int r = uv_thread_create(&t->thread, ticker_main, t);
    t->started = r == 0;
    return r;
}

void ticker_stop(ticker_t *t)
{
    if (t->started) {
        atomic_store(&t->stop, true);
        uv_thread_join(&t->thread);
        t->started = false;
    }
}
