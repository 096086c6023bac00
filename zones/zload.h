/*
 * zload: a region's `load:` (where healthd reads how loaded the region's
 * balancer is) and the zone's `shed:` (when gslbd moves clients off a
 * loaded region). Checks the keys and fills zone_load_t and zone_shed_t;
 * reading the figures is healthd's (healthd/load.c), shedding gslbd's.
 *
 * Internal to zones/.
 */
#ifndef GSLB_ZLOAD_H
#define GSLB_ZLOAD_H

#include <stdbool.h>

#include "zones/schema.h"
#include "zones/ynode.h"
#include "zones/zone.h"

/* Load the `load:` value schema_map() put in *v into r->load. Absent or
 * null: r->load.given stays false. Errors go to d, named by ctx. */
void zload_region(ynode_doc_t *d, zone_region_t *r, const schema_val_t *v, const char *ctx);

/* Load the top-level `shed:` value into zone->shed, its defaults when
 * absent. The services must be loaded: the default period is twice the
 * largest service TTL. */
void zload_shed(ynode_doc_t *d, zone_t *zone, const schema_val_t *v);

#endif
