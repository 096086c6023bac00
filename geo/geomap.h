/*
 * geomap: which regions, in which order, serve a client of a service.
 *
 * A geo map is compiled at load time from a GeoIP database (geodb.h) and a
 * service's regions and overrides (zone YAML `geo: {map, nets, default}`)
 * into a trie whose leaves are ordered region lists. Networks whose lists
 * are equal merge into supernets, so the depth of the leaf a client reaches
 * is the widest prefix that gets the same list: the ECS scope (RFC 7871 7.2.1).
 * Lookup is a table read and at most 8 (IPv4) or 56 (IPv6) steps of two bits:
 * no distance is computed per query. Distances are scaled by each region's
 * geoproximity bias (geo_biased_km()) before they order anything, so a bias
 * moves catchment boundaries in the compiled map and costs nothing per query. Health and weights
 * are applied per query by the caller.
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
    float km;        /* distance as ordered (biased, geo_biased_km()), kept only when the
                      * service spreads (else GEO_KM_NONE) */
} geo_entry_t;

typedef struct {
    uint16_t n;
    uint8_t source; /* geo_source_t */
    geo_entry_t e[];
} geo_list_t;

/* The compiled trie: a table indexed by the address's first GEO_ROOT_BITS
 * bits per family, then nodes that each consume two bits and have four
 * references. A reference is a node (its byte offset in quads, so a step
 * needs no multiply) or a leaf:
 * GEO_LEAF | back << GEO_BACK_SHIFT | list index, where `back` is how many of
 * the bits the walk consumed lie beyond the leaf's network (0 or 1 below the
 * table, up to GEO_ROOT_BITS in it). Compared with one bit per step, the walk
 * skips the bushy top in one read and takes half the steps below it, for
 * about the same memory plus the two tables (256 KiB each). */
#define GEO_ROOT_BITS  16
#define GEO_BACK_SHIFT 25
#define GEO_LIST_MASK  ((1u << GEO_BACK_SHIFT) - 1)

typedef struct {
    uint32_t child[4];
} geo_quad_t;

typedef struct {
    const uint32_t *root4, *root6; /* 1 << GEO_ROOT_BITS references each */
    const geo_quad_t *quads;
    size_t n_quads;
    const geo_list_t **lists;
    size_t n_lists;
} geo_map_t;

typedef struct {
    size_t n;                  /* the service's regions */
    const double *lat, *lon;   /* per service region */
    const int *bias;           /* per service region, -99..99; NULL: all 0 */
    const size_t *zone_region; /* service region -> index in zone_t.regions */
    const zone_geo_t *cfg;     /* overrides, NULL for none */
    bool keep_km;              /* spread_km > 0: keep distances in the lists */
} geo_map_spec_t;

/* Compile a map. `db` may be NULL (no database): everyone is "not placed".
 * Everything lives in the arena. Never fails (aborts on out-of-memory). */
const geo_map_t *geo_map_build(const geo_db_t *db, const geo_map_spec_t *spec, arena_t *a);

/* The four references of the node at byte offset `ref` of m->quads. */
static inline const uint32_t *geo_quad_at(const geo_map_t *m, uint32_t ref)
{
    return (const uint32_t *)((const char *)m->quads + ref);
}

/* The list for an address (4 or 16 bytes in network order); *scope gets the
 * prefix length over which the list is the same. The address is read as
 * big-endian words: each step shifts the bits it used out of the top. */
static inline const geo_list_t *geo_map_lookup(const geo_map_t *m, bool v6, const uint8_t *addr,
                                               unsigned *scope)
{
    uint32_t ref;
    unsigned d;

    if (!v6) {
        /* A marker bit follows the 32 address bits: where it has moved to
         * when the walk stops tells how many bits the walk took, so the
         * loop keeps no count (an IPv4 walk ends within the word). */
        uint32_t w;
        memcpy(&w, addr, 4);
        uint64_t x = (uint64_t)__builtin_bswap32(w) << 32 | 1u << 31;
        ref = m->root4[x >> (64 - GEO_ROOT_BITS)];
        for (x <<= GEO_ROOT_BITS; !(ref & GEO_LEAF); x <<= 2) {
            ref = geo_quad_at(m, ref)[x >> 62];
        }
        d = (unsigned)__builtin_ctzll(x) - 31;
    } else {
        uint64_t hi, lo;
        geo_addr_words(addr, &hi, &lo);
        ref = m->root6[hi >> (64 - GEO_ROOT_BITS)];
        d = GEO_ROOT_BITS;
        for (hi <<= GEO_ROOT_BITS; !(ref & GEO_LEAF) && d < 64; d += 2, hi <<= 2) {
            ref = geo_quad_at(m, ref)[hi >> 62];
        }
        for (; !(ref & GEO_LEAF); d += 2, lo <<= 2) {
            ref = geo_quad_at(m, ref)[lo >> 62];
        }
    }
    *scope = d - ((ref & ~GEO_LEAF) >> GEO_BACK_SHIFT);
    return m->lists[ref & GEO_LIST_MASK];
}

/* The same ordering rules for one location, for unit tests and --explain:
 * fills `out` (room for spec->n entries) and returns the source. */
geo_source_t geo_map_order(const geo_map_spec_t *spec, const geo_loc_t *loc, geo_entry_t *out,
                           uint16_t *n);

#endif
