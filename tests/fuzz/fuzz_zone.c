/*
 * Fuzz target: any bytes as a zone YAML file through zone_load() and, when it
 * loads, snapshot_build(). Errors are fine; crashes, leaks and out-of-bounds
 * reads are not, and every error line must name file:line:column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gslbd/engine/snapshot.h"
#include "zones/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/gslb-fuzz-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    diag_t errs = {0};
    zone_t *zone;
    snapshot_t *snap;

    if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
        abort();
    }
    close(fd);
    if (zone_load(path, 0, &zone, &errs) == 0) {
        if (snapshot_build(&zone, 1, NULL, &snap, &errs) == 0) {
            snapshot_free(snap);
        }
        zone_free(zone);
    }
    for (size_t i = 0; i < errs.n; i++) {
        if (strncmp(errs.lines[i], path, strlen(path)) != 0 || !strstr(errs.lines[i], "error:")) {
            fprintf(stderr, "fuzz_zone: error line without its place: %s\n", errs.lines[i]);
            abort();
        }
    }
    diag_clear(&errs);
    unlink(path);
    return 0;
}
