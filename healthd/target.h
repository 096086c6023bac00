/*
 * target: what healthd probes, derived from loaded zones.
 *
 * Every pool member of a region that names a check is one target, and so
 * is every canary of the vantage healthd runs as (zone.h): where to connect
 * (a member's probe address and port, by default its own address and the
 * check's port), what to send and what counts as healthy. Targets are plain
 * data copied out of the zones, so the zones can be freed once the targets
 * are built. This module also matches the targets of a reload against the
 * running ones (by an identity key), spreads first probes over the interval
 * and builds the control-protocol MEMBER line of a target.
 *
 * It does no I/O and knows nothing of libuv or libcurl: probe.c runs targets.
 */
#ifndef GSLB_TARGET_H
#define GSLB_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "healthd/hstate.h"
#include "zones/zone.h"

typedef struct {
    char *key;    /* identity across reloads: zone, region, member, probe address, check */
    char *zone;   /* zone name, lower case, no trailing dot: "gslb.example.com" */
    char *region; /* region name */
    char *member; /* the member address as written in the pool */
    char *check;  /* the check's name (not part of the key: a rename keeps the target) */
    char *label;  /* "gslb.example.com eu-west 198.51.100.10", for logs */
    char *where;  /* probed address and port: "192.0.2.10:80", "[2001:db8::1]:443" */
    check_type_t type;
    struct sockaddr_storage sa; /* the probed address and port */
    char *url;                  /* http(s): the URL to GET; NULL for tcp */
    char *connect_to; /* https with a host or sni name: "::ADDR:PORT" for CURLOPT_CONNECT_TO */
    char *host;       /* http(s): Host header value, NULL = curl's default */
    char *body;       /* http(s): substring the body must hold, NULL = any */
    bool tls_verify;
    uint16_t *expect; /* accepted status codes (at least one) */
    size_t n_expect;
    unsigned interval_ms, timeout_ms, rise, fall;
    unsigned stale_after_ms; /* the check's stale_after: gslbd's patience with silence */
} target_t;

/* Build the targets of `zones` into a new array (caller frees with
 * target_free_all()). Order: zones, regions, pool members as loaded.
 * Returns 0 (aborts on out-of-memory, as config code may). */
int target_build(zone_t *const *zones, size_t n_zones, target_t **out, size_t *n_out) ATTR_WUR;

/* The canaries of vantage `vantage` (NULL: none) in `zones`, the union of
 * every zone's vantages.NAME.canary, as targets in a new array (caller frees
 * with target_free_all()), in load order. An address and port listed more
 * than once is one target, with the check of the first listing: it is
 * probed once and counts once. A canary target has no zone or region; its
 * member is the canary as written, its label "vantage NAME canary WHERE".
 * Returns 0 (aborts on out-of-memory). */
int target_build_canaries(zone_t *const *zones, size_t n_zones, const char *vantage, target_t **out,
                          size_t *n_out) ATTR_WUR;

/* The zone's name as targets and the control protocol write it, in a new
 * string: "gslb.example.com." -> "gslb.example.com" (the root stays "."). */
char *target_zone_name(const zone_t *z) ATTR_WUR;

/* Free the strings of one target (not the target itself). NULL-safe. */
void target_clear(target_t *t);

/* Free an array from target_build(). NULL-safe. */
void target_free_all(target_t *t, size_t n);

/* Match the keys of new targets to those of old ones: map[j] = the index in
 * old_keys equal to new_keys[j], or -1. Each old key matches at most once.
 * O((n_old + n_new) log). `map` has n_new elements. */
void target_match(const char *const *old_keys, size_t n_old, const char *const *new_keys,
                  size_t n_new, long *map);

/* Start offset of the i-th of n targets started together: they spread
 * evenly over [0, interval_ms). */
unsigned target_offset(size_t i, size_t n, unsigned interval_ms);

/* When a target probed at `due` (loop time, ms) probes next: one interval
 * later, skipping whole intervals already past `now`. Keeping each target on
 * its own phase matters after the loop stalls: timers that all fired late
 * would otherwise stay bunched together and probe in bursts ever after.
 * `interval_ms` of 0 counts as 1. Always returns a time after `now`. */
unsigned long long target_next_due(unsigned long long due, unsigned long long now,
                                   unsigned interval_ms);

/* Is `status` one of the target's accepted status codes? */
bool target_status_ok(const target_t *t, long status);

/* The MEMBER line reporting the target's state (common/ctl.h), with the
 * reason as its reason= attribute, into out (NUL-terminated). The reason
 * loses control characters and is cut so the line fits CTL_LINE_MAX.
 * Returns the length, -EINVAL for HEALTH_UNKNOWN or a name the protocol
 * cannot carry, or -ENOSPC when `size` is too small for even the line
 * without a reason. */
int target_member_line(const target_t *t, health_state_t state, const char *reason, char *out,
                       size_t size) ATTR_WUR;

#endif
