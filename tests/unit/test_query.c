/*
 * Unit tests for query decoding (gslbd/query.c): the header checks, the
 * question, and EDNS, on raw packets built byte by byte.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "gslbd/engine/query.h"

/* A query for www.Example.COM A, ID 0x1234, RD set; callers patch bytes. */
static const uint8_t base_query[] = {
    0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
    3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'C', 'O', 'M', 0,
    0, 1, 0, 1,
};

/* The same with an OPT record: size 4096, version `ver`, DO set. */
static size_t with_opt(uint8_t *buf, uint8_t ver, const uint8_t *rdata, uint16_t rdlen)
{
    size_t n = sizeof(base_query);

    memcpy(buf, base_query, n);
    buf[11] = 1; /* ARCOUNT */
    const uint8_t opt[] = {0, 0, 41, 0x10, 0x00, 0, ver, 0x80, 0, (uint8_t)(rdlen >> 8),
                           (uint8_t)rdlen};
    memcpy(buf + n, opt, sizeof(opt));
    if (rdlen > 0) {
        memcpy(buf + n + sizeof(opt), rdata, rdlen);
    }
    return n + sizeof(opt) + rdlen;
}

Test(query, plain_question_is_lower_cased_and_hashed)
{
    query_t q;

    cr_assert_eq(query_parse(&q, base_query, sizeof(base_query)), QUERY_OK);
    cr_assert_eq(q.qlen, 17);
    cr_assert_eq(memcmp(q.qname, "\3www\7example\3com", 17), 0);
    cr_assert_eq(q.hash, dname_hash(q.qname, q.qlen));
    cr_assert_eq(q.nlabels, 3);
    cr_assert_eq(q.loff[1], 4);
    cr_assert_eq(q.qtype, 1);
    cr_assert_eq(q.qclass, 1);
    cr_assert_eq(q.qend, sizeof(base_query));
    cr_assert_not(q.edns);
    cr_assert_eq(q.udp_size, 512, "RFC 1035 4.2.1: 512 without EDNS");
}

Test(query, short_or_response_packets_are_dropped)
{
    query_t q;
    uint8_t pkt[sizeof(base_query)];

    cr_assert_eq(query_parse(&q, base_query, 11), QUERY_DROP, "shorter than a header");
    memcpy(pkt, base_query, sizeof(pkt));
    pkt[2] |= 0x80;
    cr_assert_eq(query_parse(&q, pkt, sizeof(pkt)), QUERY_DROP, "QR set: never answer a response");
}

typedef struct {
    const char *what;
    size_t at;    /* byte to patch */
    uint8_t val;
    size_t len;   /* 0: whole packet */
    size_t at2;   /* a second byte to patch, 0: none */
    uint8_t val2;
    query_status_t want;
} patch_case_t;

Test(query, malformed_questions_are_formerr)
{
    const patch_case_t cases[] = {
        {"QDCOUNT 0", 5, 0, 0, 0, 0, QUERY_FORMERR},
        {"QDCOUNT 2", 5, 2, 0, 0, 0, QUERY_FORMERR},
        {"truncated question name", 0, 0x12, 20, 0, 0, QUERY_FORMERR},
        {"truncated type/class", 0, 0x12, sizeof(base_query) - 2, 0, 0, QUERY_FORMERR},
        {"label length 64 (RFC 1035 2.3.4)", 12, 64, 0, 0, 0, QUERY_FORMERR},
        {"compression pointer in question", 12, 0xc0, 0, 0, 0, QUERY_FORMERR},
        {"opcode STATUS (RFC 1035 4.1.1)", 2, 0x11, 0, 0, 0, QUERY_NOTIMP},
        {"opcode NOTIFY without a question is NOTIMP", 2, 0x21, 0, 5, 0, QUERY_NOTIMP},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t pkt[sizeof(base_query)];
        query_t q;
        memcpy(pkt, base_query, sizeof(pkt));
        pkt[cases[i].at] = cases[i].val;
        if (cases[i].at2 != 0) {
            pkt[cases[i].at2] = cases[i].val2;
        }
        size_t len = cases[i].len ? cases[i].len : sizeof(pkt);
        cr_expect_eq(query_parse(&q, pkt, len), cases[i].want, "%s", cases[i].what);
    }
}

Test(query, edns_opt_is_read)
{
    uint8_t pkt[128];
    const uint8_t unknown[] = {0xfd, 0xe9, 0, 2, 0xab, 0xcd};
    query_t q;
    size_t n = with_opt(pkt, 0, unknown, sizeof(unknown));

    cr_assert_eq(query_parse(&q, pkt, n), QUERY_OK, "RFC 6891 6.1.2: unknown options ignored");
    cr_assert(q.edns);
    cr_assert(q.dnssec_ok);
    cr_assert_eq(q.udp_size, 4096);
}

Test(query, edns_version_1_is_badvers)
{
    uint8_t pkt[128];
    query_t q;
    size_t n = with_opt(pkt, 1, NULL, 0);

    cr_assert_eq(query_parse(&q, pkt, n), QUERY_BADVERS, "RFC 6891 6.1.3");
}

Test(query, bad_opt_is_formerr)
{
    uint8_t pkt[128];
    const uint8_t overrun[] = {0, 8, 0, 9, 1};
    query_t q;
    size_t n = with_opt(pkt, 0, overrun, sizeof(overrun));

    cr_assert_eq(query_parse(&q, pkt, n), QUERY_FORMERR, "option longer than its RDATA");
    n = with_opt(pkt, 0, NULL, 0);
    cr_assert_eq(query_parse(&q, pkt, n - 1), QUERY_FORMERR, "OPT cut short");
    /* two OPT records, RFC 6891 6.1.1 */
    memcpy(pkt + n, pkt + sizeof(base_query), 11);
    pkt[11] = 2;
    cr_assert_eq(query_parse(&q, pkt, n + 11), QUERY_FORMERR, "two OPT records");
}

Test(query, small_edns_size_is_treated_as_512)
{
    uint8_t pkt[128];
    query_t q;
    size_t n = with_opt(pkt, 0, NULL, 0);

    pkt[sizeof(base_query) + 3] = 0;
    pkt[sizeof(base_query) + 4] = 100;
    cr_assert_eq(query_parse(&q, pkt, n), QUERY_OK);
    cr_assert_eq(q.udp_size, 512, "RFC 6891 6.2.5");
}

/* An ECS option: family, source prefix, scope, then `alen` address bytes. */
static size_t with_ecs(uint8_t *buf, uint16_t family, uint8_t source, uint8_t scope,
                       const uint8_t *addr, uint8_t alen)
{
    uint8_t opt[32] = {0, 8, 0, (uint8_t)(4 + alen), 0, (uint8_t)family, source, scope};

    memcpy(opt + 8, addr, alen);
    return with_opt(buf, 0, opt, (uint16_t)(8 + alen));
}

Test(query, ecs_is_read)
{
    uint8_t pkt[128];
    const uint8_t a[] = {81, 2, 69};
    query_t q;
    size_t n = with_ecs(pkt, 1, 24, 0, a, 3);

    cr_assert_eq(query_parse(&q, pkt, n), QUERY_OK);
    cr_assert(q.ecs);
    cr_assert_eq(q.ecs_family, 1);
    cr_assert_eq(q.ecs_source, 24);
    cr_assert_eq(memcmp(q.ecs_addr, "\x51\x02\x45\x00", 4), 0);
    n = with_ecs(pkt, 2, 0, 0, a, 0);
    cr_assert_eq(query_parse(&q, pkt, n), QUERY_OK, "source prefix 0 is valid (RFC 7871 7.1.2)");
    cr_assert_eq(q.ecs_source, 0);
}

Test(query, malformed_ecs_is_formerr)
{
    const uint8_t a[17] = {81, 2, 69, 1};
    const uint8_t odd[] = {81, 2, 69 | 1};
    uint8_t pkt[128];
    query_t q;
    struct {
        uint16_t family;
        uint8_t source;
        const uint8_t *addr;
        uint8_t alen;
        const char *what;
    } bad[] = {
        {3, 24, a, 3, "RFC 7871 6: family 3 is unknown"},
        {1, 33, a, 5, "RFC 7871 6: IPv4 prefix 33"},
        {2, 129, a, 17, "RFC 7871 6: IPv6 prefix 129"},
        {1, 24, a, 4, "RFC 7871 6: address longer than the prefix needs"},
        {1, 24, a, 2, "RFC 7871 6: address shorter than the prefix needs"},
        {1, 23, odd, 3, "RFC 7871 6: bits set beyond the source prefix"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = with_ecs(pkt, bad[i].family, bad[i].source, 0, bad[i].addr, bad[i].alen);
        cr_expect_eq(query_parse(&q, pkt, n), QUERY_FORMERR, "%s", bad[i].what);
    }
}

/* The hash as first defined, with a byte loop for the last partial word: the
 * snapshot's buckets and the query path must keep agreeing with it. */
static uint32_t reference_hash(const uint8_t *name, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len, w;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        w = 0;
        for (size_t k = 0; k < 8; k++) {
            w |= (uint64_t)name[i + k] << (8 * k);
        }
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    if (i < len) {
        w = 0;
        for (size_t k = 0; i + k < len; k++) {
            w |= (uint64_t)name[i + k] << (8 * k);
        }
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return (uint32_t)h;
}

Test(query, dname_hash_keeps_its_values)
{
    for (size_t len = 1; len <= DNAME_MAX; len++) {
        /* Exactly `len` bytes on the heap: AddressSanitizer sees any overread. */
        uint8_t *name = malloc(len);
        cr_assert_not_null(name);
        for (size_t i = 0; i < len; i++) {
            name[i] = (uint8_t)(len * 31 + i * 7);
        }
        cr_assert_eq(dname_hash(name, len), reference_hash(name, len), "length %zu", len);
        free(name);
    }
}

/* A wire name of exactly `len` bytes (3 to 256): labels of up to 63 bytes
 * with letters of both cases, digits, and bytes the lower-casing must leave
 * alone ('@', '[', '_', '`', '{', bytes above 127). */
static unsigned make_name(uint8_t *name, size_t len, unsigned seed)
{
    static const uint8_t pool[] = "aZ09-_@[`{AzMm\xc1\xda\xe1\x80\xff";
    size_t i = 0;
    unsigned labels = 0;

    while (i + 1 < len) {
        size_t rem = len - 1 - i, n = 1 + (seed + i) % 63; /* rem: room before the root */
        if (rem <= 64) {
            n = rem - 1;
        } else if (rem - (n + 1) == 1) {
            n--; /* never leave a single byte */
        }
        name[i] = (uint8_t)n;
        for (size_t k = 1; k <= n; k++) {
            name[i + k] = pool[(seed * 7 + i + k) % (sizeof(pool) - 1)];
        }
        i += n + 1;
        labels++;
    }
    name[len - 1] = 0;
    return labels;
}

/* A query for `name`, in a buffer of exactly the packet's size so that
 * AddressSanitizer sees any read past its end. `tail` bytes of the question
 * are kept after the name: 4 for a whole question, fewer to cut it short. */
static uint8_t *name_query(const uint8_t *name, size_t len, size_t tail, size_t *n)
{
    uint8_t *pkt = malloc(12 + len + tail);
    const uint8_t question[4] = {0, 28, 0, 1};

    cr_assert_not_null(pkt);
    memcpy(pkt, base_query, 12);
    memcpy(pkt + 12, name, len);
    memcpy(pkt + 12 + len, question, tail);
    *n = 12 + len + tail;
    return pkt;
}

Test(query, names_of_every_length_are_copied_lower_cased_and_hashed)
{
    for (size_t len = 3; len <= DNAME_MAX; len++) {
        uint8_t name[DNAME_MAX], lower[DNAME_MAX];
        unsigned labels = make_name(name, len, (unsigned)len);
        size_t n;
        uint8_t *pkt = name_query(name, len, 4, &n);
        query_t q;

        for (size_t i = 0; i < len; i++) {
            lower[i] = dname_lower(name[i]);
        }
        cr_assert_eq(query_parse(&q, pkt, n), QUERY_OK, "length %zu", len);
        cr_assert_eq(q.qlen, len);
        cr_assert_eq(memcmp(q.qname, lower, len), 0, "length %zu", len);
        cr_assert_eq(q.hash, reference_hash(lower, len), "length %zu", len);
        cr_assert_eq(q.hash, dname_hash(lower, len), "length %zu", len);
        cr_assert_eq(q.nlabels, labels, "length %zu", len);
        for (unsigned l = 0, off = 0; l < labels; off += name[off] + 1u, l++) {
            cr_assert_eq(q.loff[l], off, "length %zu label %u", len, l);
        }
        cr_assert_eq(q.qtype, 28);
        cr_assert_eq(q.qend, n);
        free(pkt);
    }
}

Test(query, root_and_lower_case_names)
{
    const uint8_t root[] = {0};
    const uint8_t lower[] = "\3www\5bench\4gslb\4test"; /* 21 bytes with the root */
    size_t n;
    uint8_t *pkt = name_query(root, 1, 4, &n);
    query_t q;

    cr_assert_eq(query_parse(&q, pkt, n), QUERY_OK);
    cr_assert_eq(q.qlen, 1);
    cr_assert_eq(q.nlabels, 0);
    cr_assert_eq(q.qname[0], 0);
    cr_assert_eq(q.hash, reference_hash(root, 1));
    free(pkt);
    pkt = name_query(lower, sizeof(lower), 4, &n);
    cr_assert_eq(query_parse(&q, pkt, n), QUERY_OK);
    cr_assert_eq(memcmp(q.qname, lower, sizeof(lower)), 0);
    cr_assert_eq(q.hash, reference_hash(lower, sizeof(lower)));
    free(pkt);
}

Test(query, names_over_255_bytes_are_formerr)
{
    uint8_t name[DNAME_MAX + 1];
    size_t n;

    make_name(name, sizeof(name), 3);
    uint8_t *pkt = name_query(name, sizeof(name), 4, &n);
    query_t q;
    cr_assert_eq(query_parse(&q, pkt, n), QUERY_FORMERR, "RFC 1035 3.1: 255 bytes at most");
    free(pkt);
}

Test(query, packets_ending_in_the_question)
{
    for (size_t len = 3; len <= 40; len++) {
        uint8_t name[64];
        query_t q;
        size_t n;
        make_name(name, len, 5);
        for (size_t tail = 0; tail < 4; tail++) {
            uint8_t *pkt = name_query(name, len, tail, &n);
            cr_assert_eq(query_parse(&q, pkt, n), QUERY_FORMERR, "length %zu, %zu bytes", len,
                         tail);
            free(pkt);
        }
        /* The name cut short, down to its first byte. */
        for (size_t cut = 1; cut < len; cut++) {
            uint8_t *pkt = name_query(name, cut, 0, &n);
            cr_assert_eq(query_parse(&q, pkt, n), QUERY_FORMERR, "cut to %zu", cut);
            free(pkt);
        }
    }
}

/* A query with the given additional section (and counts), exactly sized. */
static query_status_t parse_with(query_t *q, uint16_t an, uint16_t ar, const uint8_t *rest,
                                 size_t rlen)
{
    uint8_t *pkt = malloc(sizeof(base_query) + rlen);
    query_status_t st;

    cr_assert_not_null(pkt);
    memcpy(pkt, base_query, sizeof(base_query));
    pkt[7] = (uint8_t)an;
    pkt[11] = (uint8_t)ar;
    memcpy(pkt + sizeof(base_query), rest, rlen);
    st = query_parse(q, pkt, sizeof(base_query) + rlen);
    free(pkt);
    return st;
}

Test(query, opt_is_found_wherever_the_additional_section_has_it)
{
    /* A TXT record owned by the question name (a pointer), then the OPT. */
    const uint8_t txt_then_opt[] = {0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, 'x',
                                    0,    0,  41, 0x10, 0, 0, 0, 0x80, 0, 0, 0};
    const uint8_t txt_only[] = {0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, 'x'};
    const uint8_t opt_not_root[] = {1, 'a', 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0};
    query_t q;

    cr_assert_eq(parse_with(&q, 0, 2, txt_then_opt, sizeof(txt_then_opt)), QUERY_OK);
    cr_assert(q.edns);
    cr_assert(q.dnssec_ok);
    cr_assert_eq(q.udp_size, 4096);
    cr_assert_eq(parse_with(&q, 0, 1, txt_only, sizeof(txt_only)), QUERY_OK);
    cr_assert_not(q.edns);
    cr_assert_eq(parse_with(&q, 0, 1, opt_not_root, sizeof(opt_not_root)), QUERY_FORMERR,
                 "RFC 6891 6.1.1: the OPT owner is the root");
    cr_assert_eq(parse_with(&q, 1, 0, opt, sizeof(opt)), QUERY_FORMERR,
                 "RFC 6891 6.1.1: OPT only in the additional section");
    cr_assert_eq(parse_with(&q, 0, 1, opt, sizeof(opt) - 1), QUERY_FORMERR, "OPT cut short");
}

Test(query, ecs_addresses_of_every_length)
{
    /* RFC 7871 6: as many address bytes as the prefix needs, zero-padded. */
    const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                            0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22, 0x33, 0x44};

    for (unsigned source = 0; source <= 128; source += 8) {
        uint8_t pkt[128], want[16] = {0};
        query_t q;
        size_t n = with_ecs(pkt, 2, (uint8_t)source, 0, v6, (uint8_t)(source / 8));
        memcpy(want, v6, source / 8);
        cr_assert_eq(query_parse(&q, pkt, n), QUERY_OK, "/%u", source);
        cr_assert(q.ecs);
        cr_assert_eq(q.ecs_family, 2);
        cr_assert_eq(q.ecs_source, source);
        cr_assert_eq(memcmp(q.ecs_addr, want, 16), 0, "/%u", source);
    }
}

Test(query, second_ecs_option_is_formerr)
{
    const uint8_t two[] = {0, 8, 0, 7, 0, 1, 24, 0, 81, 2, 69, 0, 8, 0, 7, 0, 1, 24, 0, 81, 2, 69};
    uint8_t pkt[128];
    query_t q;
    size_t n = with_opt(pkt, 0, two, sizeof(two));

    cr_assert_eq(query_parse(&q, pkt, n), QUERY_FORMERR, "RFC 7871 7.1.2");
}

Test(query, lower_casing_changes_only_letters)
{
    /* Names with bytes that have bit 6 set and bit 5 clear, the ones query.c
     * looks at to decide whether to lower-case. sizeof counts the string's
     * terminating NUL: the root label. */
#define WIRE(s) {s, sizeof(s)}
    const struct {
        const char *name;
        size_t len;
    } cases[] = {
        WIRE("\4_sip\4_tcp\3www\7example\3com"), /* '_' but no capital */
        WIRE("\1@\1[\1\\\1]\1^\1_\1\xc1\1\xdf"),
        WIRE("\3www\7example\3coM"), /* a capital in the last word only */
        WIRE("\3Www\7example\3com"), /* in the first word only */
        WIRE("\7EXAMPLE"),
    };
#undef WIRE

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const uint8_t *name = (const uint8_t *)cases[i].name;
        uint8_t lower[DNAME_MAX];
        size_t n, len = cases[i].len;
        uint8_t *pkt = name_query(name, len, 4, &n);
        query_t q;

        for (size_t k = 0; k < len; k++) {
            lower[k] = dname_lower(name[k]);
        }
        cr_assert_eq(query_parse(&q, pkt, n), QUERY_OK, "case %zu", i);
        cr_assert_eq(q.qlen, len, "case %zu", i);
        cr_assert_eq(memcmp(q.qname, lower, len), 0, "case %zu", i);
        cr_assert_eq(q.hash, reference_hash(lower, len), "case %zu", i);
        free(pkt);
    }
}

/* RFC 6891 7: a reply to a request with an OPT has one, whatever the opcode,
 * so the OPT of a query gslbd does not implement is read too. */
Test(query, opt_is_read_whatever_the_opcode_rfc6891_7)
{
    uint8_t pkt[128];
    query_t q;
    size_t n = with_opt(pkt, 0, NULL, 0);

    pkt[2] = 0x20; /* opcode NOTIFY (4) */
    cr_assert_eq(query_parse(&q, pkt, n), QUERY_NOTIMP);
    cr_assert(q.edns, "NOTIFY with an OPT: its OPT is read");
    cr_assert_eq(q.udp_size, 4096);
    cr_assert(q.dnssec_ok);
    cr_assert_eq(q.qend, sizeof(base_query), "the question is echoed");

    /* DSO (opcode 6, RFC 8490) has no question: the records follow the header. */
    uint8_t dso[12 + 11] = {0x12, 0x34, 0x30, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                            0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(query_parse(&q, dso, sizeof(dso)), QUERY_NOTIMP);
    cr_assert(q.edns, "no question, then an OPT: read");
    cr_assert_eq(q.qend, 0);
    cr_assert_eq(q.udp_size, 1232);

    /* The version is not checked for an opcode that is not implemented anyway. */
    n = with_opt(pkt, 1, NULL, 0);
    pkt[2] = 0x28; /* opcode UPDATE (5) */
    cr_assert_eq(query_parse(&q, pkt, n), QUERY_NOTIMP);
    cr_assert(q.edns);
    /* A broken OPT does not turn NOTIMP into FORMERR, and gets no OPT back. */
    n = with_opt(pkt, 0, NULL, 0);
    pkt[2] = 0x20;
    cr_assert_eq(query_parse(&q, pkt, n - 1), QUERY_NOTIMP);
    cr_assert_not(q.edns);
}

/* A TSIG record (RFC 8945 4.2) for key "k.example" with hmac-sha256, a
 * 32-byte MAC, original ID 0x1234: what a signed query ends with. */
static size_t tsig_rr(uint8_t *p)
{
    static const uint8_t rr[] = {
        1, 'k', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, /* owner: the key's name */
        0, 250, 0, 255, 0, 0, 0, 0,                      /* TSIG, ANY, TTL 0 */
        0, 11 + 10 + 32 + 6,                             /* RDLENGTH */
        11, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', '2', '5', '6', 0, /* algorithm */
    };
    size_t n = sizeof(rr);

    memcpy(p, rr, n);
    p[20] = 13 + 10 + 32 + 6; /* the algorithm name is 13 bytes */
    const uint8_t fixed[10] = {0, 0, 0x65, 0x53, 0xf1, 0x00, 1, 44, 0, 32}; /* time, fudge, MAC size */
    memcpy(p + n, fixed, 10);
    n += 10;
    memset(p + n, 0xaa, 32); /* the MAC */
    n += 32;
    const uint8_t tail[6] = {0x12, 0x34, 0, 0, 0, 0}; /* original ID, error, other length */
    memcpy(p + n, tail, 6);
    return n + 6;
}

Test(query, tsig_signed_query_is_badkey_rfc8945_5_2)
{
    uint8_t pkt[256];
    query_t q;
    size_t n = sizeof(base_query);

    memcpy(pkt, base_query, n);
    pkt[11] = 1;
    size_t at = n;
    n += tsig_rr(pkt + n);
    cr_assert_eq(query_parse(&q, pkt, n), QUERY_BADKEY, "RFC 8945 5.2.1: we know no key");
    cr_assert_eq(q.tsig, at);
    cr_assert_not(q.edns);

    n = with_opt(pkt, 0, NULL, 0); /* OPT, then TSIG last */
    pkt[11] = 2;
    at = n;
    n += tsig_rr(pkt + n);
    cr_assert_eq(query_parse(&q, pkt, n), QUERY_BADKEY);
    cr_assert_eq(q.tsig, at);
    cr_assert(q.edns, "the OPT before it is read");
    cr_assert_eq(query_parse(&q, base_query, sizeof(base_query)), QUERY_OK);
    cr_assert_eq(q.tsig, 0, "no TSIG: 0");
}

Test(query, misplaced_or_broken_tsig_is_formerr_rfc8945_5_2)
{
    uint8_t pkt[256], tsig[128];
    query_t q;
    size_t tlen = tsig_rr(tsig), n = sizeof(base_query);

    /* TSIG, then an OPT: not last. */
    memcpy(pkt, base_query, n);
    pkt[11] = 2;
    memcpy(pkt + n, tsig, tlen);
    const uint8_t opt[11] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
    memcpy(pkt + n + tlen, opt, 11);
    cr_expect_eq(query_parse(&q, pkt, n + tlen + 11), QUERY_FORMERR, "TSIG not last");
    /* Two TSIG records. */
    memcpy(pkt + n + tlen, tsig, tlen);
    cr_expect_eq(query_parse(&q, pkt, n + 2 * tlen), QUERY_FORMERR, "two TSIG records");
    /* In the answer section. */
    pkt[7] = 1;
    pkt[11] = 0;
    cr_expect_eq(query_parse(&q, pkt, n + tlen), QUERY_FORMERR, "TSIG in the answer section");
    /* Its fields run past its RDATA. */
    pkt[7] = 0;
    pkt[11] = 1;
    pkt[n + 20] = 13 + 10; /* RDLENGTH cut to the algorithm and the first fields */
    cr_expect_eq(query_parse(&q, pkt, n + 11 + 10 + 13 + 10), QUERY_FORMERR,
                 "RFC 8945 4.2: MAC and the rest missing");
}

Test(query, tsig_on_an_opcode_we_do_not_implement_is_badkey_too)
{
    uint8_t pkt[256];
    query_t q;
    size_t n = sizeof(base_query);

    memcpy(pkt, base_query, n);
    pkt[2] = 0x20; /* NOTIFY */
    pkt[11] = 1;
    n += tsig_rr(pkt + n);
    cr_assert_eq(query_parse(&q, pkt, n), QUERY_BADKEY, "RFC 8945 5.2.1: the key is unknown");
}

/* A COOKIE option (RFC 7873 4) of `len` bytes 0x11, 0x12, ... in an OPT. */
static size_t with_cookie(uint8_t *buf, size_t len)
{
    uint8_t opt[64] = {0, 10, 0, (uint8_t)len};

    for (size_t i = 0; i < len; i++) {
        opt[4 + i] = (uint8_t)(0x11 + i);
    }
    return with_opt(buf, 0, opt, (uint16_t)(4 + len));
}

Test(query, cookie_option_is_read_rfc7873_4)
{
    uint8_t pkt[128];
    query_t q;
    const size_t good[] = {8, 16, 24, 40}; /* a client cookie, with a server cookie of 8 to 32 */

    cr_assert_eq(query_parse(&q, base_query, sizeof(base_query)), QUERY_OK);
    cr_assert_eq(q.cookie_len, 0, "no OPT: no cookie");
    for (size_t i = 0; i < 4; i++) {
        size_t n = with_cookie(pkt, good[i]);
        cr_expect_eq(query_parse(&q, pkt, n), QUERY_OK, "%zu bytes", good[i]);
        cr_expect_eq(q.cookie_len, good[i]);
        cr_expect_eq(q.cookie[0], 0x11);
        cr_expect_eq(q.cookie[good[i] - 1], 0x11 + good[i] - 1);
    }
    /* Two COOKIE options: RFC 7873 gives no rule; the first is taken. */
    uint8_t two[4 + 8 + 4 + 16] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 0, 16};
    size_t n = with_opt(pkt, 0, two, sizeof(two));
    cr_assert_eq(query_parse(&q, pkt, n), QUERY_OK);
    cr_assert_eq(q.cookie_len, 8);
    cr_assert_eq(q.cookie[7], 8);
}

Test(query, malformed_cookie_is_formerr_rfc7873_5_2_2)
{
    uint8_t pkt[128];
    query_t q;
    const size_t bad[] = {0, 7, 9, 15, 41};

    for (size_t i = 0; i < 5; i++) {
        size_t n = with_cookie(pkt, bad[i]);
        cr_expect_eq(query_parse(&q, pkt, n), QUERY_FORMERR, "a cookie of %zu bytes", bad[i]);
    }
}
