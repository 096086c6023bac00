/*
 * load: zone YAML files into zone_t; see load.h.
 *
 * This file reads the top level of a zone file (zone, ttl, soa, ns, ecs) and
 * hands the sections to records.c, services.c, zgeo.c (geo), zload.c (shed)
 * and zvantage.c (vantages); tables in
 * schema.c check every mapping. It owns the serial rule (a serial not
 * written comes from the file's time, and grows across reloads) and turning
 * a path into a sorted list of files. It does not build wire answers (gslbd does) and does not
 * watch files.
 */
#include "zones/load.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/errcode.h"
#include "zones/records.h"
#include "zones/schema.h"
#include "zones/services.h"
#include "zones/ynode.h"
#include "zones/zgeo.h"
#include "zones/zload.h"
#include "zones/zname.h"
#include "zones/zvantage.h"

/* SOA RDATA fields, RFC 1035 section 3.3.13. */
enum { ZONE_SOA_MNAME, ZONE_SOA_RNAME, ZONE_SOA_SERIAL };

enum {
    T_ZONE,
    T_TTL,
    T_SOA,
    T_NS,
    T_RECORDS,
    T_REGIONS,
    T_CHECKS,
    T_SERVICES,
    T_ECS,
    T_GEO,
    T_SHED,
    T_VANTAGES,
    T_N
};

static const schema_item_t zone_top_items[T_N] = {
    [T_ZONE] = {"zone", SCHEMA_STR, .required = true},
    [T_TTL] = {"ttl", SCHEMA_TTL, .max = SCHEMA_TTL_MAX, .def = 300},
    [T_SOA] = {"soa", SCHEMA_MAP, .required = true},
    [T_NS] = {"ns", SCHEMA_LIST, .required = true},
    [T_RECORDS] = {"records", SCHEMA_MAP},
    [T_REGIONS] = {"regions", SCHEMA_MAP},
    [T_CHECKS] = {"checks", SCHEMA_MAP},
    [T_SERVICES] = {"services", SCHEMA_MAP},
    [T_ECS] = {"ecs", SCHEMA_BOOL, .def = 1},
    [T_GEO] = {"geo", SCHEMA_MAP},
    [T_SHED] = {"shed", SCHEMA_ANY},         /* zload.c */
    [T_VANTAGES] = {"vantages", SCHEMA_MAP}, /* zvantage.c */
};

enum { S_MNAME, S_RNAME, S_SERIAL, S_REFRESH, S_RETRY, S_EXPIRE, S_MINIMUM, S_TTL, S_N };

/* Timer defaults are the common practice of RFC 1912 section 2.2 era
 * zones; the ranges are RFC 2181 section 8's for TTL-like values. */
static const schema_item_t zone_soa_items[S_N] = {
    [S_MNAME] = {"mname", SCHEMA_STR, .required = true},
    [S_RNAME] = {"rname", SCHEMA_STR, .required = true},
    [S_SERIAL] = {"serial", SCHEMA_INT, .min = 1, .max = 4294967295LL},
    [S_REFRESH] = {"refresh", SCHEMA_TTL, .max = SCHEMA_TTL_MAX, .def = 3600},
    [S_RETRY] = {"retry", SCHEMA_TTL, .max = SCHEMA_TTL_MAX, .def = 600},
    [S_EXPIRE] = {"expire", SCHEMA_TTL, .max = SCHEMA_TTL_MAX, .def = 604800},
    [S_MINIMUM] = {"minimum", SCHEMA_TTL, .max = SCHEMA_TTL_MAX, .def = 60},
    [S_TTL] = {"ttl", SCHEMA_TTL, .max = SCHEMA_TTL_MAX},
};

/* ---- serial ---- */

bool zone_serial_gt(uint32_t a, uint32_t b)
{
    return a != b && (uint32_t)(a - b) < 0x80000000u;
}

uint32_t zone_serial_derive(int64_t mtime, uint64_t digest, const zone_t *prev, bool *bumped)
{
    uint32_t serial = (uint32_t)mtime ? (uint32_t)mtime : 1;

    *bumped = false;
    if (prev == NULL || zone_serial_gt(serial, prev->serial)) {
        return serial;
    }
    if (digest == prev->digest) {
        return prev->serial; /* the same zone: nothing for anyone to fetch again */
    }
    /* New content that the time cannot order after the old: one more than
     * the serial served (0 is skipped, as a serial a zone never writes). */
    *bumped = true;
    return prev->serial + 1 ? prev->serial + 1 : 1;
}

static void zone_set_serial(zone_t *zone, uint32_t serial)
{
    ldns_rdf *old = ldns_rr_set_rdf(zone->soa, ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, serial),
                                    ZONE_SOA_SERIAL);

    ldns_rdf_deep_free(old);
    zone->serial = serial;
}

/* ---- the top level ---- */

static ldns_rdf *zone_soa_name(ynode_doc_t *d, const zone_t *zone, const schema_val_t *v,
                               bool mailbox)
{
    ldns_rdf *name;

    if (!v->ok) {
        return NULL;
    }
    name = mailbox ? zname_mailbox(v->str, zone->origin) : zname_host(v->str, zone->origin);
    if (!name) {
        schema_err(d, v->node, "soa", "'%s': bad %s '%s'", mailbox ? "rname" : "mname",
                   mailbox ? "mail address or domain name" : "domain name", v->str);
    }
    return name;
}

static void zone_push_int32(ldns_rr *rr, ldns_rdf_type type, int64_t v)
{
    ldns_rr_push_rdf(rr, ldns_native2rdf_int32(type, (uint32_t)v));
}

static void zone_soa(ynode_doc_t *d, zone_t *zone, const schema_val_t *soa)
{
    ldns_rdf *mname, *rname;
    schema_val_t v[S_N];

    schema_map(d, soa->node, soa->key, "soa", zone_soa_items, S_N, v);
    mname = zone_soa_name(d, zone, &v[S_MNAME], false);
    rname = zone_soa_name(d, zone, &v[S_RNAME], true);
    if (!mname || !rname) {
        ldns_rdf_deep_free(mname);
        ldns_rdf_deep_free(rname);
        return;
    }
    zone->serial_given = v[S_SERIAL].ok;
    /* A derived serial is set once the file is loaded (zone_follow_prev). */
    zone->serial = zone->serial_given ? (uint32_t)v[S_SERIAL].num : 1;
    zone->soa = ldns_rr_new();
    if (!zone->soa) {
        alloc_fail("ldns_rr_new");
    }
    ldns_rr_set_owner(zone->soa, ldns_rdf_clone(zone->origin));
    ldns_rr_set_type(zone->soa, LDNS_RR_TYPE_SOA);
    ldns_rr_set_class(zone->soa, LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(zone->soa, v[S_TTL].key && v[S_TTL].ok ? (uint32_t)v[S_TTL].num : zone->ttl);
    ldns_rr_push_rdf(zone->soa, mname);
    ldns_rr_push_rdf(zone->soa, rname);
    zone_push_int32(zone->soa, LDNS_RDF_TYPE_INT32, zone->serial);
    for (int i = S_REFRESH; i <= S_MINIMUM; i++) {
        zone_push_int32(zone->soa, LDNS_RDF_TYPE_PERIOD, v[i].num);
    }
}

static bool zone_origin(ynode_doc_t *d, zone_t *zone, const schema_val_t *v)
{
    if (!v->ok) {
        return false;
    }
    zone->mark = ynode_mark(d, v->node);
    zone->origin = zname_zone(v->str);
    if (!zone->origin) {
        ynode_err(d, v->node, "'zone': bad domain name '%s'", v->str);
        return false;
    }
    return true;
}

static const yaml_node_t *zone_section(const schema_val_t *v)
{
    return v->ok ? v->node : NULL;
}

/* Everything that needs the zone's name: without a valid one, relative names
 * cannot be resolved and only the other sections are checked. */
static void zone_names(ynode_doc_t *d, zone_t *zone, const schema_val_t *v)
{
    records_names_t names;

    if (!zone_origin(d, zone, &v[T_ZONE])) {
        return;
    }
    if (v[T_SOA].ok) {
        zone_soa(d, zone, &v[T_SOA]);
    }
    if (v[T_NS].ok) {
        records_load_ns(d, zone, v[T_NS].node);
    }
    records_load(d, zone, zone_section(&v[T_RECORDS]), &names);
    if (v[T_NS].ok) {
        records_check_ns(d, zone, v[T_NS].node, &names);
    }
    services_load(d, zone, zone_section(&v[T_SERVICES]), &names);
    records_names_free(&names);
}

static void zone_build(ynode_doc_t *d, zone_t *zone)
{
    const yaml_node_t *root = ynode_root(d);
    schema_val_t v[T_N];

    if (!ynode_is_map(root)) {
        ynode_err(d, root, "the top level must be a mapping with zone, soa and ns");
        return;
    }
    schema_map(d, root, NULL, "", zone_top_items, T_N, v);
    zone->ttl = (uint32_t)v[T_TTL].num;
    zone->ecs = v[T_ECS].num != 0;
    services_load_checks(d, zone, zone_section(&v[T_CHECKS]));
    services_load_regions(d, zone, zone_section(&v[T_REGIONS]));
    zvantage_load(d, zone, zone_section(&v[T_VANTAGES]));
    zgeo_load(d, zone, &v[T_GEO], "", &zone->geo);
    zone_names(d, zone, v);
    zload_shed(d, zone, &v[T_SHED]);
}

static const ynode_limits_t zone_limits = {
    .file_max = ZONE_FILE_MAX,
    .depth_max = ZONE_DEPTH_MAX,
    .alias_nodes_max = ZONE_ALIAS_NODES_MAX,
};

/* The serial of a zone without soa.serial, from its file and the version
 * served before (NULL: none); see zone_serial_derive(). */
static void zone_follow_prev(zone_t *zone, const zone_t *prev, diag_t *errs)
{
    uint32_t derived = (uint32_t)zone->mtime ? (uint32_t)zone->mtime : 1;
    bool bumped;

    if (zone->serial_given || zone->soa == NULL) {
        return;
    }
    zone_set_serial(zone, zone_serial_derive(zone->mtime, zone->digest, prev, &bumped));
    if (bumped && prev != NULL) { /* bumped implies prev */
        diag_warning(errs, &(diag_mark_t){.file = zone->file},
                     "the file changed but its modification time gives serial %u, not above "
                     "the %u served: serving %u; servers given this file may now answer "
                     "different serials (edited twice within a second, or its time went "
                     "back; write soa.serial to choose)",
                     derived, prev->serial, zone->serial);
    }
}

int zone_load(const char *file, const zone_t *prev, zone_t **out, diag_t *errs)
{
    ynode_doc_t d = {0};
    zone_t *zone = zone_new(file);
    bool ok;

    if (ynode_load(&d, zone->file, &zone_limits) == 0) {
        zone->mtime = d.mtime;
        zone->digest = d.digest;
        zone_build(&d, zone);
    }
    ok = ynode_errors(&d) == 0;
    ynode_flush(&d, errs);
    ynode_free(&d);
    if (!ok) {
        zone_free(zone);
        return GSLB_ECONFIG;
    }
    zone_follow_prev(zone, prev, errs);
    *out = zone;
    return 0;
}

/* ---- sets of files ---- */

static int zone_yaml_filter(const struct dirent *e)
{
    size_t len = strlen(e->d_name);

    /* Hidden files are editors' and tools' droppings, not zones. */
    return e->d_name[0] != '.' && len > 5 && !strcmp(e->d_name + len - 5, ".yaml");
}

/* Byte order, not the locale's: the load order must not depend on LANG. */
static int zone_name_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int zone_list_dir(const char *path, char ***files, size_t *n, diag_t *errs)
{
    diag_mark_t mark = {.file = path};
    struct dirent **ents;
    int count = scandir(path, &ents, zone_yaml_filter, zone_name_cmp);
    size_t len = strlen(path);
    char **out;

    if (count < 0) {
        int e = errno ? errno : EIO; /* a failure always returns a code */

        diag_error(errs, &mark, "cannot read directory: %s", gslb_strerror(-e));
        return -e;
    }
    if (count == 0) {
        free(ents);
        diag_error(errs, &mark, "no *.yaml zone files in directory");
        return -ENOENT;
    }
    out = xcalloc((size_t)count, sizeof(*out));
    for (int i = 0; i < count; i++) {
        out[i] = xasprintf("%s%s%s", path, len && path[len - 1] == '/' ? "" : "/", ents[i]->d_name);
        free(ents[i]);
    }
    free(ents);
    *files = out;
    *n = (size_t)count;
    return 0;
}

int zone_list_files(const char *path, char ***files, size_t *n, diag_t *errs)
{
    diag_mark_t mark = {.file = path};
    struct stat st;
    char **out;

    if (stat(path, &st) != 0) {
        int e = errno ? errno : EIO; /* a failure always returns a code */

        diag_error(errs, &mark, "cannot read: %s", gslb_strerror(-e));
        return -e;
    }
    if (S_ISDIR(st.st_mode)) {
        return zone_list_dir(path, files, n, errs);
    }
    out = xcalloc(1, sizeof(*out));
    out[0] = xstrdup(path);
    *files = out;
    *n = 1;
    return 0;
}

void zone_files_free(char **files, size_t n)
{
    for (size_t i = 0; files && i < n; i++) {
        free(files[i]);
    }
    free(files);
}

/* The version served before of a zone being reloaded, found by name so that
 * renaming or splitting files does not restart its serial. */
static const zone_t *zone_prev_of(const zone_t *zone, zone_t *const *prev, size_t n_prev)
{
    for (size_t i = 0; i < n_prev; i++) {
        if (prev[i] && !ldns_dname_compare(prev[i]->origin, zone->origin)) {
            return prev[i];
        }
    }
    return NULL;
}

int zone_load_path(const char *path, zone_t *const *prev, size_t n_prev, zone_t ***zones, size_t *n,
                   diag_t *errs)
{
    char **files = NULL;
    size_t n_files = 0, n_zones = 0;
    zone_t **out;
    bool failed = false;

    if (zone_list_files(path, &files, &n_files, errs) < 0) {
        return GSLB_ECONFIG;
    }
    out = xcalloc(n_files, sizeof(*out));
    for (size_t i = 0; i < n_files; i++) {
        if (zone_load(files[i], NULL, &out[n_zones], errs) < 0) {
            failed = true;
            continue;
        }
        zone_follow_prev(out[n_zones], zone_prev_of(out[n_zones], prev, n_prev), errs);
        n_zones++;
    }
    zone_files_free(files, n_files);
    if (failed || zone_check_set(out, n_zones, errs) < 0) {
        zone_set_free(out, n_zones);
        return GSLB_ECONFIG;
    }
    *zones = out;
    *n = n_zones;
    return 0;
}
