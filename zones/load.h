/*
 * load: zone YAML files into the zone model (zone.h).
 *
 * The loader reads a file's top level (zone, ttl, soa, ns, ecs, geo) and hands
 * the sections to records.c, services.c and zgeo.c, with schema.c checking
 * every mapping against a table. Every error in a file is reported, each as
 * a diag.h line "file:line:col: error: ...", not just the first. It also
 * turns a path into the sorted list of files it names, and keeps a derived
 * serial growing across reloads. It builds no wire answers and watches no
 * files.
 */
#ifndef GSLB_LOAD_H
#define GSLB_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "zones/zone.h"

/* What one zone file may make the loader do. Real zones are a few kilobytes,
 * nested a handful of levels, with a few aliases; these bounds sit far above
 * that and keep a broken or hostile file from costing minutes or gigabytes:
 * libyaml's time grows with the square of the nesting depth, and an alias
 * stands for its whole node each time it is used (ten aliases of ten aliases
 * of ... is a billion nodes from a few hundred bytes). A file beyond a bound
 * is an error at the place it crosses it. */
#define ZONE_FILE_MAX        (4u * 1024 * 1024) /* bytes */
#define ZONE_DEPTH_MAX       64                 /* mappings and lists inside each other */
#define ZONE_ALIAS_NODES_MAX 100000             /* nodes aliases stand for, in all */

/* Load one zone YAML file (the format is described, with comments, in
 * zones/examples/gslb.example.com.yaml). On success returns 0 and sets *out (caller frees
 * with zone_free()). On failure (the file unreadable included) returns
 * GSLB_ECONFIG, leaves *out untouched, and appends every error found to errs (common/diag.h:
 * "file:line:col: error: text" lines). `serial_floor`: when the YAML gives no serial, the derived
 * serial is max(unix time, serial_floor + 1), so a reload always increases it; pass 0 at start-up.
 */
int zone_load(const char *file, uint32_t serial_floor, zone_t **out, diag_t *errs) ATTR_WUR;

/* Load one file or every "*.yaml" file of a directory (sorted by name), and
 * check across files (two files serving the same zone is an error pointing at
 * the second one's "zone:" key). On success returns 0 and sets *zones and *n.
 * On any error returns GSLB_ECONFIG and frees what it loaded; errs holds
 * every error.
 * `prev`/`n_prev`: the zones loaded before (for serial_floor), may be NULL/0. */
int zone_load_path(const char *path, zone_t *const *prev, size_t n_prev, zone_t ***zones, size_t *n,
                   diag_t *errs) ATTR_WUR;

/* Convert a YAML file path or directory into the list of *.yaml files it
 * names (sorted). Returns 0, or -errno with a message in errs. */
int zone_list_files(const char *path, char ***files, size_t *n, diag_t *errs) ATTR_WUR;

/* Free what zone_list_files() returned. NULL-safe. */
void zone_files_free(char **files, size_t n);

#endif
