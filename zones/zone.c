/*
 * zone: the zone model (zone.h): making and freeing zones, the checks that
 * look at several loaded zones at once, and warnings about a loaded zone.
 * Loading from YAML is load.c's.
 */
#include "zones/zone.h"

#include <stddef.h>
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
        free(zone->regions[i].load.url);
        free(zone->regions[i].load.backend);
        free(zone->regions[i].load.frontend);
        free(zone->regions[i].load.metric);
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

static void zone_free_vantages(zone_t *zone)
{
    for (size_t i = 0; i < zone->n_vantages; i++) {
        for (size_t j = 0; j < zone->vantages[i].n_canary; j++) {
            free(zone->vantages[i].canary[j].text);
        }
        free(zone->vantages[i].canary);
        free(zone->vantages[i].name);
    }
    free(zone->vantages);
}

void zone_free(zone_t *zone)
{
    if (!zone) {
        return;
    }
    zone_free_regions(zone);
    zone_free_checks(zone);
    zone_free_services(zone);
    zone_free_vantages(zone);
    zone_geo_free(&zone->geo);
    free(zone->region_order);
    free(zone->check_order);
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

/* ---- lookups by name ---- */

/* Names at a fixed offset in an array of structs, for sorting indices. */
typedef struct {
    const char *base;
    size_t size, name; /* element size, offset of its `char *name` */
} zone_names_t;

static const char *zone_name_at(const zone_names_t *t, size_t i)
{
    return *(const char *const *)(t->base + i * t->size + t->name);
}

static int zone_name_order(const void *x, const void *y, void *arg)
{
    return strcmp(zone_name_at(arg, *(const size_t *)x), zone_name_at(arg, *(const size_t *)y));
}

static size_t *zone_sort_names(const zone_names_t *t, size_t n)
{
    size_t *order = xcalloc(n + 1, sizeof(*order));

    for (size_t i = 0; i < n; i++) {
        order[i] = i;
    }
    qsort_r(order, n, sizeof(*order), zone_name_order, (void *)t);
    return order;
}

static size_t zone_find_name(const zone_names_t *t, const size_t *order, size_t n, const char *name)
{
    size_t lo = 0, hi = n;

    if (!order) {
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(zone_name_at(t, i), name)) {
                return i;
            }
        }
        return SIZE_MAX;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(zone_name_at(t, order[mid]), name);

        if (!c) {
            return order[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return SIZE_MAX;
}

static zone_names_t zone_region_names(const zone_t *zone)
{
    return (zone_names_t){(const char *)zone->regions, sizeof(zone_region_t),
                          offsetof(zone_region_t, name)};
}

static zone_names_t zone_check_names(const zone_t *zone)
{
    return (zone_names_t){(const char *)zone->checks, sizeof(zone_check_t),
                          offsetof(zone_check_t, name)};
}

void zone_index_regions(zone_t *zone)
{
    zone_names_t t = zone_region_names(zone);

    free(zone->region_order);
    zone->region_order = zone_sort_names(&t, zone->n_regions);
}

void zone_index_checks(zone_t *zone)
{
    zone_names_t t = zone_check_names(zone);

    free(zone->check_order);
    zone->check_order = zone_sort_names(&t, zone->n_checks);
}

size_t zone_find_region(const zone_t *zone, const char *name)
{
    zone_names_t t = zone_region_names(zone);

    return zone_find_name(&t, zone->region_order, zone->n_regions, name);
}

int zone_find_check(const zone_t *zone, const char *name)
{
    zone_names_t t = zone_check_names(zone);
    size_t i = zone_find_name(&t, zone->check_order, zone->n_checks, name);

    return i == SIZE_MAX ? -1 : (int)i;
}

void zone_set_free(zone_t **zones, size_t n)
{
    for (size_t i = 0; zones && i < n; i++) {
        zone_free(zones[i]);
    }
    free(zones);
}

/* A region sheds only into regions whose own load is known to be low, so a
 * service where one region alone has a load: can never move a client. */
static void zone_lint_shed(const zone_t *zone, diag_t *out)
{
    for (size_t i = 0; i < zone->n_services; i++) {
        const zone_service_t *s = &zone->services[i];
        size_t with = 0, first = 0;

        for (size_t j = 0; j < s->n_regions; j++) {
            if (zone->regions[s->regions[j]].load.given && with++ == 0) {
                first = s->regions[j];
            }
        }
        if (with == 1 && s->n_regions > 1) {
            diag_warning(out, &s->mark,
                         "service '%s': only region '%s' has a load:, so it can shed to none "
                         "(a region takes shed clients only while its own load is known to be "
                         "below shed.low)",
                         s->name, zone->regions[first].name);
        }
    }
}

/* With the vantages the zone declares, a quorum above their number could
 * never be reached: its members would keep their first state for ever. */
static void zone_lint_quorum(const zone_t *zone, diag_t *out)
{
    for (size_t i = 0; zone->n_vantages > 0 && i < zone->n_checks; i++) {
        const zone_check_t *c = &zone->checks[i];
        if (c->quorum > zone->n_vantages) {
            diag_warning(out, &c->mark,
                         "check '%s': quorum %u is more than the %zu vantage%s this zone "
                         "declares: unless other zone files declare more, its members can "
                         "never change state",
                         c->name, c->quorum, zone->n_vantages, zone->n_vantages == 1 ? "" : "s");
        }
    }
}

void zone_lint(const zone_t *zone, diag_t *out)
{
    bool *used = xcalloc(zone->n_regions + 1, sizeof(*used));

    for (size_t i = 0; i < zone->n_services; i++) {
        const zone_service_t *s = &zone->services[i];

        for (size_t j = 0; j < s->n_regions; j++) {
            used[s->regions[j]] = true;
        }
        if (s->on_all_down == ALL_DOWN_FALLBACK && s->fallback < zone->n_regions) {
            used[s->fallback] = true;
        }
    }
    for (size_t i = 0; i < zone->n_regions; i++) {
        if (!used[i]) {
            diag_warning(out, &zone->regions[i].mark,
                         "region '%s' is not used by any service: it answers nothing%s",
                         zone->regions[i].name,
                         zone->regions[i].check >= 0 ? " (and healthd still probes it)" : "");
        }
    }
    free(used);
    zone_lint_shed(zone, out);
    zone_lint_quorum(zone, out);
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
