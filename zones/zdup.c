/*
 * zdup: repeats in a list by sorting its indices; see zdup.h.
 */
#include "zones/zdup.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

typedef struct {
    zdup_cmp_t cmp;
    const void *ctx;
} zdup_sort_t;

/* The caller's order, then the position in the list: the first of equal
 * items sorts first. */
static int zdup_index_cmp(const void *x, const void *y, void *arg)
{
    const zdup_sort_t *s = arg;
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    int c = s->cmp(s->ctx, a, b);

    if (c) {
        return c;
    }
    return a < b ? -1 : a > b;
}

size_t *zdup_first(size_t n, zdup_cmp_t cmp, const void *ctx)
{
    zdup_sort_t s = {.cmp = cmp, .ctx = ctx};
    size_t *order, *first;

    if (!n) {
        return NULL;
    }
    order = xcalloc(n, sizeof(*order));
    first = xcalloc(n, sizeof(*first));
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
    }
    qsort_r(order, n, sizeof(*order), zdup_index_cmp, &s);
    for (size_t k = 0; k < n; k++) {
        bool same = k > 0 && cmp(ctx, order[k - 1], order[k]) == 0;

        first[order[k]] = same ? first[order[k - 1]] : order[k];
    }
    free(order);
    return first;
}

size_t zdup_compact(void *base, size_t n, size_t size, const size_t *first)
{
    char *b = base;
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        if (first[i] != i) {
            continue;
        }
        if (kept != i) {
            memcpy(b + kept * size, b + i * size, size);
        }
        kept++;
    }
    return kept;
}

int zdup_cmp_index(const void *ctx, size_t a, size_t b)
{
    const size_t *v = ctx;

    return v[a] < v[b] ? -1 : v[a] > v[b];
}
