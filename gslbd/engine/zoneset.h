/*
 * zoneset: the zone files gslbd serves, loaded and reloaded file by file.
 *
 * A reload reads every file again (or only those whose metadata changed),
 * keeps the previous version of any file that fails to load, and reports each
 * problem as a diag.h line "file:line:column: error: ..." for the caller to
 * log. It compiles the result into a snapshot only if the whole set is
 * consistent; otherwise everything keeps serving as it was. What became of
 * each file (a new version, unchanged, the previous version kept, not
 * served, removed) is told in a report, so that what gslbd logs and what
 * gslbctl reload prints say so per zone. It does no socket I/O.
 */
#ifndef GSLB_ZONESET_H
#define GSLB_ZONESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gslbd/engine/snapshot.h"

typedef struct zoneset zoneset_t;

/* What a load did with one file. */
typedef enum {
    ZONESET_LOADED,    /* read and served: a new version, with its serial */
    ZONESET_UNCHANGED, /* not read again: unchanged on disk since it was */
    ZONESET_KEPT,      /* not loaded: its previous version keeps serving */
    ZONESET_FAILED,    /* not loaded and nothing to keep: not served */
    ZONESET_REMOVED,   /* gone from the path: no longer served */
} zoneset_outcome_t;

typedef struct {
    char *file;
    char *zone; /* "gslb.example.com", NULL when no version of it ever loaded */
    zoneset_outcome_t outcome;
    uint32_t serial;     /* the serial served from now on, 0 when not served */
    uint32_t old_serial; /* the serial served before, 0 when none (or another zone) */
    char **errors;       /* this file's diag.h lines, errors and warnings */
    size_t n_errors;
} zoneset_file_t;

/* A load's report; every string is the report's own. */
typedef struct {
    zoneset_file_t *files; /* the path's files in order, then the removed ones */
    size_t n_files;
    /* The set did not check or compile, or the path could not be read:
     * nothing changed, every file is KEPT or FAILED; `errors` says why. */
    bool set_failed;
    char **errors;
    size_t n_errors;
} zoneset_report_t;

/* Free what a report holds and zero it. NULL-safe. */
void zoneset_report_clear(zoneset_report_t *rep);

/* One line for one file: "gslb.example.com: loaded serial 5 (was 4)",
 * "gslb.example.com: NOT loaded (2 errors): serial 4 keeps serving",
 * "zones/new.yaml: NOT loaded (1 error): not served". */
void zoneset_file_describe(const zoneset_file_t *f, char *buf, size_t size);

/* True when every file of the report is LOADED, UNCHANGED or REMOVED. */
bool zoneset_report_ok(const zoneset_report_t *rep);

/* The closing sentence of a reload, and zoneset_report_ok(): "reloaded:
 * 2 zone files loaded, 0 unchanged, 0 removed" only when every file
 * loaded; otherwise "reload incomplete: ..." or "reload failed: ...", so
 * that nobody reads a failed reload as a success. */
bool zoneset_report_verdict(const zoneset_report_t *rep, char *buf, size_t size);

/* Every error of the report, then a zoneset_file_describe() line per file,
 * each ending in "\n": what gslbctl reload prints. */
void zoneset_report_write(const zoneset_report_t *rep, FILE *out);

/* `health` (may be NULL) is where compiled regions find their slots. */
zoneset_t *zoneset_new(const char *path, healthdb_t *health);
void zoneset_free(zoneset_t *zs);

/* Load or reload. `force` reloads files whose metadata did not change too
 * (SIGHUP); at start-up every file is new anyway. On success returns 0 and
 * sets *snap to a new snapshot, or to NULL when nothing served changed (no
 * file loaded or removed, not forced: every file unchanged, kept after an
 * error, or new and failed), so that a broken edit costs no recompile and no
 * publication; `strict` (start-up, --check) fails on any
 * file error instead of keeping an earlier version. Returns GSLB_ECONFIG (or
 * a negative errno when the path cannot be read) otherwise. Either way every
 * error is appended to errs, and the warnings about each file read anew
 * (zone_lint(), geolint_zone() against `db`); which file kept its previous
 * version is the report's to say (zoneset_load_report). */
int zoneset_load(zoneset_t *zs, const geo_db_t *db, bool force, bool strict, snapshot_t **snap,
                 diag_t *errs) ATTR_WUR;

/* zoneset_load(), and what became of each file in *rep (zeroed first;
 * clear it with zoneset_report_clear()), whether it succeeded or not. */
int zoneset_load_report(zoneset_t *zs, const geo_db_t *db, bool force, bool strict,
                        snapshot_t **snap, diag_t *errs, zoneset_report_t *rep) ATTR_WUR;

/* Compile the zones loaded now against another GeoIP database (it changed
 * on disk). Returns 0 and sets *snap, or GSLB_ECONFIG with the errors in
 * errs; either way the warnings about region locations that depend on the
 * database (geo/geolint.h) are said again for it, in errs. */
int zoneset_rebuild(zoneset_t *zs, const geo_db_t *db, snapshot_t **snap, diag_t *errs) ATTR_WUR;

/* From now on, snapshots come back from zoneset_load() and zoneset_rebuild()
 * with their health slots unattached (snapshot_env_t.attach_later), so that
 * they can run on a thread other than the healthdb's; the caller attaches
 * them there with snapshot_attach_health() before publishing. Only one load
 * or rebuild may run at a time, and nothing else may use the zoneset, its
 * geo map cache or snapshots from it meanwhile. */
void zoneset_attach_later(zoneset_t *zs);

/* Snapshots from now on have `n` answer counter sets besides the scratch
 * one (snapshot_env_t.count_sets): one per thread that answers. */
void zoneset_count_sets(zoneset_t *zs, unsigned n);

/* Human summary of what is loaded, e.g. "1 zone (gslb.example.com serial 5)". */
void zoneset_describe(const zoneset_t *zs, char *buf, size_t size);

size_t zoneset_count(const zoneset_t *zs);

#endif
