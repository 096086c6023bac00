/*
 * health: what gslbd knows of each region's and pool member's health, and
 * the operators' overrides.
 *
 * One slot per (zone, region) and per (zone, region, member address). Slots
 * are created as snapshots are compiled and never freed while gslbd runs, so
 * a compiled region can point at its slots and a reload finds the same ones
 * by name. Worker threads read a slot's state and override (atomics, no
 * locks); everything else is the main thread's: reports from healthd, the
 * staleness timer, overrides and their file. No sockets here (control.c).
 */
#ifndef GSLB_HEALTH_H
#define GSLB_HEALTH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"

typedef enum { HEALTH_UNKNOWN, HEALTH_UP, HEALTH_DOWN } health_state_t;
typedef enum { OVERRIDE_NONE, OVERRIDE_DRAIN, OVERRIDE_DOWN, OVERRIDE_UP } health_override_t;

typedef struct health_slot health_slot_t;
struct health_slot {
    _Atomic uint8_t state;    /* health_state_t; UNKNOWN counts as up */
    _Atomic uint8_t override; /* health_override_t */
    /* main thread only */
    char *zone, *region, *member; /* member NULL: the region's slot */
    char reason[96];
    uint64_t changed_ms; /* last change of state */
    int source;          /* index of the reporting healthd, -1 none */
    unsigned stale_after_ms;
    health_slot_t *next;
};

typedef struct health health_t;

/* `overrides_file`: where overrides are kept across restarts (NULL: not
 * kept). Loads it if it exists; a bad line is reported and skipped. */
health_t *health_new(const char *overrides_file);
void health_free(health_t *h);

/* The slot of a region (member NULL) or member, created if new. */
health_slot_t *health_slot(health_t *h, const char *zone, const char *region, const char *member);

/* A healthd connection introduced itself; returns its source index. */
int health_source(health_t *h, const char *name);
/* Heard from a source (any message): keeps its reports fresh. */
void health_heard(health_t *h, int source, uint64_t now_ms);

/* A member's health from a source. Returns 0, or -ENOENT when no served
 * zone has that member (the report is kept anyway, for a later reload). */
int health_report(health_t *h, int source, const char *zone, const char *region, const char *member,
                  bool up, const char *reason, uint64_t now_ms);

/* Set or clear ("auto") an override on a region, or a member when `member`
 * is given; `zone` NULL means every zone with that region. Saves the file.
 * Returns the number of slots changed, or -ENOENT when none matched. */
int health_override(health_t *h, const char *zone, const char *region, const char *member,
                    health_override_t ov);

/* Turn reports not refreshed within their stale_after into unknown (logged). */
void health_tick(health_t *h, uint64_t now_ms);

/* A counter that grows after every change of any slot's state or override
 * (acquire-load it, then read slots): what was derived from the slots at
 * one value of it holds while it keeps that value. */
const _Atomic uint64_t *health_gen(const health_t *h);

/* Read by worker threads. */
static inline bool health_member_up(const health_slot_t *s)
{
    if (s == NULL) {
        return true;
    }
    uint8_t ov = atomic_load_explicit(&s->override, memory_order_relaxed);
    if (ov != OVERRIDE_NONE) {
        return ov == OVERRIDE_UP;
    }
    return atomic_load_explicit(&s->state, memory_order_relaxed) != HEALTH_DOWN;
}

static inline uint8_t health_region_override(const health_slot_t *s)
{
    return s ? atomic_load_explicit(&s->override, memory_order_relaxed) : OVERRIDE_NONE;
}

const char *health_override_name(health_override_t ov);
const char *health_state_name(health_state_t st);
int health_override_parse(const char *text, health_override_t *ov);

#endif
