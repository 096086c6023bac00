/*
 * metrics: healthd's metrics in the Prometheus text format, for the
 * /metrics path of its --http listener.
 *
 * It reads what the prober and the report connections count (pstats.h,
 * probe.h, report.h) and writes the gslb_healthd_* families: probes by
 * target, result and reason, their durations by check type, the loop's
 * lag, each member's state, the number of targets and, per gslbd control
 * socket, whether it is connected and the reports sent; for each
 * region with `load:` its utilisation and reads (healthd_load_*, the names
 * issue 14 gave them); and, with --vantage, each canary's state and
 * whether the vantage abstains. It runs on
 * healthd's loop, which owns everything it reads.
 *
 * It counts nothing itself, and writes neither the process_* metrics
 * (daemon/procstat.h) nor HTTP (daemon/http.h).
 */
#ifndef GSLB_HMETRICS_H
#define GSLB_HMETRICS_H

#include <stddef.h>

#include "common/prom.h"
#include "healthd/load.h"
#include "healthd/probe.h"
#include "healthd/report.h"
#include "healthd/vantage.h"

/* Write every family to p. `reports` holds n_reports connections (none
 * NULL); `vt` is the vantage (NULL: healthd runs as none, and the canary
 * families are left out). Everything is only read. */
void hmetrics_write(prom_t *p, const prober_t *pr, const loader_t *ld, const vantage_t *vt,
                    report_t *const *reports, size_t n_reports);

#endif
