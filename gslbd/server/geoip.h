/*
 * geoip: which GeoIP database gslbd starts with (--geoip).
 *
 * `--geoip FILE` names one, which must load. `--geoip none` asks for none:
 * clients are then not placed, and services answer in their geo.default or
 * listed order. Without --geoip, the built-in world database is looked for
 * where `make` and `make install` put it, first relative to the running
 * executable (/proc/self/exe), so that an installed tree works wherever it
 * lies (under a DESTDIR, a moved prefix) and the build tree's bin/gslbd finds
 * the geo/world.mmdb that `make` built next to it:
 *
 *   EXE_DIR/../share/gslb/world.mmdb   installed: PREFIX/sbin/gslbd
 *   EXE_DIR/../geo/world.mmdb          the build tree: bin/gslbd
 *   DATADIR/gslb/world.mmdb            the prefix gslbd was built for
 *
 * The first that exists is the one (a file that is there but does not load
 * is an error, not a reason to try the next). Finding none is an error, with
 * the paths tried: a GeoIP balancer that silently places nobody looks as if
 * it works while it sends every client to the same region.
 *
 * It opens the database once; watching and reloading it is main.c's.
 */
#ifndef GSLB_GEOIP_H
#define GSLB_GEOIP_H

#include <stdio.h>

#include "common/log.h"
#include "geo/geodb.h"

/* --geoip's word for "no database". */
#define GEOIP_NONE "none"

/* The places the built-in database is looked for, in order. */
#define GEOIP_CANDIDATES 3

/* The database `arg` (--geoip FILE, GEOIP_NONE, or NULL for the built-in
 * one) asks for: 0 with *db set (NULL for GEOIP_NONE; the caller owns it,
 * geo_db_free()), or a negative code with what went wrong logged. */
int geoip_open(const char *arg, geo_db_t **db) ATTR_WUR;

/* The compiled-in place of the built-in database (DATADIR/gslb/world.mmdb):
 * a static string. */
const char *geoip_builtin_path(void);

/* For --version: which built-in database this gslbd would load and its
 * description, which credits the data's sources as their licences ask. */
void geoip_describe_builtin(FILE *out);

#endif
