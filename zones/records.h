/*
 * records: the static records of a zone file ("records:" and the apex NS
 * names of "ns:"), parsed into ldns records.
 *
 * Record data is parsed by ldns in zone-file presentation format with the
 * zone as origin, except A and AAAA (checked here so the message can say
 * "bad IPv6 address") and TXT (the YAML string is the text itself). This
 * module checks what concerns records alone: names inside the zone, one
 * spelling per name, CNAME alone at its name (RFC 1034 section 3.6.2), no
 * CNAME chain that comes back on itself, no duplicate records in an RRset
 * (RFC 2181 section 5), and addresses for in-zone name servers. It leaves
 * regions and services to services.c, which uses the name table built here.
 *
 * Internal to zones/.
 */
#ifndef GSLB_RECORDS_H
#define GSLB_RECORDS_H

#include "zones/ynode.h"
#include "zones/zone.h"

/* Which types a name has, one bit per RECORDS_T_*. */
enum {
    RECORDS_T_A = 1u << 0,
    RECORDS_T_AAAA = 1u << 1,
    RECORDS_T_CNAME = 1u << 2,
    RECORDS_T_NS = 1u << 3,
    RECORDS_T_OTHER = 1u << 4,
};

typedef struct {
    ldns_rdf *owner;          /* absolute, lower case; owned */
    const yaml_node_t *key;   /* the name's key under records: */
    const yaml_node_t *cname; /* its CNAME key, NULL if none */
    const ldns_rdf *target;   /* its one CNAME's target (owned by zone->rrs), or NULL */
    unsigned types;           /* RECORDS_T_* */
} records_name_t;

/* Every name under records:, sorted by owner once records_load() returns. */
typedef struct {
    records_name_t *v;
    size_t n;
} records_names_t;

/* Parse the records: mapping (NULL: none) and append its records to
 * zone->rrs; zone->origin and zone->ttl must be set. Fills names (free with
 * records_names_free()). Errors go to d. */
void records_load(ynode_doc_t *d, zone_t *zone, const yaml_node_t *map, records_names_t *names);

/* Append an apex NS record for each name of the ns: list. */
void records_load_ns(ynode_doc_t *d, zone_t *zone, const yaml_node_t *list);

/* Check that in-zone targets of the apex NS records in `list` (the ns: node)
 * and of delegations have an address. */
void records_check_ns(ynode_doc_t *d, const zone_t *zone, const yaml_node_t *list,
                      const records_names_t *names);

/* The owner name a key under records: or services: stands for (relative to
 * the zone unless it ends in a dot), or NULL after reporting at `key` why it
 * is not acceptable: not a name, a wildcard, or outside the zone. */
ldns_rdf *records_owner(ynode_doc_t *d, const zone_t *zone, const yaml_node_t *key,
                        const char *ctx);

/* The entry for `owner`, NULL if records: does not name it. */
const records_name_t *records_find(const records_names_t *names, const ldns_rdf *owner);

/* "records 'www'": the context for messages about a name, from its key. */
void records_ctx(const records_name_t *name, char *buf, size_t size);

void records_names_free(records_names_t *names);

#endif
