/*
 * Unit tests for the query counters (gslbd/engine/qstats.c) as the engine
 * counts in them (engine_reply(): answer.c, encode.c, rrl.c): queries by
 * type and response code, malformed and dropped ones by reason, truncated
 * responses, ECS queries by the option's family and the scope answered,
 * rate-limited responses; and each service's answers by mode and region
 * (select.c, stats.c), derived the way /metrics reports them. Every count
 * is exact: N queries of a kind, the counter moves by N.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gslbd/engine/engine.h"
#include "gslbd/engine/qstats.h"
#include "gslbd/engine/stats.h"
#include "zones/load.h"

/* Two regions an ocean apart, a service over them, static names, and a TXT
 * RRset too big for 512 bytes. */
static const char *zone_yaml =
    "zone: q.test\n"
    "soa: {mname: ns.q.test, rname: h.q.test}\n"
    "ns: [ns.q.test]\n"
    "records:\n"
    "  ns: {A: 192.0.2.1}\n"
    "  big: {TXT: ['a%s', 'b%s', 'c%s']}\n"
    "regions:\n"
    "  eu: {location: [53.35, -6.26], pool: [192.0.2.10, 2001:db8::10], check: c}\n"
    "  us: {location: [38.9, -77.0], pool: [192.0.2.20], check: c}\n"
    "checks: {c: {type: tcp, port: 80}}\n"
    "services:\n"
    "  www: {regions: [eu, us]}\n"
    "  nod: {regions: [eu, us], on_all_down: nodata}\n"
    "  srv: {regions: [eu, us], on_all_down: servfail}\n"
    "  fb: {regions: [eu], fallback: us}\n";

/* Where clients are: Ireland and Virginia. */
static const char *db_spec = "81.2.70.0/24      IE EU 53.35 -6.26\n"
                             "192.0.2.0/25      US NA 38.9 -77.0 VA\n"
                             "2001:db8:1::/48   IE EU 53.35 -6.26\n";

static geo_db_t *db;
static healthdb_t *health;
static snapshot_t *snap;
static qstats_t *qs;
static answer_ctx_t ctx;

static void build_db(void)
{
    char spec[] = "/tmp/gslb-qstats-spec-XXXXXX";
    char cmd[256];
    int fd = mkstemp(spec);
    diag_t errs = {0};

    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, db_spec, strlen(db_spec)), (ssize_t)strlen(db_spec));
    close(fd);
    snprintf(cmd, sizeof(cmd), "geo/build-testdb %s %s.mmdb >/dev/null", spec, spec);
    cr_assert_eq(system(cmd), 0, "geo/build-testdb failed");
    snprintf(cmd, sizeof(cmd), "%s.mmdb", spec);
    cr_assert_eq(geo_db_open(cmd, &db, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
    unlink(cmd);
    unlink(spec);
}

static void setup(void)
{
    char txt[256], yaml[2048];
    char path[] = "/tmp/gslb-test-qstats-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    zone_t *zone;
    diag_t errs = {0};

    build_db();
    memset(txt, 'x', 200);
    txt[200] = '\0';
    snprintf(yaml, sizeof(yaml), zone_yaml, txt, txt, txt);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    cr_assert_eq(zone_load(path, 0, &zone, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
    unlink(path);
    health = healthdb_new(NULL);
    cr_assert_eq(
        snapshot_build(&zone, 1, &(snapshot_env_t){.db = db, .health = health, .count_sets = 1},
                       &snap, &errs),
        0, "%s", errs.n ? errs.lines[0] : "");
    zone_free(zone);
    qs = qstats_new(false);
    ctx = (answer_ctx_t){.count_set = 1, .qflow = &qs->flow[0]};
}

static void teardown(void)
{
    snapshot_free(snap);
    healthdb_free(health);
    geo_db_free(db);
    qstats_free(qs);
}

TestSuite(qstats, .init = setup, .fini = teardown);

/* ---- queries, written by hand so that any field can be wrong ---- */

typedef struct {
    const char *name;
    uint16_t type;
    uint8_t flags2, flags3; /* header bytes 2 and 3: QR, opcode, RD; RCODE */
    bool edns;
    uint8_t version;  /* EDNS version */
    uint16_t payload; /* EDNS payload size */
    int ecs_family;   /* 0: no ECS option */
    const char *ecs_addr;
    uint8_t ecs_source;
} qspec_t;

static size_t put16(uint8_t *p, size_t at, unsigned v)
{
    p[at] = (uint8_t)(v >> 8);
    p[at + 1] = (uint8_t)v;
    return at + 2;
}

static size_t build(const qspec_t *q, uint8_t *p)
{
    size_t at = 12;

    memset(p, 0, 12);
    p[0] = 0xab;
    p[1] = 0xcd;
    p[2] = q->flags2 ? q->flags2 : 0x01;
    p[3] = q->flags3;
    put16(p, 4, 1);
    for (const char *s = q->name; *s;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        p[at++] = (uint8_t)n;
        memcpy(p + at, s, n);
        at += n;
        s += n + (dot != NULL);
    }
    p[at++] = 0;
    at = put16(p, at, q->type);
    at = put16(p, at, 1);
    if (!q->edns) {
        return at;
    }
    put16(p, 10, 1);
    p[at++] = 0; /* root */
    at = put16(p, at, 41);
    at = put16(p, at, q->payload ? q->payload : 1232);
    p[at++] = 0;
    p[at++] = q->version;
    at = put16(p, at, 0);
    size_t rdlen_at = at;
    at += 2;
    if (q->ecs_family != 0) {
        uint8_t addr[16] = {0};
        unsigned bytes = (q->ecs_source + 7u) / 8u;
        inet_pton(q->ecs_family == 1 ? AF_INET : AF_INET6, q->ecs_addr, addr);
        at = put16(p, at, 8);
        at = put16(p, at, 4 + bytes);
        at = put16(p, at, (unsigned)q->ecs_family);
        p[at++] = q->ecs_source;
        p[at++] = 0;
        memcpy(p + at, addr, bytes);
        at += bytes;
    }
    put16(p, rdlen_at, (unsigned)(at - rdlen_at - 2));
    return at;
}

/* Send query q n times; returns the last reply's length (its bytes in out). */
static size_t send_n(const qspec_t *q, unsigned n, uint8_t *out)
{
    uint8_t pkt[512];
    size_t len = build(q, pkt), r = 0;

    for (unsigned i = 0; i < n; i++) {
        r = engine_reply(&ctx, snap, NULL, pkt, len, out, false);
    }
    return r;
}

static uint64_t queries(uint16_t type, unsigned rcode)
{
    return qstats_get(&qs->flow[0].queries[qstats_counter(type, rcode)]);
}

/* The sum of every query counter: each answered query is in exactly one. */
static uint64_t all_queries(void)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < QSTATS_QTYPES * QSTATS_RCODES; i++) {
        if (i % QSTATS_RCODES != ANSWER_RCODE_NONE) {
            n += qstats_get(&qs->flow[0].queries[i]);
        }
    }
    return n;
}

Test(qstats, queries_by_type_and_response_code)
{
    uint8_t out[ENCODE_TCP_MAX];

    send_n(&(qspec_t){.name = "www.q.test", .type = 1}, 3, out);
    send_n(&(qspec_t){.name = "www.q.test", .type = 28}, 2, out);
    send_n(&(qspec_t){.name = "ns.q.test", .type = 15}, 4, out);      /* MX: NODATA */
    send_n(&(qspec_t){.name = "nope.q.test", .type = 1}, 5, out);     /* NXDOMAIN */
    send_n(&(qspec_t){.name = "www.example.org", .type = 1}, 6, out); /* not ours */
    send_n(&(qspec_t){.name = "q.test", .type = 252}, 1, out);        /* AXFR: REFUSED */
    send_n(&(qspec_t){.name = "q.test", .type = 257}, 2, out);        /* CAA */
    send_n(&(qspec_t){.name = "q.test", .type = 999}, 7, out);        /* a type not named */

    cr_expect_eq(queries(1, LDNS_RCODE_NOERROR), 3);
    cr_expect_eq(queries(28, LDNS_RCODE_NOERROR), 2);
    cr_expect_eq(queries(15, LDNS_RCODE_NOERROR), 4);
    cr_expect_eq(queries(1, LDNS_RCODE_NXDOMAIN), 5);
    cr_expect_eq(queries(1, LDNS_RCODE_REFUSED), 6);
    cr_expect_eq(queries(252, LDNS_RCODE_REFUSED), 1, "AXFR is counted as other");
    cr_expect_eq(queries(0, LDNS_RCODE_REFUSED), 1);
    cr_expect_eq(queries(257, LDNS_RCODE_NOERROR), 2);
    cr_expect_eq(queries(999, LDNS_RCODE_NOERROR), 7);
    cr_expect_eq(all_queries(), 3 + 2 + 4 + 5 + 6 + 1 + 2 + 7);
    cr_expect_eq(qstats_get(&qs->flow[1].queries[qstats_counter(1, 0)]), 0,
                 "only the flow the context names");
    cr_expect_str_eq(qstats_qtype_name(qstats_qtype(257)), "CAA");
    cr_expect_str_eq(qstats_qtype_name(qstats_qtype(999)), "other");
    cr_expect_str_eq(qstats_rcode_name(16), "BADVERS");
    cr_expect_null(qstats_rcode_name(9), "NOTAUTH is reported as other");
}

Test(qstats, malformed_and_dropped_by_reason)
{
    uint8_t out[ENCODE_TCP_MAX], pkt[512];
    qspec_t ok = {.name = "www.q.test", .type = 1};
    size_t len = build(&ok, pkt);

    /* FORMERR: the question cut short (RFC 1035 4.1.2). */
    for (int i = 0; i < 3; i++) {
        cr_assert_gt(engine_reply(&ctx, snap, NULL, pkt, len - 3, out, false), 0);
    }
    /* NOTIMP: opcode 2 (STATUS). */
    send_n(&(qspec_t){.name = "www.q.test", .type = 1, .flags2 = 2 << 3}, 2, out);
    /* BADVERS: EDNS version 1 (RFC 6891 6.1.3). */
    send_n(&(qspec_t){.name = "www.q.test", .type = 1, .edns = true, .version = 1}, 4, out);
    /* No reply: a response (QR set), and less than a header. */
    cr_assert_eq(send_n(&(qspec_t){.name = "www.q.test", .type = 1, .flags2 = 0x80}, 5, out), 0);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(engine_reply(&ctx, snap, NULL, pkt, 11, out, false), 0);
    }

    const qstats_flow_t *f = &qs->flow[0];
    cr_expect_eq(qstats_get(&f->malformed[QSTATS_MAL_FORMERR]), 3);
    cr_expect_eq(qstats_get(&f->malformed[QSTATS_MAL_NOTIMP]), 2);
    cr_expect_eq(qstats_get(&f->malformed[QSTATS_MAL_BADVERS]), 4);
    cr_expect_eq(qstats_get(&f->malformed[QSTATS_MAL_BADKEY]), 0);
    cr_expect_eq(qstats_get(&f->dropped[QSTATS_DROP_RESPONSE]), 5);
    cr_expect_eq(qstats_get(&f->dropped[QSTATS_DROP_SHORT]), 6);
    cr_expect_eq(queries(0, LDNS_RCODE_FORMERR), 3, "no question read: type other");
    cr_expect_eq(queries(1, LDNS_RCODE_NOTIMPL), 2);
    cr_expect_eq(queries(1, 16), 4, "BADVERS by its extended code");
    cr_expect_eq(all_queries(), 3 + 2 + 4, "queries with no reply are not answered ones");
}

Test(qstats, ecs_by_family_and_the_scope_answered_rfc7871_7_2_1)
{
    uint8_t out[ENCODE_TCP_MAX];
    ldns_pkt *pkt;

    /* From Ireland, placed by the option: its reply's scope is the map's prefix. */
    size_t n = send_n(&(qspec_t){.name = "www.q.test",
                                 .type = 1,
                                 .edns = true,
                                 .ecs_family = 1,
                                 .ecs_addr = "81.2.70.0",
                                 .ecs_source = 24},
                      3, out);
    cr_assert_eq(ldns_wire2pkt(&pkt, out, n), LDNS_STATUS_OK, "the reply parses");
    ldns_pkt_free(pkt);
    /* The reply ends with its OPT record, whose one option is ECS: FAMILY,
     * SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH, then the 3 bytes of a /24. */
    cr_assert_eq(out[n - 6], 1, "ECS echoed, family 1");
    cr_assert_eq(out[n - 5], 24, "source prefix echoed");
    unsigned scope = out[n - 4];
    cr_assert_gt(scope, 0, "placed by the option: a scope of the map's");
    /* IPv6 ECS to a static name: scope 0. */
    send_n(&(qspec_t){.name = "ns.q.test",
                      .type = 1,
                      .edns = true,
                      .ecs_family = 2,
                      .ecs_addr = "2001:db8:1::",
                      .ecs_source = 56},
           2, out);
    /* ECS with an extended RCODE: BADVERS echoes no ECS (RFC 7871 7.2.1). */
    send_n(&(qspec_t){.name = "www.q.test",
                      .type = 1,
                      .edns = true,
                      .version = 1,
                      .ecs_family = 1,
                      .ecs_addr = "81.2.70.0",
                      .ecs_source = 24},
           1, out);
    send_n(&(qspec_t){.name = "www.q.test", .type = 1, .edns = true}, 4, out); /* no ECS */

    const qstats_flow_t *f = &qs->flow[0];
    cr_expect_eq(qstats_get(&f->ecs[qstats_ecs(1, scope)]), 3);
    cr_expect_eq(qstats_get(&f->ecs[qstats_ecs(2, 0)]), 2);
    cr_expect_eq(qstats_get(&f->ecs[qstats_ecs(1, QSTATS_ECS_UNANSWERED)]), 1);
    uint64_t sum = 0;
    for (unsigned fam = 1; fam <= 2; fam++) {
        for (unsigned sc = 0; sc < QSTATS_ECS_SLOTS; sc++) {
            sum += qstats_get(&f->ecs[qstats_ecs(fam, sc)]);
        }
    }
    cr_expect_eq(sum, 3 + 2 + 1, "every ECS query once, the others never");
}

Test(qstats, truncation_is_counted_rfc2181_9)
{
    uint8_t out[ENCODE_TCP_MAX];

    /* Three 200-byte strings do not fit in 512 bytes: TC. */
    size_t n = send_n(&(qspec_t){.name = "big.q.test", .type = 16}, 3, out);
    cr_assert_gt(n, 0);
    cr_expect(out[2] & 0x02, "TC set");
    send_n(&(qspec_t){.name = "big.q.test", .type = 16, .edns = true}, 2, out);
    cr_expect_not(out[2] & 0x02, "fits in 1232 bytes");
    cr_expect_eq(qstats_get(&qs->flow[0].truncated), 3);
    cr_expect_eq(queries(16, LDNS_RCODE_NOERROR), 5, "truncated or not, answered NOERROR");
}

Test(qstats, rate_limited_responses_dropped_and_slipped)
{
    static _Atomic uint64_t clock_us = 1700000000ull * 1000000u;
    static const uint8_t seed[16] = {1};
    rrl_config_t cfg;
    uint8_t pkt[512], out[ENCODE_TCP_MAX];
    struct sockaddr_in from = {.sin_family = AF_INET};

    rrl_config_default(&cfg);
    cfg.rate = 1;
    cfg.slip = 2;
    cfg.n_exempt = 0;
    ctx.rrl = rrl_new(&cfg, seed, &clock_us);
    ctx.clock = &clock_us;
    inet_pton(AF_INET, "192.0.2.99", &from.sin_addr);
    size_t len = build(&(qspec_t){.name = "www.q.test", .type = 1}, pkt);
    unsigned sent = 0, tc = 0;
    for (int i = 0; i < 21; i++) {
        size_t n = engine_reply(&ctx, snap, (const struct sockaddr *)&from, pkt, len, out, false);
        sent += n != 0;
        tc += n != 0 && (out[2] & 0x02);
    }
    const qstats_flow_t *f = &qs->flow[0];
    uint64_t dropped = qstats_get(&f->rrl_dropped), slipped = qstats_get(&f->rrl_slipped);
    cr_expect_eq(slipped, tc, "every slip is a truncated reply");
    cr_expect_eq(dropped + sent, 21);
    cr_expect_gt(dropped, 0);
    cr_expect_gt(slipped, 0);
    cr_expect_eq(qstats_get(&f->dropped[QSTATS_DROP_RATE_LIMITED]), dropped);
    cr_expect_eq(queries(1, LDNS_RCODE_NOERROR), sent, "only the replies sent are answered");
    cr_expect_eq(qstats_get(&f->truncated), 0, "a slip is not a truncation for size");
    rrl_free(ctx.rrl);
    ctx.rrl = NULL;
}

/* ---- answers per service, by mode ---- */

static const svc_rt_t *service(const char *name)
{
    for (size_t k = 0; k < snap->zones[0].n_svcs; k++) {
        if (strcmp(snap->zones[0].svcs[k]->name, name) == 0) {
            return snap->zones[0].svcs[k];
        }
    }
    cr_assert_fail("no service %s", name);
    return NULL;
}

static void set_region(const char *region, const char *member, health_state_t st)
{
    int src = healthdb_source(health, "healthd");
    cr_assert_eq(healthdb_report(health, src, "q.test", region, member, st, "t", 1000), 0);
}

/* `n` A queries for `name` from Ireland (ECS): eu is its first region. */
static void ask_from_eu(const char *name, unsigned n)
{
    uint8_t out[ENCODE_TCP_MAX];
    char fq[64];

    snprintf(fq, sizeof(fq), "%s.q.test", name);
    send_n(&(qspec_t){.name = fq,
                      .type = 1,
                      .edns = true,
                      .ecs_family = 1,
                      .ecs_addr = "81.2.70.0",
                      .ecs_source = 24},
           n, out);
}

static void expect_modes(stats_t *st, uint64_t now, const char *name, const uint64_t *want,
                         uint64_t eu, uint64_t us)
{
    const svc_rt_t *svc = service(name);
    uint64_t regions[3] = {0};
    stats_totals_t tot;

    stats_totals(st, svc, now, &tot, regions);
    for (unsigned m = 0; m < SELECT_MODES; m++) {
        cr_expect_eq(tot.mode[m], want[m], "%s: mode %u: %llu, want %llu", name, m,
                     (unsigned long long)tot.mode[m], (unsigned long long)want[m]);
    }
    cr_expect_eq(regions[0], eu, "%s: eu", name);
    cr_expect_eq(regions[1], us, "%s: us", name);
}

Test(qstats, answers_per_service_by_mode_and_region)
{
    stats_t *st = stats_new(0);

    stats_track(st, snap);
    ask_from_eu("www", 4);
    /* eu down: Ireland fails over to us. */
    set_region("eu", "192.0.2.10", HEALTH_DOWN);
    set_region("eu", "2001:db8::10", HEALTH_DOWN);
    ask_from_eu("www", 3);
    /* Every region down: open, nodata, servfail, fallback. */
    set_region("us", "192.0.2.20", HEALTH_DOWN);
    ask_from_eu("www", 2);
    ask_from_eu("nod", 5);
    ask_from_eu("srv", 6);
    ask_from_eu("fb", 7);

    /* Failing open, Ireland's nearest region answers whatever its health. */
    expect_modes(st, 1000, "www", (uint64_t[SELECT_MODES]){4, 3, 2, 0, 0, 0}, 4 + 2, 3);
    expect_modes(st, 1000, "nod", (uint64_t[SELECT_MODES]){0, 0, 0, 0, 5, 0}, 0, 0);
    expect_modes(st, 1000, "srv", (uint64_t[SELECT_MODES]){0, 0, 0, 0, 0, 6}, 0, 0);
    const svc_rt_t *fb = service("fb");
    uint64_t regions[2] = {0};
    stats_totals_t tot;
    stats_totals(st, fb, 1000, &tot, regions);
    cr_expect_eq(tot.mode[SELECT_MODE_FALLBACK], 7);
    cr_expect_eq(tot.answers, 7);
    cr_expect_eq(regions[1], 7, "the fallback outside the list has the last position");
    cr_expect_eq(queries(1, LDNS_RCODE_SERVFAIL), 6);

    /* A drained first region is failed over too; us is back. */
    set_region("us", "192.0.2.20", HEALTH_UP);
    set_region("eu", "192.0.2.10", HEALTH_UP);
    cr_assert_gt(healthdb_override(health, NULL, "eu", NULL, HEALTH_OV_DRAIN, NULL), 0);
    ask_from_eu("www", 1);
    expect_modes(st, 2000, "www", (uint64_t[SELECT_MODES]){4, 4, 2, 0, 0, 0}, 4 + 2, 3 + 1);
    stats_free(st);
}

Test(qstats, answers_by_health_never_go_back)
{
    stats_t *st = stats_new(0);
    const svc_rt_t *svc = service("www");
    uint64_t regions[3];
    stats_totals_t tot;

    stats_track(st, snap);
    ask_from_eu("www", 5);
    stats_totals(st, svc, 1000, &tot, regions);
    cr_expect_eq(tot.mode[SELECT_MODE_HEALTH], 5);
    /* A scrape that reads a thread's counters between the two additions of
     * one answer failed over: its mode counted, its region not yet. */
    qstats_add(&snap->count_sets[1][svc->count_base + SVC_COUNT_MODE(svc, SELECT_MODE_FAILOVER)],
               1);
    stats_totals(st, svc, 2000, &tot, regions);
    cr_expect_eq(tot.mode[SELECT_MODE_HEALTH], 5, "held, not 4: a counter does not go back");
    cr_expect_eq(tot.mode[SELECT_MODE_FAILOVER], 1);
    qstats_add(&snap->count_sets[1][svc->count_base + 1], 1); /* its region, us */
    stats_totals(st, svc, 3000, &tot, regions);
    cr_expect_eq(tot.mode[SELECT_MODE_HEALTH], 5);
    cr_expect_eq(tot.answers, 6);
    stats_free(st);
}
