/*
 * zdup: which items of a list repeat an earlier one, in O(n log n).
 *
 * The loader refuses repeats in many lists (the values of an RRset, a
 * pool's addresses, a service's regions, geo keys, services' names), and
 * must say which earlier item each repeat repeats. Comparing each item with
 * every earlier one costs n^2/2 comparisons: minutes for a list of a few
 * hundred thousand, which a zone file within the loader's limits can hold.
 * Sorting the items' indices finds the same answer. This module knows
 * nothing of what the items are: the caller compares them.
 *
 * Internal to zones/.
 */
#ifndef GSLB_ZDUP_H
#define GSLB_ZDUP_H

#include <stddef.h>

/* A total order of items a and b of the caller's list `ctx`: negative, 0
 * when they are the same, or positive. */
typedef int (*zdup_cmp_t)(const void *ctx, size_t a, size_t b);

/* For items 0..n-1, an array (caller frees; NULL when n is 0) whose element
 * i is the first item equal to item i: i itself when no earlier item is. */
size_t *zdup_first(size_t n, zdup_cmp_t cmp, const void *ctx);

/* Keep, in order, the items of base[0..n) (each `size` bytes) that are
 * first of their kind by `first` (from zdup_first()); returns how many. The
 * caller reports and frees the others beforehand. */
size_t zdup_compact(void *base, size_t n, size_t size, const size_t *first);

/* zdup_cmp_t for a list of size_t (a list of region indices). */
int zdup_cmp_index(const void *ctx, size_t a, size_t b);

#endif
