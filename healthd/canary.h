/*
 * canary: the verdict on a vantage's own network, from the states of its
 * canary targets (zone.h, vantages.NAME.canary).
 *
 * The canaries are addresses the vantage should always reach, whatever the
 * regions do. While more than half of them are down, each judged with
 * rise/fall like a pool member (hstate.h), the fault is most likely the
 * vantage's own network, and its votes on the regions say nothing: the
 * verdict is "failed", and gslbd counts none of the vantage's votes until it
 * is "ok" again. A canary not yet judged is not down, so a vantage starts
 * ok. The verdict travels as CANARY (common/ctl.h), its reason naming the
 * canaries that are down.
 *
 * Pure: no I/O, no clock, no allocation. It does not probe (vantage.c runs
 * the canaries through the prober and asks for a verdict on every change).
 */
#ifndef GSLB_CANARY_H
#define GSLB_CANARY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/health.h"

/* The longest reason kept: well inside a control line, with room for the
 * verb, seq= and a network mac. */
#define CANARY_REASON_MAX 512

/* One canary as the prober sees it. */
typedef struct {
    const char *where;    /* "192.0.2.9:80", "[2001:db8::9]:443" */
    health_state_t state; /* UNKNOWN until rise or fall probes agreed */
    const char *reason;   /* its latest result agreeing with state ("refused"); may be NULL */
} canary_probe_t;

typedef struct {
    bool failed;    /* more than half of the n are down */
    size_t down, n; /* canaries down, canaries in all */
    /* "2 of 3 down: 192.0.2.9:80: refused, [2001:db8::9]:443: timeout", the
     * count first so that a cut reason still says it; "" when none is down,
     * "no canaries" when n is 0. */
    char reason[CANARY_REASON_MAX];
} canary_verdict_t;

/* Judge c[0..n) into *out (c may be NULL when n is 0). */
void canary_judge(const canary_probe_t *c, size_t n, canary_verdict_t *out);

/* Whether two verdicts would say the same thing to gslbd. */
bool canary_same(const canary_verdict_t *a, const canary_verdict_t *b) ATTR_NONNULL;

/* The CANARY line of a verdict ("CANARY failed reason=...\n") into out,
 * NUL-terminated. Returns its length, or a negative code from ctl_format(). */
int canary_line(const canary_verdict_t *v, char *out, size_t size) ATTR_NONNULL ATTR_WUR;

#endif
