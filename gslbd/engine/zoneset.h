/*
 * zoneset: the zone files gslbd serves, loaded and reloaded file by file.
 *
 * A reload reads every file again (or only those whose metadata changed),
 * keeps the previous version of any file that fails to load, and reports each
 * problem as a diag.h line "file:line:column: error: ..." for the caller to
 * log. It compiles the result into a snapshot only if the whole set is
 * consistent; otherwise everything keeps serving as it was. It does no
 * socket I/O.
 */
#ifndef GSLB_ZONESET_H
#define GSLB_ZONESET_H

#include <stdbool.h>
#include <stddef.h>

#include "gslbd/engine/snapshot.h"

typedef struct zoneset zoneset_t;

/* `health` (may be NULL) is where compiled regions find their slots. */
zoneset_t *zoneset_new(const char *path, healthdb_t *health);
void zoneset_free(zoneset_t *zs);

/* Load or reload. `force` reloads files whose metadata did not change too
 * (SIGHUP); at start-up every file is new anyway. On success returns 0 and
 * sets *snap to a new snapshot; `strict` (start-up, --check) fails on any
 * file error instead of keeping an earlier version. Returns GSLB_ECONFIG (or
 * a negative errno when the path cannot be read) otherwise. Either way every
 * error, a warning for each file whose previous version is kept, and the
 * warnings about each file read anew (zone_lint(), geolint_zone() against
 * `db`) are appended to errs. */
int zoneset_load(zoneset_t *zs, const geo_db_t *db, bool force, bool strict, snapshot_t **snap,
                 diag_t *errs) ATTR_WUR;

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

/* Human summary of what is loaded, e.g. "1 zone (gslb.example.com serial 5)". */
void zoneset_describe(const zoneset_t *zs, char *buf, size_t size);

size_t zoneset_count(const zoneset_t *zs);

#endif
