/*
 * lparse: the load figure on a regional balancer's status page.
 *
 * Three kinds of page (a region's `load.source`, zones/zone.h):
 * - nginx stub_status: the number after "Active connections:";
 * - HAProxy's stats CSV: the scur (current sessions) of one proxy's
 *   BACKEND or FRONTEND row, its columns found by the "# pxname,..." header;
 * - the Prometheus text exposition format: the sum of every sample of one
 *   metric whose labels include those the selector names.
 *
 * Pure functions: the page in (as fetched, any length, not NUL-terminated),
 * a finite figure of 0 or more out, or a sentence saying what was wrong with
 * the page, short enough to travel as a LOAD line's reason. No I/O: load.c
 * fetches the pages.
 */
#ifndef GSLB_LPARSE_H
#define GSLB_LPARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"
#include "zones/zone.h"

/* Room for any sentence these functions write (they cut to the size given). */
#define LPARSE_WHY_MAX 256

/* Each returns 0 and sets *figure, or -EINVAL and writes why (NUL-
 * terminated, cut to `size`); *figure is written only on success. */

/* nginx stub_status: "Active connections: N". */
int lparse_nginx(const char *page, size_t len, double *figure, char *why, size_t size) ATTR_WUR;

/* HAProxy stats CSV: the scur of the row whose pxname is `proxy` and whose
 * svname is FRONTEND (frontend true) or BACKEND. */
int lparse_haproxy(const char *page, size_t len, const char *proxy, bool frontend, double *figure,
                   char *why, size_t size) ATTR_WUR;

/* Prometheus text exposition: the sum over the samples named by `selector`,
 * a metric name optionally followed by {label="value",...} (what
 * zone_metric_parse() accepts). No matching sample, or one whose value is NaN
 * or infinite, or a malformed line of that metric, is an error; lines of
 * other metrics are not looked into. */
int lparse_prometheus(const char *page, size_t len, const char *selector, double *figure, char *why,
                      size_t size) ATTR_WUR;

/* The one of the above that `l->source` says, with its backend, frontend or
 * metric. */
int lparse_page(const zone_load_t *l, const char *page, size_t len, double *figure, char *why,
                size_t size) ATTR_WUR;

#endif
