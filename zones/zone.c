/*
 * zone: the zone model (zone.h): making and freeing zones, and the checks
 * that look at several loaded zones at once. Loading from YAML is load.c's.
 */
#include "zones/zone.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/errcode.h"
#include "zones/zname.h"

zone_t *zone_new(const char *file)
{
    zone_t *zone = xcalloc(1, sizeof(*zone));

    zone->file = xstrdup(file);
    if (!(zone->rrs = ldns_rr_list_new())) {
        alloc_fail("ldns_rr_list_new");
    }
    return zone;
}

static void zone_free_regions(zone_t *zone)
{
    for (size_t i = 0; i < zone->n_regions; i++) {
        for (size_t j = 0; j < zone->regions[i].n_pool; j++) {
            free(zone->regions[i].pool[j].text);
        }
        free(zone->regions[i].pool);
        free(zone->regions[i].name);
    }
    free(zone->regions);
}

static void zone_free_checks(zone_t *zone)
{
    for (size_t i = 0; i < zone->n_checks; i++) {
        zone_check_t *c = &zone->checks[i];

        free(c->name);
        free(c->path);
        free(c->host);
        free(c->sni);
        free(c->body);
        free(c->expect);
    }
    free(zone->checks);
}

static void zone_free_services(zone_t *zone)
{
    for (size_t i = 0; i < zone->n_services; i++) {
        free(zone->services[i].name);
        ldns_rdf_deep_free(zone->services[i].owner);
        free(zone->services[i].regions);
        zone_geo_free(&zone->services[i].geo);
    }
    free(zone->services);
}

void zone_free(zone_t *zone)
{
    if (!zone) {
        return;
    }
    zone_free_regions(zone);
    zone_free_checks(zone);
    zone_free_services(zone);
    zone_geo_free(&zone->geo);
    ldns_rr_list_deep_free(zone->rrs);
    ldns_rr_free(zone->soa);
    ldns_rdf_deep_free(zone->origin);
    free(zone->file);
    free(zone);
}

void zone_geo_free(zone_geo_t *geo)
{
    if (!geo) {
        return;
    }
    for (size_t i = 0; i < geo->n_map; i++) {
        free(geo->map[i].regions);
    }
    for (size_t i = 0; i < geo->n_nets; i++) {
        free(geo->nets[i].regions);
    }
    free(geo->map);
    free(geo->nets);
    free(geo->dflt);
    memset(geo, 0, sizeof(*geo));
}

void zone_set_free(zone_t **zones, size_t n)
{
    for (size_t i = 0; zones && i < n; i++) {
        zone_free(zones[i]);
    }
    free(zones);
}

int zone_check_set(zone_t *const *zones, size_t n, diag_t *errs)
{
    int rc = 0;

    for (size_t j = 1; j < n; j++) {
        for (size_t i = 0; i < j; i++) {
            char *name;

            if (ldns_dname_compare(zones[i]->origin, zones[j]->origin)) {
                continue;
            }
            name = zname_text(zones[j]->origin);
            diag_error(errs, &zones[j]->mark, "zone '%s' is already served from %s", name,
                       zones[i]->file);
            free(name);
            rc = GSLB_ECONFIG;
            break;
        }
    }
    return rc;
}
