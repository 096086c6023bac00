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
    bool attach_later;   /* see zoneset_attach_later() */
    unsigned count_sets; /* see zoneset_count_sets() */
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

/* The zone's name as reports write it: "gslb.example.com", no final dot. */
static char *zone_name(const zone_t *z)
{
    char *name = ldns_rdf2str(z->origin);
    size_t len = name ? strlen(name) : 0;

    if (name == NULL) {
        alloc_fail("ldns_rdf2str");
    }
    if (len > 1 && name[len - 1] == '.') {
        name[len - 1] = '\0';
    }
    char *out = xstrdup(name);
    free(name);
    return out;
}

/* Copy the lines of `d` into a report's list. */
static void copy_lines(const diag_t *d, char ***lines, size_t *n)
{
    if (d->n == 0) {
        return;
    }
    *lines = xreallocarray(*lines, *n + d->n, sizeof(**lines));
    for (size_t i = 0; i < d->n; i++) {
        (*lines)[(*n)++] = xstrdup(d->lines[i]);
    }
}

/* Load one file into `e`, or keep its previous version, saying which in
 * `rf`. Returns false when the file failed and nothing can stand in for it.
 * A file read anew gets its warnings (zone_lint, geolint_zone against `db`)
 * said once, here, in errs (they are not the file's errors in `rf`). */
static bool load_one(zoneset_t *zs, const char *file, const geo_db_t *db, bool force, bool strict,
                     entry_t *e, zoneset_file_t *rf, diag_t *errs)
{
    entry_t *old = find_entry(zs, file);
    diag_t mine = {0};
    struct stat st;
    bool ok = true;

    rf->file = xstrdup(file);
    if (old != NULL) {
        rf->zone = zone_name(old->zone);
        rf->old_serial = rf->serial = old->zone->serial;
    }
    if (stat(file, &st) < 0) {
        memset(&st, 0, sizeof(st));
    }
    if (old != NULL && !force && same_stat(&old->st, &st)) {
        *e = *old;
        rf->outcome = ZONESET_UNCHANGED;
        return true;
    }
    if (zone_load(file, old ? old->zone : NULL, &e->zone, &mine) == 0) {
        e->st = st;
        rf->outcome = ZONESET_LOADED;
        rf->serial = e->zone->serial;
        if (old != NULL && ldns_dname_compare(old->zone->origin, e->zone->origin) != 0) {
            rf->old_serial = 0; /* the file now holds another zone */
        }
        free(rf->zone);
        rf->zone = zone_name(e->zone);
        zone_lint(e->zone, errs);
        geolint_zone(e->zone, db, errs);
    } else if (old != NULL && !strict) {
        *e = *old;
        rf->outcome = ZONESET_KEPT;
    } else {
        rf->outcome = ZONESET_FAILED;
        rf->serial = 0;
        ok = false;
    }
    copy_lines(&mine, &rf->errors, &rf->n_errors);
    diag_move(errs, &mine);
    return ok;
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

/* The files of the previous set that the new listing lacks: removed. */
static void report_removed(const zoneset_t *zs, zoneset_report_t *rep)
{
    for (size_t i = 0; i < zs->n_cur; i++) {
        const zone_t *z = zs->cur[i].zone;
        bool listed = false;
        for (size_t k = 0; k < rep->n_files && !listed; k++) {
            listed = strcmp(rep->files[k].file, z->file) == 0;
        }
        if (!listed) {
            zoneset_file_t *rf = &rep->files[rep->n_files++];
            *rf = (zoneset_file_t){.file = xstrdup(z->file),
                                   .zone = zone_name(z),
                                   .outcome = ZONESET_REMOVED,
                                   .old_serial = z->serial};
        }
    }
}

/* The new set was refused as a whole: what served before serves on. */
static void report_set_failed(zoneset_report_t *rep, const diag_t *errs, size_t first)
{
    rep->set_failed = true;
    for (size_t k = 0; k < rep->n_files; k++) {
        zoneset_file_t *rf = &rep->files[k];
        bool served = rf->outcome == ZONESET_REMOVED || rf->old_serial != 0 ||
                      rf->outcome == ZONESET_UNCHANGED || rf->outcome == ZONESET_KEPT;
        rf->outcome = served ? ZONESET_KEPT : ZONESET_FAILED;
        rf->serial = served ? rf->old_serial : 0;
    }
    for (size_t i = first; i < errs->n; i++) {
        rep->errors = xreallocarray(rep->errors, rep->n_errors + 1, sizeof(*rep->errors));
        rep->errors[rep->n_errors++] = xstrdup(errs->lines[i]);
    }
}

static int load_report(zoneset_t *zs, const geo_db_t *db, bool force, bool strict,
                       snapshot_t **snap, diag_t *errs, zoneset_report_t *rep)
{
    char **files = NULL;
    size_t n_files = 0, n = 0, first_err = errs->n;
    bool failed = false;
    int r;

    memset(rep, 0, sizeof(*rep));
    if ((r = zone_list_files(zs->path, &files, &n_files, errs)) < 0) {
        rep->files = xcalloc(zs->n_cur + 1, sizeof(*rep->files));
        report_removed(zs, rep); /* every file served now, which serves on */
        report_set_failed(rep, errs, first_err);
        return r;
    }
    entry_t *set = xcalloc(n_files + 1, sizeof(*set));
    zone_t **zones = xcalloc(n_files + 1, sizeof(*zones));
    rep->files = xcalloc(n_files + zs->n_cur + 1, sizeof(*rep->files));
    for (size_t i = 0; i < n_files; i++) {
        if (load_one(zs, files[i], db, force, strict, &set[n], &rep->files[rep->n_files++], errs)) {
            zones[n] = set[n].zone;
            n++;
        } else {
            failed = true;
        }
    }
    zone_files_free(files, n_files);
    report_removed(zs, rep);
    bool changed = force;
    for (size_t k = 0; k < rep->n_files; k++) {
        changed |=
            rep->files[k].outcome == ZONESET_LOADED || rep->files[k].outcome == ZONESET_REMOVED;
    }
    size_t set_err = errs->n;
    *snap = NULL;
    if (failed && strict) {
        r = GSLB_ECONFIG;
    } else if (!changed) {
        r = 0; /* the set is the one served, entry for entry: nothing to build */
    } else if ((r = zone_check_set(zones, n, errs)) == 0) {
        r = snapshot_build(
            zones, n, &(snapshot_env_t){db, zs->health, zs->maps, zs->attach_later, zs->count_sets},
            snap, errs);
    }
    if (r < 0) {
        if (!(failed && strict)) {
            report_set_failed(rep, errs, set_err);
        }
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

/* The database is read while files load (geolint) and maps compile; once
 * the set is built its pages can leave the resident set (geo_db_drop_pages). */
int zoneset_load_report(zoneset_t *zs, const geo_db_t *db, bool force, bool strict,
                        snapshot_t **snap, diag_t *errs, zoneset_report_t *rep)
{
    int r = load_report(zs, db, force, strict, snap, errs, rep);

    geo_db_drop_pages(db);
    return r;
}

int zoneset_load(zoneset_t *zs, const geo_db_t *db, bool force, bool strict, snapshot_t **snap,
                 diag_t *errs)
{
    zoneset_report_t rep;
    int r = zoneset_load_report(zs, db, force, strict, snap, errs, &rep);

    zoneset_report_clear(&rep);
    return r;
}

int zoneset_rebuild(zoneset_t *zs, const geo_db_t *db, snapshot_t **snap, diag_t *errs)
{
    zone_t **zones = xcalloc(zs->n_cur + 1, sizeof(*zones));

    for (size_t i = 0; i < zs->n_cur; i++) {
        zones[i] = zs->cur[i].zone;
        geolint_zone(zones[i], db, errs); /* what the new database changes */
    }
    int r = snapshot_build(
        zones, zs->n_cur,
        &(snapshot_env_t){db, zs->health, zs->maps, zs->attach_later, zs->count_sets}, snap, errs);
    free(zones);
    geo_db_drop_pages(db);
    return r;
}

void zoneset_attach_later(zoneset_t *zs)
{
    zs->attach_later = true;
}

void zoneset_count_sets(zoneset_t *zs, unsigned n)
{
    zs->count_sets = n;
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

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(lines[i]);
    }
    free(lines);
}

void zoneset_report_clear(zoneset_report_t *rep)
{
    if (rep == NULL) {
        return;
    }
    for (size_t k = 0; k < rep->n_files; k++) {
        free(rep->files[k].file);
        free(rep->files[k].zone);
        free_lines(rep->files[k].errors, rep->files[k].n_errors);
    }
    free(rep->files);
    free_lines(rep->errors, rep->n_errors);
    memset(rep, 0, sizeof(*rep));
}

bool zoneset_report_ok(const zoneset_report_t *rep)
{
    if (rep->set_failed) {
        return false;
    }
    for (size_t k = 0; k < rep->n_files; k++) {
        if (rep->files[k].outcome == ZONESET_KEPT || rep->files[k].outcome == ZONESET_FAILED) {
            return false;
        }
    }
    return true;
}

/* How many of a file's lines are errors (not warnings). */
static size_t count_errors(const zoneset_file_t *f)
{
    size_t n = 0;

    for (size_t i = 0; i < f->n_errors; i++) {
        n += strstr(f->errors[i], ": error: ") != NULL || strncmp(f->errors[i], "error: ", 7) == 0;
    }
    return n;
}

void zoneset_file_describe(const zoneset_file_t *f, char *buf, size_t size)
{
    const char *who = f->zone ? f->zone : f->file;
    size_t ne = count_errors(f);
    char why[64] = "";

    if (ne > 0) {
        snprintf(why, sizeof(why), " (%zu error%s)", ne, ne == 1 ? "" : "s");
    } else if (f->outcome == ZONESET_KEPT || f->outcome == ZONESET_FAILED) {
        snprintf(why, sizeof(why), " (the zone set was refused)");
    }
    switch (f->outcome) {
    case ZONESET_LOADED:
        if (f->old_serial != 0) {
            snprintf(buf, size, "%s: loaded serial %u (was %u)", who, f->serial, f->old_serial);
        } else {
            snprintf(buf, size, "%s: loaded serial %u (new)", who, f->serial);
        }
        break;
    case ZONESET_UNCHANGED:
        snprintf(buf, size, "%s: unchanged, serial %u", who, f->serial);
        break;
    case ZONESET_KEPT:
        snprintf(buf, size, "%s: NOT reloaded%s: serial %u keeps serving", who, why, f->serial);
        break;
    case ZONESET_FAILED:
        snprintf(buf, size, "%s: NOT loaded%s: not served", who, why);
        break;
    default:
        snprintf(buf, size, "%s: removed (%s is gone): no longer served", who, f->file);
        break;
    }
}

bool zoneset_report_verdict(const zoneset_report_t *rep, char *buf, size_t size)
{
    size_t n[ZONESET_REMOVED + 1] = {0};

    for (size_t k = 0; k < rep->n_files; k++) {
        n[rep->files[k].outcome]++;
    }
    size_t failed = n[ZONESET_KEPT] + n[ZONESET_FAILED];
    if (rep->set_failed) {
        snprintf(buf, size,
                 "reload failed: nothing changed, every zone keeps serving its "
                 "previous version");
    } else if (failed > 0) {
        snprintf(buf, size,
                 "reload incomplete: %zu zone file%s NOT loaded (the previous version of each "
                 "keeps serving, if it had one), %zu loaded, %zu unchanged, %zu removed",
                 failed, failed == 1 ? "" : "s", n[ZONESET_LOADED], n[ZONESET_UNCHANGED],
                 n[ZONESET_REMOVED]);
    } else {
        snprintf(buf, size, "reloaded: %zu zone file%s loaded, %zu unchanged, %zu removed",
                 n[ZONESET_LOADED], n[ZONESET_LOADED] == 1 ? "" : "s", n[ZONESET_UNCHANGED],
                 n[ZONESET_REMOVED]);
    }
    return !rep->set_failed && failed == 0;
}

void zoneset_report_write(const zoneset_report_t *rep, FILE *out)
{
    char line[1024];

    for (size_t k = 0; k < rep->n_files; k++) {
        for (size_t i = 0; i < rep->files[k].n_errors; i++) {
            fprintf(out, "%s\n", rep->files[k].errors[i]);
        }
    }
    for (size_t i = 0; i < rep->n_errors; i++) {
        fprintf(out, "%s\n", rep->errors[i]);
    }
    for (size_t k = 0; k < rep->n_files; k++) {
        zoneset_file_describe(&rep->files[k], line, sizeof(line));
        fprintf(out, "%s\n", line);
    }
}
