/*
 * fixture: a zone the test writes inline, through the real loader and
 * snapshot compiler, for the unit tests that ask a snapshot questions.
 */
#ifndef GSLB_TEST_FIXTURE_H
#define GSLB_TEST_FIXTURE_H

#include "gslbd/engine/healthdb.h"
#include "gslbd/engine/snapshot.h"

typedef struct {
    healthdb_t *h; /* a health database of its own, no files */
    snapshot_t *s;
} fixture_t;

/* Load `yaml` (written to a temporary file, removed after) and compile it
 * with `count_sets` sets of answer counters, its slots bound to a new health
 * database. Any error fails the test, each line of it printed. */
fixture_t fixture_load(const char *yaml, unsigned count_sets);

void fixture_free(fixture_t *fx);

#endif
