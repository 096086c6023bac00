/*
 * Unit tests for geo/geolint.c: which region locations look swapped, which
 * country a region is guessed to be in, which databases are country-level
 * for a country, and the warnings a zone gets for them. The places are
 * tzdata's (geo/countries.h); the database is built here with
 * geo/build-testdb. The cases are real sites of cloud regions.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geo/geolint.h"
#include "zones/load.h"

typedef struct {
    const char *name;
    double lat, lon;
} site_t;

/* Where regions really are. None may look swapped as written. */
static const site_t sites[] = {
    {"Ashburn", 39.04, -77.49},   {"San Jose", 37.34, -121.89}, {"Dublin", 53.35, -6.26},
    {"London", 51.5, -0.13},      {"Frankfurt", 50.11, 8.68},   {"Paris", 48.86, 2.35},
    {"Stockholm", 59.33, 18.07},  {"Mumbai", 19.07, 72.88},     {"Hyderabad", 17.39, 78.49},
    {"Delhi", 28.61, 77.2},       {"Singapore", 1.29, 103.85},  {"Tokyo", 35.68, 139.69},
    {"Sydney", -33.87, 151.21},   {"Sao Paulo", -23.55, -46.63}, {"Cape Town", -33.92, 18.42},
    {"Johannesburg", -26.2, 28.04}, {"Dubai", 25.2, 55.27},     {"Bahrain", 26.07, 50.55},
    {"Montreal", 45.5, -73.57},   {"Dallas", 32.78, -96.8},     {"Quincy", 47.23, -119.85},
    {"Milan", 45.46, 9.19},       {"Madrid", 40.42, -3.7},      {"Zurich", 47.37, 8.54},
    {"Seoul", 37.57, 126.98},     {"Jakarta", -6.2, 106.8},     {"Tel Aviv", 32.08, 34.78},
};

Test(geolint, real_sites_do_not_look_swapped)
{
    for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
        const geo_place_t *p = NULL;
        double km;
        cr_expect_not(geolint_swapped(sites[i].lat, sites[i].lon, &p, &km), "%s (near %s)",
                      sites[i].name, p ? p->zone : "");
    }
}

Test(geolint, swapped_sites_are_caught_where_the_swap_is_telling)
{
    /* Swapped, these land at sea, in Antarctica, or far from any city while
     * the true point is on one. */
    static const char *const caught[] = {"Ashburn", "London", "Paris", "Stockholm",
                                         "Sao Paulo", "Johannesburg", "Madrid", "Zurich",
                                         "Montreal"};
    /* Swapped, these land near some city (Frankfurt near Aden, Dublin near
     * Mahe, Dubai near Vilnius) or cannot be swapped (|longitude| > 70):
     * nothing to tell them by, so nothing is said. */
    static const char *const missed[] = {"Frankfurt", "Dublin", "Dubai", "Tokyo", "Sydney",
                                         "Mumbai"};

    for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
        const geo_place_t *p = NULL;
        double km = -1;
        bool want = false, known = false;

        for (size_t k = 0; k < sizeof(caught) / sizeof(caught[0]); k++) {
            want |= !strcmp(caught[k], sites[i].name);
            known |= !strcmp(caught[k], sites[i].name);
        }
        for (size_t k = 0; k < sizeof(missed) / sizeof(missed[0]); k++) {
            known |= !strcmp(missed[k], sites[i].name);
        }
        if (!known) {
            continue;
        }
        bool got = geolint_swapped(sites[i].lon, sites[i].lat, &p, &km);
        cr_expect_eq(got, want, "%s swapped: got %d (near %s, %.0f km)", sites[i].name, got,
                     p ? p->zone : "-", km);
        if (got) {
            cr_expect_leq(km, GEOLINT_NEAR_KM);
        }
    }
}

Test(geolint, a_swap_to_the_same_point_is_no_swap)
{
    const geo_place_t *p;
    double km;

    cr_expect_not(geolint_swapped(30.0, 30.5, &p, &km));
}

Test(geolint, country_guesses)
{
    static const struct {
        const char *name;
        double lat, lon;
        const char *cc; /* NULL: no guess */
    } cases[] = {
        {"Ashburn", 39.04, -77.49, "US"},   {"San Jose", 37.34, -121.89, "US"},
        {"Sao Paulo", -23.55, -46.63, "BR"}, {"Sydney", -33.87, 151.21, "AU"},
        {"Melbourne", -37.81, 144.96, "AU"}, {"Berlin", 52.52, 13.4, "DE"},
        {"Frankfurt", 50.11, 8.68, NULL},   /* Luxembourg and Busingen are both near */
        {"Montreal", 45.5, -73.57, NULL},   /* Toronto and New York are both near */
        {"Mumbai", 19.07, 72.88, NULL},     /* the nearest place, Karachi, is 880 km off */
        {"mid-Atlantic", 30.0, -40.0, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double km;
        const geo_place_t *p = geolint_country_of(cases[i].lat, cases[i].lon, &km);

        if (cases[i].cc == NULL) {
            cr_expect_null(p, "%s: guessed %s (%s)", cases[i].name, p ? p->cc : "",
                           p ? p->zone : "");
        } else {
            cr_expect_not_null(p, "%s: no guess", cases[i].name);
            cr_expect_str_eq(p ? p->cc : "", cases[i].cc, "%s", cases[i].name);
        }
    }
}

/* A database with one point for US (country-level there) and two in GB. */
static geo_db_t *open_db(void)
{
    char spec[] = "/tmp/gslb-geolint-XXXXXX", cmd[256];
    const char *text = "0.0.0.0/0 US NA 40.71 -74.0\n"
                       "192.0.2.0/25 US NA 40.71 -74.0 NY\n"
                       "198.51.100.0/24 GB EU 51.5 -0.13\n"
                       "203.0.113.0/24 GB EU 53.48 -2.24\n";
    int fd = mkstemp(spec);
    geo_db_t *db = NULL;
    diag_t errs = {0};

    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    snprintf(cmd, sizeof(cmd), "geo/build-testdb %s %s.mmdb >/dev/null", spec, spec);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s.mmdb", spec);
    cr_assert_eq(geo_db_open(cmd, &db, &errs), 0);
    unlink(cmd);
    unlink(spec);
    return db;
}

Test(geolint, country_level_is_one_point_for_the_country)
{
    geo_db_t *db = open_db();

    cr_expect(geolint_country_level(db, "US"), "one point, with or without a subdivision");
    cr_expect_not(geolint_country_level(db, "GB"), "two points");
    cr_expect_not(geolint_country_level(db, "FR"), "no location at all: nothing to say");
    cr_expect_not(geolint_country_level(NULL, "GB"));
    geo_db_free(db);
}

static zone_t *load_text(const char *text)
{
    char path[] = "/tmp/gslb-geolint-zone-XXXXXX";
    int fd = mkstemp(path);
    zone_t *z = NULL;
    diag_t errs = {0};

    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cr_assert_eq(zone_load(path, NULL, &z, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
    unlink(path);
    return z;
}

Test(geolint, zone_warnings)
{
    geo_db_t *db = open_db();
    zone_t *z = load_text("zone: t.test\n"
                          "soa: {mname: ns1.example.net, rname: h.example.net}\n"
                          "ns: [ns1.example.net]\n"
                          "regions:\n"
                          "  east: {location: [39.04, -77.49], pool: [192.0.2.1]}\n"
                          "  west: {location: [37.34, -121.89], pool: [192.0.2.2]}\n"
                          "  dc: {location: [38.9, -77.04], pool: [192.0.2.3]}\n"
                          "  lon: {location: [51.5, -0.13], pool: [192.0.2.4]}\n"
                          "  bri: {location: [51.45, -2.59], pool: [192.0.2.5]}\n"
                          "  flip: {location: [-0.13, 51.5], pool: [192.0.2.6]}\n"
                          "services:\n"
                          "  us: {regions: [west, east, flip]}\n"
                          "  twin: {regions: [east, dc]}\n"
                          "  uk: {regions: [lon, bri]}\n"
                          "  shared: {regions: [east, west], spread_km: 400}\n"
                          "  ordered: {regions: [east, west], policy: failover}\n");
    diag_t out = {0};

    geolint_zone(z, db, &out);
    cr_assert_eq(out.n, 2, "%zu: %s", out.n, out.n ? out.lines[out.n - 1] : "");
    cr_expect_eq(out.errors, 0);
    cr_expect_not_null(strstr(out.lines[0], ":10:3: warning: region 'flip': location [-0.13, "
                                            "51.5] looks swapped: it lies 670 km from"),
                       "%s", out.lines[0]);
    cr_expect_not_null(strstr(out.lines[0], "while [51.5, -0.13] is 1 km from Europe/London (GB)"),
                       "%s", out.lines[0]);
    /* US has one point in this database: east and west cannot be split, and
     * all go to east, nearer New York. east and dc are one city; spread and
     * failover services are not placed by distance; GB has two points. */
    cr_expect_not_null(strstr(out.lines[1], ":12:3: warning: service 'us': regions 'west' and "
                                            "'east' look to be in US (near America/Los_Angeles "
                                            "and America/New_York)"),
                       "%s", out.lines[1]);
    cr_expect_not_null(strstr(out.lines[1], "has one location for all of US: its clients cannot "
                                            "be split between them and all go to 'east'"),
                       "%s", out.lines[1]);
    diag_clear(&out);
    geolint_zone(z, NULL, &out);
    cr_expect_eq(out.n, 1, "without a database only the swap is said");
    diag_clear(&out);
    zone_free(z);
    geo_db_free(db);
}
