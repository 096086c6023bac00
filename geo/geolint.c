/*
 * geolint: region locations judged against tzdata's places and the GeoIP
 * database; see geolint.h for the rules and why they are what they are.
 * Linear scans: a zone has a few regions, the table a few hundred places,
 * and this runs when a zone file is loaded, never per query.
 */
#include "geo/geolint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

/* Stations in Antarctica are zone.tab rows, but no service runs from
 * there: a point near one is as lost as a point at sea. */
static bool geolint_is_place(const geo_place_t *p)
{
    return strcmp(p->cc, "AQ") != 0;
}

/* The nearest place, of any country but `not_cc` (NULL: any). */
static const geo_place_t *geolint_nearest_but(double lat, double lon, const char *not_cc,
                                              double *km)
{
    const geo_place_t *best = NULL;
    double best_km = INFINITY;

    for (size_t i = 0; i < geo_n_places; i++) {
        const geo_place_t *p = &geo_places[i];
        double d;

        if (!geolint_is_place(p) || (not_cc != NULL && strcmp(p->cc, not_cc) == 0)) {
            continue;
        }
        d = geo_distance_km(lat, lon, p->lat, p->lon);
        if (d < best_km) {
            best = p;
            best_km = d;
        }
    }
    *km = best_km;
    return best;
}

const geo_place_t *geolint_nearest(double lat, double lon, double *km)
{
    return geolint_nearest_but(lat, lon, NULL, km);
}

const geo_place_t *geolint_country_of(double lat, double lon, double *km)
{
    double other_km;
    const geo_place_t *p = geolint_nearest(lat, lon, km);

    if (p == NULL || *km > GEOLINT_COUNTRY_KM) {
        return NULL;
    }
    geolint_nearest_but(lat, lon, p->cc, &other_km);
    return other_km >= *km + GEOLINT_MARGIN_KM ? p : NULL;
}

bool geolint_swapped(double lat, double lon, const geo_place_t **near, double *km)
{
    double as_written, swapped;
    const geo_place_t *p;

    /* The swapped latitude is the written longitude; equal halves swap to
     * the same place. */
    if (fabs(lat) > 90 || fabs(lon) > GEOLINT_SWAP_LAT || fabs(lat - lon) < 1.0) {
        return false;
    }
    geolint_nearest(lat, lon, &as_written);
    p = geolint_nearest(lon, lat, &swapped);
    if (p == NULL || !((as_written > GEOLINT_NOWHERE_KM && swapped <= GEOLINT_NEAR_KM) ||
                       (as_written > GEOLINT_OFF_KM && swapped <= GEOLINT_ON_KM))) {
        return false;
    }
    *near = p;
    *km = swapped;
    return true;
}

/* The one point of a country in a country-level database, or NULL: the
 * database has none there, or several (a City database). */
static const geo_loc_t *geolint_country_point(const geo_db_t *db, const char *cc)
{
    const geo_loc_t *first = NULL;

    for (size_t i = 0; db != NULL && i < db->n_locs; i++) {
        const geo_loc_t *l = &db->locs[i];

        if (!l->has_coords || strcmp(l->country, cc) != 0) {
            continue;
        }
        if (first == NULL) {
            first = l;
        } else if (l->lat != first->lat || l->lon != first->lon) {
            return NULL;
        }
    }
    return first;
}

bool geolint_country_level(const geo_db_t *db, const char *cc)
{
    return geolint_country_point(db, cc) != NULL;
}

static void geolint_swaps(const zone_t *zone, diag_t *out)
{
    for (size_t i = 0; i < zone->n_regions; i++) {
        const zone_region_t *r = &zone->regions[i];
        const geo_place_t *p;
        double km, off;

        if (!geolint_swapped(r->lat, r->lon, &p, &km)) {
            continue;
        }
        geolint_nearest(r->lat, r->lon, &off);
        diag_warning(out, &r->mark,
                     "region '%s': location [%g, %g] looks swapped: it lies %.0f km from the "
                     "nearest city tzdata knows, while [%g, %g] is %.0f km from %s (%s); a "
                     "location is [latitude, longitude]",
                     r->name, r->lat, r->lon, off, r->lon, r->lat, km, p->zone, p->cc);
    }
}

/* "'a' and 'b'", "'a', 'b' and 'c'": the regions of `idx`. */
static char *geolint_names(const zone_t *zone, const size_t *idx, size_t n, bool places,
                           const geo_place_t *const *at)
{
    char *s = xstrdup("");

    for (size_t i = 0; i < n; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " and " : ", ";
        char *next = places ? xasprintf("%s%s%s", s, sep, at[idx[i]]->zone)
                            : xasprintf("%s%s'%s'", s, sep, zone->regions[idx[i]].name);
        free(s);
        s = next;
    }
    return s;
}

/* Of the regions `idx`, the nearest (biased) to the country's point: where all its
 * clients go while it is up. */
static size_t geolint_winner(const zone_t *zone, const size_t *idx, size_t n, const geo_loc_t *at)
{
    size_t best = idx[0];

    for (size_t i = 1; i < n; i++) {
        const zone_region_t *a = &zone->regions[idx[i]], *b = &zone->regions[best];
        if (geo_biased_km(geo_distance_km(at->lat, at->lon, a->lat, a->lon), a->bias) <
            geo_biased_km(geo_distance_km(at->lat, at->lon, b->lat, b->lon), b->bias)) {
            best = idx[i];
        }
    }
    return best;
}

static double geolint_spread(const zone_t *zone, const size_t *idx, size_t n)
{
    double most = 0;

    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            const zone_region_t *a = &zone->regions[idx[i]], *b = &zone->regions[idx[j]];
            double d = geo_distance_km(a->lat, a->lon, b->lat, b->lon);
            most = d > most ? d : most;
        }
    }
    return most;
}

/* The regions of one service in country `cc` (idx, n >= 2). */
static void geolint_one_country(const zone_t *zone, const zone_service_t *s, const geo_db_t *db,
                                const char *cc, const size_t *idx, size_t n,
                                const geo_place_t *const *at, diag_t *out)
{
    const geo_loc_t *point = geolint_country_point(db, cc);
    char *regions, *places;

    if (point == NULL || geolint_spread(zone, idx, n) < GEOLINT_APART_KM) {
        return;
    }
    regions = geolint_names(zone, idx, n, false, at);
    places = geolint_names(zone, idx, n, true, at);
    diag_warning(out, &s->mark,
                 "service '%s': regions %s look to be in %s (near %s), but the GeoIP database "
                 "%s (%s) has one location for all of %s: its clients cannot be split between "
                 "them and all go to '%s'; a city-level database (a GeoIP2, GeoLite2 or DB-IP "
                 "City mmdb, given with --geoip) would send each to its nearest",
                 s->name, regions, cc, places, db->path, db->type, cc,
                 zone->regions[geolint_winner(zone, idx, n, point)].name);
    free(regions);
    free(places);
}

static void geolint_service(const zone_t *zone, const zone_service_t *s, const geo_db_t *db,
                            const geo_place_t *const *at, diag_t *out)
{
    size_t *idx = xcalloc(s->n_regions + 1, sizeof(*idx));
    bool *done = xcalloc(s->n_regions + 1, sizeof(*done));

    for (size_t i = 0; i < s->n_regions; i++) {
        const geo_place_t *p = at[s->regions[i]];
        size_t n = 0;

        if (done[i] || p == NULL) {
            continue;
        }
        for (size_t j = i; j < s->n_regions; j++) {
            const geo_place_t *q = at[s->regions[j]];
            if (!done[j] && q != NULL && strcmp(q->cc, p->cc) == 0) {
                idx[n++] = s->regions[j];
                done[j] = true;
            }
        }
        if (n >= 2) {
            geolint_one_country(zone, s, db, p->cc, idx, n, at, out);
        }
    }
    free(idx);
    free(done);
}

/* Only `nearest` without spread_km places clients by where they are:
 * weighted and failover ignore it, and a spread shares by weight anyway. */
static void geolint_countries(const zone_t *zone, const geo_db_t *db, diag_t *out)
{
    const geo_place_t **at = xcalloc(zone->n_regions + 1, sizeof(*at));

    for (size_t i = 0; i < zone->n_regions; i++) {
        double km;
        at[i] = geolint_country_of(zone->regions[i].lat, zone->regions[i].lon, &km);
    }
    for (size_t i = 0; i < zone->n_services; i++) {
        const zone_service_t *s = &zone->services[i];
        if (s->policy == POLICY_NEAREST && s->spread_km <= 0 && s->n_regions >= 2) {
            geolint_service(zone, s, db, at, out);
        }
    }
    free(at);
}

/* The region of service `s` first for a client at `loc` (its position in
 * the service's list), by biased distance or, with `biased` false, by
 * distance alone; ties keep the listed order, as geomap.c orders them. */
static size_t geolint_first(const zone_t *zone, const zone_service_t *s, const geo_loc_t *loc,
                            bool biased)
{
    size_t best = 0;
    double best_km = 0;

    for (size_t i = 0; i < s->n_regions; i++) {
        const zone_region_t *r = &zone->regions[s->regions[i]];
        double km = geo_distance_km(loc->lat, loc->lon, r->lat, r->lon);
        km = biased ? geo_biased_km(km, r->bias) : km;
        if (i == 0 || km < best_km) {
            best = i;
            best_km = km;
        }
    }
    return best;
}

/* A region whose bias leaves it first for none of the database's places,
 * while without the biases it would be first for some: the bias took its
 * whole catchment. Only services with a bias pay for the walk over the
 * database's locations (one distance per location and region). */
static void geolint_bias_service(const zone_t *zone, const zone_service_t *s, const geo_db_t *db,
                                 diag_t *out)
{
    size_t *won = xcalloc(s->n_regions, sizeof(*won)),
           *plain = xcalloc(s->n_regions, sizeof(*plain));
    size_t located = 0;

    for (size_t l = 0; l < db->n_locs; l++) {
        if (db->locs[l].has_coords) {
            located++;
            won[geolint_first(zone, s, &db->locs[l], true)]++;
            plain[geolint_first(zone, s, &db->locs[l], false)]++;
        }
    }
    for (size_t i = 0; i < s->n_regions; i++) {
        const zone_region_t *r = &zone->regions[s->regions[i]];
        if (won[i] == 0 && plain[i] > 0) {
            diag_warning(out, &s->mark,
                         "service '%s': with the biases of its regions, region '%s' (bias %+d) "
                         "is the nearest for none of the %zu places of the GeoIP database %s "
                         "(without them, for %zu): it gets clients by distance only while the "
                         "regions nearer than it are down",
                         s->name, r->name, r->bias, located, db->path, plain[i]);
        }
    }
    free(won);
    free(plain);
}

static void geolint_biases(const zone_t *zone, const geo_db_t *db, diag_t *out)
{
    for (size_t i = 0; i < zone->n_services; i++) {
        const zone_service_t *s = &zone->services[i];
        bool biased = false;
        for (size_t j = 0; j < s->n_regions; j++) {
            biased = biased || zone->regions[s->regions[j]].bias != 0;
        }
        if (s->policy == POLICY_NEAREST && s->n_regions >= 2 && biased) {
            geolint_bias_service(zone, s, db, out);
        }
    }
}

void geolint_zone(const zone_t *zone, const geo_db_t *db, diag_t *out)
{
    geolint_swaps(zone, out);
    if (db != NULL) {
        geolint_countries(zone, db, out);
        geolint_biases(zone, db, out);
    }
}
