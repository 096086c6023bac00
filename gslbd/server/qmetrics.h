/*
 * qmetrics: the query path's metrics in the Prometheus text format, for
 * gslbd's /metrics: what the workers' query counters (qstats.h) add up to,
 * and each service's answers since gslbd started (stats.h):
 *
 *   gslb_queries_total{transport,family,qtype,rcode}
 *   gslb_queries_malformed_total{transport,reason}
 *   gslb_queries_dropped_total{transport,reason}
 *   gslb_responses_truncated_total{transport}
 *   gslb_ecs_queries_total{family}, gslb_ecs_responses_total{family,scope}
 *   gslb_rrl_responses_total{action}
 *   gslb_tcp_connections_open, gslb_tcp_connections_accepted_total,
 *   gslb_tcp_connections_closed_total{reason}
 *   gslb_service_region_answers_total{zone,service,region}
 *   gslb_service_answers_total{zone,service,mode}
 *
 * Series of queries by type and code, and of ECS scopes, appear once
 * counted; the others are always there. It only reads: main thread (the
 * stats are the main loop's), while the workers count on.
 */
#ifndef GSLB_QMETRICS_H
#define GSLB_QMETRICS_H

#include <stdint.h>

#include "common/prom.h"
#include "gslbd/engine/snapshot.h"
#include "gslbd/engine/stats.h"
#include "gslbd/server/server.h"

/* Write the families above to p: the counters of srv's workers, and the
 * answers of the services of `snap` (the snapshot served; NULL: none) from
 * `st` as of `now_ms` (its clock; st NULL: no service metrics). */
void qmetrics_write(prom_t *p, const server_t *srv, stats_t *st, const snapshot_t *snap,
                    uint64_t now_ms);

#endif
