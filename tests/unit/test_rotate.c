/*
 * Unit tests for round robin inside a region (encode.c's rotation over a
 * region's answerable members) and regions.NAME.max_addrs: zones from YAML
 * through the real loader and snapshot, queries through engine_reply(), the
 * order of the address records read back from the wire.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gslbd/engine/engine.h"
#include "tests/unit/fixture.h"

static qstats_flow_t rot_counts;

/* A zone: region `four` has four IPv4 and two IPv6 addresses, `one` a
 * single one of each; `www` answers from `four`, `both` from the two at
 * once (answers: 2). max_addrs is spliced in (empty: none). */
static const char *zone_text(char *buf, size_t size, const char *four_extra)
{
    snprintf(buf, size,
             "zone: rot.test\n"
             "soa: {mname: ns1.rot.test, rname: hostmaster.rot.test, serial: 1}\n"
             "ns: [ns1.rot.test]\n"
             "records:\n"
             "  ns1: {A: [192.0.2.53]}\n"
             "regions:\n"
             "  four: {location: [0, 0], pool: [192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4,"
             " \"2001:db8::1\", \"2001:db8::2\"]%s}\n"
             "  one: {location: [10, 10], pool: [198.51.100.1, \"2001:db8:1::1\"]}\n"
             "services:\n"
             "  www: {regions: [four], policy: failover, ttl: 30}\n"
             "  both: {regions: [four, one], policy: failover, answers: 2, ttl: 30}\n",
             four_extra);
    return buf;
}

static fixture_t load(const char *four_extra)
{
    char text[2048];

    return fixture_load(zone_text(text, sizeof(text), four_extra), 1);
}

/* Ask and write the answer's addresses, space separated, into `got`. The
 * context is the caller's: its count set is its rotation state. */
static unsigned ask(answer_ctx_t *ctx, const fixture_t *fx, const char *name, ldns_rr_type type,
                    char *got, size_t size)
{
    ldns_pkt *q = ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, LDNS_RR_CLASS_IN, 0);
    uint8_t *wire, reply[ENCODE_TCP_MAX];
    size_t qlen, o = 0;
    ldns_pkt *p;

    cr_assert_eq(ldns_pkt2wire(&wire, q, &qlen), LDNS_STATUS_OK);
    size_t n = engine_reply(ctx, fx->s, NULL, wire, qlen, reply, true);
    free(wire);
    ldns_pkt_free(q);
    cr_assert_eq(ldns_wire2pkt(&p, reply, n), LDNS_STATUS_OK);
    ldns_rr_list *an = ldns_pkt_answer(p);
    got[0] = '\0';
    for (size_t i = 0; i < ldns_rr_list_rr_count(an) && o < size; i++) {
        char *a = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(an, i), 0));
        o += (size_t)snprintf(got + o, size - o, "%s%s", i ? " " : "", a);
        free(a);
    }
    unsigned count = (unsigned)ldns_rr_list_rr_count(an);
    ldns_pkt_free(p);
    return count;
}

static answer_ctx_t thread_ctx(unsigned set)
{
    return (answer_ctx_t){.qflow = &rot_counts, .count_set = set};
}

/* Each answer starts one further on in the listed order, wrapping. */
Test(rotate, each_answer_starts_one_further_on)
{
    fixture_t fx = load("");
    answer_ctx_t ctx = thread_ctx(1);
    static const char *const want[] = {
        "192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4", "192.0.2.2 192.0.2.3 192.0.2.4 192.0.2.1",
        "192.0.2.3 192.0.2.4 192.0.2.1 192.0.2.2", "192.0.2.4 192.0.2.1 192.0.2.2 192.0.2.3",
        "192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4",
    };
    char got[256];

    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_assert_eq(ask(&ctx, &fx, "www.rot.test", LDNS_RR_TYPE_A, got, sizeof(got)), 4);
        cr_expect_str_eq(got, want[i], "answer %u", i);
    }
    fixture_free(&fx);
}

/* A and AAAA keep counters of their own: a resolver asking both in turn
 * still sees each family rotate one step per answer of that family. */
Test(rotate, a_and_aaaa_rotate_independently)
{
    fixture_t fx = load("");
    answer_ctx_t ctx = thread_ctx(1);
    static const char *const want4[] = {"192.0.2.1", "192.0.2.2", "192.0.2.3"};
    static const char *const want6[] = {"2001:db8::1", "2001:db8::2", "2001:db8::1"};
    char got[256];

    for (unsigned i = 0; i < 3; i++) {
        ask(&ctx, &fx, "www.rot.test", LDNS_RR_TYPE_A, got, sizeof(got));
        cr_expect(strncmp(got, want4[i], strlen(want4[i])) == 0, "A %u: %s", i, got);
        ask(&ctx, &fx, "www.rot.test", LDNS_RR_TYPE_AAAA, got, sizeof(got));
        cr_expect(strncmp(got, want6[i], strlen(want6[i])) == 0, "AAAA %u: %s", i, got);
    }
    fixture_free(&fx);
}

/* Each thread's count set holds its own counters: one thread's answers do
 * not move another's rotation. */
Test(rotate, threads_rotate_apart)
{
    fixture_t fx = load("");
    answer_ctx_t t1 = thread_ctx(1), t0 = thread_ctx(0);
    char got[256];

    ask(&t1, &fx, "www.rot.test", LDNS_RR_TYPE_A, got, sizeof(got));
    ask(&t1, &fx, "www.rot.test", LDNS_RR_TYPE_A, got, sizeof(got));
    cr_expect_str_eq(got, "192.0.2.2 192.0.2.3 192.0.2.4 192.0.2.1");
    ask(&t0, &fx, "www.rot.test", LDNS_RR_TYPE_A, got, sizeof(got));
    cr_expect_str_eq(got, "192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4", "the other set starts at 0");
    ask(&t1, &fx, "www.rot.test", LDNS_RR_TYPE_A, got, sizeof(got));
    cr_expect_str_eq(got, "192.0.2.3 192.0.2.4 192.0.2.1 192.0.2.2");
    fixture_free(&fx);
}

/* max_addrs k: k consecutive members from the rotation's start, so over
 * as many answers as members each is first once and answered k times. */
Test(rotate, max_addrs_caps_and_rotates_which)
{
    static const struct {
        const char *extra;
        ldns_rr_type type;
        const char *want[5];
    } cases[] = {
        {", max_addrs: 2",
         LDNS_RR_TYPE_A,
         {"192.0.2.1 192.0.2.2", "192.0.2.2 192.0.2.3", "192.0.2.3 192.0.2.4",
          "192.0.2.4 192.0.2.1", "192.0.2.1 192.0.2.2"}},
        {", max_addrs: 1",
         LDNS_RR_TYPE_A,
         {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.1"}},
        /* Per family: two IPv6 addresses, so a cap of 3 leaves both. */
        {", max_addrs: 3",
         LDNS_RR_TYPE_AAAA,
         {"2001:db8::1 2001:db8::2", "2001:db8::2 2001:db8::1", "2001:db8::1 2001:db8::2",
          "2001:db8::2 2001:db8::1", "2001:db8::1 2001:db8::2"}},
        {", max_addrs: 4",
         LDNS_RR_TYPE_A,
         {"192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4", "192.0.2.2 192.0.2.3 192.0.2.4 192.0.2.1",
          "192.0.2.3 192.0.2.4 192.0.2.1 192.0.2.2", "192.0.2.4 192.0.2.1 192.0.2.2 192.0.2.3",
          "192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4"}},
    };
    char got[256];

    for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        fixture_t fx = load(cases[c].extra);
        answer_ctx_t ctx = thread_ctx(1);
        for (unsigned i = 0; i < 5; i++) {
            ask(&ctx, &fx, "www.rot.test", cases[c].type, got, sizeof(got));
            cr_expect_str_eq(got, cases[c].want[i], "%s, answer %u", cases[c].extra, i);
        }
        fixture_free(&fx);
    }
}

/* Rotation is over the members answered: with one down, the three left
 * are each first once in three answers, the down one never answered. */
Test(rotate, over_the_answered_members_only)
{
    fixture_t fx = load(", max_addrs: 2");
    answer_ctx_t ctx = thread_ctx(1);
    int src = healthdb_source(fx.h, "healthd");
    static const char *const want[] = {"192.0.2.1 192.0.2.3", "192.0.2.3 192.0.2.4",
                                       "192.0.2.4 192.0.2.1", "192.0.2.1 192.0.2.3"};
    char got[256];

    cr_assert_eq(
        healthdb_report(fx.h, src, "rot.test", "four", "192.0.2.2", HEALTH_DOWN, "refused", 1000),
        0);
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ask(&ctx, &fx, "www.rot.test", LDNS_RR_TYPE_A, got, sizeof(got));
        cr_expect_str_eq(got, want[i], "answer %u", i);
    }
    /* Back up: four members again; the counter (3 by now) is within them. */
    healthdb_report(fx.h, src, "rot.test", "four", "192.0.2.2", HEALTH_UP, "ok", 2000);
    ask(&ctx, &fx, "www.rot.test", LDNS_RR_TYPE_A, got, sizeof(got));
    cr_expect_str_eq(got, "192.0.2.2 192.0.2.3");
    fixture_free(&fx);
}

/* answers: 2: each region rotates its own pool; a single-address region
 * has nothing to rotate. */
Test(rotate, each_region_of_an_answer_rotates_its_own_pool)
{
    fixture_t fx = load(", max_addrs: 1");
    answer_ctx_t ctx = thread_ctx(1);
    static const char *const want[] = {"192.0.2.1 198.51.100.1", "192.0.2.2 198.51.100.1",
                                       "192.0.2.3 198.51.100.1"};
    char got[256];

    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_assert_eq(ask(&ctx, &fx, "both.rot.test", LDNS_RR_TYPE_A, got, sizeof(got)), 2);
        cr_expect_str_eq(got, want[i], "answer %u", i);
    }
    /* The region's counter is the region's, whichever service answers. */
    ask(&ctx, &fx, "www.rot.test", LDNS_RR_TYPE_A, got, sizeof(got));
    cr_expect_str_eq(got, "192.0.2.4");
    fixture_free(&fx);
}

/* Over a multiple of the pool's size, each member is first equally often. */
Test(rotate, first_equally_often)
{
    fixture_t fx = load("");
    answer_ctx_t ctx = thread_ctx(1);
    unsigned first[4] = {0};
    char got[256];

    for (unsigned i = 0; i < 4 * 25; i++) {
        ask(&ctx, &fx, "www.rot.test", LDNS_RR_TYPE_A, got, sizeof(got));
        cr_assert_eq(strncmp(got, "192.0.2.", 8), 0);
        unsigned k = (unsigned)(got[8] - '1');
        cr_assert_lt(k, 4u);
        first[k]++;
    }
    for (unsigned k = 0; k < 4; k++) {
        cr_expect_eq(first[k], 25, "member %u first %u times", k + 1, first[k]);
    }
    fixture_free(&fx);
}
