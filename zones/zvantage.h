/*
 * zvantage: the top-level `vantages:` of a zone file: each vantage point's
 * canaries, the addresses its healthd probes to tell a failure of its own
 * network from a failure of a region. Checks the keys and fills
 * zone_vantage_t; probing the canaries is healthd's, counting a vantage out
 * of the quorum gslbd's.
 *
 * Internal to zones/.
 */
#ifndef GSLB_ZVANTAGE_H
#define GSLB_ZVANTAGE_H

#include "zones/ynode.h"
#include "zones/zone.h"

/* Load the `vantages:` mapping (NULL: absent) into zone->vantages. The
 * checks must be loaded: a vantage may name one. Errors go to d. */
void zvantage_load(ynode_doc_t *d, zone_t *zone, const yaml_node_t *map);

#endif
