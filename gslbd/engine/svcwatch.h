/*
 * svcwatch: say in the log when a service stops answering by health (no
 * region up: failing open, its fallback, NODATA or SERVFAIL, as its
 * on_all_down says; or every region drained) and when it recovers.
 *
 * It works the state of every service out with select_service_state(), the
 * rule the answers follow, whenever the health generation or the snapshot
 * changed since it last looked, and logs the transitions only: a warning
 * when a service starts failing (or fails another way), an info line when it
 * answers by health again. At most SVCWATCH_LINES lines per look, the rest
 * counted in one more line; and at most SVCWATCH_PER_MIN lines a minute, so
 * a flapping service cannot flood the log: what a full minute left out is
 * counted in one line when the minute ends (gslbctl status shows every
 * service as it is). It runs on the thread that owns the
 * healthdb (gslbd's main loop), never per query. No I/O but the log.
 */
#ifndef GSLB_SVCWATCH_H
#define GSLB_SVCWATCH_H

#include <stdint.h>

#include "gslbd/engine/snapshot.h"

#define SVCWATCH_LINES   20
#define SVCWATCH_PER_MIN 60

typedef struct svcwatch svcwatch_t;

svcwatch_t *svcwatch_new(void);
void svcwatch_free(svcwatch_t *w);

/* Look at `snap` (NULL: nothing served) if it or the health generation
 * `gen` changed since the last call, and log what changed. A service first
 * seen counts as having answered by health, so one failing from the start
 * is said too. `now_ms` is a monotonic clock for the per-minute budget.
 * Returns the number of services whose state changed. */
size_t svcwatch_poll(svcwatch_t *w, const snapshot_t *snap, uint64_t gen, uint64_t now_ms);

#endif
