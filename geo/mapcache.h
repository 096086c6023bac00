/*
 * mapcache: geo maps shared by successive snapshots.
 *
 * A geo map depends only on the GeoIP database and on a service's geometry:
 * its regions' coordinates and biases, its overrides and whether it spreads. A reload
 * that changes neither (the common case: a weight edited, a record added)
 * reuses the maps the serving snapshot already has instead of walking the
 * database again, which is a quarter of reloading a large zone. Entries are
 * counted references; the last snapshot to let go frees the map. Main
 * thread only (snapshots are built and freed there).
 */
#ifndef GSLB_MAPCACHE_H
#define GSLB_MAPCACHE_H

#include "geo/geomap.h"

typedef struct geo_cache geo_cache_t;
typedef struct geo_cache_entry geo_cache_entry_t;

geo_cache_t *geo_cache_new(void);
/* Frees the cache; entries still referenced are freed when released. */
void geo_cache_free(geo_cache_t *c);

/* The map for (db, spec), built if new; takes a reference to give back with
 * geo_cache_release(). `db` may be NULL. */
geo_cache_entry_t *geo_cache_get(geo_cache_t *c, const geo_db_t *db, const geo_map_spec_t *spec);
const geo_map_t *geo_cache_map(const geo_cache_entry_t *e);
void geo_cache_release(geo_cache_entry_t *e);

/* Maps built (not reused) since the cache was made, for tests and logs. */
unsigned long geo_cache_built(const geo_cache_t *c);

#endif
