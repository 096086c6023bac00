/*
 * hstate: the rise/fall state machine of one probed member.
 *
 * A member starts UNKNOWN, turns UP after `rise` consecutive successful
 * probes and DOWN after `fall` consecutive failed ones, from any state. It is
 * pure: no I/O, no clock, no allocation, so the rules are unit-tested on
 * their own. It does not probe, log or report (probe.c and main.c do).
 */
#ifndef GSLB_HSTATE_H
#define GSLB_HSTATE_H

#include <stdbool.h>

#include "common/health.h"

typedef struct {
    health_state_t state;
    unsigned ok_run;   /* consecutive successes, saturating */
    unsigned fail_run; /* consecutive failures, saturating */
} hstate_t;

/* A fresh member: unknown, no history. */
void hstate_init(hstate_t *h) ATTR_NONNULL;

/* Apply one probe result. Returns true when the state changed (the caller
 * then reports it); `rise` and `fall` of 0 count as 1. */
bool hstate_apply(hstate_t *h, bool ok, unsigned rise, unsigned fall) ATTR_NONNULL;

#endif
