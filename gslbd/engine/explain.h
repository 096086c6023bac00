/*
 * explain: print what gslbd would answer one client, and why: offline for
 * `gslbd --explain` (the zone files, no health), live for `gslbctl explain`
 * (the snapshot being served, with its health slots). Runs the server's own
 * answer path on a built query; prints to `out`. No I/O but `out`.
 */
#ifndef GSLB_EXPLAIN_H
#define GSLB_EXPLAIN_H

#include <stdbool.h>
#include <stdio.h>

#include "geo/geodb.h"
#include "gslbd/engine/snapshot.h"

typedef struct {
    const snapshot_t *snap; /* what to answer from */
    const geo_db_t *db;     /* the database its maps were compiled from; NULL: none */
    bool live;              /* the running gslbd's snapshot: health and overrides apply */
} explain_env_t;

/* client: "ADDRESS[/PREFIX]"; type may be NULL (A). Returns 0, or -EINVAL
 * with a sentence in `why` (the client, name or type is malformed). */
int explain_run(const explain_env_t *env, const char *client, const char *name, const char *type,
                FILE *out, char *why, size_t why_size);

#endif
