/*
 * shed: load feedback. healthd reads how loaded each region's balancer is
 * (zone `load:`) and reports utilisation (LOAD, common/ctl.h); gslbd moves
 * a share of a loaded region's clients to their next region with room, as
 * the zone's `shed:` says:
 *
 * - once per control period (shed.period, by default twice the largest
 *   service TTL: a move shows in the figures only once resolvers' caches
 *   have turned over) the shed share moves by at most shed.step: up while
 *   the region's utilisation is above shed.high, down while it is below
 *   shed.low, and not at all between them (hysteresis), so the share
 *   neither chases every figure nor herds clients back and forth;
 * - the clients shed are the networks whose rank for the region, from the
 *   same hash as rendezvous hashing (select.h), is below the share: the
 *   same networks move every time and on every gslbd, a larger share moves
 *   more of them and a smaller one brings the last moved back first;
 * - they go to the next region in their own order that is eligible and has
 *   a fresh figure below shed.low: never into a region that is loaded
 *   itself, nor into one whose load nobody knows;
 * - when figures stop coming (older than load.stale_after), the share
 *   falls by one step per period, never at once.
 *
 * The controller runs on the main thread (reports and the control tick);
 * worker threads read the two atomics of the region's health slot.
 */
#ifndef GSLB_SHED_H
#define GSLB_SHED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "zones/zone.h"

typedef struct {
    /* Read by worker threads. */
    _Atomic uint32_t thr; /* the share as a threshold on a 32-bit rank: 0 none */
    _Atomic bool room;    /* a fresh figure below low: may take shed clients */
    /* Main thread only. */
    bool configured; /* the region has a load: in the zone last compiled */
    zone_load_source_t source;
    char url[256];
    double capacity;
    unsigned stale_after_ms;
    zone_shed_t rule;
    bool known; /* the last report carried a figure */
    double util, figure;
    uint64_t heard_ms; /* last report, 0: none */
    char reason[96];   /* the last report's reason */
    double share;      /* 0..1 */
    uint64_t step_ms;  /* the last period's start, 0: none yet */
    int last_dir;      /* the share's last move: +1, -1, 0 none */
    unsigned reversals;
} shed_t;

/* The zone's settings for a region (called as snapshots are attached).
 * A region whose load: went away stops shedding at once: nobody reads its
 * figures any more, and the zone file said so. */
void shed_configure(shed_t *s, const zone_load_t *load, const zone_shed_t *rule);

/* A report from healthd: util known or not, with its figure and reason. */
void shed_report(shed_t *s, bool known, double util, double figure, const char *reason,
                 uint64_t now_ms);

/* Whether the figure is recent enough to act on. */
bool shed_fresh(const shed_t *s, uint64_t now_ms);

/* Run the controller: at most one step per period. Returns true when the
 * share changed (the caller bumps the health generation and logs); *old
 * gets the share before. Also refreshes `room`. */
bool shed_step(shed_t *s, uint64_t now_ms, double *old);

/* "nginx", "haproxy", "prometheus". */
const char *shed_source_name(zone_load_source_t src);

#endif
