/*
 * Unit tests for answering (gslbd/answer.c over gslbd/snapshot.c): zones are
 * loaded from YAML with the real loader, queries are built with ldns, and the
 * responses checked both decoded (sections, flags, TTLs) and, where name
 * compression matters, byte for byte.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gslbd/engine/engine.h"
#include "zones/load.h"

#define EXAMPLE "zones/examples/gslb.example.com.yaml"

static qstats_flow_t test_counts; /* engine_reply() counts queries here */
static answer_ctx_t test_ctx = {.qflow = &test_counts};

static snapshot_t *load_snapshot(const char *file)
{
    zone_t *zone;
    diag_t errs = {0};
    snapshot_t *s;

    if (zone_load(file, 0, &zone, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++) {
            fprintf(stderr, "%s\n", errs.lines[i]);
        }
        cr_assert_fail("cannot load %s", file);
    }
    cr_assert_eq(snapshot_build(&zone, 1, NULL, &s, &errs), 0);
    zone_free(zone);
    return s;
}

/* Load a zone written inline: the test's own small fixture. */
static snapshot_t *load_text(const char *yaml)
{
    char path[] = "/tmp/gslb-test-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    snapshot_t *s = load_snapshot(path);
    unlink(path);
    return s;
}

typedef struct {
    uint8_t wire[ENCODE_TCP_MAX];
    size_t len;
    ldns_pkt *pkt;
} reply_t;

/* Build a query for name/type with ldns; edns_size 0 = no EDNS. */
static size_t make_query(uint8_t *buf, const char *name, ldns_rr_type type, uint16_t edns_size,
                         bool rd)
{
    ldns_pkt *q =
        ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, LDNS_RR_CLASS_IN, rd ? LDNS_RD : 0);
    uint8_t *wire;
    size_t len;

    ldns_pkt_set_id(q, 0xbeef);
    if (edns_size) {
        ldns_pkt_set_edns_udp_size(q, edns_size);
        ldns_pkt_set_edns_do(q, true);
    }
    cr_assert_eq(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
    memcpy(buf, wire, len);
    free(wire);
    ldns_pkt_free(q);
    return len;
}

static void ask(const snapshot_t *s, reply_t *r, const char *name, ldns_rr_type type,
                uint16_t edns_size, bool tcp)
{
    uint8_t q[512];
    size_t qlen = make_query(q, name, type, edns_size, true);

    r->len = engine_reply(&test_ctx, s, NULL, q, qlen, r->wire, tcp);
    cr_assert_gt(r->len, 0, "no reply for %s", name);
    cr_assert_eq(ldns_wire2pkt(&r->pkt, r->wire, r->len), LDNS_STATUS_OK,
                 "reply for %s does not parse", name);
}

static char *section_text(ldns_rr_list *list)
{
    char *s = ldns_rr_list2str(list);
    return s ? s : strdup("");
}

static void assert_section(ldns_rr_list *list, const char *want)
{
    char *got = section_text(list);
    cr_assert_str_eq(got, want);
    free(got);
}

Test(answer, service_a_from_first_region_with_service_ttl)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    reply_t r;

    ask(s, &r, "www.gslb.example.com", LDNS_RR_TYPE_A, 0, false);
    cr_assert_eq(ldns_pkt_get_rcode(r.pkt), LDNS_RCODE_NOERROR);
    cr_assert(ldns_pkt_aa(r.pkt), "RFC 1035 4.1.1: AA on authoritative answers");
    cr_assert_not(ldns_pkt_ra(r.pkt), "no recursion offered");
    cr_assert(ldns_pkt_rd(r.pkt), "RD copied");
    cr_assert_eq(ldns_pkt_id(r.pkt), 0xbeef);
    assert_section(ldns_pkt_answer(r.pkt), "www.gslb.example.com.\t30\tIN\tA\t192.0.2.10\n");
    /* the owner is a pointer to the question name (RFC 1035 4.1.4) */
    size_t q_end = 12 + 22 + 4;
    cr_assert_eq(r.wire[q_end], 0xc0);
    cr_assert_eq(r.wire[q_end + 1], 12);
    cr_assert_eq(r.len, q_end + 16);
    ldns_pkt_free(r.pkt);
    snapshot_free(s);
}

Test(answer, question_case_is_kept)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    reply_t r;
    uint8_t q[512];
    size_t qlen = make_query(q, "WwW.GsLb.ExAmPlE.CoM", LDNS_RR_TYPE_A, 0, false);

    r.len = engine_reply(&test_ctx, s, NULL, q, qlen, r.wire, false);
    cr_assert_eq(memcmp(r.wire + 12, q + 12, qlen - 12), 0,
                 "RFC 4343 4.1: question echoed as sent");
    cr_assert_eq(r.wire[2] & 0x01, 0, "RD clear when the query had it clear");
    snapshot_free(s);
}

Test(answer, nxdomain_has_soa_with_negative_ttl_and_pointer_into_qname)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    reply_t r;

    ask(s, &r, "a.b.nothere.gslb.example.com", LDNS_RR_TYPE_A, 0, false);
    cr_assert_eq(ldns_pkt_get_rcode(r.pkt), LDNS_RCODE_NXDOMAIN);
    cr_assert(ldns_pkt_aa(r.pkt));
    cr_assert_eq(ldns_pkt_ancount(r.pkt), 0);
    cr_assert_eq(ldns_pkt_nscount(r.pkt), 1);
    ldns_rr *soa = ldns_rr_list_rr(ldns_pkt_authority(r.pkt), 0);
    char *owner = ldns_rdf2str(ldns_rr_owner(soa));
    cr_assert_str_eq(owner, "gslb.example.com.");
    free(owner);
    cr_assert_eq(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
    cr_assert_eq(ldns_rr_ttl(soa), 60, "RFC 2308 3: min(SOA TTL 300, minimum 60)");
    /* the SOA owner points at "gslb" inside the 30-byte question name, after the 12
     * bytes of "a.b.nothere" */
    size_t at = 12 + 30 + 4;
    cr_assert_eq(r.wire[at], 0xc0);
    cr_assert_eq(r.wire[at + 1], 12 + 12);
    ldns_pkt_free(r.pkt);
    snapshot_free(s);
}

Test(answer, empty_non_terminal_is_nodata)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    reply_t r;

    ask(s, &r, "_tcp.gslb.example.com", LDNS_RR_TYPE_A, 0, false);
    cr_assert_eq(ldns_pkt_get_rcode(r.pkt), LDNS_RCODE_NOERROR, "RFC 8020: it exists");
    cr_assert_eq(ldns_pkt_ancount(r.pkt), 0);
    cr_assert_eq(ldns_pkt_nscount(r.pkt), 1, "RFC 2308 2.2: SOA in authority");
    ldns_pkt_free(r.pkt);
    snapshot_free(s);
}

Test(answer, other_types_are_nodata)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    reply_t r;

    ask(s, &r, "ns1.gslb.example.com", LDNS_RR_TYPE_HINFO, 0, false);
    cr_assert_eq(ldns_pkt_get_rcode(r.pkt), LDNS_RCODE_NOERROR);
    cr_assert_eq(ldns_pkt_ancount(r.pkt), 0);
    cr_assert_eq(ldns_pkt_nscount(r.pkt), 1);
    ldns_pkt_free(r.pkt);
    snapshot_free(s);
}

Test(answer, outside_our_zones_is_refused)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    const char *names[] = {"example.com", "www.example.org", "com", "xgslb.example.com"};

    for (size_t i = 0; i < 4; i++) {
        reply_t r;
        ask(s, &r, names[i], LDNS_RR_TYPE_A, 0, false);
        cr_expect_eq(ldns_pkt_get_rcode(r.pkt), LDNS_RCODE_REFUSED, "%s", names[i]);
        cr_expect_not(ldns_pkt_aa(r.pkt));
        cr_expect_eq(ldns_pkt_ancount(r.pkt) + ldns_pkt_nscount(r.pkt) + ldns_pkt_arcount(r.pkt),
                     0);
        ldns_pkt_free(r.pkt);
    }
    snapshot_free(s);
}

Test(answer, cname_is_followed_to_the_service)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    reply_t r;

    ask(s, &r, "docs.gslb.example.com", LDNS_RR_TYPE_A, 0, false);
    assert_section(ldns_pkt_answer(r.pkt),
                   "docs.gslb.example.com.\t300\tIN\tCNAME\twww.gslb.example.com.\n"
                   "www.gslb.example.com.\t30\tIN\tA\t192.0.2.10\n");
    ldns_pkt_free(r.pkt);
    ask(s, &r, "docs.gslb.example.com", LDNS_RR_TYPE_CNAME, 0, false);
    assert_section(ldns_pkt_answer(r.pkt),
                   "docs.gslb.example.com.\t300\tIN\tCNAME\twww.gslb.example.com.\n");
    ldns_pkt_free(r.pkt);
    ask(s, &r, "docs.gslb.example.com", LDNS_RR_TYPE_MX, 0, false);
    cr_assert_eq(ldns_pkt_ancount(r.pkt), 1, "the chain, then the target's NODATA");
    cr_assert_eq(ldns_pkt_nscount(r.pkt), 1);
    ldns_pkt_free(r.pkt);
    snapshot_free(s);
}

Test(answer, apex_ns_carries_glue)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    reply_t r;

    ask(s, &r, "gslb.example.com", LDNS_RR_TYPE_NS, 0, false);
    cr_assert_eq(ldns_pkt_ancount(r.pkt), 2);
    assert_section(ldns_pkt_additional(r.pkt),
                   "ns1.gslb.example.com.\t300\tIN\tA\t198.51.100.53\n"
                   "ns1.gslb.example.com.\t300\tIN\tAAAA\t2001:db8:53::1\n"
                   "ns2.gslb.example.com.\t300\tIN\tA\t203.0.113.53\n");
    /* compressed: NS targets are "ns1"/"ns2" plus a pointer to the qname */
    cr_assert_lt(r.len, 12 + 18 + 4 + 2 * (2 + 10 + 6) + 3 * 30);
    ldns_pkt_free(r.pkt);
    snapshot_free(s);
}

Test(answer, any_gets_one_rrset)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    reply_t r;

    ask(s, &r, "gslb.example.com", LDNS_RR_TYPE_ANY, 0, false);
    cr_assert_eq(ldns_pkt_get_rcode(r.pkt), LDNS_RCODE_NOERROR);
    ldns_rr_list *an = ldns_pkt_answer(r.pkt);
    cr_assert_gt(ldns_rr_list_rr_count(an), 0);
    cr_assert(ldns_is_rrset(an), "RFC 8482 4.1: a single RRset");
    ldns_pkt_free(r.pkt);
    snapshot_free(s);
}

Test(answer, edns_reply_has_opt_with_our_size_and_do)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    reply_t r;

    ask(s, &r, "www.gslb.example.com", LDNS_RR_TYPE_A, 4096, false);
    cr_assert_eq(ldns_pkt_edns_udp_size(r.pkt), 1232, "RFC 6891 6.2.5, flag day size");
    cr_assert(ldns_pkt_edns_do(r.pkt), "RFC 3225 3: DO copied");
    cr_assert_eq(ldns_pkt_edns_version(r.pkt), 0);
    ldns_pkt_free(r.pkt);
    snapshot_free(s);
}

Test(answer, service_without_ipv6_is_nodata_for_aaaa)
{
    snapshot_t *s = load_text("zone: t.test\n"
                              "soa: {mname: ns.t.test, rname: h.t.test}\n"
                              "ns: [ns.t.test]\n"
                              "records: {ns: {A: 192.0.2.1}}\n"
                              "regions: {r1: {location: [0, 0], pool: [192.0.2.7]}}\n"
                              "services: {app: {regions: [r1]}}\n");
    reply_t r;

    ask(s, &r, "app.t.test", LDNS_RR_TYPE_AAAA, 0, false);
    cr_assert_eq(ldns_pkt_get_rcode(r.pkt), LDNS_RCODE_NOERROR);
    cr_assert_eq(ldns_pkt_ancount(r.pkt), 0);
    cr_assert_eq(ldns_pkt_nscount(r.pkt), 1);
    char *owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_authority(r.pkt), 0)));
    cr_assert_str_eq(owner, "t.test.");
    free(owner);
    ldns_pkt_free(r.pkt);
    snapshot_free(s);
}

Test(answer, big_answer_is_truncated_over_udp_and_whole_over_tcp)
{
    char yaml[8192];
    size_t o = (size_t)snprintf(yaml, sizeof(yaml),
                                "zone: t.test\nsoa: {mname: ns.t.test, rname: h.t.test}\n"
                                "ns: [ns.t.test]\nrecords:\n  ns: {A: 192.0.2.1}\n  big: {TXT: [");
    for (int i = 0; i < 20; i++) { /* about 840 bytes: over 512, under 1232 */
        o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "%s\"text number %02d for a big rrset\"",
                              i ? ", " : "", i);
    }
    snprintf(yaml + o, sizeof(yaml) - o, "]}\n");
    snapshot_t *s = load_text(yaml);
    reply_t r;

    ask(s, &r, "big.t.test", LDNS_RR_TYPE_TXT, 0, false);
    cr_assert(ldns_pkt_tc(r.pkt), "RFC 1035 4.2.1: over 512 without EDNS");
    cr_assert_eq(ldns_pkt_ancount(r.pkt), 0);
    cr_assert_leq(r.len, 512);
    ldns_pkt_free(r.pkt);
    ask(s, &r, "big.t.test", LDNS_RR_TYPE_TXT, 4096, false);
    cr_assert_not(ldns_pkt_tc(r.pkt), "fits in the 1232 we send");
    cr_assert_eq(ldns_pkt_ancount(r.pkt), 20);
    ldns_pkt_free(r.pkt);
    ask(s, &r, "big.t.test", LDNS_RR_TYPE_TXT, 0, true);
    cr_assert_not(ldns_pkt_tc(r.pkt));
    cr_assert_eq(ldns_pkt_ancount(r.pkt), 20);
    ldns_pkt_free(r.pkt);
    snapshot_free(s);
}

Test(answer, delegation_gives_referral_with_glue_below_the_cut_too)
{
    snapshot_t *s = load_text("zone: t.test\n"
                              "soa: {mname: ns.t.test, rname: h.t.test}\n"
                              "ns: [ns.t.test]\n"
                              "records:\n"
                              "  ns: {A: 192.0.2.1}\n"
                              "  sub: {NS: [ns1.sub, ns2.elsewhere.example.]}\n"
                              "  ns1.sub: {A: 192.0.2.53}\n");
    const char *names[] = {"sub.t.test", "deep.down.sub.t.test", "ns1.sub.t.test"};

    for (size_t i = 0; i < 3; i++) {
        reply_t r;
        ask(s, &r, names[i], LDNS_RR_TYPE_A, 0, false);
        cr_expect_eq(ldns_pkt_get_rcode(r.pkt), LDNS_RCODE_NOERROR, "%s", names[i]);
        cr_expect_not(ldns_pkt_aa(r.pkt), "RFC 1034 4.3.2: a referral is not authoritative");
        assert_section(ldns_pkt_authority(r.pkt),
                       "sub.t.test.\t300\tIN\tNS\tns1.sub.t.test.\n"
                       "sub.t.test.\t300\tIN\tNS\tns2.elsewhere.example.\n");
        assert_section(ldns_pkt_additional(r.pkt), "ns1.sub.t.test.\t300\tIN\tA\t192.0.2.53\n");
        ldns_pkt_free(r.pkt);
    }
    snapshot_free(s);
}

Test(answer, refusals_and_errors)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    reply_t r;

    ask(s, &r, "gslb.example.com", LDNS_RR_TYPE_AXFR, 0, true);
    cr_assert_eq(ldns_pkt_get_rcode(r.pkt), LDNS_RCODE_REFUSED, "no zone transfers");
    ldns_pkt_free(r.pkt);
    ask(s, &r, "gslb.example.com", LDNS_RR_TYPE_IXFR, 0, true);
    cr_assert_eq(ldns_pkt_get_rcode(r.pkt), LDNS_RCODE_REFUSED);
    ldns_pkt_free(r.pkt);

    uint8_t q[512], out[ENCODE_UDP_MAX];
    size_t qlen = make_query(q, "www.gslb.example.com", LDNS_RR_TYPE_A, 1232, false);
    q[qlen - 5] = 1; /* EDNS version 1 */
    size_t n = engine_reply(&test_ctx, s, NULL, q, qlen, out, false);
    ldns_pkt *p;
    cr_assert_eq(ldns_wire2pkt(&p, out, n), LDNS_STATUS_OK);
    cr_assert_eq(out[3] & 0x0f, 0);
    cr_assert_eq(ldns_pkt_edns_extended_rcode(p), 1, "RFC 6891 6.1.3: BADVERS is 16");
    cr_assert_eq(ldns_pkt_ancount(p), 0);
    ldns_pkt_free(p);

    q[2] = 0x10; /* opcode STATUS */
    n = engine_reply(&test_ctx, s, NULL, q, qlen, out, false);
    cr_assert_eq(out[3] & 0x0f, LDNS_RCODE_NOTIMPL);
    cr_assert_eq(out[0] << 8 | out[1], 0xbeef);
    q[2] = 0x80; /* a response: never answered */
    cr_assert_eq(engine_reply(&test_ctx, s, NULL, q, qlen, out, false), 0);
    q[2] = 0;
    q[5] = 2; /* QDCOUNT 2 */
    n = engine_reply(&test_ctx, s, NULL, q, qlen, out, false);
    cr_assert_eq(out[3] & 0x0f, LDNS_RCODE_FORMERR);
    cr_assert_eq(n, 12);
    snapshot_free(s);
}

/* Random corruption of real queries must never crash or overrun: every
 * reply parses or there is none. A cheap stand-in for the fuzz target. */
Test(answer, corrupted_queries_never_crash)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    uint8_t q[512], out[ENCODE_TCP_MAX];
    unsigned seed = 12345;

    for (int i = 0; i < 20000; i++) {
        size_t qlen = make_query(q, i % 2 ? "docs.gslb.example.com" : "x.gslb.example.com",
                                 LDNS_RR_TYPE_A, i % 3 ? 1232 : 0, true);
        for (int k = 0; k < 1 + i % 4; k++) {
            q[rand_r(&seed) % qlen] = (uint8_t)rand_r(&seed);
        }
        size_t len = (size_t)rand_r(&seed) % (qlen + 1);
        size_t n = engine_reply(&test_ctx, s, NULL, q, len, out, i % 5 == 0);
        cr_assert_leq(n, i % 5 == 0 ? ENCODE_TCP_MAX : ENCODE_UDP_MAX);
        if (n > 0) {
            ldns_pkt *p;
            cr_assert_eq(ldns_wire2pkt(&p, out, n), LDNS_STATUS_OK, "iteration %d", i);
            ldns_pkt_free(p);
        }
        if (i % 5 != 0) { /* UDP answers in place: the same bytes as into a buffer of its own */
            static uint8_t inplace[ENCODE_TCP_MAX];
            memcpy(inplace, q, len);
            size_t m = engine_reply(&test_ctx, s, NULL, inplace, len, inplace, false);
            cr_assert_eq(m, n, "iteration %d: in place", i);
            cr_assert_eq(memcmp(inplace, out, n), 0, "iteration %d: in place", i);
        }
    }
    snapshot_free(s);
}

/* ---- protocol details: CD, OPT on every EDNS reply, TSIG, Extended DNS Errors ---- */

/* The reply to `q` (qlen bytes) over UDP into r (not parsed: r->pkt is NULL). */
static void ask_raw(const snapshot_t *s, reply_t *r, const uint8_t *q, size_t qlen)
{
    r->len = engine_reply(&test_ctx, s, NULL, q, qlen, r->wire, false);
    r->pkt = NULL;
}

Test(answer, cd_bit_is_copied_rfc4035_3_1_6)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    const char *names[] = {"www.gslb.example.com", "nope.gslb.example.com", "example.org"};
    const uint8_t rcodes[] = {LDNS_RCODE_NOERROR, LDNS_RCODE_NXDOMAIN, LDNS_RCODE_REFUSED};
    uint8_t q[512];
    reply_t r;

    for (size_t i = 0; i < 3; i++) {
        size_t qlen = make_query(q, names[i], LDNS_RR_TYPE_A, 0, true);
        q[3] |= 0x10; /* CD */
        ask_raw(s, &r, q, qlen);
        cr_expect_eq(r.wire[3], 0x10 | rcodes[i], "%s: RFC 4035 3.1.6: CD copied, got 0x%02x",
                     names[i], r.wire[3]);
        q[3] &= (uint8_t)~0x10;
        ask_raw(s, &r, q, qlen);
        cr_expect_eq(r.wire[3], rcodes[i], "%s: CD clear when the query had it clear", names[i]);
    }
    snapshot_free(s);
}

/* The bytes of our OPT record with no options: owner root, type 41, our size
 * 1232, extended rcode `ercode`, version 0, DO as given, RDLENGTH `rdlen`. */
static size_t our_opt(uint8_t *p, uint8_t ercode, bool dnssec_ok, uint16_t rdlen)
{
    const uint8_t opt[11] = {0, 0, 41, 0x04, 0xd0, ercode, 0, dnssec_ok ? 0x80 : 0, 0,
                             (uint8_t)(rdlen >> 8), (uint8_t)rdlen};
    memcpy(p, opt, sizeof(opt));
    return sizeof(opt);
}

Test(answer, notimp_reply_to_an_edns_query_has_an_opt_rfc6891_7)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    uint8_t q[512], want[512];
    reply_t r;
    size_t qlen = make_query(q, "www.gslb.example.com", LDNS_RR_TYPE_SOA, 1232, true);
    size_t qend = 12 + 22 + 4;

    q[2] = (uint8_t)(4 << 3 | 1); /* opcode NOTIFY, RD */
    ask_raw(s, &r, q, qlen);
    /* Header: ID, QR + NOTIFY + RD, NOTIMP, one question, one additional. */
    const uint8_t head[12] = {0xbe, 0xef, 0x80 | 4 << 3 | 1, 4, 0, 1, 0, 0, 0, 0, 0, 1};
    memcpy(want, head, 12);
    memcpy(want + 12, q + 12, qend - 12);
    size_t n = qend + our_opt(want + qend, 0, true, 0);
    cr_assert_eq(r.len, n, "RFC 6891 7: NOTIMP with the OPT, got %zu bytes", r.len);
    cr_assert_eq(memcmp(r.wire, want, n), 0, "RFC 6891 7: NOTIMP with the OPT, byte for byte");
    snapshot_free(s);
}

/* A query for www.gslb.example.com SOA signed with TSIG (RFC 8945 4.2), the
 * key "gslb.example.com" written as a pointer to the question's suffix as
 * dnspython writes it, hmac-sha256, a 32-byte MAC; with an OPT before it if
 * `edns`. Returns its length; *tsig_at is where the TSIG record starts. */
static size_t signed_query(uint8_t *q, bool edns, size_t *tsig_at)
{
    size_t n = make_query(q, "www.gslb.example.com", LDNS_RR_TYPE_SOA, edns ? 1232 : 0, false);
    static const uint8_t tsig[] = {
        0xc0, 12 + 4,                 /* owner: "gslb.example.com", a pointer into the question */
        0, 250, 0, 255, 0, 0, 0, 0,   /* TSIG, class ANY, TTL 0 */
        0, 13 + 10 + 32 + 6,          /* RDLENGTH */
        11, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', '2', '5', '6', 0,
        0, 0, 0x65, 0x53, 0xf1, 0x00, /* time signed */
        1, 44,                        /* fudge 300 */
        0, 32,                        /* MAC size */
    };

    q[11] = edns ? 2 : 1;
    *tsig_at = n;
    memcpy(q + n, tsig, sizeof(tsig));
    n += sizeof(tsig);
    memset(q + n, 0xaa, 32);
    n += 32;
    const uint8_t tail[6] = {0xbe, 0xef, 0, 0, 0, 0}; /* original ID, error, other length */
    memcpy(q + n, tail, 6);
    return n + 6;
}

/* The TSIG record of the reply: the key's name uncompressed, the algorithm,
 * time signed and fudge of the request, no MAC, error BADKEY (RFC 8945 5.3.2). */
static size_t badkey_tsig(uint8_t *p)
{
    static const uint8_t rr[] = {
        4, 'g', 's', 'l', 'b', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
        0, 250, 0, 255, 0, 0, 0, 0, 0, 13 + 10 + 6,
        11, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', '2', '5', '6', 0,
        0, 0, 0x65, 0x53, 0xf1, 0x00, 1, 44, /* time signed, fudge: the request's */
        0, 0,                                /* MAC size 0: unsigned */
        0xbe, 0xef,                          /* original ID */
        0, 17,                               /* error BADKEY */
        0, 0,                                /* no other data */
    };
    memcpy(p, rr, sizeof(rr));
    return sizeof(rr);
}

Test(answer, tsig_signed_query_gets_notauth_badkey_rfc8945_5_2)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    uint8_t q[512], want[512];
    size_t qend = 12 + 22 + 4, at;
    reply_t r;

    for (int edns = 0; edns < 2; edns++) {
        size_t qlen = signed_query(q, edns, &at);
        ask_raw(s, &r, q, qlen);
        /* ID, QR (RD was clear), NOTAUTH; the question; OPT if asked; the TSIG. */
        const uint8_t head[12] = {0xbe, 0xef, 0x80, 9, 0, 1, 0, 0, 0, 0, 0, edns ? 2 : 1};
        memcpy(want, head, 12);
        memcpy(want + 12, q + 12, qend - 12);
        size_t n = qend;
        if (edns) {
            n += our_opt(want + n, 0, true, 0);
        }
        n += badkey_tsig(want + n);
        cr_assert_eq(r.len, n, "edns %d: RFC 8945 5.2.1: NOTAUTH/BADKEY, got %zu bytes", edns,
                     r.len);
        cr_assert_eq(memcmp(r.wire, want, n), 0,
                     "edns %d: RFC 8945 5.2.1: NOTAUTH with an unsigned TSIG, error BADKEY",
                     edns);
        /* UDP answers in place: the same bytes. */
        uint8_t inplace[512];
        memcpy(inplace, q, qlen);
        cr_assert_eq(engine_reply(&test_ctx, s, NULL, inplace, qlen, inplace, false), n);
        cr_assert_eq(memcmp(inplace, want, n), 0, "edns %d: in place", edns);
    }
    snapshot_free(s);
}

/* The reply to a query for name/type, with EDNS (DO set) if `edns`, over
 * UDP or TCP, must be exactly: the header with `rcode` and `flags3` bits of
 * byte 2 besides QR and RD, the question, then our OPT carrying `options`
 * (olen bytes) when `edns`. */
static void expect_error_reply(const snapshot_t *s, const char *name, ldns_rr_type type, bool edns,
                               bool tcp, uint8_t rcode, const uint8_t *options, size_t olen,
                               const char *what)
{
    uint8_t q[512], want[512];
    reply_t r;
    size_t qlen = make_query(q, name, type, edns ? 1232 : 0, true);
    size_t qend = qlen - (edns ? 11 : 0);

    r.len = engine_reply(&test_ctx, s, NULL, q, qlen, r.wire, tcp);
    const uint8_t head[12] = {0xbe, 0xef, 0x81, rcode, 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0};
    memcpy(want, head, 12);
    memcpy(want + 12, q + 12, qend - 12);
    size_t n = qend;
    if (edns) {
        n += our_opt(want + n, 0, true, (uint16_t)olen);
        memcpy(want + n, options, olen);
        n += olen;
    }
    cr_expect_eq(r.len, n, "%s (edns %d): %zu bytes, want %zu", what, edns, r.len, n);
    cr_expect_eq(memcmp(r.wire, want, n), 0, "%s (edns %d): byte for byte", what, edns);
}

Test(answer, refused_carries_extended_error_not_authoritative_rfc8914_4_21)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    const uint8_t ede20[] = {0, 15, 0, 2, 0, 20}; /* EDE, INFO-CODE 20, no text */

    for (int edns = 0; edns < 2; edns++) {
        expect_error_reply(s, "example.org", LDNS_RR_TYPE_A, edns, false, LDNS_RCODE_REFUSED,
                           ede20, sizeof(ede20), "RFC 8914 4.21: outside our zones");
    }
    snapshot_free(s);
}

Test(answer, zone_transfers_refused_with_extended_error_not_supported_rfc8914_4_22)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    static const char text[] = "zone transfers are not served";
    uint8_t ede21[6 + sizeof(text) - 1] = {0, 15, 0, 2 + sizeof(text) - 1, 0, 21};

    memcpy(ede21 + 6, text, sizeof(text) - 1);
    expect_error_reply(s, "gslb.example.com", LDNS_RR_TYPE_AXFR, true, true, LDNS_RCODE_REFUSED,
                       ede21, sizeof(ede21), "RFC 8914 4.22: AXFR");
    expect_error_reply(s, "gslb.example.com", LDNS_RR_TYPE_IXFR, true, true, LDNS_RCODE_REFUSED,
                       ede21, sizeof(ede21), "RFC 8914 4.22: IXFR");
    snapshot_free(s);
}

Test(answer, servfail_from_on_all_down_carries_extended_error_rfc8914_4_1)
{
    healthdb_t *h = healthdb_new(NULL);
    const char *yaml = "zone: t.test\n"
                       "soa: {mname: ns.t.test, rname: h.t.test}\n"
                       "ns: [ns.t.test]\n"
                       "records: {ns: {A: 192.0.2.1}}\n"
                       "regions: {r1: {location: [0, 0], pool: [192.0.2.7]}}\n"
                       "services: {app: {regions: [r1], on_all_down: servfail}}\n";
    char path[] = "/tmp/gslb-test-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    zone_t *zone;
    diag_t errs = {0};
    snapshot_t *s;
    cr_assert_eq(zone_load(path, 0, &zone, &errs), 0);
    unlink(path);
    cr_assert_eq(snapshot_build(&zone, 1, &(snapshot_env_t){.health = h}, &s, &errs), 0);
    zone_free(zone);
    cr_assert_gt(healthdb_override(h, NULL, "r1", NULL, HEALTH_OV_DOWN, NULL), 0);

    static const char text[] = "no region of this service is up (on_all_down: servfail)";
    uint8_t ede0[6 + sizeof(text) - 1] = {0, 15, 0, 2 + sizeof(text) - 1, 0, 0};
    memcpy(ede0 + 6, text, sizeof(text) - 1);
    for (int edns = 0; edns < 2; edns++) {
        expect_error_reply(s, "app.t.test", LDNS_RR_TYPE_A, edns, false, LDNS_RCODE_SERVFAIL, ede0,
                           sizeof(ede0), "RFC 8914 4.1: Other, with the reason as EXTRA-TEXT");
    }
    snapshot_free(s);
    healthdb_free(h);
}

/* ---- DNS cookies (RFC 7873) with RFC 9018 server cookies ---- */

/* RFC 9018 Appendix A: its secret, its first client and that client's address. */
static const uint8_t secret_a[16] = {0xe5, 0xe9, 0x73, 0xe5, 0xa6, 0xb2, 0xa4, 0x3f,
                                     0x48, 0xe7, 0xdc, 0x84, 0x9e, 0x37, 0xbf, 0xcf};
#define A1_TIME 1559731985u
#define A2_TIME 1559734385u

static struct sockaddr_in client_a(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "198.51.100.100", &sin.sin_addr);
    return sin;
}

static _Atomic uint64_t cookie_clock;

static answer_ctx_t cookie_ctx(uint32_t now)
{
    cookie_clock = now * 1000000ull;
    return (answer_ctx_t){
        .cookie_secret = secret_a, .clock = &cookie_clock, .qflow = &test_counts};
}

/* A query for www.gslb.example.com A with an OPT holding only a COOKIE
 * option of `len` bytes. */
static size_t cookie_query(uint8_t *q, const uint8_t *cookie, size_t len)
{
    size_t n = make_query(q, "www.gslb.example.com", LDNS_RR_TYPE_A, 0, true);
    const uint8_t opt[11] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, (uint8_t)(4 + len)};

    q[11] = 1;
    memcpy(q + n, opt, 11);
    const uint8_t head[4] = {0, 10, 0, (uint8_t)len};
    memcpy(q + n + 11, head, 4);
    memcpy(q + n + 15, cookie, len);
    return n + 15 + len;
}

/* The three steps, keeping the decision for the test to look at. */
static size_t reply_with(answer_ctx_t *ctx, const snapshot_t *s, const struct sockaddr *src,
                         const uint8_t *q, size_t qlen, uint8_t *out, answer_t *a)
{
    query_t pq;
    query_status_t st = query_parse(&pq, q, qlen);

    answer_query(ctx, s, &pq, st, src, a);
    return encode_answer(a, &pq, out, false, ctx);
}

/* The reply's COOKIE option must be `want` (24 bytes): it is the last 28
 * bytes of the reply, the only option of its OPT. */
static void expect_cookie(const uint8_t *r, size_t len, const uint8_t *want, const char *what)
{
    const uint8_t head[6] = {0, 28, 0, 10, 0, 24}; /* RDLENGTH 28; COOKIE, 24 bytes */

    cr_assert_gt(len, 34);
    cr_expect_eq(memcmp(r + len - 30, head, 6), 0, "%s: one COOKIE option of 24 bytes", what);
    cr_expect_eq(memcmp(r + len - 24, want, 24), 0, "%s: the cookie", what);
}

static const uint8_t a1_cookie[24] = {0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57,
                                      0x01, 0x00, 0x00, 0x00, 0x5c, 0xf7, 0x9f, 0x11,
                                      0x1f, 0x81, 0x30, 0xc3, 0xee, 0xe2, 0x94, 0x80};
static const uint8_t a2_cookie[24] = {0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57,
                                      0x01, 0x00, 0x00, 0x00, 0x5c, 0xf7, 0xa8, 0x71,
                                      0xd4, 0xa5, 0x64, 0xa1, 0x44, 0x2a, 0xca, 0x77};

Test(answer, client_cookie_gets_a_server_cookie_rfc7873_5_2_3)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    struct sockaddr_in src = client_a();
    answer_ctx_t ctx = cookie_ctx(A1_TIME);
    uint8_t q[512], out[ENCODE_UDP_MAX];
    answer_t a;
    size_t qlen = cookie_query(q, a1_cookie, 8);
    size_t n = reply_with(&ctx, s, (struct sockaddr *)&src, q, qlen, out, &a);

    cr_assert_eq(out[3] & 0x0f, LDNS_RCODE_NOERROR, "RFC 7873 5.2.3: answered normally");
    cr_assert_eq(out[7], 1, "the answer is there");
    expect_cookie(out, n, a1_cookie, "RFC 9018 A.1: the client's cookie and ours");
    cr_assert_eq(a.cookie_state, ANSWER_COOKIE_NEW, "no server cookie of ours was presented");
    snapshot_free(s);
}

Test(answer, server_cookie_is_kept_renewed_or_replaced_rfc9018_4_3)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    struct sockaddr_in src = client_a();
    uint8_t q[512], out[ENCODE_UDP_MAX], forged[24];
    answer_t a;
    size_t qlen = cookie_query(q, a1_cookie, 24);

    answer_ctx_t ctx = cookie_ctx(A1_TIME + 60);
    size_t n = reply_with(&ctx, s, (struct sockaddr *)&src, q, qlen, out, &a);
    expect_cookie(out, n, a1_cookie, "RFC 7873 5.2.5: a valid cookie a minute old is kept");
    cr_assert_eq(a.cookie_state, ANSWER_COOKIE_VALID);

    ctx = cookie_ctx(A2_TIME);
    n = reply_with(&ctx, s, (struct sockaddr *)&src, q, qlen, out, &a);
    expect_cookie(out, n, a2_cookie, "RFC 9018 A.2: 40 minutes old, renewed");
    cr_assert_eq(a.cookie_state, ANSWER_COOKIE_VALID, "still valid: it proves the address");

    memcpy(forged, a1_cookie, 24);
    forged[23] ^= 1;
    qlen = cookie_query(q, forged, 24);
    ctx = cookie_ctx(A1_TIME);
    n = reply_with(&ctx, s, (struct sockaddr *)&src, q, qlen, out, &a);
    expect_cookie(out, n, a1_cookie, "RFC 7873 5.2.4: a forged cookie is replaced");
    cr_assert_eq(a.cookie_state, ANSWER_COOKIE_NEW);
    cr_assert_eq(out[3] & 0x0f, LDNS_RCODE_NOERROR, "and the query answered normally");
    snapshot_free(s);
}

Test(answer, cookie_comes_back_on_error_replies_too)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    struct sockaddr_in src = client_a();
    answer_ctx_t ctx = cookie_ctx(A1_TIME);
    uint8_t q[512], out[ENCODE_UDP_MAX];
    answer_t a;
    size_t qlen = cookie_query(q, a1_cookie, 8);

    q[2] = 0x20; /* NOTIFY: NOTIMP */
    size_t n = reply_with(&ctx, s, (struct sockaddr *)&src, q, qlen, out, &a);
    cr_assert_eq(out[3] & 0x0f, LDNS_RCODE_NOTIMPL);
    expect_cookie(out, n, a1_cookie, "RFC 7873 5.2: NOTIMP carries the cookie");
    snapshot_free(s);
}

Test(answer, no_cookie_is_sent_without_a_secret)
{
    snapshot_t *s = load_snapshot(EXAMPLE);
    uint8_t q[512], out[ENCODE_UDP_MAX];
    size_t qlen = cookie_query(q, a1_cookie, 8);
    size_t n = engine_reply(&test_ctx, s, NULL, q, qlen, out, false);
    ldns_pkt *p;

    cr_assert_eq(ldns_wire2pkt(&p, out, n), LDNS_STATUS_OK);
    cr_assert_eq(out[n - 2] << 8 | out[n - 1], 0, "the OPT has no options");
    ldns_pkt_free(p);
    snapshot_free(s);
}
