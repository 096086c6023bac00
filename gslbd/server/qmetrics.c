/*
 * qmetrics: the query path's counters for /metrics; see qmetrics.h.
 */
#include "gslbd/server/qmetrics.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "gslbd/engine/qstats.h"

static const char *const transports[2] = {"udp", "tcp"};
static const char *const families[2] = {"ipv4", "ipv6"};

/* The answer modes' label values, per select_mode_t. */
static const char *const modes[SELECT_MODES] = {
    [SELECT_MODE_HEALTH] = "health",     [SELECT_MODE_FAILOVER] = "failover",
    [SELECT_MODE_OPEN] = "failing_open", [SELECT_MODE_FALLBACK] = "fallback",
    [SELECT_MODE_NODATA] = "nodata",     [SELECT_MODE_SERVFAIL] = "servfail",
    [SELECT_MODE_SHED] = "shed",
};

/* One transport and family's queries of one type, by rcode: the named
 * codes each, the rest as "other"; the slot of no reply is not a query
 * answered. */
static void write_qtype(prom_t *p, const qstats_flow_t *f, unsigned t, unsigned fam, unsigned slot)
{
    const char *qtype = qstats_qtype_name(slot);
    uint64_t other = 0;

    for (unsigned rc = 0; rc < QSTATS_RCODES; rc++) {
        uint64_t n = qstats_get(&f->queries[slot * QSTATS_RCODES + rc]);
        const char *name = qstats_rcode_name(rc);
        if (rc == QSTATS_RCODES - 1 || n == 0) {
            continue;
        }
        if (name == NULL) {
            other += n;
            continue;
        }
        prom_u64(p, "gslb_queries_total", n, "transport", transports[t], "family", families[fam],
                 "qtype", qtype, "rcode", name, NULL);
    }
    if (other != 0) {
        prom_u64(p, "gslb_queries_total", other, "transport", transports[t], "family",
                 families[fam], "qtype", qtype, "rcode", "other", NULL);
    }
}

static void write_queries(prom_t *p, const qstats_sum_t *sum)
{
    prom_family(p, "gslb_queries_total", PROM_COUNTER,
                "DNS queries answered, by transport, client address family, query type and "
                "response code (a series appears once counted).");
    for (unsigned t = 0; t < 2; t++) {
        for (unsigned fam = 0; fam < 2; fam++) {
            for (unsigned slot = 0; slot < QSTATS_QTYPES; slot++) {
                write_qtype(p, &sum->flow[t][fam], t, fam, slot);
            }
        }
    }
}

/* A counter of each flow summed over the families, per transport, for
 * each reason: `at` picks the counter of reason r out of a flow. */
static void write_reasons(prom_t *p, const char *name, const qstats_sum_t *sum, unsigned n,
                          const char *(*reason)(unsigned r),
                          const _Atomic uint64_t *(*at)(const qstats_flow_t *f, unsigned r))
{
    for (unsigned t = 0; t < 2; t++) {
        for (unsigned r = 0; r < n; r++) {
            uint64_t v = qstats_get(at(&sum->flow[t][0], r)) + qstats_get(at(&sum->flow[t][1], r));
            prom_u64(p, name, v, "transport", transports[t], "reason", reason(r), NULL);
        }
    }
}

static const char *malformed_name(unsigned r)
{
    return qstats_malformed_name((qstats_malformed_t)r);
}

static const char *drop_name(unsigned r)
{
    return qstats_drop_name((qstats_drop_t)r);
}

static const _Atomic uint64_t *malformed_at(const qstats_flow_t *f, unsigned r)
{
    return &f->malformed[r];
}

static const _Atomic uint64_t *dropped_at(const qstats_flow_t *f, unsigned r)
{
    return &f->dropped[r];
}

/* A flow counter summed over both transports and families. */
static uint64_t total_of(const qstats_sum_t *sum, size_t offset)
{
    uint64_t n = 0;

    for (unsigned t = 0; t < 2; t++) {
        for (unsigned fam = 0; fam < 2; fam++) {
            n += qstats_get((const _Atomic uint64_t *)((const char *)&sum->flow[t][fam] + offset));
        }
    }
    return n;
}

static void write_errors(prom_t *p, const qstats_sum_t *sum)
{
    prom_family(p, "gslb_queries_malformed_total", PROM_COUNTER,
                "Queries answered with an error for their form: formerr (malformed), notimp "
                "(an opcode other than QUERY), badvers (an EDNS version other than 0), badkey "
                "(signed with TSIG: no keys are held).");
    write_reasons(p, "gslb_queries_malformed_total", sum, QSTATS_MAL_REASONS, malformed_name,
                  malformed_at);
    prom_family(p, "gslb_queries_dropped_total", PROM_COUNTER,
                "Queries given no reply at all: response (QR set), short (less than a header), "
                "too_large (beyond what is read), rate_limited (dropped by response rate "
                "limiting).");
    write_reasons(p, "gslb_queries_dropped_total", sum, QSTATS_DROP_REASONS, drop_name, dropped_at);
    prom_family(p, "gslb_responses_truncated_total", PROM_COUNTER,
                "Responses sent truncated (TC) because they did not fit the client's limit "
                "(rate limiting's slips are in gslb_rrl_responses_total).");
    for (unsigned t = 0; t < 2; t++) {
        uint64_t n =
            qstats_get(&sum->flow[t][0].truncated) + qstats_get(&sum->flow[t][1].truncated);
        prom_u64(p, "gslb_responses_truncated_total", n, "transport", transports[t], NULL);
    }
    prom_family(p, "gslb_rrl_responses_total", PROM_COUNTER,
                "Responses over their rate limit: dropped, or slipped (sent truncated, or "
                "BADCOOKIE to a client with a cookie).");
    prom_u64(p, "gslb_rrl_responses_total", total_of(sum, offsetof(qstats_flow_t, rrl_dropped)),
             "action", "dropped", NULL);
    prom_u64(p, "gslb_rrl_responses_total", total_of(sum, offsetof(qstats_flow_t, rrl_slipped)),
             "action", "slipped", NULL);
}

/* ECS by the option's family: every query with one, and the scope the
 * replies that echoed it held for. */
static void write_ecs(prom_t *p, const qstats_sum_t *sum)
{
    uint64_t ecs[2][QSTATS_ECS_SLOTS] = {{0}};

    for (unsigned t = 0; t < 2; t++) {
        for (unsigned fam = 0; fam < 2; fam++) {
            for (unsigned e = 0; e < 2; e++) {
                for (unsigned sc = 0; sc < QSTATS_ECS_SLOTS; sc++) {
                    ecs[e][sc] += qstats_get(&sum->flow[t][fam].ecs[qstats_ecs(e + 1, sc)]);
                }
            }
        }
    }
    prom_family(p, "gslb_ecs_queries_total", PROM_COUNTER,
                "Queries with a valid EDNS Client Subnet option, by the option's address "
                "family.");
    for (unsigned e = 0; e < 2; e++) {
        uint64_t n = 0;
        for (unsigned sc = 0; sc < QSTATS_ECS_SLOTS; sc++) {
            n += ecs[e][sc];
        }
        prom_u64(p, "gslb_ecs_queries_total", n, "family", families[e], NULL);
    }
    prom_family(p, "gslb_ecs_responses_total", PROM_COUNTER,
                "Responses that echoed the EDNS Client Subnet option, by its family and the "
                "scope prefix length they hold for (a series appears once counted).");
    for (unsigned e = 0; e < 2; e++) {
        for (unsigned sc = 0; sc < QSTATS_ECS_UNANSWERED; sc++) {
            if (ecs[e][sc] != 0) {
                char scope[8];
                snprintf(scope, sizeof(scope), "%u", sc);
                prom_u64(p, "gslb_ecs_responses_total", ecs[e][sc], "family", families[e], "scope",
                         scope, NULL);
            }
        }
    }
}

static void write_tcp(prom_t *p, const qstats_sum_t *sum)
{
    uint64_t closed = 0;

    for (unsigned r = 0; r < QSTATS_CLOSE_REASONS; r++) {
        closed += sum->tcp_closed[r];
    }
    prom_family(p, "gslb_tcp_connections_open", PROM_GAUGE, "TCP connections open now.");
    prom_u64(p, "gslb_tcp_connections_open",
             sum->tcp_accepted > closed ? sum->tcp_accepted - closed : 0, NULL);
    prom_family(p, "gslb_tcp_connections_accepted_total", PROM_COUNTER,
                "TCP connections accepted.");
    prom_u64(p, "gslb_tcp_connections_accepted_total", sum->tcp_accepted, NULL);
    prom_family(p, "gslb_tcp_connections_closed_total", PROM_COUNTER,
                "TCP connections closed: by the client, idle past the timeout, evicted to make "
                "room at the cap, after an error, or at shutdown.");
    for (unsigned r = 0; r < QSTATS_CLOSE_REASONS; r++) {
        prom_u64(p, "gslb_tcp_connections_closed_total", sum->tcp_closed[r], "reason",
                 qstats_close_name((qstats_close_t)r), NULL);
    }
}

/* Each service's answers per region, then per mode: two families, so two
 * passes over the services. */
static void write_services(prom_t *p, stats_t *st, const snapshot_t *snap, uint64_t now_ms)
{
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) {
            prom_family(p, "gslb_service_region_answers_total", PROM_COUNTER,
                        "Answers of each service that held each region, since gslbd started "
                        "(across reloads): the traffic share.");
        } else {
            prom_family(p, "gslb_service_answers_total", PROM_COUNTER,
                        "Answers of each service by how they were chosen: health, failover "
                        "(the client's first region down or drained), failing_open, fallback, "
                        "nodata, servfail (no region up).");
        }
        for (size_t z = 0; snap != NULL && z < snap->n_zones; z++) {
            const zone_rt_t *zr = &snap->zones[z];
            for (size_t k = 0; k < zr->n_svcs; k++) {
                const svc_rt_t *svc = zr->svcs[k];
                uint64_t *regions = xcalloc(svc->n_regions + 1u, sizeof(*regions));
                stats_totals_t tot;
                stats_totals(st, svc, now_ms, &tot, regions);
                for (unsigned j = 0; pass == 0 && j <= svc->n_regions; j++) {
                    if ((j < svc->n_regions || regions[j] != 0) && svc->regions[j] != NULL) {
                        prom_u64(p, "gslb_service_region_answers_total", regions[j], "zone",
                                 zr->name, "service", svc->name, "region", svc->regions[j]->name,
                                 NULL);
                    }
                }
                for (unsigned m = 0; pass == 1 && m < SELECT_MODES; m++) {
                    prom_u64(p, "gslb_service_answers_total", tot.mode[m], "zone", zr->name,
                             "service", svc->name, "mode", modes[m], NULL);
                }
                free(regions);
            }
        }
    }
}

void qmetrics_write(prom_t *p, const server_t *srv, stats_t *st, const snapshot_t *snap,
                    uint64_t now_ms)
{
    qstats_sum_t *sum = xmalloc(sizeof(*sum)); /* some 40 KiB: not on the stack */
    size_t n;
    const qstats_t *const *sets = server_qstats(srv, &n);

    qstats_sum(sets, n, sum);
    write_queries(p, sum);
    write_errors(p, sum);
    write_ecs(p, sum);
    write_tcp(p, sum);
    if (st != NULL) {
        write_services(p, st, snap, now_ms);
    }
    free(sum);
}
