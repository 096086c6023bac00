/*
 * prom: a writer of the Prometheus text exposition format, version 0.0.4
 * (the format `/metrics` serves and `promtool check metrics` reads).
 *
 * A metric family is opened with prom_family(), which writes its # HELP and
 * # TYPE lines, and its samples follow at once: the format asks that all
 * samples of a family be together, and it is the caller's job to keep them
 * so (the writer remembers only the open family, to catch a sample written
 * under another name). Label values are escaped as the format asks
 * (backslash, double quote, newline); label and metric names are the
 * caller's own words, written as they are.
 *
 * Labels are given as a NULL-terminated list of name, value pairs:
 *
 *   prom_family(p, "gslb_queries_total", PROM_COUNTER, "DNS queries received.");
 *   prom_u64(p, "gslb_queries_total", n, "transport", "udp", "qtype", "A", NULL);
 *
 * It writes to a stdio stream (an open_memstream() for an HTTP reply); it
 * does not parse the format.
 */
#ifndef GSLB_PROM_H
#define GSLB_PROM_H

#include <stdint.h>
#include <stdio.h>

typedef enum {
    PROM_COUNTER,
    PROM_GAUGE,
    PROM_HISTOGRAM,
    PROM_UNTYPED,
} prom_type_t;

typedef struct {
    FILE *f;
    const char *family; /* the open family's name (not owned: a literal) */
} prom_t;

/* Start writing to f (not owned). */
void prom_init(prom_t *p, FILE *f);

/* Open a family: its help text (one line; escaped) and type. */
void prom_family(prom_t *p, const char *name, prom_type_t type, const char *help);

/* One sample of the open family: `name` is the family's name, or for a
 * histogram the family's name with _bucket, _sum or _count. The variadic
 * arguments are label name, value pairs, ending with NULL. */
void prom_u64(prom_t *p, const char *name, uint64_t value, ...) __attribute__((sentinel));
void prom_i64(prom_t *p, const char *name, int64_t value, ...) __attribute__((sentinel));
/* A value that is not finite is written as NaN, +Inf or -Inf. */
void prom_double(prom_t *p, const char *name, double value, ...) __attribute__((sentinel));

/* A state set under the open family `name`: one sample per state 0..n-1,
 * with the label "state" = word(state) after the given labels, 1 for `now`
 * and 0 for the others. The words come from the module that owns the enum,
 * so the set follows it. Labels as above. */
void prom_states(prom_t *p, const char *name, const char *(*word)(unsigned), unsigned n,
                 unsigned now, ...) __attribute__((sentinel));

/* A histogram's samples under the open family `name`: for each of the n
 * upper bounds `le` (ascending; seconds or whatever unit the name says) the
 * cumulative count of observations at or below it, then +Inf, _sum and
 * _count. `counts` holds n + 1 non-cumulative counts, the last for values
 * above every bound. Labels as above, besides "le". */
void prom_histogram(prom_t *p, const char *name, const double *le, const uint64_t *counts,
                    unsigned n, double sum, ...) __attribute__((sentinel));

#endif
