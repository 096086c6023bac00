/*
 * probe: runs every target's check on the libuv loop and keeps its state.
 *
 * Each target probes once per interval from its own timer; first probes
 * are spread over the interval so a large pool never fires at once, each
 * target then keeps its phase (even after the loop stalls), and a target
 * never starts a probe while its previous one runs. http and
 * https go through libcurl's multi interface (curluv.c), with one easy
 * handle per target made once and reused; tcp is a plain uv_tcp_connect()
 * with a timer for the timeout. Results go through the rise/fall state
 * machine (hstate.c); each change is logged and handed to a callback.
 *
 * It does not talk to gslbd (report.c) nor read zones (main.c, target.c).
 */
#ifndef GSLB_PROBE_H
#define GSLB_PROBE_H

#include <stddef.h>

#include <uv.h>

#include "healthd/hstate.h"
#include "healthd/pstats.h"
#include "healthd/target.h"

typedef struct prober prober_t;

/* A target's state or the reason for it changed, or is being listed. The
 * target and reason are valid during the call only. */
typedef void (*prober_fn)(void *arg, const target_t *t, health_state_t state, const char *reason);

typedef struct {
    size_t added, removed, kept;
} prober_diff_t;

/* A prober on `loop` calling `changed` on every state change. Returns 0 and
 * sets *out, or a negative code. curl_global_init() must have run. */
int prober_new(uv_loop_t *loop, prober_fn changed, void *arg, prober_t **out) ATTR_WUR;

/* Replace the targets with `t` (n of them; the prober takes the array and
 * everything in it). Targets whose key is already probed keep their state,
 * counters and timing; the others start unknown, spread over their interval;
 * targets not in `t` stop. `diff` (may be NULL) gets the counts. */
void prober_set(prober_t *p, target_t *t, size_t n, prober_diff_t *diff);

/* Call fn for every target whose state is known, with the reason of its
 * latest probe that agreed with that state. */
void prober_each(const prober_t *p, prober_fn fn, void *arg);

/* A target, its state and its probe counts (valid during the call only). */
typedef void (*prober_stats_fn)(void *arg, const target_t *t, health_state_t state,
                                const pstats_target_t *stats);

/* Call fn for every target, in the order prober_set() was given them. */
void prober_each_stats(const prober_t *p, prober_stats_fn fn, void *arg);

/* The durations of the probes of one check type, counted since start (as
 * many as the targets' counts of that type, less those of removed ones). */
const pstats_hist_t *prober_durations(const prober_t *p, check_type_t type) ATTR_NONNULL;

/* The loop's lag, in seconds: the latest measure and the largest in the
 * last minute. It is measured every 50 ms by a timer noting how late it
 * fires. */
void prober_lag(const prober_t *p, double *last, double *max) ATTR_NONNULL;

/* Probes counted neither as passed nor as failed: skipped for starting
 * too late, and timeouts across a stall of healthd's own loop. */
void prober_uncounted(const prober_t *p, uint64_t *late, uint64_t *stalled) ATTR_NONNULL;

size_t prober_count(const prober_t *p);

/* The smallest check interval, or 1000 with no targets. */
unsigned prober_min_interval(const prober_t *p);

/* The shortest stale_after of the targets (0 when there are none): gslbd
 * counts a member unknown once healthd has been silent that long, so the
 * heartbeat must come more often than that. */
unsigned prober_min_stale(const prober_t *p);

/* Stop every probe and free everything; run the loop afterwards for the
 * close callbacks. NULL-safe. */
void prober_free(prober_t *p);

#endif
