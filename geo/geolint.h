/*
 * geolint: warnings about where a zone puts its regions, which need a map:
 * the GeoIP database in use, and the places of tzdata's zone.tab
 * (geo/countries.h, about 400 cities, several for a large country).
 *
 * - Two or more regions of a `nearest` service in one country, while the
 *   database has one location for all of that country (the built-in world
 *   database, any Country database): every client there stands at that
 *   point and gets the same region, so the regions cannot split them. A
 *   region's country is that of the nearest zone.tab place, when that place
 *   is within GEOLINT_COUNTRY_KM and every place of another country is at
 *   least GEOLINT_MARGIN_KM farther (near a border the guess is left
 *   unmade); the regions must lie GEOLINT_APART_KM apart (two sites of one
 *   city are not meant to split anything). The message names the places, so
 *   a wrong guess shows.
 * - A region of a `nearest` service whose biases (zone `bias`) leave it the
 *   nearest for none of the database's places while without the biases it
 *   would be for some: the bias took its whole catchment. Checked only for
 *   services with a bias, at one distance per place and region.
 * - A location that looks like [longitude, latitude]: the point as written
 *   is off every place (more than GEOLINT_NOWHERE_KM from all of them, or
 *   more than GEOLINT_OFF_KM while the swapped point lies within
 *   GEOLINT_ON_KM of one) and the swapped point, whose latitude is within
 *   +-GEOLINT_SWAP_LAT, is near a place (within GEOLINT_NEAR_KM). Antarctic
 *   stations are not places here: no region is there.
 *
 * Warnings only (diag_warning), for --check and the log at start and
 * reload. Nothing here is on the query path or keeps state.
 */
#ifndef GSLB_GEOLINT_H
#define GSLB_GEOLINT_H

#include <stdbool.h>

#include "common/diag.h"
#include "geo/countries.h"
#include "geo/geodb.h"
#include "zones/zone.h"

#define GEOLINT_COUNTRY_KM 600.0
#define GEOLINT_MARGIN_KM  150.0
#define GEOLINT_APART_KM   300.0
#define GEOLINT_NOWHERE_KM 1500.0
#define GEOLINT_NEAR_KM    600.0
#define GEOLINT_OFF_KM     300.0
#define GEOLINT_ON_KM      30.0
#define GEOLINT_SWAP_LAT   70.0

/* Append the warnings about `zone`'s regions for database `db` (NULL: no
 * database, only the swapped-coordinates check) to `out`. */
void geolint_zone(const zone_t *zone, const geo_db_t *db, diag_t *out);

/* ---- pieces, exposed for unit tests ---- */

/* The nearest place (Antarctic stations left out) and its distance. */
const geo_place_t *geolint_nearest(double lat, double lon, double *km);

/* The place that says which country (lat, lon) is in, by the rule above, or
 * NULL when the guess is left unmade. */
const geo_place_t *geolint_country_of(double lat, double lon, double *km);

/* Whether [lat, lon] looks like [longitude, latitude] by the rule above;
 * *near then gets the place near the swapped point and *km its distance. */
bool geolint_swapped(double lat, double lon, const geo_place_t **near, double *km);

/* Whether `db` has locations in country `cc` and all at one point. */
bool geolint_country_level(const geo_db_t *db, const char *cc);

#endif
