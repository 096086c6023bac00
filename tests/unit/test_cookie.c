/*
 * Unit tests for DNS cookies (gslbd/engine/cookie.c): SipHash-2-4 against
 * the vectors of its paper, and server cookies (RFC 9018) against the
 * examples of RFC 9018 Appendix A, made and checked byte for byte.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "gslbd/engine/cookie.h"

static void unhex(const char *hex, uint8_t *out)
{
    for (size_t i = 0; hex[2 * i] != '\0'; i++) {
        unsigned v;
        cr_assert_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

Test(cookie, siphash24_matches_the_reference_vectors)
{
    uint8_t key[16], msg[64];

    for (int i = 0; i < 16; i++) {
        key[i] = (uint8_t)i;
    }
    for (int i = 0; i < 64; i++) {
        msg[i] = (uint8_t)i;
    }
    /* Aumasson and Bernstein, "SipHash: a fast short-input PRF", Appendix A,
     * and the first and eighth entries of the reference vectors.h. */
    cr_assert_eq(cookie_siphash24(key, msg, 15), 0xa129ca6149be45e5ull);
    cr_assert_eq(cookie_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ull);
    cr_assert_eq(cookie_siphash24(key, msg, 7), 0xab0200f58b01d137ull);
    cr_assert_eq(cookie_siphash24(key, msg, 8), 0x93f5f5799a932462ull);
}

/* RFC 9018 Appendix A's secret, and a client address as bytes. */
static const char *secret_a = "e5e973e5a6b2a43f48e7dc849e37bfcf";

static size_t addr(const char *text, uint8_t *out)
{
    if (inet_pton(AF_INET, text, out) == 1) {
        return 4;
    }
    cr_assert_eq(inet_pton(AF_INET6, text, out), 1);
    return 16;
}

Test(cookie, server_cookies_are_made_as_rfc9018_appendix_a)
{
    struct {
        const char *what, *secret, *client, *ip;
        uint32_t now;
        const char *want;
    } cases[] = {
        {"A.1: learning a new server cookie", secret_a, "2464c4abcf10c957", "198.51.100.100",
         1559731985, "010000005cf79f111f8130c3eee29480"},
        {"A.2: the same client, a renewed cookie", secret_a, "2464c4abcf10c957", "198.51.100.100",
         1559734385, "010000005cf7a871d4a564a1442aca77"},
        {"A.3: another client", secret_a, "fc93fc62807ddb86", "203.0.113.203", 1559734700,
         "010000005cf7a9acf73a7810aca2381e"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t secret[16], client[8], ip[16], want[16], got[16];
        unhex(cases[i].secret, secret);
        unhex(cases[i].client, client);
        unhex(cases[i].want, want);
        size_t iplen = addr(cases[i].ip, ip);
        cookie_make(secret, client, ip, iplen, cases[i].now, got);
        cr_expect_eq(memcmp(got, want, 16), 0, "RFC 9018 %s", cases[i].what);
    }
}

Test(cookie, server_cookies_are_checked_as_rfc9018_appendix_a)
{
    struct {
        const char *what, *secret, *cookie, *ip;
        uint32_t now;
        cookie_check_t want;
    } cases[] = {
        {"A.2: the cookie of A.1, 40 minutes old: valid, to renew", secret_a,
         "2464c4abcf10c957010000005cf79f111f8130c3eee29480", "198.51.100.100", 1559734385,
         COOKIE_RENEW},
        {"A.1's cookie a minute later: valid, kept", secret_a,
         "2464c4abcf10c957010000005cf79f111f8130c3eee29480", "198.51.100.100", 1559732045,
         COOKIE_VALID},
        {"A.3: reserved bytes the client set are hashed as received", secret_a,
         "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.203", 1559727985 + 60,
         COOKIE_VALID},
        {"A.3's cookie when the example sends it, 1 h 52 min old: expired (RFC 9018 4.3)",
         secret_a, "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.203",
         1559734700, COOKIE_INVALID},
        {"A.4: IPv6, made with the secret of that example", "dd3bdf9344b678b185a6f5cb60fca715",
         "22681ab97d52c298010000005cf7c57926556bd0934c72f8",
         "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741817, COOKIE_VALID},
        {"A.4's cookie under the rolled secret: not ours", "445536bcd2513298075a5d379663c962",
         "22681ab97d52c298010000005cf7c57926556bd0934c72f8",
         "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741817, COOKIE_INVALID},
        {"from another address: not ours", secret_a,
         "2464c4abcf10c957010000005cf79f111f8130c3eee29480", "198.51.100.101", 1559731985,
         COOKIE_INVALID},
        {"RFC 9018 4.3: over an hour old", secret_a,
         "2464c4abcf10c957010000005cf79f111f8130c3eee29480", "198.51.100.100",
         1559731985 + 3601, COOKIE_INVALID},
        {"RFC 9018 4.3: an hour old, the last second it holds", secret_a,
         "2464c4abcf10c957010000005cf79f111f8130c3eee29480", "198.51.100.100",
         1559731985 + 3600, COOKIE_RENEW},
        {"RFC 9018 4.3: more than five minutes ahead", secret_a,
         "2464c4abcf10c957010000005cf79f111f8130c3eee29480", "198.51.100.100",
         1559731985 - 301, COOKIE_INVALID},
        {"RFC 9018 4.3: five minutes ahead, a sibling's clock", secret_a,
         "2464c4abcf10c957010000005cf79f111f8130c3eee29480", "198.51.100.100",
         1559731985 - 300, COOKIE_VALID},
        {"RFC 9018 4.2: version 2 is not ours", secret_a,
         "2464c4abcf10c957020000005cf79f111f8130c3eee29480", "198.51.100.100", 1559731985,
         COOKIE_INVALID},
        {"a server cookie of 8 bytes is not ours", secret_a,
         "2464c4abcf10c9571f8130c3eee29480", "198.51.100.100", 1559731985, COOKIE_INVALID},
        {"a client cookie alone", secret_a, "2464c4abcf10c957", "198.51.100.100", 1559731985,
         COOKIE_INVALID},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t secret[16], cookie[40], ip[16];
        unhex(cases[i].secret, secret);
        unhex(cases[i].cookie, cookie);
        size_t len = strlen(cases[i].cookie) / 2, iplen = addr(cases[i].ip, ip);
        cr_expect_eq(cookie_check(secret, cookie, len, ip, iplen, cases[i].now), cases[i].want,
                     "%s", cases[i].what);
    }
}
