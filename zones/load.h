/*
 * load: zone YAML files into the zone model (zone.h).
 *
 * The loader reads a file's top level (zone, ttl, soa, ns, ecs, geo) and hands
 * the sections to records.c, services.c and zgeo.c, with schema.c checking
 * every mapping against a table. Every error in a file is reported, each as
 * a diag.h line "file:line:col: error: ...", not just the first. It also
 * turns a path into the sorted list of files it names, and derives the
 * serial of a file that writes none from the file itself (zone_serial_derive)
 * so that servers agree on it. It builds no wire answers and watches no
 * files.
 */
#ifndef GSLB_LOAD_H
#define GSLB_LOAD_H

#include <stdbool.h>
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
 * "file:line:col: error: text" lines). `prev`: the version of this zone being served (NULL at
 * start-up), for the serial rule of zone_serial_derive(); a warning it gives goes to errs. */
int zone_load(const char *file, const zone_t *prev, zone_t **out, diag_t *errs) ATTR_WUR;

/* The SOA serial of a zone file that writes no soa.serial, so that servers
 * given the same file agree on it and it grows on every change:
 *
 *   the file's modification time in seconds (a copy that keeps it, such as
 *   rsync -t, cp -p or a checkout followed by touch -d, gives every server
 *   the same serial), 1 for a time of 0;
 *   but when `prev` (the version served now, NULL at start-up) has a serial
 *   that this one is not above in RFC 1982 arithmetic: the same bytes keep
 *   prev's serial, and different bytes (an edit within the same second, a
 *   time that went back) take prev's serial + 1, *bumped set true: the
 *   caller warns that servers may now disagree.
 *
 * Pure: `mtime` and `digest` are zone_t's. */
uint32_t zone_serial_derive(int64_t mtime, uint64_t digest, const zone_t *prev, bool *bumped);

/* a > b in RFC 1982 serial number arithmetic (section 3.2; undefined when
 * they are 2^31 apart, which this calls not greater). */
bool zone_serial_gt(uint32_t a, uint32_t b);

/* Load one file or every "*.yaml" file of a directory (sorted by name), and
 * check across files (two files serving the same zone is an error pointing at
 * the second one's "zone:" key). On success returns 0 and sets *zones and *n.
 * On any error returns GSLB_ECONFIG and frees what it loaded; errs holds
 * every error.
 * `prev`/`n_prev`: the zones loaded before, found by name for the serial rule of
 * zone_serial_derive(); may be NULL/0. */
int zone_load_path(const char *path, zone_t *const *prev, size_t n_prev, zone_t ***zones, size_t *n,
                   diag_t *errs) ATTR_WUR;

/* Convert a YAML file path or directory into the list of *.yaml files it
 * names (sorted). Returns 0, or -errno with a message in errs. */
int zone_list_files(const char *path, char ***files, size_t *n, diag_t *errs) ATTR_WUR;

/* Free what zone_list_files() returned. NULL-safe. */
void zone_files_free(char **files, size_t n);

#endif
