/*
 * geodb: a GeoIP database (any GeoIP2/GeoLite2/DB-IP City or Country mmdb,
 * or gslb's world database) compiled into a binary trie of locations.
 *
 * Records may be in the GeoIP2 layout or in ip-location-db's flat one
 * (country_code, latitude, longitude at the top level; decided per database).
 * Loading walks the mmdb's whole search tree once and interns every distinct
 * location (coordinates, continent, country, subdivision), so that networks
 * with the same location merge into one leaf. geomap.h then turns this trie
 * into per-service region orders. Records without coordinates get their
 * country's (a table built from tzdata) or, failing that, their continent's.
 * This module does no socket I/O and knows nothing of DNS.
 */
#ifndef GSLB_GEODB_H
#define GSLB_GEODB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/diag.h"

typedef struct {
    double lat, lon; /* degrees; valid when has_coords */
    bool has_coords;
    char coords_from[12]; /* "city", "country", "continent": how coords were found */
    char continent[3];    /* "" when unknown */
    char country[3];
    char subdivision[8]; /* "US-CA" form, "" when unknown */
} geo_loc_t;

/* Trie references: an index into nodes, or a leaf holding a value. */
#define GEO_LEAF 0x80000000u
#define GEO_NONE (GEO_LEAF | 0x7fffffffu) /* the database has nothing here */

typedef struct {
    uint32_t child[2];
} geo_node_t;

typedef struct {
    geo_node_t *nodes;
    size_t n_nodes;
    uint32_t root6; /* the whole IPv6 space, GEO_NONE for an IPv4-only db */
    uint32_t root4; /* the IPv4 space (::/96 in an IPv6 db) */
} geo_trie_t;

typedef struct {
    char *path;
    uint64_t gen;          /* unique per open: what maps built from it are keyed on */
    char type[64];         /* database_type from the metadata */
    char description[256]; /* the metadata's description, English if there is one: the
                            * built-in database credits its data sources there */
    uint64_t build_epoch;
    geo_trie_t trie; /* leaves hold location indices */
    geo_loc_t *locs;
    size_t n_locs;
    uint64_t networks; /* geo_db_networks(), counted once at open */
    void *map;         /* the file mapping trie and locs live in, or NULL: on the heap */
    size_t map_len;
} geo_db_t;

/* Open and compile an mmdb. Returns 0 and sets *out; or a negative errno
 * (the file cannot be read) or GSLB_EGEODB (not a database we can use), with
 * a line in diag naming the file and what is wrong.
 *
 * The compiled trie and locations are needed again only to compile a map for
 * a new region set, by geolint and by --explain, so they are moved out of the
 * heap into an unlinked file of our own in $TMPDIR (default /var/tmp), mapped
 * read-only: a city database's trie is over 100 MB that would otherwise stay
 * resident for nothing. Where no such file can be made, they stay on the heap
 * and diag gets a warning saying why. */
int geo_db_open(const char *path, geo_db_t **out, diag_t *diag) ATTR_WUR;
void geo_db_free(geo_db_t *db);

/* The description of the mmdb at `path` (as geo_db_t.description) without
 * compiling it, for --version: 0, or a negative code when it is no mmdb. */
int geo_db_describe_file(const char *path, char *out, size_t size);

/* Done reading the trie and locations for now (after a snapshot's maps are
 * compiled): their pages leave gslbd's resident set and stay in the page
 * cache, from where the next compile or --explain reads them back. Nothing
 * for a database on the heap. */
void geo_db_drop_pages(const geo_db_t *db);

/* The networks the database locates: the prefixes its trie holds a
 * location for, after equal neighbours merged (IPv4 inside IPv6 counted
 * once). Counted in one pass over the trie when it is opened. */
uint64_t geo_db_networks(const geo_db_t *db);

/* An IPv6 address (16 bytes in network order) as two big-endian words:
 * walks shift its bits out of the top of hi, then of lo. */
static inline void geo_addr_words(const uint8_t *addr, uint64_t *hi, uint64_t *lo)
{
    memcpy(hi, addr, 8);
    memcpy(lo, addr + 8, 8);
    *hi = __builtin_bswap64(*hi);
    *lo = __builtin_bswap64(*lo);
}

/* An address of either family (4 or 16 bytes in network order) as two
 * big-endian words, IPv4 in the top 32 bits of hi. */
static inline void geo_addr_words_any(bool v6, const uint8_t *addr, uint64_t *hi, uint64_t *lo)
{
    if (v6) {
        geo_addr_words(addr, hi, lo);
    } else {
        uint32_t w;
        memcpy(&w, addr, 4);
        *hi = (uint64_t)__builtin_bswap32(w) << 32;
        *lo = 0;
    }
}

/* Walk a trie with an address (4 or 16 bytes in network order). Returns the
 * leaf reached and sets *depth to the number of bits used (the prefix length
 * of the network that matched, in the address family's own bits). */
static inline uint32_t geo_trie_walk(const geo_trie_t *t, int v6, const uint8_t *addr,
                                     unsigned *depth)
{
    uint32_t ref = v6 ? t->root6 : t->root4;
    uint64_t hi, lo;
    unsigned d = 0;

    /* The address as big-endian words: each step shifts the next bit out of
     * the top, instead of indexing a byte and masking a bit. */
    geo_addr_words_any(v6, addr, &hi, &lo);
    for (; !(ref & GEO_LEAF) && d < 64; d++, hi <<= 1) {
        ref = t->nodes[ref].child[hi >> 63];
    }
    for (; !(ref & GEO_LEAF); d++, lo <<= 1) {
        ref = t->nodes[ref].child[lo >> 63];
    }
    *depth = d;
    return ref;
}

/* Great-circle distance in km (haversine, mean Earth radius 6371 km). */
double geo_distance_km(double lat1, double lon1, double lat2, double lon2);

/* The distance that orders a region of geoproximity bias `bias` (-99..99,
 * zone.h): km scaled by (1 - bias/100). A positive bias makes the region
 * look nearer than it is, so it draws clients from farther away (Route 53's
 * geoproximity bias). Bias 0 returns km unchanged, bit for bit. */
static inline double geo_biased_km(double km, int bias)
{
    return bias == 0 ? km : km * (100 - bias) / 100.0;
}

/* Coordinates of a country (ISO 3166 alpha-2) or continent code. */
bool geo_country_coords(const char *cc, double *lat, double *lon);
bool geo_continent_coords(const char *code, double *lat, double *lon);

/* The continent code of a country (ISO 3166 alpha-2), as geo/world.mmdb
 * gives it, or NULL when geo/countries.h does not know the country. */
const char *geo_country_continent(const char *cc);

#endif
