/*
 * status: what `gslbctl status` prints, made in one place as text for
 * people and as JSON for programs (`gslbctl status --json`, and later the
 * HTTP status API), from the same facts:
 *
 * - per zone: its serial, its file, and its file's last reload (when, what
 *   it did, its errors);
 * - per region: its effective state (up, unknown, down, drained, forced up,
 *   forced down) and why, its weight and the weight selection uses;
 * - per member: what it counts as, the last report of it (state, reason,
 *   how long ago, from which healthd and when that healthd was last heard);
 * - per service: how many answers it gave over the last minute and each
 *   region's share of them, and its answers per region over the last ten
 *   minutes in steps of ten seconds (stats.h);
 * - zone files that failed and serve nothing.
 *
 * It only reads: the snapshot served, the health slots, the answer stats,
 * and the reload records kept here (status_reloaded). Main thread only; no
 * I/O but the FILE it writes to.
 *
 * The JSON document (status_version 1) is an object:
 *   status_version, gslbd_version, time (RFC 3339, UTC),
 *   zones: [{name, serial, file, last_reload, regions, services}],
 *   unserved_files: [{file, last_reload}]
 * last_reload: {time, age_s, result: loaded|unchanged|kept|failed, serial,
 *   old_serial, errors: [lines]} or null; regions: [{name, state: up|unknown|
 *   down|drained|forced-up|forced-down, why, override: auto|drain|down|up,
 *   lat, lon (degrees, its location), weight, effective_weight, min_up,
 *   max_addrs (only where the zone sets it), checked, waiting_for_healthd,
 *   members_known_up, members_counted_up, load (null without a load:, else
 *   {source, url, capacity, utilisation, figure, age_ms, fresh, reason,
 *   shed_share, high, low, step, period_s, reversals}: shed.h), members:
 *   [{address, state: up|
 *   unknown|down|forced-up|forced-down|drained, health: up|down|unknown,
 *   override, reason, since_s, reported_s, source, source_heard_s}]}];
 * services: [{name, policy, answers_per_query, window_s, answers, no_region,
 *   regions: [{name, answers, share}], history}], share a fraction of
 *   `answers` (null when there were none); history: {step_s, regions:
 *   {region name: [answers per step, oldest first]}, none: [answers with no
 *   region per step]} over the last STATS_HIST_STEPS steps (fewer while
 *   gslbd has run less), or null. Times in seconds; null where never.
 */
#ifndef GSLB_STATUS_H
#define GSLB_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/prom.h"
#include "geo/geodb.h"
#include "gslbd/engine/healthdb.h"
#include "gslbd/engine/snapshot.h"
#include "gslbd/engine/stats.h"
#include "gslbd/engine/zoneset.h"

#define STATUS_VERSION 1

typedef struct status status_t;

status_t *status_new(void);
void status_free(status_t *st);

/* Keep what a load or reload did to each file, at `wall_ms` (milliseconds
 * since the epoch). An unchanged file keeps its earlier record; a removed
 * one loses it. */
void status_reloaded(status_t *st, const zoneset_report_t *rep, uint64_t wall_ms);

/* What a report is made from. */
typedef struct {
    const snapshot_t *snap;   /* served now */
    const healthdb_t *health; /* its slots' database (source names), may be NULL */
    const geo_db_t *db;       /* the GeoIP database in use, NULL for none */
    stats_t *stats;           /* answer shares, may be NULL */
    uint64_t now_ms;          /* the clock of the slots' times and the stats */
    uint64_t wall_ms;         /* now, milliseconds since the epoch */
} status_env_t;

void status_write_text(const status_t *st, const status_env_t *env, FILE *out);
void status_write_json(const status_t *st, const status_env_t *env, FILE *out);

/* The same facts as Prometheus metrics (common/prom.h): zone serials and
 * reload times, reloads by result, each region's, member's and service's
 * state as a state set (one sample per word, 1 for the word that holds),
 * region weights, and each healthd source's connection, last report age and
 * reports received. Metric names are in the README's Monitoring section. */
void status_write_prom(const status_t *st, const status_env_t *env, prom_t *p);

#endif
