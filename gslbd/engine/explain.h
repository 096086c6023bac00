/*
 * explain: print what gslbd would answer one client, and why (--explain).
 * Runs the server's own answer path on a built query; prints to `out`.
 */
#ifndef GSLB_EXPLAIN_H
#define GSLB_EXPLAIN_H

#include <stdio.h>

#include "geo/geodb.h"
#include "gslbd/engine/snapshot.h"

/* client: "ADDRESS[/PREFIX]"; type may be NULL (A). Returns 0, or -EINVAL
 * with the reason logged. */
int explain_run(const snapshot_t *s, const geo_db_t *db, const char *client, const char *name,
                const char *type, FILE *out);

#endif
