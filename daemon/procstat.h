/*
 * procstat: the standard process_* metrics of Prometheus' client libraries
 * (CPU seconds, memory, descriptors, start time), read from /proc/self on
 * each scrape, for both daemons' /metrics.
 */
#ifndef GSLB_PROCSTAT_H
#define GSLB_PROCSTAT_H

#include "common/prom.h"

/* Write the process_* families. A figure that cannot be read is left out. */
void procstat_write(prom_t *p);

#endif
