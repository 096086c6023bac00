/*
 * select: region choice per query; see select.h. Runs per query: loops over
 * the service's few regions, no allocation.
 */
#include "select.h"

static bool has_family(const region_rt_t *r, bool v6)
{
    return (v6 ? r->n6 : r->n4) > 0;
}

static bool region_up(const region_rt_t *r)
{
    (void)r;
    return true; /* health arrives with healthd; until then every region is up */
}

/* Eligibility by pass: 0 strict, 1 ignoring health, 2 ignoring weight too. */
static bool eligible(const region_rt_t *r, bool v6, int pass)
{
    return has_family(r, v6) && (pass >= 2 || r->weight > 0) && (pass >= 1 || region_up(r));
}

static select_why_t reason(const region_rt_t *r, bool v6)
{
    if (!has_family(r, v6)) {
        return SELECT_NO_FAMILY;
    }
    return r->weight == 0 ? SELECT_DRAINED : !region_up(r) ? SELECT_DOWN : SELECT_NOT_NEEDED;
}

/* Pick one of `cand` (positions in order->e) in proportion to weight. */
static unsigned pick_weighted(const svc_rt_t *svc, const geo_list_t *order, const uint16_t *cand,
                              unsigned n, uint64_t *rng)
{
    uint64_t total = 0;

    for (unsigned i = 0; i < n; i++) {
        total += svc->regions[order->e[cand[i]].region]->weight;
    }
    if (total == 0) {
        return 0;
    }
    uint64_t r = select_rand(rng) % total;
    for (unsigned i = 0; i < n; i++) {
        uint64_t w = svc->regions[order->e[cand[i]].region]->weight;
        if (r < w) {
            return i;
        }
        r -= w;
    }
    return n - 1;
}

/* Nearest: the first eligible region, or, with spread_km, one of those
 * within spread_km of it, in proportion to weight. */
static unsigned first_choice(const svc_rt_t *svc, const geo_list_t *order, uint16_t *elig,
                             unsigned n, uint64_t *rng)
{
    float km0 = order->e[elig[0]].km;
    unsigned near = 1;

    if (svc->policy == POLICY_WEIGHTED) {
        return pick_weighted(svc, order, elig, n, rng);
    }
    if (svc->policy != POLICY_NEAREST || svc->spread_km <= 0 || km0 < 0) {
        return 0;
    }
    while (near < n && order->e[elig[near]].km >= 0 &&
           order->e[elig[near]].km <= km0 + svc->spread_km) {
        near++;
    }
    return near > 1 ? pick_weighted(svc, order, elig, near, rng) : 0;
}

void select_regions(const svc_rt_t *svc, const geo_list_t *order, bool v6, uint64_t *rng,
                    select_t *out, uint8_t *why)
{
    uint16_t elig[order->n];
    unsigned n = 0;
    int pass;

    for (pass = 0; pass < 3 && n == 0; pass++) {
        for (unsigned i = 0; i < order->n; i++) {
            if (eligible(svc->regions[order->e[i].region], v6, pass)) {
                elig[n++] = (uint16_t)i;
            }
        }
    }
    out->n = 0;
    out->failed_open = pass > 1;
    if (why != NULL) {
        for (unsigned i = 0; i < order->n; i++) {
            why[i] = (uint8_t)reason(svc->regions[order->e[i].region], v6);
        }
    }
    while (n > 0 && out->n < svc->answers && out->n < SELECT_MAX) {
        unsigned k = out->n == 0 || svc->policy == POLICY_WEIGHTED
                         ? first_choice(svc, order, elig, n, rng)
                         : 0;
        if (why != NULL) {
            why[elig[k]] = SELECT_CHOSEN;
        }
        out->region[out->n++] = order->e[elig[k]].region;
        for (unsigned i = k + 1; i < n; i++) {
            elig[i - 1] = elig[i];
        }
        n--;
    }
}
