/*
 * qstats: per-thread query counters, their names and their sum; see
 * qstats.h. Nothing here runs per query but the table lookups the header
 * inlines.
 */
#include "gslbd/engine/qstats.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

/* The named query types in slot order (slot 0 is "other"). */
static const struct {
    uint16_t type;
    const char *name;
} qtypes[QSTATS_QTYPES] = {
    {0, "other"}, {1, "A"},    {28, "AAAA"},   {2, "NS"},    {6, "SOA"},   {5, "CNAME"},
    {15, "MX"},   {16, "TXT"}, {33, "SRV"},    {12, "PTR"},  {257, "CAA"}, {65, "HTTPS"},
    {64, "SVCB"}, {43, "DS"},  {48, "DNSKEY"}, {255, "ANY"}, {0, NULL},
};

_Static_assert(QSTATS_QTYPES == 17, "16 named types and other; the last entry is spare");

/* The slot of each type value below QSTATS_QTYPE_TABLE: written out rather
 * than built at start, so that it is constant data any thread may read. */
const uint8_t qstats_qtype_slot[QSTATS_QTYPE_TABLE] = {
    [1] = 1,  [28] = 2,   [2] = 3,   [6] = 4,   [5] = 5,   [15] = 6,  [16] = 7,   [33] = 8,
    [12] = 9, [257] = 10, [65] = 11, [64] = 12, [43] = 13, [48] = 14, [255] = 15,
};

qstats_t *qstats_new(bool tcp)
{
    size_t size = (sizeof(qstats_t) + 63) & ~(size_t)63;
    qstats_t *qs = aligned_alloc(64, size);

    if (qs == NULL) {
        alloc_fail("aligned_alloc");
    }
    memset(qs, 0, size);
    qs->tcp = tcp;
    return qs;
}

void qstats_free(qstats_t *qs)
{
    free(qs);
}

const char *qstats_qtype_name(unsigned slot)
{
    return slot < QSTATS_QTYPES && qtypes[slot].name != NULL ? qtypes[slot].name : "other";
}

const char *qstats_rcode_name(unsigned rcode)
{
    switch (rcode) {
    case 0:
        return "NOERROR";
    case 1:
        return "FORMERR";
    case 2:
        return "SERVFAIL";
    case 3:
        return "NXDOMAIN";
    case 4:
        return "NOTIMP";
    case 5:
        return "REFUSED";
    case 16:
        return "BADVERS";
    case 23:
        return "BADCOOKIE";
    default:
        return NULL;
    }
}

const char *qstats_malformed_name(qstats_malformed_t r)
{
    static const char *const names[QSTATS_MAL_REASONS] = {"formerr", "notimp", "badvers", "badkey"};

    return (unsigned)r < QSTATS_MAL_REASONS ? names[r] : "?";
}

const char *qstats_drop_name(qstats_drop_t r)
{
    static const char *const names[QSTATS_DROP_REASONS] = {"response", "short", "too_large",
                                                           "rate_limited"};

    return (unsigned)r < QSTATS_DROP_REASONS ? names[r] : "?";
}

const char *qstats_close_name(qstats_close_t r)
{
    static const char *const names[QSTATS_CLOSE_REASONS] = {"client", "idle", "evicted", "error",
                                                            "shutdown"};

    return (unsigned)r < QSTATS_CLOSE_REASONS ? names[r] : "?";
}

/* Add every counter of a flow to another, as arrays of words. */
static void flow_add(qstats_flow_t *to, const qstats_flow_t *from)
{
    _Atomic uint64_t *t = (_Atomic uint64_t *)to;
    const _Atomic uint64_t *f = (const _Atomic uint64_t *)from;

    _Static_assert(sizeof(qstats_flow_t) % sizeof(uint64_t) == 0, "a flow is only counters");
    for (size_t i = 0; i < sizeof(qstats_flow_t) / sizeof(uint64_t); i++) {
        atomic_store_explicit(&t[i], qstats_get(&t[i]) + qstats_get(&f[i]), memory_order_relaxed);
    }
}

void qstats_sum(const qstats_t *const *sets, size_t n, qstats_sum_t *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        const qstats_t *qs = sets[i];
        if (qs == NULL) {
            continue;
        }
        flow_add(&out->flow[qs->tcp][0], &qs->flow[0]);
        flow_add(&out->flow[qs->tcp][1], &qs->flow[1]);
        out->tcp_accepted += qstats_get(&qs->tcp_accepted);
        for (unsigned r = 0; r < QSTATS_CLOSE_REASONS; r++) {
            out->tcp_closed[r] += qstats_get(&qs->tcp_closed[r]);
        }
    }
}
