/* countries: one representative coordinate per ISO 3166 country, generated at
 * build time from tzdata by geo/build-countries (same choice as the world database).
 *
 * A GeoIP2 Country database has no location field; its records are placed at
 * their country's entry here, so a country stands at the same point whether
 * the daemon loads such a database or geo/world.mmdb. The table is static,
 * read-only data: nothing owns or frees it. It holds only countries with a
 * tzdata zone.tab row (not BV or HM), each with its continent, which records
 * in ip-location-db's flat layout (a country and no continent) are given.
 * The same file lists every zone.tab row as a place (geo_places).
 */
#ifndef GSLB_COUNTRIES_H
#define GSLB_COUNTRIES_H

#include <stddef.h>

/* cc: upper-case ISO 3166-1 alpha-2 code, NUL-terminated. lat, lon: degrees,
 * north and east positive, rounded to four decimals as in geo/world.mmdb.
 * continent: its MaxMind continent code from CLDR, as in geo/world.mmdb
 * ("" for the rare country CLDR puts on none). */
typedef struct {
    char cc[3];
    float lat, lon;
    char continent[3];
} geo_country_t;

/* geo_n_countries entries, sorted by cc (strcmp order), so callers may bsearch. */
extern const geo_country_t geo_countries[];
extern const size_t geo_n_countries;

/* Every row of zone.tab: a timezone's principal city, its country and zone
 * name ("America/New_York"), in zone.tab's order. About 400 places: several
 * for a large country (29 for the US), one for most. geo/geolint.c measures
 * region locations against them. */
typedef struct {
    char cc[3];
    float lat, lon;
    const char *zone;
} geo_place_t;

extern const geo_place_t geo_places[];
extern const size_t geo_n_places;

#endif
