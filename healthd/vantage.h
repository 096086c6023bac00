/*
 * vantage: the canaries of the vantage healthd runs as (--vantage NAME).
 *
 * Its canary targets (target_build_canaries()) are probed by a prober of
 * their own (probe.h): the same engine, checks, rise/fall and stall rules
 * as the members', but never reported or counted as members. On every
 * change of a canary's state the vantage is judged again (canary.h); when
 * what the verdict would tell gslbd changes, a callback hears it, and when
 * the verdict turns (ok to failed or back) it is logged.
 *
 * It does not talk to gslbd (main.c hands the CANARY line to report.c)
 * and does not read zones.
 */
#ifndef GSLB_VANTAGE_H
#define GSLB_VANTAGE_H

#include <stddef.h>

#include <uv.h>

#include "healthd/canary.h"
#include "healthd/probe.h"
#include "healthd/target.h"

typedef struct vantage vantage_t;

/* The verdict changed; vantage_line() has the line to send. */
typedef void (*vantage_fn)(void *arg, const vantage_t *v);

/* A vantage named `name` (copied) on `loop`, with no canaries yet. Returns
 * 0 and sets *out, or a negative code. curl_global_init() must have run. */
int vantage_new(uv_loop_t *loop, const char *name, vantage_fn changed, void *arg,
                vantage_t **out) ATTR_WUR;

/* Probe the canaries `t` (n of them; taken, as prober_set() takes them)
 * from now on: those already probed keep their state. The vantage is judged
 * again, and `changed` called if that changes what gslbd is told (say the
 * failing canaries were removed). `diff` (may be NULL) gets the counts. */
void vantage_set(vantage_t *v, target_t *t, size_t n, prober_diff_t *diff);

const char *vantage_name(const vantage_t *v) ATTR_NONNULL;

/* The canaries probed. */
size_t vantage_count(const vantage_t *v) ATTR_NONNULL;

/* The current verdict. */
const canary_verdict_t *vantage_verdict(const vantage_t *v) ATTR_NONNULL;

/* The CANARY line of the current verdict into out (see canary_line()). */
int vantage_line(const vantage_t *v, char *out, size_t size) ATTR_NONNULL ATTR_WUR;

/* Call fn for every canary, with its state and probe counts. */
void vantage_each(const vantage_t *v, prober_stats_fn fn, void *arg);

/* Stop probing and free; run the loop afterwards for the close callbacks.
 * NULL-safe. */
void vantage_free(vantage_t *v);

#endif
