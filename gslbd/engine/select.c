/*
 * select: region choice per query; see select.h. Runs per query: loops over
 * the service's few regions, no allocation.
 */
#include "gslbd/engine/select.h"

#include <math.h>
#include <string.h>

static bool has_family(const region_rt_t *r, bool v6, bool failed_open)
{
    unsigned n = v6 ? r->n6 : r->n4;

    for (unsigned i = 0; i < n; i++) {
        if (select_member_ok(r, v6, i, failed_open)) {
            return true;
        }
    }
    return false;
}

static unsigned weight_of(const region_rt_t *r)
{
    return healthdb_region_override(r->slot) == HEALTH_OV_DRAIN ? 0 : r->weight;
}

unsigned select_members_up(const region_rt_t *r)
{
    unsigned up = 0;

    for (unsigned i = 0; i < r->n4; i++) {
        up += healthdb_member_up(r->s4[i]);
    }
    for (unsigned i = 0; i < r->n6; i++) {
        up += healthdb_member_up(r->s6[i]);
    }
    return up;
}

bool select_region_up(const region_rt_t *r)
{
    return health_region_up(healthdb_region_override(r->slot), select_members_up(r), r->min_up);
}

select_member_t select_member_state(const healthdb_slot_t *s)
{
    if (s == NULL) {
        return SELECT_MEMBER_UNKNOWN;
    }
    switch (atomic_load_explicit(&s->override, memory_order_relaxed)) {
    case HEALTH_OV_UP:
        return SELECT_MEMBER_FORCED_UP;
    case HEALTH_OV_DOWN:
        return SELECT_MEMBER_FORCED_DOWN;
    case HEALTH_OV_DRAIN:
        return SELECT_MEMBER_DRAINED;
    default:
        break;
    }
    switch (atomic_load_explicit(&s->state, memory_order_relaxed)) {
    case HEALTH_UP:
        return SELECT_MEMBER_UP;
    case HEALTH_DOWN:
        return SELECT_MEMBER_DOWN;
    default:
        return SELECT_MEMBER_UNKNOWN;
    }
}

/* The state, from the counts: an override first, then drain (by override or
 * weight 0), then the region rule, telling apart a region up on members
 * known to be up from one up only because unknown members count as up. */
static select_state_t region_state(const region_rt_t *r, const select_report_t *o)
{
    unsigned known_up = o->n[SELECT_MEMBER_UP] + o->n[SELECT_MEMBER_FORCED_UP];

    if (o->override == HEALTH_OV_DOWN || o->override == HEALTH_OV_UP) {
        return o->override == HEALTH_OV_UP ? SELECT_STATE_FORCED_UP : SELECT_STATE_FORCED_DOWN;
    }
    if (o->override == HEALTH_OV_DRAIN || r->weight == 0) {
        return SELECT_STATE_DRAINED;
    }
    if (!o->health_up) {
        return SELECT_STATE_DOWN;
    }
    /* Members of a region without a check are never reported: up by design. */
    return known_up >= r->min_up || !r->checked ? SELECT_STATE_UP : SELECT_STATE_UNKNOWN;
}

void select_region_report(const region_rt_t *r, select_report_t *out)
{
    memset(out, 0, sizeof(*out));
    out->override = healthdb_region_override(r->slot);
    out->members = (unsigned)r->n4 + r->n6;
    for (unsigned i = 0; i < r->n4 + r->n6; i++) {
        select_member_t m = select_member_state(select_member_slot(r, i));
        out->n[m]++;
    }
    out->counted_up =
        out->n[SELECT_MEMBER_UP] + out->n[SELECT_MEMBER_UNKNOWN] + out->n[SELECT_MEMBER_FORCED_UP];
    out->health_up = health_region_up(out->override, out->counted_up, r->min_up);
    out->weight = weight_of(r);
    out->waiting = r->checked && r->waiting != NULL && atomic_load(r->waiting);
    out->held = r->checked ? select_members_held(r) : 0;
    out->unsure = out->waiting || out->held > 0; /* unsure(), from what is counted here */
    out->state = region_state(r, out);
}

const char *select_state_name(select_state_t st)
{
    static const char *const names[] = {"up",      "unknown",   "down",
                                        "drained", "forced-up", "forced-down"};

    return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

const char *select_member_name(select_member_t st)
{
    static const char *const names[] = {"up",        "unknown",     "down",
                                        "forced-up", "forced-down", "drained"};

    return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

/* Strict eligibility: weight, overrides, the region rule, and an answerable
 * address of the asked family. Read through the status cache: eligible(). */
static bool usable(const region_rt_t *r, bool v6)
{
    if (weight_of(r) == 0 || !select_region_up(r)) {
        return false;
    }
    return has_family(r, v6, false);
}

static bool all_answerable(const region_rt_t *r, bool v6)
{
    unsigned n = v6 ? r->n6 : r->n4;

    for (unsigned i = 0; i < n; i++) {
        if (!select_member_ok(r, v6, i, false)) {
            return false;
        }
    }
    return true;
}

/* A checked region while gslbd waits for the healthd it knew before a
 * restart (its members may look up only because nobody has said otherwise),
 * or with a member whose state is held without a quorum (its vantages fell
 * silent, abstain or disagree): what it is now may not last. */
static bool unsure(const region_rt_t *r)
{
    if (!r->checked) {
        return false;
    }
    return (r->waiting != NULL && atomic_load(r->waiting)) || select_members_held(r) > 0;
}

unsigned select_members_held(const region_rt_t *r)
{
    unsigned held = 0;

    for (unsigned i = 0; i < (unsigned)r->n4 + r->n6; i++) {
        const healthdb_slot_t *s = select_member_slot(r, i);
        held += s != NULL && atomic_load_explicit(&s->held, memory_order_relaxed);
    }
    return held;
}

unsigned select_region_status_slow(const region_rt_t *r)
{
    unsigned bits =
        (usable(r, false) ? REGION_USABLE4 : 0) | (usable(r, true) ? REGION_USABLE6 : 0) |
        (all_answerable(r, false) ? REGION_ALL4 : 0) | (all_answerable(r, true) ? REGION_ALL6 : 0);

    /* The inline common case (select_regions) tests one bit; an unsure region
     * goes the long way, which answers it with min_ttl. So does one shedding
     * load, whose choice is keyed on the client's network (shed.h), but with
     * the service's TTL: it is not failing over. */
    if (unsure(r)) {
        return bits | REGION_UNSURE;
    }
    if (healthdb_shed_thr(r->slot) != 0) {
        return bits;
    }
    return bits | (bits & REGION_USABLE4 ? REGION_FAST4 : 0) |
           (bits & REGION_USABLE6 ? REGION_FAST6 : 0);
}

/* Eligibility by pass: 0 strict (usable(), from the status cache), 1
 * ignoring health, 2 ignoring weight too. */
static bool eligible(const region_rt_t *r, bool v6, int pass)
{
    if (pass == 0) {
        return (select_region_status(r) & (v6 ? REGION_USABLE6 : REGION_USABLE4)) != 0;
    }
    return (pass >= 2 || weight_of(r) > 0) && has_family(r, v6, true);
}

static select_why_t reason(const region_rt_t *r, bool v6)
{
    if (!has_family(r, v6, true)) {
        return SELECT_NO_FAMILY;
    }
    if (weight_of(r) == 0) {
        return SELECT_DRAINED;
    }
    return select_region_up(r) && has_family(r, v6, false) ? SELECT_NOT_NEEDED : SELECT_DOWN;
}

/* splitmix64's finaliser: every input bit moves every output bit. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t select_client_key(bool v6, const uint8_t *addr, unsigned prefix)
{
    uint64_t hi, lo;

    geo_addr_words_any(v6, addr, &hi, &lo);
    if (!v6 && prefix > 32) {
        prefix = 32;
    }
    if (prefix <= 64) {
        hi = prefix == 0 ? 0 : hi & ~0ull << (64 - prefix);
        lo = 0;
    } else if (prefix < 128) {
        lo &= ~0ull << (128 - prefix);
    }
    return mix64(hi ^ mix64(lo ^ ((uint64_t)prefix << 1 | v6)));
}

uint64_t select_region_key(const char *name)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a, then mixed */

    for (; *name != '\0'; name++) {
        h = (h ^ (unsigned char)*name) * 1099511628211ull;
    }
    return mix64(h);
}

double select_hrw_score(uint64_t client, uint64_t region, unsigned weight)
{
    if (weight == 0) {
        return 0;
    }
    /* 53 bits of the hash as u in (0, 1): never 0 (log) nor 1 (division). */
    double u = ((double)(mix64(client ^ region) >> 11) + 0.5) * 0x1p-53;
    return weight / -log(u);
}

/* Pick one of `cand` (positions in order->e) by weighted rendezvous hashing
 * (select.h): the highest score for this client. */
static unsigned pick_weighted(const svc_rt_t *svc, const geo_list_t *order, const uint16_t *cand,
                              unsigned n, uint64_t key)
{
    unsigned best = 0;
    double top = 0;

    for (unsigned i = 0; i < n; i++) {
        const region_rt_t *r = svc->regions[order->e[cand[i]].region];
        double score = select_hrw_score(key, r->hrw, weight_of(r));
        if (score > top) {
            top = score;
            best = i;
        }
    }
    return best;
}

/* Nearest: the first eligible region, or, with spread_km, one of those
 * within spread_km of it, in proportion to weight. */
static unsigned first_choice(const svc_rt_t *svc, const geo_list_t *order, uint16_t *elig,
                             unsigned n, uint64_t key)
{
    float km0 = order->e[elig[0]].km;
    unsigned near = 1;

    if (svc->policy == POLICY_WEIGHTED) {
        return pick_weighted(svc, order, elig, n, key);
    }
    if (svc->policy != POLICY_NEAREST || svc->spread_km <= 0 || km0 < 0) {
        return 0;
    }
    while (near < n && order->e[elig[near]].km >= 0 &&
           order->e[elig[near]].km <= km0 + svc->spread_km) {
        near++;
    }
    return near > 1 ? pick_weighted(svc, order, elig, near, key) : 0;
}

/* Nothing is up: what on_all_down says. Returns true when it settled the
 * answer (fallback, NODATA, SERVFAIL), false to fail open. */
static bool all_down(const svc_rt_t *svc, bool v6, select_t *out)
{
    switch (svc->on_all_down) {
    case ALL_DOWN_FALLBACK:
        if (has_family(svc->regions[svc->fallback], v6, true)) {
            out->region[out->n++] = svc->fallback;
        }
        out->failed_open = true; /* answer its addresses whatever their health */
        out->mode = SELECT_MODE_FALLBACK;
        return true;
    case ALL_DOWN_NODATA:
        out->mode = SELECT_MODE_NODATA;
        return true;
    case ALL_DOWN_SERVFAIL:
        out->mode = SELECT_MODE_SERVFAIL;
        return true;
    default:
        return false;
    }
}

/* The common case, nearest or failover without spread: the first `answers`
 * eligible regions of the order, looking no further. Returns false when none
 * is eligible (the caller then fails over, or open). */
static bool select_first(const svc_rt_t *svc, const geo_list_t *order, bool v6, select_t *out,
                         uint8_t *why)
{
    for (unsigned i = 0; i < order->n && out->n < svc->answers && out->n < SELECT_MAX; i++) {
        const region_rt_t *r = svc->regions[order->e[i].region];
        if (eligible(r, v6, 0)) {
            out->region[out->n++] = order->e[i].region;
            if (why != NULL) {
                why[i] = SELECT_CHOSEN;
            }
        } else if (out->n == 0 && !out->degraded) {
            out->degraded = reason(r, v6) == SELECT_DOWN; /* failing over */
        }
    }
    return out->n > 0;
}

/* Everything but the common case: weighted and spread choices, failing
 * over past the order's eligible regions, failing open, on_all_down. Kept
 * out of line so the common case does not pay for its frame. */
static void __attribute__((noinline))
select_slow(const svc_rt_t *svc, const geo_list_t *order, bool v6, uint64_t key, select_t *out,
            uint8_t *why)
{
    uint16_t elig[ZONE_SERVICE_REGIONS_MAX]; /* order->n is at most this (zone.h) */
    unsigned n = 0;
    int pass;

    for (pass = 0; pass < 3 && n == 0; pass++) {
        if (pass == 1) {
            bool any_family = false; /* down, as opposed to drained or IPv4-only */
            for (unsigned i = 0; i < order->n && !any_family; i++) {
                const region_rt_t *r = svc->regions[order->e[i].region];
                any_family = weight_of(r) > 0 && has_family(r, v6, true);
            }
            out->degraded = true;
            if (any_family && all_down(svc, v6, out)) {
                return;
            }
            out->failed_open = true;
            out->mode = SELECT_MODE_OPEN;
        }
        for (unsigned i = 0; i < order->n; i++) {
            if (eligible(svc->regions[order->e[i].region], v6, pass)) {
                elig[n++] = (uint16_t)i;
            }
        }
    }
    /* Failing over: a region ahead of the first eligible one is down. */
    for (unsigned i = 0; n > 0 && i < elig[0] && !out->degraded; i++) {
        out->degraded = reason(svc->regions[order->e[i].region], v6) == SELECT_DOWN;
    }
    while (n > 0 && out->n < svc->answers && out->n < SELECT_MAX) {
        unsigned k = out->n == 0 || svc->policy == POLICY_WEIGHTED
                         ? first_choice(svc, order, elig, n, key)
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

uint32_t select_shed_rank(uint64_t client, uint64_t region)
{
    /* Salted: independent of the rendezvous score, which a weighted
     * service's clients of a region are biased in (they won on it). */
    return (uint32_t)(mix64(client ^ mix64(region ^ 0x736865642d72616eull)) >> 32);
}

/* Where a shed client goes: the first region of its order that is eligible
 * and has room, or for a weighted service the one of those with the highest
 * rendezvous score, so shed clients spread by weight. order->n: none. */
static unsigned shed_target(const svc_rt_t *svc, const geo_list_t *order, bool v6, uint64_t key,
                            uint16_t from)
{
    unsigned best = order->n;
    double top = 0;

    for (unsigned i = 0; i < order->n; i++) {
        const region_rt_t *r = svc->regions[order->e[i].region];
        if (order->e[i].region == from || !eligible(r, v6, 0) || !healthdb_shed_room(r->slot)) {
            continue;
        }
        if (svc->policy != POLICY_WEIGHTED) {
            return i;
        }
        double score = select_hrw_score(key, r->hrw, weight_of(r));
        if (score > top) {
            top = score;
            best = i;
        }
    }
    return best;
}

/* Load shedding (shed.h): a client whose first region sheds, and whose
 * rank for it is below the shed share, gets shed_target() instead. None
 * with room: it stays. */
static void shed(const svc_rt_t *svc, const geo_list_t *order, bool v6, uint64_t key, select_t *out,
                 uint8_t *why)
{
    uint16_t from = out->region[0];
    uint32_t thr = healthdb_shed_thr(svc->regions[from]->slot);

    if (thr == 0 || select_shed_rank(key, svc->regions[from]->hrw) >= thr) {
        return;
    }
    unsigned t = shed_target(svc, order, v6, key, from);
    if (t == order->n) {
        return;
    }
    uint16_t to = order->e[t].region;
    unsigned j = 1;
    while (j < out->n && out->region[j] != to) {
        j++;
    }
    if (j < out->n) { /* answered already: it goes first, the shed region where it was */
        out->region[j] = from;
    } else if (why != NULL) {
        for (unsigned k = 0; k < order->n; k++) {
            if (order->e[k].region == from) {
                why[k] = out->n == 1 ? SELECT_SHED : why[k];
            }
        }
        why[t] = SELECT_CHOSEN;
    }
    out->shed_from = from;
    out->region[0] = to;
    out->shed = true;
    out->mode = SELECT_MODE_SHED;
}

/* An answer from a region whose health is not known for sure yet is not to be
 * cached for long. */
static void mark_unsure(const svc_rt_t *svc, select_t *out)
{
    for (unsigned i = 0; i < out->n && !out->degraded; i++) {
        out->degraded = (select_region_status(svc->regions[out->region[i]]) & REGION_UNSURE) != 0;
    }
}

/* An answer by health whose client's first region is down or drained (not
 * merely without the family asked): failing over. */
static void mark_failover(const svc_rt_t *svc, const geo_list_t *order, bool v6, select_t *out)
{
    if (out->mode == SELECT_MODE_HEALTH && out->n > 0 && order->n > 0) {
        const region_rt_t *first = svc->regions[order->e[0].region];
        if (!eligible(first, v6, 0) && has_family(first, v6, true)) {
            out->mode = SELECT_MODE_FAILOVER;
        }
    }
}

void select_regions_all(const svc_rt_t *svc, const geo_list_t *order, bool v6, uint64_t key,
                        select_t *out, uint8_t *why)
{
    out->n = 0;
    out->failed_open = out->degraded = out->shed = false;
    out->mode = SELECT_MODE_HEALTH;
    if (why != NULL) {
        for (unsigned i = 0; i < order->n; i++) {
            why[i] = (uint8_t)reason(svc->regions[order->e[i].region], v6);
        }
    }
    if (svc_is_plain(svc)) {
        if (select_first(svc, order, v6, out, why)) {
            mark_unsure(svc, out);
            mark_failover(svc, order, v6, out);
            shed(svc, order, v6, key, out, why);
            return;
        }
        out->degraded = false;
    }
    select_slow(svc, order, v6, key, out, why);
    mark_unsure(svc, out);
    mark_failover(svc, order, v6, out);
    if (out->n > 0 && !out->failed_open) {
        shed(svc, order, v6, key, out, why);
    }
}

svc_state_t select_service_state(const svc_rt_t *svc, bool v6)
{
    bool any_family = false, drained_family = false;

    for (unsigned i = 0; i < svc->n_regions; i++) {
        const region_rt_t *r = svc->regions[i];
        if (usable(r, v6)) {
            return SVC_STATE_OK;
        }
        if (has_family(r, v6, true)) {
            any_family |= weight_of(r) > 0;
            drained_family |= weight_of(r) == 0;
        }
    }
    if (!any_family) {
        /* Pass 2 of select_slow(): drained regions answer; without any region
         * of the family the service simply has no such address. */
        return drained_family ? SVC_STATE_DRAINED : SVC_STATE_OK;
    }
    switch (svc->on_all_down) {
    case ALL_DOWN_FALLBACK:
        return SVC_STATE_FALLBACK;
    case ALL_DOWN_NODATA:
        return SVC_STATE_NODATA;
    case ALL_DOWN_SERVFAIL:
        return SVC_STATE_SERVFAIL;
    default:
        return SVC_STATE_OPEN;
    }
}
