/*
 * shed: the load-shedding controller; see shed.h.
 */
#include "gslbd/engine/shed.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *shed_source_name(zone_load_source_t src)
{
    switch (src) {
    case LOAD_NGINX:
        return "nginx";
    case LOAD_HAPROXY:
        return "haproxy";
    default:
        return "prometheus";
    }
}

static void shed_publish(shed_t *s)
{
    /* share 1 is every rank: the largest threshold leaves out only rank
     * 2^32 - 1, one network in four billion. */
    uint32_t thr = s->share <= 0   ? 0
                   : s->share >= 1 ? UINT32_MAX
                                   : (uint32_t)(s->share * 4294967296.0);
    atomic_store_explicit(&s->thr, thr, memory_order_relaxed);
}

void shed_configure(shed_t *s, const zone_load_t *load, const zone_shed_t *rule)
{
    if (load == NULL || !load->given) {
        if (s->configured || s->share > 0) {
            s->share = 0;
            s->last_dir = 0;
            shed_publish(s);
        }
        s->configured = false;
        atomic_store_explicit(&s->room, false, memory_order_relaxed);
        return;
    }
    s->configured = true;
    s->source = load->source;
    snprintf(s->url, sizeof(s->url), "%s", load->url ? load->url : "");
    s->capacity = load->capacity;
    s->stale_after_ms = load->stale_after_ms; /* zload.c sets its default */
    s->rule = *rule;
}

void shed_report(shed_t *s, bool known, double util, double figure, const char *reason,
                 uint64_t now_ms)
{
    s->known = known && isfinite(util) && util >= 0;
    s->util = s->known ? util : NAN;
    s->figure = s->known && isfinite(figure) ? figure : NAN;
    s->heard_ms = now_ms;
    snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
}

bool shed_fresh(const shed_t *s, uint64_t now_ms)
{
    return s->configured && s->known && s->heard_ms != 0 &&
           now_ms - s->heard_ms <= s->stale_after_ms;
}

/* Shares move in whole steps; keep them off rounding's dust. */
static double shed_round(double x)
{
    x = round(x * 1e6) / 1e6;
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

bool shed_step(shed_t *s, uint64_t now_ms, double *old)
{
    bool fresh = shed_fresh(s, now_ms);
    double target = s->share;

    *old = s->share;
    atomic_store_explicit(&s->room, fresh && s->util < s->rule.low, memory_order_relaxed);
    if (!s->configured) {
        return false;
    }
    /* Not shedding and no reason to start: the period is not begun, so the
     * first step comes as soon as a figure crosses high. */
    if (s->share <= 0 && !(fresh && s->util > s->rule.high)) {
        return false;
    }
    /* The period runs from the last move: holding between low and high
     * does not restart it (as sim/steering.py models). */
    if (s->step_ms != 0 && now_ms - s->step_ms < s->rule.period_ms) {
        return false;
    }
    if (!fresh || s->util < s->rule.low) {
        target = s->share - s->rule.step; /* stale figures: let go one step at a time */
    } else if (s->util > s->rule.high) {
        target = s->share + s->rule.step;
    }
    target = shed_round(target);
    if (target == s->share) {
        return false;
    }
    s->step_ms = now_ms;
    int dir = target > s->share ? 1 : -1;
    if (s->last_dir != 0 && dir != s->last_dir) {
        s->reversals++;
    }
    s->last_dir = dir;
    s->share = target;
    if (target == 0) {
        s->last_dir = 0; /* an episode is over; the next one counts afresh */
        s->step_ms = 0;
    }
    shed_publish(s);
    return true;
}
