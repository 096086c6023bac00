/*
 * ticker: the wall clock for the query path, kept in one atomic word by a
 * thread of its own every TICKER_MS milliseconds.
 *
 * Cookie timestamps (seconds) and rate limiting (a budget refills over a
 * second) need the time for nearly every UDP response, but not to the
 * microsecond: a load of this word costs one instruction where a clock
 * read costs a call into the vDSO per batch of queries. A thread of its
 * own, rather than a timer on the main loop, keeps the clock going while
 * the main loop is busy (a long reload). It does nothing else.
 */
#ifndef GSLB_TICKER_H
#define GSLB_TICKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "common/log.h"

#define TICKER_MS 20

typedef struct {
    _Atomic uint64_t now_us; /* CLOCK_REALTIME in microseconds, at most TICKER_MS old */
    _Atomic bool stop;
    bool started;
    uv_thread_t thread;
} ticker_t;

/* Set the clock now, then start the thread. Returns 0 or a negative libuv
 * code (the clock is set either way). */
int ticker_start(ticker_t *t) ATTR_WUR;

/* Stop the thread (within TICKER_MS) and wait for it. Safe if not started. */
void ticker_stop(ticker_t *t);

#endif
