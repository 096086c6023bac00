/*
 * services: the GSLB part of a zone file: checks:, regions: and services:.
 *
 * Checks describe how healthd probes a pool, regions are pools of addresses
 * at a place on the map, and services are the names whose A and AAAA answers
 * come from regions. They are loaded in that order, so a region can look up
 * its check and a service its regions whatever order the file writes them
 * in; a reference to a missing entry is reported at the referring node. Every
 * entry whose name is valid is kept even if its body has errors, so that one
 * mistake is not reported again as "not defined" further on. A service's
 * own `geo:` overrides are parsed by zgeo.c.
 *
 * Internal to zones/.
 */
#ifndef GSLB_SERVICES_H
#define GSLB_SERVICES_H

#include "zones/records.h"
#include "zones/ynode.h"
#include "zones/zone.h"

/* A probe address as a pool member's `probe:` and a vantage's `canary:`
 * write it: "ADDR", "IPv4:PORT" or "[IPv6]:PORT". Sets *family (AF_INET or
 * AF_INET6), addr (network order) and *port (0: none written) and returns
 * true; returns false, changing nothing but addr, when it is none of those. */
bool services_probe_parse(const char *text, int *family, uint8_t addr[16], uint16_t *port);

/* Each takes the section's mapping (NULL: the section is absent), appends to
 * the zone's arrays and reports errors to d. */
void services_load_checks(ynode_doc_t *d, zone_t *zone, const yaml_node_t *map);
void services_load_regions(ynode_doc_t *d, zone_t *zone, const yaml_node_t *map);

/* Needs zone->origin, and the names of records: to reject a service at a
 * name that also has A, AAAA or CNAME records or lies in a delegation. */
void services_load(ynode_doc_t *d, zone_t *zone, const yaml_node_t *map,
                   const records_names_t *names);

#endif
