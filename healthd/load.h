/*
 * load: reads how loaded each region's balancer is.
 *
 * Every region with a `load:` (zones/zone.h) is one load_region_t: where
 * its figure is read (an nginx stub_status page, a HAProxy stats CSV or a
 * Prometheus metrics page), against what capacity, and the latest read.
 * Each distinct URL is fetched once per interval (the shortest of the
 * regions reading it, with the shortest timeout), on the libuv loop through
 * libcurl (curluv.c), however many regions read it; each region then finds
 * its own figure on the page (lparse.c). After every read, successful or
 * not, a callback gets each region of that page; a change between success
 * and failure, or of the failure's reason, is logged once.
 *
 * It does not talk to gslbd: main.c turns reads into LOAD lines
 * (load_line()) and report.c sends them.
 */
#ifndef GSLB_HEALTHD_LOAD_H
#define GSLB_HEALTHD_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/log.h"
#include "zones/zone.h"

#define LOAD_REASON_MAX 512
#define LOAD_PAGE_MAX   (4u << 20) /* a page larger than this is an error, not a figure */

typedef struct {
    char *zone;       /* zone name, lower case, no trailing dot */
    char *region;     /* region name */
    char *label;      /* "gslb.example.com eu-west", for logs */
    zone_load_t load; /* the region's load:, strings owned */
    /* The latest read (none before the first). */
    bool read;                    /* read at least once */
    bool known;                   /* ... and the latest read gave a figure */
    double figure;                /* when known */
    char reason[LOAD_REASON_MAX]; /* why the latest read failed; "" when known */
    /* Reads counted since healthd started (kept across reloads while the
     * region is there), for /metrics. */
    uint64_t reads_ok, reads_error;
} load_region_t;

typedef struct loader loader_t;

/* A region was read, or is being listed. Valid during the call only. */
typedef void (*loader_fn)(void *arg, const load_region_t *r);

/* The regions with `load:` of `zones`, in zone and region order, into a
 * new array (free with load_free_all()), unread. Returns 0; aborts on
 * out-of-memory, as configuration code may. */
int load_build(zone_t *const *zones, size_t n_zones, load_region_t **out, size_t *n_out) ATTR_WUR;

/* Free an array from load_build(). NULL-safe. */
void load_free_all(load_region_t *r, size_t n);

/* utilisation = figure / capacity, for a region whose latest read is known. */
double load_utilisation(const load_region_t *r) ATTR_NONNULL;

/* The LOAD line (common/ctl.h) of a region's latest read, into out
 * (NUL-terminated, at most CTL_LINE_MAX + 1 bytes with its "\n"). Returns
 * its length, or a negative code: -EINVAL before the first read or when the
 * figure cannot travel. */
int load_line(const load_region_t *r, char *out, size_t size) ATTR_WUR;

/* A loader on `loop` calling `done` after every read of every region.
 * Returns 0 and sets *out, or a negative code. curl_global_init() must have
 * run. */
int loader_new(uv_loop_t *loop, loader_fn done, void *arg, loader_t **out) ATTR_WUR;

/* Read these regions from now on (the loader takes the array and what it
 * holds). A region already read under the same zone and name keeps its
 * counters, and its latest read when its load: reads the same page the same
 * way; URLs already fetched keep their schedule and any read in flight;
 * URLs no longer read stop. */
void loader_set(loader_t *l, load_region_t *r, size_t n);

/* Call fn for every region, in the order loader_set() was given them. */
void loader_each(const loader_t *l, loader_fn fn, void *arg);

/* Regions read, and pages fetched for them. */
size_t loader_regions(const loader_t *l);
size_t loader_pages(const loader_t *l);

/* Stop every read and free; run the loop afterwards for the close
 * callbacks. NULL-safe. */
void loader_free(loader_t *l);

#endif
