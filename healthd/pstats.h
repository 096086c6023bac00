/*
 * pstats: what healthd counts about its probes and its loop, for /metrics.
 *
 * Three plain records, kept by the prober on its one libuv loop (so plain
 * counters, no atomics): a target's probe results by reason (embedded in
 * the probe, so kept across reloads with the target), a histogram of probe
 * durations, and the loop's lag with its maximum over the last minute.
 * Failure reasons are counted by class, the report's reason without its
 * free text ("TLS error: certificate expired" counts as "TLS error"), and a
 * target keeps at most PSTATS_REASONS of them, so the metric's label set
 * stays bounded whatever a backend answers.
 *
 * It is pure: no I/O, no clock (times are passed in), no allocation. It
 * does not write the metrics (metrics.c does).
 */
#ifndef GSLB_PSTATS_H
#define GSLB_PSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

#define PSTATS_REASON_MAX 24 /* a reason class, NUL included */
#define PSTATS_REASONS    8  /* classes kept per target; any further one counts as "other" */
#define PSTATS_BUCKETS    13 /* histogram bounds, 1 ms .. 10 s */
#define PSTATS_LAG_SLOTS  60 /* seconds the lag's maximum looks back */

typedef struct {
    char reason[PSTATS_REASON_MAX];
    uint64_t n;
} pstats_fail_t;

/* One target's probe results. Zeroed is empty. */
typedef struct {
    uint64_t ok;
    pstats_fail_t fail[PSTATS_REASONS];
    unsigned n_fail;
} pstats_target_t;

/* Durations of probes, in seconds. Zeroed is empty. */
typedef struct {
    uint64_t counts[PSTATS_BUCKETS + 1]; /* per bound, non-cumulative; the last above all */
    double sum;
} pstats_hist_t;

/* The upper bounds of the histogram's buckets, ascending, in seconds. */
extern const double pstats_le[PSTATS_BUCKETS];

/* The loop's lag: the latest measure and per-second maxima. Zeroed is
 * empty. */
typedef struct {
    double last;
    double max[PSTATS_LAG_SLOTS];
    uint64_t sec[PSTATS_LAG_SLOTS]; /* the second each slot's maximum is of, plus one */
} pstats_lag_t;

/* The class of a probe's reason: the text before its first ':' or " (",
 * cut to fit `size` (at least 1). "status 503" stays "status 503". */
void pstats_reason(const char *reason, char *out, size_t size) ATTR_NONNULL;

/* Count one probe result; `reason` as the probe reported it (ignored when
 * ok). */
void pstats_count(pstats_target_t *s, bool ok, const char *reason) ATTR_NONNULL;

/* The number of probes counted, ok and failed. */
uint64_t pstats_total(const pstats_target_t *s) ATTR_NONNULL;

void pstats_observe(pstats_hist_t *h, double seconds) ATTR_NONNULL;

/* The observations in h. */
uint64_t pstats_hist_count(const pstats_hist_t *h) ATTR_NONNULL;

/* A lag of `seconds` measured at `now_ms` (a monotonic clock, ms). */
void pstats_lag_note(pstats_lag_t *l, uint64_t now_ms, double seconds) ATTR_NONNULL;

/* The largest lag noted in the PSTATS_LAG_SLOTS seconds up to `now_ms`. */
double pstats_lag_max(const pstats_lag_t *l, uint64_t now_ms) ATTR_NONNULL;

#endif
