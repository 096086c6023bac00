/*
 * Unit tests for response rate limiting (gslbd/engine/rrl.c) through the
 * engine: queries from given addresses at a clock the test sets, the
 * replies counted as answered, slipped (TC, or BADCOOKIE for a client with
 * a cookie) or dropped, and slipped replies checked byte for byte.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gslbd/engine/engine.h"
#include "zones/load.h"

#define EXAMPLE "zones/examples/gslb.example.com.yaml"

static _Atomic uint64_t clock_us = 1700000000ull * 1000000u;
static const uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static qstats_flow_t counts; /* engine_reply() counts queries here */

static snapshot_t *load(const char *file)
{
    zone_t *zone;
    diag_t errs = {0};
    snapshot_t *s;

    cr_assert_eq(zone_load(file, 0, &zone, &errs), 0, "cannot load %s", file);
    cr_assert_eq(snapshot_build(&zone, 1, NULL, &s, &errs), 0);
    zone_free(zone);
    return s;
}

/* A context limiting at `rate` per second with `slip`, nothing exempt. */
static answer_ctx_t limited_ctx(unsigned rate, unsigned slip)
{
    rrl_config_t cfg;

    rrl_config_default(&cfg);
    cfg.rate = rate;
    cfg.slip = slip;
    cfg.n_exempt = 0;
    return (answer_ctx_t){
        .clock = &clock_us, .rrl = rrl_new(&cfg, seed, &clock_us), .qflow = &counts};
}

static struct sockaddr_storage addr_of(const char *text)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
    } else {
        cr_assert_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1, "%s", text);
        sin6->sin6_family = AF_INET6;
    }
    return ss;
}

/* A query for name/type, EDNS (1232) unless `edns` is false, RD set. */
static size_t make(uint8_t *buf, const char *name, ldns_rr_type type, bool edns)
{
    ldns_pkt *q =
        ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, LDNS_RR_CLASS_IN, LDNS_RD);
    uint8_t *wire;
    size_t len;

    ldns_pkt_set_id(q, 0xbeef);
    if (edns) {
        ldns_pkt_set_edns_udp_size(q, 1232);
    }
    cr_assert_eq(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
    memcpy(buf, wire, len);
    free(wire);
    ldns_pkt_free(q);
    return len;
}

typedef struct {
    unsigned answered, slipped, dropped;
} tally_t;

/* What happened to one reply of `len` bytes. */
static void count(tally_t *t, const uint8_t *r, size_t len)
{
    if (len == 0) {
        t->dropped++;
    } else if ((r[2] & 0x02) != 0 || (r[3] & 0x0f) == 7 /* BADCOOKIE, low bits */) {
        t->slipped++;
        cr_expect_eq(r[6] | r[7] | r[8] | r[9], 0, "a slipped reply has no records");
    } else {
        t->answered++;
    }
}

/* `n` queries (`q`, qlen bytes) from `src` at the current clock, over UDP. */
static tally_t burst(answer_ctx_t *ctx, const snapshot_t *s, const char *src, const uint8_t *q,
                     size_t qlen, unsigned n)
{
    struct sockaddr_storage from = addr_of(src);
    uint8_t out[ENCODE_UDP_MAX];
    tally_t t = {0};

    for (unsigned i = 0; i < n; i++) {
        size_t len = engine_reply(ctx, s, (struct sockaddr *)&from, q, qlen, out, false);
        count(&t, out, len);
    }
    return t;
}

static tally_t ask_n(answer_ctx_t *ctx, const snapshot_t *s, const char *src, const char *name,
                     ldns_rr_type type, unsigned n)
{
    uint8_t q[512];
    size_t qlen = make(q, name, type, true);

    return burst(ctx, s, src, q, qlen, n);
}

static void expect_tally(tally_t t, unsigned a, unsigned sl, unsigned d, const char *what)
{
    cr_expect(t.answered == a && t.slipped == sl && t.dropped == d,
              "%s: answered %u slipped %u dropped %u, want %u %u %u", what, t.answered, t.slipped,
              t.dropped, a, sl, d);
}

Test(rrl, a_burst_gets_rate_responses_then_half_slip_half_drop)
{
    snapshot_t *s = load(EXAMPLE);
    answer_ctx_t ctx = limited_ctx(10, 2);

    tally_t t = ask_n(&ctx, s, "192.0.2.1", "www.gslb.example.com", LDNS_RR_TYPE_A, 30);
    expect_tally(t, 10, 10, 10, "rate 10, slip 2: a second's budget, then every other slipped");
    rrl_stats_t st;
    rrl_stats(ctx.rrl, &st);
    cr_expect_eq(st.dropped, 10, "dropped counted");
    cr_expect_eq(st.slipped, 10, "slipped counted");
    rrl_free(ctx.rrl);
    snapshot_free(s);
}

Test(rrl, the_budget_refills_with_time)
{
    snapshot_t *s = load(EXAMPLE);
    answer_ctx_t ctx = limited_ctx(10, 0);

    tally_t t = ask_n(&ctx, s, "192.0.2.1", "www.gslb.example.com", LDNS_RR_TYPE_A, 20);
    expect_tally(t, 10, 0, 10, "slip 0: every limited response dropped");
    clock_us += 100000; /* 100 ms: one response at 10 a second */
    t = ask_n(&ctx, s, "192.0.2.1", "www.gslb.example.com", LDNS_RR_TYPE_A, 5);
    expect_tally(t, 1, 0, 4, "100 ms later");
    clock_us += 5000000; /* idle: the bucket is full again, no fuller */
    t = ask_n(&ctx, s, "192.0.2.1", "www.gslb.example.com", LDNS_RR_TYPE_A, 20);
    expect_tally(t, 10, 0, 10, "5 s later: a second's budget, not five");
    rrl_free(ctx.rrl);
    snapshot_free(s);
}

Test(rrl, clients_are_keyed_by_network_24_and_56)
{
    snapshot_t *s = load(EXAMPLE);
    answer_ctx_t ctx = limited_ctx(10, 0);
    const char *www = "www.gslb.example.com";

    expect_tally(ask_n(&ctx, s, "192.0.2.1", www, LDNS_RR_TYPE_A, 12), 10, 0, 2, "192.0.2.1");
    expect_tally(ask_n(&ctx, s, "192.0.2.200", www, LDNS_RR_TYPE_A, 2), 0, 0, 2,
                 "192.0.2.200: the same /24");
    expect_tally(ask_n(&ctx, s, "192.0.3.1", www, LDNS_RR_TYPE_A, 2), 2, 0, 0,
                 "192.0.3.1: another /24");
    expect_tally(ask_n(&ctx, s, "::ffff:192.0.2.7", www, LDNS_RR_TYPE_A, 2), 0, 0, 2,
                 "IPv4-mapped: the same /24");
    expect_tally(ask_n(&ctx, s, "2001:db8:0:1::1", www, LDNS_RR_TYPE_A, 12), 10, 0, 2,
                 "2001:db8:0:1::1");
    expect_tally(ask_n(&ctx, s, "2001:db8:0:ff::2", www, LDNS_RR_TYPE_A, 2), 0, 0, 2,
                 "2001:db8:0:ff::2: the same /56");
    expect_tally(ask_n(&ctx, s, "2001:db8:0:100::1", www, LDNS_RR_TYPE_A, 2), 2, 0, 0,
                 "2001:db8:0:100::1: another /56");
    rrl_free(ctx.rrl);
    snapshot_free(s);
}

Test(rrl, each_class_has_its_own_budget)
{
    snapshot_t *s = load(EXAMPLE);
    answer_ctx_t ctx = limited_ctx(10, 0);
    const char *c = "192.0.2.1";
    char name[64];

    expect_tally(ask_n(&ctx, s, c, "www.gslb.example.com", LDNS_RR_TYPE_A, 12), 10, 0, 2,
                 "positive: www A");
    expect_tally(ask_n(&ctx, s, c, "www.gslb.example.com", LDNS_RR_TYPE_AAAA, 2), 2, 0, 0,
                 "positive answers are per name and type: www AAAA");
    expect_tally(ask_n(&ctx, s, c, "ns1.gslb.example.com", LDNS_RR_TYPE_A, 2), 2, 0, 0,
                 "positive answers are per name: ns1 A");
    tally_t nx = {0}, refused = {0};
    for (int i = 0; i < 15; i++) {
        snprintf(name, sizeof(name), "random%d.gslb.example.com", i);
        tally_t t = ask_n(&ctx, s, c, name, LDNS_RR_TYPE_A, 1);
        nx.answered += t.answered;
        nx.dropped += t.dropped;
        snprintf(name, sizeof(name), "random%d.example.org", i);
        t = ask_n(&ctx, s, c, name, LDNS_RR_TYPE_A, 1);
        refused.answered += t.answered;
        refused.dropped += t.dropped;
    }
    expect_tally(nx, 10, 0, 5, "NXDOMAIN: one budget for the zone, whatever the name");
    expect_tally(refused, 10, 0, 5, "errors: one budget for the network");
    expect_tally(ask_n(&ctx, s, c, "ns2.gslb.example.com", LDNS_RR_TYPE_AAAA, 12), 10, 0, 2,
                 "NODATA: its own budget");
    rrl_free(ctx.rrl);
    snapshot_free(s);
}

Test(rrl, large_responses_share_one_budget_per_network)
{
    char yaml[8192], path[] = "/tmp/gslb-rrl-XXXXXX.yaml";
    size_t o = (size_t)snprintf(yaml, sizeof(yaml),
                                "zone: t.test\nsoa: {mname: ns.t.test, rname: h.t.test}\n"
                                "ns: [ns.t.test]\nrecords:\n  ns: {A: 192.0.2.1}\n");
    for (int n = 0; n < 3; n++) {
        o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "  big%d: {TXT: [", n);
        for (int i = 0; i < 24; i++) { /* about 800 bytes: over 512 */
            o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "%s\"text number %02d of %d\"",
                                  i ? ", " : "", i, n);
        }
        o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "]}\n");
    }
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, yaml, o), (ssize_t)o);
    close(fd);
    snapshot_t *s = load(path);
    unlink(path);
    answer_ctx_t ctx = limited_ctx(10, 0);
    tally_t all = {0};

    for (int i = 0; i < 15; i++) {
        char name[32];
        snprintf(name, sizeof(name), "big%d.t.test", i % 3);
        tally_t t = ask_n(&ctx, s, "192.0.2.1", name, LDNS_RR_TYPE_TXT, 1);
        all.answered += t.answered;
        all.dropped += t.dropped;
    }
    expect_tally(all, 10, 0, 5, "over 512 bytes: one budget for the network, whatever the name");
    expect_tally(ask_n(&ctx, s, "192.0.2.1", "ns.t.test", LDNS_RR_TYPE_A, 2), 2, 0, 0,
                 "small answers are not held back by it");
    rrl_free(ctx.rrl);
    snapshot_free(s);
}

/* A slipped reply: the header with TC set and the answer's RCODE, the
 * question, no records, our OPT (RFC 6891 7) without options. */
Test(rrl, a_slipped_reply_is_truncated_exactly)
{
    snapshot_t *s = load(EXAMPLE);
    answer_ctx_t ctx = limited_ctx(1, 1);
    struct sockaddr_storage from = addr_of("192.0.2.1");
    uint8_t q[512], out[ENCODE_UDP_MAX], want[512];
    size_t qlen = make(q, "www.gslb.example.com", LDNS_RR_TYPE_A, true);
    size_t qend = qlen - 11;

    cr_assert_gt(engine_reply(&ctx, s, (struct sockaddr *)&from, q, qlen, out, false), qend + 11);
    size_t n = engine_reply(&ctx, s, (struct sockaddr *)&from, q, qlen, out, false);
    const uint8_t head[12] = {0xbe, 0xef, 0x80 | 0x04 | 0x02 | 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    const uint8_t opt[11] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
    memcpy(want, head, 12);
    memcpy(want + 12, q + 12, qend - 12);
    memcpy(want + qend, opt, 11);
    cr_assert_eq(n, qend + 11, "slip 1: every limited reply is truncated, %zu bytes", n);
    cr_assert_eq(memcmp(out, want, n), 0, "QR AA TC RD, the question, the OPT: byte for byte");
    /* In place, as the UDP path answers. */
    uint8_t inplace[512];
    memcpy(inplace, q, qlen);
    cr_assert_eq(engine_reply(&ctx, s, (struct sockaddr *)&from, inplace, qlen, inplace, false),
                 n);
    cr_assert_eq(memcmp(inplace, want, n), 0, "in place");
    rrl_free(ctx.rrl);
    snapshot_free(s);
}

Test(rrl, tcp_is_never_limited)
{
    snapshot_t *s = load(EXAMPLE);
    answer_ctx_t ctx = limited_ctx(1, 0);
    struct sockaddr_storage from = addr_of("192.0.2.1");
    uint8_t q[512], out[ENCODE_TCP_MAX];
    size_t qlen = make(q, "www.gslb.example.com", LDNS_RR_TYPE_A, true);

    for (int i = 0; i < 50; i++) {
        size_t n = engine_reply(&ctx, s, (struct sockaddr *)&from, q, qlen, out, true);
        cr_assert_gt(n, qlen, "query %d over TCP answered", i);
        cr_assert_eq(out[2] & 0x02, 0);
    }
    rrl_free(ctx.rrl);
    snapshot_free(s);
}

Test(rrl, exempt_networks_are_never_limited)
{
    snapshot_t *s = load(EXAMPLE);
    rrl_config_t cfg;
    rrl_net_t net;

    rrl_config_default(&cfg);
    cfg.rate = 5;
    answer_ctx_t ctx = {
        .clock = &clock_us, .rrl = rrl_new(&cfg, seed, &clock_us), .qflow = &counts};
    const char *www = "www.gslb.example.com";
    expect_tally(ask_n(&ctx, s, "127.0.0.1", www, LDNS_RR_TYPE_A, 50), 50, 0, 0,
                 "127.0.0.1: loopback is exempt by default");
    expect_tally(ask_n(&ctx, s, "127.9.9.9", www, LDNS_RR_TYPE_A, 50), 50, 0, 0, "127.9.9.9");
    expect_tally(ask_n(&ctx, s, "::1", www, LDNS_RR_TYPE_A, 50), 50, 0, 0, "::1");
    tally_t t = ask_n(&ctx, s, "192.0.2.1", www, LDNS_RR_TYPE_A, 50);
    cr_expect_eq(t.answered, 5, "192.0.2.1 is not: %u", t.answered);
    rrl_free(ctx.rrl);

    cfg.n_exempt = 0;
    cr_assert_eq(rrl_net_parse("198.51.100.0/24", &net), 0);
    cfg.exempt[cfg.n_exempt++] = net;
    cr_assert_eq(rrl_net_parse("2001:db8::/32", &net), 0);
    cfg.exempt[cfg.n_exempt++] = net;
    ctx.rrl = rrl_new(&cfg, seed, &clock_us);
    expect_tally(ask_n(&ctx, s, "198.51.100.9", www, LDNS_RR_TYPE_A, 20), 20, 0, 0,
                 "198.51.100.9 in an exempt /24");
    expect_tally(ask_n(&ctx, s, "2001:db8:1:2::3", www, LDNS_RR_TYPE_A, 20), 20, 0, 0,
                 "2001:db8:1:2::3 in an exempt /32");
    t = ask_n(&ctx, s, "127.0.0.1", www, LDNS_RR_TYPE_A, 20);
    cr_expect_eq(t.answered, 5, "loopback no longer exempt once the list is given: %u",
                 t.answered);
    rrl_free(ctx.rrl);
    snapshot_free(s);
}

Test(rrl, net_parse_takes_an_address_and_prefix)
{
    rrl_net_t n;

    cr_expect_eq(rrl_net_parse("10.0.0.0/8", &n), 0);
    cr_expect(!n.v6 && n.prefix == 8 && n.addr[0] == 10);
    cr_expect_eq(rrl_net_parse("192.0.2.1", &n), 0, "an address alone is a /32");
    cr_expect_eq(n.prefix, 32);
    cr_expect_eq(rrl_net_parse("::1", &n), 0);
    cr_expect(n.v6 && n.prefix == 128 && n.addr[15] == 1);
    const char *bad[] = {"10.0.0.0/33", "::/129", "10.0.0.0/", "nonsense", "10.0.0.0/8x", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(rrl_net_parse(bad[i], &n), -EINVAL, "'%s'", bad[i]);
    }
}

Test(rrl, log_mode_answers_everything_and_counts_what_it_would_limit)
{
    snapshot_t *s = load(EXAMPLE);
    rrl_config_t cfg;

    rrl_config_default(&cfg);
    cfg.rate = 10;
    cfg.n_exempt = 0;
    cfg.mode = RRL_LOG;
    answer_ctx_t ctx = {
        .clock = &clock_us, .rrl = rrl_new(&cfg, seed, &clock_us), .qflow = &counts};
    expect_tally(ask_n(&ctx, s, "192.0.2.1", "www.gslb.example.com", LDNS_RR_TYPE_A, 30), 30, 0,
                 0, "log only: all answered");
    rrl_stats_t st;
    rrl_stats(ctx.rrl, &st);
    cr_expect_eq(st.logged, 20, "20 would have been limited: %llu",
                 (unsigned long long)st.logged);
    cr_expect_eq(st.dropped + st.slipped, 0);
    rrl_free(ctx.rrl);
    snapshot_free(s);
}

Test(rrl, a_clock_stepped_back_does_not_lock_clients_out)
{
    snapshot_t *s = load(EXAMPLE);
    answer_ctx_t ctx = limited_ctx(10, 0);

    ask_n(&ctx, s, "192.0.2.1", "www.gslb.example.com", LDNS_RR_TYPE_A, 20);
    clock_us -= 3600ull * 1000000u; /* NTP stepped the clock back an hour */
    expect_tally(ask_n(&ctx, s, "192.0.2.1", "www.gslb.example.com", LDNS_RR_TYPE_A, 1), 1, 0, 0,
                 "answered at once, not in an hour");
    clock_us += 3600ull * 1000000u;
    rrl_free(ctx.rrl);
    snapshot_free(s);
}

/* RFC 7873 / RFC 9018 cookies with the rate limiter. */
static const uint8_t secret[16] = {0xe5, 0xe9, 0x73, 0xe5, 0xa6, 0xb2, 0xa4, 0x3f,
                                   0x48, 0xe7, 0xdc, 0x84, 0x9e, 0x37, 0xbf, 0xcf};

/* www.gslb.example.com A with a COOKIE option of `len` bytes. */
static size_t cookie_query(uint8_t *q, const uint8_t *cookie, size_t len)
{
    size_t n = make(q, "www.gslb.example.com", LDNS_RR_TYPE_A, false);
    const uint8_t opt[15] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, (uint8_t)(4 + len),
                             0, 10, 0, (uint8_t)len};

    q[11] = 1;
    memcpy(q + n, opt, 15);
    memcpy(q + n + 15, cookie, len);
    return n + 15 + len;
}

Test(rrl, a_valid_server_cookie_is_never_limited_rfc7873_5_2_5)
{
    snapshot_t *s = load(EXAMPLE);
    answer_ctx_t ctx = limited_ctx(10, 2);
    struct sockaddr_storage from = addr_of("192.0.2.1");
    uint8_t q[512], out[ENCODE_UDP_MAX], cookie[24] = {1, 2, 3, 4, 5, 6, 7, 8};

    ctx.cookie_secret = secret;
    size_t qlen = cookie_query(q, cookie, 8);
    size_t n = engine_reply(&ctx, s, (struct sockaddr *)&from, q, qlen, out, false);
    cr_assert_gt(n, 28);
    memcpy(cookie, out + n - 24, 24); /* the cookie option ends the reply */
    cr_assert_eq(memcmp(cookie, "\1\2\3\4\5\6\7\10", 8), 0);
    qlen = cookie_query(q, cookie, 24);
    expect_tally(burst(&ctx, s, "192.0.2.1", q, qlen, 100), 100, 0, 0,
                 "a client that proved its address with our cookie");
    /* It used none of its network's budget: the first query (a client
     * cookie alone) took one of ten, nine are left. */
    expect_tally(ask_n(&ctx, s, "192.0.2.1", "www.gslb.example.com", LDNS_RR_TYPE_A, 12), 9, 1,
                 2, "the same network without the cookie: what was left of its budget");
    rrl_free(ctx.rrl);
    snapshot_free(s);
}

Test(rrl, a_client_cookie_alone_slips_as_badcookie_rfc7873_5_2_3)
{
    snapshot_t *s = load(EXAMPLE);
    answer_ctx_t ctx = limited_ctx(10, 2);
    struct sockaddr_storage from = addr_of("192.0.2.1");
    uint8_t q[512], out[ENCODE_UDP_MAX];
    const uint8_t client[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    ctx.cookie_secret = secret;
    size_t qlen = cookie_query(q, client, 8);
    expect_tally(burst(&ctx, s, "192.0.2.1", q, qlen, 30), 10, 10, 10,
                 "a client cookie alone proves nothing: limited");
    /* The next limited reply slips (30 limited so far would be even; slip 2). */
    size_t n = 0;
    for (int i = 0; i < 2 && n == 0; i++) {
        n = engine_reply(&ctx, s, (struct sockaddr *)&from, q, qlen, out, false);
    }
    cr_assert_gt(n, 0);
    cr_expect_eq(out[2] & 0x02, 0, "no TC: the client can retry over UDP with the cookie");
    cr_expect_eq(out[3] & 0x0f, 23 & 0x0f, "BADCOOKIE (23): its low four bits in the header");
    const uint8_t tail[4] = {0, 10, 0, 24}; /* COOKIE, 24 bytes: ends the reply */
    cr_expect_eq(memcmp(out + n - 28, tail, 4), 0, "with a cookie option");
    cr_expect_eq(memcmp(out + n - 24, client, 8), 0, "the client's cookie");
    cr_expect_eq(out[n - 16], 1, "and a server cookie of ours (RFC 9018 version 1)");
    cr_expect_eq(out[n - 28 - 6], 1, "extended RCODE 1: 16 + 7 = 23");
    rrl_free(ctx.rrl);
    snapshot_free(s);
}
