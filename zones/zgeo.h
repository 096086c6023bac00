/*
 * zgeo: the `geo:` overrides of a zone file, at the top level or in a
 * service: `map` (continent, country and subdivision codes to regions),
 * `nets` (client networks to regions) and `default` (regions for clients no
 * database can place).
 *
 * This module checks the keys (known continent, assigned ISO 3166-1 country
 * code, well-formed subdivision, network without host bits, no two keys that
 * mean the same) and turns the region lists into indices into zone->regions.
 * It does not look addresses up or order regions: geo/ and gslbd do that with
 * what is built here.
 *
 * Internal to zones/.
 */
#ifndef GSLB_ZGEO_H
#define GSLB_ZGEO_H

#include "zones/schema.h"
#include "zones/ynode.h"
#include "zones/zone.h"

/* Load the `geo:` value that schema_map() put in *v into *geo (which must be
 * zeroed). zone->regions must be loaded. `owner` names where the key is, for
 * messages: "" at the top level, "service 'www'" in a service. An absent or
 * null key leaves geo->given false; otherwise given is true and every entry
 * whose key is valid is kept, so zone_geo_free() must be called either way.
 * Errors go to d. */
void zgeo_load(ynode_doc_t *d, const zone_t *zone, const schema_val_t *v, const char *owner,
               zone_geo_t *geo);

/* Drop the regions listed more than once from regions[0..*n) (indices into
 * zone->regions, read from items[0..*n)), reporting each repeat at its item;
 * services' region lists share this with geo's. */
void zgeo_unique_regions(ynode_doc_t *d, const zone_t *zone, const char *ctx, size_t *regions,
                         size_t *n, const yaml_node_t **items);

#endif
