/*
 * geomap: which regions, in which order, serve a client of a service.
 *
 * A geo map is compiled at load time from a GeoIP database (geodb.h) and a
 * service's regions and overrides (zone YAML `geo: {map, nets, default}`)
 * into a trie whose leaves are ordered region lists. Networks whose lists
 * are equal merge into supernets, so the depth of the leaf a client reaches
 * is the widest prefix that gets the same list: the ECS scope (RFC 7871 7.2.1).
 * Lookup is a walk of at most 32 (IPv4) or 128 (IPv6) steps: no distance is
 * computed per query. Health and weights are applied per query by the caller.
 */
#ifndef GSLB_GEOMAP_H
#define GSLB_GEOMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "geo/geodb.h"
#include "zones/zone.h"

#define GEO_KM_NONE (-1.0f)

/* How a list was ordered, for --explain. */
typedef enum {
    GEO_BY_DISTANCE, /* the client's location, nearest first */
    GEO_BY_MAP,      /* a geo.map entry, then the rest by distance */
    GEO_BY_NETS,     /* a geo.nets entry, then the rest in listed order */
    GEO_BY_DEFAULT,  /* not placed by the database: geo.default, then the rest */
    GEO_BY_LISTED,   /* not placed and no default: the service's listed order */
} geo_source_t;

typedef struct {
    uint16_t region; /* position in the service's region list */
    float km;        /* distance, kept only when the service spreads (else GEO_KM_NONE) */
} geo_entry_t;

typedef struct {
    uint16_t n;
    uint8_t source; /* geo_source_t */
    geo_entry_t e[];
} geo_list_t;

typedef struct {
    geo_trie_t trie; /* leaves: indices into lists */
    const geo_list_t **lists;
    size_t n_lists;
} geo_map_t;

typedef struct {
    size_t n;                  /* the service's regions */
    const double *lat, *lon;   /* per service region */
    const size_t *zone_region; /* service region -> index in zone_t.regions */
    const zone_geo_t *cfg;     /* overrides, NULL for none */
    bool keep_km;              /* spread_km > 0: keep distances in the lists */
} geo_map_spec_t;

/* Compile a map. `db` may be NULL (no database): everyone is "not placed".
 * Everything lives in the arena. Never fails (aborts on out-of-memory). */
const geo_map_t *geo_map_build(const geo_db_t *db, const geo_map_spec_t *spec, arena_t *a);

/* The list for an address (4 or 16 bytes); *scope gets the prefix length
 * over which the list is the same. */
static inline const geo_list_t *geo_map_lookup(const geo_map_t *m, bool v6, const uint8_t *addr,
                                               unsigned *scope)
{
    uint32_t leaf = geo_trie_walk(&m->trie, v6, addr, scope);
    return m->lists[leaf & ~GEO_LEAF];
}

/* The same ordering rules for one location, for unit tests and --explain:
 * fills `out` (room for spec->n entries) and returns the source. */
geo_source_t geo_map_order(const geo_map_spec_t *spec, const geo_loc_t *loc, geo_entry_t *out,
                           uint16_t *n);

#endif
