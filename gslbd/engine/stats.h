/*
 * stats: how each service's answers were shared among its regions over the
 * last minute, from the snapshots' answer counters (snapshot.h).
 *
 * The query path only adds to its own thread's counters; the sums are made
 * here, on one thread (gslbd's main loop), never on the query path. The
 * snapshots that threads may still count in are "tracked": the one served
 * and those replaced but not freed yet. When one is about to be freed its
 * counts are folded into totals kept by name (zone, service, region), so
 * the totals carry on across reloads. Every STATS_SAMPLE_MS the totals are
 * written to a ring of samples covering STATS_WINDOW_MS; what a window
 * holds is the total now minus the oldest sample still inside it. The
 * totals of a service or region a reload removed are kept while gslbd runs
 * (a few dozen bytes each).
 *
 * Every STATS_HIST_STEP_MS (every other sample) each region's and each
 * service's no-region answers since the step before are kept too, for the
 * last STATS_HIST_STEPS steps: the traffic history the status shows. And
 * the totals themselves, monotonic across reloads, are what /metrics
 * reports (stats_totals).
 *
 * Not thread-safe: one thread calls everything here.
 */
#ifndef GSLB_STATS_H
#define GSLB_STATS_H

#include <stdint.h>

#include "gslbd/engine/select.h"
#include "gslbd/engine/snapshot.h"

#define STATS_SAMPLE_MS    5000
#define STATS_WINDOW_MS    60000
#define STATS_HIST_STEP_MS 10000 /* a multiple of STATS_SAMPLE_MS */
#define STATS_HIST_STEPS   60    /* ten minutes */

typedef struct stats stats_t;

/* Counting from `now_ms` (a monotonic clock in milliseconds, the same for
 * every call). */
stats_t *stats_new(uint64_t now_ms);
void stats_free(stats_t *st);

/* A snapshot is published: threads count in it from now on. */
void stats_track(stats_t *st, const snapshot_t *s);

/* A tracked snapshot is about to be freed, and no thread counts in it any
 * more: its counts are kept under their names. */
void stats_untrack(stats_t *st, const snapshot_t *s);

/* Take a sample of the totals; call every STATS_SAMPLE_MS or so. Every
 * STATS_HIST_STEP_MS / STATS_SAMPLE_MS samples close a history step. */
void stats_sample(stats_t *st, uint64_t now_ms);

/* One service's answers over the last window. */
typedef struct {
    uint64_t answers;   /* answers given */
    uint64_t none;      /* of them, with no region at all (every region down) */
    uint64_t window_ms; /* how far back the counts go: STATS_WINDOW_MS at most, less
                           while gslbd has not run that long */
} stats_svc_t;

/* The window's counts for `svc` of the tracked snapshot `s`, by name, so
 * that answers counted before a reload are in: *out, and per region
 * position (svc->n_regions + 1 of them, the last for a fallback region
 * outside the list) the answers that held that region in `regions`. */
void stats_service(stats_t *st, const snapshot_t *s, const svc_rt_t *svc, uint64_t now_ms,
                   stats_svc_t *out, uint64_t *regions);

/* The answers per history step of counter `j` of `svc` (a region position,
 * at most svc->n_regions, or SVC_COUNT_NONE(svc)) of a tracked snapshot, by
 * name: the last steps completed, oldest first, into out (room for
 * STATS_HIST_STEPS). Returns how many: STATS_HIST_STEPS, fewer while gslbd
 * has not run that long, 0 for a counter of no history. */
unsigned stats_history(stats_t *st, const svc_rt_t *svc, unsigned j, uint64_t *out);

/* A service's answers since gslbd started, by how they were chosen. */
typedef struct {
    uint64_t answers;            /* every answer */
    uint64_t mode[SELECT_MODES]; /* per select_mode_t; they add up to answers */
} stats_totals_t;

/* The totals of `svc` of a tracked snapshot as of `now_ms`, by name, so
 * that they carry on across reloads: *out, and per region position
 * (svc->n_regions + 1) the answers that held that region in `regions`.
 * Each is monotonic from one call to the next, as counters must be: the
 * answers by health are worked out as the rest (snapshot.h), so a call
 * that reads a thread's counts in the middle of one answer could see one
 * too many, and they are then held where they were until the count passes
 * them. */
void stats_totals(stats_t *st, const svc_rt_t *svc, uint64_t now_ms, stats_totals_t *out,
                  uint64_t *regions);

#endif
