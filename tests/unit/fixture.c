/*
 * fixture: see fixture.h.
 */
#include "tests/unit/fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zones/load.h"

fixture_t fixture_load(const char *yaml, unsigned count_sets)
{
    char path[] = "/tmp/gslb-test-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    fixture_t fx = {.h = healthdb_new(NULL)};
    snapshot_env_t env = {.health = fx.h, .count_sets = count_sets};
    zone_t *zone;
    diag_t errs = {0};

    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    int r = zone_load(path, 0, &zone, &errs);
    unlink(path);
    for (size_t i = 0; i < errs.n; i++) {
        fprintf(stderr, "%s\n", errs.lines[i]);
    }
    cr_assert_eq(r, 0, "the fixture zone loads");
    cr_assert_eq(snapshot_build(&zone, 1, &env, &fx.s, &errs), 0, "%s",
                 errs.n ? errs.lines[0] : "");
    zone_free(zone);
    diag_clear(&errs);
    return fx;
}

void fixture_free(fixture_t *fx)
{
    snapshot_free(fx->s);
    healthdb_free(fx->h);
}
