/*
 * zoneset: file-by-file loading and reloading; see zoneset.h.
 */
#include "gslbd/engine/zoneset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/errcode.h"
#include "geo/geolint.h"
#include "zones/load.h"

typedef struct {
    zone_t *zone;
    struct stat st;
} entry_t;

struct zoneset {
    char *path;
    healthdb_t *health;
    geo_cache_t *maps; /* geo maps shared by successive snapshots */
    entry_t *cur;
    size_t n_cur;
    bool attach_later; /* see zoneset_attach_later() */
};

zoneset_t *zoneset_new(const char *path, healthdb_t *health)
{
    zoneset_t *zs = xcalloc(1, sizeof(*zs));

    zs->path = xstrdup(path);
    zs->health = health;
    zs->maps = geo_cache_new();
    return zs;
}

void zoneset_free(zoneset_t *zs)
{
    if (zs == NULL) {
        return;
    }
    for (size_t i = 0; i < zs->n_cur; i++) {
        zone_free(zs->cur[i].zone);
    }
    free(zs->cur);
    free(zs->path);
    geo_cache_free(zs->maps);
    free(zs);
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static entry_t *find_entry(const zoneset_t *zs, const char *file)
{
    for (size_t i = 0; i < zs->n_cur; i++) {
        if (strcmp(zs->cur[i].zone->file, file) == 0) {
            return &zs->cur[i];
        }
    }
    return NULL;
}

static bool in_set(const entry_t *set, size_t n, const zone_t *z)
{
    for (size_t i = 0; i < n; i++) {
        if (set[i].zone == z) {
            return true;
        }
    }
    return false;
}

/* Load one file into `e`, or keep its previous version. Returns false when
 * the file failed and nothing can stand in for it. A file read anew gets
 * its warnings (zone_lint, geolint_zone against `db`) said once, here. */
static bool load_one(zoneset_t *zs, const char *file, const geo_db_t *db, bool force, bool strict,
                     entry_t *e, diag_t *errs)
{
    entry_t *old = find_entry(zs, file);
    struct stat st;

    if (stat(file, &st) < 0) {
        memset(&st, 0, sizeof(st));
    }
    if (old != NULL && !force && same_stat(&old->st, &st)) {
        *e = *old;
        return true;
    }
    if (zone_load(file, old ? old->zone : NULL, &e->zone, errs) == 0) {
        e->st = st;
        zone_lint(e->zone, errs);
        geolint_zone(e->zone, db, errs);
        return true;
    }
    if (old != NULL && !strict) {
        diag_warning(errs, &(diag_mark_t){.file = file},
                     "not reloaded, the previous version keeps serving");
        *e = *old;
        return true;
    }
    return false;
}

static void drop_new(const zoneset_t *zs, entry_t *set, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!in_set(zs->cur, zs->n_cur, set[i].zone)) {
            zone_free(set[i].zone);
        }
    }
    free(set);
}

int zoneset_load(zoneset_t *zs, const geo_db_t *db, bool force, bool strict, snapshot_t **snap,
                 diag_t *errs)
{
    char **files = NULL;
    size_t n_files = 0, n = 0;
    bool failed = false;
    int r;

    if ((r = zone_list_files(zs->path, &files, &n_files, errs)) < 0) {
        return r;
    }
    entry_t *set = xcalloc(n_files + 1, sizeof(*set));
    zone_t **zones = xcalloc(n_files + 1, sizeof(*zones));
    for (size_t i = 0; i < n_files; i++) {
        if (load_one(zs, files[i], db, force, strict, &set[n], errs)) {
            zones[n] = set[n].zone;
            n++;
        } else {
            failed = true;
        }
    }
    zone_files_free(files, n_files);
    if (failed && strict) {
        r = GSLB_ECONFIG;
    } else if ((r = zone_check_set(zones, n, errs)) == 0) {
        r = snapshot_build(zones, n, &(snapshot_env_t){db, zs->health, zs->maps, zs->attach_later},
                           snap, errs);
    }
    if (r < 0) {
        drop_new(zs, set, n);
        free(zones);
        return r;
    }
    free(zones);
    for (size_t i = 0; i < zs->n_cur; i++) {
        if (!in_set(set, n, zs->cur[i].zone)) {
            zone_free(zs->cur[i].zone);
        }
    }
    free(zs->cur);
    zs->cur = set;
    zs->n_cur = n;
    return 0;
}

int zoneset_rebuild(zoneset_t *zs, const geo_db_t *db, snapshot_t **snap, diag_t *errs)
{
    zone_t **zones = xcalloc(zs->n_cur + 1, sizeof(*zones));

    for (size_t i = 0; i < zs->n_cur; i++) {
        zones[i] = zs->cur[i].zone;
        geolint_zone(zones[i], db, errs); /* what the new database changes */
    }
    int r =
        snapshot_build(zones, zs->n_cur,
                       &(snapshot_env_t){db, zs->health, zs->maps, zs->attach_later}, snap, errs);
    free(zones);
    return r;
}

void zoneset_attach_later(zoneset_t *zs)
{
    zs->attach_later = true;
}

void zoneset_describe(const zoneset_t *zs, char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "%zu zone%s", zs->n_cur, zs->n_cur == 1 ? "" : "s");

    for (size_t i = 0; i < zs->n_cur && o < size; i++) {
        char *name = ldns_rdf2str(zs->cur[i].zone->origin);
        o += (size_t)snprintf(buf + o, size - o, "%s%s serial %u", i ? ", " : " (", name,
                              zs->cur[i].zone->serial);
        free(name);
    }
    if (zs->n_cur > 0 && o < size) {
        snprintf(buf + o, size - o, ")");
    }
}

size_t zoneset_count(const zoneset_t *zs)
{
    return zs->n_cur;
}
