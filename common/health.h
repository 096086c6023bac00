/*
 * health: the health contract between healthd and gslbd, part one: what a
 * pool member's health can be, what an operator can force, and the rules
 * that turn them into "this member may be answered" and "this region is up".
 *
 * Both daemons, gslbctl and the status and explain output use these and
 * nothing else, so a member or region means the same thing everywhere. How
 * states travel (the control protocol) is ctl.h; how gslbd stores them is
 * gslbd/engine/healthdb.h. Pure: no I/O, no allocation, no state.
 */
#ifndef GSLB_HEALTH_H
#define GSLB_HEALTH_H

#include <stdbool.h>

#include "common/log.h"

/* A member's health as its probers judged it. UNKNOWN: not judged yet; it
 * counts as up. Once judged, a member keeps its state when its probers fall
 * silent (gslbd/engine/healthdb.h: the state is then "held"), so a silent
 * prober neither takes traffic away nor gives it back on its own. */
typedef enum { HEALTH_UNKNOWN, HEALTH_UP, HEALTH_DOWN } health_state_t;

/* An operator's override (gslbctl), on a region or on one member.
 * DRAIN: take no new traffic (as weight 0) while health checks go on;
 * DOWN / UP: force the state whatever the checks say; NONE: checks decide. */
typedef enum { HEALTH_OV_NONE, HEALTH_OV_DRAIN, HEALTH_OV_DOWN, HEALTH_OV_UP } health_override_t;

/* "unknown", "up", "down". */
const char *health_state_name(health_state_t state);
/* The state a name gives. Returns 0 or -EINVAL (*out untouched). */
int health_state_parse(const char *name, health_state_t *out) ATTR_WUR;

/* "auto" (none), "drain", "down", "up": the words gslbctl and the overrides
 * file use. */
const char *health_override_name(health_override_t ov);
int health_override_parse(const char *name, health_override_t *out) ATTR_WUR;

/* The member rule: may this member be answered? An override on the member
 * wins (only UP answers); otherwise anything but DOWN counts as up. */
static inline bool health_member_up(health_state_t state, health_override_t member_ov)
{
    if (member_ov != HEALTH_OV_NONE) {
        return member_ov == HEALTH_OV_UP;
    }
    return state != HEALTH_DOWN;
}

/* The region rule: is this region up? A DOWN or UP override on the region
 * wins; otherwise it is up while at least `min_up` of its members are up by
 * the member rule. (A drained region is up: draining is about traffic, not
 * health, and selection treats it as weight 0.) */
static inline bool health_region_up(health_override_t region_ov, unsigned members_up,
                                    unsigned min_up)
{
    if (region_ov == HEALTH_OV_DOWN || region_ov == HEALTH_OV_UP) {
        return region_ov == HEALTH_OV_UP;
    }
    return members_up >= min_up;
}

#endif
