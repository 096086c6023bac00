/*
 * scan: finds a fixed substring in a body that arrives in pieces.
 *
 * An http(s) check's `body` must appear somewhere in the response; libcurl
 * hands the body over in chunks of any size, and the text may straddle two
 * of them. scan keeps only the last len-1 bytes seen, so memory stays at a
 * few times the needle's length whatever the body's size. Pure: no I/O.
 */
#ifndef GSLB_SCAN_H
#define GSLB_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

typedef struct {
    const char *needle; /* not owned: must outlive the scan */
    size_t len;
    char *buf; /* owned: 3 * len bytes, the carried tail then scratch */
    size_t tail;
    bool found;
} scan_t;

/* Prepare to look for `needle` (an empty needle is found at once). Aborts
 * on out-of-memory (done once per target, at configuration time). */
void scan_init(scan_t *s, const char *needle) ATTR_NONNULL;

/* Forget what was seen: a new body starts. */
void scan_reset(scan_t *s) ATTR_NONNULL;

/* Feed the next piece of the body; returns s->found. */
bool scan_feed(scan_t *s, const char *data, size_t n);

/* Free the buffer. NULL-safe. */
void scan_free(scan_t *s);

#endif
